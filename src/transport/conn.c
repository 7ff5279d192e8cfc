/*
 * The libuv side of one connection: socket, timer, linger, and the close
 * sequence. Everything between the socket and the application is the
 * transport chain (transport_chain.h: filters + session, sans-I/O), which
 * this file drives without knowing its filters: reads land in one 64 KiB
 * buffer per thread and go into the chain in one call; everything the
 * chain has for the socket goes out in one uv_try_write per read (plain
 * TCP: the session's queued bytes in place; through filters: the chain's
 * output queue), and only what the kernel does not take goes through
 * uv_write, from the same bytes (the chain keeps them in place). One node
 * per connection in the loop's timer queue (loop.c: one uv_timer for all
 * of the loop's connections) serves the session's deadlines, the
 * connect/handshake/drain deadline and the idle timeout; it is moved only
 * when the next deadline moves earlier.
 * Reading stops while the peer does not read our output (back-pressure).
 * The close sequence ends in exactly one on_closed callback, after which
 * the connection frees itself once libuv has closed its handles.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/sendfile.h>
#define CONN_FILES RC_CHAIN_FILES /* file runs by sendfile(2) */
#else
#define CONN_FILES 0
#endif

#include "common/fastpath.h"
#include "common/slab.h"
#include "rcoap/transport_dtls.h"
#include "rcoap/transport_sctp.h"
#include "transport/conn_int.h"
#include "transport/park_int.h"
#include "transport/webrtc/wr_int.h"

/* A chain output queue larger than this is freed once written. */
#define CONN_OUT_KEEP 4096u
/* Bound on the on_open / flush rounds of one pump. */
#define CONN_PUMP_ROUNDS 4

/* One read buffer per thread: a read callback consumes it synchronously
 * (the session copies what it keeps), and one thread runs one loop. */
static _Thread_local uint8_t conn_rbuf[RC_CONN_READ_BUF];

static void conn_pump(rc_conn *c);
static void conn_timer_cb(rc__timer *t);
static void conn_arm_timer(rc_conn *c);
static void conn_drain(rc_conn *c, rc_err reason);
static void conn_try_park(rc_conn *c, rc_time now);
static void conn_close_handles(rc_conn *c);
static void conn_handle_closed(uv_handle_t *h);

static rc_time conn_now(const rc_conn *c) { return uv_now(c->loop); }

/* A conn's callbacks until its owner gives some. */
static const rc_conn_callbacks conn_no_callbacks;

const char *rc_conn_kind_name(rc_conn_kind kind) {
  switch (kind) {
  case RC_CONN_TCP: return "tcp";
  case RC_CONN_TLS: return "tls";
  case RC_CONN_WS: return "ws";
  case RC_CONN_TLS_WS: return "tls+ws";
  case RC_CONN_UDP: return "udp";
  case RC_CONN_DTLS: return "dtls";
  case RC_CONN_WEBRTC: return "webrtc";
  }
  return "?";
}

/* Maps a libuv error from a read or write to an rc_err. */
static rc_err conn_map_uv(int uverr) {
  switch (uverr) {
  case UV_ECONNRESET:
  case UV_EPIPE:
  case UV_ECONNABORTED:
    return RC_ERR_CONN_RESET;
  case UV_ENOMEM:
  case UV_ENOBUFS:
    return RC_ERR_NOMEM;
  case UV_ETIMEDOUT:
    return RC_ERR_TIMEOUT;
  default:
    return RC_ERR_IO;
  }
}

void rc__conn_set_detail(rc_conn *c, const char *fmt, ...) {
  if (c->detail != NULL)
    return;
  char tmp[RC_CONN_DETAIL_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  size_t n = strlen(tmp) + 1;
  char *d = c->mem->malloc(n, c->mem->user);
  if (d == NULL)
    return;
  memcpy(d, tmp, n);
  c->detail = d;
}

static void conn_log(rc_conn *c, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void conn_log(rc_conn *c, int level, const char *fmt, ...) {
  if (c->cb->on_log == NULL)
    return;
  char line[RC_CONN_DETAIL_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  c->cb->on_log(c->user, c, level, line);
}

/* Words for a log line: the detail when there is one, else these. */
static const char *conn_reason_text(rc_err reason) {
  return reason == RC_OK ? "closed by this end" : rc_strerror(reason);
}

static void conn_set_reason(rc_conn *c, rc_err reason) {
  if (c->reason_set)
    return;
  c->reason_set = 1;
  c->reason = reason;
}

/* ------------------------------------------------------------------ */
/* session callbacks: forwarded with the conn                          */

static int sess_on_message(void *u, const rc_msg *m) {
  rc_conn *c = u;
  if (c->cb->on_message == NULL)
    return 0;
  return c->cb->on_message(c->user, c, m);
}
static void sess_on_csm(void *u) {
  rc_conn *c = u;
  if (c->cb->on_csm != NULL)
    c->cb->on_csm(c->user, c);
}
static void sess_on_pong(void *u, uint32_t id, rc_time rtt, int custody) {
  rc_conn *c = u;
  if (c->cb->on_pong != NULL)
    c->cb->on_pong(c->user, c, id, rtt, custody);
}
static void sess_on_release(void *u, const rc_session_release_info *info) {
  rc_conn *c = u;
  if (c->cb->on_release != NULL)
    c->cb->on_release(c->user, c, info);
}
static void sess_on_abort(void *u, const rc_session_abort_info *info) {
  rc_conn *c = u;
  if (info->diag != NULL && info->diag_len > 0)
    rc__conn_set_detail(c, "peer sent Abort: %.*s", (int)info->diag_len,
                        info->diag);
  else
    rc__conn_set_detail(c, "peer sent Abort");
  if (c->cb->on_abort != NULL)
    c->cb->on_abort(c->user, c, info);
}
static int sess_custody_ready(void *u) {
  rc_conn *c = u;
  return c->cb->custody_ready != NULL ? c->cb->custody_ready(c->user, c) : 1;
}
static void sess_on_log(void *u, int level, const char *text) {
  rc_conn *c = u;
  if (c->cb->on_log != NULL)
    c->cb->on_log(c->user, c, level, text);
}
static void sess_on_trace(void *u, int sent, const rc_msg *m) {
  rc_conn *c = u;
  if (c->cb->on_trace != NULL)
    c->cb->on_trace(c->user, c, sent, m);
}
static void sess_on_lost(void *u, const uint8_t *tok, size_t tkl,
                         rc_err why) {
  rc_conn *c = u;
  if (c->cb->on_lost != NULL)
    c->cb->on_lost(c->user, c, tok, tkl, why);
}
/* The session is CLOSED; the pump drains what it queued and closes. */
static void sess_on_closed(void *u, rc_err reason) {
  rc_conn *c = u;
  conn_set_reason(c, reason);
}

/* ------------------------------------------------------------------ */
/* chain callbacks                                                     */

static void conn_chain_open(void *u) {
  rc_conn *c = u;
  if (c->state != RC__CONN_HANDSHAKE)
    return;
  c->state = RC__CONN_OPEN;
  c->deadline = c->released ? conn_now(c) + RC_CONN_RELEASE_TIMEOUT
                            : RC_TIME_NEVER;
  rc_filter *dtls = c->udp != NULL && c->kind != RC_CONN_WEBRTC
                        ? rc_chain_find(c->chain, "dtls")
                        : NULL; /* under sctp, records are sctp's */
  if (dtls != NULL) /* larger messages would not fit one record */
    (void)rc_session_set_max_datagram(c->s, rc_dtls_max_payload(dtls));
  c->open_pending = 1;
}

/* A filter serving the peer by itself (plain HTTP on the WS port, kept
 * alive) has output, or is ready for the next request: write now, and
 * no handshake deadline while it waits on its own user. */
static void conn_chain_active(void *u, int waiting) {
  rc_conn *c = u;
  if (c->state == RC__CONN_HANDSHAKE)
    c->deadline =
        waiting ? RC_TIME_NEVER : conn_now(c) + c->handshake_ms;
  conn_pump(c);
  conn_arm_timer(c);
}

static void conn_chain_end(void *u, rc_chain_end_how how, rc_err err,
                           const char *detail) {
  rc_conn *c = u;
  if (how == RC_CHAIN_END_ERROR) {
    rc__conn_set_detail(c, "%s", detail);
    conn_drain(c, err);
    return;
  }
  if (how == RC_CHAIN_END_DONE) {
    conn_drain(c, RC_OK); /* e.g. a plain HTTP response went out in full */
    return;
  }
  /* The peer ended the TLS or WS session in order. */
  rc_err reason = RC_ERR_CLOSED;
  if (c->s != NULL && rc_session_get_state(c->s) == RC_SESSION_RELEASING)
    reason = RC_OK;
  rc__conn_set_detail(c, "%s", detail);
  conn_drain(c, reason);
}

static const rc_chain_callbacks conn_chain_cb = {
    conn_chain_open, conn_chain_end, conn_chain_active};

/* The owner's on_message_at, when it has one, takes the session's
 * messages directly (session.h rc_session_set_message_at). */
static void conn_bind_message(const rc_conn *c) {
  rc_session_set_message_at(c->s,
                            rc__fast_paths_off ? NULL : c->cb->on_message_at,
                            c->user);
}

/* The session's callbacks, all forwarded with the conn. */
static void conn_session_callbacks(const rc_conn *c, rc_session_callbacks *scb) {
  *scb = (rc_session_callbacks){
      .on_message = sess_on_message,
      .on_csm = sess_on_csm,
      .on_pong = sess_on_pong,
      .on_release = sess_on_release,
      .on_abort = sess_on_abort,
      .on_closed = sess_on_closed,
      .custody_ready = sess_custody_ready,
      .on_log = sess_on_log,
      .on_lost = sess_on_lost,
      /* Tracing parses every sent message: only when someone watches. */
      .on_trace = c->cb->on_trace != NULL ? sess_on_trace : NULL,
  };
}

/* ------------------------------------------------------------------ */
/* construction                                                        */

/* With the C library's allocator, conns live in pages of their own
 * (common/slab.h): a parked conn then pins no heap page of the session,
 * chain and exchange it freed. Another allocator gets every byte asked of
 * it (and counts them). */
static _Thread_local rc__slab conn_slab = RC__SLAB_INIT(sizeof(rc_conn));

static rc_conn *conn_mem_alloc(const rc_mem *mem) {
  if (mem == rc_mem_default())
    return rc__slab_alloc(&conn_slab);
  return mem->malloc(sizeof(rc_conn), mem->user);
}

static void conn_mem_free(rc_conn *c) {
  if (c->mem == rc_mem_default())
    rc__slab_free(&conn_slab, c);
  else
    c->mem->free(c, c->mem->user);
}

rc_conn *rc__conn_alloc(uv_loop_t *loop, rc_conn_kind kind, const rc_mem *mem) {
  if (mem == NULL)
    mem = rc_mem_default();
  rc_conn *c = conn_mem_alloc(mem);
  if (c == NULL)
    return NULL;
  memset(c, 0, sizeof(*c));
  c->loop = loop;
  c->mem = mem;
  c->kind = (uint8_t)kind;
  c->deadline = RC_TIME_NEVER;
  c->handshake_ms = RC_CONN_DEFAULT_HANDSHAKE_TIMEOUT;
  c->high_water = RC_SESSION_DEFAULT_OUT_HIGH_WATER;
  c->last_io = uv_now(loop);
  c->cb = &conn_no_callbacks;
  c->lt = rc__loop_get(loop);
  if (c->lt == NULL) {
    conn_mem_free(c);
    return NULL;
  }
  rc__timer_init(&c->timer, conn_timer_cb);
  return c;
}

/* The high-water mark of a conn whose session is made from cfg. */
static void conn_set_high_water(rc_conn *c, const rc_session_config *cfg) {
  if (cfg->out_high_water > 0)
    c->high_water = cfg->out_high_water > UINT32_MAX
                        ? UINT32_MAX
                        : (uint32_t)cfg->out_high_water;
}

rc_err rc__conn_setup(rc_conn *c, const rc_session_config *tmpl,
                      rc_stack_config *stack) {
  rc_session_role role = stack->role;
  rc_framing fr = rc_stack_framing(stack);
  rc_session_config cfg;
  if (tmpl != NULL)
    cfg = *tmpl;
  else
    rc_session_config_default(&cfg, fr, role);
  cfg.framing = fr;
  cfg.role = role;
  conn_set_high_water(c, &cfg);
  /* coaps+wr: draft-groves-coap-webrtcdc-02 §3.5, "The CoAP
   * Max-Message-Size shall not exceed the SCTP message size" (ours, the
   * a=max-message-size we announce). */
  if (stack->webrtc && cfg.max_msg_size > RC_SCTP_DEFAULT_MAX_MESSAGE)
    cfg.max_msg_size = RC_SCTP_DEFAULT_MAX_MESSAGE;
  /* The session never reads a random source: its Message IDs start from
   * this seed (RFC 7252 §4.4 wants the first one random) and its
   * retransmission timeouts are jittered with it. */
  if (fr == RC_FRAMING_UDP && cfg.udp.random == NULL && cfg.udp.seed == 0 &&
      uv_random(NULL, NULL, &cfg.udp.seed, sizeof cfg.udp.seed, 0, NULL) != 0)
    cfg.udp.seed = (uint64_t)(uintptr_t)c ^ uv_hrtime();

  rc_session_callbacks scb;
  conn_session_callbacks(c, &scb);
  rc_session *s = NULL;
  rc_err err = rc_session_new(&s, &cfg, &scb, c, c->mem, conn_now(c));
  if (err != RC_OK)
    return err;
  rc_chain_config ccfg = {.mem = c->mem, .high_water = c->high_water,
                          .keep = CONN_OUT_KEEP,
                          .flags = stack->datagram ? RC_CHAIN_DATAGRAM
                                                   : CONN_FILES};
  err = rc_chain_new(&c->chain, &ccfg, s, &conn_chain_cb, c);
  if (err != RC_OK)
    return err;
  c->s = s;
  conn_bind_message(c);
  if (fr == RC_FRAMING_UDP && c->kind == RC_CONN_UDP && c->is_server &&
      c->udp != NULL)
    rc__udp_echo_setup(c);
  if (stack->datagram && stack->peer == NULL) {
    /* the DTLS filter's peer: the bytes udp.c keys its cookie with */
    stack->peer = &c->peer;
    stack->peer_len = rc__sa_len(&c->peer.sa);
  }
  stack->now = conn_now(c);
  stack->max_message = cfg.max_msg_size;
  stack->budget = cfg.rx_budget;
  stack->mem = c->mem;
  return rc_stack_build(c->chain, stack);
}

/* Reads land in conn_rbuf, except the rest of a large frame being
 * gathered on a chain without filters: that goes straight into the
 * frame's buffer (rc_chain_read_room), in one large read, uncopied. Only
 * asked after a read that filled its buffer (small requests never are). */
static void conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  rc_conn *c = h->data;
  uint8_t *at;
  size_t room;
  (void)suggested;
  if (c->read_full && c->state == RC__CONN_OPEN && !c->lingering &&
      (room = rc_chain_read_room(c->chain, &at)) >= sizeof conn_rbuf) {
    buf->base = (char *)at;
    buf->len = room;
    return;
  }
  buf->base = (char *)conn_rbuf;
  buf->len = sizeof(conn_rbuf);
}

static void conn_eof(rc_conn *c) {
  c->peer_eof = 1;
  if (c->chain != NULL)
    rc_chain_eof(c->chain, conn_now(c)); /* events: clean end or truncation */
  if (c->state >= RC__CONN_DRAINING)
    return;
  rc_err reason = RC_ERR_CLOSED;
  if (c->s != NULL && rc_session_get_state(c->s) == RC_SESSION_RELEASING)
    reason = RC_OK; /* RFC 8323 §5.5: the peer closes after a Release */
  else
    rc__conn_set_detail(c, "peer closed the connection");
  conn_drain(c, reason);
}

static void conn_read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  rc_conn *c = st->data;
  if (nread == 0 || c->state == RC__CONN_CLOSING)
    return;
  c->busy++;
  if (nread > 0) {
    c->read_full = (size_t)nread == buf->len;
    c->last_io = conn_now(c);
    (void)rc_chain_recv(c->chain, (const uint8_t *)buf->base, (size_t)nread,
                        c->last_io);
  } else if (nread == UV_EOF) {
    conn_eof(c);
  } else {
    rc__conn_set_detail(c, "read failed: %s", uv_strerror((int)nread));
    rc__conn_fail(c, conn_map_uv((int)nread), NULL);
  }
  c->busy--;
  conn_pump(c);
}

void rc__conn_start(rc_conn *c) {
  /* The handshake deadline and the idle clock count from now, not from
   * the time libuv cached when this loop turn began: a conn made late in
   * a long turn (a slow host, valgrind) would lose the turn's length
   * from its handshake time. */
  uv_update_time(c->loop);
  if (c->udp != NULL) {
    rc__conn_start_udp(c);
    return;
  }
  c->tcp.data = c;
  uv_tcp_nodelay(&c->tcp, 1);
  int plen = sizeof c->peer;
  if (uv_tcp_getpeername(&c->tcp, &c->peer.sa, &plen) != 0)
    c->peer.sa.sa_family = AF_UNSPEC;
  c->last_io = conn_now(c);
  c->busy++;
  c->state = RC__CONN_HANDSHAKE;
  /* Cleared when the chain opens (at once when it has no filters). */
  c->deadline = conn_now(c) + c->handshake_ms;
  (void)rc_chain_start(c->chain, conn_now(c)); /* failures: conn_chain_end */
  c->busy--;
  conn_pump(c);
}

void rc__conn_start_udp(rc_conn *c) {
  c->last_io = conn_now(c);
  c->busy++;
  c->state = RC__CONN_HANDSHAKE;
  /* coap://: no filter, so the chain opens at once (conn_chain_open)
   * and clears this; with dtls it opens when the handshake is done. */
  c->deadline = conn_now(c) + c->handshake_ms;
  (void)rc_chain_start(c->chain, conn_now(c)); /* failures: conn_chain_end */
  c->busy--;
  conn_pump(c);
}

void rc__conn_udp_input(rc_conn *c, const uint8_t *d, size_t n) {
  if (c->state != RC__CONN_OPEN && c->state != RC__CONN_HANDSHAKE &&
      !(c->state == RC__CONN_DRAINING && c->lingering))
    return; /* a lingering coaps+wr conn still hears SCTP's goodbyes */
  c->busy++;
  c->last_io = conn_now(c);
  (void)rc_chain_recv(c->chain, d, n, conn_now(c));
  c->busy--;
  conn_pump(c);
}

/* ------------------------------------------------------------------ */
/* writing                                                             */

static void conn_write_cb(uv_write_t *req, int status) {
  rc_conn *c = req->data;
  c->mem->free(req, c->mem->user);
  c->wreq = NULL;
  c->writing = 0;
  size_t n = c->inflight;
  c->inflight = 0;
  if (status == 0)
    rc_chain_consume(c->chain, n);
  if (c->state == RC__CONN_CLOSING)
    return;
  if (status < 0) {
    rc__conn_set_detail(c, "write failed: %s", uv_strerror(status));
    rc__conn_fail(c, conn_map_uv(status), NULL);
    return;
  }
  c->last_io = conn_now(c);
  if (c->cb->on_writable != NULL) {
    c->busy++;
    c->cb->on_writable(c->user, c);
    c->busy--;
  }
  conn_pump(c);
}

/* Starts an asynchronous write of p[0..n) (only when the kernel did not
 * take everything at once, so the request is allocated then rather than
 * kept in every idle connection); copy: p's bytes are copied behind the
 * request (a byte of a file run). Returns 0 or fails the conn. */
static int conn_write_async(rc_conn *c, const uint8_t *p, size_t n,
                            int copy) {
  uv_write_t *req = c->mem->malloc(sizeof(*req) + (copy ? n : 0),
                                   c->mem->user);
  if (req == NULL) {
    rc__conn_set_detail(c, "no memory for a write request");
    rc__conn_fail(c, RC_ERR_NOMEM, NULL);
    return -1;
  }
  if (copy)
    p = memcpy(req + 1, p, n);
  uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
  req->data = c;
  int r = uv_write(req, (uv_stream_t *)&c->tcp, &b, 1, conn_write_cb);
  if (r < 0) {
    c->mem->free(req, c->mem->user);
    rc__conn_set_detail(c, "write failed: %s", uv_strerror(r));
    rc__conn_fail(c, conn_map_uv(r), NULL);
    return -1;
  }
  c->wreq = req;
  c->writing = 1;
  c->inflight = n;
  return 0;
}

/* Writes p[0..n) now as far as the kernel takes it. Returns the count
 * written (n on EAGAIN is never returned), or -1 after failing the conn. */
static ssize_t conn_try_write(rc_conn *c, const uint8_t *p, size_t n) {
  uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
  int r = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
  if (r == UV_EAGAIN)
    return 0;
  if (r < 0) {
    rc__conn_set_detail(c, "write failed: %s", uv_strerror(r));
    rc__conn_fail(c, conn_map_uv(r), NULL);
    return -1;
  }
  c->last_io = conn_now(c);
  return r;
}

/* UDP: each datagram the chain has for the peer, at once (nothing waits:
 * a datagram the kernel refuses is lost like one lost on the way, and a
 * CON is retransmitted). */
static void conn_write_udp(rc_conn *c) {
  const uint8_t *p;
  size_t n;
  while (rc_chain_pull(c->chain, &p, &n) == RC_OK) {
    if (rc__udp_send_to(c, p, n) == RC_OK)
      c->last_io = conn_now(c);
    rc_chain_consume(c->chain, n);
  }
}

#ifdef __linux__
/* A file run of the output (a BERT block from a file, RC_CHAIN_FILES):
 * sendfile(2) from the file to the socket, no copy through user space.
 * When the socket is full, one byte of the run goes by uv_write, which
 * waits for room; its callback consumes it and the pump resumes here.
 * Returns 1 when a run was sent whole (more may follow), 0 when there is
 * none or it waits, -1 after failing the conn. */
static int conn_write_file(rc_conn *c) {
  int fd;
  uint64_t off;
  size_t len;
  uv_os_fd_t sock;
  if (rc_chain_pull_file(c->chain, &fd, &off, &len) != RC_OK ||
      uv_fileno((const uv_handle_t *)&c->tcp, &sock) != 0)
    return 0;
  while (len > 0) {
    off_t o = (off_t)off;
    ssize_t w = sendfile(sock, fd, &o, len < (1u << 30) ? len : 1u << 30);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0 && errno == EAGAIN) {
      uint8_t b;
      if (pread(fd, &b, 1, (off_t)off) == 1)
        return conn_write_async(c, &b, 1, 1) == 0 ? 0 : -1;
      w = 0; /* the file ends here */
    }
    if (w <= 0) {
      /* The header promised len more bytes: the stream cannot go on. */
      if (w == 0)
        rc__conn_set_detail(c, "file shorter than its answer said (changed "
                               "under the transfer?)");
      else
        rc__conn_set_detail(c, "sendfile failed: %s", strerror(errno));
      rc__conn_fail(c, RC_ERR_IO, NULL);
      return -1;
    }
    rc_chain_consume(c->chain, (size_t)w);
    c->last_io = conn_now(c);
    off += (size_t)w;
    len -= (size_t)w;
  }
  return 1;
}
#else
static int conn_write_file(rc_conn *c) {
  (void)c;
  return 0;
}
#endif

/* Writes what the chain has for the socket: each run as far as the kernel
 * takes it, the rest asynchronously from the same bytes; file runs by
 * sendfile. */
static void conn_write(rc_conn *c) {
  if (c->state < RC__CONN_HANDSHAKE || c->state == RC__CONN_CLOSING ||
      c->chain == NULL)
    return;
  if (c->udp != NULL) {
    conn_write_udp(c);
    return;
  }
  const uint8_t *p;
  size_t n;
  rc_err more = RC_ERR_NEED_MORE;
  do {
    while (!c->writing && c->state != RC__CONN_CLOSING &&
           (more = rc_chain_pull(c->chain, &p, &n)) == RC_OK) {
      if (n > UINT32_MAX / 2)
        n = UINT32_MAX / 2;
      ssize_t w = conn_try_write(c, p, n);
      if (w < 0)
        return;
      if (w > 0)
        rc_chain_consume(c->chain, (size_t)w);
      if ((size_t)w < n) {
        /* The rest stays at the same address until consumed. */
        conn_write_async(c, p + w, n - (size_t)w, 0);
        return;
      }
    }
  } while (more == RC_ERR_FILE_NEXT && !c->writing &&
           c->state != RC__CONN_CLOSING && conn_write_file(c) > 0);
}

/* ------------------------------------------------------------------ */
/* the pump: after every entry point                                   */

static size_t conn_unsent_bytes(const rc_conn *c) {
  return c->chain != NULL ? rc_chain_unsent(c->chain) : 0;
}

static void conn_update_reading(rc_conn *c) {
  int want = (c->state == RC__CONN_HANDSHAKE || c->state == RC__CONN_OPEN) &&
             c->s != NULL && rc_session_want_read(c->s) &&
             rc_chain_queued(c->chain) < c->high_water;
  if (want && !c->reading) {
    if (uv_read_start((uv_stream_t *)&c->tcp, conn_alloc_cb, conn_read_cb) ==
        0)
      c->reading = 1;
  } else if (!want && c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
  }
}

static void conn_linger_done(uv_shutdown_t *req, int status) {
  (void)status; /* UV_ECANCELED when the socket closed first */
  free(req);
}

static void conn_linger_read(uv_stream_t *st, ssize_t nread,
                             const uv_buf_t *buf) {
  rc_conn *c = st->data;
  (void)buf;
  if (nread < 0 && c->state != RC__CONN_CLOSING)
    conn_close_handles(c); /* the peer's FIN (or an error): done */
}

/*
 * Everything is written: send our FIN and keep reading (and dropping)
 * until the peer closes too, at most RC__CONN_LINGER_MS. Closing at once
 * would make the kernel answer the peer's last bytes (its WebSocket Close
 * answer, its close_notify) with a reset; RFC 6455 §7.1.1 also wants the
 * server, not the client, to close the TCP connection first.
 * Returns 0 while lingering, -1 when the socket should be closed now.
 */
static int conn_linger(rc_conn *c) {
  if (c->lingering)
    return 0;
  uv_shutdown_t *req = malloc(sizeof *req);
  if (req == NULL)
    return -1;
  if (uv_shutdown(req, (uv_stream_t *)&c->tcp, conn_linger_done) != 0) {
    free(req);
    return -1;
  }
  c->lingering = 1;
  c->reading = 0;
  if (uv_read_start((uv_stream_t *)&c->tcp, conn_alloc_cb, conn_linger_read) !=
      0)
    return -1;
  c->deadline = conn_now(c) + RC__CONN_LINGER_MS;
  return 0;
}

/* coaps+wr draining: SCTP's SHUTDOWN needs the peer's answers, so the
 * conn reads on until the association is shut down (or the peer gone)
 * for at most RC__CONN_LINGER_MS. Non-zero when it may close now. */
static int conn_wr_settled(rc_conn *c) {
  const rc_filter *sctp =
      c->chain != NULL ? rc_chain_find(c->chain, "sctp") : NULL;
  if (c->reset || c->chain == NULL || rc_chain_is_dead(c->chain) ||
      sctp == NULL || rc_sctp_closed(sctp))
    return 1;
  if (!c->lingering) {
    c->lingering = 1;
    c->deadline = conn_now(c) + RC__CONN_LINGER_MS;
  }
  return 0;
}

/* When an unparked conn is next tried for parking. */
static rc_time conn_park_due(const rc_conn *c) {
  rc_time base = c->last_io > c->park_tried ? c->last_io : c->park_tried;
  return base + c->park_ms;
}

static void conn_arm_timer(rc_conn *c) {
  rc_time due = c->deadline;
  if (c->chain != NULL &&
      (c->state == RC__CONN_HANDSHAKE || c->state == RC__CONN_OPEN)) {
    rc_time e = rc_chain_expiry(c->chain);
    if (e < due)
      due = e;
  }
  if (c->idle_ms > 0 && c->state >= RC__CONN_HANDSHAKE &&
      c->state <= RC__CONN_OPEN && c->last_io + c->idle_ms < due)
    due = c->last_io + c->idle_ms;
  if (c->park_ms > 0 && c->state == RC__CONN_OPEN && conn_park_due(c) < due)
    due = conn_park_due(c);
  if (due == RC_TIME_NEVER || c->state == RC__CONN_CLOSING)
    return;
  rc_time armed = rc__timer_queued(&c->timer) ? c->timer.due : RC_TIME_NEVER;
  if (due >= armed)
    return; /* a later deadline is found when the armed one comes */
  rc__loop_timer_set(c->lt, &c->timer, due);
}

void rc__conn_arm(rc_conn *c) { conn_arm_timer(c); }

static void conn_pump(rc_conn *c) {
  if (c->busy > 0) {
    c->want_flush = 1;
    return;
  }
  for (int round = 0; round < CONN_PUMP_ROUNDS; round++) {
    c->want_flush = 0;
    if (c->state == RC__CONN_CLOSING)
      return;
    c->busy++; /* a filter's EV_ACTIVE from inside the pull: next round */
    conn_write(c);
    c->busy--;
    if (c->state == RC__CONN_CLOSING)
      return;
    if (c->open_pending && c->state == RC__CONN_OPEN) {
      c->open_pending = 0;
      c->open_reported = 1;
      if (c->cb->on_open != NULL) {
        c->busy++;
        c->cb->on_open(c->user, c);
        c->busy--;
      }
      continue;
    }
    if (c->s != NULL && c->state < RC__CONN_DRAINING &&
        rc_session_get_state(c->s) == RC_SESSION_CLOSED) {
      conn_drain(c, c->reason_set ? c->reason : RC_ERR_CLOSED);
      continue;
    }
    if (!c->want_flush)
      break;
  }
  if (c->state == RC__CONN_CLOSING)
    return;
  if (c->state == RC__CONN_DRAINING && !c->writing &&
      conn_unsent_bytes(c) == 0) {
    /* A dead filter chain (TLS garbage, a WS protocol error) lingers too:
     * the peer's next bytes would otherwise draw a reset that can destroy
     * our alert or Close frame, or our FIN, before the peer reads it. */
    if (c->kind == RC_CONN_WEBRTC ? conn_wr_settled(c)
                                  : c->peer_eof || c->reset || !c->tcp_inited ||
                                        conn_linger(c) != 0) {
      conn_close_handles(c);
      return;
    }
  }
  if (c->tcp_inited && c->state >= RC__CONN_HANDSHAKE)
    conn_update_reading(c);
  conn_arm_timer(c);
}

/* Every deadline of the conn, whatever its transport (UDP and DTLS peers
 * too): the loop's one timer runs this node when it is due. */
static void conn_timer_cb(rc__timer *t) {
  rc_conn *c = (rc_conn *)((char *)t - offsetof(rc_conn, timer));
  rc_time now = conn_now(c);
  if (c->state == RC__CONN_CLOSING) {
    c->handles--; /* the turn conn_close_handles waits for */
    rc__conn_maybe_free(c);
    return;
  }
  c->busy++;
  if (now >= c->deadline) {
    c->deadline = RC_TIME_NEVER;
    if (c->state <= RC__CONN_CONNECTING) {
      rc__conn_connect_timeout(c);
    } else if (c->state == RC__CONN_HANDSHAKE) {
      const char *layer = rc_chain_waiting(c->chain);
      rc__conn_set_detail(c, "%s handshake not done after %u ms",
                          layer != NULL ? layer : "transport",
                          (unsigned)c->handshake_ms);
      rc__conn_fail(c, RC_ERR_TIMEOUT, NULL);
    } else if (c->state == RC__CONN_OPEN) {
      /* Only our Release sets a deadline on an open connection. */
      rc__conn_set_detail(c, "peer did not close within %u ms of our Release",
                          RC_CONN_RELEASE_TIMEOUT);
      conn_drain(c, RC_ERR_TIMEOUT);
    } else if (c->state == RC__CONN_DRAINING && c->lingering) {
      conn_close_handles(c); /* the peer did not close: enough */
    } else if (c->state == RC__CONN_DRAINING) {
      rc__conn_set_detail(c, "output not drained after %u ms",
                          RC_CONN_DRAIN_TIMEOUT);
      rc__conn_fail(c, c->reason, NULL);
    }
  }
  if (c->chain != NULL &&
      (c->state == RC__CONN_HANDSHAKE || c->state == RC__CONN_OPEN) &&
      rc_chain_expiry(c->chain) <= now)
    rc_chain_handle_expiry(c->chain, now);
  if (c->idle_ms > 0 && c->state <= RC__CONN_OPEN &&
      c->state >= RC__CONN_HANDSHAKE && now >= c->last_io + c->idle_ms) {
    rc__conn_set_detail(c, "idle for %u ms", (unsigned)c->idle_ms);
    conn_drain(c, RC_ERR_TIMEOUT);
  }
  c->busy--;
  conn_try_park(c, now);
  conn_pump(c);
}

/* ------------------------------------------------------------------ */
/* parking                                                             */

/* The owner is gone from c (it let go, or parking took its callbacks:
 * own set when a copy c owns is still to be freed): nothing more is
 * called, not even on_closed. */
static void conn_forget_owner(rc_conn *c, int own) {
  if (own && c->cb_owned)
    c->mem->free((void *)c->cb, c->mem->user);
  c->cb_owned = 0;
  c->cb = &conn_no_callbacks;
  c->user = NULL;
  c->accepted = 0;
  if (c->s != NULL)
    conn_bind_message(c); /* its on_message_at is gone too */
}

/* A conn whose rebuild found no memory tries again this much later. */
#define CONN_WAKE_RETRY_MS 1000u

/* When a parked conn must be woken by its clock: its keepalive Ping, or
 * its idle timeout. */
static rc_time conn_parked_due(const rc__parked *pr) {
  const rc__park_prof *prof = pr->prof;
  rc_time due = rc_session_parked_expiry(&pr->rec, prof->scfg);
  if (prof->idle_ms > 0 && pr->last_io + prof->idle_ms < due)
    due = pr->last_io + prof->idle_ms;
  return due;
}

/* Folds an idle open server conn whose park_ms have passed without
 * traffic, and frees it: its socket (a dup of the fd, which libuv then
 * closes with the handle), the session's record (rc_chain_park), the
 * callbacks and the listener's settings go into a record of the loop's
 * parking set (park_int.h). The owner lets go of its part first
 * (on_park: the app frees its peer), and may give the record another
 * user pointer there. Called from the timer only, with nothing of the
 * conn running; a conn found busy is tried again park_ms later. */
static void conn_try_park(rc_conn *c, rc_time now) {
  if (c->park_ms == 0 || c->chain == NULL)
    return;
  if (!rc_chain_park_capable(c->chain)) {
    c->park_ms = 0; /* its filters cannot fold: no more tries */
    return;
  }
  if (c->state != RC__CONN_OPEN || c->busy > 0 || c->writing ||
      c->released || c->open_pending || !c->open_reported || c->want_flush ||
      now < conn_park_due(c))
    return;
  c->park_tried = now;
  if (c->cb->can_park == NULL || c->cb->on_park == NULL ||
      !rc_chain_parkable(c->chain) || !c->cb->can_park(c->user, c))
    return;
  uv_os_fd_t fd;
  rc__park_prof want = {.cb = c->cb, .user = c->user, .mem = c->mem,
                        .scfg = c->scfg, .idle_ms = c->idle_ms,
                        .park_ms = c->park_ms};
  rc__parked *pr = rc__park_new(c->loop, &want);
  if (pr == NULL)
    return;
  if (uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0 ||
      (pr->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0 ||
      rc__park_add(pr) != RC_OK) {
    if (pr->fd >= 0)
      close(pr->fd);
    pr->fd = -1;
    rc__park_free(pr, 0);
    return;
  }
  /* the last words of this conn: after on_park its user may be another */
  conn_log(c, RC_SESSION_LOG_DEBUG, "parked (quiet for %u ms)",
           (unsigned)c->park_ms);
  c->cb->on_park(c->user, c);
  if (rc_chain_park(c->chain, &pr->rec) != RC_OK) {
    /* parkable a moment ago, so not reached; the owner takes its part
     * back as from a wake (or the conn fails: no memory) */
    close(pr->fd);
    rc__park_free(pr, 0);
    if (c->cb->on_unpark != NULL && c->cb->on_unpark(c->user, c) != 0) {
      conn_forget_owner(c, 1); /* the owner has let go */
      rc__conn_fail(c, RC_ERR_NOMEM, "no memory to keep the connection");
    }
    return;
  }
  c->chain = NULL;
  c->s = NULL;
  rc__park_reown(pr, c->cb, c->user, c->cb_owned);
  pr->last_io = c->last_io;
  rc__park_arm(pr, conn_parked_due(pr));
  rc__loop_parked(c->lt);
  /* The conn goes without a word (its owner has the record's events). */
  conn_forget_owner(c, 0);
  c->state = RC__CONN_CLOSING;
  rc__loop_timer_set(c->lt, &c->timer, RC_TIME_NEVER);
  c->handles = 1; /* freed from the handle's close callback */
  c->tcp_inited = 0;
  uv_close((uv_handle_t *)&c->tcp, conn_handle_closed); /* closes its fd */
}

/* Rebuilds the chain and session of a woken conn from the record (one
 * allocation each, no CSM sent: the peer sees the same session). The
 * owner's part is rebuilt on its first use (the app makes its exchange on
 * the first message). Returns 0, or the error. */
static rc_err conn_unpark_session(rc_conn *c, const rc_session_parked *rec) {
  rc_session_config cfg;
  if (c->scfg != NULL)
    cfg = *c->scfg;
  else
    rc_session_config_default(&cfg, RC_FRAMING_TCP, RC_SESSION_SERVER);
  cfg.framing = RC_FRAMING_TCP; /* only coap+tcp chains park */
  cfg.role = RC_SESSION_SERVER;
  conn_set_high_water(c, &cfg);
  rc_session_callbacks scb;
  conn_session_callbacks(c, &scb);
  rc_session *s = NULL;
  rc_err err = rc_session_unpark(&s, &cfg, &scb, c, c->mem, rec);
  if (err != RC_OK)
    return err;
  rc_chain_config ccfg = {.mem = c->mem, .high_water = c->high_water,
                          .keep = CONN_OUT_KEEP, .flags = CONN_FILES};
  err = rc_chain_unpark(&c->chain, &ccfg, s, &conn_chain_cb, c);
  if (err != RC_OK) {
    c->chain = NULL; /* s went with it */
    return err;
  }
  c->s = s;
  conn_bind_message(c);
  return RC_OK;
}

/* A parked conn's socket has input (or the peer's end), or its deadline
 * came (due): a new rc_conn takes the socket back into libuv, the owner
 * gets it through on_unpark before anything else, and the session and
 * chain are rebuilt. The event is then handled as an unparked conn
 * would: libuv reads the socket on its next turn, or the conn's timer
 * work runs now (the keepalive Ping, the idle timeout). */
void rc__conn_wake(rc__parked *pr, int due) {
  uv_loop_t *loop = rc__park_loop(pr);
  const rc__park_prof *prof = pr->prof;
  rc_conn *c = rc__conn_alloc(loop, RC_CONN_TCP, prof->mem);
  if (c == NULL) {
    rc__park_hold(pr, uv_now(loop) + CONN_WAKE_RETRY_MS);
    return;
  }
  c->is_server = 1;
  c->scfg = prof->scfg;
  c->idle_ms = prof->idle_ms;
  c->park_ms = prof->park_ms;
  /* input now: the bytes are read on libuv's next turn, and the conn must
   * not park again before that */
  c->last_io = due ? pr->last_io : conn_now(c);
  c->cb = prof->cb;
  c->user = prof->user;
  c->cb_owned = prof->cb_owned;
  c->state = RC__CONN_OPEN;
  c->accepted = 1;
  c->open_reported = 1;
  rc_session_parked rec = pr->rec;
  int fd = pr->fd;
  rc__park_free(pr, 1); /* prof goes with it: its callbacks are c's */
  uv_tcp_init(loop, &c->tcp);
  c->tcp.data = c;
  c->tcp_inited = 1;
  int r = uv_tcp_open(&c->tcp, fd);
  if (r != 0)
    close(fd);
  else if (uv_tcp_getpeername(&c->tcp, &c->peer.sa,
                              &(int){sizeof c->peer}) != 0)
    c->peer.sa.sa_family = AF_UNSPEC;
  c->busy++;
  if (c->cb->on_unpark != NULL && c->cb->on_unpark(c->user, c) != 0) {
    conn_forget_owner(c, 1); /* the owner could not take it back */
    rc__conn_fail(c, RC_ERR_NOMEM, NULL);
  } else if (r != 0) {
    rc__conn_set_detail(c, "cannot take the parked socket back: %s",
                        uv_strerror(r));
    rc__conn_fail(c, RC_ERR_IO, NULL);
  } else {
    rc_err err = conn_unpark_session(c, &rec);
    if (err != RC_OK) {
      rc__conn_set_detail(c, "cannot wake the parked connection: %s",
                          rc_strerror(err));
      rc__conn_fail(c, err, NULL);
    } else {
      conn_log(c, RC_SESSION_LOG_DEBUG, "woken");
    }
  }
  c->busy--;
  if (due && c->state == RC__CONN_OPEN) {
    conn_timer_cb(&c->timer); /* the keepalive or the idle timeout */
    return;
  }
  conn_pump(c);
}

/* ------------------------------------------------------------------ */
/* closing                                                             */

/* Starts the orderly end: no more input, write what is queued (and the
 * filters' close messages), then close the socket. */
static void conn_drain(rc_conn *c, rc_err reason) {
  if (c->state >= RC__CONN_DRAINING)
    return;
  conn_set_reason(c, reason);
  if (c->state < RC__CONN_HANDSHAKE) {
    rc__conn_fail(c, reason, NULL);
    return;
  }
  c->state = RC__CONN_DRAINING;
  c->open_pending = 0;
  c->deadline = conn_now(c) + RC_CONN_DRAIN_TIMEOUT;
  if (c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
  }
  if (c->chain != NULL) {
    rc_session_close(c->s, reason);
    rc_chain_close(c->chain); /* then the filters' goodbyes, top first */
  }
  /* An orderly end (ours, or the peer closing) is routine: debug. */
  conn_log(c,
           reason == RC_OK || reason == RC_ERR_CLOSED ? RC_SESSION_LOG_DEBUG
                                                      : RC_SESSION_LOG_WARN,
           "closing: %s", c->detail ? c->detail : conn_reason_text(reason));
}

static void conn_free(rc_conn *c) {
  rc_chain_free(c->chain); /* filters, then the session */
  rc__loop_put(c->lt, &c->timer);
  const rc_mem *m = c->mem;
  m->free(c->detail, m->user);
  if (c->cb_owned)
    m->free((void *)c->cb, m->user);
  conn_mem_free(c);
}

void rc__conn_maybe_free(rc_conn *c) {
  if (c->handles > 0 || c->gai_pending || c->state != RC__CONN_CLOSING)
    return;
  if (c->accepted && c->cb->on_closed != NULL) {
    c->busy++; /* calls on a closed conn only record, never recurse */
    c->cb->on_closed(c->user, c, c->reason, c->detail ? c->detail : "");
  }
  conn_free(c);
}

static void conn_handle_closed(uv_handle_t *h) {
  rc_conn *c = h->data;
  c->handles--;
  rc__conn_maybe_free(c);
}

/* Closes the libuv handles; on_closed follows from their callbacks and
 * the timer node's next turn. */
static void conn_close_handles(rc_conn *c) {
  if (c->state == RC__CONN_CLOSING)
    return;
  c->state = RC__CONN_CLOSING;
  conn_set_reason(c, RC_ERR_CLOSED);
  if (c->chain != NULL) {
    rc_session_close(c->s, c->reason);
    rc_chain_end(c->chain); /* budgets back before their owner may go */
  }
  if (c->cn != NULL)
    rc__conn_connect_abandon(c);
  if (c->wr != NULL)
    rc__wr_conn_gone(c);
  if (c->udp != NULL)
    rc__udp_forget(c);
  /* Freed on a later loop turn even with no handle to close (a UDP peer, a
   * conn that never got a socket): the timer node counts as one. */
  c->handles++;
  rc__loop_timer_set(c->lt, &c->timer, conn_now(c));
  if (c->tcp_inited && !uv_is_closing((uv_handle_t *)&c->tcp)) {
    c->tcp.data = c;
    c->handles++;
    c->tcp_inited = 0;
    if (!c->reset ||
        uv_tcp_close_reset(&c->tcp, conn_handle_closed) != 0)
      uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
  }
}

void rc__conn_fail(rc_conn *c, rc_err reason, const char *detail) {
  if (c->state == RC__CONN_CLOSING)
    return;
  conn_set_reason(c, reason);
  if (detail != NULL)
    rc__conn_set_detail(c, "%s", detail);
  if (reason != RC_OK && c->state > RC__CONN_CONNECTING)
    conn_log(c, RC_SESSION_LOG_WARN, "closing: %s",
             c->detail ? c->detail : conn_reason_text(reason));
  conn_close_handles(c);
}

void rc__conn_discard(rc_conn *c) {
  c->accepted = 0;
  c->reset = 1;
  conn_close_handles(c);
}

/* ------------------------------------------------------------------ */
/* public API                                                          */

rc_err rc__conn_copy_callbacks(rc_conn *c, const rc_conn_callbacks *cb) {
  rc_conn_callbacks *copy = c->mem->malloc(sizeof *copy, c->mem->user);
  if (copy == NULL)
    return RC_ERR_NOMEM;
  *copy = *cb;
  if (c->cb_owned)
    c->mem->free((void *)c->cb, c->mem->user);
  c->cb = copy;
  c->cb_owned = 1;
  return RC_OK;
}

rc_err rc_conn_set_callbacks(rc_conn *c, const rc_conn_callbacks *cb,
                             void *user) {
  if (c == NULL || cb == NULL)
    return RC_ERR_INVAL;
  rc_err err = rc__conn_copy_callbacks(c, cb);
  if (err != RC_OK)
    return err;
  return rc_conn_set_callbacks_shared(c, c->cb, user);
}

rc_err rc_conn_set_callbacks_shared(rc_conn *c, const rc_conn_callbacks *cb,
                                    void *user) {
  if (c == NULL || cb == NULL)
    return RC_ERR_INVAL;
  if (c->cb_owned && cb != c->cb) {
    c->mem->free((void *)c->cb, c->mem->user);
    c->cb_owned = 0;
  }
  c->cb = cb;
  c->user = user;
  if (c->s != NULL) {
    rc_session_set_trace(c->s, cb->on_trace != NULL ? sess_on_trace : NULL);
    conn_bind_message(c);
  }
  return RC_OK;
}

void *rc_conn_user(const rc_conn *c) { return c->user; }
rc_session *rc_conn_session(rc_conn *c) { return c->s; }
rc_conn_kind rc_conn_get_kind(const rc_conn *c) { return c->kind; }
int rc_conn_is_open(const rc_conn *c) { return c->open_reported; }
int rc_conn_is_server(const rc_conn *c) { return c->is_server; }
rc_filter *rc_conn_tls(rc_conn *c) {
  if (c->chain == NULL)
    return NULL;
  return rc_chain_find(c->chain, c->udp != NULL ? "dtls" : "tls");
}
size_t rc_conn_unsent(const rc_conn *c) { return conn_unsent_bytes(c); }
int rc_conn_reading(const rc_conn *c) { return c->reading; }
const char *rc_conn_error_detail(const rc_conn *c) {
  return c->detail != NULL ? c->detail : "";
}

rc_err rc_conn_flush(rc_conn *c) {
  if (c->state >= RC__CONN_DRAINING)
    return RC_ERR_CLOSED;
  conn_pump(c);
  return RC_OK;
}

rc_err rc_conn_close(rc_conn *c, rc_conn_close_mode mode) {
  if (c->state == RC__CONN_CLOSING)
    return RC_ERR_CLOSED;
  if (mode == RC_CONN_CLOSE_RESET) {
    c->reset = 1;
    rc__conn_fail(c, RC_OK, NULL);
    return RC_OK;
  }
  if (c->state == RC__CONN_DRAINING)
    return RC_ERR_CLOSED;
  if (c->state < RC__CONN_HANDSHAKE) {
    rc__conn_set_detail(c, "closed before the connection was up");
    rc__conn_fail(c, RC_ERR_CANCELLED, NULL);
    return RC_OK;
  }
  if (mode == RC_CONN_CLOSE_RELEASE)
    return rc_conn_release(c, NULL, 0, RC_SESSION_NO_HOLD_OFF, NULL);
  conn_drain(c, RC_OK);
  conn_pump(c);
  return RC_OK;
}

rc_err rc_conn_release(rc_conn *c, const char *const *alt, size_t n_alt,
                       uint32_t hold_off_s, const char *diag) {
  if (c->state >= RC__CONN_DRAINING || c->s == NULL)
    return RC_ERR_CLOSED;
  rc_err err =
      rc_session_release(c->s, alt, n_alt, hold_off_s, diag, conn_now(c));
  if (err != RC_OK)
    return err;
  c->released = 1;
  if (c->state == RC__CONN_OPEN)
    c->deadline = conn_now(c) + RC_CONN_RELEASE_TIMEOUT;
  conn_pump(c);
  return RC_OK;
}

rc_err rc_conn_ping(rc_conn *c, int custody, uint32_t *ping_id) {
  if (c->state >= RC__CONN_DRAINING || c->s == NULL)
    return RC_ERR_CLOSED;
  rc_err err = rc_session_ping(c->s, custody, conn_now(c), ping_id);
  if (err != RC_OK)
    return err;
  conn_pump(c);
  return RC_OK;
}

rc_err rc__conn_addr_str(const struct sockaddr *sa, char *buf, size_t len) {
  char ip[INET6_ADDRSTRLEN];
  int n;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
    uv_ip4_name(a, ip, sizeof(ip));
    n = snprintf(buf, len, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
    uv_ip6_name(a, ip, sizeof(ip));
    n = snprintf(buf, len, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
  } else {
    return RC_ERR_INVAL;
  }
  return n < 0 || (size_t)n >= len ? RC_ERR_NOBUF : RC_OK;
}

static rc_err conn_addr(const rc_conn *c, char *buf, size_t len, int peer) {
  if (c->udp != NULL) {
    struct sockaddr_storage ss;
    if (peer)
      return rc__conn_addr_str(&c->peer.sa, buf, len);
    rc_err err = rc__udp_sockname(c->udp, &ss);
    return err != RC_OK ? err
                        : rc__conn_addr_str((const struct sockaddr *)&ss, buf,
                                            len);
  }
  if (!c->tcp_inited || c->state < RC__CONN_HANDSHAKE)
    return RC_ERR_STATE;
  if (peer && c->peer.sa.sa_family != AF_UNSPEC)
    return rc__conn_addr_str(&c->peer.sa, buf, len);
  struct sockaddr_storage ss;
  int sl = sizeof(ss);
  int r = peer ? uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl)
               : uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&ss, &sl);
  if (r != 0)
    return RC_ERR_STATE;
  return rc__conn_addr_str((const struct sockaddr *)&ss, buf, len);
}

rc_err rc_conn_peer_addr(const rc_conn *c, char *buf, size_t len) {
  return conn_addr(c, buf, len, 1);
}
rc_err rc_conn_local_addr(const rc_conn *c, char *buf, size_t len) {
  return conn_addr(c, buf, len, 0);
}
