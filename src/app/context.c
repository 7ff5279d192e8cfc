/*
 * The rc_context: listeners, the set of live connections ("peers", each an
 * rc_conn joined to an rc_exchange), the glue that carries connection
 * events into the exchange layer, and graceful shutdown.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "app_int.h"

void rc__app_log(rc_context *ctx, int level, const char *fmt, ...) {
  if (!ctx->opts.on_log || level > ctx->opts.log_level)
    return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  ctx->opts.on_log(ctx->opts.log_user, level, line);
}

rc_time rc__app_now(const rc_context *ctx) { return uv_now(ctx->loop); }

rc_err rc_context_new(rc_context **out, const rc_context_opts *opts) {
  if (!out || !opts || !opts->loop)
    return RC_ERR_INVAL;
  const rc_mem *mem = opts->mem ? opts->mem : rc_mem_default();
  rc_context *ctx = mem->malloc(sizeof *ctx, mem->user);
  if (!ctx)
    return RC_ERR_NOMEM;
  memset(ctx, 0, sizeof *ctx);
  ctx->loop = opts->loop;
  ctx->mem = mem;
  ctx->release_hold_off = RC_SESSION_NO_HOLD_OFF;
  ctx->opts = *opts;
  if (!ctx->opts.log_level)
    ctx->opts.log_level = RC_SESSION_LOG_INFO;
  rc_err err = rc_budget_new(&ctx->bodies,
                             opts->body_memory_max
                                 ? opts->body_memory_max
                                 : RC_CONTEXT_BODY_MEMORY_DEFAULT,
                             mem);
  /* Every connection's session: the caller's settings or the defaults
   * (role and framing are set per connection), large incoming messages
   * charged to the same budget as bodies. */
  if (opts->session)
    ctx->session = *opts->session;
  else
    rc_session_config_default(&ctx->session, RC_FRAMING_TCP,
                              RC_SESSION_SERVER);
  ctx->has_session = 1;
  if (!ctx->session.rx_budget)
    ctx->session.rx_budget = ctx->bodies;
  if (!ctx->session.udp.stats)
    ctx->session.udp.stats = &ctx->udp_stats;
  /* Output chunks shared by the context's sessions: idle connections hold
   * none, bursts allocate none (at most APP_CHUNKS_KEPT wait). */
  if (err == RC_OK && !ctx->session.out_pool &&
      (err = rc_chunk_pool_new(&ctx->chunks, mem, APP_CHUNKS_KEPT)) == RC_OK)
    ctx->session.out_pool = ctx->chunks;
  if (err == RC_OK)
    err = rc_xreq_pool_new(&ctx->xreqs, mem);
  if (err == RC_OK)
    err = rc__app_add_well_known_core(ctx);
  if (err) {
    rc__app_resources_free(ctx);
    rc_xreq_pool_free(ctx->xreqs);
    rc_chunk_pool_release(ctx->chunks);
    rc_budget_free(ctx->bodies);
    mem->free(ctx, mem->user);
    return err;
  }
  *out = ctx;
  return RC_OK;
}

const rc_budget *rc_context_body_budget(const rc_context *ctx) {
  return ctx->bodies;
}

const rc_udp_stats *rc_context_udp_stats(const rc_context *ctx) {
  return ctx->session.udp.stats;
}

uv_loop_t *rc_context_loop(const rc_context *ctx) { return ctx->loop; }

size_t rc_context_connections(const rc_context *ctx) {
  return ctx->npeers + ctx->nparked;
}

size_t rc_context_parked(const rc_context *ctx) { return ctx->nparked; }

/* ---- peers ---------------------------------------------------------------- */

/* libuv handles outlive their owners until their close callback runs, so
 * they come from the C library, not from the context's allocator. */
static void app_handle_closed(uv_handle_t *h) { free(h); }

/* RFC 8323 §5.5: the peer "SHOULD delay the closing of the connection
 * until it has responded to all requests received by it before the
 * Release message. It also MAY wait for the responses to its own
 * requests." A connection the peer released closes (in order: FIN) once
 * both are done; a client's observations have moved already. Returns 1
 * if it is closing. */
static int peer_close_if_released_done(app_peer *p) {
  if (!p->released || !p->conn)
    return 0;
  if (p->x && (rc_exchange_outstanding(p->x) || rc_exchange_unanswered(p->x)))
    return 0;
  rc_conn_close(p->conn, RC_CONN_CLOSE_FLUSH);
  return 1;
}

static void peer_on_timer(uv_timer_t *t) {
  app_peer *p = t->data;
  if (!p->x)
    return;
  rc_exchange_handle_expiry(p->x, rc__app_now(p->ctx));
  rc_conn_flush(p->conn);
  if (peer_close_if_released_done(p))
    return;
  rc__app_arm_timer(p);
}

void rc__app_arm_timer(app_peer *p) {
  if (!p->x)
    return;
  rc_time due = rc_exchange_expiry(p->x);
  if (due == RC_TIME_NEVER) {
    if (p->timer)
      uv_timer_stop(p->timer);
    return;
  }
  if (!p->timer) {
    p->timer = malloc(sizeof *p->timer);
    if (!p->timer)
      return; /* timeouts then wait for the connection's end */
    uv_timer_init(p->ctx->loop, p->timer);
    p->timer->data = p;
  }
  rc_time now = rc__app_now(p->ctx);
  uv_timer_start(p->timer, peer_on_timer, due > now ? due - now : 0, 0);
}

static void peer_on_exchange_log(void *user, int level, const char *text) {
  app_peer *p = user;
  rc__app_log(p->ctx, level, "%s", text);
}

static void peer_on_exchange_output(void *user) {
  app_peer *p = user;
  rc_conn_flush(p->conn);
}

/* Creates the exchange once the connection's session exists (once per
 * connection: out of line, off peer_on_message's way). */
static __attribute__((noinline)) rc_err peer_attach_exchange(app_peer *p) {
  if (p->x)
    return RC_OK;
  rc_session *s = rc_conn_session(p->conn);
  if (!s)
    return RC_ERR_STATE;
  uint8_t seed[16];
  if (getrandom(seed, sizeof seed, 0) != (ssize_t)sizeof seed)
    return RC_ERR_IO;
  rc_exchange_callbacks xcb = {.on_request = rc__app_dispatch,
                               .on_log = peer_on_exchange_log,
                               .on_output = peer_on_exchange_output,
                               .on_body_start = rc__app_body_start,
                               .on_plain = rc__fast_paths_off
                                               ? NULL
                                               : rc__app_static_plain};
  rc_err err = rc_exchange_new(&p->x, s, &xcb, p, seed, sizeof seed,
                               p->ctx->mem);
  if (err != RC_OK)
    return err;
  if (p->ctx->opts.block)
    rc_exchange_set_block_config(p->x, p->ctx->opts.block);
  rc_exchange_set_budget(p->x, p->ctx->bodies);
  rc_exchange_set_req_pool(p->x, p->ctx->xreqs);
  rc_exchange_set_unanswered_max(p->x, p->ctx->opts.unanswered_max);
  /* dispatch refuses what no route forwards (rc__app_refuse_unknown) */
  rc_exchange_set_forward_unknown(p->x, 1);
  return RC_OK;
}

app_peer *rc__app_peer_new(rc_context *ctx, rc_conn *c) {
  app_peer *p = ctx->mem->malloc(sizeof *p, ctx->mem->user);
  if (!p)
    return NULL;
  memset(p, 0, sizeof *p);
  p->ctx = ctx;
  p->conn = c;
  p->next = ctx->peers;
  if (ctx->peers)
    ctx->peers->prev = p;
  ctx->peers = p;
  ctx->npeers++;
  return p;
}

void rc__app_peer_free(app_peer *p) {
  rc_context *ctx = p->ctx;
  if (p->prev)
    p->prev->next = p->next;
  else
    ctx->peers = p->next;
  if (p->next)
    p->next->prev = p->prev;
  ctx->npeers--;
  if (p->timer) {
    uv_timer_stop(p->timer);
    uv_close((uv_handle_t *)p->timer, app_handle_closed);
  }
  rc__app_observe_peer_gone(p);
  rc__app_turn_forget(p);
  rc__app_wr_peer_gone(p);
  rc__app_access_free(p);
  rc_exchange_free(p->x);
  free(p->dial_host);
  ctx->mem->free(p->origin, ctx->mem->user);
  ctx->mem->free(p, ctx->mem->user);
}

static void peer_on_open(void *user, rc_conn *c) {
  app_peer *p = user;
  (void)c;
  p->open = 1;
  if (peer_attach_exchange(p) != RC_OK) {
    rc_conn_close(c, RC_CONN_CLOSE_RESET);
    return;
  }
  if (p->ctx->opts.on_conn_open)
    p->ctx->opts.on_conn_open(p->ctx->opts.conn_user, c);
  rc__app_peer_opened(p);
}

rc_conn *rc_xreq_conn(const rc_xreq *req) {
  app_peer *p = req ? rc_exchange_user(rc_xreq_exchange(req)) : NULL;
  return p ? p->conn : NULL;
}

/* A stream session hands m here directly, with its read's time (conn's
 * on_message_at); a UDP one through peer_on_message. */
static int peer_on_message_at(void *user, const rc_msg *m, rc_time now) {
  app_peer *p = user;
  if (!p->x && peer_attach_exchange(p) != RC_OK)
    return -1;
  p->plain = 0;
  rc_err err = rc_exchange_on_message(p->x, m, now);
  if (err == RC_ERR_NOMEM)
    return -1;
  if (!peer_close_if_released_done(p) && !p->plain)
    rc__app_arm_timer(p); /* a plain answer left the exchange's timers */
  return 0;
}

static int peer_on_message(void *user, rc_conn *c, const rc_msg *m) {
  app_peer *p = user;
  (void)c;
  return peer_on_message_at(p, m, rc__app_now(p->ctx));
}

/* Uploads wait for the peer's CSM to pick their block size (BERT). */
static void peer_on_csm(void *user, rc_conn *c) {
  app_peer *p = user;
  if (p->x)
    rc_exchange_on_csm(p->x, rc__app_now(p->ctx));
  rc_conn_flush(c);
}

static void peer_on_release(void *user, rc_conn *c,
                            const rc_session_release_info *info) {
  app_peer *p = user;
  rc_context *ctx = p->ctx;
  char addr[64] = "";
  rc_conn_peer_addr(c, addr, sizeof addr);
  rc__app_log(ctx, RC_SESSION_LOG_INFO,
              "%s released the connection%s%.*s%s%.*s", addr,
              info->n_alt ? "; alternative address " : "",
              info->n_alt ? (int)info->alt_len[0] : 0,
              info->n_alt ? info->alt[0] : "", info->diag ? ": " : "",
              info->diag ? (int)info->diag_len : 0,
              info->diag ? info->diag : "");
  p->released = 1;
  rc__app_note_release(ctx, p->origin, info);
  /* RFC 8323 §5.5: "It is NOT RECOMMENDED for the sender of a Release
   * message to continue sending requests on the connection it already
   * indicated to be released: the peer might close the connection at any
   * time". The same holds for us: forget this connection as the origin's
   * so the next request opens a new one (after the Hold-Off, or to the
   * Alternative-Address), move the observations there, and close this
   * one once what is in flight has finished. */
  ctx->mem->free(p->origin, ctx->mem->user);
  p->origin = NULL;
  if (!rc_conn_is_server(c))
    rc__app_observations_move(p);
  peer_close_if_released_done(p);
}

static void peer_on_abort(void *user, rc_conn *c,
                          const rc_session_abort_info *info) {
  app_peer *p = user;
  char addr[64] = "";
  rc_conn_peer_addr(c, addr, sizeof addr);
  rc__app_log(p->ctx, RC_SESSION_LOG_WARN, "%s aborted the connection: %.*s",
              addr, info->diag ? (int)info->diag_len : 0,
              info->diag ? info->diag : "(no diagnostic)");
}

static int peer_custody_ready(void *user, rc_conn *c) {
  app_peer *p = user;
  (void)c;
  return !p->x || rc_exchange_unanswered(p->x) == 0;
}

static void peer_on_log(void *user, rc_conn *c, int level, const char *text) {
  app_peer *p = user;
  if (!p->ctx->opts.on_log || level > p->ctx->opts.log_level)
    return; /* before the address is formatted: parking logs each wake */
  char addr[64] = "";
  rc_conn_peer_addr(c, addr, sizeof addr);
  rc__app_log(p->ctx, level, "%s: %s", addr, text);
}

static void peer_on_trace(void *user, rc_conn *c, int sent, const rc_msg *m) {
  app_peer *p = user;
  (void)c;
  if (p->ctx->opts.on_trace)
    p->ctx->opts.on_trace(p->ctx->opts.trace_user, sent ? '>' : '<', m);
  if (p->ctx->opts.on_access)
    rc__app_access_trace(p, sent, m);
}

static void peer_on_closed(void *user, rc_conn *c, rc_err reason,
                           const char *detail) {
  app_peer *p = user;
  rc_context *ctx = p->ctx;
  (void)c;
  p->close_detail = detail;
  rc__app_peer_fail_waiting(p, reason ? reason : RC_ERR_CLOSED, detail);
  if (p->x)
    rc_exchange_fail_all(p->x, reason ? reason : RC_ERR_CLOSED);
  rc__app_peer_free(p);
  rc__app_check_shutdown(ctx);
}

/* UDP: a message of ours on this token will get no answer (RST, or a
 * CON never acknowledged): a request of ours fails, an observer of ours
 * goes (RFC 7641 §3.6, §4.5). */
static void peer_on_lost(void *user, rc_conn *c, const uint8_t *tok,
                         size_t tkl, rc_err why) {
  app_peer *p = user;
  (void)c;
  rc__app_observe_lost(p, tok, tkl);
  if (p->x)
    rc_exchange_lost(p->x, tok, tkl, why);
}

/* Parking (transport_conn.h): a server connection with nothing of ours in
 * flight either: no observation, no access-log entry waiting, no Release,
 * and an exchange holding nothing (rc_exchange_idle). */
static int peer_can_park(void *user, rc_conn *c) {
  app_peer *p = user;
  return rc_conn_is_server(c) && p->open && !p->released &&
         !p->ctx->shutting_down && !p->obs &&
         !p->access && !p->wait_head && !p->pings && !p->proxy &&
         !p->wr_dial && !p->turn_held && (!p->x || rc_exchange_idle(p->x));
}

/* The connection leaves libuv and its rc_conn is freed (transport_conn.h):
 * the whole peer goes (exchange, timer; peer_can_park made sure nothing
 * else is held), and the parked connection keeps ctx as its user: only
 * the count is ours until peer_on_unpark. */
static void peer_on_park(void *user, rc_conn *c) {
  app_peer *p = user;
  rc_context *ctx = p->ctx;
  rc__app_peer_free(p);
  ctx->nparked++;
  rc_conn_set_callbacks_shared(c, rc__app_conn_cb(ctx), ctx);
}

/* The connection is back as a new rc_conn: a new peer for it (its
 * exchange is made by the next message, peer_on_message). Returns 0 or
 * -1 (no memory: the conn is closed). */
static int peer_on_unpark(void *user, rc_conn *c) {
  rc_context *ctx = user;
  ctx->nparked--;
  app_peer *p = rc__app_peer_new(ctx, c);
  if (!p)
    return -1;
  p->open = 1;
  rc_conn_set_callbacks_shared(c, rc__app_conn_cb(ctx), p);
  return 0;
}

/* Every server connection shares one of two tables (with tracing or
 * without: only a context that watches every message pays for it). */
#define APP_CONN_CALLBACKS                                                     \
  .on_open = peer_on_open, .on_message = peer_on_message,                      \
  .on_message_at = peer_on_message_at,                                         \
  .on_csm = peer_on_csm, .on_release = peer_on_release,                        \
  .on_abort = peer_on_abort, .custody_ready = peer_custody_ready,              \
  .on_log = peer_on_log, .on_closed = peer_on_closed,                          \
  .on_pong = rc__app_on_pong, .on_lost = peer_on_lost,                         \
  .can_park = peer_can_park, .on_park = peer_on_park,                          \
  .on_unpark = peer_on_unpark, .on_writable = rc__app_observe_on_writable
static const rc_conn_callbacks app_conn_callbacks = {APP_CONN_CALLBACKS};
static const rc_conn_callbacks app_conn_callbacks_traced = {
    APP_CONN_CALLBACKS, .on_trace = peer_on_trace};

const rc_conn_callbacks *rc__app_conn_cb(const rc_context *ctx) {
  return ctx->opts.on_trace || ctx->opts.on_access ? &app_conn_callbacks_traced
                                                   : &app_conn_callbacks;
}

/* ---- listening ------------------------------------------------------------ */

static int ctx_on_accept(void *user, rc_listener *l, rc_conn *c) {
  rc_context *ctx = user;
  (void)l;
  if (ctx->shutting_down)
    return -1;
  app_peer *p = rc__app_peer_new(ctx, c);
  if (!p)
    return -1;
  p->open = 0;
  rc_conn_set_callbacks_shared(c, rc__app_conn_cb(ctx), p);
  return 0;
}

rc_err rc_context_listen(rc_context *ctx, rc_conn_kind kind, const char *addr,
                         rc_tls_ctx *tls, const rc_ws_config *ws,
                         uint16_t *port, char *errbuf, size_t errcap) {
  if (!ctx || !addr)
    return RC_ERR_INVAL;
  if (ctx->nlisteners == APP_MAX_LISTENERS)
    return RC_ERR_LIMIT;
  rc_listener_opts lo;
  rc_listener_opts_init(&lo, ctx->loop, kind, addr, ctx_on_accept, ctx);
  lo.tls = tls;
  lo.ws = ws;
  lo.session = ctx->has_session ? &ctx->session : NULL;
  lo.idle_timeout_ms = ctx->opts.idle_timeout_ms;
  lo.park_after_ms = ctx->opts.park_after_ms;
  lo.handshake_timeout_ms = ctx->opts.handshake_timeout_ms;
  lo.mem = ctx->mem;
  if (kind == RC_CONN_WEBRTC &&
      (lo.webrtc = rc__app_wr_identity(ctx)) == NULL)
    return RC_ERR_TLS;
  rc_listener *l;
  rc_err err = rc_listener_new(&l, &lo, errbuf, errcap);
  if (err)
    return err;
  ctx->listener_kinds[ctx->nlisteners] = (int)kind;
  ctx->listeners[ctx->nlisteners++] = l;
  if (port)
    *port = rc_listener_port(l);
  return RC_OK;
}

/* ---- shutdown ------------------------------------------------------------- */

static void ctx_finish_shutdown(rc_context *ctx) {
  if (ctx->shutdown_timer) {
    uv_timer_stop(ctx->shutdown_timer);
    uv_close((uv_handle_t *)ctx->shutdown_timer, app_handle_closed);
    ctx->shutdown_timer = NULL;
  }
  void (*done)(void *) = ctx->done;
  ctx->done = NULL;
  if (done)
    done(ctx->done_arg);
}

void rc__app_check_shutdown(rc_context *ctx) {
  if (ctx->shutting_down && ctx->npeers + ctx->nparked == 0 && !ctx->freeing)
    ctx_finish_shutdown(ctx);
}

static void ctx_on_shutdown_timeout(uv_timer_t *t) {
  rc_context *ctx = t->data;
  rc__app_log(ctx, RC_SESSION_LOG_WARN,
              "shutdown: %zu connection(s) still open after the timeout; "
              "closing them", ctx->npeers);
  /* The peer ignored our Release: we start closing, but still in order
   * (what is queued, then FIN; RFC 8323 §5.5 wants an orderly shutdown),
   * never with a reset. The conn's drain and linger limits bound it. */
  for (app_peer *p = ctx->peers; p; p = p->next)
    rc_conn_close(p->conn, RC_CONN_CLOSE_FLUSH);
}

static void ctx_close_listeners(rc_context *ctx) {
  rc__app_mcast_stop(ctx);
  for (size_t i = 0; i < ctx->nlisteners; i++)
    rc_listener_free(ctx->listeners[i]);
  ctx->nlisteners = 0;
}

rc_err rc_context_set_release(rc_context *ctx, const char *alt,
                              uint32_t hold_off_s) {
  if (alt && (!*alt || strlen(alt) > 255))
    return RC_ERR_INVAL;
  char *copy = NULL;
  if (alt && !(copy = strdup(alt)))
    return RC_ERR_NOMEM;
  free(ctx->release_alt);
  ctx->release_alt = copy;
  ctx->release_hold_off = hold_off_s;
  return RC_OK;
}

rc_err rc_context_shutdown(rc_context *ctx, const char *diag,
                           uint32_t timeout_ms, void (*done)(void *arg),
                           void *arg) {
  if (ctx->shutting_down)
    return RC_ERR_STATE;
  ctx->shutting_down = 1;
  ctx->done = done;
  ctx->done_arg = arg;
  ctx_close_listeners(ctx);
  /* parked connections come back as peers, to be released as the rest */
  rc_conn_wake_parked(ctx->loop, ctx);
  const char *alt[1] = {ctx->release_alt};
  for (app_peer *p = ctx->peers, *next; p; p = next) {
    next = p->next;
    if (!p->conn) {
      /* A connect still waiting out a Hold-Off: never started. */
      rc__app_peer_fail_waiting(p, RC_ERR_CANCELLED, "shutting down");
      rc__app_peer_free(p);
    } else if (rc_conn_is_server(p->conn)) {
      rc_conn_release(p->conn, alt, ctx->release_alt ? 1 : 0,
                      ctx->release_hold_off, diag);
    } else {
      rc_conn_close(p->conn, RC_CONN_CLOSE_FLUSH);
    }
  }
  if (ctx->npeers + ctx->nparked == 0) {
    ctx_finish_shutdown(ctx);
    return RC_OK;
  }
  ctx->shutdown_timer = malloc(sizeof *ctx->shutdown_timer);
  if (ctx->shutdown_timer) {
    uv_timer_init(ctx->loop, ctx->shutdown_timer);
    ctx->shutdown_timer->data = ctx;
    uv_timer_start(ctx->shutdown_timer, ctx_on_shutdown_timeout,
                   timeout_ms ? timeout_ms : 5000, 0);
  }
  return RC_OK;
}

/* Callbacks of a connection whose context is gone: ignore everything. */
static int detached_message(void *user, rc_conn *c, const rc_msg *m) {
  (void)user;
  (void)c;
  (void)m;
  return 0;
}

void rc_context_free(rc_context *ctx) {
  if (!ctx)
    return;
  ctx->freeing = 1;
  ctx_close_listeners(ctx);
  rc_conn_drop_parked(ctx->loop, ctx); /* reset, nothing called */
  ctx->nparked = 0;
  /* Closing reports on_closed later; detach every peer now so those
   * callbacks (which would touch ctx) never run, and fail its requests. */
  while (ctx->peers) {
    app_peer *p = ctx->peers;
    static const rc_conn_callbacks none = {.on_message = detached_message};
    rc__app_peer_fail_waiting(p, RC_ERR_CANCELLED, "the context was freed");
    if (p->x)
      rc_exchange_fail_all(p->x, RC_ERR_CANCELLED);
    if (p->conn) {
      rc_conn_set_callbacks_shared(p->conn, &none, NULL);
      rc_conn_close(p->conn, RC_CONN_CLOSE_RESET);
    }
    rc__app_peer_free(p);
  }
  if (ctx->shutdown_timer) {
    uv_timer_stop(ctx->shutdown_timer);
    uv_close((uv_handle_t *)ctx->shutdown_timer, app_handle_closed);
  }
  rc__app_resources_free(ctx);
  rc__app_observe_free(ctx);
  rc__app_turn_free(ctx);
  rc__app_redirects_free(ctx);
  rc__app_proxy_free(ctx);
  free(ctx->release_alt);
  if (ctx->default_tls)
    rc_tls_ctx_free(ctx->default_tls);
  if (ctx->default_dtls)
    rc_tls_ctx_free(ctx->default_dtls);
  rc__app_wr_free(ctx);
  rc_budget_free(ctx->bodies); /* after the peers: their exchanges gave back */
  rc_xreq_pool_free(ctx->xreqs); /* after the peers' exchanges too */
  rc_chunk_pool_release(ctx->chunks); /* freed with the last session */
  ctx->mem->free(ctx, ctx->mem->user);
}
