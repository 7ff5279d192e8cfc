/*
 * TLS 1.3 record protection after the handshake (RFC 8446 §5, §7), for
 * server connections whose SSL the TLS filter has freed: key schedule
 * steps from a traffic secret (§7.1, §7.3), AEAD seal and open of records
 * (§5.2, §5.3), and the post-handshake messages a client may send: alerts
 * (§6) and KeyUpdate (§4.6.3). See tls_record.h.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "transport/tls_record.h"

#define KEYUPDATE 24 /* HandshakeType key_update */

/* ---- suites ------------------------------------------------------------- */

int rc__tls_suite_of(uint16_t iana) {
  switch (iana) {
  case 0x1301:
    return RC__TLS_AES_128_GCM_SHA256;
  case 0x1302:
    return RC__TLS_AES_256_GCM_SHA384;
  case 0x1303:
    return RC__TLS_CHACHA20_POLY1305_SHA256;
  default:
    return -1;
  }
}

size_t rc__tls_suite_hash_len(rc__tls_suite s) {
  return s == RC__TLS_AES_256_GCM_SHA384 ? 48 : 32;
}

size_t rc__tls_suite_key_len(rc__tls_suite s) {
  return s == RC__TLS_AES_128_GCM_SHA256 ? 16 : 32;
}

static const EVP_MD *md_of(rc__tls_suite s) {
  return s == RC__TLS_AES_256_GCM_SHA384 ? EVP_sha384() : EVP_sha256();
}

/* ---- key schedule (RFC 8446 §7.1) --------------------------------------- */

/* HKDF-Expand-Label(secret, label, "", n) for n <= the hash length: HKDF-
 * Expand's first block, HMAC(secret, HkdfLabel || 0x01), is all of it. */
static int expand_label(rc__tls_suite s, const uint8_t *secret,
                        const char *label, uint8_t *out, size_t n) {
  uint8_t info[2 + 1 + 6 + 16 + 1 + 1];
  size_t ll = strlen(label);
  size_t i = 0;
  info[i++] = (uint8_t)(n >> 8);
  info[i++] = (uint8_t)n;
  info[i++] = (uint8_t)(6 + ll);
  memcpy(info + i, "tls13 ", 6);
  i += 6;
  memcpy(info + i, label, ll);
  i += ll;
  info[i++] = 0; /* empty context */
  info[i++] = 1; /* HKDF-Expand's counter */
  uint8_t t[EVP_MAX_MD_SIZE];
  unsigned int tl = 0;
  size_t hl = rc__tls_suite_hash_len(s);
  if (n > hl || !HMAC(md_of(s), secret, (int)hl, info, i, t, &tl))
    return -1;
  memcpy(out, t, n);
  OPENSSL_cleanse(t, sizeof(t));
  return 0;
}

/* §7.3: [sender]_write_key and [sender]_write_iv from the secret. */
static int derive(rc__tls_suite s, rc__tls_dir *d) {
  d->seq = 0;
  return expand_label(s, d->secret, "key", d->key, rc__tls_suite_key_len(s)) ||
                 expand_label(s, d->secret, "iv", d->iv, sizeof(d->iv))
             ? -1
             : 0;
}

/* §7.2: application_traffic_secret_N+1 =
 *   HKDF-Expand-Label(application_traffic_secret_N, "traffic upd", "",
 *   Hash.length) */
static int next_secret(rc__tls_suite s, rc__tls_dir *d) {
  uint8_t n[RC__TLS_SECRET_MAX];
  size_t hl = rc__tls_suite_hash_len(s);
  if (expand_label(s, d->secret, "traffic upd", n, hl))
    return -1;
  memcpy(d->secret, n, hl);
  OPENSSL_cleanse(n, sizeof(n));
  return derive(s, d);
}

int rc__tls_rec_init(rc__tls_rec *r, rc__tls_suite suite,
                     const uint8_t *rd_secret, const uint8_t *wr_secret,
                     size_t secret_len, uint64_t wr_seq) {
  if ((unsigned)suite >= RC__TLS_SUITES ||
      secret_len != rc__tls_suite_hash_len(suite))
    return -1;
  r->suite = (uint8_t)suite;
  memcpy(r->rd.secret, rd_secret, secret_len);
  memcpy(r->wr.secret, wr_secret, secret_len);
  if (derive(suite, &r->rd) || derive(suite, &r->wr))
    return -1;
  r->wr.seq = wr_seq;
  return 0;
}

int rc__tls_rec_update_write(rc__tls_rec *r) {
  return next_secret((rc__tls_suite)r->suite, &r->wr);
}

/* §5.3: "The 64-bit record sequence number is encoded in network byte
 * order and padded to the left with zeros to iv_length. The padded
 * sequence number is XORed with either the static client_write_iv or
 * server_write_iv". */
static void nonce_of(const rc__tls_dir *d, uint8_t nonce[12]) {
  memcpy(nonce, d->iv, 12);
  for (int i = 0; i < 8; i++)
    nonce[11 - i] ^= (uint8_t)(d->seq >> (8 * i));
}

size_t rc__tls_rec_seal(rc__tls_rec *r, uint8_t type, const uint8_t *d,
                        size_t n, uint8_t *out) {
  /* §5.3: "If a TLS implementation would need to wrap a sequence number,
   * it MUST either rekey (Section 4.6.3) or terminate the connection." */
  if (n > RC__TLS_REC_PLAIN_MAX || r->wr.seq == UINT64_MAX)
    return 0;
  size_t clen = n + 1 + RC__TLS_REC_TAG;
  uint8_t nonce[12];
  int l = 0, l2 = 0;
  /* §5.2: the additional data is the record header, opaque_type
   * application_data (23), legacy_record_version 0x0303, length. */
  out[0] = RC__TLS_CT_APPDATA;
  out[1] = 0x03;
  out[2] = 0x03;
  out[3] = (uint8_t)(clen >> 8);
  out[4] = (uint8_t)clen;
  uint8_t *p = out + RC__TLS_REC_HDR;
  if (n)
    memmove(p, d, n);
  p[n] = type; /* TLSInnerPlaintext: content, type, no padding */
  EVP_CIPHER_CTX *c =
      rc__tls_aead_ctx((rc__tls_suite)r->suite, 1, r->wr.key);
  nonce_of(&r->wr, nonce);
  if (!c || EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, 1) != 1 ||
      EVP_CipherUpdate(c, NULL, &l, out, RC__TLS_REC_HDR) != 1 ||
      EVP_CipherUpdate(c, p, &l, p, (int)n + 1) != 1 ||
      EVP_CipherFinal_ex(c, p + l, &l2) != 1 ||
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, RC__TLS_REC_TAG,
                          p + n + 1) != 1)
    return 0;
  r->wr.seq++;
  return RC__TLS_REC_HDR + clen;
}

/* Decrypts a whole record's encrypted_record (len >= tag + 1) into out;
 * the plaintext length, or -1 when it does not authenticate. */
static long open_rec(rc__tls_rec *r, const uint8_t *hdr, const uint8_t *ct,
                     size_t len, uint8_t *out) {
  uint8_t nonce[12];
  int l = 0, l2 = 0;
  size_t n = len - RC__TLS_REC_TAG;
  EVP_CIPHER_CTX *c = rc__tls_aead_ctx((rc__tls_suite)r->suite, 0, r->rd.key);
  nonce_of(&r->rd, nonce);
  if (!c || EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, 0) != 1 ||
      EVP_CipherUpdate(c, NULL, &l, hdr, RC__TLS_REC_HDR) != 1 ||
      EVP_CipherUpdate(c, out, &l, ct, (int)n) != 1 ||
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, RC__TLS_REC_TAG,
                          (void *)(ct + n)) != 1 ||
      EVP_CipherFinal_ex(c, out + l, &l2) != 1)
    return -1;
  return (long)n;
}

/* ---- reading ------------------------------------------------------------ */

/* Sends a fatal alert (RFC 8446 §6: "All the alerts listed in Section 6.2
 * MUST be sent with AlertLevel=fatal") and reports it. */
static rc__tls_rec_ev fatal(rc__tls_rec *r, const rc__tls_rec_io *io,
                            uint8_t desc) {
  uint8_t a[2] = {2, desc};
  uint8_t rec[2 + RC__TLS_REC_OVERHEAD];
  size_t n = rc__tls_rec_seal(r, RC__TLS_CT_ALERT, a, 2, rec);
  if (n)
    (void)io->out(io->user, rec, n);
  r->alert = desc;
  return RC__TLS_REC_FAILED;
}

/* A post-handshake handshake message from the client. The only one a
 * server that never asks for post-handshake authentication can get is
 * KeyUpdate. */
static rc__tls_rec_ev handshake_msg(rc__tls_rec *r, const rc__tls_rec_io *io,
                                    const uint8_t *p, size_t n) {
  /* §5.1: "Implementations MUST NOT send zero-length fragments of
   * Handshake types"; a message split over records or two messages in
   * one are not what a KeyUpdate (§4.6.3: "implementations MUST verify
   * that all messages immediately preceding a key change align with a
   * record boundary") can be. */
  if (n == 0 || p[0] != KEYUPDATE)
    return fatal(r, io, RC__TLS_AL_UNEXPECTED_MESSAGE);
  if (n != 5 || p[1] != 0 || p[2] != 0 || p[3] != 1)
    return fatal(r, io, RC__TLS_AL_DECODE_ERROR);
  /* §4.6.3: "If an implementation receives any other value [than 0 or
   * 1], it MUST terminate the connection with an "illegal_parameter"
   * alert." */
  if (p[4] > 1)
    return fatal(r, io, RC__TLS_AL_ILLEGAL_PARAMETER);
  if (p[4] == 1) {
    /* §4.6.3: "If the request_update field is set to "update_requested",
     * then the receiver MUST send a KeyUpdate of its own with
     * request_update set to "update_not_requested" prior to sending its
     * next Application Data record." It goes out under the old key; our
     * next record uses the new one. */
    static const uint8_t ku[5] = {KEYUPDATE, 0, 0, 1, 0};
    uint8_t rec[sizeof(ku) + RC__TLS_REC_OVERHEAD];
    size_t len = rc__tls_rec_seal(r, RC__TLS_CT_HANDSHAKE, ku, sizeof(ku), rec);
    if (!len || rc__tls_rec_update_write(r))
      return fatal(r, io, RC__TLS_AL_INTERNAL_ERROR);
    if (io->out(io->user, rec, len))
      return RC__TLS_REC_STOPPED;
  }
  /* §4.6.3: "Upon receiving a KeyUpdate, the receiver MUST update its
   * receiving keys." */
  if (next_secret((rc__tls_suite)r->suite, &r->rd))
    return fatal(r, io, RC__TLS_AL_INTERNAL_ERROR);
  return RC__TLS_REC_MORE;
}

static rc__tls_rec_ev alert_msg(rc__tls_rec *r, const rc__tls_rec_io *io,
                                const uint8_t *p, size_t n) {
  if (n != 2)
    return fatal(r, io, RC__TLS_AL_DECODE_ERROR);
  r->alert = p[1];
  if (p[1] == RC__TLS_AL_CLOSE_NOTIFY)
    return RC__TLS_REC_CLOSE_NOTIFY;
  /* §6.1: user_canceled "SHOULD be followed by a close_notify"; it is
   * not an error by itself. §6: "Unknown Alert types MUST be treated as
   * error alerts" whatever their level. */
  if (p[1] == RC__TLS_AL_USER_CANCELED)
    return RC__TLS_REC_MORE;
  return RC__TLS_REC_PEER_ALERT;
}

/* One whole record (header in r->hdr): decrypt into out, strip the inner
 * type and padding, act on it. *plain gets the application data length. */
static rc__tls_rec_ev one_record(rc__tls_rec *r, const rc__tls_rec_io *io,
                                 const uint8_t *ct, size_t len, uint8_t *out,
                                 size_t *plain) {
  *plain = 0;
  /* §5.2: "If the decryption fails, the receiver MUST terminate the
   * connection with a "bad_record_mac" alert." */
  long n = len > RC__TLS_REC_TAG ? open_rec(r, r->hdr, ct, len, out) : -1;
  if (n < 0)
    return fatal(r, io, RC__TLS_AL_BAD_RECORD_MAC);
  r->rd.seq++;
  /* §5.4: the receiver strips zeros from the end; "If a receiving
   * implementation does not find a non-zero octet in the cleartext, it
   * MUST terminate the connection with an "unexpected_message" alert." */
  while (n > 0 && out[n - 1] == 0)
    n--;
  if (n == 0)
    return fatal(r, io, RC__TLS_AL_UNEXPECTED_MESSAGE);
  uint8_t type = out[--n];
  /* §5.2: "The length [of TLSInnerPlaintext] MUST NOT exceed 2^14 + 1
   * octets ... An endpoint that receives a record that exceeds this
   * length MUST terminate the connection with a "record_overflow"
   * alert." (Padding is allowed up to the ciphertext bound.) */
  if ((size_t)n > RC__TLS_REC_PLAIN_MAX)
    return fatal(r, io, RC__TLS_AL_RECORD_OVERFLOW);
  switch (type) {
  case RC__TLS_CT_APPDATA:
    *plain = (size_t)n;
    return RC__TLS_REC_MORE;
  case RC__TLS_CT_ALERT:
    return alert_msg(r, io, out, (size_t)n);
  case RC__TLS_CT_HANDSHAKE:
    return handshake_msg(r, io, out, (size_t)n);
  default:
    /* §5: "If a TLS implementation receives an unexpected record type,
     * it MUST terminate the connection with an "unexpected_message"
     * alert." (A change_cipher_spec after the handshake is one, §5.) */
    return fatal(r, io, RC__TLS_AL_UNEXPECTED_MESSAGE);
  }
}

static void drop_part(rc__tls_rec *r, const rc_mem *mem) {
  if (r->part)
    mem->free(r->part, mem->user);
  r->part = NULL;
  r->part_len = 0;
}

rc__tls_rec_ev rc__tls_rec_read(rc__tls_rec *r, const rc_mem *mem,
                                const uint8_t *in, size_t len,
                                const rc__tls_rec_io *io) {
  /* Plaintext of several records is gathered and handed up together. */
  uint8_t buf[RC__TLS_REC_CIPHER_MAX];
  size_t used = 0;
  rc__tls_rec_ev ev = RC__TLS_REC_MORE;
  while (len > 0) {
    if (r->hdr_len < RC__TLS_REC_HDR) {
      size_t take = RC__TLS_REC_HDR - r->hdr_len;
      if (take > len)
        take = len;
      memcpy(r->hdr + r->hdr_len, in, take);
      r->hdr_len = (uint8_t)(r->hdr_len + take);
      in += take;
      len -= take;
      if (r->hdr_len < RC__TLS_REC_HDR)
        break;
      size_t rl = (size_t)r->hdr[3] << 8 | r->hdr[4];
      /* §5.2: after the handshake every record is opaque_type
       * application_data; legacy_record_version "MUST be ignored for all
       * purposes". */
      if (r->hdr[0] != RC__TLS_CT_APPDATA) {
        ev = fatal(r, io, RC__TLS_AL_UNEXPECTED_MESSAGE);
        break;
      }
      /* §5.2: "The length MUST NOT exceed 2^14 + 256 bytes. An endpoint
       * that receives a record that exceeds this length MUST terminate
       * the connection with a "record_overflow" alert." */
      if (rl > RC__TLS_REC_CIPHER_MAX) {
        ev = fatal(r, io, RC__TLS_AL_RECORD_OVERFLOW);
        break;
      }
    }
    size_t rl = (size_t)r->hdr[3] << 8 | r->hdr[4];
    const uint8_t *ct;
    if (r->part == NULL && len >= rl) {
      ct = in; /* whole in this read: decrypted straight from it */
      in += rl;
      len -= rl;
    } else {
      if (r->part == NULL) {
        r->part = mem->malloc(rl ? rl : 1, mem->user);
        if (!r->part) {
          ev = RC__TLS_REC_NOMEM;
          break;
        }
      }
      size_t take = rl - r->part_len;
      if (take > len)
        take = len;
      memcpy(r->part + r->part_len, in, take);
      r->part_len += (uint32_t)take;
      in += take;
      len -= take;
      if (r->part_len < rl)
        break;
      ct = r->part;
    }
    if (sizeof(buf) - used < rl) {
      if (io->data(io->user, buf, used)) {
        drop_part(r, mem);
        return RC__TLS_REC_STOPPED;
      }
      used = 0;
    }
    size_t plain;
    ev = one_record(r, io, ct, rl, buf + used, &plain);
    drop_part(r, mem);
    r->hdr_len = 0;
    used += plain;
    if (ev != RC__TLS_REC_MORE)
      break;
  }
  /* Data authenticated before an alert or close is still good. */
  if (used && io->data(io->user, buf, used) && ev == RC__TLS_REC_MORE)
    ev = RC__TLS_REC_STOPPED;
  return ev;
}

void rc__tls_rec_clear(rc__tls_rec *r, const rc_mem *mem) {
  drop_part(r, mem);
  OPENSSL_cleanse(r, sizeof(*r));
}
