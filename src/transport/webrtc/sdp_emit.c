/*
 * rc_sdp_emit: an rc_sdp written as strict SDP (CRLF lines, the attribute
 * order Chromium uses), and the two descriptions we make: our answer to
 * an offer (rc_sdp_answer_for) and our offer (rc_sdp_offer).
 */
#include "transport/webrtc/sdp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct out {
  char *buf;
  size_t cap, len;
  rc_err err;
} out;

static void put(out *o, const char *fmt, ...) {
  if (o->err)
    return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n + 2 >= o->cap - o->len) {
    o->err = RC_ERR_NOBUF;
    return;
  }
  o->len += (size_t)n;
  memcpy(o->buf + o->len, "\r\n", 3); /* keeps the NUL */
  o->len += 2;
}

/* A value safe on an SDP line: non-empty, no space, no control byte. */
static bool token_ok(const char *s) {
  if (!s || !*s)
    return false;
  for (; *s; s++)
    if ((unsigned char)*s <= ' ' || *s == 0x7f)
      return false;
  return true;
}

static const char *setup_name(rc_sdp_setup s) {
  return s == RC_SDP_SETUP_ACTPASS  ? "actpass"
         : s == RC_SDP_SETUP_ACTIVE ? "active"
                                    : "passive";
}

static const char *cand_type(rc_sdp_cand_type t) {
  static const char *names[] = {"host", "srflx", "prflx", "relay"};
  return names[t <= RC_SDP_CAND_RELAY ? t : 0];
}

/* Numeric host and port of a. */
static bool host_port(const struct sockaddr_storage *a, char *host,
                      size_t cap, unsigned *port) {
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *s4 = (const void *)a;
    *port = ntohs(s4->sin_port);
    return inet_ntop(AF_INET, &s4->sin_addr, host, (socklen_t)cap) != NULL;
  }
  if (a->ss_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const void *)a;
    *port = ntohs(s6->sin6_port);
    return inet_ntop(AF_INET6, &s6->sin6_addr, host, (socklen_t)cap) != NULL;
  }
  return false;
}

/* Another m-section, rejected (RFC 3264 §6: "An offered stream is
 * rejected by setting the port in the corresponding media stream of the
 * answer to zero", with at least one of its formats; RFC 8829 §5.3.1: its
 * a=mid kept). */
static void put_rejected(out *o, const rc_sdp_media *m) {
  put(o, "m=%s 0 %s %s", m->media, m->proto, m->fmt);
  put(o, "c=IN IP4 0.0.0.0");
  if (m->mid[0])
    put(o, "a=mid:%s", m->mid);
}

/* Our data-channel section. */
static void put_ours(out *o, const rc_sdp *d) {
  char host[INET6_ADDRSTRLEN];
  unsigned port;
  if (d->legacy)
    put(o, "m=application %u DTLS/SCTP %u", d->media_port, d->sctp_port);
  else
    put(o, "m=application %u UDP/DTLS/SCTP webrtc-datachannel", d->media_port);
  /* The c= line names the default candidate's address (RFC 8839 §4.2.1.2),
   * or the null address when there is none. */
  if (d->ncand && host_port(&d->cand[0].addr, host, sizeof host, &port))
    put(o, "c=IN %s %s", d->cand[0].addr.ss_family == AF_INET6 ? "IP6" : "IP4",
        host);
  else
    put(o, "c=IN IP4 0.0.0.0");
  for (size_t i = 0; i < d->ncand; i++) {
    const rc_sdp_cand *c = &d->cand[i];
    if (!host_port(&c->addr, host, sizeof host, &port))
      continue; /* not an address family we can write */
    /* RFC 8839 §5.1: "<rel-addr> and <rel-port> ... MUST be present for
     * server reflexive, peer-reflexive, and relayed candidates"; we name
     * no base (0.0.0.0 0, as browsers do that hide their addresses). */
    put(o, "a=candidate:%s %u udp %lu %s %u typ %s%s", c->foundation,
        c->component, (unsigned long)c->priority, host, port,
        cand_type(c->type),
        c->type == RC_SDP_CAND_HOST
            ? ""
            : c->addr.ss_family == AF_INET6 ? " raddr :: rport 0"
                                            : " raddr 0.0.0.0 rport 0");
  }
  if (d->end_of_candidates)
    put(o, "a=end-of-candidates");
  put(o, "a=ice-ufrag:%s", d->ice_ufrag);
  put(o, "a=ice-pwd:%s", d->ice_pwd);
  if (d->ice_trickle)
    put(o, "a=ice-options:trickle");
  char fp[RC_SDP_FINGERPRINT_LEN * 3];
  for (size_t i = 0; i < RC_SDP_FINGERPRINT_LEN; i++)
    snprintf(fp + 3 * i, 4, "%02X%s", d->fingerprint[i],
             i + 1 < RC_SDP_FINGERPRINT_LEN ? ":" : "");
  put(o, "a=fingerprint:sha-256 %s", fp);
  put(o, "a=setup:%s", setup_name(d->setup));
  put(o, "a=mid:%s", d->mid);
  if (d->legacy)
    put(o, "a=sctpmap:%u webrtc-datachannel 65535", d->sctp_port);
  else
    put(o, "a=sctp-port:%u", d->sctp_port);
  put(o, "a=max-message-size:%lu", (unsigned long)d->max_message_size);
}

rc_err rc_sdp_emit(char *buf, size_t cap, size_t *len, const rc_sdp *d) {
  char host[INET6_ADDRSTRLEN];
  unsigned port;
  *len = 0;
  if (!token_ok(d->ice_ufrag) || !token_ok(d->ice_pwd) || !token_ok(d->mid) ||
      d->setup == RC_SDP_SETUP_NONE || d->setup > RC_SDP_SETUP_PASSIVE ||
      d->ncand > RC_SDP_CAND_MAX || d->nmedia > RC_SDP_MEDIA_MAX ||
      (d->nmedia && d->ours >= d->nmedia))
    return RC_ERR_INVAL;
  for (size_t i = 0; i < d->ncand; i++)
    if (!token_ok(d->cand[i].foundation) ||
        !host_port(&d->cand[i].addr, host, sizeof host, &port))
      return RC_ERR_INVAL;
  for (size_t i = 0; i < d->nmedia; i++)
    if (i != d->ours &&
        (!token_ok(d->media[i].media) || !token_ok(d->media[i].proto) ||
         !token_ok(d->media[i].fmt) ||
         (d->media[i].mid[0] && !token_ok(d->media[i].mid))))
      return RC_ERR_INVAL;
  if (!buf || cap < 3)
    return RC_ERR_NOBUF;
  out o = {buf, cap, 0, RC_OK};
  put(&o, "v=0");
  put(&o, "o=- %llu %llu IN IP4 127.0.0.1", (unsigned long long)d->session_id,
      (unsigned long long)d->session_version);
  put(&o, "s=-");
  put(&o, "t=0 0");
  /* RFC 8843 §7.3.3: a rejected m-section is not in the answer's group;
   * ours, the only one left, is the answerer-tagged one. */
  put(&o, "a=group:BUNDLE %s", d->mid);
  /* RFC 8839 §5.3: ice-lite is a session-level attribute. */
  if (d->ice_lite)
    put(&o, "a=ice-lite");
  put(&o, "a=msid-semantic: WMS");
  /* RFC 3264 §6: "the answer MUST contain exactly the same number of
   * "m=" lines as the offer", in the same order. */
  for (size_t i = 0; i < d->nmedia; i++)
    if (i == d->ours)
      put_ours(&o, d);
    else
      put_rejected(&o, &d->media[i]);
  if (d->nmedia == 0)
    put_ours(&o, d);
  if (o.err)
    return o.err;
  *len = o.len;
  return RC_OK;
}

/* Our side of a description, from local. */
static rc_err fill_local(rc_sdp *d, const rc_sdp_local *l) {
  memset(d, 0, sizeof *d);
  if (!l || !l->ice_ufrag || !l->ice_pwd || !l->fingerprint ||
      strlen(l->ice_ufrag) > RC_SDP_ICE_MAX ||
      strlen(l->ice_pwd) > RC_SDP_ICE_MAX || l->ncand > RC_SDP_CAND_MAX ||
      (l->ncand && !l->cand))
    return RC_ERR_INVAL;
  strcpy(d->ice_ufrag, l->ice_ufrag);
  strcpy(d->ice_pwd, l->ice_pwd);
  memcpy(d->fingerprint, l->fingerprint, RC_SDP_FINGERPRINT_LEN);
  d->ice_lite = l->ice_lite;
  if (l->ncand)
    memcpy(d->cand, l->cand, l->ncand * sizeof *l->cand);
  d->ncand = l->ncand;
  d->end_of_candidates = true; /* all gathered: no trickle */
  d->session_id = l->session_id & INT64_MAX; /* RFC 8829 §5.2.1: < 2^63 */
  d->session_version = 1;
  d->sctp_port = 5000;
  d->max_message_size =
      l->max_message_size ? l->max_message_size : RC_SDP_DEFAULT_MAX_MESSAGE;
  /* The m= line's port: the default candidate's (RFC 8839 §4.2.1.2), or 9
   * (the discard port JSEP uses for "none yet"). */
  d->media_port = 9;
  if (d->ncand) {
    const struct sockaddr_storage *a = &d->cand[0].addr;
    d->media_port = a->ss_family == AF_INET6
                        ? ntohs(((const struct sockaddr_in6 *)a)->sin6_port)
                        : ntohs(((const struct sockaddr_in *)a)->sin_port);
  }
  return RC_OK;
}

rc_err rc_sdp_answer_for(rc_sdp *answer, const rc_sdp *offer,
                         const rc_sdp_local *local) {
  rc_err err = fill_local(answer, local);
  if (err)
    return err;
  /* RFC 8842 §5.3 (after RFC 4145 §4.1): to an offer of active the
   * answer is passive and the other way round; to actpass the answerer
   * picks one of the two; actpass itself is never an answer. */
  switch (offer->setup) {
  case RC_SDP_SETUP_ACTIVE:
    answer->setup = RC_SDP_SETUP_PASSIVE;
    break;
  case RC_SDP_SETUP_PASSIVE:
    answer->setup = RC_SDP_SETUP_ACTIVE;
    break;
  default:
    if (local->setup != RC_SDP_SETUP_ACTIVE &&
        local->setup != RC_SDP_SETUP_PASSIVE)
      return RC_ERR_INVAL;
    answer->setup = local->setup;
  }
  answer->legacy = offer->legacy;
  strcpy(answer->mid, offer->mid[0] ? offer->mid : "0");
  /* The offer's other m-sections, to be rejected in their places. */
  answer->nmedia = offer->nmedia;
  answer->ours = offer->ours;
  memcpy(answer->media, offer->media, sizeof answer->media);
  return RC_OK;
}

rc_err rc_sdp_offer(rc_sdp *offer, const rc_sdp_local *local) {
  rc_err err = fill_local(offer, local);
  if (err)
    return err;
  /* RFC 8842 §5.2: an offerer MUST offer actpass. */
  offer->setup = RC_SDP_SETUP_ACTPASS;
  strcpy(offer->mid, "0");
  return RC_OK;
}
