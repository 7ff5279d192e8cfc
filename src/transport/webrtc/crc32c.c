/*
 * CRC32c for SCTP packets (crc32c.h): reflected polynomial 0x82F63B78,
 * initial value and final xor all ones. The SSE 4.2 crc32 instruction
 * computes exactly this polynomial, 8 bytes per step; without it, a
 * byte-wise table made on first use.
 */
#include <string.h>

#include "transport/webrtc/crc32c.h"

#define POLY 0x82F63B78u

static uint32_t table[256];
static int table_made;

static void table_make(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = (c >> 1) ^ ((c & 1u) ? POLY : 0u);
    table[i] = c;
  }
  table_made = 1;
}

static uint32_t update_table(uint32_t c, const uint8_t *p, size_t n) {
  if (!table_made)
    table_make();
  while (n-- > 0)
    c = table[(c ^ *p++) & 0xffu] ^ (c >> 8);
  return c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>

__attribute__((target("sse4.2"))) static uint32_t
update_hw(uint32_t c, const uint8_t *p, size_t n) {
  uint64_t c64 = c;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    c64 = _mm_crc32_u64(c64, w);
    p += 8;
    n -= 8;
  }
  c = (uint32_t)c64;
  while (n-- > 0)
    c = _mm_crc32_u8(c, *p++);
  return c;
}

static uint32_t update(uint32_t c, const uint8_t *p, size_t n) {
  static int hw = -1;
  if (hw < 0)
    hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
  return hw ? update_hw(c, p, n) : update_table(c, p, n);
}
#else
static uint32_t update(uint32_t c, const uint8_t *p, size_t n) {
  return update_table(c, p, n);
}
#endif

uint32_t rc__crc32c(const uint8_t *p, size_t n) {
  return ~update(0xffffffffu, p, n);
}

uint32_t rc__sctp_checksum(const uint8_t *pkt, size_t n) {
  static const uint8_t zero[4];
  uint32_t c = update(0xffffffffu, pkt, 8);
  c = update(c, zero, 4);
  return ~update(c, pkt + 12, n - 12);
}

void rc__sctp_checksum_put(uint8_t *pkt, size_t n) {
  uint32_t c = rc__sctp_checksum(pkt, n);
  for (int i = 0; i < 4; i++)
    pkt[8 + i] = (uint8_t)(c >> (8 * i));
}

int rc__sctp_checksum_ok(const uint8_t *pkt, size_t n) {
  uint32_t c = rc__sctp_checksum(pkt, n);
  uint32_t got = (uint32_t)pkt[8] | (uint32_t)pkt[9] << 8 |
                 (uint32_t)pkt[10] << 16 | (uint32_t)pkt[11] << 24;
  return c == got;
}
