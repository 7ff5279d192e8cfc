/*
 * rc_request(): from a URI to a response. The URI is decomposed into
 * options (RFC 7252 §6.4, RFC 8323 §8.6), the request is copied into one
 * allocation, and sent on the origin's connection: an open one is reused,
 * otherwise one is opened and the request waits for it.
 */
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_int.h"

/* Longest URI rc_request() takes. */
#define CLIENT_URI_MAX 2048u

int rc_scheme_conn_kind(rc_scheme scheme) {
  switch (scheme) {
  case RC_SCHEME_COAP:
    return RC_CONN_UDP;
  case RC_SCHEME_COAPS:
    return RC_CONN_DTLS;
  case RC_SCHEME_COAP_TCP:
    return RC_CONN_TCP;
  case RC_SCHEME_COAPS_TCP:
    return RC_CONN_TLS;
  case RC_SCHEME_COAP_WS:
    return RC_CONN_WS;
  case RC_SCHEME_COAPS_WS:
    return RC_CONN_TLS_WS;
  case RC_SCHEME_COAPS_WR:
    return RC_CONN_WEBRTC;
  default:
    return -1;
  }
}

void rc__app_creq_free(rc_context *ctx, app_creq *r) {
  ctx->mem->free(r, ctx->mem->user);
}

const char rc__app_notified[] = "";

static void creq_done(void *arg, rc_err status, const rc_msg *resp) {
  app_creq *r = arg;
  app_peer *p = r->peer;
  rc_context *ctx = p->ctx;
  rc_opt obs;
  if (r->observe && status == RC_OK && resp &&
      RC_CODE_CLASS(resp->code) == 2 &&
      rc_msg_find_opt(resp, RC_OPT_OBSERVE, &obs)) {
    /* a notification: more follow (the detail says so to observe_client.c,
     * which need not look for Observe again) */
    r->cb(r->arg, status, resp, rc__app_notified);
    return;
  }
  char detail[160];
  detail[0] = '\0';
  if (status == RC_ERR_TIMEOUT)
    snprintf(detail, sizeof detail, "no response within %u ms",
             r->timeout_ms ? r->timeout_ms : RC_EXCHANGE_DEFAULT_TIMEOUT_MS);
  else if (status == RC_ERR_CRITICAL_OPTION && resp) {
    /* The answer came and was rejected (RFC 7252 §5.4.1): say what it
     * was, a 4.02 that names the option it refuses included. */
    char code[5];
    snprintf(detail, sizeof detail, "option %u in a %s %s response",
             rc_exchange_unknown_critical(resp, r->xo.relay),
             rc_code_str(resp->code, code), rc_code_name(resp->code));
  } else if (status < 0 && p->close_detail)
    snprintf(detail, sizeof detail, "%s", p->close_detail);
  rc_request_cb cb = r->cb;
  void *cb_arg = r->arg;
  rc__app_creq_free(ctx, r);
  cb(cb_arg, status, resp, detail);
}

void rc__app_creq_cancel(app_creq *r) {
  app_peer *p = r->peer;
  rc_context *ctx = p->ctx;
  if (r->sent && p->released) {
    /* No deregistering GET after the peer's Release (RFC 8323 §5.5, no
     * new requests there): the connection's close ends the observation
     * at the server ("remove all entries associated with the client
     * endpoint ... when the connection is either closed", §7.4). */
    rc_exchange_cancel(p->x, r->xid);
  } else if (r->sent) {
    if (rc_exchange_cancel_observe(p->x, r->xid, rc__app_now(ctx)) ==
        RC_ERR_NOT_FOUND)
      rc_exchange_cancel(p->x, r->xid);
    rc_conn_flush(p->conn);
  } else {
    app_creq **pp = &p->wait_head;
    app_creq *prev = NULL;
    while (*pp && *pp != r) {
      prev = *pp;
      pp = &(*pp)->next;
    }
    if (*pp) {
      *pp = r->next;
      if (p->wait_tail == r)
        p->wait_tail = prev;
    }
  }
  rc__app_creq_free(ctx, r);
}

/* Ends a request or ping that never got an answer. */
static void creq_fail(rc_context *ctx, app_creq *r, rc_err err,
                      const char *detail) {
  rc_request_cb cb = r->cb;
  rc_ping_cb ping_cb = r->ping_cb;
  void *arg = r->arg;
  rc__app_creq_free(ctx, r);
  if (ping_cb)
    ping_cb(arg, err, 0, 0, detail);
  else
    cb(arg, err, NULL, detail);
}

static rc_err ping_send(app_creq *r) {
  app_peer *p = r->peer;
  rc_err err = rc_conn_ping(p->conn, r->custody, &r->ping_id);
  if (err)
    return err;
  r->ping_sent_ns = uv_hrtime();
  r->sent = 1;
  r->next = p->pings;
  p->pings = r;
  return RC_OK;
}

void rc__app_on_pong(void *user, rc_conn *c, uint32_t ping_id, rc_time rtt,
                     int custody) {
  app_peer *p = user;
  (void)c;
  (void)rtt; /* milliseconds; the Ping's own clock is finer */
  for (app_creq **pp = &p->pings; *pp; pp = &(*pp)->next) {
    app_creq *r = *pp;
    if (r->ping_id != ping_id)
      continue;
    *pp = r->next;
    uint64_t us = (uv_hrtime() - r->ping_sent_ns) / 1000u;
    rc_ping_cb cb = r->ping_cb;
    void *arg = r->arg;
    rc__app_creq_free(p->ctx, r);
    cb(arg, RC_OK, us, custody, "");
    return;
  }
}

static rc_err creq_send(app_creq *r) {
  if (r->ping_cb)
    return ping_send(r);
  app_peer *p = r->peer;
  rc_outmsg m = {r->method, r->opts, r->nopts, r->payload, r->payload_len};
  r->xo.timeout_ms = r->timeout_ms;
  r->xo.observe = r->observe;
  rc_err err = rc_exchange_request(p->x, &m, &r->xo, rc__app_now(p->ctx),
                                   creq_done, r, &r->xid);
  if (err)
    return err;
  r->sent = 1;
  rc__app_arm_timer(p);
  return RC_OK;
}

void rc__app_peer_opened(app_peer *p) {
  while (p->wait_head) {
    app_creq *r = p->wait_head;
    p->wait_head = r->next;
    if (!p->wait_head)
      p->wait_tail = NULL;
    rc_err err = creq_send(r);
    if (err)
      creq_fail(p->ctx, r, err, rc_strerror(err));
  }
}

/* Fails the requests still waiting for the connection, and the Pings
 * still waiting for their Pong (sent requests end with the exchange). */
void rc__app_peer_fail_waiting(app_peer *p, rc_err reason, const char *detail) {
  while (p->wait_head) {
    app_creq *r = p->wait_head;
    p->wait_head = r->next;
    creq_fail(p->ctx, r, reason, detail ? detail : "");
  }
  p->wait_tail = NULL;
  while (p->pings) {
    app_creq *r = p->pings;
    p->pings = r->next;
    creq_fail(p->ctx, r, reason, detail ? detail : "");
  }
}

void rc__app_peer_fail_free(app_peer *p, rc_err reason, const char *detail) {
  /* The callbacks may shut the context down, which frees a peer without
   * a conn: p is freed first, its requests failed after. */
  rc_context *ctx = p->ctx;
  app_creq *wait = p->wait_head, *pings = p->pings;
  p->wait_head = p->wait_tail = NULL;
  p->pings = NULL;
  rc__app_peer_free(p);
  for (app_creq *lists[2] = {wait, pings}, **l = lists; l < lists + 2; l++)
    while (*l) {
      app_creq *r = *l;
      *l = r->next;
      creq_fail(ctx, r, reason, detail ? detail : "");
    }
}

/* Copies options and payload into one allocation. */
static app_creq *creq_new(rc_context *ctx, uint8_t method, const rc_opt *opts,
                          size_t nopts, const rc_request_opts *ro) {
  size_t vals = 0;
  for (size_t i = 0; i < nopts; i++)
    vals += opts[i].len;
  size_t plen = ro ? ro->payload_len : 0;
  size_t size = sizeof(app_creq) + nopts * sizeof(rc_opt) + vals + plen;
  app_creq *r = ctx->mem->malloc(size, ctx->mem->user);
  if (!r)
    return NULL;
  memset(r, 0, sizeof *r);
  r->method = method;
  r->timeout_ms = ro ? ro->timeout_ms : 0;
  if (ro) {
    if (ro->body) {
      r->body = *ro->body;
      r->xo.body = &r->body;
    }
    if (ro->sink) {
      r->sink = *ro->sink;
      r->xo.sink = &r->sink;
    }
    r->xo.on_progress = ro->on_progress;
    r->xo.progress_arg = ro->progress_arg;
    r->xo.no_bert = ro->no_bert;
    r->xo.block_szx = ro->block_szx;
    r->xo.qblock = ro->qblock;
    r->xo.window = ro->window;
    r->xo.relay = ro->relay;
  }
  r->opts = (rc_opt *)(r + 1);
  uint8_t *v = (uint8_t *)(r->opts + nopts);
  for (size_t i = 0; i < nopts; i++) {
    r->opts[i] = opts[i];
    if (opts[i].len)
      memcpy(v, opts[i].val, opts[i].len);
    r->opts[i].val = v;
    v += opts[i].len;
  }
  r->nopts = nopts;
  r->payload = v;
  r->payload_len = plen;
  if (plen)
    memcpy(v, ro->payload, plen);
  return r;
}

/* The client context for a TLS kind: the request's, the context's, or
 * one made on first use (for coaps://, DTLS ones: dgram). */
static rc_tls_ctx *client_tls(rc_context *ctx, const rc_request_opts *ro,
                              int dgram, rc_err *err) {
  rc_tls_ctx *given = dgram ? (ro ? ro->dtls : NULL) : (ro ? ro->tls : NULL);
  if (!given)
    given = dgram ? ctx->opts.client_dtls : ctx->opts.client_tls;
  if (given)
    return given;
  rc_tls_ctx **own = dgram ? &ctx->default_dtls : &ctx->default_tls;
  if (!*own) {
    rc_tls_config cfg;
    rc_tls_config_init(&cfg, RC_TLS_CLIENT);
    cfg.datagram = dgram;
    char errbuf[256];
    *err = rc_tls_ctx_new(own, &cfg, errbuf, sizeof errbuf);
    if (*err) {
      rc__app_log(ctx, RC_SESSION_LOG_ERR, "%s: %s", dgram ? "DTLS" : "TLS",
                  errbuf);
      return NULL;
    }
  }
  return *own;
}

static app_peer *find_origin(rc_context *ctx, const char *key) {
  for (app_peer *p = ctx->peers; p; p = p->next)
    if (p->origin && !p->released && !strcmp(p->origin, key))
      return p;
  return NULL;
}

void rc__app_connect_opts(app_peer *p, rc_conn_kind kind, const char *host,
                          uint16_t port, rc_conn_connect_opts *co) {
  rc_context *ctx = p->ctx;
  rc_conn_connect_opts_init(co, ctx->loop, kind, host, port);
  co->ws = ctx->opts.client_ws;
  co->session = ctx->has_session ? &ctx->session : NULL;
  co->connect_timeout_ms = ctx->opts.connect_timeout_ms;
  co->handshake_timeout_ms = ctx->opts.handshake_timeout_ms;
  co->cb = *rc__app_conn_cb(ctx);
  co->user = p;
  co->mem = ctx->mem;
}

/* Opens p's connection to host:port. Returns 0 or rc_conn_connect's
 * error. */
static rc_err dial(app_peer *p, rc_conn_kind kind, const char *host,
                   uint16_t port, rc_tls_ctx *tls) {
  rc_conn_connect_opts co;
  rc__app_connect_opts(p, kind, host, port, &co);
  co.tls = tls;
  return rc_conn_connect(&p->conn, &co);
}

/* The Hold-Off is over: connect now. */
static void dial_later(uv_timer_t *t) {
  app_peer *p = t->data;
  rc_err err = dial(p, (rc_conn_kind)p->dial_kind, p->dial_host, p->dial_port,
                    p->dial_tls);
  if (err)
    rc__app_peer_fail_free(p, err, "cannot connect after the Hold-Off");
}

/* A new connection for origin key, to host:port, or after the origin's
 * Release instruction (Hold-Off, Alternative-Address) to where and when
 * it says. */
/* host, NUL-terminated, with an IPv6 zone as getaddrinfo wants it
 * ("fe80::1%lo": RFC 6874's "%25" decoded). Returns 0 or -1 (too long,
 * or a zone that names no interface: libuv would drop it silently). */
static int dial_host(const rc_uri *u, char *host, size_t cap) {
  size_t n;
  if (u->host_len >= cap)
    return -1;
  memcpy(host, u->host, u->host_len);
  n = u->host_len;
  if (u->zone) {
    if (n + 1 + u->zone_len >= cap)
      return -1;
    host[n++] = '%';
    for (size_t i = 0; i < u->zone_len; i++) {
      int hi, lo;
      if (u->zone[i] == '%' && i + 2 < u->zone_len &&
          (hi = rc_hex_digit((unsigned char)u->zone[i + 1])) >= 0 &&
          (lo = rc_hex_digit((unsigned char)u->zone[i + 2])) >= 0) {
        host[n++] = (char)(hi << 4 | lo);
        i += 2;
      } else {
        host[n++] = u->zone[i];
      }
    }
  }
  host[n] = 0;
  if (u->zone) {
    const char *zone = strchr(host, '%') + 1;
    if (!if_nametoindex(zone) && strspn(zone, "0123456789") != strlen(zone))
      return -1;
  }
  return 0;
}

static app_peer *open_origin(rc_context *ctx, const char *key,
                             rc_conn_kind kind, const rc_uri *u,
                             rc_tls_ctx *tls, rc_err *err) {
  char host[2 * RC_URI_HOST_MAX + 2];
  if (dial_host(u, host, sizeof host) != 0) {
    *err = RC_ERR_BAD_HOST;
    return NULL;
  }
  uint16_t port = u->port;
  rc_time wait = 0;
  const app_redirect *rd = rc__app_redirect(ctx, key);
  if (rd && rd->has_alt) {
    /* RFC 8323 §5.5: Hold-Off asks "that the peer not reconnect to it",
     * the server that released; the Alternative-Address is another one,
     * so it is used at once. */
    snprintf(host, sizeof host, "%s", rd->host);
    port = rd->port;
  } else if (rd) {
    rc_time now = rc__app_now(ctx);
    wait = rd->not_before > now ? rd->not_before - now : 0;
  }
  app_peer *p = rc__app_peer_new(ctx, NULL);
  size_t klen = strlen(key) + 1;
  if (!p || !(p->origin = ctx->mem->malloc(klen, ctx->mem->user))) {
    *err = RC_ERR_NOMEM;
    goto fail;
  }
  memcpy(p->origin, key, klen);
  if (wait == 0) {
    *err = kind == RC_CONN_WEBRTC ? rc__app_wr_dial(p, host)
                                  : dial(p, kind, host, port, tls);
    if (*err)
      goto fail;
    return p;
  }
  /* RFC 8323 §5.5: Hold-Off asks "that the peer not reconnect to it for
   * the number of seconds given": requests wait for the connection. */
  p->timer = malloc(sizeof *p->timer);
  p->dial_host = strdup(host);
  if (!p->timer || !p->dial_host) {
    free(p->timer);
    p->timer = NULL;
    *err = RC_ERR_NOMEM;
    goto fail;
  }
  p->dial_port = port;
  p->dial_kind = (uint8_t)kind;
  p->dial_tls = tls;
  uv_timer_init(ctx->loop, p->timer);
  p->timer->data = p;
  uv_timer_start(p->timer, dial_later, wait, 0);
  rc__app_log(ctx, RC_SESSION_LOG_INFO,
              "waiting %llu ms (Hold-Off) before connecting to %s port %u",
              (unsigned long long)wait, host, port);
  return p;
fail:
  if (p)
    rc__app_peer_free(p);
  return NULL;
}

/* The request's options: the URI's decomposed (RFC 7252 §6.4) plus the
 * caller's, sorted. Values of the URI's options go into scratch. */
static rc_err build_opts(const rc_uri *u, unsigned flags,
                         const rc_request_opts *ro, rc_opt *opts, size_t *n,
                         uint8_t *scratch, size_t scratch_cap) {
  size_t slen = 0;
  *n = 0; /* rc_uri_to_opts appends after *n options */
  rc_err err = rc_uri_to_opts(u, flags, opts, RC_APP_MAX_OPTS, n, scratch,
                              scratch_cap, &slen);
  if (err)
    return err;
  size_t extra = ro ? ro->nopts : 0;
  if (*n + extra > RC_APP_MAX_OPTS)
    return RC_ERR_LIMIT;
  for (size_t i = 0; i < extra; i++)
    opts[(*n)++] = ro->opts[i];
  rc_opts_sort(opts, *n);
  return RC_OK;
}

rc_err rc_request_back(rc_xreq *req, uint8_t method, const char *path,
                       const rc_request_opts *ro, rc_request_cb cb,
                       void *arg) {
  if (!req || !path || path[0] != '/' || !cb || !rc_code_is_request(method))
    return RC_ERR_INVAL;
  rc_exchange *x = rc_xreq_exchange(req);
  if (!x)
    return RC_ERR_STATE;
  app_peer *p = rc_exchange_user(x);
  /* Decompose path and query through a URI with a placeholder authority;
   * the flags keep Uri-Host and Uri-Port out of the request. */
  static const char base[] = "coap+tcp://localhost";
  char uri[sizeof base + CLIENT_URI_MAX];
  size_t plen = strlen(path);
  if (plen > CLIENT_URI_MAX)
    return RC_ERR_BAD_URI;
  memcpy(uri, base, sizeof base - 1);
  memcpy(uri + sizeof base - 1, path, plen + 1);
  rc_uri u;
  rc_err err = rc_uri_parse(uri, sizeof base - 1 + plen, &u);
  if (err)
    return err;
  rc_opt opts[RC_APP_MAX_OPTS];
  uint8_t scratch[RC_URI_SCRATCH_MAX(sizeof base + CLIENT_URI_MAX)];
  size_t n;
  err = build_opts(&u, RC_URI_OMIT_HOST | RC_URI_OMIT_PORT, ro, opts, &n,
                   scratch, sizeof scratch);
  if (err)
    return err;
  app_creq *r = creq_new(p->ctx, method, opts, n, ro);
  if (!r)
    return RC_ERR_NOMEM;
  r->cb = cb;
  r->arg = arg;
  r->peer = p;
  err = creq_send(r);
  if (err)
    rc__app_creq_free(p->ctx, r);
  return err;
}

/* What request_impl sends: a request (cb), or a Ping (ping_cb). */
typedef struct creq_what {
  uint8_t method;     /* 0 for a Ping */
  uint8_t observe;
  uint8_t custody;
  rc_request_cb cb;
  rc_ping_cb ping_cb;
  void *arg;
} creq_what;

static rc_err request_impl(rc_context *ctx, const char *uri,
                           const rc_request_opts *ro, const creq_what *w,
                           app_creq **out);

rc_err rc_request(rc_context *ctx, uint8_t method, const char *uri,
                  const rc_request_opts *ro, rc_request_cb cb, void *arg) {
  if (!cb || !rc_code_is_request(method))
    return RC_ERR_INVAL;
  creq_what w = {.method = method, .cb = cb, .arg = arg};
  return request_impl(ctx, uri, ro, &w, NULL);
}

rc_err rc__app_request_observe(rc_context *ctx, const char *uri,
                               const rc_request_opts *ro, rc_request_cb cb,
                               void *arg, app_creq **creq) {
  if (!cb)
    return RC_ERR_INVAL;
  creq_what w = {.method = RC_GET, .observe = 1, .cb = cb, .arg = arg};
  return request_impl(ctx, uri, ro, &w, creq);
}

rc_err rc_ping(rc_context *ctx, const char *uri, const rc_request_opts *ro,
               int custody, rc_ping_cb cb, void *arg) {
  if (!cb)
    return RC_ERR_INVAL;
  creq_what w = {.custody = custody != 0, .ping_cb = cb, .arg = arg};
  return request_impl(ctx, uri, ro, &w, NULL);
}

static rc_err request_impl(rc_context *ctx, const char *uri,
                           const rc_request_opts *ro, const creq_what *w,
                           app_creq **out) {
  if (!ctx || !uri)
    return RC_ERR_INVAL;
  size_t ulen = strlen(uri);
  if (ulen > CLIENT_URI_MAX)
    return RC_ERR_BAD_URI;
  rc_uri u;
  rc_err err = rc_uri_parse(uri, ulen, &u);
  if (err)
    return err;
  int kind = rc_scheme_conn_kind(u.scheme);
  if (kind < 0)
    return RC_ERR_NOT_SUPPORTED;
  if (ctx->shutting_down)
    return RC_ERR_STATE;

  rc_opt opts[RC_APP_MAX_OPTS];
  uint8_t scratch[RC_URI_SCRATCH_MAX(CLIENT_URI_MAX)];
  size_t n = 0;
  /* RFC 7252 §6.4 step 7: Uri-Port only when the port differs from the
   * request's destination port, which here is the URI's own port. A Ping
   * has no options: the URI only names the connection. */
  if (w->method)
    err = build_opts(&u, RC_URI_OMIT_PORT, ro, opts, &n, scratch,
                     sizeof scratch);
  if (err)
    return err;

  rc_tls_ctx *tls = NULL;
  if (kind == RC_CONN_TLS || kind == RC_CONN_TLS_WS || kind == RC_CONN_DTLS) {
    tls = client_tls(ctx, ro, kind == RC_CONN_DTLS, &err);
    if (!tls)
      return err ? err : RC_ERR_TLS;
  }
  char key[3 * RC_URI_HOST_MAX + 64];
  snprintf(key, sizeof key, "%d|%.*s%%%.*s|%u|%p", kind, (int)u.host_len,
           u.host, (int)u.zone_len, u.zone ? u.zone : "", u.port,
           (void *)tls);

  app_creq *r = creq_new(ctx, w->method, opts, n, w->method ? ro : NULL);
  if (!r)
    return RC_ERR_NOMEM;
  r->observe = w->observe;
  r->custody = w->custody;
  if (out)
    *out = r;
  r->cb = w->cb;
  r->ping_cb = w->ping_cb;
  r->arg = w->arg;
  app_peer *p = find_origin(ctx, key);
  if (!p) {
    p = open_origin(ctx, key, (rc_conn_kind)kind, &u, tls, &err);
    if (!p) {
      rc__app_creq_free(ctx, r);
      return err;
    }
  }
  r->peer = p;
  if (p->open && p->x) {
    err = creq_send(r);
    if (err)
      rc__app_creq_free(ctx, r);
    return err;
  }
  if (p->wait_tail)
    p->wait_tail->next = r;
  else
    p->wait_head = r;
  p->wait_tail = r;
  return RC_OK;
}
