/*
 * Session tests for Max-Message-Size (RFC 8323 §5.3.1) both ways, the
 * output buffer (NOBUF retry, back-pressure, stable pending bytes), two
 * sessions wired back to back, and allocation failure at every
 * allocation of a session's life.
 */
#include "test_session_harness.h"

static size_t mk_post(uint8_t *b, size_t cap, uint8_t code, uint8_t tok,
                      size_t plen) {
  uint8_t *p = calloc(1, plen);
  size_t n = h_mk(b, cap, RC_FRAMING_TCP, code, &tok, 1, NULL, 0, p, plen);
  free(p);
  return n;
}

/* An oversize request gets 4.13 with its token and Size1, is never
 * buffered, and the next request works; also split one byte at a time. */
static void oversize_request_413(void **state) {
  (void)state;
  size_t cap = 8192;
  uint8_t *b = malloc(cap);
  size_t n = mk_post(b, cap, RC_POST, 0x77, 3000);
  static const uint8_t get[] = {0x01, 0x01, 0x42};
  memcpy(b + n, get, sizeof(get));
  n += sizeof(get);
  for (int bytewise = 0; bytewise < 2; bytewise++) {
    harness hh, *h = &hh;
    h_init_cfg(h, RC_FRAMING_TCP, RC_SESSION_SERVER);
    h->cfg.max_msg_size = 1152;
    h_start(h, 0);
    h_handshake(h, 1);
    if (bytewise) {
      for (size_t i = 0; i < n; i++)
        assert_int_equal(h_feed(h, b + i, 1, 2), RC_OK);
    } else {
      assert_int_equal(h_feed(h, b, n, 2), RC_OK);
    }
    assert_int_equal(h->n_closed, 0);
    assert_int_equal(h->n_msg, 1); /* only the GET */
    assert_int_equal(h->codes[0], RC_GET);
    rc_msg m;
    assert_int_equal(h_out_count(h), 2);
    h_out_msg(h, 1, &m);
    assert_int_equal(m.code, RC_REQUEST_ENTITY_TOO_LARGE);
    assert_int_equal(m.token_len, 1);
    assert_int_equal(m.token[0], 0x77);
    uint32_t v;
    assert_true(h_opt_uint(&m, RC_OPT_SIZE1, &v));
    assert_int_equal(v, 1152 - 128);
    rc_session_free(h->s);
    free(h->out);
  }
  free(b);
}

/* Feeds frame b[0..n) to h in two pieces, so it is reassembled (a frame
 * that arrives whole is parsed where it lies and never buffered). */
static void feed_split(harness *h, const uint8_t *b, size_t n, size_t first) {
  assert_int_equal(h_feed(h, b, first, 2), RC_OK);
  assert_int_equal(h_feed(h, b + first, n - first, 2), RC_OK);
}

/* Large messages arriving in pieces share one rx_budget: while one
 * connection holds most of it, another's request gets 5.03 with Max-Age
 * (skipped unbuffered; the next request works), a request larger than the
 * whole budget 4.13 with Size1; finished messages give their bytes back. */
static void rx_budget_shared(void **state) {
  (void)state;
  rc_budget *bud;
  assert_int_equal(rc_budget_new(&bud, 200 * 1024, NULL), RC_OK);
  harness h1, h2;
  harness *hs[2] = {&h1, &h2};
  for (int i = 0; i < 2; i++) {
    h_init_cfg(hs[i], RC_FRAMING_TCP, RC_SESSION_SERVER);
    hs[i]->cfg.rx_budget = bud;
    h_start(hs[i], 0);
    h_handshake(hs[i], 1);
  }
  size_t cap = 400 * 1024;
  uint8_t *big = malloc(cap), *mid = malloc(cap), *huge = malloc(cap);
  size_t nbig = mk_post(big, cap, RC_POST, 1, 150 * 1024);
  size_t nmid = mk_post(mid, cap, RC_POST, 2, 100 * 1024);
  size_t nhuge = mk_post(huge, cap, RC_POST, 4, 300 * 1024);
  static const uint8_t get[] = {0x01, 0x01, 0x03};

  /* h1: the first 1000 bytes of 150 KiB: the whole frame is reserved */
  assert_int_equal(h_feed(&h1, big, 1000, 2), RC_OK);
  assert_int_equal(rc_budget_used(bud), nbig);
  /* h2: 100 KiB does not fit next to it: 5.03, skipped, GET still works */
  feed_split(&h2, mid, nmid, 1);
  assert_int_equal(h_feed(&h2, get, sizeof get, 2), RC_OK);
  assert_int_equal(h2.n_closed, 0);
  assert_int_equal(h2.n_msg, 1);
  assert_int_equal(h2.codes[0], RC_GET);
  rc_msg m;
  assert_int_equal(h_out_count(&h2), 2); /* CSM, 5.03 */
  h_out_msg(&h2, 1, &m);
  assert_int_equal(m.code, RC_SERVICE_UNAVAILABLE);
  assert_int_equal(m.token[0], 2);
  uint32_t v;
  assert_true(h_opt_uint(&m, RC_OPT_MAX_AGE, &v));
  assert_int_equal(v, RC_SESSION_RETRY_AFTER_S);
  /* h2: 300 KiB can never fit in 200 KiB: 4.13 with Size1 */
  feed_split(&h2, huge, nhuge, 3);
  assert_int_equal(h_out_count(&h2), 3);
  h_out_msg(&h2, 2, &m);
  assert_int_equal(m.code, RC_REQUEST_ENTITY_TOO_LARGE);
  assert_true(h_opt_uint(&m, RC_OPT_SIZE1, &v));
  assert_int_equal(v, 200 * 1024 - 128);
  assert_int_equal(rc_budget_used(bud), nbig);
  /* h1 completes: delivered, its bytes given back; then h2's 100 KiB fits */
  assert_int_equal(h_feed(&h1, big + 1000, nbig - 1000, 2), RC_OK);
  assert_int_equal(h1.n_msg, 1);
  assert_int_equal(h1.last_payload_len, 150 * 1024);
  assert_int_equal(rc_budget_used(bud), 0);
  feed_split(&h2, mid, nmid, 1);
  assert_int_equal(h2.n_msg, 2);
  assert_int_equal(h2.last_payload_len, 100 * 1024);
  /* A message cut short by the end of the session gives its bytes back. */
  assert_int_equal(h_feed(&h1, mid, 10, 2), RC_OK);
  assert_int_equal(rc_budget_used(bud), nmid);
  rc_session_close(h1.s, RC_ERR_CLOSED);
  assert_int_equal(rc_budget_used(bud), 0);
  for (int i = 0; i < 2; i++) {
    rc_session_free(hs[i]->s);
    free(hs[i]->out);
  }
  rc_budget_free(bud); /* after the sessions: nothing touches it later */
  free(big);
  free(mid);
  free(huge);
}

/* An oversize response (or signal) -> Abort. */
static void oversize_response_aborts(void **state) {
  (void)state;
  size_t cap = 8192;
  uint8_t *b = malloc(cap);
  size_t n = mk_post(b, cap, RC_CONTENT, 0x55, 2000);
  harness hh, *h = &hh;
  h_init_cfg(h, RC_FRAMING_TCP, RC_SESSION_CLIENT);
  h->cfg.max_msg_size = 1152;
  h_start(h, 0);
  h_handshake(h, 1);
  assert_int_equal(h_feed(h, b, n, 2), RC_OK);
  assert_int_equal(h->n_msg, 0);
  assert_int_equal(h->closed_reason, RC_ERR_PROTOCOL);
  assert_int_equal(h_last_out_code(h), RC_SIG_ABORT);
  rc_session_free(h->s);
  free(h->out);

  /* WS mode: same rules for a whole message */
  h_init_cfg(h, RC_FRAMING_WS, RC_SESSION_SERVER);
  h->cfg.max_msg_size = 1152;
  h_start(h, 0);
  h_handshake(h, 1);
  uint8_t *p = calloc(1, 2000);
  uint8_t tok = 9;
  n = h_mk(b, cap, RC_FRAMING_WS, RC_PUT, &tok, 1, NULL, 0, p, 2000);
  assert_int_equal(h_feed(h, b, n, 2), RC_OK);
  assert_int_equal(h_last_out_code(h), RC_REQUEST_ENTITY_TOO_LARGE);
  n = h_mk(b, cap, RC_FRAMING_WS, RC_CONTENT, &tok, 1, NULL, 0, p, 2000);
  assert_int_equal(h_feed(h, b, n, 2), RC_OK);
  assert_int_equal(h_last_out_code(h), RC_SIG_ABORT);
  free(p);
  rc_session_free(h->s);
  free(h->out);
  free(b);
}

/* A message larger than the peer allows is refused and not queued. */
static void outbound_peer_limit(void **state) {
  (void)state;
  harness *h = h_new(RC_FRAMING_TCP, RC_SESSION_CLIENT, 0);
  uint8_t b[32];
  size_t n = h_peer_csm(b, sizeof(b), RC_FRAMING_TCP, 1200, 0);
  h_feed(h, b, n, 1);
  static uint8_t pay[1300];
  rc_enc e;
  /* exactly 1200 bytes: 1 + 2 ext + 1 code + 1 token + 1 marker + 1194 */
  assert_int_equal(rc_session_msg_begin(h->s, &e, RC_PUT, (uint8_t *)"t", 1,
                                        1194),
                   RC_OK);
  rc_enc_payload(&e, pay, 1194);
  assert_int_equal(rc_session_msg_end(h->s, &e), RC_OK);
  assert_int_equal(rc_session_msg_begin(h->s, &e, RC_PUT, (uint8_t *)"t", 1,
                                        1195),
                   RC_OK);
  rc_enc_payload(&e, pay, 1195);
  assert_int_equal(rc_session_msg_end(h->s, &e), RC_ERR_PEER_TOO_LARGE);
  assert_int_equal(h_out_count(h), 2);
  /* rc_session_send obeys it too */
  rc_msg m = {0};
  m.code = RC_PUT;
  m.payload = pay;
  m.payload_len = 1250;
  assert_int_equal(rc_session_send(h->s, &m), RC_ERR_PEER_TOO_LARGE);
  m.payload_len = 100;
  assert_int_equal(rc_session_send(h->s, &m), RC_OK);
  m.code = RC_SIG_PING;
  assert_int_equal(rc_session_send(h->s, &m), RC_ERR_BAD_CODE);
  assert_int_equal(h_out_count(h), 3);
  h_free(h);
}

/* One message two ways: rc_session_send_parts on a, the encoder
 * (msg_begin, rc_enc_opt each, rc_enc_payload, msg_end) on b. Both must
 * give the same status, and the same bytes. Returns the status. */
static rc_err parts_vs_enc(harness *a, harness *b, uint8_t code,
                         const uint8_t *tok, size_t tkl, const rc_opt *opts,
                         size_t nopts, const uint8_t *pay, size_t plen) {
  rc_err ra = rc_session_send_parts(a->s, code, tok, tkl, opts, nopts, pay,
                                    plen);
  rc_enc e;
  size_t hint = plen + 1;
  for (size_t i = 0; i < nopts; i++)
    hint += 5 + opts[i].len;
  rc_err rb = rc_session_msg_begin(b->s, &e, code, tok, tkl, hint);
  if (rb == RC_OK) {
    for (size_t i = 0; i < nopts; i++)
      rc_enc_opt(&e, opts[i].num, opts[i].val, opts[i].len);
    rc_enc_payload(&e, pay, plen);
    rb = rc_session_msg_end(b->s, &e);
  }
  assert_int_equal(ra, rb);
  h_drain(a);
  h_drain(b);
  assert_int_equal(a->out_len, b->out_len);
  assert_memory_equal(a->out, b->out, a->out_len);
  if (ra == RC_OK)
    assert_true(a->out_len > 0);
  a->out_len = b->out_len = 0; /* compared: the next message starts anew */
  a->n_out_msgs = b->n_out_msgs = 0;
  return ra;
}

/* A session that has the peer's CSM (Max-Message-Size mms), its own
 * output drained. */
static harness *csm_done(rc_framing f, rc_session_role role, uint32_t mms) {
  harness *h = h_new(f, role, 0);
  uint8_t csm[32];
  size_t n = h_peer_csm(csm, sizeof csm, f, mms, 0);
  h_feed(h, csm, n, 1);
  h_drain(h);
  h->out_len = 0;
  h->n_out_msgs = 0;
  return h;
}

/* opts and pay as the bytes after a token (deltas and lengths under 269
 * and 13 here), for rc_session_send_tail; returns the length, *olen the
 * options' part. */
static size_t tail_bytes(uint8_t *out, const rc_opt *opts, size_t nopts,
                         const uint8_t *pay, size_t plen, size_t *olen) {
  size_t n = 0;
  uint32_t last = 0;
  for (size_t i = 0; i < nopts; i++) {
    uint32_t d = opts[i].num - last;
    if (d < 13) {
      out[n++] = (uint8_t)(d << 4 | opts[i].len);
    } else {
      out[n++] = (uint8_t)(13u << 4 | opts[i].len);
      out[n++] = (uint8_t)(d - 13);
    }
    memcpy(out + n, opts[i].val, opts[i].len);
    n += opts[i].len;
    last = opts[i].num;
  }
  *olen = n;
  if (plen) {
    out[n++] = 0xFF;
    memcpy(out + n, pay, plen);
    n += plen;
  }
  return n;
}

/* rc_session_send_tail (pre-encoded options and payload) writes the bytes
 * and gives the errors rc_session_send_parts does with the same options
 * and payload: on a stream (its own path) and in message mode (WS, the
 * encoder), every token length, bodies around the Len limits 13, 269 and
 * 65805, the peer's Max-Message-Size. */
static void send_tail_same_bytes(void **state) {
  (void)state;
  static uint8_t pay[70000], tail[70100];
  for (size_t i = 0; i < sizeof pay; i++)
    pay[i] = (uint8_t)(i * 13);
  static const uint8_t tok[12] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2};
  static const uint8_t cf[2] = {0x2d, 0x16}, etag[4] = {1, 2, 3, 4};
  for (int ws = 0; ws < 2; ws++) {
    rc_framing f = ws ? RC_FRAMING_WS : RC_FRAMING_TCP;
    harness *a = csm_done(f, RC_SESSION_SERVER, 66000);
    harness *b = csm_done(f, RC_SESSION_SERVER, 66000);
    rc_opt sets[][3] = {
        {{RC_OPT_CONTENT_FORMAT, 0, cf}},
        {{RC_OPT_CONTENT_FORMAT, 1, cf}},
        {{RC_OPT_ETAG, 4, etag}, {RC_OPT_CONTENT_FORMAT, 2, cf},
         {RC_OPT_SIZE1, 1, cf}},
    };
    static const size_t nsets[] = {1, 1, 3, 0};
    /* with the options above, tails of every length 1-70 (the inline
     * copy's cases, to TAIL_NEAR_MAX and past it) and around the Len
     * limits */
    static const size_t plens[] = {
        0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
        16, 17, 18, 19, 20, 25, 27, 28, 29, 30, 31, 32, 33, 34, 35, 40,
        45, 50, 52, 53, 54, 55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 250,
        262, 263, 1024, 65790, 65795, 65796, 65797, 66100};
    for (size_t k = 0; k < 4; k++)
      for (size_t i = 0; i < sizeof plens / sizeof *plens; i++)
        for (size_t tkl = 0; tkl <= 9; tkl += (i ? 4 : 1)) {
          const rc_opt *o = k < 3 ? sets[k] : NULL;
          size_t plen = plens[i] > sizeof pay ? sizeof pay : plens[i];
          size_t olen;
          size_t n = tail_bytes(tail, o, nsets[k], pay, plen, &olen);
          rc_msg_tail t = {tail, n, olen};
          /* twice: the first into a new chunk, the second where the first
           * ended (rc_session_send_tail's own path for a short tail) */
          for (int twice = 0; twice < 2; twice++) {
            rc_err ra = rc_session_send_tail(a->s, RC_CONTENT, tok, tkl, &t);
            rc_err rb = rc_session_send_parts(b->s, RC_CONTENT, tok, tkl, o,
                                              nsets[k], pay, plen);
            assert_int_equal(ra, rb);
          }
          h_drain(a);
          h_drain(b);
          assert_int_equal(a->out_len, b->out_len);
          assert_memory_equal(a->out, b->out, a->out_len);
          a->out_len = b->out_len = 0;
          a->n_out_msgs = b->n_out_msgs = 0;
        }
    /* not a response or request code: refused alike, nothing queued */
    size_t olen;
    rc_msg_tail t = {tail, tail_bytes(tail, NULL, 0, pay, 3, &olen), 0};
    assert_int_equal(rc_session_send_tail(a->s, RC_SIG_PING, tok, 1, &t),
                     RC_ERR_BAD_CODE);
    h_drain(a);
    assert_int_equal(a->out_len, 0);
    h_free(a);
    h_free(b);
  }
}

/* What a traced session was shown of its output. */
static size_t traced_out;
static uint8_t traced_tok[4][8];
static void count_trace(void *user, int sent, const rc_msg *m) {
  (void)user;
  if (!sent)
    return;
  if (traced_out < 4 && m->token_len <= 8)
    memcpy(traced_tok[traced_out], m->token, m->token_len);
  traced_out++;
}

/* A traced stream sends rc_session_send_tails' messages one by one
 * through the encoder (as rc_session_send_tail does): every one is shown
 * to on_trace (the access log, rcoapd -v), with its token, and the bytes
 * are those of an untraced session. */
static void send_tails_traced(void **state) {
  (void)state;
  static const uint8_t tail[] = {0x60, 0xFF, 'h', 'i'}; /* CF 0, "hi" */
  static const uint8_t t0[] = {1}, t1[] = {2, 3}, t2[] = {4, 5, 6};
  const uint8_t *toks[] = {t0, t1, t2};
  size_t tkls[] = {1, 2, 3};
  harness *a = csm_done(RC_FRAMING_TCP, RC_SESSION_SERVER, 1000);
  harness *b = csm_done(RC_FRAMING_TCP, RC_SESSION_SERVER, 1000);
  rc_session_set_trace(a->s, count_trace);
  traced_out = 0;
  size_t sent = 0;
  assert_int_equal(rc_session_send_tails(a->s, RC_CONTENT, toks, tkls, 3,
                                         tail, 1, sizeof tail, &sent),
                   RC_OK);
  assert_int_equal(sent, 3);
  assert_int_equal(traced_out, 3);
  for (size_t i = 0; i < 3; i++)
    assert_memory_equal(traced_tok[i], toks[i], tkls[i]);
  assert_int_equal(rc_session_send_tails(b->s, RC_CONTENT, toks, tkls, 3,
                                         tail, 1, sizeof tail, &sent),
                   RC_OK);
  h_drain(a);
  h_drain(b);
  assert_int_equal(a->out_len, b->out_len);
  assert_memory_equal(a->out, b->out, a->out_len);
  h_free(a);
  h_free(b);
}

/* rc_session_send_parts writes the bytes the encoder would, on both sides
 * of every limit of its own path (token 0-8 and longer, option deltas
 * 12/13 and 268/269, option values of 12/13 bytes, a body of 12/13,
 * 268/269 and 65804/65805 bytes, the peer's Max-Message-Size) and in
 * message mode (WS), and gives the same errors. */
static void send_parts_same_bytes(void **state) {
  (void)state;
  static uint8_t pay[200000], val[20];
  for (size_t i = 0; i < sizeof pay; i++)
    pay[i] = (uint8_t)(i * 7);
  for (size_t i = 0; i < sizeof val; i++)
    val[i] = (uint8_t)('a' + i);
  static const uint8_t tok[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  for (int ws = 0; ws < 2; ws++) {
    rc_framing f = ws ? RC_FRAMING_WS : RC_FRAMING_TCP;
    harness *a = csm_done(f, RC_SESSION_SERVER, 200000);
    harness *b = csm_done(f, RC_SESSION_SERVER, 200000);
    for (size_t tkl = 0; tkl <= 9; tkl++)
      parts_vs_enc(a, b, RC_CONTENT, tok, tkl, NULL, 0, pay, 27);
    rc_opt o[4];
    static const uint16_t nums[][3] = {
        {12, 0, 0}, {11, 11, 12}, {13, 0, 0},   {14, 0, 0},
        {268, 0, 0}, {269, 0, 0}, {270, 0, 0},  {1000, 0, 0},
        {4, 11, 60}, {11, 12, 282}, {60, 12, 0}};
    static const uint8_t counts[] = {1, 3, 1, 1, 1, 1, 1, 1, 3, 3, 2};
    for (size_t c = 0; c < sizeof counts; c++)
      for (uint32_t len = 0; len <= 14; len += 1) {
        for (size_t i = 0; i < counts[c]; i++)
          o[i] = (rc_opt){nums[c][i], len, val};
        parts_vs_enc(a, b, RC_CONTENT, tok, 2, o, counts[c], pay, 5);
      }
    static const size_t plens[] = {0,   1,   10,  11,    12,    266,  267,
                                   268, 1000, 65800, 65801, 65802, 65803,
                                   65804, 65805, 65900};
    o[0] = (rc_opt){RC_OPT_CONTENT_FORMAT, 0, val};
    for (size_t i = 0; i < sizeof plens / sizeof *plens; i++) {
      parts_vs_enc(a, b, RC_CONTENT, tok, 1, o, 1, pay, plens[i]);
      parts_vs_enc(a, b, RC_CONTENT, tok, 1, NULL, 0, pay, plens[i]);
    }
    /* errors: the same ones, nothing queued */
    o[0] = (rc_opt){12, 0, val};
    o[1] = (rc_opt){11, 1, val};
    parts_vs_enc(a, b, RC_CONTENT, tok, 1, o, 2, pay, 3); /* order */
    parts_vs_enc(a, b, RC_SIG_PING, tok, 1, NULL, 0, NULL, 0);
    parts_vs_enc(a, b, RC_CODE_EMPTY, tok, 1, NULL, 0, NULL, 0);
    parts_vs_enc(a, b, RC_GET, tok, 9, NULL, 0, NULL, 0); /* token */
    parts_vs_enc(a, b, RC_GET, tok, 8, o + 1, 1, NULL, 0);
    assert_int_equal(
        parts_vs_enc(a, b, RC_CONTENT, tok, 1, NULL, 0, pay, 199999),
        RC_ERR_PEER_TOO_LARGE);
    assert_int_equal(parts_vs_enc(a, b, RC_CONTENT, tok, 1, NULL, 0, pay, 70000),
                     RC_OK);
    h_free(a);
    h_free(b);
  }
  /* the peer's Max-Message-Size, exactly and one byte over */
  harness *a = csm_done(RC_FRAMING_TCP, RC_SESSION_CLIENT, 1200);
  harness *b = csm_done(RC_FRAMING_TCP, RC_SESSION_CLIENT, 1200);
  /* 1 + 2 ext + 1 code + 1 token + 1 marker + 1194 = 1200 */
  assert_int_equal(parts_vs_enc(a, b, RC_PUT, tok, 1, NULL, 0, pay, 1194),
                   RC_OK);
  assert_int_equal(parts_vs_enc(a, b, RC_PUT, tok, 1, NULL, 0, pay, 1195),
                   RC_ERR_PEER_TOO_LARGE);
  h_free(a);
  h_free(b);
}

/* rc_session_send_tails: n messages that differ only in their tokens
 * (tokens of 0-8 bytes, and 9 and 12: RFC 8974's extended lengths) with
 * one tail, an option region then 0xFF and the payload, must be exactly
 * the bytes rc_session_send writes for each token in turn, on a stream
 * (one piece) and in message mode (WS, one message each); bodies on both
 * sides of Len 13 and 269; a tail whose marker is missing or has no
 * payload after it is refused with nothing queued. */
static void send_tails_same_bytes(void **state) {
  (void)state;
  static uint8_t tail[400];
  static const uint8_t tok[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const uint8_t *toks[11];
  size_t tkls[11];
  for (size_t i = 0; i < 11; i++) {
    tkls[i] = i < 10 ? i : 12;
    toks[i] = tkls[i] > 9 ? tok : tok + (i % 3); /* neighbours differ */
  }
  /* options: Observe 3 bytes, Content-Format 0 */
  uint8_t opts[] = {0x63, 0x01, 0x02, 0x03, 0x60};
  memcpy(tail, opts, sizeof opts);
  for (int ws = 0; ws < 2; ws++) {
    rc_framing f = ws ? RC_FRAMING_WS : RC_FRAMING_TCP;
    harness *a = csm_done(f, RC_SESSION_SERVER, 200000);
    harness *b = csm_done(f, RC_SESSION_SERVER, 200000);
    static const size_t plens[] = {0, 1, 6, 7, 8, 262, 263, 264, 390};
    for (size_t k = 0; k < sizeof plens / sizeof *plens; k++) {
      size_t tl = sizeof opts + (plens[k] ? 1 + plens[k] : 0);
      if (plens[k]) {
        tail[sizeof opts] = 0xFF;
        for (size_t i = 0; i < plens[k]; i++)
          tail[sizeof opts + 1 + i] = (uint8_t)('a' + i % 26);
      }
      /* tokens of 0-8 bytes in one call (a stream's one piece), then the
       * two extended ones (the general way) */
      size_t sent = 99;
      assert_int_equal(rc_session_send_tails(a->s, RC_CONTENT, toks, tkls, 9,
                                             tail, sizeof opts, tl, &sent),
                       RC_OK);
      assert_int_equal(sent, 9);
      assert_int_equal(rc_session_send_tails(a->s, RC_CONTENT, toks + 9,
                                             tkls + 9, 2, tail, sizeof opts,
                                             tl, &sent),
                       RC_OK);
      assert_int_equal(sent, 2);
      rc_msg m = {.code = RC_CONTENT, .opts = tail, .opts_len = sizeof opts};
      if (plens[k]) {
        m.payload = tail + sizeof opts + 1;
        m.payload_len = plens[k];
      }
      for (size_t i = 0; i < 11; i++) {
        m.token = toks[i];
        m.token_len = (uint32_t)tkls[i];
        assert_int_equal(rc_session_send(b->s, &m), RC_OK);
      }
      h_drain(a);
      h_drain(b);
      assert_int_equal(a->n_out_msgs, b->n_out_msgs);
      assert_int_equal(a->out_len, b->out_len);
      assert_memory_equal(a->out, b->out, a->out_len);
      assert_int_equal(h_out_count(a), 11);
      a->out_len = b->out_len = 0;
      a->n_out_msgs = b->n_out_msgs = 0;
    }
    /* no marker where the options end; a marker with no payload */
    tail[sizeof opts] = 0x11;
    assert_int_equal(rc_session_send_tails(a->s, RC_CONTENT, toks, tkls, 2,
                                           tail, sizeof opts, sizeof opts + 3,
                                           NULL),
                     RC_ERR_INVAL);
    tail[sizeof opts] = 0xFF;
    assert_int_equal(rc_session_send_tails(a->s, RC_CONTENT, toks, tkls, 2,
                                           tail, sizeof opts, sizeof opts + 1,
                                           NULL),
                     RC_ERR_INVAL);
    h_drain(a);
    assert_int_equal(a->out_len, 0);
    h_free(a);
    h_free(b);
  }
}

/* NOBUF: a message larger than the room given is retried with
 * rc_enc_needed(); back-pressure; pending bytes do not move. */
static void output_buffer(void **state) {
  (void)state;
  harness hh, *h = &hh;
  h_init_cfg(h, RC_FRAMING_TCP, RC_SESSION_SERVER);
  h->cfg.out_high_water = 50000;
  h->cfg.out_max = 100000;
  h_start(h, 0);
  h_handshake(h, 1);
  static uint8_t pay[40000];
  memset(pay, 'p', sizeof(pay));
  rc_enc e;
  assert_int_equal(rc_session_msg_begin(h->s, &e, RC_CONTENT, NULL, 0, 0),
                   RC_OK);
  rc_enc_payload(&e, pay, sizeof(pay));
  assert_int_equal(rc_session_msg_end(h->s, &e), RC_ERR_NOBUF);
  size_t need = rc_enc_needed(&e);
  assert_int_equal(rc_session_msg_begin(h->s, &e, RC_CONTENT, NULL, 0, need),
                   RC_OK);
  rc_enc_payload(&e, pay, sizeof(pay));
  assert_int_equal(rc_session_msg_end(h->s, &e), RC_OK);

  const uint8_t *p0;
  size_t l0;
  assert_int_equal(rc_session_pending(h->s, &p0, &l0), RC_OK);
  uint8_t snap[16];
  memcpy(snap, p0, sizeof(snap));
  assert_true(rc_session_want_read(h->s));
  /* more output until want_read turns false, then LIMIT */
  int i;
  for (i = 0; i < 100 && rc_session_want_read(h->s); i++) {
    assert_int_equal(rc_session_msg_begin(h->s, &e, RC_CONTENT, NULL, 0,
                                          1000),
                     RC_OK);
    rc_enc_payload(&e, pay, 1000);
    assert_int_equal(rc_session_msg_end(h->s, &e), RC_OK);
  }
  assert_false(rc_session_want_read(h->s));
  rc_err rc = RC_OK;
  for (i = 0; i < 200 && rc == RC_OK; i++) {
    rc = rc_session_msg_begin(h->s, &e, RC_CONTENT, NULL, 0, 1000);
    if (rc == RC_OK) {
      rc_enc_payload(&e, pay, 1000);
      assert_int_equal(rc_session_msg_end(h->s, &e), RC_OK);
    }
  }
  assert_int_equal(rc, RC_ERR_LIMIT);
  /* the first pending run has not moved */
  const uint8_t *p1;
  size_t l1;
  assert_int_equal(rc_session_pending(h->s, &p1, &l1), RC_OK);
  assert_ptr_equal(p0, p1);
  assert_memory_equal(p1, snap, sizeof(snap));
  /* consume part, then all */
  assert_int_equal(rc_session_consume(h->s, l1 + 1), RC_ERR_INVAL);
  assert_int_equal(rc_session_consume(h->s, 3), RC_OK);
  assert_int_equal(rc_session_pending(h->s, &p1, &l1), RC_OK);
  assert_ptr_equal(p1, p0 + 3);
  h_drain(h);
  assert_true(rc_session_want_read(h->s));
  assert_int_equal(rc_session_pending_bytes(h->s), 0);
  assert_int_equal(rc_session_pending(h->s, &p1, &l1), RC_ERR_NEED_MORE);
  /* msg_cancel queues nothing */
  assert_int_equal(rc_session_msg_begin(h->s, &e, RC_CONTENT, NULL, 0, 0),
                   RC_OK);
  rc_session_msg_cancel(h->s, &e);
  assert_false(rc_session_want_write(h->s));
  rc_session_free(h->s);
  free(h->out);
}

/* A large body written in place (rc_enc_payload_ptr, as the exchange
 * reads a file block into it) is handed out where it was written: with
 * nothing else queued the message is not moved down over the encoder's
 * header room (a 1 MiB BERT block was copied once more). Over TCP and
 * in message mode (WS: the length prefix in front). */
static void large_body_not_moved(void **state) {
  (void)state;
  static const int framings[] = {RC_FRAMING_TCP, RC_FRAMING_WS};
  for (size_t f = 0; f < 2; f++) {
    harness hh, *h = &hh;
    h_init_cfg(h, framings[f], RC_SESSION_SERVER);
    h->cfg.out_high_water = 4u << 20;
    h->cfg.out_max = 8u << 20;
    h_start(h, 0);
    h_handshake(h, 1);
    h_drain(h);
    h->out_len = 0;
    size_t n = 512u * 1024u;
    rc_enc e;
    const uint8_t tok[4] = {1, 2, 3, 4};
    assert_int_equal(rc_session_msg_begin(h->s, &e, RC_CONTENT, tok, 4, n),
                     RC_OK);
    uint8_t *p = rc_enc_payload_ptr(&e, n);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
      p[i] = (uint8_t)(i * 7 + 3);
    assert_int_equal(rc_session_msg_end(h->s, &e), RC_OK);
    const uint8_t *d;
    size_t len;
    assert_int_equal(rc_session_pending(h->s, &d, &len), RC_OK);
    assert_true(len > n);
    assert_ptr_equal(d + len - n, p);
    rc_msg m;
    assert_int_equal(rc_msg_parse(framings[f], d, len, &m), RC_OK);
    assert_int_equal(m.payload_len, n);
    assert_memory_equal(m.token, tok, 4);
    assert_int_equal(m.payload[n - 1], (uint8_t)((n - 1) * 7 + 3));
    /* a small message behind it still goes in the same run of output */
    assert_int_equal(rc_session_msg_begin(h->s, &e, RC_CONTENT, tok, 4, 8),
                     RC_OK);
    rc_enc_payload(&e, (const uint8_t *)"tail", 4);
    assert_int_equal(rc_session_msg_end(h->s, &e), RC_OK);
    /* 11 bytes: header byte, code, token, 0xFF, "tail"; in message mode
     * each message also has its 4-byte length in the queue */
    size_t prefixes = framings[f] == RC_FRAMING_WS ? 8 : 0;
    assert_int_equal(rc_session_pending_bytes(h->s), len + 11 + prefixes);
    h_drain(h);
    rc_session_free(h->s);
    free(h->out);
  }
}

/* Two sessions back to back: the client's output is the server's input. */
static void pump(harness *a, harness *b, rc_time now) {
  const uint8_t *p;
  size_t n;
  while (rc_session_pending(a->s, &p, &n) == RC_OK) {
    rc_session_recv(b->s, p, n, now);
    rc_session_consume(a->s, n);
  }
}

static void back_to_back(void **state) {
  (void)state;
  for (int ws = 0; ws < 2; ws++) {
    rc_framing f = ws ? RC_FRAMING_WS : RC_FRAMING_TCP;
    harness *c = h_new(f, RC_SESSION_CLIENT, 0);
    harness *s = h_new(f, RC_SESSION_SERVER, 0);
    s->reply_in_cb = 1;
    s->custody = 1;
    rc_enc e;
    for (uint8_t t = 0; t < 16; t++) {
      assert_int_equal(rc_session_msg_begin(c->s, &e, RC_GET, &t, 1, 0),
                       RC_OK);
      rc_enc_opt_str(&e, RC_OPT_URI_PATH, "time");
      assert_int_equal(rc_session_msg_end(c->s, &e), RC_OK);
    }
    uint32_t id;
    assert_int_equal(rc_session_ping(c->s, 1, 5, &id), RC_OK);
    for (int round = 0; round < 3; round++) {
      pump(c, s, 10);
      pump(s, c, 10);
    }
    assert_int_equal(s->n_csm, 1);
    assert_int_equal(c->n_csm, 1);
    assert_int_equal(s->n_msg, 16);
    assert_int_equal(c->n_msg, 16);
    assert_int_equal(c->codes[15], RC_CONTENT);
    assert_int_equal(c->n_pong, 1);
    assert_int_equal(c->pong_id, id);
    assert_true(c->pong_custody);
    assert_true(rc_session_peer_bert(c->s));
    /* graceful shutdown: server releases, client closes */
    assert_int_equal(rc_session_release(s->s, NULL, 0, 5, NULL, 20), RC_OK);
    pump(s, c, 20);
    assert_int_equal(c->n_release, 1);
    assert_int_equal(c->hold_off, 5);
    rc_session_close(c->s, RC_OK);
    rc_session_close(s->s, RC_ERR_CLOSED);
    assert_int_equal(c->closed_reason, RC_OK);
    assert_int_equal(s->closed_reason, RC_OK);
    h_free(c);
    h_free(s);
  }
}

/* rc_mem that fails the nth allocation (counting from 1). */
typedef struct failmem {
  long n, count;
} failmem;
static void *fm_malloc(size_t size, void *user) {
  failmem *f = user;
  if (++f->count == f->n)
    return NULL;
  return malloc(size);
}
static void *fm_realloc(void *p, size_t size, void *user) {
  failmem *f = user;
  if (++f->count == f->n)
    return NULL;
  return realloc(p, size);
}
static void fm_free(void *p, void *user) {
  (void)user;
  free(p);
}

/* A whole session life under allocation failure at each allocation in
 * turn: every failure is reported, nothing leaks (ASan), no crash. */
static int alloc_scenario(long nth) {
  failmem fm = {nth, 0};
  rc_mem mem = {fm_malloc, fm_realloc, fm_free, &fm};
  harness hh, *h = &hh;
  h_init_cfg(h, RC_FRAMING_TCP, RC_SESSION_SERVER);
  h->cfg.max_msg_size = 1152;
  h->out = malloc(H_OUT_CAP);
  h->reply_in_cb = 1;
  rc_err rc = rc_session_new(&h->s, &h->cfg, &h_callbacks, h, &mem, 0);
  if (rc != RC_OK) {
    assert_int_equal(rc, RC_ERR_NOMEM);
    assert_null(h->s);
    free(h->out);
    return 0;
  }
  size_t cap = 100000;
  uint8_t *b = malloc(cap);
  size_t n = h_peer_csm(b, cap, RC_FRAMING_TCP, 100000, 1);
  static const uint8_t ping[] = {0x01, 0xe2, 0x42};
  memcpy(b + n, ping, 3);
  n += 3;
  n += mk_post(b + n, cap - n, RC_POST, 1, 800);
  n += mk_post(b + n, cap - n, RC_POST, 2, 5000); /* 4.13 */
  for (uint8_t t = 0; t < 40; t++)
    n += mk_post(b + n, cap - n, RC_PUT, t, 1000);
  /* in pieces, so the reassembly buffer is used */
  for (size_t off = 0; off < n; off += 333) {
    size_t k = n - off < 333 ? n - off : 333;
    rc = h_feed(h, b + off, k, 1);
    if (rc != RC_OK)
      break;
  }
  if (rc == RC_OK) {
    rc_enc e;
    static uint8_t pay[30000];
    if (rc_session_msg_begin(h->s, &e, RC_CONTENT, NULL, 0, sizeof(pay)) ==
        RC_OK) {
      rc_enc_payload(&e, pay, sizeof(pay));
      rc_session_msg_end(h->s, &e);
    }
    rc_session_ping(h->s, 0, 2, NULL);
  }
  h_drain(h);
  rc_session_release(h->s, NULL, 0, 1, "bye", 3);
  rc_session_free(h->s);
  free(h->out);
  free(b);
  return fm.count < nth; /* 1 once the failure point lies past the end */
}

static void allocation_failure(void **state) {
  (void)state;
  long n;
  for (n = 1; n < 1000; n++)
    if (alloc_scenario(n))
      break;
  assert_true(n > 3);   /* the scenario allocates several times */
  assert_true(n < 1000); /* and it ended */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(oversize_request_413),
      cmocka_unit_test(oversize_response_aborts),
      cmocka_unit_test(rx_budget_shared),
      cmocka_unit_test(outbound_peer_limit),
      cmocka_unit_test(output_buffer),
      cmocka_unit_test(send_parts_same_bytes),
      cmocka_unit_test(send_tails_same_bytes),
      cmocka_unit_test(send_tails_traced),
      cmocka_unit_test(send_tail_same_bytes),
      cmocka_unit_test(large_body_not_moved),
      cmocka_unit_test(back_to_back),
      cmocka_unit_test(allocation_failure),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
