/*
 * coaps+tcp through the app layer over real loopback sockets: a server
 * rc_context and a client rc_context on one libuv loop, with a test PKI
 * generated at test time by tests/certs/gen.sh. Checks what only a whole
 * connection shows: a second connection to the same origin resumes the
 * TLS session (TLS 1.3 tickets and TLS 1.2), not when the server issues no
 * tickets, not for another host name; a server handler sees the verified
 * client identity (mutual TLS, also on a resumed session) or the PSK
 * identity; TLS failures reach the request callback with the reason and
 * leave the OpenSSL error queue empty. Every wait is bounded by a guard
 * timer that fails the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "rcoap/app.h"
#include "test_pki.h"
#include "test_run.h"

/* Generous: under valgrind on a loaded machine the first handshake alone
 * can take seconds; the guard only bounds a failing run. */
#define GUARD_MS 20000
#define MAX_OPENS 8

static char g_dir[256];
/* Path of a file of the generated PKI (a static buffer: use at once). */
#define P(name) test_pki_path(g_dir, (name))

/* What a connection showed when it opened. */
typedef struct opened {
  int server;
  int resumed;
  int alpn;
  char protocol[16];
  rc_tls_peer peer;
} opened;

typedef struct fixture {
  uv_loop_t loop;
  uv_timer_t guard;
  int guard_fired;
  rc_context *server, *client;
  rc_tls_ctx *server_tls, *client_tls;
  uint16_t port;
  opened opens[MAX_OPENS];
  int nopens;
  rc_conn *client_conn; /* the client's open connection, if any */
  char logs[8192];
} fixture;

typedef struct result {
  int calls;
  rc_err status;
  uint8_t code;
  char payload[512];
  char detail[256];
} result;

static void on_log(void *user, int level, const char *text) {
  fixture *f = user;
  (void)level;
  size_t n = strlen(f->logs);
  snprintf(f->logs + n, sizeof f->logs - n, "%s\n", text);
}

/* rc_context_opts.on_conn_open, for both contexts. */
static void on_conn_open(void *user, rc_conn *c) {
  fixture *f = user;
  rc_filter *tls = rc_conn_tls(c);
  assert_non_null(tls);
  if (!rc_conn_is_server(c))
    f->client_conn = c;
  if (f->nopens == MAX_OPENS)
    return;
  opened *o = &f->opens[f->nopens++];
  memset(o, 0, sizeof *o);
  o->server = rc_conn_is_server(c);
  o->resumed = rc_tls_resumed(tls);
  o->alpn = rc_tls_alpn_coap(tls);
  snprintf(o->protocol, sizeof o->protocol, "%s", rc_tls_protocol(tls));
  assert_int_equal(rc_tls_peer_info(tls, &o->peer), RC_OK);
}

static void on_result(void *arg, rc_err status, const rc_msg *resp,
                      const char *detail) {
  result *r = arg;
  r->calls++;
  r->status = status;
  snprintf(r->detail, sizeof r->detail, "%s", detail);
  if (resp) {
    r->code = resp->code;
    snprintf(r->payload, sizeof r->payload, "%.*s", (int)resp->payload_len,
             (const char *)resp->payload);
  }
}

/* GET /who: who the server thinks the client is, from the request's own
 * connection. */
static void h_who(rc_context *ctx, rc_resource *res, rc_xreq *req,
                  void *user) {
  (void)ctx;
  (void)res;
  (void)user;
  rc_conn *c = rc_xreq_conn(req);
  rc_filter *tls = c ? rc_conn_tls(c) : NULL;
  rc_tls_peer peer;
  char body[400];
  int n;
  if (!tls || rc_tls_peer_info(tls, &peer) != RC_OK)
    n = snprintf(body, sizeof body, "no TLS");
  else if (peer.has_cert)
    n = snprintf(body, sizeof body, "cert CN=%s %s%s", peer.subject_cn,
                 peer.verified ? "verified" : "NOT verified",
                 rc_tls_resumed(tls) ? " resumed" : "");
  else if (peer.psk_identity_len)
    n = snprintf(body, sizeof body, "psk %.*s", (int)peer.psk_identity_len,
                 (const char *)peer.psk_identity);
  else
    n = snprintf(body, sizeof body, "anonymous");
  rc_respond(req, RC_CONTENT, RC_CF_TEXT_PLAIN, body, (size_t)n);
}

static void guard_fire(uv_timer_t *t) {
  fixture *f = t->data;
  f->guard_fired = 1;
  uv_stop(&f->loop);
}

/* Runs the loop until *flag reaches want or the guard fires. */
static void run_until(fixture *f, int *flag, int want) {
  uv_timer_start(&f->guard, guard_fire, GUARD_MS, 0);
  while (*flag < want && !f->guard_fired)
    uv_run(&f->loop, UV_RUN_ONCE);
  uv_timer_stop(&f->guard);
  if (f->guard_fired)
    fail_msg("timed out waiting (logs:\n%s)", f->logs);
}

/* Runs the loop until neither context has a connection. */
static void run_until_closed(fixture *f) {
  uv_timer_start(&f->guard, guard_fire, GUARD_MS, 0);
  while ((rc_context_connections(f->client) ||
          rc_context_connections(f->server)) &&
         !f->guard_fired)
    uv_run(&f->loop, UV_RUN_ONCE);
  uv_timer_stop(&f->guard);
  if (f->guard_fired)
    fail_msg("connections did not close (logs:\n%s)", f->logs);
}

/* Settings that differ between tests. */
typedef struct setup_opts {
  rc_tls_client_auth client_auth;
  int no_tickets;
  int client_cert;        /* client presents client.crt */
  rc_tls_version client_max;
  int psk;                /* both ends: PSK only, no certificates */
  const char *client_ca;  /* NULL: ca.crt */
  const char *server_cert; /* NULL: "server" (.crt/.key) */
} setup_opts;

static fixture *start(const setup_opts *so) {
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  uv_loop_init(&f->loop);
  uv_timer_init(&f->loop, &f->guard);
  f->guard.data = f;
  char err[256] = "";

  rc_tls_config sc;
  rc_tls_config_init(&sc, RC_TLS_SERVER);
  static char cert[600], key[600], ca[600];
  if (so->psk) {
    sc.psk_identity = (const uint8_t *)"client1";
    sc.psk_identity_len = 7;
    sc.psk_key = (const uint8_t *)"s3cr3t";
    sc.psk_key_len = 6;
  } else {
    const char *name = so->server_cert ? so->server_cert : "server";
    char file[64];
    snprintf(file, sizeof file, "%s.crt", name);
    snprintf(cert, sizeof cert, "%s", P(file));
    snprintf(file, sizeof file, "%s.key", name);
    snprintf(key, sizeof key, "%s", P(file));
    sc.certs[0].cert_file = cert;
    sc.certs[0].key_file = key;
    sc.ncerts = 1;
  }
  snprintf(ca, sizeof ca, "%s", P("ca.crt"));
  if (so->client_auth) {
    sc.ca_file = ca;
    sc.client_auth = so->client_auth;
  }
  sc.no_tickets = so->no_tickets;
  if (rc_tls_ctx_new(&f->server_tls, &sc, err, sizeof err) != RC_OK)
    fail_msg("server TLS: %s", err);

  rc_tls_config cc;
  rc_tls_config_init(&cc, RC_TLS_CLIENT);
  static char ccert[600], ckey[600], cca[600];
  snprintf(cca, sizeof cca, "%s", P(so->client_ca ? so->client_ca : "ca.crt"));
  cc.ca_file = cca;
  if (so->client_cert) {
    snprintf(ccert, sizeof ccert, "%s", P("client.crt"));
    snprintf(ckey, sizeof ckey, "%s", P("client.key"));
    cc.certs[0].cert_file = ccert;
    cc.certs[0].key_file = ckey;
    cc.ncerts = 1;
  }
  if (so->psk) {
    cc.psk_identity = (const uint8_t *)"client1";
    cc.psk_identity_len = 7;
    cc.psk_key = (const uint8_t *)"s3cr3t";
    cc.psk_key_len = 6;
  }
  cc.max_version = so->client_max;
  if (rc_tls_ctx_new(&f->client_tls, &cc, err, sizeof err) != RC_OK)
    fail_msg("client TLS: %s", err);

  rc_context_opts o = {0};
  o.loop = &f->loop;
  o.on_log = on_log;
  o.log_user = f;
  o.log_level = RC_SESSION_LOG_DEBUG;
  o.on_conn_open = on_conn_open;
  o.conn_user = f;
  assert_int_equal(rc_context_new(&f->server, &o), RC_OK);
  o.client_tls = f->client_tls;
  assert_int_equal(rc_context_new(&f->client, &o), RC_OK);
  rc_resource *r;
  assert_int_equal(rc_resource_add(f->server, "/who", 0, f, &r), RC_OK);
  rc_resource_on(r, RC_GET, h_who);
  if (rc_context_listen(f->server, RC_CONN_TLS, "127.0.0.1:0", f->server_tls,
                        NULL, &f->port, err, sizeof err) != RC_OK)
    fail_msg("listen: %s", err);
  return f;
}

static void stop(fixture *f) {
  rc_context_free(f->client);
  rc_context_free(f->server);
  test_loop_end(&f->loop, &f->guard);
  rc_tls_ctx_free(f->client_tls);
  rc_tls_ctx_free(f->server_tls);
  free(f);
  /* Every failure path consumed its OpenSSL errors. */
  assert_int_equal(ERR_peek_error(), 0);
}

/* GET host:/who; returns the result after the callback ran. */
static result get_who(fixture *f, const char *host) {
  char uri[128];
  snprintf(uri, sizeof uri, "coaps+tcp://%s:%u/who", host, f->port);
  result r = {0};
  assert_int_equal(rc_request(f->client, RC_GET, uri, NULL, on_result, &r),
                   RC_OK);
  run_until(f, &r.calls, 1);
  return r;
}

/* Closes the client's connection in order (close_notify, then FIN) and
 * waits until both ends are gone. */
static void drop_connection(fixture *f) {
  assert_non_null(f->client_conn);
  assert_int_equal(rc_conn_close(f->client_conn, RC_CONN_CLOSE_FLUSH), RC_OK);
  f->client_conn = NULL;
  run_until_closed(f);
}

/* The last client-side and server-side opens. */
static const opened *last_open(const fixture *f, int server) {
  for (int i = f->nopens - 1; i >= 0; i--)
    if (f->opens[i].server == server)
      return &f->opens[i];
  fail_msg("no %s connection opened", server ? "server" : "client");
  return NULL;
}

static void expect_ok(const fixture *f, const result *r, const char *body) {
  if (r->status != RC_OK)
    fail_msg("request failed: %s (%s); logs:\n%s", rc_strerror(r->status),
             r->detail, f->logs);
  assert_int_equal(r->code, RC_CONTENT);
  assert_string_equal(r->payload, body);
}

/* ---- resumption ---------------------------------------------------------- */

static void resume_case(rc_tls_version client_max, const char *proto) {
  setup_opts so = {0};
  so.client_max = client_max;
  fixture *f = start(&so);
  result r = get_who(f, "localhost");
  expect_ok(f, &r, "anonymous");
  assert_int_equal(f->nopens, 2);
  assert_string_equal(last_open(f, 0)->protocol, proto);
  assert_int_equal(last_open(f, 0)->resumed, 0);
  assert_int_equal(last_open(f, 1)->resumed, 0);
  assert_int_equal(last_open(f, 0)->alpn, 1);
  assert_int_equal(last_open(f, 0)->peer.verified, 1);
  assert_string_equal(last_open(f, 0)->peer.subject_cn, "localhost");
  assert_int_equal(rc_tls_ctx_cached_sessions(f->client_tls), 1);

  drop_connection(f);
  r = get_who(f, "localhost");
  expect_ok(f, &r, "anonymous");
  assert_int_equal(f->nopens, 4);
  /* Both ends say the second handshake resumed the first session... */
  assert_int_equal(last_open(f, 0)->resumed, 1);
  assert_int_equal(last_open(f, 1)->resumed, 1);
  /* ... and the client still knows who the server is. */
  assert_int_equal(last_open(f, 0)->peer.verified, 1);
  assert_string_equal(last_open(f, 0)->peer.subject_cn, "localhost");
  assert_int_equal(last_open(f, 0)->alpn, 1);

  /* Another name for the same server is another cache entry: a full
   * handshake, and the certificate is checked for that name. */
  r = get_who(f, "127.0.0.1");
  expect_ok(f, &r, "anonymous");
  assert_int_equal(last_open(f, 0)->resumed, 0);
  stop(f);
}

static void test_resume_tls13(void **state) {
  (void)state;
  resume_case(RC_TLS_V_DEFAULT, "TLSv1.3");
}

static void test_resume_tls12(void **state) {
  (void)state;
  resume_case(RC_TLS_V1_2, "TLSv1.2");
}

static void no_tickets_case(rc_tls_version client_max) {
  setup_opts so = {0};
  so.no_tickets = 1;
  so.client_max = client_max;
  fixture *f = start(&so);
  result r = get_who(f, "localhost");
  expect_ok(f, &r, "anonymous");
  drop_connection(f);
  r = get_who(f, "localhost");
  expect_ok(f, &r, "anonymous");
  assert_int_equal(f->nopens, 4);
  assert_int_equal(last_open(f, 0)->resumed, 0);
  assert_int_equal(last_open(f, 1)->resumed, 0);
  stop(f);
}

static void test_no_tickets_tls13(void **state) {
  (void)state;
  no_tickets_case(RC_TLS_V_DEFAULT);
}

/* TLS 1.2 has stateful session IDs besides tickets: no_tickets must turn
 * those off too. */
static void test_no_tickets_tls12(void **state) {
  (void)state;
  no_tickets_case(RC_TLS_V1_2);
}

/* ---- peer identity -------------------------------------------------------- */

static void test_mtls_identity_in_handler(void **state) {
  (void)state;
  setup_opts so = {0};
  so.client_auth = RC_TLS_CLIENT_AUTH_REQUIRE;
  so.client_cert = 1;
  fixture *f = start(&so);
  result r = get_who(f, "localhost");
  expect_ok(f, &r, "cert CN=rcoap-client-1 verified");
  const opened *srv = last_open(f, 1);
  assert_int_equal(srv->peer.has_cert, 1);
  assert_int_equal(srv->peer.verified, 1);
  assert_string_equal(srv->peer.subject_cn, "rcoap-client-1");
  /* A resumed session carries the identity verified the first time. */
  drop_connection(f);
  r = get_who(f, "localhost");
  expect_ok(f, &r, "cert CN=rcoap-client-1 verified resumed");
  stop(f);
}

static void test_mtls_request_without_cert(void **state) {
  (void)state;
  setup_opts so = {0};
  so.client_auth = RC_TLS_CLIENT_AUTH_REQUEST;
  fixture *f = start(&so);
  result r = get_who(f, "localhost");
  expect_ok(f, &r, "anonymous");
  assert_int_equal(last_open(f, 1)->peer.has_cert, 0);
  stop(f);
}

static void test_mtls_required_refused(void **state) {
  (void)state;
  setup_opts so = {0};
  so.client_auth = RC_TLS_CLIENT_AUTH_REQUIRE;
  fixture *f = start(&so);
  result r = get_who(f, "localhost");
  assert_int_equal(r.status, RC_ERR_TLS_CERT);
  assert_non_null(strstr(r.detail, "requires a client certificate"));
  /* the server never opened a connection for it */
  for (int i = 0; i < f->nopens; i++)
    assert_int_equal(f->opens[i].server, 0);
  run_until_closed(f);
  assert_non_null(strstr(f->logs, "client did not send a certificate"));
  stop(f);
}

static void test_psk_identity_in_handler(void **state) {
  (void)state;
  setup_opts so = {0};
  so.psk = 1;
  fixture *f = start(&so);
  result r = get_who(f, "localhost");
  expect_ok(f, &r, "psk client1");
  assert_int_equal(last_open(f, 0)->peer.has_cert, 0);
  assert_int_equal(last_open(f, 0)->peer.psk_identity_len, 7);
  stop(f);
}

/* ---- failures ------------------------------------------------------------- */

static void test_unknown_ca_then_recovery(void **state) {
  (void)state;
  setup_opts so = {0};
  so.client_ca = "rogue-ca.crt";
  fixture *f = start(&so);
  result r = get_who(f, "localhost");
  assert_int_equal(r.status, RC_ERR_TLS_CERT);
  assert_non_null(strstr(r.detail, "unknown CA"));
  assert_int_equal(f->nopens, 0);
  run_until_closed(f);
  /* nothing cached from a failed handshake */
  assert_int_equal(rc_tls_ctx_cached_sessions(f->client_tls), 0);
  /* the same request again fails the same way (no stale state) */
  r = get_who(f, "localhost");
  assert_int_equal(r.status, RC_ERR_TLS_CERT);
  stop(f);
}

/* A certificate for another name: refused, and a session the client
 * cached earlier for this origin is no way around the name check. */
static void test_wrong_name(void **state) {
  (void)state;
  setup_opts so = {0};
  so.server_cert = "other";
  fixture *f = start(&so);
  result r = get_who(f, "localhost");
  assert_int_equal(r.status, RC_ERR_TLS_CERT);
  assert_non_null(
      strstr(r.detail, "host name mismatch: certificate is for DNS:other.test"));
  assert_int_equal(f->nopens, 0);
  assert_int_equal(rc_tls_ctx_cached_sessions(f->client_tls), 0);
  stop(f);
}

static int setup_pki(void **state) {
  (void)state;
  return test_pki_make(g_dir, sizeof g_dir, "rcoap-app-tls");
}

static int teardown_pki(void **state) {
  (void)state;
  return test_pki_remove(g_dir, "rcoap-app-tls");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_resume_tls13),
      cmocka_unit_test(test_resume_tls12),
      cmocka_unit_test(test_no_tickets_tls13),
      cmocka_unit_test(test_no_tickets_tls12),
      cmocka_unit_test(test_mtls_identity_in_handler),
      cmocka_unit_test(test_mtls_request_without_cert),
      cmocka_unit_test(test_mtls_required_refused),
      cmocka_unit_test(test_psk_identity_in_handler),
      cmocka_unit_test(test_unknown_ca_then_recovery),
      cmocka_unit_test(test_wrong_name),
  };
  return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
