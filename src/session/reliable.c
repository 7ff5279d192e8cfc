/*
 * The RFC 8323 message layer for one reliable connection, sans-I/O: CSM
 * handshake, Ping/Pong (keepalive, Custody), Release, Abort and
 * Max-Message-Size in both directions, over a TCP/TLS byte stream or a
 * message transport (WebSockets, WebRTC data channels).
 *
 * Output is a list of chunks. Messages are encoded in place at the tail of
 * the last chunk and never move once queued, so the transport may write
 * from them asynchronously until it consumes them. In message mode each
 * queued message is preceded by a 4-byte length so whole messages can be
 * handed out one at a time.
 *
 * Input in stream mode is cut into frames by the codec's rc_frame_reader,
 * which parses frames that sit whole in the input where they lie. For a
 * frame that arrives split it asks rx_buf for a buffer once the header
 * tells the frame's size: the session allocates exactly that (taken
 * from rx_budget past RC_SESSION_RX_FREE) and gives it back after the
 * frame, so an idle connection holds none.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/fastpath.h"
#include "rcoap/codec_frame.h"
#include "rcoap/codec_option.h"
#include "rcoap/session.h"
#include "session/udp_int.h"

/* Output chunk size for ordinary traffic: many small messages per write. */
#define OUT_CHUNK 16384u
/* A small output chunk's allocation: a notify round's few frames for a
 * connection with nothing queued (rc_session_send_tails). A round that
 * writes to a thousand held connections takes a thousand chunks at once;
 * the pool keeps SMALL_PER_KEPT small ones per OUT_CHUNK one it may keep,
 * so such rounds take them from it, not from malloc (16 KiB chunks past
 * the pool's few cost an allocation and a free per connection). */
#define SMALL_CHUNK 512u
#define SMALL_PER_KEPT 256u
/* In message mode every queued message has a 4-byte length in front. */
#define MSG_PREFIX 4u
/* Outstanding Pings remembered for matching Pongs. */
#define PING_RING 8u
/* Pongs held back for a Custody Ping (RFC 8323 §5.4.1). */
#define HELD_MAX 4u
/* Our Ping token: a 4-byte counter (never empty: INTEROP-NOTES.md, libcoap
 * over WS ignores 2-byte messages). */
#define PING_TKL 4u
/* RFC 7252 §4.6: 1152 = 1024 bytes of payload + 128 of header and options;
 * the Size1 hint in our 4.13 leaves the same room. */
#define HDR_ALLOWANCE 128u
/* RFC 8974 §2.1: longest token there can be. */
#define TOKEN_ABS_MAX RC_TOKEN_MAX_EXTENDED
/* rc_session_send_parts writes a payload up to this size itself. */
#define PARTS_PLEN_MAX 65536u
/* RFC 8323 §5.5: Alternative-Address is a string of 1-255 bytes. */
#define ALT_ADDR_MAX 255u

/* A UDP session (udp.c) behind the same handle. */
#define UDP(s) ((s) != NULL && rc__session_is_udp(s))

typedef struct out_chunk {
  struct out_chunk *next;
  size_t cap;
  size_t head; /* first unconsumed byte */
  size_t tail; /* end of queued bytes */
  uint8_t data[];
} out_chunk;

#define SMALL_CAP (SMALL_CHUNK - sizeof(out_chunk))

/* A file run (rc_session_msg_end_file): an out_chunk of cap 0, which no
 * message is ever encoded into, whose data holds this. The transport sends
 * the bytes from the file itself (sendfile), so the session holds none of
 * them. */
typedef struct out_file {
  int fd;       /* the session's own descriptor (a dup), closed when done */
  uint64_t off; /* next byte to send */
  size_t left;  /* bytes still to send */
} out_file;

static out_file *chunk_file(out_chunk *c) { return (out_file *)(void *)c->data; }

struct rc_chunk_pool {
  rc_mem mem;
  out_chunk *free; /* OUT_CHUNK-sized chunks */
  size_t n, max;
  out_chunk *small; /* SMALL_CHUNK-sized ones */
  size_t nsmall, max_small;
  size_t refs;     /* the creator's and one per session */
};

static uint8_t *rx_buf(void *user, const rc_tcp_hdr *h, size_t need,
                       int token_only);

typedef struct ping_ent {
  uint32_t id;
  rc_time sent;
} ping_ent;

typedef struct held_pong {
  uint8_t tok[RC_TOKEN_MAX];
  uint8_t tkl;
  uint8_t want_custody;
} held_pong;

struct rc_session {
  uint8_t is_udp; /* always 0 here; first member (udp_int.h) */

  /* What a read and its answers touch, together at the front (a depth-16
   * read of 50 connections otherwise takes a cache line per field group:
   * BENCHMARKS.md, hot16m). The small fields packed, no padding. */
  uint8_t state;
  uint8_t peer_csm;
  uint8_t peer_bwt;
  uint8_t we_released;
  uint8_t rbusy;         /* the frame being skipped was refused by
                            rx_budget (not over Max-Message-Size) */
  uint8_t consumed;      /* output was taken: queued bytes may start
                            mid-message */
  uint8_t peer_released;
  uint8_t in_recv;
  uint8_t files;         /* the transport sends file runs (set_files) */
  uint8_t awaiting_life;
  uint8_t tracing;       /* cb.on_trace is set (creation and
                            rc_session_set_trace keep it) */
  uint32_t peer_mms;
  uint32_t peer_max_tkl;
  unsigned n_held;
  rc_session_message_at_fn msg_at; /* replaces cb.on_message when set */
  void *msg_user;

  /* output */
  out_chunk *out_first, *out_last, *spare;
  size_t out_bytes;
  rc_enc *enc_open;      /* the caller's encoder between begin and end */
  size_t enc_prefix;     /* MSG_PREFIX in message mode, else 0 */

  /* input reassembly (stream mode) */
  uint8_t *rbuf;         /* the split frame's (or token's) buffer,
                            exactly its size; NULL between frames */
  rc_frame_reader rx;
  rc_time last_rx;

  rc_session_config cfg;
  rc_session_callbacks cb;
  void *user;
  rc_mem mem;
  rc_err rx_err;         /* why rx_buf closed the session (NOMEM) */
  size_t rtaken;         /* bytes of rx_budget held for rbuf */
  out_chunk *enc_chunk;  /* chunk it writes into (maybe not linked yet) */

  /* time */
  rc_time created;
  rc_time last_ping;
  rc_time life_deadline;
  rc_time release_deadline;
  rc_time held_deadline;

  ping_ent *pings;       /* PING_RING entries, allocated by the first Ping
                            we send (most sessions never send one) */
  unsigned ping_head, ping_count;
  uint32_t next_ping_id;

  held_pong held[HELD_MAX];
};

/* ------------------------------------------------------------------ */
/* small helpers                                                       */

static void sess_log(rc_session *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void sess_log(rc_session *s, int level, const char *fmt, ...) {
  if (s->cb.on_log == NULL)
    return;
  char line[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  s->cb.on_log(s->user, level, line);
}

static void *sess_alloc(rc_session *s, size_t n) {
  return s->mem.malloc(n, s->mem.user);
}
static void sess_free(rc_session *s, void *p) {
  if (p != NULL)
    s->mem.free(p, s->mem.user);
}

/* ---- the shared chunk pool ---- */

rc_err rc_chunk_pool_new(rc_chunk_pool **out, const rc_mem *mem, size_t max) {
  if (out == NULL)
    return RC_ERR_INVAL;
  if (mem == NULL)
    mem = rc_mem_default();
  rc_chunk_pool *p = mem->malloc(sizeof *p, mem->user);
  if (p == NULL)
    return RC_ERR_NOMEM;
  memset(p, 0, sizeof *p);
  p->mem = *mem;
  p->max = max;
  p->max_small = max > SIZE_MAX / SMALL_PER_KEPT ? SIZE_MAX
                                                 : max * SMALL_PER_KEPT;
  p->refs = 1;
  *out = p;
  return RC_OK;
}

void rc_chunk_pool_release(rc_chunk_pool *p) {
  if (p == NULL || --p->refs > 0)
    return;
  while (p->free != NULL) {
    out_chunk *c = p->free;
    p->free = c->next;
    p->mem.free(c, p->mem.user);
  }
  while (p->small != NULL) {
    out_chunk *c = p->small;
    p->small = c->next;
    p->mem.free(c, p->mem.user);
  }
  p->mem.free(p, p->mem.user);
}

/* A new OUT_CHUNK-sized chunk, from the pool when it has one. */
static out_chunk *chunk_take(rc_session *s) {
  rc_chunk_pool *p = s->cfg.out_pool;
  if (p != NULL && p->free != NULL) {
    out_chunk *c = p->free;
    p->free = c->next;
    p->n--;
    return c;
  }
  return sess_alloc(s, sizeof(out_chunk) + OUT_CHUNK);
}

/* An empty SMALL_CHUNK-sized chunk, from the pool when it has one. */
static out_chunk *chunk_take_small(rc_session *s) {
  rc_chunk_pool *p = s->cfg.out_pool;
  out_chunk *c;
  if (p != NULL && p->small != NULL) {
    c = p->small;
    p->small = c->next;
    p->nsmall--;
  } else if ((c = sess_alloc(s, SMALL_CHUNK)) == NULL) {
    return NULL;
  }
  c->next = NULL;
  c->cap = SMALL_CAP;
  c->head = c->tail = 0;
  return c;
}

/* Frees a chunk: an OUT_CHUNK- or SMALL_CHUNK-sized one back to the pool
 * while it has room. */
static void chunk_free(rc_session *s, out_chunk *c) {
  rc_chunk_pool *p = s->cfg.out_pool;
  if (c != NULL && p != NULL) {
    if (c->cap == OUT_CHUNK && p->n < p->max) {
      c->next = p->free;
      p->free = c;
      p->n++;
      return;
    }
    if (c->cap == SMALL_CAP && p->nsmall < p->max_small) {
      c->next = p->small;
      p->small = c;
      p->nsmall++;
      return;
    }
  }
  sess_free(s, c);
}

static rc_time time_min(rc_time a, rc_time b) { return a < b ? a : b; }
static rc_time time_add(rc_time t, uint32_t ms) {
  return t > RC_TIME_NEVER - ms ? RC_TIME_NEVER : t + ms;
}

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}
static uint32_t get_be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
         ((uint32_t)p[2] << 8) | p[3];
}

/* Gives back what rx_budget lent for rbuf. A closed session does so at
 * once (rbuf itself may still hold the message being dispatched): the
 * budget's owner may be gone before the transport deletes the session,
 * so nothing touches the budget after the close. */
static void rx_release(rc_session *s) {
  rc_budget_give_all(s->cfg.rx_budget, &s->rtaken);
}

/* Enters CLOSED and reports it once. */
static void sess_closed(rc_session *s, rc_err reason) {
  if (s->state == RC_SESSION_CLOSED)
    return;
  s->state = RC_SESSION_CLOSED;
  rx_release(s);
  /* The transport logs the connection's end; this is detail. */
  sess_log(s, RC_SESSION_LOG_DEBUG, "session closed: %s",
           reason == RC_OK ? "by this end" : rc_strerror(reason));
  if (s->cb.on_closed != NULL)
    s->cb.on_closed(s->user, reason);
}

/* ------------------------------------------------------------------ */
/* output chunks                                                       */

static void chunk_recycle(rc_session *s, out_chunk *c) {
  if (c->cap == OUT_CHUNK && s->spare == NULL) {
    c->head = c->tail = 0;
    c->next = NULL;
    s->spare = c;
  } else {
    chunk_free(s, c);
  }
}

/* A chunk with at least need free bytes at its tail: the last queued one,
 * the spare, or a new one. New chunks are linked only when a message is
 * committed into them. Returns NULL on allocation failure. */
static __attribute__((noinline)) out_chunk *out_room_new(rc_session *s,
                                                          size_t need);

static inline out_chunk *out_room(rc_session *s, size_t need) {
  out_chunk *c = s->out_last;
  if (c != NULL && c->cap - c->tail >= need)
    return c;
  return out_room_new(s, need);
}

/* out_room when the last chunk is full: the spare or a new chunk. */
static out_chunk *out_room_new(rc_session *s, size_t need) {
  out_chunk *c;
  if (s->spare != NULL && s->spare->cap >= need)
    return s->spare;
  size_t cap = need > OUT_CHUNK ? need : OUT_CHUNK;
  if (cap > SIZE_MAX - sizeof(out_chunk))
    return NULL;
  c = cap == OUT_CHUNK ? chunk_take(s)
                       : sess_alloc(s, sizeof(out_chunk) + cap);
  if (c == NULL)
    return NULL;
  c->next = NULL;
  c->cap = cap;
  c->head = c->tail = 0;
  return c;
}

/* Gives back a chunk from out_room() that received no message. */
static void out_unused(rc_session *s, out_chunk *c) {
  if (c == s->out_last || c == s->spare)
    return;
  chunk_recycle(s, c);
}

/* c, written to, becomes (or stays) the output's last chunk: no longer
 * the spare. */
static inline void out_link(rc_session *s, out_chunk *c) {
  if (c == s->spare)
    s->spare = NULL;
  if (c != s->out_last) {
    c->next = NULL;
    if (s->out_last != NULL)
      s->out_last->next = c;
    else
      s->out_first = c;
    s->out_last = c;
  }
}

/* Queues framed[0..len), which lies inside c past c->tail + prefix
 * (the encoder wrote it there), moving it down to close the gap. When
 * nothing is queued in c, c starts where the message does instead: a
 * large body (a 1 MiB BERT block read straight into the message) is not
 * copied once more to close the few bytes of header room. */
static void out_commit(rc_session *s, out_chunk *c, const uint8_t *framed,
                       size_t len) {
  uint8_t *dst = c->data + c->tail;
  if (c->head == c->tail) {
    c->head = c->tail = (size_t)(framed - s->enc_prefix - c->data);
    dst = c->data + c->tail;
  }
  if (s->enc_prefix) {
    put_be32(dst, (uint32_t)len);
    dst += MSG_PREFIX;
  }
  if (framed != dst)
    memmove(dst, framed, len);
  c->tail += s->enc_prefix + len;
  s->out_bytes += s->enc_prefix + len;
  out_link(s, c);
}

/* out_commit for a message written at c's tail (parts_head): nothing to
 * move, no length prefix (a stream). */
static inline void out_commit_tail(rc_session *s, out_chunk *c, size_t len) {
  c->tail += len;
  s->out_bytes += len;
  out_link(s, c);
}

/* Starts any message (signaling included) in the output. */
static rc_err enc_begin(rc_session *s, rc_enc *e, out_chunk **cp,
                        uint8_t code, const uint8_t *token, size_t tkl,
                        size_t size_hint) {
  size_t need = s->enc_prefix + RC_ENC_HEADROOM + 2 + tkl;
  if (size_hint > SIZE_MAX - need - RC_SESSION_OPT_ROOM)
    return RC_ERR_NOMEM;
  need += size_hint + RC_SESSION_OPT_ROOM;
  out_chunk *c = out_room(s, need);
  if (c == NULL)
    return RC_ERR_NOMEM;
  uint8_t *base = c->data + c->tail + s->enc_prefix;
  rc_enc_init(e, base, c->cap - c->tail - s->enc_prefix, code, token, tkl);
  *cp = c;
  return RC_OK;
}

/* Finishes a message from enc_begin: frames, checks the peer's limit,
 * queues. On error nothing is queued. */
static rc_err enc_end(rc_session *s, rc_enc *e, out_chunk *c) {
  const uint8_t *framed;
  size_t len;
  rc_err rc = rc_enc_finish(e, s->cfg.framing, 0, 0, &framed, &len);
  if (rc == RC_OK && len > s->peer_mms) {
    /* RFC 8323 §5.3.1: Max-Message-Size is "the maximum size of a message
     * in bytes that it can receive"; never send more. */
    rc = RC_ERR_PEER_TOO_LARGE;
  }
  if (rc != RC_OK) {
    out_unused(s, c);
    return rc;
  }
  if (s->cb.on_trace) {
    rc_msg view;
    if (rc_msg_parse(s->cfg.framing, framed, len, &view) == RC_OK)
      s->cb.on_trace(s->user, 1, &view);
  }
  out_commit(s, c, framed, len);
  return RC_OK;
}

/* Queues a signaling message with at most two options (num 0 = none) and
 * an optional payload. Failing to queue for lack of memory closes the
 * session (we could not give the protocol's answer). */
typedef struct sig_opt {
  uint16_t num;
  const void *val;
  size_t len;
  int is_uint;
  uint32_t uval;
} sig_opt;

static rc_err queue_signal(rc_session *s, uint8_t code, const uint8_t *tok,
                           size_t tkl, const sig_opt *opts, size_t nopts,
                           const void *payload, size_t plen) {
  rc_enc e;
  out_chunk *c;
  size_t hint = plen;
  for (size_t i = 0; i < nopts; i++)
    hint += opts[i].len + 5;
  rc_err rc = enc_begin(s, &e, &c, code, tok, tkl, hint);
  if (rc != RC_OK)
    return rc;
  for (size_t i = 0; i < nopts; i++) {
    if (opts[i].is_uint)
      rc_enc_opt_uint(&e, opts[i].num, opts[i].uval);
    else
      rc_enc_opt(&e, opts[i].num, opts[i].val, opts[i].len);
  }
  if (plen > 0)
    rc_enc_payload(&e, payload, plen);
  return enc_end(s, &e, c);
}

/* Sends Abort (RFC 8323 §5.6) and closes with reason. */
static void sess_abort(rc_session *s, rc_err reason, uint16_t bad_opt,
                       const char *diag) {
  if (s->state == RC_SESSION_CLOSED)
    return;
  sig_opt o = {RC_SIGOPT_BAD_CSM_OPTION, NULL, 0, 1, bad_opt};
  size_t dlen = diag != NULL ? strlen(diag) : 0;
  if (dlen > RC_SESSION_DIAG_MAX)
    dlen = RC_SESSION_DIAG_MAX;
  sess_log(s, RC_SESSION_LOG_WARN, "sending Abort: %.*s", (int)dlen,
           diag != NULL ? diag : "");
  /* "A diagnostic payload ... SHOULD be included in the Abort message."
   * (RFC 8323 §5.6). If it cannot be queued we close all the same. */
  (void)queue_signal(s, RC_SIG_ABORT, NULL, 0, &o, bad_opt != 0 ? 1 : 0,
                     diag, dlen);
  sess_closed(s, reason);
}

/* Queues an internal message; on NOMEM closes the session. */
static rc_err queue_or_die(rc_session *s, rc_err rc) {
  if (rc == RC_ERR_NOMEM)
    sess_closed(s, RC_ERR_NOMEM);
  else if (rc != RC_OK)
    sess_log(s, RC_SESSION_LOG_WARN, "could not queue a message: %s",
             rc_err_name(rc));
  return rc == RC_ERR_NOMEM ? rc : RC_OK;
}

/* ------------------------------------------------------------------ */
/* creation                                                            */

void rc_session_config_default(rc_session_config *cfg, rc_framing framing,
                               rc_session_role role) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->framing = framing;
  cfg->role = role;
  cfg->max_msg_size = RC_SESSION_DEFAULT_MAX_MSG;
  cfg->block_wise = 1;
  cfg->max_token_len = RC_TOKEN_MAX;
  cfg->keepalive_ms = 0;
  cfg->ping_timeout_ms = RC_SESSION_DEFAULT_PING_TIMEOUT;
  cfg->csm_timeout_ms = RC_SESSION_DEFAULT_CSM_TIMEOUT;
  cfg->custody_delay_ms = RC_SESSION_DEFAULT_CUSTODY_DELAY;
  cfg->release_timeout_ms = 0;
  cfg->out_high_water = RC_SESSION_DEFAULT_OUT_HIGH_WATER;
  cfg->out_max = RC_SESSION_DEFAULT_OUT_MAX;
  rc__udp_config_default(&cfg->udp);
}

static rc_err send_csm(rc_session *s) {
  sig_opt o[3];
  size_t n = 0;
  /* Always carry Max-Message-Size: it states our limit, and a CSM with an
   * option is never a bare 2-byte message (INTEROP-NOTES.md). */
  o[n++] = (sig_opt){RC_SIGOPT_MAX_MESSAGE_SIZE, NULL, 0, 1,
                     s->cfg.max_msg_size};
  if (s->cfg.block_wise)
    o[n++] = (sig_opt){RC_SIGOPT_BLOCK_WISE_TRANSFER, NULL, 0, 0, 0};
  if (s->cfg.max_token_len > RC_TOKEN_MAX)
    o[n++] = (sig_opt){RC_SIGOPT_EXTENDED_TOKEN_LENGTH, NULL, 0, 1,
                       s->cfg.max_token_len};
  return queue_signal(s, RC_SIG_CSM, NULL, 0, o, n, NULL, 0);
}

/* A reliable session in CONNECTING, nothing queued (rc_session_new and
 * rc_session_unpark). */
static rc_err sess_make(rc_session **out, const rc_session_config *cfg,
                        const rc_session_callbacks *cb, void *user,
                        const rc_mem *mem, rc_time now) {
  if (cfg->framing != RC_FRAMING_TCP && cfg->framing != RC_FRAMING_WS)
    return RC_ERR_INVAL;
  if (cfg->max_msg_size < RC_SESSION_MIN_MAX_MSG ||
      cfg->max_token_len < RC_TOKEN_MAX ||
      cfg->max_token_len > TOKEN_ABS_MAX)
    return RC_ERR_INVAL;
  if (mem == NULL)
    mem = rc_mem_default();
  rc_session *s = mem->malloc(sizeof(*s), mem->user);
  if (s == NULL)
    return RC_ERR_NOMEM;
  memset(s, 0, sizeof(*s));
  s->cfg = *cfg;
  s->cb = *cb;
  s->tracing = cb->on_trace != NULL;
  s->user = user;
  s->mem = *mem;
  /* The pool is used only with the session's own allocator. */
  rc_chunk_pool *pool = cfg->out_pool;
  if (pool != NULL && pool->mem.malloc == mem->malloc &&
      pool->mem.free == mem->free && pool->mem.user == mem->user)
    pool->refs++;
  else
    s->cfg.out_pool = NULL;
  s->state = RC_SESSION_CONNECTING;
  /* RFC 8323 §5.3.1: until the peer's CSM, its Max-Message-Size is the
   * base value 1152; likewise no BERT and 8-byte tokens. */
  s->peer_mms = RC_MAX_MESSAGE_SIZE_BASE;
  s->peer_max_tkl = RC_TOKEN_MAX;
  s->enc_prefix = cfg->framing == RC_FRAMING_WS ? MSG_PREFIX : 0;
  s->created = s->last_rx = s->last_ping = now;
  s->next_ping_id = 1;
  rc_frame_reader_init_fn(&s->rx, cfg->max_msg_size, rx_buf, s);
  *out = s;
  return RC_OK;
}

rc_err rc_session_new(rc_session **out, const rc_session_config *cfg,
                      const rc_session_callbacks *cb, void *user,
                      const rc_mem *mem, rc_time now) {
  if (out == NULL || cfg == NULL || cb == NULL || cb->on_message == NULL)
    return RC_ERR_INVAL;
  *out = NULL;
  if (cfg->framing == RC_FRAMING_UDP)
    return rc__udp_new(out, cfg, cb, user, mem, now);
  rc_session *s;
  rc_err err = sess_make(&s, cfg, cb, user, mem, now);
  if (err != RC_OK)
    return err;
  /* RFC 8323 §3.3: "each endpoint MUST send a Capabilities and Settings
   * message (CSM ...) as their first message on the connection", and "the
   * Connection Initiator MUST NOT wait for the Connection Acceptor to send
   * its initial CSM message before sending its own". We never wait. */
  rc_err rc = send_csm(s);
  if (rc != RC_OK) {
    rc_session_free(s);
    return rc == RC_ERR_NOMEM ? RC_ERR_NOMEM : RC_ERR_INVAL;
  }
  *out = s;
  return RC_OK;
}

void rc_session_free(rc_session *s) {
  if (s == NULL)
    return;
  if (UDP(s)) {
    rc__udp_free(s);
    return;
  }
  if (s->enc_open != NULL)
    out_unused(s, s->enc_chunk);
  out_chunk *c = s->out_first;
  while (c != NULL) {
    out_chunk *n = c->next;
    if (c->cap == 0)
      close(chunk_file(c)->fd);
    chunk_free(s, c);
    c = n;
  }
  chunk_free(s, s->spare);
  sess_free(s, s->rbuf);
  sess_free(s, s->pings);
  rc_chunk_pool_release(s->cfg.out_pool);
  rx_release(s);
  s->mem.free(s, s->mem.user);
}

/* ------------------------------------------------------------------ */
/* parking                                                             */

/* What a parked session keeps (rc_session_parked is its opaque box). */
typedef struct park_rec {
  rc_time last_rx, last_ping;
  uint32_t peer_mms, peer_max_tkl;
  uint32_t next_ping_id;
  uint8_t magic;         /* PARK_MAGIC: a record made by rc_session_park */
  uint8_t framing;
  uint8_t peer_bwt;
} park_rec;
_Static_assert(sizeof(park_rec) <= sizeof(rc_session_parked),
               "rc_session_parked too small for the record");
#define PARK_MAGIC 0xa5u

int rc_session_parkable(const rc_session *s) {
  return s != NULL && !UDP(s) && s->state == RC_SESSION_OPEN &&
         !s->we_released && !s->peer_released && s->out_bytes == 0 &&
         s->enc_open == NULL && !s->in_recv && s->rbuf == NULL &&
         s->rtaken == 0 && !rc_frame_reader_busy(&s->rx) &&
         !s->awaiting_life && s->ping_count == 0 && s->n_held == 0;
}

rc_err rc_session_park(const rc_session *s, rc_session_parked *rec) {
  if (rec == NULL || !rc_session_parkable(s))
    return RC_ERR_STATE;
  park_rec r = {.last_rx = s->last_rx,
                .last_ping = s->last_ping,
                .peer_mms = s->peer_mms,
                .peer_max_tkl = s->peer_max_tkl,
                .next_ping_id = s->next_ping_id,
                .magic = PARK_MAGIC,
                .framing = (uint8_t)s->cfg.framing,
                .peer_bwt = s->peer_bwt};
  memset(rec, 0, sizeof *rec);
  memcpy(rec, &r, sizeof r);
  return RC_OK;
}

rc_time rc_session_parked_expiry(const rc_session_parked *rec,
                                 const rc_session_config *cfg) {
  park_rec r;
  memcpy(&r, rec, sizeof r);
  /* Parked means OPEN, no Ping out, no Pong held, no Release: of
   * rc_session_expiry's deadlines only the keepalive can be due. */
  if (r.magic != PARK_MAGIC || cfg == NULL || cfg->keepalive_ms == 0)
    return RC_TIME_NEVER;
  return time_add(r.last_rx > r.last_ping ? r.last_rx : r.last_ping,
                  cfg->keepalive_ms);
}

rc_err rc_session_unpark(rc_session **out, const rc_session_config *cfg,
                         const rc_session_callbacks *cb, void *user,
                         const rc_mem *mem, const rc_session_parked *rec) {
  if (out == NULL || cfg == NULL || cb == NULL || cb->on_message == NULL ||
      rec == NULL)
    return RC_ERR_INVAL;
  *out = NULL;
  park_rec r;
  memcpy(&r, rec, sizeof r);
  if (r.magic != PARK_MAGIC || r.framing != (uint8_t)cfg->framing)
    return RC_ERR_INVAL;
  rc_session *s;
  rc_err err = sess_make(&s, cfg, cb, user, mem, r.last_rx);
  if (err != RC_OK)
    return err;
  /* RFC 8323 §3.3: the CSM went out when the connection began, once;
   * the peer's (§5.3: cumulative) values are what its CSMs left. */
  s->state = RC_SESSION_OPEN;
  s->peer_csm = 1;
  s->peer_bwt = r.peer_bwt;
  s->peer_mms = r.peer_mms;
  s->peer_max_tkl = r.peer_max_tkl;
  s->last_ping = r.last_ping;
  s->next_ping_id = r.next_ping_id;
  s->consumed = 1; /* nothing queued before a watcher came */
  *out = s;
  return RC_OK;
}

/* ------------------------------------------------------------------ */
/* received signaling                                                  */

/* RFC 8323 §5.2: "If a Signaling option is critical and not understood by
 * the receiver, it MUST abort the connection". Returns the first unknown
 * critical option number, or 0. known is a bit set of understood numbers
 * (all below 32). */
static uint16_t unknown_critical(const rc_msg *m, uint32_t known) {
  rc_opt_iter it;
  rc_opt o;
  rc_opt_iter_init(&it, m);
  while (rc_opt_next(&it, &o)) {
    int understood = o.num < 32 && (known & (1u << o.num));
    if (!understood && rc_opt_is_critical(o.num))
      return o.num;
  }
  return 0;
}

static void handle_csm(rc_session *s, const rc_msg *m) {
  uint32_t mms = s->peer_mms, tkl = s->peer_max_tkl;
  uint8_t bwt = s->peer_bwt;
  rc_opt_iter it;
  rc_opt o;
  rc_opt_iter_init(&it, m);
  while (rc_opt_next(&it, &o)) {
    uint32_t v;
    switch (o.num) {
    case RC_SIGOPT_MAX_MESSAGE_SIZE:
      /* RFC 7252 §5.4.3: a value outside the option's length range "MUST
       * be treated like an unrecognized option": elective, so ignored. */
      if (o.len <= 4 && rc_opt_uint(&o, &v) == RC_OK)
        mms = v;
      break;
    case RC_SIGOPT_BLOCK_WISE_TRANSFER:
      if (o.len == 0)
        bwt = 1;
      break;
    case RC_SIGOPT_EXTENDED_TOKEN_LENGTH:
      if (o.len <= 3 && rc_opt_uint(&o, &v) == RC_OK)
        tkl = v < RC_TOKEN_MAX ? RC_TOKEN_MAX
              : v > TOKEN_ABS_MAX ? TOKEN_ABS_MAX : v;
      break;
    default:
      if (rc_opt_is_critical(o.num)) {
        /* RFC 8323 §5.6.1: the Bad-CSM-Option "indicates that the sender is
         * unable to process the CSM option identified by its option
         * number, e.g. when it is critical and the option number is
         * unknown by the sender". */
        char diag[64];
        snprintf(diag, sizeof(diag), "unknown critical CSM option %u",
                 (unsigned)o.num);
        sess_abort(s, RC_ERR_BAD_CSM, o.num, diag);
        return;
      }
      /* elective and unknown: ignored */
      break;
    }
  }
  /* RFC 8323 §5.3: "Both capability and setting options are cumulative."
   * Options absent from this CSM keep their values. */
  s->peer_mms = mms;
  s->peer_bwt = bwt;
  s->peer_max_tkl = tkl;
  if (!s->peer_csm) {
    s->peer_csm = 1;
    if (s->state == RC_SESSION_CONNECTING)
      s->state = RC_SESSION_OPEN;
  }
  sess_log(s, RC_SESSION_LOG_DEBUG, "peer CSM: max-message-size %u%s",
           (unsigned)mms, bwt ? ", block-wise" : "");
  if (s->cb.on_csm != NULL)
    s->cb.on_csm(s->user);
}

static rc_err send_pong(rc_session *s, const uint8_t *tok, size_t tkl,
                        int custody) {
  sig_opt o = {RC_SIGOPT_CUSTODY, NULL, 0, 0, 0};
  /* RFC 8323 §5.4: "Upon receipt of a Ping message, the receiver MUST
   * return a Pong message with an identical token in response." */
  return queue_or_die(s, queue_signal(s, RC_SIG_PONG, tok, tkl, &o,
                                      custody ? 1 : 0, NULL, 0));
}

static int custody_ok(rc_session *s) {
  return s->cb.custody_ready != NULL && s->cb.custody_ready(s->user);
}

/* Sends the held Pongs, in order. force: deadline passed, send them
 * without Custody if custody is still not ready. */
static rc_err flush_held(rc_session *s, int force) {
  if (s->n_held == 0)
    return RC_OK;
  int ready = custody_ok(s);
  if (!ready && !force)
    return RC_OK;
  unsigned n = s->n_held;
  held_pong h[HELD_MAX];
  memcpy(h, s->held, sizeof(h));
  s->n_held = 0;
  for (unsigned i = 0; i < n && s->state != RC_SESSION_CLOSED; i++) {
    rc_err rc = send_pong(s, h[i].tok, h[i].tkl, h[i].want_custody && ready);
    if (rc != RC_OK)
      return rc;
  }
  return RC_OK;
}

static rc_err handle_ping(rc_session *s, const rc_msg *m, rc_time now) {
  uint16_t bad = unknown_critical(m, 1u << RC_SIGOPT_CUSTODY);
  if (bad != 0) {
    sess_abort(s, RC_ERR_PROTOCOL, 0, "unknown critical option in Ping");
    return RC_OK;
  }
  int want = rc_msg_find_opt(m, RC_SIGOPT_CUSTODY, &(rc_opt){0});
  if (!want && s->n_held == 0)
    return send_pong(s, m->token, m->token_len, 0);
  if (want && s->n_held == 0 && (s->cb.custody_ready == NULL ||
                                 custody_ok(s)))
    return send_pong(s, m->token, m->token_len, s->cb.custody_ready != NULL);
  /* RFC 8323 §5.4.1: "the receiver SHOULD delay its Pong message until it
   * finishes processing all the request/response messages received prior
   * to the Ping message". Plain Pings behind a held one wait too, so that
   * Pongs keep the order of their Pings (peers that match by order). */
  if (s->n_held == HELD_MAX || m->token_len > RC_TOKEN_MAX) {
    rc_err rc = flush_held(s, 1);
    if (rc != RC_OK || s->state == RC_SESSION_CLOSED)
      return rc;
    return send_pong(s, m->token, m->token_len, 0);
  }
  held_pong *h = &s->held[s->n_held++];
  if (m->token_len) /* an empty token is NULL in a parsed message */
    memcpy(h->tok, m->token, m->token_len);
  h->tkl = (uint8_t)m->token_len;
  h->want_custody = (uint8_t)want;
  if (s->n_held == 1)
    s->held_deadline = time_add(now, s->cfg.custody_delay_ms);
  return RC_OK;
}

static void handle_pong(rc_session *s, const rc_msg *m, rc_time now) {
  if (unknown_critical(m, 1u << RC_SIGOPT_CUSTODY) != 0) {
    sess_abort(s, RC_ERR_PROTOCOL, 0, "unknown critical option in Pong");
    return;
  }
  if (s->ping_count == 0)
    return;
  /* Match by token; libcoap's Pongs carry no token or another one
   * (INTEROP-NOTES.md), so otherwise take the oldest outstanding Ping. */
  unsigned idx = 0;
  if (m->token_len == PING_TKL) {
    uint32_t id = get_be32(m->token);
    for (unsigned i = 0; i < s->ping_count; i++) {
      if (s->pings[(s->ping_head + i) % PING_RING].id == id) {
        idx = i;
        break;
      }
    }
  }
  ping_ent p = s->pings[(s->ping_head + idx) % PING_RING];
  /* drop the entry, keeping the order of the others */
  for (unsigned i = idx; i > 0; i--)
    s->pings[(s->ping_head + i) % PING_RING] =
        s->pings[(s->ping_head + i - 1) % PING_RING];
  s->ping_head = (s->ping_head + 1) % PING_RING;
  s->ping_count--;
  int custody = rc_msg_find_opt(m, RC_SIGOPT_CUSTODY, &(rc_opt){0});
  if (s->cb.on_pong != NULL)
    s->cb.on_pong(s->user, p.id, now >= p.sent ? now - p.sent : 0, custody);
}

static void handle_release(rc_session *s, const rc_msg *m) {
  if (unknown_critical(m, (1u << RC_SIGOPT_ALTERNATIVE_ADDRESS) |
                              (1u << RC_SIGOPT_HOLD_OFF)) != 0) {
    sess_abort(s, RC_ERR_PROTOCOL, 0, "unknown critical option in Release");
    return;
  }
  rc_session_release_info info;
  memset(&info, 0, sizeof(info));
  info.hold_off_s = RC_SESSION_NO_HOLD_OFF;
  rc_opt_iter it;
  rc_opt o;
  rc_opt_iter_init(&it, m);
  while (rc_opt_next(&it, &o)) {
    uint32_t v;
    if (o.num == RC_SIGOPT_ALTERNATIVE_ADDRESS && o.len >= 1 &&
        o.len <= ALT_ADDR_MAX && info.n_alt < RC_SESSION_ALT_MAX) {
      info.alt[info.n_alt] = (const char *)o.val;
      info.alt_len[info.n_alt++] = o.len;
    } else if (o.num == RC_SIGOPT_HOLD_OFF && o.len <= 3 &&
               rc_opt_uint(&o, &v) == RC_OK) {
      info.hold_off_s = v;
    }
  }
  info.diag = (const char *)m->payload;
  info.diag_len = m->payload_len;
  s->peer_released = 1;
  if (s->state != RC_SESSION_CLOSED)
    s->state = RC_SESSION_RELEASING;
  sess_log(s, RC_SESSION_LOG_INFO, "peer sent Release");
  if (s->cb.on_release != NULL)
    s->cb.on_release(s->user, &info);
}

static void handle_abort(rc_session *s, const rc_msg *m) {
  rc_session_abort_info info;
  memset(&info, 0, sizeof(info));
  rc_opt o;
  uint32_t v;
  if (rc_msg_find_opt(m, RC_SIGOPT_BAD_CSM_OPTION, &o) && o.len <= 2 &&
      rc_opt_uint(&o, &v) == RC_OK) {
    info.has_bad_csm_option = 1;
    info.bad_csm_option = v;
  }
  info.diag = (const char *)m->payload;
  info.diag_len = m->payload_len;
  sess_log(s, RC_SESSION_LOG_WARN, "peer sent Abort: %.*s",
           (int)(m->payload_len > 100 ? 100 : m->payload_len),
           m->payload != NULL ? (const char *)m->payload : "");
  if (s->cb.on_abort != NULL)
    s->cb.on_abort(s->user, &info);
  sess_closed(s, RC_ERR_PEER_ABORT);
}

/* ------------------------------------------------------------------ */
/* received messages                                                   */

/* Hands m to the user; a callback failure closes the session. */
static inline rc_err deliver(rc_session *s, const rc_msg *m, rc_time now) {
  if ((s->msg_at != NULL ? s->msg_at(s->msg_user, m, now)
                         : s->cb.on_message(s->user, m)) != 0) {
    sess_closed(s, RC_ERR_CALLBACK_FAILURE);
    return RC_ERR_CALLBACK_FAILURE;
  }
  return RC_OK;
}

/* dispatch for all but the common message (a request or response after
 * the CSM, untraced): traces, signals, reserved classes, a missing CSM,
 * a token too long. */
static __attribute__((noinline)) rc_err
dispatch_other(rc_session *s, const rc_msg *m, rc_time now) {
  if (s->cb.on_trace)
    s->cb.on_trace(s->user, 0, m);
  if (!s->peer_csm && m->code != RC_SIG_CSM) {
    /* RFC 8323 §3.3: "Endpoints MUST treat a missing or invalid CSM as a
     * connection error and abort the connection". */
    char diag[64];
    snprintf(diag, sizeof(diag), "first message must be a CSM, got %u.%02u",
             RC_CODE_CLASS(m->code), RC_CODE_DETAIL(m->code));
    sess_abort(s, RC_ERR_BAD_CSM, 0, diag);
    return RC_OK;
  }
  if (m->code == RC_CODE_EMPTY) {
    /* RFC 8323 §3.4: "Empty messages (Code 0.00) can always be sent and
     * MUST be ignored by the recipient." */
    return RC_OK;
  }
  uint8_t cls = RC_CODE_CLASS(m->code);
  if (cls == 7) {
    switch (m->code) {
    case RC_SIG_CSM:
      handle_csm(s, m);
      return RC_OK;
    case RC_SIG_PING:
      return handle_ping(s, m, now);
    case RC_SIG_PONG:
      handle_pong(s, m, now);
      return RC_OK;
    case RC_SIG_RELEASE:
      handle_release(s, m);
      return RC_OK;
    case RC_SIG_ABORT:
      handle_abort(s, m);
      return RC_OK;
    default:
      /* RFC 8323 does not define other signaling codes; like unknown
       * elective options they carry nothing we must act on, so they are
       * ignored (with a log line) for forward compatibility. */
      sess_log(s, RC_SESSION_LOG_INFO, "ignoring unknown signal 7.%02u",
               RC_CODE_DETAIL(m->code));
      return RC_OK;
    }
  }
  if (cls == 1 || cls == 6) {
    /* Reserved classes (RFC 7252 §12.1): a message format error, which
     * over reliable transports "the recipient rejects ... by sending an
     * Abort message" (RFC 8323 §5.6). */
    sess_abort(s, RC_ERR_PROTOCOL, 0, "reserved code class");
    return RC_OK;
  }
  if (m->token_len > s->cfg.max_token_len) {
    /* We announced (or implied, RFC 8974 §2.2.2) the longest token we
     * take; a longer one is a format error on this connection. */
    sess_abort(s, RC_ERR_PROTOCOL, 0, "token longer than announced");
    return RC_OK;
  }
  return deliver(s, m, now);
}

/* Code classes of requests (0, the Empty code aside) and responses
 * (2-5): bit n for class n. */
#define CLASSES_USER (1u << 0 | 1u << 2 | 1u << 3 | 1u << 4 | 1u << 5)

/* One whole received message. Returns an error only for NOMEM and
 * callback failure; protocol errors are answered and close the session.
 * A request or response after the CSM, untraced, with a token we take,
 * goes straight to the user; the rest is dispatch_other's. */
static inline rc_err dispatch(rc_session *s, const rc_msg *m, rc_time now) {
  if (s->peer_csm && !s->tracing && m->code != RC_CODE_EMPTY &&
      (CLASSES_USER >> RC_CODE_CLASS(m->code) & 1) &&
      m->token_len <= s->cfg.max_token_len)
    return deliver(s, m, now);
  return dispatch_other(s, m, now);
}

/* A message over our Max-Message-Size: only its code and token are known. */
static rc_err oversize(rc_session *s, uint8_t code, const uint8_t *tok,
                       size_t tkl) {
  if (!s->peer_csm) {
    sess_abort(s, RC_ERR_BAD_CSM, 0, "first message over Max-Message-Size");
    return RC_OK;
  }
  if (rc_code_is_request(code) && tkl <= s->cfg.max_token_len) {
    /* RFC 7252 §5.9.2.9 4.13 Request Entity Too Large; "the server MAY
     * indicate the maximum size of request entity it is able and willing
     * to handle in a Size1 Option". The connection stays usable. */
    sess_log(s, RC_SESSION_LOG_INFO, "request over Max-Message-Size: 4.13");
    rc_enc e;
    out_chunk *c;
    rc_err rc = enc_begin(s, &e, &c, RC_REQUEST_ENTITY_TOO_LARGE, tok, tkl,
                          8);
    if (rc == RC_OK) {
      uint32_t size1 = s->cfg.max_msg_size - HDR_ALLOWANCE;
      rc_enc_opt_uint(&e, RC_OPT_SIZE1, size1);
      rc = enc_end(s, &e, c);
    }
    return queue_or_die(s, rc);
  }
  sess_abort(s, RC_ERR_PROTOCOL, 0, "message over Max-Message-Size");
  return RC_OK;
}

/* A message rx_budget would not take: only its code and token are kept. */
static rc_err rx_refused(rc_session *s, uint8_t code, const uint8_t *tok,
                         size_t tkl) {
  if (!s->peer_csm || !rc_code_is_request(code) || tkl > s->cfg.max_token_len) {
    sess_abort(s, RC_ERR_LIMIT, 0, "no memory for a message this large now");
    return RC_OK;
  }
  size_t lim = rc_budget_limit(s->cfg.rx_budget);
  const rc_tcp_hdr *h = rc_frame_reader_hdr(&s->rx);
  int never = (uint64_t)h->hdr_len + h->token_len + h->body_len > lim;
  sess_log(s, RC_SESSION_LOG_WARN, never
               ? "request larger than the memory for messages: 4.13"
               : "no memory for the request now: 5.03");
  static const char diag_never[] = "message larger than the server's memory "
                                   "for messages";
  static const char diag_busy[] = "no memory for a message this large now";
  const char *diag = never ? diag_never : diag_busy;
  size_t dlen = never ? sizeof diag_never - 1 : sizeof diag_busy - 1;
  rc_enc e;
  out_chunk *c;
  rc_err rc = enc_begin(s, &e, &c,
                        never ? RC_REQUEST_ENTITY_TOO_LARGE
                              : RC_SERVICE_UNAVAILABLE,
                        tok, tkl, 16 + dlen);
  if (rc == RC_OK) {
    /* RFC 7252 §5.10.9: Size1 in a 4.13 is the largest request body the
     * server is willing to take; §5.9.3.4: a 5.03 says in Max-Age when
     * to retry. */
    if (never)
      rc_enc_opt_uint(&e, RC_OPT_SIZE1,
                      lim > HDR_ALLOWANCE ? (uint32_t)(lim - HDR_ALLOWANCE)
                                          : 0);
    else
      rc_enc_opt_uint(&e, RC_OPT_MAX_AGE, RC_SESSION_RETRY_AFTER_S);
    rc_enc_payload(&e, diag, dlen);
    rc = enc_end(s, &e, c);
  }
  return queue_or_die(s, rc);
}

static void rx_abort_codec(rc_session *s, rc_err err) {
  char diag[80];
  snprintf(diag, sizeof(diag), "malformed message: %s", rc_err_name(err));
  /* RFC 8323 §5.6: "the recipient rejects such messages by sending an
   * Abort message and otherwise ignoring (not processing) the message." */
  sess_abort(s, RC_ERR_PROTOCOL, 0, diag);
}

/* Gives back the reassembly buffer once its frame is done: frames that
 * arrive whole never need it, and an idle connection should hold no
 * buffers (thousands of idle device connections per process). */
static void rx_shrink(rc_session *s) {
  sess_free(s, s->rbuf);
  s->rbuf = NULL;
  rx_release(s);
}

/* The reader's rc_frame_buf_fn: a frame that arrives split is buffered
 * whole, its memory past RC_SESSION_RX_FREE taken from the budget shared
 * with every other connection; one the budget will not take now, or one
 * over Max-Message-Size (RFC 8323 §5.3.1 is our announced limit), is never
 * buffered: only its token is kept, to answer a request with 4.13 or
 * 5.03. */
static uint8_t *rx_buf(void *user, const rc_tcp_hdr *h, size_t need,
                       int token_only) {
  rc_session *s = user;
  if (s->state == RC_SESSION_CLOSED)
    return NULL;
  if (!token_only) {
    s->rbusy = 0;
    if (need > RC_SESSION_RX_FREE && s->cfg.rx_budget != NULL) {
      if (rc_budget_take(s->cfg.rx_budget, need) != RC_OK) {
        s->rbusy = 1;
        return NULL;
      }
      s->rtaken = need;
    }
  } else if (h->token_len > s->cfg.max_token_len) {
    return NULL; /* rx_not_taken aborts */
  }
  /* The reader asks once per frame, after the previous one was given
   * back, and tells the exact size. */
  s->rbuf = s->mem.malloc(need, s->mem.user);
  if (s->rbuf == NULL) {
    s->rx_err = RC_ERR_NOMEM;
    sess_closed(s, RC_ERR_NOMEM);
    return NULL;
  }
  return s->rbuf;
}

/* A frame the reader reported but did not deliver: over Max-Message-Size,
 * or refused by rx_budget (rbusy). */
static rc_err rx_not_taken(rc_session *s, const rc_msg *m) {
  rc_err rc = RC_OK;
  if (rc_frame_reader_hdr(&s->rx)->token_len > s->cfg.max_token_len)
    sess_abort(s, RC_ERR_PROTOCOL, 0, "message over Max-Message-Size");
  else if (s->rbusy)
    rc = rx_refused(s, m->code, m->token, m->token_len);
  else
    rc = oversize(s, m->code, m->token, m->token_len);
  s->rbusy = 0;
  rx_shrink(s);
  return rc;
}

/* len bytes read into place (rc_session_read_room), all of the split
 * frame's; out of rx_stream's frame, which small messages use. */
static __attribute__((noinline)) rc_err rx_in_place(rc_session *s, size_t len,
                                                    rc_time now) {
  rc_frame_event ev;
  rc_msg m;
  rc_ssize n = rc_frame_reader_commit(&s->rx, len, &ev, &m);
  if (n < 0) {
    rx_abort_codec(s, (rc_err)n);
    return RC_OK;
  }
  if (ev != RC_FRAME_MSG)
    return RC_OK;
  rc_err rc = dispatch(s, &m, now);
  if (s->rbuf != NULL)
    rx_shrink(s);
  return rc;
}

/* A whole-frame run's state, on rx_stream's stack (not in the session:
 * an idle session stays as small as it was). */
typedef struct rx_run {
  rc_session *s;
  rc_time now;
  rc_err rc; /* what dispatch said, when not RC_OK */
} rx_run;

/* The whole-frame run's rc_frame_msg_fn: a frame parsed where it lies
 * (never in rbuf); stops the run on an error or a closed session. */
static int rx_each(void *user, const rc_msg *m) {
  rx_run *run = user;
  rc_session *s = run->s;
  rc_err rc = dispatch(s, m, run->now);
  if (rc != RC_OK) {
    run->rc = rc;
    return 1;
  }
  return s->state == RC_SESSION_CLOSED;
}

static rc_err rx_stream(rc_session *s, const uint8_t *in, size_t len,
                        rc_time now) {
  /* Read into place (rc_session_read_room): the split frame's own buffer
   * holds the bytes already, and they are all its. */
  uint8_t *at;
  if (s->rbuf != NULL && rc_frame_reader_room(&s->rx, &at) > 0 && in == at)
    return rx_in_place(s, len, now);
  rx_run run = {s, now, RC_OK};
  while (len > 0 && s->state != RC_SESSION_CLOSED) {
    /* Every frame whole in the input, in one run; the reader takes the
     * rest (a split frame, one over Max-Message-Size) frame by frame. */
    rc_ssize n = rc__fast_paths_off
                     ? 0 /* the test's general way: frame by frame */
                     : rc_frame_reader_feed_each(&s->rx, in, len, rx_each, &run);
    if (n < 0) {
      rx_abort_codec(s, (rc_err)n);
      return RC_OK;
    }
    in += n;
    len -= (size_t)n;
    if (run.rc != RC_OK)
      return run.rc;
    if (len == 0 || s->state == RC_SESSION_CLOSED)
      break;
    rc_frame_event ev;
    rc_msg m;
    n = rc_frame_reader_feed(&s->rx, in, len, &ev, &m);
    if (n < 0) {
      rx_abort_codec(s, (rc_err)n);
      return RC_OK;
    }
    in += n;
    len -= (size_t)n;
    if (s->state == RC_SESSION_CLOSED)
      return s->rx_err;
    rc_err rc = RC_OK;
    if (ev == RC_FRAME_MSG) {
      rc = dispatch(s, &m, now);
      if (s->rbuf != NULL)
        rx_shrink(s); /* the frame was gathered, not parsed in place */
    } else if (ev == RC_FRAME_OVERSIZE) {
      rc = rx_not_taken(s, &m);
    }
    if (rc != RC_OK)
      return rc;
  }
  return RC_OK;
}

static rc_err rx_message(rc_session *s, const uint8_t *in, size_t len,
                         rc_time now) {
  rc_msg m;
  rc_err rc = rc_msg_parse(RC_FRAMING_WS, in, len, &m);
  if (rc != RC_OK) {
    /* RFC 8323 §4.2: "The Length (Len) field MUST be set to zero because
     * the WebSockets frame contains the length" (RC_ERR_BAD_LEN_NIBBLE).
     * A message shorter than its 2-byte header (or its token), the empty
     * one included, is RC_ERR_TRUNCATED: malformed like any other. */
    rx_abort_codec(s, rc);
    return RC_OK;
  }
  if (len > s->cfg.max_msg_size)
    return oversize(s, m.code, m.token, m.token_len);
  return dispatch(s, &m, now);
}

rc_err rc_session_recv(rc_session *s, const uint8_t *data, size_t len,
                       rc_time now) {
  if (UDP(s))
    return rc__udp_recv(s, data, len, now);

  if (s == NULL || (data == NULL && len != 0))
    return RC_ERR_INVAL;
  if (s->enc_open != NULL || s->in_recv)
    return RC_ERR_STATE;
  if (s->state == RC_SESSION_CLOSED)
    return RC_ERR_CLOSED;
  /* Any byte from the peer shows it is alive. */
  if (len > 0) {
    s->last_rx = now;
    s->awaiting_life = 0;
  }
  s->in_recv = 1;
  rc_err rc = s->cfg.framing == RC_FRAMING_WS ? rx_message(s, data, len, now)
                                              : rx_stream(s, data, len, now);
  s->in_recv = 0;
  return rc;
}

size_t rc_session_read_room(rc_session *s, uint8_t **at) {
  if (UDP(s) || s->cfg.framing != RC_FRAMING_TCP ||
      s->state == RC_SESSION_CLOSED)
    return 0;
  return rc_frame_reader_room(&s->rx, at);
}

/* ------------------------------------------------------------------ */
/* user messages                                                       */

static rc_err check_user_msg(rc_session *s, uint8_t code, size_t tkl) {
  if (s->enc_open != NULL)
    return RC_ERR_STATE;
  if (code == RC_CODE_EMPTY || rc_code_is_signaling(code))
    return RC_ERR_BAD_CODE;
  if (s->state == RC_SESSION_CLOSED)
    return RC_ERR_CLOSED;
  if (rc_code_is_request(code)) {
    /* RFC 8323 §5.5: "It is NOT RECOMMENDED for the sender of a Release
     * message to continue sending requests on the connection it already
     * indicated to be released"; after the peer's Release it may close at
     * any time, so new requests would be lost. */
    if (s->peer_released)
      return RC_ERR_PEER_RELEASE;
    if (s->we_released)
      return RC_ERR_STATE;
    if (tkl > s->peer_max_tkl)
      return RC_ERR_TOKEN_TOO_LONG;
  }
  if (s->out_bytes >= s->cfg.out_max)
    return RC_ERR_LIMIT;
  return RC_OK;
}

rc_err rc_session_msg_begin(rc_session *s, rc_enc *e, uint8_t code,
                            const uint8_t *token, size_t token_len,
                            size_t size_hint) {
  if (UDP(s))
    return rc__udp_msg_begin(s, e, code, token, token_len, size_hint);

  if (s == NULL || e == NULL || (token == NULL && token_len != 0))
    return RC_ERR_INVAL;
  rc_err rc = check_user_msg(s, code, token_len);
  if (rc != RC_OK)
    return rc;
  if (token_len > TOKEN_ABS_MAX)
    return RC_ERR_TOKEN_TOO_LONG;
  out_chunk *c;
  rc = enc_begin(s, e, &c, code, token, token_len, size_hint);
  if (rc != RC_OK)
    return rc;
  s->enc_open = e;
  s->enc_chunk = c;
  return RC_OK;
}

rc_err rc_session_msg_end(rc_session *s, rc_enc *e) {
  if (UDP(s))
    return rc__udp_msg_end(s, e);

  if (s == NULL || e == NULL || s->enc_open != e)
    return RC_ERR_STATE;
  out_chunk *c = s->enc_chunk;
  s->enc_open = NULL;
  s->enc_chunk = NULL;
  return enc_end(s, e, c);
}

void rc_session_set_files(rc_session *s, int on) {
  if (s != NULL && !UDP(s) && s->cfg.framing == RC_FRAMING_TCP)
    s->files = on != 0;
}

int rc_session_files(const rc_session *s) {
  return s != NULL && !UDP(s) && s->files;
}

rc_err rc_session_msg_end_file(rc_session *s, rc_enc *e, int fd,
                               uint64_t off, size_t len) {
  if (s == NULL || UDP(s) || e == NULL || s->enc_open != e)
    return RC_ERR_STATE;
  out_chunk *c = s->enc_chunk;
  s->enc_open = NULL;
  s->enc_chunk = NULL;
  const uint8_t *framed = NULL;
  size_t n = 0;
  rc_err rc = rc_session_files(s) ? rc_enc_finish_tail(e, len, &framed, &n)
                                   : RC_ERR_NOT_SUPPORTED;
  /* RFC 8323 §5.3.1: never more than the peer's Max-Message-Size. */
  if (rc == RC_OK && (n > s->peer_mms || len > s->peer_mms - n))
    rc = RC_ERR_PEER_TOO_LARGE;
  out_chunk *fc = NULL;
  int dfd = -1;
  if (rc == RC_OK &&
      (fc = sess_alloc(s, sizeof(out_chunk) + sizeof(out_file))) == NULL)
    rc = RC_ERR_NOMEM;
  if (rc == RC_OK && (dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0) {
    sess_free(s, fc);
    rc = RC_ERR_IO;
  }
  if (rc != RC_OK) {
    out_unused(s, c);
    return rc;
  }
  if (s->cb.on_trace) {
    /* A trace (rcoapd -v, its access log) sees the head and the length. */
    rc_msg view;
    if (rc_msg_parse_head(framed, n, len, &view) == RC_OK)
      s->cb.on_trace(s->user, 1, &view);
  }
  out_commit(s, c, framed, n); /* c is now out_last */
  fc->next = NULL;
  fc->cap = fc->head = fc->tail = 0;
  *chunk_file(fc) = (out_file){dfd, off, len};
  s->out_last->next = fc;
  s->out_last = fc;
  s->out_bytes += len;
  return RC_OK;
}

void rc_session_msg_cancel(rc_session *s, rc_enc *e) {
  if (UDP(s)) {
    rc__udp_msg_cancel(s, e);
    return;
  }

  if (s == NULL || e == NULL || s->enc_open != e)
    return;
  out_unused(s, s->enc_chunk);
  s->enc_open = NULL;
  s->enc_chunk = NULL;
}

/* The general way for rc_session_send_parts: the encoder, in any framing
 * (UDP's rc__udp_msg_* included), with room for the options' longest
 * headers, so it fits the first time. */
static rc_err send_parts_enc(rc_session *s, uint8_t code, const uint8_t *token,
                             size_t tkl, const rc_opt *opts, size_t nopts,
                             const uint8_t *payload, size_t plen) {
  size_t hint = plen + 1;
  for (size_t i = 0; i < nopts; i++)
    hint += 5 + (size_t)opts[i].len; /* at most 5 bytes of option header */
  rc_enc e;
  rc_err rc = rc_session_msg_begin(s, &e, code, token, tkl, hint);
  if (rc != RC_OK)
    return rc;
  for (size_t i = 0; i < nopts; i++)
    rc_enc_opt(&e, opts[i].num, opts[i].val, opts[i].len);
  rc_enc_payload(&e, payload, plen);
  return rc_session_msg_end(s, &e);
}

/* RFC 8323 §3.2: a frame header for body bytes of options and payload
 * (Len 0-12 in the nibble, 13: one more byte, 14: two more) and a token
 * of tkl bytes (at most 8), then code and token; returns its end. */
static inline uint8_t *put_tcp_head(uint8_t *q, size_t body, uint8_t code,
                                    const uint8_t *token, size_t tkl) {
  if (body < 13) {
    *q++ = (uint8_t)(body << 4 | tkl);
  } else if (body < 269) {
    *q++ = (uint8_t)(13u << 4 | tkl);
    *q++ = (uint8_t)(body - 13);
  } else {
    *q++ = (uint8_t)(14u << 4 | tkl);
    *q++ = (uint8_t)((body - 269) >> 8);
    *q++ = (uint8_t)(body - 269);
  }
  *q++ = code;
  rc__enc_copy12(q, token, tkl);
  return q + tkl;
}

/* The header and token of a message whose options and payload make body
 * bytes (RFC 8323 §3.2 Len), written where the last message ended; *room
 * is where the body goes, *total the whole message's size. The caller
 * writes the body and calls out_commit_tail. */
static inline rc_err parts_head(rc_session *s, uint8_t code,
                                const uint8_t *token, size_t tkl, size_t body,
                                out_chunk **cp, uint8_t **room,
                                size_t *total) {
  rc_err rc = check_user_msg(s, code, tkl);
  if (rc != RC_OK)
    return rc;
  /* RFC 8323 §3.2: Len 0-12 in the nibble; 13: one more byte (Len - 13);
   * 14: two more (Len - 269) */
  size_t ext = body < 13 ? 0 : body < 269 ? 1 : 2;
  *total = 2 + ext + tkl + body;
  if (*total > s->peer_mms)
    return RC_ERR_PEER_TOO_LARGE; /* RFC 8323 §5.3.1, as in enc_end */
  out_chunk *c = out_room(s, *total);
  if (c == NULL)
    return RC_ERR_NOMEM;
  *cp = c;
  *room = put_tcp_head(c->data + c->tail, body, code, token, tkl);
  return RC_OK;
}

/* Whether a message of up to body bytes after its token may be written
 * by parts_head on s (a stream, no trace, a short token). */
static inline int parts_fast(const rc_session *s, const uint8_t *token,
                             size_t tkl) {
  return s != NULL && !UDP(s) && s->enc_prefix == 0 && !s->tracing &&
         tkl <= RC_TOKEN_MAX &&
         (token != NULL || tkl == 0);
}

rc_err rc_session_send_parts(rc_session *s, uint8_t code, const uint8_t *token,
                             size_t tkl, const rc_opt *opts, size_t nopts,
                             const uint8_t *payload, size_t plen) {
  /* The common answer on a stream (a short token, options whose header is
   * one or two bytes, a body under 65,805 bytes, no trace) is written
   * here, its exact size known before a byte is written: where the last
   * message ended, in one pass, never moved. Everything else, errors
   * included, goes through the encoder (send_parts_enc). */
  if (!parts_fast(s, token, tkl) || (payload == NULL && plen != 0) ||
      plen > PARTS_PLEN_MAX)
    return send_parts_enc(s, code, token, tkl, opts, nopts, payload, plen);
  size_t body = plen ? 1 + plen : 0; /* options and payload: RFC 8323 Len */
  uint32_t last = 0;
  for (size_t i = 0; i < nopts; i++) {
    uint32_t d = (uint32_t)opts[i].num - last; /* wraps when out of order */
    if (d >= 269 || opts[i].len >= 13 || (opts[i].val == NULL && opts[i].len))
      return send_parts_enc(s, code, token, tkl, opts, nopts, payload, plen);
    body += (d < 13 ? 1u : 2u) + opts[i].len;
    last = opts[i].num;
  }
  if (body >= 65805)
    return send_parts_enc(s, code, token, tkl, opts, nopts, payload, plen);
  out_chunk *c;
  uint8_t *q;
  size_t total;
  rc_err rc = parts_head(s, code, token, tkl, body, &c, &q, &total);
  if (rc != RC_OK)
    return rc;
  last = 0;
  for (size_t i = 0; i < nopts; i++) {
    q += rc__enc_opt_hdr(q, (uint32_t)opts[i].num - last, opts[i].len);
    rc__enc_copy12(q, opts[i].val, opts[i].len);
    q += opts[i].len;
    last = opts[i].num;
  }
  if (plen) {
    *q++ = 0xFF; /* RFC 7252 §3.1 payload marker */
    memcpy(q, payload, plen);
  }
  out_commit_tail(s, c, total);
  return RC_OK;
}

/* A message of pre-encoded options and payload (tail[0..tail_len), the
 * options its first opts_len bytes) through the encoder, in any framing
 * (UDP's rc__udp_msg_* included), traced, any token: the options are
 * copied as they are (rc_enc_opts_raw). rc_session_send_tail off its
 * own paths, and every message of rc_session_send_tails off its. */
static __attribute__((noinline)) rc_err
send_tail_enc(rc_session *s, uint8_t code, const uint8_t *token, size_t tkl,
              const uint8_t *tail, size_t opts_len, size_t tail_len) {
  rc_enc e;
  rc_err rc = rc_session_msg_begin(s, &e, code, token, tkl, tail_len + 1);
  if (rc != RC_OK)
    return rc;
  rc_enc_opts_raw(&e, tail, opts_len); /* a failure is sticky: msg_end */
  if (tail_len > opts_len)
    rc_enc_payload(&e, tail + opts_len + 1, tail_len - opts_len - 1);
  return rc_session_msg_end(s, &e);
}

/* rc_session_send_tail for all but a short tail into the last chunk's
 * room (a stream, no trace): parts_head or the encoder. */
static __attribute__((noinline)) rc_err
send_tail_far(rc_session *s, uint8_t code, const uint8_t *token, size_t tkl,
              const rc_msg_tail *t) {
  if (!parts_fast(s, token, tkl) || t->len >= 65805)
    return send_tail_enc(s, code, token, tkl, t->bytes, t->opts_len, t->len);
  out_chunk *c;
  uint8_t *q;
  size_t total;
  rc_err rc = parts_head(s, code, token, tkl, t->len, &c, &q, &total);
  if (rc != RC_OK)
    return rc;
  memcpy(q, t->bytes, t->len);
  out_commit_tail(s, c, total);
  return RC_OK;
}

/* The longest tail rc_session_send_tail writes itself (a static answer's
 * options and a short payload), copied without a call. */
#define TAIL_NEAR_MAX 64u

/* Up to TAIL_NEAR_MAX bytes as overlapping 32-, 16- or 8-byte moves (or
 * rc__enc_copy12 below 13); a longer tail (rc_session_send_tails) by
 * memcpy. */
static inline void tail_copy(uint8_t *dst, const uint8_t *src, size_t n) {
  if (n > 32) {
    if (n > TAIL_NEAR_MAX) {
      memcpy(dst, src, n);
      return;
    }
    memcpy(dst, src, 32);
    memcpy(dst + n - 32, src + n - 32, 32);
  } else if (n >= 16) {
    memcpy(dst, src, 16);
    memcpy(dst + n - 16, src + n - 16, 16);
  } else if (n >= 13) {
    memcpy(dst, src, 8);
    memcpy(dst + n - 8, src + n - 8, 8);
  } else {
    rc__enc_copy12(dst, src, n);
  }
}

/* The common answer (a short tail where the last message ended) calls
 * nothing, so it saves no registers; everything else is send_tail_far's. */
rc_err rc_session_send_tail(rc_session *s, uint8_t code, const uint8_t *token,
                            size_t tkl, const rc_msg_tail *t) {
  if (!parts_fast(s, token, tkl) || t->len > TAIL_NEAR_MAX)
    return send_tail_far(s, code, token, tkl, t);
  rc_err rc = check_user_msg(s, code, tkl);
  if (rc != RC_OK)
    return rc;
  /* RFC 8323 §3.2: Len 0-12 in the nibble; 13-268: one more byte */
  size_t total = 2 + (t->len < 13 ? 0 : 1) + tkl + t->len;
  if (total > s->peer_mms)
    return RC_ERR_PEER_TOO_LARGE; /* RFC 8323 §5.3.1, as in enc_end */
  out_chunk *c = s->out_last;
  if (c == NULL || c->cap - c->tail < total)
    return send_tail_far(s, code, token, tkl, t); /* a new chunk */
  uint8_t *q = put_tcp_head(c->data + c->tail, t->len, code, token, tkl);
  tail_copy(q, t->bytes, t->len);
  c->tail += total; /* out_commit_tail; c is the last chunk already */
  s->out_bytes += total;
  return RC_OK;
}

rc_err rc_session_send(rc_session *s, const rc_msg *m) {
  if (UDP(s) && m != NULL)
    return rc__udp_send(s, m);

  if (s == NULL || m == NULL)
    return RC_ERR_INVAL;
  rc_err rc = check_user_msg(s, m->code, m->token_len);
  if (rc != RC_OK)
    return rc;
  size_t len = rc_msg_encoded_len(m, s->cfg.framing);
  if (len == 0)
    return RC_ERR_INVAL;
  if (len > s->peer_mms)
    return RC_ERR_PEER_TOO_LARGE;
  out_chunk *c = out_room(s, s->enc_prefix + len);
  if (c == NULL)
    return RC_ERR_NOMEM;
  uint8_t *dst = c->data + c->tail + s->enc_prefix;
  size_t got;
  rc = rc_msg_encode(m, s->cfg.framing, dst, len, &got);
  if (rc != RC_OK) {
    out_unused(s, c);
    return rc;
  }
  out_commit(s, c, dst, got);
  return RC_OK;
}

/* rc_session_send_tails stores a tail of up to this many bytes whole. */
#define TAILS_PAD 16u

/* A token of 0-8 bytes (RC_TOKEN_MAX) copied by its length: one fixed
 * move for the usual lengths, no call. */
static inline void token_copy(uint8_t *dst, const uint8_t *src, size_t n) {
  switch (n) {
  case 8: memcpy(dst, src, 8); break;
  case 4: memcpy(dst, src, 4); break;
  case 0: break;
  default: rc__enc_copy12(dst, src, n); break;
  }
}

/* Non-zero when tail[0..tail_len) is not options (its first opts_len
 * bytes) and, when longer, the payload marker and a payload. */
static int tails_bad_tail(const uint8_t *tail, size_t opts_len,
                          size_t tail_len) {
  return opts_len > tail_len || (tail == NULL && tail_len) ||
         (tail_len > opts_len &&
          (tail_len == opts_len + 1 || tail[opts_len] != 0xFF));
}

/* Non-zero when the frames go through the encoder one by one: other
 * framings, traces, a tail past a 2-byte Len (and extended tokens,
 * RFC 8974: longer than RC_TOKEN_MAX, seen per token). */
static int tails_general(const rc_session *s, size_t tail_len) {
  return UDP(s) || s->cfg.framing != RC_FRAMING_TCP || s->enc_prefix != 0 ||
         s->cb.on_trace != NULL || tail_len >= 65805;
}

/* The extra Len bytes of a frame header for a tail_len-byte body (RFC
 * 8323 §3.2: 13 in the nibble and one byte up to 268, 14 and two). */
static size_t tails_ext(size_t tail_len) {
  return tail_len < 13 ? 0 : tail_len < 269 ? 1 : 2;
}

/* The most a frame of a tail_len-byte body and a token of up to tkl
 * bytes takes at tails_write's pointer (TAILS_PAD for a shorter tail). */
static size_t tails_frame_max(size_t tail_len, size_t tkl) {
  return 2 + tails_ext(tail_len) + tkl +
         (tail_len < TAILS_PAD ? TAILS_PAD : tail_len);
}

/* Writes the n frames at q, which has room for n frames of tokens up to
 * lim (tails_frame_max), checking each token on the way (no longer than
 * lim, not NULL with a length). A tail of up to TAILS_PAD bytes is
 * stored whole from a padded copy: up to TAILS_PAD bytes past a frame
 * are written too. Returns where the frames end, or NULL (nothing to
 * use) when a check failed. Inlined in both callers: its loop is the
 * fan-out's per-notification cost. */
static inline __attribute__((always_inline)) uint8_t *
tails_write(uint8_t *q, uint8_t code, const uint8_t *const *tokens,
            const size_t *tkls, size_t n, const uint8_t *tail,
            size_t tail_len, size_t lim) {
  size_t ext = tails_ext(tail_len);
  if (tail_len <= TAILS_PAD) {
    uint8_t pad[TAILS_PAD] = {0};
    tail_copy(pad, tail, tail_len); /* an empty tail may be NULL */
    /* RFC 8323 §3.2: Len in the first byte's nibble, or 13 there and
     * one more byte (Len - 13): written always, and overwritten by the
     * code when there is none */
    uint8_t h0 = (uint8_t)((ext ? 13u : tail_len) << 4);
    uint8_t h1 = (uint8_t)(tail_len - 13);
    for (size_t i = 0; i < n; i++) {
      size_t tkl = tkls[i];
      const uint8_t *tok = tokens[i];
      if (tkl > lim || (tok == NULL && tkl))
        return NULL;
      q[0] = (uint8_t)(h0 | tkl);
      q[1] = h1;
      q += 1 + ext;
      *q++ = code;
      token_copy(q, tok, tkl);
      q += tkl;
      memcpy(q, pad, TAILS_PAD);
      q += tail_len;
    }
  } else {
    for (size_t i = 0; i < n; i++) {
      size_t tkl = tkls[i];
      const uint8_t *tok = tokens[i];
      if (tkl > lim || (tok == NULL && tkl))
        return NULL;
      q = put_tcp_head(q, tail_len, code, tok, tkl);
      tail_copy(q, tail, tail_len);
      q += tail_len;
    }
  }
  return q;
}

rc_err rc_session_send_tails(rc_session *s, uint8_t code,
                             const uint8_t *const *tokens, const size_t *tkls,
                             size_t n, const uint8_t *tail, size_t opts_len,
                             size_t tail_len, size_t *sent) {
  size_t done = 0, toks = 0, tkl_max = 0;
  if (sent != NULL)
    *sent = 0;
  if (s == NULL || (n && (tokens == NULL || tkls == NULL)) ||
      tails_bad_tail(tail, opts_len, tail_len))
    return RC_ERR_INVAL;
  for (size_t i = 0; i < n; i++) {
    if (tokens[i] == NULL && tkls[i])
      return RC_ERR_INVAL;
    toks += tkls[i];
    tkl_max = tkls[i] > tkl_max ? tkls[i] : tkl_max;
  }
  if (tails_general(s, tail_len) || tkl_max > RC_TOKEN_MAX) {
    rc_err rc = RC_OK;
    for (; done < n && rc == RC_OK; done += rc == RC_OK)
      rc = send_tail_enc(s, code, tokens[done], tkls[done], tail, opts_len,
                         tail_len);
    if (sent != NULL)
      *sent = done;
    return rc;
  }
  rc_err rc = check_user_msg(s, code, tkl_max);
  if (rc != RC_OK || n == 0)
    return rc;
  size_t ext = tails_ext(tail_len);
  if (2 + ext + tkl_max + tail_len > s->peer_mms)
    return RC_ERR_PEER_TOO_LARGE; /* RFC 8323 §5.3.1, as in enc_end */
  size_t total = n * (2 + ext + tail_len) + toks;
  /* A tail of up to TAILS_PAD bytes is stored TAILS_PAD bytes at a time
   * (past the frame's end: the next frame, or uncommitted room, takes
   * those bytes), so the room asked for has TAILS_PAD more. */
  size_t room = total + TAILS_PAD;
  /* A round's few frames for a connection with nothing queued: a small
   * chunk (the pool keeps many), not a 16 KiB one. */
  out_chunk *c = s->out_last == NULL && s->spare == NULL && room <= SMALL_CAP
                     ? chunk_take_small(s)
                     : out_room(s, room);
  if (c == NULL)
    return RC_ERR_NOMEM;
  /* The tokens were checked above: this cannot fail. */
  (void)tails_write(c->data + c->tail, code, tokens, tkls, n, tail, tail_len,
                    RC_TOKEN_MAX);
  out_commit_tail(s, c, total); /* written at c's tail, no prefix */
  if (sent != NULL)
    *sent = n;
  return RC_OK;
}

rc_err rc_session_frame_tails(rc_session *s, uint8_t code,
                              const uint8_t *const *tokens,
                              const size_t *tkls, size_t n,
                              const uint8_t *tail, size_t opts_len,
                              size_t tail_len, uint8_t *dst, size_t cap,
                              size_t *len) {
  /* Any doubt goes to rc_session_send_tails, which says what is wrong. */
  if (s == NULL || dst == NULL || len == NULL || n == 0 || tokens == NULL ||
      tkls == NULL || tails_bad_tail(tail, opts_len, tail_len) ||
      tails_general(s, tail_len) || check_user_msg(s, code, 0) != RC_OK)
    return RC_ERR_NOBUF;
  /* The longest token each frame may have: RC_TOKEN_MAX (longer ones
   * go through the encoder), the peer's limit for a request, and what
   * the peer's Max-Message-Size leaves (RFC 8323 §5.3.1). */
  size_t lim = RC_TOKEN_MAX, fixed = 2 + tails_ext(tail_len) + tail_len;
  if (rc_code_is_request(code) && s->peer_max_tkl < lim)
    lim = s->peer_max_tkl;
  if (fixed > s->peer_mms)
    return RC_ERR_NOBUF;
  if (s->peer_mms - fixed < lim)
    lim = s->peer_mms - fixed;
  if (n > cap / tails_frame_max(tail_len, lim))
    return RC_ERR_NOBUF;
  uint8_t *q = tails_write(dst, code, tokens, tkls, n, tail, tail_len, lim);
  if (q == NULL)
    return RC_ERR_NOBUF;
  *len = (size_t)(q - dst);
  return RC_OK;
}

rc_err rc_session_send_framed(rc_session *s, const uint8_t *p, size_t n) {
  if (s == NULL || (p == NULL && n) || UDP(s) || s->enc_prefix != 0)
    return RC_ERR_INVAL;
  if (s->state == RC_SESSION_CLOSED)
    return RC_ERR_CLOSED;
  if (n == 0)
    return RC_OK;
  out_chunk *c = out_room(s, n);
  if (c == NULL)
    return RC_ERR_NOMEM;
  memcpy(c->data + c->tail, p, n);
  out_commit_tail(s, c, n);
  return RC_OK;
}

/* ------------------------------------------------------------------ */
/* draining                                                            */

rc_err rc_session_pending(rc_session *s, const uint8_t **data, size_t *len) {
  if (UDP(s) && data != NULL && len != NULL)
    return rc__udp_pending(s, data, len);

  if (s == NULL || data == NULL || len == NULL)
    return RC_ERR_INVAL;
  out_chunk *c = s->out_first;
  if (c == NULL || c->head == c->tail)
    return c != NULL && c->cap == 0 ? RC_ERR_FILE_NEXT : RC_ERR_NEED_MORE;
  if (s->enc_prefix) {
    *data = c->data + c->head + MSG_PREFIX;
    *len = get_be32(c->data + c->head);
  } else {
    *data = c->data + c->head;
    *len = c->tail - c->head;
  }
  return RC_OK;
}

/* Drops the head chunk c, all of it written; with nothing queued after
 * it, holds no output memory while the connection is idle (the next burst
 * allocates one chunk again). */
static void out_drop_head(rc_session *s, out_chunk *c) {
  s->out_first = c->next;
  if (s->out_last == c)
    s->out_last = NULL;
  if (s->out_first == NULL) {
    chunk_free(s, c);
    if (s->spare != NULL) {
      chunk_free(s, s->spare);
      s->spare = NULL;
    }
  } else {
    chunk_recycle(s, c);
  }
}

/* n bytes of the file run c (the head) were sent. */
static rc_err file_consume(rc_session *s, out_chunk *c, size_t n) {
  out_file *f = chunk_file(c);
  if (n > f->left)
    return RC_ERR_INVAL;
  f->off += n;
  f->left -= n;
  s->out_bytes -= n;
  s->consumed = 1;
  if (f->left == 0) {
    close(f->fd);
    out_drop_head(s, c);
  }
  return RC_OK;
}

rc_err rc_session_consume(rc_session *s, size_t n) {
  if (UDP(s))
    return rc__udp_consume(s, n);

  if (s == NULL)
    return RC_ERR_INVAL;
  out_chunk *c = s->out_first;
  if (c == NULL)
    return n == 0 ? RC_OK : RC_ERR_INVAL;
  if (s->enc_prefix) {
    if (n == 0)
      return RC_OK;
    if (n != get_be32(c->data + c->head))
      return RC_ERR_INVAL;
    n += MSG_PREFIX;
  } else if (n > c->tail - c->head) {
    return c->cap == 0 ? file_consume(s, c, n) : RC_ERR_INVAL;
  }
  c->head += n;
  s->out_bytes -= n;
  s->consumed = 1;
  if (c->head == c->tail) {
    if (c->cap == 0)
      return RC_OK; /* 0 bytes of a file run */
    if (s->enc_open != NULL && s->enc_chunk == c) {
      /* an open message is being written at this chunk's tail: keep it */
      return RC_OK;
    }
    out_drop_head(s, c);
  }
  return RC_OK;
}

rc_err rc_session_pending_file(rc_session *s, int *fd, uint64_t *off,
                               size_t *len) {
  out_chunk *c = s == NULL || UDP(s) ? NULL : s->out_first;
  if (c == NULL || c->cap != 0)
    return RC_ERR_NEED_MORE;
  out_file *f = chunk_file(c);
  *fd = f->fd;
  *off = f->off;
  *len = f->left;
  return RC_OK;
}

size_t rc_session_pending_bytes(const rc_session *s) {
  return UDP(s) ? rc__udp_pending_bytes(s) : s->out_bytes;
}

int rc_session_want_write(const rc_session *s) {
  return rc_session_pending_bytes(s) > 0;
}

int rc_session_want_read(const rc_session *s) {
  if (UDP(s))
    return rc__udp_want_read(s);
  return s->state != RC_SESSION_CLOSED &&
         s->out_bytes < s->cfg.out_high_water;
}

/* ------------------------------------------------------------------ */
/* time                                                                */

void rc_session_transport_open(rc_session *s, rc_time now) {
  if (s == NULL || UDP(s))
    return;
  s->created = s->last_rx = now;
}

static rc_time keepalive_at(const rc_session *s) {
  rc_time base = s->last_rx > s->last_ping ? s->last_rx : s->last_ping;
  return time_add(base, s->cfg.keepalive_ms);
}

rc_time rc_session_expiry(const rc_session *s) {
  if (UDP(s))
    return rc__udp_expiry(s);

  rc_time t = RC_TIME_NEVER;
  if (s->state == RC_SESSION_CLOSED)
    return t;
  if (!s->peer_csm && s->cfg.csm_timeout_ms)
    t = time_min(t, time_add(s->created, s->cfg.csm_timeout_ms));
  if (s->awaiting_life && s->cfg.ping_timeout_ms)
    t = time_min(t, s->life_deadline);
  if (s->cfg.keepalive_ms && s->peer_csm && !s->awaiting_life)
    t = time_min(t, keepalive_at(s));
  if (s->n_held)
    t = time_min(t, s->held_deadline);
  if (s->we_released && s->cfg.release_timeout_ms)
    t = time_min(t, s->release_deadline);
  return t;
}

static rc_err send_ping(rc_session *s, int custody, rc_time now,
                        uint32_t *id_out) {
  if (s->pings == NULL &&
      (s->pings = sess_alloc(s, PING_RING * sizeof *s->pings)) == NULL)
    return RC_ERR_NOMEM;
  uint32_t id = s->next_ping_id++;
  if (s->next_ping_id == 0)
    s->next_ping_id = 1;
  uint8_t tok[PING_TKL];
  put_be32(tok, id);
  sig_opt o = {RC_SIGOPT_CUSTODY, NULL, 0, 0, 0};
  rc_err rc = queue_signal(s, RC_SIG_PING, tok, sizeof(tok), &o,
                           custody ? 1 : 0, NULL, 0);
  if (rc != RC_OK)
    return rc;
  if (s->ping_count == PING_RING) {
    s->ping_head = (s->ping_head + 1) % PING_RING;
    s->ping_count--;
  }
  s->pings[(s->ping_head + s->ping_count++) % PING_RING] =
      (ping_ent){id, now};
  s->last_ping = now;
  if (!s->awaiting_life) {
    s->awaiting_life = 1;
    s->life_deadline = time_add(now, s->cfg.ping_timeout_ms);
  }
  if (id_out != NULL)
    *id_out = id;
  return RC_OK;
}

rc_err rc_session_handle_expiry(rc_session *s, rc_time now) {
  if (UDP(s))
    return rc__udp_handle_expiry(s, now);

  if (s == NULL)
    return RC_ERR_INVAL;
  if (s->enc_open != NULL)
    return RC_ERR_STATE;
  if (s->state == RC_SESSION_CLOSED)
    return RC_OK;
  if (!s->peer_csm && s->cfg.csm_timeout_ms &&
      now >= time_add(s->created, s->cfg.csm_timeout_ms)) {
    /* RFC 8323 §3.3: a missing CSM is a connection error. */
    sess_abort(s, RC_ERR_BAD_CSM, 0, "no CSM received in time");
    return RC_OK;
  }
  if (s->awaiting_life && s->cfg.ping_timeout_ms && now >= s->life_deadline) {
    sess_log(s, RC_SESSION_LOG_WARN, "nothing received %u ms after Ping",
             (unsigned)s->cfg.ping_timeout_ms);
    sess_closed(s, RC_ERR_PEER_DEAD);
    return RC_OK;
  }
  if (s->we_released && s->cfg.release_timeout_ms &&
      now >= s->release_deadline) {
    sess_closed(s, RC_ERR_TIMEOUT);
    return RC_OK;
  }
  if (s->n_held && now >= s->held_deadline) {
    rc_err rc = flush_held(s, 1);
    if (rc != RC_OK)
      return rc;
  }
  if (s->cfg.keepalive_ms && s->peer_csm && !s->awaiting_life &&
      s->state != RC_SESSION_CLOSED && now >= keepalive_at(s)) {
    rc_err rc = queue_or_die(s, send_ping(s, 0, now, NULL));
    if (rc != RC_OK)
      return rc;
  }
  return RC_OK;
}

/* ------------------------------------------------------------------ */
/* actions                                                             */

rc_err rc_session_ping(rc_session *s, int custody, rc_time now,
                       uint32_t *ping_id) {
  if (UDP(s))
    return rc__udp_ping(s, now, ping_id);

  if (s == NULL)
    return RC_ERR_INVAL;
  if (s->enc_open != NULL)
    return RC_ERR_STATE;
  if (s->state == RC_SESSION_CLOSED)
    return RC_ERR_CLOSED;
  return queue_or_die(s, send_ping(s, custody, now, ping_id));
}

rc_err rc_session_custody_ready(rc_session *s) {
  if (UDP(s))
    return RC_OK; /* no Custody on UDP */

  if (s == NULL)
    return RC_ERR_INVAL;
  if (s->enc_open != NULL)
    return RC_ERR_STATE;
  if (s->state == RC_SESSION_CLOSED)
    return RC_OK;
  return flush_held(s, 0);
}

rc_err rc_session_release(rc_session *s, const char *const *alt,
                          size_t n_alt, uint32_t hold_off_s,
                          const char *diag, rc_time now) {
  if (s == NULL || (alt == NULL && n_alt != 0))
    return RC_ERR_INVAL;
  if (UDP(s)) {
    /* No Release on UDP: the peer simply hears nothing more. */
    if (rc__udp_state(s) == RC_SESSION_CLOSED)
      return RC_ERR_CLOSED;
    rc__udp_close(s, RC_OK);
    return RC_OK;
  }
  if (s->enc_open != NULL || s->we_released)
    return RC_ERR_STATE;
  if (s->state == RC_SESSION_CLOSED)
    return RC_ERR_CLOSED;
  size_t hint = 0;
  for (size_t i = 0; i < n_alt; i++) {
    size_t l = alt[i] != NULL ? strlen(alt[i]) : 0;
    /* RFC 8323 §5.5: Alternative-Address is a string of 1-255 bytes. */
    if (l == 0 || l > ALT_ADDR_MAX)
      return RC_ERR_INVAL;
    hint += l + 3;
  }
  size_t dlen = diag != NULL ? strlen(diag) : 0;
  if (dlen > RC_SESSION_DIAG_MAX)
    dlen = RC_SESSION_DIAG_MAX;
  rc_enc e;
  out_chunk *c;
  rc_err rc = enc_begin(s, &e, &c, RC_SIG_RELEASE, NULL, 0, hint + dlen + 8);
  if (rc != RC_OK)
    return rc;
  for (size_t i = 0; i < n_alt; i++)
    rc_enc_opt_str(&e, RC_SIGOPT_ALTERNATIVE_ADDRESS, alt[i]);
  if (hold_off_s != RC_SESSION_NO_HOLD_OFF)
    rc_enc_opt_uint(&e, RC_SIGOPT_HOLD_OFF, hold_off_s);
  if (dlen > 0)
    rc_enc_payload(&e, diag, dlen);
  rc = enc_end(s, &e, c);
  if (rc != RC_OK)
    return rc;
  s->we_released = 1;
  s->state = RC_SESSION_RELEASING;
  s->release_deadline = time_add(now, s->cfg.release_timeout_ms);
  return RC_OK;
}

rc_err rc_session_abort(rc_session *s, uint16_t bad_csm_option,
                        const char *diag) {
  if (s == NULL)
    return RC_ERR_INVAL;
  if (UDP(s)) {
    if (rc__udp_state(s) == RC_SESSION_CLOSED)
      return RC_ERR_CLOSED;
    rc__udp_close(s, RC_OK); /* no Abort on UDP */
    return RC_OK;
  }
  if (s->enc_open != NULL)
    return RC_ERR_STATE;
  if (s->state == RC_SESSION_CLOSED)
    return RC_ERR_CLOSED;
  sess_abort(s, RC_OK, bad_csm_option, diag);
  return RC_OK;
}

void rc_session_close(rc_session *s, rc_err reason) {
  if (UDP(s)) {
    rc__udp_close(s, reason);
    return;
  }

  if (s == NULL || s->state == RC_SESSION_CLOSED)
    return;
  if (s->enc_open != NULL) {
    rc_session_msg_cancel(s, s->enc_open);
  }
  /* EOF after a Release is the orderly end RFC 8323 §5.5 describes. */
  int mid_frame = rc_frame_reader_busy(&s->rx);
  if (reason == RC_ERR_CLOSED && (s->we_released || s->peer_released) &&
      !mid_frame)
    reason = RC_OK;
  sess_closed(s, reason);
}

/* ------------------------------------------------------------------ */
/* queries                                                             */

rc_session_state rc_session_get_state(const rc_session *s) {
  if (UDP(s))
    return rc__udp_state(s);

  return (rc_session_state)s->state;
}
rc_framing rc_session_framing(const rc_session *s) {
  return UDP(s) ? RC_FRAMING_UDP : s->cfg.framing;
}
/* Shows the messages queued before anyone watched (a server's CSM is
 * queued when its session is made, before the connection's owner has
 * attached its callbacks), while none of the output has been taken yet. */
static void trace_queued(rc_session *s) {
  if (s->consumed)
    return;
  for (const out_chunk *c = s->out_first; c != NULL; c = c->next) {
    size_t off = c->head;
    while (off < c->tail) {
      const uint8_t *p = c->data + off;
      size_t len;
      if (s->enc_prefix) {
        len = get_be32(p);
        p += MSG_PREFIX;
        off += MSG_PREFIX;
      } else {
        rc_tcp_hdr h;
        if (rc_tcp_hdr_parse(p, c->tail - off, &h) <= 0)
          return;
        len = h.hdr_len + h.token_len + (size_t)h.body_len;
      }
      if (len > c->tail - off)
        return; /* a message still being written */
      rc_msg view;
      if (rc_msg_parse(s->cfg.framing, p, len, &view) == RC_OK)
        s->cb.on_trace(s->user, 1, &view);
      off += len;
    }
  }
}

void rc_session_set_message_at(rc_session *s, rc_session_message_at_fn fn,
                               void *user) {
  if (UDP(s))
    return; /* UDP keeps on_message */
  s->msg_at = fn;
  s->msg_user = user;
}

void rc_session_set_trace(rc_session *s,
                          void (*on_trace)(void *user, int sent,
                                           const rc_msg *m)) {
  if (UDP(s)) {
    rc__udp_set_trace(s, on_trace);
    return;
  }

  int was_off = s->cb.on_trace == NULL;
  s->cb.on_trace = on_trace;
  s->tracing = on_trace != NULL;
  if (was_off && on_trace != NULL)
    trace_queued(s);
}

/* UDP has no CSM: its settings are RFC 7252's from the start. */
int rc_session_peer_csm_received(const rc_session *s) {
  return UDP(s) ? 1 : s->peer_csm;
}
uint32_t rc_session_peer_max_msg_size(const rc_session *s) {
  /* RFC 7252 §4.6: "a CoAP message ... SHOULD fit within a single IP
   * packet"; 1152 bytes, 1024 of payload, when the MTU is unknown. */
  return UDP(s) ? RC_UDP_MSG_SIZE : s->peer_mms;
}
rc_err rc_session_set_max_datagram(rc_session *s, size_t n) {
  return UDP(s) ? rc__udp_set_max_datagram(s, n) : RC_ERR_INVAL;
}
void rc_session_udp_set_non(rc_session *s, int on) {
  if (UDP(s))
    rc__udp_set_non(s, on);
}
rc_err rc_session_udp_ack_now(rc_session *s, const uint8_t *token,
                              size_t token_len) {
  return UDP(s) ? rc__udp_ack_now(s, token, token_len) : RC_OK;
}
rc_err rc_session_udp_reject(rc_session *s, const uint8_t *token,
                             size_t token_len) {
  return UDP(s) ? rc__udp_reject(s, token, token_len) : RC_ERR_STATE;
}
rc_err rc_session_set_echo(rc_session *s, const rc_session_echo *echo) {
  return UDP(s) ? rc__udp_set_echo(s, echo) : RC_ERR_INVAL;
}
int rc_session_udp_amp_held(const rc_session *s, const uint8_t *token,
                            size_t token_len) {
  return UDP(s) && rc__udp_amp_held(s, token, token_len);
}
int rc_session_peer_block_wise(const rc_session *s) {
  return UDP(s) ? 1 : s->peer_bwt;
}
int rc_session_peer_bert(const rc_session *s) {
  if (UDP(s))
    return 0; /* RFC 8323 §6: BERT exists only on reliable transports */
  /* RFC 8323 §5.3.2: "If a Max-Message-Size Option is indicated with a
   * value that is greater than 1152 ..., the Block-Wise-Transfer Option
   * also indicates support for BERT". */
  return s->peer_bwt && s->peer_mms > RC_MAX_MESSAGE_SIZE_BASE;
}
uint32_t rc_session_peer_max_token_len(const rc_session *s) {
  return UDP(s) ? RC_TOKEN_MAX : s->peer_max_tkl;
}
uint32_t rc_session_max_msg_size(const rc_session *s) {
  return UDP(s) ? RC_UDP_MSG_SIZE : s->cfg.max_msg_size;
}
