/*
 * rc_udp_stats rendered as one line, for rcoap --stats and rcoapd's line
 * at exit (the counters themselves are kept by udp.c).
 */
#include <inttypes.h>
#include <stdio.h>

#include "rcoap/session.h"

int rc_udp_stats_format(const rc_udp_stats *st, char *buf, size_t size) {
  /* buf may be NULL when size is 0 (snprintf's convention): the length */
  int n = snprintf(buf, size,
                   "con=%" PRIu64 " retransmits=%" PRIu64 " answered=%" PRIu64
                   " gave_up=%" PRIu64 " max_tries=%" PRIu32
                   " dup_con=%" PRIu64 " dup_non=%" PRIu64 " after=",
                   st->con_sent, st->retransmits, st->answered, st->gave_up,
                   st->max_tries, st->dup_con, st->dup_non);
  for (unsigned i = 0; i < RC_UDP_STATS_TRIES && n >= 0; i++) {
    size_t at = (size_t)n < size ? (size_t)n : size;
    int m = snprintf(size ? buf + at : NULL, size - at,
                     i ? ",%" PRIu64 : "%" PRIu64, st->answered_after[i]);
    n = m < 0 ? m : n + m;
  }
  return n;
}
