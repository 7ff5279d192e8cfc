/*
 * Internal to src/transport/conn.c, resolve.c and listen.c: the rc_conn
 * struct and the few functions the client connector and the listener use
 * to build a connection's chain and start its data path. conn.c owns the
 * data path, the timer and the close sequence; resolve.c owns name
 * resolution and connect attempts; listen.c owns accepting.
 */
#ifndef RCOAP_CONN_INT_H
#define RCOAP_CONN_INT_H

#include <netinet/in.h>
#include <uv.h>

#include "rcoap/session.h"
#include "rcoap/transport_chain.h"
#include "rcoap/transport_conn.h"
#include "rcoap/transport_stack.h"
#include "transport/loop_int.h"

/* Connection states, in the order a connection moves through them. */
enum {
  RC__CONN_RESOLVING = 0, /* client: uv_getaddrinfo running */
  RC__CONN_CONNECTING,    /* client: uv_tcp_connect running */
  RC__CONN_HANDSHAKE,     /* socket up, TLS/WS handshake running */
  RC__CONN_OPEN,          /* chain open, session output flows */
  RC__CONN_DRAINING,      /* closing: writing what is left */
  RC__CONN_CLOSING        /* uv_close called; waiting for callbacks */
};

typedef struct rc__connecting rc__connecting;
typedef struct rc__udp_ep rc__udp_ep;

struct rc_conn {
  uv_tcp_t tcp;
  /* The peer's address, kept from the moment the connection is up so that
   * logs can name it after the peer is gone (getpeername then fails). */
  union {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
  } peer;
  uint32_t park_ms; /* 0: never park (here: in the hole after peer) */

  /* What a read and its write touch, together in two cache lines past
   * tcp (BENCHMARKS.md, hot16m). */
  uv_loop_t *loop;
  rc_chain *chain; /* filters + session + output queue (owns s) */
  rc_session *s;   /* the chain's session */
  /* The user's callbacks: a shared table (rc_conn_set_callbacks_shared),
   * or a copy this conn owns (cb_owned). */
  const rc_conn_callbacks *cb;
  void *user;
  /* UDP kind: the shared socket, and this peer's links in its table
   * (peers.c: hash chain, LRU list) */
  rc__udp_ep *udp;
  rc_time last_io;
  rc_time deadline; /* connect / handshake / drain deadline */
  size_t inflight; /* bytes of the running uv_write (lent by the chain) */
  rc_time park_tried; /* last attempt that found the conn busy */
  uint32_t idle_ms;
  uint32_t handshake_ms;
  rc_err reason;
  uint8_t kind;
  uint8_t state;
  uint8_t busy; /* depth of library code running on this conn */
  uint8_t handles; /* libuv handles not yet closed */
  uint32_t high_water; /* chain bytes queued before reading stops */
  unsigned is_server : 1;
  unsigned tcp_inited : 1;
  unsigned reading : 1;
  unsigned writing : 1;
  unsigned reason_set : 1;
  unsigned open_pending : 1;
  unsigned open_reported : 1;
  unsigned want_flush : 1;
  unsigned reset : 1;
  unsigned accepted : 1; /* handed to the user (on_closed is owed) */
  unsigned gai_pending : 1;
  unsigned released : 1; /* rc_conn_release() queued our Release */
  unsigned peer_eof : 1; /* the peer closed its side (FIN seen) */
  unsigned lingering : 1; /* our FIN sent, reading until the peer's */
  unsigned cb_owned : 1;  /* cb is a copy to free with the conn */
  unsigned read_full : 1; /* the last read filled its buffer: a large
                             frame may be half read (conn_alloc_cb) */

  /* Every deadline of this conn in one node of its loop's timer queue
   * (loop.c); also the "later loop turn" on which a closed conn with no
   * handle left is freed. */
  rc__timer timer;
  rc__loop *lt;
  const rc_mem *mem;
  /* Parking (conn_try_park): after park_ms without traffic an idle
   * server conn leaves libuv: its socket, session record and callbacks
   * go into a record of the loop's parking set (park_int.h) and the conn
   * is freed; scfg is the template its session is rebuilt from (the
   * listener's caller's: it outlives every conn). */
  const rc_session_config *scfg;
  uv_write_t *wreq; /* only while an async write runs */
  rc__connecting *cn; /* client connect state; NULL once connected */
  rc_conn *udp_hnext, *udp_prev, *udp_next;
  void *wr; /* RC_CONN_WEBRTC: its ICE session (webrtc/wr_ep.c) */
  char *detail;
};

/* After our last bytes, how long we wait for the peer's FIN before the
 * socket is closed anyway (see conn_linger in conn.c). */
#define RC__CONN_LINGER_MS 2000u

/* Allocates a conn with its timer node on the loop's queue (not the tcp
 * handle). NULL when out of memory. */
rc_conn *rc__conn_alloc(uv_loop_t *loop, rc_conn_kind kind, const rc_mem *mem);

/* Gives c a copy of cb, owned by c (freed with it). Returns 0 or
 * RC_ERR_NOMEM. */
rc_err rc__conn_copy_callbacks(rc_conn *c, const rc_conn_callbacks *cb);

/* Frees a conn that never started (no handle is open) on a later loop
 * turn, no callback. */
void rc__conn_discard(rc_conn *c);

/*
 * Creates the session and the chain for a connected socket, with the
 * filters stack describes (its tls/ws flags must match the conn's kind;
 * max_message, budget and mem are filled in from the session config).
 * Returns 0 or the error of the filter or session constructor.
 */
rc_err rc__conn_setup(rc_conn *c, const rc_session_config *tmpl,
                      rc_stack_config *stack);

/* Starts the data path on a connected tcp handle: TCP_NODELAY, reading,
 * the client handshakes, the handshake deadline, and the first flush. */
void rc__conn_start(rc_conn *c);

/* Records reason/detail (first one wins) and closes at once (no drain). */
void rc__conn_fail(rc_conn *c, rc_err reason, const char *detail);

/* Sets the detail text if none is set (printf-like). */
void rc__conn_set_detail(rc_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Arms the conn's timer for its earliest deadline (if earlier than the
 * one armed). */
void rc__conn_arm(rc_conn *c);

/* resolve.c: the connect deadline passed for the current attempt. */
void rc__conn_connect_timeout(rc_conn *c);
/* resolve.c: the conn is closing; cancel resolution, and free the connect
 * state now or (while a getaddrinfo runs) from its callback. */
void rc__conn_connect_abandon(rc_conn *c);

/* Formats a socket address as "1.2.3.4:5" or "[::1]:5". Returns 0 or
 * RC_ERR_NOBUF / RC_ERR_INVAL. */
rc_err rc__conn_addr_str(const struct sockaddr *sa, char *buf, size_t len);

/* conn.c: a UDP peer's conn starts (no socket of its own: the session
 * opens at once). */
void rc__conn_start_udp(rc_conn *c);
/* conn.c: one datagram from the conn's UDP peer. */
void rc__conn_udp_input(rc_conn *c, const uint8_t *d, size_t n);

/* udp.c: the client side of a coap:// connection: a socket of its own
 * (any port) for the peer at sa. Returns 0 or RC_ERR_IO / RC_ERR_NOMEM. */
rc_err rc__udp_client_open(rc_conn *c, const struct sockaddr *sa);
/* udp.c: a server socket; accept() gets each new peer's conn (kind UDP,
 * or DTLS with dtls a server datagram context; is_server set, not
 * started) and returns 0 to take it. */
rc_err rc__udp_listen(uv_loop_t *loop, const struct sockaddr *sa,
                      const rc_mem *mem, uint32_t idle_ms, rc_tls_ctx *dtls,
                      int (*accept)(void *arg, rc_conn *c), void *arg,
                      rc__udp_ep **out, int *uverr);
/* udp.c: no new peers; the socket closes when its last peer is gone. */
void rc__udp_unlisten(rc__udp_ep *ep);
/* udp.c: the socket's address. */
rc_err rc__udp_sockname(const rc__udp_ep *ep, struct sockaddr_storage *ss);
/* udp.c: sends one datagram to the conn's peer. Returns 0, or RC_ERR_IO
 * (dropped: UDP loses datagrams anyway; CONs are retransmitted). */
rc_err rc__udp_send_to(rc_conn *c, const uint8_t *d, size_t n);
/* udp.c: the length of an AF_INET / AF_INET6 address. */
socklen_t rc__sa_len(const struct sockaddr *sa);
/* udp.c: the conn is closing: out of its socket's table. */
void rc__udp_forget(rc_conn *c);
/* A server peer on plain UDP: its session's amplification limit gets Echo
 * values bound to the peer's address and keyed by its socket (echo.c).
 * DTLS peers need none: the cookie exchange proved their address. */
void rc__udp_echo_setup(rc_conn *c);

/* conn.c: close callback accounting, shared with resolve.c for a tcp
 * handle closed between attempts. */
void rc__conn_maybe_free(rc_conn *c);

#endif
