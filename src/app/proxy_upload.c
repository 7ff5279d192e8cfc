/*
 * A Block1 upload through the forward proxy, streamed block by block
 * (RFC 7959 §2.5 for the upstream): the downstream exchange hands each
 * block on (rc_xreq_body_blocks); the proxy sends it upstream as one or
 * more Block1 blocks of at most 1024 bytes (a BERT or large block from a
 * TCP/WS client becomes several on the way to a UDP origin; a 2.31 asking
 * for smaller blocks is followed), and answers the downstream block (2.31)
 * only when the origin has taken all of it. So the proxy holds one
 * downstream block, whatever the body's size, and the client's pace is the
 * origin's. The origin sees one upload (its own Request-Tag, RFC 9175 §3,
 * so two clients uploading to one resource stay apart) and acts on it at
 * the last block (atomic); its final answer is the last block's, fetched
 * whole first when the origin gives it in Block2 (RFC 7959 §2.6: Block2
 * requests with the upload's options and Request-Tag; up to 4 MiB held),
 * the downstream exchange slicing it again for the client. A failure
 * upstream answers the downstream block 5.02 / 5.04 and ends the upload.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_int.h"

#define PXU_SZX_MAX 6u /* 1024-byte blocks upstream (RFC 7252 §4.6) */
/* An origin's answer in Block2 is fetched whole, up to this size. */
#define PXU_ANSWER_MAX (4u * 1024u * 1024u)

struct px_upload {
  rc_context *ctx;
  rc_proxy_opts po;
  uint8_t method;
  uint8_t started; /* block 0 went through the proxy's checks */
  uint8_t ended;   /* the downstream upload is over (rc_xreq_body_blocks) */
  uint8_t gone;    /* ... without its last block: nothing more goes up */
  uint8_t busy;    /* an upstream block is in flight */
  uint8_t failed;  /* answered with a failure: later blocks are refused */
  uint8_t last;    /* the downstream block is the body's last */
  uint8_t szx;     /* upstream block size */
  uint8_t has_size1;
  uint32_t size1;
  uint8_t tag[4];
  rc_xreq *req;    /* the downstream block being forwarded (deferred) */
  uint8_t *block;  /* its payload */
  uint8_t *ans;    /* the origin's answer in Block2 so far (fetching) */
  size_t ans_len;
  size_t len, sent, in_flight;
  uint64_t off;    /* the block's offset in the body */
  char origin[96];
  char *uri;       /* into blob */
  rc_opt *opts;    /* into blob */
  size_t nopts;
  uint8_t *blob;
};

static void upload_free(px_upload *up) {
  free(up->ans);
  free(up->block);
  free(up->blob);
  free(up);
}

/* The exchange is done with the downstream upload: free it now, or when
 * the block in flight upstream comes back. */
static void on_end(void *arg, rc_err status) {
  px_upload *up = arg;
  up->ended = 1;
  up->gone = status != RC_OK;
  if (!up->busy)
    upload_free(up);
}

/* Answers the downstream block in hand (if any); the upload goes on only
 * after a 2.31. */
static void done_block(px_upload *up, uint8_t code, const rc_msg *resp) {
  rc_xreq *req = up->req;
  up->req = NULL;
  free(up->block);
  up->block = NULL;
  if (!req)
    return;
  if (!resp) {
    rc_respond(req, code, -1, NULL, 0);
    return;
  }
  rc_opt opts[RC_APP_MAX_OPTS];
  size_t n = rc__px_resp_opts(resp, 0, opts, RC_APP_MAX_OPTS);
  rc_outmsg m = {resp->code, opts, n, resp->payload, resp->payload_len};
  if (up->ans) { /* the whole answer fetched in Block2 */
    m.payload = up->ans;
    m.payload_len = up->ans_len;
  }
  rc__px_respond(req, &m);
}

static void fail(px_upload *up, uint8_t code, const char *diag) {
  up->failed = 1;
  rc_xreq *req = up->req;
  up->req = NULL;
  free(up->block);
  up->block = NULL;
  if (req)
    rc__px_answer(req, code, "proxy: %s: %s; upload ended", up->origin, diag);
}

static void send_next(px_upload *up);
static void ask_block2(px_upload *up, const rc_block *b2);

/* One block of the origin's final answer in Block2 (RFC 7959 §2.6):
 * kept, and the next one asked for; returns 0 once the answer is whole
 * (in up->ans), 1 while fetching, -1 after a failure. */
static int answer_block(px_upload *up, const rc_msg *resp,
                        const rc_block *b2) {
  size_t unit = b2->szx == RC_BLOCK_SZX_BERT ? 1024u : rc_block_size(b2->szx);
  if (rc_block_offset(b2) != up->ans_len ||
      (b2->more && (!resp->payload_len || resp->payload_len % unit))) {
    fail(up, RC_BAD_GATEWAY, "its answer's blocks do not fit together");
    return -1;
  }
  if (resp->payload_len > PXU_ANSWER_MAX - up->ans_len) {
    fail(up, RC_BAD_GATEWAY, "its answer is larger than 4 MiB");
    return -1;
  }
  uint8_t *a = realloc(up->ans, up->ans_len + resp->payload_len + 1);
  if (!a) {
    fail(up, RC_SERVICE_UNAVAILABLE, "out of memory");
    return -1;
  }
  up->ans = a;
  memcpy(a + up->ans_len, resp->payload, resp->payload_len);
  up->ans_len += resp->payload_len;
  if (!b2->more)
    return 0;
  rc_block next = {(uint32_t)(up->ans_len / unit), 0, b2->szx};
  ask_block2(up, &next);
  return up->busy ? 1 : -1;
}

static void on_upstream(void *arg, rc_err status, const rc_msg *resp,
                        const char *detail) {
  px_upload *up = arg;
  int last = up->last && up->sent + up->in_flight == up->len;
  char diag[160];
  up->busy = 0;
  (void)detail;
  if (up->ctx->freeing || up->gone) {
    fail(up, RC_BAD_GATEWAY, up->gone ? "the client went" : "shutting down");
  } else if (status == RC_ERR_TIMEOUT) {
    /* RFC 7252 §5.9.3.5: 5.04 when the origin did not answer in time. */
    snprintf(diag, sizeof diag, "no answer within %u ms",
             up->po.timeout_ms ? up->po.timeout_ms
                               : RC_EXCHANGE_DEFAULT_TIMEOUT_MS);
    fail(up, RC_GATEWAY_TIMEOUT, diag);
  } else if (status < 0) {
    fail(up, RC_BAD_GATEWAY, rc_strerror(status));
  } else if (resp->code != RC_CONTINUE) {
    /* The origin's final answer: to the last block, the upload's outcome;
     * to an earlier one, a refusal (4.13, 4.01 ...) that ends it. */
    rc_opt o;
    rc_block b2;
    int in_blocks = rc_msg_find_opt(resp, RC_OPT_BLOCK2, &o) &&
                    rc_block_decode(o.val, o.len, &b2) == RC_OK;
    up->failed = !last;
    if (last && RC_CODE_CLASS(resp->code) == 2 && !up->ans)
      /* As proxy_upstream.c does for unsafe requests (RFC 9111 §4.4). */
      rc__px_invalidate(up->ctx, up->uri);
    if (up->ans && (!in_blocks || RC_CODE_CLASS(resp->code) != 2))
      fail(up, RC_BAD_GATEWAY, "its answer ended before its last block");
    else if (!in_blocks || (!b2.more && !up->ans))
      done_block(up, 0, resp);
    else if (!last)
      fail(up, RC_BAD_GATEWAY, "an answer in Block2 before the last block");
    else if (answer_block(up, resp, &b2) == 0)
      done_block(up, 0, resp); /* the whole answer, in up->ans */
  } else if (last) {
    fail(up, RC_BAD_GATEWAY, "2.31 to the last block");
  } else {
    /* RFC 7959 §2.3: a 2.31 whose Block1 SZX is smaller than the one
     * sent asks for smaller blocks from now on. */
    rc_opt o;
    rc_block b;
    if (rc_msg_find_opt(resp, RC_OPT_BLOCK1, &o) &&
        rc_block_decode(o.val, o.len, &b) == RC_OK && b.szx < up->szx)
      up->szx = b.szx;
    up->sent += up->in_flight;
    up->in_flight = 0;
    if (up->sent < up->len)
      send_next(up);
    else
      done_block(up, RC_CONTINUE, NULL); /* the client sends the next */
  }
  if (up->ended && !up->busy)
    upload_free(up);
}

/* Sends the next upstream block of the downstream block in hand. */
static void send_next(px_upload *up) {
  size_t bs = (size_t)16u << up->szx;
  size_t n = up->len - up->sent < bs ? up->len - up->sent : bs;
  uint64_t at = up->off + up->sent;
  rc_block b = {.num = (uint32_t)(at / bs),
                .more = !(up->last && up->sent + n == up->len),
                .szx = up->szx};
  rc_opt opts[RC_APP_MAX_OPTS];
  size_t k = 0;
  uint8_t bv[3], sv[4];
  for (size_t i = 0; i < up->nopts && k < RC_APP_MAX_OPTS - 3; i++)
    opts[k++] = up->opts[i];
  opts[k++] = (rc_opt){.num = RC_OPT_BLOCK1,
                       .len = (uint32_t)rc_block_encode(&b, bv), .val = bv};
  opts[k++] = (rc_opt){.num = RC_OPT_REQUEST_TAG, .len = 4, .val = up->tag};
  if (at == 0 && up->has_size1)
    /* RFC 7959 §4: Size1 with the first block announces the body's size. */
    opts[k++] = (rc_opt){.num = RC_OPT_SIZE1,
                         .len = (uint32_t)rc_opt_uint_encode(up->size1, sv),
                         .val = sv};
  rc_request_opts ro = {.opts = opts,
                        .nopts = k,
                        .payload = up->block + up->sent,
                        .payload_len = n,
                        .timeout_ms = up->po.timeout_ms,
                        .relay = 1};
  up->in_flight = n;
  rc_err err = rc_request(up->ctx, up->method, up->uri, &ro, on_upstream, up);
  if (err) {
    fail(up, RC_BAD_GATEWAY, rc_strerror(err));
    return;
  }
  up->busy = 1;
}

/* Asks the origin for block b2 of the upload's answer: the upload's
 * request options and Request-Tag, no Block1 and no payload (RFC 7959
 * §2.6; RFC 9175 §3.1: the tag goes in "Block2 requests following"). */
static void ask_block2(px_upload *up, const rc_block *b2) {
  rc_opt opts[RC_APP_MAX_OPTS];
  size_t k = 0;
  uint8_t bv[3];
  for (size_t i = 0; i < up->nopts && k < RC_APP_MAX_OPTS - 2; i++)
    opts[k++] = up->opts[i];
  opts[k++] = (rc_opt){.num = RC_OPT_BLOCK2,
                       .len = (uint32_t)rc_block_encode(b2, bv), .val = bv};
  opts[k++] = (rc_opt){.num = RC_OPT_REQUEST_TAG, .len = 4, .val = up->tag};
  rc_request_opts ro = {.opts = opts, .nopts = k,
                        .timeout_ms = up->po.timeout_ms,
                        .relay = 1};
  rc_err err = rc_request(up->ctx, up->method, up->uri, &ro, on_upstream, up);
  if (err) {
    fail(up, RC_BAD_GATEWAY, rc_strerror(err));
    return;
  }
  up->busy = 1;
}

/* Takes req's block (deferred) and starts sending it upstream. */
static void take_block(px_upload *up, rc_xreq *req) {
  const rc_msg *m = rc_xreq_msg(req);
  rc_opt o;
  rc_block b;
  if (!rc_msg_find_opt(m, RC_OPT_BLOCK1, &o) ||
      rc_block_decode(o.val, o.len, &b) != RC_OK) {
    rc__px_answer(req, RC_BAD_REQUEST, "proxy: bad Block1");
    return;
  }
  if (up->failed || up->busy || up->req) {
    rc__px_answer(req, RC_BAD_GATEWAY, "proxy: %s",
                  up->failed ? "the upload failed upstream"
                             : "a block is still on its way");
    return;
  }
  up->block = malloc(m->payload_len ? m->payload_len : 1);
  if (!up->block || rc_xreq_defer(req) != RC_OK) {
    free(up->block);
    up->block = NULL;
    rc__px_answer(req, RC_SERVICE_UNAVAILABLE, "proxy: out of memory");
    return;
  }
  memcpy(up->block, m->payload, m->payload_len);
  up->req = req;
  up->len = m->payload_len;
  up->sent = 0;
  up->off = rc_block_offset(&b);
  up->last = !b.more;
  if (up->len == 0 && !up->last) {
    done_block(up, RC_CONTINUE, NULL);
    return;
  }
  send_next(up);
}

/* ---- proxy_int.h ---------------------------------------------------------- */

void rc__app_proxy_body_start(rc_context *ctx, rc_xreq *req) {
  const rc_msg *m = rc_xreq_msg(req);
  const rc_proxy_opts *po = rc__proxy_opts(ctx);
  if (!po || !po->forward || m->code == RC_GET || m->code == RC_DELETE ||
      m->code == RC_FETCH)
    return; /* reassembled; FETCH for the cache (its body is in the key) */
  px_upload *up = calloc(1, sizeof *up);
  if (!up)
    return; /* reassembled instead */
  up->ctx = ctx;
  up->po = *po;
  up->method = m->code;
  if (rc_xreq_body_blocks(req, on_end, up) != RC_OK) {
    free(up);
    return;
  }
  rc_opt o;
  uint32_t s1;
  if (rc_msg_find_opt(m, RC_OPT_SIZE1, &o) && rc_opt_uint(&o, &s1) == RC_OK) {
    up->has_size1 = 1;
    up->size1 = s1;
  }
  /* Different for every upload at once: its address and the clock. */
  uint32_t t = (uint32_t)(uintptr_t)up ^ (uint32_t)rc__app_now(ctx);
  memcpy(up->tag, &t, sizeof up->tag);
}

px_upload *rc__px_upload_of(rc_xreq *req) {
  return rc_xreq_upload_arg(req);
}

int rc__px_upload_next(px_upload *up, rc_xreq *req) {
  if (!up->started) {
    const rc_msg *m = rc_xreq_msg(req);
    rc_opt o;
    rc_block b;
    if (rc_msg_find_opt(m, RC_OPT_BLOCK1, &o) &&
        rc_block_decode(o.val, o.len, &b) == RC_OK && b.num == 0)
      return 0; /* block 0: the proxy's checks, then rc__px_upload_start */
    rc__px_answer(req, RC_BAD_GATEWAY, "proxy: the upload was refused");
    return 1;
  }
  take_block(up, req);
  return 1;
}

void rc__px_upload_start(px_upload *up, rc_xreq *req, const px_fwd *f) {
  size_t ulen = strlen(f->uri) + 1, vals = 0;
  for (size_t i = 0; i < f->nopts; i++)
    vals += f->opts[i].len;
  up->blob = malloc(f->nopts * sizeof(rc_opt) + vals + ulen);
  if (!up->blob) {
    up->failed = 1;
    rc__px_answer(req, RC_SERVICE_UNAVAILABLE, "proxy: out of memory");
    return;
  }
  up->opts = (rc_opt *)up->blob;
  uint8_t *v = rc__px_opts_copy(up->opts, up->blob + f->nopts * sizeof(rc_opt),
                                f->opts, f->nopts);
  up->nopts = f->nopts;
  up->uri = (char *)v;
  memcpy(up->uri, f->uri, ulen);
  snprintf(up->origin, sizeof up->origin, "%s", f->origin);
  up->started = 1;
  uint8_t szx = PXU_SZX_MAX;
  rc_opt o;
  rc_block b;
  if (rc_msg_find_opt(rc_xreq_msg(req), RC_OPT_BLOCK1, &o) &&
      rc_block_decode(o.val, o.len, &b) == RC_OK && b.szx < szx)
    szx = b.szx; /* never larger upstream than the client's blocks */
  up->szx = szx;
  if (rc__px_backing_off(up->ctx, req, up->origin)) {
    up->failed = 1;
    return;
  }
  take_block(up, req);
}
