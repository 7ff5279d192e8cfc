/*
 * Tests of the strict HTTP/1.1 head parser (transport/http.c): the RFC
 * 6455 and RFC 8323 handshake examples, every prefix of a request (one
 * byte at a time), each RFC 9112 rule it enforces with the status it
 * answers, the limits, comma-list tokens, and status lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "rcoap/transport_http.h"

/* RFC 8323 §4.1, Figure 11 (the request half). */
static const char rfc8323_req[] = "GET /.well-known/coap HTTP/1.1\r\n"
                                  "Host: example.org\r\n"
                                  "Upgrade: websocket\r\n"
                                  "Connection: Upgrade\r\n"
                                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                  "Sec-WebSocket-Protocol: coap\r\n"
                                  "Sec-WebSocket-Version: 13\r\n"
                                  "\r\n";

static rc_ssize parse(const char *s, rc_http_head *h, int *status) {
  return rc_http_parse_request((const uint8_t *)s, strlen(s), h, status);
}

static void test_rfc8323_request(void **state) {
  rc_http_head h;
  int status = -1;
  const rc_http_header *f;
  size_t count;
  (void)state;
  assert_int_equal(parse(rfc8323_req, &h, &status), strlen(rfc8323_req));
  assert_int_equal(status, 0);
  assert_true(rc_http_eq(h.method, h.method_len, "GET"));
  assert_int_equal(h.target_len, strlen("/.well-known/coap"));
  assert_memory_equal(h.target, "/.well-known/coap", h.target_len);
  assert_int_equal(h.minor, 1);
  assert_int_equal(h.n_headers, 6);
  f = rc_http_find(&h, "sec-websocket-key", &count);
  assert_non_null(f);
  assert_int_equal(count, 1);
  assert_int_equal(f->value_len, 24);
  assert_memory_equal(f->value, "dGhlIHNhbXBsZSBub25jZQ==", 24);
  assert_true(rc_http_has_token(&h, "connection", "upgrade"));
  assert_true(rc_http_has_token(&h, "Sec-WebSocket-Protocol", "coap"));
  assert_false(rc_http_has_token(&h, "Sec-WebSocket-Protocol", "coap.v1"));
  assert_null(rc_http_find(&h, "Origin", &count));
  assert_int_equal(count, 0);
}

/* Every proper prefix needs more; the whole parses; bytes after the head
 * are not part of it. */
static void test_every_prefix(void **state) {
  char buf[sizeof(rfc8323_req) + 8];
  size_t n = strlen(rfc8323_req), i;
  rc_http_head h;
  int status;
  (void)state;
  memcpy(buf, rfc8323_req, n);
  memcpy(buf + n, "\x82\x80xxxx", 6);
  for (i = 0; i < n; i++) {
    status = -1;
    assert_int_equal(rc_http_parse_request((const uint8_t *)buf, i, &h, &status),
                     RC_ERR_NEED_MORE);
    assert_int_equal(status, 0);
  }
  assert_int_equal(rc_http_parse_request((const uint8_t *)buf, n + 6, &h, NULL),
                   n);
}

typedef struct bad_case {
  const char *req;
  int status;
} bad_case;

static void test_refusals(void **state) {
  static const bad_case cases[] = {
      {"GET / HTTP/1.1\nHost: a\r\n\r\n", 400},           /* bare LF */
      {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},        /* SP before colon */
      {"GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", 400},  /* obs-fold */
      {"GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", 400},     /* CTL in value */
      {"GET / HTTP/1.1\r\nHo\"st: a\r\n\r\n", 400},       /* not a token */
      {"GET / HTTP/1.1\r\n: a\r\n\r\n", 400},             /* empty name */
      {"GET / HTTP/1.1\r\nHost\r\n\r\n", 400},            /* no colon */
      {" GET / HTTP/1.1\r\n\r\n", 400},                   /* empty method */
      {"GET  / HTTP/1.1\r\n\r\n", 400},                   /* empty target */
      {"GET / HTTP/1.1 \r\n\r\n", 400},                   /* trailing SP */
      {"GET /a\x7f HTTP/1.1\r\n\r\n", 400},               /* DEL in target */
      {"GET / http/1.1\r\n\r\n", 400},                    /* lower case */
      {"GET / HTTP/11\r\n\r\n", 400},
      {"GET / HTTP/2.0\r\n\r\n", 505},
      {"GET / HTTP/1.2\r\n\r\n", 505},
      {"GET / HTTP/0.9\r\n\r\n", 505},
      {"GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", 400},       /* bare CR */
  };
  size_t i;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    rc_http_head h;
    int status = 0;
    rc_ssize r = parse(cases[i].req, &h, &status);
    if (r != RC_ERR_HTTP_PARSE || status != cases[i].status)
      fail_msg("case %zu: r=%td status=%d, want %d", i, r, status,
               cases[i].status);
  }
}

/* An error in a complete line is reported before the head is complete. */
static void test_early_error(void **state) {
  rc_http_head h;
  int status = 0;
  (void)state;
  assert_int_equal(parse("GET / HTTP/3.0\r\nHost: a", &h, &status),
                   RC_ERR_HTTP_PARSE);
  assert_int_equal(status, 505);
}

static void test_limits(void **state) {
  static char buf[RC_HTTP_MAX_HEAD * 2];
  rc_http_head h;
  int status = 0, n;
  size_t i;
  (void)state;
  /* request line over RC_HTTP_MAX_LINE: 414, even before its end. */
  n = snprintf(buf, sizeof(buf), "GET /");
  memset(buf + n, 'a', RC_HTTP_MAX_LINE + 10);
  assert_int_equal(rc_http_parse_request((const uint8_t *)buf,
                                         (size_t)n + RC_HTTP_MAX_LINE + 10, &h,
                                         &status),
                   RC_ERR_HTTP_PARSE);
  assert_int_equal(status, 414);
  /* a request line of exactly RC_HTTP_MAX_LINE bytes is fine */
  n = snprintf(buf, sizeof(buf), "GET /");
  memset(buf + n, 'a', RC_HTTP_MAX_LINE - (size_t)n - 9);
  n = RC_HTTP_MAX_LINE - 9;
  n += snprintf(buf + n, sizeof(buf) - (size_t)n, " HTTP/1.1\r\n\r\n");
  assert_int_equal(rc_http_parse_request((const uint8_t *)buf, (size_t)n, &h,
                                         &status),
                   n);
  assert_int_equal(h.line_len, RC_HTTP_MAX_LINE);
  /* one field line too long: 431 */
  n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nX: ");
  memset(buf + n, 'b', RC_HTTP_MAX_LINE);
  assert_int_equal(rc_http_parse_request((const uint8_t *)buf,
                                         (size_t)n + RC_HTTP_MAX_LINE, &h,
                                         &status),
                   RC_ERR_HTTP_PARSE);
  assert_int_equal(status, 431);
  /* too many fields: 431 */
  n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\n");
  for (i = 0; i <= RC_HTTP_MAX_HEADERS; i++)
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, "X-%zu: v\r\n", i);
  n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\n");
  assert_int_equal(rc_http_parse_request((const uint8_t *)buf, (size_t)n, &h,
                                         &status),
                   RC_ERR_HTTP_PARSE);
  assert_int_equal(status, 431);
  /* exactly the maximum number of fields is fine */
  n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\n");
  for (i = 0; i < RC_HTTP_MAX_HEADERS; i++)
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, "X-%zu: v\r\n", i);
  n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\n");
  assert_int_equal(rc_http_parse_request((const uint8_t *)buf, (size_t)n, &h,
                                         &status),
                   n);
  assert_int_equal(h.n_headers, RC_HTTP_MAX_HEADERS);
  /* no end within RC_HTTP_MAX_HEAD: 431 (fields of 4000 bytes each) */
  n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\n");
  for (i = 0; i < 3; i++) {
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, "X: ");
    memset(buf + n, 'c', 3990);
    n += 3990;
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\n");
  }
  assert_true(n > RC_HTTP_MAX_HEAD);
  assert_int_equal(rc_http_parse_request((const uint8_t *)buf, (size_t)n, &h,
                                         &status),
                   RC_ERR_HTTP_PARSE);
  assert_int_equal(status, 431);
}

static void test_tokens(void **state) {
  static const char req[] = "GET / HTTP/1.1\r\n"
                            "Connection: keep-alive ,, Upgrade\t\r\n"
                            "Sec-WebSocket-Protocol: mqtt\r\n"
                            "Sec-WebSocket-Protocol: coap.v1 , coap\r\n"
                            "X: Upgrades\r\n"
                            "\r\n";
  rc_http_head h;
  size_t count;
  (void)state;
  assert_true(parse(req, &h, NULL) > 0);
  assert_true(rc_http_has_token(&h, "Connection", "upgrade"));
  assert_true(rc_http_has_token(&h, "Connection", "KEEP-ALIVE"));
  assert_false(rc_http_has_token(&h, "Connection", "close"));
  assert_true(rc_http_has_token(&h, "sec-websocket-protocol", "coap"));
  assert_true(rc_http_has_token(&h, "sec-websocket-protocol", "coap.v1"));
  assert_false(rc_http_has_token(&h, "X", "Upgrade"));
  assert_non_null(rc_http_find(&h, "SEC-WEBSOCKET-PROTOCOL", &count));
  assert_int_equal(count, 2);
  /* values are trimmed */
  assert_int_equal(h.headers[0].value_len, strlen("keep-alive ,, Upgrade"));
}

static void test_response(void **state) {
  /* RFC 6455 §1.3, the response half. */
  static const char resp[] = "HTTP/1.1 101 Switching Protocols\r\n"
                             "Upgrade: websocket\r\n"
                             "Connection: Upgrade\r\n"
                             "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                             "\r\n\x81\x00";
  rc_http_head h;
  size_t n = (size_t)(strstr(resp, "\r\n\r\n") - resp) + 4, i;
  (void)state;
  for (i = 0; i < n; i++)
    assert_int_equal(rc_http_parse_response((const uint8_t *)resp, i, &h),
                     RC_ERR_NEED_MORE);
  assert_int_equal(rc_http_parse_response((const uint8_t *)resp, n + 2, &h), n);
  assert_int_equal(h.status, 101);
  assert_true(rc_http_eq(h.reason, h.reason_len, "switching protocols"));
  assert_int_equal(h.n_headers, 3);
  assert_int_equal(
      rc_http_parse_response((const uint8_t *)"HTTP/1.1 403\r\n\r\n", 16, &h),
      16);
  assert_int_equal(h.status, 403);
  assert_int_equal(h.line_len, 12);
  assert_int_equal(
      rc_http_parse_response((const uint8_t *)"HTTP/1.1 1O1 x\r\n\r\n", 18, &h),
      RC_ERR_HTTP_PARSE);
  assert_int_equal(
      rc_http_parse_response((const uint8_t *)"HTTP/1.1 101x\r\n\r\n", 17, &h),
      RC_ERR_HTTP_PARSE);
  assert_int_equal(
      rc_http_parse_response((const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18, &h),
      RC_ERR_HTTP_PARSE);
}

static void test_response_text(void **state) {
  rc_http_response r;
  (void)state;
  memset(&r, 0, sizeof(r));
  rc_http_response_text(&r, 404, "nope\n");
  assert_int_equal(r.status, 404);
  assert_int_equal(r.body_len, 5);
  assert_string_equal(r.content_type, "text/plain; charset=utf-8");
  assert_string_equal(rc_http_reason(431), "Request Header Fields Too Large");
  assert_string_equal(rc_http_reason(299), "Unknown");
}


/* The chunked coding (RFC 9112 §7.1): sizes in either case, extensions,
 * trailers, every split, an output buffer that fills, and malformed input
 * refused. */
static void test_chunked(void **state) {
  (void)state;
  const char *in = "4;name=\"v\"\r\nWiki\r\n6\r\npedia \r\nE\r\nin \r\n\r\nchunks."
                   "\r\n0\r\nTrailer: x\r\n\r\nNEXT";
  const char *want = "Wikipedia in \r\n\r\nchunks.";
  size_t n = strlen(in) - 4;
  for (size_t split = 0; split <= n; split++) {
    rc_http_chunked c = {0};
    uint8_t out[64];
    size_t got = 0, o = 0;
    rc_ssize r = rc_http_chunked_decode(&c, (const uint8_t *)in, split, out,
                                        sizeof out, &got);
    assert_int_equal(r, (rc_ssize)split);
    o = got;
    r = rc_http_chunked_decode(&c, (const uint8_t *)in + split,
                               strlen(in) - split, out + o, sizeof out - o,
                               &got);
    assert_int_equal((size_t)r, n - split); /* "NEXT" is not the body's */
    o += got;
    assert_true(rc_http_chunked_done(&c));
    assert_int_equal(o, strlen(want));
    assert_memory_equal(out, want, o);
  }
  /* An output of 3 bytes at a time. */
  rc_http_chunked c = {0};
  uint8_t out[32];
  size_t o = 0, off = 0;
  for (int round = 0; round < 100 && !rc_http_chunked_done(&c); round++) {
    size_t got = 0;
    rc_ssize r = rc_http_chunked_decode(&c, (const uint8_t *)in + off, n - off,
                                        out + o, 3, &got);
    assert_true(r >= 0);
    off += (size_t)r;
    o += got;
  }
  assert_true(rc_http_chunked_done(&c));
  assert_memory_equal(out, want, strlen(want));
  const char *bad[] = {"x\r\n", ";\r\n", "4\n", "4\r\nabcdX", "4\r\nabcd\rX",
                       "0\r\nbad\nline\r\n", "1234567890abcdef0\r\n",
                       "0\r\n\rX", "4 \x01\r\n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    rc_http_chunked b = {0};
    size_t got;
    assert_int_equal(rc_http_chunked_decode(&b, (const uint8_t *)bad[i],
                                            strlen(bad[i]), out, sizeof out,
                                            &got),
                     RC_ERR_HTTP_PARSE);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_chunked),
      cmocka_unit_test(test_rfc8323_request),
      cmocka_unit_test(test_every_prefix),
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_early_error),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_tokens),
      cmocka_unit_test(test_response),
      cmocka_unit_test(test_response_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
