/*
 * Tests for src/codec/block.c: RFC 7959 §2.2 block values (NUM, M, SZX in
 * 0-3 bytes), the shortest encoding, the BERT exponent of RFC 8323 §6, and
 * sizes and offsets; the RFC 9177 §5 missing-blocks CBOR Sequence
 * (src/codec/missing.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "rcoap/codec_block.h"

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__})

/* RFC 9177 §5: the 4.08 payload is a CBOR Sequence of the missing block
 * numbers, each a CBOR unsigned integer in its shortest form. */
static void test_missing_encode(void **state) {
  (void)state;
  uint32_t nums[] = {4, 23, 24, 255, 256, 65536, RC_BLOCK_NUM_MAX};
  uint8_t out[32];
  size_t taken;
  size_t n = rc_missing_encode(nums, 7, out, sizeof out, &taken);
  static const uint8_t want[] = {0x04, 0x17, 0x18, 0x18, 0x18, 0xff,
                                 0x19, 0x01, 0x00, 0x1a, 0x00, 0x01,
                                 0x00, 0x00, 0x1a, 0x00, 0x0f, 0xff, 0xff};
  assert_int_equal(taken, 7);
  assert_int_equal(n, sizeof want);
  assert_memory_equal(out, want, sizeof want);
  /* Only whole numbers go in: 6 bytes of room hold 4, 23, 24 and 255. */
  n = rc_missing_encode(nums, 7, out, 6, &taken);
  assert_int_equal(n, 6);
  assert_int_equal(taken, 4);
  n = rc_missing_encode(nums, 7, out, 5, &taken);
  assert_int_equal(n, 4);
  assert_int_equal(taken, 3);
}

static void test_missing_parse(void **state) {
  (void)state;
  uint32_t got[4];
  size_t n = 99;
  assert_int_equal(rc_missing_parse(BYTES(0x00), 0, got, 4, &n), RC_OK);
  assert_int_equal(n, 0);
  assert_int_equal(rc_missing_parse(BYTES(0x03, 0x18, 0x20, 0x19, 0x01, 0x00),
                                    6, got, 4, &n),
                   RC_OK);
  assert_int_equal(n, 3);
  assert_int_equal(got[0], 3);
  assert_int_equal(got[1], 32);
  assert_int_equal(got[2], 256);
  /* More than fit: checked, the first max kept. */
  assert_int_equal(rc_missing_parse(BYTES(1, 2, 3, 4, 5, 6), 6, got, 4, &n),
                   RC_OK);
  assert_int_equal(n, 4);
  assert_int_equal(got[3], 4);
  /* An 8-byte head is read too (not shortest form, still a number). */
  assert_int_equal(rc_missing_parse(BYTES(0x1b, 0, 0, 0, 0, 0, 0, 0, 9), 9,
                                    got, 4, &n),
                   RC_OK);
  assert_int_equal(got[0], 9);
  /* Malformed: not ascending, a repeat, over 20 bits, a cut head, another
   * major type (an array, as a client might wrongly send), reserved and
   * indefinite additional information, a stray break. */
  assert_int_equal(rc_missing_parse(BYTES(5, 3), 2, got, 4, &n),
                   RC_ERR_BAD_BLOCK);
  assert_int_equal(rc_missing_parse(BYTES(4, 4), 2, got, 4, &n),
                   RC_ERR_BAD_BLOCK);
  assert_int_equal(rc_missing_parse(BYTES(0x1a, 0, 0x10, 0, 0), 5, got, 4, &n),
                   RC_ERR_BAD_BLOCK);
  assert_int_equal(rc_missing_parse(BYTES(0x19, 0x01), 2, got, 4, &n),
                   RC_ERR_BAD_BLOCK);
  assert_int_equal(rc_missing_parse(BYTES(0x18), 1, got, 4, &n),
                   RC_ERR_BAD_BLOCK);
  assert_int_equal(rc_missing_parse(BYTES(0x82, 1, 2), 3, got, 4, &n),
                   RC_ERR_BAD_BLOCK);
  assert_int_equal(rc_missing_parse(BYTES(0x1c), 1, got, 4, &n),
                   RC_ERR_BAD_BLOCK);
  assert_int_equal(rc_missing_parse(BYTES(0x1f), 1, got, 4, &n),
                   RC_ERR_BAD_BLOCK);
  assert_int_equal(rc_missing_parse(BYTES(0xff), 1, got, 4, &n),
                   RC_ERR_BAD_BLOCK);
}

static void test_decode(void **state) {
  (void)state;
  rc_block b;
  /* empty value: NUM 0, M 0, SZX 0 (RFC 7959 §2.2, uint 0) */
  assert_int_equal(rc_block_decode(NULL, 0, &b), RC_OK);
  assert_int_equal(b.num, 0);
  assert_int_equal(b.more, 0);
  assert_int_equal(b.szx, 0);
  /* RFC 7959 §3.1 example: Block2 0/1/128 = NUM 0, M 1, SZX 3 -> 0x0b */
  assert_int_equal(rc_block_decode(BYTES(0x0b), 1, &b), RC_OK);
  assert_int_equal(b.num, 0);
  assert_int_equal(b.more, 1);
  assert_int_equal(b.szx, 3);
  assert_int_equal(rc_block_size(b.szx), 128);
  /* 2/0/128: 0x23 */
  assert_int_equal(rc_block_decode(BYTES(0x23), 1, &b), RC_OK);
  assert_int_equal(b.num, 2);
  assert_int_equal(b.more, 0);
  assert_int_equal(rc_block_offset(&b), 256);
  /* three bytes: the largest NUM */
  assert_int_equal(rc_block_decode(BYTES(0xff, 0xff, 0xfe), 3, &b), RC_OK);
  assert_int_equal(b.num, RC_BLOCK_NUM_MAX);
  assert_int_equal(b.more, 1);
  assert_int_equal(b.szx, 6);
  /* BERT: SZX 7, 1024-byte units (RFC 8323 §6) */
  assert_int_equal(rc_block_decode(BYTES(0x1f), 1, &b), RC_OK);
  assert_int_equal(b.szx, RC_BLOCK_SZX_BERT);
  assert_int_equal(rc_block_size(b.szx), 1024);
  assert_int_equal(rc_block_offset(&b), 1024);
  assert_int_equal(rc_block_decode(BYTES(0, 0, 0, 1), 4, &b), RC_ERR_BAD_BLOCK);
}

static void test_encode(void **state) {
  (void)state;
  uint8_t out[3];
  rc_block b = {0, 0, 0};
  assert_int_equal(rc_block_encode(&b, out), 0);
  b = (rc_block){0, 1, 3};
  assert_int_equal(rc_block_encode(&b, out), 1);
  assert_int_equal(out[0], 0x0b);
  b = (rc_block){15, 1, 7};
  assert_int_equal(rc_block_encode(&b, out), 1);
  assert_int_equal(out[0], 0xff);
  b = (rc_block){16, 0, 0};
  assert_int_equal(rc_block_encode(&b, out), 2);
  assert_int_equal(out[0], 0x01);
  assert_int_equal(out[1], 0x00);
  b = (rc_block){4096, 0, 6};
  assert_int_equal(rc_block_encode(&b, out), 3);
  b = (rc_block){RC_BLOCK_NUM_MAX + 1, 0, 0};
  assert_false(rc_block_valid(&b));
  b = (rc_block){1, 0, 8};
  assert_false(rc_block_valid(&b));
  b = (rc_block){1, 2, 0};
  assert_false(rc_block_valid(&b));
  /* every value round-trips through decode(encode()) */
  for (uint32_t num = 0; num <= RC_BLOCK_NUM_MAX; num += 97) {
    for (uint8_t szx = 0; szx <= 7; szx++) {
      for (uint8_t m = 0; m <= 1; m++) {
        rc_block x = {num, m, szx}, y;
        assert_true(rc_block_valid(&x));
        size_t n = rc_block_encode(&x, out);
        assert_int_equal(rc_block_decode(out, n, &y), RC_OK);
        assert_int_equal(y.num, num);
        assert_int_equal(y.more, m);
        assert_int_equal(y.szx, szx);
        assert_true(n == 0 || out[0] != 0); /* shortest form */
      }
    }
  }
}

static void test_szx_for(void **state) {
  (void)state;
  assert_int_equal(rc_block_szx_for(0), -1);
  assert_int_equal(rc_block_szx_for(15), -1);
  assert_int_equal(rc_block_szx_for(16), 0);
  assert_int_equal(rc_block_szx_for(31), 0);
  assert_int_equal(rc_block_szx_for(32), 1);
  assert_int_equal(rc_block_szx_for(1023), 5);
  assert_int_equal(rc_block_szx_for(1024), 6);
  assert_int_equal(rc_block_szx_for(1000000), 6);
  for (uint8_t s = 0; s <= 6; s++)
    assert_int_equal(rc_block_size(s), 16u << s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode),
      cmocka_unit_test(test_missing_encode),
      cmocka_unit_test(test_missing_parse),
      cmocka_unit_test(test_encode),
      cmocka_unit_test(test_szx_for),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
