/*
 * rcoap-bench's results: the workers' counters and histograms merged into
 * the human summary and the machine-readable RESULT line.
 */
#include <stdio.h>

#include "bench.h"

static void fmt_us(char *buf, size_t cap, uint64_t ns) {
  if (ns < 1000000ull)
    snprintf(buf, cap, "%.1f us", (double)ns / 1e3);
  else
    snprintf(buf, cap, "%.2f ms", (double)ns / 1e6);
}

int report_print(const bench_cfg *cfg, worker *ws) {
  static hist total;
  hist_reset(&total);
  uint64_t ok = 0, st[8] = {0}, timeouts = 0, late = 0, conn_err = 0;
  uint64_t released = 0, cpu_ns = 0, cpu_wall_ns = 0;
  uint64_t opened = 0, first = UINT64_MAX, last = 0;
  double window = 0;
  for (unsigned i = 0; i < cfg->threads; i++) {
    worker *w = &ws[i];
    hist_merge(&total, &w->h);
    ok += w->ok;
    for (int k = 0; k < 8; k++)
      st[k] += w->status_err[k];
    timeouts += w->timeouts;
    late += w->late;
    conn_err += w->conn_err;
    released += w->released;
    opened += w->open_count;
    if (w->cpu_ended && w->cpu_end > w->cpu_start)
      cpu_ns += w->cpu_end - w->cpu_start;
    if (w->cpu_ended && w->cpu_wall_end - w->cpu_wall_start > cpu_wall_ns)
      cpu_wall_ns = w->cpu_wall_end - w->cpu_wall_start;
    if (w->first_ns && w->first_ns < first)
      first = w->first_ns;
    if (w->last_ns > last)
      last = w->last_ns;
  }
  uint64_t done = total.total;
  if (cfg->count)
    window = last > first && first != UINT64_MAX ? (double)(last - first) / 1e9
                                                 : 0;
  else
    /* The window may have been cut short (SIGINT, every connection
     * gone): the longest one any worker really ran. */
    for (unsigned i = 0; i < cfg->threads; i++) {
      const worker *w = &ws[i];
      if (w->win_start == UINT64_MAX || w->end_ns <= w->win_start)
        continue;
      uint64_t end = w->end_ns < w->win_end ? w->end_ns : w->win_end;
      double wl = (double)(end - w->win_start) / 1e9;
      if (wl > window)
        window = wl;
    }
  double rps = window > 0 ? (double)done / window : 0;
  uint64_t status_errs = st[0] + st[1] + st[3] + st[4] + st[5] + st[6] + st[7];
  /* conn_err includes the connections that never opened */
  uint64_t errors = status_errs + timeouts + conn_err;
  uint64_t p50 = hist_quantile(&total, 0.5), p90 = hist_quantile(&total, 0.9),
           p99 = hist_quantile(&total, 0.99),
           p999 = hist_quantile(&total, 0.999);
  /* the generator's own CPU time per request (per cycle: --handshakes) */
  double cpu_us = done > 0 ? (double)cpu_ns / 1e3 / (double)done : 0;
  /* Over the wall time the CPU samples span (not the request window, which
   * a short -n run makes far shorter than the set-up the samples include):
   * one thread can show at most 100 %. */
  double cpu_share =
      cpu_wall_ns > 0 ? (double)cpu_ns / (double)cpu_wall_ns : 0;
  if (!cfg->quiet) {
    char a[32], b[32], c[32], d[32], e[32];
    fmt_us(a, sizeof(a), p50);
    fmt_us(b, sizeof(b), p90);
    fmt_us(c, sizeof(c), p99);
    fmt_us(d, sizeof(d), p999);
    fmt_us(e, sizeof(e), total.max);
    if (cfg->handshakes) {
      printf("connections: %llu opened over the run by %u parallel "
             "connection(s)\n", (unsigned long long)opened, cfg->conns);
      printf("cycles:      %llu in %.2f s = %.0f per second (connect, %s%sCSM, "
             "one request, close)\n",
             (unsigned long long)done, window, rps,
             cfg->use_tls ? (cfg->resume ? "TLS (resumption allowed), "
                                       : "full TLS handshake, ")
                         : "",
             cfg->use_ws ? "WebSocket upgrade, " : "");
    } else {
      printf("connections: %llu open of %u\n", (unsigned long long)opened,
             cfg->conns);
      printf("requests:    %llu in %.2f s = %.0f req/s\n",
             (unsigned long long)done, window, rps);
    }
    printf("responses:   2.xx %llu, 4.xx %llu, 5.xx %llu, other %llu\n",
           (unsigned long long)ok, (unsigned long long)st[4],
           (unsigned long long)st[5],
           (unsigned long long)(status_errs - st[4] - st[5]));
    printf("errors:      %llu (status %llu, timeouts %llu, connection %llu, "
           "never opened %llu); late answers %llu; Releases from the "
           "server %llu\n",
           (unsigned long long)errors, (unsigned long long)status_errs,
           (unsigned long long)timeouts, (unsigned long long)conn_err,
           (unsigned long long)(cfg->handshakes || opened >= cfg->conns
                                    ? 0 : cfg->conns - opened),
           (unsigned long long)late,
           (unsigned long long)released);
    for (unsigned i = 0; i < cfg->threads; i++)
      if (ws[i].first_err[0]) {
        printf("first connection error: %s\n", ws[i].first_err);
        break;
      }
    printf("latency:     p50 %s  p90 %s  p99 %s  p99.9 %s  max %s%s\n", a, b,
           c, d, e, cfg->handshakes ? " (whole cycle)" : "");
    printf("generator:   %.2f us CPU per %s (%.0f %% of one core while "
           "measuring, %u thread(s))\n",
           cpu_us, cfg->handshakes ? "cycle" : "request", cpu_share * 100,
           cfg->threads);
  }
  printf("RESULT rps=%.0f requests=%llu p50_us=%.1f p90_us=%.1f p99_us=%.1f "
         "p999_us=%.1f max_us=%.1f errors=%llu timeouts=%llu conn_errors=%llu "
         "status_errors=%llu bench_cpu_us=%.3f\n",
         rps, (unsigned long long)done, (double)p50 / 1e3, (double)p90 / 1e3,
         (double)p99 / 1e3, (double)p999 / 1e3, (double)total.max / 1e3,
         (unsigned long long)errors, (unsigned long long)timeouts,
         (unsigned long long)conn_err, (unsigned long long)status_errs,
         cpu_us);
  return done > 0 && errors == 0 ? 0 : 1;
}
