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

#include "rcoap/codec_frame.h"
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
 * len) and *payload and *payload_len what follows the marker (NULL/0 if none).
 * Returns 0 or RC_ERR_OPT_DELTA_RESERVED, RC_ERR_OPT_LEN_RESERVED,
 * RC_ERR_OPT_TRUNCATED, RC_ERR_OPT_NUMBER_OVERFLOW, RC_ERR_EMPTY_PAYLOAD.
 */
static inline rc_err rc__opts_scan(const uint8_t *buf, size_t len,
                                   size_t *opts_len, const uint8_t **payload,
                                   size_t *payload_len) {
  const uint8_t *p = buf;
  const uint8_t *end = buf + len;
  uint32_t num = 0;

  while (p < end) {
    uint32_t b = *p;
    if (b == RC__PAYLOAD_MARKER) {
      *opts_len = (size_t)(p - buf);
      p++;
      /* RFC 7252 §3: "The presence of a marker followed by a zero-length
       * payload MUST be processed as a message format error." */
      if (p == end)
        return RC_ERR_EMPTY_PAYLOAD;
      *payload = p;
      *payload_len = (size_t)(end - p);
      return RC_OK;
    }
    p++;
    uint32_t d = b >> 4;
    uint32_t l = b & 0x0f;
    if (d >= 13 || l >= 13) {
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
    }
    num += d;
    if (num > RC__OPT_NUM_MAX)
      return RC_ERR_OPT_NUMBER_OVERFLOW;
    if ((size_t)(end - p) < l)
      return RC_ERR_OPT_TRUNCATED;
    p += l;
  }
  *opts_len = len;
  *payload = NULL;
  *payload_len = 0;
  return RC_OK;
}

/* Writes the option header for (delta, len) to out (at most 5 bytes);
 * returns its length. delta and len must be <= RC__EXT2_MAX. */
static inline size_t rc__opt_hdr(uint8_t out[5], uint32_t delta,
                                 uint32_t len) {
  size_t n = 1;
  uint8_t dn, ln;
  if (delta < RC__EXT1_BASE) {
    dn = (uint8_t)delta;
  } else if (delta < RC__EXT2_BASE) {
    dn = 13;
    out[n++] = (uint8_t)(delta - RC__EXT1_BASE);
  } else {
    dn = 14;
    out[n++] = (uint8_t)((delta - RC__EXT2_BASE) >> 8);
    out[n++] = (uint8_t)(delta - RC__EXT2_BASE);
  }
  if (len < RC__EXT1_BASE) {
    ln = (uint8_t)len;
  } else if (len < RC__EXT2_BASE) {
    ln = 13;
    out[n++] = (uint8_t)(len - RC__EXT1_BASE);
  } else {
    ln = 14;
    out[n++] = (uint8_t)((len - RC__EXT2_BASE) >> 8);
    out[n++] = (uint8_t)(len - RC__EXT2_BASE);
  }
  out[0] = (uint8_t)(dn << 4 | ln);
  return n;
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

#endif
