/*
 * Tests of the app layer over real loopback sockets (127.0.0.1 and ::1),
 * with a server context and a client context on one libuv loop: every
 * method reaches its handler, 4.04 / 4.05 come by themselves, discovery
 * filters, many concurrent requests share one connection, the server sends
 * a request back to the client over the client's own connection, a
 * graceful server shutdown lets the in-flight exchange finish and the
 * client sees the Release, and a refused connection fails cleanly.
 * Every wait is bounded by a guard timer that fails the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcoap/app.h"
#include "test_run.h"

#define GUARD_MS 5000

typedef struct fixture {
  uv_loop_t loop;
  rc_context *server;
  rc_context *client;
  uint16_t port;
  uint16_t port6;
  uv_timer_t guard;
  uv_timer_t later; /* answers deferred requests */
  rc_xreq *held;
  int guard_fired;
  int shutdown_done;
  char logs[4096];
} fixture;

typedef struct result {
  int calls;
  rc_err status;
  uint8_t code;
  char payload[256];
  char detail[256];
  fixture *f;
} result;

static void on_log(void *user, int level, const char *text) {
  fixture *f = user;
  (void)level;
  size_t n = strlen(f->logs);
  snprintf(f->logs + n, sizeof f->logs - n, "%s\n", text);
}

static void on_result(void *arg, rc_err status, const rc_msg *resp,
                      const char *detail) {
  result *r = arg;
  r->calls++;
  r->status = status;
  snprintf(r->detail, sizeof r->detail, "%s", detail);
  if (resp) {
    r->code = resp->code;
    snprintf(r->payload, sizeof r->payload, "%.*s", (int)resp->payload_len,
             (const char *)resp->payload);
  }
}

/* ---- server resources ---- */

static void h_echo(rc_context *ctx, rc_resource *res, rc_xreq *req,
                   void *user) {
  (void)ctx;
  (void)user;
  const rc_msg *m = rc_xreq_msg(req);
  char path[128], body[300];
  rc_req_path(req, path, sizeof path);
  int n = snprintf(body, sizeof body, "%s %s %s %.*s", rc_code_name(m->code),
                   rc_resource_path(res), path, (int)m->payload_len,
                   (const char *)m->payload);
  rc_respond(req, m->code == RC_GET ? RC_CONTENT : RC_CHANGED,
             RC_CF_TEXT_PLAIN, body, (size_t)n);
}

static void later_fire(uv_timer_t *t) {
  fixture *f = t->data;
  if (f->held) {
    rc_respond(f->held, RC_CONTENT, RC_CF_TEXT_PLAIN, "slow answer", 11);
    f->held = NULL;
  }
}

static void h_slow(rc_context *ctx, rc_resource *res, rc_xreq *req,
                   void *user) {
  (void)ctx;
  (void)res;
  fixture *f = user;
  assert_int_equal(rc_xreq_defer(req), RC_OK);
  f->held = req;
  uv_timer_start(&f->later, later_fire, 300, 0);
}

/* The server answers /callme only after asking the client for /whoami
 * over the client's own connection. */
typedef struct callback_ctx {
  rc_xreq *orig;
} callback_ctx;

static void on_back(void *arg, rc_err status, const rc_msg *resp,
                    const char *detail) {
  callback_ctx *c = arg;
  (void)detail;
  char body[128];
  int n = snprintf(body, sizeof body, "client said: %.*s",
                   status ? 5 : (int)resp->payload_len,
                   status ? "error" : (const char *)resp->payload);
  rc_respond(c->orig, RC_CONTENT, RC_CF_TEXT_PLAIN, body, (size_t)n);
  free(c);
}

static void h_callme(rc_context *ctx, rc_resource *res, rc_xreq *req,
                     void *user) {
  (void)ctx;
  (void)res;
  (void)user;
  callback_ctx *c = malloc(sizeof *c);
  c->orig = req;
  assert_int_equal(rc_xreq_defer(req), RC_OK);
  assert_int_equal(rc_request_back(req, RC_GET, "/whoami?x=1", NULL, on_back,
                                   c),
                   RC_OK);
}

static void h_whoami(rc_context *ctx, rc_resource *res, rc_xreq *req,
                     void *user) {
  (void)ctx;
  (void)res;
  (void)user;
  char q[64];
  rc_msg_query(rc_xreq_msg(req), q, sizeof q);
  char body[96];
  int n = snprintf(body, sizeof body, "I am the client (%s)", q);
  rc_respond(req, RC_CONTENT, RC_CF_TEXT_PLAIN, body, (size_t)n);
}

static void guard_fire(uv_timer_t *t) {
  fixture *f = t->data;
  f->guard_fired = 1;
  uv_stop(&f->loop);
}

/* Runs the loop until *flag reaches want or the guard fires. */
static void run_until(fixture *f, int *flag, int want) {
  uv_timer_start(&f->guard, guard_fire, GUARD_MS, 0);
  while (*flag < want && !f->guard_fired)
    uv_run(&f->loop, UV_RUN_ONCE);
  uv_timer_stop(&f->guard);
  if (f->guard_fired)
    fail_msg("timed out waiting (logs:\n%s)", f->logs);
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  uv_loop_init(&f->loop);
  uv_timer_init(&f->loop, &f->guard);
  uv_timer_init(&f->loop, &f->later);
  f->guard.data = f->later.data = f;
  rc_context_opts o = {0};
  o.loop = &f->loop;
  o.on_log = on_log;
  o.log_user = f;
  o.log_level = RC_SESSION_LOG_DEBUG;
  assert_int_equal(rc_context_new(&f->server, &o), RC_OK);
  assert_int_equal(rc_context_new(&f->client, &o), RC_OK);
  rc_resource *r;
  assert_int_equal(rc_resource_add(f->server, "/echo", RC_RES_PREFIX, f, &r),
                   RC_OK);
  for (uint8_t m = RC_GET; m <= RC_IPATCH; m++)
    if (m != RC_DELETE)
      rc_resource_on(r, m, h_echo);
  rc_resource_attr(r, "rt", "echo test", 1);
  rc_resource_attr(r, "ct", "0", 0);
  assert_int_equal(rc_resource_add(f->server, "/slow", 0, f, &r), RC_OK);
  rc_resource_on(r, RC_GET, h_slow);
  rc_resource_attr(r, "rt", "slow", 1);
  assert_int_equal(rc_resource_add(f->server, "/callme", 0, f, &r), RC_OK);
  rc_resource_on(r, RC_GET, h_callme);
  assert_int_equal(rc_resource_add(f->client, "/whoami", 0, f, &r), RC_OK);
  rc_resource_on(r, RC_GET, h_whoami);
  char err[256];
  assert_int_equal(rc_context_listen(f->server, RC_CONN_TCP, "127.0.0.1:0",
                                     NULL, NULL, &f->port, err, sizeof err),
                   RC_OK);
  assert_int_equal(rc_context_listen(f->server, RC_CONN_TCP, "[::1]:0", NULL,
                                     NULL, &f->port6, err, sizeof err),
                   RC_OK);
  *state = f;
  return 0;
}

static void close_cb(uv_handle_t *h) { (void)h; }

static int teardown(void **state) {
  fixture *f = *state;
  rc_context_free(f->client);
  rc_context_free(f->server);
  uv_close((uv_handle_t *)&f->later, close_cb);
  test_loop_end(&f->loop, &f->guard);
  free(f);
  return 0;
}

static void uri(fixture *f, char *buf, size_t cap, int v6, const char *path) {
  if (v6)
    snprintf(buf, cap, "coap+tcp://[::1]:%u%s", f->port6, path);
  else
    snprintf(buf, cap, "coap+tcp://127.0.0.1:%u%s", f->port, path);
}

static void test_methods_v4_v6(void **state) {
  fixture *f = *state;
  static const uint8_t methods[] = {RC_GET, RC_POST, RC_PUT, RC_FETCH,
                                    RC_PATCH, RC_IPATCH};
  for (int v6 = 0; v6 < 2; v6++) {
    for (size_t i = 0; i < sizeof methods; i++) {
      char u[128];
      uri(f, u, sizeof u, v6, "/echo/a%20b/c");
      result r = {0};
      rc_request_opts ro = {0};
      ro.payload = (const uint8_t *)"body";
      ro.payload_len = 4;
      assert_int_equal(rc_request(f->client, methods[i], u, &ro, on_result, &r),
                       RC_OK);
      run_until(f, &r.calls, 1);
      assert_int_equal(r.status, RC_OK);
      char want[128];
      snprintf(want, sizeof want, "%s /echo /echo/a b/c body",
               rc_code_name(methods[i]));
      assert_string_equal(r.payload, want);
    }
  }
  /* One connection per origin: two client connections (v4, v6) and the
   * two server ends. */
  assert_int_equal(rc_context_connections(f->client), 2);
  assert_int_equal(rc_context_connections(f->server), 2);
}

static void test_not_found_and_method(void **state) {
  fixture *f = *state;
  char u[128];
  result r = {0};
  uri(f, u, sizeof u, 0, "/nothing/here");
  assert_int_equal(rc_request(f->client, RC_GET, u, NULL, on_result, &r), RC_OK);
  run_until(f, &r.calls, 1);
  assert_int_equal(r.code, RC_NOT_FOUND);
  uri(f, u, sizeof u, 0, "/echo");
  assert_int_equal(rc_request(f->client, RC_DELETE, u, NULL, on_result, &r),
                   RC_OK);
  run_until(f, &r.calls, 2);
  assert_int_equal(r.code, RC_METHOD_NOT_ALLOWED);
}

/* GET path on the server (over IPv4), its answer in *r. */
static void get_path(fixture *f, const char *path, result *r) {
  char u[RC_APP_PATH_MAX + 300];
  memset(r, 0, sizeof *r);
  uri(f, u, sizeof u, 0, path);
  assert_int_equal(rc_request(f->client, RC_GET, u, NULL, on_result, r),
                   RC_OK);
  run_until(f, &r->calls, 1);
  assert_int_equal(r->status, RC_OK);
}

/* GET path on the server; want NULL: 4.04, else the echo's payload. */
static void get_expect(fixture *f, const char *path, const char *want) {
  result r;
  get_path(f, path, &r);
  if (!want) {
    assert_int_equal(r.code, RC_NOT_FOUND);
    return;
  }
  assert_int_equal(r.code, RC_CONTENT);
  assert_string_equal(r.payload, want);
}

/* Resources are found on the request's Uri-Path options (resource.c,
 * rc__app_match_msg): exact paths, the longest prefix resource, paths a
 * segment of which holds an escaped byte (matched as a string), more
 * segments than the option walk keeps, and a path too long. */
static void test_path_matching(void **state) {
  fixture *f = *state;
  static const char *const res[] = {
      "/m",          "/m/a",          "/m/a/b",
      "/m/x%2Fy",    "/m/sp ace",     "/p",
      "/p/abc",      "/p/abcdefgh",   "/p/abcdefghijkl",
      "/p/abcdefghijklmnop",          "/p/abcdefghijklmnopqrst"};
  static const unsigned prefix[] = {1, 0, 1, 0, 0, 1, 1, 1, 1, 1, 1};
  for (size_t i = 0; i < sizeof res / sizeof *res; i++) {
    rc_resource *r;
    assert_int_equal(rc_resource_add(f->server, res[i],
                                     prefix[i] ? RC_RES_PREFIX : 0, f, &r),
                     RC_OK);
    rc_resource_on(r, RC_GET, h_echo);
  }
  char deep[200] = "/m";
  for (int i = 0; i < 20; i++)
    snprintf(deep + strlen(deep), sizeof deep - strlen(deep), "/%d", i);
  char deep_want[300];
  snprintf(deep_want, sizeof deep_want, "GET /m %s ", deep);
  struct {
    const char *path, *want; /* want NULL: 4.04 */
  } cases[] = {
      {"/m", "GET /m /m "},
      {"/m/a", "GET /m/a /m/a "},
      {"/m/a/b", "GET /m/a/b /m/a/b "},
      {"/m/a/b/c/d", "GET /m/a/b /m/a/b/c/d "},
      {"/m/a/bc", "GET /m /m/a/bc "},
      {"/m/ab", "GET /m /m/ab "},
      {"/m/a/", "GET /m /m/a/ "}, /* an empty last segment */
      {"/m/x%2Fy", "GET /m/x%2Fy /m/x%2Fy "},
      {"/m/x%2Fy/z", "GET /m /m/x%2Fy/z "},
      {"/m/sp%20ace", "GET /m/sp ace /m/sp ace "},
      {"/m/%25", "GET /m /m/%25 "},
      {deep, deep_want},
      {"/mm", NULL},
      {"/", NULL},
      {"/echo/a/b", "GET /echo /echo/a/b "},
      /* prefix segments of 3-20 bytes, one byte off at either end or inside */
      {"/p/abc/x", "GET /p/abc /p/abc/x "},
      {"/p/abd/x", "GET /p /p/abd/x "},
      {"/p/xbc/x", "GET /p /p/xbc/x "},
      {"/p/aXc/x", "GET /p /p/aXc/x "},
      {"/p/abcdefgh/x", "GET /p/abcdefgh /p/abcdefgh/x "},
      {"/p/abcdefgX/x", "GET /p /p/abcdefgX/x "},
      {"/p/Xbcdefgh/x", "GET /p /p/Xbcdefgh/x "},
      {"/p/abcdefghijkl/x", "GET /p/abcdefghijkl /p/abcdefghijkl/x "},
      {"/p/abcdefghijkX/x", "GET /p /p/abcdefghijkX/x "},
      {"/p/abcdeXghijkl/x", "GET /p /p/abcdeXghijkl/x "},
      {"/p/abcdefghijklmnop/x",
       "GET /p/abcdefghijklmnop /p/abcdefghijklmnop/x "},
      {"/p/abcdefghijklmnoX/x", "GET /p /p/abcdefghijklmnoX/x "},
      {"/p/abcdefghijklmnopqrst", "GET /p/abcdefghijklmnopqrst "
                                  "/p/abcdefghijklmnopqrst "},
      {"/p/abcdefghijklmnopqrst/x", "GET /p/abcdefghijklmnopqrst "
                                    "/p/abcdefghijklmnopqrst/x "},
      {"/p/abcdefghijklmnopqrsX/x", "GET /p /p/abcdefghijklmnopqrsX/x "},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    get_expect(f, cases[i].path, cases[i].want);
  /* a path of RC_APP_PATH_MAX bytes or more: 4.13 */
  char lng[RC_APP_PATH_MAX + 200];
  snprintf(lng, sizeof lng, "/m");
  while (strlen(lng) < RC_APP_PATH_MAX + 20)
    strcat(lng, "/abcdefghijklmnopqrstuvwxyz");
  result r;
  get_path(f, lng, &r);
  assert_int_equal(r.code, RC_REQUEST_ENTITY_TOO_LARGE);
}

/* The lookups kept by option bytes (resource.c memo) follow the table:
 * a path that found nothing, then a prefix resource, then an exact one
 * finds each as it is added and removed, asked again and again; more
 * paths than the memo keeps, by turns, each find their own. */
static void test_lookup_memo(void **state) {
  fixture *f = *state;
  rc_resource *r;
  for (int round = 0; round < 2; round++) {
    get_expect(f, "/q/r", NULL);
    get_expect(f, "/q/r", NULL);
    assert_int_equal(rc_resource_add(f->server, "/q", RC_RES_PREFIX, f, &r),
                     RC_OK);
    rc_resource_on(r, RC_GET, h_echo);
    get_expect(f, "/q/r", "GET /q /q/r ");
    get_expect(f, "/q/r", "GET /q /q/r ");
    assert_int_equal(rc_resource_add(f->server, "/q/r", 0, f, &r), RC_OK);
    rc_resource_on(r, RC_GET, h_echo);
    get_expect(f, "/q/r", "GET /q/r /q/r ");
    get_expect(f, "/q/r", "GET /q/r /q/r ");
    assert_int_equal(rc_resource_remove(f->server, "/q/r"), RC_OK);
    get_expect(f, "/q/r", "GET /q /q/r ");
    assert_int_equal(rc_resource_remove(f->server, "/q"), RC_OK);
  }
  get_expect(f, "/q/r", NULL);
  /* 12 paths (the memo has fewer slots), three turns each */
  char paths[12][16], want[12][64];
  for (int i = 0; i < 12; i++) {
    snprintf(paths[i], sizeof paths[i], "/t%d", i);
    snprintf(want[i], sizeof want[i], "GET %s %s ", paths[i], paths[i]);
    if (i % 3 == 2)
      continue; /* not there: 4.04 */
    assert_int_equal(rc_resource_add(f->server, paths[i], 0, f, &r), RC_OK);
    rc_resource_on(r, RC_GET, h_echo);
  }
  for (int turn = 0; turn < 3; turn++)
    for (int i = 0; i < 12; i++)
      get_expect(f, paths[i], i % 3 == 2 ? NULL : want[i]);
}

static void test_discovery_filter(void **state) {
  fixture *f = *state;
  char u[128];
  result r = {0};
  uri(f, u, sizeof u, 0, "/.well-known/core");
  assert_int_equal(rc_request(f->client, RC_GET, u, NULL, on_result, &r), RC_OK);
  run_until(f, &r.calls, 1);
  assert_int_equal(r.code, RC_CONTENT);
  assert_non_null(strstr(r.payload, "</echo>;rt=\"echo test\";ct=0"));
  assert_non_null(strstr(r.payload, "</slow>"));
  assert_null(strstr(r.payload, "well-known"));
  uri(f, u, sizeof u, 0, "/.well-known/core?rt=sl*");
  assert_int_equal(rc_request(f->client, RC_GET, u, NULL, on_result, &r), RC_OK);
  run_until(f, &r.calls, 2);
  assert_string_equal(r.payload, "</slow>;rt=\"slow\"");
  uri(f, u, sizeof u, 0, "/.well-known/core?rt=test");
  assert_int_equal(rc_request(f->client, RC_GET, u, NULL, on_result, &r), RC_OK);
  run_until(f, &r.calls, 3);
  assert_string_equal(r.payload, "</echo>;rt=\"echo test\";ct=0");
  uri(f, u, sizeof u, 0, "/.well-known/core?href=/callme");
  assert_int_equal(rc_request(f->client, RC_GET, u, NULL, on_result, &r), RC_OK);
  run_until(f, &r.calls, 4);
  assert_string_equal(r.payload, "</callme>");
}

static void test_concurrent_one_connection(void **state) {
  fixture *f = *state;
  enum { N = 300 };
  static result rs[N];
  memset(rs, 0, sizeof rs);
  int done = 0;
  char u[128];
  for (int i = 0; i < N; i++) {
    char path[32];
    snprintf(path, sizeof path, "/echo/%d", i);
    uri(f, u, sizeof u, 0, path);
    assert_int_equal(rc_request(f->client, RC_GET, u, NULL, on_result, &rs[i]),
                     RC_OK);
  }
  uv_timer_start(&f->guard, guard_fire, GUARD_MS, 0);
  while (!f->guard_fired) {
    done = 0;
    for (int i = 0; i < N; i++)
      done += rs[i].calls;
    if (done == N)
      break;
    uv_run(&f->loop, UV_RUN_ONCE);
  }
  uv_timer_stop(&f->guard);
  assert_int_equal(done, N);
  for (int i = 0; i < N; i++) {
    char want[64];
    snprintf(want, sizeof want, "GET /echo /echo/%d ", i);
    assert_string_equal(rs[i].payload, want);
  }
  assert_int_equal(rc_context_connections(f->client), 1);
}

static void test_server_initiated_request(void **state) {
  fixture *f = *state;
  char u[128];
  result r = {0};
  uri(f, u, sizeof u, 0, "/callme");
  assert_int_equal(rc_request(f->client, RC_GET, u, NULL, on_result, &r), RC_OK);
  run_until(f, &r.calls, 1);
  assert_int_equal(r.status, RC_OK);
  assert_string_equal(r.payload, "client said: I am the client (x=1)");
}

static void on_shutdown(void *arg) {
  fixture *f = arg;
  f->shutdown_done = 1;
}

static void test_graceful_shutdown_release(void **state) {
  fixture *f = *state;
  char u[128];
  result r = {0};
  uri(f, u, sizeof u, 0, "/slow");
  assert_int_equal(rc_request(f->client, RC_GET, u, NULL, on_result, &r), RC_OK);
  /* Wait until the server holds the request, then shut it down. */
  uv_timer_start(&f->guard, guard_fire, GUARD_MS, 0);
  while (!f->held && !f->guard_fired)
    uv_run(&f->loop, UV_RUN_ONCE);
  uv_timer_stop(&f->guard);
  assert_non_null(f->held);
  assert_int_equal(rc_context_shutdown(f->server, "maintenance", 3000,
                                       on_shutdown, f),
                   RC_OK);
  run_until(f, &r.calls, 1);
  /* The in-flight exchange finished despite the Release. */
  if (r.status != RC_OK)
    fail_msg("in-flight request failed: %s (%s); logs:\n%s",
             rc_strerror(r.status), r.detail, f->logs);
  assert_string_equal(r.payload, "slow answer");
  run_until(f, &f->shutdown_done, 1);
  assert_non_null(strstr(f->logs, "released the connection"));
  assert_non_null(strstr(f->logs, "maintenance"));
  assert_int_equal(rc_context_connections(f->server), 0);
  /* A new request after the shutdown: the port is closed now. */
  result r2 = {0};
  assert_int_equal(rc_request(f->client, RC_GET, u, NULL, on_result, &r2),
                   RC_OK);
  run_until(f, &r2.calls, 1);
  assert_int_equal(r2.status, RC_ERR_CONN_REFUSED);
  assert_true(strlen(r2.detail) > 0);
}

/* A Release with Alternative-Address and Hold-Off (RFC 8323 §5.5): a
 * client that follows it sends the origin's next request to the
 * alternative server at once (the Hold-Off is about the server that
 * released); one that does not follow it waits out the Hold-Off. */
static void h_whoserves(rc_context *ctx, rc_resource *res, rc_xreq *req,
                        void *user) {
  (void)ctx;
  (void)res;
  const char *name = user;
  rc_respond(req, RC_CONTENT, RC_CF_TEXT_PLAIN, name, strlen(name));
}

static void test_follow_release(void **state) {
  fixture *f = *state;
  /* The client follows Release instructions. */
  rc_context_free(f->client);
  rc_context_opts o = {0};
  o.loop = &f->loop;
  o.on_log = on_log;
  o.log_user = f;
  o.log_level = RC_SESSION_LOG_DEBUG;
  o.follow_release = 1;
  assert_int_equal(rc_context_new(&f->client, &o), RC_OK);
  /* A second server, the alternative, and a client that does not
   * follow Release instructions. */
  rc_context *alt, *stay;
  o.follow_release = 0;
  assert_int_equal(rc_context_new(&alt, &o), RC_OK);
  assert_int_equal(rc_context_new(&stay, &o), RC_OK);
  rc_resource *r;
  assert_int_equal(rc_resource_add(alt, "/who", 0, "alternative", &r), RC_OK);
  rc_resource_on(r, RC_GET, h_whoserves);
  assert_int_equal(rc_resource_add(f->server, "/who", 0, "first", &r), RC_OK);
  rc_resource_on(r, RC_GET, h_whoserves);
  uint16_t alt_port;
  char err[256];
  assert_int_equal(rc_context_listen(alt, RC_CONN_TCP, "127.0.0.1:0", NULL,
                                     NULL, &alt_port, err, sizeof err),
                   RC_OK);
  char u[128];
  uri(f, u, sizeof u, 0, "/who");
  result r1 = {0};
  assert_int_equal(rc_request(f->client, RC_GET, u, NULL, on_result, &r1),
                   RC_OK);
  result rs = {0};
  assert_int_equal(rc_request(stay, RC_GET, u, NULL, on_result, &rs), RC_OK);
  run_until(f, &r1.calls, 1);
  run_until(f, &rs.calls, 1);
  assert_string_equal(r1.payload, "first");
  assert_string_equal(rs.payload, "first");

  char authority[32];
  snprintf(authority, sizeof authority, "127.0.0.1:%u", alt_port);
  assert_int_equal(rc_context_set_release(f->server, authority, 60), RC_OK);
  assert_int_equal(rc_context_shutdown(f->server, "moving", 3000, on_shutdown,
                                       f),
                   RC_OK);
  run_until(f, &f->shutdown_done, 1);
  assert_non_null(strstr(f->logs, "following Release"));

  uint64_t t0 = uv_now(&f->loop);
  result r2 = {0};
  assert_int_equal(rc_request(f->client, RC_GET, u, NULL, on_result, &r2),
                   RC_OK);
  run_until(f, &r2.calls, 1);
  assert_int_equal(r2.status, RC_OK);
  assert_string_equal(r2.payload, "alternative");
  /* Not held off: long before the 60 s Hold-Off. */
  assert_true(uv_now(&f->loop) - t0 < 30000);
  /* The client that stays with the origin waits the Hold-Off out before
   * it dials (it is cancelled here rather than waited for). */
  result r3 = {0};
  assert_int_equal(rc_request(stay, RC_GET, u, NULL, on_result, &r3), RC_OK);
  assert_non_null(strstr(f->logs, "(Hold-Off) before connecting"));
  assert_int_equal(r3.calls, 0);
  rc_context_free(stay);
  assert_int_equal(r3.calls, 1);
  assert_int_equal(r3.status, RC_ERR_CANCELLED);
  rc_context_free(alt);
}

/* coap:// end to end on real UDP sockets: every method on v4 and v6, 40
 * requests at once on one peer (held back by NSTART 1 and sent in turn),
 * one UDP peer per origin on each side. */
static void test_udp_methods(void **state) {
  fixture *f = *state;
  char err[256];
  uint16_t p4, p6;
  assert_int_equal(rc_context_listen(f->server, RC_CONN_UDP, "127.0.0.1:0",
                                     NULL, NULL, &p4, err, sizeof err),
                   RC_OK);
  assert_int_equal(rc_context_listen(f->server, RC_CONN_UDP, "[::1]:0", NULL,
                                     NULL, &p6, err, sizeof err),
                   RC_OK);
  assert_true(p4 != 0 && p6 != 0);
  static const uint8_t methods[] = {RC_GET, RC_POST, RC_PUT, RC_FETCH,
                                    RC_PATCH, RC_IPATCH};
  for (int v6 = 0; v6 < 2; v6++) {
    for (size_t i = 0; i < sizeof methods; i++) {
      char u[128];
      if (v6)
        snprintf(u, sizeof u, "coap://[::1]:%u/echo/a", p6);
      else
        snprintf(u, sizeof u, "coap://127.0.0.1:%u/echo/a", p4);
      result r = {0};
      rc_request_opts ro = {0};
      ro.payload = (const uint8_t *)"body";
      ro.payload_len = 4;
      assert_int_equal(rc_request(f->client, methods[i], u, &ro, on_result, &r),
                       RC_OK);
      run_until(f, &r.calls, 1);
      assert_int_equal(r.status, RC_OK);
      char want[128];
      snprintf(want, sizeof want, "%s /echo /echo/a body",
               rc_code_name(methods[i]));
      assert_string_equal(r.payload, want);
    }
  }
  enum { N = 40 };
  static result rs[N];
  memset(rs, 0, sizeof rs);
  for (int i = 0; i < N; i++) {
    char u[128];
    snprintf(u, sizeof u, "coap://127.0.0.1:%u/echo/%d", p4, i);
    assert_int_equal(rc_request(f->client, RC_GET, u, NULL, on_result, &rs[i]),
                     RC_OK);
  }
  int done = 0;
  uv_timer_start(&f->guard, guard_fire, GUARD_MS, 0);
  while (!f->guard_fired && done < N) {
    uv_run(&f->loop, UV_RUN_ONCE);
    done = 0;
    for (int i = 0; i < N; i++)
      done += rs[i].calls;
  }
  uv_timer_stop(&f->guard);
  assert_int_equal(done, N);
  for (int i = 0; i < N; i++) {
    char want[64];
    snprintf(want, sizeof want, "GET /echo /echo/%d ", i);
    assert_string_equal(rs[i].payload, want);
  }
  assert_int_equal(rc_context_connections(f->client), 2);
  assert_int_equal(rc_context_connections(f->server), 2);
}

static void test_bad_uris(void **state) {
  fixture *f = *state;
  result r = {0};
  assert_int_equal(rc_request(f->client, RC_GET, "http://127.0.0.1/x", NULL,
                              on_result, &r),
                   RC_ERR_BAD_SCHEME);
  assert_int_equal(rc_request(f->client, RC_GET, "coap+tcp://127.0.0.1/x#f",
                              NULL, on_result, &r),
                   RC_ERR_URI_FRAGMENT);
  assert_int_equal(r.calls, 0);
}

/* What a static representation's answers carried. */
typedef struct static_result {
  int calls;
  rc_err status;
  uint8_t code;
  int cf; /* -1: no Content-Format */
  int has_b2;
  rc_block b2;
  size_t len;
  uint8_t body[4096];
} static_result;

static void on_static(void *arg, rc_err status, const rc_msg *resp,
                      const char *detail) {
  static_result *r = arg;
  (void)detail;
  r->calls++;
  r->status = status;
  if (!resp)
    return;
  r->code = resp->code;
  r->cf = rc_msg_content_format(resp);
  rc_opt o;
  r->has_b2 = rc_msg_find_opt(resp, RC_OPT_BLOCK2, &o) &&
              rc_block_decode(o.val, o.len, &r->b2) == RC_OK;
  r->len = resp->payload_len < sizeof r->body ? resp->payload_len
                                               : sizeof r->body;
  if (r->len)
    memcpy(r->body, resp->payload, r->len);
}

static void static_get(fixture *f, const char *path, const rc_opt *opts,
                       size_t nopts, static_result *r) {
  char u[128];
  uri(f, u, sizeof u, 0, path);
  memset(r, 0, sizeof *r);
  rc_request_opts ro = {0};
  ro.opts = opts;
  ro.nopts = nopts;
  assert_int_equal(rc_request(f->client, RC_GET, u, &ro, on_static, r),
                   RC_OK);
  run_until(f, &r->calls, 1);
  assert_int_equal(r->status, RC_OK);
}

/* A static representation (rc_resource_set_static) answers GET with its
 * code, Content-Format and payload, written from the bytes encoded once;
 * a client's Block2 gets the block it asked for, a body over 1 KiB goes
 * block-wise and arrives whole, and the other methods, an unrecognized
 * critical option and an Accept the resource does not list get their
 * usual answers (4.05, 4.02, 4.06). */
static void test_static_representation(void **state) {
  fixture *f = *state;
  static char big[3000];
  for (size_t i = 0; i < sizeof big; i++)
    big[i] = (char)('a' + i % 23);
  rc_resource *r;
  assert_int_equal(rc_resource_add(f->server, "/st/small", 0, NULL, &r),
                   RC_OK);
  assert_int_equal(rc_resource_set_static(r, RC_CONTENT, RC_CF_TEXT_PLAIN,
                                          "static hello", 12),
                   RC_OK);
  rc_resource_attr(r, "ct", "0", 0);
  assert_int_equal(rc_resource_set_static(r, RC_GET, 0, "x", 1),
                   RC_ERR_INVAL);
  assert_int_equal(rc_resource_set_static(r, RC_CONTENT, 70000, "x", 1),
                   RC_ERR_INVAL);
  assert_int_equal(rc_resource_add(f->server, "/st/big", 0, NULL, &r), RC_OK);
  assert_int_equal(rc_resource_set_static(r, RC_CONTENT, 1000, big,
                                          sizeof big),
                   RC_OK);
  assert_int_equal(rc_resource_add(f->server, "/st/empty", 0, NULL, &r),
                   RC_OK);
  assert_int_equal(rc_resource_set_static(r, RC_VALID, -1, NULL, 0), RC_OK);

  static_result res;
  static_get(f, "/st/small", NULL, 0, &res);
  assert_int_equal(res.code, RC_CONTENT);
  assert_int_equal(res.cf, RC_CF_TEXT_PLAIN);
  assert_int_equal(res.len, 12);
  assert_memory_equal(res.body, "static hello", 12);
  assert_false(res.has_b2);

  static_get(f, "/st/empty", NULL, 0, &res);
  assert_int_equal(res.code, RC_VALID);
  assert_int_equal(res.cf, -1);
  assert_int_equal(res.len, 0);

  static_get(f, "/st/big", NULL, 0, &res);
  assert_int_equal(res.code, RC_CONTENT);
  assert_int_equal(res.cf, 1000);
  assert_int_equal(res.len, sizeof big);
  assert_memory_equal(res.body, big, sizeof big);

  /* Block2 num 1, 16-byte blocks: bytes 16..31 with M set (RFC 7959). */
  uint8_t b2v[3];
  rc_block want = {1, 0, 0};
  rc_opt b2 = {RC_OPT_BLOCK2, (uint32_t)rc_block_encode(&want, b2v), b2v};
  static_get(f, "/st/big", &b2, 1, &res);
  assert_int_equal(res.code, RC_CONTENT);
  assert_true(res.has_b2);
  assert_int_equal(res.b2.num, 1);
  assert_int_equal(res.b2.szx, 0);
  assert_true(res.b2.more);
  assert_int_equal(res.len, 16);
  assert_memory_equal(res.body, big + 16, 16);

  /* RFC 7252 §5.4.1: an unrecognized critical option gets 4.02. */
  uint8_t v = 1;
  rc_opt crit = {65001, 1, &v};
  static_get(f, "/st/small", &crit, 1, &res);
  assert_int_equal(res.code, RC_BAD_OPTION);
  /* RFC 7252 §5.10.4: an Accept it cannot give, 4.06. */
  uint8_t acc = 50;
  rc_opt accept = {RC_OPT_ACCEPT, 1, &acc};
  static_get(f, "/st/small", &accept, 1, &res);
  assert_int_equal(res.code, RC_NOT_ACCEPTABLE);

  /* RFC 7252 §5.9.2.6: 4.05 for a method it has no handler for. */
  char u[128];
  uri(f, u, sizeof u, 0, "/st/small");
  result pr = {0};
  rc_request_opts ro = {0};
  assert_int_equal(rc_request(f->client, RC_PUT, u, &ro, on_result, &pr),
                   RC_OK);
  run_until(f, &pr.calls, 1);
  assert_int_equal(pr.code, RC_METHOD_NOT_ALLOWED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_methods_v4_v6, setup, teardown),
      cmocka_unit_test_setup_teardown(test_not_found_and_method, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_path_matching, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lookup_memo, setup, teardown),
      cmocka_unit_test_setup_teardown(test_discovery_filter, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_one_connection, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_server_initiated_request, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_graceful_shutdown_release, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_follow_release, setup, teardown),
      cmocka_unit_test_setup_teardown(test_udp_methods, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_uris, setup, teardown),
      cmocka_unit_test_setup_teardown(test_static_representation, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
