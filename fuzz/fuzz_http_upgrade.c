/*
 * Fuzzes the HTTP/1.1 request parser and the server side of the ws
 * filter's opening handshake: the input is parsed directly, then fed to a
 * server filter (with an origin allowlist and a plain-HTTP handler) in two
 * pieces split where its first byte says. Requests for "/d..." are
 * deferred and answered after the pieces (rc_http_reply_send), others at
 * once; answers keep the connection alive when the target's length is
 * even, so several requests, bodies (Content-Length, at most 64 bytes)
 * and pipelined bytes follow one another. Nothing may crash or leak, and
 * every answer must start with an HTTP status line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rcoap/transport_ws.h"

static rc_err up(void *c, const uint8_t *d, size_t n, int fl) {
  (void)c, (void)d, (void)n, (void)fl;
  return RC_OK;
}
static rc_err down(void *c, const uint8_t *d, size_t n) {
  int *first = c;
  if (*first && (n < 9 || memcmp(d, "HTTP/1.1 ", 9) != 0))
    abort(); /* the first bytes out are always a status line */
  *first = 0;
  return RC_OK;
}
static rc_http_reply *deferred;

static void http(void *u, const rc_http_head *req, rc_http_response *r) {
  (void)u;
  if (req->body_len && !req->body)
    abort();
  if (!deferred && req->target_len > 1 && req->target[1] == 'd' && r->reply) {
    deferred = r->reply;
    r->deferred = 1;
    return;
  }
  rc_http_response_text(r, req->target_len > 3 ? 200 : 404, "x\n");
  r->keep_alive = req->target_len % 2 == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const origins[] = {"http://localhost"};
  rc_http_head h;
  int status, first = 1;
  rc_ws_config cfg = {0};
  rc_filter_sink sink = {up, down, NULL, &first};
  rc_filter *f = NULL;
  size_t cut = size ? data[0] % (size + 1) : 0;
  (void)rc_http_parse_request(data, size, &h, &status);
  (void)rc_http_parse_response(data, size, &h);
  cfg.origins = origins;
  cfg.n_origins = 1;
  cfg.on_http = http;
  cfg.http_body_max = 64;
  if (rc_ws_server_new(&f, &cfg, &sink) != RC_OK)
    return 0;
  if (rc_filter_recv(f, data, cut) == RC_OK)
    (void)rc_filter_recv(f, data + cut, size - cut);
  if (deferred && (size & 1)) { /* answered late, or after the filter */
    rc_http_response r = {0};
    rc_http_response_text(&r, 200, "late\n");
    r.keep_alive = 1;
    (void)rc_http_reply_send(deferred, &r);
    deferred = NULL;
  }
  rc_filter_free(f);
  if (deferred) {
    rc_http_response r = {0};
    rc_http_response_text(&r, 200, "gone\n");
    if (rc_http_reply_send(deferred, &r) != RC_ERR_CLOSED)
      abort();
    deferred = NULL;
  }
  return 0;
}
