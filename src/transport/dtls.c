/*
 * The DTLS filter: one OpenSSL DTLS 1.2 SSL object per peer, driven purely
 * by datagrams and the caller's clock. A datagram BIO connects the SSL to
 * the filter: a read hands OpenSSL the one datagram of the current recv(),
 * each write becomes one queued datagram that goes to the sink's down()
 * after the OpenSSL call returns (never from inside OpenSSL). Each DTLS
 * record of application data goes up as one message (RC_FILTER_MSG_END).
 *
 * Certificates, PSK, verification, resumption and the failure sentences
 * are the TLS filter's (tls_ctx.c, tls.c): this filter's struct begins
 * with an rc__tls_filter, so the same OpenSSL callbacks serve both. What
 * is only here: the datagram BIO and the handshake timers on the
 * caller's clock. The stateless cookie is dtls_cookie.c's.
 */
#include <string.h>

#include <openssl/err.h>

#include "transport/dtls_record.h"
#include "transport/tls_int.h"

/* Plaintext of one DTLS record (RFC 6347 §4.1: at most 2^14 bytes). */
#define READ_BUF 16384
/* A PSK client whose Finished flight went this many times again with no
 * answer gives up: the server drops a Finished it cannot decrypt (RFC
 * 6347 §4.1.2.7), so a wrong key shows only as this silence. With
 * OpenSSL's timer (1 s, doubled) that is about 7 s after the Finished,
 * instead of the whole handshake deadline. */
#define FINISHED_RETRIES 2

typedef struct dtls_filter {
  rc__tls_filter t; /* first: the TLS callbacks see an rc__tls_filter */
  uint8_t peer[RC_DTLS_MAX_ADDR];
  size_t peer_len;
  size_t mtu;   /* the datagram size (the context's, or rc_dtls_set_mtu) */
  uint8_t fp[RC_TLS_FINGERPRINT_LEN]; /* rc_dtls_set_peer_fingerprint */
  size_t *lens; /* lengths of the datagrams queued in t.out */
  size_t nlens, lens_cap;
  rc_time now;         /* the caller's time, as last told */
  rc_time hs_deadline; /* the handshake must be done by then */
  rc_time rtx_at;      /* next flight retransmission, or RC_TIME_NEVER */
  unsigned fin_flights; /* PSK client: our Finished flight sent so often */
  int listened;        /* server: a ClientHello with a good cookie came */
  int released;        /* open: OpenSSL's record buffers were given back */
  /* A WebRTC client takes the record layer over once its handshake is
   * done and frees the SSL (dtls_record.h): until then rec tracks the
   * sequence numbers; handed: ssl is NULL and rec protects. */
  int may_hand, handed;
  int peer_data; /* an application record of the peer's was read */
  rc__dtls_rec rec;
} dtls_filter;

static const rc_filter_ops dtls_ops;

static dtls_filter *D(rc_filter *f) { return (dtls_filter *)f; }
static const dtls_filter *CD(const rc_filter *f) {
  return (const dtls_filter *)f;
}

static int is_server(const dtls_filter *d) {
  return d->t.ctx->role == RC_TLS_SERVER;
}

static int hs_done(const dtls_filter *d) {
  return d->handed || (d->t.ssl && SSL_is_init_finished(d->t.ssl));
}

/* ---- the datagram BIO ----------------------------------------------------- */

static int queue_dgram(dtls_filter *d, const char *data, size_t len) {
  rc__tls_filter *t = &d->t;
  const rc_mem *m = &t->ctx->mem;
  if (d->nlens == d->lens_cap) {
    size_t cap = d->lens_cap ? d->lens_cap * 2 : 8;
    size_t *p = m->realloc(d->lens, cap * sizeof(*p), m->user);
    if (!p)
      return -1;
    d->lens = p;
    d->lens_cap = cap;
  }
  if (t->out_cap - t->out_len < len) {
    size_t cap = t->out_cap ? t->out_cap * 2 : 2048;
    while (cap < t->out_len + len)
      cap *= 2;
    uint8_t *p = m->realloc(t->out, cap, m->user);
    if (!p)
      return -1;
    t->out = p;
    t->out_cap = cap;
  }
  memcpy(t->out + t->out_len, data, len);
  t->out_len += len;
  d->lens[d->nlens++] = len;
  return 0;
}

static int bio_write(BIO *b, const char *data, int len) {
  dtls_filter *d = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (len <= 0)
    return 0;
  if (d->may_hand)
    rc__dtls_rec_track_out(&d->rec, (const uint8_t *)data, (size_t)len);
  return queue_dgram(d, data, (size_t)len) == 0 ? len : -1;
}

/* One read is the whole datagram (a datagram is never split; what does not
 * fit is cut, and OpenSSL drops the broken record). */
static int bio_read(BIO *b, char *buf, int len) {
  dtls_filter *d = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (len <= 0)
    return 0;
  if (d->t.in_len == 0) {
    BIO_set_retry_read(b);
    return -1;
  }
  size_t n = (size_t)len < d->t.in_len ? (size_t)len : d->t.in_len;
  memcpy(buf, d->t.in, n);
  d->t.in = NULL;
  d->t.in_len = 0;
  return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)num;
  (void)ptr;
  dtls_filter *d = BIO_get_data(b);
  switch (cmd) {
  case BIO_CTRL_FLUSH:
    return 1;
  case BIO_CTRL_PENDING:
    return d ? (long)d->t.in_len : 0;
  case BIO_CTRL_DGRAM_QUERY_MTU:
  case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
    return d ? (long)d->mtu : RC_DTLS_DEFAULT_MTU;
  default: /* no peer address, no socket timeouts, MTU never exceeded */
    return 0;
  }
}

BIO_METHOD *rc__dtls_bio_method_new(void) {
  return rc__bio_method_new("rcoap-dtls-filter", bio_write, bio_read,
                            bio_ctrl);
}

/* The peer address a server filter was made for (keys its cookie). */
int rc__dtls_peer_of(const SSL *ssl, const uint8_t **peer, size_t *len) {
  const dtls_filter *d = (const dtls_filter *)rc__tls_from_ssl(ssl);
  if (!d)
    return 0;
  *peer = d->peer;
  *len = d->peer_len;
  return 1;
}

/* ---- sink calls, re-entrancy -------------------------------------------- */

static void really_destroy(dtls_filter *d) {
  const rc_mem mem = d->t.ctx->mem;
  mem.free(d->lens, mem.user);
  rc__tls_filter_release(&d->t);
  mem.free(d, mem.user);
}

static void enter(dtls_filter *d) { d->t.cb_depth++; }

static rc_err leave(dtls_filter *d, rc_err err) {
  if (--d->t.cb_depth == 0 && d->t.destroy_pending)
    really_destroy(d);
  return err;
}

/* Hands each queued datagram to down(). The queue is detached during the
 * calls so that a send() from inside down() queues anew. */
static rc_err flush(dtls_filter *d) {
  rc__tls_filter *t = &d->t;
  if (d->nlens == 0 || t->destroy_pending) {
    t->out_len = d->nlens = 0;
    return RC_OK;
  }
  uint8_t *buf = t->out;
  size_t *lens = d->lens, n = d->nlens, cap = t->out_cap, lcap = d->lens_cap;
  t->out = NULL;
  d->lens = NULL;
  t->out_len = t->out_cap = d->nlens = d->lens_cap = 0;
  rc_err err = RC_OK;
  size_t off = 0;
  for (size_t i = 0; i < n && !err && !t->destroy_pending; i++) {
    err = t->base.sink.down(t->base.sink.ctx, buf + off, lens[i]);
    off += lens[i];
  }
  const rc_mem *m = &t->ctx->mem;
  if (t->out == NULL && d->lens == NULL) {
    t->out = buf;
    t->out_cap = cap;
    d->lens = lens;
    d->lens_cap = lcap;
  } else {
    m->free(buf, m->user);
    m->free(lens, m->user);
  }
  return err;
}

static void emit(dtls_filter *d, rc_filter_event ev, int arg,
                 const char *detail) {
  if (!d->t.destroy_pending)
    d->t.base.sink.event(d->t.base.sink.ctx, ev, arg, detail);
}

static rc_err fail(dtls_filter *d, rc_err err) {
  rc__tls_filter *t = &d->t;
  ERR_clear_error();
  if (t->state == RC__TLS_DEAD)
    return err;
  t->state = RC__TLS_DEAD;
  t->err = err;
  d->rtx_at = RC_TIME_NEVER;
  if (!rc__tls_detail(t)[0])
    rc__tls_say(t, "%s", rc_strerror(err));
  (void)flush(d); /* the alert, if any */
  emit(d, RC_FILTER_EV_ERROR, err, rc__tls_detail(t));
  return err;
}

/* The retransmission deadline on the caller's clock: OpenSSL's timer
 * (RFC 6347 §4.2.4.1: 1 s, doubled per timeout, up to 60 s) counted from
 * the last time we were told. If that time is old, the deadline comes
 * early, OpenSSL finds nothing expired and we ask again: never late. */
static void arm(dtls_filter *d) {
  struct timeval tv;
  if (d->t.state == RC__TLS_HANDSHAKE && !hs_done(d) &&
      DTLSv1_get_timeout(d->t.ssl, &tv) == 1)
    d->rtx_at = d->now + (rc_time)tv.tv_sec * 1000 +
                ((rc_time)tv.tv_usec + 999) / 1000;
  else
    d->rtx_at = RC_TIME_NEVER;
}

/* ---- record buffers between datagrams ---------------------------------- */

/* A WebRTC peer whose handshake is done and whose SSL holds nothing
 * unread or unsent takes the records over (dtls_record.h): OpenSSL's ~40
 * KB of the peer go. A server waits for the client's first application
 * record: until then its Finished flight may come again (ours lost) and
 * OpenSSL must answer it with ours. A suite we do not protect keeps the
 * SSL. */
static void hand_over(dtls_filter *d) {
  rc__tls_filter *t = &d->t;
  if (!d->may_hand || d->handed || !SSL_is_init_finished(t->ssl))
    return;
  if (is_server(d) && !d->peer_data)
    return;
  if (rc__dtls_rec_init(&d->rec, t->ssl) != 0) {
    d->may_hand = 0;
    ERR_clear_error();
    return;
  }
  /* rc_tls_peer_info keeps answering: the fingerprint was checked, the
   * certificate's CN is kept (a rule may name it). */
  X509 *x = SSL_get0_peer_certificate(t->ssl);
  char cn[128] = "";
  if (x)
    rc__tls_cn(x, cn, sizeof cn);
  size_t cl = strlen(cn);
  if (cl && (t->peer_cn = t->ctx->mem.malloc(cl + 1, t->ctx->mem.user)))
    memcpy(t->peer_cn, cn, cl + 1);
  SSL_set_shutdown(t->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  SSL_free(t->ssl); /* and its BIO */
  t->ssl = NULL;
  t->dtls_cipher = d->rec.name;
  d->handed = 1;
  d->released = 0;
  ERR_clear_error();
}

/* After the hand-over: one record of content type `type` queued. */
static rc_err rec_queue(dtls_filter *d, uint8_t type, const uint8_t *p,
                        size_t n) {
  uint8_t rec[RC__DTLS_REC_HDR + READ_BUF + 64];
  size_t w = rc__dtls_rec_seal(&d->rec, type, p, n, rec);
  if (w == 0)
    return RC_ERR_TLS;
  return queue_dgram(d, (const char *)rec, w) == 0 ? RC_OK : RC_ERR_NOMEM;
}

/* An open filter gives OpenSSL's record buffers (16 KiB to read, up to a
 * datagram to write: 33 KiB of every peer on a loopback pair, measured)
 * and its own datagram queue back after each datagram in or out, so
 * peers between datagrams hold none and one set serves them in turn (a
 * notification to many observers at once). SSL_MODE_RELEASE_BUFFERS does this for TLS; OpenSSL 3.0 does
 * not for DTLS. SSL_free_buffers refuses while a record is half read or
 * written. */
static void buffers_release(dtls_filter *d) {
  /* Not inside a recv() whose layers above answered through send(): the
   * outer call releases, once the datagram is done. */
  if (d->t.state != RC__TLS_OPEN || d->t.cb_depth != 1)
    return;
  if (!d->handed && SSL_free_buffers(d->t.ssl) == 1) {
    d->released = 1;
    hand_over(d);
  }
  /* Our own queue of datagrams for down() too (grown to a handshake
   * flight, 2-4 KB of every idle peer, measured): made again by the next
   * datagram out. */
  if (d->nlens == 0) {
    const rc_mem *m = &d->t.ctx->mem;
    m->free(d->t.out, m->user);
    m->free(d->lens, m->user);
    d->t.out = NULL;
    d->lens = NULL;
    d->t.out_len = d->t.out_cap = d->lens_cap = 0;
  }
}

/* OpenSSL 3.0 makes both buffers again on a read, but writes into its
 * write buffer unchecked: after a release, a read of nothing (our BIO has
 * no datagram: it wants one) makes them before we write. */
static void buffers_back(dtls_filter *d) {
  if (!d->released || d->handed)
    return;
  uint8_t b;
  (void)SSL_peek(d->t.ssl, &b, 1);
  ERR_clear_error();
  d->released = 0;
}

/* ---- the state machine -------------------------------------------------- */

static rc_err opened(dtls_filter *d) {
  d->t.state = RC__TLS_OPEN;
  d->rtx_at = RC_TIME_NEVER;
  rc_err err = flush(d);
  if (!err)
    emit(d, RC_FILTER_EV_OPEN, 0, NULL);
  return err;
}

/* After an OpenSSL call in the handshake: true when a PSK client is
 * about to send its Finished flight (ClientKeyExchange, ChangeCipherSpec,
 * Finished) for the 1 + FINISHED_RETRIES + 1-th time, whether on its own
 * timer or because the server repeated its flight: the server never took
 * our Finished. (The client stays in "write finished" until the server's
 * ChangeCipherSpec is read.) */
static int finished_ignored(dtls_filter *d) {
  const rc__tls_filter *t = &d->t;
  if (is_server(d) || !(t->ctx->has_psk || t->ctx->psk_lookup) ||
      SSL_get_state(t->ssl) != TLS_ST_CW_FINISHED) {
    d->fin_flights = 0;
    return 0;
  }
  if (d->nlens == 0)
    return 0; /* nothing goes out now */
  return ++d->fin_flights > FINISHED_RETRIES + 1;
}

static rc_err fail_finished(dtls_filter *d) {
  ERR_clear_error();
  d->t.out_len = d->nlens = 0; /* the flight OpenSSL just queued: not sent */
  rc__tls_say(&d->t, "DTLS handshake failed: our Finished sent %u times, never "
           "answered (wrong pre-shared key? the server drops what it cannot "
           "decrypt)", FINISHED_RETRIES + 1);
  return fail(d, RC_ERR_TLS);
}

static rc_err do_handshake(dtls_filter *d) {
  int r = SSL_do_handshake(d->t.ssl);
  if (r == 1)
    return opened(d);
  if (SSL_get_error(d->t.ssl, r) == SSL_ERROR_WANT_READ) {
    if (finished_ignored(d))
      return fail_finished(d);
    ERR_clear_error();
    rc_err err = flush(d);
    arm(d);
    return err;
  }
  return fail(d, rc__tls_classify(&d->t));
}

static rc_err peer_closed(dtls_filter *d) {
  ERR_clear_error();
  /* RFC 5246 §7.2.1 (by RFC 6347 §4.1): "the other party MUST respond
   * with a close_notify alert of its own". */
  if (d->t.state != RC__TLS_CLOSING && d->handed) {
    static const uint8_t close_notify[2] = {1, 0};
    (void)rec_queue(d, RC__TLS_CT_ALERT, close_notify, 2);
  } else if (d->t.state != RC__TLS_CLOSING) {
    (void)SSL_shutdown(d->t.ssl);
  }
  ERR_clear_error();
  d->t.state = RC__TLS_CLOSED;
  rc_err err = flush(d);
  emit(d, RC_FILTER_EV_CLOSED, 0, "peer sent close_notify");
  return err;
}

/* After the hand-over: each record of the datagram that authenticates
 * goes up (application data), ends the connection (an alert) or is
 * dropped (RFC 6347 §4.1.2.7: invalid records are silently discarded; a
 * repeated handshake message of the finished handshake, a replay). */
static rc_err read_records(dtls_filter *d, const uint8_t *p, size_t n) {
  uint8_t buf[READ_BUF];
  size_t used = 0, len = 0;
  uint8_t type = 0;
  for (size_t at = 0; at < n && !d->t.destroy_pending &&
                      d->t.state != RC__TLS_DEAD &&
                      d->t.state != RC__TLS_CLOSED;
       at += used) {
    int ok = rc__dtls_rec_open(&d->rec, p + at, n - at, &used, &type, buf,
                               &len);
    if (used == 0)
      break;
    if (!ok)
      continue;
    if (type == RC__TLS_CT_APPDATA && len > 0) {
      rc_err err = d->t.base.sink.up(d->t.base.sink.ctx, buf, len,
                                     RC_FILTER_MSG_END);
      if (err)
        return err;
    } else if (type == RC__TLS_CT_ALERT && len == 2) {
      if (buf[1] == RC__TLS_AL_CLOSE_NOTIFY)
        return peer_closed(d);
      if (buf[0] == 2) { /* fatal (RFC 5246 §7.2) */
        rc__tls_say(&d->t, "DTLS: the peer sent a fatal alert (%u)",
                    (unsigned)buf[1]);
        return fail(d, RC_ERR_TLS);
      }
    }
  }
  return flush(d);
}

/* Every record in the current datagram goes up as one message. */
static rc_err read_all(dtls_filter *d) {
  uint8_t buf[READ_BUF];
  for (;;) {
    int n = SSL_read(d->t.ssl, buf, (int)sizeof(buf));
    if (n > 0) {
      d->peer_data = 1;
      rc_err err = d->t.base.sink.up(d->t.base.sink.ctx, buf, (size_t)n,
                                     RC_FILTER_MSG_END);
      if (err || d->t.destroy_pending || d->t.state == RC__TLS_DEAD)
        return err;
      continue;
    }
    int e = SSL_get_error(d->t.ssl, n);
    if (e == SSL_ERROR_WANT_READ) {
      ERR_clear_error();
      return flush(d);
    }
    if (e == SSL_ERROR_ZERO_RETURN)
      return peer_closed(d);
    return fail(d, rc__tls_classify(&d->t));
  }
}

/* Server: until a ClientHello with a good cookie arrives, every datagram
 * goes through DTLSv1_listen, which answers with a HelloVerifyRequest and
 * keeps nothing (rc_dtls_listen_check does the same before a filter
 * exists). Returns 1 once listened. */
static int listen_once(dtls_filter *d) {
  BIO_ADDR *a = BIO_ADDR_new();
  int r = a ? DTLSv1_listen(d->t.ssl, a) : -1;
  BIO_ADDR_free(a);
  ERR_clear_error();
  if (r > 0)
    d->listened = 1;
  return r > 0;
}

static rc_err dtls_recv(rc_filter *base, const uint8_t *data, size_t len) {
  dtls_filter *d = D(base);
  rc__tls_filter *t = &d->t;
  if (t->state == RC__TLS_DEAD)
    return t->err;
  if (len == 0 || t->state == RC__TLS_CLOSED ||
      (t->state == RC__TLS_CLOSING && !hs_done(d)))
    return RC_OK; /* an empty datagram, or nothing more after a close */
  enter(d);
  t->rx_total += len;
  if (d->handed) {
    rc_err err = read_records(d, data, len);
    if (!err)
      buffers_release(d);
    return leave(d, err);
  }
  if (d->may_hand)
    rc__dtls_rec_track_in(&d->rec, data, len);
  t->in = data;
  t->in_len = len;
  t->started = 1;
  d->released = 0; /* a read makes OpenSSL's buffers again */
  rc_err err = RC_OK;
  if (is_server(d) && !d->listened && !listen_once(d)) {
    err = flush(d); /* a HelloVerifyRequest, or nothing */
  } else {
    if (!hs_done(d))
      err = do_handshake(d);
    if (!err && hs_done(d) && t->state != RC__TLS_DEAD && !t->destroy_pending)
      err = read_all(d);
  }
  t->in = NULL;
  t->in_len = 0;
  if (!err)
    buffers_release(d);
  return leave(d, err);
}

static rc_err dtls_send(rc_filter *base, const uint8_t *data, size_t len,
                        int flags) {
  (void)flags; /* one call, one record, one datagram */
  dtls_filter *d = D(base);
  if (d->t.state == RC__TLS_DEAD)
    return d->t.err;
  if (d->t.state != RC__TLS_OPEN)
    return RC_ERR_STATE; /* the chain sends only after EV_OPEN */
  if (len > rc_dtls_max_payload(base))
    return RC_ERR_LIMIT; /* would not fit the path MTU */
  if (len == 0)
    return RC_OK;
  enter(d);
  rc_err err;
  if (d->handed) {
    err = rec_queue(d, RC__TLS_CT_APPDATA, data, len);
    err = err ? fail(d, err) : flush(d);
  } else {
    buffers_back(d);
    int n = SSL_write(d->t.ssl, data, (int)len);
    err = n == (int)len ? flush(d) : fail(d, rc__tls_classify(&d->t));
  }
  if (!err)
    buffers_release(d);
  return leave(d, err);
}

static rc_err dtls_start(rc_filter *base) {
  dtls_filter *d = D(base);
  if (d->t.state == RC__TLS_DEAD)
    return d->t.err;
  if (d->t.started || is_server(d))
    return RC_OK;
  d->t.started = 1;
  enter(d);
  rc_err err = do_handshake(d);
  return leave(d, err);
}

static rc_time dtls_expiry(const rc_filter *base) {
  const dtls_filter *d = CD(base);
  if (d->t.state != RC__TLS_HANDSHAKE || hs_done(d) || !d->t.started)
    return RC_TIME_NEVER;
  return d->rtx_at < d->hs_deadline ? d->rtx_at : d->hs_deadline;
}

static rc_err dtls_timeout(rc_filter *base, rc_time now) {
  dtls_filter *d = D(base);
  rc__tls_filter *t = &d->t;
  if (t->state == RC__TLS_DEAD)
    return t->err;
  if (now > d->now)
    d->now = now;
  if (t->state != RC__TLS_HANDSHAKE || hs_done(d) || !t->started)
    return RC_OK;
  enter(d);
  rc_err err = RC_OK;
  if (now >= d->hs_deadline) {
    /* RFC 6347 §4.1.2.7: records that fail to decrypt are discarded, so
     * a wrong pre-shared key shows only as silence. */
    int psk = t->ctx->has_psk || t->ctx->psk_lookup;
    rc__tls_say(t, "handshake failed: not done within %u ms (%s%s)",
             (unsigned)t->ctx->hs_timeout_ms,
             t->rx_total ? "the peer stopped answering"
                         : "no answer from the peer",
             t->rx_total && psk ? "; wrong pre-shared key?" : "");
    err = fail(d, RC_ERR_TIMEOUT);
  } else if (now >= d->rtx_at) {
    /* Retransmits the last flight when OpenSSL's timer has run out; a
     * timer that runs out too often (OpenSSL: 12 times) is a failure. */
    if (DTLSv1_handle_timeout(t->ssl) < 0)
      err = fail(d, rc__tls_classify(t));
    else if (finished_ignored(d))
      err = fail_finished(d);
    else {
      ERR_clear_error();
      err = flush(d);
      arm(d);
    }
  }
  return leave(d, err);
}

static rc_err dtls_shutdown(rc_filter *base) {
  dtls_filter *d = D(base);
  if (d->t.state == RC__TLS_DEAD)
    return d->t.err;
  if (d->t.state == RC__TLS_CLOSING || d->t.state == RC__TLS_CLOSED)
    return RC_OK;
  d->t.state = RC__TLS_CLOSING;
  d->rtx_at = RC_TIME_NEVER;
  if (!hs_done(d))
    return RC_OK; /* nothing to protect yet */
  enter(d);
  if (d->handed) {
    static const uint8_t close_notify[2] = {1, 0}; /* warning, close */
    (void)rec_queue(d, RC__TLS_CT_ALERT, close_notify, 2);
    return leave(d, flush(d));
  }
  buffers_back(d);
  (void)SSL_shutdown(d->t.ssl); /* one close_notify datagram */
  ERR_clear_error();
  return leave(d, flush(d));
}

static void dtls_free(rc_filter *base) {
  dtls_filter *d = D(base);
  if (d->t.cb_depth) {
    d->t.destroy_pending = 1;
    return;
  }
  really_destroy(d);
}

static const rc_filter_ops dtls_ops = {
    .name = "dtls",
    .label = "DTLS",
    /* Datagrams below; above, one record is one whole message. */
    .flags = RC_FILTER_F_DATAGRAM | RC_FILTER_F_MESSAGES,
    .start = dtls_start,
    .recv = dtls_recv,
    .send = dtls_send,
    .expiry = dtls_expiry,
    .timeout = dtls_timeout,
    .shutdown = dtls_shutdown,
    .free = dtls_free,
};

/* ---- public API --------------------------------------------------------- */

rc_err rc_dtls_filter_new(rc_filter **out, rc_tls_ctx *ctx, const char *host,
                          uint16_t port, const void *peer, size_t peer_len,
                          rc_time now, const rc_filter_sink *sink) {
  if (!ctx || !sink || !sink->up || !sink->down || !sink->event || !out ||
      !ctx->datagram || peer_len > RC_DTLS_MAX_ADDR || (peer_len && !peer))
    return RC_ERR_INVAL;
  *out = NULL;
  dtls_filter *d = ctx->mem.malloc(sizeof(*d), ctx->mem.user);
  if (!d)
    return RC_ERR_NOMEM;
  memset(d, 0, sizeof(*d));
  if (peer_len)
    memcpy(d->peer, peer, peer_len);
  d->peer_len = peer_len;
  d->now = now;
  d->hs_deadline = now + ctx->hs_timeout_ms;
  d->rtx_at = RC_TIME_NEVER;
  d->rec.epoch = 1; /* the epoch a handshake ends in */
  d->may_hand = ctx->handoff && ctx->has_peer_fp;
  rc_err err = rc__tls_filter_init(&d->t, ctx, &dtls_ops, host, port, sink);
  if (!err)
    err = rc_dtls_set_mtu(&d->t.base, ctx->mtu);
  if (err) {
    really_destroy(d);
    ERR_clear_error();
    return err;
  }
  ERR_clear_error();
  *out = &d->t.base;
  return RC_OK;
}

rc_err rc_dtls_set_mtu(rc_filter *base, size_t mtu) {
  dtls_filter *d = D(base);
  /* No record we send is larger than a datagram, so OpenSSL's write
   * buffer needs no more (15 KB less per open peer, measured); 512 is
   * OpenSSL's floor, 2^14 its ceiling. */
  long frag = (long)(mtu < 512 ? 512 : mtu > READ_BUF ? READ_BUF : mtu);
  d->mtu = mtu; /* what the BIO answers when OpenSSL asks again */
  if (d->handed)
    return RC_OK;
  if (SSL_set_mtu(d->t.ssl, (long)mtu) <= 0 ||
      SSL_set_max_send_fragment(d->t.ssl, frag) != 1) {
    ERR_clear_error();
    return RC_ERR_TLS;
  }
  return RC_OK;
}

rc_err rc_dtls_set_peer_fingerprint(rc_filter *base, const uint8_t *fp) {
  dtls_filter *d = D(base);
  if (!d->t.ctx->has_peer_fp || d->t.started)
    return RC_ERR_INVAL; /* a context made to check fingerprints, unused */
  memcpy(d->fp, fp, sizeof d->fp);
  d->t.own_fp = d->fp;
  return RC_OK;
}

size_t rc_dtls_max_payload(const rc_filter *base) {
  const dtls_filter *d = CD(base);
  if (!hs_done(d))
    return 0;
  if (d->handed) /* as DTLS_get_data_mtu: header, nonce, tag */
    return rc__dtls_rec_room(&d->rec, d->mtu);
  size_t n = DTLS_get_data_mtu(d->t.ssl);
  return n < READ_BUF ? n : READ_BUF;
}
