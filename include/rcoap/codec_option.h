/*
 * CoAP options: the delta/length encoding (RFC 7252 §3.1), iteration over a
 * parsed message's options, uint values, and the registry of every known
 * option number with its format, length range and properties.
 *
 * Signaling messages (class 7) have their own option number space per code
 * (RFC 8323 §5.2): number 2 is Max-Message-Size in a CSM, Custody in a
 * Ping or Pong, Alternative-Address in a Release and Bad-CSM-Option in an
 * Abort. rc_opt_lookup() therefore takes the message code.
 */
#ifndef RCOAP_CODEC_OPTION_H
#define RCOAP_CODEC_OPTION_H

#include <stddef.h>
#include <stdint.h>

#include "rcoap/codec_msg.h"

#ifdef __cplusplus
extern "C" {
#endif

enum rc_opt_num {
  RC_OPT_IF_MATCH = 1,        /* RFC 7252 */
  RC_OPT_URI_HOST = 3,        /* RFC 7252 */
  RC_OPT_ETAG = 4,            /* RFC 7252 */
  RC_OPT_IF_NONE_MATCH = 5,   /* RFC 7252 */
  RC_OPT_OBSERVE = 6,         /* RFC 7641 */
  RC_OPT_URI_PORT = 7,        /* RFC 7252 */
  RC_OPT_LOCATION_PATH = 8,   /* RFC 7252 */
  RC_OPT_OSCORE = 9,          /* RFC 8613 */
  RC_OPT_URI_PATH = 11,       /* RFC 7252 */
  RC_OPT_CONTENT_FORMAT = 12, /* RFC 7252 */
  RC_OPT_MAX_AGE = 14,        /* RFC 7252 */
  RC_OPT_URI_QUERY = 15,      /* RFC 7252 */
  RC_OPT_HOP_LIMIT = 16,      /* RFC 8768 */
  RC_OPT_ACCEPT = 17,         /* RFC 7252 */
  RC_OPT_Q_BLOCK1 = 19,       /* RFC 9177 */
  RC_OPT_LOCATION_QUERY = 20, /* RFC 7252 */
  RC_OPT_BLOCK2 = 23,         /* RFC 7959 */
  RC_OPT_BLOCK1 = 27,         /* RFC 7959 */
  RC_OPT_SIZE2 = 28,          /* RFC 7959 */
  RC_OPT_Q_BLOCK2 = 31,       /* RFC 9177 */
  RC_OPT_PROXY_URI = 35,      /* RFC 7252 */
  RC_OPT_PROXY_SCHEME = 39,   /* RFC 7252 */
  RC_OPT_SIZE1 = 60,          /* RFC 7252 */
  RC_OPT_ECHO = 252,          /* RFC 9175 */
  RC_OPT_NO_RESPONSE = 258,   /* RFC 7967 */
  RC_OPT_REQUEST_TAG = 292    /* RFC 9175 */
};

/* Signaling option numbers, RFC 8323 §5.2 (and RFC 8974 §2.2.2). */
enum rc_sig_opt_num {
  RC_SIGOPT_MAX_MESSAGE_SIZE = 2,     /* CSM, uint 0-4, base 1152 */
  RC_SIGOPT_BLOCK_WISE_TRANSFER = 4,  /* CSM, empty */
  RC_SIGOPT_EXTENDED_TOKEN_LENGTH = 6,/* CSM, uint 0-3, RFC 8974 */
  RC_SIGOPT_CUSTODY = 2,              /* Ping, Pong, empty */
  RC_SIGOPT_ALTERNATIVE_ADDRESS = 2,  /* Release, string 1-255, repeatable */
  RC_SIGOPT_HOLD_OFF = 4,             /* Release, uint 0-3 (seconds) */
  RC_SIGOPT_BAD_CSM_OPTION = 2        /* Abort, uint 0-2 */
};

/* RFC 8323 §5.3.1: "the base value ... is 1152". */
#define RC_MAX_MESSAGE_SIZE_BASE 1152u

/* An option as read from a message: a view into the message buffer. */
typedef struct rc_opt {
  uint16_t num;
  uint32_t len;
  const uint8_t *val;
} rc_opt;

/*
 * Scans an option region that starts at buf (just after the token) and
 * runs to the end of the message at buf + len. Validates every option
 * header and stops at the payload marker or the end.
 * On success *opts_len is the length of the options and *payload /
 * *payload_len the payload after the marker (NULL / 0 if none).
 * Returns 0 or RC_ERR_OPT_DELTA_RESERVED, RC_ERR_OPT_LEN_RESERVED,
 * RC_ERR_OPT_TRUNCATED, RC_ERR_OPT_NUMBER_OVERFLOW, RC_ERR_EMPTY_PAYLOAD.
 */
rc_err rc_opts_scan(const uint8_t *buf, size_t len, size_t *opts_len,
                    const uint8_t **payload, size_t *payload_len);

/* Iterates the options of a parsed message in order. */
typedef struct rc_opt_iter {
  const uint8_t *p;
  const uint8_t *end;
  uint32_t num;
} rc_opt_iter;

/* Iterates a raw, validated option region (as rc_msg.opts). */
static inline void rc_opt_iter_init_raw(rc_opt_iter *it, const uint8_t *opts,
                                        size_t len) {
  if (opts == NULL || len == 0) {
    it->p = it->end = NULL;
  } else {
    it->p = opts;
    it->end = opts + len;
  }
  it->num = 0;
}

static inline void rc_opt_iter_init(rc_opt_iter *it, const rc_msg *m) {
  rc_opt_iter_init_raw(it, m->opts, m->opts_len);
}

/* Returns 1 and fills *out, or 0 at the end (*out then zeroed). Regions come validated from
 * rc_msg_parse / rc_opts_scan, so iteration cannot fail. Inline: every
 * request's options are walked by the exchange and the app. */
static inline int rc_opt_next(rc_opt_iter *it, rc_opt *out) {
  const uint8_t *p = it->p;
  /* The region was validated; the checks below only keep a misused
   * iterator (an unvalidated region) from reading past its end. 0xFF is
   * the payload marker (RFC 7252 §3.1). */
  if (p >= it->end || *p == 0xFF) {
    /* *out is defined at the end too: callers that test it after a
     * failed assertion read no uninitialized bytes */
    out->num = 0;
    out->len = 0;
    out->val = NULL;
    return 0;
  }
  uint32_t d = *p >> 4, l = *p & 0x0f;
  p++;
  if (d >= 13 || l >= 13) {
    /* RFC 7252 §3.1: nibble 13 adds one byte (value - 13), 14 two bytes
     * (value - 269) */
    if (d == 13) {
      d = 13 + *p++;
    } else if (d == 14) {
      d = 269 + ((uint32_t)p[0] << 8 | p[1]);
      p += 2;
    }
    if (l == 13) {
      l = 13 + *p++;
    } else if (l == 14) {
      l = 269 + ((uint32_t)p[0] << 8 | p[1]);
      p += 2;
    }
  }
  it->num += d;
  out->num = (uint16_t)it->num;
  out->len = l;
  out->val = p;
  it->p = p + l;
  return 1;
}

/* The next option numbered num: 1 and *out filled, or 0 once the walk
 * passes num (options come sorted, so the walk stops there). */
static inline int rc_opt_next_of(rc_opt_iter *it, uint16_t num, rc_opt *out) {
  while (rc_opt_next(it, out)) {
    if (out->num == num)
      return 1;
    if (out->num > num)
      return 0;
  }
  return 0;
}

/* First option with this number: 1 and *out filled, or 0. */
int rc_msg_find_opt(const rc_msg *m, uint16_t num, rc_opt *out);
/* Number of options with this number. */
size_t rc_msg_count_opt(const rc_msg *m, uint16_t num);

/* A request's path rebuilt from its Uri-Path options into buf ("/store/a";
 * "/" when there are none); a segment's '/', '%' and control bytes are
 * percent-encoded so the result reads back unambiguously. NUL-terminated.
 * Returns the length, or RC_ERR_NOBUF when cap is too small. */
rc_ssize rc_msg_path(const rc_msg *m, char *buf, size_t cap);
/* The Uri-Query options joined with '&', as they travel (already
 * percent-decoded on the wire). NUL-terminated. Returns the length, or
 * RC_ERR_NOBUF. */
rc_ssize rc_msg_query(const rc_msg *m, char *buf, size_t cap);
/* The Content-Format option's value, or -1 when absent or malformed. */
int rc_msg_content_format(const rc_msg *m);

/* uint option values (RFC 7252 §3.2): big-endian, shortest form; a
 * zero-length value is 0. Values longer than 4 bytes: RC_ERR_OPT_FORMAT. */
rc_err rc_opt_uint(const rc_opt *o, uint32_t *value);
rc_err rc_opt_uint_decode(const uint8_t *val, size_t len, uint32_t *value);
/* Writes the shortest encoding of value to out; returns its length (0-4). */
size_t rc_opt_uint_encode(uint32_t value, uint8_t out[4]);

/* RFC 7252 §5.4.6: bit 0 critical, bit 1 unsafe-to-forward, NoCacheKey
 * when bits 1-4 are 1110. */
static inline int rc_opt_is_critical(uint16_t num) { return num & 1; }
static inline int rc_opt_is_unsafe(uint16_t num) { return (num & 2) != 0; }
static inline int rc_opt_is_no_cache_key(uint16_t num) {
  return (num & 0x1e) == 0x1c;
}

typedef enum rc_opt_format {
  RC_OPTF_EMPTY = 0,
  RC_OPTF_OPAQUE = 1,
  RC_OPTF_UINT = 2,
  RC_OPTF_STRING = 3
} rc_opt_format;

/* One registry entry. */
typedef struct rc_opt_def {
  uint16_t num;
  const char *name;   /* "Uri-Path", "Max-Message-Size", ... */
  uint8_t format;     /* rc_opt_format */
  uint8_t repeatable;
  uint16_t min_len;
  uint16_t max_len;
} rc_opt_def;

/* The registry entry for option num in a message with this code (signaling
 * codes have their own number spaces), or NULL if unknown. */
const rc_opt_def *rc_opt_lookup(uint8_t code, uint16_t num);

/* Checks o's length against its registered range (RC_ERR_OPT_FORMAT) and,
 * for uint options, that it fits 4 bytes. Unknown options pass (whether an
 * unknown critical option is an error is the caller's call, RFC 7252
 * §5.4.1), and so does a repeated non-repeatable option: one option at a
 * time cannot tell (RFC 7252 §5.4.5 is the caller's to apply). */
rc_err rc_opt_check(uint8_t code, const rc_opt *o);
/* The same check against a definition the caller already looked up
 * (rc_opt_lookup; NULL: unknown, RC_OK). */
rc_err rc_opt_check_def(const rc_opt_def *d, const rc_opt *o);

/* Sorts an option array by number, keeping the order of equal numbers
 * (repeated options keep their meaning). Stable, in place, no allocation
 * (insertion sort: meant for the tens of options a message carries). */
void rc_opts_sort(rc_opt *opts, size_t n);

/* Content-Format registry (IANA CoAP Content-Formats). */
/* Number for a name ("text/plain;charset=utf-8", "json", "cbor", ...,
 * short aliases accepted, case and blanks ignored, and a decimal number
 * 0-65535 taken as is) or -1. */
int rc_content_format_by_name(const char *name);
/* Canonical name for a number, or NULL. */
const char *rc_content_format_name(uint32_t cf);

enum rc_content_format {
  RC_CF_TEXT_PLAIN = 0,
  RC_CF_LINK_FORMAT = 40,
  RC_CF_XML = 41,
  RC_CF_OCTET_STREAM = 42,
  RC_CF_EXI = 47,
  RC_CF_JSON = 50,
  RC_CF_JSON_PATCH = 51,
  RC_CF_MERGE_PATCH = 52,
  RC_CF_CBOR = 60
};

#ifdef __cplusplus
}
#endif
#endif
