/*
 * Plain HTTP/1.1 on a WebSocket server port (the ws filter's other job):
 * a request that is not an upgrade is handed to the configured handler
 * with its body (Content-Length only, bounded), answered at once or later
 * (rc_http_reply_send: the HTTP-to-CoAP proxy waits for the origin), and
 * the connection then carries the next request when both sides allow it
 * (RFC 9112 §9.3), else closes. A chunked body (RFC 9112 §7.1) is decoded
 * as it comes, within the same bound. Bytes of a next request that arrive while
 * one is served are held (at most one head's worth) and parsed after it.
 * Sans-I/O like the rest of the filter: output goes down() and, when it
 * is made outside a recv(), EV_ACTIVE asks the connection to pull it.
 */
#include <stdio.h>
#include <string.h>

#include "transport/ws_int.h"

rc_err rc__ws_http_head_out(rc__ws *w, int status, const char *ctype,
                            long long clen, const char *extra, int keep) {
  size_t cap = 256 + (ctype ? strlen(ctype) : 0) + (extra ? strlen(extra) : 0);
  rc_err rc = rc__ws_reserve(w, cap);
  int n;
  char *p;
  if (rc)
    return rc;
  p = (char *)w->out + w->out_len;
  n = snprintf(p, cap, "HTTP/1.1 %d %s\r\n", status, rc_http_reason(status));
  if (ctype)
    n += snprintf(p + n, cap - (size_t)n, "Content-Type: %s\r\n", ctype);
  if (clen >= 0)
    n += snprintf(p + n, cap - (size_t)n, "Content-Length: %lld\r\n", clen);
  n += snprintf(p + n, cap - (size_t)n, "%s%s\r\n",
                keep ? "" : "Connection: close\r\n", extra ? extra : "");
  if (n < 0 || (size_t)n >= cap)
    return RC_ERR_NOMEM;
  w->out_len += (size_t)n;
  return RC_OK;
}

/* Writes resp (head, and an in-memory body or the start of a stream).
 * Returns RC_OK or the error that ended the filter. */
static rc_err http_write(rc__ws *w, rc_http_response *resp, int head_only) {
  int streaming, no_body;
  uint64_t clen;
  rc_err rc;
  if (head_only)
    resp->head_only = 1;
  if (resp->status < 200 || resp->status > 599) {
    if (resp->source.close)
      resp->source.close(resp->source.ctx);
    rc_http_response_text(resp, 500, "no response\n");
  }
  w->keep_alive = w->keep_alive && resp->keep_alive;
  streaming = resp->source.read != NULL;
  clen = streaming ? resp->content_length : resp->body_len;
  /* RFC 9110 §15.4.5 / §15.3.5: 304 and 204 have no content. */
  no_body = resp->head_only || resp->status == 304 || resp->status == 204;
  rc = rc__ws_http_head_out(
      w, resp->status, resp->content_type,
      (resp->status == 304 || resp->status == 204) ? -1 : (long long)clen,
      resp->extra_headers, w->keep_alive);
  if (rc == RC_OK && !no_body && !streaming)
    rc = rc__ws_append(w, resp->body, resp->body_len);
  if (streaming && !no_body && rc == RC_OK) {
    w->src = resp->source;
    w->src_left = clen;
  } else if (resp->source.close) {
    resp->source.close(resp->source.ctx);
  }
  if (rc) {
    rc__ws_finish(w, RC_FILTER_EV_ERROR, rc, "out of memory answering HTTP");
    return rc;
  }
  return rc__ws_http_start_body(w);
}

/* Calls the handler for the head in hbuf and answers, now or later. */
static rc_err http_answer(rc__ws *w, rc_http_head *h) {
  rc_http_response resp;
  int head_only = rc_http_eq(h->method, h->method_len, "HEAD");
  rc_http_reply *r = w->mem.malloc(sizeof *r, w->mem.user);
  memset(&resp, 0, sizeof resp);
  if (r) {
    r->w = w;
    r->mem = w->mem;
    r->head_only = head_only;
  }
  resp.reply = r;
  h->body = w->body;
  h->body_len = w->body_len;
  w->reply = r;
  w->state = RC__WS_HTTP_WAIT; /* the handler's, until it answers */
  if (w->on_http)
    w->on_http(w->http_user, h, &resp);
  else
    rc_http_response_text(&resp, 404, "not found\n");
  /* The request (head and body) ends with the handler's call. */
  w->mem.free(w->body, w->mem.user);
  w->body = NULL;
  w->body_len = w->body_need = 0;
  w->mem.free(w->hbuf, w->mem.user);
  w->hbuf = NULL;
  w->hlen = w->head_len = 0;
  if (r && resp.deferred) {
    /* Still due (w->reply), or answered from inside the handler. */
    if (w->reply != NULL)
      rc__ws_event(w, RC_FILTER_EV_ACTIVE, 1, "HTTP answer deferred");
    return RC_OK;
  }
  w->reply = NULL;
  w->mem.free(r, w->mem.user);
  return http_write(w, &resp, head_only);
}

/* The request's Content-Length: 0 when absent, -1 when invalid (not
 * digits, or lines that disagree: RFC 9112 §6.3 item 5 makes that
 * unrecoverable, 400 and close). */
static long long http_content_length(const rc_http_head *h) {
  long long len = 0;
  int seen = 0;
  for (size_t i = 0; i < h->n_headers; i++) {
    const rc_http_header *f = &h->headers[i];
    long long v = 0;
    if (!rc_http_eq(f->name, f->name_len, "Content-Length"))
      continue;
    if (f->value_len == 0 || f->value_len > 15)
      return -1;
    for (size_t k = 0; k < f->value_len; k++) {
      if (f->value[k] < '0' || f->value[k] > '9')
        return -1;
      v = v * 10 + (f->value[k] - '0');
    }
    if (seen && v != len)
      return -1;
    len = v;
    seen = 1;
  }
  return len;
}

rc_err rc__ws_http_request(rc__ws *w, const rc_http_head *h0,
                           size_t head_len) {
  rc_http_head h = *h0;
  size_t max = w->http_body_max ? w->http_body_max : RC_WS_HTTP_BODY_MAX;
  long long len;
  /* HTTP/1.1 persists unless "close" is sent (RFC 9112 §9.3); HTTP/1.0's
   * keep-alive extension is not honoured: it closes. */
  w->keep_alive = h.minor == 1 && !rc_http_has_token(&h, "Connection", "close");
  const rc_http_header *te = rc_http_find(&h, "Transfer-Encoding", NULL);
  if (te) {
    /* RFC 9112 §6.1: a server that receives a transfer coding it does not
     * understand should answer 501; we understand "chunked" alone. With
     * Content-Length too the message is ambiguous (§6.3: a smuggling
     * attempt perhaps): 400, and the connection closes. */
    if (!rc_http_eq(te->value, te->value_len, "chunked"))
      return rc__ws_refuse(w, 501, NULL,
                           "only the chunked transfer coding is understood",
                           RC_ERR_HTTP_PARSE);
    if (rc_http_find(&h, "Content-Length", NULL))
      return rc__ws_refuse(w, 400, NULL,
                           "Transfer-Encoding and Content-Length together",
                           RC_ERR_HTTP_PARSE);
    w->hlen = head_len;
    w->head_len = head_len;
    memset(&w->chunk, 0, sizeof w->chunk);
    w->chunked = 1;
    w->body_len = w->body_need = 0;
    w->state = RC__WS_HTTP_BODY;
    return RC_OK;
  }
  w->chunked = 0;
  len = http_content_length(&h);
  if (len < 0)
    return rc__ws_refuse(w, 400, NULL, "invalid Content-Length",
                         RC_ERR_HTTP_PARSE);
  if ((unsigned long long)len > max)
    return rc__ws_refuse(w, 413, NULL, "request body too large",
                         RC_ERR_TOO_LARGE);
  w->hlen = head_len; /* bytes after the head come again through recv */
  w->head_len = head_len;
  if (len == 0)
    return http_answer(w, &h);
  w->body = w->mem.malloc((size_t)len, w->mem.user);
  if (!w->body)
    return rc__ws_refuse(w, 503, NULL, "out of memory for the body",
                         RC_ERR_NOMEM);
  w->body_need = (size_t)len;
  w->body_len = 0;
  w->state = RC__WS_HTTP_BODY;
  return RC_OK;
}

/* Keeps bytes of the next request while this one is served. */
static void http_hold(rc__ws *w, const uint8_t *data, size_t len) {
  uint8_t *p;
  if (!w->keep_alive || len == 0)
    return; /* the connection closes after this answer */
  if (w->held_len + len > RC_HTTP_MAX_HEAD) {
    /* More than one head's worth ahead of us: no more persistence. */
    w->keep_alive = 0;
    w->mem.free(w->held, w->mem.user);
    w->held = NULL;
    w->held_len = 0;
    return;
  }
  p = w->mem.realloc(w->held, w->held_len + len, w->mem.user);
  if (!p) {
    w->keep_alive = 0;
    return;
  }
  memcpy(p + w->held_len, data, len);
  w->held = p;
  w->held_len += len;
}

/* Decodes chunked body bytes into the body buffer, grown (doubling) up
 * to the limit. Returns RC_OK with *used set, or the error that ended the
 * filter (400 malformed, 413 too large). */
static rc_err http_chunked_in(rc__ws *w, const uint8_t *data, size_t len,
                              size_t *used) {
  size_t max = w->http_body_max ? w->http_body_max : RC_WS_HTTP_BODY_MAX;
  size_t off = 0;
  while (off < len && !rc_http_chunked_done(&w->chunk)) {
    if (w->body_len == w->body_need) {
      size_t cap = w->body_need ? 2 * w->body_need : 1024;
      uint8_t *p;
      if (w->body_need >= max)
        return rc__ws_refuse(w, 413, NULL, "request body too large",
                             RC_ERR_TOO_LARGE);
      if (cap > max)
        cap = max;
      p = w->mem.realloc(w->body, cap, w->mem.user);
      if (!p)
        return rc__ws_refuse(w, 503, NULL, "out of memory for the body",
                             RC_ERR_NOMEM);
      w->body = p;
      w->body_need = cap;
    }
    size_t got = 0;
    rc_ssize r = rc_http_chunked_decode(&w->chunk, data + off, len - off,
                                        w->body + w->body_len,
                                        w->body_need - w->body_len, &got);
    if (r < 0)
      return rc__ws_refuse(w, 400, NULL, "malformed chunked body",
                           RC_ERR_HTTP_PARSE);
    w->body_len += got;
    off += (size_t)r;
  }
  *used = off;
  return RC_OK;
}

rc_err rc__ws_http_input(rc__ws *w, const uint8_t *data, size_t len,
                         size_t *used) {
  rc_http_head h;
  size_t n;
  *used = len;
  if (w->state != RC__WS_HTTP_BODY) {
    http_hold(w, data, len);
    return RC_OK;
  }
  if (w->chunked) {
    rc_err rc = http_chunked_in(w, data, len, used);
    if (rc || !rc_http_chunked_done(&w->chunk))
      return rc;
  } else {
    n = w->body_need - w->body_len;
    if (n > len)
      n = len;
    memcpy(w->body + w->body_len, data, n);
    w->body_len += n;
    *used = n;
    if (w->body_len < w->body_need)
      return RC_OK;
  }
  /* The body is complete: the head again (kept in hbuf), and the answer. */
  if (rc_http_parse_request(w->hbuf, w->head_len, &h, NULL) < 0) {
    rc__ws_finish(w, RC_FILTER_EV_ERROR, RC_ERR_STATE, "HTTP head lost");
    return RC_ERR_STATE;
  }
  return http_answer(w, &h);
}

void rc__ws_http_done(rc__ws *w) {
  uint8_t *held = w->held;
  size_t n = w->held_len;
  if (!w->keep_alive) {
    rc__ws_finish(w, RC_FILTER_EV_CLOSED, 0, "HTTP response sent");
    return;
  }
  w->state = RC__WS_HANDSHAKE;
  w->held = NULL;
  w->held_len = 0;
  if (!w->in_recv)
    rc__ws_event(w, RC_FILTER_EV_ACTIVE, 0, "HTTP response sent");
  if (held) {
    /* The next request, as if it arrived now. */
    (void)rc_filter_recv(&w->base, held, n);
    w->mem.free(held, w->mem.user);
  }
}

void rc__ws_http_free(rc__ws *w) {
  if (w->reply)
    w->reply->w = NULL;
  w->reply = NULL;
  w->mem.free(w->body, w->mem.user);
  w->body = NULL;
  w->mem.free(w->held, w->mem.user);
  w->held = NULL;
  w->held_len = 0;
}

rc_err rc_http_reply_send(rc_http_reply *r, rc_http_response *resp) {
  rc__ws *w;
  rc_err rc;
  if (!r || !resp)
    return RC_ERR_INVAL;
  w = r->w;
  if (!w || w->reply != r || w->state != RC__WS_HTTP_WAIT) {
    if (resp->source.close)
      resp->source.close(resp->source.ctx);
    if (w && w->reply == r)
      w->reply = NULL;
    r->mem.free(r, r->mem.user);
    return RC_ERR_CLOSED;
  }
  w->reply = NULL;
  {
    int head_only = r->head_only;
    w->mem.free(r, w->mem.user);
    w->in_recv++; /* one flush and one EV_ACTIVE at the end */
    rc = http_write(w, resp, head_only);
    w->in_recv--;
  }
  if (rc == RC_OK && w->state != RC__WS_DONE)
    rc = rc__ws_flush(w);
  /* Also after EV_CLOSED: the connection drains what is queued. */
  rc__ws_event(w, RC_FILTER_EV_ACTIVE, 0, "HTTP answer");
  return rc;
}
