/*
 * For unit tests: an rc_mem allocator that counts the blocks and bytes
 * live through it (memory figures that tests pin).
 */
#ifndef RCOAP_TEST_COUNTING_H
#define RCOAP_TEST_COUNTING_H

#include <stdlib.h>
#include <string.h>

/* An allocator that counts the blocks and bytes live through it. */
typedef struct counting {
  size_t blocks, bytes;
} counting;

static inline void *cnt_malloc(size_t n, void *user) {
  counting *c = user;
  size_t *p = malloc(sizeof(size_t) + n);
  if (!p)
    return NULL;
  *p = n;
  c->blocks++;
  c->bytes += n;
  return p + 1;
}

static inline void cnt_free(void *ptr, void *user) {
  counting *c = user;
  if (!ptr)
    return;
  size_t *p = (size_t *)ptr - 1;
  c->blocks--;
  c->bytes -= *p;
  free(p);
}

static inline void *cnt_realloc(void *ptr, size_t n, void *user) {
  void *q = cnt_malloc(n, user);
  if (q && ptr) {
    size_t old = ((size_t *)ptr)[-1];
    memcpy(q, ptr, old < n ? old : n);
    cnt_free(ptr, user);
  }
  return q;
}

#endif
