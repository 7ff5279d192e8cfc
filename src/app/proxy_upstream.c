/*
 * The proxy's upstream side: one forwarded request from the cache or to
 * its origin, and the outcome back to the downstream request.
 *  - Cache (proxy_cache.c, RFC 7252 §5.6): a fresh entry answers GET /
 *    FETCH at once; a stale one with an ETag is validated (the entry's
 *    ETag goes upstream; a 2.03 refreshes it and the downstream gets the
 *    stored 2.05, or 2.03 when its own ETag matches).
 *  - Retry: a connection that drops with the request in flight fails it;
 *    an idempotent one (GET, FETCH, PUT, DELETE: RFC 7252 §5.8, RFC 8132
 *    §2) goes once more on a new connection, others get 5.02.
 *  - Back-off: an origin that refuses or cannot be reached is not tried
 *    again before its back-off (doubling from backoff_min_ms to
 *    backoff_max_ms) is over; meanwhile requests for it get 5.03 at once
 *    with Max-Age = the seconds left (RFC 7252 §5.9.3.4).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_cache.h"
#include "proxy_int.h"

#define PX_BACKOFF_MIN_MS 1000u
#define PX_BACKOFF_MAX_MS 30000u
#define PX_ORIGIN_MAX 96u

typedef struct px_origin {
  struct px_origin *next;
  char name[PX_ORIGIN_MAX];
  uint32_t backoff_ms; /* 0: healthy */
  rc_time retry_at;    /* no new attempt before this */
} px_origin;

typedef struct px_upstream {
  px_cache *cache;
  px_origin *origins;
  struct px_job *retries; /* to send again on the next loop turn */
  uv_timer_t *timer;      /* for those; closed with the context */
} px_upstream;

/* One request on its way upstream, with what a retry or the cache
 * needs (copies: the downstream message view ends with its handler). */
typedef struct px_job {
  struct px_job *next; /* px_upstream.retries */
  rc_context *ctx;
  px_dest dest;
  rc_proxy_opts po;
  char origin[PX_ORIGIN_MAX];
  uint8_t method;
  uint8_t retried;
  uint8_t validating; /* the upstream request carries our entry's ETag */
  uint8_t relay;      /* px_fwd.relay */
  char *uri;          /* into blob */
  rc_opt *opts;       /* into blob: the downstream's options */
  size_t nopts;
  uint8_t *payload; /* into blob */
  size_t payload_len;
  uint8_t *key; /* into blob; NULL: not cached */
  size_t key_len;
  uint8_t blob[];
} px_job;

static px_upstream *upstream(rc_context *ctx, const rc_proxy_opts *po) {
  if (!ctx->px_up) {
    px_upstream *u = calloc(1, sizeof *u);
    if (!u)
      return NULL;
    if (po->cache_bytes && rc__pxc_new(&u->cache, po->cache_bytes) != RC_OK)
      u->cache = NULL; /* no memory for a cache: go without */
    ctx->px_up = u;
  }
  return ctx->px_up;
}

static void dest_answer(const px_dest *d, const rc_outmsg *m) {
  if (d->req)
    rc__px_respond(d->req, m);
  else
    d->answer(d->arg, m);
}

/* Answers d with code and a text/plain diagnostic (RFC 7252 §5.5.2). */
static void dest_vfail(const px_dest *d, uint8_t code, const char *fmt,
                       va_list ap) __attribute__((format(printf, 3, 0)));
static void dest_vfail(const px_dest *d, uint8_t code, const char *fmt,
                       va_list ap) {
  char diag[300];
  int n = vsnprintf(diag, sizeof diag, fmt, ap);
  if (n < 0)
    n = 0;
  if ((size_t)n >= sizeof diag)
    n = (int)sizeof diag - 1;
  rc_opt cf = {.num = RC_OPT_CONTENT_FORMAT, .len = 0, .val = NULL}; /* text */
  rc_outmsg m = {code, &cf, 1, (const uint8_t *)diag, (size_t)n};
  if (d->req)
    rc_exchange_respond(d->req, &m);
  else
    d->answer(d->arg, &m);
}

static void dest_fail(const px_dest *d, uint8_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void dest_fail(const px_dest *d, uint8_t code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  dest_vfail(d, code, fmt, ap);
  va_end(ap);
}

void rc__px_answer(rc_xreq *req, uint8_t code, const char *fmt, ...) {
  px_dest d = {.req = req};
  va_list ap;
  va_start(ap, fmt);
  dest_vfail(&d, code, fmt, ap);
  va_end(ap);
}

static void timer_closed(uv_handle_t *h) { free(h); }

void rc__px_upstream_free(rc_context *ctx) {
  px_upstream *u = ctx->px_up;
  if (!u)
    return;
  while (u->retries) {
    px_job *j = u->retries;
    u->retries = j->next;
    dest_fail(&j->dest, RC_BAD_GATEWAY, "proxy: shutting down");
    free(j);
  }
  if (u->timer)
    uv_close((uv_handle_t *)u->timer, timer_closed);
  while (u->origins) {
    px_origin *o = u->origins;
    u->origins = o->next;
    free(o);
  }
  rc__pxc_free(u->cache);
  free(u);
  ctx->px_up = NULL;
}

static px_origin *origin_get(px_upstream *u, const char *name, int make) {
  for (px_origin *o = u->origins; o; o = o->next)
    if (!strcmp(o->name, name))
      return o;
  if (!make)
    return NULL;
  px_origin *o = calloc(1, sizeof *o);
  if (!o)
    return NULL;
  snprintf(o->name, sizeof o->name, "%s", name);
  o->next = u->origins;
  u->origins = o;
  return o;
}

/* The request can go again without changing the outcome. */
static int idempotent(uint8_t method) {
  return method == RC_GET || method == RC_FETCH || method == RC_PUT ||
         method == RC_DELETE;
}

/* The connection could not be made (the origin is down, not the
 * request): back off. */
static int connect_failure(rc_err e) {
  return e == RC_ERR_CONN_REFUSED || e == RC_ERR_CONNECT ||
         e == RC_ERR_RESOLVE || e == RC_ERR_TLS || e == RC_ERR_TLS_CERT ||
         e == RC_ERR_TLS_ALPN || e == RC_ERR_TLS_NOT_TLS ||
         e == RC_ERR_WS_HANDSHAKE;
}

/* The connection went with the request in flight. */
static int dropped(rc_err e) {
  return e == RC_ERR_CONN_RESET || e == RC_ERR_CLOSED ||
         e == RC_ERR_PEER_ABORT || e == RC_ERR_PEER_DEAD ||
         e == RC_ERR_WS_PROTOCOL || e == RC_ERR_IO;
}

/* Whether the downstream request's options list etag among its ETags. */
static int etag_listed(const rc_opt *opts, size_t n, const uint8_t *etag,
                       size_t len) {
  for (size_t i = 0; i < n; i++)
    if (opts[i].num == RC_OPT_ETAG && opts[i].len == len &&
        !memcmp(opts[i].val, etag, len))
      return 1;
  return 0;
}

void rc__px_respond(rc_xreq *req, const rc_outmsg *m) {
  if (rc_exchange_respond(req, m) == RC_ERR_PEER_TOO_LARGE)
    rc__px_answer(req, RC_BAD_GATEWAY, "proxy: the answer does not fit");
}

size_t rc__px_resp_opts(const rc_msg *resp, int relay, rc_opt *out,
                        size_t cap) {
  size_t n = 0;
  rc_opt_iter it;
  rc_opt op;
  rc_opt_iter_init(&it, resp);
  while (rc_opt_next(&it, &op) && n < cap)
    if (!rc__app_proxy_hop_by_hop(op.num) ||
        (relay && (op.num == RC_OPT_BLOCK2 || op.num == RC_OPT_SIZE2)))
      out[n++] = op; /* a relayed block keeps the upstream's */
  return n;
}

/* Answers from entry e: the stored response, or 2.03 when the
 * downstream already holds it (RFC 7252 §5.10.6.2: the ETag it sent). */
static void answer_cached(rc_context *ctx, const px_dest *d, const rc_opt *dopts,
                          size_t dn, const px_entry *e) {
  rc_opt opts[RC_APP_MAX_OPTS];
  uint8_t age[4], code;
  const uint8_t *payload, *etag;
  size_t plen, elen = rc__pxc_etag(e, &etag);
  size_t n = rc__pxc_render(e, rc__app_now(ctx), &code, opts, RC_APP_MAX_OPTS,
                            age, &payload, &plen);
  if (code == RC_CONTENT && elen && etag_listed(dopts, dn, etag, elen)) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
      if (opts[i].num == RC_OPT_ETAG || opts[i].num == RC_OPT_MAX_AGE)
        opts[k++] = opts[i];
    rc_outmsg m = {RC_VALID, opts, k, NULL, 0};
    dest_answer(d, &m);
    return;
  }
  rc_outmsg m = {code, opts, n, payload, plen};
  dest_answer(d, &m);
}

static void job_send(px_job *j);

static void send_retries(uv_timer_t *t) {
  px_upstream *u = t->data;
  px_job *list = u->retries;
  u->retries = NULL;
  while (list) {
    px_job *j = list;
    list = j->next;
    job_send(j);
  }
}

/* Sends j again on the next loop turn: the connection that failed it is
 * still the origin's while its close is reported. */
static void retry_later(px_upstream *u, px_job *j) {
  if (!u->timer && (u->timer = malloc(sizeof *u->timer))) {
    uv_timer_init(j->ctx->loop, u->timer);
    u->timer->data = u;
  }
  if (!u->timer) {
    dest_fail(&j->dest, RC_BAD_GATEWAY, "proxy: out of memory");
    free(j);
    return;
  }
  j->next = u->retries;
  u->retries = j;
  uv_timer_start(u->timer, send_retries, 0, 0);
}

static void on_upstream(void *arg, rc_err status, const rc_msg *resp,
                        const char *detail) {
  px_job *j = arg;
  rc_context *ctx = j->ctx;
  const px_dest *d = &j->dest;
  px_upstream *u = ctx->px_up;
  const char *sep = detail && *detail ? ": " : "";
  if (!detail)
    detail = "";
  if (status < 0 && !ctx->freeing && u) {
    px_origin *o = origin_get(u, j->origin, connect_failure(status));
    if (connect_failure(status) && o) {
      o->backoff_ms = o->backoff_ms          ? o->backoff_ms * 2
                      : j->po.backoff_min_ms ? j->po.backoff_min_ms
                                             : PX_BACKOFF_MIN_MS;
      uint32_t max =
          j->po.backoff_max_ms ? j->po.backoff_max_ms : PX_BACKOFF_MAX_MS;
      if (o->backoff_ms > max)
        o->backoff_ms = max;
      o->retry_at = rc__app_now(ctx) + o->backoff_ms;
      dest_fail(d, RC_BAD_GATEWAY,
                    "proxy: %s failed: %s%s%s (next attempt in %u ms)",
                    j->origin, rc_strerror(status), sep, detail, o->backoff_ms);
      free(j);
      return;
    }
    if (dropped(status) && idempotent(j->method) && !j->retried) {
      rc__app_log(ctx, RC_SESSION_LOG_INFO,
                  "proxy: %s dropped a request (%s); sending it again",
                  j->origin, rc_strerror(status));
      j->retried = 1;
      retry_later(u, j);
      return;
    }
  }
  if (status == RC_ERR_TIMEOUT) {
    dest_fail(d, RC_GATEWAY_TIMEOUT,
                  "proxy: %s did not answer within %u ms", j->origin,
                  j->po.timeout_ms ? j->po.timeout_ms
                                   : RC_EXCHANGE_DEFAULT_TIMEOUT_MS);
  } else if (status < 0) {
    dest_fail(d, RC_BAD_GATEWAY, "proxy: %s failed: %s%s%s%s", j->origin,
                  rc_strerror(status), sep, detail,
                  j->retried ? " (sent twice)" : "");
  } else {
    px_origin *o = u ? origin_get(u, j->origin, 0) : NULL;
    if (o)
      o->backoff_ms = 0; /* the origin answers again */
    rc_opt opts[RC_APP_MAX_OPTS];
    size_t n = rc__px_resp_opts(resp, j->relay, opts, RC_APP_MAX_OPTS);
    px_cache *c = u ? u->cache : NULL;
    rc_time now = rc__app_now(ctx);
    if (c && j->method != RC_GET && j->method != RC_FETCH &&
        RC_CODE_CLASS(resp->code) == 2)
      /* The way HTTP caches do (RFC 9111 §4.4): a successful unsafe
       * request makes what is stored for its target stale. */
      rc__pxc_invalidate(c, j->uri);
    if (c && j->key && j->validating && resp->code == RC_VALID) {
      /* RFC 7252 §5.9.1.3 (paraphrased): a 2.03 lets the cache reuse the
       * stored response its ETag names, with the 2.03's Max-Age. */
      px_entry *e = rc__pxc_get(c, j->key, j->key_len);
      if (e) {
        rc__pxc_refresh(e, opts, n, now);
        answer_cached(ctx, d, j->opts, j->nopts, e);
        free(j);
        return;
      }
      dest_fail(d, RC_BAD_GATEWAY,
                    "proxy: %s validated an entry the cache no longer has",
                    j->origin);
      free(j);
      return;
    }
    if (c && j->key && !j->relay && rc__pxc_cacheable(resp->code)) {
      rc__pxc_put(c, j->key, j->key_len, resp->code, opts, n, resp->payload,
                  resp->payload_len, now);
      px_entry *e = rc__pxc_get(c, j->key, j->key_len);
      if (e) {
        answer_cached(ctx, d, j->opts, j->nopts, e);
        free(j);
        return;
      }
    }
    rc_outmsg m = {resp->code, opts, n, resp->payload, resp->payload_len};
    dest_answer(d, &m);
  }
  free(j);
}

static void job_send(px_job *j) {
  rc_opt opts[RC_APP_MAX_OPTS];
  size_t n = 0;
  uint8_t etag_buf[8];
  for (size_t i = 0; i < j->nopts; i++)
    if (!(j->validating && j->opts[i].num == RC_OPT_ETAG))
      opts[n++] = j->opts[i];
  if (j->validating) {
    /* RFC 7252 §5.6.2 (paraphrased): a cache holding a stale response
     * with an ETag sends it in the request, so the origin can answer
     * 2.03 instead of the whole representation. */
    const uint8_t *etag;
    px_entry *e = rc__pxc_get(j->ctx->px_up->cache, j->key, j->key_len);
    size_t elen = e ? rc__pxc_etag(e, &etag) : 0;
    if (elen && elen <= sizeof etag_buf && n < RC_APP_MAX_OPTS) {
      memcpy(etag_buf, etag, elen);
      opts[n++] =
          (rc_opt){.num = RC_OPT_ETAG, .len = (uint32_t)elen, .val = etag_buf};
    } else {
      j->validating = 0;
      n = j->nopts;
      memcpy(opts, j->opts, n * sizeof *opts);
    }
  }
  rc_request_opts ro = {.opts = opts,
                        .nopts = n,
                        .payload = j->payload,
                        .payload_len = j->payload_len,
                        .timeout_ms = j->po.timeout_ms,
                        .relay = 1};
  rc_err err = rc_request(j->ctx, j->method, j->uri, &ro, on_upstream, j);
  if (err) {
    dest_fail(&j->dest, RC_BAD_GATEWAY, "proxy: cannot send to %s: %s",
                  j->origin, rc_strerror(err));
    free(j);
  }
}

uint8_t *rc__px_opts_copy(rc_opt *dst, uint8_t *v, const rc_opt *src,
                          size_t n) {
  for (size_t i = 0; i < n; i++) {
    dst[i] = src[i];
    if (src[i].len)
      memcpy(v, src[i].val, src[i].len);
    dst[i].val = v;
    v += src[i].len;
  }
  return v;
}

static px_job *job_new(rc_context *ctx, const rc_proxy_opts *po, const px_dest *d,
                       const px_fwd *f, const uint8_t *key, size_t klen) {
  size_t ulen = strlen(f->uri) + 1, vals = 0;
  for (size_t i = 0; i < f->nopts; i++)
    vals += f->opts[i].len;
  for (size_t i = 0; i < f->nrelay; i++)
    vals += f->relay_opts[i].len;
  px_job *j = malloc(sizeof *j + (f->nopts + f->nrelay) * sizeof(rc_opt) +
                     ulen + vals + f->payload_len + klen);
  if (!j)
    return NULL;
  memset(j, 0, sizeof *j);
  j->ctx = ctx;
  j->dest = *d;
  j->po = *po;
  j->method = f->method;
  j->relay = f->nrelay > 0;
  snprintf(j->origin, sizeof j->origin, "%s", f->origin);
  j->opts = (rc_opt *)j->blob;
  size_t nall = f->nopts + f->nrelay;
  uint8_t *v = rc__px_opts_copy(j->opts, (uint8_t *)(j->opts + nall),
                                f->opts, f->nopts);
  v = rc__px_opts_copy(j->opts + f->nopts, v, f->relay_opts, f->nrelay);
  j->nopts = nall;
  j->uri = (char *)v;
  memcpy(v, f->uri, ulen);
  v += ulen;
  j->payload = v;
  j->payload_len = f->payload_len;
  if (f->payload_len)
    memcpy(v, f->payload, f->payload_len);
  v += f->payload_len;
  if (klen) {
    j->key = v;
    j->key_len = klen;
    memcpy(v, key, klen);
  }
  return j;
}

static int backing_off(rc_context *ctx, const px_dest *d, const char *origin) {
  px_upstream *u = ctx->px_up;
  px_origin *o = u ? origin_get(u, origin, 0) : NULL;
  rc_time now = rc__app_now(ctx);
  if (!o || !o->backoff_ms || now >= o->retry_at)
    return 0;
  /* Fail fast while the origin backs off: 5.03 with Max-Age, the
   * seconds until the next attempt (RFC 7252 §5.9.3.4). */
  uint32_t left = (uint32_t)((o->retry_at - now + 999) / 1000);
  uint8_t ma[4];
  size_t mal = rc_opt_uint_encode(left, ma);
  rc_opt opts[2] = {
      {.num = RC_OPT_CONTENT_FORMAT, .len = 0, .val = NULL}, /* text */
      {.num = RC_OPT_MAX_AGE, .len = (uint32_t)mal, .val = ma}};
  char diag[200];
  int dl = snprintf(diag, sizeof diag,
                    "proxy: %s unreachable; next attempt in %llu ms", origin,
                    (unsigned long long)(o->retry_at - now));
  rc_outmsg m = {RC_SERVICE_UNAVAILABLE, opts, 2, (const uint8_t *)diag,
                 dl < 0                       ? 0
                 : dl >= (int)sizeof diag ? sizeof diag - 1
                                          : (size_t)dl};
  dest_answer(d, &m);
  return 1;
}

void rc__px_invalidate(rc_context *ctx, const char *uri) {
  px_upstream *u = ctx->px_up;
  if (u && u->cache)
    rc__pxc_invalidate(u->cache, uri);
}

int rc__px_backing_off(rc_context *ctx, rc_xreq *req, const char *origin) {
  px_dest d = {.req = req};
  return backing_off(ctx, &d, origin);
}

void rc__px_send(rc_context *ctx, const rc_proxy_opts *po, const px_dest *d,
                 const px_fwd *f) {
  px_upstream *u = upstream(ctx, po);
  rc_time now = rc__app_now(ctx);
  uint8_t key[RC_PXC_KEY_MAX];
  size_t klen = 0;
  px_entry *e = NULL;
  if (u && u->cache && (f->method == RC_GET || f->method == RC_FETCH)) {
    klen = rc__pxc_key(f->method, f->uri, f->opts, f->nopts, f->payload,
                       f->payload_len, key, sizeof key);
    e = klen ? rc__pxc_get(u->cache, key, klen) : NULL;
  }
  if (e && rc__pxc_fresh_ms(e, now)) {
    /* RFC 7252 §5.6.1: fresh */
    answer_cached(ctx, d, f->opts, f->nopts, e);
    return;
  }
  if (backing_off(ctx, d, f->origin))
    return;
  px_job *j = job_new(ctx, po, d, f, key, klen);
  if (!j || (d->req && rc_xreq_defer(d->req) != RC_OK)) {
    free(j);
    dest_fail(d, RC_SERVICE_UNAVAILABLE, "proxy: out of memory");
    return;
  }
  const uint8_t *etag;
  j->validating = e && rc__pxc_etag(e, &etag) > 0;
  job_send(j);
}
