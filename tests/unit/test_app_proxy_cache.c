/* The proxy's response cache (src/app/proxy_cache.c) on a fake clock:
 * keys (RFC 7252 §5.6.4), freshness and Max-Age aging (§5.6.1), 2.03
 * refresh (§5.9.1.3), what is cacheable (§5.9), LRU eviction within the
 * byte bound, invalidation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "app/proxy_cache.h"
#include "rcoap/codec_option.h"

static const char *U = "coap://127.0.0.1:5683/r";

static size_t key_of(const char *uri, const rc_opt *opts, size_t n,
                     uint8_t *buf) {
  return rc__pxc_key(RC_GET, uri, opts, n, NULL, 0, buf, RC_PXC_KEY_MAX);
}

static rc_opt max_age(uint8_t *buf, uint32_t v) {
  return (rc_opt){.num = RC_OPT_MAX_AGE,
                  .len = (uint32_t)rc_opt_uint_encode(v, buf),
                  .val = buf};
}

static uint32_t rendered_max_age(const px_entry *e, rc_time now) {
  rc_opt opts[8];
  uint8_t age[4], code;
  const uint8_t *p;
  size_t plen;
  size_t n = rc__pxc_render(e, now, &code, opts, 8, age, &p, &plen);
  for (size_t i = 0; i < n; i++)
    if (opts[i].num == RC_OPT_MAX_AGE) {
      uint32_t v = 0;
      assert_int_equal(rc_opt_uint(&opts[i], &v), RC_OK);
      return v;
    }
  fail_msg("no Max-Age rendered");
  return 0;
}

static void test_key(void **state) {
  (void)state;
  uint8_t a[RC_PXC_KEY_MAX], b[RC_PXC_KEY_MAX];
  uint8_t acc = 50, hop = 16, sz[2] = {4, 0};
  rc_opt accept = {.num = RC_OPT_ACCEPT, .len = 1, .val = &acc};
  rc_opt hl = {.num = RC_OPT_HOP_LIMIT, .len = 1, .val = &hop};
  rc_opt size1 = {.num = RC_OPT_SIZE1, .len = 2, .val = sz};
  rc_opt etag = {.num = RC_OPT_ETAG, .len = 1, .val = &acc};
  size_t la = key_of(U, &accept, 1, a);
  /* NoCacheKey (Size1), Hop-Limit and ETag do not change the key */
  rc_opt with[4] = {etag, accept, hl, size1};
  size_t lb = key_of(U, with, 4, b);
  assert_int_equal(la, lb);
  assert_memory_equal(a, b, la);
  /* Accept does; so does the target */
  lb = key_of(U, NULL, 0, b);
  assert_true(la != lb || memcmp(a, b, la));
  lb = key_of("coap://127.0.0.1:5683/s", &accept, 1, b);
  assert_true(la != lb || memcmp(a, b, la));
  /* a key that does not fit: not cached */
  assert_int_equal(rc__pxc_key(RC_GET, U, NULL, 0, NULL, 0, a, 8), 0);
}

static void test_freshness_and_age(void **state) {
  (void)state;
  px_cache *c;
  assert_int_equal(rc__pxc_new(&c, 1 << 20), RC_OK);
  uint8_t k[RC_PXC_KEY_MAX], mb[4];
  size_t kl = key_of(U, NULL, 0, k);
  rc_opt opts[1] = {max_age(mb, 10)};
  rc_time t0 = 1000000;
  assert_int_equal(rc__pxc_put(c, k, kl, RC_CONTENT, opts, 1,
                               (const uint8_t *)"hello", 5, t0),
                   RC_OK);
  px_entry *e = rc__pxc_get(c, k, kl);
  assert_non_null(e);
  assert_int_equal(rendered_max_age(e, t0), 10);
  /* 3.5 s later: 6 s left (rounded down, never more than the origin
   * gave) */
  assert_int_equal(rendered_max_age(e, t0 + 3500), 6);
  assert_true(rc__pxc_fresh_ms(e, t0 + 9999) > 0);
  assert_int_equal(rc__pxc_fresh_ms(e, t0 + 10000), 0);
  /* a 2.03 at t0 + 20 s with Max-Age 5: fresh again for 5 s */
  rc_opt v[1] = {max_age(mb, 5)};
  rc__pxc_refresh(e, v, 1, t0 + 20000);
  assert_int_equal(rendered_max_age(e, t0 + 20000), 5);
  assert_int_equal(rc__pxc_fresh_ms(e, t0 + 25000), 0);
  /* no Max-Age: 60 s (RFC 7252 §5.10.5) */
  rc__pxc_refresh(e, NULL, 0, t0);
  assert_int_equal(rendered_max_age(e, t0), RC_PXC_MAX_AGE_DEFAULT);
  rc__pxc_free(c);
}

static void test_cacheable(void **state) {
  (void)state;
  assert_true(rc__pxc_cacheable(RC_CONTENT));
  assert_true(rc__pxc_cacheable(RC_NOT_FOUND));
  assert_true(rc__pxc_cacheable(RC_BAD_GATEWAY));
  assert_false(rc__pxc_cacheable(RC_CREATED));
  assert_false(rc__pxc_cacheable(RC_DELETED));
  assert_false(rc__pxc_cacheable(RC_CHANGED));
  assert_false(rc__pxc_cacheable(RC_VALID));
}

static void test_lru_bound(void **state) {
  (void)state;
  px_cache *c;
  uint8_t body[1000] = {0};
  assert_int_equal(rc__pxc_new(&c, 4000), RC_OK);
  uint8_t keys[6][RC_PXC_KEY_MAX];
  size_t kl[6];
  char uri[64];
  for (int i = 0; i < 6; i++) {
    snprintf(uri, sizeof uri, "coap://h/%d", i);
    kl[i] = key_of(uri, NULL, 0, keys[i]);
  }
  /* three fit (each about 1.1 KB with bookkeeping) */
  for (int i = 0; i < 3; i++)
    assert_int_equal(
        rc__pxc_put(c, keys[i], kl[i], RC_CONTENT, NULL, 0, body, 1000, 0),
        RC_OK);
  assert_int_equal(rc__pxc_count(c), 3);
  assert_true(rc__pxc_bytes(c) <= 4000);
  /* 0 used now: 1 is the least recently used */
  assert_non_null(rc__pxc_get(c, keys[0], kl[0]));
  assert_int_equal(
      rc__pxc_put(c, keys[3], kl[3], RC_CONTENT, NULL, 0, body, 1000, 0),
      RC_OK);
  assert_true(rc__pxc_bytes(c) <= 4000);
  assert_null(rc__pxc_get(c, keys[1], kl[1]));
  assert_non_null(rc__pxc_get(c, keys[0], kl[0]));
  assert_non_null(rc__pxc_get(c, keys[2], kl[2]));
  assert_non_null(rc__pxc_get(c, keys[3], kl[3]));
  /* larger than the whole cache: refused, nothing evicted */
  uint8_t big[5000] = {0};
  assert_int_equal(
      rc__pxc_put(c, keys[4], kl[4], RC_CONTENT, NULL, 0, big, 5000, 0),
      RC_ERR_LIMIT);
  assert_int_equal(rc__pxc_count(c), 3);
  /* replacing an entry does not count it twice */
  assert_int_equal(
      rc__pxc_put(c, keys[0], kl[0], RC_CONTENT, NULL, 0, body, 10, 0),
      RC_OK);
  assert_int_equal(rc__pxc_count(c), 3);
  rc__pxc_free(c);
}

static void test_invalidate_and_etag(void **state) {
  (void)state;
  px_cache *c;
  assert_int_equal(rc__pxc_new(&c, 1 << 16), RC_OK);
  uint8_t k1[RC_PXC_KEY_MAX], k2[RC_PXC_KEY_MAX], k3[RC_PXC_KEY_MAX];
  uint8_t acc = 50;
  rc_opt accept = {.num = RC_OPT_ACCEPT, .len = 1, .val = &acc};
  rc_opt et = {.num = RC_OPT_ETAG, .len = 2, .val = (const uint8_t *)"v1"};
  size_t l1 = key_of(U, NULL, 0, k1), l2 = key_of(U, &accept, 1, k2);
  size_t l3 = key_of("coap://127.0.0.1:5683/r2", NULL, 0, k3);
  assert_int_equal(rc__pxc_put(c, k1, l1, RC_CONTENT, &et, 1, NULL, 0, 0),
                   RC_OK);
  assert_int_equal(rc__pxc_put(c, k2, l2, RC_CONTENT, NULL, 0, NULL, 0, 0),
                   RC_OK);
  assert_int_equal(rc__pxc_put(c, k3, l3, RC_CONTENT, NULL, 0, NULL, 0, 0),
                   RC_OK);
  const uint8_t *etag;
  px_entry *e = rc__pxc_get(c, k1, l1);
  assert_int_equal(rc__pxc_etag(e, &etag), 2);
  assert_memory_equal(etag, "v1", 2);
  /* every entry of /r goes, /r2 (a longer URI) stays */
  rc__pxc_invalidate(c, U);
  assert_null(rc__pxc_get(c, k1, l1));
  assert_null(rc__pxc_get(c, k2, l2));
  assert_non_null(rc__pxc_get(c, k3, l3));
  assert_int_equal(rc__pxc_count(c), 1);
  rc__pxc_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_key),
      cmocka_unit_test(test_freshness_and_age),
      cmocka_unit_test(test_cacheable),
      cmocka_unit_test(test_lru_bound),
      cmocka_unit_test(test_invalidate_and_etag),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
