/*
 * rcoap's command line, parsed into one struct before anything is sent.
 */
#ifndef RCOAP_TOOL_ARGS_H
#define RCOAP_TOOL_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "rcoap/codec_option.h"

#define MAX_USER_OPTS 32

typedef struct rcoap_args {
  const char *uri;
  int method;              /* RC_GET, ... */
  int observe;
  int ping;
  int discover;            /* rcoap discover [URI]: uri may be NULL */
  int custody;
  const char *data;        /* -d; "@FILE" streams a file */
  double timeout_s;
  rc_opt opts[MAX_USER_OPTS + 2]; /* -O, then -t and -A */
  uint8_t *opt_store[MAX_USER_OPTS + 2]; /* owned values (NULL: cfbuf) */
  uint8_t cfbuf[4], acbuf[4];
  size_t nopts;
  const char *output;      /* -o */
  int include;
  int verbose;
  const char *cafile, *cert, *key, *psk_id, *psk_key;
  char psk_key_buf[512];   /* --psk-key-file's key */
  int insecure, allow_no_alpn, no_bert;
  int non;                 /* -N: Non-confirmable requests on coap:// */
  int qblock;              /* --qblock: Q-Block1/Q-Block2 (RFC 9177) */
  long obs_count;
  double obs_duration;
  long retries;            /* --retries: losses in a row observe mends */
  int retries_set;
  int raw;                 /* --raw: bodies as they are, even on a tty */
  int stats;               /* --stats: the RFC 7252 counters at the end */
  const char *keylog;      /* --keylog FILE, else $SSLKEYLOGFILE */
  uint32_t ack_timeout_ms; /* --ack-timeout; 0: the default */
  int max_retransmit;      /* --max-retransmit; -1: the default */
  uint8_t block_szx;       /* -O 23,SZX: SZX + 1; 0: the default */
  const char *signal;      /* --signal: where coaps+wr offers go */
  const char *stun;        /* --stun HOST:PORT: our srflx address first */
  uint8_t window;          /* --window: Block2 requests in flight */
} rcoap_args;

/* Block2 requests in flight by default (docs/BENCHMARKS.md, "Windowed
 * Block2": 3.4x the rate of one with a 20 ms round trip, no loss on
 * loopback). */
#define RCOAP_WINDOW_DEFAULT 4

/* Parses argv into a. Returns -1 to run, or the exit status to exit with
 * (0 after --help / --version; the usage status, reported, on errors). */
int rcoap_parse(int argc, char **argv, rcoap_args *a);
void rcoap_args_free(rcoap_args *a);

#endif
