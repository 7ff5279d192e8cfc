/*
 * The differential harness of the fast-path tests (header only, like
 * tls_harness.h; test_app_fastpath.c and test_app_fastpath_tls.c): two
 * server contexts with the same resources, [0] with every fast path and
 * [1] with them off (common/fastpath.h) and traced; a raw coap+tcp client
 * (its own framing, also over coap+ws, coap:// and TLS) that sends the
 * generated request shapes in batches each followed by a Ping, so that
 * what came before the Pong is the batch's whole answer.
 */
#ifndef RCOAP_FASTPATH_HARNESS_H
#define RCOAP_FASTPATH_HARNESS_H

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/fastpath.h"
#include "rcoap/app.h"
#include "test_run.h"

#define GUARD_MS 5000
#define ANSWER_MAX 8192

typedef struct fixture {
  uv_loop_t loop;
  uv_timer_t guard;
  int timed_out;
  rc_context *ctx[2]; /* [0] fast, [1] general */
  uint16_t port[2];
  uint16_t uport[2]; /* coap:// */
  uint16_t wport[2]; /* coap+ws:// */
  /* coap+ws: the client's raw input (WebSocket frames, after the HTTP
   * upgrade); each message goes to `in` re-framed as coap+tcp */
  int ws, ws_open;
  uint8_t wraw[1 << 17];
  size_t wraw_len;
  int udp;           /* the client is a UDP socket: datagrams in `in`,
                        each after its 2-byte length */
  uint16_t mid;      /* the next ping's Message ID */
  /* the raw client */
  int fd;
  uv_poll_t poll;
  int polling;
  uint8_t in[1 << 22]; /* a pipelined run's answers pile up here */
  size_t in_len;
  int closed; /* the server closed the connection */
  unsigned ping;
  /* coaps+tcp: the client's TLS (OpenSSL on fd, tls_connect) and the
   * server's port; each write of the client's is a record of up to
   * `piece` bytes (0: any) */
  SSL *ssl;
  uint16_t tport;
  size_t piece;
  /* TLS 1.3: a KeyUpdate asking the server for its own (RFC 8446
   * §4.6.3) before each write of the client's while set; how many went */
  int key_update;
  size_t key_updates;
} fixture;

/* ---- server resources (the same in both contexts) ---- */

static char big_body[1500];
static char mid_body[200];
static char long_seg[300];

static void h_dyn(rc_context *ctx, rc_resource *res, rc_xreq *req,
                  void *user) {
  (void)ctx;
  (void)user;
  const rc_msg *m = rc_xreq_msg(req);
  char path[160], q[160], body[600];
  if (rc_req_path(req, path, sizeof path) < 0)
    snprintf(path, sizeof path, "?");
  if (rc_msg_query(m, q, sizeof q) < 0)
    snprintf(q, sizeof q, "?");
  int n = snprintf(body, sizeof body, "%u %s %s %s [%.*s]", m->code,
                   rc_resource_path(res), path, q, (int)m->payload_len,
                   (const char *)m->payload);
  rc_respond(req, m->code == RC_GET || m->code == RC_FETCH ? RC_CONTENT
                                                           : RC_CHANGED,
             RC_CF_TEXT_PLAIN, body, (size_t)n);
}

static void add_static(rc_context *ctx, const char *path, int cf,
                       const char *body, size_t len, const char *ct,
                       unsigned flags, int observable) {
  rc_resource *r;
  assert_int_equal(rc_resource_add(ctx, path, flags, NULL, &r), RC_OK);
  assert_int_equal(rc_resource_set_static(r, RC_CONTENT, cf, body, len),
                   RC_OK);
  if (ct)
    assert_int_equal(rc_resource_attr(r, "ct", ct, 0), RC_OK);
  if (observable)
    assert_int_equal(rc_resource_set_observable(r), RC_OK);
}

static void add_resources(rc_context *ctx) {
  add_static(ctx, "/hello", RC_CF_TEXT_PLAIN, "Hello, world!", 13, "0", 0, 0);
  add_static(ctx, "/json", 50, "{\"a\":1}", 7, "50", 0, 0);
  add_static(ctx, "/empty", -1, NULL, 0, NULL, 0, 0);
  add_static(ctx, "/cf300", 300, "x", 1, NULL, 0, 0);
  add_static(ctx, "/mid", RC_CF_TEXT_PLAIN, mid_body, sizeof mid_body, "0", 0,
             0);
  add_static(ctx, "/big", RC_CF_TEXT_PLAIN, big_body, sizeof big_body, "0",
             0, 0);
  add_static(ctx, "/obs", RC_CF_TEXT_PLAIN, "watched", 7, "0", 0, 1);
  add_static(ctx, "/a/b/c", RC_CF_TEXT_PLAIN, "abc", 3, NULL, 0, 0);
  add_static(ctx, "/pre", RC_CF_TEXT_PLAIN, "prefix", 6, "0", RC_RES_PREFIX,
             0);
  rc_resource *r;
  assert_int_equal(rc_resource_add(ctx, "/dyn", RC_RES_PREFIX, NULL, &r),
                   RC_OK);
  for (uint8_t m = RC_GET; m <= RC_IPATCH; m++)
    rc_resource_on(r, m, h_dyn);
  rc_resource_attr(r, "ct", "0", 0);
  /* a static GET beside a handler for the other methods */
  assert_int_equal(rc_resource_add(ctx, "/mixed", 0, NULL, &r), RC_OK);
  assert_int_equal(
      rc_resource_set_static(r, RC_CONTENT, RC_CF_TEXT_PLAIN, "mixed", 5),
      RC_OK);
  rc_resource_on(r, RC_POST, h_dyn);
  rc_resource_on(r, RC_PUT, h_dyn);
}

static void on_trace(void *user, char dir, const rc_msg *m) {
  (void)user;
  (void)dir;
  (void)m;
}

/* request() gives GET shapes alone while this is set. */
static int shapes_get_only;
/* coap+ws instead of coap+tcp while set (the tests' client_open). */
static int clients_ws;
/* request() gives this many random shapes instead while set. */
static size_t shapes_random;
/* request() gives every this many'th shape alone while set. */
static size_t shapes_stride;
/* coaps+tcp to f->tport instead of coap+tcp while set (tls_connect; its
 * client SSL_CTX). */
static int clients_tls;
static SSL_CTX *tls_client_ctx;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  shapes_get_only = 0;
  shapes_random = 0;
  shapes_stride = 0;
  clients_ws = 0;
  clients_tls = 0;
  memset(big_body, 'B', sizeof big_body);
  memset(mid_body, 'M', sizeof mid_body);
  memset(long_seg, 'x', sizeof long_seg);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  uv_timer_init(&f->loop, &f->guard);
  f->guard.data = &f->timed_out;
  f->fd = -1;
  for (int i = 0; i < 2; i++) {
    rc_context_opts o = {0};
    o.loop = &f->loop;
    o.unanswered_max = 4; /* test_unanswered_limit */
    /* tokens up to 32 bytes (RFC 8974): extended ones go the encoder's
     * way even on the fast paths */
    rc_session_config sc;
    rc_session_config_default(&sc, RC_FRAMING_TCP, RC_SESSION_SERVER);
    sc.max_token_len = 32;
    o.session = &sc;
    if (i == 1)
      o.on_trace = on_trace; /* the session's general (encoder) way */
    assert_int_equal(rc_context_new(&f->ctx[i], &o), RC_OK);
    add_resources(f->ctx[i]);
    char err[256];
    assert_int_equal(rc_context_listen(f->ctx[i], RC_CONN_TCP, "127.0.0.1:0",
                                       NULL, NULL, &f->port[i], err,
                                       sizeof err),
                     RC_OK);
    assert_int_equal(rc_context_listen(f->ctx[i], RC_CONN_UDP, "127.0.0.1:0",
                                       NULL, NULL, &f->uport[i], err,
                                       sizeof err),
                     RC_OK);
    assert_int_equal(rc_context_listen(f->ctx[i], RC_CONN_WS, "127.0.0.1:0",
                                       NULL, NULL, &f->wport[i], err,
                                       sizeof err),
                     RC_OK);
  }
  *state = f;
  return 0;
}

static void client_close(fixture *f);

static int teardown(void **state) {
  fixture *f = *state;
  client_close(f);
  rc__fast_paths_off = 0;
  rc_context_free(f->ctx[0]);
  rc_context_free(f->ctx[1]);
  test_loop_end(&f->loop, &f->guard);
  free(f);
  return 0;
}

/* ---- the raw client ---- */

static void ws_input(fixture *f);

/* The plaintext OpenSSL has for the client into f->in (coaps+ws: into
 * f->wraw, then ws_input). */
static void tls_input(fixture *f) {
  for (;;) {
    uint8_t *b = f->ws ? f->wraw : f->in;
    size_t *len = f->ws ? &f->wraw_len : &f->in_len;
    size_t cap = f->ws ? sizeof f->wraw : sizeof f->in;
    if (*len + 1 > cap)
      fail_msg("client input full");
    int n = SSL_read(f->ssl, b + *len, (int)(cap - *len));
    if (n > 0) {
      *len += (size_t)n;
      if (f->ws)
        ws_input(f);
      continue;
    }
    int e = SSL_get_error(f->ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
      return;
    ERR_clear_error();
    f->closed = 1;
    uv_poll_stop(&f->poll);
    return;
  }
}

static void on_readable(uv_poll_t *h, int status, int events) {
  fixture *f = h->data;
  (void)events;
  if (status < 0) {
    f->closed = 1;
    return;
  }
  if (f->ssl) {
    tls_input(f);
    return;
  }
  if (f->ws) {
    for (;;) {
      assert_true(f->wraw_len < sizeof f->wraw);
      ssize_t n = recv(f->fd, f->wraw + f->wraw_len,
                       sizeof f->wraw - f->wraw_len, 0);
      if (n > 0) {
        f->wraw_len += (size_t)n;
        ws_input(f);
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        f->closed = 1;
        uv_poll_stop(&f->poll);
      }
      return;
    }
  }
  for (;;) {
    if (f->in_len + (f->udp ? 65538 : 1) > sizeof f->in)
      fail_msg("client input full");
    size_t at = f->in_len + (f->udp ? 2 : 0);
    ssize_t n = recv(f->fd, f->in + at, sizeof f->in - at, 0);
    if (n > 0 && f->udp) {
      f->in[f->in_len] = (uint8_t)(n >> 8);
      f->in[f->in_len + 1] = (uint8_t)n;
      f->in_len += 2 + (size_t)n;
      continue;
    }
    if (n > 0) {
      f->in_len += (size_t)n;
      continue;
    }
    if (f->udp && n < 0 && errno == ECONNREFUSED)
      continue;
    if (n == 0 || (errno != EAGAIN && errno != EINTR))
      f->closed = 1;
    if (f->closed)
      uv_poll_stop(&f->poll);
    return;
  }
}

static void poll_closed(uv_handle_t *h) {
  fixture *f = h->data;
  f->polling = 0;
}

static void client_close(fixture *f) {
  if (f->fd < 0)
    return;
  uv_poll_stop(&f->poll);
  uv_close((uv_handle_t *)&f->poll, poll_closed);
  RUN_UNTIL_MS(f, !f->polling, GUARD_MS);
  if (f->ssl) {
    SSL_shutdown(f->ssl); /* its close_notify, not waiting for the peer's */
    SSL_free(f->ssl);
    ERR_clear_error();
    f->ssl = NULL;
  }
  close(f->fd);
  f->fd = -1;
}

/* RFC 7252 §3.1 option header: delta and length, each 0-12 in a nibble,
 * 13 and one byte (-13), or 14 and two bytes (-269). */
static size_t opt_put(uint8_t *q, uint32_t delta, uint32_t len) {
  size_t n = 1;
  uint8_t d = delta < 13 ? (uint8_t)delta : delta < 269 ? 13 : 14;
  uint8_t l = len < 13 ? (uint8_t)len : len < 269 ? 13 : 14;
  q[0] = (uint8_t)(d << 4 | l);
  if (d == 13)
    q[n++] = (uint8_t)(delta - 13);
  else if (d == 14) {
    q[n++] = (uint8_t)((delta - 269) >> 8);
    q[n++] = (uint8_t)(delta - 269);
  }
  if (l == 13)
    q[n++] = (uint8_t)(len - 13);
  else if (l == 14) {
    q[n++] = (uint8_t)((len - 269) >> 8);
    q[n++] = (uint8_t)(len - 269);
  }
  return n;
}

typedef struct opt {
  uint16_t num;
  uint16_t len;
  const void *val;
} opt;

#define OPTS_MAX 24

/* RFC 8323 §3.2: the first byte (Len, TKL nibble tk) and the extended
 * length of a frame of body bytes after its token; returns its size. */
static size_t tcp_head(uint8_t *q, size_t body, uint8_t tk) {
  if (body < 13) {
    q[0] = (uint8_t)(body << 4 | tk);
    return 1;
  }
  if (body < 269) {
    q[0] = (uint8_t)(13 << 4 | tk);
    q[1] = (uint8_t)(body - 13);
    return 2;
  }
  q[0] = (uint8_t)(14 << 4 | tk);
  q[1] = (uint8_t)((body - 269) >> 8);
  q[2] = (uint8_t)(body - 269);
  return 3;
}

/* An RFC 8323 §3.2 frame; options in the order given (sorted by the
 * caller: this writes what it is told, out of order too). */
static size_t frame(uint8_t *out, uint8_t code, const uint8_t *tok,
                    size_t tkl, const opt *o, size_t no, const void *pl,
                    size_t plen) {
  uint8_t body[4096];
  size_t b = 0;
  uint32_t last = 0;
  for (size_t i = 0; i < no; i++) {
    b += opt_put(body + b, o[i].num - last, o[i].len);
    if (o[i].len)
      memcpy(body + b, o[i].val, o[i].len);
    b += o[i].len;
    last = o[i].num;
  }
  if (plen) {
    body[b++] = 0xFF;
    memcpy(body + b, pl, plen);
    b += plen;
  }
  /* RFC 8974 §2.1: TKL 13 and one more byte (length - 13) after the code */
  uint8_t tk = tkl < 13 ? (uint8_t)tkl : 13;
  assert_true(tkl < 269);
  size_t n = tcp_head(out, b, tk);
  out[n++] = code;
  if (tk == 13)
    out[n++] = (uint8_t)(tkl - 13);
  if (tkl)
    memcpy(out + n, tok, tkl);
  n += tkl;
  memcpy(out + n, body, b);
  return n + b;
}

/* The size of the frame at p (n bytes there), 0 when not all there. */
static size_t frame_size(const uint8_t *p, size_t n) {
  if (n < 2)
    return 0;
  size_t len = p[0] >> 4, tkl = p[0] & 15, ext = 0;
  if (len == 13) {
    ext = 1;
    len = 13u + p[1];
  } else if (len == 14) {
    ext = 2;
    if (n < 3)
      return 0;
    len = 269u + ((size_t)p[1] << 8 | p[2]);
  } else if (len == 15) {
    ext = 4;
    if (n < 5)
      return 0;
    len = 65805u + ((size_t)p[1] << 24 | (size_t)p[2] << 16 |
                    (size_t)p[3] << 8 | p[4]);
  }
  if (tkl == 13) { /* RFC 8974: one more byte after the code */
    if (n < 1 + ext + 2)
      return 0;
    tkl = 1 + 13u + p[1 + ext + 1];
  }
  size_t total = 1 + ext + 1 + tkl + len;
  return n >= total ? total : 0;
}

static void send_raw(fixture *f, const uint8_t *b, size_t n);

/* A coap+tcp frame (p, n bytes) as the RFC 8323 §4.2 message (Len 0, no
 * extended length) inside a masked WebSocket binary frame (RFC 6455
 * §5.2; the masking key 0, which leaves the payload as it is). */
static size_t ws_from_tcp(uint8_t *out, const uint8_t *p, size_t n) {
  size_t ext = (p[0] >> 4) == 13 ? 1 : (p[0] >> 4) == 14 ? 2 : 0;
  size_t m = n - ext, at = 0;
  out[at++] = 0x82;
  if (m < 126) {
    out[at++] = (uint8_t)(0x80 | m);
  } else {
    out[at++] = 0x80 | 126;
    out[at++] = (uint8_t)(m >> 8);
    out[at++] = (uint8_t)m;
  }
  memset(out + at, 0, 4);
  at += 4;
  out[at++] = (uint8_t)(p[0] & 15);
  memcpy(out + at, p + 1 + ext, n - 1 - ext);
  return at + n - 1 - ext;
}

/* The WebSocket messages in f->wraw into f->in as coap+tcp frames. */
static void ws_input(fixture *f) {
  size_t at = 0;
  if (!f->ws_open) { /* the HTTP answer to the upgrade */
    size_t e = 0;
    while (e + 4 <= f->wraw_len && memcmp(f->wraw + e, "\r\n\r\n", 4))
      e++;
    if (e + 4 > f->wraw_len)
      return;
    assert_memory_equal(f->wraw, "HTTP/1.1 101", 12);
    f->ws_open = 1;
    at = e + 4;
  }
  for (;;) {
    const uint8_t *w = f->wraw + at;
    size_t have = f->wraw_len - at, hl = 2, len;
    if (have < 2)
      break;
    len = w[1] & 127;
    if (len == 126) {
      hl = 4;
      if (have < 4)
        break;
      len = (size_t)w[2] << 8 | w[3];
    } else if (len == 127) {
      fail_msg("a 64-bit WebSocket length");
    }
    if (have < hl + len)
      break;
    at += hl + len;
    if ((w[0] & 15) == 8) { /* Close */
      f->closed = 1;
      continue;
    }
    if ((w[0] & 15) != 2 || len < 2)
      continue;
    const uint8_t *m = w + hl;
    size_t tk = m[0] & 15, tx = tk == 13 ? 1 : tk == 14 ? 2 : 0;
    size_t tkl = tk == 13 ? 13u + m[2] : tk == 14 ? 269u + ((size_t)m[2] << 8 | m[3]) : tk;
    size_t body = len - 2 - tx - tkl;
    uint8_t *q = f->in + f->in_len;
    assert_true(f->in_len + len + 8 <= sizeof f->in);
    size_t n = tcp_head(q, body, (uint8_t)tk);
    memcpy(q + n, m + 1, len - 1);
    f->in_len += n + len - 1;
  }
  memmove(f->wraw, f->wraw + at, f->wraw_len - at);
  f->wraw_len -= at;
}

/* Sends coap+tcp frames b[0..n): as they are, or each as a WebSocket
 * message on a coap+ws client. */
static void send_all(fixture *f, const uint8_t *b, size_t n) {
  if (!f->ws) {
    send_raw(f, b, n);
    return;
  }
  static uint8_t w[70000];
  while (n > 0) {
    size_t fl = frame_size(b, n);
    assert_true(fl > 0 && fl + 16 <= sizeof w);
    send_raw(f, w, ws_from_tcp(w, b, fl));
    b += fl;
    n -= fl;
  }
}

static void send_raw(fixture *f, const uint8_t *b, size_t n) {
  if (f->ssl && f->key_update && SSL_version(f->ssl) == TLS1_3_VERSION &&
      SSL_get_key_update_type(f->ssl) == SSL_KEY_UPDATE_NONE) {
    assert_int_equal(SSL_key_update(f->ssl, SSL_KEY_UPDATE_REQUESTED), 1);
    f->key_updates++;
  }
  while (f->ssl && n > 0) { /* records of up to f->piece bytes */
    size_t k = f->piece && f->piece < n ? f->piece : n;
    int w = SSL_write(f->ssl, b, (int)k);
    if (w > 0) {
      b += w;
      n -= (size_t)w;
      continue;
    }
    int e = SSL_get_error(f->ssl, w);
    if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
      uv_run(&f->loop, UV_RUN_NOWAIT);
      continue;
    }
    ERR_clear_error();
    f->closed = 1;
    return;
  }
  while (n > 0) {
    ssize_t k = send(f->fd, b, n, MSG_NOSIGNAL);
    if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
      uv_run(&f->loop, UV_RUN_NOWAIT);
      continue;
    }
    if (k <= 0) {
      f->closed = 1;
      return;
    }
    b += k;
    n -= (size_t)k;
  }
}

/* Sends req (n bytes, maybe none) and a Ping in one write; reads what
 * the server sent up to the Pong (or its close) into ans (the frames,
 * CSMs left out); returns their length. */
static size_t answer_until_pong(fixture *f, const uint8_t *req, size_t n,
                                uint8_t *ans, size_t cap) {
  uint8_t out[8192 + 8], tok[4];
  memcpy(tok, &f->ping, 4);
  f->ping++;
  assert_true(n <= 8192);
  if (n)
    memcpy(out, req, n);
  n += frame(out + n, 0xE2, tok, 4, NULL, 0, NULL, 0); /* 7.02 Ping */
  send_all(f, out, n);
  size_t got = 0;
  for (;;) {
    size_t at = 0, sz;
    while ((sz = frame_size(f->in + at, f->in_len - at)) != 0) {
      const uint8_t *p = f->in + at;
      size_t ext = (p[0] >> 4) == 13   ? 1
                   : (p[0] >> 4) == 14 ? 2
                   : (p[0] >> 4) == 15 ? 4
                                       : 0;
      uint8_t code = p[1 + ext];
      size_t tkl = p[0] & 15;
      at += sz;
      if (code == 0xE3 && tkl == 4 && !memcmp(p + 2 + ext, tok, 4)) {
        memmove(f->in, f->in + at, f->in_len - at);
        f->in_len -= at;
        return got;
      }
      if (code == 0xE1)
        continue; /* CSM */
      if (got + sz > cap)
        fail_msg("answer over %zu bytes", cap);
      memcpy(ans + got, p, sz);
      got += sz;
    }
    memmove(f->in, f->in + at, f->in_len - at);
    f->in_len -= at;
    if (f->closed) {
      if (got + f->in_len + 6 <= cap) { /* what is left, and the close */
        memcpy(ans + got, f->in, f->in_len);
        got += f->in_len;
        memcpy(ans + got, "CLOSED", 6);
        got += 6;
      }
      f->in_len = 0;
      return got;
    }
    f->timed_out = 0;
    uv_timer_start(&f->guard, test_run_guard_cb, GUARD_MS, 0);
    size_t before = f->in_len;
    while (f->in_len == before && !f->closed && !f->timed_out)
      uv_run(&f->loop, UV_RUN_ONCE);
    uv_timer_stop(&f->guard);
    if (f->timed_out)
      fail_msg("no Pong from the server");
  }
}

/* A CSM profile: what the client's CSM says. */
typedef struct csm_profile {
  const char *name;
  uint32_t mms; /* Max-Message-Size; 0: none */
  int bert;
  /* every this many requests a new CSM: Max-Message-Size 160 and 1152
   * (its base value) by turns */
  size_t switch_every;
  int get_only; /* the GET shapes alone (the others under "default") */
} csm_profile;

static const csm_profile profiles[] = {{"default", 0, 0, 0, 0},
                                       {"mms-160", 160, 0, 0, 1},
                                       {"bert", 65536, 1, 0, 1},
                                       {"csm-changes", 0, 0, 37, 1}};

static size_t uint_val(uint8_t *v, uint32_t x) {
  size_t n = x > 0xFFFFFF ? 4 : x > 0xFFFF ? 3 : x > 0xFF ? 2 : x ? 1 : 0;
  for (size_t i = 0; i < n; i++)
    v[i] = (uint8_t)(x >> (8 * (n - 1 - i)));
  return n;
}

/* The CSM (RFC 8323 §5.3) of profile c into b (32 bytes); its size. */
static size_t csm_frame(uint8_t *b, const csm_profile *c) {
  uint8_t mv[4];
  opt o[2];
  size_t no = 0;
  if (c->mms)
    o[no++] = (opt){2, (uint16_t)uint_val(mv, c->mms), mv};
  if (c->bert)
    o[no++] = (opt){4, 0, ""};
  return frame(b, 0xE1, NULL, 0, o, no, NULL, 0);
}

static void send_csm(fixture *f, const csm_profile *c) {
  uint8_t b[32];
  send_all(f, b, csm_frame(b, c));
}

/* The CSM a switching profile sends before request k (NULL: none). */
static const csm_profile *csm_switch(const csm_profile *c, size_t k) {
  static const csm_profile small = {"small", 160, 0, 0, 0},
                           base = {"base", 1152, 0, 0, 0};
  if (!c->switch_every || k % c->switch_every)
    return NULL;
  return (k / c->switch_every) % 2 ? &base : &small;
}

/* A TCP connection to port on 127.0.0.1, read by on_readable. */
static void client_connect(fixture *f, uint16_t port) {
  f->fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(f->fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons(port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  /* on loopback the kernel completes it (the listener's backlog) */
  assert_int_equal(connect(f->fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(fcntl(f->fd, F_SETFL, O_NONBLOCK), 0);
  int one = 1; /* a request and its Ping are two small writes */
  setsockopt(f->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  f->closed = 0;
  f->in_len = 0;
  uv_poll_init(&f->loop, &f->poll, f->fd);
  f->poll.data = f;
  f->polling = 1;
  uv_poll_start(&f->poll, UV_READABLE, on_readable);
}

/* A coaps+tcp connection to port: the TCP connection, then the TLS
 * handshake (tls_client_ctx) run against the server on the same loop;
 * then read by on_readable (tls_input). */
static void tls_connect(fixture *f, uint16_t port) {
  client_connect(f, port);
  uv_poll_stop(&f->poll); /* the handshake's bytes are OpenSSL's */
  SSL *s = SSL_new(tls_client_ctx);
  assert_non_null(s);
  SSL_set_mode(s, SSL_MODE_ENABLE_PARTIAL_WRITE |
                      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  assert_int_equal(SSL_set_fd(s, f->fd), 1);
  /* coaps+ws: HTTP/1.1 in ALPN (RFC 8323 §4.1 and RFC 7301) */
  static const unsigned char http11[] = "\x08http/1.1";
  if (f->ws)
    assert_int_equal(SSL_set_alpn_protos(s, http11, sizeof http11 - 1), 0);
  SSL_set_connect_state(s);
  f->timed_out = 0;
  uv_timer_start(&f->guard, test_run_guard_cb, GUARD_MS, 0);
  int r;
  while ((r = SSL_connect(s)) != 1 && !f->timed_out) {
    int e = SSL_get_error(s, r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
      char why[256];
      ERR_error_string_n(ERR_get_error(), why, sizeof why);
      ERR_clear_error();
      fail_msg("TLS handshake: %d %s", e, why);
    }
    uv_run(&f->loop, UV_RUN_NOWAIT);
  }
  uv_timer_stop(&f->guard);
  if (r != 1)
    fail_msg("TLS handshake: timed out");
  f->ssl = s;
  uv_poll_start(&f->poll, UV_READABLE, on_readable);
}

static void client_open_kind(fixture *f, int which, const csm_profile *c,
                             int ws) {
  client_close(f);
  f->udp = 0;
  f->ws = ws;
  f->ws_open = 0;
  f->wraw_len = 0;
  rc__fast_paths_off = which; /* read as the connection is made */
  if (clients_tls)
    tls_connect(f, f->tport);
  else
    client_connect(f, ws ? f->wport[which] : f->port[which]);
  if (ws) { /* RFC 8323 §4.1, RFC 6455 §4.1 */
    static const char up[] =
        "GET /.well-known/coap HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: coap\r\n\r\n";
    send_raw(f, (const uint8_t *)up, sizeof up - 1);
  }
  send_csm(f, c);
  uint8_t ans[64];
  assert_int_equal(answer_until_pong(f, NULL, 0, ans, sizeof ans), 0);
}

static void client_open(fixture *f, int which, const csm_profile *c) {
  client_open_kind(f, which, c, clients_ws);
}

/* ---- the requests ---- */

typedef struct optset {
  const char *name;
  opt o[6];
  size_t n;
} optset;

static const uint8_t u0[] = {0}, u1[] = {1}, u50[] = {50}, u3b[] = {0, 0, 0};
static const uint8_t etag4[] = {1, 2, 3, 4}, etag9[9] = {9};
static const uint8_t b2_0_0[] = {0x00};  /* NUM 0, SZX 0 (16) */
static const uint8_t b2_1_0[] = {0x10};  /* NUM 1, SZX 0 */
static const uint8_t b2_0_2[] = {0x02};  /* NUM 0, SZX 2 (64) */
static const uint8_t b2_0_6[] = {0x06};  /* NUM 0, SZX 6 (1024) */
static const uint8_t b2_0_7[] = {0x07};  /* NUM 0, BERT */
static const uint8_t b2_1_7[] = {0x17};  /* NUM 1, BERT */
static const uint8_t b2_bad[] = {1, 2, 3, 4}; /* 4 bytes: over 0-3 */
static const uint8_t port[] = {0x16, 0x33};
static const uint8_t nr2[] = {2}, nr26[] = {26}, nr16[] = {16};

#define O(num, v) {num, sizeof v, v}
#define OE(num) {num, 0, ""}
#define OS(num, s) {num, sizeof s - 1, s}

static const optset optsets[] = {
    {"none", {{0}}, 0},
    {"query", {OS(15, "a=1")}, 1},
    {"query2", {OS(15, "a=1"), OS(15, "b")}, 2},
    {"query-empty", {OE(15)}, 1},
    {"accept0", {O(17, u0)}, 1},
    {"accept-empty", {OE(17)}, 1},
    {"accept50", {O(17, u50)}, 1},
    {"accept-x2", {O(17, u50), O(17, u0)}, 2},
    {"accept-3b", {O(17, u3b)}, 1},
    {"etag", {O(4, etag4)}, 1},
    {"etag-x2", {O(4, etag4), O(4, u1)}, 2},
    {"etag-0b", {OE(4)}, 1},
    {"etag-9b", {O(4, etag9)}, 1},
    {"if-match", {O(1, etag4)}, 1},
    {"if-match-empty", {OE(1)}, 1},
    {"if-none-match", {OE(5)}, 1},
    {"if-none-match-1b", {O(5, u1)}, 1},
    {"observe0", {OE(6)}, 1},
    {"observe1", {O(6, u1)}, 1},
    {"observe-4b", {{6, 4, etag4}}, 1},
    {"observe-x2", {OE(6), O(6, u1)}, 2},
    {"block2-16", {O(23, b2_0_0)}, 1},
    {"block2-16-n1", {O(23, b2_1_0)}, 1},
    {"block2-64", {O(23, b2_0_2)}, 1},
    {"block2-1024", {O(23, b2_0_6)}, 1},
    {"block2-bert", {O(23, b2_0_7)}, 1},
    {"block2-bert-n1", {O(23, b2_1_7)}, 1},
    {"block2-4b", {O(23, b2_bad)}, 1},
    {"size2", {O(23, b2_0_2), OE(28)}, 2},
    {"size2-alone", {OE(28)}, 1},
    {"uri-host", {OS(3, "localhost")}, 1},
    {"uri-host-x2", {OS(3, "a"), OS(3, "b")}, 2},
    {"uri-port", {O(7, port)}, 1},
    {"location-path", {OS(8, "lp")}, 1},
    {"content-format", {O(12, u0)}, 1},
    {"content-format-3b", {O(12, u3b)}, 1},
    {"max-age", {O(14, u1)}, 1},
    {"hop-limit", {O(16, u1)}, 1},
    {"hop-limit-0b", {OE(16)}, 1},
    {"elective-2", {OS(2, "zz")}, 1},
    {"elective-62", {OS(62, "zz")}, 1},
    {"elective-2-62", {OE(2), OS(62, "zz")}, 2},
    {"critical-9-oscore", {OE(9)}, 1},
    {"critical-13", {OS(13, "c")}, 1},
    {"critical-19-qblock1", {O(19, u0)}, 1},
    {"critical-33", {OE(33)}, 1},
    {"critical-57", {OS(57, "zz")}, 1},
    {"elective-100", {OS(100, "zz")}, 1},
    {"elective-2048", {OE(2048)}, 1},
    {"critical-101", {OS(101, "zz")}, 1},
    {"critical-65001", {OE(65001)}, 1},
    {"echo", {OS(252, "echo")}, 1},
    {"request-tag", {OS(292, "rt")}, 1},
    {"size1", {O(60, u50)}, 1},
    {"proxy-uri", {OS(35, "coap://example.org/x")}, 1},
    {"proxy-scheme", {OS(39, "coap")}, 1},
    {"no-response-2", {O(258, nr2)}, 1},
    {"no-response-16", {O(258, nr16)}, 1},
    {"no-response-26", {O(258, nr26)}, 1},
    {"no-response-0", {OE(258)}, 1},
    {"elective-long", {{62, sizeof long_seg, long_seg}}, 1},
    {"query-long", {{15, sizeof long_seg, long_seg}}, 1},
    {"mix", {O(4, etag4), O(6, u1), O(17, u0), OE(28), O(258, nr16)}, 5},
};

/* paths: segments split at '|'; "" no Uri-Path; "#" the long segment */
static const char *const paths[] = {
    "hello", "json",    "empty", "cf300",  "mid",   "big",    "obs",
    "a|b|c", "a|b",     "pre",   "pre|x|y", "dyn",  "dyn|q",  "mixed",
    "",      "missing", "hello|", "Hello", "a/b",  "#",      "hello|x",
    ".well-known|core",
};

static const uint8_t methods[] = {RC_GET, RC_POST, RC_PUT, RC_DELETE,
                                  RC_FETCH};

static const uint8_t tok8[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                                 12, 13, 14, 15, 16, 17, 18, 19, 20};
static const size_t tkls[] = {0, 1, 4, 8, 13, 20};

/* Sorts o by number, repeats in the order given (insertion: stable). */
static void opts_sort(opt *o, size_t n) {
  for (size_t i = 1; i < n; i++) {
    opt v = o[i];
    size_t j = i;
    for (; j > 0 && o[j - 1].num > v.num; j--)
      o[j] = o[j - 1];
    o[j] = v;
  }
}


static size_t build_request(uint8_t method, const char *p, const optset *os,
                            size_t tkl, const char *pl, uint8_t *out,
                            char *name, size_t cap);

/* Random request k (seeded by k): a path of the set, 0-6 options drawn
 * from numbers around every class (known, unknown, critical, elective,
 * below and above 64) with values of 0-20 bytes, now and then 250-300,
 * repeats allowed; a method, token and payload. */
static size_t request_random(size_t k, uint8_t *out, char *name,
                             size_t cap) {
  static const uint16_t nums[] = {1,  2,  3,  4,  5,  6,   7,   8,   10,
                                  12, 14, 15, 16, 17, 20,  22,  23,  27,
                                  28, 35, 39, 60, 62, 63,  64,  100, 252,
                                  258, 292, 2048, 65000, 65001};
  static uint8_t vals[8][300];
  uint64_t x = k * 0x9e3779b97f4a7c15ull + 1;
#define RND() (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x)
  optset os = {"random", {{0}}, 0};
  size_t no = RND() % 7;
  if (no > 6)
    no = 6;
  for (size_t i = 0; i < no; i++) {
    uint64_t r = RND();
    size_t len = r % 8 ? (r >> 8) % 5 : r % 32 ? (r >> 8) % 21 : 250 + (r >> 8) % 51;
    for (size_t j = 0; j < len; j++)
      vals[i][j] = (uint8_t)(RND() >> 3);
    os.o[i] = (opt){nums[(r >> 20) % (sizeof nums / sizeof *nums)],
                    (uint16_t)len, vals[i]};
  }
  os.n = no;
  uint64_t r = RND();
  return build_request(methods[r % 2 ? 0 : (r >> 4) % 5],
                       paths[(r >> 8) % (sizeof paths / sizeof *paths)], &os,
                       tkls[(r >> 16) % (sizeof tkls / sizeof *tkls)],
                       (r >> 24) % 3 ? NULL : "p", out, name, cap);
#undef RND
}

/* Request k of the generated set into out (its length); 0 past the end.
 * The shape of k: path, option set and method, token length and payload
 * by turns. */
static size_t request(size_t k, uint8_t *out, char *name, size_t cap) {
  if (shapes_random)
    return k < shapes_random ? request_random(k, out, name, cap) : 0;
  if (shapes_stride && k % shapes_stride) {
    size_t np = sizeof paths / sizeof *paths, no = sizeof optsets / sizeof *optsets;
    return k / np / no < sizeof methods / sizeof *methods ? (size_t)-1 : 0;
  }
  size_t np = sizeof paths / sizeof *paths;
  size_t no = sizeof optsets / sizeof *optsets;
  size_t nm = sizeof methods / sizeof *methods;
  size_t pi = k % np, rest = k / np;
  size_t oi = rest % no;
  rest /= no;
  /* every option set with every path for GET; the other methods with
   * every third option set */
  size_t mi = rest;
  if (mi >= nm)
    return 0;
  if (mi > 0 && (oi % 3 != 0 || shapes_get_only))
    return (size_t)-1; /* skipped */
  return build_request(methods[mi], paths[pi], &optsets[oi],
                       tkls[(k / 7) % (sizeof tkls / sizeof *tkls)],
                       k % 3 == 1 ? "payload" : NULL, out, name, cap);
}

/* A request: method, path (segments split at '|'; "" no Uri-Path; "#"
 * the long segment), the options of os, a token of tkl bytes, payload pl
 * (NULL: none); its frame into out, its name into name. */
static size_t build_request(uint8_t method, const char *p, const optset *os,
                            size_t tkl, const char *pl, uint8_t *out,
                            char *name, size_t cap) {
  opt o[OPTS_MAX];
  size_t n = 0;
  char segbuf[256];
  if (!strcmp(p, "#")) {
    o[n++] = (opt){11, sizeof long_seg, long_seg};
  } else if (*p) {
    snprintf(segbuf, sizeof segbuf, "%s", p);
    char *s = segbuf;
    for (;;) {
      char *bar = strchr(s, '|');
      if (bar)
        *bar = 0;
      o[n++] = (opt){11, (uint16_t)strlen(s), s};
      if (!bar)
        break;
      s = bar + 1;
    }
  }
  for (size_t i = 0; i < os->n; i++)
    o[n++] = os->o[i];
  opts_sort(o, n);
  snprintf(name, cap, "%s /%s %s tkl %zu%s", rc_code_name(method), p,
           os->name, tkl, pl ? " +payload" : "");
  return frame(out, method, tok8, tkl, o, n, pl, pl ? strlen(pl) : 0);
}

/* Whether an answer registered an observation (an Observe option in a
 * 2.xx): the connection is then no longer plain; the caller reconnects. */
static int is_observe_request(const uint8_t *req, size_t n) {
  rc_msg m;
  rc_opt o;
  return rc_msg_parse(RC_FRAMING_TCP, req, n, &m) == RC_OK &&
         rc_msg_find_opt(&m, RC_OPT_OBSERVE, &o);
}

/* Each request's answers, round by round (b[i][1] NULL: sent once). */
#define ROUNDS 2
typedef struct answers {
  uint8_t *b[4096][ROUNDS];
  size_t n[4096][ROUNDS];
} answers;

/* Whether the lookup memo can serve req (rc__app_memo_key: option bytes
 * up to 16) or req does not parse: the shapes sent a second time to the
 * fast context (the memo's hit after its miss). */
static int memo_may_serve(const uint8_t *req, size_t n) {
  rc_msg m;
  return rc_msg_parse(RC_FRAMING_TCP, req, n, &m) != RC_OK ||
         m.opts_len <= 16;
}

/* Whether answer b (n bytes) registered an observation (a 2.xx with
 * Observe): the connection is no longer plain; the caller makes it
 * again. */
static int registered(const uint8_t *b, size_t n) {
  rc_msg m;
  rc_opt o;
  size_t sz = frame_size(b, n);
  return sz && rc_msg_parse(RC_FRAMING_TCP, b, sz, &m) == RC_OK &&
         RC_CODE_CLASS(m.code) == 2 &&
         rc_msg_find_opt(&m, RC_OPT_OBSERVE, &o);
}

/* Requests sent together before one Ping; how many batches went, and how
 * many went again one by one (printed by the tests: most must pair). */
#define BATCH 24
static size_t batches_sent, batches_alone;
typedef struct batch {
  uint8_t bytes[BATCH * 2 * 1200];
  size_t len;
  struct {
    size_t at, len; /* its bytes (a CSM before it too) */
    size_t i;
    int r;
  } e[BATCH * 2];
  size_t n;
} batch;

static void answer_store(answers *a, size_t i, int r, const uint8_t *b,
                         size_t n) {
  a->b[i][r] = malloc(n ? n : 1);
  memcpy(a->b[i][r], b, n);
  a->n[i][r] = n;
}

/* Sends batch q and a Ping; the answers, one frame per request, go to
 * their requests. An answer that registered an observation ends what
 * counts: the connection is made again (plain) and the requests after it
 * go again. When the server closed the connection or the frames do not
 * pair with the requests (a request without an answer or with two), the
 * requests go again one by one (what came before the Pong is then each
 * one's whole answer). */
static void batch_flush(fixture *f, int which, const csm_profile *c,
                        batch *q, answers *a) {
  static uint8_t ans[BATCH * 2 * ANSWER_MAX];
  while (q->n) {
    send_all(f, q->bytes, q->len);
    size_t an = answer_until_pong(f, NULL, 0, ans, sizeof ans), at = 0, k = 0;
    size_t sz[BATCH * 2];
    while (k < q->n && at < an && (sz[k] = frame_size(ans + at, an - at)))
      at += sz[k++];
    batches_sent++;
    if (f->closed || k != q->n || at != an)
      break;
    size_t done = q->n;
    int reg = 0;
    for (k = 0, at = 0; k < q->n && !reg; at += sz[k++]) {
      answer_store(a, q->e[k].i, q->e[k].r, ans + at, sz[k]);
      reg = registered(ans + at, sz[k]);
      done = k + 1;
    }
    if (reg)
      client_open(f, which, c);
    if (done == q->n) {
      q->n = q->len = 0;
      return;
    }
    size_t base = q->e[done].at; /* the rest, again */
    memmove(q->bytes, q->bytes + base, q->len - base);
    q->len -= base;
    for (k = done; k < q->n; k++) {
      q->e[k - done] = q->e[k];
      q->e[k - done].at -= base;
    }
    q->n -= done;
  }
  if (!q->n)
    return;
  batches_alone++;
  if (f->closed)
    client_open(f, which, c);
  for (size_t k = 0; k < q->n; k++) {
    size_t an = answer_until_pong(f, q->bytes + q->e[k].at, q->e[k].len, ans,
                                  ANSWER_MAX);
    answer_store(a, q->e[k].i, q->e[k].r, ans, an);
    if (f->closed || registered(ans, an))
      client_open(f, which, c);
  }
  q->n = q->len = 0;
}

/* Runs the whole set against context `which` under csm profile c: the
 * requests in batches; a request the memo may serve twice in a row (in
 * the fast context its miss, then its hit; in both the answer a second
 * time, which an exchange's state may change: a dynamic block-wise
 * body). After an answer that registered an observation the connection
 * is made again (plain: batch_flush). */
static size_t run_set(fixture *f, int which, const csm_profile *c,
                      answers *a) {
  static batch q;
  uint8_t req[8192], cb[32];
  char name[160];
  size_t count = 0;
  shapes_get_only = c->get_only;
  client_open(f, which, c);
  q.n = q.len = 0;
  for (size_t k = 0;; k++) {
    size_t rn = request(k, req, name, sizeof name);
    if (rn == 0)
      break;
    if (rn == (size_t)-1)
      continue;
    assert_true(count < 4096);
    size_t i = count++, csm = 0;
    const csm_profile *sw = csm_switch(c, i);
    if (sw)
      csm = csm_frame(cb, sw);
    int rounds = memo_may_serve(req, rn) ? 2 : 1;
    if (q.len + csm + 2 * rn > sizeof q.bytes || q.n + 2 > BATCH * 2)
      batch_flush(f, which, c, &q, a);
    assert_true(q.len + csm + 2 * rn <= sizeof q.bytes);
    for (int r = 0; r < rounds; r++) {
      q.e[q.n].at = q.len;
      if (csm && r == 0) {
        memcpy(q.bytes + q.len, cb, csm);
        q.len += csm;
      }
      memcpy(q.bytes + q.len, req, rn);
      q.len += rn;
      q.e[q.n].len = q.len - q.e[q.n].at;
      q.e[q.n].i = i;
      q.e[q.n].r = r;
      q.n++;
    }
  }
  batch_flush(f, which, c, &q, a);
  client_close(f);
  return count;
}

static void hexdump(const char *what, const uint8_t *b, size_t n) {
  char line[3 * 64 + 1];
  size_t at = 0;
  for (size_t i = 0; i < n && i < 64; i++)
    at += (size_t)snprintf(line + at, sizeof line - at, "%02x ", b[i]);
  line[at] = 0;
  print_message("  %s (%zu): %s\n", what, n, line);
}

/* Compares answers a[0] with a[1] to the first n requests of the set
 * (as request() gives them now), printing each difference under label;
 * frees a[0] (a[1] too unless keep_ref); returns how many differ. */
static size_t answers_cmp(const char *label, answers *a[2], size_t n,
                          int keep_ref) {
  uint8_t req[8192];
  char name[160];
  size_t differ = 0, i = 0;
  rc__fast_paths_off = 0;
  for (size_t k = 0; i < n; k++) {
    size_t rn = request(k, req, name, sizeof name);
    if (rn == (size_t)-1)
      continue;
    for (int r = 0; r < ROUNDS; r++) {
      if (!a[0]->b[i][r] && !a[1]->b[i][r])
        continue;
      if (!a[0]->b[i][r] || !a[1]->b[i][r])
        fail_msg("[%s] %s: sent %d times to one context only", label, name,
                 r + 1);
      if (a[0]->n[i][r] != a[1]->n[i][r] ||
          memcmp(a[0]->b[i][r], a[1]->b[i][r], a[0]->n[i][r])) {
        print_message("DIFF [%s] %s, round %d\n", label, name, r + 1);
        hexdump("request", req, rn);
        hexdump("fast", a[0]->b[i][r], a[0]->n[i][r]);
        hexdump("general", a[1]->b[i][r], a[1]->n[i][r]);
        differ++;
      }
    }
    for (int r = 0; r < ROUNDS; r++) {
      free(a[0]->b[i][r]);
      if (!keep_ref)
        free(a[1]->b[i][r]);
    }
    i++;
  }
  free(a[0]);
  if (!keep_ref)
    free(a[1]);
  return differ;
}

/* Frees answers a to n requests. */
static void answers_free(answers *a, size_t n) {
  for (size_t i = 0; i < n; i++)
    for (int r = 0; r < ROUNDS; r++)
      free(a->b[i][r]);
  free(a);
}

/* answers_cmp freeing both: the two contexts' answers. */
static size_t answers_diff(const char *label, answers *a[2], size_t n) {
  return answers_cmp(label, a, n, 0);
}

/* The code of the first frame of answer a (n bytes); 0 for none. */
static uint8_t answer_code(const uint8_t *a, size_t n, int *ext_token) {
  if (n < 2 || !frame_size(a, n))
    return 0;
  size_t ext = (a[0] >> 4) == 13 ? 1 : (a[0] >> 4) == 14 ? 2 : 0;
  *ext_token = (a[0] & 15) == 13;
  return a[1 + ext];
}

/* ---- pipelined: many requests per read, frames cut anywhere ---- */

/* The frame of the Ping numbered i (token: its number). */
static size_t ping_frame(uint8_t *out, uint32_t i) {
  return frame(out, 0xE2, (const uint8_t *)&i, 4, NULL, 0, NULL, 0);
}

/* Splits f->in at the Pongs numbered 0..n-1: the answers before each
 * (CSMs left out) into a; 1 when all n came. */
static int split_at_pongs(fixture *f, size_t n, answers *a) {
  size_t at = 0, start = 0, sz, i = 0;
  while (i < n && (sz = frame_size(f->in + at, f->in_len - at)) != 0) {
    const uint8_t *p = f->in + at;
    if (p[1] == 0xE3 && (p[0] & 15) == 4) { /* a Pong, no Len ext */
      uint32_t k;
      memcpy(&k, p + 2, 4);
      assert_int_equal(k, i);
      size_t len = at - start;
      a->b[i][0] = malloc(len ? len : 1);
      memcpy(a->b[i][0], f->in + start, len);
      a->n[i][0] = len;
      i++;
      start = at + sz;
    } else if (p[1] == 0xE1) {
      assert_int_equal(at, start); /* the CSM first */
      start = at + sz;
    }
    at += sz;
  }
  if (i == n)
    return 1;
  for (size_t k = 0; k < i; k++)
    free(a->b[k][0]);
  return 0;
}

/* The GET shapes without Observe (an observation would take the
 * connection off the plain way for the rest), each twice, with a Ping
 * after each; the requests' numbers into ks. */
static size_t pipeline_build(uint8_t *out, size_t cap, size_t *ks,
                             size_t max, size_t *count) {
  uint8_t req[8192];
  char name[160];
  size_t len = 0, n = 0;
  for (size_t k = 0; n < max; k++) {
    size_t rn = request(k, req, name, sizeof name);
    if (rn == 0)
      break;
    if (rn == (size_t)-1 || req[1 + (req[0] >> 4 == 13) + 2 * (req[0] >> 4 == 14)] != RC_GET ||
        is_observe_request(req, rn))
      continue;
    for (int r = 0; r < 2; r++) {
      assert_true(len + rn + 8 <= cap);
      memcpy(out + len, req, rn);
      len += rn;
      len += ping_frame(out + len, (uint32_t)n);
      ks[n++] = k;
    }
  }
  *count = n;
  return len;
}

/* Sends stream[0..upto) (m requests, each followed by its Ping) to
 * context `which` in pieces of piece bytes, a loop turn after each; each
 * request's answer into got. */
static void pieces_run(fixture *f, int which, const uint8_t *stream,
                       size_t upto, size_t piece, size_t m, answers *got) {
  client_open(f, which, &profiles[0]);
  for (size_t at = 0; at < upto; at += piece) {
    size_t k = upto - at < piece ? upto - at : piece;
    send_all(f, stream + at, k);
    uv_run(&f->loop, UV_RUN_NOWAIT);
  }
  f->timed_out = 0;
  uv_timer_start(&f->guard, test_run_guard_cb, GUARD_MS, 0);
  while (!f->closed && !f->timed_out && !split_at_pongs(f, m, got))
    uv_run(&f->loop, UV_RUN_ONCE);
  uv_timer_stop(&f->guard);
  assert_false(f->closed);
  assert_false(f->timed_out);
  client_close(f);
}

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#endif
