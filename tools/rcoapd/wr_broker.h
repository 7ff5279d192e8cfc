/*
 * rcoapd as a coaps+wr rendezvous broker (--webrtc-peers-allow): one
 * resource /webrtc/peers/NAME per allowed NAME. The device that may use
 * NAME registers by observing it; a client's offer POSTed there reaches
 * the device as a notification and the device's answer comes back in the
 * response (docs/RENDEZVOUS.md; the protocol is described in
 * wr_broker.c).
 */
#ifndef RCOAPD_WR_BROKER_H
#define RCOAPD_WR_BROKER_H

#include "options.h"
#include "rcoap/app.h"

typedef struct wr_broker wr_broker;

/* Adds the resources for o->peers_allow. Returns 0 (and *out, NULL when
 * no rule is given), or -1 after saying why. */
int wr_broker_start(rc_context *ctx, const rcoapd_opts *o, wr_broker **out);
/* A shared secret (secret-file:, --webrtc-register-secret-file): FILE's
 * first line, 1 to cap-1 characters of A-Z a-z 0-9 - . _ ~. Returns 0 or
 * -1 (unreadable, empty, other characters). */
int wr_secret_read(const char *file, char *out, size_t cap);

/* Answers the offers still waiting (5.03) and frees the broker. NULL ok. */
void wr_broker_stop(wr_broker *b);

#endif
