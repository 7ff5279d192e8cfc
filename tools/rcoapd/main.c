/*
 * rcoapd: the rcoap server daemon. It serves the demo resources on every
 * listener given with --listen (by default every transport on the loopback
 * addresses), says where it listens, serves the web demo on its WebSocket
 * ports, and on SIGINT/SIGTERM sends every client a Release (RFC 8323
 * §5.5) and exits once they are gone.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "demo.h"
#include "listen.h"
#include "serve_dir.h"
#include "options.h"
#include "wr_broker.h"
#include "wr_register.h"
#include "rcoap/app.h"
#include "rcoap/app_proxy.h"
#include "rcoap/codec_print.h"

#define SHUTDOWN_TIMEOUT_MS 3000u
/* Payload bytes per BERT message rcoapd sends (see d->block). */
#define RCOAPD_BERT_MAX (1024u * 1024u)
/* ... of a --serve-dir file over plain coap+tcp (sendfile: never in
 * memory here); the client's Max-Message-Size bounds it further. */
#define RCOAPD_BERT_FILE_MAX (8u * 1024u * 1024u)

typedef struct daemon {
  uv_loop_t loop;
  rc_context *ctx;
  /* BERT size, --max-unrequested-body; lives as long as the context */
  rc_exchange_block_config block;
  rc_session_config session; /* --ack-timeout, --max-retransmit */
  demo *demo;
  wr_broker *broker;     /* --webrtc-peers-allow */
  wr_register *wr_reg;   /* --webrtc-register */
  uv_signal_t sigint, sigterm;
  int stopping;
  listeners ls;
} daemon_t;

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

/* One ISO 8601 UTC time with milliseconds ("2026-12-07T00:40:01.123Z"). */
static void iso_now(char *out, size_t cap) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char s[32];
  strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, cap, "%.24s.%03dZ", s, (int)(ts.tv_nsec / 1000000));
}

/* --access-log: time, peer, transport, method, URI, code, bytes, ms. */
static FILE *g_access;

/* uri with the value of a secret= query parameter (a rendezvous
 * registration's shared secret, wr_broker.c) replaced by "-": a log is no
 * place for it. */
static const char *redact(const char *uri, char *buf, size_t cap) {
  const char *q = strchr(uri, '?');
  if (!q || !strstr(q, "secret="))
    return uri;
  size_t n = (size_t)snprintf(buf, cap, "%.*s", (int)(q + 1 - uri), uri);
  for (const char *p = q + 1; *p && n < cap;) {
    int len = (int)strcspn(p, "&");
    int secret = !strncmp(p, "secret=", 7);
    n += (size_t)snprintf(buf + n, cap - n, "%.*s%s%s", secret ? 7 : len, p,
                          secret ? "-" : "", p[len] ? "&" : "");
    p += len + (p[len] != 0);
  }
  return buf;
}

static void on_access(void *user, const rc_access_entry *e) {
  (void)user;
  char when[40], code[5], uri[1100];
  iso_now(when, sizeof when);
  fprintf(g_access, "%s %s %s %s %s %s %zu %.1fms\n", when, e->peer,
          e->transport, e->method, redact(e->uri, uri, sizeof uri),
          rc_code_str(e->code, code), e->bytes, e->ms);
  fflush(g_access);
}

static void on_trace(void *user, char dir, const rc_msg *m) {
  (void)user;
  char line[1024];
  rc_msg_format(m, line, sizeof line);
  char ts[32];
  time_t t = time(NULL);
  struct tm tm;
  localtime_r(&t, &tm);
  strftime(ts, sizeof ts, "%H:%M:%S", &tm);
  fprintf(stderr, "%s %c %s\n", ts, dir, line);
}

static void on_stopped(void *arg) {
  daemon_t *d = arg;
  uv_close((uv_handle_t *)&d->sigint, NULL);
  uv_close((uv_handle_t *)&d->sigterm, NULL);
  demo_stop(d->demo);
  d->demo = NULL;
  on_log(NULL, RC_SESSION_LOG_INFO, "stopped");
}

static void on_signal(uv_signal_t *s, int signum) {
  daemon_t *d = s->data;
  if (d->stopping) {
    on_log(NULL, RC_SESSION_LOG_INFO, "second signal, exiting now");
    exit(1);
  }
  d->stopping = 1;
  char line[128];
  snprintf(line, sizeof line,
           "%s: shutting down, sending Release to %zu connection(s)",
           signum == SIGINT ? "SIGINT" : "SIGTERM",
           rc_context_connections(d->ctx));
  on_log(NULL, RC_SESSION_LOG_INFO, line);
  wr_register_stop(d->wr_reg); /* no re-registration while going */
  rc_context_shutdown(d->ctx, "server shutting down", SHUTDOWN_TIMEOUT_MS,
                      on_stopped, d);
}

/* Everything up to serving: the context, the demo, --serve-dir, the
 * listeners. Returns 0, or 1 after saying why (main tears down). */
/* --proxy, --proxy-allow, --route. Returns 0 or -1 after saying why. */
static int proxy_setup(rc_context *ctx, const rcoapd_opts *o) {
  if (!o->proxy && !o->nroutes)
    return 0;
  rc_proxy_opts po = {.forward = o->proxy,
                      .timeout_ms = o->proxy_timeout_ms,
                      .cache_bytes = o->proxy_cache,
                      .backoff_min_ms = o->proxy_backoff_min_ms,
                      .backoff_max_ms = o->proxy_backoff_max_ms};
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

/* --multicast: discovery on 224.0.1.187 and ff02::fd (RFC 7252 §8). */
static int multicast_start(rc_context *ctx, const rcoapd_opts *o) {
  rc_multicast_opts mo = {0};
  mo.ifname = o->multicast_if;
  mo.leisure_ms = o->leisure_ms;
  char err[160];
  rc_err e = rc_context_multicast(ctx, &mo, err, sizeof err);
  if (e != RC_OK) {
    fprintf(stderr, "rcoapd: --multicast: %s\n", err[0] ? err : rc_err_name(e));
    return 1;
  }
  if (err[0])
    fprintf(stderr, "rcoapd: warning: --multicast: %s\n", err);
  printf("rcoapd multicast discovery on %s and %s port 5683%s%s\n",
         RC_MULTICAST_GROUP4, RC_MULTICAST_GROUP6,
         o->multicast_if ? " on " : "",
         o->multicast_if ? o->multicast_if : "");
  fflush(stdout);
  return 0;
}

static int start(daemon_t *d, const rcoapd_opts *o) {
  rc_context_opts co = {0};
  co.loop = &d->loop;
  co.on_log = on_log;
  co.log_level = o->quiet     ? RC_SESSION_LOG_WARN
                 : o->verbose ? RC_SESSION_LOG_DEBUG
                              : RC_SESSION_LOG_INFO;
  co.idle_timeout_ms = o->idle_timeout_ms;
  co.park_after_ms = o->park_after_ms;
  co.handshake_timeout_ms = o->handshake_timeout_ms;
  co.body_memory_max = o->body_memory;
  co.unanswered_max = o->max_pending;
  co.webrtc_keylog = o->keylog; /* coaps+wr's DTLS, like tls_setup.c's */
  co.webrtc_signal = o->proxy_signal; /* the proxy's coaps+wr upstreams */
  rc_exchange_block_config_default(&d->block);
  /* BERT messages of 1 MiB rather than 4: a client with four Block2
   * requests in flight (rcoap --window 4) then has 4 MiB, not 16, queued
   * here per connection, at no cost in throughput on loopback
   * (docs/BENCHMARKS.md, "Windowed Block2"). */
  d->block.bert_max = RCOAPD_BERT_MAX;
  /* A block sent from a file by sendfile is never in this process, so
   * there it is as large as the client's Max-Message-Size allows, up to
   * 8 MiB (8 MiB + 256 is what rcoap and libcoap announce): a client with
   * one Block2 request in flight waits a round trip per 8 MiB, not per
   * 1 MiB, and holds window x 8 MiB (docs/BENCHMARKS.md, "BERT with one
   * request in flight"). */
  d->block.bert_file_kib = RCOAPD_BERT_FILE_MAX / 1024u;
  if (o->max_unrequested)
    d->block.unrequested_max = o->max_unrequested;
  co.block = &d->block;
  if (o->ack_timeout_ms || o->max_retransmit >= 0) {
    /* RFC 7252 §4.8.1: the transmission parameters may be changed; the
     * dedup lifetimes follow them. Both ranges checked by options.c. */
    rc_session_config_default(&d->session, RC_FRAMING_TCP, RC_SESSION_SERVER);
    rc_session_udp_params(&d->session.udp,
                          o->ack_timeout_ms ? (uint32_t)o->ack_timeout_ms
                                            : RC_UDP_ACK_TIMEOUT,
                          o->max_retransmit >= 0 ? (uint32_t)o->max_retransmit
                                                 : RC_UDP_MAX_RETRANSMIT);
    co.session = &d->session;
  }
  rc_session_config sess; /* copied by rc_context_new */
  if (o->amp_factor >= 0) {
    rc_session_config_default(&sess, RC_FRAMING_TCP, RC_SESSION_SERVER);
    sess.udp.amp_factor = (uint32_t)o->amp_factor;
    co.session = &sess;
  }
  if (o->verbose)
    co.on_trace = on_trace;
  if (o->access_log) {
    g_access =
        strcmp(o->access_log, "-") ? fopen(o->access_log, "a") : stdout;
    if (!g_access) {
      fprintf(stderr, "rcoapd: --access-log %s: %s\n", o->access_log,
              strerror(errno));
      return 1;
    }
    co.on_access = on_access;
  }
  if (rc_context_new(&d->ctx, &co) != RC_OK || demo_start(d->ctx, &d->demo)) {
    fprintf(stderr, "rcoapd: cannot start: out of memory\n");
    return 1;
  }
  if ((o->release_to || o->hold_off_s >= 0) &&
      rc_context_set_release(d->ctx, o->release_to,
                             o->hold_off_s >= 0 ? (uint32_t)o->hold_off_s
                                                : RC_SESSION_NO_HOLD_OFF) !=
          RC_OK) {
    fprintf(stderr, "rcoapd: --release-to must be 1-255 bytes\n");
    return 1;
  }
  if (o->serve_dir) {
    char real[PATH_MAX];
    if (serve_dir_start(d->ctx, o->serve_dir, !o->no_sendfile) != RC_OK ||
        !realpath(o->serve_dir, real)) {
      fprintf(stderr, "rcoapd: --serve-dir %s: %s\n", o->serve_dir,
              strerror(errno));
      return 1;
    }
    printf("rcoapd: serving %s read-only as %s/\n", real, SERVE_DIR_PREFIX);
  }
  if (proxy_setup(d->ctx, o) != 0)
    return 1;
  if (wr_broker_start(d->ctx, o, &d->broker) != 0 ||
      listeners_open(d->ctx, o, &d->ls) != 0 ||
      wr_register_start(d->ctx, o, &d->wr_reg) != 0) /* needs coaps+wr */
    return 1;
  return o->multicast ? multicast_start(d->ctx, o) : 0;
}

int main(int argc, char **argv) {
  rcoapd_opts o;
  int pr = rcoapd_parse(argc, argv, &o);
  if (pr != 0)
    return pr > 0 ? 0 : 1;
  signal(SIGPIPE, SIG_IGN);
#ifdef __GLIBC__
  /* A BERT answer's buffer (up to RCOAPD_BERT_MAX) comes from the heap
   * and its pages are kept for the next one: with glibc's defaults each
   * was mmapped and unmapped again, a page fault per 4 KiB of every block
   * (about half the server's CPU time serving a file). */
  mallopt(M_MMAP_THRESHOLD, 4 * RCOAPD_BERT_MAX);
  mallopt(M_TRIM_THRESHOLD, 16 * RCOAPD_BERT_MAX);
#endif

  daemon_t d;
  memset(&d, 0, sizeof d);
  uv_loop_init(&d.loop);
  /* Signals are caught from before the first "listening on" line: a
   * SIGTERM right after it gets the orderly shutdown. */
  uv_signal_init(&d.loop, &d.sigint);
  uv_signal_init(&d.loop, &d.sigterm);
  d.sigint.data = d.sigterm.data = &d;
  uv_signal_start(&d.sigint, on_signal, SIGINT);
  uv_signal_start(&d.sigterm, on_signal, SIGTERM);
  int status = start(&d, &o);
  if (status == 0) {
    uv_run(&d.loop, UV_RUN_DEFAULT);
  } else {
    uv_close((uv_handle_t *)&d.sigint, NULL);
    uv_close((uv_handle_t *)&d.sigterm, NULL);
  }
  if (d.demo) /* start failed: the shutdown path did not stop it */
    demo_stop(d.demo);
  if (o.stats && d.ctx) {
    char line[256];
    rc_udp_stats_format(rc_context_udp_stats(d.ctx), line, sizeof line);
    fprintf(stderr, "rcoapd: stats: %s\n", line);
  }
  wr_register_stop(d.wr_reg);
  wr_broker_stop(d.broker); /* answers the offers still held */
  rc_context_free(d.ctx);
  wr_register_free(d.wr_reg);
  uv_run(&d.loop, UV_RUN_DEFAULT);
  uv_loop_close(&d.loop);
  listeners_free(&d.ls);
  if (g_access && g_access != stdout)
    fclose(g_access);
  return status;
}
