/*
 * Tests for the transport chain (src/transport/chain.c): two chains wired
 * back to back in memory, driven only through rc_chain_* with a fake
 * clock, no sockets.
 *
 * - coaps+ws: TCP -> TLS -> WS -> session on both sides (rc_stack_build,
 *   a real TLS 1.3 handshake with the test PKI of tests/certs/gen.sh),
 *   run once per split point: the byte stream in each direction is cut
 *   in two reads at every offset of the whole conversation (handshakes,
 *   upgrade, CSM, request, response, Ping/Pong, orderly close).
 * - The fake clock reaches the session through the chain: a Pong's RTT is
 *   the clock difference, a Ping unanswered expires at the chain's
 *   expiry and closes the session as dead.
 * - A message-boundary, datagram filter stub standing in for a WebRTC
 *   data channel (DCEP-like open/ack, one message per datagram, an
 *   SCTP-like ack for every data datagram) under the same session: one
 *   datagram per pull, output produced while a datagram is lent queued
 *   behind it, a bad datagram ending the chain with an error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcoap/codec_msg.h"
#include "rcoap/codec_option.h"
#include "rcoap/transport_chain.h"
#include "rcoap/transport_stack.h"
#include "rcoap/transport_ws.h"
#include "test_pki.h"

#define TEST_PORT 15684
#define PUMP_TURNS 1000
#define T0 1000000u

static char g_dir[256];
static rc_tls_ctx *g_sctx, *g_cctx;
static rc_time g_now;

/* ---- one end ------------------------------------------------------------ */

typedef struct peer {
  rc_chain *ch;
  rc_session *s;
  int server;
  int opened;
  int ends;
  rc_chain_end_how end_how;
  rc_err end_err;
  char end_detail[256];
  int msgs;
  uint8_t last_code;
  char last_payload[64];
  int pongs;
  rc_time pong_rtt;
  int closed;
  rc_err closed_reason;
  size_t fed;      /* bytes delivered to this end so far */
  size_t datagrams; /* datagrams delivered to this end */
} peer;

static void on_open(void *user) { ((peer *)user)->opened++; }

static void on_end(void *user, rc_chain_end_how how, rc_err err,
                   const char *detail) {
  peer *p = user;
  p->ends++;
  p->end_how = how;
  p->end_err = err;
  snprintf(p->end_detail, sizeof p->end_detail, "%s", detail);
}

static const rc_chain_callbacks chain_cb = {.on_open = on_open, .on_end = on_end};

/* Records a message; a server answers a request with 2.05 "re:" +
 * payload on the same token. */
static int on_message(void *user, const rc_msg *m) {
  peer *p = user;
  p->msgs++;
  p->last_code = m->code;
  snprintf(p->last_payload, sizeof p->last_payload, "%.*s",
           (int)m->payload_len, m->payload ? (const char *)m->payload : "");
  if (p->server && rc_code_is_request(m->code)) {
    rc_enc e;
    char body[80];
    int n = snprintf(body, sizeof body, "re:%s", p->last_payload);
    assert_int_equal(rc_session_msg_begin(p->s, &e, RC_CONTENT, m->token,
                                          m->token_len, 128),
                     RC_OK);
    assert_int_equal(rc_enc_payload(&e, body, (size_t)n), RC_OK);
    assert_int_equal(rc_session_msg_end(p->s, &e), RC_OK);
  }
  return 0;
}

static void on_pong(void *user, uint32_t id, rc_time rtt, int custody) {
  peer *p = user;
  (void)id;
  (void)custody;
  p->pongs++;
  p->pong_rtt = rtt;
}

static void on_closed(void *user, rc_err reason) {
  peer *p = user;
  p->closed++;
  p->closed_reason = reason;
}

static const rc_session_callbacks sess_cb = {
    .on_message = on_message, .on_pong = on_pong, .on_closed = on_closed};

/* A session and an empty chain for p (filters are pushed by the caller). */
static rc_session_config peer_init(peer *p, int server, rc_framing fr,
                                   unsigned chain_flags) {
  memset(p, 0, sizeof *p);
  p->server = server;
  rc_session_config sc;
  rc_session_config_default(&sc, fr,
                            server ? RC_SESSION_SERVER : RC_SESSION_CLIENT);
  sc.ping_timeout_ms = 5000;
  assert_int_equal(rc_session_new(&p->s, &sc, &sess_cb, p, NULL, g_now),
                   RC_OK);
  rc_chain_config cc = {.flags = chain_flags};
  assert_int_equal(rc_chain_new(&p->ch, &cc, p->s, &chain_cb, p), RC_OK);
  return sc;
}

static void peer_free(peer *p) {
  rc_chain_end(p->ch);
  rc_chain_free(p->ch);
  p->ch = NULL;
  p->s = NULL;
}

/* Everything from's chain has for the wire goes to to's chain; a stream
 * is cut into two reads where it crosses byte offset split. Returns the
 * bytes moved. */
static size_t move(peer *from, peer *to, size_t split) {
  const uint8_t *d;
  size_t n, moved = 0;
  while (rc_chain_pull(from->ch, &d, &n) == RC_OK) {
    assert_true(n > 0);
    size_t k = split > to->fed && split < to->fed + n ? split - to->fed : 0;
    if (k > 0) {
      (void)rc_chain_recv(to->ch, d, k, g_now);
      (void)rc_chain_recv(to->ch, d + k, n - k, g_now);
    } else {
      (void)rc_chain_recv(to->ch, d, n, g_now);
    }
    to->fed += n;
    to->datagrams++;
    assert_int_equal(rc_chain_consume(from->ch, n), RC_OK);
    moved += n;
  }
  return moved;
}

/* Moves bytes both ways until nothing moves. */
static void pump(peer *a, peer *b, size_t split) {
  for (int turn = 0; turn < PUMP_TURNS; turn++)
    if (move(a, b, split) + move(b, a, split) == 0)
      return;
  fail_msg("pump did not settle");
}

static void send_request(peer *p, const char *payload) {
  rc_enc e;
  static const uint8_t tok[2] = {0x7a, 0x01};
  assert_int_equal(rc_session_msg_begin(p->s, &e, RC_GET, tok, sizeof tok, 128),
                   RC_OK);
  assert_int_equal(rc_enc_opt(&e, RC_OPT_URI_PATH, "hello", 5), RC_OK);
  assert_int_equal(rc_enc_payload(&e, payload, strlen(payload)), RC_OK);
  assert_int_equal(rc_session_msg_end(p->s, &e), RC_OK);
}

/* ---- coaps+ws: TCP -> TLS -> WS -> session ------------------------------ */

static void tls_ws_pair(peer *c, peer *s) {
  rc_session_config sc = peer_init(s, 1, RC_FRAMING_WS, 0);
  rc_stack_config ss = {.role = RC_SESSION_SERVER,
                        .tls = 1,
                        .tls_ctx = g_sctx,
                        .ws = 1,
                        .max_message = sc.max_msg_size};
  assert_int_equal(rc_stack_framing(&ss), RC_FRAMING_WS);
  assert_int_equal(rc_stack_build(s->ch, &ss), RC_OK);
  rc_session_config cc = peer_init(c, 0, RC_FRAMING_WS, 0);
  rc_stack_config cs = {.role = RC_SESSION_CLIENT,
                        .tls = 1,
                        .tls_ctx = g_cctx,
                        .host = "localhost",
                        .port = TEST_PORT,
                        .ws = 1,
                        .max_message = cc.max_msg_size};
  assert_int_equal(rc_stack_build(c->ch, &cs), RC_OK);
  assert_int_equal(rc_chain_count(c->ch), 2);
  assert_non_null(rc_chain_find(c->ch, "tls"));
  assert_ptr_equal(rc_chain_find(c->ch, "ws"), rc_chain_filter(c->ch, 1));
}

typedef struct dc_stub dc_stub;
static dc_stub *dc_pair(peer *c, peer *s);

/* A pair (coaps+ws, or the data-channel stub), started and open. */
static void open_pair(peer *c, peer *s, int dc) {
  g_now = T0;
  if (dc)
    (void)dc_pair(c, s);
  else
    tls_ws_pair(c, s);
  assert_int_equal(rc_chain_start(s->ch, g_now), RC_OK);
  assert_int_equal(rc_chain_start(c->ch, g_now), RC_OK);
  pump(c, s, 0);
  assert_int_equal(c->opened + s->opened, 2);
  assert_int_equal(rc_session_get_state(c->s), RC_SESSION_OPEN);
}

/* One whole conversation with both streams cut at split (0: not cut). */
static void converse(size_t split, size_t *c_total, size_t *s_total) {
  peer c, s;
  g_now = T0;
  tls_ws_pair(&c, &s);
  assert_string_equal(rc_chain_waiting(c.ch), "TLS");
  assert_int_equal(rc_chain_start(s.ch, g_now), RC_OK);
  assert_int_equal(rc_chain_start(c.ch, g_now), RC_OK);
  pump(&c, &s, split);
  /* Both chains open, both CSMs through. */
  assert_int_equal(c.opened, 1);
  assert_int_equal(s.opened, 1);
  assert_null(rc_chain_waiting(c.ch));
  assert_int_equal(rc_session_get_state(c.s), RC_SESSION_OPEN);
  assert_int_equal(rc_session_get_state(s.s), RC_SESSION_OPEN);
  assert_int_equal(c.ends + s.ends, 0);

  send_request(&c, "ping");
  pump(&c, &s, split);
  assert_int_equal(s.msgs, 1);
  assert_int_equal(s.last_code, RC_GET);
  assert_string_equal(s.last_payload, "ping");
  assert_int_equal(c.msgs, 1);
  assert_int_equal(c.last_code, RC_CONTENT);
  assert_string_equal(c.last_payload, "re:ping");

  /* The caller's clock reaches the session: RTT = clock difference. */
  assert_int_equal(rc_session_ping(c.s, 0, g_now, NULL), RC_OK);
  g_now += 7;
  pump(&c, &s, split);
  assert_int_equal(c.pongs, 1);
  assert_int_equal(c.pong_rtt, 7);

  /* Orderly end: the client closes; its chain sends the WS Close inside
   * TLS, then close_notify; the server sees the peer close the WS session
   * and answers in kind. */
  rc_session_close(c.s, RC_OK);
  rc_chain_close(c.ch);
  pump(&c, &s, split);
  /* Reported once, for the first layer the peer closed (TLS follows). */
  assert_int_equal(s.ends, 1);
  assert_int_equal(s.end_how, RC_CHAIN_END_PEER);
  assert_non_null(strstr(s.end_detail, "peer closed the WebSocket session"));
  assert_non_null(strstr(s.end_detail, "1000"));
  rc_session_close(s.s, RC_OK);
  rc_chain_close(s.ch);
  pump(&c, &s, split);
  assert_int_equal(c.ends, 1);
  assert_int_equal(c.end_how, RC_CHAIN_END_PEER);
  assert_int_equal(rc_chain_unsent(c.ch), 0);
  assert_int_equal(rc_chain_unsent(s.ch), 0);
  if (c_total)
    *c_total = c.fed;
  if (s_total)
    *s_total = s.fed;
  peer_free(&c);
  peer_free(&s);
}

static void test_tls_ws_every_split(void **state) {
  (void)state;
  size_t to_client = 0, to_server = 0;
  converse(0, &to_client, &to_server);
  assert_true(to_server > 500 && to_client > 500); /* handshakes and all */
  size_t total = to_client > to_server ? to_client : to_server;
  print_message("%zu split points each way\n", total - 1);
  for (size_t k = 1; k < total; k++)
    converse(k, NULL, NULL);
}

/* Ping unanswered: the chain's expiry is the session's ping timeout, and
 * handling it at the fake time closes the session as dead. */
static void test_expiry_on_fake_clock(void **state) {
  (void)state;
  peer c, s;
  open_pair(&c, &s, 0);
  g_now += 100;
  assert_int_equal(rc_session_ping(c.s, 0, g_now, NULL), RC_OK);
  const uint8_t *d;
  size_t n;
  assert_int_equal(rc_chain_pull(c.ch, &d, &n), RC_OK); /* never delivered */
  assert_int_equal(rc_chain_consume(c.ch, n), RC_OK);
  assert_int_equal(rc_chain_expiry(c.ch), g_now + 5000);
  rc_chain_handle_expiry(c.ch, g_now + 4999);
  assert_int_equal(c.closed, 0);
  rc_chain_handle_expiry(c.ch, g_now + 5000);
  assert_int_equal(c.closed, 1);
  assert_int_equal(c.closed_reason, RC_ERR_PEER_DEAD);
  peer_free(&c);
  peer_free(&s);
}

/* ---- plain HTTP before the WebSocket: the session's clock waits ------- */

static rc_http_reply *g_reply;

static void defer_http(void *user, const rc_http_head *req,
                       rc_http_response *r) {
  (void)user;
  (void)req;
  g_reply = r->reply;
  r->deferred = 1;
}

/* Everything the chain has for the wire, as text (NUL-terminated). */
static void pull_text(peer *p, char *out, size_t cap) {
  const uint8_t *d;
  size_t n, o = 0;
  while (rc_chain_pull(p->ch, &d, &n) == RC_OK) {
    size_t k = n < cap - 1 - o ? n : cap - 1 - o;
    memcpy(out + o, d, k);
    o += k;
    assert_int_equal(rc_chain_consume(p->ch, n), RC_OK);
  }
  out[o] = 0;
}

/* A coap+ws server connection first answers a plain HTTP request late
 * (the HTTP-to-CoAP proxy waiting for its origin) and then upgrades: the
 * session's CSM deadline neither runs during the HTTP part (regression:
 * 10 s into a slow answer the session aborted, "no CSM received in
 * time") nor counts from before the upgrade. */
static void test_http_then_upgrade(void **state) {
  (void)state;
  peer s;
  g_now = T0;
  rc_session_config sc = peer_init(&s, 1, RC_FRAMING_WS, 0);
  rc_ws_config wc = {.on_http = defer_http};
  rc_stack_config ss = {.role = RC_SESSION_SERVER, .ws = 1, .ws_cfg = &wc,
                        .max_message = sc.max_msg_size};
  assert_int_equal(rc_stack_build(s.ch, &ss), RC_OK);
  assert_int_equal(rc_chain_start(s.ch, g_now), RC_OK);
  const char *get = "GET /hc/later HTTP/1.1\r\nHost: h\r\n\r\n";
  assert_int_equal(rc_chain_recv(s.ch, (const uint8_t *)get, strlen(get), g_now),
                   RC_OK);
  assert_non_null(g_reply);
  assert_int_equal(rc_chain_expiry(s.ch), RC_TIME_NEVER);
  g_now += 3 * sc.csm_timeout_ms;
  rc_chain_handle_expiry(s.ch, g_now);
  assert_int_equal(s.closed, 0);
  rc_http_response resp = {0};
  rc_http_response_text(&resp, 200, "late\n");
  resp.keep_alive = 1;
  assert_int_equal(rc_http_reply_send(g_reply, &resp), RC_OK);
  g_reply = NULL;
  char out[1024];
  pull_text(&s, out, sizeof out);
  assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
  assert_non_null(strstr(out, "\r\n\r\nlate\n"));
  assert_int_equal(s.ends, 0);
  /* The same connection upgrades: the peer's CSM is due from now on. */
  const char *up = "GET /.well-known/coap HTTP/1.1\r\nHost: h\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Protocol: coap\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n";
  assert_int_equal(rc_chain_recv(s.ch, (const uint8_t *)up, strlen(up), g_now),
                   RC_OK);
  assert_int_equal(s.opened, 1);
  pull_text(&s, out, sizeof out);
  assert_non_null(strstr(out, "HTTP/1.1 101 "));
  assert_int_equal(rc_chain_expiry(s.ch), g_now + sc.csm_timeout_ms);
  rc_chain_handle_expiry(s.ch, g_now + sc.csm_timeout_ms - 1);
  assert_int_equal(s.closed, 0);
  rc_chain_handle_expiry(s.ch, g_now + sc.csm_timeout_ms);
  assert_int_equal(s.closed, 1);
  assert_int_equal(s.closed_reason, RC_ERR_BAD_CSM);
  peer_free(&s);
}

/* Output the chain keeps in place while lent (stream mode): a partial
 * consume leaves the rest at the same address. */
static void test_stream_lend_partial(void **state) {
  (void)state;
  peer c, s;
  open_pair(&c, &s, 0);
  for (int i = 0; i < 3; i++)
    send_request(&c, "abc");
  const uint8_t *d, *d2;
  size_t n, n2;
  assert_int_equal(rc_chain_pull(c.ch, &d, &n), RC_OK);
  assert_true(n > 10);
  assert_int_equal(rc_chain_queued(c.ch), n);
  (void)rc_chain_recv(s.ch, d, 5, g_now);
  assert_int_equal(rc_chain_consume(c.ch, 5), RC_OK);
  assert_int_equal(rc_chain_consume(c.ch, n), RC_ERR_INVAL); /* too many */
  assert_int_equal(rc_chain_pull(c.ch, &d2, &n2), RC_OK);
  assert_ptr_equal(d2, d + 5);
  assert_int_equal(n2, n - 5);
  (void)rc_chain_recv(s.ch, d2, n2, g_now);
  assert_int_equal(rc_chain_consume(c.ch, n2), RC_OK);
  pump(&c, &s, 0);
  assert_int_equal(s.msgs, 3);
  assert_int_equal(c.msgs, 3);
  peer_free(&c);
  peer_free(&s);
}

/* ---- a data-channel stub: message boundaries over datagrams ------------- */

enum { DC_OPEN = 3, DC_ACK = 2, DC_DATA = 0x10, DC_SACK = 0x20, DC_CLOSE = 4 };

struct dc_stub {
  rc_filter base;
  int server, open;
  int sacks_seen;
};

static rc_err dc_down1(dc_stub *f, uint8_t type, const uint8_t *d, size_t n) {
  uint8_t pkt[2048];
  assert_true(n < sizeof pkt);
  pkt[0] = type;
  if (n)
    memcpy(pkt + 1, d, n);
  return f->base.sink.down(f->base.sink.ctx, pkt, n + 1);
}

static void dc_event(dc_stub *f, rc_filter_event ev, int arg, const char *d) {
  f->base.sink.event(f->base.sink.ctx, ev, arg, d);
}

static rc_err dc_start(rc_filter *base) {
  dc_stub *f = (dc_stub *)base;
  return f->server ? RC_OK : dc_down1(f, DC_OPEN, NULL, 0);
}

static rc_err dc_recv(rc_filter *base, const uint8_t *d, size_t n) {
  dc_stub *f = (dc_stub *)base;
  uint8_t type = n > 0 ? d[0] : 0;
  if (type == DC_OPEN && f->server && !f->open) {
    f->open = 1;
    rc_err err = dc_down1(f, DC_ACK, NULL, 0);
    dc_event(f, RC_FILTER_EV_OPEN, 0, NULL);
    return err;
  }
  if (type == DC_ACK && !f->server && !f->open) {
    f->open = 1;
    dc_event(f, RC_FILTER_EV_OPEN, 0, NULL);
    return RC_OK;
  }
  if (type == DC_DATA && f->open) {
    /* Acknowledged as SCTP would, before the message goes up. */
    rc_err err = dc_down1(f, DC_SACK, NULL, 0);
    if (err == RC_OK)
      err = f->base.sink.up(f->base.sink.ctx, d + 1, n - 1, RC_FILTER_MSG_END);
    return err;
  }
  if (type == DC_SACK && f->open) {
    f->sacks_seen++;
    return RC_OK;
  }
  if (type == DC_CLOSE && f->open) {
    dc_event(f, RC_FILTER_EV_CLOSED, 0, "channel closed");
    return RC_OK;
  }
  dc_event(f, RC_FILTER_EV_ERROR, RC_ERR_PROTOCOL, "bad datagram");
  return RC_ERR_PROTOCOL;
}

static rc_err dc_send(rc_filter *base, const uint8_t *d, size_t n, int flags) {
  dc_stub *f = (dc_stub *)base;
  if (!f->open)
    return RC_ERR_STATE;
  /* Message-boundary mode: every send is one whole CoAP message. */
  assert_true(flags & RC_FILTER_MSG_END);
  rc_msg m;
  assert_int_equal(rc_msg_parse(RC_FRAMING_WS, d, n, &m), RC_OK);
  return dc_down1(f, DC_DATA, d, n);
}

static rc_err dc_shutdown(rc_filter *base) {
  return dc_down1((dc_stub *)base, DC_CLOSE, NULL, 0);
}

static void dc_free(rc_filter *base) { free(base); }

static const rc_filter_ops dc_ops = {
    .name = "dc",
    .label = "data channel",
    .flags = RC_FILTER_F_MESSAGES | RC_FILTER_F_DATAGRAM,
    .start = dc_start,
    .recv = dc_recv,
    .send = dc_send,
    .shutdown = dc_shutdown,
    .free = dc_free,
};

static dc_stub *dc_pair(peer *c, peer *s) {
  peer *both[2] = {s, c};
  dc_stub *cf = NULL;
  for (int i = 0; i < 2; i++) {
    peer_init(both[i], i == 0, RC_FRAMING_WS, RC_CHAIN_DATAGRAM);
    dc_stub *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->base.ops = &dc_ops;
    f->server = i == 0;
    f->base.sink = rc_chain_next_sink(both[i]->ch);
    assert_int_equal(rc_chain_push(both[i]->ch, &f->base), RC_OK);
    cf = f;
  }
  return cf;
}

static void test_datachannel_stub(void **state) {
  (void)state;
  peer c, s;
  g_now = T0;
  dc_stub *cf = dc_pair(&c, &s);
  assert_int_equal(rc_chain_start(s.ch, g_now), RC_OK);
  assert_int_equal(rc_chain_start(c.ch, g_now), RC_OK);
  /* A datagram chain hands out one datagram per pull. */
  const uint8_t *d;
  size_t n;
  assert_int_equal(rc_chain_pull(c.ch, &d, &n), RC_OK);
  assert_int_equal(n, 1);
  assert_int_equal(d[0], DC_OPEN);
  pump(&c, &s, 0);
  assert_int_equal(c.opened, 1);
  assert_int_equal(s.opened, 1);
  assert_int_equal(rc_session_get_state(c.s), RC_SESSION_OPEN);

  /* Three requests: three datagrams, each one whole message. */
  size_t before = s.datagrams;
  int sacks = cf->sacks_seen; /* so far: the one for our CSM */
  assert_int_equal(sacks, 1);
  for (int i = 0; i < 3; i++)
    send_request(&c, "dc");
  assert_true(move(&c, &s, 0) > 0);
  assert_int_equal(rc_chain_queued(c.ch), 0);
  assert_int_equal(s.datagrams - before, 3);
  assert_int_equal(s.msgs, 3);
  assert_string_equal(s.last_payload, "dc");
  pump(&c, &s, 0);
  assert_int_equal(c.msgs, 3);
  assert_string_equal(c.last_payload, "re:dc");
  assert_int_equal(cf->sacks_seen - sacks, 3);

  /* While a datagram is lent, output produced by input (the SACK for a
   * data datagram) is queued behind it, and the lent bytes stay put. */
  send_request(&c, "x");
  send_request(&c, "y");
  assert_int_equal(rc_chain_pull(c.ch, &d, &n), RC_OK);
  uint8_t copy[256];
  memcpy(copy, d, n);
  assert_int_equal(d[0], DC_DATA);
  send_request(&s, "from-server"); /* RFC 8323: either end may request */
  assert_true(move(&s, &c, 0) > 0); /* c sends a SACK while d is lent */
  assert_string_equal(c.last_payload, "from-server");
  assert_memory_equal(d, copy, n);
  (void)rc_chain_recv(s.ch, d, n, g_now);
  assert_int_equal(rc_chain_consume(c.ch, n), RC_OK);
  const uint8_t *d2;
  size_t n2;
  assert_int_equal(rc_chain_pull(c.ch, &d2, &n2), RC_OK);
  assert_int_equal(d2[0], DC_DATA); /* the "y" request, still before */
  (void)rc_chain_recv(s.ch, d2, n2, g_now);
  assert_int_equal(rc_chain_consume(c.ch, n2), RC_OK);
  assert_int_equal(rc_chain_pull(c.ch, &d2, &n2), RC_OK);
  assert_int_equal(d2[0], DC_SACK); /* then the SACK */
  assert_int_equal(n2, 1);
  assert_int_equal(rc_chain_consume(c.ch, n2 + 1), RC_ERR_INVAL);
  assert_int_equal(rc_chain_consume(c.ch, n2), RC_OK);
  pump(&c, &s, 0);
  assert_int_equal(s.msgs, 5);
  assert_string_equal(c.last_payload, "re:y");

  /* Orderly end through the stub: the peer reports CLOSED. */
  rc_session_close(c.s, RC_OK);
  rc_chain_close(c.ch);
  pump(&c, &s, 0);
  assert_int_equal(s.ends, 1);
  assert_int_equal(s.end_how, RC_CHAIN_END_PEER);
  assert_non_null(strstr(s.end_detail, "data channel"));
  peer_free(&c);
  peer_free(&s);
}

/* A bad datagram ends the chain with the filter's error, once. */
static void test_datachannel_bad_datagram(void **state) {
  (void)state;
  peer c, s;
  open_pair(&c, &s, 1);
  static const uint8_t junk[3] = {0x77, 1, 2};
  assert_int_equal(rc_chain_recv(s.ch, junk, sizeof junk, g_now),
                   RC_ERR_PROTOCOL);
  assert_int_equal(s.ends, 1);
  assert_int_equal(s.end_how, RC_CHAIN_END_ERROR);
  assert_int_equal(s.end_err, RC_ERR_PROTOCOL);
  assert_string_equal(s.end_detail, "bad datagram");
  assert_true(rc_chain_is_dead(s.ch));
  assert_int_equal(rc_chain_recv(s.ch, junk, sizeof junk, g_now),
                   RC_ERR_STATE);
  peer_free(&c);
  peer_free(&s);
}

/* With no filters the session's own output is handed out in place. */
static void test_plain_zero_copy(void **state) {
  (void)state;
  peer c, s;
  g_now = T0;
  peer_init(&c, 0, RC_FRAMING_TCP, 0);
  peer_init(&s, 1, RC_FRAMING_TCP, 0);
  const uint8_t *d, *d2;
  size_t n, n2;
  /* Nothing is handed out before the chain is started. */
  assert_int_equal(rc_chain_pull(c.ch, &d, &n), RC_ERR_NEED_MORE);
  assert_int_equal(rc_chain_start(c.ch, g_now), RC_OK);
  assert_int_equal(rc_chain_start(s.ch, g_now), RC_OK);
  assert_int_equal(c.opened, 1);
  assert_int_equal(rc_chain_pull(c.ch, &d, &n), RC_OK);
  assert_int_equal(rc_session_pending(c.s, &d2, &n2), RC_OK);
  assert_ptr_equal(d, d2);
  assert_int_equal(n, n2);
  assert_int_equal(rc_chain_queued(c.ch), 0);
  pump(&c, &s, 3); /* the CSMs, cut after 3 bytes */
  assert_int_equal(rc_session_get_state(c.s), RC_SESSION_OPEN);
  send_request(&c, "plain");
  pump(&c, &s, c.fed + 3);
  assert_string_equal(c.last_payload, "re:plain");
  peer_free(&c);
  peer_free(&s);
}

/* ---- setup -------------------------------------------------------------- */

static int setup_pki(void **state) {
  (void)state;
  char cert[600], key[600], ca[600], err[256];
  if (test_pki_make(g_dir, sizeof g_dir, "rcoap-chain-test") != 0)
    return -1;
  rc_tls_config sc, cc;
  rc_tls_config_init(&sc, RC_TLS_SERVER);
  snprintf(cert, sizeof cert, "%s/server.crt", g_dir);
  snprintf(key, sizeof key, "%s/server.key", g_dir);
  sc.certs[0].cert_file = cert;
  sc.certs[0].key_file = key;
  sc.ncerts = 1;
  rc_tls_config_init(&cc, RC_TLS_CLIENT);
  snprintf(ca, sizeof ca, "%s/ca.crt", g_dir);
  cc.ca_file = ca;
  cc.session_cache_size = 0; /* every split: a full handshake */
  if (rc_tls_ctx_new(&g_sctx, &sc, err, sizeof err) != RC_OK ||
      rc_tls_ctx_new(&g_cctx, &cc, err, sizeof err) != RC_OK) {
    fprintf(stderr, "TLS context: %s\n", err);
    return -1;
  }
  return 0;
}

static int teardown_pki(void **state) {
  (void)state;
  rc_tls_ctx_free(g_sctx);
  rc_tls_ctx_free(g_cctx);
  return test_pki_remove(g_dir, "rcoap-chain-test");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain_zero_copy),
      cmocka_unit_test(test_stream_lend_partial),
      cmocka_unit_test(test_expiry_on_fake_clock),
      cmocka_unit_test(test_http_then_upgrade),
      cmocka_unit_test(test_datachannel_stub),
      cmocka_unit_test(test_datachannel_bad_datagram),
      cmocka_unit_test(test_tls_ws_every_split),
  };
  return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
