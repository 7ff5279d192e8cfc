/*
 * The parking set of a libuv loop (park_int.h): an epoll instance of the
 * loop's own holding every parked socket, watched by one uv_poll_t, and
 * the records, listed for the owner's rc_conn_wake_parked and
 * rc_conn_drop_parked. One readiness of the set runs a batch of events:
 * each wakes its record's connection (conn.c); a record freed during a
 * batch (woken, dropped by a callback) keeps its memory until the batch
 * ends, so a later event of the same batch for it is skipped, not a use
 * after free. The profiles records share live in the set, with one spare
 * made before a park so that a park that has begun cannot fail; the set
 * and its profiles come from the C library (shared, like the loop's
 * state), each record from its listener's allocator.
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
  rc__parked *head;     /* the live records */
  size_t n;
  rc__parked *dead;     /* freed during the batch, linked through prev */
  unsigned batch;       /* depth of running batches */
  rc__park_prof *profs; /* in use */
  rc__park_prof *spare; /* for rc__park_reown */
} park_set;

/* Events taken from the set per readiness (the rest: the next turn). */
#define PARK_EVENTS 64

/* With the C library's allocator the records live in pages of their own
 * (common/slab.h), like the conns they replace. */
static _Thread_local rc__slab park_slab = RC__SLAB_INIT(sizeof(rc__parked));

uv_loop_t *rc__park_loop(const rc__parked *pr) {
  return rc__loop_uv(pr->prof->lt);
}

void rc__park_arm(rc__parked *pr, rc_time due) {
  rc__loop_timer_set(pr->prof->lt, &pr->timer, due);
}

#ifdef __linux__

static park_set *park_set_of(const rc__park_prof *prof) {
  return *rc__loop_park_set(prof->lt);
}

static void park_timer_cb(rc__timer *t) {
  rc__parked *pr = (rc__parked *)((char *)t - offsetof(rc__parked, timer));
  rc__conn_wake(pr, 1);
}

/* Gives a reference to prof back; the last one frees the callbacks it
 * owns, and prof becomes the set's spare (or goes). */
static void park_prof_put(park_set *set, rc__park_prof *prof) {
  if (--prof->refs > 0)
    return;
  for (rc__park_prof **pp = &set->profs; *pp != NULL; pp = &(*pp)->next) {
    if (*pp == prof) {
      *pp = prof->next;
      break;
    }
  }
  if (prof->cb_owned)
    prof->mem->free((void *)prof->cb, prof->mem->user);
  if (set->spare == NULL)
    set->spare = prof;
  else
    free(prof);
}

/* A reference to the set's profile like want: one in use, else a new one
 * (alloc set: allocated, so that the spare stays for rc__park_reown; else
 * the spare). NULL: no memory. */
static rc__park_prof *park_prof_get(park_set *set, rc__loop *lt,
                                    const rc__park_prof *want, int alloc) {
  rc__park_prof *prof = NULL;
  if (!want->cb_owned) {
    for (prof = set->profs; prof != NULL; prof = prof->next)
      if (!prof->cb_owned && prof->cb == want->cb &&
          prof->user == want->user && prof->mem == want->mem &&
          prof->scfg == want->scfg && prof->idle_ms == want->idle_ms &&
          prof->park_ms == want->park_ms)
        break;
  }
  if (prof == NULL) {
    if (alloc) {
      prof = malloc(sizeof *prof);
    } else {
      prof = set->spare;
      set->spare = NULL;
    }
    if (prof == NULL)
      return NULL;
    *prof = *want;
    prof->lt = lt;
    prof->refs = 0;
    prof->next = set->profs;
    set->profs = prof;
  }
  prof->refs++;
  return prof;
}

static void park_mem_free(rc__parked *pr, const rc_mem *mem) {
  if (mem == rc_mem_default())
    rc__slab_free(&park_slab, pr);
  else
    mem->free(pr, mem->user);
}

/* Frees a record out of the set, with its profile's and the loop's
 * references (the last loop reference closes the set: last). */
static void park_release(park_set *set, rc__parked *pr) {
  rc__park_prof *prof = pr->prof;
  rc__loop *lt = prof->lt;
  const rc_mem *mem = prof->mem;
  park_prof_put(set, prof);
  rc__loop_put(lt, &pr->timer);
  park_mem_free(pr, mem);
}

static void park_batch_begin(park_set *set) { set->batch++; }

/* The batch's dead go (the last may give the loop's last reference: the
 * set then closes, its memory freed on a later turn). */
static void park_batch_end(park_set *set) {
  if (--set->batch > 0)
    return;
  while (set->dead != NULL) {
    rc__parked *pr = set->dead;
    set->dead = pr->prev;
    park_release(set, pr);
  }
}

static void park_poll_cb(uv_poll_t *h, int status, int events) {
  park_set *set = h->data;
  (void)events;
  if (status < 0)
    return;
  struct epoll_event ev[PARK_EVENTS];
  int n = epoll_wait(set->epfd, ev, PARK_EVENTS, 0);
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

static void park_set_closed(uv_handle_t *h) {
  park_set *set = h->data;
  while (set->profs != NULL) { /* none: every record held a reference */
    rc__park_prof *prof = set->profs;
    set->profs = prof->next;
    free(prof);
  }
  free(set->spare);
  free(set);
}

void rc__park_set_close(void *p) {
  park_set *set = p;
  uv_close((uv_handle_t *)&set->poll, park_set_closed); /* leaves epfd */
  close(set->epfd);
}

rc__parked *rc__park_new(uv_loop_t *loop, const rc__park_prof *want) {
  const rc_mem *mem = want->mem;
  rc__parked *pr = mem == rc_mem_default()
                       ? rc__slab_alloc(&park_slab)
                       : mem->malloc(sizeof *pr, mem->user);
  if (pr == NULL)
    return NULL;
  memset(pr, 0, sizeof *pr);
  pr->fd = -1;
  rc__timer_init(&pr->timer, park_timer_cb);
  rc__loop *lt = rc__loop_get(loop);
  park_set *set = lt != NULL ? park_set_get(lt) : NULL;
  if (set != NULL && set->spare == NULL)
    set->spare = malloc(sizeof *set->spare); /* for rc__park_reown */
  if (set != NULL && set->spare != NULL)
    pr->prof = park_prof_get(set, lt, want, 1);
  if (pr->prof == NULL) {
    if (lt != NULL)
      rc__loop_put(lt, &pr->timer);
    park_mem_free(pr, mem);
    return NULL;
  }
  return pr;
}

void rc__park_reown(rc__parked *pr, const rc_conn_callbacks *cb, void *user,
                    int cb_owned) {
  rc__park_prof *old = pr->prof;
  if (old->cb == cb && old->user == user && old->cb_owned == !!cb_owned)
    return;
  park_set *set = park_set_of(old);
  rc__park_prof want = *old;
  want.cb = cb;
  want.user = user;
  want.cb_owned = (uint8_t)!!cb_owned;
  /* the spare made by rc__park_new is there: no allocation */
  pr->prof = park_prof_get(set, old->lt, &want, 0);
  old->cb_owned = 0; /* the callbacks the conn owned are want's now */
  park_prof_put(set, old);
}

rc_err rc__park_add(rc__parked *pr) {
  park_set *set = park_set_of(pr->prof);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = pr};
  if (epoll_ctl(set->epfd, EPOLL_CTL_ADD, pr->fd, &ev) != 0)
    return RC_ERR_IO;
  pr->prev = NULL;
  pr->next = set->head;
  if (set->head != NULL)
    set->head->prev = pr;
  set->head = pr;
  pr->listed = 1;
  if (set->n++ == 0)
    uv_poll_start(&set->poll, UV_READABLE, park_poll_cb);
  return RC_OK;
}

void rc__park_hold(rc__parked *pr, rc_time due) {
  park_set *set = park_set_of(pr->prof);
  struct epoll_event ev = {0};
  (void)epoll_ctl(set->epfd, EPOLL_CTL_DEL, pr->fd, &ev);
  rc__park_arm(pr, due);
}

void rc__park_free(rc__parked *pr, int keep_cb) {
  park_set *set = park_set_of(pr->prof);
  if (keep_cb)
    pr->prof->cb_owned = 0; /* a conn owns them now (one record's only) */
  if (pr->listed) {
    pr->listed = 0;
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
  }
  pr->dead = 1;
  if (set->batch > 0) {
    pr->prev = set->dead; /* next stays: a walk may still go through it */
    set->dead = pr;
    return;
  }
  park_release(set, pr);
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
    if (!pr->dead && pr->prof->user == user) {
      fn(pr);
      n++;
    }
  }
  park_batch_end(set);
  return n;
}

#else /* no parking: rc__park_new never makes a record */

rc__parked *rc__park_new(uv_loop_t *loop, const rc__park_prof *want) {
  (void)loop;
  (void)want;
  return NULL;
}
void rc__park_set_close(void *set) { (void)set; }
void rc__park_reown(rc__parked *pr, const rc_conn_callbacks *cb, void *user,
                    int cb_owned) {
  (void)pr;
  (void)cb;
  (void)user;
  (void)cb_owned;
}
rc_err rc__park_add(rc__parked *pr) {
  (void)pr;
  return RC_ERR_IO;
}
void rc__park_hold(rc__parked *pr, rc_time due) { rc__park_arm(pr, due); }
void rc__park_free(rc__parked *pr, int keep_cb) {
  (void)pr;
  (void)keep_cb;
}
static size_t park_each(uv_loop_t *loop, void *user,
                        void (*fn)(rc__parked *pr)) {
  (void)loop;
  (void)user;
  (void)fn;
  return 0;
}

#endif

static void park_wake_one(rc__parked *pr) { rc__conn_wake(pr, 0); }

/* As rc_conn_close(RC_CONN_CLOSE_RESET) would: RST, no linger. */
static void park_drop_one(rc__parked *pr) {
  struct linger lg = {.l_onoff = 1, .l_linger = 0};
  (void)setsockopt(pr->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(pr->fd);
  rc__park_free(pr, 0);
}

size_t rc_conn_wake_parked(uv_loop_t *loop, void *user) {
  return park_each(loop, user, park_wake_one);
}

size_t rc_conn_drop_parked(uv_loop_t *loop, void *user) {
  return park_each(loop, user, park_drop_one);
}
