/*
 * Internal to src/transport/: the peer table of one UDP socket (udp.c),
 * no I/O: a hash of peers (rc_conn of kind UDP/DTLS) by source address, an
 * LRU list (most recently active first) for eviction at the bound, and a
 * min-heap of the peers' timer deadlines (rc_conn.timer_due) so that one
 * timer per socket serves every peer's retransmissions, handshake and
 * idle expiry, earliest first.
 */
#ifndef RCOAP_TRANSPORT_PEERS_H
#define RCOAP_TRANSPORT_PEERS_H

#include "transport/conn_int.h"

typedef struct rc__peers {
  const rc_mem *mem;
  rc_conn **bucket; /* nbucket (a power of two) chains, by address */
  size_t nbucket;
  rc_conn *lru_first, *lru_last;
  size_t n, max;
  rc_conn **heap;   /* by timer_due; c->udp_heap is its index + 1 */
  size_t nheap, heap_cap;
} rc__peers;

/* A table for at most max peers. RC_OK or RC_ERR_NOMEM. */
rc_err rc__peers_init(rc__peers *t, const rc_mem *mem, size_t max);
void rc__peers_free(rc__peers *t);
rc_conn *rc__peers_find(const rc__peers *t, const struct sockaddr *sa);
/* Enters c (its peer address set) at the front of the LRU list. The
 * caller makes room first (rc__peers_full, rc__peers_oldest). */
void rc__peers_add(rc__peers *t, rc_conn *c);
/* Takes c out of the hash, the LRU list and the heap; non-zero if it was
 * in the table. */
int rc__peers_remove(rc__peers *t, rc_conn *c);
/* c was active: to the front of the LRU list. */
void rc__peers_touch(rc__peers *t, rc_conn *c);
int rc__peers_full(const rc__peers *t);
rc_conn *rc__peers_oldest(const rc__peers *t);
/* The only peer of a client socket (or the most recent one). */
rc_conn *rc__peers_newest(const rc__peers *t);
size_t rc__peers_count(const rc__peers *t);

/* c's timer is due at due (RC_TIME_NEVER: no timer): sets c->timer_due
 * and c's place in the heap. RC_OK or RC_ERR_NOMEM (heap not grown: c
 * keeps its old place, if any). */
rc_err rc__peers_schedule(rc__peers *t, rc_conn *c, rc_time due);
/* The earliest deadline, RC_TIME_NEVER if none. */
rc_time rc__peers_next(const rc__peers *t);
/* The peer whose deadline is earliest if it is <= now, taken out of the
 * heap (its timer_due set to RC_TIME_NEVER); else NULL. */
rc_conn *rc__peers_due(rc__peers *t, rc_time now);

#endif
