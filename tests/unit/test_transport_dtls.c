/*
 * Tests for the DTLS filter (src/transport/dtls.c) on the shared TLS
 * context code: a client filter and a server filter wired back to back in
 * memory, one datagram at a time, with the test PKI of tests/certs/gen.sh
 * and a fake clock. The fake clock is both the one handed to the filters
 * and OpenSSL's: this file defines gettimeofday(), which OpenSSL's DTLS
 * timer reads, so a lost flight can be shown retransmitted at the right
 * moment without waiting.
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
#include <sys/time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "rcoap/codec_msg.h"
#include "rcoap/session.h"
#include "rcoap/transport_chain.h"
#include "rcoap/transport_dtls.h"
#include "rcoap/transport_tls.h"
#include "test_ossl_count.h"
#include "transport/tls_int.h"
#include "test_pki.h"

#define QMAX 64
#define DG_MAX 2048
#define PUMP_MAX_TURNS 200
/* Offset of the handshake type in a datagram that starts with a record. */
#define REC_HDR_HS 13

static char g_dir[256];
static uint64_t g_now_ms; /* the fake clock */

/* OpenSSL's DTLS timer reads the time of day: give it the fake clock. */
int gettimeofday(struct timeval *tv, void *tz) {
  (void)tz;
  tv->tv_sec = (time_t)(g_now_ms / 1000);
  tv->tv_usec = (suseconds_t)(g_now_ms % 1000) * 1000;
  return 0;
}

static const char *P(const char *name, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/%s", g_dir, name);
  return buf;
}

/* ---- one end ------------------------------------------------------------ */

/* OpenSSL's heap in this process: g_ossl_live (main installs the
 * counting functions before any other OpenSSL call). */
static int g_ossl_counted;

typedef struct end {
  rc_filter *f;
  uint8_t q[QMAX][DG_MAX]; /* datagrams produced, not yet delivered */
  size_t qlen[QMAX];
  size_t nq;
  size_t sent_total, max_dgram;
  uint8_t rx[4096];
  size_t rx_len;
  int msgs, opened, closed, errors, err;
  long live_in_up; /* OpenSSL's heap during the last up() */
  char detail[512];
} end;

static rc_err on_up(void *ctx, const uint8_t *d, size_t n, int flags) {
  end *e = ctx;
  assert_int_equal(flags & RC_FILTER_MSG_END, RC_FILTER_MSG_END);
  assert_true(e->rx_len + n <= sizeof(e->rx));
  memcpy(e->rx + e->rx_len, d, n);
  e->rx_len += n;
  e->msgs++;
  e->live_in_up = g_ossl_live;
  return RC_OK;
}

static rc_err on_down(void *ctx, const uint8_t *d, size_t n) {
  end *e = ctx;
  assert_true(e->nq < QMAX);
  assert_true(n <= DG_MAX);
  memcpy(e->q[e->nq], d, n);
  e->qlen[e->nq++] = n;
  e->sent_total++;
  if (n > e->max_dgram)
    e->max_dgram = n;
  return RC_OK;
}

static void on_event(void *ctx, rc_filter_event ev, int arg,
                     const char *detail) {
  end *e = ctx;
  if (ev == RC_FILTER_EV_OPEN)
    e->opened++;
  else if (ev == RC_FILTER_EV_CLOSED)
    e->closed++;
  else if (ev == RC_FILTER_EV_ERROR) {
    e->errors++;
    e->err = arg;
    snprintf(e->detail, sizeof(e->detail), "%s", detail ? detail : "");
  }
}

static rc_filter_sink sink_of(end *e) {
  rc_filter_sink s = {on_up, on_down, on_event, e};
  return s;
}

static end *end_new(void) {
  end *e = calloc(1, sizeof(*e));
  assert_non_null(e);
  return e;
}

static void end_free(end *e) {
  if (e->f)
    rc_filter_free(e->f);
  free(e);
}

static const uint8_t ADDR_C[] = {127, 0, 0, 1, 0x30, 0x39};

/* Delivers every datagram a produced to b's filter, in order. */
static void deliver(end *a, end *b) {
  size_t n = a->nq;
  a->nq = 0;
  for (size_t i = 0; i < n && b->f; i++)
    (void)rc_filter_recv(b->f, a->q[i], a->qlen[i]);
}

/* The server side of a socket: datagrams from the client go through
 * rc_dtls_listen_check until it accepts; only then is a filter made.
 * Returns the number of HelloVerifyRequests sent. */
static int serve(rc_tls_ctx *sctx, end *c, end *s) {
  int hvr = 0;
  size_t n = c->nq;
  c->nq = 0;
  for (size_t i = 0; i < n; i++) {
    if (!s->f) {
      uint8_t out[RC_DTLS_HVR_MAX];
      size_t olen = 0;
      rc_dtls_listen r = rc_dtls_listen_check(sctx, ADDR_C, sizeof(ADDR_C),
                                              c->q[i], c->qlen[i], g_now_ms,
                                              out, &olen);
      if (r == RC_DTLS_LISTEN_ANSWER) {
        assert_true(olen <= c->qlen[i]); /* no amplification */
        assert_int_equal(rc_filter_recv(c->f, out, olen), RC_OK);
        hvr++;
        continue;
      }
      if (r == RC_DTLS_LISTEN_DROP)
        continue;
      rc_filter_sink sk = sink_of(s);
      assert_int_equal(rc_dtls_filter_new(&s->f, sctx, NULL, 0, ADDR_C,
                                          sizeof(ADDR_C), g_now_ms, &sk),
                       RC_OK);
    }
    (void)rc_filter_recv(s->f, c->q[i], c->qlen[i]);
  }
  return hvr;
}

/* Runs the exchange until both ends are quiet. Returns HVRs seen. */
static int pump(rc_tls_ctx *sctx, end *c, end *s) {
  int hvr = 0;
  for (int turn = 0; turn < PUMP_MAX_TURNS; turn++) {
    if (c->nq == 0 && s->nq == 0)
      return hvr;
    hvr += serve(sctx, c, s);
    deliver(s, c);
  }
  fail_msg("pump did not settle");
  return hvr;
}

typedef struct pair {
  rc_tls_ctx *sctx, *cctx;
  end *c, *s;
} pair;

static void server_cfg(rc_tls_config *cfg, char (*b)[300]) {
  rc_tls_config_init(cfg, RC_TLS_SERVER);
  cfg->datagram = 1;
  cfg->certs[0].cert_file = P("server.crt", b[0], sizeof(b[0]));
  cfg->certs[0].key_file = P("server.key", b[1], sizeof(b[1]));
  cfg->ncerts = 1;
}

static void client_cfg(rc_tls_config *cfg, char (*b)[300]) {
  rc_tls_config_init(cfg, RC_TLS_CLIENT);
  cfg->datagram = 1;
  cfg->ca_file = P("ca.crt", b[2], sizeof(b[2]));
}

static void pair_open(pair *p, const rc_tls_config *scfg,
                      const rc_tls_config *ccfg, const char *host) {
  char err[256];
  memset(p, 0, sizeof(*p));
  assert_int_equal(rc_tls_ctx_new(&p->sctx, scfg, err, sizeof(err)), RC_OK);
  assert_int_equal(rc_tls_ctx_new(&p->cctx, ccfg, err, sizeof(err)), RC_OK);
  p->c = end_new();
  p->s = end_new();
  rc_filter_sink sk = sink_of(p->c);
  assert_int_equal(
      rc_dtls_filter_new(&p->c->f, p->cctx, host, 5684, NULL, 0, g_now_ms, &sk),
      RC_OK);
  assert_int_equal(rc_filter_start(p->c->f), RC_OK);
}

/* A pair with the test PKI's server and client configurations. */
static void cert_pair_open(pair *p, const char *host) {
  char b[4][300];
  rc_tls_config scfg, ccfg;
  server_cfg(&scfg, b);
  client_cfg(&ccfg, b);
  pair_open(p, &scfg, &ccfg, host);
}

static void pair_close(pair *p) {
  end_free(p->c);
  end_free(p->s);
  rc_tls_ctx_free(p->sctx);
  rc_tls_ctx_free(p->cctx);
  assert_int_equal(ERR_peek_error(), 0);
}

static void send_msg(end *e, const char *m) {
  assert_int_equal(rc_filter_send(e->f, (const uint8_t *)m, strlen(m),
                                  RC_FILTER_MSG_END),
                   RC_OK);
}

/* ---- tests -------------------------------------------------------------- */

/* Regression (memory per idle WebRTC peer): OpenSSL 3.0 keeps a DTLS
 * connection's record buffers (16 KiB to read, a datagram to write) for
 * its whole life; SSL_MODE_RELEASE_BUFFERS frees them only for TLS. An
 * open filter gives them back after each datagram and has them made again
 * for the next, whichever way it goes: a write first (OpenSSL writes into
 * its buffer unchecked), a read, a close_notify. */
static void test_buffers_released_between_datagrams(void **state) {
  (void)state;
  if (!g_ossl_counted)
    skip(); /* OpenSSL allocated before main: nothing to count with */
  pair p;
  cert_pair_open(&p, "localhost");
  pump(p.sctx, p.c, p.s);
  assert_int_equal(p.c->opened + p.s->opened, 2);
  long open = g_ossl_live;
  /* The client writes first after the handshake's last read... */
  send_msg(p.c, "GET /hello");
  assert_int_equal(g_ossl_live, open);
  deliver(p.c, p.s);
  assert_int_equal(p.s->msgs, 1);
  /* ...the server held them while the record went up, not after. */
  print_message("OpenSSL heap of two open peers: %ld, %ld while a record "
                "goes up\n", open, p.s->live_in_up);
  assert_true(p.s->live_in_up - open >= 16384);
  assert_int_equal(g_ossl_live, open);
  send_msg(p.s, "2.05 world");
  deliver(p.s, p.c);
  assert_int_equal(p.c->msgs, 1);
  assert_memory_equal(p.c->rx, "2.05 world", 10);
  assert_int_equal(g_ossl_live, open);
  /* A close_notify from a filter without its buffers. */
  assert_int_equal(rc_filter_shutdown(p.c->f), RC_OK);
  assert_int_equal(p.c->nq, 1);
  deliver(p.c, p.s);
  assert_int_equal(p.s->closed, 1);
  assert_int_equal(p.s->errors + p.c->errors, 0);
  pair_close(&p);
}

static void test_certificate_handshake_data_close(void **state) {
  (void)state;
  pair p;
  cert_pair_open(&p, "localhost");
  assert_int_equal(p.c->nq, 1); /* the ClientHello */
  /* The first ClientHello gets a HelloVerifyRequest and no server state. */
  assert_int_equal(serve(p.sctx, p.c, p.s), 1);
  assert_null(p.s->f);
  assert_int_equal(p.s->nq, 0);
  assert_int_equal(p.c->nq, 1); /* the ClientHello with the cookie */
  pump(p.sctx, p.c, p.s);
  assert_non_null(p.s->f);
  assert_int_equal(p.c->opened, 1);
  assert_int_equal(p.s->opened, 1);
  assert_true(p.c->max_dgram <= RC_DTLS_DEFAULT_MTU);
  assert_true(p.s->max_dgram <= RC_DTLS_DEFAULT_MTU);
  assert_string_equal(rc_tls_protocol(p.c->f), "DTLSv1.2");
  rc_tls_peer info;
  assert_int_equal(rc_tls_peer_info(p.c->f, &info), RC_OK);
  assert_true(info.verified);
  assert_string_equal(info.subject_cn, "localhost");
  assert_int_equal(rc_filter_expiry(p.c->f), RC_TIME_NEVER);
  /* Application data both ways: one message per datagram. */
  send_msg(p.c, "GET /hello");
  send_msg(p.c, "second");
  assert_int_equal(p.c->nq, 2);
  deliver(p.c, p.s);
  assert_int_equal(p.s->msgs, 2);
  assert_memory_equal(p.s->rx, "GET /hellosecond", 16);
  send_msg(p.s, "2.05 world");
  deliver(p.s, p.c);
  assert_int_equal(p.c->msgs, 1);
  assert_memory_equal(p.c->rx, "2.05 world", 10);
  /* Too large for the MTU: refused, the filter lives on. */
  static uint8_t big[RC_DTLS_DEFAULT_MTU];
  size_t maxp = rc_dtls_max_payload(p.c->f);
  assert_true(maxp > 1100 && maxp < RC_DTLS_DEFAULT_MTU);
  assert_int_equal(rc_filter_send(p.c->f, big, maxp + 1, 0), RC_ERR_LIMIT);
  assert_int_equal(rc_filter_send(p.c->f, big, maxp, 0), RC_OK);
  assert_true(p.c->qlen[p.c->nq - 1] <= RC_DTLS_DEFAULT_MTU);
  deliver(p.c, p.s);
  assert_int_equal(p.s->msgs, 3);
  /* close_notify: the client closes, the server answers with its own. */
  assert_int_equal(rc_filter_shutdown(p.c->f), RC_OK);
  assert_int_equal(p.c->nq, 1);
  deliver(p.c, p.s);
  assert_int_equal(p.s->closed, 1);
  assert_int_equal(p.s->errors, 0);
  assert_int_equal(rc_filter_send(p.s->f, (const uint8_t *)"x", 1, 0),
                   RC_ERR_STATE);
  pair_close(&p);
}

static void test_host_name_mismatch(void **state) {
  (void)state;
  pair p;
  cert_pair_open(&p, "other.test");
  pump(p.sctx, p.c, p.s);
  assert_int_equal(p.c->opened, 0);
  assert_int_equal(p.c->errors, 1);
  assert_int_equal(p.c->err, RC_ERR_TLS_CERT);
  assert_non_null(strstr(p.c->detail, "host name mismatch"));
  assert_non_null(strstr(p.c->detail, "not other.test"));
  assert_int_equal(p.s->opened, 0);
  assert_int_equal(p.s->errors, 1); /* the client's alert */
  pair_close(&p);
}

static void test_ip_literal_checked(void **state) {
  (void)state;
  pair p;
  cert_pair_open(&p, "127.0.0.1");
  pump(p.sctx, p.c, p.s);
  assert_int_equal(p.c->opened, 1);
  pair_close(&p);
  cert_pair_open(&p, "127.0.0.2");
  pump(p.sctx, p.c, p.s);
  assert_int_equal(p.c->err, RC_ERR_TLS_CERT);
  assert_non_null(strstr(p.c->detail, "not 127.0.0.2"));
  pair_close(&p);
}

/* A DTLS server and client with the PSK "node-7" / "secret-key-16byt";
 * the client's key is client_key (16 bytes). */
static void psk_cfgs(rc_tls_config *scfg, rc_tls_config *ccfg,
                     const char *client_key) {
  rc_tls_config_init(scfg, RC_TLS_SERVER);
  scfg->datagram = 1;
  scfg->psk_identity = (const uint8_t *)"node-7";
  scfg->psk_identity_len = 6;
  scfg->psk_key = (const uint8_t *)"secret-key-16byt";
  scfg->psk_key_len = 16;
  rc_tls_config_init(ccfg, RC_TLS_CLIENT);
  ccfg->datagram = 1;
  ccfg->psk_identity = scfg->psk_identity;
  ccfg->psk_identity_len = 6;
  ccfg->psk_key = (const uint8_t *)client_key;
  ccfg->psk_key_len = 16;
}

static void test_psk_identity_and_hint(void **state) {
  (void)state;
  rc_tls_config scfg, ccfg;
  psk_cfgs(&scfg, &ccfg, "secret-key-16byt");
  scfg.psk_hint = "rcoap-hint";
  pair p;
  pair_open(&p, &scfg, &ccfg, "localhost");
  pump(p.sctx, p.c, p.s);
  assert_int_equal(p.c->opened, 1);
  assert_int_equal(p.s->opened, 1);
  rc_tls_peer si, ci;
  assert_int_equal(rc_tls_peer_info(p.s->f, &si), RC_OK);
  assert_int_equal(si.psk_identity_len, 6);
  assert_memory_equal(si.psk_identity, "node-7", 6);
  assert_false(si.has_cert);
  assert_int_equal(rc_tls_peer_info(p.c->f, &ci), RC_OK);
  assert_string_equal(ci.psk_hint, "rcoap-hint");
  assert_non_null(strstr(rc_tls_cipher(p.c->f), "PSK"));
  send_msg(p.c, "psk data");
  deliver(p.c, p.s);
  assert_int_equal(p.s->msgs, 1);
  pair_close(&p);
  /* A wrong key fails the handshake with a sentence. */
  ccfg.psk_key = (const uint8_t *)"wrong-key-16byte";
  pair_open(&p, &scfg, &ccfg, "localhost");
  pump(p.sctx, p.c, p.s);
  /* DTLS drops records that do not decrypt (RFC 6347 §4.1.2.7): the
   * server never sees a good Finished and gives up at its deadline. */
  assert_int_equal(p.c->opened + p.s->opened, 0);
  assert_int_equal(p.s->errors + p.c->errors, 0);
  for (int i = 0; i < 50 && !p.s->errors; i++) {
    g_now_ms = rc_filter_expiry(p.s->f);
    (void)rc_filter_timeout(p.s->f, g_now_ms);
    p.s->nq = 0;
  }
  assert_int_equal(p.s->err, RC_ERR_TIMEOUT);
  assert_non_null(strstr(p.s->detail, "wrong pre-shared key?"));
  pair_close(&p);
}

/* A PSK client whose Finished the server cannot decrypt (a wrong key)
 * gets no alert, only silence and the server's repeated flight: it gives
 * up when it would send the Finished flight a fourth time (the second
 * retransmission's timer, 1 + 2 + 4 s after the Finished; OpenSSL's
 * timer) with RC_ERR_TLS and a sentence naming the key, long before its
 * handshake deadline. */
static void test_wrong_psk_client_gives_up(void **state) {
  (void)state;
  rc_tls_config scfg, ccfg;
  psk_cfgs(&scfg, &ccfg, "wrong-key-16byte");
  pair p;
  pair_open(&p, &scfg, &ccfg, "localhost");
  pump(p.sctx, p.c, p.s); /* up to our Finished, which the server drops */
  assert_int_equal(p.c->opened + p.s->opened + p.c->errors, 0);
  uint64_t t_fin = g_now_ms;
  int finished_flights = 0;
  for (int i = 0; i < 20 && !p.c->errors; i++) {
    rc_time cat = rc_filter_expiry(p.c->f), sat = rc_filter_expiry(p.s->f);
    g_now_ms = cat < sat ? cat : sat;
    if (g_now_ms == cat)
      (void)rc_filter_timeout(p.c->f, g_now_ms);
    else
      (void)rc_filter_timeout(p.s->f, g_now_ms);
    finished_flights += p.c->nq > 0;
    deliver(p.c, p.s);
    deliver(p.s, p.c);
    finished_flights += p.c->nq > 0;
    deliver(p.c, p.s);
    deliver(p.s, p.c);
  }
  assert_int_equal(p.c->errors, 1);
  assert_int_equal(p.c->err, RC_ERR_TLS);
  assert_non_null(strstr(p.c->detail, "wrong pre-shared key?"));
  assert_true(g_now_ms <= t_fin + 7000);
  assert_true(g_now_ms < t_fin + RC_DTLS_HANDSHAKE_TIMEOUT_MS);
  assert_int_equal(finished_flights, 2); /* retransmitted twice, no more */
  pair_close(&p);
}

/* The key log (rc_tls_config.keylog_file): after a DTLS 1.2 handshake
 * both ends have appended the same one NSS line, CLIENT_RANDOM with the
 * 32-byte client random and the 48-byte master secret, to files of mode
 * 0600; a path that cannot be opened fails the context with RC_ERR_IO. */
static void test_keylog(void **state) {
  (void)state;
  char b[6][300];
  rc_tls_config scfg, ccfg;
  server_cfg(&scfg, b);
  client_cfg(&ccfg, b);
  scfg.keylog_file = P("server.keys", b[4], sizeof(b[4]));
  ccfg.keylog_file = P("client.keys", b[5], sizeof(b[5]));
  remove(scfg.keylog_file);
  remove(ccfg.keylog_file);
  pair p;
  pair_open(&p, &scfg, &ccfg, "localhost");
  pump(p.sctx, p.c, p.s);
  assert_int_equal(p.c->opened, 1);
  pair_close(&p);
  char lines[2][512];
  for (int i = 0; i < 2; i++) {
    const char *path = i ? ccfg.keylog_file : scfg.keylog_file;
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(lines[i], 1, sizeof(lines[i]) - 1, f);
    fclose(f);
    lines[i][n] = 0;
    /* "CLIENT_RANDOM " + 64 hex + " " + 96 hex + "\n" */
    assert_int_equal(n, 14 + 64 + 1 + 96 + 1);
    assert_memory_equal(lines[i], "CLIENT_RANDOM ", 14);
    assert_int_equal(lines[i][14 + 64], ' ');
    assert_int_equal(lines[i][n - 1], '\n');
  }
  assert_string_equal(lines[0], lines[1]);
  char err[256];
  rc_tls_ctx *ctx = NULL;
  ccfg.keylog_file = "/nonexistent-dir/keys";
  assert_int_equal(rc_tls_ctx_new(&ctx, &ccfg, err, sizeof(err)), RC_ERR_IO);
  assert_null(ctx);
  assert_non_null(strstr(err, "/nonexistent-dir/keys"));
}

static void test_mutual_tls(void **state) {
  (void)state;
  char b[6][300];
  rc_tls_config scfg, ccfg;
  server_cfg(&scfg, b);
  scfg.ca_file = P("ca.crt", b[3], sizeof(b[3]));
  scfg.client_auth = RC_TLS_CLIENT_AUTH_REQUIRE;
  client_cfg(&ccfg, b);
  pair p;
  /* Without a client certificate: refused. */
  pair_open(&p, &scfg, &ccfg, "localhost");
  pump(p.sctx, p.c, p.s);
  assert_int_equal(p.s->opened, 0);
  assert_int_equal(p.s->err, RC_ERR_TLS_CERT);
  assert_non_null(strstr(p.s->detail, "certificate"));
  pair_close(&p);
  ccfg.certs[0].cert_file = P("client.crt", b[4], sizeof(b[4]));
  ccfg.certs[0].key_file = P("client.key", b[5], sizeof(b[5]));
  ccfg.ncerts = 1;
  pair_open(&p, &scfg, &ccfg, "localhost");
  pump(p.sctx, p.c, p.s);
  assert_int_equal(p.s->opened, 1);
  rc_tls_peer si;
  assert_int_equal(rc_tls_peer_info(p.s->f, &si), RC_OK);
  assert_true(si.verified);
  assert_string_equal(si.subject_cn, "rcoap-client-1");
  pair_close(&p);
}

static void test_fingerprint_mode(void **state) {
  (void)state;
  char b[4][300];
  uint8_t fp[RC_TLS_FINGERPRINT_LEN];
  assert_int_equal(rc_tls_fingerprint_file(P("server.crt", b[3], 300), fp),
                   RC_OK);
  rc_tls_config scfg, ccfg;
  server_cfg(&scfg, b);
  rc_tls_config_init(&ccfg, RC_TLS_CLIENT);
  ccfg.datagram = 1;
  ccfg.peer_fingerprint = fp;
  pair p;
  pair_open(&p, &scfg, &ccfg, "any-name");
  pump(p.sctx, p.c, p.s);
  assert_int_equal(p.c->opened, 1);
  pair_close(&p);
  fp[0] ^= 1;
  pair_open(&p, &scfg, &ccfg, "any-name");
  pump(p.sctx, p.c, p.s);
  assert_int_equal(p.c->opened, 0);
  assert_int_equal(p.c->err, RC_ERR_TLS_CERT);
  assert_non_null(strstr(p.c->detail, "fingerprint mismatch"));
  pair_close(&p);
}

/* Two self-signed identities (peer-a the client's, peer-b the
 * server's) and WebRTC-style configurations: each side checks the
 * other's fingerprint, no CA, no host name. */
typedef struct wr_certs {
  char ca[300], ka[300], cb[300], kb[300];
  uint8_t fpa[RC_TLS_FINGERPRINT_LEN], fpb[RC_TLS_FINGERPRINT_LEN];
} wr_certs;

static void wr_cfgs(wr_certs *w, rc_tls_config *scfg, rc_tls_config *ccfg) {
  assert_int_equal(rc_tls_make_self_signed(P("wa.crt", w->ca, 300),
                                           P("wa.key", w->ka, 300), "peer-a"),
                   RC_OK);
  assert_int_equal(rc_tls_make_self_signed(P("wb.crt", w->cb, 300),
                                           P("wb.key", w->kb, 300), "peer-b"),
                   RC_OK);
  assert_int_equal(rc_tls_fingerprint_file(w->ca, w->fpa), RC_OK);
  assert_int_equal(rc_tls_fingerprint_file(w->cb, w->fpb), RC_OK);
  rc_tls_config_init(scfg, RC_TLS_SERVER);
  scfg->datagram = 1;
  scfg->certs[0].cert_file = w->cb;
  scfg->certs[0].key_file = w->kb;
  scfg->ncerts = 1;
  scfg->peer_fingerprint = w->fpa;
  rc_tls_config_init(ccfg, RC_TLS_CLIENT);
  ccfg->datagram = 1;
  ccfg->certs[0].cert_file = w->ca;
  ccfg->certs[0].key_file = w->ka;
  ccfg->ncerts = 1;
  ccfg->peer_fingerprint = w->fpb;
}

/* WebRTC's way (RFC 8827 §6.5, RFC 8122): both ends self-signed, each
 * checks the other by the SHA-256 fingerprint from the SDP; the server
 * (a=setup:passive) requires the client's certificate. */
static void test_webrtc_style_fingerprints(void **state) {
  (void)state;
  wr_certs w;
  rc_tls_config scfg, ccfg;
  wr_cfgs(&w, &scfg, &ccfg);
  uint8_t *fpa = w.fpa;
  pair p;
  pair_open(&p, &scfg, &ccfg, NULL); /* no host name: the SDP is the trust */
  pump(p.sctx, p.c, p.s);
  assert_int_equal(p.c->opened, 1);
  assert_int_equal(p.s->opened, 1);
  rc_tls_peer si;
  assert_int_equal(rc_tls_peer_info(p.s->f, &si), RC_OK);
  assert_true(si.has_cert && si.verified);
  assert_memory_equal(si.fingerprint, fpa, RC_TLS_FINGERPRINT_LEN);
  assert_string_equal(si.subject_cn, "peer-a");
  pair_close(&p);
  /* The server expects another fingerprint: the client is refused. */
  fpa[5] ^= 0x40;
  pair_open(&p, &scfg, &ccfg, "ignored");
  pump(p.sctx, p.c, p.s);
  assert_int_equal(p.s->opened, 0);
  assert_int_equal(p.s->err, RC_ERR_TLS_CERT);
  assert_non_null(strstr(p.s->detail, "fingerprint mismatch"));
  pair_close(&p);
  /* A client without a certificate is refused too. */
  fpa[5] ^= 0x40;
  ccfg.ncerts = 0;
  pair_open(&p, &scfg, &ccfg, "ignored");
  pump(p.sctx, p.c, p.s);
  assert_int_equal(p.s->opened, 0);
  assert_int_equal(p.s->err, RC_ERR_TLS_CERT);
  pair_close(&p);
}

/* A WebRTC DTLS peer (a context checking fingerprints) takes the record
 * layer over after its handshake and frees its SSL (dtls_record.h;
 * OpenSSL kept ~40 KB per peer): the client at once, the server once the
 * client's first application record came (before it, the client may
 * repeat its Finished flight). For each AEAD suite: the client's records
 * go both ways with the server's OpenSSL, then both sides' own; a
 * repeated record and a forged one are dropped without a word (RFC 6347
 * §4.1.2.6, §4.1.2.7); close_notify either way. */
static void test_webrtc_peers_hand_over(void **state) {
  (void)state;
  static const char *suites[] = {"ECDHE-ECDSA-AES128-GCM-SHA256",
                                 "ECDHE-ECDSA-AES256-GCM-SHA384",
                                 "ECDHE-ECDSA-CHACHA20-POLY1305"};
  wr_certs w;
  rc_tls_config scfg, ccfg;
  wr_cfgs(&w, &scfg, &ccfg);
  for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++) {
    pair p;
    pair_open(&p, &scfg, &ccfg, NULL);
    assert_int_equal(SSL_CTX_set_cipher_list(p.sctx->ssl_ctx, suites[i]), 1);
    pump(p.sctx, p.c, p.s);
    assert_int_equal(p.c->opened, 1);
    assert_int_equal(p.s->opened, 1);
    assert_string_equal(rc_tls_cipher(p.s->f), suites[i]);
    /* the client's SSL is gone; the server keeps its own for now */
    assert_null(((rc__tls_filter *)p.c->f)->ssl);
    assert_non_null(((rc__tls_filter *)p.s->f)->ssl);
    assert_string_equal(rc_tls_cipher(p.c->f), suites[i]);
    assert_string_equal(rc_tls_protocol(p.c->f), "DTLSv1.2");
    assert_true(rc_tls_handshake_done(p.c->f));
    rc_tls_peer ci;
    assert_int_equal(rc_tls_peer_info(p.c->f, &ci), RC_OK);
    assert_true(ci.has_cert && ci.verified);
    assert_memory_equal(ci.fingerprint, w.fpb, RC_TLS_FINGERPRINT_LEN);
    assert_string_equal(ci.subject_cn, "peer-b");
    size_t maxp = rc_dtls_max_payload(p.c->f);
    assert_int_equal(maxp, rc_dtls_max_payload(p.s->f));
    /* both ways, a whole datagram's worth too */
    static uint8_t big[RC_DTLS_DEFAULT_MTU];
    memset(big, 0x3c, sizeof big);
    send_msg(p.c, "GET /hello");
    assert_int_equal(rc_filter_send(p.c->f, big, maxp, 0), RC_OK);
    assert_int_equal(rc_filter_send(p.c->f, big, maxp + 1, 0), RC_ERR_LIMIT);
    assert_true(p.c->qlen[p.c->nq - 1] <= RC_DTLS_DEFAULT_MTU);
    uint8_t get1[DG_MAX];
    size_t flen = p.c->qlen[0];
    memcpy(get1, p.c->q[0], flen);
    deliver(p.c, p.s);
    assert_int_equal(p.s->msgs, 2);
    assert_memory_equal(p.s->rx, "GET /hello", 10);
    /* the client's data came: the server hands over too */
    assert_null(((rc__tls_filter *)p.s->f)->ssl);
    assert_string_equal(rc_tls_cipher(p.s->f), suites[i]);
    rc_tls_peer si;
    assert_int_equal(rc_tls_peer_info(p.s->f, &si), RC_OK);
    assert_true(si.has_cert && si.verified);
    assert_memory_equal(si.fingerprint, w.fpa, RC_TLS_FINGERPRINT_LEN);
    assert_string_equal(si.subject_cn, "peer-a");
    /* the client's first record again: a replay, dropped */
    assert_int_equal(rc_filter_recv(p.s->f, get1, flen), RC_OK);
    assert_int_equal(p.s->msgs, 2);
    send_msg(p.s, "2.05 one");
    assert_int_equal(p.s->nq, 1);
    uint8_t copy[DG_MAX];
    size_t clen = p.s->qlen[0];
    memcpy(copy, p.s->q[0], clen);
    deliver(p.s, p.c);
    assert_int_equal(p.c->msgs, 1);
    assert_memory_equal(p.c->rx, "2.05 one", 8);
    /* the same record again: a replay, dropped */
    assert_int_equal(rc_filter_recv(p.c->f, copy, clen), RC_OK);
    assert_int_equal(p.c->msgs, 1);
    /* a forged one (a ciphertext bit flipped): dropped */
    send_msg(p.s, "2.05 two");
    p.s->q[0][p.s->qlen[0] - 20] ^= 0x01;
    deliver(p.s, p.c);
    assert_int_equal(p.c->msgs, 1);
    assert_int_equal(p.c->errors, 0);
    /* a later one still goes (the window moved only for good records) */
    send_msg(p.s, "2.05 three");
    deliver(p.s, p.c);
    assert_int_equal(p.c->msgs, 2);
    assert_memory_equal(p.c->rx + 8, "2.05 three", 10);
    /* close_notify, one side then the other, by turns */
    end *first = i % 2 ? p.s : p.c, *second = i % 2 ? p.c : p.s;
    assert_int_equal(rc_filter_shutdown(first->f), RC_OK);
    assert_int_equal(first->nq, 1);
    deliver(first, second);
    assert_int_equal(second->closed, 1);
    assert_int_equal(second->errors, 0);
    assert_int_equal(second->nq, 1); /* its own close_notify */
    deliver(second, first);
    assert_int_equal(first->errors, 0);
    pair_close(&p);
  }
}

static void test_lost_flight_retransmitted(void **state) {
  (void)state;
  pair p;
  cert_pair_open(&p, "localhost");
  uint64_t t0 = g_now_ms;
  assert_int_equal(p.c->nq, 1);
  p.c->nq = 0; /* the ClientHello is lost */
  /* RFC 6347 §4.2.4.1: initial timer 1 s. */
  rc_time at = rc_filter_expiry(p.c->f);
  assert_int_equal(at, t0 + 1000);
  g_now_ms = t0 + 999;
  assert_int_equal(rc_filter_timeout(p.c->f, g_now_ms), RC_OK);
  assert_int_equal(p.c->nq, 0);
  g_now_ms = t0 + 1000;
  assert_int_equal(rc_filter_timeout(p.c->f, g_now_ms), RC_OK);
  assert_int_equal(p.c->nq, 1); /* sent again */
  /* The timer doubled. */
  assert_int_equal(rc_filter_expiry(p.c->f), t0 + 1000 + 2000);
  /* Now the flight after the cookie is lost: the server's ServerHello
   * flight. */
  serve(p.sctx, p.c, p.s); /* HVR to the client */
  serve(p.sctx, p.c, p.s); /* CH with cookie: the server filter answers */
  assert_non_null(p.s->f);
  assert_true(p.s->nq >= 1);
  uint8_t first_type = p.s->q[0][REC_HDR_HS];
  p.s->nq = 0;
  rc_time sat = rc_filter_expiry(p.s->f);
  assert_int_equal(sat, g_now_ms + 1000);
  g_now_ms = sat;
  assert_int_equal(rc_filter_timeout(p.s->f, g_now_ms), RC_OK);
  assert_true(p.s->nq >= 1); /* the flight again (records may be packed
                                differently) */
  assert_int_equal(first_type, 2); /* ServerHello */
  assert_int_equal(p.s->q[0][REC_HDR_HS], 2);
  pump(p.sctx, p.c, p.s);
  assert_int_equal(p.c->opened, 1);
  assert_int_equal(p.s->opened, 1);
  assert_int_equal(rc_filter_expiry(p.s->f), RC_TIME_NEVER);
  pair_close(&p);
}

static void test_handshake_timeout(void **state) {
  (void)state;
  char b[4][300];
  rc_tls_config scfg, ccfg;
  server_cfg(&scfg, b);
  client_cfg(&ccfg, b);
  ccfg.handshake_timeout_ms = 10000;
  pair p;
  pair_open(&p, &scfg, &ccfg, "localhost");
  uint64_t t0 = g_now_ms;
  int sends = 0;
  for (int i = 0; i < 50 && !p.c->errors; i++) {
    rc_time at = rc_filter_expiry(p.c->f);
    assert_true(at != RC_TIME_NEVER);
    g_now_ms = at;
    sends += (int)p.c->nq;
    p.c->nq = 0; /* every flight lost */
    (void)rc_filter_timeout(p.c->f, g_now_ms);
  }
  assert_int_equal(p.c->errors, 1);
  assert_int_equal(p.c->err, RC_ERR_TIMEOUT);
  assert_int_equal(g_now_ms, t0 + 10000);
  assert_non_null(strstr(p.c->detail, "no answer from the peer"));
  assert_int_equal(sends, 4); /* at 0, 1, 3, 7 s */
  assert_int_equal(rc_filter_expiry(p.c->f), RC_TIME_NEVER);
  pair_close(&p);
}

static void test_garbage(void **state) {
  (void)state;
  pair p;
  cert_pair_open(&p, "localhost");
  uint8_t junk[300];
  for (size_t i = 0; i < sizeof(junk); i++)
    junk[i] = (uint8_t)(i * 37 + 11);
  uint8_t out[RC_DTLS_HVR_MAX];
  size_t olen = 7;
  assert_int_equal(rc_dtls_listen_check(p.sctx, ADDR_C, sizeof(ADDR_C), junk,
                                        sizeof(junk), g_now_ms, out, &olen),
                   RC_DTLS_LISTEN_DROP);
  assert_int_equal(olen, 0);
  /* A ClientHello header with a truncated body: dropped. */
  memcpy(junk, "\x16\xfe\xfd\0\0\0\0\0\0\0\0\0\x20\x01\0\0\x14\0\0\0\0\0\0\0\x14",
         25);
  assert_int_equal(rc_dtls_listen_check(p.sctx, ADDR_C, sizeof(ADDR_C), junk,
                                        45, g_now_ms, out, &olen),
                   RC_DTLS_LISTEN_DROP);
  /* A server filter fed garbage directly answers nothing and lives. */
  rc_filter_sink sk = sink_of(p.s);
  assert_int_equal(rc_dtls_filter_new(&p.s->f, p.sctx, NULL, 0, ADDR_C,
                                      sizeof(ADDR_C), g_now_ms, &sk),
                   RC_OK);
  for (size_t n = 1; n < sizeof(junk); n += 37)
    (void)rc_filter_recv(p.s->f, junk, n);
  assert_int_equal(p.s->nq, 0);
  assert_int_equal(p.s->errors, 0);
  /* The handshake still works, and garbage after it is dropped. */
  pump(p.sctx, p.c, p.s);
  assert_int_equal(p.c->opened, 1);
  assert_int_equal(p.s->opened, 1);
  junk[0] = 23; /* application_data with a bad MAC */
  junk[1] = 0xfe;
  junk[2] = 0xfd;
  junk[3] = 0;
  junk[4] = 1;
  junk[11] = 0;
  junk[12] = 40;
  assert_int_equal(rc_filter_recv(p.c->f, junk, 53), RC_OK);
  assert_int_equal(rc_filter_recv(p.c->f, junk, 5), RC_OK);
  assert_int_equal(p.c->errors, 0);
  assert_int_equal(p.c->msgs, 0);
  send_msg(p.s, "still fine");
  deliver(p.s, p.c);
  assert_int_equal(p.c->msgs, 1);
  pair_close(&p);
}

static void test_resumption_and_small_mtu(void **state) {
  (void)state;
  char b[4][300];
  rc_tls_config scfg, ccfg;
  server_cfg(&scfg, b);
  scfg.mtu = 400;
  /* The client keeps the default: a ClientHello carrying a session
   * ticket does not fit 400 bytes, and a fragmented ClientHello cannot
   * pass the stateless cookie check. */
  client_cfg(&ccfg, b);
  pair p;
  pair_open(&p, &scfg, &ccfg, "localhost");
  pump(p.sctx, p.c, p.s);
  assert_int_equal(p.c->opened, 1);
  assert_false(rc_tls_resumed(p.c->f));
  assert_true(p.s->max_dgram <= 400);
  assert_true(p.s->sent_total >= 3); /* the certificate flight was split */
  assert_int_equal(rc_tls_ctx_cached_sessions(p.cctx), 1);
  /* A second filter on the same contexts resumes the session. */
  end *c2 = end_new(), *s2 = end_new();
  rc_filter_sink sk = sink_of(c2);
  assert_int_equal(rc_dtls_filter_new(&c2->f, p.cctx, "localhost", 5684, NULL,
                                      0, g_now_ms, &sk),
                   RC_OK);
  assert_int_equal(rc_filter_start(c2->f), RC_OK);
  pump(p.sctx, c2, s2);
  assert_int_equal(c2->opened, 1);
  assert_true(rc_tls_resumed(c2->f));
  end_free(c2);
  end_free(s2);
  pair_close(&p);
}

static void test_config_errors(void **state) {
  (void)state;
  char err[256];
  rc_tls_ctx *ctx = NULL;
  rc_tls_config cfg;
  rc_tls_config_init(&cfg, RC_TLS_CLIENT);
  cfg.datagram = 1;
  cfg.max_version = RC_TLS_V1_3;
  assert_int_equal(rc_tls_ctx_new(&ctx, &cfg, err, sizeof(err)), RC_ERR_INVAL);
  assert_non_null(strstr(err, "DTLS"));
  cfg.max_version = 0;
  cfg.mtu = 100;
  assert_int_equal(rc_tls_ctx_new(&ctx, &cfg, err, sizeof(err)), RC_ERR_INVAL);
  assert_non_null(strstr(err, "mtu"));
  /* A stream context makes no DTLS filter, and the reverse. */
  cfg.mtu = 0;
  cfg.datagram = 0;
  cfg.insecure = 1;
  assert_int_equal(rc_tls_ctx_new(&ctx, &cfg, err, sizeof(err)), RC_OK);
  end *e = end_new();
  rc_filter_sink sk = sink_of(e);
  assert_int_equal(rc_dtls_filter_new(&e->f, ctx, "x", 1, NULL, 0, 0, &sk),
                   RC_ERR_INVAL);
  rc_tls_ctx_free(ctx);
  cfg.datagram = 1;
  assert_int_equal(rc_tls_ctx_new(&ctx, &cfg, err, sizeof(err)), RC_OK);
  assert_int_equal(rc_tls_filter_new(&e->f, ctx, "x", 1, &sk), RC_ERR_INVAL);
  rc_tls_ctx_free(ctx);
  end_free(e);
}

/* The cookie key changes every RC_DTLS_COOKIE_ROTATE_MS; a cookie made
 * under the key before stays good, one two keys old does not, and a
 * cookie is bound to the address. */
static void test_cookie_rotation(void **state) {
  (void)state;
  char b[4][300], err[256];
  rc_tls_config scfg, ccfg;
  server_cfg(&scfg, b);
  client_cfg(&ccfg, b);
  rc_tls_ctx *sctx;
  assert_int_equal(rc_tls_ctx_new(&sctx, &scfg, err, sizeof(err)), RC_OK);
  pair p;
  pair_open(&p, &scfg, &ccfg, "localhost");
  uint8_t ch[DG_MAX], hvr[RC_DTLS_HVR_MAX], ch2[DG_MAX];
  size_t chn = p.c->qlen[0], hn, ch2n;
  memcpy(ch, p.c->q[0], chn);
  p.c->nq = 0;
  uint64_t t0 = g_now_ms;
  assert_int_equal(rc_dtls_listen_check(sctx, ADDR_C, sizeof(ADDR_C), ch, chn,
                                        t0, hvr, &hn),
                   RC_DTLS_LISTEN_ANSWER);
  assert_int_equal(hn, 60);
  assert_int_equal(hvr[13], 3);                /* HelloVerifyRequest */
  assert_memory_equal(hvr + 3, ch + 3, 8);     /* epoch and sequence */
  assert_int_equal(rc_filter_recv(p.c->f, hvr, hn), RC_OK);
  assert_int_equal(p.c->nq, 1); /* the ClientHello with the cookie */
  ch2n = p.c->qlen[0];
  memcpy(ch2, p.c->q[0], ch2n);
  rc_dtls_listen r = rc_dtls_listen_check(sctx, ADDR_C, sizeof(ADDR_C), ch2,
                                          ch2n, t0, hvr, &hn);
  assert_int_equal(r, RC_DTLS_LISTEN_ACCEPT);
  /* Another address: the same cookie is not good there. */
  static const uint8_t other[] = {127, 0, 0, 2, 0x30, 0x39};
  assert_int_equal(rc_dtls_listen_check(sctx, other, sizeof(other), ch2, ch2n,
                                        t0, hvr, &hn),
                   RC_DTLS_LISTEN_ANSWER);
  /* One rotation: still good; two: a new HelloVerifyRequest. */
  assert_int_equal(rc_dtls_listen_check(sctx, ADDR_C, sizeof(ADDR_C), ch2,
                                        ch2n, t0 + RC_DTLS_COOKIE_ROTATE_MS,
                                        hvr, &hn),
                   RC_DTLS_LISTEN_ACCEPT);
  assert_int_equal(rc_dtls_listen_check(sctx, ADDR_C, sizeof(ADDR_C), ch2,
                                        ch2n,
                                        t0 + 2 * RC_DTLS_COOKIE_ROTATE_MS,
                                        hvr, &hn),
                   RC_DTLS_LISTEN_ANSWER);
  rc_tls_ctx_free(sctx);
  pair_close(&p);
}

/* ---- in a chain ----------------------------------------------------------- */

/* A session in message mode over [dtls] in a datagram chain, as a WebRTC
 * data channel's DTLS or coaps:// will have it (there with session/udp.c
 * above). */
typedef struct cpeer {
  rc_session *s;
  rc_chain *ch;
  int server, opened, ends, msgs;
  rc_err end_err;
  char payload[64];
} cpeer;

static void c_open(void *u) { ((cpeer *)u)->opened++; }
static void c_end(void *u, rc_chain_end_how how, rc_err err, const char *d) {
  cpeer *p = u;
  (void)how, (void)d;
  p->ends++;
  p->end_err = err;
}
static const rc_chain_callbacks c_chain_cb = {.on_open = c_open, .on_end = c_end};

static int c_msg(void *u, const rc_msg *m) {
  cpeer *p = u;
  p->msgs++;
  snprintf(p->payload, sizeof(p->payload), "%.*s", (int)m->payload_len,
           m->payload ? (const char *)m->payload : "");
  if (p->server && rc_code_is_request(m->code)) {
    rc_enc e;
    assert_int_equal(rc_session_msg_begin(p->s, &e, RC_CONTENT, m->token,
                                          m->token_len, 128),
                     RC_OK);
    assert_int_equal(rc_enc_payload(&e, "pong", 4), RC_OK);
    assert_int_equal(rc_session_msg_end(p->s, &e), RC_OK);
  }
  return 0;
}
static const rc_session_callbacks c_sess_cb = {.on_message = c_msg};

static void cpeer_init(cpeer *p, rc_tls_ctx *ctx, int server) {
  memset(p, 0, sizeof(*p));
  p->server = server;
  rc_session_config sc;
  rc_session_config_default(&sc, RC_FRAMING_WS,
                            server ? RC_SESSION_SERVER : RC_SESSION_CLIENT);
  assert_int_equal(rc_session_new(&p->s, &sc, &c_sess_cb, p, NULL, g_now_ms),
                   RC_OK);
  rc_chain_config cc = {.flags = RC_CHAIN_DATAGRAM};
  assert_int_equal(rc_chain_new(&p->ch, &cc, p->s, &c_chain_cb, p), RC_OK);
  rc_filter_sink sk = rc_chain_next_sink(p->ch);
  rc_filter *f = NULL;
  assert_int_equal(rc_dtls_filter_new(&f, ctx, server ? NULL : "localhost",
                                      server ? 0 : 5684, ADDR_C, sizeof(ADDR_C),
                                      g_now_ms, &sk),
                   RC_OK);
  assert_int_equal(rc_chain_push(p->ch, f), RC_OK);
}

/* Moves from's datagrams to to; drops them when lose. Returns the count. */
static int cmove(cpeer *from, cpeer *to, int lose) {
  const uint8_t *d;
  size_t n;
  int k = 0;
  while (k < 100 && rc_chain_pull(from->ch, &d, &n) == RC_OK) {
    assert_true(n > 0 && n <= RC_DTLS_DEFAULT_MTU);
    if (!lose)
      (void)rc_chain_recv(to->ch, d, n, g_now_ms);
    assert_int_equal(rc_chain_consume(from->ch, n), RC_OK);
    k++;
  }
  return k;
}

static void cpump(cpeer *a, cpeer *b) {
  for (int i = 0; i < PUMP_MAX_TURNS; i++)
    if (cmove(a, b, 0) + cmove(b, a, 0) == 0)
      return;
  fail_msg("chain pump did not settle");
}

static void test_in_a_chain(void **state) {
  (void)state;
  char b[4][300], err[256];
  rc_tls_config scfg, ccfg;
  server_cfg(&scfg, b);
  client_cfg(&ccfg, b);
  rc_tls_ctx *sctx, *cctx;
  assert_int_equal(rc_tls_ctx_new(&sctx, &scfg, err, sizeof(err)), RC_OK);
  assert_int_equal(rc_tls_ctx_new(&cctx, &ccfg, err, sizeof(err)), RC_OK);
  cpeer c, s;
  cpeer_init(&c, cctx, 0);
  cpeer_init(&s, sctx, 1);
  assert_int_equal(rc_chain_start(s.ch, g_now_ms), RC_OK);
  assert_int_equal(rc_chain_start(c.ch, g_now_ms), RC_OK);
  /* The ClientHello is lost; the chain's deadline is the filter's. */
  assert_int_equal(cmove(&c, &s, 1), 1);
  rc_time at = rc_chain_expiry(c.ch);
  assert_int_equal(at, g_now_ms + 1000);
  g_now_ms = at;
  rc_chain_handle_expiry(c.ch, g_now_ms);
  cpump(&c, &s); /* HVR, ClientHello with cookie, ... */
  assert_int_equal(c.opened, 1);
  assert_int_equal(s.opened, 1);
  /* CoAP messages (CSMs, a request and its answer) in DTLS records. */
  rc_enc e;
  static const uint8_t tok[2] = {1, 2};
  assert_int_equal(rc_session_msg_begin(c.s, &e, RC_GET, tok, 2, 128), RC_OK);
  assert_int_equal(rc_enc_payload(&e, "ping", 4), RC_OK);
  assert_int_equal(rc_session_msg_end(c.s, &e), RC_OK);
  cpump(&c, &s);
  assert_string_equal(s.payload, "ping");
  assert_string_equal(c.payload, "pong");
  assert_int_equal(c.ends + s.ends, 0);
  /* The orderly end: close_notify reaches the server's chain. */
  rc_session_close(c.s, RC_OK);
  rc_chain_close(c.ch);
  cpump(&c, &s);
  assert_int_equal(s.ends, 1);
  assert_int_equal(s.end_err, RC_OK);
  for (cpeer *p = &c; p; p = p == &c ? &s : NULL) {
    rc_chain_end(p->ch);
    rc_chain_free(p->ch);
  }
  rc_tls_ctx_free(sctx);
  rc_tls_ctx_free(cctx);
  assert_int_equal(ERR_peek_error(), 0);
}

/* ---- setup -------------------------------------------------------------- */

static int setup_pki(void **state) {
  (void)state;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  g_now_ms = (uint64_t)ts.tv_sec * 1000;
  return test_pki_make(g_dir, sizeof g_dir, "rcoap-dtls-test");
}

static int teardown_pki(void **state) {
  (void)state;
  return test_pki_remove(g_dir, "rcoap-dtls-test");
}

int main(void) {
  g_ossl_counted = test_ossl_count_install();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_buffers_released_between_datagrams),
      cmocka_unit_test(test_certificate_handshake_data_close),
      cmocka_unit_test(test_host_name_mismatch),
      cmocka_unit_test(test_ip_literal_checked),
      cmocka_unit_test(test_psk_identity_and_hint),
      cmocka_unit_test(test_wrong_psk_client_gives_up),
      cmocka_unit_test(test_keylog),
      cmocka_unit_test(test_mutual_tls),
      cmocka_unit_test(test_fingerprint_mode),
      cmocka_unit_test(test_webrtc_style_fingerprints),
      cmocka_unit_test(test_webrtc_peers_hand_over),
      cmocka_unit_test(test_lost_flight_retransmitted),
      cmocka_unit_test(test_handshake_timeout),
      cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_resumption_and_small_mtu),
      cmocka_unit_test(test_config_errors),
      cmocka_unit_test(test_cookie_rotation),
      cmocka_unit_test(test_in_a_chain),
  };
  return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
