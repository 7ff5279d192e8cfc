/*
 * Fuzz target for rc_msg_parse in all three framings (first byte picks the
 * framing). A message that parses must re-encode, with rc_msg_encode and
 * again option by option with rc_enc, to exactly the input bytes (every
 * CoAP length form is canonical) and parse again to the same fields; into
 * a short buffer both encoders must report RC_ERR_NOBUF and the exact size.
 * For TCP framing also rc_msg_parse_head: on any bytes, and on a parsed
 * message's head with its payload as the tail (the same fields).
 */
#include <stdlib.h>
#include <string.h>

#include "rcoap/codec_msg.h"
#include "rcoap/codec_option.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  rc_framing f = (rc_framing)(data[0] % 3);
  rc_msg m, m2;
  if (f == RC_FRAMING_TCP && size >= 3) {
    /* rc_msg_parse_head on any bytes, the tail's length from the last two:
     * what it accepts has exactly that tail and no payload in memory. */
    size_t tail = (size_t)data[size - 1] << 8 | data[size - 2];
    if (rc_msg_parse_head(data + 1, size - 3, tail, &m) == RC_OK &&
        (m.payload != NULL || m.payload_len != tail))
      abort();
  }
  if (rc_msg_parse(f, data + 1, size - 1, &m) != RC_OK)
    return 0;
  if (f == RC_FRAMING_TCP && m.payload_len) {
    /* The same message with its payload "in a file": the head up to and
     * with the marker parses to the same fields. */
    size_t head = (size_t)(m.payload - (data + 1));
    if (rc_msg_parse_head(data + 1, head, m.payload_len, &m2) != RC_OK ||
        m2.code != m.code || m2.token_len != m.token_len ||
        m2.opts_len != m.opts_len || m2.payload != NULL ||
        m2.payload_len != m.payload_len)
      abort();
  }
  size_t cap = size + RC_ENC_HEADROOM, n;
  uint8_t *out = malloc(cap);
  if (rc_msg_encode(&m, f, out, cap, &n) != RC_OK || n != size - 1 ||
      memcmp(out, data + 1, n) != 0 || rc_msg_encoded_len(&m, f) != n)
    abort();
  if (rc_msg_parse(f, out, n, &m2) != RC_OK || m2.code != m.code ||
      m2.type != m.type || m2.mid != m.mid || m2.token_len != m.token_len ||
      m2.opts_len != m.opts_len || m2.payload_len != m.payload_len)
    abort();
  rc_enc e;
  rc_opt_iter it;
  rc_opt o;
  const uint8_t *fr;
  rc_enc_init(&e, out, cap, m.code, m.token, m.token_len);
  rc_opt_iter_init(&it, &m);
  while (rc_opt_next(&it, &o))
    if (rc_enc_opt(&e, o.num, o.val, o.len) != RC_OK)
      abort();
  rc_enc_payload(&e, m.payload, m.payload_len);
  if (rc_enc_finish(&e, f, m.type, m.mid, &fr, &n) != RC_OK ||
      n != size - 1 || memcmp(fr, data + 1, n) != 0)
    abort();
  /* Short buffers: NOBUF with the exact size, from both encoders. */
  size_t need = rc_enc_needed(&e), small = (size - 1) / 2, n2;
  if (rc_msg_encode(&m, f, out, small, &n2) != RC_ERR_NOBUF || n2 != size - 1)
    abort();
  rc_enc_init(&e, out, small, m.code, m.token, m.token_len);
  rc_opt_iter_init(&it, &m);
  while (rc_opt_next(&it, &o))
    rc_enc_opt(&e, o.num, o.val, o.len);
  rc_enc_payload(&e, m.payload, m.payload_len);
  if (rc_enc_needed(&e) != need ||
      (need > small && rc_enc_finish(&e, f, m.type, m.mid, &fr, &n) !=
                           RC_ERR_NOBUF))
    abort();
  free(out);
  return 0;
}
