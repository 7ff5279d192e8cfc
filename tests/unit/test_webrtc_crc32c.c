/*
 * The SCTP checksum computed at the SCTP filter's edge (crc32c.c): the
 * CRC-32C check value, agreement with usrsctp's own routine on random
 * packets of every length class (the instruction path and the byte
 * tail), the field written least significant byte first, and a changed
 * byte or checksum caught.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <usrsctp.h>

#include "transport/webrtc/crc32c.h"

static void test_check_value(void **state) {
  (void)state;
  /* The CRC-32C check value (iSCSI, SCTP): "123456789". */
  assert_int_equal(rc__crc32c((const uint8_t *)"123456789", 9), 0xE3069283u);
  assert_int_equal(rc__crc32c((const uint8_t *)"", 0), 0u);
}

static void test_same_as_usrsctp(void **state) {
  (void)state;
  uint8_t buf[17000];
  srand(7);
  for (size_t i = 0; i < sizeof buf; i++)
    buf[i] = (uint8_t)rand();
  static const size_t lens[] = {12, 13, 19, 20, 64, 1151, 1152, 16384, 16999};
  for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
    size_t n = lens[k];
    uint8_t *p = malloc(n);
    memcpy(p, buf, n);
    memset(p + 8, 0, 4);
    uint32_t want = usrsctp_crc32c(p, n); /* host order, as usrsctp stores */
    uint8_t wire[4];
    memcpy(wire, &want, 4);
    memcpy(p + 8, "\xaa\xbb\xcc\xdd", 4); /* taken as zero */
    rc__sctp_checksum_put(p, n);
    assert_memory_equal(p + 8, wire, 4);
    assert_true(rc__sctp_checksum_ok(p, n));
    p[n - 1] ^= 0x10; /* one bit of the payload */
    assert_false(rc__sctp_checksum_ok(p, n));
    p[n - 1] ^= 0x10;
    p[9] ^= 1; /* the checksum itself */
    assert_false(rc__sctp_checksum_ok(p, n));
    free(p);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_check_value),
      cmocka_unit_test(test_same_as_usrsctp),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
