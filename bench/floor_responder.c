/*
 * floor_responder: the least a coap+tcp server can do per request, as the
 * floor rcoapd's CPU per request is compared with (bench/load.sh).
 *
 * One thread, one epoll loop, no library: it listens on 127.0.0.1:PORT,
 * sends its CSM (RFC 8323 §5.3, no options) on accept, and per read event
 * reads what the socket has (up to 64 KiB), answers every whole frame in it
 * (RFC 8323 §3.2) and writes all the answers with one send. A request
 * (class 0) gets 2.05 Content with its token, Content-Format 0 and the
 * same 27-byte payload rcoapd's /hello returns; a Ping gets a Pong; other
 * messages are dropped. No resource tree, no option parsing, no timers,
 * no allocation per request: what is left is the socket calls and the
 * framing. A frame split across reads is kept (one buffer per connection).
 *
 *   floor_responder PORT     (prints "listening PORT" when ready; port 0
 *                             picks one)
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "floor_net.h"

#define FLOOR_IN 65536
#define FLOOR_OUT (FLOOR_IN * 2)

static const char payload[] = "Hello, world! (rcoap 0.1.0)";

typedef struct floor_conn {
  floor_io io;
  uint8_t in[FLOOR_IN];
  uint8_t out[FLOOR_OUT];
} floor_conn;

/* Appends the answer to the frame at f (header hdr bytes) to c->out. */
static int answer(floor_io *c, const uint8_t *f, size_t hdr, size_t fl) {
  size_t tkl = f[0] & 15;
  uint8_t code = f[hdr - 1];
  uint8_t *o = c->out + c->out_len;
  (void)fl;
  if (tkl > 8 || c->out_len + 64 > FLOOR_OUT)
    return 0;
  if (code == 0xe2) { /* 7.02 Ping -> 7.03 Pong */
    o[0] = (uint8_t)tkl;
    o[1] = 0xe3;
    memcpy(o + 2, f + hdr, tkl);
    c->out_len += 2 + tkl;
    return 0;
  }
  if (code == 0 || code >> 5 != 0)
    return 0; /* not a request */
  size_t body = 1 + 1 + sizeof payload - 1; /* CF 0, marker, payload */
  o[0] = (uint8_t)(13 << 4 | tkl);
  o[1] = (uint8_t)(body - 13);
  o[2] = 0x45; /* 2.05 */
  memcpy(o + 3, f + hdr, tkl);
  o += 3 + tkl;
  o[0] = 0xc0; /* Content-Format (12), empty: text/plain */
  o[1] = 0xff;
  memcpy(o + 2, payload, sizeof payload - 1);
  c->out_len += 3 + tkl + body;
  return 0;
}

static floor_io *conn_open(void) {
  floor_conn *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->io.in = c->in;
  c->io.in_cap = sizeof c->in;
  c->io.out = c->out;
  return &c->io;
}

/* One read event: answer every whole frame, one send. */
static int conn_readable(int ep, floor_io *c) {
  (void)ep;
  return floor_read_frames(c, answer) < 0 ? -1 : 0;
}

static void conn_close(floor_io *c) {
  close(c->fd);
  free(c);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: floor_responder PORT\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  int ep, ls = floor_listen("floor_responder", argv[1], &ep);
  static const floor_ops ops = {conn_open, conn_readable, conn_close};
  floor_serve(ep, ls, &ops);
}
