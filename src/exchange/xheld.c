/*
 * Answers the UDP amplification limit held back, kept so that a request
 * with an effect runs once (RFC 7252 §11.3, RFC 9175 §2.4).
 *
 * The session sends a large answer to a peer whose address is not yet
 * confirmed as a 4.01 with an Echo option instead; the client repeats the
 * request with that Echo (RFC 9175 §2.3). For GET, FETCH, PUT and DELETE
 * running the handler again is harmless (safe or idempotent, RFC 7252
 * §5.8); for POST, PATCH and iPATCH it would be a second effect. So the
 * answer the handler gave is kept in the body cache (xserver.c: same
 * slots, cache_max and budget as Block2 bodies) under the request's key
 * (Echo is not part of it, RFC 9175 §2.2.1) and its payload's hash,
 * flagged amp_held, for RC_UDP_ECHO_LIFETIME_MS (the Echo value's
 * lifetime: a later repeat's Echo is stale and asked again anyway); the
 * repeat that carries an Echo is answered from it before the handler.
 * One such entry per exchange (the latest; exchanges are per peer).
 */
#include <string.h>

#include "exchange_int.h"

void rc__xheld_keep(rc_exchange *x, rc_xreq *r, const rc_outmsg *resp,
                    const rc_body_source *src) {
  if (!rc_session_udp_amp_held(x->s, r->token, r->token_len))
    return;
  if (r->has_b1 || r->has_qb1)
    return; /* a Block1 upload's last block has its kept answer */
  xcache *c = NULL;
  if (!src) {
    for (size_t i = 0; x->nheld && i < RC_EXCHANGE_CACHE_SLOTS; i++)
      if (x->cache[i].amp_held)
        rc__xsrv_cache_drop(x, &x->cache[i]); /* the latest one only */
    rc__xreq_keys(r);
    xanswer a;
    memset(&a, 0, sizeof a);
    a.key = r->key;
    a.key_untagged = r->key_untagged;
    uint8_t no_etag[8] = {0};
    c = rc__xsrv_cache_put(x, &a, resp, no_etag, 0, x->now);
  }
  if (!c) {
    /* debug: spoofed requests must not flood the log */
    rc__xch_log(x, RC_SESSION_LOG_DEBUG,
                "answer held back by the amplification limit not kept "
                "(memory): its repeat runs the handler again");
    return;
  }
  c->amp_held = 1;
  c->req_hash = r->body_hash;
  c->expires = x->now + RC_UDP_ECHO_LIFETIME_MS;
  x->nheld++;
}

int rc__xheld_answer(rc_exchange *x, rc_xreq *r, const rc_msg *m,
                     rc_time now) {
  rc_opt echo;
  if (!rc__xheld_method(m->code) || r->has_b1 || r->has_qb1 ||
      !rc_msg_find_opt(m, RC_OPT_ECHO, &echo))
    return 0;
  rc__xreq_keys(r);
  xcache *c = rc__xsrv_cache_find(x, r->key, now);
  if (!c || !c->amp_held || c->req_hash != r->body_hash)
    return 0;
  rc__xch_log(x, RC_SESSION_LOG_DEBUG,
              "repeat with Echo answered with the answer held back");
  int more = rc__xsrv_send_cached(x, r, c, now);
  if (rc_session_udp_amp_held(x->s, r->token, r->token_len)) {
    /* The Echo did not confirm the address (stale, another peer's): a
     * new 4.01 + Echo went; the answer waits for that one. */
    c->expires = now + RC_UDP_ECHO_LIFETIME_MS;
  } else if (more) {
    /* Sent, block-wise: the rest is the Block2 cache's (ttl_ms). */
    c->amp_held = 0;
    x->nheld--;
    c->expires = now + x->bcfg.ttl_ms;
  } else {
    rc__xsrv_cache_drop(x, c); /* given: a later POST is a new one */
  }
  return 1;
}
