/*
 * rcoap's large bodies. Uploads read the file with pread at the offset
 * the exchange asks for (nothing held beyond one block); downloads are
 * written as they arrive; a progress line is drawn on stderr only when
 * stderr is a terminal.
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
  src->file = NULL; /* a client upload is read block by block */
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

void xfer_begin(xfer *x) { x->start_ms = now_ms(); }

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
  /* From the request's start (xfer_begin), so the first sample's rate
   * is already the real one; under a millisecond counts as one. */
  double secs = (double)(t > x->start_ms ? t - x->start_ms : 1) / 1000.0;
  human((double)done / secs, rate, sizeof rate);
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
