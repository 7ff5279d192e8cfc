/*
 * The fast paths answer exactly like the general path (issue #16:
 * "nothing lost for speed"). Two server contexts with the same resources
 * listen on 127.0.0.1; a raw coap+tcp client (this file's own framing,
 * so that it can send what the library's encoder would refuse) sends a
 * generated set of requests to each: methods, paths that exist or not,
 * Uri-Query, Accept, ETag, If-Match, If-None-Match, Observe, Block2 (small
 * SZX and BERT), Size2, unknown elective and critical options below and
 * above 64, Proxy-Uri, repeated options, No-Response, options of a bad
 * length, tokens of 0-8 bytes, payloads; under three CSMs (none, a small
 * Max-Message-Size, BERT). The first context runs as built (on_plain,
 * the lookup memo, the whole-frame run, on_message_at, the summary's
 * shortcut, send_tail / send_parts); the second with the fast paths off
 * (common/fastpath.h) and traced (the session's traced way writes every
 * message with the encoder). The requests go in batches (fastpath_harness.h:
 * run_set), a Ping after each batch, so what came before the Pong is the
 * batch's whole answer, one frame per request; every answer must be the
 * same bytes both ways, and the same again when the fast context meets a
 * request the lookup memo can serve a second time (the memo's hit).
 * Shared with test_app_fastpath_tls.c (the harness). Also: a resource added and
 * removed between requests (the memo forgets), and an observation
 * registered then cancelled on the connection (on_plain stops, then
 * starts again).
 */
#include "fastpath_harness.h"

static void test_differential(void **state) {
  fixture *f = *state;
  size_t total = 0, differ = 0, codes[256] = {0}, ext_ok = 0, none = 0;
  batches_sent = batches_alone = 0;
  for (size_t pi = 0; pi < sizeof profiles / sizeof *profiles; pi++) {
    const csm_profile *c = &profiles[pi];
    answers *a[2] = {calloc(1, sizeof *a[0]), calloc(1, sizeof *a[1])};
    size_t n0 = run_set(f, 0, c, a[0]);
    assert_int_equal(run_set(f, 1, c, a[1]), n0);
    for (size_t i = 0; i < n0; i++) {
      int ext = 0;
      uint8_t code = answer_code(a[0]->b[i][0], a[0]->n[i][0], &ext);
      codes[code]++;
      ext_ok += ext && code == RC_CONTENT;
      none += a[0]->n[i][0] == 0;
    }
    shapes_get_only = c->get_only;
    differ += answers_diff(c->name, a, n0);
    total += n0;
  }
  print_message("%zu requests, each answered both ways: %zu differ (%zu "
                "batches, %zu sent again one by one)\n",
                total, differ, batches_sent, batches_alone);
  /* what the set reached: every automatic answer, an answer to an
   * extended token (No-Response, RFC 7967, is not implemented: an
   * elective option ignored, so every request has an answer) */
  static const uint8_t want[] = {RC_CONTENT,        RC_CHANGED,
                                 RC_BAD_OPTION,     RC_NOT_FOUND,
                                 RC_METHOD_NOT_ALLOWED, RC_NOT_ACCEPTABLE,
                                 RC_PROXYING_NOT_SUPPORTED};
  for (size_t k = 0; k < sizeof want; k++) {
    print_message("  %s: %zu\n", rc_code_name(want[k]), codes[want[k]]);
    assert_true(codes[want[k]] > 0);
  }
  print_message("  2.05 to an extended token: %zu; no answer: %zu\n", ext_ok,
                none);
  assert_true(ext_ok > 0);
  assert_int_equal(differ, 0);
}

/* Random requests (request_random: options of every class, lengths and
 * repeats drawn together) to both contexts over coap+tcp: the same
 * answers. */
static void test_random_differential(void **state) {
  fixture *f = *state;
  shapes_random = 2000;
  answers *a[2] = {calloc(1, sizeof *a[0]), calloc(1, sizeof *a[1])};
  size_t n = run_set(f, 0, &profiles[0], a[0]);
  assert_int_equal(run_set(f, 1, &profiles[0], a[1]), n);
  size_t codes[256] = {0};
  for (size_t i = 0; i < n; i++) {
    int ext;
    codes[answer_code(a[0]->b[i][0], a[0]->n[i][0], &ext)]++;
  }
  size_t differ = answers_diff("random", a, n);
  print_message("%zu random requests, each twice: %zu differ (2.05 %zu, "
                "4.02 %zu, 4.04 %zu)\n",
                n, differ, codes[RC_CONTENT], codes[RC_BAD_OPTION],
                codes[RC_NOT_FOUND]);
  assert_int_equal(n, 2000);
  assert_true(codes[RC_CONTENT] > 100);
  assert_int_equal(differ, 0);
}

/* The GET shapes over coap+ws (RFC 8323 §4: each message in a WebSocket
 * frame, its Len 0; the session's answers always from the encoder, but
 * on_plain, the memo and the option summary as over coap+tcp), with a
 * BERT CSM: the same messages from both contexts. */
static void test_ws_differential(void **state) {
  fixture *f = *state;
  clients_ws = 1;
  static const csm_profile ws_bert = {"ws-bert", 65536, 1, 0, 1};
  const csm_profile *ps[] = {&ws_bert};
  for (size_t pi = 0; pi < sizeof ps / sizeof *ps; pi++) {
    answers *a[2] = {calloc(1, sizeof *a[0]), calloc(1, sizeof *a[1])};
    size_t n = run_set(f, 0, ps[pi], a[0]), ok = 0;
    assert_int_equal(run_set(f, 1, ps[pi], a[1]), n);
    for (size_t i = 0; i < n; i++) {
      int ext;
      ok += answer_code(a[0]->b[i][0], a[0]->n[i][0], &ext) == RC_CONTENT;
    }
    shapes_get_only = 1;
    size_t differ = answers_diff(ps[pi]->name, a, n);
    print_message("%s: %zu GET requests, each twice: %zu differ (%zu 2.05)\n",
                  ps[pi]->name, n, differ, ok);
    assert_true(ok > 100);
    assert_int_equal(differ, 0);
  }
  clients_ws = 0;
}

/* Sends GET path (one segment) with Block2 num/szx (num < 0: none) and
 * parses the one answer into m (its bytes in buf). */
static void get_block(fixture *f, const char *path, int num, uint8_t szx,
                      uint8_t *buf, size_t cap, rc_msg *m) {
  uint8_t req[128], b2[4]; /* uint_val writes up to 4 */
  opt o[2] = {{11, (uint16_t)strlen(path), path}};
  size_t no = 1;
  if (num >= 0) {
    uint32_t v = (uint32_t)num << 4 | szx;
    o[no++] = (opt){23, (uint16_t)uint_val(b2, v), b2};
  }
  size_t an = answer_until_pong(
      f, req, frame(req, RC_GET, tok8, 2, o, no, NULL, 0), buf, cap);
  assert_int_equal(rc_msg_parse(RC_FRAMING_TCP, buf, an, m), RC_OK);
  assert_int_equal(frame_size(buf, an), an); /* one answer */
}

/* A body that does not fit whole in the peer's Max-Message-Size goes in
 * Block2 blocks sized to it, on both paths: a 200-byte static
 * representation asked for by a peer whose CSM says 160 bytes used to
 * get 5.00 "handler gave no response" (the answer's fast path handed
 * RC_ERR_PEER_TOO_LARGE back to the handler; a static one cannot answer
 * smaller). */
static void test_small_mms_blocks(void **state) {
  fixture *f = *state;
  const csm_profile *c = &profiles[1]; /* Max-Message-Size 160 */
  for (int which = 0; which < 2; which++) {
    client_open(f, which, c);
    uint8_t buf[512], body[sizeof mid_body];
    size_t got = 0;
    rc_msg m;
    rc_opt o;
    rc_block b;
    get_block(f, "mid", -1, 0, buf, sizeof buf, &m);
    for (int num = 1;; num++) {
      assert_int_equal(m.code, RC_CONTENT);
      assert_true(rc_msg_find_opt(&m, RC_OPT_BLOCK2, &o));
      assert_int_equal(rc_block_decode(o.val, o.len, &b), RC_OK);
      assert_int_equal(rc_block_offset(&b), got);
      assert_true(got + m.payload_len <= sizeof body);
      memcpy(body + got, m.payload, m.payload_len);
      got += m.payload_len;
      if (!b.more)
        break;
      assert_true(num < 64);
      get_block(f, "mid", num, b.szx, buf, sizeof buf, &m);
    }
    assert_int_equal(got, sizeof mid_body);
    assert_memory_equal(body, mid_body, got);
    /* what fits goes whole, by either path */
    get_block(f, "hello", -1, 0, buf, sizeof buf, &m);
    assert_int_equal(m.code, RC_CONTENT);
    assert_false(rc_msg_find_opt(&m, RC_OPT_BLOCK2, &o));
    assert_int_equal(m.payload_len, 13);
    client_close(f);
  }
  rc__fast_paths_off = 0;
}

/* The GET shapes to the general context in one write (its frame reader
 * takes one frame at a time however the bytes come), then to the fast
 * one written in pieces of 1 to 65536 bytes (each piece read by the
 * server as it comes: frames cut at many places, runs of whole frames):
 * every answer the same bytes. */
static void test_pipelined_pieces(void **state) {
  fixture *f = *state;
  static uint8_t stream[1 << 20];
  static size_t ks[4096];
  size_t n;
  size_t len = pipeline_build(stream, sizeof stream, ks, 4096, &n);
  answers *ref = calloc(1, sizeof *ref);
  pieces_run(f, 1, stream, len, len, n, ref);
  static const size_t pieces[] = {65536, 4096, 1000, 61, 7, 3, 1};
  for (size_t pi = 0; pi < sizeof pieces / sizeof *pieces; pi++) {
    size_t piece = pieces[pi];
    /* small pieces over the first part only (each is a loop turn) */
    size_t upto = piece >= 61 ? len : piece >= 7 ? len / 4 : len / 40;
    size_t m = 0;
    for (size_t at = 0; at < upto;) { /* whole requests: up to a Ping */
      size_t fl = frame_size(stream + at, len - at);
      at += fl;
      if (stream[at - fl + 1 + ((stream[at - fl] >> 4) == 13)] == 0xE2)
        m++;
      if (at >= upto)
        upto = at;
    }
    answers *got = calloc(1, sizeof *got);
    pieces_run(f, 0, stream, upto, piece, m, got);
    size_t differ = 0;
    for (size_t i = 0; i < m; i++) {
      if (got->n[i][0] != ref->n[i][0] ||
          memcmp(got->b[i][0], ref->b[i][0], ref->n[i][0])) {
        char name[160];
        uint8_t req[8192];
        request(ks[i], req, name, sizeof name);
        print_message("DIFF pieces of %zu: %s\n", piece, name);
        hexdump("fast", got->b[i][0], got->n[i][0]);
        hexdump("general", ref->b[i][0], ref->n[i][0]);
        differ++;
      }
      free(got->b[i][0]);
    }
    free(got);
    print_message("pieces of %zu bytes: %zu requests in %zu bytes, %zu "
                  "differ\n",
                  piece, m, upto, differ);
    assert_int_equal(differ, 0);
  }
  rc__fast_paths_off = 0;
  for (size_t i = 0; i < n; i++)
    free(ref->b[i][0]);
  free(ref);
}

/* ---- coap:// (RFC 7252 over UDP) ---- */

/* A UDP client of context `which`; from 127.0.x.y (a fresh address, not
 * verified yet) when addr > 0. */
static void client_open_udp(fixture *f, int which, unsigned addr) {
  client_close(f);
  rc__fast_paths_off = which;
  f->udp = 1;
  f->ws = 0;
  f->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  assert_true(f->fd >= 0);
  if (addr) {
    struct sockaddr_in b = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(
                                0x7f000000u | (addr / 250) << 8 |
                                (2 + addr % 250))};
    assert_int_equal(bind(f->fd, (struct sockaddr *)&b, sizeof b), 0);
  }
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons(f->uport[which]),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(connect(f->fd, (struct sockaddr *)&a, sizeof a), 0);
  f->closed = 0;
  f->in_len = 0;
  f->mid = 0x8000;
  uv_poll_init(&f->loop, &f->poll, f->fd);
  f->poll.data = f;
  f->polling = 1;
  uv_poll_start(&f->poll, UV_READABLE, on_readable);
}

/* The request of the TCP frame req as a CON datagram with Message ID mid
 * (RFC 7252 §3: Ver 1, T 0, TKL; code; Message ID; token; the rest). */
static size_t udp_from_tcp(uint8_t *out, const uint8_t *req, size_t n,
                           uint16_t mid) {
  size_t ext = (req[0] >> 4) == 13 ? 1 : (req[0] >> 4) == 14 ? 2 : 0;
  size_t tkl = req[0] & 15, head = 1 + ext;
  out[0] = (uint8_t)(0x40 | tkl);
  out[1] = req[head];
  out[2] = (uint8_t)(mid >> 8);
  out[3] = (uint8_t)mid;
  memcpy(out + 4, req + head + 1, n - head - 1);
  return 4 + n - head - 1;
}

/* Sends datagram d and then a CoAP ping (an empty CON, RFC 7252 §4.3);
 * the datagrams before the ping's Reset into ans, each after its 2-byte
 * length. */
static size_t udp_answer(fixture *f, const uint8_t *d, size_t n, uint8_t *ans,
                         size_t cap) {
  uint16_t pm = f->mid++;
  uint8_t ping[4] = {0x40, 0, (uint8_t)(pm >> 8), (uint8_t)pm};
  if (n)
    assert_int_equal(send(f->fd, d, n, 0), (ssize_t)n);
  assert_int_equal(send(f->fd, ping, 4, 0), 4);
  size_t got = 0;
  f->timed_out = 0;
  uv_timer_start(&f->guard, test_run_guard_cb, GUARD_MS, 0);
  for (;;) {
    size_t at = 0;
    while (at + 2 <= f->in_len) {
      size_t len = (size_t)f->in[at] << 8 | f->in[at + 1];
      const uint8_t *g = f->in + at + 2;
      at += 2 + len;
      if (len == 4 && g[0] == 0x70 && g[1] == 0 && g[2] == ping[2] &&
          g[3] == ping[3]) { /* the Reset */
        memmove(f->in, f->in + at, f->in_len - at);
        f->in_len -= at;
        uv_timer_stop(&f->guard);
        return got;
      }
      assert_true(got + 2 + len <= cap);
      memcpy(ans + got, g - 2, 2 + len);
      got += 2 + len;
    }
    memmove(f->in, f->in + at, f->in_len - at);
    f->in_len -= at;
    if (f->timed_out)
      fail_msg("no Reset for the ping");
    uv_run(&f->loop, UV_RUN_ONCE);
  }
}

/* Makes the client's address verified (RFC 9175 §2.4, the amplification
 * limit: until then a large answer is a 4.01 with an Echo, whose value
 * differs from context to context): GET /big, then again with the Echo. */
static void udp_verify(fixture *f) {
  uint8_t req[64], ans[2048];
  rc_msg m;
  rc_opt echo;
  opt o[2] = {{11, 3, "big"}};
  size_t rn = frame(req, RC_GET, NULL, 0, o, 1, NULL, 0);
  uint8_t dg[96];
  size_t an = udp_answer(f, dg, udp_from_tcp(dg, req, rn, 0x7000), ans,
                         sizeof ans);
  assert_true(an > 2);
  assert_int_equal(rc_msg_parse(RC_FRAMING_UDP, ans + 2, an - 2, &m), RC_OK);
  if (m.code == RC_CONTENT)
    return; /* verified already (the address is remembered) */
  assert_int_equal(m.code, RC_UNAUTHORIZED);
  assert_true(rc_msg_find_opt(&m, RC_OPT_ECHO, &echo));
  uint8_t ev[40];
  assert_true(echo.len <= sizeof ev);
  memcpy(ev, echo.val, echo.len);
  o[1] = (opt){RC_OPT_ECHO, (uint16_t)echo.len, ev};
  rn = frame(req, RC_GET, NULL, 0, o, 2, NULL, 0);
  an = udp_answer(f, dg, udp_from_tcp(dg, req, rn, 0x7001), ans, sizeof ans);
  assert_int_equal(rc_msg_parse(RC_FRAMING_UDP, ans + 2, an - 2, &m), RC_OK);
  assert_int_equal(m.code, RC_CONTENT);
}

/* The Echo option's value in each datagram of ans (n bytes, each after
 * its 2-byte length) zeroed: it is a context's own secret and time. */
static void udp_mask_echo(uint8_t *ans, size_t n) {
  for (size_t at = 0; at + 2 <= n;) {
    size_t len = (size_t)ans[at] << 8 | ans[at + 1];
    uint8_t *d = ans + at + 2;
    rc_msg m;
    rc_opt o;
    if (rc_msg_parse(RC_FRAMING_UDP, d, len, &m) == RC_OK &&
        rc_msg_find_opt(&m, RC_OPT_ECHO, &o))
      memset(d + (o.val - d), 0, o.len);
    at += 2 + len;
  }
}

/* The generated set as CON requests over coap:// to context `which`,
 * each twice with the same Message ID (the second a duplicate, RFC 7252
 * §4.5), in batches of BATCH before one ping. verified: from 127.0.0.1 once its address is verified (RFC 9175
 * §2.4), all shapes; else the GET shapes from fresh addresses, each
 * large answer a 4.01 with an Echo (its value masked). */
static size_t run_udp(fixture *f, int which, int verified, answers *a) {
  static uint8_t req[8192], dg[BATCH][8192], ans[BATCH * 2 * ANSWER_MAX];
  static size_t dn[BATCH], di[BATCH];
  char name[160];
  unsigned addr = verified ? 0 : 1;
  size_t count = 0, nb = 0;
  shapes_get_only = !verified;
  client_open_udp(f, which, addr);
  if (verified)
    udp_verify(f);
  uint16_t mid = 0x1000;
  for (size_t k = 0;; k++) {
    size_t rn = request(k, req, name, sizeof name);
    int obs = rn != 0 && rn != (size_t)-1 && is_observe_request(req, rn);
    if (rn == (size_t)-1)
      continue;
    if (rn != 0 && !obs) {
      size_t i = count++;
      assert_true(i < 4096);
      di[nb] = i;
      dn[nb] = udp_from_tcp(dg[nb], req, rn, mid++);
      nb++;
    }
    if (nb && (nb == BATCH || rn == 0 || obs)) {
      /* the batch, each datagram twice, and one ping: one answer each
       * (else each again alone, a ping after each) */
      for (size_t b = 0; b < nb; b++)
        for (int r = 0; r < ROUNDS; r++)
          assert_int_equal(send(f->fd, dg[b], dn[b], 0), (ssize_t)dn[b]);
      size_t an = udp_answer(f, NULL, 0, ans, sizeof ans), at = 0, e = 0;
      size_t sz[BATCH * ROUNDS];
      while (e < nb * ROUNDS && at + 2 <= an) {
        sz[e] = 2 + ((size_t)ans[at] << 8 | ans[at + 1]);
        at += sz[e++];
      }
      int paired = e == nb * ROUNDS && at == an;
      batches_sent++;
      batches_alone += !paired;
      at = 0;
      for (size_t b = 0; b < nb; b++) {
        if (!paired) { /* a fresh Message ID: the server saw the old */
          dg[b][2] = (uint8_t)(mid >> 8);
          dg[b][3] = (uint8_t)mid++;
        }
        for (int r = 0; r < ROUNDS; r++) {
          uint8_t *p = paired ? ans + at : ans;
          size_t n = paired ? sz[b * ROUNDS + r]
                            : udp_answer(f, dg[b], dn[b], ans, ANSWER_MAX);
          if (!verified)
            udp_mask_echo(p, n);
          answer_store(a, di[b], r, p, n);
          at += n;
        }
      }
      nb = 0;
    }
    if (rn == 0)
      break;
    if (obs) {
      size_t i = count++;
      assert_true(i < 4096);
      size_t n = udp_from_tcp(dg[0], req, rn, mid++);
      for (int r = 0; r < ROUNDS; r++) {
        size_t an = udp_answer(f, dg[0], n, ans, ANSWER_MAX);
        if (!verified)
          udp_mask_echo(ans, an);
        answer_store(a, i, r, ans, an);
      }
      client_open_udp(f, which, verified ? 0 : ++addr);
      if (verified)
        udp_verify(f);
    }
  }
  client_close(f);
  return count;
}

/* coap://: an observation on the empty token whose notification the
 * client rejects with a Reset (RFC 7641 §3.6) is gone, in both contexts
 * (the other lookup of an observation by its token, beside the one
 * test_observe_then_plain reaches with the empty token). */
static void test_udp_observe_reset(void **state) {
  fixture *f = *state;
  for (int which = 0; which < 2; which++) {
    rc_resource *w;
    assert_int_equal(rc_resource_add(f->ctx[which], "/watch", 0, NULL, &w),
                     RC_OK);
    assert_int_equal(rc_resource_set_static(w, RC_CONTENT, 0, "w", 1),
                     RC_OK);
    assert_int_equal(rc_resource_set_observable(w), RC_OK);
    client_open_udp(f, which, 0);
    uint8_t req[32], dg[64], ans[512];
    opt o[2] = {{6, 0, ""}, {11, 5, "watch"}};
    size_t rn = frame(req, RC_GET, NULL, 0, o, 2, NULL, 0);
    size_t an = udp_answer(f, dg, udp_from_tcp(dg, req, rn, 0x2000), ans,
                           sizeof ans);
    rc_msg m;
    rc_opt ob;
    assert_int_equal(rc_msg_parse(RC_FRAMING_UDP, ans + 2, an - 2, &m),
                     RC_OK);
    assert_int_equal(m.code, RC_CONTENT);
    assert_true(rc_msg_find_opt(&m, RC_OPT_OBSERVE, &ob));
    assert_int_equal(rc_resource_observers(w), 1);
    assert_int_equal(rc_resource_notify(w), RC_OK);
    uv_run(&f->loop, UV_RUN_NOWAIT); /* the turn's end: notifications out */
    an = udp_answer(f, NULL, 0, ans, sizeof ans);
    assert_true(an > 6);
    assert_int_equal(rc_msg_parse(RC_FRAMING_UDP, ans + 2, an - 2, &m),
                     RC_OK);
    assert_int_equal(m.token_len, 0);
    uint8_t rst[4] = {0x70, 0, ans[4], ans[5]}; /* its Message ID */
    assert_int_equal(send(f->fd, rst, 4, 0), 4);
    (void)udp_answer(f, NULL, 0, ans, sizeof ans);
    assert_int_equal(rc_resource_observers(w), 0);
    client_close(f);
  }
}

/* Both contexts over coap://, verified and not: the same datagrams,
 * piggybacked in the ACK. */
static void test_udp_differential(void **state) {
  fixture *f = *state;
  batches_sent = batches_alone = 0;
  for (int verified = 0; verified < 2; verified++) {
    answers *a[2] = {calloc(1, sizeof *a[0]), calloc(1, sizeof *a[1])};
    size_t n = run_udp(f, 0, verified, a[0]), echo = 0;
    assert_int_equal(run_udp(f, 1, verified, a[1]), n);
    for (size_t i = 0; i < n; i++) /* the first datagram's code */
      echo += a[0]->n[i][0] > 3 && a[0]->b[i][0][3] == RC_UNAUTHORIZED;
    shapes_get_only = !verified;
    size_t differ =
        answers_diff(verified ? "udp" : "udp unverified", a, n);
    print_message("%zu CON requests over coap:// (%s), each twice: %zu "
                  "differ, %zu 4.01 (%zu batches, %zu sent again one by "
                  "one)\n",
                  n, verified ? "verified" : "unverified", differ, echo,
                  batches_sent, batches_alone);
    if (!verified)
      assert_true(echo > 0);
    assert_int_equal(differ, 0);
  }
}

/* ---- the access log ---- */

typedef struct access_log {
  char *text;
  size_t len, cap;
  size_t entries;
} access_log;

static void on_access(void *user, const rc_access_entry *e) {
  access_log *l = user;
  char line[600];
  int n = snprintf(line, sizeof line, "%s %s %s %u %zu\n", e->transport,
                   e->method, e->uri, e->code, e->bytes);
  if (l->len + (size_t)n + 1 > l->cap) {
    l->cap = 2 * l->cap + (size_t)n + 1;
    l->text = realloc(l->text, l->cap);
  }
  memcpy(l->text + l->len, line, (size_t)n + 1);
  l->len += (size_t)n;
  l->entries++;
}

/* Contexts with an access log (rcoapd --access-log): a request answered
 * by on_plain is logged like one answered the general way; the GET shapes
 * of the default profile give the same log lines both ways. */
static void test_access_log(void **state) {
  fixture *f = *state;
  access_log log[2] = {{0}};
  rc_context *ctx[2];
  uint16_t lport[2], keep[2] = {f->port[0], f->port[1]};
  for (int i = 0; i < 2; i++) {
    rc_context_opts o = {0};
    o.loop = &f->loop;
    o.on_access = on_access;
    o.trace_user = &log[i];
    assert_int_equal(rc_context_new(&ctx[i], &o), RC_OK);
    add_resources(ctx[i]);
    char err[256];
    assert_int_equal(rc_context_listen(ctx[i], RC_CONN_TCP, "127.0.0.1:0",
                                       NULL, NULL, &lport[i], err, sizeof err),
                     RC_OK);
    f->port[i] = lport[i];
  }
  static const csm_profile get_shapes = {"access-log", 0, 0, 0, 1};
  answers *a[2] = {calloc(1, sizeof *a[0]), calloc(1, sizeof *a[1])};
  size_t n = run_set(f, 0, &get_shapes, a[0]);
  assert_int_equal(run_set(f, 1, &get_shapes, a[1]), n);
  assert_int_equal(answers_diff(get_shapes.name, a, n), 0);
  f->port[0] = keep[0];
  f->port[1] = keep[1];
  print_message("access log: %zu and %zu entries\n", log[0].entries,
                log[1].entries);
  assert_true(log[0].entries > 500);
  assert_int_equal(log[0].len, log[1].len);
  assert_memory_equal(log[0].text, log[1].text, log[0].len);
  /* the plain GET of /hello is there: 2.05 (69), 13 bytes */
  assert_non_null(strstr(log[0].text, "coap+tcp GET /hello 69 13\n"));
  for (int i = 0; i < 2; i++) {
    rc_context_free(ctx[i]);
    free(log[i].text);
  }
}

/* ---- scenarios: the same steps on each context, the same answers ---- */

typedef struct transcript {
  uint8_t b[1 << 16];
  size_t n;
} transcript;

/* GET of path ('/'-separated segments) with token tok[0..tkl) and
 * Observe obs (< 0: none); the answer (up to the Pong) is appended to t
 * and parsed into m when there is one (m->code 0 when none). */
static void step_get(fixture *f, const char *path, const uint8_t *tok,
                     size_t tkl, int obs, transcript *t, rc_msg *m) {
  uint8_t req[256], ov[1];
  char segs[128];
  opt o[8];
  size_t no = 0;
  snprintf(segs, sizeof segs, "%s", path);
  for (char *sp = segs, *e; sp; sp = e) {
    e = strchr(sp, '/');
    if (e)
      *e++ = 0;
    o[no++] = (opt){11, (uint16_t)strlen(sp), sp};
  }
  if (obs >= 0) {
    ov[0] = (uint8_t)obs;
    opt ob = {6, (uint16_t)(obs ? 1 : 0), ov};
    memmove(o + 1, o, no * sizeof *o); /* Observe (6) before Uri-Path */
    o[0] = ob;
    no++;
  }
  size_t rn = frame(req, RC_GET, tok, tkl, o, no, NULL, 0);
  size_t at = t->n;
  t->n += answer_until_pong(f, req, rn, t->b + at, sizeof t->b - at);
  memset(m, 0, sizeof *m);
  if (t->n > at)
    assert_int_equal(rc_msg_parse(RC_FRAMING_TCP, t->b + at,
                                  frame_size(t->b + at, t->n - at), m),
                     RC_OK);
}

/* Notifications the context sends for res (up to the Pong), appended to
 * t; returns how many frames came. */
static size_t step_notify(fixture *f, rc_resource *res, transcript *t) {
  assert_int_equal(rc_resource_notify(res), RC_OK);
  uv_run(&f->loop, UV_RUN_NOWAIT); /* the turn's end: notifications out */
  size_t at = t->n, frames = 0, sz;
  t->n += answer_until_pong(f, NULL, 0, t->b + at, sizeof t->b - at);
  for (size_t i = at; (sz = frame_size(t->b + i, t->n - i)) != 0; i += sz)
    frames++;
  return frames;
}

/* The two contexts' transcripts of one scenario are the same bytes; both
 * freed. */
static void transcripts_same(transcript *t[2], const char *what) {
  rc__fast_paths_off = 0;
  if (t[0]->n != t[1]->n || memcmp(t[0]->b, t[1]->b, t[0]->n)) {
    hexdump("fast", t[0]->b, t[0]->n);
    hexdump("general", t[1]->b, t[1]->n);
    fail_msg("%s: the transcripts differ (%zu and %zu bytes)", what, t[0]->n,
             t[1]->n);
  }
  free(t[0]);
  free(t[1]);
}

static void expect(const rc_msg *m, uint8_t code, const char *payload) {
  assert_int_equal(m->code, code);
  if (payload) {
    assert_int_equal(m->payload_len, strlen(payload));
    assert_memory_equal(m->payload, payload, m->payload_len);
  }
}

/* The lookup memo forgets what the table no longer says: a path not
 * found, then added (exact and as a prefix), its static answer replaced,
 * its GET given to a handler, removed; each step answered alike by both
 * contexts and as expected. */
static void test_memo_table_changes(void **state) {
  fixture *f = *state;
  transcript *t[2];
  static const uint8_t tk[] = {7, 7};
  for (int which = 0; which < 2; which++) {
    rc_context *ctx = f->ctx[which];
    rc_resource *r, *px;
    rc_msg m;
    t[which] = calloc(1, sizeof *t[which]);
    transcript *tr = t[which];
    client_open(f, which, &profiles[0]);
    for (int i = 0; i < 2; i++) { /* twice: the memo's hit */
      step_get(f, "temp", tk, 2, -1, tr, &m);
      expect(&m, RC_NOT_FOUND, NULL);
    }
    assert_int_equal(rc_resource_add(ctx, "/temp", 0, NULL, &r), RC_OK);
    assert_int_equal(rc_resource_set_static(r, RC_CONTENT, 0, "t1", 2), RC_OK);
    for (int i = 0; i < 2; i++) {
      step_get(f, "temp", tk, 2, -1, tr, &m);
      expect(&m, RC_CONTENT, "t1");
    }
    assert_int_equal(rc_resource_set_static(r, RC_CONTENT, 0, "t2", 2), RC_OK);
    step_get(f, "temp", tk, 2, -1, tr, &m);
    expect(&m, RC_CONTENT, "t2");
    rc_resource_on(r, RC_GET, h_dyn); /* a handler, not static any more */
    step_get(f, "temp", tk, 2, -1, tr, &m);
    expect(&m, RC_CONTENT, "1 /temp /temp  []");
    assert_int_equal(rc_resource_set_static(r, RC_CONTENT, 0, "t3", 2), RC_OK);
    step_get(f, "temp", tk, 2, -1, tr, &m);
    expect(&m, RC_CONTENT, "t3");
    assert_int_equal(rc_resource_remove(ctx, "/temp"), RC_OK);
    for (int i = 0; i < 2; i++) {
      step_get(f, "temp", tk, 2, -1, tr, &m);
      expect(&m, RC_NOT_FOUND, NULL);
    }
    /* a prefix, then an exact resource under it, then each removed */
    step_get(f, "x/y", tk, 2, -1, tr, &m);
    expect(&m, RC_NOT_FOUND, NULL);
    assert_int_equal(rc_resource_add(ctx, "/x", RC_RES_PREFIX, NULL, &px),
                     RC_OK);
    assert_int_equal(rc_resource_set_static(px, RC_CONTENT, 0, "px", 2),
                     RC_OK);
    step_get(f, "x/y", tk, 2, -1, tr, &m);
    expect(&m, RC_CONTENT, "px");
    assert_int_equal(rc_resource_add(ctx, "/x/y", 0, NULL, &r), RC_OK);
    assert_int_equal(rc_resource_set_static(r, RC_CONTENT, 0, "xy", 2), RC_OK);
    step_get(f, "x/y", tk, 2, -1, tr, &m);
    expect(&m, RC_CONTENT, "xy");
    assert_int_equal(rc_resource_remove(ctx, "/x/y"), RC_OK);
    step_get(f, "x/y", tk, 2, -1, tr, &m);
    expect(&m, RC_CONTENT, "px");
    assert_int_equal(rc_resource_remove(ctx, "/x"), RC_OK);
    step_get(f, "x/y", tk, 2, -1, tr, &m);
    expect(&m, RC_NOT_FOUND, NULL);
    /* an observable one: no longer plain, the same answer */
    assert_int_equal(rc_resource_add(ctx, "/temp", 0, NULL, &r), RC_OK);
    assert_int_equal(rc_resource_set_static(r, RC_CONTENT, 0, "t4", 2), RC_OK);
    step_get(f, "temp", tk, 2, -1, tr, &m);
    expect(&m, RC_CONTENT, "t4");
    assert_int_equal(rc_resource_set_observable(r), RC_OK);
    step_get(f, "temp", tk, 2, -1, tr, &m);
    expect(&m, RC_CONTENT, "t4");
    client_close(f);
  }
  transcripts_same(t, __func__);
}

/* An observation on the connection takes its GETs off on_plain (they go
 * to the observe dispatch, where a GET on the observation's token ends
 * it, RFC 7641 §3.6 / RFC 8323 §7.4), and its end brings them back: the
 * same notifications and answers from both contexts. */
static void test_observe_then_plain(void **state) {
  fixture *f = *state;
  transcript *t[2];
  static const uint8_t ta[] = {0xa}, tt[] = {0x0b, 0x5e}, tb[] = {0xb};
  for (int which = 0; which < 2; which++) {
    rc_context *ctx = f->ctx[which];
    rc_resource *obs;
    rc_msg m;
    rc_opt o;
    assert_int_equal(rc_resource_add(ctx, "/watch", 0, NULL, &obs), RC_OK);
    assert_int_equal(rc_resource_set_static(obs, RC_CONTENT, 0, "w", 1),
                     RC_OK);
    assert_int_equal(rc_resource_set_observable(obs), RC_OK);
    t[which] = calloc(1, sizeof *t[which]);
    transcript *tr = t[which];
    client_open(f, which, &profiles[0]);
    step_get(f, "hello", ta, 1, -1, tr, &m);
    expect(&m, RC_CONTENT, "Hello, world!");
    assert_int_equal(step_notify(f, obs, tr), 0);
    /* registered */
    step_get(f, "watch", tt, 2, 0, tr, &m);
    expect(&m, RC_CONTENT, "w");
    assert_true(rc_msg_find_opt(&m, RC_OPT_OBSERVE, &o));
    assert_int_equal(step_notify(f, obs, tr), 1);
    step_get(f, "hello", tb, 1, -1, tr, &m);
    expect(&m, RC_CONTENT, "Hello, world!");
    assert_int_equal(step_notify(f, obs, tr), 1);
    /* a plain GET on the observation's token ends it */
    step_get(f, "hello", tt, 2, -1, tr, &m);
    expect(&m, RC_CONTENT, "Hello, world!");
    assert_int_equal(step_notify(f, obs, tr), 0);
    /* registered again, then deregistered with Observe 1 */
    step_get(f, "watch", tt, 2, 0, tr, &m);
    assert_true(rc_msg_find_opt(&m, RC_OPT_OBSERVE, &o));
    assert_int_equal(step_notify(f, obs, tr), 1);
    step_get(f, "watch", tt, 2, 1, tr, &m);
    expect(&m, RC_CONTENT, "w");
    assert_false(rc_msg_find_opt(&m, RC_OPT_OBSERVE, &o));
    assert_int_equal(step_notify(f, obs, tr), 0);
    step_get(f, "hello", tt, 2, -1, tr, &m);
    expect(&m, RC_CONTENT, "Hello, world!");
    step_get(f, "watch", ta, 1, -1, tr, &m);
    expect(&m, RC_CONTENT, "w");
    assert_false(rc_msg_find_opt(&m, RC_OPT_OBSERVE, &o));
    /* an observation on the empty token, then a plain GET on it (the
     * token lookup compared them with memcmp(.., NULL, 0): undefined,
     * UBSan stopped there) */
    step_get(f, "watch", NULL, 0, 0, tr, &m);
    assert_true(rc_msg_find_opt(&m, RC_OPT_OBSERVE, &o));
    assert_int_equal(step_notify(f, obs, tr), 1);
    step_get(f, "hello", NULL, 0, -1, tr, &m);
    expect(&m, RC_CONTENT, "Hello, world!");
    assert_int_equal(step_notify(f, obs, tr), 0);
    client_close(f);
  }
  transcripts_same(t, __func__);
}

/* A notification round to many observers on one connection (tokens of
 * 0-20 bytes; rc_session_send_tails on the fast context, the encoder per
 * message on the traced one), for a short and a long representation,
 * with room for it whole (BERT) and without (Max-Message-Size 160): the
 * same bytes. Under 160 bytes each /w1 notification is its first block
 * with Block2 and Observe, and the client asks for the next (RFC 7959
 * §2.2): they used to go nowhere (the send said too large, on both
 * contexts, and no observer heard of the change). */
static void test_notify_rounds(void **state) {
  fixture *f = *state;
  for (size_t pi = 1; pi <= 2; pi++) {
    transcript *t[2];
    for (int which = 0; which < 2; which++) {
      rc_context *ctx = f->ctx[which];
      rc_resource *w[2];
      rc_msg m;
      rc_opt o;
      rc_block b;
      assert_int_equal(rc_resource_add(ctx, "/w0", 0, NULL, &w[0]), RC_OK);
      assert_int_equal(rc_resource_set_static(w[0], RC_CONTENT, 0, "w", 1),
                       RC_OK);
      assert_int_equal(rc_resource_add(ctx, "/w1", 0, NULL, &w[1]), RC_OK);
      assert_int_equal(rc_resource_set_static(w[1], RC_CONTENT, 50, mid_body,
                                              sizeof mid_body),
                       RC_OK);
      for (int i = 0; i < 2; i++)
        assert_int_equal(rc_resource_set_observable(w[i]), RC_OK);
      t[which] = calloc(1, sizeof *t[which]);
      transcript *tr = t[which];
      client_open(f, which, &profiles[pi]);
      uint8_t tok[21];
      for (size_t n = 0; n < 40; n++) { /* tokens of 0-20 bytes, distinct */
        size_t tkl = n % 20 + (n >= 20);
        memset(tok, (int)n, sizeof tok);
        step_get(f, n % 2 ? "w1" : "w0", tok, tkl, 0, tr, &m);
        assert_int_equal(m.code, RC_CONTENT);
      }
      for (int round = 0; round < 3; round++)
        for (int i = 0; i < 2; i++) {
          size_t at = tr->n;
          assert_int_equal(step_notify(f, w[i], tr), 20);
          assert_int_equal(rc_msg_parse(RC_FRAMING_TCP, tr->b + at,
                                        frame_size(tr->b + at, tr->n - at),
                                        &m),
                           RC_OK);
          assert_true(rc_msg_find_opt(&m, RC_OPT_OBSERVE, &o));
          assert_int_equal(rc_msg_find_opt(&m, RC_OPT_BLOCK2, &o),
                           i == 1 && pi == 1);
        }
      if (pi == 1) { /* the next block of /w1 */
        memset(tok, 1, sizeof tok); /* n 1: an observer of /w1 */
        step_get(f, "w1", tok, 1, -1, tr, &m);
        assert_true(rc_msg_find_opt(&m, RC_OPT_BLOCK2, &o));
        assert_int_equal(rc_block_decode(o.val, o.len, &b), RC_OK);
        uint8_t b2[3];
        opt req_o[2] = {{11, 2, "w1"}};
        rc_block next = {1, 0, b.szx};
        req_o[1] = (opt){23, (uint16_t)rc_block_encode(&next, b2), b2};
        uint8_t req[64];
        size_t at = tr->n;
        tr->n += answer_until_pong(
            f, req, frame(req, RC_GET, tok, 1, req_o, 2, NULL, 0),
            tr->b + at, sizeof tr->b - at);
        assert_int_equal(rc_msg_parse(RC_FRAMING_TCP, tr->b + at,
                                      tr->n - at, &m),
                         RC_OK);
        assert_int_equal(m.code, RC_CONTENT);
        assert_int_equal(m.payload_len, rc_block_size(b.szx));
        assert_memory_equal(m.payload, mid_body + m.payload_len,
                            m.payload_len);
      }
      client_close(f);
      assert_int_equal(rc_resource_remove(ctx, "/w0"), RC_OK);
      assert_int_equal(rc_resource_remove(ctx, "/w1"), RC_OK);
    }
    transcripts_same(t, profiles[pi].name);
  }
}

/* RFC 7252 §5.4.3: an option whose value length is outside its range is
 * treated like an unrecognized one; elective, it is ignored (§5.4.1):
 * the request is answered as it would be without it (xstrip.c), on
 * either context, for every path and method. */
static void test_malformed_elective_ignored(void **state) {
  fixture *f = *state;
  static const char *const bad[] = {"etag-0b", "etag-9b", "content-format-3b",
                                    "hop-limit-0b", "observe-4b"};
  uint8_t req[8192], a1[ANSWER_MAX], a2[ANSWER_MAX];
  char name[160], name2[160];
  size_t checked = 0;
  for (int which = 0; which < 2; which++) {
    client_open(f, which, &profiles[0]);
    for (size_t bi = 0; bi < sizeof bad / sizeof *bad; bi++) {
      const optset *os = NULL;
      for (size_t i = 0; i < sizeof optsets / sizeof *optsets; i++)
        if (!strcmp(optsets[i].name, bad[bi]))
          os = &optsets[i];
      assert_non_null(os);
      for (size_t pi = 0; pi < sizeof paths / sizeof *paths; pi++)
        for (size_t mi = 0; mi < sizeof methods / sizeof *methods; mi++) {
          const char *pl = mi % 2 ? "payload" : NULL;
          size_t rn = build_request(methods[mi], paths[pi], os, 4, pl, req,
                                    name, sizeof name);
          size_t n1 = answer_until_pong(f, req, rn, a1, sizeof a1);
          rn = build_request(methods[mi], paths[pi], &optsets[0], 4, pl, req,
                             name2, sizeof name2);
          size_t n2 = answer_until_pong(f, req, rn, a2, sizeof a2);
          if (n1 != n2 || memcmp(a1, a2, n1)) {
            hexdump("with it", a1, n1);
            hexdump("without", a2, n2);
            fail_msg("%s answered otherwise than %s", name, name2);
          }
          checked++;
        }
    }
    client_close(f);
  }
  rc__fast_paths_off = 0;
  print_message("%zu requests with a malformed elective option\n", checked);
}

/* ---- the unanswered limit, bad input ---- */

typedef struct holder {
  rc_xreq *held[8];
  size_t n;
} holder;

static void h_hold(rc_context *ctx, rc_resource *res, rc_xreq *req,
                   void *user) {
  (void)ctx;
  (void)res;
  holder *h = user;
  assert_true(h->n < 8);
  assert_int_equal(rc_xreq_defer(req), RC_OK);
  h->held[h->n++] = req;
}

/* With as many requests unanswered as the connection may hold
 * (unanswered_max 4), a plain GET is not offered to on_plain: 5.03 with
 * Max-Age like any request, on both contexts; once they are answered,
 * 2.05 again. */
static void test_unanswered_limit(void **state) {
  fixture *f = *state;
  transcript *t[2];
  for (int which = 0; which < 2; which++) {
    holder h = {{0}, 0};
    rc_resource *r;
    rc_msg m;
    assert_int_equal(rc_resource_add(f->ctx[which], "/hold", 0, &h, &r),
                     RC_OK);
    rc_resource_on(r, RC_GET, h_hold);
    t[which] = calloc(1, sizeof *t[which]);
    transcript *tr = t[which];
    client_open(f, which, &profiles[0]);
    step_get(f, "hello", (const uint8_t *)"a", 1, -1, tr, &m);
    expect(&m, RC_CONTENT, "Hello, world!");
    for (uint8_t i = 0; i < 4; i++) {
      uint8_t tk[2] = {'h', i};
      step_get(f, "hold", tk, 2, -1, tr, &m);
      assert_int_equal(m.code, 0); /* held: nothing yet */
    }
    assert_int_equal(h.n, 4);
    step_get(f, "hello", (const uint8_t *)"b", 1, -1, tr, &m);
    expect(&m, RC_SERVICE_UNAVAILABLE, NULL);
    rc_opt o;
    assert_true(rc_msg_find_opt(&m, RC_OPT_MAX_AGE, &o));
    for (size_t i = 0; i < h.n; i++)
      rc_respond(h.held[i], RC_CONTENT, 0, "late", 4);
    step_get(f, "hello", (const uint8_t *)"c", 1, -1, tr, &m);
    assert_int_equal(m.code, RC_CONTENT); /* after the four "late" */
    client_close(f);
    assert_int_equal(rc_resource_remove(f->ctx[which], "/hold"), RC_OK);
  }
  transcripts_same(t, __func__);
}

/* Sends b (n bytes) after a CSM (unless no_csm) in one write or one
 * byte at a time, then a Ping; what comes until the Pong or the close
 * goes into ans. */
static size_t bad_case(fixture *f, int which, const uint8_t *b, size_t n,
                       int no_csm, int bytewise, uint8_t *ans, size_t cap) {
  client_close(f);
  rc__fast_paths_off = which;
  f->udp = f->ws = 0;
  client_connect(f, f->port[which]);
  uint8_t all[4096];
  size_t len = 0;
  if (!no_csm) {
    all[len++] = 0x00; /* an empty CSM */
    all[len++] = 0xE1;
  }
  assert_true(len + n <= sizeof all);
  memcpy(all + len, b, n);
  len += n;
  if (!bytewise) {
    send_raw(f, all, len);
  } else {
    for (size_t i = 0; i < len && !f->closed; i++) {
      send_raw(f, all + i, 1);
      uv_run(&f->loop, UV_RUN_NOWAIT);
    }
  }
  return answer_until_pong(f, NULL, 0, ans, cap);
}

/* Malformed input after good requests, in one read (the whole-frame run
 * meets it) and byte by byte (the reader frame by frame): the same
 * answers and the same Abort (RFC 8323 §5.6) from both contexts. */
static void test_bad_input(void **state) {
  fixture *f = *state;
  /* GET /hello, token 1 */
  static const uint8_t hello[] = {0x61, 0x01, 0x01, 0xb5, 'h', 'e', 'l', 'l',
                                  'o'};
  static const struct {
    const char *name;
    int no_csm;
    uint8_t b[16];
    size_t n;
  } cases[] = {
      /* RFC 8323 §3.3: the first message must be a CSM */
      {"no CSM", 1, {0}, 0},
      /* TKL 15: reserved (RFC 8323 §3.2, RFC 8974) */
      {"TKL 15", 0, {0x0f, 0x01}, 2},
      /* a payload marker with no payload (RFC 7252 §3) */
      {"empty payload", 0, {0x11, 0x01, 0x07, 0xff}, 4},
      /* option delta nibble 15 that is not the marker (RFC 7252 §3.1) */
      {"delta 15", 0, {0x11, 0x01, 0x07, 0xf1}, 4},
      /* option length nibble 15 */
      {"length 15", 0, {0x11, 0x01, 0x07, 0xbf}, 4},
      /* an option running past the frame */
      {"option past the end", 0, {0x21, 0x01, 0x07, 0xb5, 'h'}, 5},
      /* a reserved code class 1 request-like message */
      {"class 1", 0, {0x01, 0x21, 0x07}, 3},
      /* a CSM with an unknown critical option (RFC 8323 §5.3) */
      {"CSM critical 9", 0, {0x10, 0xE1, 0x90}, 3},
      /* Release and Abort from the client */
      {"Release", 0, {0x00, 0xE4}, 2},
      {"Abort", 0, {0x00, 0xE5}, 2},
  };
  uint8_t in[64], ans[2][4096];
  size_t nc = sizeof cases / sizeof *cases;
  for (size_t c = 0; c < nc; c++)
    for (int bytewise = 0; bytewise < 2; bytewise++) {
      size_t n[2];
      memcpy(in, hello, sizeof hello); /* a good request before it */
      memcpy(in + sizeof hello, cases[c].b, cases[c].n);
      for (int which = 0; which < 2; which++)
        n[which] = bad_case(f, which, in, sizeof hello + cases[c].n,
                            cases[c].no_csm, bytewise, ans[which],
                            sizeof ans[which]);
      if (n[0] != n[1] || memcmp(ans[0], ans[1], n[0])) {
        hexdump("fast", ans[0], n[0]);
        hexdump("general", ans[1], n[1]);
        fail_msg("%s (%s): the answers differ", cases[c].name,
                 bytewise ? "byte by byte" : "one write");
      }
      print_message("%s, %s: %zu bytes%s\n", cases[c].name,
                    bytewise ? "byte by byte" : "one write", n[0],
                    f->closed ? ", closed" : "");
    }
  client_close(f);
  rc__fast_paths_off = 0;
}

int main(int argc, char **argv) {
  if (argc > 1)
    cmocka_set_test_filter(argv[1]);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_differential, setup, teardown),
      cmocka_unit_test_setup_teardown(test_small_mms_blocks, setup, teardown),
      cmocka_unit_test_setup_teardown(test_memo_table_changes, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_pipelined_pieces, setup, teardown),
      cmocka_unit_test_setup_teardown(test_udp_differential, setup, teardown),
      cmocka_unit_test_setup_teardown(test_udp_observe_reset, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_ws_differential, setup, teardown),
      cmocka_unit_test_setup_teardown(test_random_differential, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_access_log, setup, teardown),
      cmocka_unit_test_setup_teardown(test_observe_then_plain, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_notify_rounds, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unanswered_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
      cmocka_unit_test_setup_teardown(test_malformed_elective_ignored, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
