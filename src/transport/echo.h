/*
 * Internal to src/transport/: Echo option values (RFC 9175 §2.2) that
 * prove a UDP peer's address (RFC 9175 §2.4, RFC 7252 §11.3), made and
 * checked without per-peer state. Value: a 4-byte time stamp (seconds of
 * the caller's clock) and the first 8 bytes of HMAC(key, time || the
 * peer's address bytes). Pure code: the caller passes the time.
 */
#ifndef RCOAP_TRANSPORT_ECHO_H
#define RCOAP_TRANSPORT_ECHO_H

#include "rcoap/session.h"
#include "transport/hkey.h"

#define RC__ECHO_LEN 12u
/* How long an Echo value proves the address; keys rotate as often, so the
 * previous key still covers a value made just before a rotation. */
#define RC__ECHO_LIFETIME_MS RC_UDP_ECHO_LIFETIME_MS

/* Writes an Echo value for peer (addr bytes) at now; returns its length. */
size_t rc__echo_make(rc__hkey *k, const void *addr, size_t alen, rc_time now,
                     uint8_t out[RC__ECHO_LEN]);
/* Non-zero if v is a value we made for this address no longer than
 * RC__ECHO_LIFETIME_MS before now. */
int rc__echo_check(rc__hkey *k, const void *addr, size_t alen,
                   const uint8_t *v, size_t n, rc_time now);

#endif
