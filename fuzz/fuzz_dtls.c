/*
 * Fuzzes the DTLS server side (src/transport/dtls.c): the stateless
 * rc_dtls_listen_check() and a server filter on a PSK context, fed fuzzed
 * datagrams. The input is a list of records: op (1 byte), length (2 bytes,
 * big-endian), data. Op bit 0 clear: the datagram goes through
 * rc_dtls_listen_check() first and reaches the filter only when accepted
 * (as a UDP socket would do it); set: straight to the filter. Op bit 1:
 * afterwards the clock moves on by (op >> 2) * 250 ms and the filter's
 * timeout runs when due. Op bit 2 (with bit 1 clear): the server sends a
 * message once open. The cookie key is fixed (zeros) so that seeds can
 * carry valid cookies (fuzz/seeds/dtls_seeds.py). Nothing may crash,
 * leak, answer a listen check with more bytes than came in, or hand down
 * a datagram larger than the MTU.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "rcoap/transport_dtls.h"
#include "rcoap/transport_tls.h"
#include "transport/tls_int.h"

static const uint8_t ADDR[] = {127, 0, 0, 1, 0x16, 0x34};
static rc_tls_ctx *g_ctx;

static rc_err up(void *u, const uint8_t *d, size_t n, int flags) {
  (void)u, (void)d, (void)n, (void)flags;
  return RC_OK;
}

static rc_err down(void *u, const uint8_t *d, size_t n) {
  (void)u, (void)d;
  if (n == 0 || n > RC_DTLS_DEFAULT_MTU)
    abort();
  return RC_OK;
}

static void event(void *u, rc_filter_event ev, int arg, const char *detail) {
  (void)ev, (void)arg;
  int *open = u;
  if (ev == RC_FILTER_EV_OPEN)
    *open = 1;
  if (ev == RC_FILTER_EV_ERROR && (!detail || !detail[0]))
    abort(); /* every failure has a sentence */
}

static rc_tls_ctx *ctx_once(void) {
  if (g_ctx)
    return g_ctx;
  rc_tls_config cfg;
  rc_tls_config_init(&cfg, RC_TLS_SERVER);
  cfg.datagram = 1;
  cfg.psk_identity = (const uint8_t *)"fuzz";
  cfg.psk_identity_len = 4;
  cfg.psk_key = (const uint8_t *)"0123456789abcdef";
  cfg.psk_key_len = 16;
  cfg.psk_hint = "hint";
  if (rc_tls_ctx_new(&g_ctx, &cfg, NULL, 0) != RC_OK)
    abort();
  memset(g_ctx->cookie.key, 0, sizeof(g_ctx->cookie.key));
  return g_ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rc_tls_ctx *ctx = ctx_once();
  rc_time now = 1000000;
  int open = 0;
  rc_filter_sink sink = {up, down, event, &open};
  rc_filter *f = NULL;
  size_t at = 0;
  while (at + 3 <= size) {
    uint8_t op = data[at];
    size_t n = (size_t)data[at + 1] << 8 | data[at + 2];
    at += 3;
    if (n > size - at)
      n = size - at;
    const uint8_t *dg = data + at;
    at += n;
    int deliver = op & 1;
    if (!deliver && !f) {
      uint8_t out[RC_DTLS_HVR_MAX];
      size_t olen = 0;
      rc_dtls_listen r = rc_dtls_listen_check(ctx, ADDR, sizeof(ADDR), dg, n,
                                              now, out, &olen);
      if ((r == RC_DTLS_LISTEN_ANSWER) != (olen > 0) || olen > n)
        abort();
      deliver = r == RC_DTLS_LISTEN_ACCEPT;
    } else {
      deliver = 1;
    }
    if (deliver && !f &&
        rc_dtls_filter_new(&f, ctx, NULL, 0, ADDR, sizeof(ADDR), now, &sink) !=
            RC_OK)
      abort();
    if (deliver)
      (void)rc_filter_recv(f, dg, n);
    if (f && (op & 2)) {
      now += (rc_time)(op >> 2) * 250;
      if (rc_filter_expiry(f) <= now)
        (void)rc_filter_timeout(f, now);
    } else if (f && (op & 4) && open) {
      (void)rc_filter_send(f, (const uint8_t *)"2.05", 4, RC_FILTER_MSG_END);
    }
  }
  if (f && open)
    (void)rc_filter_shutdown(f);
  rc_filter_free(f);
  if (ERR_peek_error() != 0)
    abort(); /* the filter leaves OpenSSL's error queue empty */
  return 0;
}
