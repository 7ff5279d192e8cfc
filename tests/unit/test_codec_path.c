/*
 * Tests for src/codec/path.c (rc_path_clean): every way a request path
 * could climb out of a root or hide a name -- "..", "%2e%2e" and mixed
 * case, ".%2e", encoded '/' and '\', raw and encoded NUL, dot files --
 * is refused; empty segments are dropped and a trailing '/' kept; the
 * query and fragment end an HTTP target but are bytes of a CoAP segment;
 * non-absolute paths, bad escapes and outputs one byte too long fail with
 * their own errors. Links only rcoap-core.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "rcoap/codec_path.h"

typedef struct path_case {
  const char *in;
  size_t len; /* 0: strlen(in) */
  unsigned flags;
  rc_ssize want;     /* the error, or 0 for success */
  const char *out;   /* the cleaned path on success */
} path_case;

static void run(const path_case *c, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char out[64];
    size_t len = c[i].len ? c[i].len : strlen(c[i].in);
    memset(out, 'x', sizeof out);
    rc_ssize got = rc_path_clean(c[i].in, len, c[i].flags, out, sizeof out);
    if (c[i].want < 0) {
      if (got != c[i].want)
        fail_msg("case %zu \"%s\": got %td, want %td", i, c[i].in, got,
                 c[i].want);
      continue;
    }
    if (got < 0)
      fail_msg("case %zu \"%s\": error %td", i, c[i].in, got);
    assert_int_equal(got, strlen(c[i].out));
    assert_string_equal(out, c[i].out);
  }
}

static void test_traversal(void **state) {
  (void)state;
  const path_case c[] = {
      {"/..", 0, 0, RC_ERR_PATH_REFUSED, NULL},
      {"/../secret", 0, 0, RC_ERR_PATH_REFUSED, NULL},
      {"/a/../../secret", 0, 0, RC_ERR_PATH_REFUSED, NULL},
      {"/a/..", 0, 0, RC_ERR_PATH_REFUSED, NULL},
      {"/./a", 0, 0, RC_ERR_PATH_REFUSED, NULL},
      {"/a/.", 0, 0, RC_ERR_PATH_REFUSED, NULL},
      {"/%2e%2e/secret", 0, 0, RC_ERR_PATH_REFUSED, NULL},
      {"/%2E%2E/secret", 0, RC_PATH_TARGET, RC_ERR_PATH_REFUSED, NULL},
      {"/.%2e/secret", 0, 0, RC_ERR_PATH_REFUSED, NULL},
      {"/%2e./secret", 0, 0, RC_ERR_PATH_REFUSED, NULL},
      {"/a/%2e", 0, 0, RC_ERR_PATH_REFUSED, NULL},
      {"/..%2fsecret", 0, 0, RC_ERR_PATH_REFUSED, NULL},
      {"/a%2F..%2F..%2Fsecret", 0, 0, RC_ERR_PATH_REFUSED, NULL},
      {"/a%2fb", 0, 0, RC_ERR_PATH_REFUSED, NULL},
      {"/..\\secret", 0, 0, RC_ERR_PATH_REFUSED, NULL},
      {"/a\\b", 0, 0, RC_ERR_PATH_REFUSED, NULL},
      {"/%5c..%5csecret", 0, 0, RC_ERR_PATH_REFUSED, NULL},
      {"/.env", 0, 0, RC_ERR_PATH_REFUSED, NULL},
      {"/a/.git/config", 0, 0, RC_ERR_PATH_REFUSED, NULL},
      {"/%2egit", 0, 0, RC_ERR_PATH_REFUSED, NULL},
      /* A dot inside a name is an ordinary byte. */
      {"/a..b/c.d.", 0, 0, 0, "/a..b/c.d."},
  };
  run(c, sizeof c / sizeof c[0]);
}

static void test_nul(void **state) {
  (void)state;
  const path_case c[] = {
      {"/app.js%00.html", 0, RC_PATH_TARGET, RC_ERR_PATH_REFUSED, NULL},
      {"/a\0b", 4, 0, RC_ERR_PATH_REFUSED, NULL},
      {"/a\0", 3, 0, RC_ERR_PATH_REFUSED, NULL},
  };
  run(c, sizeof c / sizeof c[0]);
}

static void test_absolute_only(void **state) {
  (void)state;
  const path_case c[] = {
      {"", 1, 0, RC_ERR_PATH_REFUSED, NULL}, /* one NUL byte */
      {"a", 0, 0, RC_ERR_PATH_REFUSED, NULL},
      {"secret", 0, RC_PATH_TARGET, RC_ERR_PATH_REFUSED, NULL},
      {"*", 0, RC_PATH_TARGET, RC_ERR_PATH_REFUSED, NULL},
      {"http://example.org/../x", 0, RC_PATH_TARGET, RC_ERR_PATH_REFUSED,
       NULL},
      {"%2fa", 0, 0, RC_ERR_PATH_REFUSED, NULL},
      {"\\a", 0, 0, RC_ERR_PATH_REFUSED, NULL},
  };
  char out[8];
  run(c, sizeof c / sizeof c[0]);
  assert_int_equal(rc_path_clean("/", 0, 0, out, sizeof out),
                   RC_ERR_PATH_REFUSED);
  assert_int_equal(rc_path_clean(NULL, 0, 0, out, sizeof out), RC_ERR_INVAL);
  assert_int_equal(rc_path_clean("/", 1, 0, NULL, 8), RC_ERR_INVAL);
}

static void test_segments(void **state) {
  (void)state;
  const path_case c[] = {
      {"/", 0, 0, 0, "/"},
      {"//", 0, 0, 0, "/"},
      {"/a", 0, 0, 0, "/a"},
      {"/a/", 0, 0, 0, "/a/"},
      {"/a//b", 0, 0, 0, "/a/b"},
      {"///a///b///", 0, 0, 0, "/a/b/"},
      {"/a/b/c.txt", 0, 0, 0, "/a/b/c.txt"},
      /* Escapes decode: a space, a '%', a '?' that is a name's byte. */
      {"/a%20b/50%25/q%3F", 0, 0, 0, "/a b/50%/q?"},
      {"/x%41%6a", 0, 0, 0, "/xAj"},
  };
  run(c, sizeof c / sizeof c[0]);
}

static void test_query_and_fragment(void **state) {
  (void)state;
  const path_case c[] = {
      {"/app.js?v=2", 0, RC_PATH_TARGET, 0, "/app.js"},
      {"/app.js#top", 0, RC_PATH_TARGET, 0, "/app.js"},
      {"/?x=/../y", 0, RC_PATH_TARGET, 0, "/"},
      {"/a/?x", 0, RC_PATH_TARGET, 0, "/a/"},
      {"/a?../..", 0, RC_PATH_TARGET, 0, "/a"},
      /* In a CoAP path '?' and '#' are bytes of the segment. */
      {"/a?b#c", 0, 0, 0, "/a?b#c"},
      /* A bad escape after the query is not looked at. */
      {"/a?%zz", 0, RC_PATH_TARGET, 0, "/a"},
  };
  run(c, sizeof c / sizeof c[0]);
}

static void test_bad_percent(void **state) {
  (void)state;
  const path_case c[] = {
      {"/%zz", 0, 0, RC_ERR_BAD_PERCENT, NULL},
      {"/%g0", 0, 0, RC_ERR_BAD_PERCENT, NULL},
      {"/a%2", 0, 0, RC_ERR_BAD_PERCENT, NULL},
      {"/a%", 0, 0, RC_ERR_BAD_PERCENT, NULL},
      {"/a%2/b", 0, 0, RC_ERR_BAD_PERCENT, NULL},
  };
  run(c, sizeof c / sizeof c[0]);
}

static void test_capacity(void **state) {
  (void)state;
  char out[8];
  /* "/abcdef" is 7 bytes and the NUL: fits in 8, not in 7. */
  assert_int_equal(rc_path_clean("/abcdef", 7, 0, out, 8), 7);
  assert_string_equal(out, "/abcdef");
  assert_int_equal(rc_path_clean("/abcdef", 7, 0, out, 7),
                   RC_ERR_PATH_REFUSED);
  assert_int_equal(rc_path_clean("/ab/", 4, 0, out, 5), 4);
  assert_string_equal(out, "/ab/");
  assert_int_equal(rc_path_clean("/ab/", 4, 0, out, 4), RC_ERR_PATH_REFUSED);
  /* Escapes count as the bytes they decode to. */
  assert_int_equal(rc_path_clean("/%41%42%43", 10, 0, out, 5), 4);
  assert_string_equal(out, "/ABC");
  assert_int_equal(rc_path_clean("/", 1, 0, out, 1), RC_ERR_PATH_REFUSED);
  assert_int_equal(rc_path_clean("/", 1, 0, out, 2), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_traversal),
      cmocka_unit_test(test_nul),
      cmocka_unit_test(test_absolute_only),
      cmocka_unit_test(test_segments),
      cmocka_unit_test(test_query_and_fragment),
      cmocka_unit_test(test_bad_percent),
      cmocka_unit_test(test_capacity),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
