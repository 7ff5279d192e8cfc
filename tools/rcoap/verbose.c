/*
 * rcoap -v: every message both ways, the log and what TLS settled, on
 * stderr; without -v only errors are logged.
 */
#include <stdio.h>

#include "rcoap/codec_print.h"
#include "rcoap/transport_webrtc.h"
#include "verbose.h"

void verbose_on_log(void *user, int level, const char *text) {
  (void)user;
  fprintf(stderr, "rcoap: %s%s\n",
          level <= RC_SESSION_LOG_ERR ? "error: " : "", text);
}

/* -v: what the TLS handshake settled, once the connection is open. */
void verbose_on_conn_open(void *user, rc_conn *c) {
  (void)user;
  const char *wr = rc_wr_conn_steps(c);
  if (wr[0])
    fprintf(stderr, "rcoap: WebRTC: %s; data channel open\n", wr);
  rc_filter *f = rc_conn_tls(c);
  if (!f)
    return;
  rc_tls_peer peer;
  if (rc_tls_peer_info(f, &peer) != RC_OK)
    return;
  fprintf(stderr, "rcoap: TLS: %s %s, ALPN %s, %s session\n",
          rc_tls_protocol(f), rc_tls_cipher(f),
          rc_tls_alpn(f)[0] ? rc_tls_alpn(f) : "none",
          rc_tls_resumed(f) ? "resumed" : "new");
  if (peer.has_cert) {
    char hex[RC_TLS_FINGERPRINT_HEX_LEN];
    rc_tls_fingerprint_hex(peer.fingerprint, hex);
    fprintf(stderr,
            "rcoap: TLS: server certificate CN=%s%s%s%s, %s\n"
            "rcoap: TLS: SHA-256 fingerprint %s\n",
            peer.subject_cn, *peer.sans ? " (" : "", peer.sans,
            *peer.sans ? ")" : "",
            peer.verified ? "verified" : "NOT verified", hex);
  } else if (peer.psk_identity_len) {
    fprintf(stderr, "rcoap: TLS: pre-shared key, identity \"%.*s\"\n",
            (int)peer.psk_identity_len, (const char *)peer.psk_identity);
  }
}

void verbose_on_trace(void *user, char dir, const rc_msg *m) {
  (void)user;
  char line[1024];
  rc_msg_format(m, line, sizeof line);
  fprintf(stderr, "%c %s\n", dir, line);
}

