/*
 * Tests for src/codec/link.c: the RFC 6690 §5 examples and a real
 * /.well-known/core from libcoap's coap-server (4.3.1) parsed link by link
 * and attribute by attribute, quoted strings holding ',' ';' and escapes,
 * the §4.1 filter (names, '*' prefixes, href, space-separated lists, flags)
 * checked against what coap-server itself answered to the same queries,
 * every malformed input with RC_ERR_BAD_LINK, the whitespace rules (strict
 * by default, RC_LINK_LENIENT), every prefix of the inputs parsed from an
 * exact-size heap copy, and the writer: exact output, size reporting at
 * every capacity, state and argument errors, and parse -> write -> equal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcoap/codec_link.h"

/* GET coap+tcp://127.0.0.1:15999/.well-known/core against
 * coap-server-notls 4.3.1 (Debian 12), captured while writing this test. */
static const char libcoap_core[] =
    "</>;title=\"General Info\";ct=0,</time>;if=\"clock\";rt=\"ticks\";"
    "title=\"Internal Clock\";ct=0;obs,</async>;ct=0,</example_data>;"
    "title=\"Example Data\";ct=0;obs";

/* RFC 6690 §5 examples. */
static const char rfc_sensors[] =
    "</sensors/temp>;if=\"sensor\",</sensors/light>;if=\"sensor\"";
static const char rfc_rt[] =
    "</sensors/temp>;rt=\"temperature-c\";if=\"sensor\","
    "</sensors/light>;rt=\"light-lux\";if=\"sensor\"";
static const char rfc_anchor[] =
    "</sensors>;ct=40;title=\"Sensor Index\","
    "</sensors/temp>;rt=\"temperature-c\";if=\"sensor\","
    "</sensors/light>;rt=\"light-lux\";if=\"sensor\","
    "<http://www.example.com/sensors/t123>;anchor=\"/sensors/temp\""
    ";rel=\"describedby\","
    "</t>;anchor=\"/sensors/temp\";rel=\"alternate\"";
static const char rfc_firmware[] =
    "</firmware/v2.1>;rt=\"firmware\";sz=262144";

static int links_of(const char *s, unsigned flags, rc_link *out, int max) {
  rc_link_iter it;
  rc_link_iter_init(&it, s, strlen(s), flags);
  int n = 0, r;
  while ((r = rc_link_next(&it, &out[n < max ? n : max - 1])) == 1)
    n++;
  return r < 0 ? r : n;
}

static void target_is(const rc_link *l, const char *want) {
  assert_int_equal(l->target_len, strlen(want));
  assert_memory_equal(l->target, want, l->target_len);
}

static void attr_is(const rc_link *l, const char *name, const char *want) {
  rc_link_attr a;
  if (!rc_link_find_attr(l, name, strlen(name), &a))
    fail_msg("no attribute %s", name);
  if (want == NULL) {
    assert_int_equal(a.has_value, 0);
    assert_null(a.value);
    return;
  }
  if (!rc_link_attr_value_eq(&a, want, strlen(want)))
    fail_msg("%s is '%.*s', want '%s'", name, (int)a.value_len, a.value,
             want);
}

static void test_libcoap_core(void **state) {
  (void)state;
  rc_link l[8];
  assert_int_equal(links_of(libcoap_core, 0, l, 8), 4);
  target_is(&l[0], "/");
  target_is(&l[1], "/time");
  target_is(&l[2], "/async");
  target_is(&l[3], "/example_data");
  attr_is(&l[0], "title", "General Info");
  attr_is(&l[0], "ct", "0");
  attr_is(&l[1], "if", "clock");
  attr_is(&l[1], "rt", "ticks");
  attr_is(&l[1], "title", "Internal Clock");
  attr_is(&l[1], "obs", NULL);
  attr_is(&l[1], "RT", "ticks"); /* parameter names are case-insensitive */
  assert_int_equal(rc_link_find_attr(&l[2], "obs", 3, NULL), 0);

  /* attributes in order, with their kinds */
  static const struct {
    const char *name, *value;
    uint8_t has_value, quoted;
  } want[] = {{"if", "clock", 1, 1},
              {"rt", "ticks", 1, 1},
              {"title", "Internal Clock", 1, 1},
              {"ct", "0", 1, 0},
              {"obs", NULL, 0, 0}};
  rc_link_attr_iter it;
  rc_link_attr a;
  rc_link_attr_iter_init(&it, &l[1]);
  size_t k = 0;
  while (rc_link_attr_next(&it, &a)) {
    assert_true(k < 5);
    assert_int_equal(a.name_len, strlen(want[k].name));
    assert_memory_equal(a.name, want[k].name, a.name_len);
    assert_int_equal(a.has_value, want[k].has_value);
    assert_int_equal(a.quoted, want[k].quoted);
    if (want[k].value) {
      assert_int_equal(a.value_len, strlen(want[k].value));
      assert_memory_equal(a.value, want[k].value, a.value_len);
    }
    k++;
  }
  assert_int_equal(k, 5);
  assert_int_equal(rc_link_count(libcoap_core, strlen(libcoap_core), 0), 4);
}

/* Links of s matching the query q, as "target,target". */
static void filter(const char *s, const char *q, char *out, size_t cap) {
  rc_link l[16];
  int n = links_of(s, 0, l, 16);
  assert_true(n >= 0);
  out[0] = 0;
  size_t pos = 0;
  for (int i = 0; i < n; i++) {
    if (!rc_link_match_query(&l[i], q, strlen(q)))
      continue;
    int w = snprintf(out + pos, cap - pos, "%s%.*s", pos ? "," : "",
                     (int)l[i].target_len, l[i].target);
    assert_true(w > 0 && (size_t)w < cap - pos);
    pos += (size_t)w;
  }
}

#define EXPECT_FILTER(s, q, want)                                              \
  do {                                                                         \
    char got_[256];                                                            \
    filter((s), (q), got_, sizeof got_);                                       \
    if (strcmp(got_, (want)) != 0)                                             \
      fail_msg("?%s: got '%s', want '%s'", (q), got_, (want));                 \
  } while (0)

static void test_filter(void **state) {
  (void)state;
  /* What coap-server-notls 4.3.1 answered to the same queries: ?rt=ticks
   * gave </time>, ?href=/ex* gave </example_data>. */
  EXPECT_FILTER(libcoap_core, "rt=ticks", "/time");
  EXPECT_FILTER(libcoap_core, "href=/ex*", "/example_data");
  EXPECT_FILTER(libcoap_core, "href=/", "/");
  EXPECT_FILTER(libcoap_core, "href=/*", "/,/time,/async,/example_data");
  EXPECT_FILTER(libcoap_core, "href=/time", "/time");
  EXPECT_FILTER(libcoap_core, "href=/tim", "");
  EXPECT_FILTER(libcoap_core, "rt=tick*", "/time");
  EXPECT_FILTER(libcoap_core, "rt=tick", "");
  EXPECT_FILTER(libcoap_core, "rt=ticks*", "/time"); /* '*' matches "" too */
  EXPECT_FILTER(libcoap_core, "ct=0", "/,/time,/async,/example_data");
  EXPECT_FILTER(libcoap_core, "ct=40", "");
  EXPECT_FILTER(libcoap_core, "title=Internal Clock", "/time");
  EXPECT_FILTER(libcoap_core, "title=Internal*", "/time");
  EXPECT_FILTER(libcoap_core, "title=Clock", "");
  EXPECT_FILTER(libcoap_core, "obs", "/time,/example_data");
  EXPECT_FILTER(libcoap_core, "obs=*", "/time,/example_data");
  EXPECT_FILTER(libcoap_core, "obs=", "/time,/example_data");
  EXPECT_FILTER(libcoap_core, "obs=1", "");
  EXPECT_FILTER(libcoap_core, "title=*", "/,/time,/example_data");
  EXPECT_FILTER(libcoap_core, "TITLE=Example Data", "/example_data");
  EXPECT_FILTER(libcoap_core, "nope=*", "");
  /* RFC 6690 §5 examples */
  EXPECT_FILTER(rfc_sensors, "if=sensor", "/sensors/temp,/sensors/light");
  EXPECT_FILTER(rfc_rt, "rt=light-lux", "/sensors/light");
  EXPECT_FILTER(rfc_rt, "rt=temperature*", "/sensors/temp");
  EXPECT_FILTER(rfc_anchor, "rel=describedby",
                "http://www.example.com/sensors/t123");
  EXPECT_FILTER(rfc_anchor, "anchor=/sensors/temp",
                "http://www.example.com/sensors/t123,/t");
  EXPECT_FILTER(rfc_anchor, "ct=40", "/sensors");
  EXPECT_FILTER(rfc_firmware, "sz=262144", "/firmware/v2.1");
  /* space-separated lists (rt, if, rel, rev, ct) match any element */
  static const char lists[] =
      "</a>;rt=\"one two  three\";if=\"x y\",</b>;ct=\"0 40\";rel=\"next up\","
      "</c>;title=\"one two\",</d>;rt=one";
  EXPECT_FILTER(lists, "rt=two", "/a");
  EXPECT_FILTER(lists, "rt=thr*", "/a");
  EXPECT_FILTER(lists, "rt=one", "/a,/d");
  EXPECT_FILTER(lists, "rt=one two", "");
  EXPECT_FILTER(lists, "if=y", "/a");
  EXPECT_FILTER(lists, "ct=40", "/b");
  EXPECT_FILTER(lists, "rel=up", "/b");
  EXPECT_FILTER(lists, "title=two", "");
  EXPECT_FILTER(lists, "title=one two", "/c");
  /* a flag matched with a value (fuzz_link found NULL + 0 here) */
  EXPECT_FILTER("</>;title=\"General\";ct", "ct=0", "");
  EXPECT_FILTER("</>;ct;rt", "rt=*", "/");
  /* several attributes of one name: any */
  EXPECT_FILTER("</a>;rt=x;rt=y,</b>;rt=z", "rt=y", "/a");
  /* escapes are resolved before matching */
  EXPECT_FILTER("</a>;title=\"a\\\"b\"", "title=a\"b", "/a");
  EXPECT_FILTER("</a>;title=\"a\\\"b\"", "title=a\\*", "");

  rc_link l;
  rc_link_iter it;
  rc_link_iter_init(&it, rfc_rt, strlen(rfc_rt), 0);
  assert_int_equal(rc_link_next(&it, &l), 1);
  assert_int_equal(rc_link_match(&l, "rt", 2, NULL, 0), 1);
  assert_int_equal(rc_link_match(&l, "ct", 2, NULL, 0), 0);
  assert_int_equal(rc_link_match(&l, "href", 4, NULL, 0), 1);
  assert_int_equal(rc_link_match(NULL, "rt", 2, "x", 1), 0);
  assert_int_equal(rc_link_match_query(&l, NULL, 0), 0);
}

static void test_quoted(void **state) {
  (void)state;
  rc_link l[4];
  static const char s[] =
      "</a>;title=\"x, y; z\";rt=\"<b>\",</b>;title=\"say \\\"hi\\\" \\\\ ok\","
      "</c>;title=\"\";e=\"\\a\"";
  assert_int_equal(links_of(s, 0, l, 4), 3);
  attr_is(&l[0], "title", "x, y; z");
  attr_is(&l[0], "rt", "<b>");
  target_is(&l[1], "/b");
  attr_is(&l[1], "title", "say \"hi\" \\ ok");
  attr_is(&l[2], "title", "");
  attr_is(&l[2], "e", "a");
  rc_link_attr a;
  assert_int_equal(rc_link_find_attr(&l[1], "title", 5, &a), 1);
  assert_int_equal(a.escaped, 1);
  char buf[32];
  size_t n;
  assert_int_equal(rc_link_attr_unquote(&a, buf, sizeof buf, &n), RC_OK);
  assert_int_equal(n, 13);
  assert_memory_equal(buf, "say \"hi\" \\ ok", 13);
  assert_int_equal(rc_link_attr_unquote(&a, buf, 12, &n), RC_ERR_NOBUF);
  assert_int_equal(n, 13);
  assert_int_equal(rc_link_attr_unquote(&a, NULL, 0, &n), RC_ERR_NOBUF);
  assert_int_equal(n, 13);
  assert_int_equal(rc_link_attr_unquote(NULL, buf, 1, &n), RC_ERR_INVAL);
  assert_int_equal(rc_link_attr_value_eq(&a, "say \"hi\" \\ o", 12), 0);
  /* UTF-8 in quoted strings, empty and odd targets, ext-value names */
  static const char u[] = "<>;title=\"caf\xc3\xa9\",<coap://[::1]:5683/a?b=c>"
                          ";title*=UTF-8'de'n%c3%a4chstes;b!#$&+-.^_`|~=1";
  assert_int_equal(links_of(u, 0, l, 4), 2);
  target_is(&l[0], "");
  attr_is(&l[0], "title", "caf\xc3\xa9");
  target_is(&l[1], "coap://[::1]:5683/a?b=c");
  attr_is(&l[1], "title*", "UTF-8'de'n%c3%a4chstes");
  attr_is(&l[1], "b!#$&+-.^_`|~", "1");
}

static void test_malformed(void **state) {
  (void)state;
  static const char *const bad[] = {
      "<a",        "</a>;",          "</a>;=x",          "</a>;x=",
      "</a>;x=\"", "</a>;x=\"abc",   "</a>,",            ",</a>",
      "</a>,,</b>", "</a> ;x",       "</a>; x",          "</a>;x =1",
      "</a>;x= 1", "</a> ,</b>",     "</a>, </b>",       " </a>",
      "</a> ",     "</a>x",          "</a b>",           "/a",
      "</a>;x=a,b", "</a>;x=\"\x01\"", "</a>;x=\"\\",     "</a>;x=a b",
      "</a>;title=\"x\"y",           "</%zz>",           "</%4>",
      "</a>;x*y=1", "</a>;*=1",      "</a>;x=\"\\\xc3\"", "<\"a\">",
      "</a>;x=1;",  "</a>;;x",       "\n",               "</a>\n",
      "</a>;x=a\"b\"", "</a>;x=\"a\x7f\"", "</a<b>",    "</a>;x=\\",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    rc_link l[4];
    int r = links_of(bad[i], 0, l, 4);
    if (r != RC_ERR_BAD_LINK)
      fail_msg("'%s' gave %d, want RC_ERR_BAD_LINK", bad[i], r);
  }
  /* the error is sticky, links before it are returned */
  rc_link_iter it;
  rc_link l;
  rc_link_iter_init(&it, "</a>,</b>;;", 11, 0);
  assert_int_equal(rc_link_next(&it, &l), 1);
  assert_int_equal(rc_link_next(&it, &l), RC_ERR_BAD_LINK);
  assert_int_equal(rc_link_next(&it, &l), RC_ERR_BAD_LINK);
  rc_link_iter_init(&it, NULL, 3, 0);
  assert_int_equal(rc_link_next(&it, &l), RC_ERR_INVAL);
  /* empty payload: no links */
  rc_link_iter_init(&it, "", 0, 0);
  assert_int_equal(rc_link_next(&it, &l), 0);
  rc_link_iter_init(&it, NULL, 0, 0);
  assert_int_equal(rc_link_next(&it, &l), 0);
  assert_int_equal(rc_link_count("</a>;;", 6, 0), RC_ERR_BAD_LINK);
}

static void test_lenient(void **state) {
  (void)state;
  static const char s[] = " \r\n</a> ; x = 1 ;\tobs ,\n </b>;y=\"q, r\"\r\n";
  rc_link l[4];
  assert_int_equal(links_of(s, 0, l, 4), RC_ERR_BAD_LINK);
  assert_int_equal(links_of(s, RC_LINK_LENIENT, l, 4), 2);
  target_is(&l[0], "/a");
  attr_is(&l[0], "x", "1");
  attr_is(&l[0], "obs", NULL);
  target_is(&l[1], "/b");
  attr_is(&l[1], "y", "q, r");
  EXPECT_FILTER(rfc_rt, "rt=light-lux", "/sensors/light");
  /* whitespace is still not allowed inside targets, names and tokens */
  static const char *const bad[] = {"< /a>", "</a>;x y=1", "</a>;x=1 2",
                                    "</a> </b>", " , ", "</a>;x=\"\n\""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(links_of(bad[i], RC_LINK_LENIENT, l, 4),
                     RC_ERR_BAD_LINK);
  assert_int_equal(links_of("  \n", RC_LINK_LENIENT, l, 4), 0);
}

/* Walks everything the API offers over s[0..len). */
static void exercise(const char *s, size_t len, unsigned flags) {
  rc_link_iter it;
  rc_link l;
  rc_link_iter_init(&it, s, len, flags);
  int r, guard = 0;
  while ((r = rc_link_next(&it, &l)) == 1 && guard++ < 1000) {
    assert_true(l.target >= s && l.target + l.target_len <= s + len);
    rc_link_attr_iter ai;
    rc_link_attr a;
    rc_link_attr_iter_init(&ai, &l);
    while (rc_link_attr_next(&ai, &a)) {
      char buf[64];
      size_t n;
      rc_link_attr_unquote(&a, buf, sizeof buf, &n);
      assert_true(a.value == NULL ||
                  (a.value >= s && a.value + a.value_len <= s + len));
    }
    rc_link_match_query(&l, "rt=t*", 5);
    rc_link_match_query(&l, "href=/a", 7);
    rc_link_match_query(&l, "obs", 3);
  }
  assert_true(r == 0 || r == RC_ERR_BAD_LINK);
}

static void test_prefixes(void **state) {
  (void)state;
  const char *const v[] = {libcoap_core, rfc_anchor, rfc_firmware,
                           "</a>;title=\"x, \\\"y; z\";rt=\"a b\",<>"};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    size_t len = strlen(v[i]);
    for (size_t cut = 0; cut <= len; cut++) {
      char *b = malloc(cut ? cut : 1);
      memcpy(b, v[i], cut);
      exercise(b, cut, 0);
      exercise(b, cut, RC_LINK_LENIENT);
      free(b);
    }
    assert_true(rc_link_count(v[i], len, 0) > 0);
  }
}

/* Writes libcoap's /.well-known/core with the writer into cap bytes. */
static rc_err write_core(char *buf, size_t cap, size_t *len) {
  rc_link_writer w;
  rc_link_writer_init(&w, buf, cap);
  rc_link_begin(&w, "/", 1);
  rc_link_add_quoted(&w, "title", "General Info", 12);
  rc_link_add_uint(&w, "ct", 0);
  rc_link_end(&w);
  rc_link_begin(&w, "/time", 5);
  rc_link_add_quoted(&w, "if", "clock", 5);
  rc_link_add_quoted(&w, "rt", "ticks", 5);
  rc_link_add_quoted(&w, "title", "Internal Clock", 14);
  rc_link_add_token(&w, "ct", "0", 1);
  rc_link_add_flag(&w, "obs");
  rc_link_end(&w);
  rc_link_begin(&w, "/async", 6);
  rc_link_add_uint(&w, "ct", 0);
  rc_link_end(&w);
  rc_link_begin(&w, "/example_data", 13);
  rc_link_add_quoted(&w, "title", "Example Data", 12);
  rc_link_add_uint(&w, "ct", 0);
  rc_link_add_flag(&w, "obs");
  /* no rc_link_end: finish closes the link */
  return rc_link_writer_finish(&w, len);
}

static void test_writer(void **state) {
  (void)state;
  char buf[256];
  size_t len;
  assert_int_equal(write_core(buf, sizeof buf, &len), RC_OK);
  assert_int_equal(len, strlen(libcoap_core));
  assert_memory_equal(buf, libcoap_core, len);
  for (size_t cap = 0; cap < len; cap++) {
    char *b = malloc(cap ? cap : 1);
    size_t need = 0;
    assert_int_equal(write_core(cap ? b : NULL, cap, &need), RC_ERR_NOBUF);
    assert_int_equal(need, len);
    free(b);
  }
  char *exact = malloc(len);
  size_t got;
  assert_int_equal(write_core(exact, len, &got), RC_OK);
  assert_memory_equal(exact, libcoap_core, len);
  free(exact);

  rc_link_writer w;
  rc_link_writer_init(&w, buf, sizeof buf);
  assert_int_equal(rc_link_begin(&w, "/a", 2), RC_OK);
  assert_int_equal(rc_link_add_quoted(&w, "t", "q\"\\", 3), RC_OK);
  assert_int_equal(rc_link_add_uint(&w, "sz", 4294967295u), RC_OK);
  assert_int_equal(rc_link_add_quoted(&w, "title*", "", 0), RC_OK);
  assert_int_equal(rc_link_end(&w), RC_OK);
  static const char wq[] = "</a>;t=\"q\\\"\\\\\";sz=4294967295;title*=\"\"";
  assert_int_equal(rc_link_writer_needed(&w), strlen(wq));
  assert_int_equal(rc_link_writer_finish(&w, &len), RC_OK);
  assert_int_equal(len, strlen(wq));
  assert_memory_equal(buf, wq, len);

  /* errors are sticky */
  static const struct {
    int step;
    rc_err want;
  } errs[] = {{0, RC_ERR_INVAL}, {1, RC_ERR_INVAL}, {2, RC_ERR_INVAL},
              {3, RC_ERR_INVAL}, {4, RC_ERR_INVAL}, {5, RC_ERR_STATE},
              {6, RC_ERR_STATE}, {7, RC_ERR_STATE}, {8, RC_ERR_INVAL},
              {9, RC_ERR_INVAL}, {10, RC_ERR_INVAL}, {11, RC_ERR_INVAL}};
  for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
    rc_link_writer_init(&w, buf, sizeof buf);
    rc_err e = RC_OK;
    if (errs[i].step < 5 || errs[i].step >= 8)
      rc_link_begin(&w, "/x", 2);
    switch (errs[i].step) {
    case 0: e = rc_link_add_token(&w, "a", "b c", 3); break;
    case 1: e = rc_link_add_token(&w, "a", "", 0); break;
    case 2: e = rc_link_add_flag(&w, "a b"); break;
    case 3: e = rc_link_add_quoted(&w, "t", "a\nb", 3); break;
    case 4: e = rc_link_add_flag(&w, ""); break;
    case 5: e = rc_link_add_flag(&w, "obs"); break; /* no link open */
    case 6: e = rc_link_end(&w); break;
    case 7:
      rc_link_begin(&w, "/x", 2);
      e = rc_link_begin(&w, "/y", 2); /* not ended */
      break;
    case 8: e = rc_link_begin(&w, "/a>", 3); break; /* already open: STATE? */
    case 9: e = rc_link_add_flag(&w, "*"); break;
    case 10: e = rc_link_add_token(&w, "a", "x,y", 3); break;
    case 11: e = rc_link_add_token(&w, "a*b", "1", 1); break;
    }
    if (errs[i].step == 8) {
      /* a bad target in a fresh writer */
      rc_link_writer_init(&w, buf, sizeof buf);
      e = rc_link_begin(&w, "/a>", 3);
      assert_int_equal(e, RC_ERR_INVAL);
      assert_int_equal(rc_link_begin(&w, "</%1", 4), RC_ERR_INVAL);
      continue;
    }
    if (e != errs[i].want)
      fail_msg("step %d: %s", errs[i].step, rc_err_name(e));
    assert_int_equal(rc_link_add_flag(&w, "ok"), errs[i].want);
    assert_int_equal(rc_link_writer_finish(&w, &len), errs[i].want);
  }
  rc_link_writer_init(&w, buf, sizeof buf);
  assert_int_equal(rc_link_begin(&w, "/%41", 4), RC_OK);
  assert_int_equal(rc_link_begin(&w, "/b", 2), RC_ERR_STATE);
  rc_link_writer_init(&w, buf, sizeof buf);
  assert_int_equal(rc_link_begin(&w, "/%4", 3), RC_ERR_INVAL);
  /* empty output */
  rc_link_writer_init(&w, NULL, 0);
  assert_int_equal(rc_link_writer_finish(&w, &len), RC_OK);
  assert_int_equal(len, 0);
}

/* Parse, write back with the writer, compare with the input. */
static void rewrite(const char *s, char *out, size_t cap, size_t *len) {
  rc_link_iter it;
  rc_link l;
  rc_link_writer w;
  rc_link_writer_init(&w, out, cap);
  rc_link_iter_init(&it, s, strlen(s), 0);
  int r;
  while ((r = rc_link_next(&it, &l)) == 1) {
    assert_int_equal(rc_link_begin(&w, l.target, l.target_len), RC_OK);
    rc_link_attr_iter ai;
    rc_link_attr a;
    rc_link_attr_iter_init(&ai, &l);
    while (rc_link_attr_next(&ai, &a)) {
      char name[64], val[256];
      size_t vl;
      assert_true(a.name_len < sizeof name);
      memcpy(name, a.name, a.name_len);
      name[a.name_len] = 0;
      if (!a.has_value) {
        assert_int_equal(rc_link_add_flag(&w, name), RC_OK);
      } else if (a.quoted) {
        assert_int_equal(rc_link_attr_unquote(&a, val, sizeof val, &vl),
                         RC_OK);
        assert_int_equal(rc_link_add_quoted(&w, name, val, vl), RC_OK);
      } else {
        assert_int_equal(rc_link_add_token(&w, name, a.value, a.value_len),
                         RC_OK);
      }
    }
    assert_int_equal(rc_link_end(&w), RC_OK);
  }
  assert_int_equal(r, 0);
  assert_int_equal(rc_link_writer_finish(&w, len), RC_OK);
}

static void test_rewrite(void **state) {
  (void)state;
  const char *const v[] = {libcoap_core, rfc_sensors, rfc_rt, rfc_anchor,
                           rfc_firmware,
                           "</a>;title=\"x, \\\"y; z\\\\\";rt=\"a b\",<>;f"};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    char out[512];
    size_t len;
    rewrite(v[i], out, sizeof out, &len);
    assert_int_equal(len, strlen(v[i]));
    assert_memory_equal(out, v[i], len);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_libcoap_core), cmocka_unit_test(test_filter),
      cmocka_unit_test(test_quoted),       cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_lenient),      cmocka_unit_test(test_prefixes),
      cmocka_unit_test(test_writer),       cmocka_unit_test(test_rewrite),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
