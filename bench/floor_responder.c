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
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "floor_net.h"

#define FLOOR_IN 65536
#define FLOOR_OUT (FLOOR_IN * 2)
#define FLOOR_EVENTS 64

static const char payload[] = "Hello, world! (rcoap 0.1.0)";

typedef struct floor_conn {
  int fd;
  size_t in_len;          /* bytes of an unfinished frame kept in in[] */
  size_t out_len, out_at; /* answers the kernel has not taken yet */
  int want_out;           /* EPOLLOUT registered */
  uint8_t in[FLOOR_IN];
  uint8_t out[FLOOR_OUT];
} floor_conn;

/* Appends the answer to the frame at f (header hdr bytes) to c->out. */
static void answer(floor_conn *c, const uint8_t *f, size_t hdr) {
  size_t tkl = f[0] & 15;
  uint8_t code = f[hdr - 1];
  uint8_t *o = c->out + c->out_len;
  if (tkl > 8 || c->out_len + 64 > FLOOR_OUT)
    return;
  if (code == 0xe2) { /* 7.02 Ping -> 7.03 Pong */
    o[0] = (uint8_t)tkl;
    o[1] = 0xe3;
    memcpy(o + 2, f + hdr, tkl);
    c->out_len += 2 + tkl;
    return;
  }
  if (code == 0 || code >> 5 != 0)
    return; /* not a request */
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
}

static int flush_out(floor_conn *c) {
  return floor_send(c->fd, c->out, &c->out_at, &c->out_len);
}

/* One read event: read, answer every whole frame, one send. -1: close. */
static int on_readable(floor_conn *c) {
  ssize_t n = recv(c->fd, c->in + c->in_len, FLOOR_IN - c->in_len, 0);
  if (n <= 0)
    return n < 0 && errno == EAGAIN ? 0 : -1;
  size_t have = c->in_len + (size_t)n, at = 0, hdr = 0, fl;
  while ((fl = floor_frame_len(c->in + at, have - at, &hdr)) != 0) {
    answer(c, c->in + at, hdr);
    at += fl;
  }
  if (at == 0 && have == FLOOR_IN)
    return -1; /* a frame larger than the buffer: not this benchmark */
  memmove(c->in, c->in + at, have - at);
  c->in_len = have - at;
  return flush_out(c);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: floor_responder PORT\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  int ep, one = 1, ls = floor_listen("floor_responder", argv[1], &ep);
  struct epoll_event evs[FLOOR_EVENTS];
  for (;;) {
    int k = epoll_wait(ep, evs, FLOOR_EVENTS, -1);
    for (int i = 0; i < k; i++) {
      floor_conn *c = evs[i].data.ptr;
      if (!c) {
        int fd;
        while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          floor_conn *nc = calloc(1, sizeof *nc);
          if (!nc) {
            close(fd);
            continue;
          }
          nc->fd = fd;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          nc->out[0] = 0x00; /* CSM: Len 0, TKL 0, 7.01 */
          nc->out[1] = 0xe1;
          nc->out_len = 2;
          struct epoll_event cev = {.events = EPOLLIN, .data.ptr = nc};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
          if (flush_out(nc) != 0) {
            close(fd);
            free(nc);
          }
        }
        continue;
      }
      int r = 0;
      if (evs[i].events & EPOLLOUT)
        r = flush_out(c);
      if (r == 0 && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        r = on_readable(c);
      if (r != 0) {
        close(c->fd);
        free(c);
        continue;
      }
      /* wait for room only while answers are left over */
      int want = c->out_len != 0;
      if (want != c->want_out) {
        struct epoll_event mev = {
            .events = EPOLLIN | (want ? EPOLLOUT : 0u), .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &mev);
        c->want_out = want;
      }
    }
  }
}
