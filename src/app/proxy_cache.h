/*
 * The proxy's response cache (RFC 7252 §5.6, the same rules over RFC 8323
 * transports): entries keyed by the request's cache key, bounded in bytes,
 * least recently used evicted first, fresh while their Max-Age lasts,
 * refreshed by a 2.03 (Valid). No I/O and no clock of its own: callers
 * pass the time, so a test drives it with a fake clock.
 */
#ifndef RCOAP_APP_PROXY_CACHE_H
#define RCOAP_APP_PROXY_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "rcoap/codec_option.h"
#include "rcoap/common.h"

/* RFC 7252 §5.10.5: Max-Age defaults to 60 seconds. */
#define RC_PXC_MAX_AGE_DEFAULT 60u
/* Longest cache key kept (longer requests are not cached). */
#define RC_PXC_KEY_MAX 2560u

typedef struct px_cache px_cache;
typedef struct px_entry px_entry;

/* max_bytes: what all entries (keys, options, payloads, bookkeeping)
 * may take together. Returns 0 and *out, RC_ERR_INVAL (0) or NOMEM. */
rc_err rc__pxc_new(px_cache **out, size_t max_bytes);
void rc__pxc_free(px_cache *c);

/*
 * The cache key of a request (RFC 7252 §5.6.4: the request's options
 * except the NoCacheKey ones, plus the target): method, target URI, every
 * option but the NoCacheKey ones and those the proxy handles itself
 * (Hop-Limit, Observe, blocks, sizes, Request-Tag, ETag: validation is the
 * cache's job), and a FETCH body. Returns its length, or 0 when it does
 * not fit cap (then the request is not cached).
 */
size_t rc__pxc_key(uint8_t method, const char *uri, const rc_opt *opts,
                   size_t nopts, const uint8_t *payload, size_t plen,
                   uint8_t *buf, size_t cap);

/* Whether a response with code may be stored (RFC 7252 §5.9). */
int rc__pxc_cacheable(uint8_t code);

/* The entry for key, made the most recently used; NULL when none. */
px_entry *rc__pxc_get(px_cache *c, const uint8_t *key, size_t klen);

/*
 * Stores a response under key (replacing an older entry), evicting the
 * least recently used entries until it fits. opts are the response's
 * options to keep (Max-Age among them, or the default applies); now is
 * when it arrived. Returns 0, RC_ERR_LIMIT (larger than the whole cache:
 * not stored) or RC_ERR_NOMEM.
 */
rc_err rc__pxc_put(px_cache *c, const uint8_t *key, size_t klen, uint8_t code,
                   const rc_opt *opts, size_t nopts, const uint8_t *payload,
                   size_t plen, rc_time now);

/* A 2.03 (Valid) with these options arrived at now for e: fresh again
 * for the 2.03's Max-Age (RFC 7252 §5.9.1.3). */
void rc__pxc_refresh(px_entry *e, const rc_opt *opts, size_t nopts,
                     rc_time now);

/* Drops every entry for uri (whatever method and options): an unsafe
 * request changed the resource. */
void rc__pxc_invalidate(px_cache *c, const char *uri);

/* Milliseconds e stays fresh after now (0: stale). */
uint64_t rc__pxc_fresh_ms(const px_entry *e, rc_time now);

/*
 * e's stored response as sent from the cache at now: *code, its options
 * with Max-Age set to what is left (RFC 7252 §5.6.1: never longer than the
 * origin gave, counting the time spent here) into out (cap entries; the
 * Max-Age value in age_buf), the payload. Returns the option count.
 */
size_t rc__pxc_render(const px_entry *e, rc_time now, uint8_t *code,
                      rc_opt *out, size_t cap, uint8_t age_buf[4],
                      const uint8_t **payload, size_t *plen);

/* e's ETag: its length (0: none) and *etag. */
size_t rc__pxc_etag(const px_entry *e, const uint8_t **etag);

/* Bytes held and entries, for figures and tests. */
size_t rc__pxc_bytes(const px_cache *c);
size_t rc__pxc_count(const px_cache *c);

#endif
