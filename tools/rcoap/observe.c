/*
 * "rcoap observe": keeps an rc_observe() handle and prints notifications
 * with an ISO timestamp until --count or --duration.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "observe.h"

typedef struct obs_cli {
  rc_context *ctx;
  rc_observation *obs;
  long count, seen;
  int status;
  int lost;
  uv_timer_t timer;
  int stopping;
} obs_cli;

static void obs_shutdown_done(void *arg) { (void)arg; }

static void obs_timer_closed(uv_handle_t *h) { (void)h; }

static void obs_stop(obs_cli *o, int status) {
  if (o->stopping)
    return;
  o->stopping = 1;
  o->status = status;
  rc_observe_cancel(o->obs);
  o->obs = NULL;
  uv_timer_stop(&o->timer);
  uv_close((uv_handle_t *)&o->timer, obs_timer_closed);
  rc_context_shutdown(o->ctx, NULL, 2000, obs_shutdown_done, o);
}

static void obs_on_timer(uv_timer_t *t) { obs_stop(t->data, 0); }

static void obs_cb(void *arg, rc_err status, const rc_msg *resp,
                   const char *detail) {
  obs_cli *o = arg;
  if (o->stopping)
    return;
  if (status < 0) {
    fprintf(stderr, "rcoap: observation interrupted: %s%s%s; reconnecting\n",
            rc_strerror(status), detail && *detail ? ": " : "",
            detail ? detail : "");
    o->lost = 1;
    return;
  }
  rc_opt ob;
  int notification = RC_CODE_CLASS(resp->code) == 2 &&
                     rc_msg_find_opt(resp, RC_OPT_OBSERVE, &ob);
  if (o->lost && notification) {
    fprintf(stderr, "rcoap: registered again\n");
    o->lost = 0;
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char when[40];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  char code[5];
  printf("%s.%03ldZ %s %.*s\n", when, ts.tv_nsec / 1000000,
         rc_code_str(resp->code, code), (int)resp->payload_len,
         resp->payload ? (const char *)resp->payload : "");
  fflush(stdout);
  if (!notification) {
    if (RC_CODE_CLASS(resp->code) == 2)
      fprintf(stderr, "rcoap: the server does not offer observe here "
                      "(answer without Observe)\n");
    obs_stop(o, RC_CODE_CLASS(resp->code) == 2   ? 0
                : RC_CODE_CLASS(resp->code) == 4 ? 4
                                                 : 5);
    return;
  }
  if (o->count && ++o->seen >= o->count)
    obs_stop(o, 0);
}

int rcoap_observe(rc_context *ctx, const char *uri, const rc_request_opts *ro,
                  long count, double duration_s) {
  obs_cli o;
  memset(&o, 0, sizeof o);
  o.ctx = ctx;
  o.count = count;
  uv_timer_init(rc_context_loop(ctx), &o.timer);
  o.timer.data = &o;
  rc_err err = rc_observe(ctx, uri, ro, obs_cb, &o, &o.obs);
  if (err) {
    fprintf(stderr, "rcoap: %s: %s\n", uri, rc_strerror(err));
    uv_close((uv_handle_t *)&o.timer, obs_timer_closed);
    uv_run(rc_context_loop(ctx), UV_RUN_DEFAULT);
    return err == RC_ERR_NOMEM ? 8 : 2;
  }
  if (duration_s > 0)
    uv_timer_start(&o.timer, obs_on_timer, (uint64_t)(duration_s * 1000), 0);
  uv_run(rc_context_loop(ctx), UV_RUN_DEFAULT);
  return o.status;
}
