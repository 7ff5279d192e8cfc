/*
 * Tests for src/codec/hc.c, the RFC 8075 mapping tables: request targets
 * under "/hc/" as a URI ({+tu}), a URI percent-encoded whole ({tu}, decoded
 * once, control escapes refused) or a route path; targets not under the
 * prefix; every output one byte short; HTTP methods (case-sensitive,
 * HEAD as GET); media types to Content-Formats (case, blanks, bare
 * text/plain, no aliases) and back (unknown: octet-stream); the status
 * table of RFC 8075 §7 row by row with its payload / conditional choices;
 * entity-tags out and back in. Links only rcoap-core.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "rcoap/codec_hc.h"
#include "rcoap/codec_msg.h"

static int target(const char *t, char *out, size_t cap) {
  size_t len = 0;
  int k = rc_hc_target(t, strlen(t), NULL, out, cap, &len);
  if (k > 0)
    assert_int_equal(len, strlen(out));
  return k;
}

static void test_target_uri(void **state) {
  (void)state;
  char out[128];
  assert_int_equal(target("/hc/coap://[::1]:5690/lamp", out, sizeof out),
                   RC_HC_URI);
  assert_string_equal(out, "coap://[::1]:5690/lamp");
  assert_int_equal(target("/hc/coaps+ws://h/a%2Fb?x=1", out, sizeof out),
                   RC_HC_URI);
  assert_string_equal(out, "coaps+ws://h/a%2Fb?x=1"); /* escapes kept */
  assert_int_equal(
      target("/hc/coap%3A%2F%2F%5B%3A%3A1%5D%3A5690%2Flamp%3Fa%3D1", out,
             sizeof out),
      RC_HC_URI);
  assert_string_equal(out, "coap://[::1]:5690/lamp?a=1");
  /* Decoded once: "%2525" is "%25" in the URI. */
  assert_int_equal(target("/hc/coap%3A%2F%2Fh%2Fa%2525", out, sizeof out),
                   RC_HC_URI);
  assert_string_equal(out, "coap://h/a%25");
}

static void test_target_path(void **state) {
  (void)state;
  char out[64];
  assert_int_equal(target("/hc/devices/lamp?on", out, sizeof out),
                   RC_HC_PATH);
  assert_string_equal(out, "/devices/lamp?on");
  assert_int_equal(target("/hc/", out, sizeof out), RC_HC_PATH);
  assert_string_equal(out, "/");
  /* http: is not a CoAP scheme: a path, which no route will match. */
  assert_int_equal(target("/hc/http://h/x", out, sizeof out), RC_HC_PATH);
  assert_int_equal(target("/hc", out, sizeof out), RC_HC_NONE);
  assert_int_equal(target("/index.html", out, sizeof out), RC_HC_NONE);
  assert_int_equal(target("/HC/coap://h/", out, sizeof out), RC_HC_NONE);
  size_t len;
  assert_int_equal(rc_hc_target("/x/coap://h/", 12, "/x/", out, sizeof out,
                                &len),
                   RC_HC_URI);
}

static void test_target_bad(void **state) {
  (void)state;
  char out[64];
  assert_int_equal(target("/hc/coap%3A%2F%2Fh%2F%00", out, sizeof out),
                   RC_ERR_BAD_PERCENT);
  assert_int_equal(target("/hc/coap%3A%2F%2Fh%0D%0A", out, sizeof out),
                   RC_ERR_BAD_PERCENT);
  assert_int_equal(target("/hc/coap%3A%2F%2Fh%2", out, sizeof out),
                   RC_ERR_BAD_PERCENT);
  assert_int_equal(target("/hc/coap%3A%2F%2Fh%G0", out, sizeof out),
                   RC_ERR_BAD_PERCENT);
  assert_int_equal(rc_hc_target(NULL, 0, NULL, out, sizeof out, NULL),
                   RC_ERR_INVAL);
  /* Raw bytes that no request-target holds (found by fuzz_hc: a NUL made
   * the result shorter than its length). */
  size_t len;
  assert_int_equal(rc_hc_target("/hc/cr/\0la", 10, NULL, out, sizeof out,
                                &len),
                   RC_ERR_BAD_URI);
  assert_int_equal(target("/hc/a b", out, sizeof out), RC_ERR_BAD_URI);
  assert_int_equal(target("/hc/coap://h/\x7f", out, sizeof out),
                   RC_ERR_BAD_URI);
  /* Each kind one byte short, then exactly fitting. */
  const char *uri = "/hc/coap://h/abc"; /* 12 bytes out + NUL */
  assert_int_equal(target(uri, out, 12), RC_ERR_NOBUF);
  assert_int_equal(target(uri, out, 13), RC_HC_URI);
  const char *enc = "/hc/coap%3A%2F%2Fh"; /* "coap://h": 8 + NUL */
  assert_int_equal(target(enc, out, 8), RC_ERR_NOBUF);
  assert_int_equal(target(enc, out, 9), RC_HC_URI);
  const char *path = "/hc/a/b"; /* "/a/b": 4 + NUL */
  assert_int_equal(target(path, out, 4), RC_ERR_NOBUF);
  assert_int_equal(target(path, out, 5), RC_HC_PATH);
}

static void test_method(void **state) {
  (void)state;
  assert_int_equal(rc_hc_method("GET", 3), RC_GET);
  assert_int_equal(rc_hc_method("HEAD", 4), RC_GET);
  assert_int_equal(rc_hc_method("POST", 4), RC_POST);
  assert_int_equal(rc_hc_method("PUT", 3), RC_PUT);
  assert_int_equal(rc_hc_method("DELETE", 6), RC_DELETE);
  assert_int_equal(rc_hc_method("FETCH", 5), RC_FETCH);
  assert_int_equal(rc_hc_method("PATCH", 5), RC_PATCH);
  assert_int_equal(rc_hc_method("iPATCH", 6), RC_IPATCH);
  assert_int_equal(rc_hc_method("get", 3), -1); /* RFC 9110: case matters */
  assert_int_equal(rc_hc_method("OPTIONS", 7), -1);
  assert_int_equal(rc_hc_method("GETX", 3), RC_GET); /* len bounds it */
  assert_int_equal(rc_hc_method(NULL, 0), -1);
}

static void test_media_types(void **state) {
  (void)state;
  struct {
    const char *ct;
    int cf;
  } cases[] = {
      {"text/plain;charset=utf-8", 0},
      {"text/plain; charset=UTF-8", 0},
      {"text/plain", 0},
      {"application/link-format", 40},
      {"application/xml", 41},
      {"application/octet-stream", 42},
      {"Application/JSON", 50},
      {"application/cbor", 60},
      {"application/senml+json", 110},
      {"json", -1},        /* an alias is no media type */
      {"50", -1},          /* nor a number */
      {"text/html", -1},
      {"", -1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    assert_int_equal(rc_hc_content_format(cases[i].ct, strlen(cases[i].ct)),
                     cases[i].cf);
  assert_string_equal(rc_hc_media_type(0), "text/plain; charset=utf-8");
  assert_string_equal(rc_hc_media_type(40), "application/link-format");
  assert_string_equal(rc_hc_media_type(60), "application/cbor");
  assert_string_equal(rc_hc_media_type(9999), "application/octet-stream");
  assert_null(rc_hc_media_type(-1));
}

static void test_status(void **state) {
  (void)state;
  assert_int_equal(rc_hc_status(RC_CONTENT, 1, 0), 200);
  assert_int_equal(rc_hc_status(RC_CREATED, 0, 0), 201);
  assert_int_equal(rc_hc_status(RC_CHANGED, 0, 0), 204);
  assert_int_equal(rc_hc_status(RC_CHANGED, 1, 0), 200);
  assert_int_equal(rc_hc_status(RC_DELETED, 0, 0), 204);
  assert_int_equal(rc_hc_status(RC_DELETED, 1, 0), 200);
  assert_int_equal(rc_hc_status(RC_VALID, 0, 1), 304);
  assert_int_equal(rc_hc_status(RC_VALID, 0, 0), 200);
  assert_int_equal(rc_hc_status(RC_BAD_REQUEST, 0, 0), 400);
  assert_int_equal(rc_hc_status(RC_UNAUTHORIZED, 0, 0), 403);
  assert_int_equal(rc_hc_status(RC_BAD_OPTION, 0, 0), 400);
  assert_int_equal(rc_hc_status(RC_NOT_FOUND, 0, 0), 404);
  assert_int_equal(rc_hc_status(RC_METHOD_NOT_ALLOWED, 0, 0), 405);
  assert_int_equal(rc_hc_status(RC_NOT_ACCEPTABLE, 0, 0), 406);
  assert_int_equal(rc_hc_status(RC_PRECONDITION_FAILED, 0, 0), 412);
  assert_int_equal(rc_hc_status(RC_REQUEST_ENTITY_TOO_LARGE, 0, 0), 413);
  assert_int_equal(rc_hc_status(RC_UNSUPPORTED_CONTENT_FORMAT, 0, 0), 415);
  assert_int_equal(rc_hc_status(RC_INTERNAL_SERVER_ERROR, 0, 0), 500);
  assert_int_equal(rc_hc_status(RC_NOT_IMPLEMENTED, 0, 0), 501);
  assert_int_equal(rc_hc_status(RC_BAD_GATEWAY, 0, 0), 502);
  assert_int_equal(rc_hc_status(RC_SERVICE_UNAVAILABLE, 0, 0), 503);
  assert_int_equal(rc_hc_status(RC_GATEWAY_TIMEOUT, 0, 0), 504);
  assert_int_equal(rc_hc_status(RC_PROXYING_NOT_SUPPORTED, 0, 0), 502);
  assert_int_equal(rc_hc_status(RC_HOP_LIMIT_REACHED, 0, 0), 508);
  /* Codes without a row: by class. */
  assert_int_equal(rc_hc_status(RC_CODE(2, 9), 0, 0), 200);
  assert_int_equal(rc_hc_status(RC_CODE(4, 30), 0, 0), 400);
  assert_int_equal(rc_hc_status(RC_CODE(5, 9), 0, 0), 500);
  assert_int_equal(rc_hc_status(RC_GET, 0, 0), 502);
  assert_int_equal(rc_hc_status(RC_SIG_CSM, 0, 0), 502);
}

static void test_etag(void **state) {
  (void)state;
  const uint8_t tag[8] = {0x01, 0xab, 0, 0xff, 5, 6, 7, 8};
  char out[24];
  uint8_t back[8];
  assert_int_equal(rc_hc_etag_out(tag, 2, out, sizeof out), 6);
  assert_string_equal(out, "\"01ab\"");
  assert_int_equal(rc_hc_etag_out(tag, 8, out, 19), 18);
  assert_int_equal(rc_hc_etag_out(tag, 8, out, 18), RC_ERR_NOBUF);
  assert_int_equal(rc_hc_etag_out(tag, 9, out, sizeof out), RC_ERR_INVAL);
  assert_int_equal(rc_hc_etag_out(tag, 8, out, sizeof out), 18);
  assert_int_equal(rc_hc_etag_in(out, strlen(out), back), 8);
  assert_memory_equal(back, tag, 8);
  assert_int_equal(rc_hc_etag_in(" W/\"01AB\"", 9, back), 2);
  assert_memory_equal(back, tag, 2);
  assert_int_equal(rc_hc_etag_in("\"01ab\", \"02\"", 12, back), 2);
  assert_int_equal(rc_hc_etag_in("*", 1, back), -1);
  assert_int_equal(rc_hc_etag_in("\"abc\"", 5, back), -1);  /* odd */
  assert_int_equal(rc_hc_etag_in("\"\"", 2, back), -1);     /* empty */
  assert_int_equal(rc_hc_etag_in("\"zz\"", 4, back), -1);   /* not hex */
  assert_int_equal(rc_hc_etag_in("\"0102", 5, back), -1);   /* unclosed */
  assert_int_equal(rc_hc_etag_in("\"0102030405060708ff\"", 20, back), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_target_uri),   cmocka_unit_test(test_target_path),
      cmocka_unit_test(test_target_bad),   cmocka_unit_test(test_method),
      cmocka_unit_test(test_media_types),  cmocka_unit_test(test_status),
      cmocka_unit_test(test_etag),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
