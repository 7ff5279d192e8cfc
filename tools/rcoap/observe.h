/*
 * rcoap observe.
 */
#ifndef RCOAP_TOOL_OBSERVE_H
#define RCOAP_TOOL_OBSERVE_H

#include "rcoap/app.h"

/* rcoap observe URI: prints each notification with a timestamp; stops
 * after count notifications (0: no limit) or duration_s seconds (0: no
 * limit). Returns the exit status. */
int rcoap_observe(rc_context *ctx, const char *uri, const rc_request_opts *ro,
                  long count, double duration_s);

#endif
