/* rcoapd's /webrtc resource: POST an offer, get the coaps+wr answer. */
#ifndef RCOAPD_WEBRTC_H
#define RCOAPD_WEBRTC_H

#include "rcoap/app.h"

/* Adds /webrtc (after a coaps+wr listener is open). Returns 0 or the
 * resource error. */
rc_err webrtc_resource_add(rc_context *ctx);

#endif
