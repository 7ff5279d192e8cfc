/*
 * rcoap: a curl-like CoAP client for every scheme rcoap speaks.
 *
 *   rcoap [options] [METHOD] URI
 *
 * It parses the command line into one request, runs it on a libuv loop
 * through rc_request(), prints the response body (link-format one link per
 * line) and exits with a status that says what happened (see usage()).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rcoap/app.h"
#include "rcoap/codec_link.h"
#include "rcoap/codec_print.h"
#include "rcoap/version.h"
#include "transfer.h"

/* Exit statuses. */
enum {
  EX_OK = 0,        /* 2.xx */
  EX_USAGE = 1,     /* bad command line */
  EX_URI = 2,       /* bad URI or unsupported scheme */
  EX_CONNECT = 3,   /* could not connect (DNS, refused, TLS, WS upgrade) */
  EX_CLIENT = 4,    /* 4.xx response */
  EX_SERVER = 5,    /* 5.xx response */
  EX_TIMEOUT = 6,   /* no response in time */
  EX_ABORT = 7,     /* the peer aborted or broke the protocol */
  EX_LOCAL = 8      /* local error: file, memory */
};

#define MAX_USER_OPTS 32

typedef struct cli {
  const char *uri;
  int verbose;
  int include;
  const char *output;
  int status;
  int done;
  rc_context *ctx;
  xfer xf;        /* -o FILE streamed, -d @FILE, progress (transfer.c) */
  int streamed;
} cli;

static void usage(FILE *f) {
  fprintf(f,
          "usage: rcoap [options] [METHOD] URI\n"
          "\n"
          "METHOD is get (default), post, put, delete, fetch, patch or ipatch;\n"
          "observe prints each notification (--count N, --duration S);\n"
          "ping sends a CoAP Ping (RFC 8323 §5.4) and prints the Pong's\n"
          "round trip (--custody asks for Custody).\n"
          "-d @FILE streams FILE in Block1; a progress bar goes to stderr\n"
          "when it is a terminal.\n"
          "URI schemes: coap:// (UDP), coap+tcp://, coaps+tcp://, coap+ws://,\n"
          "coaps+ws:// "
          "(coap+wss://).\n"
          "\n"
          "options:\n"
          "  -d, --data DATA        request payload; @FILE reads a file, @- stdin\n"
          "  -t, --content-format F payload Content-Format (name or number)\n"
          "  -A, --accept F         Accept option (name or number)\n"
          "  -O, --option NUM,VAL   any option (repeatable); VAL by the option's\n"
          "                         format: number, text, or 0xHEX for opaque\n"
          "  -o, --output FILE      write the response body to FILE as it\n"
          "                         arrives (block-wise: bounded memory)\n"
          "      --no-bert          no BERT: 1024-byte blocks (RFC 7959)\n"
          "  -N, --non              coap://: send requests Non-confirmable\n"
          "  -i, --include          print the response code and options first\n"
          "  -v, --verbose          show every message both ways on stderr,\n"
          "                         signaling included\n"
          "  -T, --timeout SECONDS  give up after this long (default 30)\n"
          "      --cafile FILE      trust these CA certificates (coaps+...)\n"
          "      --cert FILE --key FILE  client certificate (mutual TLS)\n"
          "      --psk-identity ID --psk-key KEY   TLS pre-shared key\n"
          "      --insecure         do not verify the server (prints a warning)\n"
          "      --allow-no-alpn    accept a coaps+tcp server that negotiates no\n"
          "                         ALPN on a port other than 5684 (libcoap's\n"
          "                         PSK server is one; RFC 8323 §8.2). coaps+ws\n"
          "                         offers ALPN http/1.1 and needs no answer\n"
          "  -V, --version          print the version\n"
          "  -h, --help             this text\n"
          "\n"
          "exit status: 0 2.xx, 1 usage, 2 bad URI or scheme, 3 cannot connect,\n"
          "4 4.xx, 5 5.xx, 6 timeout, 7 aborted / protocol error, 8 local error\n");
}

static void on_log(void *user, int level, const char *text) {
  (void)user;
  fprintf(stderr, "rcoap: %s%s\n",
          level <= RC_SESSION_LOG_ERR ? "error: " : "", text);
}

/* -v: what the TLS handshake settled, once the connection is open. */
static void on_conn_open(void *user, rc_conn *c) {
  (void)user;
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

static void on_trace(void *user, char dir, const rc_msg *m) {
  (void)user;
  char line[1024];
  rc_msg_format(m, line, sizeof line);
  fprintf(stderr, "%c %s\n", dir, line);
}

/* Content-Format by name or number; -1 if neither. */
static int parse_cf(const char *s) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (*s && !*end && !errno && v >= 0 && v <= 65535)
    return (int)v;
  return rc_content_format_by_name(s);
}

/* "-O NUM,VALUE": the value is encoded by the option's registered format.
 * Values are written into store (caller's, at least strlen(arg) bytes). */
static int parse_option(const char *arg, rc_opt *o, uint8_t *store) {
  char *end;
  errno = 0;
  unsigned long num = strtoul(arg, &end, 10);
  if (errno || end == arg || num > 65535 || (*end && *end != ',')) {
    fprintf(stderr, "rcoap: -O wants NUM,VALUE (got '%s')\n", arg);
    return -1;
  }
  const char *val = *end ? end + 1 : "";
  o->num = (uint16_t)num;
  o->val = store;
  const rc_opt_def *d = rc_opt_lookup(RC_GET, o->num);
  if (d && d->format == RC_OPTF_UINT) {
    uint8_t tmp[4];
    unsigned long v;
    if (num == RC_OPT_CONTENT_FORMAT || num == RC_OPT_ACCEPT)
      v = (unsigned long)(long)parse_cf(val);
    else
      v = strtoul(val, &end, 0);
    if ((long)v < 0 || v > UINT32_MAX) {
      fprintf(stderr, "rcoap: option %lu wants a number (got '%s')\n", num,
              val);
      return -1;
    }
    o->len = (uint32_t)rc_opt_uint_encode((uint32_t)v, tmp);
    memcpy(store, tmp, o->len);
    return 0;
  }
  if (!strncmp(val, "0x", 2) && (!d || d->format == RC_OPTF_OPAQUE)) {
    size_t n = strlen(val + 2);
    if (n % 2) {
      fprintf(stderr, "rcoap: odd number of hex digits in '%s'\n", val);
      return -1;
    }
    for (size_t i = 0; i < n / 2; i++) {
      int hi = rc_hex_digit((unsigned char)val[2 + 2 * i]),
          lo = rc_hex_digit((unsigned char)val[3 + 2 * i]);
      if (hi < 0 || lo < 0) {
        fprintf(stderr, "rcoap: bad hex in '%s'\n", val);
        return -1;
      }
      store[i] = (uint8_t)(hi << 4 | lo);
    }
    o->len = (uint32_t)(n / 2);
    return 0;
  }
  o->len = (uint32_t)strlen(val);
  memcpy(store, val, o->len);
  return 0;
}

static void print_response_head(const rc_msg *m) {
  char line[2048];
  rc_msg tmp = *m;
  tmp.payload = NULL;
  tmp.payload_len = 0;
  rc_msg_format(&tmp, line, sizeof line);
  printf("%s\n", line);
}

/* Link-format bodies are shown one link per line. */
static void write_links(FILE *f, const rc_msg *m) {
  rc_link_iter it;
  rc_link l;
  rc_link_iter_init(&it, (const char *)m->payload, m->payload_len,
                    RC_LINK_LENIENT);
  size_t shown = 0;
  const char *base = (const char *)m->payload;
  while (rc_link_next(&it, &l) == 1) {
    const char *start = l.target - 1; /* the '<' */
    const char *end = l.params + l.params_len;
    fprintf(f, "%.*s\n", (int)(end - start), start);
    shown = (size_t)(end - base);
  }
  if (it.err) /* not valid link-format after all: show it raw */
    fprintf(f, "%.*s\n", (int)(m->payload_len - shown), base + shown);
}

static int status_for_code(uint8_t code) {
  switch (RC_CODE_CLASS(code)) {
  case 2:
    return EX_OK;
  case 4:
    return EX_CLIENT;
  case 5:
    return EX_SERVER;
  default:
    return EX_ABORT;
  }
}

static int status_for_error(rc_err err) {
  switch (err) {
  case RC_ERR_TIMEOUT:
    return EX_TIMEOUT;
  case RC_ERR_PEER_ABORT:
  case RC_ERR_PROTOCOL:
  case RC_ERR_BAD_CSM:
  case RC_ERR_PEER_DEAD:
  case RC_ERR_PEER_RELEASE:
    return EX_ABORT;
  case RC_ERR_NOMEM:
    return EX_LOCAL;
  default:
    return EX_CONNECT;
  }
}

static void on_shutdown_done(void *arg) { (void)arg; }

/* A request or ping that failed: the reason, and the exit status. */
static void report_error(cli *c, rc_err status, const char *detail) {
  fprintf(stderr, "rcoap: %s%s%s\n", rc_strerror(status),
          detail && *detail ? ": " : "", detail ? detail : "");
  if (status == RC_ERR_TLS_ALPN && detail &&
      strstr(detail, "did not negotiate"))
    fprintf(stderr, "rcoap: hint: --allow-no-alpn accepts a server that "
                    "negotiates no ALPN (libcoap's PSK server is one)\n");
  c->status = status_for_error(status);
}

static void on_pong(void *arg, rc_err status, uint64_t rtt_us, int custody,
                    const char *detail) {
  cli *c = arg;
  c->done = 1;
  if (status < 0) {
    report_error(c, status, detail);
    if (status == RC_ERR_PEER_DEAD)
      c->status = EX_TIMEOUT; /* no Pong (nor anything else) within -T */
  } else {
    printf("Pong from %s in %.3f ms%s\n", c->uri, (double)rtt_us / 1000.0,
           custody ? ", with Custody" : "");
    fflush(stdout);
    c->status = EX_OK;
  }
  rc_context_shutdown(c->ctx, NULL, 2000, on_shutdown_done, c);
}

static void on_response(void *arg, rc_err status, const rc_msg *resp,
                        const char *detail) {
  cli *c = arg;
  c->done = 1;
  if (status < 0) {
    report_error(c, status, detail);
  } else {
    c->status = status_for_code(resp->code);
    if (c->include)
      print_response_head(resp);
    else if (c->status != EX_OK) {
      char code[5];
      fprintf(stderr, "%s %s\n", rc_code_str(resp->code, code),
              rc_code_name(resp->code));
    }
    FILE *out = stdout;
    xfer_progress_end(&c->xf);
    if (c->streamed) {
      /* The body went to the file block by block (transfer.c). */
      if (xfer_finish(&c->xf) != 0)
        c->status = EX_LOCAL;
      out = NULL;
    } else if (c->output && !(out = fopen(c->output, "wb"))) {
      fprintf(stderr, "rcoap: cannot write %s: %s\n", c->output,
              strerror(errno));
      c->status = EX_LOCAL;
    } else if (out && resp->payload_len) {
      if (rc_msg_content_format(resp) == RC_CF_LINK_FORMAT && !c->output)
        write_links(out, resp);
      else {
        fwrite(resp->payload, 1, resp->payload_len, out);
        if (out == stdout && isatty(STDOUT_FILENO) &&
            resp->payload[resp->payload_len - 1] != '\n')
          fputc('\n', out);
      }
    }
    if (out && out != stdout && fclose(out) != 0) {
      fprintf(stderr, "rcoap: error writing %s\n", c->output);
      c->status = EX_LOCAL;
    }
    fflush(stdout);
  }
  rc_context_shutdown(c->ctx, NULL, 2000, on_shutdown_done, c);
}

enum {
  OPT_CAFILE = 256,
  OPT_INSECURE,
  OPT_CERT,
  OPT_KEY,
  OPT_PSK_ID,
  OPT_PSK_KEY,
  OPT_NO_ALPN,
  OPT_NO_BERT,
  OPT_COUNT,
  OPT_DURATION,
  OPT_CUSTODY
};

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"data", required_argument, NULL, 'd'},
      {"content-format", required_argument, NULL, 't'},
      {"accept", required_argument, NULL, 'A'},
      {"option", required_argument, NULL, 'O'},
      {"output", required_argument, NULL, 'o'},
      {"include", no_argument, NULL, 'i'},
      {"verbose", no_argument, NULL, 'v'},
      {"timeout", required_argument, NULL, 'T'},
      {"cafile", required_argument, NULL, OPT_CAFILE},
      {"insecure", no_argument, NULL, OPT_INSECURE},
      {"cert", required_argument, NULL, OPT_CERT},
      {"key", required_argument, NULL, OPT_KEY},
      {"psk-identity", required_argument, NULL, OPT_PSK_ID},
      {"psk-key", required_argument, NULL, OPT_PSK_KEY},
      {"allow-no-alpn", no_argument, NULL, OPT_NO_ALPN},
      {"no-bert", no_argument, NULL, OPT_NO_BERT},
      {"non", no_argument, NULL, 'N'},
      {"count", required_argument, NULL, OPT_COUNT},
      {"duration", required_argument, NULL, OPT_DURATION},
      {"custody", no_argument, NULL, OPT_CUSTODY},
      {"version", no_argument, NULL, 'V'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  cli c = {0};
  const char *data = NULL;
  int cf = -1, accept = -1;
  double timeout_s = 30;
  rc_opt user_opts[MAX_USER_OPTS];
  uint8_t *opt_store[MAX_USER_OPTS];
  size_t n_user = 0;
  const char *cafile = NULL, *cert = NULL, *key = NULL, *psk_id = NULL,
             *psk_key = NULL;
  int insecure = 0, allow_no_alpn = 0, no_bert = 0, observe = 0;
  int ping = 0, custody = 0, non = 0;
  long obs_count = 0;
  double obs_duration = 0;
  int ch;
  while ((ch = getopt_long(argc, argv, "d:t:A:O:o:ivNT:Vh", longopts, NULL)) !=
         -1) {
    switch (ch) {
    case 'd':
      data = optarg;
      break;
    case 't':
    case 'A': {
      int v = parse_cf(optarg);
      if (v < 0) {
        fprintf(stderr, "rcoap: unknown content-format '%s'\n", optarg);
        return EX_USAGE;
      }
      *(ch == 't' ? &cf : &accept) = v;
      break;
    }
    case 'O':
      if (n_user == MAX_USER_OPTS) {
        fprintf(stderr, "rcoap: too many -O options\n");
        return EX_USAGE;
      }
      opt_store[n_user] = malloc(strlen(optarg) + 4);
      if (!opt_store[n_user] ||
          parse_option(optarg, &user_opts[n_user], opt_store[n_user]) != 0)
        return EX_USAGE;
      n_user++;
      break;
    case 'o':
      c.output = optarg;
      break;
    case 'i':
      c.include = 1;
      break;
    case 'v':
      c.verbose = 1;
      break;
    case 'T':
      timeout_s = atof(optarg);
      if (timeout_s <= 0 || timeout_s > 86400) {
        fprintf(stderr, "rcoap: bad timeout '%s'\n", optarg);
        return EX_USAGE;
      }
      break;
    case OPT_CAFILE:
      cafile = optarg;
      break;
    case OPT_INSECURE:
      insecure = 1;
      break;
    case OPT_CERT:
      cert = optarg;
      break;
    case OPT_KEY:
      key = optarg;
      break;
    case OPT_PSK_ID:
      psk_id = optarg;
      break;
    case OPT_PSK_KEY:
      psk_key = optarg;
      break;
    case OPT_NO_ALPN:
      allow_no_alpn = 1;
      break;
    case OPT_NO_BERT:
      no_bert = 1;
      break;
    case 'N':
      non = 1;
      break;
    case OPT_COUNT:
      obs_count = atol(optarg);
      break;
    case OPT_DURATION:
      obs_duration = atof(optarg);
      break;
    case OPT_CUSTODY:
      custody = 1;
      break;
    case 'V':
      printf("rcoap %s\n", rc_version());
      return EX_OK;
    case 'h':
      usage(stdout);
      return EX_OK;
    default:
      usage(stderr);
      return EX_USAGE;
    }
  }
  int method = RC_GET;
  const char *uri;
  if (argc - optind == 2) {
    method = rc_method_from_name(argv[optind]);
    if (!strcmp(argv[optind], "observe")) {
      observe = 1;
      method = RC_GET;
    } else if (!strcmp(argv[optind], "ping")) {
      ping = 1;
      method = RC_GET; /* unused */
    }
    if (method < 0) {
      fprintf(stderr, "rcoap: unknown method '%s'\n", argv[optind]);
      return EX_USAGE;
    }
    uri = argv[optind + 1];
  } else if (argc - optind == 1) {
    uri = argv[optind];
  } else {
    usage(stderr);
    return EX_USAGE;
  }
  c.uri = uri;

  uint8_t *body = NULL;
  size_t body_len = 0;
  rc_body_source src;
  int use_src = 0;
  if (data && data[0] == '@') {
    /* Streamed: read block by block as the exchange sends it. */
    if (xfer_source(&c.xf, data + 1, &src) != 0)
      return EX_LOCAL;
    use_src = 1;
  } else if (data) {
    body_len = strlen(data);
    body = malloc(body_len + 1);
    if (!body)
      return EX_LOCAL;
    memcpy(body, data, body_len);
  }

  uint8_t cfbuf[4], acbuf[4];
  if (cf >= 0 && n_user < MAX_USER_OPTS) {
    rc_opt *o = &user_opts[n_user];
    opt_store[n_user++] = NULL;
    o->num = RC_OPT_CONTENT_FORMAT;
    o->len = (uint32_t)rc_opt_uint_encode((uint32_t)cf, cfbuf);
    o->val = cfbuf;
  }
  if (accept >= 0 && n_user < MAX_USER_OPTS) {
    rc_opt *o = &user_opts[n_user];
    opt_store[n_user++] = NULL;
    o->num = RC_OPT_ACCEPT;
    o->len = (uint32_t)rc_opt_uint_encode((uint32_t)accept, acbuf);
    o->val = acbuf;
  }

  /* TLS settings for coaps+... */
  rc_tls_ctx *tls = NULL;
  if (cafile || insecure || cert || psk_id || psk_key || allow_no_alpn) {
    rc_tls_config tc;
    rc_tls_config_init(&tc, RC_TLS_CLIENT);
    tc.ca_file = cafile;
    tc.insecure = insecure;
    tc.allow_no_alpn = allow_no_alpn;
    if (insecure)
      fprintf(stderr, "rcoap: warning: --insecure: the server's certificate "
                      "is NOT verified; anyone on the path can read and "
                      "change this exchange\n");
    if (cert) {
      tc.certs[0].cert_file = cert;
      tc.certs[0].key_file = key ? key : cert;
      tc.ncerts = 1;
    }
    if (psk_id || psk_key) {
      if (!psk_id || !psk_key) {
        fprintf(stderr, "rcoap: --psk-identity and --psk-key go together\n");
        return EX_USAGE;
      }
      tc.psk_identity = (const uint8_t *)psk_id;
      tc.psk_identity_len = strlen(psk_id);
      tc.psk_key = (const uint8_t *)psk_key;
      tc.psk_key_len = strlen(psk_key);
    }
    char errbuf[256];
    if (rc_tls_ctx_new(&tc, &tls, errbuf, sizeof errbuf) != RC_OK) {
      fprintf(stderr, "rcoap: %s\n", errbuf);
      return EX_USAGE;
    }
  }

  /* A write to a connection the server has just closed must come back as
   * EPIPE (exit 3 with a reason), not kill us with SIGPIPE: libuv writes
   * with write(2), which raises it. */
  signal(SIGPIPE, SIG_IGN);
  uv_loop_t loop;
  uv_loop_init(&loop);
  rc_context_opts co = {0};
  co.loop = &loop;
  rc_session_config scfg;
  rc_session_config_default(&scfg, RC_FRAMING_TCP, RC_SESSION_CLIENT);
  if (no_bert) {
    /* Do not offer Block-Wise-Transfer in our CSM: the server then uses
     * 1024-byte blocks, not BERT (RFC 8323 §5.3.2). */
    scfg.block_wise = 0;
    co.session = &scfg;
  }
  if (non) {
    scfg.udp.requests_non = 1; /* RFC 7252 §4.3 */
    co.session = &scfg;
  }
  if (ping) {
    /* A peer that sends nothing within -T of our Ping is dead. */
    scfg.ping_timeout_ms = (uint32_t)(timeout_s * 1000);
    co.session = &scfg;
  }
  co.on_log = on_log;
  /* Without -v only the final outcome is printed (by on_response). */
  co.log_level = c.verbose ? RC_SESSION_LOG_INFO : RC_SESSION_LOG_ERR - 1;
  co.client_tls = tls;
  /* rcoap observe reconnects: go where a Release points, when it says. */
  co.follow_release = 1;
  if (c.verbose) {
    co.on_trace = on_trace;
    co.on_conn_open = on_conn_open;
  }
  if (rc_context_new(&c.ctx, &co) != RC_OK) {
    fprintf(stderr, "rcoap: out of memory\n");
    return EX_LOCAL;
  }
  rc_request_opts ro = {0};
  ro.opts = user_opts;
  ro.nopts = n_user;
  ro.payload = body;
  ro.payload_len = body_len;
  ro.timeout_ms = (uint32_t)(timeout_s * 1000);
  ro.no_bert = (uint8_t)no_bert;
  if (use_src)
    ro.body = &src;
  rc_body_sink sink;
  if (c.output) {
    xfer_sink(&c.xf, c.output, &sink);
    ro.sink = &sink;
    c.streamed = 1;
  }
  c.xf.tty = isatty(STDERR_FILENO);
  ro.on_progress = xfer_progress;
  ro.progress_arg = &c.xf;
  if (observe) {
    ro.timeout_ms = 0;
    int st = rcoap_observe(c.ctx, uri, &ro, obs_count, obs_duration);
    rc_context_free(c.ctx);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (tls)
      rc_tls_ctx_free(tls);
    for (size_t i = 0; i < n_user; i++)
      free(opt_store[i]);
    free(body);
    return st;
  }
  rc_err err = ping ? rc_ping(c.ctx, uri, &ro, custody, on_pong, &c)
                   : rc_request(c.ctx, (uint8_t)method, uri, &ro,
                                on_response, &c);
  if (err) {
    fprintf(stderr, "rcoap: %s: %s\n", uri, rc_strerror(err));
    c.status = (err == RC_ERR_NOMEM) ? EX_LOCAL : EX_URI;
  } else {
    uv_run(&loop, UV_RUN_DEFAULT);
    if (!c.done) {
      fprintf(stderr, "rcoap: no outcome (internal error)\n");
      c.status = EX_LOCAL;
    }
  }
  rc_context_free(c.ctx);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  if (tls)
    rc_tls_ctx_free(tls);
  for (size_t i = 0; i < n_user; i++)
    free(opt_store[i]);
  free(body);
  return c.status;
}
