/*
 * Fixed-size slots in mapped chunks (slab.h). A chunk starts with its
 * header; the slots follow. Each chunk keeps its own free list (slots
 * given back) and a bump index (slots never handed out), so a new chunk
 * costs nothing until its slots are used.
 */
#include <stdint.h>
#include <sys/mman.h>

#include "common/slab.h"

/* Under AddressSanitizer the slots a pool does not hand out are poisoned,
 * so a use after rc__slab_free (or of a slot never handed out) is reported
 * as it would be for malloc'd memory (slots have no redzones between them:
 * an overflow into the next slot is not caught). */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLAB_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SLAB_ASAN 1
#endif
#ifdef SLAB_ASAN
#include <sanitizer/asan_interface.h>
#define SLAB_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define SLAB_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define SLAB_POISON(p, n) ((void)(p), (void)(n))
#define SLAB_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

struct rc__slab_chunk {
  rc__slab_chunk *prev, *next; /* the pool's avail list */
  void *free;                  /* slots given back, linked through them */
  uint32_t used, bump, cap;
  int listed; /* on the avail list */
};

#define SLAB_HDR ((sizeof(rc__slab_chunk) + 15u) & ~(size_t)15u)

static void chunk_unlist(rc__slab *s, rc__slab_chunk *c) {
  if (c->prev)
    c->prev->next = c->next;
  else
    s->avail = c->next;
  if (c->next)
    c->next->prev = c->prev;
  c->prev = c->next = NULL;
  c->listed = 0;
}

static void chunk_list(rc__slab *s, rc__slab_chunk *c) {
  c->prev = NULL;
  c->next = s->avail;
  if (s->avail)
    s->avail->prev = c;
  s->avail = c;
  c->listed = 1;
}

/* A chunk aligned to its size: map twice the size and unmap the rest. */
static rc__slab_chunk *chunk_map(rc__slab *s) {
  size_t n = RC__SLAB_CHUNK;
  uint8_t *m = mmap(NULL, 2 * n, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED)
    return NULL;
  uintptr_t a = ((uintptr_t)m + n - 1) & ~(uintptr_t)(n - 1);
  uint8_t *al = (uint8_t *)a;
  if (al > m)
    munmap(m, (size_t)(al - m));
  if (al + n < m + 2 * n)
    munmap(al + n, (size_t)(m + 2 * n - (al + n)));
  rc__slab_chunk *c = (rc__slab_chunk *)al; /* zero from mmap */
  SLAB_POISON(al + SLAB_HDR, n - SLAB_HDR);
  c->cap = (uint32_t)((n - SLAB_HDR) / s->size);
  s->chunks++;
  return c;
}

void *rc__slab_alloc(rc__slab *s) {
  s->size = (s->size + 15u) & ~(size_t)15u;
  rc__slab_chunk *c = s->avail;
  if (c == NULL) {
    c = chunk_map(s);
    if (c == NULL)
      return NULL;
    chunk_list(s, c);
  }
  void *p;
  if (c->free != NULL) {
    p = c->free;
    SLAB_UNPOISON(p, s->size);
    c->free = *(void **)p;
    *(void **)p = NULL; /* the rest of the slot is as the user left it */
  } else {
    p = (uint8_t *)c + SLAB_HDR + (size_t)c->bump++ * s->size;
    SLAB_UNPOISON(p, s->size);
  }
  if (++c->used == c->cap)
    chunk_unlist(s, c);
  return p;
}

void rc__slab_free(rc__slab *s, void *p) {
  if (p == NULL)
    return;
  rc__slab_chunk *c =
      (rc__slab_chunk *)((uintptr_t)p & ~(uintptr_t)(RC__SLAB_CHUNK - 1));
  *(void **)p = c->free;
  SLAB_POISON(p, s->size);
  c->free = p;
  c->used--;
  if (c->used == 0 && s->chunks > 1) {
    if (c->listed)
      chunk_unlist(s, c);
    s->chunks--;
    SLAB_UNPOISON(c, RC__SLAB_CHUNK);
    munmap(c, RC__SLAB_CHUNK);
    return;
  }
  if (!c->listed)
    chunk_list(s, c);
}
