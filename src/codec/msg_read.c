/*
 * What handlers and tools read off a parsed message most often, as text or
 * a number: the request path rebuilt from its Uri-Path options, the query
 * from its Uri-Query options, and the Content-Format. Everything is written
 * into the caller's buffer; nothing is allocated. These used to live in
 * app/, which made a device that links only rcoap-core write them again.
 */
#include <string.h>

#include "rcoap/codec_option.h"

/* A segment byte that would change the meaning of the joined path (a '/'
 * inside a segment, a '%' that would read as an escape) or that no log line
 * should carry raw. */
static int path_needs_escape(uint8_t c) {
  return c == '/' || c == '%' || c < 0x20 || c == 0x7f;
}

rc_ssize rc_msg_path(const rc_msg *m, char *buf, size_t cap) {
  static const char hex[] = "0123456789ABCDEF";
  size_t n = 0;
  rc_opt_iter it;
  rc_opt o;
  rc_opt_iter_init(&it, m);
  while (rc_opt_next_of(&it, RC_OPT_URI_PATH, &o)) {
    if (n + 1 >= cap)
      return RC_ERR_NOBUF;
    buf[n++] = '/';
    uint32_t i = 0;
    if (n + o.len < cap) {
      /* the usual segment: copied as it is up to a byte to escape */
      while (i < o.len && !path_needs_escape(o.val[i])) {
        buf[n + i] = (char)o.val[i];
        i++;
      }
      n += i;
    }
    for (; i < o.len; i++) {
      uint8_t c = o.val[i];
      if (path_needs_escape(c)) {
        if (n + 3 >= cap)
          return RC_ERR_NOBUF;
        buf[n++] = '%';
        buf[n++] = hex[c >> 4];
        buf[n++] = hex[c & 15];
      } else {
        if (n + 1 >= cap)
          return RC_ERR_NOBUF;
        buf[n++] = (char)c;
      }
    }
  }
  if (n == 0) {
    if (cap < 2)
      return RC_ERR_NOBUF;
    buf[n++] = '/';
  }
  buf[n] = 0;
  return (rc_ssize)n;
}

rc_ssize rc_msg_query(const rc_msg *m, char *buf, size_t cap) {
  size_t n = 0;
  rc_opt_iter it;
  rc_opt o;
  if (cap == 0)
    return RC_ERR_NOBUF;
  rc_opt_iter_init(&it, m);
  while (rc_opt_next(&it, &o)) {
    if (o.num != RC_OPT_URI_QUERY)
      continue;
    size_t need = o.len + (n ? 1 : 0);
    if (n + need >= cap)
      return RC_ERR_NOBUF;
    if (n)
      buf[n++] = '&';
    memcpy(buf + n, o.val, o.len);
    n += o.len;
  }
  buf[n] = 0;
  return (rc_ssize)n;
}

int rc_msg_content_format(const rc_msg *m) {
  rc_opt o;
  uint32_t v;
  if (!rc_msg_find_opt(m, RC_OPT_CONTENT_FORMAT, &o) ||
      rc_opt_uint(&o, &v) != RC_OK)
    return -1;
  return (int)v;
}
