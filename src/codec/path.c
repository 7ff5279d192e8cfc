/*
 * rc_path_clean: one pass over a request path that decodes, splits and
 * judges each segment, writing only what may be opened below a root. It
 * is the one check both rcoapd's file servers run (the HTTP side's static
 * files and the CoAP /files tree): the rules live here once.
 */
#include "rcoap/codec_path.h"

/* Appends a finished segment seg[0..n) to out, or refuses it. */
static rc_err path_put(const char *seg, size_t n, char *out, size_t cap,
                       size_t *o) {
  if (n == 0)
    return RC_OK; /* "//": an empty segment names nothing */
  /* ".", ".." and dot files (.git, .env) are never named. */
  if (seg[0] == '.')
    return RC_ERR_PATH_REFUSED;
  if (*o + 1 + n >= cap)
    return RC_ERR_PATH_REFUSED;
  out[(*o)++] = '/';
  for (size_t i = 0; i < n; i++)
    out[(*o)++] = seg[i];
  return RC_OK;
}

rc_ssize rc_path_clean(const char *in, size_t len, unsigned flags, char *out,
                       size_t cap) {
  /* A segment is decoded into seg before it is judged, so "%2e%2e" is
   * seen as ".."; it is never longer than the output may be. */
  size_t o = 0, n = 0, i;
  int trailing = 0;
  rc_err rc;
  if (!in || !out)
    return RC_ERR_INVAL;
  if (len == 0 || in[0] != '/' || cap < 2)
    return RC_ERR_PATH_REFUSED;
  for (i = 1; i <= len; i++) {
    char c;
    if (i == len || in[i] == '/' ||
        ((flags & RC_PATH_TARGET) && (in[i] == '?' || in[i] == '#'))) {
      /* The segment is decoded in place at out[o + 1...] and then
       * judged by path_put, which writes the separator before it. */
      rc = path_put(out + o + 1, n, out, cap, &o);
      if (rc)
        return rc;
      trailing = i < len && in[i] == '/' ? 1 : trailing && n == 0;
      n = 0;
      if (i == len || in[i] != '/')
        break;
      continue;
    }
    c = in[i];
    if (c == '%') {
      int hi, lo;
      if (len - i < 3)
        return RC_ERR_BAD_PERCENT;
      hi = rc_hex_digit((unsigned char)in[i + 1]);
      lo = rc_hex_digit((unsigned char)in[i + 2]);
      if (hi < 0 || lo < 0)
        return RC_ERR_BAD_PERCENT;
      c = (char)(hi * 16 + lo);
      i += 2;
      /* An encoded '/' would be a boundary the caller's walk cannot
       * see. */
      if (c == '/')
        return RC_ERR_PATH_REFUSED;
    }
    /* NUL would end the name early; '\' is a separator elsewhere. */
    if (c == '\0' || c == '\\')
      return RC_ERR_PATH_REFUSED;
    if (o + 2 + n >= cap)
      return RC_ERR_PATH_REFUSED;
    out[o + 1 + n++] = c;
  }
  if (trailing || o == 0) {
    if (o + 2 > cap)
      return RC_ERR_PATH_REFUSED;
    out[o++] = '/';
  }
  out[o] = '\0';
  return (rc_ssize)o;
}
