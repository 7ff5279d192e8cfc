/*
 * Session tests for RFC 8323 §5.4 Ping/Pong: the Pong echoes the Ping's
 * token, Custody delays the Pong until the exchange layer is ready (or the
 * custody delay passes) and keeps Pong order, our Pings are matched by
 * token or by order (libcoap's Pongs do not echo the token), and the
 * keepalive declares the peer dead through handle_expiry.
 */
#include "test_session_harness.h"

/* RFC 8323 Figure 11: Ping with token 0x42 -> Pong with token 0x42. */
static void pong_echoes_token(void **state) {
  (void)state;
  harness *h = h_new(RC_FRAMING_TCP, RC_SESSION_SERVER, 0);
  h_handshake(h, 1);
  h_drain(h);
  size_t before = h->out_len;
  static const uint8_t ping[] = {0x01, 0xe2, 0x42};
  assert_int_equal(h_feed(h, ping, sizeof(ping), 2), RC_OK);
  h_drain(h);
  static const uint8_t pong[] = {0x01, 0xe3, 0x42};
  assert_int_equal(h->out_len - before, sizeof(pong));
  assert_memory_equal(h->out + before, pong, sizeof(pong));
  /* unknown elective option in a Ping: ignored (RFC 8323 §5.4) */
  uint8_t b[32];
  h_opt o[1] = {{4, "zz", 2}};
  size_t n = h_mk(b, sizeof(b), RC_FRAMING_TCP, RC_SIG_PING, "\x07", 1, o, 1,
                  NULL, 0);
  h_feed(h, b, n, 3);
  assert_int_equal(h_last_out_code(h), RC_SIG_PONG);
  /* unknown critical option: Abort (RFC 8323 §5.2) */
  h_opt c[1] = {{5, "zz", 2}};
  n = h_mk(b, sizeof(b), RC_FRAMING_TCP, RC_SIG_PING, "\x07", 1, c, 1, NULL,
           0);
  h_feed(h, b, n, 3);
  assert_int_equal(h_last_out_code(h), RC_SIG_ABORT);
  assert_int_equal(h->closed_reason, RC_ERR_PROTOCOL);
  h_free(h);
}

static size_t custody_ping(uint8_t *b, uint8_t tok) {
  h_opt o[1] = {{RC_SIGOPT_CUSTODY, NULL, 0}};
  return h_mk(b, 16, RC_FRAMING_TCP, RC_SIG_PING, &tok, 1, o, 1, NULL, 0);
}

/* RFC 8323 §5.4.1: a Custody Ping waits for custody; the Pong carries
 * Custody; a plain Ping behind it keeps its place in line. */
static void custody_delays_pong(void **state) {
  (void)state;
  harness *h = h_new(RC_FRAMING_TCP, RC_SESSION_SERVER, 0);
  h_handshake(h, 1);
  h->custody = 0;
  uint8_t b[16];
  size_t n = custody_ping(b, 0x11);
  h_feed(h, b, n, 10);
  assert_int_equal(h->n_custody_asked, 1);
  static const uint8_t plain[] = {0x01, 0xe2, 0x22};
  h_feed(h, plain, sizeof(plain), 11);
  assert_int_equal(h_out_count(h), 1); /* only our CSM */
  assert_int_equal(rc_session_expiry(h->s),
                   10 + RC_SESSION_DEFAULT_CUSTODY_DELAY);
  /* still not ready: nothing */
  assert_int_equal(rc_session_custody_ready(h->s), RC_OK);
  assert_int_equal(h_out_count(h), 1);
  h->custody = 1;
  assert_int_equal(rc_session_custody_ready(h->s), RC_OK);
  assert_int_equal(h_out_count(h), 3);
  rc_msg m;
  h_out_msg(h, 1, &m);
  assert_int_equal(m.code, RC_SIG_PONG);
  assert_int_equal(m.token[0], 0x11);
  assert_int_equal(rc_msg_count_opt(&m, RC_SIGOPT_CUSTODY), 1);
  h_out_msg(h, 2, &m);
  assert_int_equal(m.token[0], 0x22);
  assert_int_equal(rc_msg_count_opt(&m, RC_SIGOPT_CUSTODY), 0);
  assert_int_equal(rc_session_expiry(h->s), RC_TIME_NEVER);

  /* ready at once: immediate Pong with Custody */
  n = custody_ping(b, 0x33);
  h_feed(h, b, n, 20);
  h_out_msg(h, 3, &m);
  assert_int_equal(m.token[0], 0x33);
  assert_int_equal(rc_msg_count_opt(&m, RC_SIGOPT_CUSTODY), 1);
  h_free(h);
}

/* A Custody Ping without a token (libcoap's Pings have none) is held like
 * any other and answered with an empty token; its NULL token was once
 * handed to memcpy (UBSan: null pointer argument). */
static void custody_ping_without_token(void **state) {
  (void)state;
  harness *h = h_new(RC_FRAMING_TCP, RC_SESSION_SERVER, 0);
  h_handshake(h, 1);
  h->custody = 0;
  uint8_t b[16];
  h_opt o[1] = {{RC_SIGOPT_CUSTODY, NULL, 0}};
  size_t n = h_mk(b, sizeof b, RC_FRAMING_TCP, RC_SIG_PING, NULL, 0, o, 1,
                  NULL, 0);
  h_feed(h, b, n, 10);
  assert_int_equal(h->n_custody_asked, 1);
  assert_int_equal(h_out_count(h), 1); /* held */
  h->custody = 1;
  assert_int_equal(rc_session_custody_ready(h->s), RC_OK);
  assert_int_equal(h_out_count(h), 2);
  rc_msg m;
  h_out_msg(h, 1, &m);
  assert_int_equal(m.code, RC_SIG_PONG);
  assert_int_equal(m.token_len, 0);
  assert_int_equal(rc_msg_count_opt(&m, RC_SIGOPT_CUSTODY), 1);
  h_free(h);
}

/* Custody never comes: after custody_delay the Pong goes without it. */
static void custody_delay_expires(void **state) {
  (void)state;
  harness *h = h_new(RC_FRAMING_TCP, RC_SESSION_SERVER, 0);
  h_handshake(h, 1);
  uint8_t b[16];
  size_t n = custody_ping(b, 0x44);
  h_feed(h, b, n, 100);
  rc_time t = rc_session_expiry(h->s);
  assert_int_equal(t, 100 + RC_SESSION_DEFAULT_CUSTODY_DELAY);
  rc_session_handle_expiry(h->s, t - 1);
  assert_int_equal(h_out_count(h), 1);
  rc_session_handle_expiry(h->s, t);
  rc_msg m;
  assert_int_equal(h_out_count(h), 2);
  h_out_msg(h, 1, &m);
  assert_int_equal(m.code, RC_SIG_PONG);
  assert_int_equal(m.token[0], 0x44);
  assert_int_equal(rc_msg_count_opt(&m, RC_SIGOPT_CUSTODY), 0);
  h_free(h);
}

/* Our Ping: 4-byte token; the Pong is matched by token, or by order when
 * it has another token (libcoap), with the RTT. */
static void our_ping_matched(void **state) {
  (void)state;
  harness *h = h_new(RC_FRAMING_TCP, RC_SESSION_CLIENT, 0);
  h_handshake(h, 1);
  uint32_t id1, id2;
  assert_int_equal(rc_session_ping(h->s, 0, 100, &id1), RC_OK);
  assert_int_equal(rc_session_ping(h->s, 1, 150, &id2), RC_OK);
  assert_int_not_equal(id1, id2);
  rc_msg m;
  h_out_msg(h, 2, &m);
  assert_int_equal(m.code, RC_SIG_PING);
  assert_int_equal(m.token_len, 4);
  assert_int_equal(rc_msg_count_opt(&m, RC_SIGOPT_CUSTODY), 1);
  uint8_t tok2[4];
  memcpy(tok2, m.token, 4);
  /* Pong for the second Ping first, by token */
  uint8_t b[16];
  size_t n = h_mk(b, sizeof(b), RC_FRAMING_TCP, RC_SIG_PONG, tok2, 4, NULL, 0,
                  NULL, 0);
  h_feed(h, b, n, 170);
  assert_int_equal(h->n_pong, 1);
  assert_int_equal(h->pong_id, id2);
  assert_int_equal(h->pong_rtt, 20);
  /* libcoap style: "10 e3 20", no token, Custody -> the oldest */
  static const uint8_t lc[] = {0x10, 0xe3, 0x20};
  h_feed(h, lc, sizeof(lc), 300);
  assert_int_equal(h->n_pong, 2);
  assert_int_equal(h->pong_id, id1);
  assert_int_equal(h->pong_rtt, 200);
  assert_true(h->pong_custody);
  /* unsolicited Pong: ignored */
  h_feed(h, lc, sizeof(lc), 301);
  assert_int_equal(h->n_pong, 2);
  assert_int_equal(h->n_closed, 0);
  h_free(h);
}

/* Keepalive: Ping after keepalive_ms of silence; dead after ping_timeout
 * with nothing received. */
static void keepalive_dead_peer(void **state) {
  (void)state;
  harness hh, *h = &hh;
  h_init_cfg(h, RC_FRAMING_TCP, RC_SESSION_CLIENT);
  h->cfg.keepalive_ms = 1000;
  h->cfg.ping_timeout_ms = 500;
  h_start(h, 0);
  h_handshake(h, 0);
  assert_int_equal(rc_session_expiry(h->s), 1000);
  rc_session_handle_expiry(h->s, 999);
  assert_int_equal(h_out_count(h), 1);
  rc_session_handle_expiry(h->s, 1000);
  assert_int_equal(h_last_out_code(h), RC_SIG_PING);
  assert_int_equal(rc_session_expiry(h->s), 1500);
  rc_session_handle_expiry(h->s, 1499);
  assert_int_equal(h->n_closed, 0);
  rc_session_handle_expiry(h->s, 1500);
  assert_int_equal(h->n_closed, 1);
  assert_int_equal(h->closed_reason, RC_ERR_PEER_DEAD);
  assert_int_equal(rc_session_get_state(h->s), RC_SESSION_CLOSED);
  assert_int_equal(rc_session_expiry(h->s), RC_TIME_NEVER);
  rc_session_free(h->s);
  free(h->out);
}

/* Any data from the peer counts as alive (a Pong may sit behind a large
 * message); the next keepalive is measured from the last input. */
static void keepalive_data_keeps_alive(void **state) {
  (void)state;
  harness hh, *h = &hh;
  h_init_cfg(h, RC_FRAMING_TCP, RC_SESSION_CLIENT);
  h->cfg.keepalive_ms = 1000;
  h->cfg.ping_timeout_ms = 500;
  h_start(h, 0);
  h_handshake(h, 0);
  rc_session_handle_expiry(h->s, 1000);
  assert_int_equal(h_last_out_code(h), RC_SIG_PING);
  static const uint8_t empty[] = {0x00, 0x00};
  h_feed(h, empty, 2, 1200);
  assert_int_equal(rc_session_expiry(h->s), 2200);
  rc_session_handle_expiry(h->s, 1600);
  assert_int_equal(h->n_closed, 0);
  /* answered by a Pong: alive too */
  rc_session_handle_expiry(h->s, 2200);
  assert_int_equal(h_out_count(h), 3);
  rc_msg m;
  h_out_msg(h, 2, &m);
  uint8_t b[16];
  size_t n = h_mk(b, sizeof(b), RC_FRAMING_TCP, RC_SIG_PONG, m.token,
                  m.token_len, NULL, 0, NULL, 0);
  h_feed(h, b, n, 2300);
  assert_int_equal(h->n_pong, 1); /* matched by token: the second Ping */
  assert_int_equal(h->pong_id, 2);
  assert_int_equal(h->pong_rtt, 100);
  assert_int_equal(rc_session_expiry(h->s), 3300);
  assert_int_equal(h->n_closed, 0);
  rc_session_free(h->s);
  free(h->out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(pong_echoes_token),
      cmocka_unit_test(custody_delays_pong),
      cmocka_unit_test(custody_ping_without_token),
      cmocka_unit_test(custody_delay_expires),
      cmocka_unit_test(our_ping_matched),
      cmocka_unit_test(keepalive_dead_peer),
      cmocka_unit_test(keepalive_data_keeps_alive),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
