/*
 * Fuzz target for rc_frame_reader: the stream after the first three bytes
 * is fed in pieces whose sizes come from a generator seeded by bytes 1-2;
 * byte 0 sets the maximum message size. Every event (message, oversize
 * report, error) must match a reference walk over the whole buffer with
 * rc_tcp_hdr_parse and rc_msg_parse. With bit 5 of byte 1 the reader
 * asks for a buffer per frame (rc_frame_reader_init_fn, as the session
 * uses it) and gets one of exactly the size it asks for, freed after the
 * frame's report: the events must be the same; then, with bit 4 of byte
 * 1, the rest of a half-read frame is written where rc_frame_reader_room
 * says and handed over with rc_frame_reader_commit (a read into place)
 * instead of fed. With bit 3 of byte 1 every piece goes first to
 * rc_frame_reader_feed_each (the whole-frame run): each message it gives
 * must be the next event and equal, field by field (the option summary
 * too), to what rc_msg_parse makes of the same frame bytes; the callback
 * stops the run now and then (byte 2).
 */
#include <stdlib.h>
#include <string.h>

#include "rcoap/codec_frame.h"
#include "rcoap/codec_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_EVENTS 4096

typedef struct ev {
  int kind; /* RC_FRAME_MSG, RC_FRAME_OVERSIZE, or an rc_err */
  uint8_t code;
  const uint8_t *token;
  uint32_t token_len;
  size_t payload_len, opts_len;
} ev;

static void fz_check(int cond) {
  if (!cond)
    abort();
}

/* Reference: the events the stream must produce. */
static size_t reference(const uint8_t *s, size_t len, size_t max, size_t cap,
                        ev *out) {
  size_t n = 0, off = 0;
  while (off < len && n < MAX_EVENTS) {
    rc_tcp_hdr h;
    rc_ssize hn = rc_tcp_hdr_parse(s + off, len - off, &h);
    if (hn == RC_ERR_NEED_MORE)
      break;
    if (hn < 0) {
      out[n++] = (ev){(int)hn, 0, NULL, 0, 0, 0};
      break;
    }
    uint64_t total = (uint64_t)hn + h.token_len + h.body_len;
    if (total > max) {
      if (h.token_len > cap) {
        out[n++] = (ev){RC_FRAME_OVERSIZE, h.code, NULL, 0, 0, 0};
      } else {
        if (len - off - (size_t)hn < h.token_len)
          break;
        out[n++] = (ev){RC_FRAME_OVERSIZE, h.code, s + off + hn, h.token_len,
                        0, 0};
      }
      if (total > len - off)
        break;
      off += (size_t)total;
      continue;
    }
    if (total > len - off)
      break;
    rc_msg m;
    rc_err rc = rc_msg_parse(RC_FRAMING_TCP, s + off, (size_t)total, &m);
    if (rc) {
      out[n++] = (ev){rc, 0, NULL, 0, 0, 0};
      break;
    }
    out[n++] = (ev){RC_FRAME_MSG, m.code, m.token, m.token_len,
                    m.payload_len, m.opts_len};
    off += (size_t)total;
  }
  return n;
}

/* The per-frame buffer: exactly need bytes, the fixed buffer's answer
 * (a token over cap is not kept). */
static uint8_t *g_frame;
static size_t g_cap;

static uint8_t *fz_buf(void *user, const rc_tcp_hdr *h, size_t need,
                       int token_only) {
  (void)user;
  (void)h;
  (void)token_only;
  fz_check(g_frame == NULL); /* one frame at a time */
  if (need > g_cap)
    return NULL;
  g_frame = malloc(need ? need : 1);
  return g_frame;
}

/* The whole-frame run's state: the events wanted, where the next frame
 * starts in the piece given. */
typedef struct run_ctx {
  const ev *want;
  size_t nwant, *got;
  const uint8_t *cur, *end;
  unsigned stop;
} run_ctx;

static int fz_each(void *user, const rc_msg *m) {
  run_ctx *x = user;
  rc_tcp_hdr h;
  rc_ssize hn = rc_tcp_hdr_parse(x->cur, (size_t)(x->end - x->cur), &h);
  fz_check(hn > 0);
  size_t total = (size_t)hn + h.token_len + (size_t)h.body_len;
  rc_msg ref;
  fz_check(rc_msg_parse(RC_FRAMING_TCP, x->cur, total, &ref) == RC_OK);
  fz_check(m->type == ref.type && m->code == ref.code && m->mid == ref.mid &&
           m->token_len == ref.token_len && m->token == ref.token &&
           m->opts == ref.opts && m->opts_len == ref.opts_len &&
           m->payload == ref.payload && m->payload_len == ref.payload_len &&
           m->opts_summary == ref.opts_summary &&
           m->opts_over63 == ref.opts_over63 &&
           m->opts_maxlen == ref.opts_maxlen &&
           m->opts_below64 == ref.opts_below64);
  fz_check(*x->got < x->nwant && x->want[*x->got].kind == RC_FRAME_MSG);
  const ev *w = &x->want[(*x->got)++];
  fz_check(m->code == w->code && m->token_len == w->token_len &&
           m->payload_len == w->payload_len && m->opts_len == w->opts_len);
  fz_check(!m->token_len || memcmp(m->token, w->token, m->token_len) == 0);
  x->cur += total;
  return (x->stop = x->stop * 5u + 1u) % 7u == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3)
    return 0;
  size_t max = (size_t)data[0] * 4, cap = max + (data[1] & 0x40 ? 37 : 0);
  uint32_t seed = (uint32_t)data[1] << 8 | data[2] | 1;
  const uint8_t *s = data + 3;
  size_t len = size - 3;
  static ev want[MAX_EVENTS];
  size_t nwant = reference(s, len, max, cap, want), got = 0;

  uint8_t *rbuf = malloc(cap ? cap : 1);
  rc_frame_reader r;
  int per_frame = (data[1] & 0x20) != 0;
  int in_place = per_frame && (data[1] & 0x10) != 0;
  int each = (data[1] & 0x08) != 0;
  run_ctx x = {want, nwant, &got, NULL, NULL, data[2]};
  g_cap = cap;
  if (per_frame)
    fz_check(rc_frame_reader_init_fn(&r, max, fz_buf, NULL) == RC_OK);
  else
    fz_check(rc_frame_reader_init(&r, rbuf, cap, max) == RC_OK);
  size_t off = 0;
  int dead = 0;
  while (off < len && !dead && got < MAX_EVENTS) {
    seed = seed * 1103515245u + 12345u;
    size_t piece = 1 + (seed >> 16) % (data[1] & 0x80 ? 5 : 300);
    if (piece > len - off)
      piece = len - off;
    /* a copy of exactly the piece, so reads past it are caught */
    uint8_t *in = malloc(piece);
    memcpy(in, s + off, piece);
    const uint8_t *p = in;
    size_t left = piece;
    while (left > 0) {
      rc_frame_event e;
      rc_msg m;
      uint8_t *at;
      size_t room = in_place ? rc_frame_reader_room(&r, &at) : 0;
      rc_ssize n;
      if (each && !room) {
        x.cur = p;
        x.end = p + left;
        n = rc_frame_reader_feed_each(&r, p, left, fz_each, &x);
        if (n < 0) {
          fz_check(got < nwant && want[got].kind == (int)n);
          got++;
          dead = 1;
          break;
        }
        fz_check(x.cur == p + n && (size_t)n <= left);
        p += n;
        left -= (size_t)n;
        if (left == 0)
          break;
      }
      if (room) {
        size_t k = left < room ? left : room;
        memcpy(at, p, k);
        n = rc_frame_reader_commit(&r, k, &e, &m);
        fz_check(n < 0 || (size_t)n == k);
      } else {
        n = rc_frame_reader_feed(&r, p, left, &e, &m);
      }
      if (n < 0) {
        fz_check(got < nwant && want[got].kind == (int)n);
        got++;
        dead = 1;
        break;
      }
      fz_check((size_t)n <= left && (e != RC_FRAME_NONE || (size_t)n == left));
      if (e != RC_FRAME_NONE) {
        fz_check(got < nwant && want[got].kind == (int)e);
        const ev *w = &want[got++];
        fz_check(m.code == w->code && m.token_len == w->token_len &&
                 m.payload_len == w->payload_len &&
                 m.opts_len == w->opts_len);
        fz_check(!m.token_len || memcmp(m.token, w->token, m.token_len) == 0);
        free(g_frame); /* the reader never touches it after the report */
        g_frame = NULL;
      }
      p += n;
      left -= (size_t)n;
    }
    free(in);
    off += piece;
  }
  fz_check(got == nwant);
  free(g_frame);
  g_frame = NULL;
  free(rbuf);
  return 0;
}
