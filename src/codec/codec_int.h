/*
 * Internal to src/codec: the option-region scanner shared by rc_msg_parse
 * (msg.c) and rc_opts_scan (option.c), kept as a static inline so that the
 * parser's hot path is one function with no call in the per-option loop, and
 * the option header encoder shared by the encoder and the tests.
 */
#ifndef RCOAP_CODEC_INT_H
#define RCOAP_CODEC_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rcoap/codec_frame.h"
#include "rcoap/codec_msg.h"
#include "rcoap/err.h"

/* RFC 7252 §3.1: the byte 0xFF ends the options and starts the payload. */
#define RC__PAYLOAD_MARKER 0xFF
/* RFC 7252 §3.1: nibble 13 adds one byte (value - 13), 14 two bytes
 * (value - 269); 15 is reserved. Largest option number: 16 bits (§5.4). */
#define RC__EXT1_BASE 13u
#define RC__EXT2_BASE 269u
#define RC__EXT2_MAX 65804u
#define RC__OPT_NUM_MAX 65535u

/*
 * Validates the options region buf[0..len) that runs to the end of the
 * message. On success *opts_len is the bytes before the payload marker (or
 * len) and *payload and *payload_len what follows the marker (NULL/0 if none),
 * and with sum its opts_* summary fields are set (rc_msg).
 * Returns 0 or RC_ERR_OPT_DELTA_RESERVED, RC_ERR_OPT_LEN_RESERVED,
 * RC_ERR_OPT_TRUNCATED, RC_ERR_OPT_NUMBER_OVERFLOW, RC_ERR_EMPTY_PAYLOAD.
 */
static inline rc_err rc__opts_scan_sum(const uint8_t *buf, size_t len,
                                       size_t *opts_len,
                                       const uint8_t **payload,
                                       size_t *payload_len, rc_msg *sum) {
  const uint8_t *p = buf;
  const uint8_t *end = buf + len;
  uint32_t num = 0;
  uint64_t seen = 0;
  uint32_t maxlen = 0;
  uint8_t over = 0;

  while (p < end) {
    uint32_t b = *p++;
    uint32_t l = b & 0x0f;
    /* The usual option header is one byte, both fields in its nibbles:
     * one test keeps it (and so the payload marker too) on this path. */
    if (__builtin_expect(b >= 0xd0 || l >= 13, 0)) {
      if (b == RC__PAYLOAD_MARKER) {
        p--;
        break;
      }
      uint32_t d = b >> 4;
      /* RFC 7252 §3.1: 15 in either nibble outside the payload marker
       * "MUST be processed as a message format error." */
      if (d == 15)
        return RC_ERR_OPT_DELTA_RESERVED;
      if (l == 15)
        return RC_ERR_OPT_LEN_RESERVED;
      if (d == 13) {
        if (p >= end)
          return RC_ERR_OPT_TRUNCATED;
        d = RC__EXT1_BASE + *p++;
      } else if (d == 14) {
        if (end - p < 2)
          return RC_ERR_OPT_TRUNCATED;
        d = RC__EXT2_BASE + ((uint32_t)p[0] << 8 | p[1]);
        p += 2;
      }
      if (l == 13) {
        if (p >= end)
          return RC_ERR_OPT_TRUNCATED;
        l = RC__EXT1_BASE + *p++;
      } else if (l == 14) {
        if (end - p < 2)
          return RC_ERR_OPT_TRUNCATED;
        l = RC__EXT2_BASE + ((uint32_t)p[0] << 8 | p[1]);
        p += 2;
      }
      num += d;
    } else {
      num += b >> 4;
    }
    if (__builtin_expect(num < 64, 1)) {
      seen |= 1ull << num;
    } else {
      if (num > RC__OPT_NUM_MAX)
        return RC_ERR_OPT_NUMBER_OVERFLOW;
      over = 1;
    }
    if ((size_t)(end - p) < l)
      return RC_ERR_OPT_TRUNCATED;
    p += l;
    if (l > maxlen)
      maxlen = l;
  }
  if (sum) {
    sum->opts_summary = 1;
    sum->opts_over63 = over;
    sum->opts_maxlen = maxlen;
    sum->opts_below64 = seen;
  }
  *opts_len = (size_t)(p - buf);
  if (p == end) {
    *payload = NULL;
    *payload_len = 0;
    return RC_OK;
  }
  /* RFC 7252 §3: "The presence of a marker followed by a zero-length
   * payload MUST be processed as a message format error." */
  if (++p == end)
    return RC_ERR_EMPTY_PAYLOAD;
  *payload = p;
  *payload_len = (size_t)(end - p);
  return RC_OK;
}

static inline rc_err rc__opts_scan(const uint8_t *buf, size_t len,
                                   size_t *opts_len, const uint8_t **payload,
                                   size_t *payload_len) {
  return rc__opts_scan_sum(buf, len, opts_len, payload, payload_len, NULL);
}

/* Stores v as 2 / 4 big-endian bytes at p (no alignment needed). */
static inline void rc__put_be16(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static inline void rc__put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* The extended-field class of an option delta or length (RFC 7252 §3.1):
 * 0 for 0..12 (in the nibble), 1 for 13..268 (one byte, value - 13), 2 for
 * 269..65804 (two bytes, value - 269). */
static inline uint32_t rc__opt_class(uint32_t v) {
  return (uint32_t)(v >= RC__EXT1_BASE) + (uint32_t)(v >= RC__EXT2_BASE);
}

/*
 * Writes the option header for (delta, len) to out; returns its length
 * (1..5). delta and len must be <= RC__EXT2_MAX. One table step, no branch
 * per field: each field's class gives its nibble (the value, 13 or 14) and
 * its extended bytes, which are always stored as two bytes (the second is
 * scratch when the field takes one byte, overwritten by what follows), so
 * out must have 5 writable bytes even when the header is shorter. The
 * common header, both fields in their nibbles, is one byte and one test.
 */
static inline size_t rc__opt_hdr(uint8_t out[5], uint32_t delta,
                                 uint32_t len) {
  static const uint16_t base[3] = {0, RC__EXT1_BASE, RC__EXT2_BASE};
  if (((uint32_t)(delta < RC__EXT1_BASE) & (uint32_t)(len < RC__EXT1_BASE))) {
    out[0] = (uint8_t)(delta << 4 | len);
    return 1;
  }
  uint32_t cd = rc__opt_class(delta), cl = rc__opt_class(len);
  uint32_t nd = cd ? 12 + cd : delta, nl = cl ? 12 + cl : len;
  out[0] = (uint8_t)(nd << 4 | nl);
  /* class 1 puts its byte first (value << 8), class 2 both bytes; class 0
   * stores scratch that the next field or the value overwrites */
  rc__put_be16(out + 1, (delta - base[cd]) << (8 * (2 - cd)));
  rc__put_be16(out + 1 + cd, (len - base[cl]) << (8 * (2 - cl)));
  return 1 + cd + cl;
}

/* Copies n bytes for the small values options carry: overlapping fixed-size
 * moves (no call, no byte loop) up to 16 bytes (rc__enc_copy12 in
 * codec_msg.h up to 12), memcpy beyond. */
static inline void rc__copy_small(uint8_t *dst, const uint8_t *src,
                                  size_t n) {
  if (n <= 12) {
    rc__enc_copy12(dst, src, n);
  } else if (n <= 16) {
    memcpy(dst, src, 8);
    memcpy(dst + n - 8, src + n - 8, 8);
  } else {
    memcpy(dst, src, n);
  }
}

/* RFC 8323 §3.2: Len 13/14/15 add 1/2/4 bytes of extended length, holding
 * the length minus 13 / 269 / 65805. */
#define RC__TCP_LEN_BASE1 13u
#define RC__TCP_LEN_BASE2 269u
#define RC__TCP_LEN_BASE4 65805u
/* RFC 8974 §2.1: TKL 13 adds one byte (length - 13), 14 two bytes
 * (length - 269); 15 is reserved. */
#define RC__TKL_BASE1 13u
#define RC__TKL_BASE2 269u

/*
 * Parses an RFC 8323 §3.2 frame header (with the RFC 8974 extended TKL that
 * sits after the Code). Returns the header length, RC_ERR_NEED_MORE or
 * RC_ERR_TKL_RESERVED (reported as soon as the first byte is seen).
 */
static inline rc_ssize rc__tcp_hdr_parse(const uint8_t *buf, size_t len,
                                         rc_tcp_hdr *h) {
  if (len < 1)
    return RC_ERR_NEED_MORE;
  uint32_t ln = buf[0] >> 4;
  uint32_t tkl = buf[0] & 0x0f;
  /* RFC 8974 §2.1: TKL 15 "MUST be processed as a message-format error". */
  if (tkl == 15)
    return RC_ERR_TKL_RESERVED;
  size_t elen = ln < 13 ? 0 : ln == 13 ? 1 : ln == 14 ? 2 : 4;
  size_t tlen = tkl < 13 ? 0 : tkl == 13 ? 1 : 2;
  size_t hlen = 2 + elen + tlen;
  if (len < hlen)
    return RC_ERR_NEED_MORE;
  const uint8_t *e = buf + 1;
  uint64_t body;
  switch (elen) {
  case 0:
    body = ln;
    break;
  case 1:
    body = RC__TCP_LEN_BASE1 + e[0];
    break;
  case 2:
    body = RC__TCP_LEN_BASE2 + ((uint32_t)e[0] << 8 | e[1]);
    break;
  default:
    body = RC__TCP_LEN_BASE4 + ((uint64_t)e[0] << 24 | (uint32_t)e[1] << 16 |
                                (uint32_t)e[2] << 8 | e[3]);
    break;
  }
  h->code = e[elen];
  const uint8_t *t = e + elen + 1;
  if (tlen == 1)
    tkl = RC__TKL_BASE1 + t[0];
  else if (tlen == 2)
    tkl = RC__TKL_BASE2 + ((uint32_t)t[0] << 8 | t[1]);
  h->hdr_len = (uint8_t)hlen;
  h->token_len = tkl;
  h->body_len = body;
  return (rc_ssize)hlen;
}

/* rc_msg_parse(RC_FRAMING_TCP) of the frame buf[0..total) whose header h
 * (h->hdr_len bytes, total = header + token + body) is already parsed: the
 * stream reader's fast path, which has parsed it to find the frame. */
rc_err rc__msg_parse_tcp(const uint8_t *buf, const rc_tcp_hdr *h,
                         size_t total, rc_msg *out);

#endif
