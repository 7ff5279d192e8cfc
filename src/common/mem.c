/*
 * The default allocator: the C library behind the rc_mem interface, so that
 * every object can take a user allocator (tests inject failures through it).
 */
#include <stdlib.h>

#include "rcoap/common.h"

static void *mem_malloc(size_t size, void *user) {
  (void)user;
  return malloc(size);
}

static void *mem_realloc(void *ptr, size_t size, void *user) {
  (void)user;
  return realloc(ptr, size);
}

static void mem_free(void *ptr, void *user) {
  (void)user;
  free(ptr);
}

static const rc_mem default_mem = {mem_malloc, mem_realloc, mem_free, NULL};

const rc_mem *rc_mem_default(void) { return &default_mem; }
