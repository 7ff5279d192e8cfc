/*
 * Unrecognized critical options arriving at a server exchange on an RFC
 * 7252 (UDP) session, byte for byte: a Confirmable request gets 4.02 in
 * its ACK, a Non-confirmable one a Reset and nothing else (RFC 7252
 * §5.4.1, §4.3; libcoap does the same); OSCORE (RFC 8613), which rcoap
 * does not implement, counts as unrecognized; a proxy request (Proxy-Uri)
 * reaches the handler with an unrecognized safe-to-forward critical
 * option (§5.7.2: the proxy forwards it) but not with an unsafe one.
 * With rc_exchange_set_forward_unknown (the app: a reverse route forwards
 * it) a request without Proxy-Uri reaches the handler too, which refuses
 * it with rc_xreq_refuse_option: the same bytes as the exchange's own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rcoap/exchange.h"
#include "test_exchange_harness.h"

typedef struct server {
  rc_session *s;
  rc_exchange *x;
  rc_time now;
  int requests_seen;
  uint16_t fwd_seen;  /* rc_xreq_unknown_forwardable of the last request */
  int refuse;         /* the handler refuses it with rc_xreq_refuse_option */
} server;

static int on_message(void *user, const rc_msg *m) {
  server *sv = user;
  return rc_exchange_on_message(sv->x, m, sv->now) == RC_OK ? 0 : -1;
}

static void on_request(void *user, rc_exchange *x, rc_xreq *req) {
  server *sv = user;
  (void)x;
  sv->requests_seen++;
  sv->fwd_seen = rc_xreq_unknown_forwardable(req);
  if (sv->refuse) {
    assert_int_equal(rc_xreq_refuse_option(req, sv->fwd_seen), RC_OK);
    return;
  }
  rc_outmsg resp = {RC_CONTENT, NULL, 0, (const uint8_t *)"ok", 2};
  assert_int_equal(rc_exchange_respond(req, &resp), RC_OK);
}

static int setup(void **state) {
  server *sv = calloc(1, sizeof *sv);
  sv->now = 1000;
  rc_session_config cfg;
  rc_session_config_default(&cfg, RC_FRAMING_UDP, RC_SESSION_SERVER);
  cfg.udp.seed = 7;
  rc_session_callbacks cb = {.on_message = on_message};
  rc_exchange_callbacks xcb = {.on_request = on_request};
  th_end_new(&cfg, &cb, &xcb, sv, 7, NULL, sv->now, &sv->s, &sv->x);
  *state = sv;
  return 0;
}

static int teardown(void **state) {
  server *sv = *state;
  th_end_free(sv->s, sv->x, 0);
  free(sv);
  return 0;
}

/* Feeds one datagram; the server's whole output must be want. */
static void feed_expect(server *sv, const uint8_t *in, size_t n,
                        const uint8_t *want, size_t want_len) {
  assert_int_equal(rc_session_recv(sv->s, in, n, sv->now), RC_OK);
  const uint8_t *d;
  size_t len;
  assert_int_equal(rc_session_pending(sv->s, &d, &len), RC_OK);
  assert_int_equal(len, want_len);
  assert_memory_equal(d, want, want_len);
  assert_int_equal(rc_session_consume(sv->s, len), RC_OK);
  assert_false(rc_session_want_write(sv->s)); /* nothing more */
}

/* GET /x with option 2049 (critical, safe to forward, unassigned):
 * Uri-Path "x" (delta 11), then delta 2038 = 269 + 0x06e9, value "v". */
#define GET_X_2049(type, mid_lo)                                               \
  {0x40 | (type) << 4 | 1, 0x01, 0x12, (mid_lo), 0xaa, 0xb1, 'x', 0xe1, 0x06,  \
   0xe9, 'v'}

static void non_request_is_reset(void **state) {
  server *sv = *state;
  static const uint8_t non[] = GET_X_2049(1, 0x34);
  static const uint8_t rst[] = {0x70, 0x00, 0x12, 0x34};
  feed_expect(sv, non, sizeof non, rst, sizeof rst);
  assert_int_equal(sv->requests_seen, 0);
}

/* CON GET /x with 2049 gets the 4.02 naming it; the handler saw it or
 * not (the count grows by seen). */
static void con_request_is_402_seen(server *sv) {
  int before = sv->requests_seen;
  static const uint8_t con[] = GET_X_2049(0, 0x35);
  static const char diag[] = "unrecognized critical option 2049";
  uint8_t want[6 + sizeof diag - 1] = {0x61, 0x82, 0x12, 0x35, 0xaa, 0xff};
  memcpy(want + 6, diag, sizeof diag - 1);
  feed_expect(sv, con, sizeof con, want, sizeof want);
  assert_int_equal(sv->requests_seen, before + sv->refuse);
}

static void con_request_is_402(void **state) {
  con_request_is_402_seen(*state);
}

/* CON GET /x with OSCORE (option 9, value 0x00): 4.02 naming option 9. */
static void oscore_is_unrecognized(void **state) {
  server *sv = *state;
  static const uint8_t con[] = {0x41, 0x01, 0x12, 0x36, 0xaa, 0x91,
                                0x00, 0x21, 'x'};
  static const char diag[] = "unrecognized critical option 9";
  uint8_t want[6 + sizeof diag - 1] = {0x61, 0x82, 0x12, 0x36, 0xaa, 0xff};
  memcpy(want + 6, diag, sizeof diag - 1);
  feed_expect(sv, con, sizeof con, want, sizeof want);
  assert_int_equal(sv->requests_seen, 0);
}

/* CON GET with Proxy-Uri "coap://h/" (option 35: delta 13 + 22) and then
 * option NUM (delta NUM - 35 = 269 + ext): 2049 (safe to forward) reaches
 * the handler, 2051 (unsafe) is refused with 4.02. */
static void proxy_request(server *sv, uint16_t num, uint8_t mid_lo) {
  uint16_t ext = (uint16_t)(num - 35 - 269);
  uint8_t con[] = {0x41, 0x01, 0x12, mid_lo, 0xaa, 0xd9, 22,
                   'c', 'o', 'a', 'p', ':', '/', '/', 'h', '/',
                   0xe1, (uint8_t)(ext >> 8), (uint8_t)ext, 'v'};
  assert_int_equal(rc_session_recv(sv->s, con, sizeof con, sv->now), RC_OK);
}

static void proxy_request_forwards_safe_critical(void **state) {
  server *sv = *state;
  const uint8_t *d;
  size_t len;
  proxy_request(sv, 2049, 0x37);
  assert_int_equal(sv->requests_seen, 1);
  static const uint8_t ok[] = {0x61, 0x45, 0x12, 0x37, 0xaa, 0xff, 'o', 'k'};
  assert_int_equal(rc_session_pending(sv->s, &d, &len), RC_OK);
  assert_int_equal(len, sizeof ok);
  assert_memory_equal(d, ok, sizeof ok);
  assert_int_equal(rc_session_consume(sv->s, len), RC_OK);
  proxy_request(sv, 2051, 0x38);
  assert_int_equal(sv->requests_seen, 1);
  assert_int_equal(rc_session_pending(sv->s, &d, &len), RC_OK);
  assert_true(len > 4);
  assert_int_equal(d[1], RC_BAD_OPTION);
  assert_int_equal(rc_session_consume(sv->s, len), RC_OK);
}

/* The app's way: the handler sees 2049 and refuses it byte for byte as
 * the exchange does (4.02 for a CON, a Reset for a NON); or serves it. */
static void forward_unknown_to_handler(void **state) {
  server *sv = *state;
  rc_exchange_set_forward_unknown(sv->x, 1);
  sv->refuse = 1;
  con_request_is_402_seen(sv);
  static const uint8_t non[] = GET_X_2049(1, 0x34);
  static const uint8_t rst[] = {0x70, 0x00, 0x12, 0x34};
  feed_expect(sv, non, sizeof non, rst, sizeof rst);
  assert_int_equal(sv->requests_seen, 2);
  sv->refuse = 0;
  static const uint8_t con[] = GET_X_2049(0, 0x39);
  static const uint8_t ok[] = {0x61, 0x45, 0x12, 0x39, 0xaa, 0xff, 'o', 'k'};
  feed_expect(sv, con, sizeof con, ok, sizeof ok);
  assert_int_equal(sv->requests_seen, 3);
  assert_int_equal(sv->fwd_seen, 2049);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(non_request_is_reset, setup, teardown),
      cmocka_unit_test_setup_teardown(con_request_is_402, setup, teardown),
      cmocka_unit_test_setup_teardown(oscore_is_unrecognized, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(proxy_request_forwards_safe_critical,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(forward_unknown_to_handler, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
