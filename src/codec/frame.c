/*
 * The RFC 8323 §3.2 stream reader: cuts a TCP/TLS byte stream, arriving in
 * pieces of any size, into whole CoAP messages. A frame that sits whole in
 * the caller's input is parsed where it lies; a frame split across feeds is
 * gathered in a buffer of the caller's (one fixed buffer, or one asked for
 * per frame through an rc_frame_buf_fn once the header tells its size); a
 * frame longer than the configured maximum, or one the caller declines, is
 * reported (code and token, so a request can get its 4.13 or 5.03) and its
 * bytes are then skipped without being stored. This one reader serves
 * both the codec's users (rcoap-decode --stream, fuzz_frame) and the
 * session's stream input.
 */
#include <string.h>

#include "codec/codec_int.h"
#include "common/short_eq.h"
#include "rcoap/codec_frame.h"

enum {
  FR_HDR = 0,       /* reading a header (hdr_bytes holds a partial one) */
  FR_BODY = 1,      /* gathering token + body into buf */
  FR_OVER_TOKEN = 2,/* oversize frame: gathering its token into buf */
  FR_SKIP = 3,      /* oversize frame: discarding `skip` more bytes */
  FR_DEAD = 4       /* a malformed frame was seen; the stream is unusable */
};

rc_ssize rc_tcp_hdr_parse(const uint8_t *buf, size_t len, rc_tcp_hdr *h) {
  if (h == NULL || (buf == NULL && len != 0))
    return RC_ERR_INVAL;
  return rc__tcp_hdr_parse(buf, len, h);
}

/* The fixed buffer as an rc_frame_buf_fn: every frame up to the maximum
 * fits (cap >= max_msg); a token fits if cap holds it. */
static uint8_t *fr_fixed(void *user, const rc_tcp_hdr *h, size_t need,
                         int token_only) {
  rc_frame_reader *r = user;
  (void)h;
  (void)token_only;
  return need <= r->cap ? r->buf : NULL;
}

rc_err rc_frame_reader_init_fn(rc_frame_reader *r, size_t max_msg,
                               rc_frame_buf_fn get, void *user) {
  if (r == NULL || get == NULL)
    return RC_ERR_INVAL;
  memset(r, 0, sizeof(*r));
  r->get = get;
  r->get_user = user;
  r->max_msg = max_msg;
  r->cap = SIZE_MAX;
  r->state = FR_HDR;
  return RC_OK;
}

rc_err rc_frame_reader_init(rc_frame_reader *r, uint8_t *buf, size_t cap,
                            size_t max_msg) {
  if (r == NULL || (buf == NULL && cap != 0) || cap < max_msg)
    return RC_ERR_INVAL;
  rc_frame_reader_init_fn(r, max_msg, fr_fixed, r);
  r->buf = buf;
  r->cap = cap;
  return RC_OK;
}

const rc_tcp_hdr *rc_frame_reader_hdr(const rc_frame_reader *r) {
  return &r->hdr;
}

rc_err rc_frame_reader_set_max(rc_frame_reader *r, size_t max_msg) {
  if (r == NULL || max_msg > r->cap)
    return RC_ERR_INVAL;
  r->max_msg = max_msg;
  return RC_OK;
}

int rc_frame_reader_busy(const rc_frame_reader *r) {
  return r->state == FR_BODY || r->state == FR_OVER_TOKEN ||
         r->state == FR_SKIP || r->hdr_have != 0;
}

static inline uint64_t fr_total(const rc_tcp_hdr *h) {
  return (uint64_t)h->hdr_len + h->token_len + h->body_len;
}


static rc_ssize fr_fail(rc_frame_reader *r, rc_ssize err) {
  r->state = FR_DEAD;
  return err;
}

/* Fills *msg for an oversize report. */
static void fr_oversize_msg(const rc_tcp_hdr *h, const uint8_t *token,
                            uint32_t token_len, rc_msg *msg) {
  memset(msg, 0, sizeof(*msg));
  msg->code = h->code;
  msg->token_len = token_len;
  msg->token = token_len ? token : NULL;
}

/* Reports the frame in r->hdr as not delivered, with the token given. */
static void fr_report_over(rc_frame_reader *r, const uint8_t *token,
                           uint32_t token_len, rc_frame_event *ev,
                           rc_msg *msg) {
  fr_oversize_msg(&r->hdr, token, token_len, msg);
  r->frame = NULL;
  r->have = 0;
  r->skip = r->hdr.body_len + (token ? 0 : r->hdr.token_len);
  r->state = r->skip ? FR_SKIP : FR_HDR;
  *ev = RC_FRAME_OVERSIZE;
}

/* The header of a frame that will not be delivered (over the maximum, or
 * declined) has been consumed; avail bytes follow at p. Returns how many
 * of them were consumed; sets *ev when it reports. */
static size_t fr_oversize(rc_frame_reader *r, const uint8_t *p, size_t avail,
                          rc_frame_event *ev, rc_msg *msg) {
  const rc_tcp_hdr *h = &r->hdr;
  uint8_t *tok = NULL;
  if (h->token_len > 0) {
    tok = r->get(r->get_user, h, h->token_len, 1);
    if (tok == NULL) {
      /* The token cannot be kept: report without it, skip it with the
       * body. */
      fr_report_over(r, NULL, 0, ev, msg);
      return 0;
    }
  }
  if (avail >= h->token_len) {
    fr_report_over(r, p, h->token_len, ev, msg);
    return h->token_len;
  }
  if (avail)
    memcpy(tok, p, avail);
  r->frame = tok;
  r->have = avail;
  r->state = FR_OVER_TOKEN;
  return avail;
}

/* Asks for the buffer of a frame that is not whole in the input; NULL when
 * the caller declines it. */
static uint8_t *fr_frame_buf(rc_frame_reader *r) {
  r->frame = r->get(r->get_user, &r->hdr, (size_t)fr_total(&r->hdr), 0);
  return r->frame;
}

/* The frame gathered in r->frame is whole: parses it (RC_FRAME_MSG) and
 * makes the reader ready for the next header. Returns 0 or the error
 * that broke the stream. */
static rc_err fr_complete(rc_frame_reader *r, rc_frame_event *ev,
                          rc_msg *msg) {
  size_t total = r->have;
  const uint8_t *frame = r->frame;
  r->have = 0;
  r->frame = NULL;
  r->state = FR_HDR;
  rc_err rc = rc_msg_parse(RC_FRAMING_TCP, frame, total, msg);
  if (rc)
    return (rc_err)fr_fail(r, rc);
  *ev = RC_FRAME_MSG;
  return RC_OK;
}

size_t rc_frame_reader_room(const rc_frame_reader *r, uint8_t **at) {
  if (r->state != FR_BODY)
    return 0;
  *at = r->frame + r->have;
  return (size_t)fr_total(&r->hdr) - r->have;
}

rc_ssize rc_frame_reader_feed(rc_frame_reader *r, const uint8_t *in,
                              size_t len, rc_frame_event *ev, rc_msg *msg) {
  if (r == NULL || ev == NULL || msg == NULL || (in == NULL && len != 0))
    return RC_ERR_INVAL;
  *ev = RC_FRAME_NONE;
  if (r->state == FR_DEAD)
    return RC_ERR_STATE;

  /* The usual frame, whole in the input: Len and TKL both in the first
   * byte's nibbles (RFC 8323 §3.2: a body under 13 bytes, a token under
   * 13), so the header is that byte and the code. */
  if (r->state == FR_HDR && r->hdr_have == 0 && len >= 2) {
    uint32_t ln = in[0] >> 4, tkl = in[0] & 0x0f;
    size_t total = 2 + ln + tkl;
    if (ln < 13 && tkl < 13 && total <= len && total <= r->max_msg) {
      r->hdr.hdr_len = 2;
      r->hdr.code = in[1];
      r->hdr.token_len = tkl;
      r->hdr.body_len = ln;
      rc_err rc = rc__msg_parse_tcp(in, &r->hdr, total, msg);
      if (rc)
        return fr_fail(r, rc);
      *ev = RC_FRAME_MSG;
      return (rc_ssize)total;
    }
  }

  size_t c = 0;
  while (c < len) {
    const uint8_t *p = in + c;
    size_t avail = len - c;
    switch (r->state) {
    case FR_SKIP: {
      size_t n = r->skip < avail ? (size_t)r->skip : avail;
      r->skip -= n;
      c += n;
      if (r->skip == 0)
        r->state = FR_HDR;
      break;
    }
    case FR_HDR: {
      rc_ssize hn;
      size_t used;
      if (r->hdr_have == 0) {
        hn = rc__tcp_hdr_parse(p, avail, &r->hdr);
        if (hn == RC_ERR_NEED_MORE) {
          memcpy(r->hdr_bytes, p, avail); /* avail < RC_TCP_HDR_MAX here */
          r->hdr_have = (uint8_t)avail;
          return (rc_ssize)len;
        }
        if (hn < 0)
          return fr_fail(r, hn);
        uint64_t total = fr_total(&r->hdr);
        if (total > r->max_msg) {
          c += (size_t)hn;
          c += fr_oversize(r, in + c, len - c, ev, msg);
          if (*ev != RC_FRAME_NONE)
            return (rc_ssize)c;
          break;
        }
        if (avail >= total) {
          /* Fast path: the whole frame is in the input, parse it there. */
          rc_err rc = rc__msg_parse_tcp(p, &r->hdr, (size_t)total, msg);
          if (rc)
            return fr_fail(r, rc);
          *ev = RC_FRAME_MSG;
          return (rc_ssize)(c + (size_t)total);
        }
        if (fr_frame_buf(r) == NULL) {
          c += (size_t)hn;
          c += fr_oversize(r, in + c, len - c, ev, msg);
          if (*ev != RC_FRAME_NONE)
            return (rc_ssize)c;
          break;
        }
        memcpy(r->frame, p, avail);
        r->have = avail;
        r->state = FR_BODY;
        return (rc_ssize)len;
      }
      /* A header split across feeds: complete it in hdr_bytes. */
      size_t take = RC_TCP_HDR_MAX - r->hdr_have;
      if (take > avail)
        take = avail;
      memcpy(r->hdr_bytes + r->hdr_have, p, take);
      hn = rc__tcp_hdr_parse(r->hdr_bytes, r->hdr_have + take, &r->hdr);
      if (hn == RC_ERR_NEED_MORE) {
        r->hdr_have = (uint8_t)(r->hdr_have + take);
        return (rc_ssize)len;
      }
      if (hn < 0)
        return fr_fail(r, hn);
      used = (size_t)hn - r->hdr_have;
      c += used;
      r->hdr_have = 0;
      if (fr_total(&r->hdr) > r->max_msg || fr_frame_buf(r) == NULL) {
        c += fr_oversize(r, in + c, len - c, ev, msg);
        if (*ev != RC_FRAME_NONE)
          return (rc_ssize)c;
        break;
      }
      memcpy(r->frame, r->hdr_bytes, (size_t)hn);
      r->have = (size_t)hn;
      r->state = FR_BODY;
      if (r->have == fr_total(&r->hdr))
        goto complete; /* a header-only frame */
      break;
    }
    case FR_BODY: {
      size_t need = (size_t)fr_total(&r->hdr) - r->have;
      size_t n = need < avail ? need : avail;
      memcpy(r->frame + r->have, p, n);
      r->have += n;
      c += n;
      if (n == need)
        goto complete;
      break;
    }
    case FR_OVER_TOKEN: {
      size_t need = r->hdr.token_len - r->have;
      size_t n = need < avail ? need : avail;
      memcpy(r->frame + r->have, p, n);
      r->have += n;
      c += n;
      if (n == need) {
        fr_report_over(r, r->frame, r->hdr.token_len, ev, msg);
        return (rc_ssize)c;
      }
      break;
    }
    default:
      return fr_fail(r, RC_ERR_STATE);
    }
  }
  return (rc_ssize)c;

complete: {
  rc_err rc = fr_complete(r, ev, msg);
  return rc ? rc : (rc_ssize)c;
}
}

rc_ssize rc_frame_reader_feed_each(rc_frame_reader *r, const uint8_t *in,
                                   size_t len, rc_frame_msg_fn fn,
                                   void *user) {
  if (r == NULL || fn == NULL || (in == NULL && len != 0))
    return RC_ERR_INVAL;
  if (r->state == FR_DEAD)
    return RC_ERR_STATE;
  if (r->state != FR_HDR || r->hdr_have != 0)
    return 0;
  const uint8_t *p = in, *end = in + len, *last = NULL;
  /* The previous frame's options and payload (pq[0..pn)), still in the
   * input: a frame whose own are the same bytes has the same scan. */
  const uint8_t *pq = NULL;
  size_t pn = 0;
  rc_msg m;
  m.type = 0;
  m.mid = 0;
  while (end - p >= 2) {
    uint32_t b0 = p[0], tkl;
    const uint8_t *q;
    uint64_t total;
    if (__builtin_expect(b0 < 0xd0 && (b0 & 0x0f) < 13, 1)) {
      /* The usual header: Len and TKL both in the first byte's nibbles
       * (RFC 8323 §3.2: a body under 13 bytes, a token under 13), so the
       * header is that byte and the code. */
      tkl = b0 & 0x0f;
      total = 2 + (b0 >> 4) + tkl;
      m.code = p[1];
      q = p + 2;
    } else {
      rc_tcp_hdr h;
      if (rc__tcp_hdr_parse(p, (size_t)(end - p), &h) < 0)
        break; /* TKL 15 or a header cut short: rc_frame_reader_feed's */
      tkl = h.token_len;
      total = fr_total(&h);
      m.code = h.code;
      q = p + h.hdr_len;
    }
    if (total > (uint64_t)(end - p) || total > r->max_msg)
      break;
    const uint8_t *fend = p + total;
    m.token_len = tkl;
    m.token = tkl ? q : NULL;
    q += tkl;
    size_t n = (size_t)(fend - q);
    if (n == pn && n - 4 <= 12 && rc__short_eq(q, pq, n)) {
      /* m still holds that scan's lengths and summary; the payload ends
       * the frame */
      m.payload = m.payload_len ? fend - m.payload_len : NULL;
    } else {
      size_t olen;
      rc_err rc = rc__opts_scan_sum(q, n, &olen, &m.payload, &m.payload_len,
                                    &m);
      if (rc)
        return fr_fail(r, rc);
      m.opts_len = olen;
      pn = n;
    }
    m.opts = m.opts_len ? q : NULL;
    pq = q;
    last = p;
    p = fend;
    if (fn(user, &m))
      break;
  }
  /* rc_frame_reader_hdr: the last frame given */
  if (last != NULL)
    (void)rc__tcp_hdr_parse(last, (size_t)(p - last), &r->hdr);
  return (rc_ssize)(p - in);
}

rc_ssize rc_frame_reader_commit(rc_frame_reader *r, size_t n,
                                rc_frame_event *ev, rc_msg *msg) {
  *ev = RC_FRAME_NONE;
  if (r->state != FR_BODY || n > (size_t)fr_total(&r->hdr) - r->have)
    return fr_fail(r, RC_ERR_STATE);
  r->have += n;
  if (r->have == fr_total(&r->hdr)) {
    rc_err rc = fr_complete(r, ev, msg);
    if (rc)
      return rc;
  }
  return (rc_ssize)n;
}
