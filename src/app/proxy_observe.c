/*
 * Observe through the proxy (RFC 7641 §5): every downstream observer of
 * one target (same URI and cache-key options, any downstream transport)
 * shares one upstream observation, a "relay". The relay is a resource of
 * its own, outside the path table: its observers are the server side's
 * (observe.c), so a notification is rendered once and written to every
 * observer with its own token in its own transport's form (one write per
 * connection). The upstream side is an rc_observe, which re-registers
 * with back-off (the proxy's: --proxy-backoff) when the upstream
 * connection drops; downstream observers
 * stay registered meanwhile. A new observer gets the last notification at
 * once; the first one waits (deferred) for the first. When the last
 * observer leaves, the upstream observation is cancelled.
 * RFC 8323 §7.2: "a proxy from a reordering transport to a reliable
 * (in-order) transport (such as a UDP-to-TCP proxy) needs to process the
 * Observe Option in notifications according to the rules in Section 3.4
 * of [RFC7641]": the exchange's client side already drops a UDP
 * notification older than the last one (xclient.c), so every one that
 * reaches a relay is the newest, and each observer gets its own Observe
 * numbers from the relay's resource.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_cache.h"
#include "proxy_int.h"

/* Silence after Max-Age before the relay registers again (RFC 7641
 * §3.3.1: a client may re-register when the notification's freshness
 * runs out; the origin may have lost its state, e.g. after a restart). */
#define RELAY_GRACE_MS 2000u

/* A downstream registration waiting for the first notification. */
typedef struct px_wait {
  struct px_wait *next;
  rc_xreq *req;
  uint64_t key;
  uint32_t token_len;
  size_t opts_len;
  uint8_t data[]; /* token, then the request's encoded options */
} px_wait;

typedef struct px_relay {
  struct px_relay *next; /* ctx->relays */
  rc_resource res;       /* observers and the render handler */
  rc_context *ctx;
  char *uri;
  uint8_t *key;
  size_t key_len;
  rc_observation *up; /* NULL once freed by the context */
  px_wait *waiting;
  uv_timer_t *timer; /* freshness, or the idle check */
  /* the last notification: code, options without Max-Age, payload */
  uint8_t code;
  rc_opt *opts;
  size_t nopts;
  uint8_t *payload;
  size_t payload_len;
  void *last; /* owns opts' values and payload */
  uint32_t max_age;
  rc_time last_at;
  rc_opt *reg_opts; /* what registering sends (owned, with values) */
  size_t reg_nopts;
  uint32_t timeout_ms;
  uint8_t have_last;
  uint8_t dead; /* ended upstream: freed at the next turn */
} px_relay;

static px_relay *relay_of(rc_resource *res) {
  return (px_relay *)((char *)res - offsetof(px_relay, res));
}

static void timer_closed(uv_handle_t *h) { free(h); }

static void relay_respond(px_relay *r, rc_xreq *req) {
  rc_opt opts[RC_APP_MAX_OPTS];
  size_t n = 0;
  for (size_t i = 0; i < r->nopts && n + 1 < RC_APP_MAX_OPTS; i++)
    opts[n++] = r->opts[i];
  /* RFC 7252 §5.6.1 (paraphrased): what the proxy serves from a stored
   * response never outlives the origin's Max-Age, counting its age. */
  rc_time now = rc__app_now(r->ctx);
  uint64_t life = (uint64_t)r->max_age * 1000u, age = now - r->last_at;
  uint8_t ab[4];
  size_t al =
      rc_opt_uint_encode(age < life ? (uint32_t)((life - age) / 1000u) : 0, ab);
  opts[n++] = (rc_opt){.num = RC_OPT_MAX_AGE, .len = (uint32_t)al, .val = ab};
  rc_opts_sort(opts, n);
  rc_outmsg m = {r->code, opts, n, r->payload, r->payload_len};
  if (rc_exchange_respond(req, &m) == RC_ERR_PEER_TOO_LARGE)
    rc_respond(req, RC_BAD_GATEWAY, RC_CF_TEXT_PLAIN,
               "proxy: the notification does not fit", 36);
}

/* The relay's GET handler: the last notification. */
static void relay_render(rc_context *ctx, rc_resource *res, rc_xreq *req,
                         void *user) {
  (void)ctx;
  (void)user;
  relay_respond(relay_of(res), req);
}

static void relay_free(px_relay *r) {
  rc_context *ctx = r->ctx;
  for (px_relay **pp = &ctx->relays; *pp; pp = &(*pp)->next)
    if (*pp == r) {
      *pp = r->next;
      break;
    }
  r->res.on_unobserved = NULL;
  rc__app_observe_res_gone(&r->res);
  while (r->waiting) {
    px_wait *w = r->waiting;
    r->waiting = w->next;
    rc_respond(w->req, RC_BAD_GATEWAY, RC_CF_TEXT_PLAIN,
               "proxy: the observation ended", 28);
    free(w);
  }
  if (r->up && !ctx->freeing)
    rc_observe_cancel(r->up); /* GET with Observe 1 (RFC 7641 §3.6) */
  uv_timer_stop(r->timer);
  uv_close((uv_handle_t *)r->timer, timer_closed);
  free(r->last);
  free(r->uri);
  free(r->key);
  free(r->reg_opts);
  free(r);
}

static void relay_idle(uv_timer_t *t) {
  px_relay *r = t->data;
  if (r->dead || (!r->res.nobservers && !r->waiting)) {
    rc__app_log(r->ctx, RC_SESSION_LOG_INFO,
                r->dead ? "proxy: the observation of %s ended upstream"
                        : "proxy: no observer of %s left; cancelling upstream",
                r->uri);
    relay_free(r);
  }
}

static void relay_check_idle(px_relay *r) {
  uv_timer_start(r->timer, relay_idle, 0, 0);
}

static void on_unobserved(rc_resource *res) {
  px_relay *r = relay_of(res);
  if (!r->waiting)
    relay_check_idle(r);
}

static void relay_on_up(void *arg, rc_err status, const rc_msg *resp,
                        const char *detail);

static rc_err relay_register(px_relay *r, const rc_opt *opts, size_t n) {
  rc_request_opts ro = {.opts = opts, .nopts = n, .timeout_ms = r->timeout_ms,
                        .relay = 1};
  rc_err err = rc_observe(r->ctx, r->uri, &ro, relay_on_up, r, &r->up);
  const rc_proxy_opts *po = rc__proxy_opts(r->ctx);
  if (!err && po)
    /* Registering again after a loss backs off as requests to a failing
     * origin do (--proxy-backoff MIN,MAX), not by rc_observe's defaults. */
    (void)rc_observe_backoff(r->up, po->backoff_min_ms, po->backoff_max_ms);
  return err;
}

/* No notification for Max-Age and the grace: register again (the old
 * registration is cancelled first). */
static void relay_stale(uv_timer_t *t) {
  px_relay *r = t->data;
  rc__app_log(r->ctx, RC_SESSION_LOG_INFO,
              "proxy: %s silent past its Max-Age; registering again", r->uri);
  rc_observe_cancel(r->up);
  r->up = NULL;
  if (relay_register(r, r->reg_opts, r->reg_nopts) != RC_OK)
    uv_timer_start(r->timer, relay_stale, RELAY_GRACE_MS, 0);
}

/* Keeps resp (a notification) as the relay's last representation. */
static rc_err relay_keep(px_relay *r, const rc_msg *resp) {
  rc_opt tmp[RC_APP_MAX_OPTS];
  size_t n = 0, vals = 0;
  uint32_t max_age = RC_PXC_MAX_AGE_DEFAULT;
  rc_opt_iter it;
  rc_opt o;
  rc_opt_iter_init(&it, resp);
  while (rc_opt_next(&it, &o) && n < RC_APP_MAX_OPTS) {
    if (o.num == RC_OPT_MAX_AGE) {
      if (rc_opt_uint(&o, &max_age) != RC_OK)
        max_age = RC_PXC_MAX_AGE_DEFAULT;
      continue;
    }
    if (rc__app_proxy_hop_by_hop(o.num))
      continue;
    tmp[n++] = o;
    vals += o.len;
  }
  uint8_t *blob = malloc(n * sizeof(rc_opt) + vals + resp->payload_len + 1);
  if (!blob)
    return RC_ERR_NOMEM;
  rc_opt *opts = (rc_opt *)blob;
  uint8_t *v = rc__px_opts_copy(opts, blob + n * sizeof(rc_opt), tmp, n);
  if (resp->payload_len)
    memcpy(v, resp->payload, resp->payload_len);
  free(r->last);
  r->last = blob;
  r->opts = opts;
  r->nopts = n;
  r->payload = v;
  r->payload_len = resp->payload_len;
  r->code = resp->code;
  r->max_age = max_age;
  r->last_at = rc__app_now(r->ctx);
  r->have_last = 1;
  return RC_OK;
}

/* Answers the waiting registrations: registered when note (and their
 * connection is still there), with the last representation. */
static void relay_answer_waiting(px_relay *r, int note) {
  while (r->waiting) {
    px_wait *w = r->waiting;
    r->waiting = w->next;
    rc_exchange *x = rc_xreq_exchange(w->req);
    app_peer *p = x ? rc_exchange_user(x) : NULL;
    if (note && p) {
      rc_msg m;
      memset(&m, 0, sizeof m);
      m.code = RC_GET;
      m.token = w->token_len ? w->data : NULL;
      m.token_len = w->token_len;
      m.opts = w->opts_len ? w->data + w->token_len : NULL;
      m.opts_len = w->opts_len;
      if (rc__app_observe_add(&r->res, p, &m, w->key) == RC_OK)
        rc_xreq_set_observe(w->req, r->res.obs_seq);
    }
    relay_respond(r, w->req);
    free(w);
  }
}

static void relay_on_up(void *arg, rc_err status, const rc_msg *resp,
                        const char *detail) {
  px_relay *r = arg;
  if (r->ctx->freeing) {
    r->up = NULL; /* the context frees its observations itself */
    return;
  }
  if (status < 0) {
    /* The upstream connection failed; rc_observe registers again after
     * its back-off. Registered observers stay; waiting ones are told. */
    rc__app_log(r->ctx, RC_SESSION_LOG_INFO,
                "proxy: observation of %s lost (%s%s%s); re-registering",
                r->uri, rc_strerror(status), *detail ? ": " : "", detail);
    while (r->waiting) {
      px_wait *w = r->waiting;
      r->waiting = w->next;
      char diag[300];
      int len = snprintf(diag, sizeof diag, "proxy: %s failed: %s%s%s", r->uri,
                         rc_strerror(status), *detail ? ": " : "", detail);
      rc_respond(w->req,
                 status == RC_ERR_TIMEOUT ? RC_GATEWAY_TIMEOUT : RC_BAD_GATEWAY,
                 RC_CF_TEXT_PLAIN, diag,
                 len < 0                      ? 0
                 : (size_t)len >= sizeof diag ? sizeof diag - 1
                                              : (size_t)len);
      free(w);
    }
    if (!r->res.nobservers)
      relay_check_idle(r);
    return;
  }
  rc_opt ob;
  int note = RC_CODE_CLASS(resp->code) == 2 &&
             rc_msg_find_opt(resp, RC_OPT_OBSERVE, &ob);
  if (relay_keep(r, resp) != RC_OK) {
    rc__app_log(r->ctx, RC_SESSION_LOG_WARN,
                "proxy: no memory for a notification of %s", r->uri);
    return;
  }
  if (!note) {
    /* The upstream answered without Observe or with an error: the
     * observation is over (RFC 7641 §3.2, §4.1). Observers get that
     * answer as their last one and the relay goes. */
    r->dead = 1;
  }
  /* Existing observers first: the waiting ones get it as their answer. */
  rc_resource_notify(&r->res);
  relay_answer_waiting(r, note);
  if (r->dead) {
    rc__app_observe_res_gone(&r->res);
    relay_check_idle(r);
    return;
  }
  uint64_t quiet = (uint64_t)r->max_age * 1000u + RELAY_GRACE_MS;
  uv_timer_start(r->timer, relay_stale, quiet, 0);
  if (!r->res.nobservers)
    relay_check_idle(r);
}

static px_relay *relay_new(rc_context *ctx, const char *uri, const uint8_t *key,
                           size_t klen, const rc_opt *opts, size_t n,
                           uint32_t timeout_ms) {
  px_relay *r = calloc(1, sizeof *r);
  if (!r)
    return NULL;
  size_t vals = 0;
  for (size_t i = 0; i < n; i++)
    vals += opts[i].len;
  r->ctx = ctx;
  r->timeout_ms = timeout_ms;
  r->uri = strdup(uri);
  r->key = malloc(klen);
  r->timer = malloc(sizeof *r->timer);
  r->reg_opts = malloc(n * sizeof(rc_opt) + vals + 1);
  if (!r->uri || !r->key || !r->timer || !r->reg_opts) {
    free(r->uri);
    free(r->key);
    free(r->timer);
    free(r->reg_opts);
    free(r);
    return NULL;
  }
  rc__px_opts_copy(r->reg_opts, (uint8_t *)(r->reg_opts + n), opts, n);
  r->reg_nopts = n;
  memcpy(r->key, key, klen);
  r->key_len = klen;
  r->res.ctx = ctx;
  r->res.path = r->uri;
  r->res.path_len = strlen(uri);
  r->res.user = r;
  r->res.observable = 1;
  r->res.handlers[RC_GET] = relay_render;
  r->res.on_unobserved = on_unobserved;
  uv_timer_init(ctx->loop, r->timer);
  r->timer->data = r;
  if (relay_register(r, r->reg_opts, n) != RC_OK) {
    uv_close((uv_handle_t *)r->timer, timer_closed);
    free(r->uri);
    free(r->key);
    free(r->reg_opts);
    free(r);
    return NULL;
  }
  r->next = ctx->relays;
  ctx->relays = r;
  return r;
}

int rc__app_proxy_observe(rc_context *ctx, rc_xreq *req, const char *uri,
                          const char *origin, const rc_opt *opts,
                          size_t nopts, uint32_t timeout_ms) {
  const rc_msg *m = rc_xreq_msg(req);
  int obs = rc_xreq_observe(req);
  if (m->code != RC_GET || (obs < 0 && !ctx->relays))
    return 0;
  uint8_t key[RC_PXC_KEY_MAX];
  size_t klen = rc__pxc_key(RC_GET, uri, opts, nopts, NULL, 0, key, sizeof key);
  if (!klen)
    return 0;
  px_relay *r = ctx->relays;
  while (r && (r->dead || r->key_len != klen || memcmp(r->key, key, klen)))
    r = r->next;
  rc_exchange *x = rc_xreq_exchange(req);
  app_peer *p = x ? rc_exchange_user(x) : NULL;
  if (!p)
    return 0;
  if (obs < 0) {
    /* A plain GET of an observed target: the last notification while it
     * is fresh (RFC 7641 §5 (paraphrased): a proxy may answer from the
     * representation its observation keeps up to date). */
    if (!r || !r->have_last ||
        rc__app_now(ctx) - r->last_at >= (uint64_t)r->max_age * 1000u)
      return 0;
    rc__app_observe_dispatch(ctx, &r->res, p, req, relay_render);
    return 1;
  }
  if (obs != 0) {
    /* Deregistration (RFC 7641 §3.6): a GET answered from the relay when
     * it has a representation; otherwise an ordinary GET upstream. */
    if (!r || !r->have_last)
      return 0;
    rc__app_observe_dispatch(ctx, &r->res, p, req, relay_render);
    return 1;
  }
  if (!r && rc__px_backing_off(ctx, req, origin))
    return 1;
  if (!r && !(r = relay_new(ctx, uri, key, klen, opts, nopts, timeout_ms))) {
    rc_respond(req, RC_SERVICE_UNAVAILABLE, RC_CF_TEXT_PLAIN,
               "proxy: cannot observe upstream", 30);
    return 1;
  }
  if (r->have_last) {
    /* RFC 7641 §5 (paraphrased): a proxy serving a new observer from a
     * fresh stored notification need not ask the origin again. */
    rc__app_observe_dispatch(ctx, &r->res, p, req, relay_render);
    return 1;
  }
  size_t tlen;
  const uint8_t *tok = rc_xreq_token(req, &tlen);
  px_wait *w = malloc(sizeof *w + tlen + m->opts_len);
  if (!w || rc_xreq_defer(req) != RC_OK) {
    free(w);
    rc_respond(req, RC_SERVICE_UNAVAILABLE, RC_CF_TEXT_PLAIN,
               "proxy: out of memory", 20);
    return 1;
  }
  w->req = req;
  w->key = rc_xreq_key(req);
  w->token_len = (uint32_t)tlen;
  w->opts_len = m->opts_len;
  if (tlen)
    memcpy(w->data, tok, tlen);
  if (m->opts_len)
    memcpy(w->data + tlen, m->opts, m->opts_len);
  w->next = r->waiting;
  r->waiting = w;
  return 1;
}

void rc__app_proxy_observe_free(rc_context *ctx) {
  while (ctx->relays)
    relay_free(ctx->relays);
}
