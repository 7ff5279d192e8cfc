/*
 * Tests of the exchange layer over two real sessions wired back to back in
 * memory (client <-> server, TCP framing), with fixed timestamps: requests
 * matched by token in both directions, pipelining, timeouts, cancellation,
 * 4.02 for unknown critical options, deferred answers, and the end of a
 * session failing what is outstanding.
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
#include "test_counting.h"
#include "test_exchange_harness.h"

typedef struct peer {
  rc_session *s;
  rc_exchange *x;
  struct pair *pair;
  /* server side behaviour */
  int defer;
  rc_xreq *held;        /* the last deferred request */
  rc_xreq *held_all[8]; /* every deferred request, to answer or drop */
  int nheld;
  int requests_seen;
  char last_path[64];
} peer;

typedef struct pair {
  peer a, b; /* a = client (initiator), b = server (acceptor) */
  rc_time now;
} pair;

typedef struct result {
  int calls;
  rc_err status;
  uint8_t code;
  char payload[128];
} result;

static int on_message(void *user, const rc_msg *m) {
  peer *p = user;
  return rc_exchange_on_message(p->x, m, p->pair->now) == RC_OK ? 0 : -1;
}

static void path_of(const rc_msg *m, char *out, size_t cap) {
  rc_opt_iter it;
  rc_opt o;
  size_t n = 0;
  out[0] = 0;
  rc_opt_iter_init(&it, m);
  while (rc_opt_next(&it, &o)) {
    if (o.num != RC_OPT_URI_PATH)
      continue;
    n += (size_t)snprintf(out + n, cap - n, "/%.*s", (int)o.len,
                          (const char *)o.val);
  }
}

static void on_request(void *user, rc_exchange *x, rc_xreq *req) {
  peer *p = user;
  (void)x;
  p->requests_seen++;
  const rc_msg *m = rc_xreq_msg(req);
  path_of(m, p->last_path, sizeof p->last_path);
  if (p->defer) {
    assert_int_equal(rc_xreq_defer(req), RC_OK);
    p->held = req;
    if (p->nheld < 8)
      p->held_all[p->nheld++] = req;
    return;
  }
  char body[96];
  int n = snprintf(body, sizeof body, "echo %s %.*s", p->last_path,
                   (int)m->payload_len, (const char *)m->payload);
  rc_outmsg resp = {RC_CONTENT, NULL, 0, (const uint8_t *)body, (size_t)n};
  assert_int_equal(rc_exchange_respond(req, &resp), RC_OK);
}

static void on_response(void *arg, rc_err status, const rc_msg *resp) {
  result *r = arg;
  r->calls++;
  r->status = status;
  if (resp) {
    r->code = resp->code;
    snprintf(r->payload, sizeof r->payload, "%.*s", (int)resp->payload_len,
             (const char *)resp->payload);
  }
}


static void pump(pair *p) {
  th_pump(p->a.s, p->b.s, p->now, 100, 0, NULL, NULL);
}

static void peer_init(pair *pr, peer *p, rc_session_role role, uint8_t seed) {
  rc_session_config cfg;
  rc_session_config_default(&cfg, RC_FRAMING_TCP, role);
  rc_session_callbacks cb = {.on_message = on_message};
  rc_exchange_callbacks xcb = {.on_request = on_request};
  memset(p, 0, sizeof *p);
  p->pair = pr;
  th_end_new(&cfg, &cb, &xcb, p, seed, NULL, pr->now, &p->s, &p->x);
}

static int setup(void **state) {
  pair *p = calloc(1, sizeof *p);
  p->now = 1000;
  peer_init(p, &p->a, RC_SESSION_CLIENT, 1);
  peer_init(p, &p->b, RC_SESSION_SERVER, 2);
  pump(p);
  *state = p;
  return 0;
}

static int teardown(void **state) {
  pair *p = *state;
  th_end_free(p->a.s, p->a.x, 0);
  th_end_free(p->b.s, p->b.x, 0);
  free(p);
  return 0;
}

static rc_outmsg get_req(rc_opt *opts, const char *seg) {
  opts[0].num = RC_OPT_URI_PATH;
  opts[0].val = (const uint8_t *)seg;
  opts[0].len = (uint32_t)strlen(seg);
  rc_outmsg m = {RC_GET, opts, 1, NULL, 0};
  return m;
}

/* ---- what an idle connection's session and exchange hold --------------- */


/* Bytes that the session and the exchange of an idle server connection
 * hold: their two structures and nothing else (no output chunk, no ping
 * ring, no outstanding-request table, no request record: those wait in a
 * pool shared by the loop's exchanges). Pinned so that growth is a
 * decision: docs/BENCHMARKS.md has the breakdown (856 since the UDP
 * session fields of the amplification limit were added: +8). */
#define IDLE_SERVER_BLOCKS 2u
#define IDLE_SERVER_BYTES (sizeof(void *) == 8 ? 856u : cnt.bytes)

/* Three requests from a to b, one at a time, each answered 2.05; after
 * each the counting allocator has blocks live. */
static void served_three(pair *pr, const counting *cnt, size_t blocks) {
  for (int i = 0; i < 3; i++) {
    rc_opt o[1];
    rc_outmsg req = get_req(o, "hello");
    result r = {0};
    assert_int_equal(rc_exchange_request(pr->a.x, &req, NULL, pr->now,
                                         on_response, &r, NULL),
                     RC_OK);
    pump(pr);
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, RC_CONTENT);
    assert_int_equal(cnt->blocks, blocks);
  }
}

static void test_idle_server_memory(void **state) {
  (void)state;
  counting cnt = {0};
  rc_mem mem = {cnt_malloc, cnt_realloc, cnt_free, &cnt};
  pair *pr = calloc(1, sizeof *pr);
  assert_non_null(pr);
  pr->now = 1000;
  peer_init(pr, &pr->a, RC_SESSION_CLIENT, 1);
  /* the server side through the counting allocator */
  rc_session_config cfg;
  rc_session_config_default(&cfg, RC_FRAMING_TCP, RC_SESSION_SERVER);
  rc_session_callbacks cb = {0};
  cb.on_message = on_message;
  peer *b = &pr->b;
  b->pair = pr;
  assert_int_equal(rc_session_new(&b->s, &cfg, &cb, b, &mem, pr->now), RC_OK);
  rc_exchange_callbacks xcb = {.on_request = on_request};
  assert_int_equal(rc_exchange_new(&b->x, b->s, &xcb, b, NULL, 0, &mem),
                   RC_OK);
  pump(pr); /* CSMs both ways; the server's output is written and freed */
  assert_int_equal(cnt.blocks, IDLE_SERVER_BLOCKS);
  assert_int_equal(cnt.bytes, IDLE_SERVER_BYTES);
  /* requests come and are answered: afterwards the same again */
  size_t idle_bytes = cnt.bytes;
  served_three(pr, &cnt, IDLE_SERVER_BLOCKS);
  assert_int_equal(cnt.bytes, idle_bytes);
  /* with a pool shared by the loop's exchanges, the record of an answered
   * request waits there (one for any number of sequential requests) */
  rc_xreq_pool *pool;
  assert_int_equal(rc_xreq_pool_new(&pool, &mem), RC_OK);
  assert_int_equal(rc_exchange_set_req_pool(b->x, pool), RC_OK);
  assert_int_equal(rc_exchange_set_req_pool(pr->a.x, pool), RC_ERR_INVAL);
  served_three(pr, &cnt, IDLE_SERVER_BLOCKS + 2);
  /* a Ping from the server makes its ring; a request from the server its
   * table: first use, not creation */
  assert_int_equal(rc_session_ping(b->s, 0, pr->now, NULL), RC_OK);
  size_t after_ping = cnt.blocks;
  assert_true(after_ping > IDLE_SERVER_BLOCKS);
  rc_opt o[1];
  rc_outmsg req = get_req(o, "back");
  result r = {0};
  assert_int_equal(
      rc_exchange_request(b->x, &req, NULL, pr->now, on_response, &r, NULL),
      RC_OK);
  pump(pr);
  assert_int_equal(r.calls, 1);
  assert_true(cnt.blocks > after_ping);
  teardown((void **)&pr);
  rc_xreq_pool_free(pool); /* after the exchanges that used it */
  assert_int_equal(cnt.blocks, 0);
  assert_int_equal(cnt.bytes, 0);
}

/* Two server sessions on one rc_chunk_pool (the way a context's
 * connections share it): a drained session's 16 KiB output chunk waits in
 * the pool and the other session's next burst takes it without
 * allocating; the pool outlives its creator's release until the last
 * session goes. */
static void test_shared_output_chunks(void **state) {
  (void)state;
  counting cnt = {0};
  rc_mem mem = {cnt_malloc, cnt_realloc, cnt_free, &cnt};
  rc_chunk_pool *pool;
  assert_int_equal(rc_chunk_pool_new(&pool, &mem, 4), RC_OK);
  rc_session_config cfg;
  rc_session_config_default(&cfg, RC_FRAMING_TCP, RC_SESSION_SERVER);
  cfg.out_pool = pool;
  rc_session_callbacks cb = {0};
  cb.on_message = on_message;
  rc_session *s[2];
  for (int i = 0; i < 2; i++) {
    assert_int_equal(rc_session_new(&s[i], &cfg, &cb, NULL, &mem, 1000),
                     RC_OK);
    const uint8_t *d;
    size_t n;
    assert_int_equal(rc_session_pending(s[i], &d, &n), RC_OK); /* CSM */
    assert_int_equal(rc_session_consume(s[i], n), RC_OK);
  }
  /* pool + 2 sessions + the one chunk both CSMs went through */
  assert_int_equal(cnt.blocks, 4);
  rc_chunk_pool_release(pool); /* the sessions keep it */
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 2; i++) {
      rc_msg m = {0};
      m.code = RC_CONTENT;
      assert_int_equal(rc_session_send(s[i], &m), RC_OK);
      assert_int_equal(cnt.blocks, 4); /* taken from the pool */
      const uint8_t *d;
      size_t n;
      assert_int_equal(rc_session_pending(s[i], &d, &n), RC_OK);
      assert_int_equal(rc_session_consume(s[i], n), RC_OK);
    }
  }
  rc_session_free(s[0]);
  assert_int_equal(cnt.blocks, 3);
  rc_session_free(s[1]); /* the last user: the pool and its chunk go */
  assert_int_equal(cnt.blocks, 0);
  assert_int_equal(cnt.bytes, 0);
}

/* A notify round's few frames (rc_session_send_tails) for a session with
 * nothing queued go into a small chunk that the pool keeps: the next
 * round, on either session, allocates nothing. A message too big for what
 * is left of it follows in a 16 KiB chunk: the output is the frames in
 * the order they were queued. */
static void test_shared_small_chunks(void **state) {
  (void)state;
  counting cnt = {0};
  rc_mem mem = {cnt_malloc, cnt_realloc, cnt_free, &cnt};
  rc_chunk_pool *pool;
  assert_int_equal(rc_chunk_pool_new(&pool, &mem, 1), RC_OK);
  rc_session_config cfg;
  rc_session_config_default(&cfg, RC_FRAMING_TCP, RC_SESSION_SERVER);
  cfg.out_pool = pool;
  rc_session_callbacks cb = {0};
  cb.on_message = on_message;
  rc_session *s[2];
  const uint8_t *d;
  size_t n;
  for (int i = 0; i < 2; i++) {
    assert_int_equal(rc_session_new(&s[i], &cfg, &cb, NULL, &mem, 1000),
                     RC_OK);
    assert_int_equal(rc_session_pending(s[i], &d, &n), RC_OK); /* CSM */
    assert_int_equal(rc_session_consume(s[i], n), RC_OK);
  }
  rc_chunk_pool_release(pool);
  /* Observe 1, Content-Format 0, payload "7" */
  static const uint8_t tail[] = {0x61, 0x01, 0x60, 0xFF, '7'};
  static const uint8_t tok[2][4] = {{1, 2, 3, 4}, {5, 6, 7, 8}};
  const uint8_t *toks[2] = {tok[0], tok[1]};
  size_t tkls[2] = {4, 4};
  /* both sessions' output held at once, as in a turn of the loop */
  size_t blocks = cnt.blocks, bytes = cnt.bytes;
  for (int round = 0; round < 3; round++) {
    size_t sent = 0;
    for (int i = 0; i < 2; i++) {
      assert_int_equal(rc_session_send_tails(s[i], RC_CONTENT, toks, tkls, 2,
                                             tail, 3, sizeof tail, &sent),
                       RC_OK);
      assert_int_equal(sent, 2);
    }
    if (round == 0) {
      /* two small chunks, far less than one 16 KiB one */
      assert_int_equal(cnt.blocks, blocks + 2);
      assert_true(cnt.bytes - bytes <= 1024);
      blocks = cnt.blocks;
    }
    assert_int_equal(cnt.blocks, blocks); /* then both from the pool */
    for (int i = 0; i < 2; i++) {
      assert_int_equal(rc_session_pending(s[i], &d, &n), RC_OK);
      assert_int_equal(n, 2 * (2 + 4 + sizeof tail));
      assert_int_equal(d[0], sizeof tail << 4 | 4);
      assert_int_equal(d[1], RC_CONTENT);
      assert_memory_equal(d + 2, tok[0], 4);
      assert_memory_equal(d + 6, tail, sizeof tail);
      assert_memory_equal(d + 13, tok[1], 4);
      assert_int_equal(rc_session_consume(s[i], n), RC_OK);
    }
    assert_int_equal(cnt.blocks, blocks); /* both kept by the pool */
  }
  /* an empty tail (no options, no payload) may be NULL */
  assert_int_equal(
      rc_session_send_tails(s[1], RC_CONTENT, toks, tkls, 2, NULL, 0, 0, NULL),
      RC_OK);
  assert_int_equal(rc_session_pending(s[1], &d, &n), RC_OK);
  assert_int_equal(n, 2 * (2 + 4));
  assert_int_equal(d[0], 0x04); /* Len 0, TKL 4 */
  assert_memory_equal(d + 8, tok[1], 4);
  assert_int_equal(rc_session_consume(s[1], n), RC_OK);
  /* a 1,000-byte payload behind the small frames: a second chunk */
  assert_int_equal(
      rc_session_send_tails(s[0], RC_CONTENT, toks, tkls, 1, tail, 3,
                            sizeof tail, NULL),
      RC_OK);
  static uint8_t big[1000];
  memset(big, 'b', sizeof big);
  rc_msg m = {.code = RC_CONTENT, .token = tok[1], .token_len = 4,
              .payload = big, .payload_len = sizeof big};
  assert_int_equal(rc_session_send(s[0], &m), RC_OK);
  assert_int_equal(rc_session_pending_bytes(s[0]),
                   2 + 4 + sizeof tail + 4 + 4 + 1 + sizeof big);
  assert_int_equal(rc_session_pending(s[0], &d, &n), RC_OK);
  assert_int_equal(n, 2 + 4 + sizeof tail);
  assert_memory_equal(d + 2, tok[0], 4);
  assert_int_equal(rc_session_consume(s[0], n), RC_OK);
  assert_int_equal(rc_session_pending(s[0], &d, &n), RC_OK);
  assert_int_equal(n, 4 + 4 + 1 + sizeof big);
  assert_int_equal(d[0], 14 << 4 | 4); /* RFC 8323 §3.2: Len 269+, 2 bytes */
  assert_memory_equal(d + 4 + 4 + 1, big, sizeof big);
  assert_int_equal(rc_session_consume(s[0], n), RC_OK);
  assert_int_equal(rc_session_pending_bytes(s[0]), 0);
  rc_session_free(s[0]);
  rc_session_free(s[1]);
  assert_int_equal(cnt.blocks, 0);
  assert_int_equal(cnt.bytes, 0);
}

static void test_request_response(void **state) {
  pair *p = *state;
  rc_opt o[1];
  rc_outmsg req = get_req(o, "hello");
  result r = {0};
  assert_int_equal(
      rc_exchange_request(p->a.x, &req, NULL, p->now, on_response, &r, NULL),
      RC_OK);
  assert_int_equal(r.calls, 0); /* never from inside the call */
  assert_int_equal(rc_exchange_outstanding(p->a.x), 1);
  pump(p);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.status, RC_OK);
  assert_int_equal(r.code, RC_CONTENT);
  assert_string_equal(r.payload, "echo /hello ");
  assert_int_equal(rc_exchange_outstanding(p->a.x), 0);
}

static void test_both_directions(void **state) {
  pair *p = *state;
  rc_opt o1[1], o2[1];
  rc_outmsg r1 = get_req(o1, "from-client");
  rc_outmsg r2 = get_req(o2, "from-server");
  result a = {0}, b = {0};
  assert_int_equal(
      rc_exchange_request(p->a.x, &r1, NULL, p->now, on_response, &a, NULL),
      RC_OK);
  assert_int_equal(
      rc_exchange_request(p->b.x, &r2, NULL, p->now, on_response, &b, NULL),
      RC_OK);
  pump(p);
  assert_string_equal(a.payload, "echo /from-client ");
  assert_string_equal(b.payload, "echo /from-server ");
  assert_string_equal(p->a.last_path, "/from-server");
}

static void test_pipelined_many(void **state) {
  pair *p = *state;
  enum { N = 500 };
  static result rs[N];
  memset(rs, 0, sizeof rs);
  char bodies[N][16];
  for (int i = 0; i < N; i++) {
    rc_opt o[1];
    rc_outmsg req = get_req(o, "p");
    req.code = RC_POST;
    int n = snprintf(bodies[i], sizeof bodies[i], "%d", i);
    req.payload = (const uint8_t *)bodies[i];
    req.payload_len = (size_t)n;
    assert_int_equal(rc_exchange_request(p->a.x, &req, NULL, p->now,
                                         on_response, &rs[i], NULL),
                     RC_OK);
  }
  assert_int_equal(rc_exchange_outstanding(p->a.x), N);
  pump(p);
  for (int i = 0; i < N; i++) {
    char want[32];
    snprintf(want, sizeof want, "echo /p %d", i);
    assert_int_equal(rs[i].calls, 1);
    assert_string_equal(rs[i].payload, want);
  }
}

static void test_timeout_and_cancel(void **state) {
  pair *p = *state;
  p->b.defer = 1; /* server holds requests */
  rc_opt o[1];
  rc_outmsg req = get_req(o, "slow");
  result r1 = {0}, r2 = {0};
  uint64_t id2;
  rc_exchange_req_opts o500 = {.timeout_ms = 500};
  assert_int_equal(
      rc_exchange_request(p->a.x, &req, &o500, p->now, on_response, &r1, NULL),
      RC_OK);
  assert_int_equal(
      rc_exchange_request(p->a.x, &req, &o500, p->now, on_response, &r2, &id2),
      RC_OK);
  pump(p);
  assert_int_equal(rc_exchange_unanswered(p->b.x), 2);
  assert_int_equal(p->b.nheld, 2);
  assert_int_equal(rc_exchange_expiry(p->a.x), p->now + 500);
  assert_int_equal(rc_exchange_cancel(p->a.x, id2), RC_OK);
  assert_int_equal(rc_exchange_cancel(p->a.x, id2), RC_ERR_NOT_FOUND);
  rc_exchange_handle_expiry(p->a.x, p->now + 499);
  assert_int_equal(r1.calls, 0);
  rc_exchange_handle_expiry(p->a.x, p->now + 500);
  assert_int_equal(r1.calls, 1);
  assert_int_equal(r1.status, RC_ERR_TIMEOUT);
  assert_int_equal(r2.calls, 0); /* cancelled: silent */
  /* A late answer to the timed-out request is dropped quietly. */
  rc_outmsg resp = {RC_CONTENT, NULL, 0, (const uint8_t *)"late", 4};
  assert_int_equal(rc_exchange_respond(p->b.held_all[0], &resp), RC_OK);
  assert_int_equal(rc_exchange_respond(p->b.held_all[1], &resp), RC_OK);
  assert_int_equal(rc_exchange_unanswered(p->b.x), 0);
  pump(p);
  assert_int_equal(r1.calls, 1);
  assert_int_equal(r2.calls, 0);
}

static void test_deferred_answer(void **state) {
  pair *p = *state;
  p->b.defer = 1;
  rc_opt o[1];
  rc_outmsg req = get_req(o, "later");
  result r = {0};
  assert_int_equal(
      rc_exchange_request(p->a.x, &req, NULL, p->now, on_response, &r, NULL),
      RC_OK);
  pump(p);
  assert_int_equal(r.calls, 0);
  assert_int_equal(rc_exchange_unanswered(p->b.x), 1);
  rc_outmsg resp = {RC_CHANGED, NULL, 0, (const uint8_t *)"done", 4};
  assert_int_equal(rc_exchange_respond(p->b.held, &resp), RC_OK);
  assert_int_equal(rc_exchange_unanswered(p->b.x), 0);
  pump(p);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.code, RC_CHANGED);
  assert_string_equal(r.payload, "done");
}

/* A request with an empty token, deferred and answered later: the answer
 * has the empty token too (the NULL token of the parsed request was once
 * handed to memcpy when deferring: UBSan). */
static void test_deferred_empty_token(void **state) {
  pair *p = *state;
  p->b.defer = 1;
  static const uint8_t get[] = {0x40, RC_GET, 0xb3, 'e', 'm', 'p'};
  rc_session_recv(p->b.s, get, sizeof get, p->now);
  assert_int_equal(rc_exchange_unanswered(p->b.x), 1);
  rc_outmsg resp = {RC_CHANGED, NULL, 0, NULL, 0};
  assert_int_equal(rc_exchange_respond(p->b.held, &resp), RC_OK);
  const uint8_t *d;
  size_t n;
  assert_int_equal(rc_session_pending(p->b.s, &d, &n), RC_OK);
  static const uint8_t want[] = {0x00, RC_CHANGED};
  assert_int_equal(n, sizeof want);
  assert_memory_equal(d, want, sizeof want);
  assert_int_equal(rc_session_consume(p->b.s, n), RC_OK);
}

static void test_unknown_critical_option(void **state) {
  pair *p = *state;
  rc_opt o[2];
  rc_outmsg req = get_req(o, "x");
  o[1].num = 65001; /* odd: critical, unassigned */
  o[1].val = (const uint8_t *)"v";
  o[1].len = 1;
  req.nopts = 2;
  result r = {0};
  assert_int_equal(
      rc_exchange_request(p->a.x, &req, NULL, p->now, on_response, &r, NULL),
      RC_OK);
  pump(p);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.code, RC_BAD_OPTION);
  assert_int_equal(p->b.requests_seen, 0); /* never reached the handler */
  /* An unknown elective option passes. */
  o[1].num = 65000;
  assert_int_equal(
      rc_exchange_request(p->a.x, &req, NULL, p->now, on_response, &r, NULL),
      RC_OK);
  pump(p);
  assert_int_equal(r.calls, 2);
  assert_int_equal(r.code, RC_CONTENT);
}

/* Sends req from a to b, moves everything; one answer must have come. */
static void ask(pair *p, const rc_outmsg *req, result *r) {
  int calls = r->calls;
  assert_int_equal(
      rc_exchange_request(p->a.x, req, NULL, p->now, on_response, r, NULL),
      RC_OK);
  pump(p);
  assert_int_equal(r->calls, calls + 1);
}

/* The options the parser summed up (rc_msg opts_*) let the exchange skip
 * its walk only when nothing needs a look: a Uri-Path or Uri-Query of
 * 255 bytes passes and one of 256 gets 4.02 (RFC 7252 §5.4.3: a value
 * outside the option's range is treated like an unrecognized option),
 * an unassigned critical option below 64 gets 4.02, and an elective one
 * of any length beside them is ignored. */
static void test_value_ranges_on_summary(void **state) {
  pair *p = *state;
  static uint8_t big[300];
  memset(big, 'q', sizeof big);
  static const struct {
    uint16_t num;
    uint32_t len;
    uint8_t code;
  } cases[] = {
      {RC_OPT_URI_PATH, 255, RC_CONTENT},
      {RC_OPT_URI_PATH, 256, RC_BAD_OPTION},
      {RC_OPT_URI_QUERY, 255, RC_CONTENT},
      {RC_OPT_URI_QUERY, 256, RC_BAD_OPTION},
      {25, 1, RC_BAD_OPTION},                  /* critical, unassigned */
      {RC_OPT_CONTENT_FORMAT, 300, RC_CONTENT}, /* elective, too long */
      {62, 300, RC_CONTENT},                    /* elective, unassigned */
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    rc_opt o[2];
    rc_outmsg req = get_req(o, "x");
    rc_opt extra = {cases[i].num, cases[i].len, big};
    if (cases[i].num == RC_OPT_URI_PATH) {
      o[0] = extra; /* the path itself */
    } else if (cases[i].num < RC_OPT_URI_PATH) {
      o[1] = o[0];
      o[0] = extra;
      req.nopts = 2;
    } else {
      o[1] = extra;
      req.nopts = 2;
    }
    result r = {0};
    int seen = p->b.requests_seen;
    ask(p, &req, &r);
    if (r.code != cases[i].code)
      fail_msg("option %u of %u bytes: %u.%02u", cases[i].num, cases[i].len,
               r.code >> 5, r.code & 31);
    assert_int_equal(p->b.requests_seen,
                     seen + (cases[i].code == RC_CONTENT));
  }
}

/* RFC 7252 §5.4.5: a second occurrence of an option that is not
 * repeatable is treated like an unrecognized option. Every critical,
 * non-repeatable option of the registry, twice in a GET with valid values:
 * 4.02 naming it, the handler never called. Repeatable critical ones
 * (If-Match, Uri-Path, Uri-Query) pass twice; Q-Block2 twice with the
 * same NUM is 4.00 (RFC 9177 §4.4: increasing, no duplicates). */
static void test_repeated_critical_options(void **state) {
  pair *p = *state;
  static const uint8_t val[8] = "aaaaaaaa";
  int checked = 0, repeatable = 0;
  for (uint32_t num = 1; num < 65536; num += 2) {
    const rc_opt_def *d = rc_opt_lookup(RC_GET, (uint16_t)num);
    if (!d)
      continue;
    rc_opt o[3];
    rc_outmsg req = get_req(o, "x");
    /* In ascending order: the pair before or after Uri-Path "x". */
    size_t at = num < RC_OPT_URI_PATH ? 0 : 1;
    if (at == 0)
      o[2] = o[0];
    o[at].num = o[at + 1].num = (uint16_t)num;
    o[at].val = o[at + 1].val = val;
    o[at].len = o[at + 1].len = d->min_len; /* valid for the registry */
    req.nopts = 3;
    result r = {0};
    int seen = p->b.requests_seen;
    ask(p, &req, &r);
    if (d->repeatable) {
      if (num == RC_OPT_Q_BLOCK2)
        assert_int_equal(r.code, RC_BAD_REQUEST);
      else if (num != RC_OPT_IF_MATCH) /* no ETag: If-Match may fail */
        assert_int_equal(r.code, RC_CONTENT);
      repeatable++;
      continue;
    }
    char want[80];
    if (num == RC_OPT_OSCORE) /* not implemented: unrecognized (RFC 8613) */
      snprintf(want, sizeof want, "unrecognized critical option %u",
               (unsigned)num);
    else
      snprintf(want, sizeof want, "critical option %u (%s) is not repeatable",
               (unsigned)num, d->name);
    if (r.code != RC_BAD_OPTION || strcmp(r.payload, want) != 0)
      fail_msg("%s twice: %u.%02u \"%s\"", d->name, r.code >> 5, r.code & 31,
               r.payload);
    assert_int_equal(p->b.requests_seen, seen); /* never reached it */
    checked++;
  }
  /* Uri-Host, If-None-Match, Uri-Port, OSCORE, Accept, Q-Block1, Block2,
   * Block1, Proxy-Uri, Proxy-Scheme. */
  assert_int_equal(checked, 10);
  assert_int_equal(repeatable, 4);
}

/* An elective non-repeatable option twice: the later one is ignored and
 * the request served (RFC 7252 §5.4.1: unrecognized elective options are
 * ignored). */
static void test_repeated_elective_option(void **state) {
  pair *p = *state;
  rc_opt o[3];
  rc_outmsg req = get_req(o, "x");
  o[1].num = o[2].num = RC_OPT_CONTENT_FORMAT;
  o[1].val = (const uint8_t *)"\x32";
  o[2].val = (const uint8_t *)"\x3c";
  o[1].len = o[2].len = 1;
  req.nopts = 3;
  result r = {0};
  ask(p, &req, &r);
  assert_int_equal(r.code, RC_CONTENT);
  assert_string_equal(r.payload, "echo /x ");
}

static void test_fail_all_and_orphans(void **state) {
  pair *p = *state;
  p->b.defer = 1;
  rc_opt o[1];
  rc_outmsg req = get_req(o, "gone");
  result r = {0};
  assert_int_equal(
      rc_exchange_request(p->a.x, &req, NULL, p->now, on_response, &r, NULL),
      RC_OK);
  pump(p);
  rc_exchange_fail_all(p->a.x, RC_ERR_PEER_DEAD);
  assert_int_equal(r.calls, 1);
  assert_int_equal(r.status, RC_ERR_PEER_DEAD);
  assert_int_equal(
      rc_exchange_request(p->a.x, &req, NULL, p->now, on_response, &r, NULL),
      RC_ERR_CLOSED);
  /* The server's exchange goes away with a request still deferred: the
   * handler's later answer gets RC_ERR_CLOSED and frees it (ASan checks). */
  rc_xreq *held = p->b.held;
  rc_exchange_free(p->b.x);
  p->b.x = NULL;
  rc_outmsg resp = {RC_CONTENT, NULL, 0, NULL, 0};
  assert_int_equal(rc_exchange_respond(held, &resp), RC_ERR_CLOSED);
}

static void test_bad_arguments(void **state) {
  pair *p = *state;
  rc_outmsg notreq = {RC_CONTENT, NULL, 0, NULL, 0};
  result r = {0};
  assert_int_equal(
      rc_exchange_request(p->a.x, &notreq, NULL, p->now, on_response, &r, NULL),
      RC_ERR_INVAL);
  assert_int_equal(rc_exchange_expiry(p->a.x), RC_TIME_NEVER);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_request_response, setup, teardown),
      cmocka_unit_test(test_idle_server_memory),
      cmocka_unit_test(test_shared_output_chunks),
      cmocka_unit_test(test_shared_small_chunks),
      cmocka_unit_test_setup_teardown(test_both_directions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pipelined_many, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timeout_and_cancel, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deferred_answer, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deferred_empty_token, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_value_ranges_on_summary, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_unknown_critical_option, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_repeated_critical_options, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_repeated_elective_option, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_fail_all_and_orphans, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
