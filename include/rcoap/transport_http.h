/*
 * HTTP/1.1 message heads, just enough for the WebSocket opening handshake
 * (RFC 6455 §4) and for serving a few static files on the same port: a
 * small strict parser for request and response heads (RFC 9112 §2-§5), a
 * few header helpers, and the response description a plain-HTTP handler
 * fills in. The parser allocates nothing: it takes a complete or partial
 * head in a caller's buffer and returns views into that buffer. Bodies are
 * the taker's (ws_http.c), with the chunked decoder below.
 */
#ifndef RCOAP_TRANSPORT_HTTP_H
#define RCOAP_TRANSPORT_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "rcoap/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits. RFC 9112 §2.3 leaves them to the server ("A server that
 * receives a request-target longer than any URI it wishes to parse MUST
 * respond with a 414"; RFC 6585 §5 gives 431 for oversized header fields).
 * The whole head, request line included, must fit RC_HTTP_MAX_HEAD. */
#define RC_HTTP_MAX_HEAD 8192
#define RC_HTTP_MAX_LINE 4096 /* request/status line and each field line */
#define RC_HTTP_MAX_HEADERS 48

/* One header field; views into the parsed buffer, not NUL-terminated.
 * value has leading and trailing whitespace removed (RFC 9112 §5.1). */
typedef struct rc_http_header {
  const char *name;
  size_t name_len;
  const char *value;
  size_t value_len;
} rc_http_header;

/* A parsed request or response head. Every pointer is a view into the
 * buffer given to the parser, valid while that buffer is. */
typedef struct rc_http_head {
  const char *line; /* the first line, without CRLF (for diagnostics) */
  size_t line_len;
  /* request line (requests only) */
  const char *method;
  size_t method_len;
  const char *target;
  size_t target_len;
  /* status line (responses only) */
  int status;
  const char *reason;
  size_t reason_len;
  int minor; /* HTTP/1.<minor>; only 0 and 1 are accepted */
  rc_http_header headers[RC_HTTP_MAX_HEADERS];
  size_t n_headers;
  /* The request's body (Content-Length bytes), set by the taker (the ws
   * filter) before a handler sees the request; the parser sets NULL, 0. */
  const uint8_t *body;
  size_t body_len;
} rc_http_head;

/*
 * Parses a request head from buf[0..len), which may hold more bytes after
 * the head (they are not looked at). Strict: CRLF line ends, no
 * obs-fold, no whitespace before a colon, tokens where RFC 9112 wants
 * tokens.
 *
 * Returns the length of the head including its blank line; or
 * RC_ERR_NEED_MORE when the head is not complete yet and nothing seen so
 * far is wrong; or RC_ERR_HTTP_PARSE with *status set to the HTTP status
 * to answer with: 400 (malformed), 414 (request line over
 * RC_HTTP_MAX_LINE), 431 (a field line over RC_HTTP_MAX_LINE, more than
 * RC_HTTP_MAX_HEADERS fields, or no end within RC_HTTP_MAX_HEAD bytes),
 * 505 (HTTP version other than 1.0 or 1.1). status may be NULL.
 */
rc_ssize rc_http_parse_request(const uint8_t *buf, size_t len, rc_http_head *h,
                               int *status);

/*
 * Parses a response head (status line + fields) the same way. Returns the
 * head length, RC_ERR_NEED_MORE, or RC_ERR_HTTP_PARSE (malformed, or no
 * end within RC_HTTP_MAX_HEAD bytes).
 */
rc_ssize rc_http_parse_response(const uint8_t *buf, size_t len,
                                rc_http_head *h);

/*
 * The chunked transfer coding of a request body (RFC 9112 §7.1), decoded
 * sans-I/O: zero-fill, then feed the bytes after the head as they come.
 * Chunk extensions are skipped, trailer fields read and dropped. A size
 * line or trailer line longer than RC_HTTP_MAX_LINE is malformed.
 */
typedef struct rc_http_chunked {
  int state;
  uint64_t left;  /* bytes of the current chunk still to come */
  size_t line;    /* bytes of the current size or trailer line */
  int digits;     /* hex digits of the current size */
} rc_http_chunked;

/*
 * Decodes in[0..len): data bytes go to out[0..cap) (*out_len of them).
 * Stops at the end of the body, or when out is full. Returns the input
 * bytes consumed (rc_http_chunked_done() tells whether the body ended),
 * or RC_ERR_HTTP_PARSE (malformed: answer 400 and close).
 */
rc_ssize rc_http_chunked_decode(rc_http_chunked *c, const uint8_t *in,
                                size_t len, uint8_t *out, size_t cap,
                                size_t *out_len);
/* Non-zero once the last chunk and the trailer section were read. */
int rc_http_chunked_done(const rc_http_chunked *c);

/* The first header named name (case-insensitive), or NULL. If count is
 * not NULL it receives how many fields carry that name. */
const rc_http_header *rc_http_find(const rc_http_head *h, const char *name,
                                   size_t *count);

/* Non-zero if any field named name holds token in its comma-separated
 * list (RFC 9110 §5.6.1), compared case-insensitively. */
int rc_http_has_token(const rc_http_head *h, const char *name,
                      const char *token);

/* Non-zero if the n bytes at s equal the NUL-terminated lit, ignoring
 * ASCII case. */
int rc_http_eq(const char *s, size_t n, const char *lit);

/* The standard reason phrase for status ("Not Found"); "Unknown" for an
 * unknown code. */
const char *rc_http_reason(int status);

/*
 * A streamed response body, so a file is sent in chunks without being
 * held in memory. Ownership passes to whoever takes the response (the ws
 * filter): it calls close() exactly once, when the body is done or the
 * connection goes away.
 */
typedef struct rc_http_body_source {
  /* Writes up to cap bytes into buf. Returns the count (0 = end of
   * body) or a negative rc_err. */
  rc_ssize (*read)(void *ctx, uint8_t *buf, size_t cap);
  void (*close)(void *ctx);
  void *ctx;
} rc_http_body_source;

/* A response given after the handler returned (rc_http_reply_send in
 * transport_ws.h). */
typedef struct rc_http_reply rc_http_reply;

/* Room for responder-formatted header lines (ETag, Last-Modified, ...). */
#define RC_HTTP_EXTRA_HEADERS_MAX 512

/*
 * A response, filled in by a plain-HTTP handler. The taker adds
 * Content-Length and Connection: close itself. Either body/body_len (an
 * in-memory body, copied before the handler's caller returns) or source
 * with content_length (streamed) is used; head_only (HEAD requests) sends
 * the head with Content-Length but no body, and still closes the source.
 */
typedef struct rc_http_response {
  int status;               /* 0 is answered as 500 */
  const char *content_type; /* NULL: none sent */
  /* CRLF-terminated header lines to add verbatim, e.g.
   * "Cache-Control: no-cache\r\n"; NULL or "" for none. May point into
   * extra_buf. */
  const char *extra_headers;
  char extra_buf[RC_HTTP_EXTRA_HEADERS_MAX];
  const uint8_t *body;
  size_t body_len;
  rc_http_body_source source; /* source.read == NULL: no stream */
  uint64_t content_length;    /* length of the streamed body */
  int head_only;
  /* The connection may carry the client's next request after this one
   * (HTTP/1.1 persistence, RFC 9112 §9.3), when the request allows it. */
  int keep_alive;
  /* Set by the taker when it can answer later (else NULL). A handler
   * that keeps it sets deferred and leaves the rest of resp unused; it
   * must then call rc_http_reply_send(reply, ...) exactly once. */
  rc_http_reply *reply;
  int deferred;
} rc_http_response;

/* Sets resp to a short text/plain response: status and a body that is
 * the NUL-terminated string text (static storage, not copied). */
void rc_http_response_text(rc_http_response *resp, int status,
                           const char *text);

#ifdef __cplusplus
}
#endif
#endif
