/*
 * RFC 8075 mapping tables (codec_hc.h): HTTP request target to CoAP URI,
 * HTTP method to CoAP method, media type <-> Content-Format, CoAP code to
 * HTTP status, ETag bytes <-> entity-tag. Pure functions over the
 * caller's buffers.
 */
#include <string.h>

#include "rcoap/codec_hc.h"
#include "rcoap/codec_msg.h"
#include "rcoap/codec_option.h"

static int hc_hex(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c |= 0x20;
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Non-zero if s[0..len) starts with a coap* scheme and "://". */
static int hc_is_coap_uri(const char *s, size_t len) {
  static const char *const schemes[] = {"coap://",    "coaps://",
                                        "coap+tcp://", "coaps+tcp://",
                                        "coap+ws://",  "coaps+ws://"};
  for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
    size_t n = strlen(schemes[i]);
    if (len >= n && !memcmp(s, schemes[i], n))
      return 1;
  }
  return 0;
}

int rc_hc_target(const char *target, size_t len, const char *prefix,
                 char *out, size_t cap, size_t *out_len) {
  if (!target || !out || !out_len || cap == 0)
    return RC_ERR_INVAL;
  if (!prefix)
    prefix = RC_HC_PREFIX;
  size_t pl = strlen(prefix);
  if (len < pl || memcmp(target, prefix, pl) != 0)
    return RC_HC_NONE;
  const char *s = target + pl;
  size_t n = len - pl;
  /* A request-target is visible ASCII (RFC 9112 §3.2); the HTTP parser
   * sees to that, and so does this for any other caller (no NUL may cut
   * the NUL-terminated result short). */
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
      return RC_ERR_BAD_URI;
  if (hc_is_coap_uri(s, n)) { /* {+tu}: the URI as it is */
    if (n >= cap)
      return RC_ERR_NOBUF;
    memcpy(out, s, n);
    out[n] = 0;
    *out_len = n;
    return RC_HC_URI;
  }
  /* {tu}: the whole URI percent-encoded, "coap%3A%2F%2F...". Decoded once;
   * an escape that makes a control byte is refused (no NUL or CRLF may
   * reach the URI parser through the proxy). */
  if (n >= 7 && !memchr(s, '/', n) && memchr(s, '%', n)) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
      int c = (unsigned char)s[i];
      if (c == '%') {
        if (i + 2 >= n)
          return RC_ERR_BAD_PERCENT;
        int h = hc_hex(s[i + 1]), l = hc_hex(s[i + 2]);
        if (h < 0 || l < 0)
          return RC_ERR_BAD_PERCENT;
        c = h << 4 | l;
        if (c < 0x21 || c == 0x7f)
          return RC_ERR_BAD_PERCENT;
        i += 2;
      }
      if (o + 1 >= cap)
        return RC_ERR_NOBUF;
      out[o++] = (char)c;
    }
    out[o] = 0;
    if (hc_is_coap_uri(out, o)) {
      *out_len = o;
      return RC_HC_URI;
    }
  }
  /* A path for the reverse routes: "/" and the rest, as received. */
  if (n + 2 > cap)
    return RC_ERR_NOBUF;
  out[0] = '/';
  memcpy(out + 1, s, n);
  out[n + 1] = 0;
  *out_len = n + 1;
  return RC_HC_PATH;
}

int rc_hc_method(const char *name, size_t len) {
  static const struct {
    const char *name;
    uint8_t code;
  } methods[] = {{"GET", RC_GET},       {"HEAD", RC_GET},
                 {"POST", RC_POST},     {"PUT", RC_PUT},
                 {"DELETE", RC_DELETE}, {"FETCH", RC_FETCH},
                 {"PATCH", RC_PATCH},   {"iPATCH", RC_IPATCH}};
  if (!name)
    return -1;
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
    if (strlen(methods[i].name) == len && !memcmp(methods[i].name, name, len))
      return methods[i].code;
  return -1;
}

int rc_hc_content_format(const char *ctype, size_t len) {
  char buf[128];
  if (!ctype || len == 0 || len >= sizeof buf || !memchr(ctype, '/', len))
    return -1; /* a media type has a '/': no alias or number here */
  memcpy(buf, ctype, len);
  buf[len] = 0;
  /* RFC 9110 §8.3.1: "charset=UTF-8" and "charset=utf-8" are the same;
   * the registry's matcher ignores case and blanks. */
  return rc_content_format_by_name(buf);
}

const char *rc_hc_media_type(int cf) {
  if (cf < 0)
    return NULL;
  const char *name = rc_content_format_name((uint32_t)cf);
  return name ? name : "application/octet-stream";
}

int rc_hc_status(uint8_t code, int has_payload, int conditional) {
  /* RFC 8075 §7 Table 2, one row per CoAP code. */
  switch (code) {
  case RC_CREATED: return 201;
  case RC_DELETED:
  case RC_CHANGED: return has_payload ? 200 : 204;
  case RC_VALID: return conditional ? 304 : 200;
  case RC_CONTENT: return 200;
  case RC_BAD_REQUEST: return 400;
  case RC_UNAUTHORIZED: return 403; /* no WWW-Authenticate to send */
  case RC_BAD_OPTION: return 400;
  case RC_FORBIDDEN: return 403;
  case RC_NOT_FOUND: return 404;
  case RC_METHOD_NOT_ALLOWED: return 405;
  case RC_NOT_ACCEPTABLE: return 406;
  case RC_REQUEST_ENTITY_INCOMPLETE: return 400;
  case RC_CONFLICT: return 409;
  case RC_PRECONDITION_FAILED: return 412;
  case RC_REQUEST_ENTITY_TOO_LARGE: return 413;
  case RC_UNSUPPORTED_CONTENT_FORMAT: return 415;
  case RC_UNPROCESSABLE_ENTITY: return 422;
  case RC_TOO_MANY_REQUESTS: return 429;
  case RC_INTERNAL_SERVER_ERROR: return 500;
  case RC_NOT_IMPLEMENTED: return 501;
  case RC_BAD_GATEWAY: return 502;
  case RC_SERVICE_UNAVAILABLE: return 503;
  case RC_GATEWAY_TIMEOUT: return 504;
  case RC_PROXYING_NOT_SUPPORTED: return 502;
  case RC_HOP_LIMIT_REACHED: return 508; /* Loop Detected */
  default:
    break;
  }
  switch (RC_CODE_CLASS(code)) {
  case 2: return 200;
  case 4: return 400;
  case 5: return 500;
  default: return 502; /* not a response: the upstream misbehaved */
  }
}

rc_ssize rc_hc_etag_out(const uint8_t *etag, size_t len, char *out,
                        size_t cap) {
  static const char hex[] = "0123456789abcdef";
  if (!out || (len && !etag) || len > 8)
    return RC_ERR_INVAL;
  if (cap < 2 * len + 3)
    return RC_ERR_NOBUF;
  size_t o = 0;
  out[o++] = '"';
  for (size_t i = 0; i < len; i++) {
    out[o++] = hex[etag[i] >> 4];
    out[o++] = hex[etag[i] & 15];
  }
  out[o++] = '"';
  out[o] = 0;
  return (rc_ssize)o;
}

int rc_hc_etag_in(const char *v, size_t len, uint8_t out[8]) {
  size_t i = 0;
  if (!v || !out)
    return -1;
  while (i < len && (v[i] == ' ' || v[i] == '\t'))
    i++;
  if (i + 2 <= len && v[i] == 'W' && v[i + 1] == '/')
    i += 2;
  if (i >= len || v[i] != '"')
    return -1;
  size_t s = ++i, e = s;
  while (e < len && v[e] != '"')
    e++;
  size_t digits = e - s;
  if (e >= len || digits < 2 || digits > 16 || digits % 2)
    return -1;
  for (size_t k = 0; k < digits / 2; k++) {
    int h = hc_hex(v[s + 2 * k]), l = hc_hex(v[s + 2 * k + 1]);
    if (h < 0 || l < 0)
      return -1;
    out[k] = (uint8_t)(h << 4 | l);
  }
  return (int)(digits / 2);
}
