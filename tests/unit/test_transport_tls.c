/*
 * Tests for the TLS filter (src/transport/tls*.c): a client filter and a
 * server filter wired back to back in memory (no sockets), with a test PKI
 * generated at test time by tests/certs/gen.sh into a temp folder. Covers
 * the good path (TLS 1.3, ALPN coap, data both ways, byte-at-a-time
 * delivery), every refusal with its sentence and error code (unknown CA,
 * expiry, host name and IP SAN mismatch, missing ALPN either way, a
 * plaintext peer, mutual TLS), PSK on TLS 1.3 and 1.2, resumption, SNI
 * certificate choice, close_notify and truncation, and checks that the
 * OpenSSL error queue is empty after every failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "rcoap/transport_tls.h"

#include "tls_harness.h"

/* ---- tests: the good path ----------------------------------------------- */

static void exchange_data(pair *p, size_t step) {
  static uint8_t big[100000];
  for (size_t i = 0; i < sizeof(big); i++)
    big[i] = (uint8_t)(i * 7 + 3);
  assert_int_equal(rc_filter_send(p->c->f, (const uint8_t *)"ping", 4, 0),
                   RC_OK);
  assert_int_equal(rc_filter_send(p->s->f, big, sizeof(big), 0), RC_OK);
  assert_int_equal(pump(p->c, p->s, step), RC_OK);
  assert_int_equal(p->s->rx_len, 4);
  assert_memory_equal(p->s->rx, "ping", 4);
  assert_int_equal(p->c->rx_len, sizeof(big));
  assert_memory_equal(p->c->rx, big, sizeof(big));
}

static void test_good_chain(void **state) {
  (void)state;
  pair p;
  rc_tls_config s = server_cfg("server"), c = client_cfg();
  p.sctx = ctx_of(&s);
  p.cctx = ctx_of(&c);
  p.s = filter_end(p.sctx, NULL, 0);
  p.c = filter_end(p.cctx, "localhost", TEST_PORT);
  /* Sent before the handshake: queued, then first on the wire. */
  assert_int_equal(rc_filter_send(p.c->f, (const uint8_t *)"early", 5, 0),
                   RC_OK);
  assert_false(rc_tls_handshake_done(p.c->f));
  assert_int_equal(rc_tls_peer_info(p.c->f, &(rc_tls_peer){0}), RC_ERR_STATE);
  assert_int_equal(rc_tls_start(p.c->f), RC_OK);
  assert_int_equal(p.c->down_calls, 1); /* the ClientHello in one piece */
  assert_int_equal(pump(p.c, p.s, 0), RC_OK);
  assert_open(&p);
  assert_string_equal(rc_tls_protocol(p.c->f), "TLSv1.3");
  assert_string_equal(rc_tls_protocol(p.s->f), "TLSv1.3");
  assert_true(rc_tls_alpn_coap(p.c->f));
  assert_true(rc_tls_alpn_coap(p.s->f));
  assert_string_equal(rc_tls_sni(p.s->f), "localhost");
  assert_false(rc_tls_resumed(p.c->f));
  assert_int_equal(p.s->rx_len, 5);
  assert_memory_equal(p.s->rx, "early", 5);
  p.s->rx_len = 0;

  rc_tls_peer peer;
  uint8_t fp[RC_TLS_FINGERPRINT_LEN];
  assert_int_equal(rc_tls_peer_info(p.c->f, &peer), RC_OK);
  assert_true(peer.has_cert);
  assert_true(peer.verified);
  assert_string_equal(peer.subject_cn, "localhost");
  assert_string_equal(peer.sans,
                      "DNS:localhost, DNS:rcoap.test, IP:127.0.0.1, IP:::1");
  assert_int_equal(rc_tls_fingerprint_file(P("server.crt"), fp), RC_OK);
  assert_memory_equal(peer.fingerprint, fp, sizeof(fp));
  assert_int_equal(rc_tls_peer_info(p.s->f, &peer), RC_OK);
  assert_false(peer.has_cert);

  /* One send is one down() call, even when it spans several records. */
  int before = p.s->down_calls;
  exchange_data(&p, 0);
  assert_int_equal(p.s->down_calls, before + 1);
  /* 100000 bytes arrive in one recv(): handed up in 16 KiB pieces. */
  assert_true(p.c->up_calls <= 7);

  /* Graceful close: close_notify both ways, EV_CLOSED on both sides. */
  assert_int_equal(rc_filter_shutdown(p.c->f), RC_OK);
  assert_int_equal(rc_filter_send(p.c->f, (const uint8_t *)"x", 1, 0),
                   RC_ERR_STATE);
  assert_int_equal(pump(p.c, p.s, 0), RC_OK);
  assert_int_equal(p.s->closed, 1);
  assert_int_equal(p.c->closed, 1);
  assert_int_equal(rc_tls_eof(p.s->f), RC_OK);
  assert_int_equal(rc_tls_eof(p.c->f), RC_OK);
  assert_int_equal(p.c->errors + p.s->errors, 0);
  pair_free(&p);
}

static void test_one_byte_at_a_time(void **state) {
  (void)state;
  pair p;
  rc_tls_config s = server_cfg("server"), c = client_cfg();
  assert_int_equal(connect_pair(&p, &s, &c, "localhost", TEST_PORT, 1), RC_OK);
  assert_open(&p);
  exchange_data(&p, 1);
  /* And split at every boundary of a small record: 1..n-1 then the rest
   * (each turn encrypts a fresh record: records must arrive in order). */
  assert_int_equal(rc_filter_send(p.s->f, (const uint8_t *)"abc", 3, 0), 0);
  size_t n = p.s->wire_len;
  assert_int_equal(rc_filter_recv(p.c->f, p.s->wire, n), RC_OK);
  p.s->wire_len = 0;
  for (size_t cut = 1; cut < n; cut++) {
    assert_int_equal(rc_filter_send(p.s->f, (const uint8_t *)"abc", 3, 0), 0);
    assert_int_equal(p.s->wire_len, n);
    p.c->rx_len = 0;
    assert_int_equal(rc_filter_recv(p.c->f, p.s->wire, cut), RC_OK);
    assert_int_equal(p.c->rx_len, 0);
    assert_int_equal(rc_filter_recv(p.c->f, p.s->wire + cut, n - cut), RC_OK);
    p.s->wire_len = 0;
    assert_int_equal(p.c->rx_len, 3);
    assert_memory_equal(p.c->rx, "abc", 3);
  }
  pair_free(&p);
}

static void test_in_memory_pem(void **state) {
  (void)state;
  static char cert[8192], key[4096], ca[4096];
  size_t nc, nk, na;
  FILE *fp = fopen(P("server.crt"), "r");
  assert_non_null(fp);
  nc = fread(cert, 1, sizeof(cert), fp);
  fclose(fp);
  fp = fopen(P("server.key"), "r");
  assert_non_null(fp);
  nk = fread(key, 1, sizeof(key), fp);
  fclose(fp);
  fp = fopen(P("ca.crt"), "r");
  assert_non_null(fp);
  na = fread(ca, 1, sizeof(ca), fp);
  fclose(fp);
  rc_tls_config s, c;
  rc_tls_config_init(&s, RC_TLS_SERVER);
  s.certs[0] = (rc_tls_cert){NULL, NULL, cert, nc, key, nk};
  s.ncerts = 1;
  rc_tls_config_init(&c, RC_TLS_CLIENT);
  c.ca_pem = ca;
  c.ca_pem_len = na;
  pair p;
  assert_int_equal(connect_pair(&p, &s, &c, "rcoap.test", TEST_PORT, 0), 0);
  assert_open(&p);
  pair_free(&p);
}

/* ---- tests: certificate refusals ---------------------------------------- */

static void expect_cert_failure(const char *server, const char *host,
                                const char *text) {
  pair p;
  rc_tls_config s = server_cfg(server), c = client_cfg();
  rc_err err = connect_pair(&p, &s, &c, host, TEST_PORT, 0);
  assert_int_equal(err, RC_ERR_TLS_CERT);
  assert_int_equal(p.c->errors, 1);
  assert_int_equal(p.c->err, RC_ERR_TLS_CERT);
  assert_int_equal(p.c->opened, 0);
  assert_contains(p.c->detail, text);
  assert_string_equal(rc_tls_error_detail(p.c->f), p.c->detail);
  /* The server hears the alert. */
  assert_int_equal(p.s->errors, 1);
  assert_int_equal(p.s->opened, 0);
  assert_int_equal(ERR_peek_error(), 0);
  /* Dead: further calls return the error, no second event. */
  assert_int_equal(rc_filter_recv(p.c->f, (const uint8_t *)"\x17", 1),
                   RC_ERR_TLS_CERT);
  assert_int_equal(rc_filter_send(p.c->f, (const uint8_t *)"x", 1, 0),
                   RC_ERR_TLS_CERT);
  assert_int_equal(p.c->errors, 1);
  pair_free(&p);
}

static void test_unknown_ca(void **state) {
  (void)state;
  expect_cert_failure("rogue", "localhost", "unknown CA: CN=rogue CA");
}

static void test_expired(void **state) {
  (void)state;
  expect_cert_failure("expired", "localhost", "certificate has expired");
}

static void test_wrong_host(void **state) {
  (void)state;
  expect_cert_failure("server", "wrong.example",
                      "host name mismatch: certificate is for DNS:localhost, "
                      "DNS:rcoap.test, IP:127.0.0.1, IP:::1, not "
                      "wrong.example");
}

static void test_ip_san_bad(void **state) {
  (void)state;
  expect_cert_failure("server", "10.1.2.3", "host name mismatch");
  expect_cert_failure("server", "::2", "not ::2");
}

static void test_ip_san_good(void **state) {
  (void)state;
  const char *hosts[] = {"127.0.0.1", "::1", "[::1]"};
  for (size_t i = 0; i < 3; i++) {
    pair p;
    rc_tls_config s = server_cfg("server"), c = client_cfg();
    assert_int_equal(connect_pair(&p, &s, &c, hosts[i], TEST_PORT, 0), 0);
    assert_open(&p);
    /* RFC 6066 §3: no SNI for an IP literal. */
    assert_null(rc_tls_sni(p.s->f));
    pair_free(&p);
  }
}

static void test_insecure_client(void **state) {
  (void)state;
  pair p;
  rc_tls_config s = server_cfg("rogue"), c = client_cfg();
  c.ca_file = NULL;
  c.insecure = 1;
  assert_int_equal(connect_pair(&p, &s, &c, "wrong.example", TEST_PORT, 0),
                   0);
  assert_open(&p);
  rc_tls_peer peer;
  assert_int_equal(rc_tls_peer_info(p.c->f, &peer), RC_OK);
  assert_true(peer.has_cert);
  assert_false(peer.verified);
  pair_free(&p);
}

static void test_sni_selects_certificate(void **state) {
  (void)state;
  static char c2[512], k2[512];
  const char *hosts[] = {"other.test", "localhost"};
  const char *cns[] = {"other.test", "localhost"};
  for (size_t i = 0; i < 2; i++) {
    pair p;
    rc_tls_config s = server_cfg("server"), c = client_cfg();
    snprintf(c2, sizeof(c2), "%s/other.crt", g_dir);
    snprintf(k2, sizeof(k2), "%s/other.key", g_dir);
    s.certs[1].cert_file = c2;
    s.certs[1].key_file = k2;
    s.ncerts = 2;
    assert_int_equal(connect_pair(&p, &s, &c, hosts[i], TEST_PORT, 0), 0);
    assert_open(&p);
    rc_tls_peer peer;
    assert_int_equal(rc_tls_peer_info(p.c->f, &peer), RC_OK);
    assert_string_equal(peer.subject_cn, cns[i]);
    assert_string_equal(rc_tls_sni(p.s->f), hosts[i]);
    pair_free(&p);
  }
}

/* ---- tests: ALPN -------------------------------------------------------- */

/* A raw OpenSSL client with the given ALPN list (NULL: no extension)
 * against a filter server (a coaps+ws one when http), handshake pumped. */
typedef struct rawrun {
  rc_tls_ctx *sctx;
  SSL_CTX *rc;
  end *srv, *cli;
  rc_err err;
} rawrun;

static void raw_run(rawrun *r, int http, const unsigned char *alpn,
                    unsigned alpn_len) {
  rc_tls_config s = server_cfg("server");
  r->sctx = ctx_of(&s);
  r->rc = SSL_CTX_new(TLS_client_method());
  assert_non_null(r->rc);
  if (alpn)
    assert_int_equal(SSL_CTX_set_alpn_protos(r->rc, alpn, alpn_len), 0);
  r->srv = filter_end(r->sctx, NULL, 0);
  if (http)
    assert_int_equal(rc_tls_set_http(r->srv->f), RC_OK);
  r->cli = raw_end(r->rc, 0);
  raw_drain(r->cli);
  assert_true(r->cli->wire_len > 0);
  r->err = pump(r->cli, r->srv, 0);
}

static void raw_run_free(rawrun *r) {
  end_free(r->srv);
  end_free(r->cli);
  SSL_CTX_free(r->rc);
  rc_tls_ctx_free(r->sctx);
  assert_int_equal(ERR_peek_error(), 0);
}

static void raw_client_refused_by(int http, const unsigned char *alpn,
                                  unsigned alpn_len, const char *text) {
  rawrun r;
  raw_run(&r, http, alpn, alpn_len);
  assert_int_equal(r.err, RC_ERR_TLS_ALPN);
  assert_int_equal(r.srv->errors, 1);
  assert_int_equal(r.srv->err, RC_ERR_TLS_ALPN);
  assert_contains(r.srv->detail, text);
  /* The raw client got a fatal no_application_protocol alert (120). */
  assert_int_equal(SSL_is_init_finished(r.cli->raw), 0);
  unsigned long e = ERR_get_error();
  assert_int_equal(ERR_GET_REASON(e), SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL);
  ERR_clear_error();
  raw_run_free(&r);
}

static void raw_client_refused(const unsigned char *alpn, unsigned alpn_len,
                               const char *text) {
  raw_client_refused_by(0, alpn, alpn_len, text);
}

/* A coaps+ws server accepts the raw client and selects want. */
static void ws_server_selects(const unsigned char *alpn, unsigned alpn_len,
                              const char *want) {
  rawrun r;
  raw_run(&r, 1, alpn, alpn_len);
  assert_int_equal(r.err, RC_OK);
  assert_int_equal(r.srv->opened, 1);
  assert_int_equal(r.srv->errors, 0);
  assert_string_equal(rc_tls_alpn(r.srv->f), want);
  const unsigned char *p;
  unsigned n;
  SSL_get0_alpn_selected(r.cli->raw, &p, &n);
  assert_int_equal(n, strlen(want));
  if (n)
    assert_memory_equal(p, want, n);
  raw_run_free(&r);
}

/* coaps+ws is HTTPS: browsers and curl offer h2 and http/1.1, or nothing;
 * "coap" is what rcoap offered before 0.1.1. Only a list without either
 * identifier is refused. */
static void test_ws_server_alpn(void **state) {
  (void)state;
  ws_server_selects((const unsigned char *)"\x08http/1.1", 9, "http/1.1");
  ws_server_selects((const unsigned char *)"\x02h2\x08http/1.1", 12,
                    "http/1.1");
  ws_server_selects(NULL, 0, "");
  ws_server_selects((const unsigned char *)"\x04" "coap", 5, "coap");
  ws_server_selects((const unsigned char *)"\x04" "coap\x08http/1.1", 14,
                    "http/1.1");
  raw_client_refused_by(1, (const unsigned char *)"\x02h2", 3,
                        "client did not offer ALPN http/1.1 or coap");
}

/* What a raw server saw offered, and selects nothing. */
static unsigned char g_offered[64];
static unsigned g_offered_len;
static int record_alpn_cb(SSL *ssl, const unsigned char **out,
                          unsigned char *outlen, const unsigned char *in,
                          unsigned int inlen, void *arg) {
  (void)ssl, (void)out, (void)outlen, (void)arg;
  g_offered_len = inlen < sizeof(g_offered) ? inlen : 0;
  memcpy(g_offered, in, g_offered_len);
  return SSL_TLSEXT_ERR_NOACK;
}

/* A coaps+ws client offers only http/1.1 and accepts a server that
 * selects none (any HTTPS server); after the start it is too late. */
static void test_ws_client_alpn(void **state) {
  (void)state;
  SSL_CTX *rs = SSL_CTX_new(TLS_server_method());
  assert_int_equal(SSL_CTX_use_certificate_chain_file(rs, P("server.crt")), 1);
  assert_int_equal(
      SSL_CTX_use_PrivateKey_file(rs, P("server.key"), SSL_FILETYPE_PEM), 1);
  SSL_CTX_set_alpn_select_cb(rs, record_alpn_cb, NULL);
  rc_tls_config c = client_cfg();
  rc_tls_ctx *cctx = ctx_of(&c);
  end *cli = filter_end(cctx, "localhost", TEST_PORT);
  assert_int_equal(rc_tls_set_http(cli->f), RC_OK);
  end *srv = raw_end(rs, 1);
  g_offered_len = 0;
  assert_int_equal(rc_tls_start(cli->f), RC_OK);
  assert_int_equal(rc_tls_set_http(cli->f), RC_ERR_STATE);
  assert_int_equal(pump(cli, srv, 0), RC_OK);
  assert_int_equal(cli->opened, 1);
  assert_int_equal(g_offered_len, 9);
  assert_memory_equal(g_offered, "\x08http/1.1", 9);
  assert_string_equal(rc_tls_alpn(cli->f), "");
  ERR_clear_error();
  end_free(srv);
  end_free(cli);
  SSL_CTX_free(rs);
  rc_tls_ctx_free(cctx);

  /* Both ends ours: http/1.1. */
  pair p;
  rc_tls_config s = server_cfg("server");
  p.sctx = ctx_of(&s);
  p.cctx = ctx_of(&c);
  p.s = filter_end(p.sctx, NULL, 0);
  p.c = filter_end(p.cctx, "localhost", TEST_PORT);
  assert_int_equal(rc_tls_set_http(p.s->f), RC_OK);
  assert_int_equal(rc_tls_set_http(p.c->f), RC_OK);
  assert_int_equal(rc_tls_start(p.c->f), RC_OK);
  assert_int_equal(pump(p.c, p.s, 0), RC_OK);
  assert_open(&p);
  assert_string_equal(rc_tls_alpn(p.c->f), "http/1.1");
  assert_string_equal(rc_tls_alpn(p.s->f), "http/1.1");
  assert_false(rc_tls_alpn_coap(p.c->f));
  pair_free(&p);
}

static void test_client_without_alpn_refused(void **state) {
  (void)state;
  raw_client_refused(NULL, 0, "client did not offer ALPN coap (no ALPN ext");
  raw_client_refused((const unsigned char *)"\x02h2\x08http/1.1", 12,
                     "client did not offer ALPN coap");
}

static void test_allow_no_alpn(void **state) {
  (void)state;
  rc_tls_config s = server_cfg("server");
  s.allow_no_alpn = 1;
  rc_tls_ctx *sctx = ctx_of(&s);
  SSL_CTX *rc = SSL_CTX_new(TLS_client_method());
  end *srv = filter_end(sctx, NULL, 0);
  end *cli = raw_end(rc, 0);
  raw_drain(cli);
  assert_int_equal(pump(cli, srv, 0), RC_OK);
  assert_int_equal(srv->opened, 1);
  assert_false(rc_tls_alpn_coap(srv->f));
  end_free(srv);
  end_free(cli);
  SSL_CTX_free(rc);
  rc_tls_ctx_free(sctx);
}

/* A raw OpenSSL server that ignores ALPN. */
static void server_without_alpn(uint16_t port, int allow, rc_err want) {
  SSL_CTX *rs = SSL_CTX_new(TLS_server_method());
  assert_int_equal(SSL_CTX_use_certificate_chain_file(rs, P("server.crt")), 1);
  assert_int_equal(
      SSL_CTX_use_PrivateKey_file(rs, P("server.key"), SSL_FILETYPE_PEM), 1);
  rc_tls_config c = client_cfg();
  c.allow_no_alpn = allow;
  rc_tls_ctx *cctx = ctx_of(&c);
  end *cli = filter_end(cctx, "localhost", port);
  end *srv = raw_end(rs, 1);
  assert_int_equal(rc_tls_start(cli->f), RC_OK);
  assert_int_equal(pump(cli, srv, 0), want);
  if (want) {
    assert_int_equal(cli->errors, 1);
    assert_int_equal(cli->err, RC_ERR_TLS_ALPN);
    assert_string_equal(cli->detail, "server did not negotiate ALPN coap");
    assert_int_equal(cli->opened, 0);
  } else {
    assert_int_equal(cli->opened, 1);
  }
  ERR_clear_error(); /* the raw server's own errors */
  end_free(srv);
  end_free(cli);
  SSL_CTX_free(rs);
  rc_tls_ctx_free(cctx);
}

static void test_server_without_alpn(void **state) {
  (void)state;
  server_without_alpn(TEST_PORT, 0, RC_ERR_TLS_ALPN);
  /* RFC 8323 §8.2: on port 5684 coaps+tcp is implicitly selected. */
  server_without_alpn(RC_TLS_COAPS_DEFAULT_PORT, 0, RC_OK);
  /* Opted in (libcoap 4.3.1 PSK servers negotiate no ALPN). */
  server_without_alpn(TEST_PORT, 1, RC_OK);
}

/* ---- tests: not TLS ----------------------------------------------------- */

static void test_plaintext_into_server(void **state) {
  (void)state;
  rc_tls_config s = server_cfg("server");
  rc_tls_ctx *sctx = ctx_of(&s);
  /* A coap+tcp CSM, and an HTTP request: refused at the first byte. */
  const char *inputs[] = {"\x00\xe1\x51\x01", "GET / HTTP/1.1\r\n"};
  const char *kinds[] = {"CoAP", "HTTP"};
  for (size_t i = 0; i < 2; i++) {
    end *srv = filter_end(sctx, NULL, 0);
    assert_int_equal(rc_filter_recv(srv->f, (const uint8_t *)inputs[i], 1),
                     RC_ERR_TLS_NOT_TLS);
    assert_int_equal(srv->errors, 1);
    assert_int_equal(srv->err, RC_ERR_TLS_NOT_TLS);
    assert_contains(srv->detail, "peer is not speaking TLS");
    assert_contains(srv->detail, kinds[i]);
    assert_int_equal(srv->wire_len, 0);
    assert_int_equal(ERR_peek_error(), 0);
    end_free(srv);
  }
  /* 0x16 then a wrong version byte. */
  end *srv = filter_end(sctx, NULL, 0);
  assert_int_equal(rc_filter_recv(srv->f, (const uint8_t *)"\x16", 1), RC_OK);
  assert_int_equal(rc_filter_recv(srv->f, (const uint8_t *)"\x47", 1),
                   RC_ERR_TLS_NOT_TLS);
  assert_contains(srv->detail, "0x16 0x47");
  end_free(srv);
  rc_tls_ctx_free(sctx);
}

static void test_plaintext_into_client(void **state) {
  (void)state;
  rc_tls_config c = client_cfg();
  rc_tls_ctx *cctx = ctx_of(&c);
  end *cli = filter_end(cctx, "localhost", TEST_PORT);
  assert_int_equal(rc_tls_start(cli->f), RC_OK);
  /* A coap+tcp server answering with its CSM. */
  assert_int_equal(rc_filter_recv(cli->f, (const uint8_t *)"\x00\xe1", 2),
                   RC_ERR_TLS_NOT_TLS);
  assert_int_equal(cli->err, RC_ERR_TLS_NOT_TLS);
  assert_contains(cli->detail, "peer is not speaking TLS");
  assert_int_equal(ERR_peek_error(), 0);
  end_free(cli);
  rc_tls_ctx_free(cctx);
}

/* ---- tests: mutual TLS -------------------------------------------------- */

static rc_tls_config mtls_server(rc_tls_client_auth auth) {
  static char ca[512];
  rc_tls_config s = server_cfg("server");
  snprintf(ca, sizeof(ca), "%s/ca.crt", g_dir);
  s.ca_file = ca;
  s.client_auth = auth;
  return s;
}

static rc_tls_config client_with_cert(const char *name) {
  static char cert[512], key[512];
  rc_tls_config c = client_cfg();
  snprintf(cert, sizeof(cert), "%s/%s.crt", g_dir, name);
  snprintf(key, sizeof(key), "%s/%s.key", g_dir, name);
  c.certs[0].cert_file = cert;
  c.certs[0].key_file = key;
  c.ncerts = 1;
  return c;
}

static void test_mtls_required_missing(void **state) {
  (void)state;
  for (int v = 0; v < 2; v++) {
    pair p;
    rc_tls_config s = mtls_server(RC_TLS_CLIENT_AUTH_REQUIRE);
    rc_tls_config c = client_cfg();
    c.max_version = v ? RC_TLS_V1_2 : RC_TLS_V1_3;
    (void)connect_pair(&p, &s, &c, "localhost", TEST_PORT, 0);
    assert_int_equal(p.s->errors, 1);
    assert_int_equal(p.s->err, RC_ERR_TLS_CERT);
    assert_contains(p.s->detail, "client did not send a certificate");
    assert_int_equal(p.s->opened, 0);
    /* The client learns it too. In TLS 1.3 its handshake completes before
     * the server checks (EV_OPEN, then EV_ERROR on the alert). */
    assert_int_equal(p.c->errors, 1);
    assert_int_equal(p.c->opened, v ? 0 : 1);
    if (!v) {
      assert_int_equal(p.c->err, RC_ERR_TLS_CERT);
      assert_contains(p.c->detail, "requires a client certificate");
    } else {
      assert_contains(p.c->detail, "handshake failed");
    }
    pair_free(&p);
  }
}

static void test_mtls_ok(void **state) {
  (void)state;
  pair p;
  rc_tls_config s = mtls_server(RC_TLS_CLIENT_AUTH_REQUIRE);
  rc_tls_config c = client_with_cert("client");
  assert_int_equal(connect_pair(&p, &s, &c, "localhost", TEST_PORT, 0), 0);
  assert_open(&p);
  rc_tls_peer peer;
  uint8_t fp[RC_TLS_FINGERPRINT_LEN];
  assert_int_equal(rc_tls_peer_info(p.s->f, &peer), RC_OK);
  assert_true(peer.has_cert);
  assert_true(peer.verified);
  assert_string_equal(peer.subject_cn, "rcoap-client-1");
  assert_string_equal(peer.sans, "");
  assert_int_equal(rc_tls_fingerprint_file(P("client.crt"), fp), RC_OK);
  assert_memory_equal(peer.fingerprint, fp, sizeof(fp));
  exchange_data(&p, 0);
  pair_free(&p);
}

static void test_mtls_request_optional(void **state) {
  (void)state;
  pair p;
  rc_tls_config s = mtls_server(RC_TLS_CLIENT_AUTH_REQUEST);
  rc_tls_config c = client_cfg();
  assert_int_equal(connect_pair(&p, &s, &c, "localhost", TEST_PORT, 0), 0);
  assert_open(&p);
  rc_tls_peer peer;
  assert_int_equal(rc_tls_peer_info(p.s->f, &peer), RC_OK);
  assert_false(peer.has_cert);
  pair_free(&p);
}

static void test_mtls_rogue_client(void **state) {
  (void)state;
  pair p;
  rc_tls_config s = mtls_server(RC_TLS_CLIENT_AUTH_REQUIRE);
  rc_tls_config c = client_with_cert("rogue-client");
  (void)connect_pair(&p, &s, &c, "localhost", TEST_PORT, 0);
  assert_int_equal(p.s->err, RC_ERR_TLS_CERT);
  assert_contains(p.s->detail, "client certificate: unknown CA: CN=rogue CA");
  assert_int_equal(p.c->errors, 1);
  assert_int_equal(p.c->err, RC_ERR_TLS_CERT);
  assert_contains(p.c->detail, "rejected our certificate");
  pair_free(&p);
}

/* ---- tests: PSK --------------------------------------------------------- */

static rc_tls_config psk_server(const char *key) {
  rc_tls_config s;
  rc_tls_config_init(&s, RC_TLS_SERVER);
  s.psk_key = (const uint8_t *)key;
  s.psk_key_len = strlen(key);
  s.psk_hint = "rcoap-hint";
  return s;
}

static rc_tls_config psk_client(const char *id, const char *key) {
  rc_tls_config c;
  rc_tls_config_init(&c, RC_TLS_CLIENT);
  c.psk_identity = (const uint8_t *)id;
  c.psk_identity_len = strlen(id);
  c.psk_key = (const uint8_t *)key;
  c.psk_key_len = strlen(key);
  return c;
}

static void test_psk_good(void **state) {
  (void)state;
  const char *want[] = {"TLSv1.3", "TLSv1.2"};
  for (int v = 0; v < 2; v++) {
    pair p;
    rc_tls_config s = psk_server("s3cr3t");
    rc_tls_config c = psk_client("client1", "s3cr3t");
    if (v)
      c.max_version = RC_TLS_V1_2;
    assert_int_equal(connect_pair(&p, &s, &c, "127.0.0.1", TEST_PORT, 0), 0);
    assert_open(&p);
    assert_string_equal(rc_tls_protocol(p.c->f), want[v]);
    if (v)
      assert_contains(rc_tls_cipher(p.c->f), "PSK");
    rc_tls_peer peer;
    assert_int_equal(rc_tls_peer_info(p.s->f, &peer), RC_OK);
    assert_false(peer.has_cert);
    assert_int_equal(peer.psk_identity_len, 7);
    assert_memory_equal(peer.psk_identity, "client1", 7);
    exchange_data(&p, 0);
    pair_free(&p);
  }
}

static void test_psk_wrong_key(void **state) {
  (void)state;
  for (int v = 0; v < 2; v++) {
    pair p;
    rc_tls_config s = psk_server("s3cr3t");
    rc_tls_config c = psk_client("client1", "wrong!");
    if (v)
      c.max_version = RC_TLS_V1_2;
    rc_err err = connect_pair(&p, &s, &c, "127.0.0.1", TEST_PORT, 0);
    assert_int_equal(err, RC_ERR_TLS);
    assert_int_equal(p.s->errors, 1);
    assert_int_equal(p.c->errors, 1);
    assert_int_equal(p.s->err, RC_ERR_TLS);
    assert_int_equal(p.c->err, RC_ERR_TLS);
    assert_contains(p.s->detail, "pre-shared key");
    assert_contains(p.c->detail, "pre-shared key");
    pair_free(&p);
  }
}

static int lookup(void *user, const uint8_t *id, size_t idlen, uint8_t *key,
                  size_t cap) {
  (void)user;
  if (idlen == 5 && memcmp(id, "alice", 5) == 0 && cap >= 3) {
    memcpy(key, "k-a", 3);
    return 3;
  }
  return -1;
}

static void test_psk_lookup_and_identity(void **state) {
  (void)state;
  for (int v = 0; v < 2; v++) {
    pair p;
    rc_tls_config s;
    rc_tls_config_init(&s, RC_TLS_SERVER);
    s.psk_lookup = lookup;
    rc_tls_config c = psk_client("alice", "k-a");
    c.max_version = v ? RC_TLS_V1_2 : RC_TLS_V1_3;
    assert_int_equal(connect_pair(&p, &s, &c, "127.0.0.1", TEST_PORT, 0), 0);
    assert_open(&p);
    pair_free(&p);
    /* An unknown identity fails. */
    c = psk_client("bob", "k-a");
    c.max_version = v ? RC_TLS_V1_2 : RC_TLS_V1_3;
    assert_int_not_equal(
        connect_pair(&p, &s, &c, "127.0.0.1", TEST_PORT, 0), RC_OK);
    assert_int_equal(p.s->errors, 1);
    assert_int_equal(p.c->errors, 1);
    pair_free(&p);
  }
  /* A server bound to one identity refuses another with the right key. */
  pair p;
  rc_tls_config s = psk_server("s3cr3t");
  s.psk_identity = (const uint8_t *)"client1";
  s.psk_identity_len = 7;
  rc_tls_config c = psk_client("client2", "s3cr3t");
  assert_int_not_equal(connect_pair(&p, &s, &c, "127.0.0.1", TEST_PORT, 0),
                       RC_OK);
  assert_int_equal(p.s->errors, 1);
  pair_free(&p);
}

/* ---- tests: resumption -------------------------------------------------- */

static void resume(int no_tickets, int want_resumed) {
  rc_tls_config s = server_cfg("server"), c = client_cfg();
  s.no_tickets = no_tickets;
  rc_tls_ctx *sctx = ctx_of(&s), *cctx = ctx_of(&c);
  for (int round = 0; round < 2; round++) {
    end *srv = filter_end(sctx, NULL, 0);
    end *cli = filter_end(cctx, "localhost", TEST_PORT);
    assert_int_equal(rc_tls_start(cli->f), RC_OK);
    assert_int_equal(pump(cli, srv, 0), RC_OK);
    assert_int_equal(cli->opened, 1);
    assert_int_equal(srv->opened, 1);
    /* Resumed only on the second round, and only with tickets. */
    int want = round == 1 && want_resumed;
    assert_int_equal(!!rc_tls_resumed(cli->f), want);
    assert_int_equal(!!rc_tls_resumed(srv->f), want);
    assert_int_equal(rc_tls_ctx_cached_sessions(cctx), no_tickets ? 0 : 1);
    if (want) {
      /* The peer identity is still there on a resumed session. */
      rc_tls_peer peer;
      assert_int_equal(rc_tls_peer_info(cli->f, &peer), RC_OK);
      assert_string_equal(peer.subject_cn, "localhost");
      assert_true(peer.verified);
    }
    end_free(srv);
    end_free(cli);
  }
  /* Another port is another cache entry: not resumed. */
  end *srv = filter_end(sctx, NULL, 0);
  end *cli = filter_end(cctx, "localhost", TEST_PORT + 1);
  assert_int_equal(rc_tls_start(cli->f), RC_OK);
  assert_int_equal(pump(cli, srv, 0), RC_OK);
  assert_false(rc_tls_resumed(cli->f));
  end_free(srv);
  end_free(cli);
  rc_tls_ctx_free(sctx);
  rc_tls_ctx_free(cctx);
  assert_int_equal(ERR_peek_error(), 0);
}

static void test_resumption(void **state) {
  (void)state;
  resume(0, 1);
}

static void test_tickets_off(void **state) {
  (void)state;
  resume(1, 0);
}

/* ---- tests: close, truncation, re-entrancy ------------------------------ */

static void test_truncation(void **state) {
  (void)state;
  pair p;
  rc_tls_config s = server_cfg("server"), c = client_cfg();
  assert_int_equal(connect_pair(&p, &s, &c, "localhost", TEST_PORT, 0), 0);
  assert_int_equal(rc_filter_send(p.s->f, (const uint8_t *)"data", 4, 0), 0);
  assert_int_equal(pump(p.c, p.s, 0), RC_OK);
  /* TCP ends without close_notify: an error, after the data. */
  assert_int_equal(rc_filter_recv(p.c->f, NULL, 0), RC_ERR_TLS);
  assert_int_equal(p.c->rx_len, 4);
  assert_int_equal(p.c->errors, 1);
  assert_string_equal(p.c->detail, "connection closed without close_notify");
  assert_int_equal(p.c->closed, 0);
  /* EOF during the handshake. */
  rc_tls_ctx *cctx = ctx_of(&c);
  end *cli = filter_end(cctx, "localhost", TEST_PORT);
  assert_int_equal(rc_tls_start(cli->f), RC_OK);
  assert_int_equal(rc_tls_eof(cli->f), RC_ERR_TLS);
  assert_contains(cli->detail, "closed the connection without answering");
  end_free(cli);
  rc_tls_ctx_free(cctx);
  pair_free(&p);
}

static void test_close_from_server_and_eof_after_shutdown(void **state) {
  (void)state;
  pair p;
  rc_tls_config s = server_cfg("server"), c = client_cfg();
  assert_int_equal(connect_pair(&p, &s, &c, "localhost", TEST_PORT, 0), 0);
  /* Data and close_notify in the same flight: data first, then CLOSED. */
  assert_int_equal(rc_filter_send(p.s->f, (const uint8_t *)"bye", 3, 0), 0);
  assert_int_equal(rc_filter_shutdown(p.s->f), RC_OK);
  assert_int_equal(pump(p.s, p.c, 0), RC_OK);
  assert_int_equal(p.c->rx_len, 3);
  assert_int_equal(p.c->closed, 1);
  assert_int_equal(p.s->closed, 1);
  /* Server shut down, client just drops TCP: still clean for the server. */
  pair_free(&p);
  assert_int_equal(connect_pair(&p, &s, &c, "localhost", TEST_PORT, 0), 0);
  assert_int_equal(rc_filter_shutdown(p.s->f), RC_OK);
  p.s->wire_len = 0; /* lost */
  assert_int_equal(rc_tls_eof(p.s->f), RC_OK);
  assert_int_equal(p.s->closed, 1);
  assert_int_equal(p.s->errors, 0);
  pair_free(&p);
}

static void test_destroy_inside_up_and_echo(void **state) {
  (void)state;
  pair p;
  rc_tls_config s = server_cfg("server"), c = client_cfg();
  assert_int_equal(connect_pair(&p, &s, &c, "localhost", TEST_PORT, 0), 0);
  p.s->echo = 1; /* send() from inside up() */
  assert_int_equal(rc_filter_send(p.c->f, (const uint8_t *)"echo", 4, 0), 0);
  assert_int_equal(pump(p.c, p.s, 0), RC_OK);
  assert_int_equal(p.c->rx_len, 4);
  assert_memory_equal(p.c->rx, "echo", 4);
  p.c->destroy_on_up = 1; /* destroy() from inside up() */
  assert_int_equal(rc_filter_send(p.s->f, (const uint8_t *)"one", 3, 0), 0);
  assert_int_equal(rc_filter_send(p.s->f, (const uint8_t *)"two", 3, 0), 0);
  assert_int_equal(pump(p.c, p.s, 0), RC_OK);
  assert_null(p.c->f);
  assert_int_equal(p.c->up_calls, 2);
  pair_free(&p);
}

static void test_pending_limit(void **state) {
  (void)state;
  rc_tls_config c = client_cfg();
  rc_tls_ctx *cctx = ctx_of(&c);
  end *cli = filter_end(cctx, "localhost", TEST_PORT);
  static uint8_t chunk[RC_TLS_MAX_PENDING];
  assert_int_equal(rc_filter_send(cli->f, chunk, sizeof(chunk), 0), RC_OK);
  assert_int_equal(rc_filter_send(cli->f, chunk, 1, 0), RC_ERR_LIMIT);
  end_free(cli);
  rc_tls_ctx_free(cctx);
}

/* ---- tests: configuration errors, helpers ------------------------------- */

static void test_config_errors(void **state) {
  (void)state;
  rc_tls_ctx *ctx = NULL;
  char err[256];
  rc_tls_config s;
  rc_tls_config_init(&s, RC_TLS_SERVER);
  assert_int_equal(rc_tls_ctx_new(&ctx, &s, err, sizeof(err)), RC_ERR_INVAL);
  assert_contains(err, "needs a certificate or a pre-shared key");
  s = server_cfg("server");
  s.certs[0].cert_file = "/nonexistent/x.crt";
  assert_int_equal(rc_tls_ctx_new(&ctx, &s, err, sizeof(err)),
                   RC_ERR_NOT_FOUND);
  assert_contains(err, "cannot read certificate file '/nonexistent/x.crt'");
  s = server_cfg("server");
  s.certs[0].key_file = "/dev/null";
  assert_int_equal(rc_tls_ctx_new(&ctx, &s, err, sizeof(err)), RC_ERR_TLS_CERT);
  assert_contains(err, "no PEM private key in /dev/null");
  /* A key that does not belong to the certificate. */
  static char k[512];
  s = server_cfg("server");
  snprintf(k, sizeof(k), "%s/client.key", g_dir);
  s.certs[0].key_file = k;
  assert_int_equal(rc_tls_ctx_new(&ctx, &s, err, sizeof(err)), RC_ERR_TLS_CERT);
  assert_contains(err, "does not match");
  s = server_cfg("server");
  s.client_auth = RC_TLS_CLIENT_AUTH_REQUIRE;
  assert_int_equal(rc_tls_ctx_new(&ctx, &s, err, sizeof(err)), RC_ERR_INVAL);
  rc_tls_config c = psk_client("id", "k");
  c.psk_identity_len = 0;
  assert_int_equal(rc_tls_ctx_new(&ctx, &c, err, sizeof(err)), RC_ERR_INVAL);
  assert_null(ctx);
  assert_int_equal(ERR_peek_error(), 0);
  /* A client needs a host to check, unless insecure. */
  c = client_cfg();
  ctx = ctx_of(&c);
  rc_filter *f = NULL;
  end *e = end_new();
  rc_filter_sink sk = sink_of(e);
  assert_int_equal(rc_tls_filter_new(&f, ctx, NULL, TEST_PORT, &sk),
                   RC_ERR_INVAL);
  assert_null(f);
  end_free(e);
  rc_tls_ctx_free(ctx);
}

static void test_self_signed_demo(void **state) {
  (void)state;
  char cert[512], key[512];
  snprintf(cert, sizeof(cert), "%s/demo.crt", g_dir);
  snprintf(key, sizeof(key), "%s/demo.key", g_dir);
  assert_int_equal(rc_tls_make_self_signed(cert, key, NULL), RC_OK);
  struct stat st;
  assert_int_equal(stat(key, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  uint8_t fp[RC_TLS_FINGERPRINT_LEN];
  char hex[RC_TLS_FINGERPRINT_HEX_LEN];
  assert_int_equal(rc_tls_fingerprint_file(cert, fp), RC_OK);
  rc_tls_fingerprint_hex(fp, hex);
  assert_int_equal(strlen(hex), RC_TLS_FINGERPRINT_HEX_LEN - 1);
  assert_int_equal(hex[2], ':');
  assert_int_equal(rc_tls_fingerprint_file("/nonexistent", fp),
                   RC_ERR_NOT_FOUND);
  assert_int_equal(rc_tls_fingerprint_file("/dev/null", fp), RC_ERR_TLS_CERT);
  /* A client that pins the demo certificate reaches every name in it. */
  const char *hosts[] = {"localhost", "127.0.0.1", "::1"};
  for (size_t i = 0; i < 3; i++) {
    pair p;
    rc_tls_config s, c;
    rc_tls_config_init(&s, RC_TLS_SERVER);
    s.certs[0].cert_file = cert;
    s.certs[0].key_file = key;
    s.ncerts = 1;
    rc_tls_config_init(&c, RC_TLS_CLIENT);
    c.ca_file = cert;
    assert_int_equal(connect_pair(&p, &s, &c, hosts[i], TEST_PORT, 0), 0);
    assert_open(&p);
    rc_tls_peer peer;
    assert_int_equal(rc_tls_peer_info(p.c->f, &peer), RC_OK);
    assert_memory_equal(peer.fingerprint, fp, sizeof(fp));
    assert_string_equal(peer.sans, "DNS:localhost, IP:127.0.0.1, IP:::1");
    pair_free(&p);
  }
  assert_int_equal(ERR_peek_error(), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good_chain),
      cmocka_unit_test(test_one_byte_at_a_time),
      cmocka_unit_test(test_in_memory_pem),
      cmocka_unit_test(test_unknown_ca),
      cmocka_unit_test(test_expired),
      cmocka_unit_test(test_wrong_host),
      cmocka_unit_test(test_ip_san_good),
      cmocka_unit_test(test_ip_san_bad),
      cmocka_unit_test(test_insecure_client),
      cmocka_unit_test(test_sni_selects_certificate),
      cmocka_unit_test(test_client_without_alpn_refused),
      cmocka_unit_test(test_allow_no_alpn),
      cmocka_unit_test(test_ws_server_alpn),
      cmocka_unit_test(test_ws_client_alpn),
      cmocka_unit_test(test_server_without_alpn),
      cmocka_unit_test(test_plaintext_into_server),
      cmocka_unit_test(test_plaintext_into_client),
      cmocka_unit_test(test_mtls_required_missing),
      cmocka_unit_test(test_mtls_ok),
      cmocka_unit_test(test_mtls_request_optional),
      cmocka_unit_test(test_mtls_rogue_client),
      cmocka_unit_test(test_psk_good),
      cmocka_unit_test(test_psk_wrong_key),
      cmocka_unit_test(test_psk_lookup_and_identity),
      cmocka_unit_test(test_resumption),
      cmocka_unit_test(test_tickets_off),
      cmocka_unit_test(test_truncation),
      cmocka_unit_test(test_close_from_server_and_eof_after_shutdown),
      cmocka_unit_test(test_destroy_inside_up_and_echo),
      cmocka_unit_test(test_pending_limit),
      cmocka_unit_test(test_config_errors),
      cmocka_unit_test(test_self_signed_demo),
  };
  return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
