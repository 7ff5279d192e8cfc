/*
 * One rcoap-bench connection: a non-blocking socket on its worker's epoll
 * loop, and the library's transport chain (transport_chain.h: socket ->
 * [tls] -> [ws] -> session, built by rc_stack_build as the library's own
 * connections are). It keeps --depth requests outstanding, reads
 * everything the socket has in one big read, answers all completed
 * responses with new requests, and writes them in one send(). Latency is
 * taken per request on the monotonic clock into the worker's histogram.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "bench.h"
#include "rcoap/codec_msg.h"
#include "rcoap/transport_stack.h"

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

/* Writes what the chain has for the socket: for coap+tcp the session's
 * queued messages in place, normally one send() for every message
 * produced since the last read; through filters the chain's output queue
 * (the ws filter batched: one down() into the TLS filter, one SSL_write).
 * Returns 0 or -1 (conn failed). */
int conn_flush(bconn *c) {
  /* UDP: one datagram per pull, so a batch is many sends */
  int guards = c->w->cfg->use_udp ? 8192 : 64;
  for (int guard = 0; guard < guards; guard++) {
    const uint8_t *p;
    size_t len;
    if (rc_chain_pull(c->chain, &p, &len) != RC_OK) {
      conn_set_out(c, 0);
      return c->chain_dead ? -1 : 0;
    }
    ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        conn_set_out(c, 1);
        return c->chain_dead ? -1 : 0;
      }
      if (errno == EINTR)
        continue;
      return -1;
    }
    rc_chain_consume(c->chain, (size_t)n);
    if ((size_t)n < len) {
      conn_set_out(c, 1);
      return c->chain_dead ? -1 : 0;
    }
  }
  return c->chain_dead ? -1 : 0;
}

/* Fills every free slot with a new request (up to the quota). */
void conn_fill(bconn *c) {
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

/* Closes the socket and frees the chain (filters and session). */
static void conn_close(bconn *c) {
  if (c->fd >= 0) {
    epoll_ctl(c->w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
  }
  rc_chain_free(c->chain);
  c->chain = NULL;
  c->s = NULL;
  c->chain_dead = 0;
}

void conn_destroy(bconn *c) { conn_close(c); }

/* A connection broke (or never came up). Its outstanding requests are
 * lost; counted is 0 when the failure is expected (end of run). */
void conn_fail(bconn *c, int counted) {
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

int conn_start(bconn *c, const bench_cfg *cfg, uint64_t t) {
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

/* ---- the chain's callbacks ---- */

/* A filter failed, or the peer closed the TLS or WS session: the run of
 * this connection is over; what the chain queued (an alert, a close
 * frame) is still written. */
static void conn_chain_end(void *user, rc_chain_end_how how, rc_err err,
                           const char *detail) {
  bconn *c = user;
  worker *w = c->w;
  (void)err;
  c->chain_dead = 1;
  const char *layer = rc_chain_waiting(c->chain); /* NULL once open */
  if (how == RC_CHAIN_END_ERROR && w->first_err[0] == 0)
    snprintf(w->first_err, sizeof(w->first_err), "%s: %s",
             layer != NULL ? layer : "transport", detail);
}

/* Open needs no action on TCP: the session's CSM goes at the next
 * flush. On DTLS the chain opens when the handshake is done: that is
 * when requests may go (UDP has no CSM to wait for). */
static void conn_chain_open(void *user) {
  bconn *c = user;
  if (c->w->cfg->use_udp)
    conn_on_csm(c);
}

static const rc_chain_callbacks chain_cb = {.on_open = conn_chain_open,
                                            .on_end = conn_chain_end};

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
  rc_session *s = NULL;
  if (rc_session_new(&s, &sc, &conn_cb, c, NULL, ms_of(t)) != RC_OK)
    return -1;
  c->state = C_WAIT_CSM;
  /* Filter output queued before the session's is left in it; the queue
   * is kept for the connection's life (keep 0: no allocation per
   * request). */
  rc_chain_config cc = {.high_water = OUT_HIGH,
                        .flags = cfg->use_udp ? RC_CHAIN_DATAGRAM : 0};
  if (rc_chain_new(&c->chain, &cc, s, &chain_cb, c) != RC_OK)
    return -1;
  c->s = s;
  rc_stack_config st = {.role = RC_SESSION_CLIENT,
                        .tls = cfg->use_tls,
                        .tls_ctx = c->w->tls,
                        .host = cfg->host,
                        .port = cfg->port,
                        .ws = cfg->use_ws,
                        .datagram = cfg->use_udp,
                        .peer = &cfg->addr,
                        .peer_len = cfg->addr_len,
                        .now = ms_of(t),
                        .max_message = sc.max_msg_size};
  if (rc_stack_build(c->chain, &st) != RC_OK ||
      rc_chain_start(c->chain, ms_of(t)) != RC_OK || c->chain_dead)
    return -1;
  if (cfg->use_udp && !cfg->use_tls)
    conn_on_csm(c); /* nothing to wait for on UDP (the chain is open) */
  return conn_flush(c);
}

/* --handshakes: the cycle's request was answered. Close politely (WS
 * close frame, TLS close_notify), then connect again at once. */
static void conn_cycle_end(bconn *c, uint64_t t) {
  worker *w = c->w;
  if (!c->chain_dead) {
    rc_chain_close(c->chain); /* WS close frame, then close_notify */
    (void)conn_flush(c);      /* best effort: the socket closes now */
  }
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
      if (!c->chain_dead)
        (void)rc_chain_eof(c->chain, ms_of(now_ns()));
      if (c->state != C_OPEN && w->first_err[0] == 0)
        snprintf(w->first_err, sizeof(w->first_err),
                 "the server closed the connection before it was open");
      conn_fail(c, !w->stop_sending || c->outstanding > 0);
      return;
    }
    w->t_read = now_ns();
    rc_err err = c->chain_dead ? RC_ERR_STATE
                               : rc_chain_recv(c->chain, w->rbuf, (size_t)n,
                                               ms_of(w->t_read));
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

void conn_on_event(bconn *c, uint32_t events, uint64_t t) {
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

