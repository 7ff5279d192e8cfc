/*
 * The deadline heap of timerq.h: an array of node pointers ordered as a
 * binary min-heap by due; every node knows its index (slot - 1), so moving
 * or removing one needs no search.
 */
#include "common/timerq.h"

static void tq_place(rc__timerq *q, uint32_t i, rc__timer *t) {
  q->heap[i] = t;
  t->slot = i + 1;
}

static void tq_up(rc__timerq *q, uint32_t i) {
  rc__timer *t = q->heap[i];
  while (i > 0) {
    uint32_t parent = (i - 1) / 2;
    if (q->heap[parent]->due <= t->due)
      break;
    tq_place(q, i, q->heap[parent]);
    i = parent;
  }
  tq_place(q, i, t);
}

static void tq_down(rc__timerq *q, uint32_t i) {
  rc__timer *t = q->heap[i];
  for (;;) {
    uint32_t kid = 2 * i + 1;
    if (kid >= q->len)
      break;
    if (kid + 1 < q->len && q->heap[kid + 1]->due < q->heap[kid]->due)
      kid++;
    if (q->heap[kid]->due >= t->due)
      break;
    tq_place(q, i, q->heap[kid]);
    i = kid;
  }
  tq_place(q, i, t);
}

void rc__timerq_init(rc__timerq *q, const rc_mem *mem) {
  q->heap = NULL;
  q->len = q->cap = 0;
  q->running = 0;
  q->run_now = 0;
  q->mem = mem != NULL ? mem : rc_mem_default();
}

void rc__timerq_fini(rc__timerq *q) {
  for (uint32_t i = 0; i < q->len; i++)
    q->heap[i]->slot = 0;
  q->mem->free(q->heap, q->mem->user);
  q->heap = NULL;
  q->len = q->cap = 0;
}

rc_err rc__timerq_reserve(rc__timerq *q, uint32_t n) {
  if (n > UINT32_MAX / 2 - q->len)
    return RC_ERR_NOMEM;
  uint32_t want = q->len + n;
  if (want <= q->cap)
    return RC_OK;
  uint32_t cap = q->cap > 0 ? q->cap : 16;
  while (cap < want)
    cap *= 2;
  rc__timer **h = q->mem->realloc(q->heap, (size_t)cap * sizeof *h,
                                  q->mem->user);
  if (h == NULL)
    return RC_ERR_NOMEM;
  q->heap = h;
  q->cap = cap;
  return RC_OK;
}

void rc__timerq_cancel(rc__timerq *q, rc__timer *t) {
  if (t->slot == 0)
    return;
  uint32_t i = t->slot - 1;
  t->slot = 0;
  rc__timer *last = q->heap[--q->len];
  if (last == t)
    return;
  q->heap[i] = last;
  last->slot = i + 1;
  /* the moved node may belong above or below its new place */
  tq_up(q, i);
  tq_down(q, last->slot - 1);
}

rc_err rc__timerq_set(rc__timerq *q, rc__timer *t, rc_time due) {
  if (due == RC_TIME_NEVER) {
    rc__timerq_cancel(q, t);
    return RC_OK;
  }
  if (q->running && due <= q->run_now)
    due = q->run_now + 1; /* the next run, not this one */
  if (t->slot != 0) {
    rc_time old = t->due;
    t->due = due;
    if (due < old)
      tq_up(q, t->slot - 1);
    else if (due > old)
      tq_down(q, t->slot - 1);
    return RC_OK;
  }
  if (q->len == q->cap && rc__timerq_reserve(q, 1) != RC_OK)
    return RC_ERR_NOMEM;
  t->due = due;
  q->heap[q->len] = t;
  t->slot = ++q->len;
  tq_up(q, q->len - 1);
  return RC_OK;
}

rc__timer *rc__timerq_pop(rc__timerq *q, rc_time now) {
  if (q->len == 0 || q->heap[0]->due > now)
    return NULL;
  rc__timer *t = q->heap[0];
  rc__timerq_cancel(q, t);
  return t;
}

size_t rc__timerq_run(rc__timerq *q, rc_time now, size_t max) {
  /* Nodes a callback sets for a time <= now are moved to now + 1 by
   * rc__timerq_set while this runs: they wait for the next run instead of
   * keeping this one going. */
  q->running = 1;
  q->run_now = now;
  size_t n = 0;
  while (n < max) {
    rc__timer *t = rc__timerq_pop(q, now);
    if (t == NULL)
      break;
    n++;
    t->fn(t);
  }
  q->running = 0;
  return n;
}
