/*
 * Static representations: a resource whose GET answer is the same for
 * every request (code, Content-Format, payload) keeps it encoded once, as
 * the bytes that follow the token on the wire, and answers a GET by
 * writing header, token and those bytes (rc_exchange_respond_tail). The
 * decoded form goes with it for answers that are not sent whole (Block2,
 * Observe, captures), which the exchange encodes as for any handler.
 */
#include <string.h>

#include "app_int.h"

struct app_static {
  rc_msg_tail tail; /* over bytes */
  rc_outmsg msg;    /* the same answer decoded: options and payload in bytes */
  rc_opt opt;       /* Content-Format, when msg.nopts is 1 */
  uint8_t bytes[];
};

static void static_get(rc_context *ctx, rc_resource *res, rc_xreq *req,
                       void *user) {
  (void)ctx;
  (void)user;
  const app_static *st = res->stat;
  if (rc__fast_paths_off) /* the test's general way: encoded */
    rc_exchange_respond(req, &st->msg);
  else
    rc_exchange_respond_tail(req, &st->msg, &st->tail);
}

/* r's static answer when dispatch would call static_get for a GET of
 * it: not observable (those go to rc__app_observe_dispatch). */
static inline const rc_msg_tail *static_answer(app_peer *p,
                                               const rc_resource *r,
                                               uint8_t *code) {
  if (!r || !r->stat || r->handlers[RC_GET] != static_get || r->observable)
    return NULL;
  *code = r->stat->msg.code;
  p->plain = 1;
  return &r->stat->tail;
}

/* rc__app_static_plain past the memo (a miss fills it): out of line, so
 * that a hit calls nothing. */
static __attribute__((noinline)) const rc_msg_tail *
static_plain_miss(app_peer *p, const rc_msg *m, uint8_t *code) {
  rc_resource *r;
  int exact;
  if (rc__app_match_msg(p->ctx, m, &r, &exact) != RC_OK)
    return NULL;
  return static_answer(p, r, code);
}

/* The exchange's on_plain (a request with nothing for the exchange to
 * do): a GET of a resource whose answer is static, when dispatch would
 * call static_get (no observation on the connection either: a GET there
 * goes to rc__app_observe_dispatch); the usual way for the rest. */
const rc_msg_tail *rc__app_static_plain(void *user, const rc_msg *m,
                                        uint8_t *code) {
  app_peer *p = user;
  if (m->code != RC_GET || p->obs)
    return NULL;
  rc_resource *r = rc__app_memo_hit(p->ctx, m);
  return r ? static_answer(p, r, code) : static_plain_miss(p, m, code);
}

rc_err rc_resource_set_static(rc_resource *res, uint8_t code,
                              int content_format, const void *payload,
                              size_t len) {
  if (!res || !rc_code_is_response(code) || content_format > 65535 ||
      (payload == NULL && len != 0))
    return RC_ERR_INVAL;
  uint8_t cf[4];
  size_t cfl = content_format >= 0
                   ? rc_opt_uint_encode((uint32_t)content_format, cf)
                   : 0;
  size_t olen = content_format >= 0 ? 1 + cfl : 0;
  size_t tlen = olen + (len ? 1 + len : 0);
  const rc_mem *mem = res->ctx->mem;
  app_static *st = mem->malloc(sizeof *st + tlen, mem->user);
  if (!st)
    return RC_ERR_NOMEM;
  memset(st, 0, sizeof *st);
  st->msg.code = code;
  if (content_format >= 0) {
    /* RFC 7252 §3.1: option 12 (Content-Format) as the first option is
     * delta 12, in the header's nibble; its value 0-2 bytes (§3.2). */
    st->bytes[0] = (uint8_t)(RC_OPT_CONTENT_FORMAT << 4 | cfl);
    memcpy(st->bytes + 1, cf, cfl);
    st->msg.opts = &st->opt;
    st->msg.nopts = 1;
    st->opt.num = RC_OPT_CONTENT_FORMAT;
    st->opt.len = (uint32_t)cfl;
    st->opt.val = st->bytes + 1;
  }
  if (len) {
    st->bytes[olen] = 0xFF; /* RFC 7252 §3.1 payload marker */
    memcpy(st->bytes + olen + 1, payload, len);
  }
  st->msg.payload = len ? st->bytes + olen + 1 : NULL;
  st->msg.payload_len = len;
  st->tail.bytes = st->bytes;
  st->tail.len = tlen;
  st->tail.opts_len = olen;
  rc__app_static_free(res);
  res->stat = st;
  res->handlers[RC_GET] = static_get;
  return RC_OK;
}

void rc__app_static_free(rc_resource *res) {
  if (res->stat)
    res->ctx->mem->free(res->stat, res->ctx->mem->user);
  res->stat = NULL;
}
