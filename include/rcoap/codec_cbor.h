/*
 * CBOR (RFC 8949) in diagnostic notation (RFC 8949 §8), for people: what
 * "rcoap" prints for an application/cbor body on a terminal.
 */
#ifndef RCOAP_CODEC_CBOR_H
#define RCOAP_CODEC_CBOR_H

#include <stddef.h>
#include <stdint.h>

#include "rcoap/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Deepest nesting of arrays, maps and tags shown. */
#define RC_CBOR_DIAG_DEPTH 32

/*
 * Writes the one data item in in[0..len) as diagnostic notation into out
 * (NUL-terminated; at most cap bytes with the NUL). Nothing is allocated;
 * out is the caller's. Returns 0 and the text length in *out_len, or:
 * RC_ERR_TRUNCATED (the item runs past len), RC_ERR_TRAILING_BYTES (bytes
 * after the item), RC_ERR_INVAL (reserved additional information, a
 * misplaced break, a text string that is not UTF-8-shaped chunks),
 * RC_ERR_LIMIT (nested deeper than RC_CBOR_DIAG_DEPTH), RC_ERR_NOBUF (out
 * is too small: 12 * len + 16 bytes is always enough).
 */
rc_err rc_cbor_diag(const uint8_t *in, size_t len, char *out, size_t cap,
                    size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif
