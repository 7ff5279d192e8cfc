/*
 * The peer table of one UDP socket (peers.h): hash by source address and
 * LRU list. Pure data structure: no socket, no clock.
 */
#include <string.h>
#include <sys/socket.h>

#include "transport/peers.h"

rc_err rc__peers_init(rc__peers *t, const rc_mem *mem, size_t max) {
  memset(t, 0, sizeof *t);
  t->mem = mem;
  t->max = max;
  t->nbucket = 1;
  while (t->nbucket < max)
    t->nbucket *= 2;
  t->bucket = mem->malloc(t->nbucket * sizeof(rc_conn *), mem->user);
  if (t->bucket == NULL)
    return RC_ERR_NOMEM;
  memset(t->bucket, 0, t->nbucket * sizeof(rc_conn *));
  return RC_OK;
}

void rc__peers_free(rc__peers *t) {
  t->mem->free(t->bucket, t->mem->user);
  t->bucket = NULL;
}

static int sa_equal(const struct sockaddr *a, const struct sockaddr *b) {
  if (a->sa_family != b->sa_family)
    return 0;
  if (a->sa_family == AF_INET) {
    const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
    return x->sin_port == y->sin_port &&
           x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
  return x->sin6_port == y->sin6_port &&
         memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0 &&
         x->sin6_scope_id == y->sin6_scope_id;
}

static size_t sa_hash(const rc__peers *t, const struct sockaddr *sa) {
  uint64_t h = 1469598103934665603ULL; /* FNV-1a */
  const uint8_t *p;
  size_t n;
  uint16_t port;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *a = (const void *)sa;
    p = (const uint8_t *)&a->sin_addr;
    n = 4;
    port = a->sin_port;
  } else {
    const struct sockaddr_in6 *a = (const void *)sa;
    p = (const uint8_t *)&a->sin6_addr;
    n = 16;
    port = a->sin6_port;
  }
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 1099511628211ULL;
  h = (h ^ (port & 0xff)) * 1099511628211ULL;
  h = (h ^ (port >> 8)) * 1099511628211ULL;
  return (size_t)(h & (t->nbucket - 1));
}

rc_conn *rc__peers_find(const rc__peers *t, const struct sockaddr *sa) {
  for (rc_conn *c = t->bucket[sa_hash(t, sa)]; c != NULL; c = c->udp_hnext)
    if (sa_equal(&c->peer.sa, sa))
      return c;
  return NULL;
}

static void lru_unlink(rc__peers *t, rc_conn *c) {
  if (c->udp_prev != NULL)
    c->udp_prev->udp_next = c->udp_next;
  else
    t->lru_first = c->udp_next;
  if (c->udp_next != NULL)
    c->udp_next->udp_prev = c->udp_prev;
  else
    t->lru_last = c->udp_prev;
  c->udp_prev = c->udp_next = NULL;
}

static void lru_front(rc__peers *t, rc_conn *c) {
  c->udp_next = t->lru_first;
  c->udp_prev = NULL;
  if (t->lru_first != NULL)
    t->lru_first->udp_prev = c;
  else
    t->lru_last = c;
  t->lru_first = c;
}

void rc__peers_add(rc__peers *t, rc_conn *c) {
  size_t b = sa_hash(t, &c->peer.sa);
  c->udp_hnext = t->bucket[b];
  t->bucket[b] = c;
  lru_front(t, c);
  t->n++;
}

void rc__peers_touch(rc__peers *t, rc_conn *c) {
  if (c != t->lru_first) {
    lru_unlink(t, c);
    lru_front(t, c);
  }
}

int rc__peers_full(const rc__peers *t) { return t->n >= t->max; }
rc_conn *rc__peers_oldest(const rc__peers *t) { return t->lru_last; }
rc_conn *rc__peers_newest(const rc__peers *t) { return t->lru_first; }
size_t rc__peers_count(const rc__peers *t) { return t->n; }

int rc__peers_remove(rc__peers *t, rc_conn *c) {
  rc_conn **pp = &t->bucket[sa_hash(t, &c->peer.sa)];
  while (*pp != NULL && *pp != c)
    pp = &(*pp)->udp_hnext;
  int found = *pp == c;
  if (found) {
    *pp = c->udp_hnext;
    lru_unlink(t, c);
    t->n--;
  }
  c->udp_hnext = NULL;
  return found;
}
