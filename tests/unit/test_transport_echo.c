/*
 * Echo option values (src/transport/echo.c, RFC 9175 §2.2) with the real
 * HMAC keys (hkey.c): a value checks for the address it was made for and
 * no other, only while fresh (not before it was made, not after the
 * lifetime), survives one key rotation, not two, and a changed byte or
 * length fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "transport/echo.h"

static const uint8_t A[6] = {127, 0, 0, 1, 0x16, 0x33};
static const uint8_t B[6] = {127, 0, 0, 2, 0x16, 0x33};

static void round_trip_and_binding(void **state) {
  (void)state;
  rc__hkey k;
  assert_int_equal(rc__hkey_init(&k), RC_OK);
  uint8_t v[RC__ECHO_LEN];
  rc_time t0 = 5000000;
  assert_int_equal(rc__echo_make(&k, A, sizeof A, t0, v), RC__ECHO_LEN);
  assert_true(rc__echo_check(&k, A, sizeof A, v, sizeof v, t0));
  assert_true(rc__echo_check(&k, A, sizeof A, v, sizeof v,
                             t0 + RC__ECHO_LIFETIME_MS));
  /* another address (a spoofer's value does not confirm its victim) */
  assert_false(rc__echo_check(&k, B, sizeof B, v, sizeof v, t0));
  /* too old, or from the future */
  assert_false(rc__echo_check(&k, A, sizeof A, v, sizeof v,
                              t0 + RC__ECHO_LIFETIME_MS + 1000));
  assert_false(rc__echo_check(&k, A, sizeof A, v, sizeof v, t0 - 1000));
  /* every byte counts, and the length */
  for (size_t i = 0; i < sizeof v; i++) {
    v[i] ^= 1;
    assert_false(rc__echo_check(&k, A, sizeof A, v, sizeof v, t0));
    v[i] ^= 1;
  }
  assert_false(rc__echo_check(&k, A, sizeof A, v, sizeof v - 1, t0));
  /* another key (another listener, or a restart) */
  rc__hkey k2;
  assert_int_equal(rc__hkey_init(&k2), RC_OK);
  assert_false(rc__echo_check(&k2, A, sizeof A, v, sizeof v, t0));
}

static void key_rotation(void **state) {
  (void)state;
  rc__hkey k;
  assert_int_equal(rc__hkey_init(&k), RC_OK);
  uint8_t v[RC__ECHO_LEN];
  rc_time t0 = 1000;
  rc__echo_make(&k, A, sizeof A, t0, v); /* notes the key's time */
  rc__echo_make(&k, A, sizeof A, t0 + RC__ECHO_LIFETIME_MS - 1000, v);
  /* the key rotates here: the value is still good with the old one */
  assert_true(rc__echo_check(&k, A, sizeof A, v, sizeof v,
                             t0 + RC__ECHO_LIFETIME_MS));
  /* once its key is two rotations old a value no longer checks, even at
   * a time its stamp would pass */
  uint8_t w[RC__ECHO_LEN];
  rc__echo_make(&k, A, sizeof A, t0 + RC__ECHO_LIFETIME_MS, w);
  rc__hkey_rotate(&k, t0 + 2 * RC__ECHO_LIFETIME_MS, RC__ECHO_LIFETIME_MS);
  rc__hkey_rotate(&k, t0 + 3 * RC__ECHO_LIFETIME_MS, RC__ECHO_LIFETIME_MS);
  assert_false(rc__echo_check(&k, A, sizeof A, w, sizeof w,
                              t0 + RC__ECHO_LIFETIME_MS));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(round_trip_and_binding),
      cmocka_unit_test(key_rotation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
