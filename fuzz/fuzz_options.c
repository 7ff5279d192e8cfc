/*
 * Fuzz target for rc_opts_scan, option iteration and rc_opt_check. The
 * first byte is the message code (signaling codes switch the registry).
 * A region that scans must iterate to exactly its length and re-encode
 * option by option to the same bytes. Every region, good or bad, must
 * also scan exactly as ref_scan says (a plain walk written from RFC 7252
 * §3.1, kept here as the oracle of the codec's tuned scanner): the same
 * error, or the same option/payload split and, through rc_msg_parse of a
 * WebSocket message around it, the same option summary.
 */
#include <stdlib.h>
#include <string.h>

#include "rcoap/codec_msg.h"
#include "rcoap/codec_option.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a scan must find: the error, or the split and the summary. */
typedef struct ref {
  rc_err err;
  size_t olen;
  int marker;
  uint64_t below64;
  int over63;
  uint32_t maxlen;
} ref;

/* One extended field (RFC 7252 §3.1): nibble 13 adds a byte (+13), 14 two
 * bytes (+269). Returns -1 when the bytes are not there. */
static long ref_ext(uint32_t nib, const uint8_t **p, const uint8_t *end) {
  if (nib < 13)
    return nib;
  if (nib == 13) {
    if (end - *p < 1)
      return -1;
    return 13 + *(*p)++;
  }
  if (end - *p < 2)
    return -1;
  long v = 269 + ((long)(*p)[0] << 8 | (*p)[1]);
  *p += 2;
  return v;
}

static ref ref_scan(const uint8_t *buf, size_t len) {
  ref r = {RC_OK, 0, 0, 0, 0, 0};
  const uint8_t *p = buf, *end = buf + len;
  unsigned long num = 0;
  while (p < end) {
    uint8_t b = *p;
    if (b == 0xff) {
      r.olen = (size_t)(p - buf);
      r.marker = 1;
      if (p + 1 == end)
        r.err = RC_ERR_EMPTY_PAYLOAD;
      return r;
    }
    p++;
    if (b >> 4 == 15) {
      r.err = RC_ERR_OPT_DELTA_RESERVED;
      return r;
    }
    if ((b & 15) == 15) {
      r.err = RC_ERR_OPT_LEN_RESERVED;
      return r;
    }
    long d = ref_ext(b >> 4, &p, end);
    long l = d < 0 ? -1 : ref_ext(b & 15, &p, end);
    if (d < 0 || l < 0) {
      r.err = RC_ERR_OPT_TRUNCATED;
      return r;
    }
    num += (unsigned long)d;
    if (num > 65535) {
      r.err = RC_ERR_OPT_NUMBER_OVERFLOW;
      return r;
    }
    if ((unsigned long)(end - p) < (unsigned long)l) {
      r.err = RC_ERR_OPT_TRUNCATED;
      return r;
    }
    p += l;
    if (num < 64)
      r.below64 |= 1ull << num;
    else
      r.over63 = 1;
    if ((uint32_t)l > r.maxlen)
      r.maxlen = (uint32_t)l;
  }
  r.olen = len;
  return r;
}

static void ref_check(const uint8_t *data, size_t size) {
  ref want = ref_scan(data + 1, size - 1);
  size_t olen, plen;
  const uint8_t *pl;
  rc_err err = rc_opts_scan(data + 1, size - 1, &olen, &pl, &plen);
  if (err != want.err ||
      (err == RC_OK &&
       (olen != want.olen || (pl != NULL) != want.marker ||
        (pl && (pl != data + 2 + olen || plen != size - 2 - olen)))))
    abort();
  /* the same region as a WebSocket message's options: the summary */
  uint8_t *w = malloc(size + 1);
  w[0] = 0x00;
  w[1] = data[0] == 0 ? 0x01 : data[0];
  memcpy(w + 2, data + 1, size - 1);
  rc_msg m;
  err = rc_msg_parse(RC_FRAMING_WS, w, size + 1, &m);
  if (err != want.err ||
      (err == RC_OK &&
       (m.opts_len != want.olen || !m.opts_summary ||
        m.opts_below64 != want.below64 || m.opts_over63 != want.over63 ||
        m.opts_maxlen != want.maxlen)))
    abort();
  free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  ref_check(data, size);
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
