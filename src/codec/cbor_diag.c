/*
 * CBOR to diagnostic notation (RFC 8949 §8): a recursive descent over the
 * input that writes into the caller's buffer. Each item's head is the
 * major type in the top three bits and the additional information in the
 * low five (RFC 8949 §3): 0..23 the value itself, 24..27 a 1, 2, 4 or 8
 * byte argument, 31 an indefinite length (types 2..5) or the break (7).
 */
#include <math.h> /* isnan, isinf: macros, no libm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcoap/codec_cbor.h"

typedef struct cd {
  const uint8_t *p, *end;
  char *out;
  size_t len, cap;
  rc_err err;
} cd;

static void put(cd *c, const char *s, size_t n) {
  if (c->err)
    return;
  if (c->cap - c->len <= n) {
    c->err = RC_ERR_NOBUF;
    return;
  }
  memcpy(c->out + c->len, s, n);
  c->len += n;
  c->out[c->len] = 0;
}

static void puts_(cd *c, const char *s) { put(c, s, strlen(s)); }

/* Reads a head: major type, additional info, argument. */
static int head(cd *c, int *major, int *ai, uint64_t *arg) {
  if (c->p >= c->end) {
    c->err = RC_ERR_TRUNCATED;
    return -1;
  }
  uint8_t b = *c->p++;
  *major = b >> 5;
  *ai = b & 31;
  *arg = (uint64_t)*ai;
  if (*ai < 24 || *ai == 31)
    return 0;
  if (*ai > 27) {
    /* RFC 8949 §3: 28..30 are reserved, not well-formed. */
    c->err = RC_ERR_INVAL;
    return -1;
  }
  size_t n = (size_t)1 << (*ai - 24);
  if ((size_t)(c->end - c->p) < n) {
    c->err = RC_ERR_TRUNCATED;
    return -1;
  }
  *arg = 0;
  for (size_t i = 0; i < n; i++)
    *arg = *arg << 8 | *c->p++;
  return 0;
}

static void put_float(cd *c, double v) {
  char buf[40];
  if (isnan(v)) {
    puts_(c, "NaN");
    return;
  }
  if (isinf(v)) {
    puts_(c, v < 0 ? "-Infinity" : "Infinity");
    return;
  }
  /* Whole numbers as 100000.0 (RFC 8949 Appendix A), the rest as the
   * shortest text that reads back as the same double. */
  if (v > -1e16 && v < 1e16 && v == (double)(long long)v) {
    snprintf(buf, sizeof buf, "%.1f", v);
    puts_(c, buf);
    return;
  }
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (strtod(buf, NULL) == v)
      break;
  }
  puts_(c, buf);
  if (!strpbrk(buf, ".en"))
    puts_(c, ".0");
}

/* RFC 8949 Appendix D, without libm: the half's bits moved into a
 * float's (exponent bias 15 -> 127), subnormals scaled by 2^-24. */
static double half(uint16_t h) {
  uint32_t e = (h >> 10) & 31, m = h & 1023, bits;
  double v;
  if (e == 0) {
    v = (double)m / 16777216.0;
  } else {
    bits = e == 31 ? 0x7f800000u | m << 13 : (e + 112) << 23 | m << 13;
    float f;
    memcpy(&f, &bits, sizeof f);
    v = f;
  }
  return h & 0x8000 ? -v : v;
}

static void put_bytes(cd *c, const uint8_t *d, size_t n) {
  static const char hex[] = "0123456789abcdef";
  puts_(c, "h'");
  for (size_t i = 0; i < n && !c->err; i++) {
    char two[2] = {hex[d[i] >> 4], hex[d[i] & 15]};
    put(c, two, 2);
  }
  puts_(c, "'");
}

static void put_text(cd *c, const uint8_t *d, size_t n) {
  puts_(c, "\"");
  for (size_t i = 0; i < n && !c->err; i++) {
    char e[8];
    if (d[i] == '"' || d[i] == '\\') {
      e[0] = '\\';
      e[1] = (char)d[i];
      put(c, e, 2);
    } else if (d[i] < 0x20 || d[i] == 0x7f) {
      snprintf(e, sizeof e, "\\u%04x", d[i]);
      puts_(c, e);
    } else {
      put(c, (const char *)&d[i], 1);
    }
  }
  puts_(c, "\"");
}

static void item(cd *c, int depth);

/* A definite string of type major and length n. */
static void string(cd *c, int major, uint64_t n) {
  if ((uint64_t)(c->end - c->p) < n) {
    c->err = RC_ERR_TRUNCATED;
    return;
  }
  if (major == 2)
    put_bytes(c, c->p, (size_t)n);
  else
    put_text(c, c->p, (size_t)n);
  c->p += n;
}

static int at_break(cd *c) {
  if (c->p >= c->end) {
    c->err = RC_ERR_TRUNCATED;
    return 1;
  }
  if (*c->p == 0xff) {
    c->p++;
    return 1;
  }
  return 0;
}

static void container(cd *c, int major, int ai, uint64_t n, int depth) {
  int indef = ai == 31;
  puts_(c, major == 4 ? "[" : "{");
  if (indef)
    puts_(c, "_ ");
  for (uint64_t i = 0; !c->err; i++) {
    if (indef ? at_break(c) : i == n)
      break;
    if (i)
      puts_(c, ", ");
    item(c, depth + 1);
    if (major == 5) {
      puts_(c, ": ");
      item(c, depth + 1);
    }
  }
  puts_(c, major == 4 ? "]" : "}");
}

static void simple(cd *c, int ai, uint64_t arg) {
  char buf[24];
  switch (ai) {
  case 25:
    put_float(c, half((uint16_t)arg));
    return;
  case 26: {
    uint32_t u = (uint32_t)arg;
    float f;
    memcpy(&f, &u, sizeof f);
    put_float(c, f);
    return;
  }
  case 27: {
    double d;
    memcpy(&d, &arg, sizeof d);
    put_float(c, d);
    return;
  }
  case 31:
    c->err = RC_ERR_INVAL; /* a break outside an indefinite item */
    return;
  default:
    break;
  }
  switch (arg) {
  case 20:
    puts_(c, "false");
    return;
  case 21:
    puts_(c, "true");
    return;
  case 22:
    puts_(c, "null");
    return;
  case 23:
    puts_(c, "undefined");
    return;
  default:
    snprintf(buf, sizeof buf, "simple(%u)", (unsigned)arg);
    puts_(c, buf);
  }
}

static void item(cd *c, int depth) {
  int major, ai;
  uint64_t arg;
  char buf[32];
  if (depth > RC_CBOR_DIAG_DEPTH) {
    c->err = RC_ERR_LIMIT;
    return;
  }
  if (c->err || head(c, &major, &ai, &arg) != 0)
    return;
  if (ai == 31 && (major < 2 || major == 6)) {
    c->err = RC_ERR_INVAL;
    return;
  }
  switch (major) {
  case 0:
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)arg);
    puts_(c, buf);
    break;
  case 1:
    if (arg == UINT64_MAX)
      puts_(c, "-18446744073709551616");
    else {
      snprintf(buf, sizeof buf, "-%llu", (unsigned long long)arg + 1);
      puts_(c, buf);
    }
    break;
  case 2:
  case 3:
    if (ai != 31) {
      string(c, major, arg);
      break;
    }
    /* Indefinite: definite chunks of the same type up to the break
     * (RFC 8949 §3.2.3). */
    puts_(c, "(_ ");
    for (int i = 0; !c->err && !at_break(c); i++) {
      int cm, cai;
      uint64_t n;
      if (head(c, &cm, &cai, &n) != 0)
        break;
      if (cm != major || cai == 31) {
        c->err = RC_ERR_INVAL;
        break;
      }
      if (i)
        puts_(c, ", ");
      string(c, major, n);
    }
    puts_(c, ")");
    break;
  case 4:
  case 5:
    container(c, major, ai, arg, depth);
    break;
  case 6:
    snprintf(buf, sizeof buf, "%llu(", (unsigned long long)arg);
    puts_(c, buf);
    item(c, depth + 1);
    puts_(c, ")");
    break;
  default:
    simple(c, ai, arg);
    break;
  }
}

rc_err rc_cbor_diag(const uint8_t *in, size_t len, char *out, size_t cap,
                    size_t *out_len) {
  if ((!in && len) || !out || !cap)
    return RC_ERR_INVAL;
  cd c = {in, in + len, out, 0, cap, RC_OK};
  out[0] = 0;
  item(&c, 0);
  if (!c.err && c.p != c.end)
    c.err = RC_ERR_TRAILING_BYTES;
  if (out_len)
    *out_len = c.len;
  return c.err;
}
