/*
 * The fast paths of the encrypted transport answer like the general way
 * (fastpath_harness.h: the same two contexts, the same raw client, now
 * over coaps+tcp with OpenSSL at the client's end). After a TLS 1.3
 * handshake a server hands the record layer over from OpenSSL to its
 * own (tls_handoff.c); rc_tls_config.keep_ssl keeps OpenSSL's SSL; TLS
 * 1.2 is never handed over. Every 7th shape of the generated set (every
 * method, path class and option class, tokens of every length; ~470
 * requests) goes over coaps+tcp to the fast context through a server
 * TLS context of each kind (TLS 1.3 handed over, TLS 1.3 kept, TLS 1.2)
 * and to the general context through one that hands over; in records
 * of any size and of 61 and 7 bytes (requests split across records),
 * and with a KeyUpdate asking for the server's before each write (TLS
 * 1.3: the server's own must come back, RFC 8446 §4.6.3);
 * under the default and the BERT CSM; and a 48 KiB resource asked for
 * whole, by BERT blocks and by 1024-byte blocks (answers over several
 * records). Every decrypted answer must be the bytes the general
 * context sends over coap+tcp; 600 random shapes in records of 61 bytes
 * likewise. Also every third GET shape over coaps+ws
 * (the hand-over under the WebSocket filter) against coap+ws, and the
 * ends of a connection (close_notify, a forged record's alert). A handler reports which record layer the
 * server's connection has, so that each kind is known to be what it
 * says (handed over or not).
 *
 * The DTLS record hand-over (dtls_record.c) is not compared here: it
 * runs for coaps+wr only (a WebRTC peer checking a fingerprint), which
 * has no app-level unit set-up (ICE, a signalling peer); it is compared
 * at the session level, handed over against keep_ssl, in
 * test_webrtc_chain.c (test_dtls_handover_same).
 */
#include "fastpath_harness.h"

#include "test_pki.h"
#include "transport/tls_int.h"

#define PKI_NAME "rc-fastpath-tls"

static char g_dir[256];
/* Path of a file of the generated PKI (a static buffer: use at once). */
#define P(name) test_pki_path(g_dir, (name))

/* The server TLS contexts: what each is, the context it serves. */
typedef struct tls_kind {
  const char *name;
  int which;       /* [0] fast, [1] general */
  int keep_ssl;
  rc_tls_version max;
  const char *state; /* what /tls-state answers */
} tls_kind;

static const tls_kind kinds[] = {
    {"tls1.3 handed over", 0, 0, RC_TLS_V_DEFAULT, "TLSv1.3 own records"},
    {"tls1.3 keep_ssl", 0, 1, RC_TLS_V_DEFAULT, "TLSv1.3 OpenSSL"},
    {"tls1.2", 0, 0, RC_TLS_V1_2, "TLSv1.2 OpenSSL"},
    {"general, tls1.3 handed over", 1, 0, RC_TLS_V_DEFAULT,
     "TLSv1.3 own records"},
};
#define NKINDS (sizeof kinds / sizeof *kinds)

static rc_tls_ctx *server_tls[NKINDS];
static uint16_t tls_ports[NKINDS];
static uint16_t wss_ports[NKINDS]; /* coaps+ws, the TLS 1.3 kinds */

static char huge_body[48 * 1024];

/* GET /tls-state: the protocol of the request's connection and whose
 * record layer protects it (the hand-over frees OpenSSL's SSL). */
static void h_tls_state(rc_context *ctx, rc_resource *res, rc_xreq *req,
                        void *user) {
  (void)ctx;
  (void)res;
  (void)user;
  rc_conn *c = rc_xreq_conn(req);
  rc_filter *tls = c ? rc_conn_tls(c) : NULL;
  char body[64];
  int n = snprintf(body, sizeof body, "%s %s",
                   tls ? rc_tls_protocol(tls) : "none",
                   !tls ? "" : ((rc__tls_filter *)tls)->ssl ? "OpenSSL"
                                                            : "own records");
  rc_respond(req, RC_CONTENT, RC_CF_TEXT_PLAIN, body, (size_t)n);
}

/* KeyUpdates the client received (RFC 8446 §4.6.3: the server's answer
 * to one that asked for it). */
static size_t server_key_updates;
/* The last alert the client received (level << 8 | description), or -1. */
static int last_alert = -1;

static void on_tls_msg(int write_p, int version, int content_type,
                       const void *buf, size_t len, SSL *ssl, void *arg) {
  (void)version;
  (void)ssl;
  (void)arg;
  if (!write_p && content_type == SSL3_RT_HANDSHAKE && len > 0 &&
      ((const uint8_t *)buf)[0] == SSL3_MT_KEY_UPDATE)
    server_key_updates++;
  if (!write_p && content_type == SSL3_RT_ALERT && len == 2)
    last_alert = ((const uint8_t *)buf)[0] << 8 | ((const uint8_t *)buf)[1];
}

static int group_setup(void **state) {
  (void)state;
  if (test_pki_make(g_dir, sizeof g_dir, PKI_NAME) != 0)
    return -1;
  tls_client_ctx = SSL_CTX_new(TLS_client_method());
  if (!tls_client_ctx ||
      SSL_CTX_load_verify_locations(tls_client_ctx, P("ca.crt"), NULL) != 1)
    return -1;
  SSL_CTX_set_verify(tls_client_ctx, SSL_VERIFY_PEER, NULL);
  SSL_CTX_set_msg_callback(tls_client_ctx, on_tls_msg);
  SSL_CTX_set_min_proto_version(tls_client_ctx, TLS1_2_VERSION);
  /* RFC 8323 §4.1: "coap" in the ALPN extension */
  static const unsigned char alpn[] = {4, 'c', 'o', 'a', 'p'};
  if (SSL_CTX_set_alpn_protos(tls_client_ctx, alpn, sizeof alpn) != 0)
    return -1;
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  SSL_CTX_free(tls_client_ctx);
  tls_client_ctx = NULL;
  return test_pki_remove(g_dir, PKI_NAME);
}

static int tls_setup(void **state) {
  assert_int_equal(setup(state), 0);
  fixture *f = *state;
  memset(huge_body, 'H', sizeof huge_body);
  for (int i = 0; i < 2; i++) {
    rc_resource *r;
    assert_int_equal(rc_resource_add(f->ctx[i], "/tls-state", 0, NULL, &r),
                     RC_OK);
    rc_resource_on(r, RC_GET, h_tls_state);
    assert_int_equal(rc_resource_add(f->ctx[i], "/huge", 0, NULL, &r), RC_OK);
    assert_int_equal(rc_resource_set_static(r, RC_CONTENT, RC_CF_TEXT_PLAIN,
                                            huge_body, sizeof huge_body),
                     RC_OK);
  }
  static char cert[600], key[600];
  snprintf(cert, sizeof cert, "%s", P("server.crt"));
  snprintf(key, sizeof key, "%s", P("server.key"));
  for (size_t k = 0; k < NKINDS; k++) {
    rc_tls_config sc;
    char err[256] = "";
    rc_tls_config_init(&sc, RC_TLS_SERVER);
    sc.certs[0].cert_file = cert;
    sc.certs[0].key_file = key;
    sc.ncerts = 1;
    sc.keep_ssl = kinds[k].keep_ssl;
    sc.max_version = kinds[k].max;
    if (rc_tls_ctx_new(&server_tls[k], &sc, err, sizeof err) != RC_OK)
      fail_msg("server TLS: %s", err);
    if (rc_context_listen(f->ctx[kinds[k].which], RC_CONN_TLS, "127.0.0.1:0",
                          server_tls[k], NULL, &tls_ports[k], err,
                          sizeof err) != RC_OK)
      fail_msg("listen: %s", err);
    if (kinds[k].max == RC_TLS_V_DEFAULT &&
        rc_context_listen(f->ctx[kinds[k].which], RC_CONN_TLS_WS,
                          "127.0.0.1:0", server_tls[k], NULL, &wss_ports[k],
                          err, sizeof err) != RC_OK)
      fail_msg("listen: %s", err);
  }
  return 0;
}

static int tls_teardown(void **state) {
  teardown(state); /* the contexts first: they use the TLS contexts */
  for (size_t k = 0; k < NKINDS; k++) {
    rc_tls_ctx_free(server_tls[k]);
    server_tls[k] = NULL;
  }
  /* every failure path consumed its OpenSSL errors */
  assert_int_equal(ERR_peek_error(), 0);
  return 0;
}

/* Over kind k's coaps+tcp (clients_tls set) or coap+tcp: GET /tls-state
 * on a fresh connection; its payload into out. */
static void tls_state(fixture *f, size_t k, char *out, size_t cap) {
  uint8_t req[64], ans[512];
  opt o[1] = {{11, 9, "tls-state"}};
  size_t rn = frame(req, RC_GET, tok8, 2, o, 1, NULL, 0);
  client_open(f, kinds[k].which, &profiles[0]);
  size_t an = answer_until_pong(f, req, rn, ans, sizeof ans);
  rc_msg m;
  assert_int_equal(rc_msg_parse(RC_FRAMING_TCP, ans, an, &m), RC_OK);
  assert_int_equal(m.code, RC_CONTENT);
  snprintf(out, cap, "%.*s", (int)m.payload_len, (const char *)m.payload);
  client_close(f);
}

/* The /huge requests: whole, BERT blocks 0-2, 1024-byte blocks 0 and
 * 47 (the last), a 16-byte block deep inside; their answers in a row. */
static size_t huge_run(fixture *f, int which, uint8_t *out, size_t cap) {
  static const uint8_t b2[][3] = {{0}, {0x07}, {0x17}, {0x27}, {0x06},
                                  {0x02, 0xF6}, {0x30, 0x00, 0x10}};
  static const size_t b2len[] = {0, 1, 1, 1, 1, 2, 3};
  static const csm_profile bert = {"bert", 65536, 1, 0, 1};
  uint8_t req[64];
  size_t got = 0;
  client_open(f, which, &bert);
  for (size_t i = 0; i < sizeof b2len / sizeof *b2len; i++) {
    opt o[2] = {{11, 4, "huge"}, {23, (uint16_t)b2len[i], b2[i]}};
    size_t rn = frame(req, RC_GET, tok8, 1 + i, o, b2len[i] ? 2 : 1, NULL, 0);
    got += answer_until_pong(f, req, rn, out + got, cap - got);
    assert_false(f->closed);
  }
  client_close(f);
  return got;
}

/* The pipelined GET stream (pipeline_build: ~2500 requests and their
 * Pings, ~130 KB) over each kind in one write (records of 16 KiB, many
 * in one read of the server's) and in writes of 1000 and 61 bytes (one
 * record each), against the general context over coap+tcp. */
static void test_tls_pipelined(void **state) {
  fixture *f = *state;
  static uint8_t stream[1 << 20];
  static size_t ks[4096];
  size_t n, differ = 0;
  size_t len = pipeline_build(stream, sizeof stream, ks, 4096, &n);
  answers *ref = calloc(1, sizeof *ref);
  pieces_run(f, 1, stream, len, len, n, ref);
  static const size_t pieces[] = {1 << 20, 1000, 61};
  clients_tls = 1;
  for (size_t k = 0; k < NKINDS; k++)
    for (size_t pi = 0; pi < sizeof pieces / sizeof *pieces; pi++) {
      f->tport = tls_ports[k];
      answers *got = calloc(1, sizeof *got);
      pieces_run(f, kinds[k].which, stream, len, pieces[pi], n, got);
      size_t d = 0;
      for (size_t i = 0; i < n; i++) {
        if (got->n[i][0] != ref->n[i][0] ||
            memcmp(got->b[i][0], ref->b[i][0], ref->n[i][0])) {
          char name[160];
          uint8_t req[8192];
          request(ks[i], req, name, sizeof name);
          print_message("DIFF [%s] writes of %zu: %s\n", kinds[k].name,
                        pieces[pi], name);
          hexdump("coaps+tcp", got->b[i][0], got->n[i][0]);
          hexdump("coap+tcp", ref->b[i][0], ref->n[i][0]);
          d++;
        }
        free(got->b[i][0]);
      }
      free(got);
      print_message("%s, writes of %zu: %zu requests in %zu bytes, %zu "
                    "differ\n",
                    kinds[k].name, pieces[pi], n, len, d);
      differ += d;
    }
  clients_tls = 0;
  rc__fast_paths_off = 0;
  for (size_t i = 0; i < n; i++)
    free(ref->b[i][0]);
  free(ref);
  assert_int_equal(differ, 0);
}

static void test_tls_differential(void **state) {
  fixture *f = *state;
  static const csm_profile *const ps[] = {&profiles[0], &profiles[2]};
  /* records of any size, of 61 and of 7 bytes; of any size with a
   * KeyUpdate before each write (TLS 1.3) */
  static const size_t pieces[] = {0, 61, 7, 0};
  static uint8_t ref_huge[1 << 18], huge[1 << 18];
  size_t total = 0, differ = 0, diff_huge = 0;
  shapes_stride = 7;
  size_t ref_n = huge_run(f, 1, ref_huge, sizeof ref_huge);
  assert_true(ref_n > 3 * 16384); /* BERT blocks over several records */
  /* the general context's coap+tcp answers, once per configuration */
  answers *ref[2][4] = {{NULL}};
  size_t nref[2][4] = {{0}};
  for (size_t pi = 0; pi < sizeof ps / sizeof *ps; pi++)
    for (size_t ri = 0; ri < sizeof pieces / sizeof *pieces; ri++)
      if (!pi || !ri) { /* the BERT CSM: records of any size only */
        ref[pi][ri] = calloc(1, sizeof *ref[pi][ri]);
        nref[pi][ri] = run_set(f, 1, ps[pi], ref[pi][ri]);
      }
  for (size_t k = 0; k < NKINDS; k++) {
    char st[64], label[96];
    clients_tls = 1;
    f->tport = tls_ports[k];
    tls_state(f, k, st, sizeof st);
    print_message("%s: %s\n", kinds[k].name, st);
    assert_string_equal(st, kinds[k].state);
    for (size_t pi = 0; pi < sizeof ps / sizeof *ps; pi++)
      for (size_t ri = 0; ri < sizeof pieces / sizeof *pieces; ri++) {
        if (!ref[pi][ri])
          continue;
        answers *a[2] = {calloc(1, sizeof *a[0]), ref[pi][ri]};
        f->piece = pieces[ri];
        f->key_update = ri == 3;
        size_t sent = f->key_updates, got = server_key_updates;
        size_t n = run_set(f, kinds[k].which, ps[pi], a[0]);
        f->piece = 0;
        f->key_update = 0;
        sent = f->key_updates - sent;
        got = server_key_updates - got;
        if (sent) /* §4.6.3: "the receiver MUST send a KeyUpdate of its
                   * own" (one may answer several) */
          print_message("%s: %zu KeyUpdates asked for, %zu came\n",
                        kinds[k].name, sent, got);
        assert_true(sent == 0 || (got > sent / 2 && got <= sent));
        assert_int_equal(n, nref[pi][ri]);
        snprintf(label, sizeof label, "%s, %s, records of %zu%s",
                 kinds[k].name, ps[pi]->name, pieces[ri],
                 ri == 3 ? ", key updates" : "");
        size_t d = answers_cmp(label, a, n, 1);
        print_message("%s: %zu requests, %zu differ\n", label, n, d);
        differ += d;
        total += n;
      }
    clients_tls = 1;
    size_t hn = huge_run(f, kinds[k].which, huge, sizeof huge);
    clients_tls = 0;
    if (hn != ref_n || memcmp(huge, ref_huge, hn)) {
      print_message("DIFF [%s] /huge: %zu bytes, coap+tcp %zu\n",
                    kinds[k].name, hn, ref_n);
      diff_huge++;
    }
  }
  clients_tls = 0;
  for (size_t pi = 0; pi < sizeof ps / sizeof *ps; pi++)
    for (size_t ri = 0; ri < sizeof pieces / sizeof *pieces; ri++)
      if (ref[pi][ri])
        answers_free(ref[pi][ri], nref[pi][ri]);
  print_message("%zu requests over coaps+tcp, the same over coap+tcp: %zu "
                "differ; /huge (%zu bytes of answers) differs %zu times; "
                "%zu KeyUpdates\n",
                total, differ, ref_n, diff_huge, f->key_updates);
  assert_true(f->key_updates > 100);
  assert_int_equal(differ, 0);
  assert_int_equal(diff_huge, 0);
}

/* Every third GET shape over coaps+ws (BERT CSM) through each TLS 1.3
 * kind (the hand-over under the WebSocket filter too) against the general
 * context's coap+ws answers. */
static void test_tls_ws(void **state) {
  fixture *f = *state;
  static const csm_profile ws_bert = {"ws-bert", 65536, 1, 0, 1};
  size_t differ = 0;
  shapes_stride = 3;
  clients_ws = 1;
  answers *ref = calloc(1, sizeof *ref);
  size_t n = run_set(f, 1, &ws_bert, ref);
  for (size_t k = 0; k < NKINDS; k++) {
    if (kinds[k].max != RC_TLS_V_DEFAULT)
      continue;
    char label[96], st[64];
    clients_tls = 1;
    f->tport = wss_ports[k];
    tls_state(f, k, st, sizeof st);
    assert_string_equal(st, kinds[k].state);
    answers *a[2] = {calloc(1, sizeof *a[0]), ref};
    assert_int_equal(run_set(f, kinds[k].which, &ws_bert, a[0]), n);
    clients_tls = 0;
    snprintf(label, sizeof label, "coaps+ws, %s", kinds[k].name);
    size_t d = answers_cmp(label, a, n, 1);
    print_message("%s: %zu GET requests, %zu differ\n", label, n, d);
    differ += d;
  }
  clients_ws = 0;
  rc__fast_paths_off = 0;
  answers_free(ref, n);
  assert_int_equal(differ, 0);
}

/* 600 random shapes (request_random: options of every class, values up
 * to 300 bytes, repeats) over coaps+tcp in records of 61 bytes through
 * each kind against the general context's coap+tcp answers. */
static void test_tls_random(void **state) {
  fixture *f = *state;
  size_t differ = 0;
  shapes_random = 600;
  answers *ref = calloc(1, sizeof *ref);
  size_t n = run_set(f, 1, &profiles[0], ref);
  for (size_t k = 0; k < NKINDS; k++) {
    char label[96];
    clients_tls = 1;
    f->tport = tls_ports[k];
    f->piece = 61;
    answers *a[2] = {calloc(1, sizeof *a[0]), ref};
    assert_int_equal(run_set(f, kinds[k].which, &profiles[0], a[0]), n);
    clients_tls = 0;
    f->piece = 0;
    snprintf(label, sizeof label, "random, %s", kinds[k].name);
    size_t d = answers_cmp(label, a, n, 1);
    print_message("%s: %zu requests, %zu differ\n", label, n, d);
    differ += d;
  }
  rc__fast_paths_off = 0;
  answers_free(ref, n);
  assert_int_equal(differ, 0);
}

/* Runs the loop until the server closed the client's connection. */
static void until_closed(fixture *f) {
  f->timed_out = 0;
  uv_timer_start(&f->guard, test_run_guard_cb, GUARD_MS, 0);
  while (!f->closed && !f->timed_out)
    uv_run(&f->loop, UV_RUN_ONCE);
  uv_timer_stop(&f->guard);
  assert_false(f->timed_out);
}

/* The ends of a connection, each kind alike: the client's close_notify
 * gets the server's (RFC 8446 §6.1: "Each party MUST send a
 * "close_notify" alert before closing its write side"), and a record
 * that does not authenticate a fatal bad_record_mac (§5.2: "If the
 * decryption fails, the receiver MUST terminate the connection with a
 * "bad_record_mac" alert"; RFC 5246 §7.2.2 for TLS 1.2) and the close. */
static void test_tls_ends(void **state) {
  fixture *f = *state;
  clients_tls = 1;
  for (size_t k = 0; k < NKINDS; k++) {
    f->tport = tls_ports[k];
    client_open(f, kinds[k].which, &profiles[0]);
    last_alert = -1;
    SSL_shutdown(f->ssl);
    until_closed(f);
    int got_close = (SSL_get_shutdown(f->ssl) & SSL_RECEIVED_SHUTDOWN) != 0;
    int close_alert = last_alert;
    client_close(f);
    client_open(f, kinds[k].which, &profiles[0]);
    last_alert = -1;
    uint8_t bad[5 + 32] = {SSL3_RT_APPLICATION_DATA, 3, 3, 0, 32, 1, 2, 3};
    assert_int_equal(send(f->fd, bad, sizeof bad, MSG_NOSIGNAL),
                     (ssize_t)sizeof bad);
    until_closed(f);
    int bad_alert = last_alert;
    client_close(f);
    print_message("%s: close_notify back %d (alert %04x); a forged record: "
                  "alert %04x\n",
                  kinds[k].name, got_close, (unsigned)close_alert,
                  (unsigned)bad_alert);
    assert_true(got_close);
    assert_int_equal(close_alert, SSL3_AL_WARNING << 8 | SSL_AD_CLOSE_NOTIFY);
    assert_int_equal(bad_alert, SSL3_AL_FATAL << 8 | SSL_AD_BAD_RECORD_MAC);
  }
  clients_tls = 0;
  rc__fast_paths_off = 0;
}

int main(int argc, char **argv) {
  if (argc > 1)
    cmocka_set_test_filter(argv[1]);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_tls_differential, tls_setup,
                                      tls_teardown),
      cmocka_unit_test_setup_teardown(test_tls_pipelined, tls_setup,
                                      tls_teardown),
      cmocka_unit_test_setup_teardown(test_tls_ends, tls_setup, tls_teardown),
      cmocka_unit_test_setup_teardown(test_tls_ws, tls_setup, tls_teardown),
      cmocka_unit_test_setup_teardown(test_tls_random, tls_setup,
                                      tls_teardown),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
