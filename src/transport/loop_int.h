/*
 * Internal to src/transport: what the connections of one libuv loop share.
 * Today that is time: one uv_timer_t per loop, armed for the earliest
 * deadline of a timerq (common/timerq.h) in which every connection keeps
 * one node, in place of a uv_timer_t per connection. The loop state is
 * found by loop (one list per thread: one loop runs on one thread), made by
 * the first connection on a loop and closed with the last.
 */
#ifndef RCOAP_LOOP_INT_H
#define RCOAP_LOOP_INT_H

#include <uv.h>

#include "common/timerq.h"

typedef struct rc__loop rc__loop;

/* The loop's shared state, made on first use (with the C library's
 * allocator: it may outlive the allocator of the connection that made
 * it); each call takes a reference and room for one timer node. Returns
 * NULL when out of memory. */
rc__loop *rc__loop_get(uv_loop_t *loop);

/* The loop's state if it has one (no reference taken), else NULL. */
rc__loop *rc__loop_find(uv_loop_t *loop);

/* The libuv loop of l. */
uv_loop_t *rc__loop_uv(const rc__loop *l);

/* Where park.c keeps the loop's parking set (NULL until the first park;
 * closed with the loop's state through rc__park_set_close). */
void **rc__loop_park_set(rc__loop *l);

/* Gives a reference back (t, the caller's node, is taken out of the queue
 * first). The last one closes the loop's timer; its memory goes in the
 * timer's close callback, on this loop turn. */
void rc__loop_put(rc__loop *l, rc__timer *t);

/* Sets t for due on the loop's clock (RC_TIME_NEVER: off) and re-arms the
 * loop's timer when the earliest deadline moved. Cannot fail: every
 * reference reserved its node's room. */
void rc__loop_timer_set(rc__loop *l, rc__timer *t, rc_time due);

/* A connection parked: the heap's free pages are given back a little
 * later (once for a burst of parks). */
void rc__loop_parked(rc__loop *l);

#endif
