/*
 * The RFC 8323 filter stacks (transport_stack.h): which filters each
 * transport needs, made with the chain's sinks and pushed bottom first.
 */
#include <string.h>

#include "rcoap/transport_stack.h"

rc_framing rc_stack_framing(const rc_stack_config *cfg) {
  /* draft-groves-coap-webrtcdc-02 §3.6: the RFC 8323 header with the
   * length "set to 0", one message per SCTP user message: the WS form. */
  if (cfg->webrtc)
    return RC_FRAMING_WS;
  if (cfg->datagram)
    return RC_FRAMING_UDP;
  /* RFC 8323 §4: over WebSockets one CoAP message is one WS message. */
  return cfg->ws ? RC_FRAMING_WS : RC_FRAMING_TCP;
}

static rc_err stack_ws(rc_chain *ch, const rc_stack_config *cfg) {
  rc_ws_config wc;
  if (cfg->ws_cfg != NULL)
    wc = *cfg->ws_cfg;
  else
    memset(&wc, 0, sizeof wc);
  if (wc.max_message == 0)
    wc.max_message = cfg->max_message;
  if (wc.budget == NULL)
    wc.budget = cfg->budget; /* one budget with the session's input */
  if (wc.mem == NULL)
    wc.mem = cfg->mem;
  if (cfg->role == RC_SESSION_CLIENT) {
    if (wc.host == NULL)
      wc.host = cfg->host;
    if (wc.port == 0)
      wc.port = cfg->port;
    if (cfg->tls)
      wc.tls = 1;
  }
  rc_filter_sink sink = rc_chain_next_sink(ch);
  rc_filter *f = NULL;
  rc_err err = cfg->role == RC_SESSION_CLIENT
                   ? rc_ws_client_new(&f, &wc, &sink)
                   : rc_ws_server_new(&f, &wc, &sink);
  return err != RC_OK ? err : rc_chain_push(ch, f);
}

/* coaps+wr: dtls (client or server as the context says), sctp, dcep. */
static rc_err stack_webrtc(rc_chain *ch, const rc_stack_config *cfg) {
  if (cfg->tls_ctx == NULL)
    return RC_ERR_INVAL;
  rc_filter_sink sink = rc_chain_next_sink(ch);
  rc_filter *f = NULL;
  rc_err err = rc_dtls_filter_new(&f, cfg->tls_ctx, NULL, 0, cfg->peer,
                                  cfg->peer_len, cfg->now, &sink);
  if (err != RC_OK || (err = rc_chain_push(ch, f)) != RC_OK)
    return err;
  /* A larger SCTP packet: the DTLS datagram grows by the record's
   * overhead, as RC_SCTP_DEFAULT_MTU sits under RC_DTLS_DEFAULT_MTU. */
  if (cfg->webrtc_packet > 0 &&
      (err = rc_dtls_set_mtu(f, cfg->webrtc_packet + RC_DTLS_DEFAULT_MTU -
                                    RC_SCTP_DEFAULT_MTU)) != RC_OK)
    return err;
  if (cfg->peer_fp != NULL &&
      (err = rc_dtls_set_peer_fingerprint(f, cfg->peer_fp)) != RC_OK)
    return err;
  int dtls_client = rc_tls_ctx_role(cfg->tls_ctx) == RC_TLS_CLIENT;
  rc_sctp_config sc = {.remote_port = cfg->sctp_port,
                       .mtu = cfg->webrtc_packet,
                       .max_message = cfg->max_message,
                       .rcvbuf = cfg->webrtc_rcvbuf,
                       .now = cfg->now,
                       .mem = cfg->mem};
  sink = rc_chain_next_sink(ch);
  if ((err = rc_sctp_filter_new(&f, &sc, &sink)) != RC_OK ||
      (err = rc_chain_push(ch, f)) != RC_OK)
    return err;
  rc_dcep_config dc = {.dtls_client = dtls_client,
                       .open_channel = cfg->webrtc_open,
                       .mem = cfg->mem};
  sink = rc_chain_next_sink(ch);
  if ((err = rc_dcep_filter_new(&f, &dc, &sink)) != RC_OK)
    return err;
  return rc_chain_push(ch, f);
}

rc_err rc_stack_build(rc_chain *ch, const rc_stack_config *cfg) {
  if (cfg->webrtc)
    return stack_webrtc(ch, cfg);
  if (cfg->tls && cfg->datagram) {
    rc_filter_sink sink = rc_chain_next_sink(ch);
    rc_filter *f = NULL;
    int client = cfg->role == RC_SESSION_CLIENT;
    rc_err err = rc_dtls_filter_new(&f, cfg->tls_ctx,
                                    client ? cfg->host : NULL,
                                    client ? cfg->port : 0, cfg->peer,
                                    cfg->peer_len, cfg->now, &sink);
    return err != RC_OK ? err : rc_chain_push(ch, f);
  }
  if (cfg->tls) {
    rc_filter_sink sink = rc_chain_next_sink(ch);
    rc_filter *f = NULL;
    const char *host = cfg->role == RC_SESSION_CLIENT ? cfg->host : NULL;
    uint16_t port = cfg->role == RC_SESSION_CLIENT ? cfg->port : 0;
    rc_err err = rc_tls_filter_new(&f, cfg->tls_ctx, host, port, &sink);
    if (err == RC_OK)
      err = rc_chain_push(ch, f);
    if (err == RC_OK && cfg->ws)
      err = rc_tls_set_http(f); /* coaps+ws: HTTPS's ALPN (http/1.1) */
    if (err != RC_OK)
      return err;
  }
  return cfg->ws ? stack_ws(ch, cfg) : RC_OK;
}
