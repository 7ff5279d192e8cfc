/*
 * Parking through the app layer, over real loopback sockets: a server
 * context with park_after_ms parks an idle coap+tcp connection (its
 * exchange freed, its peer shrunk to the list head) and wakes it for the
 * next request: answered as before, the client's Max-Message-Size still
 * deciding whether an answer goes whole or block-wise, no second CSM; a
 * connection with an observation does not park, and parks once the
 * observation is cancelled; a graceful shutdown releases a parked
 * connection; a parked idle connection holds PARKED_BLOCKS blocks of
 * PARKED_BYTES through the context's allocator; and freeing the context
 * with a parked connection leaves no block and no descriptor behind.
 * Every wait is bounded by a guard timer.
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
#include "test_counting.h"
#include "test_fds.h"
#include "test_run.h"

#define GUARD_MS 8000
#define PARK_MS 30u
#define BIG_LEN 3000u
/* A parked server connection, counted through the context's rc_mem
 * (64-bit): one record of the loop's parking set (96 B: the socket, the
 * session's 32-byte record, a timer node, list links, the last I/O time
 * and a pointer to the profile that the context's parked connections
 * share: the app's callbacks, the context as their user, the listener's
 * settings; src/transport/park_int.h). Its rc_conn (488 B with libuv's
 * uv_tcp_t), chain (208 B), session (600 B), exchange (248 B) and app
 * peer (168 B) are freed. */
#define PARKED_BLOCKS 1u
#define PARKED_BYTES 96u

typedef struct fx {
  uv_loop_t loop;
  uv_timer_t guard;
  int timed_out;
  counting cnt;
  rc_mem mem;
  rc_context *server, *client;
  rc_resource *obs_res;
  uint16_t port;
  int value;
  int csm_sent, contents_sent; /* by the server, seen by its trace */
  int shutdown_done;
  int fds; /* open before the loop was made */
} fx;

typedef struct result {
  int calls;
  rc_err status;
  uint8_t code;
  size_t len;
} result;

#define RUN_UNTIL(f, cond) RUN_UNTIL_MS(f, cond, GUARD_MS)

static void on_trace(void *user, char dir, const rc_msg *m) {
  fx *f = user;
  if (dir != '>')
    return;
  if (m->code == RC_SIG_CSM)
    f->csm_sent++;
  if (m->code == RC_CONTENT)
    f->contents_sent++;
}

static void h_echo(rc_context *ctx, rc_resource *res, rc_xreq *req,
                   void *user) {
  (void)ctx;
  (void)res;
  (void)user;
  const rc_msg *m = rc_xreq_msg(req);
  rc_respond(req, RC_CONTENT, RC_CF_TEXT_PLAIN, m->payload, m->payload_len);
}

static void h_big(rc_context *ctx, rc_resource *res, rc_xreq *req,
                  void *user) {
  (void)ctx;
  (void)res;
  (void)user;
  static uint8_t body[BIG_LEN];
  memset(body, 'b', sizeof body);
  rc_respond(req, RC_CONTENT, RC_CF_TEXT_PLAIN, body, sizeof body);
}

static void h_obs(rc_context *ctx, rc_resource *res, rc_xreq *req,
                  void *user) {
  (void)ctx;
  (void)res;
  fx *f = user;
  char b[16];
  int n = snprintf(b, sizeof b, "%d", f->value);
  rc_respond(req, RC_CONTENT, RC_CF_TEXT_PLAIN, b, (size_t)n);
}

static void on_result(void *arg, rc_err status, const rc_msg *resp,
                      const char *detail) {
  result *r = arg;
  (void)detail;
  r->calls++;
  r->status = status;
  if (resp) {
    r->code = resp->code;
    r->len = resp->payload_len;
  }
}

/* A client context whose CSM announces Max-Message-Size mms. */
static rc_context *client_new(fx *f, uint32_t mms) {
  rc_session_config sc;
  rc_session_config_default(&sc, RC_FRAMING_TCP, RC_SESSION_CLIENT);
  sc.max_msg_size = mms;
  rc_context_opts o = {0};
  o.loop = &f->loop;
  o.session = &sc;
  rc_context *c;
  assert_int_equal(rc_context_new(&c, &o), RC_OK);
  return c;
}

static int setup_mem(void **state, int counted) {
  fx *f = calloc(1, sizeof *f);
  f->fds = fd_count();
  uv_loop_init(&f->loop);
  uv_timer_init(&f->loop, &f->guard);
  f->guard.data = &f->timed_out;
  f->mem = (rc_mem){cnt_malloc, cnt_realloc, cnt_free, &f->cnt};
  rc_context_opts o = {0};
  o.loop = &f->loop;
  o.mem = counted ? &f->mem : NULL;
  o.park_after_ms = PARK_MS;
  o.on_trace = on_trace;
  o.trace_user = f;
  assert_int_equal(rc_context_new(&f->server, &o), RC_OK);
  rc_resource *r;
  assert_int_equal(rc_resource_add(f->server, "/echo", 0, f, &r), RC_OK);
  rc_resource_on(r, RC_GET, h_echo);
  assert_int_equal(rc_resource_add(f->server, "/big", 0, f, &r), RC_OK);
  rc_resource_on(r, RC_GET, h_big);
  assert_int_equal(rc_resource_add(f->server, "/obs", 0, f, &f->obs_res),
                   RC_OK);
  rc_resource_on(f->obs_res, RC_GET, h_obs);
  assert_int_equal(rc_resource_set_observable(f->obs_res), RC_OK);
  char err[200];
  assert_int_equal(rc_context_listen(f->server, RC_CONN_TCP, "127.0.0.1:0",
                                     NULL, NULL, &f->port, err, sizeof err),
                   RC_OK);
  f->client = client_new(f, 4096);
  *state = f;
  return 0;
}

static int setup(void **state) { return setup_mem(state, 1); }
/* The server on the C library's allocator: conns and parked heads in
 * slab pages (common/slab.h). */
static int setup_default(void **state) { return setup_mem(state, 0); }

static int teardown(void **state) {
  fx *f = *state;
  rc_context_free(f->client);
  rc_context_free(f->server);
  test_loop_end(&f->loop, &f->guard);
  assert_int_equal(f->cnt.blocks, 0);
  /* a parked connection's socket and the parking set's epoll too */
  assert_int_equal(fd_count(), f->fds);
  free(f);
  return 0;
}

static void get(fx *f, const char *path, result *r) {
  char uri[96];
  snprintf(uri, sizeof uri, "coap+tcp://127.0.0.1:%u%s", f->port, path);
  int before = r->calls;
  assert_int_equal(
      rc_request(f->client, RC_GET, uri, NULL, on_result, r), RC_OK);
  RUN_UNTIL(f, r->calls == before + 1);
  assert_int_equal(r->status, RC_OK);
  assert_int_equal(r->code, RC_CONTENT);
}

/* Parked between requests: each answered, and the client's 4096-byte
 * Max-Message-Size still lets the 3000-byte body go in one message after
 * the wake (the base 1152 would make it three Block2 answers). */
static void test_requests_across_parking(void **state) {
  fx *f = *state;
  result r = {0};
  get(f, "/big", &r);
  assert_int_equal(r.len, BIG_LEN);
  assert_int_equal(f->contents_sent, 1);
  RUN_UNTIL(f, rc_context_parked(f->server) == 1);
  get(f, "/big", &r);
  assert_int_equal(r.len, BIG_LEN);
  assert_int_equal(f->contents_sent, 2);
  RUN_UNTIL(f, rc_context_parked(f->server) == 1);
  get(f, "/echo", &r);
  RUN_UNTIL(f, rc_context_parked(f->server) == 1);
  assert_int_equal(rc_context_connections(f->server), 1);
  assert_int_equal(f->csm_sent, 1); /* RFC 8323 §3.3: once */
}

/* A client whose CSM says 1152: the same body goes block-wise, before
 * and after parking alike. */
static void test_block_wise_across_parking(void **state) {
  fx *f = *state;
  rc_context_free(f->client);
  f->client = client_new(f, 1152);
  result r = {0};
  get(f, "/big", &r);
  assert_int_equal(r.len, BIG_LEN);
  int first = f->contents_sent;
  assert_true(first >= 3);
  RUN_UNTIL(f, rc_context_parked(f->server) == 1);
  get(f, "/big", &r);
  assert_int_equal(r.len, BIG_LEN);
  assert_int_equal(f->contents_sent, 2 * first);
}

static void on_note(void *arg, rc_err status, const rc_msg *resp,
                    const char *detail) {
  result *r = arg;
  (void)detail;
  if (status == RC_OK && resp)
    r->calls++;
}

/* An observation keeps the connection up; cancelled, it parks. */
static void test_observation_prevents_parking(void **state) {
  fx *f = *state;
  char uri[96];
  snprintf(uri, sizeof uri, "coap+tcp://127.0.0.1:%u/obs", f->port);
  result n = {0};
  rc_observation *obs;
  assert_int_equal(rc_observe(f->client, uri, NULL, on_note, &n, &obs),
                   RC_OK);
  RUN_UNTIL(f, n.calls == 1);
  RUN_FOR(f, 10 * PARK_MS);
  assert_int_equal(rc_context_parked(f->server), 0);
  f->value = 2;
  assert_int_equal(rc_resource_notify(f->obs_res), RC_OK);
  RUN_UNTIL(f, n.calls == 2);
  rc_observe_cancel(obs);
  RUN_UNTIL(f, rc_resource_observers(f->obs_res) == 0);
  RUN_UNTIL(f, rc_context_parked(f->server) == 1);
}

static void on_shutdown(void *arg) {
  fx *f = arg;
  f->shutdown_done = 1;
}

/* A graceful shutdown wakes a parked connection for its Release; the
 * client closes it and the shutdown completes. */
static void test_shutdown_releases_parked(void **state) {
  fx *f = *state;
  result r = {0};
  get(f, "/echo", &r);
  RUN_UNTIL(f, rc_context_parked(f->server) == 1);
  assert_int_equal(rc_context_shutdown(f->server, "bye", 5000, on_shutdown, f),
                   RC_OK);
  RUN_UNTIL(f, f->shutdown_done == 1);
  assert_int_equal(rc_context_connections(f->server), 0);
}

/* What one parked connection holds through the server's allocator,
 * against the server before the connection (a first connection came
 * and went: the context's pools are warm). */
static void test_parked_bytes_counted(void **state) {
  fx *f = *state;
  result r = {0};
  get(f, "/echo", &r);
  rc_context_free(f->client);
  RUN_UNTIL(f, rc_context_connections(f->server) == 0);
  for (int i = 0; i < 5; i++)
    uv_run(&f->loop, UV_RUN_NOWAIT);
  size_t blocks = f->cnt.blocks, bytes = f->cnt.bytes;
  f->client = client_new(f, 4096);
  get(f, "/echo", &r);
  RUN_UNTIL(f, rc_context_parked(f->server) == 1);
  for (int i = 0; i < 5; i++) /* the conn is freed on a later turn */
    uv_run(&f->loop, UV_RUN_NOWAIT);
  fprintf(stderr, "  memory: parked server connection: %zu blocks, %zu bytes "
          "(counted)\n", f->cnt.blocks - blocks, f->cnt.bytes - bytes);
  assert_int_equal(f->cnt.blocks - blocks, PARKED_BLOCKS);
  if (sizeof(void *) == 8)
    assert_int_equal(f->cnt.bytes - bytes, PARKED_BYTES);
}

int main(void) {
  /* libuv's first loop opens its process-wide signal pipe: before any
   * test counts descriptors */
  uv_loop_t warm;
  uv_loop_init(&warm);
  uv_loop_close(&warm);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_requests_across_parking, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_block_wise_across_parking, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_observation_prevents_parking,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_shutdown_releases_parked, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_parked_bytes_counted, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_requests_across_parking,
                                      setup_default, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
