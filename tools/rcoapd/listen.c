/*
 * rcoapd's listeners. All are bound first and only then announced, so a
 * failure never follows "listening on" lines for the others. Without -l
 * the default set is used and a busy or missing one (another server on
 * 5683, no IPv6) is skipped with a warning; an address given with -l must
 * work. Binding beyond the loopback with what the demo allows (uploads,
 * any browser Origin, a certificate for localhost) is said at start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "listen.h"
#include "rcoap/app_proxy.h"
#include "webrtc.h"
#include "rcoap/version.h"
#include "tls_setup.h"

/* The web folder of the source tree the daemon was built from. */
#ifndef RCOAPD_DEFAULT_WEB_ROOT
#define RCOAPD_DEFAULT_WEB_ROOT "web"
#endif

static const char *const default_listen[] = {
    "coap://127.0.0.1:5683",      "coap://[::1]:5683",
    "coaps://127.0.0.1:5684",     "coaps://[::1]:5684",
    "coap+tcp://127.0.0.1:5683",  "coap+tcp://[::1]:5683",
    "coaps+tcp://127.0.0.1:5684", "coaps+tcp://[::1]:5684",
    "coap+ws://127.0.0.1:8080",   "coap+ws://[::1]:8080",
    "coaps+ws://127.0.0.1:8443",  "coaps+ws://[::1]:8443"};
#define N_DEFAULT (sizeof default_listen / sizeof default_listen[0])

typedef struct bound {
  const char *scheme;
  char addr[300];   /* as shown: host:port with the real port */
  char web[320];    /* the demo page's URL, or "" */
  int tls, ws, open_host;
} bound;

/* "coap+tcp://127.0.0.1:5683" -> kind, "127.0.0.1:5683", the scheme's
 * name and whether the host is a wildcard or not loopback. */
static int parse_listen(const char *flag, const char *spec, rc_conn_kind *kind,
                        char *addr, size_t cap, const char **scheme_name,
                        int *open_host) {
  rc_uri u;
  /* Port 0 (pick a free port) is no port a URI may name, so parse the
   * spec without it and put it back below. */
  size_t len = strlen(spec);
  int port0 = len > 2 && !strcmp(spec + len - 2, ":0");
  /* Nor does a coaps+wr URI name one (its peers are found by signaling),
   * but its listener needs a fixed port to be a STUN server for peers
   * behind a NAT (--webrtc-stun): the same treatment. */
  long wr_port = -1;
  const char *colon = strrchr(spec, ':'), *rb = strrchr(spec, ']');
  if (!strncmp(spec, "coaps+wr://", 11) && colon > spec + 10 &&
      (!rb || colon > rb) && colon[1]) {
    char *end;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (!*end && p <= 65535)
      wr_port = (long)p, len = (size_t)(colon - spec), port0 = 0;
  }
  rc_err err = rc_uri_parse(spec, port0 ? len - 2 : len, &u);
  if (!err && port0)
    u.port = 0;
  if (!err && wr_port >= 0)
    u.port = (uint16_t)wr_port;
  if (err) {
    fprintf(stderr, "rcoapd: %s %s: %s\n", flag, spec, rc_strerror(err));
    return -1;
  }
  int k = rc_scheme_conn_kind(u.scheme);
  if (k < 0) {
    fprintf(stderr, "rcoapd: %s %s: scheme not supported yet\n", flag, spec);
    return -1;
  }
  if (u.path_len > 1 || u.has_query) {
    fprintf(stderr, "rcoapd: %s %s: give only scheme, address, port\n", flag,
            spec);
    return -1;
  }
  *kind = (rc_conn_kind)k;
  *scheme_name = rc_scheme_name(u.scheme);
  snprintf(addr, cap, u.host_is_ipv6 ? "[%.*s]:%u" : "%.*s:%u",
           (int)u.host_len, u.host, u.port);
  char host[256];
  snprintf(host, sizeof host, "%.*s", (int)u.host_len, u.host);
  *open_host = strncmp(host, "127.", 4) != 0 && strcmp(host, "::1") != 0 &&
               strcmp(host, "localhost") != 0;
  return 0;
}

/* The address a person can type: a wildcard becomes this host's name. */
static void shown_addr(const char *addr, uint16_t port, char *out,
                       size_t cap) {
  char host[300];
  snprintf(host, sizeof host, "%s", addr);
  char *colon = strrchr(host, ':');
  if (colon)
    *colon = 0;
  if (!strcmp(host, "0.0.0.0") || !strcmp(host, "[::]")) {
    char name[200];
    if (gethostname(name, sizeof name) != 0)
      snprintf(name, sizeof name, "localhost");
    name[sizeof name - 1] = 0;
    snprintf(host, sizeof host, "%s", name);
  }
  snprintf(out, cap, "%.280s:%u", host, port);
}

/* Plain HTTP on the WS ports: HTTP-to-CoAP under /hc/ (RFC 8075, when
 * rcoapd proxies), else the web demo's files. */
static void on_http(void *user, const rc_http_head *req,
                    rc_http_response *resp) {
  listeners *ls = user;
  if (rc_proxy_http(ls->ctx, req, resp))
    return;
  if (ls->web)
    rc_static_respond(ls->web, req, resp);
  else
    rc_http_response_text(resp, 404, "not found\n");
}

/* Binds one listener into *b. Returns 0, or the error (said, unless
 * quiet_busy and the address is in use or not available here). */
static rc_err bind_one(rc_context *ctx, const rcoapd_opts *o, listeners *ls,
                       const char *flag, const char *spec, bound *b) {
  rc_conn_kind kind;
  char addr[280], err[320];
  uint16_t port;
  if (parse_listen(flag, spec, &kind, addr, sizeof addr, &b->scheme,
                   &b->open_host) != 0)
    return RC_ERR_INVAL;
  b->tls = kind == RC_CONN_TLS || kind == RC_CONN_TLS_WS ||
           kind == RC_CONN_DTLS;
  b->ws = kind == RC_CONN_WS || kind == RC_CONN_TLS_WS;
  int dgram = kind == RC_CONN_DTLS;
  rc_tls_ctx **tls = dgram ? &ls->dtls : &ls->tls;
  if (b->tls && !*tls && rcoapd_tls_setup(o, dgram, tls) != 0)
    return RC_ERR_TLS;
  if (b->ws && !ls->web) {
    const char *root = o->web_root ? o->web_root : RCOAPD_DEFAULT_WEB_ROOT;
    if (rc_static_new(&ls->web, root, NULL) != RC_OK)
      fprintf(stderr, "rcoapd: web root %s not usable: plain HTTP gets 404\n",
              root);
    ls->ctx = ctx;
    ls->ws.on_http = on_http;
    ls->ws.http_user = ls;
    ls->ws.origins = o->norigins ? o->origins : NULL;
    ls->ws.n_origins = o->norigins;
  }
  rc_err e = rc_context_listen(ctx, kind, addr, b->tls ? *tls : NULL,
                               b->ws ? &ls->ws : NULL, &port, err, sizeof err);
  if (e != RC_OK) {
    if (o->nlisten)
      fprintf(stderr, "rcoapd: %s %s: %s\n", flag, spec, err);
    else
      fprintf(stderr,
              "rcoapd: warning: default listener %s skipped: %s; "
              "-l %.*s:0 picks a free port\n",
              spec, err, (int)(strrchr(spec, ':') - spec), spec);
    return e;
  }
  if (kind == RC_CONN_WEBRTC && !ls->webrtc) {
    if (webrtc_resource_add(ctx) != RC_OK)
      return RC_ERR_NOMEM;
    ls->webrtc = 1; /* offers POSTed to /webrtc on any transport */
  }
  char shown[300];
  shown_addr(addr, port, shown, sizeof shown);
  snprintf(b->addr, sizeof b->addr, "%s", shown);
  b->web[0] = 0;
  if (b->ws)
    snprintf(b->web, sizeof b->web, "%s://%s/", b->tls ? "https" : "http",
             shown);
  return RC_OK;
}

/* Says what a listener beyond the loopback exposes. */
static void warn_open(const rcoapd_opts *o, const bound *b, size_t n) {
  int open = 0, ws = 0, tls = 0;
  for (size_t i = 0; i < n; i++) {
    open |= b[i].open_host;
    ws |= b[i].open_host && b[i].ws;
    tls |= b[i].open_host && b[i].tls;
  }
  if (!open)
    return;
  fprintf(stderr, "rcoapd: warning: listening beyond the loopback: anyone "
                  "who can reach this host can use the demo resources, "
                  "which accept uploads (/store, /echo)\n");
  if (ws && !o->norigins)
    fprintf(stderr, "rcoapd: warning: any web page may open a WebSocket "
                    "here (no --origin given)\n");
  if (tls && !o->ncerts && !o->psk_key)
    fprintf(stderr, "rcoapd: warning: the TLS certificate is the self-signed "
                    "demo one for localhost (--cert FILE --key FILE)\n");
}

int listeners_open(rc_context *ctx, const rcoapd_opts *o, listeners *ls) {
  const char *const *specs = o->nlisten ? o->listen : default_listen;
  size_t n = o->nlisten ? o->nlisten : N_DEFAULT, ok = 0;
  bound b[OPT_MAX_LISTEN > N_DEFAULT ? OPT_MAX_LISTEN : N_DEFAULT];
  memset(b, 0, sizeof b);
  for (size_t i = 0; i < n; i++) {
    rc_err e = bind_one(ctx, o, ls, "-l", specs[i], &b[ok]);
    if (e == RC_OK)
      ok++;
    else if (o->nlisten || (e != RC_ERR_ADDR_IN_USE && e != RC_ERR_IO))
      return -1;
  }
  if (!ok) {
    fprintf(stderr, "rcoapd: no listener could be opened\n");
    return -1;
  }
  warn_open(o, b, ok);
  for (size_t i = 0; i < ok; i++) {
    printf("rcoapd %s listening on %s://%s", rc_version(), b[i].scheme,
           b[i].addr);
    if (b[i].ws)
      printf("  (web demo: %s)", b[i].web);
    printf("\n");
  }
  fflush(stdout);
  return 0;
}

void listeners_free(listeners *ls) {
  if (ls->tls)
    rc_tls_ctx_free(ls->tls);
  if (ls->dtls)
    rc_tls_ctx_free(ls->dtls);
  rc_static_free(ls->web);
}
