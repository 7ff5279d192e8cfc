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

#ifdef __cplusplus
}
#endif
#endif
