/*
 * Tests for src/codec/frame.c: RFC 8323 §3.2 header parsing at every
 * prefix, and the stream reader fed a stream of many frames back to back
 * split at every byte boundary, one byte at a time and in random pieces,
 * always yielding the same messages; zero-copy when a frame is whole in the
 * input; oversize frames reported (code and token) and skipped with the next
 * frame still read; broken streams failing with the named error; the
 * whole-frame run (rc_frame_reader_feed_each) giving the same messages,
 * stopping where it must, and failing the same way; and a frame whose
 * options and payload repeat the previous frame's (the run's reuse of
 * that scan) given as it is alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "codec_testgen.h"
#include "rcoap/codec_frame.h"
#include "rcoap/codec_msg.h"

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__})

/* What a stream should yield, and what it did yield. */
#define MAX_EV 512
typedef struct rec {
  int ev;
  uint8_t code;
  size_t off, len; /* MSG: the frame's bytes; OVERSIZE: its token */
  /* MSG: what the parser's one walk saw of the options (rc_msg) */
  uint8_t summary, over63;
  uint32_t maxlen;
  uint64_t below64;
} rec;
typedef struct log {
  size_t n;
  rec r[MAX_EV];
  size_t used;
  uint8_t *bytes; /* MSG: re-encoded frame; OVERSIZE: token */
  size_t cap;
} log;

static void log_init(log *l, size_t cap) {
  memset(l, 0, sizeof(*l));
  l->bytes = malloc(cap);
  l->cap = cap;
  assert_non_null(l->bytes);
}

/* The option summary of m into e. */
static void rec_summary(rec *e, const rc_msg *m) {
  e->summary = m->opts_summary;
  e->over63 = m->opts_over63;
  e->maxlen = m->opts_maxlen;
  e->below64 = m->opts_below64;
}

static void log_add(log *l, int ev, uint8_t code, const uint8_t *b, size_t n) {
  assert_true(l->n < MAX_EV);
  assert_true(l->used + n <= l->cap);
  rec e = {ev, code, l->used, n, 0, 0, 0, 0};
  rc_msg m;
  if (ev == RC_FRAME_MSG) { /* the summary rc_msg_parse gives the frame */
    assert_int_equal(rc_msg_parse(RC_FRAMING_TCP, b, n, &m), RC_OK);
    rec_summary(&e, &m);
  }
  l->r[l->n++] = e;
  if (n)
    memcpy(l->bytes + l->used, b, n);
  l->used += n;
}

static void log_event(log *l, rc_frame_event ev, const rc_msg *m) {
  if (ev == RC_FRAME_MSG) {
    size_t n = rc_msg_encoded_len(m, RC_FRAMING_TCP);
    assert_true(l->used + n <= l->cap);
    size_t len;
    assert_int_equal(rc_msg_encode(m, RC_FRAMING_TCP, l->bytes + l->used,
                                   l->cap - l->used, &len),
                     RC_OK);
    rec e = {RC_FRAME_MSG, m->code, l->used, len, 0, 0, 0, 0};
    rec_summary(&e, m);
    assert_true(l->n < MAX_EV);
    l->r[l->n++] = e;
    l->used += len;
  } else if (ev == RC_FRAME_OVERSIZE) {
    assert_int_equal(m->opts_len, 0);
    assert_int_equal(m->payload_len, 0);
    log_add(l, RC_FRAME_OVERSIZE, m->code, m->token, m->token_len);
  }
}

static void assert_logs_equal(const log *a, const log *b) {
  assert_int_equal(a->n, b->n);
  for (size_t i = 0; i < a->n; i++) {
    assert_int_equal(a->r[i].ev, b->r[i].ev);
    assert_int_equal(a->r[i].code, b->r[i].code);
    assert_int_equal(a->r[i].len, b->r[i].len);
    assert_int_equal(a->r[i].summary, b->r[i].summary);
    assert_int_equal(a->r[i].over63, b->r[i].over63);
    assert_int_equal(a->r[i].maxlen, b->r[i].maxlen);
    assert_true(a->r[i].below64 == b->r[i].below64);
    assert_memory_equal(a->bytes + a->r[i].off, b->bytes + b->r[i].off,
                        a->r[i].len);
  }
}

/* Feeds in[0..len) completely, logging every event. */
static void feed_all(rc_frame_reader *r, const uint8_t *in, size_t len,
                     log *l) {
  /* each call either consumes a byte or reports an event: bounded */
  for (size_t guard = 0; len > 0; guard++) {
    assert_true(guard <= 2 * MAX_EV + len + 1);
    rc_frame_event ev;
    rc_msg m;
    rc_ssize n = rc_frame_reader_feed(r, in, len, &ev, &m);
    if (n < 0)
      fail_msg("feed: %s", rc_err_name((int)n));
    assert_true((size_t)n <= len);
    if (ev == RC_FRAME_NONE)
      assert_int_equal(n, len);
    log_event(l, ev, &m);
    in += n;
    len -= (size_t)n;
  }
}

/* The whole-frame run's callback: logs; stops the run when *user says
 * after that many messages (0: never). */
typedef struct each_ctx {
  log *l;
  size_t stop_after, calls;
  const uint8_t *payload; /* the last message's */
} each_ctx;

static int each_log(void *user, const rc_msg *m) {
  each_ctx *x = user;
  log_event(x->l, RC_FRAME_MSG, m);
  x->payload = m->payload;
  x->calls++;
  return x->stop_after != 0 && x->calls % x->stop_after == 0;
}

/* As feed_all, each piece first through the whole-frame run. */
static void feed_all_each(rc_frame_reader *r, const uint8_t *in, size_t len,
                          each_ctx *x) {
  for (size_t guard = 0; len > 0; guard++) {
    assert_true(guard <= 2 * MAX_EV + len + 1);
    rc_ssize n = rc_frame_reader_feed_each(r, in, len, each_log, x);
    if (n < 0)
      fail_msg("feed_each: %s", rc_err_name((int)n));
    assert_true((size_t)n <= len);
    in += n;
    len -= (size_t)n;
    if (len == 0)
      break;
    rc_frame_event ev;
    rc_msg m;
    n = rc_frame_reader_feed(r, in, len, &ev, &m);
    if (n < 0)
      fail_msg("feed: %s", rc_err_name((int)n));
    log_event(x->l, ev, &m);
    in += n;
    len -= (size_t)n;
  }
}

/* ---- header ---------------------------------------------------------------- */

static void test_hdr_prefixes(void **state) {
  (void)state;
  /* Len 15 (4-byte ext), TKL 14 (2-byte ext): the longest header */
  static const uint8_t h8[] = {0xfe, 0, 0, 0, 1, 0x45, 0x00, 0x02};
  rc_tcp_hdr h;
  for (size_t n = 0; n < sizeof(h8); n++)
    assert_int_equal(rc_tcp_hdr_parse(h8, n, &h), RC_ERR_NEED_MORE);
  assert_int_equal(rc_tcp_hdr_parse(h8, sizeof(h8), &h), 8);
  assert_int_equal(h.hdr_len, 8);
  assert_int_equal(h.code, RC_CONTENT);
  assert_int_equal(h.token_len, 269 + 2);
  assert_int_equal(h.body_len, 65805 + 1);
  /* the RFC 8323 figure */
  assert_int_equal(rc_tcp_hdr_parse(BYTES(0x01, 0x43, 0x7f), 3, &h), 2);
  assert_int_equal(h.token_len, 1);
  assert_int_equal(h.body_len, 0);
  /* TKL 15 is refused as soon as the first byte is there */
  assert_int_equal(rc_tcp_hdr_parse(BYTES(0x0f), 1, &h), RC_ERR_TKL_RESERVED);
  assert_int_equal(rc_tcp_hdr_parse(NULL, 0, &h), RC_ERR_NEED_MORE);
  /* the largest body a 32-bit extension describes */
  assert_int_equal(
      rc_tcp_hdr_parse(BYTES(0xf0, 0xff, 0xff, 0xff, 0xff, 0x01), 6, &h), 6);
  assert_int_equal(h.body_len, 0xffffffffull + 65805);
}

/* ---- streams ---------------------------------------------------------------- */

/* Builds a stream of `count` random TCP frames of at most `max_frame`
 * bytes, plus the RFC/libcoap vectors, logging what it should yield. */
static size_t build_stream(uint64_t seed, int count, size_t max_frame,
                           uint8_t *out, size_t cap, log *want) {
  static const uint8_t fixed[] = {0x50, 0xe1, 0x23, 0x80, 0x01, 0x00, 0x20,
                                  0x00, 0xe2, 0x10, 0xe3, 0x20, 0x01, 0x43,
                                  0x7f};
  static uint8_t tmp[65536];
  tg_rng r = {seed};
  tg_pool_init(&r);
  size_t len = 0;
  memcpy(out, fixed, sizeof(fixed));
  len = sizeof(fixed);
  log_add(want, RC_FRAME_MSG, RC_SIG_CSM, fixed, 7);
  log_add(want, RC_FRAME_MSG, RC_SIG_PING, fixed + 7, 2);
  log_add(want, RC_FRAME_MSG, RC_SIG_PONG, fixed + 9, 3);
  log_add(want, RC_FRAME_MSG, RC_VALID, fixed + 12, 3);
  for (int i = 0; i < count;) {
    tg_msg g;
    const uint8_t *f;
    size_t n;
    tg_gen(&r, RC_FRAMING_TCP, &g);
    assert_int_equal(tg_encode(&g, RC_FRAMING_TCP, tmp, sizeof(tmp), &f, &n),
                     RC_OK);
    if (n > max_frame || len + n > cap)
      continue;
    memcpy(out + len, f, n);
    log_add(want, RC_FRAME_MSG, g.code, f, n);
    len += n;
    i++;
  }
  return len;
}

static void test_split_everywhere(void **state) {
  (void)state;
  static uint8_t stream[8192], rbuf[1024];
  log want, got;
  log_init(&want, 16384);
  size_t len = build_stream(7, 40, 200, stream, sizeof(stream), &want);
  assert_true(want.n == 44);
  print_message("split everywhere: %zu bytes, %zu frames\n", len, want.n);
  for (size_t k = 0; k <= len; k++) {
    rc_frame_reader r;
    assert_int_equal(rc_frame_reader_init(&r, rbuf, sizeof(rbuf), 1024),
                     RC_OK);
    log_init(&got, 16384);
    /* exact-size copies of each half, so ASan sees any overread */
    uint8_t *a = malloc(k ? k : 1), *b = malloc(len - k ? len - k : 1);
    memcpy(a, stream, k);
    memcpy(b, stream + k, len - k);
    feed_all(&r, a, k, &got);
    feed_all(&r, b, len - k, &got);
    assert_false(rc_frame_reader_busy(&r));
    assert_logs_equal(&want, &got);
    free(a);
    free(b);
    free(got.bytes);
  }
  free(want.bytes);
}

static void test_one_byte_and_random_pieces(void **state) {
  (void)state;
  static uint8_t stream[1 << 20];
  static uint8_t rbuf[70000];
  log want, got;
  log_init(&want, 1 << 21);
  size_t len = build_stream(11, 300, 70000, stream, sizeof(stream), &want);
  rc_frame_reader r;

  /* one byte at a time, each byte in its own exact-size allocation */
  assert_int_equal(rc_frame_reader_init(&r, rbuf, sizeof(rbuf), sizeof(rbuf)),
                   RC_OK);
  log_init(&got, 1 << 21);
  size_t frame = 0, frame_end = want.r[0].len;
  for (size_t i = 0; i < len; i++) {
    uint8_t *one = malloc(1);
    *one = stream[i];
    feed_all(&r, one, 1, &got);
    free(one);
    /* busy exactly while the bytes fed end inside a frame */
    if (i + 1 == frame_end) {
      assert_false(rc_frame_reader_busy(&r));
      assert_int_equal(got.n, frame + 1);
      if (++frame < want.n)
        frame_end += want.r[frame].len;
    } else {
      assert_true(rc_frame_reader_busy(&r));
    }
  }
  assert_int_equal(frame, want.n);
  print_message("one byte at a time: %zu bytes, %zu frames\n", len, want.n);
  assert_false(rc_frame_reader_busy(&r));
  assert_logs_equal(&want, &got);
  free(got.bytes);

  /* random pieces, several seeds */
  for (uint64_t seed = 1; seed <= 20; seed++) {
    tg_rng pr = {seed * 7919};
    assert_int_equal(
        rc_frame_reader_init(&r, rbuf, sizeof(rbuf), sizeof(rbuf)), RC_OK);
    log_init(&got, 1 << 21);
    size_t off = 0;
    while (off < len) {
      size_t piece = 1 + tg_below(&pr, seed < 10 ? 16 : 3000);
      if (piece > len - off)
        piece = len - off;
      feed_all(&r, stream + off, piece, &got);
      off += piece;
    }
    assert_logs_equal(&want, &got);
    free(got.bytes);
  }
  /* and the whole stream at once: every frame parsed in place */
  assert_int_equal(rc_frame_reader_init(&r, rbuf, sizeof(rbuf), sizeof(rbuf)),
                   RC_OK);
  log_init(&got, 1 << 21);
  feed_all(&r, stream, len, &got);
  assert_logs_equal(&want, &got);
  free(got.bytes);
  free(want.bytes);
}

static void test_zero_copy(void **state) {
  (void)state;
  static const uint8_t two[] = {0x01, 0x43, 0x7f, 0x31, 0x45, 0x01,
                                0xff, 'h',  'i'};
  uint8_t rbuf[64];
  rc_frame_reader r;
  rc_frame_event ev;
  rc_msg m;
  assert_int_equal(rc_frame_reader_init(&r, rbuf, sizeof(rbuf), 64), RC_OK);
  assert_int_equal(rc_frame_reader_feed(&r, two, sizeof(two), &ev, &m), 3);
  assert_int_equal(ev, RC_FRAME_MSG);
  assert_ptr_equal(m.token, two + 2);
  assert_int_equal(rc_frame_reader_feed(&r, two + 3, 6, &ev, &m), 6);
  assert_int_equal(ev, RC_FRAME_MSG);
  assert_ptr_equal(m.payload, two + 7);
  /* split: the message is in the reassembly buffer instead */
  assert_int_equal(rc_frame_reader_feed(&r, two + 3, 4, &ev, &m), 4);
  assert_int_equal(ev, RC_FRAME_NONE);
  assert_true(rc_frame_reader_busy(&r));
  assert_int_equal(rc_frame_reader_feed(&r, two + 7, 2, &ev, &m), 2);
  assert_int_equal(ev, RC_FRAME_MSG);
  assert_true(m.payload >= rbuf && m.payload < rbuf + sizeof(rbuf));
  assert_memory_equal(m.payload, "hi", 2);
  assert_false(rc_frame_reader_busy(&r));
}

/* Small frame, oversize frame, small frame: MSG, OVERSIZE (with code and
 * token), MSG; at every split point and one byte at a time. */
static void test_oversize(void **state) {
  (void)state;
  static uint8_t stream[4096], payload[300];
  uint8_t rbuf[64];
  log want, got;
  log_init(&want, 8192);
  const uint8_t *f;
  size_t n, len = 0;
  rc_enc e;
  uint8_t tmp[1024];
  static const uint8_t tok[4] = {0xde, 0xad, 0xbe, 0xef};

  /* 1: GET /a (fits) */
  rc_enc_init(&e, tmp, sizeof(tmp), RC_GET, tok, 2);
  rc_enc_opt_str(&e, RC_OPT_URI_PATH, "a");
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_TCP, 0, 0, &f, &n), RC_OK);
  memcpy(stream + len, f, n);
  len += n;
  log_add(&want, RC_FRAME_MSG, RC_GET, f, n);
  /* 2: PUT with 300 bytes (over 64): reported with its 4-byte token */
  memset(payload, 'x', sizeof(payload));
  rc_enc_init(&e, tmp, sizeof(tmp), RC_PUT, tok, 4);
  rc_enc_opt_str(&e, RC_OPT_URI_PATH, "big");
  rc_enc_payload(&e, payload, sizeof(payload));
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_TCP, 0, 0, &f, &n), RC_OK);
  memcpy(stream + len, f, n);
  len += n;
  log_add(&want, RC_FRAME_OVERSIZE, RC_PUT, tok, 4);
  /* 3: a frame whose 100-byte token alone exceeds the buffer: reported
   * without its token */
  static uint8_t longtok[100];
  memset(longtok, 7, sizeof(longtok));
  rc_enc_init(&e, tmp, sizeof(tmp), RC_POST, longtok, sizeof(longtok));
  rc_enc_payload(&e, "z", 1);
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_TCP, 0, 0, &f, &n), RC_OK);
  memcpy(stream + len, f, n);
  len += n;
  log_add(&want, RC_FRAME_OVERSIZE, RC_POST, NULL, 0);
  /* 4: an oversize frame with only a header and token (body 0) */
  rc_enc_init(&e, tmp, sizeof(tmp), RC_GET, longtok, 62);
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_TCP, 0, 0, &f, &n), RC_OK);
  memcpy(stream + len, f, n);
  len += n;
  log_add(&want, RC_FRAME_OVERSIZE, RC_GET, longtok, 62);
  /* 5: Pong */
  memcpy(stream + len, BYTES(0x10, 0xe3, 0x20), 3);
  log_add(&want, RC_FRAME_MSG, RC_SIG_PONG, stream + len, 3);
  len += 3;

  for (size_t k = 0; k <= len; k++) {
    rc_frame_reader r;
    assert_int_equal(rc_frame_reader_init(&r, rbuf, sizeof(rbuf), 64), RC_OK);
    log_init(&got, 8192);
    feed_all(&r, stream, k, &got);
    feed_all(&r, stream + k, len - k, &got);
    assert_logs_equal(&want, &got);
    free(got.bytes);
  }
  rc_frame_reader r;
  assert_int_equal(rc_frame_reader_init(&r, rbuf, sizeof(rbuf), 64), RC_OK);
  log_init(&got, 8192);
  for (size_t i = 0; i < len; i++)
    feed_all(&r, stream + i, 1, &got);
  assert_logs_equal(&want, &got);
  free(got.bytes);
  free(want.bytes);

  /* the maximum counts the whole frame: exactly max fits, max - 1 not */
  static const uint8_t fig[] = {0x01, 0x43, 0x7f};
  rc_frame_event ev;
  rc_msg m;
  assert_int_equal(rc_frame_reader_init(&r, rbuf, sizeof(rbuf), 3), RC_OK);
  assert_int_equal(rc_frame_reader_feed(&r, fig, 3, &ev, &m), 3);
  assert_int_equal(ev, RC_FRAME_MSG);
  assert_int_equal(rc_frame_reader_set_max(&r, 2), RC_OK);
  assert_int_equal(rc_frame_reader_feed(&r, fig, 3, &ev, &m), 3);
  assert_int_equal(ev, RC_FRAME_OVERSIZE);
  assert_int_equal(m.code, RC_VALID);
  assert_int_equal(m.token_len, 1);
  assert_int_equal(rc_frame_reader_set_max(&r, sizeof(rbuf) + 1),
                   RC_ERR_INVAL);
}

static void test_broken_stream(void **state) {
  (void)state;
  uint8_t rbuf[64];
  rc_frame_reader r;
  rc_frame_event ev;
  rc_msg m;
  static const struct {
    uint8_t b[8];
    size_t n;
    rc_err want;
  } cases[] = {
      {{0x01, 0x43, 0x7f, 0x0f}, 4, RC_ERR_TKL_RESERVED},
      {{0x01, 0x43, 0x7f, 0x10, 0x45, 0xff}, 6, RC_ERR_EMPTY_PAYLOAD},
      {{0x01, 0x43, 0x7f, 0x10, 0x01, 0xf0}, 6, RC_ERR_OPT_DELTA_RESERVED},
      {{0x01, 0x43, 0x7f, 0x20, 0x01, 0x05, 0x01}, 7, RC_ERR_OPT_TRUNCATED},
      {{0x01, 0x43, 0x7f, 0x30, 0x01, 0xe0, 0xff, 0xff}, 8,
       RC_ERR_OPT_NUMBER_OVERFLOW},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    /* whole, and one byte at a time */
    for (int bytewise = 0; bytewise <= 1; bytewise++) {
      assert_int_equal(rc_frame_reader_init(&r, rbuf, sizeof(rbuf), 64),
                       RC_OK);
      rc_ssize n = rc_frame_reader_feed(&r, cases[i].b, 3, &ev, &m);
      assert_int_equal(n, 3);
      assert_int_equal(ev, RC_FRAME_MSG);
      rc_ssize rc = 0;
      if (!bytewise) {
        rc = rc_frame_reader_feed(&r, cases[i].b + 3, cases[i].n - 3, &ev, &m);
      } else {
        for (size_t j = 3; j < cases[i].n && rc >= 0; j++)
          rc = rc_frame_reader_feed(&r, cases[i].b + j, 1, &ev, &m);
      }
      assert_int_equal(rc, cases[i].want);
      /* the reader is dead from now on */
      assert_int_equal(rc_frame_reader_feed(&r, cases[i].b, 3, &ev, &m),
                       RC_ERR_STATE);
    }
  }
  assert_int_equal(rc_frame_reader_init(&r, rbuf, 10, 11), RC_ERR_INVAL);
  assert_int_equal(rc_frame_reader_init(&r, NULL, 10, 10), RC_ERR_INVAL);
  assert_int_equal(rc_frame_reader_init(&r, rbuf, 10, 10), RC_OK);
  assert_int_equal(rc_frame_reader_feed(&r, NULL, 0, &ev, &m), 0);
  assert_int_equal(ev, RC_FRAME_NONE);
  assert_int_equal(rc_frame_reader_feed(&r, NULL, 1, &ev, &m), RC_ERR_INVAL);
}

/* The whole-frame run: at every split point (each half through the run,
 * then the reader for what it leaves), with and without the callback
 * stopping it, the same messages as the reader alone; messages where they
 * lie; it leaves an oversize frame to the reader; a malformed frame kills
 * the reader after the frames before it were given. */
static void test_feed_each(void **state) {
  (void)state;
  static uint8_t stream[8192], rbuf[1024];
  log want, got;
  log_init(&want, 16384);
  size_t len = build_stream(7, 40, 200, stream, sizeof(stream), &want);
  for (size_t stop = 0; stop <= 3; stop += 3) {
    for (size_t k = 0; k <= len; k++) {
      rc_frame_reader r;
      assert_int_equal(rc_frame_reader_init(&r, rbuf, sizeof(rbuf), 1024),
                       RC_OK);
      log_init(&got, 16384);
      each_ctx x = {&got, stop, 0, NULL};
      uint8_t *a = malloc(k ? k : 1), *b = malloc(len - k ? len - k : 1);
      memcpy(a, stream, k);
      memcpy(b, stream + k, len - k);
      feed_all_each(&r, a, k, &x);
      feed_all_each(&r, b, len - k, &x);
      assert_false(rc_frame_reader_busy(&r));
      assert_logs_equal(&want, &got);
      assert_true(x.calls > 0);
      free(a);
      free(b);
      free(got.bytes);
    }
  }
  free(want.bytes);

  /* two whole frames, then one over the maximum (8 bytes), then a split
   * one: the run gives two, in place, and stops at the big one */
  static const uint8_t s3[] = {0x01, 0x43, 0x7f, 0x31, 0x45, 0x01, 0xff, 'h',
                               'i',  0x71, 0x45, 0x01, 1,    2,    3,    4,
                               5,    6,    7,    0x10, 0x45};
  rc_frame_reader r;
  assert_int_equal(rc_frame_reader_init(&r, rbuf, 8, 8), RC_OK);
  log_init(&got, 256);
  each_ctx x = {&got, 0, 0, NULL};
  assert_int_equal(rc_frame_reader_feed_each(&r, s3, sizeof s3, each_log, &x),
                   9);
  assert_int_equal(x.calls, 2);
  assert_int_equal(got.r[0].code, 0x43);
  assert_int_equal(got.r[1].code, 0x45);
  rc_frame_event ev;
  rc_msg m;
  assert_int_equal(rc_frame_reader_feed(&r, s3 + 9, sizeof s3 - 9, &ev, &m),
                   3);
  assert_int_equal(ev, RC_FRAME_OVERSIZE);
  assert_int_equal(m.token_len, 1);
  assert_int_equal(m.token[0], 0x01);
  /* mid-skip: the run gives nothing, the reader skips */
  assert_int_equal(
      rc_frame_reader_feed_each(&r, s3 + 12, sizeof s3 - 12, each_log, &x), 0);
  assert_int_equal(rc_frame_reader_feed(&r, s3 + 12, 7, &ev, &m), 7);
  assert_int_equal(ev, RC_FRAME_NONE);
  /* a header alone: nothing whole, the reader keeps it */
  assert_int_equal(
      rc_frame_reader_feed_each(&r, s3 + 19, 2, each_log, &x), 0);
  assert_int_equal(x.calls, 2);
  free(got.bytes);

  /* the message points into the input */
  static const uint8_t one[] = {0x31, 0x45, 0x01, 0xff, 'h', 'i'};
  assert_int_equal(rc_frame_reader_init(&r, rbuf, 64, 64), RC_OK);
  log_init(&got, 256);
  x = (each_ctx){&got, 0, 0, NULL};
  assert_int_equal(rc_frame_reader_feed_each(&r, one, sizeof one, each_log,
                                             &x),
                   6);
  assert_ptr_equal(x.payload, one + 4);
  free(got.bytes);

  /* a good frame, then a malformed one: the first is given, then the
   * error, and the reader is dead */
  static const uint8_t bad[] = {0x01, 0x43, 0x7f, 0x10, 0x45, 0xff};
  assert_int_equal(rc_frame_reader_init(&r, rbuf, 64, 64), RC_OK);
  log_init(&got, 256);
  x = (each_ctx){&got, 0, 0, NULL};
  assert_int_equal(rc_frame_reader_feed_each(&r, bad, sizeof bad, each_log,
                                             &x),
                   RC_ERR_EMPTY_PAYLOAD);
  assert_int_equal(x.calls, 1);
  assert_int_equal(rc_frame_reader_feed_each(&r, bad, 3, each_log, &x),
                   RC_ERR_STATE);
  assert_int_equal(rc_frame_reader_feed_each(&r, NULL, 1, each_log, &x),
                   RC_ERR_INVAL);
  free(got.bytes);
}

/* Feeds stream[0..len) in pieces: size 0 means random sizes from pr
 * below `below`, else `size` bytes each; through the whole-frame run
 * (each != NULL) or frame by frame. */
static void feed_pieces(rc_frame_reader *r, const uint8_t *stream, size_t len,
                        size_t size, tg_rng *pr, size_t below, each_ctx *each,
                        log *l) {
  for (size_t off = 0; off < len;) {
    size_t piece = size ? size : 1 + tg_below(pr, below);
    if (piece > len - off)
      piece = len - off;
    /* an exact-size copy, so ASan sees any overread past the piece */
    uint8_t *p = malloc(piece);
    memcpy(p, stream + off, piece);
    if (each)
      feed_all_each(r, p, piece, each);
    else
      feed_all(r, p, piece, l);
    free(p);
    off += piece;
  }
}

/* The whole-frame run against the want log and against the frame-by-frame
 * reader on a stream of large frames (every RFC 8323 Len class, 13, 14
 * and 15 included) cut into pieces: one byte at a time, every fixed size
 * up to 80, random sizes; each message the same, field by field with the
 * option summary. Then with a reader whose maximum is below many of the
 * frames: the same messages and the same oversize events (their tokens)
 * either way. */
static void test_feed_each_pieces(void **state) {
  (void)state;
  static uint8_t stream[1 << 20];
  static uint8_t rbuf[70000];
  log want, got;
  log_init(&want, 1 << 21);
  size_t len = build_stream(23, 300, 70000, stream, sizeof(stream), &want);
  /* and a frame of Len class 15 (a 4-byte extension: body 65,806 bytes,
   * a payload of 65,805), then a small one */
  static const uint8_t big_hdr[] = {0xf2, 0, 0, 0, 1, RC_CONTENT, 0xab, 0xcd,
                                    0xff};
  uint8_t *big = stream + len;
  memcpy(big, big_hdr, sizeof big_hdr);
  memset(big + sizeof big_hdr, 'z', 65805);
  log_add(&want, RC_FRAME_MSG, RC_CONTENT, big, sizeof big_hdr + 65805);
  len += sizeof big_hdr + 65805;
  static const uint8_t small[] = {0x01, 0x43, 0x7f};
  memcpy(stream + len, small, sizeof small);
  log_add(&want, RC_FRAME_MSG, RC_VALID, small, sizeof small);
  len += sizeof small;
  rc_frame_reader r;
  size_t sizes[] = {1, 2, 3, 5, 7, 8, 13, 16, 31, 64, 80, 269, 1000, 65536};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes + 12; i++) {
    tg_rng pr = {i * 104729 + 1};
    size_t size = i < sizeof sizes / sizeof *sizes ? sizes[i] : 0;
    assert_int_equal(
        rc_frame_reader_init(&r, rbuf, sizeof(rbuf), sizeof(rbuf)), RC_OK);
    log_init(&got, 1 << 21);
    each_ctx x = {&got, i % 3 == 2 ? 5 : 0, 0, NULL};
    feed_pieces(&r, stream, len, size, &pr, i % 2 ? 40 : 5000, &x, &got);
    assert_false(rc_frame_reader_busy(&r));
    assert_logs_equal(&want, &got);
    free(got.bytes);
  }
  print_message("whole-frame run in pieces: %zu bytes, %zu frames\n", len,
                want.n);
  free(want.bytes);

  /* a reader maximum of 1024: the frames over it are oversize events */
  for (size_t i = 0; i < 8; i++) {
    log slow, fast;
    log_init(&slow, 1 << 21);
    log_init(&fast, 1 << 21);
    tg_rng p1 = {i + 99}, p2 = {i + 99};
    size_t size = i < 3 ? (size_t[]){1, 7, 1023}[i] : 0;
    assert_int_equal(rc_frame_reader_init(&r, rbuf, 1024, 1024), RC_OK);
    feed_pieces(&r, stream, len, size, &p1, 3000, NULL, &slow);
    assert_int_equal(rc_frame_reader_init(&r, rbuf, 1024, 1024), RC_OK);
    each_ctx x = {&fast, 0, 0, NULL};
    feed_pieces(&r, stream, len, size, &p2, 3000, &x, &fast);
    assert_logs_equal(&slow, &fast);
    size_t over = 0;
    for (size_t k = 0; k < slow.n; k++)
      over += slow.r[k].ev == RC_FRAME_OVERSIZE;
    assert_true(over > 0 && over < slow.n);
    free(slow.bytes);
    free(fast.bytes);
  }
}

/* A frame's options and payload, tkl 2 (token tag, tag + 1), code 0.01,
 * at out; returns the frame's length. */
static size_t frame_with(uint8_t *out, uint8_t tag, const uint8_t *rest,
                         size_t n) {
  size_t h = 0;
  if (n < 13) {
    out[h++] = (uint8_t)(n << 4 | 2);
  } else {
    out[h++] = 0xd2;
    out[h++] = (uint8_t)(n - 13);
  }
  out[h++] = 0x01;
  out[h++] = tag;
  out[h++] = (uint8_t)(tag + 1);
  memcpy(out + h, rest, n);
  return h + n;
}

typedef struct kept {
  size_t n;
  rc_msg m[4];
} kept;

static int each_keep(void *user, const rc_msg *m) {
  kept *k = user;
  assert_true(k->n < 4);
  k->m[k->n++] = *m;
  return 0;
}

/* got, a message of the frame at fg, is what want is for the same frame
 * at fw: every field, the pointers at the same offsets. */
static void assert_msg_same(const rc_msg *got, const uint8_t *fg,
                            const rc_msg *want, const uint8_t *fw) {
#define OFF(m, f, base) ((m)->f ? (m)->f - (base) : -1)
  assert_int_equal(got->code, want->code);
  assert_int_equal(got->token_len, want->token_len);
  assert_int_equal(OFF(got, token, fg), OFF(want, token, fw));
  assert_int_equal(got->opts_len, want->opts_len);
  assert_int_equal(OFF(got, opts, fg), OFF(want, opts, fw));
  assert_int_equal(got->payload_len, want->payload_len);
  assert_int_equal(OFF(got, payload, fg), OFF(want, payload, fw));
  assert_int_equal(got->opts_summary, want->opts_summary);
  assert_int_equal(got->opts_over63, want->opts_over63);
  assert_int_equal(got->opts_maxlen, want->opts_maxlen);
  assert_true(got->opts_below64 == want->opts_below64);
#undef OFF
}

/* The whole-frame run takes a frame whose options and payload are the
 * previous frame's bytes (4 to 16 of them) without scanning them again:
 * a run of X, Y, Y gives for each Y what a run of that frame alone gives
 * (fields, pointers, option summary; or the same error), for Y the same
 * as X, X with any one byte changed (two ways), or one byte shorter. */
static void test_feed_each_same_options(void **state) {
  (void)state;
  static const uint8_t regions[][16] = {
      {0xb5, 'h', 'e', 'l', 'l', 'o'},
      {0xb5, 'h', 'e', 'l', 'l', 'o', 0xff, 'x'},
      {0x31, 'a', 0xff, 'z'},
      {0xb5, 'h', 'e', 'l', 'l', 'o', 0x05, 'w', 'o', 'r', 'l', 'd', 0x11,
       0x2a, 0xff, 'p'},
      {0xb2, 'a', 'b', 0x03, 'c', 'd', 'e', 0x11, 0x2a, 0xff, 'q', 'r'},
      {0x61, 0xff, 0x01, 0x02, 0x13, 1, 2, 3, 0xff, 0x00, 0x00},
      {0x31, 'a', 0x01, 'b', 0x11, 'c'},
      {0x31, 'a', 0x11, 'b', 0xff, 'z', 'y'},
  };
  static const size_t lens[] = {6, 8, 4, 16, 12, 11, 6, 7};
  static uint8_t rbuf[64];
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    const uint8_t *x = regions[i];
    size_t xn = lens[i];
    for (size_t v = 0; v <= 2 * xn + 1; v++) {
      uint8_t y[16];
      size_t yn = xn;
      memcpy(y, x, xn);
      if (v < 2 * xn)
        y[v / 2] ^= v % 2 ? 0x80 : 0x01; /* one byte changed */
      else if (v == 2 * xn + 1)
        yn--; /* one shorter */
      /* what Y alone gives */
      uint8_t alone[32], run[96];
      size_t an = frame_with(alone, 9, y, yn);
      rc_frame_reader r;
      kept ka = {0}, kr = {0};
      assert_int_equal(rc_frame_reader_init(&r, rbuf, sizeof rbuf, 64), RC_OK);
      rc_ssize na = rc_frame_reader_feed_each(&r, alone, an, each_keep, &ka);
      /* X, Y, Y in one run */
      size_t f1 = frame_with(run, 1, x, xn);
      size_t f2 = frame_with(run + f1, 3, y, yn);
      size_t f3 = frame_with(run + f1 + f2, 5, y, yn);
      assert_int_equal(rc_frame_reader_init(&r, rbuf, sizeof rbuf, 64), RC_OK);
      rc_ssize nr =
          rc_frame_reader_feed_each(&r, run, f1 + f2 + f3, each_keep, &kr);
      if (na < 0) {
        assert_int_equal(nr, na);
        assert_true(kr.n <= 1);
        continue;
      }
      assert_int_equal(na, an);
      assert_int_equal(nr, f1 + f2 + f3);
      assert_int_equal(kr.n, 3);
      assert_msg_same(&kr.m[1], run + f1, &ka.m[0], alone);
      assert_msg_same(&kr.m[2], run + f1 + f2, &ka.m[0], alone);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hdr_prefixes),
      cmocka_unit_test(test_split_everywhere),
      cmocka_unit_test(test_one_byte_and_random_pieces),
      cmocka_unit_test(test_zero_copy),
      cmocka_unit_test(test_oversize),
      cmocka_unit_test(test_broken_stream),
      cmocka_unit_test(test_feed_each),
      cmocka_unit_test(test_feed_each_pieces),
      cmocka_unit_test(test_feed_each_same_options),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
