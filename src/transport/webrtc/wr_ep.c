/*
 * The webrtc endpoint (transport_webrtc.h): one UDP socket, its ICE
 * sessions, and the conns they become. Each datagram is told apart by
 * its first byte (RFC 7983 §7: 0-3 STUN, 20-63 DTLS): STUN goes to the
 * ICE session it names (USERNAME "<our ufrag>:<theirs>", or the one
 * session of an offerer's socket), DTLS to the conn of its source address
 * (a pair ICE selected); anything else is dropped.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rcoap/transport_sctp.h"
#include "transport/loop_int.h"
#include "transport/webrtc/ice.h"
#include "transport/webrtc/stun.h"
#include "transport/webrtc/wr_int.h"

#define WR_PENDING_MAX 64
#define WR_PULL_MAX 16
/* Plain Binding requests answered per second on a listener's socket: a
 * bound on what a forged source can draw (each answer is at most the
 * request plus the mapped address, rc_stun_binding_answer). */
#define WR_BINDING_PER_S 100
/* The SCTP path MTU over a loopback pair: a DTLS record's most plaintext
 * (RFC 6347 §4.1: 2^14) less room for the SCTP common header, which
 * usrsctp adds on top of it (an AF_CONN packet has no IP header). */
#define RC_WR_LOOPBACK_PACKET (16384u - 16u)

typedef struct wr_sess wr_sess;

struct rc__wr_ep {
  rc__udp_ep *ep;
  uv_loop_t *loop;
  const rc_mem *mem;
  rc_wr_identity id;
  wr_sess *list;
  size_t nsess;
  int server;
  int listening;
  int sock_closed; /* the socket is gone: free with the last session */
  /* The DTLS contexts its sessions share, made by the first of each role
   * ([0] server, [1] client): one identity, each peer's fingerprint
   * checked by its own filter (rc_dtls_set_peer_fingerprint). */
  rc_tls_ctx *tls[2];
  uint64_t bind_sec; /* the second of the plain Binding answers counted */
  unsigned bind_n;   /* how many were sent in it */
  /* Behind a NAT (rc_wr_listener_stun): where our plain Binding requests
   * go, the last one's transaction ID, and the server-reflexive address
   * they taught us. Answers then come from a full ICE agent that sends
   * checks of its own (ice.h, cfg.full), with the srflx candidate. */
  struct sockaddr_storage stun_srv;
  uint8_t stun_tid[RC_STUN_TID_LEN];
  struct sockaddr_storage srflx;
  unsigned has_stun : 1;
  unsigned has_srflx : 1;
};

struct wr_sess {
  wr_sess *next;
  rc__wr_ep *w;
  rc_ice *ice;
  rc_tls_ctx *tls; /* w->tls[dtls_client], borrowed */
  uint8_t fp[RC_TLS_FINGERPRINT_LEN]; /* the peer's a=fingerprint */
  rc_conn *c;
  rc__loop *lt;    /* the loop's one timer queue (loop_int.h) */
  rc__timer timer; /* ICE's next deadline, the pending offer's end */
  uint64_t born;
  char ufrag[9], pwd[33];
  int dtls_client;
  uint16_t sctp_port;
  char steps[160];
  rc_session_config scfg; /* offerer: the session template, if any */
  unsigned has_scfg : 1;
  unsigned holds_ref : 1; /* offerer: the socket's first reference */
  unsigned started : 1; /* the conn's chain runs */
  unsigned dying : 1;
};

static uint64_t now_ms(const rc__wr_ep *w) { return uv_now(w->loop); }

static int is_loopback(const struct sockaddr_storage *ss);

/* ------------------------------------------------------------------ */
/* sessions                                                            */

static void ep_maybe_free(rc__wr_ep *w) {
  if (w->sock_closed && w->nsess == 0) {
    rc_tls_ctx_free(w->tls[0]); /* the conns' filters keep references */
    rc_tls_ctx_free(w->tls[1]);
    w->mem->free(w, w->mem->user);
  }
}

/* A dying session's node, due on the next turn: the memory goes there, as
 * a conn's does (nothing above may still hold s on this turn). */
static void sess_release(wr_sess *s) {
  rc__wr_ep *w = s->w;
  rc__loop_put(s->lt, &s->timer);
  rc_ice_free(s->ice);
  w->mem->free(s, w->mem->user);
  w->nsess--;
  ep_maybe_free(w);
}

/* The offerer's socket reference goes once the conn holds its own (or
 * the session ends without one). */
static void sess_drop_ref(wr_sess *s) {
  if (s->holds_ref && s->w->ep != NULL) {
    s->holds_ref = 0;
    rc__udp_release(s->w->ep);
  }
}

static void sess_free(wr_sess *s) {
  if (s->dying)
    return;
  s->dying = 1;
  for (wr_sess **pp = &s->w->list; *pp != NULL; pp = &(*pp)->next)
    if (*pp == s) {
      *pp = s->next;
      break;
    }
  if (s->c != NULL)
    s->c->wr = NULL;
  rc__loop_timer_set(s->lt, &s->timer, now_ms(s->w));
  sess_drop_ref(s); /* may close the socket: last */
}

/* Sends what ICE has, then re-arms the session's timer. */
static void sess_flush(wr_sess *s) {
  uint8_t buf[640];
  struct sockaddr_storage to;
  for (int i = 0; i < WR_PULL_MAX; i++) {
    size_t n = rc_ice_pull(s->ice, now_ms(s->w), &to, buf, sizeof buf);
    if (n == 0)
      break;
    (void)rc__udp_send_raw(s->w->ep, (const struct sockaddr *)&to, buf, n);
  }
  uint64_t due = rc_ice_next_timeout(s->ice);
  if (s->c == NULL && s->w->server) /* an answered offer waits so long */
    due = due < s->born + RC_WR_PENDING_MS ? due : s->born + RC_WR_PENDING_MS;
  rc__loop_timer_set(s->lt, &s->timer,
                     due == UINT64_MAX ? RC_TIME_NEVER : (rc_time)due);
}

static void sess_fail(wr_sess *s, rc_err err, const char *why) {
  if (s->c != NULL) {
    rc__conn_set_detail(s->c, "ICE: %s", why);
    rc__conn_fail(s->c, err, NULL); /* frees s through rc__wr_conn_gone */
  } else {
    sess_free(s);
  }
}

/* ICE selected a pair: the answerer makes its conn, the offerer starts
 * the one it has. */
static void sess_connected(wr_sess *s) {
  const struct sockaddr *sel = rc_ice_selected(s->ice);
  if (sel == NULL || s->started)
    return;
  char a[64] = "?";
  (void)rc__conn_addr_str(sel, a, sizeof a);
  snprintf(s->steps, sizeof s->steps, "ICE pair selected: %s after %llu ms",
           a, (unsigned long long)(now_ms(s->w) - s->born));
  rc__udp_ep *ep = s->w->ep;
  if (rc__udp_peer_find(ep, sel) != NULL) {
    sess_fail(s, RC_ERR_EXISTS, "that address already has a data channel");
    return;
  }
  s->started = 1;
  if (s->w->server) {
    rc_conn *c = rc__conn_alloc(s->w->loop, RC_CONN_WEBRTC, s->w->mem);
    if (c == NULL) {
      sess_free(s);
      return;
    }
    c->is_server = 1;
    c->wr = s;
    s->c = c;
    rc__udp_attach(ep, c, sel);
    if (rc__udp_accept(ep, c) != 0) {
      s->c = NULL;
      c->wr = NULL;
      rc__conn_discard(c);
      sess_free(s);
    }
    return;
  }
  rc_conn *c = s->c;
  rc__udp_attach(ep, c, sel);
  rc__udp_connect_to(ep, sel);
  sess_drop_ref(s);
  rc_stack_config st = {.role = RC_SESSION_CLIENT};
  rc__wr_conn_stack(c, &st);
  rc_err err = rc__conn_setup(c, s->has_scfg ? &s->scfg : NULL, &st);
  if (err != RC_OK) {
    rc__conn_set_detail(c, "cannot set up the data channel: %s",
                        rc_strerror(err));
    rc__conn_fail(c, err, NULL);
    return;
  }
  rc__conn_start(c);
}

static void sess_after(wr_sess *s) {
  switch (rc_ice_get_state(s->ice)) {
  case RC_ICE_CONNECTED:
    sess_connected(s);
    break;
  case RC_ICE_FAILED:
    sess_fail(s, RC_ERR_TIMEOUT,
              s->started ? "consent lost (the peer went silent)"
                         : "no candidate pair answered");
    return;
  default:
    break;
  }
  if (!s->dying)
    sess_flush(s);
}

static void sess_timer_cb(rc__timer *t) {
  wr_sess *s = (wr_sess *)((char *)t - offsetof(wr_sess, timer));
  if (s->dying) {
    sess_release(s);
    return;
  }
  uint64_t now = now_ms(s->w);
  if (s->c == NULL && s->w->server && now >= s->born + RC_WR_PENDING_MS) {
    sess_free(s); /* the peer never came */
    return;
  }
  rc_ice_timeout(s->ice, now);
  sess_after(s);
}

static wr_sess *sess_new(rc__wr_ep *w, int controlling, const rc_wr_desc *remote,
                         rc_err *err) {
  wr_sess *s = w->mem->malloc(sizeof *s, w->mem->user);
  if (s == NULL) {
    *err = RC_ERR_NOMEM;
    return NULL;
  }
  memset(s, 0, sizeof *s);
  s->w = w;
  s->born = now_ms(w);
  rc_ice_make_credentials(s->ufrag, s->pwd);
  s->lt = rc__loop_get(w->loop);
  if (s->lt == NULL) {
    w->mem->free(s, w->mem->user);
    *err = RC_ERR_NOMEM;
    return NULL;
  }
  rc__timer_init(&s->timer, sess_timer_cb);
  rc_ice_cfg ic = {.controlling = controlling,
                   .full = w->has_stun,
                   .local_ufrag = s->ufrag,
                   .local_pwd = s->pwd};
  *err = rc_ice_new(&s->ice, &ic, s->born);
  if (*err == RC_OK && remote != NULL)
    *err = rc_ice_set_remote(s->ice, remote->ufrag, remote->pwd);
  for (size_t i = 0; *err == RC_OK && remote != NULL && i < remote->ncand; i++)
    (void)rc_ice_add_remote_candidate(
        s->ice, (const struct sockaddr *)&remote->cand[i], remote->prio[i]);
  if (*err != RC_OK) {
    rc_ice_free(s->ice);
    rc__loop_put(s->lt, &s->timer);
    w->mem->free(s, w->mem->user);
    return NULL;
  }
  s->next = w->list;
  w->list = s;
  w->nsess++;
  return s;
}

/* The DTLS context of one peer: our identity, shared by every peer of
 * the endpoint in that role (an SSL_CTX, its certificate and key read
 * once: 25 KB and about 8 million instructions less per peer, measured),
 * and the peer's fingerprint, which its DTLS filter checks. */
static rc_err sess_tls(wr_sess *s, const rc_wr_identity *id,
                       const uint8_t fp[RC_TLS_FINGERPRINT_LEN]) {
  rc__wr_ep *w = s->w;
  memcpy(s->fp, fp, sizeof s->fp);
  rc_tls_ctx **ctx = &w->tls[s->dtls_client ? 1 : 0];
  if (*ctx == NULL) {
    rc_tls_config tc;
    rc_tls_config_init(&tc, s->dtls_client ? RC_TLS_CLIENT : RC_TLS_SERVER);
    tc.datagram = 1;
    tc.certs[0].cert_file = id->cert_file;
    tc.certs[0].key_file = id->key_file;
    tc.ncerts = 1;
    /* RFC 8122 §5 / RFC 8827 §6.5: the peer is who the SDP fingerprint
     * says, no CA; a server then requires the client's certificate. The
     * context's fingerprint only turns that check on: each filter is
     * given its own peer's (rc__wr_conn_stack). */
    tc.peer_fingerprint = fp;
    tc.session_cache_size = 0;
    tc.keylog_file = id->keylog_file;
    char e[128];
    rc_err err = rc_tls_ctx_new(ctx, &tc, e, sizeof e);
    if (err != RC_OK)
      return err;
  }
  s->tls = *ctx;
  return RC_OK;
}

/* ------------------------------------------------------------------ */
/* the endpoint                                                        */

rc__wr_ep *rc__wr_ep_new(rc__udp_ep *ep, uv_loop_t *loop, const rc_mem *mem,
                         const rc_wr_identity *id, int server) {
  rc__wr_ep *w = mem->malloc(sizeof *w, mem->user);
  if (w == NULL)
    return NULL;
  memset(w, 0, sizeof *w);
  w->ep = ep;
  w->loop = loop;
  w->mem = mem;
  w->id = *id;
  w->server = server;
  w->listening = server;
  return w;
}

void rc__wr_ep_unlisten(rc__wr_ep *w) {
  w->listening = 0;
  for (wr_sess *s = w->list, *nx; s != NULL; s = nx) {
    nx = s->next;
    if (s->c == NULL)
      sess_free(s);
  }
}

void rc__wr_ep_closed(rc__wr_ep *w) {
  w->sock_closed = 1;
  w->ep = NULL;
  for (wr_sess *s = w->list, *nx; s != NULL; s = nx) {
    nx = s->next;
    sess_free(s);
  }
  ep_maybe_free(w);
}

static wr_sess *find_by_ufrag(rc__wr_ep *w, const uint8_t *d, size_t n) {
  rc_stun_msg m;
  if (rc_stun_parse(&m, d, n) != RC_OK || m.username == NULL)
    return NULL;
  const uint8_t *colon = memchr(m.username, ':', m.username_len);
  size_t ul = colon ? (size_t)(colon - m.username) : m.username_len;
  for (wr_sess *s = w->list; s != NULL; s = s->next)
    if (strlen(s->ufrag) == ul && memcmp(s->ufrag, m.username, ul) == 0)
      return s;
  return NULL;
}

/* RFC 8489 §3: a Binding request without credentials is how a client
 * learns its server-reflexive address; a listener answers it (rate
 * limited, WR_BINDING_PER_S). Returns whether d was one. */
static bool plain_binding(rc__wr_ep *w, const uint8_t *d, size_t n,
                          const struct sockaddr *from) {
  uint8_t out[RC_STUN_HEADER + 24 + 8];
  size_t len = rc_stun_binding_answer(d, n, from, out, sizeof out);
  if (len == 0)
    return false;
  uint64_t sec = now_ms(w) / 1000;
  if (sec != w->bind_sec) {
    w->bind_sec = sec;
    w->bind_n = 0;
  }
  if (w->bind_n < WR_BINDING_PER_S) {
    w->bind_n++;
    (void)rc__udp_send_raw(w->ep, from, out, len);
  }
  return true;
}

/* The answer to our own plain Binding request (rc__wr_stun_send):
 * RFC 8489 §5: XOR-MAPPED-ADDRESS is our address as the server saw it,
 * the server-reflexive candidate (RFC 8445 §5.1.1.1). Returns whether d
 * was that answer. */
static bool stun_answer(rc__wr_ep *w, const uint8_t *d, size_t n) {
  rc_stun_msg m;
  if (!w->has_stun || rc_stun_parse(&m, d, n) != RC_OK ||
      m.method != RC_STUN_BINDING || m.cls != RC_STUN_SUCCESS ||
      memcmp(m.tid, w->stun_tid, RC_STUN_TID_LEN) != 0)
    return false;
  if (m.has_xor_mapped) {
    w->srflx = m.xor_mapped;
    w->has_srflx = 1;
  }
  return true;
}

void rc__wr_stun_send(rc__wr_ep *w, const struct sockaddr *server) {
  if (server != NULL) {
    memset(&w->stun_srv, 0, sizeof w->stun_srv);
    memcpy(&w->stun_srv, server,
           server->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                         : sizeof(struct sockaddr_in));
    w->has_stun = 1;
  }
  if (!w->has_stun || w->ep == NULL)
    return;
  uint8_t out[RC_STUN_HEADER + 8];
  rc_stun_enc e;
  rc_stun_new_tid(w->stun_tid);
  rc_stun_enc_begin(&e, out, sizeof out, RC_STUN_BINDING, RC_STUN_REQUEST,
                    w->stun_tid);
  rc_ssize len = rc_stun_enc_end(&e, true);
  if (len > 0)
    (void)rc__udp_send_raw(w->ep, (const struct sockaddr *)&w->stun_srv, out,
                           (size_t)len);
}

void rc__wr_input(rc__wr_ep *w, const uint8_t *d, size_t n,
                  const struct sockaddr *from) {
  if (n == 0)
    return;
  if (rc_stun_is(d, n)) {
    if (stun_answer(w, d, n) || (w->server && plain_binding(w, d, n, from)))
      return;
    wr_sess *s = w->server ? find_by_ufrag(w, d, n) : w->list;
    if (s == NULL || s->dying)
      return; /* not for anyone here: no answer, nothing kept */
    /* The loop's cached time is the start of this turn; a turn that
     * ran long (a busy or slowed process) would stamp a fresh consent
     * answer as old, and the next timer would find consent expired
     * although the peer just answered. STUN is rare: read the clock. */
    uv_update_time(w->loop);
    (void)rc_ice_recv(s->ice, now_ms(w), from, d, n);
    sess_after(s);
    return;
  }
  /* RFC 7983 §7: 20..63 is DTLS. */
  if (d[0] < 20 || d[0] > 63)
    return;
  rc_conn *c = rc__udp_peer_find(w->ep, from);
  if (c != NULL)
    rc__conn_udp_input(c, d, n);
}

void rc__wr_conn_stack(rc_conn *c, rc_stack_config *st) {
  wr_sess *s = c->wr;
  st->webrtc = 1;
  st->datagram = 1;
  st->tls = 1;
  st->tls_ctx = s != NULL ? s->tls : NULL;
  st->peer_fp = s != NULL ? s->fp : NULL;
  /* The CoAP client opens the channel (the offerer, DTLS server here). */
  st->webrtc_open = !c->is_server;
  st->sctp_port = s != NULL ? s->sctp_port : 0;
  /* RFC 8261 §5 leaves the SCTP packet size to the path: a pair on the
   * loopback interface (MTU 64 KiB; no browser takes one, WEBRTC-NOTES
   * §2) carries one full DTLS record per datagram, 14 times fewer packets
   * for a bulk transfer; any other path keeps the 1152 bytes browsers
   * expect. */
  struct sockaddr_storage peer;
  memset(&peer, 0, sizeof peer);
  memcpy(&peer, &c->peer, sizeof c->peer);
  st->webrtc_packet = is_loopback(&peer) ? RC_WR_LOOPBACK_PACKET : 0;
  st->webrtc_rcvbuf = s != NULL && s->w->ep != NULL ? rc__udp_rcvbuf(s->w->ep)
                                                    : 0;
}

void rc__wr_conn_gone(rc_conn *c) {
  wr_sess *s = c->wr;
  c->wr = NULL;
  if (s != NULL) {
    s->c = NULL;
    sess_free(s);
  }
}

const char *rc_wr_conn_steps(const rc_conn *c) {
  const wr_sess *s = c->wr;
  return s != NULL ? s->steps : "";
}

/* ------------------------------------------------------------------ */
/* descriptions                                                        */

static int is_loopback(const struct sockaddr_storage *ss) {
  if (ss->ss_family == AF_INET)
    return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) ==
           127;
  return ss->ss_family == AF_INET6 &&
         IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/* Our host candidates: the socket's own address, or when it is a
 * wildcard every local address of its family (loopback only if asked). */
static void fill_candidates(rc__udp_ep *ep, int loopback, rc_wr_desc *d) {
  struct sockaddr_storage me;
  d->ncand = 0;
  if (rc__udp_sockname(ep, &me) != RC_OK)
    return;
  uint16_t port = me.ss_family == AF_INET
                      ? ((struct sockaddr_in *)&me)->sin_port
                      : ((struct sockaddr_in6 *)&me)->sin6_port;
  int wildcard =
      me.ss_family == AF_INET
          ? ((struct sockaddr_in *)&me)->sin_addr.s_addr == htonl(INADDR_ANY)
          : IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&me)->sin6_addr);
  if (!wildcard) {
    d->cand[0] = me;
    d->ncand = 1;
  } else {
    uv_interface_address_t *ifs = NULL;
    int nif = 0;
    if (uv_interface_addresses(&ifs, &nif) == 0) {
      for (int i = 0; i < nif && d->ncand < RC_WR_CAND_MAX; i++) {
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof ss);
        memcpy(&ss, &ifs[i].address, sizeof ifs[i].address);
        if (ss.ss_family != me.ss_family || (is_loopback(&ss) && !loopback))
          continue;
        if (ss.ss_family == AF_INET6 &&
            IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)&ss)->sin6_addr))
          continue;
        if (ss.ss_family == AF_INET)
          ((struct sockaddr_in *)&ss)->sin_port = port;
        else
          ((struct sockaddr_in6 *)&ss)->sin6_port = port;
        d->cand[d->ncand++] = ss;
      }
      uv_free_interface_addresses(ifs, nif);
    }
  }
  /* RFC 8445 §5.1.2.1: host type preference 126, local preference
   * falling with the order, component 1. */
  for (size_t i = 0; i < d->ncand; i++)
    d->prio[i] = (126u << 24) | ((uint32_t)(65535 - i) << 8) | 255u;
}

/* The server-reflexive candidate after the host ones (type preference
 * 100, RFC 8445 §5.1.2.2), unless it is one of them (no NAT after all). */
static void add_srflx(const rc__wr_ep *w, rc_wr_desc *d) {
  if (!w->has_srflx || d->ncand >= RC_WR_CAND_MAX)
    return;
  for (size_t i = 0; i < d->ncand; i++)
    if (rc_ice_same_addr(&d->cand[i], &w->srflx))
      return;
  d->cand[d->ncand] = w->srflx;
  d->prio[d->ncand] = (100u << 24) | (65535u << 8) | 255u;
  d->srflx[d->ncand++] = 1;
}

static int any_loopback(const rc_wr_desc *d) {
  for (size_t i = 0; i < d->ncand; i++)
    if (is_loopback(&d->cand[i]))
      return 1;
  return 0;
}

rc_err rc__wr_answer(rc__wr_ep *w, const rc_wr_desc *offer,
                     rc_wr_desc *answer) {
  if (!w->listening || offer->ufrag[0] == '\0' || offer->pwd[0] == '\0' ||
      offer->setup == RC_WR_SETUP_ACTIVE)
    return RC_ERR_INVAL; /* we are the DTLS client: the peer must serve */
  if (w->nsess >= WR_PENDING_MAX)
    return RC_ERR_LIMIT;
  rc_err err;
  wr_sess *s = sess_new(w, 0, offer, &err);
  if (s == NULL)
    return err;
  /* The answerer is the DTLS client (a=setup:active), as every real peer
   * answers (WEBRTC-NOTES §4). */
  s->dtls_client = 1;
  s->sctp_port = offer->sctp_port;
  if ((err = sess_tls(s, &w->id, offer->fingerprint)) != RC_OK) {
    sess_free(s);
    return err;
  }
  memset(answer, 0, sizeof *answer);
  snprintf(answer->ufrag, sizeof answer->ufrag, "%s", s->ufrag);
  snprintf(answer->pwd, sizeof answer->pwd, "%s", s->pwd);
  memcpy(answer->fingerprint, w->id.fingerprint, sizeof answer->fingerprint);
  answer->setup = RC_WR_SETUP_ACTIVE;
  answer->ice_lite = !w->has_stun;
  answer->sctp_port = RC_SCTP_DEFAULT_PORT;
  answer->max_message = RC_SCTP_DEFAULT_MAX_MESSAGE;
  fill_candidates(w->ep, any_loopback(offer), answer);
  add_srflx(w, answer);
  /* Behind a NAT the mapping is refreshed with every offer (conntrack
   * forgets an idle UDP mapping after 30 s to 3 min). */
  rc__wr_stun_send(w, NULL);
  sess_flush(s); /* arms the pending deadline; a full agent's checks */
  return RC_OK;
}

/* ------------------------------------------------------------------ */
/* the offerer                                                         */

struct rc_wr_offer {
  rc__wr_ep *w;
  wr_sess *s;
  rc__udp_ep *ep;
};

rc_err rc_wr_offer_new(rc_wr_offer **out, uv_loop_t *loop,
                       const rc_wr_identity *id, const char *bind_ip,
                       int loopback, rc_wr_desc *offer) {
  const rc_mem *mem = rc_mem_default();
  struct sockaddr_storage sa;
  memset(&sa, 0, sizeof sa);
  if (uv_ip4_addr(bind_ip != NULL ? bind_ip : "0.0.0.0", 0,
                  (struct sockaddr_in *)&sa) != 0 &&
      uv_ip6_addr(bind_ip, 0, (struct sockaddr_in6 *)&sa) != 0)
    return RC_ERR_BAD_HOST;
  rc_wr_offer *o = mem->malloc(sizeof *o, mem->user);
  if (o == NULL)
    return RC_ERR_NOMEM;
  memset(o, 0, sizeof *o);
  rc_err err = rc__udp_open_bound(loop, mem, (struct sockaddr *)&sa, &o->ep);
  if (err != RC_OK) {
    mem->free(o, mem->user);
    return err;
  }
  o->w = rc__wr_ep_new(o->ep, loop, mem, id, 0);
  if (o->w == NULL) {
    rc__udp_release(o->ep);
    mem->free(o, mem->user);
    return RC_ERR_NOMEM;
  }
  rc__udp_set_wr(o->ep, o->w);
  o->s = sess_new(o->w, 1, NULL, &err);
  if (o->s == NULL) {
    rc_wr_offer_free(o);
    return err;
  }
  o->s->holds_ref = 1;
  memset(offer, 0, sizeof *offer);
  snprintf(offer->ufrag, sizeof offer->ufrag, "%s", o->s->ufrag);
  snprintf(offer->pwd, sizeof offer->pwd, "%s", o->s->pwd);
  memcpy(offer->fingerprint, id->fingerprint, sizeof offer->fingerprint);
  offer->setup = RC_WR_SETUP_ACTPASS;
  offer->sctp_port = RC_SCTP_DEFAULT_PORT;
  offer->max_message = RC_SCTP_DEFAULT_MAX_MESSAGE;
  fill_candidates(o->ep, loopback, offer);
  *out = o;
  return RC_OK;
}

rc_err rc_wr_offer_stun(rc_wr_offer *o, const struct sockaddr *server) {
  if (o == NULL || server == NULL)
    return RC_ERR_INVAL;
  rc__wr_stun_send(o->w, server);
  return RC_OK;
}

int rc_wr_offer_srflx(const rc_wr_offer *o, rc_wr_desc *offer) {
  size_t n = offer->ncand;
  add_srflx(o->w, offer);
  return offer->ncand > n;
}

void rc_wr_offer_free(rc_wr_offer *o) {
  if (o == NULL)
    return;
  const rc_mem *mem = rc_mem_default();
  if (o->s != NULL)
    sess_free(o->s); /* drops the socket's reference */
  else
    rc__udp_release(o->ep);
  mem->free(o, mem->user);
}

rc_err rc_wr_connect(rc_conn **out, rc_wr_offer *o, const rc_wr_desc *answer,
                     const rc_conn_connect_opts *opts) {
  if (out == NULL || o == NULL || answer == NULL || opts == NULL ||
      opts->cb.on_message == NULL || answer->ncand == 0 ||
      answer->setup == RC_WR_SETUP_ACTPASS) {
    rc_wr_offer_free(o);
    return RC_ERR_INVAL;
  }
  wr_sess *s = o->s;
  /* RFC 8842 §5.3 / RFC 5763 §5: the answer's a=setup:active makes us
   * the DTLS server; passive, the client. */
  s->dtls_client = answer->setup == RC_WR_SETUP_PASSIVE;
  s->sctp_port = answer->sctp_port;
  rc_err err = rc_ice_set_remote(s->ice, answer->ufrag, answer->pwd);
  for (size_t i = 0; err == RC_OK && i < answer->ncand; i++)
    (void)rc_ice_add_remote_candidate(
        s->ice, (const struct sockaddr *)&answer->cand[i], answer->prio[i]);
  if (err == RC_OK)
    err = sess_tls(s, &o->w->id, answer->fingerprint);
  rc_conn *c = err == RC_OK ? rc__conn_alloc(opts->loop, RC_CONN_WEBRTC,
                                             opts->mem)
                            : NULL;
  if (c != NULL && rc__conn_copy_callbacks(c, &opts->cb) != RC_OK) {
    rc__conn_discard(c);
    c = NULL;
    err = RC_ERR_NOMEM;
  }
  if (c == NULL) {
    rc_wr_offer_free(o);
    return err != RC_OK ? err : RC_ERR_NOMEM;
  }
  c->user = opts->user;
  c->idle_ms = opts->idle_timeout_ms;
  if (opts->handshake_timeout_ms > 0)
    c->handshake_ms = opts->handshake_timeout_ms;
  c->accepted = 1;
  c->wr = s;
  s->c = c;
  if (opts->session != NULL) {
    s->scfg = *opts->session;
    s->has_scfg = 1;
  }
  /* The socket is the conn's now (rc__udp_attach takes a reference when
   * ICE has chosen; until then the offer's keeps it). */
  o->s = NULL;
  c->state = RC__CONN_CONNECTING;
  c->deadline = uv_now(opts->loop) + (opts->connect_timeout_ms > 0
                                          ? opts->connect_timeout_ms
                                          : RC_CONN_DEFAULT_CONNECT_TIMEOUT);
  rc__conn_arm(c);
  const rc_mem *mem = rc_mem_default();
  mem->free(o, mem->user); /* the socket's reference stays with s */
  sess_flush(s); /* the first checks */
  *out = c;
  return RC_OK;
}

/* ------------------------------------------------------------------ */
/* identity                                                            */

rc_err rc_wr_identity_make(rc_wr_identity *id, const char *dir) {
  memset(id, 0, sizeof *id);
  const char *base = dir != NULL ? dir : getenv("TMPDIR");
  char tmpl[200];
  snprintf(tmpl, sizeof tmpl, "%s/rcoap-wr-XXXXXX",
           base != NULL && base[0] ? base : "/tmp");
  if (mkdtemp(tmpl) == NULL)
    return RC_ERR_IO;
  snprintf(id->cert_file, sizeof id->cert_file, "%s/cert.pem", tmpl);
  snprintf(id->key_file, sizeof id->key_file, "%s/key.pem", tmpl);
  rc_err err = rc_tls_make_self_signed(id->cert_file, id->key_file, "rcoap");
  if (err == RC_OK)
    err = rc_tls_fingerprint_file(id->cert_file, id->fingerprint);
  if (err != RC_OK)
    rc_wr_identity_remove(id);
  return err;
}

void rc_wr_identity_remove(const rc_wr_identity *id) {
  if (id->cert_file[0] == '\0')
    return;
  (void)unlink(id->cert_file);
  (void)unlink(id->key_file);
  char d[256];
  snprintf(d, sizeof d, "%s", id->cert_file);
  char *slash = strrchr(d, '/');
  if (slash != NULL) {
    *slash = '\0';
    (void)rmdir(d);
  }
}
