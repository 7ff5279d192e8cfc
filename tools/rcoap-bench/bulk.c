/*
 * rcoap-bench --bulk: windowed block-wise GET throughput. -n times (one
 * after the other) the URI's body is fetched through the library's own
 * client (rc_request on an rc_context: BERT when the server offers it,
 * SZX 7 over the reliable transports, --window Block2 requests in flight,
 * xwindow.c), into a sink that only counts the bytes: nothing is kept or
 * written. Reported: bytes, seconds, MB/s (10^6 bytes), this process's
 * peak RSS (VmHWM) and its CPU time per GiB.
 */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "bench.h"
#include "rcoap/app.h"

typedef struct bulk_run {
  const bench_cfg *cfg;
  rc_context *ctx;
  uint64_t bytes;     /* body bytes of the current transfer */
  uint64_t total;     /* of every transfer */
  int done, failed;
  char why[200];
} bulk_run;

static rc_err bulk_sink_write(void *arg, uint64_t off, const uint8_t *d,
                              size_t n, uint64_t total) {
  bulk_run *b = arg;
  (void)off;
  (void)d;
  (void)total;
  b->bytes += n;
  return RC_OK;
}

static void bulk_on_response(void *arg, rc_err status, const rc_msg *resp,
                             const char *detail) {
  bulk_run *b = arg;
  b->done = 1;
  if (status != RC_OK) {
    b->failed = 1;
    snprintf(b->why, sizeof b->why, "%s%s%s", rc_strerror(status),
             detail[0] ? ": " : "", detail);
  } else if (RC_CODE_CLASS(resp->code) != 2) {
    b->failed = 1;
    char cs[5];
    snprintf(b->why, sizeof b->why, "answered %s", rc_code_str(resp->code, cs));
  }
}

/* VmHWM of this process in KiB (0 if unknown). */
unsigned long bench_peak_rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f)
    return 0;
  char line[128];
  unsigned long v = 0;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %lu", &v) == 1)
      break;
  fclose(f);
  return v;
}

double bench_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int bulk_run_main(const bench_cfg *cfg, rc_tls_ctx *tls) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  bulk_run b;
  memset(&b, 0, sizeof b);
  b.cfg = cfg;
  rc_context_opts co = {0};
  co.loop = &loop;
  co.log_level = RC_SESSION_LOG_ERR;
  co.client_tls = tls;
  co.connect_timeout_ms = (uint32_t)(cfg->connect_timeout_s * 1000);
  co.handshake_timeout_ms = co.connect_timeout_ms;
  if (rc_context_new(&b.ctx, &co) != RC_OK) {
    fprintf(stderr, "rcoap-bench: out of memory\n");
    return 1;
  }
  rc_body_sink sink = {.write = bulk_sink_write, .arg = &b};
  rc_request_opts ro = {0};
  ro.sink = &sink;
  ro.window = (uint8_t)cfg->window;
  ro.timeout_ms = cfg->timeout_ms;
  uint64_t count = cfg->count ? cfg->count : 1;
  uint64_t t0 = now_ns();
  double cpu0 = bench_cpu_s();
  uint64_t n_ok = 0;
  for (uint64_t i = 0; i < count && !g_stop; i++) {
    b.done = 0;
    b.bytes = 0;
    rc_err err = rc_request(b.ctx, RC_GET, cfg->uri, &ro, bulk_on_response, &b);
    if (err != RC_OK) {
      fprintf(stderr, "rcoap-bench: %s: %s\n", cfg->uri, rc_strerror(err));
      break;
    }
    while (!b.done && !g_stop)
      uv_run(&loop, UV_RUN_ONCE);
    if (b.failed) {
      fprintf(stderr, "rcoap-bench: GET %s: %s\n", cfg->uri, b.why);
      break;
    }
    b.total += b.bytes;
    n_ok++;
  }
  double secs = (double)(now_ns() - t0) / 1e9;
  double cpu = bench_cpu_s() - cpu0;
  double mbps = secs > 0 ? (double)b.total / secs / 1e6 : 0;
  double gib = (double)b.total / (1024.0 * 1024.0 * 1024.0);
  unsigned long hwm = bench_peak_rss_kib();
  if (!cfg->quiet) {
    printf("rcoap-bench --bulk: GET %s, window %u, %llu transfer(s)\n",
           cfg->uri, cfg->window, (unsigned long long)count);
    printf("  %llu bytes in %.3f s: %.1f MB/s; peak RSS %lu KiB; "
           "CPU %.3f s (%.2f s per GiB)\n",
           (unsigned long long)b.total, secs, mbps, hwm, cpu,
           gib > 0 ? cpu / gib : 0);
  }
  printf("RESULT bulk transfers=%llu bytes=%llu seconds=%.3f mbps=%.1f "
         "window=%u peak_rss_kib=%lu bench_cpu_s=%.3f errors=%llu\n",
         (unsigned long long)n_ok, (unsigned long long)b.total, secs, mbps,
         cfg->window, hwm, cpu, (unsigned long long)(count - n_ok));
  fflush(stdout);
  rc_context_free(b.ctx);
  for (int i = 0; i < 1000 && uv_run(&loop, UV_RUN_NOWAIT); i++)
    ;
  uv_loop_close(&loop);
  return n_ok == count ? 0 : 1;
}
