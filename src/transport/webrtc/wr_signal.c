/*
 * Signaling text for coaps+wr: the {"type":"offer","sdp":"..."} JSON
 * (signal_json.c) around an SDP (sdp_parse.c, sdp_emit.c), turned into
 * the plain rc_wr_desc the transport works with and back.
 */
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "rcoap/transport_sctp.h"
#include "transport/webrtc/sdp.h"
#include "transport/webrtc/signal_json.h"
#include "transport/webrtc/wr_int.h"

static int setup_to_wr(rc_sdp_setup s, int offer) {
  switch (s) {
  case RC_SDP_SETUP_ACTIVE:
    return RC_WR_SETUP_ACTIVE;
  case RC_SDP_SETUP_PASSIVE:
    return RC_WR_SETUP_PASSIVE;
  case RC_SDP_SETUP_ACTPASS:
    return RC_WR_SETUP_ACTPASS;
  default:
    /* RFC 8842 §5.2: an offer without a=setup is actpass; an answer
     * without one takes the active role. */
    return offer ? RC_WR_SETUP_ACTPASS : RC_WR_SETUP_ACTIVE;
  }
}

static void from_sdp(const rc_sdp *s, int offer, rc_wr_desc *d) {
  memset(d, 0, sizeof *d);
  memcpy(d->ufrag, s->ice_ufrag, sizeof d->ufrag);
  memcpy(d->pwd, s->ice_pwd, sizeof d->pwd);
  memcpy(d->fingerprint, s->fingerprint, sizeof d->fingerprint);
  d->setup = setup_to_wr(s->setup, offer);
  d->ice_lite = s->ice_lite;
  d->sctp_port = s->sctp_port;
  d->max_message = s->max_message_size;
  for (size_t i = 0; i < s->ncand && d->ncand < RC_WR_CAND_MAX; i++) {
    if (s->cand[i].component != 1)
      continue;
    d->cand[d->ncand] = s->cand[i].addr;
    d->srflx[d->ncand] = s->cand[i].type == RC_SDP_CAND_SRFLX;
    d->prio[d->ncand++] = s->cand[i].priority;
  }
}

/* Parses {"type":want,"sdp":...} into *s; s->why says what failed. */
static rc_err parse_json(const char *json, size_t n, const char *want,
                         rc_sdp *s) {
  char type[RC_SIGNAL_TYPE_MAX + 1];
  static _Thread_local char text[RC_SDP_TEXT_MAX];
  size_t tl = 0;
  memset(s, 0, sizeof *s);
  rc_err err = rc_signal_json_parse(json, n, type, text, sizeof text, &tl);
  if (err != RC_OK) {
    s->why = "not {\"type\":...,\"sdp\":\"...\"} JSON (a complete "
             "description, not a trickled candidate)";
    return err;
  }
  if (strcmp(type, want) != 0) {
    s->why = strcmp(want, "offer") == 0 ? "the JSON's type is not \"offer\""
                                        : "the JSON's type is not \"answer\"";
    return RC_ERR_SDP;
  }
  err = rc_sdp_parse(s, text, tl);
  if (err == RC_ERR_TOO_LARGE)
    s->why = "the SDP is longer than 16 KiB";
  return err;
}

/* On a refused offer, buf says why (rc_wr_listener_answer_json). */
static rc_err refused(rc_err err, const char *why, char *buf, size_t cap,
                      size_t *len) {
  int n = cap > 0 ? snprintf(buf, cap, "%s", why) : 0;
  *len = n > 0 ? ((size_t)n < cap ? (size_t)n : cap - 1) : 0;
  return err;
}

static rc_err emit_json(const rc_sdp *s, const char *type, char *buf,
                        size_t cap, size_t *len) {
  static _Thread_local char text[RC_SDP_TEXT_MAX];
  size_t tl = 0;
  rc_err err = rc_sdp_emit(text, sizeof text, &tl, s);
  if (err != RC_OK)
    return err;
  return rc_signal_json_emit(buf, cap, len, type, text, tl);
}

static size_t local_cands(const rc_wr_desc *d, rc_sdp_cand *c) {
  memset(c, 0, sizeof(rc_sdp_cand) * RC_WR_CAND_MAX);
  for (size_t i = 0; i < d->ncand; i++) {
    c[i].foundation[0] = (char)('1' + i);
    c[i].component = 1;
    c[i].priority = d->prio[i];
    c[i].addr = d->cand[i];
    c[i].type = d->srflx[i] ? RC_SDP_CAND_SRFLX : RC_SDP_CAND_HOST;
  }
  return d->ncand;
}

static uint64_t session_id(const rc_wr_desc *d) {
  uint64_t id = 0;
  memcpy(&id, d->fingerprint, sizeof id); /* random enough: our key's */
  return id >> 1;
}

rc_err rc_wr_listener_answer_json(rc_listener *l, const char *offer_json,
                                  size_t n, char *buf, size_t cap,
                                  size_t *len) {
  static _Thread_local rc_sdp offer, answer;
  *len = 0;
  rc_err err = parse_json(offer_json, n, "offer", &offer);
  if (err != RC_OK)
    return refused(err, offer.why ? offer.why : rc_strerror(err), buf, cap,
                   len);
  rc_wr_desc od, ad;
  from_sdp(&offer, 1, &od);
  if (od.setup == RC_WR_SETUP_ACTIVE)
    return refused(RC_ERR_SDP,
                   "a=setup:active: rcoap answers as the DTLS client, so "
                   "offer actpass (RFC 8842 §5.2)",
                   buf, cap, len);
  if ((err = rc_wr_listener_answer(l, &od, &ad)) != RC_OK)
    return refused(err, rc_strerror(err), buf, cap, len);
  rc_sdp_cand cands[RC_WR_CAND_MAX];
  rc_sdp_local loc = {.ice_ufrag = ad.ufrag,
                      .ice_pwd = ad.pwd,
                      .fingerprint = ad.fingerprint,
                      .setup = RC_SDP_SETUP_ACTIVE,
                      .ice_lite = ad.ice_lite != 0,
                      .cand = cands,
                      .ncand = local_cands(&ad, cands),
                      .max_message_size = ad.max_message,
                      .session_id = session_id(&ad)};
  if ((err = rc_sdp_answer_for(&answer, &offer, &loc)) != RC_OK)
    return err;
  return emit_json(&answer, "answer", buf, cap, len);
}

rc_err rc_wr_offer_json(const rc_wr_desc *d, char *buf, size_t cap,
                        size_t *len) {
  static _Thread_local rc_sdp offer;
  rc_sdp_cand cands[RC_WR_CAND_MAX];
  rc_sdp_local loc = {.ice_ufrag = d->ufrag,
                      .ice_pwd = d->pwd,
                      .fingerprint = d->fingerprint,
                      .setup = RC_SDP_SETUP_ACTPASS,
                      .cand = cands,
                      .ncand = local_cands(d, cands),
                      .max_message_size = d->max_message,
                      .session_id = session_id(d)};
  rc_err err = rc_sdp_offer(&offer, &loc);
  return err != RC_OK ? err : emit_json(&offer, "offer", buf, cap, len);
}

rc_err rc_wr_answer_parse_json(const char *json, size_t n, rc_wr_desc *d) {
  static _Thread_local rc_sdp answer;
  rc_err err = parse_json(json, n, "answer", &answer);
  if (err == RC_OK)
    from_sdp(&answer, 0, d);
  return err;
}

rc_err rc_wr_stun_addr(const char *text, const char *default_port,
                       struct sockaddr_storage *out) {
  const char *hs = text, *port = default_port;
  size_t hl;
  if (text[0] == '[') { /* [V6] or [V6]:PORT */
    const char *rb = strchr(text, ']');
    if (rb == NULL || (rb[1] && rb[1] != ':'))
      return RC_ERR_BAD_HOST;
    hs = text + 1;
    hl = (size_t)(rb - hs);
    if (rb[1] == ':')
      port = rb + 2;
  } else { /* HOST or HOST:PORT; a bare IPv6 address needs brackets */
    const char *c = strchr(text, ':');
    if (c != NULL && strchr(c + 1, ':') != NULL)
      return RC_ERR_BAD_HOST;
    hl = c != NULL ? (size_t)(c - text) : strlen(text);
    if (c != NULL)
      port = c + 1;
  }
  char host[256];
  if (hl == 0 || hl >= sizeof host || port == NULL || port[0] == '\0')
    return RC_ERR_BAD_HOST;
  snprintf(host, sizeof host, "%.*s", (int)hl, hs);
  struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *res = NULL;
  if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL)
    return RC_ERR_BAD_HOST;
  memset(out, 0, sizeof *out);
  memcpy(out, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  return RC_OK;
}
