/*
 * Observe, client side: rc_observe() registers (GET with Observe=0, RFC
 * 7641 §3.1) through rc_request's machinery and keeps the observation
 * alive across connection losses: after a loss the caller is told (status
 * < 0) and the registration is repeated on a new connection after a
 * back-off that doubles from 1 s to 30 s (rc_observe_backoff sets other
 * bounds; reset by every notification). Over coap:// and coaps://, where
 * no connection tells of a lost server, a notification's Max-Age passing
 * in silence (plus half of it, at least 2 s) registers again when asked
 * (rc_observe_refresh).
 * rc_observe_cancel deregisters explicitly, as RFC 8323 §7.4 requires.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app_int.h"

#define OBS_BACKOFF_MIN_MS 1000u
#define OBS_BACKOFF_MAX_MS 30000u

struct rc_observation {
  rc_observation *prev, *next; /* ctx->observations */
  rc_context *ctx;
  char *uri;
  rc_request_opts ro;   /* opts point into blob */
  uint8_t *blob;
  rc_request_cb cb;
  void *arg;
  app_creq *creq;       /* the live registration, or NULL */
  uv_timer_t *timer;    /* retry; from the C library (closed async) */
  uint32_t backoff_ms;
  uint32_t backoff_min_ms, backoff_max_ms;
  unsigned regs;
  int ended;
  int refresh;          /* rc_observe_refresh: re-register when stale */
};

static void obs_timer_closed(uv_handle_t *h) { free(h); }

static void obs_on_response(void *arg, rc_err status, const rc_msg *resp,
                            const char *detail);

static rc_err obs_register(rc_observation *o) {
  rc_err err = rc__app_request_observe(o->ctx, o->uri, &o->ro,
                                       obs_on_response, o, &o->creq);
  if (err)
    o->creq = NULL;
  else
    o->regs++;
  return err;
}

static void obs_retry(uv_timer_t *t);

/* Tries again after the back-off, which doubles (up to its bound). */
static void obs_later(rc_observation *o) {
  uv_timer_start(o->timer, obs_retry, o->backoff_ms, 0);
  o->backoff_ms = o->backoff_ms > o->backoff_max_ms / 2 ? o->backoff_max_ms
                                                        : o->backoff_ms * 2;
}

/* Registers again, or tells and tries later. */
static void obs_again(rc_observation *o) {
  rc_err err = obs_register(o);
  if (err) {
    o->cb(o->arg, err, NULL, "cannot register again");
    obs_later(o);
  }
}

static void obs_retry(uv_timer_t *t) { obs_again(t->data); }

/* coap:// and coaps:// only: a stream transport tells of a lost peer, a
 * datagram one never does (a server that crashed and came back has
 * forgotten us and stays silent). */
static int obs_on_datagrams(const rc_observation *o) {
  return !strncasecmp(o->uri, "coap://", 7) ||
         !strncasecmp(o->uri, "coaps://", 8);
}

/* No notification since the last one's Max-Age (and a grace) ran out:
 * RFC 7641 §3.3.1, "a client MAY issue a new GET request with the same
 * token as the original at any time" to re-register; ours goes as a new
 * registration (the old one cancelled), which a restarted server takes
 * as new and a live one as a refresh. */
static void obs_stale(uv_timer_t *t) {
  rc_observation *o = t->data;
  rc__app_log(o->ctx, RC_SESSION_LOG_INFO,
              "no notification of %s within its Max-Age: registering again",
              o->uri);
  if (o->creq)
    rc__app_creq_cancel(o->creq);
  o->creq = NULL;
  obs_again(o);
}

/* After a notification: re-register if none comes within its Max-Age
 * (default 60 s, RFC 7252 §5.10.5) plus half of it, at least 2 s. */
static void obs_arm_stale(rc_observation *o, const rc_msg *resp) {
  rc_opt opt;
  uint32_t max_age = 60;
  if (!o->refresh || !resp || !obs_on_datagrams(o))
    return;
  if (rc_msg_find_opt(resp, RC_OPT_MAX_AGE, &opt) &&
      rc_opt_uint(&opt, &max_age) != RC_OK)
    max_age = 60;
  uint64_t ms = (uint64_t)max_age * 1000u;
  ms += ms / 2 > 2000 ? ms / 2 : 2000;
  uv_timer_start(o->timer, obs_stale, ms, 0);
}

static void obs_on_response(void *arg, rc_err status, const rc_msg *resp,
                            const char *detail) {
  rc_observation *o = arg;
  if (detail == rc__app_notified) { /* client.c found Observe in a 2.xx */
    o->backoff_ms = o->backoff_min_ms;
    obs_arm_stale(o, resp);
    o->cb(o->arg, status, resp, detail);
    return;
  }
  o->creq = NULL; /* rc_request freed it */
  if (status < 0 && o->ctx->freeing) {
    o->cb(o->arg, status, NULL, detail);
    return;
  }
  if (status < 0 && o->timer) {
    /* Connection lost (or refused, timed out): tell, then try again. */
    obs_later(o);
    o->cb(o->arg, status, NULL, detail);
    return;
  }
  o->ended = 1;
  o->cb(o->arg, status, resp, detail);
}

rc_err rc_observe(rc_context *ctx, const char *uri, const rc_request_opts *ro,
                  rc_request_cb cb, void *arg, rc_observation **out) {
  if (!ctx || !uri || !cb || !out)
    return RC_ERR_INVAL;
  rc_observation *o = calloc(1, sizeof *o);
  if (!o)
    return RC_ERR_NOMEM;
  size_t ulen = strlen(uri) + 1;
  size_t nopts = ro ? ro->nopts : 0;
  size_t vals = 0;
  for (size_t i = 0; i < nopts; i++)
    vals += ro->opts[i].len;
  o->uri = malloc(ulen);
  o->blob = malloc(nopts * sizeof(rc_opt) + vals + 1);
  o->timer = malloc(sizeof *o->timer);
  if (!o->uri || !o->blob || !o->timer) {
    free(o->uri);
    free(o->blob);
    free(o->timer);
    free(o);
    return RC_ERR_NOMEM;
  }
  memcpy(o->uri, uri, ulen);
  if (ro)
    o->ro = *ro;
  o->ro.payload = NULL;
  o->ro.payload_len = 0;
  o->ro.body = NULL;
  o->ro.sink = NULL;
  rc_opt *opts = (rc_opt *)o->blob;
  uint8_t *v = o->blob + nopts * sizeof(rc_opt);
  for (size_t i = 0; i < nopts; i++) {
    opts[i] = ro->opts[i];
    if (ro->opts[i].len)
      memcpy(v, ro->opts[i].val, ro->opts[i].len);
    opts[i].val = v;
    v += ro->opts[i].len;
  }
  o->ro.opts = opts;
  o->ro.nopts = nopts;
  o->ctx = ctx;
  o->cb = cb;
  o->arg = arg;
  o->backoff_min_ms = o->backoff_ms = OBS_BACKOFF_MIN_MS;
  o->backoff_max_ms = OBS_BACKOFF_MAX_MS;
  uv_timer_init(rc_context_loop(ctx), o->timer);
  o->timer->data = o;
  rc_err err = obs_register(o);
  if (err) {
    uv_close((uv_handle_t *)o->timer, obs_timer_closed);
    free(o->uri);
    free(o->blob);
    free(o);
    return err;
  }
  o->next = ctx->observations;
  if (o->next)
    o->next->prev = o;
  ctx->observations = o;
  *out = o;
  return RC_OK;
}

rc_err rc_observe_backoff(rc_observation *o, uint32_t min_ms,
                          uint32_t max_ms) {
  if (!min_ms)
    min_ms = OBS_BACKOFF_MIN_MS;
  if (!max_ms)
    max_ms = min_ms > OBS_BACKOFF_MAX_MS ? min_ms : OBS_BACKOFF_MAX_MS;
  if (!o || min_ms > max_ms)
    return RC_ERR_INVAL;
  if (o->backoff_ms == o->backoff_min_ms || o->backoff_ms < min_ms)
    o->backoff_ms = min_ms; /* not backing off yet, or below the new min */
  else if (o->backoff_ms > max_ms)
    o->backoff_ms = max_ms;
  o->backoff_min_ms = min_ms;
  o->backoff_max_ms = max_ms;
  return RC_OK;
}

void rc_observe_refresh(rc_observation *o, int on) {
  if (o)
    o->refresh = on != 0;
}

void rc_observe_cancel(rc_observation *o) {
  if (!o)
    return;
  if (o->prev)
    o->prev->next = o->next;
  else
    o->ctx->observations = o->next;
  if (o->next)
    o->next->prev = o->prev;
  if (o->creq)
    rc__app_creq_cancel(o->creq);
  uv_timer_stop(o->timer);
  uv_close((uv_handle_t *)o->timer, obs_timer_closed);
  free(o->uri);
  free(o->blob);
  free(o);
}

unsigned rc_observe_registrations(const rc_observation *o) {
  return o ? o->regs : 0;
}

void rc__app_observations_move(app_peer *p) {
  for (rc_observation *o = p->ctx->observations, *next; o; o = next) {
    next = o->next;
    if (!o->creq || o->creq->peer != p)
      continue;
    /* Not a loss: the caller is not told, only the log says it. */
    rc__app_log(p->ctx, RC_SESSION_LOG_INFO,
                "moving the observation of %s to a new connection", o->uri);
    rc__app_creq_cancel(o->creq);
    o->creq = NULL;
    obs_again(o);
  }
}

/* The context is being freed (its connections are gone): observations
 * end with it. */
void rc__app_observations_free(rc_context *ctx) {
  while (ctx->observations) {
    rc_observation *o = ctx->observations;
    o->creq = NULL;
    rc_observe_cancel(o);
  }
}
