/*
 * Fixed-size slots in pages of their own, for the few blocks a long-lived
 * object keeps while everything around it comes and goes (a parked
 * connection's rc_conn and its app peer's head). Kept out of the C
 * library's heap, they do not pin the pages that the freed sessions,
 * chains and exchanges leave: those become whole free pages the heap can
 * give back (rc__loop trims after parking). Chunks of RC__SLAB_CHUNK bytes
 * are mapped aligned to their size, so a slot finds its chunk by masking
 * its address; an empty chunk is unmapped unless it is the pool's last.
 * One pool belongs to one thread (one loop runs on one thread).
 */
#ifndef RCOAP_SLAB_H
#define RCOAP_SLAB_H

#include <stddef.h>

#define RC__SLAB_CHUNK ((size_t)64 * 1024)

typedef struct rc__slab_chunk rc__slab_chunk;

typedef struct rc__slab {
  size_t size;            /* slot size (rounded up to 16 on first use) */
  rc__slab_chunk *avail;  /* chunks with a free slot */
  size_t chunks;          /* chunks mapped */
} rc__slab;

#define RC__SLAB_INIT(sz) {.size = (sz)}

/* A slot of the pool's size (zeroed the first time it is handed out, not
 * after a free). NULL when no chunk can be mapped. */
void *rc__slab_alloc(rc__slab *s);
/* Gives p (from rc__slab_alloc on s) back. */
void rc__slab_free(rc__slab *s, void *p);

#endif
