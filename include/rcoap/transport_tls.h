/*
 * The TLS filter for coaps+tcp and coaps+ws (RFC 8323 §9.1 "TLS binding
 * for CoAP over TCP", §9.2): a sans-I/O byte transform over OpenSSL 3.
 * Ciphertext from the socket goes in with rc_filter_recv(), plaintext
 * comes out through the sink's up(); plaintext from the layer above goes
 * in with rc_filter_send() and ciphertext comes out through down(). The
 * filter never touches a socket or a clock: the connection layer enforces
 * handshake deadlines and reports TCP end-of-stream with rc_tls_eof().
 *
 * Two objects:
 *  - rc_tls_ctx: everything loaded once per listener or client (SSL_CTX,
 *    certificates, CA store, PSK, the client's session cache). Reference
 *    counted: every filter holds a reference, so the owner may drop its own
 *    at any time with rc_tls_ctx_free().
 *  - a filter (rc_filter with ops "tls"), one per connection.
 *
 * Policy: TLS 1.2 minimum, 1.3 preferred; TLS 1.2 suites are ECDHE with
 * AEAD only (plus PSK suites when a PSK is configured); no renegotiation;
 * ALPN "coap" offered by every client and demanded by every server
 * (RFC 8323 §8.2). Errors come with a sentence a person can act on, as
 * the detail of RC_FILTER_EV_ERROR.
 *
 * Threading: a filter belongs to one thread. A server ctx may be shared by
 * filters on several threads (only its reference count is shared, and it
 * is atomic); a client ctx holds the session cache and belongs to one
 * thread.
 */
#ifndef RCOAP_TRANSPORT_TLS_H
#define RCOAP_TRANSPORT_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "rcoap/common.h"
#include "rcoap/transport_filter.h"

#ifdef __cplusplus
extern "C" {
#endif

/* RFC 8323 §8.2: the TCP port on which a coaps+tcp peer may skip ALPN. */
#define RC_TLS_COAPS_DEFAULT_PORT 5684
/* RFC 8323 §11.5: the ALPN protocol identifier. */
#define RC_TLS_ALPN_ID "coap"
/* RFC 7301 §6: the ALPN identifier of HTTP/1.1, which coaps+ws uses: its
 * TLS carries an HTTP/1.1 Upgrade (RFC 8323 §4 builds on RFC 6455), so it
 * is HTTPS's TLS; ALPN "coap" (§8.2) is for CoAP directly over TLS. */
#define RC_TLS_ALPN_HTTP11 "http/1.1"
/* Certificates a server can choose from by SNI. */
#define RC_TLS_MAX_CERTS 8
/* RFC 4279 §5.3: PSK identities up to 128 bytes; keys up to 64 bytes. */
#define RC_TLS_MAX_PSK_IDENTITY 128
#define RC_TLS_MAX_PSK_KEY 64
/* Plaintext the filter queues before the handshake is done (then
 * RC_ERR_LIMIT). */
#define RC_TLS_MAX_PENDING (64 * 1024)
/* SHA-256 fingerprint: raw bytes, and "AB:CD:..." text with the NUL. */
#define RC_TLS_FINGERPRINT_LEN 32
#define RC_TLS_FINGERPRINT_HEX_LEN (RC_TLS_FINGERPRINT_LEN * 3)

typedef enum rc_tls_role { RC_TLS_CLIENT = 1, RC_TLS_SERVER = 2 } rc_tls_role;

/* Protocol versions for rc_tls_config.min_version / max_version. */
typedef enum rc_tls_version {
  RC_TLS_V_DEFAULT = 0, /* min 1.2, max 1.3 */
  RC_TLS_V1_2 = 0x0303,
  RC_TLS_V1_3 = 0x0304
} rc_tls_version;

/* Server: what to do about client certificates. */
typedef enum rc_tls_client_auth {
  RC_TLS_CLIENT_AUTH_NONE = 0,    /* do not ask */
  RC_TLS_CLIENT_AUTH_REQUEST = 1, /* ask; verify if one is sent */
  RC_TLS_CLIENT_AUTH_REQUIRE = 2  /* mutual TLS: refuse without one */
} rc_tls_client_auth;

/*
 * One certificate with its key: PEM files, or PEM text in memory (the
 * certificate text may hold the chain: leaf first, then intermediates).
 * When both a file and memory are given, memory wins. Read at
 * rc_tls_ctx_new() only.
 */
typedef struct rc_tls_cert {
  const char *cert_file;
  const char *key_file;
  const char *cert_pem;
  size_t cert_pem_len;
  const char *key_pem;
  size_t key_pem_len;
} rc_tls_cert;

/*
 * Server PSK look-up for several clients: copy the key for identity into
 * key (capacity cap) and return its length, or return -1 for an unknown
 * identity. Called during handshakes, on the filter's thread.
 */
typedef int (*rc_tls_psk_lookup)(void *user, const uint8_t *identity,
                                 size_t identity_len, uint8_t *key, size_t cap);

/*
 * Configuration, a plain struct: fill it after rc_tls_config_init(). All
 * pointers are borrowed for the duration of rc_tls_ctx_new() only.
 */
typedef struct rc_tls_config {
  rc_tls_role role;
  /* Server: certs[0] is the default; another is chosen when the client's
   * SNI matches one of its names. Client: certs[0] is the client
   * certificate for mutual TLS (optional). */
  rc_tls_cert certs[RC_TLS_MAX_CERTS];
  size_t ncerts;
  /* Trust anchors (PEM). Client: verifies the server against these, or
   * against the system store when none is given. Server: verifies client
   * certificates against these (needed for client_auth). */
  const char *ca_file;
  const char *ca_pem;
  size_t ca_pem_len;
  rc_tls_client_auth client_auth; /* server only */
  /* Client: do not verify the server at all (a test aid; never default). */
  int insecure;
  /* Pre-shared key (TLS 1.3 external PSK and TLS 1.2 PSK suites). Client:
   * identity and key are what it offers. Server: key is accepted for the
   * given identity, or for any identity when identity_len is 0; psk_lookup
   * (if set) is asked first. */
  const uint8_t *psk_identity;
  size_t psk_identity_len;
  const uint8_t *psk_key;
  size_t psk_key_len;
  const char *psk_hint; /* server, TLS 1.2 identity hint (may be NULL) */
  rc_tls_psk_lookup psk_lookup;
  void *psk_lookup_user;
  rc_tls_version min_version; /* default TLS 1.2 */
  rc_tls_version max_version; /* default TLS 1.3 */
  /* Server: issue no session tickets (no resumption). */
  int no_tickets;
  /* Server: accept clients that send no ALPN extension at all. Client:
   * accept a server that negotiates no ALPN on any port (on 5684 this is
   * always accepted, RFC 8323 §8.2). Off by default: RFC 8323 §8.2 wants
   * ALPN "coap" on every other port. Needed for libcoap 4.3.1 in PSK mode,
   * whose client offers no ALPN and whose server negotiates none. A client
   * offering ALPN without "coap" is refused either way. All of this is
   * coaps+tcp's: a filter under a WebSocket (rc_tls_set_http) follows
   * HTTPS's rules whatever this says. */
  int allow_no_alpn;
  /* Client: sessions kept for resumption, one per (host, port); 0 turns
   * resumption off. rc_tls_config_init() sets 32. */
  size_t session_cache_size;
  /* Check the peer's certificate by its SHA-256 fingerprint (the DER
   * digest, RC_TLS_FINGERPRINT_LEN bytes) instead of a CA chain and names:
   * WebRTC's a=fingerprint (RFC 8122 §5). A server then requires a client
   * certificate. NULL: the CA and name checks above. */
  const uint8_t *peer_fingerprint;
  /* Datagram mode: a DTLS 1.2 context for rc_dtls_filter_new()
   * (transport_dtls.h, coaps:// per RFC 7252 §9) instead of TLS for
   * rc_tls_filter_new(). ALPN is neither offered nor demanded. */
  int datagram;
  /* DTLS: the largest datagram handed down (path MTU minus IP and UDP
   * headers); 0: RC_DTLS_DEFAULT_MTU. */
  size_t mtu;
  /* DTLS: the whole handshake must be done within this many ms of the
   * filter's creation; 0: RC_DTLS_HANDSHAKE_TIMEOUT_MS. */
  uint32_t handshake_timeout_ms;
  /* Append every secret of every handshake (TLS and DTLS) to this file,
   * one line each in the NSS key log format (SSLKEYLOGFILE) that
   * Wireshark decrypts with; created 0600. A debugging aid: the file
   * decrypts the traffic. NULL: none. rc_tls_ctx_new fails with
   * RC_ERR_IO when it cannot be opened. */
  const char *keylog_file;
  /* Keep OpenSSL's SSL for the whole connection. By default a TLS
   * server, once a TLS 1.3 handshake is done, protects the records itself
   * (RFC 8446 §5) and frees the SSL: an idle connection holds ~250 bytes
   * of TLS state instead of OpenSSL's ~12 KB (TLS 1.2, client
   * certificates and TLS client filters always keep it); and a DTLS 1.2
   * peer checking a fingerprint (WebRTC) does the same with its AEAD
   * records once its handshake is done (a server: once the client's first
   * application record came; ~40 KB of OpenSSL's per peer);
   * rc_tls_peer_info then gives the peer's checked fingerprint and CN,
   * not its SANs. */
  int keep_ssl;
  const rc_mem *mem; /* NULL: C library */
} rc_tls_config;

typedef struct rc_tls_ctx rc_tls_ctx;

/* What the application may learn about the peer after the handshake. */
typedef struct rc_tls_peer {
  int has_cert;  /* the peer presented a certificate */
  int verified;  /* ... and it passed verification (chain, and host name on
                    a client) */
  char subject_cn[128];       /* "" when none */
  char sans[512];             /* "DNS:localhost, IP:127.0.0.1", "" if none */
  uint8_t fingerprint[RC_TLS_FINGERPRINT_LEN]; /* SHA-256 of the DER */
  uint8_t psk_identity[RC_TLS_MAX_PSK_IDENTITY]; /* PSK handshakes */
  size_t psk_identity_len;
  char psk_hint[RC_TLS_MAX_PSK_IDENTITY + 1]; /* client: the server's
                                                 TLS 1.2 identity hint */
} rc_tls_peer;

/* Sets defaults: the role, TLS 1.2..1.3, session cache 32, no auth. */
void rc_tls_config_init(rc_tls_config *cfg, rc_tls_role role);

/*
 * Creates a context from cfg, reading every file now. On failure writes a
 * sentence into errbuf (if errcap > 0), e.g. "cannot read certificate file
 * 'x': No such file or directory".
 * Returns 0 and *out (free with rc_tls_ctx_free), or RC_ERR_INVAL (bad or
 * incomplete config), RC_ERR_NOT_FOUND (a file cannot be read),
 * RC_ERR_TLS_CERT (bad PEM, key does not match certificate), RC_ERR_NOMEM,
 * RC_ERR_TLS (OpenSSL refused a setting).
 */
rc_err rc_tls_ctx_new(rc_tls_ctx **out, const rc_tls_config *cfg, char *errbuf,
                      size_t errcap);

/* Drops the caller's reference; the context lives on while filters use
 * it. NULL is allowed. */
void rc_tls_ctx_free(rc_tls_ctx *ctx);

/* The role the context was made for. */
rc_tls_role rc_tls_ctx_role(const rc_tls_ctx *ctx);

/* Number of sessions in a client context's resumption cache. */
size_t rc_tls_ctx_cached_sessions(const rc_tls_ctx *ctx);

/*
 * Creates a filter for one connection. Client: host is the URI host (a DNS
 * name, or an IPv4/IPv6 literal without brackets): it is sent as SNI when
 * it is a DNS name (RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not
 * permitted") and checked against the certificate's names; port keys the
 * session cache and decides whether ALPN may be skipped (§8.2). Server:
 * host may be NULL and port 0. sink is copied. The client sends nothing
 * until rc_tls_start().
 * Returns 0 and *out (free with rc_filter_free), or RC_ERR_INVAL,
 * RC_ERR_NOMEM, RC_ERR_TLS.
 */
rc_err rc_tls_filter_new(rc_filter **out, rc_tls_ctx *ctx, const char *host,
                         uint16_t port, const rc_filter_sink *sink);

/*
 * Starts the handshake: a client writes its ClientHello through down(); a
 * server does nothing (it waits for bytes). Call once the TCP connection
 * is up. Returns 0, or the error it also reports through EV_ERROR.
 */
rc_err rc_tls_start(rc_filter *f);

/*
 * The TCP stream ended (rc_filter_recv() with len 0 does the same). After
 * the peer's close_notify, or after our own close_notify, this is a clean
 * end (EV_CLOSED if not yet reported). Otherwise it is EV_ERROR RC_ERR_TLS
 * "connection closed without close_notify" (data already handed up
 * stays valid: it was authenticated).
 * Returns 0 on a clean end or that error.
 */
rc_err rc_tls_eof(rc_filter *f);

/* Non-zero once the handshake finished (EV_OPEN was reported). */
int rc_tls_handshake_done(const rc_filter *f);
/* Non-zero if the handshake resumed a cached session (never for a
 * handshake on an external pre-shared key). */
int rc_tls_resumed(const rc_filter *f);
/* "TLSv1.3" / "TLSv1.2", and the cipher suite name; "" before the
 * handshake. Static strings. */
const char *rc_tls_protocol(const rc_filter *f);
const char *rc_tls_cipher(const rc_filter *f);
/*
 * Marks a filter as the TLS under a WebSocket (coaps+ws): call it after
 * rc_tls_filter_new() and before the handshake. A client then offers ALPN
 * "http/1.1" instead of "coap" and accepts a server that selects none. A
 * server selects "http/1.1" when offered, else "coap" (older rcoap
 * clients), accepts a client with no ALPN extension, and refuses only a
 * list with neither (no_application_protocol, RFC 7301 §3.2).
 * Returns 0, or RC_ERR_STATE once the handshake began, RC_ERR_TLS.
 */
rc_err rc_tls_set_http(rc_filter *f);
/* Non-zero if ALPN "coap" was negotiated. */
int rc_tls_alpn_coap(const rc_filter *f);
/* The negotiated ALPN identifier: "coap", "http/1.1" or "" (none).
 * Static strings. */
const char *rc_tls_alpn(const rc_filter *f);
/* Server: the SNI name the client sent, or NULL. Valid while f lives. */
const char *rc_tls_sni(const rc_filter *f);
/* The detail sentence of the last error, "" if none. Valid while f
 * lives. */
const char *rc_tls_error_detail(const rc_filter *f);

/*
 * Fills *out with what is known about the peer.
 * Returns 0, or RC_ERR_STATE before the handshake is done.
 */
rc_err rc_tls_peer_info(const rc_filter *f, rc_tls_peer *out);

/*
 * Creates a self-signed demo certificate with a new EC P-256 key: subject
 * CN=cn (NULL: "localhost"), SAN DNS:localhost, IP:127.0.0.1, IP:::1,
 * valid 10 years, serverAuth. Writes PEM files cert_path and key_path (the
 * key with mode 0600).
 * Returns 0, or RC_ERR_IO (cannot write), RC_ERR_TLS, RC_ERR_INVAL.
 */
rc_err rc_tls_make_self_signed(const char *cert_path, const char *key_path,
                               const char *cn);

/*
 * SHA-256 fingerprint of the first certificate in a PEM file.
 * Returns 0, or RC_ERR_NOT_FOUND (cannot open), RC_ERR_TLS_CERT (no PEM
 * certificate in it).
 */
rc_err rc_tls_fingerprint_file(const char *cert_path,
                               uint8_t out[RC_TLS_FINGERPRINT_LEN]);

/* Formats a fingerprint as "AB:CD:...:EF" into out (NUL-terminated). */
void rc_tls_fingerprint_hex(const uint8_t fp[RC_TLS_FINGERPRINT_LEN],
                            char out[RC_TLS_FINGERPRINT_HEX_LEN]);

#ifdef __cplusplus
}
#endif
#endif
