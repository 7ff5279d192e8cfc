/*
 * Latency histogram for rcoap-bench: HDR-style log-linear buckets over
 * nanoseconds (exact below 64 ns, then 32 sub-buckets per power of two,
 * so every recorded value is within 3.2 % of the bucket it lands in).
 * Fixed size, no allocation, one increment per sample; per-thread
 * histograms are merged at the end.
 */
#ifndef RCOAP_BENCH_HIST_H
#define RCOAP_BENCH_HIST_H

#include <stdint.h>

/* Sub-buckets per power of two: 2^5 = 32 (3.2 % resolution). */
#define HIST_SUB_BITS 5
/* Values below 2 * 2^HIST_SUB_BITS are stored exactly. */
#define HIST_LINEAR (2u << HIST_SUB_BITS)
/* Enough buckets for any uint64_t value. */
#define HIST_BUCKETS (HIST_LINEAR + (64u - HIST_SUB_BITS - 1u) * (1u << HIST_SUB_BITS))

typedef struct hist {
  uint64_t count[HIST_BUCKETS];
  uint64_t total;
  uint64_t max;
  uint64_t min;
  double sum;
} hist;

void hist_reset(hist *h);
void hist_add(hist *h, uint64_t v);
/* Adds every sample of src into dst. */
void hist_merge(hist *dst, const hist *src);
/* Value at quantile q (0..1): the midpoint of the bucket holding it,
 * clamped to the exact max; 0 when empty. */
uint64_t hist_quantile(const hist *h, double q);

#endif
