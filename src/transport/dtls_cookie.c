/*
 * The stateless cookie exchange of DTLS servers (RFC 6347 §4.2.1): the
 * HMAC cookie, its key rotation, OpenSSL's cookie callbacks for server
 * filters, and rc_dtls_listen_check(), which answers a ClientHello
 * without a valid cookie with a HelloVerifyRequest before any per-peer
 * state exists. Bytes in, bytes out; the caller's clock rotates the key.
 */
#include <string.h>

#include "transport/tls_int.h"

#define COOKIE_LEN 32
/* DTLS record and handshake headers (RFC 6347 §4.1, §4.2.2). */
#define REC_HDR 13
#define HS_HDR 12
#define CT_HANDSHAKE 22
#define HT_CLIENT_HELLO 1
#define HT_HELLO_VERIFY 3

/* RFC 6347 §4.2.1 suggests Cookie = HMAC(Secret, Client-IP,
 * Client-Parameters); OpenSSL's verify callback sees only the cookie, so
 * the address is what it covers (hkey.c: the current key signs, the one
 * before it still verifies). */
static int cookie_ok(const rc_tls_ctx *ctx, const uint8_t *peer,
                     size_t peer_len, const uint8_t *c, size_t clen) {
  return clen == COOKIE_LEN &&
         rc__hkey_verify(&ctx->cookie, peer, peer_len, NULL, 0, c, clen);
}

static int gen_cookie_cb(SSL *ssl, unsigned char *cookie, unsigned int *len) {
  const uint8_t *peer;
  size_t plen;
  rc__tls_filter *f = rc__tls_from_ssl(ssl);
  if (!f || !rc__dtls_peer_of(ssl, &peer, &plen))
    return 0;
  rc__hkey_mac(&f->ctx->cookie, 0, peer, plen, NULL, 0, cookie);
  *len = COOKIE_LEN;
  return 1;
}

static int verify_cookie_cb(SSL *ssl, const unsigned char *cookie,
                            unsigned int len) {
  const uint8_t *peer;
  size_t plen;
  rc__tls_filter *f = rc__tls_from_ssl(ssl);
  return f && rc__dtls_peer_of(ssl, &peer, &plen) &&
         cookie_ok(f->ctx, peer, plen, cookie, len);
}

void rc__dtls_ctx_setup(rc_tls_ctx *ctx, SSL_CTX *sc) {
  /* The MTU is ours (rc_tls_config.mtu), not asked of a socket. */
  SSL_CTX_set_options(sc, SSL_OP_NO_QUERY_MTU);
  if (ctx->role == RC_TLS_SERVER) {
    SSL_CTX_set_options(sc, SSL_OP_COOKIE_EXCHANGE);
    SSL_CTX_set_cookie_generate_cb(sc, gen_cookie_cb);
    SSL_CTX_set_cookie_verify_cb(sc, verify_cookie_cb);
  }
}

static uint32_t get24(const uint8_t *p) {
  return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

rc_dtls_listen rc_dtls_listen_check(rc_tls_ctx *ctx, const void *peer,
                                    size_t peer_len, const uint8_t *dg,
                                    size_t len, rc_time now, uint8_t *out,
                                    size_t *out_len) {
  *out_len = 0;
  if (!ctx || !ctx->datagram || ctx->role != RC_TLS_SERVER || !dg || !out ||
      peer_len > RC_DTLS_MAX_ADDR || (peer_len && !peer))
    return RC_DTLS_LISTEN_DROP;
  rc__hkey_rotate(&ctx->cookie, now, RC_DTLS_COOKIE_ROTATE_MS);
  /* Record: type, version, epoch, sequence_number(6), length. */
  if (len < REC_HDR + HS_HDR || dg[0] != CT_HANDSHAKE || dg[1] != 0xFE ||
      dg[3] != 0 || dg[4] != 0)
    return RC_DTLS_LISTEN_DROP;
  size_t rlen = (size_t)dg[11] << 8 | dg[12];
  if (rlen > len - REC_HDR || rlen < HS_HDR)
    return RC_DTLS_LISTEN_DROP;
  /* Handshake: msg_type, length, message_seq, fragment_offset,
   * fragment_length; the whole ClientHello in one fragment. */
  const uint8_t *hs = dg + REC_HDR;
  uint32_t hlen = get24(hs + 1);
  if (hs[0] != HT_CLIENT_HELLO || get24(hs + 6) != 0 ||
      get24(hs + 9) != hlen || hlen > rlen - HS_HDR)
    return RC_DTLS_LISTEN_DROP;
  /* ClientHello: client_version(2), random(32), session_id<0..32>,
   * cookie<0..2^8-1>, ... */
  const uint8_t *b = hs + HS_HDR;
  size_t at = 2 + 32;
  if (at + 1 > hlen || b[at] > 32)
    return RC_DTLS_LISTEN_DROP;
  at += 1 + b[at];
  if (at + 1 > hlen || at + 1 + b[at] > hlen)
    return RC_DTLS_LISTEN_DROP;
  if (cookie_ok(ctx, peer, peer_len, b + at + 1, b[at]))
    return RC_DTLS_LISTEN_ACCEPT;
  size_t hvr_len = REC_HDR + HS_HDR + 3 + COOKIE_LEN;
  /* Never answer with more than came in (no amplification). */
  if (hvr_len > len)
    return RC_DTLS_LISTEN_DROP;
  uint8_t *o = out;
  /* RFC 6347 §4.2.1: "DTLS 1.2 server implementations SHOULD use DTLS
   * version 1.0 regardless of the version of TLS that is expected to be
   * negotiated", and "the server MUST use the record sequence number in
   * the ClientHello as the record sequence number in the
   * HelloVerifyRequest". */
  o[0] = CT_HANDSHAKE;
  o[1] = 0xFE;
  o[2] = 0xFF;
  memcpy(o + 3, dg + 3, 8); /* epoch 0 and the ClientHello's sequence */
  o[11] = 0;
  o[12] = (uint8_t)(HS_HDR + 3 + COOKIE_LEN);
  o += REC_HDR;
  o[0] = HT_HELLO_VERIFY;
  o[1] = o[2] = 0;
  o[3] = 3 + COOKIE_LEN;
  o[4] = hs[4]; /* message_seq of the ClientHello, as OpenSSL does */
  o[5] = hs[5];
  memset(o + 6, 0, 3);
  o[9] = o[10] = 0;
  o[11] = 3 + COOKIE_LEN;
  o += HS_HDR;
  o[0] = 0xFE; /* server_version DTLS 1.0, as above */
  o[1] = 0xFF;
  o[2] = COOKIE_LEN;
  rc__hkey_mac(&ctx->cookie, 0, peer, peer_len, NULL, 0, o + 3);
  *out_len = hvr_len;
  return RC_DTLS_LISTEN_ANSWER;
}
