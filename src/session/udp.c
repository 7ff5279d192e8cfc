/*
 * The RFC 7252 message layer for one UDP peer, sans-I/O: Confirmable
 * messages with exponential back-off (§4.2, §4.8), Non-confirmable ones
 * (§4.3), piggybacked and separate responses (§5.2), Message-ID
 * deduplication with the answer replayed (§4.5), Reset, CoAP ping (§4.3)
 * and NSTART (§4.7). Upward it is the same rc_session the exchange uses
 * on the reliable transports: requests and responses go up through
 * on_message, the exchange writes its messages with rc_session_msg_begin
 * / rc_enc_* / rc_session_msg_end, and this file picks the type and the
 * Message ID:
 *   our request                 CON (or NON with requests_non)
 *   response to a CON request   piggybacked in the ACK; a separate CON
 *                               once the empty ACK went out (after
 *                               separate_delay_ms)
 *   response to a NON request   NON
 *   later responses (observe    NON, a CON at least every
 *   notifications)              con_notify_interval_ms (RFC 7641 §4.5);
 *                               CON while an older CON notification to
 *                               the token is still retransmitted, which
 *                               it replaces (RFC 7641 §4.5.2)
 *   requests while              NON, not held by PROBING_RATE (Q-Block1
 *   rc_session_udp_set_non      sets, RFC 9177 §7.2)
 *
 * Output is a list of whole datagrams; rc_session_pending hands out one at
 * a time. A CON keeps its own copy for retransmission; the answer to a
 * received CON is kept beside its Message ID so a duplicate gets it again.
 * The session never reads a clock: a CON queued outside rc_session_recv /
 * rc_session_handle_expiry / rc_session_ping has its timer started at the
 * next rc_session_handle_expiry (rc_session_expiry returns 0 until then).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rcoap/codec_option.h"
#include "session/udp_int.h"

/* RFC 7252 §3: "Ver ... Implementations of this specification MUST set
 * this field to 1". */
#define UDP_VERSION 1u
#define UDP_HDR 4u
/* The largest UDP payload over IPv4. */
#define UDP_DGRAM_MAX 65507u
/* Requests from the peer not answered yet that we remember. */
#define IN_MAX 32u
/* Our last NON messages, to map a Reset back to its token. */
#define NON_RING 16u
/* NON requests held back by PROBING_RATE; more are refused (LIMIT). */
#define PROBE_HELD_MAX 16u
/* Room for the 4.01 with Echo that stands for a large response:
 * headroom, token, option header and value. */
#define AMP_MSG_MAX (RC_ENC_HEADROOM + RC_TOKEN_MAX + 4u + RC_UDP_ECHO_MAX)
/* Spare datagram nodes kept for reuse. */
#define SPARE_MAX 1u
/* First size of the dedup ring. */
#define RX_MIN 4u
/* Smallest datagram node allocated. */
#define NODE_MIN 256u

typedef struct dgram {
  struct dgram *next;
  size_t cap, len;
  uint8_t data[];
} dgram;

/* A CON we sent (or will send once NSTART allows), until ACK or RST. */
typedef struct udp_tx {
  uint8_t *buf;
  size_t len;
  rc_time due;        /* next retransmission or give-up time */
  rc_time first_sent;
  uint32_t timeout;   /* current timeout, ms */
  uint32_t ping_id;   /* non-zero: an empty CON (ping) */
  uint16_t mid;
  uint8_t tkl;
  uint8_t tries;      /* retransmissions done */
  uint8_t sent;       /* 0: waiting for NSTART */
  uint8_t armed;      /* due is set (see the file comment) */
  uint8_t notify;     /* an observe notification (carries Observe) */
  uint8_t token[RC_TOKEN_MAX];
} udp_tx;

/* A Message ID the peer used, for deduplication (RFC 7252 §4.5). */
typedef struct udp_rx {
  rc_time expires;
  uint8_t *reply; /* our answer to replay for a duplicate CON */
  size_t reply_len; /* 0: none (yet) */
  size_t reply_cap; /* the buffer stays with the slot for reuse */
  uint16_t mid;
  uint8_t used;
} udp_rx;

/* A request from the peer that has not been answered. */
typedef struct udp_in {
  rc_time ack_due;
  uint16_t mid;
  uint16_t req_len; /* the request's datagram (amplification limit) */
  uint8_t tkl;
  uint8_t con;
  uint8_t acked; /* empty ACK sent: the response goes as a CON */
  uint8_t token[RC_TOKEN_MAX];
} udp_in;

typedef struct udp_non {
  uint16_t mid;
  uint8_t tkl;
  uint8_t used;
  uint8_t token[RC_TOKEN_MAX];
} udp_non;

/* A NON request waiting for PROBING_RATE (RFC 7252 §4.7). */
typedef struct udp_held {
  uint8_t *buf;
  size_t len;
} udp_held;

typedef struct rc__udp {
  uint8_t is_udp; /* always 1; first member (udp_int.h) */
  uint8_t state;
  uint8_t in_call;   /* inside recv / handle_expiry / ping: now is known */
  uint8_t confirmed; /* the peer's address is proven (amp_factor) */
  uint8_t amp_set;   /* amp_token is the latest answered request's */
  uint8_t amp_tkl;
  uint8_t amp_held;  /* its answer went as 4.01 + Echo (rc__udp_amp_held) */
  const rc_session_echo *echo; /* amplification limit on: Echo values */
  rc_session_config cfg;
  rc_session_callbacks cb;
  void *user;
  rc_mem mem;
  rc_time now;       /* the latest time we were given */
  size_t in_len;     /* the datagram being handled */
  uint64_t prng;
  uint16_t next_mid;
  uint16_t dgram_max; /* the largest datagram we send (DTLS: a record's room) */
  uint32_t next_ping_id;
  rc_time last_con_notify;
  uint8_t requests_non; /* rc_session_udp_set_non: our requests go NON */
  /* PROBING_RATE: since when the peer has not answered our NON
   * requests, and the bytes sent to it since then */
  uint8_t probe_silent; /* NON requests sent, nothing heard since */
  uint8_t resp_on;      /* a response is being delivered: 1 CON, 2 NON */
  uint16_t resp_mid;    /* its Message ID (a CON's ACK is queued) */
  rc_time probe_since;
  uint64_t probe_bytes;
  udp_held held[PROBE_HELD_MAX];
  size_t nheld;

  dgram *out_first, *out_last, *spare;
  unsigned n_spare;
  size_t out_bytes;

  rc_enc *enc_open;
  uint8_t *ebuf;
  size_t ecap;
  uint8_t enc_tkl;
  uint8_t enc_token[RC_TOKEN_MAX];

  udp_tx *tx; /* in send order: sent ones, then those NSTART holds */
  size_t ntx, txcap, nsent;

  udp_rx *rx; /* ring, grown by doubling up to cfg.udp.dedup_max */
  size_t rx_next, rx_cap;

  udp_in in[IN_MAX];
  size_t nin;

  udp_non non[NON_RING];
  unsigned non_next;

  /* The amplification budget (amp_factor times the request) of the
   * latest request answered to an unconfirmed address: every answer on
   * its token draws on it (an RFC 9177 set is many answers to one). */
  uint32_t amp_left;
  uint8_t amp_token[RC_TOKEN_MAX];
} rc__udp;

#define U(s) ((rc__udp *)(void *)(s))
#define CU(s) ((const rc__udp *)(const void *)(s))

static void ulog(rc__udp *u, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ulog(rc__udp *u, int level, const char *fmt, ...) {
  if (u->cb.on_log == NULL)
    return;
  char line[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  u->cb.on_log(u->user, level, line);
}

static uint32_t urand(rc__udp *u) {
  if (u->cfg.udp.random != NULL)
    return u->cfg.udp.random(u->cfg.udp.random_user);
  /* xorshift64* */
  uint64_t x = u->prng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  u->prng = x;
  return (uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32);
}

static void closed(rc__udp *u, rc_err reason) {
  if (u->state == RC_SESSION_CLOSED)
    return;
  u->state = RC_SESSION_CLOSED;
  for (size_t i = 0; i < u->ntx; i++)
    u->mem.free(u->tx[i].buf, u->mem.user);
  u->ntx = u->nsent = 0;
  u->nin = 0;
  for (size_t i = 0; i < u->nheld; i++)
    u->mem.free(u->held[i].buf, u->mem.user);
  u->nheld = 0;
  if (u->cb.on_closed != NULL)
    u->cb.on_closed(u->user, reason);
}

/* ------------------------------------------------------------------ */
/* output queue                                                        */

static rc_err queue(rc__udp *u, const uint8_t *p, size_t n) {
  dgram *d = u->spare;
  if (d != NULL && d->cap >= n) {
    u->spare = d->next;
    u->n_spare--;
  } else {
    size_t cap = n < NODE_MIN ? NODE_MIN : n;
    d = u->mem.malloc(sizeof(*d) + cap, u->mem.user);
    if (d == NULL)
      return RC_ERR_NOMEM;
    d->cap = cap;
  }
  memcpy(d->data, p, n);
  d->len = n;
  d->next = NULL;
  if (u->out_last != NULL)
    u->out_last->next = d;
  else
    u->out_first = d;
  u->out_last = d;
  u->out_bytes += n;
  if (u->cb.on_trace != NULL) {
    rc_msg m;
    if (rc_msg_parse(RC_FRAMING_UDP, p, n, &m) == RC_OK)
      u->cb.on_trace(u->user, 1, &m);
  }
  return RC_OK;
}

static uint8_t *dup_bytes(rc__udp *u, const uint8_t *p, size_t n) {
  uint8_t *b = u->mem.malloc(n, u->mem.user);
  if (b != NULL)
    memcpy(b, p, n);
  return b;
}

/* ------------------------------------------------------------------ */
/* deduplication                                                       */

static udp_rx *rx_find(rc__udp *u, uint16_t mid) {
  if (u->rx == NULL)
    return NULL;
  for (size_t i = 0; i < u->rx_cap; i++) {
    udp_rx *r = &u->rx[i];
    if (r->used && r->mid == mid && r->expires > u->now)
      return r;
  }
  return NULL;
}

/* Remembers mid; the oldest entry makes room. NULL when out of memory
 * (then a duplicate is processed again: never worse than no dedup). */
static udp_rx *rx_add(rc__udp *u, uint16_t mid, rc_time lifetime) {
  if (u->rx_next == u->rx_cap && u->rx_cap < u->cfg.udp.dedup_max) {
    /* Grown only before the ring first wraps, so the order holds; a peer
     * that sent a few messages costs a few entries. */
    size_t cap = u->rx_cap ? u->rx_cap * 2 : RX_MIN;
    if (cap > u->cfg.udp.dedup_max)
      cap = u->cfg.udp.dedup_max;
    udp_rx *nr = u->mem.realloc(u->rx, cap * sizeof(udp_rx), u->mem.user);
    if (nr == NULL)
      return NULL;
    memset(nr + u->rx_cap, 0, (cap - u->rx_cap) * sizeof(udp_rx));
    u->rx = nr;
    u->rx_cap = cap;
  }
  if (u->rx_next == u->rx_cap)
    u->rx_next = 0;
  udp_rx *r = &u->rx[u->rx_next++];
  r->reply_len = 0; /* the buffer is reused by the next answer kept */
  r->mid = mid;
  r->used = 1;
  r->expires = u->now + lifetime;
  return r;
}

static void rx_keep_reply(rc__udp *u, uint16_t mid, const uint8_t *p,
                          size_t n) {
  udp_rx *r = rx_find(u, mid);
  if (r == NULL)
    return;
  r->reply_len = 0;
  if (r->reply_cap < n) {
    size_t cap = (n + 63) & ~(size_t)63; /* small: one per Message ID */
    uint8_t *b = u->mem.realloc(r->reply, cap, u->mem.user);
    if (b == NULL)
      return; /* a duplicate then gets no replay: never worse than none */
    r->reply = b;
    r->reply_cap = cap;
  }
  memcpy(r->reply, p, n);
  r->reply_len = n;
}

/* An Empty message (ACK or RST) echoing mid; kept for replay if asked. */
static rc_err queue_empty(rc__udp *u, uint8_t type, uint16_t mid, int keep) {
  uint8_t h[UDP_HDR] = {(uint8_t)(UDP_VERSION << 6 | type << 4), 0,
                        (uint8_t)(mid >> 8), (uint8_t)mid};
  if (keep)
    rx_keep_reply(u, mid, h, sizeof h);
  return queue(u, h, sizeof h);
}

/* ------------------------------------------------------------------ */
/* requests from the peer                                              */

static udp_in *in_find(rc__udp *u, const uint8_t *tok, size_t tkl) {
  for (size_t i = 0; i < u->nin; i++)
    if (u->in[i].tkl == tkl && (tkl == 0 || !memcmp(u->in[i].token, tok, tkl)))
      return &u->in[i];
  return NULL;
}

static void in_remove(rc__udp *u, udp_in *in) {
  size_t i = (size_t)(in - u->in);
  memmove(&u->in[i], &u->in[i + 1], (u->nin - i - 1) * sizeof(udp_in));
  u->nin--;
}

/* RFC 7252 §5.2.2: "the server ... SHOULD send an Empty
 * Acknowledgement" when it cannot answer at once; the response then
 * comes as a separate message. */
static rc_err in_ack(rc__udp *u, udp_in *in) {
  in->acked = 1;
  return queue_empty(u, RC_TYPE_ACK, in->mid, 1);
}

static rc_err in_add(rc__udp *u, const rc_msg *m) {
  udp_in *in = in_find(u, m->token, m->token_len);
  if (in == NULL) {
    if (u->nin == IN_MAX) {
      /* Forget the oldest; acknowledged first so the peer stops. */
      if (u->in[0].con && !u->in[0].acked) {
        rc_err err = in_ack(u, &u->in[0]);
        if (err != RC_OK)
          return err;
      }
      in_remove(u, &u->in[0]);
    }
    in = &u->in[u->nin++];
  }
  in->mid = m->mid;
  in->tkl = (uint8_t)m->token_len;
  if (m->token_len)
    memcpy(in->token, m->token, m->token_len);
  in->con = m->type == RC_TYPE_CON;
  in->acked = 0;
  in->req_len = (uint16_t)(u->in_len < UINT16_MAX ? u->in_len : UINT16_MAX);
  in->ack_due = u->now + u->cfg.udp.separate_delay_ms;
  if (in->con && u->cfg.udp.separate_delay_ms == 0)
    return in_ack(u, in);
  return RC_OK;
}

/* ------------------------------------------------------------------ */
/* Confirmable messages we sent                                        */

/* RFC 7252 §4.2: "the initial timeout is set to a random duration ...
 * between ACK_TIMEOUT and (ACK_TIMEOUT * ACK_RANDOM_FACTOR)". */
static uint32_t first_timeout(rc__udp *u) {
  uint64_t span = (uint64_t)u->cfg.udp.ack_timeout_ms *
                  (u->cfg.udp.ack_random_factor - 1000u) / 1000u;
  return u->cfg.udp.ack_timeout_ms +
         (uint32_t)((span * (uint64_t)urand(u)) >> 32);
}

static void tx_arm(rc__udp *u, udp_tx *t) {
  t->armed = 1;
  t->first_sent = u->now;
  t->due = u->now + t->timeout;
}

/* The counters every session of a loop may share (NULL: none kept). */
#define STAT(u) ((u)->cfg.udp.stats)

/* A CON ended by an ACK or RST after t->tries retransmissions. */
static void stat_answered(rc__udp *u, const udp_tx *t) {
  rc_udp_stats *st = STAT(u);
  if (st == NULL)
    return;
  st->answered++;
  st->answered_after[t->tries < RC_UDP_STATS_TRIES ? t->tries
                                                   : RC_UDP_STATS_TRIES - 1]++;
}

static rc_err tx_start(rc__udp *u, udp_tx *t) {
  t->sent = 1;
  if (STAT(u) != NULL)
    STAT(u)->con_sent++;
  t->timeout = first_timeout(u);
  t->armed = 0;
  t->due = 0;
  if (u->in_call)
    tx_arm(u, t);
  u->nsent++;
  return queue(u, t->buf, t->len);
}

/* Sends what NSTART held back, in order. RFC 7252 §4.7: "the number of
 * simultaneous outstanding interactions that a client maintains to a
 * given server ... MUST NOT exceed NSTART". */
static rc_err tx_promote(rc__udp *u) {
  for (size_t i = 0; i < u->ntx && u->nsent < u->cfg.udp.nstart; i++) {
    if (u->tx[i].sent)
      continue;
    rc_err err = tx_start(u, &u->tx[i]);
    if (err != RC_OK)
      return err;
  }
  return RC_OK;
}

static rc_err tx_add(rc__udp *u, const uint8_t *p, size_t n, uint16_t mid,
                     const uint8_t *tok, size_t tkl, uint32_t ping_id) {
  if (u->ntx == u->txcap) {
    size_t cap = u->txcap ? u->txcap * 2 : 4;
    udp_tx *nt = u->mem.realloc(u->tx, cap * sizeof(udp_tx), u->mem.user);
    if (nt == NULL)
      return RC_ERR_NOMEM;
    u->tx = nt;
    u->txcap = cap;
  }
  udp_tx *t = &u->tx[u->ntx];
  memset(t, 0, sizeof *t);
  t->buf = dup_bytes(u, p, n);
  if (t->buf == NULL)
    return RC_ERR_NOMEM;
  t->len = n;
  t->mid = mid;
  t->tkl = (uint8_t)tkl;
  if (tkl) /* a ping has no token (tok NULL) */
    memcpy(t->token, tok, tkl);
  t->ping_id = ping_id;
  u->ntx++;
  if (u->nsent < u->cfg.udp.nstart)
    return tx_start(u, t);
  return RC_OK;
}

static udp_tx *tx_find(rc__udp *u, uint16_t mid) {
  for (size_t i = 0; i < u->ntx; i++)
    if (u->tx[i].sent && u->tx[i].mid == mid)
      return &u->tx[i];
  return NULL;
}

/* The CON notification still being retransmitted for this token. */
static udp_tx *tx_find_notify(rc__udp *u, const uint8_t *tok, size_t tkl) {
  for (size_t i = 0; i < u->ntx; i++)
    if (u->tx[i].notify && u->tx[i].tkl == tkl &&
        (tkl == 0 || !memcmp(u->tx[i].token, tok, tkl)))
      return &u->tx[i];
  return NULL;
}

/* RFC 7641 §4.5.2: a newer notification replaces an older Confirmable one
 * to the same observer that is still being retransmitted: the old one is
 * no longer sent, and the new one carries on with its retransmission
 * counter and timeout (its next retransmission comes when the old one's
 * would have). The new one goes out at once (or when NSTART lets the old
 * one go). */
static rc_err tx_replace(rc__udp *u, udp_tx *t, const uint8_t *p, size_t n,
                         uint16_t mid) {
  uint8_t *buf = dup_bytes(u, p, n);
  if (buf == NULL)
    return RC_ERR_NOMEM;
  u->mem.free(t->buf, u->mem.user);
  t->buf = buf;
  t->len = n;
  t->mid = mid;
  return t->sent ? queue(u, t->buf, t->len) : RC_OK;
}

/* Forgets t (copied out first by callers that need it). */
static void tx_remove(rc__udp *u, udp_tx *t) {
  size_t i = (size_t)(t - u->tx);
  u->mem.free(t->buf, u->mem.user);
  if (t->sent)
    u->nsent--;
  memmove(&u->tx[i], &u->tx[i + 1], (u->ntx - i - 1) * sizeof(udp_tx));
  u->ntx--;
}

static void lost(rc__udp *u, const uint8_t *tok, size_t tkl, rc_err why) {
  if (u->cb.on_lost != NULL)
    u->cb.on_lost(u->user, tok, tkl, why);
}

/* ------------------------------------------------------------------ */
/* PROBING_RATE                                                        */

/* RFC 7252 §4.7: "an endpoint MUST NOT exceed PROBING_RATE in sending to
 * another endpoint that does not respond". Our NON requests are the
 * messages whose answer we cannot otherwise wait for: once one is
 * unanswered (nothing at all heard from the peer since it went), the
 * following ones average at most probing_rate bytes per second. Returns
 * the earliest time n more bytes may go (<= now: at once). */
static rc_time probe_due(const rc__udp *u, size_t n) {
  uint32_t rate = u->cfg.udp.probing_rate;
  if (rate == 0 || !u->probe_silent)
    return u->now;
  return u->probe_since + (u->probe_bytes + n) * 1000u / rate;
}

static void probe_sent(rc__udp *u, size_t n) {
  if (!u->probe_silent) {
    u->probe_silent = 1; /* a new silence starts with this one */
    u->probe_since = u->now;
    u->probe_bytes = 0;
  }
  u->probe_bytes += n;
}

static void non_remember(rc__udp *u, const uint8_t *p, size_t n) {
  rc_msg m;
  if (rc_msg_parse(RC_FRAMING_UDP, p, n, &m) != RC_OK || m.token_len > 8)
    return;
  udp_non *nn = &u->non[u->non_next];
  u->non_next = (u->non_next + 1) % NON_RING;
  nn->used = 1;
  nn->mid = m.mid;
  nn->tkl = (uint8_t)m.token_len;
  if (m.token_len)
    memcpy(nn->token, m.token, m.token_len);
}

/* Sends the held NON requests whose turn has come, in order. */
static rc_err probe_release(rc__udp *u) {
  while (u->nheld > 0 && probe_due(u, u->held[0].len) <= u->now) {
    udp_held h = u->held[0];
    memmove(&u->held[0], &u->held[1], (u->nheld - 1) * sizeof(udp_held));
    u->nheld--;
    probe_sent(u, h.len);
    non_remember(u, h.buf, h.len);
    rc_err err = queue(u, h.buf, h.len);
    u->mem.free(h.buf, u->mem.user);
    if (err != RC_OK)
      return err;
  }
  return RC_OK;
}

/* ------------------------------------------------------------------ */
/* creation                                                            */

void rc__udp_config_default(rc_session_udp_config *c) {
  memset(c, 0, sizeof *c);
  c->ack_timeout_ms = RC_UDP_ACK_TIMEOUT;
  c->ack_random_factor = RC_UDP_ACK_RANDOM_FACTOR;
  c->max_retransmit = RC_UDP_MAX_RETRANSMIT;
  c->nstart = RC_UDP_NSTART;
  c->probing_rate = RC_UDP_PROBING_RATE;
  c->exchange_lifetime_ms = RC_UDP_EXCHANGE_LIFETIME;
  c->non_lifetime_ms = RC_UDP_NON_LIFETIME;
  c->separate_delay_ms = RC_UDP_SEPARATE_DELAY;
  c->con_notify_interval_ms = RC_UDP_CON_NOTIFY_INTERVAL;
  c->dedup_max = RC_UDP_DEDUP_MAX;
  c->amp_factor = RC_UDP_AMP_FACTOR;
}

rc_err rc_session_udp_params(rc_session_udp_config *c, uint32_t ack_timeout_ms,
                             uint32_t max_retransmit) {
  if (ack_timeout_ms == 0 || ack_timeout_ms > 600000u || max_retransmit > 20)
    return RC_ERR_INVAL;
  /* §4.8.2: MAX_TRANSMIT_SPAN = ACK_TIMEOUT * ((2 ** MAX_RETRANSMIT) - 1)
   * * ACK_RANDOM_FACTOR; EXCHANGE_LIFETIME = MAX_TRANSMIT_SPAN + (2 *
   * MAX_LATENCY) + PROCESSING_DELAY (= ACK_TIMEOUT); NON_LIFETIME =
   * MAX_TRANSMIT_SPAN + MAX_LATENCY. */
  const uint64_t max_latency = 100000u;
  uint64_t span = (uint64_t)ack_timeout_ms * ((1u << max_retransmit) - 1u) *
                  c->ack_random_factor / 1000u;
  uint64_t exch = span + 2 * max_latency + ack_timeout_ms;
  uint64_t non = span + max_latency;
  if (exch > UINT32_MAX)
    return RC_ERR_INVAL;
  c->ack_timeout_ms = ack_timeout_ms;
  c->max_retransmit = max_retransmit;
  c->exchange_lifetime_ms = (uint32_t)exch;
  c->non_lifetime_ms = (uint32_t)non;
  return RC_OK;
}

rc_err rc__udp_new(rc_session **out, const rc_session_config *cfg,
                   const rc_session_callbacks *cb, void *user,
                   const rc_mem *mem, rc_time now) {
  rc_session_udp_config dflt;
  const rc_session_udp_config *c = &cfg->udp;
  if (c->ack_timeout_ms == 0 && c->ack_random_factor == 0) {
    rc__udp_config_default(&dflt); /* a template filled for TCP by hand */
    dflt.stats = cfg->udp.stats;
    c = &dflt;
  }
  if (c->ack_timeout_ms == 0 || c->ack_random_factor < 1000u ||
      c->nstart == 0 || c->dedup_max == 0 || c->max_retransmit > 20)
    return RC_ERR_INVAL;
  if (mem == NULL)
    mem = rc_mem_default();
  rc__udp *u = mem->malloc(sizeof(*u), mem->user);
  if (u == NULL)
    return RC_ERR_NOMEM;
  memset(u, 0, sizeof(*u));
  u->is_udp = 1;
  u->state = RC_SESSION_OPEN; /* nothing to negotiate on UDP */
  u->cfg = *cfg;
  u->cfg.udp = *c;
  u->cb = *cb;
  u->user = user;
  u->mem = *mem;
  u->now = now;
  u->last_con_notify = now;
  u->prng = c->seed ? c->seed : 0x9E3779B97F4A7C15ULL;
  /* RFC 7252 §4.4: "It is strongly recommended that the initial value of
   * the variable (e.g., on startup) be randomized". */
  u->next_mid = (uint16_t)urand(u);
  u->next_ping_id = 1;
  u->dgram_max = UDP_DGRAM_MAX;
  *out = (rc_session *)(void *)u;
  return RC_OK;
}

rc_err rc__udp_set_max_datagram(rc_session *s, size_t n) {
  rc__udp *u = (rc__udp *)(void *)s;
  if (n < RC_UDP_MSG_SIZE || n > UDP_DGRAM_MAX)
    return RC_ERR_INVAL;
  u->dgram_max = (uint16_t)n;
  return RC_OK;
}

rc_err rc__udp_set_echo(rc_session *s, const rc_session_echo *echo) {
  U(s)->echo = echo;
  return RC_OK;
}

void rc__udp_free(rc_session *s) {
  rc__udp *u = U(s);
  const rc_mem *m = &u->mem;
  for (dgram *d = u->out_first; d != NULL;) {
    dgram *n = d->next;
    m->free(d, m->user);
    d = n;
  }
  for (dgram *d = u->spare; d != NULL;) {
    dgram *n = d->next;
    m->free(d, m->user);
    d = n;
  }
  for (size_t i = 0; i < u->ntx; i++)
    m->free(u->tx[i].buf, m->user);
  m->free(u->tx, m->user);
  for (size_t i = 0; i < u->nheld; i++)
    m->free(u->held[i].buf, m->user);
  if (u->rx != NULL)
    for (size_t i = 0; i < u->rx_cap; i++)
      m->free(u->rx[i].reply, m->user);
  m->free(u->rx, m->user);
  m->free(u->ebuf, m->user);
  m->free(u, m->user);
}

/* ------------------------------------------------------------------ */
/* input                                                               */

/* RFC 7252 §3 and §4: the checks beyond the codec's parse. Returns 0 or
 * the reason the message is a format error. */
static rc_err check_format(const rc_msg *m) {
  /* §3: "Lengths 9-15 are reserved, MUST NOT be sent, and MUST be
   * processed as a message format error." */
  if (m->token_len > RC_TOKEN_MAX)
    return RC_ERR_TKL_RESERVED;
  uint8_t cls = RC_CODE_CLASS(m->code);
  if (m->code == RC_CODE_EMPTY) {
    /* §4.3: "A Non-confirmable message always carries either a request
     * or response and MUST NOT be Empty." */
    return m->type == RC_TYPE_NON ? RC_ERR_BAD_CODE : RC_OK;
  }
  /* §4.2: a Reset message "MUST be empty"; an ACK carries a response or
   * nothing. Classes 1, 6 and 7 are reserved (§12.1). */
  if (m->type == RC_TYPE_RST)
    return RC_ERR_BAD_TYPE;
  if (cls == 1 || cls > 5)
    return RC_ERR_BAD_CODE;
  if (m->type == RC_TYPE_ACK && cls == 0)
    return RC_ERR_BAD_TYPE;
  return RC_OK;
}

static rc_err deliver(rc__udp *u, const rc_msg *m) {
  if (u->cb.on_message(u->user, m) != 0) {
    closed(u, RC_ERR_CALLBACK_FAILURE);
    return RC_ERR_CALLBACK_FAILURE;
  }
  return RC_OK;
}

static rc_err on_ack_rst(rc__udp *u, const rc_msg *m) {
  udp_tx *t = tx_find(u, m->mid);
  if (t == NULL) {
    if (m->type == RC_TYPE_RST) {
      /* A Reset to one of our NONs (RFC 7641 §3.6: a notification the
       * client does not want). */
      for (unsigned i = 0; i < NON_RING; i++) {
        udp_non *n = &u->non[i];
        if (n->used && n->mid == m->mid) {
          n->used = 0;
          lost(u, n->token, n->tkl, RC_ERR_CONN_RESET);
          break;
        }
      }
    }
    return RC_OK; /* a duplicate ACK, or one for a CON long given up */
  }
  /* The peer saw our Message ID: its address is its own (RFC 7252
   * §11.3). */
  u->confirmed = 1;
  udp_tx done = *t;
  done.buf = NULL;
  stat_answered(u, t);
  tx_remove(u, t);
  rc_err err = tx_promote(u);
  if (err != RC_OK)
    return err;
  if (done.ping_id != 0) {
    /* §4.3: an Empty CON is answered with RST ("CoAP ping"). */
    if (u->cb.on_pong != NULL)
      u->cb.on_pong(u->user, done.ping_id,
                    done.armed ? u->now - done.first_sent : 0, 0);
    return RC_OK;
  }
  if (m->type == RC_TYPE_RST) {
    lost(u, done.token, done.tkl, RC_ERR_CONN_RESET);
    return RC_OK;
  }
  if (m->code != RC_CODE_EMPTY)
    return deliver(u, m); /* a piggybacked response */
  return RC_OK;           /* an empty ACK: the response comes separately */
}

/* RFC 9175 §2.4 (amplification mitigation): a request that carries an
 * Echo value we made for this address, and that is still fresh, proves
 * the address. */
static void echo_confirm(rc__udp *u, const rc_msg *m) {
  rc_opt o;
  if (u->confirmed || u->echo == NULL ||
      !rc_msg_find_opt(m, RC_OPT_ECHO, &o))
    return;
  if (u->echo->check(u->user, o.val, o.len, u->now)) {
    u->confirmed = 1;
    ulog(u, RC_SESSION_LOG_DEBUG, "peer address confirmed by Echo");
  }
}

static rc_err on_con_non(rc__udp *u, const rc_msg *m) {
  int con = m->type == RC_TYPE_CON;
  if (m->code == RC_CODE_EMPTY) /* CON: a ping (NON was refused above) */
    return queue_empty(u, RC_TYPE_RST, m->mid, 0);
  udp_rx *dup = rx_find(u, m->mid);
  if (dup != NULL) {
    /* §4.5: "The recipient SHOULD acknowledge each duplicate copy of a
     * Confirmable message using the same Acknowledgement or Reset
     * message but SHOULD process any request or response in the message
     * only once." NON duplicates are dropped. */
    if (STAT(u) != NULL)
      *(con ? &STAT(u)->dup_con : &STAT(u)->dup_non) += 1;
    if (!con)
      return RC_OK;
    if (dup->reply_len > 0)
      return queue(u, dup->reply, dup->reply_len);
    for (size_t i = 0; i < u->nin; i++)
      if (u->in[i].con && u->in[i].mid == m->mid && !u->in[i].acked)
        return in_ack(u, &u->in[i]);
    return RC_OK;
  }
  rx_add(u, m->mid,
         con ? u->cfg.udp.exchange_lifetime_ms : u->cfg.udp.non_lifetime_ms);
  rc_err err;
  if (rc_code_is_request(m->code)) {
    echo_confirm(u, m);
    err = in_add(u, m);
  } else if (con) {
    /* A separate response or a CON notification: acknowledged at once
     * (the ACK is queued before the exchange sees the response, so that
     * it leaves even when the owner closes in its callback), unless the
     * exchange rejects it (rc__udp_reject turns the ACK into a Reset). */
    err = queue_empty(u, RC_TYPE_ACK, m->mid, 1);
  } else {
    err = RC_OK;
  }
  if (err != RC_OK)
    return err;
  /* A response: the exchange may reject it (rc__udp_reject). */
  u->resp_on = rc_code_is_request(m->code) ? 0 : con ? 1 : 2;
  u->resp_mid = m->mid;
  err = deliver(u, m);
  u->resp_on = 0;
  return err;
}

rc_err rc__udp_recv(rc_session *s, const uint8_t *data, size_t len,
                    rc_time now) {
  rc__udp *u = U(s);
  if (data == NULL && len != 0)
    return RC_ERR_INVAL;
  if (u->state == RC_SESSION_CLOSED)
    return RC_ERR_CLOSED;
  if (u->enc_open != NULL)
    return RC_ERR_STATE;
  u->now = now;
  u->in_len = len;
  /* §4.2: a message too short to hold a Message ID cannot be answered;
   * §3: "Messages with unknown version numbers MUST be silently
   * ignored." */
  if (len < UDP_HDR || (data[0] >> 6) != UDP_VERSION) {
    ulog(u, RC_SESSION_LOG_DEBUG, "ignored a %zu-byte datagram: %s", len,
         len < UDP_HDR ? "shorter than a header" : "not CoAP version 1");
    return RC_OK;
  }
  rc_msg m;
  rc_err perr = rc_msg_parse(RC_FRAMING_UDP, data, len, &m);
  if (perr == RC_OK)
    perr = check_format(&m);
  u->in_call = 1;
  rc_err err = RC_OK;
  if (perr != RC_OK) {
    uint8_t type = (data[0] >> 4) & 3;
    uint16_t mid = (uint16_t)(data[2] << 8 | data[3]);
    ulog(u, RC_SESSION_LOG_INFO, "message format error (%s) in a %s",
         rc_err_name(perr), type == RC_TYPE_CON ? "CON: Reset" : "non-CON: ignored");
    /* §4.2: "A recipient MUST ... reject the message if ... a message
     * format error"; "Rejecting a Confirmable message is effected by
     * sending a matching Reset message"; NON (§4.3), ACK and RST are
     * silently ignored. */
    if (type == RC_TYPE_CON)
      err = queue_empty(u, RC_TYPE_RST, mid, 0);
  } else {
    u->probe_silent = 0; /* the peer responds (PROBING_RATE) */
    if (u->cb.on_trace != NULL)
      u->cb.on_trace(u->user, 0, &m);
    if (m.type == RC_TYPE_ACK || m.type == RC_TYPE_RST)
      err = on_ack_rst(u, &m);
    else
      err = on_con_non(u, &m);
  }
  if (err == RC_OK && u->nheld > 0 && u->state != RC_SESSION_CLOSED)
    err = probe_release(u);
  u->in_call = 0;
  if (err == RC_ERR_NOMEM)
    closed(u, RC_ERR_NOMEM);
  return err;
}

/* ------------------------------------------------------------------ */
/* output                                                              */

rc_err rc__udp_msg_begin(rc_session *s, rc_enc *e, uint8_t code,
                         const uint8_t *token, size_t token_len,
                         size_t size_hint) {
  rc__udp *u = U(s);
  if (e == NULL || (token == NULL && token_len != 0))
    return RC_ERR_INVAL;
  if (code == RC_CODE_EMPTY || rc_code_is_signaling(code))
    return RC_ERR_BAD_CODE;
  if (u->state == RC_SESSION_CLOSED)
    return RC_ERR_CLOSED;
  if (u->enc_open != NULL)
    return RC_ERR_STATE;
  if (token_len > RC_TOKEN_MAX)
    return RC_ERR_TOKEN_TOO_LONG;
  if (size_hint > UDP_DGRAM_MAX)
    size_hint = UDP_DGRAM_MAX;
  size_t need = RC_ENC_HEADROOM + token_len + size_hint + RC_SESSION_OPT_ROOM;
  if (u->ecap < need) {
    uint8_t *nb = u->mem.realloc(u->ebuf, need, u->mem.user);
    if (nb == NULL)
      return RC_ERR_NOMEM;
    u->ebuf = nb;
    u->ecap = need;
  }
  rc_enc_init(e, u->ebuf, u->ecap, code, token, token_len);
  u->enc_open = e;
  u->enc_tkl = (uint8_t)token_len;
  if (token_len)
    memcpy(u->enc_token, token, token_len);
  return RC_OK;
}

void rc__udp_msg_cancel(rc_session *s, rc_enc *e) {
  rc__udp *u = U(s);
  if (e != NULL && u->enc_open == e)
    u->enc_open = NULL;
}

/* RFC 7252 §11.3 (amplification): a server that answers a spoofed
 * source sends its answer, larger than the request, to a victim; RFC
 * 9175 §2.4 has the server answer such a peer with 4.01 and an Echo
 * option instead of a large response until the peer proves its address
 * by repeating the request with that Echo. Large: more than amp_factor
 * times the request's datagram, counted over all the answers to the
 * request (a Q-Block2 set, RFC 9177 §4.4, is up to MAX_PAYLOADS of
 * them). The first answer over the budget becomes the 4.01; the rest of
 * the set is not sent (the peer, once confirmed, asks again). */
enum { AMP_SEND, AMP_ECHO, AMP_DROP };
static int amp_drop(rc__udp *u) {
  ulog(u, RC_SESSION_LOG_DEBUG,
       "answer of a set held back: the peer's address is not confirmed");
  return AMP_DROP;
}
/* in: the request n answers; NULL for the rest of a Q-Block2 set. */
static int amp_check(rc__udp *u, const udp_in *in, const uint8_t *tok,
                     size_t tkl, size_t n) {
  if (u->confirmed || u->cfg.udp.amp_factor == 0 || u->echo == NULL)
    return AMP_SEND;
  if (in != NULL) {
    u->amp_set = 1;
    u->amp_held = 0;
    u->amp_tkl = in->tkl;
    memcpy(u->amp_token, in->token, in->tkl);
    uint64_t budget = (uint64_t)u->cfg.udp.amp_factor * in->req_len;
    u->amp_left = budget < UINT32_MAX ? (uint32_t)budget : UINT32_MAX;
  } else if (!u->amp_set || u->amp_tkl != tkl ||
             (tkl && memcmp(u->amp_token, tok, tkl))) {
    /* A set's answer, not the latest request's: a set the server
     * pushes on its own (RFC 9177 §7.2, after NON_TIMEOUT) for an older
     * request: no budget to draw on. */
    return amp_drop(u);
  }
  if (n <= u->amp_left) {
    u->amp_left -= n;
    return AMP_SEND;
  }
  u->amp_left = 0;
  if (in == NULL)
    return amp_drop(u);
  u->amp_held = 1;
  return AMP_ECHO;
}

int rc__udp_amp_held(const rc_session *s, const uint8_t *token, size_t tkl) {
  const rc__udp *u = CU(s);
  return u->amp_held && u->amp_set && u->amp_tkl == tkl &&
         (tkl == 0 || memcmp(u->amp_token, token, tkl) == 0);
}

/* The 4.01 Unauthorized with an Echo option that replaces a large
 * response to the request in (same token, type and Message ID), built in
 * buf. */
static rc_err amp_answer(rc__udp *u, const udp_in *in, uint8_t type,
                         uint16_t mid, uint8_t buf[AMP_MSG_MAX],
                         const uint8_t **p, size_t *n) {
  uint8_t echo[RC_UDP_ECHO_MAX];
  size_t elen = u->echo->make(u->user, u->now, echo);
  if (elen == 0 || elen > RC_UDP_ECHO_MAX)
    return RC_ERR_CALLBACK_FAILURE;
  rc_enc e;
  rc_enc_init(&e, buf, AMP_MSG_MAX, RC_UNAUTHORIZED, in->token, in->tkl);
  rc_enc_opt(&e, RC_OPT_ECHO, echo, elen);
  /* debug: a flood of spoofed requests must not flood the log */
  ulog(u, RC_SESSION_LOG_DEBUG,
       "response held back: the peer's address is not confirmed (4.01 with "
       "Echo, RFC 9175 section 2.4)");
  return rc_enc_finish(&e, RC_FRAMING_UDP, type, mid, p, n);
}

/* Whether a message that answers no open request (an observe
 * notification) goes as CON: RFC 7641 §4.5 "an acceptable approach is to
 * send a notification as a confirmable message ... at least every 24
 * hours". */
static int notify_as_con(rc__udp *u) {
  if (u->cfg.udp.notify_con ||
      u->now - u->last_con_notify >= u->cfg.udp.con_notify_interval_ms) {
    u->last_con_notify = u->now;
    return 1;
  }
  return 0;
}

rc_err rc__udp_msg_end(rc_session *s, rc_enc *e) {
  rc__udp *u = U(s);
  if (e == NULL || u->enc_open != e)
    return RC_ERR_STATE;
  u->enc_open = NULL;
  const uint8_t *tok = u->enc_token;
  size_t tkl = u->enc_tkl;
  uint8_t type;
  uint16_t mid;
  udp_in *in = NULL;
  if (rc_code_is_request(e->code)) {
    type = u->cfg.udp.requests_non || u->requests_non ? RC_TYPE_NON
                                                      : RC_TYPE_CON;
  } else if ((in = in_find(u, tok, tkl)) != NULL) {
    /* §5.2.1: a response to a CON request that has not been acknowledged
     * is piggybacked; §5.2.2: after the empty ACK it goes as CON; §5.2.3:
     * "If the request message is Non-confirmable, then the response
     * SHOULD be returned in a Non-confirmable message." */
    type = !in->con ? RC_TYPE_NON : in->acked ? RC_TYPE_CON : RC_TYPE_ACK;
  } else {
    type = RC_TYPE_NON; /* decided below, once the message is whole */
  }
  mid = type == RC_TYPE_ACK ? in->mid : u->next_mid;
  const uint8_t *p;
  size_t n;
  rc_err err = rc_enc_finish(e, RC_FRAMING_UDP, type, mid, &p, &n);
  if (err != RC_OK)
    return err;
  if (n > u->dgram_max)
    return RC_ERR_PEER_TOO_LARGE;
  /* A notification: a response to no open request carrying Observe; a
   * set's: one carrying Q-Block2 (RFC 9177). */
  rc_msg view;
  rc_opt obs;
  int alone = in == NULL && !rc_code_is_request(e->code) &&
              rc_msg_parse(RC_FRAMING_UDP, p, n, &view) == RC_OK;
  int notify = alone && rc_msg_find_opt(&view, RC_OPT_OBSERVE, &obs);
  int of_set = alone && rc_msg_find_opt(&view, RC_OPT_Q_BLOCK2, &obs);
  uint8_t small[AMP_MSG_MAX];
  int amp = in != NULL || of_set ? amp_check(u, in, tok, tkl, n) : AMP_SEND;
  if (amp == AMP_DROP)
    return RC_OK;
  if (amp == AMP_ECHO) {
    err = amp_answer(u, in, type, mid, small, &p, &n);
    if (err != RC_OK)
      return err;
  }
  udp_tx *older = notify ? tx_find_notify(u, tok, tkl) : NULL;
  if (in == NULL && !rc_code_is_request(e->code) &&
      (older != NULL || notify_as_con(u))) {
    type = RC_TYPE_CON;
    ((uint8_t *)p)[0] = (uint8_t)(UDP_VERSION << 6 | RC_TYPE_CON << 4 | (p[0] & 0x0f));
  }
  if (type != RC_TYPE_ACK)
    u->next_mid++;
  switch (type) {
  case RC_TYPE_ACK:
    rx_keep_reply(u, mid, p, n);
    err = queue(u, p, n);
    break;
  case RC_TYPE_CON:
    if (older != NULL) {
      err = tx_replace(u, older, p, n, mid);
      break;
    }
    err = tx_add(u, p, n, mid, tok, tkl, 0);
    if (err == RC_OK)
      u->tx[u->ntx - 1].notify = (uint8_t)notify;
    break;
  default:
    if (rc_code_is_request(e->code) && u->requests_non) {
      /* RFC 9177 §7.2: a Q-Block body is paced by its own rules (sets
       * of MAX_PAYLOADS, NON_TIMEOUT); PROBING_RATE applies to the body
       * as a whole, not to each of its messages. */
      non_remember(u, p, n);
      err = queue(u, p, n);
      break;
    }
    if (rc_code_is_request(e->code)) {
      if (u->nheld > 0 || probe_due(u, n) > u->now) {
        if (u->nheld == PROBE_HELD_MAX)
          return RC_ERR_LIMIT;
        uint8_t *b = dup_bytes(u, p, n);
        if (b == NULL)
          return RC_ERR_NOMEM;
        u->held[u->nheld++] = (udp_held){b, n};
        break;
      }
      probe_sent(u, n);
    }
    non_remember(u, p, n);
    err = queue(u, p, n);
    break;
  }
  if (err == RC_OK && in != NULL)
    in_remove(u, in);
  return err;
}

rc_err rc__udp_send(rc_session *s, const rc_msg *m) {
  rc_enc e;
  rc_err err = rc__udp_msg_begin(s, &e, m->code, m->token, m->token_len,
                                 m->opts_len + 1 + m->payload_len);
  if (err != RC_OK)
    return err;
  if (m->opts_len)
    rc_enc_opts_raw(&e, m->opts, m->opts_len);
  rc_enc_payload(&e, m->payload, m->payload_len);
  return rc__udp_msg_end(s, &e);
}

rc_err rc__udp_pending(rc_session *s, const uint8_t **data, size_t *len) {
  rc__udp *u = U(s);
  if (u->out_first == NULL)
    return RC_ERR_NEED_MORE;
  *data = u->out_first->data;
  *len = u->out_first->len;
  return RC_OK;
}

rc_err rc__udp_consume(rc_session *s, size_t n) {
  rc__udp *u = U(s);
  dgram *d = u->out_first;
  if (d == NULL)
    return n == 0 ? RC_OK : RC_ERR_INVAL;
  if (n != d->len)
    return RC_ERR_INVAL; /* a datagram goes whole or not at all */
  u->out_first = d->next;
  if (u->out_first == NULL)
    u->out_last = NULL;
  u->out_bytes -= n;
  if (u->n_spare < SPARE_MAX) {
    d->next = u->spare;
    u->spare = d;
    u->n_spare++;
  } else {
    u->mem.free(d, u->mem.user);
  }
  return RC_OK;
}

size_t rc__udp_pending_bytes(const rc_session *s) { return CU(s)->out_bytes; }

int rc__udp_want_read(const rc_session *s) {
  return CU(s)->state != RC_SESSION_CLOSED;
}

/* ------------------------------------------------------------------ */
/* time                                                                */

rc_time rc__udp_expiry(const rc_session *s) {
  const rc__udp *u = CU(s);
  rc_time t = RC_TIME_NEVER;
  if (u->state == RC_SESSION_CLOSED)
    return t;
  for (size_t i = 0; i < u->ntx; i++) {
    const udp_tx *x = &u->tx[i];
    if (!x->sent)
      continue;
    rc_time d = x->armed ? x->due : 0;
    if (d < t)
      t = d;
  }
  for (size_t i = 0; i < u->nin; i++)
    if (u->in[i].con && !u->in[i].acked && u->in[i].ack_due < t)
      t = u->in[i].ack_due;
  if (u->nheld > 0) {
    rc_time d = probe_due(u, u->held[0].len);
    if (d < t)
      t = d;
  }
  return t;
}

static rc_err expire_tx(rc__udp *u, rc_time now) {
  for (size_t i = 0; i < u->ntx && u->state != RC_SESSION_CLOSED;) {
    udp_tx *t = &u->tx[i];
    if (!t->sent) {
      i++;
      continue;
    }
    if (!t->armed) {
      tx_arm(u, t);
      i++;
      continue;
    }
    if (t->due > now) {
      i++;
      continue;
    }
    if (t->tries < u->cfg.udp.max_retransmit) {
      /* §4.2: "the message is retransmitted, the retransmission counter
       * is incremented, and the timeout is doubled" */
      t->tries++;
      if (STAT(u) != NULL) {
        STAT(u)->retransmits++;
        if (t->tries > STAT(u)->max_tries)
          STAT(u)->max_tries = t->tries;
      }
      t->timeout *= 2;
      t->due += t->timeout;
      if (t->due <= now)
        t->due = now + t->timeout;
      rc_err err = queue(u, t->buf, t->len);
      if (err != RC_OK)
        return err;
      i++;
      continue;
    }
    /* §4.2: "If the retransmission counter reaches MAX_RETRANSMIT on a
     * timeout, then the attempt to transmit the message is canceled and
     * the application process informed of failure." */
    udp_tx done = *t;
    if (STAT(u) != NULL)
      STAT(u)->gave_up++;
    tx_remove(u, t);
    ulog(u, RC_SESSION_LOG_INFO, "CON %u not acknowledged after %u "
         "retransmissions", (unsigned)done.mid, (unsigned)done.tries);
    if (done.ping_id != 0) {
      closed(u, RC_ERR_PEER_DEAD);
      return RC_OK;
    }
    lost(u, done.token, done.tkl, RC_ERR_TIMEOUT);
    rc_err err = tx_promote(u);
    if (err != RC_OK)
      return err;
  }
  return RC_OK;
}

rc_err rc__udp_handle_expiry(rc_session *s, rc_time now) {
  rc__udp *u = U(s);
  if (u->enc_open != NULL)
    return RC_ERR_STATE;
  if (u->state == RC_SESSION_CLOSED)
    return RC_OK;
  u->now = now;
  u->in_call = 1;
  rc_err err = RC_OK;
  for (size_t i = 0; i < u->nin && err == RC_OK; i++)
    if (u->in[i].con && !u->in[i].acked && u->in[i].ack_due <= now)
      err = in_ack(u, &u->in[i]);
  if (err == RC_OK)
    err = expire_tx(u, now);
  if (err == RC_OK && u->nheld > 0 && u->state != RC_SESSION_CLOSED)
    err = probe_release(u);
  u->in_call = 0;
  if (err == RC_ERR_NOMEM)
    closed(u, RC_ERR_NOMEM);
  return err;
}

/* ------------------------------------------------------------------ */
/* actions and queries                                                 */

rc_err rc__udp_ping(rc_session *s, rc_time now, uint32_t *ping_id) {
  rc__udp *u = U(s);
  if (u->state == RC_SESSION_CLOSED)
    return RC_ERR_CLOSED;
  if (u->enc_open != NULL)
    return RC_ERR_STATE;
  u->now = now;
  uint16_t mid = u->next_mid++;
  uint32_t id = u->next_ping_id++;
  if (u->next_ping_id == 0)
    u->next_ping_id = 1;
  uint8_t h[UDP_HDR] = {(uint8_t)(UDP_VERSION << 6 | RC_TYPE_CON << 4), 0,
                        (uint8_t)(mid >> 8), (uint8_t)mid};
  u->in_call = 1;
  rc_err err = tx_add(u, h, sizeof h, mid, NULL, 0, id);
  u->in_call = 0;
  if (err == RC_OK && ping_id != NULL)
    *ping_id = id;
  return err;
}

void rc__udp_close(rc_session *s, rc_err reason) { closed(U(s), reason); }

void rc__udp_set_non(rc_session *s, int on) { U(s)->requests_non = on != 0; }

rc_err rc__udp_ack_now(rc_session *s, const uint8_t *token, size_t token_len) {
  rc__udp *u = U(s);
  if (u->enc_open != NULL)
    return RC_ERR_STATE;
  udp_in *in = in_find(u, token, token_len);
  if (in == NULL || !in->con || in->acked)
    return RC_OK;
  return in_ack(u, in);
}

/* §4.2: "Rejecting a Confirmable message is effected by sending a
 * matching Reset message and otherwise ignoring it": the ACK of the CON
 * response being delivered, still queued, becomes that Reset (and so
 * does the reply a duplicate gets, §4.5). */
static rc_err reject_response(rc__udp *u) {
  /* §4.3: "Rejecting a Non-confirmable message MAY involve sending a
   * matching Reset message": sent, so that a server stops the NON
   * notifications of an observation the client ended (RFC 7641 §3.6). */
  if (u->resp_on == 2)
    return queue_empty(u, RC_TYPE_RST, u->resp_mid, 0);
  const uint8_t ack[UDP_HDR] = {(uint8_t)(UDP_VERSION << 6 | RC_TYPE_ACK << 4),
                                0, (uint8_t)(u->resp_mid >> 8),
                                (uint8_t)u->resp_mid};
  for (dgram *d = u->out_first; d != NULL; d = d->next)
    if (d->len == UDP_HDR && !memcmp(d->data, ack, UDP_HDR)) {
      d->data[0] = (uint8_t)(UDP_VERSION << 6 | RC_TYPE_RST << 4);
      rx_keep_reply(u, u->resp_mid, d->data, d->len);
      return RC_OK;
    }
  return RC_ERR_STATE; /* the ACK left already */
}

rc_err rc__udp_reject(rc_session *s, const uint8_t *token, size_t token_len) {
  rc__udp *u = U(s);
  if (u->enc_open != NULL)
    return RC_ERR_STATE;
  udp_in *in = in_find(u, token, token_len);
  if (in == NULL && u->resp_on)
    return reject_response(u);
  if (in == NULL || in->con)
    return RC_ERR_STATE;
  /* §4.3: "Rejecting a Non-confirmable message MAY involve sending a
   * matching Reset message, and apart from that the message MUST be
   * silently ignored." */
  uint16_t mid = in->mid;
  in_remove(u, in);
  return queue_empty(u, RC_TYPE_RST, mid, 0);
}

void rc__udp_set_trace(rc_session *s,
                       void (*on_trace)(void *user, int sent,
                                        const rc_msg *m)) {
  U(s)->cb.on_trace = on_trace;
}

rc_session_state rc__udp_state(const rc_session *s) {
  return (rc_session_state)CU(s)->state;
}
