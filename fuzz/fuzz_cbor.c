/*
 * Fuzz target for src/codec/cbor_diag.c: any bytes are turned into
 * diagnostic notation in a buffer of the documented worst-case size
 * (12 * len + 16), which must never be too small; the text must be
 * NUL-terminated at the length returned; a buffer one byte short of that
 * length must give RC_ERR_NOBUF, never an overrun.
 */
#include <stdlib.h>
#include <string.h>

#include "rcoap/codec_cbor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_check(int cond) {
  if (!cond)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t cap = 12 * size + 16, len = 0;
  char *out = malloc(cap);
  if (!out)
    return 0;
  rc_err e = rc_cbor_diag(data, size, out, cap, &len);
  fz_check(e != RC_ERR_NOBUF);
  fz_check(len < cap && out[len] == 0 && strlen(out) == len);
  if (e == RC_OK && len > 0) {
    char *small = malloc(len);
    size_t l2;
    if (small) {
      fz_check(rc_cbor_diag(data, size, small, len, &l2) == RC_ERR_NOBUF);
      free(small);
    }
  }
  free(out);
  return 0;
}
