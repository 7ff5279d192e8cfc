/*
 * coaps+wr back to back in memory: two datagram chains built by
 * rc_stack_build (dtls with self-signed certificates checked by
 * fingerprint, sctp over real usrsctp, dcep) under RFC 8323 sessions in
 * message mode, each datagram moved by hand on a fake clock that also
 * drives usrsctp's timers. As in real WebRTC the answerer is the DTLS
 * client; here the CoAP server is the answerer and the CoAP client (the
 * DTLS server) opens the channel.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <usrsctp.h>

#include "rcoap/codec_msg.h"
#include "rcoap/codec_option.h"
#include "rcoap/transport_chain.h"
#include "rcoap/transport_stack.h"
#include "transport/tls_int.h"
#include "transport/webrtc/sctp_int.h"

#define T0 5000000u
#define TURNS 20000
#define BIG (1024u * 1024u)

static char g_dir[64];
static size_t g_max_dgram = RC_DTLS_DEFAULT_MTU; /* the largest allowed */
static size_t g_big_dgram;                        /* the largest seen */
static size_t g_packet;                           /* webrtc_packet */
static const uint8_t *g_srv_fp; /* the server's stack peer_fp, or NULL */

static int g_keep_ssl; /* rc_tls_config.keep_ssl of both ends' contexts */
/* test_dtls_handover_same: the server echoes each message it gets (its
 * bytes: msg_bytes) as a 2.05's payload; both ends' messages in a row */
static int g_echo;
static uint8_t *g_seen[2];
static size_t g_moved[2]; /* datagrams moved by move(): [0] from the client */
static size_t g_seen_len[2];

/* Counts what the sctp and dcep filters hold through rc_mem. */
static long g_live;
static void *cnt_malloc(size_t n, void *u) {
  (void)u;
  size_t *p = malloc(sizeof(size_t) + n);
  if (p == NULL)
    return NULL;
  *p = n;
  g_live += (long)n;
  return p + 1;
}
static void cnt_free(void *q, void *u) {
  (void)u;
  if (q == NULL)
    return;
  size_t *p = (size_t *)q - 1;
  g_live -= (long)*p;
  free(p);
}
static void *cnt_realloc(void *q, size_t n, void *u) {
  if (q == NULL)
    return cnt_malloc(n, u);
  size_t *p = (size_t *)q - 1, old = *p;
  size_t *r = realloc(p, sizeof(size_t) + n);
  if (r == NULL)
    return NULL;
  *r = n;
  g_live += (long)n - (long)old;
  return r + 1;
}
static const rc_mem g_cnt = {cnt_malloc, cnt_realloc, cnt_free, NULL};
static char g_crt[2][128], g_key[2][128];
static uint8_t g_fp[2][RC_TLS_FINGERPRINT_LEN];
static rc_time g_now;

typedef struct peer {
  rc_chain *ch;
  rc_session *s;
  int server, opened, ends, msgs;
  rc_chain_end_how how;
  rc_err end_err;
  char detail[256];
  uint8_t code;
  size_t payload_len;
  uint8_t first, last;
} peer;

static void on_open(void *u) { ((peer *)u)->opened++; }
static void on_end(void *u, rc_chain_end_how how, rc_err err, const char *d) {
  peer *p = u;
  p->ends++;
  p->how = how;
  p->end_err = err;
  snprintf(p->detail, sizeof p->detail, "%s", d);
}
static const rc_chain_callbacks chain_cb = {.on_open = on_open, .on_end = on_end};

/* Message m as bytes: code, token, options and payload, each after its
 * length; into out (NULL: its size only). */
static size_t msg_bytes(const rc_msg *m, uint8_t *out) {
  size_t parts[3] = {m->token_len, m->opts_len, m->payload_len}, n = 1;
  const uint8_t *data[3] = {m->token, m->opts, m->payload};
  if (out)
    out[0] = m->code;
  for (int i = 0; i < 3; i++) {
    if (out) {
      for (int b = 0; b < 4; b++)
        out[n + b] = (uint8_t)(parts[i] >> (24 - 8 * b));
      if (parts[i])
        memcpy(out + n + 4, data[i], parts[i]);
    }
    n += 4 + parts[i];
  }
  return n;
}

static void echo(peer *p, const rc_msg *m) {
  size_t n = msg_bytes(m, NULL);
  g_seen[p->server] = realloc(g_seen[p->server], g_seen_len[p->server] + n);
  assert_non_null(g_seen[p->server]);
  msg_bytes(m, g_seen[p->server] + g_seen_len[p->server]);
  if (p->server) {
    rc_enc e;
    assert_int_equal(rc_session_msg_begin(p->s, &e, RC_CONTENT, m->token,
                                          m->token_len, n + 16),
                     RC_OK);
    assert_int_equal(
        rc_enc_payload(&e, g_seen[1] + g_seen_len[1], n), RC_OK);
    assert_int_equal(rc_session_msg_end(p->s, &e), RC_OK);
  }
  g_seen_len[p->server] += n;
}

static int on_message(void *u, const rc_msg *m) {
  peer *p = u;
  p->msgs++;
  if (g_echo && RC_CODE_CLASS(m->code) != 7) { /* not a signal */
    echo(p, m);
    return 0;
  }
  p->code = m->code;
  p->payload_len = m->payload_len;
  p->first = m->payload_len ? m->payload[0] : 0;
  p->last = m->payload_len ? m->payload[m->payload_len - 1] : 0;
  if (p->server && m->code == RC_GET) {
    rc_enc e;
    assert_int_equal(rc_session_msg_begin(p->s, &e, RC_CONTENT, m->token,
                                          m->token_len, 64),
                     RC_OK);
    assert_int_equal(rc_enc_payload(&e, "hello", 5), RC_OK);
    assert_int_equal(rc_session_msg_end(p->s, &e), RC_OK);
  }
  return 0;
}
static const rc_session_callbacks sess_cb = {.on_message = on_message};

/* server: the CoAP server, DTLS client (a=setup:active), waits for the
 * channel. fp_bad: it expects a fingerprint that is not the peer's. */
static rc_tls_ctx *ctx_for(int server, int fp_bad) {
  rc_tls_config c;
  rc_tls_config_init(&c, server ? RC_TLS_CLIENT : RC_TLS_SERVER);
  c.datagram = 1;
  c.certs[0].cert_file = g_crt[server];
  c.certs[0].key_file = g_key[server];
  c.ncerts = 1;
  uint8_t fp[RC_TLS_FINGERPRINT_LEN];
  memcpy(fp, g_fp[!server], sizeof fp);
  if (fp_bad)
    fp[7] ^= 1;
  c.peer_fingerprint = fp;
  c.keep_ssl = g_keep_ssl;
  rc_tls_ctx *ctx = NULL;
  char err[256];
  assert_int_equal(rc_tls_ctx_new(&ctx, &c, err, sizeof err), RC_OK);
  return ctx;
}

static void peer_init(peer *p, rc_tls_ctx *ctx, int server) {
  memset(p, 0, sizeof *p);
  p->server = server;
  rc_session_config sc;
  rc_session_config_default(&sc, RC_FRAMING_WS,
                            server ? RC_SESSION_SERVER : RC_SESSION_CLIENT);
  sc.max_msg_size = 2 * BIG;
  rc_stack_config st = {.role = server ? RC_SESSION_SERVER : RC_SESSION_CLIENT,
                        .webrtc = 1,
                        .webrtc_open = !server,
                        .tls_ctx = ctx,
                        .peer = "peer",
                        .peer_len = 4,
                        .now = g_now,
                        .webrtc_packet = g_packet,
                        .peer_fp = server ? g_srv_fp : NULL,
                        .mem = &g_cnt,
                        .max_message = sc.max_msg_size};
  assert_int_equal(rc_stack_framing(&st), RC_FRAMING_WS);
  assert_int_equal(rc_session_new(&p->s, &sc, &sess_cb, p, NULL, g_now),
                   RC_OK);
  rc_chain_config cc = {.flags = RC_CHAIN_DATAGRAM};
  assert_int_equal(rc_chain_new(&p->ch, &cc, p->s, &chain_cb, p), RC_OK);
  assert_int_equal(rc_stack_build(p->ch, &st), RC_OK);
  assert_int_equal(rc_chain_count(p->ch), 3);
}

static void peer_free(peer *p) {
  rc_chain_end(p->ch);
  rc_chain_free(p->ch);
}

static size_t move(peer *from, peer *to) {
  const uint8_t *d;
  size_t n, k = 0;
  while (rc_chain_pull(from->ch, &d, &n) == RC_OK) {
    assert_true(n > 0 && n <= g_max_dgram);
    if (n > g_big_dgram)
      g_big_dgram = n;
    (void)rc_chain_recv(to->ch, d, n, g_now);
    g_moved[from->server]++;
    assert_int_equal(rc_chain_consume(from->ch, n), RC_OK);
    k++;
  }
  return k;
}

/* Moves datagrams until done(a, b) or nothing moves even after the
 * clock runs on to the next deadline. Returns the turns taken. */
static int pump_until(peer *a, peer *b, int (*done)(peer *, peer *)) {
  for (int t = 0; t < TURNS; t++) {
    if (done != NULL && done(a, b))
      return t;
    if (move(a, b) + move(b, a) > 0)
      continue;
    if (done == NULL)
      return t;
    rc_time ea = rc_chain_expiry(a->ch), eb = rc_chain_expiry(b->ch);
    rc_time e = ea < eb ? ea : eb;
    if (e == RC_TIME_NEVER)
      return t;
    g_now = e > g_now ? e : g_now + 1;
    rc_chain_handle_expiry(a->ch, g_now);
    rc_chain_handle_expiry(b->ch, g_now);
  }
  fail_msg("pump did not settle");
  return TURNS;
}

static int both_open(peer *a, peer *b) {
  return (a->opened && b->opened) || a->ends || b->ends;
}
static int client_has_msg(peer *c, peer *s) {
  (void)s;
  return c->msgs > 0 || c->ends;
}
static int server_has_msg(peer *c, peer *s) {
  (void)c;
  return s->msgs > 0 || s->ends;
}
static int any_end(peer *a, peer *b) { return a->ends || b->ends; }

static void open_pair(peer *c, peer *s, int fp_bad) {
  rc_tls_ctx *cctx = ctx_for(0, 0), *sctx = ctx_for(1, fp_bad);
  peer_init(c, cctx, 0);
  peer_init(s, sctx, 1);
  rc_tls_ctx_free(cctx); /* the filters keep their references */
  rc_tls_ctx_free(sctx);
  assert_int_equal(rc_chain_start(c->ch, g_now), RC_OK);
  assert_int_equal(rc_chain_start(s->ch, g_now), RC_OK);
  (void)pump_until(c, s, both_open);
}

static void send_get(peer *p) {
  rc_enc e;
  static const uint8_t tok[2] = {0x77, 0x72};
  assert_int_equal(rc_session_msg_begin(p->s, &e, RC_GET, tok, 2, 64), RC_OK);
  assert_int_equal(rc_enc_opt(&e, RC_OPT_URI_PATH, "hello", 5), RC_OK);
  assert_int_equal(rc_session_msg_end(p->s, &e), RC_OK);
}

static void test_get_big_and_close(void **state) {
  (void)state;
  peer c, s;
  open_pair(&c, &s, 0);
  assert_int_equal(c.ends + s.ends, 0);
  assert_int_equal(c.opened, 1);
  assert_int_equal(s.opened, 1);
  /* The channel: opened by the DTLS server, so an odd stream id. */
  assert_int_equal(rc_dcep_stream(rc_chain_find(c.ch, "dcep")), 1);
  assert_int_equal(rc_dcep_stream(rc_chain_find(s.ch, "dcep")), 1);
  /* CSMs both ways, then a GET and its 2.05. */
  (void)pump_until(&c, &s, NULL);
  assert_int_equal(rc_session_get_state(c.s), RC_SESSION_OPEN);
  assert_int_equal(rc_session_get_state(s.s), RC_SESSION_OPEN);
  send_get(&c);
  (void)pump_until(&c, &s, client_has_msg);
  assert_int_equal(s.code, RC_GET);
  assert_int_equal(c.code, RC_CONTENT);
  assert_int_equal(c.payload_len, 5);
  /* One 1 MiB message: far past one SCTP packet and the 64 KiB read
   * chunk, it arrives in pieces (partial delivery) and goes up whole. */
  rc_enc e;
  static const uint8_t tok[1] = {9};
  assert_int_equal(rc_session_msg_begin(c.s, &e, RC_PUT, tok, 1, BIG), RC_OK);
  uint8_t *big = malloc(BIG);
  for (size_t i = 0; i < BIG; i++)
    big[i] = (uint8_t)(i * 7 + 3);
  assert_int_equal(rc_enc_payload(&e, big, BIG), RC_OK);
  assert_int_equal(rc_session_msg_end(c.s, &e), RC_OK);
  s.msgs = 0;
  int turns = pump_until(&c, &s, server_has_msg);
  print_message("1 MiB over the data channel in %d turns, %llu ms of fake "
                "clock\n",
                turns, (unsigned long long)(g_now - T0));
  assert_int_equal(s.ends, 0);
  assert_int_equal(s.code, RC_PUT);
  assert_int_equal(s.payload_len, BIG);
  assert_int_equal(s.first, big[0]);
  assert_int_equal(s.last, big[BIG - 1]);
  free(big);
  /* Orderly end from the client: channel reset, SCTP SHUTDOWN, then
   * close_notify; the server's chain learns of the peer's close. */
  rc_session_close(c.s, RC_OK);
  rc_chain_close(c.ch);
  (void)pump_until(&c, &s, any_end);
  assert_int_equal(s.ends, 1);
  assert_int_equal(s.how, RC_CHAIN_END_PEER);
  assert_non_null(strstr(s.detail, "data channel"));
  peer_free(&c);
  peer_free(&s);
  assert_int_equal(rc_sctp_live(), 0);
}

static void test_wrong_fingerprint(void **state) {
  (void)state;
  peer c, s;
  open_pair(&c, &s, 1);
  assert_int_equal(s.opened, 0);
  assert_int_equal(s.ends, 1);
  assert_int_equal(s.end_err, RC_ERR_TLS_CERT);
  assert_non_null(strstr(s.detail, "fingerprint"));
  assert_int_equal(c.opened, 0);
  peer_free(&c);
  peer_free(&s);
  assert_int_equal(rc_sctp_live(), 0);
}

/* A peer killed: the other side's SCTP gives up after its retransmissions
 * (fake clock), and the chain ends with an error. */
static void test_peer_gone(void **state) {
  (void)state;
  peer c, s;
  open_pair(&c, &s, 0);
  (void)pump_until(&c, &s, NULL);
  peer_free(&s); /* gone without a word (its ABORT is not delivered) */
  const uint8_t *d;
  size_t n;
  while (rc_chain_pull(c.ch, &d, &n) == RC_OK)
    (void)rc_chain_consume(c.ch, n);
  send_get(&c);
  for (int t = 0; t < TURNS && !c.ends; t++) {
    while (rc_chain_pull(c.ch, &d, &n) == RC_OK)
      (void)rc_chain_consume(c.ch, n); /* into the void */
    g_now = rc_chain_expiry(c.ch) > g_now ? rc_chain_expiry(c.ch) : g_now + 1;
    rc_chain_handle_expiry(c.ch, g_now);
  }
  assert_int_equal(c.ends, 1);
  assert_int_equal(c.how, RC_CHAIN_END_ERROR);
  assert_non_null(strstr(c.detail, "SCTP"));
  peer_free(&c);
  assert_int_equal(rc_sctp_live(), 0);
}

/* usrsctp still busy when the last filter goes (measured under load:
 * a socket not yet freed, so every usrsctp_finish of lib_unref fails):
 * it stays up for the next filter, which must not initialise it again
 * over its live tables (LeakSanitizer found them lost, and the socket
 * with them). Here a socket of the test's own holds usrsctp busy. */
static void test_sctp_busy_at_finish(void **state) {
  (void)state;
  peer c, s;
  open_pair(&c, &s, 0);
  (void)pump_until(&c, &s, NULL);
  struct socket *own =
      usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
  assert_non_null(own);
  peer_free(&c);
  peer_free(&s);
  assert_int_equal(rc_sctp_live(), 0);
  /* again, over the usrsctp that could not finish */
  open_pair(&c, &s, 0);
  (void)pump_until(&c, &s, NULL);
  send_get(&c);
  (void)pump_until(&c, &s, client_has_msg);
  assert_int_equal(c.code, RC_CONTENT);
  usrsctp_close(own); /* still the socket usrsctp knows */
  peer_free(&c);
  peer_free(&s);
  assert_int_equal(rc_sctp_live(), 0);
}

static void send_get_tok(peer *p, uint8_t tok) {
  rc_enc e;
  assert_int_equal(rc_session_msg_begin(p->s, &e, RC_GET, &tok, 1, 64), RC_OK);
  assert_int_equal(rc_enc_opt(&e, RC_OPT_URI_PATH, "hello", 5), RC_OK);
  assert_int_equal(rc_session_msg_end(p->s, &e), RC_OK);
}

/* Sixteen requests queued at once leave as one batch (the chain's
 * RC_FILTER_MORE down to SCTP): one or two SCTP packets (one DTLS record
 * and one datagram each), not sixteen; the sixteen answers, made in one
 * recv, at most three. Then, idle, the sctp and dcep filters of both peers
 * hold at most 2 KiB through the library's allocator. */
static void test_batch_bundled(void **state) {
  (void)state;
  peer c, s;
  open_pair(&c, &s, 0);
  (void)pump_until(&c, &s, NULL);
  assert_int_equal(rc_session_get_state(c.s), RC_SESSION_OPEN);
  c.msgs = s.msgs = 0;
  for (int i = 0; i < 16; i++)
    send_get_tok(&c, (uint8_t)(0x40 + i));
  size_t up = move(&c, &s);
  print_message("16 requests: %zu datagrams\n", up);
  assert_in_range(up, 1, 2);
  assert_int_equal(s.msgs, 16);
  size_t down = move(&s, &c);
  print_message("16 answers: %zu datagrams\n", down);
  /* the SACK of the requests, the first answer (nothing in flight, so
   * Nagle holds nothing), then the fifteen others together */
  assert_in_range(down, 1, 3);
  assert_int_equal(c.msgs, 16);
  assert_int_equal(c.code, RC_CONTENT);
  /* Idle after the clock ran on (delayed SACKs, the reassembly buffer's
   * hold): the filters' own allocations are small and bounded. */
  (void)pump_until(&c, &s, NULL);
  g_now += 2000;
  rc_chain_handle_expiry(c.ch, g_now);
  rc_chain_handle_expiry(s.ch, g_now);
  (void)pump_until(&c, &s, NULL);
  print_message("idle: %ld bytes held by sctp+dcep of two peers\n", g_live);
  assert_in_range(g_live, 1, 2 * 2048);
  peer_free(&c);
  peer_free(&s);
  assert_int_equal(g_live, 0);
  assert_int_equal(rc_sctp_live(), 0);
}

/* webrtc_packet (a loopback pair): a 1 MiB message in SCTP packets of a
 * whole DTLS record, each one datagram of at most 2^14 bytes plus the
 * record's overhead. */
static void test_big_packets(void **state) {
  (void)state;
  g_packet = 16384 - 16;
  g_max_dgram = 16384 + 80;
  g_big_dgram = 0;
  peer c, s;
  open_pair(&c, &s, 0);
  (void)pump_until(&c, &s, NULL);
  rc_enc e;
  static const uint8_t tok[1] = {5};
  assert_int_equal(rc_session_msg_begin(c.s, &e, RC_PUT, tok, 1, BIG), RC_OK);
  uint8_t *big = malloc(BIG);
  for (size_t i = 0; i < BIG; i++)
    big[i] = (uint8_t)(i * 13 + 1);
  assert_int_equal(rc_enc_payload(&e, big, BIG), RC_OK);
  assert_int_equal(rc_session_msg_end(c.s, &e), RC_OK);
  s.msgs = 0;
  (void)pump_until(&c, &s, server_has_msg);
  g_packet = 0;
  g_max_dgram = RC_DTLS_DEFAULT_MTU;
  assert_int_equal(s.ends, 0);
  assert_int_equal(s.payload_len, BIG);
  assert_int_equal(s.last, big[BIG - 1]);
  print_message("largest datagram: %zu bytes\n", g_big_dgram);
  assert_true(g_big_dgram > 8 * RC_DTLS_DEFAULT_MTU);
  free(big);
  peer_free(&c);
  peer_free(&s);
  assert_int_equal(rc_sctp_live(), 0);
}

/* Regression: the process stalls (a busy machine) while the peer's SACKs
 * wait in the socket; the loop then runs timers before it reads. The
 * late tick must not hand usrsctp the stalled time: a T3 timer counted
 * over it fired for data the peer had, cut the congestion window to one
 * packet and sent the data again (bench/webrtc.sh under load: 7 T3s and
 * 55 retransmissions in one 64 MiB GET). */
static void test_stall_no_t3(void **state) {
  (void)state;
  g_packet = 16384 - 16;
  g_max_dgram = 16384 + 80;
  peer c, s;
  open_pair(&c, &s, 0);
  (void)pump_until(&c, &s, NULL);
  struct sctpstat st0, st1;
  usrsctp_get_stat(&st0);
  rc_enc e;
  static const uint8_t tok[1] = {6};
  assert_int_equal(rc_session_msg_begin(c.s, &e, RC_PUT, tok, 1, BIG), RC_OK);
  uint8_t *big = calloc(1, BIG);
  assert_non_null(big);
  assert_int_equal(rc_enc_payload(&e, big, BIG), RC_OK);
  assert_int_equal(rc_session_msg_end(c.s, &e), RC_OK);
  /* The client's first burst reaches the server, whose SACKs wait... */
  assert_true(move(&c, &s) > 0);
  /* ...while the client does not run for 1.5 s (RTO here: 200 ms), then
   * its timers run first, late. */
  g_now += 1500;
  rc_chain_handle_expiry(c.ch, g_now);
  rc_chain_handle_expiry(s.ch, g_now);
  s.msgs = 0;
  (void)pump_until(&c, &s, server_has_msg);
  usrsctp_get_stat(&st1);
  g_packet = 0;
  g_max_dgram = RC_DTLS_DEFAULT_MTU;
  assert_int_equal(s.ends, 0);
  assert_int_equal(s.payload_len, BIG);
  print_message("T3 timeouts %u, retransmitted chunks %u\n",
                st1.sctps_timodata - st0.sctps_timodata,
                st1.sctps_sendretransdata - st0.sctps_sendretransdata);
  assert_int_equal(st1.sctps_timodata - st0.sctps_timodata, 0);
  assert_int_equal(st1.sctps_sendretransdata - st0.sctps_sendretransdata, 0);
  free(big);
  peer_free(&c);
  peer_free(&s);
  assert_int_equal(rc_sctp_live(), 0);
}

/* One context for many peers (wr_ep.c shares one per role): each DTLS
 * filter checks its own peer's fingerprint, not the context's. */
static void test_fingerprint_per_filter(void **state) {
  (void)state;
  /* the context names a wrong fingerprint, the filter the right one */
  g_srv_fp = g_fp[0];
  peer c, s;
  open_pair(&c, &s, 1);
  assert_int_equal(s.ends + c.ends, 0);
  assert_int_equal(s.opened, 1);
  peer_free(&c);
  peer_free(&s);
  /* the context names the right one, the filter a wrong one */
  uint8_t bad[RC_TLS_FINGERPRINT_LEN];
  memcpy(bad, g_fp[0], sizeof bad);
  bad[3] ^= 0x80;
  g_srv_fp = bad;
  open_pair(&c, &s, 0);
  g_srv_fp = NULL;
  assert_int_equal(s.opened, 0);
  assert_int_equal(s.end_err, RC_ERR_TLS_CERT);
  assert_non_null(strstr(s.detail, "fingerprint"));
  peer_free(&c);
  peer_free(&s);
  assert_int_equal(rc_sctp_live(), 0);
}

/* Message k of test_dtls_handover_same from p: a method, a token of
 * 0-8 bytes, Uri-Path, an elective option of 0-300 bytes now and then,
 * a payload of 0 to 70000 bytes (over one record, one SCTP packet, one
 * datagram), its bytes a function of k. */
static void send_shape(peer *p, size_t k) {
  static const uint8_t codes[] = {RC_GET, RC_POST, RC_PUT, RC_DELETE,
                                  RC_FETCH};
  static const size_t pls[] = {0, 1, 13, 100, 1000, 1100, 1200, 1300,
                               5000, 16384, 16400, 20000, 70000};
  static uint8_t buf[70000 + 300];
  for (size_t i = 0; i < sizeof buf; i++)
    buf[i] = (uint8_t)(i * 31 + k);
  uint8_t tok[8];
  size_t tkl = k % 9;
  memcpy(tok, buf, tkl);
  size_t pl = pls[k % (sizeof pls / sizeof *pls)];
  rc_enc e;
  assert_int_equal(rc_session_msg_begin(p->s, &e, codes[k % 5], tok, tkl,
                                        pl + 400),
                   RC_OK);
  assert_int_equal(rc_enc_opt(&e, RC_OPT_URI_PATH, "shape", 5), RC_OK);
  if (k % 3 == 0)
    assert_int_equal(rc_enc_opt(&e, 62, buf + 7, (k * 7) % 301), RC_OK);
  if (pl)
    assert_int_equal(rc_enc_payload(&e, buf + 300, pl), RC_OK);
  assert_int_equal(rc_session_msg_end(p->s, &e), RC_OK);
}

static int all_echoed(peer *c, peer *s) {
  return (c->msgs >= s->msgs && s->msgs >= 208) || c->ends || s->ends;
}

/* The DTLS record hand-over (dtls_record.c) against OpenSSL's records:
 * 208 messages of every size class (up to 70000 bytes) sent in bursts
 * of 1 to 16 (bundled into shared records) and echoed back, once with
 * both ends' records handed over and once with keep_ssl: what each end
 * received is the same bytes both times, in as many datagrams each way
 * (a record the hand-over dropped would come again in another), and
 * each end's filter is what the run says (its SSL freed or kept). */
static void test_dtls_handover_same(void **state) {
  (void)state;
  uint8_t *seen[2][2];
  size_t len[2][2], moved[2][2];
  g_echo = 1;
  for (int keep = 0; keep < 2; keep++) {
    g_keep_ssl = keep;
    peer c, s;
    open_pair(&c, &s, 0);
    (void)pump_until(&c, &s, NULL);
    assert_int_equal(rc_session_get_state(c.s), RC_SESSION_OPEN);
    c.msgs = s.msgs = 0;
    g_seen_len[0] = g_seen_len[1] = 0;
    g_moved[0] = g_moved[1] = 0;
    for (size_t k = 0, burst = 1; k < 208; burst = burst % 16 + 1) {
      for (size_t b = 0; b < burst && k < 208; b++)
        send_shape(&c, k++);
      (void)move(&c, &s);
    }
    (void)pump_until(&c, &s, all_echoed);
    assert_int_equal(c.ends + s.ends, 0);
    assert_int_equal(s.msgs, 208);
    assert_int_equal(c.msgs, 208);
    for (int i = 0; i < 2; i++) {
      peer *p = i ? &s : &c;
      const rc__tls_filter *d =
          (const rc__tls_filter *)rc_chain_find(p->ch, "dtls");
      assert_non_null(d);
      assert_int_equal(d->ssl != NULL, keep);
      moved[keep][i] = g_moved[i];
      seen[keep][i] = g_seen[i];
      len[keep][i] = g_seen_len[i];
      g_seen[i] = NULL;
    }
    print_message("%s: 208 messages, %zu bytes there and %zu back in %zu "
                  "and %zu datagrams\n",
                  keep ? "keep_ssl" : "handed over", len[keep][1],
                  len[keep][0], moved[keep][0], moved[keep][1]);
    peer_free(&c);
    peer_free(&s);
  }
  g_echo = 0;
  g_keep_ssl = 0;
  for (int i = 0; i < 2; i++) {
    /* the same records (sizes and all): the same SCTP packets, none
     * lost and sent again */
    assert_int_equal(moved[0][i], moved[1][i]);
    assert_int_equal(len[0][i], len[1][i]);
    assert_memory_equal(seen[0][i], seen[1][i], len[0][i]);
    free(seen[0][i]);
    free(seen[1][i]);
  }
}

static int setup(void **state) {
  (void)state;
  g_now = T0;
  snprintf(g_dir, sizeof g_dir, "/tmp/rcoap-wr-test-XXXXXX");
  if (!mkdtemp(g_dir))
    return -1;
  for (int i = 0; i < 2; i++) {
    snprintf(g_crt[i], sizeof g_crt[i], "%s/%d.crt", g_dir, i);
    snprintf(g_key[i], sizeof g_key[i], "%s/%d.key", g_dir, i);
    if (rc_tls_make_self_signed(g_crt[i], g_key[i], i ? "answerer" : "offerer") !=
            RC_OK ||
        rc_tls_fingerprint_file(g_crt[i], g_fp[i]) != RC_OK)
      return -1;
  }
  return 0;
}

static int teardown(void **state) {
  (void)state;
  for (int i = 0; i < 2; i++) {
    remove(g_crt[i]);
    remove(g_key[i]);
  }
  return rmdir(g_dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_get_big_and_close),
      cmocka_unit_test(test_wrong_fingerprint),
      cmocka_unit_test(test_peer_gone),
      cmocka_unit_test(test_sctp_busy_at_finish),
      cmocka_unit_test(test_batch_bundled),
      cmocka_unit_test(test_big_packets),
      cmocka_unit_test(test_fingerprint_per_filter),
      cmocka_unit_test(test_stall_no_t3),
      cmocka_unit_test(test_dtls_handover_same),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
