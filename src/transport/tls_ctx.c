/*
 * The shared TLS context: turns an rc_tls_config into one SSL_CTX with the
 * project's policy (versions, suites, ALPN, verification, PSK, tickets),
 * loads every certificate, key and CA once, and holds the OpenSSL
 * callbacks that need per-connection state (verification details, ALPN
 * refusal, SNI certificate choice, PSK look-up) plus the client's session
 * cache for resumption. Filters (tls.c, dtls.c) take a reference on the
 * context; with rc_tls_config.datagram the SSL_CTX is DTLS 1.2 (no ALPN,
 * the cookie callbacks of dtls.c on a server).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "transport/tls_int.h"

/* TLS 1.2 suites: ECDHE key exchange with AEAD only (RFC 7525 §4.2; the
 * CCM_8 suite is RFC 7925 §4.4.1's mandatory-to-implement one). */
#define TLS12_CERT_SUITES                                                      \
  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"               \
  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:"                 \
  "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:"                   \
  "ECDHE-ECDSA-AES128-CCM:ECDHE-ECDSA-AES128-CCM8"
/* PSK suites (RFC 7925 §4.2.1 makes TLS_PSK_WITH_AES_128_CCM_8 MTI);
 * libcoap's client offers ECDHE-PSK-CHACHA20-POLY1305 and PSK-AES-GCM. */
#define TLS12_PSK_SUITES                                                       \
  "ECDHE-PSK-CHACHA20-POLY1305:PSK-AES128-GCM-SHA256:PSK-AES256-GCM-SHA384:"   \
  "PSK-CHACHA20-POLY1305:PSK-AES128-CCM:PSK-AES128-CCM8"
#define TLS13_SUITES                                                           \
  "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:"                       \
  "TLS_AES_256_GCM_SHA384:TLS_AES_128_CCM_SHA256"
/* Files larger than this are not PEM certificates or keys. */
#define PEM_FILE_MAX (1024 * 1024)
/* The TLS 1.3 suite an external PSK is bound to: its hash (SHA-256) is what
 * matters (RFC 8446 §4.2.11: a PSK is associated with one hash). */
static const unsigned char PSK_SUITE_ID[2] = {0x13, 0x01};
static const unsigned char ALPN_WIRE[] = "\x04" RC_TLS_ALPN_ID;
/* coaps+ws listeners: "http/1.1" first, then "coap" (what rcoap offered
 * for coaps+ws before it offered "http/1.1"). */
static const unsigned char ALPN_WIRE_WS[] = "\x08" RC_TLS_ALPN_HTTP11
                                            "\x04" RC_TLS_ALPN_ID;

void rc_tls_config_init(rc_tls_config *cfg, rc_tls_role role) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->role = role;
  cfg->session_cache_size = 32;
}

/* Writes fmt into errbuf, followed by OpenSSL's reason if one is queued;
 * empties the OpenSSL error queue either way. */
static void set_err(char *errbuf, size_t cap, const char *fmt, ...) {
  unsigned long e = ERR_peek_last_error();
  if (errbuf && cap) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, cap, fmt, ap);
    va_end(ap);
    if (e) {
      const char *r = ERR_reason_error_string(e);
      size_t n = strlen(errbuf);
      if (r && n < cap)
        snprintf(errbuf + n, cap - n, " (%s)", r);
    }
  }
  ERR_clear_error();
}

/* Reads a whole file into a new malloc'd buffer. Returns 0 or an errno. */
static int read_file(const char *path, char **out, size_t *len) {
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return errno ? errno : EIO;
  char *buf = malloc(PEM_FILE_MAX);
  if (!buf) {
    fclose(fp);
    return ENOMEM;
  }
  size_t n = fread(buf, 1, PEM_FILE_MAX, fp);
  int bad = ferror(fp) || n == PEM_FILE_MAX;
  fclose(fp);
  if (bad) {
    free(buf);
    return EFBIG;
  }
  *out = buf;
  *len = n;
  return 0;
}

/* PEM text from memory (preferred) or file into a memory BIO. */
static rc_err pem_bio(const char *pem, size_t pem_len, const char *file,
                      const char *what, BIO **out, char *errbuf, size_t cap) {
  if (pem) {
    *out = BIO_new_mem_buf(pem, (int)pem_len);
    return *out ? RC_OK : RC_ERR_NOMEM;
  }
  char *buf;
  size_t len;
  int e = read_file(file, &buf, &len);
  if (e) {
    set_err(errbuf, cap, "cannot read %s file '%s': %s", what, file,
            strerror(e));
    return e == ENOMEM ? RC_ERR_NOMEM : RC_ERR_NOT_FOUND;
  }
  /* A read-only mem BIO borrows; copy into a read-write one. */
  BIO *b = BIO_new(BIO_s_mem());
  if (!b || BIO_write(b, buf, (int)len) != (int)len) {
    BIO_free(b);
    free(buf);
    return RC_ERR_NOMEM;
  }
  free(buf);
  *out = b;
  return RC_OK;
}

static const char *src_name(const char *pem, const char *file) {
  return pem ? "(in-memory PEM)" : file;
}

static rc_err load_keycert(const rc_tls_cert *c, rc__tls_keycert *kc,
                           char *errbuf, size_t cap) {
  const char *cname = src_name(c->cert_pem, c->cert_file);
  const char *kname = src_name(c->key_pem, c->key_file);
  if ((!c->cert_pem && !c->cert_file) || (!c->key_pem && !c->key_file)) {
    set_err(errbuf, cap, "a certificate needs both a certificate and a key");
    return RC_ERR_INVAL;
  }
  BIO *b;
  rc_err err = pem_bio(c->cert_pem, c->cert_pem_len, c->cert_file,
                       "certificate", &b, errbuf, cap);
  if (err)
    return err;
  kc->cert = PEM_read_bio_X509(b, NULL, NULL, NULL);
  if (!kc->cert) {
    BIO_free(b);
    set_err(errbuf, cap, "no PEM certificate in %s", cname);
    return RC_ERR_TLS_CERT;
  }
  X509 *x;
  while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
    if (!kc->chain)
      kc->chain = sk_X509_new_null();
    if (!kc->chain || !sk_X509_push(kc->chain, x)) {
      X509_free(x);
      BIO_free(b);
      return RC_ERR_NOMEM;
    }
  }
  ERR_clear_error(); /* the loop ends on "no start line" */
  BIO_free(b);
  err = pem_bio(c->key_pem, c->key_pem_len, c->key_file, "key", &b, errbuf,
                cap);
  if (err)
    return err;
  kc->key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
  BIO_free(b);
  if (!kc->key) {
    set_err(errbuf, cap, "no PEM private key in %s", kname);
    return RC_ERR_TLS_CERT;
  }
  if (X509_check_private_key(kc->cert, kc->key) != 1) {
    set_err(errbuf, cap, "the key in %s does not match the certificate in %s",
            kname, cname);
    return RC_ERR_TLS_CERT;
  }
  return RC_OK;
}

/* Trust anchors into the SSL_CTX's store; a server also advertises their
 * names as acceptable client-certificate issuers. */
static rc_err load_ca(const rc_tls_config *cfg, SSL_CTX *sc, char *errbuf,
                      size_t cap) {
  BIO *b;
  rc_err err = pem_bio(cfg->ca_pem, cfg->ca_pem_len, cfg->ca_file,
                       "CA certificate", &b, errbuf, cap);
  if (err)
    return err;
  X509_STORE *store = SSL_CTX_get_cert_store(sc);
  X509 *x;
  int n = 0;
  while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
    int ok = X509_STORE_add_cert(store, x) == 1;
    if (ok && cfg->role == RC_TLS_SERVER)
      ok = SSL_CTX_add_client_CA(sc, x) == 1;
    X509_free(x);
    if (!ok) {
      BIO_free(b);
      set_err(errbuf, cap, "cannot add CA certificate from %s",
              src_name(cfg->ca_pem, cfg->ca_file));
      return RC_ERR_TLS;
    }
    n++;
  }
  ERR_clear_error();
  BIO_free(b);
  if (n == 0) {
    set_err(errbuf, cap, "no PEM certificate in %s",
            src_name(cfg->ca_pem, cfg->ca_file));
    return RC_ERR_TLS_CERT;
  }
  return RC_OK;
}

/* ---- OpenSSL callbacks -------------------------------------------------- */

/* Records the first verification failure with a sentence naming what is
 * wrong, so the handshake error can say more than "verify failed". */
static int verify_cb(int ok, X509_STORE_CTX *xs) {
  if (ok)
    return 1;
  SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
  rc__tls_filter *f = ssl ? rc__tls_from_ssl(ssl) : NULL;
  if (!f || f->verify_err)
    return 0;
  int e = X509_STORE_CTX_get_error(xs);
  X509 *cur = X509_STORE_CTX_get_current_cert(xs);
  X509 *leaf = X509_STORE_CTX_get0_cert(xs);
  const char *who = f->ctx->role == RC_TLS_SERVER ? "client certificate: " : "";
  char a[256], b[160];
  f->verify_err = e ? e : X509_V_ERR_UNSPECIFIED;
  switch (e) {
  case X509_V_ERR_CERT_HAS_EXPIRED:
    rc__tls_name(cur ? X509_get_subject_name(cur) : NULL, b, sizeof(b));
    rc__tls_say(f, "%scertificate has expired (%s)",
             who, b);
    break;
  case X509_V_ERR_CERT_NOT_YET_VALID:
    rc__tls_name(cur ? X509_get_subject_name(cur) : NULL, b, sizeof(b));
    rc__tls_say(f, "%scertificate is not yet valid (%s)", who, b);
    break;
  case X509_V_ERR_HOSTNAME_MISMATCH:
  case X509_V_ERR_IP_ADDRESS_MISMATCH:
    rc__tls_sans(leaf, a, sizeof(a));
    if (!a[0])
      rc__tls_cn(leaf, a, sizeof(a));
    rc__tls_say(f, "host name mismatch: certificate is for %s, not %s",
             a[0] ? a : "no names", f->host ? f->host : "?");
    break;
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
  case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
  case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    rc__tls_name(cur ? X509_get_issuer_name(cur) : NULL, b, sizeof(b));
    rc__tls_say(f, "%sunknown CA: %s", who, b);
    break;
  default:
    rc__tls_say(f, "%scertificate verification failed: %s", who,
             X509_verify_cert_error_string(e));
    break;
  }
  return 0;
}

/* Verification by fingerprint (rc_tls_config.peer_fingerprint) in place
 * of OpenSSL's chain and name checks: the leaf's SHA-256 DER digest must
 * equal the configured one (RFC 8122 §5; a WebRTC peer's certificate is
 * self-signed, so there is no chain to check). */
static int fingerprint_verify_cb(X509_STORE_CTX *xs, void *arg) {
  rc_tls_ctx *ctx = arg;
  SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
  rc__tls_filter *f = ssl ? rc__tls_from_ssl(ssl) : NULL;
  X509 *leaf = X509_STORE_CTX_get0_cert(xs);
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  const uint8_t *want = f && f->own_fp ? f->own_fp : ctx->peer_fp;
  if (leaf && X509_digest(leaf, EVP_sha256(), md, &n) == 1 &&
      n == RC_TLS_FINGERPRINT_LEN && CRYPTO_memcmp(md, want, n) == 0)
    return 1;
  X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
  if (f && !f->verify_err) {
    char got[RC_TLS_FINGERPRINT_HEX_LEN], wanthex[RC_TLS_FINGERPRINT_HEX_LEN];
    f->verify_err = X509_V_ERR_APPLICATION_VERIFICATION;
    rc_tls_fingerprint_hex(md, got);
    rc_tls_fingerprint_hex(want, wanthex);
    if (leaf && n == RC_TLS_FINGERPRINT_LEN)
      rc__tls_say(f, "certificate fingerprint mismatch: sha-256 %s, expected %s",
               got, wanthex);
    else
      rc__tls_say(f, "certificate fingerprint mismatch: no certificate");
  }
  ERR_clear_error();
  return 0;
}

/* RFC 8323 §8.2: a server on a port other than 5684 "MUST be ALPN
 * enabled"; a coaps+tcp listener refuses offers that lack "coap" (RFC 7301
 * §3.2: "the server SHALL respond with a fatal 'no_application_protocol'
 * alert"). A coaps+ws listener serves HTTP/1.1 (RFC 8323 §4 runs CoAP
 * inside an RFC 6455 upgrade): it selects "http/1.1", or "coap" for older
 * rcoap clients, and refuses lists with neither. */
static int alpn_select_cb(SSL *ssl, const unsigned char **out,
                          unsigned char *outlen, const unsigned char *in,
                          unsigned int inlen, void *arg) {
  (void)arg;
  rc__tls_filter *f = rc__tls_from_ssl(ssl);
  const unsigned char *ours = ALPN_WIRE;
  unsigned int ours_len = sizeof(ALPN_WIRE) - 1;
  if (f && f->http) {
    ours = ALPN_WIRE_WS;
    ours_len = sizeof(ALPN_WIRE_WS) - 1;
  }
  unsigned char *sel;
  if (SSL_select_next_proto(&sel, outlen, ours, ours_len, in, inlen) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
  }
  if (f)
    f->alpn_refused = 2;
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* The ALPN callback is not called when the client sends no ALPN extension
 * at all, so that case is caught here, before anything else. A coaps+ws
 * listener accepts it: an HTTPS client need not use ALPN (RFC 7301 §3.1
 * makes the extension optional). */
static int client_hello_cb(SSL *ssl, int *al, void *arg) {
  rc_tls_ctx *ctx = arg;
  const unsigned char *p;
  size_t len;
  rc__tls_filter *f = rc__tls_from_ssl(ssl);
  if (ctx->allow_no_alpn || (f && f->http) ||
      SSL_client_hello_get0_ext(
          ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &p, &len))
    return SSL_CLIENT_HELLO_SUCCESS;
  if (f)
    f->alpn_refused = 1;
  *al = SSL_AD_NO_APPLICATION_PROTOCOL;
  return SSL_CLIENT_HELLO_ERROR;
}

/* Server: picks the certificate whose names match the client's SNI. */
static int servername_cb(SSL *ssl, int *al, void *arg) {
  (void)al;
  rc_tls_ctx *ctx = arg;
  const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name || ctx->ncerts < 2)
    return SSL_TLSEXT_ERR_OK;
  for (size_t i = 0; i < ctx->ncerts; i++) {
    rc__tls_keycert *kc = &ctx->certs[i];
    if (X509_check_host(kc->cert, name, 0, 0, NULL) == 1) {
      if (i > 0 && SSL_use_cert_and_key(ssl, kc->cert, kc->key, kc->chain,
                                        1) != 1) {
        ERR_clear_error();
        return SSL_TLSEXT_ERR_ALERT_FATAL;
      }
      break;
    }
  }
  return SSL_TLSEXT_ERR_OK;
}

/* Server: the key for a PSK identity, from the look-up callback or the
 * configured key. Returns its length or -1. */
static int psk_key_for(rc__tls_filter *f, const uint8_t *id, size_t idlen,
                       uint8_t *key, size_t cap) {
  rc_tls_ctx *ctx = f->ctx;
  if (ctx->psk_lookup) {
    int n = ctx->psk_lookup(ctx->psk_lookup_user, id, idlen, key, cap);
    if (n >= 0 && (size_t)n <= cap)
      return n;
  }
  if (!ctx->has_psk || ctx->psk_key_len > cap)
    return -1;
  if (ctx->psk_id_len &&
      (idlen != ctx->psk_id_len || memcmp(id, ctx->psk_id, idlen) != 0))
    return -1;
  memcpy(key, ctx->psk_key, ctx->psk_key_len);
  return (int)ctx->psk_key_len;
}

static void note_psk_id(rc__tls_filter *f, const uint8_t *id, size_t len) {
  rc__tls_psk *p = rc__tls_psk_of(f);
  if (!p)
    return; /* rc_tls_peer_info then names no identity */
  if (len > sizeof(p->id))
    len = sizeof(p->id);
  memcpy(p->id, id, len);
  p->id_len = len;
}

/* A TLS 1.3 session object carrying an external PSK. */
static SSL_SESSION *psk_session(SSL *ssl, const uint8_t *key, size_t len) {
  const SSL_CIPHER *c = SSL_CIPHER_find(ssl, PSK_SUITE_ID);
  SSL_SESSION *s = c ? SSL_SESSION_new() : NULL;
  if (!s)
    return NULL;
  if (SSL_SESSION_set1_master_key(s, key, len) != 1 ||
      SSL_SESSION_set_cipher(s, c) != 1 ||
      SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION) != 1) {
    SSL_SESSION_free(s);
    return NULL;
  }
  return s;
}

static int psk_use_session_cb(SSL *ssl, const EVP_MD *md,
                              const unsigned char **id, size_t *idlen,
                              SSL_SESSION **sess) {
  rc__tls_filter *f = rc__tls_from_ssl(ssl);
  *sess = NULL;
  if (!f || !f->ctx->has_psk)
    return 1;
  const SSL_CIPHER *c = SSL_CIPHER_find(ssl, PSK_SUITE_ID);
  /* After a HelloRetryRequest md is the chosen suite's hash: our PSK is
   * bound to SHA-256 and cannot be offered with another. */
  if (!c || (md && md != SSL_CIPHER_get_handshake_digest(c)))
    return 1;
  *sess = psk_session(ssl, f->ctx->psk_key, f->ctx->psk_key_len);
  if (!*sess)
    return 0;
  *id = f->ctx->psk_id;
  *idlen = f->ctx->psk_id_len;
  note_psk_id(f, f->ctx->psk_id, f->ctx->psk_id_len);
  return 1;
}

static int psk_find_session_cb(SSL *ssl, const unsigned char *id,
                               size_t idlen, SSL_SESSION **sess) {
  rc__tls_filter *f = rc__tls_from_ssl(ssl);
  uint8_t key[RC_TLS_MAX_PSK_KEY];
  *sess = NULL;
  if (!f)
    return 1;
  int n = psk_key_for(f, id, idlen, key, sizeof(key));
  if (n <= 0) {
    f->psk_unknown = 1; /* go on without a PSK (certificate, or fail) */
    return 1;
  }
  note_psk_id(f, id, idlen);
  *sess = psk_session(ssl, key, (size_t)n);
  OPENSSL_cleanse(key, sizeof(key));
  return *sess ? 1 : 0;
}

/* TLS 1.2 PSK (RFC 4279). OpenSSL hands identities as C strings. */
static unsigned int psk_client_cb(SSL *ssl, const char *hint, char *identity,
                                  unsigned int max_id, unsigned char *psk,
                                  unsigned int max_psk) {
  rc__tls_filter *f = rc__tls_from_ssl(ssl);
  rc__tls_psk *p = f && hint ? rc__tls_psk_of(f) : NULL;
  if (p)
    snprintf(p->hint, sizeof(p->hint), "%s", hint);
  if (!f || !f->ctx->has_psk || f->ctx->psk_id_len + 1 > max_id ||
      f->ctx->psk_key_len > max_psk)
    return 0;
  memcpy(identity, f->ctx->psk_id, f->ctx->psk_id_len);
  identity[f->ctx->psk_id_len] = '\0';
  memcpy(psk, f->ctx->psk_key, f->ctx->psk_key_len);
  note_psk_id(f, f->ctx->psk_id, f->ctx->psk_id_len);
  return (unsigned int)f->ctx->psk_key_len;
}

static unsigned int psk_server_cb(SSL *ssl, const char *identity,
                                  unsigned char *psk, unsigned int max_psk) {
  rc__tls_filter *f = rc__tls_from_ssl(ssl);
  if (!f || !identity)
    return 0;
  size_t idlen = strlen(identity);
  int n = psk_key_for(f, (const uint8_t *)identity, idlen, psk, max_psk);
  if (n <= 0) {
    f->psk_unknown = 1;
    return 0;
  }
  note_psk_id(f, (const uint8_t *)identity, idlen);
  return (unsigned int)n;
}

/* Client: a new session (a TLS 1.3 ticket arrives after the handshake). */
static int new_session_cb(SSL *ssl, SSL_SESSION *sess) {
  rc__tls_filter *f = rc__tls_from_ssl(ssl);
  if (!f || !f->host || f->ctx->cache_cap == 0 ||
      !SSL_SESSION_is_resumable(sess))
    return 0;
  rc__tls_cache_put(f->ctx, f->host, f->port, sess);
  return 1; /* we keep the reference */
}

/* ---- session cache ------------------------------------------------------ */

static int cache_find(const rc_tls_ctx *ctx, const char *key) {
  for (size_t i = 0; i < ctx->cache_len; i++)
    if (strcmp(ctx->cache[i].key, key) == 0)
      return (int)i;
  return -1;
}

static void cache_key(char *buf, size_t cap, const char *host, uint16_t port) {
  snprintf(buf, cap, "%s:%u", host, (unsigned)port);
}

static void cache_drop(rc_tls_ctx *ctx, size_t i) {
  SSL_SESSION_free(ctx->cache[i].sess);
  ctx->mem.free(ctx->cache[i].key, ctx->mem.user);
  memmove(&ctx->cache[i], &ctx->cache[i + 1],
          (ctx->cache_len - i - 1) * sizeof(ctx->cache[0]));
  ctx->cache_len--;
}

/* Takes ownership of one reference on sess (freed if it cannot be kept). */
void rc__tls_cache_put(rc_tls_ctx *ctx, const char *host, uint16_t port,
                       SSL_SESSION *sess) {
  char key[300];
  cache_key(key, sizeof(key), host, port);
  int i = cache_find(ctx, key);
  if (i >= 0)
    cache_drop(ctx, (size_t)i);
  if (ctx->cache_len == ctx->cache_cap)
    cache_drop(ctx, 0); /* oldest */
  size_t klen = strlen(key) + 1;
  char *k = ctx->mem.malloc(klen, ctx->mem.user);
  if (!k) {
    SSL_SESSION_free(sess);
    return;
  }
  memcpy(k, key, klen);
  ctx->cache[ctx->cache_len].key = k;
  ctx->cache[ctx->cache_len].sess = sess;
  ctx->cache_len++;
}

/* Returns a borrowed session for (host, port), or NULL. */
SSL_SESSION *rc__tls_cache_get(rc_tls_ctx *ctx, const char *host,
                               uint16_t port) {
  char key[300];
  if (!ctx->cache_cap || !host)
    return NULL;
  cache_key(key, sizeof(key), host, port);
  int i = cache_find(ctx, key);
  if (i < 0)
    return NULL;
  if (!SSL_SESSION_is_resumable(ctx->cache[i].sess)) {
    cache_drop(ctx, (size_t)i);
    return NULL;
  }
  return ctx->cache[i].sess;
}

size_t rc_tls_ctx_cached_sessions(const rc_tls_ctx *ctx) {
  return ctx ? ctx->cache_len : 0;
}

rc_tls_role rc_tls_ctx_role(const rc_tls_ctx *ctx) { return ctx->role; }

/* ---- context ------------------------------------------------------------ */

void rc__tls_ctx_ref(rc_tls_ctx *ctx) { atomic_fetch_add(&ctx->refs, 1); }

void rc_tls_ctx_free(rc_tls_ctx *ctx) {
  if (!ctx || atomic_fetch_sub(&ctx->refs, 1) != 1)
    return;
  while (ctx->cache_len)
    cache_drop(ctx, ctx->cache_len - 1);
  ctx->mem.free(ctx->cache, ctx->mem.user);
  for (size_t i = 0; i < ctx->ncerts; i++) {
    X509_free(ctx->certs[i].cert);
    EVP_PKEY_free(ctx->certs[i].key);
    sk_X509_pop_free(ctx->certs[i].chain, X509_free);
  }
  SSL_CTX_free(ctx->ssl_ctx);
  rc__tls_keylog_close(ctx);
  BIO_meth_free(ctx->bio_meth);
  OPENSSL_cleanse(ctx->psk_key, sizeof(ctx->psk_key));
  rc__hkey_wipe(&ctx->cookie);
  ctx->mem.free(ctx, ctx->mem.user);
}

static int proto_version(rc_tls_version v, int dflt) {
  return v == RC_TLS_V1_2 ? TLS1_2_VERSION
                          : v == RC_TLS_V1_3 ? TLS1_3_VERSION : dflt;
}

static rc_err check_config(const rc_tls_config *cfg, char *errbuf,
                           size_t cap) {
  const char *why = NULL;
  int psk = cfg->psk_key_len > 0 || cfg->psk_lookup;
  if (cfg->role != RC_TLS_CLIENT && cfg->role != RC_TLS_SERVER)
    why = "role must be RC_TLS_CLIENT or RC_TLS_SERVER";
  else if (cfg->ncerts > RC_TLS_MAX_CERTS)
    why = "too many certificates";
  else if (cfg->role == RC_TLS_SERVER && cfg->ncerts == 0 && !psk)
    why = "a TLS server needs a certificate or a pre-shared key";
  else if (cfg->role == RC_TLS_CLIENT && cfg->ncerts > 1)
    why = "a TLS client takes at most one certificate";
  else if (cfg->psk_key_len > RC_TLS_MAX_PSK_KEY)
    why = "pre-shared key longer than 64 bytes";
  else if (cfg->psk_identity_len > RC_TLS_MAX_PSK_IDENTITY)
    why = "PSK identity longer than 128 bytes";
  else if ((cfg->psk_key_len && !cfg->psk_key) ||
           (cfg->psk_identity_len && !cfg->psk_identity))
    why = "PSK length given without bytes";
  else if (cfg->role == RC_TLS_CLIENT && cfg->psk_key_len &&
           !cfg->psk_identity_len)
    why = "a PSK client needs an identity";
  else if (cfg->psk_identity && memchr(cfg->psk_identity, 0,
                                       cfg->psk_identity_len))
    why = "PSK identity must not contain NUL bytes";
  else if (cfg->role == RC_TLS_SERVER && cfg->client_auth &&
           !cfg->ca_file && !cfg->ca_pem)
    why = "client certificate checking needs a CA file";
  else if (cfg->min_version && cfg->max_version &&
           cfg->min_version > cfg->max_version)
    why = "min_version is above max_version";
  else if (cfg->datagram && (cfg->min_version == RC_TLS_V1_3 ||
                             cfg->max_version == RC_TLS_V1_3))
    why = "DTLS is version 1.2 only here (no DTLS 1.3 in OpenSSL 3)";
  else if (cfg->datagram && cfg->mtu &&
           (cfg->mtu < RC_DTLS_MIN_MTU || cfg->mtu > RC_DTLS_MAX_MTU))
    why = "DTLS mtu must be 256..65507 bytes";
  if (why) {
    set_err(errbuf, cap, "%s", why);
    return RC_ERR_INVAL;
  }
  return RC_OK;
}

static rc_err setup_ssl_ctx(rc_tls_ctx *ctx, const rc_tls_config *cfg,
                            char *errbuf, size_t cap) {
  int server = cfg->role == RC_TLS_SERVER;
  int dgram = cfg->datagram;
  SSL_CTX *sc = SSL_CTX_new(
      dgram ? (server ? DTLS_server_method() : DTLS_client_method())
            : (server ? TLS_server_method() : TLS_client_method()));
  if (!sc) {
    set_err(errbuf, cap, "cannot create an SSL_CTX");
    return RC_ERR_NOMEM;
  }
  ctx->ssl_ctx = sc;
  if (rc__tls_keylog_open(ctx, sc, cfg->keylog_file) != RC_OK) {
    set_err(errbuf, cap, "key log %s: %s", cfg->keylog_file, strerror(errno));
    return RC_ERR_IO;
  }
  /* RFC 8323 §9.1 -> RFC 7525 §3.1.1: "Implementations MUST NOT negotiate
   * SSL version 2 ... SSL version 3"; TLS 1.2 is the floor. */
  int lo = dgram ? DTLS1_2_VERSION
                 : proto_version(cfg->min_version, TLS1_2_VERSION);
  int hi = dgram ? DTLS1_2_VERSION
                 : proto_version(cfg->max_version, TLS1_3_VERSION);
  if (!SSL_CTX_set_min_proto_version(sc, lo) ||
      !SSL_CTX_set_max_proto_version(sc, hi)) {
    set_err(errbuf, cap, "cannot set the TLS versions");
    return RC_ERR_TLS;
  }
  SSL_CTX_set_options(sc, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                              SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(sc, SSL_MODE_RELEASE_BUFFERS);
  /* A client given a PSK and nothing to check a certificate with offers
   * only the PSK suites in TLS 1.2 / DTLS 1.2: else a server holding a
   * certificate too picks a certificate suite first, and the handshake
   * fails on a certificate the client never meant to check. */
  int psk_only = !server && ctx->has_psk && cfg->ncerts == 0 &&
                 !cfg->ca_file && !cfg->ca_pem && !ctx->has_peer_fp;
  const char *suites = psk_only ? TLS12_PSK_SUITES
                       : ctx->has_psk || ctx->psk_lookup
                           ? TLS12_CERT_SUITES ":" TLS12_PSK_SUITES
                           : TLS12_CERT_SUITES;
  if (!SSL_CTX_set_cipher_list(sc, suites) ||
      !SSL_CTX_set_ciphersuites(sc, TLS13_SUITES)) {
    set_err(errbuf, cap, "cannot set the cipher suites");
    return RC_ERR_TLS;
  }
  if (server || cfg->ncerts) {
    rc__tls_keycert *kc = &ctx->certs[0];
    if (ctx->ncerts &&
        SSL_CTX_use_cert_and_key(sc, kc->cert, kc->key, kc->chain, 1) != 1) {
      set_err(errbuf, cap, "cannot use the certificate");
      return RC_ERR_TLS_CERT;
    }
  }
  if (ctx->has_peer_fp)
    SSL_CTX_set_cert_verify_callback(sc, fingerprint_verify_cb, ctx);
  int have_ca = cfg->ca_file || cfg->ca_pem;
  if (have_ca) {
    rc_err err = load_ca(cfg, sc, errbuf, cap);
    if (err)
      return err;
  }
  if (server) {
    int mode = SSL_VERIFY_NONE;
    if (cfg->client_auth == RC_TLS_CLIENT_AUTH_REQUEST)
      mode = SSL_VERIFY_PEER;
    else if (cfg->client_auth == RC_TLS_CLIENT_AUTH_REQUIRE)
      mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    if (ctx->has_peer_fp)
      mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(sc, mode, mode ? verify_cb : NULL);
    if (dgram) {
      rc__dtls_ctx_setup(ctx, sc); /* no ALPN for coaps:// */
    } else {
      SSL_CTX_set_alpn_select_cb(sc, alpn_select_cb, ctx);
      SSL_CTX_set_client_hello_cb(sc, client_hello_cb, ctx);
    }
    if (ctx->ncerts > 1) {
      SSL_CTX_set_tlsext_servername_callback(sc, servername_cb);
      SSL_CTX_set_tlsext_servername_arg(sc, ctx);
    }
    static const unsigned char sid_ctx[] = "rcoap";
    SSL_CTX_set_session_id_context(sc, sid_ctx, sizeof(sid_ctx) - 1);
    if (cfg->no_tickets) {
      SSL_CTX_set_options(sc, SSL_OP_NO_TICKET);
      SSL_CTX_set_num_tickets(sc, 0);
      SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF);
    } else {
      SSL_CTX_set_num_tickets(sc, 1);
    }
    if (ctx->has_psk || ctx->psk_lookup) {
      SSL_CTX_set_psk_find_session_callback(sc, psk_find_session_cb);
      SSL_CTX_set_psk_server_callback(sc, psk_server_cb);
      if (cfg->psk_hint && !SSL_CTX_use_psk_identity_hint(sc, cfg->psk_hint)) {
        set_err(errbuf, cap, "cannot set the PSK identity hint");
        return RC_ERR_TLS;
      }
    }
  } else {
    if (cfg->insecure) {
      SSL_CTX_set_verify(sc, SSL_VERIFY_NONE, NULL);
    } else if (ctx->has_peer_fp) {
      SSL_CTX_set_verify(sc, SSL_VERIFY_PEER, NULL);
    } else {
      if (!have_ca && SSL_CTX_set_default_verify_paths(sc) != 1) {
        set_err(errbuf, cap, "cannot load the system CA store");
        return RC_ERR_TLS;
      }
      SSL_CTX_set_verify(sc, SSL_VERIFY_PEER, verify_cb);
    }
    if (dgram)
      rc__dtls_ctx_setup(ctx, sc);
    /* RFC 8323 §8.2: "the TLS client MUST use the ALPN extension to
     * advertise the 'coap' protocol identifier". (0 means success.) */
    else if (SSL_CTX_set_alpn_protos(sc, ALPN_WIRE, sizeof(ALPN_WIRE) - 1) !=
             0) {
      set_err(errbuf, cap, "cannot set ALPN");
      return RC_ERR_TLS;
    }
    if (ctx->has_psk) {
      SSL_CTX_set_psk_use_session_callback(sc, psk_use_session_cb);
      SSL_CTX_set_psk_client_callback(sc, psk_client_cb);
    }
    SSL_CTX_set_session_cache_mode(sc, cfg->session_cache_size
                                           ? SSL_SESS_CACHE_CLIENT |
                                                 SSL_SESS_CACHE_NO_INTERNAL_STORE
                                           : SSL_SESS_CACHE_OFF);
    if (cfg->session_cache_size)
      SSL_CTX_sess_set_new_cb(sc, new_session_cb);
  }
  return RC_OK;
}

rc_err rc_tls_ctx_new(rc_tls_ctx **out, const rc_tls_config *cfg, char *errbuf,
                      size_t errcap) {
  if (errbuf && errcap)
    errbuf[0] = '\0';
  if (!cfg || !out)
    return RC_ERR_INVAL;
  *out = NULL;
  rc_err err = check_config(cfg, errbuf, errcap);
  if (err)
    return err;
  const rc_mem *mem = cfg->mem ? cfg->mem : rc_mem_default();
  rc_tls_ctx *ctx = mem->malloc(sizeof(*ctx), mem->user);
  if (!ctx)
    return RC_ERR_NOMEM;
  memset(ctx, 0, sizeof(*ctx));
  atomic_init(&ctx->refs, 1);
  ctx->mem = *mem;
  ctx->keylog_fd = -1;
  ctx->role = cfg->role;
  ctx->insecure = cfg->insecure;
  ctx->allow_no_alpn = cfg->allow_no_alpn;
  ctx->client_auth = cfg->client_auth;
  ctx->psk_lookup = cfg->psk_lookup;
  ctx->psk_lookup_user = cfg->psk_lookup_user;
  if (cfg->peer_fingerprint) {
    memcpy(ctx->peer_fp, cfg->peer_fingerprint, RC_TLS_FINGERPRINT_LEN);
    ctx->has_peer_fp = 1;
  }
  ctx->datagram = cfg->datagram;
  /* TLS server: tls_handoff.c; DTLS of a WebRTC peer, either role (a
   * context checking fingerprints): dtls_record.h. */
  ctx->handoff = !cfg->keep_ssl && (cfg->role == RC_TLS_SERVER || cfg->datagram);
  ctx->mtu = cfg->mtu ? cfg->mtu : RC_DTLS_DEFAULT_MTU;
  ctx->hs_timeout_ms = cfg->handshake_timeout_ms
                           ? cfg->handshake_timeout_ms
                           : RC_DTLS_HANDSHAKE_TIMEOUT_MS;
  if (cfg->psk_key_len) {
    ctx->has_psk = 1;
    memcpy(ctx->psk_key, cfg->psk_key, cfg->psk_key_len);
    ctx->psk_key_len = cfg->psk_key_len;
  }
  if (cfg->psk_identity_len) {
    memcpy(ctx->psk_id, cfg->psk_identity, cfg->psk_identity_len);
    ctx->psk_id_len = cfg->psk_identity_len;
  }
  if (cfg->role == RC_TLS_CLIENT && cfg->session_cache_size) {
    ctx->cache = mem->malloc(cfg->session_cache_size * sizeof(*ctx->cache),
                             mem->user);
    if (!ctx->cache) {
      rc_tls_ctx_free(ctx);
      return RC_ERR_NOMEM;
    }
    ctx->cache_cap = cfg->session_cache_size;
  }
  ctx->bio_meth = cfg->datagram ? rc__dtls_bio_method_new()
                                : rc__tls_bio_method_new();
  if (cfg->datagram && cfg->role == RC_TLS_SERVER &&
      rc__hkey_init(&ctx->cookie) != RC_OK) {
    rc_tls_ctx_free(ctx);
    return RC_ERR_TLS;
  }
  if (!ctx->bio_meth) {
    rc_tls_ctx_free(ctx);
    ERR_clear_error();
    return RC_ERR_NOMEM;
  }
  for (size_t i = 0; i < cfg->ncerts; i++) {
    err = load_keycert(&cfg->certs[i], &ctx->certs[i], errbuf, errcap);
    ctx->ncerts = i + 1; /* what was loaded is freed with ctx */
    if (err)
      break;
  }
  if (!err)
    err = setup_ssl_ctx(ctx, cfg, errbuf, errcap);
  ERR_clear_error();
  if (err) {
    rc_tls_ctx_free(ctx);
    return err;
  }
  *out = ctx;
  return RC_OK;
}
