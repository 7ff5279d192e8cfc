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
 * filter's up() feeds the ws filter's recv(). The connection object in
 * transport/ does that wiring.
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
  RC_FILTER_MSG_END = 1
};

/* Events a filter reports through its sink. */
typedef enum rc_filter_event {
  RC_FILTER_EV_OPEN = 1,   /* handshake done: data may flow both ways */
  RC_FILTER_EV_CLOSED = 2, /* peer closed cleanly (TLS close_notify, WS
                              close frame); arg = WS close code or 0 */
  RC_FILTER_EV_ERROR = 3   /* fatal error; arg = rc_err. The filter will
                              only accept destroy() now. */
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

typedef struct rc_filter_ops {
  const char *name; /* "tls", "ws" */
  /* Bytes from below. */
  rc_err (*recv)(rc_filter *f, const uint8_t *data, size_t len);
  /* Data from above; for a message-oriented filter one call is one
   * message (flags has RC_FILTER_MSG_END). Before EV_OPEN data is queued
   * or refused with RC_ERR_STATE, as the filter documents. */
  rc_err (*send)(rc_filter *f, const uint8_t *data, size_t len, int flags);
  /* Starts a graceful close (close_notify, WS close 1000). */
  rc_err (*shutdown)(rc_filter *f);
  void (*destroy)(rc_filter *f);
} rc_filter_ops;

/* Every filter struct begins with this header. */
struct rc_filter {
  const rc_filter_ops *ops;
  rc_filter_sink sink;
};

static inline rc_err rc_filter_recv(rc_filter *f, const uint8_t *d, size_t n) {
  return f->ops->recv(f, d, n);
}
static inline rc_err rc_filter_send(rc_filter *f, const uint8_t *d, size_t n,
                                    int flags) {
  return f->ops->send(f, d, n, flags);
}
static inline rc_err rc_filter_shutdown(rc_filter *f) {
  return f->ops->shutdown(f);
}
static inline void rc_filter_destroy(rc_filter *f) {
  if (f)
    f->ops->destroy(f);
}

#ifdef __cplusplus
}
#endif
#endif
