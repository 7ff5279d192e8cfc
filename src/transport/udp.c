/*
 * CoAP over UDP on libuv (RFC 7252): one socket serving many peers. Each
 * peer that sent a valid request gets an rc_conn of kind RC_CONN_UDP with
 * its own RFC 7252 session (session/udp.c); the socket's table finds it by
 * source address for every datagram that follows, and the conn writes its
 * datagrams back through the same socket (rc__udp_send_to).
 *
 * What a stranger can make us hold is bounded: a datagram from an address
 * not in the table costs nothing unless it is a well-formed request
 * (a ping or a malformed CON is answered with RST from here, statelessly;
 * everything else is dropped); the table holds at most peers_max peers
 * (the least recently active one is closed to make room), and a peer
 * silent for idle_ms is closed by its conn's idle timer.
 *
 * coaps:// (RC_CONN_DTLS) is the same with a dtls filter in each peer's
 * chain; a stranger must first pass the stateless cookie check
 * (rc_dtls_listen_check) instead of being vetted as a CoAP request.
 *
 * A client conn (rc_conn_connect with RC_CONN_UDP) has a socket of its
 * own on an ephemeral port and takes datagrams from its peer's address
 * only. The socket closes once its listener is freed and its last peer is
 * gone.
 */
#include <string.h>
#include <sys/socket.h>

#include "rcoap/codec_msg.h"
#include "rcoap/transport_dtls.h"
#include "transport/conn_int.h"
#include "transport/webrtc/wr_int.h"
#include "transport/echo.h"
#include "transport/peers.h"

/* A UDP datagram is at most 64 KiB (UDP_RBUF, one per thread, for client
 * sockets); a server socket has its own buffer for UDP_MMSG of them per
 * recvmmsg (UV_UDP_RECVMMSG). */
#define UDP_RBUF (64u * 1024u)
#define UDP_MMSG 16u
/* Answers collected while a recvmmsg batch is handled, sent with one
 * sendmmsg at its end; a datagram larger than UDP_BATCH_DGRAM goes at
 * once. */
#define UDP_BATCH 32u
#define UDP_BATCH_DGRAM 1280u
/* SO_RCVBUF asked for a server socket. */
#define UDP_SOCKBUF (4 * 1024 * 1024)

struct rc__udp_ep {
  uv_udp_t h;
  uv_loop_t *loop;
  const rc_mem *mem;
  int (*accept)(void *arg, rc_conn *c); /* NULL: a client socket */
  void *arg;
  rc_tls_ctx *dtls;    /* coaps:// listener: the cookie check's context */
  rc__hkey echo;       /* coap:// listener: the Echo values' keys */
  uint8_t echo_ok;     /* echo is keyed */
  uint32_t idle_ms;
  size_t refs;         /* peers + the listener */
  rc__peers peers;     /* by address, LRU (peers.c); the peers' deadlines
                        * are in the loop's timer queue (loop_int.h) */
  uint8_t listening;
  uint8_t closing;
  uint8_t batching; /* inside a recvmmsg batch: sends are collected */
  uint8_t connected; /* a client socket, connect()ed to its one peer */
  unsigned nbatch;
  struct mmsghdr *msgs; /* UDP_BATCH each, allocated with the socket */
  struct iovec *iov;
  struct sockaddr_storage *to;
  uint8_t *bbuf;        /* UDP_BATCH x UDP_BATCH_DGRAM */
  uint8_t *mbuf;        /* a server's recvmmsg buffer, or NULL */
  rc__wr_ep *wr;        /* coaps+wr: every datagram goes to the endpoint */
};

static _Thread_local uint8_t udp_rbuf[UDP_RBUF];

socklen_t rc__sa_len(const struct sockaddr *sa) {
  return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                   : sizeof(struct sockaddr_in);
}

static void peer_add(rc__udp_ep *ep, rc_conn *c) {
  rc__peers_add(&ep->peers, c);
  ep->refs++;
}

/* The socket's only libuv handle is closed: the endpoint goes. */
static void ep_closed(uv_handle_t *h) {
  rc__udp_ep *ep = h->data;
  if (ep->wr != NULL)
    rc__wr_ep_closed(ep->wr);
  ep->mem->free(ep->msgs, ep->mem->user);
  ep->mem->free(ep->mbuf, ep->mem->user);
  rc__peers_free(&ep->peers);
  rc__hkey_wipe(&ep->echo);
  ep->mem->free(ep, ep->mem->user);
}

static void ep_flush(rc__udp_ep *ep);

static void ep_unref(rc__udp_ep *ep) {
  if (--ep->refs > 0 || ep->closing)
    return;
  ep->closing = 1;
  /* Inside a recvmmsg batch the last peer's final datagrams (the ACK of
   * a separate response or notification it ends on, RFC 7252 §4.2; an
   * observe cancellation) are still collected: out before the socket
   * goes, or the peer retransmits to no one. */
  ep_flush(ep);
  ep->batching = 0;
  uv_close((uv_handle_t *)&ep->h, ep_closed);
}

void rc__udp_forget(rc_conn *c) {
  rc__udp_ep *ep = c->udp;
  c->udp = NULL;
  rc__peers_remove(&ep->peers, c);
  ep_unref(ep);
}

/* Sends the collected answers: one sendmmsg (what the kernel does not
 * take is dropped, as a datagram lost on the way would be). */
static void ep_flush(rc__udp_ep *ep) {
  uv_os_fd_t fd;
  unsigned off = 0;
  if (ep->nbatch > 0 && uv_fileno((uv_handle_t *)&ep->h, &fd) == 0) {
    while (off < ep->nbatch) {
      int r = sendmmsg(fd, ep->msgs + off, ep->nbatch - off, MSG_DONTWAIT);
      if (r <= 0)
        break;
      off += (unsigned)r;
    }
  }
  ep->nbatch = 0;
}

rc_err rc__udp_send_to(rc_conn *c, const uint8_t *d, size_t n) {
  rc__udp_ep *ep = c->udp;
  if (ep->batching && ep->msgs != NULL && n <= UDP_BATCH_DGRAM) {
    if (ep->nbatch == UDP_BATCH)
      ep_flush(ep);
    unsigned i = ep->nbatch++;
    uint8_t *slot = ep->bbuf + (size_t)i * UDP_BATCH_DGRAM;
    memcpy(slot, d, n);
    ep->iov[i].iov_base = slot;
    ep->iov[i].iov_len = n;
    socklen_t al = rc__sa_len(&c->peer.sa);
    memcpy(&ep->to[i], &c->peer, al);
    memset(&ep->msgs[i], 0, sizeof ep->msgs[i]);
    ep->msgs[i].msg_hdr.msg_name = ep->connected ? NULL : &ep->to[i];
    ep->msgs[i].msg_hdr.msg_namelen = ep->connected ? 0 : al;
    ep->msgs[i].msg_hdr.msg_iov = &ep->iov[i];
    ep->msgs[i].msg_hdr.msg_iovlen = 1;
    return RC_OK;
  }
  uv_buf_t b = uv_buf_init((char *)d, (unsigned)n);
  int r = uv_udp_try_send(&ep->h, &b, 1, ep->connected ? NULL : &c->peer.sa);
  return r == (int)n ? RC_OK : RC_ERR_IO;
}

/* RFC 7252 §4.2 for a stranger: a CON we will not take (a ping, a format
 * error, a response we never asked for) is rejected with a matching RST,
 * without keeping anything. Returns non-zero if the datagram is a
 * request worth a peer. */
static int stranger_wanted(rc__udp_ep *ep, const uint8_t *d, size_t n,
                           const struct sockaddr *from) {
  if (n < 4 || (d[0] >> 6) != 1)
    return 0; /* §3: other versions are silently ignored */
  uint8_t type = (d[0] >> 4) & 3;
  rc_msg m;
  if (rc_msg_parse(RC_FRAMING_UDP, d, n, &m) == RC_OK &&
      m.token_len <= RC_TOKEN_MAX && rc_code_is_request(m.code) &&
      (type == RC_TYPE_CON || type == RC_TYPE_NON))
    return ep->listening;
  if (type == RC_TYPE_CON) {
    uint8_t rst[4] = {0x70, 0, d[2], d[3]};
    uv_buf_t b = uv_buf_init((char *)rst, sizeof rst);
    uv_udp_try_send(&ep->h, &b, 1, from);
  }
  return 0;
}

static void new_peer(rc__udp_ep *ep, const uint8_t *d, size_t n,
                     const struct sockaddr *from) {
  if (rc__peers_full(&ep->peers) && rc__peers_oldest(&ep->peers) != NULL) {
    rc_conn *old = rc__peers_oldest(&ep->peers);
    rc__conn_set_detail(old, "UDP peer table full: least recently active "
                             "peer dropped");
    rc__conn_fail(old, RC_ERR_LIMIT, NULL); /* forgets it at once */
  }
  rc_conn *c = rc__conn_alloc(ep->loop,
                              ep->dtls != NULL ? RC_CONN_DTLS : RC_CONN_UDP,
                              ep->mem);
  if (c == NULL)
    return;
  c->is_server = 1;
  c->idle_ms = ep->idle_ms;
  memcpy(&c->peer, from, rc__sa_len(from));
  c->udp = ep;
  peer_add(ep, c);
  if (ep->accept(ep->arg, c) != 0) {
    rc__conn_discard(c);
    return;
  }
  rc__conn_udp_input(c, d, n);
}

/* A ClientHello in epoch 0 (RFC 6347 §4.1 record header: type 22,
 * epoch 0; §4.2.2 handshake header: type 1). */
static int dtls_client_hello(const uint8_t *d, size_t n) {
  return n > 13 && d[0] == 22 && d[3] == 0 && d[4] == 0 && d[13] == 1;
}

/* coaps://: a datagram from an address without an open peer goes
 * through the stateless cookie check (RFC 6347 §4.2.1); only a
 * ClientHello with a valid cookie gets a peer (replacing old, if any:
 * "a restarted client", RFC 6347 §4.2.8), fed that same datagram. */
static void dtls_stranger(rc__udp_ep *ep, rc_conn *old, const uint8_t *d,
                          size_t n, const struct sockaddr *from) {
  uint8_t out[RC_DTLS_HVR_MAX];
  size_t olen = 0;
  switch (rc_dtls_listen_check(ep->dtls, from, rc__sa_len(from), d, n,
                               uv_now(ep->loop), out, &olen)) {
  case RC_DTLS_LISTEN_ANSWER: {
    uv_buf_t b = uv_buf_init((char *)out, (unsigned)olen);
    uv_udp_try_send(&ep->h, &b, 1, from);
    return;
  }
  case RC_DTLS_LISTEN_ACCEPT:
    if (old != NULL) {
      rc__conn_set_detail(old, "the peer started a new DTLS handshake");
      rc__conn_fail(old, RC_ERR_CLOSED, NULL); /* forgets it at once */
    }
    new_peer(ep, d, n, from);
    return;
  default:
    return;
  }
}

static void ep_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  rc__udp_ep *ep = h->data;
  (void)suggested;
  if (ep->mbuf != NULL) {
    buf->base = (char *)ep->mbuf;
    buf->len = UDP_MMSG * UDP_RBUF;
  } else {
    buf->base = (char *)udp_rbuf;
    buf->len = sizeof udp_rbuf;
  }
}

static void ep_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                    const struct sockaddr *from, unsigned flags) {
  rc__udp_ep *ep = h->data;
  if (flags & UV_UDP_MMSG_FREE) {
    /* the end of a recvmmsg batch: its answers go out together */
    ep->batching = 0;
    ep_flush(ep);
    return;
  }
  if (flags & UV_UDP_MMSG_CHUNK)
    ep->batching = 1;
  if (nread < 0 && ep->connected && rc__peers_newest(&ep->peers) != NULL &&
      (nread == UV_ECONNREFUSED || nread == UV_EHOSTUNREACH ||
       nread == UV_ENETUNREACH)) {
    /* ICMP unreachable for our one peer (a connected socket hears it):
     * nothing listens there; fail now rather than at the timeout. */
    rc_conn *c = rc__peers_newest(&ep->peers);
    rc__conn_set_detail(c, c->kind == RC_CONN_WEBRTC
                               ? "the WebRTC peer is gone (%s)"
                               : "no CoAP server there (%s)",
                        uv_strerror((int)nread));
    rc__conn_fail(c, nread == UV_ECONNREFUSED ? RC_ERR_CONN_REFUSED
                                              : RC_ERR_CONNECT, NULL);
    return;
  }
  if (nread <= 0 || from == NULL || ep->closing ||
      (flags & UV_UDP_PARTIAL) ||
      (from->sa_family != AF_INET && from->sa_family != AF_INET6))
    return; /* errors (ICMP) and truncated datagrams are dropped */
  const uint8_t *d = (const uint8_t *)buf->base; /* a recvmmsg chunk */
  size_t n = (size_t)nread;
  if (ep->wr != NULL) { /* coaps+wr: ICE and DTLS on one socket */
    rc__wr_input(ep->wr, d, n, from);
    return;
  }
  rc_conn *c = rc__peers_find(&ep->peers, from);
  if (c != NULL && ep->dtls != NULL && ep->accept != NULL &&
      dtls_client_hello(d, n) && rc_conn_is_open(c)) {
    dtls_stranger(ep, c, d, n, from);
    return;
  }
  if (c != NULL) {
    rc__peers_touch(&ep->peers, c);
    rc__conn_udp_input(c, d, n);
    return;
  }
  if (ep->accept != NULL && ep->dtls != NULL)
    dtls_stranger(ep, NULL, d, n, from);
  else if (ep->accept != NULL && stranger_wanted(ep, d, n, from))
    new_peer(ep, d, n, from);
}

static rc_err ep_new(uv_loop_t *loop, const rc_mem *mem, int family,
                     size_t peers_max, rc__udp_ep **out) {
  rc__udp_ep *ep = mem->malloc(sizeof(*ep), mem->user);
  if (ep == NULL)
    return RC_ERR_NOMEM;
  memset(ep, 0, sizeof(*ep));
  if (rc__peers_init(&ep->peers, mem, peers_max) != RC_OK) {
    mem->free(ep, mem->user);
    return RC_ERR_NOMEM;
  }
  ep->loop = loop;
  ep->mem = mem;
  /* The send batch, in one allocation (NULL: every send goes at once). */
  size_t bsz = UDP_BATCH * (sizeof(struct mmsghdr) + sizeof(struct iovec) +
                            sizeof(struct sockaddr_storage) + UDP_BATCH_DGRAM);
  uint8_t *b = mem->malloc(bsz, mem->user);
  if (b != NULL) {
    ep->msgs = (struct mmsghdr *)(void *)b;
    ep->to = (struct sockaddr_storage *)(void *)(b + UDP_BATCH * sizeof(struct mmsghdr));
    ep->iov = (struct iovec *)(void *)(ep->to + UDP_BATCH);
    ep->bbuf = (uint8_t *)(ep->iov + UDP_BATCH);
  }
  /* recvmmsg: one system call for a batch of datagrams (PERF-NOTES). */
  if (uv_udp_init_ex(loop, &ep->h, (unsigned)family | UV_UDP_RECVMMSG) != 0) {
    mem->free(ep->msgs, mem->user);
    rc__peers_free(&ep->peers);
    mem->free(ep, mem->user);
    return RC_ERR_IO;
  }
  ep->h.data = ep;
  *out = ep;
  return RC_OK;
}

/* Closes a socket that never had a peer. */
static void ep_abandon(rc__udp_ep *ep) {
  ep->refs = 1;
  ep_unref(ep);
}

rc_err rc__udp_listen(uv_loop_t *loop, const struct sockaddr *sa,
                      const rc_mem *mem, uint32_t idle_ms, rc_tls_ctx *dtls,
                      int (*accept)(void *arg, rc_conn *c), void *arg,
                      rc__udp_ep **out, int *uverr) {
  rc__udp_ep *ep;
  rc_err err = ep_new(loop, mem, sa->sa_family, RC_CONN_UDP_PEERS_MAX, &ep);
  if (err != RC_OK)
    return err;
  ep->accept = accept;
  ep->arg = arg;
  ep->dtls = dtls;
  ep->echo_ok = dtls == NULL && rc__hkey_init(&ep->echo) == RC_OK;
  ep->mbuf = mem->malloc(UDP_MMSG * UDP_RBUF, mem->user); /* NULL: one by one */
  ep->idle_ms = idle_ms ? idle_ms : RC_CONN_UDP_PEER_IDLE;
  int r = uv_udp_bind(&ep->h, sa,
                      sa->sa_family == AF_INET6 ? UV_UDP_IPV6ONLY : 0);
  if (r == 0) {
    /* Room for what many peers may have in flight (the kernel caps it at
     * net.core.rmem_max); a full buffer drops requests (PERF-NOTES). */
    int sz = UDP_SOCKBUF;
    uv_recv_buffer_size((uv_handle_t *)&ep->h, &sz);
    r = uv_udp_recv_start(&ep->h, ep_alloc, ep_recv);
  }
  if (r != 0) {
    *uverr = r;
    ep_abandon(ep);
    return r == UV_EADDRINUSE ? RC_ERR_ADDR_IN_USE : RC_ERR_IO;
  }
  ep->listening = 1;
  ep->refs = 1;
  *out = ep;
  return RC_OK;
}

static size_t peer_echo_make(void *user, rc_time now,
                             uint8_t out[RC_UDP_ECHO_MAX]) {
  rc_conn *c = user;
  if (c->udp == NULL)
    return 0;
  return rc__echo_make(&c->udp->echo, &c->peer, rc__sa_len(&c->peer.sa), now,
                       out);
}

static int peer_echo_check(void *user, const uint8_t *v, size_t n,
                           rc_time now) {
  rc_conn *c = user;
  return c->udp != NULL &&
         rc__echo_check(&c->udp->echo, &c->peer, rc__sa_len(&c->peer.sa), v,
                        n, now);
}

static const rc_session_echo peer_echo = {peer_echo_make, peer_echo_check};

void rc__udp_echo_setup(rc_conn *c) {
  if (c->udp->echo_ok) /* else no randomness for a key: no limit */
    (void)rc_session_set_echo(c->s, &peer_echo);
}

void rc__udp_unlisten(rc__udp_ep *ep) {
  ep->listening = 0;
  ep->accept = NULL;
  ep->dtls = NULL;
  ep_unref(ep);
}

rc_err rc__udp_sockname(const rc__udp_ep *ep, struct sockaddr_storage *ss) {
  int sl = sizeof(*ss);
  return uv_udp_getsockname(&ep->h, (struct sockaddr *)ss, &sl) == 0
             ? RC_OK
             : RC_ERR_STATE;
}

rc_err rc__udp_client_open(rc_conn *c, const struct sockaddr *sa) {
  rc__udp_ep *ep;
  rc_err err = ep_new(c->loop, c->mem, sa->sa_family, 1, &ep);
  if (err != RC_OK)
    return err;
  struct sockaddr_storage any;
  memset(&any, 0, sizeof any);
  any.ss_family = sa->sa_family;
  int r = uv_udp_bind(&ep->h, (const struct sockaddr *)&any, 0);
  /* Connected: the kernel filters other sources and reports ICMP errors. */
  if (r == 0)
    r = uv_udp_connect(&ep->h, sa);
  if (r == 0) {
    ep->connected = 1;
    r = uv_udp_recv_start(&ep->h, ep_alloc, ep_recv);
  }
  if (r != 0) {
    ep_abandon(ep);
    return RC_ERR_IO;
  }
  memcpy(&c->peer, sa, rc__sa_len(sa));
  c->udp = ep;
  peer_add(ep, c);
  return RC_OK;
}

/* ---- for the webrtc endpoint (webrtc/wr_ep.c) --------------------------- */

rc_conn *rc__udp_peer_find(rc__udp_ep *ep, const struct sockaddr *sa) {
  return rc__peers_find(&ep->peers, sa);
}

void rc__udp_attach(rc__udp_ep *ep, rc_conn *c, const struct sockaddr *sa) {
  memcpy(&c->peer, sa, rc__sa_len(sa));
  c->udp = ep;
  c->idle_ms = c->idle_ms ? c->idle_ms : ep->idle_ms;
  peer_add(ep, c);
}

int rc__udp_accept(rc__udp_ep *ep, rc_conn *c) {
  return ep->accept != NULL ? ep->accept(ep->arg, c) : -1;
}

rc_err rc__udp_send_raw(rc__udp_ep *ep, const struct sockaddr *to,
                        const uint8_t *d, size_t n) {
  uv_buf_t b = uv_buf_init((char *)d, (unsigned)n);
  return uv_udp_try_send(&ep->h, &b, 1, ep->connected ? NULL : to) == (int)n
             ? RC_OK
             : RC_ERR_IO;
}

size_t rc__udp_rcvbuf(rc__udp_ep *ep) {
  int sz = 0; /* 0: libuv reads the size */
  if (uv_recv_buffer_size((uv_handle_t *)&ep->h, &sz) != 0 || sz <= 0)
    return 0;
  return (size_t)sz;
}

void rc__udp_connect_to(rc__udp_ep *ep, const struct sockaddr *sa) {
  if (!ep->connected && uv_udp_connect(&ep->h, sa) == 0)
    ep->connected = 1; /* ICMP errors reach us; other sources do not */
}

void rc__udp_set_wr(rc__udp_ep *ep, rc__wr_ep *w) { ep->wr = w; }

rc_err rc__udp_open_bound(uv_loop_t *loop, const rc_mem *mem,
                          const struct sockaddr *sa, rc__udp_ep **out) {
  rc__udp_ep *ep;
  rc_err err = ep_new(loop, mem, sa->sa_family, 4, &ep);
  if (err != RC_OK)
    return err;
  int r = uv_udp_bind(&ep->h, sa, 0);
  if (r == 0) {
    /* A coaps+wr offerer's socket takes a bulk transfer's bursts: SCTP
     * over a loopback pair sends up to its peer's window in 16 KiB
     * datagrams, and one dropped here costs a retransmission (measured:
     * ~200 per 64 MiB GET with the default 208 KiB buffer). */
    int sz = UDP_SOCKBUF;
    uv_recv_buffer_size((uv_handle_t *)&ep->h, &sz);
    r = uv_udp_recv_start(&ep->h, ep_alloc, ep_recv);
  }
  if (r != 0) {
    ep_abandon(ep);
    return RC_ERR_IO;
  }
  ep->refs = 1;
  *out = ep;
  return RC_OK;
}

void rc__udp_release(rc__udp_ep *ep) { ep_unref(ep); }
