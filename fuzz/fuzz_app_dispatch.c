/*
 * Fuzz target for the app's resource lookup (src/app/resource.c), a
 * differential one: a request's resource found straight from its Uri-Path
 * options (rc__app_match_msg: hashed and compared segment by segment) must
 * be the one found from its path written out (rc_msg_path, then the string
 * matcher rc__app_match), and the one a plain scan of the resource list
 * finds; a path too long for either gives RC_ERR_NOBUF (4.13) on both
 * routes. Any disagreement aborts.
 *
 * Two contexts hold a fixed table: exact and prefix resources, segments of
 * 0-68 bytes sharing prefixes (3, 4, 7, 8, 9, 16, 17 bytes: each compare
 * width of seg_eq), bytes >= 0x80, empty segments, '%' and space in names,
 * 16 and 17 segments, paths of 1022 and 1023 bytes; the second context
 * also has a root prefix resource "/".
 *
 * The option route answers a request whose option bytes it has seen
 * from its memo (app_int.h, resource.c): each input is matched twice (and
 * the memo probed inline, as the static fast path does), and with bit 4
 * the path's own resource is added and removed between matches (every
 * change of the table must reach the memo).
 *
 * Input: byte 0 picks the context (bit 0), the framing (bit 1: UDP, else
 * TCP), options around the Uri-Paths (bit 2: Uri-Host before; bit 3:
 * Content-Format and Uri-Query after) and bit 4 (the path's resource
 * added and removed). Then segments, up to FZ_SEGS_MAX,
 * each from one byte t:
 *   t < 0x60          t raw bytes follow
 *   0x60 <= t < 0x70  a segment of the table (next byte picks it) with
 *                     one bit flipped (the byte after picks where)
 *   0x70 <= t < 0x80  96 + next byte raw bytes follow
 *   t >= 0x80         a segment of the table, (t & 0x7f) picks it
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_int.h"
#include "rcoap/codec_msg.h"
#include "rcoap/codec_option.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_SEGS_MAX 40
#define FZ_POOL_MAX 128
#define FZ_LONG_SEG 67

static void fz_check(int cond) {
  if (!cond)
    abort();
}

static const struct {
  const char *path;
  unsigned prefix;
} fz_table[] = {
    /* rcoapd's demo */
    {"/hello", 0}, {"/time", 0}, {"/echo", 0}, {"/store", 1},
    {"/counter", 0}, {"/sink", 0}, {"/slow", 0}, {"/large", 0},
    {"/webrtc", 0},
    /* shared prefixes across seg_eq's widths (1-3, 4-7, 8-16, 17+) */
    {"/a", 1}, {"/a/b", 0}, {"/a/b/c", 1}, {"/ab", 0}, {"/abc", 1},
    {"/abcd", 0}, {"/abcdefg", 1}, {"/abcdefgh", 1}, {"/abcdefghi", 0},
    {"/abcdefghijklmnop", 1}, {"/abcdefghijklmnopq", 1},
    {"/abcdefghijklmnopqrstuvwxyz0123456789ABCD", 1}, /* 40 bytes */
    {"/abcdefghijklmnopqrstuvwxyz0123456789ABCE", 0},
    {"/a/abcdefgh/abcdefghijklmnop", 0},
    {"/sensors", 1}, {"/sensors/temp", 0}, {"/sensors/temperature", 1},
    /* bytes >= 0x80 (UTF-8 and not) */
    {"/x/\xc3\xa9t\xc3\xa9", 0}, {"/x/\xff\x80", 1}, {"/\xe2\x82\xac", 1},
    /* empty segments: "/e//f", "/g/" (added as "/g//"), "/h/" -> "/h" */
    {"/e//f", 1}, {"/g//", 1}, {"/h/", 0},
    /* '%' and a space: as rc_msg_path writes them, and a raw '%' */
    {"/p%25q", 1}, {"/m/x%2Fy", 0}, {"/50%", 0}, {"/s p", 1},
    /* 16 and 17 segments */
    {"/d/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15", 0},
    {"/d/1/2/3/4/5/6/7/8/9/10/11/12/13/14", 1},
    {"/d/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16", 1},
};

typedef struct fz_pool {
  const uint8_t *val[FZ_POOL_MAX];
  size_t len[FZ_POOL_MAX];
  size_t n;
} fz_pool;

static rc_context *g_ctx[2];
static fz_pool g_pool;
static char g_long[2][RC_APP_PATH_MAX]; /* 1022 and 1023 bytes */

/* Adds the segments of path (which must outlive the pool) to the pool. */
static void pool_add(const char *path) {
  const char *p = path;
  while (*p == '/' && g_pool.n < FZ_POOL_MAX) {
    const char *s = ++p;
    while (*p && *p != '/')
      p++;
    size_t i;
    for (i = 0; i < g_pool.n; i++)
      if (g_pool.len[i] == (size_t)(p - s) &&
          !memcmp(g_pool.val[i], s, g_pool.len[i]))
        break;
    if (i == g_pool.n) {
      g_pool.val[g_pool.n] = (const uint8_t *)s;
      g_pool.len[g_pool.n++] = (size_t)(p - s);
    }
  }
}

/* "/L" and 15 segments of 67 bytes (1022), plus "/z" for the second. */
static void long_paths(void) {
  char *p = g_long[0];
  p += sprintf(p, "/L");
  for (int k = 0; k < 15; k++) {
    *p++ = '/';
    for (int i = 0; i < FZ_LONG_SEG; i++)
      *p++ = (char)('A' + (k + i) % 26);
  }
  *p = 0;
  fz_check(strlen(g_long[0]) == 1022);
  memcpy(g_long[1], g_long[0], 1022); /* last segment one byte longer */
  g_long[1][1022] = 'z';
  g_long[1][1023] = 0;
  fz_check(strlen(g_long[1]) == 1023);
}

static rc_context *ctx_make(uv_loop_t *loop, int root) {
  rc_context_opts o;
  memset(&o, 0, sizeof o);
  o.loop = loop;
  rc_context *ctx;
  fz_check(rc_context_new(&ctx, &o) == RC_OK);
  for (size_t i = 0; i < sizeof fz_table / sizeof *fz_table; i++)
    fz_check(rc_resource_add(ctx, fz_table[i].path,
                             fz_table[i].prefix ? RC_RES_PREFIX : 0, NULL,
                             NULL) == RC_OK);
  fz_check(rc_resource_add(ctx, g_long[0], RC_RES_PREFIX, NULL, NULL) == RC_OK);
  fz_check(rc_resource_add(ctx, g_long[1], 0, NULL, NULL) == RC_OK);
  if (root)
    fz_check(rc_resource_add(ctx, "/", RC_RES_PREFIX, NULL, NULL) == RC_OK);
  return ctx;
}

static void fz_init(void) {
  static uv_loop_t loop;
  fz_check(uv_loop_init(&loop) == 0);
  long_paths();
  g_ctx[0] = ctx_make(&loop, 0);
  g_ctx[1] = ctx_make(&loop, 1);
  for (const rc_resource *r = g_ctx[1]->resources; r; r = r->next)
    pool_add(r->path);
}

/* The third opinion: a plain scan of every resource for path[0..n). */
static rc_resource *scan(rc_context *ctx, const char *path, size_t n) {
  rc_resource *best = NULL;
  for (rc_resource *r = ctx->resources; r; r = r->next) {
    if (r->path_len == n && !memcmp(r->path, path, n))
      return r;
    if ((r->flags & RC_RES_PREFIX) && r->path_len < n &&
        !memcmp(r->path, path, r->path_len) &&
        (r->path_len == 1 || path[r->path_len] == '/') &&
        (!best || r->path_len > best->path_len))
      best = r;
  }
  return best;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uint8_t buf[16384], seg[FZ_SEGS_MAX][96 + 256];
  if (!g_ctx[0])
    fz_init();
  if (size < 1)
    return 0;
  uint8_t flags = data[0];
  rc_context *ctx = g_ctx[flags & 1];
  rc_enc e;
  static const uint8_t tok[2] = {0x5a, 0xa5};
  rc_enc_init(&e, buf, sizeof buf, RC_GET, tok, sizeof tok);
  if (flags & 4)
    rc_enc_opt_str(&e, RC_OPT_URI_HOST, "example.org");
  size_t at = 1;
  for (int k = 0; k < FZ_SEGS_MAX && at < size; k++) {
    uint8_t t = data[at++];
    const uint8_t *v;
    size_t len;
    if (t >= 0x80 || (t >= 0x60 && t < 0x70)) {
      size_t i = t >= 0x80 ? (size_t)(t & 0x7f) : (at < size ? data[at++] : 0);
      i %= g_pool.n;
      len = g_pool.len[i];
      memcpy(seg[k], g_pool.val[i], len);
      if (t < 0x80 && len && at < size) { /* one bit off */
        uint8_t m = data[at++];
        seg[k][m % len] ^= (uint8_t)(1u << (m >> 5));
      }
    } else {
      len = t < 0x60 ? t : 96u + (at < size ? data[at++] : 0);
      if (len > size - at)
        len = size - at;
      memcpy(seg[k], data + at, len);
      at += len;
    }
    v = seg[k];
    rc_enc_opt(&e, RC_OPT_URI_PATH, v, len);
  }
  if (flags & 8) {
    rc_enc_opt_uint(&e, RC_OPT_CONTENT_FORMAT, 0);
    rc_enc_opt_str(&e, RC_OPT_URI_QUERY, "a=1");
  }
  const uint8_t *out;
  size_t out_len;
  rc_framing fr = (flags & 2) ? RC_FRAMING_UDP : RC_FRAMING_TCP;
  if (rc_enc_finish(&e, fr, RC_TYPE_CON, 1, &out, &out_len) != RC_OK)
    return 0;
  rc_msg m;
  fz_check(rc_msg_parse(fr, out, out_len, &m) == RC_OK);

  /* The option route. */
  rc_resource *fast;
  int fast_exact;
  rc_err err = rc__app_match_msg(ctx, &m, &fast, &fast_exact);
  /* The string route. */
  char path[RC_APP_PATH_MAX];
  rc_ssize n = rc_msg_path(&m, path, sizeof path);
  if (n < 0) {
    fz_check(n == RC_ERR_NOBUF && err == RC_ERR_NOBUF && !fast);
    return 0;
  }
  fz_check(err == RC_OK);
  rc_resource *slow = rc__app_match(ctx, path, (size_t)n);
  int slow_exact = slow && slow->path_len == (size_t)n;
  fz_check(fast == slow && fast_exact == slow_exact);
  fz_check(scan(ctx, path, (size_t)n) == slow);
  /* Asked again (the memo answers now), the same; the inline probe the
   * static fast path takes (rc__app_memo_hit) finds it or nothing. */
  fz_check(rc__app_match_msg(ctx, &m, &fast, &fast_exact) == RC_OK);
  fz_check(fast == slow && fast_exact == slow_exact);
  rc_resource *hit = rc__app_memo_hit(ctx, &m);
  fz_check(hit == NULL || hit == slow);
  fz_check(hit == slow || m.opts_len > 16 || slow == NULL);
  if ((flags & 16) && !slow_exact && n > 1 && path[n - 1] != '/') {
    /* The path's own resource added, then removed: the memo follows
     * (not for "/x/", which both calls would take as "/x"). */
    rc_resource *own;
    fz_check(rc_resource_add(ctx, path, 0, NULL, &own) == RC_OK);
    fz_check(rc__app_match_msg(ctx, &m, &fast, &fast_exact) == RC_OK);
    fz_check(fast == rc__app_match(ctx, path, (size_t)n));
    fz_check(fast_exact == (fast && fast->path_len == (size_t)n));
    fz_check(rc_resource_remove(ctx, path) == RC_OK);
    fz_check(rc__app_match_msg(ctx, &m, &fast, &fast_exact) == RC_OK);
    fz_check(fast == slow && fast_exact == slow_exact);
  }
  return 0;
}
