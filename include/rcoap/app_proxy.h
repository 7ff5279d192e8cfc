/*
 * A context as a CoAP proxy (RFC 7252 §5.7, RFC 8323, RFC 8768).
 *
 * Forward proxy: a request carrying Proxy-Uri, or Proxy-Scheme with
 * Uri-Host / Uri-Port / Uri-Path / Uri-Query, arriving on any listener is
 * sent with rc_request to the target (any scheme rc_request speaks) on the
 * origin's shared connection, and the answer is relayed back. Each side's
 * message layer, tokens and block-wise transfer are its own: the upstream
 * body is fetched whole (Block2 followed) and served downstream whole or
 * block-wise as that peer allows; an upload reassembled from Block1 goes
 * upstream in Block1 when it does not fit.
 *
 * Only destinations matching an allow rule are proxied; the context's own
 * listeners never (unless a route names them). A context without a proxy
 * answers Proxy-Uri / Proxy-Scheme requests 5.05.
 *
 * Reverse proxy: a route maps a path prefix to a target URI; requests
 * under the prefix go to the target with the rest of the path appended.
 * Routes are resources (RC_RES_PREFIX), so /.well-known/core lists them.
 *
 * Observe (RFC 7641 §5): every downstream observer of one target (same
 * URI and options, any transport) shares one upstream observation; a new
 * observer gets the last notification at once; the upstream one is
 * cancelled when the last observer leaves and registered again, with
 * back-off, after a loss or when the origin stays silent past Max-Age.
 *
 * Cache (RFC 7252 §5.6, opts.cache_bytes): GET / FETCH answers are kept
 * for their Max-Age (LRU within the bound) and served with the Max-Age
 * left; stale ones are validated with their ETag (a 2.03 refreshes them).
 *
 * Upstream failures: an idempotent request (GET, FETCH, PUT, DELETE)
 * whose connection drops goes once more on a new connection; an origin
 * that cannot be reached backs off (opts.backoff_*), and until then its
 * requests get 5.03 with Max-Age at once.
 *
 * Both insert Hop-Limit (RFC 8768) when absent, decrement it, and answer
 * 5.08 when it reaches 0. Failures carry a text/plain diagnostic: 5.02
 * (upstream refused, failed or sent an unsafe option we do not know), 5.03
 * (origin backing off), 5.04 (upstream silent), 5.05 (scheme not
 * supported, destination not allowed).
 */
#ifndef RCOAP_APP_PROXY_H
#define RCOAP_APP_PROXY_H

#include "rcoap/app.h"
#include "rcoap/transport_http.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RC_PROXY_HOP_LIMIT_DEFAULT 16u /* RFC 8768 §3 */

typedef struct rc_proxy_opts {
  int forward;          /* serve Proxy-Uri / Proxy-Scheme requests */
  uint32_t timeout_ms;  /* per upstream request; 0: the exchange default */
  uint8_t hop_limit;    /* inserted when absent; 0: the default */
  /* Response cache shared by every downstream transport (RFC 7252
   * §5.6): bytes it may hold; 0: no cache. */
  size_t cache_bytes;
  /* An origin that cannot be reached is not dialled again for this long
   * (doubling up to backoff_max_ms); meanwhile its requests get 5.03 at
   * once. 0: 1000 and 30000. */
  uint32_t backoff_min_ms;
  uint32_t backoff_max_ms;
} rc_proxy_opts;

/* Makes ctx a proxy (again: replaces the options). Returns 0,
 * RC_ERR_INVAL or RC_ERR_NOMEM. */
rc_err rc_proxy_enable(rc_context *ctx, const rc_proxy_opts *opts);

/*
 * Allows forward proxying to destinations matching pattern:
 * "SCHEME://HOST:PORT" where SCHEME may be "*", HOST may be "*" or end in
 * "*" (a prefix: "192.168.*"; IPv6 in brackets), PORT may be "*" or left
 * out (any). Returns 0, RC_ERR_INVAL (bad pattern; rc_proxy_enable first)
 * or RC_ERR_NOMEM.
 */
rc_err rc_proxy_allow(rc_context *ctx, const char *pattern);

/*
 * Reverse route: requests for prefix ("/devices/lamp") and every path
 * below it go to target ("coap://[::1]:5690/lamp") with the rest of the
 * path and the query appended. Routes may name any destination, our own
 * listeners included. Returns 0, RC_ERR_INVAL (rc_proxy_enable first, bad
 * prefix or target), RC_ERR_EXISTS, RC_ERR_NOMEM.
 */
rc_err rc_proxy_route(rc_context *ctx, const char *prefix, const char *target);

/*
 * HTTP-to-CoAP (RFC 8075), a handler for plain HTTP requests on the WS
 * ports (rc_ws_config.on_http, beside the static files). A request whose
 * target is under "/hc/" becomes a CoAP request: "/hc/coap://h:p/x" (or
 * that URI percent-encoded whole) goes to the URI when forward proxying
 * is on and an allow rule matches; "/hc/devices/lamp/x" follows the
 * route for "/devices/lamp". Method, body, Content-Type (as
 * Content-Format; unknown: 415), Accept and If-None-Match / If-Match
 * (our entity-tags, as ETag / If-Match) are mapped, Hop-Limit inserted,
 * and the CoAP answer comes back as status (RFC 8075 §7), Content-Type,
 * ETag, Cache-Control: max-age (from Max-Age) and the payload, on a
 * connection kept alive. Upstream failures are 502 / 504 with a text
 * diagnostic, like the CoAP side's 5.02 / 5.04.
 *
 * Returns 1 when req was taken (resp filled, or deferred through
 * resp->reply and answered later), 0 when it is not an HTTP-to-CoAP
 * request (ctx is no proxy, or the target is not under "/hc/"): the
 * caller answers it (static files).
 */
int rc_proxy_http(rc_context *ctx, const rc_http_head *req,
                  rc_http_response *resp);

#ifdef __cplusplus
}
#endif
#endif
