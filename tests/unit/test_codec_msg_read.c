/*
 * Tests for src/codec/msg_read.c and rc_method_from_name (code.c): a
 * request's path and query read back as text from real encoded messages
 * (escaping, the empty path, buffers one byte short), its Content-Format,
 * and method names. This test links only rcoap-core: these helpers must be
 * there for a device without the app layer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "rcoap/codec_option.h"

typedef struct seg {
  uint16_t num;
  const char *val;
  size_t len;
} seg;

/* Encodes a GET with these options in TCP framing and parses it back. */
static void build(rc_msg *m, uint8_t *buf, size_t cap, const seg *s,
                  size_t n) {
  rc_enc e;
  const uint8_t *out;
  size_t out_len;
  rc_enc_init(&e, buf, cap, RC_GET, (const uint8_t *)"tk", 2);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(rc_enc_opt(&e, s[i].num, s[i].val, s[i].len), RC_OK);
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_TCP, 0, 0, &out, &out_len),
                   RC_OK);
  assert_int_equal(rc_msg_parse(RC_FRAMING_TCP, out, out_len, m), RC_OK);
}

#define S(num, lit) {num, lit, sizeof(lit) - 1}

static void test_path(void **state) {
  (void)state;
  uint8_t buf[256];
  char p[64];
  rc_msg m;
  const seg segs[] = {S(RC_OPT_URI_HOST, "h"), S(RC_OPT_URI_PATH, "store"),
                      S(RC_OPT_URI_PATH, "a b"), S(RC_OPT_CONTENT_FORMAT, ""),
                      S(RC_OPT_URI_QUERY, "x=1")};
  build(&m, buf, sizeof buf, segs, 5);
  assert_int_equal(rc_msg_path(&m, p, sizeof p), 10);
  assert_string_equal(p, "/store/a b");
  /* Exactly long enough (10 bytes and the NUL), then one byte short. */
  assert_int_equal(rc_msg_path(&m, p, 11), 10);
  assert_int_equal(rc_msg_path(&m, p, 10), RC_ERR_NOBUF);

  /* No Uri-Path: "/"; a zero capacity or room for only the NUL fails. */
  build(&m, buf, sizeof buf, segs, 1);
  assert_int_equal(rc_msg_path(&m, p, sizeof p), 1);
  assert_string_equal(p, "/");
  assert_int_equal(rc_msg_path(&m, p, 1), RC_ERR_NOBUF);
  assert_int_equal(rc_msg_path(&m, p, 0), RC_ERR_NOBUF);
}

static void test_path_escapes(void **state) {
  (void)state;
  uint8_t buf[256];
  char p[64];
  rc_msg m;
  /* A '/' or '%' inside a segment, a control byte, DEL, an empty segment:
   * the text must read back to the same segments. */
  const seg segs[] = {S(RC_OPT_URI_PATH, "a/b"), S(RC_OPT_URI_PATH, "50%"),
                      {RC_OPT_URI_PATH, "\x00\x1f\x7f", 3},
                      S(RC_OPT_URI_PATH, "")};
  build(&m, buf, sizeof buf, segs, 4);
  assert_int_equal(rc_msg_path(&m, p, sizeof p), 23);
  assert_string_equal(p, "/a%2Fb/50%25/%00%1F%7F/");
  /* An escape never gets cut in half. */
  assert_int_equal(rc_msg_path(&m, p, 4), RC_ERR_NOBUF);
}

static void test_query(void **state) {
  (void)state;
  uint8_t buf[256];
  char q[16];
  rc_msg m;
  const seg segs[] = {S(RC_OPT_URI_PATH, "p"), S(RC_OPT_URI_QUERY, "a=1"),
                      S(RC_OPT_URI_QUERY, "b"), S(RC_OPT_URI_QUERY, "c=&")};
  build(&m, buf, sizeof buf, segs, 4);
  assert_int_equal(rc_msg_query(&m, q, sizeof q), 9);
  assert_string_equal(q, "a=1&b&c=&");
  assert_int_equal(rc_msg_query(&m, q, 10), 9);
  assert_int_equal(rc_msg_query(&m, q, 9), RC_ERR_NOBUF);
  assert_int_equal(rc_msg_query(&m, q, 0), RC_ERR_NOBUF);
  build(&m, buf, sizeof buf, segs, 1);
  assert_int_equal(rc_msg_query(&m, q, sizeof q), 0);
  assert_string_equal(q, "");
}

static void test_content_format(void **state) {
  (void)state;
  uint8_t buf[64];
  rc_msg m;
  const seg none[] = {S(RC_OPT_URI_PATH, "p")};
  build(&m, buf, sizeof buf, none, 1);
  assert_int_equal(rc_msg_content_format(&m), -1);
  /* text/plain is the zero-length uint. */
  const seg text[] = {S(RC_OPT_CONTENT_FORMAT, "")};
  build(&m, buf, sizeof buf, text, 1);
  assert_int_equal(rc_msg_content_format(&m), 0);
  const seg cbor[] = {{RC_OPT_CONTENT_FORMAT, "\x2d\x16", 2}};
  build(&m, buf, sizeof buf, cbor, 1);
  assert_int_equal(rc_msg_content_format(&m), 11542);
  /* Five bytes is no uint: treated as absent, not as a wrapped value. */
  const seg bad[] = {{RC_OPT_CONTENT_FORMAT, "\1\0\0\0\0", 5}};
  build(&m, buf, sizeof buf, bad, 1);
  assert_int_equal(rc_msg_content_format(&m), -1);
}

static void test_method_from_name(void **state) {
  (void)state;
  assert_int_equal(rc_method_from_name("get"), RC_GET);
  assert_int_equal(rc_method_from_name("POST"), RC_POST);
  assert_int_equal(rc_method_from_name("Put"), RC_PUT);
  assert_int_equal(rc_method_from_name("delete"), RC_DELETE);
  assert_int_equal(rc_method_from_name("fetch"), RC_FETCH);
  assert_int_equal(rc_method_from_name("patch"), RC_PATCH);
  assert_int_equal(rc_method_from_name("iPATCH"), RC_IPATCH);
  assert_int_equal(rc_method_from_name("ipatch"), RC_IPATCH);
  /* Every method's own name maps back to it. */
  for (uint8_t c = RC_GET; c <= RC_IPATCH; c++)
    assert_int_equal(rc_method_from_name(rc_code_name(c)), c);
  assert_int_equal(rc_method_from_name(""), -1);
  assert_int_equal(rc_method_from_name("ge"), -1);
  assert_int_equal(rc_method_from_name("gets"), -1);
  assert_int_equal(rc_method_from_name("Content"), -1);
  assert_int_equal(rc_method_from_name("CSM"), -1);
  assert_int_equal(rc_method_from_name(NULL), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_path),
      cmocka_unit_test(test_path_escapes),
      cmocka_unit_test(test_query),
      cmocka_unit_test(test_content_format),
      cmocka_unit_test(test_method_from_name),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
