/*
 * Small definitions every rcoap module shares: the signed size type used for
 * "bytes consumed or negative rc_err" returns, the optional allocator that
 * stateful objects take, and the time type (milliseconds on a monotonic
 * clock the caller owns; rcoap's sans-I/O layers never read a clock).
 */
#ifndef RCOAP_COMMON_H
#define RCOAP_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "rcoap/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Byte count on success (>= 0) or a negative rc_err. */
typedef ptrdiff_t rc_ssize;

/* Monotonic time in milliseconds, supplied by the caller. */
typedef uint64_t rc_time;

/* "No deadline". */
#define RC_TIME_NEVER UINT64_MAX

/*
 * Optional allocator. Every object that allocates takes one (NULL means the
 * C library's malloc/realloc/free). user is passed back on every call.
 */
typedef struct rc_mem {
  void *(*malloc)(size_t size, void *user);
  void *(*realloc)(void *ptr, size_t size, void *user);
  void (*free)(void *ptr, void *user);
  void *user;
} rc_mem;

/* The default allocator (C library). Never NULL. */
const rc_mem *rc_mem_default(void);

/* The value of hex digit c (either case), or -1. */
static inline int rc_hex_digit(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

#ifdef __cplusplus
}
#endif
#endif
