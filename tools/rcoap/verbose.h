/*
 * rcoap's stderr commentary: the library's log, -v's message trace and
 * the TLS details of each connection.
 */
#ifndef RCOAP_TOOL_VERBOSE_H
#define RCOAP_TOOL_VERBOSE_H

#include "rcoap/app.h"

/* rc_context_opts.on_log, .on_trace, .on_conn_open. */
void verbose_on_log(void *user, int level, const char *text);
void verbose_on_trace(void *user, char dir, const rc_msg *m);
void verbose_on_conn_open(void *user, rc_conn *c);

#endif
