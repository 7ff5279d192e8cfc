/*
 * Internal to src/transport/: a rotating HMAC-SHA256 key pair for values a
 * server hands out without keeping state and checks when they come back:
 * the DTLS cookie (dtls_cookie.c, RFC 6347 §4.2.1) and the Echo option
 * value (echo.c, RFC 9175 §2.4). The current key signs; the one before it
 * still verifies, so a value stays good for at least one rotation period.
 * Pure code: the caller passes the time.
 */
#ifndef RCOAP_TRANSPORT_HKEY_H
#define RCOAP_TRANSPORT_HKEY_H

#include <stddef.h>
#include <stdint.h>

#include "rcoap/common.h"

#define RC__HKEY_MAC 32u
/* Most input bytes (a || b) a MAC covers: a time and an address of up to
 * RC_DTLS_MAX_ADDR bytes. */
#define RC__HKEY_IN_MAX 160u

typedef struct rc__hkey {
  uint8_t key[2][32]; /* [0] signs, [1] (the previous one) still verifies */
  rc_time made;       /* when key[0] was made (a caller time) */
  uint8_t timed;      /* made holds a caller time */
} rc__hkey;

/* Both keys random. RC_OK or RC_ERR_TLS (no randomness). */
rc_err rc__hkey_init(rc__hkey *k);
/* Replaces key[0] (keeping it as key[1]) once period_ms has passed since
 * it was made; the first call only notes the time. */
void rc__hkey_rotate(rc__hkey *k, rc_time now, rc_time period_ms);
/* HMAC(key[which], a || b) into out (zeros if a || b is longer than
 * RC__HKEY_IN_MAX). */
void rc__hkey_mac(const rc__hkey *k, int which, const uint8_t *a, size_t alen,
                  const uint8_t *b, size_t blen, uint8_t out[RC__HKEY_MAC]);
/* Non-zero if tag (tlen <= RC__HKEY_MAC bytes, a prefix of the MAC) is
 * HMAC(a || b) under either key; constant time in the tag. Zero when
 * a || b is longer than RC__HKEY_IN_MAX. */
int rc__hkey_verify(const rc__hkey *k, const uint8_t *a, size_t alen,
                    const uint8_t *b, size_t blen, const uint8_t *tag,
                    size_t tlen);
void rc__hkey_wipe(rc__hkey *k);

#endif
