/*
 * wr_rps: requests per second over ONE connection made by the library's
 * client (rc_request), for any scheme rcoap speaks, so coaps+wr (one
 * WebRTC data channel) and coaps+ws compare with the same client code.
 * One GET opens the connection (not timed), then N GETs of the URI are
 * sent with DEPTH outstanding at a time; prints
 *   RESULT uri=URI requests=N depth=D seconds=S rps=R errors=E
 * A benchmark (bench/webrtc.sh runs it), not a test.
 *
 *   wr_rps URI N DEPTH [SIGNAL_URI]
 * coaps+ws: the server's certificate is not verified (rcoapd's demo one).
 */
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "rcoap/app.h"
#include "rcoap/transport_tls.h"

typedef struct run {
  rc_context *ctx;
  const char *uri;
  long total, sent, done, errors, depth;
  uint64_t t0, t1;
} run;

static void on_resp(void *arg, rc_err status, const rc_msg *resp,
                    const char *detail);

static void send_one(run *r) {
  r->sent++;
  if (rc_request(r->ctx, RC_GET, r->uri, NULL, on_resp, r) != RC_OK) {
    r->errors++;
    r->done++;
  }
}

static void on_resp(void *arg, rc_err status, const rc_msg *resp,
                    const char *detail) {
  run *r = arg;
  if (status != RC_OK || resp == NULL || RC_CODE_CLASS(resp->code) != 2) {
    if (r->errors++ == 0)
      fprintf(stderr, "wr_rps: %s: %s %s\n", r->uri, rc_strerror(status),
                    detail ? detail : "");
  }
  if (r->t0 == 0) { /* the first GET opened the connection: start */
    if (status != RC_OK) {
      rc_context_shutdown(r->ctx, NULL, 1000, NULL, NULL);
      return;
    }
    r->t0 = uv_hrtime();
    while (r->sent < r->depth && r->sent < r->total)
      send_one(r);
    return;
  }
  r->done++;
  if (r->sent < r->total)
    send_one(r);
  else if (r->done == r->total) {
    r->t1 = uv_hrtime();
    rc_context_shutdown(r->ctx, NULL, 1000, NULL, NULL);
  }
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: wr_rps URI N DEPTH [SIGNAL_URI]\n");
    return 2;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  rc_tls_config tc;
  rc_tls_config_init(&tc, RC_TLS_CLIENT);
  tc.insecure = 1;
  rc_tls_ctx *tls = NULL;
  char e[160];
  if (rc_tls_ctx_new(&tls, &tc, e, sizeof e) != RC_OK) {
    fprintf(stderr, "wr_rps: TLS: %s\n", e);
    return 1;
  }
  rc_context_opts co = {0};
  co.loop = &loop;
  co.client_tls = tls;
  co.webrtc_signal = argc > 4 ? argv[4] : NULL;
  co.log_level = RC_SESSION_LOG_ERR - 1;
  run r = {.uri = argv[1], .total = atol(argv[2]), .depth = atol(argv[3])};
  if (r.total < 1 || r.depth < 1 || rc_context_new(&r.ctx, &co) != RC_OK) {
    fprintf(stderr, "wr_rps: bad N or DEPTH, or out of memory\n");
    return 2;
  }
  if (rc_request(r.ctx, RC_GET, r.uri, NULL, on_resp, &r) != RC_OK) {
    fprintf(stderr, "wr_rps: %s: cannot send\n", r.uri);
    return 1;
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  rc_context_free(r.ctx);
  rc_tls_ctx_free(tls);
  uv_loop_close(&loop);
  if (r.t1 == 0)
    return 1;
  double s = (double)(r.t1 - r.t0) / 1e9;
  printf("RESULT uri=%s requests=%ld depth=%ld seconds=%.3f rps=%.0f "
         "errors=%ld\n",
         r.uri, r.total, r.depth, s, (double)r.total / s, r.errors);
  return r.errors ? 1 : 0;
}
