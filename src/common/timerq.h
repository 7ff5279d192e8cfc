/*
 * A queue of deadlines, sans-I/O: a binary min-heap of intrusive timer
 * nodes. Whoever owns the loop keeps one queue and one real timer armed for
 * rc__timerq_next(); each object with deadlines embeds one rc__timer
 * instead of a timer handle of its own (a libuv uv_timer_t is 152 bytes;
 * a node is 24, plus 8 in the heap array). Setting, moving and removing a
 * node is O(log n); finding the earliest deadline O(1). The queue never
 * reads a clock: the caller passes "now".
 */
#ifndef RCOAP_TIMERQ_H
#define RCOAP_TIMERQ_H

#include "rcoap/common.h"

typedef struct rc__timer rc__timer;

/* Called for a node whose deadline has come; the node is out of the
 * queue by then and may be set again (or freed) from the callback. */
typedef void (*rc__timer_fn)(rc__timer *t);

struct rc__timer {
  rc_time due;     /* valid while queued */
  uint32_t slot;   /* heap index + 1; 0: not queued */
  rc__timer_fn fn;
};

typedef struct rc__timerq {
  rc__timer **heap;
  uint32_t len, cap;
  int running;    /* inside rc__timerq_run */
  rc_time run_now;
  const rc_mem *mem;
} rc__timerq;

/* An empty queue (allocates nothing until a node is reserved). */
void rc__timerq_init(rc__timerq *q, const rc_mem *mem);
/* Frees the heap array; the nodes are the caller's. */
void rc__timerq_fini(rc__timerq *q);

/* Makes room for n more nodes than are queued now, so that setting them
 * cannot fail. Returns 0 or RC_ERR_NOMEM. */
rc_err rc__timerq_reserve(rc__timerq *q, uint32_t n);

/* A node not yet queued, with its callback. */
static inline void rc__timer_init(rc__timer *t, rc__timer_fn fn) {
  t->due = RC_TIME_NEVER;
  t->slot = 0;
  t->fn = fn;
}
static inline int rc__timer_queued(const rc__timer *t) { return t->slot != 0; }

/* Queues t for due, or moves it there if it is queued. A due of
 * RC_TIME_NEVER removes it; during rc__timerq_run a due <= its now is
 * now + 1. Returns 0, or RC_ERR_NOMEM when the heap must
 * grow and cannot (t is then not queued; reserve first to rule it out). */
rc_err rc__timerq_set(rc__timerq *q, rc__timer *t, rc_time due);

/* Takes t out of the queue (nothing if it is not in it). */
void rc__timerq_cancel(rc__timerq *q, rc__timer *t);

/* The earliest deadline, or RC_TIME_NEVER when the queue is empty. */
static inline rc_time rc__timerq_next(const rc__timerq *q) {
  return q->len > 0 ? q->heap[0]->due : RC_TIME_NEVER;
}

/* Removes and returns the earliest node whose deadline is <= now, or
 * NULL. The caller then calls its fn. */
rc__timer *rc__timerq_pop(rc__timerq *q, rc_time now);

/*
 * Runs the callbacks of the nodes due at now, earliest first, at most max
 * of them. A node that a callback sets for a time <= now is due at now + 1
 * instead (the next run: a callback cannot keep this one going). Returns
 * the number of callbacks run.
 */
size_t rc__timerq_run(rc__timerq *q, rc_time now, size_t max);

#endif
