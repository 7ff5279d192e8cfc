/*
 * Fixed-size slots in mapped chunks (src/common/slab.c): slots are
 * distinct, 16-aligned and writable over their whole size; a full chunk
 * makes another; slots given back are handed out again; an emptied chunk
 * is unmapped (all but the last), so a pool grown to many chunks and
 * emptied keeps one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/slab.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#endif
#ifdef TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

enum { SLOT = 200, N = 1500 }; /* 200 -> 208 B: ~314 a chunk, 5 chunks */

static void test_slots_distinct_and_reused(void **state) {
  (void)state;
  rc__slab s = RC__SLAB_INIT(SLOT);
  static uint8_t *p[N];
  for (int i = 0; i < N; i++) {
    p[i] = rc__slab_alloc(&s);
    assert_non_null(p[i]);
    assert_int_equal((uintptr_t)p[i] % 16, 0);
    memset(p[i], (uint8_t)i, SLOT);
  }
  assert_int_equal(s.size, 208);
  size_t per = (RC__SLAB_CHUNK - 64) / 208;
  assert_int_equal(s.chunks, (N + per - 1) / per);
  /* no slot overlaps another: each still holds its own byte */
  for (int i = 0; i < N; i++)
    for (int j = 0; j < SLOT; j++)
      assert_int_equal(p[i][j], (uint8_t)i);
  /* a slot given back is the next one handed out */
  uint8_t *back = p[N / 2];
  rc__slab_free(&s, back);
  p[N / 2] = rc__slab_alloc(&s);
  assert_ptr_equal(p[N / 2], back);
  for (int i = 0; i < N; i++)
    rc__slab_free(&s, p[i]);
  assert_int_equal(s.chunks, 1); /* the others unmapped */
  /* the kept chunk serves again, and freeing NULL is nothing */
  rc__slab_free(&s, NULL);
  uint8_t *q = rc__slab_alloc(&s);
  assert_non_null(q);
  memset(q, 0xab, SLOT);
  rc__slab_free(&s, q);
  assert_int_equal(s.chunks, 1);
}

#ifdef TEST_ASAN
/* Under ASan a slot is addressable only while it is handed out: a use
 * after free (or of a slot never handed out) is reported like malloc's. */
static void test_free_slots_poisoned(void **state) {
  (void)state;
  rc__slab s = RC__SLAB_INIT(SLOT);
  uint8_t *a = rc__slab_alloc(&s);
  uint8_t *b = rc__slab_alloc(&s);
  assert_int_equal(__asan_region_is_poisoned(a, SLOT), 0);
  assert_non_null(__asan_region_is_poisoned(b + 208, SLOT)); /* not yet out */
  rc__slab_free(&s, a);
  assert_true(__asan_address_is_poisoned(a));
  assert_true(__asan_address_is_poisoned(a + SLOT - 1));
  uint8_t *c = rc__slab_alloc(&s);
  assert_ptr_equal(c, a);
  assert_int_equal(__asan_region_is_poisoned(c, SLOT), 0);
  rc__slab_free(&s, b);
  rc__slab_free(&s, c);
}
#endif

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_slots_distinct_and_reused),
#ifdef TEST_ASAN
      cmocka_unit_test(test_free_slots_poisoned),
#endif
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
