/*
 * Echo option values that prove a peer's address (echo.h): stateless,
 * keyed with the listener's rotating HMAC key (hkey.c), time-bound.
 */
#include <string.h>

#include "transport/echo.h"

#define STAMP 4u
#define TAG (RC__ECHO_LEN - STAMP)

size_t rc__echo_make(rc__hkey *k, const void *addr, size_t alen, rc_time now,
                     uint8_t out[RC__ECHO_LEN]) {
  uint8_t mac[RC__HKEY_MAC];
  uint32_t s = (uint32_t)(now / 1000u);
  rc__hkey_rotate(k, now, RC__ECHO_LIFETIME_MS);
  out[0] = (uint8_t)(s >> 24);
  out[1] = (uint8_t)(s >> 16);
  out[2] = (uint8_t)(s >> 8);
  out[3] = (uint8_t)s;
  rc__hkey_mac(k, 0, out, STAMP, addr, alen, mac);
  memcpy(out + STAMP, mac, TAG);
  return RC__ECHO_LEN;
}

int rc__echo_check(rc__hkey *k, const void *addr, size_t alen,
                   const uint8_t *v, size_t n, rc_time now) {
  if (n != RC__ECHO_LEN)
    return 0;
  rc__hkey_rotate(k, now, RC__ECHO_LIFETIME_MS);
  uint32_t s = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 |
               (uint32_t)v[2] << 8 | v[3];
  uint32_t t = (uint32_t)(now / 1000u);
  /* Fresh: made no later than now and at most the lifetime ago (RFC 9175
   * §2.2.1: the server decides how fresh a value must be). */
  if (s > t || (uint64_t)(t - s) * 1000u > RC__ECHO_LIFETIME_MS)
    return 0;
  return rc__hkey_verify(k, v, STAMP, addr, alen, v + STAMP, TAG);
}
