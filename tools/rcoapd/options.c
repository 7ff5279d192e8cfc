/*
 * rcoapd's command line: every option, its check, and the usage text.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "options.h"
#include "rcoap/transport_tls.h"
#include "rcoap/version.h"

static void usage(FILE *f) {
  fprintf(f,
    "usage: rcoapd [options]\n"
    "\n"
    "Serves the demo resources (/hello, /time, /echo, /store/NAME,\n"
    "/sensors/temp, /counter, /log, /sink, /slow, /large,\n"
    "/.well-known/core;\n"
    "README lists what each does) over CoAP on UDP, TCP, TLS and\n"
    "WebSockets, and the web demo page on its WebSocket ports.\n"
    "\n"
    "listening:\n"
    "  -l, --listen SCHEME://ADDR[:PORT]  listen there (repeatable); schemes\n"
    "                   coap, coaps, coap+tcp, coaps+tcp, coap+ws, coaps+ws.\n"
    "                   Port 0 picks a free port. Default: 127.0.0.1 and ::1\n"
    "                   on coap (UDP) 5683, coaps (DTLS) 5684, coap+tcp 5683,\n"
    "                   coaps+tcp 5684, coap+ws 8080, coaps+ws 8443.\n"
    "      --handshake-timeout MS   TLS handshake + WS upgrade limit (10000)\n"
    "      --idle-timeout MS        close idle connections (0 = never)\n"
    "      --park-after SECONDS     fold a coap+tcp connection quiet that\n"
    "                   long into a small record until its next byte\n"
    "                   (decimals allowed; 0 = never; default 2)\n"
    "      --release-to HOST:PORT   on shutdown, ask clients to reconnect\n"
    "                   there (Release Alternative-Address, RFC 8323 §5.5)\n"
    "      --hold-off SECONDS       on shutdown, ask clients to wait that\n"
    "                   long before reconnecting (Release Hold-Off)\n"
    "limits:\n"
    "      --body-memory SIZE       memory clients can make rcoapd hold,\n"
    "                   all connections together: large messages arriving,\n"
    "                   request bodies being reassembled, response bodies\n"
    "                   cached between blocks (512M; suffixes k, M, G);\n"
    "                   beyond it requests get 5.03 (later) or 4.13 (never)\n"
    "      --max-pending N          requests one connection may have\n"
    "                   waiting for a slow answer (1024); more get 5.03\n"
    "      --max-unrequested-body SIZE  largest body sent whole to a client\n"
    "                   that asked for no block size; larger ones go\n"
    "                   block-wise (Block2) in blocks of at most SIZE. 1024\n"
    "                   serves libcoap <= 4.3.5 over WebSockets, which cannot\n"
    "                   take more than 1472 bytes (docs/INTEROP.md)\n"
    "      --amplification-factor N  coap:// (UDP): to a client whose\n"
    "                   address is not confirmed yet, a response more than\n"
    "                   N times its request's size goes as 4.01 with an\n"
    "                   Echo option instead; the client repeats the\n"
    "                   request with it (RFC 9175 §2.4). 3 by default;\n"
    "                   0 = off (coaps:// needs none: DTLS has a cookie)\n"
    "multicast discovery (RFC 7252 §8):\n"
    "      --multicast              answer GET /.well-known/core sent to\n"
    "                   224.0.1.187 or ff02::fd port 5683 (NON, after a\n"
    "                   random leisure, from the coap:// listener; nothing\n"
    "                   for other requests or an empty filtered list)\n"
    "      --multicast-if NAME      join on this interface (default: the\n"
    "                   system's choice)\n"
    "      --leisure MS             longest random delay of an answer\n"
    "                   (5000, RFC 7252 DEFAULT_LEISURE)\n"
    "proxy (RFC 7252 §5.7, RFC 8768 Hop-Limit):\n"
    "      --proxy                  forward requests with Proxy-Uri or\n"
    "                   Proxy-Scheme to allowed destinations (else 5.05)\n"
    "      --proxy-allow PATTERN    allowed destination, repeatable:\n"
    "                   SCHEME://HOST:PORT, each part may be '*', HOST may\n"
    "                   end in '*' (e.g. coap://127.0.0.1:*); none by default\n"
    "      --route PREFIX=URI       reverse proxy: PREFIX and the paths under\n"
    "                   it go to URI with the rest of the path appended\n"
    "                   (repeatable; listed in /.well-known/core)\n"
    "      --proxy-timeout MS       upstream answer deadline (30000): 5.04\n"
    "      --proxy-cache SIZE       response cache for every transport\n"
    "                   (RFC 7252 §5.6; default 8M, 0: none)\n"
    "      --proxy-backoff MIN,MAX  an unreachable origin is not tried\n"
    "                   again for MIN ms, doubling up to MAX (1000,30000);\n"
    "                   meanwhile its requests get 5.03 with Max-Age;\n"
    "                   a lost observe relay registers again at that pace\n"
    "      --proxy-signal URI       coaps+wr upstreams: POST the WebRTC offer\n"
    "                   here (default coap+ws://HOST/webrtc; no answer: 5.02)\n"
    "WebRTC rendezvous (coaps+wr to a peer behind a NAT, docs/RENDEZVOUS.md):\n"
    "      --webrtc-peers-allow NAME=RULE  broker: serve /webrtc/peers/NAME;\n"
    "                   the device that may register NAME is the client\n"
    "                   matching RULE (repeatable; any rule of the name):\n"
    "                   cn:CN (TLS client certificate, --cafile and\n"
    "                   --client-auth), psk:IDENTITY (coaps+tcp/coaps+ws\n"
    "                   PSK), secret-file:FILE (a shared key, the file's first\n"
    "                   line, sent as ?secret=), addr:IP (its address)\n"
    "      --webrtc-peers-timeout MS  an offer waits that long for the\n"
    "                   device's answer, then 5.04 (10000)\n"
    "      --webrtc-register URI    device: register at a broker\n"
    "                   (coap+ws://BROKER/webrtc/peers/NAME; coaps+ws,\n"
    "                   coap+tcp, coaps+tcp) and answer the offers it\n"
    "                   passes on, from -l coaps+wr://...\n"
    "      --webrtc-register-secret-file FILE  the shared key to send\n"
    "      --webrtc-register-cert FILE --webrtc-register-cert-key FILE\n"
    "                   client certificate toward a coaps+ broker\n"
    "      --webrtc-register-psk-identity ID --webrtc-register-psk-key-file\n"
    "                   FILE   PSK toward a coaps+ broker\n"
    "      --webrtc-register-cafile FILE  CAs to verify the broker with\n"
    "      --webrtc-stun HOST:PORT  where to learn our address outside the\n"
    "                   NAT (a broker's coaps+wr port; default BROKER:3478)\n"
    "TLS (coaps, coaps+tcp, coaps+ws):\n"
    "      --keylog FILE            append the TLS and DTLS secrets to FILE\n"
    "                   (NSS key log format, for Wireshark/tshark; default:\n"
    "                   $SSLKEYLOGFILE when set). Debugging only\n"
    "      --cert FILE --key FILE   certificate and key (PEM); repeat the\n"
    "                   pair for several names (chosen by SNI). Without one,\n"
    "                   a self-signed demo certificate is made in --state-dir\n"
    "                   on first start and reused (not with --psk-key: then\n"
    "                   only clients with the key get in).\n"
    "      --state-dir DIR          default: $RCOAPD_STATE_DIR, else\n"
    "                   $HOME/.local/state/rcoapd\n"
    "      --cafile FILE            CAs for client certificates\n"
    "      --client-auth MODE       none (default), request or require\n"
    "      --psk-identity ID --psk-key-file FILE  accept this pre-shared\n"
    "                   key, read from FILE's first line (--psk-key KEY\n"
    "                   works too, but ps shows it to every user); the key\n"
    "                   alone accepts it for any identity\n"
    "      --psk-keys-file FILE     a key per identity: lines 'IDENTITY KEY'\n"
    "                   (# comments); a client gets in only with its own\n"
    "                   identity's key (what --webrtc-peers-allow psk: needs\n"
    "                   to tell devices apart)\n"
    "      --psk-hint HINT          send this PSK identity hint in (D)TLS\n"
    "                   1.2 (default none: RFC 4279 §5.2; some clients,\n"
    "                   node-dtls-client, fail on the message it needs)\n"
    "      --allow-no-alpn          accept coaps+tcp clients that offer no\n"
    "                   ALPN (RFC 8323 §8.2; libcoap's PSK client is one).\n"
    "                   coaps+ws is HTTPS: it selects ALPN http/1.1 (or\n"
    "                   coap), and takes clients without ALPN anyway\n"
    "      --no-tickets             no TLS session tickets (no resumption)\n"
    "      --tls-keep-ssl           keep OpenSSL's record layer after a TLS\n"
    "                   1.3 handshake (default: rcoapd protects the\n"
    "                   records itself and frees ~12 KB per connection)\n"
    "WebSockets (coap+ws, coaps+ws):\n"
    "      --web-root DIR           static files for plain HTTP GETs\n"
    "      --serve-dir DIR          serve DIR read-only as /files/... (CoAP,\n"
    "                               block-wise, streamed from disk; over\n"
    "                               coap+tcp a block goes by sendfile)\n"
    "      --no-sendfile            --serve-dir reads every block into\n"
    "                               memory and writes it\n"
    "      --origin ORIGIN          allowed browser Origin (repeatable;\n"
    "                   default: any)\n"
    "other:\n"
    "      --access-log FILE        one line per request: time, peer,\n"
    "                   transport, method, URI, code, bytes, milliseconds\n"
    "                   (- is stdout)\n"
    "      --ack-timeout MS --max-retransmit N   coap://, coaps://: the\n"
    "                   RFC 7252 §4.8 ACK_TIMEOUT (2000) and MAX_RETRANSMIT\n"
    "                   (4, at most 20) of our CONs (separate responses,\n"
    "                   notifications, the proxy's requests)\n"
    "      --stats          at exit, one line on stderr counting the\n"
    "                   coap:// and coaps:// CONs sent, retransmitted,\n"
    "                   answered, given up and the peers' duplicates\n"
    "  -v, --verbose    log every message both ways\n"
    "  -q, --quiet      log only warnings and errors\n"
    "  -V, --version    print the version\n"
    "  -h, --help       this text\n"
    "\n"
    "examples:\n"
    "  rcoapd                                   # loopback, default ports\n"
    "  rcoapd -l coap+tcp://127.0.0.1:0         # a free port\n"
    "  rcoapd -l coaps+tcp://0.0.0.0:5684 --cert c.pem --key k.pem\n"
    "  rcoapd --serve-dir ~/pub --access-log -  # files under /files\n");
}

enum {
  O_CERT = 256, O_KEY, O_CAFILE, O_CLIENT_AUTH, O_PSK_ID, O_PSK_KEY,
  O_RELEASE_TO, O_HOLD_OFF, O_NO_ALPN, O_NO_TICKETS, O_STATE, O_WEB,
  O_ORIGIN, O_HS_TIMEOUT, O_IDLE, O_PARK_AFTER, O_SERVE_DIR, O_NO_SENDFILE, O_BODY_MEMORY, O_MAX_PENDING,
  O_MAX_UNREQUESTED, O_PSK_KEY_FILE, O_ACCESS_LOG,
  O_PROXY, O_PROXY_ALLOW, O_ROUTE, O_PROXY_TIMEOUT, O_PROXY_CACHE,
  O_PROXY_BACKOFF, O_PROXY_SIGNAL,
  O_STATS, O_ACK_TIMEOUT, O_MAX_RETRANSMIT, O_KEYLOG,
  O_AMP, O_MCAST, O_MCAST_IF, O_LEISURE,
  O_PEERS_ALLOW, O_PEERS_TIMEOUT, O_WR_REGISTER, O_WR_REGISTER_SECRET,
  O_WR_STUN, O_PSK_KEYS, O_REG_CERT, O_REG_CERT_KEY, O_REG_PSK_ID, O_REG_PSK_KEY,
  O_REG_CAFILE, O_KEEP_SSL, O_PSK_HINT
};

/* A whole number in [lo, hi] for FLAG; -1 (reported) otherwise. */
static long whole_arg(const char *flag, const char *s, long lo, long hi) {
  char *end;
  long n = strtol(s, &end, 10);
  if (end == s || *end || n < lo || n > hi) {
    fprintf(stderr, "rcoapd: %s takes %ld-%ld\n", flag, lo, hi);
    return -1;
  }
  return n;
}

/* --psk-secret-file: the key is the file's first line (ps shows arguments,
 * so a secret on the command line is not one). */
static int read_key_file(rcoapd_opts *o) {
  static char key[512];
  FILE *f = fopen(o->psk_key_file, "r");
  if (!f) {
    fprintf(stderr, "rcoapd: --psk-key-file %s: %s\n", o->psk_key_file,
            strerror(errno));
    return -1;
  }
  size_t n = fread(key, 1, sizeof key - 1, f);
  fclose(f);
  key[n] = 0;
  key[strcspn(key, "\r\n")] = 0;
  if (!key[0]) {
    fprintf(stderr, "rcoapd: --psk-key-file %s: empty\n", o->psk_key_file);
    return -1;
  }
  if (o->psk_key) {
    fprintf(stderr, "rcoapd: --psk-key and --psk-secret-file: give one\n");
    return -1;
  }
  o->psk_key = key;
  return 0;
}

/* "512M", "64k", "1G" or plain bytes; 0 on a malformed or zero size. */
static size_t parse_size(const char *s) {
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  unsigned shift = 0;
  if (end == s || *s == '-')
    return 0;
  switch (*end) {
  case 'k': case 'K': shift = 10; end++; break;
  case 'm': case 'M': shift = 20; end++; break;
  case 'g': case 'G': shift = 30; end++; break;
  default: break;
  }
  if (*end || v == 0 || v > (SIZE_MAX >> shift))
    return 0;
  return (size_t)v << shift;
}

int rcoapd_parse(int argc, char **argv, rcoapd_opts *o) {
  static const struct option longopts[] = {
      {"listen", required_argument, NULL, 'l'},
      {"cert", required_argument, NULL, O_CERT},
      {"key", required_argument, NULL, O_KEY},
      {"cafile", required_argument, NULL, O_CAFILE},
      {"client-auth", required_argument, NULL, O_CLIENT_AUTH},
      {"psk-identity", required_argument, NULL, O_PSK_ID},
      {"psk-key", required_argument, NULL, O_PSK_KEY},
      {"psk-key-file", required_argument, NULL, O_PSK_KEY_FILE},
      {"psk-keys-file", required_argument, NULL, O_PSK_KEYS},
      {"psk-hint", required_argument, NULL, O_PSK_HINT},
      {"access-log", required_argument, NULL, O_ACCESS_LOG},
      {"allow-no-alpn", no_argument, NULL, O_NO_ALPN},
      {"no-tickets", no_argument, NULL, O_NO_TICKETS},
      {"tls-keep-ssl", no_argument, NULL, O_KEEP_SSL},
      {"state-dir", required_argument, NULL, O_STATE},
      {"web-root", required_argument, NULL, O_WEB},
      {"serve-dir", required_argument, NULL, O_SERVE_DIR},
      {"no-sendfile", no_argument, NULL, O_NO_SENDFILE},
      {"origin", required_argument, NULL, O_ORIGIN},
      {"handshake-timeout", required_argument, NULL, O_HS_TIMEOUT},
      {"idle-timeout", required_argument, NULL, O_IDLE},
      {"park-after", required_argument, NULL, O_PARK_AFTER},
      {"amplification-factor", required_argument, NULL, O_AMP},
      {"multicast", no_argument, NULL, O_MCAST},
      {"multicast-if", required_argument, NULL, O_MCAST_IF},
      {"leisure", required_argument, NULL, O_LEISURE},
      {"release-to", required_argument, NULL, O_RELEASE_TO},
      {"hold-off", required_argument, NULL, O_HOLD_OFF},
      {"body-memory", required_argument, NULL, O_BODY_MEMORY},
      {"max-unrequested-body", required_argument, NULL, O_MAX_UNREQUESTED},
      {"max-pending", required_argument, NULL, O_MAX_PENDING},
      {"proxy", no_argument, NULL, O_PROXY},
      {"proxy-allow", required_argument, NULL, O_PROXY_ALLOW},
      {"route", required_argument, NULL, O_ROUTE},
      {"proxy-timeout", required_argument, NULL, O_PROXY_TIMEOUT},
      {"proxy-cache", required_argument, NULL, O_PROXY_CACHE},
      {"proxy-backoff", required_argument, NULL, O_PROXY_BACKOFF},
      {"proxy-signal", required_argument, NULL, O_PROXY_SIGNAL},
      {"stats", no_argument, NULL, O_STATS},
      {"keylog", required_argument, NULL, O_KEYLOG},
      {"ack-timeout", required_argument, NULL, O_ACK_TIMEOUT},
      {"max-retransmit", required_argument, NULL, O_MAX_RETRANSMIT},
      {"webrtc-peers-allow", required_argument, NULL, O_PEERS_ALLOW},
      {"webrtc-peers-timeout", required_argument, NULL, O_PEERS_TIMEOUT},
      {"webrtc-register", required_argument, NULL, O_WR_REGISTER},
      {"webrtc-register-secret-file", required_argument, NULL,
       O_WR_REGISTER_SECRET},
      {"webrtc-stun", required_argument, NULL, O_WR_STUN},
      {"webrtc-register-cert", required_argument, NULL, O_REG_CERT},
      {"webrtc-register-cert-key", required_argument, NULL, O_REG_CERT_KEY},
      {"webrtc-register-psk-identity", required_argument, NULL,
       O_REG_PSK_ID},
      {"webrtc-register-psk-key-file", required_argument, NULL,
       O_REG_PSK_KEY},
      {"webrtc-register-cafile", required_argument, NULL, O_REG_CAFILE},
      {"verbose", no_argument, NULL, 'v'},
      {"quiet", no_argument, NULL, 'q'},
      {"version", no_argument, NULL, 'V'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  size_t nkeys = 0;
  int ch;
  memset(o, 0, sizeof *o);
  o->proxy_cache = (size_t)8 << 20;
  o->hold_off_s = -1;
  o->park_after_ms = 2000;
  o->max_retransmit = -1;
  o->amp_factor = -1;
  opterr = 0;
  while ((ch = getopt_long(argc, argv, "l:vqVh", longopts, NULL)) != -1) {
    switch (ch) {
    case 'l':
      if (o->nlisten == OPT_MAX_LISTEN) {
        fprintf(stderr, "rcoapd: at most %d --listen\n", OPT_MAX_LISTEN);
        return -1;
      }
      o->listen[o->nlisten++] = optarg;
      break;
    case O_CERT:
      if (o->ncerts == OPT_MAX_CERTS) {
        fprintf(stderr, "rcoapd: at most %d --cert\n", OPT_MAX_CERTS);
        return -1;
      }
      o->cert[o->ncerts++] = optarg;
      break;
    case O_KEY:
      if (nkeys == OPT_MAX_CERTS) {
        fprintf(stderr, "rcoapd: at most %d --key\n", OPT_MAX_CERTS);
        return -1;
      }
      o->key[nkeys++] = optarg;
      break;
    case O_CAFILE:
      o->cafile = optarg;
      break;
    case O_CLIENT_AUTH:
      if (!strcmp(optarg, "none"))
        o->client_auth = RC_TLS_CLIENT_AUTH_NONE;
      else if (!strcmp(optarg, "request"))
        o->client_auth = RC_TLS_CLIENT_AUTH_REQUEST;
      else if (!strcmp(optarg, "require"))
        o->client_auth = RC_TLS_CLIENT_AUTH_REQUIRE;
      else {
        fprintf(stderr, "rcoapd: --client-auth is none, request or require\n");
        return -1;
      }
      break;
    case O_PSK_ID:
      o->psk_identity = optarg;
      break;
    case O_PSK_HINT:
      o->psk_hint = optarg;
      break;
    case O_PSK_KEY:
      o->psk_key = optarg;
      break;
    case O_PSK_KEY_FILE:
      o->psk_key_file = optarg;
      break;
    case O_ACCESS_LOG:
      o->access_log = optarg;
      break;
    case O_STATS:
      o->stats = 1;
      break;
    case O_KEYLOG:
      o->keylog = optarg;
      break;
    case O_PROXY_SIGNAL:
      o->proxy_signal = optarg;
      break;
    case O_ACK_TIMEOUT:
      if ((o->ack_timeout_ms = whole_arg("--ack-timeout", optarg, 1,
                                         600000)) < 0)
        return -1;
      break;
    case O_MAX_RETRANSMIT:
      if ((o->max_retransmit = whole_arg("--max-retransmit", optarg, 0,
                                         20)) < 0)
        return -1;
      break;
    case O_SERVE_DIR:
      o->serve_dir = optarg;
      break;
    case O_NO_SENDFILE:
      o->no_sendfile = 1;
      break;
    case O_NO_ALPN:
      o->allow_no_alpn = 1;
      break;
    case O_NO_TICKETS:
      o->no_tickets = 1;
      break;
    case O_KEEP_SSL:
      o->keep_ssl = 1;
      break;
    case O_STATE:
      o->state_dir = optarg;
      break;
    case O_WEB:
      o->web_root = optarg;
      break;
    case O_ORIGIN:
      if (o->norigins == OPT_MAX_ORIGINS) {
        fprintf(stderr, "rcoapd: at most %d --origin\n", OPT_MAX_ORIGINS);
        return -1;
      }
      o->origins[o->norigins++] = optarg;
      break;
    case O_HS_TIMEOUT:
      o->handshake_timeout_ms = (unsigned)strtoul(optarg, NULL, 10);
      break;
    case O_RELEASE_TO:
      o->release_to = optarg;
      break;
    case O_HOLD_OFF: {
      char *end;
      o->hold_off_s = strtol(optarg, &end, 10);
      if (*end || o->hold_off_s < 0 || o->hold_off_s > 0xffffff) {
        fprintf(stderr, "rcoapd: --hold-off takes seconds (0-16777215)\n");
        return -1;
      }
      break;
    }
    case O_IDLE:
      o->idle_timeout_ms = (unsigned)strtoul(optarg, NULL, 10);
      break;
    case O_PARK_AFTER: {
      char *end;
      double v = strtod(optarg, &end);
      if (end == optarg || *end || !(v >= 0) || v > 86400) {
        fprintf(stderr, "rcoapd: --park-after takes seconds (0-86400)\n");
        return -1;
      }
      o->park_after_ms = (unsigned)(v * 1000 + 0.5);
      break;
    }
    case O_BODY_MEMORY:
      if (!(o->body_memory = parse_size(optarg))) {
        fprintf(stderr, "rcoapd: --body-memory takes a size such as 512M\n");
        return -1;
      }
      break;
    case O_MAX_UNREQUESTED:
      o->max_unrequested = parse_size(optarg);
      if (o->max_unrequested < 16) {
        fprintf(stderr, "rcoapd: --max-unrequested-body takes a size of at "
                        "least 16, such as 1024 or 1k\n");
        return -1;
      }
      break;
    case O_AMP: {
      char *end;
      o->amp_factor = strtol(optarg, &end, 10);
      if (*end || end == optarg || o->amp_factor < 0 ||
          o->amp_factor > 1000) {
        fprintf(stderr, "rcoapd: --amplification-factor takes 0-1000\n");
        return -1;
      }
      break;
    }
    case O_MCAST:
      o->multicast = 1;
      break;
    case O_MCAST_IF:
      o->multicast_if = optarg;
      break;
    case O_LEISURE: {
      char *end;
      unsigned long n = strtoul(optarg, &end, 10);
      if (*end || end == optarg || n == 0 || n > 600000) {
        fprintf(stderr, "rcoapd: --leisure takes 1-600000 (ms)\n");
        return -1;
      }
      o->leisure_ms = (unsigned)n;
      break;
    }
    case O_MAX_PENDING: {
      char *end;
      unsigned long n = strtoul(optarg, &end, 10);
      if (*end || n == 0 || n > 1000000) {
        fprintf(stderr, "rcoapd: --max-pending takes 1-1000000\n");
        return -1;
      }
      o->max_pending = n;
      break;
    }
    case O_PROXY:
      o->proxy = 1;
      break;
    case O_PROXY_ALLOW:
    case O_ROUTE: {
      int route = ch == O_ROUTE;
      size_t *n = route ? &o->nroutes : &o->nproxy_allow;
      if (*n == OPT_MAX_PROXY_RULES) {
        fprintf(stderr, "rcoapd: at most %d --%s\n", OPT_MAX_PROXY_RULES,
                route ? "route" : "proxy-allow");
        return -1;
      }
      if (route && (optarg[0] != '/' || !strchr(optarg, '='))) {
        fprintf(stderr, "rcoapd: --route wants /PREFIX=URI\n");
        return -1;
      }
      (route ? o->routes : o->proxy_allow)[(*n)++] = optarg;
      break;
    }
    case O_PROXY_TIMEOUT:
      o->proxy_timeout_ms = (unsigned)strtoul(optarg, NULL, 10);
      break;
    case O_PROXY_CACHE:
      o->proxy_cache = strcmp(optarg, "0") ? parse_size(optarg) : 0;
      if (!o->proxy_cache && strcmp(optarg, "0")) {
        fprintf(stderr, "rcoapd: --proxy-cache takes a size such as 8M, "
                        "or 0\n");
        return -1;
      }
      break;
    case O_PROXY_BACKOFF: {
      unsigned lo, hi;
      char tail;
      if (sscanf(optarg, "%u,%u%c", &lo, &hi, &tail) != 2 || !lo ||
          hi < lo) {
        fprintf(stderr, "rcoapd: --proxy-backoff wants MIN,MAX in ms "
                        "(0 < MIN <= MAX)\n");
        return -1;
      }
      o->proxy_backoff_min_ms = lo;
      o->proxy_backoff_max_ms = hi;
      break;
    }
    case O_PEERS_ALLOW:
      if (o->npeer_rules == OPT_MAX_PEERS_ALLOW) {
        fprintf(stderr, "rcoapd: at most %d --webrtc-peers-allow\n",
                OPT_MAX_PEERS_ALLOW);
        return -1;
      }
      o->peer_rules[o->npeer_rules++] = optarg;
      break;
    case O_PEERS_TIMEOUT: {
      long ms = whole_arg("--webrtc-peers-timeout", optarg, 100, 600000);
      if (ms < 0)
        return -1;
      o->peers_timeout_ms = (unsigned)ms;
      break;
    }
    case O_WR_REGISTER:
      o->webrtc_register = optarg;
      break;
    case O_WR_REGISTER_SECRET:
      o->webrtc_register_secret = optarg;
      break;
    case O_WR_STUN:
      o->webrtc_stun = optarg;
      break;
    case O_PSK_KEYS:
      o->psk_keys_file = optarg;
      break;
    case O_REG_CERT:
      o->reg_cert = optarg;
      break;
    case O_REG_CERT_KEY:
      o->reg_cert_key = optarg;
      break;
    case O_REG_PSK_ID:
      o->reg_psk_identity = optarg;
      break;
    case O_REG_PSK_KEY:
      o->reg_psk_key_file = optarg;
      break;
    case O_REG_CAFILE:
      o->reg_cafile = optarg;
      break;
    case 'v':
      o->verbose = 1;
      break;
    case 'q':
      o->quiet = 1;
      break;
    case 'V':
      printf("rcoapd %s\n", rc_version());
      return 1;
    case 'h':
      usage(stdout);
      return 1;
    default:
      /* getopt's own message would name the program by its path. */
      if (!optopt)
        fprintf(stderr, "rcoapd: unknown option '%s'\n", argv[optind - 1]);
      else if (optopt >= 256 || strchr("l:vqVh", optopt))
        fprintf(stderr, "rcoapd: option '%s' needs a value\n",
                argv[optind - 1]);
      else
        fprintf(stderr, "rcoapd: unknown option '-%c'\n", optopt);
      fprintf(stderr, "rcoapd: try 'rcoapd --help'\n");
      return -1;
    }
  }
  if (optind != argc) {
    fprintf(stderr, "rcoapd: unexpected argument '%s' (listeners are given "
                    "with -l SCHEME://ADDR:PORT; rcoapd --help)\n",
            argv[optind]);
    return -1;
  }
  for (size_t i = 0; i < o->nlisten; i++)
    for (size_t j = 0; j < i; j++)
      if (!strcmp(o->listen[i], o->listen[j]) &&
          strcmp(o->listen[i] + strlen(o->listen[i]) - 2, ":0") != 0) {
        fprintf(stderr, "rcoapd: -l %s is given twice\n", o->listen[i]);
        return -1;
      }
  if (o->serve_dir) {
    struct stat st;
    if (stat(o->serve_dir, &st) != 0) {
      fprintf(stderr, "rcoapd: --serve-dir %s: %s\n", o->serve_dir,
              strerror(errno));
      return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
      fprintf(stderr, "rcoapd: --serve-dir %s: not a directory\n",
              o->serve_dir);
      return -1;
    }
  }
  if (o->webrtc_register) {
    int wr = 0;
    for (size_t i = 0; i < o->nlisten; i++)
      wr |= !strncmp(o->listen[i], "coaps+wr://", 11);
    if (!wr) {
      fprintf(stderr, "rcoapd: --webrtc-register needs -l "
                      "coaps+wr://ADDR:PORT (the data channels it offers)\n");
      return -1;
    }
  }
  if (o->psk_key_file && read_key_file(o) != 0)
    return -1;
  if (o->psk_keys_file && (o->psk_key || o->psk_identity)) {
    fprintf(stderr, "rcoapd: --psk-keys-file replaces --psk-identity and "
                    "--psk-key(-file): give one\n");
    return -1;
  }
  if (nkeys != o->ncerts) {
    fprintf(stderr, "rcoapd: give one --key for each --cert\n");
    return -1;
  }
  if (o->client_auth && !o->cafile) {
    fprintf(stderr, "rcoapd: --client-auth needs --cafile\n");
    return -1;
  }
  if (o->psk_hint && !o->psk_key && !o->psk_keys_file) {
    fprintf(stderr, "rcoapd: --psk-hint needs --psk-key-file or --psk-keys-file\n");
    return -1;
  }
  if (o->psk_identity && !o->psk_key) {
    fprintf(stderr, "rcoapd: --psk-identity needs --psk-key-file (or --psk-key)\n");
    return -1;
  }
  /* the convention browsers, curl and gnutls-cli follow */
  if (!o->keylog && getenv("SSLKEYLOGFILE") && *getenv("SSLKEYLOGFILE"))
    o->keylog = getenv("SSLKEYLOGFILE");
  if (o->keylog)
    fprintf(stderr, "rcoapd: TLS: key log %s: anyone who reads it can "
                    "decrypt this server's traffic\n", o->keylog);
  return 0;
}
