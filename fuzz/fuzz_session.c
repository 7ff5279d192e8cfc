/*
 * Fuzz target: arbitrary bytes into a server session in stream mode. The
 * first input byte picks the split seed; the input is fed in pieces of
 * varying size, the output is drained, time advances and expiries run.
 * With bit 7 of that byte set, Max-Message-Size is 1 MiB and messages
 * over 64 KiB take their buffer from a 200 KiB rx_budget of which other
 * "connections" already hold (byte & 0x3f) * 3 KiB: taken, refused now
 * (5.03) or never (4.13); every byte must be given back by the end.
 * With bit 6 set, the session is in WebSocket message mode and each piece
 * is one message, empty ones included (at most 64 of those per input).
 * Must never crash, leak or hang, whatever the peer sends.
 * Each request also checks the fan-out's two framings against each other:
 * the frames rc_session_frame_tails writes for two observers with the
 * request's token, behind a tail made of its options and payload, must
 * be the bytes rc_session_send_tails queues for them (on a second, idle
 * session).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rcoap/session.h"

typedef struct fz {
  rc_session *s, *s2;
} fz;

static int on_nothing(void *user, const rc_msg *m) {
  (void)user;
  (void)m;
  return 0;
}

static void check_tails(rc_session *s2, const rc_msg *m) {
  uint8_t tail[600], out[1400];
  size_t tl = m->opts_len, len, sent, at = 0, n;
  if (tl + 1 + m->payload_len > sizeof tail)
    return;
  if (tl)
    memcpy(tail, m->opts, tl);
  if (m->payload_len) { /* RFC 7252 §3.1: the marker, then the payload */
    tail[tl++] = 0xFF;
    memcpy(tail + tl, m->payload, m->payload_len);
    tl += m->payload_len;
  }
  const uint8_t *toks[2] = {m->token, m->token}, *p;
  size_t tkls[2] = {m->token_len, m->token_len};
  if (rc_session_frame_tails(s2, RC_CONTENT, toks, tkls, 2, tail, m->opts_len,
                             tl, out, sizeof out, &len) != RC_OK)
    return; /* not framed there: the queued path's own business */
  if (rc_session_send_tails(s2, RC_CONTENT, toks, tkls, 2, tail, m->opts_len,
                            tl, &sent) != RC_OK ||
      sent != 2)
    __builtin_trap();
  while (rc_session_pending(s2, &p, &n) == RC_OK) {
    if (at + n > len || memcmp(out + at, p, n) != 0)
      __builtin_trap();
    at += n;
    rc_session_consume(s2, n);
  }
  if (at != len)
    __builtin_trap();
}

static int on_message(void *user, const rc_msg *m) {
  fz *z = user;
  rc_session *s = z->s;
  if (rc_code_is_request(m->code) && z->s2 != NULL)
    check_tails(z->s2, m);
  rc_enc e; /* answer requests from inside the callback, as servers do */
  if (rc_code_is_request(m->code) &&
      rc_session_msg_begin(s, &e, RC_CONTENT, m->token, m->token_len,
                           m->payload_len) == RC_OK) {
    rc_enc_payload(&e, m->payload, m->payload_len);
    rc_session_msg_end(s, &e);
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  int ws = (data[0] & 0x40) != 0;
  rc_session_config cfg;
  rc_session_config_default(&cfg, ws ? RC_FRAMING_WS : RC_FRAMING_TCP,
                            RC_SESSION_SERVER);
  cfg.max_msg_size = 2048; /* small, so oversize paths are reached */
  cfg.keepalive_ms = 50;
  cfg.ping_timeout_ms = 100;
  rc_budget *bud = NULL;
  size_t others = (size_t)(data[0] & 0x3f) * 3072u; /* under the limit */
  if (data[0] & 0x80) {
    if (rc_budget_new(&bud, 200u * 1024u, NULL) != RC_OK)
      return 0;
    rc_budget_take(bud, others);
    cfg.max_msg_size = 1u << 20;
    cfg.rx_budget = bud;
  }
  fz z = {NULL, NULL};
  rc_session_callbacks cb = {.on_message = on_message};
  if (rc_session_new(&z.s, &cfg, &cb, &z, NULL, 0) != RC_OK) {
    rc_budget_free(bud);
    return 0;
  }
  rc_session *s = z.s;
  rc_session_config cfg2;
  rc_session_config_default(&cfg2, RC_FRAMING_TCP, RC_SESSION_SERVER);
  rc_session_callbacks cb2 = {.on_message = on_nothing}; /* never called */
  const uint8_t *p;
  size_t len;
  if (rc_session_new(&z.s2, &cfg2, &cb2, NULL, NULL, 0) != RC_OK)
    __builtin_trap();
  else
    while (rc_session_pending(z.s2, &p, &len) == RC_OK) /* its CSM */
      rc_session_consume(z.s2, len);
  uint32_t seed = data[0] * 2654435761u + 1;
  rc_time now = 0;
  unsigned empties = 0;
  for (size_t off = 1; off < size;) {
    seed = seed * 1103515245u + 12345u;
    size_t n = 1 + (seed >> 16) % 64;
    if (ws && (seed & 0x7000) == 0 && empties < 64) {
      n = 0; /* an empty WebSocket message */
      empties++;
    }
    if (n > size - off)
      n = size - off;
    rc_session_recv(s, data + off, n, now);
    off += n;
    while (rc_session_pending(s, &p, &len) == RC_OK)
      rc_session_consume(s, len);
    now += seed & 15;
    if (rc_session_expiry(s) <= now)
      rc_session_handle_expiry(s, now);
  }
  rc_session_free(s);
  rc_session_free(z.s2);
  if (bud && rc_budget_used(bud) != others)
    __builtin_trap(); /* the session kept (or gave back) bytes not its own */
  rc_budget_free(bud);
  return 0;
}
