/*
 * rcoap observe.
 */
#ifndef RCOAP_TOOL_OBSERVE_H
#define RCOAP_TOOL_OBSERVE_H

#include "args.h"
#include "rcoap/app.h"

/* rcoap observe URI: prints each notification with a timestamp until
 * a->obs_count notifications or a->obs_duration seconds (0: no limit).
 * Gives up at once on what retrying cannot fix (the first connection
 * fails, the name does not resolve, the server is not trusted, the
 * registration is refused) and after a->retries losses in a row once it
 * worked; the first answer must come within -T. Returns the exit status. */
int rcoap_observe(rc_context *ctx, const rcoap_args *a,
                  const rc_request_opts *ro);

#endif
