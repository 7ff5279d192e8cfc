/*
 * The TLS filter: one OpenSSL SSL object per connection driven purely by
 * bytes. A small custom BIO connects the SSL to the filter: reads come
 * straight from the caller's recv() buffer (no copy, no per-connection
 * input buffer), writes are gathered into one output buffer that goes to
 * the sink's down() in a single call after each operation. Everything that
 * arrives in one recv() is decrypted in one loop and handed up in as few
 * up() calls as a 16 KiB stack buffer allows. The filter turns OpenSSL's
 * failures into one EV_ERROR with a sentence a person can act on, and
 * leaves the OpenSSL error queue empty.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "transport/tls_int.h"

/* Plaintext gathered per up() call; TLS records carry at most 2^14 bytes
 * of plaintext (RFC 8446 §5.1), so one record always fits. */
#define READ_BUF 16384
/* Largest chunk handed to SSL_write at once (it takes an int). */
#define WRITE_CHUNK (1 << 30)
/* TLS record content types seen first from a TLS peer (RFC 8446 §5.1):
 * handshake (22) from a client; handshake or alert (21) from a server. */
#define REC_HANDSHAKE 0x16
#define REC_ALERT 0x15
#define REC_MAJOR 0x03

static const rc_filter_ops tls_ops;

static rc__tls_filter *F(rc_filter *f) { return (rc__tls_filter *)f; }
static const rc__tls_filter *CF(const rc_filter *f) {
  return (const rc__tls_filter *)f;
}

rc__tls_filter *rc__tls_from_ssl(const SSL *ssl) {
  return SSL_get_app_data(ssl);
}

static int is_server(const rc__tls_filter *f) {
  return f->ctx->role == RC_TLS_SERVER;
}

/* After the hand-over (tls_handoff.c) the SSL is gone and f->rec
 * protects the records. */
static int hs_done(const rc__tls_filter *f) {
  return f->ssl ? SSL_is_init_finished(f->ssl)
                : f->rec != NULL || f->dtls_cipher != NULL;
}

/* ---- the BIO ------------------------------------------------------------ */

static int out_reserve(rc__tls_filter *f, size_t more) {
  if (f->out_cap - f->out_len >= more)
    return 0;
  size_t cap = f->out_cap ? f->out_cap * 2 : 1024;
  while (cap < f->out_len + more)
    cap *= 2;
  uint8_t *p = f->ctx->mem.realloc(f->out, cap, f->ctx->mem.user);
  if (!p)
    return -1;
  f->out = p;
  f->out_cap = cap;
  return 0;
}

static int bio_write(BIO *b, const char *data, int len) {
  rc__tls_filter *f = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (len <= 0)
    return 0;
  if (out_reserve(f, (size_t)len) != 0)
    return -1;
  memcpy(f->out + f->out_len, data, (size_t)len);
  f->out_len += (size_t)len;
  return len;
}

static int bio_read(BIO *b, char *buf, int len) {
  rc__tls_filter *f = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (len <= 0)
    return 0;
  if (f->in_len == 0) {
    BIO_set_retry_read(b);
    return -1;
  }
  size_t n = (size_t)len < f->in_len ? (size_t)len : f->in_len;
  memcpy(buf, f->in, n);
  f->in += n;
  f->in_len -= n;
  return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)num;
  (void)ptr;
  rc__tls_filter *f = BIO_get_data(b);
  switch (cmd) {
  case BIO_CTRL_FLUSH:
    return 1;
  case BIO_CTRL_PENDING:
    return f ? (long)f->in_len : 0;
  default:
    return 0;
  }
}

static int bio_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

BIO_METHOD *rc__bio_method_new(const char *name,
                               int (*write)(BIO *, const char *, int),
                               int (*read)(BIO *, char *, int),
                               long (*ctrl)(BIO *, int, long, void *)) {
  BIO_METHOD *m =
      BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, name);
  if (!m)
    return NULL;
  if (!BIO_meth_set_write(m, write) || !BIO_meth_set_read(m, read) ||
      !BIO_meth_set_ctrl(m, ctrl) || !BIO_meth_set_create(m, bio_create)) {
    BIO_meth_free(m);
    return NULL;
  }
  return m;
}

BIO_METHOD *rc__tls_bio_method_new(void) {
  return rc__bio_method_new("rcoap-tls-filter", bio_write, bio_read,
                            bio_ctrl);
}

/* ---- sink calls, re-entrancy -------------------------------------------- */

void rc__tls_filter_release(rc__tls_filter *f) {
  rc_tls_ctx *ctx = f->ctx;
  /* OpenSSL invalidates the session of a connection freed without a
   * close_notify sent. Keep it resumable unless the connection failed
   * (a fatal alert or a truncated stream): dropping TCP is not a fault. */
  if (f->ssl && f->state != RC__TLS_DEAD)
    SSL_set_shutdown(f->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  SSL_free(f->ssl); /* frees the BIO */
  f->ssl = NULL;
  rc__tls_handoff_free(f);
  ctx->mem.free(f->out, ctx->mem.user);
  if (f->pend)
    OPENSSL_cleanse(f->pend, f->pend_cap);
  ctx->mem.free(f->pend, ctx->mem.user);
  ctx->mem.free(f->host, ctx->mem.user);
  ctx->mem.free(f->detail, ctx->mem.user);
  f->detail = NULL;
  ctx->mem.free(f->peer_cn, ctx->mem.user);
  f->peer_cn = NULL;
  ctx->mem.free(f->psk, ctx->mem.user);
  f->psk = NULL;
  ERR_clear_error();
  rc_tls_ctx_free(ctx);
}

void rc__tls_say(rc__tls_filter *f, const char *fmt, ...) {
  if (!f->detail)
    f->detail = f->ctx->mem.malloc(RC__TLS_DETAIL_MAX, f->ctx->mem.user);
  if (!f->detail)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(f->detail, RC__TLS_DETAIL_MAX, fmt, ap);
  va_end(ap);
}

rc__tls_psk *rc__tls_psk_of(rc__tls_filter *f) {
  if (!f->psk) {
    f->psk = f->ctx->mem.malloc(sizeof(*f->psk), f->ctx->mem.user);
    if (f->psk)
      memset(f->psk, 0, sizeof(*f->psk));
  }
  return f->psk;
}

const char *rc__tls_detail(const rc__tls_filter *f) {
  return f->detail ? f->detail : "";
}

static void really_destroy(rc__tls_filter *f) {
  const rc_mem mem = f->ctx->mem;
  rc__tls_filter_release(f);
  mem.free(f, mem.user);
}

static void enter(rc__tls_filter *f) { f->cb_depth++; }

/* Ends a public call; a destroy() requested by a callback happens now. */
static rc_err leave(rc__tls_filter *f, rc_err err) {
  if (--f->cb_depth == 0 && f->destroy_pending)
    really_destroy(f);
  return err;
}

/* Hands all gathered ciphertext to down() in one call. The buffer is
 * detached during the call so that a send() from inside down() cannot move
 * it. Afterwards it is kept only while the handshake runs (its flights come
 * in several calls) and is small: once established, an idle connection
 * holds no ciphertext buffer (the next write takes a fresh one, a size the
 * allocator serves from its per-thread cache). */
static rc_err flush(rc__tls_filter *f) {
  if (f->out_len == 0 || f->destroy_pending)
    return RC_OK;
  uint8_t *buf = f->out;
  size_t len = f->out_len, cap = f->out_cap;
  f->out = NULL;
  f->out_len = f->out_cap = 0;
  rc_err err = f->base.sink.down(f->base.sink.ctx, buf, len);
  if (f->out == NULL && cap <= RC__TLS_OUT_KEEP && !hs_done(f)) {
    f->out = buf;
    f->out_cap = cap;
  } else {
    f->ctx->mem.free(buf, f->ctx->mem.user);
  }
  return err;
}

static void emit(rc__tls_filter *f, rc_filter_event ev, int arg,
                 const char *detail) {
  if (!f->destroy_pending)
    f->base.sink.event(f->base.sink.ctx, ev, arg, detail);
}

/* Reports a fatal error once: sends any alert OpenSSL queued, empties the
 * error queue, and emits EV_ERROR. Returns err. */
static rc_err fail(rc__tls_filter *f, rc_err err) {
  ERR_clear_error();
  if (f->state == RC__TLS_DEAD)
    return err;
  f->state = RC__TLS_DEAD;
  f->err = err;
  if (!rc__tls_detail(f)[0])
    rc__tls_say(f, "%s", rc_strerror(err));
  (void)flush(f); /* the alert, if any; the socket may be gone already */
  f->out_len = 0;
  emit(f, RC_FILTER_EV_ERROR, err, rc__tls_detail(f));
  return err;
}

/* ---- error classification ----------------------------------------------- */

static void openssl_reason(unsigned long e, char *buf, size_t cap) {
  const char *r = e ? ERR_reason_error_string(e) : NULL;
  if (r)
    snprintf(buf, cap, "%s", r);
  else if (e)
    ERR_error_string_n(e, buf, cap);
  else
    snprintf(buf, cap, "unexpected end of data");
}

/* What we say about an OpenSSL reason: one row per reason we know. A row
 * applies when all of its conditions hold; otherwise the reason is only
 * named (OpenSSL's text) and the error is RC_ERR_TLS. */
enum {
  WHEN_PSK = 1,       /* a pre-shared key is configured */
  WHEN_HANDSHAKE = 2, /* the handshake is not done yet */
  WHEN_CLIENT = 4     /* we are the client */
};

typedef struct tls_reason {
  int reason;
  unsigned when;
  rc_err code;
  const char *what;
  const char *what_psk; /* instead of what with a PSK configured */
} tls_reason;

static const tls_reason tls_reasons[] = {
    {SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL, 0, RC_ERR_TLS_ALPN,
     "server did not negotiate ALPN coap (no_application_protocol alert)",
     NULL},
    {SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED, 0, RC_ERR_TLS_CERT,
     "the server requires a client certificate (mutual TLS)", NULL},
    {SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE, 0, RC_ERR_TLS_CERT,
     "client did not send a certificate (mutual TLS is required)", NULL},
    {SSL_R_TLSV1_ALERT_UNKNOWN_CA, 0, RC_ERR_TLS_CERT,
     "the peer rejected our certificate: unknown CA", NULL},
    {SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED, 0, RC_ERR_TLS_CERT,
     "the peer rejected our certificate: expired", NULL},
    {SSL_R_SSLV3_ALERT_BAD_CERTIFICATE, 0, RC_ERR_TLS_CERT,
     "the peer rejected our certificate", NULL},
    {SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN, 0, RC_ERR_TLS_CERT,
     "the peer rejected our certificate", NULL},
    {SSL_R_BINDER_DOES_NOT_VERIFY, 0, RC_ERR_TLS,
     "pre-shared key mismatch: the client's PSK binder does not verify",
     NULL},
    {SSL_R_TLSV1_ALERT_DECRYPT_ERROR, WHEN_PSK, RC_ERR_TLS,
     "pre-shared key mismatch: the peer could not verify our PSK "
     "(decrypt_error alert)",
     NULL},
    /* OpenSSL servers answer a TLS 1.3 PSK binder that does not verify
     * with illegal_parameter. */
    {SSL_R_SSLV3_ALERT_ILLEGAL_PARAMETER,
     WHEN_PSK | WHEN_HANDSHAKE | WHEN_CLIENT, RC_ERR_TLS,
     "handshake failed: illegal_parameter alert (the server rejected our "
     "pre-shared key?)",
     NULL},
    {SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC, WHEN_PSK | WHEN_HANDSHAKE,
     RC_ERR_TLS, "handshake failed: bad record MAC (wrong pre-shared key?)",
     NULL},
    {SSL_R_SSLV3_ALERT_BAD_RECORD_MAC, WHEN_PSK | WHEN_HANDSHAKE, RC_ERR_TLS,
     "handshake failed: bad record MAC (wrong pre-shared key?)", NULL},
    {SSL_R_WRONG_VERSION_NUMBER, WHEN_HANDSHAKE, RC_ERR_TLS_NOT_TLS,
     "peer is not speaking TLS (bad record version)", NULL},
    /* OpenSSL servers (libcoap's too) answer a missing client certificate
     * with handshake_failure in (D)TLS 1.2. */
    {SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE, WHEN_HANDSHAKE | WHEN_CLIENT,
     RC_ERR_TLS,
     "handshake failed: the server sent handshake_failure (it may require a "
     "client certificate, or share no cipher suite with us)",
     "handshake failed: the server sent handshake_failure (unknown PSK "
     "identity, or no shared cipher suite?)"},
    {SSL_R_NO_SHARED_CIPHER, 0, RC_ERR_TLS,
     "handshake failed: no shared cipher suite",
     "handshake failed: no shared cipher suite (no matching pre-shared key "
     "identity, and no certificate?)"},
};

static const tls_reason *tls_reason_of(int reason) {
  for (size_t i = 0; i < sizeof tls_reasons / sizeof tls_reasons[0]; i++)
    if (tls_reasons[i].reason == reason)
      return &tls_reasons[i];
  return NULL;
}

/* Maps the failure at hand to an error and a detail sentence. */
rc_err rc__tls_classify(rc__tls_filter *f) {
  const char *phase = hs_done(f) ? "TLS error" : "handshake failed";
  char r[200];
  if (f->verify_err)
    return RC_ERR_TLS_CERT; /* verify_cb wrote the detail */
  if (f->alpn_refused) {
    rc__tls_say(f, "client did not offer ALPN %s%s",
             f->http ? "http/1.1 or coap" : "coap",
             f->alpn_refused == 1 ? " (no ALPN extension)" : "");
    return RC_ERR_TLS_ALPN;
  }
  /* The queue may hold several entries; the first one we know wins, else
   * the last (the most specific in OpenSSL's order). */
  unsigned long e, last = 0;
  int reason = 0;
  while ((e = ERR_get_error()) != 0) {
    last = e;
    if (!reason && ERR_GET_LIB(e) == ERR_LIB_SSL &&
        tls_reason_of(ERR_GET_REASON(e)) != NULL)
      reason = ERR_GET_REASON(e);
  }
  int psk = f->ctx->has_psk || f->ctx->psk_lookup;
  unsigned now = (psk ? WHEN_PSK : 0) | (!hs_done(f) ? WHEN_HANDSHAKE : 0) |
                 (!is_server(f) ? WHEN_CLIENT : 0);
  const tls_reason *row = tls_reason_of(reason);
  rc_err code = RC_ERR_TLS;
  const char *what = NULL;
  if (row != NULL && (row->when & now) == row->when) {
    code = row->code;
    what = psk && row->what_psk != NULL ? row->what_psk : row->what;
  }
  if (what) {
    rc__tls_say(f, "%s", what);
  } else {
    if (!reason && f->psk_unknown && !hs_done(f)) {
      rc__tls_say(f, "handshake failed: unknown PSK identity");
      return code;
    }
    openssl_reason(reason ? ERR_PACK(ERR_LIB_SSL, 0, reason) : last, r,
                   sizeof(r));
    rc__tls_say(f, "%s: %s", phase, r);
  }
  return code;
}

/* RFC 5246 §6.2.1 / RFC 8446 §5.1: every TLS record starts with a content
 * type and legacy_record_version 0x03 0xXX. A peer whose first bytes are
 * something else is not speaking TLS (plain coap+tcp, HTTP, ...): say so
 * at the first byte instead of waiting for a record to complete. */
static rc_err check_first(rc__tls_filter *f, const uint8_t *d, size_t n) {
  for (size_t i = 0; f->rx_total + i < 2 && i < n; i++) {
    size_t at = f->rx_total + i;
    uint8_t b = d[i];
    f->first[at] = b;
    int ok = at == 1 ? b == REC_MAJOR
                     : b == REC_HANDSHAKE || (!is_server(f) && b == REC_ALERT);
    if (!ok) {
      char got[16];
      if (at == 1)
        snprintf(got, sizeof(got), "0x%02x 0x%02x", f->first[0], b);
      else
        snprintf(got, sizeof(got), "0x%02x", b);
      /* A coap+tcp CSM starts 0x50 0xE1 ('P' then the 7.01 code): call
       * it HTTP only when the next byte, if we have it, is a letter too. */
      uint8_t next = at == 1 ? b : (i + 1 < n ? d[i + 1] : 'A');
      int http = f->first[0] >= 'A' && f->first[0] <= 'Z' &&
                 ((next >= 'A' && next <= 'Z') || next == ' ');
      rc__tls_say(f, "peer is not speaking TLS (it sent %s: plain %s?)", got,
               http ? "HTTP" : "CoAP");
      return RC_ERR_TLS_NOT_TLS;
    }
  }
  return RC_OK;
}

/* ---- the state machine -------------------------------------------------- */

/* Seals content of type into records at the end of f->out (after the
 * hand-over). */
static rc_err seal(rc__tls_filter *f, uint8_t type, const uint8_t *data,
                   size_t len) {
  do {
    size_t n = len > RC__TLS_REC_PLAIN_MAX ? RC__TLS_REC_PLAIN_MAX : len;
    if (out_reserve(f, n + RC__TLS_REC_OVERHEAD) != 0)
      return RC_ERR_NOMEM;
    size_t w = rc__tls_rec_seal(f->rec, type, data, n, f->out + f->out_len);
    if (w == 0)
      return RC_ERR_TLS;
    f->out_len += w;
    data += n;
    len -= n;
  } while (len);
  return RC_OK;
}

/* Our close_notify (RFC 8446 §6.1) after the hand-over. */
static void seal_close_notify(rc__tls_filter *f) {
  static const uint8_t close_notify[2] = {1, RC__TLS_AL_CLOSE_NOTIFY};
  (void)seal(f, RC__TLS_CT_ALERT, close_notify, sizeof(close_notify));
}

static rc_err write_plain(rc__tls_filter *f, const uint8_t *data, size_t len) {
  if (!f->ssl) {
    rc_err err = seal(f, RC__TLS_CT_APPDATA, data, len);
    if (err)
      rc__tls_say(f, "TLS error: %s",
               rc_strerror(err));
    return err ? fail(f, err) : RC_OK;
  }
  while (len) {
    int chunk = len > WRITE_CHUNK ? WRITE_CHUNK : (int)len;
    int n = SSL_write(f->ssl, data, chunk);
    if (n <= 0)
      return fail(f, rc__tls_classify(f));
    data += n;
    len -= (size_t)n;
  }
  return RC_OK;
}

static rc_err handshake_done(rc__tls_filter *f) {
  const unsigned char *p;
  unsigned int n;
  SSL_get0_alpn_selected(f->ssl, &p, &n);
  int coap = n == 4 && memcmp(p, RC_TLS_ALPN_ID, 4) == 0;
  /* RFC 8323 §8.2: "If the TLS server either does not negotiate the ALPN
   * extension or returns a no_application_protocol alert, the TLS client
   * MUST close the connection" (ports other than 5684; on 5684 "coaps+tcp
   * is implicitly selected"). That is coaps+tcp's rule: under coaps+ws
   * (f->http) we offered only "http/1.1", and a server selecting none is
   * an HTTPS server like any other. */
  if (!is_server(f) && !f->http && !coap &&
      f->port != RC_TLS_COAPS_DEFAULT_PORT && !f->ctx->allow_no_alpn) {
    rc__tls_say(f, "server did not negotiate ALPN coap");
    return fail(f, RC_ERR_TLS_ALPN);
  }
  f->state = RC__TLS_OPEN;
  if (is_server(f) && f->rec)
    (void)rc__tls_handoff(f); /* else this connection keeps its SSL */
  rc_err err = RC_OK;
  if (f->pend_len) {
    err = write_plain(f, f->pend, f->pend_len);
    OPENSSL_cleanse(f->pend, f->pend_len);
    f->ctx->mem.free(f->pend, f->ctx->mem.user);
    f->pend = NULL;
    f->pend_len = f->pend_cap = 0;
    if (err)
      return err;
  }
  err = flush(f);
  if (err)
    return err;
  emit(f, RC_FILTER_EV_OPEN, 0, NULL);
  return RC_OK;
}

static rc_err do_handshake(rc__tls_filter *f) {
  int r = SSL_do_handshake(f->ssl);
  if (r == 1)
    return handshake_done(f);
  if (SSL_get_error(f->ssl, r) == SSL_ERROR_WANT_READ) {
    ERR_clear_error();
    return flush(f);
  }
  return fail(f, rc__tls_classify(f));
}

static rc_err peer_closed(rc__tls_filter *f) {
  ERR_clear_error();
  /* RFC 8446 §6.1: "Each party MUST send a "close_notify" alert before
   * closing its write side"; answer the peer's with ours. */
  if (f->state != RC__TLS_CLOSING) {
    if (f->ssl)
      (void)SSL_shutdown(f->ssl);
    else
      seal_close_notify(f);
  }
  ERR_clear_error();
  f->state = RC__TLS_CLOSED;
  rc_err err = flush(f);
  emit(f, RC_FILTER_EV_CLOSED, 0, "peer sent close_notify");
  return err;
}

static rc_err deliver(rc__tls_filter *f, const uint8_t *buf, size_t len) {
  return f->base.sink.up(f->base.sink.ctx, buf, len, 0);
}

/* ---- after the hand-over: tls_record.c does the records --------------- */

typedef struct rec_call {
  rc__tls_filter *f;
  rc_err err;
} rec_call;

static int rec_data(void *user, const uint8_t *d, size_t n) {
  rec_call *c = user;
  if (n)
    c->err = deliver(c->f, d, n);
  return c->err || c->f->destroy_pending || c->f->state == RC__TLS_DEAD;
}

static int rec_out(void *user, const uint8_t *d, size_t n) {
  rc__tls_filter *f = ((rec_call *)user)->f;
  if (f->state == RC__TLS_CLOSING)
    return 0; /* our close_notify went out: nothing follows it */
  if (out_reserve(f, n) != 0)
    return 1;
  memcpy(f->out + f->out_len, d, n);
  f->out_len += n;
  return 0;
}

static rc_err read_records(rc__tls_filter *f) {
  rec_call c = {f, RC_OK};
  rc__tls_rec_io io = {rec_data, rec_out, &c};
  rc__tls_rec_ev ev =
      rc__tls_rec_read(f->rec, &f->ctx->mem, f->in, f->in_len, &io);
  const char *alert = SSL_alert_desc_string_long(f->rec->alert);
  switch (ev) {
  case RC__TLS_REC_MORE:
    return flush(f); /* our KeyUpdate, if the peer asked for one */
  case RC__TLS_REC_STOPPED:
    return c.err;
  case RC__TLS_REC_CLOSE_NOTIFY:
    /* RFC 8446 §6.1: "Any data received after a closure alert has been
     * received MUST be ignored." (tls_recv reads nothing once CLOSED.) */
    return peer_closed(f);
  case RC__TLS_REC_PEER_ALERT:
    rc__tls_say(f, "TLS error: the peer sent alert %s",
             alert);
    return fail(f, RC_ERR_TLS);
  case RC__TLS_REC_FAILED:
    rc__tls_say(f, "TLS error: bad record from the peer (we sent alert %s)", alert);
    return fail(f, RC_ERR_TLS);
  default:
    return fail(f, RC_ERR_NOMEM);
  }
}

/* Decrypts everything OpenSSL can get from the current input. The loop
 * ends when the BIO runs dry (each turn consumes input) or on close/error. */
static rc_err read_all(rc__tls_filter *f) {
  if (!f->ssl)
    return read_records(f);
  uint8_t buf[READ_BUF];
  size_t used = 0;
  rc_err err = RC_OK;
  for (;;) {
    int n = SSL_read(f->ssl, buf + used, (int)(sizeof(buf) - used));
    if (n > 0) {
      used += (size_t)n;
      if (used == sizeof(buf)) {
        err = deliver(f, buf, used);
        used = 0;
        if (err || f->destroy_pending || f->state == RC__TLS_DEAD)
          return err;
      }
      /* Everything that arrived is decrypted: skip the SSL_read that
       * would only say WANT_READ (a few per cent of the TLS cost). */
      if (BIO_ctrl_pending(SSL_get_rbio(f->ssl)) == 0 &&
          !SSL_has_pending(f->ssl))
        break;
      continue;
    }
    int e = SSL_get_error(f->ssl, n);
    if (e == SSL_ERROR_WANT_READ) {
      ERR_clear_error();
      break;
    }
    /* Authenticated data that arrived before the close or the error is
     * still good: hand it up first. */
    if (used) {
      err = deliver(f, buf, used);
      used = 0;
      if (err || f->destroy_pending || f->state == RC__TLS_DEAD)
        return err;
    }
    if (e == SSL_ERROR_ZERO_RETURN)
      return peer_closed(f);
    return fail(f, rc__tls_classify(f));
  }
  if (used) {
    err = deliver(f, buf, used);
    if (err || f->destroy_pending || f->state == RC__TLS_DEAD)
      return err;
  }
  return flush(f); /* key updates, tickets acknowledged, ... */
}

static rc_err tls_recv(rc_filter *base, const uint8_t *data, size_t len) {
  rc__tls_filter *f = F(base);
  if (f->state == RC__TLS_DEAD)
    return f->err;
  if (len == 0)
    return rc_tls_eof(base);
  if (f->state == RC__TLS_CLOSED ||
      (f->state == RC__TLS_CLOSING && !hs_done(f)))
    return RC_OK; /* nothing more is read after a close */
  enter(f);
  rc_err err = check_first(f, data, len);
  if (err) {
    fail(f, err);
    return leave(f, err);
  }
  f->rx_total += len;
  f->in = data;
  f->in_len = len;
  f->started = 1;
  if (!hs_done(f))
    err = do_handshake(f);
  if (!err && hs_done(f) && f->state != RC__TLS_DEAD && !f->destroy_pending)
    err = read_all(f);
  f->in = NULL;
  f->in_len = 0;
  return leave(f, err);
}

static rc_err tls_send(rc_filter *base, const uint8_t *data, size_t len,
                       int flags) {
  (void)flags; /* a byte stream: message ends mean nothing here */
  rc__tls_filter *f = F(base);
  if (f->state == RC__TLS_DEAD)
    return f->err;
  if (f->state != RC__TLS_OPEN && hs_done(f))
    return RC_ERR_STATE;
  if (f->state == RC__TLS_CLOSING)
    return RC_ERR_STATE;
  if (len == 0)
    return RC_OK;
  if (!hs_done(f)) {
    /* Queued until EV_OPEN, then sent before anything else. */
    if (len > RC_TLS_MAX_PENDING - f->pend_len)
      return RC_ERR_LIMIT;
    if (f->pend_len + len > f->pend_cap) {
      size_t cap = f->pend_len + len;
      uint8_t *p = f->ctx->mem.realloc(f->pend, cap, f->ctx->mem.user);
      if (!p)
        return RC_ERR_NOMEM;
      f->pend = p;
      f->pend_cap = cap;
    }
    memcpy(f->pend + f->pend_len, data, len);
    f->pend_len += len;
    return RC_OK;
  }
  enter(f);
  rc_err err = write_plain(f, data, len);
  if (!err)
    err = flush(f);
  return leave(f, err);
}

static rc_err tls_shutdown(rc_filter *base) {
  rc__tls_filter *f = F(base);
  if (f->state == RC__TLS_DEAD)
    return f->err;
  if (f->state == RC__TLS_CLOSING || f->state == RC__TLS_CLOSED)
    return RC_OK;
  f->state = RC__TLS_CLOSING;
  if (!hs_done(f))
    return RC_OK; /* nothing to protect yet: the caller closes TCP */
  enter(f);
  if (f->ssl)
    (void)SSL_shutdown(f->ssl); /* 0: sent, the peer's is still to come */
  else
    seal_close_notify(f);
  ERR_clear_error();
  return leave(f, flush(f));
}

static void tls_free(rc_filter *base) {
  rc__tls_filter *f = F(base);
  if (f->cb_depth) {
    f->destroy_pending = 1;
    return;
  }
  really_destroy(f);
}

static const rc_filter_ops tls_ops = {
    .name = "tls",
    .label = "TLS",
    .start = rc_tls_start,
    .recv = tls_recv,
    .send = tls_send,
    .eof = rc_tls_eof,
    .shutdown = tls_shutdown,
    .free = tls_free,
};

/* ---- public API --------------------------------------------------------- */

/* Copies host without IPv6 brackets into a new string. */
static char *host_dup(const rc_mem *mem, const char *host) {
  size_t len = strlen(host);
  if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
    host++;
    len -= 2;
  }
  char *h = mem->malloc(len + 1, mem->user);
  if (h) {
    memcpy(h, host, len);
    h[len] = '\0';
  }
  return h;
}

/* Non-zero for an IPv4 or IPv6 literal (an IPv6 zone "%eth0" is ignored
 * and cut off in place). */
static int is_ip_literal(char *host) {
  unsigned char buf[sizeof(struct in6_addr)];
  char *zone = strchr(host, '%');
  if (inet_pton(AF_INET, host, buf) == 1)
    return 1;
  if (zone)
    *zone = '\0';
  if (inet_pton(AF_INET6, host, buf) == 1)
    return 1;
  if (zone)
    *zone = '%';
  return 0;
}

static rc_err setup_client(rc__tls_filter *f, const char *host) {
  rc_tls_ctx *ctx = f->ctx;
  if (!host)
    return ctx->insecure || ctx->has_peer_fp ? RC_OK : RC_ERR_INVAL;
  f->host = host_dup(&ctx->mem, host);
  if (!f->host)
    return RC_ERR_NOMEM;
  char *h = f->host;
  if (!h[0])
    return RC_ERR_INVAL;
  if (is_ip_literal(h)) {
    /* RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted in
     * "HostName"": no SNI; the certificate needs an IP SAN. */
    if (!ctx->insecure && !ctx->has_peer_fp &&
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(f->ssl), h) != 1)
      return RC_ERR_INVAL;
  } else {
    if (SSL_set_tlsext_host_name(f->ssl, h) != 1)
      return RC_ERR_INVAL;
    if (!ctx->insecure && !ctx->has_peer_fp) {
      SSL_set_hostflags(f->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      if (SSL_set1_host(f->ssl, h) != 1)
        return RC_ERR_INVAL;
    }
  }
  SSL_SESSION *s = rc__tls_cache_get(ctx, f->host, f->port);
  if (s && SSL_set_session(f->ssl, s) != 1)
    return RC_ERR_TLS;
  return RC_OK;
}

rc_err rc__tls_filter_init(rc__tls_filter *f, rc_tls_ctx *ctx,
                           const rc_filter_ops *ops, const char *host,
                           uint16_t port, const rc_filter_sink *sink) {
  f->base.ops = ops;
  f->base.sink = *sink;
  f->ctx = ctx;
  f->port = port;
  rc__tls_ctx_ref(ctx);
  f->ssl = SSL_new(ctx->ssl_ctx);
  BIO *b = f->ssl ? BIO_new(ctx->bio_meth) : NULL;
  if (!b)
    return RC_ERR_NOMEM;
  BIO_set_data(b, f);
  SSL_set_bio(f->ssl, b, b);
  SSL_set_app_data(f->ssl, f);
  if (ctx->role == RC_TLS_SERVER) {
    SSL_set_accept_state(f->ssl);
    return RC_OK;
  }
  SSL_set_connect_state(f->ssl);
  return setup_client(f, host);
}

rc_err rc_tls_filter_new(rc_filter **out, rc_tls_ctx *ctx, const char *host,
                         uint16_t port, const rc_filter_sink *sink) {
  if (!ctx || !sink || !sink->up || !sink->down || !sink->event || !out)
    return RC_ERR_INVAL;
  *out = NULL;
  if (ctx->datagram)
    return RC_ERR_INVAL; /* a DTLS context: rc_dtls_filter_new() */
  rc__tls_filter *f = ctx->mem.malloc(sizeof(*f), ctx->mem.user);
  if (!f)
    return RC_ERR_NOMEM;
  memset(f, 0, sizeof(*f));
  rc_err err = rc__tls_filter_init(f, ctx, &tls_ops, host, port, sink);
  if (err) {
    really_destroy(f);
    return err;
  }
  ERR_clear_error();
  *out = &f->base;
  return RC_OK;
}

rc_err rc_tls_start(rc_filter *base) {
  rc__tls_filter *f = F(base);
  if (f->state == RC__TLS_DEAD)
    return f->err;
  if (f->started || is_server(f))
    return RC_OK;
  f->started = 1;
  enter(f);
  rc_err err = do_handshake(f);
  return leave(f, err);
}

rc_err rc_tls_eof(rc_filter *base) {
  rc__tls_filter *f = F(base);
  if (f->state == RC__TLS_DEAD)
    return f->err;
  if (f->state == RC__TLS_CLOSED)
    return RC_OK;
  enter(f);
  rc_err err = RC_OK;
  if (f->state == RC__TLS_CLOSING) {
    /* We said goodbye first; a peer that just closes TCP is common and
     * loses nothing of ours. */
    f->state = RC__TLS_CLOSED;
    emit(f, RC_FILTER_EV_CLOSED, 0, "connection closed after our close_notify");
  } else if (!hs_done(f)) {
    rc__tls_say(f, "handshake failed: the peer closed the connection%s",
             f->rx_total ? "" : " without answering");
    err = fail(f, RC_ERR_TLS);
  } else {
    /* RFC 8446 §6.1: a close without close_notify may be a truncation
     * attack; what was already handed up was authenticated. */
    rc__tls_say(f, "connection closed without close_notify");
    err = fail(f, RC_ERR_TLS);
  }
  return leave(f, err);
}

int rc_tls_handshake_done(const rc_filter *f) {
  return hs_done(CF(f)) && CF(f)->state != RC__TLS_DEAD;
}

int rc_tls_resumed(const rc_filter *f) {
  /* OpenSSL counts a TLS 1.3 handshake on an external PSK as "reused"
   * (the PSK travels as a session); ours noted its identity. */
  if (!CF(f)->ssl)
    return hs_done(CF(f)) && CF(f)->resumed;
  return hs_done(CF(f)) && SSL_session_reused(CF(f)->ssl) &&
         !(CF(f)->psk && CF(f)->psk->id_len);
}

const char *rc_tls_protocol(const rc_filter *f) {
  if (!CF(f)->ssl)
    return !hs_done(CF(f)) ? "" : CF(f)->dtls_cipher ? "DTLSv1.2" : "TLSv1.3";
  return hs_done(CF(f)) ? SSL_get_version(CF(f)->ssl) : "";
}

const char *rc_tls_cipher(const rc_filter *f) {
  static const char *const names[RC__TLS_SUITES] = {
      "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
      "TLS_CHACHA20_POLY1305_SHA256"};
  if (!CF(f)->ssl)
    return !hs_done(CF(f))     ? ""
           : CF(f)->dtls_cipher ? CF(f)->dtls_cipher
                                : names[CF(f)->rec->suite];
  const SSL_CIPHER *c = hs_done(CF(f)) ? SSL_get_current_cipher(CF(f)->ssl)
                                       : NULL;
  return c ? SSL_CIPHER_get_name(c) : "";
}

rc_err rc_tls_set_http(rc_filter *base) {
  rc__tls_filter *f = F(base);
  if (f->started || f->rx_total || f->state != RC__TLS_HANDSHAKE)
    return RC_ERR_STATE;
  static const unsigned char wire[] = "\x08" RC_TLS_ALPN_HTTP11;
  /* (SSL_set_alpn_protos returns 0 on success.) */
  if (!is_server(f) && SSL_set_alpn_protos(f->ssl, wire, sizeof(wire) - 1))
    return RC_ERR_TLS;
  f->http = 1;
  return RC_OK;
}

/* The negotiated ALPN: from the SSL, or noted at the hand-over. */
static const char *alpn_of(const rc__tls_filter *f) {
  const unsigned char *p;
  unsigned int n = 0;
  if (f->ssl)
    SSL_get0_alpn_selected(f->ssl, &p, &n);
  if (f->ssl ? n == 4 && memcmp(p, RC_TLS_ALPN_ID, 4) == 0
             : f->alpn == RC__TLS_ALPN_COAP)
    return RC_TLS_ALPN_ID;
  if (f->ssl ? n == 8 && memcmp(p, RC_TLS_ALPN_HTTP11, 8) == 0
             : f->alpn == RC__TLS_ALPN_HTTP11)
    return RC_TLS_ALPN_HTTP11;
  return "";
}

const char *rc_tls_alpn(const rc_filter *f) { return alpn_of(CF(f)); }

int rc_tls_alpn_coap(const rc_filter *f) {
  return strcmp(alpn_of(CF(f)), RC_TLS_ALPN_ID) == 0;
}

const char *rc_tls_sni(const rc_filter *f) {
  if (!CF(f)->ssl)
    return CF(f)->host; /* copied at the hand-over */
  return SSL_get_servername(CF(f)->ssl, TLSEXT_NAMETYPE_host_name);
}

const char *rc_tls_error_detail(const rc_filter *f) {
  return rc__tls_detail(CF(f));
}

rc_err rc_tls_peer_info(const rc_filter *base, rc_tls_peer *out) {
  const rc__tls_filter *f = CF(base);
  if (!hs_done(f))
    return RC_ERR_STATE;
  memset(out, 0, sizeof(*out));
  /* (A connection with a client certificate keeps its SSL.) */
  X509 *x = f->ssl ? SSL_get0_peer_certificate(f->ssl) : NULL;
  if (x) {
    int checked = is_server(f) ? f->ctx->client_auth != RC_TLS_CLIENT_AUTH_NONE ||
                                     f->ctx->has_peer_fp
                               : !f->ctx->insecure;
    unsigned int n = 0;
    out->has_cert = 1;
    out->verified = checked && SSL_get_verify_result(f->ssl) == X509_V_OK;
    rc__tls_cn(x, out->subject_cn, sizeof(out->subject_cn));
    rc__tls_sans(x, out->sans, sizeof(out->sans));
    if (X509_digest(x, EVP_sha256(), out->fingerprint, &n) != 1)
      memset(out->fingerprint, 0, sizeof(out->fingerprint));
  } else if (f->dtls_cipher) {
    /* A DTLS client whose records were handed over (dtls_record.h): the
     * certificate went with the SSL; its fingerprint was checked at the
     * handshake, its CN kept. */
    const uint8_t *fp = f->own_fp ? f->own_fp : f->ctx->peer_fp;
    out->has_cert = 1;
    out->verified = 1;
    memcpy(out->fingerprint, fp, sizeof(out->fingerprint));
    if (f->peer_cn)
      snprintf(out->subject_cn, sizeof(out->subject_cn), "%s", f->peer_cn);
  }
  if (f->psk) {
    memcpy(out->psk_identity, f->psk->id, f->psk->id_len);
    out->psk_identity_len = f->psk->id_len;
    memcpy(out->psk_hint, f->psk->hint, sizeof(out->psk_hint));
  }
  ERR_clear_error();
  return RC_OK;
}
