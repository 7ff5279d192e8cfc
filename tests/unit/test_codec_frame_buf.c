/*
 * Tests for rc_frame_reader_init_fn (src/codec/frame.c): the stream reader
 * asking for a buffer per frame, the way the session uses it. Buffers are
 * malloc'ed at exactly the size asked for and freed right after the frame
 * is reported, so under ASan a write past the size or a touch after the
 * report fails the test. Checked: whole frames in the input need no
 * buffer; a split frame asks once, with its whole size; a declined frame
 * is reported OVERSIZE with its token (asked for separately), or without
 * it when the token buffer is declined too; frames over the maximum never
 * ask for a frame buffer; rc_frame_reader_hdr tells the token length even
 * when the token was not kept; the rest of a split frame read into place
 * (rc_frame_reader_room / rc_frame_reader_commit). Every split point and
 * one byte at a time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rcoap/codec_frame.h"
#include "rcoap/codec_option.h"

typedef struct asks {
  uint8_t *held;       /* the buffer given out and not yet reported */
  size_t frame_asks, token_asks;
  size_t last_need;
  int decline_frame;   /* answer NULL to whole-frame asks */
  int decline_token;   /* answer NULL to token asks */
} asks;

static uint8_t *give(void *user, const rc_tcp_hdr *h, size_t need,
                     int token_only) {
  asks *a = user;
  assert_null(a->held); /* one frame at a time */
  assert_true(need > 0);
  if (token_only) {
    assert_int_equal(need, h->token_len);
    a->token_asks++;
    if (a->decline_token)
      return NULL;
  } else {
    assert_int_equal(need, (uint64_t)h->hdr_len + h->token_len + h->body_len);
    a->frame_asks++;
    a->last_need = need;
    if (a->decline_frame)
      return NULL;
  }
  a->held = malloc(need);
  return a->held;
}

/* A PUT with a 4-byte token and a payload of n 'x' bytes, TCP framing. */
static size_t put_frame(uint8_t *out, size_t cap, size_t n) {
  static uint8_t tmp[4096], pl[2048];
  rc_enc e;
  const uint8_t *f;
  size_t len;
  memset(pl, 'x', sizeof pl);
  rc_enc_init(&e, tmp, sizeof tmp, RC_PUT, (const uint8_t *)"\1\2\3\4", 4);
  rc_enc_opt_str(&e, RC_OPT_URI_PATH, "up");
  rc_enc_payload(&e, pl, n);
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_TCP, 0, 0, &f, &len), RC_OK);
  assert_true(len <= cap);
  memcpy(out, f, len);
  return len;
}

typedef struct seen {
  int msgs, overs;
  size_t payload_len;
  uint32_t token_len;
  uint8_t token[4];
} seen;

/* Feeds in[0..len) in pieces of `piece` bytes (0: split once at `cut`). */
static void run(rc_frame_reader *r, asks *a, const uint8_t *in, size_t len,
                size_t cut, size_t piece, seen *s) {
  size_t off = 0;
  memset(s, 0, sizeof *s);
  while (off < len) {
    size_t n = piece ? piece : (off < cut ? cut - off : len - off);
    if (n > len - off)
      n = len - off;
    /* An exact copy of the piece, so reads past it are caught. */
    uint8_t *p = malloc(n), *q = p;
    memcpy(p, in + off, n);
    size_t left = n;
    while (left > 0) {
      rc_frame_event ev;
      rc_msg m;
      rc_ssize c = rc_frame_reader_feed(r, q, left, &ev, &m);
      assert_true(c >= 0 && (size_t)c <= left);
      if (ev == RC_FRAME_MSG) {
        s->msgs++;
        s->payload_len = m.payload_len;
        for (size_t i = 0; i < m.payload_len; i++)
          assert_int_equal(m.payload[i], 'x');
      } else if (ev == RC_FRAME_OVERSIZE) {
        s->overs++;
        s->token_len = m.token_len;
        if (m.token_len)
          memcpy(s->token, m.token, 4);
        assert_int_equal(rc_frame_reader_hdr(r)->token_len, 4);
      }
      if (ev != RC_FRAME_NONE) {
        free(a->held); /* the reader must not touch it any more */
        a->held = NULL;
      }
      q += c;
      left -= (size_t)c;
    }
    free(p);
    off += n;
  }
  assert_false(rc_frame_reader_busy(r));
}

static void test_split_frames_ask_once(void **state) {
  (void)state;
  uint8_t f[2048];
  size_t len = put_frame(f, sizeof f, 1000);
  for (size_t cut = 0; cut <= len; cut++) {
    asks a = {0};
    rc_frame_reader r;
    seen s;
    assert_int_equal(rc_frame_reader_init_fn(&r, 4096, give, &a), RC_OK);
    run(&r, &a, f, len, cut, 0, &s);
    assert_int_equal(s.msgs, 1);
    assert_int_equal(s.payload_len, 1000);
    /* Whole in the input (cut 0 or len): parsed in place, no buffer. */
    assert_int_equal(a.frame_asks, cut == 0 || cut == len ? 0 : 1);
    if (a.frame_asks)
      assert_int_equal(a.last_need, len);
    assert_int_equal(a.token_asks, 0);
  }
  asks a = {0};
  rc_frame_reader r;
  seen s;
  assert_int_equal(rc_frame_reader_init_fn(&r, 4096, give, &a), RC_OK);
  run(&r, &a, f, len, 0, 1, &s);
  assert_int_equal(s.msgs, 1);
  assert_int_equal(a.frame_asks, 1);
}

static void test_declined_frame(void **state) {
  (void)state;
  uint8_t f[2048];
  size_t len = put_frame(f, sizeof f, 1000);
  for (size_t piece = 1; piece <= 7; piece += 3) {
    /* Declined, token kept: OVERSIZE with the token, rest skipped. */
    asks a = {0};
    a.decline_frame = 1;
    rc_frame_reader r;
    seen s;
    assert_int_equal(rc_frame_reader_init_fn(&r, 4096, give, &a), RC_OK);
    run(&r, &a, f, len, 0, piece, &s);
    assert_int_equal(s.msgs, 0);
    assert_int_equal(s.overs, 1);
    assert_int_equal(s.token_len, 4);
    assert_memory_equal(s.token, "\1\2\3\4", 4);
    assert_int_equal(a.frame_asks, 1);
    assert_int_equal(a.token_asks, 1);
    /* Declined and no room for the token: reported without it. */
    memset(&a, 0, sizeof a);
    a.decline_frame = a.decline_token = 1;
    assert_int_equal(rc_frame_reader_init_fn(&r, 4096, give, &a), RC_OK);
    run(&r, &a, f, len, 0, piece, &s);
    assert_int_equal(s.overs, 1);
    assert_int_equal(s.token_len, 0);
  }
}

static void test_over_maximum_never_asks_for_the_frame(void **state) {
  (void)state;
  uint8_t f[4096];
  size_t one = put_frame(f, sizeof f, 1000);
  size_t two = put_frame(f + one, sizeof f - one, 10);
  asks a = {0};
  rc_frame_reader r;
  seen s;
  /* 1000 bytes of payload are over a 512-byte maximum; the small frame
   * after it is delivered. */
  assert_int_equal(rc_frame_reader_init_fn(&r, 512, give, &a), RC_OK);
  run(&r, &a, f, one + two, 0, 1, &s);
  assert_int_equal(s.overs, 1);
  assert_int_equal(s.msgs, 1);
  assert_int_equal(s.payload_len, 10);
  assert_int_equal(a.token_asks, 1);
  assert_int_equal(a.frame_asks, 1); /* only the small frame's */
  assert_int_equal(rc_frame_reader_init_fn(NULL, 1, give, &a), RC_ERR_INVAL);
  assert_int_equal(rc_frame_reader_init_fn(&r, 1, NULL, &a), RC_ERR_INVAL);
}

/* The rest of a split frame read into place: rc_frame_reader_room names
 * the first missing byte and how many are missing, rc_frame_reader_commit
 * counts bytes written there (in pieces) and delivers the frame when they
 * complete it; with no frame being gathered there is no room, and a
 * commit past the frame's end breaks the stream. Every first cut. */
static void test_room_and_commit(void **state) {
  (void)state;
  uint8_t f[2048];
  size_t len = put_frame(f, sizeof f, 1000);
  uint8_t *at;
  for (size_t cut = 1; cut < len; cut++) {
    for (size_t piece = 1; piece <= 700; piece += 233) {
      asks a = {0};
      rc_frame_reader r;
      rc_frame_event ev;
      rc_msg m;
      assert_int_equal(rc_frame_reader_init_fn(&r, 4096, give, &a), RC_OK);
      assert_int_equal(rc_frame_reader_room(&r, &at), 0);
      rc_ssize c = rc_frame_reader_feed(&r, f, cut, &ev, &m);
      assert_int_equal(c, cut);
      size_t room = rc_frame_reader_room(&r, &at);
      if (room == 0) { /* the header itself is split: feed on */
        assert_null(a.held);
        continue;
      }
      assert_non_null(a.held);
      size_t have = len - room;
      assert_ptr_equal(at, a.held + have);
      while (have < len) {
        size_t n = len - have < piece ? len - have : piece;
        assert_int_equal(rc_frame_reader_room(&r, &at), len - have);
        memcpy(at, f + have, n); /* as a read() into place would */
        c = rc_frame_reader_commit(&r, n, &ev, &m);
        assert_int_equal(c, n);
        have += n;
        assert_int_equal(ev, have == len ? RC_FRAME_MSG : RC_FRAME_NONE);
      }
      assert_int_equal(m.payload_len, 1000);
      assert_int_equal(m.payload[0], 'x');
      assert_int_equal(m.payload[999], 'x');
      assert_false(rc_frame_reader_busy(&r));
      assert_int_equal(rc_frame_reader_room(&r, &at), 0);
      free(a.held);
      a.held = NULL;
      /* No frame being gathered: a commit is refused and the stream is
       * broken, as for any reader misuse. */
      assert_int_equal(rc_frame_reader_commit(&r, 1, &ev, &m), RC_ERR_STATE);
    }
  }
  /* More than the frame misses: refused. */
  asks a = {0};
  rc_frame_reader r;
  rc_frame_event ev;
  rc_msg m;
  assert_int_equal(rc_frame_reader_init_fn(&r, 4096, give, &a), RC_OK);
  assert_int_equal(rc_frame_reader_feed(&r, f, 100, &ev, &m), 100);
  assert_int_equal(rc_frame_reader_room(&r, &at), len - 100);
  assert_int_equal(rc_frame_reader_commit(&r, len - 99, &ev, &m),
                   RC_ERR_STATE);
  free(a.held);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_room_and_commit),
      cmocka_unit_test(test_split_frames_ask_once),
      cmocka_unit_test(test_declined_frame),
      cmocka_unit_test(test_over_maximum_never_asks_for_the_frame),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
