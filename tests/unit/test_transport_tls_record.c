/*
 * The hand-over of a server connection's TLS 1.3 record layer from
 * OpenSSL to the TLS filter (src/transport/tls_handoff.c, tls_record.c),
 * against a plain OpenSSL 3 client over an in-memory wire: each of the
 * three cipher suites with data both ways (whole, multi-record and byte by
 * byte), the client's Finished and first requests in one read, KeyUpdate from the client with and without update_requested,
 * close_notify both ways, a tampered record, an oversized record, records
 * the client's own keys seal with a bad inner content, resumption of a
 * session whose ticket the record layer's first record followed, and the
 * memory an idle connection holds: through a counting rc_mem, and
 * OpenSSL's own allocations through CRYPTO_set_mem_functions.
 */
#include "tls_harness.h"

#include <openssl/crypto.h>

#include "test_counting.h"
#include "transport/tls_int.h"

/* ---- OpenSSL's allocations, counted ------------------------------------- */

static size_t g_ossl_bytes;

static void *ossl_malloc(size_t n, const char *file, int line) {
  (void)file;
  (void)line;
  size_t *p = malloc(sizeof(size_t) * 2 + n);
  if (!p)
    return NULL;
  p[0] = n;
  g_ossl_bytes += n;
  return p + 2;
}

static void ossl_free(void *ptr, const char *file, int line) {
  (void)file;
  (void)line;
  if (!ptr)
    return;
  size_t *p = (size_t *)ptr - 2;
  g_ossl_bytes -= p[0];
  free(p);
}

static void *ossl_realloc(void *ptr, size_t n, const char *file, int line) {
  void *q = ossl_malloc(n, file, line);
  if (q && ptr) {
    size_t old = ((size_t *)ptr)[-2];
    memcpy(q, ptr, old < n ? old : n);
  }
  if (q || n == 0)
    ossl_free(ptr, file, line);
  return q;
}

/* ---- a plain OpenSSL client --------------------------------------------- */

/* The client's application traffic secret, from its key log. */
static uint8_t g_csecret[48];
static size_t g_csecret_len;

static void client_keylog(const SSL *ssl, const char *line) {
  (void)ssl;
  static const char lbl[] = "CLIENT_TRAFFIC_SECRET_0 ";
  if (strncmp(line, lbl, sizeof(lbl) - 1) != 0)
    return;
  const char *p = strrchr(line, ' ') + 1;
  g_csecret_len = strlen(p) / 2;
  for (size_t i = 0; i < g_csecret_len; i++) {
    unsigned v;
    sscanf(p + 2 * i, "%2x", &v);
    g_csecret[i] = (uint8_t)v;
  }
}

static SSL_CTX *client_ctx(const char *suites) {
  SSL_CTX *sc = SSL_CTX_new(TLS_client_method());
  assert_non_null(sc);
  assert_true(SSL_CTX_set_min_proto_version(sc, TLS1_3_VERSION));
  if (suites)
    assert_true(SSL_CTX_set_ciphersuites(sc, suites));
  assert_true(SSL_CTX_load_verify_locations(sc, P("ca.crt"), NULL));
  SSL_CTX_set_verify(sc, SSL_VERIFY_PEER, NULL);
  assert_int_equal(
      SSL_CTX_set_alpn_protos(sc, (const unsigned char *)"\x04" "coap", 5), 0);
  SSL_CTX_set_keylog_callback(sc, client_keylog);
  return sc;
}

typedef struct conn {
  rc_tls_ctx *sctx;
  SSL_CTX *cctx;
  end *s, *c;
} conn;

static rc__tls_filter *TF(end *e) { return (rc__tls_filter *)e->f; }

/* A handshake of a raw client (suites, an optional session) with a server
 * filter of sctx; checks that the server handed its records over. */
static void conn_open(conn *k, rc_tls_ctx *sctx, SSL_CTX *cctx,
                      SSL_SESSION *sess, size_t step) {
  memset(k, 0, sizeof(*k));
  k->sctx = sctx;
  k->cctx = cctx;
  k->s = filter_end(sctx, NULL, 0);
  k->c = raw_end(cctx, 0);
  assert_true(SSL_set_tlsext_host_name(k->c->raw, "localhost"));
  if (sess)
    assert_true(SSL_set_session(k->c->raw, sess));
  raw_drain(k->c);
  assert_int_equal(pump(k->c, k->s, step), RC_OK);
  assert_int_equal(SSL_is_init_finished(k->c->raw), 1);
  assert_int_equal(k->s->opened, 1);
  assert_int_equal(k->s->errors, 0);
  assert_true(rc_tls_handshake_done(k->s->f));
}

static void conn_close(conn *k) {
  /* a client freed without close_notify would spoil its session */
  if (k->c->raw)
    SSL_set_shutdown(k->c->raw, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  end_free(k->s);
  end_free(k->c);
  k->s = k->c = NULL;
  ERR_clear_error(); /* the raw client's queue, if a test failed it */
}

/* Client: writes d, pumps. */
static void c_write(conn *k, const void *d, size_t n, size_t step) {
  size_t off = 0;
  while (off < n) {
    size_t chunk = n - off > 65536 ? 65536 : n - off;
    assert_int_equal(SSL_write(k->c->raw, (const uint8_t *)d + off,
                               (int)chunk),
                     (int)chunk);
    off += chunk;
  }
  raw_drain(k->c);
  assert_int_equal(pump(k->c, k->s, step), RC_OK);
}

/* Client: reads all it can into buf; the count. */
static size_t c_read(conn *k, uint8_t *buf, size_t cap) {
  size_t got = 0;
  for (;;) {
    int n = SSL_read(k->c->raw, buf + got, (int)(cap - got));
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  raw_drain(k->c); /* a KeyUpdate answer, ... */
  return got;
}

static rc_tls_ctx *server_ctx(void) {
  rc_tls_config s = server_cfg("server");
  return ctx_of(&s);
}

static void both_free(rc_tls_ctx *sctx, SSL_CTX *cctx) {
  SSL_CTX_free(cctx);
  rc_tls_ctx_free(sctx);
}

/* ---- tests -------------------------------------------------------------- */

static uint8_t g_big[100000], g_rx[200000];

static void both_ways(conn *k, size_t step) {
  for (size_t i = 0; i < sizeof(g_big); i++)
    g_big[i] = (uint8_t)(i * 13 + 5);
  size_t before = k->s->rx_len;
  c_write(k, "ping", 4, step);
  c_write(k, g_big, sizeof(g_big), step);
  assert_int_equal(k->s->rx_len - before, 4 + sizeof(g_big));
  assert_memory_equal(k->s->rx + before, "ping", 4);
  assert_memory_equal(k->s->rx + before + 4, g_big, sizeof(g_big));
  assert_int_equal(rc_filter_send(k->s->f, g_big, sizeof(g_big), 0), RC_OK);
  assert_int_equal(rc_filter_send(k->s->f, (const uint8_t *)"pong", 4, 0),
                   RC_OK);
  assert_int_equal(pump(k->c, k->s, step), RC_OK);
  assert_int_equal(c_read(k, g_rx, sizeof(g_rx)), sizeof(g_big) + 4);
  assert_memory_equal(g_rx, g_big, sizeof(g_big));
  assert_memory_equal(g_rx + sizeof(g_big), "pong", 4);
}

static void test_each_suite(void **state) {
  (void)state;
  static const char *suites[] = {"TLS_AES_128_GCM_SHA256",
                                 "TLS_AES_256_GCM_SHA384",
                                 "TLS_CHACHA20_POLY1305_SHA256"};
  rc_tls_config s = server_cfg("server");
  rc_tls_ctx *sctx = ctx_of(&s);
  for (int i = 0; i < 3; i++) {
    for (size_t step = 0; step <= 1; step++) {
      SSL_CTX *cctx = client_ctx(suites[i]);
      conn k;
      conn_open(&k, sctx, cctx, NULL, step);
      assert_null(TF(k.s)->ssl); /* handed over */
      assert_string_equal(rc_tls_cipher(k.s->f), suites[i]);
      assert_string_equal(rc_tls_protocol(k.s->f), "TLSv1.3");
      assert_string_equal(rc_tls_alpn(k.s->f), "coap");
      assert_true(rc_tls_alpn_coap(k.s->f));
      assert_string_equal(rc_tls_sni(k.s->f), "localhost");
      assert_false(rc_tls_resumed(k.s->f));
      rc_tls_peer peer;
      assert_int_equal(rc_tls_peer_info(k.s->f, &peer), RC_OK);
      assert_false(peer.has_cert);
      both_ways(&k, step ? 7 : 0);
      conn_close(&k);
      SSL_CTX_free(cctx);
    }
  }
  rc_tls_ctx_free(sctx);
}

/* The client's Finished and its first request in one recv(): OpenSSL
 * reads the Finished alone, the request is the record layer's first. */
static void test_request_with_finished(void **state) {
  (void)state;
  rc_tls_ctx *sctx = server_ctx();
  SSL_CTX *cctx = client_ctx(NULL);
  conn k;
  memset(&k, 0, sizeof(k));
  k.s = filter_end(sctx, NULL, 0);
  k.c = raw_end(cctx, 0);
  raw_drain(k.c); /* ClientHello */
  assert_int_equal(deliver(k.s, k.c->wire, k.c->wire_len), RC_OK);
  k.c->wire_len = 0;
  assert_int_equal(deliver(k.c, k.s->wire, k.s->wire_len), RC_OK);
  k.s->wire_len = 0;
  assert_int_equal(SSL_is_init_finished(k.c->raw), 1);
  assert_int_equal(SSL_write(k.c->raw, "GET /a", 6), 6);
  assert_int_equal(SSL_write(k.c->raw, "GET /b", 6), 6);
  raw_drain(k.c); /* Finished, then two application data records */
  assert_int_equal(rc_filter_recv(k.s->f, k.c->wire, k.c->wire_len), RC_OK);
  k.c->wire_len = 0;
  assert_int_equal(k.s->opened, 1);
  assert_null(TF(k.s)->ssl);
  assert_int_equal(k.s->rx_len, 12);
  assert_memory_equal(k.s->rx, "GET /aGET /b", 12);
  both_ways(&k, 0); /* the ticket and answers reach the client */
  conn_close(&k);
  both_free(sctx, cctx);
}

static void test_keep_ssl(void **state) {
  (void)state;
  rc_tls_config s = server_cfg("server");
  s.keep_ssl = 1;
  rc_tls_ctx *sctx = ctx_of(&s);
  SSL_CTX *cctx = client_ctx(NULL);
  conn k;
  conn_open(&k, sctx, cctx, NULL, 0);
  assert_non_null(TF(k.s)->ssl);
  both_ways(&k, 0);
  conn_close(&k);
  both_free(sctx, cctx);
}

static void test_key_update(void **state) {
  (void)state;
  rc_tls_ctx *sctx = server_ctx();
  SSL_CTX *cctx = client_ctx(NULL);
  conn k;
  conn_open(&k, sctx, cctx, NULL, 0);
  rc__tls_rec *r = TF(k.s)->rec;
  uint8_t rd[48], wr[48];
  for (int round = 0; round < 3; round++) {
    int requested = round > 0;
    memcpy(rd, r->rd.secret, sizeof(rd));
    memcpy(wr, r->wr.secret, sizeof(wr));
    assert_true(SSL_key_update(k.c->raw, requested
                                             ? SSL_KEY_UPDATE_REQUESTED
                                             : SSL_KEY_UPDATE_NOT_REQUESTED));
    both_ways(&k, round == 2 ? 3 : 0);
    /* the read key moved each time; the write key only when asked */
    assert_memory_not_equal(rd, r->rd.secret, sizeof(rd));
    if (requested)
      assert_memory_not_equal(wr, r->wr.secret, sizeof(wr));
    else
      assert_memory_equal(wr, r->wr.secret, sizeof(wr));
  }
  assert_int_equal(k.s->errors, 0);
  conn_close(&k);
  both_free(sctx, cctx);
}

static void test_close_notify(void **state) {
  (void)state;
  rc_tls_ctx *sctx = server_ctx();
  SSL_CTX *cctx = client_ctx(NULL);
  conn k;
  /* the client closes; the server answers with its own close_notify */
  conn_open(&k, sctx, cctx, NULL, 0);
  c_write(&k, "bye", 3, 0);
  assert_int_equal(SSL_shutdown(k.c->raw), 0);
  raw_drain(k.c);
  assert_int_equal(pump(k.c, k.s, 0), RC_OK);
  assert_int_equal(k.s->closed, 1);
  assert_int_equal(k.s->errors, 0);
  assert_int_equal(k.s->rx_len, 3);
  uint8_t b[16];
  assert_int_equal(SSL_read(k.c->raw, b, sizeof(b)), 0);
  assert_int_equal(SSL_get_error(k.c->raw, 0), SSL_ERROR_ZERO_RETURN);
  conn_close(&k);
  /* the server closes */
  conn_open(&k, sctx, cctx, NULL, 0);
  assert_int_equal(rc_filter_shutdown(k.s->f), RC_OK);
  assert_int_equal(pump(k.c, k.s, 0), RC_OK);
  assert_int_equal(SSL_read(k.c->raw, b, sizeof(b)), 0);
  assert_int_equal(SSL_get_error(k.c->raw, 0), SSL_ERROR_ZERO_RETURN);
  assert_int_equal(SSL_shutdown(k.c->raw), 1);
  raw_drain(k.c);
  assert_int_equal(pump(k.c, k.s, 0), RC_OK);
  assert_int_equal(k.s->closed, 1);
  assert_int_equal(k.s->errors, 0);
  conn_close(&k);
  /* the server closes while the client asks for a KeyUpdate: the data is
   * read, and nothing follows our close_notify */
  conn_open(&k, sctx, cctx, NULL, 0);
  assert_int_equal(rc_filter_shutdown(k.s->f), RC_OK);
  size_t sent = k.s->wire_len;
  assert_true(sent > 0);
  assert_true(SSL_key_update(k.c->raw, SSL_KEY_UPDATE_REQUESTED));
  assert_int_equal(SSL_write(k.c->raw, "late", 4), 4);
  raw_drain(k.c);
  assert_int_equal(rc_filter_recv(k.s->f, k.c->wire, k.c->wire_len), RC_OK);
  k.c->wire_len = 0;
  assert_int_equal(k.s->wire_len, sent);
  assert_int_equal(k.s->rx_len, 4);
  assert_int_equal(k.s->errors, 0);
  conn_close(&k);
  both_free(sctx, cctx);
}

/* The client's alert reason after reading what the server sent. */
static int client_alert(conn *k) {
  uint8_t b[16];
  ERR_clear_error();
  assert_true(SSL_read(k->c->raw, b, sizeof(b)) <= 0);
  int reason = ERR_GET_REASON(ERR_peek_last_error());
  ERR_clear_error();
  return reason;
}

static void test_tampered_record(void **state) {
  (void)state;
  rc_tls_ctx *sctx = server_ctx();
  SSL_CTX *cctx = client_ctx(NULL);
  for (int at = 0; at < 3; at++) {
    conn k;
    conn_open(&k, sctx, cctx, NULL, 0);
    assert_int_equal(SSL_write(k.c->raw, "hello", 5), 5);
    raw_drain(k.c);
    /* a byte of the ciphertext, of the tag, the header's type */
    size_t pos = at == 0 ? 6 : at == 1 ? k.c->wire_len - 1 : 0;
    k.c->wire[pos] ^= at == 2 ? 0x01 : 0x40;
    (void)pump(k.c, k.s, 0);
    assert_int_equal(k.s->errors, 1);
    assert_int_equal(k.s->rx_len, 0);
    assert_int_equal(k.s->err, RC_ERR_TLS);
    assert_contains(k.s->detail, at < 2 ? "bad record mac" : "unexpected");
    assert_int_equal(client_alert(&k), at < 2
                                           ? SSL_R_SSLV3_ALERT_BAD_RECORD_MAC
                                           : SSL_R_SSLV3_ALERT_UNEXPECTED_MESSAGE);
    /* nothing more is read */
    assert_int_equal(rc_filter_recv(k.s->f, (const uint8_t *)"x", 1),
                     RC_ERR_TLS);
    conn_close(&k);
  }
  both_free(sctx, cctx);
}

static void test_oversized_record(void **state) {
  (void)state;
  rc_tls_ctx *sctx = server_ctx();
  SSL_CTX *cctx = client_ctx(NULL);
  conn k;
  conn_open(&k, sctx, cctx, NULL, 0);
  /* 2^14 + 257 bytes announced: refused at the header */
  static const uint8_t hdr[5] = {23, 3, 3, 0x41, 0x01};
  assert_int_equal(rc_filter_recv(k.s->f, hdr, sizeof(hdr)), RC_ERR_TLS);
  assert_int_equal(k.s->errors, 1);
  assert_contains(k.s->detail, "record overflow");
  assert_int_equal(pump(k.c, k.s, 0), RC_OK);
  assert_int_equal(client_alert(&k), SSL_R_TLSV1_ALERT_RECORD_OVERFLOW);
  conn_close(&k);
  /* 2^14 + 256 is allowed: a record of that size that fails its tag */
  conn_open(&k, sctx, cctx, NULL, 0);
  static uint8_t rec[5 + 16640];
  memset(rec, 0x5a, sizeof(rec));
  memcpy(rec, "\x17\x03\x03\x41\x00", 5);
  assert_int_equal(rc_filter_recv(k.s->f, rec, sizeof(rec)), RC_ERR_TLS);
  assert_contains(k.s->detail, "bad record mac");
  conn_close(&k);
  both_free(sctx, cctx);
}

/* Records sealed with the client's key by our own sealer: contents that
 * OpenSSL's client would never send. */
static void bad_inner(rc_tls_ctx *sctx, SSL_CTX *cctx, uint8_t type,
                      const uint8_t *d, size_t n, const char *want) {
  conn k;
  g_csecret_len = 0;
  conn_open(&k, sctx, cctx, NULL, 0);
  rc__tls_rec *sr = TF(k.s)->rec;
  assert_int_equal(g_csecret_len, rc__tls_suite_hash_len(sr->suite));
  rc__tls_rec cr;
  memset(&cr, 0, sizeof(cr));
  assert_int_equal(rc__tls_rec_init(&cr, sr->suite, sr->wr.secret,
                                    g_csecret, g_csecret_len, 0),
                   0);
  static uint8_t out[16384 + RC__TLS_REC_OVERHEAD];
  size_t len = rc__tls_rec_seal(&cr, type, d, n, out);
  assert_true(len > 0);
  (void)rc_filter_recv(k.s->f, out, len);
  assert_int_equal(k.s->errors, 1);
  assert_contains(k.s->detail, want);
  assert_int_equal(k.s->rx_len, 0);
  rc__tls_rec_clear(&cr, rc_mem_default());
  conn_close(&k);
}

static void test_bad_inner_content(void **state) {
  (void)state;
  rc_tls_ctx *sctx = server_ctx();
  SSL_CTX *cctx = client_ctx(NULL);
  static const uint8_t ku2[5] = {24, 0, 0, 1, 2};
  static const uint8_t ku_long[6] = {24, 0, 0, 2, 0, 0};
  static const uint8_t nst[8] = {4, 0, 0, 4, 0, 0, 0, 0};
  static const uint8_t zeros[4] = {0};
  bad_inner(sctx, cctx, 22, ku2, sizeof(ku2), "illegal parameter");
  bad_inner(sctx, cctx, 22, ku_long, sizeof(ku_long), "decode error");
  bad_inner(sctx, cctx, 22, nst, sizeof(nst), "unexpected_message");
  bad_inner(sctx, cctx, 22, NULL, 0, "unexpected_message");
  bad_inner(sctx, cctx, 20, (const uint8_t *)"\x01", 1, "unexpected_message");
  /* type 0 with zero content: all padding, no content type */
  bad_inner(sctx, cctx, 0, zeros, sizeof(zeros), "unexpected_message");
  bad_inner(sctx, cctx, 21, (const uint8_t *)"\x02\x28", 2,
            "the peer sent alert handshake failure");
  bad_inner(sctx, cctx, 21, (const uint8_t *)"\x02", 1, "decode error");
  both_free(sctx, cctx);
}

static void test_resumption(void **state) {
  (void)state;
  rc_tls_ctx *sctx = server_ctx();
  SSL_CTX *cctx = client_ctx(NULL);
  conn k;
  conn_open(&k, sctx, cctx, NULL, 0);
  /* the ticket arrives with the server's first records */
  both_ways(&k, 0);
  SSL_SESSION *sess = SSL_get1_session(k.c->raw);
  assert_non_null(sess);
  assert_true(SSL_SESSION_is_resumable(sess));
  conn_close(&k);
  conn_open(&k, sctx, cctx, sess, 0);
  assert_true(SSL_session_reused(k.c->raw));
  assert_null(TF(k.s)->ssl);
  assert_true(rc_tls_resumed(k.s->f));
  both_ways(&k, 0);
  conn_close(&k);
  SSL_SESSION_free(sess);
  both_free(sctx, cctx);
}

/* What an idle server connection holds after its handshake and one
 * request: through the filter's rc_mem, and through OpenSSL. */
static void idle_bytes(int keep_ssl, size_t *ours, size_t *openssl) {
  counting cnt = {0, 0, 0};
  rc_mem mem = {cnt_malloc, cnt_realloc, cnt_free, &cnt};
  rc_tls_config s = server_cfg("server");
  s.keep_ssl = keep_ssl;
  s.mem = &mem;
  rc_tls_ctx *sctx = ctx_of(&s);
  SSL_CTX *cctx = client_ctx(NULL);
  conn k;
  conn_open(&k, sctx, cctx, NULL, 0); /* warms up per-thread state */
  both_ways(&k, 0);
  conn_close(&k);
  rc__tls_aead_release(); /* the thread's, not a connection's */
  size_t ours0 = cnt.bytes, ossl0 = g_ossl_bytes;
  conn_open(&k, sctx, cctx, NULL, 0);
  c_write(&k, "GET", 3, 0);
  assert_int_equal(rc_filter_send(k.s->f, (const uint8_t *)"2.05", 4, 0),
                   RC_OK);
  assert_int_equal(pump(k.c, k.s, 0), RC_OK);
  /* the client goes; the server's end stays, idle */
  SSL_free(k.c->raw);
  k.c->raw = NULL;
  rc__tls_aead_release();
  *ours = cnt.bytes - ours0;
  *openssl = g_ossl_bytes - ossl0;
  conn_close(&k);
  SSL_CTX_free(cctx);
  rc_tls_ctx_free(sctx);
  assert_int_equal(cnt.bytes, 0);
}

static void test_idle_memory(void **state) {
  (void)state;
  size_t ours, openssl, ours_keep, openssl_keep;
  idle_bytes(0, &ours, &openssl);
  idle_bytes(1, &ours_keep, &openssl_keep);
  print_message("idle server connection: handed over %zu + %zu B "
                "(filter + records, OpenSSL); keep_ssl %zu + %zu B\n",
                ours, openssl, ours_keep, openssl_keep);
  /* the filter, its record state, the SNI copy "localhost" */
  assert_int_equal(ours, sizeof(rc__tls_filter) + sizeof(rc__tls_rec) + 10);
  assert_int_equal(openssl, 0);
  assert_true(openssl_keep > 8000); /* what the hand-over saves */
}

int main(void) {
  /* before OpenSSL allocates anything */
  if (!CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free))
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_each_suite),
      cmocka_unit_test(test_request_with_finished),
      cmocka_unit_test(test_keep_ssl),
      cmocka_unit_test(test_key_update),
      cmocka_unit_test(test_close_notify),
      cmocka_unit_test(test_tampered_record),
      cmocka_unit_test(test_oversized_record),
      cmocka_unit_test(test_bad_inner_content),
      cmocka_unit_test(test_resumption),
      cmocka_unit_test(test_idle_memory),
  };
  return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
