/*
 * For unit tests: OpenSSL's heap in this process counted, through
 * CRYPTO_set_mem_functions (each block carries its size in front).
 * test_ossl_count_install() must run before OpenSSL allocates anything
 * (first thing in main); it returns 0 when that was too late.
 */
#ifndef RCOAP_TEST_OSSL_COUNT_H
#define RCOAP_TEST_OSSL_COUNT_H

#include <stdlib.h>

#include <openssl/crypto.h>

static long g_ossl_live; /* bytes live in OpenSSL's heap */

static void *ossl_count_malloc(size_t n, const char *file, int line) {
  (void)file, (void)line;
  size_t *q = malloc(sizeof(size_t) + n);
  if (q == NULL)
    return NULL;
  *q = n;
  g_ossl_live += (long)n;
  return q + 1;
}

static void ossl_count_free(void *p, const char *file, int line) {
  (void)file, (void)line;
  if (p == NULL)
    return;
  size_t *q = (size_t *)p - 1;
  g_ossl_live -= (long)*q;
  free(q);
}

static void *ossl_count_realloc(void *p, size_t n, const char *file,
                                int line) {
  if (p == NULL)
    return ossl_count_malloc(n, file, line);
  size_t *q = (size_t *)p - 1, old = *q;
  size_t *r = realloc(q, sizeof(size_t) + n);
  if (r == NULL)
    return NULL;
  *r = n;
  g_ossl_live += (long)n - (long)old;
  return r + 1;
}

static inline int test_ossl_count_install(void) {
  return CRYPTO_set_mem_functions(ossl_count_malloc, ossl_count_realloc,
                                  ossl_count_free);
}

#endif
