/*
 * Internal to src/transport/: the peer table of one UDP socket (udp.c),
 * no I/O: a hash of peers (rc_conn of kind UDP/DTLS) by source address, an
 * LRU list (most recently active first) for eviction at the bound. The
 * peers' deadlines (retransmission, handshake, idle expiry) are in their
 * loop's timer queue like every other conn's (loop_int.h).
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
} rc__peers;

/* A table for at most max peers. RC_OK or RC_ERR_NOMEM. */
rc_err rc__peers_init(rc__peers *t, const rc_mem *mem, size_t max);
void rc__peers_free(rc__peers *t);
rc_conn *rc__peers_find(const rc__peers *t, const struct sockaddr *sa);
/* Enters c (its peer address set) at the front of the LRU list. The
 * caller makes room first (rc__peers_full, rc__peers_oldest). */
void rc__peers_add(rc__peers *t, rc_conn *c);
/* Takes c out of the hash and the LRU list; non-zero if it was
 * in the table. */
int rc__peers_remove(rc__peers *t, rc_conn *c);
/* c was active: to the front of the LRU list. */
void rc__peers_touch(rc__peers *t, rc_conn *c);
int rc__peers_full(const rc__peers *t);
rc_conn *rc__peers_oldest(const rc__peers *t);
/* The only peer of a client socket (or the most recent one). */
rc_conn *rc__peers_newest(const rc__peers *t);
size_t rc__peers_count(const rc__peers *t);

#endif
