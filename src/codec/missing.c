/*
 * The missing-blocks CBOR Sequence of RFC 9177 §5 (Content-Format 272):
 * block numbers as CBOR unsigned integers (major type 0), one after the
 * other with no array around them, in ascending order.
 */
#include "rcoap/codec_block.h"

/* Shortest CBOR head of major type 0 for v (<= 32 bits here). */
static size_t uint_head(uint32_t v, uint8_t out[5]) {
  if (v < 24) {
    out[0] = (uint8_t)v;
    return 1;
  }
  if (v <= 0xFF) {
    out[0] = 24;
    out[1] = (uint8_t)v;
    return 2;
  }
  if (v <= 0xFFFF) {
    out[0] = 25;
    out[1] = (uint8_t)(v >> 8);
    out[2] = (uint8_t)v;
    return 3;
  }
  out[0] = 26;
  for (int i = 0; i < 4; i++)
    out[1 + i] = (uint8_t)(v >> (24 - 8 * i));
  return 5;
}

size_t rc_missing_encode(const uint32_t *nums, size_t n, uint8_t *out,
                         size_t cap, size_t *taken) {
  size_t used = 0, i = 0;
  for (; i < n; i++) {
    uint8_t h[5];
    size_t k = uint_head(nums[i], h);
    if (used + k > cap)
      break;
    for (size_t j = 0; j < k; j++)
      out[used + j] = h[j];
    used += k;
  }
  if (taken)
    *taken = i;
  return used;
}

rc_err rc_missing_parse(const uint8_t *p, size_t len, uint32_t *out,
                        size_t max, size_t *n) {
  size_t pos = 0, count = 0;
  uint64_t prev = 0;
  while (pos < len) {
    uint8_t ib = p[pos++];
    if (ib >> 5 != 0)
      return RC_ERR_BAD_BLOCK; /* not an unsigned integer */
    uint8_t ai = ib & 0x1f;
    uint64_t v;
    if (ai < 24) {
      v = ai;
    } else if (ai <= 27) {
      size_t k = (size_t)1 << (ai - 24);
      if (len - pos < k)
        return RC_ERR_BAD_BLOCK;
      v = 0;
      for (size_t j = 0; j < k; j++)
        v = v << 8 | p[pos + j];
      pos += k;
    } else {
      return RC_ERR_BAD_BLOCK; /* reserved or indefinite */
    }
    if (v > RC_BLOCK_NUM_MAX || (count > 0 && v <= prev))
      return RC_ERR_BAD_BLOCK;
    if (count < max)
      out[count] = (uint32_t)v;
    count++;
    prev = v;
  }
  *n = count < max ? count : max;
  return RC_OK;
}
