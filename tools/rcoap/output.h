/*
 * rcoap's stdout: the response head for -i and the body in the form that
 * suits where stdout goes.
 */
#ifndef RCOAP_TOOL_OUTPUT_H
#define RCOAP_TOOL_OUTPUT_H

#include "rcoap/codec_msg.h"

/* -i: the response code and options. */
void output_head(const rc_msg *m);
/* The response body on stdout. Returns 0 or -1 (reported). */
int output_body(const rc_msg *m);

#endif
