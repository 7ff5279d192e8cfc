/*
 * What applications program against: an rc_context on a libuv loop that
 * serves resources on listeners of any transport and sends requests to any
 * URI, reusing one connection per origin.
 *
 * Server side: register resources by path with per-method handlers and
 * link-format attributes; /.well-known/core is generated from them (RFC
 * 6690 §4, with §4.1 query filtering). A handler gets the request as an
 * rc_xreq (exchange.h) and answers with rc_respond() / rc_exchange_respond(),
 * at once or later (rc_xreq_defer).
 *
 * Client side: rc_request(ctx, method, "coap+tcp://host/path?q", ...)
 * decomposes the URI into options (RFC 7252 §6.4, RFC 8323 §8.6), finds or
 * opens the connection for the URI's origin, and calls back once with the
 * response or an error with a sentence for people.
 *
 * Threading: one context per loop thread; every call and callback happens
 * on that thread.
 */
#ifndef RCOAP_APP_H
#define RCOAP_APP_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "rcoap/codec_msg.h"
#include "rcoap/codec_option.h"
#include "rcoap/codec_uri.h"
#include "rcoap/common.h"
#include "rcoap/exchange.h"
#include "rcoap/session.h"
#include "rcoap/transport_conn.h"
#include "rcoap/transport_tls.h"
#include "rcoap/transport_ws.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rc_context rc_context;
typedef struct rc_resource rc_resource;

/* Longest resource path kept ("/a/b/c"), and most options in one request
 * built by rc_request (URI options plus the caller's). */
#define RC_APP_PATH_MAX 1024u
#define RC_APP_MAX_OPTS 64u

/* Events reported through on_log, and the context's log levels
 * (syslog numbering as in session.h). */
typedef void (*rc_log_fn)(void *user, int level, const char *text);

/* One answered request, for an access log (rc_context_opts.on_access).
 * Strings are valid during the call only. */
typedef struct rc_access_entry {
  const char *peer;       /* "127.0.0.1:40312", "[::1]:40312" */
  const char *transport;  /* rc_conn_kind_name: "coap+tcp", ... */
  const char *method;     /* "GET", ... */
  const char *uri;        /* path and query: "/store/a?x=1" */
  uint8_t code;           /* the response's code */
  size_t bytes;           /* its payload (this block, with block-wise) */
  double ms;              /* from the request's arrival to the answer */
} rc_access_entry;

typedef struct rc_context_opts {
  uv_loop_t *loop;          /* required */
  const rc_mem *mem;        /* NULL: C library; must outlive the context */
  /* Session settings for every connection (NULL: defaults). */
  const rc_session_config *session;
  /* Client TLS context for coaps+tcp / coaps+ws requests; NULL: one is
   * made on first use that verifies against the system CA store. Not
   * owned: it must outlive the context. */
  rc_tls_ctx *client_tls;
  /* The same for coaps:// (DTLS): a context made with
   * rc_tls_config.datagram; NULL: one is made on first use that
   * verifies against the system CA store. Not owned. */
  rc_tls_ctx *client_dtls;
  /* WebSocket client settings for coap+ws requests (Origin etc.). */
  rc_conn_ws_opts client_ws;
  /* coaps+wr: where offers are POSTed (NULL: coap+ws://HOST/webrtc). */
  const char *webrtc_signal;
  /* coaps+wr behind a NAT: a STUN server (a rendezvous broker's coaps+wr
   * port) asked for our server-reflexive address before the offer goes,
   * so a peer behind a NAT of its own can send checks to it (up to
   * RC_WR_STUN_WAIT_MS; without an answer the offer goes without).
   * NULL: none. Not owned: it must outlive the context. */
  const struct sockaddr *webrtc_stun;
  /* coaps+wr: the DTLS contexts made for WebRTC peers append their
   * secrets to this NSS key log (rc_tls_config.keylog_file); NULL:
   * none. Must outlive the context. */
  const char *webrtc_keylog;
  uint32_t connect_timeout_ms; /* 0: transport default */
  uint32_t idle_timeout_ms;    /* server connections; 0: never */
  /* Server coap+tcp connections quiet this long, with nothing in flight
   * either way (no request, observation, block-wise transfer, output or
   * half-read frame), are parked: everything of theirs but the socket
   * and a record of ~96 bytes is freed (connection, session, chain,
   * exchange), and rebuilt on the next byte, the peer's close or a due
   * keepalive (rc_listener_opts.park_after_ms). 0: never. */
  uint32_t park_after_ms;
  uint32_t handshake_timeout_ms; /* TLS + WS, both directions; 0: the
                                    transport default */
  /* After a peer's Release with an Alternative-Address, send later
   * requests for that origin to the alternative, at once. A Release's
   * Hold-Off is honoured whenever the origin itself would be dialled: no
   * new connection to it before the Hold-Off is over. */
  int follow_release;
  rc_log_fn on_log;
  void *log_user;
  int log_level;               /* lines above this level are dropped;
                                  0: RC_SESSION_LOG_INFO */
  /* Observer of every message on every connection, both ways (for
   * "rcoap -v"): dir is '>' for sent, '<' for received. May be NULL.
   * A block sent from a file (sendfile) is shown with payload NULL and
   * payload_len its length: its bytes are never in memory. */
  void (*on_trace)(void *user, char dir, const rc_msg *m);
  void *trace_user;
  /* Called once per request a server connection answered (each block of
   * a block-wise transfer is one request): the access log. May be NULL;
   * user is trace_user. */
  void (*on_access)(void *user, const rc_access_entry *e);
  /* Called when a connection's chain is open, both directions (e.g. to
   * read rc_conn_tls(c) with rc_tls_peer_info, rc_tls_resumed). May be
   * NULL. */
  void (*on_conn_open)(void *user, rc_conn *c);
  void *conn_user;
  /* Block-wise settings for every connection (NULL: defaults). */
  const rc_exchange_block_config *block;
  /* Bytes peers can make us hold, over all connections together (one
   * rc_budget): messages over RC_SESSION_RX_FREE arriving in pieces
   * (rc_session_config.rx_budget, unless opts->session names another),
   * request bodies being reassembled and response bodies cached between
   * blocks (rc_exchange_set_budget); 0: RC_CONTEXT_BODY_MEMORY_DEFAULT. */
  size_t body_memory_max;
  /* Requests a peer may have waiting for a deferred answer on one
   * connection (rc_exchange_set_unanswered_max); 0: the default. */
  size_t unanswered_max;
} rc_context_opts;

#define RC_CONTEXT_BODY_MEMORY_DEFAULT ((size_t)512 * 1024 * 1024)

/* Returns 0 and *out, or RC_ERR_INVAL / RC_ERR_NOMEM. Registers the
 * /.well-known/core resource. */
rc_err rc_context_new(rc_context **out, const rc_context_opts *opts);

/* The context's body memory budget (for its figures: rc_budget_used,
 * rc_budget_peak, rc_budget_refusals). */
const rc_budget *rc_context_body_budget(const rc_context *ctx);

/* What the RFC 7252 message layer of the context's coap:// and coaps://
 * connections did, added up (the context's own counters, or those
 * opts->session->udp.stats names): CONs sent, retransmitted, answered
 * after how many tries, given up; the peers' duplicates. */
const rc_udp_stats *rc_context_udp_stats(const rc_context *ctx);

/*
 * Closes every listener and connection at once (no Release; use
 * rc_context_shutdown first for a graceful end), fails outstanding client
 * requests with RC_ERR_CANCELLED, frees resources. Handles close on later
 * loop turns: run the loop until it has no more active handles before
 * freeing the loop itself. NULL ok.
 */
void rc_context_free(rc_context *ctx);

/* Multicast discovery (RFC 7252 §8): "All CoAP Nodes" (§12.8) and the
 * default leisure (§4.8: DEFAULT_LEISURE, 5 s). */
#define RC_MULTICAST_GROUP4 "224.0.1.187"
#define RC_MULTICAST_GROUP6 "ff02::fd"
#define RC_MULTICAST_LEISURE_MS 5000u

typedef struct rc_multicast_opts {
  uint16_t port;        /* 0: 5683 */
  const char *ifname;   /* join on this interface; NULL: the system's */
  uint32_t leisure_ms;  /* answers wait a random time below it; 0: the
                           default */
  int no_ipv4, no_ipv6; /* skip a family */
} rc_multicast_opts;

/*
 * Answers multicast discovery: joins the groups on port o->port (sockets
 * shared with other servers on the host) and answers a NON GET
 * /.well-known/core sent there with the links passing its query, NON,
 * after a random leisure, from the context's coap:// listener of the
 * same family (else from the group socket). Nothing else sent to the
 * group is answered, nor a query that leaves no link (RFC 7252 §8.2).
 * Stops with rc_context_shutdown / rc_context_free. Returns RC_OK once
 * one family joined (errbuf may name the one that could not),
 * RC_ERR_NOT_FOUND (no such interface), RC_ERR_IO (no family joined:
 * errbuf says why), RC_ERR_INVAL, RC_ERR_NOMEM.
 */
rc_err rc_context_multicast(rc_context *ctx, const rc_multicast_opts *o,
                            char *errbuf, size_t errcap);

/*
 * Listens for kind on addr ("127.0.0.1:5683", "[::1]:8080", "::").
 * tls is required for TLS kinds, ws (may be NULL for defaults) for WS kinds.
 * errbuf gets a sentence on failure. Returns 0 and optionally the bound
 * port in *port, or the listener's errors (RC_ERR_ADDR_IN_USE, ...).
 */
rc_err rc_context_listen(rc_context *ctx, rc_conn_kind kind, const char *addr,
                         rc_tls_ctx *tls /* not owned, must outlive ctx */,
                         const rc_ws_config *ws,
                         uint16_t *port, char *errbuf, size_t errcap);

/*
 * Graceful shutdown: stops listening and sends every server connection a
 * Release (RFC 8323 §5.5) with diag as its diagnostic, lets in-flight
 * exchanges finish, and calls done(arg) once every connection is closed
 * (or after timeout_ms, closing the rest). Returns 0 or RC_ERR_STATE
 * (already shutting down).
 */
rc_err rc_context_shutdown(rc_context *ctx, const char *diag,
                           uint32_t timeout_ms, void (*done)(void *arg),
                           void *arg);

/*
 * What the Release sent by rc_context_shutdown carries (RFC 8323 §5.5):
 * alt, an Alternative-Address authority ("host:port", "[v6]:port") that
 * clients should use instead (NULL: none), and hold_off_s, seconds before
 * they reconnect (RC_SESSION_NO_HOLD_OFF: none). Copied. Returns 0,
 * RC_ERR_INVAL (empty or over 255 bytes) or RC_ERR_NOMEM.
 */
rc_err rc_context_set_release(rc_context *ctx, const char *alt,
                              uint32_t hold_off_s);

uv_loop_t *rc_context_loop(const rc_context *ctx);
/* Connections open right now (both directions). */
size_t rc_context_connections(const rc_context *ctx);
/* Of those, the ones parked right now (rc_context_opts.park_after_ms). */
size_t rc_context_parked(const rc_context *ctx);

/* ---- resources ---------------------------------------------------------- */

/* A request handler. res is the matched resource; req answers with
 * rc_respond / rc_exchange_respond (now, or later after rc_xreq_defer). */
typedef void (*rc_handler)(rc_context *ctx, rc_resource *res, rc_xreq *req,
                           void *user);

enum rc_resource_flags {
  /* Also serve every path below this one ("/store" serves "/store/a/b");
   * the handler reads the full path with rc_req_path(). */
  RC_RES_PREFIX = 1u << 0,
  /* Leave it out of /.well-known/core. */
  RC_RES_HIDDEN = 1u << 1
};

/*
 * Registers a resource at path ("/sensors/temp"; "/" for the root). user
 * is passed to its handlers. Returns 0 and *out (owned by the context;
 * may be NULL), RC_ERR_INVAL (path not starting with '/' or too long),
 * RC_ERR_EXISTS, RC_ERR_NOMEM.
 */
rc_err rc_resource_add(rc_context *ctx, const char *path, unsigned flags,
                       void *user, rc_resource **out);

/* Sets the handler for one method (RC_GET ... RC_IPATCH); NULL removes
 * it. A method without a handler gets 4.05 Method Not Allowed. Returns 0
 * or RC_ERR_INVAL. */
rc_err rc_resource_on(rc_resource *res, uint8_t method, rc_handler h);

/*
 * Gives res a static representation: every GET is answered with code, an
 * optional Content-Format (-1: none) and payload (copied), encoded once
 * here and written per request after the header and token (Block2 and
 * Observe answers are made from it as from any handler's). Replaces the
 * GET handler (rc_resource_on(res, RC_GET, NULL) removes it again).
 * Returns 0, RC_ERR_INVAL (not a response code, Content-Format > 65535)
 * or RC_ERR_NOMEM.
 */
rc_err rc_resource_set_static(rc_resource *res, uint8_t code,
                              int content_format, const void *payload,
                              size_t len);

/*
 * Adds a link-format attribute shown in /.well-known/core: value NULL for
 * a flag ("obs"), quoted non-zero for a quoted-string ("title", "rt" with
 * spaces), otherwise a token ("ct=0"). Copied. Returns 0, RC_ERR_INVAL or
 * RC_ERR_NOMEM.
 */
rc_err rc_resource_attr(rc_resource *res, const char *name, const char *value,
                        int quoted);

/* Removes and frees a resource (not /.well-known/core). Requests already
 * deferred by its handlers stay valid. Returns 0 or RC_ERR_NOT_FOUND. */
rc_err rc_resource_remove(rc_context *ctx, const char *path);

const char *rc_resource_path(const rc_resource *res);
void *rc_resource_user(const rc_resource *res);

/* ---- helpers for handlers ------------------------------------------------ */

/* The request's path from its Uri-Path options ("/store/a"; "/" when none),
 * segments percent-encoded where they hold '/', '%' or control bytes.
 * Returns the length, or RC_ERR_NOBUF. */
rc_ssize rc_req_path(const rc_xreq *req, char *buf, size_t cap);
/* rc_msg_path, rc_msg_query and rc_msg_content_format for a message at hand
 * are in codec_option.h. */

/*
 * Answers with code, an optional Content-Format (-1: none) and payload.
 * Returns rc_exchange_respond()'s result.
 */
rc_err rc_respond(rc_xreq *req, uint8_t code, int content_format,
                  const void *payload, size_t len);

/*
 * coaps+wr answerer: an offer ({"type":"offer","sdp":...}, application/
 * json) to the answer JSON, for the context's coaps+wr listener (the
 * resource that takes offers is the application's: rcoapd's /webrtc).
 * Returns 0 and *len, RC_ERR_NOT_FOUND (no coaps+wr listener), RC_ERR_SDP
 * (not an offer we can answer), RC_ERR_NOBUF, RC_ERR_LIMIT; on an error
 * buf may hold a sentence saying why (*len bytes; rc_wr_listener_answer_
 * json).
 */
rc_err rc_context_webrtc_answer(rc_context *ctx, const void *offer_json,
                                size_t n, char *buf, size_t cap, size_t *len);

/*
 * coaps+wr answerer behind a NAT: rc_wr_listener_stun for the context's
 * coaps+wr listener (a plain STUN Binding request to server, NULL: the
 * one before; answers then come from a full ICE agent with the learnt
 * server-reflexive candidate). Returns 0 or RC_ERR_NOT_FOUND.
 */
rc_err rc_context_webrtc_stun(rc_context *ctx, const struct sockaddr *server);

/* ---- client ------------------------------------------------------------- */

typedef struct rc_request_opts {
  /* Extra options (Accept, Content-Format, If-Match, custom, ...), any
   * order; values only read during rc_request(). */
  const rc_opt *opts;
  size_t nopts;
  const uint8_t *payload; /* copied if the request has to wait */
  size_t payload_len;
  uint32_t timeout_ms;    /* 0: RC_EXCHANGE_DEFAULT_TIMEOUT_MS */
  /* TLS for this request (NULL: the context's client TLS): for --cafile,
   * --insecure, PSK. Not owned: it must outlive the context. Connections
   * are shared per origin and TLS context. dtls: the same for coaps://
   * (a datagram context; NULL: the context's client DTLS). */
  rc_tls_ctx *tls;
  rc_tls_ctx *dtls;
  /* Block-wise (see rc_exchange_req_opts): the body from a source instead
   * of payload, the response body into a sink (the callback then gets the
   * response head with no payload), progress, no BERT, smaller blocks
   * (SZX + 1; 0 default), Q-Block (RFC 9177, for coap:// and coaps://),
   * Block2 requests in flight (window). Sources and sinks are copied. */
  const rc_body_source *body;
  const rc_body_sink *sink;
  void (*on_progress)(void *arg, int up, uint64_t done, uint64_t total);
  void *progress_arg;
  uint8_t no_bert;
  uint8_t block_szx;
  uint8_t qblock;
  uint8_t window;
  /* A proxy's upstream request: see rc_exchange_req_opts.relay. */
  uint8_t relay;
} rc_request_opts;

/*
 * Outcome of a request: status 0 and the response (valid during the
 * call), or status < 0, resp NULL and detail a sentence for people
 * (never NULL; "" when rc_strerror(status) says it all).
 */
typedef void (*rc_request_cb)(void *arg, rc_err status, const rc_msg *resp,
                              const char *detail);

/*
 * Sends method to uri. Schemes: coap+tcp, coaps+tcp, coap+ws, coaps+ws
 * (and coap+wss); coap, coaps and coaps+wr give RC_ERR_NOT_SUPPORTED.
 * cb is called exactly once, never from inside this call.
 * Returns 0, or (cb not called) RC_ERR_INVAL, the URI errors
 * (RC_ERR_BAD_URI, RC_ERR_BAD_SCHEME, RC_ERR_URI_FRAGMENT, ...),
 * RC_ERR_NOT_SUPPORTED, RC_ERR_LIMIT (too many options), RC_ERR_NOMEM.
 */
rc_err rc_request(rc_context *ctx, uint8_t method, const char *uri,
                  const rc_request_opts *opts, rc_request_cb cb, void *arg);

/*
 * Outcome of a ping: status 0 with the round trip in microseconds (from
 * the Ping leaving to the Pong arriving) and whether the Pong carried
 * Custody; or status < 0 and detail as for rc_request_cb.
 */
typedef void (*rc_ping_cb)(void *arg, rc_err status, uint64_t rtt_us,
                           int custody, const char *detail);

/*
 * Sends a Ping (RFC 8323 §5.4) on the connection to uri's origin, opened
 * as rc_request would (its path and query are ignored), asking for
 * Custody when custody is non-zero. A peer that stays silent for the
 * session's ping_timeout_ms is declared dead: cb gets RC_ERR_PEER_DEAD.
 * cb is called exactly once, never from inside this call. Returns what
 * rc_request returns.
 */
rc_err rc_ping(rc_context *ctx, const char *uri, const rc_request_opts *opts,
               int custody, rc_ping_cb cb, void *arg);

/*
 * Sends a request back to the peer that sent req, over the same connection
 * (RFC 8323 lets either end send requests: this is how a server reaches a
 * device that connected to it from behind a NAT). path is "/a/b?q=1"
 * (decomposed like a URI's path and query; no Uri-Host or Uri-Port). req
 * must still be valid: inside its handler, or deferred and unanswered.
 * Same callback rules and errors as rc_request, plus RC_ERR_STATE when
 * req is no longer valid or its connection is gone.
 */
rc_err rc_request_back(rc_xreq *req, uint8_t method, const char *path,
                       const rc_request_opts *opts, rc_request_cb cb,
                       void *arg);

/* The connection an incoming request came in on (for rc_conn_tls and
 * rc_tls_peer_info: who the peer is), or NULL when it is gone. Valid while
 * req is. */
rc_conn *rc_xreq_conn(const rc_xreq *req);

/* ---- large bodies (RFC 7959, BERT RFC 8323 §6) and observe (RFC 7641) ----
 * Block-wise transfer is automatic both ways: a handler answers with a
 * body of any size (rc_respond), or from a file-like source
 * (rc_respond_source); rc_request follows Block2 and sends Block1. See
 * exchange.h for the rules. */

/* Largest upload (Block1) reassembled for res; over it the client gets
 * 4.13 with Size1 (RFC 7959 §2.9.3). 0: the exchange default. Returns 0
 * or RC_ERR_INVAL. */
rc_err rc_resource_body_limit(rc_resource *res, uint64_t max);

/* Called when a Block1 upload to res starts (first block): call
 * rc_xreq_body_sink(req, ...) to receive the body in order without
 * holding it, answer to refuse, or do nothing to reassemble. The method's
 * handler runs once the last block is in. */
typedef void (*rc_body_start_fn)(rc_context *ctx, rc_resource *res,
                                 rc_xreq *req, void *user);
rc_err rc_resource_on_body(rc_resource *res, rc_body_start_fn fn);

/* Answers from a source read block by block (files of any size); see
 * rc_exchange_respond_source. content_format -1: none; etag may be NULL.
 * src->close runs before this returns. */
rc_err rc_respond_source(rc_xreq *req, uint8_t code, int content_format,
                         const uint8_t *etag, size_t etag_len,
                         const rc_body_source *src);

/* For rc_fd_read: read from where the descriptor stands (a pipe). */
#define RC_FD_STREAM UINT64_MAX
/* What a file-backed rc_body_source's read needs: up to cap bytes of fd
 * from offset off (pread; RC_FD_STREAM: read), again after EINTR and
 * short reads. Returns the count (under cap only at the end of the file)
 * or RC_ERR_IO. */
rc_ssize rc_fd_read(int fd, uint64_t off, uint8_t *buf, size_t cap);

/* Makes res observable (RFC 7641): GET with Observe=0 registers the
 * client (per connection and token), "obs" appears in /.well-known/core.
 * Returns 0 or RC_ERR_NOMEM. */
rc_err rc_resource_set_observable(rc_resource *res);

/*
 * Notifies every observer of res: its GET handler renders the current
 * representation (once per distinct request; the handler must answer at
 * once), and each observer gets it with its token and a larger Observe
 * number. A plain coap+tcp connection with nothing unsent gets the
 * round's messages for its observers at once, in one write from where
 * they were framed, the first time in a loop turn; otherwise (and for the
 * turn's later rounds) they are queued behind its output and written at
 * the end of the loop's turn (its check phase, or its prepare phase when
 * that comes first): at most two writes per connection per turn, however
 * many notifies of this or other resources ran in it. Observers whose render is not 2.xx
 * are removed after that last notification (RFC 7641 §3.2). Returns 0, or
 * RC_ERR_STATE when res has no GET handler.
 */
rc_err rc_resource_notify(rc_resource *res);

/* What the context's notify rounds did: rounds run, notifications
 * sent or queued, connection flushes (writes at a turn's end) they led
 * to, direct writes (a connection's run written at once), and notifications
 * skipped because their connection's unsent output was already past
 * RC_NOTIFY_BACKLOG_MAX (a peer that does not read; once its unsent
 * output is under the bound again, each skipped observation is sent the
 * resource's current state, counted in caught_up). */
#define RC_NOTIFY_BACKLOG_MAX (256u * 1024u)
typedef struct rc_notify_stats {
  uint64_t rounds;
  uint64_t notifications;
  uint64_t flushes;
  uint64_t skipped;
  uint64_t caught_up; /* skipped observations sent the current state once
                         their connection drained under the bound */
  uint64_t direct;    /* runs written straight to their connection */
} rc_notify_stats;
void rc_context_notify_stats(const rc_context *ctx, rc_notify_stats *out);
/* Current number of observers of res. */
size_t rc_resource_observers(const rc_resource *res);

/* Client side of observe: a handle that keeps an observation alive. */
typedef struct rc_observation rc_observation;

/*
 * Observes uri: cb gets every notification (status 0, resp). On
 * connection loss it gets status < 0 with a detail as a notice; the
 * observation then reconnects with back-off (1 s doubling to 30 s) and
 * registers again (the handle stays valid). When the server releases the
 * connection (RFC 8323 §5.5) that is no loss: the observation registers
 * again at once on a new connection (to the Alternative-Address with
 * follow_release, else to the same origin after the Hold-Off) and cb is
 * not told. A final answer that is not a
 * notification (4.04, 2.05 without Observe) is delivered with status 0
 * and ends it (the handle stays valid until rc_observe_cancel). Returns 0
 * and *out, or rc_request's errors.
 */
rc_err rc_observe(rc_context *ctx, const char *uri, const rc_request_opts *opts,
                  rc_request_cb cb, void *arg, rc_observation **out);
/* The re-registration back-off of obs: from min_ms doubling to max_ms
 * (0: the default 1000 / 30000). Returns 0 or RC_ERR_INVAL (min > max). */
rc_err rc_observe_backoff(rc_observation *obs, uint32_t min_ms,
                          uint32_t max_ms);
/* Over coap:// and coaps:// (no connection tells of a server that
 * crashed and came back without its observers), on: when a notification's
 * Max-Age (default 60 s) plus half of it (at least 2 s) passes without
 * another, obs registers again (RFC 7641 §3.3.1). Off by default (the
 * proxy's relays do this themselves). NULL ok. */
void rc_observe_refresh(rc_observation *obs, int on);
/* Deregisters (GET with Observe=1, RFC 8323 §7.4) and frees obs. NULL ok.
 * rc_context_free frees the observations still open (do not cancel them
 * after that). */
void rc_observe_cancel(rc_observation *obs);
/* Registrations made (1 after the first; more after reconnects). */
unsigned rc_observe_registrations(const rc_observation *obs);

/* The transport kind for a URI scheme, or -1 (UDP, WebRTC: not here). */
int rc_scheme_conn_kind(rc_scheme scheme);

#ifdef __cplusplus
}
#endif
#endif
