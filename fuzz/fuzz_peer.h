/*
 * Shared by the exchange fuzz targets (header only; each target stays one
 * file): the peer's CSM chosen by a config byte, draining a session's
 * output, and a patterned body behind a source and a sink that refuses
 * beyond a limit.
 */
#ifndef RCOAP_FUZZ_PEER_H
#define RCOAP_FUZZ_PEER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rcoap/exchange.h"
#include "rcoap/session.h"

#define FZ_BODY 8192u
static uint8_t fz_body[FZ_BODY];

static inline void fz_body_fill(void) {
  for (size_t i = 0; i < FZ_BODY; i++)
    fz_body[i] = (uint8_t)(i * 7 % 251);
}

/* A source over the first (uintptr_t)arg bytes of fz_body. */
static inline rc_ssize fz_src_read(void *arg, uint64_t off, uint8_t *buf,
                                   size_t cap) {
  size_t total = (size_t)(uintptr_t)arg;
  if (off >= total)
    return 0;
  size_t n = total - (size_t)off < cap ? total - (size_t)off : cap;
  memcpy(buf, fz_body + off, n);
  return (rc_ssize)n;
}

/* A sink that refuses bodies over (uintptr_t)arg bytes. */
static inline rc_err fz_sink_write(void *arg, uint64_t off, const uint8_t *d,
                                   size_t n, uint64_t total) {
  (void)d, (void)total;
  return off + n > (uintptr_t)arg ? RC_ERR_ENTITY_TOO_LARGE : RC_OK;
}

/* Writes the peer's CSM frame into out[8] and returns its length: bit 0 of
 * cfg offers Block-Wise-Transfer (4), bit 1 sets Max-Message-Size (2) to
 * 8192 instead of 1152. */
static inline size_t fz_peer_csm(uint8_t cfg, uint8_t out[8]) {
  size_t n = 0;
  int bwt = cfg & 1;
  out[n++] = (uint8_t)((bwt ? 4 : 3) << 4);
  out[n++] = RC_SIG_CSM;
  out[n++] = 0x22; /* delta 2, len 2 */
  out[n++] = (cfg & 2) ? 0x20 : 0x04;
  out[n++] = (cfg & 2) ? 0x00 : 0x80;
  if (bwt)
    out[n++] = 0x20; /* delta 2 (option 4), len 0 */
  return n;
}

/* A session in stream mode (our Max-Message-Size mms) with an exchange on
 * it, both reporting to user. Returns 0, or -1 with nothing left open. */
static inline int fz_open(rc_session_role role, uint32_t mms,
                          const rc_session_callbacks *scb,
                          const rc_exchange_callbacks *xcb, void *user,
                          rc_session **s, rc_exchange **x) {
  rc_session_config cfg;
  rc_session_config_default(&cfg, RC_FRAMING_TCP, role);
  cfg.max_msg_size = mms;
  if (rc_session_new(s, &cfg, scb, user, NULL, 0) != RC_OK)
    return -1;
  static const uint8_t seed[4] = {1, 2, 3, 4};
  if (rc_exchange_new(x, *s, xcb, user, seed, sizeof seed, NULL) != RC_OK) {
    rc_session_free(*s);
    return -1;
  }
  return 0;
}

/* Takes up to max messages of s's output (the peer reads them). */
static inline void fz_drain(rc_session *s, int max) {
  const uint8_t *p;
  size_t len;
  for (int i = 0; i < max && rc_session_pending(s, &p, &len) == RC_OK; i++)
    rc_session_consume(s, len);
}

#endif
