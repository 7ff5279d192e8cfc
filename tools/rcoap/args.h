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
  long obs_count;
  double obs_duration;
  long retries;            /* --retries: losses in a row observe mends */
  int retries_set;
  int raw;                 /* --raw: bodies as they are, even on a tty */
  uint8_t block_szx;       /* -O 23,SZX: SZX + 1; 0: the default */
  const char *signal;      /* --signal: where coaps+wr offers go */
} rcoap_args;

/* Parses argv into a. Returns -1 to run, or the exit status to exit with
 * (0 after --help / --version; the usage status, reported, on errors). */
int rcoap_parse(int argc, char **argv, rcoap_args *a);
void rcoap_args_free(rcoap_args *a);

#endif
