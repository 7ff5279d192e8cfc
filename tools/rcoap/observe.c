/*
 * "rcoap observe": keeps an rc_observe() handle and prints notifications
 * with an ISO timestamp until --count or --duration.
 *
 * The library re-registers after every loss (back-off from 1 s to 30 s);
 * this file decides when that is pointless. Before the first answer
 * every failure is final: a name that does not resolve, a refused port
 * or an untrusted certificate will not fix itself, and a person is
 * waiting. After a working observation a loss is retried up to --retries
 * times in a row (a notification resets the count), except a name or a
 * certificate that went bad.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "observe.h"
#include "rcoap/codec_print.h"
#include "status.h"

typedef struct obs_cli {
  rc_context *ctx;
  const rcoap_args *a;
  rc_observation *obs;
  long seen;          /* notifications */
  int answered;       /* any answer to a registration */
  long losses;        /* in a row since the last notification */
  int status;
  int lost;
  uv_timer_t duration; /* --duration */
  uv_timer_t first;    /* -T for the first answer */
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
  uv_close((uv_handle_t *)&o->duration, obs_timer_closed);
  uv_close((uv_handle_t *)&o->first, obs_timer_closed);
  rc_context_shutdown(o->ctx, NULL, 1000, obs_shutdown_done, o);
}

static void obs_on_duration(uv_timer_t *t) {
  obs_cli *o = t->data;
  if (!o->seen) {
    fprintf(stderr, "rcoap: no notification within --duration %g s\n",
            o->a->obs_duration);
  }
  obs_stop(o, o->seen ? EX_OK : EX_TIMEOUT);
}

static void obs_on_first(uv_timer_t *t) {
  obs_cli *o = t->data;
  fprintf(stderr, "rcoap: no answer to the registration within -T %g s\n",
          o->a->timeout_s);
  obs_stop(o, EX_TIMEOUT);
}

/* Failures that another attempt cannot mend. */
static int permanent(const obs_cli *o, rc_err status) {
  if (!o->answered)
    return 1;
  return status == RC_ERR_RESOLVE || status == RC_ERR_TLS_CERT ||
         status == RC_ERR_TLS_NOT_TLS || status == RC_ERR_TLS_ALPN;
}

static void obs_lost(obs_cli *o, rc_err status, const char *detail) {
  if (permanent(o, status)) {
    obs_stop(o, report_error(o->a, status, detail));
    return;
  }
  o->lost = 1;
  if (++o->losses > o->a->retries) {
    int st = report_error(o->a, status, detail);
    fprintf(stderr, "rcoap: giving up after %ld attempt%s to register "
                    "again (--retries %ld)\n",
            o->a->retries, o->a->retries == 1 ? "" : "s", o->a->retries);
    obs_stop(o, st);
    return;
  }
  fprintf(stderr, "rcoap: observation interrupted: %s%s%s; reconnecting "
                  "(attempt %ld of %ld)\n",
          rc_strerror(status), detail && *detail ? ": " : "",
          detail ? detail : "", o->losses, o->a->retries);
}

static void obs_cb(void *arg, rc_err status, const rc_msg *resp,
                   const char *detail) {
  obs_cli *o = arg;
  if (o->stopping)
    return;
  if (status < 0) {
    obs_lost(o, status, detail);
    return;
  }
  o->answered = 1;
  uv_timer_stop(&o->first);
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
    obs_stop(o, status_for_code(resp->code));
    return;
  }
  o->seen++;
  o->losses = 0;
  if (o->a->obs_count && o->seen >= o->a->obs_count)
    obs_stop(o, EX_OK);
}

int rcoap_observe(rc_context *ctx, const rcoap_args *a,
                  const rc_request_opts *ro) {
  obs_cli o;
  memset(&o, 0, sizeof o);
  o.ctx = ctx;
  o.a = a;
  uv_loop_t *loop = rc_context_loop(ctx);
  uv_timer_init(loop, &o.duration);
  uv_timer_init(loop, &o.first);
  o.duration.data = o.first.data = &o;
  rc_err err = rc_observe(ctx, a->uri, ro, obs_cb, &o, &o.obs);
  if (err) {
    fprintf(stderr, "rcoap: %s: %s\n", a->uri, rc_strerror(err));
    uv_close((uv_handle_t *)&o.duration, obs_timer_closed);
    uv_close((uv_handle_t *)&o.first, obs_timer_closed);
    uv_run(loop, UV_RUN_DEFAULT);
    return err == RC_ERR_NOMEM ? EX_LOCAL : EX_URI;
  }
  rc_observe_refresh(o.obs, 1); /* coap://: a restarted server */
  if (a->obs_duration > 0)
    uv_timer_start(&o.duration, obs_on_duration,
                   (uint64_t)(a->obs_duration * 1000), 0);
  uv_timer_start(&o.first, obs_on_first, (uint64_t)(a->timeout_s * 1000), 0);
  uv_run(loop, UV_RUN_DEFAULT);
  return o.status;
}
