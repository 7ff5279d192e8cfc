/*
 * The chunked transfer coding of HTTP/1.1 request bodies (RFC 9112 §7.1),
 * decoded sans-I/O (transport_http.h rc_http_chunked): a byte-at-a-time
 * state machine over chunk sizes, extensions (skipped), data and trailer
 * lines (read and dropped), every line bounded by RC_HTTP_MAX_LINE. The
 * ws filter (ws_http.c) feeds it the bytes after a request head.
 */
#include <string.h>

#include "rcoap/transport_http.h"

enum {
  CH_SIZE = 0,   /* chunk-size hex digits */
  CH_EXT,        /* chunk-ext, up to CR */
  CH_SIZE_LF,    /* the LF after the size line */
  CH_DATA,       /* chunk-data */
  CH_DATA_CR,    /* the CRLF after chunk-data */
  CH_DATA_LF,
  CH_TRAILER,    /* the start of a trailer line (or the final CRLF) */
  CH_TRAILER_LINE,
  CH_TRAILER_LF,
  CH_END_LF,     /* the LF of the final CRLF */
  CH_DONE
};

static int ch_hex(uint8_t c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c |= 0x20;
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A byte of a chunk extension or trailer line: 1 for the CR that ends
 * it, 0 for one that belongs in it, -1 for one that may not be there. */
static int ch_line_byte(uint8_t b) {
  if (b == '\r')
    return 1;
  return b == '\n' || (b < 0x20 && b != '\t') || b == 0x7f ? -1 : 0;
}

rc_ssize rc_http_chunked_decode(rc_http_chunked *c, const uint8_t *in,
                                size_t len, uint8_t *out, size_t cap,
                                size_t *out_len) {
  size_t i = 0, o = 0;
  if (!c || (!in && len) || !out_len)
    return RC_ERR_HTTP_PARSE;
  while (i < len && c->state != CH_DONE) {
    uint8_t b = in[i];
    if (c->state == CH_DATA) {
      size_t n = len - i;
      if (n > c->left)
        n = (size_t)c->left;
      if (n > cap - o)
        n = cap - o;
      if (n == 0)
        break; /* out is full */
      memcpy(out + o, in + i, n);
      o += n;
      i += n;
      c->left -= n;
      if (c->left == 0)
        c->state = CH_DATA_CR;
      continue;
    }
    if (++c->line > RC_HTTP_MAX_LINE)
      return RC_ERR_HTTP_PARSE;
    i++;
    switch (c->state) {
    case CH_SIZE: {
      int h = ch_hex(b);
      if (h >= 0) {
        /* 1*HEXDIG; more than 15 digits would overflow 60 bits. */
        if (++c->digits > 15)
          return RC_ERR_HTTP_PARSE;
        c->left = c->left << 4 | (uint64_t)h;
      } else if (c->digits && (b == ';' || b == ' ' || b == '\t')) {
        c->state = CH_EXT;
      } else if (c->digits && b == '\r') {
        c->state = CH_SIZE_LF;
      } else {
        return RC_ERR_HTTP_PARSE;
      }
      break;
    }
    case CH_EXT: /* chunk-ext is not interpreted (RFC 9112 §7.1.1) */
      if (ch_line_byte(b) < 0)
        return RC_ERR_HTTP_PARSE;
      if (ch_line_byte(b))
        c->state = CH_SIZE_LF;
      break;
    case CH_SIZE_LF:
      if (b != '\n')
        return RC_ERR_HTTP_PARSE;
      c->line = 0;
      c->digits = 0;
      c->state = c->left ? CH_DATA : CH_TRAILER;
      break;
    case CH_DATA_CR:
      if (b != '\r')
        return RC_ERR_HTTP_PARSE;
      c->state = CH_DATA_LF;
      break;
    case CH_DATA_LF:
      if (b != '\n')
        return RC_ERR_HTTP_PARSE;
      c->line = 0;
      c->state = CH_SIZE;
      break;
    case CH_TRAILER:
      if (b == '\r') {
        c->state = CH_END_LF;
        break;
      }
      c->state = CH_TRAILER_LINE; /* a trailer field: read, dropped */
      /* fall through */
    case CH_TRAILER_LINE:
      if (ch_line_byte(b) < 0)
        return RC_ERR_HTTP_PARSE;
      if (ch_line_byte(b))
        c->state = CH_TRAILER_LF;
      break;
    case CH_TRAILER_LF:
      if (b != '\n')
        return RC_ERR_HTTP_PARSE;
      c->line = 0;
      c->state = CH_TRAILER;
      break;
    case CH_END_LF:
      if (b != '\n')
        return RC_ERR_HTTP_PARSE;
      c->state = CH_DONE;
      break;
    default:
      return RC_ERR_HTTP_PARSE;
    }
  }
  *out_len = o;
  return (rc_ssize)i;
}

int rc_http_chunked_done(const rc_http_chunked *c) {
  return c && c->state == CH_DONE;
}
