/*
 * Tests for src/codec/uri.c: parsing of every CoAP scheme, the RFC 7252
 * §6.6 equivalence examples, the RFC 7252 Appendix B and RFC 8323 §8.3/8.4
 * decomposition examples, IPv6 literals with zones, dot-segment removal,
 * every error with its own code, every prefix of valid URIs parsed from an
 * exact-size heap copy (so ASan sees any over-read), buffer-size reporting
 * of decomposition and composition, composition from a parsed message, and
 * a seeded round trip options -> compose -> parse -> options over thousands
 * of random requests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcoap/codec_msg.h"
#include "rcoap/codec_option.h"
#include "rcoap/codec_uri.h"

/* An expected option: number and value as a C string (with explicit
 * length for values holding NUL or when -1 means strlen). */
typedef struct xopt {
  uint16_t num;
  const char *val;
  int len;
} xopt;

#define XO(n, v) {(n), (v), -1}
#define XEND {0, NULL, 0}

/* Parses s (from an exact-size heap copy), decomposes it with flags and
 * checks the options against want (terminated by XEND). */
static void check_opts(const char *s, unsigned flags, const xopt *want) {
  size_t len = strlen(s);
  char *copy = malloc(len ? len : 1);
  assert_non_null(copy);
  memcpy(copy, s, len);
  rc_uri u;
  assert_int_equal(rc_uri_parse(copy, len, &u), RC_OK);
  rc_opt opts[32];
  uint8_t scratch[1024];
  size_t n = 0, used = 0;
  assert_int_equal(rc_uri_to_opts(&u, flags, opts, 32, &n, scratch,
                                  RC_URI_SCRATCH_MAX(len), &used),
                   RC_OK);
  size_t k = 0;
  for (; want[k].val != NULL; k++) {
    assert_true(k < n);
    size_t wl = want[k].len < 0 ? strlen(want[k].val) : (size_t)want[k].len;
    if (opts[k].num != want[k].num || opts[k].len != wl ||
        memcmp(opts[k].val, want[k].val, wl) != 0)
      fail_msg("%s: option %zu is %u '%.*s', want %u '%s'", s, k,
               opts[k].num, (int)opts[k].len, (const char *)opts[k].val,
               want[k].num, want[k].val);
  }
  assert_int_equal(n, k);
  free(copy);
}

static void expect_err(const char *s, size_t len, rc_err want) {
  char *copy = malloc(len ? len : 1);
  assert_non_null(copy);
  memcpy(copy, s, len);
  rc_uri u;
  rc_err got = rc_uri_parse(copy, len, &u);
  if (got != want)
    fail_msg("'%.*s': got %s, want %s", (int)len, s, rc_err_name(got),
             rc_err_name(want));
  free(copy);
}
#define EXPECT_ERR(s, e) expect_err((s), strlen(s), (e))

static rc_uri parse_ok(const char *s) {
  rc_uri u;
  rc_err e = rc_uri_parse(s, strlen(s), &u);
  if (e != RC_OK)
    fail_msg("'%s': %s", s, rc_err_name(e));
  return u;
}

static void view_eq(const char *v, size_t n, const char *want) {
  if (want == NULL) {
    assert_null(v);
    return;
  }
  assert_int_equal(n, strlen(want));
  assert_memory_equal(v, want, n);
}

/* ------------------------------------------------------------------ */

static void test_schemes(void **state) {
  (void)state;
  static const struct {
    const char *uri;
    rc_scheme scheme;
    uint16_t port;
    uint8_t secure, udp, tcp, ws, wr;
  } v[] = {
      {"coap://h", RC_SCHEME_COAP, 5683, 0, 1, 0, 0, 0},
      {"coaps://h", RC_SCHEME_COAPS, 5684, 1, 1, 0, 0, 0},
      {"coap+tcp://h", RC_SCHEME_COAP_TCP, 5683, 0, 0, 1, 0, 0},
      {"coaps+tcp://h", RC_SCHEME_COAPS_TCP, 5684, 1, 0, 1, 0, 0},
      {"coap+ws://h", RC_SCHEME_COAP_WS, 80, 0, 0, 0, 1, 0},
      {"coaps+ws://h", RC_SCHEME_COAPS_WS, 443, 1, 0, 0, 1, 0},
      {"coap+wss://h", RC_SCHEME_COAPS_WS, 443, 1, 0, 0, 1, 0},
      {"coaps+wr://h", RC_SCHEME_COAPS_WR, 0, 1, 0, 0, 0, 1},
      {"COAP+TCP://h", RC_SCHEME_COAP_TCP, 5683, 0, 0, 1, 0, 0},
      {"CoAPs+Ws://h", RC_SCHEME_COAPS_WS, 443, 1, 0, 0, 1, 0},
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    rc_uri u = parse_ok(v[i].uri);
    assert_int_equal(u.scheme, v[i].scheme);
    assert_int_equal(u.port, v[i].port);
    assert_int_equal(u.port_explicit, 0);
    assert_int_equal(u.is_secure, v[i].secure);
    assert_int_equal(u.is_udp, v[i].udp);
    assert_int_equal(u.is_tcp, v[i].tcp);
    assert_int_equal(u.is_ws, v[i].ws);
    assert_int_equal(u.is_wr, v[i].wr);
    assert_int_equal(rc_scheme_default_port(u.scheme), v[i].port);
    view_eq(u.host, u.host_len, "h");
    assert_int_equal(u.path_len, 0);
    assert_int_equal(u.has_query, 0);
  }
  assert_string_equal(rc_scheme_name(RC_SCHEME_COAPS_WS), "coaps+ws");
  assert_null(rc_scheme_name((rc_scheme)99));
  assert_int_equal(rc_scheme_from_name("COAP+WSS", 8), RC_SCHEME_COAPS_WS);
  assert_int_equal(rc_scheme_from_name("coap+", 5), RC_ERR_BAD_SCHEME);
}

static void test_views(void **state) {
  (void)state;
  rc_uri u = parse_ok("coap+tcp://Example.ORG:61616/a/%62?x=1&y");
  view_eq(u.host, u.host_len, "Example.ORG");
  view_eq(u.host_raw, u.host_raw_len, "Example.ORG");
  assert_int_equal(u.host_is_literal, 0);
  assert_int_equal(u.port, 61616);
  assert_int_equal(u.port_explicit, 1);
  view_eq(u.path, u.path_len, "/a/%62");
  assert_int_equal(u.has_query, 1);
  view_eq(u.query, u.query_len, "x=1&y");

  u = parse_ok("coap://192.0.2.1:/");
  assert_int_equal(u.host_is_literal, 1);
  assert_int_equal(u.host_is_ipv6, 0);
  assert_int_equal(u.port, 5683); /* empty port: default */
  assert_int_equal(u.port_explicit, 0);
  view_eq(u.path, u.path_len, "/");

  /* not dec-octets: a reg-name per RFC 3986 §3.2.2 */
  u = parse_ok("coap://192.0.2.01/");
  assert_int_equal(u.host_is_literal, 0);
  u = parse_ok("coap://256.1.1.1/");
  assert_int_equal(u.host_is_literal, 0);
  u = parse_ok("coap://1.2.3/");
  assert_int_equal(u.host_is_literal, 0);

  u = parse_ok("coap+tcp://[::1]:5683/x");
  assert_int_equal(u.host_is_literal, 1);
  assert_int_equal(u.host_is_ipv6, 1);
  view_eq(u.host, u.host_len, "::1");
  view_eq(u.host_raw, u.host_raw_len, "[::1]");
  assert_null(u.zone);
  assert_int_equal(u.port, 5683);
  assert_int_equal(u.port_explicit, 1);

  u = parse_ok("coap://[fe80::1%25eth0]:7000");
  view_eq(u.host, u.host_len, "fe80::1");
  view_eq(u.zone, u.zone_len, "eth0");
  assert_int_equal(u.port, 7000);
  u = parse_ok("coap://[fe80::a%25en%301]");
  view_eq(u.zone, u.zone_len, "en%301");

  static const char *const good6[] = {
      "[::]", "[1:2:3:4:5:6:7:8]", "[1::8]", "[1:2:3:4:5:6:7::]",
      "[::2:3:4:5:6:7:8]", "[::ffff:192.0.2.1]", "[1:2:3:4:5:6:1.2.3.4]",
      "[2001:DB8::2:1]", "[1::]"};
  for (size_t i = 0; i < sizeof good6 / sizeof good6[0]; i++) {
    char b[64];
    snprintf(b, sizeof b, "coap://%s/", good6[i]);
    u = parse_ok(b);
    assert_int_equal(u.host_is_ipv6, 1);
  }

  u = parse_ok("coap://h?");
  assert_int_equal(u.has_query, 1);
  assert_int_equal(u.query_len, 0);
  u = parse_ok("coap://h/p?a/b?c:@!$'()*+,;=");
  view_eq(u.query, u.query_len, "a/b?c:@!$'()*+,;=");
}

static void test_errors(void **state) {
  (void)state;
  /* RFC 7252 §6.4 step 1: not an absolute URI */
  EXPECT_ERR("", RC_ERR_BAD_URI);
  EXPECT_ERR("/sensors/temp", RC_ERR_BAD_URI);
  EXPECT_ERR("//example.org/x", RC_ERR_BAD_URI);
  EXPECT_ERR("sensors", RC_ERR_BAD_URI);
  EXPECT_ERR("1coap://h/", RC_ERR_BAD_URI);
  EXPECT_ERR("coap", RC_ERR_BAD_URI);
  EXPECT_ERR("coap:h/x", RC_ERR_BAD_URI);
  EXPECT_ERR("coap:/h/x", RC_ERR_BAD_URI);
  EXPECT_ERR("coap:", RC_ERR_BAD_URI);
  EXPECT_ERR("coap://user@h/", RC_ERR_BAD_URI);
  EXPECT_ERR("coap://h/a b", RC_ERR_BAD_URI);
  EXPECT_ERR("coap://h/a<b>", RC_ERR_BAD_URI);
  EXPECT_ERR("coap://h/[x]", RC_ERR_BAD_URI);
  EXPECT_ERR("coap://h/?a b", RC_ERR_BAD_URI);
  EXPECT_ERR("coap://h/\xc3\xa9", RC_ERR_BAD_URI);
  expect_err("coap://h/a\0b", 11, RC_ERR_BAD_URI);
  /* step 3: not a CoAP scheme */
  EXPECT_ERR("http://h/", RC_ERR_BAD_SCHEME);
  EXPECT_ERR("coap+udp://h/", RC_ERR_BAD_SCHEME);
  EXPECT_ERR("coaps+wrx://h/", RC_ERR_BAD_SCHEME);
  EXPECT_ERR("urn:x", RC_ERR_BAD_SCHEME);
  /* step 4: fragment */
  EXPECT_ERR("coap://h/#frag", RC_ERR_URI_FRAGMENT);
  EXPECT_ERR("coap://h#", RC_ERR_URI_FRAGMENT);
  EXPECT_ERR("coap+ws://h/a?b#c", RC_ERR_URI_FRAGMENT);
  /* percent-encoding */
  EXPECT_ERR("coap://h/%zz", RC_ERR_BAD_PERCENT);
  EXPECT_ERR("coap://h/%4", RC_ERR_BAD_PERCENT);
  EXPECT_ERR("coap://h/%", RC_ERR_BAD_PERCENT);
  EXPECT_ERR("coap://h/?a=%g0", RC_ERR_BAD_PERCENT);
  EXPECT_ERR("coap://h%2/", RC_ERR_BAD_PERCENT);
  EXPECT_ERR("coap://[fe80::1%eth0]/", RC_ERR_BAD_PERCENT);
  EXPECT_ERR("coap://[fe80::1%25eth%0]/", RC_ERR_BAD_PERCENT);
  /* ports */
  EXPECT_ERR("coap://h:65536/", RC_ERR_BAD_PORT);
  EXPECT_ERR("coap://h:99999999999999999999/", RC_ERR_BAD_PORT);
  EXPECT_ERR("coap://h:0/", RC_ERR_BAD_PORT);
  EXPECT_ERR("coap://h:12a/", RC_ERR_BAD_PORT);
  EXPECT_ERR("coap://h:-1/", RC_ERR_BAD_PORT);
  EXPECT_ERR("coap://h:5683:1/", RC_ERR_BAD_PORT);
  EXPECT_ERR("coap://[::1]:x/", RC_ERR_BAD_PORT);
  /* draft-groves §6.1: "The port SHALL be omitted." */
  EXPECT_ERR("coaps+wr://peer:5684/x", RC_ERR_BAD_PORT);
  EXPECT_ERR("coaps+wr://peer:/x", RC_ERR_BAD_PORT);
  /* hosts */
  EXPECT_ERR("coap:///x", RC_ERR_BAD_HOST);
  EXPECT_ERR("coap://:5683/x", RC_ERR_BAD_HOST);
  EXPECT_ERR("coap://", RC_ERR_BAD_HOST);
  EXPECT_ERR("coap://[::1/x", RC_ERR_BAD_HOST);
  EXPECT_ERR("coap://[]/", RC_ERR_BAD_HOST);
  EXPECT_ERR("coap://[1:2:3]/", RC_ERR_BAD_HOST);
  EXPECT_ERR("coap://[1:2:3:4:5:6:7:8:9]/", RC_ERR_BAD_HOST);
  EXPECT_ERR("coap://[1::2::3]/", RC_ERR_BAD_HOST);
  EXPECT_ERR("coap://[12345::]/", RC_ERR_BAD_HOST);
  EXPECT_ERR("coap://[:1::]/", RC_ERR_BAD_HOST);
  EXPECT_ERR("coap://[1:]/", RC_ERR_BAD_HOST);
  EXPECT_ERR("coap://[::1.2.3.04]/", RC_ERR_BAD_HOST);
  EXPECT_ERR("coap://[1:2:3:4:5:6:7:1.2.3.4]/", RC_ERR_BAD_HOST);
  EXPECT_ERR("coap://[192.0.2.1]/", RC_ERR_BAD_HOST);
  EXPECT_ERR("coap://[v1.fe]/", RC_ERR_BAD_HOST);
  EXPECT_ERR("coap://[::1]x/", RC_ERR_BAD_HOST);
  EXPECT_ERR("coap://[fe80::1%25]/", RC_ERR_BAD_HOST);
  EXPECT_ERR("coap://[fe80::1%25a:b]/", RC_ERR_BAD_HOST);
  EXPECT_ERR("coap://a b/", RC_ERR_BAD_HOST);
  EXPECT_ERR("coap://a]b/", RC_ERR_BAD_HOST);
  EXPECT_ERR("coap://a\"b/", RC_ERR_BAD_HOST);

  rc_uri u;
  assert_int_equal(rc_uri_parse(NULL, 3, &u), RC_ERR_INVAL);
  assert_int_equal(rc_uri_parse("coap://h", 8, NULL), RC_ERR_INVAL);
}

/* RFC 7252 §6.6: three URIs that are equivalent. */
static void test_rfc7252_equivalence(void **state) {
  (void)state;
  static const xopt want[] = {XO(RC_OPT_URI_HOST, "example.com"),
                              XO(RC_OPT_URI_PATH, "~sensors"),
                              XO(RC_OPT_URI_PATH, "temp.xml"), XEND};
  check_opts("coap://example.com:5683/~sensors/temp.xml", 0, want);
  check_opts("coap://EXAMPLE.com/%7Esensors/temp.xml", 0, want);
  check_opts("coap://EXAMPLE.com:/%7esensors/temp.xml", 0, want);
  /* and they compose to one string */
  static const char *const in[] = {"coap://example.com:5683/~sensors/temp.xml",
                                   "coap://EXAMPLE.com/%7Esensors/temp.xml",
                                   "coap://EXAMPLE.com:/%7esensors/temp.xml"};
  for (size_t i = 0; i < 3; i++) {
    rc_uri u = parse_ok(in[i]);
    rc_opt o[8];
    uint8_t sc[64];
    size_t n = 0;
    assert_int_equal(rc_uri_to_opts(&u, 0, o, 8, &n, sc, sizeof sc, NULL),
                     RC_OK);
    char out[128];
    size_t ol;
    assert_int_equal(
        rc_uri_compose(RC_SCHEME_COAP, "192.0.2.1", 9, 5683, o, n, out,
                       sizeof out, &ol),
        RC_OK);
    assert_string_equal(out, "coap://example.com/~sensors/temp.xml");
    assert_int_equal(ol, strlen(out));
  }
}

/* RFC 7252 Appendix B: the URI examples. */
static void test_rfc7252_appendix_b(void **state) {
  (void)state;
  static const xopt none[] = {XEND};
  check_opts("coap://[2001:db8::2:1]/", 0, none);
  static const xopt net[] = {XO(RC_OPT_URI_HOST, "example.net"), XEND};
  check_opts("coap://example.net/", 0, net);
  static const xopt core[] = {XO(RC_OPT_URI_HOST, "example.net"),
                              XO(RC_OPT_URI_PATH, ".well-known"),
                              XO(RC_OPT_URI_PATH, "core"), XEND};
  check_opts("coap://example.net/.well-known/core", 0, core);
  static const xopt jp[] = {
      XO(RC_OPT_URI_HOST, "xn--18j4d.example"),
      XO(RC_OPT_URI_PATH,
         "\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf"),
      XEND};
  check_opts("coap://xn--18j4d.example/"
             "%E3%81%93%E3%82%93%E3%81%AB%E3%81%A1%E3%81%AF",
             0, jp);
  /* Destination port 61616 = the URI's port: no Uri-Port (step 7). */
  static const xopt odd[] = {XO(RC_OPT_URI_PATH, ""),
                             XO(RC_OPT_URI_PATH, "/"),
                             XO(RC_OPT_URI_PATH, ""),
                             XO(RC_OPT_URI_PATH, ""),
                             XO(RC_OPT_URI_QUERY, "//"),
                             XO(RC_OPT_URI_QUERY, "?&"), XEND};
  check_opts("coap://198.51.100.1:61616//%2F//?%2F%2F&?%26", RC_URI_OMIT_PORT,
             odd);
  /* By default a non-default port gives Uri-Port (2 bytes, 0xF0B0). */
  static const xopt odd_port[] = {{RC_OPT_URI_PORT, "\xf0\xb0", 2},
                                  XO(RC_OPT_URI_PATH, ""),
                                  XO(RC_OPT_URI_PATH, "/"),
                                  XO(RC_OPT_URI_PATH, ""),
                                  XO(RC_OPT_URI_PATH, ""),
                                  XO(RC_OPT_URI_QUERY, "//"),
                                  XO(RC_OPT_URI_QUERY, "?&"),
                                  XEND};
  check_opts("coap://198.51.100.1:61616//%2F//?%2F%2F&?%26", 0, odd_port);

  /* Composition of the last one, from the destination and the options. */
  rc_uri u = parse_ok("coap://198.51.100.1:61616//%2F//?%2F%2F&?%26");
  rc_opt o[8];
  uint8_t sc[64];
  size_t n = 0;
  assert_int_equal(
      rc_uri_to_opts(&u, RC_URI_OMIT_PORT, o, 8, &n, sc, sizeof sc, NULL),
      RC_OK);
  char out[128];
  size_t ol;
  assert_int_equal(rc_uri_compose(RC_SCHEME_COAP, "198.51.100.1", 12, 61616,
                                  o, n, out, sizeof out, &ol),
                   RC_OK);
  assert_string_equal(out, "coap://198.51.100.1:61616//%2F//?//&?%26");
  /* And an IPv6 destination without options. */
  assert_int_equal(rc_uri_compose(RC_SCHEME_COAP, "2001:DB8::2:1", 13, 5683,
                                  NULL, 0, out, sizeof out, &ol),
                   RC_OK);
  assert_string_equal(out, "coap://[2001:db8::2:1]/");
}

/* RFC 8323 §8.3 and §8.4 figures. */
static void test_rfc8323_ws_examples(void **state) {
  (void)state;
  static const xopt want[] = {XO(RC_OPT_URI_HOST, "example.org"),
                              XO(RC_OPT_URI_PATH, "sensors"),
                              XO(RC_OPT_URI_PATH, "temperature"),
                              XO(RC_OPT_URI_QUERY, "u=Cel"), XEND};
  check_opts("coap+ws://example.org/sensors/temperature?u=Cel", 0, want);
  check_opts("coaps+ws://example.org/sensors/temperature?u=Cel", 0, want);
  /* The WebSocket endpoint is the authority + /.well-known/coap. */
  rc_uri u = parse_ok("coap+ws://example.org/sensors/temperature?u=Cel");
  assert_int_equal(u.port, 80);
  view_eq(u.host_raw, u.host_raw_len, "example.org");
  assert_string_equal(RC_URI_WS_PATH, "/.well-known/coap");

  rc_opt o[8];
  uint8_t sc[64];
  size_t n = 0;
  assert_int_equal(rc_uri_to_opts(&u, 0, o, 8, &n, sc, sizeof sc, NULL),
                   RC_OK);
  char out[128];
  size_t ol;
  assert_int_equal(rc_uri_compose(RC_SCHEME_COAP_WS, "192.0.2.7", 9, 80, o,
                                  n, out, sizeof out, &ol),
                   RC_OK);
  assert_string_equal(out, "coap+ws://example.org/sensors/temperature?u=Cel");
  assert_int_equal(rc_uri_compose(RC_SCHEME_COAPS_WS, "192.0.2.7", 9, 443, o,
                                  n, out, sizeof out, &ol),
                   RC_OK);
  assert_string_equal(out, "coaps+ws://example.org/sensors/temperature?u=Cel");
  /* ws on 443 is not the default: the port is written */
  assert_int_equal(rc_uri_compose(RC_SCHEME_COAP_WS, "192.0.2.7", 9, 443, o,
                                  n, out, sizeof out, &ol),
                   RC_OK);
  assert_string_equal(out,
                      "coap+ws://example.org:443/sensors/temperature?u=Cel");

  /* RFC 8323 §10.2 (example 2) Proxy-Uri value parses. */
  u = parse_ok("coap://[2001:db8::1]/");
  assert_int_equal(u.host_is_ipv6, 1);
}

static void test_ipv6_and_ports(void **state) {
  (void)state;
  static const xopt x[] = {XO(RC_OPT_URI_PATH, "x"), XEND};
  check_opts("coap+tcp://[::1]:5683/x", 0, x);
  static const xopt xport[] = {{RC_OPT_URI_PORT, "\x16\x33", 2},
                               XO(RC_OPT_URI_PATH, "x"), XEND};
  check_opts("coap+tcp://[::1]:5683/x", RC_URI_FORCE_PORT, xport);
  static const xopt xhost[] = {XO(RC_OPT_URI_HOST, "[::1]"),
                               XO(RC_OPT_URI_PATH, "x"), XEND};
  check_opts("coap+tcp://[::1]/x", RC_URI_FORCE_HOST, xhost);
  static const xopt zhost[] = {XO(RC_OPT_URI_HOST, "[fe80::1%eth0]"), XEND};
  check_opts("coap://[FE80::1%25eth0]", RC_URI_FORCE_HOST, zhost);
  static const xopt p80[] = {XO(RC_OPT_URI_PORT, "\x50"), XEND};
  check_opts("coaps+tcp://192.0.2.1:80", 0, p80);
  static const xopt none[] = {XEND};
  check_opts("coaps+tcp://192.0.2.1:5684", 0, none);
  check_opts("coap://example.org:1234/", RC_URI_OMIT_HOST | RC_URI_OMIT_PORT,
             none);
  static const xopt wr[] = {XO(RC_OPT_URI_HOST, "peer"),
                            XO(RC_OPT_URI_PATH, "a"), XEND};
  check_opts("coaps+wr://peer/a", RC_URI_FORCE_PORT, wr);

  char out[128];
  size_t ol;
  static const struct {
    rc_scheme s;
    const char *host;
    uint16_t port;
    const char *want;
  } c[] = {
      {RC_SCHEME_COAP_TCP, "::1", 5683, "coap+tcp://[::1]/"},
      {RC_SCHEME_COAP_TCP, "[::1]", 5684, "coap+tcp://[::1]:5684/"},
      {RC_SCHEME_COAPS_TCP, "::1", 5684, "coaps+tcp://[::1]/"},
      {RC_SCHEME_COAPS_TCP, "::1", 0, "coaps+tcp://[::1]/"},
      {RC_SCHEME_COAP, "fe80::1%eth0", 5683, "coap://[fe80::1%25eth0]/"},
      {RC_SCHEME_COAP, "[fe80::1%25eth0]", 1, "coap://[fe80::1%25eth0]:1/"},
      {RC_SCHEME_COAP, "fe80::1%a b", 5683, "coap://[fe80::1%25a%20b]/"},
      {RC_SCHEME_COAPS_WR, "peer", 9999, "coaps+wr://peer/"},
      {RC_SCHEME_COAP, "a:b", 5683, "coap://a%3Ab/"},
      {RC_SCHEME_COAP, "EXAMPLE.org", 65535, "coap://EXAMPLE.org:65535/"},
  };
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    assert_int_equal(rc_uri_compose(c[i].s, c[i].host, strlen(c[i].host),
                                    c[i].port, NULL, 0, out, sizeof out, &ol),
                     RC_OK);
    assert_string_equal(out, c[i].want);
  }
  /* Bad destinations and options. */
  assert_int_equal(rc_uri_compose(RC_SCHEME_COAP, "[::1", 4, 0, NULL, 0, out,
                                  sizeof out, &ol),
                   RC_ERR_BAD_HOST);
  assert_int_equal(rc_uri_compose(RC_SCHEME_COAP, "[1:2]", 5, 0, NULL, 0, out,
                                  sizeof out, &ol),
                   RC_ERR_BAD_HOST);
  assert_int_equal(rc_uri_compose(RC_SCHEME_COAP, "[fe80::1%]", 10, 0, NULL,
                                  0, out, sizeof out, &ol),
                   RC_ERR_BAD_HOST);
  assert_int_equal(rc_uri_compose(RC_SCHEME_COAP, "fe80::1%", 8, 0, NULL, 0,
                                  out, sizeof out, &ol),
                   RC_OK); /* not an IPv6 literal with a zone: a name */
  assert_string_equal(out, "coap://fe80%3A%3A1%25/");
  /* a Uri-Host holding a decoded zone (RFC 7252 §6.4 step 5) */
  assert_int_equal(rc_uri_compose(RC_SCHEME_COAP, "[fe80::1%eth0]", 14, 0,
                                  NULL, 0, out, sizeof out, &ol),
                   RC_OK);
  assert_string_equal(out, "coap://[fe80::1%25eth0]/");
  rc_uri zu = parse_ok("coap://[fe80::1%25eth0]/");
  rc_opt zo[2];
  uint8_t zsc[32];
  size_t zn = 0;
  assert_int_equal(rc_uri_to_opts(&zu, RC_URI_FORCE_HOST, zo, 2, &zn, zsc,
                                  sizeof zsc, NULL),
                   RC_OK);
  assert_int_equal(rc_uri_compose(RC_SCHEME_COAP, "::2", 3, 0, zo, zn, out,
                                  sizeof out, &ol),
                   RC_OK);
  assert_string_equal(out, "coap://[fe80::1%25eth0]/");
  assert_int_equal(
      rc_uri_compose(RC_SCHEME_COAP, NULL, 0, 0, NULL, 0, out, sizeof out, &ol),
      RC_ERR_INVAL);
  assert_int_equal(rc_uri_compose((rc_scheme)42, "h", 1, 0, NULL, 0, out,
                                  sizeof out, &ol),
                   RC_ERR_INVAL);
  rc_opt port0 = {RC_OPT_URI_PORT, 0, NULL};
  assert_int_equal(rc_uri_compose(RC_SCHEME_COAP, "h", 1, 0, &port0, 1, out,
                                  sizeof out, &ol),
                   RC_ERR_BAD_PORT);
  rc_opt port3 = {RC_OPT_URI_PORT, 3, (const uint8_t *)"\x01\x00\x00"};
  assert_int_equal(rc_uri_compose(RC_SCHEME_COAP, "h", 1, 0, &port3, 1, out,
                                  sizeof out, &ol),
                   RC_ERR_OPT_FORMAT);
  rc_opt hosts[2] = {{RC_OPT_URI_HOST, 0, (const uint8_t *)""},
                     {RC_OPT_URI_HOST, 1, (const uint8_t *)"x"}};
  assert_int_equal(rc_uri_compose(RC_SCHEME_COAP, "h", 1, 0, hosts, 2, out,
                                  sizeof out, &ol),
                   RC_ERR_BAD_HOST);
  /* Uri-Host/Uri-Port options win over the destination */
  rc_opt hp[2] = {{RC_OPT_URI_HOST, 8, (const uint8_t *)"ex\xc3\xa9.com"},
                  {RC_OPT_URI_PORT, 1, (const uint8_t *)"\x07"}};
  assert_int_equal(rc_uri_compose(RC_SCHEME_COAP, "::1", 3, 0, hp, 2, out,
                                  sizeof out, &ol),
                   RC_OK);
  assert_string_equal(out, "coap://ex%C3%A9.com:7/");
}

static void test_dot_segments(void **state) {
  (void)state;
  static const xopt ac[] = {XO(RC_OPT_URI_PATH, "a"),
                            XO(RC_OPT_URI_PATH, "c"), XEND};
  check_opts("coap://[::1]/a/b/../c", 0, ac);
  check_opts("coap://[::1]/../a/./c", 0, ac);
  check_opts("coap://[::1]/a/b/x/../../c", 0, ac);
  check_opts("coap://[::1]/a/../../a/c", 0, ac);
  static const xopt ab_[] = {XO(RC_OPT_URI_PATH, "a"),
                             XO(RC_OPT_URI_PATH, "b"),
                             XO(RC_OPT_URI_PATH, ""), XEND};
  check_opts("coap://[::1]/a/./b/.", 0, ab_);
  check_opts("coap://[::1]/a/b/c/..", 0, ab_);
  check_opts("coap://[::1]/a/b/", 0, ab_);
  static const xopt none[] = {XEND};
  check_opts("coap://[::1]/..", 0, none);
  check_opts("coap://[::1]/.", 0, none);
  check_opts("coap://[::1]/a/..", 0, none);
  check_opts("coap://[::1]/./", 0, none);
  check_opts("coap://[::1]", 0, none);
  check_opts("coap://[::1]/", 0, none);
  static const xopt two_empty[] = {XO(RC_OPT_URI_PATH, ""),
                                   XO(RC_OPT_URI_PATH, ""), XEND};
  check_opts("coap://[::1]//", 0, two_empty);
  static const xopt a_[] = {XO(RC_OPT_URI_PATH, "a"),
                            XO(RC_OPT_URI_PATH, ""), XEND};
  check_opts("coap://[::1]/a//..", 0, a_); /* RFC 3986 §5.2.4 gives "/a/" */
  /* Percent-encoded dots are data, not dot segments, and compose back as
   * percent-encodings. */
  static const xopt dd[] = {XO(RC_OPT_URI_PATH, ".."),
                            XO(RC_OPT_URI_PATH, "."),
                            XO(RC_OPT_URI_PATH, "x"), XEND};
  check_opts("coap://[::1]/%2E%2E/%2e/x", 0, dd);
  rc_opt o[3] = {{RC_OPT_URI_PATH, 2, (const uint8_t *)".."},
                 {RC_OPT_URI_PATH, 1, (const uint8_t *)"."},
                 {RC_OPT_URI_PATH, 1, (const uint8_t *)"x"}};
  char out[64];
  size_t ol;
  assert_int_equal(
      rc_uri_compose(RC_SCHEME_COAP, "::1", 3, 0, o, 3, out, sizeof out, &ol),
      RC_OK);
  assert_string_equal(out, "coap://[::1]/%2E%2E/%2E/x");
  /* Queries are not paths: no dot removal. */
  static const xopt q[] = {XO(RC_OPT_URI_QUERY, ".."),
                           XO(RC_OPT_URI_QUERY, ""), XEND};
  check_opts("coap://[::1]?..&", 0, q);
  static const xopt q1[] = {XO(RC_OPT_URI_QUERY, ""), XEND};
  check_opts("coap://[::1]/?", 0, q1);
}

static void test_composition_encoding(void **state) {
  (void)state;
  rc_opt o[5] = {
      {RC_OPT_URI_PATH, 7, (const uint8_t *)"a/b?c#d"},
      {RC_OPT_URI_PATH, 10, (const uint8_t *)":@!$&'()*+"},
      {RC_OPT_URI_PATH, 6, (const uint8_t *)",;= %~"},
      {RC_OPT_URI_QUERY, 9, (const uint8_t *)"k=v&w/x?y"},
      {RC_OPT_URI_QUERY, 5, (const uint8_t *)"\x00\xff#[]"},
  };
  char out[256];
  size_t ol;
  assert_int_equal(rc_uri_compose(RC_SCHEME_COAP_TCP, "10.0.0.1", 8, 5683, o,
                                  5, out, sizeof out, &ol),
                   RC_OK);
  assert_string_equal(out, "coap+tcp://10.0.0.1/a%2Fb%3Fc%23d/:@!$&'()*+/"
                           ",;=%20%25~?k=v%26w/x?y&%00%FF%23%5B%5D");
  /* and it decomposes back to the same options */
  rc_uri u = parse_ok(out);
  rc_opt back[8];
  uint8_t sc[256];
  size_t n = 0;
  assert_int_equal(rc_uri_to_opts(&u, 0, back, 8, &n, sc, sizeof sc, NULL),
                   RC_OK);
  assert_int_equal(n, 5);
  for (size_t i = 0; i < 5; i++) {
    assert_int_equal(back[i].num, o[i].num);
    assert_int_equal(back[i].len, o[i].len);
    assert_memory_equal(back[i].val, o[i].val, o[i].len);
  }
}

static void test_sizes(void **state) {
  (void)state;
  const char *s = "coap+tcp://Example.org:9/a/b%2Fc?x&y=1";
  rc_uri u = parse_ok(s);
  rc_opt o[8];
  uint8_t sc[64];
  /* count needed */
  size_t n = 0, used = 0;
  assert_int_equal(rc_uri_to_opts(&u, 0, o, 2, &n, sc, sizeof sc, &used),
                   RC_ERR_NOBUF);
  assert_int_equal(n, 6);
  assert_int_equal(used, 11 + 1 + 1 + 3 + 1 + 3);
  /* scratch needed: every size below fails, the exact size works */
  for (size_t cap = 0; cap < 20; cap++) {
    n = 0;
    assert_int_equal(rc_uri_to_opts(&u, 0, o, 8, &n, sc, cap, &used),
                     RC_ERR_NOBUF);
    assert_int_equal(used, 20);
  }
  n = 0;
  assert_int_equal(rc_uri_to_opts(&u, 0, o, 6, &n, sc, 20, &used), RC_OK);
  assert_int_equal(n, 6);
  assert_int_equal(used, 20);
  assert_true(RC_URI_SCRATCH_MAX(strlen(s)) >= used);

  /* appending to options already there, then sorted (stable) */
  rc_opt mixed[10] = {
      {RC_OPT_ACCEPT, 1, (const uint8_t *)"\x28"},
      {RC_OPT_IF_MATCH, 1, (const uint8_t *)"\x01"},
      {RC_OPT_CONTENT_FORMAT, 0, NULL},
  };
  n = 3;
  assert_int_equal(rc_uri_to_opts(&u, 0, mixed, 10, &n, sc, 20, NULL), RC_OK);
  assert_int_equal(n, 9);
  static const uint16_t nums[] = {1, 3, 7, 11, 11, 12, 15, 15, 17};
  for (size_t i = 0; i < 9; i++)
    assert_int_equal(mixed[i].num, nums[i]);
  assert_memory_equal(mixed[3].val, "a", 1);
  assert_memory_equal(mixed[4].val, "b/c", 3);
  assert_memory_equal(mixed[6].val, "x", 1);
  assert_memory_equal(mixed[7].val, "y=1", 3);
  /* when short, the options given stay intact */
  n = 3;
  mixed[0].num = RC_OPT_ACCEPT;
  assert_int_equal(rc_uri_to_opts(&u, 0, mixed, 5, &n, sc, 20, NULL),
                   RC_ERR_NOBUF);
  assert_int_equal(n, 9);

  /* nothing to store: opts and scratch may be NULL; empty values need no
   * scratch */
  rc_uri lit = parse_ok("coap://[::1]/");
  n = 0;
  assert_int_equal(rc_uri_to_opts(&lit, 0, NULL, 0, &n, NULL, 0, &used),
                   RC_OK);
  assert_int_equal(n, 0);
  assert_int_equal(used, 0);
  lit = parse_ok("coap://[::1]//?");
  assert_int_equal(rc_uri_to_opts(&lit, 0, o, 8, &n, NULL, 0, &used), RC_OK);
  assert_int_equal(n, 3);
  assert_int_equal(used, 0);
  assert_int_equal(o[2].num, RC_OPT_URI_QUERY);
  assert_int_equal(o[2].len, 0);

  /* flags in conflict, bad arguments */
  n = 0;
  assert_int_equal(rc_uri_to_opts(&u, RC_URI_OMIT_HOST | RC_URI_FORCE_HOST, o,
                                  8, &n, sc, 64, NULL),
                   RC_ERR_INVAL);
  assert_int_equal(rc_uri_to_opts(&u, RC_URI_OMIT_PORT | RC_URI_FORCE_PORT, o,
                                  8, &n, sc, 64, NULL),
                   RC_ERR_INVAL);
  n = 9;
  assert_int_equal(rc_uri_to_opts(&u, 0, o, 8, &n, sc, 64, NULL),
                   RC_ERR_INVAL);

  /* compose: every short buffer reports the same need */
  n = 0;
  assert_int_equal(rc_uri_to_opts(&u, 0, o, 8, &n, sc, 64, NULL), RC_OK);
  char full[64];
  size_t want;
  assert_int_equal(rc_uri_compose(RC_SCHEME_COAP_TCP, "1.2.3.4", 7, 5683, o,
                                  n, full, sizeof full, &want),
                   RC_OK);
  assert_string_equal(full, "coap+tcp://example.org:9/a/b%2Fc?x&y=1");
  for (size_t cap = 0; cap <= want; cap++) {
    char *b = malloc(cap ? cap : 1);
    size_t ol = 0;
    assert_int_equal(rc_uri_compose(RC_SCHEME_COAP_TCP, "1.2.3.4", 7, 5683, o,
                                    n, cap ? b : NULL, cap, &ol),
                     RC_ERR_NOBUF);
    assert_int_equal(ol, want + 1);
    free(b);
  }
  char *b = malloc(want + 1);
  size_t ol = 0;
  assert_int_equal(rc_uri_compose(RC_SCHEME_COAP_TCP, "1.2.3.4", 7, 5683, o,
                                  n, b, want + 1, &ol),
                   RC_OK);
  assert_int_equal(ol, want);
  assert_string_equal(b, full);
  free(b);
}

static void test_limits(void **state) {
  (void)state;
  char s[1200];
  /* a 255-byte segment is fine, 256 is too long (RFC 7252 §5.10) */
  for (size_t seg = 255; seg <= 256; seg++) {
    int k = snprintf(s, sizeof s, "coap://h/");
    memset(s + k, 'a', seg);
    s[k + seg] = 0;
    rc_uri u = parse_ok(s);
    rc_opt o[4];
    uint8_t sc[600];
    size_t n = 0;
    assert_int_equal(rc_uri_to_opts(&u, 0, o, 4, &n, sc, sizeof sc, NULL),
                     seg == 255 ? RC_OK : RC_ERR_OPT_FORMAT);
  }
  /* the same for a query argument; %41 decodes to one byte */
  {
    int k = snprintf(s, sizeof s, "coap://h/?");
    for (int i = 0; i < 256; i++)
      k += snprintf(s + k, sizeof s - (size_t)k, "%%41");
    rc_uri u = parse_ok(s);
    rc_opt o[4];
    uint8_t sc[1200];
    size_t n = 0;
    assert_int_equal(rc_uri_to_opts(&u, 0, o, 4, &n, sc, sizeof sc, NULL),
                     RC_ERR_OPT_FORMAT);
  }
  /* Uri-Host: 255 fine, 256 too long */
  for (size_t hl = 255; hl <= 256; hl++) {
    int k = snprintf(s, sizeof s, "coap://");
    memset(s + k, 'h', hl);
    s[k + hl] = 0;
    rc_uri u = parse_ok(s);
    rc_opt o[4];
    uint8_t sc[600];
    size_t n = 0;
    assert_int_equal(rc_uri_to_opts(&u, 0, o, 4, &n, sc, sizeof sc, NULL),
                     hl == 255 ? RC_OK : RC_ERR_BAD_HOST);
    n = 0;
    assert_int_equal(
        rc_uri_to_opts(&u, RC_URI_OMIT_HOST, o, 4, &n, sc, sizeof sc, NULL),
        RC_OK);
  }
  /* a segment that is cancelled by ".." is not an option, so not too long */
  int k = snprintf(s, sizeof s, "coap://h/");
  memset(s + k, 'a', 300);
  snprintf(s + k + 300, sizeof s - (size_t)k - 300, "/../b");
  rc_uri u = parse_ok(s);
  rc_opt o[4];
  uint8_t sc[600];
  size_t n = 0;
  assert_int_equal(rc_uri_to_opts(&u, RC_URI_OMIT_HOST, o, 4, &n, sc,
                                  sizeof sc, NULL),
                   RC_OK);
  assert_int_equal(n, 1);
  assert_memory_equal(o[0].val, "b", 1);
}

/* Every prefix of valid URIs, from an exact-size heap copy: never reads
 * past the end, and the full string parses. */
static void test_prefixes(void **state) {
  (void)state;
  static const char *const v[] = {
      "coap+tcp://[fe80::1%25eth0]:5683/a/%2F/b?x=%20&y",
      "coaps+ws://Example.ORG:443/sensors/temperature?u=Cel",
      "coap://198.51.100.1:61616//%2F//?%2F%2F&?%26",
      "coap://[::ffff:192.0.2.1]/",
      "coaps+wr://peer.example/a/../b",
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    size_t len = strlen(v[i]);
    for (size_t cut = 0; cut <= len; cut++) {
      char *b = malloc(cut ? cut : 1);
      memcpy(b, v[i], cut);
      rc_uri u;
      rc_err e = rc_uri_parse(b, cut, &u);
      if (e == RC_OK) {
        rc_opt o[16];
        uint8_t sc[128];
        size_t n = 0;
        rc_err d = rc_uri_to_opts(&u, 0, o, 16, &n, sc,
                                  RC_URI_SCRATCH_MAX(cut), NULL);
        assert_true(d == RC_OK);
      } else {
        assert_true(e < 0);
      }
      if (cut == len)
        assert_int_equal(e, RC_OK);
      free(b);
    }
  }
}

/* Composition from a parsed message (rc_msg). */
static void test_compose_msg(void **state) {
  (void)state;
  uint8_t buf[128];
  rc_enc e;
  rc_enc_init(&e, buf, sizeof buf, RC_GET, (const uint8_t *)"\x53", 1);
  assert_int_equal(rc_enc_opt_str(&e, RC_OPT_URI_HOST, "example.org"), RC_OK);
  assert_int_equal(rc_enc_opt_str(&e, RC_OPT_URI_PATH, "sensors"), RC_OK);
  assert_int_equal(rc_enc_opt_str(&e, RC_OPT_URI_PATH, "temperature"), RC_OK);
  assert_int_equal(rc_enc_opt_uint(&e, RC_OPT_CONTENT_FORMAT, 0), RC_OK);
  assert_int_equal(rc_enc_opt_str(&e, RC_OPT_URI_QUERY, "u=Cel"), RC_OK);
  const uint8_t *wire;
  size_t wl;
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_WS, 0, 0, &wire, &wl), RC_OK);
  rc_msg m;
  assert_int_equal(rc_msg_parse(RC_FRAMING_WS, wire, wl, &m), RC_OK);
  char out[128];
  size_t ol;
  assert_int_equal(rc_uri_compose_msg(RC_SCHEME_COAP_WS, "192.0.2.1", 9, 80,
                                      &m, out, sizeof out, &ol),
                   RC_OK);
  assert_string_equal(out, "coap+ws://example.org/sensors/temperature?u=Cel");
  assert_int_equal(rc_uri_compose_msg(RC_SCHEME_COAP_WS, "h", 1, 80, NULL, out,
                                      sizeof out, &ol),
                   RC_ERR_INVAL);
}

/* ------------------------------------------------------------------ */
/* Seeded round trip                                                   */

typedef struct rng {
  uint64_t s;
} rng;
static uint64_t rnext(rng *r) {
  r->s ^= r->s >> 12;
  r->s ^= r->s << 25;
  r->s ^= r->s >> 27;
  return r->s * 0x2545F4914F6CDD1Dull;
}
static uint32_t rbelow(rng *r, uint32_t n) { return (uint32_t)(rnext(r) % n); }

/* A random byte, biased to the characters that need care. */
static uint8_t rbyte(rng *r) {
  static const char tricky[] = "/?&#%.=:@!$'()*+,;[] ~-_aZ09";
  switch (rbelow(r, 4)) {
  case 0: return (uint8_t)rnext(r);
  case 1: return (uint8_t)tricky[rbelow(r, sizeof tricky - 1)];
  default: return (uint8_t)('a' + rbelow(r, 26));
  }
}

static void test_round_trip(void **state) {
  (void)state;
  rng r = {0x9e3779b97f4a7c15ull};
  static uint8_t vals[4096];
  for (int iter = 0; iter < 4000; iter++) {
    rc_opt in[16];
    size_t nin = 0, vp = 0;
    rc_scheme sch = (rc_scheme)rbelow(&r, RC_SCHEME_COUNT);
    /* destination: IPv4, IPv6 or a name given as Uri-Host */
    char dest[64];
    uint16_t port = (uint16_t)(rbelow(&r, 3) == 0 ? 1 + rbelow(&r, 65535)
                                                  : rc_scheme_default_port(sch));
    int kind = (int)rbelow(&r, 3);
    if (kind == 0)
      snprintf(dest, sizeof dest, "%u.%u.%u.%u", rbelow(&r, 256),
               rbelow(&r, 256), rbelow(&r, 256), rbelow(&r, 256));
    else if (kind == 1)
      snprintf(dest, sizeof dest, "2001:db8::%x:%x", rbelow(&r, 65536),
               rbelow(&r, 65536));
    else {
      snprintf(dest, sizeof dest, "192.0.2.1");
      size_t hl = 1 + rbelow(&r, 20);
      for (size_t i = 0; i < hl; i++) {
        uint8_t c = rbyte(&r);
        if (c >= 'A' && c <= 'Z')
          c = (uint8_t)(c + 32); /* Uri-Host comes back lower-cased */
        vals[vp + i] = c;
      }
      /* a value that looks like an IPv6 address would be bracketed */
      if (memchr(vals + vp, ':', hl) || vals[vp] == '[')
        vals[vp] = 'x';
      in[nin++] = (rc_opt){RC_OPT_URI_HOST, (uint32_t)hl, vals + vp};
      vp += hl;
    }
    if (sch == RC_SCHEME_COAPS_WR)
      port = 0;
    uint8_t pv[2];
    if (sch != RC_SCHEME_COAPS_WR && port != rc_scheme_default_port(sch)) {
      size_t pl = port > 255 ? 2 : 1;
      pv[0] = (uint8_t)(pl == 2 ? port >> 8 : port);
      pv[1] = (uint8_t)port;
      memcpy(vals + vp, pv, pl);
      in[nin++] = (rc_opt){RC_OPT_URI_PORT, (uint32_t)pl, vals + vp};
      vp += pl;
    }
    size_t nseg = rbelow(&r, 5);
    for (size_t k = 0; k < nseg; k++) {
      size_t sl = rbelow(&r, 4) == 0 ? 0 : 1 + rbelow(&r, 12);
      for (size_t i = 0; i < sl; i++)
        vals[vp + i] = rbyte(&r);
      in[nin++] = (rc_opt){RC_OPT_URI_PATH, (uint32_t)sl, vals + vp};
      vp += sl;
    }
    /* a single empty Uri-Path is "/", the same as none */
    if (nseg == 1 && in[nin - 1].len == 0)
      nin--;
    size_t nq = rbelow(&r, 4);
    for (size_t k = 0; k < nq; k++) {
      size_t ql = rbelow(&r, 10);
      for (size_t i = 0; i < ql; i++)
        vals[vp + i] = rbyte(&r);
      in[nin++] = (rc_opt){RC_OPT_URI_QUERY, (uint32_t)ql, vals + vp};
      vp += ql;
    }

    char s1[1024], s2[1024];
    size_t l1, l2;
    assert_int_equal(rc_uri_compose(sch, dest, strlen(dest), port, in, nin, s1,
                                    sizeof s1, &l1),
                     RC_OK);
    rc_uri u;
    rc_err pe = rc_uri_parse(s1, l1, &u);
    if (pe != RC_OK)
      fail_msg("iter %d: '%s' does not parse: %s", iter, s1, rc_err_name(pe));
    assert_int_equal(u.scheme, sch);
    rc_opt back[16];
    uint8_t sc[1024];
    size_t nb = 0;
    assert_int_equal(rc_uri_to_opts(&u, 0, back, 16, &nb, sc,
                                    RC_URI_SCRATCH_MAX(l1), NULL),
                     RC_OK);
    if (nb != nin)
      fail_msg("iter %d: '%s' gives %zu options, want %zu", iter, s1, nb, nin);
    for (size_t i = 0; i < nin; i++) {
      assert_int_equal(back[i].num, in[i].num);
      assert_int_equal(back[i].len, in[i].len);
      if (in[i].len)
        assert_memory_equal(back[i].val, in[i].val, in[i].len);
    }
    /* composing again gives the same (normalized) string */
    assert_int_equal(rc_uri_compose(sch, dest, strlen(dest), port, back, nb,
                                    s2, sizeof s2, &l2),
                     RC_OK);
    assert_string_equal(s1, s2);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_schemes),
      cmocka_unit_test(test_views),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_rfc7252_equivalence),
      cmocka_unit_test(test_rfc7252_appendix_b),
      cmocka_unit_test(test_rfc8323_ws_examples),
      cmocka_unit_test(test_ipv6_and_ports),
      cmocka_unit_test(test_dot_segments),
      cmocka_unit_test(test_composition_encoding),
      cmocka_unit_test(test_sizes),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_prefixes),
      cmocka_unit_test(test_compose_msg),
      cmocka_unit_test(test_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
