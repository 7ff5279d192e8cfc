/*
 * For unit tests on a real libuv loop: run it until a condition holds,
 * or for a while, under a guard timer that fails the test. The fixture f
 * has uv_loop_t loop, uv_timer_t guard (guard.data = &f->timed_out) and
 * int timed_out. And the end of such a loop (test_loop_end). Include
 * after cmocka.h.
 */
#ifndef RCOAP_TEST_RUN_H
#define RCOAP_TEST_RUN_H

#include <uv.h>

static inline void test_run_guard_cb(uv_timer_t *t) { *(int *)t->data = 1; }

/* Runs f's loop until cond holds; fails after ms. */
#define RUN_UNTIL_MS(f, cond, ms)                                              \
  do {                                                                         \
    (f)->timed_out = 0;                                                        \
    uv_timer_start(&(f)->guard, test_run_guard_cb, (ms), 0);                   \
    while (!(cond) && !(f)->timed_out)                                         \
      uv_run(&(f)->loop, UV_RUN_ONCE);                                         \
    uv_timer_stop(&(f)->guard);                                                \
    if (!(cond))                                                               \
      fail_msg("timed out waiting for: %s", #cond);                            \
  } while (0)

/* Runs f's loop for about ms (its other timers fire meanwhile). */
#define RUN_FOR(f, ms)                                                         \
  do {                                                                         \
    uint64_t end_ = uv_now(&(f)->loop) + (ms);                                 \
    (f)->timed_out = 0;                                                        \
    uv_timer_start(&(f)->guard, test_run_guard_cb, (ms), 0);                   \
    while (!(f)->timed_out && uv_now(&(f)->loop) < end_)                       \
      uv_run(&(f)->loop, UV_RUN_ONCE);                                         \
    uv_timer_stop(&(f)->guard);                                                \
  } while (0)

/* Ends a test's loop once what ran on it is freed: closes its guard
 * timer, runs the loop until every handle is closed (bounded), and fails
 * if one is left. */
static inline void test_loop_end(uv_loop_t *loop, uv_timer_t *guard) {
  uv_close((uv_handle_t *)guard, NULL);
  for (int i = 0; i < 1000 && uv_run(loop, UV_RUN_NOWAIT); i++)
    ;
  assert_int_equal(uv_loop_close(loop), 0);
}

#endif
