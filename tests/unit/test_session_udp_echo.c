/*
 * The amplification limit of the RFC 7252 message layer (RFC 7252 §11.3,
 * RFC 9175 §2.4) on a fake clock, with the exact bytes on the wire: a
 * response more than amp_factor times its request to an unconfirmed
 * peer goes as 4.01 with an Echo option (same type, Message ID and
 * token; replayed for a duplicate CON; NON for a NON request), a request
 * with a valid Echo confirms the peer for good, a stale one does not, a
 * small response and a limit of 0 pass untouched, and an ACK to our own
 * CON confirms too; the answers of a Q-Block2 set (RFC 9177) draw on
 * their one request's budget. The Echo values come from a stub here (the real,
 * HMAC ones are tested in test_transport_echo.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rcoap/codec_option.h"
#include "rcoap/session.h"

typedef struct peer {
  rc_session *s;
  int n_req;
  size_t body_len;      /* answer each request with this many bytes */
  int n_answers;        /* that many times (a Q-Block2 set: 10) */
  int n_make, n_check;
  rc_time valid_until;  /* the stub's Echo values are good until then */
  uint8_t out[12][1500];
  size_t out_len[12];
  size_t n_out;
} peer;

/* Echo value: "EC" and the 8-byte time it was made (big endian): 10
 * bytes, so its option header is 0xDA 0xEF (delta 252 = 13 + 239). */
static size_t e_make(void *u, rc_time now, uint8_t out[RC_UDP_ECHO_MAX]) {
  peer *p = u;
  p->n_make++;
  out[0] = 'E';
  out[1] = 'C';
  for (int i = 0; i < 8; i++)
    out[2 + i] = (uint8_t)(now >> (56 - 8 * i));
  return 10;
}
static int e_check(void *u, const uint8_t *v, size_t n, rc_time now) {
  peer *p = u;
  p->n_check++;
  return n == 10 && v[0] == 'E' && v[1] == 'C' && now <= p->valid_until;
}
static const rc_session_echo stub_echo = {e_make, e_check};

/* A 2.05 of body_len bytes on the 1-byte token tok: a notification
 * (Observe), an answer of a Q-Block2 set, or plain. */
enum { PLAIN, NOTIFY, OF_SET };
static void answer(peer *p, uint8_t tok, int kind) {
  rc_enc e;
  uint8_t body[1024];
  memset(body, 'x', sizeof body);
  assert_int_equal(
      rc_session_msg_begin(p->s, &e, RC_CONTENT, &tok, 1, p->body_len + 4),
      RC_OK);
  if (kind == NOTIFY)
    rc_enc_opt_uint(&e, RC_OPT_OBSERVE, 7);
  if (kind == OF_SET)
    rc_enc_opt_uint(&e, RC_OPT_Q_BLOCK2, 1 << 4 | 1 << 3 | 6);
  rc_enc_payload(&e, body, p->body_len);
  assert_int_equal(rc_session_msg_end(p->s, &e), RC_OK);
}

static int on_message(void *u, const rc_msg *m) {
  peer *p = u;
  if (!rc_code_is_request(m->code))
    return 0;
  p->n_req++;
  for (int i = 0; i < (p->n_answers ? p->n_answers : 1); i++)
    answer(p, m->token[0], p->n_answers > 1 ? OF_SET : PLAIN);
  return 0;
}

static peer *p_new(uint32_t factor, int with_echo) {
  peer *p = calloc(1, sizeof *p);
  rc_session_config cfg;
  rc_session_config_default(&cfg, RC_FRAMING_UDP, RC_SESSION_SERVER);
  assert_int_equal(cfg.udp.amp_factor, RC_UDP_AMP_FACTOR);
  cfg.udp.amp_factor = factor;
  cfg.udp.seed = 7;
  rc_session_callbacks cb = {.on_message = on_message};
  assert_int_equal(rc_session_new(&p->s, &cfg, &cb, p, NULL, 0), RC_OK);
  if (with_echo)
    assert_int_equal(rc_session_set_echo(p->s, &stub_echo), RC_OK);
  p->body_len = 100;
  p->valid_until = 60000;
  return p;
}

static size_t drain(peer *p) {
  const uint8_t *d;
  size_t n;
  p->n_out = 0;
  while (rc_session_pending(p->s, &d, &n) == RC_OK) {
    assert_true(p->n_out < 12 && n <= sizeof p->out[0]);
    memcpy(p->out[p->n_out], d, n);
    p->out_len[p->n_out++] = n;
    assert_int_equal(rc_session_consume(p->s, n), RC_OK);
  }
  return p->n_out;
}

static void feed(peer *p, const uint8_t *d, size_t n, rc_time now) {
  assert_int_equal(rc_session_recv(p->s, d, n, now), RC_OK);
}

/* CON (or NON) GET /big, MID 0x1234 + k, token 0xAA: 9 bytes. */
static size_t get_big(uint8_t *d, int non, uint8_t k) {
  const uint8_t g[9] = {non ? 0x51 : 0x41, 0x01, 0x12, (uint8_t)(0x34 + k),
                        0xaa, 0xb3, 'b', 'i', 'g'};
  memcpy(d, g, sizeof g);
  return sizeof g;
}

/* The same with an Echo option (value v, 10 bytes) after Uri-Path. */
static size_t get_big_echo(uint8_t *d, uint8_t k, const uint8_t *v) {
  size_t n = get_big(d, 0, k);
  d[n++] = 0xda; /* delta 241 (252 after Uri-Path 11) = 13 + 228, len 10 */
  d[n++] = 228;
  memcpy(d + n, v, 10);
  return n + 10;
}

static void expect_echo_401(const peer *p, uint8_t type_bits, int mid_known,
                            uint16_t mid, rc_time made) {
  assert_int_equal(p->n_out, 1);
  const uint8_t *o = p->out[0];
  /* Ver 1, type, TKL 1 | 4.01 | MID | token | Echo: delta 252 (13,
   * 239), length 10 | "EC" time */
  assert_int_equal(p->out_len[0], 4 + 1 + 2 + 10);
  assert_int_equal(o[0], 0x40 | type_bits << 4 | 1);
  assert_int_equal(o[1], RC_UNAUTHORIZED);
  if (mid_known) {
    assert_int_equal(o[2], mid >> 8);
    assert_int_equal(o[3], mid & 0xff);
  }
  assert_int_equal(o[4], 0xaa);
  assert_int_equal(o[5], 0xda);
  assert_int_equal(o[6], 252 - 13);
  assert_int_equal(o[7], 'E');
  assert_int_equal(o[8], 'C');
  for (int i = 0; i < 8; i++)
    assert_int_equal(o[9 + i], (uint8_t)(made >> (56 - 8 * i)));
}

static void large_answer_held_back_then_confirmed(void **state) {
  (void)state;
  peer *p = p_new(3, 1);
  uint8_t d[64];
  size_t n = get_big(d, 0, 0);
  feed(p, d, n, 1000);
  assert_int_equal(p->n_req, 1);
  assert_int_equal(drain(p), 1);
  expect_echo_401(p, RC_TYPE_ACK, 1, 0x1234, 1000);
  /* RFC 7252 §4.5: the duplicate CON gets the same answer, byte for byte */
  uint8_t first[64];
  memcpy(first, p->out[0], p->out_len[0]);
  size_t first_len = p->out_len[0];
  feed(p, d, n, 1500);
  assert_int_equal(drain(p), 1);
  assert_int_equal(p->out_len[0], first_len);
  assert_memory_equal(p->out[0], first, first_len);
  assert_int_equal(p->n_req, 1);
  /* The request again with the Echo it got: answered whole. */
  n = get_big_echo(d, 1, first + 7);
  feed(p, d, n, 2000);
  assert_int_equal(p->n_check, 1);
  assert_int_equal(drain(p), 1);
  assert_int_equal(p->out[0][0], 0x61); /* ACK, TKL 1 */
  assert_int_equal(p->out[0][1], RC_CONTENT);
  assert_int_equal(p->out[0][3], 0x35);
  assert_int_equal(p->out_len[0], 4 + 1 + 1 + 100);
  /* Confirmed for good: no Echo needed, none checked. */
  n = get_big(d, 0, 2);
  feed(p, d, n, 3000);
  assert_int_equal(drain(p), 1);
  assert_int_equal(p->out[0][1], RC_CONTENT);
  assert_int_equal(p->n_make, 1);
  assert_int_equal(p->n_check, 1);
  rc_session_free(p->s);
  free(p);
}

static void stale_echo_gets_a_fresh_one(void **state) {
  (void)state;
  peer *p = p_new(3, 1);
  uint8_t d[64];
  size_t n = get_big(d, 0, 0);
  feed(p, d, n, 1000);
  assert_int_equal(drain(p), 1);
  uint8_t v[10];
  memcpy(v, p->out[0] + 7, 10);
  p->valid_until = 5000; /* the value is too old by then */
  n = get_big_echo(d, 1, v);
  feed(p, d, n, 9000);
  assert_int_equal(p->n_check, 1);
  assert_int_equal(drain(p), 1);
  expect_echo_401(p, RC_TYPE_ACK, 1, 0x1235, 9000);
  rc_session_free(p->s);
  free(p);
}

static void non_request_gets_non_401(void **state) {
  (void)state;
  peer *p = p_new(3, 1);
  uint8_t d[64];
  size_t n = get_big(d, 1, 0);
  feed(p, d, n, 1000);
  assert_int_equal(drain(p), 1);
  expect_echo_401(p, RC_TYPE_NON, 0, 0, 1000);
  rc_session_free(p->s);
  free(p);
}

static void small_or_unlimited_pass(void **state) {
  (void)state;
  uint8_t d[64];
  /* 3 x 9 = 27 bytes allowed: a 21-byte answer (15 of body) passes. */
  peer *p = p_new(3, 1);
  p->body_len = 27 - 6;
  size_t n = get_big(d, 0, 0);
  feed(p, d, n, 1000);
  assert_int_equal(drain(p), 1);
  assert_int_equal(p->out_len[0], 27);
  assert_int_equal(p->out[0][1], RC_CONTENT);
  /* one byte more is held back */
  p->body_len = 27 - 5;
  n = get_big(d, 0, 1);
  feed(p, d, n, 1000);
  assert_int_equal(drain(p), 1);
  assert_int_equal(p->out[0][1], RC_UNAUTHORIZED);
  rc_session_free(p->s);
  free(p);
  /* amp_factor 0, or no Echo source: no limit */
  for (int i = 0; i < 2; i++) {
    p = p_new(i == 0 ? 0 : 3, i == 0);
    n = get_big(d, 0, 0);
    feed(p, d, n, 1000);
    assert_int_equal(drain(p), 1);
    assert_int_equal(p->out[0][1], RC_CONTENT);
    assert_int_equal(p->out_len[0], 106);
    assert_int_equal(p->n_make, 0);
    rc_session_free(p->s);
    free(p);
  }
}

/* An ACK to our own CON proves the address too (the peer saw our
 * Message ID). */
static void ack_to_our_con_confirms(void **state) {
  (void)state;
  peer *p = p_new(3, 1);
  rc_enc e;
  const uint8_t tok[1] = {0xbb};
  assert_int_equal(rc_session_msg_begin(p->s, &e, RC_GET, tok, 1, 0), RC_OK);
  assert_int_equal(rc_session_msg_end(p->s, &e), RC_OK);
  assert_int_equal(rc_session_handle_expiry(p->s, 0), RC_OK);
  assert_int_equal(drain(p), 1);
  assert_int_equal(p->out[0][0] >> 4 & 3, RC_TYPE_CON);
  uint8_t ack[4] = {0x60, 0x00, p->out[0][2], p->out[0][3]};
  feed(p, ack, 4, 100);
  uint8_t d[64];
  size_t n = get_big(d, 0, 0);
  feed(p, d, n, 200);
  assert_int_equal(drain(p), 1);
  assert_int_equal(p->out[0][1], RC_CONTENT);
  assert_int_equal(p->n_make, 0);
  rc_session_free(p->s);
  free(p);
}

/* RFC 9177 §4.4 answers one request with a set of up to 10 responses:
 * the limit counts them all against the one request's budget. Small
 * answers (13 bytes each) to a NON GET of 9 bytes with factor 3: two
 * fit the 27 bytes, the third and the rest do not leave, nor a set the
 * server pushes later on that token or on an older one (RFC 9177 §7.2);
 * a notification is not a set. A large set to a CON GET: one 4.01 and
 * nothing else; the GET again with its Echo: all 10. */
static void set_counted_against_one_budget(void **state) {
  (void)state;
  peer *p = p_new(3, 1);
  p->body_len = 4;
  p->n_answers = 10;
  uint8_t d[64];
  size_t n = get_big(d, 1, 0);
  feed(p, d, n, 1000);
  assert_int_equal(drain(p), 2);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(p->out_len[i], 4 + 1 + 3 + 1 + 4);
    assert_int_equal(p->out[i][1], RC_CONTENT);
  }
  answer(p, 0xaa, OF_SET); /* the next set, pushed after NON_TIMEOUT */
  assert_int_equal(drain(p), 0);
  answer(p, 0xbb, OF_SET); /* a set of a request no longer the latest */
  assert_int_equal(drain(p), 0);
  answer(p, 0xbb, NOTIFY); /* a notification: not limited here */
  assert_int_equal(drain(p), 1);
  p->body_len = 100;
  n = get_big(d, 0, 1);
  feed(p, d, n, 2000);
  assert_int_equal(drain(p), 1);
  expect_echo_401(p, RC_TYPE_ACK, 1, 0x1235, 2000);
  uint8_t echo[10];
  memcpy(echo, p->out[0] + 7, sizeof echo);
  answer(p, 0xaa, OF_SET);
  assert_int_equal(drain(p), 0);
  n = get_big_echo(d, 2, echo);
  feed(p, d, n, 2500);
  assert_int_equal(drain(p), 10);
  assert_int_equal(p->out[0][0], 0x61); /* the first in the ACK */
  for (int i = 0; i < 10; i++) {
    assert_int_equal(p->out[i][1], RC_CONTENT);
    assert_int_equal(p->out_len[i], 4 + 1 + 3 + 1 + 100);
  }
  answer(p, 0xaa, OF_SET); /* confirmed: later sets go */
  assert_int_equal(drain(p), 1);
  assert_int_equal(p->n_make, 1);
  rc_session_free(p->s);
  free(p);
}

static void set_echo_only_on_udp(void **state) {
  (void)state;
  rc_session_config cfg;
  rc_session_config_default(&cfg, RC_FRAMING_TCP, RC_SESSION_SERVER);
  rc_session_callbacks cb = {.on_message = on_message};
  rc_session *s;
  assert_int_equal(rc_session_new(&s, &cfg, &cb, NULL, NULL, 0), RC_OK);
  assert_int_equal(rc_session_set_echo(s, &stub_echo), RC_ERR_INVAL);
  rc_session_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(large_answer_held_back_then_confirmed),
      cmocka_unit_test(stale_echo_gets_a_fresh_one),
      cmocka_unit_test(non_request_gets_non_401),
      cmocka_unit_test(small_or_unlimited_pass),
      cmocka_unit_test(ack_to_our_con_confirms),
      cmocka_unit_test(set_echo_only_on_udp),
      cmocka_unit_test(set_counted_against_one_budget),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
