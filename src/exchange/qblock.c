/*
 * Q-Block1 and Q-Block2 (RFC 9177), server side: a body that goes in
 * sets of RC_QBLOCK_MAX_PAYLOADS blocks, each a message of its own, with
 * the receiver naming the blocks it missed instead of asking for each.
 *
 * Q-Block2: a request with Q-Block2 gets the body from its cache entry
 * (xserver.c's cache) in sets; the next set goes out RC_QBLOCK_NON_TIMEOUT_MS
 * later, or at once when the client asks for it (a Q-Block2 with M set);
 * Q-Block2 options with M unset name single blocks the client missed.
 *
 * Q-Block1: each block is stored where it belongs in the upload's buffer
 * (xup, memory from the context's rc_budget like Block1) and marked; a
 * whole set gets 2.31 Continue, the whole body goes to on_request, and
 * RC_QBLOCK_NON_RECEIVE_TIMEOUT_MS after the last block a body with holes
 * gets 4.08 naming them (missing-blocks CBOR Sequence, codec/missing.c).
 */
#include <string.h>

#include "exchange_int.h"

static const rc_opt *find_opt(const rc_outmsg *m, uint16_t num) {
  for (size_t i = 0; i < m->nopts; i++)
    if (m->opts[i].num == num)
      return &m->opts[i];
  return NULL;
}

/* ---- Q-Block2 ------------------------------------------------------------ */

typedef struct qb2_body {
  const rc_outmsg *m;
  const rc_body_source *src;
  const uint8_t *payload; /* NULL with src */
  uint64_t total;
  uint32_t nblocks;
  uint8_t szx;
  uint8_t etag[8];
  uint8_t etag_len;
} qb2_body;

static rc_err qb2_send_block(rc_exchange *x, const xanswer *a,
                             const qb2_body *b, uint32_t num) {
  size_t bs = rc_block_size(b->szx);
  uint64_t off = (uint64_t)num * bs;
  size_t len = b->total - off < bs ? (size_t)(b->total - off) : bs;
  xextra ex;
  memset(&ex, 0, sizeof ex);
  /* An observation's answer carries Observe in each of its blocks. */
  if (a->obs_set)
    rc__xx_add_uint(&ex, RC_OPT_OBSERVE, a->obs_seq);
  if (a->has_b1)
    rc__xx_add_block(&ex, RC_OPT_BLOCK1, &a->b1);
  rc_block qb = {num, num + 1 < b->nblocks, b->szx};
  rc__xx_add_block(&ex, RC_OPT_Q_BLOCK2, &qb);
  /* RFC 9177 §4.6: "The Size2 Option MUST be used with the Q-Block2
   * Option when used in a response and MUST be present in all payloads
   * of the response preserving the same value"; §4.4: "The payloads sent
   * back from the server as a response MUST all have the same ETag". */
  if (b->total <= UINT32_MAX)
    rc__xx_add_uint(&ex, RC_OPT_SIZE2, b->total);
  if (b->etag_len)
    rc__xx_add(&ex, RC_OPT_ETAG, b->etag, b->etag_len);
  return rc__xch_send_full(x, b->m->code, a->token, a->token_len,
                           b->m->opts, b->m->nopts, &ex,
                           b->src ? NULL : b->payload + off, len, b->src,
                           off);
}

/* Blocks from..to-1 of b, back to back. */
static rc_err qb2_send_run(rc_exchange *x, const xanswer *a,
                           const qb2_body *b, uint32_t from, uint32_t to) {
  for (uint32_t n = from; n < to; n++) {
    rc_err err = qb2_send_block(x, a, b, n);
    if (err)
      return err;
  }
  return RC_OK;
}

/* Block size for the request's SZX: ours when smaller, and small enough
 * for one message to the peer. */
static uint8_t qb2_szx(rc_exchange *x, const xanswer *a, const rc_outmsg *m) {
  uint8_t szx = x->bcfg.max_szx;
  if (a->qb2[0].szx < szx)
    szx = a->qb2[0].szx;
  uint32_t mms = rc_session_peer_max_msg_size(x->s);
  size_t overhead = rc__xsrv_overhead(a, m);
  while (szx > 0 && ((size_t)16 << szx) + overhead > mms)
    szx--;
  return szx;
}

rc_err rc__xqb2_answer(rc_exchange *x, const xanswer *a, const rc_outmsg *m,
                       const rc_body_source *src, uint64_t total,
                       xcache *cached, rc_time now) {
  qb2_body b;
  memset(&b, 0, sizeof b);
  int fresh = cached == NULL; /* the handler's answer, not the cache's */
  b.m = m;
  b.src = src;
  b.payload = m->payload;
  b.total = total;
  b.szx = cached && cached->qb_szx ? cached->qb_szx : qb2_szx(x, a, m);
  size_t bs = rc_block_size(b.szx);
  uint64_t nb = total ? (total + bs - 1) / bs : 1;
  if (nb - 1 > RC_BLOCK_NUM_MAX)
    return RC_ERR_TOO_LARGE;
  b.nblocks = (uint32_t)nb;
  if (!find_opt(m, RC_OPT_ETAG)) {
    if (cached && cached->etag_len) {
      memcpy(b.etag, cached->etag, cached->etag_len);
      b.etag_len = cached->etag_len;
    } else if (!src) {
      uint64_t h = rc__xch_hash_body(m->payload, m->payload_len);
      for (int i = 0; i < 8; i++)
        b.etag[i] = (uint8_t)(h >> (56 - 8 * i));
      b.etag_len = 8;
    }
  }
  /* A body of several blocks is kept for the sets still to go and the
   * blocks the client will miss. */
  if (!cached && !src && b.nblocks > 1) {
    cached = rc__xsrv_cache_put(x, a, m, b.etag, b.etag_len, now);
    if (cached) {
      cached->qb_szx = b.szx;
      b.payload = cached->body;
    }
  }
  /* Blocks already sent for this request: RFC 9177 §4.4, options that
   * overlap ask for a block twice and "the server MUST only send back one
   * instance of that block" (they come in increasing order, checked in
   * rc__xqb2_list_ok). */
  uint32_t sent_upto = 0;
  rc_err err = RC_OK;
  for (size_t i = 0; i < a->nqb2 && !err; i++) {
    rc_block q = a->qb2[i];
    if (q.num >= b.nblocks) {
      if (a->nqb2 > 1)
        continue; /* a list names what it can; the rest is ignored */
      static const char diag[] = "block beyond the end of the body";
      return rc__xch_send_full(x, RC_BAD_OPTION, a->token, a->token_len,
                               NULL, 0, NULL, (const uint8_t *)diag,
                               sizeof diag - 1, NULL, 0);
    }
    /* M unset: that one block; M set: NUM 0 the whole body, a multiple of
     * MAX_PAYLOADS the next set ("Continue"), any other NUM the rest of
     * its set (RFC 9177 §4.4). A fresh request for block 0 alone starts
     * the whole body too (the sets cost the client nothing it did not
     * ask for next); from the cache it is that block. */
    uint32_t from = q.num > sent_upto ? q.num : sent_upto;
    if (!q.more && !(fresh && a->nqb2 == 1 && q.num == 0)) {
      if (q.num >= sent_upto) {
        err = qb2_send_block(x, a, &b, q.num);
        sent_upto = q.num + 1;
      }
      continue;
    }
    uint32_t end = (q.num / RC_QBLOCK_MAX_PAYLOADS + 1) *
                   RC_QBLOCK_MAX_PAYLOADS;
    if (end > b.nblocks)
      end = b.nblocks;
    if (from < end)
      err = qb2_send_run(x, a, &b, from, end);
    if (end > sent_upto)
      sent_upto = end;
    if (cached) {
      /* The next set after NON_TIMEOUT unless the client asks first
       * (RFC 9177 §7.2). */
      cached->qb_next = end;
      int keep = a->token_len <= RC_TOKEN_MAX; /* else no timer */
      cached->qb_due = end < b.nblocks && keep
                           ? now + RC_QBLOCK_NON_TIMEOUT_MS
                           : 0;
      if (keep) {
        cached->qb_tkl = (uint8_t)a->token_len;
        if (a->token_len)
          memcpy(cached->qb_tok, a->token, a->token_len);
      }
    }
  }
  return err;
}

int rc__xqb2_list_ok(const rc_xreq *r) {
  for (size_t i = 1; i < r->nqb2; i++)
    if (r->qb2[i].num <= r->qb2[i - 1].num)
      return 0;
  return 1;
}

static void qb2_push(rc_exchange *x, xcache *c, rc_time now) {
  xanswer a;
  memset(&a, 0, sizeof a);
  a.token = c->qb_tok;
  a.token_len = c->qb_tkl;
  a.key = c->key;
  a.key_untagged = c->key_untagged;
  a.nqb2 = 1;
  a.qb2[0] = (rc_block){c->qb_next, 1, c->qb_szx};
  c->qb_due = 0;
  rc_outmsg m = {c->code, c->opts, c->nopts, c->body, c->len};
  if (rc__xqb2_answer(x, &a, &m, NULL, c->len, c, now))
    rc__xch_log(x, RC_SESSION_LOG_WARN, "cannot send the next Q-Block2 set");
}

/* ---- Q-Block1 ------------------------------------------------------------ */

static int qb1_has(const xup *u, uint32_t num) {
  return (size_t)num / 8 < u->qb_have_len &&
         (u->qb_have[num / 8] >> (num % 8) & 1);
}

/* Makes room for block num in the marks. */
static rc_err qb1_mark_room(rc_exchange *x, xup *u, uint32_t num) {
  size_t need = (size_t)num / 8 + 1;
  if (need <= u->qb_have_len)
    return RC_OK;
  size_t len = u->qb_have_len ? u->qb_have_len : 16;
  while (len < need)
    len *= 2;
  uint8_t *nh = x->mem->realloc(u->qb_have, len, x->mem->user);
  if (!nh)
    return RC_ERR_NOMEM;
  memset(nh + u->qb_have_len, 0, len - u->qb_have_len);
  u->qb_have = nh;
  u->qb_have_len = len;
  return RC_OK;
}

static int qb1_bad(rc_exchange *x, xup *u, const rc_msg *m,
                   const char *diag) {
  rc__xsrv_up_free(x, u, RC_ERR_PROTOCOL);
  rc_err err = rc__xch_send_full(x, RC_BAD_REQUEST, m->token, m->token_len,
                                 NULL, 0, NULL, (const uint8_t *)diag,
                                 strlen(diag), NULL, 0);
  return err ? (int)err : 0;
}

/* Stores block b of u: QB1_KEPT (stored, or a duplicate: *stored says),
 * or the answer's result (0 or an error) when refused: u is gone then. */
#define QB1_KEPT 1
static int qb1_store(rc_exchange *x, xup *u, const rc_block *b,
                     const rc_msg *m, int *stored) {
  size_t bs = rc_block_size(b->szx);
  uint64_t off = rc_block_offset(b);
  *stored = 0;
  /* Every block but the last is whole (RFC 7959 §2.2, which Q-Block1
   * follows for NUM, M and SZX). */
  if (m->payload_len > bs || (b->more && m->payload_len != bs))
    return qb1_bad(x, u, m, "Q-Block1 payload does not match its SZX");
  if (u->qb_last_known &&
      (b->num > u->qb_last || (!b->more && b->num != u->qb_last)))
    return qb1_bad(x, u, m, "Q-Block1 past the body's last block");
  if (off + m->payload_len > u->limit)
    return rc__xsrv_up_refused(x, u, m, RC_ERR_ENTITY_TOO_LARGE, u->limit);
  if (qb1_has(u, b->num))
    return QB1_KEPT; /* a duplicate */
  size_t end = (size_t)(off + m->payload_len);
  rc_err err = rc__xsrv_up_reserve(x, u, end);
  if (!err)
    err = qb1_mark_room(x, u, b->num);
  if (err)
    return rc__xsrv_up_refused(x, u, m, err, end);
  if (m->payload_len)
    memcpy(u->buf + off, m->payload, m->payload_len);
  if (end > u->off)
    u->off = end; /* kept by rc__xsrv_up_reserve when it grows */
  u->qb_have[b->num / 8] |= (uint8_t)(1u << (b->num % 8));
  u->qb_got++;
  *stored = 1;
  return QB1_KEPT;
}

/* Whether blocks 0..num are all here. */
static int qb1_prefix_whole(const xup *u, uint32_t num) {
  for (uint32_t i = 0; i <= num; i++)
    if (!qb1_has(u, i))
      return 0;
  return 1;
}

/* The whole body: on_request sees it (or the app's sink gets it). */
static int qb1_whole(rc_xreq *r, xup *u, const rc_msg *m, rc_msg *whole) {
  *whole = *m;
  uint64_t total = u->off;
  if (u->has_sink) {
    rc_err err = total ? u->sink.write(u->sink.arg, 0, u->buf, (size_t)total,
                                       total)
                       : RC_OK;
    if (u->sink.end)
      u->sink.end(u->sink.arg, err);
    u->has_sink = 0;
    whole->payload = NULL;
    whole->payload_len = 0;
    r->streamed = 1;
  } else {
    whole->payload = total ? u->buf : NULL;
    whole->payload_len = (size_t)total;
  }
  r->up = u; /* freed by rc__xsrv_block1_done */
  return 1;
}

int rc__xqb1_request(rc_exchange *x, rc_xreq *r, const rc_msg *m,
                     rc_msg *whole, rc_time now) {
  const rc_block *b = &r->qb1;
  xup *u = rc__xsrv_up_find(x, rc_xreq_key(r));
  if (u && (!u->qb || u->qb_szx != b->szx)) {
    rc__xsrv_up_free(x, u, RC_ERR_CANCELLED); /* the client started over */
    u = NULL;
  }
  if (!u) {
    if (b->num == 0 && !b->more) {
      *whole = *m; /* one block: an ordinary request */
      return 1;
    }
    /* RFC 9177 §4.3: 4.00 "MUST be returned if the request does not
     * include neither a Request-Tag Option nor a Size1 Option but does
     * include a Q-Block1 option" (a body in several blocks). */
    const char *bad = b->szx == RC_BLOCK_SZX_BERT ? "Q-Block1 with BERT"
                      : !r->has_rtag && r->size1 == RC_BODY_SIZE_UNKNOWN
                          ? "Q-Block1 without Request-Tag or Size1"
                          : NULL;
    if (bad) {
      rc_err err = rc__xch_send_full(x, RC_BAD_REQUEST, m->token,
                                     m->token_len, NULL, 0, NULL,
                                     (const uint8_t *)bad, strlen(bad),
                                     NULL, 0);
      return err ? (int)err : 0;
    }
    int st = rc__xsrv_up_start(x, r, m, &u);
    if (st <= 0)
      return st;
    u->qb = 1;
    u->qb_szx = b->szx;
  }
  int stored;
  int st = qb1_store(x, u, b, m, &stored);
  if (st != QB1_KEPT)
    return st; /* refused and answered; u is gone */
  if (stored)
    u->qb_tries = 0; /* progress */
  if (!b->more) {
    u->qb_last = b->num;
    u->qb_last_known = 1;
  }
  if (b->num + 1 > u->qb_top)
    u->qb_top = b->num + 1;
  /* Answers go to the latest request's token (RFC 9177 §4.3 prefers the
   * last one received). */
  if (m->token_len <= RC_TOKEN_MAX) {
    u->qb_tkl = (uint8_t)m->token_len;
    memcpy(u->qb_tok, m->token, m->token_len);
  }
  u->qb_con = m->type == RC_TYPE_CON;
  u->expires = now + x->bcfg.ttl_ms;
  u->qb_miss_due = now + RC_QBLOCK_NON_RECEIVE_TIMEOUT_MS;
  if (u->qb_last_known && u->qb_got == u->qb_last + 1)
    return qb1_whole(r, u, m, whole);
  if (u->qb_con) {
    /* RFC 9177 §4.3: "For Confirmable transmission, the server continues
     * to acknowledge each packet, but a response is not required ...
     * until successful receipt of the body"; 2.31 "SHOULD NOT be
     * generated for CON". */
    rc_err err = rc_session_udp_ack_now(x->s, m->token, m->token_len);
    return err ? (int)err : 0;
  }
  /* 2.31 "SHOULD only be generated when all the payload requests are
   * Non-confirmable and a set of MAX_PAYLOADS ... payloads have been
   * received" (RFC 9177 §4.3); a duplicate is answered "as if the block
   * was received for the first time". */
  if (b->more && (b->num + 1) % RC_QBLOCK_MAX_PAYLOADS == 0 &&
      qb1_prefix_whole(u, b->num)) {
    xextra ex;
    memset(&ex, 0, sizeof ex);
    rc__xx_add_block(&ex, RC_OPT_Q_BLOCK1, b);
    rc_err err = rc__xch_send_full(x, RC_CONTINUE, m->token, m->token_len,
                                   NULL, 0, &ex, NULL, 0, NULL, 0);
    return err ? (int)err : 0;
  }
  return 0; /* held: the answer comes with a later block or the timer */
}

/* 4.08 naming the holes below the highest block seen (and, while the
 * last block is unknown, the one after it), as many as one message
 * holds (RFC 9177 §5: the list "MUST be limited" to fit one packet). */
static void qb1_missing(rc_exchange *x, xup *u, rc_time now) {
  u->qb_tries++;
  u->qb_miss_due = now + RC_QBLOCK_NON_RECEIVE_TIMEOUT_MS;
  /* RFC 9177 §5: this 4.08 "SHOULD NOT be used when using Confirmable
   * requests" (the client's message layer retransmits those). */
  if (u->qb_con)
    return;
  uint32_t end = u->qb_last_known ? u->qb_last + 1 : u->qb_top;
  uint32_t nums[256];
  size_t n = 0;
  for (uint32_t i = 0; i < end && n < 256; i++)
    if (!qb1_has(u, i))
      nums[n++] = i;
  if (!u->qb_last_known && n < 256 && u->qb_top <= RC_BLOCK_NUM_MAX)
    nums[n++] = u->qb_top;
  if (n == 0)
    return;
  uint8_t payload[512];
  size_t len = rc_missing_encode(nums, n, payload, sizeof payload, NULL);
  xextra ex;
  memset(&ex, 0, sizeof ex);
  rc__xx_add_uint(&ex, RC_OPT_CONTENT_FORMAT, RC_CF_MISSING_BLOCKS);
  if (rc__xch_send_full(x, RC_REQUEST_ENTITY_INCOMPLETE, u->qb_tok,
                        u->qb_tkl, NULL, 0, &ex, payload, len, NULL, 0))
    rc__xch_log(x, RC_SESSION_LOG_WARN, "cannot send a Q-Block1 4.08");
}

/* ---- timers --------------------------------------------------------------- */

rc_time rc__xqb_expiry(const rc_exchange *x) {
  rc_time t = RC_TIME_NEVER;
  for (size_t i = 0; x->cache && i < RC_EXCHANGE_CACHE_SLOTS; i++)
    if (x->cache[i].expires && x->cache[i].qb_due &&
        x->cache[i].qb_due < t)
      t = x->cache[i].qb_due;
  for (const xup *u = x->ups; u; u = u->next)
    if (u->qb && u->qb_miss_due && u->qb_miss_due < t)
      t = u->qb_miss_due;
  return t;
}

void rc__xqb_expire(rc_exchange *x, rc_time now) {
  for (size_t i = 0; x->cache && i < RC_EXCHANGE_CACHE_SLOTS; i++) {
    xcache *c = &x->cache[i];
    if (c->expires > now && c->qb_due && c->qb_due <= now)
      qb2_push(x, c, now);
  }
  for (xup *u = x->ups; u;) {
    xup *n = u->next;
    if (u->qb && u->qb_miss_due && u->qb_miss_due <= now) {
      if (u->qb_tries >= RC_QBLOCK_NON_MAX_RETRANSMIT)
        rc__xsrv_up_free(x, u, RC_ERR_TIMEOUT);
      else
        qb1_missing(x, u, now);
    }
    u = n;
  }
}
