/*
 * The transport chain (transport_chain.h): a session on top of an ordered
 * list of filters, with no I/O. Each filter's sink points at its link in
 * the chain: up() goes to the next filter's recv() or, from the top, to
 * the session; down() goes to the filter below's send() or, from the
 * bottom, into the output queue. Events move the chain: a filter's
 * EV_OPEN starts the one above, the top one's opens the chain.
 *
 * The output queue lends its head to the caller (rc_chain_pull) and
 * keeps it in place until consumed; output produced meanwhile (a TLS
 * alert, a WS pong, an HTTP body slice) goes to a second buffer that is
 * moved behind it when the lent bytes are written. In datagram mode each
 * queued datagram carries a 4-byte length in front.
 */
#include <stdio.h>
#include <string.h>

#include "rcoap/transport_chain.h"

#define CHAIN_DGRAM_HDR 4u
#define CHAIN_DETAIL_MAX 256


typedef struct chain_buf {
  uint8_t *p;
  size_t off, len, cap;
} chain_buf;

struct rc_chain {
  /* What a plain chain's read and write touch first, in one cache line
   * (BENCHMARKS.md, hot16m); q2 in the next. */
  rc_session *s;
  /* link[i] == i: a filter's sink context is &link[i], from which the
   * chain and the filter's place follow (no pointer per filter). */
  uint8_t link[RC_CHAIN_MAX_FILTERS];
  uint8_t n;
  uint8_t n_open; /* filters [0, n_open) reported EV_OPEN */
  rc_time now;
  unsigned datagram : 1;
  unsigned started : 1;
  unsigned open : 1;
  unsigned dead : 1;
  unsigned closing : 1;
  unsigned shut_sent : 1;
  unsigned end_told : 1; /* on_end was called */
  unsigned own_out : 1;  /* some filter can have output of its own */
  unsigned files : 1;    /* RC_CHAIN_FILES */
  chain_buf q;  /* queued output; q.p[q.off, q.off + lent) is lent out */
  chain_buf q2; /* output produced while q is lent */
  size_t lent;
  const rc_mem *mem;
  rc_chain_callbacks cb;
  void *user;
  rc_filter *f[RC_CHAIN_MAX_FILTERS];
  size_t high_water;
  size_t keep;
};

/* ------------------------------------------------------------------ */
/* output queue                                                        */

static rc_err buf_reserve(rc_chain *ch, chain_buf *b, size_t n) {
  if (b->cap - b->len >= n)
    return RC_OK;
  if (b->off > 0) { /* nothing of b is lent when it is written to */
    memmove(b->p, b->p + b->off, b->len - b->off);
    b->len -= b->off;
    b->off = 0;
    if (b->cap - b->len >= n)
      return RC_OK;
  }
  size_t cap = b->cap ? b->cap : 1024;
  while (cap - b->len < n) {
    if (cap > SIZE_MAX / 2)
      return RC_ERR_NOMEM;
    cap *= 2;
  }
  uint8_t *p = ch->mem->realloc(b->p, cap, ch->mem->user);
  if (p == NULL)
    return RC_ERR_NOMEM;
  b->p = p;
  b->cap = cap;
  return RC_OK;
}

static rc_err buf_put(rc_chain *ch, chain_buf *b, const uint8_t *d, size_t n) {
  size_t hdr = ch->datagram ? CHAIN_DGRAM_HDR : 0;
  if (n > SIZE_MAX - hdr || (ch->datagram && n > UINT32_MAX))
    return RC_ERR_NOMEM;
  rc_err err = buf_reserve(ch, b, n + hdr);
  if (err != RC_OK)
    return err;
  if (hdr) {
    uint32_t len32 = (uint32_t)n;
    memcpy(b->p + b->len, &len32, sizeof len32);
  }
  memcpy(b->p + b->len + hdr, d, n);
  b->len += n + hdr;
  return RC_OK;
}

static void buf_free(rc_chain *ch, chain_buf *b) {
  ch->mem->free(b->p, ch->mem->user);
  memset(b, 0, sizeof *b);
}

/* Bytes from the bottom filter, for the socket. */
static rc_err queue_append(rc_chain *ch, const uint8_t *d, size_t n) {
  if (n == 0)
    return RC_OK;
  return buf_put(ch, ch->lent > 0 ? &ch->q2 : &ch->q, d, n);
}

/* The lent bytes are written: the queue moves on. */
static void queue_settle(rc_chain *ch) {
  chain_buf *q = &ch->q, *q2 = &ch->q2;
  if (q->off == q->len) {
    q->off = q->len = 0;
    if (q2->len > 0) { /* what arrived meanwhile comes next */
      chain_buf t = *q;
      *q = *q2;
      *q2 = t;
    }
  } else if (q2->len > 0) { /* datagrams left in q: q2's go behind */
    if (buf_reserve(ch, q, q2->len) == RC_OK) {
      memcpy(q->p + q->len, q2->p, q2->len);
      q->len += q2->len;
      q2->len = 0;
    }
  }
  if (ch->keep > 0 && q->len == 0 && q->cap > ch->keep)
    buf_free(ch, q);
  if (ch->keep > 0 && q2->len == 0 && q2->cap > ch->keep)
    buf_free(ch, q2);
}

size_t rc_chain_queued(const rc_chain *ch) {
  return ch->q.len - ch->q.off + ch->q2.len;
}

size_t rc_chain_unsent(const rc_chain *ch) {
  size_t n = rc_chain_queued(ch);
  if (ch->open && !ch->dead)
    n += rc_session_pending_bytes(ch->s);
  return n;
}

/* ------------------------------------------------------------------ */
/* events and links                                                    */

/* Tells the first end only: the peer closing WS and then TLS, or a
 * failure after that, is one end of one connection. */
static void chain_end_cb(rc_chain *ch, rc_chain_end_how how, rc_err err,
                         const char *detail) {
  if (ch->end_told)
    return;
  ch->end_told = 1;
  if (ch->cb.on_end != NULL)
    ch->cb.on_end(ch->user, how, err, detail != NULL ? detail : "");
}

/* A filter failed, or the chain refused to go on: nothing more moves. */
static void chain_fail(rc_chain *ch, rc_err err, const char *detail) {
  if (ch->dead)
    return;
  ch->dead = 1;
  chain_end_cb(ch, RC_CHAIN_END_ERROR, err,
               detail != NULL && detail[0] ? detail : rc_strerror(err));
}

static void chain_open(rc_chain *ch) {
  if (ch->open || ch->dead)
    return;
  ch->open = 1;
  if (ch->files && ch->n == 0)
    rc_session_set_files(ch->s, 1);
  /* The session's clock (the peer's CSM deadline) runs from here: before,
   * the filters were handshaking, or serving plain HTTP, for as long as
   * the connection allowed. */
  rc_session_transport_open(ch->s, ch->now);
  if (ch->cb.on_open != NULL)
    ch->cb.on_open(ch->user);
}

/* Starts filter i (the one below is open). */
static rc_err chain_start_at(rc_chain *ch, size_t i) {
  if (i >= ch->n) {
    chain_open(ch);
    return RC_OK;
  }
  rc_err err = rc_filter_start(ch->f[i]);
  if (err != RC_OK && !ch->dead) {
    char d[CHAIN_DETAIL_MAX];
    snprintf(d, sizeof d, "cannot start the %s handshake: %s",
             ch->f[i]->ops->label, rc_strerror(err));
    chain_fail(ch, err, d);
  }
  return err;
}

static rc_err chain_to_session(rc_chain *ch, const uint8_t *d, size_t n) {
  if (rc_session_get_state(ch->s) == RC_SESSION_CLOSED)
    return RC_OK;
  rc_err err = rc_session_recv(ch->s, d, n, ch->now);
  return err == RC_ERR_CLOSED ? RC_OK : err;
}

/* A filter's link: its chain and its place in it. */
typedef struct chain_link {
  rc_chain *ch;
  uint8_t i;
} chain_link;

static chain_link link_of(void *ctx) {
  const uint8_t *p = ctx;
  chain_link l;
  l.i = *p;
  l.ch = (rc_chain *)(void *)((char *)(uintptr_t)(p - *p) -
                              offsetof(rc_chain, link));
  return l;
}

static rc_err link_up(void *ctx, const uint8_t *d, size_t n, int flags) {
  chain_link lk = link_of(ctx), *l = &lk;
  rc_chain *ch = l->ch;
  (void)flags;
  if (l->i + 1u < ch->n)
    return rc_filter_recv(ch->f[l->i + 1], d, n);
  return chain_to_session(ch, d, n);
}

static rc_err link_down(void *ctx, const uint8_t *d, size_t n) {
  chain_link lk = link_of(ctx), *l = &lk;
  rc_chain *ch = l->ch;
  if (l->i == 0)
    return queue_append(ch, d, n);
  rc_filter *below = ch->f[l->i - 1];
  int fl = below->ops->flags & (RC_FILTER_F_MESSAGES | RC_FILTER_F_DATAGRAM)
               ? RC_FILTER_MSG_END
               : 0;
  return rc_filter_send(below, d, n, fl);
}

static void link_event(void *ctx, rc_filter_event ev, int arg,
                       const char *detail) {
  chain_link lk = link_of(ctx), *l = &lk;
  rc_chain *ch = l->ch;
  const char *label = ch->f[l->i]->ops->label;
  char d[CHAIN_DETAIL_MAX];
  switch (ev) {
  case RC_FILTER_EV_OPEN:
    if (l->i < ch->n_open)
      return;
    ch->n_open = (uint8_t)(l->i + 1);
    (void)chain_start_at(ch, l->i + 1u);
    return;
  case RC_FILTER_EV_ERROR:
    chain_fail(ch, (rc_err)arg, detail);
    return;
  case RC_FILTER_EV_CLOSED:
    if (l->i >= ch->n_open) { /* served by itself, never opened */
      chain_end_cb(ch, RC_CHAIN_END_DONE, RC_OK, detail);
      return;
    }
    snprintf(d, sizeof d, "peer closed the %s session%s%s%s", label,
             detail != NULL && detail[0] ? " (" : "",
             detail != NULL ? detail : "",
             detail != NULL && detail[0] ? ")" : "");
    chain_end_cb(ch, RC_CHAIN_END_PEER, RC_OK, d);
    return;
  case RC_FILTER_EV_ACTIVE:
    if (ch->cb.on_active != NULL)
      ch->cb.on_active(ch->user, arg);
    return;
  }
}

/* ------------------------------------------------------------------ */
/* construction                                                        */

rc_err rc_chain_new(rc_chain **out, const rc_chain_config *cfg, rc_session *s,
                    const rc_chain_callbacks *cb, void *user) {
  const rc_mem *mem = cfg != NULL && cfg->mem != NULL ? cfg->mem
                                                      : rc_mem_default();
  if (out == NULL || s == NULL) {
    rc_session_free(s);
    return RC_ERR_INVAL;
  }
  rc_chain *ch = mem->malloc(sizeof *ch, mem->user);
  if (ch == NULL) {
    rc_session_free(s);
    return RC_ERR_NOMEM;
  }
  memset(ch, 0, sizeof *ch);
  ch->mem = mem;
  ch->s = s;
  if (cb != NULL)
    ch->cb = *cb;
  ch->user = user;
  ch->high_water = RC_SESSION_DEFAULT_OUT_HIGH_WATER;
  if (cfg != NULL) {
    if (cfg->high_water > 0)
      ch->high_water = cfg->high_water;
    ch->keep = cfg->keep;
    ch->datagram = (cfg->flags & RC_CHAIN_DATAGRAM) != 0;
    ch->files = (cfg->flags & RC_CHAIN_FILES) != 0 && !ch->datagram;
  }
  for (size_t i = 0; i < RC_CHAIN_MAX_FILTERS; i++)
    ch->link[i] = (uint8_t)i;
  *out = ch;
  return RC_OK;
}

rc_filter_sink rc_chain_next_sink(rc_chain *ch) {
  size_t i = ch->n < RC_CHAIN_MAX_FILTERS ? ch->n : RC_CHAIN_MAX_FILTERS - 1;
  rc_filter_sink sink = {link_up, link_down, link_event, &ch->link[i]};
  return sink;
}

rc_err rc_chain_push(rc_chain *ch, rc_filter *f) {
  if (f == NULL)
    return RC_ERR_INVAL;
  if (ch->started || ch->n == RC_CHAIN_MAX_FILTERS) {
    rc_filter_free(f);
    return ch->started ? RC_ERR_STATE : RC_ERR_LIMIT;
  }
  f->sink = rc_chain_next_sink(ch);
  ch->f[ch->n++] = f;
  if (f->ops->pending != NULL)
    ch->own_out = 1;
  return RC_OK;
}

void rc_chain_end(rc_chain *ch) {
  ch->dead = 1;
  for (size_t i = ch->n; i-- > 0;)
    rc_filter_end(ch->f[i]);
}

void rc_chain_free(rc_chain *ch) {
  if (ch == NULL)
    return;
  for (size_t i = ch->n; i-- > 0;)
    rc_filter_free(ch->f[i]);
  rc_session_free(ch->s);
  buf_free(ch, &ch->q);
  buf_free(ch, &ch->q2);
  ch->mem->free(ch, ch->mem->user);
}

/* ------------------------------------------------------------------ */
/* parking                                                             */

int rc_chain_park_capable(const rc_chain *ch) { return ch->n == 0; }

int rc_chain_parkable(const rc_chain *ch) {
  /* A filter would need an export/import pair of its own (its keys, its
   * framing state); none has one, so a chain with filters stays up. */
  return ch->open && !ch->dead && !ch->closing && ch->n == 0 &&
         ch->lent == 0 && rc_chain_queued(ch) == 0 &&
         rc_session_parkable(ch->s);
}

rc_err rc_chain_park(rc_chain *ch, rc_session_parked *rec) {
  if (!rc_chain_parkable(ch))
    return RC_ERR_STATE;
  rc_err err = rc_session_park(ch->s, rec);
  if (err != RC_OK)
    return err;
  rc_chain_free(ch);
  return RC_OK;
}

rc_err rc_chain_unpark(rc_chain **out, const rc_chain_config *cfg,
                       rc_session *s, const rc_chain_callbacks *cb,
                       void *user) {
  rc_err err = rc_chain_new(out, cfg, s, cb, user);
  if (err != RC_OK)
    return err;
  (*out)->started = 1;
  (*out)->open = 1;
  if ((*out)->files)
    rc_session_set_files(s, 1); /* only filterless chains park */
  return RC_OK;
}

/* ------------------------------------------------------------------ */
/* input                                                               */

rc_err rc_chain_start(rc_chain *ch, rc_time now) {
  if (ch->started)
    return RC_ERR_STATE;
  ch->started = 1;
  ch->now = now;
  return chain_start_at(ch, 0);
}

rc_err rc_chain_recv(rc_chain *ch, const uint8_t *data, size_t len,
                     rc_time now) {
  ch->now = now;
  if (ch->n == 0)
    return chain_to_session(ch, data, len);
  if (ch->dead)
    return RC_ERR_STATE;
  if (len == 0)
    return RC_OK; /* an empty read is not the end of the stream */
  return rc_filter_recv(ch->f[0], data, len);
}

size_t rc_chain_read_room(rc_chain *ch, uint8_t **at) {
  if (ch->n != 0 || ch->dead)
    return 0;
  return rc_session_read_room(ch->s, at);
}

rc_err rc_chain_eof(rc_chain *ch, rc_time now) {
  ch->now = now;
  if (ch->n == 0 || ch->dead)
    return RC_OK;
  return rc_filter_eof(ch->f[0]);
}

/* ------------------------------------------------------------------ */
/* output                                                              */

/* A filter refused data or could not write: the chain fails with a
 * sentence naming it (kept out of the feed loop's frame). */
static __attribute__((noinline)) void chain_refused(rc_chain *ch,
                                                    const rc_filter *f,
                                                    const char *what,
                                                    rc_err err) {
  char d[CHAIN_DETAIL_MAX];
  snprintf(d, sizeof d, "%s filter %s: %s", f->ops->name, what,
           rc_strerror(err));
  chain_fail(ch, err, d);
}

/* Moves the session's queued output into the top filter, batched, up to
 * the high-water mark (all of it while closing). Returns non-zero if
 * anything went in. */
static int chain_feed(rc_chain *ch) {
  rc_filter *top = ch->f[ch->n - 1];
  int msg = (top->ops->flags & RC_FILTER_F_MESSAGES) != 0;
  size_t queued = rc_chain_queued(ch), sent = 0;
  const uint8_t *p;
  size_t n;
  while (!ch->dead && (ch->closing || queued + sent < ch->high_water) &&
         rc_session_pending(ch->s, &p, &n) == RC_OK) {
    if (!msg && n > RC_CHAIN_SLICE)
      n = RC_CHAIN_SLICE;
    rc_err err = rc_filter_send(top, p, n,
                                (msg ? RC_FILTER_MSG_END : 0) | RC_FILTER_MORE);
    if (err != RC_OK) {
      chain_refused(ch, top, "refused data", err);
      return 1;
    }
    rc_session_consume(ch->s, n);
    sent += n;
  }
  return sent > 0;
}

/* After a feed each filter, top first, hands down what it held; a filter
 * with output of its own (an HTTP body) adds a slice of it once the queue
 * is empty (then it is flushed even without a feed). */
static void chain_flush(rc_chain *ch, int fed) {
  for (size_t i = ch->n; i-- > 0 && !ch->dead;) {
    rc_filter *f = ch->f[i];
    size_t own = rc_filter_pending(f) > 0 && rc_chain_queued(ch) == 0
                     ? RC_CHAIN_SLICE
                     : 0;
    if (!fed && own == 0)
      continue;
    rc_err err = rc_filter_flush(f, own);
    if (err != RC_OK && !ch->dead)
      chain_refused(ch, f, "cannot write", err);
  }
}

/* After rc_chain_close() and the last session byte: the filters' own
 * goodbyes, top first (WS close frame inside TLS, then close_notify). */
static void chain_shutdown(rc_chain *ch) {
  if (!ch->closing || !ch->open || ch->dead || ch->shut_sent ||
      rc_session_want_write(ch->s))
    return;
  ch->shut_sent = 1;
  for (size_t i = ch->n; i-- > 0 && !ch->dead;)
    (void)rc_filter_shutdown(ch->f[i]);
}

/* rc_chain_pull with filters: out of line, so that the plain chain's
 * pull (every write of a coap+tcp conn) is a test and a tail call. */
static __attribute__((noinline)) rc_err
chain_pull_filtered(rc_chain *ch, const uint8_t **data, size_t *len) {
  if (ch->lent == 0 && !ch->dead) {
    int fed = ch->open && chain_feed(ch);
    if (fed || ch->own_out)
      chain_flush(ch, fed);
    if (ch->closing)
      chain_shutdown(ch);
  }
  const chain_buf *q = &ch->q;
  if (ch->lent == 0) {
    if (q->off == q->len)
      return RC_ERR_NEED_MORE;
    if (ch->datagram) {
      uint32_t dl;
      memcpy(&dl, q->p + q->off, sizeof dl);
      ch->lent = CHAIN_DGRAM_HDR + dl;
    } else {
      ch->lent = q->len - q->off;
    }
  }
  if (ch->datagram) {
    *data = q->p + q->off + CHAIN_DGRAM_HDR;
    *len = ch->lent - CHAIN_DGRAM_HDR;
  } else {
    *data = q->p + q->off;
    *len = ch->lent;
  }
  return RC_OK;
}

rc_err rc_chain_pull(rc_chain *ch, const uint8_t **data, size_t *len) {
  if (ch->n != 0)
    return chain_pull_filtered(ch, data, len);
  if (!ch->open || ch->dead)
    return RC_ERR_NEED_MORE;
  return rc_session_pending(ch->s, data, len);
}

rc_err rc_chain_pull_file(rc_chain *ch, int *fd, uint64_t *off, size_t *len) {
  if (ch->n != 0 || !ch->open || ch->dead)
    return RC_ERR_NEED_MORE;
  return rc_session_pending_file(ch->s, fd, off, len);
}

rc_err rc_chain_consume(rc_chain *ch, size_t n) {
  if (ch->n == 0)
    return rc_session_consume(ch->s, n);
  if (ch->datagram) {
    if (ch->lent == 0 || n != ch->lent - CHAIN_DGRAM_HDR)
      return RC_ERR_INVAL;
    n = ch->lent;
  } else if (n > ch->lent) {
    return RC_ERR_INVAL;
  }
  ch->q.off += n;
  ch->lent -= n;
  if (ch->lent == 0)
    queue_settle(ch);
  return RC_OK;
}

/* ------------------------------------------------------------------ */
/* time, closing, queries                                              */

/* rc_chain_expiry with live filters: out of line, so that a plain
 * chain's (asked by every pump) is a tail call. */
static __attribute__((noinline)) rc_time
chain_expiry_filtered(const rc_chain *ch) {
  rc_time due = ch->open ? rc_session_expiry(ch->s) : RC_TIME_NEVER;
  for (size_t i = 0; i < ch->n; i++) {
    rc_time e = rc_filter_expiry(ch->f[i]);
    if (e < due)
      due = e;
  }
  return due;
}

rc_time rc_chain_expiry(const rc_chain *ch) {
  /* Before the chain opens only the filters have deadlines (the
   * connection bounds the handshake itself). */
  if (!ch->dead && ch->n != 0)
    return chain_expiry_filtered(ch);
  return ch->open || ch->dead ? rc_session_expiry(ch->s) : RC_TIME_NEVER;
}

void rc_chain_handle_expiry(rc_chain *ch, rc_time now) {
  ch->now = now;
  for (size_t i = 0; i < ch->n && !ch->dead; i++)
    if (rc_filter_expiry(ch->f[i]) <= now) {
      rc_err err = rc_filter_timeout(ch->f[i], now);
      if (err != RC_OK)
        chain_fail(ch, err, NULL);
    }
  if ((ch->open || ch->dead) && rc_session_expiry(ch->s) <= now)
    rc_session_handle_expiry(ch->s, now);
}

void rc_chain_close(rc_chain *ch) { ch->closing = 1; }

rc_session *rc_chain_session(const rc_chain *ch) { return ch->s; }
int rc_chain_is_open(const rc_chain *ch) { return ch->open; }
int rc_chain_is_dead(const rc_chain *ch) { return ch->dead; }
size_t rc_chain_count(const rc_chain *ch) { return ch->n; }

rc_filter *rc_chain_filter(const rc_chain *ch, size_t i) {
  return i < ch->n ? ch->f[i] : NULL;
}

rc_filter *rc_chain_find(const rc_chain *ch, const char *name) {
  for (size_t i = 0; i < ch->n; i++)
    if (strcmp(ch->f[i]->ops->name, name) == 0)
      return ch->f[i];
  return NULL;
}

const char *rc_chain_waiting(const rc_chain *ch) {
  return ch->n_open < ch->n ? ch->f[ch->n_open]->ops->label : NULL;
}
