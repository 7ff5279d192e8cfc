/*
 * The parking set of a libuv loop (park_int.h): an epoll instance of the
 * loop's own holding every parked socket, watched by one uv_poll_t, and
 * the records, listed for the owner's rc_conn_wake_parked and
 * rc_conn_drop_parked. One readiness of the set runs a batch of events:
 * each wakes its record's connection (conn.c); a record freed during a
 * batch (woken, dropped by a callback) keeps its memory until the batch
 * ends, so a later event of the same batch for it is skipped, not a use
 * after free.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/epoll.h>
#endif

#include "common/slab.h"
#include "transport/park_int.h"

typedef struct park_set {
  uv_poll_t poll;
  int epfd;
  rc__parked *head;  /* the live records */
  size_t n;
  rc__parked *dead;  /* freed during the batch, linked through prev */
  unsigned batch;    /* depth of running batches */
} park_set;

/* Events taken from the set per readiness (the rest: the next turn). */
#define PARK_EVENTS 64

/* With the C library's allocator the records live in pages of their own
 * (common/slab.h), like the conns they replace. */
static _Thread_local rc__slab park_slab = RC__SLAB_INIT(sizeof(rc__parked));

static void park_timer_cb(rc__timer *t) {
  rc__parked *pr = (rc__parked *)((char *)t - offsetof(rc__parked, timer));
  rc__conn_wake(pr, 1);
}

uv_loop_t *rc__park_loop(const rc__parked *pr) { return rc__loop_uv(pr->lt); }

rc__parked *rc__park_new(uv_loop_t *loop, const rc_mem *mem) {
#ifndef __linux__
  (void)loop;
  (void)mem;
  return NULL;
#else
  rc__parked *pr = mem == rc_mem_default()
                       ? rc__slab_alloc(&park_slab)
                       : mem->malloc(sizeof *pr, mem->user);
  if (pr == NULL)
    return NULL;
  memset(pr, 0, sizeof *pr);
  pr->mem = mem;
  pr->fd = -1;
  pr->lt = rc__loop_get(loop);
  if (pr->lt == NULL) {
    if (mem == rc_mem_default())
      rc__slab_free(&park_slab, pr);
    else
      mem->free(pr, mem->user);
    return NULL;
  }
  rc__timer_init(&pr->timer, park_timer_cb);
  return pr;
#endif
}

static void park_mem_free(rc__parked *pr) {
  rc__loop_put(pr->lt, &pr->timer);
  const rc_mem *mem = pr->mem;
  if (mem == rc_mem_default())
    rc__slab_free(&park_slab, pr);
  else
    mem->free(pr, mem->user);
}

#ifdef __linux__

static void park_batch_begin(park_set *set) { set->batch++; }

static void park_batch_end(park_set *set) {
  if (--set->batch > 0)
    return;
  while (set->dead != NULL) {
    rc__parked *pr = set->dead;
    set->dead = pr->prev;
    park_mem_free(pr);
  }
}

static void park_poll_cb(uv_poll_t *h, int status, int events) {
  park_set *set = h->data;
  (void)events;
  if (status < 0)
    return;
  struct epoll_event ev[PARK_EVENTS];
  int n = epoll_wait(set->epfd, ev, PARK_EVENTS, 0);
  /* the loop's state (and this set) stays while a record is alive or
   * dead in this batch: every one of them holds a reference */
  park_batch_begin(set);
  for (int i = 0; i < n; i++) {
    rc__parked *pr = ev[i].data.ptr;
    if (!pr->dead)
      rc__conn_wake(pr, 0);
  }
  park_batch_end(set);
}

static park_set *park_set_get(rc__loop *lt) {
  void **slot = rc__loop_park_set(lt);
  if (*slot != NULL)
    return *slot;
  park_set *set = malloc(sizeof *set);
  if (set == NULL)
    return NULL;
  memset(set, 0, sizeof *set);
  set->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (set->epfd < 0) {
    free(set);
    return NULL;
  }
  if (uv_poll_init(rc__loop_uv(lt), &set->poll, set->epfd) != 0) {
    close(set->epfd);
    free(set);
    return NULL;
  }
  set->poll.data = set;
  *slot = set;
  return set;
}

static void park_set_closed(uv_handle_t *h) { free(h->data); }

void rc__park_set_close(void *p) {
  park_set *set = p;
  uv_close((uv_handle_t *)&set->poll, park_set_closed); /* leaves epfd */
  close(set->epfd);
}

rc_err rc__park_add(rc__parked *pr) {
  park_set *set = park_set_get(pr->lt);
  if (set == NULL)
    return RC_ERR_NOMEM;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = pr};
  if (epoll_ctl(set->epfd, EPOLL_CTL_ADD, pr->fd, &ev) != 0)
    return RC_ERR_IO;
  pr->prev = NULL;
  pr->next = set->head;
  if (set->head != NULL)
    set->head->prev = pr;
  set->head = pr;
  if (set->n++ == 0)
    uv_poll_start(&set->poll, UV_READABLE, park_poll_cb);
  return RC_OK;
}

void rc__park_hold(rc__parked *pr, rc_time due) {
  park_set *set = *rc__loop_park_set(pr->lt);
  struct epoll_event ev = {0};
  (void)epoll_ctl(set->epfd, EPOLL_CTL_DEL, pr->fd, &ev);
  rc__park_arm(pr, due);
}

void rc__park_free(rc__parked *pr) {
  park_set *set = *rc__loop_park_set(pr->lt);
  struct epoll_event ev = {0};
  (void)epoll_ctl(set->epfd, EPOLL_CTL_DEL, pr->fd, &ev); /* ENOENT: held */
  if (pr->prev != NULL)
    pr->prev->next = pr->next;
  else
    set->head = pr->next;
  if (pr->next != NULL)
    pr->next->prev = pr->prev;
  if (--set->n == 0)
    uv_poll_stop(&set->poll);
  pr->dead = 1;
  if (set->batch > 0) {
    pr->prev = set->dead; /* next stays: a walk may still go through it */
    set->dead = pr;
    return;
  }
  park_mem_free(pr);
}

/* Calls fn on every live record of user on loop (a walk is a batch: the
 * records freed on the way keep their links until it ends). */
static size_t park_each(uv_loop_t *loop, void *user,
                        void (*fn)(rc__parked *pr)) {
  rc__loop *lt = rc__loop_find(loop);
  park_set *set = lt != NULL ? *rc__loop_park_set(lt) : NULL;
  if (set == NULL)
    return 0;
  size_t n = 0;
  park_batch_begin(set);
  for (rc__parked *pr = set->head, *next; pr != NULL; pr = next) {
    next = pr->next;
    if (!pr->dead && pr->user == user) {
      fn(pr);
      n++;
    }
  }
  park_batch_end(set);
  return n;
}

#else /* no parking: rc__park_new never made a record */

void rc__park_set_close(void *set) { (void)set; }
rc_err rc__park_add(rc__parked *pr) {
  (void)pr;
  return RC_ERR_IO;
}
void rc__park_hold(rc__parked *pr, rc_time due) {
  rc__park_arm(pr, due);
}
void rc__park_free(rc__parked *pr) { park_mem_free(pr); }
static size_t park_each(uv_loop_t *loop, void *user,
                        void (*fn)(rc__parked *pr)) {
  (void)loop;
  (void)user;
  (void)fn;
  return 0;
}

#endif

void rc__park_arm(rc__parked *pr, rc_time due) {
  rc__loop_timer_set(pr->lt, &pr->timer, due);
}

static void park_wake_one(rc__parked *pr) { rc__conn_wake(pr, 0); }

/* As rc_conn_close(RC_CONN_CLOSE_RESET) would: RST, no linger. */
static void park_drop_one(rc__parked *pr) {
  struct linger lg = {.l_onoff = 1, .l_linger = 0};
  (void)setsockopt(pr->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(pr->fd);
  if (pr->cb_owned)
    pr->mem->free((void *)pr->cb, pr->mem->user);
  rc__park_free(pr);
}

size_t rc_conn_wake_parked(uv_loop_t *loop, void *user) {
  return park_each(loop, user, park_wake_one);
}

size_t rc_conn_drop_parked(uv_loop_t *loop, void *user) {
  return park_each(loop, user, park_drop_one);
}
