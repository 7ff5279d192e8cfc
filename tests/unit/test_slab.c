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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_slots_distinct_and_reused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
