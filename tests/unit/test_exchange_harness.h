/*
 * Shared harness for the exchange tests: two ends (a session and, unless
 * raw, an exchange on it) joined in memory, and the pump that moves what
 * one end queued into the other until both are quiet. Each test keeps its
 * own peer / pair structures (what a server end does differs per test)
 * and builds them from these pieces. Header only (static inline), so
 * every test stays one executable. Included by tests/unit/test_exchange*.c.
 */
#ifndef TEST_EXCHANGE_HARNESS_H
#define TEST_EXCHANGE_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rcoap/exchange.h"

/* Looks at one message on its way from -> to; returns nonzero to lose
 * it (the datagram never arrives). */
typedef int (*th_tap)(void *arg, rc_session *from, const uint8_t *d,
                      size_t len);

/* One end: a session with cfg and cb (cb->on_message and friends get
 * user), and an exchange with xcb on it, seeded with `seed` bytes; no
 * exchange when xcb is NULL (a raw end the test answers by hand). */
static inline void th_end_new(const rc_session_config *cfg,
                              const rc_session_callbacks *cb,
                              const rc_exchange_callbacks *xcb, void *user,
                              uint8_t seed, const rc_mem *mem, rc_time now,
                              rc_session **s, rc_exchange **x) {
  assert_int_equal(rc_session_new(s, cfg, cb, user, mem, now), RC_OK);
  *x = NULL;
  if (!xcb)
    return;
  uint8_t sd[16];
  memset(sd, seed, sizeof sd);
  assert_int_equal(rc_exchange_new(x, *s, xcb, user, sd, sizeof sd, mem),
                   RC_OK);
}

/* Frees an end; fail_all: its requests still pending are failed first
 * (RC_ERR_CLOSED), so their callers' results are final. */
static inline void th_end_free(rc_session *s, rc_exchange *x, int fail_all) {
  if (x && fail_all)
    rc_exchange_fail_all(x, RC_ERR_CLOSED);
  rc_exchange_free(x);
  rc_session_free(s);
}

/* Moves everything queued in from into to; expiry: from's timers run
 * first (UDP: a CON's retransmission timer starts there). Returns whether
 * anything moved. */
static inline int th_move(rc_session *from, rc_session *to, rc_time now,
                          int expiry, th_tap tap, void *arg) {
  const uint8_t *d;
  size_t len;
  int moved = 0;
  if (expiry)
    rc_session_handle_expiry(from, now);
  while (rc_session_pending(from, &d, &len) == RC_OK) {
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, d, len);
    assert_int_equal(rc_session_consume(from, len), RC_OK);
    if (!tap || !tap(arg, from, copy, len))
      rc_session_recv(to, copy, len, now);
    free(copy);
    moved = 1;
  }
  return moved;
}

/* Pumps both ways until neither end has anything queued; fails the test
 * after `rounds` rounds that each moved something. */
static inline void th_pump(rc_session *a, rc_session *b, rc_time now,
                           int rounds, int expiry, th_tap tap, void *arg) {
  for (int i = 0; i < rounds; i++) {
    int m = th_move(a, b, now, expiry, tap, arg);
    m |= th_move(b, a, now, expiry, tap, arg);
    if (!m)
      return;
  }
  fail_msg("pump did not settle");
}

#endif
