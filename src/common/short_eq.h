/*
 * a[0..n) == b[0..n) for n up to 16, without a call to memcmp: two
 * overlapping loads from each side (8 bytes each for 8 <= n <= 16, 4 for
 * 4 <= n < 8), the first, middle and last byte below 4. For the short
 * byte runs compared on hot paths (a path segment, a frame's options).
 */
#ifndef RCOAP_SHORT_EQ_H
#define RCOAP_SHORT_EQ_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* the 8 (wide) or 4 bytes at p */
static inline uint64_t rc__short_ld(const uint8_t *p, int wide) {
  if (wide) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
  }
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

static inline int rc__short_eq(const uint8_t *a, const uint8_t *b, size_t n) {
  if (n >= 4) {
    int w = n >= 8;
    size_t k = w ? 8 : 4;
    return ((rc__short_ld(a, w) ^ rc__short_ld(b, w)) |
            (rc__short_ld(a + n - k, w) ^ rc__short_ld(b + n - k, w))) == 0;
  }
  return n == 0 ||
         (a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1]);
}

#endif
