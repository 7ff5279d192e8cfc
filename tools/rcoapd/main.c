/*
 * rcoapd: the rcoap server daemon. It serves the demo resources on every
 * listener given with --listen (by default every transport on the loopback
 * addresses), says where it listens, serves the web demo on its WebSocket
 * ports, and on SIGINT/SIGTERM sends every client a Release (RFC 8323
 * §5.5) and exits once they are gone.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "demo.h"
#include "serve_dir.h"
#include "options.h"
#include "tls_setup.h"
#include "rcoap/app.h"
#include "rcoap/app_proxy.h"
#include "rcoap/codec_print.h"
#include "rcoap/transport_static.h"
#include "rcoap/version.h"

#define SHUTDOWN_TIMEOUT_MS 3000u

typedef struct daemon {
  uv_loop_t loop;
  rc_context *ctx;
  demo *demo;
  uv_signal_t sigint, sigterm;
  int stopping;
  rc_tls_ctx *tls;       /* server TLS, made when a TLS listener exists */
  rc_static *web;        /* static files on the WS ports */
  rc_ws_config ws;
} daemon_t;

/* The web folder of the source tree the daemon was built from. */
#ifndef RCOAPD_DEFAULT_WEB_ROOT
#define RCOAPD_DEFAULT_WEB_ROOT "web"
#endif

static const char *const default_listen[] = {
    "coap://127.0.0.1:5683",      "coap://[::1]:5683",
    "coap+tcp://127.0.0.1:5683",  "coap+tcp://[::1]:5683",
    "coaps+tcp://127.0.0.1:5684", "coaps+tcp://[::1]:5684",
    "coap+ws://127.0.0.1:8080",   "coap+ws://[::1]:8080",
    "coaps+ws://127.0.0.1:8443",  "coaps+ws://[::1]:8443"};

static void on_log(void *user, int level, const char *text) {
  (void)user;
  char ts[32];
  time_t t = time(NULL);
  struct tm tm;
  localtime_r(&t, &tm);
  strftime(ts, sizeof ts, "%H:%M:%S", &tm);
  fprintf(stderr, "%s rcoapd: %s%s\n", ts,
          level <= RC_SESSION_LOG_ERR ? "error: " : "", text);
}

static void on_trace(void *user, char dir, const rc_msg *m) {
  (void)user;
  char line[1024];
  rc_msg_format(m, line, sizeof line);
  fprintf(stderr, "%c %s\n", dir, line);
}

static void on_stopped(void *arg) {
  daemon_t *d = arg;
  uv_close((uv_handle_t *)&d->sigint, NULL);
  uv_close((uv_handle_t *)&d->sigterm, NULL);
  demo_stop(d->demo);
  d->demo = NULL;
  fprintf(stderr, "rcoapd: stopped\n");
}

static void on_signal(uv_signal_t *s, int signum) {
  daemon_t *d = s->data;
  if (d->stopping) {
    fprintf(stderr, "rcoapd: second signal, exiting now\n");
    exit(1);
  }
  d->stopping = 1;
  fprintf(stderr,
          "rcoapd: %s: shutting down, sending Release to %zu connection(s)\n",
          signum == SIGINT ? "SIGINT" : "SIGTERM",
          rc_context_connections(d->ctx));
  rc_context_shutdown(d->ctx, "server shutting down", SHUTDOWN_TIMEOUT_MS,
                      on_stopped, d);
}

/* "coap+tcp://127.0.0.1:5683" -> kind and "127.0.0.1:5683". */
static int parse_listen(const char *spec, rc_conn_kind *kind, char *addr,
                        size_t cap, const char **scheme_name) {
  rc_uri u;
  /* Port 0 (pick a free port) is no port a URI may name, so parse the
   * spec without it and put it back below. */
  size_t len = strlen(spec);
  int port0 = len > 2 && !strcmp(spec + len - 2, ":0");
  rc_err err = rc_uri_parse(spec, port0 ? len - 2 : len, &u);
  if (!err && port0)
    u.port = 0;
  if (err) {
    fprintf(stderr, "rcoapd: --listen %s: %s\n", spec, rc_strerror(err));
    return -1;
  }
  int k = rc_scheme_conn_kind(u.scheme);
  if (k < 0) {
    fprintf(stderr, "rcoapd: --listen %s: scheme not supported yet\n", spec);
    return -1;
  }
  if (u.path_len > 1 || u.has_query) {
    fprintf(stderr, "rcoapd: --listen %s: give only scheme, address, port\n",
            spec);
    return -1;
  }
  *kind = (rc_conn_kind)k;
  *scheme_name = rc_scheme_name(u.scheme);
  snprintf(addr, cap, u.host_is_ipv6 ? "[%.*s]:%u" : "%.*s:%u",
           (int)u.host_len, u.host, u.port);
  return 0;
}

/* --proxy, --proxy-allow, --route. Returns 0 or -1 after saying why. */
static int proxy_setup(rc_context *ctx, const rcoapd_opts *o) {
  if (!o->proxy && !o->nroutes)
    return 0;
  rc_proxy_opts po = {.forward = o->proxy,
                      .timeout_ms = o->proxy_timeout_ms};
  if (rc_proxy_enable(ctx, &po) != RC_OK)
    return -1;
  for (size_t i = 0; i < o->nproxy_allow; i++)
    if (rc_proxy_allow(ctx, o->proxy_allow[i]) != RC_OK) {
      fprintf(stderr, "rcoapd: --proxy-allow %s: want SCHEME://HOST:PORT\n",
              o->proxy_allow[i]);
      return -1;
    }
  for (size_t i = 0; i < o->nroutes; i++) {
    char prefix[1024];
    const char *eq = strchr(o->routes[i], '=');
    snprintf(prefix, sizeof prefix, "%.*s", (int)(eq - o->routes[i]),
             o->routes[i]);
    rc_err err = rc_proxy_route(ctx, prefix, eq + 1);
    if (err) {
      fprintf(stderr, "rcoapd: --route %s: %s\n", o->routes[i],
              err == RC_ERR_EXISTS ? "that path is taken"
                                   : "want /PREFIX=URI (coap, coap+tcp, ...)");
      return -1;
    }
  }
  return 0;
}

/* Opens one listener; returns 0 or -1 after saying why. */
static int open_listener(daemon_t *d, const rcoapd_opts *o, const char *spec) {
  rc_conn_kind kind;
  char addr[128], err[256];
  const char *scheme;
  uint16_t port;
  if (parse_listen(spec, &kind, addr, sizeof addr, &scheme) != 0)
    return -1;
  int tls = kind == RC_CONN_TLS || kind == RC_CONN_TLS_WS;
  int ws = kind == RC_CONN_WS || kind == RC_CONN_TLS_WS;
  if (tls && !d->tls && rcoapd_tls_setup(o, &d->tls) != 0)
    return -1;
  if (ws && !d->web) {
    const char *root = o->web_root ? o->web_root : RCOAPD_DEFAULT_WEB_ROOT;
    if (rc_static_new(root, NULL, &d->web) != RC_OK)
      fprintf(stderr, "rcoapd: web root %s not usable: plain HTTP gets 404\n",
              root);
    d->ws.on_http = d->web ? rc_static_respond : NULL;
    d->ws.http_user = d->web;
    d->ws.origins = o->norigins ? o->origins : NULL;
    d->ws.n_origins = o->norigins;
  }
  if (rc_context_listen(d->ctx, kind, addr, tls ? d->tls : NULL,
                        ws ? &d->ws : NULL, &port, err, sizeof err) != RC_OK) {
    fprintf(stderr, "rcoapd: %s\n", err);
    return -1;
  }
  /* Report the real port (port 0 picks one). */
  char shown[128];
  snprintf(shown, sizeof shown, "%s", addr);
  char *colon = strrchr(shown, ':');
  if (colon)
    snprintf(colon, sizeof shown - (size_t)(colon - shown), ":%u", port);
  printf("rcoapd %s listening on %s://%s", rc_version(), scheme, shown);
  if (ws)
    printf("  (web demo: %s://%s/)", tls ? "https" : "http", shown);
  printf("\n");
  return 0;
}

int main(int argc, char **argv) {
  rcoapd_opts o;
  int pr = rcoapd_parse(argc, argv, &o);
  if (pr != 0)
    return pr > 0 ? 0 : 1;
  const char *const *specs = o.nlisten ? o.listen : default_listen;
  size_t nspecs = o.nlisten ? o.nlisten
                            : sizeof default_listen / sizeof default_listen[0];
  signal(SIGPIPE, SIG_IGN);

  daemon_t d;
  memset(&d, 0, sizeof d);
  uv_loop_init(&d.loop);
  rc_context_opts co = {0};
  co.loop = &d.loop;
  co.on_log = on_log;
  co.log_level = o.quiet     ? RC_SESSION_LOG_WARN
                 : o.verbose ? RC_SESSION_LOG_DEBUG
                             : RC_SESSION_LOG_INFO;
  co.idle_timeout_ms = o.idle_timeout_ms;
  co.handshake_timeout_ms = o.handshake_timeout_ms;
  co.body_memory_max = o.body_memory;
  co.unanswered_max = o.max_pending;
  if (o.verbose)
    co.on_trace = on_trace;
  if (rc_context_new(&d.ctx, &co) != RC_OK || demo_start(d.ctx, &d.demo)) {
    fprintf(stderr, "rcoapd: cannot start: out of memory\n");
    return 1;
  }
  if ((o.release_to || o.hold_off_s >= 0) &&
      rc_context_set_release(d.ctx, o.release_to,
                             o.hold_off_s >= 0 ? (uint32_t)o.hold_off_s
                                               : RC_SESSION_NO_HOLD_OFF) !=
          RC_OK) {
    fprintf(stderr, "rcoapd: --release-to must be 1-255 bytes\n");
    return 1;
  }
  if (o.serve_dir && serve_dir_start(d.ctx, o.serve_dir) != RC_OK) {
    fprintf(stderr, "rcoapd: cannot serve %s\n", o.serve_dir);
    return 1;
  }
  if (proxy_setup(d.ctx, &o) != 0)
    return 1;
  for (size_t i = 0; i < nspecs; i++)
    if (open_listener(&d, &o, specs[i]) != 0)
      return 1;
  fflush(stdout);
  uv_signal_init(&d.loop, &d.sigint);
  uv_signal_init(&d.loop, &d.sigterm);
  d.sigint.data = d.sigterm.data = &d;
  uv_signal_start(&d.sigint, on_signal, SIGINT);
  uv_signal_start(&d.sigterm, on_signal, SIGTERM);

  uv_run(&d.loop, UV_RUN_DEFAULT);
  rc_context_free(d.ctx);
  uv_run(&d.loop, UV_RUN_DEFAULT);
  uv_loop_close(&d.loop);
  if (d.tls)
    rc_tls_ctx_free(d.tls);
  rc_static_free(d.web);
  return 0;
}
