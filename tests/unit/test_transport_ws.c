/*
 * Tests of the WebSocket filter (transport/ws.c, ws_handshake.c): the RFC
 * 6455 accept-key vector; the server's answer to the RFC 8323 request fed
 * whole, one byte at a time and split at every boundary; every refusal
 * with its status and headers; a client and a server wired back to back
 * in memory (messages both ways, masking, fragments, ping/pong, close
 * both ways, batching); hand-made frames for each protocol violation and
 * the close code it draws; the client's checks of the 101; plain HTTP
 * answers, in memory and streamed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcoap/transport_ws.h"

/* ---- an endpoint: a filter plus everything its sink received ----------- */

#define EP_MAX_MSGS 256
#define EP_MAX_EVENTS 8

typedef struct ep {
  rc_filter *f;
  uint8_t *down; /* bytes the filter sent toward the socket */
  size_t down_len, down_cap;
  size_t down_calls;
  uint8_t *msgs[EP_MAX_MSGS];
  size_t msg_len[EP_MAX_MSGS];
  size_t n_msgs;
  int ev[EP_MAX_EVENTS], ev_arg[EP_MAX_EVENTS];
  char ev_detail[EP_MAX_EVENTS][256];
  size_t n_ev;
  int echo;           /* send every message back from inside up() */
  const char *greet;  /* sent from inside EV_OPEN */
} ep;

static rc_err ep_up(void *ctx, const uint8_t *d, size_t n, int flags) {
  ep *e = ctx;
  assert_int_equal(flags, RC_FILTER_MSG_END);
  assert_true(e->n_msgs < EP_MAX_MSGS);
  e->msgs[e->n_msgs] = malloc(n ? n : 1);
  memcpy(e->msgs[e->n_msgs], d, n);
  e->msg_len[e->n_msgs++] = n;
  if (e->echo)
    assert_int_equal(rc_filter_send(e->f, d, n, RC_FILTER_MSG_END), RC_OK);
  return RC_OK;
}

static rc_err ep_down(void *ctx, const uint8_t *d, size_t n) {
  ep *e = ctx;
  if (e->down_cap - e->down_len < n) {
    size_t cap = e->down_cap ? e->down_cap : 4096;
    while (cap - e->down_len < n)
      cap *= 2;
    e->down = realloc(e->down, cap);
    e->down_cap = cap;
  }
  memcpy(e->down + e->down_len, d, n);
  e->down_len += n;
  e->down_calls++;
  return RC_OK;
}

static void ep_event(void *ctx, rc_filter_event ev, int arg,
                     const char *detail) {
  ep *e = ctx;
  assert_true(e->n_ev < EP_MAX_EVENTS);
  e->ev[e->n_ev] = ev;
  e->ev_arg[e->n_ev] = arg;
  snprintf(e->ev_detail[e->n_ev], sizeof(e->ev_detail[0]), "%s",
           detail ? detail : "");
  e->n_ev++;
  if (ev == RC_FILTER_EV_OPEN && e->greet)
    assert_int_equal(rc_filter_send(e->f, (const uint8_t *)e->greet,
                                    strlen(e->greet), RC_FILTER_MSG_END),
                     RC_OK);
}

static rc_filter_sink ep_sink(ep *e) {
  rc_filter_sink s = {ep_up, ep_down, ep_event, e};
  return s;
}

static void ep_clear(ep *e) {
  size_t i;
  for (i = 0; i < e->n_msgs; i++)
    free(e->msgs[i]);
  e->n_msgs = 0;
  e->down_len = 0;
  e->down_calls = 0;
  e->n_ev = 0;
}

static void ep_free(ep *e) {
  ep_clear(e);
  free(e->down);
  rc_filter_free(e->f);
  memset(e, 0, sizeof(*e));
}

static void server_new(ep *e, const rc_ws_config *cfg) {
  rc_ws_config def;
  rc_filter_sink s = ep_sink(e);
  memset(&def, 0, sizeof(def));
  assert_int_equal(rc_ws_server_new(&e->f, cfg ? cfg : &def, &s), RC_OK);
}

static void client_new(ep *e, const rc_ws_config *cfg) {
  rc_ws_config def;
  rc_filter_sink s = ep_sink(e);
  memset(&def, 0, sizeof(def));
  def.host = "example.org";
  assert_int_equal(rc_ws_client_new(&e->f, cfg ? cfg : &def, &s), RC_OK);
}

/* Moves a's output into b, and b's into a, until both are quiet. */
static void pump(ep *a, ep *b) {
  int round;
  for (round = 0; round < 50; round++) {
    uint8_t *tmp;
    size_t n;
    if (a->down_len == 0 && b->down_len == 0)
      return;
    if (a->down_len) {
      n = a->down_len;
      tmp = malloc(n);
      memcpy(tmp, a->down, n);
      a->down_len = 0;
      (void)rc_filter_recv(b->f, tmp, n);
      free(tmp);
    }
    if (b->down_len) {
      n = b->down_len;
      tmp = malloc(n);
      memcpy(tmp, b->down, n);
      b->down_len = 0;
      (void)rc_filter_recv(a->f, tmp, n);
      free(tmp);
    }
  }
  fail_msg("pump did not settle");
}

/* ---- frames made by hand (RFC 6455 §5.2) ------------------------------- */

static size_t frame(uint8_t *out, int fin, int rsv, int op, int masked,
                    const uint8_t *p, size_t n) {
  static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d}; /* RFC 6455 §5.7 */
  size_t o = 0, i;
  out[o++] = (uint8_t)((fin ? 0x80 : 0) | (rsv << 4) | op);
  if (n < 126) {
    out[o++] = (uint8_t)((masked ? 0x80 : 0) | n);
  } else if (n < 65536) {
    out[o++] = (uint8_t)((masked ? 0x80 : 0) | 126);
    out[o++] = (uint8_t)(n >> 8);
    out[o++] = (uint8_t)n;
  } else {
    out[o++] = (uint8_t)((masked ? 0x80 : 0) | 127);
    for (i = 0; i < 8; i++)
      out[o++] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
  }
  if (masked) {
    memcpy(out + o, key, 4);
    o += 4;
  }
  for (i = 0; i < n; i++)
    out[o + i] = masked ? (uint8_t)(p[i] ^ key[i % 4]) : p[i];
  return o + n;
}

/* ---- handshake ---------------------------------------------------------- */

static const char rfc8323_req[] = "GET /.well-known/coap HTTP/1.1\r\n"
                                  "Host: example.org\r\n"
                                  "Upgrade: websocket\r\n"
                                  "Connection: Upgrade\r\n"
                                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                  "Sec-WebSocket-Protocol: coap\r\n"
                                  "Sec-WebSocket-Version: 13\r\n"
                                  "\r\n";

/* RFC 8323 §4.1's response; the accept value is RFC 6455 §1.3's (the
 * last characters are a letter O and a lower-case o, not a zero). */
static const char rfc8323_resp[] =
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    "Sec-WebSocket-Protocol: coap\r\n"
    "\r\n";

static void test_accept_key(void **state) {
  char out[RC_WS_ACCEPT_SIZE];
  (void)state;
  assert_int_equal(rc_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, out), RC_OK);
  assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  assert_int_equal(rc_ws_accept_key(NULL, 0, out), RC_ERR_INVAL);
}

static void check_open(ep *s) {
  assert_int_equal(s->down_len, strlen(rfc8323_resp));
  assert_memory_equal(s->down, rfc8323_resp, s->down_len);
  assert_int_equal(s->n_ev, 1);
  assert_int_equal(s->ev[0], RC_FILTER_EV_OPEN);
  assert_int_equal(s->ev_arg[0], RC_WS_SUBPROTO_COAP);
  assert_true(rc_ws_handshake_done(s->f));
  assert_int_equal(rc_ws_subprotocol(s->f), RC_WS_SUBPROTO_COAP);
}

static void test_server_rfc8323(void **state) {
  ep s = {0};
  size_t n = strlen(rfc8323_req), i, cut;
  (void)state;
  /* whole */
  server_new(&s, NULL);
  assert_false(rc_ws_handshake_done(s.f));
  assert_int_equal(rc_filter_recv(s.f, (const uint8_t *)rfc8323_req, n), RC_OK);
  check_open(&s);
  ep_free(&s);
  /* one byte at a time */
  server_new(&s, NULL);
  for (i = 0; i < n; i++) {
    assert_int_equal(s.n_ev, 0);
    assert_int_equal(rc_filter_recv(s.f, (const uint8_t *)rfc8323_req + i, 1),
                     RC_OK);
  }
  check_open(&s);
  ep_free(&s);
  /* split at every boundary, with a frame glued to the end */
  for (cut = 0; cut <= n + 8; cut++) {
    uint8_t buf[512];
    size_t len;
    memcpy(buf, rfc8323_req, n);
    len = n + frame(buf + n, 1, 0, 2, 1, (const uint8_t *)"\x01\x45hi", 4);
    server_new(&s, NULL);
    assert_int_equal(rc_filter_recv(s.f, buf, cut < len ? cut : len), RC_OK);
    if (cut < len)
      assert_int_equal(rc_filter_recv(s.f, buf + cut, len - cut), RC_OK);
    assert_int_equal(s.n_msgs, 1);
    assert_int_equal(s.msg_len[0], 4);
    assert_memory_equal(s.msgs[0], "\x01\x45hi", 4);
    check_open(&s);
    ep_free(&s);
  }
}

/* Parses the refusal in e->down and checks the fixed parts. */
static void check_refusal(ep *e, int status, const char *header,
                          const char *body_part) {
  char buf[2048], line[32];
  char *body;
  size_t blen;
  unsigned long clen;
  const char *cl;
  if (!(e->down_len > 0 && e->down_len < sizeof(buf)))
    fail_msg("down_len %zu, %zu events, first %d", e->down_len, e->n_ev,
             e->n_ev ? e->ev[0] : 0);
  memcpy(buf, e->down, e->down_len);
  buf[e->down_len] = '\0';
  snprintf(line, sizeof(line), "HTTP/1.1 %d ", status);
  if (strncmp(buf, line, strlen(line)) != 0)
    fail_msg("want %s, got: %s", line, buf);
  assert_non_null(strstr(buf, "\r\nContent-Type: text/plain"));
  assert_non_null(strstr(buf, "\r\nConnection: close\r\n"));
  if (header && !strstr(buf, header))
    fail_msg("no %s in: %s", header, buf);
  body = strstr(buf, "\r\n\r\n");
  assert_non_null(body);
  body += 4;
  blen = strlen(body);
  cl = strstr(buf, "Content-Length: ");
  assert_non_null(cl);
  clen = strtoul(cl + 16, NULL, 10);
  assert_int_equal(clen, blen);
  assert_true(blen > 3);
  if (body_part && !strstr(body, body_part))
    fail_msg("no '%s' in body: %s", body_part, body);
  assert_int_equal(e->n_ev, 1);
  assert_int_equal(e->ev[0], RC_FILTER_EV_ERROR);
  assert_false(rc_ws_handshake_done(e->f));
  /* the filter is done: more input is refused, sends too */
  assert_int_equal(rc_filter_recv(e->f, (const uint8_t *)"x", 1), RC_ERR_STATE);
  assert_int_equal(rc_filter_send(e->f, (const uint8_t *)"x", 1, 1),
                   RC_ERR_STATE);
}

typedef struct refusal {
  const char *req;
  int status;
  const char *header;
  const char *body;
  int err;
} refusal;

#define H_HOST "Host: h\r\n"
#define H_UPG "Upgrade: websocket\r\n"
#define H_CONN "Connection: Upgrade\r\n"
#define H_KEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define H_PROTO "Sec-WebSocket-Protocol: coap\r\n"
#define H_VER "Sec-WebSocket-Version: 13\r\n"
#define WK "GET /.well-known/coap HTTP/1.1\r\n"

static void test_server_refusals(void **state) {
  static const refusal cases[] = {
      {"POST /.well-known/coap HTTP/1.1\r\n" H_HOST H_UPG H_CONN H_KEY H_PROTO
       H_VER "\r\n",
       405, "Allow: GET", "GET", RC_ERR_WS_HANDSHAKE},
      {"GET /.well-known/coap HTTP/1.0\r\n" H_HOST H_UPG H_CONN H_KEY H_PROTO
       H_VER "\r\n",
       400, NULL, "HTTP/1.1", RC_ERR_WS_HANDSHAKE},
      {WK H_UPG H_CONN H_KEY H_PROTO H_VER "\r\n", 400, NULL, "Host",
       RC_ERR_WS_HANDSHAKE},
      {WK H_HOST H_HOST H_UPG H_CONN H_KEY H_PROTO H_VER "\r\n", 400, NULL,
       "Host", RC_ERR_WS_HANDSHAKE},
      {WK H_HOST H_UPG "Connection: keep-alive\r\n" H_KEY H_PROTO H_VER "\r\n",
       400, NULL, "Connection", RC_ERR_WS_HANDSHAKE},
      {WK H_HOST H_UPG H_CONN H_KEY H_PROTO "Sec-WebSocket-Version: 8\r\n\r\n",
       426, "\r\nSec-WebSocket-Version: 13\r\n", "version",
       RC_ERR_WS_HANDSHAKE},
      {WK H_HOST H_UPG H_CONN H_KEY H_PROTO "\r\n", 426,
       "\r\nSec-WebSocket-Version: 13\r\n", "version", RC_ERR_WS_HANDSHAKE},
      {WK H_HOST H_UPG H_CONN "Sec-WebSocket-Key: c2hvcnQ=\r\n" H_PROTO H_VER
       "\r\n",
       400, NULL, "Sec-WebSocket-Key", RC_ERR_WS_HANDSHAKE},
      {WK H_HOST H_UPG H_CONN "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ*==\r\n"
       H_PROTO H_VER "\r\n",
       400, NULL, "Sec-WebSocket-Key", RC_ERR_WS_HANDSHAKE},
      {WK H_HOST H_UPG H_CONN H_KEY H_KEY H_PROTO H_VER "\r\n", 400, NULL,
       "Sec-WebSocket-Key", RC_ERR_WS_HANDSHAKE},
      {WK H_HOST H_UPG H_CONN H_PROTO H_VER "\r\n", 400, NULL,
       "Sec-WebSocket-Key", RC_ERR_WS_HANDSHAKE},
      {WK H_HOST H_UPG H_CONN H_KEY "Sec-WebSocket-Protocol: mqtt, coapx\r\n"
       H_VER "\r\n",
       400, NULL, "no acceptable subprotocol", RC_ERR_WS_HANDSHAKE},
      {WK H_HOST H_UPG H_CONN H_KEY H_VER "\r\n", 400, NULL,
       "no acceptable subprotocol", RC_ERR_WS_HANDSHAKE},
      {WK H_HOST "\r\n", 426, "\r\nUpgrade: websocket\r\n", "WebSocket",
       RC_ERR_WS_HANDSHAKE},
      {"GET /.well-known/coap HTTP/2.0\r\n\r\n", 505, NULL, NULL,
       RC_ERR_HTTP_PARSE},
      {"GET /.well-known/coap HTTP/1.1\r\nHost : h\r\n\r\n", 400, NULL,
       "malformed", RC_ERR_HTTP_PARSE},
      /* a TLS ClientHello is refused from its first bytes */
      {"\x16\x03\x01\x02", 400, NULL, "malformed", RC_ERR_HTTP_PARSE},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ep s = {0};
    server_new(&s, NULL);
    assert_int_equal(rc_filter_recv(s.f, (const uint8_t *)cases[i].req,
                                    strlen(cases[i].req)),
                     cases[i].err);
    check_refusal(&s, cases[i].status, cases[i].header, cases[i].body);
    assert_int_equal(s.ev_arg[0], cases[i].err);
    ep_free(&s);
  }
}

static void test_server_limits(void **state) {
  static char big[RC_HTTP_MAX_HEAD + 100];
  ep s = {0};
  size_t n, i;
  (void)state;
  /* a head that never ends: 431 once 8 KiB have arrived, fed in pieces */
  n = (size_t)snprintf(big, sizeof(big), WK H_HOST);
  while (n < sizeof(big) - 20)
    n += (size_t)snprintf(big + n, sizeof(big) - n, "X-Pad: aaaaaaaaaaaa\r\n");
  server_new(&s, NULL);
  for (i = 0; i < n && s.n_ev == 0; i += 100)
    (void)rc_filter_recv(s.f, (const uint8_t *)big + i,
                         n - i < 100 ? n - i : 100);
  check_refusal(&s, 431, NULL, "too large");
  ep_free(&s);
  /* a request line with no end: 414 */
  memcpy(big, "GET /", 5);
  memset(big + 5, 'a', RC_HTTP_MAX_LINE + 10);
  server_new(&s, NULL);
  (void)rc_filter_recv(s.f, (const uint8_t *)big, RC_HTTP_MAX_LINE + 15);
  check_refusal(&s, 414, NULL, "too long");
  ep_free(&s);
}

static void test_server_subprotocols_origins(void **state) {
  static const char *const allowed[] = {"http://localhost:8080",
                                        "https://coap.example"};
  rc_ws_config cfg;
  ep s = {0};
  (void)state;
  /* coap.v1 alone */
  server_new(&s, NULL);
  rc_filter_recv(s.f,
                 (const uint8_t *)(WK H_HOST H_UPG H_CONN H_KEY
                                   "Sec-WebSocket-Protocol: coap.v1\r\n" H_VER
                                   "\r\n"),
                 strlen(WK H_HOST H_UPG H_CONN H_KEY
                        "Sec-WebSocket-Protocol: coap.v1\r\n" H_VER "\r\n"));
  assert_int_equal(s.ev[0], RC_FILTER_EV_OPEN);
  assert_int_equal(s.ev_arg[0], RC_WS_SUBPROTO_COAP_V1);
  assert_non_null(memmem(s.down, s.down_len, "Sec-WebSocket-Protocol: coap.v1\r\n",
                         33));
  ep_free(&s);
  /* both offered, coap.v1 first: coap wins; case-insensitive headers */
  server_new(&s, NULL);
  {
    const char *r = "GET /.well-known/coap HTTP/1.1\r\nhost: h\r\n"
                    "UPGRADE: WebSocket\r\nconnection: keep-alive, upgrade\r\n" H_KEY
                    "sec-websocket-protocol: coap.v1, coap\r\n" H_VER "\r\n";
    rc_filter_recv(s.f, (const uint8_t *)r, strlen(r));
  }
  assert_int_equal(s.ev[0], RC_FILTER_EV_OPEN);
  assert_int_equal(s.ev_arg[0], RC_WS_SUBPROTO_COAP);
  ep_free(&s);
  /* origins */
  memset(&cfg, 0, sizeof(cfg));
  cfg.origins = allowed;
  cfg.n_origins = 2;
  server_new(&s, &cfg);
  {
    const char *r = WK H_HOST H_UPG H_CONN H_KEY H_PROTO H_VER
        "Origin: http://evil.example\r\n\r\n";
    assert_int_equal(rc_filter_recv(s.f, (const uint8_t *)r, strlen(r)),
                     RC_ERR_WS_HANDSHAKE);
  }
  check_refusal(&s, 403, NULL, "origin");
  ep_free(&s);
  server_new(&s, &cfg);
  {
    const char *r = WK H_HOST H_UPG H_CONN H_KEY H_PROTO H_VER
        "Origin: https://coap.example\r\n\r\n";
    assert_int_equal(rc_filter_recv(s.f, (const uint8_t *)r, strlen(r)), RC_OK);
  }
  assert_int_equal(s.ev[0], RC_FILTER_EV_OPEN);
  ep_free(&s);
  /* no Origin at all: not a browser, allowed */
  server_new(&s, &cfg);
  assert_int_equal(rc_filter_recv(s.f, (const uint8_t *)rfc8323_req,
                                  strlen(rfc8323_req)),
                   RC_OK);
  check_open(&s);
  ep_free(&s);
}

/* ---- back to back -------------------------------------------------------- */

static void open_pair(ep *c, ep *s, const rc_ws_config *ccfg,
                      const rc_ws_config *scfg) {
  client_new(c, ccfg);
  server_new(s, scfg);
  assert_int_equal(rc_filter_send(c->f, (const uint8_t *)"x", 1, 1),
                   RC_ERR_STATE);
  assert_int_equal(rc_ws_client_start(c->f), RC_OK);
  assert_int_equal(rc_ws_client_start(c->f), RC_ERR_STATE);
  assert_int_equal(rc_ws_client_start(s->f), RC_ERR_STATE);
  pump(c, s);
  assert_true(c->n_ev >= 1);
  assert_int_equal(c->ev[0], RC_FILTER_EV_OPEN);
  assert_int_equal(s->ev[0], RC_FILTER_EV_OPEN);
  assert_true(rc_ws_handshake_done(c->f));
  assert_true(rc_ws_handshake_done(s->f));
}

static void test_pair_messages(void **state) {
  static uint8_t big[1000];
  ep c = {0}, s = {0};
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(big); i++)
    big[i] = (uint8_t)(i * 7);
  s.greet = "\x01\xe1"; /* a first message, sent from inside EV_OPEN */
  c.greet = "\x01\xe1";
  open_pair(&c, &s, NULL, NULL);
  /* the greetings crossed, the server's in the same bytes as its 101 */
  assert_int_equal(c.n_msgs, 1);
  assert_int_equal(s.n_msgs, 1);
  assert_int_equal(c.msg_len[0], 2);
  ep_clear(&c);
  ep_clear(&s);
  /* client -> server: masked on the wire */
  assert_int_equal(rc_filter_send(c.f, big, sizeof(big), 1), RC_OK);
  assert_int_equal(c.down_calls, 1);
  assert_int_equal(c.down[0], 0x82);
  assert_int_equal(c.down[1], 0x80 | 126);
  assert_int_equal(c.down_len, 2 + 2 + 4 + sizeof(big));
  assert_memory_not_equal(c.down + 8, big, 64);
  pump(&c, &s);
  assert_int_equal(s.n_msgs, 1);
  assert_int_equal(s.msg_len[0], sizeof(big));
  assert_memory_equal(s.msgs[0], big, sizeof(big));
  /* server -> client: not masked */
  assert_int_equal(rc_filter_send(s.f, big, 100, 1), RC_OK);
  assert_int_equal(s.down[0], 0x82);
  assert_int_equal(s.down[1], 100);
  assert_memory_equal(s.down + 2, big, 100);
  pump(&c, &s);
  assert_int_equal(c.n_msgs, 1);
  assert_memory_equal(c.msgs[0], big, 100);
  /* empty message */
  assert_int_equal(rc_filter_send(c.f, NULL, 0, 1), RC_OK);
  pump(&c, &s);
  assert_int_equal(s.n_msgs, 2);
  assert_int_equal(s.msg_len[1], 0);
  /* over 64 KiB: the 8-byte length form, fed one byte at a time */
  ep_clear(&c);
  ep_clear(&s);
  rc_filter_free(s.f);
  rc_filter_free(c.f);
  c.f = s.f = NULL;
  {
    rc_ws_config cfg;
    uint8_t *huge = malloc(70000);
    memset(&cfg, 0, sizeof(cfg));
    cfg.max_message = 70000;
    cfg.host = "example.org";
    for (i = 0; i < 70000; i++)
      huge[i] = (uint8_t)(i % 251);
    open_pair(&c, &s, &cfg, &cfg);
    ep_clear(&c);
    ep_clear(&s);
    assert_int_equal(rc_filter_send(c.f, huge, 70000, 1), RC_OK);
    assert_int_equal(c.down[1], 0x80 | 127);
    for (i = 0; i < c.down_len; i++)
      assert_int_equal(rc_filter_recv(s.f, c.down + i, 1), RC_OK);
    assert_int_equal(s.n_msgs, 1);
    assert_int_equal(s.msg_len[0], 70000);
    assert_memory_equal(s.msgs[0], huge, 70000);
    free(huge);
  }
  ep_free(&c);
  ep_free(&s);
}

/* Many messages in one recv: all delivered, and the echoes sent from
 * inside up() leave in one down() call. */
static void test_batching(void **state) {
  uint8_t buf[4096];
  ep c = {0}, s = {0};
  size_t i;
  (void)state;
  open_pair(&c, &s, NULL, NULL);
  ep_clear(&c);
  ep_clear(&s);
  s.echo = 1;
  rc_ws_cork(c.f);
  for (i = 0; i < 50; i++) {
    buf[0] = (uint8_t)i;
    assert_int_equal(rc_filter_send(c.f, buf, 1 + i % 7, 1), RC_OK);
  }
  assert_int_equal(c.down_calls, 0);
  assert_int_equal(rc_ws_uncork(c.f), RC_OK);
  assert_int_equal(c.down_calls, 1);
  assert_int_equal(rc_ws_uncork(c.f), RC_ERR_STATE);
  pump(&c, &s);
  assert_int_equal(s.n_msgs, 50);
  assert_int_equal(s.down_calls, 1);
  assert_int_equal(c.n_msgs, 50);
  for (i = 0; i < 50; i++) {
    assert_int_equal(c.msg_len[i], 1 + i % 7);
    assert_int_equal(c.msgs[i][0], i);
  }
  ep_free(&c);
  ep_free(&s);
}

/* A server fed hand-made client frames. */
static void server_open(ep *s, const rc_ws_config *cfg) {
  server_new(s, cfg);
  assert_int_equal(rc_filter_recv(s->f, (const uint8_t *)rfc8323_req,
                                  strlen(rfc8323_req)),
                   RC_OK);
  assert_int_equal(s->ev[0], RC_FILTER_EV_OPEN);
  ep_clear(s);
}

static void test_fragments_and_ping(void **state) {
  uint8_t msg[300], wire[1024];
  size_t o = 0, i, pieces = 10, step = sizeof(msg) / 10;
  ep s = {0};
  (void)state;
  for (i = 0; i < sizeof(msg); i++)
    msg[i] = (uint8_t)(255 - i);
  server_open(&s, NULL);
  for (i = 0; i < pieces; i++) {
    o += frame(wire + o, i == pieces - 1, 0, i == 0 ? 2 : 0, 1,
               msg + i * step, step);
    if (i == 4) /* a control frame between fragments (RFC 6455 §5.4) */
      o += frame(wire + o, 1, 0, 9, 1, (const uint8_t *)"ping!", 5);
  }
  /* split at every boundary */
  for (i = 0; i <= o; i++) {
    ep_clear(&s);
    rc_filter_free(s.f);
    server_open(&s, NULL);
    assert_int_equal(rc_filter_recv(s.f, wire, i), RC_OK);
    assert_int_equal(rc_filter_recv(s.f, wire + i, o - i), RC_OK);
    assert_int_equal(s.n_msgs, 1);
    assert_int_equal(s.msg_len[0], sizeof(msg));
    assert_memory_equal(s.msgs[0], msg, sizeof(msg));
    /* the pong: unmasked, same application data */
    assert_int_equal(s.down_len, 7);
    assert_memory_equal(s.down, "\x8a\x05ping!", 7);
  }
  assert_int_equal(s.n_ev, 0);
  ep_free(&s);
}

typedef struct violation {
  uint8_t wire[300];
  size_t len;
  unsigned code;
  int err;
} violation;

static void check_close(ep *s, unsigned code, int err) {
  assert_true(s->down_len >= 4);
  assert_int_equal(s->down[0], 0x88);
  assert_int_equal(s->down[1] & 0x80, 0);
  assert_int_equal(((unsigned)s->down[2] << 8) | s->down[3], code);
  assert_int_equal(s->n_ev, 1);
  assert_int_equal(s->ev[0], RC_FILTER_EV_ERROR);
  assert_int_equal(s->ev_arg[0], err);
  {
    char want[32];
    snprintf(want, sizeof(want), "close %u", code);
    assert_non_null(strstr(s->ev_detail[0], want));
  }
}

/* Feeds a message of n pattern bytes to s in two fragments. */
static rc_err feed_fragments(ep *s, size_t n) {
  uint8_t *body = malloc(n), *wire = malloc(n + 64);
  size_t i, o = 0, half = n / 2;
  rc_err rc;
  for (i = 0; i < n; i++)
    body[i] = (uint8_t)(i % 253);
  o += frame(wire, 0, 0, 2, 1, body, half);
  o += frame(wire + o, 1, 0, 0, 1, body + half, n - half);
  rc = rc_filter_recv(s->f, wire, o);
  free(body);
  free(wire);
  return rc;
}

/* Reassembly past RC_WS_MSG_FREE takes its buffer from a shared budget:
 * what fits is delivered and given back; a message that does not fit now
 * closes with 1013, one larger than the whole budget with 1009; the
 * connection's release gives back what a half-received message held. */
static void test_reassembly_budget(void **state) {
  rc_budget *bud;
  rc_ws_config cfg;
  ep a = {0}, b = {0};
  uint8_t *wire = malloc(100000);
  (void)state;
  assert_int_equal(rc_budget_new(&bud, 100 * 1024, NULL), RC_OK);
  memset(&cfg, 0, sizeof(cfg));
  cfg.max_message = 8u << 20;
  cfg.budget = bud;
  server_open(&a, &cfg);
  server_open(&b, &cfg);
  /* 70000 bytes in two fragments: doubling to 128 KiB is refused, the
   * exact 70000 fit; delivered whole, then given back */
  assert_int_equal(feed_fragments(&a, 70000), RC_OK);
  assert_int_equal(a.n_msgs, 1);
  assert_int_equal(a.msg_len[0], 70000);
  assert_int_equal(a.msgs[0][69999], 69999 % 253);
  assert_int_equal(rc_budget_used(bud), 0);
  assert_true(rc_budget_peak(bud) >= 70000);
  /* a holds 90000 of a message still arriving ... */
  {
    static uint8_t part[90000];
    size_t o = frame(wire, 0, 0, 2, 1, part, sizeof part);
    assert_int_equal(rc_filter_recv(a.f, wire, o), RC_OK);
    assert_true(rc_budget_used(bud) >= 90000);
  }
  /* ... so b's 80000 cannot be taken now: 1013 */
  ep_clear(&b);
  assert_int_equal(feed_fragments(&b, 80000), RC_ERR_LIMIT);
  check_close(&b, 1013, RC_ERR_LIMIT);
  assert_int_equal(b.n_msgs, 0);
  /* a larger message than the whole budget: 1009 */
  ep_free(&b);
  server_open(&b, &cfg);
  assert_int_equal(feed_fragments(&b, 300000), RC_ERR_TOO_LARGE);
  check_close(&b, 1009, RC_ERR_TOO_LARGE);
  /* a's connection ends: its half message's bytes go back */
  rc_filter_end(a.f);
  assert_int_equal(rc_budget_used(bud), 0);
  /* ... and after that the filter decodes nothing more and never touches
   * the budget again (regression: the rest of a's half message, arriving
   * after the release, was appended to the freed buffer) */
  {
    static uint8_t rest[60000];
    size_t peak = rc_budget_peak(bud), refusals = rc_budget_refusals(bud);
    size_t o = frame(wire, 1, 0, 0, 1, rest, sizeof rest); /* continuation */
    ep_clear(&a);
    assert_int_equal(rc_filter_recv(a.f, wire, o), RC_ERR_STATE);
    assert_int_equal(a.n_msgs, 0);
    assert_int_equal(rc_budget_used(bud), 0);
    assert_int_equal(rc_budget_peak(bud), peak);
    assert_int_equal(rc_budget_refusals(bud), refusals);
  }
  ep_free(&a);
  ep_free(&b);
  rc_budget_free(bud);
  free(wire);
}

static void test_violations(void **state) {
  static uint8_t big[2000];
  violation v[16];
  size_t n = 0, i;
  rc_ws_config cfg;
  (void)state;
  memset(&cfg, 0, sizeof(cfg));
  cfg.max_message = 100;
  /* unmasked client frame: 1002 */
  v[n].len = frame(v[n].wire, 1, 0, 2, 0, (const uint8_t *)"ab", 2);
  v[n].code = 1002, v[n++].err = RC_ERR_WS_PROTOCOL;
  /* text: 1003 */
  v[n].len = frame(v[n].wire, 1, 0, 1, 1, (const uint8_t *)"ab", 2);
  v[n].code = 1003, v[n++].err = RC_ERR_WS_PROTOCOL;
  /* text, first fragment only: 1003 at once */
  v[n].len = frame(v[n].wire, 0, 0, 1, 1, (const uint8_t *)"ab", 2);
  v[n].code = 1003, v[n++].err = RC_ERR_WS_PROTOCOL;
  /* oversize in one frame: 1009 from the header alone */
  v[n].len = frame(v[n].wire, 1, 0, 2, 1, big, 101);
  v[n].len = 8 + 10; /* only the header and a few bytes arrive */
  v[n].code = 1009, v[n++].err = RC_ERR_TOO_LARGE;
  /* oversize across fragments: 60 + 60 */
  v[n].len = frame(v[n].wire, 0, 0, 2, 1, big, 60);
  v[n].len += frame(v[n].wire + v[n].len, 1, 0, 0, 1, big, 60);
  v[n].code = 1009, v[n++].err = RC_ERR_TOO_LARGE;
  /* reserved bits: 1002 */
  v[n].len = frame(v[n].wire, 1, 4, 2, 1, (const uint8_t *)"ab", 2);
  v[n].code = 1002, v[n++].err = RC_ERR_WS_PROTOCOL;
  /* reserved opcodes 3 and 0xB: 1002 */
  v[n].len = frame(v[n].wire, 1, 0, 3, 1, (const uint8_t *)"ab", 2);
  v[n].code = 1002, v[n++].err = RC_ERR_WS_PROTOCOL;
  v[n].len = frame(v[n].wire, 1, 0, 0xb, 1, (const uint8_t *)"ab", 2);
  v[n].code = 1002, v[n++].err = RC_ERR_WS_PROTOCOL;
  /* continuation without a start: 1002 */
  v[n].len = frame(v[n].wire, 1, 0, 0, 1, (const uint8_t *)"ab", 2);
  v[n].code = 1002, v[n++].err = RC_ERR_WS_PROTOCOL;
  /* a new message inside a fragmented one: 1002 */
  v[n].len = frame(v[n].wire, 0, 0, 2, 1, (const uint8_t *)"ab", 2);
  v[n].len += frame(v[n].wire + v[n].len, 1, 0, 2, 1, (const uint8_t *)"c", 1);
  v[n].code = 1002, v[n++].err = RC_ERR_WS_PROTOCOL;
  /* fragmented ping: 1002 (wslay's frame layer) */
  v[n].len = frame(v[n].wire, 0, 0, 9, 1, (const uint8_t *)"ab", 2);
  v[n].code = 1002, v[n++].err = RC_ERR_WS_PROTOCOL;
  /* close with a 1-byte payload: 1002 */
  v[n].len = frame(v[n].wire, 1, 0, 8, 1, (const uint8_t *)"\x03", 1);
  v[n].code = 1002, v[n++].err = RC_ERR_WS_PROTOCOL;
  /* close codes 999, 1005, 1016, 5000: 1002 */
  v[n].len = frame(v[n].wire, 1, 0, 8, 1, (const uint8_t *)"\x03\xe7", 2);
  v[n].code = 1002, v[n++].err = RC_ERR_WS_PROTOCOL;
  v[n].len = frame(v[n].wire, 1, 0, 8, 1, (const uint8_t *)"\x03\xed", 2);
  v[n].code = 1002, v[n++].err = RC_ERR_WS_PROTOCOL;
  v[n].len = frame(v[n].wire, 1, 0, 8, 1, (const uint8_t *)"\x13\x88", 2);
  v[n].code = 1002, v[n++].err = RC_ERR_WS_PROTOCOL;
  /* close reason not UTF-8: 1007 */
  v[n].len = frame(v[n].wire, 1, 0, 8, 1, (const uint8_t *)"\x03\xe8\xc0\xaf", 4);
  v[n].code = 1007, v[n++].err = RC_ERR_WS_PROTOCOL;
  for (i = 0; i < n; i++) {
    ep s = {0};
    server_open(&s, &cfg);
    (void)rc_filter_recv(s.f, v[i].wire, v[i].len);
    check_close(&s, v[i].code, v[i].err);
    assert_int_equal(s.n_msgs, 0);
    ep_free(&s);
  }
}

static void test_client_rejects_masked(void **state) {
  ep c = {0}, s = {0};
  uint8_t wire[32];
  size_t n;
  (void)state;
  open_pair(&c, &s, NULL, NULL);
  ep_clear(&c);
  n = frame(wire, 1, 0, 2, 1, (const uint8_t *)"ab", 2);
  (void)rc_filter_recv(c.f, wire, n);
  /* the client's close is masked: code at bytes 6-7 xor the key */
  assert_int_equal(c.down[0], 0x88);
  assert_int_equal(c.down[1] & 0x80, 0x80);
  assert_int_equal(((unsigned)(c.down[6] ^ c.down[2]) << 8) |
                       (c.down[7] ^ c.down[3]),
                   1002);
  assert_int_equal(c.ev[0], RC_FILTER_EV_ERROR);
  ep_free(&c);
  ep_free(&s);
}

static void test_close_both_ways(void **state) {
  ep c = {0}, s = {0};
  (void)state;
  /* client starts */
  open_pair(&c, &s, NULL, NULL);
  ep_clear(&c);
  ep_clear(&s);
  assert_int_equal(rc_filter_shutdown(c.f), RC_OK);
  assert_int_equal(rc_filter_send(c.f, (const uint8_t *)"x", 1, 1),
                   RC_ERR_STATE);
  /* a message from the server still arrives after our close was sent */
  assert_int_equal(rc_filter_send(s.f, (const uint8_t *)"late", 4, 1), RC_OK);
  pump(&c, &s);
  assert_int_equal(c.n_msgs, 1);
  assert_int_equal(s.n_ev, 1);
  assert_int_equal(s.ev[0], RC_FILTER_EV_CLOSED);
  assert_int_equal(s.ev_arg[0], 1000);
  assert_int_equal(c.n_ev, 1);
  assert_int_equal(c.ev[0], RC_FILTER_EV_CLOSED);
  assert_int_equal(c.ev_arg[0], 1000);
  assert_int_equal(rc_filter_recv(c.f, (const uint8_t *)"x", 1), RC_ERR_STATE);
  ep_free(&c);
  ep_free(&s);
  /* server starts */
  open_pair(&c, &s, NULL, NULL);
  ep_clear(&c);
  ep_clear(&s);
  assert_int_equal(rc_filter_shutdown(s.f), RC_OK);
  assert_memory_equal(s.down, "\x88\x02\x03\xe8", 4);
  pump(&c, &s);
  assert_int_equal(c.ev[0], RC_FILTER_EV_CLOSED);
  assert_int_equal(c.ev_arg[0], 1000);
  assert_int_equal(s.ev[0], RC_FILTER_EV_CLOSED);
  assert_int_equal(s.ev_arg[0], 1000);
  ep_free(&c);
  ep_free(&s);
  /* a close with no code: reported as 1005, answered with an empty close */
  {
    uint8_t wire[16];
    size_t n = frame(wire, 1, 0, 8, 1, NULL, 0);
    server_open(&s, NULL);
    assert_int_equal(rc_filter_recv(s.f, wire, n), RC_OK);
    assert_int_equal(s.ev[0], RC_FILTER_EV_CLOSED);
    assert_int_equal(s.ev_arg[0], 1005);
    assert_int_equal(s.down_len, 2);
    assert_memory_equal(s.down, "\x88\x00", 2);
    ep_free(&s);
  }
  /* a close with code 4000 and a UTF-8 reason: echoed */
  {
    uint8_t wire[32];
    size_t n = frame(wire, 1, 0, 8, 1, (const uint8_t *)"\x0f\xa0r\xc3\xa9", 5);
    server_open(&s, NULL);
    assert_int_equal(rc_filter_recv(s.f, wire, n), RC_OK);
    assert_int_equal(s.ev_arg[0], 4000);
    assert_memory_equal(s.down, "\x88\x02\x0f\xa0", 4);
    ep_free(&s);
  }
}

/* ---- the client's view of the server's answer -------------------------- */

/* Starts a client and returns the accept value for the key it sent. */
static void client_started(ep *c, const rc_ws_config *cfg, char *accept) {
  const char *k;
  client_new(c, cfg);
  assert_int_equal(rc_ws_client_start(c->f), RC_OK);
  k = memmem(c->down, c->down_len, "Sec-WebSocket-Key: ", 19);
  assert_non_null(k);
  assert_int_equal(rc_ws_accept_key(k + 19, 24, accept), RC_OK);
  ep_clear(c);
}

static void test_client_request(void **state) {
  rc_ws_config cfg;
  ep c = {0};
  char req[1024];
  (void)state;
  memset(&cfg, 0, sizeof(cfg));
  cfg.host = "::1";
  cfg.port = 8080;
  cfg.origin = "http://localhost:8080";
  client_new(&c, &cfg);
  assert_int_equal(rc_ws_client_start(c.f), RC_OK);
  assert_true(c.down_len < sizeof(req));
  memcpy(req, c.down, c.down_len);
  req[c.down_len] = '\0';
  assert_non_null(strstr(req, "GET /.well-known/coap HTTP/1.1\r\n"));
  assert_non_null(strstr(req, "\r\nHost: [::1]:8080\r\n"));
  assert_non_null(strstr(req, "\r\nOrigin: http://localhost:8080\r\n"));
  assert_non_null(strstr(req, "\r\nSec-WebSocket-Protocol: coap\r\n"));
  assert_non_null(strstr(req, "\r\nSec-WebSocket-Version: 13\r\n"));
  assert_non_null(strstr(req, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"));
  ep_free(&c);
  /* default ports are left out of Host */
  cfg.host = "example.org";
  cfg.port = 443;
  cfg.tls = 1;
  cfg.origin = NULL;
  client_new(&c, &cfg);
  assert_int_equal(rc_ws_client_start(c.f), RC_OK);
  assert_non_null(memmem(c.down, c.down_len, "\r\nHost: example.org\r\n", 21));
  assert_null(memmem(c.down, c.down_len, "Origin", 6));
  ep_free(&c);
}

static void test_client_checks(void **state) {
  static const struct {
    const char *fmt; /* %s = the right accept value */
    const char *detail;
  } cases[] = {
      {"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
       "server refused the upgrade: HTTP/1.1 403 Forbidden"},
      {"HTTP/1.1 200 OK\r\n\r\n", "server refused the upgrade: HTTP/1.1 200 OK"},
      {"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: coap\r\n\r\n",
       "Upgrade"},
      {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
       "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: coap\r\n\r\n",
       "Connection"},
      {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
       "Connection: Upgrade\r\nSec-WebSocket-Accept: "
       "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: coap\r\n\r\n",
       "Accept"},
      {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
       "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
       "subprotocol"},
      {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
       "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
       "Sec-WebSocket-Protocol: coap.v1\r\n\r\n",
       "not offered"},
      {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
       "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
       "Sec-WebSocket-Protocol: coap\r\n"
       "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
       "extension"},
      {"HTTP/1.1 101\nUpgrade: websocket\r\n\r\n", "malformed"},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char accept[RC_WS_ACCEPT_SIZE], resp[512];
    ep c = {0};
    int n;
    client_started(&c, NULL, accept);
    n = snprintf(resp, sizeof(resp), cases[i].fmt, accept);
    assert_int_equal(rc_filter_recv(c.f, (const uint8_t *)resp, (size_t)n),
                     RC_ERR_WS_HANDSHAKE);
    assert_int_equal(c.n_ev, 1);
    assert_int_equal(c.ev[0], RC_FILTER_EV_ERROR);
    assert_int_equal(c.ev_arg[0], RC_ERR_WS_HANDSHAKE);
    if (!strstr(c.ev_detail[0], cases[i].detail))
      fail_msg("case %zu: detail '%s' lacks '%s'", i, c.ev_detail[0],
               cases[i].detail);
    assert_false(rc_ws_handshake_done(c.f));
    ep_free(&c);
  }
  /* a good 101 with a frame glued on, fed one byte at a time */
  {
    char accept[RC_WS_ACCEPT_SIZE], resp[512];
    ep c = {0};
    int n, k;
    client_started(&c, NULL, accept);
    n = snprintf(resp, sizeof(resp),
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                 "Sec-WebSocket-Protocol: coap\r\n\r\n",
                 accept);
    memcpy(resp + n, "\x82\x02\x00\xe1", 4);
    n += 4;
    for (k = 0; k < n; k++)
      assert_int_equal(rc_filter_recv(c.f, (const uint8_t *)resp + k, 1), RC_OK);
    assert_int_equal(c.ev[0], RC_FILTER_EV_OPEN);
    assert_int_equal(c.n_msgs, 1);
    assert_memory_equal(c.msgs[0], "\x00\xe1", 2);
    ep_free(&c);
  }
}

/* The real server refuses the real client: the client reports the line. */
static void test_pair_refused(void **state) {
  static const char *const allowed[] = {"http://good.example"};
  rc_ws_config ccfg, scfg;
  ep c = {0}, s = {0};
  (void)state;
  memset(&ccfg, 0, sizeof(ccfg));
  memset(&scfg, 0, sizeof(scfg));
  ccfg.host = "example.org";
  ccfg.origin = "http://evil.example";
  scfg.origins = allowed;
  scfg.n_origins = 1;
  client_new(&c, &ccfg);
  server_new(&s, &scfg);
  assert_int_equal(rc_ws_client_start(c.f), RC_OK);
  pump(&c, &s);
  assert_int_equal(s.ev[0], RC_FILTER_EV_ERROR);
  assert_int_equal(c.ev[0], RC_FILTER_EV_ERROR);
  assert_int_equal(c.ev_arg[0], RC_ERR_WS_HANDSHAKE);
  assert_string_equal(c.ev_detail[0],
                      "server refused the upgrade: HTTP/1.1 403 Forbidden");
  ep_free(&c);
  ep_free(&s);
}

/* ---- plain HTTP ---------------------------------------------------------- */

typedef struct body_src {
  size_t left, chunk;
  int closed;
} body_src;

static rc_ssize src_read(void *ctx, uint8_t *buf, size_t cap) {
  body_src *b = ctx;
  size_t n = cap < b->chunk ? cap : b->chunk;
  if (n > b->left)
    n = b->left;
  memset(buf, 'z', n);
  b->left -= n;
  return (rc_ssize)n;
}

static void src_close(void *ctx) { ((body_src *)ctx)->closed++; }

static body_src the_src;

static void http_cb(void *user, const rc_http_head *req, rc_http_response *r) {
  (void)user;
  if (rc_http_eq(req->target, req->target_len, "/hello")) {
    rc_http_response_text(r, 200, "hello\n");
    r->extra_headers = "Cache-Control: no-cache\r\n";
    return;
  }
  if (rc_http_eq(req->target, req->target_len, "/big")) {
    r->status = 200;
    r->content_type = "application/octet-stream";
    r->source.read = src_read;
    r->source.close = src_close;
    r->source.ctx = &the_src;
    r->content_length = 200000;
    return;
  }
  /* status left 0: a handler bug, answered 500 */
}

static void test_plain_http(void **state) {
  rc_ws_config cfg;
  ep s = {0};
  const char *r;
  size_t total, rounds;
  (void)state;
  memset(&cfg, 0, sizeof(cfg));
  cfg.on_http = http_cb;
  /* in-memory body */
  server_new(&s, &cfg);
  r = "GET /hello HTTP/1.1\r\nHost: h\r\n\r\n";
  assert_int_equal(rc_filter_recv(s.f, (const uint8_t *)r, strlen(r)), RC_OK);
  assert_int_equal(s.down_len, strlen("HTTP/1.1 200 OK\r\n"
                                      "Content-Type: text/plain; charset=utf-8\r\n"
                                      "Content-Length: 6\r\n"
                                      "Connection: close\r\n"
                                      "Cache-Control: no-cache\r\n\r\nhello\n"));
  assert_memory_equal(s.down,
                      "HTTP/1.1 200 OK\r\n"
                      "Content-Type: text/plain; charset=utf-8\r\n"
                      "Content-Length: 6\r\n"
                      "Connection: close\r\n"
                      "Cache-Control: no-cache\r\n\r\nhello\n",
                      s.down_len);
  assert_int_equal(s.ev[0], RC_FILTER_EV_CLOSED);
  assert_int_equal(s.ev_arg[0], 0);
  assert_false(rc_ws_handshake_done(s.f));
  ep_free(&s);
  /* HEAD: the same head, no body */
  server_new(&s, &cfg);
  r = "HEAD /hello HTTP/1.1\r\nHost: h\r\n\r\n";
  rc_filter_recv(s.f, (const uint8_t *)r, strlen(r));
  assert_non_null(memmem(s.down, s.down_len, "Content-Length: 6\r\n", 19));
  assert_memory_equal(s.down + s.down_len - 4, "\r\n\r\n", 4);
  ep_free(&s);
  /* streamed body: pumped until done, never more than asked */
  server_new(&s, &cfg);
  the_src.left = 200000;
  the_src.chunk = 5000;
  the_src.closed = 0;
  r = "GET /big HTTP/1.1\r\nHost: h\r\n\r\n";
  rc_filter_recv(s.f, (const uint8_t *)r, strlen(r));
  assert_true(rc_ws_http_pending(s.f));
  assert_int_equal(s.n_ev, 0);
  {
    const uint8_t *end = memmem(s.down, s.down_len, "\r\n\r\n", 4);
    assert_non_null(end);
    total = s.down_len - (size_t)(end + 4 - s.down);
  }
  assert_true(total <= 65536);
  for (rounds = 0; rc_ws_http_pending(s.f) && rounds < 100; rounds++) {
    size_t before = s.down_len;
    assert_int_equal(rc_ws_http_pump(s.f, 10000), RC_OK);
    assert_true(s.down_len - before <= 10000);
    total += s.down_len - before;
  }
  assert_int_equal(total, 200000);
  assert_int_equal(the_src.closed, 1);
  assert_int_equal(s.ev[0], RC_FILTER_EV_CLOSED);
  assert_int_equal(rc_ws_http_pump(s.f, 100), RC_ERR_STATE);
  ep_free(&s);
  assert_int_equal(the_src.closed, 1);
  /* a source that ends early: EV_ERROR, and it is closed once */
  server_new(&s, &cfg);
  the_src.left = 1000;
  the_src.closed = 0;
  rc_filter_recv(s.f, (const uint8_t *)r, strlen(r));
  assert_int_equal(s.ev[0], RC_FILTER_EV_ERROR);
  assert_int_equal(s.ev_arg[0], RC_ERR_IO);
  ep_free(&s);
  assert_int_equal(the_src.closed, 1);
  /* destroyed mid-stream: the source is closed */
  server_new(&s, &cfg);
  the_src.left = 200000;
  the_src.closed = 0;
  rc_filter_recv(s.f, (const uint8_t *)r, strlen(r));
  assert_true(rc_ws_http_pending(s.f));
  ep_free(&s);
  assert_int_equal(the_src.closed, 1);
  /* the handler left the status unset: 500 */
  server_new(&s, &cfg);
  r = "GET /other HTTP/1.1\r\nHost: h\r\n\r\n";
  rc_filter_recv(s.f, (const uint8_t *)r, strlen(r));
  assert_memory_equal(s.down, "HTTP/1.1 500 ", 13);
  ep_free(&s);
  /* no handler: 404; an upgrade for another path is plain HTTP too */
  server_new(&s, NULL);
  r = "GET /elsewhere HTTP/1.1\r\n" H_HOST H_UPG H_CONN H_KEY H_PROTO H_VER "\r\n";
  rc_filter_recv(s.f, (const uint8_t *)r, strlen(r));
  assert_memory_equal(s.down, "HTTP/1.1 404 Not Found\r\n", 24);
  assert_int_equal(s.ev[0], RC_FILTER_EV_CLOSED);
  ep_free(&s);
}

/* ---- plain HTTP kept alive, with bodies and deferred answers ------------- */

static rc_http_reply *kept_reply;
static char kept_body[64];
static size_t kept_calls;

/* /later is answered through the reply later; /now at once, kept alive;
 * both record the body they were given. */
static void ka_cb(void *user, const rc_http_head *req, rc_http_response *r) {
  (void)user;
  kept_calls++;
  snprintf(kept_body, sizeof kept_body, "%.*s", (int)req->body_len,
           req->body ? (const char *)req->body : "");
  if (rc_http_eq(req->target, req->target_len, "/later")) {
    assert_non_null(r->reply);
    kept_reply = r->reply;
    r->deferred = 1;
    return;
  }
  rc_http_response_text(r, 200, "now\n");
  r->keep_alive = 1;
}

static size_t count(const ep *e, const char *needle) {
  size_t n = 0, l = strlen(needle);
  const uint8_t *p = e->down, *end = e->down + e->down_len;
  while (p < end && (p = memmem(p, (size_t)(end - p), needle, l)) != NULL) {
    n++;
    p += l;
  }
  return n;
}

static void ka_answer(int status, const char *text) {
  rc_http_response resp;
  memset(&resp, 0, sizeof resp);
  rc_http_response_text(&resp, status, text);
  resp.keep_alive = 1;
  assert_int_equal(rc_http_reply_send(kept_reply, &resp), RC_OK);
  kept_reply = NULL;
}

static void test_plain_http_kept_alive(void **state) {
  rc_ws_config cfg;
  ep s = {0};
  const char *r;
  (void)state;
  memset(&cfg, 0, sizeof(cfg));
  cfg.on_http = ka_cb;
  cfg.http_body_max = 16;
  /* A body fed one byte at a time, the next request right behind it while
   * the first waits: answered in order, neither with Connection: close. */
  server_new(&s, &cfg);
  kept_calls = 0;
  r = "PUT /later HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
      "GET /now HTTP/1.1\r\nHost: h\r\n\r\n";
  for (size_t i = 0; i < strlen(r); i++)
    assert_int_equal(rc_filter_recv(s.f, (const uint8_t *)r + i, 1), RC_OK);
  assert_int_equal(kept_calls, 1);
  assert_string_equal(kept_body, "hello");
  assert_int_equal(s.down_len, 0);
  assert_int_equal(s.n_ev, 1);
  assert_int_equal(s.ev[0], RC_FILTER_EV_ACTIVE);
  assert_int_equal(s.ev_arg[0], 1); /* waiting: no handshake deadline */
  ka_answer(201, "made\n");
  assert_int_equal(kept_calls, 2);
  assert_string_equal(kept_body, "");
  assert_memory_equal(s.down, "HTTP/1.1 201 Created\r\n", 22);
  assert_int_equal(count(&s, "HTTP/1.1 "), 2);
  assert_non_null(memmem(s.down, s.down_len, "made\nHTTP/1.1 200 OK\r\n", 22));
  assert_int_equal(count(&s, "Connection: close"), 0);
  assert_int_equal(s.ev[s.n_ev - 1], RC_FILTER_EV_ACTIVE);
  assert_int_equal(s.ev_arg[s.n_ev - 1], 0);
  /* ... and the same connection still upgrades to a WebSocket. */
  ep_clear(&s);
  r = "GET /.well-known/coap HTTP/1.1\r\n" H_HOST H_UPG H_CONN H_KEY H_PROTO
      H_VER "\r\n";
  assert_int_equal(rc_filter_recv(s.f, (const uint8_t *)r, strlen(r)), RC_OK);
  assert_true(rc_ws_handshake_done(s.f));
  ep_free(&s);
  /* Connection: close, and HTTP/1.0: closed after the answer. */
  const char *closing[] = {
      "GET /now HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
      "GET /now HTTP/1.0\r\n\r\n"};
  for (size_t i = 0; i < 2; i++) {
    server_new(&s, &cfg);
    rc_filter_recv(s.f, (const uint8_t *)closing[i], strlen(closing[i]));
    assert_int_equal(count(&s, "Connection: close\r\n"), 1);
    assert_int_equal(s.ev[0], RC_FILTER_EV_CLOSED);
    ep_free(&s);
  }
  /* A chunked body (RFC 9112 §7.1), one byte at a time, with a chunk
   * extension and a trailer field, then the next request. */
  server_new(&s, &cfg);
  kept_calls = 0;
  r = "PUT /now HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3;x=y\r\nhel\r\nA\r\nlo, chunks\r\n0\r\nX-T: 1\r\n\r\n"
      "GET /now HTTP/1.1\r\nHost: h\r\n\r\n";
  for (size_t i = 0; i < strlen(r); i++)
    assert_int_equal(rc_filter_recv(s.f, (const uint8_t *)r + i, 1), RC_OK);
  assert_int_equal(kept_calls, 2);
  assert_int_equal(count(&s, "HTTP/1.1 200 OK"), 2);
  ep_free(&s);
  server_new(&s, &cfg);
  r = "PUT /now HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n0\r\n\r\n";
  rc_filter_recv(s.f, (const uint8_t *)r, strlen(r));
  assert_string_equal(kept_body, "hello");
  ep_free(&s);
  /* Bodies refused: another coding 501, chunked with Content-Length or
   * malformed 400, too large (either way) 413, bad or disagreeing lengths
   * 400; each closes. */
  const struct {
    const char *req;
    const char *status;
  } bad[] = {
      {"POST /now HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
       "HTTP/1.1 501 "},
      {"POST /now HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
       "Content-Length: 3\r\n\r\n",
       "HTTP/1.1 400 "},
      {"POST /now HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
       "zz\r\n",
       "HTTP/1.1 400 "},
      {"POST /now HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
       "3\r\nabcX",
       "HTTP/1.1 400 "},
      {"POST /now HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
       "11\r\n0123456789abcdefg\r\n0\r\n\r\n",
       "HTTP/1.1 413 "},
      {"POST /now HTTP/1.1\r\nHost: h\r\nContent-Length: 17\r\n\r\n",
       "HTTP/1.1 413 "},
      {"POST /now HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
       "HTTP/1.1 400 "},
      {"POST /now HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
       "Content-Length: 2\r\n\r\n",
       "HTTP/1.1 400 "},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    server_new(&s, &cfg);
    kept_calls = 0;
    rc_filter_recv(s.f, (const uint8_t *)bad[i].req, strlen(bad[i].req));
    assert_memory_equal(s.down, bad[i].status, 13);
    assert_int_equal(count(&s, "Connection: close\r\n"), 1);
    assert_int_equal(s.ev[0], RC_FILTER_EV_ERROR);
    assert_int_equal(kept_calls, 0);
    ep_free(&s);
  }
  /* The connection goes before the answer: the reply says so and is
   * freed (ASan checks the leak), nothing is written. */
  server_new(&s, &cfg);
  r = "GET /later HTTP/1.1\r\nHost: h\r\n\r\n";
  rc_filter_recv(s.f, (const uint8_t *)r, strlen(r));
  assert_non_null(kept_reply);
  ep_free(&s);
  {
    rc_http_response resp;
    memset(&resp, 0, sizeof resp);
    rc_http_response_text(&resp, 200, "late\n");
    assert_int_equal(rc_http_reply_send(kept_reply, &resp), RC_ERR_CLOSED);
    kept_reply = NULL;
  }
  /* A client that pipelines more than one head's worth: answered, then
   * closed (no persistence for it). */
  server_new(&s, &cfg);
  rc_filter_recv(s.f, (const uint8_t *)r, strlen(r));
  {
    static uint8_t junk[RC_HTTP_MAX_HEAD + 1];
    memset(junk, 'x', sizeof junk);
    assert_int_equal(rc_filter_recv(s.f, junk, sizeof junk), RC_OK);
  }
  ka_answer(200, "ok\n");
  assert_int_equal(count(&s, "Connection: close\r\n"), 1);
  assert_int_equal(s.ev[s.n_ev - 2], RC_FILTER_EV_CLOSED);
  ep_free(&s);
  assert_int_equal(rc_http_reply_send(NULL, NULL), RC_ERR_INVAL);
}

static void test_bad_args(void **state) {
  rc_ws_config cfg;
  rc_filter *f = NULL;
  rc_filter_sink sink = {ep_up, ep_down, ep_event, NULL};
  rc_filter_sink nosink = {NULL, ep_down, ep_event, NULL};
  (void)state;
  memset(&cfg, 0, sizeof(cfg));
  assert_int_equal(rc_ws_client_new(&f, &cfg, &sink), RC_ERR_INVAL);
  assert_int_equal(rc_ws_server_new(&f, &cfg, &nosink), RC_ERR_INVAL);
  assert_int_equal(rc_ws_server_new(&f, NULL, &sink), RC_ERR_INVAL);
  assert_false(rc_ws_handshake_done(NULL));
  assert_int_equal(rc_ws_http_pump(NULL, 1), RC_ERR_STATE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_accept_key),
      cmocka_unit_test(test_server_rfc8323),
      cmocka_unit_test(test_server_refusals),
      cmocka_unit_test(test_server_limits),
      cmocka_unit_test(test_server_subprotocols_origins),
      cmocka_unit_test(test_pair_messages),
      cmocka_unit_test(test_batching),
      cmocka_unit_test(test_fragments_and_ping),
      cmocka_unit_test(test_reassembly_budget),
      cmocka_unit_test(test_violations),
      cmocka_unit_test(test_client_rejects_masked),
      cmocka_unit_test(test_close_both_ways),
      cmocka_unit_test(test_client_request),
      cmocka_unit_test(test_client_checks),
      cmocka_unit_test(test_pair_refused),
      cmocka_unit_test(test_plain_http),
      cmocka_unit_test(test_plain_http_kept_alive),
      cmocka_unit_test(test_bad_args),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
