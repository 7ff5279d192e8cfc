/*
 * floor_notifier: the least a coap+tcp server can do per notification, as
 * the floor rcoapd's observe fan-out is compared with (bench/observe.sh).
 *
 * One thread, one epoll loop, no library. It listens on 127.0.0.1:PORT,
 * sends its CSM (RFC 8323 §5.3, no options) on accept and answers:
 *  - GET with Observe 0: the token is kept on its connection (up to
 *    FLOOR_OBS per connection) and answered 2.05 with Observe, like a
 *    registration at rcoapd's /counter; GET with Observe 1 drops it; any
 *    GET gets 2.05 Content-Format 0 (text/plain) and the counter as text;
 *  - any other request (the trigger, POST /counter): 2.04, then the
 *    fan-out: the counter and the Observe number go up, the part of a
 *    notification after the token (Observe, Content-Format, payload) is
 *    built once, and each connection gets one frame per kept token — the
 *    same bytes and sizes rcoapd sends — written with ONE send per
 *    connection (the rest, if the kernel does not take it all, on
 *    EPOLLOUT; a connection whose unsent bytes would pass FLOOR_OUT skips
 *    the round);
 *  - Ping: Pong; other signaling: nothing.
 * No resource tree, no option table, no timers, no allocation per
 * notification: what is left is the kernel's work for one write per
 * connection per round, and the loop that builds the frames.
 *
 *   floor_notifier PORT      (prints "listening PORT" when ready; port 0
 *                             picks one)
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "floor_net.h"

#define FLOOR_IN 16384
#define FLOOR_OUT 16384
#define FLOOR_OBS 64
#define FLOOR_CONNS 65536

typedef struct floor_conn {
  floor_io io; /* first: a floor_io * is a floor_conn * */
  unsigned nobs;
  uint8_t tkl[FLOOR_OBS];
  uint8_t tok[FLOOR_OBS][8];
  uint8_t in[FLOOR_IN];
  uint8_t out[FLOOR_OUT];
} floor_conn;

static floor_conn *conns[FLOOR_CONNS];
static unsigned nconns;
static uint32_t obs_seq;
static unsigned long long counter;

/* The Observe value of the options at p[0..n) (-1: none), reading only
 * as far as option 6. */
static long observe_of(const uint8_t *p, size_t n) {
  size_t at = 0;
  unsigned num = 0;
  while (at < n && p[at] != 0xff) {
    unsigned d = p[at] >> 4, l = p[at] & 15;
    at++;
    if (d == 13)
      d = 13u + p[at++];
    else if (d == 14) {
      d = 269u + ((unsigned)p[at] << 8 | p[at + 1]);
      at += 2;
    }
    if (l == 13)
      l = 13u + p[at++];
    else if (l == 14) {
      l = 269u + ((unsigned)p[at] << 8 | p[at + 1]);
      at += 2;
    }
    num += d;
    if (num > 6 || at + l > n)
      return -1;
    if (num == 6) {
      long v = 0;
      for (unsigned i = 0; i < l; i++)
        v = v << 8 | p[at + i];
      return v;
    }
    at += l;
  }
  return -1;
}

/* Writes a uint option (minimal length, RFC 7252 §3.2) of delta d (< 13)
 * at o; returns its length. */
static size_t put_uint_opt(uint8_t *o, unsigned d, uint32_t v) {
  size_t l = v == 0 ? 0 : v < 256 ? 1 : v < 65536 ? 2 : v < 1u << 24 ? 3 : 4;
  o[0] = (uint8_t)(d << 4 | l);
  for (size_t i = 0; i < l; i++)
    o[1 + i] = (uint8_t)(v >> (8 * (l - 1 - i)));
  return 1 + l;
}

/* The part of a GET's answer after its token: [Observe,] Content-Format 0,
 * the counter as text. Returns its length. */
static size_t build_tail(uint8_t *o, int with_obs) {
  size_t n = 0;
  unsigned last = 0;
  if (with_obs) {
    n += put_uint_opt(o, 6, obs_seq);
    last = 6;
  }
  o[n++] = (uint8_t)((12 - last) << 4); /* Content-Format, empty: 0 */
  o[n++] = 0xff;
  n += (size_t)snprintf((char *)o + n, 24, "%llu", counter);
  return n;
}

/* The longest tail build_tail makes (its callers' buffers). */
#define TAIL_MAX 64

/* Appends one frame (code, token, then tail[0..tl)) to c's output; 0 or
 * -1 when it does not fit. */
static int put_frame(floor_conn *c, uint8_t code, const uint8_t *tok,
                     size_t tkl, const uint8_t *tail, size_t tl) {
  if (tl > TAIL_MAX || c->io.out_len + 6 + tkl + tl > FLOOR_OUT)
    return -1;
  uint8_t *o = c->out + c->io.out_len;
  size_t h;
  if (tl < 13) {
    o[0] = (uint8_t)(tl << 4 | tkl);
    h = 1;
  } else if (tl < 269) {
    o[0] = (uint8_t)(13 << 4 | tkl);
    o[1] = (uint8_t)(tl - 13);
    h = 2;
  } else {
    o[0] = (uint8_t)(14 << 4 | tkl);
    o[1] = (uint8_t)((tl - 269) >> 8);
    o[2] = (uint8_t)(tl - 269);
    h = 3;
  }
  o[h++] = code;
  memcpy(o + h, tok, tkl);
  memcpy(o + h + tkl, tail, tl);
  c->io.out_len += h + tkl + tl;
  return 0;
}

/* The round: every kept token of every connection gets the notification,
 * one send per connection. */
static void fan_out(int ep) {
  uint8_t tail[TAIL_MAX];
  obs_seq = (obs_seq + 1) & 0xFFFFFFu;
  size_t tl = build_tail(tail, 1);
  for (unsigned i = 0; i < nconns; i++) {
    floor_conn *c = conns[i];
    if (!c->nobs)
      continue;
    size_t mark = c->io.out_len;
    unsigned k = 0;
    while (k < c->nobs &&
           put_frame(c, 0x45, c->tok[k], c->tkl[k], tail, tl) == 0)
      k++;
    if (k < c->nobs) {
      c->io.out_len = mark; /* no room: this connection skips the round */
      continue;
    }
    if (floor_flush(&c->io) == 0)
      floor_want_out(ep, &c->io);
  }
}

static void keep_token(floor_conn *c, const uint8_t *tok, size_t tkl,
                       long obs) {
  for (unsigned k = 0; k < c->nobs; k++) {
    if (c->tkl[k] == tkl && !memcmp(c->tok[k], tok, tkl)) {
      if (obs != 0) { /* Observe 1 (or none) on its token: forgotten */
        c->nobs--;
        c->tkl[k] = c->tkl[c->nobs];
        memcpy(c->tok[k], c->tok[c->nobs], 8);
      }
      return;
    }
  }
  if (obs == 0 && c->nobs < FLOOR_OBS) {
    c->tkl[c->nobs] = (uint8_t)tkl;
    memcpy(c->tok[c->nobs], tok, tkl);
    c->nobs++;
  }
}

/* One frame at f (header hdr bytes, total fl): answered into c->out.
 * Returns 1 for a trigger (the fan-out runs after this read's answers). */
static int answer(floor_io *io, const uint8_t *f, size_t hdr, size_t fl) {
  floor_conn *c = (floor_conn *)io;
  size_t tkl = f[0] & 15;
  uint8_t code = f[hdr - 1];
  const uint8_t *tok = f + hdr;
  uint8_t tail[TAIL_MAX];
  if (tkl > 8)
    return 0;
  if (code == 0xe2) { /* 7.02 Ping -> 7.03 Pong */
    (void)put_frame(c, 0xe3, tok, tkl, NULL, 0);
    return 0;
  }
  if (code == 0 || code >> 5 != 0)
    return 0; /* not a request */
  if (code != 1) { /* the trigger: 2.04, then every observer */
    counter++;
    (void)put_frame(c, 0x44, tok, tkl, NULL, 0);
    return 1;
  }
  long obs = observe_of(f + hdr + tkl, fl - hdr - tkl);
  keep_token(c, tok, tkl, obs);
  int kept = 0;
  for (unsigned k = 0; k < c->nobs; k++)
    kept |= c->tkl[k] == tkl && !memcmp(c->tok[k], tok, tkl);
  (void)put_frame(c, 0x45, tok, tkl, tail, build_tail(tail, obs == 0 && kept));
  return 0;
}

/* One read event: answer every whole frame, one send, then the fan-out
 * if a trigger came. -1: close. */
static int conn_readable(int ep, floor_io *c) {
  int trigger = floor_read_frames(c, answer);
  if (trigger < 0)
    return -1;
  if (trigger)
    fan_out(ep);
  return 0;
}

static floor_io *conn_open(void) {
  floor_conn *c = nconns < FLOOR_CONNS ? calloc(1, sizeof *c) : NULL;
  if (!c)
    return NULL;
  c->io.in = c->in;
  c->io.in_cap = sizeof c->in;
  c->io.out = c->out;
  conns[nconns++] = c;
  return &c->io;
}

static void conn_close(floor_io *io) {
  close(io->fd);
  for (unsigned i = 0; i < nconns; i++)
    if (&conns[i]->io == io) {
      conns[i] = conns[--nconns];
      break;
    }
  free(io);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: floor_notifier PORT\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  int ep, ls = floor_listen("floor_notifier", argv[1], &ep);
  static const floor_ops ops = {conn_open, conn_readable, conn_close};
  floor_serve(ep, ls, &ops);
}
