/*
 * A small strict HTTP/1.1 head parser (RFC 9112 §2-§5) for the WebSocket
 * opening handshake and the static files served beside it. It parses line
 * by line over the caller's buffer, so an error in a complete line is
 * reported before the rest of the head arrives, and it returns views into
 * the buffer (the picohttpparser model: "consumed / need more / error").
 * Anything RFC 9112 lets a server reject, it rejects: bare CR or LF,
 * obs-fold, whitespace before the colon, control characters in values.
 */
#include <string.h>

#include "rcoap/transport_http.h"

/* tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
 *         "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA   (RFC 9110 §5.6.2) */
static int http_is_tchar(uint8_t c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
      (c >= 'A' && c <= 'Z'))
    return 1;
  return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar / SP / HTAB (RFC 9110 §5.5); obs-text allowed. */
static int http_is_value_char(uint8_t c) {
  return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int http_lower(int c) {
  return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

int rc_http_eq(const char *s, size_t n, const char *lit) {
  size_t i;
  for (i = 0; i < n; i++) {
    if (lit[i] == '\0' || http_lower((unsigned char)s[i]) !=
                              http_lower((unsigned char)lit[i]))
      return 0;
  }
  return lit[n] == '\0';
}

/*
 * Finds the end of the line starting at p. Returns the line length
 * without CRLF and sets *next past the CRLF; or RC_ERR_NEED_MORE; or
 * RC_ERR_LIMIT when the line is longer than RC_HTTP_MAX_LINE; or
 * RC_ERR_HTTP_PARSE for an LF without CR before it.
 */
static rc_ssize http_line(const uint8_t *p, const uint8_t *end,
                          const uint8_t **next) {
  size_t avail = (size_t)(end - p);
  size_t scan = avail < RC_HTTP_MAX_LINE + 2 ? avail : RC_HTTP_MAX_LINE + 2;
  const uint8_t *lf = memchr(p, '\n', scan);
  if (!lf)
    return scan == RC_HTTP_MAX_LINE + 2 ? RC_ERR_LIMIT : RC_ERR_NEED_MORE;
  /* RFC 9112 §2.2: a bare LF MAY be accepted; we are strict. */
  if (lf == p || lf[-1] != '\r')
    return RC_ERR_HTTP_PARSE;
  *next = lf + 1;
  return (rc_ssize)(lf - 1 - p);
}

/* HTTP-version = "HTTP/" DIGIT "." DIGIT. Returns the minor version (0 or
 * 1), -505 for a well-formed other version, -400 when malformed. */
static int http_version(const uint8_t *v, size_t n) {
  if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' ||
      v[5] > '9' || v[7] < '0' || v[7] > '9')
    return -400;
  if (v[5] != '1' || v[7] > '1')
    return -505;
  return v[7] - '0';
}

/* request-line = method SP request-target SP HTTP-version. Returns 0 or
 * the HTTP status to answer with. */
static int http_request_line(const uint8_t *l, size_t n, rc_http_head *h) {
  size_t i = 0, t;
  int v;
  while (i < n && http_is_tchar(l[i]))
    i++;
  if (i == 0 || i >= n || l[i] != ' ')
    return 400;
  h->method = (const char *)l;
  h->method_len = i;
  t = ++i;
  while (i < n && l[i] > 0x20 && l[i] < 0x7f)
    i++;
  if (i == t || i >= n || l[i] != ' ')
    return 400;
  h->target = (const char *)l + t;
  h->target_len = i - t;
  v = http_version(l + i + 1, n - i - 1);
  if (v < 0)
    return -v;
  h->minor = v;
  return 0;
}

/* status-line = HTTP-version SP status-code SP [ reason-phrase ].
 * Returns 0 or -1 when malformed. A missing SP before an empty reason is
 * tolerated: some servers send "HTTP/1.1 101". */
static int http_status_line(const uint8_t *l, size_t n, rc_http_head *h) {
  size_t i;
  int v;
  if (n < 12 || l[8] != ' ')
    return -1;
  v = http_version(l, 8);
  if (v < 0)
    return -1;
  h->minor = v;
  for (i = 9; i < 12; i++) {
    if (l[i] < '0' || l[i] > '9')
      return -1;
  }
  h->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
  if (n == 12) {
    h->reason = (const char *)l + 12;
    h->reason_len = 0;
    return 0;
  }
  if (l[12] != ' ')
    return -1;
  for (i = 13; i < n; i++) {
    if (!http_is_value_char(l[i]))
      return -1;
  }
  h->reason = (const char *)l + 13;
  h->reason_len = n - 13;
  return 0;
}

/* field-line = field-name ":" OWS field-value OWS. Returns 0 or -1. */
static int http_field_line(const uint8_t *l, size_t n, rc_http_header *f) {
  size_t i = 0, vs, ve;
  /* RFC 9112 §5.1: "No whitespace is allowed between the field name and
   * colon. ... A server MUST reject, with a response status code of 400
   * (Bad Request), any received request message that contains whitespace
   * between a header field name and colon." A leading SP/HTAB is obs-fold
   * (§5.2), which we reject the same way. */
  while (i < n && http_is_tchar(l[i]))
    i++;
  if (i == 0 || i >= n || l[i] != ':')
    return -1;
  f->name = (const char *)l;
  f->name_len = i;
  vs = i + 1;
  while (vs < n && (l[vs] == ' ' || l[vs] == '\t'))
    vs++;
  ve = n;
  while (ve > vs && (l[ve - 1] == ' ' || l[ve - 1] == '\t'))
    ve--;
  for (i = vs; i < ve; i++) {
    if (!http_is_value_char(l[i]))
      return -1;
  }
  f->value = (const char *)l + vs;
  f->value_len = ve - vs;
  return 0;
}

static rc_ssize http_fail(int *status, int code) {
  if (status)
    *status = code;
  return RC_ERR_HTTP_PARSE;
}

static rc_ssize http_parse(const uint8_t *buf, size_t len, rc_http_head *h,
                           int *status, int request) {
  const uint8_t *end = buf + (len < RC_HTTP_MAX_HEAD ? len : RC_HTTP_MAX_HEAD);
  const uint8_t *p = buf, *next = NULL;
  rc_ssize n;
  int st;

  h->line = NULL;
  h->line_len = 0;
  h->method = h->target = h->reason = NULL;
  h->method_len = h->target_len = h->reason_len = 0;
  h->status = 0;
  h->minor = 0;
  h->n_headers = 0;
  h->body = NULL;
  h->body_len = 0;

  n = http_line(p, end, &next);
  if (n == RC_ERR_NEED_MORE && request) {
    /* Refuse at once what cannot become a request line (a TLS
     * ClientHello sent to a plain port, binary noise) instead of waiting
     * for a line end that may never come. */
    const uint8_t *q;
    for (q = p; q < end; q++) {
      if ((*q < 0x20 && !(*q == '\r' && q + 1 == end)) || *q >= 0x7f)
        return http_fail(status, 400);
    }
  }
  if (n == RC_ERR_NEED_MORE)
    return len >= RC_HTTP_MAX_HEAD ? http_fail(status, 431) : n;
  if (n == RC_ERR_LIMIT)
    return http_fail(status, request ? 414 : 400);
  if (n < 0)
    return http_fail(status, 400);
  h->line = (const char *)p;
  h->line_len = (size_t)n;
  st = request ? http_request_line(p, (size_t)n, h)
               : (http_status_line(p, (size_t)n, h) ? 400 : 0);
  if (st)
    return http_fail(status, st);
  p = next;

  for (;;) {
    n = http_line(p, end, &next);
    if (n == RC_ERR_NEED_MORE)
      return len >= RC_HTTP_MAX_HEAD ? http_fail(status, 431) : n;
    if (n == RC_ERR_LIMIT)
      return http_fail(status, request ? 431 : 400);
    if (n < 0)
      return http_fail(status, 400);
    if (n == 0)
      return (rc_ssize)(next - buf);
    if (h->n_headers == RC_HTTP_MAX_HEADERS)
      return http_fail(status, 431);
    if (http_field_line(p, (size_t)n, &h->headers[h->n_headers]))
      return http_fail(status, 400);
    h->n_headers++;
    p = next;
  }
}

rc_ssize rc_http_parse_request(const uint8_t *buf, size_t len, rc_http_head *h,
                               int *status) {
  if (status)
    *status = 0;
  if (!buf || !h)
    return http_fail(status, 400);
  return http_parse(buf, len, h, status, 1);
}

rc_ssize rc_http_parse_response(const uint8_t *buf, size_t len,
                                rc_http_head *h) {
  if (!buf || !h)
    return RC_ERR_HTTP_PARSE;
  return http_parse(buf, len, h, NULL, 0);
}

const rc_http_header *rc_http_find(const rc_http_head *h, const char *name,
                                   size_t *count) {
  const rc_http_header *first = NULL;
  size_t i, c = 0;
  for (i = 0; i < h->n_headers; i++) {
    if (rc_http_eq(h->headers[i].name, h->headers[i].name_len, name)) {
      if (!first)
        first = &h->headers[i];
      c++;
    }
  }
  if (count)
    *count = c;
  return first;
}

int rc_http_has_token(const rc_http_head *h, const char *name,
                      const char *token) {
  size_t i;
  for (i = 0; i < h->n_headers; i++) {
    const rc_http_header *f = &h->headers[i];
    size_t s = 0;
    if (!rc_http_eq(f->name, f->name_len, name))
      continue;
    /* #element lists: elements separated by "," with OWS around them
     * (RFC 9110 §5.6.1); empty elements are allowed and skipped. */
    while (s <= f->value_len) {
      size_t e = s, a, b;
      while (e < f->value_len && f->value[e] != ',')
        e++;
      a = s;
      b = e;
      while (a < b && (f->value[a] == ' ' || f->value[a] == '\t'))
        a++;
      while (b > a && (f->value[b - 1] == ' ' || f->value[b - 1] == '\t'))
        b--;
      if (b > a && rc_http_eq(f->value + a, b - a, token))
        return 1;
      s = e + 1;
    }
  }
  return 0;
}

const char *rc_http_reason(int status) {
  switch (status) {
  case 101: return "Switching Protocols";
  case 200: return "OK";
  case 201: return "Created";
  case 204: return "No Content";
  case 301: return "Moved Permanently";
  case 304: return "Not Modified";
  case 400: return "Bad Request";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 406: return "Not Acceptable";
  case 409: return "Conflict";
  case 411: return "Length Required";
  case 412: return "Precondition Failed";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 422: return "Unprocessable Content";
  case 426: return "Upgrade Required";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  case 508: return "Loop Detected";
  default: return "Unknown";
  }
}

void rc_http_response_text(rc_http_response *resp, int status,
                           const char *text) {
  resp->status = status;
  resp->content_type = "text/plain; charset=utf-8";
  resp->extra_headers = NULL;
  resp->body = (const uint8_t *)text;
  resp->body_len = strlen(text);
  resp->source.read = NULL;
  resp->source.close = NULL;
  resp->source.ctx = NULL;
  resp->content_length = 0;
}

