/*
 * /.well-known/core (RFC 6690 §4): the context's resources as link-format,
 * filtered by the request's query as RFC 6690 §4.1 describes.
 */
#include <stdlib.h>
#include <string.h>

#include "app_int.h"
#include "rcoap/codec_link.h"

/* Link-format bodies up to this size are built on the stack. */
#define DISCOVERY_STACK_BUF 4096u

/* Writes res's link into w. */
static void write_link(rc_link_writer *w, const rc_resource *res) {
  rc_link_begin(w, res->path, res->path_len);
  for (const app_attr *a = res->attrs; a; a = a->next) {
    if (!a->value)
      rc_link_add_flag(w, a->name);
    else if (a->quoted)
      rc_link_add_quoted(w, a->name, a->value, strlen(a->value));
    else
      rc_link_add_token(w, a->name, a->value, strlen(a->value));
  }
  rc_link_end(w);
}

/* 1 if res passes the filter query[0..qlen) ("" passes everything). */
static int link_passes(const rc_resource *res, const char *query,
                       size_t qlen) {
  if (qlen == 0)
    return 1;
  char one[1024];
  rc_link_writer w;
  rc_link_writer_init(&w, one, sizeof one);
  write_link(&w, res);
  size_t len;
  if (rc_link_writer_finish(&w, &len) != RC_OK)
    return 0;
  rc_link_iter it;
  rc_link link;
  rc_link_iter_init(&it, one, len, 0);
  if (rc_link_next(&it, &link) != 1)
    return 0;
  return rc_link_match_query(&link, query, qlen);
}

size_t rc__app_core_links(rc_context *ctx, const char *query, size_t qlen, char *buf,
                    size_t cap, size_t *len) {
  rc_link_writer w;
  rc_link_writer_init(&w, buf, cap);
  for (const rc_resource *r = ctx->resources; r; r = r->next) {
    if (r->flags & RC_RES_HIDDEN)
      continue;
    if (link_passes(r, query, qlen))
      write_link(&w, r);
  }
  size_t needed = rc_link_writer_needed(&w);
  if (rc_link_writer_finish(&w, len) != RC_OK)
    *len = 0;
  return needed;
}

static void on_get_core(rc_context *ctx, rc_resource *res, rc_xreq *req,
                        void *user) {
  (void)res;
  (void)user;
  const rc_msg *m = rc_xreq_msg(req);
  /* RFC 6690 §4.1: "a single query parameter" filters; with several we
   * use the first. */
  char query[512];
  size_t qlen = 0;
  rc_opt o;
  if (rc_msg_find_opt(m, RC_OPT_URI_QUERY, &o)) {
    if (o.len >= sizeof query) {
      rc_respond(req, RC_BAD_REQUEST, RC_CF_TEXT_PLAIN, "query too long", 14);
      return;
    }
    memcpy(query, o.val, o.len);
    qlen = o.len;
    query[qlen] = 0;
  }
  char stack[DISCOVERY_STACK_BUF];
  size_t len;
  size_t needed = rc__app_core_links(ctx, query, qlen, stack, sizeof stack,
                                     &len);
  char *body = stack;
  if (needed > sizeof stack) {
    body = malloc(needed);
    if (!body) {
      rc_respond(req, RC_INTERNAL_SERVER_ERROR, -1, NULL, 0);
      return;
    }
    rc__app_core_links(ctx, query, qlen, body, needed, &len);
  }
  rc_err err = rc_respond(req, RC_CONTENT, RC_CF_LINK_FORMAT, body, len);
  if (err == RC_ERR_PEER_TOO_LARGE)
    rc_respond(req, RC_INTERNAL_SERVER_ERROR, RC_CF_TEXT_PLAIN,
               "resource list larger than the peer's Max-Message-Size", 53);
  if (body != stack)
    free(body);
}

rc_err rc__app_add_well_known_core(rc_context *ctx) {
  rc_resource *r;
  rc_err err = rc_resource_add(ctx, "/.well-known/core", RC_RES_HIDDEN, NULL, &r);
  if (err || (err = rc_resource_attr(r, "ct", "40", 0)))
    return err;
  return rc_resource_on(r, RC_GET, on_get_core);
}
