/*
 * rcoap's command line: options, the method and the URI, checked and
 * turned into one rcoap_args before a connection is opened.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "rcoap/app.h"
#include "rcoap/codec_block.h"
#include "rcoap/codec_print.h"
#include "rcoap/version.h"
#include "status.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: rcoap [options] [METHOD] URI\n"
          "\n"
          "METHOD is get (default; post with -d), post, put, delete, fetch,\n"
          "patch or ipatch; observe prints each notification (--count N,\n"
          "--duration S, --retries N); ping sends a CoAP Ping (RFC 8323 §5.4)\n"
          "and prints the Pong's round trip (--custody asks for Custody).\n"
          "rcoap discover [coap://GROUP[/PATH?QUERY]] sends one NON GET to a\n"
          "multicast group (default coap://224.0.1.187/.well-known/core,\n"
          "RFC 7252 §8) and prints every answer until -T: its address and\n"
          "links; exit 0 if any, 6 if none.\n"
          "URI schemes: coap:// (UDP), coaps:// (DTLS), coap+tcp://,\n"
          "coaps+tcp://, coap+ws://, coaps+ws:// (coap+wss://), coaps+wr://\n"
          "(a WebRTC data channel; the offer goes to coap+ws://HOST/webrtc).\n"
          "\n"
          "options:\n"
          "  -d, --data DATA        request payload; @FILE streams a file in\n"
          "                         Block1, @- reads stdin\n"
          "  -t, --content-format F payload Content-Format (name or number)\n"
          "  -A, --accept F         Accept option (name or number)\n"
          "  -O, --option NUM,VAL   any option (repeatable); VAL by the option's\n"
          "                         format: number, text, or 0xHEX for opaque;\n"
          "                         -O 23,SZX asks for blocks of that size\n"
          "  -o, --output FILE      write the body to FILE as it arrives\n"
          "                         (bounded memory; - is stdout); checked\n"
          "                         before anything is sent\n"
          "      --raw              the body as it is, even on a terminal\n"
          "                         (no pretty JSON, no CBOR diagnostics)\n"
          "      --no-bert          no BERT: 1024-byte blocks (RFC 7959)\n"
          "      --window N         Block2 requests in flight at once, 1-16\n"
          "                         (default 4; coap:// keeps to 1)\n"
          "  -N, --non              coap://: send requests Non-confirmable\n"
          "      --qblock           coap://, coaps://: bodies in Q-Block sets\n"
          "                         (RFC 9177): NON blocks, lost ones asked\n"
          "                         for again; a server without Q-Block\n"
          "                         (4.02) gets Block1/Block2 instead\n"
          "  -i, --include          print the response code, then one option\n"
          "                         per line, then the body\n"
          "  -v, --verbose          show every message both ways on stderr,\n"
          "                         signaling included\n"
          "      --ack-timeout MS   coap://, coaps://: ACK_TIMEOUT (default 2000)\n"
          "      --max-retransmit N coap://, coaps://: MAX_RETRANSMIT (default\n"
          "                         4, at most 20); RFC 7252 §4.8\n"
          "      --stats            coap://, coaps://: at the end, one line on\n"
          "                         stderr counting CONs sent, retransmitted,\n"
          "                         answered after N retransmissions, given up\n"
          "  -T, --timeout SECONDS  the whole run, connection and handshakes\n"
          "                         included (default 30); observe: the first\n"
          "                         answer\n"
          "      --retries N        observe: losses in a row to reconnect\n"
          "                         after, with back-off (default 5)\n"
          "      --cafile FILE      trust these CA certificates (coaps...)\n"
          "      --cert FILE --key FILE  client certificate (mutual TLS)\n"
          "      --psk-identity ID --psk-key-file FILE   TLS pre-shared key,\n"
          "                         the key from FILE's first line\n"
          "                         (--psk-key KEY: visible in ps)\n"
          "      --insecure         do not verify the server (prints a warning)\n"
          "      --keylog FILE      append the TLS/DTLS secrets to FILE (NSS key\n"
          "                         log format, for Wireshark/tshark; default:\n"
          "                         $SSLKEYLOGFILE when set). Debugging only\n"
          "      --allow-no-alpn    accept a coaps+tcp server that negotiates no\n"
          "                         ALPN on a port other than 5684 (libcoap's\n"
          "                         PSK server is one; RFC 8323 §8.2). coaps+ws\n"
          "                         offers ALPN http/1.1 and needs no answer\n"
          "      --signal URI       coaps+wr: POST the WebRTC offer here\n"
          "                         (default coap+ws://HOST/webrtc)\n"
          "      --stun HOST:PORT   coaps+wr from behind a NAT: ask this STUN\n"
          "                         server (a rendezvous broker's coaps+wr\n"
          "                         port) for our public address and offer\n"
          "                         it too (docs/RENDEZVOUS.md)\n"
          "  -V, --version          print the version\n"
          "  -h, --help             this text\n"
          "\n"
          "A progress line goes to stderr when it is a terminal. On a\n"
          "terminal JSON is indented and CBOR shown in diagnostic notation;\n"
          "other binary bodies need -o FILE. Pipes get the body unchanged.\n"
          "\n"
          "exit status: 0 2.xx, 1 usage, 2 bad URI or scheme, 3 cannot connect\n"
          "(refused, closed), 4 4.xx, 5 5.xx, 6 timeout, 7 aborted / protocol\n"
          "error, 8 local error (file, memory), 9 host name not resolved,\n"
          "10 TLS failure (untrusted certificate, handshake)\n"
          "\n"
          "examples:\n"
          "  rcoap coap+tcp://127.0.0.1/hello\n"
          "  rcoap -d 'new text' put coap+tcp://127.0.0.1/store/note\n"
          "  rcoap -o big.bin coaps+tcp://host/large --cafile ca.pem\n"
          "  rcoap observe --count 3 coap+ws://127.0.0.1:8080/sensors/temp\n"
          "  rcoap -i coap+tcp://127.0.0.1/.well-known/core\n"
          "  rcoap ping --custody coap+tcp://127.0.0.1\n");
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
  if (d && d->format == RC_OPTF_EMPTY) {
    /* If-None-Match: "-O 5" or "-O 5,0x"; a value would go on the wire
     * as text and make the option malformed (a 4.02). */
    if (*val && strcmp(val, "0x")) {
      fprintf(stderr, "rcoap: option %lu (%s) takes no value (got '%s')\n",
              num, d->name, val);
      return -1;
    }
    o->len = 0;
    return 0;
  }
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

enum {
  OPT_CAFILE = 256,
  OPT_INSECURE,
  OPT_CERT,
  OPT_KEY,
  OPT_PSK_ID,
  OPT_PSK_KEY,
  OPT_NO_ALPN,
  OPT_NO_BERT,
  OPT_QBLOCK,
  OPT_WINDOW,
  OPT_COUNT,
  OPT_DURATION,
  OPT_CUSTODY,
  OPT_RETRIES,
  OPT_RAW,
  OPT_PSK_KEY_FILE,
  OPT_SIGNAL,
  OPT_STUN,
  OPT_STATS,
  OPT_ACK_TIMEOUT,
  OPT_MAX_RETRANSMIT,
  OPT_KEYLOG
};

/* --psk-key-file: the key is the file's first line; ps shows arguments,
 * so a key given with --psk-key is seen by every user of the machine. */
static int read_key_file(const char *path, rcoap_args *a) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "rcoap: --psk-key-file %s: %s\n", path, strerror(errno));
    return -1;
  }
  size_t n = fread(a->psk_key_buf, 1, sizeof a->psk_key_buf - 1, f);
  fclose(f);
  a->psk_key_buf[n] = 0;
  a->psk_key_buf[strcspn(a->psk_key_buf, "\r\n")] = 0;
  if (!a->psk_key_buf[0]) {
    fprintf(stderr, "rcoap: --psk-key-file %s: empty\n", path);
    return -1;
  }
  a->psk_key = a->psk_key_buf;
  return 0;
}

/* A number that is all number, in [lo, hi]; -1 (reported) if not. */
static int num_arg(const char *flag, const char *s, double lo, double hi,
                   int whole, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end || errno || v < lo || v > hi ||
      (whole && v != (double)(long)v)) {
    if (whole && hi < 1e6)
      fprintf(stderr, "rcoap: %s wants a whole number from %.0f to %.0f "
              "(got '%s')\n", flag, lo, hi, s);
    else
      fprintf(stderr, "rcoap: %s wants %s (got '%s')\n", flag,
              whole ? (lo > 0 ? "a whole number, 1 or more"
                              : "a whole number, 0 or more")
                    : "a number of seconds over 0",
              s);
    return -1;
  }
  *out = v;
  return 0;
}

/* Options that only mean something with one kind of run. */
static int check_combination(const rcoap_args *a, const char *verb) {
  const char *bad = NULL, *needs = NULL;
  if (!a->observe && (a->obs_count || a->obs_duration || a->retries_set)) {
    bad = a->obs_count      ? "--count"
          : a->obs_duration ? "--duration"
                            : "--retries";
    needs = "observe";
  } else if (!a->ping && a->custody) {
    bad = "--custody";
    needs = "ping";
  } else if ((a->ping || a->observe) && a->data) {
    bad = "-d";
    needs = "a method that sends a body (post, put, fetch, patch, ipatch)";
  } else if (a->ping && a->output) {
    bad = "-o";
    needs = "a request";
  }
  if (!bad)
    return 0;
  fprintf(stderr, "rcoap: %s goes with %s, not %s\n", bad, needs, verb);
  return -1;
}

/* -o FILE must be writable before anything is sent: a PUT must not change
 * the server and then fail to keep the answer. */
static int check_output(const char *path) {
  struct stat st;
  if (stat(path, &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      fprintf(stderr, "rcoap: cannot write %s: it is a directory\n", path);
      return -1;
    }
    if (access(path, W_OK) != 0) {
      fprintf(stderr, "rcoap: cannot write %s: %s\n", path, strerror(errno));
      return -1;
    }
    return 0;
  }
  if (errno != ENOENT) {
    fprintf(stderr, "rcoap: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else if (slash == dir)
    dir[1] = 0;
  else
    *slash = 0;
  if (access(dir, W_OK | X_OK) != 0) {
    fprintf(stderr, "rcoap: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  return 0;
}

/* -O 23,V (Block2 by hand) with block number 0 means "fetch in blocks of
 * this size": the option leaves the list and becomes the transfer's block
 * size, so the whole body is followed (RFC 7959 §2.4: a client may ask
 * for a smaller size in its first request). A later block number asks for
 * that one block only, which is said. */
static void block2_by_hand(rcoap_args *a) {
  for (size_t i = 0; i < a->nopts; i++) {
    rc_block b;
    if (a->opts[i].num != RC_OPT_BLOCK2 ||
        rc_block_decode(a->opts[i].val, a->opts[i].len, &b) != RC_OK)
      continue;
    if (b.num) {
      fprintf(stderr, "rcoap: note: -O 23 asks for block %u only; with "
                      "block number 0 the whole body is fetched in blocks "
                      "of that size\n",
              (unsigned)b.num);
      return;
    }
    if (b.szx < 7) /* 7 is BERT: the default when the server offers it */
      a->block_szx = (uint8_t)(b.szx + 1);
    free(a->opt_store[i]);
    memmove(&a->opts[i], &a->opts[i + 1],
            (a->nopts - i - 1) * sizeof a->opts[0]);
    memmove(&a->opt_store[i], &a->opt_store[i + 1],
            (a->nopts - i - 1) * sizeof a->opt_store[0]);
    a->nopts--;
    return;
  }
}

/* Adds a uint option the tool builds itself (-t, -A). */
static void add_uint_opt(rcoap_args *a, uint16_t num, int v, uint8_t *buf) {
  rc_opt *o = &a->opts[a->nopts];
  a->opt_store[a->nopts++] = NULL;
  o->num = num;
  o->len = (uint32_t)rc_opt_uint_encode((uint32_t)v, buf);
  o->val = buf;
}

int rcoap_parse(int argc, char **argv, rcoap_args *a) {
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
      {"qblock", no_argument, NULL, OPT_QBLOCK},
      {"window", required_argument, NULL, OPT_WINDOW},
      {"non", no_argument, NULL, 'N'},
      {"count", required_argument, NULL, OPT_COUNT},
      {"duration", required_argument, NULL, OPT_DURATION},
      {"custody", no_argument, NULL, OPT_CUSTODY},
      {"retries", required_argument, NULL, OPT_RETRIES},
      {"raw", no_argument, NULL, OPT_RAW},
      {"psk-key-file", required_argument, NULL, OPT_PSK_KEY_FILE},
      {"signal", required_argument, NULL, OPT_SIGNAL},
      {"stun", required_argument, NULL, OPT_STUN},
      {"stats", no_argument, NULL, OPT_STATS},
      {"ack-timeout", required_argument, NULL, OPT_ACK_TIMEOUT},
      {"max-retransmit", required_argument, NULL, OPT_MAX_RETRANSMIT},
      {"keylog", required_argument, NULL, OPT_KEYLOG},
      {"version", no_argument, NULL, 'V'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  memset(a, 0, sizeof *a);
  a->timeout_s = 30;
  a->max_retransmit = -1;
  a->retries = 5;
  a->window = RCOAP_WINDOW_DEFAULT;
  double num;
  int cf = -1, accept = -1;
  int ch;
  opterr = 0;
  while ((ch = getopt_long(argc, argv, "d:t:A:O:o:ivNT:Vh", longopts, NULL)) !=
         -1) {
    switch (ch) {
    case 'd':
      a->data = optarg;
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
      if (a->nopts == MAX_USER_OPTS) {
        fprintf(stderr, "rcoap: too many -O options\n");
        return EX_USAGE;
      }
      a->opt_store[a->nopts] = malloc(strlen(optarg) + 4);
      if (!a->opt_store[a->nopts] ||
          parse_option(optarg, &a->opts[a->nopts], a->opt_store[a->nopts]) !=
              0) {
        a->nopts++;
        return EX_USAGE;
      }
      a->nopts++;
      break;
    case 'o':
      a->output = optarg;
      break;
    case 'i':
      a->include = 1;
      break;
    case 'v':
      a->verbose = 1;
      break;
    case 'T':
      if (num_arg("-T", optarg, 0.001, 86400, 0, &a->timeout_s) != 0)
        return EX_USAGE;
      break;
    case OPT_CAFILE:
      a->cafile = optarg;
      break;
    case OPT_INSECURE:
      a->insecure = 1;
      break;
    case OPT_CERT:
      a->cert = optarg;
      break;
    case OPT_KEY:
      a->key = optarg;
      break;
    case OPT_PSK_ID:
      a->psk_id = optarg;
      break;
    case OPT_PSK_KEY:
      a->psk_key = optarg;
      break;
    case OPT_NO_ALPN:
      a->allow_no_alpn = 1;
      break;
    case OPT_NO_BERT:
      a->no_bert = 1;
      break;
    case OPT_QBLOCK:
      a->qblock = 1;
      break;
    case 'N':
      a->non = 1;
      break;
    case OPT_COUNT:
      if (num_arg("--count", optarg, 1, 1e9, 1, &num) != 0)
        return EX_USAGE;
      a->obs_count = (long)num;
      break;
    case OPT_DURATION:
      if (num_arg("--duration", optarg, 0.001, 1e9, 0, &a->obs_duration) !=
          0)
        return EX_USAGE;
      break;
    case OPT_CUSTODY:
      a->custody = 1;
      break;
    case OPT_WINDOW:
      if (num_arg("--window", optarg, 1, RC_EXCHANGE_WINDOW_MAX, 1, &num) != 0)
        return EX_USAGE;
      a->window = (uint8_t)num;
      break;
    case OPT_RETRIES:
      if (num_arg("--retries", optarg, 0, 1e6, 1, &num) != 0)
        return EX_USAGE;
      a->retries = (long)num;
      a->retries_set = 1;
      break;
    case OPT_STATS:
      a->stats = 1;
      break;
    case OPT_KEYLOG:
      a->keylog = optarg;
      break;
    case OPT_ACK_TIMEOUT:
      if (num_arg("--ack-timeout", optarg, 1, 600000, 1, &num) != 0)
        return EX_USAGE;
      a->ack_timeout_ms = (uint32_t)num;
      break;
    case OPT_MAX_RETRANSMIT:
      if (num_arg("--max-retransmit", optarg, 0, 20, 1, &num) != 0)
        return EX_USAGE;
      a->max_retransmit = (int)num;
      break;
    case OPT_RAW:
      a->raw = 1;
      break;
    case OPT_PSK_KEY_FILE:
      if (read_key_file(optarg, a) != 0)
        return EX_LOCAL;
      break;
    case OPT_SIGNAL:
      a->signal = optarg;
      break;
    case OPT_STUN:
      a->stun = optarg;
      break;
    case 'V':
      printf("rcoap %s\n", rc_version());
      return EX_OK;
    case 'h':
      usage(stdout);
      return EX_OK;
    default:
      /* getopt's own message would name the program by its path. */
      if (!optopt)
        fprintf(stderr, "rcoap: unknown option '%s'\n", argv[optind - 1]);
      else if (optopt >= 256 || strchr("d:t:A:O:o:ivNT:Vh", optopt))
        fprintf(stderr, "rcoap: option '%s' needs a value\n",
                argv[optind - 1]);
      else
        fprintf(stderr, "rcoap: unknown option '-%c'\n", optopt);
      fprintf(stderr, "rcoap: try 'rcoap --help'\n");
      return EX_USAGE;
    }
  }
  /* -d without a method is a POST, as curl's -d is. */
  a->method = a->data ? RC_POST : RC_GET;
  const char *verb = a->data ? "post" : "get";
  if (argc - optind >= 1 && !strcmp(argv[optind], "discover")) {
    /* rcoap discover [URI]: multicast (discover.c) */
    if (argc - optind > 2) {
      fprintf(stderr, "rcoap: discover takes at most one URI\n");
      return EX_USAGE;
    }
    a->discover = 1;
    a->uri = argc - optind == 2 ? argv[optind + 1] : NULL;
    return -1;
  }
  if (argc - optind == 2) {
    verb = argv[optind];
    a->method = rc_method_from_name(argv[optind]);
    if (!strcmp(argv[optind], "observe")) {
      a->observe = 1;
      a->method = RC_GET;
    } else if (!strcmp(argv[optind], "ping")) {
      a->ping = 1;
      a->method = RC_GET; /* unused */
    }
    if (a->method < 0) {
      fprintf(stderr, "rcoap: unknown method '%s' (get, post, put, delete, "
                      "fetch, patch, ipatch, observe or ping)\n",
              argv[optind]);
      return EX_USAGE;
    }
    a->uri = argv[optind + 1];
  } else if (argc - optind == 1) {
    a->uri = argv[optind];
  } else if (argc == optind) {
    fprintf(stderr, "rcoap: no URI given (rcoap [options] [METHOD] URI; "
                    "rcoap --help)\n");
    return EX_USAGE;
  } else {
    fprintf(stderr, "rcoap: one URI, at most one method before it: "
                    "'%s' is one word too many\n",
            argv[argc - 1]);
    return EX_USAGE;
  }
  if (check_combination(a, verb) != 0)
    return EX_USAGE;
  if (a->output && !strcmp(a->output, "-"))
    a->output = NULL; /* -o -: stdout */
  else if (a->output && check_output(a->output) != 0)
    return EX_LOCAL;
  block2_by_hand(a);
  /* the convention browsers, curl and gnutls-cli follow */
  if (!a->keylog && getenv("SSLKEYLOGFILE") && *getenv("SSLKEYLOGFILE"))
    a->keylog = getenv("SSLKEYLOGFILE");
  if (cf >= 0)
    add_uint_opt(a, RC_OPT_CONTENT_FORMAT, cf, a->cfbuf);
  if (accept >= 0)
    add_uint_opt(a, RC_OPT_ACCEPT, accept, a->acbuf);
  return -1;
}

void rcoap_args_free(rcoap_args *a) {
  for (size_t i = 0; i < a->nopts; i++)
    free(a->opt_store[i]);
  a->nopts = 0;
}
