/*
 * Certificate helpers for the TLS filter and its users: the one-line names
 * that go into error sentences and peer information (subject CN, the list
 * of subjectAltNames, an RFC 2253 distinguished name), the self-signed
 * demo certificate rcoapd creates on first start, and SHA-256
 * fingerprints. Everything uses the OpenSSL API; nothing shells out.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "transport/tls_int.h"

/* The demo certificate: 10 years. */
#define DEMO_DAYS 3650
#define DEMO_SANS "DNS:localhost,IP:127.0.0.1,IP:::1"

static void append(char *buf, size_t cap, size_t *pos, const char *s) {
  size_t n = strlen(s);
  if (*pos >= cap)
    return;
  if (n >= cap - *pos)
    n = cap - *pos - 1;
  memcpy(buf + *pos, s, n);
  *pos += n;
  buf[*pos] = '\0';
}

void rc__tls_sans(X509 *cert, char *buf, size_t cap) {
  size_t pos = 0;
  if (!cap)
    return;
  buf[0] = '\0';
  if (!cert)
    return;
  GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL,
                                         NULL);
  if (!gens)
    return;
  for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
    const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
    char one[INET6_ADDRSTRLEN + 270];
    one[0] = '\0';
    if (g->type == GEN_DNS) {
      const ASN1_STRING *s = g->d.dNSName;
      snprintf(one, sizeof(one), "DNS:%.*s", ASN1_STRING_length(s),
               (const char *)ASN1_STRING_get0_data(s));
    } else if (g->type == GEN_IPADD) {
      const ASN1_STRING *s = g->d.iPAddress;
      char ip[INET6_ADDRSTRLEN] = "?";
      if (ASN1_STRING_length(s) == 4)
        inet_ntop(AF_INET, ASN1_STRING_get0_data(s), ip, sizeof(ip));
      else if (ASN1_STRING_length(s) == 16)
        inet_ntop(AF_INET6, ASN1_STRING_get0_data(s), ip, sizeof(ip));
      snprintf(one, sizeof(one), "IP:%s", ip);
    } else if (g->type == GEN_URI) {
      const ASN1_STRING *s = g->d.uniformResourceIdentifier;
      snprintf(one, sizeof(one), "URI:%.*s", ASN1_STRING_length(s),
               (const char *)ASN1_STRING_get0_data(s));
    } else {
      continue;
    }
    if (pos)
      append(buf, cap, &pos, ", ");
    append(buf, cap, &pos, one);
  }
  GENERAL_NAMES_free(gens);
}

void rc__tls_cn(X509 *cert, char *buf, size_t cap) {
  if (!cap)
    return;
  buf[0] = '\0';
  if (!cert)
    return;
  int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
                                    NID_commonName, buf, (int)cap);
  if (n < 0)
    buf[0] = '\0';
  ERR_clear_error();
}

void rc__tls_name(const X509_NAME *name, char *buf, size_t cap) {
  if (!cap)
    return;
  snprintf(buf, cap, "(no name)");
  if (!name)
    return;
  BIO *b = BIO_new(BIO_s_mem());
  if (!b)
    return;
  if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0) {
    int n = BIO_read(b, buf, (int)cap - 1);
    buf[n > 0 ? n : 0] = '\0';
  }
  BIO_free(b);
  ERR_clear_error();
}

static int add_ext(X509 *x, int nid, const char *value) {
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
  if (!ext)
    return 0;
  int ok = X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  return ok;
}

static X509 *demo_cert(EVP_PKEY *key, const char *cn) {
  X509 *x = X509_new();
  BIGNUM *bn = BN_new();
  unsigned char serial[16];
  int ok = x && bn && RAND_bytes(serial, sizeof(serial)) == 1;
  if (ok) {
    serial[0] &= 0x7f; /* RFC 5280 §4.1.2.2: a positive integer */
    ok = BN_bin2bn(serial, sizeof(serial), bn) &&
         BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
  }
  ok = ok && X509_set_version(x, 2) &&
       X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
       X509_time_adj_ex(X509_getm_notAfter(x), DEMO_DAYS, 0, NULL) &&
       X509_set_pubkey(x, key);
  X509_NAME *name = ok ? X509_get_subject_name(x) : NULL;
  ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                        (const unsigned char *)cn, -1, -1, 0) &&
       X509_set_issuer_name(x, name);
  /* Self-signed leaf used as its own trust anchor: keyCertSign lets
   * OpenSSL accept its self-signature when a client pins it as CA file. */
  ok = ok && add_ext(x, NID_basic_constraints, "critical,CA:FALSE") &&
       add_ext(x, NID_key_usage, "critical,digitalSignature,keyCertSign") &&
       add_ext(x, NID_ext_key_usage, "serverAuth") &&
       add_ext(x, NID_subject_key_identifier, "hash") &&
       add_ext(x, NID_subject_alt_name, DEMO_SANS) &&
       X509_sign(x, key, EVP_sha256()) > 0;
  BN_free(bn);
  if (!ok) {
    X509_free(x);
    return NULL;
  }
  return x;
}

rc_err rc_tls_make_self_signed(const char *cert_path, const char *key_path,
                               const char *cn) {
  if (!cert_path || !key_path)
    return RC_ERR_INVAL;
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *x = key ? demo_cert(key, cn ? cn : "localhost") : NULL;
  rc_err err = x ? RC_OK : RC_ERR_TLS;
  if (!err) {
    int fd = open(key_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!fp && fd >= 0)
      close(fd);
    if (!fp || !PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL))
      err = RC_ERR_IO;
    if (fp && fclose(fp) != 0)
      err = RC_ERR_IO;
  }
  if (!err) {
    FILE *fp = fopen(cert_path, "w");
    if (!fp || !PEM_write_X509(fp, x))
      err = RC_ERR_IO;
    if (fp && fclose(fp) != 0)
      err = RC_ERR_IO;
  }
  X509_free(x);
  EVP_PKEY_free(key);
  ERR_clear_error();
  return err;
}

rc_err rc_tls_fingerprint_file(const char *cert_path,
                               uint8_t out[RC_TLS_FINGERPRINT_LEN]) {
  FILE *fp = cert_path ? fopen(cert_path, "r") : NULL;
  if (!fp)
    return RC_ERR_NOT_FOUND;
  X509 *x = PEM_read_X509(fp, NULL, NULL, NULL);
  fclose(fp);
  unsigned int n = 0;
  rc_err err = RC_OK;
  if (!x || X509_digest(x, EVP_sha256(), out, &n) != 1 ||
      n != RC_TLS_FINGERPRINT_LEN)
    err = RC_ERR_TLS_CERT;
  X509_free(x);
  ERR_clear_error();
  return err;
}

void rc_tls_fingerprint_hex(const uint8_t fp[RC_TLS_FINGERPRINT_LEN],
                            char out[RC_TLS_FINGERPRINT_HEX_LEN]) {
  static const char hex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < RC_TLS_FINGERPRINT_LEN; i++) {
    out[i * 3] = hex[fp[i] >> 4];
    out[i * 3 + 1] = hex[fp[i] & 15];
    out[i * 3 + 2] = i + 1 < RC_TLS_FINGERPRINT_LEN ? ':' : '\0';
  }
}
