/*
 * raw_gen's frame reader: one coap+tcp frame off the front of a byte
 * buffer, by the length rules of RFC 8323 §3.2 and nothing else (Len
 * nibble with its 8, 16 or 32-bit Extended Length, TKL, Code, Token; the
 * options and payload are left as one body). A pure function over
 * (bytes, length): no I/O, no allocation, points into the input.
 * Header-only, no library: raw_gen and fuzz/fuzz_raw_frame.c include it.
 */
#ifndef RCOAP_BENCH_RAW_FRAME_H
#define RCOAP_BENCH_RAW_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* A frame as it lies in the input; every pointer points into it. */
typedef struct rg_frame {
  size_t len;           /* the whole frame: header, token, body */
  size_t hdr;           /* Len/TKL byte, Extended Length, Code */
  uint8_t code;         /* class << 5 | detail */
  uint8_t tkl;          /* 0-8 */
  const uint8_t *token; /* tkl bytes */
  const uint8_t *body;  /* options and payload, body_len bytes */
  size_t body_len;
} rg_frame;

enum {
  RG_FRAME_MORE = 0,      /* not all there yet (f->len once known) */
  RG_FRAME_OK = 1,        /* one whole frame at the front */
  RG_FRAME_BAD_TKL = -1,  /* TKL 9-15 */
  RG_FRAME_TOO_BIG = -2,  /* body larger than the caller's limit */
};

/* Reads the frame at p[0..n). Returns RG_FRAME_OK with *f filled,
 * RG_FRAME_MORE when the frame is cut short (f->len is its whole length
 * once the Len/TKL byte and its Extended Length are in, else 0: the
 * caller may grow its buffer to it),
 * or a negative RG_FRAME_* when the bytes cannot be a frame we take:
 * a body over max_body bytes, or TKL 9-15 ("Lengths 9-15 are reserved,
 * MUST NOT be sent, and MUST be processed as a message format error",
 * RFC 7252 §3, which RFC 8323 §3.2 leaves unchanged). */
static inline int rg_frame_read(const uint8_t *p, size_t n, size_t max_body,
                                rg_frame *f) {
  f->len = 0;
  if (n < 1)
    return RG_FRAME_MORE;
  size_t ln = p[0] >> 4, ext = 0, body = ln;
  f->tkl = p[0] & 15;
  if (f->tkl > 8)
    return RG_FRAME_BAD_TKL;
  /* "13: An 8-bit unsigned integer (Extended Length) follows the initial
   * byte and indicates the length of options/payload minus 13", 14: 16
   * bits minus 269, 15: 32 bits minus 65805 (RFC 8323 §3.2). */
  if (ln == 13)
    ext = 1;
  else if (ln == 14)
    ext = 2;
  else if (ln == 15)
    ext = 4;
  if (n < 1 + ext)
    return RG_FRAME_MORE;
  if (ln == 13) {
    body = 13u + p[1];
  } else if (ln == 14) {
    body = 269u + ((size_t)p[1] << 8 | p[2]);
  } else if (ln == 15) {
    body = 65805u + ((size_t)p[1] << 24 | (size_t)p[2] << 16 |
                     (size_t)p[3] << 8 | p[4]);
  }
  if (body > max_body)
    return RG_FRAME_TOO_BIG;
  f->hdr = 1 + ext + 1;
  f->len = f->hdr + f->tkl + body;
  if (n < f->len)
    return RG_FRAME_MORE;
  f->code = p[f->hdr - 1];
  f->token = p + f->hdr;
  f->body = f->token + f->tkl;
  f->body_len = body;
  return RG_FRAME_OK;
}

#endif
