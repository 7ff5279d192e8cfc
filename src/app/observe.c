/*
 * Observe, server side (RFC 7641 over reliable transports, RFC 8323 §7).
 * An observer is one (connection, token) registered on one resource; it
 * sits on two lists: the resource's (for notifying) and the connection's
 * (to drop it when the connection ends: RFC 8323 §7.4, the server "MUST
 * remove all entries associated with the client endpoint from the lists
 * of observers when the connection is either closed or times out").
 * A notify round renders the representation through the resource's GET
 * handler into a reused capture (once per distinct request) and encodes
 * its options with Observe once, with the payload behind them: the tail
 * of every observer's message. Consecutive observers on one connection
 * (up to OBS_RUN) are framed with one session call that writes each
 * header and token in front of a copy of that tail (no message object
 * per observer). A plain coap+tcp connection with nothing unsent gets
 * its first run of a loop turn at once: framed into a buffer on the
 * stack and written with one write(2) (rc_conn_write_now: only what the
 * kernel does not take is queued), no output chunk, no flush. Any other
 * run is queued behind the connection's output, held to the end of the
 * loop's turn (turn_flush.c): at most two writes per connection per
 * turn, however many rounds ran in it, and no allocation per
 * notification. A connection whose peer
 * does not read holds at most RC_NOTIFY_BACKLOG_MAX unsent bytes: past
 * that its observers skip rounds (counted) until it drains, so a stalled
 * observer neither stalls the others nor grows the server's memory. A
 * skipped observation is marked (a bit in it, and one in its peer); when
 * the connection's output is back under the bound (an asynchronous write
 * completed: the conn's on_writable; or the turn's flush took it) each
 * marked one gets the resource's current state once, with a new Observe
 * number, so the last state reaches it even if nothing changes again.
 */
#include <string.h>

#include "app_int.h"

typedef struct app_obs {
  struct app_obs *rnext, *rprev; /* resource's list */
  struct app_obs *pnext, *pprev; /* peer's list */
  rc_resource *res;
  app_peer *peer;
  uint64_t key;
  uint32_t token_len;
  uint8_t skipped;  /* its last round skipped it: owed the current state */
  uint8_t *token;   /* inline, after the struct */
  uint8_t *opts;    /* the request's options, inline: for re-rendering */
  size_t opts_len;
} app_obs;

static void obs_unlink_free(app_obs *o) {
  rc_resource *r = o->res;
  app_peer *p = o->peer;
  if (o->rprev)
    o->rprev->rnext = o->rnext;
  else
    r->observers = o->rnext;
  if (o->rnext)
    o->rnext->rprev = o->rprev;
  else
    r->observers_tail = o->rprev;
  r->nobservers--;
  if (o->pprev)
    o->pprev->pnext = o->pnext;
  else
    p->obs = o->pnext;
  if (o->pnext)
    o->pnext->pprev = o->pprev;
  const rc_mem *mem = r->ctx->mem;
  mem->free(o, mem->user);
  if (!r->nobservers && r->on_unobserved)
    r->on_unobserved(r);
}

static app_obs *obs_new(rc_resource *r, app_peer *p, const rc_msg *m,
                        uint64_t key) {
  const rc_mem *mem = r->ctx->mem;
  app_obs *o = mem->malloc(sizeof *o + m->token_len + m->opts_len, mem->user);
  if (!o)
    return NULL;
  memset(o, 0, sizeof *o);
  o->res = r;
  o->peer = p;
  o->key = key;
  o->token = (uint8_t *)(o + 1);
  o->token_len = (uint32_t)m->token_len;
  if (m->token_len) /* an empty token is NULL in a parsed message */
    memcpy(o->token, m->token, m->token_len);
  o->opts = o->token + m->token_len;
  o->opts_len = m->opts_len;
  if (m->opts_len)
    memcpy(o->opts, m->opts, m->opts_len);
  /* First on the peer; on the resource right behind the peer's newest
   * observer of it (the peer's observers of one resource stay together,
   * newest last: a round finds them in one run, one write), or last
   * when it has none. */
  app_obs *after = p->obs;
  while (after && after->res != r)
    after = after->pnext;
  if (!after)
    after = r->observers_tail;
  o->rprev = after;
  o->rnext = after ? after->rnext : r->observers;
  if (o->rnext)
    o->rnext->rprev = o;
  else
    r->observers_tail = o;
  if (after)
    after->rnext = o;
  else
    r->observers = o;
  r->nobservers++;
  o->pnext = p->obs;
  if (p->obs)
    p->obs->pprev = o;
  p->obs = o;
  return o;
}

rc_err rc__app_observe_add(rc_resource *r, app_peer *p, const rc_msg *m,
                           uint64_t key) {
  return obs_new(r, p, m, key) ? RC_OK : RC_ERR_NOMEM;
}

rc_err rc_resource_set_observable(rc_resource *res) {
  if (!res)
    return RC_ERR_INVAL;
  if (res->observable)
    return RC_OK;
  rc_err err = rc_resource_attr(res, "obs", NULL, 0);
  if (err)
    return err;
  res->observable = 1;
  return RC_OK;
}

size_t rc_resource_observers(const rc_resource *res) {
  return res ? res->nobservers : 0;
}

void rc__app_observe_dispatch(rc_context *ctx, rc_resource *r, app_peer *p,
                              rc_xreq *req, rc_handler h) {
  size_t tlen;
  const uint8_t *tok = rc_xreq_token(req, &tlen);
  int obs = rc_xreq_observe(req);
  app_obs *cur = p->obs;
  /* (an empty token's pointer may be NULL: no memcmp then) */
  while (cur && !(cur->token_len == tlen &&
                  (tlen == 0 || !memcmp(cur->token, tok, tlen))))
    cur = cur->pnext;
  /* RFC 7641 §3.6 / RFC 8323 §7.4: Observe=1 deregisters; a GET without
   * Observe on the observation's token replaces it (no longer observed). */
  if (cur && (obs != 0 || cur->res != r)) {
    obs_unlink_free(cur);
    cur = NULL;
  }
  if (obs == 0 && r->observable) {
    if (!cur)
      cur = obs_new(r, p, rc_xreq_msg(req), rc_xreq_key(req));
    if (cur)
      rc_xreq_set_observe(req, r->obs_seq);
    /* Without memory the answer simply goes without Observe: the client
     * learns it is not observing (RFC 7641 §4.1). */
  }
  h(ctx, r, req, r->user);
  uint8_t code = rc_xreq_response_code(req);
  if (cur && code && RC_CODE_CLASS(code) != 2)
    obs_unlink_free(cur); /* RFC 7641 §4.1: only 2.xx registers */
}

void rc__app_observe_lost(app_peer *p, const uint8_t *tok, size_t tkl) {
  for (app_obs *o = p->obs; o; o = o->pnext) {
    if (o->token_len == tkl && !memcmp(o->token, tok, tkl)) {
      obs_unlink_free(o);
      return;
    }
  }
}

void rc__app_observe_peer_gone(app_peer *p) {
  while (p->obs)
    obs_unlink_free(p->obs);
}

void rc__app_observe_res_gone(rc_resource *r) {
  while (r->observers)
    obs_unlink_free(r->observers);
}

void rc__app_observe_free(rc_context *ctx) {
  rc__app_observations_free(ctx);
  rc_xcapture_free(ctx->capture);
  ctx->capture = NULL;
}

/* Renders res for o's request into the context's capture, its options
 * encoded once with Observe seq. NULL: the handler gave no answer. */
static const rc_outmsg *obs_render(rc_context *ctx, rc_resource *res,
                                   app_obs *o, uint32_t seq) {
  rc_msg m;
  memset(&m, 0, sizeof m);
  m.code = RC_GET;
  m.token = o->token;
  m.token_len = o->token_len;
  m.opts = o->opts_len ? o->opts : NULL;
  m.opts_len = o->opts_len;
  rc_xreq *req = rc_xcapture_begin(ctx->capture, o->peer->x, &m);
  res->handlers[RC_GET](ctx, res, req, res->user);
  const rc_outmsg *out = rc_xcapture_result(ctx->capture);
  /* Without memory for the encoded options (or for an answer that needs
   * Block2) each observer's message is encoded in full. */
  if (out)
    (void)rc_xcapture_prepare_notify(ctx->capture, seq);
  else
    rc__app_log(ctx, RC_SESSION_LOG_WARN,
                "%s: GET handler gave no answer for a notification",
                res->path);
  return out;
}

/* Writes the rendered notification behind o's token. Returns 0 when it
 * went, -1 when not (o freed if the answer ended the observation). */
static inline int obs_send(rc_context *ctx, app_obs *o,
                           const rc_outmsg *out) {
  rc_resource *res = o->res;
  rc_err err = rc_exchange_notify_captured(o->peer->x, o->token, o->token_len,
                                           o->key, res->obs_seq, ctx->capture);
  if (err)
    rc__app_log(ctx, RC_SESSION_LOG_DEBUG, "%s: notification not sent: %s",
                res->path, rc_strerror(err));
  /* RFC 7641 §3.2: a notification that is not 2.xx ends the
   * observation. */
  if (RC_CODE_CLASS(out->code) != 2) {
    obs_unlink_free(o);
    return -1;
  }
  return err ? -1 : 0;
}

/* A run of observers on one connection whose requests share the rendered
 * notification: written with one session call (rc_exchange_notify_
 * captured_n: the tail after the token built once, each observer's
 * header and token in front of it). */
#define OBS_RUN 32
typedef struct obs_run {
  app_peer *peer;
  uint64_t key;
  size_t n;
  app_obs *obs[OBS_RUN];
  const uint8_t *tok[OBS_RUN];
  size_t tkl[OBS_RUN];
} obs_run;

static void run_send(rc_context *ctx, rc_resource *res, obs_run *run,
                     const rc_outmsg *out) {
  size_t n = run->n, sent = 0;
  run->n = 0;
  if (!n)
    return;
  rc_err err = rc_exchange_notify_captured_n(run->peer->x, run->tok, run->tkl,
                                             n, run->key, res->obs_seq,
                                             ctx->capture, &sent);
  ctx->notify_stats.notifications += sent;
  if (err)
    rc__app_log(ctx, RC_SESSION_LOG_DEBUG, "%s: notification not sent: %s",
                res->path, rc_strerror(err));
  /* RFC 7641 §3.2: a notification that is not 2.xx ends the
   * observation. */
  if (RC_CODE_CLASS(out->code) != 2)
    for (size_t i = 0; i < n; i++)
      obs_unlink_free(run->obs[i]);
}

/* The bytes of one run framed for a direct write (OBS_RUN observers of a
 * short representation: 32 x (3 + 8 + 40) bytes fit); a run that does
 * not fit is queued by run_send. */
#define OBS_FRAMES 2048

/* The run written to its connection at once: a plain one with nothing
 * queued (rc_conn_write_now checks that itself; the caller's test of
 * unsent bytes and kind only spares the framing for a connection it would
 * refuse: the conn's whole check there costs ~5 instructions a
 * notification, measured) gets its frames in one send from buf,
 * no output chunk, no flush at the turn's end (rc_conn_write_now queues
 * only what the kernel does not take). 0: not framed or not taken here
 * (run_send queues the run instead, with the turn's other output). */
static int run_direct(rc_context *ctx, obs_run *run, const rc_outmsg *out,
                      uint8_t *buf) {
  app_peer *p = run->peer;
  size_t n = run->n, len;
  if (rc_exchange_notify_captured_frame(p->x, run->tok, run->tkl, n,
                                        ctx->capture, buf, OBS_FRAMES,
                                        &len) != RC_OK ||
      rc_conn_write_now(p->conn, buf, len) != RC_OK)
    return 0;
  run->n = 0;
  rc__app_turn_direct(p);
  ctx->notify_stats.notifications += n;
  ctx->notify_stats.direct++;
  /* RFC 7641 §3.2, as in run_send */
  if (RC_CODE_CLASS(out->code) != 2)
    for (size_t i = 0; i < n; i++)
      obs_unlink_free(run->obs[i]);
  return 1;
}

rc_err rc_resource_notify(rc_resource *res) {
  if (!res || !res->handlers[RC_GET])
    return RC_ERR_STATE;
  if (!res->observers)
    return RC_OK;
  rc_context *ctx = res->ctx;
  if (!ctx->capture) {
    rc_err err = rc_xcapture_new(&ctx->capture, ctx->mem);
    if (err)
      return err;
  }
  rc_err err = rc__app_turn_init(ctx);
  if (err)
    return err;
  /* RFC 7641 §4.4: the Observe value grows with every notification
   * (24 bits, wrapping); over reliable transports it is not needed for
   * ordering (RFC 8323 §7.1) but still sent. */
  res->obs_seq = (res->obs_seq + 1) & 0xFFFFFFu;
  ctx->notify_stats.rounds++;
  const rc_outmsg *out = NULL;
  int rendered = 0;
  obs_run run;
  run.key = 0;
  app_peer *seen = NULL; /* the last connection checked for its backlog */
  int backlogged = 0, direct = 0;
  uint8_t frames[OBS_FRAMES];
  for (app_obs *o = res->observers; o;) {
    app_peer *p = o->peer;
    if (!p->x) {
      o = o->rnext;
      continue;
    }
    /* Observers of one connection mostly come one after another: its
     * backlog is looked at once per run of them (what this round adds to
     * it is at most a run's worth past the bound). */
    if (p != seen) {
      seen = p;
      size_t unsent = rc_conn_unsent(p->conn);
      backlogged = unsent > RC_NOTIFY_BACKLOG_MAX;
      /* Nothing queued to overtake: its first run may go at once. */
      direct = !unsent && rc__app_turn_direct_ok(p) &&
               rc_conn_get_kind(p->conn) == RC_CONN_TCP;
    }
    if (backlogged) {
      ctx->notify_stats.skipped++;
      o->skipped = 1; /* owed the current state once it drains */
      p->obs_skipped = 1;
      o = o->rnext;
      continue;
    }
    if (!rendered || o->key != run.key) {
      out = obs_render(ctx, res, o, res->obs_seq);
      rendered = 1;
      run.key = o->key;
    }
    /* The run: this connection's observers from o on whose requests
     * share the rendered notification (the capture is reused), at most
     * OBS_RUN; the next one is taken before run_send, which may free
     * the run's. */
    uint64_t key = run.key;
    size_t n = 0;
    do {
      o->skipped = 0;
      run.obs[n] = o;
      run.tok[n] = o->token;
      run.tkl[n] = o->token_len;
      n++;
      o = o->rnext;
    } while (o && o->peer == p && o->key == key && n < OBS_RUN);
    run.peer = p;
    run.n = n;
    if (!out)
      continue;
    if (direct) {
      direct = 0; /* its next run (if any) goes behind this one */
      if (run_direct(ctx, &run, out, frames))
        continue;
    }
    /* Its output waits for the end of the loop's turn (turn_flush.c):
     * one write per connection for the rest of this turn's rounds. */
    rc__app_turn_hold(p);
    run_send(ctx, res, &run, out);
  }
  return RC_OK;
}

/*
 * RFC 7641, Abstract: "The protocol follows a best-effort approach for
 * sending new representations to clients and provides eventual
 * consistency between the state observed by each client and the actual
 * resource state at the server." Skipping rounds for a peer that does not
 * read is the best effort (§1.3: a client is not promised every state a
 * resource goes through); the consistency is this: once the connection's
 * unsent output is back under RC_NOTIFY_BACKLOG_MAX, every observation on
 * it whose last round was skipped is sent the resource's current state,
 * once, as a fresh notification with the next Observe number (§4.4).
 * Called when the peer's connection made progress (on_writable) and after
 * the turn's flush; p->obs_skipped makes it one bit test otherwise.
 */
void rc__app_observe_catch_up(app_peer *p) {
  if (!p->obs_skipped || !p->x ||
      rc_conn_unsent(p->conn) > RC_NOTIFY_BACKLOG_MAX)
    return;
  p->obs_skipped = 0;
  rc_context *ctx = p->ctx;
  for (app_obs *o = p->obs; o;) {
    app_obs *next = o->pnext;
    if (!o->skipped) {
      o = next;
      continue;
    }
    o->skipped = 0;
    rc_resource *res = o->res;
    if (!res->handlers[RC_GET]) {
      o = next;
      continue;
    }
    rc__app_turn_hold(p); /* written with the turn's other output */
    res->obs_seq = (res->obs_seq + 1) & 0xFFFFFFu;
    const rc_outmsg *out = obs_render(ctx, res, o, res->obs_seq);
    if (out && obs_send(ctx, o, out) == 0)
      ctx->notify_stats.caught_up++;
    o = next;
  }
}

void rc__app_observe_on_writable(void *user, rc_conn *c) {
  (void)c;
  rc__app_observe_catch_up(user);
}
