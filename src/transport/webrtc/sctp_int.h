/*
 * What the SCTP filter (sctp.c) and the data-channel filter (dcep.c) pass
 * each other: every up() and down() between them starts with this header,
 * then the user message. One process, one struct layout: never on a wire.
 */
#ifndef RCOAP_SCTP_INT_H
#define RCOAP_SCTP_INT_H

#include <stdint.h>

enum {
  RC__SCTP_DATA = 0,  /* a user message on stream sid with ppid */
  RC__SCTP_RESET = 1, /* down: reset our outgoing stream sid (RFC 6525);
                         up: the peer reset its outgoing stream sid */
};

enum {
  RC__SCTP_UNORDERED = 1,
  /* down: more messages follow in this batch (the chain's RC_FILTER_MORE);
   * SCTP may hold this one until the filter's flush and bundle them */
  RC__SCTP_MORE = 2
};

/* Partial reliability (RFC 3758), as a DCEP channel type names it. */
enum { RC__SCTP_PR_NONE = 0, RC__SCTP_PR_RTX = 1, RC__SCTP_PR_TTL = 2 };

typedef struct rc__sctp_meta {
  uint32_t ppid;     /* host order */
  uint32_t pr_value; /* retransmissions or milliseconds */
  uint16_t sid;
  uint8_t op;        /* RC__SCTP_DATA / RC__SCTP_RESET */
  uint8_t flags;     /* RC__SCTP_UNORDERED, RC__SCTP_MORE */
  uint8_t pr_policy; /* RC__SCTP_PR_* */
  uint8_t pad[3];
} rc__sctp_meta;

#define RC__SCTP_META_LEN sizeof(rc__sctp_meta)

#endif
