/*
 * A coaps+wr listener behind a NAT (rc_wr_listener_stun) on real UDP
 * sockets: it asks a STUN server (here a plain socket of the test) for its
 * address with a plain Binding request, takes only the answer with that
 * request's transaction ID, names the mapped address as a server-reflexive
 * candidate in its answers, which are a full ICE agent's (no ice-lite),
 * and sends ICE checks of its own to the offer's candidates (ICE-CONTROLLED,
 * no USE-CANDIDATE, signed), which is what opens a NAT toward the peer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "rcoap/transport_webrtc.h"
#include "transport/webrtc/stun.h"

#define DGRAMS 16

typedef struct fx {
  uv_loop_t loop;
  rc_listener *l;
  uv_udp_t peer; /* the STUN server and the offer's candidate */
  struct sockaddr_in peer_addr;
  size_t n;
  uint8_t d[DGRAMS][600];
  size_t len[DGRAMS];
  struct sockaddr_in from[DGRAMS];
} fx;

static rc_wr_identity g_id;

static int on_accept(void *u, rc_listener *l, rc_conn *c) {
  (void)u, (void)l, (void)c;
  return -1;
}

static void alloc_cb(uv_handle_t *h, size_t s, uv_buf_t *b) {
  (void)s;
  static uint8_t buf[2048];
  (void)h;
  *b = uv_buf_init((char *)buf, sizeof buf);
}

static void recv_cb(uv_udp_t *u, ssize_t nread, const uv_buf_t *b,
                    const struct sockaddr *from, unsigned flags) {
  (void)flags;
  fx *f = u->data;
  if (nread <= 0 || from == NULL || f->n == DGRAMS || nread > 600)
    return;
  memcpy(f->d[f->n], b->base, (size_t)nread);
  f->len[f->n] = (size_t)nread;
  memcpy(&f->from[f->n], from, sizeof f->from[0]);
  f->n++;
}

/* Runs the loop until f has `want` datagrams or 5 s passed. */
static void run_until(fx *f, size_t want) {
  uint64_t until = uv_now(&f->loop) + 5000;
  while (f->n < want && uv_now(&f->loop) < until) {
    uv_run(&f->loop, UV_RUN_NOWAIT);
    uv_sleep(2);
    uv_update_time(&f->loop);
  }
}

/* A Binding success for tid with XOR-MAPPED-ADDRESS ip:port, sent to to. */
static void answer_binding(fx *f, const uint8_t *tid, const char *ip,
                           uint16_t port, const struct sockaddr_in *to) {
  struct sockaddr_in m;
  memset(&m, 0, sizeof m);
  m.sin_family = AF_INET;
  m.sin_port = htons(port);
  inet_pton(AF_INET, ip, &m.sin_addr);
  uint8_t out[64];
  rc_stun_enc e;
  rc_stun_enc_begin(&e, out, sizeof out, RC_STUN_BINDING, RC_STUN_SUCCESS, tid);
  rc_stun_enc_xor_addr(&e, (const struct sockaddr *)&m);
  rc_ssize n = rc_stun_enc_end(&e, true);
  assert_true(n > 0);
  uv_buf_t b = uv_buf_init((char *)out, (unsigned)n);
  assert_int_equal(uv_udp_try_send(&f->peer, &b, 1, (const struct sockaddr *)to),
                   n);
}

static int is_addr(const struct sockaddr_storage *ss, const char *ip,
                   uint16_t port) {
  const struct sockaddr_in *a = (const void *)ss;
  char s[INET_ADDRSTRLEN];
  return ss->ss_family == AF_INET && ntohs(a->sin_port) == port &&
         inet_ntop(AF_INET, &a->sin_addr, s, sizeof s) && !strcmp(s, ip);
}

static void test_srflx_and_full_agent(void **st) {
  (void)st;
  fx f;
  memset(&f, 0, sizeof f);
  assert_int_equal(uv_loop_init(&f.loop), 0);
  rc_listener_opts lo;
  rc_listener_opts_init(&lo, &f.loop, RC_CONN_WEBRTC, "127.0.0.1:0",
                        on_accept, &f);
  lo.webrtc = &g_id;
  char err[256];
  assert_int_equal(rc_listener_new(&f.l, &lo, err, sizeof err), RC_OK);
  uv_udp_init(&f.loop, &f.peer);
  f.peer.data = &f;
  uv_ip4_addr("127.0.0.1", 0, &f.peer_addr);
  assert_int_equal(uv_udp_bind(&f.peer, (const struct sockaddr *)&f.peer_addr, 0), 0);
  int alen = sizeof f.peer_addr;
  uv_udp_getsockname(&f.peer, (struct sockaddr *)&f.peer_addr, &alen);
  assert_int_equal(uv_udp_recv_start(&f.peer, alloc_cb, recv_cb), 0);

  /* Before any STUN: an ICE-lite answer (the listener's usual self). */
  rc_wr_desc offer, answer;
  memset(&offer, 0, sizeof offer);
  strcpy(offer.ufrag, "OFFR");
  strcpy(offer.pwd, "offerpasswordofferpassword");
  offer.fingerprint[0] = 1;
  offer.setup = RC_WR_SETUP_ACTPASS;
  offer.ncand = 1;
  memcpy(&offer.cand[0], &f.peer_addr, sizeof f.peer_addr);
  offer.prio[0] = 2130706431u;
  assert_int_equal(rc_wr_listener_answer(f.l, &offer, &answer), RC_OK);
  assert_true(answer.ice_lite);

  /* The plain Binding request: no credentials, a FINGERPRINT. */
  assert_int_equal(rc_wr_listener_stun(f.l, (const struct sockaddr *)&f.peer_addr),
                   RC_OK);
  run_until(&f, 1);
  assert_int_equal(f.n, 1);
  rc_stun_msg m;
  assert_int_equal(rc_stun_parse(&m, f.d[0], f.len[0]), RC_OK);
  assert_int_equal(m.method, RC_STUN_BINDING);
  assert_int_equal(m.cls, RC_STUN_REQUEST);
  assert_null(m.username);
  assert_int_equal(m.integrity_off, 0);
  assert_true(m.has_fingerprint);
  /* The answer to our transaction is taken; a later one to another
   * transaction (a forger's guess) is not. */
  uint8_t other[RC_STUN_TID_LEN];
  memcpy(other, m.tid, sizeof other);
  other[0] ^= 1;
  answer_binding(&f, m.tid, "127.0.0.3", 4242, &f.from[0]);
  answer_binding(&f, other, "127.0.0.9", 1111, &f.from[0]);
  for (int i = 0; i < 50; i++) {
    uv_run(&f.loop, UV_RUN_NOWAIT);
    uv_sleep(2);
  }

  f.n = 0;
  strcpy(offer.ufrag, "OFR2");
  assert_int_equal(rc_wr_listener_answer(f.l, &offer, &answer), RC_OK);
  assert_false(answer.ice_lite);
  assert_int_equal(answer.ncand, 2);
  assert_int_equal(answer.srflx[0], 0);
  assert_int_equal(answer.srflx[1], 1);
  assert_true(is_addr(&answer.cand[1], "127.0.0.3", 4242));
  assert_true(answer.prio[1] < answer.prio[0]); /* RFC 8445 §5.1.2.2 */

  /* The full agent's own check toward the offer's candidate (and a
   * refreshing Binding request with the answer). */
  int checks = 0, refresh = 0;
  for (int round = 0; round < 3 && !checks; round++) {
    run_until(&f, f.n + 1);
    for (size_t i = 0; i < f.n; i++) {
      assert_int_equal(rc_stun_parse(&m, f.d[i], f.len[i]), RC_OK);
      assert_int_equal(m.cls, RC_STUN_REQUEST);
      if (m.username == NULL) {
        refresh++;
        continue;
      }
      char want[RC_WR_CRED_MAX + 8];
      snprintf(want, sizeof want, "OFR2:%s", answer.ufrag);
      assert_int_equal(m.username_len, strlen(want));
      assert_memory_equal(m.username, want, m.username_len);
      assert_true(m.has_controlled); /* RFC 8445 §7.1.3 */
      assert_false(m.has_controlling);
      assert_false(m.use_candidate);
      assert_true(rc_stun_integrity_ok(&m, f.d[i], f.len[i],
                                       (const uint8_t *)offer.pwd,
                                       strlen(offer.pwd)));
      checks++;
    }
  }
  assert_true(checks >= 1);
  assert_true(refresh >= 1);

  rc_listener_free(f.l);
  uv_close((uv_handle_t *)&f.peer, NULL);
  for (int i = 0; i < 1000 && uv_loop_alive(&f.loop); i++)
    uv_run(&f.loop, UV_RUN_NOWAIT);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f.loop), 0);
}

static void test_not_webrtc(void **st) {
  (void)st;
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 3478, &a);
  assert_int_equal(rc_wr_listener_stun(NULL, (const struct sockaddr *)&a),
                   RC_ERR_INVAL);
}

/* STUN server addresses as rcoap --stun and rcoapd --webrtc-stun take
 * them. */
static void test_stun_addr(void **st) {
  (void)st;
  struct sockaddr_storage ss;
  assert_int_equal(rc_wr_stun_addr("127.0.0.1:3478", NULL, &ss), RC_OK);
  assert_true(is_addr(&ss, "127.0.0.1", 3478));
  assert_int_equal(rc_wr_stun_addr("127.0.0.1", "9", &ss), RC_OK);
  assert_true(is_addr(&ss, "127.0.0.1", 9));
  assert_int_equal(rc_wr_stun_addr("[::1]:5", NULL, &ss), RC_OK);
  assert_int_equal(ss.ss_family, AF_INET6);
  assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 5);
  assert_int_equal(rc_wr_stun_addr("[::1]", "7", &ss), RC_OK);
  assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 7);
  const char *bad[] = {"127.0.0.1", "", ":5", "127.0.0.1:", "::1:5",
                       "[::1", "[::1]x", "[]:5", "127.0.0.1:notaport"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(rc_wr_stun_addr(bad[i], NULL, &ss), RC_ERR_BAD_HOST);
}

static int setup(void **st) {
  (void)st;
  return rc_wr_identity_make(&g_id, NULL) == RC_OK ? 0 : -1;
}

static int teardown(void **st) {
  (void)st;
  rc_wr_identity_remove(&g_id);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_srflx_and_full_agent),
      cmocka_unit_test(test_not_webrtc),
      cmocka_unit_test(test_stun_addr),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
