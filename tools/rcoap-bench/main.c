/*
 * rcoap-bench: a CoAP load generator for RFC 8323 transports (coap+tcp,
 * coaps+tcp, coap+ws, coaps+ws) built so that it is not the bottleneck.
 * Each worker thread runs one epoll loop over its share of the
 * connections; every connection speaks RFC 8323 through the library's
 * sans-I/O rc_session (CSM first, tokens, Ping/Pong answered), keeps
 * --depth requests outstanding, reads everything the socket has in one big
 * read, answers all completed responses with new requests, and writes them
 * in one send(). TLS and WebSockets are the library's transport chain
 * (transport_chain.h), the same object src/transport/conn.c drives:
 * socket -> [tls] -> [ws] -> session. All ciphertext of a read is
 * decrypted and unframed in one rc_chain_recv(); all requests produced
 * by it go down in one batch (the ws filter holds its frames: one down()
 * into the TLS filter, one SSL_write) into the chain's output queue,
 * written with one send(). Latency is taken per request on the monotonic
 * clock into a fixed log-linear histogram (no allocation per request).
 * Connections are opened at a bounded rate with a bounded number still
 * waiting for the server's CSM, so servers with a tiny listen backlog
 * (libcoap: 5) are not flooded. --idle opens connections, does the CSM
 * exchange and one request each, then holds them open (for memory
 * measurements). --handshakes measures connection set-up: each connection
 * connects, runs the TLS and/or WebSocket handshakes and the CSM exchange,
 * sends one request, closes on the answer and starts over.
 * coap:// (UDP) runs each "connection" as a connected UDP socket with the
 * library's RFC 7252 session on a datagram chain (CON requests, NSTART =
 * --depth so every slot may be outstanding, retransmissions from the
 * scan), one datagram per send() and per recv().
 *
 * --bulk and --observe run the library's own client (rc_context on
 * libuv) instead: windowed block-wise GET throughput (bulk.c) and observe
 * fan-out latency (observe.c).
 *
 * Files: options.c (command line), mix.c (request mix), bconn.c (one
 * connection), worker.c (one thread's epoll loop), report.c (results),
 * hist.c (latency histogram), bulk.c, observe.c, main.c (threads and the
 * --idle run).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"
#include "rcoap/version.h"

volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

int main(int argc, char **argv) {
  static bench_cfg cfg;
  int st = options_parse(&cfg, argc, argv);
  if (st != 0)
    return st == 1 ? 0 : st;

  /* Enough descriptors for the connections (up to the hard limit). */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < cfg.conns + 64) {
    rl.rlim_cur = rl.rlim_max < cfg.conns + 64 ? rl.rlim_max : cfg.conns + 64;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  if (cfg.bulk || cfg.observe) {
    rc_tls_ctx *tls = NULL;
    if (cfg.use_tls && bench_tls_new(&tls, &cfg) != 0)
      return 2;
    int rc = cfg.bulk ? bulk_run_main(&cfg, tls) : observe_run_main(&cfg, tls);
    if (tls)
      rc_tls_ctx_free(tls);
    return rc;
  }

  unsigned depth = cfg.idle ? 1 : cfg.depth;
  worker *ws = calloc(cfg.threads, sizeof(worker));
  bconn *conns = calloc(cfg.conns, sizeof(bconn));
  slot *slots = calloc((size_t)cfg.conns * depth, sizeof(slot));
  uint16_t *frees = calloc((size_t)cfg.conns * depth, sizeof(uint16_t));
  if (!ws || !conns || !slots || !frees) {
    fprintf(stderr, "rcoap-bench: out of memory\n");
    return 1;
  }
  unsigned next = 0;
  for (unsigned i = 0; i < cfg.threads; i++) {
    worker *w = &ws[i];
    w->cfg = &cfg;
    if (cfg.use_tls && bench_tls_new(&w->tls, &cfg) != 0)
      return 2;
    w->id = i;
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->n = cfg.conns / cfg.threads + (i < cfg.conns % cfg.threads);
    w->conns = &conns[next];
    w->connect_rate = cfg.connect_rate / cfg.threads;
    if (cfg.count)
      w->quota = cfg.count / cfg.threads + (i < cfg.count % cfg.threads);
    hist_reset(&w->h);
    for (unsigned k = 0; k < w->n; k++) {
      bconn *c = &w->conns[k];
      size_t base = (size_t)(next + k) * depth;
      c->w = w;
      c->fd = -1;
      c->slots = &slots[base];
      c->free_slots = &frees[base];
      for (unsigned s = 0; s < depth; s++)
        c->free_slots[s] = (uint16_t)(depth - 1 - s);
      c->nfree = depth;
      c->sched_pos = (next + k) % cfg.n_sched;
    }
    next += w->n;
  }
  if (!cfg.quiet) {
    printf("rcoap-bench %s: %s, %u connection(s), depth %u, %u thread(s)",
           rc_version(), cfg.uri, cfg.conns, depth, cfg.threads);
    if (cfg.idle)
      printf(", idle\n");
    else if (cfg.count)
      printf(", %llu requests\n", (unsigned long long)cfg.count);
    else
      printf(", %.1f s (+%.1f s warm-up)\n", cfg.duration_s, cfg.warmup_s);
    printf("mix:");
    for (unsigned i = 0; i < cfg.n_mix; i++)
      printf(" %s (%u/%u)%s", cfg.mix[i].text, cfg.mix[i].weight, cfg.n_sched,
             i + 1 < cfg.n_mix ? "," : "\n");
    fflush(stdout);
  }

  uint64_t t0 = now_ns();
  if (cfg.idle) {
    /* The idle run reports progress from the main thread. */
    for (unsigned i = 0; i < cfg.threads; i++)
      pthread_create(&ws[i].th, NULL, worker_run, &ws[i]);
    int reported = 0;
    for (;;) {
      unsigned done = 0, fail = 0, up = 0;
      for (unsigned i = 0; i < cfg.threads; i++) {
        done += (unsigned)__atomic_load_n(&ws[i].idle_answered, __ATOMIC_RELAXED);
        fail += __atomic_load_n(&ws[i].failed, __ATOMIC_RELAXED);
        up += __atomic_load_n(&ws[i].open_count, __ATOMIC_RELAXED);
      }
      if (!reported && done + fail >= cfg.conns) {
        printf("IDLE established=%u failed=%u seconds=%.2f\n", done,
               cfg.conns - done, (double)(now_ns() - t0) / 1e9);
        fflush(stdout);
        reported = 1;
      }
      if (g_stop)
        break;
      int alive = 0;
      for (unsigned i = 0; i < cfg.threads; i++)
        alive |= pthread_tryjoin_np(ws[i].th, NULL) == EBUSY;
      if (!alive)
        break;
      (void)up;
      struct timespec ts = {0, 20 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
    for (unsigned i = 0; i < cfg.threads; i++)
      pthread_join(ws[i].th, NULL);
    for (unsigned i = 0; i < cfg.conns; i++)
      conn_destroy(&conns[i]);
    for (unsigned i = 0; i < cfg.threads; i++)
      close(ws[i].ep), rc_tls_ctx_free(ws[i].tls);
    free(frees);
    free(slots);
    free(conns);
    free(ws);
    return reported ? 0 : 1;
  }

  if (cfg.threads == 1) {
    worker_run(&ws[0]);
  } else {
    for (unsigned i = 0; i < cfg.threads; i++)
      pthread_create(&ws[i].th, NULL, worker_run, &ws[i]);
    for (unsigned i = 0; i < cfg.threads; i++)
      pthread_join(ws[i].th, NULL);
  }

  int rc = report_print(&cfg, ws);
  for (unsigned i = 0; i < cfg.conns; i++)
    conn_destroy(&conns[i]);
  for (unsigned i = 0; i < cfg.threads; i++)
    close(ws[i].ep), rc_tls_ctx_free(ws[i].tls);
  free(frees);
  free(slots);
  free(conns);
  free(ws);
  return rc;
}
