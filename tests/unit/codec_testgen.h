/*
 * Test helper for the codec tests: a seeded generator of random valid CoAP
 * messages (random code, token of 0-8 bytes and sometimes an RFC 8974
 * extended length, options with repeated numbers and extended deltas and
 * lengths, random payload), built with the rc_enc encoder, and a checker
 * that compares a parsed rc_msg with what was generated. Header-only so each
 * test executable stays one file plus this.
 */
#ifndef RCOAP_TEST_CODEC_TESTGEN_H
#define RCOAP_TEST_CODEC_TESTGEN_H

#include <stdint.h>
#include <string.h>

#include "rcoap/codec_msg.h"
#include "rcoap/codec_option.h"

#define TG_POOL 8192u
#define TG_MAX_OPTS 16u

typedef struct tg_rng {
  uint64_t s;
} tg_rng;

/* xorshift64*: deterministic across platforms for a given seed. */
static inline uint64_t tg_next(tg_rng *r) {
  r->s ^= r->s >> 12;
  r->s ^= r->s << 25;
  r->s ^= r->s >> 27;
  return r->s * 0x2545F4914F6CDD1Dull;
}
static inline uint32_t tg_below(tg_rng *r, uint32_t n) {
  return (uint32_t)(tg_next(r) % n);
}

typedef struct tg_msg {
  uint8_t type, code;
  uint16_t mid;
  size_t token_len;
  const uint8_t *token;
  size_t nopt;
  rc_opt opt[TG_MAX_OPTS];
  size_t payload_len;
  const uint8_t *payload;
} tg_msg;

static uint8_t tg_pool[TG_POOL];

static inline void tg_pool_init(tg_rng *r) {
  for (size_t i = 0; i < TG_POOL; i++)
    tg_pool[i] = (uint8_t)tg_next(r);
}

/* A length from 0-max with a bias to small values and to the boundaries of
 * the extended encodings (12/13, 268/269). */
static inline uint32_t tg_len(tg_rng *r, uint32_t max) {
  uint32_t v;
  switch (tg_below(r, 10)) {
  case 0: v = 12 + tg_below(r, 3); break;           /* 12, 13, 14 */
  case 1: v = 13 + tg_below(r, 256); break;         /* 1-byte ext */
  case 2: v = 267 + tg_below(r, 4); break;          /* 267-270 */
  case 3: v = 269 + tg_below(r, 1200); break;       /* 2-byte ext */
  default: v = tg_below(r, 13); break;              /* plain nibble */
  }
  return v > max ? max : v;
}

static inline const uint8_t *tg_bytes(tg_rng *r, size_t n) {
  return tg_pool + tg_below(r, (uint32_t)(TG_POOL - n + 1));
}

/* A random valid message for framing f (UDP Empty stays empty). */
static inline void tg_gen(tg_rng *r, rc_framing f, tg_msg *m) {
  memset(m, 0, sizeof(*m));
  m->type = (uint8_t)tg_below(r, 4);
  m->mid = (uint16_t)tg_next(r);
  m->code = (uint8_t)tg_next(r);
  if (f == RC_FRAMING_UDP && m->code == RC_CODE_EMPTY && tg_below(r, 2))
    return; /* an Empty message: header only */
  if (f == RC_FRAMING_UDP && m->code == RC_CODE_EMPTY)
    m->code = RC_GET;
  uint32_t t = tg_below(r, 20);
  m->token_len = t < 16 ? tg_below(r, 9) : t < 18 ? 9 + tg_below(r, 8)
                 : t < 19 ? 13 + tg_below(r, 300)
                          : 269 + tg_below(r, 800);
  m->token = tg_bytes(r, m->token_len);
  m->nopt = tg_below(r, TG_MAX_OPTS + 1);
  if (tg_below(r, 4) == 0)
    m->nopt = tg_below(r, 3);
  uint32_t num = 0;
  for (size_t i = 0; i < m->nopt; i++) {
    uint32_t d;
    switch (tg_below(r, 8)) {
    case 0: d = 0; break;                              /* repeat */
    case 1: d = tg_len(r, 2000); break;                /* boundary deltas */
    default: d = tg_below(r, 20); break;
    }
    if (num + d > 65535)
      d = 0;
    num += d;
    m->opt[i].num = (uint16_t)num;
    m->opt[i].len = tg_len(r, tg_below(r, 6) ? 40 : 1400);
    m->opt[i].val = tg_bytes(r, m->opt[i].len);
  }
  if (tg_below(r, 3)) {
    m->payload_len = tg_below(r, 4) ? 1 + tg_below(r, 64) : 1 + tg_below(r, 3000);
    m->payload = tg_bytes(r, m->payload_len);
  }
}

/* Encodes m with rc_enc into buf; returns the rc_enc_finish result. */
static inline rc_err tg_encode(const tg_msg *m, rc_framing f, uint8_t *buf,
                               size_t cap, const uint8_t **out,
                               size_t *out_len) {
  rc_enc e;
  rc_enc_init(&e, buf, cap, m->code, m->token, m->token_len);
  for (size_t i = 0; i < m->nopt; i++)
    rc_enc_opt(&e, m->opt[i].num, m->opt[i].val, m->opt[i].len);
  if (m->payload_len)
    rc_enc_payload(&e, m->payload, m->payload_len);
  return rc_enc_finish(&e, f, m->type, m->mid, out, out_len);
}

/* 1 if the parsed p matches the generated m, 0 otherwise. */
static inline int tg_equal(const tg_msg *m, rc_framing f, const rc_msg *p) {
  if (p->code != m->code || p->token_len != m->token_len)
    return 0;
  if (f == RC_FRAMING_UDP && (p->type != m->type || p->mid != m->mid))
    return 0;
  if (f != RC_FRAMING_UDP && (p->type != 0 || p->mid != 0))
    return 0;
  if (m->token_len && memcmp(p->token, m->token, m->token_len) != 0)
    return 0;
  if (p->payload_len != m->payload_len ||
      (m->payload_len && memcmp(p->payload, m->payload, m->payload_len)))
    return 0;
  rc_opt_iter it;
  rc_opt o;
  size_t i = 0;
  rc_opt_iter_init(&it, p);
  while (rc_opt_next(&it, &o)) {
    if (i >= m->nopt || o.num != m->opt[i].num || o.len != m->opt[i].len ||
        (o.len && memcmp(o.val, m->opt[i].val, o.len) != 0))
      return 0;
    i++;
  }
  return i == m->nopt;
}

#endif
