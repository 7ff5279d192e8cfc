/*
 * The server half of block-wise transfer and observe: answers sliced into
 * Block2 (RFC 7959 §2.4) or BERT (RFC 8323 §6) sized to the peer, with
 * ETag and Size2; a small per-exchange cache of bodies so that the next
 * blocks of a generated body are served without calling the handler again
 * (entries expire, and the cache is bounded in slots and bytes); Block1
 * uploads reassembled or streamed into a sink (RFC 7959 §2.5, 2.31
 * Continue, 4.08, 4.13 with Size1, Request-Tag in the key); notifications
 * (RFC 7641 §4.2) and captured answers rendered once for many observers.
 */
#include <stdio.h>
#include <string.h>

#include "exchange_int.h"

void rc_exchange_block_config_default(rc_exchange_block_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->max_szx = 6;
  cfg->bert = 1;
  cfg->bert_max = 4u * 1024u * 1024u;
  cfg->body_max = 64u * 1024u * 1024u;
  cfg->cache_max = 256u * 1024u * 1024u;
  cfg->ttl_ms = RC_EXCHANGE_BLOCK_TTL_MS;
  cfg->uploads_max = 8;
}

rc_err rc_exchange_set_block_config(rc_exchange *x,
                                    const rc_exchange_block_config *cfg) {
  if (!x || !cfg || cfg->max_szx > 6 || cfg->bert_max < 1024 ||
      cfg->ttl_ms == 0 || cfg->uploads_max == 0 ||
      (cfg->unrequested_max && cfg->unrequested_max < 16))
    return RC_ERR_INVAL;
  x->bcfg = *cfg;
  x->bcfg.bert_max &= ~1023u;
  return RC_OK;
}

rc_err rc_exchange_set_budget(rc_exchange *x, rc_budget *b) {
  if (!x)
    return RC_ERR_INVAL;
  if (x->cache_bytes || x->ups)
    return RC_ERR_STATE; /* what is held was not taken from b */
  x->budget = b;
  return RC_OK;
}

/* A fast 64-bit hash of a body, for the ETag of a generated body (only
 * computed when the body goes out block-wise). */
uint64_t rc__xch_hash_body(const uint8_t *p, size_t n) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  for (; i < n; i++)
    h = (h ^ p[i]) * 0x100000001b3ull;
  h ^= h >> 29;
  return h * 0xc4ceb9fe1a85ec53ull;
}

/* ---- the body cache --------------------------------------------------- */

void rc__xsrv_cache_drop(rc_exchange *x, xcache *c) {
  if (c->amp_held)
    x->nheld--;
  if (c->blob) {
    x->mem->free(c->blob, x->mem->user);
    x->cache_bytes -= c->blob_size;
    rc_budget_give(x->budget, c->blob_size);
  }
  memset(c, 0, sizeof *c);
}

xcache *rc__xsrv_cache_find(rc_exchange *x, uint64_t key, rc_time now) {
  if (!x->cache)
    return NULL;
  for (size_t i = 0; i < RC_EXCHANGE_CACHE_SLOTS; i++) {
    xcache *c = &x->cache[i];
    if (!c->expires)
      continue;
    if (c->expires <= now) {
      rc__xsrv_cache_drop(x, c);
      continue;
    }
    if (c->key == key)
      return c;
  }
  return NULL;
}

/* The one live entry whose request, without its Request-Tag, had key: a
 * client that leaves the tag out of the Block2 requests after its upload
 * still gets the answer to that upload, unless several uploads' answers
 * match (then none: the handler decides). */
static xcache *cache_find_untagged(rc_exchange *x, uint64_t key,
                                   rc_time now) {
  xcache *found = NULL;
  for (size_t i = 0; x->cache && i < RC_EXCHANGE_CACHE_SLOTS; i++) {
    xcache *c = &x->cache[i];
    if (!c->expires || c->expires <= now || c->key_untagged != key)
      continue;
    if (found)
      return NULL;
    found = c;
  }
  return found;
}

/* The next put or use in x's cache, after every live entry's (kept in
 * the entries, not in the exchange: an idle one stays as small). */
static uint32_t cache_tick(const rc_exchange *x) {
  uint32_t t = 0;
  for (size_t i = 0; i < RC_EXCHANGE_CACHE_SLOTS; i++)
    if (x->cache[i].expires && (int32_t)(x->cache[i].used - t) > 0)
      t = x->cache[i].used;
  return t + 1;
}

/* Whether cache entry a goes before b: it expires first, or as b does
 * (answers given in one read have one time) and was used before. Not by
 * slot order: evicting by that could drop the entry just used, and
 * answers would hang on how requests fell into reads. */
static int cache_before(const xcache *a, const xcache *b) {
  return a->expires < b->expires ||
         (a->expires == b->expires && (int32_t)(a->used - b->used) < 0);
}

/* Keeps a copy of an answer under key (replacing one with the same key).
 * Returns the entry, or NULL when it cannot be kept (too big, no memory):
 * the next block then calls the handler again. */
xcache *rc__xsrv_cache_put(rc_exchange *x, const xanswer *a,
                           const rc_outmsg *m, const uint8_t etag[8],
                           uint8_t etag_len, rc_time now) {
  uint64_t key = a->key;
  size_t vals = 0;
  for (size_t i = 0; i < m->nopts; i++)
    vals += m->opts[i].len;
  size_t size = m->nopts * sizeof(rc_opt) + vals + m->payload_len;
  if (size > x->bcfg.cache_max)
    return NULL;
  if (!x->cache) {
    size_t n = RC_EXCHANGE_CACHE_SLOTS * sizeof(xcache);
    if (!(x->cache = x->mem->malloc(n, x->mem->user)))
      return NULL;
    memset(x->cache, 0, n);
  }
  xcache *slot = rc__xsrv_cache_find(x, key, now);
  if (slot)
    rc__xsrv_cache_drop(x, slot);
  /* Free slot, else evict the entry that expires first; then make room. */
  for (size_t i = 0; !slot && i < RC_EXCHANGE_CACHE_SLOTS; i++)
    if (!x->cache[i].expires)
      slot = &x->cache[i];
  if (!slot) {
    slot = &x->cache[0];
    for (size_t i = 1; i < RC_EXCHANGE_CACHE_SLOTS; i++)
      if (cache_before(&x->cache[i], slot))
        slot = &x->cache[i];
    rc__xsrv_cache_drop(x, slot);
  }
  while (x->cache_bytes + size > x->bcfg.cache_max) {
    xcache *old = NULL;
    for (size_t i = 0; i < RC_EXCHANGE_CACHE_SLOTS; i++)
      if (x->cache[i].expires && (!old || cache_before(&x->cache[i], old)))
        old = &x->cache[i];
    if (!old)
      break;
    rc__xsrv_cache_drop(x, old);
  }
  if (rc_budget_take(x->budget, size) != RC_OK)
    return NULL;
  uint8_t *blob = x->mem->malloc(size ? size : 1, x->mem->user);
  if (!blob) {
    rc_budget_give(x->budget, size);
    return NULL;
  }
  slot->blob = blob;
  slot->blob_size = size;
  x->cache_bytes += size;
  slot->opts = (rc_opt *)blob;
  uint8_t *v = blob + m->nopts * sizeof(rc_opt);
  for (size_t i = 0; i < m->nopts; i++) {
    slot->opts[i] = m->opts[i];
    if (m->opts[i].len)
      memcpy(v, m->opts[i].val, m->opts[i].len);
    slot->opts[i].val = v;
    v += m->opts[i].len;
  }
  slot->nopts = m->nopts;
  if (m->payload_len)
    memcpy(v, m->payload, m->payload_len);
  slot->body = v;
  slot->len = m->payload_len;
  slot->key = key;
  slot->key_untagged = a->key_untagged;
  slot->code = m->code;
  memcpy(slot->etag, etag, etag_len);
  slot->etag_len = etag_len;
  slot->used = cache_tick(x); /* slot is free (expires 0) until here */
  slot->expires = now + x->bcfg.ttl_ms;
  return slot;
}

/* ---- Block2 answers ---------------------------------------------------- */

static void answer_from_req(xanswer *a, const rc_xreq *r) {
  a->token = r->token;
  a->token_len = r->token_len;
  a->key = rc_xreq_key(r); /* makes key_untagged too */
  a->key_untagged = r->key_untagged;
  a->has_b2 = r->has_b2;
  a->b2 = r->b2;
  a->size2_req = r->size2_req;
  a->obs_set = r->obs_set;
  a->obs_seq = r->obs_seq;
  a->has_b1 = r->has_b1;
  a->b1 = r->b1;
  a->nqb2 = r->nqb2;
  memcpy(a->qb2, r->qb2, r->nqb2 * sizeof r->qb2[0]);
}

static int opts_find(const rc_opt *opts, size_t n, uint16_t num,
                     const rc_opt **out) {
  for (size_t i = 0; i < n; i++)
    if (opts[i].num == num) {
      *out = &opts[i];
      return 1;
    }
  return 0;
}

size_t rc__xsrv_overhead(const xanswer *a, const rc_outmsg *m) {
  return a->token_len + rc__xch_opts_size(m->opts, m->nopts) + 64 + 16;
}

/* The most payload one BERT message of this body carries: bert_file_kib
 * KiB when its blocks go out as file runs (held nowhere here), else
 * bert_max. Any multiple of 1024 will do: RFC 8323 §6, "For non-final
 * BERT blocks, the payload is always a multiple of 1024 bytes"; the
 * caller keeps it within the peer's Max-Message-Size (§5.3.1). */
static size_t answer_bert_max(const rc_exchange *x,
                              const rc_body_source *src) {
  if (x->bcfg.bert_file_kib && src && src->file && rc_session_files(x->s) &&
      src->file(src->arg) >= 0)
    return (size_t)x->bcfg.bert_file_kib * 1024u;
  return x->bcfg.bert_max;
}

/*
 * Sends the answer m (body from m->payload, or src of size total) for a:
 * whole when it fits and no Block2 was asked for, else the block a asks
 * for. cached: the body comes from the cache entry (do not cache again).
 */
static rc_err answer_send(rc_exchange *x, const xanswer *a,
                          const rc_outmsg *m, const rc_body_source *src,
                          uint64_t total, xcache *cached, rc_time now,
                          int *more_out) {
  xextra ex;
  memset(&ex, 0, sizeof ex);
  int success = RC_CODE_CLASS(m->code) == 2;
  const rc_opt *user_b2 = NULL;
  int manual = opts_find(m->opts, m->nopts, RC_OPT_BLOCK2, &user_b2);
  /* RFC 9177: a client that sent Q-Block2 gets the body in sets. */
  if (a->nqb2 && success && !manual)
    return rc__xqb2_answer(x, a, m, src, total, cached, now);
  if (a->obs_set && success)
    rc__xx_add_uint(&ex, RC_OPT_OBSERVE, a->obs_seq);
  if (a->has_b1)
    rc__xx_add_block(&ex, RC_OPT_BLOCK1, &a->b1);
  uint32_t mms = rc_session_peer_max_msg_size(x->s);
  size_t overhead = rc__xsrv_overhead(a, m);
  /* The client named no block size: the operator's cap on the payload
   * such a client gets in one message (peers that cannot take what their
   * CSM announces), whole bodies and first blocks alike. */
  size_t cap = a->has_b2 ? 0 : x->bcfg.unrequested_max;
  size_t bert_max = answer_bert_max(x, src);
  if (manual || !success ||
      (!a->has_b2 && total + overhead <= mms && total <= bert_max &&
       (!cap || total <= cap))) {
    if (total > SIZE_MAX)
      return RC_ERR_TOO_LARGE;
    return rc__xch_send_full(x, m->code, a->token, a->token_len, m->opts,
                             m->nopts, &ex, m->payload, (size_t)total, src, 0);
  }
  /* Block size: the request's SZX when smaller than ours ("the server's
   * smaller SZX wins"); BERT only when the peer offered it in its CSM
   * (RFC 8323 §6: "the use of this new extension is signaled by sending
   * Block1 or Block2 Options with SZX == 7") and asked for BERT or nothing. */
  uint64_t off = a->has_b2 ? rc_block_offset(&a->b2) : 0;
  int bert = x->bcfg.bert && rc_session_peer_bert(x->s) &&
             (!a->has_b2 || a->b2.szx == RC_BLOCK_SZX_BERT);
  /* Under the cap, no BERT: the client asks for the next blocks with the
   * SZX of the first, and a BERT SZX would let them grow past the cap. */
  if (cap)
    bert = 0;
  size_t chunk = 0;
  uint8_t szx = 6;
  if (bert) {
    size_t room = mms > overhead ? mms - overhead : 0;
    chunk = room < bert_max ? room : bert_max;
    chunk &= ~(size_t)1023;
    if (chunk < 1024)
      bert = 0;
    else
      szx = RC_BLOCK_SZX_BERT;
  }
  if (!bert) {
    szx = x->bcfg.max_szx;
    if (a->has_b2 && a->b2.szx < szx)
      szx = a->b2.szx;
    while (szx > 0 && (((size_t)16 << szx) + overhead > mms ||
                       (cap && ((size_t)16 << szx) > cap)))
      szx--;
    chunk = (size_t)16 << szx;
  }
  if (off >= total && !(off == 0 && total == 0)) {
    /* RFC 7959 §2.2: a block number beyond the body cannot be served. */
    static const char diag[] = "block beyond the end of the body";
    rc_outmsg bad = {RC_BAD_OPTION, NULL, 0, (const uint8_t *)diag,
                     sizeof diag - 1};
    return rc__xch_send_full(x, bad.code, a->token, a->token_len, NULL, 0,
                             NULL, bad.payload, bad.payload_len, NULL, 0);
  }
  size_t len = total - off < chunk ? (size_t)(total - off) : chunk;
  rc_block b = {(uint32_t)(off / rc_block_size(szx)), off + len < total, szx};
  if (b.num > RC_BLOCK_NUM_MAX)
    return RC_ERR_TOO_LARGE;
  rc__xx_add_block(&ex, RC_OPT_BLOCK2, &b);
  if (more_out)
    *more_out = b.more;
  /* RFC 7959 §4: Size2 "in a response, indicates the size of the resource
   * representation"; sent with the first block and when asked. */
  if ((off == 0 || a->size2_req) && total <= UINT32_MAX)
    rc__xx_add_uint(&ex, RC_OPT_SIZE2, total);
  /* An ETag on every block lets the client see a changed representation
   * (RFC 7959 §2.4). */
  const rc_opt *user_etag = NULL;
  uint8_t etag[8];
  uint8_t etag_len = 0;
  if (!opts_find(m->opts, m->nopts, RC_OPT_ETAG, &user_etag)) {
    if (cached && cached->etag_len) {
      memcpy(etag, cached->etag, cached->etag_len);
      etag_len = cached->etag_len;
    } else if (!src) {
      uint64_t h = rc__xch_hash_body(m->payload, m->payload_len);
      for (int i = 0; i < 8; i++)
        etag[i] = (uint8_t)(h >> (56 - 8 * i));
      etag_len = 8;
    }
    if (etag_len)
      rc__xx_add(&ex, RC_OPT_ETAG, etag, etag_len);
  }
  rc_err err = rc__xch_send_full(x, m->code, a->token, a->token_len, m->opts,
                                 m->nopts, &ex,
                                 src ? NULL : m->payload + off, len, src, off);
  if (err == RC_OK && !src && b.more && !cached)
    rc__xsrv_cache_put(x, a, m, etag, etag_len, now);
  return err;
}

rc_err rc__xsrv_respond(rc_exchange *x, rc_xreq *r, const rc_outmsg *resp,
                        const rc_body_source *src) {
  xanswer a;
  answer_from_req(&a, r);
  return answer_send(x, &a, resp, src, src ? src->size : resp->payload_len,
                     NULL, x->now, NULL);
}

int rc__xsrv_send_cached(rc_exchange *x, rc_xreq *r, xcache *c,
                         rc_time now) {
  xanswer a;
  answer_from_req(&a, r);
  a.obs_set = 0;
  rc_outmsg m = {c->code, c->opts, c->nopts, c->body, c->len};
  int more = 1;
  rc_err err = answer_send(x, &a, &m, NULL, c->len, c, now, &more);
  if (err)
    rc__xch_log(x, RC_SESSION_LOG_WARN, "cannot send a cached block");
  /* the last block went out: the transfer is over (Q-Block2 keeps it for
   * the missing ones) */
  return more || a.nqb2;
}

int rc__xsrv_from_cache(rc_exchange *x, rc_xreq *r, rc_time now) {
  rc__xreq_keys(r);
  xcache *c = rc__xsrv_cache_find(x, r->key, now);
  if (!c && !r->has_rtag)
    c = cache_find_untagged(x, r->key, now);
  if (!c)
    return 0;
  c->expires = now + x->bcfg.ttl_ms;
  c->used = cache_tick(x);
  if (!rc__xsrv_send_cached(x, r, c, now))
    rc__xsrv_cache_drop(x, c);
  return 1;
}

/* ---- notifications ------------------------------------------------------ */

/* A notification small enough to need no block-wise check (the answer
 * rc_exchange_notify gives without Block2). */
static int notify_small(const rc_outmsg *resp) {
  return resp->payload_len <= 1024 && resp->nopts <= 8;
}

/* Whether a notification may go out on x: RC_OK, RC_ERR_CLOSED or
 * RC_ERR_STATE. */
static rc_err notify_gate(const rc_exchange *x) {
  if (x->dead)
    return RC_ERR_CLOSED;
  /* RFC 8323 §5.5: a Release means the connection is ending ("the peer
   * might close the connection at any time"); a notification is new
   * traffic that answers nothing in flight, so none goes out after a
   * Release in either direction. The client moves its observation to a
   * new connection instead. */
  if (rc_session_get_state(x->s) == RC_SESSION_RELEASING)
    return RC_ERR_STATE;
  return RC_OK;
}

rc_err rc_exchange_notify(rc_exchange *x, const uint8_t *token,
                          size_t token_len, uint64_t key, uint32_t seq,
                          const rc_outmsg *resp) {
  if (!x || !resp || !rc_code_is_response(resp->code))
    return RC_ERR_INVAL;
  rc_err gate = notify_gate(x);
  if (gate)
    return gate;
  xanswer a;
  memset(&a, 0, sizeof a);
  a.token = token;
  a.token_len = token_len;
  a.key = a.key_untagged = key;
  a.obs_set = 1;
  a.obs_seq = seq & 0xFFFFFF;
  if (notify_small(resp)) {
    /* Small notifications: no block-wise check needed. */
    xextra ex;
    memset(&ex, 0, sizeof ex);
    if (RC_CODE_CLASS(resp->code) == 2)
      rc__xx_add_uint(&ex, RC_OPT_OBSERVE, a.obs_seq);
    rc_err err = rc__xch_send_full(x, resp->code, token, token_len,
                                   resp->opts, resp->nopts, &ex,
                                   resp->payload, resp->payload_len, NULL, 0);
    /* Whole, it is over the peer's Max-Message-Size: its first block
     * with Block2 (and Observe), the rest from the cache when the client
     * asks (RFC 7959 §2.2, RFC 7641 §4.2 with block-wise), as for a
     * longer body; not nothing. */
    if (err != RC_ERR_PEER_TOO_LARGE || !resp->payload_len)
      return err;
  }
  return answer_send(x, &a, resp, NULL, resp->payload_len, NULL, x->now,
                     NULL);
}

/* ---- Block1 uploads ----------------------------------------------------- */

xup *rc__xsrv_up_find(rc_exchange *x, uint64_t key) {
  for (xup *u = x->ups; u; u = u->next)
    if (u->key == key)
      return u;
  return NULL;
}

void rc__xsrv_up_free(rc_exchange *x, xup *u, rc_err reason) {
  xup **pp = &x->ups;
  while (*pp && *pp != u)
    pp = &(*pp)->next;
  if (*pp) {
    *pp = u->next;
    x->nups--;
  }
  if ((u->has_sink || u->blocks) && u->sink.end)
    u->sink.end(u->sink.arg, reason);
  rc_budget_give(x->budget, u->cap);
  x->mem->free(u->buf, x->mem->user);
  x->mem->free(u->qb_have, x->mem->user);
  x->mem->free(u, x->mem->user);
}

static rc_err up_answer(rc_exchange *x, const rc_msg *m, uint8_t code,
                        const rc_block *b1, uint64_t size1,
                        const char *diag) {
  xextra ex;
  memset(&ex, 0, sizeof ex);
  if (b1)
    rc__xx_add_block(&ex, RC_OPT_BLOCK1, b1);
  if (size1 != RC_BODY_SIZE_UNKNOWN && size1 <= UINT32_MAX)
    rc__xx_add_uint(&ex, RC_OPT_SIZE1, size1);
  return rc__xch_send_full(x, code, m->token, m->token_len, NULL, 0, &ex,
                           (const uint8_t *)diag, diag ? strlen(diag) : 0,
                           NULL, 0);
}

rc_err rc__xsrv_up_reserve(rc_exchange *x, xup *u, size_t need) {
  if (need <= u->cap)
    return RC_OK;
  size_t cap = u->cap ? u->cap : 4096;
  while (cap < need)
    cap *= 2;
  if (cap > u->limit && u->limit >= need)
    cap = (size_t)u->limit;
  /* Growth comes from the shared budget: doubled if it allows, else
   * exactly what this block needs, else RC_ERR_LIMIT. */
  size_t held = u->cap;
  if (!(cap = rc_budget_grow(x->budget, &held, cap, need)))
    return RC_ERR_LIMIT;
  uint8_t *nb = x->mem->malloc(cap, x->mem->user);
  if (!nb) {
    rc_budget_give(x->budget, cap - u->cap);
    return RC_ERR_NOMEM;
  }
  if (u->off)
    memcpy(nb, u->buf, (size_t)u->off);
  x->mem->free(u->buf, x->mem->user);
  u->buf = nb;
  u->cap = cap;
  return RC_OK;
}

static rc_err up_append(rc_exchange *x, xup *u, const uint8_t *p, size_t n) {
  if (n == 0)
    return RC_OK;
  if (u->has_sink) {
    rc_err err = u->sink.write(u->sink.arg, u->off, p, n, u->limit);
    if (err)
      return err;
    u->off += n;
    return RC_OK;
  }
  rc_err err = rc__xsrv_up_reserve(x, u, (size_t)u->off + n);
  if (err)
    return err;
  memcpy(u->buf + u->off, p, n);
  u->off += n;
  return RC_OK;
}

rc_err rc_xreq_body_sink(rc_xreq *req, const rc_body_sink *sink) {
  if (!req || !req->in_body_start || !req->up || !sink || !sink->write)
    return RC_ERR_STATE;
  req->up->sink = *sink;
  req->up->has_sink = 1;
  return RC_OK;
}

rc_err rc_xreq_body_blocks(rc_xreq *req, void (*end)(void *arg, rc_err status),
                           void *arg) {
  if (!req || !req->in_body_start || !req->up || req->has_qb1)
    return RC_ERR_STATE;
  req->up->blocks = 1;
  req->up->has_sink = 0;
  req->up->sink = (rc_body_sink){NULL, end, arg};
  req->up->limit = UINT64_MAX; /* nothing is held here */
  return RC_OK;
}

void *rc_xreq_upload_arg(const rc_xreq *req) {
  if (!req || !req->x || !req->has_b1)
    return NULL;
  xup *u = req->up ? req->up : rc__xsrv_up_find(req->x, rc_xreq_key(req));
  return u && u->blocks ? u->sink.arg : NULL;
}

rc_err rc_xreq_body_limit(rc_xreq *req, uint64_t max) {
  if (!req || !req->in_body_start || !req->up)
    return RC_ERR_STATE;
  req->up->limit = max;
  return RC_OK;
}

/* What a request's Block1 block is, given the upload under way for its
 * token (if any); rc__xsrv_block1 has one handler per kind. */
typedef enum b1_kind {
  B1_SINGLE,       /* NUM 0 and no more: an ordinary request */
  B1_FIRST,        /* NUM 0 with more to come: a new upload */
  B1_NEXT,         /* the block the upload expects next */
  B1_OUT_OF_ORDER  /* any other block */
} b1_kind;

static b1_kind b1_kind_of(const rc_block *b, const xup *u) {
  if (b->num == 0)
    return b->more ? B1_FIRST : B1_SINGLE;
  return u && u->off == rc_block_offset(b) ? B1_NEXT : B1_OUT_OF_ORDER;
}

/* rc__xsrv_block1's result once an answer went out (or failed to). */
static int b1_answered(rc_err err) { return err ? (int)err : 0; }

/* The last block: on_request sees the whole body. */
static int b1_last(rc_xreq *r, xup *u, const rc_msg *m, rc_msg *whole) {
  *whole = *m;
  if (u->has_sink) {
    whole->payload = NULL;
    whole->payload_len = 0;
    r->streamed = 1;
    if (u->sink.end)
      u->sink.end(u->sink.arg, RC_OK);
    u->has_sink = 0;
  } else {
    whole->payload = u->off ? u->buf : NULL;
    whole->payload_len = (size_t)u->off;
  }
  r->up = u; /* freed by rc__xsrv_block1_done */
  return 1;
}

/* The block the upload u expects: stored, then 2.31 or the whole body. */
int rc__xsrv_up_refused(rc_exchange *x, xup *u, const rc_msg *m, rc_err err,
                        uint64_t need) {
  rc__xsrv_up_free(x, u, err);
  if (err == RC_ERR_ENTITY_TOO_LARGE)
    return b1_answered(up_answer(x, m, RC_REQUEST_ENTITY_TOO_LARGE, NULL,
                                 need, "body too large"));
  if (err == RC_ERR_LIMIT) {
    /* The shared budget refused: never (4.13, with the most we could
     * ever hold in Size1) or not now (5.03, retry later). */
    size_t lim = rc_budget_limit(x->budget);
    if (need > lim)
      return b1_answered(
          up_answer(x, m, RC_REQUEST_ENTITY_TOO_LARGE, NULL, lim,
                    "body larger than the server's memory for bodies"));
    return b1_answered(rc__xch_busy(x, m->token, m->token_len,
                                    "the server's memory for bodies is in "
                                    "use"));
  }
  return b1_answered(up_answer(
      x, m,
      err == RC_ERR_NOMEM ? RC_SERVICE_UNAVAILABLE : RC_INTERNAL_SERVER_ERROR,
      NULL, RC_BODY_SIZE_UNKNOWN, "cannot store the body"));
}

/* The block the upload u expects: stored, then 2.31 or the whole body. */
static int b1_next(rc_exchange *x, rc_xreq *r, xup *u, const rc_msg *m,
                   rc_msg *whole, rc_time now) {
  if (u->blocks) {
    /* Handed on as it is: the handler answers it (2.31 to go on). */
    u->off += m->payload_len;
    u->expires = now + x->bcfg.ttl_ms;
    *whole = *m;
    if (!r->b1.more)
      r->up = u; /* the last: freed by rc__xsrv_block1_done */
    return 1;
  }
  if (u->off + m->payload_len > u->limit)
    return rc__xsrv_up_refused(x, u, m, RC_ERR_ENTITY_TOO_LARGE, u->limit);
  rc_err err = up_append(x, u, m->payload, m->payload_len);
  if (err)
    return rc__xsrv_up_refused(x, u, m, err, u->off + m->payload_len);
  u->expires = now + x->bcfg.ttl_ms;
  if (!r->b1.more)
    return b1_last(r, u, m, whole);
  /* RFC 7959 §2.3: 2.31 Continue "indicates that the transfer of this
   * block of the request body was successful"; Block1 echoes the block
   * (for BERT the NUM and SZX of the request, RFC 8323 Figure 11). */
  return b1_answered(
      up_answer(x, m, RC_CONTINUE, &r->b1, RC_BODY_SIZE_UNKNOWN, NULL));
}

/* A new upload, unless the connection has too many, the application
 * refuses it, or its Size1 is over the limit. */
int rc__xsrv_up_start(rc_exchange *x, rc_xreq *r, const rc_msg *m,
                      xup **out) {
  if (x->nups >= x->bcfg.uploads_max)
    return b1_answered(rc__xch_busy(x, m->token, m->token_len,
                                    "too many uploads in progress on this "
                                    "connection"));
  xup *u = x->mem->malloc(sizeof *u, x->mem->user);
  if (!u)
    return RC_ERR_NOMEM;
  memset(u, 0, sizeof *u);
  u->key = rc_xreq_key(r);
  u->limit = x->bcfg.body_max;
  u->next = x->ups;
  x->ups = u;
  x->nups++;
  if (x->cb.on_body_start) {
    r->up = u;
    r->in_body_start = 1;
    x->cb.on_body_start(x->user, x, r);
    r->in_body_start = 0;
    r->up = NULL;
    if (r->answered || r->deferred) {
      /* Refused (or held) by the application: no upload. */
      if (r->deferred && !r->answered) {
        rc__xch_log(x, RC_SESSION_LOG_WARN,
                    "on_body_start may not defer; answered 5.00");
        rc_outmsg e = {RC_INTERNAL_SERVER_ERROR, NULL, 0, NULL, 0};
        rc_exchange_respond(r, &e);
      }
      u->has_sink = 0; /* the sink never started */
      rc__xsrv_up_free(x, u, RC_ERR_CANCELLED);
      return 0;
    }
  }
  /* RFC 7959 §4: Size1 "in a request carrying a Block1 Option, indicates
   * the size of the resource representation"; a body over the limit is
   * refused at once with 4.13 and the limit in Size1. */
  if (r->size1 != RC_BODY_SIZE_UNKNOWN && r->size1 > u->limit)
    return rc__xsrv_up_refused(x, u, m, RC_ERR_ENTITY_TOO_LARGE, u->limit);
  *out = u;
  return 1;
}

/* NUM 0 with more to come: a new upload. */
static int b1_first(rc_exchange *x, rc_xreq *r, const rc_msg *m,
                    rc_msg *whole, rc_time now) {
  xup *u = NULL;
  int st = rc__xsrv_up_start(x, r, m, &u);
  if (st <= 0)
    return st;
  return b1_next(x, r, u, m, whole, now);
}

int rc__xsrv_block1(rc_exchange *x, rc_xreq *r, const rc_msg *m,
                    rc_msg *whole, rc_time now) {
  xup *u = rc__xsrv_up_find(x, rc_xreq_key(r));
  switch (b1_kind_of(&r->b1, u)) {
  case B1_SINGLE:
    if (u)
      rc__xsrv_up_free(x, u, RC_ERR_CANCELLED); /* the client started over */
    /* One block: an ordinary request, Block1 echoed in the answer. */
    *whole = *m;
    return 1;
  case B1_FIRST:
    if (u)
      rc__xsrv_up_free(x, u, RC_ERR_CANCELLED); /* the client started over */
    return b1_first(x, r, m, whole, now);
  case B1_NEXT:
    return b1_next(x, r, u, m, whole, now);
  case B1_OUT_OF_ORDER:
  default:
    /* The last block again, its upload over: the client repeats it (with
     * the Echo of the 4.01 that the amplification limit, RFC 9175 §2.4,
     * put in place of the answer's first block); the answer is the one
     * kept, not a second run of the handler. */
    if (!u && !r->b1.more && r->b1.num > 0 && rc__xsrv_from_cache(x, r, now))
      return 0;
    /* RFC 7959 §2.9.2: 4.08 when "the server has not received the blocks
     * of the request body that it needs to proceed". */
    if (u)
      rc__xsrv_up_free(x, u, RC_ERR_BLOCK_ORDER);
    return b1_answered(up_answer(x, m, RC_REQUEST_ENTITY_INCOMPLETE, NULL,
                                 RC_BODY_SIZE_UNKNOWN, "block out of order"));
  }
}

void rc__xsrv_block1_done(rc_exchange *x, rc_xreq *r) {
  if (r->up) {
    rc__xsrv_up_free(x, r->up, RC_OK);
    r->up = NULL;
  }
}

/* ---- expiry ------------------------------------------------------------- */

rc_time rc__xsrv_expiry(const rc_exchange *x) {
  rc_time t = RC_TIME_NEVER;
  for (size_t i = 0; x->cache && i < RC_EXCHANGE_CACHE_SLOTS; i++)
    if (x->cache[i].expires && x->cache[i].expires < t)
      t = x->cache[i].expires;
  for (const xup *u = x->ups; u; u = u->next)
    if (u->expires < t)
      t = u->expires;
  rc_time q = rc__xqb_expiry(x);
  return q < t ? q : t;
}

void rc__xsrv_expire(rc_exchange *x, rc_time now) {
  rc__xqb_expire(x, now);
  for (size_t i = 0; x->cache && i < RC_EXCHANGE_CACHE_SLOTS; i++)
    if (x->cache[i].expires && x->cache[i].expires <= now)
      rc__xsrv_cache_drop(x, &x->cache[i]);
  for (xup *u = x->ups; u;) {
    xup *n = u->next;
    if (u->expires <= now)
      rc__xsrv_up_free(x, u, RC_ERR_TIMEOUT);
    u = n;
  }
}

void rc__xsrv_free_all(rc_exchange *x, rc_err reason) {
  for (size_t i = 0; x->cache && i < RC_EXCHANGE_CACHE_SLOTS; i++)
    if (x->cache[i].expires)
      rc__xsrv_cache_drop(x, &x->cache[i]);
  if (x->cache) {
    x->mem->free(x->cache, x->mem->user);
    x->cache = NULL;
  }
  while (x->ups)
    rc__xsrv_up_free(x, x->ups, reason);
}

/* ---- captures ----------------------------------------------------------- */

struct rc_xcapture {
  const rc_mem *mem;
  rc_xreq req;
  int have;
  rc_outmsg out;
  rc_opt *opts;
  size_t opts_cap;
  uint8_t *buf;   /* option values, then the payload */
  size_t buf_cap;
  /* rc_xcapture_prepare_notify: what follows the token, built once */
  int prepared;
  uint8_t *wire;  /* RC_ENC_HEADROOM, the option region, 0xFF + payload */
  size_t wire_cap, wire_opts, wire_len; /* option region's length, all */
};

/* Makes *buf hold at least need bytes (doubling from 256; the contents
 * are not kept). Returns 0 or RC_ERR_NOMEM. */
static rc_err cap_reserve(const rc_mem *mem, uint8_t **buf, size_t *cap,
                          size_t need) {
  if (need <= *cap)
    return RC_OK;
  size_t n = *cap ? *cap : 256;
  while (n < need)
    n *= 2;
  uint8_t *nb = mem->malloc(n, mem->user);
  if (!nb)
    return RC_ERR_NOMEM;
  mem->free(*buf, mem->user);
  *buf = nb;
  *cap = n;
  return RC_OK;
}

rc_err rc_xcapture_new(rc_xcapture **out, const rc_mem *mem) {
  if (!out)
    return RC_ERR_INVAL;
  if (!mem)
    mem = rc_mem_default();
  rc_xcapture *c = mem->malloc(sizeof *c, mem->user);
  if (!c)
    return RC_ERR_NOMEM;
  memset(c, 0, sizeof *c);
  c->mem = mem;
  *out = c;
  return RC_OK;
}

void rc_xcapture_free(rc_xcapture *c) {
  if (!c)
    return;
  c->mem->free(c->opts, c->mem->user);
  c->mem->free(c->buf, c->mem->user);
  c->mem->free(c->wire, c->mem->user);
  c->mem->free(c, c->mem->user);
}

rc_xreq *rc_xcapture_begin(rc_xcapture *c, rc_exchange *x, const rc_msg *msg) {
  rc_xreq *r = &c->req;
  memset(r, 0, sizeof *r);
  r->x = x;
  r->mem = c->mem;
  r->msg = msg;
  r->token = msg->token;
  r->token_len = msg->token_len;
  r->obs_val = -1;
  r->size1 = RC_BODY_SIZE_UNKNOWN;
  r->cap = c;
  c->have = 0;
  c->prepared = 0;
  return r;
}

const rc_outmsg *rc_xcapture_result(const rc_xcapture *c) {
  return c->have ? &c->out : NULL;
}

rc_err rc__xcap_store(rc_xcapture *c, const rc_outmsg *m) {
  size_t vals = m->payload_len;
  for (size_t i = 0; i < m->nopts; i++)
    vals += m->opts[i].len;
  if (m->nopts > c->opts_cap) {
    rc_opt *no = c->mem->malloc(m->nopts * sizeof *no, c->mem->user);
    if (!no)
      return RC_ERR_NOMEM;
    c->mem->free(c->opts, c->mem->user);
    c->opts = no;
    c->opts_cap = m->nopts;
  }
  if (cap_reserve(c->mem, &c->buf, &c->buf_cap, vals))
    return RC_ERR_NOMEM;
  uint8_t *v = c->buf;
  for (size_t i = 0; i < m->nopts; i++) {
    c->opts[i] = m->opts[i];
    if (m->opts[i].len)
      memcpy(v, m->opts[i].val, m->opts[i].len);
    c->opts[i].val = v;
    v += m->opts[i].len;
  }
  if (m->payload_len)
    memcpy(v, m->payload, m->payload_len);
  c->out.code = m->code;
  c->out.opts = c->opts;
  c->out.nopts = m->nopts;
  c->out.payload = m->payload_len ? v : NULL;
  c->out.payload_len = m->payload_len;
  c->have = 1;
  return RC_OK;
}

rc_err rc_xcapture_prepare_notify(rc_xcapture *c, uint32_t seq) {
  if (!c || !c->have)
    return RC_ERR_STATE;
  c->prepared = 0;
  const rc_outmsg *resp = &c->out;
  if (!rc_code_is_response(resp->code) || !notify_small(resp))
    return RC_OK; /* rc_exchange_notify_captured takes the general path */
  xextra ex;
  memset(&ex, 0, sizeof ex);
  /* RFC 7641 §4.2: a 2.xx notification carries Observe; any other code
   * ends the observation and goes without. */
  if (RC_CODE_CLASS(resp->code) == 2)
    rc__xx_add_uint(&ex, RC_OPT_OBSERVE, seq & 0xFFFFFF);
  size_t need = RC_ENC_HEADROOM + rc__xch_opts_size(resp->opts, resp->nopts) +
                rc__xch_opts_size(ex.o, ex.n) + 1 + resp->payload_len;
  if (cap_reserve(c->mem, &c->wire, &c->wire_cap, need))
    return RC_ERR_NOMEM;
  rc_enc e;
  rc_enc_init(&e, c->wire, c->wire_cap, resp->code, NULL, 0);
  rc__xch_enc_opts(&e, resp->opts, resp->nopts, &ex);
  rc_err err = e.err ? e.err : rc_enc_needed(&e) > c->wire_cap ? RC_ERR_NOBUF
                                                                : RC_OK;
  if (err)
    return err;
  c->wire_opts = c->wire_len = rc_enc_needed(&e) - RC_ENC_HEADROOM;
  if (resp->payload_len) { /* RFC 7252 §3.1: the marker, then the payload */
    uint8_t *pl = c->wire + RC_ENC_HEADROOM + c->wire_opts;
    pl[0] = 0xFF;
    memcpy(pl + 1, resp->payload, resp->payload_len);
    c->wire_len += 1 + resp->payload_len;
  }
  c->prepared = 1;
  return RC_OK;
}

rc_err rc_exchange_notify_captured_n(rc_exchange *x,
                                     const uint8_t *const *tokens,
                                     const size_t *tkls, size_t n,
                                     uint64_t key, uint32_t seq,
                                     const rc_xcapture *c, size_t *sent) {
  if (sent)
    *sent = 0;
  if (!x || !c || !c->have || (n && (!tokens || !tkls)))
    return RC_ERR_INVAL;
  rc_err err = RC_OK;
  if (!c->prepared) {
    size_t i = 0;
    for (; i < n && err == RC_OK; i += err == RC_OK)
      err = rc_exchange_notify(x, tokens[i], tkls[i], key, seq, &c->out);
    if (sent)
      *sent = i;
    return err;
  }
  err = notify_gate(x);
  if (err)
    return err;
  /* The bytes differ from one observer to the next only in the token (and
   * the header's TKL): what follows the token is copied as built. */
  size_t done = 0;
  err = rc_session_send_tails(x->s, c->out.code, tokens, tkls, n,
                              c->wire + RC_ENC_HEADROOM, c->wire_opts,
                              c->wire_len, &done);
  /* Over the peer's Max-Message-Size whole (for the longest token):
   * each observer left gets it the general way, in blocks if need be. */
  if (err == RC_ERR_PEER_TOO_LARGE)
    for (err = RC_OK; done < n && err == RC_OK; done += err == RC_OK)
      err = rc_exchange_notify(x, tokens[done], tkls[done], key, seq,
                               &c->out);
  if (sent)
    *sent = done;
  if (err == RC_OK && x->cb.on_output && !x->hold)
    x->cb.on_output(x->user);
  return err;
}

rc_err rc_exchange_notify_captured_frame(rc_exchange *x,
                                         const uint8_t *const *tokens,
                                         const size_t *tkls, size_t n,
                                         const rc_xcapture *c, uint8_t *dst,
                                         size_t cap, size_t *len) {
  if (!x || !c || !c->have)
    return RC_ERR_INVAL;
  if (!c->prepared)
    return RC_ERR_NOBUF; /* each one through rc_exchange_notify */
  rc_err err = notify_gate(x);
  if (err)
    return err;
  return rc_session_frame_tails(x->s, c->out.code, tokens, tkls, n,
                                c->wire + RC_ENC_HEADROOM, c->wire_opts,
                                c->wire_len, dst, cap, len);
}

rc_err rc_exchange_notify_captured(rc_exchange *x, const uint8_t *token,
                                   size_t token_len, uint64_t key,
                                   uint32_t seq, const rc_xcapture *c) {
  return rc_exchange_notify_captured_n(x, &token, &token_len, 1, key, seq, c,
                                       NULL);
}
