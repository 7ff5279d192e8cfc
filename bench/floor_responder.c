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

/* Length of the whole frame at p[0..n), 0 when it is not all there. */
static size_t frame_len(const uint8_t *p, size_t n, size_t *hdr) {
  if (n < 2)
    return 0;
  size_t ln = p[0] >> 4, tkl = p[0] & 15, e = 0, body;
  if (ln < 13) {
    body = ln;
  } else if (ln == 13) {
    e = 1;
    body = n > 1 ? 13u + p[1] : 0;
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
  while (c->out_at < c->out_len) {
    ssize_t n = send(c->fd, c->out + c->out_at, c->out_len - c->out_at,
                     MSG_NOSIGNAL);
    if (n < 0)
      return errno == EAGAIN ? 0 : -1;
    c->out_at += (size_t)n;
  }
  c->out_len = c->out_at = 0;
  return 0;
}

/* One read event: read, answer every whole frame, one send. -1: close. */
static int on_readable(floor_conn *c) {
  ssize_t n = recv(c->fd, c->in + c->in_len, FLOOR_IN - c->in_len, 0);
  if (n <= 0)
    return n < 0 && errno == EAGAIN ? 0 : -1;
  size_t have = c->in_len + (size_t)n, at = 0, hdr = 0, fl;
  while ((fl = frame_len(c->in + at, have - at, &hdr)) != 0) {
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
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)atoi(argv[1])),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) != 0 ||
      listen(ls, 1024) != 0 || getsockname(ls, (struct sockaddr *)&a, &al)) {
    perror("floor_responder: listen");
    return 1;
  }
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  printf("listening %u\n", ntohs(a.sin_port));
  fflush(stdout);
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
