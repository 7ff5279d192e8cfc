/*
 * rcoapd: the rcoap server daemon. It serves the demo resources on every
 * listener given with --listen (by default coap+tcp on the loopback
 * addresses), says where it listens, and on SIGINT/SIGTERM sends every
 * client a Release (RFC 8323 §5.5) and exits once they are gone.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "demo.h"
#include "rcoap/app.h"
#include "rcoap/codec_print.h"
#include "rcoap/version.h"

#define MAX_LISTEN 16
#define SHUTDOWN_TIMEOUT_MS 3000u

typedef struct daemon {
  uv_loop_t loop;
  rc_context *ctx;
  demo *demo;
  uv_signal_t sigint, sigterm;
  int stopping;
  int verbose;
} daemon_t;

static void usage(FILE *f) {
  fprintf(f,
          "usage: rcoapd [options]\n"
          "\n"
          "Serves /hello, /time, /echo, /store/..., /sensors/temp, /large and\n"
          "/.well-known/core.\n"
          "\n"
          "options:\n"
          "  -l, --listen SCHEME://ADDR[:PORT]  listen there (repeatable), e.g.\n"
          "                   coap+tcp://127.0.0.1:5683, coap+tcp://[::]:5683;\n"
          "                   port 0 picks a free port. Default: coap+tcp on\n"
          "                   127.0.0.1 and ::1, port 5683.\n"
          "  -v, --verbose    log every message both ways\n"
          "  -q, --quiet      log only warnings and errors\n"
          "  -V, --version    print the version\n"
          "  -h, --help       this text\n");
}

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
  rc_err err = rc_uri_parse(spec, strlen(spec), &u);
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

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"listen", required_argument, NULL, 'l'},
      {"verbose", no_argument, NULL, 'v'},
      {"quiet", no_argument, NULL, 'q'},
      {"version", no_argument, NULL, 'V'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *specs[MAX_LISTEN];
  size_t nspecs = 0;
  int verbose = 0, quiet = 0, ch;
  while ((ch = getopt_long(argc, argv, "l:vqVh", longopts, NULL)) != -1) {
    switch (ch) {
    case 'l':
      if (nspecs == MAX_LISTEN) {
        fprintf(stderr, "rcoapd: at most %d --listen\n", MAX_LISTEN);
        return 1;
      }
      specs[nspecs++] = optarg;
      break;
    case 'v':
      verbose = 1;
      break;
    case 'q':
      quiet = 1;
      break;
    case 'V':
      printf("rcoapd %s\n", rc_version());
      return 0;
    case 'h':
      usage(stdout);
      return 0;
    default:
      usage(stderr);
      return 1;
    }
  }
  if (optind != argc) {
    usage(stderr);
    return 1;
  }
  if (nspecs == 0) {
    specs[nspecs++] = "coap+tcp://127.0.0.1:5683";
    specs[nspecs++] = "coap+tcp://[::1]:5683";
  }
  signal(SIGPIPE, SIG_IGN);

  daemon_t d;
  memset(&d, 0, sizeof d);
  d.verbose = verbose;
  uv_loop_init(&d.loop);
  rc_context_opts co = {0};
  co.loop = &d.loop;
  co.on_log = on_log;
  co.log_level = quiet ? RC_SESSION_LOG_WARN
                       : verbose ? RC_SESSION_LOG_DEBUG : RC_SESSION_LOG_INFO;
  if (verbose)
    co.on_trace = on_trace;
  if (rc_context_new(&d.ctx, &co) != RC_OK || demo_start(d.ctx, &d.demo)) {
    fprintf(stderr, "rcoapd: cannot start: out of memory\n");
    return 1;
  }
  for (size_t i = 0; i < nspecs; i++) {
    rc_conn_kind kind;
    char addr[128], err[256];
    const char *scheme;
    uint16_t port;
    if (parse_listen(specs[i], &kind, addr, sizeof addr, &scheme) != 0)
      return 1;
    if (rc_context_listen(d.ctx, kind, addr, NULL, NULL, &port, err,
                          sizeof err) != RC_OK) {
      fprintf(stderr, "rcoapd: %s\n", err);
      return 1;
    }
    /* Report the real port (port 0 picks one). */
    char shown[128];
    snprintf(shown, sizeof shown, "%s", addr);
    char *colon = strrchr(shown, ':');
    if (colon)
      snprintf(colon, sizeof shown - (size_t)(colon - shown), ":%u", port);
    printf("rcoapd %s listening on %s://%s\n", rc_version(), scheme, shown);
  }
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
  return 0;
}
