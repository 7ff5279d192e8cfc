/*
 * Fuzz target for bench/raw_frame.h (rg_frame_read, raw_gen's frame
 * reader), checked against the library's header parser as a reference:
 * walking the input frame by frame, every frame rg_frame_read takes must
 * have the header, token and body lengths and the code rc_tcp_hdr_parse
 * gives; a TKL over 8 must be refused; a body over the limit (byte 0
 * picks one) must be refused. Every shorter prefix of a frame must be
 * "more", with the whole length reported once the Len and Extended
 * Length bytes are in (the code byte may still be missing), and the
 * pointers must stay inside the input.
 */
#include <stdlib.h>
#include <string.h>

#include "../bench/raw_frame.h"
#include "rcoap/codec_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_check(int cond) {
  if (!cond)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  static const size_t limits[] = {0, 12, 13, 268, 269, 65804, 65805, 1u << 20};
  size_t max_body = limits[data[0] & 7];
  const uint8_t *p = data + 1;
  size_t n = size - 1, at = 0;
  while (at < n) {
    rg_frame f;
    rc_tcp_hdr h;
    int r = rg_frame_read(p + at, n - at, max_body, &f);
    rc_ssize hn = rc_tcp_hdr_parse(p + at, n - at, &h);
    if ((p[at] & 15) > 8) {
      fz_check(r == RG_FRAME_BAD_TKL);
      return 0;
    }
    if (hn == RC_ERR_NEED_MORE && r == RG_FRAME_TOO_BIG) {
      /* the length is in but not the code byte: the reference with one */
      uint8_t hb[8] = {0};
      memcpy(hb, p + at, n - at < 6 ? n - at : 6);
      fz_check(rc_tcp_hdr_parse(hb, sizeof hb, &h) > 0 &&
               h.body_len > max_body);
      return 0;
    }
    if (hn == RC_ERR_NEED_MORE) {
      fz_check(r == RG_FRAME_MORE); /* f.len: the prefix walk below */
      return 0;
    }
    fz_check(hn > 0 && h.token_len == (p[at] & 15u));
    if (h.body_len > max_body) {
      fz_check(r == RG_FRAME_TOO_BIG);
      return 0;
    }
    uint64_t total = (uint64_t)hn + h.token_len + h.body_len;
    fz_check(f.len == total);
    if (total > n - at) {
      fz_check(r == RG_FRAME_MORE);
      return 0;
    }
    fz_check(r == RG_FRAME_OK && f.hdr == (size_t)hn && f.code == h.code &&
             f.tkl == h.token_len && f.body_len == h.body_len);
    fz_check(f.token == p + at + f.hdr && f.body == f.token + f.tkl &&
             f.body + f.body_len == p + at + f.len);
    /* every prefix is "more"; the length is known once the header is */
    for (size_t k = 0; k < f.len && k < 64; k++) {
      rg_frame g;
      fz_check(rg_frame_read(p + at, k, max_body, &g) == RG_FRAME_MORE);
      fz_check(g.len == (k >= f.hdr - 1 ? f.len : 0));
    }
    at += f.len;
  }
  return 0;
}
