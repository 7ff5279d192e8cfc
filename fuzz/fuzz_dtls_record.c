/*
 * Fuzz target for the DTLS 1.2 record layer of a WebRTC client after the
 * hand-over (src/transport/dtls_record.c). A sender and a receiver are
 * keyed alike from fixed keys (the receiver reads what the sender writes);
 * the first byte picks the suite. The rest is a list of operations that
 * build datagrams for the receiver:
 *   0 [type][len][len bytes]  a record the sender seals (any content type)
 *   1 [len][len bytes]        raw bytes (headers, garbage, cut records)
 *   2 [pos][bit]              a bit flipped in the datagram so far
 *   3                         the datagram opened, record by record
 *   4                         the last datagram opened again: a replay
 * A datagram of sealed records only, opened once, gives back each record
 * exactly; opened again, none (the replay window). Nothing may read or
 * write out of bounds.
 */
#include <stdlib.h>
#include <string.h>

#include "transport/dtls_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_check(int cond) {
  if (!cond)
    abort();
}

#define DGRAM_MAX 16384
#define RECS_MAX 64

static uint8_t g_dg[DGRAM_MAX + RC__DTLS_REC_HDR + 300];
static uint8_t g_last[sizeof g_dg];
static uint8_t g_plain[RC__TLS_REC_PLAIN_MAX];
static uint8_t g_sealed[RECS_MAX][256]; /* what each record carried */
static size_t g_sealed_len[RECS_MAX];
static uint8_t g_sealed_type[RECS_MAX];

static void keyed(rc__dtls_rec *r, rc__tls_suite s, int reader) {
  static const uint8_t ck[32] = "client write key, 32 bytes long";
  static const uint8_t sk[32] = "server write key, 32 bytes long";
  static const uint8_t civ[12] = "client iv..";
  static const uint8_t siv[12] = "server iv..";
  memset(r, 0, sizeof *r);
  r->suite = (uint8_t)s;
  r->gcm = s != RC__TLS_CHACHA20_POLY1305_SHA256;
  r->epoch = 1;
  size_t ivl = r->gcm ? 4 : 12;
  memcpy(r->wkey, reader ? sk : ck, 32);
  memcpy(r->rkey, reader ? ck : sk, 32);
  memcpy(r->wiv, reader ? siv : civ, ivl);
  memcpy(r->riv, reader ? civ : siv, ivl);
}

/* Opens dg[0..n); returns the records that authenticated. */
static size_t open_all(rc__dtls_rec *r, const uint8_t *dg, size_t n,
                       int exact, size_t nsealed) {
  size_t ok = 0, used = 0, len = 0;
  uint8_t type = 0;
  for (size_t at = 0; at < n; at += used) {
    int got = rc__dtls_rec_open(r, dg + at, n - at, &used, &type, g_plain,
                                &len);
    fz_check(used <= n - at);
    if (used == 0)
      break;
    if (!got)
      continue;
    fz_check(len <= RC__TLS_REC_PLAIN_MAX);
    if (exact) {
      fz_check(ok < nsealed && type == g_sealed_type[ok] &&
               len == g_sealed_len[ok] &&
               memcmp(g_plain, g_sealed[ok], len) == 0);
    }
    ok++;
  }
  return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  rc__tls_suite suite = (rc__tls_suite)(data[0] % RC__TLS_SUITES);
  rc__dtls_rec tx, rx;
  keyed(&tx, suite, 0);
  keyed(&rx, suite, 1);
  size_t n = 0, last = 0, nsealed = 0;
  int exact = 1, last_exact = 0;
  size_t i = 1;
  while (i < size) {
    uint8_t op = data[i++] % 5;
    if (op == 0 && i + 2 <= size) {
      uint8_t type = data[i], len = data[i + 1];
      i += 2;
      if (len > size - i)
        len = (uint8_t)(size - i);
      if (n + len + RC__DTLS_REC_HDR + 24 > DGRAM_MAX || nsealed == RECS_MAX)
        break;
      size_t w = rc__dtls_rec_seal(&tx, type, data + i, len, g_dg + n);
      fz_check(w == len + RC__DTLS_REC_HDR + 16 + (tx.gcm ? 8 : 0));
      memcpy(g_sealed[nsealed], data + i, len);
      g_sealed_len[nsealed] = len;
      g_sealed_type[nsealed++] = type;
      n += w;
      i += len;
    } else if (op == 1 && i + 1 <= size) {
      size_t len = data[i++];
      if (len > size - i)
        len = size - i;
      if (n + len > DGRAM_MAX)
        break;
      memcpy(g_dg + n, data + i, len);
      n += len;
      i += len;
      exact = 0;
    } else if (op == 2 && i + 2 <= size) {
      if (n > 0) {
        g_dg[data[i] % n] ^= (uint8_t)(1u << (data[i + 1] % 8));
        exact = 0;
      }
      i += 2;
    } else if (op == 3) {
      size_t ok = open_all(&rx, g_dg, n, exact, nsealed);
      if (exact)
        fz_check(ok == nsealed);
      memcpy(g_last, g_dg, n);
      last = n;
      last_exact = exact;
      n = nsealed = 0;
      exact = 1;
    } else if (op == 4) {
      size_t ok = open_all(&rx, g_last, last, 0, 0);
      if (last_exact)
        fz_check(ok == 0); /* every record a replay */
    } else {
      break;
    }
  }
  return 0;
}
