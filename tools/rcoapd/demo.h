/*
 * rcoapd's demo resources: /hello, /time, /echo, /store/..., /sensors/temp
 * and /large, registered on a context.
 */
#ifndef RCOAPD_DEMO_H
#define RCOAPD_DEMO_H

#include "rcoap/app.h"

typedef struct demo demo;

/* Registers the demo resources on ctx and starts the sensor timer on the
 * context's loop. Returns 0 or an rc_err. */
rc_err demo_start(rc_context *ctx, demo **out);
/* Stops the timer and frees the store (resources go with the context). */
void demo_stop(demo *d);

#endif
