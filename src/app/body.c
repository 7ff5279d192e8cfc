/*
 * Large bodies at the app level: per-resource upload limits and streaming
 * upload sinks (the exchange's on_body_start hook, routed to the resource
 * the upload goes to), and answers read from a source.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "app_int.h"

rc_ssize rc_fd_read(int fd, uint64_t off, uint8_t *buf, size_t cap) {
  size_t got = 0;
  while (got < cap) {
    ssize_t n = off == RC_FD_STREAM
                    ? read(fd, buf + got, cap - got)
                    : pread(fd, buf + got, cap - got, (off_t)(off + got));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return RC_ERR_IO;
    if (n == 0)
      break;
    got += (size_t)n;
  }
  return (rc_ssize)got;
}

rc_err rc_resource_body_limit(rc_resource *res, uint64_t max) {
  if (!res)
    return RC_ERR_INVAL;
  res->body_max = max;
  return RC_OK;
}

rc_err rc_resource_on_body(rc_resource *res, rc_body_start_fn fn) {
  if (!res)
    return RC_ERR_INVAL;
  res->on_body = fn;
  return RC_OK;
}

void rc__app_body_start(void *user, rc_exchange *x, rc_xreq *req) {
  app_peer *peer = user;
  rc_context *ctx = peer->ctx;
  const rc_msg *m = rc_xreq_msg(req);
  (void)x;
  if (rc__app_proxy_is_forward(req)) {
    rc__app_proxy_body_start(ctx, req); /* streamed, block by block */
    return;
  }
  rc_resource *r;
  int exact;
  if (rc__app_match_msg(ctx, m, &r, &exact) != RC_OK)
    return; /* the whole request gets its 4.13 from dispatch */
  if (rc__app_refuse_unknown(r, req))
    return; /* at the first block, not after the whole body */
  if (!r)
    return; /* the handler dispatch answers 4.04 at the end */
  if (m->code > RC_IPATCH || !r->handlers[m->code]) {
    /* Refuse at the first block rather than after the whole body. */
    rc_respond(req, RC_METHOD_NOT_ALLOWED, -1, NULL, 0);
    return;
  }
  if (r->body_max)
    rc_xreq_body_limit(req, r->body_max);
  if (r->on_body)
    r->on_body(ctx, r, req, r->user);
}

rc_err rc_respond_source(rc_xreq *req, uint8_t code, int content_format,
                         const uint8_t *etag, size_t etag_len,
                         const rc_body_source *src) {
  rc_opt opts[2];
  size_t n = 0;
  uint8_t cf[4];
  if (etag && etag_len) {
    opts[n].num = RC_OPT_ETAG;
    opts[n].val = etag;
    opts[n].len = (uint32_t)etag_len;
    n++;
  }
  if (content_format >= 0) {
    opts[n].num = RC_OPT_CONTENT_FORMAT;
    opts[n].len = (uint32_t)rc_opt_uint_encode((uint32_t)content_format, cf);
    opts[n].val = cf;
    n++;
  }
  rc_outmsg m = {code, opts, n, NULL, 0};
  return rc_exchange_respond_source(req, &m, src);
}
