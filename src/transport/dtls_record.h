/*
 * The DTLS 1.2 record layer of a WebRTC peer after its handshake
 * (dtls_record.c), the datagram sibling of tls_record.h. OpenSSL keeps ~40
 * KB per DTLS connection after the handshake (its 21.8 KB handshake
 * buffer, which OpenSSL 3.0 keeps for DTLS over UDP with no API to free
 * it, the SSL, the session and peer certificate, two cipher contexts);
 * once the handshake can need nothing more the DTLS filter derives the
 * AEAD keys (RFC 5246 §6.3), frees the SSL and protects and checks records
 * itself with this struct (~130 bytes). The client at once: once it has
 * the server's Finished it never has to send a flight again (RFC 6347
 * §4.2.4: the server repeats its last flight only when the client repeats
 * its own); the server once the client's first application record came
 * (the client has the server's Finished then).
 *
 * AEAD suites only (AES-128-GCM, AES-256-GCM: RFC 5288; ChaCha20-Poly1305:
 * RFC 7905); the AEAD contexts are the thread's (tls_aead.c).
 */
#ifndef RCOAP_DTLS_RECORD_H
#define RCOAP_DTLS_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "transport/tls_record.h"

/* RFC 6347 §4.1: type, version, epoch, sequence number, length. */
#define RC__DTLS_REC_HDR 13u

typedef struct rc__dtls_rec {
  uint8_t suite; /* rc__tls_suite */
  uint8_t gcm;   /* 1: explicit 8-byte nonce and a 4-byte salt */
  uint16_t epoch;
  uint8_t wkey[32], rkey[32];
  uint8_t wiv[12], riv[12];
  uint64_t wseq; /* the next sequence number we send */
  uint64_t rmax; /* the highest sequence number received */
  uint64_t rwin; /* bit i: rmax - i received (RFC 6347 §4.1.2.6) */
  int rany;      /* rmax is set */
  const char *name; /* OpenSSL's name of the suite (a static string) */
} rc__dtls_rec;

/* The sequence numbers of the records of epoch `epoch` in one datagram
 * (in: those below 64 marked seen in the window; out: wseq past them),
 * read from the headers while OpenSSL still protects the records. */
void rc__dtls_rec_track_in(rc__dtls_rec *r, const uint8_t *dgram, size_t n);
void rc__dtls_rec_track_out(rc__dtls_rec *r, const uint8_t *dgram, size_t n);

/* Keys from ssl's finished DTLS 1.2 handshake (the current epoch, its
 * suite, the client's role). Returns 0, or -1 (not an AEAD suite we
 * protect: the caller keeps the SSL). The sequence numbers tracked so far
 * are kept. */
int rc__dtls_rec_init(rc__dtls_rec *r, SSL *ssl);

/* Plaintext bytes one record carries in a datagram of mtu bytes. */
size_t rc__dtls_rec_room(const rc__dtls_rec *r, size_t mtu);

/* One record of content type `type` holding d[0..n) into out (room for
 * n + RC__DTLS_REC_HDR + 24). Returns its length, 0 on failure. */
size_t rc__dtls_rec_seal(rc__dtls_rec *r, uint8_t type, const uint8_t *d,
                         size_t n, uint8_t *out);

/* The first record of dgram[0..n): *used its length (0: the rest is not a
 * record); returns 1 and its content type in *type, plaintext in out
 * (RC__TLS_REC_PLAIN_MAX room), *len; 0 when the record is dropped (RFC
 * 6347 §4.1.2.7: another epoch, a replay, or one that fails to
 * authenticate is discarded). */
int rc__dtls_rec_open(rc__dtls_rec *r, const uint8_t *dgram, size_t n,
                      size_t *used, uint8_t *type, uint8_t *out, size_t *len);

#endif
