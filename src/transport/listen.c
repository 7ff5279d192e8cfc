/*
 * Listening sockets: parses the address string, binds (IPv6 sockets with
 * IPV6_V6ONLY so a v4 and a v6 listener share a port), listens with a real
 * backlog, and turns every accepted socket into an rc_conn with the
 * listener's chain (tls, ws) and a server-role session from the
 * listener's template, handed to on_accept before anything is read.
 */
#include <stdio.h>
#include <string.h>

#include "rcoap/transport_listen.h"
#include "transport/conn_int.h"
#include "transport/webrtc/wr_int.h"

struct rc_listener {
  uv_tcp_t tcp;
  rc__udp_ep *udp; /* RC_CONN_UDP, RC_CONN_DTLS, RC_CONN_WEBRTC: the socket
                      instead of tcp */
  rc__wr_ep *wr;   /* RC_CONN_WEBRTC: ICE and the expected peers */
  uv_loop_t *loop;
  const rc_mem *mem;
  rc_conn_kind kind;
  rc_tls_ctx *tls; /* borrowed: must outlive the listener */
  rc_ws_config ws;
  int has_ws;
  rc_session_config scfg;
  int has_scfg;
  uint32_t handshake_ms;
  uint32_t idle_ms;
  uint32_t park_ms;
  const rc_session_config *scfg_kept; /* the caller's, for parking */
  rc_listener_accept_cb on_accept;
  void *user;
  uint64_t accepted;
};

void rc_listener_opts_init(rc_listener_opts *o, uv_loop_t *loop,
                           rc_conn_kind kind, const char *addr,
                           rc_listener_accept_cb on_accept, void *user) {
  memset(o, 0, sizeof(*o));
  o->loop = loop;
  o->kind = kind;
  o->addr = addr;
  o->on_accept = on_accept;
  o->user = user;
}

static uint16_t listen_default_port(rc_conn_kind kind) {
  switch (kind) {
  case RC_CONN_TLS: return RC_CONN_PORT_TLS;
  case RC_CONN_WS: return RC_CONN_PORT_WS;
  case RC_CONN_TLS_WS: return RC_CONN_PORT_TLS_WS;
  case RC_CONN_UDP: return RC_CONN_PORT_UDP;
  case RC_CONN_DTLS: return RC_CONN_PORT_DTLS;
  case RC_CONN_WEBRTC: return 0; /* any: the SDP names it */
  default: return RC_CONN_PORT_TCP;
  }
}

/* Parses "a.b.c.d[:port]", "[v6][:port]" or a bare v6 literal into ss.
 * Returns 0, RC_ERR_BAD_HOST or RC_ERR_BAD_PORT. */
static rc_err listen_parse(const char *s, uint16_t defport,
                           struct sockaddr_storage *ss) {
  char host[RC_LISTEN_ADDR_MAX];
  const char *port = NULL;
  size_t n = strlen(s);
  if (n == 0 || n >= sizeof(host))
    return RC_ERR_BAD_HOST;
  if (s[0] == '[') {
    const char *end = strchr(s, ']');
    if (end == NULL)
      return RC_ERR_BAD_HOST;
    size_t hl = (size_t)(end - s - 1);
    memcpy(host, s + 1, hl);
    host[hl] = '\0';
    if (end[1] == ':')
      port = end + 2;
    else if (end[1] != '\0')
      return RC_ERR_BAD_HOST;
  } else {
    const char *colon = strchr(s, ':');
    if (colon != NULL && strchr(colon + 1, ':') == NULL) {
      memcpy(host, s, (size_t)(colon - s));
      host[colon - s] = '\0';
      port = colon + 1;
    } else {
      memcpy(host, s, n + 1); /* no port, or a bare IPv6 literal */
    }
  }
  unsigned long pv = defport;
  if (port != NULL) {
    if (*port == '\0' || strlen(port) > 5)
      return RC_ERR_BAD_PORT;
    pv = 0;
    for (const char *p = port; *p; p++) {
      if (*p < '0' || *p > '9')
        return RC_ERR_BAD_PORT;
      pv = pv * 10 + (unsigned long)(*p - '0');
    }
    if (pv > 65535)
      return RC_ERR_BAD_PORT;
  }
  memset(ss, 0, sizeof(*ss));
  if (uv_ip4_addr(host, (int)pv, (struct sockaddr_in *)ss) == 0)
    return RC_OK;
  if (uv_ip6_addr(host, (int)pv, (struct sockaddr_in6 *)ss) == 0)
    return RC_OK;
  return RC_ERR_BAD_HOST;
}

static int listen_accept_conn(rc_listener *l, rc_conn *c) {
  rc_ws_config wc;
  if (l->has_ws)
    wc = l->ws;
  else
    memset(&wc, 0, sizeof(wc));
  c->state = RC__CONN_HANDSHAKE;
  rc_stack_config st = {.role = RC_SESSION_SERVER,
                        .tls = c->kind == RC_CONN_TLS ||
                               c->kind == RC_CONN_TLS_WS ||
                               c->kind == RC_CONN_DTLS,
                        .tls_ctx = l->tls,
                        .ws = c->kind == RC_CONN_WS ||
                              c->kind == RC_CONN_TLS_WS,
                        .ws_cfg = &wc,
                        .datagram = c->kind == RC_CONN_UDP ||
                                    c->kind == RC_CONN_DTLS};
  if (c->kind == RC_CONN_WEBRTC)
    rc__wr_conn_stack(c, &st); /* its own DTLS context, role, channel */
  rc_err err = rc__conn_setup(c, l->has_scfg ? &l->scfg : NULL, &st);
  if (err != RC_OK)
    return -1;
  l->accepted++;
  if (l->on_accept(l->user, l, c) != 0)
    return -1;
  c->accepted = 1;
  if (c->cb->on_message == NULL) {
    rc__conn_set_detail(c, "on_accept attached no on_message callback");
    rc__conn_fail(c, RC_ERR_INVAL, NULL);
    return 0;
  }
  rc__conn_start(c);
  return 0;
}

/* A new UDP peer (transport/udp.c): set up like an accepted socket. */
static int listen_udp_accept(void *arg, rc_conn *c) {
  return listen_accept_conn(arg, c);
}

static void listen_tmp_closed(uv_handle_t *h) {
  rc_listener *l = h->data;
  l->mem->free(h, l->mem->user);
}

static void listen_closed(uv_handle_t *h) {
  rc_listener *l = h->data;
  l->mem->free(l, l->mem->user);
}

static void listen_on_connection(uv_stream_t *server, int status) {
  rc_listener *l = server->data;
  if (status < 0)
    return; /* EMFILE and the like: libuv retries on the next readiness */
  rc_conn *c = rc__conn_alloc(l->loop, l->kind, l->mem);
  if (c == NULL) {
    /* Take the socket off the queue and reset it, so that the listener
     * goes on accepting. */
    uv_tcp_t *tmp = l->mem->malloc(sizeof(*tmp), l->mem->user);
    if (tmp == NULL)
      return;
    uv_tcp_init(l->loop, tmp);
    tmp->data = l;
    if (uv_accept(server, (uv_stream_t *)tmp) != 0 ||
        uv_tcp_close_reset(tmp, listen_tmp_closed) != 0)
      uv_close((uv_handle_t *)tmp, listen_tmp_closed);
    return;
  }
  c->is_server = 1;
  c->idle_ms = l->idle_ms;
  c->park_ms = l->park_ms;
  c->scfg = l->scfg_kept;
  if (l->handshake_ms > 0)
    c->handshake_ms = l->handshake_ms;
  uv_tcp_init(l->loop, &c->tcp);
  c->tcp.data = c;
  c->tcp_inited = 1;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    rc__conn_discard(c);
    return;
  }
  if (listen_accept_conn(l, c) != 0)
    rc__conn_discard(c);
}

rc_err rc_listener_new(rc_listener **out, const rc_listener_opts *o,
                       char *errbuf, size_t errcap) {
  if (errcap > 0)
    errbuf[0] = '\0';
  if (o == NULL || out == NULL || o->loop == NULL || o->on_accept == NULL ||
      o->addr == NULL || o->kind > RC_CONN_WEBRTC ||
      (o->kind == RC_CONN_WEBRTC && o->webrtc == NULL)) {
    if (errcap > 0)
      snprintf(errbuf, errcap, "listener: missing loop, address or on_accept");
    return RC_ERR_INVAL;
  }
  if ((o->kind == RC_CONN_TLS || o->kind == RC_CONN_TLS_WS ||
       o->kind == RC_CONN_DTLS) && o->tls == NULL) {
    if (errcap > 0)
      snprintf(errbuf, errcap, "a %s listener needs a TLS context",
               rc_conn_kind_name(o->kind));
    return RC_ERR_INVAL;
  }
  struct sockaddr_storage ss;
  rc_err err = listen_parse(o->addr, listen_default_port(o->kind), &ss);
  if (err != RC_OK) {
    if (errcap > 0)
      snprintf(errbuf, errcap, "cannot listen on '%s': %s (want 1.2.3.4:port, "
               "[v6]:port, 0.0.0.0 or ::)", o->addr, rc_strerror(err));
    return err;
  }
  const rc_mem *m = o->mem != NULL ? o->mem : rc_mem_default();
  rc_listener *l = m->malloc(sizeof(*l), m->user);
  if (l == NULL)
    return RC_ERR_NOMEM;
  memset(l, 0, sizeof(*l));
  l->loop = o->loop;
  l->mem = m;
  l->kind = o->kind;
  l->tls = o->tls;
  if (o->ws != NULL) {
    l->ws = *o->ws;
    l->has_ws = 1;
  }
  if (o->session != NULL) {
    l->scfg = *o->session;
    l->has_scfg = 1;
  }
  l->handshake_ms = o->handshake_timeout_ms;
  l->idle_ms = o->idle_timeout_ms;
  l->park_ms = o->park_after_ms;
  if (o->park_after_ms > 0)
    l->scfg_kept = o->session;
  l->on_accept = o->on_accept;
  l->user = o->user;

  int r = 0, inited = 0;
  if (o->kind == RC_CONN_UDP || o->kind == RC_CONN_DTLS ||
      o->kind == RC_CONN_WEBRTC) {
    rc_err e = rc__udp_listen(o->loop, (const struct sockaddr *)&ss, m,
                              l->idle_ms,
                              o->kind == RC_CONN_DTLS ? o->tls : NULL,
                              listen_udp_accept, l, &l->udp, &r);
    if (e == RC_OK && o->kind == RC_CONN_WEBRTC) {
      l->wr = rc__wr_ep_new(l->udp, o->loop, m, o->webrtc, 1);
      if (l->wr == NULL) {
        rc__udp_unlisten(l->udp);
        m->free(l, m->user);
        return RC_ERR_NOMEM;
      }
      rc__udp_set_wr(l->udp, l->wr);
    }
    if (e == RC_ERR_NOMEM) {
      m->free(l, m->user);
      return e;
    }
    if (e != RC_OK && r == 0)
      r = UV_EIO;
  } else {
    r = uv_tcp_init_ex(o->loop, &l->tcp, ss.ss_family);
    inited = r == 0;
  }
  if (r == 0 && l->udp == NULL) {
    l->tcp.data = l;
    /* libuv sets SO_REUSEADDR on bind. */
    r = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&ss,
                    ss.ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
    if (r == 0)
      r = uv_listen((uv_stream_t *)&l->tcp,
                    o->backlog > 0 ? o->backlog : RC_LISTEN_DEFAULT_BACKLOG,
                    listen_on_connection);
  }
  if (r != 0) {
    char a[INET6_ADDRSTRLEN + 16];
    if (rc__conn_addr_str((const struct sockaddr *)&ss, a, sizeof(a)) != 0)
      snprintf(a, sizeof(a), "%s", o->addr);
    if (errcap > 0)
      snprintf(errbuf, errcap, "cannot listen on %s: %s%s", a,
               r == UV_EADDRINUSE ? "address already in use" : uv_strerror(r),
               r == UV_EADDRINUSE ? " (another server is running there?)"
                                  : "");
    /* The handle is embedded in l: free l from its close callback. */
    if (inited)
      uv_close((uv_handle_t *)&l->tcp, listen_closed);
    else
      m->free(l, m->user);
    if (r == UV_EADDRINUSE)
      return RC_ERR_ADDR_IN_USE;
    if (r == UV_ENOMEM)
      return RC_ERR_NOMEM;
    return RC_ERR_IO;
  }
  *out = l;
  return RC_OK;
}

void rc_listener_free(rc_listener *l) {
  if (l == NULL)
    return;
  if (l->wr != NULL)
    rc__wr_ep_unlisten(l->wr);
  if (l->udp != NULL) {
    rc__udp_unlisten(l->udp);
    l->mem->free(l, l->mem->user);
    return;
  }
  uv_close((uv_handle_t *)&l->tcp, listen_closed);
}

static int listen_sockname(const rc_listener *l,
                           struct sockaddr_storage *ss) {
  if (l->udp != NULL)
    return rc__udp_sockname(l->udp, ss) == RC_OK ? 0 : -1;
  int sl = sizeof(*ss);
  return uv_tcp_getsockname(&l->tcp, (struct sockaddr *)ss, &sl);
}

uint16_t rc_listener_port(const rc_listener *l) {
  struct sockaddr_storage ss;
  if (listen_sockname(l, &ss) != 0)
    return 0;
  if (ss.ss_family == AF_INET)
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
  return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

rc_err rc_listener_addr(const rc_listener *l, char *buf, size_t len) {
  struct sockaddr_storage ss;
  if (listen_sockname(l, &ss) != 0)
    return RC_ERR_STATE;
  return rc__conn_addr_str((const struct sockaddr *)&ss, buf, len);
}

uint64_t rc_listener_accepted(const rc_listener *l) { return l->accepted; }

rc_err rc_wr_listener_answer(rc_listener *l, const rc_wr_desc *offer,
                             rc_wr_desc *answer) {
  if (l == NULL || l->wr == NULL || offer == NULL || answer == NULL)
    return RC_ERR_INVAL;
  return rc__wr_answer(l->wr, offer, answer);
}

rc_err rc_wr_listener_stun(rc_listener *l, const struct sockaddr *server) {
  if (l == NULL || l->wr == NULL)
    return RC_ERR_INVAL;
  rc__wr_stun_send(l->wr, server);
  return RC_OK;
}

int rc_listener_family(const rc_listener *l) {
  struct sockaddr_storage ss;
  return listen_sockname(l, &ss) == 0 ? ss.ss_family : 0;
}

rc_err rc_listener_send_datagram(rc_listener *l, const struct sockaddr *to,
                                 const void *d, size_t n) {
  if (l == NULL || l->udp == NULL || l->kind != RC_CONN_UDP || to == NULL)
    return RC_ERR_INVAL;
  return rc__udp_send_raw(l->udp, to, (const uint8_t *)d, n);
}
