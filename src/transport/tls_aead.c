/*
 * The AEAD contexts of the TLS 1.3 record layer after the hand-over
 * (tls_record.c): they belong to the thread, not to a connection, so an
 * idle connection holds keys and sequence numbers only. See tls_record.h.
 */
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "transport/tls_record.h"

static const EVP_CIPHER *cipher_of(rc__tls_suite s) {
  switch (s) {
  case RC__TLS_AES_128_GCM_SHA256:
    return EVP_aes_128_gcm();
  case RC__TLS_AES_256_GCM_SHA384:
    return EVP_aes_256_gcm();
  default:
    return EVP_chacha20_poly1305();
  }
}

/* A thread keeps AEAD_WAYS contexts per suite and direction, each keyed
 * for the last key that used it; a key picks its context by its first
 * bytes (random), so the connections active on a loop mostly find theirs
 * still keyed, and another key re-keys it (the AES or ChaCha20 key
 * schedule plus GHASH's table, through the provider). Idle connections hold
 * no context at all: the thread's contexts are shared by all of them
 * (~1 KB each, at most AEAD_WAYS × 2 per suite in use). */
#define AEAD_WAYS 64

typedef struct aead_slot {
  EVP_CIPHER_CTX *c;
  uint8_t key[32];
  int keyed;
} aead_slot;

static _Thread_local aead_slot slots[RC__TLS_SUITES][2][AEAD_WAYS];
static pthread_key_t slots_key;
static pthread_once_t slots_once = PTHREAD_ONCE_INIT;

static void slots_free(void *p) {
  (void)p;
  aead_slot *sl = &slots[0][0][0];
  for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0][0][0]); i++) {
    EVP_CIPHER_CTX_free(sl[i].c);
    OPENSSL_cleanse(&sl[i], sizeof(sl[i]));
  }
}

void rc__tls_aead_release(void) { slots_free(NULL); }

static void slots_init(void) { (void)pthread_key_create(&slots_key, slots_free); }

EVP_CIPHER_CTX *rc__tls_aead_ctx(rc__tls_suite s, int enc, const uint8_t *key) {
  aead_slot *sl = &slots[s][enc][(key[0] | (unsigned)key[1] << 8) % AEAD_WAYS];
  size_t kl = rc__tls_suite_key_len(s);
  if (!sl->c) {
    (void)pthread_once(&slots_once, slots_init);
    sl->c = EVP_CIPHER_CTX_new();
    if (!sl->c || EVP_CipherInit_ex(sl->c, cipher_of(s), NULL, NULL, NULL,
                                    enc) != 1) {
      EVP_CIPHER_CTX_free(sl->c);
      sl->c = NULL;
      return NULL;
    }
    (void)pthread_setspecific(slots_key, slots); /* a thread's exit frees */
  }
  if (!sl->keyed || CRYPTO_memcmp(sl->key, key, kl) != 0) {
    sl->keyed = 0;
    if (EVP_CipherInit_ex(sl->c, NULL, NULL, key, NULL, enc) != 1)
      return NULL;
    memcpy(sl->key, key, kl);
    sl->keyed = 1;
  }
  return sl->c;
}
