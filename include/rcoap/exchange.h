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

#include "rcoap/budget.h"
#include "rcoap/codec_block.h"
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

/* Most Block2 requests one transfer keeps in flight (rc_exchange_req_opts
 * window). */
#define RC_EXCHANGE_WINDOW_MAX 16u
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
  /*
   * Optional: the first block of a Block1 upload (RFC 7959 §2.5) arrived
   * (rc_xreq_msg shows it, with Block1 NUM 0 and M 1). The callee may
   * answer it now (a refusal: 4.01, 4.04, 4.05, 4.13 ...), stream the
   * body with rc_xreq_body_sink(), or set a size limit with
   * rc_xreq_body_limit(); otherwise the body is reassembled up to the
   * block config's body_max. on_request then sees the whole body once the
   * last block is in.
   */
  void (*on_body_start)(void *user, rc_exchange *x, rc_xreq *req);
  /*
   * Optional: a fixed answer for a plain request, before any request
   * record is made: one the exchange has nothing to do for (no option it
   * decodes, checks or refuses: only Uri-Path, Uri-Query and elective
   * options below 64; the unanswered limit not reached). Returns the
   * answer's bytes after the token (as rc_session_send_tail takes them;
   * a payload of at most 1024 bytes) and sets *code (a response code),
   * or NULL to hand the request to on_request as usual. It must only
   * look (the request may still go to on_request after it: an answer the
   * peer cannot take goes the usual way). The answer is queued on the
   * session during rc_exchange_on_message, without on_output: the owner
   * flushes after its input as it does for any message it handles.
   */
  const rc_msg_tail *(*on_plain)(void *user, const rc_msg *m, uint8_t *code);
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
void rc_exchange_free(rc_exchange *x);

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

/*
 * rc_exchange_respond for an answer that is the same for every request:
 * tail holds resp's options and payload already encoded (session.h
 * rc_msg_tail), written after the header and token as they are when the
 * answer goes out whole; resp is used when it does not (Block2, Observe,
 * a capture). Same returns as rc_exchange_respond.
 */
rc_err rc_exchange_respond_tail(rc_xreq *req, const rc_outmsg *resp,
                                const rc_msg_tail *tail);

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

/* Non-zero when x holds nothing a later message could need (no request
 * outstanding either way, no Block1 upload, no cached Block2 answer, no
 * Q-Block set, no observation of ours): freeing it and making a new one
 * for the same session's successor changes nothing the peer can see.
 * The connection can then be parked (transport_conn.h). */
int rc_exchange_idle(const rc_exchange *x);
/* Fails requests whose timeout passed with RC_ERR_TIMEOUT. */
void rc_exchange_handle_expiry(rc_exchange *x, rc_time now);

/* ---- bodies of any size: block-wise (RFC 7959) and BERT (RFC 8323 §6) ----
 *
 * Server: rc_exchange_respond() takes a body of any size. When it does not
 * fit in one message to this peer (its Max-Message-Size), or the request
 * carried Block2, the exchange answers block-wise: Block2 sized to the
 * peer (the request's SZX when smaller than ours; BERT when the peer's CSM
 * offered Block-Wise-Transfer with Max-Message-Size > 1152), an ETag
 * (the handler's, or a hash of the body) on every block and Size2 on the
 * first block or when asked. The body is kept in a small per-connection
 * cache (bounded, expiring) so that requests for the next blocks are
 * answered without calling the handler again. A streaming source
 * (rc_exchange_respond_source) is read block by block on demand and never
 * held.
 *
 * Block1 uploads are reassembled (2.31 Continue per block, 4.08 out of
 * order, 4.13 with Size1 over the limit, Request-Tag keeping concurrent
 * uploads apart) or streamed into a sink; on_request sees the whole body.
 *
 * Client: rc_exchange_request() sends a body of any size in Block1 (from
 * memory or a source), follows Block2 to the end (reassembling or into a
 * sink), and observes (RFC 7641).
 *
 * Q-Block (RFC 9177): a request with Q-Block2 gets the body in sets of
 * RC_QBLOCK_MAX_PAYLOADS responses, Q-Block1 uploads are reassembled in
 * any order (2.31 per whole set, 4.08 naming the missing blocks); the
 * client side with rc_exchange_req_opts.qblock.
 */

/* Marks an unknown size in rc_body_source.size / sink totals. */
#define RC_BODY_SIZE_UNKNOWN UINT64_MAX
/* How long a cached body or an unfinished upload waits for its next block
 * (RFC 7959 leaves it open; 60 s is generous for loopback and LAN). */
#define RC_EXCHANGE_BLOCK_TTL_MS 60000u
/* Cached bodies per exchange (concurrent Block2 transfers served from
 * memory; more evict the oldest, whose next block calls the handler again). */
#define RC_EXCHANGE_CACHE_SLOTS 8u
/* Q-Block (RFC 9177 §7.2, its defaults): blocks sent back to back in one
 * set; the wait after a set before the next one unless the peer asks
 * (Q-Block2 "continue" request, 2.31 for Q-Block1); how long a receiver
 * waits after the last block before it names the missing ones; how often
 * it names them without progress before it gives up. */
#define RC_QBLOCK_MAX_PAYLOADS 10u
#define RC_QBLOCK_NON_TIMEOUT_MS 2000u
#define RC_QBLOCK_NON_RECEIVE_TIMEOUT_MS 4000u
#define RC_QBLOCK_NON_MAX_RETRANSMIT 4u
/* Q-Block2 options read from one request (more are ignored: the client
 * asks again for what it still misses). */
#define RC_QBLOCK_LIST_MAX 16u

/* Seconds a client is told to wait (Max-Age of a 5.03) when a limit below
 * refuses its request for now. */
#define RC_EXCHANGE_RETRY_AFTER_S RC_SESSION_RETRY_AFTER_S

/* A body read on demand. read fills buf[0..cap) from byte off and returns
 * the count (cap unless the body ends first) or a negative rc_err; close
 * (may be NULL) is called once when the exchange is done with it. file
 * (may be NULL): a descriptor whose bytes at offset off are the body's at
 * off (the body is a whole regular file), or -1; a server answering over a
 * transport that sends files itself (plain coap+tcp, sendfile) then
 * queues the block as a run of that file (a dup of the descriptor) instead
 * of reading it, so the body's bytes never pass through memory. */
typedef struct rc_body_source {
  rc_ssize (*read)(void *arg, uint64_t off, uint8_t *buf, size_t cap);
  void (*close)(void *arg);
  void *arg;
  uint64_t size; /* total bytes, or RC_BODY_SIZE_UNKNOWN (client only) */
  int (*file)(void *arg);
} rc_body_source;

/* A body delivered in order as it arrives: write gets the next bytes
 * (off = bytes delivered so far) and the announced total (Size1/Size2, or
 * RC_BODY_SIZE_UNKNOWN); returning non-zero stops the transfer with that
 * error. end (may be NULL) is called once: status 0 after the last block,
 * or the reason the transfer stopped. */
typedef struct rc_body_sink {
  rc_err (*write)(void *arg, uint64_t off, const uint8_t *data, size_t len,
                  uint64_t total);
  void (*end)(void *arg, rc_err status);
  void *arg;
} rc_body_sink;

typedef struct rc_exchange_block_config {
  uint8_t max_szx;    /* largest non-BERT SZX we send or ask for (0..6) */
  uint8_t bert;       /* use BERT when the peer offers it */
  uint16_t bert_file_kib; /* payload per BERT message, in 1024-byte units,
                             of a body whose blocks go out as file runs
                             (rc_body_source.file over a session that
                             sends files: no block is ever in this
                             process, so a larger one costs no memory here
                             and saves the client round trips); further
                             bounded by the peer's Max-Message-Size. 0:
                             bert_max. (KiB: it fits beside the bytes
                             above, every connection holds a copy.) */
  uint32_t bert_max;  /* payload bytes per BERT message (multiple of 1024;
                         further bounded by the peer's Max-Message-Size) */
  size_t body_max;    /* largest body reassembled in memory: Block1 server
                         side, Block2 client side without a sink */
  size_t cache_max;   /* bytes of cached bodies per exchange */
  uint32_t ttl_ms;    /* see RC_EXCHANGE_BLOCK_TTL_MS */
  uint32_t uploads_max; /* Block1 uploads in progress at once per exchange
                           (Request-Tag keeps them apart); the first block
                           of one more gets 5.03 with Max-Age */
  size_t unrequested_max; /* largest body a response carries when the
                             request asked for no block size (no Block2);
                             a larger one goes block-wise from block 0 in
                             blocks of at most this (RFC 7959 §2.4 lets a
                             server choose Block2 unasked). For peers that
                             receive less than their CSM's Max-Message-Size
                             says (libcoap up to 4.3.5 over WebSockets:
                             1472 bytes, docs/INTEROP.md). 0: no such cap;
                             else at least 16. */
} rc_exchange_block_config;

/* Defaults: max_szx 6, bert on, bert_max 4 MiB, bert_file_kib 0
 * (bert_max), body_max 64 MiB,
 * cache_max 256 MiB, ttl RC_EXCHANGE_BLOCK_TTL_MS, uploads_max 8,
 * unrequested_max 0 (none). */
void rc_exchange_block_config_default(rc_exchange_block_config *cfg);
/* Replaces x's block config (copied). Returns 0 or RC_ERR_INVAL. */
rc_err rc_exchange_set_block_config(rc_exchange *x,
                                    const rc_exchange_block_config *cfg);

/*
 * Takes the memory of reassembled Block1 bodies and cached Block2 bodies
 * from b (not owned; it must outlive x; NULL: no shared bound), on top of
 * the per-exchange bounds above. When b refuses: a Block2 body is not
 * cached (its next block calls the handler again); an upload gets 4.13
 * with Size1 = the budget's limit if its body could never fit, else 5.03
 * Service Unavailable with Max-Age RC_EXCHANGE_RETRY_AFTER_S.
 * Returns 0, or RC_ERR_STATE while x holds body memory already.
 */
rc_err rc_exchange_set_budget(rc_exchange *x, rc_budget *b);

/* Default for rc_exchange_set_unanswered_max. */
#define RC_EXCHANGE_UNANSWERED_MAX 1024u
/*
 * At most n incoming requests may be deferred (unanswered) at once; while
 * that many are, a new request is answered 5.03 Service Unavailable with
 * Max-Age RC_EXCHANGE_RETRY_AFTER_S without calling on_request, so that
 * a peer cannot make us hold unbounded state on one connection.
 * n 0: RC_EXCHANGE_UNANSWERED_MAX.
 */
void rc_exchange_set_unanswered_max(rc_exchange *x, size_t n);
/* on: a request's unrecognized critical option that is safe to forward,
 * in a request that names no proxy target, no longer gets the exchange's
 * 4.02 (or Reset): the request reaches on_body_start / on_request, which
 * decide (rc_xreq_unknown_forwardable, rc_xreq_refuse_option), so that a
 * reverse proxy can forward it. Off by default. */
void rc_exchange_set_forward_unknown(rc_exchange *x, int on);

/*
 * Answers req from a streaming source: like rc_exchange_respond, but the
 * body is read from src (whose size must be known) only for the block
 * this request asks for, and src->close is called before this returns.
 * The handler is called again for every later block, so it must give the
 * same ETag (in resp's options, e.g. from size+mtime) each time.
 * Returns rc_exchange_respond's errors, or the source's read error.
 */
rc_err rc_exchange_respond_source(rc_xreq *req, const rc_outmsg *resp,
                                  const rc_body_source *src);

/* The request's Observe value (0 register, 1 deregister), or -1. */
int rc_xreq_observe(const rc_xreq *req);
/* The request's Block2 option: 1 and *b, or 0 when absent. */
int rc_xreq_block2(const rc_xreq *req, rc_block *b);
/* The token of req (valid as long as req). */
const uint8_t *rc_xreq_token(const rc_xreq *req, size_t *len);
/* A 64-bit key of the request's identity: code, options other than
 * Observe, Block1/2, Size1/2 (and a FETCH payload). Equal keys mean "the
 * same resource representation requested". */
uint64_t rc_xreq_key(const rc_xreq *req);
/* Whether the request carries option num: for numbers below 64 (Uri-Path,
 * Accept, Proxy-Uri, Proxy-Scheme, ...) read from the one scan the exchange
 * made of its options on arrival, without walking them again; larger
 * numbers are looked up in the message. */
int rc_xreq_has_opt(const rc_xreq *req, uint16_t num);
/* The first critical option in req that the exchange does not recognize
 * but that is safe to forward (RFC 7252 §5.4.6), when req names no proxy
 * target (Proxy-Uri, Proxy-Scheme); 0 when there is none. With
 * rc_exchange_set_forward_unknown on, such a request reaches
 * on_body_start / on_request, which refuse it with
 * rc_xreq_refuse_option unless it goes on to another server (a reverse
 * proxy's route, RFC 7252 §5.7.2: "A CoAP-to-CoAP proxy MUST forward to
 * the origin server all Safe-to-Forward options that it does not
 * recognize"). An unsafe one, or one in a proxy request, never gets
 * here: the exchange answers 4.02 itself. */
uint16_t rc_xreq_unknown_forwardable(const rc_xreq *req);
/* Answers req as the exchange answers an unrecognized critical option num
 * (RFC 7252 §5.4.1): 4.02 with a diagnostic, or over UDP a Reset for a
 * NON request. Returns 0 or the error of sending. */
rc_err rc_xreq_refuse_option(rc_xreq *req, uint16_t num);
/* Whether the request carries any option n < 64 whose bit (1 << n) is set
 * in mask: one test for several rare options (Proxy-Uri, Accept, ...). */
int rc_xreq_has_any(const rc_xreq *req, uint64_t mask);
/* Makes the answer to req a notification: 2.xx answers carry Observe=seq
 * (RFC 7641 §4.1); others go without it. */
void rc_xreq_set_observe(rc_xreq *req, uint32_t seq);
/* After req was answered inside on_request: the response code (0 before). */
uint8_t rc_xreq_response_code(const rc_xreq *req);
/* Inside on_body_start: stream the upload into sink (copied) instead of
 * reassembling it; on_request later gets the last block's message with no
 * payload (rc_xreq_body_streamed true). Returns 0 or RC_ERR_STATE. */
rc_err rc_xreq_body_sink(rc_xreq *req, const rc_body_sink *sink);
/* Inside on_body_start: hand the upload on block by block instead of
 * reassembling it. Every block in order (this first one too) reaches
 * on_request as a request of its own: its payload the block, its Block1
 * as sent; the handler answers each one (2.31 Continue for more; it may
 * defer that answer, and the client waits for it). Blocks out of order
 * still get 4.08. arg is the upload's (rc_xreq_upload_arg); end (may be
 * NULL) is called once when the upload is over: RC_OK after the last
 * block's on_request, else why it stopped (RC_ERR_TIMEOUT after the block
 * TTL, RC_ERR_CANCELLED when the client starts over, the connection's
 * reason when it goes). Not for Q-Block1. Returns 0 or RC_ERR_STATE. */
rc_err rc_xreq_body_blocks(rc_xreq *req, void (*end)(void *arg, rc_err status),
                           void *arg);
/* In on_request: the arg of the block-by-block upload req belongs to, or
 * NULL. */
void *rc_xreq_upload_arg(const rc_xreq *req);
/* Inside on_body_start: refuse bodies over max bytes (4.13 with Size1).
 * Returns 0 or RC_ERR_STATE. */
rc_err rc_xreq_body_limit(rc_xreq *req, uint64_t max);
/* on_request of a streamed upload: 1 (the body went to the sink). */
int rc_xreq_body_streamed(const rc_xreq *req);

/*
 * Sends a notification (RFC 7641 §4.2) for an observation registered on x
 * with token (token_len bytes): resp with Observe=seq added, in Block2
 * when it does not fit (first block only; the client fetches the rest
 * with key's request, RFC 7959 §3.4: the body is cached under key).
 * Returns 0, RC_ERR_STATE once a Release was sent or received on the
 * connection (RFC 8323 §5.5: nothing new on a connection being released),
 * or the session's errors.
 */
rc_err rc_exchange_notify(rc_exchange *x, const uint8_t *token,
                          size_t token_len, uint64_t key, uint32_t seq,
                          const rc_outmsg *resp);

/*
 * Request records shared by many exchanges (e.g. every connection of one
 * loop): a record lives from a request to its answer, and between requests
 * it waits here instead of in its exchange, so an idle connection holds
 * none and a busy one allocates none. At most RC_XREQ_POOL_MAX wait. The
 * pool and the exchanges that use it share one allocator and one thread;
 * free the pool after them. Without a pool an exchange allocates a record
 * per request and frees it when answered.
 */
#define RC_XREQ_POOL_MAX 64
typedef struct rc_xreq_pool rc_xreq_pool;
rc_err rc_xreq_pool_new(rc_xreq_pool **out, const rc_mem *mem);
void rc_xreq_pool_free(rc_xreq_pool *p);
/* Returns 0, or RC_ERR_INVAL when p has another allocator than x. */
rc_err rc_exchange_set_req_pool(rc_exchange *x, rc_xreq_pool *p);

/* While held, queued messages do not call on_output (the owner flushes
 * once after a batch, e.g. a notification round). */
void rc_exchange_hold_output(rc_exchange *x, int hold);

/*
 * A request record whose answer is captured instead of sent: for
 * rendering one representation once and sending it to many observers.
 * rc_xcapture_begin returns an rc_xreq for msg (a request view that must
 * stay valid until the handler returns) bound to x (for
 * rc_xreq_exchange); the handler answers it as usual (it cannot defer).
 * rc_xcapture_result returns the captured answer (valid until the next
 * begin or free), or NULL when the handler gave none. Buffers are reused:
 * steady-state captures allocate nothing.
 */
typedef struct rc_xcapture rc_xcapture;
rc_err rc_xcapture_new(rc_xcapture **out, const rc_mem *mem);
void rc_xcapture_free(rc_xcapture *c);
rc_xreq *rc_xcapture_begin(rc_xcapture *c, rc_exchange *x, const rc_msg *msg);
const rc_outmsg *rc_xcapture_result(const rc_xcapture *c);
/*
 * One notification for many observers: after the handler answered, encodes
 * the captured answer's options with Observe=seq once (a 2.xx answer; RFC
 * 7641 §4.2). rc_exchange_notify_captured then writes it for one observer:
 * the option region and the payload are copied as they are, only the token
 * (and the header's TKL) is that observer's. An answer that needs
 * block-wise treatment is not prepared and goes through rc_exchange_notify.
 * Valid until the next rc_xcapture_begin. Returns 0, RC_ERR_STATE (no
 * answer captured) or RC_ERR_NOMEM.
 */
rc_err rc_xcapture_prepare_notify(rc_xcapture *c, uint32_t seq);
rc_err rc_exchange_notify_captured(rc_exchange *x, const uint8_t *token,
                                   size_t token_len, uint64_t key,
                                   uint32_t seq, const rc_xcapture *c);
/* The same for n observers on x, tokens[i] of tkls[i] bytes each, whose
 * requests share key: on a stream the n notifications are queued as one
 * piece (rc_session_send_tails). *sent (may be NULL): how many went. */
rc_err rc_exchange_notify_captured_n(rc_exchange *x,
                                     const uint8_t *const *tokens,
                                     const size_t *tkls, size_t n,
                                     uint64_t key, uint32_t seq,
                                     const rc_xcapture *c, size_t *sent);

/* rc_exchange_notify_captured_n's n notifications framed into dst[0..cap)
 * instead of queued (rc_session_frame_tails: *len bytes, up to 16 more
 * written past them), for the owner to write to the connection itself
 * while nothing is queued on it. RC_ERR_NOBUF: not framed here (no room,
 * an answer that was not prepared, not a plain stream): use
 * rc_exchange_notify_captured_n. */
rc_err rc_exchange_notify_captured_frame(rc_exchange *x,
                                         const uint8_t *const *tokens,
                                         const size_t *tkls, size_t n,
                                         const rc_xcapture *c, uint8_t *dst,
                                         size_t cap, size_t *len);

/* ---- client requests with bodies of any size, and observe ---- */

typedef struct rc_exchange_req_opts {
  uint32_t timeout_ms;         /* per message exchanged; 0: default */
  /* Request body from a source instead of req->payload (Block1 when it
   * does not fit in one message). Copied; its close runs at the end. */
  const rc_body_source *body;
  /* Response body into a sink instead of memory; the final callback then
   * gets the last response with no payload. Copied. */
  const rc_body_sink *sink;
  /* Called after every block: bytes so far and the total (Size1/Size2,
   * or RC_BODY_SIZE_UNKNOWN); up = 1 while uploading. */
  void (*on_progress)(void *arg, int up, uint64_t done, uint64_t total);
  void *progress_arg;
  uint8_t no_bert;             /* never BERT, even when the peer offers it */
  uint8_t block_szx;           /* 0: the block config's max_szx; else
                                  SZX + 1 (1..7) for smaller blocks */
  /* Block2 requests in flight at once once a response turns out to be
   * block-wise (0 or 1: one at a time; at most RC_EXCHANGE_WINDOW_MAX).
   * Each has its own token; blocks that arrive ahead of their turn are
   * held (at most window - 1 of them) and the body still reaches the
   * sink, or memory, in order. Needs every block but the last to be the
   * first block's size, as a server that reads one file gives them. */
  uint8_t window;
  /* Observe (RFC 7641): register with Observe=0; cb is then called for
   * every notification (status 0, response carrying Observe) and a last
   * time when the observation ends (status < 0, or a response without
   * Observe / not 2.xx). End it with rc_exchange_cancel_observe. */
  uint8_t observe;
  /* Q-Block (RFC 9177), meant for UDP: a body that goes block-wise goes
   * in Q-Block1 sets (RC_QBLOCK_MAX_PAYLOADS at a time, the first block
   * CON and the rest NON, the blocks a 4.08 names sent again), a
   * GET/FETCH offers Q-Block2 and takes the body in sets, asking again
   * for the blocks it missed after RC_QBLOCK_NON_RECEIVE_TIMEOUT_MS; each
   * request with a token of its own. A server without Q-Block (4.02, or
   * a Reset to a NON block) gets the request again with Block1/Block2.
   * The body is held in memory until whole, even with a sink. Not with
   * observe. */
  uint8_t qblock;
  /* A proxy relays the response: an unrecognized critical option that is
   * safe to forward is kept, not a reason to reject it (RFC 7252 §5.7.1;
   * see rc_exchange_unknown_critical). */
  uint8_t relay;
} rc_exchange_req_opts;

/*
 * Sends a request; o (may be NULL: defaults) carries the timeout, a body
 * source or sink, progress, block size and Observe. Block-wise transfer is
 * automatic both ways: a payload or source larger than one message goes in
 * Block1 (Request-Tag, Size1, BERT when the peer offers it); a response in
 * Block2 is followed to the end and delivered whole (the first response's
 * options, the whole body as payload) or, with a sink, streamed. Options
 * Block1/Block2 given by the caller switch the automatic handling off
 * (manual control). *id (may be NULL) identifies the request for
 * rc_exchange_cancel / rc_exchange_cancel_observe. cb is called exactly
 * once (with Observe: once per notification and at the end), never from
 * inside this call; it gets RC_ERR_TIMEOUT when o->timeout_ms (0:
 * RC_EXCHANGE_DEFAULT_TIMEOUT_MS) passes without an answer,
 * RC_ERR_BLOCK_CHANGED when the ETag changes mid-transfer,
 * RC_ERR_ENTITY_TOO_LARGE over body_max, RC_ERR_CRITICAL_OPTION with the
 * response itself (resp not NULL, its code whatever it was: a 4.02 that
 * names the option it refuses is one) when that response carries a
 * critical option rcoap does not recognize (RFC 7252 §5.4.1; with
 * o->relay only an unsafe one). The response is rejected on the wire as
 * the transport says: a separate CON response over UDP gets a Reset
 * instead of its ACK, a NON one a Reset too (§4.3), a piggybacked one is
 * ignored (§4.2), and on TCP, TLS and WebSockets the session sends an Abort
 * and closes (RFC 8323 §5.6). An observation ends so too.
 * Returns 0 or RC_ERR_INVAL (not a request code, a source with a payload),
 * RC_ERR_CLOSED, RC_ERR_NOMEM, or a session error (RC_ERR_PEER_TOO_LARGE,
 * RC_ERR_PEER_RELEASE, RC_ERR_LIMIT, ...): on error nothing was sent and cb
 * is not called.
 */
rc_err rc_exchange_request(rc_exchange *x, const rc_outmsg *req,
                           const rc_exchange_req_opts *o, rc_time now,
                           rc_response_cb cb, void *arg, uint64_t *id);

/* The first option in m that is critical (RFC 7252 §5.4.6: odd number)
 * and that the exchange does not recognize (not in the codec's registry,
 * or OSCORE, which rcoap does not implement) or whose value length is
 * outside the registry's range (§5.4.3: treated like an unrecognized
 * one); only an unsafe one when unsafe_only. 0 when there is none. */
uint16_t rc_exchange_unknown_critical(const rc_msg *m, int unsafe_only);

/* The peer's CSM arrived: uploads held for it (their block size depends
 * on it) start now. The owner calls this from the session's on_csm. */
void rc_exchange_on_csm(rc_exchange *x, rc_time now);

/* Ends an observation: sends the deregistering GET (Observe=1, same token,
 * RFC 8323 §7.4 "a client MUST explicitly deregister") and forgets it; its
 * callback is not called again. Returns 0, RC_ERR_NOT_FOUND, or a session
 * error (the observation is forgotten anyway). */
rc_err rc_exchange_cancel_observe(rc_exchange *x, uint64_t id, rc_time now);

/* Fails every outstanding request with reason (the session ended) and
 * drops deferred incoming requests. The exchange stays usable only for
 * rc_exchange_free. */
void rc_exchange_fail_all(rc_exchange *x, rc_err reason);

/* UDP: the request (or observation) we sent with this token will never
 * be answered: the peer sent RST (RC_ERR_CONN_RESET) or never
 * acknowledged it (RC_ERR_TIMEOUT) (session.h on_lost). Its callback gets
 * reason now; an unknown token is ignored. */
void rc_exchange_lost(rc_exchange *x, const uint8_t *token, size_t token_len,
                      rc_err reason);

#ifdef __cplusplus
}
#endif
#endif
