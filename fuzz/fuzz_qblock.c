/*
 * Fuzz target for src/codec/missing.c, the RFC 9177 §5 missing-blocks
 * payload a Q-Block1 client reads from a 4.08: any bytes are parsed into
 * a small array (more numbers than fit are checked, not stored); what
 * parses is strictly ascending and within 20 bits, and encoding it again
 * and parsing that gives the same numbers (a shortest-form re-encoding is
 * never longer than the input).
 */
#include <stdlib.h>
#include <string.h>

#include "rcoap/codec_block.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_check(int cond) {
  if (!cond)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint32_t nums[16], again[16];
  size_t n = 0, n2 = 0, taken = 0;
  if (rc_missing_parse(data, size, nums, 16, &n) != RC_OK)
    return 0;
  fz_check(n <= 16);
  for (size_t i = 0; i < n; i++) {
    fz_check(nums[i] <= RC_BLOCK_NUM_MAX);
    fz_check(i == 0 || nums[i] > nums[i - 1]);
  }
  uint8_t buf[16 * 5];
  size_t len = rc_missing_encode(nums, n, buf, sizeof buf, &taken);
  fz_check(taken == n && len <= sizeof buf);
  fz_check(rc_missing_parse(buf, len, again, 16, &n2) == RC_OK);
  fz_check(n2 == n && memcmp(nums, again, n * sizeof nums[0]) == 0);
  /* A buffer one byte short holds one number fewer. */
  if (len > 0) {
    rc_missing_encode(nums, n, buf, len - 1, &taken);
    fz_check(taken == n - 1);
  }
  return 0;
}
