/*
 * The CoAP message model, its parser and its encoder, for every framing.
 *
 * A message is a code, a token, options and a payload. It travels in one of
 * three framings that differ only in their first bytes:
 *   RC_FRAMING_UDP  RFC 7252 §3: Ver|T|TKL, Code, Message ID
 *   RC_FRAMING_TCP  RFC 8323 §3.2: Len|TKL, Extended Length, Code (TCP, TLS)
 *   RC_FRAMING_WS   RFC 8323 §4.2: Len=0|TKL, Code (WebSockets; also WebRTC
 *                   data channels, draft-groves-coap-webrtcdc §3.6)
 * RFC 8974 extended token lengths (TKL 13 and 14, the extension bytes after
 * the Code / Message ID) are understood in all three.
 *
 * Nothing here allocates. rc_msg_parse() fills an rc_msg view whose pointers
 * point into the caller's buffer: the view is valid as long as that buffer
 * is. The encoder (rc_enc) writes into a caller's buffer; the body (token,
 * options, payload) is written once after RC_ENC_HEADROOM bytes of head
 * room, and rc_enc_finish() puts the framing's header in front of it, so
 * the same body can be framed for any transport.
 */
#ifndef RCOAP_CODEC_MSG_H
#define RCOAP_CODEC_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rcoap/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rc_framing {
  RC_FRAMING_UDP = 0,
  RC_FRAMING_TCP = 1,
  RC_FRAMING_WS = 2
} rc_framing;

/* RFC 7252 §3 message types (UDP framing only). */
typedef enum rc_msg_type {
  RC_TYPE_CON = 0,
  RC_TYPE_NON = 1,
  RC_TYPE_ACK = 2,
  RC_TYPE_RST = 3
} rc_msg_type;

#define RC_CODE(cls, detail) ((uint8_t)(((cls) << 5) | (detail)))
#define RC_CODE_CLASS(code) ((uint8_t)(code) >> 5)
#define RC_CODE_DETAIL(code) ((uint8_t)(code)&0x1f)

enum rc_code {
  RC_CODE_EMPTY = RC_CODE(0, 0),
  /* methods: RFC 7252 §12.1.1, RFC 8132 */
  RC_GET = RC_CODE(0, 1),
  RC_POST = RC_CODE(0, 2),
  RC_PUT = RC_CODE(0, 3),
  RC_DELETE = RC_CODE(0, 4),
  RC_FETCH = RC_CODE(0, 5),
  RC_PATCH = RC_CODE(0, 6),
  RC_IPATCH = RC_CODE(0, 7),
  /* responses: RFC 7252 §12.1.2, RFC 7959, RFC 8132, RFC 8516 */
  RC_CREATED = RC_CODE(2, 1),
  RC_DELETED = RC_CODE(2, 2),
  RC_VALID = RC_CODE(2, 3),
  RC_CHANGED = RC_CODE(2, 4),
  RC_CONTENT = RC_CODE(2, 5),
  RC_CONTINUE = RC_CODE(2, 31),
  RC_BAD_REQUEST = RC_CODE(4, 0),
  RC_UNAUTHORIZED = RC_CODE(4, 1),
  RC_BAD_OPTION = RC_CODE(4, 2),
  RC_FORBIDDEN = RC_CODE(4, 3),
  RC_NOT_FOUND = RC_CODE(4, 4),
  RC_METHOD_NOT_ALLOWED = RC_CODE(4, 5),
  RC_NOT_ACCEPTABLE = RC_CODE(4, 6),
  RC_REQUEST_ENTITY_INCOMPLETE = RC_CODE(4, 8),
  RC_CONFLICT = RC_CODE(4, 9),
  RC_PRECONDITION_FAILED = RC_CODE(4, 12),
  RC_REQUEST_ENTITY_TOO_LARGE = RC_CODE(4, 13),
  RC_UNSUPPORTED_CONTENT_FORMAT = RC_CODE(4, 15),
  RC_UNPROCESSABLE_ENTITY = RC_CODE(4, 22),
  RC_TOO_MANY_REQUESTS = RC_CODE(4, 29),
  RC_INTERNAL_SERVER_ERROR = RC_CODE(5, 0),
  RC_NOT_IMPLEMENTED = RC_CODE(5, 1),
  RC_BAD_GATEWAY = RC_CODE(5, 2),
  RC_SERVICE_UNAVAILABLE = RC_CODE(5, 3),
  RC_GATEWAY_TIMEOUT = RC_CODE(5, 4),
  RC_PROXYING_NOT_SUPPORTED = RC_CODE(5, 5),
  RC_HOP_LIMIT_REACHED = RC_CODE(5, 8),
  /* signaling: RFC 8323 §5.1 */
  RC_SIG_CSM = RC_CODE(7, 1),
  RC_SIG_PING = RC_CODE(7, 2),
  RC_SIG_PONG = RC_CODE(7, 3),
  RC_SIG_RELEASE = RC_CODE(7, 4),
  RC_SIG_ABORT = RC_CODE(7, 5)
};

static inline int rc_code_is_request(uint8_t code) {
  return RC_CODE_CLASS(code) == 0 && code != RC_CODE_EMPTY;
}
static inline int rc_code_is_response(uint8_t code) {
  return RC_CODE_CLASS(code) >= 2 && RC_CODE_CLASS(code) <= 5;
}
static inline int rc_code_is_signaling(uint8_t code) {
  return RC_CODE_CLASS(code) == 7;
}

/* "2.05" into buf (at least 5 bytes, NUL-terminated); returns buf. */
char *rc_code_str(uint8_t code, char buf[5]);
/* "Content", "GET", "CSM", ...; "Unknown" for unassigned codes. */
const char *rc_code_name(uint8_t code);
/* The method code for a name, case-insensitive ("get", "POST", "iPATCH"),
 * the inverse of rc_code_name for requests; -1 if it names no method. */
int rc_method_from_name(const char *name);

/* Token lengths: RFC 7252 §3 allows 0-8; RFC 8974 §2.1 extends TKL 13 with
 * one byte (13 + n) and TKL 14 with two bytes (269 + n). */
#define RC_TOKEN_MAX 8
#define RC_TOKEN_MAX_EXTENDED 65804u

/* Head room rc_enc reserves before the body: the longest header of any
 * framing (TCP: 1 + 4 extended length + 1 code + 2 extended TKL). */
#define RC_ENC_HEADROOM 8

/*
 * A parsed message: a view into the caller's buffer. Options are kept as
 * their encoded region (opts, opts_len), already validated by the parser,
 * and read with rc_opt_iter (codec_option.h).
 */
typedef struct rc_msg {
  uint8_t type;    /* UDP framing only; RC_TYPE_CON (0) elsewhere */
  uint8_t code;
  uint16_t mid;    /* UDP framing only; 0 elsewhere */
  uint32_t token_len;
  const uint8_t *token;
  const uint8_t *opts; /* encoded options, NULL when opts_len == 0 */
  size_t opts_len;
  const uint8_t *payload; /* NULL when payload_len == 0 */
  size_t payload_len;
  /* What rc_msg_parse saw of the options on its one walk over them, for
   * a reader that would walk them again only to learn this. opts_summary
   * 0 (a message put together by hand, memset to 0): not known, walk the
   * options. */
  uint8_t opts_summary; /* 1: the three below are set */
  uint8_t opts_over63;  /* an option numbered 64 or more */
  uint32_t opts_maxlen; /* the longest option value */
  uint64_t opts_below64; /* bit n: option n (< 64) occurs */
} rc_msg;

/*
 * Parses exactly one whole message of the given framing from buf[0..len):
 * a UDP datagram, a WebSocket message, or one complete TCP frame.
 * For RC_FRAMING_TCP the Len field must describe exactly len bytes.
 * Token lengths 0-12 and the RFC 8974 extended forms (up to 65804) are all
 * accepted: whether the peer may send more than RC_TOKEN_MAX bytes
 * (Extended-Token-Length in its CSM) is for the session to check. Codes are
 * not checked beyond the UDP Empty rule (a signaling code over UDP, or a
 * reserved class, parses fine). Option values are not checked against the
 * registry here: see rc_opt_check().
 *
 * Returns 0 and fills *out (pointers into buf) or one of:
 *   RC_ERR_INVAL            bad arguments
 *   RC_ERR_TRUNCATED        header or token cut short
 *   RC_ERR_BAD_VERSION      UDP Ver != 1
 *   RC_ERR_TKL_RESERVED     TKL 15
 *   RC_ERR_BAD_LEN_NIBBLE   WS framing with Len != 0
 *   RC_ERR_BAD_CODE         UDP Empty (0.00) with a token or any byte after
 *                           the Message ID (RFC 7252 §4.1)
 *   RC_ERR_TRAILING_BYTES   TCP frame shorter than len
 *   RC_ERR_OPT_*            option region malformed (see rc_opts_scan)
 *   RC_ERR_EMPTY_PAYLOAD    payload marker with nothing after it
 */
rc_err rc_msg_parse(rc_framing framing, const uint8_t *buf, size_t len,
                    rc_msg *out);

/*
 * Encoder. Fill the body in this order: rc_enc_init (code and token), options
 * in ascending number order (equal numbers repeat an option), then at most
 * one payload; then rc_enc_finish for the framing. When the buffer is too
 * short the encoder keeps counting what it would need and rc_enc_finish
 * returns RC_ERR_NOBUF; rc_enc_needed() then tells the capacity required.
 * The first error sticks: later calls return it and write nothing.
 * RC_ERR_NOBUF is not sticky: an append that does not fit returns it, the
 * encoder keeps counting, and the caller may go on to learn the full size.
 * rc_enc_init(e, NULL, 0, ...) is a pure size query.
 */
typedef struct rc_enc {
  uint8_t *buf;     /* caller's buffer; not owned */
  size_t cap;
  size_t pos;       /* next body byte (starts at RC_ENC_HEADROOM) */
  size_t token_len;
  uint32_t last_opt;
  uint8_t code;
  uint8_t has_payload;
  rc_err err;       /* first error, sticky */
} rc_enc;

/* Starts a message in buf[0..cap). token may be NULL when token_len is 0.
 * A token over RC_TOKEN_MAX_EXTENDED sets RC_ERR_TOKEN_TOO_LONG. */
static inline void rc_enc_init(rc_enc *e, uint8_t *buf, size_t cap,
                               uint8_t code, const uint8_t *token,
                               size_t token_len);

/* Appends an option. num must be >= the previous option's number
 * (RC_ERR_OPT_ORDER otherwise); len at most 65804 (RC_ERR_INVAL); no option
 * after the payload (RC_ERR_STATE). Returns 0, RC_ERR_NOBUF (not sticky) or
 * the sticky error. */
static inline rc_err rc_enc_opt(rc_enc *e, uint16_t num, const void *val,
                                size_t len);
/* Appends a uint option in its shortest form (RFC 7252 §3.2). */
static inline rc_err rc_enc_opt_uint(rc_enc *e, uint16_t num, uint32_t value);
/* Appends a string option (strlen(s) bytes). */
rc_err rc_enc_opt_str(rc_enc *e, uint16_t num, const char *s);
/* Copies an already-encoded, already-validated option region (such as
 * rc_msg.opts) whose first delta is relative to option number 0. Must come
 * before any other option (RC_ERR_STATE); a region that does not scan as
 * options only (no payload marker) is RC_ERR_INVAL. Later options continue
 * from the region's last option number. */
rc_err rc_enc_opts_raw(rc_enc *e, const uint8_t *opts, size_t len);

/* Appends the payload marker and the payload. len 0 writes nothing. A
 * second payload is RC_ERR_STATE. */
static inline rc_err rc_enc_payload(rc_enc *e, const void *data, size_t len);
/* Reserves len payload bytes and returns where to write them (NULL if they
 * do not fit; rc_enc_finish then returns RC_ERR_NOBUF). */
uint8_t *rc_enc_payload_ptr(rc_enc *e, size_t len);

/* Bytes of buffer needed for the message so far, head room included. */
size_t rc_enc_needed(const rc_enc *e);

/*
 * Writes the framing's header in front of the body. type and mid are used
 * only by RC_FRAMING_UDP. On success *out points into the caller's buffer
 * (somewhere in its first RC_ENC_HEADROOM bytes) and *out_len is the length
 * of the whole framed message.
 * May be called again with another framing: the same body is re-framed in
 * place (the previous *out then no longer holds a valid header).
 * Returns 0, RC_ERR_NOBUF (see rc_enc_needed), the sticky error, or (not
 * sticky) RC_ERR_BAD_CODE for a UDP Empty message with a body,
 * RC_ERR_INVAL for a UDP type > 3 or an unknown framing, RC_ERR_TOO_LARGE
 * for a TCP body over the 32-bit extended length.
 */
static inline rc_err rc_enc_finish(rc_enc *e, rc_framing framing,
                                   uint8_t type, uint16_t mid,
                                   const uint8_t **out, size_t *out_len);

/*
 * RFC 8323 framing (RC_FRAMING_TCP) of a message whose last tail payload
 * bytes are not in the buffer: appends the payload marker (no payload may
 * have been added; tail > 0) and writes a header whose length counts the
 * tail too. *out / *out_len are the bytes in the buffer; the caller sends
 * the tail's bytes right after them (sendfile from a file). Returns
 * rc_enc_finish's errors, or RC_ERR_STATE after a payload.
 */
rc_err rc_enc_finish_tail(rc_enc *e, size_t tail, const uint8_t **out,
                          size_t *out_len);

/*
 * The inverse of rc_enc_finish_tail, for showing such a message: parses the
 * head buf[0..len) of an RFC 8323 frame (header, token, options, and the
 * payload marker when tail > 0) whose last tail payload bytes are not in
 * memory. *out is the message with payload NULL and payload_len tail: a
 * reader of a view with payload NULL and payload_len > 0 must not touch
 * the payload. Returns rc_msg_parse's errors, or RC_ERR_INVAL when the
 * header's length does not count exactly len + tail bytes or the head
 * does not end in the payload marker.
 */
rc_err rc_msg_parse_head(const uint8_t *buf, size_t len, size_t tail,
                         rc_msg *out);

/*
 * One-shot: encodes a message view (for instance one parsed from another
 * framing: this is how a message is re-framed) contiguously at buf[0].
 * *out_len is set to the encoded length, or on RC_ERR_NOBUF to the length
 * needed.
 */
rc_err rc_msg_encode(const rc_msg *m, rc_framing framing, uint8_t *buf,
                     size_t cap, size_t *out_len);

/* Length of the message m would encode to in the given framing; 0 if it
 * cannot be encoded in it (rc_msg_encode would return an error other than
 * RC_ERR_NOBUF, e.g. a UDP Empty message with a token). */
size_t rc_msg_encoded_len(const rc_msg *m, rc_framing framing);


/* ---- the encoder's fast paths, inline -------------------------------------
 *
 * The encoder runs once per message and once per option on every response,
 * so its common cases are inline here (no call, no stack frame): a token of
 * 0-8 bytes, an option whose delta is below 269 and whose value is 0-12
 * bytes, a uint option, a payload, a TCP header for a body under 64 KiB.
 * Each tests the case in one or two compares and otherwise calls the
 * out-of-line rc__enc_* function, which is the whole encoder (every check,
 * every error, the counting mode): the result of a call never depends on
 * which path took it. Nothing below is API; the rc__ names are internal to
 * the codec.
 */

/* last_opt past any option number: no option may follow (a payload or a
 * sticky error), so the fast paths' order test also tests for those. */
#define RC__ENC_CLOSED 0x10000u
/* Room the option fast paths need at pos: a 2-byte header and 12 value
 * bytes, or a 4-byte store of a uint value (its bytes past the value are
 * scratch that the next append overwrites). */
#define RC__ENC_FAST_ROOM 16u

void rc__enc_init(rc_enc *e, uint8_t *buf, size_t cap, uint8_t code,
                  const uint8_t *token, size_t token_len);
rc_err rc__enc_opt(rc_enc *e, uint16_t num, const void *val, size_t len);
rc_err rc__enc_opt_uint(rc_enc *e, uint16_t num, uint32_t value);
rc_err rc__enc_payload(rc_enc *e, const void *data, size_t len);
rc_err rc__enc_finish(rc_enc *e, rc_framing framing, uint8_t type,
                      uint16_t mid, const uint8_t **out, size_t *out_len);

/* GCC's -Warray-bounds looks into the branches of the copies below that a
 * caller's length rules out (a 4-byte move from a 3-byte array when the
 * length is 3 or less); the moves run only inside [0, n). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overread"
#endif

/* Copies 0..12 bytes by overlapping fixed-size moves (no call). */
static inline void rc__enc_copy12(uint8_t *dst, const uint8_t *src,
                                  size_t n) {
  if (n >= 4) {
    if (n > 8) {
      memcpy(dst, src, 8);
      memcpy(dst + n - 4, src + n - 4, 4);
    } else {
      memcpy(dst, src, 4);
      memcpy(dst + n - 4, src + n - 4, 4);
    }
  } else if (n) {
    dst[0] = src[0];
    dst[n / 2] = src[n / 2];
    dst[n - 1] = src[n - 1];
  }
}

/* Room for the option fast paths; pos + RC__ENC_FAST_ROOM cannot wrap while
 * an option may still follow (pos grows only by what was appended). */
static inline int rc__enc_opt_room(const rc_enc *e) {
  return e->pos + RC__ENC_FAST_ROOM <= e->cap;
}

/* RFC 7252 §3.1 option header for a delta below 269 and a length below 13:
 * the delta in the nibble (0..12), or 13 there and one byte (delta - 13).
 * Returns the header's length. */
static inline size_t rc__enc_opt_hdr(uint8_t *p, uint32_t delta,
                                     uint32_t len) {
  if (delta < 13) {
    p[0] = (uint8_t)(delta << 4 | len);
    return 1;
  }
  p[0] = (uint8_t)(13u << 4 | len);
  p[1] = (uint8_t)(delta - 13);
  return 2;
}

static inline void rc_enc_init(rc_enc *e, uint8_t *buf, size_t cap,
                               uint8_t code, const uint8_t *token,
                               size_t token_len) {
  if (token_len <= RC_TOKEN_MAX && buf != NULL &&
      cap >= RC_ENC_HEADROOM + RC_TOKEN_MAX &&
      (token != NULL || token_len == 0)) {
    e->buf = buf;
    e->cap = cap;
    e->pos = RC_ENC_HEADROOM + token_len;
    e->token_len = token_len;
    e->last_opt = 0;
    e->code = code;
    e->has_payload = 0;
    e->err = RC_OK;
    rc__enc_copy12(buf + RC_ENC_HEADROOM, token, token_len);
    return;
  }
  rc__enc_init(e, buf, cap, code, token, token_len);
}

static inline rc_err rc_enc_opt(rc_enc *e, uint16_t num, const void *val,
                                size_t len) {
  /* one unsigned compare: num below last_opt (or a closed encoder) wraps */
  uint32_t delta = (uint32_t)num - e->last_opt;
  if (delta < 269 && len < 13 && (val != NULL || len == 0) &&
      rc__enc_opt_room(e)) {
    uint8_t *p = e->buf + e->pos;
    size_t hn = rc__enc_opt_hdr(p, delta, (uint32_t)len);
    rc__enc_copy12(p + hn, (const uint8_t *)val, len);
    e->last_opt = num;
    e->pos += hn + len;
    return RC_OK;
  }
  return rc__enc_opt(e, num, val, len);
}

static inline rc_err rc_enc_opt_uint(rc_enc *e, uint16_t num,
                                     uint32_t value) {
  uint32_t delta = (uint32_t)num - e->last_opt;
  if (delta < 269 && rc__enc_opt_room(e)) {
    /* RFC 7252 §3.2: the shortest form, no leading zero bytes; 0 is empty.
     * The value goes as one 4-byte big-endian store shifted so that its n
     * bytes come first (the rest is scratch). */
    uint32_t n = value ? (uint32_t)(39 - __builtin_clz(value)) >> 3 : 0;
    uint32_t v = (uint32_t)((uint64_t)value << (32 - 8 * n));
    uint8_t *p = e->buf + e->pos;
    uint8_t *q = p + rc__enc_opt_hdr(p, delta, n);
    q[0] = (uint8_t)(v >> 24);
    q[1] = (uint8_t)(v >> 16);
    q[2] = (uint8_t)(v >> 8);
    q[3] = (uint8_t)v;
    e->last_opt = num;
    e->pos += (size_t)(q - p) + n;
    return RC_OK;
  }
  return rc__enc_opt_uint(e, num, value);
}

static inline rc_err rc_enc_payload(rc_enc *e, const void *data,
                                    size_t len) {
  /* last_opt below RC__ENC_CLOSED: no sticky error and no payload yet */
  if (e->last_opt < RC__ENC_CLOSED && len != 0 && data != NULL &&
      e->cap > e->pos && e->cap - e->pos > len) {
    uint8_t *p = e->buf + e->pos;
    e->has_payload = 1;
    e->last_opt = RC__ENC_CLOSED;
    *p = 0xFF; /* RFC 7252 §3.1 payload marker */
    memcpy(p + 1, data, len);
    e->pos += 1 + len;
    return RC_OK;
  }
  return rc__enc_payload(e, data, len);
}

static inline rc_err rc_enc_finish(rc_enc *e, rc_framing framing,
                                   uint8_t type, uint16_t mid,
                                   const uint8_t **out, size_t *out_len) {
  /* RFC 8323 §3.2 with a token of 0-12 bytes (TKL in the nibble) and a body
   * under 65805 bytes (Len in the nibble, or 13 / 14 and 1 / 2 bytes):
   * written backwards into the head room, ending where the token starts. */
  if (framing == RC_FRAMING_TCP && e->err == RC_OK && e->pos <= e->cap &&
      e->token_len < 13) {
    size_t tl = e->token_len;
    size_t body = e->pos - RC_ENC_HEADROOM - tl;
    uint8_t *p = e->buf + RC_ENC_HEADROOM;
    if (body < 13) {
      p -= 2;
      p[0] = (uint8_t)(body << 4 | tl);
      p[1] = e->code;
    } else if (body < 269) {
      p -= 3;
      p[0] = (uint8_t)(13u << 4 | tl);
      p[1] = (uint8_t)(body - 13);
      p[2] = e->code;
    } else if (body < 65805) {
      p -= 4;
      p[0] = (uint8_t)(14u << 4 | tl);
      p[1] = (uint8_t)((body - 269) >> 8);
      p[2] = (uint8_t)(body - 269);
      p[3] = e->code;
    } else {
      return rc__enc_finish(e, framing, type, mid, out, out_len);
    }
    *out = p;
    *out_len = (size_t)(e->buf + e->pos - p);
    return RC_OK;
  }
  return rc__enc_finish(e, framing, type, mid, out, out_len);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#ifdef __cplusplus
}
#endif
#endif
