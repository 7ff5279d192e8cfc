/*
 * The proxy's response cache (proxy_cache.h): a hash table of entries on
 * one LRU list, each entry one allocation (key, options, payload).
 */
#include <stdlib.h>
#include <string.h>

#include "proxy_cache.h"
#include "rcoap/codec_option.h"

#define PXC_BUCKETS 1024u

struct px_entry {
  px_entry *prev, *next; /* LRU: head most recent */
  px_entry *hnext;
  uint64_t hash;
  size_t bytes; /* what it counts against the bound */
  uint8_t *key;
  size_t key_len;
  uint8_t code;
  rc_opt *opts; /* without Max-Age; values in the entry */
  size_t nopts;
  uint8_t *payload;
  size_t payload_len;
  rc_time stored;   /* when it was last fresh from the origin */
  uint32_t max_age; /* seconds from stored */
};

struct px_cache {
  size_t max_bytes, bytes, count;
  px_entry *head, *tail;
  px_entry *buckets[PXC_BUCKETS];
};

static uint64_t fnv(const uint8_t *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

rc_err rc__pxc_new(px_cache **out, size_t max_bytes) {
  if (!out || !max_bytes)
    return RC_ERR_INVAL;
  px_cache *c = calloc(1, sizeof *c);
  if (!c)
    return RC_ERR_NOMEM;
  c->max_bytes = max_bytes;
  *out = c;
  return RC_OK;
}

static void lru_unlink(px_cache *c, px_entry *e) {
  if (e->prev)
    e->prev->next = e->next;
  else
    c->head = e->next;
  if (e->next)
    e->next->prev = e->prev;
  else
    c->tail = e->prev;
  e->prev = e->next = NULL;
}

static void lru_front(px_cache *c, px_entry *e) {
  e->next = c->head;
  if (c->head)
    c->head->prev = e;
  c->head = e;
  if (!c->tail)
    c->tail = e;
}

static void entry_drop(px_cache *c, px_entry *e) {
  px_entry **pp = &c->buckets[e->hash % PXC_BUCKETS];
  while (*pp != e)
    pp = &(*pp)->hnext;
  *pp = e->hnext;
  lru_unlink(c, e);
  c->bytes -= e->bytes;
  c->count--;
  free(e);
}

void rc__pxc_free(px_cache *c) {
  if (!c)
    return;
  while (c->head)
    entry_drop(c, c->head);
  free(c);
}

/* Options the proxy sets or handles itself, never part of the key. */
static int not_key(uint16_t num) {
  switch (num) {
  case RC_OPT_HOP_LIMIT:
  case RC_OPT_OBSERVE:
  case RC_OPT_BLOCK1:
  case RC_OPT_BLOCK2:
  case RC_OPT_SIZE2:
  case RC_OPT_REQUEST_TAG:
  case RC_OPT_ETAG:
  case RC_OPT_PROXY_URI:
  case RC_OPT_PROXY_SCHEME:
    return 1;
  default:
    return rc_opt_is_no_cache_key(num); /* Size1, Size2, ... */
  }
}

size_t rc__pxc_key(uint8_t method, const char *uri, const rc_opt *opts,
                   size_t nopts, const uint8_t *payload, size_t plen,
                   uint8_t *buf, size_t cap) {
  size_t ulen = strlen(uri), n = 0;
  if (cap < ulen + 2)
    return 0;
  buf[n++] = method;
  memcpy(buf + n, uri, ulen);
  n += ulen;
  buf[n++] = 0;
  for (size_t i = 0; i < nopts; i++) {
    if (not_key(opts[i].num))
      continue;
    if (n + 4 + opts[i].len > cap)
      return 0;
    buf[n++] = (uint8_t)(opts[i].num >> 8);
    buf[n++] = (uint8_t)opts[i].num;
    buf[n++] = (uint8_t)(opts[i].len >> 8);
    buf[n++] = (uint8_t)opts[i].len;
    if (opts[i].len)
      memcpy(buf + n, opts[i].val, opts[i].len);
    n += opts[i].len;
  }
  if (method == RC_FETCH && plen) {
    if (n + plen > cap)
      return 0;
    memcpy(buf + n, payload, plen);
    n += plen;
  }
  return n;
}

int rc__pxc_cacheable(uint8_t code) {
  /* RFC 7252 §5.9 (paraphrased; its text is not in the shared specs):
   * 2.05 Content may be reused for later requests; 2.01, 2.02 and 2.04
   * are not cacheable; 2.03 only refreshes a stored response; 4.xx and
   * 5.xx responses are cacheable. */
  return code == RC_CONTENT || RC_CODE_CLASS(code) == 4 ||
         RC_CODE_CLASS(code) == 5;
}

px_entry *rc__pxc_get(px_cache *c, const uint8_t *key, size_t klen) {
  uint64_t h = fnv(key, klen);
  for (px_entry *e = c->buckets[h % PXC_BUCKETS]; e; e = e->hnext)
    if (e->hash == h && e->key_len == klen && !memcmp(e->key, key, klen)) {
      lru_unlink(c, e);
      lru_front(c, e);
      return e;
    }
  return NULL;
}

static uint32_t max_age_of(const rc_opt *opts, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint32_t v;
    if (opts[i].num == RC_OPT_MAX_AGE && rc_opt_uint(&opts[i], &v) == RC_OK)
      return v;
  }
  return RC_PXC_MAX_AGE_DEFAULT;
}

rc_err rc__pxc_put(px_cache *c, const uint8_t *key, size_t klen, uint8_t code,
                   const rc_opt *opts, size_t nopts, const uint8_t *payload,
                   size_t plen, rc_time now) {
  size_t vals = 0, kept = 0;
  for (size_t i = 0; i < nopts; i++)
    if (opts[i].num != RC_OPT_MAX_AGE) {
      vals += opts[i].len;
      kept++;
    }
  size_t size = sizeof(px_entry) + kept * sizeof(rc_opt) + klen + vals + plen;
  if (size > c->max_bytes)
    return RC_ERR_LIMIT;
  px_entry *old = rc__pxc_get(c, key, klen);
  if (old)
    entry_drop(c, old);
  while (c->bytes + size > c->max_bytes && c->tail)
    entry_drop(c, c->tail);
  px_entry *e = malloc(size);
  if (!e)
    return RC_ERR_NOMEM;
  memset(e, 0, sizeof *e);
  e->opts = (rc_opt *)(e + 1);
  uint8_t *v = (uint8_t *)(e->opts + kept);
  e->key = v;
  memcpy(v, key, klen);
  e->key_len = klen;
  v += klen;
  for (size_t i = 0; i < nopts; i++) {
    if (opts[i].num == RC_OPT_MAX_AGE)
      continue;
    rc_opt *o = &e->opts[e->nopts++];
    *o = opts[i];
    if (opts[i].len)
      memcpy(v, opts[i].val, opts[i].len);
    o->val = v;
    v += opts[i].len;
  }
  e->payload = v;
  e->payload_len = plen;
  if (plen)
    memcpy(v, payload, plen);
  e->code = code;
  e->bytes = size;
  e->stored = now;
  e->max_age = max_age_of(opts, nopts);
  e->hash = fnv(key, klen);
  px_entry **b = &c->buckets[e->hash % PXC_BUCKETS];
  e->hnext = *b;
  *b = e;
  lru_front(c, e);
  c->bytes += size;
  c->count++;
  return RC_OK;
}

void rc__pxc_refresh(px_entry *e, const rc_opt *opts, size_t nopts,
                     rc_time now) {
  /* RFC 7252 §5.9.1.3 (paraphrased): on a 2.03 the cache updates the
   * stored response with the 2.03's Max-Age, explicit or the default. */
  e->stored = now;
  e->max_age = max_age_of(opts, nopts);
}

void rc__pxc_invalidate(px_cache *c, const char *uri) {
  size_t ulen = strlen(uri);
  for (px_entry *e = c->head, *next; e; e = next) {
    next = e->next;
    if (e->key_len > ulen + 1 && !memcmp(e->key + 1, uri, ulen) &&
        e->key[ulen + 1] == 0)
      entry_drop(c, e);
  }
}

uint64_t rc__pxc_fresh_ms(const px_entry *e, rc_time now) {
  rc_time age_ms = now > e->stored ? now - e->stored : 0;
  uint64_t life_ms = (uint64_t)e->max_age * 1000u;
  return age_ms < life_ms ? life_ms - age_ms : 0;
}

size_t rc__pxc_render(const px_entry *e, rc_time now, uint8_t *code,
                      rc_opt *out, size_t cap, uint8_t age_buf[4],
                      const uint8_t **payload, size_t *plen) {
  size_t n = 0;
  for (size_t i = 0; i < e->nopts && n + 1 < cap; i++)
    out[n++] = e->opts[i];
  /* RFC 7252 §5.6.1 (paraphrased): an answer from the cache must not
   * extend the Max-Age the origin gave, counting the time it spent in
   * the cache: proxy-max-age = original-max-age - cache-age. */
  /* whole seconds left, rounded down: never longer than the origin said */
  uint64_t left = rc__pxc_fresh_ms(e, now) / 1000u;
  size_t al = rc_opt_uint_encode((uint32_t)left, age_buf);
  out[n++] =
      (rc_opt){.num = RC_OPT_MAX_AGE, .len = (uint32_t)al, .val = age_buf};
  rc_opts_sort(out, n);
  *code = e->code;
  *payload = e->payload;
  *plen = e->payload_len;
  return n;
}

size_t rc__pxc_etag(const px_entry *e, const uint8_t **etag) {
  for (size_t i = 0; i < e->nopts; i++)
    if (e->opts[i].num == RC_OPT_ETAG) {
      *etag = e->opts[i].val;
      return e->opts[i].len;
    }
  return 0;
}

size_t rc__pxc_bytes(const px_cache *c) { return c->bytes; }
size_t rc__pxc_count(const px_cache *c) { return c->count; }
