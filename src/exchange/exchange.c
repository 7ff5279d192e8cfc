/*
 * Requests and responses by token over one reliable session, both ways.
 *
 * Our outstanding requests live in a hash table keyed by their 8-byte token
 * and in a list ordered by deadline (timeouts are appended in the common
 * case, so insertion is O(1)). Incoming requests are handed to the user as
 * rc_xreq records taken from a free list, so serving a request allocates
 * nothing in the steady state. Block-wise transfers and observe live in
 * xserver.c and xclient.c; this file scans each request's options once
 * (critical-option check, Block/Size/Observe values, the request key) and
 * writes every message, merging the options the exchange adds.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/fastpath.h"
#include "exchange_int.h"

#define XCH_INITIAL_BUCKETS 16u
#define XCH_FREE_KEEP 64u
/* An answer's payload up to this goes out whole, in one call (larger
 * ones through rc__xsrv_respond, which may split them in Block2). */
#define XCH_SMALL_BODY 1024u

static uint64_t xch_splitmix(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t xch_key(const uint8_t *t) {
  uint64_t k = 0;
  for (int i = 0; i < 8; i++)
    k = (k << 8) | t[i];
  return k;
}

void rc__xch_log(rc_exchange *x, int level, const char *text) {
  if (x->cb.on_log)
    x->cb.on_log(x->user, level, text);
}

rc_err rc_exchange_new(rc_exchange **out, rc_session *s,
                       const rc_exchange_callbacks *cb, void *user,
                       const uint8_t *seed, size_t seed_len,
                       const rc_mem *mem) {
  if (!out || !s || !cb || !cb->on_request)
    return RC_ERR_INVAL;
  if (!mem)
    mem = rc_mem_default();
  rc_exchange *x = mem->malloc(sizeof *x, mem->user);
  if (!x)
    return RC_ERR_NOMEM;
  memset(x, 0, sizeof *x);
  x->s = s;
  x->cb = *cb;
  x->user = user;
  x->mem = mem;
  x->next_id = 1;
  x->unanswered_max = RC_EXCHANGE_UNANSWERED_MAX;
  x->udp = rc_session_framing(s) == RC_FRAMING_UDP;
  rc_exchange_block_config_default(&x->bcfg);
  for (size_t i = 0; seed && i < seed_len; i++)
    x->rng = (x->rng * 131) ^ seed[i] ^ ((uint64_t)seed[i] << ((i % 8) * 8));
  *out = x;
  return RC_OK;
}

/* ---- the outstanding-request table -------------------------------------- */

static xout **xch_slot(rc_exchange *x, uint64_t key) {
  return &x->buckets[(key ^ (key >> 29)) & (x->nbuckets - 1)];
}

xout *rc__xch_find(rc_exchange *x, uint64_t key) {
  if (!x->buckets)
    return NULL;
  for (xout *o = *xch_slot(x, key); o; o = o->hnext)
    if (o->key == key)
      return o;
  return NULL;
}

static void xch_grow(rc_exchange *x) {
  size_t n = x->nbuckets * 2;
  xout **b = x->mem->malloc(n * sizeof *b, x->mem->user);
  if (!b)
    return; /* longer chains; still correct */
  memset(b, 0, n * sizeof *b);
  xout **old = x->buckets;
  size_t oldn = x->nbuckets;
  x->buckets = b;
  x->nbuckets = n;
  for (size_t i = 0; i < oldn; i++) {
    xout *o = old[i];
    while (o) {
      xout *nx = o->hnext;
      xout **slot = xch_slot(x, o->key);
      o->hnext = *slot;
      *slot = o;
      o = nx;
    }
  }
  x->mem->free(old, x->mem->user);
}

static void xch_unlink_deadline(rc_exchange *x, xout *o) {
  if (o->prev)
    o->prev->next = o->next;
  else
    x->head = o->next;
  if (o->next)
    o->next->prev = o->prev;
  else
    x->tail = o->prev;
}

void rc__xch_unlink(rc_exchange *x, xout *o) {
  xout **pp = xch_slot(x, o->key);
  while (*pp != o)
    pp = &(*pp)->hnext;
  *pp = o->hnext;
  xch_unlink_deadline(x, o);
  x->nout--;
}

void rc__xch_release_out(rc_exchange *x, xout *o) {
  o->blk = NULL;
  o->next = x->free_out;
  x->free_out = o;
}

static void xch_insert_deadline(rc_exchange *x, xout *o) {
  xout *after = x->tail;
  while (after && after->deadline > o->deadline)
    after = after->prev;
  o->prev = after;
  o->next = after ? after->next : x->head;
  if (o->next)
    o->next->prev = o;
  else
    x->tail = o;
  if (after)
    after->next = o;
  else
    x->head = o;
}

void rc__xch_rearm(rc_exchange *x, xout *o, rc_time deadline) {
  xch_unlink_deadline(x, o);
  o->deadline = deadline;
  xch_insert_deadline(x, o);
}

/* A fresh record with an unused token (written to token). The table is
 * made by the first request: a server's connections, which never send
 * one, hold none. */
rc_err rc__xch_new_out(rc_exchange *x, xout **out, uint8_t token[8]) {
  if (!x->buckets) {
    size_t n = XCH_INITIAL_BUCKETS * sizeof(xout *);
    if (!(x->buckets = x->mem->malloc(n, x->mem->user)))
      return RC_ERR_NOMEM;
    memset(x->buckets, 0, n);
    x->nbuckets = XCH_INITIAL_BUCKETS;
  }
  uint64_t key;
  do {
    key = xch_splitmix(&x->rng);
  } while (rc__xch_find(x, key));
  for (int i = 7; i >= 0; i--)
    token[7 - i] = (uint8_t)(key >> (i * 8));
  xout *o = x->free_out;
  if (o)
    x->free_out = o->next;
  else if (!(o = x->mem->malloc(sizeof *o, x->mem->user)))
    return RC_ERR_NOMEM;
  memset(o, 0, sizeof *o);
  o->key = key;
  *out = o;
  return RC_OK;
}

void rc__xch_retoken(rc_exchange *x, xout *o) {
  xout **pp = xch_slot(x, o->key);
  while (*pp != o)
    pp = &(*pp)->hnext;
  *pp = o->hnext;
  uint64_t key;
  do {
    key = xch_splitmix(&x->rng);
  } while (rc__xch_find(x, key));
  o->key = key;
  xout **slot = xch_slot(x, key);
  o->hnext = *slot;
  *slot = o;
}

xout *rc__xch_find_alias(rc_exchange *x, uint64_t key) {
  for (xout *o = x->head; o; o = o->next) {
    uint64_t d = key - o->key;
    if (o->blk && o->blk->qb_seq && (d & 0xffffffffu) == 0 &&
        (d >> 32) < o->blk->qb_seq)
      return o;
  }
  return NULL;
}

/* Enters o (from rc__xch_new_out, its request sent) in the table. */
void rc__xch_link_out(rc_exchange *x, xout *o, rc_time deadline) {
  o->id = x->next_id++;
  o->deadline = deadline;
  xout **slot = xch_slot(x, o->key);
  o->hnext = *slot;
  *slot = o;
  xch_insert_deadline(x, o);
  if (++x->nout > x->nbuckets)
    xch_grow(x);
}

/* ---- sending ------------------------------------------------------------ */

size_t rc__xch_opts_size(const rc_opt *opts, size_t nopts) {
  size_t n = 0;
  for (size_t i = 0; i < nopts; i++)
    n += opts[i].len + 5;
  return n;
}

int rc__xx_has(const xextra *ex, uint16_t num) {
  for (size_t i = 0; ex && i < ex->n; i++)
    if (ex->o[i].num == num)
      return 1;
  return 0;
}

/* Adds an option (value copied), keeping the list sorted; silently drops
 * it when the small store is full (callers add at most a few bytes). */
void rc__xx_add(xextra *ex, uint16_t num, const void *val, size_t len) {
  if (ex->n == sizeof ex->o / sizeof ex->o[0] ||
      ex->used + len > sizeof ex->store)
    return;
  uint8_t *v = ex->store + ex->used;
  if (len)
    memcpy(v, val, len);
  ex->used += len;
  size_t i = ex->n++;
  while (i > 0 && ex->o[i - 1].num > num) {
    ex->o[i] = ex->o[i - 1];
    i--;
  }
  ex->o[i].num = num;
  ex->o[i].len = (uint32_t)len;
  ex->o[i].val = v;
}

void rc__xx_add_uint(xextra *ex, uint16_t num, uint64_t v) {
  uint8_t b[8];
  size_t n = 0;
  for (int i = 7; i >= 0; i--) {
    uint8_t byte = (uint8_t)(v >> (i * 8));
    if (n == 0 && byte == 0)
      continue;
    b[n++] = byte;
  }
  rc__xx_add(ex, num, b, n);
}

void rc__xx_add_block(xextra *ex, uint16_t num, const rc_block *b) {
  uint8_t v[3];
  size_t n = rc_block_encode(b, v);
  rc__xx_add(ex, num, v, n);
}

void rc__xch_enc_opts(rc_enc *e, const rc_opt *opts, size_t nopts,
                      const xextra *ex) {
  size_t nex = ex ? ex->n : 0;
  size_t i = 0, j = 0;
  if (nex == 0) { /* nothing to merge: a handler's answer */
    for (; i < nopts; i++)
      rc_enc_opt(e, opts[i].num, opts[i].val, opts[i].len);
    return;
  }
  while (i < nopts || j < nex) {
    const rc_opt *a = i < nopts ? &opts[i] : NULL;
    const rc_opt *b = j < nex ? &ex->o[j] : NULL;
    if (a && nex && rc__xx_has(ex, a->num)) {
      i++;
      continue;
    }
    if (!b || (a && a->num <= b->num)) {
      rc_enc_opt(e, a->num, a->val, a->len);
      i++;
    } else {
      rc_enc_opt(e, b->num, b->val, b->len);
      j++;
    }
  }
}

/* One message from memory (opts sorted), framed by the session. */
static rc_err xch_send_parts(rc_exchange *x, uint8_t code,
                             const uint8_t *token, size_t token_len,
                             const rc_opt *opts, size_t nopts,
                             const uint8_t *payload, size_t plen) {
  rc_err err = rc_session_send_parts(x->s, code, token, token_len, opts, nopts,
                                     payload, plen);
  if (err == RC_OK && x->cb.on_output && !x->hold)
    x->cb.on_output(x->user);
  return err;
}

/*
 * Writes one message with token into the session's output: opts (sorted)
 * merged with ex (an option number present in ex replaces the caller's),
 * then the payload from memory or read from src at src_off (plen bytes,
 * straight into the output buffer). Returns 0, RC_ERR_IO when the source
 * gave fewer bytes, its error, or the session's.
 */
/* rc__xch_send_full for a block of a source with a file, over a session
 * that queues file runs: header and options encoded, the body left in
 * the file (sendfile). A source whose file is -1 is read instead. */
static rc_err xch_send_file(rc_exchange *x, uint8_t code, const uint8_t *token,
                            size_t token_len, const rc_opt *opts, size_t nopts,
                            const xextra *ex, size_t plen,
                            const rc_body_source *src, uint64_t src_off,
                            size_t hint) {
  int fd = src->file(src->arg);
  if (fd < 0) {
    rc_body_source plain = *src;
    plain.file = NULL;
    return rc__xch_send_full(x, code, token, token_len, opts, nopts, ex, NULL,
                             plen, &plain, src_off);
  }
  rc_enc e;
  rc_err err = rc_session_msg_begin(x->s, &e, code, token, token_len, hint);
  if (err)
    return err;
  rc__xch_enc_opts(&e, opts, nopts, ex);
  err = rc_session_msg_end_file(x->s, &e, fd, src_off, plen);
  if (err == RC_OK && x->cb.on_output && !x->hold)
    x->cb.on_output(x->user);
  return err;
}

rc_err rc__xch_send_full(rc_exchange *x, uint8_t code, const uint8_t *token,
                         size_t token_len, const rc_opt *opts, size_t nopts,
                         const xextra *ex, const uint8_t *payload,
                         size_t plen, const rc_body_source *src,
                         uint64_t src_off) {
  if (!ex && !src) /* a message from memory: the session frames it */
    return xch_send_parts(x, code, token, token_len, opts, nopts, payload,
                          plen);
  size_t hint = plen + 1 + rc__xch_opts_size(opts, nopts) + (ex ? 64 : 0);
  if (src && plen && src->file && rc_session_files(x->s))
    return xch_send_file(x, code, token, token_len, opts, nopts, ex, plen,
                         src, src_off, hint - plen);
  for (int attempt = 0; attempt < 2; attempt++) {
    rc_enc e;
    rc_err err = rc_session_msg_begin(x->s, &e, code, token, token_len, hint);
    if (err)
      return err;
    rc__xch_enc_opts(&e, opts, nopts, ex);
    if (src && plen) {
      uint8_t *p = rc_enc_payload_ptr(&e, plen);
      if (p) {
        rc_ssize got = src->read(src->arg, src_off, p, plen);
        if (got != (rc_ssize)plen) {
          rc_session_msg_cancel(x->s, &e);
          return got < 0 ? (rc_err)got : RC_ERR_IO;
        }
      }
    } else {
      rc_enc_payload(&e, payload, plen);
    }
    size_t needed = rc_enc_needed(&e);
    err = rc_session_msg_end(x->s, &e);
    if (err == RC_OK && x->cb.on_output && !x->hold)
      x->cb.on_output(x->user);
    if (err != RC_ERR_NOBUF)
      return err;
    hint = needed;
  }
  return RC_ERR_NOBUF;
}

static rc_err xch_send(rc_exchange *x, const rc_outmsg *m,
                       const uint8_t *token, size_t token_len) {
  return xch_send_parts(x, m->code, token, token_len, m->opts, m->nopts,
                        m->payload, m->payload_len);
}

rc_err rc__xch_busy(rc_exchange *x, const uint8_t *token, size_t token_len,
                    const char *diag) {
  /* RFC 7252 §5.9.3.4: 5.03 "The server is currently unable to handle the
   * request due to a temporary overloading"; Max-Age says when to retry. */
  uint8_t age = RC_EXCHANGE_RETRY_AFTER_S;
  rc_opt o = {.num = RC_OPT_MAX_AGE, .len = 1, .val = &age};
  rc_outmsg m = {RC_SERVICE_UNAVAILABLE, &o, 1, (const uint8_t *)diag,
                 strlen(diag)};
  rc__xch_log(x, RC_SESSION_LOG_WARN, diag);
  return xch_send(x, &m, token, token_len);
}

void rc_exchange_set_forward_unknown(rc_exchange *x, int on) {
  x->fwd_to_app = on != 0;
}

void rc_exchange_set_unanswered_max(rc_exchange *x, size_t n) {
  if (x)
    x->unanswered_max = n ? n : RC_EXCHANGE_UNANSWERED_MAX;
}

void rc_exchange_hold_output(rc_exchange *x, int hold) { x->hold = hold != 0; }

rc_err rc_exchange_cancel(rc_exchange *x, uint64_t id) {
  for (xout *o = x->head; o; o = o->next) {
    if (o->id == id) {
      rc__xch_unlink(x, o);
      if (o->blk)
        rc__xcli_free(x, o->blk, RC_ERR_CANCELLED);
      rc__xch_release_out(x, o);
      return RC_OK;
    }
  }
  return RC_ERR_NOT_FOUND;
}

/* ---- receiving ---------------------------------------------------------- */

/* A request record lives from the request to its answer; in between it
 * waits in the pool (shared by the loop's exchanges), not here. */
struct rc_xreq_pool {
  const rc_mem *mem;
  rc_xreq *free;
  size_t n;
};

rc_err rc_xreq_pool_new(rc_xreq_pool **out, const rc_mem *mem) {
  if (!out)
    return RC_ERR_INVAL;
  if (!mem)
    mem = rc_mem_default();
  rc_xreq_pool *p = mem->malloc(sizeof *p, mem->user);
  if (!p)
    return RC_ERR_NOMEM;
  memset(p, 0, sizeof *p);
  p->mem = mem;
  *out = p;
  return RC_OK;
}

void rc_xreq_pool_free(rc_xreq_pool *p) {
  if (!p)
    return;
  while (p->free) {
    rc_xreq *r = p->free;
    p->free = r->next;
    p->mem->free(r, p->mem->user);
  }
  p->mem->free(p, p->mem->user);
}

rc_err rc_exchange_set_req_pool(rc_exchange *x, rc_xreq_pool *p) {
  if (!x || (p && p->mem != x->mem))
    return RC_ERR_INVAL;
  x->pool = p;
  return RC_OK;
}

static rc_xreq *xch_req_get(rc_exchange *x) {
  rc_xreq_pool *p = x->pool;
  if (p && p->free) {
    rc_xreq *r = p->free;
    p->free = r->next;
    p->n--;
    return r;
  }
  return x->mem->malloc(sizeof(rc_xreq), x->mem->user);
}

static void xch_req_put(rc_exchange *x, rc_xreq *r) {
  if (r->tok_heap)
    x->mem->free(r->tok_heap, x->mem->user);
  r->tok_heap = NULL;
  rc_xreq_pool *p = x->pool;
  if (p && p->n < RC_XREQ_POOL_MAX) {
    r->next = p->free;
    p->free = r;
    p->n++;
    return;
  }
  x->mem->free(r, x->mem->user);
}

#define XCH_FNV_PRIME 0x100000001b3ull
#define XCH_FNV_BASIS 0xcbf29ce484222325ull

static uint64_t xch_hash_opt(uint64_t h, const rc_opt *o) {
  h = (h ^ o->num) * XCH_FNV_PRIME;
  h = (h ^ o->len) * XCH_FNV_PRIME;
  for (uint32_t i = 0; i < o->len; i++)
    h = (h ^ o->val[i]) * XCH_FNV_PRIME;
  return h;
}

/* The registry's entry for an option the exchange and app act on; NULL
 * for OSCORE, which the registry names (for printing) but rcoap does not
 * implement: RFC 8613 §2, "The OSCORE option is critical, safe to
 * forward, part of the cache key, and not repeatable", so a server
 * without OSCORE refuses it with 4.02 (RFC 7252 §5.4.1) and a proxy
 * forwards it (§5.7.2). */
static const rc_opt_def *xch_opt_def(uint8_t code, uint16_t num) {
  return num == RC_OPT_OSCORE ? NULL : rc_opt_lookup(code, num);
}

/*
 * One pass over the request's options: the first unrecognized critical
 * option, or one with a value the registry says is malformed (RFC 7252
 * §5.4.3: "treated like an unrecognized option"), or a second occurrence
 * of a critical option that is not repeatable (*repeated set), goes to
 * *bad; later occurrences of a non-repeatable elective one are skipped;
 * Block1, Block2, Size1, Size2 and Observe are decoded into r. The keys
 * are not made here (xch_keys, when something asks for them).
 * An unrecognized critical option that is safe to forward never goes to
 * *bad: RFC 7252 §5.7.2, "A CoAP-to-CoAP proxy MUST forward to the origin
 * server all Safe-to-Forward options that it does not recognize." In a
 * request that names a proxy target (Proxy-Uri, Proxy-Scheme) it passes
 * (the app answers 5.05 when it is no proxy, and the proxy refuses unsafe
 * ones with 4.02); otherwise to *bad, or with fwd_to_app to
 * r->fwd_unknown, and the app refuses it (rc_xreq_refuse_option) unless a
 * reverse-proxy route takes the request.
 */
/* The options below 64 xch_scan decodes (the switch there). */
#define XCH_DECODED                                                            \
  (1ull << RC_OPT_OBSERVE | 1ull << RC_OPT_BLOCK2 | 1ull << RC_OPT_BLOCK1 |    \
   1ull << RC_OPT_Q_BLOCK1 | 1ull << RC_OPT_Q_BLOCK2 | 1ull << RC_OPT_SIZE2 | \
   1ull << RC_OPT_SIZE1)

/* The options below 64 a request may carry that the scan would only
 * note in opts_seen: every elective one it does not decode (an elective
 * option that is unknown, malformed or repeated is ignored, RFC 7252
 * §5.4.1, §5.4.3, §5.4.5), and Uri-Path and Uri-Query (critical,
 * repeatable, 0-255 bytes: RFC 7252 §5.10). */
#define XCH_EVEN_BELOW64 0x5555555555555555ull
/* Elective options below 64 the scan decodes not, whose value length has
 * a range to check (RFC 7252 §5.4.3): ETag 1-8, Content-Format 0-2,
 * Max-Age 0-4, Hop-Limit 1. */
#define XCH_BOUNDED                                                            \
  (1ull << RC_OPT_ETAG | 1ull << RC_OPT_CONTENT_FORMAT |                      \
   1ull << RC_OPT_MAX_AGE | 1ull << RC_OPT_HOP_LIMIT)
#define XCH_PLAIN                                                              \
  ((XCH_EVEN_BELOW64 & ~XCH_DECODED & ~XCH_BOUNDED) |                         \
   1ull << RC_OPT_URI_PATH | 1ull << RC_OPT_URI_QUERY)

/* *repeated when *bad is an elective option of a malformed length: the
 * request is not refused but read without it (xstrip.c). */
#define XCH_IGNORE 2

/* What the parser saw of m's options says there is nothing to check or
 * decode (values up to 255 bytes fit Uri-Path's and Uri-Query's range;
 * anything longer is looked at by the scan). */
#define XCH_PLAIN_MSG(m)                                                       \
  ((m)->opts_summary && !(m)->opts_over63 && (m)->opts_maxlen <= 255 &&        \
   !((m)->opts_below64 & ~XCH_PLAIN))

static void xch_scan(rc_xreq *r, const rc_msg *m, int fwd_to_app,
                     uint16_t *bad, int *repeated) {
  rc_opt_iter it;
  rc_opt o;
  int32_t prev = -1; /* options come sorted: repeats are neighbours */
  *bad = 0;
  *repeated = 0;
  /* nothing to check or decode: no walk */
  if (XCH_PLAIN_MSG(m) && !rc__fast_paths_off) {
    r->opts_seen = m->opts_below64;
    return;
  }
  rc_opt_iter_init(&it, m);
  uint16_t fwd = 0; /* the first unrecognized safe-to-forward critical one */
  uint16_t ignored = 0; /* the first elective one of a malformed length */
  while (rc_opt_next(&it, &o)) {
    const rc_opt_def *d = xch_opt_def(m->code, o.num);
    int again = (int32_t)o.num == prev;
    if (o.num < 64)
      r->opts_seen |= 1ull << o.num;
    prev = o.num;
    /* RFC 7252 §5.4.5: "each supernumerary option occurrence that appears
     * subsequently in the message MUST be treated like an unrecognized
     * option": 4.02 when critical (§5.4.1), else ignored. */
    if (again && d && !d->repeatable) {
      if (rc_opt_is_critical(o.num) && !*bad) {
        *bad = o.num;
        *repeated = 1;
      }
      continue;
    }
    if (rc_opt_is_critical(o.num) &&
        (!d || rc_opt_check_def(d, &o) != RC_OK)) {
      if (!d && !rc_opt_is_unsafe(o.num)) {
        if (!fwd)
          fwd = o.num;
      } else if (!*bad) {
        *bad = o.num;
      }
      continue;
    }
    /* RFC 7252 §5.4.3: an option whose value length is outside its
     * defined range is handled as an unrecognized one; elective: ignored
     * (§5.4.1), the request is read without it (xstrip.c). */
    if (d && !rc_opt_is_critical(o.num) && rc_opt_check_def(d, &o) != RC_OK) {
      if (!ignored)
        ignored = o.num;
      continue;
    }
    if (o.num < 64 && !(XCH_DECODED >> o.num & 1))
      continue; /* Uri-Path, Content-Format, ...: nothing to decode */
    uint32_t v;
    switch (o.num) {
    case RC_OPT_OBSERVE:
      if (rc_opt_uint(&o, &v) == RC_OK)
        r->obs_val = (int32_t)(v & 0xFFFFFF);
      continue;
    case RC_OPT_BLOCK2:
      if (rc_block_decode(o.val, o.len, &r->b2) == RC_OK)
        r->has_b2 = 1;
      continue;
    case RC_OPT_BLOCK1:
      if (rc_block_decode(o.val, o.len, &r->b1) == RC_OK)
        r->has_b1 = 1;
      continue;
    case RC_OPT_Q_BLOCK1:
      if (rc_block_decode(o.val, o.len, &r->qb1) == RC_OK)
        r->has_qb1 = 1;
      continue;
    case RC_OPT_Q_BLOCK2:
      /* Repeatable (RFC 9177 §4.1): each names a block asked for. */
      if (r->nqb2 < RC_QBLOCK_LIST_MAX &&
          rc_block_decode(o.val, o.len, &r->qb2[r->nqb2]) == RC_OK &&
          r->qb2[r->nqb2].szx != RC_BLOCK_SZX_BERT)
        r->nqb2++;
      continue;
    case RC_OPT_SIZE2:
      r->size2_req = 1;
      continue;
    case RC_OPT_SIZE1:
      if (rc_opt_uint(&o, &v) == RC_OK)
        r->size1 = v;
      continue;
    case RC_OPT_REQUEST_TAG:
      r->has_rtag = 1;
      continue;
    default:
      continue;
    }
  }
  if (!*bad && fwd &&
      !(r->opts_seen & (1ull << RC_OPT_PROXY_URI | 1ull << RC_OPT_PROXY_SCHEME))) {
    if (fwd_to_app)
      r->fwd_unknown = fwd;
    else
      *bad = fwd;
  }
  if (!*bad && ignored) {
    *bad = ignored; /* not refused: read without it (XCH_IGNORE) */
    *repeated = XCH_IGNORE;
  }
}

/*
 * The request's keys (the answer cache's and the uploads'), taken from
 * r->key_msg the first time something asks (rc__xreq_keys): a plain
 * request answered at once never needs them. FNV-1a over the code and
 * every option xch_scan did not decode or skip (number, length, value);
 * Request-Tag goes into key only, not into key_untagged; Echo into
 * neither (RFC 9175 §2.2.1: Echo is not part of the cache key: a request
 * repeated with the Echo a 4.01 asked for is still the same request); a
 * FETCH without Block1 adds its payload to both.
 */
void rc__xreq_keys_make(rc_xreq *r) {
  const rc_msg *m = r->key_msg;
  rc_opt_iter it;
  rc_opt o;
  uint64_t h = XCH_FNV_BASIS ^ m->code;
  uint64_t hu = h; /* the same without Request-Tag */
  int32_t prev = -1;
  r->key_msg = NULL;
  rc_opt_iter_init(&it, m);
  while (rc_opt_next(&it, &o)) {
    const rc_opt_def *d = xch_opt_def(m->code, o.num);
    int again = (int32_t)o.num == prev;
    prev = o.num;
    if ((again && d && !d->repeatable) ||
        (rc_opt_is_critical(o.num) &&
         (!d || rc_opt_check_def(d, &o) != RC_OK)))
      continue; /* skipped by xch_scan (or the request refused) */
    switch (o.num) {
    case RC_OPT_OBSERVE:
    case RC_OPT_BLOCK2:
    case RC_OPT_BLOCK1:
    case RC_OPT_Q_BLOCK1:
    case RC_OPT_Q_BLOCK2:
    case RC_OPT_SIZE2:
    case RC_OPT_SIZE1:
    case RC_OPT_ECHO:
      continue;
    case RC_OPT_REQUEST_TAG:
      h = xch_hash_opt(h, &o); /* into the key, not into key_untagged */
      continue;
    default:
      break;
    }
    h = xch_hash_opt(h, &o);
    hu = xch_hash_opt(hu, &o);
  }
  if (m->code == RC_FETCH && !r->has_b1)
    for (size_t i = 0; i < m->payload_len; i++) {
      h = (h ^ m->payload[i]) * XCH_FNV_PRIME;
      hu = (hu ^ m->payload[i]) * XCH_FNV_PRIME;
    }
  if (rc__xheld_method(m->code)) /* an answer kept for its repeat */
    r->body_hash = rc__xch_hash_body(m->payload, m->payload_len);
  r->key = h;
  r->key_untagged = hu;
}

static rc_err xch_respond(rc_xreq *req, const rc_outmsg *resp,
                          const rc_body_source *src, const rc_msg_tail *tail);

/* Refuses request m for its critical option num (unrecognized, or a
 * repeat of a non-repeatable one); through req when the user holds it
 * (rc_xreq_refuse_option), else straight to the session. */
static rc_err xch_bad_option(rc_exchange *x, rc_xreq *req, const rc_msg *m,
                             uint16_t num, int repeated) {
  /* RFC 7252 §5.4.1: "Unrecognized options of class "critical" that occur
   * in a Non-confirmable message MUST cause the message to be rejected
   * (Section 4.3)"; only a Confirmable request gets the 4.02. */
  if (m->type == RC_TYPE_NON && !(req && req->in_body_start) &&
      rc_session_udp_reject(x->s, m->token, m->token_len) == RC_OK) {
    rc__xch_log(x, RC_SESSION_LOG_DEBUG,
                "NON request with a bad critical option: Reset");
    if (req)
      req->answered = 1;
    return RC_OK;
  }
  char diag[64];
  int n = repeated ? snprintf(diag, sizeof diag,
                              "critical option %u (%s) is not repeatable",
                              num, rc_opt_lookup(m->code, num)->name)
                   : snprintf(diag, sizeof diag,
                              "unrecognized critical option %u", num);
  rc_outmsg resp = {RC_BAD_OPTION, NULL, 0, (const uint8_t *)diag, (size_t)n};
  return req ? xch_respond(req, &resp, NULL, NULL)
             : xch_send(x, &resp, m->token, m->token_len);
}

/* m read without its elective options of a malformed length (xstrip.c),
 * through the public entry again (its scan now finds nothing to strip). */
static __attribute__((noinline)) rc_err
xch_on_request_stripped(rc_exchange *x, const rc_msg *m, rc_time now) {
  rc_msg clean;
  uint8_t *buf;
  rc_err err = rc__xch_strip(x->mem, m, &clean, &buf);
  if (err)
    return err;
  rc__xch_log(x, RC_SESSION_LOG_DEBUG,
              "elective option of a malformed length in a request ignored");
  err = rc_exchange_on_message(x, &clean, now);
  x->mem->free(buf, x->mem->user);
  return err;
}

static __attribute__((noinline)) rc_err
xch_on_request(rc_exchange *x, const rc_msg *m, rc_time now) {
  rc_xreq *r = xch_req_get(x);
  if (!r)
    return RC_ERR_NOMEM;
  /* the flags and what they guard; the rest is set below before use */
  memset(r, 0, offsetof(rc_xreq, x));
  r->obs_val = -1;
  r->size1 = RC_BODY_SIZE_UNKNOWN;
  r->key_msg = m; /* the keys are made when asked for (rc__xreq_keys) */
  uint16_t bad;
  int repeated;
  xch_scan(r, m, x->fwd_to_app, &bad, &repeated);
  if (bad) {
    xch_req_put(x, r);
    return repeated == XCH_IGNORE ? xch_on_request_stripped(x, m, now)
                                  : xch_bad_option(x, NULL, m, bad, repeated);
  }
  if (x->ndeferred >= x->unanswered_max) {
    xch_req_put(x, r);
    return rc__xch_busy(x, m->token, m->token_len,
                        "too many requests in progress on this connection");
  }
  r->x = x;
  r->mem = x->mem;
  r->msg = m;
  r->token = m->token;
  r->token_len = m->token_len;
  if (x->nheld && rc__xheld_answer(x, r, m, now)) {
    xch_req_put(x, r);
    return RC_OK;
  }
  rc_msg whole;
  if (r->has_qb1 && r->has_b1) {
    /* RFC 9177 §4.1: Q-Block1 and Block1 are not to be mixed in one
     * request. */
    static const char diag[] = "Block1 and Q-Block1 in one request";
    rc_outmsg resp = {RC_BAD_REQUEST, NULL, 0, (const uint8_t *)diag,
                      sizeof diag - 1};
    xch_req_put(x, r);
    return xch_send(x, &resp, m->token, m->token_len);
  }
  if (r->nqb2 > 1 && !rc__xqb2_list_ok(r)) {
    /* RFC 9177 §4.4: the missing block numbers "MUST have an increasing
     * block number in each additional Q-Block2 Option with no
     * duplicates. The server SHOULD respond with a 4.00". */
    static const char diag[] = "Q-Block2 options not in increasing order";
    rc_outmsg resp = {RC_BAD_REQUEST, NULL, 0, (const uint8_t *)diag,
                      sizeof diag - 1};
    xch_req_put(x, r);
    return xch_send(x, &resp, m->token, m->token_len);
  }
  if (r->has_qb1 && m->code != RC_GET && m->code != RC_DELETE) {
    int st = rc__xqb1_request(x, r, m, &whole, now);
    if (st <= 0) {
      xch_req_put(x, r);
      return st < 0 ? (rc_err)st : RC_OK;
    }
    r->msg = &whole;
  } else if (r->has_b1 && m->code != RC_GET && m->code != RC_DELETE) {
    int st = rc__xsrv_block1(x, r, m, &whole, now);
    if (st <= 0) {
      xch_req_put(x, r);
      return st < 0 ? (rc_err)st : RC_OK;
    }
    r->msg = &whole;
  } else if (((r->has_b2 && r->b2.num > 0) ||
              (r->nqb2 && (r->nqb2 > 1 || r->qb2[0].num > 0 ||
                           !r->qb2[0].more))) &&
             rc__xsrv_from_cache(x, r, now)) {
    /* Q-Block2 0 with M set asks for the whole body afresh (RFC 9177
     * §4.4): the handler; any other Q-Block2 request is served from a
     * body under way when there is one. */
    xch_req_put(x, r);
    return RC_OK;
  }
  x->cb.on_request(x->user, x, r);
  if (r->msg == &whole)
    rc__xsrv_block1_done(x, r);
  r->msg = NULL;
  if (r->deferred && !r->answered) {
    rc__xreq_keys(r); /* while m is still there: its answer may need them */
    return RC_OK; /* the user holds it now */
  }
  rc_err err = RC_OK;
  if (!r->answered) {
    /* A handler that neither answered nor deferred would leave the client
     * waiting for its timeout: answer for it. */
    static const char diag[] = "handler gave no response";
    rc_outmsg resp = {RC_INTERNAL_SERVER_ERROR, NULL, 0,
                      (const uint8_t *)diag, sizeof diag - 1};
    err = xch_send(x, &resp, r->token, r->token_len);
    rc__xch_log(x, RC_SESSION_LOG_WARN, diag);
  }
  xch_req_put(x, r);
  return err;
}

/* The elective options below 64 with a length range narrower than 0-255
 * (RFC 7252 §5.4.3); of them, those whose range does not include 0-2. */
#define XCH_LEN_CHECKED                                                        \
  (XCH_BOUNDED | 1ull << RC_OPT_OBSERVE | 1ull << RC_OPT_SIZE2 |              \
   1ull << RC_OPT_SIZE1)
#define XCH_MIN_ABOVE0 (1ull << RC_OPT_ETAG | 1ull << RC_OPT_HOP_LIMIT)

/* One pass over a response's options: the first critical one that is
 * unrecognized (RFC 7252 §5.4.1), or recognized with a value length
 * outside its range (§5.4.3: "treated like an unrecognized option");
 * only an unsafe one when unsafe_only (a proxy keeps the safe ones,
 * §5.7.1). *ignore is set when a recognized elective one has such a
 * length (§5.4.1: ignored). */
static uint16_t xch_resp_scan(const rc_msg *m, int unsafe_only, int *ignore) {
  /* What the parser saw says there is nothing to find: no critical
   * option, none numbered 64 or more, and no bounded elective one, or
   * only values of at most 2 bytes where every bounded range reaches
   * from 0 to 2 (a plain 2.05 with Content-Format): no walk. */
  uint64_t b = m->opts_below64;
  if (m->opts_summary && !m->opts_over63 && m->opts_maxlen <= 255 &&
      !(b & ~XCH_EVEN_BELOW64) &&
      (!(b & XCH_LEN_CHECKED) ||
       (m->opts_maxlen <= 2 && !(b & XCH_MIN_ABOVE0))))
    return 0;
  rc_opt_iter it;
  rc_opt o;
  rc_opt_iter_init(&it, m);
  while (rc_opt_next(&it, &o)) {
    const rc_opt_def *d = xch_opt_def(m->code, o.num);
    if (d && rc_opt_check_def(d, &o) == RC_OK)
      continue;
    if (!rc_opt_is_critical(o.num)) {
      *ignore |= d != NULL;
      continue;
    }
    if (!unsafe_only || rc_opt_is_unsafe(o.num))
      return o.num;
  }
  return 0;
}

uint16_t rc_exchange_unknown_critical(const rc_msg *m, int unsafe_only) {
  int ignore = 0;
  return xch_resp_scan(m, unsafe_only, &ignore);
}

/*
 * RFC 7252 §5.4.1: "Unrecognized options of class "critical" that occur
 * in a Confirmable response, or piggybacked in an Acknowledgement, MUST
 * cause the response to be rejected (Section 4.2)." Over UDP the session
 * turns a separate CON response's ACK into a Reset and answers a NON one
 * with a Reset (rc_session_udp_reject; §4.3: "Rejecting a Non-confirmable
 * message MAY involve sending a matching Reset message"); a response
 * piggybacked in an ACK is ignored (§4.2); RFC 8323 §5.6: "For CoAP over
 * reliable transports, the recipient rejects such messages by sending an
 * Abort message and otherwise ignoring (not processing) the message." The
 * request (or observation) ends with RC_ERR_CRITICAL_OPTION and the
 * response it was not given, so that the user can say what came.
 */
static void xch_reject_response(rc_exchange *x, xout *o, const rc_msg *m,
                                uint16_t num) {
  char diag[96];
  snprintf(diag, sizeof diag,
           "response rejected: unrecognized critical option %u", num);
  rc__xch_log(x, RC_SESSION_LOG_WARN, diag);
  int reliable = rc_session_framing(x->s) != RC_FRAMING_UDP;
  if (!reliable)
    (void)rc_session_udp_reject(x->s, m->token, m->token_len);
  rc__xch_unlink(x, o);
  if (!o->blk) {
    rc_response_cb cb = o->cb;
    void *arg = o->arg;
    rc__xch_release_out(x, o);
    cb(arg, RC_ERR_CRITICAL_OPTION, m);
  } else if (o->blk->parent || o->blk->state == XCLI_DEREGISTERING) {
    rc__xcli_fail(x, o, RC_ERR_CRITICAL_OPTION);
  } else {
    rc__xcli_finish(x, o, RC_ERR_CRITICAL_OPTION, m);
  }
  if (reliable && !x->dead)
    (void)rc_session_abort(x->s, 0, diag);
}

static __attribute__((noinline)) void
xch_on_response(rc_exchange *x, const rc_msg *m, rc_time now) {
  xout *o = NULL;
  if (m->token_len == RC_EXCHANGE_TOKEN_LEN) {
    uint64_t key = xch_key(m->token);
    if (!(o = rc__xch_find(x, key)))
      o = rc__xch_find_alias(x, key);
  }
  if (!o) {
    /* RFC 7252 §5.3.2: "In case a message carrying a response is
     * unexpected (the client is not waiting for a response from the
     * identified endpoint, at the endpoint addressed, and/or with the
     * given token), the response is rejected (Sections 4.2 and 4.3)": on
     * UDP a CON or NON one gets a Reset (a piggybacked one is ignored),
     * and so an observation we ended stops at the server (RFC 7641 §3.6:
     * the client "will not recognize the token in the message and thus
     * will return a Reset message"). Reliable transports just drop it. */
    int rst = rc_session_framing(x->s) == RC_FRAMING_UDP &&
              rc_session_udp_reject(x->s, m->token, m->token_len) == RC_OK;
    rc__xch_log(x, RC_SESSION_LOG_DEBUG,
                rst ? "response with unknown token: Reset"
                    : "response with unknown token dropped");
    return;
  }
  int ignore = 0;
  uint16_t crit = xch_resp_scan(m, o->blk && o->blk->o.relay, &ignore);
  if (crit) {
    xch_reject_response(x, o, m, crit);
    return;
  }
  if (ignore) {
    /* its elective options of a malformed length go unread (xstrip.c) */
    rc_msg clean;
    uint8_t *buf;
    if (rc__xch_strip(x->mem, m, &clean, &buf) != RC_OK) {
      rc__xch_log(x, RC_SESSION_LOG_WARN, "response dropped: no memory");
      return;
    }
    rc__xch_log(x, RC_SESSION_LOG_DEBUG,
                "elective option of a malformed length in a response ignored");
    (void)rc_exchange_on_message(x, &clean, now);
    x->mem->free(buf, x->mem->user);
    return;
  }
  if (o->blk) {
    rc__xcli_on_response(x, o, m, now);
    return;
  }
  rc__xch_unlink(x, o);
  rc_response_cb cb = o->cb;
  void *arg = o->arg;
  rc__xch_release_out(x, o);
  cb(arg, RC_OK, m);
}

/* A plain request (the scan's shortcut: nothing to decode or refuse)
 * answered by on_plain without a request record, as xch_on_request and
 * xch_respond's fast path would answer it (but for on_output: the owner
 * is in its own input, rc_exchange_on_message): 1 when it must go the
 * usual way after all. */
static int xch_on_plain(rc_exchange *x, const rc_msg *m) {
  uint8_t code;
  const rc_msg_tail *t = x->cb.on_plain(x->user, m, &code);
  if (!t || t->len - t->opts_len > XCH_SMALL_BODY + 1 ||
      !rc_code_is_response(code))
    return 1;
  /* queued during the owner's own input: no on_output */
  return rc_session_send_tail(x->s, code, m->token, m->token_len, t) ==
         RC_ERR_PEER_TOO_LARGE; /* the handler is told, may answer smaller */
}

rc_err rc_exchange_on_message(rc_exchange *x, const rc_msg *m, rc_time now) {
  if (x->dead)
    return RC_ERR_CLOSED;
  x->now = now;
  if (rc_code_is_request(m->code)) {
    if (x->cb.on_plain && XCH_PLAIN_MSG(m) &&
        x->ndeferred < x->unanswered_max && !xch_on_plain(x, m))
      return RC_OK;
    return xch_on_request(x, m, now);
  }
  if (rc_code_is_response(m->code))
    xch_on_response(x, m, now);
  /* Other classes (1.xx, 3.xx, 6.xx) are reserved: RFC 7252 §5.8 gives
   * them no meaning, so they are ignored. */
  return RC_OK;
}

const rc_msg *rc_xreq_msg(const rc_xreq *req) { return req->msg; }

rc_exchange *rc_xreq_exchange(const rc_xreq *req) { return req->x; }

int rc_xreq_observe(const rc_xreq *req) { return req->obs_val; }

int rc_xreq_block2(const rc_xreq *req, rc_block *b) {
  if (req->has_b2 && b)
    *b = req->b2;
  return req->has_b2;
}

const uint8_t *rc_xreq_token(const rc_xreq *req, size_t *len) {
  *len = req->token_len;
  return req->token;
}

uint64_t rc_xreq_key(const rc_xreq *req) {
  rc__xreq_keys((rc_xreq *)req); /* made on first use (during on_request) */
  return req->key;
}

int rc_xreq_has_opt(const rc_xreq *req, uint16_t num) {
  rc_opt o;
  if (num < 64 && !req->cap) /* a capture's request was not scanned */
    return (int)(req->opts_seen >> num & 1);
  return req->msg && rc_msg_find_opt(req->msg, num, &o);
}

int rc_xreq_has_any(const rc_xreq *req, uint64_t mask) {
  if (!req->cap)
    return (req->opts_seen & mask) != 0;
  rc_opt_iter it; /* a capture's request was not scanned */
  rc_opt o;
  if (!req->msg)
    return 0;
  rc_opt_iter_init(&it, req->msg);
  while (rc_opt_next(&it, &o))
    if (o.num < 64 && (mask >> o.num & 1))
      return 1;
  return 0;
}

void rc_xreq_set_observe(rc_xreq *req, uint32_t seq) {
  req->obs_set = 1;
  req->obs_seq = seq & 0xFFFFFF;
}

uint8_t rc_xreq_response_code(const rc_xreq *req) { return req->resp_code; }

uint16_t rc_xreq_unknown_forwardable(const rc_xreq *req) {
  return req->fwd_unknown;
}

rc_err rc_xreq_refuse_option(rc_xreq *req, uint16_t num) {
  if (!req || !req->msg || !req->x || req->answered || req->cap)
    return RC_ERR_STATE;
  return xch_bad_option(req->x, req, req->msg, num, 0);
}

int rc_xreq_body_streamed(const rc_xreq *req) { return req->streamed; }

rc_err rc_xreq_defer(rc_xreq *req) {
  if (req->cap)
    return RC_ERR_STATE;
  if (req->deferred || req->answered || !req->x)
    return req->deferred ? RC_OK : RC_ERR_STATE;
  rc_exchange *x = req->x;
  if (req->token_len <= RC_TOKEN_MAX) {
    if (req->token_len) /* an empty token may be NULL */
      memcpy(req->tok, req->token, req->token_len);
    req->token = req->tok;
  } else {
    req->tok_heap = x->mem->malloc(req->token_len, x->mem->user);
    if (!req->tok_heap)
      return RC_ERR_NOMEM;
    memcpy(req->tok_heap, req->token, req->token_len);
    req->token = req->tok_heap;
  }
  req->code = req->msg ? req->msg->code : 0; /* for xheld.c */
  req->deferred = 1;
  req->prev = NULL;
  req->next = x->deferred;
  if (x->deferred)
    x->deferred->prev = req;
  x->deferred = req;
  x->ndeferred++;
  return RC_OK;
}

static void xch_undefer(rc_exchange *x, rc_xreq *req) {
  if (req->prev)
    req->prev->next = req->next;
  else
    x->deferred = req->next;
  if (req->next)
    req->next->prev = req->prev;
  x->ndeferred--;
}

/* Frees a deferred request whose exchange is gone (it was orphaned by
 * rc_exchange_fail_all / rc_exchange_free and is owned by the user). */
static void xch_free_orphan(rc_xreq *req) {
  const rc_mem *mem = req->mem;
  if (req->tok_heap)
    mem->free(req->tok_heap, mem->user);
  mem->free(req, mem->user);
}

/* After an answer went (err): on UDP, one to a POST, PATCH or iPATCH
 * that the amplification limit held back is kept for its repeat
 * (xheld.c). A pre-encoded tail (static resources) never is. */
static inline void xch_held_check(rc_exchange *x, rc_xreq *req,
                                  const rc_outmsg *resp,
                                  const rc_body_source *src, rc_err err) {
  if (x->udp && err == RC_OK &&
      rc__xheld_method(req->msg ? req->msg->code : req->code))
    rc__xheld_keep(x, req, resp, src);
}

/* The block-wise answer (xserver.c), out of xch_respond's fast path. */
static __attribute__((noinline)) rc_err
xch_respond_blocks(rc_exchange *x, rc_xreq *req, const rc_outmsg *resp) {
  rc_err err = rc__xsrv_respond(x, req, resp, NULL);
  xch_held_check(x, req, resp, NULL, err);
  return err;
}

static rc_err xch_respond(rc_xreq *req, const rc_outmsg *resp,
                          const rc_body_source *src, const rc_msg_tail *tail) {
  if (!req || !resp)
    return RC_ERR_INVAL;
  if (req->answered)
    return RC_ERR_STATE;
  if (req->cap) {
    if (!rc_code_is_response(resp->code))
      return RC_ERR_INVAL;
    req->answered = 1;
    req->resp_code = resp->code;
    return rc__xcap_store(req->cap, resp);
  }
  rc_exchange *x = req->x;
  if (!x) {
    xch_free_orphan(req);
    return RC_ERR_CLOSED;
  }
  if (!rc_code_is_response(resp->code))
    return RC_ERR_INVAL;
  rc_err err;
  if (x->dead)
    err = RC_ERR_CLOSED;
  else if (!src && !req->has_b2 && !req->has_b1 && !req->obs_set &&
           resp->payload_len <= XCH_SMALL_BODY) { /* the fast path */
    if (tail) {
      err = rc_session_send_tail(x->s, resp->code, req->token, req->token_len,
                                 tail);
      if (err == RC_OK && x->cb.on_output && !x->hold)
        x->cb.on_output(x->user);
    } else {
      err = xch_send(x, resp, req->token, req->token_len);
      xch_held_check(x, req, resp, NULL, err);
    }
    /* Whole, it is over the peer's Max-Message-Size (RFC 8323 §5.3.1,
     * the largest message it can receive): a body goes in blocks sized
     * to it, as a body over XCH_SMALL_BODY would (RFC 7959 §2.2 lets the
     * server choose Block2 for a request that named none), not back to
     * the handler, which mostly cannot answer smaller (a static one
     * never). */
    if (err == RC_ERR_PEER_TOO_LARGE && resp->payload_len)
      err = xch_respond_blocks(x, req, resp);
  } else {
    err = rc__xsrv_respond(x, req, resp, src);
    xch_held_check(x, req, resp, src, err);
  }
  if (err == RC_ERR_PEER_TOO_LARGE)
    return err; /* the caller may answer again, smaller */
  req->answered = 1;
  req->resp_code = resp->code;
  if (req->deferred) {
    xch_undefer(x, req);
    xch_req_put(x, req);
    if (x->ndeferred == 0 && !x->dead)
      rc_session_custody_ready(x->s);
  }
  return err;
}

rc_err rc_exchange_respond(rc_xreq *req, const rc_outmsg *resp) {
  return xch_respond(req, resp, NULL, NULL);
}

rc_err rc_exchange_respond_tail(rc_xreq *req, const rc_outmsg *resp,
                                const rc_msg_tail *tail) {
  return xch_respond(req, resp, NULL, tail);
}

rc_err rc_exchange_respond_source(rc_xreq *req, const rc_outmsg *resp,
                                  const rc_body_source *src) {
  if (!src || !src->read || src->size == RC_BODY_SIZE_UNKNOWN) {
    if (src && src->close)
      src->close(src->arg);
    return RC_ERR_INVAL;
  }
  rc_err err = xch_respond(req, resp, src, NULL);
  if (src->close)
    src->close(src->arg);
  return err;
}

void rc_xreq_drop(rc_xreq *req) {
  if (!req || !req->deferred || req->answered)
    return;
  rc_exchange *x = req->x;
  if (!x) {
    xch_free_orphan(req);
    return;
  }
  req->answered = 1;
  xch_undefer(x, req);
  xch_req_put(x, req);
}

void *rc_exchange_user(const rc_exchange *x) { return x->user; }

size_t rc_exchange_outstanding(const rc_exchange *x) { return x->nout; }

size_t rc_exchange_unanswered(const rc_exchange *x) { return x->ndeferred; }

int rc_exchange_idle(const rc_exchange *x) {
  return x->nout == 0 && x->ndeferred == 0 && x->ups == NULL &&
         rc__xsrv_expiry(x) == RC_TIME_NEVER;
}

rc_time rc_exchange_expiry(const rc_exchange *x) {
  /* nothing out, cached or being uploaded (every small request) */
  if (!x->head && !x->cache && !x->ups)
    return RC_TIME_NEVER;
  rc_time t = x->head ? x->head->deadline : RC_TIME_NEVER;
  rc_time s = rc__xsrv_expiry(x);
  return s < t ? s : t;
}

/* Fails o (unlinked) with status. */
static void xch_fail_out(rc_exchange *x, xout *o, rc_err status) {
  if (o->blk) {
    rc__xcli_fail(x, o, status);
    return;
  }
  rc_response_cb cb = o->cb;
  void *arg = o->arg;
  rc__xch_release_out(x, o);
  cb(arg, status, NULL);
}

void rc_exchange_handle_expiry(rc_exchange *x, rc_time now) {
  x->now = now;
  while (x->head && x->head->deadline <= now) {
    xout *o = x->head;
    if (o->blk && o->blk->qb_on && rc__xqcli_on_timer(x, o, now))
      continue; /* a Q-Block step: o is rearmed later */
    rc__xch_unlink(x, o);
    xch_fail_out(x, o, RC_ERR_TIMEOUT);
  }
  rc__xsrv_expire(x, now);
}

void rc_exchange_lost(rc_exchange *x, const uint8_t *token, size_t token_len,
                      rc_err reason) {
  if (token_len != RC_EXCHANGE_TOKEN_LEN)
    return;
  uint64_t key = xch_key(token);
  xout *o = rc__xch_find(x, key);
  if (!o)
    o = rc__xch_find_alias(x, key);
  if (!o)
    return;
  if (reason == RC_ERR_CONN_RESET && o->blk && o->blk->qb_on &&
      rc__xqcli_on_reset(x, o, x->now))
    return;
  rc__xch_unlink(x, o);
  xch_fail_out(x, o, reason);
}

void rc_exchange_fail_all(rc_exchange *x, rc_err reason) {
  x->dead = 1;
  while (x->head) {
    xout *o = x->head;
    rc__xch_unlink(x, o);
    xch_fail_out(x, o, reason);
  }
  rc__xsrv_free_all(x, reason);
  /* Deferred requests belong to their handlers until answered or dropped:
   * orphan them, so that those calls free them without touching x. */
  while (x->deferred) {
    rc_xreq *r = x->deferred;
    xch_undefer(x, r);
    r->x = NULL;
  }
}

void rc_exchange_free(rc_exchange *x) {
  if (!x)
    return;
  if (!x->dead)
    rc_exchange_fail_all(x, RC_ERR_CANCELLED);
  for (xout *o = x->free_out; o;) {
    xout *n = o->next;
    x->mem->free(o, x->mem->user);
    o = n;
  }
  x->mem->free(x->buckets, x->mem->user);
  x->mem->free(x, x->mem->user);
}
