/*
 * The TLS 1.3 record layer of a server connection after its handshake
 * (tls_record.c). Once OpenSSL has finished a TLS 1.3 handshake, the TLS
 * filter (tls.c) derives the traffic keys from the secrets OpenSSL logged,
 * frees the SSL and protects and unprotects records itself: an idle
 * connection then holds this ~240-byte struct instead of OpenSSL's ~12 KB.
 *
 * Sans-I/O: rc__tls_rec_read consumes ciphertext and hands plaintext,
 * records it must send (an alert, a KeyUpdate) and what happened to the
 * caller through rc__tls_rec_io; rc__tls_rec_seal writes one record into a
 * caller buffer. The AEAD contexts belong to the thread (tls_aead.c: 64
 * per suite and direction, picked by key, re-keyed when another
 * connection's key comes along), so no OpenSSL object is held per
 * connection.
 */
#ifndef RCOAP_TLS_RECORD_H
#define RCOAP_TLS_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "rcoap/common.h"
#include "rcoap/err.h"

/* RFC 8446 §5.1, §5.2: plaintext per record, and the ciphertext bound. */
#define RC__TLS_REC_PLAIN_MAX 16384u
#define RC__TLS_REC_CIPHER_MAX (16384u + 256u)
#define RC__TLS_REC_HDR 5u
#define RC__TLS_REC_TAG 16u
/* Bytes a sealed record adds to its content: header, type, tag. */
#define RC__TLS_REC_OVERHEAD (RC__TLS_REC_HDR + 1u + RC__TLS_REC_TAG)
#define RC__TLS_SECRET_MAX 48u

/* Inner content types (RFC 8446 §5.1) and the alerts we send (§6). */
enum {
  RC__TLS_CT_ALERT = 21,
  RC__TLS_CT_HANDSHAKE = 22,
  RC__TLS_CT_APPDATA = 23
};
enum {
  RC__TLS_AL_CLOSE_NOTIFY = 0,
  RC__TLS_AL_UNEXPECTED_MESSAGE = 10,
  RC__TLS_AL_BAD_RECORD_MAC = 20,
  RC__TLS_AL_RECORD_OVERFLOW = 22,
  RC__TLS_AL_ILLEGAL_PARAMETER = 47,
  RC__TLS_AL_DECODE_ERROR = 50,
  RC__TLS_AL_INTERNAL_ERROR = 80,
  RC__TLS_AL_USER_CANCELED = 90
};

/* The three TLS 1.3 suites OpenSSL 3.0 offers by default. */
typedef enum rc__tls_suite {
  RC__TLS_AES_128_GCM_SHA256 = 0,
  RC__TLS_AES_256_GCM_SHA384,
  RC__TLS_CHACHA20_POLY1305_SHA256,
  RC__TLS_SUITES
} rc__tls_suite;

/* One direction: the current traffic secret (for KeyUpdate), the record
 * key and IV derived from it, the next record's sequence number. */
typedef struct rc__tls_dir {
  uint8_t secret[RC__TLS_SECRET_MAX];
  uint8_t key[32];
  uint8_t iv[12];
  uint64_t seq;
} rc__tls_dir;

typedef struct rc__tls_rec {
  rc__tls_dir rd, wr;
  uint8_t suite;
  uint8_t hdr_len;           /* bytes of a record header seen so far */
  uint8_t hdr[RC__TLS_REC_HDR];
  uint8_t *part;             /* a record split across reads, its size */
  uint32_t part_len;
  uint8_t alert;             /* the alert sent or received (events) */
} rc__tls_rec;

/* What rc__tls_rec_read met. */
typedef enum rc__tls_rec_ev {
  RC__TLS_REC_MORE = 0,    /* all input consumed */
  RC__TLS_REC_STOPPED,     /* io->data asked to stop */
  RC__TLS_REC_CLOSE_NOTIFY,/* the peer closed; later input is ignored */
  RC__TLS_REC_PEER_ALERT,  /* the peer sent fatal alert rec->alert */
  RC__TLS_REC_FAILED,      /* we sent fatal alert rec->alert (via out) */
  RC__TLS_REC_NOMEM
} rc__tls_rec_ev;

typedef struct rc__tls_rec_io {
  /* Plaintext of one or more application_data records. Non-zero: stop. */
  int (*data)(void *user, const uint8_t *d, size_t n);
  /* A sealed record to send (KeyUpdate answer, alert). Non-zero: stop. */
  int (*out)(void *user, const uint8_t *d, size_t n);
  void *user;
} rc__tls_rec_io;

/* Sets up r (zeroed by the caller) for suite from the two application
 * traffic secrets of length hash_len(suite) (rd: the peer's, wr: ours);
 * wr_seq records have already been sent under ours. -1 on a bad suite or
 * secret length, or a crypto failure. */
int rc__tls_rec_init(rc__tls_rec *r, rc__tls_suite suite,
                     const uint8_t *rd_secret, const uint8_t *wr_secret,
                     size_t secret_len, uint64_t wr_seq);
/* The suite of an IANA cipher suite number (0x1301..0x1303), or -1. */
int rc__tls_suite_of(uint16_t iana);
/* The hash length of a suite's HKDF (32 or 48). */
size_t rc__tls_suite_hash_len(rc__tls_suite suite);

/* Consumes all of in (or stops at an event), handing what it decrypts to
 * io->data. A record split across calls is kept in r->part (allocated
 * with mem, exactly its size, freed once whole). */
rc__tls_rec_ev rc__tls_rec_read(rc__tls_rec *r, const rc_mem *mem,
                                const uint8_t *in, size_t len,
                                const rc__tls_rec_io *io);

/* Seals n <= RC__TLS_REC_PLAIN_MAX bytes of content type type into out
 * (room for n + RC__TLS_REC_OVERHEAD), advancing the write sequence.
 * Returns the record's length, or 0 on a crypto failure. */
size_t rc__tls_rec_seal(rc__tls_rec *r, uint8_t type, const uint8_t *d,
                        size_t n, uint8_t *out);
/* Updates our write key after a KeyUpdate of ours went out (§7.2). */
int rc__tls_rec_update_write(rc__tls_rec *r);

/* The key length of a suite (16 or 32). */
size_t rc__tls_suite_key_len(rc__tls_suite suite);

/* tls_aead.c: the calling thread's AEAD context for suite and direction
 * (enc 1: seal), keyed with key (rc__tls_suite_key_len bytes); the caller
 * sets the nonce. NULL on a crypto failure. Valid until the next call. */
EVP_CIPHER_CTX *rc__tls_aead_ctx(rc__tls_suite suite, int enc,
                                 const uint8_t *key);
/* Frees the calling thread's AEAD contexts (its exit does too); the next
 * record makes them again. */
void rc__tls_aead_release(void);

/* Frees what r holds (the partial record) and wipes its keys. */
void rc__tls_rec_clear(rc__tls_rec *r, const rc_mem *mem);

#endif
