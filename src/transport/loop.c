/*
 * One timer per libuv loop (loop_int.h): the nodes of every connection on
 * the loop in one deadline heap, and one uv_timer_t armed for the earliest.
 * When it fires, every node due runs (rc__timerq_run), then the timer is
 * armed again for what is left. libuv only: nothing here knows what a
 * connection does with its deadline.
 */
#include <stddef.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "transport/loop_int.h"
#include "transport/park_int.h"

struct rc__loop {
  uv_timer_t timer;
  uv_loop_t *loop;
  rc__timerq q;
  rc_time armed; /* due of the running uv timer, RC_TIME_NEVER: stopped */
  size_t refs;
  rc__loop *next; /* this thread's list */
  const rc_mem *mem;
  rc__timer trim; /* after parking: give the heap's free pages back */
  void *park;     /* park.c's set, made by the first park */
};

/* One loop runs on one thread, so this list is only touched by it. */
static _Thread_local rc__loop *loops;

/* Each fire runs at most this many callbacks; the rest run 1 ms later
 * (libuv would run a timer restarted with timeout 0 again at once, in the
 * same phase), so that I/O is not starved by a burst of them. */
#define LOOP_RUN_MAX 4096u

static void loop_fire(uv_timer_t *t);

/* Parked connections freed their sessions, chains and exchanges while
 * what they keep lives outside the heap (common/slab.h): the heap's free
 * pages go back to the system. glibc gives back only the top of its heap
 * by itself; malloc_trim walks the free chunks (once a second at most). */
#define LOOP_TRIM_DELAY_MS 1000u

static void loop_trim(rc__timer *t) {
  (void)t;
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

static void loop_arm(rc__loop *l) {
  rc_time due = rc__timerq_next(&l->q);
  if (due == l->armed)
    return;
  if (due == RC_TIME_NEVER) {
    uv_timer_stop(&l->timer);
    l->armed = RC_TIME_NEVER;
    return;
  }
  rc_time now = uv_now(l->loop);
  uv_timer_start(&l->timer, loop_fire, due > now ? due - now : 0, 0);
  l->armed = due;
}

/* After a run: what is left over is due in 1 ms at the earliest. */
static void loop_rearm(rc__loop *l) {
  rc_time now = uv_now(l->loop);
  if (rc__timerq_next(&l->q) > now) {
    loop_arm(l);
    return;
  }
  uv_timer_start(&l->timer, loop_fire, 1, 0);
  l->armed = now + 1;
}

static void loop_fire(uv_timer_t *t) {
  rc__loop *l = t->data;
  l->armed = RC_TIME_NEVER;
  l->refs++; /* a callback may put the last other reference */
  rc__timerq_run(&l->q, uv_now(l->loop), LOOP_RUN_MAX);
  l->refs--;
  if (l->refs == 0) {
    rc__loop_put(l, NULL);
    return;
  }
  loop_rearm(l);
}

rc__loop *rc__loop_find(uv_loop_t *loop) {
  rc__loop *l = loops;
  while (l != NULL && l->loop != loop)
    l = l->next;
  return l;
}

uv_loop_t *rc__loop_uv(const rc__loop *l) { return l->loop; }

void **rc__loop_park_set(rc__loop *l) { return &l->park; }

rc__loop *rc__loop_get(uv_loop_t *loop) {
  rc__loop *l = rc__loop_find(loop);
  if (l == NULL) {
    /* The C library's allocator: the loop's state outlives the connection
     * that made it, and with it that connection's allocator. */
    const rc_mem *mem = rc_mem_default();
    l = mem->malloc(sizeof *l, mem->user);
    if (l == NULL)
      return NULL;
    uv_timer_init(loop, &l->timer);
    l->timer.data = l;
    l->loop = loop;
    l->mem = mem;
    l->armed = RC_TIME_NEVER;
    l->refs = 0;
    l->park = NULL;
    rc__timerq_init(&l->q, mem);
    rc__timer_init(&l->trim, loop_trim);
    l->next = loops;
    loops = l;
  }
  if (rc__timerq_reserve(&l->q, (uint32_t)(l->refs + 2 - l->q.len)) != RC_OK) {
    if (l->refs == 0)
      rc__loop_put(l, NULL);
    return NULL;
  }
  l->refs++;
  return l;
}

static void loop_closed(uv_handle_t *h) {
  rc__loop *l = h->data;
  rc__timerq_fini(&l->q);
  l->mem->free(l, l->mem->user);
}

void rc__loop_put(rc__loop *l, rc__timer *t) {
  if (t != NULL) {
    rc__timerq_cancel(&l->q, t);
    l->refs--;
  }
  if (l->refs > 0) {
    loop_arm(l);
    return;
  }
  rc__timerq_cancel(&l->q, &l->trim);
  if (l->park != NULL)
    rc__park_set_close(l->park);
  l->park = NULL;
  for (rc__loop **pp = &loops; *pp != NULL; pp = &(*pp)->next) {
    if (*pp == l) {
      *pp = l->next;
      break;
    }
  }
  uv_close((uv_handle_t *)&l->timer, loop_closed);
}

void rc__loop_timer_set(rc__loop *l, rc__timer *t, rc_time due) {
  (void)rc__timerq_set(&l->q, t, due); /* room reserved by rc__loop_get */
  loop_arm(l);
}

void rc__loop_parked(rc__loop *l) {
  if (!rc__timer_queued(&l->trim))
    rc__loop_timer_set(l, &l->trim, uv_now(l->loop) + LOOP_TRIM_DELAY_MS);
}
