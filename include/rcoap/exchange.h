/*
 * The exchange layer: requests and responses matched by token over one
 * rc_session, in both directions (RFC 8323 lets either end of a reliable
 * connection act as client, so one rc_exchange both sends requests and
 * serves them).
 *
 * Sans-I/O like the session beneath it: the owner feeds it every message
 * the session delivers (rc_exchange_on_message), asks it for its next
 * deadline (request timeouts) and tells it when the session is gone. It
 * writes its messages straight into the session's output buffer.
 *
 * Reliable transports have no Empty ACKs, no Message IDs and no
 * retransmission (RFC 8323 §3.3: "the reliability mechanisms of CoAP over
 * UDP are not used"), so a request is outstanding from the moment it is
 * queued until its response, its timeout, its cancellation or the end of
 * the session.
 *
 * Client-side tokens come from a generator seeded with caller-supplied
 * random bytes and are unique among this exchange's outstanding requests.
 */
#ifndef RCOAP_EXCHANGE_H
#define RCOAP_EXCHANGE_H

#include <stddef.h>
#include <stdint.h>

#include "rcoap/codec_msg.h"
#include "rcoap/codec_option.h"
#include "rcoap/common.h"
#include "rcoap/session.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rc_exchange rc_exchange;

/* Default request timeout when a request gives none. */
#define RC_EXCHANGE_DEFAULT_TIMEOUT_MS 30000u
/* Token length we use for our own requests (RFC 7252 §5.3.1 advises
 * enough randomness to make tokens hard to guess; 8 bytes is the most a
 * peer without RFC 8974 accepts). */
#define RC_EXCHANGE_TOKEN_LEN 8u

/* A request or a response to send: options sorted by number (use
 * rc_opts_sort), values and payload owned by the caller and only read
 * during the call that takes the struct. */
typedef struct rc_outmsg {
  uint8_t code;
  const rc_opt *opts;
  size_t nopts;
  const uint8_t *payload;
  size_t payload_len;
} rc_outmsg;

/*
 * Called with the outcome of a request we sent: status 0 and the response
 * view (valid only during the call), or status < 0 and resp NULL:
 * RC_ERR_TIMEOUT, RC_ERR_CANCELLED (only when cancelled by
 * rc_exchange_fail_all, never by rc_exchange_cancel, which is silent),
 * or the reason the session ended (RC_ERR_PEER_ABORT, RC_ERR_PEER_DEAD,
 * RC_ERR_CLOSED, ...). Called exactly once per request.
 */
typedef void (*rc_response_cb)(void *arg, rc_err status, const rc_msg *resp);

/* An incoming request, as handed to on_request. */
typedef struct rc_xreq rc_xreq;

typedef struct rc_exchange_callbacks {
  /*
   * A request arrived. req is valid until it is answered with
   * rc_exchange_respond(); its message view (rc_xreq_msg) only during this
   * call. To answer later, call rc_xreq_defer() during this call: it keeps
   * the token (the message view still ends with the call).
   */
  void (*on_request)(void *user, rc_exchange *x, rc_xreq *req);
  /* Optional log line. */
  void (*on_log)(void *user, int level, const char *text);
  /* Optional: a message was queued on the session (so the owner can flush
   * it when the queueing happened outside its own I/O callbacks, e.g. a
   * deferred answer from a timer). */
  void (*on_output)(void *user);
} rc_exchange_callbacks;

/*
 * Creates an exchange over session s (not owned; it must outlive the
 * exchange). seed: caller randomness for tokens (e.g. 16 bytes from
 * getrandom), copied. mem NULL = C library allocator; it must outlive the
 * exchange and every request deferred on it.
 * Returns 0 and *out, RC_ERR_INVAL or RC_ERR_NOMEM.
 */
rc_err rc_exchange_new(rc_exchange **out, rc_session *s,
                       const rc_exchange_callbacks *cb, void *user,
                       const uint8_t *seed, size_t seed_len,
                       const rc_mem *mem);

/* Fails every outstanding request with RC_ERR_CANCELLED (callbacks run),
 * forgets deferred incoming requests and frees the exchange. NULL ok. */
void rc_exchange_del(rc_exchange *x);

/*
 * Dispatches one message the session delivered (its on_message):
 * a request goes to on_request (or is answered 4.02 Bad Option when it
 * carries an unrecognized critical option, RFC 7252 §5.4.1: "Unrecognized
 * options of class 'critical' that occur in a Confirmable request MUST
 * cause the return of a 4.02 (Bad Option) response" — reliable transports
 * treat every request that way); a response goes to the request with its
 * token (unknown tokens are dropped and logged).
 * Returns 0, or RC_ERR_NOMEM / a session error from an automatic answer.
 */
rc_err rc_exchange_on_message(rc_exchange *x, const rc_msg *m, rc_time now);

/*
 * Sends a request. timeout_ms 0 = RC_EXCHANGE_DEFAULT_TIMEOUT_MS. *id (may
 * be NULL) identifies it for rc_exchange_cancel. cb is called exactly once
 * (never from inside this call).
 * Returns 0 or RC_ERR_INVAL (not a request code), RC_ERR_NOMEM, or a
 * session error (RC_ERR_PEER_TOO_LARGE, RC_ERR_PEER_RELEASE, RC_ERR_CLOSED,
 * RC_ERR_LIMIT, ...): on error nothing was sent and cb is not called.
 */
rc_err rc_exchange_request(rc_exchange *x, const rc_outmsg *req,
                           uint32_t timeout_ms, rc_time now,
                           rc_response_cb cb, void *arg, uint64_t *id);

/* Forgets an outstanding request; its callback is not called. A response
 * arriving later is dropped. Returns 0 or RC_ERR_NOT_FOUND. */
rc_err rc_exchange_cancel(rc_exchange *x, uint64_t id);

/* The incoming request's message: valid only during on_request. */
const rc_msg *rc_xreq_msg(const rc_xreq *req);

/* Keeps req beyond on_request (copies its token). Returns 0 or
 * RC_ERR_NOMEM (then answer it now). */
rc_err rc_xreq_defer(rc_xreq *req);

/* The exchange a request came in on. */
rc_exchange *rc_xreq_exchange(const rc_xreq *req);

/*
 * Answers req with resp (a response code). After this call req is gone,
 * whether or not it succeeded. Returns 0, RC_ERR_INVAL (not a response
 * code; req stays valid), RC_ERR_STATE (already answered), or a session
 * error (RC_ERR_PEER_TOO_LARGE: the caller may answer again with a smaller
 * body — req stays valid in that one case; RC_ERR_CLOSED ...).
 */
rc_err rc_exchange_respond(rc_xreq *req, const rc_outmsg *resp);

/* Drops a deferred request without answering (its connection is going
 * away). */
void rc_xreq_drop(rc_xreq *req);

/* The user pointer given to rc_exchange_new. */
void *rc_exchange_user(const rc_exchange *x);

/* Number of our requests still outstanding. */
size_t rc_exchange_outstanding(const rc_exchange *x);
/* Number of incoming requests not yet answered (for Custody, RFC 8323
 * §5.4.1). */
size_t rc_exchange_unanswered(const rc_exchange *x);

/* Next request timeout, or RC_TIME_NEVER. */
rc_time rc_exchange_expiry(const rc_exchange *x);
/* Fails requests whose timeout passed with RC_ERR_TIMEOUT. */
void rc_exchange_handle_expiry(rc_exchange *x, rc_time now);

/* Fails every outstanding request with reason (the session ended) and
 * drops deferred incoming requests. The exchange stays usable only for
 * rc_exchange_del. */
void rc_exchange_fail_all(rc_exchange *x, rc_err reason);

#ifdef __cplusplus
}
#endif
#endif
