/*
 * For unit tests that drive a session directly: 32-bit big-endian tokens
 * and one call that queues a whole message on a session.
 */
#ifndef RCOAP_TEST_SESSION_MSG_H
#define RCOAP_TEST_SESSION_MSG_H

#include <stdint.h>
#include <string.h>

#include "rcoap/session.h"

static inline void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static inline uint32_t get32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
         ((uint32_t)p[2] << 8) | p[3];
}

/* Queues one message on s with the 4-byte token tok and len bytes of
 * payload: payload's, or 'x' when it is NULL. */
static inline rc_err queue_msg(rc_session *s, uint8_t code, uint32_t tok,
                               const uint8_t *payload, size_t len) {
  uint8_t t[4];
  put32(t, tok);
  rc_enc e;
  rc_err err = rc_session_msg_begin(s, &e, code, t, 4, len + 16);
  if (err != RC_OK)
    return err;
  if (len > 0) {
    uint8_t *p = rc_enc_payload_ptr(&e, len);
    if (p == NULL) {
      rc_session_msg_cancel(s, &e);
      return RC_ERR_NOBUF;
    }
    if (payload != NULL)
      memcpy(p, payload, len);
    else
      memset(p, 'x', len);
  }
  return rc_session_msg_end(s, &e);
}

#endif
