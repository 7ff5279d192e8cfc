/*
 * The resource table and request dispatch: resources by exact path in a
 * hash table (plus prefix resources that serve a whole subtree), the
 * request's path built once from its Uri-Path options, and the automatic
 * answers 4.04, 4.05 and 4.06 (an Accept the resource's "ct" attribute
 * does not list). Also the small helpers handlers use to read a
 * request and answer it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_int.h"
#include "common/short_eq.h"

uint32_t rc__app_path_hash(const char *s, size_t n) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < n; i++)
    h = (h ^ (uint8_t)s[i]) * 16777619u;
  return h;
}

static rc_resource *res_find(rc_context *ctx, const char *path, size_t n) {
  uint32_t h = rc__app_path_hash(path, n);
  for (rc_resource *r = ctx->buckets[h % APP_RES_BUCKETS]; r; r = r->hnext)
    if (r->hash == h && r->path_len == n && !memcmp(r->path, path, n))
      return r;
  return NULL;
}

rc_err rc_resource_add(rc_context *ctx, const char *path, unsigned flags,
                       void *user, rc_resource **out) {
  if (!ctx || !path || path[0] != '/')
    return RC_ERR_INVAL;
  size_t n = strlen(path);
  if (n > 1 && path[n - 1] == '/')
    n--; /* "/store/" is "/store" */
  if (n >= RC_APP_PATH_MAX)
    return RC_ERR_INVAL;
  if (res_find(ctx, path, n))
    return RC_ERR_EXISTS;
  rc_resource *r = ctx->mem->malloc(sizeof *r, ctx->mem->user);
  if (!r)
    return RC_ERR_NOMEM;
  memset(r, 0, sizeof *r);
  r->path = ctx->mem->malloc(n + 1, ctx->mem->user);
  if (!r->path) {
    ctx->mem->free(r, ctx->mem->user);
    return RC_ERR_NOMEM;
  }
  memcpy(r->path, path, n);
  r->path[n] = 0;
  r->path_len = n;
  r->flags = flags;
  r->user = user;
  r->ctx = ctx;
  r->hash = rc__app_path_hash(r->path, n);
  rc_resource **b = &ctx->buckets[r->hash % APP_RES_BUCKETS];
  r->hnext = *b;
  *b = r;
  rc__app_memo_clear(ctx); /* a lookup may find r now */
  rc_resource **pp = &ctx->resources;
  while (*pp && strcmp((*pp)->path, r->path) < 0)
    pp = &(*pp)->next;
  r->next = *pp;
  *pp = r;
  if (out)
    *out = r;
  return RC_OK;
}

rc_err rc_resource_on(rc_resource *res, uint8_t method, rc_handler h) {
  if (!res || method < RC_GET || method > RC_IPATCH)
    return RC_ERR_INVAL;
  res->handlers[method] = h;
  return RC_OK;
}

rc_err rc_resource_attr(rc_resource *res, const char *name, const char *value,
                        int quoted) {
  if (!res || !name || !*name)
    return RC_ERR_INVAL;
  /* The context's allocator is reached through the table that owns res;
   * attributes use the C library like the strings of the path. */
  const rc_mem *mem = rc_mem_default();
  app_attr *a = mem->malloc(sizeof *a, mem->user);
  if (!a)
    return RC_ERR_NOMEM;
  memset(a, 0, sizeof *a);
  size_t nl = strlen(name) + 1;
  a->name = mem->malloc(nl, mem->user);
  if (a->name)
    memcpy(a->name, name, nl);
  if (value) {
    size_t vl = strlen(value) + 1;
    a->value = mem->malloc(vl, mem->user);
    if (a->value)
      memcpy(a->value, value, vl);
  }
  if (!a->name || (value && !a->value)) {
    mem->free(a->name, mem->user);
    mem->free(a->value, mem->user);
    mem->free(a, mem->user);
    return RC_ERR_NOMEM;
  }
  a->quoted = quoted;
  if (res->attrs_tail)
    res->attrs_tail->next = a;
  else
    res->attrs = a;
  res->attrs_tail = a;
  return RC_OK;
}

static void res_free(rc_context *ctx, rc_resource *r) {
  rc__app_observe_res_gone(r);
  rc__app_static_free(r);
  const rc_mem *mem = rc_mem_default();
  for (app_attr *a = r->attrs; a;) {
    app_attr *n = a->next;
    mem->free(a->name, mem->user);
    mem->free(a->value, mem->user);
    mem->free(a, mem->user);
    a = n;
  }
  ctx->mem->free(r->path, ctx->mem->user);
  ctx->mem->free(r, ctx->mem->user);
}

rc_err rc_resource_remove(rc_context *ctx, const char *path) {
  size_t n = strlen(path);
  if (n > 1 && path[n - 1] == '/')
    n--;
  rc_resource *r = res_find(ctx, path, n);
  if (!r || !strcmp(r->path, "/.well-known/core"))
    return RC_ERR_NOT_FOUND;
  rc_resource **pp = &ctx->buckets[r->hash % APP_RES_BUCKETS];
  while (*pp != r)
    pp = &(*pp)->hnext;
  *pp = r->hnext;
  for (pp = &ctx->resources; *pp != r; pp = &(*pp)->next)
    ;
  *pp = r->next;
  rc__app_memo_clear(ctx); /* lookups that found r */
  res_free(ctx, r);
  return RC_OK;
}

void rc__app_resources_free(rc_context *ctx) {
  while (ctx->resources) {
    rc_resource *r = ctx->resources;
    ctx->resources = r->next;
    res_free(ctx, r);
  }
  memset(ctx->buckets, 0, sizeof ctx->buckets);
  rc__app_memo_clear(ctx);
}

const char *rc_resource_path(const rc_resource *res) { return res->path; }
void *rc_resource_user(const rc_resource *res) { return res->user; }

/* ---- reading requests ------------------------------------------------------ */

rc_ssize rc_req_path(const rc_xreq *req, char *buf, size_t cap) {
  const rc_msg *m = rc_xreq_msg(req);
  if (!m)
    return RC_ERR_STATE;
  return rc_msg_path(m, buf, cap);
}

rc_err rc_respond(rc_xreq *req, uint8_t code, int content_format,
                  const void *payload, size_t len) {
  uint8_t cf[4];
  rc_opt opt;
  rc_outmsg m = {code, NULL, 0, payload, len};
  if (content_format >= 0) {
    opt.num = RC_OPT_CONTENT_FORMAT;
    if (content_format < 256) { /* the usual one: 0 or 1 byte (RFC 7252 §3.2) */
      cf[0] = (uint8_t)content_format;
      opt.len = content_format != 0;
    } else {
      opt.len = (uint32_t)rc_opt_uint_encode((uint32_t)content_format, cf);
    }
    opt.val = cf;
    m.opts = &opt;
    m.nopts = 1;
  }
  return rc_exchange_respond(req, &m);
}

/* ---- dispatch ------------------------------------------------------------ */

rc_resource *rc__app_match(rc_context *ctx, const char *path, size_t n) {
  rc_resource *r = res_find(ctx, path, n);
  if (r)
    return r;
  /* The longest prefix resource that is an ancestor of path. */
  rc_resource *best = NULL;
  for (rc_resource *p = ctx->resources; p; p = p->next) {
    if (!(p->flags & RC_RES_PREFIX) || p->path_len > n)
      continue;
    int root = p->path_len == 1;
    if (!memcmp(p->path, path, p->path_len) &&
        (root || path[p->path_len] == '/') &&
        (!best || p->path_len > best->path_len))
      best = p;
  }
  return best;
}

/*
 * A request's path looked up straight from its Uri-Path options, without
 * writing the path out: the options' values are the segments of
 * "/seg/seg", hashed as that string would be (FNV-1a, rc__app_path_hash)
 * in the same walk, and a candidate resource's path is compared with them
 * segment by segment. A path that rc_msg_path would escape (a segment
 * holding '/', '%' or a control byte), or one of more than APP_SEGS_MAX
 * segments, is matched as a string instead (rc__app_match).
 */
#define APP_SEGS_MAX 16

typedef struct app_segs {
  const uint8_t *val[APP_SEGS_MAX];
  uint32_t len[APP_SEGS_MAX];
  size_t n;     /* segments */
  size_t plen;  /* length of the path they make ("/" for none) */
  uint32_t hash;
} app_segs;

/* 1 for a byte rc_msg_path writes as %XX (msg_read.c: path_needs_escape). */
static int seg_byte_escaped(uint8_t c) {
  return c == '/' || c == '%' || c < 0x20 || c == 0x7f;
}

/* Reads m's Uri-Path options into s; 0 when they have to be matched as a
 * string (escaped bytes, too many segments, a path too long). */
static int segs_read(const rc_msg *m, app_segs *s) {
  rc_opt_iter it;
  rc_opt o;
  uint32_t h = 2166136261u; /* FNV-1a, as rc__app_path_hash */
  size_t n = 0, plen = 0;
  rc_opt_iter_init(&it, m);
  while (rc_opt_next_of(&it, RC_OPT_URI_PATH, &o)) {
    if (n == APP_SEGS_MAX)
      return 0;
    h = (h ^ (uint8_t)'/') * 16777619u;
    for (uint32_t i = 0; i < o.len; i++) {
      uint8_t c = o.val[i];
      if (seg_byte_escaped(c))
        return 0;
      h = (h ^ c) * 16777619u;
    }
    s->val[n] = o.val;
    s->len[n] = o.len;
    n++;
    plen += 1 + (size_t)o.len;
  }
  if (plen + 1 >= RC_APP_PATH_MAX)
    return 0; /* rc_msg_path tells whether it fits */
  if (n == 0) {
    h = (2166136261u ^ (uint8_t)'/') * 16777619u;
    plen = 1;
  }
  s->n = n;
  s->plen = plen;
  s->hash = h;
  return 1;
}

/* a[0..n) == b[0..n): segments are short, so up to 16 bytes are
 * compared by loads, not by a call to memcmp. */
static int seg_eq(const uint8_t *a, const uint8_t *b, size_t n) {
  return n <= 16 ? rc__short_eq(a, b, n) : memcmp(a, b, n) == 0;
}

/* path (of length s->plen) is the path the segments make. */
static int segs_equal(const app_segs *s, const char *path) {
  size_t at = 0;
  for (size_t k = 0; k < s->n; k++) {
    if (path[at] != '/' ||
        !seg_eq((const uint8_t *)path + at + 1, s->val[k], s->len[k]))
      return 0;
    at += 1 + (size_t)s->len[k];
  }
  return 1; /* no segments: plen 1, and every path starts with '/' */
}

/* How much of path[0..len) the first segments of s make up, to a segment
 * boundary: len when path is "/", or the join of the first k segments for
 * some k; else 0. */
static size_t segs_prefix(const app_segs *s, const char *path, size_t len) {
  if (len == 1)
    return 1; /* "/": the root is every path's ancestor */
  size_t at = 0;
  for (size_t k = 0; k < s->n && at < len; k++) {
    size_t l = s->len[k];
    if (path[at] != '/' || at + 1 + l > len)
      return 0;
    if (!seg_eq((const uint8_t *)path + at + 1, s->val[k], l))
      return 0;
    at += 1 + l;
  }
  return at == len ? len : 0;
}

void rc__app_memo_clear(rc_context *ctx) {
  memset(ctx->memo, 0, sizeof ctx->memo);
}

static rc_err match_segs(rc_context *ctx, const rc_msg *m, rc_resource **out,
                         int *exact);

rc_err rc__app_match_msg(rc_context *ctx, const rc_msg *m, rc_resource **out,
                         int *exact) {
  app_memo_key k;
  if (!rc__app_memo_key(m, &k))
    return match_segs(ctx, m, out, exact);
  struct app_memo *e = rc__app_memo_slot(ctx, &k);
  if (e->len == k.len && e->w0 == k.w0 && e->w1 == k.w1) {
    *out = e->r;
    *exact = e->exact;
    return RC_OK;
  }
  rc_err err = match_segs(ctx, m, out, exact);
  if (err == RC_OK && !rc__fast_paths_off) {
    e->w0 = k.w0;
    e->w1 = k.w1;
    e->len = k.len;
    e->r = *out;
    e->exact = (uint8_t)*exact;
  }
  return err;
}

/* The lookup itself (rc__app_match_msg without the memo); kept out of
 * line so that a memo hit does not pay its stack frame. */
static __attribute__((noinline)) rc_err
match_segs(rc_context *ctx, const rc_msg *m, rc_resource **out, int *exact) {
  app_segs s;
  *out = NULL;
  *exact = 0;
  if (!segs_read(m, &s)) {
    char path[RC_APP_PATH_MAX];
    rc_ssize n = rc_msg_path(m, path, sizeof path);
    if (n < 0)
      return RC_ERR_NOBUF;
    *out = rc__app_match(ctx, path, (size_t)n);
    *exact = *out && (*out)->path_len == (size_t)n;
    return RC_OK;
  }
  for (rc_resource *r = ctx->buckets[s.hash % APP_RES_BUCKETS]; r;
       r = r->hnext)
    if (r->hash == s.hash && r->path_len == s.plen && segs_equal(&s, r->path)) {
      *out = r;
      *exact = 1;
      return RC_OK;
    }
  rc_resource *best = NULL;
  for (rc_resource *p = ctx->resources; p; p = p->next)
    if ((p->flags & RC_RES_PREFIX) && p->path_len < s.plen &&
        (!best || p->path_len > best->path_len) &&
        segs_prefix(&s, p->path, p->path_len))
      best = p;
  *out = best;
  return RC_OK;
}

/* Whether r can answer in the format m's Accept names: yes without an
 * Accept, or when r declares no formats (no "ct" attribute, RFC 6690
 * §7.2.1), else only a format it lists. */
static int acceptable(const rc_resource *r, const rc_xreq *req) {
  rc_opt o;
  uint32_t want;
  if (!rc_msg_find_opt(rc_xreq_msg(req), RC_OPT_ACCEPT, &o) ||
      rc_opt_uint(&o, &want) != 0)
    return 1;
  int declared = 0;
  for (const app_attr *a = r->attrs; a; a = a->next) {
    if (strcmp(a->name, "ct") != 0 || !a->value)
      continue;
    declared = 1;
    for (const char *p = a->value; *p;) {
      char *end;
      unsigned long v = strtoul(p, &end, 10);
      if (end == p)
        break;
      if (v == want)
        return 1;
      p = end + strspn(end, " ");
    }
  }
  return !declared;
}

int rc__app_refuse_unknown(const rc_resource *r, rc_xreq *req) {
  uint16_t num = rc_xreq_unknown_forwardable(req);
  if (!num || (r && (r->flags & APP_RES_FORWARDS)))
    return 0;
  (void)rc_xreq_refuse_option(req, num);
  return 1;
}

void rc__app_dispatch(void *user, rc_exchange *x, rc_xreq *req) {
  app_peer *peer = user;
  rc_context *ctx = peer->ctx;
  const rc_msg *m = rc_xreq_msg(req);
  (void)x;
  peer->plain = 0; /* the usual way after all: the timer is looked at */
  /* The options that take a request off the plain way, tested at once. */
  int rare = rc_xreq_has_any(req, 1ull << RC_OPT_PROXY_URI |
                                      1ull << RC_OPT_PROXY_SCHEME |
                                      1ull << RC_OPT_ACCEPT);
  /* A request for another origin goes to the proxy (or gets 5.05). */
  if (rare && rc__app_proxy_request(ctx, req))
    return;
  rc_resource *r;
  int exact;
  if (rc__app_match_msg(ctx, m, &r, &exact) != RC_OK) {
    rc_respond(req, RC_REQUEST_ENTITY_TOO_LARGE, RC_CF_TEXT_PLAIN,
               "path too long", 13);
    return;
  }
  if (rc__app_refuse_unknown(r, req))
    return;
  if (!r) {
    rc_respond(req, RC_NOT_FOUND, -1, NULL, 0);
    return;
  }
  rc_handler h = m->code <= RC_IPATCH ? r->handlers[m->code] : NULL;
  if (!h) {
    /* RFC 7252 §5.9.2.6: 4.05 when the resource does not support the
     * method. */
    rc_respond(req, RC_METHOD_NOT_ALLOWED, -1, NULL, 0);
    return;
  }
  /* A prefix resource's "ct" describes the resource itself, not the
   * subtree it serves. */
  if (rare && (m->code == RC_GET || m->code == RC_FETCH) && exact &&
      !acceptable(r, req)) {
    /* RFC 7252 §5.10.4: "If the preferred Content-Format cannot be
     * returned, then a 4.06 "Not Acceptable" MUST be sent as a
     * response, unless another error code takes precedence for this
     * response." */
    rc_respond(req, RC_NOT_ACCEPTABLE, RC_CF_TEXT_PLAIN, "not acceptable",
               14);
    return;
  }
  if (m->code == RC_GET && (r->observable || peer->obs)) {
    rc__app_observe_dispatch(ctx, r, peer, req, h); /* observe.c */
    return;
  }
  h(ctx, r, req, r->user);
}
