/*
 * The signaling JSON of signal_json.h: a bounded recursive-descent reader
 * for one object (string members kept, others skipped) and a writer.
 */
#include "transport/webrtc/signal_json.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define DEPTH_MAX 16

typedef struct rd {
  const char *p, *end;
} rd;

static void ws(rd *r) {
  /* RFC 8259 §2: ws = space, tab, LF, CR. */
  while (r->p < r->end &&
         (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
    r->p++;
}

static bool lit(rd *r, char c) {
  ws(r);
  if (r->p < r->end && *r->p == c) {
    r->p++;
    return true;
  }
  return false;
}

static int hex4(const char *p) {
  int v = 0;
  for (int i = 0; i < 4; i++) {
    int d = rc_hex_digit(p[i]);
    if (d < 0)
      return -1;
    v = v << 4 | d;
  }
  return v;
}

/* Appends code point cp as UTF-8 to out (cap), at *n. */
static rc_err put_utf8(char *out, size_t cap, size_t *n, uint32_t cp) {
  uint8_t b[4];
  size_t k;
  if (cp < 0x80)
    b[0] = (uint8_t)cp, k = 1;
  else if (cp < 0x800)
    b[0] = (uint8_t)(0xC0 | cp >> 6), b[1] = (uint8_t)(0x80 | (cp & 63)), k = 2;
  else if (cp < 0x10000)
    b[0] = (uint8_t)(0xE0 | cp >> 12), b[1] = (uint8_t)(0x80 | (cp >> 6 & 63)),
    b[2] = (uint8_t)(0x80 | (cp & 63)), k = 3;
  else
    b[0] = (uint8_t)(0xF0 | cp >> 18), b[1] = (uint8_t)(0x80 | (cp >> 12 & 63)),
    b[2] = (uint8_t)(0x80 | (cp >> 6 & 63)), b[3] = (uint8_t)(0x80 | (cp & 63)),
    k = 4;
  if (out) {
    if (cap - *n < k + 1)
      return RC_ERR_NOBUF;
    memcpy(out + *n, b, k);
  }
  *n += k;
  return RC_OK;
}

/* A JSON string at r (the opening quote next), unescaped into out (cap
 * bytes, NUL-terminated; out NULL: skipped). */
static rc_err string(rd *r, char *out, size_t cap, size_t *len) {
  size_t n = 0;
  if (!lit(r, '"'))
    return RC_ERR_PROTOCOL;
  while (r->p < r->end && *r->p != '"') {
    unsigned char c = (unsigned char)*r->p++;
    uint32_t cp = c;
    /* RFC 8259 §7: control characters U+0000-U+001F MUST be escaped. */
    if (c < 0x20)
      return RC_ERR_PROTOCOL;
    if (c == '\\') {
      if (r->p >= r->end)
        return RC_ERR_PROTOCOL;
      char e = *r->p++;
      const char *map = strchr("\"\"\\\\//b\bf\fn\nr\rt\t", e);
      if (e && map && (map - "\"\"\\\\//b\bf\fn\nr\rt\t") % 2 == 0) {
        cp = (unsigned char)map[1];
      } else if (e == 'u') {
        int h = r->end - r->p >= 4 ? hex4(r->p) : -1;
        if (h < 0)
          return RC_ERR_PROTOCOL;
        r->p += 4;
        cp = (uint32_t)h;
        if (cp >= 0xD800 && cp <= 0xDBFF) { /* a surrogate pair */
          int lo = r->end - r->p >= 6 && r->p[0] == '\\' && r->p[1] == 'u'
                       ? hex4(r->p + 2) : -1;
          if (lo < 0xDC00 || lo > 0xDFFF)
            return RC_ERR_PROTOCOL;
          r->p += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (uint32_t)(lo - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          return RC_ERR_PROTOCOL;
        }
        if (cp == 0) /* a NUL would cut the C string */
          return RC_ERR_PROTOCOL;
      } else {
        return RC_ERR_PROTOCOL;
      }
      rc_err err = put_utf8(out, cap, &n, cp);
      if (err)
        return err;
      continue;
    }
    /* Raw bytes (UTF-8 in the body) are copied as they are. */
    if (out) {
      if (cap - n < 2)
        return RC_ERR_NOBUF;
      out[n] = (char)c;
    }
    n++;
  }
  if (r->p >= r->end)
    return RC_ERR_PROTOCOL;
  r->p++;
  if (out)
    out[n] = 0;
  if (len)
    *len = n;
  return RC_OK;
}

static rc_err value(rd *r, int depth);

/* { "k": v, ... } or [ v, ... ], skipped. */
static rc_err container(rd *r, int depth, char close) {
  if (depth >= DEPTH_MAX)
    return RC_ERR_PROTOCOL;
  if (lit(r, close))
    return RC_OK;
  do {
    rc_err err;
    if (close == '}' && ((err = string(r, NULL, 0, NULL)) || !lit(r, ':')))
      return err ? err : RC_ERR_PROTOCOL;
    if ((err = value(r, depth + 1)))
      return err;
  } while (lit(r, ','));
  return lit(r, close) ? RC_OK : RC_ERR_PROTOCOL;
}

static rc_err value(rd *r, int depth) {
  ws(r);
  if (r->p >= r->end)
    return RC_ERR_PROTOCOL;
  char c = *r->p;
  if (c == '"')
    return string(r, NULL, 0, NULL);
  if (c == '{' || c == '[') {
    r->p++;
    return container(r, depth, c == '{' ? '}' : ']');
  }
  static const char *words[] = {"true", "false", "null"};
  for (int i = 0; i < 3; i++) {
    size_t k = strlen(words[i]);
    if ((size_t)(r->end - r->p) >= k && !memcmp(r->p, words[i], k)) {
      r->p += k;
      return RC_OK;
    }
  }
  /* A number, loosely: its characters. */
  const char *s = r->p;
  while (r->p < r->end && strchr("+-0123456789.eE", *r->p) && *r->p)
    r->p++;
  return r->p > s ? RC_OK : RC_ERR_PROTOCOL;
}

rc_err rc_signal_json_parse(const char *json, size_t len,
                            char type[RC_SIGNAL_TYPE_MAX + 1], char *sdp,
                            size_t sdp_cap, size_t *sdp_len) {
  rd r = {json, json + len};
  bool has_type = false, has_sdp = false;
  if (!json || !lit(&r, '{'))
    return RC_ERR_PROTOCOL;
  if (!lit(&r, '}')) {
    do {
      char key[8];
      const char *start = r.p;
      rc_err err = string(&r, key, sizeof key, NULL);
      if (err == RC_ERR_NOBUF) { /* a long key: not one of ours */
        r.p = start;
        key[0] = 0;
        err = string(&r, NULL, 0, NULL);
      }
      if (err)
        return err;
      bool known = !strcmp(key, "type") || !strcmp(key, "sdp");
      if (!lit(&r, ':'))
        return RC_ERR_PROTOCOL;
      ws(&r);
      if (known && r.p < r.end && *r.p == '"') {
        bool is_type = key[0] == 't';
        err = is_type ? string(&r, type, RC_SIGNAL_TYPE_MAX + 1, NULL)
                      : string(&r, sdp, sdp_cap, sdp_len);
        *(is_type ? &has_type : &has_sdp) = !err;
      } else {
        err = value(&r, 1);
      }
      if (err)
        return err;
    } while (lit(&r, ','));
    if (!lit(&r, '}'))
      return RC_ERR_PROTOCOL;
  }
  ws(&r);
  if (r.p != r.end)
    return RC_ERR_PROTOCOL;
  return has_type && has_sdp ? RC_OK : RC_ERR_NOT_FOUND;
}

/* Appends s (n bytes) JSON-escaped. */
static bool esc(char *buf, size_t cap, size_t *at, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char tmp[8];
    const char *w = tmp;
    size_t k;
    if (c == '"')
      w = "\\\"", k = 2;
    else if (c == '\\')
      w = "\\\\", k = 2;
    else if (c == '\n')
      w = "\\n", k = 2;
    else if (c == '\r')
      w = "\\r", k = 2;
    else if (c == '\t')
      w = "\\t", k = 2;
    else if (c < 0x20) {
      static const char hx[] = "0123456789abcdef";
      memcpy(tmp, "\\u00", 4);
      tmp[4] = hx[c >> 4], tmp[5] = hx[c & 15];
      k = 6;
    } else
      tmp[0] = (char)c, k = 1;
    if (cap - *at < k + 1)
      return false;
    memcpy(buf + *at, w, k);
    *at += k;
  }
  return true;
}

static bool raw(char *buf, size_t cap, size_t *at, const char *s) {
  size_t k = strlen(s);
  if (cap - *at < k + 1)
    return false;
  memcpy(buf + *at, s, k);
  *at += k;
  return true;
}

rc_err rc_signal_json_emit(char *buf, size_t cap, size_t *len,
                           const char *type, const char *sdp,
                           size_t sdp_len) {
  size_t at = 0;
  *len = 0;
  if (!type || strlen(type) > RC_SIGNAL_TYPE_MAX || (!sdp && sdp_len))
    return RC_ERR_INVAL;
  for (const char *t = type; *t; t++)
    if (*t < 0x20 || *t == '"' || *t == '\\')
      return RC_ERR_INVAL;
  if (!buf || !cap)
    return RC_ERR_NOBUF;
  if (!raw(buf, cap, &at, "{\"type\":\"") || !raw(buf, cap, &at, type) ||
      !raw(buf, cap, &at, "\",\"sdp\":\"") ||
      !esc(buf, cap, &at, sdp, sdp_len) || !raw(buf, cap, &at, "\"}"))
    return RC_ERR_NOBUF;
  buf[at] = 0;
  *len = at;
  return RC_OK;
}
