/*
 * A small sans-I/O ICE agent (RFC 8445) for one data-channel component
 * on one local UDP socket.
 *
 * Controlled (cfg.controlling == 0): ICE-lite toward a full agent such as
 * a browser (RFC 8445 §2.5): it sends nothing but responses. A Binding
 * request whose USERNAME is "<local ufrag>:<remote ufrag>" and whose
 * MESSAGE-INTEGRITY verifies with the local password is answered from any
 * source (one never named in the SDP becomes a peer-reflexive candidate);
 * the pair is selected on USE-CANDIDATE.
 *
 * Controlling (cfg.controlling == 1): a full agent toward another rcoap:
 * checks to every remote candidate, paced (Ta 50 ms) and retransmitted
 * (RTO 500 ms doubling, 7 sends), then regular nomination (a second check
 * with USE-CANDIDATE on the first pair that succeeded).
 *
 * Controlled and full (cfg.full): as controlling, checks go out to every
 * remote candidate (without USE-CANDIDATE), so that a NAT in front of us
 * opens a mapping toward the peer (RFC 8445 §2.5: a lite agent cannot sit
 * behind a NAT); the pair is still selected on the controlling side's
 * USE-CANDIDATE. Checks that all fail do not fail the agent: the
 * controlling side's may still come.
 *
 * Both roles answer checks, resolve role conflicts (487) and keep consent
 * (RFC 7675): once connected the controlling agent sends a consent
 * request every 5 s (randomised 0.8..1.2); consent is lost, and the state
 * FAILED, 30 s after the last authenticated response (controlling) or
 * request from the selected address (controlled).
 *
 * With no remote candidate and no check arriving, the agent waits (NEW or
 * CHECKING) for ever: the caller bounds the whole set-up.
 *
 * The caller owns the socket and the clock: every datagram whose first
 * byte is 0..3 (rc_stun_is) goes to rc_ice_recv; rc_ice_pull hands out
 * what to send; rc_ice_next_timeout / rc_ice_timeout drive the timers.
 */
#ifndef RCOAP_TRANSPORT_WEBRTC_ICE_H
#define RCOAP_TRANSPORT_WEBRTC_ICE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rcoap/common.h"

typedef struct rc_ice rc_ice;

typedef enum rc_ice_state {
  RC_ICE_NEW,
  RC_ICE_CHECKING,
  RC_ICE_CONNECTED,
  RC_ICE_FAILED
} rc_ice_state;

typedef struct rc_ice_cfg {
  int controlling; /* 1: we run checks and nominate */
  /* From rc_ice_make_credentials or the caller; copied. ufrag 4..256
   * ice-chars, pwd 22..256 (RFC 8839 §5.4). */
  const char *local_ufrag, *local_pwd;
  int full; /* controlled: send checks too (behind a NAT) */
} rc_ice_cfg;

/* Remote candidates kept (from the SDP and learned peer-reflexive). */
#define RC_ICE_REMOTE_MAX 16
/* Datagrams waiting in rc_ice_pull; more are dropped (the peer resends). */
#define RC_ICE_QUEUE_MAX 8
/* The consent timers (RFC 7675 §5.1) and check timers (RFC 8445 §14). */
#define RC_ICE_CONSENT_INTERVAL_MS 5000
#define RC_ICE_CONSENT_TIMEOUT_MS 30000
#define RC_ICE_TA_MS 50
#define RC_ICE_RTO_MS 500
#define RC_ICE_MAX_SENDS 7

/* Returns RC_OK, RC_ERR_INVAL (bad credentials) or RC_ERR_NOMEM. */
rc_err rc_ice_new(rc_ice **out, const rc_ice_cfg *cfg, uint64_t now_ms);
void rc_ice_free(rc_ice *ice);

/* Random credentials from the ice-char set (RFC 8839 §5.4: ALPHA / DIGIT
 * / "+" / "/"): an 8-character ufrag and a 32-character password (at
 * least 128 bits of randomness for the password), NUL-terminated. */
void rc_ice_make_credentials(char ufrag[9], char pwd[33]);

/* The remote ufrag and password (from the SDP). Checks start only once
 * they are set. Returns RC_OK, RC_ERR_INVAL or RC_ERR_NOMEM. */
rc_err rc_ice_set_remote(rc_ice *ice, const char *ufrag, const char *pwd);

/* A remote candidate (AF_INET or AF_INET6; a v4-mapped IPv6 address is
 * taken as IPv4). Returns RC_OK, RC_ERR_EXISTS (known: its priority is
 * kept), RC_ERR_LIMIT (RC_ICE_REMOTE_MAX reached) or RC_ERR_INVAL. */
rc_err rc_ice_add_remote_candidate(rc_ice *ice, const struct sockaddr *addr,
                                   uint32_t priority);

/* One STUN datagram from `from`. Returns RC_OK (used or harmlessly
 * ignored: an indication, a stray response), RC_ERR_PROTOCOL (not a STUN
 * message, or a request without USERNAME/MESSAGE-INTEGRITY: answered
 * 400), RC_ERR_STUN_AUTH (wrong USERNAME or MESSAGE-INTEGRITY: a request
 * is answered 401, a response dropped; no state changes) or RC_ERR_STATE
 * (the agent has FAILED). */
rc_err rc_ice_recv(rc_ice *ice, uint64_t now_ms, const struct sockaddr *from,
                   const uint8_t *p, size_t n);

/* The next datagram to send into buf (cap bytes; 640 always suffice) and
 * its destination; runs the timers due at now_ms first. Returns its
 * length, 0 if there is none (or it did not fit: it is dropped). */
size_t rc_ice_pull(rc_ice *ice, uint64_t now_ms, struct sockaddr_storage *to,
                   uint8_t *buf, size_t cap);

/* When rc_ice_timeout (or rc_ice_pull) next has work: 0 when a datagram
 * is waiting, UINT64_MAX if none. */
uint64_t rc_ice_next_timeout(const rc_ice *ice);
void rc_ice_timeout(rc_ice *ice, uint64_t now_ms);

rc_ice_state rc_ice_get_state(const rc_ice *ice);

/* Remote address of the selected pair, NULL before one is selected.
 * Valid until the next call on ice. */
const struct sockaddr *rc_ice_selected(const rc_ice *ice);

/* Whether we are controlling now (a role conflict may have switched). */
int rc_ice_controlling(const rc_ice *ice);

/* Whether a and b (AF_INET or AF_INET6) are the same address and port. */
int rc_ice_same_addr(const struct sockaddr_storage *a,
                     const struct sockaddr_storage *b);

#endif
