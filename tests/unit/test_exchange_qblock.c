/*
 * Q-Block1 and Q-Block2 (RFC 9177) in the exchange layer over two real
 * UDP sessions back to back in memory, on a fake clock: every datagram
 * goes through a pump that can lose chosen ones and records what each
 * side sent (codes, Q-Block values, Content-Format, payload), so the
 * tests check the wire as well as the bodies: a set with a lost block and
 * its re-request, MAX_PAYLOADS pacing against NON_TIMEOUT, 2.31 per whole
 * set, a lost upload block named by a 4.08 with the exact CBOR payload,
 * a malformed 4.08, the 4.02 fallback, the body budget, and Q-Block
 * with the amplification limit and Echo (RFC 9175 §2.4): a held-back set
 * (one 4.01, no block out), a 4.01 mid-download and at an upload's end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcoap/exchange.h"
#include "test_echo_stub.h"
#include "test_exchange_harness.h"

#define MAXWIRE 256

/* One datagram seen by the pump. */
typedef struct wire {
  int from_client;
  uint8_t type, code;
  uint16_t mid;
  rc_time at;
  int nqb2, has_qb1, lost;
  rc_block qb2[4], qb1;
  int has_cf, has_etag, has_size2;
  uint8_t echo[16];
  size_t echo_len;
  uint32_t cf;
  uint8_t payload[16];
  size_t payload_len;
  uint8_t token[8];
  size_t token_len;
} wire;

typedef struct peer {
  rc_session *s;
  rc_exchange *x;
  struct pair *pair;
  int raw;           /* no exchange: the test answers by hand */
  size_t body_len;   /* GET answers this many pattern bytes */
  uint8_t *got;      /* the last upload on_request saw */
  size_t got_len;
  int requests;
} peer;

typedef struct result {
  int calls;
  rc_err status;
  uint8_t code;
  uint8_t *body;
  size_t len;
} result;

typedef struct pair {
  peer c, s; /* client, server */
  rc_time now;
  wire w[MAXWIRE];
  int nw;
  /* loses the first datagram matching: from the client (1) or server,
   * carrying Q-Block1 (1) or Q-Block2 (2) with this NUM */
  int lose_from_client, lose_opt;
  uint32_t lose_num;
  int lost;
  rc_budget *budget;
  result res; /* the client request's outcome (outlives the test: a
                 request still pending is failed in teardown) */
} pair;

static uint8_t pat(size_t i) { return (uint8_t)((i * 7 + 3) % 251); }

static void see(wire *w, const rc_msg *m) {
  rc_opt_iter it;
  rc_opt o;
  w->type = m->type;
  w->code = m->code;
  w->mid = m->mid;
  w->token_len = m->token_len;
  if (m->token_len)
    memcpy(w->token, m->token, m->token_len);
  w->payload_len = m->payload_len;
  if (m->payload_len)
    memcpy(w->payload, m->payload,
           m->payload_len < sizeof w->payload ? m->payload_len
                                              : sizeof w->payload);
  rc_opt_iter_init(&it, m);
  while (rc_opt_next(&it, &o)) {
    if (o.num == RC_OPT_Q_BLOCK2 && w->nqb2 < 4)
      assert_int_equal(rc_block_decode(o.val, o.len, &w->qb2[w->nqb2++]),
                       RC_OK);
    if (o.num == RC_OPT_Q_BLOCK1) {
      w->has_qb1 = 1;
      assert_int_equal(rc_block_decode(o.val, o.len, &w->qb1), RC_OK);
    }
    if (o.num == RC_OPT_CONTENT_FORMAT) {
      w->has_cf = 1;
      assert_int_equal(rc_opt_uint(&o, &w->cf), RC_OK);
    }
    if (o.num == RC_OPT_ECHO && o.len <= sizeof w->echo) {
      memcpy(w->echo, o.val, o.len);
      w->echo_len = o.len;
    }
    w->has_etag |= o.num == RC_OPT_ETAG;
    w->has_size2 |= o.num == RC_OPT_SIZE2;
  }
}

static int lose(pair *p, const wire *w) {
  if (p->lost || !p->lose_opt || w->from_client != p->lose_from_client)
    return 0;
  if (p->lose_opt == 1 && w->has_qb1 && w->qb1.num == p->lose_num)
    return p->lost = 1;
  if (p->lose_opt == 2 && w->nqb2 == 1 && w->qb2[0].num == p->lose_num &&
      !w->from_client)
    return p->lost = 1;
  return 0;
}

/* The pump's tap: every datagram recorded in p->w, one lost on demand. */
static int tap(void *arg, rc_session *from, const uint8_t *d, size_t len) {
  pair *p = arg;
  rc_msg m;
  assert_int_equal(rc_msg_parse(RC_FRAMING_UDP, d, len, &m), RC_OK);
  assert_true(p->nw < MAXWIRE);
  wire *w = &p->w[p->nw++];
  memset(w, 0, sizeof *w);
  w->from_client = from == p->c.s;
  w->at = p->now;
  see(w, &m);
  return w->lost = lose(p, w);
}

static void pump(pair *p) {
  th_pump(p->c.s, p->s.s, p->now, 1000, 0, tap, p);
}

static void tick(pair *p) {
  peer *ps[2] = {&p->c, &p->s};
  for (int i = 0; i < 2; i++) {
    rc_session_handle_expiry(ps[i]->s, p->now);
    if (ps[i]->x)
      rc_exchange_handle_expiry(ps[i]->x, p->now);
  }
  pump(p);
}

/* Moves the clock to t in 10 ms steps, timers firing on the way. */
static void run_to(pair *p, rc_time t) {
  while (p->now < t) {
    p->now += 10;
    tick(p);
  }
}

static int on_message(void *user, const rc_msg *m) {
  peer *p = user;
  if (p->raw)
    return 0;
  return rc_exchange_on_message(p->x, m, p->pair->now) == RC_OK ? 0 : -1;
}

static void on_lost(void *user, const uint8_t *tok, size_t tkl, rc_err why) {
  peer *p = user;
  if (p->x)
    rc_exchange_lost(p->x, tok, tkl, why);
}

static void on_request(void *user, rc_exchange *x, rc_xreq *req) {
  peer *p = user;
  (void)x;
  p->requests++;
  const rc_msg *m = rc_xreq_msg(req);
  if (m->code == RC_GET) {
    uint8_t *body = malloc(p->body_len + 1);
    for (size_t i = 0; i < p->body_len; i++)
      body[i] = pat(i);
    rc_outmsg resp = {RC_CONTENT, NULL, 0, body, p->body_len};
    assert_int_equal(rc_exchange_respond(req, &resp), RC_OK);
    free(body);
    return;
  }
  free(p->got);
  p->got = malloc(m->payload_len + 1);
  if (m->payload_len)
    memcpy(p->got, m->payload, m->payload_len);
  p->got_len = m->payload_len;
  rc_outmsg resp = {RC_CHANGED, NULL, 0, NULL, 0};
  assert_int_equal(rc_exchange_respond(req, &resp), RC_OK);
}

static void on_response(void *arg, rc_err status, const rc_msg *resp) {
  result *r = arg;
  r->calls++;
  r->status = status;
  if (resp) {
    r->code = resp->code;
    free(r->body);
    r->body = malloc(resp->payload_len + 1);
    if (resp->payload_len)
      memcpy(r->body, resp->payload, resp->payload_len);
    r->len = resp->payload_len;
  }
}

static void peer_init(pair *pr, peer *p, rc_session_role role, uint8_t seed) {
  rc_session_config cfg;
  rc_session_config_default(&cfg, RC_FRAMING_UDP, role);
  cfg.udp.seed = seed;
  rc_session_callbacks cb = {.on_message = on_message, .on_lost = on_lost};
  rc_exchange_callbacks xcb = {.on_request = on_request};
  p->pair = pr;
  th_end_new(&cfg, &cb, p->raw ? NULL : &xcb, p, seed, NULL, pr->now, &p->s,
             &p->x);
}

static pair *pair_new(int raw_server) {
  pair *p = calloc(1, sizeof *p);
  p->now = 1000;
  p->s.raw = raw_server;
  peer_init(p, &p->c, RC_SESSION_CLIENT, 1);
  peer_init(p, &p->s, RC_SESSION_SERVER, 2);
  return p;
}

static int setup(void **state) {
  *state = pair_new(0);
  return 0;
}

static int setup_raw(void **state) {
  *state = pair_new(1);
  return 0;
}

static int teardown(void **state) {
  pair *p = *state;
  peer *ps[2] = {&p->c, &p->s};
  for (int i = 0; i < 2; i++) {
    th_end_free(ps[i]->s, ps[i]->x, 1);
    free(ps[i]->got);
  }
  rc_budget_free(p->budget);
  free(p->res.body);
  free(p);
  return 0;
}

static void send_req(pair *p, uint8_t code, const char *path, size_t body,
                     result *res) {
  rc_opt o = {RC_OPT_URI_PATH, (uint32_t)strlen(path),
              (const uint8_t *)path};
  uint8_t *b = body ? malloc(body) : NULL;
  for (size_t i = 0; i < body; i++)
    b[i] = pat(i);
  rc_outmsg req = {code, &o, 1, b, body};
  rc_exchange_req_opts ro;
  memset(&ro, 0, sizeof ro);
  ro.qblock = 1;
  ro.timeout_ms = 60000;
  assert_int_equal(rc_exchange_request(p->c.x, &req, &ro, p->now, on_response,
                                       res, NULL),
                   RC_OK);
  free(b);
  tick(p);
}

/* Server responses carrying Q-Block2, in order. */
static int q2_out(const pair *p, uint32_t *nums, int max) {
  int n = 0;
  for (int i = 0; i < p->nw; i++)
    if (!p->w[i].from_client && p->w[i].nqb2 == 1 && n < max)
      nums[n++] = p->w[i].qb2[0].num;
  return n;
}

static void assert_body(const result *r, size_t len) {
  assert_int_equal(r->calls, 1);
  assert_int_equal(r->status, RC_OK);
  assert_int_equal(r->len, len);
  for (size_t i = 0; i < len; i++)
    if (r->body[i] != pat(i))
      fail_msg("byte %zu differs", i);
}

/* 26 blocks (the last one short); block 3 of the first set is lost. The
 * first set is exactly MAX_PAYLOADS blocks and nothing more goes before
 * NON_TIMEOUT (the set has a hole, so the client does not ask for more);
 * then the server's next set, which is whole, so the client asks for the
 * rest at once; NON_RECEIVE_TIMEOUT after the last block the client asks
 * for block 3 alone, and the handler ran once. */
static void test_qb2_lost_block(void **state) {
  pair *p = *state;
  result *res = &p->res;
  size_t len = 25 * 1024 + 100;
  p->s.body_len = len;
  p->lose_from_client = 0;
  p->lose_opt = 2;
  p->lose_num = 3;
  send_req(p, RC_GET, "big", 0, res);
  /* The request offered Q-Block2 0 with M set (the entire body, RFC 9177
   * §4.4) and SZX 6. */
  assert_int_equal(p->w[0].code, RC_GET);
  assert_int_equal(p->w[0].nqb2, 1);
  assert_int_equal(p->w[0].qb2[0].num, 0);
  assert_int_equal(p->w[0].qb2[0].more, 1);
  assert_int_equal(p->w[0].qb2[0].szx, 6);
  uint32_t nums[64];
  assert_int_equal(q2_out(p, nums, 64), RC_QBLOCK_MAX_PAYLOADS);
  for (uint32_t i = 0; i < RC_QBLOCK_MAX_PAYLOADS; i++) {
    const wire *w = &p->w[1 + i];
    assert_int_equal(w->qb2[0].num, i);
    assert_int_equal(w->qb2[0].more, 1);
    assert_true(w->has_etag);
    assert_true(w->has_size2); /* RFC 9177 §4.6: in all payloads */
    /* the first piggybacked on the CON's ACK, the rest NON */
    assert_int_equal(w->type, i == 0 ? RC_TYPE_ACK : RC_TYPE_NON);
  }
  assert_true(p->w[4].lost);
  rc_time t0 = p->now;
  run_to(p, t0 + RC_QBLOCK_NON_TIMEOUT_MS - 10);
  assert_int_equal(q2_out(p, nums, 64), RC_QBLOCK_MAX_PAYLOADS);
  run_to(p, t0 + RC_QBLOCK_NON_TIMEOUT_MS);
  assert_int_equal(q2_out(p, nums, 64), 26);
  for (uint32_t i = 0; i < 26; i++)
    assert_int_equal(nums[i], i);
  /* the client's "continue" after the whole second set: Q-Block2 20/M */
  int asked_rest = 0;
  for (int i = 0; i < p->nw; i++)
    if (p->w[i].from_client && p->w[i].nqb2 == 1 &&
        p->w[i].qb2[0].num == 20 && p->w[i].qb2[0].more)
      asked_rest = 1;
  assert_true(asked_rest);
  assert_int_equal(res->calls, 0);
  rc_time last = p->now;
  run_to(p, last + RC_QBLOCK_NON_RECEIVE_TIMEOUT_MS - 10);
  assert_int_equal(res->calls, 0);
  run_to(p, last + RC_QBLOCK_NON_RECEIVE_TIMEOUT_MS);
  const wire *ask = NULL;
  for (int i = 0; i < p->nw; i++)
    if (p->w[i].from_client && p->w[i].at == p->now)
      ask = &p->w[i];
  assert_non_null(ask);
  assert_int_equal(ask->nqb2, 1);
  assert_int_equal(ask->qb2[0].num, 3);
  assert_int_equal(ask->qb2[0].more, 0);
  assert_body(res, len);
  assert_int_equal(p->s.requests, 1);
  }

/* Block 0 lost: it went in the ACK of the CON request, so the client's
 * message layer sends the request again and the server's dedup gives the
 * same ACK back; the handler ran once and the body is whole. */
static void test_qb2_lost_block0(void **state) {
  pair *p = *state;
  result *res = &p->res;
  p->s.body_len = 5 * 1024 + 7;
  p->lose_from_client = 0;
  p->lose_opt = 2;
  p->lose_num = 0;
  send_req(p, RC_GET, "big", 0, res);
  assert_true(p->lost);
  assert_int_equal(res->calls, 0);
  run_to(p, p->now + 10000);
  assert_body(res, 5 * 1024 + 7);
  assert_int_equal(p->s.requests, 1);
  int asked0 = 0, resent = 0;
  for (int i = 1; i < p->nw; i++) {
    if (p->w[i].from_client && p->w[i].nqb2 == 1 && p->w[i].qb2[0].num == 0 &&
        !p->w[i].qb2[0].more)
      asked0++;
    if (p->w[i].from_client && p->w[i].mid == p->w[0].mid)
      resent++;
  }
  assert_int_equal(resent, 1); /* the CON again, same MID */
  assert_int_equal(asked0, 0); /* no Q-Block2 request was needed */
}

/* No loss: a continue after each whole set, so no set waits NON_TIMEOUT. */
static void test_qb2_whole_sets(void **state) {
  pair *p = *state;
  result *res = &p->res;
  p->s.body_len = 31 * 1024;
  send_req(p, RC_GET, "big", 0, res);
  assert_body(res, 31 * 1024);
  assert_int_equal(p->now, 1000);
  }

/* 15 blocks, block 4 lost: no 2.31 for the first set (it has a hole), so
 * the second set goes NON_TIMEOUT later; NON_RECEIVE_TIMEOUT after the
 * last block the server answers 4.08, Content-Format 272, payload the
 * CBOR unsigned integer 4 (0x04) alone; the client sends block 4 again
 * and the server's 2.04 completes the upload. */
static void test_qb1_lost_block(void **state) {
  pair *p = *state;
  result *res = &p->res;
  size_t len = 14 * 1024 + 512;
  p->lose_from_client = 1;
  p->lose_opt = 1;
  p->lose_num = 4;
  send_req(p, RC_PUT, "up", len, res);
  int n = 0, acks = 0;
  const wire *prev = NULL;
  for (int i = 0; i < p->nw; i++) {
    if (!p->w[i].from_client) {
      /* no answer to a set with a hole; the CON first block acknowledged
       * at once (RFC 9177 §4.3), with an empty ACK */
      assert_int_equal(p->w[i].type, RC_TYPE_ACK);
      assert_int_equal(p->w[i].code, 0);
      assert_int_equal(p->w[i].mid, p->w[0].mid);
      acks++;
      continue;
    }
    /* the first block CON (the support check of RFC 9177 §4.1), the
     * rest NON, each with a token of its own */
    assert_int_equal(p->w[i].type, n == 0 ? RC_TYPE_CON : RC_TYPE_NON);
    assert_int_equal(p->w[i].qb1.num, (uint32_t)n++);
    if (prev)
      assert_memory_not_equal(p->w[i].token, prev->token, 8);
    prev = &p->w[i];
  }
  assert_int_equal(n, RC_QBLOCK_MAX_PAYLOADS);
  assert_int_equal(acks, 1);
  rc_time t0 = p->now;
  run_to(p, t0 + RC_QBLOCK_NON_TIMEOUT_MS);
  const wire *w14 = NULL;
  int nreq = 0;
  for (int i = 0; i < p->nw; i++)
    if (p->w[i].from_client && p->w[i].has_qb1) {
      nreq++;
      w14 = &p->w[i];
    }
  assert_int_equal(nreq, 15);
  assert_int_equal(w14->qb1.num, 14);
  assert_int_equal(w14->qb1.more, 0);
  rc_time last = p->now;
  run_to(p, last + RC_QBLOCK_NON_RECEIVE_TIMEOUT_MS);
  const wire *w408 = NULL;
  for (int i = 0; i < p->nw; i++)
    if (p->w[i].code == RC_REQUEST_ENTITY_INCOMPLETE)
      w408 = &p->w[i];
  assert_non_null(w408);
  assert_int_equal(w408->at, last + RC_QBLOCK_NON_RECEIVE_TIMEOUT_MS);
  assert_true(w408->has_cf);
  assert_int_equal(w408->cf, 272);
  assert_int_equal(w408->payload_len, 1);
  assert_int_equal(w408->payload[0], 0x04);
  /* on the last block's token; block 4 again, then the final answer */
  assert_memory_equal(w408->token, w14->token, 8);
  const wire *again = w408 + 1;
  assert_true(again->from_client);
  assert_int_equal(again->qb1.num, 4);
  assert_int_equal(res->calls, 1);
  assert_int_equal(res->status, RC_OK);
  assert_int_equal(res->code, RC_CHANGED);
  assert_int_equal(p->s.got_len, len);
  for (size_t i = 0; i < len; i++)
    assert_int_equal(p->s.got[i], pat(i));
  assert_int_equal(p->s.requests, 1);
  }

/* No loss: 2.31 after each whole set (carrying Q-Block1 of its last
 * block), so the sets follow each other without waiting. */
static void test_qb1_continue_per_set(void **state) {
  pair *p = *state;
  result *res = &p->res;
  size_t len = 25 * 1024;
  send_req(p, RC_PUT, "up", len, res);
  assert_int_equal(res->calls, 1);
  assert_int_equal(res->code, RC_CHANGED);
  assert_int_equal(p->now, 1000);
  int n231 = 0;
  for (int i = 0; i < p->nw; i++)
    if (p->w[i].code == RC_CONTINUE) {
      assert_true(p->w[i].has_qb1);
      assert_int_equal(p->w[i].qb1.num, n231 ? 19 : 9);
      n231++;
    }
  assert_int_equal(n231, 2);
  assert_int_equal(p->s.got_len, len);
  for (size_t i = 0; i < len; i++)
    assert_int_equal(p->s.got[i], pat(i));
  }

/* The server answers by hand (raw) the client request seen as wire
 * record idx (-1: the last one), in the type its session picks. */
static void raw_answer_to(pair *p, int idx, uint8_t code, uint32_t cf,
                          const uint8_t *payload, size_t plen) {
  const wire *req = NULL;
  for (int i = p->nw - 1; i >= 0 && !req && idx < 0; i--)
    if (p->w[i].from_client)
      req = &p->w[i];
  if (idx >= 0)
    req = &p->w[idx];
  assert_non_null(req);
  rc_enc e;
  assert_int_equal(rc_session_msg_begin(p->s.s, &e, code, req->token,
                                        req->token_len, 64),
                   RC_OK);
  if (cf != UINT32_MAX)
    rc_enc_opt_uint(&e, RC_OPT_CONTENT_FORMAT, cf);
  if (plen)
    rc_enc_payload(&e, payload, plen);
  assert_int_equal(rc_session_msg_end(p->s.s, &e), RC_OK);
  pump(p);
}

static void raw_answer(pair *p, uint8_t code, uint32_t cf,
                       const uint8_t *payload, size_t plen) {
  raw_answer_to(p, -1, code, cf, payload, plen);
}

/* A 4.08 whose missing-blocks payload is not a CBOR Sequence of ascending
 * block numbers is dropped (RFC 9177 §5: "The client SHOULD silently drop
 * 4.08 ... responses not adhering"): nothing resent, the upload goes on
 * and a later 2.04 ends it. */
static void test_qb1_malformed_408(void **state) {
  static const struct {
    uint8_t b[4];
    size_t n;
  } bad[] = {{{0x05, 0x03}, 2}, {{0x82, 0x01, 0x02}, 3}, {{0x19, 0x01}, 2},
             {{0x1f}, 1}};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    pair *p = pair_new(1);
    result *res = &p->res;
    send_req(p, RC_PUT, "up", 12 * 1024, res);
    assert_int_equal(p->nw, RC_QBLOCK_MAX_PAYLOADS);
    raw_answer(p, RC_REQUEST_ENTITY_INCOMPLETE, RC_CF_MISSING_BLOCKS,
               bad[k].b, bad[k].n);
    assert_int_equal(res->calls, 0);
    assert_int_equal(p->nw, RC_QBLOCK_MAX_PAYLOADS + 1); /* nothing more */
    raw_answer(p, RC_CHANGED, UINT32_MAX, NULL, 0);
    assert_int_equal(res->calls, 1);
    assert_int_equal(res->status, RC_OK);
    assert_int_equal(res->code, RC_CHANGED);
        void *st = p;
    teardown(&st);
  }
  (void)state;
}

/* A server without Q-Block answers 4.02: the GET goes again without
 * Q-Block2 (and a fresh token), and its plain answer is delivered. */
static void test_qb2_fallback(void **state) {
  pair *p = *state;
  result *res = &p->res;
  send_req(p, RC_GET, "x", 0, res);
  assert_int_equal(p->w[0].nqb2, 1);
  raw_answer(p, RC_BAD_OPTION, UINT32_MAX, NULL, 0);
  assert_int_equal(res->calls, 0);
  const wire *again = &p->w[p->nw - 1];
  assert_true(again->from_client);
  assert_int_equal(again->code, RC_GET);
  assert_int_equal(again->nqb2, 0);
  assert_memory_not_equal(again->token, p->w[0].token, 8);
  raw_answer(p, RC_CONTENT, UINT32_MAX, (const uint8_t *)"ok", 2);
  assert_int_equal(res->calls, 1);
  assert_int_equal(res->code, RC_CONTENT);
  assert_int_equal(res->len, 2);
  }

/* A server that answers a Q-Block2 request with Block2 (its choice): the
 * client follows Block2 to the end as usual. */
static void test_qb2_server_chose_block2(void **state) {
  pair *p = *state;
  result *res = &p->res;
  send_req(p, RC_GET, "x", 0, res);
  uint8_t b2[3];
  rc_block blk = {0, 1, 6};
  size_t n = rc_block_encode(&blk, b2);
  uint8_t body[1024];
  for (size_t i = 0; i < sizeof body; i++)
    body[i] = pat(i);
  const wire *req = &p->w[p->nw - 1];
  rc_enc e;
  assert_int_equal(rc_session_msg_begin(p->s.s, &e, RC_CONTENT, req->token,
                                        req->token_len, 1100),
                   RC_OK);
  rc_enc_opt(&e, RC_OPT_BLOCK2, b2, n);
  rc_enc_payload(&e, body, sizeof body);
  assert_int_equal(rc_session_msg_end(p->s.s, &e), RC_OK);
  pump(p);
  const wire *next = &p->w[p->nw - 1];
  assert_true(next->from_client);
  assert_int_equal(next->nqb2, 0);
  blk = (rc_block){1, 0, 6};
  n = rc_block_encode(&blk, b2);
  assert_int_equal(rc_session_msg_begin(p->s.s, &e, RC_CONTENT, next->token,
                                        next->token_len, 64),
                   RC_OK);
  rc_enc_opt(&e, RC_OPT_BLOCK2, b2, n);
  rc_enc_payload(&e, body, 10);
  assert_int_equal(rc_session_msg_end(p->s.s, &e), RC_OK);
  pump(p);
  assert_int_equal(res->calls, 1);
  assert_int_equal(res->status, RC_OK);
  assert_int_equal(res->len, 1034);
}

/* The same for an upload: 4.02 to the first block (CON, so the 4.02 is
 * in its ACK); the body goes in Block1 with a fresh token, so answers to
 * the rest of the old set are not its answer. */
static void test_qb1_fallback(void **state) {
  pair *p = *state;
  result *res = &p->res;
  send_req(p, RC_PUT, "up", 3 * 1024, res);
  assert_int_equal(p->nw, 3);
  assert_int_equal(p->w[0].type, RC_TYPE_CON);
  raw_answer_to(p, 0, RC_BAD_OPTION, UINT32_MAX, NULL, 0);
  assert_int_equal(p->w[3].type, RC_TYPE_ACK);
  const wire *b1 = &p->w[p->nw - 1];
  assert_true(b1->from_client);
  assert_false(b1->has_qb1);
  assert_int_equal(b1->type, RC_TYPE_CON);
  for (int i = 0; i < 3; i++)
    assert_memory_not_equal(b1->token, p->w[i].token, 8);
  uint8_t old_tok[8];
  memcpy(old_tok, p->w[1].token, 8);
  /* A late 4.02 to the old token is dropped. */
  rc_enc e;
  assert_int_equal(rc_session_msg_begin(p->s.s, &e, RC_BAD_OPTION, old_tok,
                                        8, 16),
                   RC_OK);
  assert_int_equal(rc_session_msg_end(p->s.s, &e), RC_OK);
  pump(p);
  assert_int_equal(res->calls, 0);
  }

/* A server without Q-Block rejects a NON carrying it with a Reset (RFC
 * 7252 §5.4.1), as libcoap 4.3.1 does: the same fallback. */
static void test_qb1_reset_fallback(void **state) {
  pair *p = *state;
  result *res = &p->res;
  send_req(p, RC_PUT, "up", 3 * 1024, res);
  assert_int_equal(p->nw, 3);
  for (int i = 0; i < 3; i++) {
    uint8_t rst[4] = {0x70, 0, (uint8_t)(p->w[i].mid >> 8),
                      (uint8_t)p->w[i].mid};
    assert_int_equal(rc_session_recv(p->c.s, rst, 4, p->now), RC_OK);
  }
  tick(p);
  const wire *b1 = &p->w[p->nw - 1];
  assert_int_equal(p->nw, 4); /* one Block1 request, once */
  assert_true(b1->from_client);
  assert_false(b1->has_qb1);
  assert_int_equal(b1->type, RC_TYPE_CON);
  assert_int_equal(res->calls, 0);
  }

/* A request straight into the server's session (the client is only the
 * address): Uri-Path "big" / "up" by code, then the given options (a
 * block value each; Size1 takes num as its value), payload of plen
 * pattern bytes. */
static void inject_t(pair *p, uint8_t type, uint8_t code, uint8_t tok,
                     uint16_t mid, const uint16_t *nums, const rc_block *blks,
                     size_t n, size_t plen) {
  rc_enc e;
  uint8_t buf[1200];
  rc_enc_init(&e, buf, sizeof buf, code, &tok, 1);
  rc_enc_opt(&e, RC_OPT_URI_PATH, code == RC_GET ? "big" : "up", code == RC_GET ? 3 : 2);
  for (size_t i = 0; i < n; i++) {
    uint8_t v[3];
    size_t vl = rc_block_encode(&blks[i], v);
    if (nums[i] == RC_OPT_SIZE1) /* a uint: its value in num */
      rc_enc_opt_uint(&e, nums[i], blks[i].num);
    else
      rc_enc_opt(&e, nums[i], v, vl);
  }
  uint8_t pl[1024];
  for (size_t i = 0; i < plen; i++)
    pl[i] = pat(i);
  if (plen)
    rc_enc_payload(&e, pl, plen);
  const uint8_t *d;
  size_t len;
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_UDP, type, mid, &d, &len),
                   RC_OK);
  assert_int_equal(rc_session_recv(p->s.s, d, len, p->now), RC_OK);
  pump(p);
}

static void inject(pair *p, uint8_t code, uint8_t tok, uint16_t mid,
                   const uint16_t *nums, const rc_block *blks, size_t n,
                   size_t plen) {
  inject_t(p, RC_TYPE_NON, code, tok, mid, nums, blks, n, plen);
}

/* A client that sends every Q-Block1 block CON (RFC 9177 §4.3: "the
 * server continues to acknowledge each packet, but a response is not
 * required" until the body is whole; 2.31 "SHOULD NOT be generated for
 * CON"; the 4.08 of §5 "SHOULD NOT be used when using Confirmable
 * requests"): each block gets an empty ACK at once, nothing else (no
 * 2.31 after block 9, no 4.08 for the hole at 10) until the block that
 * completes the body, whose answer is piggybacked. Blocks 0-10 of 1024
 * bytes and an empty last block 11. */
static void test_qb1_all_con(void **state) {
  pair *p = *state;
  static const uint16_t nums[] = {RC_OPT_Q_BLOCK1, RC_OPT_SIZE1};
  for (uint32_t i = 0; i < 12; i++) {
    if (i == 10)
      continue; /* a hole, filled below */
    rc_block b[2] = {{i, i < 11, 6}, {11 * 1024, 0, 0}}; /* Size1 */
    int before = p->nw;
    inject_t(p, RC_TYPE_CON, RC_PUT, (uint8_t)(0x40 + i), (uint16_t)(0x200 + i),
             nums, b, 2, i < 11 ? 1024 : 0);
    assert_int_equal(p->nw, before + 1);
    assert_int_equal(p->w[before].type, RC_TYPE_ACK);
    assert_int_equal(p->w[before].code, 0);
  }
  run_to(p, p->now + 3 * RC_QBLOCK_NON_RECEIVE_TIMEOUT_MS);
  for (int i = 0; i < p->nw; i++)
    assert_int_not_equal(p->w[i].code, RC_REQUEST_ENTITY_INCOMPLETE);
  int before = p->nw;
  rc_block b[2] = {{10, 1, 6}, {11 * 1024, 0, 0}};
  inject_t(p, RC_TYPE_CON, RC_PUT, 0x4a, 0x20a, nums, b, 2, 1024);
  assert_int_equal(p->nw, before + 1);
  assert_int_equal(p->w[before].type, RC_TYPE_ACK);
  assert_int_equal(p->w[before].code, RC_CHANGED);
  assert_int_equal(p->s.got_len, 11 * 1024);
}

/* The last message the server sent (the client, which never sent the
 * injected requests, answers their responses with a Reset: RFC 7252
 * §5.3.2). */
static const wire *last_from_server(const pair *p) {
  for (int i = p->nw - 1; i >= 0; i--)
    if (!p->w[i].from_client)
      return &p->w[i];
  fail_msg("the server sent nothing");
  return NULL;
}

/* The server's checks of RFC 9177 §4.3 and §4.4: Q-Block1 without
 * Request-Tag or Size1 is 4.00; Q-Block2 options not in increasing order
 * are 4.00; overlapping ones send each block once, and M set on a NUM
 * inside a set asks for the rest of that set only. */
static void test_server_checks(void **state) {
  pair *p = *state;
  p->s.body_len = 30 * 1024;
  static const uint16_t q1[] = {RC_OPT_Q_BLOCK1};
  rc_block b = {0, 1, 6};
  inject(p, RC_PUT, 1, 0x10, q1, &b, 1, 1024);
  assert_int_equal(last_from_server(p)->code, RC_BAD_REQUEST);
  assert_int_equal(p->s.requests, 0);
  static const uint16_t q2x2[] = {RC_OPT_Q_BLOCK2, RC_OPT_Q_BLOCK2};
  rc_block down[2] = {{5, 0, 6}, {3, 0, 6}};
  inject(p, RC_GET, 2, 0x11, q2x2, down, 2, 0);
  assert_int_equal(last_from_server(p)->code, RC_BAD_REQUEST);
  /* start the body (blocks 0-9), then ask 13 with M (13..19) and 15 */
  rc_block first = {0, 0, 6};
  inject(p, RC_GET, 3, 0x12, q2x2, &first, 1, 0);
  int before = p->nw;
  rc_block list[2] = {{13, 1, 6}, {15, 0, 6}};
  inject(p, RC_GET, 4, 0x13, q2x2, list, 2, 0);
  uint32_t got[16];
  int n = 0;
  for (int i = before; i < p->nw && n < 16; i++)
    if (!p->w[i].from_client && p->w[i].token[0] == 4)
      got[n++] = p->w[i].qb2[0].num;
  assert_int_equal(n, 7);
  for (int i = 0; i < 7; i++)
    assert_int_equal(got[i], 13 + (uint32_t)i);
  assert_int_equal(p->s.requests, 1); /* the rest came from the cache */
}

/* Q-Block1 reassembly takes its memory from the context's budget: a body
 * that can never fit gets 4.13 with Size1 = the budget's limit. */
static void test_qb1_budget(void **state) {
  pair *p = *state;
  result *res = &p->res;
  assert_int_equal(rc_budget_new(&p->budget, 8192, NULL), RC_OK);
  assert_int_equal(rc_exchange_set_budget(p->s.x, p->budget), RC_OK);
  send_req(p, RC_PUT, "up", 20 * 1024, res);
  assert_int_equal(res->calls, 1);
  assert_int_equal(res->code, RC_REQUEST_ENTITY_TOO_LARGE);
  assert_int_equal(p->s.requests, 0);
  }

/* ---- with the amplification limit and Echo (RFC 9175 §2.4) ---------- */

static int count_code(const pair *p, int from_client, uint8_t code) {
  int n = 0;
  for (int i = 0; i < p->nw; i++)
    n += p->w[i].from_client == from_client && p->w[i].code == code;
  return n;
}

/* A Q-Block2 GET to a server whose address limit holds back large answers
 * to an unconfirmed peer: the set's first answer becomes one 4.01 with
 * Echo and none of the other nine blocks leaves (the limit counts the
 * set, not its first message); the client repeats the GET with the Echo
 * and its Q-Block2 option; the server, now sure of the address, sends
 * every set unlimited: each of the 26 blocks exactly once. */
static void test_qb2_echo_set_held_back(void **state) {
  pair *p = *state;
  result *res = &p->res;
  size_t len = 25 * 1024 + 100;
  p->s.body_len = len;
  assert_int_equal(rc_session_set_echo(p->s.s, &stub_echo), RC_OK);
  send_req(p, RC_GET, "big", 0, res);
  assert_body(res, len);
  assert_int_equal(p->now, 1000); /* no timer was needed */
  assert_int_equal(p->w[1].code, RC_UNAUTHORIZED);
  assert_int_equal(p->w[1].type, RC_TYPE_ACK);
  assert_int_equal(p->w[1].echo_len, 10);
  assert_memory_equal(p->w[1].echo, "fresh-echo", 10);
  assert_int_equal(count_code(p, 0, RC_UNAUTHORIZED), 1);
  /* the repeat: the same GET with Q-Block2 0/M and the Echo */
  const wire *r = &p->w[2];
  assert_true(r->from_client);
  assert_int_equal(r->code, RC_GET);
  assert_int_equal(r->nqb2, 1);
  assert_int_equal(r->qb2[0].num, 0);
  assert_int_equal(r->qb2[0].more, 1);
  assert_int_equal(r->echo_len, 10);
  assert_memory_equal(r->echo, "fresh-echo", 10);
  uint32_t nums[64];
  assert_int_equal(q2_out(p, nums, 64), 26);
  for (uint32_t i = 0; i < 26; i++)
    assert_int_equal(nums[i], i);
  /* the continue requests carry no Echo: one was enough */
  for (int i = 3; i < p->nw; i++)
    assert_int_equal(p->w[i].echo_len, 0);
  assert_int_equal(p->s.requests, 2);
}

/* The server answers the client request seen as wire record idx with
 * Q-Block2 block num of a body of 16-byte blocks (SZX 0). */
static void raw_block(pair *p, int idx, uint32_t num, int more) {
  const wire *req = &p->w[idx];
  rc_enc e;
  assert_int_equal(rc_session_msg_begin(p->s.s, &e, RC_CONTENT, req->token,
                                        req->token_len, 64),
                   RC_OK);
  rc_block b = {num, (uint8_t)more, 0};
  uint8_t v[3];
  rc_enc_opt(&e, RC_OPT_Q_BLOCK2, v, rc_block_encode(&b, v));
  uint8_t pl[16];
  for (size_t i = 0; i < sizeof pl; i++)
    pl[i] = pat(num * 16 + i);
  rc_enc_payload(&e, pl, sizeof pl);
  assert_int_equal(rc_session_msg_end(p->s.s, &e), RC_OK);
}

/* The server answers the client request seen as wire record idx with
 * 4.01 and Echo "xyz" (RFC 9175 §2.4). */
static void raw_401_echo(pair *p, int idx) {
  rc_enc e;
  assert_int_equal(rc_session_msg_begin(p->s.s, &e, RC_UNAUTHORIZED,
                                        p->w[idx].token, p->w[idx].token_len,
                                        16),
                   RC_OK);
  rc_enc_opt(&e, RC_OPT_ECHO, "xyz", 3);
  assert_int_equal(rc_session_msg_end(p->s.s, &e), RC_OK);
  pump(p);
}

static int last_from_client(const pair *p) {
  for (int i = p->nw - 1; i >= 0; i--)
    if (p->w[i].from_client)
      return i;
  fail_msg("no client request");
  return -1;
}

/* A server that forgot the client's address mid-download answers the
 * continue request of the second set with 4.01 + Echo: the client asks
 * for the rest of the body again on the Q-Block path (Q-Block2 10 with M,
 * the Echo, a fresh token), the set and the body stay whole. (The
 * repeat went out as a plain request before, and the Block2 answer
 * ended the Q-Block transfer with a tenth of the body.) */
static void test_qb2_echo_mid_download(void **state) {
  pair *p = *state;
  result *res = &p->res;
  send_req(p, RC_GET, "big", 0, res);
  int first = last_from_client(p);
  for (uint32_t i = 0; i < 10; i++)
    raw_block(p, first, i, 1);
  pump(p);
  int cont = last_from_client(p);
  assert_true(cont > first);
  assert_int_equal(p->w[cont].nqb2, 1);
  assert_int_equal(p->w[cont].qb2[0].num, 10);
  raw_401_echo(p, cont);
  int rep = last_from_client(p);
  assert_true(rep > cont);
  const wire *r = &p->w[rep];
  assert_int_equal(r->code, RC_GET);
  assert_int_equal(r->nqb2, 1);
  assert_int_equal(r->qb2[0].num, 10);
  assert_int_equal(r->qb2[0].more, 1);
  assert_int_equal(r->echo_len, 3);
  assert_memory_equal(r->echo, "xyz", 3);
  assert_memory_not_equal(r->token, p->w[cont].token, 8);
  assert_int_equal(res->calls, 0);
  for (uint32_t i = 10; i < 20; i++)
    raw_block(p, rep, i, i < 19);
  pump(p);
  assert_body(res, 320);
}

/* The end of a Q-Block1 upload answered 4.01 + Echo (a large final
 * answer held back): the last block goes again with the Echo, Q-Block1
 * and Request-Tag kept, and the answer to it ends the upload. */
static void test_qb1_echo_at_end(void **state) {
  pair *p = *state;
  result *res = &p->res;
  send_req(p, RC_PUT, "up", 3 * 1024 + 5, res);
  int last = last_from_client(p);
  assert_true(p->w[last].has_qb1);
  uint32_t lastnum = p->w[last].qb1.num;
  assert_int_equal(p->w[last].qb1.more, 0);
  raw_401_echo(p, last);
  int rep = last_from_client(p);
  assert_true(rep > last);
  assert_true(p->w[rep].has_qb1);
  assert_int_equal(p->w[rep].qb1.num, lastnum);
  assert_int_equal(p->w[rep].echo_len, 3);
  assert_int_equal(res->calls, 0);
  raw_answer(p, RC_CHANGED, UINT32_MAX, NULL, 0);
  assert_int_equal(res->calls, 1);
  assert_int_equal(res->code, RC_CHANGED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_qb2_lost_block, setup, teardown),
      cmocka_unit_test_setup_teardown(test_qb2_whole_sets, setup, teardown),
      cmocka_unit_test_setup_teardown(test_qb2_lost_block0, setup, teardown),
      cmocka_unit_test_setup_teardown(test_qb1_lost_block, setup, teardown),
      cmocka_unit_test_setup_teardown(test_qb1_continue_per_set, setup,
                                      teardown),
      cmocka_unit_test(test_qb1_malformed_408),
      cmocka_unit_test_setup_teardown(test_qb2_fallback, setup_raw, teardown),
      cmocka_unit_test_setup_teardown(test_qb1_fallback, setup_raw, teardown),
      cmocka_unit_test_setup_teardown(test_qb2_server_chose_block2, setup_raw,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_qb1_reset_fallback, setup_raw,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_qb1_budget, setup, teardown),
      cmocka_unit_test_setup_teardown(test_server_checks, setup, teardown),
      cmocka_unit_test_setup_teardown(test_qb1_all_con, setup, teardown),
      cmocka_unit_test_setup_teardown(test_qb2_echo_set_held_back, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_qb2_echo_mid_download, setup_raw,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_qb1_echo_at_end, setup_raw,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
