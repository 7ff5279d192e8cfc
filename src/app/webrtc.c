/*
 * coaps+wr in the app: the context's DTLS identity (one self-signed
 * certificate per context), the answer rcoapd's /webrtc resource gives
 * (rc_context_webrtc_answer), and rc_request's way to a coaps+wr origin:
 * an offer POSTed as application/json to the signaling URI (default
 * coap+ws://HOST/webrtc), the answer handed to the transport, whose conn
 * then becomes the origin's connection like any other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_int.h"
#include "rcoap/codec_option.h"
#include "rcoap/transport_webrtc.h"

/* RFC 7252 §12.3: application/json. */
#define WR_CF_JSON 50

typedef struct app_wr_dial {
  app_peer *p; /* NULL once the peer is gone */
  rc_wr_offer *o;
  char signal[300];
  /* Behind a NAT (rc_context_opts.webrtc_stun): the offer waits for the
   * STUN answer, polled on this timer, WR_STUN_TICK_MS a turn. */
  uv_timer_t *timer;
  unsigned ticks;
  rc_wr_desc offer;
} app_wr_dial;

#define WR_STUN_TICK_MS 10u
#define WR_STUN_RESEND_TICKS 25u /* a lost request is sent again */

static void timer_closed(uv_handle_t *h) { free(h); }

static void dial_free(app_wr_dial *d) {
  if (d->timer != NULL)
    uv_close((uv_handle_t *)d->timer, timer_closed);
  free(d);
}

const rc_wr_identity *rc__app_wr_identity(rc_context *ctx) {
  if (ctx->wr_id == NULL) {
    rc_wr_identity *id = ctx->mem->malloc(sizeof *id, ctx->mem->user);
    if (id == NULL)
      return NULL;
    if (rc_wr_identity_make(id, NULL) != RC_OK) {
      ctx->mem->free(id, ctx->mem->user);
      rc__app_log(ctx, RC_SESSION_LOG_ERR,
                  "webrtc: cannot make a certificate");
      return NULL;
    }
    id->keylog_file = ctx->opts.webrtc_keylog;
    ctx->wr_id = id;
  }
  return ctx->wr_id;
}

void rc__app_wr_free(rc_context *ctx) {
  if (ctx->wr_id != NULL) {
    rc_wr_identity_remove(ctx->wr_id);
    ctx->mem->free(ctx->wr_id, ctx->mem->user);
    ctx->wr_id = NULL;
  }
}

rc_err rc_context_webrtc_answer(rc_context *ctx, const void *offer_json,
                                size_t n, char *buf, size_t cap,
                                size_t *len) {
  *len = 0;
  for (size_t i = 0; i < ctx->nlisteners; i++)
    if (ctx->listener_kinds[i] == RC_CONN_WEBRTC)
      return rc_wr_listener_answer_json(ctx->listeners[i], offer_json, n, buf,
                                        cap, len);
  return RC_ERR_NOT_FOUND;
}

rc_err rc_context_webrtc_stun(rc_context *ctx, const struct sockaddr *server) {
  for (size_t i = 0; i < ctx->nlisteners; i++)
    if (ctx->listener_kinds[i] == RC_CONN_WEBRTC)
      return rc_wr_listener_stun(ctx->listeners[i], server);
  return RC_ERR_NOT_FOUND;
}

void rc__app_wr_peer_gone(app_peer *p) {
  app_wr_dial *d = p->wr_dial;
  if (d != NULL)
    d->p = NULL;
  p->wr_dial = NULL;
}

/* The signaling answer came (or did not). */
static void on_signal(void *arg, rc_err status, const rc_msg *resp,
                      const char *detail) {
  app_wr_dial *d = arg;
  app_peer *p = d->p;
  rc_wr_offer *o = d->o;
  char why[400];
  if (p == NULL) { /* the origin went meanwhile */
    rc_wr_offer_free(o);
    dial_free(d);
    return;
  }
  rc_context *ctx = p->ctx;
  p->wr_dial = NULL;
  rc_wr_desc ad;
  rc_err err = status;
  if (err == RC_OK && RC_CODE_CLASS(resp->code) != 2) {
    char code[5];
    snprintf(why, sizeof why, "signaling at %s answered %s %.*s", d->signal,
             rc_code_str(resp->code, code), (int)resp->payload_len,
             resp->payload ? (const char *)resp->payload : "");
    err = RC_ERR_CONNECT;
  } else if (err == RC_OK) {
    err = rc_wr_answer_parse_json((const char *)resp->payload,
                                  resp->payload_len, &ad);
    snprintf(why, sizeof why, "signaling at %s: the answer is not usable",
             d->signal);
  } else {
    snprintf(why, sizeof why, "signaling at %s failed: %s%s%s", d->signal,
             rc_strerror(status), detail[0] ? ": " : "", detail);
  }
  dial_free(d);
  if (err != RC_OK) {
    rc_wr_offer_free(o);
    rc__app_peer_fail_free(p, err, why);
    return;
  }
  size_t nsrflx = 0;
  for (size_t i = 0; i < ad.ncand; i++)
    nsrflx += ad.srflx[i];
  rc__app_log(ctx, RC_SESSION_LOG_INFO,
              "webrtc: answer from signaling: %zu candidate(s) (%zu "
              "server-reflexive), DTLS %s, ICE %s",
              ad.ncand, nsrflx,
              ad.setup == RC_WR_SETUP_ACTIVE ? "server (peer active)"
                                             : "client",
              ad.ice_lite ? "lite" : "full");
  rc_conn_connect_opts co;
  rc__app_connect_opts(p, RC_CONN_WEBRTC, NULL, 0, &co);
  err = rc_wr_connect(&p->conn, o, &ad, &co);
  if (err != RC_OK)
    rc__app_peer_fail_free(p, err, "cannot start ICE toward the answer's candidates");
}

static int host_is_loopback(const char *host) {
  return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
         strcmp(host, "localhost") == 0;
}

/* The offer (with the srflx candidate, if one came) POSTed to the
 * signaling URI. */
static rc_err dial_post(app_wr_dial *d) {
  rc_context *ctx = d->p->ctx;
  static _Thread_local char json[RC_WR_SIGNAL_MAX];
  size_t jl = 0;
  rc_err err = rc_wr_offer_json(&d->offer, json, sizeof json, &jl);
  uint8_t cf = WR_CF_JSON;
  rc_opt opt = {.num = RC_OPT_CONTENT_FORMAT, .val = &cf, .len = 1};
  rc_request_opts ro = {.opts = &opt,
                        .nopts = 1,
                        .payload = (const uint8_t *)json,
                        .payload_len = jl};
  if (err == RC_OK)
    err = rc_request(ctx, RC_POST, d->signal, &ro, on_signal, d);
  if (err == RC_OK)
    rc__app_log(ctx, RC_SESSION_LOG_INFO,
                "webrtc: offer with %zu candidate(s) sent to %s",
                d->offer.ncand, d->signal);
  return err;
}

/* A turn of the wait for our server-reflexive address. */
static void dial_tick(uv_timer_t *t) {
  app_wr_dial *d = t->data;
  if (d->p == NULL) { /* the origin went meanwhile */
    rc_wr_offer_free(d->o);
    dial_free(d);
    return;
  }
  d->ticks++;
  int got = rc_wr_offer_srflx(d->o, &d->offer);
  if (!got && d->ticks * WR_STUN_TICK_MS < RC_WR_STUN_WAIT_MS) {
    if (d->ticks % WR_STUN_RESEND_TICKS == 0)
      (void)rc_wr_offer_stun(d->o, d->p->ctx->opts.webrtc_stun);
    return;
  }
  uv_timer_stop(t);
  app_peer *p = d->p;
  if (!got)
    rc__app_log(p->ctx, RC_SESSION_LOG_INFO,
                "webrtc: no STUN answer in %u ms: offering host candidates "
                "only",
                RC_WR_STUN_WAIT_MS);
  rc_err err = dial_post(d);
  if (err != RC_OK) {
    p->wr_dial = NULL;
    rc_wr_offer_free(d->o);
    dial_free(d);
    rc__app_peer_fail_free(p, err, "cannot send the WebRTC offer");
  }
}

rc_err rc__app_wr_dial(app_peer *p, const char *host) {
  rc_context *ctx = p->ctx;
  const rc_wr_identity *id = rc__app_wr_identity(ctx);
  if (id == NULL)
    return RC_ERR_TLS;
  app_wr_dial *d = calloc(1, sizeof *d);
  if (d == NULL)
    return RC_ERR_NOMEM;
  if (ctx->opts.webrtc_signal != NULL)
    snprintf(d->signal, sizeof d->signal, "%s", ctx->opts.webrtc_signal);
  else
    snprintf(d->signal, sizeof d->signal,
             strchr(host, ':') ? "coap+ws://[%s]/webrtc"
                               : "coap+ws://%s/webrtc",
             host);
  d->p = p;
  rc_err err = rc_wr_offer_new(&d->o, ctx->loop, id, NULL,
                               host_is_loopback(host), &d->offer);
  if (err == RC_OK && ctx->opts.webrtc_stun != NULL) {
    /* RFC 8445 §5.1.1.1: our server-reflexive address first, so that a
     * peer behind a NAT of its own can send checks to it. */
    d->timer = malloc(sizeof *d->timer);
    if (d->timer == NULL) {
      err = RC_ERR_NOMEM;
    } else {
      uv_timer_init(ctx->loop, d->timer);
      d->timer->data = d;
      err = rc_wr_offer_stun(d->o, ctx->opts.webrtc_stun);
      if (err == RC_OK)
        uv_timer_start(d->timer, dial_tick, WR_STUN_TICK_MS, WR_STUN_TICK_MS);
    }
  } else if (err == RC_OK) {
    err = dial_post(d);
  }
  if (err != RC_OK) {
    rc_wr_offer_free(d->o);
    dial_free(d);
    return err;
  }
  p->wr_dial = d;
  return RC_OK;
}
