/*
 * A listening socket for one kind of CoAP-over-reliable-transport (coap+tcp,
 * coaps+tcp, coap+ws, coaps+ws) on a libuv loop. Every accepted socket
 * becomes an rc_conn (transport_conn.h) with the listener's filter chain
 * and a server-role session, and is handed to on_accept, where the upper
 * layer attaches its callbacks and user pointer.
 *
 * Sockets: SO_REUSEADDR (libuv sets it on bind), a real backlog, and IPv6
 * sockets with IPV6_V6ONLY so that "0.0.0.0" and "::" listeners on the same
 * port coexist.
 *
 * Threading: a listener belongs to the thread running its loop.
 */
#ifndef RCOAP_TRANSPORT_LISTEN_H
#define RCOAP_TRANSPORT_LISTEN_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "rcoap/common.h"
#include "rcoap/session.h"
#include "rcoap/transport_conn.h"
#include "rcoap/transport_tls.h"
#include "rcoap/transport_ws.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rc_listener rc_listener;

/* Default listen(2) backlog (libcoap's 5 makes bursts of clients wait). */
#define RC_LISTEN_DEFAULT_BACKLOG 1024
/* Longest address string accepted ("[v6%scope]:port"). */
#define RC_LISTEN_ADDR_MAX 80

/*
 * Called for each accepted connection, before anything is read from it
 * (on a ws port that includes plain HTTP requests, such as a browser
 * fetching a page: such a connection never reports on_open and ends with
 * on_closed(RC_OK) once the response is sent).
 * Attach callbacks with rc_conn_set_callbacks(); a connection left
 * without an on_message callback is closed (RC_ERR_INVAL). Returning
 * non-zero refuses it: it is reset and no callback of it is ever called.
 */
typedef int (*rc_listener_accept_cb)(void *user, rc_listener *l, rc_conn *c);

typedef struct rc_listener_opts {
  uv_loop_t *loop;
  rc_conn_kind kind;
  /* "127.0.0.1:5683", "[::1]:5683", "0.0.0.0", "::", "[::]:0" (port 0:
   * any free port, see rc_listener_port). No port: the kind's default. */
  const char *addr;
  rc_tls_ctx *tls; /* server context; required for TLS kinds. Borrowed:
                      it must outlive the listener (each connection's
                      filter holds its own reference) */
  /* WS server settings (path, origins, plain-HTTP handler such as the
   * static-file server) for WS kinds. The struct is copied; the strings
   * and the origins array it points to must outlive the listener.
   * max_message 0: the session's Max-Message-Size. */
  const rc_ws_config *ws;
  /* Session template; framing and role are set per connection. NULL:
   * rc_session_config_default(). Copied. */
  const rc_session_config *session;
  int backlog;                   /* 0: RC_LISTEN_DEFAULT_BACKLOG */
  uint32_t handshake_timeout_ms; /* TLS + WS; 0: the default */
  uint32_t idle_timeout_ms;      /* 0: never */
  /* Park a connection quiet this long (rc_conn_callbacks.can_park):
   * 0: never. Then session, when given, is also kept by pointer (a parked
   * connection's session is rebuilt from it): it must outlive every
   * connection. */
  uint32_t park_after_ms;
  /* RC_CONN_WEBRTC: the DTLS identity (transport_webrtc.h; copied). */
  const struct rc_wr_identity *webrtc;
  rc_listener_accept_cb on_accept;
  void *user;
  const rc_mem *mem; /* NULL: C library; must outlive every connection */
} rc_listener_opts;

/* Zero-fills opts and sets loop, kind, addr, on_accept, user. */
void rc_listener_opts_init(rc_listener_opts *opts, uv_loop_t *loop,
                           rc_conn_kind kind, const char *addr,
                           rc_listener_accept_cb on_accept, void *user);

/*
 * Binds and listens. On failure writes a sentence into errbuf (if errcap
 * > 0), e.g. "cannot listen on 127.0.0.1:5683: address already in use",
 * and leaves nothing behind once the loop has run again (a socket that
 * was already made is closed through the loop).
 * Returns 0 and *out (free with rc_listener_free), or RC_ERR_INVAL (no
 * loop or on_accept, TLS kind without tls), RC_ERR_BAD_HOST (address not
 * an IP literal), RC_ERR_BAD_PORT, RC_ERR_ADDR_IN_USE, RC_ERR_IO (any
 * other socket error), RC_ERR_NOMEM.
 */
rc_err rc_listener_new(rc_listener **out, const rc_listener_opts *opts,
                       char *errbuf, size_t errcap);

/* Stops listening and frees the listener (its handle closes on a later
 * loop turn). Connections already accepted live on. NULL is allowed. */
void rc_listener_free(rc_listener *l);

/* The bound port (useful after binding port 0). */
uint16_t rc_listener_port(const rc_listener *l);

/* The bound address as text, like rc_conn_local_addr. Returns 0 or
 * RC_ERR_NOBUF. */
rc_err rc_listener_addr(const rc_listener *l, char *buf, size_t len);

/* The bound address family (AF_INET, AF_INET6; 0 if unknown). */
int rc_listener_family(const rc_listener *l);

/* coap:// (RC_CONN_UDP) only: sends one datagram from the listener's
 * socket (its unicast address and port), outside any peer's session:
 * the answer to a multicast request (RFC 7252 §8.2: "the response is
 * sent from the unicast address"). RC_OK, RC_ERR_INVAL (another kind)
 * or RC_ERR_IO (not sent). */
rc_err rc_listener_send_datagram(rc_listener *l, const struct sockaddr *to,
                                 const void *d, size_t n);

/* Connections accepted so far. */
uint64_t rc_listener_accepted(const rc_listener *l);

#ifdef __cplusplus
}
#endif
#endif
