/*
 * Q-Block1 and Q-Block2 (RFC 9177), client side, for requests sent with
 * rc_exchange_req_opts.qblock.
 *
 * Upload (Q-Block1): the body goes in sets of RC_QBLOCK_MAX_PAYLOADS NON
 * requests (rc_session_udp_set_non), each block with Q-Block1, the first
 * with Size1, all with the transfer's Request-Tag and token. A 2.31
 * sends the next set at once, else it goes RC_QBLOCK_NON_TIMEOUT_MS
 * later; a 4.08 with a missing-blocks payload (Content-Format 272) gets
 * the blocks it names again; a malformed one is dropped (RFC 9177 §5).
 * The body's first block goes CON (the support check RFC 9177 §4.1
 * asks for), the rest NON. With nothing heard after the last set, the
 * last block goes again (at most RC_QBLOCK_NON_MAX_RETRANSMIT times).
 * Every request has a token of its own (key + n << 32, RFC 9177 §6).
 *
 * Download (Q-Block2): the first request carries Q-Block2 0; blocks land
 * where they belong (any order), a whole set asks for the next one ("M"
 * set), and RC_QBLOCK_NON_RECEIVE_TIMEOUT_MS after the last block the
 * missing ones are asked for in one request with a Q-Block2 option each.
 *
 * A 4.02 to the first request or set, or a Reset to the first set (a
 * server without Q-Block) sends the request again with a fresh token as
 * Block1/Block2 (the fresh token keeps the answers to the rest of the
 * set away from the new transfer).
 */
#include <string.h>

#include "exchange_int.h"

/* Missing blocks read from one 4.08 (more are asked for by the next). */
#define QC_MISSING_MAX 64u

/* The token of o's next request: RFC 9177 §6, "Each new request
 * generally uses a new Token"; following its implementation note, the
 * low 32 bits stay the transfer's and the high 32 bits count its
 * requests, so that answers to any of them find o
 * (rc__xch_find_alias). */
static void qc_token(xout *o, uint8_t token[8]) {
  uint64_t key = o->key + ((uint64_t)o->blk->qb_seq++ << 32);
  for (int i = 7; i >= 0; i--)
    token[7 - i] = (uint8_t)(key >> (i * 8));
}

static uint32_t qc_timeout(const xblk *b) {
  return b->timeout_ms ? b->timeout_ms : RC_EXCHANGE_DEFAULT_TIMEOUT_MS;
}

/* The next Q-Block step at due, the transfer's deadline still counting. */
static void qc_rearm(rc_exchange *x, xout *o, rc_time due) {
  xblk *b = o->blk;
  b->qb_due = due;
  rc__xch_rearm(x, o, due < b->qb_deadline ? due : b->qb_deadline);
}

static int qc_fail(rc_exchange *x, xout *o, rc_err err) {
  rc__xch_unlink(x, o);
  rc__xcli_finish(x, o, err, NULL);
  return 1;
}

static int qc_has(const xblk *b, uint32_t num) {
  return (size_t)num / 8 < b->qb_have_len &&
         (b->qb_have[num / 8] >> (num % 8) & 1);
}

static rc_err qc_mark(rc_exchange *x, xblk *b, uint32_t num) {
  size_t need = (size_t)num / 8 + 1;
  if (need > b->qb_have_len) {
    size_t len = b->qb_have_len ? b->qb_have_len : 16;
    while (len < need)
      len *= 2;
    uint8_t *nh = x->mem->realloc(b->qb_have, len, x->mem->user);
    if (!nh)
      return RC_ERR_NOMEM;
    memset(nh + b->qb_have_len, 0, len - b->qb_have_len);
    b->qb_have = nh;
    b->qb_have_len = len;
  }
  b->qb_have[num / 8] |= (uint8_t)(1u << (num % 8));
  return RC_OK;
}

/* A 4.02 to the first request or set: the server has no Q-Block. */
static int qc_fallback(rc_exchange *x, xout *o, rc_time now) {
  xblk *b = o->blk;
  b->qb = 0;
  b->qb_on = 0;
  b->qb_seq = 0;
  b->up_off = 0;
  b->up_szx_limit = 7;
  b->state = b->up_total && b->qb_nblocks ? XCLI_UPLOADING : XCLI_WAITING;
  rc__xch_retoken(x, o);
  rc__xch_log(x, RC_SESSION_LOG_INFO,
              "no Q-Block at the server (4.02 or Reset): the request goes "
              "again block-wise");
  rc_err err = rc__xcli_send(x, o, now);
  return err ? qc_fail(x, o, err) : 1;
}

/* The Echo of a 4.01 (RFC 9175 §2.3), on the one request that repeats
 * the answered one. */
static void qc_add_echo(xblk *b, xextra *ex) {
  if (b->echo_len) {
    rc__xx_add(ex, RC_OPT_ECHO, b->echo, b->echo_len);
    b->echo_len = 0;
  }
}

/* ---- upload --------------------------------------------------------------- */

static rc_err qc_send_block(rc_exchange *x, xout *o, uint32_t num) {
  xblk *b = o->blk;
  size_t bs = rc_block_size(b->up_szx);
  uint64_t off = (uint64_t)num * bs;
  size_t len = b->up_total - off < bs ? (size_t)(b->up_total - off) : bs;
  xextra ex;
  memset(&ex, 0, sizeof ex);
  rc_block q = {num, num + 1 < b->qb_nblocks, b->up_szx};
  rc__xx_add_block(&ex, RC_OPT_Q_BLOCK1, &q);
  /* RFC 9177 §4.6: "The Size1 Option MUST be used with the Q-Block1
   * Option when used in a request and MUST be present in all payloads of
   * the request preserving the same value"; §4.3: "the client MUST
   * include a Request-Tag Option", the same for the whole body. */
  if (b->up_total <= UINT32_MAX)
    rc__xx_add_uint(&ex, RC_OPT_SIZE1, b->up_total);
  rc__xx_add(&ex, RC_OPT_REQUEST_TAG, b->tag, sizeof b->tag);
  qc_add_echo(b, &ex);
  uint8_t token[8];
  qc_token(o, token);
  /* RFC 9177 §4.1: "it is therefore REQUIRED that clients use a
   * Confirmable message for determining support for Q-Block1 and
   * Q-Block2 Options": the body's first block goes CON (a server
   * without Q-Block answers it 4.02), the rest NON. */
  rc_session_udp_set_non(x->s, b->qb_probed);
  b->qb_probed = 1;
  rc_err err = rc__xch_send_full(
      x, b->code, token, sizeof token, b->opts, b->nopts, &ex,
      b->has_src ? NULL : b->payload + off, len, b->has_src ? &b->src : NULL,
      off);
  rc_session_udp_set_non(x->s, 0);
  return err;
}

rc_err rc__xqcli_send_set(rc_exchange *x, xout *o, rc_time now) {
  xblk *b = o->blk;
  if (b->qb_next == 0)
    b->qb_deadline = now + qc_timeout(b);
  uint32_t end = b->qb_next + RC_QBLOCK_MAX_PAYLOADS;
  if (end > b->qb_nblocks)
    end = b->qb_nblocks;
  for (; b->qb_next < end; b->qb_next++) {
    rc_err err = qc_send_block(x, o, b->qb_next);
    if (err)
      return err;
  }
  uint64_t sent = (uint64_t)end * rc_block_size(b->up_szx);
  rc__xcli_progress(b, 1, sent < b->up_total ? sent : b->up_total,
                    b->up_total);
  qc_rearm(x, o, now + (b->qb_next < b->qb_nblocks
                            ? RC_QBLOCK_NON_TIMEOUT_MS
                            : RC_QBLOCK_NON_RECEIVE_TIMEOUT_MS));
  return RC_OK;
}

/* 4.08 naming missing blocks (RFC 9177 §5): they go again. */
static int qc_missing(rc_exchange *x, xout *o, const rc_msg *m,
                      rc_time now) {
  xblk *b = o->blk;
  uint32_t nums[QC_MISSING_MAX];
  size_t n = 0;
  if (rc_missing_parse(m->payload, m->payload_len, nums, QC_MISSING_MAX,
                       &n) != RC_OK) {
    /* RFC 9177 §5: "The missing blocks MUST be reported in ascending
     * order without any duplicates. The client SHOULD silently drop 4.08
     * (Request Entity Incomplete) responses not adhering with this
     * behavior." (Anything else that is not a CBOR Sequence of block
     * numbers goes the same way.) */
    rc__xch_log(x, RC_SESSION_LOG_WARN,
                "4.08 with a malformed missing-blocks payload dropped");
    return 1;
  }
  for (size_t i = 0; i < n; i++) {
    if (nums[i] >= b->qb_nblocks || nums[i] >= b->qb_next)
      continue; /* not sent yet, or beyond the body: nothing to resend */
    rc_err err = qc_send_block(x, o, nums[i]);
    if (err)
      return qc_fail(x, o, err);
  }
  b->qb_tries = 0;
  b->qb_deadline = now + qc_timeout(b);
  qc_rearm(x, o, now + (b->qb_next < b->qb_nblocks
                            ? RC_QBLOCK_NON_TIMEOUT_MS
                            : RC_QBLOCK_NON_RECEIVE_TIMEOUT_MS));
  return 1;
}

static int qc_upload_answer(rc_exchange *x, xout *o, const rc_msg *m,
                            rc_time now) {
  xblk *b = o->blk;
  rc_opt opt;
  uint32_t cf;
  if (m->code == RC_CONTINUE) {
    /* 2.31: the set is in (RFC 9177 §3.2); the next one goes at once. */
    b->qb_tries = 0;
    b->qb_deadline = now + qc_timeout(b);
    if (b->qb_next < b->qb_nblocks) {
      rc_err err = rc__xqcli_send_set(x, o, now);
      return err ? qc_fail(x, o, err) : 1;
    }
    qc_rearm(x, o, now + RC_QBLOCK_NON_RECEIVE_TIMEOUT_MS);
    return 1;
  }
  if (m->code == RC_REQUEST_ENTITY_INCOMPLETE &&
      rc_msg_find_opt(m, RC_OPT_CONTENT_FORMAT, &opt) &&
      rc_opt_uint(&opt, &cf) == RC_OK && cf == RC_CF_MISSING_BLOCKS)
    return qc_missing(x, o, m, now);
  if (m->code == RC_BAD_OPTION && b->qb_next <= RC_QBLOCK_MAX_PAYLOADS)
    return qc_fallback(x, o, now);
  /* The final answer: the usual path delivers it. */
  b->qb = 0;
  b->qb_on = 0;
  b->up_off = b->up_total;
  b->up_last = 0;
  rc__xcli_progress(b, 1, b->up_total, b->up_total);
  b->state = XCLI_WAITING;
  return 0;
}

/* ---- download ------------------------------------------------------------- */

/* Asks for blocks: n single ones (M unset), or the rest from list[0]
 * when more (the next set). */
static rc_err qc_ask(rc_exchange *x, xout *o, const uint32_t *list,
                     size_t n, int more) {
  xblk *b = o->blk;
  xextra ex;
  memset(&ex, 0, sizeof ex);
  for (size_t i = 0; i < n && i < RC_QBLOCK_LIST_MAX; i++) {
    rc_block q = {list[i], (uint8_t)more, b->qb_szx};
    rc__xx_add_block(&ex, RC_OPT_Q_BLOCK2, &q);
  }
  rc__xcli_add_tag(b, &ex);
  qc_add_echo(b, &ex);
  uint8_t token[8];
  qc_token(o, token);
  const uint8_t *payload = b->code == RC_FETCH ? b->payload : NULL;
  return rc__xch_send_full(x, b->code, token, sizeof token, b->opts,
                           b->nopts, &ex, payload, payload ? b->plen : 0,
                           NULL, 0);
}

/* The whole body is in: to the sink, or delivered in memory. */
static int qc_complete(rc_exchange *x, xout *o, const rc_msg *m) {
  xblk *b = o->blk;
  if (b->has_sink && b->len) {
    rc_err err = b->sink.write(b->sink.arg, 0, b->buf, b->len, b->len);
    if (err)
      return qc_fail(x, o, err);
  }
  rc__xcli_downloaded(x, o, m);
  return 1;
}

static int qc_first_block(rc_exchange *x, xout *o, const rc_msg *m,
                          const rc_block *q, rc_time now) {
  xblk *b = o->blk;
  rc_opt et;
  b->state = XCLI_DOWNLOADING;
  b->qb_on = 1;
  b->size2 = RC_BODY_SIZE_UNKNOWN;
  b->len = 0;
  b->qb_szx = q->szx;
  b->qb_deadline = now + qc_timeout(b);
  if (rc_msg_find_opt(m, RC_OPT_ETAG, &et) && et.len <= 8) {
    memcpy(b->etag, et.val, et.len);
    b->etag_len = (uint8_t)et.len;
    b->have_etag = 1;
  }
  rc_err err = rc__xcli_keep_first(x, b, m);
  return err ? qc_fail(x, o, err) : 0;
}

/* One Q-Block2 response: checked, stored where it belongs, and the next
 * set asked for when this one is whole. */
static int qc_block_in(rc_exchange *x, xout *o, const rc_msg *m,
                       const rc_block *q, rc_time now) {
  xblk *b = o->blk;
  rc_opt opt;
  uint32_t s2;
  if (b->state != XCLI_DOWNLOADING && qc_first_block(x, o, m, q, now))
    return 1;
  int has_etag = rc_msg_find_opt(m, RC_OPT_ETAG, &opt) && opt.len <= 8;
  if (b->have_etag && (!has_etag || opt.len != b->etag_len ||
                       memcmp(opt.val, b->etag, opt.len)))
    return qc_fail(x, o, RC_ERR_BLOCK_CHANGED);
  size_t bs = rc_block_size(q->szx);
  /* Every block but the last is whole; no block past the last one, and
   * one last block only. */
  if (q->szx != b->qb_szx || m->payload_len > bs ||
      (q->more && m->payload_len != bs) ||
      (b->qb_last_known && q->num > b->qb_last) ||
      (!q->more && ((b->qb_last_known && q->num != b->qb_last) ||
                    q->num + 1 < b->qb_top)))
    return qc_fail(x, o, RC_ERR_PROTOCOL);
  if (rc_msg_find_opt(m, RC_OPT_SIZE2, &opt) && rc_opt_uint(&opt, &s2) == 0)
    b->size2 = s2;
  if (!qc_has(b, q->num)) {
    uint64_t end = (uint64_t)q->num * bs + m->payload_len;
    if (end > SIZE_MAX)
      return qc_fail(x, o, RC_ERR_ENTITY_TOO_LARGE);
    rc_err err = end > b->len ? rc__xcli_grow(x, b, (size_t)end - b->len)
                              : RC_OK;
    if (!err)
      err = qc_mark(x, b, q->num);
    if (err)
      return qc_fail(x, o, err);
    if (m->payload_len)
      memcpy(b->buf + (size_t)q->num * bs, m->payload, m->payload_len);
    if (end > b->len)
      b->len = (size_t)end;
    b->qb_got++;
    b->qb_tries = 0;
    b->qb_deadline = now + qc_timeout(b);
  }
  if (!q->more) {
    b->qb_last = q->num;
    b->qb_last_known = 1;
  }
  if (q->num + 1 > b->qb_top)
    b->qb_top = q->num + 1;
  uint64_t done = (uint64_t)b->qb_got * bs;
  rc__xcli_progress(b, 0, b->size2 < done ? b->size2 : done, b->size2);
  if (b->qb_last_known && b->qb_got == b->qb_last + 1)
    return qc_complete(x, o, m);
  /* The last block of a whole set: the next set now (a Q-Block2 with M
   * set asks for the blocks from its NUM on, RFC 9177 §4.4). */
  if (q->more && (q->num + 1) % RC_QBLOCK_MAX_PAYLOADS == 0) {
    uint32_t first = q->num + 1 - RC_QBLOCK_MAX_PAYLOADS, next = q->num + 1;
    int whole = 1;
    for (uint32_t i = first; i <= q->num && whole; i++)
      whole = qc_has(b, i);
    if (whole) {
      rc_err err = qc_ask(x, o, &next, 1, 1);
      if (err)
        return qc_fail(x, o, err);
    }
  }
  qc_rearm(x, o, now + RC_QBLOCK_NON_RECEIVE_TIMEOUT_MS);
  return 1;
}

/* NON_RECEIVE_TIMEOUT without the whole body: ask for what is missing,
 * or for the rest when nothing below the highest block is. */
static rc_err qc_ask_missing(rc_exchange *x, xout *o) {
  xblk *b = o->blk;
  uint32_t end = b->qb_last_known ? b->qb_last + 1 : b->qb_top;
  uint32_t list[RC_QBLOCK_LIST_MAX];
  size_t n = 0;
  for (uint32_t i = 0; i < end && n < RC_QBLOCK_LIST_MAX; i++)
    if (!qc_has(b, i))
      list[n++] = i;
  if (n)
    return qc_ask(x, o, list, n, 0);
  return qc_ask(x, o, &b->qb_top, 1, 1);
}

/* ---- entry points ----------------------------------------------------------- */

int rc__xqcli_on_response(rc_exchange *x, xout *o, const rc_msg *m,
                          rc_time now) {
  xblk *b = o->blk;
  if (b->state == XCLI_UPLOADING && b->qb_on)
    return qc_upload_answer(x, o, m, now);
  rc_opt opt;
  rc_block q;
  int q2 = RC_CODE_CLASS(m->code) == 2 &&
           rc_msg_find_opt(m, RC_OPT_Q_BLOCK2, &opt) &&
           rc_block_decode(opt.val, opt.len, &q) == RC_OK &&
           q.szx != RC_BLOCK_SZX_BERT;
  int down = b->state == XCLI_DOWNLOADING && b->qb_on;
  if (q2 && (b->state == XCLI_WAITING || down))
    return qc_block_in(x, o, m, &q, now);
  if (b->state == XCLI_WAITING && m->code == RC_BAD_OPTION &&
      (b->code == RC_GET || b->code == RC_FETCH))
    return qc_fallback(x, o, now);
  if (down) {
    /* An answer without Q-Block2 mid-transfer ends it as it is. */
    rc__xch_unlink(x, o);
    rc__xcli_finish(x, o, RC_OK, m);
    return 1;
  }
  /* A plain answer (a server that chose Block2, a small body): the usual
   * handlers take it, and the rest of the transfer. */
  b->qb = 0;
  return 0;
}

rc_err rc__xqcli_echo_repeat(rc_exchange *x, xout *o, rc_time now) {
  xblk *b = o->blk;
  rc_err err;
  if (b->state == XCLI_UPLOADING) {
    /* The answer to the body's end (the only one large enough to be
     * held back): the last block sent goes again. */
    err = qc_send_block(x, o, b->qb_next ? b->qb_next - 1 : 0);
    if (err == RC_OK)
      qc_rearm(x, o, now + RC_QBLOCK_NON_RECEIVE_TIMEOUT_MS);
    return err;
  }
  /* A download: the blocks still missing, or the rest of the body. */
  err = qc_ask_missing(x, o);
  if (err == RC_OK)
    qc_rearm(x, o, now + RC_QBLOCK_NON_RECEIVE_TIMEOUT_MS);
  return err;
}

int rc__xqcli_on_reset(rc_exchange *x, xout *o, rc_time now) {
  xblk *b = o->blk;
  /* RFC 7252 §5.4.1: a NON with an unrecognized critical option is
   * rejected with a Reset: a server without Q-Block answers the first
   * set so. */
  if (b->qb_on && b->state == XCLI_UPLOADING &&
      b->qb_next <= RC_QBLOCK_MAX_PAYLOADS)
    return qc_fallback(x, o, now);
  return 0;
}

int rc__xqcli_on_timer(rc_exchange *x, xout *o, rc_time now) {
  xblk *b = o->blk;
  if (!b->qb_due || b->qb_due > now || now >= b->qb_deadline)
    return 0; /* the transfer's own timeout */
  b->qb_due = 0;
  rc_err err = RC_OK;
  if (b->state == XCLI_UPLOADING && b->qb_on) {
    if (b->qb_next < b->qb_nblocks) {
      /* NON_TIMEOUT after a set without 2.31: the next set. */
      err = rc__xqcli_send_set(x, o, now);
      return err ? qc_fail(x, o, err) : 1;
    }
    if (b->qb_tries >= RC_QBLOCK_NON_MAX_RETRANSMIT)
      return 0;
    /* Nothing heard after the last set: the last block again (a server
     * missing it cannot know the body's end). */
    b->qb_tries++;
    err = qc_send_block(x, o, b->qb_nblocks - 1);
    if (err)
      return qc_fail(x, o, err);
    qc_rearm(x, o, now + RC_QBLOCK_NON_RECEIVE_TIMEOUT_MS);
    return 1;
  }
  if (b->state == XCLI_DOWNLOADING && b->qb_on) {
    if (b->qb_tries >= RC_QBLOCK_NON_MAX_RETRANSMIT)
      return 0;
    b->qb_tries++;
    err = qc_ask_missing(x, o);
    if (err)
      return qc_fail(x, o, err);
    qc_rearm(x, o, now + RC_QBLOCK_NON_RECEIVE_TIMEOUT_MS);
    return 1;
  }
  return 0;
}
