/*
 * A fixed Echo source for the tests of the amplification limit (RFC 9175
 * §2.4): every value made is "fresh-echo", and only that value checks.
 * Header only (static), included by the exchange tests that need it.
 */
#ifndef TEST_ECHO_STUB_H
#define TEST_ECHO_STUB_H

#include <string.h>

#include "rcoap/session.h"

static size_t e_make(void *u, rc_time now, uint8_t out[RC_UDP_ECHO_MAX]) {
  (void)u;
  (void)now;
  memcpy(out, "fresh-echo", 10);
  return 10;
}
static int e_check(void *u, const uint8_t *v, size_t n, rc_time now) {
  (void)u;
  (void)now;
  return n == 10 && memcmp(v, "fresh-echo", 10) == 0;
}
static const rc_session_echo stub_echo = {e_make, e_check};

#endif
