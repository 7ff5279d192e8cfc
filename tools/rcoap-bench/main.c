/*
 * rcoap-bench: a CoAP-over-TCP load generator built so that it is not the
 * bottleneck. Each worker thread runs one epoll loop over its share of the
 * connections; every connection speaks RFC 8323 through the library's
 * sans-I/O rc_session (CSM first, tokens, Ping/Pong answered), keeps
 * --depth requests outstanding, reads everything the socket has in one big
 * read, answers all completed responses with new requests, and writes them
 * in one send(). Latency is taken per request on the monotonic clock into a
 * fixed log-linear histogram (no allocation per request). Connections are
 * opened at a bounded rate with a bounded number still waiting for the
 * server's CSM, so servers with a tiny listen backlog (libcoap: 5) are not
 * flooded. --idle opens connections, does the CSM exchange and one request
 * each, then holds them open (for memory measurements).
 *
 * Transports: coap+tcp. The per-connection byte path (conn_flush and
 * conn_on_readable) is the one place a TLS or WebSocket filter chain
 * (transport_filter.h) would be inserted for coaps+tcp and coap+ws.
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
  uint64_t t = now_ns();
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
  int in_window = t >= w->win_start && t < w->win_end &&
                  sl->sent_ns >= w->win_start;
  if (!in_window)
    return 0;
  unsigned cls = RC_CODE_CLASS(m->code);
  if (cls == 2)
    w->ok++;
  else
    w->status_err[cls & 7]++;
  hist_add(&w->h, t - sl->sent_ns);
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

/* Writes what the session has queued: normally one send() for every
 * message produced since the last read. Returns 0 or -1 (conn failed). */
static int conn_flush(bconn *c) {
  for (int guard = 0; guard < 64; guard++) {
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

static void conn_close(bconn *c) {
  if (c->fd >= 0) {
    epoll_ctl(c->w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
  }
  if (c->s) {
    rc_session_del(c->s);
    c->s = NULL;
  }
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
  c->fd = socket(cfg->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                 0);
  if (c->fd < 0)
    return -1;
  int one = 1;
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

/* The TCP connect finished: create the session (our CSM is its first
 * output, RFC 8323 §3.3) and send it. */
static int conn_connected(bconn *c, uint64_t t) {
  int err = 0;
  socklen_t el = sizeof(err);
  if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0)
    return -1;
  rc_session_config sc;
  rc_session_config_default(&sc, RC_FRAMING_TCP, RC_SESSION_CLIENT);
  sc.max_msg_size = BENCH_MAX_MSG;
  sc.csm_timeout_ms = 0; /* our own connect timeout covers it */
  if (rc_session_new(&c->s, &sc, &conn_cb, c, NULL, ms_of(t)) != RC_OK)
    return -1;
  c->state = C_WAIT_CSM;
  return conn_flush(c);
}

static void conn_on_readable(bconn *c) {
  worker *w = c->w;
  for (int guard = 0; guard < 4; guard++) {
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
      conn_fail(c, !w->stop_sending || c->outstanding > 0);
      return;
    }
    rc_err err = rc_session_recv(c->s, w->rbuf, (size_t)n, ms_of(now_ns()));
    if (err != RC_OK || rc_session_get_state(c->s) == RC_SESSION_CLOSED) {
      conn_flush(c); /* an Abort, if the session queued one */
      conn_fail(c, 1);
      return;
    }
    if ((size_t)n < sizeof(w->rbuf))
      break;
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
    if ((c->state == C_CONNECTING || c->state == C_WAIT_CSM) &&
        t - c->started_ns > cto) {
      conn_fail(c, 1);
      continue;
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
      if (w->all_open_ns && w->open_now == 0)
        break; /* nothing connected (any more) */
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
  return NULL;
}

/* ------------------------------------------------------------------ */
/* main                                                                */

static void usage(FILE *f) {
  fprintf(f,
          "usage: rcoap-bench [options] URI\n"
          "\n"
          "Load generator for CoAP over TCP (RFC 8323). URI: coap+tcp://HOST:PORT\n"
          "(a path in the URI is the default request: GET PATH; else GET /hello).\n"
          "\n"
          "options:\n"
          "  -c, --connections N     connections (default 50)\n"
          "  -p, --depth N           requests outstanding per connection (default 16)\n"
          "  -d, --duration S        measure for S seconds (default 10)\n"
          "  -n, --requests N        send N requests in total instead of -d\n"
          "  -w, --warmup S          run S seconds before measuring (default 1)\n"
          "  -t, --threads N         worker threads, one epoll loop each (default 1)\n"
          "  -m, --mix SPEC          request mix: \"METHOD /path[=payload][:weight],...\"\n"
          "                          (write a comma inside a payload as \\,)\n"
          "                          e.g. \"GET /hello:8,PUT /store/x=abc:1,POST /echo=hi:1\"\n"
          "      --timeout MS        a request unanswered this long is an error (5000)\n"
          "      --connect-rate R    open at most R connections per second (0: no limit)\n"
          "      --connect-inflight N  at most N connections waiting for the server's\n"
          "                          CSM at once (default 4: libcoap's backlog is 5)\n"
          "      --connect-timeout S a connection not open after S s fails (10)\n"
          "      --idle              open the connections, CSM + one request each, then\n"
          "                          hold them idle; prints \"IDLE established=N\"\n"
          "      --hold S            with --idle: hold S seconds (default: until SIGINT)\n"
          "  -q, --quiet             only the RESULT line\n"
          "  -V, --version, -h, --help\n"
          "\n"
          "The last line is machine-readable:\n"
          "  RESULT rps=... requests=... p50_us=... p90_us=... p99_us=... max_us=... errors=...\n");
}

static int resolve(bench_cfg *cfg, const char *uri_s) {
  rc_uri u;
  rc_err err = rc_uri_parse(uri_s, strlen(uri_s), &u);
  if (err != RC_OK) {
    fprintf(stderr, "rcoap-bench: %s: %s\n", uri_s, rc_strerror(err));
    return -1;
  }
  if (u.scheme != RC_SCHEME_COAP_TCP) {
    fprintf(stderr,
            "rcoap-bench: %s: only coap+tcp is supported so far (coaps+tcp and "
            "coap+ws plug in at conn_flush/conn_on_readable)\n",
            rc_scheme_name(u.scheme));
    return -1;
  }
  char host[256], port[8];
  snprintf(host, sizeof(host), "%.*s", (int)u.host_len, u.host);
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
  enum { O_TIMEOUT = 256, O_CRATE, O_CINFL, O_CTIMEOUT, O_IDLE, O_HOLD };
  static const struct option longopts[] = {
      {"connections", required_argument, NULL, 'c'},
      {"depth", required_argument, NULL, 'p'},
      {"duration", required_argument, NULL, 'd'},
      {"requests", required_argument, NULL, 'n'},
      {"warmup", required_argument, NULL, 'w'},
      {"threads", required_argument, NULL, 't'},
      {"mix", required_argument, NULL, 'm'},
      {"timeout", required_argument, NULL, O_TIMEOUT},
      {"connect-rate", required_argument, NULL, O_CRATE},
      {"connect-inflight", required_argument, NULL, O_CINFL},
      {"connect-timeout", required_argument, NULL, O_CTIMEOUT},
      {"idle", no_argument, NULL, O_IDLE},
      {"hold", required_argument, NULL, O_HOLD},
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
  while ((ch = getopt_long(argc, argv, "c:p:d:n:w:t:m:qVh", longopts, NULL)) !=
         -1) {
    switch (ch) {
    case 'c': cfg.conns = (unsigned)parse_num(optarg, "--connections"); break;
    case 'p': cfg.depth = (unsigned)parse_num(optarg, "--depth"); break;
    case 'd': cfg.duration_s = parse_num(optarg, "--duration"); break;
    case 'n': cfg.count = (uint64_t)parse_num(optarg, "--requests"); break;
    case 'w': cfg.warmup_s = parse_num(optarg, "--warmup"); break;
    case 't': cfg.threads = (unsigned)parse_num(optarg, "--threads"); break;
    case 'm': mix = optarg; break;
    case O_TIMEOUT: cfg.timeout_ms = (uint32_t)parse_num(optarg, "--timeout"); break;
    case O_CRATE: cfg.connect_rate = parse_num(optarg, "--connect-rate"); break;
    case O_CINFL:
      cfg.connect_inflight = (unsigned)parse_num(optarg, "--connect-inflight");
      break;
    case O_CTIMEOUT:
      cfg.connect_timeout_s = parse_num(optarg, "--connect-timeout");
      break;
    case O_IDLE: cfg.idle = 1; break;
    case O_HOLD: cfg.idle_hold_s = parse_num(optarg, "--hold"); break;
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
      conn_close(&conns[i]);
    for (unsigned i = 0; i < cfg.threads; i++)
      close(ws[i].ep);
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
  uint64_t released = 0;
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
  if (!cfg.quiet) {
    char a[32], b[32], c[32], d[32], e[32];
    fmt_us(a, sizeof(a), p50);
    fmt_us(b, sizeof(b), p90);
    fmt_us(c, sizeof(c), p99);
    fmt_us(d, sizeof(d), p999);
    fmt_us(e, sizeof(e), total.max);
    printf("connections: %llu open of %u\n", (unsigned long long)opened,
           cfg.conns);
    printf("requests:    %llu in %.2f s = %.0f req/s\n",
           (unsigned long long)done, window, rps);
    printf("responses:   2.xx %llu, 4.xx %llu, 5.xx %llu, other %llu\n",
           (unsigned long long)ok, (unsigned long long)st[4],
           (unsigned long long)st[5],
           (unsigned long long)(status_errs - st[4] - st[5]));
    printf("errors:      %llu (status %llu, timeouts %llu, connection %llu, "
           "never opened %llu); late answers %llu; Releases from the "
           "server %llu\n",
           (unsigned long long)errors, (unsigned long long)status_errs,
           (unsigned long long)timeouts, (unsigned long long)conn_err,
           (unsigned long long)(cfg.conns - opened), (unsigned long long)late,
           (unsigned long long)released);
    printf("latency:     p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n", a, b, c,
           d, e);
  }
  printf("RESULT rps=%.0f requests=%llu p50_us=%.1f p90_us=%.1f p99_us=%.1f "
         "p999_us=%.1f max_us=%.1f errors=%llu timeouts=%llu conn_errors=%llu "
         "status_errors=%llu\n",
         rps, (unsigned long long)done, (double)p50 / 1e3, (double)p90 / 1e3,
         (double)p99 / 1e3, (double)p999 / 1e3, (double)total.max / 1e3,
         (unsigned long long)errors, (unsigned long long)timeouts,
         (unsigned long long)conn_err, (unsigned long long)status_errs);
  for (unsigned i = 0; i < cfg.conns; i++)
    conn_close(&conns[i]);
  for (unsigned i = 0; i < cfg.threads; i++)
    close(ws[i].ep);
  free(frees);
  free(slots);
  free(conns);
  free(ws);
  return done > 0 && errors == 0 ? 0 : 1;
}
