/*
 * rcoap's stdout: the response head for -i and the body in the form that
 * suits where stdout goes.
 */
#ifndef RCOAP_TOOL_OUTPUT_H
#define RCOAP_TOOL_OUTPUT_H

#include "rcoap/codec_msg.h"

/* -i: the code, then one option per line (the token too when verbose),
 * then an empty line. */
void output_head(const rc_msg *m, int verbose);
/* The response body on stdout: as it is into a pipe or with raw; on a
 * terminal JSON indented, CBOR in diagnostic notation, link-format one
 * link per line, other binary refused with a hint. Returns 0 or -1 when
 * the body was refused (reported). */
int output_body(const rc_msg *m, int raw);

#endif
