/*
 * The filter stacks of the RFC 8323 transports, built onto a chain
 * (transport_chain.h): coap+tcp has none, coaps+tcp tls, coap+ws ws,
 * coaps+ws tls then ws. This is the one place that knows which filters a
 * transport needs; the connection (conn.c), rcoap-bench and the tests
 * build their chains through it. (A datagram transport adds its own
 * stacks here.) coaps:// (datagram with tls) has dtls; coaps+wr (webrtc)
 * has dtls, sctp and dcep (ICE runs beside the chain, on the socket).
 */
#ifndef RCOAP_TRANSPORT_STACK_H
#define RCOAP_TRANSPORT_STACK_H

#include "rcoap/session.h"
#include "rcoap/transport_dcep.h"
#include "rcoap/transport_dtls.h"
#include "rcoap/transport_sctp.h"
#include "rcoap/transport_chain.h"
#include "rcoap/transport_tls.h"
#include "rcoap/transport_ws.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rc_stack_config {
  rc_session_role role;
  /* tls: a TLS filter at the bottom, with tls_ctx (borrowed: the filter
   * takes its own reference; NULL fails with RC_ERR_INVAL). */
  int tls;
  rc_tls_ctx *tls_ctx;
  /* Client: the URI host (SNI, certificate name, WS Host) and port. */
  const char *host;
  uint16_t port;
  /* ws: a WebSocket filter on top. ws_cfg may be NULL (defaults);
   * max_message 0 takes max_message below, budget NULL takes budget
   * below, mem NULL the chain's, and for a client host/port/tls come
   * from the fields above when ws_cfg leaves them unset. */
  int ws;
  const rc_ws_config *ws_cfg;
  /* datagram: the socket carries datagrams (coap:// over UDP); the
   * session runs RFC 7252 framing and the chain keeps datagram
   * boundaries. With tls too (coaps://) the filter is a DTLS one
   * (transport_dtls.h) on tls_ctx, a datagram context; peer/peer_len
   * is the remote address (a server's cookie key) and now starts its
   * handshake deadline. */
  int datagram;
  const void *peer;
  size_t peer_len;
  rc_time now;
  /* webrtc: a WebRTC data channel (coaps+wr): dtls on tls_ctx (a
   * datagram context in the role a=setup gave, the peer checked by its
   * a=fingerprint), sctp (transport_sctp.h) and dcep (transport_dcep.h);
   * the session runs the WebSocket form in message mode. webrtc_open: we
   * open the CoAP channel (else we wait for the peer's OPEN). sctp_port:
   * the peer's a=sctp-port (0: 5000). now starts the timers. */
  int webrtc;
  int webrtc_open;
  uint16_t sctp_port;
  /* webrtc: the largest SCTP packet (one DTLS record, one datagram) the
   * path takes; 0: RC_SCTP_DEFAULT_MTU on the context's DTLS mtu. */
  size_t webrtc_packet;
  /* webrtc: the bytes the UDP socket below really holds (SO_RCVBUF read
   * back); the SCTP receive window stays within it. 0: not known. */
  size_t webrtc_rcvbuf;
  /* webrtc: the peer's a=fingerprint when tls_ctx is shared by many peers
   * (rc_dtls_set_peer_fingerprint); NULL: the context's. */
  const uint8_t *peer_fp;
  size_t max_message;  /* the session's Max-Message-Size */
  rc_budget *budget;   /* the session's rx_budget (may be NULL) */
  const rc_mem *mem;
} rc_stack_config;

/* The framing the session of such a stack runs in: RC_FRAMING_UDP for a
 * datagram stack, RC_FRAMING_WS when the top filter carries whole
 * messages (ws, webrtc), else RC_FRAMING_TCP. */
rc_framing rc_stack_framing(const rc_stack_config *cfg);

/*
 * Pushes the filters onto ch (before rc_chain_start). Returns 0 or the
 * filter constructor's error (the chain still owns what was pushed).
 */
rc_err rc_stack_build(rc_chain *ch, const rc_stack_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
