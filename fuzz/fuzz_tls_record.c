/*
 * Fuzz target for the TLS 1.3 record layer after the hand-over
 * (src/transport/tls_record.c). A server record state and its mirror (the
 * client's: same secrets, directions swapped) are keyed from fixed
 * secrets; the first byte picks the suite and the read chunk size. The
 * rest is a list of operations that build the client's byte stream:
 *   0 [type][len][len bytes]  a record the client seals (any inner type)
 *   1 [req]                   a KeyUpdate the client seals, then its
 *                             write key moves (as a real client's would)
 *   2 [len][len bytes]        raw bytes (headers, garbage, cut records)
 *   3 [pos][bit]              a bit flipped in the stream so far
 * The stream is read in chunks; application data handed up must be what
 * the client sealed, in order, as long as nothing was flipped or raw; what
 * the server sends (KeyUpdate answers, alerts) must be whole records.
 */
#include <stdlib.h>
#include <string.h>

#include "transport/tls_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_check(int cond) {
  if (!cond)
    abort();
}

#define STREAM_MAX 65536

static uint8_t g_stream[STREAM_MAX + RC__TLS_REC_OVERHEAD + 300];
static uint8_t g_sent[STREAM_MAX]; /* application data the client sealed */
static size_t g_sent_len, g_got_len;
static int g_exact; /* nothing raw or flipped: data must match */

static int fz_data(void *user, const uint8_t *d, size_t n) {
  (void)user;
  if (g_exact) {
    fz_check(g_got_len + n <= g_sent_len);
    fz_check(memcmp(g_sent + g_got_len, d, n) == 0);
  }
  g_got_len += n;
  return 0;
}

static int fz_out(void *user, const uint8_t *d, size_t n) {
  (void)user;
  fz_check(n >= RC__TLS_REC_OVERHEAD && d[0] == RC__TLS_CT_APPDATA &&
           (size_t)(d[3] << 8 | d[4]) == n - RC__TLS_REC_HDR);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  static const uint8_t cs[48] = "client application traffic secret, 48 bytes..";
  static const uint8_t ss[48] = "server application traffic secret, 48 bytes..";
  rc__tls_suite suite = (rc__tls_suite)(data[0] % RC__TLS_SUITES);
  size_t chunk = (size_t)(data[0] >> 2) * 97 + 1;
  size_t hl = rc__tls_suite_hash_len(suite);
  rc__tls_rec srv, cli;
  memset(&srv, 0, sizeof(srv));
  memset(&cli, 0, sizeof(cli));
  fz_check(rc__tls_rec_init(&srv, suite, cs, ss, hl, 0) == 0);
  fz_check(rc__tls_rec_init(&cli, suite, ss, cs, hl, 0) == 0);
  size_t len = 0, i = 1;
  g_sent_len = g_got_len = 0;
  g_exact = 1;
  while (i < size && len < STREAM_MAX) {
    uint8_t op = data[i++] % 4;
    if (op == 0 && i + 2 <= size) {
      uint8_t type = data[i];
      size_t n = data[i + 1];
      i += 2;
      if (n > size - i)
        n = size - i;
      /* a long record now and then: the byte repeated */
      size_t rep = type & 0x80 ? 64 : 1;
      if (len + n * rep + RC__TLS_REC_OVERHEAD > STREAM_MAX)
        break;
      uint8_t body[255 * 64];
      for (size_t k = 0; k < rep; k++)
        memcpy(body + k * n, data + i, n);
      type &= 0x7f;
      size_t w = rc__tls_rec_seal(&cli, type, body, n * rep, g_stream + len);
      fz_check(w == n * rep + RC__TLS_REC_OVERHEAD);
      if (type == RC__TLS_CT_APPDATA) {
        memcpy(g_sent + g_sent_len, body, n * rep);
        g_sent_len += n * rep;
      } else {
        g_exact = 0; /* the server may stop at it */
      }
      len += w;
      i += n;
    } else if (op == 1 && i < size) {
      uint8_t ku[5] = {24, 0, 0, 1, (uint8_t)(data[i++] & 1)};
      len += rc__tls_rec_seal(&cli, RC__TLS_CT_HANDSHAKE, ku, 5,
                              g_stream + len);
      fz_check(rc__tls_rec_update_write(&cli) == 0);
    } else if (op == 2 && i < size) {
      size_t n = data[i++];
      if (n > size - i)
        n = size - i;
      memcpy(g_stream + len, data + i, n);
      len += n;
      i += n;
      g_exact = 0;
    } else if (op == 3 && i + 2 <= size && len) {
      g_stream[data[i] * 257u % len] ^= (uint8_t)(1u << (data[i + 1] & 7));
      i += 2;
      g_exact = 0;
    } else {
      break;
    }
  }
  rc__tls_rec_io io = {fz_data, fz_out, NULL};
  rc__tls_rec_ev ev = RC__TLS_REC_MORE;
  for (size_t off = 0; off < len && ev == RC__TLS_REC_MORE; off += chunk) {
    size_t n = len - off < chunk ? len - off : chunk;
    ev = rc__tls_rec_read(&srv, rc_mem_default(), g_stream + off, n, &io);
  }
  if (g_exact && ev == RC__TLS_REC_MORE && srv.hdr_len == 0)
    fz_check(g_got_len == g_sent_len);
  rc__tls_rec_clear(&srv, rc_mem_default());
  rc__tls_rec_clear(&cli, rc_mem_default());
  return 0;
}
