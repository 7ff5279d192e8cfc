/*
 * Observe and block-wise through the whole stack in one process, over real
 * loopback TCP: a server context with an observable resource and ten
 * client contexts (ten connections), each observing it ten times (ten
 * tokens on one connection: RFC 7641 §4.1 keeps every one). Every one of
 * the 100 observers must get every notification, in order; closing a
 * client's connection removes its observers (RFC 8323 §7.4), cancelling
 * deregisters one. Also three block-wise transfers at once on one
 * connection through rc_request (two downloads, one upload).
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
#include "rcoap/codec_frame.h"

#include <sys/socket.h>

#define GUARD_MS 10000
#define NCLIENTS 10
#define NOBS 10
#define ROUNDS 20

typedef struct fixture {
  uv_loop_t loop;
  rc_context *server;
  rc_context *clients[NCLIENTS];
  rc_resource *res;
  uint16_t port;
  uv_timer_t guard;
  int guard_fired;
  int value;
  int gets; /* h_wide_counted's calls */
  char logs[4096];
} fixture;

typedef struct watcher {
  rc_observation *obs;
  int got;        /* notifications seen */
  int last;       /* last value */
  int out_of_order;
  int errors;
} watcher;

static void on_log(void *user, int level, const char *text) {
  fixture *f = user;
  (void)level;
  size_t n = strlen(f->logs);
  if (n + 200 < sizeof f->logs)
    snprintf(f->logs + n, sizeof f->logs - n, "%s\n", text);
}

static void h_obs(rc_context *ctx, rc_resource *res, rc_xreq *req,
                  void *user) {
  (void)ctx;
  (void)res;
  fixture *f = user;
  char body[16];
  int n = snprintf(body, sizeof body, "%d", f->value);
  rc_respond(req, RC_CONTENT, RC_CF_TEXT_PLAIN, body, (size_t)n);
}

static uint8_t pat(size_t i) { return (uint8_t)((i * 13 + 5) % 253); }

static void h_big(rc_context *ctx, rc_resource *res, rc_xreq *req,
                  void *user) {
  (void)ctx;
  (void)user;
  size_t n = 3u * 1024u * 1024u + 777u;
  uint8_t *b = malloc(n);
  for (size_t i = 0; i < n; i++)
    b[i] = pat(i + rc_resource_path(res)[4]);
  rc_respond(req, RC_CONTENT, 42, b, n);
  free(b);
}

static void h_up(rc_context *ctx, rc_resource *res, rc_xreq *req,
                 void *user) {
  (void)ctx;
  (void)res;
  (void)user;
  const rc_msg *m = rc_xreq_msg(req);
  size_t bad = 0;
  for (size_t i = 0; i < m->payload_len; i++)
    bad += m->payload[i] != pat(i);
  char body[48];
  int k = snprintf(body, sizeof body, "%zu %zu", m->payload_len, bad);
  rc_respond(req, RC_CHANGED, 0, body, (size_t)k);
}

/* The decimal payload (not NUL-terminated: it ends where the message
 * does). */
static int payload_int(const rc_msg *m) {
  int v = 0;
  for (size_t i = 0; i < m->payload_len && i < 9; i++)
    v = v * 10 + (m->payload[i] - '0');
  return v;
}

static void on_note(void *arg, rc_err status, const rc_msg *resp,
                    const char *detail) {
  watcher *w = arg;
  (void)detail;
  if (status != RC_OK || !resp) {
    w->errors++;
    return;
  }
  int v = payload_int(resp);
  if (w->got && v <= w->last)
    w->out_of_order++;
  w->last = v;
  w->got++;
}

static void guard_fire(uv_timer_t *t) {
  fixture *f = t->data;
  f->guard_fired = 1;
}

static int all_got(watcher *ws, int n, int want) {
  for (int i = 0; i < n; i++)
    if (ws[i].obs && ws[i].got < want)
      return 0;
  return 1;
}

/* Runs the loop until cond(f) or the guard. */
#define RUN_UNTIL(f, cond)                                                     \
  do {                                                                         \
    uv_timer_start(&(f)->guard, guard_fire, GUARD_MS, 0);                      \
    while (!(cond) && !(f)->guard_fired)                                       \
      uv_run(&(f)->loop, UV_RUN_ONCE);                                         \
    uv_timer_stop(&(f)->guard);                                                \
    if ((f)->guard_fired)                                                      \
      fail_msg("timed out waiting for %s (logs:\n%s)", #cond, (f)->logs);     \
  } while (0)

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  uv_loop_init(&f->loop);
  uv_timer_init(&f->loop, &f->guard);
  f->guard.data = f;
  rc_context_opts o = {0};
  o.loop = &f->loop;
  o.on_log = on_log;
  o.log_user = f;
  o.log_level = RC_SESSION_LOG_WARN;
  /* 1 MiB BERT messages: the 2-3 MiB bodies below go in several. */
  static rc_exchange_block_config bc;
  rc_exchange_block_config_default(&bc);
  bc.bert_max = 1024u * 1024u;
  o.block = &bc;
  assert_int_equal(rc_context_new(&f->server, &o), RC_OK);
  for (int i = 0; i < NCLIENTS; i++)
    assert_int_equal(rc_context_new(&f->clients[i], &o), RC_OK);
  assert_int_equal(rc_resource_add(f->server, "/obs", 0, f, &f->res), RC_OK);
  rc_resource_on(f->res, RC_GET, h_obs);
  assert_int_equal(rc_resource_set_observable(f->res), RC_OK);
  rc_resource *r;
  assert_int_equal(rc_resource_add(f->server, "/bigA", 0, f, &r), RC_OK);
  rc_resource_on(r, RC_GET, h_big);
  assert_int_equal(rc_resource_add(f->server, "/bigB", 0, f, &r), RC_OK);
  rc_resource_on(r, RC_GET, h_big);
  assert_int_equal(rc_resource_add(f->server, "/up", 0, f, &r), RC_OK);
  rc_resource_on(r, RC_PUT, h_up);
  char err[256];
  assert_int_equal(rc_context_listen(f->server, RC_CONN_TCP, "127.0.0.1:0",
                                     NULL, NULL, &f->port, err, sizeof err),
                   RC_OK);
  *state = f;
  return 0;
}

static void close_cb(uv_handle_t *h) { (void)h; }

static int teardown(void **state) {
  fixture *f = *state;
  for (int i = 0; i < NCLIENTS; i++)
    rc_context_free(f->clients[i]);
  rc_context_free(f->server);
  uv_close((uv_handle_t *)&f->guard, close_cb);
  for (int i = 0; i < 1000 && uv_run(&f->loop, UV_RUN_NOWAIT); i++)
    ;
  assert_int_equal(uv_loop_close(&f->loop), 0);
  free(f);
  return 0;
}

static void test_hundred_observers(void **state) {
  fixture *f = *state;
  static watcher ws[NCLIENTS * NOBS];
  memset(ws, 0, sizeof ws);
  char uri[64];
  snprintf(uri, sizeof uri, "coap+tcp://127.0.0.1:%u/obs", f->port);
  for (int c = 0; c < NCLIENTS; c++)
    for (int k = 0; k < NOBS; k++)
      assert_int_equal(rc_observe(f->clients[c], uri, NULL, on_note,
                                  &ws[c * NOBS + k], &ws[c * NOBS + k].obs),
                       RC_OK);
  RUN_UNTIL(f, all_got(ws, NCLIENTS * NOBS, 1));
  assert_int_equal(rc_resource_observers(f->res), NCLIENTS * NOBS);
  for (int i = 0; i < NCLIENTS; i++)
    assert_int_equal(rc_context_connections(f->clients[i]), 1);
  for (int round = 1; round <= ROUNDS; round++) {
    f->value = round;
    assert_int_equal(rc_resource_notify(f->res), RC_OK);
    if (round % 5 == 0) /* some rounds back to back, some drained */
      RUN_UNTIL(f, all_got(ws, NCLIENTS * NOBS, 1 + round));
  }
  RUN_UNTIL(f, all_got(ws, NCLIENTS * NOBS, 1 + ROUNDS));
  for (int i = 0; i < NCLIENTS * NOBS; i++) {
    assert_int_equal(ws[i].got, 1 + ROUNDS);
    assert_int_equal(ws[i].last, ROUNDS);
    assert_int_equal(ws[i].out_of_order, 0);
    assert_int_equal(ws[i].errors, 0);
  }
  /* One observation cancelled: deregistered at the server. */
  rc_observe_cancel(ws[0].obs);
  ws[0].obs = NULL;
  RUN_UNTIL(f, rc_resource_observers(f->res) == NCLIENTS * NOBS - 1);
  /* A client gone: its connection's observers go with it. */
  for (int k = 0; k < NOBS; k++) {
    rc_observe_cancel(ws[NOBS + k].obs); /* frees handles; conn stays */
    ws[NOBS + k].obs = NULL;
  }
  RUN_UNTIL(f, rc_resource_observers(f->res) == NCLIENTS * NOBS - 1 - NOBS);
  for (int k = 1; k < NOBS; k++)
    ws[k].obs = NULL; /* freed with the context below */
  rc_context_free(f->clients[0]);
  f->clients[0] = NULL;
  RUN_UNTIL(f, rc_resource_observers(f->res) ==
                   NCLIENTS * NOBS - 1 - NOBS - (NOBS - 1));
  /* The others still get notifications. */
  f->value = ROUNDS + 1;
  assert_int_equal(rc_resource_notify(f->res), RC_OK);
  RUN_UNTIL(f, all_got(ws, NCLIENTS * NOBS, 2 + ROUNDS));
  for (int i = 2 * NOBS; i < NCLIENTS * NOBS; i++)
    assert_int_equal(ws[i].last, ROUNDS + 1);
}

/* ---- runs of one connection's observers ---------------------------------
 * A round queues each connection's consecutive observers with one session
 * call, at most 32 at a time. Client 0 registers 70 observations (runs of
 * 32, 32 and 6), clients 1 and 2 one each between its 35th and 36th (the
 * resource's list then changes connection in the middle of client 0's
 * observers). Over ten rounds, some back to back in one turn, every
 * observer must get every value in order, and the statistics must count
 * exactly one notification per observer per round. */
#define RUN_OBS 70
static void test_runs_of_one_connection(void **state) {
  fixture *f = *state;
  static watcher ws[RUN_OBS + 2];
  memset(ws, 0, sizeof ws);
  char uri[64];
  snprintf(uri, sizeof uri, "coap+tcp://127.0.0.1:%u/obs", f->port);
  for (int k = 0; k < RUN_OBS + 2; k++) {
    int c = k == 35 ? 1 : k == 36 ? 2 : 0;
    assert_int_equal(rc_observe(f->clients[c], uri, NULL, on_note, &ws[k],
                                &ws[k].obs),
                     RC_OK);
    if (k >= 34 && k <= 36) /* registered in this order at the server */
      RUN_UNTIL(f, ws[k].got == 1);
  }
  RUN_UNTIL(f, all_got(ws, RUN_OBS + 2, 1));
  assert_int_equal(rc_resource_observers(f->res), RUN_OBS + 2);
  rc_notify_stats a, b;
  rc_context_notify_stats(f->server, &a);
  for (int round = 1; round <= 10; round++) {
    f->value = 100 + round;
    assert_int_equal(rc_resource_notify(f->res), RC_OK);
    if (round % 3 == 0)
      RUN_UNTIL(f, all_got(ws, RUN_OBS + 2, 1 + round));
  }
  RUN_UNTIL(f, all_got(ws, RUN_OBS + 2, 11));
  rc_context_notify_stats(f->server, &b);
  assert_int_equal(b.rounds - a.rounds, 10);
  assert_int_equal(b.notifications - a.notifications, 10 * (RUN_OBS + 2));
  assert_int_equal(b.skipped - a.skipped, 0);
  for (int k = 0; k < RUN_OBS + 2; k++) {
    assert_int_equal(ws[k].got, 11);
    assert_int_equal(ws[k].last, 110);
    assert_int_equal(ws[k].out_of_order, 0);
    assert_int_equal(ws[k].errors, 0);
  }
  for (int k = 0; k < RUN_OBS + 2; k++) {
    rc_observe_cancel(ws[k].obs);
    ws[k].obs = NULL;
  }
  RUN_UNTIL(f, rc_resource_observers(f->res) == 0);
}

/* ---- a connection's observers stay together ------------------------------
 * Two connections register two observations each on /obs, one after the
 * other in turn (A, B, A, B at the server). The server keeps each
 * connection's observers of a resource next to each other, so a round
 * finds each connection's two in one run: one direct write per
 * connection and nothing held for the turn's end (interleaved, each
 * connection's second run would be held and flushed). */
static void test_observers_grouped_by_connection(void **state) {
  fixture *f = *state;
  static watcher ws[4];
  memset(ws, 0, sizeof ws);
  char uri[64];
  snprintf(uri, sizeof uri, "coap+tcp://127.0.0.1:%u/obs", f->port);
  for (int k = 0; k < 4; k++) {
    assert_int_equal(rc_observe(f->clients[k % 2], uri, NULL, on_note, &ws[k],
                                &ws[k].obs),
                     RC_OK);
    RUN_UNTIL(f, ws[k].got == 1); /* registered in this order */
  }
  rc_notify_stats a, b;
  rc_context_notify_stats(f->server, &a);
  f->value = 77;
  assert_int_equal(rc_resource_notify(f->res), RC_OK);
  uv_run(&f->loop, UV_RUN_NOWAIT); /* the turn's end */
  rc_context_notify_stats(f->server, &b);
  assert_int_equal(b.notifications - a.notifications, 4);
  assert_int_equal(b.direct - a.direct, 2);
  assert_int_equal(b.flushes - a.flushes, 0);
  RUN_UNTIL(f, all_got(ws, 4, 2));
  for (int k = 0; k < 4; k++) {
    assert_int_equal(ws[k].last, 77);
    assert_int_equal(ws[k].errors, 0);
    rc_observe_cancel(ws[k].obs);
    ws[k].obs = NULL;
  }
  RUN_UNTIL(f, rc_resource_observers(f->res) == 0);
}

/* ---- several notifies in one loop turn: one write per connection --------
 * Two observable resources, each observed twice on every one of the ten
 * client connections. Two rounds of /obs and one of /obs2 in one turn
 * (called outside uv_run, then from a timer callback) must reach every
 * observer, and the server must write each connection at most twice per
 * turn: the first round at once (each connection has nothing queued:
 * one direct write each), the two others held to the turn's end: its
 * notify statistics count 10 direct writes and 10 flushes for 30
 * rounds' worth of output, and the kernel's count of this process's
 * write calls (/proc/self/io syscw) grows by exactly 20 over the rounds
 * and the loop iteration that flushes (the clients write nothing on a
 * notification). From a timer, the flush must come before the loop
 * blocks (its prepare phase): otherwise the poll would wait for the
 * guard. */

static int proc_syscw(unsigned long long *out) {
  FILE *fp = fopen("/proc/self/io", "r");
  if (!fp)
    return -1;
  char line[128];
  int found = -1;
  while (fgets(line, sizeof line, fp))
    if (sscanf(line, "syscw: %llu", out) == 1)
      found = 0;
  fclose(fp);
  return found;
}

typedef struct turn_ctx {
  fixture *f;
  rc_resource *res2;
} turn_ctx;

static void notify_three(fixture *f, rc_resource *res2) {
  f->value++;
  assert_int_equal(rc_resource_notify(f->res), RC_OK);
  f->value++;
  assert_int_equal(rc_resource_notify(f->res), RC_OK);
  assert_int_equal(rc_resource_notify(res2), RC_OK);
}

static void turn_timer_fire(uv_timer_t *t) {
  turn_ctx *tc = t->data;
  notify_three(tc->f, tc->res2);
}

static void test_notifies_one_write_per_turn(void **state) {
  fixture *f = *state;
  rc_resource *res2;
  assert_int_equal(rc_resource_add(f->server, "/obs2", 0, f, &res2), RC_OK);
  rc_resource_on(res2, RC_GET, h_obs);
  assert_int_equal(rc_resource_set_observable(res2), RC_OK);
  static watcher ws[NCLIENTS * 4];
  memset(ws, 0, sizeof ws);
  char uri[2][64];
  snprintf(uri[0], sizeof uri[0], "coap+tcp://127.0.0.1:%u/obs", f->port);
  snprintf(uri[1], sizeof uri[1], "coap+tcp://127.0.0.1:%u/obs2", f->port);
  for (int c = 0; c < NCLIENTS; c++)
    for (int k = 0; k < 4; k++)
      assert_int_equal(rc_observe(f->clients[c], uri[k / 2], NULL, on_note,
                                  &ws[c * 4 + k], &ws[c * 4 + k].obs),
                       RC_OK);
  RUN_UNTIL(f, all_got(ws, NCLIENTS * 4, 1));
  /* /obs: 1 + 2 notifications, /obs2: 1 + 1 */
  rc_notify_stats a, b;
  rc_context_notify_stats(f->server, &a);
  unsigned long long w0 = 0, w1 = 0;
  int have_io = proc_syscw(&w0) == 0;
  notify_three(f, res2);
  uv_run(&f->loop, UV_RUN_NOWAIT); /* prepare: the flush */
  if (have_io && proc_syscw(&w1) == 0)
    assert_int_equal(w1 - w0, 2 * NCLIENTS);
  rc_context_notify_stats(f->server, &b);
  assert_int_equal(b.rounds - a.rounds, 3);
  assert_int_equal(b.notifications - a.notifications, NCLIENTS * 6);
  assert_int_equal(b.direct - a.direct, NCLIENTS);
  assert_int_equal(b.flushes - a.flushes, NCLIENTS);
  for (int c = 0; c < NCLIENTS; c++)
    RUN_UNTIL(f, ws[c * 4].got == 3 && ws[c * 4 + 1].got == 3 &&
                     ws[c * 4 + 2].got == 2 && ws[c * 4 + 3].got == 2);
  /* From a timer callback: flushed before the loop waits again. */
  rc_context_notify_stats(f->server, &a);
  uv_timer_t t;
  turn_ctx tc = {f, res2};
  uv_timer_init(&f->loop, &t);
  t.data = &tc;
  uv_timer_start(&t, turn_timer_fire, 1, 0);
  for (int c = 0; c < NCLIENTS; c++)
    RUN_UNTIL(f, ws[c * 4].got == 5 && ws[c * 4 + 1].got == 5 &&
                     ws[c * 4 + 2].got == 3 && ws[c * 4 + 3].got == 3);
  rc_context_notify_stats(f->server, &b);
  assert_int_equal(b.rounds - a.rounds, 3);
  assert_int_equal(b.direct - a.direct, NCLIENTS);
  assert_int_equal(b.flushes - a.flushes, NCLIENTS);
  for (int i = 0; i < NCLIENTS * 4; i++) {
    assert_int_equal(ws[i].last, f->value);
    assert_int_equal(ws[i].out_of_order, 0);
    assert_int_equal(ws[i].errors, 0);
  }
  uv_close((uv_handle_t *)&t, close_cb);
  uv_run(&f->loop, UV_RUN_NOWAIT); /* t lives on this stack */
}

/* ---- byte-exact notifications to raw peers -------------------------------
 * Two raw TCP peers (a uv_tcp_t each, no rcoap client: the bytes are made
 * and read here) register four observations each on /obs with tokens of 0,
 * 1, 4 and 8 bytes, the two peers' tokens differing in every byte. After
 * each rc_resource_notify every observation must receive exactly the
 * bytes of a 2.05 with its own token, Observe = the round's value (the
 * same for all), Content-Format 0 and the payload: the options are
 * encoded once per round and copied behind each token, so a token of
 * another length or another observer's token would show here. */

#define RAW_PEERS 2
#define RAW_OBS 4
static const size_t raw_tkl[RAW_OBS] = {0, 1, 4, 8};

typedef struct raw_peer {
  uv_tcp_t tcp;
  uv_connect_t conn;
  uv_write_t wr;
  uint8_t out[512];
  size_t out_len;
  uint8_t in[8192];
  size_t in_len;
  size_t in_done; /* bytes already split into messages */
  int connected, closed;
  uint8_t tok[RAW_OBS][8];
  /* per observation: notifications seen and the bytes of the last one */
  int got[RAW_OBS];
  int last_val[RAW_OBS]; /* the last one's payload as a number */
  uint8_t last[RAW_OBS][64];
  size_t last_len[RAW_OBS];
  uint32_t last_obs[RAW_OBS]; /* the last one's Observe value */
  int obs_backwards; /* notifications whose Observe did not grow */
  int foreign; /* messages whose token is none of this peer's */
  int stall;   /* stops reading once its 1-byte token's observation is
                  answered */
  int val_at[RAW_OBS]; /* last_val[1] when a message on token k came */
} raw_peer;

static void raw_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b) {
  raw_peer *p = h->data;
  (void)sz;
  b->base = (char *)p->in + p->in_len;
  b->len = sizeof p->in - p->in_len;
}

/* Splits what arrived into messages; files each 2.05 under its token. */
static void raw_split(raw_peer *p) {
  for (;;) {
    rc_tcp_hdr h;
    const uint8_t *b = p->in + p->in_done;
    size_t avail = p->in_len - p->in_done;
    if (rc_tcp_hdr_parse(b, avail, &h) <= 0)
      return;
    size_t len = h.hdr_len + h.token_len + (size_t)h.body_len;
    if (len > avail)
      return;
    p->in_done += len;
    if (h.code != RC_CONTENT)
      continue; /* the server's CSM */
    int k = -1;
    for (int i = 0; i < RAW_OBS; i++)
      if (h.token_len == raw_tkl[i] &&
          !memcmp(b + h.hdr_len, p->tok[i], raw_tkl[i]))
        k = i;
    if (k < 0) {
      p->foreign++;
      continue;
    }
    p->got[k]++;
    p->val_at[k] = p->last_val[1];
    rc_msg m;
    if (rc_msg_parse(RC_FRAMING_TCP, b, len, &m) == RC_OK) {
      p->last_val[k] = payload_int(&m);
      rc_opt ob;
      uint32_t seq = 0;
      if (rc_msg_find_opt(&m, RC_OPT_OBSERVE, &ob) &&
          rc_opt_uint(&ob, &seq) == RC_OK) {
        if (p->got[k] > 1 && seq <= p->last_obs[k])
          p->obs_backwards++;
        p->last_obs[k] = seq;
      }
    }
    p->last_len[k] = len;
    if (len <= sizeof p->last[k])
      memcpy(p->last[k], b, len);
  }
}

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  raw_peer *p = s->data;
  (void)b;
  if (n < 0) {
    p->closed = 1;
    uv_read_stop(s);
    return;
  }
  p->in_len += (size_t)n;
  raw_split(p);
  if (p->in_done == p->in_len)
    p->in_len = p->in_done = 0;
  else if (p->in_done) { /* keep the unfinished message at the front */
    memmove(p->in, p->in + p->in_done, p->in_len - p->in_done);
    p->in_len -= p->in_done;
    p->in_done = 0;
  }
  if (p->stall && p->got[1])
    uv_read_stop(s);
}

static void raw_written(uv_write_t *w, int st) {
  (void)w;
  assert_int_equal(st, 0);
}

static void raw_connected(uv_connect_t *c, int st) {
  raw_peer *p = c->handle->data;
  assert_int_equal(st, 0);
  p->connected = 1;
  uv_read_start((uv_stream_t *)&p->tcp, raw_alloc, raw_read);
  uv_buf_t b = uv_buf_init((char *)p->out, (unsigned)p->out_len);
  uv_write(&p->wr, (uv_stream_t *)&p->tcp, &b, 1, raw_written);
}

/* Appends one TCP-framed message made with rc_enc to p->out. */
static void raw_put(raw_peer *p, uint8_t code, const uint8_t *tok, size_t tkl,
                    int observe, const char *path) {
  uint8_t buf[64];
  rc_enc e;
  rc_enc_init(&e, buf, sizeof buf, code, tok, tkl);
  if (observe)
    rc_enc_opt_uint(&e, RC_OPT_OBSERVE, 0);
  if (code == RC_GET)
    rc_enc_opt(&e, RC_OPT_URI_PATH, path, strlen(path));
  const uint8_t *out;
  size_t n;
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_TCP, 0, 0, &out, &n), RC_OK);
  assert_true(p->out_len + n <= sizeof p->out);
  memcpy(p->out + p->out_len, out, n);
  p->out_len += n;
}

static int raw_all_got(raw_peer *ps, int want) {
  for (int i = 0; i < RAW_PEERS; i++)
    for (int k = 0; k < RAW_OBS; k++)
      if (ps[i].got[k] < want)
        return 0;
  return 1;
}

static int raw_all_closed(raw_peer *ps) {
  for (int i = 0; i < RAW_PEERS; i++)
    if (!uv_is_closing((uv_handle_t *)&ps[i].tcp) || !ps[i].closed)
      return 0;
  return 1;
}

static void raw_close_cb(uv_handle_t *h) {
  raw_peer *p = h->data;
  p->closed = 1;
}

static void test_notification_bytes_per_token(void **state) {
  fixture *f = *state;
  static raw_peer ps[RAW_PEERS];
  memset(ps, 0, sizeof ps);
  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", f->port, &sa);
  for (int i = 0; i < RAW_PEERS; i++) {
    raw_peer *p = &ps[i];
    raw_put(p, RC_SIG_CSM, NULL, 0, 0, NULL);
    for (int k = 0; k < RAW_OBS; k++) {
      for (size_t j = 0; j < raw_tkl[k]; j++)
        p->tok[k][j] = (uint8_t)(0x10 * (i + 1) + 0x40 * k + j);
      raw_put(p, RC_GET, p->tok[k], raw_tkl[k], 1, "obs");
    }
    assert_int_equal(uv_tcp_init(&f->loop, &p->tcp), 0);
    p->tcp.data = p;
    assert_int_equal(uv_tcp_connect(&p->conn, &p->tcp,
                                    (const struct sockaddr *)&sa,
                                    raw_connected),
                     0);
  }
  /* registered: the first answer of each observation */
  RUN_UNTIL(f, raw_all_got(ps, 1));
  assert_int_equal(rc_resource_observers(f->res), RAW_PEERS * RAW_OBS);
  uint32_t prev_seq = 0;
  for (int round = 1; round <= 3; round++) {
    f->value = 1000 * round + 7;
    assert_int_equal(rc_resource_notify(f->res), RC_OK);
    RUN_UNTIL(f, raw_all_got(ps, 1 + round));
    /* the Observe value of this round, read from one notification */
    rc_msg m;
    assert_int_equal(rc_msg_parse(RC_FRAMING_TCP, ps[0].last[0],
                                  ps[0].last_len[0], &m),
                     RC_OK);
    rc_opt o;
    assert_true(rc_msg_find_opt(&m, RC_OPT_OBSERVE, &o));
    uint32_t seq;
    assert_int_equal(rc_opt_uint(&o, &seq), RC_OK);
    assert_true(seq > prev_seq);
    prev_seq = seq;
    char body[16];
    int bl = snprintf(body, sizeof body, "%d", f->value);
    for (int i = 0; i < RAW_PEERS; i++) {
      assert_int_equal(ps[i].foreign, 0);
      for (int k = 0; k < RAW_OBS; k++) {
        assert_int_equal(ps[i].got[k], 1 + round);
        uint8_t want[64];
        rc_enc e;
        rc_enc_init(&e, want, sizeof want, RC_CONTENT, ps[i].tok[k],
                    raw_tkl[k]);
        rc_enc_opt_uint(&e, RC_OPT_OBSERVE, seq);
        rc_enc_opt_uint(&e, RC_OPT_CONTENT_FORMAT, RC_CF_TEXT_PLAIN);
        rc_enc_payload(&e, body, (size_t)bl);
        const uint8_t *w;
        size_t wn;
        assert_int_equal(rc_enc_finish(&e, RC_FRAMING_TCP, 0, 0, &w, &wn),
                         RC_OK);
        assert_int_equal(ps[i].last_len[k], wn);
        assert_memory_equal(ps[i].last[k], w, wn);
      }
    }
  }
  for (int i = 0; i < RAW_PEERS; i++) {
    ps[i].closed = 0;
    uv_close((uv_handle_t *)&ps[i].tcp, raw_close_cb);
  }
  RUN_UNTIL(f, raw_all_closed(ps));
  RUN_UNTIL(f, rc_resource_observers(f->res) == 0);
}


/* ---- a peer that stops reading ------------------------------------------
 * A server with a counting allocator and a resource whose notifications
 * are 1 KiB; a raw peer registers one observation on it and then stops
 * reading, two rcoap clients observe it too. Over 3,000 rounds (3 MiB
 * owed to the stalled peer, far more than the kernel's socket buffers
 * take) the two clients must get every notification in order, without
 * waiting for the stalled one; the server must hold a bounded backlog
 * for it (its allocated bytes stay under 2 MiB, the notifications it
 * could not queue are counted as skipped) and, once the peer reads
 * again, it gets the current state with no further round (RFC 7641's
 * eventual consistency): one catch-up notification, Observe still
 * growing; a later round reaches it as usual. */

typedef struct counting_mem {
  size_t now, peak;
} counting_mem;

static void *cm_malloc(size_t n, void *user) {
  counting_mem *m = user;
  size_t *b = malloc(n + 16);
  if (!b)
    return NULL;
  b[0] = n;
  m->now += n;
  if (m->now > m->peak)
    m->peak = m->now;
  return (uint8_t *)b + 16;
}

static void cm_free(void *ptr, void *user) {
  counting_mem *m = user;
  if (!ptr)
    return;
  size_t *b = (size_t *)((uint8_t *)ptr - 16);
  m->now -= b[0];
  free(b);
}

static void *cm_realloc(void *ptr, size_t n, void *user) {
  counting_mem *m = user;
  size_t old = ptr ? ((size_t *)((uint8_t *)ptr - 16))[0] : 0;
  void *q = cm_malloc(n, user);
  if (!q)
    return NULL;
  if (ptr) {
    memcpy(q, ptr, old < n ? old : n);
    cm_free(ptr, user);
  }
  (void)m;
  return q;
}

#define WIDE_BODY 1024u
#define STALL_ROUNDS 6000

static void h_wide(rc_context *ctx, rc_resource *res, rc_xreq *req,
                   void *user) {
  (void)ctx;
  (void)res;
  fixture *f = user;
  char body[WIDE_BODY];
  memset(body, 'x', sizeof body);
  char num[16];
  snprintf(num, sizeof num, "%09d", f->value); /* payload_int reads 9 */
  memcpy(body, num, 9);
  rc_respond(req, RC_CONTENT, RC_CF_TEXT_PLAIN, body, sizeof body);
}

/* A server context on f's loop (allocator mem, NULL: the C library's;
 * log level level) listening on addr over TCP, with path observable and
 * answered by h; its port in *port. */
static rc_context *observable_server(fixture *f, const rc_mem *mem,
                                     int level, const char *addr,
                                     const char *path, rc_handler h,
                                     rc_resource **res, uint16_t *port) {
  rc_context_opts o = {0};
  o.loop = &f->loop;
  o.mem = mem;
  o.on_log = on_log;
  o.log_user = f;
  o.log_level = level;
  rc_context *srv;
  assert_int_equal(rc_context_new(&srv, &o), RC_OK);
  assert_int_equal(rc_resource_add(srv, path, 0, f, res), RC_OK);
  rc_resource_on(*res, RC_GET, h);
  assert_int_equal(rc_resource_set_observable(*res), RC_OK);
  char err[256];
  assert_int_equal(rc_context_listen(srv, RC_CONN_TCP, addr, NULL, NULL, port,
                                     err, sizeof err),
                   RC_OK);
  return srv;
}

/* A server context (allocator mem, NULL: the C library's) with /wide
 * observable; its port in *port. */
static rc_context *wide_server(fixture *f, const rc_mem *mem,
                               rc_resource **res, uint16_t *port) {
  return observable_server(f, mem, RC_SESSION_LOG_WARN, "127.0.0.1:0",
                           "/wide", h_wide, res, port);
}

/* Connects raw peer p to port and observes /wide on its 1-byte token;
 * rcvbuf > 0 sets the socket's receive buffer first. */
static void raw_observe_wide(fixture *f, raw_peer *p, uint16_t port,
                             int rcvbuf) {
  p->tok[1][0] = 0x5a; /* slot 1: the 1-byte token */
  raw_put(p, RC_SIG_CSM, NULL, 0, 0, NULL);
  raw_put(p, RC_GET, p->tok[1], 1, 1, "wide");
  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", port, &sa);
  assert_int_equal(uv_tcp_init(&f->loop, &p->tcp), 0);
  p->tcp.data = p;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  if (rcvbuf > 0)
    assert_int_equal(
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
  assert_int_equal(uv_tcp_open(&p->tcp, fd), 0);
  assert_int_equal(uv_tcp_connect(&p->conn, &p->tcp,
                                  (const struct sockaddr *)&sa, raw_connected),
                   0);
}

static void test_stalled_observer_bounded(void **state) {
  fixture *f = *state;
  static counting_mem cm;
  memset(&cm, 0, sizeof cm);
  rc_mem mem = {cm_malloc, cm_realloc, cm_free, &cm};
  rc_resource *res;
  uint16_t port;
  rc_context *srv = wide_server(f, &mem, &res, &port);
  static raw_peer slow;
  memset(&slow, 0, sizeof slow);
  slow.stall = 1;
  /* a small receive window, so the kernel soon stops taking the bytes */
  raw_observe_wide(f, &slow, port, 4096);
  static watcher ws[2];
  memset(ws, 0, sizeof ws);
  char uri[64];
  snprintf(uri, sizeof uri, "coap+tcp://127.0.0.1:%u/wide", port);
  for (int i = 0; i < 2; i++)
    assert_int_equal(
        rc_observe(f->clients[i], uri, NULL, on_note, &ws[i], &ws[i].obs),
        RC_OK);
  RUN_UNTIL(f, slow.got[1] == 1);
  RUN_UNTIL(f, all_got(ws, 2, 1));
  assert_int_equal(rc_resource_observers(res), 3);
  rc_notify_stats a, b;
  rc_context_notify_stats(srv, &a);
  for (int round = 1; round <= STALL_ROUNDS; round++) {
    f->value = round;
    assert_int_equal(rc_resource_notify(res), RC_OK);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    if (round % 100 == 0) /* the readers keep up; nobody waits for slow */
      RUN_UNTIL(f, all_got(ws, 2, 1 + round));
  }
  RUN_UNTIL(f, all_got(ws, 2, 1 + STALL_ROUNDS));
  for (int i = 0; i < 2; i++) {
    assert_int_equal(ws[i].got, 1 + STALL_ROUNDS);
    assert_int_equal(ws[i].last, STALL_ROUNDS);
    assert_int_equal(ws[i].out_of_order, 0);
    assert_int_equal(ws[i].errors, 0);
  }
  rc_context_notify_stats(srv, &b);
  assert_true(b.skipped - a.skipped > 0);
  assert_int_equal(b.notifications - a.notifications + b.skipped - a.skipped,
                   3 * STALL_ROUNDS);
  if (cm.peak > 2u * 1024u * 1024u)
    fail_msg("server held %zu bytes for a peer that does not read", cm.peak);
  /* Only the skipped observation is owed anything: nothing caught up yet
   * (the peer has not read), and the readers were never skipped. */
  assert_int_equal(b.caught_up, a.caught_up);
  assert_true(slow.last_val[1] < STALL_ROUNDS);
  /* The peer reads again and nothing changes any more: what was queued,
   * then the current state, once, without another round. */
  uv_read_start((uv_stream_t *)&slow.tcp, raw_alloc, raw_read);
  slow.stall = 0;
  RUN_UNTIL(f, slow.last_val[1] == STALL_ROUNDS);
  rc_notify_stats c;
  rc_context_notify_stats(srv, &c);
  assert_int_equal(c.caught_up - b.caught_up, 1);
  assert_int_equal(c.rounds, b.rounds);
  /* every notification queued for it, the registration's answer and the
   * one catch-up: nothing lost, nothing twice */
  uint64_t queued_slow = (b.notifications - a.notifications) -
                         2u * STALL_ROUNDS;
  assert_int_equal((uint64_t)slow.got[1], 1u + queued_slow + 1u);
  assert_int_equal(slow.obs_backwards, 0);
  assert_int_equal(ws[0].got, 1 + STALL_ROUNDS); /* nothing more for them */
  /* A later round reaches everyone, Observe still growing. */
  f->value++;
  assert_int_equal(rc_resource_notify(res), RC_OK);
  RUN_UNTIL(f, slow.last_val[1] == f->value && all_got(ws, 2, 2 + STALL_ROUNDS));
  assert_int_equal(slow.obs_backwards, 0);
  rc_context_notify_stats(srv, &c);
  assert_int_equal(c.caught_up - b.caught_up, 1);
  uv_close((uv_handle_t *)&slow.tcp, raw_close_cb);
  for (int i = 0; i < 2; i++) {
    rc_observe_cancel(ws[i].obs);
    ws[i].obs = NULL;
  }
  RUN_UNTIL(f, slow.closed && rc_resource_observers(res) == 0);
  rc_context_free(srv);
  for (int i = 0; i < 100 && uv_run(&f->loop, UV_RUN_NOWAIT); i++)
    ;
  assert_int_equal(cm.now, 0);
}

/* The raw peer p saw no Observe going backwards and no foreign token;
 * it closes, its observation goes, and srv is freed. */
static void raw_done(fixture *f, raw_peer *p, rc_context *srv,
                     rc_resource *res) {
  assert_int_equal(p->obs_backwards, 0);
  assert_int_equal(p->foreign, 0);
  uv_close((uv_handle_t *)&p->tcp, raw_close_cb);
  RUN_UNTIL(f, p->closed && rc_resource_observers(res) == 0);
  rc_context_free(srv);
  for (int i = 0; i < 100 && uv_run(&f->loop, UV_RUN_NOWAIT); i++)
    ;
}

/* Many rounds in one turn of the loop, for a peer that reads: the
 * output held for the turn passes RC_NOTIFY_BACKLOG_MAX, so the later
 * rounds skip it, and the turn's one flush may leave nothing unsent (no
 * write completes later to tell). The peer must still end with the last
 * round's value, Observe growing, with no further round. */
static void test_skipped_in_one_turn_caught_up(void **state) {
  fixture *f = *state;
  rc_resource *res;
  uint16_t port;
  rc_context *srv = wide_server(f, NULL, &res, &port);
  static raw_peer p;
  memset(&p, 0, sizeof p);
  raw_observe_wide(f, &p, port, 0);
  RUN_UNTIL(f, p.got[1] == 1);
  rc_notify_stats a, b;
  rc_context_notify_stats(srv, &a);
  int rounds = (int)(RC_NOTIFY_BACKLOG_MAX / WIDE_BODY) + 100;
  for (int round = 1; round <= rounds; round++) {
    f->value = round;
    assert_int_equal(rc_resource_notify(res), RC_OK); /* no loop turn */
  }
  RUN_UNTIL(f, p.last_val[1] == rounds);
  rc_context_notify_stats(srv, &b);
  assert_true(b.skipped - a.skipped > 0);
  assert_int_equal(b.caught_up - a.caught_up, 1);
  assert_int_equal((uint64_t)p.got[1],
                   1u + (b.notifications - a.notifications) + 1u);
  raw_done(f, &p, srv, res);
}

/* ---- nothing overtakes queued output ------------------------------------
 * A round writes a connection with nothing unsent at once (one direct
 * write); bytes already queued on it must never be overtaken. A raw peer
 * with a small receive window observes /wide (1 KiB notifications) and
 * stops reading; rounds run until one finds its connection with output
 * still unsent (no direct write in that round). Then it asks for /wide
 * once more without Observe: the answer is queued behind those bytes,
 * unwritten. One more round follows. When the peer reads again it must
 * get every notification before the answer, the answer, then the last
 * round's notification, Observe always growing. */

static void h_wide_counted(rc_context *ctx, rc_resource *res, rc_xreq *req,
                           void *user) {
  fixture *f = user;
  f->gets++;
  h_wide(ctx, res, req, user);
}

static void raw_send_more(raw_peer *p) {
  uv_buf_t b = uv_buf_init((char *)p->out, (unsigned)p->out_len);
  assert_int_equal(uv_write(&p->wr, (uv_stream_t *)&p->tcp, &b, 1,
                            raw_written),
                   0);
}

static void test_notification_behind_queued_answer(void **state) {
  fixture *f = *state;
  rc_resource *res;
  uint16_t port;
  rc_context *srv = observable_server(f, NULL, RC_SESSION_LOG_WARN,
                                      "127.0.0.1:0", "/wide", h_wide_counted,
                                      &res, &port);
  static raw_peer p;
  memset(&p, 0, sizeof p);
  p.stall = 1;
  raw_observe_wide(f, &p, port, 4096);
  RUN_UNTIL(f, p.got[1] == 1);
  rc_notify_stats a, b;
  int round = 0, queued = 0;
  while (!queued && round < 20000) {
    rc_context_notify_stats(srv, &a);
    f->value = ++round;
    assert_int_equal(rc_resource_notify(res), RC_OK);
    rc_context_notify_stats(srv, &b);
    queued = b.direct == a.direct; /* it had unsent output: held */
    uv_run(&f->loop, UV_RUN_NOWAIT);
  }
  assert_true(queued);
  assert_true(round > 1); /* the first rounds went straight */
  assert_int_equal(b.skipped, 0);
  /* The answer to a plain GET on the 4-byte token, queued, unwritten. */
  p.out_len = 0;
  memcpy(p.tok[2], "\x71\x72\x73\x74", 4);
  raw_put(&p, RC_GET, p.tok[2], 4, 0, "wide");
  int gets = f->gets;
  raw_send_more(&p);
  RUN_UNTIL(f, f->gets == gets + 1);
  f->value = ++round;
  assert_int_equal(rc_resource_notify(res), RC_OK);
  rc_context_notify_stats(srv, &a);
  assert_int_equal(a.direct, b.direct); /* behind the answer: held */
  uv_run(&f->loop, UV_RUN_NOWAIT);
  uv_read_start((uv_stream_t *)&p.tcp, raw_alloc, raw_read);
  p.stall = 0;
  RUN_UNTIL(f, p.last_val[1] == round);
  assert_int_equal(p.got[2], 1);
  assert_int_equal(p.val_at[2], round - 1); /* every earlier round first */
  assert_int_equal(p.got[1], 1 + round);    /* nothing skipped or lost */
  raw_done(f, &p, srv, res);
}

typedef struct result {
  int calls;
  rc_err status;
  uint8_t code;
  size_t len;
  int bad;
  char text[64];
} result;

static void on_big(void *arg, rc_err status, const rc_msg *resp,
                   const char *detail) {
  result *r = arg;
  (void)detail;
  r->calls++;
  r->status = status;
  if (!resp)
    return;
  r->code = resp->code;
  r->len = resp->payload_len;
  snprintf(r->text, sizeof r->text, "%.*s",
           (int)(resp->payload_len < 60 ? resp->payload_len : 60),
           resp->payload ? (const char *)resp->payload : "");
  return;
}

static void test_three_transfers_one_connection(void **state) {
  fixture *f = *state;
  char ua[64], ub[64], uu[64];
  snprintf(ua, sizeof ua, "coap+tcp://127.0.0.1:%u/bigA", f->port);
  snprintf(ub, sizeof ub, "coap+tcp://127.0.0.1:%u/bigB", f->port);
  snprintf(uu, sizeof uu, "coap+tcp://127.0.0.1:%u/up", f->port);
  size_t n = 2u * 1024u * 1024u + 999u;
  uint8_t *up = malloc(n);
  for (size_t i = 0; i < n; i++)
    up[i] = pat(i);
  rc_request_opts ro = {0};
  ro.payload = up;
  ro.payload_len = n;
  result a = {0}, b = {0}, u = {0};
  rc_context *c = f->clients[0];
  assert_int_equal(rc_request(c, RC_GET, ua, NULL, on_big, &a), RC_OK);
  assert_int_equal(rc_request(c, RC_GET, ub, NULL, on_big, &b), RC_OK);
  assert_int_equal(rc_request(c, RC_PUT, uu, &ro, on_big, &u), RC_OK);
  RUN_UNTIL(f, a.calls && b.calls && u.calls);
  assert_int_equal(rc_context_connections(c), 1);
  assert_int_equal(a.status, RC_OK);
  assert_int_equal(b.status, RC_OK);
  assert_int_equal(u.status, RC_OK);
  assert_int_equal(a.len, 3u * 1024u * 1024u + 777u);
  assert_int_equal(b.len, 3u * 1024u * 1024u + 777u);
  char want[48];
  snprintf(want, sizeof want, "%zu 0", n);
  assert_string_equal(u.text, want);
  free(up);
}

/* ---- Release (RFC 8323 §5.5) ------------------------------------------ */

typedef struct mover {
  watcher w;
  int saw_stale; /* a value the released server must not have sent */
} mover;

#define STALE_VALUE 99

static void on_move_note(void *arg, rc_err status, const rc_msg *resp,
                         const char *detail) {
  mover *m = arg;
  if (status == RC_OK && resp && payload_int(resp) == STALE_VALUE)
    m->saw_stale = 1;
  on_note(&m->w, status, resp, detail);
}

static void on_shutdown_done(void *arg) { *(int *)arg = 1; }

static rc_xreq *held; /* h_hold's request, answered by the test */

static void h_hold(rc_context *ctx, rc_resource *res, rc_xreq *req,
                   void *user) {
  (void)ctx;
  (void)res;
  (void)user;
  assert_int_equal(rc_xreq_defer(req), RC_OK);
  held = req;
}

/* A client context that follows Release instructions, replacing
 * clients[0]. */
static rc_context *following_client(fixture *f) {
  rc_context_free(f->clients[0]);
  rc_context_opts o = {0};
  o.loop = &f->loop;
  o.on_log = on_log;
  o.log_user = f;
  o.log_level = RC_SESSION_LOG_INFO;
  o.follow_release = 1;
  assert_int_equal(rc_context_new(&f->clients[0], &o), RC_OK);
  return f->clients[0];
}

/* A second server with the same observable /obs (value from f). */
static rc_context *second_server(fixture *f, const char *addr,
                                 rc_resource **res, uint16_t *port) {
  return observable_server(f, NULL, 0, addr, "/obs", h_obs, res, port);
}

/* Observes f's /obs, then shuts the server down with a Release (alt:
 * Alternative-Address or NULL, hold_off_s) and tries one more
 * notification right after it: the released connection must not carry
 * it. Returns the loop time the Release was queued at. */
static uint64_t observe_then_release(fixture *f, rc_context *c, mover *m,
                                     const char *alt, uint32_t hold_off_s,
                                     int *done) {
  char uri[64];
  snprintf(uri, sizeof uri, "coap+tcp://127.0.0.1:%u/obs", f->port);
  f->value = 1;
  assert_int_equal(rc_observe(c, uri, NULL, on_move_note, m, &m->w.obs),
                   RC_OK);
  RUN_UNTIL(f, m->w.got == 1);
  f->value = 2;
  assert_int_equal(rc_resource_notify(f->res), RC_OK);
  RUN_UNTIL(f, m->w.got == 2);
  assert_int_equal(rc_context_set_release(f->server, alt, hold_off_s), RC_OK);
  /* A long shutdown timeout: the server ends early only if the client
   * closes the released connection itself. */
  assert_int_equal(rc_context_shutdown(f->server, "moving", 60000,
                                       on_shutdown_done, done),
                   RC_OK);
  uint64_t t0 = uv_now(&f->loop);
  f->value = STALE_VALUE;
  assert_int_equal(rc_resource_notify(f->res), RC_OK);
  f->value = 3;
  return t0;
}

/* After the Release the old connection closes at the client's initiative
 * (well before the server's 60 s timeout, which would log "still open"),
 * the observation goes on without an error report, and the released
 * server sent nothing after its Release. */
static void assert_moved(fixture *f, mover *m, int *done) {
  RUN_UNTIL(f, *done);
  assert_null(strstr(f->logs, "still open after the timeout"));
  assert_non_null(strstr(f->logs, "moving the observation"));
  assert_int_equal(rc_observe_registrations(m->w.obs), 2);
  assert_int_equal(m->w.errors, 0);
  assert_int_equal(m->saw_stale, 0);
  assert_int_equal(m->w.out_of_order, 0);
}

/* With a request in flight on the released connection: the observation
 * moves at once, the old connection stays until that request's answer
 * (RFC 8323 §5.5: the peer "MAY wait for the responses to its own
 * requests"), then closes. */
static void test_observe_follows_alternative_address(void **state) {
  fixture *f = *state;
  rc_context *c = following_client(f);
  rc_resource *ares, *hres;
  uint16_t aport;
  rc_context *alt = second_server(f, "127.0.0.1:0", &ares, &aport);
  assert_int_equal(rc_resource_add(f->server, "/hold", 0, f, &hres), RC_OK);
  rc_resource_on(hres, RC_GET, h_hold);
  char authority[32], hold_uri[64];
  snprintf(authority, sizeof authority, "127.0.0.1:%u", aport);
  snprintf(hold_uri, sizeof hold_uri, "coap+tcp://127.0.0.1:%u/hold",
           f->port);
  mover m = {0};
  int done = 0;
  result slow = {0};
  held = NULL;
  assert_int_equal(rc_request(c, RC_GET, hold_uri, NULL, on_big, &slow),
                   RC_OK);
  RUN_UNTIL(f, held != NULL);
  observe_then_release(f, c, &m, authority, RC_SESSION_NO_HOLD_OFF, &done);
  /* Re-registered at the alternative server (its first answer is 3)
   * while the released connection waits for /hold. */
  RUN_UNTIL(f, m.w.got == 3);
  assert_int_equal(m.w.last, 3);
  assert_int_equal(rc_resource_observers(ares), 1);
  assert_int_equal(done, 0);
  assert_int_equal(slow.calls, 0);
  assert_int_equal(rc_context_connections(c), 2);
  rc_respond(held, RC_CONTENT, RC_CF_TEXT_PLAIN, "late", 4);
  held = NULL;
  RUN_UNTIL(f, slow.calls == 1 && done);
  assert_int_equal(slow.status, RC_OK);
  assert_string_equal(slow.text, "late");
  assert_moved(f, &m, &done);
  f->value = 4;
  assert_int_equal(rc_resource_notify(ares), RC_OK);
  RUN_UNTIL(f, m.w.got == 4);
  assert_int_equal(m.w.last, 4);
  assert_int_equal(rc_context_connections(c), 1);
  rc_observe_cancel(m.w.obs);
  RUN_UNTIL(f, rc_resource_observers(ares) == 0);
  rc_context_free(alt);
}

/* No Alternative-Address: the same origin again, not before the Hold-Off
 * (a new server on the same port stands for the restarted one). */
static void test_observe_waits_hold_off(void **state) {
  fixture *f = *state;
  rc_context *c = following_client(f);
  mover m = {0};
  int done = 0;
  uint64_t t0 = observe_then_release(f, c, &m, NULL, 1, &done);
  RUN_UNTIL(f, done);
  char addr[32];
  snprintf(addr, sizeof addr, "127.0.0.1:%u", f->port);
  rc_resource *res2;
  uint16_t port2;
  rc_context *again = second_server(f, addr, &res2, &port2);
  assert_int_equal(port2, f->port);
  RUN_UNTIL(f, m.w.got == 3);
  uint64_t gap = uv_now(&f->loop) - t0;
  /* Hold-Off 1 s: not before it (timer slack), and without the 1 s
   * back-off of a failed attempt it would take otherwise. */
  assert_true(gap >= 990);
  assert_int_equal(m.w.last, 3);
  assert_moved(f, &m, &done);
  assert_int_equal(rc_resource_observers(res2), 1);
  rc_observe_cancel(m.w.obs);
  RUN_UNTIL(f, rc_resource_observers(res2) == 0);
  rc_context_free(again);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_hundred_observers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_runs_of_one_connection, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_notification_bytes_per_token,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_observers_grouped_by_connection,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_notifies_one_write_per_turn, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_skipped_in_one_turn_caught_up,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_stalled_observer_bounded, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_notification_behind_queued_answer,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_three_transfers_one_connection,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_observe_follows_alternative_address,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_observe_waits_hold_off, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
