/*
 * The proxy (app_proxy.h): a request for another origin becomes an
 * rc_request to it, and its outcome the answer to the deferred request.
 * What is translated: the target URI (Proxy-Uri, Proxy-Scheme + Uri-*, or
 * a route), the options (proxy and hop-by-hop ones dropped, Hop-Limit
 * decremented), and failures into 5.02 / 5.04 / 5.05 / 5.08 with a
 * diagnostic. Message layer, tokens and blocks stay each side's own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxy_int.h"

#define PROXY_URI_MAX 2048u
#define PROXY_DIAG_MAX 300u

typedef struct proxy_rule {
  struct proxy_rule *next;
  int scheme;      /* -1: any */
  char host[RC_URI_HOST_MAX + 2]; /* "" or "*": any; "...*": a prefix */
  uint32_t port;   /* 0: any */
} proxy_rule;

typedef struct proxy_route {
  struct proxy_route *next;
  char *prefix;    /* "/devices/lamp" */
  char *target;    /* "coap://[::1]:5690/lamp", no trailing '/' */
} proxy_route;

struct app_proxy {
  rc_proxy_opts opts;
  proxy_rule *rules;
  proxy_route *routes;
};

/* rc__px_answer (proxy_int.h, proxy_upstream.c) */
#define answer rc__px_answer

rc_err rc_proxy_enable(rc_context *ctx, const rc_proxy_opts *opts) {
  if (!ctx || !opts)
    return RC_ERR_INVAL;
  if (!ctx->proxy) {
    ctx->proxy = calloc(1, sizeof *ctx->proxy);
    if (!ctx->proxy)
      return RC_ERR_NOMEM;
  }
  ctx->proxy->opts = *opts;
  if (!ctx->proxy->opts.hop_limit)
    ctx->proxy->opts.hop_limit = RC_PROXY_HOP_LIMIT_DEFAULT;
  return RC_OK;
}

void rc__app_proxy_free(rc_context *ctx) {
  rc__app_proxy_observe_free(ctx);
  rc__px_upstream_free(ctx);
  struct app_proxy *px = ctx->proxy;
  if (!px)
    return;
  while (px->rules) {
    proxy_rule *r = px->rules;
    px->rules = r->next;
    free(r);
  }
  while (px->routes) {
    proxy_route *r = px->routes;
    px->routes = r->next;
    free(r->prefix);
    free(r->target);
    free(r);
  }
  free(px);
  ctx->proxy = NULL;
}

/* ---- access control ------------------------------------------------------- */

rc_err rc_proxy_allow(rc_context *ctx, const char *pattern) {
  if (!ctx || !ctx->proxy || !pattern)
    return RC_ERR_INVAL;
  const char *sep = strstr(pattern, "://");
  if (!sep)
    return RC_ERR_INVAL;
  proxy_rule r = {.scheme = -1};
  size_t slen = (size_t)(sep - pattern);
  if (!(slen == 1 && pattern[0] == '*')) {
    r.scheme = rc_scheme_from_name(pattern, slen);
    if (r.scheme < 0)
      return RC_ERR_INVAL;
  }
  const char *h = sep + 3, *end;
  if (*h == '[') {
    end = strchr(h, ']');
    if (!end)
      return RC_ERR_INVAL;
    h++; /* kept without brackets, as rc_uri's host */
  } else {
    end = strrchr(h, ':');
    if (!end)
      end = h + strlen(h);
  }
  size_t hlen = (size_t)(end - h);
  if (hlen == 0 || hlen > RC_URI_HOST_MAX)
    return RC_ERR_INVAL;
  memcpy(r.host, h, hlen);
  r.host[hlen] = 0;
  const char *p = *end == ']' ? end + 1 : end;
  if (*p == ':' && strcmp(p + 1, "*")) {
    char *e;
    unsigned long v = strtoul(p + 1, &e, 10);
    if (*e || v == 0 || v > 65535)
      return RC_ERR_INVAL;
    r.port = (uint32_t)v;
  } else if (*p && strcmp(p, ":*")) {
    return RC_ERR_INVAL;
  }
  proxy_rule *n = malloc(sizeof *n);
  if (!n)
    return RC_ERR_NOMEM;
  *n = r;
  n->next = ctx->proxy->rules;
  ctx->proxy->rules = n;
  return RC_OK;
}

static int host_matches(const char *pat, const char *host, size_t len) {
  size_t pl = strlen(pat);
  if (pl == 1 && pat[0] == '*')
    return 1;
  if (pl && pat[pl - 1] == '*')
    return len >= pl - 1 && !strncasecmp(pat, host, pl - 1);
  return len == pl && !strncasecmp(pat, host, len);
}

static int allowed(const struct app_proxy *px, const rc_uri *u) {
  for (const proxy_rule *r = px->rules; r; r = r->next)
    if ((r->scheme < 0 || r->scheme == (int)u->scheme) &&
        (!r->port || r->port == u->port) &&
        host_matches(r->host, u->host, u->host_len))
      return 1;
  return 0;
}

/* The target is one of our own listeners (a loopback or wildcard address,
 * or "localhost", on the port and transport of one of them). */
static int is_own_listener(const rc_context *ctx, const rc_uri *u) {
  static const char *const local[] = {"localhost", "::1", "0.0.0.0", "::"};
  int is_local = u->host_len > 4 && !strncmp(u->host, "127.", 4);
  for (size_t i = 0; !is_local && i < sizeof local / sizeof local[0]; i++)
    is_local = strlen(local[i]) == u->host_len &&
               !strncasecmp(local[i], u->host, u->host_len);
  if (!is_local)
    return 0;
  int kind = rc_scheme_conn_kind(u->scheme);
  for (size_t i = 0; i < ctx->nlisteners; i++)
    if (ctx->listener_kinds[i] == kind &&
        rc_listener_port(ctx->listeners[i]) == u->port)
      return 1;
  return 0;
}

uint8_t rc__proxy_target_check(const rc_context *ctx, const rc_uri *u,
                               int check, char *origin, size_t ocap,
                               char *diag, size_t dcap) {
  snprintf(origin, ocap, "%s://%.*s:%u", rc_scheme_name(u->scheme),
           (int)(u->host_raw_len > 64 ? 64 : u->host_raw_len), u->host_raw,
           u->port);
  if (rc_scheme_conn_kind(u->scheme) < 0) {
    /* RFC 7252 §5.10.2: "If the endpoint is unwilling or unable to act
     * as proxy for the request URI, it MUST return a 5.05 (Proxying Not
     * Supported) response." */
    snprintf(diag, dcap, "proxy: scheme %s not supported",
             rc_scheme_name(u->scheme));
    return RC_PROXYING_NOT_SUPPORTED;
  }
  if (check && !allowed(ctx->proxy, u)) {
    /* RFC 7252 §5.10.2, as above: unwilling, so 5.05. */
    snprintf(diag, dcap,
             "proxy: %s is not an allowed destination (--proxy-allow)", origin);
    return RC_PROXYING_NOT_SUPPORTED;
  }
  if (check && is_own_listener(ctx, u)) {
    snprintf(diag, dcap, "proxy: %s is this proxy itself", origin);
    return RC_PROXYING_NOT_SUPPORTED;
  }
  return 0;
}

/* ---- forwarding ----------------------------------------------------------- */

/* Options the proxy does not pass on: the target's own (set from the
 * URI), the proxy's, and the hop-by-hop ones each side's exchange makes
 * for itself (blocks, Q-Block, sizes, Request-Tag; Observe: proxy_observe.c
 * relays observations on one upstream registration of its own). */
int rc__app_proxy_hop_by_hop(uint16_t num) {
  switch (num) {
  case RC_OPT_URI_HOST:
  case RC_OPT_URI_PORT:
  case RC_OPT_URI_PATH:
  case RC_OPT_URI_QUERY:
  case RC_OPT_PROXY_URI:
  case RC_OPT_PROXY_SCHEME:
  case RC_OPT_HOP_LIMIT:
  case RC_OPT_OBSERVE:
  case RC_OPT_BLOCK1:
  case RC_OPT_BLOCK2:
  case RC_OPT_Q_BLOCK1:
  case RC_OPT_Q_BLOCK2:
  case RC_OPT_SIZE1:
  case RC_OPT_SIZE2:
  case RC_OPT_REQUEST_TAG:
    return 1;
  default:
    return 0;
  }
}

/* ---- Block2 relayed block by block -------------------------------------- */

/* Largest message a peer takes in one datagram (RFC 7252 §4.6): peers
 * this small get every body block by block. */
#define PROXY_RELAY_MSG_MAX 1152u

/*
 * Whether req's answer is relayed one block at a time instead of fetched
 * whole (so a body of any size passes with one block in memory): the
 * client asked for a block (Block2), or its connection takes no more than
 * one 1152-byte message (UDP, DTLS, a default CSM), so it would get the
 * body block-wise anyway. GET only, and not with Q-Block2. *b is the block to ask upstream for: the
 * client's, or block 0 of 1024 bytes (RFC 7959 §2.4 lets the server,
 * here the proxy, pick Block2 for a request that named none).
 */
static int relay_block(rc_xreq *req, rc_block *b) {
  const rc_msg *m = rc_xreq_msg(req);
  rc_opt q;
  if (m->code != RC_GET)
    return 0; /* bodies going up are reassembled (Block1), not relayed */
  if (rc_msg_find_opt(m, RC_OPT_Q_BLOCK2, &q))
    return 0; /* Q-Block2 (RFC 9177) is served in sets from a whole body */
  if (rc_xreq_block2(req, b))
    return 1;
  rc_conn *c = rc_xreq_conn(req);
  rc_session *s = c ? rc_conn_session(c) : NULL;
  if (!s || rc_session_peer_max_msg_size(s) > PROXY_RELAY_MSG_MAX)
    return 0;
  *b = (rc_block){.num = 0, .more = 0, .szx = 6};
  return 1;
}

/*
 * Sends req's method, options and body to uri; answers req when the
 * upstream does. check: a forward request (the allow list and the own
 * listeners apply).
 */
static void forward(rc_context *ctx, rc_xreq *req, const char *uri,
                    int check) {
  struct app_proxy *px = ctx->proxy;
  const rc_msg *m = rc_xreq_msg(req);
  rc_uri u;
  rc_err err = rc_uri_parse(uri, strlen(uri), &u);
  if (err) {
    answer(req, RC_BAD_REQUEST, "proxy: bad target URI: %s", rc_strerror(err));
    return;
  }
  char origin[96], diag[PROXY_DIAG_MAX];
  uint8_t refused = rc__proxy_target_check(ctx, &u, check, origin,
                                           sizeof origin, diag, sizeof diag);
  if (refused) {
    answer(req, refused, "%s", diag);
    return;
  }
  /* RFC 8768 §3 (paraphrased; its text is not in the shared specs): a
   * proxy inserts Hop-Limit (default 16) when it is missing, decrements
   * it before forwarding, and when that gives 0 it must not forward but
   * answer 5.08 (Hop Limit Reached), which may carry a diagnostic. */
  uint32_t hops = px->opts.hop_limit + 1u; /* absent: we insert ours */
  rc_opt o;
  if (rc_msg_find_opt(m, RC_OPT_HOP_LIMIT, &o) && rc_opt_uint(&o, &hops))
    hops = 0;
  if (hops <= 1) {
    answer(req, RC_HOP_LIMIT_REACHED, "proxy: hop limit reached at %s hop",
           origin);
    return;
  }
  uint8_t hop_val = (uint8_t)(hops - 1);
  rc_opt opts[RC_APP_MAX_OPTS];
  size_t n = 0;
  opts[n++] = (rc_opt){.num = RC_OPT_HOP_LIMIT, .len = 1, .val = &hop_val};
  rc_opt_iter it;
  rc_opt_iter_init(&it, m);
  while (rc_opt_next(&it, &o)) {
    if (rc__app_proxy_hop_by_hop(o.num))
      continue;
    if (rc_opt_is_unsafe(o.num) && !rc_opt_lookup(m->code, o.num)) {
      /* RFC 7252 §5.7.2: "Unsafe options in a request that are not
       * recognized by the proxy MUST lead to a 4.02 (Bad Option) response
       * being returned by the proxy." (5.02 is for such an option in the
       * origin's response, §5.7.1.) */
      answer(req, RC_BAD_OPTION, "proxy: cannot forward unsafe option %u",
             o.num);
      return;
    }
    if (n == RC_APP_MAX_OPTS - 16) { /* room for the URI's options */
      answer(req, RC_BAD_GATEWAY, "proxy: too many options");
      return;
    }
    opts[n++] = o;
  }
  if (rc__app_proxy_observe(ctx, req, uri, origin, opts, n,
                            px->opts.timeout_ms))
    return;
  px_upload *up = rc__px_upload_of(req);
  if (up) {
    px_fwd uf = {.method = m->code, .uri = uri, .origin = origin,
                 .opts = opts, .nopts = n};
    rc__px_upload_start(up, req, &uf);
    return;
  }
  /* A relayed block: the exchange sends our Block2 as given and leaves
   * the answer's alone (its "manual" mode); Size2 0 asks for the size
   * with block 0 (RFC 7959 §4). */
  rc_block blk;
  uint8_t b2[3], zero = 0;
  rc_opt relay[2];
  size_t nrelay = 0;
  if (relay_block(req, &blk)) {
    relay[nrelay++] = (rc_opt){.num = RC_OPT_BLOCK2,
                               .len = (uint16_t)rc_block_encode(&blk, b2),
                               .val = b2};
    if (blk.num == 0)
      relay[nrelay++] = (rc_opt){.num = RC_OPT_SIZE2, .len = 0, .val = &zero};
  }
  px_fwd f = {.method = m->code,
              .uri = uri,
              .origin = origin,
              .opts = opts,
              .nopts = n,
              .payload = m->payload,
              .payload_len = m->payload_len,
              .relay_opts = relay,
              .nrelay = nrelay};
  px_dest d = {.req = req};
  rc__px_send(ctx, &px->opts, &d, &f);
}

/* Proxy-Scheme + Uri-*: the URI they make (RFC 7252 §6.5). Returns 0, or
 * answers and returns -1. */
static int scheme_uri(rc_xreq *req, const rc_opt *ps, char *buf, size_t cap) {
  const rc_msg *m = rc_xreq_msg(req);
  int scheme = rc_scheme_from_name((const char *)ps->val, ps->len);
  if (scheme < 0) {
    answer(req, RC_PROXYING_NOT_SUPPORTED, "proxy: unknown Proxy-Scheme");
    return -1;
  }
  rc_opt host;
  if (!rc_msg_find_opt(m, RC_OPT_URI_HOST, &host)) {
    /* Without Uri-Host the target is this endpoint's own address. */
    answer(req, RC_PROXYING_NOT_SUPPORTED,
           "proxy: Proxy-Scheme without Uri-Host names this proxy itself");
    return -1;
  }
  size_t len;
  rc_err err = rc_uri_compose_msg((rc_scheme)scheme, "invalid", 7, 0, m, buf,
                                  cap, &len);
  if (err) {
    answer(req, RC_BAD_REQUEST, "proxy: no URI from Proxy-Scheme: %s",
           rc_strerror(err));
    return -1;
  }
  return 0;
}

int rc__app_proxy_is_forward(const rc_xreq *req) {
  return rc_xreq_has_opt(req, RC_OPT_PROXY_URI) ||
         rc_xreq_has_opt(req, RC_OPT_PROXY_SCHEME);
}

int rc__app_proxy_request(rc_context *ctx, rc_xreq *req) {
  if (!rc__app_proxy_is_forward(req))
    return 0;
  const rc_msg *m = rc_xreq_msg(req);
  if (!ctx->proxy || !ctx->proxy->opts.forward) {
    answer(req, RC_PROXYING_NOT_SUPPORTED,
           "proxy: this endpoint is not a forward proxy");
    return 1;
  }
  px_upload *up = rc__px_upload_of(req);
  if (up && rc__px_upload_next(up, req))
    return 1; /* a later block of a streamed upload */
  char uri[PROXY_URI_MAX + 1];
  rc_opt o;
  if (rc_msg_find_opt(m, RC_OPT_PROXY_URI, &o)) {
    /* RFC 7252 §5.10.2: Proxy-Uri takes precedence over Uri-Host,
     * Uri-Port, Uri-Path and Uri-Query (which must not be present). */
    if (o.len > PROXY_URI_MAX) {
      answer(req, RC_BAD_REQUEST, "proxy: Proxy-Uri too long");
      return 1;
    }
    memcpy(uri, o.val, o.len);
    uri[o.len] = 0;
  } else {
    rc_msg_find_opt(m, RC_OPT_PROXY_SCHEME, &o);
    if (scheme_uri(req, &o, uri, sizeof uri) != 0)
      return 1;
  }
  forward(ctx, req, uri, 1);
  return 1;
}

/* ---- reverse routes ------------------------------------------------------- */

static void on_route(rc_context *ctx, rc_resource *res, rc_xreq *req,
                     void *user) {
  proxy_route *r = user;
  (void)res;
  /* The request's path and query, encoded as a URI's, after the prefix. */
  char full[PROXY_URI_MAX + 1];
  size_t len;
  if (rc_uri_compose_msg(RC_SCHEME_COAP_TCP, "x", 1, 0, rc_xreq_msg(req),
                         full, sizeof full, &len) != RC_OK) {
    answer(req, RC_BAD_REQUEST, "proxy: path too long");
    return;
  }
  const char *rest = full + strlen("coap+tcp://x") + strlen(r->prefix);
  if (*rest == '/' && rest[1] == 0)
    rest++; /* "/lamp/" is "/lamp" */
  char uri[PROXY_URI_MAX + 1];
  int n = snprintf(uri, sizeof uri, "%s%s", r->target, rest);
  if (n < 0 || (size_t)n >= sizeof uri) {
    answer(req, RC_BAD_REQUEST, "proxy: target URI too long");
    return;
  }
  forward(ctx, req, uri, 0);
}

int rc__proxy_route_uri(const rc_context *ctx, const char *path, size_t len,
                        char *out, size_t cap) {
  const proxy_route *best = NULL;
  size_t best_len = 0;
  if (!ctx->proxy)
    return 0;
  for (const proxy_route *r = ctx->proxy->routes; r; r = r->next) {
    size_t pl = strlen(r->prefix);
    if (pl > len || memcmp(path, r->prefix, pl) ||
        (pl < len && path[pl] != '/' && path[pl] != '?'))
      continue;
    if (pl > best_len) {
      best = r;
      best_len = pl;
    }
  }
  if (!best)
    return 0;
  const char *rest = path + best_len;
  size_t rl = len - best_len;
  if (rl && rest[0] == '/' && (rl == 1 || rest[1] == '?')) {
    rest++; /* "/lamp/" is "/lamp" */
    rl--;
  }
  int n = snprintf(out, cap, "%s%.*s", best->target, (int)rl, rest);
  return n >= 0 && (size_t)n < cap ? 1 : -1;
}

const rc_proxy_opts *rc__proxy_opts(const rc_context *ctx) {
  return ctx->proxy ? &ctx->proxy->opts : NULL;
}

rc_err rc_proxy_route(rc_context *ctx, const char *prefix,
                      const char *target) {
  if (!ctx || !ctx->proxy || !prefix || !target || prefix[0] != '/')
    return RC_ERR_INVAL;
  rc_uri u;
  size_t tl = strlen(target);
  while (tl && target[tl - 1] == '/')
    tl--;
  if (tl > PROXY_URI_MAX / 2 || rc_uri_parse(target, tl, &u) != RC_OK ||
      rc_scheme_conn_kind(u.scheme) < 0 || u.has_query)
    return RC_ERR_INVAL;
  size_t pl = strlen(prefix);
  while (pl > 1 && prefix[pl - 1] == '/')
    pl--;
  if (pl == 1 || strcmp(prefix, "/.well-known") == 0)
    return RC_ERR_INVAL; /* routing "/" would hide every resource */
  proxy_route *r = calloc(1, sizeof *r);
  if (!r || !(r->prefix = strndup(prefix, pl)) ||
      !(r->target = strndup(target, tl))) {
    if (r)
      free(r->prefix);
    free(r);
    return RC_ERR_NOMEM;
  }
  rc_resource *res;
  rc_err err = rc_resource_add(ctx, r->prefix, RC_RES_PREFIX, r, &res);
  if (err) {
    free(r->prefix);
    free(r->target);
    free(r);
    return err;
  }
  for (uint8_t mth = RC_GET; mth <= RC_IPATCH; mth++)
    rc_resource_on(res, mth, on_route);
  /* RFC 7252 §5.7.2: "A CoAP-to-CoAP proxy MUST forward to the origin
   * server all Safe-to-Forward options that it does not recognize." */
  res->flags |= APP_RES_FORWARDS;
  r->next = ctx->proxy->routes;
  ctx->proxy->routes = r;
  return RC_OK;
}
