/*
 * rcoap-bench's request mix: "METHOD /path[?query][=payload][:weight],..."
 * parsed into pre-encoded options and payloads, and a smooth weighted
 * round-robin schedule cycled by every connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bench.h"
#include "rcoap/codec_msg.h"
#include "rcoap/codec_option.h"

static int method_code(const char *m, size_t n, uint8_t *code) {
  static const struct {
    const char *name;
    uint8_t code;
  } tab[] = {{"GET", RC_GET},     {"POST", RC_POST},   {"PUT", RC_PUT},
             {"DELETE", RC_DELETE}, {"FETCH", RC_FETCH}, {"PATCH", RC_PATCH},
             {"IPATCH", RC_IPATCH}};
  for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
    if (strlen(tab[i].name) == n && strncasecmp(tab[i].name, m, n) == 0) {
      *code = tab[i].code;
      return 0;
    }
  return -1;
}

/* Encodes the Uri-Path/Uri-Query of path (and Content-Format text/plain
 * when there is a payload) into e->opts. Returns 0 or -1. */
static int mix_encode_opts(mix_entry *e, const char *path, size_t path_len) {
  char uri[600];
  int n = snprintf(uri, sizeof(uri), "coap+tcp://h%.*s", (int)path_len, path);
  if (n < 0 || (size_t)n >= sizeof(uri))
    return -1;
  rc_uri u;
  if (rc_uri_parse(uri, (size_t)n, &u) != RC_OK)
    return -1;
  rc_opt opts[64];
  uint8_t scratch[sizeof(uri) + 2];
  size_t n_opts = 0;
  if (rc_uri_to_opts(&u, RC_URI_OMIT_HOST | RC_URI_OMIT_PORT, opts, 63,
                     &n_opts, scratch, sizeof(scratch), NULL) != RC_OK)
    return -1;
  if (e->payload_len > 0) {
    opts[n_opts].num = 12; /* Content-Format: text/plain (0) */
    opts[n_opts].val = NULL;
    opts[n_opts].len = 0;
    n_opts++;
    rc_opts_sort(opts, n_opts);
  }
  uint8_t buf[RC_ENC_HEADROOM + MIX_OPTS_MAX];
  rc_enc enc;
  rc_enc_init(&enc, buf, sizeof(buf), e->code, NULL, 0);
  for (size_t i = 0; i < n_opts; i++)
    if (rc_enc_opt(&enc, opts[i].num, opts[i].val, opts[i].len) != RC_OK)
      return -1;
  e->opts_len = enc.pos - RC_ENC_HEADROOM;
  memcpy(e->opts, buf + RC_ENC_HEADROOM, e->opts_len);
  return 0;
}

/* One mix entry: "METHOD /path[?query][=payload][:weight]". */
static int mix_parse_one(bench_cfg *cfg, const char *s, size_t len) {
  if (cfg->n_mix == MAX_MIX)
    return -1;
  mix_entry *e = &cfg->mix[cfg->n_mix];
  memset(e, 0, sizeof(*e));
  while (len > 0 && *s == ' ')
    s++, len--;
  const char *sp = memchr(s, ' ', len);
  if (sp == NULL || method_code(s, (size_t)(sp - s), &e->code) != 0)
    return -1;
  const char *path = sp + 1;
  const char *end = s + len;
  e->weight = 1;
  /* weight: the last ':' followed by digits only */
  const char *colon = NULL;
  for (const char *p = end; p > path; p--)
    if (p[-1] == ':') {
      colon = p - 1;
      break;
    }
  if (colon != NULL && colon + 1 < end) {
    char *ep;
    unsigned long wt = strtoul(colon + 1, &ep, 10);
    if (ep == end && wt > 0 && wt <= 1000) {
      e->weight = (unsigned)wt;
      end = colon;
    }
  }
  const char *eq = memchr(path, '=', (size_t)(end - path));
  /* '=' inside a query belongs to the query: the payload separator is
   * the first '=' after the last '?'-free part, so require "=" before any
   * '?' or, if a '?' exists, the first '=' after a space-free token: we
   * keep it simple and take the LAST '=' only when no '?' precedes it. */
  const char *q = memchr(path, '?', (size_t)(end - path));
  if (q != NULL)
    eq = NULL;
  const char *path_end = eq ? eq : end;
  if (eq) {
    size_t pl = (size_t)(end - eq - 1);
    if (pl > MIX_PAYLOAD_MAX)
      return -1;
    memcpy(e->payload, eq + 1, pl);
    e->payload_len = pl;
  }
  if (path_end == path || *path != '/')
    return -1;
  snprintf(e->text, sizeof(e->text), "%.*s %.*s%s", (int)(sp - s), s,
           (int)(path_end - path), path, e->payload_len ? " +payload" : "");
  if (mix_encode_opts(e, path, (size_t)(path_end - path)) != 0)
    return -1;
  cfg->n_mix++;
  return 0;
}

/* Builds a smooth weighted round-robin schedule (nginx's algorithm), so
 * that a mix of 8:1:1 interleaves instead of sending bursts. */
static int mix_schedule(bench_cfg *cfg) {
  unsigned total = 0;
  for (unsigned i = 0; i < cfg->n_mix; i++)
    total += cfg->mix[i].weight;
  if (total == 0 || total > SCHED_MAX)
    return -1;
  long cur[MAX_MIX] = {0};
  for (unsigned k = 0; k < total; k++) {
    unsigned best = 0;
    for (unsigned i = 0; i < cfg->n_mix; i++) {
      cur[i] += cfg->mix[i].weight;
      if (cur[i] > cur[best])
        best = i;
    }
    cur[best] -= (long)total;
    cfg->sched[k] = (uint8_t)best;
  }
  cfg->n_sched = total;
  return 0;
}

/* Splits spec at every ',' not written as "\\," (a payload may hold
 * commas: "PUT /x=a\\, b"). */
int mix_parse(bench_cfg *cfg, const char *spec) {
  char ent[MIX_PAYLOAD_MAX + 256];
  size_t len = 0;
  for (const char *p = spec;; p++) {
    if (*p == '\\' && p[1] == ',') {
      p++;
    } else if (*p == ',' || *p == 0) {
      if (mix_parse_one(cfg, ent, len) != 0) {
        fprintf(stderr, "rcoap-bench: bad --mix entry \"%.*s\" (at most %d "
                        "entries)\n", (int)len, ent, MAX_MIX);
        return -1;
      }
      len = 0;
      if (*p == 0)
        break;
      continue;
    }
    if (len == sizeof(ent)) {
      fprintf(stderr, "rcoap-bench: --mix entry too long\n");
      return -1;
    }
    ent[len++] = *p;
  }
  return mix_schedule(cfg);
}

