/*
 * rcoap's large bodies and observe mode. Uploads read the file with pread
 * at the offset the exchange asks for (nothing held beyond one block);
 * downloads are written as they arrive; a progress line is drawn on
 * stderr only when stderr is a terminal. "rcoap observe" keeps an
 * rc_observe() handle and prints notifications with an ISO timestamp.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "transfer.h"

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static rc_ssize src_read(void *arg, uint64_t off, uint8_t *buf, size_t cap) {
  xfer *x = arg;
  return rc_fd_read(x->in_fd, x->in_fd == STDIN_FILENO ? RC_FD_STREAM : off,
                    buf, cap);
}

static void src_close(void *arg) {
  xfer *x = arg;
  if (x->in_fd > STDIN_FILENO)
    close(x->in_fd);
  x->in_fd = -1;
}

int xfer_source(xfer *x, const char *path, rc_body_source *src) {
  struct stat st;
  if (!strcmp(path, "-")) {
    x->in_fd = STDIN_FILENO;
    src->size = RC_BODY_SIZE_UNKNOWN;
    if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode))
      src->size = (uint64_t)st.st_size;
  } else {
    x->in_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (x->in_fd < 0 || fstat(x->in_fd, &st) != 0) {
      fprintf(stderr, "rcoap: cannot read %s: %s\n", path, strerror(errno));
      return -1;
    }
    src->size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size
                                    : RC_BODY_SIZE_UNKNOWN;
  }
  src->read = src_read;
  src->close = src_close;
  src->arg = x;
  return 0;
}

static int out_open(xfer *x) {
  if (x->out_fd >= 0)
    return 0;
  x->out_fd = open(x->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                   0644);
  if (x->out_fd < 0) {
    fprintf(stderr, "rcoap: cannot write %s: %s\n", x->out_path,
            strerror(errno));
    x->out_err = 1;
    return -1;
  }
  return 0;
}

static rc_err sink_write(void *arg, uint64_t off, const uint8_t *d, size_t n,
                         uint64_t total) {
  xfer *x = arg;
  (void)off;
  (void)total;
  if (out_open(x) != 0)
    return RC_ERR_IO;
  while (n) {
    ssize_t w = write(x->out_fd, d, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0) {
      fprintf(stderr, "rcoap: error writing %s: %s\n", x->out_path,
              strerror(errno));
      x->out_err = 1;
      return RC_ERR_IO;
    }
    d += w;
    n -= (size_t)w;
    x->written += (uint64_t)w;
  }
  return RC_OK;
}

void xfer_sink(xfer *x, const char *path, rc_body_sink *sink) {
  x->out_path = path;
  x->out_fd = -1;
  sink->write = sink_write;
  sink->end = NULL;
  sink->arg = x;
}

int xfer_finish(xfer *x) {
  if (!x->out_path)
    return 0;
  if (x->out_fd < 0 && !x->out_err && out_open(x) != 0)
    return -1;
  if (x->out_fd >= 0 && close(x->out_fd) != 0) {
    fprintf(stderr, "rcoap: error writing %s\n", x->out_path);
    x->out_err = 1;
  }
  x->out_fd = -1;
  return x->out_err ? -1 : 0;
}

static void human(double v, char *out, size_t cap) {
  static const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int i = 0;
  while (v >= 1024 && i < 4) {
    v /= 1024;
    i++;
  }
  snprintf(out, cap, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

void xfer_progress(void *arg, int up, uint64_t done, uint64_t total) {
  xfer *x = arg;
  if (!x->tty)
    return;
  uint64_t t = now_ms();
  if (!x->start_ms)
    x->start_ms = t;
  int last = total != RC_BODY_SIZE_UNKNOWN && done >= total;
  if (!last && t - x->last_ms < 100)
    return;
  x->last_ms = t;
  char d[32], tot[32], rate[32];
  human((double)done, d, sizeof d);
  double secs = (double)(t - x->start_ms) / 1000.0;
  human(secs > 0 ? (double)done / secs : 0, rate, sizeof rate);
  if (total != RC_BODY_SIZE_UNKNOWN && total) {
    human((double)total, tot, sizeof tot);
    fprintf(stderr, "\r%s %s / %s  %3.0f%%  %s/s   ", up ? "up" : "down", d,
            tot, 100.0 * (double)done / (double)total, rate);
  } else {
    fprintf(stderr, "\r%s %s  %s/s   ", up ? "up" : "down", d, rate);
  }
  x->drew = 1;
}

void xfer_progress_end(xfer *x) {
  if (x->drew)
    fputc('\n', stderr);
  x->drew = 0;
}

/* ---- observe -------------------------------------------------------------- */

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
