/*
 * The DTLS 1.2 record layer after a WebRTC client's handshake: see
 * dtls_record.h.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>

#include "transport/dtls_record.h"

#define TAG 16u
#define EXPLICIT 8u /* GCM's explicit nonce (RFC 5288 §3) */
#define SEQ_MAX ((UINT64_C(1) << 48) - 1)
#define DTLS12_HI 0xfe
#define DTLS12_LO 0xfd

static uint64_t get48(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 6; i++)
    v = v << 8 | p[i];
  return v;
}

/* Epoch and 48-bit sequence number as the 8 bytes of RFC 6347 §4.1. */
static void put_seq(uint8_t *p, uint16_t epoch, uint64_t seq) {
  p[0] = (uint8_t)(epoch >> 8);
  p[1] = (uint8_t)epoch;
  for (int i = 0; i < 6; i++)
    p[2 + i] = (uint8_t)(seq >> (8 * (5 - i)));
}

/* ---- the replay window (RFC 6347 §4.1.2.6) ------------------------------ */

static int win_fresh(const rc__dtls_rec *r, uint64_t seq) {
  if (!r->rany || seq > r->rmax)
    return 1;
  uint64_t d = r->rmax - seq;
  return d < 64 && !(r->rwin >> d & 1);
}

static void win_mark(rc__dtls_rec *r, uint64_t seq) {
  if (!r->rany || seq > r->rmax) {
    uint64_t shift = r->rany ? seq - r->rmax : 64;
    r->rwin = shift >= 64 ? 0 : r->rwin << shift;
    r->rwin |= 1;
    r->rmax = seq;
    r->rany = 1;
  } else if (r->rmax - seq < 64) {
    r->rwin |= UINT64_C(1) << (r->rmax - seq);
  }
}

/* ---- tracking while OpenSSL protects ------------------------------------ */

/* The sequence number of each record of epoch r->epoch in dgram: in,
 * marked in the window; out, wseq moved past it. A record coming in is
 * read before OpenSSL has checked it, so only numbers below the window's
 * width are marked: the few records of the epoch before the hand-over
 * have such numbers, and a forged one cannot move the window past the
 * real records (at worst one real record is dropped, as if lost). */
static void each_seq(rc__dtls_rec *r, const uint8_t *p, size_t n, int in) {
  size_t at = 0;
  while (n - at >= RC__DTLS_REC_HDR) {
    const uint8_t *h = p + at;
    size_t len = (size_t)h[11] << 8 | h[12];
    if (n - at - RC__DTLS_REC_HDR < len)
      return;
    uint16_t epoch = (uint16_t)(h[3] << 8 | h[4]);
    uint64_t seq = get48(h + 5);
    if (epoch == r->epoch) {
      if (in && seq < 64)
        win_mark(r, seq);
      else if (seq + 1 > r->wseq)
        r->wseq = seq + 1;
    }
    at += RC__DTLS_REC_HDR + len;
  }
}

void rc__dtls_rec_track_in(rc__dtls_rec *r, const uint8_t *d, size_t n) {
  each_seq(r, d, n, 1);
}

void rc__dtls_rec_track_out(rc__dtls_rec *r, const uint8_t *d, size_t n) {
  each_seq(r, d, n, 0);
}

/* ---- keys --------------------------------------------------------------- */

/* RFC 5246 §5: PRF(secret, label, seed) with the suite's hash, n bytes. */
static int prf(const EVP_MD *md, const uint8_t *secret, size_t slen,
               const uint8_t *seed, size_t seedlen, uint8_t *out, size_t n) {
  EVP_KDF *kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_TLS1_PRF, NULL);
  EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
  EVP_KDF_free(kdf);
  if (!kc)
    return -1;
  OSSL_PARAM ps[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                       (char *)EVP_MD_get0_name(md), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET,
                                        (void *)secret, slen),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, (void *)seed,
                                        seedlen),
      OSSL_PARAM_construct_end()};
  int ok = EVP_KDF_derive(kc, out, n, ps) == 1;
  EVP_KDF_CTX_free(kc);
  return ok ? 0 : -1;
}

int rc__dtls_rec_init(rc__dtls_rec *r, SSL *ssl) {
  const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
  SSL_SESSION *sess = SSL_get_session(ssl);
  if (!c || !sess || SSL_version(ssl) != DTLS1_2_VERSION)
    return -1;
  int nid = SSL_CIPHER_get_cipher_nid(c);
  rc__tls_suite suite;
  if (nid == NID_aes_128_gcm)
    suite = RC__TLS_AES_128_GCM_SHA256;
  else if (nid == NID_aes_256_gcm)
    suite = RC__TLS_AES_256_GCM_SHA384;
  else if (nid == NID_chacha20_poly1305)
    suite = RC__TLS_CHACHA20_POLY1305_SHA256;
  else
    return -1;
  const EVP_MD *md = SSL_CIPHER_get_handshake_digest(c);
  uint8_t master[48];
  size_t ml = SSL_SESSION_get_master_key(sess, master, sizeof master);
  if (!md || ml != sizeof master)
    return -1;
  /* §6.3: key_block = PRF(SecurityParameters.master_secret,
   * "key expansion", server_random + client_random); for an AEAD suite
   * client_write_key, server_write_key, client_write_IV,
   * server_write_IV (no MAC keys). */
  static const char label[] = "key expansion";
  uint8_t seed[sizeof label - 1 + 64];
  memcpy(seed, label, sizeof label - 1);
  if (SSL_get_server_random(ssl, seed + sizeof label - 1, 32) != 32 ||
      SSL_get_client_random(ssl, seed + sizeof label - 1 + 32, 32) != 32)
    return -1;
  size_t kl = rc__tls_suite_key_len(suite);
  int gcm = suite != RC__TLS_CHACHA20_POLY1305_SHA256;
  size_t ivl = gcm ? 4 : 12; /* RFC 5288 §3 salt; RFC 7905 §2 iv */
  uint8_t kb[2 * 32 + 2 * 12];
  int bad = prf(md, master, ml, seed, sizeof seed, kb, 2 * kl + 2 * ivl);
  OPENSSL_cleanse(master, sizeof master);
  if (bad)
    return -1;
  int client = !SSL_is_server(ssl);
  const uint8_t *ck = kb, *sk = kb + kl, *civ = kb + 2 * kl,
                *siv = kb + 2 * kl + ivl;
  r->suite = (uint8_t)suite;
  r->gcm = (uint8_t)gcm;
  memset(r->wiv, 0, sizeof r->wiv);
  memset(r->riv, 0, sizeof r->riv);
  memcpy(r->wkey, client ? ck : sk, kl);
  memcpy(r->rkey, client ? sk : ck, kl);
  memcpy(r->wiv, client ? civ : siv, ivl);
  memcpy(r->riv, client ? siv : civ, ivl);
  r->name = SSL_CIPHER_get_name(c);
  OPENSSL_cleanse(kb, sizeof kb);
  return 0;
}

size_t rc__dtls_rec_room(const rc__dtls_rec *r, size_t mtu) {
  size_t over = RC__DTLS_REC_HDR + TAG + (r->gcm ? EXPLICIT : 0);
  size_t room = mtu > over ? mtu - over : 0;
  return room < RC__TLS_REC_PLAIN_MAX ? room : RC__TLS_REC_PLAIN_MAX;
}

/* ---- records ------------------------------------------------------------ */

/* The nonce: GCM salt + explicit (epoch and sequence, RFC 5288 §3);
 * ChaCha20-Poly1305 the iv XOR the padded epoch and sequence (RFC 7905
 * §2). aad: the 13 bytes of RFC 5246 §6.2.3.3 with DTLS's epoch in the
 * sequence number (RFC 6347 §4.1.2.1). */
static void nonce_aad(const rc__dtls_rec *r, const uint8_t *iv,
                      const uint8_t seq8[8], uint8_t type, size_t plain,
                      uint8_t nonce[12], uint8_t aad[13]) {
  memcpy(nonce, iv, 12);
  if (r->gcm)
    memcpy(nonce + 4, seq8, 8);
  else
    for (int i = 0; i < 8; i++)
      nonce[4 + i] ^= seq8[i];
  memcpy(aad, seq8, 8);
  aad[8] = type;
  aad[9] = DTLS12_HI;
  aad[10] = DTLS12_LO;
  aad[11] = (uint8_t)(plain >> 8);
  aad[12] = (uint8_t)plain;
}

size_t rc__dtls_rec_seal(rc__dtls_rec *r, uint8_t type, const uint8_t *d,
                         size_t n, uint8_t *out) {
  /* RFC 6347 §4.1: "the sequence number MUST NOT wrap" within an epoch. */
  if (n > RC__TLS_REC_PLAIN_MAX || r->wseq > SEQ_MAX)
    return 0;
  size_t ex = r->gcm ? EXPLICIT : 0, clen = ex + n + TAG;
  uint8_t seq8[8], nonce[12], aad[13];
  put_seq(seq8, r->epoch, r->wseq);
  nonce_aad(r, r->wiv, seq8, type, n, nonce, aad);
  out[0] = type;
  out[1] = DTLS12_HI;
  out[2] = DTLS12_LO;
  memcpy(out + 3, seq8, 8);
  out[11] = (uint8_t)(clen >> 8);
  out[12] = (uint8_t)clen;
  uint8_t *p = out + RC__DTLS_REC_HDR;
  if (ex)
    memcpy(p, seq8, ex);
  p += ex;
  EVP_CIPHER_CTX *c = rc__tls_aead_ctx((rc__tls_suite)r->suite, 1, r->wkey);
  int l = 0, l2 = 0;
  if (!c || EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, 1) != 1 ||
      EVP_CipherUpdate(c, NULL, &l, aad, sizeof aad) != 1 ||
      EVP_CipherUpdate(c, p, &l, d, (int)n) != 1 ||
      EVP_CipherFinal_ex(c, p + l, &l2) != 1 ||
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, TAG, p + n) != 1)
    return 0;
  r->wseq++;
  return RC__DTLS_REC_HDR + clen;
}

int rc__dtls_rec_open(rc__dtls_rec *r, const uint8_t *p, size_t n,
                      size_t *used, uint8_t *type, uint8_t *out,
                      size_t *len) {
  *used = 0;
  if (n < RC__DTLS_REC_HDR)
    return 0;
  size_t clen = (size_t)p[11] << 8 | p[12];
  if (n - RC__DTLS_REC_HDR < clen)
    return 0; /* the rest of the datagram is not a whole record */
  *used = RC__DTLS_REC_HDR + clen;
  uint16_t epoch = (uint16_t)(p[3] << 8 | p[4]);
  uint64_t seq = get48(p + 5);
  size_t ex = r->gcm ? EXPLICIT : 0;
  if (p[1] != DTLS12_HI || p[2] != DTLS12_LO || epoch != r->epoch ||
      clen < ex + TAG || clen - ex - TAG > RC__TLS_REC_PLAIN_MAX ||
      !win_fresh(r, seq))
    return 0;
  size_t plain = clen - ex - TAG;
  const uint8_t *ct = p + RC__DTLS_REC_HDR + ex;
  uint8_t seq8[8], nonce[12], aad[13];
  memcpy(seq8, p + 3, 8);
  nonce_aad(r, r->riv, seq8, p[0], plain, nonce, aad);
  if (ex)
    memcpy(nonce + 4, p + RC__DTLS_REC_HDR, EXPLICIT); /* as sent */
  EVP_CIPHER_CTX *c = rc__tls_aead_ctx((rc__tls_suite)r->suite, 0, r->rkey);
  int l = 0, l2 = 0;
  if (!c || EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, 0) != 1 ||
      EVP_CipherUpdate(c, NULL, &l, aad, sizeof aad) != 1 ||
      EVP_CipherUpdate(c, out, &l, ct, (int)plain) != 1 ||
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, TAG,
                          (void *)(ct + plain)) != 1 ||
      EVP_CipherFinal_ex(c, out + l, &l2) != 1)
    return 0;
  /* §4.1.2.6: the window moves only for a record that authenticated. */
  win_mark(r, seq);
  *type = p[0];
  *len = plain;
  return 1;
}
