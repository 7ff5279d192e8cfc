/*
 * The DTLS filter for coaps:// (RFC 7252 §9, DTLS 1.2 per RFC 6347): a
 * sans-I/O datagram transform over OpenSSL 3, the datagram sibling of the
 * TLS filter (transport_tls.h). One datagram from the socket goes in per
 * rc_filter_recv(); each down() is one datagram for the socket, never
 * larger than the context's mtu. The filter reads no clock: handshake
 * flights are retransmitted (RFC 6347 §4.2.4) when the caller, having
 * asked rc_filter_expiry(), calls rc_filter_timeout() with its own time.
 *
 * Configuration is the TLS one: an rc_tls_ctx made by rc_tls_ctx_new()
 * with rc_tls_config.datagram set (certificates, CA, host name / IP
 * checks, PSK with identity and hint, mutual authentication, a SHA-256
 * fingerprint instead of a CA, session resumption in the client's cache;
 * no ALPN). The TLS queries rc_tls_handshake_done, rc_tls_resumed,
 * rc_tls_protocol, rc_tls_cipher, rc_tls_error_detail and
 * rc_tls_peer_info work on a DTLS filter too.
 *
 * Stateless cookie (RFC 6347 §4.2.1): a server socket calls
 * rc_dtls_listen_check() on the first datagram from an address it has no
 * peer for. Only a ClientHello that carries a cookie made for that
 * address gets a peer (and a server filter, fed that same datagram);
 * anything else is answered with a HelloVerifyRequest or dropped, and the
 * server keeps nothing. The cookie is an HMAC-SHA-256 of the address under
 * a per-context key that changes every RC_DTLS_COOKIE_ROTATE_MS (the key
 * before it stays valid). A ClientHello in epoch 0 from an address that
 * already has a peer may be that client restarted (RFC 6347 §4.2.8): the
 * socket runs it through rc_dtls_listen_check() too and, on
 * RC_DTLS_LISTEN_ACCEPT, replaces the old peer with a new one. A
 * ClientHello split over several datagrams (larger than the client's
 * MTU) cannot pass the stateless check.
 *
 * Threading: as for TLS; rc_dtls_listen_check() changes the context's
 * cookie key and belongs to the thread of the context's socket.
 */
#ifndef RCOAP_TRANSPORT_DTLS_H
#define RCOAP_TRANSPORT_DTLS_H

#include <stddef.h>
#include <stdint.h>

#include "rcoap/common.h"
#include "rcoap/transport_filter.h"

#ifdef __cplusplus
extern "C" {
#endif

/* RFC 7252 §6.2: the default port of coaps:// (UDP). */
#define RC_DTLS_DEFAULT_PORT 5684
/* Datagram size limits: the IPv6 minimum MTU 1280 less the IPv6 (40) and
 * UDP (8) headers (RFC 7252 §4.6); OpenSSL's floor; the UDP ceiling. */
#define RC_DTLS_DEFAULT_MTU 1232
#define RC_DTLS_MIN_MTU 256
#define RC_DTLS_MAX_MTU 65507
/* A handshake that is not done this long after the filter was made
 * fails; RFC 6347 §4.2.4.1's timer doubles from 1 s up to 60 s. */
#define RC_DTLS_HANDSHAKE_TIMEOUT_MS 60000
/* How often the cookie key changes. */
#define RC_DTLS_COOKIE_ROTATE_MS (5 * 60 * 1000)
/* Peer addresses (struct sockaddr_storage bytes, or any stable encoding)
 * up to this length key the cookie. */
#define RC_DTLS_MAX_ADDR 128
/* Room for a HelloVerifyRequest from rc_dtls_listen_check(). */
#define RC_DTLS_HVR_MAX 64

typedef struct rc_tls_ctx rc_tls_ctx;

/*
 * Creates a DTLS filter on a datagram context (rc_tls_config.datagram).
 * Client: host and port as for rc_tls_filter_new (names checked, SNI,
 * the session cache key; host may be NULL with a peer fingerprint). Server:
 * host NULL and port 0. peer/peer_len is the remote address as the socket sees
 * it (server: keys the cookie; client: may be NULL). now is the caller's clock:
 * the handshake deadline counts from it. The client sends nothing until
 * rc_filter_start(). Returns 0 and *out, or RC_ERR_INVAL (not a datagram
 * context, bad arguments), RC_ERR_NOMEM, RC_ERR_TLS.
 */
rc_err rc_dtls_filter_new(rc_filter **out, rc_tls_ctx *ctx, const char *host,
                          uint16_t port, const void *peer, size_t peer_len,
                          rc_time now, const rc_filter_sink *sink);

/* This filter's datagrams may be up to mtu bytes (in place of the
 * context's; before rc_filter_start). Records still carry at most 2^14
 * bytes of plaintext (RFC 6347 §4.1). Returns 0 or RC_ERR_TLS. */
rc_err rc_dtls_set_mtu(rc_filter *f, size_t mtu);

/* The peer's certificate must have this SHA-256 digest (fp: 32 bytes,
 * RC_TLS_FINGERPRINT_LEN), in place of the
 * context's rc_tls_config.peer_fingerprint: one context (made with a
 * fingerprint, so that the peer's certificate is required and checked)
 * serves many peers, each checked against its own (WebRTC: one identity
 * per process, each peer's a=fingerprint). Before rc_filter_start.
 * Returns 0 or RC_ERR_INVAL. */
rc_err rc_dtls_set_peer_fingerprint(rc_filter *f, const uint8_t *fp);

/* Largest message send() takes once the handshake is done (the mtu less
 * the record overhead of the negotiated cipher); 0 before. */
size_t rc_dtls_max_payload(const rc_filter *f);

/* What rc_dtls_listen_check() decided about a first datagram. */
typedef enum rc_dtls_listen {
  RC_DTLS_LISTEN_ACCEPT = 0, /* a ClientHello with a valid cookie: make a
                                peer and a server filter, feed it this */
  RC_DTLS_LISTEN_ANSWER = 1, /* send out[0..*out_len) back, keep nothing */
  RC_DTLS_LISTEN_DROP = 2    /* not a ClientHello: drop it, keep nothing */
} rc_dtls_listen;

/*
 * Stateless look at a datagram from an address without a peer (server
 * context). now rotates the cookie key. out must hold RC_DTLS_HVR_MAX
 * bytes. A ClientHello without a valid cookie is answered with a
 * HelloVerifyRequest no larger than the ClientHello itself.
 */
rc_dtls_listen rc_dtls_listen_check(rc_tls_ctx *ctx, const void *peer,
                                    size_t peer_len, const uint8_t *dgram,
                                    size_t len, rc_time now, uint8_t *out,
                                    size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif
