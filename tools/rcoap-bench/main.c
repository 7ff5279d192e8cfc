/*
 * rcoap-bench: a CoAP load generator for RFC 8323 transports (coap+tcp,
 * coaps+tcp, coap+ws, coaps+ws) built so that it is not the bottleneck.
 * Each worker thread runs one epoll loop over its share of the
 * connections; every connection speaks RFC 8323 through the library's
 * sans-I/O rc_session (CSM first, tokens, Ping/Pong answered), keeps
 * --depth requests outstanding, reads everything the socket has in one big
 * read, answers all completed responses with new requests, and writes them
 * in one send(). TLS and WebSockets are the library's sans-I/O filters
 * (transport_filter.h) composed as src/transport/conn.c does it:
 * socket -> [tls] -> [ws] -> session. All ciphertext of a read is
 * decrypted and unframed in one rc_filter_recv(); all requests produced
 * by it go down in one batch (the ws filter corked: one down() into the
 * TLS filter, one SSL_write) into a per-connection output buffer that is
 * written with one send(). Latency is taken per request on the monotonic
 * clock into a fixed log-linear histogram (no allocation per request).
 * Connections are opened at a bounded rate with a bounded number still
 * waiting for the server's CSM, so servers with a tiny listen backlog
 * (libcoap: 5) are not flooded. --idle opens connections, does the CSM
 * exchange and one request each, then holds them open (for memory
 * measurements). --handshakes measures connection set-up: each connection
 * connects, runs the TLS and/or WebSocket handshakes and the CSM exchange,
 * sends one request, closes on the answer and starts over.
 * coap:// (UDP) runs each "connection" as a connected UDP socket with the
 * library's RFC 7252 session (CON requests, NSTART = --depth so every
 * slot may be outstanding, retransmissions from the scan), one datagram
 * per send() and per recv().
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hist.h"
#include "rcoap/codec_msg.h"
#include "rcoap/codec_option.h"
#include "rcoap/codec_uri.h"
#include "rcoap/session.h"
#include "rcoap/transport_tls.h"
#include "rcoap/transport_ws.h"
#include "rcoap/version.h"

#define MAX_MIX 16
#define MAX_THREADS 64
/* Request options (Uri-Path, Content-Format) encoded once per mix entry. */
#define MIX_OPTS_MAX 512
#define MIX_PAYLOAD_MAX 1024
/* Weighted schedule of mix entries, cycled per connection. */
#define SCHED_MAX 1024
/* Tokens are 4 bytes: slot (16 bits) and generation (16 bits). */
#define TOKEN_LEN 4
#define DEPTH_MAX 4096
#define READ_BUF (256u * 1024u)
#define EVENTS_MAX 512
/* Our announced Max-Message-Size: responses here are small. */
#define BENCH_MAX_MSG (64u * 1024u)
/* How often outstanding requests are checked for timeouts. */
#define SCAN_INTERVAL_NS 100000000ull
/* Filtered transports: ciphertext/frames queued per connection before the
 * session's output is left in the session (back-pressure). */
#define OUT_HIGH (256u * 1024u)
/* First size of a connection's filter output buffer (it grows by doubling
 * and is kept for the whole run: no allocation per request). */
#define OUT_INITIAL 4096u
/* Bound on session messages moved into the filters in one flush round
 * (a WS session hands out one message per rc_session_pending()). */
#define FEED_MAX (2u * DEPTH_MAX + 64u)

typedef struct mix_entry {
  uint8_t code;
  char text[128]; /* "GET /hello" for the report */
  uint8_t opts[MIX_OPTS_MAX];
  size_t opts_len;
  uint8_t payload[MIX_PAYLOAD_MAX];
  size_t payload_len;
  unsigned weight;
} mix_entry;

typedef struct bench_cfg {
  char uri[512];
  struct sockaddr_storage addr;
  socklen_t addr_len;
  int use_tls, use_ws; /* coaps+tcp: tls; coap+ws: ws; coaps+ws: both */
  int use_udp;         /* coap://: one UDP socket per "connection" */
  char host[RC_URI_HOST_MAX + 1]; /* URI host: SNI, certificate, WS Host */
  uint16_t port;
  const char *cafile;
  int insecure;
  const char *psk_id, *psk_key;
  int resume;     /* --resume: TLS session resumption allowed */
  int handshakes; /* --handshakes: connect, handshake, CSM, one GET, close */
  unsigned conns, depth, threads;
  double duration_s, warmup_s;
  uint64_t count; /* 0: run for duration_s */
  double connect_rate;       /* new connections per second, 0 = unlimited */
  unsigned connect_inflight; /* most connections waiting for the CSM */
  double connect_timeout_s;
  uint32_t timeout_ms;
  int idle;
  double idle_hold_s; /* 0: until SIGINT/SIGTERM */
  int quiet;
  mix_entry mix[MAX_MIX];
  unsigned n_mix;
  uint8_t sched[SCHED_MAX];
  unsigned n_sched;
} bench_cfg;

/* C_WAIT_CSM also covers the TLS / WebSocket handshakes (chain_open 0). */
enum { C_NEW = 0, C_CONNECTING, C_WAIT_CSM, C_OPEN, C_DONE };

typedef struct slot {
  uint64_t sent_ns;
  uint16_t gen;
  uint8_t used;
} slot;

struct worker;

typedef struct bconn {
  struct worker *w;
  int fd;
  int state;
  int epollout; /* EPOLLOUT registered */
  rc_session *s;
  uint64_t started_ns;
  unsigned sched_pos;
  unsigned outstanding;
  unsigned nfree;
  uint16_t *free_slots;
  slot *slots;
  int idle_answered;
  int released; /* the server sent Release (RFC 8323 §5.5) */
  int cycle_done; /* --handshakes: the one request was answered */
  /* Filter chain (NULL for coap+tcp): tls at the bottom, ws on top. */
  rc_filter *tls, *ws;
  int chain_open; /* the top filter reported EV_OPEN */
  int chain_dead; /* a filter reported EV_ERROR or EV_CLOSED */
  /* Bytes for the socket from the bottom filter; out[out_off..out_len)
   * is still to be written. Owned by the connection, kept until the end
   * of the run. */
  uint8_t *out;
  size_t out_len, out_off, out_cap;
} bconn;

typedef struct worker {
  const bench_cfg *cfg;
  unsigned id;
  int ep;
  bconn *conns;
  unsigned n;
  unsigned next_connect; /* conns[0..next_connect) have been started */
  unsigned waiting;      /* connecting or waiting for the CSM */
  unsigned open_count;   /* reached C_OPEN (ever) */
  unsigned open_now;     /* in C_OPEN now */
  unsigned failed;       /* never reached C_OPEN */
  double connect_rate;   /* this worker's share */
  uint64_t connect_t0;
  uint64_t all_open_ns;  /* 0 until every connection is open or failed */
  uint64_t win_start, win_end; /* measurement window (ns) */
  uint64_t quota;        /* -n: requests this worker may still send */
  uint64_t in_flight;
  int stop_sending;
  /* counters inside the window */
  uint64_t ok, status_err[8], timeouts, late, conn_err, released;
  uint64_t sent_total, recv_total;
  uint64_t first_ns, last_ns; /* -n: first send, last response */
  uint64_t end_ns;            /* when the loop ended */
  hist h;
  uint8_t rbuf[READ_BUF];
  uint64_t idle_answered;
  uint64_t t_read;  /* when the current read returned (ns): arrival time */
  rc_tls_ctx *tls;  /* this thread's client context (session cache) */
  uint64_t cycles;  /* --handshakes: cycles completed inside the window */
  /* this thread's CPU time at the window's start and end (ns) */
  uint64_t cpu_start, cpu_end;
  uint64_t cpu_wall_start, cpu_wall_end; /* wall clock at the same samples */
  int cpu_started, cpu_ended;
  char first_err[160]; /* why the first filter chain failed, "" if none */
  pthread_t th;
} worker;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static rc_time ms_of(uint64_t ns) { return ns / 1000000ull; }

static uint64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------ */
/* request mix                                                         */

static int method_code(const char *m, size_t n, uint8_t *code) {
  static const struct {
    const char *name;
    uint8_t code;
  } tab[] = {{"GET", RC_GET},     {"POST", RC_POST},   {"PUT", RC_PUT},
             {"DELETE", RC_DELETE}, {"FETCH", RC_FETCH}, {"PATCH", RC_PATCH},
             {"IPATCH", RC_IPATCH}};
  for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
    if (strlen(tab[i].name) == n && strncasecmp(tab[i].name, m, n) == 0) {
      *code = tab[i].code;
      return 0;
    }
  return -1;
}

/* Encodes the Uri-Path/Uri-Query of path (and Content-Format text/plain
 * when there is a payload) into e->opts. Returns 0 or -1. */
static int mix_encode_opts(mix_entry *e, const char *path, size_t path_len) {
  char uri[600];
  int n = snprintf(uri, sizeof(uri), "coap+tcp://h%.*s", (int)path_len, path);
  if (n < 0 || (size_t)n >= sizeof(uri))
    return -1;
  rc_uri u;
  if (rc_uri_parse(uri, (size_t)n, &u) != RC_OK)
    return -1;
  rc_opt opts[64];
  uint8_t scratch[sizeof(uri) + 2];
  size_t n_opts = 0;
  if (rc_uri_to_opts(&u, RC_URI_OMIT_HOST | RC_URI_OMIT_PORT, opts, 63,
                     &n_opts, scratch, sizeof(scratch), NULL) != RC_OK)
    return -1;
  if (e->payload_len > 0) {
    opts[n_opts].num = 12; /* Content-Format: text/plain (0) */
    opts[n_opts].val = NULL;
    opts[n_opts].len = 0;
    n_opts++;
    rc_opts_sort(opts, n_opts);
  }
  uint8_t buf[RC_ENC_HEADROOM + MIX_OPTS_MAX];
  rc_enc enc;
  rc_enc_init(&enc, buf, sizeof(buf), e->code, NULL, 0);
  for (size_t i = 0; i < n_opts; i++)
    if (rc_enc_opt(&enc, opts[i].num, opts[i].val, opts[i].len) != RC_OK)
      return -1;
  e->opts_len = enc.pos - RC_ENC_HEADROOM;
  memcpy(e->opts, buf + RC_ENC_HEADROOM, e->opts_len);
  return 0;
}

/* One mix entry: "METHOD /path[?query][=payload][:weight]". */
static int mix_parse_one(bench_cfg *cfg, const char *s, size_t len) {
  if (cfg->n_mix == MAX_MIX)
    return -1;
  mix_entry *e = &cfg->mix[cfg->n_mix];
  memset(e, 0, sizeof(*e));
  while (len > 0 && *s == ' ')
    s++, len--;
  const char *sp = memchr(s, ' ', len);
  if (sp == NULL || method_code(s, (size_t)(sp - s), &e->code) != 0)
    return -1;
  const char *path = sp + 1;
  const char *end = s + len;
  e->weight = 1;
  /* weight: the last ':' followed by digits only */
  const char *colon = NULL;
  for (const char *p = end; p > path; p--)
    if (p[-1] == ':') {
      colon = p - 1;
      break;
    }
  if (colon != NULL && colon + 1 < end) {
    char *ep;
    unsigned long wt = strtoul(colon + 1, &ep, 10);
    if (ep == end && wt > 0 && wt <= 1000) {
      e->weight = (unsigned)wt;
      end = colon;
    }
  }
  const char *eq = memchr(path, '=', (size_t)(end - path));
  /* '=' inside a query belongs to the query: the payload separator is
   * the first '=' after the last '?'-free part, so require "=" before any
   * '?' or, if a '?' exists, the first '=' after a space-free token: we
   * keep it simple and take the LAST '=' only when no '?' precedes it. */
  const char *q = memchr(path, '?', (size_t)(end - path));
  if (q != NULL)
    eq = NULL;
  const char *path_end = eq ? eq : end;
  if (eq) {
    size_t pl = (size_t)(end - eq - 1);
    if (pl > MIX_PAYLOAD_MAX)
      return -1;
    memcpy(e->payload, eq + 1, pl);
    e->payload_len = pl;
  }
  if (path_end == path || *path != '/')
    return -1;
  snprintf(e->text, sizeof(e->text), "%.*s %.*s%s", (int)(sp - s), s,
           (int)(path_end - path), path, e->payload_len ? " +payload" : "");
  if (mix_encode_opts(e, path, (size_t)(path_end - path)) != 0)
    return -1;
  cfg->n_mix++;
  return 0;
}

/* Builds a smooth weighted round-robin schedule (nginx's algorithm), so
 * that a mix of 8:1:1 interleaves instead of sending bursts. */
static int mix_schedule(bench_cfg *cfg) {
  unsigned total = 0;
  for (unsigned i = 0; i < cfg->n_mix; i++)
    total += cfg->mix[i].weight;
  if (total == 0 || total > SCHED_MAX)
    return -1;
  long cur[MAX_MIX] = {0};
  for (unsigned k = 0; k < total; k++) {
    unsigned best = 0;
    for (unsigned i = 0; i < cfg->n_mix; i++) {
      cur[i] += cfg->mix[i].weight;
      if (cur[i] > cur[best])
        best = i;
    }
    cur[best] -= (long)total;
    cfg->sched[k] = (uint8_t)best;
  }
  cfg->n_sched = total;
  return 0;
}

/* Splits spec at every ',' not written as "\\," (a payload may hold
 * commas: "PUT /x=a\\, b"). */
static int mix_parse(bench_cfg *cfg, const char *spec) {
  char ent[MIX_PAYLOAD_MAX + 256];
  size_t len = 0;
  for (const char *p = spec;; p++) {
    if (*p == '\\' && p[1] == ',') {
      p++;
    } else if (*p == ',' || *p == 0) {
      if (mix_parse_one(cfg, ent, len) != 0) {
        fprintf(stderr, "rcoap-bench: bad --mix entry \"%.*s\" (at most %d "
                        "entries)\n", (int)len, ent, MAX_MIX);
        return -1;
      }
      len = 0;
      if (*p == 0)
        break;
      continue;
    }
    if (len == sizeof(ent)) {
      fprintf(stderr, "rcoap-bench: --mix entry too long\n");
      return -1;
    }
    ent[len++] = *p;
  }
  return mix_schedule(cfg);
}

/* ------------------------------------------------------------------ */
/* connections                                                         */

static void conn_fail(bconn *c, int counted);

static int conn_on_message(void *user, const rc_msg *m) {
  bconn *c = user;
  worker *w = c->w;
  if (!rc_code_is_response(m->code) || m->token_len != TOKEN_LEN)
    return 0; /* a request from the server: ignored */
  unsigned si = ((unsigned)m->token[0] << 8) | m->token[1];
  uint16_t gen = (uint16_t)(((unsigned)m->token[2] << 8) | m->token[3]);
  unsigned depth = w->cfg->idle ? 1 : w->cfg->depth;
  if (si >= depth || !c->slots[si].used || c->slots[si].gen != gen) {
    w->late++; /* answered after we gave up on it */
    return 0;
  }
  slot *sl = &c->slots[si];
  uint64_t t = w->t_read; /* every response of one read arrived together */
  sl->used = 0;
  sl->gen++;
  c->free_slots[c->nfree++] = (uint16_t)si;
  c->outstanding--;
  w->in_flight--;
  w->recv_total++;
  w->last_ns = t;
  if (w->cfg->idle) {
    c->idle_answered = 1;
    __atomic_fetch_add(&w->idle_answered, 1, __ATOMIC_RELAXED);
  }
  /* --handshakes: the sample is the whole cycle, from connect() on. */
  uint64_t from = w->cfg->handshakes ? c->started_ns : sl->sent_ns;
  if (w->cfg->handshakes)
    c->cycle_done = 1;
  int in_window = t >= w->win_start && t < w->win_end && from >= w->win_start;
  if (!in_window)
    return 0;
  unsigned cls = RC_CODE_CLASS(m->code);
  if (cls == 2)
    w->ok++;
  else
    w->status_err[cls & 7]++;
  if (w->cfg->handshakes)
    w->cycles++;
  hist_add(&w->h, t - from);
  return 0;
}

static void conn_on_csm(void *user) {
  bconn *c = user;
  if (c->state == C_WAIT_CSM) {
    c->state = C_OPEN;
    c->w->waiting--;
    c->w->open_count++;
    c->w->open_now++;
  }
}

/* RFC 8323 §5.5: after a Release no new request may go on this
 * connection; it is closed once the outstanding ones are answered. */
static void conn_on_release(void *user, const rc_session_release_info *info) {
  (void)info;
  bconn *c = user;
  c->released = 1;
  c->w->released++;
}

static void conn_on_closed(void *user, rc_err reason) {
  (void)user;
  (void)reason;
  /* acted on after rc_session_recv() returns (conn_on_readable) */
}

static const rc_session_callbacks conn_cb = {
    .on_message = conn_on_message,
    .on_csm = conn_on_csm,
    .on_closed = conn_on_closed,
    .on_release = conn_on_release,
};

static void conn_set_out(bconn *c, int on) {
  if (c->epollout == on)
    return;
  struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0),
                           .data.ptr = c};
  epoll_ctl(c->w->ep, EPOLL_CTL_MOD, c->fd, &ev);
  c->epollout = on;
}

/* Plain TCP: writes what the session has queued, normally one send() for
 * every message produced since the last read. Returns 0 or -1 (conn
 * failed). */
static int conn_flush_plain(bconn *c) {
  for (int guard = 0; guard < (c->w->cfg->use_udp ? 8192 : 64); guard++) {
    const uint8_t *p;
    size_t len;
    if (rc_session_pending(c->s, &p, &len) != RC_OK) {
      conn_set_out(c, 0);
      return 0;
    }
    ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        conn_set_out(c, 1);
        return 0;
      }
      if (errno == EINTR)
        continue;
      return -1;
    }
    rc_session_consume(c->s, (size_t)n);
    if ((size_t)n < len) {
      conn_set_out(c, 1);
      return 0;
    }
  }
  return 0;
}

/* Filters: appends bytes for the socket to c->out (the bottom filter's
 * down()). The buffer grows by doubling and is never shrunk during the
 * run. Returns RC_OK or RC_ERR_NOMEM. */
static rc_err conn_out_append(bconn *c, const uint8_t *d, size_t n) {
  if (n == 0)
    return RC_OK;
  if (c->out_off > 0 && c->out_cap - c->out_len < n) {
    memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
    c->out_len -= c->out_off;
    c->out_off = 0;
  }
  if (c->out_cap - c->out_len < n) {
    size_t cap = c->out_cap ? c->out_cap : OUT_INITIAL;
    while (cap - c->out_len < n) {
      if (cap > SIZE_MAX / 2)
        return RC_ERR_NOMEM;
      cap *= 2;
    }
    uint8_t *nb = realloc(c->out, cap);
    if (nb == NULL)
      return RC_ERR_NOMEM;
    c->out = nb;
    c->out_cap = cap;
  }
  memcpy(c->out + c->out_len, d, n);
  c->out_len += n;
  return RC_OK;
}

/* Filters: writes c->out[out_off..out_len) with send(). Returns 1 when
 * everything went, 0 when the kernel took only part (EPOLLOUT armed), -1
 * on a socket error. */
static int conn_write_out(bconn *c) {
  while (c->out_off < c->out_len) {
    ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                     MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        conn_set_out(c, 1);
        return 0;
      }
      if (errno == EINTR)
        continue;
      return -1;
    }
    c->out_off += (size_t)n;
  }
  c->out_off = c->out_len = 0;
  return 1;
}

/* Filters: moves the session's queued messages through the chain in one
 * batch (the ws filter corked, so its frames reach the TLS filter in one
 * down() and one SSL_write; a coaps+tcp session hands out its contiguous
 * run of messages at once), then writes the result with one send().
 * Returns 0 or -1 (conn failed). */
static int conn_flush_chain(bconn *c) {
  rc_filter *top = c->ws != NULL ? c->ws : c->tls;
  int flags = c->ws != NULL ? RC_FILTER_MSG_END : 0;
  for (int round = 0; round < 64; round++) {
    int more = 0;
    if (c->chain_open && !c->chain_dead && c->s != NULL) {
      const uint8_t *p;
      size_t n;
      if (c->ws != NULL)
        rc_ws_cork(c->ws);
      for (unsigned k = 0;; k++) {
        if (k == FEED_MAX || c->out_len - c->out_off >= OUT_HIGH) {
          more = 1;
          break;
        }
        if (rc_session_pending(c->s, &p, &n) != RC_OK)
          break;
        if (rc_filter_send(top, p, n, flags) != RC_OK) {
          c->chain_dead = 1;
          break;
        }
        rc_session_consume(c->s, n);
      }
      if (c->ws != NULL && !c->chain_dead && rc_ws_uncork(c->ws) != RC_OK)
        c->chain_dead = 1;
    }
    int r = conn_write_out(c);
    if (r < 0)
      return -1;
    if (r == 0)
      return c->chain_dead ? -1 : 0;
    if (!more || c->chain_dead)
      break;
  }
  if (c->out_off == c->out_len)
    conn_set_out(c, 0);
  return c->chain_dead ? -1 : 0;
}

/* Writes what is queued for this connection. Returns 0 or -1 (failed). */
static int conn_flush(bconn *c) {
  if (c->tls == NULL && c->ws == NULL)
    return conn_flush_plain(c);
  return conn_flush_chain(c);
}

/* Fills every free slot with a new request (up to the quota). */
static void conn_fill(bconn *c) {
  worker *w = c->w;
  const bench_cfg *cfg = w->cfg;
  if (c->state != C_OPEN || w->stop_sending || c->released)
    return;
  if (cfg->idle && c->idle_answered)
    return;
  uint64_t t = now_ns();
  if (w->first_ns == 0)
    w->first_ns = t;
  while (c->nfree > 0) {
    if (cfg->count && w->quota == 0)
      break;
    unsigned si = c->free_slots[c->nfree - 1];
    slot *sl = &c->slots[si];
    const mix_entry *me = &cfg->mix[cfg->sched[c->sched_pos]];
    uint8_t tok[TOKEN_LEN] = {(uint8_t)(si >> 8), (uint8_t)si,
                              (uint8_t)(sl->gen >> 8), (uint8_t)sl->gen};
    rc_enc e;
    if (rc_session_msg_begin(c->s, &e, me->code, tok, TOKEN_LEN,
                             me->opts_len + me->payload_len + 1) != RC_OK)
      break;
    rc_enc_opts_raw(&e, me->opts, me->opts_len);
    if (me->payload_len)
      rc_enc_payload(&e, me->payload, me->payload_len);
    if (rc_session_msg_end(c->s, &e) != RC_OK)
      break;
    if (++c->sched_pos == cfg->n_sched)
      c->sched_pos = 0;
    c->nfree--;
    sl->used = 1;
    sl->sent_ns = t;
    c->outstanding++;
    w->in_flight++;
    w->sent_total++;
    if (cfg->count)
      w->quota--;
    if (cfg->idle)
      break;
  }
}

/* Closes the socket and frees the session and the filters; the output
 * buffer stays for the next cycle (conn_destroy frees it). */
static void conn_close(bconn *c) {
  if (c->fd >= 0) {
    epoll_ctl(c->w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
  }
  rc_filter_destroy(c->ws);
  c->ws = NULL;
  rc_filter_destroy(c->tls);
  c->tls = NULL;
  if (c->s) {
    rc_session_del(c->s);
    c->s = NULL;
  }
  c->out_len = c->out_off = 0;
  c->chain_open = c->chain_dead = 0;
}

static void conn_destroy(bconn *c) {
  conn_close(c);
  free(c->out);
  c->out = NULL;
  c->out_cap = 0;
}

/* A connection broke (or never came up). Its outstanding requests are
 * lost; counted is 0 when the failure is expected (end of run). */
static void conn_fail(bconn *c, int counted) {
  worker *w = c->w;
  if (c->state == C_DONE)
    return;
  if (c->state == C_OPEN)
    w->open_now--;
  if (c->state == C_CONNECTING || c->state == C_WAIT_CSM) {
    w->waiting--;
    __atomic_fetch_add(&w->failed, 1, __ATOMIC_RELAXED);
  }
  if (counted)
    w->conn_err++;
  w->in_flight -= c->outstanding;
  c->outstanding = 0;
  c->state = C_DONE;
  conn_close(c);
}

static int conn_start(bconn *c, const bench_cfg *cfg, uint64_t t) {
  c->started_ns = t;
  c->released = 0;
  c->cycle_done = 0;
  c->idle_answered = 0;
  /* A restarted connection (--handshakes) forgets the requests the old
   * one left unanswered: their slots are free again. */
  unsigned depth = cfg->idle ? 1 : cfg->depth;
  c->nfree = 0;
  for (unsigned s = depth; s-- > 0;) {
    if (c->slots[s].used) {
      c->slots[s].used = 0;
      c->slots[s].gen++;
    }
    c->free_slots[c->nfree++] = (uint16_t)s;
  }
  c->fd = socket(cfg->addr.ss_family,
                 (cfg->use_udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK |
                     SOCK_CLOEXEC,
                 0);
  if (c->fd < 0)
    return -1;
  int one = 1;
  if (!cfg->use_udp)
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  c->state = C_CONNECTING;
  c->w->waiting++;
  if (connect(c->fd, (const struct sockaddr *)&cfg->addr, cfg->addr_len) != 0 &&
      errno != EINPROGRESS)
    return -1;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  if (epoll_ctl(c->w->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
    return -1;
  c->epollout = 1;
  return 0;
}

/* ---- the filter chain's sinks (as src/transport/conn.c wires them) ---- */

/* Plaintext (tls) or one whole message (ws) for the session. */
static rc_err conn_to_session(bconn *c, const uint8_t *d, size_t n) {
  if (c->s == NULL || rc_session_get_state(c->s) == RC_SESSION_CLOSED)
    return RC_OK;
  rc_err err = rc_session_recv(c->s, d, n, ms_of(c->w->t_read));
  return err == RC_ERR_CLOSED ? RC_OK : err;
}

static void conn_filter_event(bconn *c, int is_ws, rc_filter_event ev,
                              int arg, const char *detail) {
  if (ev == RC_FILTER_EV_OPEN) {
    if (!is_ws && c->ws != NULL) {
      /* TLS is up: the WebSocket upgrade goes inside it. */
      rc_err err = rc_ws_client_start(c->ws);
      if (err != RC_OK)
        conn_filter_event(c, 1, RC_FILTER_EV_ERROR, err,
                          "cannot start the upgrade");
      return;
    }
    c->chain_open = 1; /* the session's CSM goes at the next flush */
    return;
  }
  /* EV_ERROR, or EV_CLOSED (close_notify, WS close): the run of this
   * connection is over; what the filter queued (an alert, a close
   * frame) is still written. */
  c->chain_dead = 1;
  worker *w = c->w;
  if (ev == RC_FILTER_EV_ERROR && w->first_err[0] == 0)
    snprintf(w->first_err, sizeof(w->first_err), "%s: %s",
             is_ws ? "WebSocket" : "TLS",
             detail != NULL && detail[0] ? detail : rc_strerror((rc_err)arg));
}

static rc_err tls_up(void *ctx, const uint8_t *d, size_t n, int flags) {
  bconn *c = ctx;
  (void)flags;
  if (c->ws != NULL)
    return rc_filter_recv(c->ws, d, n);
  return conn_to_session(c, d, n);
}
static rc_err tls_down(void *ctx, const uint8_t *d, size_t n) {
  return conn_out_append(ctx, d, n);
}
static void tls_event(void *ctx, rc_filter_event ev, int arg,
                      const char *detail) {
  conn_filter_event(ctx, 0, ev, arg, detail);
}
static rc_err ws_up(void *ctx, const uint8_t *d, size_t n, int flags) {
  (void)flags; /* always RC_FILTER_MSG_END: one whole message */
  return conn_to_session(ctx, d, n);
}
static rc_err ws_down(void *ctx, const uint8_t *d, size_t n) {
  bconn *c = ctx;
  if (c->tls != NULL)
    return rc_filter_send(c->tls, d, n, 0);
  return conn_out_append(c, d, n);
}
static void ws_event(void *ctx, rc_filter_event ev, int arg,
                     const char *detail) {
  conn_filter_event(ctx, 1, ev, arg, detail);
}

/* Builds the chain for this connection and starts its handshakes: the
 * ClientHello (tls) or the HTTP upgrade (ws) lands in c->out. Returns 0
 * or -1. */
static int conn_chain_new(bconn *c, uint32_t max_msg) {
  const bench_cfg *cfg = c->w->cfg;
  if (cfg->use_tls) {
    rc_filter_sink sink = {tls_up, tls_down, tls_event, c};
    if (rc_tls_filter_new(c->w->tls, cfg->host, cfg->port, &sink, &c->tls) !=
        RC_OK)
      return -1;
  }
  if (cfg->use_ws) {
    rc_filter_sink sink = {ws_up, ws_down, ws_event, c};
    rc_ws_config wc;
    memset(&wc, 0, sizeof(wc));
    wc.max_message = max_msg;
    wc.host = cfg->host;
    wc.port = cfg->port;
    wc.tls = cfg->use_tls;
    if (rc_ws_client_new(&wc, &sink, &c->ws) != RC_OK)
      return -1;
  }
  rc_err err = c->tls != NULL ? rc_tls_start(c->tls) : rc_ws_client_start(c->ws);
  return err == RC_OK && !c->chain_dead ? 0 : -1;
}

/* The TCP connect finished: create the session (our CSM is its first
 * output, RFC 8323 §3.3) and the filters, and send the CSM (coap+tcp) or
 * the first handshake bytes. */
static int conn_connected(bconn *c, uint64_t t) {
  int err = 0;
  socklen_t el = sizeof(err);
  if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
    if (c->w->first_err[0] == 0)
      snprintf(c->w->first_err, sizeof(c->w->first_err), "connect: %s",
               strerror(err ? err : errno));
    return -1;
  }
  const bench_cfg *cfg = c->w->cfg;
  rc_session_config sc;
  /* RFC 8323 §4: over WebSockets one CoAP message is one WS message, in
   * the Len=0 form: the session runs in message mode. */
  rc_session_config_default(&sc,
                            cfg->use_udp  ? RC_FRAMING_UDP
                            : cfg->use_ws ? RC_FRAMING_WS
                                          : RC_FRAMING_TCP,
                            RC_SESSION_CLIENT);
  sc.max_msg_size = BENCH_MAX_MSG;
  sc.csm_timeout_ms = 0; /* our own connect timeout covers it */
  sc.udp.nstart = cfg->depth; /* every slot may be outstanding */
  sc.udp.seed = (uint64_t)t ^ (uint64_t)(uintptr_t)c;
  if (rc_session_new(&c->s, &sc, &conn_cb, c, NULL, ms_of(t)) != RC_OK)
    return -1;
  c->state = C_WAIT_CSM;
  if (cfg->use_udp)
    conn_on_csm(c); /* nothing to wait for on UDP */
  if ((cfg->use_tls || cfg->use_ws) && conn_chain_new(c, sc.max_msg_size) != 0)
    return -1;
  return conn_flush(c);
}

/* --handshakes: the cycle's request was answered. Close politely (WS
 * close frame, TLS close_notify), then connect again at once. */
static void conn_cycle_end(bconn *c, uint64_t t) {
  worker *w = c->w;
  if (c->ws != NULL && !c->chain_dead)
    (void)rc_filter_shutdown(c->ws);
  if (c->tls != NULL && !c->chain_dead)
    (void)rc_filter_shutdown(c->tls);
  if (c->out_off < c->out_len)
    (void)conn_write_out(c); /* best effort: the socket closes now */
  if (c->state == C_OPEN)
    w->open_now--;
  w->in_flight -= c->outstanding;
  c->outstanding = 0;
  c->state = C_DONE;
  conn_close(c);
  if (!w->stop_sending && conn_start(c, w->cfg, t) != 0)
    conn_fail(c, 1);
}

static void conn_on_readable(bconn *c) {
  worker *w = c->w;
  rc_filter *bottom = c->tls != NULL ? c->tls : c->ws;
  int udp = w->cfg->use_udp; /* one datagram per recv() */
  for (int guard = 0; guard < (udp ? 1024 : 4); guard++) {
    ssize_t n = recv(c->fd, w->rbuf, sizeof(w->rbuf), 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        break;
      if (errno == EINTR)
        continue;
      conn_fail(c, 1);
      return;
    }
    if (n == 0) {
      if (c->tls != NULL && !c->chain_dead)
        (void)rc_tls_eof(c->tls);
      if (c->state != C_OPEN && w->first_err[0] == 0)
        snprintf(w->first_err, sizeof(w->first_err),
                 "the server closed the connection before it was open");
      conn_fail(c, !w->stop_sending || c->outstanding > 0);
      return;
    }
    w->t_read = now_ns();
    rc_err err;
    if (bottom != NULL)
      err = c->chain_dead ? RC_ERR_STATE
                          : rc_filter_recv(bottom, w->rbuf, (size_t)n);
    else
      err = rc_session_recv(c->s, w->rbuf, (size_t)n, ms_of(w->t_read));
    if (err != RC_OK || c->chain_dead ||
        rc_session_get_state(c->s) == RC_SESSION_CLOSED) {
      if (c->cycle_done) { /* answered, then the peer went: a cycle */
        conn_cycle_end(c, w->t_read);
        return;
      }
      conn_flush(c); /* an Abort, an alert, a close frame, if queued */
      conn_fail(c, 1);
      return;
    }
    if ((size_t)n < sizeof(w->rbuf) && !udp)
      break;
  }
  if (c->cycle_done) {
    conn_cycle_end(c, w->t_read);
    return;
  }
  if (c->released && c->outstanding == 0) {
    conn_fail(c, !w->stop_sending);
    return;
  }
  conn_fill(c);
  if (conn_flush(c) != 0)
    conn_fail(c, 1);
}

static void conn_on_event(bconn *c, uint32_t events, uint64_t t) {
  if (c->state == C_DONE)
    return;
  if (c->state == C_CONNECTING) {
    if (conn_connected(c, t) != 0) {
      conn_fail(c, 1);
      return;
    }
    if (!(events & EPOLLIN))
      return;
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    conn_on_readable(c);
    if (c->state == C_DONE)
      return;
  }
  if ((events & EPOLLOUT) && c->s != NULL) {
    conn_fill(c);
    if (conn_flush(c) != 0)
      conn_fail(c, 1);
  }
}

/* ------------------------------------------------------------------ */
/* worker loop                                                         */

/* Starts as many connections as the pacing allows. */
static void worker_connect_more(worker *w, uint64_t t) {
  const bench_cfg *cfg = w->cfg;
  for (unsigned guard = 0; guard < w->n && w->next_connect < w->n; guard++) {
    if (w->waiting >= cfg->connect_inflight)
      return;
    if (w->connect_rate > 0) {
      double allowed = (double)(t - w->connect_t0) / 1e9 * w->connect_rate + 1;
      if ((double)w->next_connect >= allowed)
        return;
    }
    bconn *c = &w->conns[w->next_connect++];
    if (conn_start(c, cfg, t) != 0)
      conn_fail(c, 1);
  }
}

/* Expires requests outstanding longer than the timeout, and connections
 * that have not become usable within the connect timeout. */
static void worker_scan(worker *w, uint64_t t) {
  const bench_cfg *cfg = w->cfg;
  uint64_t to = (uint64_t)cfg->timeout_ms * 1000000ull;
  uint64_t cto = (uint64_t)(cfg->connect_timeout_s * 1e9);
  unsigned depth = cfg->idle ? 1 : cfg->depth;
  for (unsigned i = 0; i < w->next_connect; i++) {
    bconn *c = &w->conns[i];
    if (cfg->handshakes && c->state == C_DONE && !w->stop_sending) {
      /* a failed cycle starts again here, at most every scan interval */
      if (conn_start(c, cfg, t) != 0)
        conn_fail(c, 1);
      continue;
    }
    if ((c->state == C_CONNECTING || c->state == C_WAIT_CSM) &&
        t - c->started_ns > cto) {
      conn_fail(c, 1);
      continue;
    }
    if (cfg->use_udp && c->state == C_OPEN && c->s != NULL &&
        rc_session_expiry(c->s) <= ms_of(t)) {
      /* CON retransmissions (RFC 7252 §4.2) */
      rc_session_handle_expiry(c->s, ms_of(t));
      if (conn_flush(c) != 0) {
        conn_fail(c, 1);
        continue;
      }
    }
    if (c->state != C_OPEN || c->outstanding == 0 || to == 0)
      continue;
    for (unsigned si = 0; si < depth; si++) {
      slot *sl = &c->slots[si];
      if (sl->used && t - sl->sent_ns > to) {
        sl->used = 0;
        sl->gen++;
        c->free_slots[c->nfree++] = (uint16_t)si;
        c->outstanding--;
        w->in_flight--;
        if (sl->sent_ns >= w->win_start && t < w->win_end)
          w->timeouts++;
      }
    }
  }
}

static void *worker_run(void *arg) {
  worker *w = arg;
  const bench_cfg *cfg = w->cfg;
  struct epoll_event evs[EVENTS_MAX];
  uint64_t t = now_ns();
  w->connect_t0 = t;
  /* -n counts every request; -d only those of the window (set below). */
  w->win_start = cfg->count ? 0 : UINT64_MAX;
  w->win_end = UINT64_MAX;
  uint64_t next_scan = t + SCAN_INTERVAL_NS;
  uint64_t hold_end = UINT64_MAX;
  uint64_t drain_end = UINT64_MAX;
  for (;;) {
    t = now_ns();
    if (g_stop)
      break;
    if (w->next_connect < w->n)
      worker_connect_more(w, t);
    if (cfg->handshakes && w->all_open_ns == 0) {
      /* connections never stay open: the window starts after the
       * warm-up, counted from the first connect */
      w->all_open_ns = t;
      w->win_start = t + (uint64_t)(cfg->warmup_s * 1e9);
      w->win_end = w->win_start + (uint64_t)(cfg->duration_s * 1e9);
    }
    if (w->all_open_ns == 0 && w->next_connect == w->n && w->waiting == 0) {
      w->all_open_ns = t;
      if (!cfg->idle && !cfg->count) {
        w->win_start = t + (uint64_t)(cfg->warmup_s * 1e9);
        w->win_end = w->win_start + (uint64_t)(cfg->duration_s * 1e9);
      }
    }
    if (cfg->idle) {
      if (w->all_open_ns && w->idle_answered + w->failed >= w->n &&
          w->in_flight == 0 && hold_end == UINT64_MAX)
        hold_end = cfg->idle_hold_s > 0
                       ? t + (uint64_t)(cfg->idle_hold_s * 1e9)
                       : UINT64_MAX - 1;
      if (t >= hold_end)
        break;
    } else {
      if (!w->stop_sending && (t >= w->win_end ||
                               (cfg->count && w->quota == 0 && w->all_open_ns))) {
        w->stop_sending = 1;
        drain_end = t + (uint64_t)cfg->timeout_ms * 1000000ull;
      }
      if (w->stop_sending && (cfg->count == 0 || w->in_flight == 0 ||
                              t >= drain_end))
        break;
      if (w->all_open_ns && w->open_now == 0 && !cfg->handshakes)
        break; /* nothing connected (any more) */
    }
    /* this thread's own CPU time over the window: the generator's cost */
    if (!w->cpu_started && t >= w->win_start) {
      w->cpu_start = thread_cpu_ns();
      w->cpu_wall_start = now_ns();
      w->cpu_started = 1;
    }
    if (w->cpu_started && !w->cpu_ended && t >= w->win_end) {
      w->cpu_end = thread_cpu_ns();
      w->cpu_wall_end = now_ns();
      w->cpu_ended = 1;
    }
    if (t >= next_scan) {
      worker_scan(w, t);
      next_scan = t + SCAN_INTERVAL_NS;
    }
    int timeout_ms = 100;
    if (w->next_connect < w->n)
      timeout_ms = 1;
    else if (w->win_end != UINT64_MAX && w->win_end > t &&
             (w->win_end - t) / 1000000ull < 100)
      timeout_ms = (int)((w->win_end - t) / 1000000ull) + 1;
    int n = epoll_wait(w->ep, evs, EVENTS_MAX, timeout_ms);
    if (n < 0 && errno != EINTR)
      break;
    t = now_ns();
    for (int i = 0; i < n; i++) {
      bconn *c = evs[i].data.ptr;
      conn_on_event(c, evs[i].events, t);
      if (c->state == C_OPEN && c->s != NULL && c->outstanding == 0 &&
          !w->stop_sending) {
        /* just opened (the CSM arrived): start the pipeline */
        conn_fill(c);
        if (conn_flush(c) != 0)
          conn_fail(c, 1);
      }
    }
  }
  w->end_ns = now_ns();
  if (w->cpu_started && !w->cpu_ended) {
    w->cpu_end = thread_cpu_ns();
    w->cpu_wall_end = now_ns();
    w->cpu_ended = 1;
  }
  return NULL;
}

/* ------------------------------------------------------------------ */
/* main                                                                */

static void usage(FILE *f) {
  fprintf(f,
          "usage: rcoap-bench [options] URI\n"
          "\n"
          "Load generator for CoAP over TCP, TLS and WebSockets (RFC 8323).\n"
          "URI: coap://HOST:PORT (UDP), coap+tcp://..., coaps+tcp://..., coap+ws://...,\n"
          "coaps+ws://...\n"
          "(a path in the URI is the default request: GET PATH; else GET /hello).\n"
          "\n"
          "options:\n"
          "  -c, --connections N     connections (default 50)\n"
          "  -p, --depth N           requests outstanding per connection (default 16)\n"
          "      --duration S        measure for S seconds (default 10)\n"
          "  -n, --requests N        send N requests in total instead of -d\n"
          "  -w, --warmup S          run S seconds before measuring (default 1)\n"
          "      --threads N         worker threads, one epoll loop each (default 1)\n"
          "  -m, --mix SPEC          request mix: \"METHOD /path[=payload][:weight],...\"\n"
          "                          (write a comma inside a payload as \\,)\n"
          "                          e.g. \"GET /hello:8,PUT /store/x=abc:1,POST /echo=hi:1\"\n"
          "  -T, --timeout S         a request unanswered S seconds is an error (5), as\n"
          "                          rcoap's -T (--timeout-ms MS: the same in ms)\n"
          "      --connect-rate R    open at most R connections per second (0: no limit)\n"
          "      --connect-inflight N  at most N connections waiting for the server's\n"
          "                          CSM at once (default 4: libcoap's backlog is 5)\n"
          "      --connect-timeout S a connection not open after S s fails (10)\n"
          "      --idle              open the connections, CSM + one request each, then\n"
          "                          hold them idle; prints \"IDLE established=N\"\n"
          "      --hold S            with --idle: hold S seconds (default: until SIGINT)\n"
          "      --handshakes        connection set-up rate: each connection connects,\n"
          "                          runs the TLS/WebSocket handshakes and the CSM\n"
          "                          exchange, sends one request, closes on the answer\n"
          "                          and starts over (full TLS handshakes unless\n"
          "                          --resume); latency is the whole cycle\n"
          "      --resume            allow TLS session resumption (client cache)\n"
          "      --cafile FILE       trust anchors for coaps (PEM); default: system store\n"
          "      --insecure          do not verify the server's certificate\n"
          "      --psk-identity ID --psk-key KEY  TLS pre-shared key (text)\n"
          "  -q, --quiet             only the RESULT line\n"
          "  -V, --version, -h, --help\n"
          "\n"
          "The last line is machine-readable:\n"
          "  RESULT rps=... requests=... p50_us=... p90_us=... p99_us=... max_us=... errors=...\n"
          "  ... bench_cpu_us=... (this program's CPU time per request)\n"
          "With --handshakes rps is handshake cycles per second.\n"
          "Short options mean what they mean in rcoap (no -d / -t here: those\n"
          "are rcoap's payload and Content-Format).\n"
          "\n"
          "exit status: 0 every request answered 2.xx, 1 errors (timeouts,\n"
          "connection failures, other codes) or nothing done, 2 usage\n");
}

static int resolve(bench_cfg *cfg, const char *uri_s) {
  rc_uri u;
  rc_err err = rc_uri_parse(uri_s, strlen(uri_s), &u);
  if (err != RC_OK) {
    fprintf(stderr, "rcoap-bench: %s: %s\n", uri_s, rc_strerror(err));
    return -1;
  }
  cfg->use_udp = u.scheme == RC_SCHEME_COAP;
  if (!u.is_tcp && !u.is_ws && !cfg->use_udp) {
    fprintf(stderr,
            "rcoap-bench: %s: not a scheme it speaks (coap, coap+tcp, "
            "coaps+tcp, coap+ws, coaps+ws)\n",
            rc_scheme_name(u.scheme));
    return -1;
  }
  cfg->use_tls = u.is_secure;
  cfg->use_ws = u.is_ws;
  cfg->port = u.port;
  char port[8];
  snprintf(cfg->host, sizeof(cfg->host), "%.*s", (int)u.host_len, u.host);
  const char *host = cfg->host;
  snprintf(port, sizeof(port), "%u", u.port);
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
  int gai = getaddrinfo(host, port, &hints, &res);
  if (gai != 0 || res == NULL) {
    fprintf(stderr, "rcoap-bench: %s: %s\n", host, gai_strerror(gai));
    return -1;
  }
  memcpy(&cfg->addr, res->ai_addr, res->ai_addrlen);
  cfg->addr_len = res->ai_addrlen;
  freeaddrinfo(res);
  if (cfg->n_mix == 0) {
    char def[300];
    snprintf(def, sizeof(def), "GET %.*s",
             (int)(u.path_len > 1 ? u.path_len : 6),
             u.path_len > 1 ? u.path : "/hello");
    if (mix_parse(cfg, def) != 0)
      return -1;
  }
  return 0;
}

/* One client TLS context per worker thread (a client context holds the
 * session cache and belongs to one thread). Returns 0 or -1 (said why). */
static int worker_tls_new(worker *w, const bench_cfg *cfg) {
  rc_tls_config tc;
  rc_tls_config_init(&tc, RC_TLS_CLIENT);
  tc.ca_file = cfg->cafile;
  tc.insecure = cfg->insecure;
  if (cfg->psk_id) {
    tc.psk_identity = (const uint8_t *)cfg->psk_id;
    tc.psk_identity_len = strlen(cfg->psk_id);
    tc.psk_key = (const uint8_t *)cfg->psk_key;
    tc.psk_key_len = strlen(cfg->psk_key);
  }
  /* --handshakes measures full handshakes unless --resume */
  tc.session_cache_size = cfg->resume ? 32 : 0;
  char errbuf[256] = "";
  rc_err err = rc_tls_ctx_new(&tc, &w->tls, errbuf, sizeof(errbuf));
  if (err != RC_OK) {
    fprintf(stderr, "rcoap-bench: TLS: %s\n",
            errbuf[0] ? errbuf : rc_strerror(err));
    return -1;
  }
  return 0;
}

static double parse_num(const char *s, const char *what) {
  char *end;
  double v = strtod(s, &end);
  if (*s == 0 || *end != 0 || v < 0) {
    fprintf(stderr, "rcoap-bench: bad %s \"%s\"\n", what, s);
    exit(2);
  }
  return v;
}

static void fmt_us(char *buf, size_t cap, uint64_t ns) {
  if (ns < 1000000ull)
    snprintf(buf, cap, "%.1f us", (double)ns / 1e3);
  else
    snprintf(buf, cap, "%.2f ms", (double)ns / 1e6);
}

int main(int argc, char **argv) {
  enum { O_TIMEOUT = 256, O_TIMEOUT_MS, O_DURATION, O_THREADS, O_CRATE, O_CINFL, O_CTIMEOUT, O_IDLE, O_HOLD,
         O_HANDSHAKES, O_RESUME, O_CAFILE, O_INSECURE, O_PSK_ID, O_PSK_KEY };
  static const struct option longopts[] = {
      {"connections", required_argument, NULL, 'c'},
      {"depth", required_argument, NULL, 'p'},
      {"duration", required_argument, NULL, O_DURATION},
      {"requests", required_argument, NULL, 'n'},
      {"warmup", required_argument, NULL, 'w'},
      {"threads", required_argument, NULL, O_THREADS},
      {"mix", required_argument, NULL, 'm'},
      {"timeout", required_argument, NULL, 'T'},
      {"timeout-ms", required_argument, NULL, O_TIMEOUT_MS},
      {"connect-rate", required_argument, NULL, O_CRATE},
      {"connect-inflight", required_argument, NULL, O_CINFL},
      {"connect-timeout", required_argument, NULL, O_CTIMEOUT},
      {"idle", no_argument, NULL, O_IDLE},
      {"hold", required_argument, NULL, O_HOLD},
      {"handshakes", no_argument, NULL, O_HANDSHAKES},
      {"resume", no_argument, NULL, O_RESUME},
      {"cafile", required_argument, NULL, O_CAFILE},
      {"insecure", no_argument, NULL, O_INSECURE},
      {"psk-identity", required_argument, NULL, O_PSK_ID},
      {"psk-key", required_argument, NULL, O_PSK_KEY},
      {"quiet", no_argument, NULL, 'q'},
      {"version", no_argument, NULL, 'V'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  static bench_cfg cfg;
  cfg.conns = 50;
  cfg.depth = 16;
  cfg.threads = 1;
  cfg.duration_s = 10;
  cfg.warmup_s = 1;
  cfg.timeout_ms = 5000;
  cfg.connect_inflight = 4;
  cfg.connect_timeout_s = 10;
  const char *mix = NULL;
  int ch;
  while ((ch = getopt_long(argc, argv, "c:p:n:w:m:T:qVh", longopts, NULL)) !=
         -1) {
    switch (ch) {
    case 'c': cfg.conns = (unsigned)parse_num(optarg, "--connections"); break;
    case 'p': cfg.depth = (unsigned)parse_num(optarg, "--depth"); break;
    case O_DURATION: cfg.duration_s = parse_num(optarg, "--duration"); break;
    case 'n': cfg.count = (uint64_t)parse_num(optarg, "--requests"); break;
    case 'w': cfg.warmup_s = parse_num(optarg, "--warmup"); break;
    case O_THREADS: cfg.threads = (unsigned)parse_num(optarg, "--threads"); break;
    case 'm': mix = optarg; break;
    case 'T': cfg.timeout_ms = (uint32_t)(parse_num(optarg, "-T") * 1000); break;
    case O_TIMEOUT_MS: cfg.timeout_ms = (uint32_t)parse_num(optarg, "--timeout-ms"); break;
    case O_CRATE: cfg.connect_rate = parse_num(optarg, "--connect-rate"); break;
    case O_CINFL:
      cfg.connect_inflight = (unsigned)parse_num(optarg, "--connect-inflight");
      break;
    case O_CTIMEOUT:
      cfg.connect_timeout_s = parse_num(optarg, "--connect-timeout");
      break;
    case O_IDLE: cfg.idle = 1; break;
    case O_HOLD: cfg.idle_hold_s = parse_num(optarg, "--hold"); break;
    case O_HANDSHAKES: cfg.handshakes = 1; break;
    case O_RESUME: cfg.resume = 1; break;
    case O_CAFILE: cfg.cafile = optarg; break;
    case O_INSECURE: cfg.insecure = 1; break;
    case O_PSK_ID: cfg.psk_id = optarg; break;
    case O_PSK_KEY: cfg.psk_key = optarg; break;
    case 'q': cfg.quiet = 1; break;
    case 'V': printf("rcoap-bench %s\n", rc_version()); return 0;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (optind + 1 != argc) {
    usage(stderr);
    return 2;
  }
  if (cfg.conns == 0 || cfg.depth == 0 || cfg.depth > DEPTH_MAX ||
      cfg.threads == 0 || cfg.threads > MAX_THREADS ||
      cfg.connect_inflight == 0 || (cfg.count == 0 && cfg.duration_s <= 0)) {
    fprintf(stderr, "rcoap-bench: connections, depth (1-%d), threads (1-%d), "
                    "--connect-inflight and the duration must be positive\n",
            DEPTH_MAX, MAX_THREADS);
    return 2;
  }
  if (cfg.handshakes && (cfg.idle || cfg.count)) {
    fprintf(stderr, "rcoap-bench: --handshakes runs for --duration seconds (no -n, "
                    "no --idle)\n");
    return 2;
  }
  if (!cfg.psk_id != !cfg.psk_key) {
    fprintf(stderr, "rcoap-bench: --psk-identity and --psk-key go together\n");
    return 2;
  }
  if (cfg.handshakes) {
    cfg.depth = 1; /* one request per cycle */
    /* every connection reconnects at once: no pacing beyond the start */
    if (cfg.connect_inflight < cfg.conns)
      cfg.connect_inflight = cfg.conns;
  }
  if (cfg.threads > cfg.conns)
    cfg.threads = cfg.conns;
  snprintf(cfg.uri, sizeof(cfg.uri), "%s", argv[optind]);
  if (mix && mix_parse(&cfg, mix) != 0)
    return 2;
  if (resolve(&cfg, cfg.uri) != 0)
    return 2;

  /* Enough descriptors for the connections (up to the hard limit). */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < cfg.conns + 64) {
    rl.rlim_cur = rl.rlim_max < cfg.conns + 64 ? rl.rlim_max : cfg.conns + 64;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  unsigned depth = cfg.idle ? 1 : cfg.depth;
  worker *ws = calloc(cfg.threads, sizeof(worker));
  bconn *conns = calloc(cfg.conns, sizeof(bconn));
  slot *slots = calloc((size_t)cfg.conns * depth, sizeof(slot));
  uint16_t *frees = calloc((size_t)cfg.conns * depth, sizeof(uint16_t));
  if (!ws || !conns || !slots || !frees) {
    fprintf(stderr, "rcoap-bench: out of memory\n");
    return 1;
  }
  unsigned next = 0;
  for (unsigned i = 0; i < cfg.threads; i++) {
    worker *w = &ws[i];
    w->cfg = &cfg;
    if (cfg.use_tls && worker_tls_new(w, &cfg) != 0)
      return 2;
    w->id = i;
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->n = cfg.conns / cfg.threads + (i < cfg.conns % cfg.threads);
    w->conns = &conns[next];
    w->connect_rate = cfg.connect_rate / cfg.threads;
    if (cfg.count)
      w->quota = cfg.count / cfg.threads + (i < cfg.count % cfg.threads);
    hist_reset(&w->h);
    for (unsigned k = 0; k < w->n; k++) {
      bconn *c = &w->conns[k];
      size_t base = (size_t)(next + k) * depth;
      c->w = w;
      c->fd = -1;
      c->slots = &slots[base];
      c->free_slots = &frees[base];
      for (unsigned s = 0; s < depth; s++)
        c->free_slots[s] = (uint16_t)(depth - 1 - s);
      c->nfree = depth;
      c->sched_pos = (next + k) % cfg.n_sched;
    }
    next += w->n;
  }
  if (!cfg.quiet) {
    printf("rcoap-bench %s: %s, %u connection(s), depth %u, %u thread(s)",
           rc_version(), cfg.uri, cfg.conns, depth, cfg.threads);
    if (cfg.idle)
      printf(", idle\n");
    else if (cfg.count)
      printf(", %llu requests\n", (unsigned long long)cfg.count);
    else
      printf(", %.1f s (+%.1f s warm-up)\n", cfg.duration_s, cfg.warmup_s);
    printf("mix:");
    for (unsigned i = 0; i < cfg.n_mix; i++)
      printf(" %s (%u/%u)%s", cfg.mix[i].text, cfg.mix[i].weight, cfg.n_sched,
             i + 1 < cfg.n_mix ? "," : "\n");
    fflush(stdout);
  }

  uint64_t t0 = now_ns();
  if (cfg.idle) {
    /* The idle run reports progress from the main thread. */
    for (unsigned i = 0; i < cfg.threads; i++)
      pthread_create(&ws[i].th, NULL, worker_run, &ws[i]);
    int reported = 0;
    for (;;) {
      unsigned done = 0, fail = 0, up = 0;
      for (unsigned i = 0; i < cfg.threads; i++) {
        done += (unsigned)__atomic_load_n(&ws[i].idle_answered, __ATOMIC_RELAXED);
        fail += __atomic_load_n(&ws[i].failed, __ATOMIC_RELAXED);
        up += __atomic_load_n(&ws[i].open_count, __ATOMIC_RELAXED);
      }
      if (!reported && done + fail >= cfg.conns) {
        printf("IDLE established=%u failed=%u seconds=%.2f\n", done,
               cfg.conns - done, (double)(now_ns() - t0) / 1e9);
        fflush(stdout);
        reported = 1;
      }
      if (g_stop)
        break;
      int alive = 0;
      for (unsigned i = 0; i < cfg.threads; i++)
        alive |= pthread_tryjoin_np(ws[i].th, NULL) == EBUSY;
      if (!alive)
        break;
      (void)up;
      struct timespec ts = {0, 20 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
    for (unsigned i = 0; i < cfg.threads; i++)
      pthread_join(ws[i].th, NULL);
    for (unsigned i = 0; i < cfg.conns; i++)
      conn_destroy(&conns[i]);
    for (unsigned i = 0; i < cfg.threads; i++)
      close(ws[i].ep), rc_tls_ctx_free(ws[i].tls);
    free(frees);
    free(slots);
    free(conns);
    free(ws);
    return reported ? 0 : 1;
  }

  if (cfg.threads == 1) {
    worker_run(&ws[0]);
  } else {
    for (unsigned i = 0; i < cfg.threads; i++)
      pthread_create(&ws[i].th, NULL, worker_run, &ws[i]);
    for (unsigned i = 0; i < cfg.threads; i++)
      pthread_join(ws[i].th, NULL);
  }

  static hist total;
  hist_reset(&total);
  uint64_t ok = 0, st[8] = {0}, timeouts = 0, late = 0, conn_err = 0;
  uint64_t released = 0, cpu_ns = 0, cpu_wall_ns = 0;
  uint64_t opened = 0, first = UINT64_MAX, last = 0;
  double window = 0;
  for (unsigned i = 0; i < cfg.threads; i++) {
    worker *w = &ws[i];
    hist_merge(&total, &w->h);
    ok += w->ok;
    for (int k = 0; k < 8; k++)
      st[k] += w->status_err[k];
    timeouts += w->timeouts;
    late += w->late;
    conn_err += w->conn_err;
    released += w->released;
    opened += w->open_count;
    if (w->cpu_ended && w->cpu_end > w->cpu_start)
      cpu_ns += w->cpu_end - w->cpu_start;
    if (w->cpu_ended && w->cpu_wall_end - w->cpu_wall_start > cpu_wall_ns)
      cpu_wall_ns = w->cpu_wall_end - w->cpu_wall_start;
    if (w->first_ns && w->first_ns < first)
      first = w->first_ns;
    if (w->last_ns > last)
      last = w->last_ns;
  }
  uint64_t done = total.total;
  if (cfg.count)
    window = last > first && first != UINT64_MAX ? (double)(last - first) / 1e9
                                                 : 0;
  else
    /* The window may have been cut short (SIGINT, every connection
     * gone): the longest one any worker really ran. */
    for (unsigned i = 0; i < cfg.threads; i++) {
      const worker *w = &ws[i];
      if (w->win_start == UINT64_MAX || w->end_ns <= w->win_start)
        continue;
      uint64_t end = w->end_ns < w->win_end ? w->end_ns : w->win_end;
      double wl = (double)(end - w->win_start) / 1e9;
      if (wl > window)
        window = wl;
    }
  double rps = window > 0 ? (double)done / window : 0;
  uint64_t status_errs = st[0] + st[1] + st[3] + st[4] + st[5] + st[6] + st[7];
  /* conn_err includes the connections that never opened */
  uint64_t errors = status_errs + timeouts + conn_err;
  uint64_t p50 = hist_quantile(&total, 0.5), p90 = hist_quantile(&total, 0.9),
           p99 = hist_quantile(&total, 0.99),
           p999 = hist_quantile(&total, 0.999);
  /* the generator's own CPU time per request (per cycle: --handshakes) */
  double cpu_us = done > 0 ? (double)cpu_ns / 1e3 / (double)done : 0;
  /* Over the wall time the CPU samples span (not the request window, which
   * a short -n run makes far shorter than the set-up the samples include):
   * one thread can show at most 100 %. */
  double cpu_share =
      cpu_wall_ns > 0 ? (double)cpu_ns / (double)cpu_wall_ns : 0;
  if (!cfg.quiet) {
    char a[32], b[32], c[32], d[32], e[32];
    fmt_us(a, sizeof(a), p50);
    fmt_us(b, sizeof(b), p90);
    fmt_us(c, sizeof(c), p99);
    fmt_us(d, sizeof(d), p999);
    fmt_us(e, sizeof(e), total.max);
    if (cfg.handshakes) {
      printf("connections: %llu opened over the run by %u parallel "
             "connection(s)\n", (unsigned long long)opened, cfg.conns);
      printf("cycles:      %llu in %.2f s = %.0f per second (connect, %s%sCSM, "
             "one request, close)\n",
             (unsigned long long)done, window, rps,
             cfg.use_tls ? (cfg.resume ? "TLS (resumption allowed), "
                                       : "full TLS handshake, ")
                         : "",
             cfg.use_ws ? "WebSocket upgrade, " : "");
    } else {
      printf("connections: %llu open of %u\n", (unsigned long long)opened,
             cfg.conns);
      printf("requests:    %llu in %.2f s = %.0f req/s\n",
             (unsigned long long)done, window, rps);
    }
    printf("responses:   2.xx %llu, 4.xx %llu, 5.xx %llu, other %llu\n",
           (unsigned long long)ok, (unsigned long long)st[4],
           (unsigned long long)st[5],
           (unsigned long long)(status_errs - st[4] - st[5]));
    printf("errors:      %llu (status %llu, timeouts %llu, connection %llu, "
           "never opened %llu); late answers %llu; Releases from the "
           "server %llu\n",
           (unsigned long long)errors, (unsigned long long)status_errs,
           (unsigned long long)timeouts, (unsigned long long)conn_err,
           (unsigned long long)(cfg.handshakes || opened >= cfg.conns
                                    ? 0 : cfg.conns - opened),
           (unsigned long long)late,
           (unsigned long long)released);
    for (unsigned i = 0; i < cfg.threads; i++)
      if (ws[i].first_err[0]) {
        printf("first connection error: %s\n", ws[i].first_err);
        break;
      }
    printf("latency:     p50 %s  p90 %s  p99 %s  p99.9 %s  max %s%s\n", a, b,
           c, d, e, cfg.handshakes ? " (whole cycle)" : "");
    printf("generator:   %.2f us CPU per %s (%.0f %% of one core while "
           "measuring, %u thread(s))\n",
           cpu_us, cfg.handshakes ? "cycle" : "request", cpu_share * 100,
           cfg.threads);
  }
  printf("RESULT rps=%.0f requests=%llu p50_us=%.1f p90_us=%.1f p99_us=%.1f "
         "p999_us=%.1f max_us=%.1f errors=%llu timeouts=%llu conn_errors=%llu "
         "status_errors=%llu bench_cpu_us=%.3f\n",
         rps, (unsigned long long)done, (double)p50 / 1e3, (double)p90 / 1e3,
         (double)p99 / 1e3, (double)p999 / 1e3, (double)total.max / 1e3,
         (unsigned long long)errors, (unsigned long long)timeouts,
         (unsigned long long)conn_err, (unsigned long long)status_errs,
         cpu_us);
  for (unsigned i = 0; i < cfg.conns; i++)
    conn_destroy(&conns[i]);
  for (unsigned i = 0; i < cfg.threads; i++)
    close(ws[i].ep), rc_tls_ctx_free(ws[i].tls);
  free(frees);
  free(slots);
  free(conns);
  free(ws);
  return done > 0 && errors == 0 ? 0 : 1;
}
