/*
 * The CoAP message layer, sans-I/O: RFC 8323 for one reliable connection
 * (TCP, TLS, WebSockets, WebRTC data channels), and RFC 7252 for one UDP
 * peer (framing RC_FRAMING_UDP, src/session/udp.c) behind the same handle
 * and the same functions.
 *
 * On UDP there is no CSM, Release, Abort or Custody: the session is OPEN
 * from creation; rc_session_msg_end picks the message type and Message ID
 * (requests CON, or NON with udp.requests_non; a response piggybacked in
 * the ACK of its CON request, a separate CON after the empty ACK, NON for
 * a NON request, notifications NON with a CON every
 * udp.con_notify_interval_ms; a newer notification takes over the
 * retransmission of an older CON one to the same token, RFC 7641
 * §4.5.2), rc_session_pending hands out one whole
 * datagram at a time, rc_session_ping sends an Empty CON whose RST is the
 * Pong, release/abort just close, and on_lost reports a CON never
 * acknowledged or a RST. A CON queued outside rc_session_recv /
 * rc_session_handle_expiry / rc_session_ping starts its retransmission
 * timer at the next rc_session_handle_expiry (rc_session_expiry is 0
 * until then), since the session has no clock of its own. The
 * peer_* queries answer RFC 7252's fixed values (1152 bytes, no BERT,
 * 8-byte tokens, block-wise).
 *
 * An rc_session sits between a transport (which owns the socket and the
 * clock) and the exchange layer (which matches requests and responses).
 * The transport feeds it received bytes with the current time and drains
 * the bytes it queues; the session handles everything RFC 8323 §5 puts on
 * the connection itself: the CSM handshake, Ping/Pong and keepalive,
 * Release, Abort and Max-Message-Size in both directions. Every request and
 * response goes up through on_message(); the exchange layer writes its own
 * messages straight into the session's output buffer (rc_session_msg_begin
 * / rc_enc_* / rc_session_msg_end), so there is no copy and no allocation
 * per message in the steady state.
 *
 * The session never reads a clock, a socket or a random source. Time comes
 * in as rc_time arguments; the caller asks rc_session_expiry() for the next
 * deadline and calls rc_session_handle_expiry() when it has passed.
 *
 * Threading: one session belongs to one thread (its loop's). Callbacks run
 * synchronously inside rc_session_recv(), rc_session_handle_expiry() and the
 * actions; from inside a callback the user may call every function here
 * except rc_session_free() (and may not hold an rc_session_msg_begin() open
 * across the return of the callback).
 *
 * Typical transport loop:
 *   rc_session_new(&s, &cfg, &cb, user, NULL, now);  // CSM queued already
 *   on readable:  rc_session_recv(s, buf, n, now);
 *   to write:     while (rc_session_pending(s, &p, &len) == 0) {
 *                   write p[0..len); rc_session_consume(s, written); }
 *   timer:        rc_session_expiry(s) -> rc_session_handle_expiry(s, now)
 *   close socket: rc_session_state(s) == RC_SESSION_CLOSED and
 *                 !rc_session_want_write(s)
 */
#ifndef RCOAP_SESSION_H
#define RCOAP_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "rcoap/budget.h"
#include "rcoap/codec_msg.h"
#include "rcoap/codec_option.h"
#include "rcoap/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rc_session rc_session;

/* Who opened the transport connection (RFC 8323 §3.3 "Connection
 * Initiator" / "Connection Acceptor"). Either side may send requests;
 * the role is used in logs and for defaults only. */
typedef enum rc_session_role {
  RC_SESSION_CLIENT = 0, /* Connection Initiator */
  RC_SESSION_SERVER = 1  /* Connection Acceptor */
} rc_session_role;

typedef enum rc_session_state {
  RC_SESSION_CONNECTING = 0, /* our CSM queued, peer's CSM not seen yet */
  RC_SESSION_OPEN = 1,       /* both CSMs exchanged */
  RC_SESSION_RELEASING = 2,  /* Release sent or received */
  RC_SESSION_CLOSED = 3      /* Abort sent/received, peer dead, closed:
                                no more input or messages; queued output
                                (an Abort, last responses) may still be
                                drained */
} rc_session_state;

/* Our default Max-Message-Size: 8 MiB of BERT blocks plus 256 bytes for
 * header and options (RFC 8323 §5.3.2 implementation note suggests a
 * generous header allowance; libcoap announces the same 8388864). */
#define RC_SESSION_DEFAULT_MAX_MSG (8u * 1024u * 1024u + 256u)
/* RFC 8323 §5.3.1: "the base value ... is 1152"; we never announce less
 * (the codec's RC_MAX_MESSAGE_SIZE_BASE). */
#define RC_SESSION_MIN_MAX_MSG 1152u
/* RFC 8323 §5.3.1: Max-Message-Size is a uint of 0-4 bytes. */
#define RC_SESSION_MAX_MAX_MSG UINT32_MAX
/* Default time to wait for the peer's first message (its CSM). */
#define RC_SESSION_DEFAULT_CSM_TIMEOUT 10000u
/* Default patience for a Pong (or any received byte) after a Ping; RFC
 * 8323 §5.4 leaves the value to the application. */
#define RC_SESSION_DEFAULT_PING_TIMEOUT 10000u
/* Default longest delay of a Pong whose Ping asked for Custody. */
#define RC_SESSION_DEFAULT_CUSTODY_DELAY 2000u
/* Default unflushed output at which rc_session_want_read() turns false. */
#define RC_SESSION_DEFAULT_OUT_HIGH_WATER (256u * 1024u)
/* Default unflushed output at which new messages are refused (LIMIT). */
#define RC_SESSION_DEFAULT_OUT_MAX (64u * 1024u * 1024u)
/* Room the session grants an encoder beyond size_hint, for options. */
#define RC_SESSION_OPT_ROOM 256u
/* Most Alternative-Address options reported from one Release. */
#define RC_SESSION_ALT_MAX 4
/* Longest diagnostic payload we put in an Abort or Release. */
#define RC_SESSION_DIAG_MAX 128u
/* Messages up to this size are reassembled without asking rx_budget. */
#define RC_SESSION_RX_FREE (64u * 1024u)
/* Max-Age of the 5.03 for a message rx_budget cannot take now. */
#define RC_SESSION_RETRY_AFTER_S 2u
/* "No Hold-Off option" for rc_session_release(). */
#define RC_SESSION_NO_HOLD_OFF UINT32_MAX

/* RFC 7252 §4.8 transmission parameters, their defaults. */
#define RC_UDP_ACK_TIMEOUT 2000u        /* ms */
#define RC_UDP_ACK_RANDOM_FACTOR 1500u  /* x 1/1000: 1.5 */
#define RC_UDP_MAX_RETRANSMIT 4u
#define RC_UDP_NSTART 1u
#define RC_UDP_PROBING_RATE 1u          /* bytes/second */
/* RFC 7252 §4.8.2: EXCHANGE_LIFETIME 247 s, NON_LIFETIME 145 s. */
#define RC_UDP_EXCHANGE_LIFETIME 247000u
#define RC_UDP_NON_LIFETIME 145000u
/* A request not answered this long after it came gets an empty ACK and
 * its response goes later as a separate CON (RFC 7252 §5.2.2). */
#define RC_UDP_SEPARATE_DELAY 1000u
/* RFC 7641 §4.5: a notification is sent as CON at least every 24 h. */
#define RC_UDP_CON_NOTIFY_INTERVAL (24u * 3600u * 1000u)
/* Message IDs remembered for deduplication, with the answer to replay. */
#define RC_UDP_DEDUP_MAX 64u
/* RFC 7252 §11.3 amplification limit (rc_session_udp_config.amp_factor):
 * a response to a peer whose address is not confirmed may be at most this
 * many times its request's size. */
#define RC_UDP_AMP_FACTOR 3u
/* RFC 9175 §2.2: an Echo option value is 1-40 bytes. */
#define RC_UDP_ECHO_MAX 40u
/* How long an Echo value of the amplification limit stays fresh (the
 * server decides, RFC 9175 §2.2.1); an answer held back for it is kept
 * as long (exchange/xheld.c). */
#define RC_UDP_ECHO_LIFETIME_MS 60000u
/* RFC 7252 §4.6: messages should fit 1152 bytes; our peer_max_msg_size
 * on UDP, so block-wise transfers use SZX 6 (1024-byte blocks). */
#define RC_UDP_MSG_SIZE 1152u

/* Buckets of rc_udp_stats.answered_after: CONs answered after 0, 1, ...
 * retransmissions, the last bucket for that many or more. */
#define RC_UDP_STATS_TRIES 8u

/* What the RFC 7252 message layer did, counted over every session that
 * shares the struct (rc_session_udp_config.stats; one loop, no locks).
 * The figures a lossy link shows: how often our CONs went again, how
 * many answers needed how many tries, and the peer's retransmissions we
 * recognised as duplicates. */
typedef struct rc_udp_stats {
  uint64_t con_sent;      /* CONs sent a first time (pings included) */
  uint64_t retransmits;   /* CONs sent again on a timeout (§4.2) */
  uint64_t answered;      /* CONs ended by an ACK or a RST */
  uint64_t gave_up;       /* CONs given up after MAX_RETRANSMIT */
  uint64_t answered_after[RC_UDP_STATS_TRIES]; /* by retransmissions */
  uint32_t max_tries;     /* most retransmissions one CON was sent with */
  uint64_t dup_con;       /* the peer's CONs received again (§4.5) */
  uint64_t dup_non;       /* the peer's NONs received again */
} rc_udp_stats;

/* One line "con=N retransmits=N answered=N gave_up=N max_tries=N
 * dup_con=N dup_non=N after=N,N,..." (answered_after), NUL-terminated
 * and truncated to size. Returns what snprintf returns. */
int rc_udp_stats_format(const rc_udp_stats *st, char *buf, size_t size);

/* Stateless Echo option values (RFC 9175 §2.2) for the amplification
 * limit: make writes one (1-RC_UDP_ECHO_MAX bytes) and returns its length
 * (0: none); check returns non-zero for a value that make wrote for this
 * peer and that is still fresh. */
typedef struct rc_session_echo {
  size_t (*make)(void *user, rc_time now, uint8_t out[RC_UDP_ECHO_MAX]);
  int (*check)(void *user, const uint8_t *v, size_t n, rc_time now);
} rc_session_echo;

/* CoAP over UDP (RFC 7252 §4): reliability settings of a session with
 * framing RC_FRAMING_UDP. Filled by rc_session_config_default. */
typedef struct rc_session_udp_config {
  uint32_t ack_timeout_ms;        /* ACK_TIMEOUT */
  uint32_t ack_random_factor;     /* ACK_RANDOM_FACTOR x 1000 (>= 1000) */
  uint32_t max_retransmit;        /* MAX_RETRANSMIT */
  uint32_t nstart;                /* outstanding CONs to the peer (>= 1) */
  uint32_t probing_rate;          /* bytes/s of NON requests to a peer that
                                     has not answered; 0 = no limit */
  uint32_t exchange_lifetime_ms;  /* dedup of CON Message IDs */
  uint32_t non_lifetime_ms;       /* dedup of NON Message IDs */
  uint32_t separate_delay_ms;     /* empty ACK for a request not answered
                                     by then; 0 = at once */
  uint32_t con_notify_interval_ms; /* a CON notification at least this
                                      often; 0 = every one */
  uint32_t dedup_max;             /* Message IDs remembered (>= 1) */
  uint8_t requests_non;           /* send our requests as NON */
  uint8_t notify_con;             /* send every notification as CON */
  uint32_t amp_factor;            /* amplification limit, with
                                     rc_session_set_echo; 0: none */
  /* Randomness for the first retransmission timeout and the first
   * Message ID: returns 32 random bits. NULL: a xorshift PRNG seeded
   * with seed (the session never reads a clock or /dev/urandom). */
  uint32_t (*random)(void *user);
  void *random_user;
  uint64_t seed;
  /* Counters this session adds to (shared by many sessions, not owned;
   * NULL: none). Must outlive the session. */
  rc_udp_stats *stats;
} rc_session_udp_config;

typedef struct rc_session_config {
  rc_framing framing;   /* RC_FRAMING_TCP: byte stream (TCP, TLS);
                           RC_FRAMING_WS: one call per whole message (WS,
                           WebRTC data channel); RC_FRAMING_UDP: one
                           call per datagram from one peer, the RFC 7252
                           message layer (src/session/udp.c): CON/NON/
                           ACK/RST instead of CSM, Ping, Release, Abort */
  rc_session_role role;
  uint32_t max_msg_size;  /* our Max-Message-Size, whole message with its
                             header; >= RC_SESSION_MIN_MAX_MSG */
  uint8_t block_wise;     /* announce Block-Wise-Transfer (BERT when
                             max_msg_size > 1152) */
  uint32_t max_token_len; /* longest token we accept; > 8 announces RFC
                             8974 Extended-Token-Length; 8 by default */
  uint32_t keepalive_ms;  /* Ping after this long without input; 0 = off */
  uint32_t ping_timeout_ms;    /* peer dead if nothing at all arrives this
                                  long after a Ping; 0 = never */
  uint32_t csm_timeout_ms;     /* peer's CSM must arrive by then; 0 = never */
  uint32_t custody_delay_ms;   /* longest wait for custody_ready() before
                                  a Pong goes out without Custody */
  uint32_t release_timeout_ms; /* after our Release, close if the peer has
                                  not closed by then; 0 = never */
  size_t out_high_water;       /* want_read() false at this much output */
  size_t out_max;              /* msg_begin() RC_ERR_LIMIT at this much */
  /* Memory for messages that arrive in pieces and are larger than
   * RC_SESSION_RX_FREE is taken from this budget (shared by many
   * sessions, not owned; NULL: bounded by max_msg_size alone). Refused,
   * the message is skipped unbuffered: a request gets 4.13 with Size1 =
   * the budget's limit when it could never fit, else 5.03 with Max-Age
   * RC_SESSION_RETRY_AFTER_S; any other message an Abort. The budget
   * must outlive the session, or the session be closed first (a closed
   * session has given back what it took and never touches it again). */
  rc_budget *rx_budget;
  /* RC_FRAMING_UDP only. */
  rc_session_udp_config udp;
  /* Output chunks shared by many sessions (e.g. one loop's connections;
   * not owned, NULL: none): a drained session's chunk goes back there
   * instead of to the allocator, and the next burst of any session takes
   * it, so neither an idle session holds one nor a busy one allocates.
   * Used only when it has the session's allocator; reference-counted,
   * so it may be released before the sessions that use it. */
  struct rc_chunk_pool *out_pool;
} rc_session_config;

/* At most max free output chunks (16 KiB each) wait in the pool, and
 * 256 x max small ones (512 B: a notify round's few frames for one
 * connection, rc_session_send_tails). The creator releases its reference with rc_chunk_pool_release; the pool is
 * freed with the last session using it. One thread. */
typedef struct rc_chunk_pool rc_chunk_pool;
rc_err rc_chunk_pool_new(rc_chunk_pool **out, const rc_mem *mem, size_t max);
void rc_chunk_pool_release(rc_chunk_pool *p);

/* Fills cfg with the defaults above for this framing and role
 * (block_wise on, max_token_len 8, keepalive off). */
void rc_session_config_default(rc_session_config *cfg, rc_framing framing,
                               rc_session_role role);

/* Sets ACK_TIMEOUT (ms, >= 1) and MAX_RETRANSMIT (<= 20) and derives from
 * them, with the default ACK_RANDOM_FACTOR and MAX_LATENCY (100 s), the
 * dedup lifetimes of RFC 7252 §4.8.2 (EXCHANGE_LIFETIME, NON_LIFETIME),
 * so that a CON's last retransmission still meets its Message ID. Returns
 * RC_ERR_INVAL (c unchanged) for values out of range. */
rc_err rc_session_udp_params(rc_session_udp_config *c, uint32_t ack_timeout_ms,
                             uint32_t max_retransmit);

/* What the peer said in a Release (RFC 8323 §5.5). Views into the received
 * message: valid only during the on_release() call. */
typedef struct rc_session_release_info {
  size_t n_alt;                     /* Alternative-Address options kept */
  const char *alt[RC_SESSION_ALT_MAX]; /* "authority", NOT NUL-terminated */
  size_t alt_len[RC_SESSION_ALT_MAX];
  uint32_t hold_off_s;              /* RC_SESSION_NO_HOLD_OFF if absent */
  const char *diag;                 /* diagnostic payload or NULL */
  size_t diag_len;
} rc_session_release_info;

/* What the peer said in an Abort (RFC 8323 §5.6). Views valid only during
 * the on_abort() call. */
typedef struct rc_session_abort_info {
  int has_bad_csm_option;
  uint32_t bad_csm_option;          /* valid if has_bad_csm_option */
  const char *diag;                 /* diagnostic payload or NULL */
  size_t diag_len;
} rc_session_abort_info;

/* Log levels passed to on_log (syslog numbering). */
enum { RC_SESSION_LOG_ERR = 3, RC_SESSION_LOG_WARN = 4,
       RC_SESSION_LOG_INFO = 6, RC_SESSION_LOG_DEBUG = 7 };

/*
 * Callbacks. Only on_message is required. user is the pointer given to
 * rc_session_new(). Views passed in are valid only during the call.
 */
typedef struct rc_session_callbacks {
  /* Every request and response (any class other than 0.00 Empty and 7.xx
   * Signaling), in arrival order, in either direction of use: RFC 8323 lets
   * both ends send requests. m points into the transport's input or the
   * session's reassembly buffer. Return 0; anything else stops the
   * session: it is closed with RC_ERR_CALLBACK_FAILURE. */
  int (*on_message)(void *user, const rc_msg *m);
  /* The peer's CSM (first or later) was applied; query the new settings
   * with rc_session_peer_*(). */
  void (*on_csm)(void *user);
  /* A Pong matched our Ping ping_id (by token, or else by order: libcoap's
   * Pongs do not echo the token). rtt in ms; custody: it carried Custody. */
  void (*on_pong)(void *user, uint32_t ping_id, rc_time rtt, int custody);
  /* The peer sent Release. Requests can no longer be started; responses
   * still arrive and may still be sent. The upper layer closes when done
   * (rc_session_close). */
  void (*on_release)(void *user, const rc_session_release_info *info);
  /* The peer sent Abort; on_closed(RC_ERR_PEER_ABORT) follows. */
  void (*on_abort)(void *user, const rc_session_abort_info *info);
  /* The session reached RC_SESSION_CLOSED; called exactly once. reason:
   * RC_OK (closed by our own rc_session_close/abort, or graceful end after
   * a Release), RC_ERR_PEER_ABORT, RC_ERR_PEER_DEAD (ping timeout),
   * RC_ERR_BAD_CSM (peer's CSM missing, invalid or late: we sent Abort),
   * RC_ERR_PROTOCOL (framing or other violation: we sent Abort),
   * RC_ERR_TIMEOUT (peer did not close after our Release), RC_ERR_NOMEM,
   * RC_ERR_CALLBACK_FAILURE, or the reason the transport gave to
   * rc_session_close(). */
  void (*on_closed)(void *user, rc_err reason);
  /* Asked when a Ping with Custody arrives (RFC 8323 §5.4.1), and again on
   * rc_session_custody_ready(): return non-zero if every request received
   * so far has been answered. NULL: Pongs never carry Custody. */
  int (*custody_ready)(void *user);
  /* Optional log line (no newline). */
  void (*on_log)(void *user, int level, const char *text);
  /* Optional observer of every whole message, signaling included: sent
   * non-zero for a message just queued, 0 for one received (before it is
   * acted on). For tools that show the conversation ("rcoap -v"); costs
   * nothing when NULL. */
  void (*on_trace)(void *user, int sent, const rc_msg *m);
  /* UDP only: a message we sent with this token will get no answer: the
   * peer rejected it with RST (RC_ERR_CONN_RESET: for a notification,
   * RFC 7641 §3.6, the peer no longer observes) or a CON was never
   * acknowledged (RC_ERR_TIMEOUT, RFC 7252 §4.2; for a notification RFC
   * 7641 §4.5 removes the observer). Optional. */
  void (*on_lost)(void *user, const uint8_t *token, size_t token_len,
                  rc_err reason);
} rc_session_callbacks;

/*
 * Creates a session and queues our CSM as its first output (RFC 8323 §3.3:
 * "each endpoint MUST send a Capabilities and Settings message (CSM) ...
 * as their first message on the connection"; we never wait for the peer's).
 * cfg and cb are copied. mem NULL = C library allocator; it must outlive
 * the session. now starts the CSM timeout.
 * Returns 0 and *out (owned by the caller, free with rc_session_free), or
 * RC_ERR_INVAL (bad config: max_msg_size < 1152, no
 * on_message) or RC_ERR_NOMEM.
 */
rc_err rc_session_new(rc_session **out, const rc_session_config *cfg,
                      const rc_session_callbacks *cb, void *user,
                      const rc_mem *mem, rc_time now);

/*
 * Parking: an idle session folded into a record the transport keeps while
 * it frees the session, and rebuilt from it on the connection's next
 * event. The record is opaque (only this layer reads it).
 */
typedef struct rc_session_parked {
  uint64_t opaque[4];
} rc_session_parked;

/* Non-zero when s can be folded without the peer noticing: reliable
 * framing, OPEN (both CSMs seen, no Release either way), no output
 * queued, no message open, no frame half read, no Ping awaiting its Pong
 * and no Pong held back. */
int rc_session_parkable(const rc_session *s);

/* Writes s's record (the peer's CSM values, the keepalive clock, the next
 * Ping id) into rec. s is left as it was: free it after. Returns 0 or
 * RC_ERR_STATE (not parkable). */
rc_err rc_session_park(const rc_session *s, rc_session_parked *rec);

/* When the parked session, made with cfg (NULL: the defaults), would next
 * act (its keepalive Ping), or RC_TIME_NEVER: the transport wakes it
 * then. */
rc_time rc_session_parked_expiry(const rc_session_parked *rec,
                                 const rc_session_config *cfg);

/*
 * Rebuilds a session from rec, as rc_session_new with the same cfg would
 * have made it and the traffic since would have left it: OPEN, the peer's
 * Max-Message-Size, Block-Wise-Transfer and token length as its CSMs set
 * them, no CSM queued (ours went long ago), the keepalive timing where it
 * was. Returns 0, RC_ERR_INVAL (a bad record or cfg) or RC_ERR_NOMEM.
 */
rc_err rc_session_unpark(rc_session **out, const rc_session_config *cfg,
                         const rc_session_callbacks *cb, void *user,
                         const rc_mem *mem, const rc_session_parked *rec);

/* Frees the session and all its buffers. No callback is called. NULL ok.
 * Never call it from inside one of the session's callbacks. */
void rc_session_free(rc_session *s);

/* ---- input ---- */

/*
 * Feeds received data. RC_FRAMING_TCP: any piece of the byte stream
 * (frames may be split anywhere). RC_FRAMING_WS: exactly one whole message
 * (an empty one, len 0, is malformed: Abort). Every byte is consumed. Callbacks run from inside this call; output may
 * be queued (Pong, 4.13, Abort).
 * Protocol errors from the peer are not returned: the session answers them
 * (Abort, 4.13), moves to CLOSED when needed and reports on_closed().
 * Returns 0, RC_ERR_CLOSED (the session was already closed: data
 * dropped), RC_ERR_STATE (an rc_session_msg_begin is open), RC_ERR_INVAL,
 * RC_ERR_NOMEM or RC_ERR_CALLBACK_FAILURE (the session is now closed).
 */
rc_err rc_session_recv(rc_session *s, const uint8_t *data, size_t len,
                       rc_time now);

/* ---- output: messages written in place ---- */

/*
 * Starts a request or response (not Empty, not 7.xx: use the actions
 * below) directly in the output buffer: initialises *e (caller's storage)
 * with room for at least size_hint + RC_SESSION_OPT_ROOM bytes of token,
 * options and payload. Add options and payload with the rc_enc_opt functions and
 * rc_enc_payload*, then call rc_session_msg_end() or rc_session_msg_cancel().
 * Between begin and end no other call on this session is allowed.
 * Returns 0 or
 *   RC_ERR_BAD_CODE      Empty or signaling code
 *   RC_ERR_CLOSED        session closed (Abort sent/received, ...)
 *   RC_ERR_PEER_RELEASE  a request after the peer's Release (RFC 8323 §5.5)
 *   RC_ERR_STATE         a request after our own Release, or a message is
 *                        already open
 *   RC_ERR_TOKEN_TOO_LONG token longer than the peer accepts (8 unless it
 *                        announced Extended-Token-Length, RFC 8974)
 *   RC_ERR_LIMIT         unflushed output is at out_max
 *   RC_ERR_NOMEM
 */
rc_err rc_session_msg_begin(rc_session *s, rc_enc *e, uint8_t code,
                            const uint8_t *token, size_t token_len,
                            size_t size_hint);

/*
 * Frames the message begun on e (TCP length shim or WS Len=0 form), checks
 * it against the PEER's Max-Message-Size and queues it.
 * Returns 0 or (nothing queued in every error case; the message is closed)
 *   RC_ERR_NOBUF          did not fit: begin again with size_hint =
 *                         rc_enc_needed(e)
 *   RC_ERR_PEER_TOO_LARGE larger than the peer's Max-Message-Size (RFC
 *                         8323 §5.3.1; 1152 until its CSM arrives)
 *   RC_ERR_STATE          e is not the open message
 *   any sticky encoder error (RC_ERR_OPT_ORDER, ...)
 */
rc_err rc_session_msg_end(rc_session *s, rc_enc *e);

/*
 * Queues a request or response given as its parts: code, token, options
 * (sorted by number, as for rc_enc_opt) and payload (NULL when plen is 0).
 * Same rules and errors as msg_begin + rc_enc_opt per option +
 * rc_enc_payload + msg_end, and the same bytes; never RC_ERR_NOBUF. On a
 * stream the usual small message is written in one pass without the
 * encoder.
 */
rc_err rc_session_send_parts(rc_session *s, uint8_t code, const uint8_t *token,
                             size_t tkl, const rc_opt *opts, size_t nopts,
                             const uint8_t *payload, size_t plen);

/*
 * A message's options and payload encoded beforehand, as they follow the
 * token on the wire (RFC 7252 §3.1: the options, then 0xFF and the
 * payload when there is one): an answer that is the same for every
 * request (a static representation) is encoded once. opts_len: the
 * options' part of bytes (a valid options region, as rc_msg_parse
 * checks).
 */
typedef struct rc_msg_tail {
  const uint8_t *bytes;
  size_t len;
  size_t opts_len;
} rc_msg_tail;

/*
 * Queues code, token and the pre-encoded tail t: the same rules, errors
 * and bytes as rc_session_send_parts with t's options and payload. On a
 * stream it is the header, the token and one copy of t.
 */
rc_err rc_session_send_tail(rc_session *s, uint8_t code, const uint8_t *token,
                            size_t tkl, const rc_msg_tail *t);

/* Abandons the message begun on e; nothing is queued. */
void rc_session_msg_cancel(rc_session *s, rc_enc *e);

/*
 * Queues a whole message view (for instance one parsed from another
 * transport: this is how a proxy re-frames). Same rules and errors as
 * msg_begin + msg_end. Returns 0 or those errors.
 */
rc_err rc_session_send(rc_session *s, const rc_msg *m);

/*
 * Queues n requests or responses that differ only in their tokens
 * (tokens[i], tkls[i] bytes each; an observe notification for the n
 * observers on one connection): the bytes after the token were built
 * once by the caller, tail[0..tail_len), the encoded option region (its
 * first opts_len bytes) followed, when tail_len > opts_len, by the
 * payload marker 0xFF and the payload. On a TCP stream the n messages go
 * in one piece of the output, only each header and token written, the
 * tail copied as it is; other framings (and a traced session) take
 * rc_session_send_tail's encoder way with the same bytes, one message
 * after another. The option region is not checked here: it must be one
 * the encoder wrote. Same rules and errors as msg_begin + msg_end; *sent
 * (may be NULL) is how many were queued (on a stream all or none).
 */
rc_err rc_session_send_tails(rc_session *s, uint8_t code,
                             const uint8_t *const *tokens, const size_t *tkls,
                             size_t n, const uint8_t *tail, size_t opts_len,
                             size_t tail_len, size_t *sent);

/*
 * The n messages of rc_session_send_tails framed into dst[0..cap) instead
 * of queued, for a transport that writes them to its socket itself while
 * nothing is queued (they must not overtake queued output); the session's
 * checks are the same, nothing in it changes. *len: the frames' bytes; up
 * to 16 bytes past them may be written too. RC_ERR_NOBUF: they do not fit
 * in cap, or go through the encoder (not TCP framing, a trace callback,
 * extended tokens): queue them with rc_session_send_tails.
 */
rc_err rc_session_frame_tails(rc_session *s, uint8_t code,
                              const uint8_t *const *tokens,
                              const size_t *tkls, size_t n,
                              const uint8_t *tail, size_t opts_len,
                              size_t tail_len, uint8_t *dst, size_t cap,
                              size_t *len);

/* Queues n bytes already framed for a stream (TCP framing): what a
 * transport could not write at once of rc_session_frame_tails' frames,
 * behind everything queued. RC_ERR_INVAL in message mode (WS) or UDP. */
rc_err rc_session_send_framed(rc_session *s, const uint8_t *p, size_t n);

/* ---- output: draining ---- */

/*
 * The next output to write. RC_FRAMING_TCP: the longest contiguous run of
 * queued bytes (many messages; write them in one call). RC_FRAMING_WS:
 * exactly one whole message (send it as one binary WS message).
 * The bytes stay at the same address, unchanged, until consumed, even
 * while more messages are queued, so an asynchronous write may use them
 * in place. Returns 0 and sets *data and *len, or RC_ERR_NEED_MORE if nothing
 * is queued.
 */
rc_err rc_session_pending(rc_session *s, const uint8_t **data, size_t *len);

/*
 * Marks n bytes from the start of rc_session_pending()'s run as written.
 * TCP: any n up to that run's length. WS: n must be the whole message.
 * Returns 0 or RC_ERR_INVAL.
 */
rc_err rc_session_consume(rc_session *s, size_t n);

/* Total bytes queued and not yet consumed (file runs included). */
size_t rc_session_pending_bytes(const rc_session *s);

/*
 * File runs (stream framing only): a transport that can send bytes from a
 * file itself (sendfile(2) on a plain TCP socket) says so with
 * rc_session_set_files(s, 1); rc_session_files tells a caller whether it
 * did. Then rc_session_msg_end_file ends a message begun with
 * rc_session_msg_begin, its options written and no payload, whose payload
 * is len bytes of the file fd from offset off: the header and options are
 * queued as usual, then a file run the session holds as a descriptor of
 * its own (a dup of fd, closed once sent or with the session), never as
 * bytes; a trace callback is shown the message with payload NULL and
 * payload_len len (rc_msg_parse_head). Returns 0, RC_ERR_NOT_SUPPORTED
 * (file runs not enabled: nothing queued, encode the payload instead),
 * RC_ERR_PEER_TOO_LARGE, RC_ERR_NOMEM, RC_ERR_IO (dup failed), the
 * encoder's errors.
 * While a file run is at the head of the output, rc_session_pending
 * returns RC_ERR_FILE_NEXT and rc_session_pending_file sets the run's
 * descriptor, next offset and remaining length (else RC_ERR_NEED_MORE);
 * rc_session_consume(s, n) marks n of its bytes sent. A run that cannot be
 * sent whole (the file shrank) leaves the stream mid-message: the
 * transport must close the connection.
 */
void rc_session_set_files(rc_session *s, int on);
int rc_session_files(const rc_session *s);
rc_err rc_session_msg_end_file(rc_session *s, rc_enc *e, int fd,
                               uint64_t off, size_t len);
rc_err rc_session_pending_file(rc_session *s, int *fd, uint64_t *off,
                               size_t *len);

/*
 * Stream framing only: while a frame that arrived split is gathered, sets
 * *at to where its next byte goes and returns how many bytes it still
 * needs (rc_frame_reader_room); else 0. A transport may read up to that
 * many bytes from the socket straight to *at and pass them to
 * rc_session_recv (data == *at, nothing else in the call): a large message
 * is read into place, not copied.
 */
size_t rc_session_read_room(rc_session *s, uint8_t **at);

/* Non-zero if output is queued. */
int rc_session_want_write(const rc_session *s);

/* Non-zero if the transport should keep reading: the session is not
 * closed and unflushed output is under out_high_water (back-pressure). */
int rc_session_want_read(const rc_session *s);

/* ---- time ---- */

/* The next deadline (csm timeout, keepalive, ping timeout, custody delay,
 * release timeout), or RC_TIME_NEVER. */
rc_time rc_session_expiry(const rc_session *s);

/* The transport under s opened only now (the ws filter's upgrade, after
 * plain HTTP requests kept the connection): the peer's CSM is due
 * csm_timeout_ms from now, not from rc_session_new. No-op on UDP. */
void rc_session_transport_open(rc_session *s, rc_time now);

/* Runs whatever is due at now: may queue a Ping or a Pong, or close the
 * session (on_closed with RC_ERR_BAD_CSM, RC_ERR_PEER_DEAD,
 * RC_ERR_TIMEOUT). Returns 0, RC_ERR_STATE (a message is open) or
 * RC_ERR_NOMEM (the session is now closed). */
rc_err rc_session_handle_expiry(rc_session *s, rc_time now);

/* ---- actions ---- */

/*
 * Queues a Ping (RFC 8323 §5.4), with Custody if asked. The Ping carries a
 * 4-byte token; *ping_id (may be NULL) is reported back by on_pong. Starts
 * the ping timeout (nothing received by now + ping_timeout -> peer dead).
 * Returns 0, RC_ERR_CLOSED, RC_ERR_STATE or RC_ERR_NOMEM.
 */
rc_err rc_session_ping(rc_session *s, int custody, rc_time now,
                       uint32_t *ping_id);

/* Tells the session that custody_ready() may now return true: Pongs held
 * for a Custody Ping are sent (with Custody if custody_ready() agrees).
 * Returns 0, RC_ERR_STATE or RC_ERR_NOMEM. */
rc_err rc_session_custody_ready(rc_session *s);

/*
 * Queues a Release (RFC 8323 §5.5): alt[0..n_alt) Alternative-Address
 * authorities (n_alt may be 0), hold_off_s seconds or
 * RC_SESSION_NO_HOLD_OFF, diag (may be NULL) a diagnostic payload.
 * State becomes RELEASING: our requests are refused, responses still go.
 * Returns 0, RC_ERR_CLOSED, RC_ERR_STATE, RC_ERR_INVAL (an address
 * longer than 255 bytes or empty) or RC_ERR_NOMEM.
 */
rc_err rc_session_release(rc_session *s, const char *const *alt,
                          size_t n_alt, uint32_t hold_off_s,
                          const char *diag, rc_time now);

/*
 * Queues an Abort (RFC 8323 §5.6) as the last message and closes the
 * session: on_closed(RC_OK) is called, further messages are refused,
 * input is dropped; the Abort (and what was queued before it) can still be
 * drained. bad_csm_option 0 = none. diag may be NULL (truncated to
 * RC_SESSION_DIAG_MAX). Returns 0, RC_ERR_CLOSED or RC_ERR_STATE.
 */
rc_err rc_session_abort(rc_session *s, uint16_t bad_csm_option,
                        const char *diag);

/*
 * Closes the session without sending anything (the transport went away,
 * or the upper layer is done after a Release). reason is passed to
 * on_closed (RC_OK for a normal close; a transport error such as
 * RC_ERR_CONN_RESET or RC_ERR_CLOSED for EOF). Queued output stays
 * drainable. Closing a closed session does nothing.
 */
void rc_session_close(rc_session *s, rc_err reason);

/* A request or response for the user, with the time of the read (or
 * expiry) that brought it; returns as on_message does. */
typedef int (*rc_session_message_at_fn)(void *user, const rc_msg *m,
                                        rc_time now);

/* Hands every request and response to fn(user, m, now) in place of
 * on_message(s's user, m): an owner that needs neither a trampoline nor a
 * clock read of its own (rc_conn's on_message_at). NULL restores
 * on_message. Reliable framings only (a UDP session keeps on_message). */
void rc_session_set_message_at(rc_session *s, rc_session_message_at_fn fn,
                               void *user);

/* Sets (or, with NULL, clears) the on_trace callback after creation: a
 * transport whose user starts or stops watching. Tracing costs a parse of
 * every sent message, so it is off unless someone watches. Switching it on
 * before any output was taken also traces what is queued already (the
 * CSM queued at creation). */
void rc_session_set_trace(rc_session *s,
                          void (*on_trace)(void *user, int sent,
                                           const rc_msg *m));

/* ---- queries ---- */

rc_session_state rc_session_get_state(const rc_session *s);
rc_framing rc_session_framing(const rc_session *s);
/* Non-zero once the peer's first CSM has arrived. */
int rc_session_peer_csm_received(const rc_session *s);
/* Peer's Max-Message-Size: 1152 until its CSM says otherwise. */
uint32_t rc_session_peer_max_msg_size(const rc_session *s);
/* UDP: the largest datagram the session sends (default 65507; coaps://
 * sets the DTLS record's room): a bigger message is refused at
 * rc_session_msg_end with RC_ERR_PEER_TOO_LARGE. Returns 0, or
 * RC_ERR_INVAL (not a UDP session, n under 1152 or over 65507). */
rc_err rc_session_set_max_datagram(rc_session *s, size_t n);
/* UDP: while on, our requests go as NON and are not held by PROBING_RATE
 * (the exchange sends a Q-Block1 body's blocks so, paced by RFC 9177
 * §7.2 instead). No effect on other framings. */
void rc_session_udp_set_non(rc_session *s, int on);
/* UDP: the unanswered CON request with this token is acknowledged now
 * (an empty ACK) instead of after separate_delay_ms; its answer, if any,
 * then goes as a separate CON. For requests answered later or never (a
 * Q-Block1 block the server keeps, RFC 9177 §4.3: "the server continues
 * to acknowledge each packet"). Returns 0 (also when there is nothing to
 * acknowledge, and on other framings) or RC_ERR_STATE / RC_ERR_NOMEM. */
rc_err rc_session_udp_ack_now(rc_session *s, const uint8_t *token,
                              size_t token_len);
/* UDP: the NON request with this token is rejected (RFC 7252 §4.3: a
 * Reset with its Message ID) and gets no answer; called from on_message
 * while a separate CON or a NON response is delivered (with its token),
 * that response gets a Reset (for a CON instead of its ACK, §4.2). Returns 0, or RC_ERR_STATE when there
 * is no such message (a CON request: answer it instead; a piggybacked
 * response: ignoring it is the rejection; another framing) /
 * RC_ERR_NOMEM. */
rc_err rc_session_udp_reject(rc_session *s, const uint8_t *token,
                             size_t token_len);

/* UDP, server side: the amplification limit (RFC 7252 §11.3, RFC 9175
 * §2.4) with these Echo values (echo->make / echo->check get the user
 * pointer given to rc_session_new; echo must outlive the session). Until
 * the peer's address is confirmed, a response larger than
 * udp.amp_factor times its request's datagram goes instead as 4.01
 * Unauthorized with an Echo option from echo->make (same type, Message ID
 * and token); a request whose Echo passes echo->check, or an ACK or RST
 * to one of our CONs, confirms the address. NULL: no limit (the
 * default). Returns 0, or RC_ERR_INVAL (not a UDP session). */
rc_err rc_session_set_echo(rc_session *s, const rc_session_echo *echo);
/* UDP, server side: non-zero when the latest answer to the request with
 * this token went as the 4.01 + Echo of the amplification limit instead
 * of itself (rc_session_set_echo); the exchange keeps such an answer to
 * give the request's Echo'd repeat without running its handler again.
 * 0 on other framings. */
int rc_session_udp_amp_held(const rc_session *s, const uint8_t *token,
                            size_t token_len);
/* Peer announced Block-Wise-Transfer. */
int rc_session_peer_block_wise(const rc_session *s);
/* Peer supports BERT: Block-Wise-Transfer and Max-Message-Size > 1152
 * (RFC 8323 §5.3.2). */
int rc_session_peer_bert(const rc_session *s);
/* Longest token the peer accepts: 8, or its Extended-Token-Length. */
uint32_t rc_session_peer_max_token_len(const rc_session *s);
/* Our own Max-Message-Size (as announced). */
uint32_t rc_session_max_msg_size(const rc_session *s);

#ifdef __cplusplus
}
#endif
#endif
