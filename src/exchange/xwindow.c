/*
 * A Block2 download with several block requests in flight (the window,
 * rc_exchange_req_opts.window). After the first block the transfer's own
 * token asks for nothing more: each further block is asked for by a plain
 * request on a token of its own (a lane), carrying the transfer's options
 * and Block2 for its offset. RFC 7959 §2.4 lets the client ask for any
 * block ("the client ... can also make a request for a specific block");
 * every block must then be the first block's size, which is true of
 * Block2 without BERT (RFC 7959 §2.2) and of a BERT server that sends
 * each message as full as the first (rcoapd serving a file). A block that
 * arrives before the ones in front of it is held (at most window - 1 of
 * them, one block each), so the body reaches the sink, or memory, in order
 * and no more than window blocks of it are ever in this process.
 */
#include <string.h>

#include "exchange_int.h"

typedef struct xlane {
  xwin *w;
  uint64_t id;  /* its request, for rc_exchange_cancel */
  uint64_t off; /* the offset it asked for */
  uint8_t busy;
} xlane;

typedef struct xheld {
  uint64_t off;
  size_t len;
  uint8_t *p;
} xheld;

struct xwin {
  rc_exchange *x;
  xout *o;         /* the transfer */
  uint8_t n;       /* lanes */
  uint8_t szx;     /* of every request (RC_BLOCK_SZX_BERT: BERT) */
  size_t stride;   /* bytes of every block but the last */
  uint64_t next;   /* the next offset to ask for */
  uint64_t end;    /* body size once the last block came; else UNKNOWN */
  uint64_t stop;   /* ask for nothing at or past this (a refusal seen) */
  rc_time now;
  xlane lane[RC_EXCHANGE_WINDOW_MAX];
  xheld held[RC_EXCHANGE_WINDOW_MAX];
};

static void xwin_lane_done(void *arg, rc_err status, const rc_msg *m);

/* Asks for the block at off on lane l. */
static rc_err xwin_ask(xwin *w, xlane *l, uint64_t off) {
  rc_exchange *x = w->x;
  xblk *b = w->o->blk;
  uint32_t unit = w->szx == RC_BLOCK_SZX_BERT ? 1024u : rc_block_size(w->szx);
  rc_block blk = {(uint32_t)(off / unit), 0, w->szx};
  if (off / unit > RC_BLOCK_NUM_MAX)
    return RC_ERR_TOO_LARGE;
  xextra ex;
  memset(&ex, 0, sizeof ex);
  rc__xx_add_block(&ex, RC_OPT_BLOCK2, &blk);
  rc__xcli_add_tag(b, &ex);
  xout *lo;
  uint8_t token[8];
  rc_err err = rc__xch_new_out(x, &lo, token);
  if (err)
    return err;
  /* Requests that carry their body in every message (FETCH) repeat it. */
  int fetch = b->code == RC_FETCH && !b->has_src;
  err = rc__xch_send_full(x, b->code, token, sizeof token, b->opts, b->nopts,
                          &ex, fetch ? b->payload : NULL, fetch ? b->plen : 0,
                          NULL, 0);
  if (err) {
    rc__xch_release_out(x, lo);
    return err;
  }
  lo->cb = xwin_lane_done;
  lo->arg = l;
  rc__xch_link_out(x, lo, w->now + (b->timeout_ms
                                        ? b->timeout_ms
                                        : RC_EXCHANGE_DEFAULT_TIMEOUT_MS));
  l->id = lo->id;
  l->off = off;
  l->busy = 1;
  return RC_OK;
}

static int xwin_busy(const xwin *w) {
  for (int i = 0; i < w->n; i++)
    if (w->lane[i].busy)
      return 1;
  return 0;
}

/* Gives every idle lane the next block to ask for, up to the end (or the
 * Size2 hint: past it only when nothing is in flight, in case the hint
 * was short), and never past the window's last block counted from the
 * first one missing: blocks that arrive early can then never be more than
 * window - 1, however the answers are ordered. */
static rc_err xwin_fill(xwin *w) {
  xblk *b = w->o->blk;
  uint64_t limit = b->down_off + (uint64_t)w->n * w->stride;
  for (int i = 0; i < w->n; i++) {
    xlane *l = &w->lane[i];
    if (l->busy)
      continue;
    if (w->next >= w->end || w->next >= w->stop || w->next >= limit)
      break;
    if (b->size2 != RC_BODY_SIZE_UNKNOWN && w->next >= b->size2 &&
        xwin_busy(w))
      break;
    rc_err err = xwin_ask(w, l, w->next);
    if (err)
      return err;
    w->next += w->stride;
  }
  return RC_OK;
}

/* Stores every held block that is now next in order. */
static rc_err xwin_drain(xwin *w) {
  xblk *b = w->o->blk;
  for (int moved = 1; moved;) {
    moved = 0;
    for (int i = 0; i < w->n; i++) {
      xheld *h = &w->held[i];
      if (!h->p || h->off != b->down_off)
        continue;
      rc_err err = rc__xcli_store(w->x, b, h->p, h->len);
      w->x->mem->free(h->p, w->x->mem->user);
      h->p = NULL;
      if (err)
        return err;
      moved = 1;
    }
  }
  return RC_OK;
}

/* Keeps a block that came ahead of its turn. */
static rc_err xwin_hold(xwin *w, uint64_t off, const uint8_t *p, size_t n) {
  for (int i = 0; i < w->n; i++) {
    xheld *h = &w->held[i];
    if (h->p)
      continue;
    h->p = w->x->mem->malloc(n ? n : 1, w->x->mem->user);
    if (!h->p)
      return RC_ERR_NOMEM;
    memcpy(h->p, p, n);
    h->off = off;
    h->len = n;
    return RC_OK;
  }
  return RC_ERR_STATE; /* cannot happen: xwin_fill keeps them under n */
}

/* One lane's block: checked, stored or held; returns 1 when the body is
 * complete, 0 to go on, or an error. */
static int xwin_block(xwin *w, const xlane *l, const rc_msg *m) {
  xblk *b = w->o->blk;
  rc_opt opt;
  rc_block blk;
  if (!rc_msg_find_opt(m, RC_OPT_BLOCK2, &opt) ||
      rc_block_decode(opt.val, opt.len, &blk) != RC_OK ||
      rc_block_offset(&blk) != l->off)
    return RC_ERR_BLOCK_ORDER;
  /* RFC 7959 §2.4: the ETag tells the client that "the representation
   * has changed" between blocks. */
  int has = rc_msg_find_opt(m, RC_OPT_ETAG, &opt) && opt.len <= 8;
  if (b->have_etag && (!has || opt.len != b->etag_len ||
                       memcmp(opt.val, b->etag, opt.len)))
    return RC_ERR_BLOCK_CHANGED;
  if (blk.more && m->payload_len != w->stride)
    return RC_ERR_PROTOCOL; /* blocks of varying size: window needs equal */
  if (!blk.more) {
    w->end = l->off + m->payload_len;
    w->next = w->end; /* nothing past it */
  }
  rc_err err;
  if (l->off == b->down_off)
    err = rc__xcli_store(w->x, b, m->payload, m->payload_len);
  else if (l->off > b->down_off)
    err = xwin_hold(w, l->off, m->payload, m->payload_len);
  else
    err = RC_OK; /* already have it */
  if (!err)
    err = xwin_drain(w);
  if (err)
    return err;
  return w->end != RC_BODY_SIZE_UNKNOWN && b->down_off == w->end;
}

static void xwin_lane_done(void *arg, rc_err status, const rc_msg *m) {
  xlane *l = arg;
  xwin *w = l->w;
  rc_exchange *x = w->x;
  xout *o = w->o;
  l->busy = 0;
  w->now = x->now;
  if (status) {
    rc__xcli_end(x, o, status, NULL);
    return;
  }
  if (RC_CODE_CLASS(m->code) != 2) {
    /* A block past the end (its answer came after the last block's) is
     * nothing; another refusal ends the transfer once every block in front
     * of it is in, with the refusal as the answer. */
    if (l->off >= w->end)
      return;
    if (l->off > o->blk->down_off) {
      if (l->off < w->stop)
        w->stop = l->off;
      return;
    }
    rc__xcli_deliver(x, o, m);
    return;
  }
  int r = xwin_block(w, l, m);
  if (r < 0) {
    rc__xcli_end(x, o, (rc_err)r, NULL);
    return;
  }
  if (r == 1) {
    rc_msg last = *m;
    last.payload = NULL; /* stored already */
    last.payload_len = 0;
    rc__xcli_downloaded(x, o, &last);
    return;
  }
  rc_err err = xwin_fill(w);
  if (!err && !xwin_busy(w) && o->blk->down_off >= w->stop)
    err = RC_ERR_PROTOCOL; /* a refusal in the middle that nothing passed */
  if (err)
    rc__xcli_end(x, o, err, NULL);
}

rc_err rc__xwin_start(rc_exchange *x, xout *o, const rc_block *first,
                      size_t len, rc_time now) {
  xblk *b = o->blk;
  xwin *w = x->mem->malloc(sizeof *w, x->mem->user);
  if (!w)
    return RC_ERR_NOMEM;
  memset(w, 0, sizeof *w);
  w->x = x;
  w->o = o;
  w->n = b->o.window < RC_EXCHANGE_WINDOW_MAX ? b->o.window
                                               : RC_EXCHANGE_WINDOW_MAX;
  w->szx = first->szx;
  w->stride = len;
  w->next = b->down_off;
  w->end = RC_BODY_SIZE_UNKNOWN;
  w->stop = RC_BODY_SIZE_UNKNOWN;
  w->now = now;
  for (int i = 0; i < w->n; i++)
    w->lane[i].w = w;
  b->win = w;
  /* The lanes time out one by one; the transfer's token waits for
   * nothing. */
  rc__xch_rearm(x, o, RC_TIME_NEVER);
  return xwin_fill(w);
}

void rc__xwin_free(rc_exchange *x, xwin *w) {
  if (!w)
    return;
  for (int i = 0; i < w->n; i++) {
    if (w->lane[i].busy)
      (void)rc_exchange_cancel(x, w->lane[i].id);
    x->mem->free(w->held[i].p, x->mem->user);
  }
  x->mem->free(w, x->mem->user);
}
