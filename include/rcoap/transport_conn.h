/*
 * One CoAP-over-reliable-transport connection on a libuv loop: a TCP
 * socket, an optional filter chain (tls, ws, or tls then ws: RFC 8323
 * coap+tcp, coaps+tcp, coap+ws, coaps+ws) and the rc_session on top. The
 * connection reads from the socket into a per-thread buffer, pushes the
 * bytes up the chain into the session, and writes whatever the session
 * queued back down, batched into one write per read. It owns the one
 * timer the session, the handshake and the idle timeout need.
 *
 * Client connections come from rc_conn_connect() (name resolution, one
 * address after another, connect timeout, handshakes); server connections
 * come from a listener (transport_listen.h), which hands each new rc_conn
 * to its on_accept callback.
 *
 * Lifetime: an rc_conn is owned by the library. It lives until its
 * on_closed callback has returned and then frees itself (on a later turn
 * of the loop, once libuv has closed its handles). on_closed is called
 * exactly once for every connection that was returned by rc_conn_connect()
 * or given to on_accept, whatever ends it (error, peer, rc_conn_close()).
 * The user must not touch the rc_conn after on_closed returns.
 *
 * Threading: a connection belongs to the thread running its loop; every
 * call and every callback happens there. Callbacks run from inside libuv
 * callbacks; from inside them the user may call any function here
 * (rc_conn_close() included).
 */
#ifndef RCOAP_TRANSPORT_CONN_H
#define RCOAP_TRANSPORT_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "rcoap/codec_msg.h"
#include "rcoap/common.h"
#include "rcoap/session.h"
#include "rcoap/transport_tls.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rc_conn rc_conn;

/* The transport stack under the session. */
typedef enum rc_conn_kind {
  RC_CONN_TCP = 0,   /* coap+tcp:  tcp -> session            */
  RC_CONN_TLS = 1,   /* coaps+tcp: tcp -> tls -> session     */
  RC_CONN_WS = 2,    /* coap+ws:   tcp -> ws -> session      */
  RC_CONN_TLS_WS = 3, /* coaps+ws:  tcp -> tls -> ws -> session */
  RC_CONN_UDP = 4,    /* coap:      one peer on a shared UDP socket
                         (transport/udp.c) -> session (RFC 7252) */
  RC_CONN_DTLS = 5,   /* coaps:     as UDP, with a dtls filter under the
                         session (RFC 7252 §9) */
  RC_CONN_WEBRTC = 6  /* coaps+wr:  a WebRTC data channel: ICE on a shared
                         UDP socket, dtls -> sctp -> dcep -> session
                         (message mode); made by transport_webrtc.h, not
                         by rc_conn_connect */
} rc_conn_kind;

/* Default ports: RFC 8323 §8.1 (coap+tcp 5683), §8.2 (coaps+tcp 5684),
 * §8.3/§8.4 (coap+ws and coaps+ws use the HTTP ports 80 and 443). */
#define RC_CONN_PORT_TCP 5683
#define RC_CONN_PORT_TLS 5684
#define RC_CONN_PORT_WS 80
#define RC_CONN_PORT_TLS_WS 443
/* RFC 7252 §6.1: coap:// over UDP, 5683. */
#define RC_CONN_PORT_UDP 5683
/* RFC 7252 §6.2: coaps:// over DTLS, 5684. */
#define RC_CONN_PORT_DTLS 5684
/* Most UDP peers a listener keeps at once (the least recently active one
 * makes room) and how long a silent one is kept (RFC 7252
 * EXCHANGE_LIFETIME, so its Message-ID dedup outlives retransmissions). */
#define RC_CONN_UDP_PEERS_MAX 4096u
#define RC_CONN_UDP_PEER_IDLE 247000u

/* Default per-address connect timeout. */
#define RC_CONN_DEFAULT_CONNECT_TIMEOUT 10000u
/* Default limit for the TLS handshake and WebSocket upgrade together. */
#define RC_CONN_DEFAULT_HANDSHAKE_TIMEOUT 10000u
/* How long queued output may take to drain once the connection is
 * closing before the socket is closed anyway. */
#define RC_CONN_DRAIN_TIMEOUT 5000u
/* After our Release, the longest wait for the peer to close (the
 * session's release_timeout_ms applies first when it is shorter). */
#define RC_CONN_RELEASE_TIMEOUT 30000u
/* Size of the per-thread read buffer: everything the socket has, in one
 * read, up to this. */
#define RC_CONN_READ_BUF (64u * 1024u)

/* The longest detail text kept (rc_conn_error_detail). */
#define RC_CONN_DETAIL_MAX 256

/* Which way rc_conn_close() ends the connection. */
typedef enum rc_conn_close_mode {
  /* Abrupt: queued output is dropped and the socket is reset (RST). */
  RC_CONN_CLOSE_RESET = 0,
  /* Graceful, RFC 8323 §5.5: queue a Release (no options), keep serving
   * responses, and close when the peer closes, or when the session's
   * release_timeout_ms or RC_CONN_RELEASE_TIMEOUT passes (on_closed
   * RC_ERR_TIMEOUT). See rc_conn_release() for options. */
  RC_CONN_CLOSE_RELEASE = 1,
  /* Orderly: write what is queued (with TLS close_notify / WS close
   * frame), then close the socket. For instance after the peer's
   * Release, or when done with a connection. */
  RC_CONN_CLOSE_FLUSH = 2
} rc_conn_close_mode;

/*
 * Callbacks. All optional except on_message. user is the pointer given
 * with them; c is the connection. Views are valid only during the call.
 * The session-level callbacks have the meaning documented in session.h.
 */
typedef struct rc_conn_callbacks {
  /* The chain is ready (TLS handshake and WS upgrade done) and our CSM
   * has been handed to the socket. The peer's CSM may not have arrived
   * yet (on_csm tells). */
  void (*on_open)(void *user, rc_conn *c);
  /* A request or response. Return 0; anything else aborts the
   * connection (RC_ERR_CALLBACK_FAILURE). */
  int (*on_message)(void *user, rc_conn *c, const rc_msg *m);
  void (*on_csm)(void *user, rc_conn *c);
  void (*on_pong)(void *user, rc_conn *c, uint32_t ping_id, rc_time rtt,
                  int custody);
  void (*on_release)(void *user, rc_conn *c,
                     const rc_session_release_info *info);
  void (*on_abort)(void *user, rc_conn *c, const rc_session_abort_info *info);
  int (*custody_ready)(void *user, rc_conn *c);
  /* Log line (no newline), syslog levels as in session.h. */
  void (*on_log)(void *user, rc_conn *c, int level, const char *text);
  /* Every whole message both ways, signaling included (session.h
   * on_trace): sent non-zero for ours. Optional; for "rcoap -v". */
  void (*on_trace)(void *user, rc_conn *c, int sent, const rc_msg *m);
  /* UDP: a message with this token was rejected (RST) or never
   * acknowledged (session.h on_lost). */
  void (*on_lost)(void *user, rc_conn *c, const uint8_t *token,
                  size_t token_len, rc_err reason);
  /*
   * The connection is over; called exactly once. reason: RC_OK (closed by
   * us, or an orderly end after a Release), RC_ERR_RESOLVE,
   * RC_ERR_CONN_REFUSED, RC_ERR_CONNECT, RC_ERR_TIMEOUT (connect,
   * handshake, idle or release timeout), RC_ERR_CONN_RESET, RC_ERR_CLOSED
   * (the peer closed the connection), RC_ERR_IO, the TLS and WS errors
   * (RC_ERR_TLS, RC_ERR_TLS_CERT, RC_ERR_TLS_ALPN, RC_ERR_TLS_NOT_TLS,
   * RC_ERR_WS_HANDSHAKE, RC_ERR_WS_PROTOCOL, RC_ERR_HTTP_PARSE), or a
   * session reason (RC_ERR_PEER_ABORT, RC_ERR_PEER_DEAD, RC_ERR_BAD_CSM,
   * RC_ERR_PROTOCOL, RC_ERR_NOMEM, RC_ERR_CALLBACK_FAILURE). detail is a
   * sentence for people ("" when there is nothing to add). The conn and
   * its session are freed after this returns.
   */
  void (*on_closed)(void *user, rc_conn *c, rc_err reason, const char *detail);
  /*
   * Parking (a server connection with rc_listener_opts.park_after_ms):
   * when the connection has been quiet that long and its chain and
   * session hold nothing in flight, can_park asks whether the owner does
   * (return non-zero: it may park); on_park then tells it to let go of
   * everything it keeps for c: after on_park returns, c is freed (its
   * socket, the session's record and the callbacks and user pointer it
   * has then, which on_park may change with rc_conn_set_callbacks_shared,
   * are kept in a small record of the loop's parking set). The next bytes
   * from the peer, its close, a due keepalive or idle timeout, or
   * rc_conn_wake_parked make a NEW rc_conn for the connection and call
   * on_unpark with it before any other callback: return 0 (the owner
   * keeps it, and gets on_closed at its end as for any conn), or non-zero
   * (no memory: it is closed and nothing more is called). A parked
   * connection calls nothing else. can_park or on_park NULL: never
   * parked.
   */
  int (*can_park)(void *user, rc_conn *c);
  void (*on_park)(void *user, rc_conn *c);
  int (*on_unpark)(void *user, rc_conn *c);
  /* Optional: an asynchronous write finished (a stream connection whose
   * peer had stopped taking bytes took them); rc_conn_unsent tells what
   * is still waiting. Called before the rest is written, so what the
   * owner queues now goes out with it. */
  void (*on_writable)(void *user, rc_conn *c);
  /* Optional: on_message with the time of the read that brought m and
   * without the conn (keep it in user). When set, a stream session hands
   * its requests and responses straight to it (no forwarding call, no
   * clock read); on_message is still required, and still called on UDP
   * sessions. */
  int (*on_message_at)(void *user, const rc_msg *m, rc_time now);
} rc_conn_callbacks;

/* WebSocket client settings (coap+ws, coaps+ws). Strings are copied. */
typedef struct rc_conn_ws_opts {
  const char *path;   /* NULL: RC_WS_PATH "/.well-known/coap" */
  const char *host;   /* Host header; NULL: the connect host */
  const char *origin; /* NULL: no Origin header */
  size_t max_message; /* 0: the session's Max-Message-Size */
} rc_conn_ws_opts;

/* Settings for rc_conn_connect(). Zero-fill, then set what you need
 * (rc_conn_connect_opts_init does that with defaults). Strings and
 * structs are copied. */
typedef struct rc_conn_connect_opts {
  uv_loop_t *loop;
  rc_conn_kind kind;
  const char *host;  /* DNS name or IP literal (IPv6 without brackets) */
  uint16_t port;     /* 0: the kind's default port */
  rc_tls_ctx *tls;   /* client context; required for TLS kinds. Borrowed
                        until on_open or on_closed (the TLS filter then
                        holds its own reference) */
  const char *server_name; /* TLS name to send/verify; NULL: host */
  rc_conn_ws_opts ws;
  /* Session settings; framing and role are set by the connection. NULL
   * fields mean rc_session_config_default(). */
  const rc_session_config *session;
  uint32_t connect_timeout_ms;   /* per address; 0: the default */
  uint32_t handshake_timeout_ms; /* TLS + WS; 0: the default */
  uint32_t idle_timeout_ms;      /* close after this long without any
                                    traffic; 0: never */
  rc_conn_callbacks cb;
  void *user;
  const rc_mem *mem; /* NULL: C library; must outlive the connection */
} rc_conn_connect_opts;

/* Zero-fills opts and sets loop, kind, host, port. */
void rc_conn_connect_opts_init(rc_conn_connect_opts *opts, uv_loop_t *loop,
                               rc_conn_kind kind, const char *host,
                               uint16_t port);

/*
 * Starts a client connection: resolves host (IP literals skip DNS; names
 * go through uv_getaddrinfo, IPv4 and IPv6), tries each address in turn
 * with a connect timeout each, sets TCP_NODELAY, runs the TLS handshake
 * and WS upgrade, and sends our CSM. Progress is reported through the
 * callbacks: on_open when ready, on_closed on failure (from a later loop
 * turn, never from inside this call).
 * Returns 0 and *out (the connection, owned by the library as described
 * above), or RC_ERR_INVAL (no loop, host or on_message; TLS kind without
 * tls), RC_ERR_BAD_HOST (empty or over-long host), RC_ERR_NOMEM, or the
 * session's or a filter's creation error. On error nothing is left behind
 * and no callback is called.
 */
rc_err rc_conn_connect(rc_conn **out, const rc_conn_connect_opts *opts);

/* Replaces the callbacks (copied) and user pointer; for a server
 * connection, call it from on_accept. Returns 0, RC_ERR_INVAL or
 * RC_ERR_NOMEM. */
rc_err rc_conn_set_callbacks(rc_conn *c, const rc_conn_callbacks *cb,
                             void *user);
/* The same, with cb kept by pointer (it must outlive the connection): one
 * table shared by many connections instead of a copy in each. */
rc_err rc_conn_set_callbacks_shared(rc_conn *c, const rc_conn_callbacks *cb,
                                    void *user);
/* Wakes every parked connection on loop whose user pointer is user (as
 * on_park left it): each gets a new rc_conn through on_unpark before this
 * returns (e.g. to send them a Release). Returns how many. */
size_t rc_conn_wake_parked(uv_loop_t *loop, void *user);
/* Closes every parked connection on loop whose user pointer is user, at
 * once and with a reset (as rc_conn_close(RC_CONN_CLOSE_RESET)), calling
 * nothing. Returns how many. */
size_t rc_conn_drop_parked(uv_loop_t *loop, void *user);

/* The user pointer. */
void *rc_conn_user(const rc_conn *c);

/* The connection's session: write messages with rc_session_msg_begin /
 * rc_enc_* / rc_session_msg_end, then rc_conn_flush(). Never call
 * rc_session_free() on it. Valid until on_closed returns. A client's
 * session is created when its TCP connection is up (so its CSM timeout
 * does not run during name resolution): NULL before that, never NULL from
 * on_open on. Messages queued before on_open wait for the chain. */
rc_session *rc_conn_session(rc_conn *c);

/*
 * Writes what the session has queued. The connection flushes by itself
 * after every read and timer callback; call this after queueing messages
 * from anywhere else (another connection's callback, an async handle).
 * Inside this connection's own callbacks it only marks the flush, done
 * when the callback returns. Returns 0, or RC_ERR_CLOSED when the
 * connection is closing.
 */
rc_err rc_conn_flush(rc_conn *c);

/* Ends the connection; see rc_conn_close_mode. on_closed follows (later,
 * or at once for RC_CONN_CLOSE_RESET on the next loop turn). Calling it
 * again, or on a closing connection, only escalates to RESET when asked.
 * Returns 0 or RC_ERR_CLOSED (already closing and nothing changed). */
rc_err rc_conn_close(rc_conn *c, rc_conn_close_mode mode);

/*
 * Graceful close with Release options (RFC 8323 §5.5): alt[0..n_alt)
 * Alternative-Address authorities, hold_off_s seconds
 * (RC_SESSION_NO_HOLD_OFF: none), diag (may be NULL). The connection
 * closes when the peer closes it, or after the session's
 * release_timeout_ms or RC_CONN_RELEASE_TIMEOUT, whichever is first. A
 * Release queued before the chain is open goes out once it is; the
 * RC_CONN_RELEASE_TIMEOUT wait starts then. Returns 0, RC_ERR_CLOSED, RC_ERR_STATE (Release
 * already sent) or the session's error (RC_ERR_INVAL for a bad address).
 */
rc_err rc_conn_release(rc_conn *c, const char *const *alt, size_t n_alt,
                       uint32_t hold_off_s, const char *diag);

/* Queues a Ping (RFC 8323 §5.4) and flushes; see rc_session_ping. */
rc_err rc_conn_ping(rc_conn *c, int custody, uint32_t *ping_id);

/* The peer's / our own address as text ("192.0.2.1:5683",
 * "[2001:db8::1]:5683") into buf (NUL-terminated). Returns 0, RC_ERR_STATE
 * (not connected), or RC_ERR_NOBUF. */
rc_err rc_conn_peer_addr(const rc_conn *c, char *buf, size_t len);
rc_err rc_conn_local_addr(const rc_conn *c, char *buf, size_t len);

/* The human detail of the error that is closing (or closed) the
 * connection, "" when none. Valid until on_closed returns. */
const char *rc_conn_error_detail(const rc_conn *c);

rc_conn_kind rc_conn_get_kind(const rc_conn *c);
/* Non-zero once on_open was reported. */
int rc_conn_is_open(const rc_conn *c);
/* Non-zero if this connection came from a listener. */
int rc_conn_is_server(const rc_conn *c);
/* The TLS or DTLS filter (for rc_tls_peer_info, rc_tls_protocol, ...),
 * or NULL for kinds without TLS. */
rc_filter *rc_conn_tls(rc_conn *c);
/* Bytes handed to the connection and not yet accepted by the kernel
 * (session queue plus filter output). */
size_t rc_conn_unsent(const rc_conn *c);
/*
 * A direct write of bytes framed for the stream (rc_session_frame_tails)
 * to an open plain coap+tcp connection with nothing unsent: one write(2)
 * from p; what the kernel does not take at once is queued in the session
 * and written as usual (on failure to queue it after part was sent, the
 * connection fails). Any other connection (not RC_CONN_TCP, not open,
 * anything unsent or in flight) gets RC_ERR_STATE and takes nothing:
 * queue the messages in the session instead, behind what waits there.
 */
rc_err rc_conn_write_now(rc_conn *c, const uint8_t *p, size_t n);
/* Non-zero while the connection reads from its socket (0: back-pressure,
 * or closing). */
int rc_conn_reading(const rc_conn *c);

/* "tcp", "tls", "ws", "tls+ws", "udp", "dtls". */
const char *rc_conn_kind_name(rc_conn_kind kind);

#ifdef __cplusplus
}
#endif
#endif
