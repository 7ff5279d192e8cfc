/*
 * coaps+wr on a real UDP socket: CoAP over a WebRTC data channel
 * (draft-groves-coap-webrtcdc-02). One UDP socket carries ICE (STUN,
 * first byte 0-3) and DTLS (first byte 20-63), told apart per datagram
 * (RFC 7983 §7). ICE (transport/webrtc/ice.c) runs beside the chain;
 * once it has selected a pair, the peer is an rc_conn of kind
 * RC_CONN_WEBRTC on that socket whose chain is dtls -> sctp -> dcep ->
 * session (transport_stack.h, webrtc).
 *
 * What the two sides tell each other (SDP offer/answer) travels outside:
 * rc_wr_desc holds the part the transport needs, in plain fields; the
 * app turns SDP into it and back.
 *
 *   answerer (server): a listener of kind RC_CONN_WEBRTC (transport_
 *     listen.h, with a webrtc identity); for each offer,
 *     rc_wr_listener_answer() registers the expected peer and fills the
 *     answer: ICE-lite, DTLS client (a=setup:active), the listener's
 *     port on every local address. The peer's checks select the pair;
 *     the new conn goes to the listener's on_accept like any other.
 *   offerer (client): rc_wr_offer_new() binds a socket and fills the
 *     offer (a=setup:actpass, host candidates); rc_wr_connect() takes
 *     the answer and returns the conn: controlling ICE checks, then the
 *     DTLS role the answer left us, then our CoAP channel.
 */
#ifndef RCOAP_TRANSPORT_WEBRTC_H
#define RCOAP_TRANSPORT_WEBRTC_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rcoap/transport_conn.h"
#include "rcoap/transport_listen.h"
#include "rcoap/transport_tls.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RC_WR_CAND_MAX 8
#define RC_WR_CRED_MAX 256
/* How long an answered offer waits for the peer's ICE checks. */
#define RC_WR_PENDING_MS 30000u
/* How long an offerer waits for its STUN answer (rc_wr_offer_stun). */
#define RC_WR_STUN_WAIT_MS 500u

/* One side's transport facts from its session description. */
typedef struct rc_wr_desc {
  char ufrag[RC_WR_CRED_MAX + 1]; /* a=ice-ufrag */
  char pwd[RC_WR_CRED_MAX + 1];   /* a=ice-pwd */
  uint8_t fingerprint[RC_TLS_FINGERPRINT_LEN]; /* a=fingerprint:sha-256 */
  /* a=setup: 1 active (this side is the DTLS client), 0 passive,
   * 2 actpass (an offer: the answerer chooses). */
  int setup;
  int ice_lite;          /* a=ice-lite */
  uint16_t sctp_port;    /* a=sctp-port; 0: 5000 */
  uint32_t max_message;  /* a=max-message-size; 0: 65536 (RFC 8841 §6) */
  size_t ncand;          /* candidates (UDP) */
  struct sockaddr_storage cand[RC_WR_CAND_MAX];
  uint32_t prio[RC_WR_CAND_MAX];
  uint8_t srflx[RC_WR_CAND_MAX]; /* 1: server-reflexive, 0: host */
} rc_wr_desc;

enum { RC_WR_SETUP_PASSIVE = 0, RC_WR_SETUP_ACTIVE = 1, RC_WR_SETUP_ACTPASS = 2 };

/* A process's DTLS identity: a self-signed ECDSA P-256 certificate and its
 * SHA-256 fingerprint (RFC 8827 §6.5: no CA; the SDP carries the
 * fingerprint). */
typedef struct rc_wr_identity {
  char cert_file[256];
  char key_file[256];
  uint8_t fingerprint[RC_TLS_FINGERPRINT_LEN];
  /* The DTLS contexts made with this identity (one per peer) append
   * their secrets here (rc_tls_config.keylog_file); NULL: none. Not
   * owned: it must outlive the identity. */
  const char *keylog_file;
} rc_wr_identity;

/* Makes a new identity in a fresh directory under dir (NULL: $TMPDIR or
 * /tmp). Returns 0, RC_ERR_IO or RC_ERR_TLS. */
rc_err rc_wr_identity_make(rc_wr_identity *id, const char *dir);
/* Removes its files. */
void rc_wr_identity_remove(const rc_wr_identity *id);

/*
 * Answerer: expects the peer described by offer on listener l (kind
 * RC_CONN_WEBRTC) and fills answer. Loopback candidates are named only
 * when the offer's are loopback. Returns 0, RC_ERR_INVAL (not a webrtc
 * listener, an offer without credentials or candidates, or one that is
 * not actpass/active), RC_ERR_LIMIT (too many offers waiting), or
 * RC_ERR_NOMEM / RC_ERR_TLS.
 */
rc_err rc_wr_listener_answer(rc_listener *l, const rc_wr_desc *offer,
                             rc_wr_desc *answer);

/*
 * Answerer behind a NAT (a device that registered with a rendezvous
 * broker): sends a plain STUN Binding request (RFC 8489 §3) from l's
 * socket to server (NULL: the one given before) and keeps the
 * XOR-MAPPED-ADDRESS of its answer as a server-reflexive candidate
 * (RFC 8445 §5.1.1.1). From the first call on, answers are those of a
 * full ICE agent (no a=ice-lite) that sends checks to the offer's
 * candidates, so the NAT opens a mapping toward the peer, and they name
 * the srflx candidate once known. Call it again now and then: each
 * request refreshes the NAT's mapping (every answer sends one too).
 * Returns 0 or RC_ERR_INVAL (not a webrtc listener).
 */
rc_err rc_wr_listener_stun(rc_listener *l, const struct sockaddr *server);

/* A STUN server's address from text: "HOST:PORT", "[V6]:PORT", or a bare
 * host (a name, an IPv4 address, or an IPv6 one in brackets) with
 * default_port. Resolves names (blocking: for start-up). Returns 0 and
 * *out, or RC_ERR_BAD_HOST. */
rc_err rc_wr_stun_addr(const char *text, const char *default_port,
                       struct sockaddr_storage *out);

typedef struct rc_wr_offer rc_wr_offer;

/*
 * Offerer: binds a UDP socket (to bind_ip, NULL: all IPv4 addresses) and
 * fills offer: new ICE credentials, the identity's fingerprint, actpass,
 * the socket's port on every local IPv4 address (loopback too when
 * loopback is set). id is copied. Returns 0 and *out, or RC_ERR_IO /
 * RC_ERR_NOMEM.
 */
rc_err rc_wr_offer_new(rc_wr_offer **out, uv_loop_t *loop,
                       const rc_wr_identity *id, const char *bind_ip,
                       int loopback, rc_wr_desc *offer);
/* Drops an offer never connected. */
void rc_wr_offer_free(rc_wr_offer *o);

/* Offerer behind a NAT: a plain STUN Binding request from the offer's
 * socket to server (sent again by calling again); once its answer came,
 * rc_wr_offer_srflx appends that server-reflexive candidate to offer and
 * returns 1 (0: none known yet, or it is one of the host candidates).
 * Returns 0 or RC_ERR_INVAL. */
rc_err rc_wr_offer_stun(rc_wr_offer *o, const struct sockaddr *server);
int rc_wr_offer_srflx(const rc_wr_offer *o, rc_wr_desc *offer);

/*
 * Offerer: the answer came. Takes o over (also on error), starts ICE
 * toward the answer's candidates and returns the conn (on_open once the
 * channel is up, on_closed on any failure). opts: loop, cb, user,
 * session, handshake/connect timeouts, mem (kind, host, tls unused).
 * Returns 0 and *out, or RC_ERR_INVAL (no candidate, bad answer),
 * RC_ERR_NOMEM, RC_ERR_TLS.
 */
rc_err rc_wr_connect(rc_conn **out, rc_wr_offer *o, const rc_wr_desc *answer,
                     const rc_conn_connect_opts *opts);

/* Signaling text: {"type":"offer"|"answer","sdp":"..."} (the JSON a
 * browser's RTCSessionDescription serialises to), both SDP forms (RFC 8841
 * and the legacy DTLS/SCTP + a=sctpmap) read. */
#define RC_WR_SIGNAL_MAX 16384

/* Answerer: an offer in JSON to the answer in JSON (rc_wr_listener_answer
 * between). Returns 0 and *len, RC_ERR_SDP (not JSON, not an offer, bad
 * SDP: no data-channel section, no ICE credentials or fingerprint,
 * a=setup:active), RC_ERR_NOBUF, or rc_wr_listener_answer's errors; on an
 * error buf holds a sentence saying why (*len its length, maybe 0).
 * Media sections besides the data channel's are rejected in the answer
 * (port 0). A complete offer is expected (every candidate gathered); one
 * with none is fine too: the peer's checks reach our ICE-lite agent, which
 * learns the peer's address from them, so trickled candidates are never
 * needed. */
rc_err rc_wr_listener_answer_json(rc_listener *l, const char *offer_json,
                                  size_t n, char *buf, size_t cap,
                                  size_t *len);
/* Offerer: our offer as JSON; the answer's JSON into a desc. */
rc_err rc_wr_offer_json(const rc_wr_desc *offer, char *buf, size_t cap,
                        size_t *len);
rc_err rc_wr_answer_parse_json(const char *json, size_t n,
                               rc_wr_desc *answer);

/* Steps of a webrtc conn for "rcoap -v": "ICE connected to 1.2.3.4:5
 * (2 checks)". "" when none. Valid until on_closed returns. */
const char *rc_wr_conn_steps(const rc_conn *c);

#ifdef __cplusplus
}
#endif
#endif
