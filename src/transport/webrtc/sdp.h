/*
 * JSEP SDP for one WebRTC data channel (RFC 8829, RFC 8841, RFC 8839,
 * RFC 8122, RFC 8842): offers and answers read leniently into a
 * fixed-size rc_sdp (no allocation), written strictly back out.
 *
 * Read: the first m=application section carrying SCTP over DTLS, in the
 * RFC 8841 form (`UDP/DTLS/SCTP webrtc-datachannel` + `a=sctp-port`) or
 * the legacy one aiortc 1.4 sends (`DTLS/SCTP 5000` + `a=sctpmap`);
 * ice-ufrag/pwd, ice-lite, ice-options, the sha-256 fingerprint, setup,
 * mid, max-message-size (65536 when absent, RFC 8841 §6.1) and UDP
 * candidates with numeric IPv4/IPv6 addresses (mDNS `.local` names and
 * anything else unusable are counted in `skipped`, not fatal). Every
 * other m-section (audio, video, a second application section: what a
 * browser offers when the page also has media) is kept by its m= line's
 * media, proto, first format and a=mid, in order, so that an answer can
 * reject it; its other lines are ignored, as are unknown lines.
 * Session-level ICE and fingerprint attributes apply unless the section
 * has its own. A failure says why in `why`.
 *
 * Written (parse(emit(x)) == x for every field emitted): CRLF lines, the
 * session then the m-sections in order: ours in the form `legacy` says,
 * the others rejected (RFC 3264 §6: port 0, same media, proto and a
 * format; RFC 8843 §7.3.3: not in the BUNDLE group).
 * Sans-I/O: bytes in, bytes out.
 */
#ifndef RCOAP_TRANSPORT_WEBRTC_SDP_H
#define RCOAP_TRANSPORT_WEBRTC_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rcoap/common.h"

#define RC_SDP_CAND_MAX 16
#define RC_SDP_ICE_MAX 256 /* ice-ufrag and ice-pwd, RFC 8839 §5.4 */
#define RC_SDP_MID_MAX 32
#define RC_SDP_FOUNDATION_MAX 32 /* RFC 8839 §5.1: 1*32ice-char */
#define RC_SDP_FINGERPRINT_LEN 32 /* sha-256 */
#define RC_SDP_TEXT_MAX 16384     /* the longest SDP we read */
#define RC_SDP_DEFAULT_MAX_MESSAGE 65536
#define RC_SDP_MEDIA_MAX 8 /* m-sections in one description */

typedef enum rc_sdp_setup {
  RC_SDP_SETUP_NONE, /* no a=setup line */
  RC_SDP_SETUP_ACTPASS,
  RC_SDP_SETUP_ACTIVE, /* DTLS client */
  RC_SDP_SETUP_PASSIVE /* DTLS server */
} rc_sdp_setup;

typedef enum rc_sdp_cand_type {
  RC_SDP_CAND_HOST,
  RC_SDP_CAND_SRFLX,
  RC_SDP_CAND_PRFLX,
  RC_SDP_CAND_RELAY
} rc_sdp_cand_type;

typedef struct rc_sdp_cand {
  char foundation[RC_SDP_FOUNDATION_MAX + 1];
  uint16_t component; /* 1: data channels use one component */
  uint32_t priority;
  struct sockaddr_storage addr; /* AF_INET or AF_INET6, UDP */
  rc_sdp_cand_type type;
} rc_sdp_cand;

/* An m-section that is not our data channel (an answer rejects it). */
typedef struct rc_sdp_media {
  char media[16]; /* audio, video, application, ... */
  char proto[32]; /* UDP/TLS/RTP/SAVPF, ... */
  char fmt[32];   /* its first format */
  char mid[RC_SDP_MID_MAX + 1];
} rc_sdp_media;

typedef struct rc_sdp {
  uint64_t session_id, session_version; /* o= line */
  bool legacy;         /* DTLS/SCTP + a=sctpmap instead of RFC 8841 */
  uint16_t media_port; /* the m= line's port (9 when unknown) */
  char mid[RC_SDP_MID_MAX + 1];
  char ice_ufrag[RC_SDP_ICE_MAX + 1], ice_pwd[RC_SDP_ICE_MAX + 1];
  bool ice_lite, ice_trickle, end_of_candidates;
  rc_sdp_setup setup;
  uint8_t fingerprint[RC_SDP_FINGERPRINT_LEN]; /* sha-256 of the cert */
  uint16_t sctp_port;                          /* 5000 when absent */
  uint32_t max_message_size;                   /* 65536 when absent */
  rc_sdp_cand cand[RC_SDP_CAND_MAX];
  size_t ncand;
  size_t skipped; /* candidates not kept (.local, TCP, hostnames, full) */
  /* Every m-section in order (0: only ours); media[ours] is ours (its
   * mid in `mid` above), the others are rejected in an answer. */
  rc_sdp_media media[RC_SDP_MEDIA_MAX];
  size_t nmedia, ours;
  const char *why; /* rc_sdp_parse's reason for RC_ERR_SDP (static text) */
} rc_sdp;

/* Reads an offer or answer (len bytes, no NUL needed). Returns RC_OK, or
 * RC_ERR_SDP (no data-channel section, or no ice-ufrag, ice-pwd or
 * sha-256 fingerprint for it; a malformed value of a line we use) or
 * RC_ERR_TOO_LARGE (longer than RC_SDP_TEXT_MAX). */
rc_err rc_sdp_parse(rc_sdp *out, const char *text, size_t len);

/* Writes desc as SDP into buf (cap bytes), NUL-terminated, its length in
 * *len. Returns RC_OK, RC_ERR_NOBUF or RC_ERR_INVAL (empty ICE
 * credentials or mid, a setup of NONE, a value with spaces or line
 * breaks). */
rc_err rc_sdp_emit(char *buf, size_t cap, size_t *len, const rc_sdp *desc);

/* What we put in our own description. */
typedef struct rc_sdp_local {
  const char *ice_ufrag, *ice_pwd; /* rc_ice_make_credentials */
  const uint8_t *fingerprint;      /* RC_SDP_FINGERPRINT_LEN bytes */
  rc_sdp_setup setup;              /* answer to actpass: ACTIVE or PASSIVE */
  bool ice_lite;
  const rc_sdp_cand *cand; /* our candidates (copied) */
  size_t ncand;
  uint32_t max_message_size; /* 0: 65536 */
  uint64_t session_id;       /* the caller's random number */
} rc_sdp_local;

/* The answer to offer from local: same form (legacy or not), same mid,
 * SCTP port 5000, the offer's other m-sections rejected in their places. Setup (RFC 8842 §5.3): to actpass, local->setup
 * (ACTIVE or PASSIVE); to active, passive; to passive, active. Returns
 * RC_OK or RC_ERR_INVAL (local incomplete, more than RC_SDP_CAND_MAX
 * candidates, setup not ACTIVE/PASSIVE) or RC_ERR_SDP (the offer has
 * setup NONE with... never: NONE is taken as actpass). */
rc_err rc_sdp_answer_for(rc_sdp *answer, const rc_sdp *offer,
                         const rc_sdp_local *local);

/* An RFC 8841 offer from local: setup actpass, mid "0", trickle off.
 * Returns RC_OK or RC_ERR_INVAL. */
rc_err rc_sdp_offer(rc_sdp *offer, const rc_sdp_local *local);

#endif
