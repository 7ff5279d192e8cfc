/*
 * rcoap's large-body plumbing: -d @FILE as a streaming source, -o FILE as
 * a streaming sink and the progress bar.
 */
#ifndef RCOAP_TOOL_TRANSFER_H
#define RCOAP_TOOL_TRANSFER_H

#include "rcoap/app.h"

typedef struct xfer {
  int in_fd;             /* -d @FILE */
  int out_fd;            /* -o FILE, opened at the first byte */
  const char *out_path;
  int out_err;
  uint64_t written;
  /* progress */
  int tty;
  uint64_t start_ms, last_ms;
  int drew;
} xfer;

/* Opens path ("-": stdin, size unknown) as a source. Returns 0 or -1
 * (reported). */
int xfer_source(xfer *x, const char *path, rc_body_source *src);
/* A sink writing to path (created at the first byte or at the end). */
void xfer_sink(xfer *x, const char *path, rc_body_sink *sink);
/* Creates the output file when nothing was written (an empty body) and
 * closes it. Returns 0 or -1 (reported). */
int xfer_finish(xfer *x);
/* The request starts now: the progress rate counts from here. */
void xfer_begin(xfer *x);
/* rc_request_opts.on_progress: a bar on stderr when it is a TTY. */
void xfer_progress(void *arg, int up, uint64_t done, uint64_t total);
void xfer_progress_end(xfer *x);

#endif
