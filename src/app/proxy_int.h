/*
 * The proxy's files among themselves: proxy.c (targets, checks, options),
 * proxy_upstream.c (sending, retry, back-off, the cache's use),
 * proxy_cache.c (the cache), proxy_observe.c (observe relays).
 */
#ifndef RCOAP_APP_PROXY_INT_H
#define RCOAP_APP_PROXY_INT_H

#include "app_int.h"
#include "rcoap/app_proxy.h"

/* Answers req with code and a text/plain diagnostic (RFC 7252 §5.5.2). */
void rc__px_answer(rc_xreq *req, uint8_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One request to forward: the target and what goes upstream. Everything
 * is read during rc__px_send only. */
typedef struct px_fwd {
  uint8_t method;
  const char *uri;    /* the target */
  const char *origin; /* scheme://host:port, for diagnostics */
  const rc_opt *opts; /* without the URI's options */
  size_t nopts;
  const uint8_t *payload;
  size_t payload_len;
  /* One block relayed (proxy.c relay_block): these options (Block2, and
   * Size2 for block 0) go upstream after opts, the answer's Block2 /
   * Size2 come back as-is, and the answer is not stored (a fresh whole
   * entry still answers, and a stale one is validated). */
  const rc_opt *relay_opts;
  size_t nrelay;
} px_fwd;

/* Where a forwarded request's answer goes: a CoAP request (deferred by
 * rc__px_send, answered with rc_exchange_respond), or, req NULL, answer
 * (proxy_http.c: an HTTP reply), called exactly once. */
typedef struct px_dest {
  rc_xreq *req;
  void (*answer)(void *arg, const rc_outmsg *m);
  void *arg;
} px_dest;

/* Sends f upstream (or answers from the cache, or fails fast while the
 * origin backs off) and answers d when done. */
void rc__px_send(rc_context *ctx, const rc_proxy_opts *po, const px_dest *d,
                 const px_fwd *f);
void rc__px_upstream_free(rc_context *ctx);
/* Answers req with m; 5.02 when it does not fit the downstream peer. */
void rc__px_respond(rc_xreq *req, const rc_outmsg *m);
/* The upstream answer's options that go downstream (not the hop-by-hop
 * ones; relay: a relayed block's Block2 / Size2 too) into out. */
size_t rc__px_resp_opts(const rc_msg *resp, int relay, rc_opt *out,
                        size_t cap);
/* What the cache holds for uri is stale now (a 2.xx to an unsafe request
 * that did not go through rc__px_send: proxy_upload.c). */
void rc__px_invalidate(rc_context *ctx, const char *uri);
/* While origin backs off after a failure: answers req 5.03 with Max-Age
 * (the seconds left) and returns 1; else 0. */
int rc__px_backing_off(rc_context *ctx, rc_xreq *req, const char *origin);

/* Copies n options into dst, their values to v onwards (room for all of
 * them); returns the byte after the last value. */
uint8_t *rc__px_opts_copy(rc_opt *dst, uint8_t *v, const rc_opt *src,
                          size_t n);

/* proxy_upload.c: a Block1 upload streamed block by block. */
typedef struct px_upload px_upload;
/* The streamed upload req's block belongs to, or NULL. */
px_upload *rc__px_upload_of(rc_xreq *req);
/* A block of up: 1 when taken (forwarded or answered); 0 for block 0,
 * which goes through the proxy's checks to rc__px_upload_start. */
int rc__px_upload_next(px_upload *up, rc_xreq *req);
/* Block 0, checked: f is the target and its options (read now). */
void rc__px_upload_start(px_upload *up, rc_xreq *req, const px_fwd *f);

#endif
