/*
 * The rotating HMAC key pair behind the stateless values a server hands
 * out (hkey.h): the DTLS cookie and the Echo option value.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "transport/hkey.h"

rc_err rc__hkey_init(rc__hkey *k) {
  memset(k, 0, sizeof *k);
  if (RAND_bytes(k->key[0], (int)sizeof k->key) != 1) {
    ERR_clear_error();
    return RC_ERR_TLS;
  }
  return RC_OK;
}

void rc__hkey_rotate(rc__hkey *k, rc_time now, rc_time period_ms) {
  if (!k->timed) {
    k->timed = 1;
    k->made = now;
    return;
  }
  if (now < k->made || now - k->made < period_ms)
    return;
  uint8_t fresh[32];
  if (RAND_bytes(fresh, sizeof fresh) != 1) {
    ERR_clear_error();
    return; /* keep the old key a while longer */
  }
  memcpy(k->key[1], k->key[0], 32);
  memcpy(k->key[0], fresh, 32);
  OPENSSL_cleanse(fresh, sizeof fresh);
  k->made = now;
}

void rc__hkey_mac(const rc__hkey *k, int which, const uint8_t *a, size_t alen,
                  const uint8_t *b, size_t blen, uint8_t out[RC__HKEY_MAC]) {
  uint8_t in[RC__HKEY_IN_MAX];
  unsigned int n = RC__HKEY_MAC;
  if (alen + blen > sizeof in) {
    memset(out, 0, RC__HKEY_MAC); /* matches nothing a peer can compute */
    return;
  }
  if (alen)
    memcpy(in, a, alen);
  if (blen)
    memcpy(in + alen, b, blen);
  if (!HMAC(EVP_sha256(), k->key[which], 32, in, alen + blen, out, &n)) {
    ERR_clear_error();
    memset(out, 0, RC__HKEY_MAC);
  }
}

int rc__hkey_verify(const rc__hkey *k, const uint8_t *a, size_t alen,
                    const uint8_t *b, size_t blen, const uint8_t *tag,
                    size_t tlen) {
  uint8_t want[RC__HKEY_MAC];
  if (tlen == 0 || tlen > RC__HKEY_MAC || alen + blen > RC__HKEY_IN_MAX)
    return 0;
  for (int i = 0; i < 2; i++) {
    rc__hkey_mac(k, i, a, alen, b, blen, want);
    if (CRYPTO_memcmp(want, tag, tlen) == 0)
      return 1;
  }
  return 0;
}

void rc__hkey_wipe(rc__hkey *k) { OPENSSL_cleanse(k, sizeof *k); }
