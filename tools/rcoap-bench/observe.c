/*
 * rcoap-bench --observe: observe fan-out latency. Opens -c connections
 * (one rc_context each, in batches of ten, each batch registered before
 * the next: libcoap listens with a backlog of 5), registers --per
 * observations of the URI on each (different tokens, RFC 7641 §4.1),
 * then --rounds times sends the trigger request (--trigger METHOD to
 * --trigger-uri, default POST to the URI: rcoapd's /counter; PUT
 * /example_data on libcoap's coap-server) that makes the server notify,
 * and takes the time from sending the trigger until every observer has
 * its notification. Reports each round, p50 and max over the rounds,
 * notifications per second over the rounds' time, and this process's
 * CPU time per notification over the rounds (bench_cpu_us: when it
 * nears the round's time per notification, the client is the limit).
 * --busy-poll keeps the loop from sleeping while a round is timed (every
 * turn polls with timeout 0): a server's write then finds no sleeping reader
 * to wake, the cost of which loopback TCP charges to the writer; with
 * it bench_cpu_us counts the spinning too.
 * On coap+tcp the observers' connections are obsconn.c's (registration
 * through the library's session, notifications read lean and checked:
 * the generator costs the server's side no CPU it does not measure);
 * elsewhere rc_observe on one rc_context per connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obs.h"
#include "rcoap/app.h"
#include "rcoap/codec_option.h"

static void obs_on_note(void *arg, rc_err status, const rc_msg *resp,
                        const char *detail) {
  obs_watcher *w = arg;
  (void)detail;
  if (status != RC_OK || !resp) {
    w->b->errors++;
    return;
  }
  if (!w->registered) {
    w->registered = 1;
    w->b->regs++;
    return;
  }
  rc_opt o;
  int have_obs = rc_msg_find_opt(resp, RC_OPT_OBSERVE, &o) && o.len <= 3;
  uint32_t seq = 0;
  for (uint32_t i = 0; have_obs && i < o.len; i++)
    seq = seq << 8 | o.val[i];
  if (resp->code != RC_CONTENT ||
      obs_check(w->b, w, have_obs, seq, resp->payload, resp->payload_len) != 0)
    w->b->errors++;
}

static void obs_on_trigger(void *arg, rc_err status, const rc_msg *resp,
                           const char *detail) {
  obs_run *b = arg;
  if (status != RC_OK)
    fprintf(stderr, "rcoap-bench: trigger failed: %s %s\n",
            rc_strerror(status), detail);
  else if (RC_CODE_CLASS(resp->code) != 2) {
    char cs[5];
    fprintf(stderr, "rcoap-bench: trigger answered %s\n",
            rc_code_str(resp->code, cs));
  }
  b->trigger_done = 1;
}

static void obs_on_deadline(uv_timer_t *t) {
  obs_run *b = t->data;
  b->timed_out = 1;
}

/* Runs the loop until *v >= want or ms pass; returns 0 or -1. With
 * b->busy the loop never sleeps: each turn polls with timeout 0. */
static int run_until(obs_run *b, long *v, long want, uint64_t ms) {
  uv_timer_t t;
  uv_timer_init(&b->loop, &t);
  t.data = b;
  b->timed_out = 0;
  uv_timer_start(&t, obs_on_deadline, ms, 0);
  while (*v < want && !b->timed_out && !g_stop)
    uv_run(&b->loop, b->busy ? UV_RUN_NOWAIT : UV_RUN_ONCE);
  uv_timer_stop(&t);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&b->loop, UV_RUN_NOWAIT);
  return *v >= want ? 0 : -1;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int observe_run_main(const bench_cfg *cfg, rc_tls_ctx *tls) {
  int conns = (int)cfg->conns, per = (int)cfg->per, rounds = (int)cfg->rounds;
  const char *trig_uri = cfg->trigger_uri[0] ? cfg->trigger_uri : cfg->uri;
  static obs_run b;
  memset(&b, 0, sizeof b);
  uv_loop_init(&b.loop);
  rc_context_opts o = {0};
  o.loop = &b.loop;
  o.log_level = RC_SESSION_LOG_ERR;
  o.client_tls = tls;
  o.connect_timeout_ms = (uint32_t)(cfg->connect_timeout_s * 1000);
  o.handshake_timeout_ms = o.connect_timeout_ms;
  rc_context **ctx = calloc((size_t)conns + 1, sizeof *ctx);
  obs_watcher *ws = calloc((size_t)conns * (size_t)per, sizeof *ws);
  int lean = !cfg->use_tls && !cfg->use_ws && !cfg->use_udp;
  obs_conn *oc = lean ? calloc((size_t)conns, sizeof *oc) : NULL;
  int n_oc = 0;
  b.ws = ws;
  rc_observation **obs = calloc((size_t)conns * (size_t)per, sizeof *obs);
  double *ms = calloc((size_t)rounds, sizeof *ms);
  if (!ctx || !ws || !obs || !ms || (lean && !oc)) {
    fprintf(stderr, "rcoap-bench: out of memory\n");
    return 1;
  }
  int st = 0;
  for (int i = 0; i <= conns && st == 0; i++)
    if (rc_context_new(&ctx[i], &o) != RC_OK)
      st = 1;
  rc_request_opts ro = {0};
  ro.timeout_ms = cfg->timeout_ms;
  /* Connections in batches of 10, each batch registered before the next. */
  for (int i = 0; i < conns && st == 0; i += 10) {
    int end = i + 10 < conns ? i + 10 : conns;
    for (int c = i; c < end && st == 0 && lean; c++) {
      for (int k = 0; k < per; k++)
        ws[c * per + k].b = &b;
      if (obs_conn_open(&oc[n_oc++], &b, cfg, (uint32_t)(c * per),
                        (uint32_t)per) != 0) {
        fprintf(stderr, "rcoap-bench: cannot observe %s\n", cfg->uri);
        st = 1;
      }
    }
    for (int c = i; c < end && st == 0 && !lean; c++)
      for (int k = 0; k < per; k++) {
        obs_watcher *w = &ws[c * per + k];
        w->b = &b;
        if (rc_observe(ctx[c], cfg->uri, &ro, obs_on_note, w,
                       &obs[c * per + k]) != RC_OK) {
          fprintf(stderr, "rcoap-bench: cannot observe %s\n", cfg->uri);
          st = 1;
          break;
        }
      }
    if (st == 0 &&
        run_until(&b, &b.regs, (long)end * per, cfg->connect_timeout_s * 3000) != 0) {
      fprintf(stderr, "rcoap-bench: only %ld of %d observations registered\n",
              b.regs, end * per);
      st = 1;
    }
  }
  long total = (long)conns * per;
  int done = 0;
  double sum_ms = 0;
  if (st == 0 && !cfg->quiet)
    printf("rcoap-bench --observe: %d connection(s) x %d observation(s) = %ld "
           "observers of %s; trigger %s %s\n",
           conns, per, total, cfg->uri, rc_code_name(cfg->trigger_method),
           trig_uri);
  double cpu0 = bench_cpu_s(); /* this process over the rounds */
  for (int r = 0; r < rounds && st == 0 && !g_stop; r++) {
    char payload[32];
    int n = snprintf(payload, sizeof payload, "round %d", r + 1);
    rc_request_opts tr = {0};
    tr.payload = (const uint8_t *)payload;
    tr.payload_len = (size_t)n;
    tr.timeout_ms = cfg->timeout_ms;
    long want = b.notes + total;
    b.round = (uint32_t)r + 1;
    if (b.val_set) {
      memcpy(b.prev, b.val, b.val_len);
      b.prev_len = b.val_len;
      b.prev_set = 1;
    }
    b.val_set = 0;
    b.trigger_done = 0;
    uint64_t t0 = now_ns();
    if (rc_request(ctx[conns], cfg->trigger_method, trig_uri, &tr,
                   obs_on_trigger, &b) != RC_OK) {
      fprintf(stderr, "rcoap-bench: cannot send the trigger to %s\n", trig_uri);
      st = 1;
      break;
    }
    b.busy = cfg->busy_poll; /* only while the round is timed */
    int rc = run_until(&b, &b.notes, want, cfg->timeout_ms);
    uint64_t t1 = now_ns();
    b.busy = 0;
    run_until(&b, &b.trigger_done, 1, cfg->timeout_ms);
    if (rc != 0) {
      printf("round %d: only %ld of %ld notifications within %u ms\n", r + 1,
             b.notes - (want - total), total, cfg->timeout_ms);
      b.notes = want; /* count the next round from here */
      continue;
    }
    ms[done] = (double)(t1 - t0) / 1e6;
    sum_ms += ms[done];
    if (!cfg->quiet)
      printf("round %d: %ld notifications in %.2f ms\n", r + 1, total,
             ms[done]);
    done++;
    /* Drain stragglers (none expected) before the next round. */
    run_until(&b, &b.notes, want + 1, 50);
  }
  double cpu_us = (bench_cpu_s() - cpu0) * 1e6;
  if (done) {
    qsort(ms, (size_t)done, sizeof *ms, cmp_d);
    printf("RESULT observe observers=%ld connections=%d rounds=%d p50_ms=%.2f "
           "max_ms=%.2f notes_per_s=%.0f errors=%ld bench_cpu_us=%.2f\n",
           total, conns, done, ms[(done - 1) / 2], ms[done - 1],
           sum_ms > 0 ? (double)total * done / (sum_ms / 1e3) : 0, b.errors,
           cpu_us / ((double)total * rounds));
  }
  fflush(stdout);
  b.closing = 1;
  for (int i = 0; i < n_oc; i++)
    obs_conn_free(&oc[i]);
  for (int i = 0; i < conns * per; i++)
    if (obs[i])
      rc_observe_cancel(obs[i]);
  for (int i = 0; i <= conns; i++)
    if (ctx[i])
      rc_context_free(ctx[i]);
  for (int i = 0; i < 1000 && uv_run(&b.loop, UV_RUN_NOWAIT); i++)
    ;
  uv_loop_close(&b.loop);
  free(ms);
  free(oc);
  free(ws);
  free(obs);
  free(ctx);
  if (st)
    return 1;
  return done == rounds && b.errors == 0 ? 0 : 1;
}
