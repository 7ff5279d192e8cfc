/*
 * Tests for src/codec/option.c, option_registry.c and content_format.c:
 * option delta and length encodings at the boundaries of their extended
 * forms (12/13/268/269/65804), every malformed option header with its named
 * error, each prefix of a region cut short, iteration, find/count, uint
 * values, stable sorting, the registry (RFC 7252 table, later RFCs, and the
 * RFC 8323 §5 per-code signaling spaces) and Content-Format names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rcoap/codec_option.h"

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__})
#define NBYTES(...) sizeof((const uint8_t[]){__VA_ARGS__})
#define EXPECT_SCAN(e, ...)                                                    \
  do {                                                                         \
    size_t ol_, pl_;                                                           \
    const uint8_t *p_;                                                         \
    assert_int_equal(rc_opts_scan(BYTES(__VA_ARGS__), NBYTES(__VA_ARGS__),     \
                                  &ol_, &p_, &pl_),                            \
                     (e));                                                     \
  } while (0)

/* Encodes one option (num from 0, len bytes of 0x5a) with rc_enc and
 * returns the option region (after the empty token) in *reg. */
static size_t enc_one(uint8_t *buf, size_t cap, uint16_t num, uint32_t len,
                      const uint8_t **reg) {
  static uint8_t val[65804];
  memset(val, 0x5a, sizeof(val));
  rc_enc e;
  const uint8_t *out;
  size_t n;
  rc_enc_init(&e, buf, cap, RC_GET, NULL, 0);
  assert_int_equal(rc_enc_opt(&e, num, val, len), RC_OK);
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_WS, 0, 0, &out, &n), RC_OK);
  *reg = out + 2;
  return n - 2;
}

/* RFC 7252 §3.1 delta and length nibbles 13 (one byte, minus 13) and 14
 * (two bytes, minus 269) at each boundary. */
static void test_ext_boundaries(void **state) {
  (void)state;
  struct {
    uint32_t v;
    uint8_t nib;
    uint8_t ext[2];
    size_t next;
  } cases[] = {
      {0, 0, {0}, 0},          {12, 12, {0}, 0},          {13, 13, {0x00}, 1},
      {14, 13, {0x01}, 1},     {268, 13, {0xff}, 1},      {269, 14, {0, 0}, 2},
      {270, 14, {0, 1}, 2},    {65535, 14, {0xfe, 0xf2}, 2},
      {65804, 14, {0xff, 0xff}, 2},
  };
  size_t cap = 65804 + 64;
  uint8_t *buf = malloc(cap);
  assert_non_null(buf);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    const uint8_t *reg;
    size_t n;
    /* as a delta (option numbers stop at 65535) */
    if (cases[i].v <= 65535) {
      n = enc_one(buf, cap, (uint16_t)cases[i].v, 0, &reg);
      assert_int_equal(n, 1 + cases[i].next);
      assert_int_equal(reg[0], cases[i].nib << 4);
      assert_memory_equal(reg + 1, cases[i].ext, cases[i].next);
      size_t ol, pl;
      const uint8_t *p;
      assert_int_equal(rc_opts_scan(reg, n, &ol, &p, &pl), RC_OK);
      rc_opt_iter it;
      rc_opt o;
      rc_opt_iter_init_raw(&it, reg, ol);
      assert_true(rc_opt_next(&it, &o));
      assert_int_equal(o.num, cases[i].v);
      assert_int_equal(o.len, 0);
      assert_false(rc_opt_next(&it, &o));
    }
    /* as a length */
    n = enc_one(buf, cap, 1, cases[i].v, &reg);
    assert_int_equal(n, 1 + cases[i].next + cases[i].v);
    assert_int_equal(reg[0], 0x10 | cases[i].nib);
    assert_memory_equal(reg + 1, cases[i].ext, cases[i].next);
    size_t ol, pl;
    const uint8_t *p;
    assert_int_equal(rc_opts_scan(reg, n, &ol, &p, &pl), RC_OK);
    assert_int_equal(ol, n);
    assert_null(p);
    rc_opt_iter it;
    rc_opt o;
    rc_opt_iter_init_raw(&it, reg, ol);
    assert_true(rc_opt_next(&it, &o));
    assert_int_equal(o.num, 1);
    assert_int_equal(o.len, cases[i].v);
    assert_ptr_equal(o.val, reg + 1 + cases[i].next);
    /* one byte short: truncated */
    if (n > 1)
      assert_int_equal(rc_opts_scan(reg, n - 1, &ol, &p, &pl),
                     RC_ERR_OPT_TRUNCATED);
  }
  free(buf);
}

static void test_scan_errors(void **state) {
  (void)state;
  EXPECT_SCAN(RC_OK);
  EXPECT_SCAN(RC_ERR_OPT_DELTA_RESERVED, 0xf0);
  EXPECT_SCAN(RC_ERR_OPT_DELTA_RESERVED, 0xfe);
  EXPECT_SCAN(RC_ERR_OPT_DELTA_RESERVED, 0x10, 0xf1, 0x00);
  EXPECT_SCAN(RC_ERR_OPT_LEN_RESERVED, 0x0f);
  EXPECT_SCAN(RC_ERR_OPT_LEN_RESERVED, 0xdf, 0x00);
  EXPECT_SCAN(RC_ERR_OPT_LEN_RESERVED, 0xef, 0x00, 0x00);
  EXPECT_SCAN(RC_ERR_OPT_TRUNCATED, 0x01);
  EXPECT_SCAN(RC_ERR_OPT_TRUNCATED, 0xd0);
  EXPECT_SCAN(RC_ERR_OPT_TRUNCATED, 0xe0, 0x00);
  EXPECT_SCAN(RC_ERR_OPT_TRUNCATED, 0x0d);
  EXPECT_SCAN(RC_ERR_OPT_TRUNCATED, 0x0e, 0x00);
  EXPECT_SCAN(RC_ERR_OPT_TRUNCATED, 0xdd, 0x00);
  EXPECT_SCAN(RC_ERR_OPT_TRUNCATED, 0x0d, 0x00, 1, 2, 3);
  EXPECT_SCAN(RC_ERR_OPT_NUMBER_OVERFLOW, 0xe0, 0xff, 0xff);
  EXPECT_SCAN(RC_ERR_OPT_NUMBER_OVERFLOW, 0xe0, 0xfe, 0xf3);
  EXPECT_SCAN(RC_OK, 0xe0, 0xfe, 0xf2);
  EXPECT_SCAN(RC_ERR_OPT_NUMBER_OVERFLOW, 0xe0, 0xfe, 0xf2, 0x10);
  EXPECT_SCAN(RC_OK, 0xe0, 0xfe, 0xf2, 0x00, 0x00);
  EXPECT_SCAN(RC_ERR_EMPTY_PAYLOAD, 0xff);
  EXPECT_SCAN(RC_ERR_EMPTY_PAYLOAD, 0x11, 'a', 0xff);

  size_t ol, pl;
  const uint8_t *p;
  const uint8_t *reg = BYTES(0x11, 'a', 0xff, 'x', 0xff);
  assert_int_equal(rc_opts_scan(reg, 5, &ol, &p, &pl), RC_OK);
  assert_int_equal(ol, 2);
  assert_ptr_equal(p, reg + 3);
  assert_int_equal(pl, 2); /* 0xff inside the payload is data */
  assert_int_equal(rc_opts_scan(NULL, 0, &ol, &p, &pl), RC_OK);
  assert_int_equal(ol, 0);
  assert_int_equal(rc_opts_scan(NULL, 3, &ol, &p, &pl), RC_ERR_INVAL);
}

/* Each prefix of a region cut inside an option fails, and the scanner
 * reads no byte past the end (exact-size copies under ASan). */
static void test_scan_prefixes(void **state) {
  (void)state;
  static const uint8_t reg[] = {0xb7, 's', 'e', 'n', 's', 'o', 'r', 's',
                                0xd1, 0x00, 'q', 0xe2, 0x00, 0x01, 'a',
                                'b',  0x1d, 0x00, 1,   2,   3,   4,   5,
                                6,    7,   8,   9,   10,  11,  12,  13,
                                0xff, 'p'};
  /* complete option boundaries: 0, 8, 11, 16, 31; 32 is marker only */
  for (size_t n = 0; n <= sizeof(reg); n++) {
    uint8_t *c = malloc(n ? n : 1);
    assert_non_null(c);
    memcpy(c, reg, n);
    size_t ol, pl;
    const uint8_t *p;
    rc_err rc = rc_opts_scan(c, n, &ol, &p, &pl);
    if (n == 0 || n == 8 || n == 11 || n == 16 || n == 31 ||
        n == sizeof(reg))
      assert_int_equal(rc, RC_OK);
    else if (n == 32)
      assert_int_equal(rc, RC_ERR_EMPTY_PAYLOAD);
    else
      assert_int_equal(rc, RC_ERR_OPT_TRUNCATED);
    free(c);
  }
  /* and the iteration of the whole region */
  size_t ol, pl;
  const uint8_t *p;
  assert_int_equal(rc_opts_scan(reg, sizeof(reg), &ol, &p, &pl), RC_OK);
  rc_opt_iter it;
  rc_opt o;
  uint16_t nums[] = {11, 24, 24 + 269 + 1, 24 + 269 + 1 + 1};
  uint32_t lens[] = {7, 1, 2, 13};
  rc_opt_iter_init_raw(&it, reg, ol);
  for (int i = 0; i < 4; i++) {
    assert_true(rc_opt_next(&it, &o));
    assert_int_equal(o.num, nums[i]);
    assert_int_equal(o.len, lens[i]);
  }
  assert_false(rc_opt_next(&it, &o));
}

static void test_find_count(void **state) {
  (void)state;
  /* WS GET with Uri-Path a, b, c, Content-Format 60, Uri-Query x */
  static const uint8_t b[] = {0x00, 0x01, 0xb1, 'a', 0x01, 'b', 0x01,
                              'c',  0x11, 60,   0x31, 'x'};
  rc_msg m;
  rc_opt o;
  uint32_t v;
  assert_int_equal(rc_msg_parse(RC_FRAMING_WS, b, sizeof(b), &m), RC_OK);
  assert_int_equal(rc_msg_count_opt(&m, RC_OPT_URI_PATH), 3);
  assert_int_equal(rc_msg_count_opt(&m, RC_OPT_URI_QUERY), 1);
  assert_int_equal(rc_msg_count_opt(&m, RC_OPT_ACCEPT), 0);
  assert_true(rc_msg_find_opt(&m, RC_OPT_URI_PATH, &o));
  assert_int_equal(o.val[0], 'a');
  assert_true(rc_msg_find_opt(&m, RC_OPT_CONTENT_FORMAT, &o));
  assert_int_equal(rc_opt_uint(&o, &v), RC_OK);
  assert_int_equal(v, RC_CF_CBOR);
  assert_false(rc_msg_find_opt(&m, RC_OPT_MAX_AGE, &o));
  assert_false(rc_msg_find_opt(&m, RC_OPT_IF_MATCH, &o));
  /* a message with no options */
  assert_int_equal(rc_msg_parse(RC_FRAMING_WS, BYTES(0, 0x45), 2, &m), RC_OK);
  assert_false(rc_msg_find_opt(&m, 1, &o));
  assert_int_equal(rc_msg_count_opt(&m, 1), 0);
}

static void test_uint(void **state) {
  (void)state;
  static const struct {
    uint32_t v;
    size_t n;
  } c[] = {{0, 0},      {1, 1},        {255, 1},        {256, 2},
           {65535, 2},  {65536, 3},    {0xffffff, 3},   {0x1000000, 4},
           {8388864, 3}, {0xffffffff, 4}};
  for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
    uint8_t out[4];
    uint32_t v = 1234;
    assert_int_equal(rc_opt_uint_encode(c[i].v, out), c[i].n);
    assert_int_equal(rc_opt_uint_decode(out, c[i].n, &v), RC_OK);
    assert_int_equal(v, c[i].v);
  }
  uint32_t v;
  /* leading zeros are accepted, five bytes are not */
  assert_int_equal(rc_opt_uint_decode(BYTES(0, 0, 1), 3, &v), RC_OK);
  assert_int_equal(v, 1);
  assert_int_equal(rc_opt_uint_decode(BYTES(0, 0, 0, 0, 1), 5, &v),
                   RC_ERR_OPT_FORMAT);
  assert_int_equal(rc_opt_uint_decode(NULL, 0, &v), RC_OK);
  assert_int_equal(v, 0);
}

/* A plain byte-at-a-time option encoder (RFC 7252 §3.1) to check rc_enc
 * against: header nibbles, extended bytes, value. */
static size_t ref_opt(uint8_t *out, uint32_t delta, const uint8_t *val,
                      uint32_t len) {
  size_t n = 1;
  uint32_t f[2] = {delta, len};
  uint8_t nib[2];
  for (int k = 0; k < 2; k++) {
    if (f[k] < 13) {
      nib[k] = (uint8_t)f[k];
    } else if (f[k] < 269) {
      nib[k] = 13;
      out[n++] = (uint8_t)(f[k] - 13);
    } else {
      nib[k] = 14;
      out[n++] = (uint8_t)((f[k] - 269) >> 8);
      out[n++] = (uint8_t)(f[k] - 269);
    }
  }
  out[0] = (uint8_t)(nib[0] << 4 | nib[1]);
  if (len)
    memcpy(out + n, val, len);
  return n + len;
}

/* Every delta class with every length class (headers of 1 to 5 bytes,
 * lengths at 12/13/268/269/65804 and the 16/17 edge of the encoder's short
 * copy), uint values at each byte-count edge, a token and a payload,
 * encoded into every buffer size from 0 to what is needed: below it
 * RC_ERR_NOBUF and the same rc_enc_needed; at it, exactly the bytes the
 * plain encoder gives, and nothing written past the buffer (ASan). */
static void test_enc_every_capacity(void **state) {
  (void)state;
  static uint8_t val[65804];
  for (size_t i = 0; i < sizeof val; i++)
    val[i] = (uint8_t)(i * 7 + 1);
  static const struct {
    uint16_t num;
    uint32_t len; /* UINT32_MAX: a uint option with value uval */
    uint32_t uval;
  } opts[] = {
      {1, 0, 0},        {1, 12, 0},          {12, 13, 0},
      {25, 16, 0},      {25, 17, 0},         {38, 268, 0},
      {306, 269, 0},    {306, UINT32_MAX, 0}, {307, UINT32_MAX, 0xff},
      {320, UINT32_MAX, 0x100}, {588, UINT32_MAX, 0xffff},
      {589, UINT32_MAX, 0x10000}, {600, UINT32_MAX, 0xffffff},
      {600, UINT32_MAX, 0x1000000}, {65535, UINT32_MAX, 0xffffffff},
  };
  const size_t nopts = sizeof opts / sizeof opts[0];
  static const uint8_t tok[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  static const uint8_t pl[] = "payload";
  for (int big = 0; big < 2; big++) {
    /* big: one more option with the longest value (65804 bytes) */
    size_t cap_ref = 2 * 65804 + 1024;
    uint8_t *want = malloc(cap_ref);
    assert_non_null(want);
    size_t wn = 0;
    memcpy(want, tok, sizeof tok);
    wn += sizeof tok;
    uint32_t last = 0;
    for (size_t i = 0; i < nopts; i++) {
      uint8_t u[4];
      const uint8_t *v = val;
      uint32_t l = opts[i].len;
      if (l == UINT32_MAX) {
        l = (uint32_t)rc_opt_uint_encode(opts[i].uval, u);
        v = u;
      }
      wn += ref_opt(want + wn, opts[i].num - last, v, l);
      last = opts[i].num;
    }
    if (big)
      wn += ref_opt(want + wn, 0, val, 65804);
    want[wn++] = 0xff;
    memcpy(want + wn, pl, sizeof pl - 1);
    wn += sizeof pl - 1;
    size_t need = RC_ENC_HEADROOM + wn;
    size_t step = big ? 997 : 1; /* every size is slow with a 64 KiB value */
    for (size_t cap = 0;; cap += step) {
      if (cap > need)
        cap = need;
      uint8_t *buf = malloc(cap ? cap : 1);
      assert_non_null(buf);
      rc_enc e;
      rc_enc_init(&e, cap ? buf : NULL, cap, RC_CONTENT, tok, sizeof tok);
      for (size_t i = 0; i < nopts; i++) {
        rc_err r = opts[i].len == UINT32_MAX
                       ? rc_enc_opt_uint(&e, opts[i].num, opts[i].uval)
                       : rc_enc_opt(&e, opts[i].num, val, opts[i].len);
        assert_true(r == RC_OK || r == RC_ERR_NOBUF);
      }
      if (big)
        rc_enc_opt(&e, 65535, val, 65804);
      rc_enc_payload(&e, pl, sizeof pl - 1);
      assert_int_equal(rc_enc_needed(&e), need);
      const uint8_t *out;
      size_t n;
      rc_err r = rc_enc_finish(&e, RC_FRAMING_WS, 0, 0, &out, &n);
      if (cap < need) {
        assert_int_equal(r, RC_ERR_NOBUF);
      } else {
        assert_int_equal(r, RC_OK);
        assert_int_equal(n, 2 + wn);
        assert_int_equal(out[0], 8); /* WS: Len 0, TKL 8 */
        assert_int_equal(out[1], RC_CONTENT);
        assert_memory_equal(out + 2, want, wn);
      }
      free(buf);
      if (cap == need)
        break;
    }
    free(want);
  }
}

/* The sticky errors close the encoder to options on both paths; a payload
 * closes it with RC_ERR_STATE. */
static void test_enc_closed(void **state) {
  (void)state;
  uint8_t buf[256];
  rc_enc e;
  rc_enc_init(&e, buf, sizeof buf, RC_GET, NULL, 0);
  assert_int_equal(rc_enc_opt_uint(&e, 12, 50), RC_OK);
  assert_int_equal(rc_enc_opt_uint(&e, 11, 1), RC_ERR_OPT_ORDER);
  assert_int_equal(rc_enc_opt_uint(&e, 60, 1), RC_ERR_OPT_ORDER);
  assert_int_equal(rc_enc_opt(&e, 60, "x", 1), RC_ERR_OPT_ORDER);
  rc_enc_init(&e, buf, sizeof buf, RC_GET, NULL, 0);
  assert_int_equal(rc_enc_opt(&e, 11, NULL, 3), RC_ERR_INVAL);
  assert_int_equal(rc_enc_opt(&e, 11, "abc", 3), RC_ERR_INVAL);
  rc_enc_init(&e, buf, sizeof buf, RC_GET, NULL, 0);
  assert_int_equal(rc_enc_payload(&e, "p", 1), RC_OK);
  assert_int_equal(rc_enc_opt(&e, 11, "abc", 3), RC_ERR_STATE);
  rc_enc_init(&e, buf, sizeof buf, RC_GET, NULL, 0);
  assert_int_equal(rc_enc_payload(&e, "p", 1), RC_OK);
  assert_int_equal(rc_enc_opt_uint(&e, 12, 0), RC_ERR_STATE);
  uint8_t big[70000];
  rc_enc_init(&e, big, sizeof big, RC_GET, NULL, 0);
  assert_int_equal(rc_enc_opt(&e, 11, big, 65805), RC_ERR_INVAL);
  assert_int_equal(rc_enc_opt_uint(&e, 12, 0), RC_ERR_INVAL);
}

static void test_sort(void **state) {
  (void)state;
  rc_opt o[] = {{11, 1, (const uint8_t *)"b"}, {3, 1, (const uint8_t *)"h"},
                {11, 1, (const uint8_t *)"c"}, {60, 0, NULL},
                {1, 0, NULL},                  {11, 1, (const uint8_t *)"a"},
                {3, 1, (const uint8_t *)"i"}};
  rc_opts_sort(o, 7);
  static const uint16_t nums[] = {1, 3, 3, 11, 11, 11, 60};
  for (int i = 0; i < 7; i++)
    assert_int_equal(o[i].num, nums[i]);
  /* equal numbers kept in their original order */
  assert_int_equal(o[1].val[0], 'h');
  assert_int_equal(o[2].val[0], 'i');
  assert_int_equal(o[3].val[0], 'b');
  assert_int_equal(o[4].val[0], 'c');
  assert_int_equal(o[5].val[0], 'a');
  rc_opts_sort(o, 0);
  rc_opts_sort(NULL, 0);
}

static void test_registry(void **state) {
  (void)state;
  static const struct {
    uint16_t num;
    const char *name;
    uint8_t format, rep;
    uint16_t lo, hi;
  } want[] = {
      {1, "If-Match", RC_OPTF_OPAQUE, 1, 0, 8},
      {3, "Uri-Host", RC_OPTF_STRING, 0, 1, 255},
      {4, "ETag", RC_OPTF_OPAQUE, 1, 1, 8},
      {5, "If-None-Match", RC_OPTF_EMPTY, 0, 0, 0},
      {6, "Observe", RC_OPTF_UINT, 0, 0, 3},
      {7, "Uri-Port", RC_OPTF_UINT, 0, 0, 2},
      {8, "Location-Path", RC_OPTF_STRING, 1, 0, 255},
      {9, "OSCORE", RC_OPTF_OPAQUE, 0, 0, 255},
      {11, "Uri-Path", RC_OPTF_STRING, 1, 0, 255},
      {12, "Content-Format", RC_OPTF_UINT, 0, 0, 2},
      {14, "Max-Age", RC_OPTF_UINT, 0, 0, 4},
      {15, "Uri-Query", RC_OPTF_STRING, 1, 0, 255},
      {16, "Hop-Limit", RC_OPTF_UINT, 0, 1, 1},
      {17, "Accept", RC_OPTF_UINT, 0, 0, 2},
      {19, "Q-Block1", RC_OPTF_UINT, 0, 0, 3},
      {20, "Location-Query", RC_OPTF_STRING, 1, 0, 255},
      {23, "Block2", RC_OPTF_UINT, 0, 0, 3},
      {27, "Block1", RC_OPTF_UINT, 0, 0, 3},
      {28, "Size2", RC_OPTF_UINT, 0, 0, 4},
      {31, "Q-Block2", RC_OPTF_UINT, 1, 0, 3},
      {35, "Proxy-Uri", RC_OPTF_STRING, 0, 1, 1034},
      {39, "Proxy-Scheme", RC_OPTF_STRING, 0, 1, 255},
      {60, "Size1", RC_OPTF_UINT, 0, 0, 4},
      {252, "Echo", RC_OPTF_OPAQUE, 0, 1, 40},
      {258, "No-Response", RC_OPTF_UINT, 0, 0, 1},
      {292, "Request-Tag", RC_OPTF_OPAQUE, 1, 0, 8},
  };
  size_t known = 0;
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    const rc_opt_def *d = rc_opt_lookup(RC_GET, want[i].num);
    assert_non_null(d);
    assert_int_equal(d->num, want[i].num);
    assert_string_equal(d->name, want[i].name);
    assert_int_equal(d->format, want[i].format);
    assert_int_equal(d->repeatable, want[i].rep);
    assert_int_equal(d->min_len, want[i].lo);
    assert_int_equal(d->max_len, want[i].hi);
    /* same table for responses */
    assert_ptr_equal(rc_opt_lookup(RC_CONTENT, want[i].num), d);
  }
  for (uint32_t n = 0; n <= 65535; n++)
    known += rc_opt_lookup(RC_GET, (uint16_t)n) != NULL;
  assert_int_equal(known, sizeof(want) / sizeof(want[0]));

  /* RFC 8323 §5: number 2 means something different per signaling code */
  const rc_opt_def *d = rc_opt_lookup(RC_SIG_CSM, 2);
  assert_string_equal(d->name, "Max-Message-Size");
  assert_int_equal(d->format, RC_OPTF_UINT);
  assert_int_equal(d->max_len, 4);
  d = rc_opt_lookup(RC_SIG_CSM, 4);
  assert_string_equal(d->name, "Block-Wise-Transfer");
  assert_int_equal(d->format, RC_OPTF_EMPTY);
  d = rc_opt_lookup(RC_SIG_CSM, 6);
  assert_string_equal(d->name, "Extended-Token-Length");
  assert_int_equal(d->max_len, 3);
  assert_string_equal(rc_opt_lookup(RC_SIG_PING, 2)->name, "Custody");
  assert_string_equal(rc_opt_lookup(RC_SIG_PONG, 2)->name, "Custody");
  d = rc_opt_lookup(RC_SIG_RELEASE, 2);
  assert_string_equal(d->name, "Alternative-Address");
  assert_int_equal(d->repeatable, 1);
  assert_int_equal(d->min_len, 1);
  assert_int_equal(d->max_len, 255);
  d = rc_opt_lookup(RC_SIG_RELEASE, 4);
  assert_string_equal(d->name, "Hold-Off");
  assert_int_equal(d->max_len, 3);
  d = rc_opt_lookup(RC_SIG_ABORT, 2);
  assert_string_equal(d->name, "Bad-CSM-Option");
  assert_int_equal(d->max_len, 2);
  assert_null(rc_opt_lookup(RC_SIG_CSM, 11));
  assert_null(rc_opt_lookup(RC_SIG_PING, 4));
  assert_null(rc_opt_lookup(RC_SIG_ABORT, 4));
  assert_null(rc_opt_lookup(RC_CODE(7, 6), 2));
  assert_null(rc_opt_lookup(RC_GET, 2));
}

static void test_check(void **state) {
  (void)state;
  rc_opt o = {RC_OPT_CONTENT_FORMAT, 2, BYTES(1, 0)};
  assert_int_equal(rc_opt_check(RC_CONTENT, &o), RC_OK);
  o.len = 3;
  o.val = BYTES(0, 1, 0);
  assert_int_equal(rc_opt_check(RC_CONTENT, &o), RC_ERR_OPT_FORMAT);
  o = (rc_opt){RC_OPT_URI_HOST, 0, NULL};
  assert_int_equal(rc_opt_check(RC_GET, &o), RC_ERR_OPT_FORMAT);
  o = (rc_opt){RC_OPT_IF_NONE_MATCH, 1, BYTES(0)};
  assert_int_equal(rc_opt_check(RC_PUT, &o), RC_ERR_OPT_FORMAT);
  o = (rc_opt){RC_OPT_ETAG, 9, BYTES(1, 2, 3, 4, 5, 6, 7, 8, 9)};
  assert_int_equal(rc_opt_check(RC_GET, &o), RC_ERR_OPT_FORMAT);
  o.len = 8;
  assert_int_equal(rc_opt_check(RC_GET, &o), RC_OK);
  o = (rc_opt){RC_OPT_HOP_LIMIT, 0, NULL};
  assert_int_equal(rc_opt_check(RC_GET, &o), RC_ERR_OPT_FORMAT);
  /* unknown options pass */
  o = (rc_opt){2000, 9, BYTES(1, 2, 3, 4, 5, 6, 7, 8, 9)};
  assert_int_equal(rc_opt_check(RC_GET, &o), RC_OK);
  /* per-code: option 2 empty is fine in a Pong (Custody), a 5-byte
   * Max-Message-Size is not fine in a CSM, a 3-byte Bad-CSM-Option neither */
  o = (rc_opt){2, 0, NULL};
  assert_int_equal(rc_opt_check(RC_SIG_PONG, &o), RC_OK);
  o = (rc_opt){2, 1, BYTES(1)};
  assert_int_equal(rc_opt_check(RC_SIG_PONG, &o), RC_ERR_OPT_FORMAT);
  o = (rc_opt){2, 5, BYTES(0, 0, 0, 4, 0)};
  assert_int_equal(rc_opt_check(RC_SIG_CSM, &o), RC_ERR_OPT_FORMAT);
  o = (rc_opt){2, 3, BYTES(0, 0, 2)};
  assert_int_equal(rc_opt_check(RC_SIG_ABORT, &o), RC_ERR_OPT_FORMAT);
  o = (rc_opt){2, 0, NULL};
  assert_int_equal(rc_opt_check(RC_SIG_RELEASE, &o), RC_ERR_OPT_FORMAT);
}

static void test_props(void **state) {
  (void)state;
  /* RFC 7252 §5.4.6 examples: Uri-Host critical+unsafe? 3 = 0b11 */
  assert_true(rc_opt_is_critical(RC_OPT_URI_HOST));
  assert_true(rc_opt_is_unsafe(RC_OPT_URI_HOST));
  assert_false(rc_opt_is_critical(RC_OPT_ETAG));
  assert_true(rc_opt_is_no_cache_key(RC_OPT_SIZE1));
  assert_false(rc_opt_is_no_cache_key(RC_OPT_CONTENT_FORMAT));
}

static void test_content_format(void **state) {
  (void)state;
  assert_int_equal(rc_content_format_by_name("text/plain;charset=utf-8"), 0);
  assert_int_equal(rc_content_format_by_name("text/plain; charset=utf-8"), 0);
  assert_int_equal(rc_content_format_by_name("TEXT/Plain; Charset=UTF-8"), 0);
  assert_int_equal(rc_content_format_by_name("text"), 0);
  assert_int_equal(rc_content_format_by_name("json"), 50);
  assert_int_equal(rc_content_format_by_name("application/json"), 50);
  assert_int_equal(rc_content_format_by_name("cbor"), 60);
  assert_int_equal(rc_content_format_by_name("link"), 40);
  assert_int_equal(rc_content_format_by_name("octet"), 42);
  assert_int_equal(rc_content_format_by_name("xml"), 41);
  assert_int_equal(rc_content_format_by_name("application/senml+cbor"), 112);
  assert_int_equal(rc_content_format_by_name("application/coap-group+json"),
                   256);
  assert_int_equal(rc_content_format_by_name("application/cbor-seq"), 63);
  assert_int_equal(rc_content_format_by_name("11542"), 11542);
  assert_int_equal(rc_content_format_by_name("0"), 0);
  assert_int_equal(rc_content_format_by_name("65536"), -1);
  assert_int_equal(rc_content_format_by_name("application/nonsense"), -1);
  assert_int_equal(rc_content_format_by_name(""), -1);
  assert_int_equal(rc_content_format_by_name(NULL), -1);
  assert_string_equal(rc_content_format_name(0), "text/plain; charset=utf-8");
  assert_string_equal(rc_content_format_name(40), "application/link-format");
  assert_string_equal(rc_content_format_name(42), "application/octet-stream");
  assert_string_equal(rc_content_format_name(47), "application/exi");
  assert_string_equal(rc_content_format_name(51),
                      "application/json-patch+json");
  assert_string_equal(rc_content_format_name(52),
                      "application/merge-patch+json");
  assert_string_equal(rc_content_format_name(61), "application/cwt");
  assert_string_equal(rc_content_format_name(62), "application/multipart-core");
  assert_string_equal(rc_content_format_name(110), "application/senml+json");
  assert_string_equal(rc_content_format_name(115), "application/sensml-exi");
  assert_null(rc_content_format_name(1));
  /* every canonical name maps back to its number */
  for (uint32_t cf = 0; cf <= 65535; cf++) {
    const char *n = rc_content_format_name(cf);
    if (n)
      assert_int_equal(rc_content_format_by_name(n), (int)cf);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ext_boundaries),
      cmocka_unit_test(test_scan_errors),
      cmocka_unit_test(test_scan_prefixes),
      cmocka_unit_test(test_find_count),
      cmocka_unit_test(test_uint),
      cmocka_unit_test(test_enc_every_capacity),
      cmocka_unit_test(test_enc_closed),
      cmocka_unit_test(test_sort),
      cmocka_unit_test(test_registry),
      cmocka_unit_test(test_check),
      cmocka_unit_test(test_props),
      cmocka_unit_test(test_content_format),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
