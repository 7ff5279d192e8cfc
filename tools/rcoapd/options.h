/*
 * rcoapd's command line, parsed into one struct.
 */
#ifndef RCOAPD_OPTIONS_H
#define RCOAPD_OPTIONS_H

#include <stddef.h>

#define OPT_MAX_LISTEN 16
#define OPT_MAX_CERTS 8
#define OPT_MAX_ORIGINS 16
#define OPT_MAX_PROXY_RULES 32
#define OPT_MAX_PEER_RULES 8 /* per name */
#define OPT_MAX_PEERS_ALLOW 64

typedef struct rcoapd_opts {
  const char *listen[OPT_MAX_LISTEN];
  size_t nlisten;
  const char *cert[OPT_MAX_CERTS];
  const char *key[OPT_MAX_CERTS];
  size_t ncerts;
  const char *cafile;
  int client_auth;         /* rc_tls_client_auth */
  const char *psk_identity;
  const char *psk_key;
  const char *psk_key_file; /* the key from a file, not argv */
  const char *psk_keys_file; /* --psk-keys-file: a key per identity */
  const char *psk_hint;      /* --psk-hint: TLS 1.2 identity hint, or none */
  const char *access_log;  /* --access-log FILE ("-": stdout) */
  int stats;               /* --stats: RFC 7252 counters at exit */
  const char *keylog;      /* --keylog FILE, else $SSLKEYLOGFILE */
  long ack_timeout_ms;     /* --ack-timeout; 0: the default */
  long max_retransmit;     /* --max-retransmit; -1: the default */
  int allow_no_alpn;
  int no_tickets;
  int keep_ssl; /* --tls-keep-ssl */
  const char *state_dir;   /* demo certificate lives here */
  const char *web_root;
  const char *serve_dir;   /* --serve-dir: read-only folder under /files */
  int no_sendfile;         /* --no-sendfile: its blocks read, not sent */
  const char *origins[OPT_MAX_ORIGINS];
  size_t norigins;
  const char *release_to;  /* Alternative-Address in our shutdown Release */
  long hold_off_s;         /* Hold-Off in it; -1: none */
  unsigned handshake_timeout_ms;
  unsigned idle_timeout_ms;
  unsigned park_after_ms;  /* --park-after; 0: never park */
  size_t body_memory;      /* --body-memory; 0: the library's default */
  size_t max_pending;      /* --max-pending; 0: the library's default */
  size_t max_unrequested;  /* --max-unrequested-body; 0: no cap */
  long amp_factor;         /* --amplification-factor; -1: the default */
  int multicast;           /* --multicast: discovery on the groups */
  const char *multicast_if; /* --multicast-if NAME */
  unsigned leisure_ms;     /* --leisure MS; 0: the default (5000) */
  int proxy;               /* --proxy: forward proxying on */
  const char *proxy_allow[OPT_MAX_PROXY_RULES];
  size_t nproxy_allow;
  const char *routes[OPT_MAX_PROXY_RULES]; /* "/prefix=uri" */
  size_t nroutes;
  unsigned proxy_timeout_ms;
  size_t proxy_cache;      /* --proxy-cache bytes; 0: no cache */
  unsigned proxy_backoff_min_ms, proxy_backoff_max_ms; /* --proxy-backoff */
  const char *proxy_signal; /* --proxy-signal: coaps+wr upstreams' offers */
  /* coaps+wr rendezvous: broker side (wr_broker.c) */
  const char *peer_rules[OPT_MAX_PEERS_ALLOW]; /* --webrtc-peers-allow */
  size_t npeer_rules;
  unsigned peers_timeout_ms;   /* --webrtc-peers-timeout; 0: 10000 */
  /* device side (wr_register.c) */
  const char *webrtc_register; /* --webrtc-register URI */
  const char *webrtc_register_secret; /* --webrtc-register-secret-file */
  /* TLS toward the broker (coaps+tcp, coaps+ws): who we are, whom we
   * trust */
  const char *reg_cert, *reg_cert_key; /* --webrtc-register-cert[-key] */
  const char *reg_psk_identity;        /* --webrtc-register-psk-identity */
  const char *reg_psk_key_file;        /* --webrtc-register-psk-key-file */
  const char *reg_cafile;              /* --webrtc-register-cafile */
  const char *webrtc_stun;     /* --webrtc-stun HOST:PORT */
  int verbose;
  int quiet;
} rcoapd_opts;

/* Parses argv. Returns 0 to run, 1 when done (--help, --version), -1 on a
 * usage error (already reported). */
int rcoapd_parse(int argc, char **argv, rcoapd_opts *o);

#endif
