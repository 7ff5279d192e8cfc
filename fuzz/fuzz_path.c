/*
 * Fuzz target for src/codec/path.c: clean the input as an HTTP target
 * and as a CoAP path (first byte picks), into a buffer whose size the
 * second byte picks, and check what a success promises: it starts with
 * '/', stays within the buffer and is NUL-terminated at its length, holds
 * no NUL, no '\', no empty segment but a trailing one, and no segment
 * starting with '.'.
 */
#include <stdlib.h>
#include <string.h>

#include "rcoap/codec_path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_check(int cond) {
  if (!cond)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  unsigned flags = data[0] & 1 ? RC_PATH_TARGET : 0;
  size_t cap = data[1];
  const char *in = (const char *)data + 2;
  size = size - 2;
  /* Exactly cap bytes on the heap, so ASan sees a write past them. */
  char *out = malloc(cap ? cap : 1);
  rc_ssize n = rc_path_clean(in, size, flags, out, cap);
  if (n < 0) {
    fz_check(n == RC_ERR_PATH_REFUSED || n == RC_ERR_BAD_PERCENT);
    free(out);
    return 0;
  }
  fz_check((size_t)n < cap && out[n] == '\0' && strlen(out) == (size_t)n);
  fz_check(out[0] == '/');
  for (rc_ssize i = 0; i < n; i++) {
    fz_check(out[i] != '\\');
    if (out[i] == '/') {
      fz_check(i + 1 == n || out[i + 1] != '/');
      fz_check(out[i + 1] != '.');
    }
  }
  free(out);
  return 0;
}
