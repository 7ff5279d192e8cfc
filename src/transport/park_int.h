/*
 * Internal to src/transport: the parking set of one libuv loop. A parked
 * coap+tcp server connection has left libuv: its rc_conn (uv_tcp_t and
 * all) is freed, and what is left is one rc__parked record holding the
 * socket (a dup of the fd libuv closed), the session's 32-byte record, the
 * owner's callbacks and user pointer, and a node in the loop's timer queue
 * (keepalive, idle timeout). Every parked socket of the loop is in one
 * epoll set of the loop's own, watched by one uv_poll_t: a readable
 * socket, the peer's FIN or reset, or the record's deadline make conn.c
 * rebuild the connection (rc__conn_wake), which then handles the event as
 * an unparked connection would. What records share (owner, listener's
 * settings) is kept once per loop (rc__park_prof). park.c keeps the set and the records;
 * conn.c folds and rebuilds connections. Linux only (epoll): elsewhere
 * nothing parks (rc__park_new returns NULL).
 */
#ifndef RCOAP_PARK_INT_H
#define RCOAP_PARK_INT_H

#include <uv.h>

#include "rcoap/session.h"
#include "rcoap/transport_conn.h"
#include "transport/loop_int.h"

typedef struct rc__parked rc__parked;
typedef struct rc__park_prof rc__park_prof;

/* What a parked connection shares with the others of its loop that have
 * the same owner and listener: kept once in the set, counted by the
 * records that point to it (the app's parked connections all share one:
 * its callbacks, its context, its listener's settings). */
struct rc__park_prof {
  rc__park_prof *next;  /* the set's list */
  size_t refs;          /* records pointing here */
  rc__loop *lt;         /* the loop */
  const rc_conn_callbacks *cb; /* the owner's, as the conn had them */
  void *user;
  const rc_mem *mem;    /* the listener's allocator: the records' and
                           the rebuilt conns' */
  const rc_session_config *scfg; /* the listener's caller's template */
  uint32_t idle_ms, park_ms;
  uint8_t cb_owned;     /* cb is a copy owned here (never shared) */
};

/* One parked connection (64-bit: 96 bytes). */
struct rc__parked {
  rc__timer timer;      /* the earlier of keepalive and idle deadline */
  rc_session_parked rec; /* rc_session_park's record */
  rc__parked *prev, *next; /* the set's list (prev: the dead, in a batch) */
  rc__park_prof *prof;  /* a reference */
  rc_time last_io;
  int fd;               /* owned: closed by rc_conn_drop_parked */
  uint8_t listed;       /* in the set's list (rc__park_add) */
  uint8_t dead;         /* out of the set; memory freed after the batch */
};

/* A record through want->mem (the default allocator: a slab slot), with
 * a reference to loop's state and its timer node, sharing the profile
 * with want's settings and owner (want's next, refs and lt are not
 * read); not in the set yet. NULL when out of memory or when this
 * platform cannot park. */
rc__parked *rc__park_new(uv_loop_t *loop, const rc__park_prof *want);

/* The owner changed (on_park may give the conn other callbacks or
 * another user): pr's profile follows. Cannot fail (rc__park_new kept a
 * spare profile). */
void rc__park_reown(rc__parked *pr, const rc_conn_callbacks *cb, void *user,
                    int cb_owned);

/* Puts pr (its fd set) into its loop's set, watched for input and the
 * peer's end. Returns 0, RC_ERR_NOMEM or RC_ERR_IO (pr then unchanged). */
rc_err rc__park_add(rc__parked *pr);

/* Arms pr's deadline (RC_TIME_NEVER: none). */
void rc__park_arm(rc__parked *pr, rc_time due);

/* The rebuild failed for want of memory: pr stops being watched and is
 * tried again from its timer at due. */
void rc__park_hold(rc__parked *pr, rc_time due);

/* Takes pr out of its set and frees it (after the running batch of
 * events, if any); its fd is the caller's now, and so are its profile's
 * callbacks if it owned them (keep: non-zero; else they are freed with
 * the profile). */
void rc__park_free(rc__parked *pr, int keep_cb);

/* The loop of pr. */
uv_loop_t *rc__park_loop(const rc__parked *pr);

/* loop.c: the loop's state closes; its set (empty: every record holds a
 * reference) goes with it. */
void rc__park_set_close(void *set);

/* conn.c: rebuilds pr's connection (pr is freed) for an event on its
 * socket (due 0) or its deadline (due 1). */
void rc__conn_wake(rc__parked *pr, int due);

#endif
