/*
 * rcoap-bench's shared types: the configuration (options.c, mix.c), one
 * connection (bconn.c: the library's transport chain on a non-blocking
 * socket), one worker thread (worker.c: an epoll loop over its share of
 * the connections) and the report (report.c).
 */
#ifndef RCOAP_BENCH_H
#define RCOAP_BENCH_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "hist.h"
#include "rcoap/codec_uri.h"
#include "rcoap/session.h"
#include "rcoap/transport_chain.h"
#include "rcoap/transport_tls.h"

#define MAX_MIX 16
#define MAX_THREADS 64
/* Request options (Uri-Path, Content-Format) encoded once per mix entry. */
#define MIX_OPTS_MAX 512
#define MIX_PAYLOAD_MAX 1024
/* Weighted schedule of mix entries, cycled per connection. */
#define SCHED_MAX 1024
/* Tokens are 4 bytes: slot (16 bits) and generation (16 bits). */
#define TOKEN_LEN 4
#define DEPTH_MAX 4096
#define READ_BUF (256u * 1024u)
#define EVENTS_MAX 512
/* Our announced Max-Message-Size: responses here are small. */
#define BENCH_MAX_MSG (64u * 1024u)
/* How often outstanding requests are checked for timeouts. */
#define SCAN_INTERVAL_NS 100000000ull
/* Filtered transports: ciphertext/frames queued per connection before the
 * session's output is left in the session (back-pressure). */
#define OUT_HIGH (256u * 1024u)

typedef struct mix_entry {
  uint8_t code;
  char text[128]; /* "GET /hello" for the report */
  uint8_t opts[MIX_OPTS_MAX];
  size_t opts_len;
  uint8_t payload[MIX_PAYLOAD_MAX];
  size_t payload_len;
  unsigned weight;
} mix_entry;

typedef struct bench_cfg {
  char uri[512];
  struct sockaddr_storage addr;
  socklen_t addr_len;
  int use_tls, use_ws; /* coaps+tcp: tls; coap+ws: ws; coaps+ws: both */
  int use_udp;         /* coap://: one UDP socket per "connection" */
  char host[RC_URI_HOST_MAX + 1]; /* URI host: SNI, certificate, WS Host */
  uint16_t port;
  const char *cafile;
  int insecure;
  const char *psk_id, *psk_key;
  int resume;     /* --resume: TLS session resumption allowed */
  int handshakes; /* --handshakes: connect, handshake, CSM, one GET, close */
  unsigned conns, depth, threads;
  double duration_s, warmup_s;
  uint64_t count; /* 0: run for duration_s */
  double connect_rate;       /* new connections per second, 0 = unlimited */
  unsigned connect_inflight; /* most connections waiting for the CSM */
  double connect_timeout_s;
  uint32_t timeout_ms;
  int idle;
  double idle_hold_s;
  /* --bulk (bulk.c): -n GETs of the URI's body, window Block2 requests
   * in flight; --observe (observe.c): conns x per observers, rounds
   * triggers (trigger_method to trigger_uri, "" = the URI); busy_poll:
   * the loop polls (epoll timeout 0) instead of sleeping */
  int bulk, observe, busy_poll;
  unsigned window, per, rounds;
  uint8_t trigger_method;
  char trigger_uri[512]; /* 0: until SIGINT/SIGTERM */
  int quiet;
  mix_entry mix[MAX_MIX];
  unsigned n_mix;
  uint8_t sched[SCHED_MAX];
  unsigned n_sched;
} bench_cfg;

/* C_WAIT_CSM also covers the TLS / WebSocket handshakes (chain_open 0). */
enum { C_NEW = 0, C_CONNECTING, C_WAIT_CSM, C_OPEN, C_DONE };

typedef struct slot {
  uint64_t sent_ns;
  uint16_t gen;
  uint8_t used;
} slot;

struct worker;

typedef struct bconn {
  struct worker *w;
  int fd;
  int state;
  int epollout; /* EPOLLOUT registered */
  rc_session *s;
  uint64_t started_ns;
  unsigned sched_pos;
  unsigned outstanding;
  unsigned nfree;
  uint16_t *free_slots;
  slot *slots;
  int idle_answered;
  int released; /* the server sent Release (RFC 8323 §5.5) */
  int cycle_done; /* --handshakes: the one request was answered */
  /* The library's transport chain: [tls] [ws] under the session (which
   * it owns; s points at it), and the output queue for the socket. */
  rc_chain *chain;
  int chain_dead; /* the chain ended (a filter failed, or the peer closed) */
} bconn;

typedef struct worker {
  const bench_cfg *cfg;
  unsigned id;
  int ep;
  bconn *conns;
  unsigned n;
  unsigned next_connect; /* conns[0..next_connect) have been started */
  unsigned waiting;      /* connecting or waiting for the CSM */
  unsigned open_count;   /* reached C_OPEN (ever) */
  unsigned open_now;     /* in C_OPEN now */
  unsigned failed;       /* never reached C_OPEN */
  double connect_rate;   /* this worker's share */
  uint64_t connect_t0;
  uint64_t all_open_ns;  /* 0 until every connection is open or failed */
  uint64_t win_start, win_end; /* measurement window (ns) */
  uint64_t quota;        /* -n: requests this worker may still send */
  uint64_t in_flight;
  int stop_sending;
  /* counters inside the window */
  uint64_t ok, status_err[8], timeouts, late, conn_err, released;
  uint64_t sent_total, recv_total;
  uint64_t first_ns, last_ns; /* -n: first send, last response */
  uint64_t end_ns;            /* when the loop ended */
  hist h;
  uint8_t rbuf[READ_BUF];
  uint64_t idle_answered;
  uint64_t t_read;  /* when the current read returned (ns): arrival time */
  rc_tls_ctx *tls;  /* this thread's client context (session cache) */
  uint64_t cycles;  /* --handshakes: cycles completed inside the window */
  /* this thread's CPU time at the window's start and end (ns) */
  uint64_t cpu_start, cpu_end;
  uint64_t cpu_wall_start, cpu_wall_end; /* wall clock at the same samples */
  int cpu_started, cpu_ended;
  char first_err[160]; /* why the first filter chain failed, "" if none */
  pthread_t th;
} worker;

/* Set by SIGINT / SIGTERM: every worker stops. */
extern volatile sig_atomic_t g_stop;

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline rc_time ms_of(uint64_t ns) { return ns / 1000000ull; }

/* mix.c: parses a --mix SPEC into cfg->mix and the schedule. Returns 0 or
 * -1 (said why on stderr). */
int mix_parse(bench_cfg *cfg, const char *spec);

/* options.c: parses the command line into cfg and resolves the URI.
 * Returns 0 to run, 1 when done (--help, --version), 2 on a usage error. */
int options_parse(bench_cfg *cfg, int argc, char **argv);
/* options.c: a client TLS context for one thread. Returns 0 or -1. */
int bench_tls_new(rc_tls_ctx **out, const bench_cfg *cfg);

/* bulk.c: the --bulk run; observe.c: the --observe run. Each prints its
 * RESULT line and returns the exit status. tls: NULL or the client
 * context for coaps schemes. */
int bulk_run_main(const bench_cfg *cfg, rc_tls_ctx *tls);
int observe_run_main(const bench_cfg *cfg, rc_tls_ctx *tls);
/* bulk.c: this process's peak RSS (VmHWM, KiB; 0 unknown), its CPU time
 * (user + system, s). */
unsigned long bench_peak_rss_kib(void);
double bench_cpu_s(void);

/* bconn.c */
int conn_start(bconn *c, const bench_cfg *cfg, uint64_t t);
void conn_fail(bconn *c, int counted);
void conn_fill(bconn *c);
int conn_flush(bconn *c);
void conn_on_event(bconn *c, uint32_t events, uint64_t t);
void conn_destroy(bconn *c);

/* worker.c: one thread's loop (arg is its worker). */
void *worker_run(void *arg);

/* report.c: prints the results of a timed run. Returns the exit code. */
int report_print(const bench_cfg *cfg, worker *ws);

#endif
