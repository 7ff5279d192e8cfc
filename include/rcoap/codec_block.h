/*
 * Block1/Block2 option values (RFC 7959 §2.2) and BERT (RFC 8323 §6).
 *
 * A block value is NUM (up to 20 bits), M (more) and SZX (size exponent:
 * block size 2^(SZX+4), 16..1024). SZX 7 is BERT: the block size is 1024
 * and a message may carry several blocks ("the payload of a BERT message
 * consists of one or more blocks of 1024 bytes", RFC 8323 §6).
 */
#ifndef RCOAP_CODEC_BLOCK_H
#define RCOAP_CODEC_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "rcoap/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RC_BLOCK_SZX_BERT 7
#define RC_BLOCK_NUM_MAX 0xFFFFFu

typedef struct rc_block {
  uint32_t num;
  uint8_t more;
  uint8_t szx;
} rc_block;

/* Decodes an option value of 0-3 bytes. Returns 0 or RC_ERR_BAD_BLOCK. */
rc_err rc_block_decode(const uint8_t *val, size_t len, rc_block *b);
/* Encodes shortest form into out; returns the length (0-3), or 0 with
 * nothing meaningful if b is invalid (num over 20 bits or szx > 7): check
 * with rc_block_valid() first. */
size_t rc_block_encode(const rc_block *b, uint8_t out[3]);
int rc_block_valid(const rc_block *b);

/* Block size in bytes for szx (1024 for BERT). */
static inline size_t rc_block_size(uint8_t szx) {
  return szx >= RC_BLOCK_SZX_BERT ? 1024u : (size_t)16u << szx;
}
/* Byte offset of block b's first byte: NUM * size (BERT counts 1024-byte
 * units, RFC 8323 §6). */
static inline uint64_t rc_block_offset(const rc_block *b) {
  return (uint64_t)b->num * rc_block_size(b->szx);
}
/* Largest SZX (0..6) whose block size is <= bytes; -1 if bytes < 16. */
int rc_block_szx_for(size_t bytes);

/*
 * The payload of a Q-Block1 4.08 Request Entity Incomplete (RFC 9177
 * §5, Content-Format 272 application/missing-blocks+cbor-seq): "a CBOR
 * Sequence ... of unsigned integers" naming the missing block numbers in
 * ascending order.
 */
#define RC_CF_MISSING_BLOCKS 272u

/* Writes nums[0..n) (ascending, each <= RC_BLOCK_NUM_MAX) into out;
 * stops before the first that does not fit in cap. Returns the bytes
 * written and sets *taken to how many numbers they hold. */
size_t rc_missing_encode(const uint32_t *nums, size_t n, uint8_t *out,
                         size_t cap, size_t *taken);
/* Reads a missing-blocks payload into out (at most max numbers; later
 * ones are checked, not stored). Returns 0 and *n, or RC_ERR_BAD_BLOCK
 * when an item is not an unsigned integer, is over RC_BLOCK_NUM_MAX,
 * runs past the end, or is not above the one before. */
rc_err rc_missing_parse(const uint8_t *p, size_t len, uint32_t *out,
                        size_t max, size_t *n);

#ifdef __cplusplus
}
#endif
#endif
