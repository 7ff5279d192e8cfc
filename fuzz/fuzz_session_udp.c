/*
 * Fuzz target: a UDP session (RFC 7252 message layer) driven by a script.
 * The first byte configures it (bit 0: answer requests inside on_message,
 * bit 1: NON requests, bit 2: every notification CON, bits 3-4: NSTART
 * 1-4, bit 5: separate delay 0, bit 6: the amplification limit with
 * factor 1 and a stub Echo that accepts "ok", answers twice the request's
 * payload). Then records, each an op byte:
 *   op & 3 == 0  a datagram of (op >> 2) bytes from the input
 *   op & 3 == 1  time advances (op >> 2) * 250 ms; expiries run
 *   op & 3 == 2  we send a request (token = the op byte), or with bit 7
 *                a response on the last token received (late answer or
 *                notification)
 *   op & 3 == 3  we ping
 * Every datagram we send must parse as CoAP; at the end, after enough
 * time for every retransmission to end, nothing may be due any more.
 * Must never crash, leak or hang, whatever the peer sends.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rcoap/session.h"

typedef struct st {
  rc_session *s;
  int reply;
  int twice;
  uint8_t tok[8];
  size_t tkl;
} st;

static int on_message(void *user, const rc_msg *m) {
  st *t = user;
  if (m->token_len <= 8 && m->token_len > 0) {
    memcpy(t->tok, m->token, m->token_len);
    t->tkl = m->token_len;
  }
  rc_enc e;
  size_t n = m->payload_len * (t->twice ? 2 : 1);
  if (t->reply && rc_code_is_request(m->code) &&
      rc_session_msg_begin(t->s, &e, RC_CONTENT, m->token, m->token_len,
                           n) == RC_OK) {
    uint8_t *p = n ? rc_enc_payload_ptr(&e, n) : NULL;
    if (p != NULL) {
      memcpy(p, m->payload, m->payload_len);
      if (t->twice)
        memcpy(p + m->payload_len, m->payload, m->payload_len);
    }
    rc_session_msg_end(t->s, &e);
  }
  return 0;
}

/* The Echo stub: "ok" is fresh, anything else is not. */
static size_t echo_make(void *u, rc_time now, uint8_t out[RC_UDP_ECHO_MAX]) {
  (void)u;
  (void)now;
  memcpy(out, "ok", 2);
  return 2;
}
static int echo_check(void *u, const uint8_t *v, size_t n, rc_time now) {
  (void)u;
  (void)now;
  return n == 2 && memcmp(v, "ok", 2) == 0;
}
static const rc_session_echo echo_stub = {echo_make, echo_check};

static void drain(rc_session *s) {
  const uint8_t *p;
  size_t len;
  while (rc_session_pending(s, &p, &len) == RC_OK) {
    rc_msg m;
    if (rc_msg_parse(RC_FRAMING_UDP, p, len, &m) != RC_OK || m.token_len > 8)
      __builtin_trap(); /* we sent something malformed */
    rc_session_consume(s, len);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  uint8_t c = data[0];
  rc_session_config cfg;
  rc_session_config_default(&cfg, RC_FRAMING_UDP, RC_SESSION_SERVER);
  cfg.udp.seed = 1;
  cfg.udp.requests_non = (c >> 1) & 1;
  cfg.udp.notify_con = (c >> 2) & 1;
  cfg.udp.nstart = 1 + ((c >> 3) & 3);
  cfg.udp.separate_delay_ms = (c & 0x20) ? 0 : 1000;
  cfg.udp.dedup_max = 8; /* small, so the ring wraps */
  cfg.udp.amp_factor = (c & 0x40) ? 1 : 0;
  st t = {.reply = c & 1, .twice = (c >> 6) & 1};
  rc_session_callbacks cb = {.on_message = on_message};
  if (rc_session_new(&t.s, &cfg, &cb, &t, NULL, 0) != RC_OK)
    return 0;
  if (c & 0x40)
    rc_session_set_echo(t.s, &echo_stub);
  rc_time now = 0;
  for (size_t off = 1; off < size;) {
    uint8_t op = data[off++];
    if ((op & 3) == 0) {
      size_t n = op >> 2;
      if (n > size - off)
        n = size - off;
      rc_session_recv(t.s, data + off, n, now);
      off += n;
    } else if ((op & 3) == 1) {
      now += (rc_time)(op >> 2) * 250;
      if (rc_session_expiry(t.s) <= now)
        rc_session_handle_expiry(t.s, now);
    } else if ((op & 3) == 2) {
      rc_enc e;
      int resp = op & 0x80;
      if (rc_session_msg_begin(t.s, &e, resp ? RC_CONTENT : RC_GET,
                               resp ? t.tok : &op, resp ? t.tkl : 1,
                               16) == RC_OK) {
        rc_enc_opt_uint(&e, 6, op); /* Observe */
        rc_session_msg_end(t.s, &e);
      }
    } else {
      rc_session_ping(t.s, 0, now, NULL);
    }
    drain(t.s);
  }
  /* A CON ends within MAX_TRANSMIT_WAIT (93 s), one after the other
   * under NSTART: at most one CON per input byte, so after size * 100 s
   * nothing may be pending. */
  for (size_t i = 0; i <= size * 10 && rc_session_expiry(t.s) != RC_TIME_NEVER;
       i++) {
    now += 10000;
    rc_session_handle_expiry(t.s, now);
    drain(t.s);
  }
  if (rc_session_get_state(t.s) != RC_SESSION_CLOSED &&
      rc_session_expiry(t.s) != RC_TIME_NEVER)
    __builtin_trap(); /* a timer that never ends */
  rc_session_free(t.s);
  return 0;
}
