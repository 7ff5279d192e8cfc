/*
 * Connection filters: the one small interface every byte or message
 * transform in a connection's chain implements (the curl "connection
 * filter" idea, sans-I/O):
 *
 *     socket  <->  [tls]  <->  [ws]  <->  session
 *      down                                 up
 *
 * A filter never touches a socket or a clock. Bytes arriving from the
 * network are pushed into the bottom filter with rc_filter_recv(); a filter
 * hands what it produces upward through its sink's up() and downward
 * (toward the socket) through down(). Data from the session enters the top
 * filter with rc_filter_send(). coaps+ws is tcp -> tls -> ws -> session:
 * the ws filter's down() feeds the tls filter's send(), and the tls
 * filter's up() feeds the ws filter's recv(). The chain
 * (transport_chain.h) does that wiring for any list of filters.
 *
 * Pointers passed to sink callbacks are valid only during the call.
 */
#ifndef RCOAP_TRANSPORT_FILTER_H
#define RCOAP_TRANSPORT_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "rcoap/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Flags on data handed up or down. */
enum {
  /* The data completes one message (message-oriented filters such as ws
   * set it on every up() call: one call carries one whole message). */
  RC_FILTER_MSG_END = 1,
  /* send(): more data follows in this batch. The filter may hold what it
   * produces and hand it down in one piece at flush() (ws: all frames of
   * a batch reach tls in one down(), so one SSL_write). */
  RC_FILTER_MORE = 2
};

/* What a filter carries (rc_filter_ops.flags). */
enum {
  /* Message-boundary mode: up() delivers one whole message per call and
   * send() takes one whole message per call (WebSocket; an SCTP user
   * message on a data channel). The session above runs in message mode. */
  RC_FILTER_F_MESSAGES = 1,
  /* Datagram mode below: each recv() is one datagram and each down() is
   * one datagram (DTLS). The chain keeps the boundaries in its output. */
  RC_FILTER_F_DATAGRAM = 2
};

/* Events a filter reports through its sink. */
typedef enum rc_filter_event {
  RC_FILTER_EV_OPEN = 1,   /* handshake done: data may flow both ways */
  RC_FILTER_EV_CLOSED = 2, /* peer closed cleanly (TLS close_notify, WS
                              close frame); arg = WS close code or 0.
                              Before EV_OPEN it means the filter served the
                              peer by itself and is done (ws: a plain HTTP
                              response went out in full). */
  RC_FILTER_EV_ERROR = 3,  /* fatal error; arg = rc_err. The filter will
                              only accept end() and free() now. */
  RC_FILTER_EV_ACTIVE = 4  /* before EV_OPEN, the filter serves the peer by
                              itself (ws: plain HTTP, kept alive) and has
                              new output to pull now (outside any recv);
                              arg 1: it waits on its own user (a deferred
                              HTTP answer: no handshake deadline), arg 0:
                              ready for the peer's next request */
} rc_filter_event;

typedef struct rc_filter_sink {
  /* Data for the layer above (plaintext, or one whole WS message). */
  rc_err (*up)(void *ctx, const uint8_t *data, size_t len, int flags);
  /* Bytes for the layer below (toward the socket). */
  rc_err (*down)(void *ctx, const uint8_t *data, size_t len);
  /* An event; detail holds a human-readable reason (may be NULL). */
  void (*event)(void *ctx, rc_filter_event ev, int arg, const char *detail);
  void *ctx;
} rc_filter_sink;

typedef struct rc_filter rc_filter;

/*
 * The operations of one filter kind. A filter file (tls.c, ws.c; later
 * dtls.c, sctp.c, dcep.c) fills one of these; the chain (chain.c) drives
 * every filter through it and knows no filter by name. Entries marked
 * "optional" may be NULL.
 */
typedef struct rc_filter_ops {
  const char *name;  /* "tls", "ws": short, for lookups and logs */
  const char *label; /* "TLS", "WebSocket": for sentences */
  unsigned flags;    /* RC_FILTER_F_* */
  /* Optional. Begins the handshake once the layer below is open: a client
   * sends its first flight through down(); a server waits. */
  rc_err (*start)(rc_filter *f);
  /* Bytes (or one datagram) from below. */
  rc_err (*recv)(rc_filter *f, const uint8_t *data, size_t len);
  /* Data from above; for a message-oriented filter one call is one
   * message (flags has RC_FILTER_MSG_END). Before EV_OPEN data is queued
   * or refused with RC_ERR_STATE, as the filter documents. */
  rc_err (*send)(rc_filter *f, const uint8_t *data, size_t len, int flags);
  /* Optional. Bytes of the filter's own output waiting for flush() (ws: a
   * static file being served on the WS port); 0 when none. */
  size_t (*pending)(const rc_filter *f);
  /* Optional. Hands down what send() held (RC_FILTER_MORE), then at most
   * max_own bytes of the filter's own pending output. */
  rc_err (*flush)(rc_filter *f, size_t max_own);
  /* Optional. The stream below ended (TCP FIN). The filter reports a clean
   * end (EV_CLOSED) or a truncation (EV_ERROR). */
  rc_err (*eof)(rc_filter *f);
  /* Optional. The filter's next deadline (DTLS retransmission), or
   * RC_TIME_NEVER, and what to do when it has passed. */
  rc_time (*expiry)(const rc_filter *f);
  rc_err (*timeout)(rc_filter *f, rc_time now);
  /* Starts a graceful close (close_notify, WS close 1000). */
  rc_err (*shutdown)(rc_filter *f);
  /* Optional. The connection is ending: decode nothing more and give back
   * what was taken from shared budgets now (their owner may go before the
   * filter is destroyed). Only free() may follow. */
  void (*end)(rc_filter *f);
  void (*free)(rc_filter *f);
} rc_filter_ops;

/* Every filter struct begins with this header. */
struct rc_filter {
  const rc_filter_ops *ops;
  rc_filter_sink sink;
};

static inline rc_err rc_filter_start(rc_filter *f) {
  return f->ops->start ? f->ops->start(f) : RC_OK;
}
static inline rc_err rc_filter_recv(rc_filter *f, const uint8_t *d, size_t n) {
  return f->ops->recv(f, d, n);
}
static inline rc_err rc_filter_send(rc_filter *f, const uint8_t *d, size_t n,
                                    int flags) {
  return f->ops->send(f, d, n, flags);
}
static inline size_t rc_filter_pending(const rc_filter *f) {
  return f->ops->pending ? f->ops->pending(f) : 0;
}
static inline rc_err rc_filter_flush(rc_filter *f, size_t max_own) {
  return f->ops->flush ? f->ops->flush(f, max_own) : RC_OK;
}
static inline rc_err rc_filter_eof(rc_filter *f) {
  return f->ops->eof ? f->ops->eof(f) : RC_OK;
}
static inline rc_time rc_filter_expiry(const rc_filter *f) {
  return f->ops->expiry ? f->ops->expiry(f) : RC_TIME_NEVER;
}
static inline rc_err rc_filter_timeout(rc_filter *f, rc_time now) {
  return f->ops->timeout ? f->ops->timeout(f, now) : RC_OK;
}
static inline rc_err rc_filter_shutdown(rc_filter *f) {
  return f->ops->shutdown(f);
}
static inline void rc_filter_end(rc_filter *f) {
  if (f && f->ops->end)
    f->ops->end(f);
}
static inline void rc_filter_free(rc_filter *f) {
  if (f)
    f->ops->free(f);
}

#ifdef __cplusplus
}
#endif
#endif
