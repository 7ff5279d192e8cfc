/*
 * rcoap-bench's command line: options, the URI (scheme, host, resolved
 * address, default request) and the per-thread client TLS context.
 */
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "rcoap/exchange.h"
#include "rcoap/version.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: rcoap-bench [options] URI\n"
          "\n"
          "Load generator for CoAP over UDP and DTLS (RFC 7252), TCP, TLS and\n"
          "WebSockets (RFC 8323).\n"
          "URI: coap://HOST:PORT (UDP), coaps://... (DTLS), coap+tcp://...,\n"
          "coaps+tcp://..., coap+ws://..., coaps+ws://...\n"
          "(on UDP and DTLS a \"connection\" is a socket of its own: a peer)\n"
          "(a path in the URI is the default request: GET PATH; else GET /hello).\n"
          "\n"
          "options:\n"
          "  -c, --connections N     connections (default 50)\n"
          "  -p, --depth N           requests outstanding per connection (default 16)\n"
          "      --duration S        measure for S seconds (default 10)\n"
          "  -n, --requests N        send N requests in total instead of -d\n"
          "  -w, --warmup S          run S seconds before measuring (default 1)\n"
          "      --threads N         worker threads, one epoll loop each (default 1)\n"
          "  -m, --mix SPEC          request mix: \"METHOD /path[=payload][:weight],...\"\n"
          "                          (write a comma inside a payload as \\,)\n"
          "                          e.g. \"GET /hello:8,PUT /store/x=abc:1,POST /echo=hi:1\"\n"
          "  -T, --timeout S         a request unanswered S seconds is an error (5), as\n"
          "                          rcoap's -T (--timeout-ms MS: the same in ms)\n"
          "      --connect-rate R    open at most R connections per second (0: no limit)\n"
          "      --connect-inflight N  at most N connections waiting for the server's\n"
          "                          CSM at once (default 4: libcoap's backlog is 5)\n"
          "      --connect-timeout S a connection not open after S s fails (10)\n"
          "      --idle              open the connections, CSM + one request each, then\n"
          "                          hold them idle; prints \"IDLE established=N\"\n"
          "      --hold S            with --idle: hold S seconds (default: until SIGINT)\n"
          "      --handshakes        connection set-up rate: each connection connects,\n"
          "                          runs the TLS/DTLS/WebSocket handshakes and the CSM\n"
          "                          exchange, sends one request, closes on the answer\n"
          "                          and starts over (full TLS handshakes unless\n"
          "                          --resume); latency is the whole cycle\n"
          "      --resume            allow TLS session resumption (client cache)\n"
          "      --bulk              windowed block-wise GET of the URI's body, -n times\n"
          "                          (default once), one after the other, through the\n"
          "                          library's client (BERT when offered), the body\n"
          "                          counted and dropped; reports MB/s, peak RSS and CPU\n"
          "                          (reliable schemes: coap+tcp, coaps+tcp, coap+ws,\n"
          "                          coaps+ws)\n"
          "      --window N          with --bulk: Block2 requests in flight, 1-%d (4)\n"
          "      --observe           observe fan-out: -c connections (in batches of 10)\n"
          "                          with --per observations of the URI each, then\n"
          "                          --rounds triggers; each round is timed from the\n"
          "                          trigger until every observer has its notification\n"
          "                          (-T bounds a round); reports p50, max, notes/s\n"
          "      --per N             with --observe: observations per connection (10)\n"
          "      --rounds N          with --observe: triggers (10)\n"
          "      --trigger METHOD    with --observe: the trigger's method (post)\n"
          "      --trigger-uri URI   with --observe: where it goes (default: the URI)\n"
          "      --busy-poll         with --observe: poll the sockets without sleeping\n"
          "                          (epoll timeout 0), so a server's write wakes no\n"
          "                          sleeping reader (as with clients on another host)\n"
          "      --cafile FILE       trust anchors for coaps (PEM); default: system store\n"
          "      --insecure          do not verify the server's certificate\n"
          "      --psk-identity ID --psk-key KEY  TLS pre-shared key (text)\n"
          "  -q, --quiet             only the RESULT line\n"
          "  -V, --version, -h, --help\n"
          "\n"
          "The last line is machine-readable:\n"
          "  RESULT rps=... requests=... p50_us=... p90_us=... p99_us=... max_us=... errors=...\n"
          "  ... bench_cpu_us=... (this program's CPU time per request)\n"
          "With --handshakes rps is handshake cycles per second.\n"
          "--bulk ends with RESULT bulk transfers=... bytes=... seconds=... mbps=...\n"
          "  window=... peak_rss_kib=... bench_cpu_s=... errors=...\n"
          "--observe ends with RESULT observe observers=... connections=... rounds=...\n"
          "  p50_ms=... max_ms=... notes_per_s=... errors=... bench_cpu_us=... (its\n"
          "  own CPU per notification over the rounds)\n"
          "Short options mean what they mean in rcoap (no -d / -t here: those\n"
          "are rcoap's payload and Content-Format).\n"
          "\n"
          "exit status: 0 every request answered 2.xx, 1 errors (timeouts,\n"
          "connection failures, other codes) or nothing done, 2 usage\n",
          RC_EXCHANGE_WINDOW_MAX);
}

static int resolve(bench_cfg *cfg, const char *uri_s) {
  rc_uri u;
  rc_err err = rc_uri_parse(uri_s, strlen(uri_s), &u);
  if (err != RC_OK) {
    fprintf(stderr, "rcoap-bench: %s: %s\n", uri_s, rc_strerror(err));
    return -1;
  }
  /* coaps:// is coap:// with the dtls filter under the session */
  cfg->use_udp = u.scheme == RC_SCHEME_COAP || u.scheme == RC_SCHEME_COAPS;
  if (!u.is_tcp && !u.is_ws && !cfg->use_udp) {
    fprintf(stderr,
            "rcoap-bench: %s: not a scheme it speaks (coap, coaps, "
            "coap+tcp, coaps+tcp, coap+ws, coaps+ws)\n",
            rc_scheme_name(u.scheme));
    return -1;
  }
  cfg->use_tls = u.is_secure;
  cfg->use_ws = u.is_ws;
  cfg->port = u.port;
  char port[8];
  snprintf(cfg->host, sizeof(cfg->host), "%.*s", (int)u.host_len, u.host);
  const char *host = cfg->host;
  snprintf(port, sizeof(port), "%u", u.port);
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
  int gai = getaddrinfo(host, port, &hints, &res);
  if (gai != 0 || res == NULL) {
    fprintf(stderr, "rcoap-bench: %s: %s\n", host, gai_strerror(gai));
    return -1;
  }
  memcpy(&cfg->addr, res->ai_addr, res->ai_addrlen);
  cfg->addr_len = res->ai_addrlen;
  freeaddrinfo(res);
  if (cfg->n_mix == 0) {
    char def[300];
    snprintf(def, sizeof(def), "GET %.*s",
             (int)(u.path_len > 1 ? u.path_len : 6),
             u.path_len > 1 ? u.path : "/hello");
    if (mix_parse(cfg, def) != 0)
      return -1;
  }
  return 0;
}

/* One client TLS context per worker thread (a client context holds the
 * session cache and belongs to one thread). Returns 0 or -1 (said why). */
int bench_tls_new(rc_tls_ctx **out, const bench_cfg *cfg) {
  rc_tls_config tc;
  rc_tls_config_init(&tc, RC_TLS_CLIENT);
  tc.ca_file = cfg->cafile;
  tc.insecure = cfg->insecure;
  tc.datagram = cfg->use_udp; /* coaps://: a DTLS context */
  if (cfg->psk_id) {
    tc.psk_identity = (const uint8_t *)cfg->psk_id;
    tc.psk_identity_len = strlen(cfg->psk_id);
    tc.psk_key = (const uint8_t *)cfg->psk_key;
    tc.psk_key_len = strlen(cfg->psk_key);
  }
  /* --handshakes measures full handshakes unless --resume */
  tc.session_cache_size = cfg->resume ? 32 : 0;
  char errbuf[256] = "";
  rc_err err = rc_tls_ctx_new(out, &tc, errbuf, sizeof(errbuf));
  if (err != RC_OK) {
    fprintf(stderr, "rcoap-bench: TLS: %s\n",
            errbuf[0] ? errbuf : rc_strerror(err));
    return -1;
  }
  return 0;
}

static double parse_num(const char *s, const char *what) {
  char *end;
  double v = strtod(s, &end);
  if (*s == 0 || *end != 0 || v < 0) {
    fprintf(stderr, "rcoap-bench: bad %s \"%s\"\n", what, s);
    exit(2);
  }
  return v;
}

int options_parse(bench_cfg *cfg, int argc, char **argv) {
  enum { O_TIMEOUT_MS = 256, O_DURATION, O_THREADS, O_CRATE, O_CINFL, O_CTIMEOUT, O_IDLE, O_HOLD,
         O_HANDSHAKES, O_RESUME, O_CAFILE, O_INSECURE, O_PSK_ID, O_PSK_KEY,
         O_BULK, O_WINDOW, O_OBSERVE, O_PER, O_ROUNDS, O_TRIGGER, O_TRIGGER_URI,
         O_BUSY_POLL };
  static const struct option longopts[] = {
      {"connections", required_argument, NULL, 'c'},
      {"depth", required_argument, NULL, 'p'},
      {"duration", required_argument, NULL, O_DURATION},
      {"requests", required_argument, NULL, 'n'},
      {"warmup", required_argument, NULL, 'w'},
      {"threads", required_argument, NULL, O_THREADS},
      {"mix", required_argument, NULL, 'm'},
      {"timeout", required_argument, NULL, 'T'},
      {"timeout-ms", required_argument, NULL, O_TIMEOUT_MS},
      {"connect-rate", required_argument, NULL, O_CRATE},
      {"connect-inflight", required_argument, NULL, O_CINFL},
      {"connect-timeout", required_argument, NULL, O_CTIMEOUT},
      {"idle", no_argument, NULL, O_IDLE},
      {"hold", required_argument, NULL, O_HOLD},
      {"handshakes", no_argument, NULL, O_HANDSHAKES},
      {"resume", no_argument, NULL, O_RESUME},
      {"cafile", required_argument, NULL, O_CAFILE},
      {"insecure", no_argument, NULL, O_INSECURE},
      {"psk-identity", required_argument, NULL, O_PSK_ID},
      {"psk-key", required_argument, NULL, O_PSK_KEY},
      {"bulk", no_argument, NULL, O_BULK},
      {"window", required_argument, NULL, O_WINDOW},
      {"observe", no_argument, NULL, O_OBSERVE},
      {"per", required_argument, NULL, O_PER},
      {"rounds", required_argument, NULL, O_ROUNDS},
      {"trigger", required_argument, NULL, O_TRIGGER},
      {"trigger-uri", required_argument, NULL, O_TRIGGER_URI},
      {"busy-poll", no_argument, NULL, O_BUSY_POLL},
      {"quiet", no_argument, NULL, 'q'},
      {"version", no_argument, NULL, 'V'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  cfg->conns = 50;
  cfg->depth = 16;
  cfg->threads = 1;
  cfg->duration_s = 10;
  cfg->warmup_s = 1;
  cfg->timeout_ms = 5000;
  cfg->connect_inflight = 4;
  cfg->connect_timeout_s = 10;
  cfg->window = 4;
  cfg->per = 10;
  cfg->rounds = 10;
  cfg->trigger_method = RC_POST;
  const char *mix = NULL;
  int m;
  int ch;
  while ((ch = getopt_long(argc, argv, "c:p:n:w:m:T:qVh", longopts, NULL)) !=
         -1) {
    switch (ch) {
    case 'c': cfg->conns = (unsigned)parse_num(optarg, "--connections"); break;
    case 'p': cfg->depth = (unsigned)parse_num(optarg, "--depth"); break;
    case O_DURATION: cfg->duration_s = parse_num(optarg, "--duration"); break;
    case 'n': cfg->count = (uint64_t)parse_num(optarg, "--requests"); break;
    case 'w': cfg->warmup_s = parse_num(optarg, "--warmup"); break;
    case O_THREADS: cfg->threads = (unsigned)parse_num(optarg, "--threads"); break;
    case 'm': mix = optarg; break;
    case 'T': cfg->timeout_ms = (uint32_t)(parse_num(optarg, "-T") * 1000); break;
    case O_TIMEOUT_MS: cfg->timeout_ms = (uint32_t)parse_num(optarg, "--timeout-ms"); break;
    case O_CRATE: cfg->connect_rate = parse_num(optarg, "--connect-rate"); break;
    case O_CINFL:
      cfg->connect_inflight = (unsigned)parse_num(optarg, "--connect-inflight");
      break;
    case O_CTIMEOUT:
      cfg->connect_timeout_s = parse_num(optarg, "--connect-timeout");
      break;
    case O_IDLE: cfg->idle = 1; break;
    case O_HOLD: cfg->idle_hold_s = parse_num(optarg, "--hold"); break;
    case O_HANDSHAKES: cfg->handshakes = 1; break;
    case O_RESUME: cfg->resume = 1; break;
    case O_CAFILE: cfg->cafile = optarg; break;
    case O_INSECURE: cfg->insecure = 1; break;
    case O_PSK_ID: cfg->psk_id = optarg; break;
    case O_PSK_KEY: cfg->psk_key = optarg; break;
    case O_BULK: cfg->bulk = 1; break;
    case O_WINDOW: cfg->window = (unsigned)parse_num(optarg, "--window"); break;
    case O_OBSERVE: cfg->observe = 1; break;
    case O_BUSY_POLL: cfg->busy_poll = 1; break;
    case O_PER: cfg->per = (unsigned)parse_num(optarg, "--per"); break;
    case O_ROUNDS: cfg->rounds = (unsigned)parse_num(optarg, "--rounds"); break;
    case O_TRIGGER:
      if ((m = rc_method_from_name(optarg)) <= 0) {
        fprintf(stderr, "rcoap-bench: bad --trigger method \"%s\"\n", optarg);
        return 2;
      }
      cfg->trigger_method = (uint8_t)m;
      break;
    case O_TRIGGER_URI:
      snprintf(cfg->trigger_uri, sizeof(cfg->trigger_uri), "%s", optarg);
      break;
    case 'q': cfg->quiet = 1; break;
    case 'V': printf("rcoap-bench %s\n", rc_version()); return 1;
    case 'h': usage(stdout); return 1;
    default: usage(stderr); return 2;
    }
  }
  if (optind + 1 != argc) {
    usage(stderr);
    return 2;
  }
  if (cfg->conns == 0 || cfg->depth == 0 || cfg->depth > DEPTH_MAX ||
      cfg->threads == 0 || cfg->threads > MAX_THREADS ||
      cfg->connect_inflight == 0 || (cfg->count == 0 && cfg->duration_s <= 0)) {
    fprintf(stderr, "rcoap-bench: connections, depth (1-%d), threads (1-%d), "
                    "--connect-inflight and the duration must be positive\n",
            DEPTH_MAX, MAX_THREADS);
    return 2;
  }
  if (cfg->handshakes && (cfg->idle || cfg->count)) {
    fprintf(stderr, "rcoap-bench: --handshakes runs for --duration seconds (no -n, "
                    "no --idle)\n");
    return 2;
  }
  if (cfg->bulk + cfg->observe + cfg->handshakes + cfg->idle > 1) {
    fprintf(stderr, "rcoap-bench: --bulk, --observe, --handshakes and --idle "
                    "are modes: one at a time\n");
    return 2;
  }
  if (cfg->window < 1 || cfg->window > RC_EXCHANGE_WINDOW_MAX ||
      cfg->per < 1 || cfg->rounds < 1) {
    fprintf(stderr, "rcoap-bench: --window (1-%d), --per and --rounds must be "
                    "positive\n", RC_EXCHANGE_WINDOW_MAX);
    return 2;
  }
  if (!cfg->psk_id != !cfg->psk_key) {
    fprintf(stderr, "rcoap-bench: --psk-identity and --psk-key go together\n");
    return 2;
  }
  if (cfg->handshakes) {
    cfg->depth = 1; /* one request per cycle */
    /* every connection reconnects at once: no pacing beyond the start */
    if (cfg->connect_inflight < cfg->conns)
      cfg->connect_inflight = cfg->conns;
  }
  if (cfg->threads > cfg->conns)
    cfg->threads = cfg->conns;
  snprintf(cfg->uri, sizeof(cfg->uri), "%s", argv[optind]);
  if (mix && mix_parse(cfg, mix) != 0)
    return 2;
  if (resolve(cfg, cfg->uri) != 0)
    return 2;
  if (cfg->bulk && cfg->use_udp) {
    fprintf(stderr, "rcoap-bench: --bulk: a reliable scheme (coap+tcp, "
                    "coaps+tcp, coap+ws, coaps+ws)\n");
    return 2;
  }

  return 0;
}
