/*
 * STUN (RFC 8489) messages as ICE uses them: a parser that reads one
 * datagram into a view (pointers into the caller's bytes), an encoder that
 * writes one into the caller's buffer, MESSAGE-INTEGRITY (HMAC-SHA1) and
 * FINGERPRINT (CRC-32) both ways, and the RFC 7983 demultiplexing test.
 * Sans-I/O: no sockets, no clock, no allocation.
 */
#ifndef RCOAP_TRANSPORT_WEBRTC_STUN_H
#define RCOAP_TRANSPORT_WEBRTC_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rcoap/common.h"

#define RC_STUN_HEADER 20
#define RC_STUN_MAGIC 0x2112A442u
#define RC_STUN_TID_LEN 12
#define RC_STUN_HMAC_LEN 20

/* Methods and attribute types used here (RFC 8489 §18.2-18.3, RFC 8445
 * §16.1 for the ICE ones). */
#define RC_STUN_BINDING 0x0001
#define RC_STUN_ATTR_MAPPED_ADDRESS 0x0001
#define RC_STUN_ATTR_USERNAME 0x0006
#define RC_STUN_ATTR_MESSAGE_INTEGRITY 0x0008
#define RC_STUN_ATTR_ERROR_CODE 0x0009
#define RC_STUN_ATTR_UNKNOWN_ATTRIBUTES 0x000A
#define RC_STUN_ATTR_REALM 0x0014
#define RC_STUN_ATTR_NONCE 0x0015
#define RC_STUN_ATTR_XOR_MAPPED_ADDRESS 0x0020
#define RC_STUN_ATTR_PRIORITY 0x0024
#define RC_STUN_ATTR_USE_CANDIDATE 0x0025
#define RC_STUN_ATTR_SOFTWARE 0x8022
#define RC_STUN_ATTR_FINGERPRINT 0x8028
#define RC_STUN_ATTR_ICE_CONTROLLED 0x8029
#define RC_STUN_ATTR_ICE_CONTROLLING 0x802A

typedef enum rc_stun_class {
  RC_STUN_REQUEST = 0,
  RC_STUN_INDICATION = 1,
  RC_STUN_SUCCESS = 2,
  RC_STUN_ERROR = 3
} rc_stun_class;

/* Comprehension-required attributes we do not know, kept for a 420. */
#define RC_STUN_UNKNOWN_MAX 8

/* A parsed message. Byte pointers point into the parsed datagram and stay
 * valid as long as it does. */
typedef struct rc_stun_msg {
  uint16_t method;
  rc_stun_class cls;
  uint8_t tid[RC_STUN_TID_LEN];
  const uint8_t *username, *software, *realm, *nonce, *reason;
  size_t username_len, software_len, realm_len, nonce_len, reason_len;
  bool has_xor_mapped, has_priority, use_candidate;
  bool has_controlling, has_controlled, has_error;
  struct sockaddr_storage xor_mapped;
  uint32_t priority;
  uint64_t tie_breaker; /* ICE-CONTROLLING or ICE-CONTROLLED */
  uint16_t error_code;  /* 300..699 */
  size_t integrity_off; /* offset of MESSAGE-INTEGRITY's header, 0: none */
  bool has_fingerprint; /* present and correct (a wrong one fails parse) */
  uint16_t unknown[RC_STUN_UNKNOWN_MAX];
  size_t unknown_count;
} rc_stun_msg;

/* RFC 7983 §7: a datagram whose first byte is 0..3 is STUN; also checks
 * the length and magic cookie (RFC 8489 §5), so DTLS or SCTP bytes that
 * happen to start low are not taken for STUN. */
bool rc_stun_is(const uint8_t *p, size_t n);

/* Parses one STUN datagram. Attributes after MESSAGE-INTEGRITY other than
 * FINGERPRINT are ignored; a FINGERPRINT that is not the last attribute or
 * does not match fails. Returns RC_OK, RC_ERR_TRUNCATED (shorter than its
 * header says) or RC_ERR_PROTOCOL (not STUN, malformed attribute, bad
 * FINGERPRINT). */
rc_err rc_stun_parse(rc_stun_msg *m, const uint8_t *p, size_t n);

/* Whether m (parsed from p, n) carries a MESSAGE-INTEGRITY that matches
 * key (the short-term password, or the long-term MD5 key). */
bool rc_stun_integrity_ok(const rc_stun_msg *m, const uint8_t *p, size_t n,
                          const uint8_t *key, size_t key_len);

/* The encoder writes into the caller's buffer; the first failure (no room)
 * sticks in err and makes later calls do nothing. pad is the byte used to
 * pad attribute values to 4 bytes (0; receivers ignore it, RFC 8489 §14). */
typedef struct rc_stun_enc {
  uint8_t *buf;
  size_t cap, len;
  uint8_t pad;
  rc_err err;
} rc_stun_enc;

void rc_stun_enc_begin(rc_stun_enc *e, uint8_t *buf, size_t cap,
                       uint16_t method, rc_stun_class cls,
                       const uint8_t tid[RC_STUN_TID_LEN]);
void rc_stun_enc_attr(rc_stun_enc *e, uint16_t type, const void *v,
                      size_t len);
void rc_stun_enc_u32(rc_stun_enc *e, uint16_t type, uint32_t v);
void rc_stun_enc_u64(rc_stun_enc *e, uint16_t type, uint64_t v);
/* XOR-MAPPED-ADDRESS of an AF_INET or AF_INET6 address. */
void rc_stun_enc_xor_addr(rc_stun_enc *e, const struct sockaddr *a);
/* ERROR-CODE: code 300..699 and a reason phrase. */
void rc_stun_enc_error(rc_stun_enc *e, uint16_t code, const char *reason);
/* MESSAGE-INTEGRITY over everything written so far. */
void rc_stun_enc_integrity(rc_stun_enc *e, const uint8_t *key,
                           size_t key_len);
/* Ends the message, with a FINGERPRINT if fingerprint. Returns its length,
 * or RC_ERR_NOBUF / RC_ERR_INVAL. */
rc_ssize rc_stun_enc_end(rc_stun_enc *e, bool fingerprint);

/* A plain Binding request (RFC 8489 §3: no USERNAME, no
 * MESSAGE-INTEGRITY; a client learning its server-reflexive address) in
 * req (n bytes) answered into out: a Binding success response with the
 * request's transaction ID and from as XOR-MAPPED-ADDRESS, and a
 * FINGERPRINT only when the request had one, so the answer is never
 * longer than the request plus the mapped address (no amplifier).
 * Returns the answer's length, or 0 when req is no such request (not
 * STUN, not a Binding request, credentials, a comprehension-required
 * attribute we do not know) or cap is too small. */
size_t rc_stun_binding_answer(const uint8_t *req, size_t n,
                              const struct sockaddr *from, uint8_t *out,
                              size_t cap);
/* A fresh, cryptographically random transaction ID. */
void rc_stun_new_tid(uint8_t tid[RC_STUN_TID_LEN]);

#endif
