/*
 * Block1/Block2 option values (RFC 7959 §2.2): NUM, M and SZX packed in a
 * 0-3 byte uint, and the BERT size exponent 7 of RFC 8323 §6. Whether SZX 7
 * is allowed depends on the transport (RFC 7959 §2.2 reserves it; RFC 8323
 * §6 gives it to BERT): this module decodes it and leaves that call to the
 * exchange layer.
 */
#include "rcoap/codec_block.h"

/* RFC 7959 §2.2: "The block option value is ... 0-3 bytes". */
#define BLOCK_VALUE_MAX_LEN 3u
#define BLOCK_SZX_MAX 6

rc_err rc_block_decode(const uint8_t *val, size_t len, rc_block *b) {
  if (len > BLOCK_VALUE_MAX_LEN || (len != 0 && val == NULL))
    return RC_ERR_BAD_BLOCK;
  uint32_t v = 0;
  for (size_t i = 0; i < len; i++)
    v = v << 8 | val[i];
  b->num = v >> 4;
  b->more = (uint8_t)((v >> 3) & 1);
  b->szx = (uint8_t)(v & 7);
  return RC_OK;
}

int rc_block_valid(const rc_block *b) {
  return b->num <= RC_BLOCK_NUM_MAX && b->szx <= RC_BLOCK_SZX_BERT &&
         b->more <= 1;
}

size_t rc_block_encode(const rc_block *b, uint8_t out[3]) {
  if (!rc_block_valid(b))
    return 0;
  uint32_t v = b->num << 4 | (uint32_t)b->more << 3 | b->szx;
  size_t n = v > 0xFFFF ? 3 : v > 0xFF ? 2 : v > 0 ? 1 : 0;
  for (size_t i = 0; i < n; i++)
    out[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
  return n;
}

int rc_block_szx_for(size_t bytes) {
  if (bytes < 16)
    return -1;
  int szx = 0;
  while (szx < BLOCK_SZX_MAX && ((size_t)32u << szx) <= bytes)
    szx++;
  return szx;
}
