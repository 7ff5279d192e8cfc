/*
 * rcoap's exit statuses and the words it prints when a request fails.
 */
#ifndef RCOAP_TOOL_STATUS_H
#define RCOAP_TOOL_STATUS_H

#include <stdint.h>

#include "args.h"
#include "rcoap/err.h"

/* Exit statuses (README's table). */
enum {
  EX_OK = 0,        /* 2.xx */
  EX_USAGE = 1,     /* bad command line */
  EX_URI = 2,       /* bad URI or unsupported scheme */
  EX_CONNECT = 3,   /* could not connect: refused, reset, WS upgrade */
  EX_CLIENT = 4,    /* 4.xx response */
  EX_SERVER = 5,    /* 5.xx response */
  EX_TIMEOUT = 6,   /* no response in time */
  EX_ABORT = 7,     /* the peer aborted or broke the protocol */
  EX_LOCAL = 8,     /* local error: file, memory */
  EX_RESOLVE = 9,   /* the host name could not be resolved */
  EX_TLS = 10       /* TLS failed: untrusted certificate, handshake */
};

/* The exit status for a response code / a failure. */
int status_for_code(uint8_t code);
int status_for_error(rc_err err);

/* Prints why a request to a->uri failed, with a hint when there is one a
 * person can act on, and returns the exit status. */
int report_error(const rcoap_args *a, rc_err status, const char *detail);

#endif
