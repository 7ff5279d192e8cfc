/*
 * One rcoap-bench worker thread: an epoll loop over its share of the
 * connections, with connection pacing, the measurement window, request
 * timeouts and its own CPU time.
 */
#include <errno.h>
#include <sys/epoll.h>

#include "bench.h"

static uint64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Starts as many connections as the pacing allows. */
static void worker_connect_more(worker *w, uint64_t t) {
  const bench_cfg *cfg = w->cfg;
  for (unsigned guard = 0; guard < w->n && w->next_connect < w->n; guard++) {
    if (w->waiting >= cfg->connect_inflight)
      return;
    if (w->connect_rate > 0) {
      double allowed = (double)(t - w->connect_t0) / 1e9 * w->connect_rate + 1;
      if ((double)w->next_connect >= allowed)
        return;
    }
    bconn *c = &w->conns[w->next_connect++];
    if (conn_start(c, cfg, t) != 0)
      conn_fail(c, 1);
  }
}

/* Expires requests outstanding longer than the timeout, and connections
 * that have not become usable within the connect timeout. */
static void worker_scan(worker *w, uint64_t t) {
  const bench_cfg *cfg = w->cfg;
  uint64_t to = (uint64_t)cfg->timeout_ms * 1000000ull;
  uint64_t cto = (uint64_t)(cfg->connect_timeout_s * 1e9);
  unsigned depth = cfg->idle ? 1 : cfg->depth;
  for (unsigned i = 0; i < w->next_connect; i++) {
    bconn *c = &w->conns[i];
    if (cfg->handshakes && c->state == C_DONE && !w->stop_sending) {
      /* a failed cycle starts again here, at most every scan interval */
      if (conn_start(c, cfg, t) != 0)
        conn_fail(c, 1);
      continue;
    }
    if ((c->state == C_CONNECTING || c->state == C_WAIT_CSM) &&
        t - c->started_ns > cto) {
      conn_fail(c, 1);
      continue;
    }
    if (cfg->use_udp && (c->state == C_OPEN || c->state == C_WAIT_CSM) &&
        c->s != NULL && rc_chain_expiry(c->chain) <= ms_of(t)) {
      /* CON retransmissions (RFC 7252 §4.2); DTLS handshake flights */
      rc_chain_handle_expiry(c->chain, ms_of(t));
      if (conn_flush(c) != 0) {
        conn_fail(c, 1);
        continue;
      }
    }
    if (c->state != C_OPEN || c->outstanding == 0 || to == 0)
      continue;
    for (unsigned si = 0; si < depth; si++) {
      slot *sl = &c->slots[si];
      if (sl->used && t - sl->sent_ns > to) {
        sl->used = 0;
        sl->gen++;
        c->free_slots[c->nfree++] = (uint16_t)si;
        c->outstanding--;
        w->in_flight--;
        if (sl->sent_ns >= w->win_start && t < w->win_end)
          w->timeouts++;
      }
    }
  }
}

void *worker_run(void *arg) {
  worker *w = arg;
  const bench_cfg *cfg = w->cfg;
  struct epoll_event evs[EVENTS_MAX];
  uint64_t t = now_ns();
  w->connect_t0 = t;
  /* -n counts every request; -d only those of the window (set below). */
  w->win_start = cfg->count ? 0 : UINT64_MAX;
  w->win_end = UINT64_MAX;
  uint64_t next_scan = t + SCAN_INTERVAL_NS;
  uint64_t hold_end = UINT64_MAX;
  uint64_t drain_end = UINT64_MAX;
  for (;;) {
    t = now_ns();
    if (g_stop)
      break;
    if (w->next_connect < w->n)
      worker_connect_more(w, t);
    if (cfg->handshakes && w->all_open_ns == 0) {
      /* connections never stay open: the window starts after the
       * warm-up, counted from the first connect */
      w->all_open_ns = t;
      w->win_start = t + (uint64_t)(cfg->warmup_s * 1e9);
      w->win_end = w->win_start + (uint64_t)(cfg->duration_s * 1e9);
    }
    if (w->all_open_ns == 0 && w->next_connect == w->n && w->waiting == 0) {
      w->all_open_ns = t;
      if (!cfg->idle && !cfg->count) {
        w->win_start = t + (uint64_t)(cfg->warmup_s * 1e9);
        w->win_end = w->win_start + (uint64_t)(cfg->duration_s * 1e9);
      }
    }
    if (cfg->idle) {
      if (w->all_open_ns && w->idle_answered + w->failed >= w->n &&
          w->in_flight == 0 && hold_end == UINT64_MAX)
        hold_end = cfg->idle_hold_s > 0
                       ? t + (uint64_t)(cfg->idle_hold_s * 1e9)
                       : UINT64_MAX - 1;
      if (t >= hold_end)
        break;
    } else {
      if (!w->stop_sending && (t >= w->win_end ||
                               (cfg->count && w->quota == 0 && w->all_open_ns))) {
        w->stop_sending = 1;
        drain_end = t + (uint64_t)cfg->timeout_ms * 1000000ull;
      }
      if (w->stop_sending && (cfg->count == 0 || w->in_flight == 0 ||
                              t >= drain_end))
        break;
      if (w->all_open_ns && w->open_now == 0 && !cfg->handshakes)
        break; /* nothing connected (any more) */
    }
    /* this thread's own CPU time over the window: the generator's cost */
    if (!w->cpu_started && t >= w->win_start) {
      w->cpu_start = thread_cpu_ns();
      w->cpu_wall_start = now_ns();
      w->cpu_started = 1;
    }
    if (w->cpu_started && !w->cpu_ended && t >= w->win_end) {
      w->cpu_end = thread_cpu_ns();
      w->cpu_wall_end = now_ns();
      w->cpu_ended = 1;
    }
    if (t >= next_scan) {
      worker_scan(w, t);
      next_scan = t + SCAN_INTERVAL_NS;
    }
    int timeout_ms = 100;
    if (w->next_connect < w->n)
      timeout_ms = 1;
    else if (w->win_end != UINT64_MAX && w->win_end > t &&
             (w->win_end - t) / 1000000ull < 100)
      timeout_ms = (int)((w->win_end - t) / 1000000ull) + 1;
    int n = epoll_wait(w->ep, evs, EVENTS_MAX, timeout_ms);
    if (n < 0 && errno != EINTR)
      break;
    t = now_ns();
    for (int i = 0; i < n; i++) {
      bconn *c = evs[i].data.ptr;
      conn_on_event(c, evs[i].events, t);
      if (c->state == C_OPEN && c->s != NULL && c->outstanding == 0 &&
          !w->stop_sending) {
        /* just opened (the CSM arrived): start the pipeline */
        conn_fill(c);
        if (conn_flush(c) != 0)
          conn_fail(c, 1);
      }
    }
  }
  w->end_ns = now_ns();
  if (w->cpu_started && !w->cpu_ended) {
    w->cpu_end = thread_cpu_ns();
    w->cpu_wall_end = now_ns();
    w->cpu_ended = 1;
  }
  return NULL;
}

