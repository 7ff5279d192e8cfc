/*
 * For unit tests: an rc_mem that counts the blocks and bytes live through
 * it (each block carries its size in front), to pin what an object holds.
 */
#ifndef RCOAP_TEST_COUNTING_H
#define RCOAP_TEST_COUNTING_H

#include <stdlib.h>
#include <string.h>

#include "rcoap/common.h"

typedef struct counting {
  size_t blocks, bytes;
  size_t peak; /* most bytes live at once */
} counting;

static inline void *cnt_malloc(size_t n, void *user) {
  counting *c = user;
  size_t *p = malloc(sizeof(size_t) + n);
  if (!p)
    return NULL;
  *p = n;
  c->blocks++;
  c->bytes += n;
  if (c->bytes > c->peak)
    c->peak = c->bytes;
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
