/*
 * The deadline heap (src/common/timerq.c): order against a brute-force
 * model under random set / move / cancel, the run's bounds (a node set
 * again for now waits for the next run; at most max callbacks), and that a
 * reserved queue never allocates in rc__timerq_set.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "common/timerq.h"

enum { N = 300 };

typedef struct item {
  rc__timer t;
  int id;
  int fired;
  rc__timerq *q; /* for callbacks that set again */
  rc_time again; /* set for this from the callback, if not NEVER */
} item;

static int fire_order[N * 4];
static int fire_n;

static void on_fire(rc__timer *t) {
  item *it = (item *)((char *)t - offsetof(item, t));
  it->fired++;
  fire_order[fire_n++] = it->id;
  if (it->again != RC_TIME_NEVER)
    assert_int_equal(rc__timerq_set(it->q, &it->t, it->again), RC_OK);
}

/* The earliest due among queued items, the model's answer. */
static rc_time model_next(const item *it, const rc_time *due) {
  rc_time best = RC_TIME_NEVER;
  for (int i = 0; i < N; i++)
    if (rc__timer_queued(&it[i].t) && due[i] < best)
      best = due[i];
  return best;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void test_order_against_model(void **st) {
  (void)st;
  rc__timerq q;
  rc__timerq_init(&q, NULL);
  static item it[N];
  rc_time due[N];
  for (int i = 0; i < N; i++) {
    rc__timer_init(&it[i].t, on_fire);
    it[i].id = i;
    it[i].again = RC_TIME_NEVER;
    due[i] = RC_TIME_NEVER;
  }
  for (int step = 0; step < 20000; step++) {
    int i = (int)(next_rand() % N);
    unsigned op = (unsigned)(next_rand() % 4);
    if (op == 3) {
      rc__timerq_cancel(&q, &it[i].t);
      due[i] = RC_TIME_NEVER;
    } else {
      rc_time d = 1000 + next_rand() % 5000; /* repeats: equal deadlines */
      assert_int_equal(rc__timerq_set(&q, &it[i].t, d), RC_OK);
      due[i] = d;
    }
    assert_true(rc__timerq_next(&q) == model_next(it, due));
  }
  /* popping returns every queued node once, in order of deadline */
  rc_time last = 0;
  uint32_t left = q.len;
  rc__timer *t;
  while ((t = rc__timerq_pop(&q, RC_TIME_NEVER - 1)) != NULL) {
    item *x = (item *)((char *)t - offsetof(item, t));
    assert_false(rc__timer_queued(t));
    assert_true(due[x->id] >= last);
    last = due[x->id];
    due[x->id] = RC_TIME_NEVER;
    left--;
  }
  assert_int_equal(left, 0);
  assert_int_equal(q.len, 0);
  assert_true(rc__timerq_next(&q) == RC_TIME_NEVER);
  rc__timerq_fini(&q);
}

static void test_run_bounds(void **st) {
  (void)st;
  rc__timerq q;
  rc__timerq_init(&q, NULL);
  static item it[8];
  for (int i = 0; i < 8; i++) {
    rc__timer_init(&it[i].t, on_fire);
    it[i].id = i;
    it[i].q = &q;
    it[i].again = RC_TIME_NEVER;
    it[i].fired = 0;
  }
  fire_n = 0;
  /* 0..5 due by 100 (set out of order), 6 and 7 later */
  rc_time d[8] = {50, 10, 100, 30, 20, 40, 101, 500};
  for (int i = 0; i < 8; i++)
    assert_int_equal(rc__timerq_set(&q, &it[i].t, d[i]), RC_OK);
  /* node 1 sets itself for "now" again: that is the next run, not this */
  it[1].again = 100;
  assert_int_equal(rc__timerq_run(&q, 100, 4), 4); /* max */
  int want4[4] = {1, 4, 3, 5};
  for (int i = 0; i < 4; i++)
    assert_int_equal(fire_order[i], want4[i]);
  assert_true(it[1].t.due == 101); /* now + 1 */
  it[1].again = RC_TIME_NEVER;
  assert_int_equal(rc__timerq_run(&q, 100, 100), 2); /* 0 and 2 */
  assert_int_equal(fire_order[4], 0);
  assert_int_equal(fire_order[5], 2);
  assert_int_equal(rc__timerq_run(&q, 100, 100), 0);
  assert_int_equal(rc__timerq_run(&q, 101, 100), 2); /* 1 and 6 */
  assert_true(rc__timerq_next(&q) == 500);
  assert_int_equal(it[1].fired, 2);
  /* RC_TIME_NEVER takes a node out */
  assert_int_equal(rc__timerq_set(&q, &it[7].t, RC_TIME_NEVER), RC_OK);
  assert_false(rc__timer_queued(&it[7].t));
  assert_true(rc__timerq_next(&q) == RC_TIME_NEVER);
  rc__timerq_fini(&q);
}

/* An allocator that refuses once armed. */
static int refuse;
static size_t allocs;
static void *f_malloc(size_t n, void *u) {
  (void)u;
  if (refuse)
    return NULL;
  allocs++;
  return malloc(n);
}
static void *f_realloc(void *p, size_t n, void *u) {
  (void)u;
  if (refuse)
    return NULL;
  allocs++;
  return realloc(p, n);
}
static void f_free(void *p, void *u) {
  (void)u;
  free(p);
}

static void test_reserved_never_allocates(void **st) {
  (void)st;
  rc_mem mem = {f_malloc, f_realloc, f_free, NULL};
  rc__timerq q;
  rc__timerq_init(&q, &mem);
  static item it[64]; /* reserve rounds up to a power of two */
  assert_int_equal(rc__timerq_reserve(&q, 64), RC_OK);
  refuse = 1;
  for (int i = 0; i < 64; i++) {
    rc__timer_init(&it[i].t, on_fire);
    assert_int_equal(rc__timerq_set(&q, &it[i].t, (rc_time)(1000 - i)),
                     RC_OK);
  }
  /* one more than reserved: refused, and the node stays out */
  item extra;
  rc__timer_init(&extra.t, on_fire);
  assert_int_equal(rc__timerq_set(&q, &extra.t, 5), RC_ERR_NOMEM);
  assert_false(rc__timer_queued(&extra.t));
  assert_true(rc__timerq_next(&q) == 937);
  refuse = 0;
  rc__timerq_fini(&q);
  for (int i = 0; i < 64; i++)
    assert_false(rc__timer_queued(&it[i].t));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_order_against_model),
      cmocka_unit_test(test_run_bounds),
      cmocka_unit_test(test_reserved_never_allocates),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
