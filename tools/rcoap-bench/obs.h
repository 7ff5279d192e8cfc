/*
 * rcoap-bench --observe's state (observe.c) and its lean coap+tcp
 * observing connection (obsconn.c).
 */
#ifndef RCOAP_BENCH_OBS_H
#define RCOAP_BENCH_OBS_H

#include <uv.h>

#include "bench.h"

typedef struct obs_watcher {
  struct obs_run *b;
  int registered;
  uint32_t round; /* the last round that notified it */
  uint32_t seq;   /* its last Observe value */
  long notes;
} obs_watcher;

typedef struct obs_run {
  uv_loop_t loop;
  long notes;  /* notifications after registration */
  long regs;   /* first answers (registrations) */
  long errors;
  long trigger_done;
  int timed_out;
  int busy;    /* --busy-poll, while a round is timed */
  int closing; /* the run is over: closes are not errors */
  obs_watcher *ws;
  uint32_t round; /* the current round, from 1 */
  /* The round's value (the first notification's payload) and the last
   * round's. */
  uint8_t val[64], prev[64];
  size_t val_len, prev_len;
  int val_set, prev_set;
  uint8_t rbuf[256 * 1024]; /* one read of the lean path */
} obs_run;

/* One coap+tcp connection of observers first .. first+n-1. */
typedef struct obs_conn {
  uv_poll_t poll;
  obs_run *b;
  rc_session *s;
  int sock, fd; /* fd: sock while polled, else -1 */
  uint32_t first, n;
  uint8_t *carry; /* a partial frame left by the last read */
  size_t carry_len, carry_cap;
} obs_conn;

/* Connects (blocking), sends the CSM and the n registrations through the
 * session, then polls the socket on b->loop. Returns 0 or -1. */
int obs_conn_open(obs_conn *c, obs_run *b, const bench_cfg *cfg,
                  uint32_t first, uint32_t n);
void obs_conn_free(obs_conn *c);

/* The check of one notification to a registered observer (both paths):
 * Observe present (have_obs) and not the observer's last (seq), the
 * payload the round's (the first notification of a round sets it; it must
 * differ from the last round's), the observer not yet notified in this
 * round. Counts it (b->notes) and returns 0, or returns -1. */
int obs_check(obs_run *b, obs_watcher *w, int have_obs, uint32_t seq,
              const uint8_t *pl, size_t plen);

#endif
