/*
 * HTTP-to-CoAP (app_proxy.h rc_proxy_http, RFC 8075): a plain HTTP
 * request on a WS port under "/hc/" becomes a CoAP request to the URI it
 * names (or a route's target), with the proxy's own checks (allow rules,
 * own listeners, Hop-Limit), sent by the same upstream machinery as a
 * CoAP request's (proxy_upstream.c: the cache, retry, back-off with 5.03
 * + Max-Age, timeout), and the CoAP answer an HTTP response given later
 * through the ws filter's rc_http_reply.
 * The tables (target, method, media types, status codes, entity-tags) are
 * codec_hc.h's; this file joins them to an HTTP head and a CoAP message.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_int.h"
#include "rcoap/codec_hc.h"
#include "rcoap/transport_ws.h"

#define HC_URI_MAX 2048u
#define HC_DIAG_MAX 300u
/* RFC 7252 §5.10.5: Max-Age "Default Value 60". */
#define HC_MAX_AGE_DEFAULT 60u

/* One HTTP request waiting for its CoAP answer. */
typedef struct hc_pending {
  rc_http_reply *reply;
  int conditional; /* If-None-Match was mapped: 2.03 is 304 */
  /* the target, for Location: scheme, host (no brackets), port */
  rc_scheme scheme;
  uint16_t port;
  char host[RC_URI_HOST_MAX + 1];
} hc_pending;

static void hc_fail(rc_http_reply *reply, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Answers reply with status and a one-line text/plain body. */
static void hc_fail(rc_http_reply *reply, int status, const char *fmt, ...) {
  char body[HC_DIAG_MAX + 1];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(body, sizeof body - 1, fmt, ap);
  va_end(ap);
  if (n < 0)
    n = 0;
  if ((size_t)n > sizeof body - 2)
    n = (int)sizeof body - 2;
  body[n++] = '\n';
  rc_http_response resp;
  memset(&resp, 0, sizeof resp);
  resp.status = status;
  resp.content_type = "text/plain; charset=utf-8";
  resp.body = (const uint8_t *)body;
  resp.body_len = (size_t)n;
  resp.keep_alive = 1;
  (void)rc_http_reply_send(reply, &resp);
}

/* The first option num of m into *o: 1, or 0 when m has none. */
static int out_find(const rc_outmsg *m, uint16_t num, rc_opt *o) {
  for (size_t i = 0; i < m->nopts; i++)
    if (m->opts[i].num == num) {
      *o = m->opts[i];
      return 1;
    }
  return 0;
}

/* Location-Path / Location-Query (a 2.01's new resource) as an HTTP
 * Location under /hc/: the target's origin and the options as its path
 * and query (RFC 7252 §6.5 on Uri-* options renamed). Appends the field
 * line to x[*n..cap) when it fits. */
static void hc_location(const hc_pending *hp, const rc_outmsg *m, char *x,
                        size_t *n, size_t cap) {
  rc_opt lo[16];
  size_t k = 0, len;
  for (size_t i = 0; i < m->nopts && k < sizeof lo / sizeof lo[0]; i++) {
    rc_opt o = m->opts[i];
    if (o.num == RC_OPT_LOCATION_PATH || o.num == RC_OPT_LOCATION_QUERY) {
      lo[k] = o;
      lo[k++].num =
          o.num == RC_OPT_LOCATION_PATH ? RC_OPT_URI_PATH : RC_OPT_URI_QUERY;
    }
  }
  char uri[320];
  if (k && rc_uri_compose(hp->scheme, hp->host, strlen(hp->host), hp->port, lo,
                          k, uri, sizeof uri, &len) == RC_OK &&
      *n + len + 20 < cap)
    *n += (size_t)snprintf(x + *n, cap - *n, "Location: %s%s\r\n",
                           RC_HC_PREFIX, uri);
}

/* The CoAP answer (or the proxy's failure) as an HTTP response (RFC 8075
 * §7); px_dest.answer of the request, so hp goes here. */
static void hc_answer(void *arg, const rc_outmsg *m) {
  hc_pending *hp = arg;
  rc_http_response resp;
  memset(&resp, 0, sizeof resp);
  resp.keep_alive = 1;
  resp.status = rc_hc_status(m->code, m->payload_len > 0, hp->conditional);
  rc_opt o;
  uint32_t cfv;
  int cf = out_find(m, RC_OPT_CONTENT_FORMAT, &o) &&
                   rc_opt_uint(&o, &cfv) == RC_OK
               ? (int)cfv
               : -1;
  resp.content_type = rc_hc_media_type(cf);
  if (!resp.content_type && m->payload_len)
    /* RFC 7252 §5.5.2: an error's payload without Content-Format is a
     * diagnostic, UTF-8 text; a success's is opaque. */
    resp.content_type = RC_CODE_CLASS(m->code) == 2
                            ? "application/octet-stream"
                            : "text/plain; charset=utf-8";
  size_t n = 0, cap = sizeof resp.extra_buf;
  char *x = resp.extra_buf;
  if (out_find(m, RC_OPT_ETAG, &o) && o.len <= 8) {
    char tag[24];
    if (rc_hc_etag_out(o.val, o.len, tag, sizeof tag) > 0)
      n += (size_t)snprintf(x + n, cap - n, "ETag: %s\r\n", tag);
  }
  uint32_t age = HC_MAX_AGE_DEFAULT;
  int has_age = out_find(m, RC_OPT_MAX_AGE, &o) &&
                rc_opt_uint(&o, &age) == RC_OK;
  if (m->code == RC_SERVICE_UNAVAILABLE && has_age)
    /* RFC 8075 §7 (paraphrased): 5.03 is 503, its Max-Age the
     * Retry-After header field (the proxy's back-off: when to ask again). */
    n += (size_t)snprintf(x + n, cap - n, "Retry-After: %u\r\n",
                          (unsigned)age);
  /* RFC 8075 §7: Max-Age becomes Cache-Control max-age (a 2.05 without
   * it is fresh for the default 60 s, RFC 7252 §5.10.5). */
  else if (has_age || m->code == RC_CONTENT)
    n += (size_t)snprintf(x + n, cap - n, "Cache-Control: max-age=%u\r\n",
                          (unsigned)age);
  hc_location(hp, m, x, &n, cap);
  resp.extra_headers = x;
  resp.body = m->payload;
  resp.body_len = m->payload_len;
  (void)rc_http_reply_send(hp->reply, &resp);
  free(hp);
}

/* Adds the CoAP options the HTTP head implies to opts[*n]. vals holds
 * their values. Returns 0, or an HTTP status to refuse with. */
static int hc_options(const rc_http_head *req, rc_opt *opts, size_t *n,
                      uint8_t vals[3][8], int *conditional) {
  const rc_http_header *h = rc_http_find(req, "Content-Type", NULL);
  if (h && req->body_len) {
    int cf = rc_hc_content_format(h->value, h->value_len);
    if (cf < 0)
      return 415; /* RFC 8075 §6: no Content-Format for it */
    size_t len = rc_opt_uint_encode((uint32_t)cf, vals[0]);
    opts[(*n)++] = (rc_opt){.num = RC_OPT_CONTENT_FORMAT, .len = (uint16_t)len,
                            .val = vals[0]};
  }
  h = rc_http_find(req, "Accept", NULL);
  if (h && !memchr(h->value, ',', h->value_len)) {
    /* One media type: Accept; a list or a wildcard is left to the origin. */
    int cf = rc_hc_content_format(h->value, h->value_len);
    if (cf >= 0) {
      size_t len = rc_opt_uint_encode((uint32_t)cf, vals[1]);
      opts[(*n)++] = (rc_opt){.num = RC_OPT_ACCEPT, .len = (uint16_t)len,
                              .val = vals[1]};
    }
  }
  uint8_t tag[8];
  int tl;
  h = rc_http_find(req, "If-None-Match", NULL);
  if (h && (tl = rc_hc_etag_in(h->value, h->value_len, tag)) > 0) {
    /* A validation: ETag in the request, 2.03 back is 304 (RFC 8075 §7). */
    memcpy(vals[2], tag, (size_t)tl);
    opts[(*n)++] = (rc_opt){.num = RC_OPT_ETAG, .len = (uint16_t)tl,
                            .val = vals[2]};
    *conditional = 1;
  }
  h = rc_http_find(req, "If-Match", NULL);
  if (h && !*conditional && (tl = rc_hc_etag_in(h->value, h->value_len,
                                                tag)) > 0) {
    memcpy(vals[2], tag, (size_t)tl);
    opts[(*n)++] = (rc_opt){.num = RC_OPT_IF_MATCH, .len = (uint16_t)tl,
                            .val = vals[2]};
  }
  return 0;
}

/* Sends the request for uri; answers reply on every path. */
static void hc_forward(rc_context *ctx, const rc_http_head *req,
                       rc_http_reply *reply, const char *uri, int check) {
  const rc_proxy_opts *po = rc__proxy_opts(ctx);
  int method = rc_hc_method(req->method, req->method_len);
  if (method < 0) {
    hc_fail(reply, 501, "proxy: method %.*s has no CoAP counterpart",
            (int)(req->method_len > 16 ? 16 : req->method_len), req->method);
    return;
  }
  rc_uri u;
  rc_err err = rc_uri_parse(uri, strlen(uri), &u);
  if (err) {
    hc_fail(reply, 400, "proxy: bad target URI: %s", rc_strerror(err));
    return;
  }
  char origin[96], diag[HC_DIAG_MAX];
  uint8_t refused = rc__proxy_target_check(ctx, &u, check, origin,
                                           sizeof origin, diag, sizeof diag);
  if (refused) {
    hc_fail(reply, rc_hc_status(refused, 1, 0), "%s", diag);
    return;
  }
  /* RFC 8768 §3 (paraphrased, as in proxy.c): a proxy inserts Hop-Limit
   * when the request has none; HTTP has none to carry over. */
  uint8_t hops = po->hop_limit;
  uint8_t vals[3][8];
  rc_opt opts[8];
  size_t n = 0;
  int conditional = 0;
  opts[n++] = (rc_opt){.num = RC_OPT_HOP_LIMIT, .len = 1, .val = &hops};
  int st = hc_options(req, opts, &n, vals, &conditional);
  if (st) {
    hc_fail(reply, st, "proxy: Content-Type has no CoAP Content-Format");
    return;
  }
  hc_pending *hp = calloc(1, sizeof *hp);
  if (!hp) {
    hc_fail(reply, 503, "proxy: out of memory");
    return;
  }
  hp->reply = reply;
  hp->conditional = conditional;
  hp->scheme = u.scheme;
  hp->port = u.port;
  snprintf(hp->host, sizeof hp->host, "%.*s", (int)u.host_len, u.host);
  px_fwd f = {.method = (uint8_t)method,
              .uri = uri,
              .origin = origin,
              .opts = opts,
              .nopts = n,
              .payload = req->body,
              .payload_len = req->body_len};
  px_dest d = {.req = NULL, .answer = hc_answer, .arg = hp};
  rc__px_send(ctx, po, &d, &f);
}

int rc_proxy_http(rc_context *ctx, const rc_http_head *req,
                  rc_http_response *resp) {
  char path[HC_URI_MAX + 1], uri[HC_URI_MAX + 1];
  size_t len;
  if (!ctx || !req || !resp || !rc__proxy_opts(ctx))
    return 0;
  int kind = rc_hc_target(req->target, req->target_len, RC_HC_PREFIX, path,
                          sizeof path, &len);
  if (kind == RC_HC_NONE)
    return 0;
  if (!resp->reply) {
    rc_http_response_text(resp, 503, "proxy: cannot answer later\n");
    return 1;
  }
  rc_http_reply *reply = resp->reply;
  resp->deferred = 1; /* every path below answers through reply */
  if (kind < 0) {
    hc_fail(reply, 400, "proxy: bad target after %s: %s", RC_HC_PREFIX,
            rc_strerror(kind));
    return 1;
  }
  if (kind == RC_HC_URI) {
    if (!rc__proxy_opts(ctx)->forward) {
      hc_fail(reply, 502, "proxy: forward proxying is off (rcoapd --proxy)");
      return 1;
    }
    hc_forward(ctx, req, reply, path, 1);
    return 1;
  }
  int r = rc__proxy_route_uri(ctx, path, len, uri, sizeof uri);
  if (r <= 0) {
    hc_fail(reply, r < 0 ? 414 : 404, "proxy: %s %.*s",
            r < 0 ? "target URI too long for" : "no route for",
            (int)(len > 200 ? 200 : len), path);
    return 1;
  }
  hc_forward(ctx, req, reply, uri, 0);
  return 1;
}
