/*
 * What the two floor programs (floor_responder, floor_notifier) share:
 * the loopback listener and its epoll set, coap+tcp framing (RFC 8323
 * §3.2), and writing out what a connection has queued. Header-only: each
 * floor is one file plus this, built without the library.
 */
#ifndef RCOAP_BENCH_FLOOR_NET_H
#define RCOAP_BENCH_FLOOR_NET_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>

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

#endif
