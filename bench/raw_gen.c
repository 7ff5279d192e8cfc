/*
 * raw_gen: a coap+tcp load generator without the library, to check what
 * rcoap-bench (the library's own client) measures: bench/load.sh runs it
 * instead of rcoap-bench with GEN=raw.
 *
 * One thread, one epoll loop, plain sockets. It opens C connections to
 * 127.0.0.1:PORT one after the other, sends its CSM on each (RFC 8323
 * §5.3: Max-Message-Size 1152), waits for the server's, then sends D GET
 * requests (pre-encoded frames; the token is the request's slot on its
 * connection and that slot's generation, so that each request in flight
 * on a connection has its own token and a stale or repeated answer is
 * seen). Every read event parses what came by the
 * frame length rules alone (bench/raw_frame.h), checks each answer (code
 * 2.05, or -e; a token of a request in flight) and, once the read is
 * done, writes the requests for the slots answered in one send.
 *
 * Once all connections are open it warms up for -w seconds (as
 * rcoap-bench does), then measures -d seconds (or until -n answers in
 * all); prints "RESULT rps=... requests=... p50_us=...
 * p90_us=... p99_us=... p999_us=... max_us=... errors=0 ...
 * bench_cpu_us=... answered=... sent=..." as rcoap-bench does (its own
 * CPU from getrusage over the measured window) and exits 0. Anything
 * wrong (connect refused, the server closing, a missing CSM, a wrong
 * code, an unknown token, no answer for -t seconds) ends it at once
 * with exit status 1 and one sentence on stderr.
 *
 *   raw_gen [-q] [-c CONNS] [-p DEPTH] [-d SECS] [-w SECS] [-n N]
 *           [-m "GET /path"] [-e CODE] [-t SECS] coap+tcp://127.0.0.1:PORT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "floor_net.h"
#include "raw_frame.h"

#define RG_MAX_DEPTH 4096        /* slots are 16-bit, requests 4-byte tokens */
#define RG_MAX_CONNS 10000
#define RG_MAX_BODY (1u << 20)   /* a bigger answer is not this benchmark's */
#define RG_REQ_MAX 600           /* one pre-encoded request */
#define RG_SIGNAL_ROOM 1024      /* out room for Pongs and 5.01s */
#define RG_HIST_US (1u << 20)    /* latency bins of 1 us, up to ~1 s */
#define RG_TKL 4

typedef struct rg_conn {
  floor_io io;        /* first: the epoll data is the connection */
  int id, csm_seen;
  size_t out_cap;
  uint16_t *gen;      /* per slot: generation of its request in flight */
  uint8_t *busy;      /* per slot: a request in flight */
  uint64_t *sent_ns;  /* per slot: when it was written */
  uint16_t *freed;    /* slots answered since the last write */
  size_t nfreed, outstanding;
} rg_conn;

static struct {
  const char *host;
  int port, conns, depth, quiet;
  double duration, warmup, stall;
  unsigned long long limit; /* -n: answers in all, 0 none */
  uint8_t expect;           /* the answer code wanted */
  uint8_t req[RG_REQ_MAX];  /* the request frame, token zero */
  size_t req_len, tok_off;
} cfg = {.host = "127.0.0.1", .conns = 50, .depth = 16, .duration = 10,
         .warmup = 0, .stall = 5, .expect = 0x45};

static struct {
  unsigned long long sent, answered, window;
  int sending;   /* new requests go out */
  int measuring; /* answers count into the window */
  uint64_t max_ns;
  uint32_t hist[RG_HIST_US + 1]; /* the last bin: 1 s and more */
} st;

_Noreturn __attribute__((format(printf, 1, 2))) static void
die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("raw_gen: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* "c.dd" of code in s (8 bytes). */
static const char *code_str(uint8_t code, char *s) {
  snprintf(s, 8, "%u.%02u", code >> 5, code & 31);
  return s;
}

/* Appends one option (delta from prev, value v[0..n)) at o; its length. */
static size_t put_option(uint8_t *o, unsigned delta, const char *v, size_t n) {
  size_t at = 1;
  unsigned dn = delta < 13 ? delta : delta < 269 ? 13 : 14;
  unsigned ln = n < 13 ? (unsigned)n : n < 269 ? 13 : 14;
  o[0] = (uint8_t)(dn << 4 | ln);
  if (dn == 13)
    o[at++] = (uint8_t)(delta - 13);
  else if (dn == 14)
    o[at++] = (uint8_t)((delta - 269) >> 8), o[at++] = (uint8_t)(delta - 269);
  if (ln == 13)
    o[at++] = (uint8_t)(n - 13);
  else if (ln == 14)
    o[at++] = (uint8_t)((n - 269) >> 8), o[at++] = (uint8_t)(n - 269);
  memcpy(o + at, v, n);
  return at + n;
}

/* cfg.req: GET with a zero 4-byte token and a Uri-Path (11) option per
 * segment of spec "GET /a/b" (the only method: a small GET is what the
 * depth-16 row measures). */
static void build_request(const char *spec) {
  if (strncmp(spec, "GET /", 5) != 0 || strchr(spec, ',') || strchr(spec, '='))
    die("-m takes one \"GET /path\", not \"%s\"", spec);
  uint8_t opts[RG_REQ_MAX];
  size_t on = 0;
  unsigned prev = 0;
  const char *s = spec + 5;
  while (*s) {
    const char *e = strchr(s, '/');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    if (n > 255 || on + n + 8 > sizeof opts - 16)
      die("path too long in \"%s\"", spec);
    on += put_option(opts + on, 11 - prev, s, n);
    prev = 11;
    s += n + (e ? 1 : 0);
  }
  uint8_t *r = cfg.req;
  size_t at = 0;
  if (on < 13) {
    r[at++] = (uint8_t)(on << 4 | RG_TKL);
  } else if (on < 269) {
    r[at++] = 13 << 4 | RG_TKL;
    r[at++] = (uint8_t)(on - 13);
  } else {
    r[at++] = 14 << 4 | RG_TKL;
    r[at++] = (uint8_t)((on - 269) >> 8);
    r[at++] = (uint8_t)(on - 269);
  }
  r[at++] = 0x01; /* 0.01 GET */
  cfg.tok_off = at;
  memset(r + at, 0, RG_TKL);
  at += RG_TKL;
  memcpy(r + at, opts, on);
  cfg.req_len = at + on;
}

/* Queues the request of slot s (a new generation) on c. */
static void queue_request(rg_conn *c, uint16_t s, uint64_t now) {
  uint8_t *o = c->io.out + c->io.out_len;
  uint16_t g = ++c->gen[s];
  memcpy(o, cfg.req, cfg.req_len);
  o[cfg.tok_off] = (uint8_t)(s >> 8);
  o[cfg.tok_off + 1] = (uint8_t)s;
  o[cfg.tok_off + 2] = (uint8_t)(g >> 8);
  o[cfg.tok_off + 3] = (uint8_t)g;
  c->io.out_len += cfg.req_len;
  c->busy[s] = 1;
  c->sent_ns[s] = now;
  c->outstanding++;
  st.sent++;
}

/* Queues a signal or answer of code with f's token (Pong, 5.01), when
 * there is room: they are rare and small. */
static void queue_reply(rg_conn *c, uint8_t code, const rg_frame *f) {
  if (c->io.out_len + 2 + f->tkl > c->out_cap)
    return;
  uint8_t *o = c->io.out + c->io.out_len;
  o[0] = f->tkl;
  o[1] = code;
  memcpy(o + 2, f->token, f->tkl);
  c->io.out_len += 2 + (size_t)f->tkl;
}

/* Queues requests for the answered slots while sending is on. */
static void refill(rg_conn *c, uint64_t now) {
  while (c->nfreed > 0 && st.sending &&
         (cfg.limit == 0 || st.sent < cfg.limit))
    queue_request(c, c->freed[--c->nfreed], now);
}

static void hex(const uint8_t *p, size_t n, char *s, size_t cap) {
  size_t at = 0;
  for (size_t i = 0; i < n && at + 3 < cap; i++)
    at += (size_t)snprintf(s + at, cap - at, "%02x", p[i]);
  s[at] = 0;
}

/* One answer (class 2-5): its token must be a request in flight. */
static void on_answer(rg_conn *c, const rg_frame *f, uint64_t now) {
  char tok[20], got[8], want[8];
  unsigned s = f->tkl == RG_TKL ? (unsigned)(f->token[0] << 8 | f->token[1])
                                : RG_MAX_DEPTH;
  unsigned g = f->tkl == RG_TKL ? (unsigned)(f->token[2] << 8 | f->token[3])
                                : 0;
  int known = s < (unsigned)cfg.depth && c->busy[s] && c->gen[s] == g;
  if (!known || f->code != cfg.expect) /* the message only when failing */
    hex(f->token, f->tkl, tok, sizeof tok);
  if (!known)
    die("connection %d: an answer (%s) with token \"%s\", which no request "
        "in flight has",
        c->id, code_str(f->code, got), tok);
  if (f->code != cfg.expect)
    die("connection %d: the answer to token \"%s\" is %s, not %s", c->id, tok,
        code_str(f->code, got), code_str(cfg.expect, want));
  c->busy[s] = 0;
  c->outstanding--;
  c->freed[c->nfreed++] = (uint16_t)s;
  st.answered++;
  if (!st.measuring)
    return;
  st.window++;
  uint64_t ns = now - c->sent_ns[s];
  uint64_t us = ns / 1000;
  st.hist[us < RG_HIST_US ? us : RG_HIST_US]++;
  if (ns > st.max_ns)
    st.max_ns = ns;
}

/* One whole frame from the server. */
static void on_frame(rg_conn *c, const rg_frame *f, uint64_t now) {
  char b[80], cs[8];
  /* "Endpoints MUST treat a missing or invalid CSM as a connection error
   * and abort the connection" (RFC 8323 §5.3): we end the run. */
  if (!c->csm_seen && f->code != 0xe1) {
    hex(f->token - f->hdr, f->len < 24 ? f->len : 24, b, sizeof b);
    die("connection %d: the server's first message is %s, not a CSM "
        "(RFC 8323 §5.3): %s", c->id, code_str(f->code, cs), b);
  }
  switch (f->code >> 5) {
  case 0:
    /* "Empty messages (Code 0.00) can always be sent and MUST be ignored
     * by the recipient" (RFC 8323 §4.1). A request: "If one side does not
     * implement a CoAP server, an error response MUST be returned for all
     * CoAP requests from the other side" (§3.3): 5.01. */
    if (f->code != 0)
      queue_reply(c, 0xa1, f);
    return;
  case 2:
  case 3:
  case 4:
  case 5:
    on_answer(c, f, now);
    return;
  case 7:
    if (f->code == 0xe1) {
      c->csm_seen = 1;
      return;
    }
    if (f->code == 0xe2) {
      /* "Upon receipt of a Ping message, the receiver MUST return a Pong
       * message with an identical token in response" (RFC 8323 §5.4). */
      queue_reply(c, 0xe3, f);
      return;
    }
    if (f->code == 0xe3)
      return;
    hex(f->body, f->body_len < 32 ? f->body_len : 32, b, sizeof b);
    die("connection %d: the server sent %s (%s) after %llu answers in all; "
        "options and payload: %s", c->id, code_str(f->code, cs),
        f->code == 0xe4 ? "Release" : f->code == 0xe5 ? "Abort" : "signal",
        st.answered, b);
  default:
    die("connection %d: a message of code %s, which is neither a request "
        "nor a response nor a signal", c->id, code_str(f->code, cs));
  }
}

static void flush(rg_conn *c) {
  if (floor_flush(&c->io) != 0)
    die("connection %d: send: %s", c->id, strerror(errno));
}

/* One read event: reads what the socket has, handles every whole frame,
 * queues the requests of the slots answered and writes them at once. */
static void readable(rg_conn *c, uint64_t now) {
  if (c->io.in_len == c->io.in_cap)
    die("connection %d: buffer full", c->id); /* cannot: grown below */
  ssize_t n = recv(c->io.fd, c->io.in + c->io.in_len, c->io.in_cap - c->io.in_len, 0);
  if (n == 0)
    die("connection %d: closed by the server after %llu answers in all "
        "(%zu requests in flight on it)", c->id, st.answered, c->outstanding);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR)
      return;
    die("connection %d: recv: %s", c->id, strerror(errno));
  }
  size_t have = c->io.in_len + (size_t)n, at = 0;
  rg_frame f;
  int r;
  while ((r = rg_frame_read(c->io.in + at, have - at, RG_MAX_BODY, &f)) ==
         RG_FRAME_OK) {
    on_frame(c, &f, now);
    at += f.len;
  }
  if (r == RG_FRAME_BAD_TKL)
    die("connection %d: a frame with TKL %u (9-15 are reserved: a message "
        "format error, RFC 7252 §3)", c->id, c->io.in[at] & 15u);
  if (r == RG_FRAME_TOO_BIG)
    die("connection %d: a frame over %u bytes", c->id, RG_MAX_BODY);
  memmove(c->io.in, c->io.in + at, have - at);
  c->io.in_len = have - at;
  if (f.len > c->io.in_cap) { /* a big frame is coming: room for all of it */
    uint8_t *p = realloc(c->io.in, f.len);
    if (!p)
      die("out of memory");
    c->io.in = p;
    c->io.in_cap = f.len;
  }
  refill(c, now);
  flush(c);
}

static rg_conn *conn_open(int id, const struct sockaddr_in *a, int ep) {
  rg_conn *c = calloc(1, sizeof *c);
  size_t d = (size_t)cfg.depth;
  if (!c)
    die("out of memory");
  c->id = id;
  c->io.in_cap = 16384;
  c->out_cap = d * cfg.req_len + RG_SIGNAL_ROOM;
  c->io.in = malloc(c->io.in_cap);
  c->io.out = malloc(c->out_cap);
  c->gen = calloc(d, sizeof *c->gen);
  c->busy = calloc(d, 1);
  c->sent_ns = calloc(d, sizeof *c->sent_ns);
  c->freed = calloc(d, sizeof *c->freed);
  if (!c->io.in || !c->io.out || !c->gen || !c->busy || !c->sent_ns || !c->freed)
    die("out of memory");
  c->io.fd = socket(AF_INET, SOCK_STREAM, 0);
  if (c->io.fd < 0)
    die("socket: %s", strerror(errno));
  if (connect(c->io.fd, (const struct sockaddr *)a, sizeof *a) != 0)
    die("connection %d: connect to %s:%d: %s", id, cfg.host, cfg.port,
        strerror(errno));
  int one = 1, fl = fcntl(c->io.fd, F_GETFL);
  setsockopt(c->io.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (fl < 0 || fcntl(c->io.fd, F_SETFL, fl | O_NONBLOCK) != 0)
    die("fcntl: %s", strerror(errno));
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_ADD, c->io.fd, &ev);
  /* "each endpoint MUST send a Capabilities and Settings message (CSM)
   * as their first message on the connection" (RFC 8323 §5.3);
   * Max-Message-Size (2) 1152, the base value, said out loud. */
  static const uint8_t csm[] = {0x30, 0xe1, 0x22, 0x04, 0x80};
  memcpy(c->io.out, csm, sizeof csm);
  c->io.out_len = sizeof csm;
  return c;
}

/* Waits (up to -t) for the server's CSM on c, which its read handles. One
 * connection at a time waits: a server with a short listen backlog (as
 * libcoap's, 5) is not sent SYNs it drops, which would cost a 1 s SYN
 * retransmission inside the run. */
static void await_csm(rg_conn *c) {
  uint64_t until = now_ns() + (uint64_t)(cfg.stall * 1e9);
  while (!c->csm_seen) {
    struct pollfd pf = {.fd = c->io.fd, .events = POLLIN};
    uint64_t t = now_ns();
    if (t >= until)
      die("connection %d: no CSM from the server in %g s (RFC 8323 §5.3)",
          c->id, cfg.stall);
    if (poll(&pf, 1, (int)((until - t) / 1000000 + 1)) > 0)
      readable(c, t);
  }
}

static double arg_num(const char *opt, const char *v, double lo, double hi) {
  char *end;
  double x = strtod(v, &end);
  if (end == v || *end || x < lo || x > hi)
    die("%s takes a number from %g to %g, not \"%s\"", opt, lo, hi, v);
  return x;
}

static void usage(void) {
  fprintf(stderr,
          "usage: raw_gen [-q] [-c CONNS] [-p DEPTH] [-d SECS] [-w SECS] "
          "[-n N]\n"
          "               [-m \"GET /path\"] [-e CODE] [-t SECS] "
          "coap+tcp://127.0.0.1:PORT[/path]\n"
          "  -c connections (50), -p requests in flight per connection (16),\n"
          "  -d seconds measured (10) after -w seconds of warm-up (0),\n"
          "  -n stop after N answers in all (warm-up ones included),\n"
          "  -m the request (GET /hello; a path in the URI sets it too),\n"
          "  -e the answer code wanted, as 2.05 (default),\n"
          "  -t fail when no answer came for SECS with requests in flight "
          "(5),\n"
          "  -q only the RESULT line\n");
  exit(2);
}

static void parse_args(int argc, char **argv) {
  const char *mix = NULL;
  int o;
  unsigned cl, dt;
  while ((o = getopt(argc, argv, "qc:p:d:w:n:m:e:t:")) != -1) {
    switch (o) {
    case 'q': cfg.quiet = 1; break;
    case 'c': cfg.conns = (int)arg_num("-c", optarg, 1, RG_MAX_CONNS); break;
    case 'p': cfg.depth = (int)arg_num("-p", optarg, 1, RG_MAX_DEPTH); break;
    case 'd': cfg.duration = arg_num("-d", optarg, 0.1, 86400); break;
    case 'w': cfg.warmup = arg_num("-w", optarg, 0, 3600); break;
    case 'n': cfg.limit = (unsigned long long)arg_num("-n", optarg, 1, 1e15); break;
    case 'm': mix = optarg; break;
    case 't': cfg.stall = arg_num("-t", optarg, 0.1, 3600); break;
    case 'e':
      if (sscanf(optarg, "%u.%u", &cl, &dt) != 2 || cl < 2 || cl > 5 || dt > 31)
        die("-e takes a response code such as 2.05, not \"%s\"", optarg);
      cfg.expect = (uint8_t)(cl << 5 | dt);
      break;
    default: usage();
    }
  }
  if (optind != argc - 1)
    usage();
  const char *u = argv[optind], *pfx = "coap+tcp://";
  static char host[64];
  char rest[512] = "";
  if (strncmp(u, pfx, strlen(pfx)) != 0 ||
      sscanf(u + strlen(pfx), "%63[^:/]:%d%511s", host, &cfg.port, rest) < 2 ||
      cfg.port < 1 || cfg.port > 65535)
    die("the URI must be coap+tcp://IPV4:PORT[/path], not \"%s\"", u);
  cfg.host = host;
  static char spec[520];
  if (!mix) {
    snprintf(spec, sizeof spec, "GET %s", rest[0] ? rest : "/hello");
    mix = spec;
  }
  build_request(mix);
}

/* The latency (us) under which a share q of the measured answers are. */
static double quantile(double q) {
  unsigned long long want = (unsigned long long)(q * (double)st.window), n = 0;
  for (uint32_t i = 0; i <= RG_HIST_US; i++) {
    n += st.hist[i];
    if (n > want)
      return i + 0.5 < (double)st.max_ns / 1e3 ? i + 0.5
                                                : (double)st.max_ns / 1e3;
  }
  return (double)st.max_ns / 1e3;
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)cfg.port)};
  if (inet_pton(AF_INET, cfg.host, &a.sin_addr) != 1)
    die("\"%s\" is not an IPv4 address", cfg.host);
  int ep = epoll_create1(0);
  rg_conn **cs = calloc((size_t)cfg.conns, sizeof *cs);
  if (ep < 0 || !cs)
    die("epoll_create1 or out of memory");
  st.sending = 1;
  for (int i = 0; i < cfg.conns; i++) {
    cs[i] = conn_open(i, &a, ep);
    flush(cs[i]);
    await_csm(cs[i]);
    for (int s = cfg.depth - 1; s >= 0; s--)
      cs[i]->freed[cs[i]->nfreed++] = (uint16_t)s;
    refill(cs[i], now_ns());
    flush(cs[i]);
    floor_want_out(ep, &cs[i]->io);
  }
  uint64_t start = now_ns(), now = start, last = start;
  uint64_t w_at = start + (uint64_t)(cfg.warmup * 1e9);
  uint64_t end_at = w_at + (uint64_t)(cfg.duration * 1e9);
  uint64_t stall = (uint64_t)(cfg.stall * 1e9), m0 = start, m1;
  double c0 = cpu_s(), c1;
  if (cfg.warmup == 0)
    st.measuring = 1;
  struct epoll_event evs[128];
  for (;;) {
    if (!st.measuring && now >= w_at) {
      st.measuring = 1;
      m0 = now;
      c0 = cpu_s();
    }
    if (now >= end_at || (cfg.limit && st.answered >= cfg.limit))
      break;
    size_t out = 0;
    for (int i = 0; i < cfg.conns; i++)
      out += cs[i]->outstanding;
    if (out == 0 && cfg.limit && st.sent >= cfg.limit)
      break;
    if (now - last > stall)
      die("no answer for %g s with %zu requests in flight (%llu answered in "
          "all)", cfg.stall, out, st.answered);
    int k = epoll_wait(ep, evs, 128, 100);
    if (k < 0 && errno != EINTR)
      die("epoll_wait: %s", strerror(errno));
    now = now_ns();
    for (int i = 0; i < k; i++) {
      rg_conn *c = evs[i].data.ptr;
      if (evs[i].events & EPOLLOUT)
        flush(c);
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        readable(c, now);
        last = now;
      }
      floor_want_out(ep, &c->io);
    }
  }
  m1 = now;
  c1 = cpu_s();
  if (st.window == 0)
    die("no answer in the %.2f s measured (%llu sent, %llu answered in all)",
        (double)(m1 - m0) / 1e9, st.sent, st.answered);
  double secs = (double)(m1 - m0) / 1e9;
  double rps = secs > 0 ? (double)st.window / secs : 0;
  double cpu_us = st.window ? (c1 - c0) * 1e6 / (double)st.window : 0;
  if (!cfg.quiet) {
    printf("raw_gen: %d connections x %d in flight to %s:%d\n", cfg.conns,
           cfg.depth, cfg.host, cfg.port);
    printf("answers:   %llu in all (%llu sent); %llu in %.2f s measured = "
           "%.0f req/s\n", st.answered, st.sent, st.window, secs, rps);
    printf("latency:   p50 %.1f  p99 %.1f  max %.1f us\n", quantile(0.5),
           quantile(0.99), (double)st.max_ns / 1e3);
    printf("generator: %.2f us CPU per request\n", cpu_us);
  }
  printf("RESULT rps=%.0f requests=%llu p50_us=%.1f p90_us=%.1f p99_us=%.1f "
         "p999_us=%.1f max_us=%.1f errors=0 timeouts=0 conn_errors=0 "
         "status_errors=0 bench_cpu_us=%.3f answered=%llu sent=%llu\n",
         rps, st.window, quantile(0.5), quantile(0.9), quantile(0.99),
         quantile(0.999), (double)st.max_ns / 1e3, cpu_us, st.answered,
         st.sent);
  for (int i = 0; i < cfg.conns; i++) {
    close(cs[i]->io.fd);
    free(cs[i]->io.in);
    free(cs[i]->io.out);
    free(cs[i]->gen);
    free(cs[i]->busy);
    free(cs[i]->sent_ns);
    free(cs[i]->freed);
    free(cs[i]);
  }
  free(cs);
  close(ep);
  return 0;
}
