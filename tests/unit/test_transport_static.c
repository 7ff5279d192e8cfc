/*
 * Tests of the static-file responder (transport/static.c) in a temporary
 * folder: every traversal attempt (.., %2e%2e, ..%2f, %2F, backslash, NUL,
 * symlinks to a file and to a folder outside the root, absolute-form
 * targets, dot files) is refused; index.html, percent-decoding and content
 * types work; responses carry the right status, headers and streamed
 * body, with HEAD, 304 and 405; and the ws filter serves a file end to
 * end through its plain HTTP callback.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rcoap/transport_static.h"
#include "rcoap/transport_ws.h"

static char tmp[256], root[300];

static void put(const char *rel, const char *text) {
  char p[512];
  FILE *f;
  snprintf(p, sizeof(p), "%s/%s", tmp, rel);
  f = fopen(p, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int setup(void **state) {
  char p[512], q[512];
  (void)state;
  snprintf(tmp, sizeof(tmp), "/tmp/rcoap-static-XXXXXX");
  assert_non_null(mkdtemp(tmp));
  snprintf(root, sizeof(root), "%s/web", tmp);
  assert_int_equal(mkdir(root, 0755), 0);
  snprintf(p, sizeof(p), "%s/web/sub", tmp);
  assert_int_equal(mkdir(p, 0755), 0);
  snprintf(p, sizeof(p), "%s/outside", tmp);
  assert_int_equal(mkdir(p, 0755), 0);
  put("secret", "top secret\n");
  put("outside/secret", "also secret\n");
  put("web/index.html", "<!doctype html><title>rcoap</title>\n");
  put("web/app.js", "console.log('coap');\n");
  put("web/sub/index.html", "<p>sub</p>\n");
  put("web/sub/style.css", "p{}\n");
  put("web/a b.txt", "spaced\n");
  put("web/.env", "KEY=1\n");
  put("web/x.unknownext", "?\n");
  /* symlinks: to a file outside, to a folder outside, and to a file
   * inside (refused too: the walk follows no link at all) */
  snprintf(p, sizeof(p), "%s/web/link", tmp);
  assert_int_equal(symlink("../secret", p), 0);
  snprintf(p, sizeof(p), "%s/web/dirlink", tmp);
  snprintf(q, sizeof(q), "%s/outside", tmp);
  assert_int_equal(symlink(q, p), 0);
  snprintf(p, sizeof(p), "%s/web/inlink.js", tmp);
  assert_int_equal(symlink("app.js", p), 0);
  snprintf(p, sizeof(p), "%s/web/fifo", tmp);
  assert_int_equal(mkfifo(p, 0644), 0);
  return 0;
}

static int teardown(void **state) {
  char cmd[400];
  (void)state;
  /* only the folder this run made */
  snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", tmp);
  return system(cmd) == 0 ? 0 : -1;
}

static rc_static *open_root(void) {
  rc_static *s = NULL;
  assert_int_equal(rc_static_new(&s, root, NULL), RC_OK);
  return s;
}

static rc_err try_open(rc_static *s, const char *target, char *content,
                       size_t cap, const char **ctype) {
  int fd = -1;
  rc_err rc = rc_static_open(s, target, strlen(target), &fd, ctype);
  if (rc == RC_OK) {
    ssize_t n = read(fd, content, cap - 1);
    assert_true(n >= 0);
    content[n] = '\0';
    close(fd);
  }
  return rc;
}

static void test_traversal_refused(void **state) {
  static const struct {
    const char *target;
    rc_err want;
  } cases[] = {
      {"/../secret", RC_ERR_PATH_REFUSED},
      {"/sub/../../secret", RC_ERR_PATH_REFUSED},
      {"/sub/../index.html", RC_ERR_PATH_REFUSED},
      {"/./index.html", RC_ERR_PATH_REFUSED},
      {"/%2e%2e/secret", RC_ERR_PATH_REFUSED},
      {"/%2E%2E/secret", RC_ERR_PATH_REFUSED},
      {"/.%2e/secret", RC_ERR_PATH_REFUSED},
      {"/..%2fsecret", RC_ERR_PATH_REFUSED},
      {"/..%2Fsecret", RC_ERR_PATH_REFUSED},
      {"/sub%2Findex.html", RC_ERR_PATH_REFUSED},
      {"/sub%2f..%2f..%2fsecret", RC_ERR_PATH_REFUSED},
      {"/..\\secret", RC_ERR_PATH_REFUSED},
      {"/%5c..%5csecret", RC_ERR_PATH_REFUSED},
      {"/app.js%00.html", RC_ERR_PATH_REFUSED},
      {"/link", RC_ERR_PATH_REFUSED},
      {"/dirlink/secret", RC_ERR_PATH_REFUSED},
      {"/inlink.js", RC_ERR_PATH_REFUSED},
      {"/.env", RC_ERR_PATH_REFUSED},
      {"/fifo", RC_ERR_PATH_REFUSED},
      {"http://example.org/../secret", RC_ERR_PATH_REFUSED},
      {"secret", RC_ERR_PATH_REFUSED},
      {"*", RC_ERR_PATH_REFUSED},
      {"", RC_ERR_PATH_REFUSED},
      {"/%zz", RC_ERR_BAD_PERCENT},
      {"/app.js%2", RC_ERR_BAD_PERCENT},
      {"/app.js%", RC_ERR_BAD_PERCENT},
      {"/nope.js", RC_ERR_NOT_FOUND},
      {"/app.js/x", RC_ERR_NOT_FOUND},
      {"/sub", RC_ERR_EXISTS},
  };
  rc_static *s = open_root();
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char buf[64];
    rc_err rc = try_open(s, cases[i].target, buf, sizeof(buf), NULL);
    if (rc != cases[i].want)
      fail_msg("%s: got %s, want %s", cases[i].target, rc_err_name(rc),
               rc_err_name(cases[i].want));
  }
  rc_static_free(s);
}

static void test_resolve_ok(void **state) {
  rc_static *s = open_root();
  const char *ct = NULL;
  char buf[128];
  (void)state;
  assert_int_equal(try_open(s, "/", buf, sizeof(buf), &ct), RC_OK);
  assert_string_equal(buf, "<!doctype html><title>rcoap</title>\n");
  assert_string_equal(ct, "text/html; charset=utf-8");
  assert_int_equal(try_open(s, "/?x=1", buf, sizeof(buf), &ct), RC_OK);
  assert_int_equal(try_open(s, "/app.js?v=2#frag", buf, sizeof(buf), &ct), RC_OK);
  assert_string_equal(buf, "console.log('coap');\n");
  assert_string_equal(ct, "text/javascript; charset=utf-8");
  assert_int_equal(try_open(s, "/sub/", buf, sizeof(buf), &ct), RC_OK);
  assert_string_equal(buf, "<p>sub</p>\n");
  assert_int_equal(try_open(s, "//sub//style.css", buf, sizeof(buf), &ct), RC_OK);
  assert_string_equal(ct, "text/css; charset=utf-8");
  assert_int_equal(try_open(s, "/a%20b.txt", buf, sizeof(buf), &ct), RC_OK);
  assert_string_equal(buf, "spaced\n");
  assert_string_equal(ct, "text/plain; charset=utf-8");
  assert_int_equal(try_open(s, "/%61pp.js", buf, sizeof(buf), &ct), RC_OK);
  assert_int_equal(try_open(s, "/x.unknownext", buf, sizeof(buf), &ct), RC_OK);
  assert_string_equal(ct, "application/octet-stream");
  rc_static_free(s);
  assert_int_equal(rc_static_new(&s, "/nonexistent/rcoap", NULL),
                   RC_ERR_NOT_FOUND);
}

static void test_content_types(void **state) {
  static const char *const pairs[][2] = {
      {"a.html", "text/html; charset=utf-8"},
      {"a.HTM", "text/html; charset=utf-8"},
      {"a.js", "text/javascript; charset=utf-8"},
      {"a.mjs", "text/javascript; charset=utf-8"},
      {"a.css", "text/css; charset=utf-8"},
      {"a.json", "application/json"},
      {"a.png", "image/png"},
      {"a.svg", "image/svg+xml"},
      {"favicon.ico", "image/vnd.microsoft.icon"},
      {"a.txt", "text/plain; charset=utf-8"},
      {"a.wasm", "application/wasm"},
      {"js", "application/octet-stream"},
      {".js", "application/octet-stream"},
      {"a.js.bak", "application/octet-stream"},
  };
  size_t i;
  (void)state;
  for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
    assert_string_equal(rc_static_content_type(pairs[i][0], strlen(pairs[i][0])),
                        pairs[i][1]);
}

/* Builds a request head over text (kept alive by the caller). */
static void req_of(const char *text, rc_http_head *h) {
  assert_true(rc_http_parse_request((const uint8_t *)text, strlen(text), h,
                                    NULL) > 0);
}

static size_t drain(rc_http_response *r, char *out, size_t cap) {
  size_t n = 0;
  int rounds;
  for (rounds = 0; rounds < 100; rounds++) {
    rc_ssize k = r->source.read(r->source.ctx, (uint8_t *)out + n, cap - 1 - n);
    assert_true(k >= 0);
    if (k == 0)
      break;
    n += (size_t)k;
  }
  out[n] = '\0';
  r->source.close(r->source.ctx);
  return n;
}

static void test_respond(void **state) {
  rc_static *s = open_root();
  rc_http_response r;
  rc_http_head h;
  char body[256], text[512], etag[64];
  const char *e, *q;
  (void)state;
  /* GET a script: 200, streamed, cached for a while */
  memset(&r, 0, sizeof(r));
  req_of("GET /app.js HTTP/1.1\r\nHost: h\r\n\r\n", &h);
  rc_static_respond(s, &h, &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.content_type, "text/javascript; charset=utf-8");
  assert_int_equal(r.content_length, strlen("console.log('coap');\n"));
  assert_false(r.head_only);
  assert_non_null(strstr(r.extra_headers, "Cache-Control: max-age=3600\r\n"));
  assert_non_null(strstr(r.extra_headers, "Last-Modified: "));
  assert_non_null(strstr(r.extra_headers, " GMT\r\n"));
  e = strstr(r.extra_headers, "ETag: \"");
  assert_non_null(e);
  q = strchr(e + 7, '"');
  assert_non_null(q);
  snprintf(etag, sizeof(etag), "%.*s", (int)(q + 1 - (e + 6)), e + 6);
  assert_int_equal(drain(&r, body, sizeof(body)), r.content_length);
  assert_string_equal(body, "console.log('coap');\n");
  /* the same ETag in If-None-Match: 304, no source */
  memset(&r, 0, sizeof(r));
  snprintf(text, sizeof(text),
           "GET /app.js HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"x\", W/%s\r\n\r\n",
           etag);
  req_of(text, &h);
  rc_static_respond(s, &h, &r);
  assert_int_equal(r.status, 304);
  assert_null(r.source.read);
  /* HTML: no-cache */
  memset(&r, 0, sizeof(r));
  req_of("GET / HTTP/1.1\r\nHost: h\r\n\r\n", &h);
  rc_static_respond(s, &h, &r);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.extra_headers, "Cache-Control: no-cache\r\n"));
  r.source.close(r.source.ctx);
  /* HEAD */
  memset(&r, 0, sizeof(r));
  req_of("HEAD /app.js HTTP/1.1\r\nHost: h\r\n\r\n", &h);
  rc_static_respond(s, &h, &r);
  assert_int_equal(r.status, 200);
  assert_true(r.head_only);
  r.source.close(r.source.ctx);
  /* errors with short bodies */
  {
    static const struct {
      const char *req;
      int status;
    } cases[] = {
        {"POST /app.js HTTP/1.1\r\nHost: h\r\n\r\n", 405},
        {"GET /nope HTTP/1.1\r\nHost: h\r\n\r\n", 404},
        {"GET /../secret HTTP/1.1\r\nHost: h\r\n\r\n", 403},
        {"GET /link HTTP/1.1\r\nHost: h\r\n\r\n", 403},
        {"GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400},
        {"GET /sub?a=1 HTTP/1.1\r\nHost: h\r\n\r\n", 301},
    };
    size_t i;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
      memset(&r, 0, sizeof(r));
      req_of(cases[i].req, &h);
      rc_static_respond(s, &h, &r);
      assert_int_equal(r.status, cases[i].status);
      assert_null(r.source.read);
      assert_true(r.body_len > 0);
    }
    assert_string_equal(r.extra_headers, "Location: /sub/\r\n");
  }
  memset(&r, 0, sizeof(r));
  req_of("DELETE / HTTP/1.1\r\nHost: h\r\n\r\n", &h);
  rc_static_respond(s, &h, &r);
  assert_string_equal(r.extra_headers, "Allow: GET, HEAD\r\n");
  rc_static_free(s);
}

/* ---- through the ws filter ------------------------------------------------ */

typedef struct sink_rec {
  char out[8192];
  size_t len;
  int ev, n_ev;
} sink_rec;

static rc_err rec_up(void *ctx, const uint8_t *d, size_t n, int flags) {
  (void)ctx, (void)d, (void)n, (void)flags;
  return RC_ERR_STATE;
}

static rc_err rec_down(void *ctx, const uint8_t *d, size_t n) {
  sink_rec *r = ctx;
  assert_true(r->len + n < sizeof(r->out));
  memcpy(r->out + r->len, d, n);
  r->len += n;
  r->out[r->len] = '\0';
  return RC_OK;
}

static void rec_event(void *ctx, rc_filter_event ev, int arg, const char *d) {
  sink_rec *r = ctx;
  (void)arg, (void)d;
  r->ev = ev;
  r->n_ev++;
}

static void test_through_ws_filter(void **state) {
  static const char req[] = "GET /sub/style.css HTTP/1.1\r\nHost: h\r\n\r\n";
  rc_static *st = open_root();
  rc_ws_config cfg;
  sink_rec rec;
  rc_filter_sink sink = {rec_up, rec_down, rec_event, &rec};
  rc_filter *f = NULL;
  (void)state;
  memset(&rec, 0, sizeof(rec));
  memset(&cfg, 0, sizeof(cfg));
  cfg.on_http = rc_static_respond;
  cfg.http_user = st;
  assert_int_equal(rc_ws_server_new(&f, &cfg, &sink), RC_OK);
  assert_int_equal(rc_filter_recv(f, (const uint8_t *)req, strlen(req)), RC_OK);
  assert_int_equal(strncmp(rec.out, "HTTP/1.1 200 OK\r\n", 17), 0);
  assert_non_null(strstr(rec.out, "\r\nContent-Type: text/css; charset=utf-8\r\n"));
  assert_non_null(strstr(rec.out, "\r\nContent-Length: 4\r\n"));
  assert_non_null(strstr(rec.out, "\r\nConnection: close\r\n"));
  assert_non_null(strstr(rec.out, "\r\n\r\np{}\n"));
  assert_int_equal(rec.n_ev, 1);
  assert_int_equal(rec.ev, RC_FILTER_EV_CLOSED);
  assert_false(rc_ws_http_pending(f));
  rc_filter_free(f);
  rc_static_free(st);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_traversal_refused),
      cmocka_unit_test(test_resolve_ok),
      cmocka_unit_test(test_content_types),
      cmocka_unit_test(test_respond),
      cmocka_unit_test(test_through_ws_filter),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
