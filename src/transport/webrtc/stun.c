/*
 * STUN (RFC 8489) parse and encode for ICE: the 20-byte header, the
 * attributes ICE uses, MESSAGE-INTEGRITY (HMAC-SHA1 through OpenSSL's
 * EVP_MAC) and FINGERPRINT (CRC-32, computed here). One datagram in, one
 * view out; one message written into the caller's buffer.
 */
#include "transport/webrtc/stun.h"

#include <string.h>

#include <netinet/in.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define FINGERPRINT_XOR 0x5354554eu

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}
static void wr16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static void wr32(uint8_t *p, uint32_t v) {
  wr16(p, (uint16_t)(v >> 16));
  wr16(p + 2, (uint16_t)v);
}

/* CRC-32 (ISO 3309, reflected, polynomial 0xEDB88320): what RFC 8489
 * §14.7 names for FINGERPRINT. Bitwise: STUN messages are small. */
static uint32_t crc32_of(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++)
      c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

/* HMAC-SHA1 of hdr (20 bytes) then body (n bytes). */
static bool hmac_sha1(const uint8_t *key, size_t key_len, const uint8_t *hdr,
                      const uint8_t *body, size_t n,
                      uint8_t out[RC_STUN_HMAC_LEN]) {
  bool ok = false;
  size_t outl = 0;
  EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA1", 0),
      OSSL_PARAM_construct_end()};
  static const uint8_t nokey[1];
  if (ctx && EVP_MAC_init(ctx, key_len ? key : nokey, key_len, params) &&
      EVP_MAC_update(ctx, hdr, RC_STUN_HEADER) &&
      EVP_MAC_update(ctx, body, n) &&
      EVP_MAC_final(ctx, out, &outl, RC_STUN_HMAC_LEN))
    ok = outl == RC_STUN_HMAC_LEN;
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  return ok;
}

bool rc_stun_is(const uint8_t *p, size_t n) {
  /* RFC 7983 §7: a first byte of 0 to 3 (inclusive) means STUN; 20-63
   * DTLS. */
  return p && n >= RC_STUN_HEADER && p[0] <= 3 &&
         rd32(p + 4) == RC_STUN_MAGIC && (rd16(p + 2) & 3) == 0 &&
         (size_t)rd16(p + 2) + RC_STUN_HEADER == n;
}

/* The XOR-MAPPED-ADDRESS value v (len bytes) decoded into a. */
static rc_err xor_addr(const uint8_t *v, size_t len, const uint8_t *hdr,
                       struct sockaddr_storage *a) {
  memset(a, 0, sizeof *a);
  if (len < 4)
    return RC_ERR_PROTOCOL;
  uint16_t port = rd16(v + 2) ^ (uint16_t)(RC_STUN_MAGIC >> 16);
  if (v[1] == 0x01 && len == 8) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)a;
    uint8_t ip[4];
    for (int i = 0; i < 4; i++)
      ip[i] = v[4 + i] ^ hdr[4 + i]; /* X-Address: XOR with the cookie */
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    memcpy(&s4->sin_addr, ip, 4);
    return RC_OK;
  }
  if (v[1] == 0x02 && len == 20) {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)a;
    uint8_t ip[16];
    for (int i = 0; i < 16; i++) /* cookie then transaction ID */
      ip[i] = v[4 + i] ^ hdr[4 + i];
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    memcpy(&s6->sin6_addr, ip, 16);
    return RC_OK;
  }
  return RC_ERR_PROTOCOL;
}

/* One attribute before MESSAGE-INTEGRITY (or any, when there is none). */
static rc_err read_attr(rc_stun_msg *m, const uint8_t *hdr, uint16_t type,
                        const uint8_t *v, size_t len) {
  switch (type) {
  case RC_STUN_ATTR_USERNAME:
    /* RFC 8489 §14.3: "fewer than 509 bytes" */
    if (len >= 509)
      return RC_ERR_PROTOCOL;
    m->username = v, m->username_len = len;
    return RC_OK;
  case RC_STUN_ATTR_SOFTWARE:
    m->software = v, m->software_len = len;
    return RC_OK;
  case RC_STUN_ATTR_REALM:
    m->realm = v, m->realm_len = len;
    return RC_OK;
  case RC_STUN_ATTR_NONCE:
    m->nonce = v, m->nonce_len = len;
    return RC_OK;
  case RC_STUN_ATTR_MAPPED_ADDRESS:
  case RC_STUN_ATTR_UNKNOWN_ATTRIBUTES:
    return RC_OK; /* known, not used: a 420's list is not acted on */
  case RC_STUN_ATTR_XOR_MAPPED_ADDRESS:
    m->has_xor_mapped = true;
    return xor_addr(v, len, hdr, &m->xor_mapped);
  case RC_STUN_ATTR_PRIORITY:
    if (len != 4)
      return RC_ERR_PROTOCOL;
    m->has_priority = true, m->priority = rd32(v);
    return RC_OK;
  case RC_STUN_ATTR_USE_CANDIDATE:
    if (len != 0)
      return RC_ERR_PROTOCOL;
    m->use_candidate = true;
    return RC_OK;
  case RC_STUN_ATTR_ICE_CONTROLLED:
  case RC_STUN_ATTR_ICE_CONTROLLING:
    if (len != 8)
      return RC_ERR_PROTOCOL;
    if (type == RC_STUN_ATTR_ICE_CONTROLLING)
      m->has_controlling = true;
    else
      m->has_controlled = true;
    m->tie_breaker = (uint64_t)rd32(v) << 32 | rd32(v + 4);
    return RC_OK;
  case RC_STUN_ATTR_ERROR_CODE: {
    /* RFC 8489 §14.8: class 3..6 in 3 bits, number 0..99 in 8 bits. */
    if (len < 4 || (v[2] & 7) < 3 || (v[2] & 7) > 6 || v[3] > 99)
      return RC_ERR_PROTOCOL;
    m->has_error = true;
    m->error_code = (uint16_t)((v[2] & 7) * 100 + v[3]);
    m->reason = v + 4, m->reason_len = len - 4;
    return RC_OK;
  }
  default:
    /* RFC 8489 §15: 0x0000-0x7FFF are comprehension-required. */
    if (type < 0x8000 && m->unknown_count < RC_STUN_UNKNOWN_MAX)
      m->unknown[m->unknown_count++] = type;
    return RC_OK;
  }
}

rc_err rc_stun_parse(rc_stun_msg *m, const uint8_t *p, size_t n) {
  memset(m, 0, sizeof *m);
  if (!p || n < RC_STUN_HEADER)
    return RC_ERR_TRUNCATED;
  /* RFC 8489 §5: "The most significant 2 bits of every STUN message MUST
   * be zeroes", the cookie MUST be 0x2112A442, and the length "MUST
   * contain the size of the message in bytes, not including the 20-byte
   * STUN header", a multiple of 4. */
  uint16_t t = rd16(p), len = rd16(p + 2);
  if ((t & 0xC000) || rd32(p + 4) != RC_STUN_MAGIC || (len & 3))
    return RC_ERR_PROTOCOL;
  if ((size_t)len + RC_STUN_HEADER > n)
    return RC_ERR_TRUNCATED;
  if ((size_t)len + RC_STUN_HEADER < n)
    return RC_ERR_PROTOCOL;
  m->cls = (rc_stun_class)(((t >> 7) & 2) | ((t >> 4) & 1));
  m->method = (uint16_t)((t & 0xF) | ((t >> 1) & 0x70) | ((t >> 2) & 0xF80));
  memcpy(m->tid, p + 8, RC_STUN_TID_LEN);
  size_t off = RC_STUN_HEADER;
  while (off < n) {
    if (n - off < 4)
      return RC_ERR_PROTOCOL;
    uint16_t type = rd16(p + off);
    size_t alen = rd16(p + off + 2), padded = (alen + 3) & ~(size_t)3;
    if (padded > n - off - 4)
      return RC_ERR_PROTOCOL;
    const uint8_t *v = p + off + 4;
    if (type == RC_STUN_ATTR_FINGERPRINT) {
      /* RFC 8489 §14.7: "When present, the FINGERPRINT attribute MUST be
       * the last attribute in the message". */
      if (alen != 4 || off + 8 != n ||
          rd32(v) != (crc32_of(p, off) ^ FINGERPRINT_XOR))
        return RC_ERR_PROTOCOL;
      m->has_fingerprint = true;
    } else if (m->integrity_off) {
      /* RFC 8489 §14.5: "agents MUST ignore all other attributes that
       * follow MESSAGE-INTEGRITY" (but MESSAGE-INTEGRITY-SHA256 and
       * FINGERPRINT). */
    } else if (type == RC_STUN_ATTR_MESSAGE_INTEGRITY) {
      if (alen != RC_STUN_HMAC_LEN)
        return RC_ERR_PROTOCOL;
      m->integrity_off = off;
    } else {
      rc_err err = read_attr(m, p, type, v, alen);
      if (err)
        return err;
    }
    off += 4 + padded;
  }
  return RC_OK;
}

bool rc_stun_integrity_ok(const rc_stun_msg *m, const uint8_t *p, size_t n,
                          const uint8_t *key, size_t key_len) {
  if (!m->integrity_off || m->integrity_off + 24 > n)
    return false;
  /* RFC 8489 §14.5: the HMAC covers the message up to MESSAGE-INTEGRITY,
   * with the header's length "adjusted to point to the end of the
   * MESSAGE-INTEGRITY attribute". */
  uint8_t hdr[RC_STUN_HEADER], want[RC_STUN_HMAC_LEN];
  memcpy(hdr, p, RC_STUN_HEADER);
  wr16(hdr + 2, (uint16_t)(m->integrity_off + 24 - RC_STUN_HEADER));
  if (!hmac_sha1(key, key_len, hdr, p + RC_STUN_HEADER,
                 m->integrity_off - RC_STUN_HEADER, want))
    return false;
  return CRYPTO_memcmp(want, p + m->integrity_off + 4, RC_STUN_HMAC_LEN) ==
         0;
}

/* ---- encoder ------------------------------------------------------------ */

static void set_len(rc_stun_enc *e, size_t extra) {
  wr16(e->buf + 2, (uint16_t)(e->len + extra - RC_STUN_HEADER));
}

void rc_stun_enc_begin(rc_stun_enc *e, uint8_t *buf, size_t cap,
                       uint16_t method, rc_stun_class cls,
                       const uint8_t tid[RC_STUN_TID_LEN]) {
  memset(e, 0, sizeof *e);
  e->buf = buf, e->cap = cap;
  if (!buf || cap < RC_STUN_HEADER || method > 0xFFF) {
    e->err = buf && cap < RC_STUN_HEADER ? RC_ERR_NOBUF : RC_ERR_INVAL;
    return;
  }
  unsigned c = (unsigned)cls;
  uint16_t t = (uint16_t)((method & 0xF) | ((method & 0x70) << 1) |
                          ((method & 0xF80) << 2) | ((c & 1) << 4) |
                          ((c & 2) << 7));
  wr16(buf, t);
  wr16(buf + 2, 0);
  wr32(buf + 4, RC_STUN_MAGIC);
  memcpy(buf + 8, tid, RC_STUN_TID_LEN);
  e->len = RC_STUN_HEADER;
}

void rc_stun_enc_attr(rc_stun_enc *e, uint16_t type, const void *v,
                      size_t len) {
  size_t padded = (len + 3) & ~(size_t)3;
  if (e->err)
    return;
  if (len > 0xFFFF || e->cap - e->len < 4 + padded ||
      e->len + 4 + padded - RC_STUN_HEADER > 0xFFFF) {
    e->err = RC_ERR_NOBUF;
    return;
  }
  uint8_t *p = e->buf + e->len;
  wr16(p, type);
  wr16(p + 2, (uint16_t)len);
  if (len)
    memcpy(p + 4, v, len);
  memset(p + 4 + len, e->pad, padded - len);
  e->len += 4 + padded;
  set_len(e, 0);
}

void rc_stun_enc_u32(rc_stun_enc *e, uint16_t type, uint32_t v) {
  uint8_t b[4];
  wr32(b, v);
  rc_stun_enc_attr(e, type, b, 4);
}

void rc_stun_enc_u64(rc_stun_enc *e, uint16_t type, uint64_t v) {
  uint8_t b[8];
  wr32(b, (uint32_t)(v >> 32));
  wr32(b + 4, (uint32_t)v);
  rc_stun_enc_attr(e, type, b, 8);
}

void rc_stun_enc_xor_addr(rc_stun_enc *e, const struct sockaddr *a) {
  uint8_t b[20];
  size_t n;
  if (e->err)
    return;
  const uint8_t *x = e->buf + 4; /* cookie, then transaction ID */
  b[0] = 0;
  if (a && a->sa_family == AF_INET) {
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)a;
    b[1] = 0x01;
    wr16(b + 2, ntohs(s4->sin_port) ^ (uint16_t)(RC_STUN_MAGIC >> 16));
    memcpy(b + 4, &s4->sin_addr, 4);
    n = 4;
  } else if (a && a->sa_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)a;
    b[1] = 0x02;
    wr16(b + 2, ntohs(s6->sin6_port) ^ (uint16_t)(RC_STUN_MAGIC >> 16));
    memcpy(b + 4, &s6->sin6_addr, 16);
    n = 16;
  } else {
    e->err = RC_ERR_INVAL;
    return;
  }
  for (size_t i = 0; i < n; i++)
    b[4 + i] ^= x[i];
  rc_stun_enc_attr(e, RC_STUN_ATTR_XOR_MAPPED_ADDRESS, b, 4 + n);
}

void rc_stun_enc_error(rc_stun_enc *e, uint16_t code, const char *reason) {
  uint8_t b[4 + 128];
  size_t rl = reason ? strlen(reason) : 0;
  if (code < 300 || code > 699 || rl > 128) {
    if (!e->err)
      e->err = RC_ERR_INVAL;
    return;
  }
  b[0] = b[1] = 0;
  b[2] = (uint8_t)(code / 100);
  b[3] = (uint8_t)(code % 100);
  if (rl)
    memcpy(b + 4, reason, rl);
  rc_stun_enc_attr(e, RC_STUN_ATTR_ERROR_CODE, b, 4 + rl);
}

void rc_stun_enc_integrity(rc_stun_enc *e, const uint8_t *key,
                           size_t key_len) {
  uint8_t mac[RC_STUN_HMAC_LEN] = {0};
  if (e->err)
    return;
  if (e->cap - e->len < 4 + RC_STUN_HMAC_LEN) {
    e->err = RC_ERR_NOBUF;
    return;
  }
  set_len(e, 4 + RC_STUN_HMAC_LEN);
  if (!hmac_sha1(key, key_len, e->buf, e->buf + RC_STUN_HEADER,
                 e->len - RC_STUN_HEADER, mac)) {
    e->err = RC_ERR_NOMEM;
    return;
  }
  rc_stun_enc_attr(e, RC_STUN_ATTR_MESSAGE_INTEGRITY, mac, sizeof mac);
}

rc_ssize rc_stun_enc_end(rc_stun_enc *e, bool fingerprint) {
  if (!e->err && fingerprint) {
    if (e->cap - e->len < 8) {
      e->err = RC_ERR_NOBUF;
    } else {
      /* RFC 8489 §14.7: the CRC-32 of the message up to (but excluding)
       * the FINGERPRINT attribute, the length including it, "XOR'ed with
       * the 32-bit value 0x5354554e". */
      set_len(e, 8);
      rc_stun_enc_u32(e, RC_STUN_ATTR_FINGERPRINT,
                      crc32_of(e->buf, e->len) ^ FINGERPRINT_XOR);
    }
  }
  return e->err ? (rc_ssize)e->err : (rc_ssize)e->len;
}

void rc_stun_new_tid(uint8_t tid[RC_STUN_TID_LEN]) {
  /* RFC 8489 §5: the transaction ID MUST be uniformly and randomly
   * chosen from 0 .. 2**96-1, and MUST be cryptographically random. */
  if (RAND_bytes(tid, RC_STUN_TID_LEN) != 1) {
    /* No randomness: a fixed ID would be guessable; leave the caller with
     * one that no valid response can match (all bits set). */
    memset(tid, 0xFF, RC_STUN_TID_LEN);
  }
}

size_t rc_stun_binding_answer(const uint8_t *req, size_t n,
                              const struct sockaddr *from, uint8_t *out,
                              size_t cap) {
  rc_stun_msg m;
  if (!rc_stun_is(req, n) || rc_stun_parse(&m, req, n) != RC_OK ||
      m.method != RC_STUN_BINDING || m.cls != RC_STUN_REQUEST ||
      m.username != NULL || m.integrity_off != 0)
    return 0;
  /* RFC 8489 §6.3.1: unknown comprehension-required attributes would
   * need a 420; an unauthenticated request gets no answer instead. */
  if (m.unknown_count != 0)
    return 0;
  rc_stun_enc e;
  rc_stun_enc_begin(&e, out, cap, RC_STUN_BINDING, RC_STUN_SUCCESS, m.tid);
  rc_stun_enc_xor_addr(&e, from);
  rc_ssize len = rc_stun_enc_end(&e, m.has_fingerprint);
  return len > 0 ? (size_t)len : 0;
}
