/*
 * Fuzz target for rcoap-bench --observe's lean notification read
 * (tools/rcoap-bench/obsnote.h: obs_note_parse), checked against the
 * codec on every input: the bytes after a token (options, 0xFF, payload)
 * read by the walker must be accepted exactly when rc_opts_scan accepts
 * them (save an Observe of more than 3 bytes, which only the walker
 * refuses), and then give the same payload and the same Observe value as
 * the codec's option iterator (the first Observe: RFC 7252 §5.4.5).
 */
#include <stdlib.h>
#include <string.h>

#include "obsnote.h"
#include "rcoap/codec_option.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* a copy of exactly size bytes: ASan sees any read past the end */
  uint8_t *buf = malloc(size ? size : 1);
  if (!buf)
    return 0;
  if (size)
    memcpy(buf, data, size);
  obs_note n;
  int r = obs_note_parse(buf, buf + size, &n);
  size_t olen, plen;
  const uint8_t *pl;
  rc_err e = rc_opts_scan(buf, size, &olen, &pl, &plen);
  if (e != RC_OK) {
    if (r == 0)
      abort(); /* the walker took what the codec refuses */
    free(buf);
    return 0;
  }
  rc_opt_iter it;
  rc_opt o;
  rc_opt_iter_init_raw(&it, buf, olen);
  int obs = rc_opt_next_of(&it, RC_OPT_OBSERVE, &o);
  uint32_t seq = 0;
  if (obs && o.len > 3) {
    if (r == 0)
      abort(); /* RFC 7641 §2: 0-3 bytes */
    free(buf);
    return 0;
  }
  if (r != 0)
    abort(); /* the walker refused what the codec takes */
  if (obs && rc_opt_uint(&o, &seq) != RC_OK)
    abort();
  if (n.have_obs != obs || n.seq != seq || n.plen != plen ||
      (plen && n.pl != pl))
    abort();
  free(buf);
  return 0;
}
