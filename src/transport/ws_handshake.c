/*
 * The WebSocket opening handshake (RFC 6455 §4) as RFC 8323 §4.1 uses it,
 * for both ends of the ws filter, plus the refusals a server port gives
 * (requests that are not upgrades go to ws_http.c). The server collects the
 * request head (at most RC_HTTP_MAX_HEAD bytes), decides, and answers
 * either 101 or a refusal whose status line, Content-Type, Content-Length,
 * Connection: close and one-line body say why; the client sends its
 * request with a fresh nonce and checks the 101 it gets back. SHA-1,
 * base64 and randomness come from OpenSSL.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "transport/ws_int.h"

/* RFC 6455 §1.3 / §4.2.2: the GUID appended to the key before hashing. */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/* base64 of RC_WS_KEY_LEN bytes: 24 characters, the last two "=". */
#define WS_KEY_B64_LEN 24

rc_err rc_ws_accept_key(const char *key, size_t key_len,
                        char out[RC_WS_ACCEPT_SIZE]) {
  unsigned char buf[128], md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (!key || !out || key_len == 0 || key_len + sizeof(ws_guid) > sizeof(buf))
    return RC_ERR_INVAL;
  memcpy(buf, key, key_len);
  memcpy(buf + key_len, ws_guid, sizeof(ws_guid) - 1);
  if (EVP_Digest(buf, key_len + sizeof(ws_guid) - 1, md, &md_len, EVP_sha1(),
                 NULL) != 1 ||
      md_len != 20)
    return RC_ERR_TLS;
  if (EVP_EncodeBlock((unsigned char *)out, md, 20) != RC_WS_ACCEPT_SIZE - 1)
    return RC_ERR_TLS;
  return RC_OK;
}

/* ---- collecting the head ----------------------------------------------- */

/* Copies handshake bytes into the head buffer. Returns 1 when a parse is
 * worth trying (a line ended, or the buffer is full), 0 when not, or
 * RC_ERR_NOMEM. *took is how many bytes of data were copied. */
static int hs_collect(rc__ws *w, const uint8_t *data, size_t len,
                      size_t *took) {
  size_t room, n;
  if (!w->hbuf) {
    w->hbuf = w->mem.malloc(RC_HTTP_MAX_HEAD, w->mem.user);
    if (!w->hbuf)
      return RC_ERR_NOMEM;
  }
  room = RC_HTTP_MAX_HEAD - w->hlen;
  n = len < room ? len : room;
  if (n)
    memcpy(w->hbuf + w->hlen, data, n);
  w->hlen += n;
  *took = n;
  if (w->hlen == RC_HTTP_MAX_HEAD || (n && memchr(data, '\n', n)))
    return 1;
  /* Before the first line ends, a byte that cannot be in it, or a line
   * already too long, is worth a parse too: the parser refuses either at
   * once. */
  if (w->hlen == n || !memchr(w->hbuf, '\n', w->hlen - n)) {
    size_t i;
    if (w->hlen > RC_HTTP_MAX_LINE + 1)
      return 1; /* 414 */
    for (i = 0; i < n; i++) {
      if ((data[i] < 0x20 && data[i] != '\r') || data[i] >= 0x7f)
        return 1;
    }
  }
  return 0;
}

static void hs_done_with_head(rc__ws *w) {
  w->mem.free(w->hbuf, w->mem.user);
  w->hbuf = NULL;
  w->hlen = 0;
}

/* ---- server ------------------------------------------------------------ */

rc_err rc__ws_refuse(rc__ws *w, int status, const char *extra,
                     const char *why, rc_err err) {
  char detail[200];
  size_t wl = strlen(why);
  if (rc__ws_http_head_out(w, status, "text/plain; charset=utf-8",
                           (long long)wl + 1, extra, 0) == RC_OK &&
      rc__ws_append(w, why, wl) == RC_OK)
    (void)rc__ws_append(w, "\n", 1);
  snprintf(detail, sizeof(detail), "refused the WebSocket upgrade: %d %s: %s",
           status, rc_http_reason(status), why);
  rc__ws_finish(w, RC_FILTER_EV_ERROR, err, detail);
  return err;
}

/* A valid Sec-WebSocket-Key: base64 of exactly 16 bytes (RFC 6455 §4.2.1
 * item 5: "when decoded, is 16 bytes in length"). */
static int hs_key_valid(const char *k, size_t n) {
  unsigned char raw[WS_KEY_B64_LEN];
  size_t i;
  if (n != WS_KEY_B64_LEN || k[22] != '=' || k[23] != '=')
    return 0;
  for (i = 0; i < 22; i++) {
    char c = k[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
          (c >= '0' && c <= '9') || c == '+' || c == '/'))
      return 0;
  }
  /* EVP_DecodeBlock counts the padding as zero bytes: 16 + 2. */
  return EVP_DecodeBlock(raw, (const unsigned char *)k, (int)n) == 18;
}

static rc_err hs_open(rc__ws *w, rc_ws_subproto proto) {
  char detail[64];
  rc_err rc;
  hs_done_with_head(w);
  w->state = RC__WS_OPEN;
  w->proto = proto;
  /* The 101 (server) goes out before anything EV_OPEN makes the session
   * send. */
  rc = rc__ws_flush(w);
  if (rc)
    return rc;
  snprintf(detail, sizeof(detail), "WebSocket open, subprotocol %s",
           proto == RC_WS_SUBPROTO_COAP ? "coap" : "coap.v1");
  rc__ws_event(w, RC_FILTER_EV_OPEN, (int)proto, detail);
  return RC_OK;
}

static rc_err hs_server_decide(rc__ws *w, const rc_http_head *h,
                               size_t head_len) {
  const rc_http_header *key, *ver, *origin;
  size_t n_key, n_ver, n_host, plen = 0, i;
  char accept[RC_WS_ACCEPT_SIZE];
  rc_ws_subproto proto;
  rc_err rc;
  int status, path_match;

  while (plen < h->target_len && h->target[plen] != '?')
    plen++;
  path_match = plen == strlen(w->path) && memcmp(h->target, w->path, plen) == 0;
  if (!rc_http_has_token(h, "Upgrade", "websocket")) {
    if (path_match)
      return rc__ws_refuse(w, 426, "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
                       "this is a CoAP over WebSocket endpoint: send a "
                       "WebSocket upgrade (subprotocol coap)",
                       RC_ERR_WS_HANDSHAKE);
    return rc__ws_http_request(w, h, head_len);
  }
  if (!path_match)
    return rc__ws_http_request(w, h, head_len);

  /* RFC 6455 §4.2.1: "An HTTP/1.1 or higher GET request". */
  if (!rc_http_eq(h->method, h->method_len, "GET"))
    return rc__ws_refuse(w, 405, "Allow: GET\r\n",
                     "a WebSocket upgrade must use GET", RC_ERR_WS_HANDSHAKE);
  if (h->minor != 1)
    return rc__ws_refuse(w, 400, NULL, "a WebSocket upgrade needs HTTP/1.1",
                     RC_ERR_WS_HANDSHAKE);
  /* RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status
   * code to any HTTP/1.1 request message that lacks a Host header field
   * and to any request message that contains more than one Host header
   * field line". */
  (void)rc_http_find(h, "Host", &n_host);
  if (n_host != 1)
    return rc__ws_refuse(w, 400, NULL, "missing or repeated Host header",
                     RC_ERR_WS_HANDSHAKE);
  /* RFC 6455 §4.2.1 item 4: "A |Connection| header field that includes
   * the token "Upgrade"". */
  if (!rc_http_has_token(h, "Connection", "Upgrade"))
    return rc__ws_refuse(w, 400, NULL, "Connection header lacks Upgrade",
                     RC_ERR_WS_HANDSHAKE);
  /* RFC 6455 §4.4: "If the server doesn't support the requested version,
   * it MUST respond with a |Sec-WebSocket-Version| header field (or
   * multiple |Sec-WebSocket-Version| header fields) containing all
   * versions it is willing to use", with 426 (§4.2.2). */
  ver = rc_http_find(h, "Sec-WebSocket-Version", &n_ver);
  if (n_ver != 1 || !rc_http_eq(ver->value, ver->value_len, "13"))
    return rc__ws_refuse(w, 426, "Sec-WebSocket-Version: 13\r\n",
                     "unsupported WebSocket version: this server speaks 13",
                     RC_ERR_WS_HANDSHAKE);
  key = rc_http_find(h, "Sec-WebSocket-Key", &n_key);
  if (n_key != 1 || !hs_key_valid(key->value, key->value_len))
    return rc__ws_refuse(w, 400, NULL,
                     "Sec-WebSocket-Key must be base64 of 16 bytes",
                     RC_ERR_WS_HANDSHAKE);
  /* RFC 6455 §4.2.2 item 4 / §10.2: a server that checks origins answers
   * a disallowed one with 403. Clients that send no Origin are not
   * browsers, and the check does not apply to them. */
  origin = rc_http_find(h, "Origin", NULL);
  if (w->n_origins && origin) {
    int ok = 0;
    for (i = 0; i < w->n_origins && !ok; i++)
      ok = rc_http_eq(origin->value, origin->value_len, w->origins[i]);
    if (!ok)
      return rc__ws_refuse(w, 403, NULL, "origin not allowed",
                       RC_ERR_WS_HANDSHAKE);
  }
  /* RFC 8323 §4.1: "The WebSocket client MUST include the subprotocol name
   * "coap" in the list of protocols"; draft-savolainen-...-02 §2.1 used
   * "coap.v1". RFC 8323 wins when both are offered. */
  if (rc_http_has_token(h, "Sec-WebSocket-Protocol", "coap"))
    proto = RC_WS_SUBPROTO_COAP;
  else if (rc_http_has_token(h, "Sec-WebSocket-Protocol", "coap.v1"))
    proto = RC_WS_SUBPROTO_COAP_V1;
  else
    return rc__ws_refuse(w, 400, NULL,
                     "no acceptable subprotocol: offer \"coap\" (RFC 8323)",
                     RC_ERR_WS_HANDSHAKE);

  rc = rc_ws_accept_key(key->value, key->value_len, accept);
  if (rc)
    return rc__ws_refuse(w, 500, NULL, "cannot compute Sec-WebSocket-Accept", rc);
  /* Extensions (Sec-WebSocket-Extensions) are not accepted: the answer
   * names none, so none is in use (RFC 6455 §9.1). */
  rc = rc__ws_reserve(w, 256);
  if (rc)
    return rc__ws_refuse(w, 500, NULL, "out of memory", rc);
  status = snprintf((char *)w->out + w->out_len, 256,
                    "HTTP/1.1 101 Switching Protocols\r\n"
                    "Upgrade: websocket\r\n"
                    "Connection: Upgrade\r\n"
                    "Sec-WebSocket-Accept: %s\r\n"
                    "Sec-WebSocket-Protocol: %s\r\n\r\n",
                    accept, proto == RC_WS_SUBPROTO_COAP ? "coap" : "coap.v1");
  w->out_len += (size_t)status;
  return hs_open(w, proto);
}

rc_err rc__ws_server_handshake(rc__ws *w, const uint8_t *data, size_t len,
                               size_t *used) {
  static const char *const why[] = {"malformed HTTP request",
                                    "request line too long",
                                    "request header fields too large",
                                    "HTTP version not supported"};
  rc_http_head h;
  size_t before = w->hlen, took = 0;
  int status = 0, go;
  rc_ssize r;

  go = hs_collect(w, data, len, &took);
  *used = took;
  if (go < 0) {
    rc__ws_finish(w, RC_FILTER_EV_ERROR, RC_ERR_NOMEM, "out of memory");
    return RC_ERR_NOMEM;
  }
  if (!go)
    return RC_OK;
  r = rc_http_parse_request(w->hbuf, w->hlen, &h, &status);
  if (r == RC_ERR_NEED_MORE)
    return RC_OK;
  if (r < 0)
    return rc__ws_refuse(w, status,
                     NULL,
                     why[status == 414 ? 1 : status == 431 ? 2 : status == 505 ? 3 : 0],
                     RC_ERR_HTTP_PARSE);
  *used = (size_t)r - before;
  return hs_server_decide(w, &h, (size_t)r);
}

/* ---- client ------------------------------------------------------------ */

rc_err rc_ws_client_start(rc_filter *f) {
  rc__ws *w = rc__ws_of(f);
  unsigned char nonce[RC_WS_KEY_LEN];
  char key[WS_KEY_B64_LEN + 1], hostport[300];
  uint16_t def;
  rc_err rc;
  int n;
  if (!w || w->server || w->started || w->state != RC__WS_HANDSHAKE)
    return RC_ERR_STATE;
  /* RFC 6455 §4.1 item 7: "The nonce MUST be selected randomly for each
   * connection." */
  if (RAND_bytes(nonce, sizeof(nonce)) != 1)
    return RC_ERR_TLS;
  if (EVP_EncodeBlock((unsigned char *)key, nonce, sizeof(nonce)) !=
      WS_KEY_B64_LEN)
    return RC_ERR_TLS;
  rc = rc_ws_accept_key(key, WS_KEY_B64_LEN, w->accept);
  if (rc)
    return rc;
  /* RFC 6455 §4.1 item 4: Host carries the host and, when not the
   * default, the port; an IPv6 literal goes in brackets (RFC 3986). */
  def = w->tls ? 443 : 80;
  n = snprintf(hostport, sizeof(hostport), strchr(w->host, ':') ? "[%s]" : "%s",
               w->host);
  if (n < 0 || (size_t)n >= sizeof(hostport))
    return RC_ERR_INVAL;
  if (w->port && w->port != def)
    snprintf(hostport + n, sizeof(hostport) - (size_t)n, ":%u",
             (unsigned)w->port);
  rc = rc__ws_reserve(w, 512 + strlen(w->path) + strlen(hostport) +
                             (w->origin ? strlen(w->origin) : 0));
  if (rc)
    return rc;
  n = snprintf((char *)w->out + w->out_len, w->out_cap - w->out_len,
               "GET %s HTTP/1.1\r\n"
               "Host: %s\r\n"
               "Upgrade: websocket\r\n"
               "Connection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Protocol: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n"
               "%s%s%s"
               "\r\n",
               w->path, hostport, key, w->offer_v1 ? "coap, coap.v1" : "coap",
               w->origin ? "Origin: " : "", w->origin ? w->origin : "",
               w->origin ? "\r\n" : "");
  if (n < 0 || (size_t)n >= w->out_cap - w->out_len)
    return RC_ERR_NOMEM;
  w->out_len += (size_t)n;
  w->started = 1;
  return rc__ws_flush(w);
}

static rc_err hs_client_fail(rc__ws *w, const char *detail) {
  rc__ws_finish(w, RC_FILTER_EV_ERROR, RC_ERR_WS_HANDSHAKE, detail);
  return RC_ERR_WS_HANDSHAKE;
}

rc_err rc__ws_client_handshake(rc__ws *w, const uint8_t *data, size_t len,
                               size_t *used) {
  const rc_http_header *acc, *proto;
  size_t before = w->hlen, took = 0, n_proto;
  rc_ws_subproto p;
  char detail[200];
  rc_http_head h;
  rc_ssize r;
  int go;

  if (!w->started)
    return RC_ERR_STATE;
  go = hs_collect(w, data, len, &took);
  *used = took;
  if (go < 0) {
    rc__ws_finish(w, RC_FILTER_EV_ERROR, RC_ERR_NOMEM, "out of memory");
    return RC_ERR_NOMEM;
  }
  if (!go)
    return RC_OK;
  r = rc_http_parse_response(w->hbuf, w->hlen, &h);
  if (r == RC_ERR_NEED_MORE)
    return RC_OK;
  if (r < 0)
    return hs_client_fail(w, "malformed HTTP response to the WebSocket upgrade");
  *used = (size_t)r - before;
  /* RFC 6455 §4.1: "If the status code received from the server is not
   * 101, the client handles the response per HTTP procedures." For us
   * that is a failed connection whose detail shows the status line. */
  if (h.status != 101) {
    snprintf(detail, sizeof(detail), "server refused the upgrade: %.*s",
             (int)(h.line_len > 120 ? 120 : h.line_len), h.line);
    return hs_client_fail(w, detail);
  }
  /* RFC 6455 §4.1, the client's checks of the 101; each failure "MUST
   * _Fail the WebSocket Connection_". */
  if (!rc_http_has_token(&h, "Upgrade", "websocket"))
    return hs_client_fail(w, "101 without Upgrade: websocket");
  if (!rc_http_has_token(&h, "Connection", "Upgrade"))
    return hs_client_fail(w, "101 without Connection: Upgrade");
  acc = rc_http_find(&h, "Sec-WebSocket-Accept", NULL);
  if (!acc || acc->value_len != RC_WS_ACCEPT_SIZE - 1 ||
      memcmp(acc->value, w->accept, RC_WS_ACCEPT_SIZE - 1) != 0)
    return hs_client_fail(w, "Sec-WebSocket-Accept does not match the key");
  if (rc_http_find(&h, "Sec-WebSocket-Extensions", NULL))
    return hs_client_fail(w, "server chose an extension that was not offered");
  proto = rc_http_find(&h, "Sec-WebSocket-Protocol", &n_proto);
  if (!proto || n_proto != 1)
    return hs_client_fail(w, "server did not agree to subprotocol coap");
  if (rc_http_eq(proto->value, proto->value_len, "coap"))
    p = RC_WS_SUBPROTO_COAP;
  else if (w->offer_v1 && rc_http_eq(proto->value, proto->value_len, "coap.v1"))
    p = RC_WS_SUBPROTO_COAP_V1;
  else
    return hs_client_fail(w, "server chose a subprotocol that was not offered");
  return hs_open(w, p);
}
