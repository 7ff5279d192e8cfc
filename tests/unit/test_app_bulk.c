/*
 * Streamed BERT GETs of a file over real loopback coap+tcp, a server and a
 * client context on one libuv loop, each with a counting rc_mem: the body
 * arrives whole and in order with one and with four Block2 requests in
 * flight; the server holds none of it (each block goes out as a file run,
 * sendfile) and the client at most window x block; a file that shrinks
 * under the transfer ends it with an error, never a hang or garbage; a
 * client that goes away mid-transfer leaves the server no descriptor and
 * a server that still answers; a client that reads slowly through a 4 KiB
 * receive buffer (the server's socket full, its sendfile waiting for
 * room) gets every block whole. The file's blocks are bert_file_kib
 * (no block is held on the server), a body read into memory bert_max,
 * both bounded by the client's Max-Message-Size; a block number past the
 * end gets 4.02. Every wait is bounded by a guard timer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rcoap/app.h"
#include "rcoap/codec_frame.h"
#include "test_counting.h"
#include "test_run.h"

#define GUARD_MS 20000
#define BLOCK (256u * 1024u)             /* the server's BERT payload */
#define MEM_BLOCK (16u * 1024u)          /* ... of a body read into memory */
#define BODY (24u * BLOCK + 777u)        /* 25 blocks, the last short */

typedef struct fixture {
  uv_loop_t loop;
  counting scnt, ccnt;
  rc_mem smem, cmem;
  rc_context *server, *client;
  rc_exchange_block_config bc; /* the server's (kept by pointer) */
  uint16_t port;
  uv_timer_t guard;
  int guard_fired;
  int fd;               /* the file served */
  char path[64];
  uint8_t *want;        /* its bytes */
  unsigned requests;    /* block requests the server answered */
  unsigned shrink_at;   /* after answering this one, truncate (0: never) */
  char logs[4096];
} fixture;

typedef struct got {
  fixture *f;
  uint64_t bytes;
  int mismatch;
  int calls;
  rc_err status;
  uint8_t code;
  int stop_after;       /* the sink fails after this many bytes (0: never) */
} got;

static void on_log(void *user, int level, const char *text) {
  fixture *f = user;
  (void)level;
  size_t n = strlen(f->logs);
  if (n < sizeof f->logs - 1)
    snprintf(f->logs + n, sizeof f->logs - n, "%s\n", text);
}

static rc_ssize src_read(void *arg, uint64_t off, uint8_t *buf, size_t cap) {
  fixture *f = arg;
  ssize_t n = pread(f->fd, buf, cap, (off_t)off);
  return n < 0 ? RC_ERR_IO : (rc_ssize)n;
}

static int src_file(void *arg) { return ((fixture *)arg)->fd; }

/* /m: the same bytes from a source with no descriptor, each block read
 * into memory. */
static void h_mem(rc_context *ctx, rc_resource *res, rc_xreq *req,
                  void *user) {
  (void)ctx;
  (void)res;
  static const uint8_t etag[4] = {1, 2, 3, 4};
  rc_body_source src = {src_read, NULL, user, BODY, NULL};
  rc_respond_source(req, RC_CONTENT, 42, etag, sizeof etag, &src);
}

static void h_file(rc_context *ctx, rc_resource *res, rc_xreq *req,
                   void *user) {
  (void)ctx;
  (void)res;
  fixture *f = user;
  static const uint8_t etag[4] = {1, 2, 3, 4};
  rc_body_source src = {src_read, NULL, f, BODY, src_file};
  rc_respond_source(req, RC_CONTENT, 42, etag, sizeof etag, &src);
  /* The block is queued, not yet sent: the file now ends 1000 bytes into
   * it, as if it were rewritten under the transfer. */
  if (++f->requests == f->shrink_at) {
    rc_block b;
    uint64_t off = rc_xreq_block2(req, &b) ? rc_block_offset(&b) : 0;
    assert_int_equal(ftruncate(f->fd, (off_t)(off + 1000)), 0);
  }
}

static rc_err sink_write(void *arg, uint64_t off, const uint8_t *data,
                         size_t len, uint64_t total) {
  got *g = arg;
  (void)total;
  if (off != g->bytes || off + len > BODY ||
      memcmp(data, g->f->want + off, len) != 0)
    g->mismatch = 1;
  g->bytes += len;
  if (g->stop_after && g->bytes >= (uint64_t)g->stop_after)
    return RC_ERR_CANCELLED;
  return RC_OK;
}

static void on_result(void *arg, rc_err status, const rc_msg *resp,
                      const char *detail) {
  got *g = arg;
  (void)detail;
  g->calls++;
  g->status = status;
  if (resp)
    g->code = resp->code;
}

static void guard_fire(uv_timer_t *t) {
  fixture *f = t->data;
  f->guard_fired = 1;
  uv_stop(&f->loop);
}

static void run_until(fixture *f, int *flag) {
  uv_timer_start(&f->guard, guard_fire, GUARD_MS, 0);
  while (!*flag && !f->guard_fired)
    uv_run(&f->loop, UV_RUN_ONCE);
  uv_timer_stop(&f->guard);
  if (f->guard_fired)
    fail_msg("timed out waiting (logs:\n%s)", f->logs);
}

static int open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  int n = 0;
  if (!d)
    return -1;
  while (readdir(d))
    n++;
  closedir(d);
  return n;
}

static void client_new(fixture *f) {
  rc_context_opts o = {0};
  o.loop = &f->loop;
  o.mem = &f->cmem;
  o.on_log = on_log;
  o.log_user = f;
  assert_int_equal(rc_context_new(&f->client, &o), RC_OK);
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  uv_loop_init(&f->loop);
  uv_timer_init(&f->loop, &f->guard);
  f->guard.data = f;
  f->smem = (rc_mem){cnt_malloc, cnt_realloc, cnt_free, &f->scnt};
  f->cmem = (rc_mem){cnt_malloc, cnt_realloc, cnt_free, &f->ccnt};
  snprintf(f->path, sizeof f->path, "/tmp/rc-bulk-XXXXXX");
  f->fd = mkstemp(f->path);
  assert_true(f->fd >= 0);
  unlink(f->path);
  f->want = malloc(BODY);
  uint32_t x = 0x12345678u;
  for (size_t i = 0; i < BODY; i++) {
    x = x * 1103515245u + 12345u;
    f->want[i] = (uint8_t)(x >> 24);
  }
  assert_int_equal(pwrite(f->fd, f->want, BODY, 0), (ssize_t)BODY);

  rc_exchange_block_config_default(&f->bc);
  f->bc.bert_max = MEM_BLOCK;
  f->bc.bert_file_kib = BLOCK / 1024u;
  rc_context_opts o = {0};
  o.loop = &f->loop;
  o.mem = &f->smem;
  o.block = &f->bc;
  o.on_log = on_log;
  o.log_user = f;
  assert_int_equal(rc_context_new(&f->server, &o), RC_OK);
  rc_resource *r;
  assert_int_equal(rc_resource_add(f->server, "/f", 0, f, &r), RC_OK);
  rc_resource_on(r, RC_GET, h_file);
  assert_int_equal(rc_resource_add(f->server, "/m", 0, f, &r), RC_OK);
  rc_resource_on(r, RC_GET, h_mem);
  char err[256];
  assert_int_equal(rc_context_listen(f->server, RC_CONN_TCP, "127.0.0.1:0",
                                     NULL, NULL, &f->port, err, sizeof err),
                   RC_OK);
  client_new(f);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  if (f->client)
    rc_context_free(f->client);
  rc_context_free(f->server);
  test_loop_end(&f->loop, &f->guard);
  close(f->fd);
  free(f->want);
  free(f);
  return 0;
}

static void get(fixture *f, got *g, uint8_t window) {
  char u[64];
  snprintf(u, sizeof u, "coap+tcp://127.0.0.1:%u/f", f->port);
  rc_body_sink sink = {.write = sink_write, .arg = g};
  rc_request_opts ro = {0};
  ro.sink = &sink;
  ro.window = window;
  ro.timeout_ms = GUARD_MS / 2;
  g->f = f;
  assert_int_equal(rc_request(f->client, RC_GET, u, &ro, on_result, g),
                   RC_OK);
  run_until(f, &g->calls);
}

/* The whole body, in order, with window 1 and 4; the server's memory never
 * holds a block (a queued block is a file run), the client's at most
 * window blocks (one being read, the rest held ahead of their turn). */
static void test_whole_body_bounded(void **state) {
  fixture *f = *state;
  uint8_t windows[] = {1, 4};
  for (size_t i = 0; i < sizeof windows; i++) {
    size_t s0 = f->scnt.bytes, c0 = f->ccnt.bytes;
    f->scnt.peak = s0;
    f->ccnt.peak = c0;
    got g = {0};
    get(f, &g, windows[i]);
    assert_int_equal(g.status, RC_OK);
    assert_int_equal(g.code, RC_CONTENT);
    assert_int_equal(g.bytes, BODY);
    assert_false(g.mismatch);
    size_t sp = f->scnt.peak - s0, cp = f->ccnt.peak - c0;
    print_message("window %u: server peak +%zu bytes, client peak +%zu "
                  "bytes (block %u)\n",
                  windows[i], sp, cp, BLOCK);
    assert_true(sp < BLOCK / 2);
    assert_true(cp <= (size_t)windows[i] * (BLOCK + 1024) + 64 * 1024);
  }
  assert_int_equal(f->requests, 2 * 25);
}

/* The file ends 1000 bytes into the third block after that block was
 * queued: the connection fails with a sentence in the server's log and
 * the client's GET with an error; what the sink got is the body's start,
 * never bytes that are not the file's. */
static void test_file_shrinks(void **state) {
  fixture *f = *state;
  f->shrink_at = 3;
  got g = {0};
  get(f, &g, 1);
  assert_int_not_equal(g.status, RC_OK);
  assert_false(g.mismatch);
  assert_true(g.bytes <= 2 * BLOCK);
  assert_non_null(strstr(f->logs, "file shorter than its answer said"));
}

/* The client stops after the first block and goes away with blocks in
 * flight: the server closes its side and keeps no descriptor of the
 * file; a new client gets the whole body. */
static void test_client_goes_away(void **state) {
  fixture *f = *state;
  int fds0 = open_fds();
  got g = {0};
  g.stop_after = 1;
  get(f, &g, 4);
  assert_int_not_equal(g.status, RC_OK);
  rc_context_free(f->client);
  f->client = NULL;
  uv_timer_start(&f->guard, guard_fire, GUARD_MS, 0);
  while (open_fds() > fds0 && !f->guard_fired)
    uv_run(&f->loop, UV_RUN_ONCE);
  uv_timer_stop(&f->guard);
  if (f->guard_fired)
    fail_msg("the server kept descriptors (logs:\n%s)", f->logs);
  client_new(f);
  got g2 = {0};
  get(f, &g2, 4);
  assert_int_equal(g2.status, RC_OK);
  assert_int_equal(g2.bytes, BODY);
  assert_false(g2.mismatch);
}

static size_t put_msg(uint8_t *out, size_t cap, rc_enc *e) {
  const uint8_t *m;
  size_t n;
  assert_int_equal(rc_enc_finish(e, RC_FRAMING_TCP, 0, 0, &m, &n), RC_OK);
  assert_true(n <= cap);
  memcpy(out, m, n);
  return n;
}

/* A raw coap+tcp client: connected to the server, with a receive buffer
 * of rcvbuf bytes (0: the system's). */
static int raw_connect(fixture *f, int rcvbuf) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(s >= 0);
  if (rcvbuf)
    assert_int_equal(
        setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(f->port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof sa), 0);
  return s;
}

/* Our CSM: Max-Message-Size mms, Block-Wise-Transfer (BERT). */
static size_t raw_csm(uint8_t *out, size_t cap, uint32_t mms) {
  uint8_t tmp[64];
  rc_enc e;
  rc_enc_init(&e, tmp, sizeof tmp, RC_SIG_CSM, NULL, 0);
  rc_enc_opt_uint(&e, RC_SIGOPT_MAX_MESSAGE_SIZE, mms);
  rc_enc_opt(&e, RC_SIGOPT_BLOCK_WISE_TRANSFER, NULL, 0);
  return put_msg(out, cap, &e);
}

/* GET /path, token tok, Block2 NUM num (1 KiB units) SZX 7 (BERT). */
static size_t raw_get(uint8_t *out, size_t cap, uint8_t tok,
                      const char *path, uint32_t num) {
  uint8_t tmp[64];
  rc_enc e;
  rc_enc_init(&e, tmp, sizeof tmp, RC_GET, &tok, 1);
  rc_enc_opt_str(&e, RC_OPT_URI_PATH, path);
  rc_enc_opt_uint(&e, RC_OPT_BLOCK2, num << 4 | RC_BLOCK_SZX_BERT);
  return put_msg(out, cap, &e);
}

/* The raw client's input: bytes read, up to cap. */
typedef struct raw_in {
  uint8_t *p;
  size_t cap, have;
} raw_in;

/* Reads (at most chunk bytes per loop turn, running the server's loop in
 * between) until a whole message other than a CSM is in; it is parsed
 * into m and stays in `in` until the next call. Returns its length. */
static size_t raw_next(fixture *f, int s, raw_in *in, size_t last,
                       size_t chunk, rc_msg *m) {
  memmove(in->p, in->p + last, in->have - last);
  in->have -= last;
  uv_timer_start(&f->guard, guard_fire, GUARD_MS, 0);
  for (;;) {
    rc_tcp_hdr h;
    while (rc_tcp_hdr_parse(in->p, in->have, &h) > 0) {
      size_t total = (size_t)(h.hdr_len + h.token_len + h.body_len);
      assert_true(total <= in->cap);
      if (in->have < total)
        break;
      assert_int_equal(rc_msg_parse(RC_FRAMING_TCP, in->p, total, m), RC_OK);
      if (m->code != RC_SIG_CSM) {
        uv_timer_stop(&f->guard);
        return total;
      }
      memmove(in->p, in->p + total, in->have - total);
      in->have -= total;
    }
    if (f->guard_fired)
      fail_msg("no answer came (logs:\n%s)", f->logs);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    size_t room = in->cap - in->have;
    ssize_t r = recv(s, in->p + in->have, room < chunk ? room : chunk, 0);
    if (r > 0)
      in->have += (size_t)r;
    else
      usleep(100);
  }
}

/* A raw client with a 4 KiB receive buffer asks for 16 blocks at once
 * (BERT, 4 MiB) and reads them 4 KiB per loop turn: the server queues all
 * sixteen as file runs, its socket fills long before they are out, so
 * sendfile meets EAGAIN and waits for room (one byte by uv_write) again
 * and again; every block must arrive whole and right, in order. */
#define SLOW_BLOCKS 16u
static void test_slow_reader(void **state) {
  fixture *f = *state;
  int s = raw_connect(f, 4096);
  uint8_t out[64 * SLOW_BLOCKS];
  size_t n = raw_csm(out, sizeof out, 1u << 20);
  /* Block2 num b, SZX 7 (BERT): num counts 1 KiB units, 256 per block */
  for (uint8_t b = 0; b < SLOW_BLOCKS; b++)
    n += raw_get(out + n, sizeof out - n, b, "f", b * (BLOCK / 1024u));
  assert_int_equal(write(s, out, n), (ssize_t)n);
  assert_int_equal(fcntl(s, F_SETFL, O_NONBLOCK), 0);

  raw_in in = {malloc((BLOCK + 4096) * 2), (BLOCK + 4096) * 2, 0};
  size_t last = 0;
  for (unsigned b = 0; b < SLOW_BLOCKS; b++) {
    rc_msg m;
    last = raw_next(f, s, &in, last, 4096, &m);
    assert_int_equal(m.code, RC_CONTENT);
    assert_int_equal(m.token_len, 1);
    assert_int_equal(m.token[0], b);
    assert_int_equal(m.payload_len, BLOCK);
    assert_memory_equal(m.payload, f->want + (size_t)b * BLOCK, BLOCK);
  }
  free(in.p);
  close(s);
}

/* One BERT block asked for with Block2 NUM num over a raw connection:
 * checks code, Block2 (NUM num, SZX 7) and that the payload, of len
 * bytes, is the file's at num KiB. */
static void raw_block(fixture *f, int s, raw_in *in, const char *path,
                      uint32_t num, size_t len) {
  uint8_t out[64];
  size_t n = raw_get(out, sizeof out, 7, path, num);
  assert_int_equal(write(s, out, n), (ssize_t)n);
  rc_msg m;
  size_t total = raw_next(f, s, in, 0, 1u << 20, &m);
  rc_opt o;
  rc_block b;
  assert_int_equal(m.code, RC_CONTENT);
  assert_true(rc_msg_find_opt(&m, RC_OPT_BLOCK2, &o));
  assert_int_equal(rc_block_decode(o.val, o.len, &b), RC_OK);
  assert_int_equal(b.szx, RC_BLOCK_SZX_BERT);
  assert_int_equal(b.num, num);
  assert_int_equal(m.payload_len, len);
  assert_memory_equal(m.payload, f->want + (size_t)num * 1024u, len);
  memmove(in->p, in->p + total, in->have - total);
  in->have -= total;
}

/* RFC 8323 §6: a BERT block is any multiple of 1024 bytes the peer's
 * Max-Message-Size allows. A file's blocks are bert_file_kib (BLOCK) long
 * where the peer takes them, a body read into memory gets bert_max
 * (MEM_BLOCK); a peer whose Max-Message-Size is smaller gets the largest
 * multiple of 1024 that fits it, the message within it; a block number
 * past the body's end gets 4.02 (RFC 7959 §2.2). */
static void test_block_sizes(void **state) {
  fixture *f = *state;
  raw_in in = {malloc(4 * BLOCK), 4 * BLOCK, 0};
  int s = raw_connect(f, 0);
  uint8_t out[64];
  size_t n = raw_csm(out, sizeof out, 1u << 20);
  assert_int_equal(write(s, out, n), (ssize_t)n);
  assert_int_equal(fcntl(s, F_SETFL, O_NONBLOCK), 0);
  raw_block(f, s, &in, "f", 0, BLOCK);
  raw_block(f, s, &in, "f", 3 * (BLOCK / 1024u), BLOCK);
  raw_block(f, s, &in, "f", 24 * (BLOCK / 1024u), 777); /* the last */
  raw_block(f, s, &in, "m", 0, MEM_BLOCK);
  raw_block(f, s, &in, "m", 5 * (MEM_BLOCK / 1024u), MEM_BLOCK);
  /* past the end: NUM of the first KiB after the body */
  n = raw_get(out, sizeof out, 9, "f", BODY / 1024u + 1u);
  assert_int_equal(write(s, out, n), (ssize_t)n);
  rc_msg m;
  size_t total = raw_next(f, s, &in, 0, 1u << 20, &m);
  assert_int_equal(m.code, RC_BAD_OPTION);
  assert_int_equal(m.token[0], 9);
  in.have = 0;
  (void)total;
  close(s);

  /* Max-Message-Size 64 KiB + 256: 64 KiB blocks of the file, each
   * message no larger than that. */
  const uint32_t mms = 64u * 1024u + 256u;
  s = raw_connect(f, 0);
  n = raw_csm(out, sizeof out, mms);
  assert_int_equal(write(s, out, n), (ssize_t)n);
  assert_int_equal(fcntl(s, F_SETFL, O_NONBLOCK), 0);
  n = raw_get(out, sizeof out, 1, "f", 64);
  assert_int_equal(write(s, out, n), (ssize_t)n);
  total = raw_next(f, s, &in, 0, 1u << 20, &m);
  assert_int_equal(m.code, RC_CONTENT);
  assert_int_equal(m.payload_len, 64u * 1024u);
  assert_true(total <= mms);
  assert_memory_equal(m.payload, f->want + 64u * 1024u, 64u * 1024u);
  free(in.p);
  close(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_whole_body_bounded, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_file_shrinks, setup, teardown),
      cmocka_unit_test_setup_teardown(test_client_goes_away, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_slow_reader, setup, teardown),
      cmocka_unit_test_setup_teardown(test_block_sizes, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
