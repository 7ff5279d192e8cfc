/*
 * The transport chain: one session on top of an ordered list of filters,
 * sans-I/O. The caller owns the socket and the clock; the chain owns the
 * filters, the session, the output queue, the feed loop, batching, the
 * end of the stream and the shutdown order:
 *
 *   socket bytes  -> rc_chain_recv()  -> f[0] -> f[1] ... -> session
 *   socket writes <- rc_chain_pull()  <- f[0] <- f[1] ... <- session
 *
 * f[0] is the bottom filter (next to the socket). With no filters the
 * session's own output is handed out in place (plain TCP: zero copy).
 * The same chain serves a TCP connection (transport/conn.c on libuv), the
 * load generator (tools/rcoap-bench on epoll), the fuzzers and tests (in
 * memory), and a peer of a UDP socket: with RC_CHAIN_DATAGRAM each
 * rc_chain_recv() is one datagram and each rc_chain_pull() hands out one
 * datagram.
 *
 * Typical driver:
 *   rc_chain_new(&ch, &cfg, session, &cb, user)      session is taken over
 *   rc_chain_push(ch, f) for each filter, bottom first
 *                   (make f with rc_chain_next_sink(ch) as its sink)
 *   rc_chain_start(ch, now)                         on connect
 *   rc_chain_recv(ch, bytes, n, now)                on every read
 *   rc_chain_eof(ch, now)                           on FIN
 *   while (rc_chain_pull(ch, &p, &n) == RC_OK) { write; rc_chain_consume }
 *   rc_chain_expiry(ch) / rc_chain_handle_expiry(ch, now)   timers
 *   rc_chain_close(ch)   orderly end: drain, then shutdown top-down
 *   rc_chain_end(ch); rc_chain_free(ch)
 *
 * Callbacks run synchronously inside these calls. Nothing here blocks,
 * allocates per message (the output queue grows and is kept), or reads a
 * clock.
 */
#ifndef RCOAP_TRANSPORT_CHAIN_H
#define RCOAP_TRANSPORT_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "rcoap/common.h"
#include "rcoap/session.h"
#include "rcoap/transport_filter.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most filters in one chain (ICE/UDP, DTLS, SCTP, DCEP fit). */
#define RC_CHAIN_MAX_FILTERS 6
/* Most stream bytes handed to the top filter in one send(). */
#define RC_CHAIN_SLICE (64u * 1024u)

typedef struct rc_chain rc_chain;

/* How a chain ended (rc_chain_callbacks.on_end). */
typedef enum rc_chain_end_how {
  RC_CHAIN_END_ERROR = 1, /* a filter failed (bad TLS, WS protocol error) */
  RC_CHAIN_END_PEER = 2,  /* the peer closed a layer in order (close_notify,
                             WS close) */
  RC_CHAIN_END_DONE = 3   /* a filter served the peer by itself before it
                             opened and is done (plain HTTP on the WS port) */
} rc_chain_end_how;

typedef struct rc_chain_callbacks {
  /* Every filter is open: the session's output flows from now on. */
  void (*on_open)(void *user);
  /* The chain ended; err is the filter's rc_err (ERROR) or 0, detail a
   * sentence naming the layer (valid during the call). Called once. */
  void (*on_end)(void *user, rc_chain_end_how how, rc_err err,
                 const char *detail);
  /* A filter's EV_ACTIVE (may be NULL): pull the chain now; waiting is
   * its arg (1: no handshake deadline while it waits, 0: a new one). */
  void (*on_active)(void *user, int waiting);
} rc_chain_callbacks;

enum {
  /* The socket carries datagrams: one recv() is one datagram, and the
   * output queue keeps datagram boundaries. */
  RC_CHAIN_DATAGRAM = 1,
  /* The driver sends file runs (rc_chain_pull_file, sendfile): a stream
   * chain that opens with no filters lets its session queue them
   * (rc_session_set_files); through filters the bytes are read instead. */
  RC_CHAIN_FILES = 2
};

typedef struct rc_chain_config {
  const rc_mem *mem;  /* NULL: rc_mem_default() */
  unsigned flags;     /* RC_CHAIN_* */
  /* Filter output queued before the session's output is left in the
   * session (back-pressure); 0: RC_SESSION_DEFAULT_OUT_HIGH_WATER. */
  size_t high_water;
  /* An output queue larger than this is freed once written; 0: keep it
   * (a load generator wants no allocation per request). */
  size_t keep;
} rc_chain_config;

/*
 * Creates a chain over session s, which it owns from now on (freed by
 * rc_chain_free, also when this fails). cb may be NULL.
 * Returns 0 and *out, or RC_ERR_INVAL / RC_ERR_NOMEM.
 */
rc_err rc_chain_new(rc_chain **out, const rc_chain_config *cfg, rc_session *s,
                    const rc_chain_callbacks *cb, void *user);

/* The sink to give the constructor of the next filter to push. */
rc_filter_sink rc_chain_next_sink(rc_chain *ch);

/*
 * Puts f on top of the filters pushed so far (bottom first). The chain
 * owns f from now on, also on error. Before rc_chain_start() only.
 * Returns 0, RC_ERR_LIMIT (RC_CHAIN_MAX_FILTERS) or RC_ERR_STATE.
 */
rc_err rc_chain_push(rc_chain *ch, rc_filter *f);

/*
 * The transport below is up (TCP connected, the peer's first datagram).
 * Starts the bottom filter; each filter's EV_OPEN starts the next, and the
 * top one's opens the chain (on_open). With no filters the chain opens
 * here. Returns 0 or the error also reported through on_end.
 */
rc_err rc_chain_start(rc_chain *ch, rc_time now);

/* Bytes (one datagram) from the socket. Returns 0, or an error after which
 * nothing more is decoded (on_end or the session's on_closed told why). */
rc_err rc_chain_recv(rc_chain *ch, const uint8_t *data, size_t len,
                     rc_time now);

/* With no filters: where the session's next stream bytes go and how many
 * (rc_session_read_room), so the caller may read them into place and pass
 * them to rc_chain_recv; 0 with filters or when no frame is half read. */
size_t rc_chain_read_room(rc_chain *ch, uint8_t **at);

/* The stream below ended (TCP FIN): the bottom filter decides whether
 * that is a clean end or a truncation. */
rc_err rc_chain_eof(rc_chain *ch, rc_time now);

/*
 * The next bytes to write: moves the session's queued output through the
 * filters (batched: one flush per filter per call, up to the high-water
 * mark), streams a filter's own output (HTTP body) once the queue is
 * empty, and after rc_chain_close() shuts the filters down top to bottom
 * once the session has nothing left. Stream: everything queued, in one
 * run. Datagram: exactly one datagram. The bytes stay at the same address
 * until consumed, so an asynchronous write may use them in place; while
 * they are out, new output is queued behind them.
 * Returns 0 and *data and *len, RC_ERR_NEED_MORE when nothing is queued,
 * or RC_ERR_FILE_NEXT when a file run is next (RC_CHAIN_FILES).
 */
rc_err rc_chain_pull(rc_chain *ch, const uint8_t **data, size_t *len);

/* RC_CHAIN_FILES: when rc_chain_pull returned RC_ERR_FILE_NEXT (a file
 * run is next), its descriptor, offset and length
 * (rc_session_pending_file); rc_chain_consume marks its bytes sent. Else
 * RC_ERR_NEED_MORE. */
rc_err rc_chain_pull_file(rc_chain *ch, int *fd, uint64_t *off, size_t *len);

/* Marks n bytes of the last pull as written (stream: any n up to its
 * length; datagram: the whole datagram). Returns 0 or RC_ERR_INVAL. */
rc_err rc_chain_consume(rc_chain *ch, size_t n);

/* Filter output queued for the socket (the read back-pressure measure). */
size_t rc_chain_queued(const rc_chain *ch);
/* Everything not yet written: the queue plus the session's output that
 * can still reach the socket. */
size_t rc_chain_unsent(const rc_chain *ch);

/* Earliest deadline of the session and the filters, or RC_TIME_NEVER;
 * and the work due at now. */
rc_time rc_chain_expiry(const rc_chain *ch);
void rc_chain_handle_expiry(rc_chain *ch, rc_time now);

/* Orderly end: the queued output is still fed; then each filter is shut
 * down, top first (WS close, then TLS close_notify). The caller closes
 * the session (rc_session_close) with its reason. */
void rc_chain_close(rc_chain *ch);

/* The connection is going: nothing more is decoded, filters give back
 * shared budgets at once (the session's share is given back by its
 * rc_session_close). Only rc_chain_free() may follow. */
void rc_chain_end(rc_chain *ch);

/*
 * Parking (conn.c folds an idle connection): rc_chain_park writes the
 * session's record into rec and frees the chain, filters and session, when
 * rc_chain_parkable says nothing would be lost: the chain open and not
 * closing, no output queued or lent, the session parkable
 * (rc_session_parkable), and every filter able to park. A filter folds
 * only through an export/import pair of its own; none has one yet, so
 * today only a chain without filters (coap+tcp) parks.
 * rc_chain_unpark makes an open chain (started, no on_open) over s, a
 * session rebuilt with rc_session_unpark; s is taken over as by
 * rc_chain_new. Returns RC_ERR_STATE (not parkable) / as rc_chain_new.
 */
int rc_chain_parkable(const rc_chain *ch);
/* Whether ch could ever park (its filters all can): a connection whose
 * chain cannot stops trying. */
int rc_chain_park_capable(const rc_chain *ch);
rc_err rc_chain_park(rc_chain *ch, rc_session_parked *rec);
rc_err rc_chain_unpark(rc_chain **out, const rc_chain_config *cfg,
                       rc_session *s, const rc_chain_callbacks *cb,
                       void *user);

/* Destroys the filters (top first) and the session. NULL is ignored. */
void rc_chain_free(rc_chain *ch);

rc_session *rc_chain_session(const rc_chain *ch);
int rc_chain_is_open(const rc_chain *ch);  /* on_open was reported */
int rc_chain_is_dead(const rc_chain *ch);  /* a filter failed or ended */
size_t rc_chain_count(const rc_chain *ch); /* filters */
/* Filter i (0 = bottom), or NULL. */
rc_filter *rc_chain_filter(const rc_chain *ch, size_t i);
/* The lowest filter whose ops->name is name, or NULL. */
rc_filter *rc_chain_find(const rc_chain *ch, const char *name);
/* The label of the lowest filter not yet open ("TLS", "WebSocket"), or
 * NULL when all are (for "... handshake not done" sentences). */
const char *rc_chain_waiting(const rc_chain *ch);

#ifdef __cplusplus
}
#endif
#endif
