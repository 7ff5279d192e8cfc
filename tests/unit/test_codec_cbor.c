/*
 * rc_cbor_diag against RFC 8949 Appendix A: each encoded example and the
 * diagnostic notation the RFC gives for it; malformed input gets the
 * codec's error; a buffer of 12 * len + 16 is always enough.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rcoap/codec_cbor.h"

static size_t unhex(const char *h, uint8_t *out) {
  size_t n = 0;
  for (; h[0] && h[1]; h += 2) {
    unsigned v;
    sscanf(h, "%2x", &v);
    out[n++] = (uint8_t)v;
  }
  return n;
}

static rc_err diag(const char *hex, char *out, size_t cap) {
  uint8_t in[256] = {0};
  size_t n = unhex(hex, in), len;
  return rc_cbor_diag(in, n, out, cap, &len);
}

static void check(const char *hex, const char *want) {
  char out[1024];
  rc_err e = diag(hex, out, sizeof out);
  if (e != RC_OK || strcmp(out, want) != 0)
    fail_msg("%s: got %d '%s', want '%s'", hex, e, out, want);
}

/* RFC 8949 Appendix A (rows whose notation has one form). */
static void test_appendix_a(void **state) {
  (void)state;
  check("00", "0");
  check("17", "23");
  check("1818", "24");
  check("1903e8", "1000");
  check("1b000000e8d4a51000", "1000000000000");
  check("1bffffffffffffffff", "18446744073709551615");
  check("3bffffffffffffffff", "-18446744073709551616");
  check("20", "-1");
  check("3903e7", "-1000");
  check("f90000", "0.0");
  check("f98000", "-0.0");
  check("f93c00", "1.0");
  check("fb3ff199999999999a", "1.1");
  check("f93e00", "1.5");
  check("f97bff", "65504.0");
  check("fa47c35000", "100000.0");
  check("f90001", "5.9604644775390625e-08");
  check("f90400", "6.103515625e-05");
  check("f9c400", "-4.0");
  check("fbc010666666666666", "-4.1");
  check("f97c00", "Infinity");
  check("f97e00", "NaN");
  check("f9fc00", "-Infinity");
  check("f4", "false");
  check("f5", "true");
  check("f6", "null");
  check("f7", "undefined");
  check("f0", "simple(16)");
  check("f8ff", "simple(255)");
  check("c074323031332d30332d32315432303a30343a30305a",
        "0(\"2013-03-21T20:04:00Z\")");
  check("c11a514b67b0", "1(1363896240)");
  check("d74401020304", "23(h'01020304')");
  check("40", "h''");
  check("4401020304", "h'01020304'");
  check("60", "\"\"");
  check("6161", "\"a\"");
  check("62225c", "\"\\\"\\\\\"");
  check("80", "[]");
  check("83010203", "[1, 2, 3]");
  check("8301820203820405", "[1, [2, 3], [4, 5]]");
  check("a0", "{}");
  check("a201020304", "{1: 2, 3: 4}");
  check("a26161016162820203", "{\"a\": 1, \"b\": [2, 3]}");
  check("5f42010243030405ff", "(_ h'0102', h'030405')");
  check("7f657374726561646d696e67ff", "(_ \"strea\", \"ming\")");
  check("9fff", "[_ ]");
  check("9f018202039f0405ffff", "[_ 1, [2, 3], [_ 4, 5]]");
  check("bf61610161629f0203ffff", "{_ \"a\": 1, \"b\": [_ 2, 3]}");
  check("6101", "\"\\u0001\"");
}

static void test_malformed(void **state) {
  (void)state;
  char out[256];
  assert_int_equal(diag("", out, sizeof out), RC_ERR_TRUNCATED);
  assert_int_equal(diag("18", out, sizeof out), RC_ERR_TRUNCATED);
  assert_int_equal(diag("62 61", out, sizeof out), RC_ERR_TRUNCATED);
  assert_int_equal(diag("8301", out, sizeof out), RC_ERR_TRUNCATED);
  assert_int_equal(diag("9f01", out, sizeof out), RC_ERR_TRUNCATED);
  assert_int_equal(diag("c0", out, sizeof out), RC_ERR_TRUNCATED);
  assert_int_equal(diag("1c", out, sizeof out), RC_ERR_INVAL);
  assert_int_equal(diag("ff", out, sizeof out), RC_ERR_INVAL);
  assert_int_equal(diag("1f", out, sizeof out), RC_ERR_INVAL);
  assert_int_equal(diag("5f6161ff", out, sizeof out), RC_ERR_INVAL);
  assert_int_equal(diag("0102", out, sizeof out), RC_ERR_TRAILING_BYTES);
  /* 40 nested arrays: over RC_CBOR_DIAG_DEPTH. */
  char deep[128] = {0};
  for (int i = 0; i < 40; i++)
    strcat(deep, "81");
  strcat(deep, "00");
  assert_int_equal(diag(deep, out, sizeof out), RC_ERR_LIMIT);
  assert_int_equal(diag("83010203", out, 5), RC_ERR_NOBUF);
}

/* The documented bound holds for the item kinds that grow the most. */
static void test_bound(void **state) {
  (void)state;
  static const char *const worst[] = {
      "88f7f7f7f7f7f7f7f7", "6801010101010101 01", "7f606060606060ff",
      "f90001", "fb0000000000000001", "3bfffffffffffffffe",
      "d9ffff81f7", "9f9f9f9fffffffff"};
  for (size_t i = 0; i < sizeof worst / sizeof *worst; i++) {
    uint8_t in[64];
    char hex[128], *h = hex;
    for (const char *s = worst[i]; *s; s++)
      if (*s != ' ')
        *h++ = *s;
    *h = 0;
    size_t n = unhex(hex, in), len;
    char *out = malloc(12 * n + 16);
    assert_non_null(out);
    rc_err e = rc_cbor_diag(in, n, out, 12 * n + 16, &len);
    assert_true(e == RC_OK);
    assert_true(len < 12 * n + 16);
    free(out);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_appendix_a),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_bound),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
