/*
 * The hand-over of a server connection's record layer from OpenSSL to the
 * TLS filter once a TLS 1.3 handshake is done (the user-space analogue of
 * kernel TLS): the application traffic secrets come from OpenSSL's key
 * log callback during the handshake; at its end the sequence numbers are
 * known exactly, the keys are derived (tls_record.c) and the SSL is freed.
 *
 * Sequence numbers. OpenSSL without read-ahead reads one record at a time
 * from the filter's BIO, so when SSL_do_handshake returns 1 on the server
 * (the client's Finished read) every byte still in the filter's input is
 * a record OpenSSL has not touched: the client's sequence is 0. What
 * OpenSSL wrote in that same call is protected under our application key
 * (its NewSessionTicket records, sent when the handshake completes): our
 * sequence is the number of records in the filter's output buffer.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "transport/tls_int.h"

/* The secret of "LABEL <client_random> <secret>" (hex) into out; its
 * length, or 0. */
static size_t line_secret(const char *line, uint8_t *out) {
  const char *p = strchr(line, ' ');
  p = p ? strchr(p + 1, ' ') : NULL;
  if (!p)
    return 0;
  p++;
  size_t n = 0;
  while (p[0] && p[1] && n < RC__TLS_SECRET_MAX) {
    int hi = rc_hex_digit((unsigned char)p[0]);
    int lo = rc_hex_digit((unsigned char)p[1]);
    if (hi < 0 || lo < 0)
      return 0;
    out[n++] = (uint8_t)(hi << 4 | lo);
    p += 2;
  }
  return p[0] ? 0 : n;
}

void rc__tls_handoff_capture(rc__tls_filter *f, const char *line) {
  static const char client[] = "CLIENT_TRAFFIC_SECRET_0 ";
  static const char server[] = "SERVER_TRAFFIC_SECRET_0 ";
  int which = strncmp(line, client, sizeof(client) - 1) == 0   ? 1
              : strncmp(line, server, sizeof(server) - 1) == 0 ? 2
                                                               : 0;
  if (!f || !which || f->ctx->role != RC_TLS_SERVER || f->ctx->datagram)
    return;
  if (!f->rec) {
    f->rec = f->ctx->mem.malloc(sizeof(*f->rec), f->ctx->mem.user);
    if (!f->rec)
      return; /* the connection keeps its SSL */
    memset(f->rec, 0, sizeof(*f->rec));
  }
  rc__tls_dir *d = which == 1 ? &f->rec->rd : &f->rec->wr;
  size_t n = line_secret(line, d->secret);
  d->seq = n; /* until the hand-over: the secret's length */
  f->secrets |= n ? (uint8_t)which : 0;
}

void rc__tls_handoff_free(rc__tls_filter *f) {
  if (!f->rec)
    return;
  rc__tls_rec_clear(f->rec, &f->ctx->mem);
  f->ctx->mem.free(f->rec, f->ctx->mem.user);
  f->rec = NULL;
  f->secrets = 0;
}

/* Records in buf[0..len) if it holds whole records only, else -1. */
static long count_records(const uint8_t *buf, size_t len) {
  long n = 0;
  size_t at = 0;
  while (at < len) {
    if (len - at < RC__TLS_REC_HDR)
      return -1;
    size_t rl = (size_t)buf[at + 3] << 8 | buf[at + 4];
    if (buf[at] != RC__TLS_CT_APPDATA || len - at - RC__TLS_REC_HDR < rl)
      return -1;
    at += RC__TLS_REC_HDR + rl;
    n++;
  }
  return n;
}

static uint8_t alpn_code(const SSL *ssl) {
  const unsigned char *p;
  unsigned int n;
  SSL_get0_alpn_selected(ssl, &p, &n);
  if (n == 4 && memcmp(p, RC_TLS_ALPN_ID, 4) == 0)
    return RC__TLS_ALPN_COAP;
  if (n == 8 && memcmp(p, RC_TLS_ALPN_HTTP11, 8) == 0)
    return RC__TLS_ALPN_HTTP11;
  return RC__TLS_ALPN_NONE;
}

static int can_hand_over(rc__tls_filter *f) {
  SSL *ssl = f->ssl;
  const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
  /* A client certificate stays readable through rc_tls_peer_info only
   * while the SSL lives; early data and input OpenSSL buffered would make
   * the sequence numbers guesses. */
  return f->ctx->handoff && f->rec && f->secrets == 3 &&
         SSL_version(ssl) == TLS1_3_VERSION && c != NULL &&
         SSL_get0_peer_certificate(ssl) == NULL && !SSL_has_pending(ssl) &&
         SSL_get_early_data_status(ssl) != SSL_EARLY_DATA_ACCEPTED;
}

int rc__tls_handoff(rc__tls_filter *f) {
  if (!can_hand_over(f)) {
    rc__tls_handoff_free(f);
    return -1;
  }
  SSL *ssl = f->ssl;
  int suite = rc__tls_suite_of(
      SSL_CIPHER_get_protocol_id(SSL_get_current_cipher(ssl)));
  long sent = count_records(f->out, f->out_len);
  rc__tls_rec *r = f->rec;
  size_t hl = suite >= 0 ? rc__tls_suite_hash_len((rc__tls_suite)suite) : 0;
  uint8_t rd[RC__TLS_SECRET_MAX], wr[RC__TLS_SECRET_MAX];
  memcpy(rd, r->rd.secret, sizeof(rd));
  memcpy(wr, r->wr.secret, sizeof(wr));
  int ok = suite >= 0 && sent >= 0 && r->rd.seq == hl && r->wr.seq == hl;
  memset(r, 0, sizeof(*r));
  if (ok)
    ok = rc__tls_rec_init(r, (rc__tls_suite)suite, rd, wr, hl,
                          (uint64_t)sent) == 0;
  OPENSSL_cleanse(rd, sizeof(rd));
  OPENSSL_cleanse(wr, sizeof(wr));
  const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (ok && sni && !f->host) {
    size_t n = strlen(sni) + 1;
    f->host = f->ctx->mem.malloc(n, f->ctx->mem.user);
    if (f->host)
      memcpy(f->host, sni, n);
    ok = f->host != NULL;
  }
  if (!ok) {
    rc__tls_handoff_free(f);
    return -1;
  }
  f->alpn = alpn_code(ssl);
  f->resumed = SSL_session_reused(ssl) && !(f->psk && f->psk->id_len);
  /* The session stays resumable (tls.c rc__tls_filter_release). */
  SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  SSL_free(ssl);
  f->ssl = NULL;
  ERR_clear_error();
  return 0;
}
