/*
 * rcoapd's listeners: every --listen (or the defaults) bound before a
 * single "listening on" line is printed.
 */
#ifndef RCOAPD_LISTEN_H
#define RCOAPD_LISTEN_H

#include "options.h"
#include "rcoap/app.h"
#include "rcoap/transport_static.h"

typedef struct listeners {
  rc_tls_ctx *tls;
  rc_tls_ctx *dtls; /* coaps:// (the same settings, datagram) */   /* server TLS, made when a TLS listener exists */
  rc_static *web;    /* static files on the WS ports */
  rc_context *ctx;   /* HTTP-to-CoAP under /hc/ (when a proxy) */
  rc_ws_config ws;
  int webrtc;        /* a coaps+wr listener is open: /webrtc answers */
} listeners;

/* Binds every listener of o (the defaults without -l: a busy one is
 * skipped with a warning) and then prints one line for each. Returns 0,
 * or -1 after saying why (nothing printed as listening). */
int listeners_open(rc_context *ctx, const rcoapd_opts *o, listeners *ls);
void listeners_free(listeners *ls);

#endif
