/*
 * The client side of the Echo option (RFC 9175 §2.3, §2.4) over two RFC
 * 7252 sessions wired back to back in memory: a large answer held back by
 * the server session's amplification limit (4.01 with Echo) is fetched by
 * the client exchange repeating its request with that Echo, once, and the
 * caller sees only the 2.05; a server that answers 4.01 with an Echo
 * every time gets exactly one repeat, and the caller the second 4.01.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rcoap/codec_block.h"
#include "rcoap/codec_option.h"
#include "rcoap/exchange.h"
#include "test_echo_stub.h"
#include "test_exchange_harness.h"

typedef struct peer {
  rc_session *s;
  rc_exchange *x;
  struct pair *pair;
  int always_401;       /* server: answer 4.01 + Echo to every request */
  int requests_seen;
  uint8_t echo_seen[RC_UDP_ECHO_MAX]; /* the Echo of the last request */
  size_t echo_seen_len;
} peer;

typedef struct pair {
  peer a, b; /* a = client, b = server */
  rc_time now;
} pair;

typedef struct result {
  int calls;
  rc_err status;
  uint8_t code;
  size_t len;
} result;

static int on_message(void *user, const rc_msg *m) {
  peer *p = user;
  return rc_exchange_on_message(p->x, m, p->pair->now) == RC_OK ? 0 : -1;
}

static void on_request(void *user, rc_exchange *x, rc_xreq *req) {
  peer *p = user;
  (void)x;
  p->requests_seen++;
  const rc_msg *m = rc_xreq_msg(req);
  rc_opt o;
  p->echo_seen_len = 0;
  if (rc_msg_find_opt(m, RC_OPT_ECHO, &o)) {
    memcpy(p->echo_seen, o.val, o.len);
    p->echo_seen_len = o.len;
  }
  if (p->always_401) {
    rc_opt echo = {RC_OPT_ECHO, 3, (const uint8_t *)"abc"};
    rc_outmsg resp = {RC_UNAUTHORIZED, &echo, 1, NULL, 0};
    assert_int_equal(rc_exchange_respond(req, &resp), RC_OK);
    return;
  }
  static uint8_t body[600];
  memset(body, 'b', sizeof body);
  rc_outmsg resp = {RC_CONTENT, NULL, 0, body, sizeof body};
  assert_int_equal(rc_exchange_respond(req, &resp), RC_OK);
}

static void on_response(void *arg, rc_err status, const rc_msg *resp) {
  result *r = arg;
  r->calls++;
  r->status = status;
  if (resp) {
    r->code = resp->code;
    r->len = resp->payload_len;
  }
}


static void pump(pair *p) {
  th_pump(p->a.s, p->b.s, p->now, 100, 1, NULL, NULL);
}

static void peer_init(pair *pr, peer *p, rc_session_role role, uint8_t seed) {
  rc_session_config cfg;
  rc_session_config_default(&cfg, RC_FRAMING_UDP, role);
  cfg.udp.seed = seed;
  rc_session_callbacks cb = {.on_message = on_message};
  rc_exchange_callbacks xcb = {.on_request = on_request};
  memset(p, 0, sizeof *p);
  p->pair = pr;
  th_end_new(&cfg, &cb, &xcb, p, seed, NULL, pr->now, &p->s, &p->x);
}

static pair *pair_new(void) {
  pair *p = calloc(1, sizeof *p);
  p->now = 1000;
  peer_init(p, &p->a, RC_SESSION_CLIENT, 1);
  peer_init(p, &p->b, RC_SESSION_SERVER, 2);
  assert_int_equal(rc_session_set_echo(p->b.s, &stub_echo), RC_OK);
  return p;
}

static void pair_free(pair *p) {
  th_end_free(p->a.s, p->a.x, 0);
  th_end_free(p->b.s, p->b.x, 0);
  free(p);
}

static void get(pair *p, result *r) {
  rc_opt path = {RC_OPT_URI_PATH, 3, (const uint8_t *)"big"};
  rc_outmsg req = {RC_GET, &path, 1, NULL, 0};
  assert_int_equal(
      rc_exchange_request(p->a.x, &req, NULL, p->now, on_response, r, NULL),
      RC_OK);
  pump(p);
}

static void held_back_answer_fetched_with_echo(void **state) {
  (void)state;
  pair *p = pair_new();
  result r = {0};
  get(p, &r);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.status, RC_OK);
  assert_int_equal(r.code, RC_CONTENT);
  assert_int_equal(r.len, 600);
  assert_int_equal(p->b.requests_seen, 2);
  assert_int_equal(p->b.echo_seen_len, 10);
  assert_memory_equal(p->b.echo_seen, "fresh-echo", 10);
  /* confirmed: the next request goes through at once, without Echo */
  memset(&r, 0, sizeof r);
  get(p, &r);
  assert_int_equal(r.code, RC_CONTENT);
  assert_int_equal(p->b.requests_seen, 3);
  assert_int_equal(p->b.echo_seen_len, 0);
  pair_free(p);
}

static void repeated_once_only(void **state) {
  (void)state;
  pair *p = pair_new();
  p->b.always_401 = 1;
  result r = {0};
  get(p, &r);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.code, RC_UNAUTHORIZED);
  assert_int_equal(p->b.requests_seen, 2);
  assert_int_equal(p->b.echo_seen_len, 3);
  assert_memory_equal(p->b.echo_seen, "abc", 3);
  pair_free(p);
}

/* The client exchange against a scripted server that asks for an Echo
 * before block 0 and again before block 1 of a 1040-byte body (it forgot
 * the address in between): each block request is repeated once. */
static void echo_mid_download(void **state) {
  (void)state;
  pair *p = calloc(1, sizeof *p);
  p->now = 1000;
  peer_init(p, &p->a, RC_SESSION_CLIENT, 1);
  result r = {0};
  rc_opt path = {RC_OPT_URI_PATH, 3, (const uint8_t *)"big"};
  rc_outmsg req = {RC_GET, &path, 1, NULL, 0};
  assert_int_equal(
      rc_exchange_request(p->a.x, &req, NULL, p->now, on_response, &r, NULL),
      RC_OK);
  int step = 0;
  for (int round = 0; round < 10 && r.calls == 0; round++) {
    const uint8_t *d;
    size_t n;
    rc_session_handle_expiry(p->a.s, p->now);
    assert_int_equal(rc_session_pending(p->a.s, &d, &n), RC_OK);
    rc_msg m;
    uint8_t in[1500];
    memcpy(in, d, n);
    assert_int_equal(rc_session_consume(p->a.s, n), RC_OK);
    assert_int_equal(rc_msg_parse(RC_FRAMING_UDP, in, n, &m), RC_OK);
    rc_opt o;
    rc_block want = {0, 0, 0};
    if (rc_msg_find_opt(&m, RC_OPT_BLOCK2, &o))
      assert_int_equal(rc_block_decode(o.val, o.len, &want), RC_OK);
    int has_echo = rc_msg_find_opt(&m, RC_OPT_ECHO, &o);
    uint8_t out[1200];
    rc_enc e;
    uint8_t v[3];
    const uint8_t *resp;
    size_t rlen;
    step++;
    /* steps 1 and 3 ask without Echo (blocks 0 and 1): 4.01 + Echo e0 /
     * e1; steps 2 and 4 repeat them with it: the block */
    static const uint8_t want_num[5] = {0, 0, 0, 1, 1};
    assert_true(step <= 4);
    assert_int_equal(want.num, want_num[step]);
    if (step == 1 || step == 3) {
      assert_false(has_echo);
      rc_enc_init(&e, out, sizeof out, RC_UNAUTHORIZED, m.token,
                  m.token_len);
      rc_enc_opt(&e, RC_OPT_ECHO, step == 1 ? "e0" : "e1", 2);
    } else {
      assert_true(has_echo);
      assert_int_equal(o.len, 2);
      assert_memory_equal(o.val, step == 2 ? "e0" : "e1", 2);
      static uint8_t blk0[1024];
      memset(blk0, 'a', sizeof blk0);
      rc_block b = {want.num, want.num == 0, 6}; /* 1024-byte blocks */
      rc_enc_init(&e, out, sizeof out, RC_CONTENT, m.token, m.token_len);
      rc_enc_opt(&e, RC_OPT_BLOCK2, v, rc_block_encode(&b, v));
      if (want.num == 0)
        rc_enc_payload(&e, blk0, sizeof blk0);
      else
        rc_enc_payload(&e, "ghijklmnopqrstuv", 16);
    }
    assert_int_equal(
        rc_enc_finish(&e, RC_FRAMING_UDP, RC_TYPE_ACK, m.mid, &resp, &rlen),
        RC_OK);
    rc_session_recv(p->a.s, resp, rlen, p->now);
  }
  assert_int_equal(step, 4);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.code, RC_CONTENT);
  assert_int_equal(r.len, 1024 + 16);
  th_end_free(p->a.s, p->a.x, 0);
  free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(held_back_answer_fetched_with_echo),
      cmocka_unit_test(repeated_once_only),
      cmocka_unit_test(echo_mid_download),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
