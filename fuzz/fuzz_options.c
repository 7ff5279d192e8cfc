/*
 * Fuzz target for rc_opts_scan, option iteration and rc_opt_check. The
 * first byte is the message code (signaling codes switch the registry).
 * A region that scans must iterate to exactly its length and re-encode
 * option by option to the same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "rcoap/codec_msg.h"
#include "rcoap/codec_option.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  uint8_t code = data[0];
  size_t olen, plen;
  const uint8_t *pl;
  if (rc_opts_scan(data + 1, size - 1, &olen, &pl, &plen) != RC_OK)
    return 0;
  if (olen + (pl ? 1 + plen : 0) != size - 1)
    abort();
  uint8_t *buf = malloc(olen + RC_ENC_HEADROOM + 1);
  rc_enc e;
  rc_opt_iter it;
  rc_opt o;
  uint32_t v;
  rc_enc_init(&e, buf, olen + RC_ENC_HEADROOM + 1, code, NULL, 0);
  rc_opt_iter_init_raw(&it, data + 1, olen);
  while (rc_opt_next(&it, &o)) {
    rc_err rc = rc_opt_check(code, &o);
    const rc_opt_def *d = rc_opt_lookup(code, o.num);
    if (rc == RC_OK && d && d->format == RC_OPTF_UINT &&
        rc_opt_uint(&o, &v) != RC_OK)
      abort();
    if (rc_enc_opt(&e, o.num, o.val, o.len) != RC_OK)
      abort();
  }
  if (it.p != (olen ? data + 1 + olen : NULL) ||
      rc_enc_needed(&e) != RC_ENC_HEADROOM + olen ||
      (olen && memcmp(buf + RC_ENC_HEADROOM, data + 1, olen) != 0))
    abort();
  free(buf);
  return 0;
}
