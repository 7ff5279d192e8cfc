/*
 * What the two floor programs (floor_responder, floor_notifier) share:
 * the loopback listener and its epoll set, coap+tcp framing (RFC 8323
 * §3.2), a connection's input and output buffers and writing out what it
 * has queued, reading whole frames, and the epoll loop that accepts (CSM
 * on accept, RFC 8323 §5.3) and serves connections. Each program keeps
 * its own connection type with a floor_io first and says what to do with
 * a frame. Header-only: each floor is one file plus this, built without
 * the library.
 */
#ifndef RCOAP_BENCH_FLOOR_NET_H
#define RCOAP_BENCH_FLOOR_NET_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Length of the whole frame at p[0..n), 0 when it is not all there;
 * *hdr is the header's length (up to and with the code byte). */
static inline size_t floor_frame_len(const uint8_t *p, size_t n,
                                     size_t *hdr) {
  if (n < 2)
    return 0;
  size_t ln = p[0] >> 4, tkl = p[0] & 15, e = 0, body;
  if (ln < 13) {
    body = ln;
  } else if (ln == 13) {
    e = 1;
    body = 13u + p[1];
  } else if (ln == 14) {
    e = 2;
    body = n > 2 ? 269u + ((size_t)p[1] << 8 | p[2]) : 0;
  } else {
    e = 4;
    body = n > 4 ? 65805u + ((size_t)p[1] << 24 | (size_t)p[2] << 16 |
                            (size_t)p[3] << 8 | p[4])
                 : 0;
  }
  *hdr = 1 + e + 1;
  size_t total = *hdr + (tkl > 8 ? 0 : tkl) + body;
  return n >= *hdr && n >= total ? total : 0;
}

/* Sends out[*at..*len) on fd as far as the kernel takes it; both reset
 * to 0 once all is gone. 0, or -1 when the connection is to be closed. */
static inline int floor_send(int fd, const uint8_t *out, size_t *at,
                             size_t *len) {
  while (*at < *len) {
    ssize_t n = send(fd, out + *at, *len - *at, MSG_NOSIGNAL);
    if (n < 0)
      return errno == EAGAIN ? 0 : -1;
    *at += (size_t)n;
  }
  *len = *at = 0;
  return 0;
}

/* Listens on 127.0.0.1:port (0 picks one) in a new epoll set (*ep, the
 * listener's event data NULL) and prints "listening PORT". Exits with a
 * message naming `name` when it cannot. Returns the listening socket. */
static inline int floor_listen(const char *name, const char *port, int *ep) {
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)atoi(port)),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  if (ls < 0 ||
      setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      bind(ls, (struct sockaddr *)&a, sizeof a) != 0 ||
      listen(ls, 1024) != 0 || getsockname(ls, (struct sockaddr *)&a, &al)) {
    fprintf(stderr, "%s: listen: ", name);
    perror(NULL);
    exit(1);
  }
  *ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(*ep, EPOLL_CTL_ADD, ls, &ev);
  printf("listening %u\n", ntohs(a.sin_port));
  fflush(stdout);
  return ls;
}

/* The part of a connection the loop works on: first in each program's
 * connection type, its buffers in the same allocation. */
typedef struct floor_io {
  int fd;
  int want_out;           /* EPOLLOUT registered */
  size_t in_len;          /* bytes of an unfinished frame kept in in[] */
  size_t out_len, out_at; /* bytes the kernel has not taken yet */
  size_t in_cap;
  uint8_t *in, *out;
} floor_io;

static inline int floor_flush(floor_io *c) {
  return floor_send(c->fd, c->out, &c->out_at, &c->out_len);
}

/* Registers for EPOLLOUT only while answers are left over. */
static inline void floor_want_out(int ep, floor_io *c) {
  int want = c->out_len != 0;
  if (want == c->want_out)
    return;
  struct epoll_event mev = {.events = EPOLLIN | (want ? EPOLLOUT : 0u),
                            .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &mev);
  c->want_out = want;
}

/* One read event: reads what the socket has, calls frame(c, f, hdr, fl)
 * on every whole frame in it (hdr: its header's length, fl: the frame's)
 * and sends all they queued with one send; a frame split across reads is
 * kept. Returns the OR of what frame returned, or -1: close. */
static inline int floor_read_frames(floor_io *c,
                                    int (*frame)(floor_io *, const uint8_t *,
                                                 size_t, size_t)) {
  ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
  if (n <= 0)
    return n < 0 && errno == EAGAIN ? 0 : -1;
  size_t have = c->in_len + (size_t)n, at = 0, hdr = 0, fl;
  int any = 0;
  while ((fl = floor_frame_len(c->in + at, have - at, &hdr)) != 0) {
    any |= frame(c, c->in + at, hdr, fl);
    at += fl;
  }
  if (at == 0 && have == c->in_cap)
    return -1; /* a frame larger than the buffer: not this benchmark */
  memmove(c->in, c->in + at, have - at);
  c->in_len = have - at;
  return floor_flush(c) != 0 ? -1 : any;
}

/* What a floor program does with its connections. */
typedef struct floor_ops {
  floor_io *(*open)(void);               /* a new one (NULL: refused) */
  int (*readable)(int ep, floor_io *c);  /* -1: close */
  void (*close)(floor_io *c);            /* closes c->fd and frees c */
} floor_ops;

/* The loop, for ever: accepts on ls (TCP_NODELAY, our CSM sent at once:
 * Len 0, TKL 0, 7.01, no options), writes what is left when a socket has
 * room, and hands read events to ops->readable. */
static inline void floor_serve(int ep, int ls, const floor_ops *ops) {
  struct epoll_event evs[64];
  int one = 1;
  for (;;) {
    int k = epoll_wait(ep, evs, 64, -1);
    for (int i = 0; i < k; i++) {
      floor_io *c = evs[i].data.ptr;
      if (!c) {
        int fd;
        while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          floor_io *nc = ops->open();
          if (!nc) {
            close(fd);
            continue;
          }
          nc->fd = fd;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          nc->out[0] = 0x00;
          nc->out[1] = 0xe1;
          nc->out_len = 2;
          struct epoll_event cev = {.events = EPOLLIN, .data.ptr = nc};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
          if (floor_flush(nc) != 0)
            ops->close(nc);
        }
        continue;
      }
      int r = 0;
      if (evs[i].events & EPOLLOUT)
        r = floor_flush(c);
      if (r == 0 && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        r = ops->readable(ep, c);
      if (r != 0) {
        ops->close(c);
        continue;
      }
      floor_want_out(ep, c);
    }
  }
}

#endif
