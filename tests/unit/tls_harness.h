/*
 * Shared by the TLS filter unit tests (header only; each test stays one
 * file): a filter or a plain OpenSSL peer at each end of an in-memory
 * wire, pumped until both queues are empty, contexts from the test PKI
 * that tests/certs/gen.sh makes in a temp folder at set-up.
 */
#ifndef RCOAP_TLS_HARNESS_H
#define RCOAP_TLS_HARNESS_H

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
#include "test_pki.h"

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#endif

#define WIRE_MAX (1024 * 1024)
#define RX_MAX (1024 * 1024)
#define PUMP_MAX_TURNS 200000
#define TEST_PORT 15684

static char g_dir[256];
/* Path of a file of the generated PKI (a static buffer: use at once). */
#define P(name) test_pki_path(g_dir, (name))

/* ---- one end of the in-memory wire -------------------------------------- */

typedef struct end {
  rc_filter *f;
  SSL *raw; /* instead of f: a plain OpenSSL peer with memory BIOs */
  BIO *raw_in, *raw_out;
  uint8_t *wire; /* ciphertext this end produced, not yet delivered */
  size_t wire_off, wire_len;
  uint8_t *rx; /* plaintext it received */
  size_t rx_len;
  int up_calls, down_calls;
  int opened, closed, errors;
  int err;
  char detail[512];
  int destroy_on_up; /* destroy the filter from inside up() */
  int echo;          /* send back what comes up */
} end;

static rc_err on_up(void *ctx, const uint8_t *d, size_t n, int flags) {
  end *e = ctx;
  (void)flags;
  assert_true(e->rx_len + n <= RX_MAX);
  memcpy(e->rx + e->rx_len, d, n);
  e->rx_len += n;
  e->up_calls++;
  if (e->echo)
    assert_int_equal(rc_filter_send(e->f, d, n, 0), RC_OK);
  if (e->destroy_on_up) {
    rc_filter_free(e->f);
    e->f = NULL;
  }
  return RC_OK;
}

static rc_err on_down(void *ctx, const uint8_t *d, size_t n) {
  end *e = ctx;
  assert_true(e->wire_len + n <= WIRE_MAX);
  memcpy(e->wire + e->wire_len, d, n);
  e->wire_len += n;
  e->down_calls++;
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

static end *end_new(void) {
  end *e = calloc(1, sizeof(*e));
  assert_non_null(e);
  e->wire = malloc(WIRE_MAX);
  e->rx = malloc(RX_MAX);
  assert_non_null(e->wire);
  assert_non_null(e->rx);
  return e;
}

static void end_free(end *e) {
  if (!e)
    return;
  rc_filter_free(e->f);
  SSL_free(e->raw);
  free(e->wire);
  free(e->rx);
  free(e);
}

static rc_filter_sink sink_of(end *e) {
  rc_filter_sink s = {on_up, on_down, on_event, e};
  return s;
}

static end *filter_end(rc_tls_ctx *ctx, const char *host, uint16_t port) {
  end *e = end_new();
  rc_filter_sink s = sink_of(e);
  assert_int_equal(rc_tls_filter_new(&e->f, ctx, host, port, &s), RC_OK);
  return e;
}

/* A plain OpenSSL peer over memory BIOs. */
static end *raw_end(SSL_CTX *sc, int server) {
  end *e = end_new();
  e->raw = SSL_new(sc);
  e->raw_in = BIO_new(BIO_s_mem());
  e->raw_out = BIO_new(BIO_s_mem());
  SSL_set_bio(e->raw, e->raw_in, e->raw_out);
  if (server)
    SSL_set_accept_state(e->raw);
  else
    SSL_set_connect_state(e->raw);
  return e;
}

/* Moves a raw peer's output into its wire queue. */
static void raw_drain(end *e) {
  char buf[4096];
  int n;
  (void)SSL_do_handshake(e->raw);
  while ((n = BIO_read(e->raw_out, buf, sizeof(buf))) > 0)
    on_down(e, (const uint8_t *)buf, (size_t)n);
}

static rc_err deliver(end *to, const uint8_t *d, size_t n) {
  if (to->raw) {
    BIO_write(to->raw_in, d, (int)n);
    raw_drain(to);
    return RC_OK;
  }
  if (!to->f)
    return RC_OK;
  return rc_filter_recv(to->f, d, n);
}

/* Delivers queued bytes both ways, step bytes per recv() call, until both
 * queues are empty. Returns the first error a recv() returned. */
static rc_err pump(end *a, end *b, size_t step) {
  rc_err first = RC_OK;
  for (int turn = 0; turn < PUMP_MAX_TURNS; turn++) {
    end *from = a->wire_off < a->wire_len ? a
                : b->wire_off < b->wire_len ? b : NULL;
    if (!from)
      return first;
    end *to = from == a ? b : a;
    size_t n = from->wire_len - from->wire_off;
    if (step && n > step)
      n = step;
    const uint8_t *d = from->wire + from->wire_off;
    from->wire_off += n;
    if (from->wire_off == from->wire_len)
      from->wire_off = from->wire_len = 0;
    rc_err err = deliver(to, d, n);
    if (err && !first)
      first = err;
  }
  fail_msg("pump did not settle");
  return RC_ERR_STATE;
}

/* ---- contexts ----------------------------------------------------------- */

static rc_tls_config server_cfg(const char *name) {
  static char cert[512], key[512];
  rc_tls_config c;
  rc_tls_config_init(&c, RC_TLS_SERVER);
  snprintf(cert, sizeof(cert), "%s/%s.crt", g_dir, name);
  snprintf(key, sizeof(key), "%s/%s.key", g_dir, name);
  c.certs[0].cert_file = cert;
  c.certs[0].key_file = key;
  c.ncerts = 1;
  return c;
}

static rc_tls_config client_cfg(void) {
  static char ca[512];
  rc_tls_config c;
  rc_tls_config_init(&c, RC_TLS_CLIENT);
  snprintf(ca, sizeof(ca), "%s/ca.crt", g_dir);
  c.ca_file = ca;
  return c;
}

static rc_tls_ctx *ctx_of(const rc_tls_config *c) {
  rc_tls_ctx *ctx = NULL;
  char err[256];
  rc_err r = rc_tls_ctx_new(&ctx, c, err, sizeof(err));
  if (r)
    fail_msg("rc_tls_ctx_new: %s: %s", rc_err_name(r), err);
  return ctx;
}

typedef struct pair {
  rc_tls_ctx *sctx, *cctx;
  end *s, *c;
} pair;

/* Connects a client for host to a server; returns pump's result. */
static rc_err connect_pair(pair *p, const rc_tls_config *scfg,
                           const rc_tls_config *ccfg, const char *host,
                           uint16_t port, size_t step) {
  p->sctx = ctx_of(scfg);
  p->cctx = ctx_of(ccfg);
  p->s = filter_end(p->sctx, NULL, 0);
  p->c = filter_end(p->cctx, host, port);
  rc_err err = rc_tls_start(p->c->f);
  rc_err err2 = pump(p->c, p->s, step);
  return err ? err : err2;
}

static void pair_free(pair *p) {
  end_free(p->s);
  end_free(p->c);
  rc_tls_ctx_free(p->sctx);
  rc_tls_ctx_free(p->cctx);
  memset(p, 0, sizeof(*p));
  assert_int_equal(ERR_peek_error(), 0);
}

static void assert_contains(const char *hay, const char *needle) {
  if (!strstr(hay, needle))
    fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

static void assert_open(pair *p) {
  assert_int_equal(p->c->errors, 0);
  assert_int_equal(p->s->errors, 0);
  assert_int_equal(p->c->opened, 1);
  assert_int_equal(p->s->opened, 1);
  assert_true(rc_tls_handshake_done(p->c->f));
  assert_true(rc_tls_handshake_done(p->s->f));
}

/* ---- setup -------------------------------------------------------------- */

static int setup_pki(void **state) {
  (void)state;
  return test_pki_make(g_dir, sizeof g_dir, "rcoap-tls-test");
}

static int teardown_pki(void **state) {
  (void)state;
  return test_pki_remove(g_dir, "rcoap-tls-test");
}

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#endif
