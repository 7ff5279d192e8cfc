/*
 * The proxy API on loopback coap+tcp, three contexts on one loop: a client,
 * a proxy and an origin whose /echo answers with the path and Hop-Limit it
 * got. Forwarding by Proxy-Uri and by route, Hop-Limit inserted and
 * decremented and 5.08 at 1, refusals (not allowed, own listener, not a
 * proxy) with their diagnostics, and the pattern and route checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "rcoap/app.h"
#include "rcoap/app_proxy.h"

typedef struct result {
  int calls;
  rc_err status;
  uint8_t code;
  char payload[300];
} result;

typedef struct fx {
  uv_loop_t loop;
  rc_context *client, *proxy, *origin;
  uint16_t pport, oport;
  uv_timer_t guard;
} fx;

static void on_result(void *arg, rc_err status, const rc_msg *resp,
                      const char *detail) {
  result *r = arg;
  (void)detail;
  r->calls++;
  r->status = status;
  if (resp) {
    r->code = resp->code;
    snprintf(r->payload, sizeof r->payload, "%.*s", (int)resp->payload_len,
             (const char *)resp->payload);
  }
}

static void h_echo(rc_context *ctx, rc_resource *res, rc_xreq *req,
                   void *user) {
  (void)ctx;
  (void)res;
  (void)user;
  const rc_msg *m = rc_xreq_msg(req);
  char path[128], q[64] = "";
  rc_req_path(req, path, sizeof path);
  rc_msg_query(m, q, sizeof q);
  rc_opt o;
  uint32_t hops = 0;
  if (rc_msg_find_opt(m, RC_OPT_HOP_LIMIT, &o))
    rc_opt_uint(&o, &hops);
  int proxy_uri = rc_msg_find_opt(m, RC_OPT_PROXY_URI, &o);
  char body[256];
  int n = snprintf(body, sizeof body, "%s?%s hops=%u proxy-uri=%d", path, q,
                   hops, proxy_uri);
  rc_respond(req, RC_CONTENT, RC_CF_TEXT_PLAIN, body, (size_t)n);
}

static void guard_fire(uv_timer_t *t) { uv_stop(t->loop); }

static rc_context *ctx_new(fx *f) {
  rc_context_opts o = {.loop = &f->loop, .log_level = 1};
  rc_context *c;
  assert_int_equal(rc_context_new(&c, &o), RC_OK);
  return c;
}

static int setup(void **state) {
  static fx f;
  memset(&f, 0, sizeof f);
  uv_loop_init(&f.loop);
  f.client = ctx_new(&f);
  f.proxy = ctx_new(&f);
  f.origin = ctx_new(&f);
  rc_resource *r;
  assert_int_equal(rc_resource_add(f.origin, "/echo", RC_RES_PREFIX, NULL, &r),
                   RC_OK);
  rc_resource_on(r, RC_GET, h_echo);
  char err[128];
  assert_int_equal(rc_context_listen(f.origin, RC_CONN_TCP, "127.0.0.1:0",
                                     NULL, NULL, &f.oport, err, sizeof err),
                   RC_OK);
  assert_int_equal(rc_context_listen(f.proxy, RC_CONN_TCP, "127.0.0.1:0", NULL,
                                     NULL, &f.pport, err, sizeof err),
                   RC_OK);
  rc_proxy_opts po = {.forward = 1, .timeout_ms = 3000};
  assert_int_equal(rc_proxy_enable(f.proxy, &po), RC_OK);
  char pat[64], target[96];
  snprintf(pat, sizeof pat, "coap+tcp://127.0.0.1:%u", f.oport);
  assert_int_equal(rc_proxy_allow(f.proxy, pat), RC_OK);
  assert_int_equal(rc_proxy_allow(f.proxy, "coap+tcp://127.0.0.1:*"), RC_OK);
  snprintf(target, sizeof target, "coap+tcp://127.0.0.1:%u/echo/", f.oport);
  assert_int_equal(rc_proxy_route(f.proxy, "/r", target), RC_OK);
  uv_timer_init(&f.loop, &f.guard);
  *state = &f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  rc_context_free(f->client);
  rc_context_free(f->proxy);
  rc_context_free(f->origin);
  uv_close((uv_handle_t *)&f->guard, NULL);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  return 0;
}

/* GET path on the proxy with the given extra options; runs to the answer. */
static void get(fx *f, const char *path, const rc_opt *opts, size_t n,
                result *r) {
  char uri[256];
  snprintf(uri, sizeof uri, "coap+tcp://127.0.0.1:%u%s", f->pport, path);
  memset(r, 0, sizeof *r);
  rc_request_opts ro = {.opts = opts, .nopts = n, .timeout_ms = 4000};
  assert_int_equal(rc_request(f->client, RC_GET, uri, &ro, on_result, r),
                   RC_OK);
  uv_timer_start(&f->guard, guard_fire, 8000, 0);
  while (!r->calls && uv_run(&f->loop, UV_RUN_ONCE))
    ;
  uv_timer_stop(&f->guard);
  assert_int_equal(r->calls, 1);
  assert_int_equal(r->status, RC_OK);
}

static rc_opt str_opt(uint16_t num, const char *s) {
  return (rc_opt){.num = num, .len = (uint32_t)strlen(s),
                  .val = (const uint8_t *)s};
}

static void test_forward_proxy_uri(void **state) {
  fx *f = *state;
  char target[96];
  snprintf(target, sizeof target, "coap+tcp://127.0.0.1:%u/echo/a?x=1",
           f->oport);
  rc_opt o = str_opt(RC_OPT_PROXY_URI, target);
  result r;
  get(f, "/", &o, 1, &r);
  assert_int_equal(r.code, RC_CONTENT);
  assert_string_equal(r.payload, "/echo/a?x=1 hops=16 proxy-uri=0");
}

static void test_forward_proxy_scheme(void **state) {
  fx *f = *state;
  uint8_t port[2] = {(uint8_t)(f->oport >> 8), (uint8_t)f->oport};
  rc_opt o[3] = {str_opt(RC_OPT_URI_HOST, "127.0.0.1"),
                 {.num = RC_OPT_URI_PORT, .len = 2, .val = port},
                 str_opt(RC_OPT_PROXY_SCHEME, "coap+tcp")};
  result r;
  get(f, "/echo/z?k=v", o, 3, &r);
  assert_int_equal(r.code, RC_CONTENT);
  assert_string_equal(r.payload, "/echo/z?k=v hops=16 proxy-uri=0");
  get(f, "/echo/z", &o[2], 1, &r); /* no Uri-Host: this proxy itself */
  assert_int_equal(r.code, RC_PROXYING_NOT_SUPPORTED);
  assert_non_null(strstr(r.payload, "without Uri-Host"));
}

static void test_forward_hop_limit(void **state) {
  fx *f = *state;
  char target[96];
  snprintf(target, sizeof target, "coap+tcp://127.0.0.1:%u/echo", f->oport);
  uint8_t five = 5, one = 1;
  rc_opt o[2] = {{.num = RC_OPT_HOP_LIMIT, .len = 1, .val = &five},
                 str_opt(RC_OPT_PROXY_URI, target)};
  result r;
  get(f, "/", o, 2, &r);
  assert_string_equal(r.payload, "/echo? hops=4 proxy-uri=0");
  o[0].val = &one;
  get(f, "/", o, 2, &r);
  assert_int_equal(r.code, RC_HOP_LIMIT_REACHED);
  assert_non_null(strstr(r.payload, "hop limit reached"));
}

static void test_route(void **state) {
  fx *f = *state;
  result r;
  get(f, "/r/a/b?q=1", NULL, 0, &r);
  assert_int_equal(r.code, RC_CONTENT);
  assert_string_equal(r.payload, "/echo/a/b?q=1 hops=16 proxy-uri=0");
  get(f, "/r", NULL, 0, &r);
  assert_string_equal(r.payload, "/echo? hops=16 proxy-uri=0");
  get(f, "/.well-known/core", NULL, 0, &r);
  assert_non_null(strstr(r.payload, "</r>"));
}

static void test_refusals(void **state) {
  fx *f = *state;
  result r;
  rc_opt o = str_opt(RC_OPT_PROXY_URI, "coap+tcp://127.0.0.2:5683/x");
  get(f, "/", &o, 1, &r);
  assert_int_equal(r.code, RC_PROXYING_NOT_SUPPORTED);
  assert_string_equal(r.payload, "proxy: coap+tcp://127.0.0.2:5683 is not an "
                                 "allowed destination (--proxy-allow)");
  char own[96];
  snprintf(own, sizeof own, "coap+tcp://127.0.0.1:%u/r", f->pport);
  o = str_opt(RC_OPT_PROXY_URI, own);
  get(f, "/", &o, 1, &r);
  assert_int_equal(r.code, RC_PROXYING_NOT_SUPPORTED);
  assert_non_null(strstr(r.payload, "is this proxy itself"));
  /* coaps:// is a scheme the proxy speaks: past the scheme check, the
   * allow list decides. */
  o = str_opt(RC_OPT_PROXY_URI, "coaps://127.0.0.1/x");
  get(f, "/", &o, 1, &r);
  assert_int_equal(r.code, RC_PROXYING_NOT_SUPPORTED);
  assert_string_equal(r.payload, "proxy: coaps://127.0.0.1:5684 is not an "
                                 "allowed destination (--proxy-allow)");
  o = str_opt(RC_OPT_PROXY_URI, "http://example.com/");
  get(f, "/", &o, 1, &r);
  assert_int_equal(r.code, RC_BAD_REQUEST);
  /* An unknown option that is unsafe to forward (RFC 7252 §5.7.2: 4.02
   * from the proxy): 65002 is elective (even) and unsafe (bit 1). */
  rc_opt two[2] = {o, str_opt(65002, "x")};
  snprintf(own, sizeof own, "coap+tcp://127.0.0.1:%u/echo", f->oport);
  two[0] = str_opt(RC_OPT_PROXY_URI, own);
  get(f, "/", two, 2, &r);
  assert_int_equal(r.code, RC_BAD_OPTION);
  assert_non_null(strstr(r.payload, "unsafe option 65002"));
  /* The origin is no proxy: 5.05 (RFC 7252 §5.10.2). */
  char uri[96];
  snprintf(uri, sizeof uri, "coap+tcp://127.0.0.1:%u/", f->oport);
  memset(&r, 0, sizeof r);
  rc_request_opts ro = {.opts = &two[0], .nopts = 1};
  assert_int_equal(rc_request(f->client, RC_GET, uri, &ro, on_result, &r),
                   RC_OK);
  while (!r.calls && uv_run(&f->loop, UV_RUN_ONCE))
    ;
  assert_int_equal(r.code, RC_PROXYING_NOT_SUPPORTED);
  assert_non_null(strstr(r.payload, "not a forward proxy"));
}

static void test_patterns(void **state) {
  fx *f = *state;
  static const char *const bad[] = {"nope",           "coap://",
                                    "coap://h:0",     "bogus://h",
                                    "coap://[::1",    "coap://h:99999",
                                    "coap://h:1x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(rc_proxy_allow(f->proxy, bad[i]), RC_ERR_INVAL);
  assert_int_equal(rc_proxy_allow(f->proxy, "*://*"), RC_OK);
  assert_int_equal(rc_proxy_allow(f->proxy, "coap://[::1]:*"), RC_OK);
  assert_int_equal(rc_proxy_allow(f->proxy, "coap+ws://192.168.*"), RC_OK);
  assert_int_equal(rc_proxy_route(f->proxy, "/", "coap://h/x"), RC_ERR_INVAL);
  assert_int_equal(rc_proxy_route(f->proxy, "x", "coap://h/x"), RC_ERR_INVAL);
  assert_int_equal(rc_proxy_route(f->proxy, "/y", "http://h/x"), RC_ERR_INVAL);
  assert_int_equal(rc_proxy_route(f->proxy, "/r", "coap://h/x"),
                   RC_ERR_EXISTS);
  assert_int_equal(rc_proxy_allow(f->client, "*://*"), RC_ERR_INVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_forward_proxy_uri),
      cmocka_unit_test(test_forward_proxy_scheme),
      cmocka_unit_test(test_forward_hop_limit),
      cmocka_unit_test(test_route),
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_patterns),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
