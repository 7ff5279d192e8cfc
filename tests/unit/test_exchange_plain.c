/*
 * The exchange's on_plain (a fixed answer before any request record) on
 * an RFC 7252 (UDP) server session, byte for byte: a plain CON GET gets
 * on_plain's answer piggybacked in its ACK and never reaches on_request;
 * a request with an option the exchange acts on (Block2, Observe, Accept,
 * Uri-Host) is not offered to on_plain and goes to on_request; so does
 * one on_plain declines; the unanswered limit answers 5.03 before
 * on_plain is asked; an answer the peer cannot take (over its datagram
 * size) goes the usual way, where the handler answers.
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
  int plain_asked;   /* on_plain calls */
  int requests_seen; /* on_request calls */
  int defer_posts;   /* on_request defers a POST */
  rc_xreq *held;
  const rc_msg_tail *answer; /* on_plain's answer for /hello */
} server;

/* CF text/plain (0), "hi" */
static const uint8_t hi_bytes[] = {0xc0, 0xff, 'h', 'i'};
static const rc_msg_tail hi = {hi_bytes, sizeof hi_bytes, 1};

static int on_message(void *user, const rc_msg *m) {
  server *sv = user;
  return rc_exchange_on_message(sv->x, m, sv->now) == RC_OK ? 0 : -1;
}

static int is_hello(const rc_msg *m) {
  rc_opt o;
  return rc_msg_find_opt(m, RC_OPT_URI_PATH, &o) && o.len == 5 &&
         memcmp(o.val, "hello", 5) == 0;
}

static const rc_msg_tail *on_plain(void *user, const rc_msg *m,
                                   uint8_t *code) {
  server *sv = user;
  sv->plain_asked++;
  if (m->code != RC_GET || !is_hello(m))
    return NULL;
  *code = RC_CONTENT;
  return sv->answer;
}

static void on_request(void *user, rc_exchange *x, rc_xreq *req) {
  server *sv = user;
  (void)x;
  sv->requests_seen++;
  if (sv->defer_posts && rc_xreq_msg(req)->code == RC_POST) {
    assert_int_equal(rc_xreq_defer(req), RC_OK);
    sv->held = req;
    return;
  }
  rc_outmsg resp = {RC_CONTENT, NULL, 0, (const uint8_t *)"ok", 2};
  assert_int_equal(rc_exchange_respond(req, &resp), RC_OK);
}

static int setup(void **state) {
  server *sv = calloc(1, sizeof *sv);
  sv->now = 1000;
  sv->answer = &hi;
  rc_session_config cfg;
  rc_session_config_default(&cfg, RC_FRAMING_UDP, RC_SESSION_SERVER);
  cfg.udp.seed = 7;
  rc_session_callbacks cb = {.on_message = on_message};
  rc_exchange_callbacks xcb = {.on_request = on_request,
                               .on_plain = on_plain};
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

/* Feeds one datagram; the server's next datagram must be want. */
static void feed_expect(server *sv, const uint8_t *in, size_t n,
                        const uint8_t *want, size_t want_len) {
  assert_int_equal(rc_session_recv(sv->s, in, n, sv->now), RC_OK);
  const uint8_t *d;
  size_t len;
  assert_int_equal(rc_session_pending(sv->s, &d, &len), RC_OK);
  assert_int_equal(len, want_len);
  assert_memory_equal(d, want, want_len);
  assert_int_equal(rc_session_consume(sv->s, len), RC_OK);
}

/* Feeds one datagram; the server's next datagram must be an ACK 2.05
 * with MID 0x12 mid_lo and on_request's "ok" (any options). */
static void feed_expect_ok(server *sv, const uint8_t *in, size_t n,
                           uint8_t mid_lo) {
  assert_int_equal(rc_session_recv(sv->s, in, n, sv->now), RC_OK);
  const uint8_t *d;
  size_t len;
  rc_msg m;
  assert_int_equal(rc_session_pending(sv->s, &d, &len), RC_OK);
  assert_int_equal(rc_msg_parse(RC_FRAMING_UDP, d, len, &m), RC_OK);
  assert_int_equal(m.type, RC_TYPE_ACK);
  assert_int_equal(m.code, RC_CONTENT);
  assert_int_equal(m.mid, 0x1200 | mid_lo);
  assert_int_equal(m.payload_len, 2);
  assert_memory_equal(m.payload, "ok", 2);
  assert_int_equal(rc_session_consume(sv->s, len), RC_OK);
}

/* CON GET /hello, MID 0x12 mid_lo, token 0xaa */
#define GET_HELLO(mid_lo)                                                      \
  {0x41, 0x01, 0x12, (mid_lo), 0xaa, 0xb5, 'h', 'e', 'l', 'l', 'o'}
/* its ACK 2.05 with on_request's answer */
#define ACK_OK(mid_lo) {0x61, 0x45, 0x12, (mid_lo), 0xaa, 0xff, 'o', 'k'}

static void plain_get_answered_by_on_plain(void **state) {
  server *sv = *state;
  static const uint8_t get[] = GET_HELLO(0x40);
  static const uint8_t ack[] = {0x61, 0x45, 0x12, 0x40, 0xaa,
                                0xc0, 0xff, 'h',  'i'};
  feed_expect(sv, get, sizeof get, ack, sizeof ack);
  assert_int_equal(sv->plain_asked, 1);
  assert_int_equal(sv->requests_seen, 0);
  /* a plain request on_plain declines goes to on_request */
  static const uint8_t other[] = {0x41, 0x01, 0x12, 0x41, 0xaa,
                                  0xb2, 'n',  'o'};
  static const uint8_t ok[] = ACK_OK(0x41);
  feed_expect(sv, other, sizeof other, ok, sizeof ok);
  assert_int_equal(sv->plain_asked, 2);
  assert_int_equal(sv->requests_seen, 1);
}

static void options_the_exchange_acts_on(void **state) {
  server *sv = *state;
  /* Block2 (23) NUM 0 SZX 2 after Uri-Path */
  static const uint8_t b2[] = {0x41, 0x01, 0x12, 0x50, 0xaa, 0xb5, 'h',
                               'e',  'l',  'l',  'o',  0xc1, 0x02};
  /* Observe (6) 0 before Uri-Path (delta 5) */
  static const uint8_t obs[] = {0x41, 0x01, 0x12, 0x51, 0xaa, 0x60,
                                0x55, 'h',  'e',  'l',  'l',  'o'};
  /* Accept (17) 0 after Uri-Path */
  static const uint8_t acc[] = {0x41, 0x01, 0x12, 0x52, 0xaa, 0xb5,
                                'h',  'e',  'l',  'l',  'o',  0x60};
  /* Uri-Host (3) "a" before Uri-Path (delta 8) */
  static const uint8_t host[] = {0x41, 0x01, 0x12, 0x53, 0xaa, 0x31, 'a',
                                 0x85, 'h',  'e',  'l',  'l',  'o'};
  feed_expect_ok(sv, b2, sizeof b2, 0x50); /* with Block2 in the answer */
  feed_expect_ok(sv, obs, sizeof obs, 0x51);
  feed_expect_ok(sv, acc, sizeof acc, 0x52);
  feed_expect_ok(sv, host, sizeof host, 0x53);
  assert_int_equal(sv->plain_asked, 0);
  assert_int_equal(sv->requests_seen, 4);
}

static void unanswered_limit_first(void **state) {
  server *sv = *state;
  sv->defer_posts = 1;
  rc_exchange_set_unanswered_max(sv->x, 1);
  /* NON POST /hello: deferred, nothing sent */
  static const uint8_t post[] = {0x51, 0x02, 0x12, 0x60, 0xbb,
                                 0xb5, 'h',  'e',  'l',  'l', 'o'};
  assert_int_equal(rc_session_recv(sv->s, post, sizeof post, sv->now), RC_OK);
  assert_non_null(sv->held);
  assert_int_equal(sv->plain_asked, 1); /* plain too: on_plain declined */
  static const uint8_t get[] = GET_HELLO(0x61);
  assert_int_equal(rc_session_recv(sv->s, get, sizeof get, sv->now), RC_OK);
  const uint8_t *d;
  size_t len;
  assert_int_equal(rc_session_pending(sv->s, &d, &len), RC_OK);
  assert_true(len > 5);
  assert_int_equal(d[0], 0x61); /* ACK, token length 1 */
  assert_int_equal(d[1], RC_SERVICE_UNAVAILABLE);
  assert_int_equal(d[3], 0x61);
  assert_int_equal(sv->plain_asked, 1); /* not asked for the GET */
  assert_int_equal(sv->requests_seen, 1);
  assert_int_equal(rc_session_consume(sv->s, len), RC_OK);
  rc_outmsg resp = {RC_CHANGED, NULL, 0, NULL, 0};
  assert_int_equal(rc_exchange_respond(sv->held, &resp), RC_OK);
}

static void too_large_goes_the_usual_way(void **state) {
  server *sv = *state;
  /* three Location-Path (8) options of 300 bytes and 1024 bytes of
   * payload: over the 1152-byte datagram the peer takes */
  static uint8_t big[3 * 303 + 1 + 1024];
  size_t n = 0;
  for (int i = 0; i < 3; i++) {
    big[n++] = i == 0 ? 0x8e : 0x0e; /* delta 8, then 0; length 14: +2 */
    big[n++] = 0x00;
    big[n++] = 300 - 269;
    memset(big + n, 'p', 300);
    n += 300;
  }
  size_t olen = n;
  big[n++] = 0xff;
  memset(big + n, 'b', 1024);
  n += 1024;
  rc_msg_tail t = {big, n, olen};
  sv->answer = &t;
  assert_int_equal(rc_session_set_max_datagram(sv->s, RC_UDP_MSG_SIZE),
                   RC_OK);
  static const uint8_t get[] = GET_HELLO(0x70);
  static const uint8_t ok[] = ACK_OK(0x70);
  feed_expect(sv, get, sizeof get, ok, sizeof ok);
  assert_int_equal(sv->plain_asked, 1);
  assert_int_equal(sv->requests_seen, 1);
  sv->answer = &hi;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(plain_get_answered_by_on_plain, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(options_the_exchange_acts_on, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(unanswered_limit_first, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(too_large_goes_the_usual_way, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
