/*
 * rcoap-bench --observe's lean read of one notification (obsconn.c): the
 * bytes after the token (options, 0xFF, payload) walked once, in place,
 * for the Observe value and the payload; no copy, no option table. It
 * reads bytes off the network: fuzz/fuzz_obs_note.c checks it against the
 * codec (rc_opts_scan and its option iterator) on any input.
 */
#ifndef RCOAP_BENCH_OBSNOTE_H
#define RCOAP_BENCH_OBSNOTE_H

#include <stddef.h>
#include <stdint.h>

#include "rcoap/codec_option.h"

typedef struct obs_note {
  int have_obs;      /* an Observe option was there */
  uint32_t seq;      /* its value (the first one's: RFC 7252 §5.4.5) */
  const uint8_t *pl; /* the payload (end when there is none) */
  size_t plen;
} obs_note;

/* RFC 7252 §3.1: a delta or length nibble of 13 takes one more byte
 * (value - 13), 14 two (value - 269). *v is the nibble; 0, or -1 when the
 * bytes are not there. */
static inline int obs_note_ext(const uint8_t **pp, const uint8_t *end,
                               uint32_t *v) {
  const uint8_t *p = *pp;
  size_t k = *v == 13 ? 1 : 2;
  if ((size_t)(end - p) < k)
    return -1;
  *v = k == 1 ? 13u + p[0] : 269u + ((uint32_t)p[0] << 8 | p[1]);
  *pp = p + k;
  return 0;
}

/* Walks p..end: 0 and *n filled, or -1 for a format error (RFC 7252
 * §3.1: a reserved nibble, an option past the end, an option number past
 * 65535, a marker before an empty payload) or an Observe of more than 3
 * bytes (RFC 7641 §2). */
static inline int obs_note_parse(const uint8_t *p, const uint8_t *end,
                                 obs_note *n) {
  uint64_t num = 0; /* grows by at most 65804 an option: never wraps */
  uint32_t seq = 0;
  int have_obs = 0;
  while (p < end && *p != 0xFF) {
    uint32_t d = *p >> 4, l = *p & 15;
    p++;
    if (d == 15 || l == 15)
      return -1; /* RFC 7252 §3.1: reserved nibble, a format error */
    if ((d >= 13 && obs_note_ext(&p, end, &d)) ||
        (l >= 13 && obs_note_ext(&p, end, &l)))
      return -1;
    if ((size_t)(end - p) < l)
      return -1;
    num += d;
    if (num == RC_OPT_OBSERVE && !have_obs) {
      if (l > 3)
        return -1; /* RFC 7641 §2: 0-3 bytes */
      for (uint32_t i = 0; i < l; i++)
        seq = seq << 8 | p[i];
      have_obs = 1;
    }
    p += l;
  }
  if (num > 65535)
    return -1; /* no option number past 16 bits (it only grows) */
  n->have_obs = have_obs;
  n->seq = seq;
  n->pl = p < end ? p + 1 : p;
  n->plen = (size_t)(end - n->pl);
  if (p < end && n->plen == 0)
    return -1; /* RFC 7252 §3: a marker before an empty payload */
  return 0;
}

#endif
