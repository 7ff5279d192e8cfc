/*
 * rc_msg_format(): a message on one line for people. Option values are
 * rendered by the registry's format for the message's code, so that number
 * 2 reads as Max-Message-Size in a CSM and as Custody in a Pong.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rcoap/codec_block.h"
#include "rcoap/codec_option.h"
#include "rcoap/codec_print.h"

typedef struct pbuf {
  char *buf;
  size_t cap;
  size_t len;
  int full;
} pbuf;

static void put(pbuf *b, const char *fmt, ...) {
  if (b->full || b->cap == 0)
    return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= b->cap - b->len) {
    b->full = 1;
    b->len = b->cap - 1;
    if (b->cap >= 4)
      memcpy(b->buf + b->cap - 4, "...", 4);
    return;
  }
  b->len += (size_t)n;
}

static int printable(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if ((p[i] < 0x20 && p[i] != '\n' && p[i] != '\r' && p[i] != '\t') ||
        p[i] == 0x7f)
      return 0;
  return 1;
}

static void put_text(pbuf *b, const uint8_t *p, size_t n, size_t max) {
  put(b, "\"");
  for (size_t i = 0; i < n && i < max; i++) {
    uint8_t c = p[i];
    if (c == '"' || c == '\\')
      put(b, "\\%c", c);
    else if (c == '\n')
      put(b, "\\n");
    else if (c == '\r')
      put(b, "\\r");
    else if (c == '\t')
      put(b, "\\t");
    else
      put(b, "%c", c);
  }
  put(b, n > max ? "\"..." : "\"");
}

static void put_hex(pbuf *b, const uint8_t *p, size_t n, size_t max) {
  for (size_t i = 0; i < n && i < max; i++)
    put(b, "%02x", p[i]);
  if (n > max)
    put(b, "...");
}

static void put_opt(pbuf *b, uint8_t code, const rc_opt *o) {
  const rc_opt_def *d = rc_opt_lookup(code, o->num);
  uint32_t v;
  if (!d) {
    put(b, " Option-%u:", o->num);
    put_hex(b, o->val, o->len, 32);
    return;
  }
  put(b, " %s", d->name);
  switch (d->format) {
  case RC_OPTF_EMPTY:
    return;
  case RC_OPTF_UINT:
    if (rc_opt_uint(o, &v) != RC_OK) {
      put(b, ":(bad uint)");
      return;
    }
    if (!rc_code_is_signaling(code) &&
        (o->num == RC_OPT_BLOCK1 || o->num == RC_OPT_BLOCK2 ||
         o->num == RC_OPT_Q_BLOCK1 || o->num == RC_OPT_Q_BLOCK2)) {
      rc_block bl;
      if (rc_block_decode(o->val, o->len, &bl) == RC_OK)
        put(b, ":%u/%u/%u%s", bl.num, bl.more, (unsigned)rc_block_size(bl.szx),
            bl.szx == RC_BLOCK_SZX_BERT ? "(BERT)" : "");
      return;
    }
    if (!rc_code_is_signaling(code) &&
        (o->num == RC_OPT_CONTENT_FORMAT || o->num == RC_OPT_ACCEPT)) {
      const char *name = rc_content_format_name(v);
      if (name) {
        put(b, ":%s", name);
        return;
      }
    }
    put(b, ":%u", v);
    return;
  case RC_OPTF_STRING:
    put(b, ":");
    put_text(b, o->val, o->len, 255);
    return;
  default:
    put(b, ":");
    if (o->len == 0)
      put(b, "(empty)");
    put_hex(b, o->val, o->len, 32);
    return;
  }
}

size_t rc_opt_print(uint8_t code, const rc_opt *o, char *buf, size_t cap) {
  pbuf b = {buf, cap, 0, 0};
  if (cap == 0)
    return 0;
  buf[0] = 0;
  put_opt(&b, code, o);
  /* put_opt writes the separator of rc_msg_format's line first. */
  if (b.len && buf[0] == ' ') {
    memmove(buf, buf + 1, b.len);
    b.len--;
  }
  return b.len;
}

size_t rc_msg_format(const rc_msg *m, char *buf, size_t cap) {
  pbuf b = {buf, cap, 0, 0};
  char code[5];
  if (cap == 0)
    return 0;
  buf[0] = 0;
  put(&b, "%s %s", rc_code_str(m->code, code), rc_code_name(m->code));
  if (m->token_len) {
    put(&b, " tok=");
    put_hex(&b, m->token, m->token_len, 16);
  }
  rc_opt_iter it;
  rc_opt o;
  rc_opt_iter_init(&it, m);
  while (rc_opt_next(&it, &o))
    put_opt(&b, m->code, &o);
  if (m->payload_len && m->payload == NULL) {
    /* A payload sent from a file (rc_msg_parse_head): only its length. */
    put(&b, " (%zu bytes from a file)", m->payload_len);
  } else if (m->payload_len) {
    put(&b, " ");
    if (printable(m->payload, m->payload_len))
      put_text(&b, m->payload, m->payload_len, RC_PRINT_PAYLOAD_MAX);
    else {
      put(&b, "(%zu bytes) ", m->payload_len);
      put_hex(&b, m->payload, m->payload_len, 16);
    }
  }
  return b.len;
}
