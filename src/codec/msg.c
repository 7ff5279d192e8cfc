/*
 * The CoAP message parser and encoder for the three framings (UDP, the
 * RFC 8323 TCP length shim, and the WebSocket Len=0 form). Parsing is one
 * pass over the caller's buffer that fills a view; encoding writes the body
 * (token, options, payload) once after RC_ENC_HEADROOM bytes of head room
 * and puts the framing's header in front of it at the end, so one body can
 * be framed for any transport. Nothing here allocates.
 */
#include <string.h>

#include "codec/codec_int.h"
#include "rcoap/codec_msg.h"
#include "rcoap/codec_option.h"

/* RFC 7252 §3: "Version (Ver): ... Implementations of this specification
 * MUST set this field to 1 (01 binary)." */
#define MSG_UDP_VERSION 1u
/* RFC 7252 §3: the fixed UDP header is 4 bytes. */
#define MSG_UDP_HDR 4u
/* RFC 8323 §4.2: the WebSocket header is Len|TKL and Code. */
#define MSG_WS_HDR 2u
/* RFC 8323 §3.2: the largest body a 32-bit extended length can describe. */
#define MSG_TCP_BODY_MAX (0xFFFFFFFFull + RC__TCP_LEN_BASE4)

/* ---- parsing -------------------------------------------------------------- */

rc_err rc_msg_parse(rc_framing framing, const uint8_t *buf, size_t len,
                    rc_msg *out) {
  if (out == NULL || (buf == NULL && len != 0))
    return RC_ERR_INVAL;
  if (len == 0)
    return RC_ERR_TRUNCATED;

  const uint8_t *end = buf + len;
  const uint8_t *p;
  uint32_t tkl;
  uint8_t type = 0, code;
  uint16_t mid = 0;

  switch (framing) {
  case RC_FRAMING_UDP: {
    if (len < MSG_UDP_HDR)
      return RC_ERR_TRUNCATED;
    uint32_t b0 = buf[0];
    if ((b0 >> 6) != MSG_UDP_VERSION)
      return RC_ERR_BAD_VERSION;
    tkl = b0 & 0x0f;
    if (tkl == 15)
      return RC_ERR_TKL_RESERVED;
    code = buf[1];
    /* RFC 7252 §4.1: "An Empty message has the Code field set to 0.00. The
     * Token Length field MUST be set to 0 and bytes of data MUST NOT be
     * present after the Message ID field. If there are any bytes, they
     * MUST be processed as a message format error." */
    if (code == RC_CODE_EMPTY && (tkl != 0 || len != MSG_UDP_HDR))
      return RC_ERR_BAD_CODE;
    type = (uint8_t)((b0 >> 4) & 3);
    mid = (uint16_t)(buf[2] << 8 | buf[3]);
    p = buf + MSG_UDP_HDR;
    break;
  }
  case RC_FRAMING_TCP: {
    rc_tcp_hdr h;
    rc_ssize n = rc__tcp_hdr_parse(buf, len, &h);
    if (n < 0)
      return n == RC_ERR_NEED_MORE ? RC_ERR_TRUNCATED : (rc_err)n;
    uint64_t total = (uint64_t)n + h.token_len + h.body_len;
    if (total > len)
      return RC_ERR_TRUNCATED;
    if (total < len)
      return RC_ERR_TRAILING_BYTES;
    return rc__msg_parse_tcp(buf, &h, (size_t)total, out);
  }
  case RC_FRAMING_WS: {
    if (len < MSG_WS_HDR)
      return RC_ERR_TRUNCATED;
    /* RFC 8323 §4.2: "The length of the message is provided by the
     * WebSocket frame; the Length (Len) field MUST be set to zero" */
    if (buf[0] >> 4)
      return RC_ERR_BAD_LEN_NIBBLE;
    tkl = buf[0] & 0x0f;
    if (tkl == 15)
      return RC_ERR_TKL_RESERVED;
    code = buf[1];
    p = buf + MSG_WS_HDR;
    break;
  }
  default:
    return RC_ERR_INVAL;
  }

  /* RFC 8974 §2.1: the extended token length directly precedes the Token;
   * TKL 15 "MUST be processed as a message-format error" (checked above). */
  if (tkl >= 13) {
    if (tkl == 13) {
      if (p >= end)
        return RC_ERR_TRUNCATED;
      tkl = RC__TKL_BASE1 + *p++;
    } else {
      if (end - p < 2)
        return RC_ERR_TRUNCATED;
      tkl = RC__TKL_BASE2 + ((uint32_t)p[0] << 8 | p[1]);
      p += 2;
    }
  }
  if ((size_t)(end - p) < tkl)
    return RC_ERR_TRUNCATED;
  out->type = type;
  out->code = code;
  out->mid = mid;
  out->token_len = tkl;
  out->token = tkl ? p : NULL;
  p += tkl;

  size_t olen;
  rc_err rc = rc__opts_scan_sum(p, (size_t)(end - p), &olen, &out->payload,
                                &out->payload_len, out);
  if (rc)
    return rc;
  out->opts = olen ? p : NULL;
  out->opts_len = olen;
  return RC_OK;
}

rc_err rc__msg_parse_tcp(const uint8_t *buf, const rc_tcp_hdr *h,
                         size_t total, rc_msg *out) {
  const uint8_t *p = buf + h->hdr_len;
  out->type = 0;
  out->code = h->code;
  out->mid = 0;
  out->token_len = h->token_len;
  out->token = h->token_len ? p : NULL;
  p += h->token_len;
  size_t olen;
  rc_err rc = rc__opts_scan_sum(p, (size_t)(buf + total - p), &olen,
                                &out->payload, &out->payload_len, out);
  if (rc)
    return rc;
  out->opts = olen ? p : NULL;
  out->opts_len = olen;
  return RC_OK;
}

/* ---- headers -------------------------------------------------------------- */

/* Writes the framing header for a body of body_len bytes after a token of
 * tl bytes so that it ends right before end (backwards: it goes in front of
 * a body already written); returns its first byte, or NULL and *err. At
 * most RC_ENC_HEADROOM bytes before end are written. */
static uint8_t *msg_hdr(uint8_t *end, rc_framing framing, uint8_t type,
                        uint8_t code, uint16_t mid, size_t tl,
                        uint64_t body_len, rc_err *err) {
  uint8_t *p = end;
  uint8_t tkn;
  /* RFC 8974 §2.1: the extended token length follows the Code. */
  if (tl < RC__TKL_BASE1) {
    tkn = (uint8_t)tl;
  } else if (tl < RC__TKL_BASE2) {
    tkn = 13;
    *--p = (uint8_t)(tl - RC__TKL_BASE1);
  } else if (tl <= RC_TOKEN_MAX_EXTENDED) {
    tkn = 14;
    p -= 2;
    rc__put_be16(p, (uint32_t)(tl - RC__TKL_BASE2));
  } else {
    *err = RC_ERR_TOKEN_TOO_LONG;
    return NULL;
  }

  switch (framing) {
  case RC_FRAMING_TCP:
    *--p = code;
    /* RFC 8323 §3.2; the shortest Len form is always used. */
    if (body_len < RC__TCP_LEN_BASE1) {
      *--p = (uint8_t)(body_len << 4 | tkn);
    } else if (body_len < RC__TCP_LEN_BASE2) {
      *--p = (uint8_t)(body_len - RC__TCP_LEN_BASE1);
      *--p = (uint8_t)(13 << 4 | tkn);
    } else if (body_len < RC__TCP_LEN_BASE4) {
      p -= 2;
      rc__put_be16(p, (uint32_t)(body_len - RC__TCP_LEN_BASE2));
      *--p = (uint8_t)(14 << 4 | tkn);
    } else if (body_len <= MSG_TCP_BODY_MAX) {
      p -= 4;
      rc__put_be32(p, (uint32_t)(body_len - RC__TCP_LEN_BASE4));
      *--p = (uint8_t)(15 << 4 | tkn);
    } else {
      *err = RC_ERR_TOO_LARGE;
      return NULL;
    }
    return p;
  case RC_FRAMING_WS:
    *--p = code;
    *--p = tkn; /* RFC 8323 §4.2: Len MUST be zero */
    return p;
  case RC_FRAMING_UDP:
    if (type > RC_TYPE_RST) {
      *err = RC_ERR_INVAL;
      return NULL;
    }
    /* RFC 7252 §4.1: an Empty message carries no token and no bytes after
     * the Message ID. */
    if (code == RC_CODE_EMPTY && (tl != 0 || body_len != 0)) {
      *err = RC_ERR_BAD_CODE;
      return NULL;
    }
    p -= 4;
    p[0] = (uint8_t)(MSG_UDP_VERSION << 6 | (uint32_t)type << 4 | tkn);
    p[1] = code;
    rc__put_be16(p + 2, mid);
    return p;
  default:
    *err = RC_ERR_INVAL;
    return NULL;
  }
}

/* ---- the encoder ---------------------------------------------------------- */

/*
 * Every append checks the room once, up front, for everything it writes
 * (including the scratch bytes of rc__opt_hdr and the 4-byte store of a
 * uint value: ENC_SLACK), then writes with fixed-size moves. Near the end
 * of the buffer (or in a size query) the slow path writes what fits and
 * counts the rest.
 */
#define ENC_SLACK 8u

/* Appends n bytes if they fit; counts them either way. */
static void enc_put(rc_enc *e, const void *src, size_t n) {
  if (n != 0 && e->pos + n <= e->cap && e->pos + n >= e->pos)
    memcpy(e->buf + e->pos, src, n);
  e->pos += n;
}

/* RC__ENC_CLOSED (codec_msg.h): no option may follow. */
#define ENC_CLOSED RC__ENC_CLOSED

static rc_err enc_fail(rc_enc *e, rc_err err) {
  e->err = err;
  e->last_opt = ENC_CLOSED;
  return err;
}

static inline rc_err enc_status(const rc_enc *e) {
  return e->pos > e->cap ? RC_ERR_NOBUF : RC_OK;
}

/* Room for n more bytes plus the slack at pos. */
static inline int enc_room(const rc_enc *e, size_t n) {
  return e->cap >= e->pos && e->cap - e->pos >= n + ENC_SLACK;
}

void rc__enc_init(rc_enc *e, uint8_t *buf, size_t cap, uint8_t code,
                  const uint8_t *token, size_t token_len) {
  e->buf = buf;
  e->cap = buf ? cap : 0;
  e->pos = RC_ENC_HEADROOM;
  e->token_len = 0;
  e->last_opt = 0;
  e->code = code;
  e->has_payload = 0;
  e->err = RC_OK;
  if (token_len > RC_TOKEN_MAX_EXTENDED) {
    enc_fail(e, RC_ERR_TOKEN_TOO_LONG);
    return;
  }
  if (token_len != 0 && token == NULL) {
    enc_fail(e, RC_ERR_INVAL);
    return;
  }
  e->token_len = token_len;
  if (token_len <= 16 && enc_room(e, 16)) {
    rc__copy_small(buf + RC_ENC_HEADROOM, token, token_len);
    e->pos += token_len;
    return;
  }
  enc_put(e, token, token_len);
}

/* Everything rc_enc_opt's fast path does not take: errors, a value not
 * known to fit, long values. Kept out of line so that the fast paths need
 * no stack frame. */
static rc_err enc_opt_slow(rc_enc *e, uint32_t num, const void *val,
                           size_t len) __attribute__((noinline));
static rc_err enc_opt_slow(rc_enc *e, uint32_t num, const void *val,
                           size_t len) {
  if (e->err)
    return e->err;
  if (e->has_payload)
    return enc_fail(e, RC_ERR_STATE);
  if (num < e->last_opt)
    return enc_fail(e, RC_ERR_OPT_ORDER);
  if (len > RC__EXT2_MAX || (len != 0 && val == NULL))
    return enc_fail(e, RC_ERR_INVAL);
  uint32_t delta = num - e->last_opt;
  e->last_opt = num;
  if (enc_room(e, 5 + len)) {
    uint8_t *p = e->buf + e->pos;
    size_t hn = rc__opt_hdr(p, delta, (uint32_t)len);
    if (len)
      memcpy(p + hn, val, len);
    e->pos += hn + len;
    return RC_OK;
  }
  uint8_t hdr[5];
  size_t hn = rc__opt_hdr(hdr, delta, (uint32_t)len);
  enc_put(e, hdr, hn);
  enc_put(e, val, len);
  return enc_status(e);
}

/* The fast path's test: the number in order (which also says no sticky
 * error and no payload yet: ENC_CLOSED), nothing bad about the value
 * (bad != 0), room for the longest header, a 16-byte value and the slack. */
static inline int enc_fast(const rc_enc *e, uint32_t num, uint32_t bad) {
  return ((uint32_t)(num < e->last_opt) | bad) == 0 && enc_room(e, 5 + 16);
}

rc_err rc__enc_opt(rc_enc *e, uint16_t num, const void *val, size_t len) {
  if (enc_fast(e, num,
               (uint32_t)(len > 16) | (uint32_t)(val == NULL && len != 0))) {
    uint8_t *p = e->buf + e->pos;
    size_t hn = rc__opt_hdr(p, num - e->last_opt, (uint32_t)len);
    rc__copy_small(p + hn, val, len);
    e->last_opt = num;
    e->pos += hn + len;
    return RC_OK;
  }
  return enc_opt_slow(e, num, val, len);
}

rc_err rc__enc_opt_uint(rc_enc *e, uint16_t num, uint32_t value) {
  /* RFC 7252 §3.2: the shortest form, no leading zero bytes; 0 is empty. */
  uint32_t n = value ? (uint32_t)(39 - __builtin_clz(value)) >> 3 : 0;
  if (enc_fast(e, num, 0)) {
    /* Header (delta class 0..2, length 0..4 in the nibble), then the value
     * as one 4-byte big-endian store shifted so its n bytes come first. */
    uint8_t *p = e->buf + e->pos;
    size_t hn = rc__opt_hdr(p, num - e->last_opt, n);
    rc__put_be32(p + hn, (uint32_t)((uint64_t)value << (32 - 8 * n)));
    e->last_opt = num;
    e->pos += hn + n;
    return RC_OK;
  }
  uint8_t v[4];
  rc__put_be32(v, (uint32_t)((uint64_t)value << (32 - 8 * n)));
  return enc_opt_slow(e, num, v, n);
}

rc_err rc_enc_opt_str(rc_enc *e, uint16_t num, const char *s) {
  if (s == NULL) {
    return e->err ? e->err : enc_fail(e, RC_ERR_INVAL);
  }
  return rc_enc_opt(e, num, s, strlen(s));
}

rc_err rc_enc_opts_raw(rc_enc *e, const uint8_t *opts, size_t len) {
  if (e->err)
    return e->err;
  /* Only right after the token: the region's first delta is from 0. */
  if (e->has_payload || e->pos != RC_ENC_HEADROOM + e->token_len)
    return enc_fail(e, RC_ERR_STATE);
  if (len == 0)
    return RC_OK;
  if (opts == NULL)
    return enc_fail(e, RC_ERR_INVAL);
  /* Walk the region once to learn its last option number (and refuse a
   * region that is not a plain, whole option list). */
  size_t olen, plen;
  const uint8_t *pl;
  if (rc__opts_scan(opts, len, &olen, &pl, &plen) != RC_OK || olen != len)
    return enc_fail(e, RC_ERR_INVAL);
  const uint8_t *p = opts, *end = opts + len;
  uint32_t num = 0;
  while (p < end) {
    uint32_t d = *p >> 4, l = *p & 0x0f;
    p++;
    if (d == 13)
      d = RC__EXT1_BASE + *p++;
    else if (d == 14)
      d = RC__EXT2_BASE + ((uint32_t)p[0] << 8 | p[1]), p += 2;
    if (l == 13)
      l = RC__EXT1_BASE + *p++;
    else if (l == 14)
      l = RC__EXT2_BASE + ((uint32_t)p[0] << 8 | p[1]), p += 2;
    num += d;
    p += l;
  }
  e->last_opt = num;
  enc_put(e, opts, len);
  return enc_status(e);
}

rc_err rc__enc_payload(rc_enc *e, const void *data, size_t len) {
  if (e->err)
    return e->err;
  if (e->has_payload)
    return enc_fail(e, RC_ERR_STATE);
  if (len == 0)
    return RC_OK;
  if (data == NULL)
    return enc_fail(e, RC_ERR_INVAL);
  e->has_payload = 1;
  e->last_opt = ENC_CLOSED;
  if (e->cap > e->pos && e->cap - e->pos > len) {
    uint8_t *p = e->buf + e->pos;
    *p = RC__PAYLOAD_MARKER;
    memcpy(p + 1, data, len);
    e->pos += 1 + len;
    return RC_OK;
  }
  uint8_t m = RC__PAYLOAD_MARKER;
  enc_put(e, &m, 1);
  enc_put(e, data, len);
  return enc_status(e);
}

uint8_t *rc_enc_payload_ptr(rc_enc *e, size_t len) {
  if (e->err)
    return NULL;
  if (e->has_payload) {
    enc_fail(e, RC_ERR_STATE);
    return NULL;
  }
  if (len == 0)
    return e->buf != NULL && e->pos <= e->cap ? e->buf + e->pos : NULL;
  e->has_payload = 1;
  e->last_opt = ENC_CLOSED;
  uint8_t m = RC__PAYLOAD_MARKER;
  enc_put(e, &m, 1);
  size_t at = e->pos;
  e->pos += len;
  if (e->pos < at || e->pos > e->cap)
    return NULL;
  return e->buf + at;
}

size_t rc_enc_needed(const rc_enc *e) { return e->pos; }

rc_err rc__enc_finish(rc_enc *e, rc_framing framing, uint8_t type,
                      uint16_t mid, const uint8_t **out, size_t *out_len) {
  if (e->err)
    return e->err;
  if (e->pos > e->cap)
    return RC_ERR_NOBUF;
  rc_err err = RC_OK;
  size_t body = e->pos - RC_ENC_HEADROOM - e->token_len;
  uint8_t *end = e->buf + RC_ENC_HEADROOM;
  /* The header goes straight into the head room, ending where the token
   * starts: nothing of the body moves. */
  uint8_t *start =
      msg_hdr(end, framing, type, e->code, mid, e->token_len, body, &err);
  if (start == NULL)
    return err;
  *out = start;
  *out_len = (size_t)(e->buf + e->pos - start);
  return RC_OK;
}

rc_err rc_enc_finish_tail(rc_enc *e, size_t tail, const uint8_t **out,
                          size_t *out_len) {
  if (tail == 0)
    return RC_ERR_INVAL;
  if (e->err)
    return e->err;
  if (e->has_payload)
    return RC_ERR_STATE;
  uint8_t m = RC__PAYLOAD_MARKER;
  enc_put(e, &m, 1);
  e->has_payload = 1;
  e->last_opt = ENC_CLOSED;
  if (e->pos > e->cap)
    return RC_ERR_NOBUF;
  rc_err err = RC_OK;
  uint64_t body = (uint64_t)(e->pos - RC_ENC_HEADROOM - e->token_len) + tail;
  uint8_t *start = msg_hdr(e->buf + RC_ENC_HEADROOM, RC_FRAMING_TCP, 0,
                           e->code, 0, e->token_len, body, &err);
  if (start == NULL)
    return err;
  *out = start;
  *out_len = (size_t)(e->buf + e->pos - start);
  return RC_OK;
}

rc_err rc_msg_parse_head(const uint8_t *buf, size_t len, size_t tail,
                         rc_msg *out) {
  if (buf == NULL || out == NULL)
    return RC_ERR_INVAL;
  rc_tcp_hdr h;
  rc_ssize n = rc__tcp_hdr_parse(buf, len, &h);
  if (n < 0)
    return n == RC_ERR_NEED_MORE ? RC_ERR_TRUNCATED : (rc_err)n;
  if ((uint64_t)n + h.token_len + h.body_len != (uint64_t)len + tail)
    return RC_ERR_INVAL;
  size_t head = len;
  if (tail) { /* the head ends in the marker; the payload is elsewhere */
    if (len <= (size_t)n + h.token_len || buf[len - 1] != RC__PAYLOAD_MARKER)
      return RC_ERR_INVAL;
    head = len - 1;
  }
  rc_err rc = rc__msg_parse_tcp(buf, &h, head, out);
  if (rc != RC_OK)
    return rc;
  if (out->payload_len) /* a marker inside the head: not a head */
    return RC_ERR_INVAL;
  out->payload = NULL;
  out->payload_len = tail;
  return RC_OK;
}

/* ---- one-shot ------------------------------------------------------------- */

static inline size_t msg_body_len(const rc_msg *m) {
  return m->opts_len + (m->payload_len ? 1 + m->payload_len : 0);
}

rc_err rc_msg_encode(const rc_msg *m, rc_framing framing, uint8_t *buf,
                     size_t cap, size_t *out_len) {
  if (m == NULL || out_len == NULL || (buf == NULL && cap != 0) ||
      (m->token_len && m->token == NULL) ||
      (m->opts_len && m->opts == NULL) ||
      (m->payload_len && m->payload == NULL))
    return RC_ERR_INVAL;
  uint8_t h[RC_ENC_HEADROOM];
  rc_err err = RC_OK;
  size_t body = msg_body_len(m);
  const uint8_t *hs = msg_hdr(h + sizeof h, framing, m->type, m->code, m->mid,
                              m->token_len, body, &err);
  if (hs == NULL)
    return err;
  size_t hn = (size_t)(h + sizeof h - hs);
  size_t total = hn + m->token_len + body;
  *out_len = total;
  if (total > cap)
    return RC_ERR_NOBUF;
  /* Small parts (the usual header, token, options and payload of a
   * notification or a response) by fixed-size moves, not memcpy calls. */
  uint8_t *p = buf;
  for (size_t i = 0; i < hn; i++) /* at most RC_ENC_HEADROOM bytes */
    *p++ = hs[i];
  rc__copy_small(p, m->token, m->token_len);
  p += m->token_len;
  rc__copy_small(p, m->opts, m->opts_len);
  p += m->opts_len;
  if (m->payload_len) {
    *p++ = RC__PAYLOAD_MARKER;
    rc__copy_small(p, m->payload, m->payload_len);
  }
  return RC_OK;
}

size_t rc_msg_encoded_len(const rc_msg *m, rc_framing framing) {
  uint8_t h[RC_ENC_HEADROOM];
  rc_err err = RC_OK;
  size_t body = msg_body_len(m);
  const uint8_t *hs = msg_hdr(h + sizeof h, framing, m->type, m->code, m->mid,
                              m->token_len, body, &err);
  if (hs == NULL)
    return 0; /* not encodable as given: rc_msg_encode says why */
  return (size_t)(h + sizeof h - hs) + m->token_len + body;
}
