/*
 * The server side of the amplification limit (RFC 7252 §11.3, RFC 9175
 * §2.4) for requests with an effect: a POST whose answer is held back as
 * 4.01 + Echo runs its handler once; the Echo'd repeat gets the kept
 * answer (xheld.c). Exact datagrams from a scripted client into an RFC
 * 7252 server session + exchange, the clock in the test's hands; and the
 * rcoap client exchange against it (it repeats with the Echo itself).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rcoap/budget.h"
#include "rcoap/codec_option.h"
#include "rcoap/exchange.h"
#include "test_echo_stub.h"
#include "test_exchange_harness.h"

#define BODY 600 /* the answer: over 3 x any request below */

typedef struct srv {
  rc_session *s;
  rc_exchange *x;
  rc_time now;
  int runs;       /* handler calls for POST /n */
  int defer;      /* answer later (rc_xreq_defer), from the test */
  size_t big;     /* non-zero: the answer has this many bytes (Block2) */
  rc_xreq *held;
  rc_session *cs; /* the client end of a pair (or NULL: scripted) */
  rc_exchange *cx;
} srv;

static int on_message(void *user, const rc_msg *m) {
  srv *p = user;
  rc_exchange *x = p->cs && rc_code_is_response(m->code) ? p->cx : p->x;
  return rc_exchange_on_message(x, m, p->now) == RC_OK ? 0 : -1;
}

static void answer(rc_xreq *req, int n, size_t len) {
  static uint8_t body[4000];
  memset(body, 'a' + n % 26, sizeof body);
  rc_outmsg resp = {RC_CHANGED, NULL, 0, body, len ? len : BODY};
  assert_int_equal(rc_exchange_respond(req, &resp), RC_OK);
}

static void on_request(void *user, rc_exchange *x, rc_xreq *req) {
  srv *p = user;
  (void)x;
  p->runs++;
  if (p->defer) {
    assert_int_equal(rc_xreq_defer(req), RC_OK);
    p->held = req;
    return;
  }
  answer(req, p->runs, p->big);
}

static void srv_new(srv *p, rc_budget *budget) {
  memset(p, 0, sizeof *p);
  p->now = 1000;
  rc_session_config cfg;
  rc_session_config_default(&cfg, RC_FRAMING_UDP, RC_SESSION_SERVER);
  cfg.udp.seed = 2;
  rc_session_callbacks cb = {.on_message = on_message};
  rc_exchange_callbacks xcb = {.on_request = on_request};
  th_end_new(&cfg, &cb, &xcb, p, 2, NULL, p->now, &p->s, &p->x);
  assert_int_equal(rc_session_set_echo(p->s, &stub_echo), RC_OK);
  if (budget)
    assert_int_equal(rc_exchange_set_budget(p->x, budget), RC_OK);
}

static void srv_free(srv *p) { th_end_free(p->s, p->x, 0); }

/* The one datagram the server has queued, into out (its length; 0:
 * none). */
static size_t collect(srv *p, uint8_t *out, size_t cap) {
  const uint8_t *d;
  size_t n, got = 0;
  while (rc_session_pending(p->s, &d, &n) == RC_OK) {
    assert_int_equal(got, 0); /* one answer per request */
    assert_true(n <= cap);
    memcpy(out, d, n);
    got = n;
    assert_int_equal(rc_session_consume(p->s, n), RC_OK);
  }
  return got;
}

/* A CON request from the scripted client: code, MID, 2-byte token, Uri-Path
 * "n", an optional Echo, a payload; the one datagram the server sends back
 * goes to out (its length returned; 0: none). */
static size_t req(srv *p, uint8_t code, uint16_t mid, const char *tok,
                  const char *echo, const char *payload, uint8_t *out,
                  size_t cap) {
  uint8_t buf[256];
  rc_enc e;
  const uint8_t *d;
  size_t n;
  rc_enc_init(&e, buf, sizeof buf, code, (const uint8_t *)tok, 2);
  rc_enc_opt(&e, RC_OPT_URI_PATH, "n", 1);
  if (echo)
    rc_enc_opt(&e, RC_OPT_ECHO, echo, strlen(echo));
  if (payload)
    rc_enc_payload(&e, payload, strlen(payload));
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_UDP, RC_TYPE_CON, mid, &d, &n),
                   RC_OK);
  uint8_t dg[256];
  memcpy(dg, d, n);
  rc_session_recv(p->s, dg, n, p->now);
  return collect(p, out, cap);
}

/* out is a piggybacked answer (ACK, MID mid, token tok) with code. */
static void expect(const uint8_t *out, size_t n, uint8_t code, uint16_t mid,
                   const char *tok) {
  rc_msg m;
  assert_true(n > 0);
  assert_int_equal(rc_msg_parse(RC_FRAMING_UDP, out, n, &m), RC_OK);
  assert_int_equal(m.type, RC_TYPE_ACK);
  assert_int_equal(m.code, code);
  assert_int_equal(m.mid, mid);
  assert_int_equal(m.token_len, 2);
  assert_memory_equal(m.token, tok, 2);
  rc_opt o;
  if (code == RC_UNAUTHORIZED) {
    assert_true(rc_msg_find_opt(&m, RC_OPT_ECHO, &o));
    assert_int_equal(o.len, 10);
    assert_memory_equal(o.val, "fresh-echo", 10);
    assert_int_equal(m.payload_len, 0);
  } else {
    assert_false(rc_msg_find_opt(&m, RC_OPT_ECHO, &o));
    assert_int_equal(m.payload_len, BODY);
  }
}

/* The repeat under a new token (libcoap) and a new MID gets the answer
 * the first run gave; a duplicate of it (same MID) gets the same bytes
 * again from the message layer; a later POST with the Echo is a new
 * request and runs. */
static void post_runs_once(void **state) {
  (void)state;
  srv p;
  srv_new(&p, NULL);
  uint8_t a[1200], b[1200];
  size_t n = req(&p, RC_POST, 1, "t1", NULL, "x", a, sizeof a);
  expect(a, n, RC_UNAUTHORIZED, 1, "t1");
  assert_int_equal(p.runs, 1);
  p.now += 5000;
  n = req(&p, RC_POST, 2, "t2", "fresh-echo", "x", a, sizeof a);
  expect(a, n, RC_CHANGED, 2, "t2");
  assert_int_equal(a[n - 1], 'b'); /* the first run's body (runs == 1) */
  assert_int_equal(p.runs, 1);
  size_t n2 = req(&p, RC_POST, 2, "t2", "fresh-echo", "x", b, sizeof b);
  assert_int_equal(n2, n);
  assert_memory_equal(a, b, n);
  assert_int_equal(p.runs, 1);
  n = req(&p, RC_POST, 3, "t3", "fresh-echo", "x", a, sizeof a);
  expect(a, n, RC_CHANGED, 3, "t3");
  assert_int_equal(p.runs, 2);
  srv_free(&p);
}

/* The same for PATCH and iPATCH, and for an answer given later
 * (deferred); a PUT (idempotent) is not kept: its repeat runs again. */
static void patch_ipatch_deferred_put(void **state) {
  (void)state;
  static const uint8_t codes[] = {RC_PATCH, RC_IPATCH, RC_PUT, RC_POST};
  for (int i = 0; i < 4; i++) {
    srv p;
    srv_new(&p, NULL);
    p.defer = codes[i] == RC_POST;
    uint8_t a[1200];
    size_t n = req(&p, codes[i], 1, "t1", NULL, "x", a, sizeof a);
    if (p.defer) {
      assert_int_equal(n, 0);
      answer(p.held, 1, 0);
      n = collect(&p, a, sizeof a);
      p.defer = 0;
    }
    expect(a, n, RC_UNAUTHORIZED, 1, "t1");
    n = req(&p, codes[i], 2, "t2", "fresh-echo", "x", a, sizeof a);
    expect(a, n, RC_CHANGED, 2, "t2");
    assert_int_equal(p.runs, codes[i] == RC_PUT ? 2 : 1);
    srv_free(&p);
  }
}

/* After the Echo lifetime (60 s of the test's clock, no sleep) the kept
 * answer is gone and the repeat runs the handler again; a repeat with an
 * Echo that does not check gets a 4.01 again and the answer stays; one
 * with another payload is another request. */
static void expiry_stale_echo_other_payload(void **state) {
  (void)state;
  srv p;
  srv_new(&p, NULL);
  uint8_t a[1200];
  size_t n = req(&p, RC_POST, 1, "t1", NULL, "x", a, sizeof a);
  expect(a, n, RC_UNAUTHORIZED, 1, "t1");
  n = req(&p, RC_POST, 2, "t2", "stale", "x", a, sizeof a);
  expect(a, n, RC_UNAUTHORIZED, 2, "t2");
  assert_int_equal(p.runs, 1);
  p.now += RC_UDP_ECHO_LIFETIME_MS - 1;
  n = req(&p, RC_POST, 3, "t3", "fresh-echo", "x", a, sizeof a);
  expect(a, n, RC_CHANGED, 3, "t3");
  assert_int_equal(p.runs, 1);
  srv_free(&p);

  srv_new(&p, NULL);
  n = req(&p, RC_POST, 1, "t1", NULL, "x", a, sizeof a);
  expect(a, n, RC_UNAUTHORIZED, 1, "t1");
  p.now += RC_UDP_ECHO_LIFETIME_MS;
  rc_exchange_handle_expiry(p.x, p.now);
  n = req(&p, RC_POST, 2, "t2", "fresh-echo", "x", a, sizeof a);
  expect(a, n, RC_CHANGED, 2, "t2");
  assert_int_equal(p.runs, 2);
  srv_free(&p);

  srv_new(&p, NULL);
  n = req(&p, RC_POST, 1, "t1", NULL, "x", a, sizeof a);
  expect(a, n, RC_UNAUTHORIZED, 1, "t1");
  n = req(&p, RC_POST, 2, "t2", "fresh-echo", "y", a, sizeof a);
  expect(a, n, RC_CHANGED, 2, "t2");
  assert_int_equal(p.runs, 2);
  srv_free(&p);
}

/* Memory: one kept answer per exchange (the latest), taken from the
 * budget; a budget too small for it keeps nothing (the repeat runs again)
 * and gives everything back. */
static void bounded(void **state) {
  (void)state;
  rc_budget *b;
  assert_int_equal(rc_budget_new(&b, 100000, NULL), RC_OK);
  srv p;
  srv_new(&p, b);
  uint8_t a[1200];
  size_t n = req(&p, RC_POST, 1, "t1", NULL, "x", a, sizeof a);
  expect(a, n, RC_UNAUTHORIZED, 1, "t1");
  size_t one = rc_budget_used(b);
  assert_true(one >= BODY && one < 2 * BODY);
  n = req(&p, RC_POST, 2, "t2", NULL, "y", a, sizeof a);
  expect(a, n, RC_UNAUTHORIZED, 2, "t2");
  assert_int_equal(rc_budget_used(b), one); /* replaced, not added */
  n = req(&p, RC_POST, 3, "t3", "fresh-echo", "x", a, sizeof a);
  expect(a, n, RC_CHANGED, 3, "t3");
  assert_int_equal(p.runs, 3); /* "x" was no longer kept */
  assert_int_equal(rc_budget_used(b), one);
  srv_free(&p);
  assert_int_equal(rc_budget_used(b), 0);
  rc_budget_free(b);

  assert_int_equal(rc_budget_new(&b, BODY / 2, NULL), RC_OK);
  srv_new(&p, b);
  n = req(&p, RC_POST, 1, "t1", NULL, "x", a, sizeof a);
  expect(a, n, RC_UNAUTHORIZED, 1, "t1");
  assert_int_equal(rc_budget_used(b), 0);
  n = req(&p, RC_POST, 2, "t2", "fresh-echo", "x", a, sizeof a);
  expect(a, n, RC_CHANGED, 2, "t2");
  assert_int_equal(p.runs, 2);
  srv_free(&p);
  rc_budget_free(b);
}

typedef struct result {
  int calls;
  uint8_t code;
  size_t len;
} result;

static void on_response(void *arg, rc_err status, const rc_msg *resp) {
  result *r = arg;
  assert_int_equal(status, RC_OK);
  r->calls++;
  r->code = resp->code;
  r->len = resp->payload_len;
  for (size_t i = 0; i < resp->payload_len; i++)
    assert_int_equal(resp->payload[i], 'b'); /* all of the first run */
}

/* The rcoap client exchange (repeats with the Echo on its own): one
 * POST, one handler run, the real answer. */
static void client_post(size_t big) {
  srv p;
  srv_new(&p, NULL);
  p.big = big;
  rc_session_config cfg;
  rc_session_config_default(&cfg, RC_FRAMING_UDP, RC_SESSION_CLIENT);
  cfg.udp.seed = 1;
  rc_session_callbacks cb = {.on_message = on_message};
  rc_exchange_callbacks xcb = {.on_request = on_request};
  p.cs = (rc_session *)1; /* on_message: responses go to the client */
  th_end_new(&cfg, &cb, &xcb, &p, 1, NULL, p.now, &p.cs, &p.cx);
  rc_opt path = {RC_OPT_URI_PATH, 1, (const uint8_t *)"n"};
  rc_outmsg rq = {RC_POST, &path, 1, (const uint8_t *)"x", 1};
  result r = {0};
  assert_int_equal(
      rc_exchange_request(p.cx, &rq, NULL, p.now, on_response, &r, NULL),
      RC_OK);
  th_pump(p.cs, p.s, p.now, 100, 1, NULL, NULL);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.code, RC_CHANGED);
  assert_int_equal(r.len, big ? big : BODY);
  assert_int_equal(p.runs, 1);
  th_end_free(p.cs, p.cx, 0);
  srv_free(&p);
}

static void rcoap_client(void **state) {
  (void)state;
  client_post(0);
}

/* An answer of three blocks: the repeat gets block 0 from the kept
 * answer, the client's Block2 requests the rest from it (RFC 7959). */
static void rcoap_client_blockwise(void **state) {
  (void)state;
  client_post(3000);
}

/* coap+tcp: no amplification limit, nothing held: the POST's answer
 * comes at once and the session never says an answer was held. */
static void reliable_unchanged(void **state) {
  (void)state;
  srv p;
  memset(&p, 0, sizeof p);
  p.now = 1000;
  rc_session_config cfg;
  rc_session_config_default(&cfg, RC_FRAMING_TCP, RC_SESSION_SERVER);
  rc_session_callbacks cb = {.on_message = on_message};
  rc_exchange_callbacks xcb = {.on_request = on_request};
  th_end_new(&cfg, &cb, &xcb, &p, 2, NULL, p.now, &p.s, &p.x);
  assert_int_equal(rc_session_set_echo(p.s, &stub_echo), RC_ERR_INVAL);
  rc_session_config_default(&cfg, RC_FRAMING_TCP, RC_SESSION_CLIENT);
  p.cs = (rc_session *)1;
  th_end_new(&cfg, &cb, &xcb, &p, 1, NULL, p.now, &p.cs, &p.cx);
  th_pump(p.cs, p.s, p.now, 100, 0, NULL, NULL);
  rc_opt path = {RC_OPT_URI_PATH, 1, (const uint8_t *)"n"};
  rc_outmsg rq = {RC_POST, &path, 1, (const uint8_t *)"x", 1};
  result r = {0};
  assert_int_equal(
      rc_exchange_request(p.cx, &rq, NULL, p.now, on_response, &r, NULL),
      RC_OK);
  th_pump(p.cs, p.s, p.now, 100, 0, NULL, NULL);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.code, RC_CHANGED);
  assert_int_equal(r.len, BODY);
  assert_int_equal(p.runs, 1);
  assert_int_equal(rc_session_udp_amp_held(p.s, (const uint8_t *)"", 0), 0);
  th_end_free(p.cs, p.cx, 0);
  srv_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(post_runs_once),
      cmocka_unit_test(patch_ipatch_deferred_put),
      cmocka_unit_test(expiry_stale_echo_other_payload),
      cmocka_unit_test(bounded),
      cmocka_unit_test(rcoap_client),
      cmocka_unit_test(rcoap_client_blockwise),
      cmocka_unit_test(reliable_unchanged),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
