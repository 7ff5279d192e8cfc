/*
 * Log-linear latency histogram (see hist.h): bucket index from the
 * position of the top bit and the next HIST_SUB_BITS bits below it.
 */
#include "hist.h"

#include <string.h>

static unsigned hist_index(uint64_t v) {
  if (v < HIST_LINEAR)
    return (unsigned)v;
  unsigned msb = 63u - (unsigned)__builtin_clzll(v); /* >= SUB_BITS + 1 */
  unsigned shift = msb - HIST_SUB_BITS;
  unsigned sub = (unsigned)(v >> shift) - (1u << HIST_SUB_BITS); /* 0..31 */
  return HIST_LINEAR + (msb - HIST_SUB_BITS - 1u) * (1u << HIST_SUB_BITS) +
         sub;
}

/* Lowest value of bucket i and its width. */
static void hist_bucket(unsigned i, uint64_t *lo, uint64_t *width) {
  if (i < HIST_LINEAR) {
    *lo = i;
    *width = 1;
    return;
  }
  unsigned k = i - HIST_LINEAR;
  unsigned msb = k / (1u << HIST_SUB_BITS) + HIST_SUB_BITS + 1u;
  unsigned sub = k % (1u << HIST_SUB_BITS);
  unsigned shift = msb - HIST_SUB_BITS;
  *lo = ((uint64_t)((1u << HIST_SUB_BITS) + sub)) << shift;
  *width = (uint64_t)1 << shift;
}

void hist_reset(hist *h) {
  memset(h, 0, sizeof(*h));
  h->min = UINT64_MAX;
}

void hist_add(hist *h, uint64_t v) {
  h->count[hist_index(v)]++;
  h->total++;
  h->sum += (double)v;
  if (v > h->max)
    h->max = v;
  if (v < h->min)
    h->min = v;
}

void hist_merge(hist *dst, const hist *src) {
  for (unsigned i = 0; i < HIST_BUCKETS; i++)
    dst->count[i] += src->count[i];
  dst->total += src->total;
  dst->sum += src->sum;
  if (src->max > dst->max)
    dst->max = src->max;
  if (src->min < dst->min)
    dst->min = src->min;
}

uint64_t hist_quantile(const hist *h, double q) {
  if (h->total == 0)
    return 0;
  uint64_t rank = (uint64_t)(q * (double)h->total + 0.5);
  if (rank < 1)
    rank = 1;
  if (rank > h->total)
    rank = h->total;
  uint64_t seen = 0;
  for (unsigned i = 0; i < HIST_BUCKETS; i++) {
    seen += h->count[i];
    if (seen >= rank) {
      uint64_t lo, width;
      hist_bucket(i, &lo, &width);
      uint64_t v = lo + width / 2;
      return v > h->max ? h->max : v < h->min ? h->min : v;
    }
  }
  return h->max;
}
