/*
 * Internal to src/transport/tls*.c and dtls.c: the context and filter
 * structs shared by the context code (tls_ctx.c: config, SSL_CTX, OpenSSL
 * callbacks, session cache, for TLS and DTLS alike), the TLS filter
 * (tls.c: the byte transform and its state machine), the DTLS filter
 * (dtls.c: the datagram transform, whose struct begins with an
 * rc__tls_filter) and the certificate helpers (tls_cert.c).
 */
#ifndef RCOAP_TLS_INT_H
#define RCOAP_TLS_INT_H

#include <stdatomic.h>

#include <openssl/ssl.h>

#include "rcoap/transport_dtls.h"
#include "rcoap/transport_tls.h"
#include "transport/hkey.h"
#include "transport/tls_record.h"

/* Detail sentences are cut at this length. */
#define RC__TLS_DETAIL_MAX 384
/* During the handshake, output buffers up to this size are kept from one
 * flush to the next; afterwards none is kept (tls.c flush). */
#define RC__TLS_OUT_KEEP 4096

typedef struct rc__tls_cached {
  char *key; /* "host:port" */
  SSL_SESSION *sess;
} rc__tls_cached;

typedef struct rc__tls_keycert {
  X509 *cert;
  EVP_PKEY *key;
  STACK_OF(X509) *chain; /* intermediates, may be NULL */
} rc__tls_keycert;

struct rc_tls_ctx {
  atomic_int refs;
  rc_tls_role role;
  rc_mem mem;
  SSL_CTX *ssl_ctx;
  BIO_METHOD *bio_meth;
  rc__tls_keycert certs[RC_TLS_MAX_CERTS];
  size_t ncerts;
  int insecure;
  int allow_no_alpn;
  rc_tls_client_auth client_auth;
  uint8_t psk_id[RC_TLS_MAX_PSK_IDENTITY];
  size_t psk_id_len;
  uint8_t psk_key[RC_TLS_MAX_PSK_KEY];
  size_t psk_key_len;
  int has_psk;
  rc_tls_psk_lookup psk_lookup;
  void *psk_lookup_user;
  rc__tls_cached *cache; /* client session cache, oldest first */
  size_t cache_len, cache_cap;
  uint8_t peer_fp[RC_TLS_FINGERPRINT_LEN]; /* rc_tls_config.peer_fingerprint */
  int has_peer_fp;
  /* Datagram mode (DTLS): see dtls.c. */
  int datagram;
  size_t mtu;
  uint32_t hs_timeout_ms;
  /* Server: the HMAC keys of the stateless cookie (hkey.h). */
  rc__hkey cookie;
  int keylog_fd; /* rc_tls_config.keylog_file; -1: none (tls_keylog.c) */
  /* Server, TLS: after a TLS 1.3 handshake the filter takes over the
   * record layer and frees the SSL (tls_handoff.c); off with
   * rc_tls_config.keep_ssl. */
  int handoff;
};

/* The PSK identity a handshake used and the hint the server gave. */
typedef struct rc__tls_psk {
  uint8_t id[RC_TLS_MAX_PSK_IDENTITY];
  size_t id_len;
  char hint[RC_TLS_MAX_PSK_IDENTITY + 1]; /* client: the server's hint */
} rc__tls_psk;

typedef enum rc__tls_state {
  RC__TLS_HANDSHAKE = 0,
  RC__TLS_OPEN,
  RC__TLS_CLOSING, /* we sent close_notify */
  RC__TLS_CLOSED,  /* the peer's close_notify arrived (EV_CLOSED done) */
  RC__TLS_DEAD     /* EV_ERROR reported */
} rc__tls_state;

typedef struct rc__tls_filter {
  rc_filter base;
  rc_tls_ctx *ctx;
  SSL *ssl;
  rc__tls_state state;
  rc_err err; /* the fatal error, once state is DEAD */
  int started;
  /* Input being fed to OpenSSL by the BIO during one recv() call. */
  const uint8_t *in;
  size_t in_len;
  size_t rx_total;      /* ciphertext bytes received so far */
  uint8_t first[2];     /* first bytes received, for the not-TLS check */
  /* Ciphertext produced and not yet handed to down(). */
  uint8_t *out;
  size_t out_len, out_cap;
  /* Plaintext sent before the handshake finished. */
  uint8_t *pend;
  size_t pend_len, pend_cap;
  char *host;
  uint16_t port;
  /* Set by OpenSSL callbacks, read when a handshake fails. */
  int verify_err;       /* first X509_V_ERR_* seen, 0 if none */
  /* dtls: this peer's expected certificate digest when the context is
   * shared by many peers (rc_dtls_set_peer_fingerprint), else NULL and
   * the context's peer_fp is checked */
  const uint8_t *own_fp;
  int http;             /* coaps+ws: ALPN "http/1.1" (rc_tls_set_http) */
  int alpn_refused;     /* server: client's ALPN lacked what we serve */
  int psk_unknown;      /* server: PSK identity not known */
  rc__tls_psk *psk; /* allocated when a PSK identity or hint is seen */
  char *detail; /* rc__tls_say: allocated at the first sentence */
  /* Re-entrancy: depth of sink callbacks running; destroy() inside one
   * is deferred until the outermost returns. */
  int cb_depth;
  int destroy_pending;
  /* Record layer after the hand-over (tls_handoff.c): while the handshake
   * runs, rec holds the traffic secrets logged so far (secrets: bit 0
   * client's, bit 1 server's); once ssl is NULL, rec protects the records
   * and these say what the SSL said. */
  rc__tls_rec *rec;
  /* DTLS: the suite's name once dtls.c protects the records itself (its
   * SSL freed, dtls_record.h); NULL otherwise. */
  const char *dtls_cipher;
  char *peer_cn; /* ... and its peer certificate's CN, kept (or NULL) */
  uint8_t secrets;
  uint8_t alpn;    /* RC__TLS_ALPN_* */
  uint8_t resumed; /* the handshake resumed a session */
} rc__tls_filter;

enum { RC__TLS_ALPN_NONE = 0, RC__TLS_ALPN_COAP, RC__TLS_ALPN_HTTP11 };

/* tls_ctx.c */
void rc__tls_cache_put(rc_tls_ctx *ctx, const char *host, uint16_t port,
                       SSL_SESSION *sess);
SSL_SESSION *rc__tls_cache_get(rc_tls_ctx *ctx, const char *host,
                               uint16_t port);
void rc__tls_ctx_ref(rc_tls_ctx *ctx);

/* tls_cert.c */
/* Writes "DNS:a, IP:b" for cert's subjectAltNames into buf. */
void rc__tls_sans(X509 *cert, char *buf, size_t cap);
/* Writes the subject CN (or "") into buf. */
void rc__tls_cn(X509 *cert, char *buf, size_t cap);
/* Writes a one-line RFC 2253 form of name into buf. */
void rc__tls_name(const X509_NAME *name, char *buf, size_t cap);

/* tls.c: the filter from an SSL (set as its app data), and the BIO
 * method that connects an SSL to a filter's buffers (one per ctx). */
rc__tls_filter *rc__tls_from_ssl(const SSL *ssl);
/* tls.c: a memory BIO method over a filter's buffers (both TLS and DTLS
 * filters: only their read, write and ctrl differ). NULL on no memory. */
BIO_METHOD *rc__bio_method_new(const char *name,
                               int (*write)(BIO *, const char *, int),
                               int (*read)(BIO *, char *, int),
                               long (*ctrl)(BIO *, int, long, void *));
BIO_METHOD *rc__tls_bio_method_new(void);

/* tls.c, shared with dtls.c (whose filter struct begins with an
 * rc__tls_filter, so the OpenSSL callbacks above serve both):
 * rc__tls_filter_init fills a zeroed f: ops, sink, a context reference, the
 * SSL with a BIO of ctx->bio_meth, client host name checks, SNI and a
 * cached session. rc__tls_filter_release frees what init made (not f). */
rc_err rc__tls_filter_init(rc__tls_filter *f, rc_tls_ctx *ctx,
                           const rc_filter_ops *ops, const char *host,
                           uint16_t port, const rc_filter_sink *sink);
void rc__tls_filter_release(rc__tls_filter *f);
/* Turns what OpenSSL and the callbacks recorded about a failure into an
 * rc_err and f->detail; reads (and empties) the OpenSSL error queue. */
rc_err rc__tls_classify(rc__tls_filter *f);
/* Sets f's detail sentence (cut at RC__TLS_DETAIL_MAX), allocating its
 * buffer the first time: an idle connection holds none. Without memory
 * the sentence is lost (the error code still says what failed). */
void rc__tls_say(rc__tls_filter *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* f->psk, allocated (zeroed) the first time; NULL without memory. */
rc__tls_psk *rc__tls_psk_of(rc__tls_filter *f);
/* f's detail sentence, "" when none. */
const char *rc__tls_detail(const rc__tls_filter *f);

/* dtls.c: the datagram BIO method; the peer address a server filter was
 * made for (0 if ssl has no filter). */
BIO_METHOD *rc__dtls_bio_method_new(void);
int rc__dtls_peer_of(const SSL *ssl, const uint8_t **peer, size_t *len);
/* dtls_cookie.c: the DTLS options and server cookie callbacks of a DTLS
 * SSL_CTX. */
void rc__dtls_ctx_setup(rc_tls_ctx *ctx, SSL_CTX *sc);

/* tls_keylog.c: opens path (NULL or "": no key log) for appending and
 * logs sc's secrets there; RC_ERR_IO when it cannot be opened. Sets
 * ctx->keylog_fd (-1 for none) and sc's app data (ctx). */
rc_err rc__tls_keylog_open(rc_tls_ctx *ctx, SSL_CTX *sc, const char *path);
void rc__tls_keylog_close(rc_tls_ctx *ctx);

/* tls_handoff.c: keeps the application traffic secrets of a key log line
 * for f's hand-over (a server TLS filter of a ctx with handoff). */
void rc__tls_handoff_capture(rc__tls_filter *f, const char *line);
/* At the end of a server's TLS 1.3 handshake, before its output is
 * flushed: derives the record keys, notes what the queries need and frees
 * the SSL. 0 when done; -1 when this connection keeps its SSL (TLS 1.2, a
 * client certificate, early data, OpenSSL holding input...). */
int rc__tls_handoff(rc__tls_filter *f);
/* Frees f->rec (keys wiped). */
void rc__tls_handoff_free(rc__tls_filter *f);

#endif
