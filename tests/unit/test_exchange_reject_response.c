/*
 * Responses carrying an unrecognized critical option, at a client exchange
 * on an RFC 7252 (UDP) session, byte for byte (RFC 7252 §5.4.1: such a
 * response "MUST cause the response to be rejected"): a separate CON
 * response gets a Reset instead of its ACK, a piggybacked one (in the
 * ACK) nothing (§4.2: ignoring is its rejection), a NON one a Reset
 * (§4.3 allows it; it ends an observation at the server, RFC 7641 §3.6);
 * the request ends with
 * RC_ERR_CRITICAL_OPTION and the response (a 4.02 naming the option it
 * refuses, as libcoap 4.3.1 sends, included); with relay set (a proxy's
 * upstream request) a safe-to-forward one is kept (§5.7.1) and an unsafe
 * one still rejected. Over TCP the rejection is an Abort (RFC 8323 §5.6).
 * A CON or NON response with a token the client never sent or no longer
 * waits for (a notification after the observation ended: node-coap's
 * server keeps sending after a GET with Observe 1) gets a Reset, not an
 * ACK (RFC 7252 §5.3.2, RFC 7641 §3.6); a piggybacked one nothing.
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

typedef struct client {
  rc_session *s;
  rc_exchange *x;
  rc_time now;
  int calls;
  rc_err status;
  uint8_t code; /* of the response handed over, 0 for none */
  int had_opt;  /* it carried option watch */
  uint16_t watch;
  size_t plen;
  uint8_t tok[8];
  uint8_t mid[2];
} client;

static int on_message(void *user, const rc_msg *m) {
  client *c = user;
  return rc_exchange_on_message(c->x, m, c->now) == RC_OK ? 0 : -1;
}

static void on_request(void *user, rc_exchange *x, rc_xreq *req) {
  (void)user;
  (void)x;
  (void)req;
  fail_msg("no request expected");
}

static void on_response(void *arg, rc_err status, const rc_msg *resp) {
  client *c = arg;
  c->calls++;
  c->status = status;
  c->code = resp ? resp->code : 0;
  rc_opt o;
  c->had_opt = resp && c->watch && rc_msg_find_opt(resp, c->watch, &o);
  c->plen = resp ? resp->payload_len : 0;
}

static client *client_new(rc_framing f) {
  client *c = calloc(1, sizeof *c);
  c->now = 1000;
  rc_session_config cfg;
  rc_session_config_default(&cfg, f, RC_SESSION_CLIENT);
  cfg.udp.seed = 9;
  rc_session_callbacks cb = {.on_message = on_message};
  rc_exchange_callbacks xcb = {.on_request = on_request};
  th_end_new(&cfg, &cb, &xcb, c, 9, NULL, c->now, &c->s, &c->x);
  return c;
}

static int setup(void **state) {
  *state = client_new(RC_FRAMING_UDP);
  return 0;
}

static int teardown(void **state) {
  client *c = *state;
  th_end_free(c->s, c->x, 1);
  free(c);
  return 0;
}

/* Sends GET (relay as given) and reads the CON request's MID and token. */
static void send_get(client *c, int relay) {
  rc_outmsg req = {RC_GET, NULL, 0, NULL, 0};
  rc_exchange_req_opts o = {.relay = (uint8_t)relay};
  assert_int_equal(
      rc_exchange_request(c->x, &req, &o, c->now, on_response, c, NULL),
      RC_OK);
  const uint8_t *d;
  size_t len;
  assert_int_equal(rc_session_pending(c->s, &d, &len), RC_OK);
  assert_int_equal(len, 12);
  assert_int_equal(d[0], 0x48); /* CON, TKL 8 */
  memcpy(c->mid, d + 2, 2);
  memcpy(c->tok, d + 4, 8);
  assert_int_equal(rc_session_consume(c->s, len), RC_OK);
}

/* A response (type, code, MID) with our token and option num ("v"). */
static size_t response(const client *c, uint8_t type, uint8_t code,
                       const uint8_t mid[2], uint16_t num, uint8_t *out) {
  size_t n = 0;
  out[n++] = (uint8_t)(0x48 | type << 4);
  out[n++] = code;
  out[n++] = mid[0];
  out[n++] = mid[1];
  memcpy(out + n, c->tok, 8);
  n += 8;
  uint16_t ext = (uint16_t)(num - 269);
  out[n++] = 0xe1;
  out[n++] = (uint8_t)(ext >> 8);
  out[n++] = (uint8_t)ext;
  out[n++] = 'v';
  return n;
}

/* Feeds one datagram; the client's whole output must be want. */
static void feed_expect(client *c, const uint8_t *in, size_t n,
                        const uint8_t *want, size_t want_len) {
  assert_int_equal(rc_session_recv(c->s, in, n, c->now), RC_OK);
  const uint8_t *d;
  size_t len;
  if (want_len == 0) {
    assert_false(rc_session_want_write(c->s));
    return;
  }
  assert_int_equal(rc_session_pending(c->s, &d, &len), RC_OK);
  assert_int_equal(len, want_len);
  assert_memory_equal(d, want, want_len);
  assert_int_equal(rc_session_consume(c->s, len), RC_OK);
  assert_false(rc_session_want_write(c->s));
}

/* GET, its empty ACK, then a separate CON response (MID 0x77 mid_lo)
 * with option num: the client's whole answer to it must be an empty
 * message of type want (ACK or RST) with that MID. */
static void separate(client *c, uint8_t mid_lo, uint16_t num, uint8_t want) {
  send_get(c, 0);
  const uint8_t ack[] = {0x60, 0x00, c->mid[0], c->mid[1]};
  feed_expect(c, ack, sizeof ack, NULL, 0);
  assert_int_equal(c->calls, 0);
  const uint8_t mid[2] = {0x77, mid_lo};
  uint8_t resp[32];
  size_t n = response(c, RC_TYPE_CON, RC_CONTENT, mid, num, resp);
  const uint8_t reply[] = {(uint8_t)(0x40 | want << 4), 0x00, 0x77, mid_lo};
  feed_expect(c, resp, n, reply, sizeof reply);
  assert_int_equal(c->calls, 1);
  assert_int_equal(c->code, RC_CONTENT);
  /* §4.5: a duplicate gets the same ACK or Reset, and is not processed. */
  feed_expect(c, resp, n, reply, sizeof reply);
  assert_int_equal(c->calls, 1);
}

/* GET (relay as given) answered by a piggybacked response (code) with
 * option num: nothing goes back either way (§4.2: an ACK is rejected by
 * ignoring it). */
static void piggybacked(client *c, int relay, uint8_t code, uint16_t num) {
  send_get(c, relay);
  uint8_t resp[32];
  size_t n = response(c, RC_TYPE_ACK, code, c->mid, num, resp);
  feed_expect(c, resp, n, NULL, 0);
  assert_int_equal(c->code, code);
}

static void separate_con_gets_reset(void **state) {
  client *c = *state;
  separate(c, 0x01, 2049, RC_TYPE_RST);
  assert_int_equal(c->status, RC_ERR_CRITICAL_OPTION);
}

/* A NON response (to a CON request whose empty ACK came first, as a
 * server may answer) gets a Reset with its Message ID. */
static void non_response_gets_reset(void **state) {
  client *c = *state;
  send_get(c, 0);
  const uint8_t ack[] = {0x60, 0x00, c->mid[0], c->mid[1]};
  feed_expect(c, ack, sizeof ack, NULL, 0);
  static const uint8_t mid[2] = {0x77, 0x03};
  uint8_t resp[32];
  size_t n = response(c, RC_TYPE_NON, RC_CONTENT, mid, 2049, resp);
  static const uint8_t rst[] = {0x70, 0x00, 0x77, 0x03};
  feed_expect(c, resp, n, rst, sizeof rst);
  assert_int_equal(c->calls, 1);
  assert_int_equal(c->status, RC_ERR_CRITICAL_OPTION);
}

/* An unknown elective option (2048) is no reason to reject. */
static void elective_unknown_is_acked(void **state) {
  client *c = *state;
  separate(c, 0x02, 2048, RC_TYPE_ACK);
  assert_int_equal(c->status, RC_OK);
}

/* libcoap 4.3.1's 4.02 carries the option it refuses: piggybacked, it is
 * ignored on the wire and reaches the caller as rejected, code 4.02. */
static void piggybacked_402_is_rejected(void **state) {
  client *c = *state;
  piggybacked(c, 0, RC_BAD_OPTION, 2049);
  assert_int_equal(c->calls, 1);
  assert_int_equal(c->status, RC_ERR_CRITICAL_OPTION);
}

/* A proxy's upstream request keeps a safe-to-forward one (2049) and
 * rejects an unsafe one (2051). */
static void relay_keeps_safe_to_forward(void **state) {
  client *c = *state;
  piggybacked(c, 1, RC_CONTENT, 2049);
  assert_int_equal(c->calls, 1);
  assert_int_equal(c->status, RC_OK);
  piggybacked(c, 1, RC_CONTENT, 2051);
  assert_int_equal(c->calls, 2);
  assert_int_equal(c->status, RC_ERR_CRITICAL_OPTION);
}

/* A notification (Observe 5, "n=5") with token 0xa1.. that no request of
 * ours carries, as type, MID 0x66 mid_lo. */
static size_t stray(uint8_t type, uint8_t mid_lo, uint8_t *out) {
  static const uint8_t tmpl[] = {0x48, RC_CONTENT, 0x66, 0x00, 0xa1, 0xa2,
                                 0xa3, 0xa4,       0xa5, 0xa6, 0xa7, 0xa8,
                                 0x61, 0x05,       0xff, 'n',  '=',  '5'};
  memcpy(out, tmpl, sizeof tmpl);
  out[0] = (uint8_t)(0x48 | type << 4);
  out[3] = mid_lo;
  return sizeof tmpl;
}

/* Feeds that stray message (type, MID 0x66 mid_lo) times times: each
 * gets a Reset with its MID when rst is set (§4.5: a duplicate the same
 * one), nothing otherwise; no callback runs. */
static void stray_expect(client *c, uint8_t type, uint8_t mid_lo, int rst,
                         int times) {
  uint8_t msg[32];
  size_t n = stray(type, mid_lo, msg);
  const uint8_t reset[] = {0x70, 0x00, 0x66, mid_lo};
  for (int i = 0; i < times; i++)
    feed_expect(c, msg, n, reset, rst ? sizeof reset : 0);
  assert_int_equal(c->calls, 0);
}

static void unknown_token_con_gets_reset(void **state) {
  stray_expect(*state, RC_TYPE_CON, 0x10, 1, 2);
}

static void unknown_token_non_gets_reset(void **state) {
  stray_expect(*state, RC_TYPE_NON, 0x11, 1, 1);
}

/* After a request ended, its late separate response is unknown too. */
static void late_separate_response_gets_reset(void **state) {
  client *c = *state;
  send_get(c, 0);
  uint8_t resp[32];
  size_t n = response(c, RC_TYPE_ACK, RC_CONTENT, c->mid, 2048, resp);
  feed_expect(c, resp, n, NULL, 0);
  assert_int_equal(c->calls, 1);
  const uint8_t mid[2] = {0x77, 0x12};
  n = response(c, RC_TYPE_CON, RC_CONTENT, mid, 2048, resp);
  static const uint8_t rst[] = {0x70, 0x00, 0x77, 0x12};
  feed_expect(c, resp, n, rst, sizeof rst);
  assert_int_equal(c->calls, 1);
}

/* An ACK nobody waits for is ignored (§4.2), token or not. */
static void unknown_token_ack_ignored(void **state) {
  stray_expect(*state, RC_TYPE_ACK, 0x13, 0, 1);
}

/* A separate CON 2.05 (MID 0x78 n) with our token, option num (< 269)
 * holding len (< 13) bytes of 0x07, and payload "p". */
static size_t response_len(const client *c, uint8_t n, uint16_t num,
                           size_t len, uint8_t *out) {
  size_t i = 0;
  out[i++] = 0x48; /* CON, TKL 8 */
  out[i++] = RC_CONTENT;
  out[i++] = 0x78;
  out[i++] = n;
  memcpy(out + i, c->tok, 8);
  i += 8;
  if (num < 13) {
    out[i++] = (uint8_t)(num << 4 | len);
  } else {
    out[i++] = (uint8_t)(0xd0 | len);
    out[i++] = (uint8_t)(num - 13);
  }
  memset(out + i, 0x07, len);
  i += len;
  out[i++] = 0xff;
  out[i++] = 'p';
  return i;
}

/* RFC 7252 §5.4.3: a known option whose value is longer than its range
 * is handled like an unrecognized one. Elective (Observe 4 bytes,
 * ETag 9, Content-Format 3, Max-Age 5): the response is taken (ACK) and
 * handed over without it; critical (Block2 4 bytes): rejected (RST). */
static void malformed_known_options(void **state) {
  client *c = *state;
  static const struct {
    uint16_t num;
    size_t len;
    uint8_t want;
  } cases[] = {
      {RC_OPT_OBSERVE, 4, RC_TYPE_ACK},       {RC_OPT_ETAG, 9, RC_TYPE_ACK},
      {RC_OPT_CONTENT_FORMAT, 3, RC_TYPE_ACK}, {RC_OPT_MAX_AGE, 5, RC_TYPE_ACK},
      {RC_OPT_ETAG, 0, RC_TYPE_ACK},          {RC_OPT_BLOCK2, 4, RC_TYPE_RST},
      {RC_OPT_CONTENT_FORMAT, 2, RC_TYPE_ACK}, /* well formed: kept */
  };
  for (uint8_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    send_get(c, 0);
    const uint8_t ack[] = {0x60, 0x00, c->mid[0], c->mid[1]};
    feed_expect(c, ack, sizeof ack, NULL, 0);
    c->calls = 0;
    c->watch = cases[i].num;
    uint8_t resp[40];
    size_t n = response_len(c, i, cases[i].num, cases[i].len, resp);
    const uint8_t reply[] = {(uint8_t)(0x40 | cases[i].want << 4), 0x00,
                             0x78, i};
    feed_expect(c, resp, n, reply, sizeof reply);
    assert_int_equal(c->calls, 1);
    assert_int_equal(c->code, RC_CONTENT);
    assert_int_equal(c->plen, 1);
    if (cases[i].want == RC_TYPE_RST) {
      assert_int_equal(c->status, RC_ERR_CRITICAL_OPTION);
    } else {
      assert_int_equal(c->status, RC_OK);
      assert_int_equal(c->had_opt, i == 6);
    }
  }
}

static int ignore_message(void *user, const rc_msg *m) {
  (void)user;
  (void)m;
  return 0;
}

/* TCP: after the CSMs, a 2.05 with option 2049 (len 4: e1 06 f4 'v')
 * makes the client send an Abort and close; the request ends rejected. */
static void tcp_response_gets_abort(void **state) {
  (void)state;
  client *c = client_new(RC_FRAMING_TCP);
  rc_session *srv;
  rc_exchange *no_x;
  rc_session_config cfg;
  rc_session_config_default(&cfg, RC_FRAMING_TCP, RC_SESSION_SERVER);
  rc_session_callbacks cb = {.on_message = ignore_message};
  th_end_new(&cfg, &cb, NULL, NULL, 3, NULL, c->now, &srv, &no_x);
  th_pump(c->s, srv, c->now, 10, 0, NULL, NULL);
  rc_outmsg req = {RC_GET, NULL, 0, NULL, 0};
  assert_int_equal(
      rc_exchange_request(c->x, &req, NULL, c->now, on_response, c, NULL),
      RC_OK);
  const uint8_t *d;
  size_t len;
  assert_int_equal(rc_session_pending(c->s, &d, &len), RC_OK);
  rc_msg m;
  assert_int_equal(rc_msg_parse(RC_FRAMING_TCP, d, len, &m), RC_OK);
  assert_int_equal(m.code, RC_GET);
  assert_int_equal(m.token_len, 8);
  uint8_t resp[14] = {0x48, RC_CONTENT};
  memcpy(resp + 2, m.token, 8);
  assert_int_equal(rc_session_consume(c->s, len), RC_OK);
  memcpy(resp + 10, (const uint8_t[]){0xe1, 0x06, 0xf4, 'v'}, 4);
  assert_int_equal(rc_session_recv(c->s, resp, sizeof resp, c->now), RC_OK);
  assert_int_equal(c->calls, 1);
  assert_int_equal(c->status, RC_ERR_CRITICAL_OPTION);
  assert_int_equal(c->code, RC_CONTENT);
  assert_int_equal(rc_session_get_state(c->s), RC_SESSION_CLOSED);
  assert_int_equal(rc_session_pending(c->s, &d, &len), RC_OK);
  assert_int_equal(rc_msg_parse(RC_FRAMING_TCP, d, len, &m), RC_OK);
  assert_int_equal(m.code, RC_SIG_ABORT);
  static const char diag[] =
      "response rejected: unrecognized critical option 2049";
  assert_int_equal(m.payload_len, sizeof diag - 1);
  assert_memory_equal(m.payload, diag, sizeof diag - 1);
  th_end_free(srv, NULL, 0);
  teardown((void **)&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(separate_con_gets_reset, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(non_response_gets_reset, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(piggybacked_402_is_rejected, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(elective_unknown_is_acked, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(relay_keeps_safe_to_forward, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(malformed_known_options, setup,
                                      teardown),
      cmocka_unit_test(tcp_response_gets_abort),
      cmocka_unit_test_setup_teardown(unknown_token_con_gets_reset, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(unknown_token_non_gets_reset, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(late_separate_response_gets_reset,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(unknown_token_ack_ignored, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
