/*
 * rcoapd as a device behind a NAT (--webrtc-register URI): it keeps an
 * outbound registration at a rendezvous broker (wr_broker.c describes
 * the protocol) and answers the offers the broker passes on from its
 * coaps+wr listener, as a full ICE agent with a server-reflexive
 * candidate learnt from the broker (--webrtc-stun).
 */
#ifndef RCOAPD_WR_REGISTER_H
#define RCOAPD_WR_REGISTER_H

#include "options.h"
#include "rcoap/app.h"

typedef struct wr_register wr_register;

/* Starts the registration (after the coaps+wr listener is open).
 * Returns 0 (and *out; NULL without --webrtc-register) or -1 after
 * saying why. */
int wr_register_start(rc_context *ctx, const rcoapd_opts *o,
                      wr_register **out);
/* Deregisters and stops (no new registration). NULL ok; again ok. Call
 * before rc_context_free. */
void wr_register_stop(wr_register *r);
/* Frees, after rc_context_free (which may still use its TLS context), and
 * before the loop's last run. NULL ok. */
void wr_register_free(wr_register *r);

#endif
