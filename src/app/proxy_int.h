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

/* Sends f upstream (or answers from the cache, or fails fast while the
 * origin backs off) and answers req when done; req is deferred here. */
void rc__px_send(rc_context *ctx, const rc_proxy_opts *po, rc_xreq *req,
                 const px_fwd *f);
void rc__px_upstream_free(rc_context *ctx);
/* While origin backs off after a failure: answers req 5.03 with Max-Age
 * (the seconds left) and returns 1; else 0. */
int rc__px_backing_off(rc_context *ctx, rc_xreq *req, const char *origin);

/* Copies n options into dst, their values to v onwards (room for all of
 * them); returns the byte after the last value. */
uint8_t *rc__px_opts_copy(rc_opt *dst, uint8_t *v, const rc_opt *src,
                          size_t n);

#endif
