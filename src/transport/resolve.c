/*
 * The client side of a connection up to a connected socket: the host is
 * resolved (an IP literal directly, a name through uv_getaddrinfo with
 * AF_UNSPEC so both IPv4 and IPv6 answers are tried), each address is
 * tried in the resolver's order with its own connect timeout, and the
 * error of the last attempt is what the user sees. Once a socket is
 * connected the connection gets its chain and session (conn.c) and this
 * file's state is freed.
 */
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "rcoap/transport_conn.h"
#include "rcoap/transport_ws.h"
#include "transport/conn_int.h"

/* Longest host name (RFC 1035 §2.3.4: 255 octets). */
#define RESOLVE_HOST_MAX 255

struct rc__connecting {
  uv_getaddrinfo_t gai;
  uv_connect_t creq;
  struct addrinfo *ai_list; /* from uv_getaddrinfo, or NULL */
  struct addrinfo *next;    /* next address to try */
  struct sockaddr_storage lit; /* the address of an IP literal */
  int lit_left;                /* literal not tried yet */
  int attempt_abandoned;       /* the running attempt timed out */
  int creq_pending;            /* creq handed to uv_tcp_connect, no cb yet */
  uint32_t connect_ms;
  uint16_t port;
  rc_err last_err;
  rc_session_config scfg;
  int has_scfg;
  rc_tls_ctx *tls; /* borrowed: the filter takes its own reference */
  char *host;
  char *server_name;
  char *ws_path, *ws_host, *ws_origin;
  size_t ws_max;
};

static char *res_strdup(const rc_mem *m, const char *s) {
  if (s == NULL)
    return NULL;
  size_t n = strlen(s) + 1;
  char *d = m->malloc(n, m->user);
  if (d != NULL)
    memcpy(d, s, n);
  return d;
}

static void res_free_cn(rc_conn *c) {
  rc__connecting *cn = c->cn;
  if (cn == NULL)
    return;
  const rc_mem *m = c->mem;
  if (cn->ai_list != NULL)
    uv_freeaddrinfo(cn->ai_list);
  m->free(cn->host, m->user);
  m->free(cn->server_name, m->user);
  m->free(cn->ws_path, m->user);
  m->free(cn->ws_host, m->user);
  m->free(cn->ws_origin, m->user);
  m->free(cn, m->user);
  c->cn = NULL;
}

void rc_conn_connect_opts_init(rc_conn_connect_opts *opts, uv_loop_t *loop,
                               rc_conn_kind kind, const char *host,
                               uint16_t port) {
  memset(opts, 0, sizeof(*opts));
  opts->loop = loop;
  opts->kind = kind;
  opts->host = host;
  opts->port = port;
}

static uint16_t default_port(rc_conn_kind kind) {
  switch (kind) {
  case RC_CONN_TLS: return RC_CONN_PORT_TLS;
  case RC_CONN_DTLS: return RC_CONN_PORT_DTLS;
  case RC_CONN_WS: return RC_CONN_PORT_WS;
  case RC_CONN_TLS_WS: return RC_CONN_PORT_TLS_WS;
  default: return RC_CONN_PORT_TCP;
  }
}

static void res_try_next(rc_conn *c);
static void res_connected(rc_conn *c);

static void res_fail(rc_conn *c) {
  rc__connecting *cn = c->cn;
  rc_err err = cn->last_err != RC_OK ? cn->last_err : RC_ERR_CONNECT;
  res_free_cn(c);
  rc__conn_fail(c, err, NULL);
}

/* The tcp handle of a failed attempt is closed: try the next address. */
static void res_attempt_closed(uv_handle_t *h) {
  rc_conn *c = h->data;
  c->handles--;
  if (c->state == RC__CONN_CLOSING) {
    rc__conn_maybe_free(c);
    return;
  }
  res_try_next(c);
}

static void res_close_attempt(rc_conn *c) {
  c->tcp_inited = 0;
  c->handles++;
  c->tcp.data = c;
  uv_close((uv_handle_t *)&c->tcp, res_attempt_closed);
}

/* Records why an attempt failed; the first detail set stays, so the
 * message names the first address tried unless a later one is closer. */
static void res_note(rc_conn *c, rc_err err, const struct sockaddr *sa,
                     const char *why) {
  char a[INET6_ADDRSTRLEN + 16];
  if (rc__conn_addr_str(sa, a, sizeof(a)) != RC_OK)
    snprintf(a, sizeof(a), "?");
  /* Refused beats timeout beats other failures in what is reported. */
  rc__connecting *cn = c->cn;
  if (cn->last_err == RC_OK || err == RC_ERR_CONN_REFUSED ||
      (err == RC_ERR_TIMEOUT && cn->last_err != RC_ERR_CONN_REFUSED)) {
    cn->last_err = err;
    char *old = c->detail;
    c->detail = NULL;
    c->mem->free(old, c->mem->user);
    rc__conn_set_detail(c, "connect to %s (%s) failed: %s", cn->host, a, why);
  }
}

static void res_on_connect(uv_connect_t *req, int status) {
  rc_conn *c = req->data;
  rc__connecting *cn = c->cn;
  if (cn != NULL)
    cn->creq_pending = 0;
  if (c->state == RC__CONN_CLOSING) {
    /* closed while connecting: libuv calls us (UV_ECANCELED) as it closes
     * the handle; creq lives in cn, so cn was kept until now */
    res_free_cn(c);
    return;
  }
  if (cn == NULL)
    return;
  if (cn->attempt_abandoned) {
    cn->attempt_abandoned = 0;
    return; /* res_close_attempt already ran; its callback goes on */
  }
  if (!c->tcp_inited)
    return;
  if (status < 0) {
    res_note(c,
             status == UV_ECONNREFUSED ? RC_ERR_CONN_REFUSED
             : status == UV_ETIMEDOUT  ? RC_ERR_TIMEOUT
                                       : RC_ERR_CONNECT,
             (const struct sockaddr *)&cn->lit, uv_strerror(status));
    c->deadline = RC_TIME_NEVER;
    res_close_attempt(c);
    return;
  }
  res_connected(c);
}

/* The socket is up (TCP connected, or the UDP socket made): chain,
 * session, start. */
static void res_connected(rc_conn *c) {
  rc__connecting *cn = c->cn;
  c->deadline = RC_TIME_NEVER;
  char *old = c->detail;
  c->detail = NULL;
  c->mem->free(old, c->mem->user);
  rc_ws_config wc;
  memset(&wc, 0, sizeof(wc));
  wc.mem = c->mem;
  wc.path = cn->ws_path;
  wc.host = cn->ws_host != NULL ? cn->ws_host : cn->host;
  wc.port = cn->port;
  wc.tls = c->kind == RC_CONN_TLS_WS;
  wc.origin = cn->ws_origin;
  wc.max_message = cn->ws_max;
  c->state = RC__CONN_HANDSHAKE;
  rc_stack_config st = {
      .role = RC_SESSION_CLIENT,
      .tls = c->kind == RC_CONN_TLS || c->kind == RC_CONN_TLS_WS ||
             c->kind == RC_CONN_DTLS,
      .tls_ctx = cn->tls,
      .host = cn->server_name != NULL ? cn->server_name : cn->host,
      .port = cn->port,
      .ws = c->kind == RC_CONN_WS || c->kind == RC_CONN_TLS_WS,
      .ws_cfg = &wc,
      .datagram = c->kind == RC_CONN_UDP || c->kind == RC_CONN_DTLS};
  rc_err err = rc__conn_setup(c, cn->has_scfg ? &cn->scfg : NULL, &st);
  res_free_cn(c);
  if (err != RC_OK) {
    rc__conn_set_detail(c, "cannot set up the connection: %s",
                        rc_strerror(err));
    rc__conn_fail(c, err, NULL);
    return;
  }
  rc__conn_start(c);
}

/* Starts one connect attempt to the address in cn->lit. */
static void res_attempt(rc_conn *c) {
  rc__connecting *cn = c->cn;
  if (c->kind == RC_CONN_UDP || c->kind == RC_CONN_DTLS) {
    /* Nothing to connect: the first address that gets a socket is it. */
    rc_err err = rc__udp_client_open(c, (const struct sockaddr *)&cn->lit);
    if (err != RC_OK) {
      res_note(c, err, (const struct sockaddr *)&cn->lit,
               "cannot open a UDP socket");
      res_try_next(c);
      return;
    }
    /* Set up from the timer on the next loop turn: on_open never runs
     * inside rc_conn_connect. */
    c->state = RC__CONN_CONNECTING;
    c->deadline = uv_now(c->loop);
    rc__conn_arm(c);
    return;
  }
  uv_tcp_init(c->loop, &c->tcp);
  c->tcp.data = c;
  c->tcp_inited = 1;
  c->state = RC__CONN_CONNECTING;
  cn->creq.data = c;
  cn->attempt_abandoned = 0;
  int r = uv_tcp_connect(&cn->creq, &c->tcp, (const struct sockaddr *)&cn->lit,
                         res_on_connect);
  cn->creq_pending = r == 0;
  if (r < 0) {
    res_note(c, r == UV_ECONNREFUSED ? RC_ERR_CONN_REFUSED : RC_ERR_CONNECT,
             (const struct sockaddr *)&cn->lit, uv_strerror(r));
    res_close_attempt(c);
    return;
  }
  c->deadline = uv_now(c->loop) + cn->connect_ms;
  rc__conn_arm(c);
}

static void res_try_next(rc_conn *c) {
  rc__connecting *cn = c->cn;
  if (cn->lit_left) {
    cn->lit_left = 0;
    res_attempt(c);
    return;
  }
  while (cn->next != NULL) {
    struct addrinfo *ai = cn->next;
    cn->next = ai->ai_next;
    if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
        ai->ai_addrlen > sizeof(cn->lit))
      continue;
    memset(&cn->lit, 0, sizeof(cn->lit));
    memcpy(&cn->lit, ai->ai_addr, ai->ai_addrlen);
    if (ai->ai_family == AF_INET)
      ((struct sockaddr_in *)&cn->lit)->sin_port = htons(cn->port);
    else
      ((struct sockaddr_in6 *)&cn->lit)->sin6_port = htons(cn->port);
    res_attempt(c);
    return;
  }
  res_fail(c);
}

static void res_on_resolved(uv_getaddrinfo_t *req, int status,
                            struct addrinfo *res) {
  rc_conn *c = req->data;
  c->gai_pending = 0;
  if (c->state == RC__CONN_CLOSING) {
    if (res != NULL)
      uv_freeaddrinfo(res);
    res_free_cn(c);
    rc__conn_maybe_free(c);
    return;
  }
  rc__connecting *cn = c->cn;
  if (status < 0 || res == NULL) {
    cn->last_err = RC_ERR_RESOLVE;
    rc__conn_set_detail(c, "cannot resolve '%s': %s", cn->host,
                        uv_strerror(status));
    if (res != NULL)
      uv_freeaddrinfo(res);
    res_fail(c);
    return;
  }
  cn->ai_list = res;
  cn->next = res;
  res_try_next(c);
}

void rc__conn_connect_timeout(rc_conn *c) {
  rc__connecting *cn = c->cn;
  if (c->kind == RC_CONN_WEBRTC && c->state == RC__CONN_CONNECTING) {
    rc__conn_set_detail(c, "ICE: no candidate pair answered in time");
    rc__conn_fail(c, RC_ERR_TIMEOUT, NULL);
    return;
  }
  if (cn != NULL && c->state == RC__CONN_CONNECTING && c->udp != NULL) {
    res_connected(c); /* the UDP socket is up (res_attempt) */
    return;
  }
  if (cn == NULL || c->state != RC__CONN_CONNECTING || !c->tcp_inited)
    return;
  char why[64];
  snprintf(why, sizeof(why), "no answer within %u ms",
           (unsigned)cn->connect_ms);
  res_note(c, RC_ERR_TIMEOUT, (const struct sockaddr *)&cn->lit, why);
  cn->attempt_abandoned = 1;
  res_close_attempt(c);
}

void rc__conn_connect_abandon(rc_conn *c) {
  if (c->gai_pending) {
    /* The callback still runs (UV_EAI_CANCELED, or its real result) and
     * frees cn then. */
    uv_cancel((uv_req_t *)&c->cn->gai);
    return;
  }
  /* A connect request still running lives in cn: its callback (run when
   * the handle closes) frees cn. Freed here, that callback read freed
   * memory (rcoap observe --duration ending mid-connect, under valgrind). */
  if (c->cn != NULL && c->cn->creq_pending)
    return;
  res_free_cn(c);
}

rc_err rc_conn_connect(rc_conn **out, const rc_conn_connect_opts *o) {
  if (o == NULL || out == NULL || o->loop == NULL || o->host == NULL ||
      o->cb.on_message == NULL || o->kind > RC_CONN_DTLS)
    return RC_ERR_INVAL;
  if ((o->kind == RC_CONN_TLS || o->kind == RC_CONN_TLS_WS ||
       o->kind == RC_CONN_DTLS) && o->tls == NULL)
    return RC_ERR_INVAL;
  size_t hl = strlen(o->host);
  if (hl == 0 || hl > RESOLVE_HOST_MAX)
    return RC_ERR_BAD_HOST;

  rc_conn *c = rc__conn_alloc(o->loop, o->kind, o->mem);
  if (c == NULL)
    return RC_ERR_NOMEM;
  const rc_mem *m = c->mem;
  rc__connecting *cn = m->malloc(sizeof(*cn), m->user);
  if (cn == NULL || rc__conn_copy_callbacks(c, &o->cb) != RC_OK) {
    m->free(cn, m->user);
    rc__conn_discard(c);
    return RC_ERR_NOMEM;
  }
  memset(cn, 0, sizeof(*cn));
  c->cn = cn;
  c->user = o->user;
  c->idle_ms = o->idle_timeout_ms;
  if (o->handshake_timeout_ms > 0)
    c->handshake_ms = o->handshake_timeout_ms;
  cn->connect_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms
                                             : RC_CONN_DEFAULT_CONNECT_TIMEOUT;
  cn->port = o->port != 0 ? o->port : default_port(o->kind);
  if (o->session != NULL) {
    cn->scfg = *o->session;
    cn->has_scfg = 1;
  }
  cn->host = res_strdup(m, o->host);
  cn->server_name = res_strdup(m, o->server_name);
  cn->ws_path = res_strdup(m, o->ws.path);
  cn->ws_host = res_strdup(m, o->ws.host);
  cn->ws_origin = res_strdup(m, o->ws.origin);
  cn->ws_max = o->ws.max_message;
  if (cn->host == NULL || (o->server_name && !cn->server_name) ||
      (o->ws.path && !cn->ws_path) || (o->ws.host && !cn->ws_host) ||
      (o->ws.origin && !cn->ws_origin)) {
    rc__conn_discard(c);
    return RC_ERR_NOMEM;
  }
  cn->tls = o->tls;

  /* IP literals skip the resolver. */
  struct sockaddr_in a4;
  struct sockaddr_in6 a6;
  if (uv_ip4_addr(cn->host, cn->port, &a4) == 0) {
    memcpy(&cn->lit, &a4, sizeof(a4));
    cn->lit_left = 1;
  } else if (uv_ip6_addr(cn->host, cn->port, &a6) == 0) {
    memcpy(&cn->lit, &a6, sizeof(a6));
    cn->lit_left = 1;
  }
  c->accepted = 1;
  if (cn->lit_left) {
    c->state = RC__CONN_CONNECTING;
    res_try_next(c);
  } else {
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    cn->gai.data = c;
    c->state = RC__CONN_RESOLVING;
    int r = uv_getaddrinfo(o->loop, &cn->gai, res_on_resolved, cn->host, NULL,
                           &hints);
    if (r < 0) {
      c->accepted = 0;
      rc__conn_discard(c);
      return RC_ERR_NOMEM;
    }
    c->gai_pending = 1;
  }
  *out = c;
  return RC_OK;
}
