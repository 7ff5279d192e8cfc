/*
 * CoAP options on the wire (RFC 7252 §3.1): validating a message's option
 * region in one pass, iterating it, finding options, uint values (§3.2),
 * stable sorting of an option array for the encoder, and checking a value
 * against the registry's format and length range (§5.4.3: a value whose
 * length is outside the range is treated like an unrecognized option).
 */
#include <string.h>

#include "codec/codec_int.h"
#include "rcoap/codec_option.h"

rc_err rc_opts_scan(const uint8_t *buf, size_t len, size_t *opts_len,
                    const uint8_t **payload, size_t *payload_len) {
  if ((buf == NULL && len != 0) || opts_len == NULL || payload == NULL ||
      payload_len == NULL)
    return RC_ERR_INVAL;
  if (len == 0) {
    *opts_len = 0;
    *payload = NULL;
    *payload_len = 0;
    return RC_OK;
  }
  return rc__opts_scan(buf, len, opts_len, payload, payload_len);
}

int rc_msg_find_opt(const rc_msg *m, uint16_t num, rc_opt *out) {
  rc_opt_iter it;
  rc_opt o;
  rc_opt_iter_init(&it, m);
  while (rc_opt_next(&it, &o)) {
    if (o.num == num) {
      *out = o;
      return 1;
    }
    if (o.num > num) /* options are in ascending order */
      break;
  }
  return 0;
}

size_t rc_msg_count_opt(const rc_msg *m, uint16_t num) {
  rc_opt_iter it;
  rc_opt o;
  size_t n = 0;
  rc_opt_iter_init(&it, m);
  while (rc_opt_next(&it, &o)) {
    if (o.num == num)
      n++;
    else if (o.num > num)
      break;
  }
  return n;
}

rc_err rc_opt_uint_decode(const uint8_t *val, size_t len, uint32_t *value) {
  /* RFC 7252 §3.2: "A sender SHOULD represent the integer with as few bytes
   * as possible"; a recipient accepts leading zero bytes. */
  if (len > 4)
    return RC_ERR_OPT_FORMAT;
  uint32_t v = 0;
  for (size_t i = 0; i < len; i++)
    v = v << 8 | val[i];
  *value = v;
  return RC_OK;
}

rc_err rc_opt_uint(const rc_opt *o, uint32_t *value) {
  return rc_opt_uint_decode(o->val, o->len, value);
}

size_t rc_opt_uint_encode(uint32_t value, uint8_t out[4]) {
  size_t n = value > 0xFFFFFF ? 4 : value > 0xFFFF ? 3 : value > 0xFF ? 2
                                                     : value > 0    ? 1
                                                                    : 0;
  for (size_t i = 0; i < n; i++)
    out[i] = (uint8_t)(value >> (8 * (n - 1 - i)));
  return n;
}

rc_err rc_opt_check(uint8_t code, const rc_opt *o) {
  return rc_opt_check_def(rc_opt_lookup(code, o->num), o);
}

rc_err rc_opt_check_def(const rc_opt_def *d, const rc_opt *o) {
  if (d == NULL)
    return RC_OK;
  if (o->len < d->min_len || o->len > d->max_len)
    return RC_ERR_OPT_FORMAT;
  if (d->format == RC_OPTF_UINT && o->len > 4)
    return RC_ERR_OPT_FORMAT;
  return RC_OK;
}

void rc_opts_sort(rc_opt *opts, size_t n) {
  /* Insertion sort: stable, in place, and fastest for the handful of
   * options a message carries (already sorted input costs n - 1 compares). */
  for (size_t i = 1; i < n; i++) {
    if (opts[i - 1].num <= opts[i].num)
      continue;
    rc_opt t = opts[i];
    size_t j = i;
    while (j > 0 && opts[j - 1].num > t.num) {
      opts[j] = opts[j - 1];
      j--;
    }
    opts[j] = t;
  }
}
