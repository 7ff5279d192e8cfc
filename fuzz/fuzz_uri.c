/*
 * Fuzz target for src/codec/uri.c: parse the input as a URI; when it
 * parses, decompose it, compose the options back into a URI, and check
 * that the composed URI parses and decomposes to the same Uri-Port,
 * Uri-Path and Uri-Query options (and an equal Uri-Host, ignoring ASCII
 * case, when both have one).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rcoap/codec_uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_OPTS 512

static void fz_check(int cond) {
  if (!cond)
    abort();
}

/* Decomposes u into o/sc; returns the option count or -1. */
static int fz_opts(const rc_uri *u, size_t len, rc_opt *o, uint8_t *sc) {
  size_t n = 0;
  rc_err e = rc_uri_to_opts(u, 0, o, FZ_OPTS, &n, sc, RC_URI_SCRATCH_MAX(len),
                            NULL);
  fz_check(e != RC_ERR_NOBUF || n > FZ_OPTS);
  return e == RC_OK ? (int)n : -1;
}

static const rc_opt *fz_skip_host(const rc_opt *o, int *n) {
  if (*n > 0 && o[0].num == RC_OPT_URI_HOST) {
    (*n)--;
    return o + 1;
  }
  return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static rc_opt o1[FZ_OPTS], o2[FZ_OPTS];
  static uint8_t sc1[8192], sc2[32768];
  static char out[32768];
  if (size > 2048)
    return 0;
  rc_uri u;
  if (rc_uri_parse((const char *)data, size, &u) != RC_OK)
    return 0;
  int n1 = fz_opts(&u, size, o1, sc1);
  if (n1 < 0)
    return 0;
  const char *dest = u.host_is_literal ? u.host : "192.0.2.1";
  size_t dest_len = u.host_is_literal ? u.host_len : 9;
  size_t ol;
  if (rc_uri_compose(u.scheme, dest, dest_len, u.port, o1, (size_t)n1, out,
                     sizeof out, &ol) != RC_OK)
    return 0; /* e.g. a decoded Uri-Host starting with '[' */
  fz_check(strlen(out) == ol);
  rc_uri v;
  fz_check(rc_uri_parse(out, ol, &v) == RC_OK);
  fz_check(v.scheme == u.scheme && v.port == u.port);
  int n2 = fz_opts(&v, ol, o2, sc2);
  fz_check(n2 >= 0);
  const rc_opt *a = o1, *b = o2;
  if (n1 > 0 && n2 > 0 && o1[0].num == RC_OPT_URI_HOST &&
      o2[0].num == RC_OPT_URI_HOST)
    fz_check(o1[0].len == o2[0].len &&
             strncasecmp((const char *)o1[0].val, (const char *)o2[0].val,
                         o1[0].len) == 0);
  a = fz_skip_host(a, &n1);
  b = fz_skip_host(b, &n2);
  fz_check(n1 == n2);
  for (int i = 0; i < n1; i++)
    fz_check(a[i].num == b[i].num && a[i].len == b[i].len &&
             (a[i].len == 0 || memcmp(a[i].val, b[i].val, a[i].len) == 0));
  return 0;
}
