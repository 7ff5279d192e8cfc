/*
 * The server TLS context of rcoapd, from its options: the given
 * certificates, or a self-signed demo certificate made once in the state
 * folder; client authentication; pre-shared keys.
 */
#ifndef RCOAPD_TLS_SETUP_H
#define RCOAPD_TLS_SETUP_H

#include "options.h"
#include "rcoap/transport_tls.h"

/* Returns 0 and *out (a DTLS context for coaps:// with dgram), or -1
 * after printing why. */
int rcoapd_tls_setup(const rcoapd_opts *o, int dgram, rc_tls_ctx **out);

#endif
