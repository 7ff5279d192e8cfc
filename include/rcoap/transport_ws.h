/*
 * The WebSocket filter (RFC 6455, as RFC 8323 §4 uses it for coap+ws and
 * coaps+ws): an rc_filter that turns a byte stream from below (TCP, or
 * the TLS filter) into whole binary messages for the session above, one
 * CoAP message per WebSocket message (RFC 8323 §4.2), and back. It runs
 * the HTTP/1.1 opening handshake on either side, answers pings, runs the
 * close handshake, and on a server port hands plain HTTP requests (a
 * browser fetching the page that hosts the JavaScript client) to a
 * callback. Frame coding is wslay's frame layer; this filter never
 * touches a socket or a clock.
 *
 * Wiring (the connection layer owns it):
 *   - rc_filter_recv(f, bytes) with every byte read from below;
 *   - sink.up(data, len, RC_FILTER_MSG_END): one whole binary message;
 *   - sink.down(bytes): bytes to write below, in order. When the filter
 *     reports RC_FILTER_EV_CLOSED or RC_FILTER_EV_ERROR, the connection
 *     must still write everything down() gave it (the close frame, the
 *     HTTP refusal) and then close the socket;
 *   - rc_filter_send(f, msg, len, RC_FILTER_MSG_END): one CoAP message,
 *     allowed once RC_FILTER_EV_OPEN was reported (RC_ERR_STATE before).
 *   - The handshake deadline is the connection's: while
 *     rc_ws_handshake_done() is 0 the peer has not finished the opening
 *     handshake; close the connection when the deadline passes.
 *
 * Events: EV_OPEN (arg = rc_ws_subproto chosen) once the handshake
 * completes; EV_CLOSED (arg = the peer's close code, 1005 if it gave none,
 * or 0 after a plain HTTP response was sent in full and the connection is
 * not kept alive); EV_ACTIVE (plain HTTP on a kept-alive connection: arg
 * 1 when a handler deferred its answer, 0 when an answer made outside a
 * recv() is ready to pull or the next request may come); EV_ERROR (arg = an
 * rc_err: RC_ERR_WS_HANDSHAKE for a refused or failed opening handshake,
 * RC_ERR_HTTP_PARSE for a malformed request, RC_ERR_WS_PROTOCOL or
 * RC_ERR_TOO_LARGE after the filter sent a close frame for a peer's
 * protocol violation, with the code in the detail text).
 *
 * rc_filter_recv() returns RC_OK, RC_ERR_STATE once the filter is done,
 * or the error that just ended it (also reported as EV_ERROR). If up()
 * returns an error the filter stops without an event and recv() returns
 * that error: the layer above has already decided the connection's fate.
 * After shutdown() the connection should bound the wait for the peer's
 * close answer with its own timer.
 *
 * Sink callbacks must not destroy the filter; they may call
 * rc_filter_send() and rc_filter_shutdown() (frames sent from inside
 * up() or EV_OPEN are batched into the down() call that ends the recv).
 * Nothing is copied twice on the common path: a message that arrives in
 * one frame goes up straight from wslay's input buffer.
 */
#ifndef RCOAP_TRANSPORT_WS_H
#define RCOAP_TRANSPORT_WS_H

#include <stddef.h>
#include <stdint.h>

#include "rcoap/budget.h"
#include "rcoap/common.h"
#include "rcoap/transport_filter.h"
#include "rcoap/transport_http.h"

#ifdef __cplusplus
extern "C" {
#endif

/* RFC 8323 §4.1 / §8.3 (ws URI): the WebSocket endpoint of a coap+ws
 * authority. */
#define RC_WS_PATH "/.well-known/coap"
/* RFC 6455 §4.1: the nonce "MUST be a nonce consisting of a randomly
 * selected 16-byte value that has been base64-encoded". */
#define RC_WS_KEY_LEN 16
/* base64 of a 20-byte SHA-1, plus NUL. */
#define RC_WS_ACCEPT_SIZE 29
/* RFC 8323 §5.3.1: the default Max-Message-Size is 1152 bytes. */
#define RC_WS_DEFAULT_MAX_MESSAGE 1152
/* RFC 6455 §5.5: "All control frames MUST have a payload length of 125
 * bytes or less". */
#define RC_WS_MAX_CONTROL 125

/* Subprotocol agreed in the handshake (EV_OPEN's arg). */
typedef enum rc_ws_subproto {
  RC_WS_SUBPROTO_NONE = 0,
  RC_WS_SUBPROTO_COAP = 1,   /* "coap", RFC 8323 */
  RC_WS_SUBPROTO_COAP_V1 = 2 /* "coap.v1", draft-savolainen-...-02 */
} rc_ws_subproto;

/*
 * Handler for a plain HTTP request arriving on a server port: a valid
 * request that is not a WebSocket upgrade for the configured path, with
 * its body (req->body, Content-Length bytes). It fills resp (already
 * zeroed but for resp->reply; an unset status is answered 500), or keeps
 * resp->reply, sets resp->deferred and answers later with
 * rc_http_reply_send. req, its body and the request's bytes are valid
 * only during the call; resp's body and header strings must stay valid
 * until the call returns (the filter copies them), resp->source belongs
 * to the filter from then on. resp->keep_alive lets the connection carry
 * the client's next request.
 */
typedef void (*rc_ws_http_cb)(void *user, const rc_http_head *req,
                              rc_http_response *resp);

/*
 * Answers a plain HTTP request whose handler deferred (resp->reply kept,
 * resp->deferred set): resp as the handler would have filled it. Frees
 * reply; the filter writes the answer and has the connection pull it
 * (EV_ACTIVE). Call it exactly once per deferred reply, from the loop's
 * thread, also when the answer is no longer wanted. Returns RC_OK,
 * RC_ERR_CLOSED (the connection went: nothing sent, resp's source
 * closed), RC_ERR_INVAL, or RC_ERR_NOMEM.
 */
rc_err rc_http_reply_send(rc_http_reply *reply, rc_http_response *resp);

/* Default rc_ws_config.http_body_max. */
#define RC_WS_HTTP_BODY_MAX (1024u * 1024u)

/* Reassembly up to this many bytes never asks rc_ws_config.budget. */
#define RC_WS_MSG_FREE (64u * 1024u)

typedef struct rc_ws_config {
  const rc_mem *mem;  /* NULL: rc_mem_default() */
  size_t max_message; /* largest message accepted; 0: the default */
  /* A message reassembled from pieces beyond RC_WS_MSG_FREE bytes takes
   * its buffer from this budget (shared, not owned; NULL: none). Refused:
   * close 1009 when the message could never fit, else 1013 (try again
   * later). Given back when the message is delivered, the filter fails or
   * rc_filter_end() is called; the budget must outlive that. */
  rc_budget *budget;
  const char *path;   /* NULL: RC_WS_PATH */

  /* Server only. Origins allowed (exact strings, e.g.
   * "http://localhost:8080"); NULL or 0: any Origin, or none. */
  const char *const *origins;
  size_t n_origins;
  rc_ws_http_cb on_http; /* NULL: answer 404 */
  void *http_user;
  /* Largest plain HTTP request body read (Content-Length or chunked; a
   * larger one is answered 413); 0: RC_WS_HTTP_BODY_MAX. */
  size_t http_body_max;

  /* Client only. host is the URI host (an IPv6 literal without
   * brackets); port 0 means the default (80, or 443 when tls). */
  const char *host;
  uint16_t port;
  int tls;
  const char *origin;  /* sent as Origin when not NULL */
  int offer_coap_v1;   /* also offer "coap.v1" after "coap" */
} rc_ws_config;

/*
 * Creates a server-side filter that waits for the opening handshake. cfg
 * and its strings are copied; sink is copied. Returns RC_OK and *out (the
 * caller frees it with rc_filter_free()), RC_ERR_INVAL, or
 * RC_ERR_NOMEM.
 */
rc_err rc_ws_server_new(rc_filter **out, const rc_ws_config *cfg,
                        const rc_filter_sink *sink);

/*
 * Creates a client-side filter for cfg->host/port/path. Nothing is sent
 * until rc_ws_client_start(). Returns RC_OK, RC_ERR_INVAL (no host), or
 * RC_ERR_NOMEM.
 */
rc_err rc_ws_client_new(rc_filter **out, const rc_ws_config *cfg,
                        const rc_filter_sink *sink);

/*
 * Sends the client's upgrade request through down(); call it once the
 * layer below is open (TCP connected, or the TLS filter's EV_OPEN).
 * Returns RC_OK, RC_ERR_STATE (not a client, or already started),
 * RC_ERR_TLS (RAND_bytes failed), or down()'s error.
 */
rc_err rc_ws_client_start(rc_filter *f);

/* Non-zero once the opening handshake has completed (EV_OPEN sent). */
int rc_ws_handshake_done(const rc_filter *f);

/* The subprotocol agreed, RC_WS_SUBPROTO_NONE before EV_OPEN. */
rc_ws_subproto rc_ws_subprotocol(const rc_filter *f);

/*
 * Batches sends: while corked, rc_filter_send() only encodes frames into
 * the filter's buffer; rc_ws_uncork() flushes them with one down() call.
 * Corks nest. Returns RC_OK or down()'s error. (The chain uses the generic
 * form: send() with RC_FILTER_MORE, then rc_filter_flush().)
 *
 * rc_filter_end() on a ws filter (the connection is closing) frees the
 * reassembly buffer, gives back what the budget lent, and ends the filter
 * (nothing more is decoded, the budget is not touched again), before the
 * budget's owner may go.
 */
void rc_ws_cork(rc_filter *f);
rc_err rc_ws_uncork(rc_filter *f);

/*
 * Streams more of a plain HTTP response body: reads up to max_bytes from
 * the handler's body source and hands them down(). The connection calls
 * it (through the generic rc_filter_flush() with max_own > 0) whenever
 * its write queue has drained while rc_ws_http_pending() is non-zero.
 * When the body is complete the filter reports EV_CLOSED with
 * arg 0. Returns RC_OK, RC_ERR_STATE (nothing streaming), RC_ERR_IO (the
 * source failed or ended early; EV_ERROR was reported), or down()'s
 * error.
 */
rc_err rc_ws_http_pump(rc_filter *f, size_t max_bytes);

/* Non-zero while a streamed HTTP response body has bytes left to send. */
int rc_ws_http_pending(const rc_filter *f);

/*
 * Computes Sec-WebSocket-Accept for the base64 key (RFC 6455 §4.2.2:
 * base64 of SHA-1 of the key concatenated with
 * "258EAFA5-E914-47DA-95CA-C5AB0DC11B65"). out receives the NUL-terminated
 * 28-character value. Returns RC_OK, RC_ERR_INVAL, or RC_ERR_TLS when
 * OpenSSL fails.
 */
rc_err rc_ws_accept_key(const char *key, size_t key_len,
                        char out[RC_WS_ACCEPT_SIZE]);

#ifdef __cplusplus
}
#endif
#endif
