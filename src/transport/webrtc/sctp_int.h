/*
 * What the SCTP filter (sctp.c) and the data-channel filter (dcep.c) pass
 * each other: every up() and down() between them starts with this header,
 * then the user message. One process, one struct layout: never on a wire.
 */
#ifndef RCOAP_SCTP_INT_H
#define RCOAP_SCTP_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum {
  RC__SCTP_DATA = 0,  /* a user message on stream sid with ppid */
  RC__SCTP_RESET = 1, /* down: reset our outgoing stream sid (RFC 6525);
                         up: the peer reset its outgoing stream sid */
};

enum {
  RC__SCTP_UNORDERED = 1,
  /* down: more messages follow in this batch (the chain's RC_FILTER_MORE);
   * SCTP may hold this one until the filter's flush and bundle them */
  RC__SCTP_MORE = 2,
  /* down: the message is not behind the meta: an rc__sctp_ref holds the
   * meta, then where the message is. dcep's down() reaches sctp's send()
   * directly (the chain's link_down), which copies the message into
   * usrsctp or its own queue before returning, so a large message goes
   * down without a copy of its own (one copy of a bulk transfer less). */
  RC__SCTP_REF = 4
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

typedef struct rc__sctp_ref {
  rc__sctp_meta meta; /* flags has RC__SCTP_REF */
  const uint8_t *data;
  size_t len;
} rc__sctp_ref;

/* What one down() between dcep and sctp carries, in either form: the meta
 * (RC__SCTP_REF cleared) and the message. Returns 0, or -1 if it is too
 * short or a reference of the wrong length. */
static inline int rc__sctp_down_view(const uint8_t *d, size_t n,
                                     rc__sctp_meta *m, const uint8_t **msg,
                                     size_t *len) {
  if (n < RC__SCTP_META_LEN)
    return -1;
  memcpy(m, d, sizeof *m);
  if (!(m->flags & RC__SCTP_REF)) {
    *msg = d + RC__SCTP_META_LEN;
    *len = n - RC__SCTP_META_LEN;
    return 0;
  }
  if (n != sizeof(rc__sctp_ref))
    return -1;
  rc__sctp_ref r;
  memcpy(&r, d, sizeof r);
  m->flags &= (uint8_t)~RC__SCTP_REF;
  *msg = r.data;
  *len = r.len;
  return 0;
}

#endif
