/*
 * Block-wise transfer (RFC 7959, BERT RFC 8323 §6) and observe (RFC 7641)
 * in the exchange layer, with no sockets: two real sessions back to back
 * in memory. Either side can be "raw" (its messages recorded instead of
 * handed to its exchange) to check the exact wire behaviour against the
 * RFC 8323 figures "GET with BERT blocks" and "PUT with BERT blocks".
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

#define MAXREC 64
#define BODY_MAX (4u * 1024u * 1024u)

typedef struct rec {
  uint8_t code;
  int has_b1, has_b2, has_obs, has_size1, has_size2, has_etag, has_tag;
  int has_max_age;
  rc_block b1, b2;
  uint32_t obs, size1, size2, max_age;
  uint8_t etag[8];
  size_t etag_len;
  uint8_t token[8];
  size_t token_len;
  size_t payload_len;
  char path[32];
} rec;

typedef struct peer {
  rc_session *s;
  rc_exchange *x;
  struct pair *pair;
  int raw;
  rec recs[MAXREC];
  int nrec;
  /* server behaviour */
  size_t body_len;       /* GET answers this many pattern bytes */
  uint8_t *got;          /* last whole upload seen by on_request */
  size_t got_len;
  int got_streamed;
  int requests;
  int body_starts;
  uint64_t limit;        /* on_body_start sets it when non-zero */
  int defer;             /* on_request defers every request into held */
  rc_xreq *held[8];
  int nheld;
  int use_sink;
  int use_blocks;        /* on_body_start: rc_xreq_body_blocks */
  int blocks_seen, blocks_ends;
  rc_err blocks_status;
  size_t blocks_off;     /* bytes of the block-by-block upload so far */
  size_t sunk;
  int sink_ends;
  rc_err sink_status;
  /* observe */
  uint8_t obs_token[8];
  size_t obs_token_len;
  uint64_t obs_key;
  int obs_regs, obs_deregs;
  int pattern_shift;
  uint64_t src_len;      /* GET answers from a source of this many bytes */
  int echo;              /* a POST is answered 2.04 with its body */
} peer;

typedef struct pair {
  peer a, b;
  rc_time now;
} pair;

typedef struct result {
  int calls;
  rc_err status;
  uint8_t code;
  uint8_t *body;
  size_t len;
  int has_obs;
} result;

static uint8_t pat(size_t i, int shift) { return (uint8_t)((i * 7 + shift) % 251); }

/* n bytes of the test pattern; the caller frees them. */
static uint8_t *pat_body(size_t n) {
  uint8_t *b = malloc(n);
  assert_non_null(b);
  for (size_t i = 0; i < n; i++)
    b[i] = pat(i, 0);
  return b;
}

static void record(rec *r, const rc_msg *m) {
  rc_opt_iter it;
  rc_opt o;
  memset(r, 0, sizeof *r);
  r->code = m->code;
  r->token_len = m->token_len < 8 ? m->token_len : 8;
  if (r->token_len)
    memcpy(r->token, m->token, r->token_len);
  r->payload_len = m->payload_len;
  rc_opt_iter_init(&it, m);
  size_t pn = 0;
  while (rc_opt_next(&it, &o)) {
    uint32_t v = 0;
    switch (o.num) {
    case RC_OPT_BLOCK1:
      r->has_b1 = rc_block_decode(o.val, o.len, &r->b1) == RC_OK;
      break;
    case RC_OPT_BLOCK2:
      r->has_b2 = rc_block_decode(o.val, o.len, &r->b2) == RC_OK;
      break;
    case RC_OPT_OBSERVE:
      rc_opt_uint(&o, &v);
      r->has_obs = 1;
      r->obs = v;
      break;
    case RC_OPT_SIZE1:
      rc_opt_uint(&o, &v);
      r->has_size1 = 1;
      r->size1 = v;
      break;
    case RC_OPT_SIZE2:
      rc_opt_uint(&o, &v);
      r->has_size2 = 1;
      r->size2 = v;
      break;
    case RC_OPT_ETAG:
      r->has_etag = 1;
      r->etag_len = o.len <= 8 ? o.len : 8;
      memcpy(r->etag, o.val, r->etag_len);
      break;
    case RC_OPT_REQUEST_TAG:
      r->has_tag = 1;
      break;
    case RC_OPT_MAX_AGE:
      rc_opt_uint(&o, &v);
      r->has_max_age = 1;
      r->max_age = v;
      break;
    case RC_OPT_URI_PATH:
      pn += (size_t)snprintf(r->path + pn, sizeof r->path - pn, "/%.*s",
                             (int)o.len, (const char *)o.val);
      break;
    default:
      break;
    }
  }
}

static int on_message(void *user, const rc_msg *m) {
  peer *p = user;
  if (p->raw) {
    assert_true(p->nrec < MAXREC);
    record(&p->recs[p->nrec++], m);
    return 0;
  }
  return rc_exchange_on_message(p->x, m, p->pair->now) == RC_OK ? 0 : -1;
}

static rc_err sink_write(void *arg, uint64_t off, const uint8_t *d, size_t n,
                         uint64_t total) {
  peer *p = arg;
  (void)total;
  assert_int_equal(off, p->sunk);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(d[i], pat(off + i, 0));
  p->sunk += n;
  return RC_OK;
}

static void sink_end(void *arg, rc_err status) {
  peer *p = arg;
  p->sink_ends++;
  p->sink_status = status;
}

static void blocks_end(void *arg, rc_err status) {
  peer *p = arg;
  p->blocks_ends++;
  p->blocks_status = status;
}

static void on_body_start(void *user, rc_exchange *x, rc_xreq *req) {
  peer *p = user;
  (void)x;
  p->body_starts++;
  if (p->limit)
    assert_int_equal(rc_xreq_body_limit(req, p->limit), RC_OK);
  if (p->use_sink) {
    rc_body_sink s = {sink_write, sink_end, p};
    assert_int_equal(rc_xreq_body_sink(req, &s), RC_OK);
  }
  if (p->use_blocks)
    assert_int_equal(rc_xreq_body_blocks(req, blocks_end, p), RC_OK);
}

/* A source of pattern bytes, generated where they are read. */
static rc_ssize src_read(void *arg, uint64_t off, uint8_t *buf, size_t cap) {
  (void)arg;
  for (size_t i = 0; i < cap; i++)
    buf[i] = pat((size_t)(off + i), 0);
  return (rc_ssize)cap;
}

static void on_request(void *user, rc_exchange *x, rc_xreq *req) {
  peer *p = user;
  (void)x;
  p->requests++;
  if (rc_xreq_upload_arg(req)) {
    /* One block of a block-by-block upload: checked, then held for the
     * test to answer (2.31 or the final code). */
    assert_ptr_equal(rc_xreq_upload_arg(req), p);
    const rc_msg *m = rc_xreq_msg(req);
    for (size_t i = 0; i < m->payload_len; i++)
      assert_int_equal(m->payload[i], pat(p->blocks_off + i, 0));
    p->blocks_off += m->payload_len;
    p->blocks_seen++;
    assert_int_equal(rc_xreq_defer(req), RC_OK);
    p->held[0] = req;
    p->nheld = 1;
    return;
  }
  if (p->src_len) {
    rc_body_source src = {src_read, NULL, NULL, p->src_len, NULL};
    rc_outmsg resp = {RC_CONTENT, NULL, 0, NULL, 0};
    assert_int_equal(rc_exchange_respond_source(req, &resp, &src), RC_OK);
    return;
  }
  if (p->defer) {
    assert_true(p->nheld < 8);
    assert_int_equal(rc_xreq_defer(req), RC_OK);
    p->held[p->nheld++] = req;
    return;
  }
  const rc_msg *m = rc_xreq_msg(req);
  if (m->code == RC_GET) {
    int obs = rc_xreq_observe(req);
    if (obs == 0) {
      size_t tl;
      const uint8_t *t = rc_xreq_token(req, &tl);
      memcpy(p->obs_token, t, tl);
      p->obs_token_len = tl;
      p->obs_key = rc_xreq_key(req);
      p->obs_regs++;
      rc_xreq_set_observe(req, 5);
    } else if (obs == 1) {
      p->obs_deregs++;
    }
    uint8_t *body = malloc(p->body_len + 1);
    for (size_t i = 0; i < p->body_len; i++)
      body[i] = pat(i, p->pattern_shift);
    rc_outmsg resp = {RC_CONTENT, NULL, 0, body, p->body_len};
    assert_int_equal(rc_exchange_respond(req, &resp), RC_OK);
    free(body);
    return;
  }
  free(p->got);
  p->got = NULL;
  p->got_len = m->payload_len;
  p->got_streamed = rc_xreq_body_streamed(req);
  if (m->payload_len) {
    p->got = malloc(m->payload_len);
    memcpy(p->got, m->payload, m->payload_len);
  }
  rc_outmsg resp = {RC_CHANGED, NULL, 0, NULL, 0};
  if (p->echo && m->code == RC_POST) {
    resp.payload = p->got;
    resp.payload_len = p->got_len;
  }
  assert_int_equal(rc_exchange_respond(req, &resp), RC_OK);
}

static void on_response(void *arg, rc_err status, const rc_msg *resp) {
  result *r = arg;
  r->calls++;
  r->status = status;
  if (resp) {
    r->code = resp->code;
    rc_opt o;
    r->has_obs = rc_msg_find_opt(resp, RC_OPT_OBSERVE, &o);
    free(r->body);
    r->body = malloc(resp->payload_len + 1);
    if (resp->payload_len)
      memcpy(r->body, resp->payload, resp->payload_len);
    r->len = resp->payload_len;
  }
}


static void pump(pair *p) {
  th_pump(p->a.s, p->b.s, p->now, 10000, 0, NULL, NULL);
}

/* a sends CODE /path (body: len bytes, may be NULL) to b and everything
 * is moved across until both sides are quiet; res gets the answer. */
static void request(pair *p, uint8_t code, const char *path,
                    const uint8_t *body, size_t len, result *res) {
  rc_opt o = {RC_OPT_URI_PATH, (uint32_t)strlen(path), (const uint8_t *)path};
  rc_outmsg req = {code, &o, 1, body, len};
  assert_int_equal(
      rc_exchange_request(p->a.x, &req, NULL, p->now, on_response, res, NULL),
      RC_OK);
  pump(p);
}

/* Max-Message-Size of the sessions pair_new makes; 0: the default. */
static uint32_t pair_mms;
/* The client's allocator in pair_new; NULL: the C library. */
static const rc_mem *pair_client_mem;

static void peer_init(pair *pr, peer *p, rc_session_role role, uint8_t seed,
                      int block_wise) {
  rc_session_config cfg;
  rc_session_config_default(&cfg, RC_FRAMING_TCP, role);
  cfg.block_wise = (uint8_t)block_wise;
  if (pair_mms)
    cfg.max_msg_size = pair_mms;
  rc_session_callbacks cb = {.on_message = on_message};
  rc_exchange_callbacks xcb = {.on_request = on_request,
                               .on_body_start = on_body_start};
  memset(p, 0, sizeof *p);
  p->pair = pr;
  const rc_mem *mem = role == RC_SESSION_CLIENT ? pair_client_mem : NULL;
  th_end_new(&cfg, &cb, &xcb, p, seed, mem, pr->now, &p->s, &p->x);
}

static pair *pair_new(int bw_a, int bw_b) {
  pair *p = calloc(1, sizeof *p);
  p->now = 1000;
  peer_init(p, &p->a, RC_SESSION_CLIENT, 1, bw_a);
  peer_init(p, &p->b, RC_SESSION_SERVER, 2, bw_b);
  pump(p);
  return p;
}

static int setup(void **state) {
  *state = pair_new(1, 1);
  return 0;
}

static int setup_nobert(void **state) {
  *state = pair_new(0, 0);
  return 0;
}

/* Both ends announce Max-Message-Size 1152 (the RFC 8323 base value). */
static int setup_small(void **state) {
  pair_mms = 1152;
  *state = pair_new(1, 1);
  pair_mms = 0;
  return 0;
}

static int teardown(void **state) {
  pair *p = *state;
  th_end_free(p->a.s, p->a.x, 0);
  th_end_free(p->b.s, p->b.x, 0);
  free(p->a.got);
  free(p->b.got);
  free(p);
  return 0;
}

static void set_bert_max(peer *p, uint32_t bytes) {
  rc_exchange_block_config c;
  rc_exchange_block_config_default(&c);
  c.bert_max = bytes;
  assert_int_equal(rc_exchange_set_block_config(p->x, &c), RC_OK);
}

/* Sends a raw request from peer p with a path and an optional block
 * option (num 0 = none when opt == 0). */
static void raw_request(peer *p, uint8_t code, const char *path, uint16_t bopt,
                        const rc_block *b, const uint8_t *payload,
                        size_t plen, const uint8_t *token) {
  rc_enc e;
  assert_int_equal(rc_session_msg_begin(p->s, &e, code, token, 8, plen + 64),
                   RC_OK);
  rc_enc_opt(&e, RC_OPT_URI_PATH, path, strlen(path));
  if (bopt) {
    uint8_t v[3];
    size_t n = rc_block_encode(b, v);
    rc_enc_opt(&e, bopt, v, n);
  }
  rc_enc_payload(&e, payload, plen);
  assert_int_equal(rc_session_msg_end(p->s, &e), RC_OK);
}

/* r is a 2.05 carrying Block2 num/more/szx and len payload bytes. */
static void assert_block2(const rec *r, uint32_t num, int more, uint8_t szx,
                          size_t len) {
  assert_int_equal(r->code, RC_CONTENT);
  assert_true(r->has_b2);
  assert_int_equal(r->b2.num, num);
  assert_int_equal(r->b2.more, more);
  assert_int_equal(r->b2.szx, szx);
  assert_int_equal(r->payload_len, len);
}

/* RFC 8323 Figure 10 ("GET with BERT blocks"), server side: a 12903-byte
 * body; the client asks for 2:3/0/BERT and 2:8/0/BERT as in the figure.
 * With 5120 bytes per BERT message the server answers 2:3/1/BERT(5120)
 * and 2:8/0/BERT(4711), exactly the figure's later responses. */
static void test_bert_get_server_vector(void **state) {
  pair *p = *state;
  p->a.raw = 1;
  p->b.body_len = 3072 + 5120 + 4711;
  set_bert_max(&p->b, 5120);
  const uint8_t tok[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  raw_request(&p->a, RC_GET, "status", 0, NULL, NULL, 0, tok);
  pump(p);
  assert_int_equal(p->a.nrec, 1);
  rec *r = &p->a.recs[0];
  assert_block2(r, 0, 1, 7, 5120); /* a multiple of 1024 */
  assert_true(r->has_size2);
  assert_int_equal(r->size2, 12903);
  assert_true(r->has_etag);
  rc_block b3 = {3, 0, 7};
  raw_request(&p->a, RC_GET, "status", RC_OPT_BLOCK2, &b3, NULL, 0, tok);
  pump(p);
  r = &p->a.recs[1];
  assert_int_equal(r->b2.num, 3);
  assert_int_equal(r->b2.more, 1);
  assert_int_equal(r->b2.szx, 7);
  assert_int_equal(r->payload_len, 5120);
  assert_false(r->has_size2);
  assert_memory_equal(r->etag, p->a.recs[0].etag, 8);
  rc_block b8 = {8, 0, 7};
  raw_request(&p->a, RC_GET, "status", RC_OPT_BLOCK2, &b8, NULL, 0, tok);
  pump(p);
  r = &p->a.recs[2];
  assert_int_equal(r->b2.num, 8);
  assert_int_equal(r->b2.more, 0);
  assert_int_equal(r->b2.szx, 7);
  assert_int_equal(r->payload_len, 4711);
  /* The handler ran once; the later blocks came from the cache. */
  assert_int_equal(p->b.requests, 1);
  /* Beyond the end: 4.02. */
  rc_block b20 = {20, 0, 7};
  raw_request(&p->a, RC_GET, "status", RC_OPT_BLOCK2, &b20, NULL, 0, tok);
  pump(p);
  assert_int_equal(p->a.recs[3].code, RC_BAD_OPTION);
}

/* Figure 10, client side: a raw server answers exactly as in the figure
 * (3072, 5120, 4711 bytes); the client asks for 2:3/0/BERT then
 * 2:8/0/BERT and delivers the 12903 bytes whole. */
static void test_bert_get_client_vector(void **state) {
  pair *p = *state;
  p->b.raw = 1;
  result res = {0};
  request(p, RC_GET, "status", NULL, 0, &res);
  assert_int_equal(p->b.nrec, 1);
  assert_false(p->b.recs[0].has_b2);
  static const size_t sizes[3] = {3072, 5120, 4711};
  static const uint32_t nums[3] = {0, 3, 8};
  size_t off = 0;
  uint8_t *body = pat_body(12903);
  for (int step = 0; step < 3; step++) {
    rec *q = &p->b.recs[step];
    if (step > 0) {
      assert_true(q->has_b2);
      assert_int_equal(q->b2.num, nums[step]);
      assert_int_equal(q->b2.more, 0);
      assert_int_equal(q->b2.szx, 7);
    }
    rc_enc e;
    assert_int_equal(rc_session_msg_begin(p->b.s, &e, RC_CONTENT, q->token,
                                          q->token_len, sizes[step] + 32),
                     RC_OK);
    rc_block b = {nums[step], step < 2, 7};
    uint8_t v[3];
    rc_enc_opt(&e, RC_OPT_BLOCK2, v, rc_block_encode(&b, v));
    rc_enc_payload(&e, body + off, sizes[step]);
    assert_int_equal(rc_session_msg_end(p->b.s, &e), RC_OK);
    off += sizes[step];
    pump(p);
  }
  assert_int_equal(p->b.nrec, 3);
  assert_int_equal(res.calls, 1);
  assert_int_equal(res.status, RC_OK);
  assert_int_equal(res.len, 12903);
  assert_memory_equal(res.body, body, 12903);
  free(body);
  free(res.body);
}

/* RFC 8323 Figure 11 ("PUT with BERT blocks"), server side: 1:0/1/BERT
 * (8192), 1:8/1/BERT (16384), 1:24/0/BERT (5683) are answered 2.31
 * 1:0/1/BERT, 2.31 1:8/1/BERT, 2.04 1:24/0/BERT; the handler sees the
 * 30259 bytes once. */
static void test_bert_put_server_vector(void **state) {
  pair *p = *state;
  p->a.raw = 1;
  size_t total = 8192 + 16384 + 5683;
  uint8_t *body = pat_body(total);
  const uint8_t tok[8] = {9, 9, 9, 9, 9, 9, 9, 9};
  rc_block b0 = {0, 1, 7}, b8 = {8, 1, 7}, b24 = {24, 0, 7};
  raw_request(&p->a, RC_PUT, "options", RC_OPT_BLOCK1, &b0, body, 8192, tok);
  pump(p);
  raw_request(&p->a, RC_PUT, "options", RC_OPT_BLOCK1, &b8, body + 8192,
              16384, tok);
  pump(p);
  raw_request(&p->a, RC_PUT, "options", RC_OPT_BLOCK1, &b24, body + 24576,
              5683, tok);
  pump(p);
  assert_int_equal(p->a.nrec, 3);
  static const uint32_t nums[3] = {0, 8, 24};
  for (int i = 0; i < 3; i++) {
    rec *r = &p->a.recs[i];
    assert_int_equal(r->code, i < 2 ? RC_CONTINUE : RC_CHANGED);
    assert_true(r->has_b1);
    assert_int_equal(r->b1.num, nums[i]);
    assert_int_equal(r->b1.more, i < 2);
    assert_int_equal(r->b1.szx, 7);
  }
  assert_int_equal(p->b.requests, 1);
  assert_int_equal(p->b.body_starts, 1);
  assert_int_equal(p->b.got_len, total);
  assert_memory_equal(p->b.got, body, total);
  free(body);
}

/* Figure 11, client side: a 30259-byte PUT in BERT blocks of 8192 bytes
 * (bert_max) carries Block1 0/1/BERT, 8/1/BERT, 16/1/BERT, 24/0/BERT,
 * Size1 on the first block and one Request-Tag throughout. */
static void test_bert_put_client(void **state) {
  pair *p = *state;
  set_bert_max(&p->a, 8192);
  size_t total = 8192 + 16384 + 5683;
  uint8_t *body = pat_body(total);
  result res = {0};
  request(p, RC_PUT, "options", body, total, &res);
  assert_int_equal(res.calls, 1);
  assert_int_equal(res.status, RC_OK);
  assert_int_equal(res.code, RC_CHANGED);
  assert_int_equal(p->b.got_len, total);
  assert_memory_equal(p->b.got, body, total);
  assert_int_equal(p->b.requests, 1);
  free(body);
  free(res.body);
}

/* Without BERT (no Block-Wise-Transfer in either CSM, peer MMS 8 MiB):
 * a body over the 4 MiB per-message bound goes in 1024-byte Block2 and
 * Block1 blocks; the client reassembles both ways. */
static void test_plain_blocks_both_ways(void **state) {
  pair *p = *state;
  p->b.body_len = 4 * 1024 * 1024 + 5000;
  result res = {0};
  request(p, RC_GET, "big", NULL, 0, &res);
  assert_int_equal(res.calls, 1);
  assert_int_equal(res.status, RC_OK);
  assert_int_equal(res.len, p->b.body_len);
  for (size_t i = 0; i < res.len; i++)
    if (res.body[i] != pat(i, 0))
      fail_msg("byte %zu differs", i);
  assert_int_equal(p->b.requests, 1); /* the rest came from the cache */
  /* Upload the same in Block1 (szx 6). */
  result r2 = {0};
  request(p, RC_PUT, "big", res.body, res.len, &r2);
  assert_int_equal(r2.status, RC_OK);
  assert_int_equal(r2.code, RC_CHANGED);
  assert_int_equal(p->b.got_len, res.len);
  assert_memory_equal(p->b.got, res.body, res.len);
  free(res.body);
  free(r2.body);
}

/* Sends GET /big from p's client with xo (its sink set to the client
 * peer's checking sink); res gets the outcome. */
static void get_big_into_sink(pair *p, rc_exchange_req_opts *xo,
                              result *res) {
  static rc_opt o = {RC_OPT_URI_PATH, 3, (const uint8_t *)"big"};
  rc_outmsg req = {RC_GET, &o, 1, NULL, 0};
  static rc_body_sink s;
  s = (rc_body_sink){sink_write, sink_end, &p->a};
  xo->sink = &s;
  assert_int_equal(
      rc_exchange_request(p->a.x, &req, xo, p->now, on_response, res, NULL),
      RC_OK);
}

/* A client asking for small blocks (SZX 2, 64 bytes) gets them, the
 * server's cache serving each; a streaming sink gets the bytes in order. */
static void test_small_blocks_into_sink(void **state) {
  pair *p = *state;
  p->b.body_len = 1000;
  rc_exchange_req_opts xo = {0};
  xo.block_szx = 2 + 1;
  result res = {0};
  get_big_into_sink(p, &xo, &res);
  pump(p);
  assert_int_equal(res.calls, 1);
  assert_int_equal(res.status, RC_OK);
  assert_int_equal(res.len, 0); /* the body went to the sink */
  assert_int_equal(p->a.sunk, 1000);
  assert_int_equal(p->a.sink_ends, 1);
  assert_int_equal(p->a.sink_status, RC_OK);
  assert_int_equal(p->b.requests, 1); /* 15 more blocks from the cache */
  free(res.body);
}

/* RFC 7959 §2.6 / §3.3: a POST whose body and answer both need blocks
 * (Max-Message-Size 1152): the Block1 upload, the answer's Block2 0 with
 * the last block, and the rest asked for with the upload's Request-Tag,
 * served from the answer kept: the handler runs once and the client gets
 * the body it sent. Regression: the Block2 requests carried no
 * Request-Tag, the server's key missed, and the handler ran again on an
 * empty body (4.02 "block beyond the end of the body"). */
static void test_post_block1_then_block2(void **state) {
  pair *p = *state;
  p->b.echo = 1;
  size_t n = 5000;
  uint8_t *body = pat_body(n);
  result res = {0};
  request(p, RC_POST, "echo", body, n, &res);
  assert_int_equal(res.calls, 1);
  assert_int_equal(res.status, RC_OK);
  assert_int_equal(res.code, RC_CHANGED);
  assert_int_equal(res.len, n);
  assert_memory_equal(res.body, body, n);
  assert_int_equal(p->b.requests, 1);
  free(res.body);
  free(body);
}

/* Sends a raw POST /echo from p: Block1 b1 and Block2 b2 when given,
 * Request-Tag tag when given, an Echo option when echo. */
static void raw_post(peer *p, const rc_block *b1, const rc_block *b2,
                     const char *tag, int echo, size_t off, size_t plen,
                     uint8_t tok) {
  uint8_t token[8] = {9, 9, 9, 9, 9, 9, 9, tok};
  uint8_t *payload = malloc(plen + 1);
  for (size_t i = 0; i < plen; i++)
    payload[i] = pat(off + i, 0);
  rc_enc e;
  uint8_t v[3];
  assert_int_equal(
      rc_session_msg_begin(p->s, &e, RC_POST, token, 8, plen + 64), RC_OK);
  rc_enc_opt(&e, RC_OPT_URI_PATH, "echo", 4);
  if (b2)
    rc_enc_opt(&e, RC_OPT_BLOCK2, v, rc_block_encode(b2, v));
  if (b1)
    rc_enc_opt(&e, RC_OPT_BLOCK1, v, rc_block_encode(b1, v));
  if (echo)
    rc_enc_opt(&e, RC_OPT_ECHO, "\x01\x02\x03\x04", 4);
  if (tag)
    rc_enc_opt(&e, RC_OPT_REQUEST_TAG, tag, strlen(tag));
  rc_enc_payload(&e, payload, plen);
  assert_int_equal(rc_session_msg_end(p->s, &e), RC_OK);
  free(payload);
}

/* Uploads 3072 bytes to /echo from the raw peer p in three 1024-byte
 * Block1 blocks with Request-Tag tag; the last answer carries Block2 0. */
static void raw_upload(pair *pr, const char *tag, uint8_t tok) {
  peer *p = &pr->a;
  for (uint32_t i = 0; i < 3; i++) {
    rc_block b1 = {i, i < 2, 6};
    raw_post(p, &b1, NULL, tag, 0, i * 1024u, 1024, tok);
    pump(pr);
  }
  rec *r = &p->recs[p->nrec - 1];
  assert_int_equal(r->code, RC_CHANGED);
  assert_true(r->has_b2);
  assert_int_equal(r->b2.num, 0);
  assert_true(r->b2.more);
}

/* Server side of the continuation: the last Block1 block repeated, and
 * the Block2 requests after an upload, find its kept answer with the upload's Request-Tag, with an Echo option
 * added (RFC 9175 §2.2.1: not part of the cache key; what a repeat after
 * an amplification 4.01 carries) and, from a client that leaves the tag
 * out, without it while one kept answer matches; with two (two uploads
 * to the same resource) a tagless request is the handler's again. */
static void test_post_continuation_server(void **state) {
  pair *pr = *state;
  peer *p = &pr->a;
  p->raw = 1;
  pr->b.echo = 1;
  raw_upload(pr, "A", 1);
  assert_int_equal(pr->b.requests, 1);
  /* The last block again, with an Echo (the client's repeat after an
   * amplification 4.01 over UDP): the kept answer's first block. */
  rc_block last = {2, 0, 6};
  raw_post(p, &last, NULL, "A", 1, 2048, 1024, 1);
  pump(pr);
  rec *r0 = &p->recs[p->nrec - 1];
  assert_int_equal(r0->code, RC_CHANGED);
  assert_int_equal(r0->b2.num, 0);
  assert_true(r0->b2.more);
  assert_int_equal(r0->payload_len, 1024);
  assert_int_equal(pr->b.requests, 1);
  rc_block b2 = {1, 0, 6};
  raw_post(p, NULL, &b2, NULL, 0, 0, 0, 2); /* no tag: the one match */
  pump(pr);
  rec *r = &p->recs[p->nrec - 1];
  assert_int_equal(r->code, RC_CHANGED);
  assert_int_equal(r->b2.num, 1);
  assert_int_equal(r->payload_len, 1024);
  b2.num = 2;
  raw_post(p, NULL, &b2, "A", 1, 0, 0, 3); /* tag and an Echo */
  pump(pr);
  r = &p->recs[p->nrec - 1];
  assert_int_equal(r->code, RC_CHANGED);
  assert_int_equal(r->b2.num, 2);
  assert_false(r->b2.more);
  assert_int_equal(r->payload_len, 1024);
  assert_int_equal(pr->b.requests, 1); /* all from the kept answer */
  /* Two uploads' answers kept: the tag picks one; no tag, none. */
  raw_upload(pr, "B", 4);
  raw_upload(pr, "C", 5);
  assert_int_equal(pr->b.requests, 3);
  b2.num = 1;
  raw_post(p, NULL, &b2, "C", 0, 0, 0, 6);
  pump(pr);
  r = &p->recs[p->nrec - 1];
  assert_int_equal(r->code, RC_CHANGED);
  assert_int_equal(r->b2.num, 1);
  assert_int_equal(pr->b.requests, 3);
  raw_post(p, NULL, &b2, NULL, 0, 0, 0, 7);
  pump(pr);
  assert_int_equal(pr->b.requests, 4); /* ambiguous: the handler */
  r = &p->recs[p->nrec - 1];
  assert_int_equal(r->code, RC_BAD_OPTION); /* its empty body has no block 1 */
}

/* 4.08 for a block out of order, 4.13 with Size1 over the limit. */
static void test_block1_errors(void **state) {
  pair *p = *state;
  p->a.raw = 1;
  p->b.limit = 2048;
  uint8_t buf[1024];
  memset(buf, 1, sizeof buf);
  const uint8_t tok[8] = {7};
  rc_block b0 = {0, 1, 6}, b2 = {2, 1, 6}, b1 = {1, 1, 6}, b3 = {3, 0, 6};
  raw_request(&p->a, RC_PUT, "up", RC_OPT_BLOCK1, &b0, buf, 1024, tok);
  raw_request(&p->a, RC_PUT, "up", RC_OPT_BLOCK1, &b2, buf, 1024, tok);
  pump(p);
  assert_int_equal(p->a.nrec, 2);
  assert_int_equal(p->a.recs[0].code, RC_CONTINUE);
  assert_int_equal(p->a.recs[1].code, RC_REQUEST_ENTITY_INCOMPLETE);
  /* Start again and run over the 2048-byte limit. */
  raw_request(&p->a, RC_PUT, "up", RC_OPT_BLOCK1, &b0, buf, 1024, tok);
  raw_request(&p->a, RC_PUT, "up", RC_OPT_BLOCK1, &b1, buf, 1024, tok);
  b2.more = 1;
  raw_request(&p->a, RC_PUT, "up", RC_OPT_BLOCK1, &b2, buf, 1024, tok);
  pump(p);
  assert_int_equal(p->a.nrec, 5);
  assert_int_equal(p->a.recs[3].code, RC_CONTINUE);
  assert_int_equal(p->a.recs[4].code, RC_REQUEST_ENTITY_TOO_LARGE);
  assert_true(p->a.recs[4].has_size1);
  assert_int_equal(p->a.recs[4].size1, 2048);
  /* A continuation after the refusal has nothing to continue: 4.08. */
  raw_request(&p->a, RC_PUT, "up", RC_OPT_BLOCK1, &b3, buf, 10, tok);
  pump(p);
  assert_int_equal(p->a.recs[5].code, RC_REQUEST_ENTITY_INCOMPLETE);
  assert_int_equal(p->b.requests, 0);
}

/* A streamed upload: the sink gets every byte in order, the handler a
 * last-block message with no payload. */
static void test_block1_sink(void **state) {
  pair *p = *state;
  p->b.use_sink = 1;
  set_bert_max(&p->a, 4096);
  size_t total = 50000;
  uint8_t *body = pat_body(total);
  result res = {0};
  request(p, RC_POST, "up", body, total, &res);
  assert_int_equal(res.status, RC_OK);
  assert_int_equal(res.code, RC_CHANGED);
  assert_int_equal(p->b.sunk, total);
  assert_int_equal(p->b.sink_ends, 1);
  assert_int_equal(p->b.sink_status, RC_OK);
  assert_int_equal(p->b.got_len, 0);
  assert_true(p->b.got_streamed);
  free(body);
  free(res.body);
}

/* An upload handed on block by block (rc_xreq_body_blocks): every block
 * reaches on_request in order with its own payload, the client sends the
 * next only once the handler's 2.31 went out, the last block's answer is
 * the upload's, and the end callback runs once, RC_OK. */
static void test_block1_blocks(void **state) {
  pair *p = *state;
  p->b.use_blocks = 1;
  set_bert_max(&p->a, 2048);
  size_t total = 10000;
  uint8_t *body = pat_body(total);
  result res = {0};
  request(p, RC_PUT, "up", body, total, &res);
  int rounds = 0;
  while (p->b.nheld && rounds++ < 20) {
    /* One block at a time: nothing more arrives while it is held. */
    assert_int_equal(p->b.blocks_seen, rounds);
    rc_xreq *h = p->b.held[0];
    p->b.nheld = 0;
    int last = p->b.blocks_off == total;
    rc_outmsg a = {last ? RC_CHANGED : RC_CONTINUE, NULL, 0, NULL, 0};
    assert_int_equal(p->b.blocks_ends, last);
    assert_int_equal(rc_exchange_respond(h, &a), RC_OK);
    pump(p);
  }
  assert_int_equal(p->b.blocks_seen, 5); /* 2048-byte BERT blocks */
  assert_int_equal(p->b.blocks_off, total);
  assert_int_equal(p->b.blocks_ends, 1);
  assert_int_equal(p->b.blocks_status, RC_OK);
  assert_int_equal(res.calls, 1);
  assert_int_equal(res.status, RC_OK);
  assert_int_equal(res.code, RC_CHANGED);
  free(body);
  free(res.body);
}

/* A block-by-block upload whose client goes quiet: the block TTL ends it
 * (end gets RC_ERR_TIMEOUT), and the held block is still answerable. */
static void test_block1_blocks_expire(void **state) {
  pair *p = *state;
  p->b.use_blocks = 1;
  set_bert_max(&p->a, 1024);
  uint8_t body[3000];
  for (size_t i = 0; i < sizeof body; i++)
    body[i] = pat(i, 0);
  result res = {0};
  request(p, RC_POST, "up", body, sizeof body, &res);
  assert_int_equal(p->b.blocks_seen, 1);
  rc_exchange_handle_expiry(p->b.x, p->now + RC_EXCHANGE_BLOCK_TTL_MS + 1);
  assert_int_equal(p->b.blocks_ends, 1);
  assert_int_equal(p->b.blocks_status, RC_ERR_TIMEOUT);
  rc_outmsg a = {RC_SERVICE_UNAVAILABLE, NULL, 0, NULL, 0};
  assert_int_equal(rc_exchange_respond(p->b.held[0], &a), RC_OK);
  pump(p);
  assert_int_equal(res.calls, 1);
  assert_int_equal(res.code, RC_SERVICE_UNAVAILABLE);
  free(res.body);
}

/* Three block-wise transfers on one connection at once (two downloads of
 * different resources, one upload) stay apart. */
static void test_three_concurrent(void **state) {
  pair *p = *state;
  set_bert_max(&p->a, 2048);
  set_bert_max(&p->b, 2048);
  p->b.body_len = 30000;
  rc_opt o1 = {RC_OPT_URI_PATH, 1, (const uint8_t *)"x"};
  rc_opt o2 = {RC_OPT_URI_PATH, 1, (const uint8_t *)"y"};
  rc_opt o3 = {RC_OPT_URI_PATH, 1, (const uint8_t *)"z"};
  uint8_t *up = pat_body(20000);
  rc_outmsg r1 = {RC_GET, &o1, 1, NULL, 0};
  rc_outmsg r2 = {RC_GET, &o2, 1, NULL, 0};
  rc_outmsg r3 = {RC_PUT, &o3, 1, up, 20000};
  result a = {0}, b = {0}, c = {0};
  assert_int_equal(
      rc_exchange_request(p->a.x, &r1, NULL, p->now, on_response, &a, NULL),
      RC_OK);
  assert_int_equal(
      rc_exchange_request(p->a.x, &r2, NULL, p->now, on_response, &b, NULL),
      RC_OK);
  assert_int_equal(
      rc_exchange_request(p->a.x, &r3, NULL, p->now, on_response, &c, NULL),
      RC_OK);
  pump(p);
  assert_int_equal(a.calls, 1);
  assert_int_equal(b.calls, 1);
  assert_int_equal(c.calls, 1);
  assert_int_equal(a.len, 30000);
  assert_int_equal(b.len, 30000);
  for (size_t i = 0; i < 30000; i++)
    assert_true(a.body[i] == pat(i, 0) && b.body[i] == pat(i, 0));
  assert_int_equal(c.code, RC_CHANGED);
  assert_int_equal(p->b.got_len, 20000);
  assert_memory_equal(p->b.got, up, 20000);
  assert_int_equal(p->b.requests, 3); /* one handler call per transfer */
  free(up);
  free(a.body);
  free(b.body);
  free(c.body);
}

/* The representation changes between blocks (the cache expired and the
 * handler renders something else): the client stops with
 * RC_ERR_BLOCK_CHANGED. */
static void test_etag_change(void **state) {
  pair *p = *state;
  set_bert_max(&p->b, 1024);
  p->b.body_len = 5000;
  rc_opt o = {RC_OPT_URI_PATH, 1, (const uint8_t *)"c"};
  rc_outmsg req = {RC_GET, &o, 1, NULL, 0};
  result res = {0};
  assert_int_equal(
      rc_exchange_request(p->a.x, &req, NULL, p->now, on_response, &res, NULL),
      RC_OK);
  /* Move only the request and the first answer. */
  th_move(p->a.s, p->b.s, p->now, 0, NULL, NULL);
  th_move(p->b.s, p->a.s, p->now, 0, NULL, NULL); /* first block arrives; next asked */
  rc_exchange_handle_expiry(p->b.x, p->now + RC_EXCHANGE_BLOCK_TTL_MS + 1);
  p->b.pattern_shift = 1;
  pump(p);
  assert_int_equal(res.calls, 1);
  assert_int_equal(res.status, RC_ERR_BLOCK_CHANGED);
  free(res.body);
}

/* The answer cache, full, drops the entry used longest ago, also when all
 * expire at once (answers given in one read share its time): it used to
 * drop the first slot on a tie, here the entry just used, whose next
 * block then called the handler again (and a transfer read in one piece
 * could be answered differently from the same requests read one by one). */
static void test_cache_evicts_least_used(void **state) {
  pair *p = *state;
  p->a.raw = 1;
  p->b.body_len = 100;
  const uint8_t tok[8] = {9, 9, 9, 9, 9, 9, 9, 9};
  rc_block first = {0, 0, 0}, second = {1, 0, 0}, third = {2, 0, 0};
  char path[8];
  for (unsigned i = 0; i < RC_EXCHANGE_CACHE_SLOTS; i++) {
    snprintf(path, sizeof path, "k%u", i);
    raw_request(&p->a, RC_GET, path, RC_OPT_BLOCK2, &first, NULL, 0, tok);
  }
  pump(p); /* one read: one time for all */
  assert_int_equal(p->b.requests, RC_EXCHANGE_CACHE_SLOTS);
  raw_request(&p->a, RC_GET, "k0", RC_OPT_BLOCK2, &second, NULL, 0, tok);
  pump(p);
  assert_int_equal(p->b.requests, RC_EXCHANGE_CACHE_SLOTS); /* cached */
  /* a ninth body: k1, used longest ago, makes room, not k0 */
  raw_request(&p->a, RC_GET, "k8", RC_OPT_BLOCK2, &first, NULL, 0, tok);
  pump(p);
  assert_int_equal(p->b.requests, RC_EXCHANGE_CACHE_SLOTS + 1);
  raw_request(&p->a, RC_GET, "k0", RC_OPT_BLOCK2, &third, NULL, 0, tok);
  pump(p);
  assert_int_equal(p->b.requests, RC_EXCHANGE_CACHE_SLOTS + 1);
  raw_request(&p->a, RC_GET, "k1", RC_OPT_BLOCK2, &second, NULL, 0, tok);
  pump(p);
  assert_int_equal(p->b.requests, RC_EXCHANGE_CACHE_SLOTS + 2);
  for (int i = 0; i < p->a.nrec; i++)
    assert_int_equal(p->a.recs[i].code, RC_CONTENT);
}

/* Observe at the exchange: registration answer carries Observe, a
 * notification reaches the same callback, a large notification is
 * completed with requests without Observe, and cancelling sends the
 * deregistering GET with Observe=1 on the same token. */
/* a registers an observation of b's /obs (10-byte answers). */
static uint64_t register_obs(pair *p, result *res) {
  p->b.body_len = 10;
  rc_opt o = {RC_OPT_URI_PATH, 3, (const uint8_t *)"obs"};
  rc_outmsg req = {RC_GET, &o, 1, NULL, 0};
  rc_exchange_req_opts xo = {0};
  xo.observe = 1;
  uint64_t id;
  assert_int_equal(
      rc_exchange_request(p->a.x, &req, &xo, p->now, on_response, res, &id),
      RC_OK);
  pump(p);
  return id;
}

static void test_observe(void **state) {
  pair *p = *state;
  result res = {0};
  uint64_t id = register_obs(p, &res);
  assert_int_equal(p->b.obs_regs, 1);
  assert_int_equal(res.calls, 1);
  assert_true(res.has_obs);
  assert_int_equal(res.len, 10);
  /* No timeout for a registered observation. */
  assert_int_equal(rc_exchange_expiry(p->a.x), RC_TIME_NEVER);
  uint8_t small[4] = {1, 2, 3, 4};
  rc_outmsg n1 = {RC_CONTENT, NULL, 0, small, 4};
  assert_int_equal(rc_exchange_notify(p->b.x, p->b.obs_token,
                                      p->b.obs_token_len, p->b.obs_key, 6,
                                      &n1), RC_OK);
  pump(p);
  assert_int_equal(res.calls, 2);
  assert_int_equal(res.len, 4);
  assert_true(res.has_obs);
  /* A notification larger than one BERT message: first block in the
   * notification, the rest fetched without Observe, delivered whole. */
  set_bert_max(&p->b, 2048);
  size_t big = 7000;
  uint8_t *body = pat_body(big);
  p->b.body_len = big; /* what GET renders for the follow-ups */
  rc_outmsg n2 = {RC_CONTENT, NULL, 0, body, big};
  int before = p->b.obs_regs;
  assert_int_equal(rc_exchange_notify(p->b.x, p->b.obs_token,
                                      p->b.obs_token_len, p->b.obs_key, 7,
                                      &n2), RC_OK);
  pump(p);
  assert_int_equal(p->b.obs_regs, before); /* follow-ups without Observe */
  assert_int_equal(res.calls, 3);
  assert_int_equal(res.len, big);
  assert_memory_equal(res.body, body, big);
  assert_true(res.has_obs);
  free(body);
  /* Cancel: GET Observe=1 with the same token; no further callback. */
  assert_int_equal(rc_exchange_cancel_observe(p->a.x, id, p->now), RC_OK);
  pump(p);
  assert_int_equal(p->b.obs_deregs, 1);
  assert_int_equal(res.calls, 3);
  assert_int_equal(rc_exchange_outstanding(p->a.x), 0);
  free(res.body);
}

/* RFC 8323 §5.5: no notification on a connection once a Release went
 * either way; the registration itself stays answered. */
static void observe_then_release(pair *p, peer *releaser) {
  result res = {0};
  register_obs(p, &res);
  assert_int_equal(res.calls, 1);
  uint8_t small[4] = {1, 2, 3, 4};
  rc_outmsg n = {RC_CONTENT, NULL, 0, small, 4};
  assert_int_equal(rc_exchange_notify(p->b.x, p->b.obs_token,
                                      p->b.obs_token_len, p->b.obs_key, 2, &n),
                   RC_OK);
  pump(p);
  assert_int_equal(res.calls, 2);
  assert_int_equal(rc_session_release(releaser->s, NULL, 0,
                                      RC_SESSION_NO_HOLD_OFF, "bye", p->now),
                   RC_OK);
  pump(p);
  assert_int_equal(rc_session_get_state(p->b.s), RC_SESSION_RELEASING);
  assert_int_equal(rc_exchange_notify(p->b.x, p->b.obs_token,
                                      p->b.obs_token_len, p->b.obs_key, 3, &n),
                   RC_ERR_STATE);
  pump(p);
  assert_int_equal(res.calls, 2);
  /* The observation is still registered with res, which is on this
   * stack: end it here, not in teardown after res is gone (ASan). */
  rc_exchange_fail_all(p->a.x, RC_ERR_CLOSED);
  assert_int_equal(res.calls, 3);
  free(res.body);
}

static void test_no_notify_after_our_release(void **state) {
  pair *p = *state;
  observe_then_release(p, &p->b);
}

static void test_no_notify_after_peer_release(void **state) {
  pair *p = *state;
  observe_then_release(p, &p->a);
}

/* Captures: a handler's answer copied, not sent, buffers reused. */
static void test_capture(void **state) {
  pair *p = *state;
  rc_xcapture *c;
  assert_int_equal(rc_xcapture_new(&c, NULL), RC_OK);
  p->b.body_len = 3;
  rc_msg m;
  memset(&m, 0, sizeof m);
  m.code = RC_GET;
  rc_xreq *r = rc_xcapture_begin(c, p->b.x, &m);
  assert_int_equal(rc_xreq_defer(r), RC_ERR_STATE);
  on_request(&p->b, p->b.x, r);
  const rc_outmsg *out = rc_xcapture_result(c);
  assert_non_null(out);
  assert_int_equal(out->code, RC_CONTENT);
  assert_int_equal(out->payload_len, 3);
  const uint8_t *d;
  size_t len;
  assert_int_equal(rc_session_pending(p->b.s, &d, &len), RC_ERR_NEED_MORE);
  rc_xcapture_free(c);
}

/* Regression (fuzz_xclient): a GET whose options came close to the peer's
 * Max-Message-Size went "block-wise" with an empty body (Block1 0/0 and
 * offset arithmetic on a NULL payload); a request without a body goes as
 * it is, and one that cannot fit at all is refused. */
static void test_no_block1_without_body(void **state) {
  pair *p = *state;
  p->b.raw = 1;
  static uint8_t longpath[1200];
  memset(longpath, 'p', sizeof longpath);
  /* 1100 bytes of Uri-Path: a 1115-byte message, under 1152. */
  rc_opt o = {RC_OPT_URI_PATH, 1100, longpath};
  rc_outmsg req = {RC_GET, &o, 1, NULL, 0};
  result res = {0};
  uint64_t id;
  assert_int_equal(
      rc_exchange_request(p->a.x, &req, NULL, p->now, on_response, &res, &id),
      RC_OK);
  pump(p);
  assert_int_equal(p->b.nrec, 1);
  assert_int_equal(p->b.recs[0].code, RC_GET);
  assert_false(p->b.recs[0].has_b1);
  assert_false(p->b.recs[0].has_tag);
  o.len = sizeof longpath; /* 1215 bytes: cannot go at all */
  assert_int_equal(
      rc_exchange_request(p->a.x, &req, NULL, p->now, on_response, &res, NULL),
      RC_ERR_PEER_TOO_LARGE);
  pump(p);
  assert_int_equal(p->b.nrec, 1);
  assert_int_equal(res.calls, 0);
  /* res lives on this stack: the unanswered GET must not outlive it */
  assert_int_equal(rc_exchange_cancel(p->a.x, id), RC_OK);
}

/* ---- limits: the shared body budget, uploads and unanswered requests --- */

static void test_budget_counts(void **state) {
  (void)state;
  rc_budget *b;
  assert_int_equal(rc_budget_new(&b, 100, NULL), RC_OK);
  assert_int_equal(rc_budget_take(b, 60), RC_OK);
  /* 101 > 100: nothing taken */
  assert_int_equal(rc_budget_take(b, 41), RC_ERR_LIMIT);
  assert_int_equal(rc_budget_used(b), 60);
  assert_int_equal(rc_budget_take(b, 40), RC_OK);
  rc_budget_give(b, 70);
  assert_int_equal(rc_budget_used(b), 30);
  assert_int_equal(rc_budget_peak(b), 100);
  assert_int_equal(rc_budget_refusals(b), 1);
  assert_int_equal(rc_budget_take(b, SIZE_MAX),
                   RC_ERR_LIMIT); /* no wrap-around */
  rc_budget_free(b);
  /* NULL: unlimited */
  assert_int_equal(rc_budget_take(NULL, SIZE_MAX), RC_OK);
  assert_int_equal(rc_budget_limit(NULL), SIZE_MAX);
}

/* Sends blocks [from, to) of 1024 pattern bytes of an upload to path. */
static void raw_blocks(peer *p, const char *path, uint8_t tok, uint32_t from,
                       uint32_t to, int last) {
  uint8_t buf[1024];
  const uint8_t t[8] = {tok};
  for (uint32_t n = from; n < to; n++) {
    for (size_t i = 0; i < sizeof buf; i++)
      buf[i] = pat(n * 1024u + i, 0);
    rc_block b = {n, !(last && n + 1 == to), 6};
    raw_request(p, RC_PUT, path, RC_OPT_BLOCK1, &b, buf, sizeof buf, t);
  }
}

/* Two uploads share an 8 KiB budget: while one holds it, the other is
 * told to come back later (5.03 + Max-Age); a body that could never fit
 * gets 4.13 with the budget in Size1; finished or refused uploads give
 * their memory back. */
static void test_budget_uploads(void **state) {
  pair *p = *state;
  rc_budget *bud;
  assert_int_equal(rc_budget_new(&bud, 8192, NULL), RC_OK);
  assert_int_equal(rc_exchange_set_budget(p->b.x, bud), RC_OK);
  p->a.raw = 1;
  raw_blocks(&p->a, "u1", 1, 0, 4, 0);  /* u1 holds 4 KiB */
  raw_blocks(&p->a, "u2", 2, 0, 2, 0);  /* u2 holds 4 KiB: budget full */
  raw_blocks(&p->a, "u1", 1, 4, 5, 0);  /* u1 needs 5 KiB: refused */
  pump(p);
  assert_int_equal(p->a.nrec, 7);
  for (int i = 0; i < 6; i++)
    assert_int_equal(p->a.recs[i].code, RC_CONTINUE);
  assert_int_equal(p->a.recs[6].code, RC_SERVICE_UNAVAILABLE);
  assert_true(p->a.recs[6].has_max_age);
  assert_int_equal(p->a.recs[6].max_age, RC_EXCHANGE_RETRY_AFTER_S);
  assert_int_equal(rc_budget_used(bud), 4096); /* u1 gave its 4 KiB back */
  /* u2 grows into what u1 left and completes: everything given back. */
  raw_blocks(&p->a, "u2", 2, 2, 8, 1);
  pump(p);
  assert_int_equal(p->a.recs[12].code, RC_CHANGED);
  assert_int_equal(p->b.got_len, 8192);
  for (size_t i = 0; i < 8192; i++)
    assert_int_equal(p->b.got[i], pat(i, 0));
  assert_int_equal(rc_budget_used(bud), 0);
  assert_int_equal(rc_budget_peak(bud), 8192);
  /* Nine blocks can never fit in 8 KiB: 4.13 with Size1 8192. */
  raw_blocks(&p->a, "u3", 3, 0, 9, 0);
  pump(p);
  rec *last = &p->a.recs[p->a.nrec - 1];
  assert_int_equal(last->code, RC_REQUEST_ENTITY_TOO_LARGE);
  assert_true(last->has_size1);
  assert_int_equal(last->size1, 8192);
  assert_int_equal(rc_budget_used(bud), 0);
  /* The budget cannot change while memory is held. */
  raw_blocks(&p->a, "u4", 4, 0, 1, 0);
  pump(p);
  assert_int_equal(rc_exchange_set_budget(p->b.x, NULL), RC_ERR_STATE);
  rc_exchange_free(p->b.x); /* frees u4: its memory goes back */
  p->b.x = NULL;
  assert_int_equal(rc_budget_used(bud), 0);
  rc_budget_free(bud);
}

/* GETs a 30000-byte body in 2048-byte BERT blocks from b; returns how
 * many times b's handler ran for it. */
static int get_big(pair *p) {
  set_bert_max(&p->a, 2048);
  set_bert_max(&p->b, 2048);
  p->b.body_len = 30000;
  int before = p->b.requests;
  result res = {0};
  request(p, RC_GET, "big", NULL, 0, &res);
  assert_int_equal(res.calls, 1);
  assert_int_equal(res.len, 30000);
  for (size_t i = 0; i < 30000; i++)
    assert_int_equal(res.body[i], pat(i, 0));
  free(res.body);
  return p->b.requests - before;
}

/* The body cache takes from the budget and gives back when the last block
 * is out; a body the budget cannot hold is not cached: the handler renders
 * it again for each block, and the client still gets it whole. */
static void test_budget_cache(void **state) {
  pair *p = *state;
  rc_budget *roomy, *tight;
  assert_int_equal(rc_budget_new(&roomy, 64 * 1024, NULL), RC_OK);
  assert_int_equal(rc_budget_new(&tight, 1000, NULL), RC_OK);
  assert_int_equal(rc_exchange_set_budget(p->b.x, roomy), RC_OK);
  assert_int_equal(get_big(p), 1);
  assert_true(rc_budget_peak(roomy) >= 30000);
  assert_int_equal(rc_budget_used(roomy), 0);
  assert_int_equal(rc_exchange_set_budget(p->b.x, tight), RC_OK);
  assert_int_equal(get_big(p), (30000 + 2047) / 2048);
  assert_true(rc_budget_refusals(tight) > 0);
  assert_int_equal(rc_budget_used(tight), 0);
  rc_exchange_free(p->b.x);
  p->b.x = NULL;
  rc_budget_free(roomy);
  rc_budget_free(tight);
}

/* uploads_max: the third concurrent upload is refused for now. */
static void test_uploads_max(void **state) {
  pair *p = *state;
  rc_exchange_block_config c;
  rc_exchange_block_config_default(&c);
  c.uploads_max = 2;
  assert_int_equal(rc_exchange_set_block_config(p->b.x, &c), RC_OK);
  c.uploads_max = 0;
  assert_int_equal(rc_exchange_set_block_config(p->b.x, &c), RC_ERR_INVAL);
  p->a.raw = 1;
  raw_blocks(&p->a, "u1", 1, 0, 1, 0);
  raw_blocks(&p->a, "u2", 2, 0, 1, 0);
  raw_blocks(&p->a, "u3", 3, 0, 1, 0);
  pump(p);
  assert_int_equal(p->a.nrec, 3);
  assert_int_equal(p->a.recs[0].code, RC_CONTINUE);
  assert_int_equal(p->a.recs[1].code, RC_CONTINUE);
  assert_int_equal(p->a.recs[2].code, RC_SERVICE_UNAVAILABLE);
  assert_true(p->a.recs[2].has_max_age);
  /* u1 finishes: a new upload fits again. */
  raw_blocks(&p->a, "u1", 1, 1, 2, 1);
  raw_blocks(&p->a, "u3", 3, 0, 1, 0);
  pump(p);
  assert_int_equal(p->a.recs[3].code, RC_CHANGED);
  assert_int_equal(p->a.recs[4].code, RC_CONTINUE);
}

static rc_err set_unrequested(peer *p, size_t max) {
  rc_exchange_block_config c;
  rc_exchange_block_config_default(&c);
  c.unrequested_max = max;
  return rc_exchange_set_block_config(p->x, &c);
}

/* unrequested_max: a client that names no block size gets bodies over the
 * cap block-wise from block 0, in blocks no larger than the cap and never
 * BERT (the peer offers BERT here); bodies within it come whole; a client
 * naming its own block size is served as it asks. */
static void test_unrequested_max(void **state) {
  pair *p = *state;
  assert_int_equal(set_unrequested(&p->b, 15), RC_ERR_INVAL);
  /* Between two block sizes: blocks of 512. */
  assert_int_equal(set_unrequested(&p->b, 1000), RC_OK);
  p->a.raw = 1;
  const uint8_t tok[8] = {9, 9, 9, 9, 9, 9, 9, 9};
  p->b.body_len = 5000;
  raw_request(&p->a, RC_GET, "big", 0, NULL, NULL, 0, tok);
  pump(p);
  rec *r = &p->a.recs[0];
  assert_block2(r, 0, 1, 5, 512);
  assert_true(r->has_size2);
  assert_int_equal(r->size2, 5000);
  /* The client goes on with that size and gets it. */
  rc_block b1 = {1, 0, 5};
  raw_request(&p->a, RC_GET, "big", RC_OPT_BLOCK2, &b1, NULL, 0, tok);
  pump(p);
  assert_int_equal(p->a.recs[1].payload_len, 512);
  assert_int_equal(p->a.recs[1].b2.num, 1);
  /* A client asking for BERT from the start gets BERT: all 5000 bytes in
   * one message, past the cap (it asked). */
  rc_block bert0 = {0, 0, RC_BLOCK_SZX_BERT};
  raw_request(&p->a, RC_GET, "big", RC_OPT_BLOCK2, &bert0, NULL, 0, tok);
  pump(p);
  assert_int_equal(p->a.recs[2].b2.szx, RC_BLOCK_SZX_BERT);
  assert_int_equal(p->a.recs[2].b2.more, 0);
  assert_int_equal(p->a.recs[2].payload_len, 5000);
  /* Within the cap: whole, no Block2. */
  p->b.body_len = 1000;
  const uint8_t tok2[8] = {8, 8, 8, 8, 8, 8, 8, 8};
  raw_request(&p->a, RC_GET, "small", 0, NULL, NULL, 0, tok2);
  pump(p);
  r = &p->a.recs[3];
  assert_int_equal(r->code, RC_CONTENT);
  assert_false(r->has_b2);
  assert_int_equal(r->payload_len, 1000);
}

/* unanswered_max: while two requests wait for deferred answers, a third
 * is answered 5.03 without reaching the handler; after one answer it
 * gets through again. */
static void test_unanswered_max(void **state) {
  pair *p = *state;
  rc_exchange_set_unanswered_max(p->b.x, 2);
  p->b.defer = 1;
  p->a.raw = 1;
  for (uint8_t t = 1; t <= 3; t++) {
    const uint8_t tok[8] = {t};
    raw_request(&p->a, RC_GET, "slow", 0, NULL, NULL, 0, tok);
  }
  pump(p);
  assert_int_equal(p->b.requests, 2);
  assert_int_equal(rc_exchange_unanswered(p->b.x), 2);
  assert_int_equal(p->a.nrec, 1);
  assert_int_equal(p->a.recs[0].code, RC_SERVICE_UNAVAILABLE);
  assert_int_equal(p->a.recs[0].token[0], 3);
  assert_true(p->a.recs[0].has_max_age);
  rc_outmsg ok = {RC_CONTENT, NULL, 0, NULL, 0};
  assert_int_equal(rc_exchange_respond(p->b.held[0], &ok), RC_OK);
  const uint8_t tok4[8] = {4};
  raw_request(&p->a, RC_GET, "slow", 0, NULL, NULL, 0, tok4);
  pump(p);
  assert_int_equal(p->b.requests, 3);
  assert_int_equal(p->a.nrec, 2);
  assert_int_equal(p->a.recs[1].code, RC_CONTENT);
  assert_int_equal(p->a.recs[1].token[0], 1);
  for (int i = 1; i < p->b.nheld; i++)
    assert_int_equal(rc_exchange_respond(p->b.held[i], &ok), RC_OK);
}

/* ---- windowed Block2 (rc_exchange_req_opts.window) --------------------- */

/* A 64 MiB body streamed from a source into a sink with four Block2
 * requests in flight and 64 KiB BERT blocks: every byte arrives in order,
 * and the client (session and exchange, through the counting allocator)
 * never holds more than the window's blocks of it. */
static void test_window_streamed_bound(void **state) {
  (void)state;
  enum { WINDOW = 4, BLOCK = 64 * 1024 };
  const uint64_t total = 64ull * 1024 * 1024 + 777;
  counting cnt = {0};
  rc_mem mem = {cnt_malloc, cnt_realloc, cnt_free, &cnt};
  pair_client_mem = &mem;
  pair *p = pair_new(1, 1);
  pair_client_mem = NULL;
  set_bert_max(&p->b, BLOCK);
  p->b.src_len = total;
  rc_exchange_req_opts xo = {0};
  xo.window = WINDOW;
  result res = {0};
  size_t base = cnt.bytes;
  cnt.peak = base;
  get_big_into_sink(p, &xo, &res);
  pump(p);
  assert_int_equal(res.calls, 1);
  assert_int_equal(res.status, RC_OK);
  assert_int_equal(res.code, RC_CONTENT);
  assert_true(p->a.sunk == total);
  assert_int_equal(p->a.sink_ends, 1);
  /* one request per block, none past the end (Size2 told where it is) */
  assert_int_equal(p->b.requests, (int)((total + BLOCK - 1) / BLOCK));
  size_t peak = cnt.peak - base;
  fprintf(stderr, "  window %d, %d-byte blocks: client peak +%zu bytes\n",
          WINDOW, BLOCK, peak);
  assert_true(peak <= (size_t)WINDOW * (BLOCK + 1024));
  free(res.body);
  teardown((void **)&p);
  assert_int_equal(cnt.bytes, 0);
}

/* Sends a 2.05 from raw peer p on token with Block2 b (SZX 6), Size2 and
 * len pattern bytes of the body from the block's offset. */
static void raw_block(peer *p, const uint8_t *token, const rc_block *b,
                      uint32_t size2, size_t len) {
  uint8_t body[1024];
  uint64_t off = rc_block_offset(b);
  for (size_t i = 0; i < len; i++)
    body[i] = pat((size_t)(off + i), 0);
  rc_enc e;
  assert_int_equal(rc_session_msg_begin(p->s, &e, RC_CONTENT, token, 8,
                                        len + 64),
                   RC_OK);
  uint8_t v[4];
  rc_enc_opt(&e, RC_OPT_BLOCK2, v, rc_block_encode(b, v));
  rc_enc_opt(&e, RC_OPT_SIZE2, v, rc_opt_uint_encode(size2, v));
  rc_enc_payload(&e, body, len);
  assert_int_equal(rc_session_msg_end(p->s, &e), RC_OK);
}

/* Blocks answered out of order: the lanes ask for blocks 1-3 on three new
 * tokens, 3 and 2 are held until 1 comes (no block past the window is
 * asked for meanwhile), and the sink still gets the body in order; block
 * 4, the last, ends it. */
static void test_window_out_of_order(void **state) {
  pair *p = *state;
  p->b.raw = 1;
  const uint32_t total = 4 * 1024 + 904;
  rc_exchange_req_opts xo = {0};
  xo.window = 3;
  xo.no_bert = 1;
  result res = {0};
  get_big_into_sink(p, &xo, &res);
  pump(p);
  assert_int_equal(p->b.nrec, 1);
  rc_block b0 = {0, 1, 6};
  raw_block(&p->b, p->b.recs[0].token, &b0, total, 1024);
  pump(p);
  assert_int_equal(p->b.nrec, 4);
  for (int i = 1; i <= 3; i++) {
    assert_true(p->b.recs[i].has_b2);
    assert_int_equal(p->b.recs[i].b2.num, (uint32_t)i);
    assert_int_equal(p->b.recs[i].b2.szx, 6);
    for (int j = 0; j < i; j++) /* a token of its own */
      assert_memory_not_equal(p->b.recs[i].token, p->b.recs[j].token, 8);
  }
  rc_block b3 = {3, 1, 6}, b2 = {2, 1, 6}, b1 = {1, 1, 6};
  raw_block(&p->b, p->b.recs[3].token, &b3, total, 1024);
  raw_block(&p->b, p->b.recs[2].token, &b2, total, 1024);
  pump(p);
  assert_int_equal(p->a.sunk, 1024); /* 2 and 3 held */
  /* nothing more is asked for: block 4 is past the window (1..3) while
   * block 1 is missing */
  assert_int_equal(p->b.nrec, 4);
  raw_block(&p->b, p->b.recs[1].token, &b1, total, 1024);
  pump(p);
  assert_int_equal(p->a.sunk, 4096); /* 1, then the held 2 and 3 */
  /* block 4, the last; a second lane would be past Size2 */
  assert_int_equal(p->b.nrec, 5);
  assert_int_equal(p->b.recs[4].b2.num, 4);
  assert_int_equal(res.calls, 0);
  rc_block b4 = {4, 0, 6};
  raw_block(&p->b, p->b.recs[4].token, &b4, total, 904);
  pump(p);
  assert_int_equal(res.calls, 1);
  assert_int_equal(res.status, RC_OK);
  assert_int_equal(p->a.sunk, total);
  assert_int_equal(p->a.sink_ends, 1);
  assert_int_equal(p->a.sink_status, RC_OK);
  free(res.body);
}

/* A lane whose block never comes times the transfer out; the other lanes'
 * requests are forgotten with it (their late answers are dropped). */
static void test_window_lane_timeout(void **state) {
  pair *p = *state;
  p->b.raw = 1;
  rc_exchange_req_opts xo = {0};
  xo.window = 2;
  xo.no_bert = 1;
  xo.timeout_ms = 500;
  result res = {0};
  get_big_into_sink(p, &xo, &res);
  pump(p);
  rc_block b0 = {0, 1, 6};
  raw_block(&p->b, p->b.recs[0].token, &b0, 8192, 1024);
  pump(p);
  assert_int_equal(p->b.nrec, 3);
  rc_block b2 = {2, 1, 6};
  raw_block(&p->b, p->b.recs[2].token, &b2, 8192, 1024);
  pump(p);
  assert_int_equal(p->b.nrec, 3); /* held: block 3 is past the window */
  p->now += 501;
  rc_exchange_handle_expiry(p->a.x, p->now);
  assert_int_equal(res.calls, 1);
  assert_int_equal(res.status, RC_ERR_TIMEOUT);
  assert_int_equal(p->a.sink_ends, 1);
  assert_int_equal(p->a.sink_status, RC_ERR_TIMEOUT);
  /* a late block on a forgotten lane changes nothing */
  rc_block b1 = {1, 1, 6};
  raw_block(&p->b, p->b.recs[1].token, &b1, 8192, 1024);
  pump(p);
  assert_int_equal(res.calls, 1);
  assert_int_equal(p->a.sunk, 1024);
  free(res.body);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_no_block1_without_body,
                                      setup_small, teardown),
      cmocka_unit_test(test_budget_counts),
      cmocka_unit_test_setup_teardown(test_budget_uploads, setup, teardown),
      cmocka_unit_test_setup_teardown(test_budget_cache, setup, teardown),
      cmocka_unit_test_setup_teardown(test_uploads_max, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unrequested_max, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unanswered_max, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bert_get_server_vector, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_bert_get_client_vector, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_bert_put_server_vector, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_bert_put_client, setup, teardown),
      cmocka_unit_test_setup_teardown(test_plain_blocks_both_ways,
                                      setup_nobert, teardown),
      cmocka_unit_test(test_window_streamed_bound),
      cmocka_unit_test_setup_teardown(test_window_out_of_order, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_window_lane_timeout, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_small_blocks_into_sink, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_post_block1_then_block2,
                                      setup_small, teardown),
      cmocka_unit_test_setup_teardown(test_post_continuation_server,
                                      setup_small, teardown),
      cmocka_unit_test_setup_teardown(test_block1_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_block1_sink, setup, teardown),
      cmocka_unit_test_setup_teardown(test_block1_blocks, setup, teardown),
      cmocka_unit_test_setup_teardown(test_block1_blocks_expire, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_three_concurrent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_etag_change, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cache_evicts_least_used, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_observe, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_notify_after_our_release, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_no_notify_after_peer_release, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_capture, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
