/*
 * rcoap-obsbench: observe fan-out latency. Opens CONNS connections (one
 * rc_context each, paced in batches because libcoap listens with a
 * backlog of 5), registers PER observations on each (different tokens,
 * RFC 7641 §4.1), then ROUNDS times sends a trigger request (e.g. PUT
 * /example_data on libcoap, POST /counter on rcoapd) that makes the
 * server notify, and measures the time from sending the trigger until
 * every observer has its notification. Prints each round and a RESULT
 * line with the median and the worst, in milliseconds.
 *
 *   rcoap-obsbench OBSERVE_URI TRIGGER_METHOD TRIGGER_URI [CONNS [PER [ROUNDS]]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "rcoap/app.h"
#include "rcoap/version.h"

typedef struct bench {
  uv_loop_t loop;
  long notes;      /* notifications after registration */
  long regs;       /* first answers (registrations) */
  long errors;
  int trigger_done;
} bench;

typedef struct watcher {
  bench *b;
  int registered;
} watcher;

static void on_note(void *arg, rc_err status, const rc_msg *resp,
                    const char *detail) {
  watcher *w = arg;
  (void)detail;
  if (status != RC_OK || !resp) {
    w->b->errors++;
    return;
  }
  if (!w->registered) {
    w->registered = 1;
    w->b->regs++;
  } else {
    w->b->notes++;
  }
}

static void on_trigger(void *arg, rc_err status, const rc_msg *resp,
                       const char *detail) {
  bench *b = arg;
  (void)resp;
  if (status != RC_OK)
    fprintf(stderr, "trigger failed: %s %s\n", rc_strerror(status), detail);
  b->trigger_done = 1;
}

static int timed_out;
static void on_deadline(uv_timer_t *t) {
  (void)t;
  timed_out = 1;
}

/* Runs the loop until *v >= want or ms pass; returns 0 or -1. */
static int run_until(bench *b, long *v, long want, uint64_t ms) {
  uv_timer_t t;
  uv_timer_init(&b->loop, &t);
  timed_out = 0;
  uv_timer_start(&t, on_deadline, ms, 0);
  while (*v < want && !timed_out)
    uv_run(&b->loop, UV_RUN_ONCE);
  uv_timer_stop(&t);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&b->loop, UV_RUN_NOWAIT);
  return *v >= want ? 0 : -1;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: rcoap-obsbench OBSERVE_URI TRIGGER_METHOD TRIGGER_URI "
          "[CONNS [PER [ROUNDS]]]\n"
          "\n"
          "Observe fan-out latency: opens CONNS connections (default 1000),\n"
          "registers PER observations of OBSERVE_URI on each (default 10),\n"
          "then ROUNDS times (default 10) sends TRIGGER_METHOD to\n"
          "TRIGGER_URI, which makes the server notify, and times how long\n"
          "until every observer has its notification. Prints each round\n"
          "and a RESULT line with the median and the worst, in ms.\n"
          "\n"
          "example (rcoapd on the default ports):\n"
          "  rcoap-obsbench coap+tcp://127.0.0.1/counter post \\\n"
          "    coap+tcp://127.0.0.1/counter 100 10 5\n"
          "\n"
          "  -V, --version   print the version\n"
          "  -h, --help      this text\n"
          "exit status: 0 rounds measured, 1 bad arguments, 4 no round "
          "completed\n");
}

int main(int argc, char **argv) {
  if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
    usage(stdout);
    return 0;
  }
  if (argc > 1 && (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version"))) {
    printf("rcoap-obsbench %s\n", rc_version());
    return 0;
  }
  if (argc < 4 || argc > 7) {
    usage(stderr);
    return 1;
  }
  const char *obs_uri = argv[1];
  int method = rc_method_from_name(argv[2]);
  const char *trig_uri = argv[3];
  int conns = argc > 4 ? atoi(argv[4]) : 1000;
  int per = argc > 5 ? atoi(argv[5]) : 10;
  int rounds = argc > 6 ? atoi(argv[6]) : 10;
  if (method < 0 || conns < 1 || per < 1 || rounds < 1) {
    fprintf(stderr, "rcoap-obsbench: bad arguments\n");
    return 1;
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  bench b;
  memset(&b, 0, sizeof b);
  uv_loop_init(&b.loop);
  rc_context_opts o = {0};
  o.loop = &b.loop;
  o.log_level = RC_SESSION_LOG_ERR;
  rc_context **ctx = calloc((size_t)conns + 1, sizeof *ctx);
  watcher *ws = calloc((size_t)conns * (size_t)per, sizeof *ws);
  rc_observation **obs = calloc((size_t)conns * (size_t)per, sizeof *obs);
  for (int i = 0; i <= conns; i++)
    if (rc_context_new(&ctx[i], &o) != RC_OK)
      return 8;
  /* Connections in batches of 10, each batch registered before the next. */
  for (int i = 0; i < conns; i += 10) {
    int end = i + 10 < conns ? i + 10 : conns;
    for (int c = i; c < end; c++)
      for (int k = 0; k < per; k++) {
        watcher *w = &ws[c * per + k];
        w->b = &b;
        if (rc_observe(ctx[c], obs_uri, NULL, on_note, w,
                       &obs[c * per + k]) != RC_OK)
          return 2;
      }
    if (run_until(&b, &b.regs, (long)end * per, 30000) != 0) {
      fprintf(stderr, "rcoap-obsbench: only %ld of %d registered\n", b.regs,
              end * per);
      return 3;
    }
  }
  long total = (long)conns * per;
  printf("%d connections x %d observations = %ld observers registered\n",
         conns, per, total);
  double *ms = calloc((size_t)rounds, sizeof *ms);
  int done = 0;
  for (int r = 0; r < rounds; r++) {
    char payload[32];
    int n = snprintf(payload, sizeof payload, "round %d", r + 1);
    rc_request_opts ro = {0};
    ro.payload = (const uint8_t *)payload;
    ro.payload_len = (size_t)n;
    long want = b.notes + total;
    b.trigger_done = 0;
    uint64_t t0 = uv_hrtime();
    if (rc_request(ctx[conns], (uint8_t)method, trig_uri, &ro, on_trigger,
                   &b) != RC_OK)
      return 2;
    int rc = run_until(&b, &b.notes, want, 10000);
    uint64_t t1 = uv_hrtime();
    run_until(&b, (long *)&b.trigger_done, 1, 2000);
    if (rc != 0) {
      printf("round %d: only %ld of %ld notifications within 10 s\n", r + 1,
             b.notes - (want - total), total);
      b.notes = want; /* count the next round from here */
      continue;
    }
    ms[done++] = (double)(t1 - t0) / 1e6;
    printf("round %d: %ld notifications in %.2f ms\n", r + 1, total,
           ms[done - 1]);
    /* Drain stragglers (none expected) before the next round. */
    run_until(&b, &b.notes, want + 1, 50);
  }
  qsort(ms, (size_t)done, sizeof *ms, cmp_d);
  if (done)
    printf("RESULT observers=%ld rounds=%d median_ms=%.2f max_ms=%.2f "
           "errors=%ld\n",
           total, done, ms[done / 2], ms[done - 1], b.errors);
  for (int i = 0; i < conns * per; i++)
    rc_observe_cancel(obs[i]);
  for (int i = 0; i <= conns; i++)
    rc_context_free(ctx[i]);
  for (int i = 0; i < 1000 && uv_run(&b.loop, UV_RUN_NOWAIT); i++)
    ;
  uv_loop_close(&b.loop);
  free(ms);
  free(ws);
  free(obs);
  free(ctx);
  return done ? 0 : 4;
}
