/*
 * A message read without its malformed elective options.
 *
 * RFC 7252 §5.4.3: an option whose value length is outside the range its
 * definition gives is to be handled as if the option were not recognized
 * (the sentence is about requests; rcoap applies it to responses too).
 * For a critical option that means rejecting the message (§5.4.1; the
 * exchange's scans do that); an unrecognized elective option is silently
 * ignored (§5.4.1), so a recognized elective one with a bad length (a
 * 3-byte Content-Format, a 4-byte Observe, a 9-byte ETag) must not be
 * acted on either. Rather than teach every reader of options (exchange,
 * app, proxy, tools) to check lengths, the exchange hands them a copy of
 * the message without those options. Rare by nature: only a message the
 * scan flagged is copied.
 */
#include <string.h>

#include "exchange_int.h"

rc_err rc__xch_strip(const rc_mem *mem, const rc_msg *m, rc_msg *out,
                     uint8_t **buf) {
  /* Dropping an option can lengthen the next one's delta by up to two
   * extended bytes. */
  size_t cap = RC_ENC_HEADROOM + 2 * m->opts_len + 16;
  uint8_t *b = mem->malloc(cap, mem->user);
  if (!b)
    return RC_ERR_NOMEM;
  rc_enc e;
  rc_enc_init(&e, b, cap, m->code, NULL, 0);
  rc_opt_iter it;
  rc_opt o;
  rc_opt_iter_init(&it, m);
  while (rc_opt_next(&it, &o)) {
    const rc_opt_def *d = rc_opt_lookup(m->code, o.num);
    if (!rc_opt_is_critical(o.num) && d && rc_opt_check_def(d, &o) != RC_OK)
      continue;
    rc_enc_opt(&e, o.num, o.val, o.len);
  }
  const uint8_t *p;
  size_t n;
  rc_err err = rc_enc_finish(&e, RC_FRAMING_UDP, RC_TYPE_CON, 0, &p, &n);
  if (err != RC_OK) {
    mem->free(b, mem->user);
    return err;
  }
  *out = *m;
  out->opts = n > 4 ? p + 4 : NULL; /* after the 4-byte header */
  out->opts_len = n - 4;
  out->opts_summary = 0; /* readers walk the options */
  *buf = b;
  return RC_OK;
}
