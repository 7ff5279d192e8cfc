/*
 * The client half of block-wise transfer and observe. A request sent with
 * rc_exchange_request keeps a copy of its options (an xblk) so that the
 * exchange can send the next Block1 block after each 2.31 Continue and ask
 * for the next Block2 block after each response with M=1 (RFC 7959 §2.3,
 * §2.4), with BERT when the peer offers it (RFC 8323 §6). Every block of
 * one transfer goes with the transfer's token, so transfers of different
 * resources on one connection never mix; a Block1 upload carries its own
 * Request-Tag (RFC 9175 §3) so that a server can keep concurrent uploads
 * to one resource apart. Observations (RFC 7641) stay in the token table
 * after their first response; a notification too large for one message is
 * completed by a separate request without Observe (RFC 7959 §3.4).
 */
#include <stdio.h>
#include <string.h>

#include "exchange_int.h"

/* Most bytes of options the exchange adds to a block request (Block1,
 * Block2, Size1, Request-Tag, Observe) plus framing, for sizing BERT
 * payloads under the peer's Max-Message-Size. */
#define XCLI_EXTRA_ROOM 64u

void rc__xcli_progress(xblk *b, int up, uint64_t done, uint64_t total) {
  if (b->o.on_progress)
    b->o.on_progress(b->o.progress_arg, up, done, total);
}

void rc__xcli_free(rc_exchange *x, xblk *b, rc_err reason) {
  if (!b)
    return;
  if (b->child) {
    /* The observation ends: so does the fetch of its last notification. */
    xout *c = b->child;
    b->child = NULL;
    rc__xch_unlink(x, c);
    c->blk->parent = NULL;
    rc__xcli_free(x, c->blk, RC_ERR_CANCELLED);
    rc__xch_release_out(x, c);
  }
  if (b->parent && b->parent->blk)
    b->parent->blk->child = NULL;
  xwin *w = b->win;
  b->win = NULL;
  rc__xwin_free(x, w); /* its lanes' requests are cancelled */
  if (b->has_src && b->src.close)
    b->src.close(b->src.arg);
  if (b->has_sink && b->sink.end)
    b->sink.end(b->sink.arg, reason);
  x->mem->free(b->stage, x->mem->user);
  x->mem->free(b->qb_have, x->mem->user);
  x->mem->free(b->buf, x->mem->user);
  x->mem->free(b->first_opts, x->mem->user);
  x->mem->free(b->blob, x->mem->user);
  x->mem->free(b, x->mem->user);
}

/* Ends o (already unlinked) with status and an optional response. */
void rc__xcli_finish(rc_exchange *x, xout *o, rc_err status,
                     const rc_msg *m) {
  xblk *b = o->blk;
  rc_response_cb cb = o->cb;
  void *arg = o->arg;
  if (b->has_sink && b->sink.end) {
    b->sink.end(b->sink.arg, status);
    b->has_sink = 0;
  }
  rc__xch_release_out(x, o);
  rc__xcli_free(x, b, status);
  cb(arg, status, m);
}

void rc__xcli_fail(rc_exchange *x, xout *o, rc_err reason) {
  xblk *b = o->blk;
  if (b->parent) {
    /* A child failing fails the notification, not the observation. */
    b->parent->blk->child = NULL;
    b->parent = NULL;
    rc__xch_release_out(x, o);
    rc__xcli_free(x, b, reason);
    return;
  }
  if (b->state == XCLI_DEREGISTERING) {
    rc__xch_release_out(x, o);
    rc__xcli_free(x, b, reason);
    return;
  }
  rc__xcli_finish(x, o, reason, NULL);
}

static int xcli_bert(rc_exchange *x, const xblk *b) {
  return x->bcfg.bert && !b->o.no_bert && b->o.block_szx == 0 &&
         rc_session_peer_bert(x->s);
}

static uint8_t xcli_szx(rc_exchange *x, const xblk *b) {
  if (b->o.block_szx)
    return (uint8_t)(b->o.block_szx - 1 < 6 ? b->o.block_szx - 1 : 6);
  return x->bcfg.max_szx;
}

/* Bytes of payload per message for an upload or a download request. */
static size_t xcli_chunk(rc_exchange *x, xblk *b, uint8_t *szx_out) {
  size_t over = rc__xch_opts_size(b->opts, b->nopts) + RC_EXCHANGE_TOKEN_LEN +
                XCLI_EXTRA_ROOM;
  uint32_t mms = rc_session_peer_max_msg_size(x->s);
  if (xcli_bert(x, b)) {
    size_t room = mms > over ? mms - over : 0;
    size_t chunk = room < x->bcfg.bert_max ? room : x->bcfg.bert_max;
    chunk &= ~(size_t)1023;
    if (chunk >= 1024) {
      *szx_out = RC_BLOCK_SZX_BERT;
      return chunk;
    }
  }
  uint8_t szx = xcli_szx(x, b);
  while (szx > 0 && ((size_t)16 << szx) + over > mms)
    szx--;
  *szx_out = szx;
  return (size_t)16 << szx;
}

/* Reads the next upload block (at most chunk bytes) into the stage or
 * leaves it for a direct read; sets *len and *more. */
static rc_err xcli_plan_upload(rc_exchange *x, xblk *b, size_t chunk,
                               size_t *len, uint8_t *more) {
  if (b->up_total != RC_BODY_SIZE_UNKNOWN) {
    uint64_t left = b->up_total - b->up_off;
    *len = left < chunk ? (size_t)left : chunk;
    *more = b->up_off + *len < b->up_total;
    return RC_OK;
  }
  /* Unknown size: read the block into the stage; a full block may be
   * followed by more (an empty last block is allowed). */
  if (b->stage_cap < chunk) {
    uint8_t *s = x->mem->malloc(chunk, x->mem->user);
    if (!s)
      return RC_ERR_NOMEM;
    x->mem->free(b->stage, x->mem->user);
    b->stage = s;
    b->stage_cap = chunk;
  }
  size_t got = 0;
  while (got < chunk) {
    rc_ssize n = b->src.read(b->src.arg, b->up_off + got, b->stage + got,
                             chunk - got);
    if (n < 0)
      return (rc_err)n;
    if (n == 0)
      break;
    got += (size_t)n;
  }
  *len = got;
  *more = got == chunk;
  return RC_OK;
}

/* RFC 7959 §2.6: after a Block1 upload, the client asks for the rest of
 * the answer with "requests similar to the requests in the Block1 phase"
 * minus Block1; RFC 9175 §3.1 has Request-Tag in Block1 requests "and in
 * Block2 requests following these", so the server finds the answer it
 * produced for this upload and not another one's. */
void rc__xcli_add_tag(const xblk *b, xextra *ex) {
  if (b->has_tag)
    rc__xx_add(ex, RC_OPT_REQUEST_TAG, b->tag, sizeof b->tag);
}

/* Sends the next message of o's transfer (first request, next Block1
 * block, or a Block2 request for the rest). */
rc_err rc__xcli_send(rc_exchange *x, xout *o, rc_time now) {
  xblk *b = o->blk;
  uint8_t token[8];
  for (int i = 7; i >= 0; i--)
    token[7 - i] = (uint8_t)(o->key >> (i * 8));
  xextra ex;
  memset(&ex, 0, sizeof ex);
  const uint8_t *payload = NULL;
  size_t plen = 0;
  const rc_body_source *src = NULL;
  uint64_t src_off = 0;
  if (b->observe && b->state != XCLI_DOWNLOADING)
    rc__xx_add_uint(&ex, RC_OPT_OBSERVE, 0);
  if (b->state == XCLI_UPLOADING && b->qb_on)
    return rc__xqcli_send_set(x, o, now);
  if (b->echo_len) {
    rc__xx_add(&ex, RC_OPT_ECHO, b->echo, b->echo_len);
    b->echo_len = 0;
  }
  if (b->state == XCLI_UPLOADING) {
    uint8_t szx;
    size_t chunk = xcli_chunk(x, b, &szx);
    /* BERT may start once the peer's CSM offered it (blocks stay 1024-byte
     * units, so NUM carries on), unless the server asked for smaller
     * blocks (RFC 7959 §2.3: the client then uses the server's size). */
    if (b->up_off > 0 && szx != b->up_szx) {
      /* Keep the block size of the transfer: the server agreed to it
       * (libcoap 4.3.1 does not follow a switch to BERT mid-transfer). */
      szx = b->up_szx < b->up_szx_limit ? b->up_szx : b->up_szx_limit;
      chunk = rc_block_size(szx);
    } else if (b->up_szx_limit < 7 && szx > b->up_szx_limit) {
      szx = b->up_szx_limit;
      chunk = rc_block_size(szx);
    }
    uint8_t more = 0; /* set by xcli_plan_upload; GCC -O2 cannot tell */
    rc_err err = xcli_plan_upload(x, b, chunk, &plen, &more);
    if (err)
      return err;
    rc_block blk = {(uint32_t)(b->up_off / rc_block_size(szx)), more, szx};
    if (blk.num > RC_BLOCK_NUM_MAX)
      return RC_ERR_TOO_LARGE;
    rc__xx_add_block(&ex, RC_OPT_BLOCK1, &blk);
    /* RFC 7959 §4: Size1 in a request "indicates the size of the resource
     * representation"; with the first block, when known. */
    if (b->up_off == 0 && b->up_total != RC_BODY_SIZE_UNKNOWN &&
        b->up_total <= UINT32_MAX)
      rc__xx_add_uint(&ex, RC_OPT_SIZE1, b->up_total);
    rc__xx_add(&ex, RC_OPT_REQUEST_TAG, b->tag, sizeof b->tag);
    if (b->has_src && b->up_total != RC_BODY_SIZE_UNKNOWN) {
      src = &b->src;
      src_off = b->up_off;
    } else if (b->has_src) {
      payload = b->stage;
    } else {
      payload = b->payload + b->up_off;
    }
    b->up_last = plen;
    b->up_last_more = more;
    b->up_szx = szx;
  } else if (b->state == XCLI_DOWNLOADING) {
    uint8_t szx;
    xcli_chunk(x, b, &szx);
    if (b->up_szx && b->up_szx < szx && szx != RC_BLOCK_SZX_BERT)
      szx = b->up_szx;
    rc_block blk = {(uint32_t)(b->down_off / rc_block_size(szx)), 0, szx};
    if (blk.num > RC_BLOCK_NUM_MAX)
      return RC_ERR_TOO_LARGE;
    rc__xx_add_block(&ex, RC_OPT_BLOCK2, &blk);
    rc__xcli_add_tag(b, &ex);
    /* Requests that carry their body in every message (FETCH) repeat it. */
    if (b->code == RC_FETCH && !b->has_src) {
      payload = b->payload;
      plen = b->plen;
    }
  } else {
    if (b->qb && (b->code == RC_GET || b->code == RC_FETCH) && !b->manual &&
        !b->observe) {
      /* RFC 9177 §4.4: Q-Block2 in the first request offers Q-Block;
       * NUM 0 with M set "is a request for the entire body". */
      uint8_t szx;
      xcli_chunk(x, b, &szx);
      rc_block blk = {0, 1, szx < RC_BLOCK_SZX_BERT ? szx : 6};
      rc__xx_add_block(&ex, RC_OPT_Q_BLOCK2, &blk);
      b->qb_seq = 1; /* this request has the transfer's token; later
                        ones their own (qblock_client.c) */
    } else if (b->o.block_szx && (b->code == RC_GET || b->code == RC_FETCH) &&
        !b->manual) {
      /* Early negotiation (RFC 7959 §2.4): ask for small blocks from the
       * start. */
      rc_block blk = {0, 0, xcli_szx(x, b)};
      rc__xx_add_block(&ex, RC_OPT_BLOCK2, &blk);
    }
    if (b->has_src) {
      src = &b->src;
      plen = (size_t)b->src.size;
    } else {
      payload = b->payload;
      plen = b->plen;
    }
  }
  rc_err err = rc__xch_send_full(x, b->code, token, sizeof token, b->opts,
                                 b->nopts, &ex, payload, plen, src, src_off);
  if (err)
    return err;
  rc__xch_rearm(x, o, now + (b->timeout_ms ? b->timeout_ms
                                           : RC_EXCHANGE_DEFAULT_TIMEOUT_MS));
  return RC_OK;
}

/* Block1 when the body does not fit in one message to this peer (or the
 * caller asked for smaller blocks). */
static void xcli_plan(rc_exchange *x, xblk *b) {
  uint8_t szx;
  size_t chunk = xcli_chunk(x, b, &szx);
  size_t over = rc__xch_opts_size(b->opts, b->nopts) + RC_EXCHANGE_TOKEN_LEN +
                XCLI_EXTRA_ROOM;
  b->state = XCLI_WAITING;
  b->has_tag = 0; /* planned again once the peer's CSM came */
  /* A request without a body never goes block-wise, even when its options
   * alone exceed the peer's limit (the session refuses it then). */
  if (!b->manual && b->up_total != 0 &&
      (b->up_total == RC_BODY_SIZE_UNKNOWN ||
       b->up_total + over > rc_session_peer_max_msg_size(x->s) ||
       b->up_total > x->bcfg.bert_max ||
       (b->o.block_szx && b->up_total > chunk))) {
    b->state = XCLI_UPLOADING;
    b->up_bert = szx == RC_BLOCK_SZX_BERT;
    b->up_szx = szx;
    b->up_szx_limit = 7;
    /* Q-Block1 (RFC 9177) for a body of known size: no BERT. */
    b->qb_on = b->qb && b->up_total != RC_BODY_SIZE_UNKNOWN;
    if (b->qb_on) {
      b->up_bert = 0;
      if (szx == RC_BLOCK_SZX_BERT)
        b->up_szx = 6;
      size_t bs = rc_block_size(b->up_szx);
      b->qb_nblocks = (uint32_t)((b->up_total + bs - 1) / bs);
      b->qb_next = 0;
    }
    uint32_t t = ++x->next_tag ^ (uint32_t)x->rng;
    memcpy(b->tag, &t, sizeof b->tag);
    b->has_tag = 1;
  }
}

/* Creates the transfer record and its token; sends the first message
 * unless child (a notification's rest, sent by the caller). */
static rc_err xcli_create(rc_exchange *x, const rc_outmsg *req,
                          const rc_exchange_req_opts *o, rc_time now,
                          rc_response_cb cb, void *arg, xout **res,
                          int child) {
  if (!x || !req || !cb || !rc_code_is_request(req->code))
    return RC_ERR_INVAL;
  if (o && o->body && (!o->body->read || req->payload_len))
    return RC_ERR_INVAL;
  if (x->dead)
    return RC_ERR_CLOSED;
  int copy_payload = !(o && o->body);
  size_t vals = 0;
  for (size_t i = 0; i < req->nopts; i++)
    vals += req->opts[i].len;
  size_t size = req->nopts * sizeof(rc_opt) + vals +
                (copy_payload ? req->payload_len : 0);
  xblk *b = x->mem->malloc(sizeof *b, x->mem->user);
  uint8_t *blob = x->mem->malloc(size ? size : 1, x->mem->user);
  if (!b || !blob) {
    x->mem->free(b, x->mem->user);
    x->mem->free(blob, x->mem->user);
    return RC_ERR_NOMEM;
  }
  memset(b, 0, sizeof *b);
  b->blob = blob;
  b->opts = (rc_opt *)blob;
  uint8_t *v = blob + req->nopts * sizeof(rc_opt);
  for (size_t i = 0; i < req->nopts; i++) {
    b->opts[i] = req->opts[i];
    if (req->opts[i].len)
      memcpy(v, req->opts[i].val, req->opts[i].len);
    b->opts[i].val = v;
    v += req->opts[i].len;
    if (req->opts[i].num == RC_OPT_BLOCK1 || req->opts[i].num == RC_OPT_BLOCK2)
      b->manual = 1;
  }
  b->nopts = req->nopts;
  if (copy_payload && req->payload_len) {
    memcpy(v, req->payload, req->payload_len);
    b->payload = v;
    b->plen = req->payload_len;
  }
  b->code = req->code;
  if (o)
    b->o = *o;
  b->o.body = NULL;
  b->o.sink = NULL;
  b->timeout_ms = b->o.timeout_ms;
  if (o && o->body) {
    b->src = *o->body;
    b->has_src = 1;
  }
  if (o && o->sink) {
    b->sink = *o->sink;
    b->has_sink = 1;
  }
  b->observe = o && o->observe;
  b->qb = o && o->qblock && !b->observe;
  b->up_total = b->has_src ? b->src.size : b->plen;
  xcli_plan(x, b);
  /* The block size depends on the peer's CSM (BERT, Max-Message-Size):
   * an upload waits for it rather than start in small blocks. */
  if (b->state == XCLI_UPLOADING && !child && !rc_session_peer_csm_received(x->s))
    b->csm_wait = 1;
  uint8_t token[8];
  xout *out;
  rc_err err = rc__xch_new_out(x, &out, token);
  if (err) {
    b->has_src = 0; /* not ours to close on refusal */
    b->has_sink = 0;
    rc__xcli_free(x, b, err);
    return err;
  }
  out->blk = b;
  out->cb = cb;
  out->arg = arg;
  rc__xch_link_out(x, out, now + (b->timeout_ms ? b->timeout_ms
                                               : RC_EXCHANGE_DEFAULT_TIMEOUT_MS));
  *res = out;
  if (child || b->csm_wait)
    return RC_OK;
  err = rc__xcli_send(x, out, now);
  if (err) {
    rc__xch_unlink(x, out);
    rc__xch_release_out(x, out);
    b->has_src = 0;
    b->has_sink = 0;
    rc__xcli_free(x, b, err);
    return err;
  }
  return RC_OK;
}

rc_err rc_exchange_request(rc_exchange *x, const rc_outmsg *req,
                           const rc_exchange_req_opts *o, rc_time now,
                           rc_response_cb cb, void *arg, uint64_t *id) {
  xout *out;
  rc_err err = xcli_create(x, req, o, now, cb, arg, &out, 0);
  if (!err && id)
    *id = out->id;
  return err;
}

/* Keeps the first response's options (for the message delivered at the
 * end of a Block2 transfer). */
rc_err rc__xcli_keep_first(rc_exchange *x, xblk *b, const rc_msg *m) {
  b->first_code = m->code;
  x->mem->free(b->first_opts, x->mem->user);
  b->first_opts = NULL;
  b->first_opts_len = m->opts_len;
  if (!m->opts_len)
    return RC_OK;
  b->first_opts = x->mem->malloc(m->opts_len, x->mem->user);
  if (!b->first_opts)
    return RC_ERR_NOMEM;
  memcpy(b->first_opts, m->opts, m->opts_len);
  return RC_OK;
}

static void xcli_child_done(void *arg, rc_err status, const rc_msg *m);
static rc_err xcli_create(rc_exchange *x, const rc_outmsg *req,
                          const rc_exchange_req_opts *o, rc_time now,
                          rc_response_cb cb, void *arg, xout **res,
                          int child);

/* A notification whose body continues in Block2: fetch the rest with a
 * request without Observe (a GET without Observe on the observation's own
 * token would end it, RFC 7641 §3.6). */
static void xcli_start_child(rc_exchange *x, xout *o, const rc_msg *m,
                             rc_time now) {
  xblk *b = o->blk;
  if (b->child) {
    /* A newer notification supersedes the one still being fetched. */
    xout *c = b->child;
    b->child = NULL;
    rc__xch_unlink(x, c);
    c->blk->parent = NULL;
    rc__xcli_free(x, c->blk, RC_ERR_CANCELLED);
    rc__xch_release_out(x, c);
  }
  rc_exchange_req_opts co;
  memset(&co, 0, sizeof co);
  co.timeout_ms = b->timeout_ms;
  co.no_bert = b->o.no_bert;
  co.block_szx = b->o.block_szx;
  rc_outmsg req = {b->code, b->opts, b->nopts, b->payload, b->plen};
  xout *c;
  if (xcli_create(x, &req, &co, now, xcli_child_done, o, &c, 1) != RC_OK)
    return;
  c->blk->parent = o;
  b->child = c;
  /* The notification is the child's first block; the child asks for the
   * next one (RFC 7959 §3.4: "the client ... retrieves the rest with
   * GET requests without Observe"). */
  rc__xcli_on_response(x, c, m, now);
}

static void xcli_child_done(void *arg, rc_err status, const rc_msg *m) {
  xout *parent = arg;
  if (status != RC_OK || !m)
    return;
  parent->blk->child = NULL;
  parent->cb(parent->arg, RC_OK, m);
}

static int xcli_has_observe(const rc_msg *m) {
  rc_opt o;
  return rc_msg_find_opt(m, RC_OPT_OBSERVE, &o);
}

/* A notification of our observation: Observe and a 2.xx (RFC 7641 §3.2). */
static int xcli_is_notification(const xblk *b, const rc_msg *m) {
  return b->observe && xcli_has_observe(m) && RC_CODE_CLASS(m->code) == 2;
}

/* The response's Block2, when the exchange drives block-wise for it. */
static int xcli_block2(const xblk *b, const rc_msg *m, rc_block *blk) {
  rc_opt opt;
  return !b->manual && rc_msg_find_opt(m, RC_OPT_BLOCK2, &opt) &&
         rc_block_decode(opt.val, opt.len, blk) == RC_OK;
}

static int xcli_etag(const rc_msg *m, rc_opt *et) {
  return rc_msg_find_opt(m, RC_OPT_ETAG, et) && et->len <= 8;
}

/* Ends the transfer with m as the final answer, its payload through the
 * sink when there is one. */
void rc__xcli_deliver(rc_exchange *x, xout *o, const rc_msg *m) {
  xblk *b = o->blk;
  if (b->has_sink && m->payload_len) {
    rc_err err = b->sink.write(b->sink.arg, 0, m->payload, m->payload_len,
                               m->payload_len);
    rc__xcli_progress(b, 0, m->payload_len, m->payload_len);
    rc_msg head = *m;
    head.payload = NULL;
    head.payload_len = 0;
    rc__xch_unlink(x, o);
    rc__xcli_finish(x, o, err, err ? NULL : &head);
    return;
  }
  rc__xch_unlink(x, o);
  rc__xcli_finish(x, o, RC_OK, m);
}

/* A notification: the observation is (still) registered. */
/* RFC 7641 §3.4: over UDP notifications may arrive out of order; one is
 * fresher than the last if "(V1 < V2 and V2 - V1 < 2^23) or (V1 > V2 and
 * V1 - V2 > 2^23) or (T2 > T1 + 128 seconds)", and the client "MUST use
 * the ... freshest" only. Reliable transports keep the order (RFC 8323
 * §7.2), so there every notification counts. Returns non-zero to take m
 * (and remembers it as the freshest). */
static int xcli_fresh(rc_exchange *x, xblk *b, const rc_msg *m,
                      rc_time now) {
  if (rc_session_framing(x->s) != RC_FRAMING_UDP)
    return 1;
  rc_opt opt;
  uint32_t v2 = 0;
  if (!rc_msg_find_opt(m, RC_OPT_OBSERVE, &opt) ||
      rc_opt_uint(&opt, &v2) != RC_OK)
    return 1;
  const uint32_t half = 1u << 23;
  uint32_t v1 = b->obs_v1;
  int fresh = !b->obs_seen || (v1 < v2 && v2 - v1 < half) ||
              (v1 > v2 && v1 - v2 > half) || now > b->obs_t1 + 128000u;
  if (fresh) {
    b->obs_seen = 1;
    b->obs_v1 = v2;
    b->obs_t1 = now;
  }
  return fresh;
}

static void xcli_notified(rc_exchange *x, xout *o, const rc_msg *m,
                          rc_time now) {
  rc_block blk;
  if (!xcli_fresh(x, o->blk, m, now))
    return; /* older than one already shown */
  o->blk->state = XCLI_OBSERVING;
  /* Observations do not time out once registered. */
  rc__xch_rearm(x, o, RC_TIME_NEVER);
  if (xcli_block2(o->blk, m, &blk) && blk.more) {
    xcli_start_child(x, o, m, now);
    return;
  }
  o->cb(o->arg, RC_OK, m);
}

/* Grows the in-memory body to hold n more bytes (Size2 as a hint). */
rc_err rc__xcli_grow(rc_exchange *x, xblk *b, size_t n) {
  if (b->len + n > x->bcfg.body_max)
    return RC_ERR_ENTITY_TOO_LARGE;
  if (b->len + n <= b->cap)
    return RC_OK;
  size_t cap = b->cap ? b->cap : 4096;
  uint64_t want =
      b->size2 != RC_BODY_SIZE_UNKNOWN && b->size2 <= x->bcfg.body_max
          ? b->size2
          : 0;
  while (cap < b->len + n)
    cap *= 2;
  if (want > cap)
    cap = (size_t)want;
  uint8_t *nb = x->mem->malloc(cap, x->mem->user);
  if (!nb)
    return RC_ERR_NOMEM;
  if (b->len)
    memcpy(nb, b->buf, b->len);
  x->mem->free(b->buf, x->mem->user);
  b->buf = nb;
  b->cap = cap;
  return RC_OK;
}

/* The whole body is in: the first response's options with all the
 * payload, to the caller or (for a notification's rest) the observation. */
void rc__xcli_downloaded(rc_exchange *x, xout *o, const rc_msg *m) {
  xblk *b = o->blk;
  rc_msg whole = *m;
  whole.code = b->first_code;
  whole.opts = b->first_opts;
  whole.opts_len = b->first_opts_len;
  whole.payload = b->has_sink || !b->len ? NULL : b->buf;
  whole.payload_len = b->has_sink ? 0 : b->len;
  /* Freeing b frees the buffers whole points into: detach them first. */
  uint8_t *keep_buf = b->buf, *keep_opts = b->first_opts;
  b->buf = NULL;
  b->first_opts = NULL;
  rc__xch_unlink(x, o);
  if (b->parent) {
    /* A child completing a notification: hand it to the observation. */
    xout *parent = b->parent;
    b->parent = NULL;
    parent->blk->child = NULL;
    rc_response_cb pcb = parent->cb;
    void *parg = parent->arg;
    rc__xch_release_out(x, o);
    rc__xcli_free(x, b, RC_OK);
    pcb(parg, RC_OK, &whole);
  } else {
    rc__xcli_finish(x, o, RC_OK, &whole);
  }
  x->mem->free(keep_buf, x->mem->user);
  x->mem->free(keep_opts, x->mem->user);
}

void rc__xcli_end(rc_exchange *x, xout *o, rc_err status, const rc_msg *m) {
  rc__xch_unlink(x, o);
  rc__xcli_finish(x, o, status, m);
}

rc_err rc__xcli_store(rc_exchange *x, xblk *b, const uint8_t *p, size_t n) {
  rc_err err = RC_OK;
  if (b->has_sink && n)
    err = b->sink.write(b->sink.arg, b->down_off, p, n, b->size2);
  if (!err && !b->has_sink) {
    err = rc__xcli_grow(x, b, n);
    if (!err && n) {
      memcpy(b->buf + b->len, p, n);
      b->len += n;
    }
  }
  if (err)
    return err;
  b->down_off += n;
  rc__xcli_progress(b, 0, b->down_off, b->size2);
  return RC_OK;
}

/* One Block2 answer of a download; err is what the caller already found
 * wrong with it. Checks, stores and asks for the next block (or, with a
 * window, the next blocks: xwindow.c takes over after the first). */
static void xcli_block_in(rc_exchange *x, xout *o, const rc_msg *m,
                          const rc_block *blk, rc_err err, rc_time now) {
  xblk *b = o->blk;
  rc_opt opt;
  uint32_t s2;
  if (!err && rc_msg_find_opt(m, RC_OPT_SIZE2, &opt) &&
      rc_opt_uint(&opt, &s2) == RC_OK)
    b->size2 = s2;
  if (!err && rc_block_offset(blk) != b->down_off)
    err = RC_ERR_BLOCK_ORDER;
  if (!err && blk->more && blk->szx != RC_BLOCK_SZX_BERT &&
      m->payload_len != rc_block_size(blk->szx))
    err = RC_ERR_PROTOCOL;
  if (!err && blk->szx != RC_BLOCK_SZX_BERT)
    b->up_szx = blk->szx; /* ask for the size the server uses */
  if (!err)
    err = rc__xcli_store(x, b, m->payload, m->payload_len);
  if (err) {
    rc__xcli_end(x, o, err, NULL);
    return;
  }
  if (!blk->more) {
    rc__xcli_downloaded(x, o, m);
    return;
  }
  /* BERT blocks are whole 1024-byte units (RFC 8323 §6). */
  if (blk->szx == RC_BLOCK_SZX_BERT && m->payload_len % 1024)
    err = RC_ERR_PROTOCOL;
  else if (b->o.window > 1 && b->down_off == m->payload_len &&
           rc_session_framing(x->s) != RC_FRAMING_UDP)
    /* Not over UDP: RFC 7252 §4.7, "clients ... MUST strictly limit the
     * number of simultaneous outstanding interactions that they maintain
     * to a given server ... to NSTART" (1 by default). */
    err = rc__xwin_start(x, o, blk, m->payload_len, now);
  else
    err = rc__xcli_send(x, o, now);
  if (err)
    rc__xcli_end(x, o, err, NULL);
}

/* ---- one handler per state ------------------------------------------- */

/* The answer to our deregistration, or a late notification. */
static void xcli_on_deregistering(rc_exchange *x, xout *o, const rc_msg *m) {
  xblk *b = o->blk;
  if (!xcli_has_observe(m) || m->code != RC_CONTENT) {
    rc__xch_unlink(x, o);
    rc__xch_release_out(x, o);
    rc__xcli_free(x, b, RC_ERR_CANCELLED);
  }
}

/* Nothing received yet (or the upload just ended): a plain answer, the
 * first notification, or the first block of a download. */
static void xcli_on_waiting(rc_exchange *x, xout *o, const rc_msg *m,
                            rc_time now) {
  xblk *b = o->blk;
  rc_block blk;
  rc_opt et;
  if (xcli_is_notification(b, m)) {
    xcli_notified(x, o, m, now);
    return;
  }
  if (!xcli_block2(b, m, &blk) || !blk.more) {
    rc__xcli_deliver(x, o, m);
    return;
  }
  b->state = XCLI_DOWNLOADING;
  b->down_off = 0;
  b->size2 = RC_BODY_SIZE_UNKNOWN;
  if (xcli_etag(m, &et)) {
    memcpy(b->etag, et.val, et.len);
    b->etag_len = (uint8_t)et.len;
    b->have_etag = 1;
  }
  xcli_block_in(x, o, m, &blk, rc__xcli_keep_first(x, b, m), now);
}

/* A Block1 upload under way: 2.31 asks for the next block, anything else
 * is the final answer, handled as in XCLI_WAITING. */
static void xcli_on_uploading(rc_exchange *x, xout *o, const rc_msg *m,
                              rc_time now) {
  xblk *b = o->blk;
  rc_opt opt;
  rc_block blk;
  if (m->code != RC_CONTINUE) {
    /* A final answer ends the upload (success, or a refusal such as 4.13
     * or 4.08 the caller sees). */
    if (RC_CODE_CLASS(m->code) == 2) {
      b->up_off += b->up_last;
      rc__xcli_progress(b, 1, b->up_off, b->up_total);
    }
    b->state = XCLI_WAITING;
    xcli_on_waiting(x, o, m, now);
    return;
  }
  if (rc_msg_find_opt(m, RC_OPT_BLOCK1, &opt) &&
      rc_block_decode(opt.val, opt.len, &blk) == RC_OK) {
    /* The server may ask for smaller blocks (RFC 7959 §2.3); BERT ends
     * when it answers with SZX < 7. */
    if (blk.szx < b->up_szx && blk.szx < b->up_szx_limit)
      b->up_szx_limit = blk.szx;
  }
  b->up_off += b->up_last;
  rc__xcli_progress(b, 1, b->up_off, b->up_total);
  if (!b->up_last_more) {
    /* 2.31 to the last block is not a final answer. */
    rc__xch_unlink(x, o);
    rc__xcli_finish(x, o, RC_ERR_PROTOCOL, NULL);
    return;
  }
  rc_err err = rc__xcli_send(x, o, now);
  if (err) {
    rc__xch_unlink(x, o);
    rc__xcli_finish(x, o, err, NULL);
  }
}

/* Registered: notifications keep coming until one without Observe or an
 * error ends the observation (RFC 7641 §3.2). */
static void xcli_on_observing(rc_exchange *x, xout *o, const rc_msg *m,
                              rc_time now) {
  if (xcli_is_notification(o->blk, m)) {
    xcli_notified(x, o, m, now);
    return;
  }
  rc__xch_unlink(x, o);
  rc__xcli_finish(x, o, RC_OK, m);
}

/* A Block2 download under way: the next block, or an answer without
 * Block2 that ends it. */
static void xcli_on_downloading(rc_exchange *x, xout *o, const rc_msg *m,
                                rc_time now) {
  xblk *b = o->blk;
  rc_block blk;
  rc_opt et;
  if (!xcli_block2(b, m, &blk)) {
    rc__xcli_deliver(x, o, m);
    return;
  }
  int has_etag = xcli_etag(m, &et);
  rc_err err = RC_OK;
  if (b->have_etag && (!has_etag || et.len != b->etag_len ||
                       memcmp(et.val, b->etag, et.len)))
    /* RFC 7959 §2.4: the ETag tells the client that "the representation
     * has changed" between blocks. */
    err = RC_ERR_BLOCK_CHANGED;
  xcli_block_in(x, o, m, &blk, err, now);
}

/* RFC 9175 §2.4: a server that will not send a large answer to an
 * address it has not verified answers 4.01 with an Echo option; the
 * client repeats the request with that Echo (RFC 9175 §2.3), once per
 * request: a second 4.01 in a row goes to the caller (each block request
 * of a download may be repeated once: a server that dropped our address
 * meanwhile asks again). Not inside a Block1 upload (its answers are
 * small, and its next block is already planned) except for its last
 * block, whose answer can be the first block of a large one (read again
 * from the source: not for a source of unknown size, which may not read
 * twice); inside a Q-Block1 upload, the set's last block goes again. */
static int xcli_echo_retry(rc_exchange *x, xout *o, const rc_msg *m,
                           rc_time now) {
  xblk *b = o->blk;
  rc_opt echo;
  if (m->code != RC_UNAUTHORIZED) {
    b->echo_tried = 0; /* the next block request may repeat once too */
    return 0;
  }
  if (b->echo_tried || (b->state == XCLI_UPLOADING && !b->qb_on &&
                         (b->up_last_more ||
                          b->up_total == RC_BODY_SIZE_UNKNOWN)) ||
      b->state == XCLI_DEREGISTERING ||
      !rc_msg_find_opt(m, RC_OPT_ECHO, &echo) || echo.len == 0 ||
      echo.len > RC_UDP_ECHO_MAX)
    return 0;
  b->echo_tried = 1;
  memcpy(b->echo, echo.val, echo.len);
  b->echo_len = (uint8_t)echo.len;
  rc__xch_log(x, RC_SESSION_LOG_DEBUG,
              "4.01 with Echo: request repeated with it (RFC 9175 2.4)");
  /* RFC 9177: one request of a Q-Block set answered 4.01 repeats on the
   * Q-Block path (its options, the set's tokens), the rest of the
   * transfer untouched. */
  rc_err err = b->qb_on ? rc__xqcli_echo_repeat(x, o, now)
                        : rc__xcli_send(x, o, now);
  if (err)
    rc__xcli_end(x, o, err, NULL);
  return 1;
}

void rc__xcli_on_response(rc_exchange *x, xout *o, const rc_msg *m,
                          rc_time now) {
  if (xcli_echo_retry(x, o, m, now))
    return;
  if (o->blk->qb && rc__xqcli_on_response(x, o, m, now))
    return;
  switch (o->blk->state) {
  case XCLI_DEREGISTERING:
    xcli_on_deregistering(x, o, m);
    return;
  case XCLI_UPLOADING:
    xcli_on_uploading(x, o, m, now);
    return;
  case XCLI_OBSERVING:
    xcli_on_observing(x, o, m, now);
    return;
  case XCLI_DOWNLOADING:
    xcli_on_downloading(x, o, m, now);
    return;
  default:
    xcli_on_waiting(x, o, m, now);
    return;
  }
}

rc_err rc_exchange_cancel_observe(rc_exchange *x, uint64_t id, rc_time now) {
  xout *o = x->head;
  while (o && o->id != id)
    o = o->next;
  if (!o || !o->blk || !o->blk->observe ||
      o->blk->state == XCLI_DEREGISTERING)
    return RC_ERR_NOT_FOUND;
  xblk *b = o->blk;
  b->state = XCLI_DEREGISTERING;
  if (b->child) {
    xout *c = b->child;
    b->child = NULL;
    rc__xch_unlink(x, c);
    c->blk->parent = NULL;
    rc__xcli_free(x, c->blk, RC_ERR_CANCELLED);
    rc__xch_release_out(x, c);
  }
  if (b->has_sink && b->sink.end) {
    b->sink.end(b->sink.arg, RC_ERR_CANCELLED);
    b->has_sink = 0;
  }
  /* RFC 8323 §7.4: "a client MUST explicitly deregister by issuing a GET
   * request that has the Token field set to the token of the observation
   * to be cancelled and includes an Observe Option with the value set to
   * 1 (deregister)". */
  uint8_t token[8];
  for (int i = 7; i >= 0; i--)
    token[7 - i] = (uint8_t)(o->key >> (i * 8));
  xextra ex;
  memset(&ex, 0, sizeof ex);
  rc__xx_add_uint(&ex, RC_OPT_OBSERVE, 1);
  rc_err err = x->dead ? RC_ERR_CLOSED
                       : rc__xch_send_full(x, RC_GET, token, sizeof token,
                                           b->opts, b->nopts, &ex, NULL, 0,
                                           NULL, 0);
  if (err) {
    rc__xch_unlink(x, o);
    rc__xch_release_out(x, o);
    rc__xcli_free(x, b, RC_ERR_CANCELLED);
    return err;
  }
  rc__xch_rearm(x, o, now + (b->timeout_ms ? b->timeout_ms
                                           : RC_EXCHANGE_DEFAULT_TIMEOUT_MS));
  return RC_OK;
}

void rc_exchange_on_csm(rc_exchange *x, rc_time now) {
  if (!x || x->dead)
    return;
  for (xout *o = x->head; o;) {
    xout *next = o->next;
    xblk *b = o->blk;
    if (b && b->csm_wait) {
      b->csm_wait = 0;
      xcli_plan(x, b);
      rc_err err = rc__xcli_send(x, o, now);
      if (err) {
        rc__xch_unlink(x, o);
        rc__xcli_finish(x, o, err, NULL);
      }
    }
    o = next;
  }
}
