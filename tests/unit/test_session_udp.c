/*
 * The RFC 7252 message layer (src/session/udp.c) on a fake clock: the
 * exact retransmission schedule for a fixed random factor, piggybacked
 * and separate responses, deduplication with the answer replayed, ACK
 * and RST, ping, NSTART, observe notifications (NON, CON every interval,
 * RST and timeout reported), and the exact answer to malformed datagrams.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rcoap/codec_option.h"
#include "rcoap/session.h"

typedef struct peer {
  rc_session *s;
  int n_msg;
  rc_msg last;          /* views valid only in the callback: copied below */
  uint8_t last_code, last_type;
  uint16_t last_mid;
  uint8_t last_tok[8];
  size_t last_tkl;
  int reply;            /* answer requests from on_message */
  int n_lost;
  rc_err lost_why;
  uint8_t lost_tok[8];
  size_t lost_tkl;
  int n_pong;
  uint32_t pong_id;
  rc_time pong_rtt;
  int n_closed;
  rc_err closed_why;
  uint32_t rnd;         /* what random() returns */
  /* drained datagrams */
  uint8_t out[16][1200];
  size_t out_len[16];
  size_t n_out;
} peer;

static uint32_t p_random(void *u) { return ((peer *)u)->rnd; }

static int respond(peer *p, uint8_t code, const uint8_t *tok, size_t tkl,
                   const char *payload) {
  rc_enc e;
  rc_err err = rc_session_msg_begin(p->s, &e, code, tok, tkl, 64);
  if (err)
    return err;
  rc_enc_payload(&e, payload, strlen(payload));
  return rc_session_msg_end(p->s, &e);
}

static int p_on_message(void *u, const rc_msg *m) {
  peer *p = u;
  p->n_msg++;
  p->last_code = m->code;
  p->last_type = m->type;
  p->last_mid = m->mid;
  p->last_tkl = m->token_len;
  if (m->token_len)
    memcpy(p->last_tok, m->token, m->token_len);
  if (p->reply && rc_code_is_request(m->code))
    respond(p, RC_CONTENT, m->token, m->token_len, "hi");
  return 0;
}
static void p_on_lost(void *u, const uint8_t *tok, size_t tkl, rc_err why) {
  peer *p = u;
  p->n_lost++;
  p->lost_why = why;
  memcpy(p->lost_tok, tok, tkl);
  p->lost_tkl = tkl;
}
static void p_on_pong(void *u, uint32_t id, rc_time rtt, int custody) {
  peer *p = u;
  (void)custody;
  p->n_pong++;
  p->pong_id = id;
  p->pong_rtt = rtt;
}
static void p_on_closed(void *u, rc_err why) {
  peer *p = u;
  p->n_closed++;
  p->closed_why = why;
}

static const rc_session_callbacks p_cb = {
    .on_message = p_on_message,
    .on_lost = p_on_lost,
    .on_pong = p_on_pong,
    .on_closed = p_on_closed,
};

static peer *p_new(void (*tweak)(rc_session_config *)) {
  peer *p = calloc(1, sizeof *p);
  rc_session_config cfg;
  rc_session_config_default(&cfg, RC_FRAMING_UDP, RC_SESSION_SERVER);
  cfg.udp.random = p_random;
  cfg.udp.random_user = p;
  if (tweak)
    tweak(&cfg);
  assert_int_equal(rc_session_new(&p->s, &cfg, &p_cb, p, NULL, 0), RC_OK);
  assert_int_equal(rc_session_framing(p->s), RC_FRAMING_UDP);
  return p;
}
static void p_del(peer *p) {
  rc_session_free(p->s);
  free(p);
}

/* Takes every queued datagram. Returns how many. */
static size_t drain(peer *p) {
  const uint8_t *d;
  size_t n;
  p->n_out = 0;
  while (rc_session_pending(p->s, &d, &n) == RC_OK) {
    assert_true(p->n_out < 16);
    assert_true(n <= sizeof p->out[0]);
    memcpy(p->out[p->n_out], d, n);
    p->out_len[p->n_out++] = n;
    assert_int_equal(rc_session_consume(p->s, n), RC_OK);
  }
  return p->n_out;
}

static rc_msg parsed(peer *p, size_t i) {
  rc_msg m;
  assert_int_equal(rc_msg_parse(RC_FRAMING_UDP, p->out[i], p->out_len[i], &m),
                   RC_OK);
  return m;
}

/* Builds a datagram: type, code, mid, token, optional Uri-Path, payload. */
static size_t build(uint8_t *buf, uint8_t type, uint8_t code, uint16_t mid,
                    const char *tok, const char *path, const char *pl) {
  rc_enc e;
  uint8_t tmp[512];
  rc_enc_init(&e, tmp, sizeof tmp, code, (const uint8_t *)tok,
              tok ? strlen(tok) : 0);
  if (path)
    rc_enc_opt_str(&e, RC_OPT_URI_PATH, path);
  if (pl)
    rc_enc_payload(&e, pl, strlen(pl));
  const uint8_t *out;
  size_t n;
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_UDP, type, mid, &out, &n),
                   RC_OK);
  memcpy(buf, out, n);
  return n;
}

static void feed(peer *p, const uint8_t *d, size_t n, rc_time now) {
  assert_int_equal(rc_session_recv(p->s, d, n, now), RC_OK);
}

/* ------------------------------------------------------------------ */

static void retransmission_schedule_exact(void **state) {
  (void)state;
  peer *p = p_new(NULL);
  p->rnd = 0; /* initial timeout exactly ACK_TIMEOUT */
  assert_int_equal(respond(p, RC_GET, (const uint8_t *)"t1", 2, ""), RC_OK);
  /* Queued outside any call with a time: the timer starts at the next
   * handle_expiry. */
  assert_int_equal(rc_session_expiry(p->s), 0);
  assert_int_equal(rc_session_handle_expiry(p->s, 1000), RC_OK);
  assert_int_equal(drain(p), 1);
  rc_msg m = parsed(p, 0);
  assert_int_equal(m.type, RC_TYPE_CON);
  uint8_t first[64];
  size_t first_len = p->out_len[0];
  memcpy(first, p->out[0], first_len);
  /* RFC 7252 §4.2: 2 s, then doubled: retransmissions at +2, +6, +14,
   * +30 s; given up at +62 s (the fourth timeout of 32 s). */
  const rc_time at[] = {3000, 7000, 15000, 31000};
  for (int i = 0; i < 4; i++) {
    assert_int_equal(rc_session_expiry(p->s), at[i]);
    assert_int_equal(rc_session_handle_expiry(p->s, at[i] - 1), RC_OK);
    assert_int_equal(drain(p), 0);
    assert_int_equal(rc_session_handle_expiry(p->s, at[i]), RC_OK);
    assert_int_equal(drain(p), 1);
    assert_int_equal(p->out_len[0], first_len);
    assert_memory_equal(p->out[0], first, first_len); /* same MID */
  }
  assert_int_equal(rc_session_expiry(p->s), 63000);
  assert_int_equal(p->n_lost, 0);
  assert_int_equal(rc_session_handle_expiry(p->s, 63000), RC_OK);
  assert_int_equal(drain(p), 0);
  assert_int_equal(p->n_lost, 1);
  assert_int_equal(p->lost_why, RC_ERR_TIMEOUT);
  assert_int_equal(p->lost_tkl, 2);
  assert_memory_equal(p->lost_tok, "t1", 2);
  assert_int_equal(rc_session_expiry(p->s), RC_TIME_NEVER);
  p_del(p);
}

static void retransmission_random_factor(void **state) {
  (void)state;
  peer *p = p_new(NULL);
  p->rnd = UINT32_MAX; /* the top of [ACK_TIMEOUT, 1.5 x ACK_TIMEOUT) */
  uint8_t d[64];
  size_t n = build(d, RC_TYPE_NON, RC_GET, 7, "a", "x", NULL);
  feed(p, d, n, 500); /* any call with a time: CONs sent inside it arm */
  assert_int_equal(rc_session_ping(p->s, 0, 500, NULL), RC_OK);
  assert_int_equal(rc_session_expiry(p->s), 500 + 2999);
  p_del(p);
}

static rc_udp_stats g_stats;
static void with_stats(rc_session_config *c) { c->udp.stats = &g_stats; }

/* rc_udp_stats: a CON given up after MAX_RETRANSMIT, one answered after
 * two retransmissions, a duplicate CON and NON from the peer; and the
 * line rcoap --stats prints. */
static void stats_counted(void **state) {
  (void)state;
  memset(&g_stats, 0, sizeof g_stats);
  peer *p = p_new(with_stats);
  p->rnd = 0;
  assert_int_equal(respond(p, RC_GET, (const uint8_t *)"t1", 2, ""), RC_OK);
  assert_int_equal(rc_session_handle_expiry(p->s, 0), RC_OK);
  for (rc_time t = 2000; t <= 62000; t *= 2)
    assert_int_equal(rc_session_handle_expiry(p->s, t - 2000), RC_OK);
  assert_int_equal(rc_session_handle_expiry(p->s, 62000), RC_OK);
  assert_int_equal(p->n_lost, 1);
  assert_int_equal(g_stats.con_sent, 1);
  assert_int_equal(g_stats.retransmits, 4);
  assert_int_equal(g_stats.gave_up, 1);
  assert_int_equal(g_stats.max_tries, 4);
  assert_int_equal(g_stats.answered, 0);
  drain(p);
  /* the second CON: answered after two retransmissions */
  assert_int_equal(respond(p, RC_GET, (const uint8_t *)"t2", 2, ""), RC_OK);
  assert_int_equal(rc_session_handle_expiry(p->s, 100000), RC_OK);
  assert_int_equal(drain(p), 1);
  uint16_t mid = parsed(p, 0).mid;
  assert_int_equal(rc_session_handle_expiry(p->s, 102000), RC_OK);
  assert_int_equal(rc_session_handle_expiry(p->s, 106000), RC_OK);
  assert_int_equal(drain(p), 2);
  uint8_t d[64];
  size_t n = build(d, RC_TYPE_ACK, RC_CONTENT, mid, "t2", NULL, "ok");
  feed(p, d, n, 107000);
  feed(p, d, n, 107001); /* a duplicate ACK counts once */
  assert_int_equal(g_stats.con_sent, 2);
  assert_int_equal(g_stats.retransmits, 6);
  assert_int_equal(g_stats.answered, 1);
  assert_int_equal(g_stats.answered_after[2], 1);
  /* the peer's duplicates */
  n = build(d, RC_TYPE_CON, RC_GET, 0x55, "c", "x", NULL);
  feed(p, d, n, 108000);
  feed(p, d, n, 108001);
  n = build(d, RC_TYPE_NON, RC_GET, 0x56, "n", "x", NULL);
  feed(p, d, n, 108002);
  feed(p, d, n, 108003);
  assert_int_equal(g_stats.dup_con, 1);
  assert_int_equal(g_stats.dup_non, 1);
  char line[256];
  rc_udp_stats_format(&g_stats, line, sizeof line);
  assert_string_equal(line, "con=2 retransmits=6 answered=1 gave_up=1 "
                            "max_tries=4 dup_con=1 dup_non=1 "
                            "after=0,0,1,0,0,0,0,0");
  char small[8];
  assert_true(rc_udp_stats_format(&g_stats, small, sizeof small) >
              (int)sizeof small);
  assert_string_equal(small, "con=2 r");
  assert_int_equal(rc_udp_stats_format(&g_stats, NULL, 0), (int)strlen(line));
  p_del(p);
}

/* rc_session_udp_params: the RFC 7252 §4.8.2 lifetimes follow the
 * parameters (the defaults give back 247 s and 145 s), and the new
 * MAX_RETRANSMIT is what the session gives up after. */
static void udp_params(rc_session_config *c) {
  assert_int_equal(rc_session_udp_params(&c->udp, 300, 6), RC_OK);
}
static void udp_params_derived(void **state) {
  (void)state;
  rc_session_config c;
  rc_session_config_default(&c, RC_FRAMING_UDP, RC_SESSION_CLIENT);
  assert_int_equal(rc_session_udp_params(&c.udp, RC_UDP_ACK_TIMEOUT,
                                         RC_UDP_MAX_RETRANSMIT), RC_OK);
  assert_int_equal(c.udp.exchange_lifetime_ms, RC_UDP_EXCHANGE_LIFETIME);
  assert_int_equal(c.udp.non_lifetime_ms, RC_UDP_NON_LIFETIME);
  assert_int_equal(rc_session_udp_params(&c.udp, 0, 4), RC_ERR_INVAL);
  assert_int_equal(rc_session_udp_params(&c.udp, 300, 21), RC_ERR_INVAL);
  assert_int_equal(c.udp.ack_timeout_ms, RC_UDP_ACK_TIMEOUT);
  peer *p = p_new(udp_params);
  p->rnd = 0;
  assert_int_equal(respond(p, RC_GET, (const uint8_t *)"t", 1, ""), RC_OK);
  assert_int_equal(rc_session_handle_expiry(p->s, 0), RC_OK);
  rc_time t = 0;
  for (int i = 0; i < 6; i++) { /* 300, 600, ... ms: six retransmissions */
    t += (rc_time)300 << i;
    assert_int_equal(rc_session_expiry(p->s), t);
    assert_int_equal(rc_session_handle_expiry(p->s, t), RC_OK);
  }
  t += (rc_time)300 << 6;
  assert_int_equal(rc_session_expiry(p->s), t);
  assert_int_equal(rc_session_handle_expiry(p->s, t), RC_OK);
  assert_int_equal(p->n_lost, 1);
  p_del(p);
}

static void piggybacked_and_replayed(void **state) {
  (void)state;
  peer *p = p_new(NULL);
  p->reply = 1;
  uint8_t d[64];
  size_t n = build(d, RC_TYPE_CON, RC_GET, 0x1234, "tok", "x", NULL);
  feed(p, d, n, 10);
  assert_int_equal(p->n_msg, 1);
  assert_int_equal(drain(p), 1);
  rc_msg m = parsed(p, 0);
  assert_int_equal(m.type, RC_TYPE_ACK);
  assert_int_equal(m.mid, 0x1234);
  assert_int_equal(m.code, RC_CONTENT);
  assert_int_equal(m.token_len, 3);
  assert_memory_equal(m.token, "tok", 3);
  uint8_t ack[64];
  size_t ack_len = p->out_len[0];
  memcpy(ack, p->out[0], ack_len);
  /* §4.5: the duplicate gets the same ACK, the request is not processed
   * again. */
  feed(p, d, n, 2000);
  assert_int_equal(p->n_msg, 1);
  assert_int_equal(drain(p), 1);
  assert_int_equal(p->out_len[0], ack_len);
  assert_memory_equal(p->out[0], ack, ack_len);
  /* After EXCHANGE_LIFETIME the Message ID is new again. */
  feed(p, d, n, 10 + RC_UDP_EXCHANGE_LIFETIME);
  assert_int_equal(p->n_msg, 2);
  assert_int_equal(rc_session_expiry(p->s), RC_TIME_NEVER);
  p_del(p);
}

static void separate_response(void **state) {
  (void)state;
  peer *p = p_new(NULL);
  uint8_t d[64];
  size_t n = build(d, RC_TYPE_CON, RC_GET, 0x0101, "s", "slow", NULL);
  feed(p, d, n, 0);
  assert_int_equal(drain(p), 0);
  assert_int_equal(rc_session_expiry(p->s), RC_UDP_SEPARATE_DELAY);
  /* A duplicate before the answer: acknowledged with an empty ACK. */
  feed(p, d, n, 500);
  assert_int_equal(p->n_msg, 1);
  assert_int_equal(drain(p), 1);
  rc_msg m = parsed(p, 0);
  assert_int_equal(m.type, RC_TYPE_ACK);
  assert_int_equal(m.code, RC_CODE_EMPTY);
  assert_int_equal(m.mid, 0x0101);
  assert_int_equal(p->out_len[0], 4);
  assert_int_equal(rc_session_handle_expiry(p->s, 1000), RC_OK);
  assert_int_equal(drain(p), 0); /* acknowledged already */
  /* The answer now goes as a CON with a new Message ID. */
  assert_int_equal(respond(p, RC_CONTENT, (const uint8_t *)"s", 1, "late"),
                   RC_OK);
  assert_int_equal(drain(p), 1);
  m = parsed(p, 0);
  assert_int_equal(m.type, RC_TYPE_CON);
  assert_int_equal(m.code, RC_CONTENT);
  assert_int_not_equal(m.mid, 0x0101);
  uint16_t mid = m.mid;
  /* The client's empty ACK ends the retransmissions. */
  assert_int_equal(rc_session_handle_expiry(p->s, 1500), RC_OK);
  uint8_t ack[4] = {0x60, 0, (uint8_t)(mid >> 8), (uint8_t)mid};
  feed(p, ack, 4, 1600);
  assert_int_equal(rc_session_expiry(p->s), RC_TIME_NEVER);
  assert_int_equal(p->n_lost, 0);
  p_del(p);
}

static void separate_delay_expires(void **state) {
  (void)state;
  peer *p = p_new(NULL);
  uint8_t d[64];
  size_t n = build(d, RC_TYPE_CON, RC_GET, 0x0202, "q", "slow", NULL);
  feed(p, d, n, 100);
  assert_int_equal(rc_session_handle_expiry(p->s, 100 + 999), RC_OK);
  assert_int_equal(drain(p), 0);
  assert_int_equal(rc_session_handle_expiry(p->s, 100 + 1000), RC_OK);
  assert_int_equal(drain(p), 1);
  assert_int_equal(p->out_len[0], 4);
  assert_int_equal(p->out[0][0], 0x60); /* ACK, empty */
  assert_int_equal(p->out[0][2] << 8 | p->out[0][3], 0x0202);
  /* And the duplicate after it gets that ACK replayed. */
  feed(p, d, n, 1500);
  assert_int_equal(drain(p), 1);
  assert_int_equal(p->out[0][0], 0x60);
  assert_int_equal(p->n_msg, 1);
  p_del(p);
}

static void non_request_non_response(void **state) {
  (void)state;
  peer *p = p_new(NULL);
  p->reply = 1;
  uint8_t d[64];
  size_t n = build(d, RC_TYPE_NON, RC_GET, 0x0303, "n", "x", NULL);
  feed(p, d, n, 0);
  assert_int_equal(drain(p), 1);
  rc_msg m = parsed(p, 0);
  assert_int_equal(m.type, RC_TYPE_NON);
  assert_int_equal(m.code, RC_CONTENT);
  /* A NON duplicate is dropped (§4.5), not answered again. */
  feed(p, d, n, 10);
  assert_int_equal(drain(p), 0);
  assert_int_equal(p->n_msg, 1);
  assert_int_equal(rc_session_expiry(p->s), RC_TIME_NEVER);
  p_del(p);
}

static void our_request_piggybacked_answer(void **state) {
  (void)state;
  peer *p = p_new(NULL);
  assert_int_equal(respond(p, RC_GET, (const uint8_t *)"cl", 2, ""), RC_OK);
  assert_int_equal(rc_session_handle_expiry(p->s, 0), RC_OK);
  assert_int_equal(drain(p), 1);
  rc_msg m = parsed(p, 0);
  uint8_t d[64];
  size_t n = build(d, RC_TYPE_ACK, RC_CONTENT, m.mid, "cl", NULL, "v");
  feed(p, d, n, 100);
  assert_int_equal(p->n_msg, 1);
  assert_int_equal(p->last_code, RC_CONTENT);
  assert_int_equal(rc_session_expiry(p->s), RC_TIME_NEVER);
  /* A duplicate ACK is not delivered twice. */
  feed(p, d, n, 200);
  assert_int_equal(p->n_msg, 1);
  p_del(p);
}

static void separate_response_received(void **state) {
  (void)state;
  peer *p = p_new(NULL);
  uint8_t d[64];
  size_t n = build(d, RC_TYPE_CON, RC_CONTENT, 0x4444, "cl", NULL, "v");
  feed(p, d, n, 0);
  assert_int_equal(p->n_msg, 1);
  assert_int_equal(drain(p), 1);
  assert_int_equal(p->out_len[0], 4);
  assert_int_equal(p->out[0][0], 0x60);
  assert_int_equal(p->out[0][2] << 8 | p->out[0][3], 0x4444);
  feed(p, d, n, 10);
  assert_int_equal(p->n_msg, 1);
  assert_int_equal(drain(p), 1);
  assert_int_equal(p->out[0][0], 0x60);
  p_del(p);
}

static void ping_both_ways(void **state) {
  (void)state;
  peer *p = p_new(NULL);
  /* §4.3: an Empty CON is answered with a matching RST. */
  uint8_t ping[4] = {0x40, 0x00, 0xab, 0xcd};
  feed(p, ping, 4, 0);
  assert_int_equal(drain(p), 1);
  assert_int_equal(p->out_len[0], 4);
  const uint8_t rst[4] = {0x70, 0x00, 0xab, 0xcd};
  assert_memory_equal(p->out[0], rst, 4);
  assert_int_equal(p->n_msg, 0);
  /* Ours: an Empty CON; the RST is the pong. */
  uint32_t id = 0;
  assert_int_equal(rc_session_ping(p->s, 0, 100, &id), RC_OK);
  assert_int_equal(drain(p), 1);
  assert_int_equal(p->out_len[0], 4);
  assert_int_equal(p->out[0][0], 0x40);
  assert_int_equal(p->out[0][1], 0);
  uint8_t pong[4] = {0x70, 0, p->out[0][2], p->out[0][3]};
  feed(p, pong, 4, 130);
  assert_int_equal(p->n_pong, 1);
  assert_int_equal(p->pong_id, id);
  assert_int_equal(p->pong_rtt, 30);
  assert_int_equal(rc_session_expiry(p->s), RC_TIME_NEVER);
  p_del(p);
}

static void nstart_holds_second(void **state) {
  (void)state;
  peer *p = p_new(NULL);
  assert_int_equal(respond(p, RC_GET, (const uint8_t *)"a", 1, ""), RC_OK);
  assert_int_equal(respond(p, RC_GET, (const uint8_t *)"b", 1, ""), RC_OK);
  assert_int_equal(rc_session_handle_expiry(p->s, 0), RC_OK);
  /* RFC 7252 §4.7: NSTART 1: one outstanding CON to the peer. */
  assert_int_equal(drain(p), 1);
  rc_msg m = parsed(p, 0);
  assert_memory_equal(m.token, "a", 1);
  uint8_t ack[4] = {0x60, 0, (uint8_t)(m.mid >> 8), (uint8_t)m.mid};
  feed(p, ack, 4, 50);
  assert_int_equal(drain(p), 1);
  m = parsed(p, 0);
  assert_memory_equal(m.token, "b", 1);
  assert_int_equal(m.type, RC_TYPE_CON);
  /* RST to the second: reported lost. */
  uint8_t rst[4] = {0x70, 0, (uint8_t)(m.mid >> 8), (uint8_t)m.mid};
  feed(p, rst, 4, 60);
  assert_int_equal(p->n_lost, 1);
  assert_int_equal(p->lost_why, RC_ERR_CONN_RESET);
  assert_memory_equal(p->lost_tok, "b", 1);
  assert_int_equal(rc_session_expiry(p->s), RC_TIME_NEVER);
  p_del(p);
}

static void notify_interval(rc_session_config *c) {
  c->udp.con_notify_interval_ms = 10000;
}

static void notifications_non_then_con(void **state) {
  (void)state;
  peer *p = p_new(notify_interval);
  p->reply = 1;
  uint8_t d[64];
  size_t n = build(d, RC_TYPE_CON, RC_GET, 0x0505, "ob", "obs", NULL);
  feed(p, d, n, 0);
  assert_int_equal(drain(p), 1);
  assert_int_equal(parsed(p, 0).type, RC_TYPE_ACK);
  /* Later answers on the token are notifications: NON ... */
  assert_int_equal(rc_session_handle_expiry(p->s, 5000), RC_OK);
  assert_int_equal(respond(p, RC_CONTENT, (const uint8_t *)"ob", 2, "1"), 0);
  assert_int_equal(drain(p), 1);
  rc_msg m = parsed(p, 0);
  assert_int_equal(m.type, RC_TYPE_NON);
  /* ... a RST to one ends the observation (RFC 7641 §3.6). */
  uint8_t rst[4] = {0x70, 0, (uint8_t)(m.mid >> 8), (uint8_t)m.mid};
  feed(p, rst, 4, 5100);
  assert_int_equal(p->n_lost, 1);
  assert_int_equal(p->lost_why, RC_ERR_CONN_RESET);
  assert_memory_equal(p->lost_tok, "ob", 2);
  /* ... and a CON once the interval has passed (RFC 7641 §4.5), whose
   * timeout removes the observer. */
  assert_int_equal(rc_session_handle_expiry(p->s, 10000), RC_OK);
  assert_int_equal(respond(p, RC_CONTENT, (const uint8_t *)"ob", 2, "2"), 0);
  assert_int_equal(rc_session_handle_expiry(p->s, 10000), RC_OK);
  assert_int_equal(drain(p), 1);
  assert_int_equal(parsed(p, 0).type, RC_TYPE_CON);
  assert_int_equal(respond(p, RC_CONTENT, (const uint8_t *)"ob", 2, "3"), 0);
  assert_int_equal(drain(p), 1);
  assert_int_equal(parsed(p, 0).type, RC_TYPE_NON);
  for (rc_time t = 10000; t <= 10000 + 62000; t += 1000)
    assert_int_equal(rc_session_handle_expiry(p->s, t), RC_OK);
  assert_int_equal(p->n_lost, 2);
  assert_int_equal(p->lost_why, RC_ERR_TIMEOUT);
  p_del(p);
}

static void notify_always_con(rc_session_config *c) { c->udp.notify_con = 1; }

/* A notification (Observe seq) on token "ob". */
static int notify(peer *p, uint32_t seq, const char *payload) {
  rc_enc e;
  rc_err err = rc_session_msg_begin(p->s, &e, RC_CONTENT,
                                    (const uint8_t *)"ob", 2, 64);
  if (err)
    return err;
  rc_enc_opt_uint(&e, RC_OPT_OBSERVE, seq);
  rc_enc_payload(&e, payload, strlen(payload));
  return rc_session_msg_end(p->s, &e);
}

/* RFC 7641 §4.5.2: a newer notification while an older CON one to the
 * same observer is still being retransmitted: the old one stops, the new
 * one goes out and carries on with the old one's retransmission counter
 * and timeout; ACKs of the old Message ID no longer count. */
static void notification_takes_over_retransmission(void **state) {
  (void)state;
  peer *p = p_new(notify_always_con);
  p->reply = 1;
  p->rnd = 0; /* timeouts exactly 2, 4, 8, 16, 32 s */
  uint8_t d[64];
  size_t n = build(d, RC_TYPE_CON, RC_GET, 0x0606, "ob", "obs", NULL);
  feed(p, d, n, 0);
  assert_int_equal(drain(p), 1); /* the piggybacked first answer */
  assert_int_equal(rc_session_handle_expiry(p->s, 1000), RC_OK);
  assert_int_equal(notify(p, 2, "a"), RC_OK);
  assert_int_equal(rc_session_handle_expiry(p->s, 1000), RC_OK);
  assert_int_equal(drain(p), 1);
  rc_msg m = parsed(p, 0);
  assert_int_equal(m.type, RC_TYPE_CON);
  uint16_t old_mid = m.mid;
  /* Retransmitted at +2 s and +6 s (two of MAX_RETRANSMIT 4 used). */
  assert_int_equal(rc_session_handle_expiry(p->s, 3000), RC_OK);
  assert_int_equal(drain(p), 1);
  assert_int_equal(rc_session_handle_expiry(p->s, 7000), RC_OK);
  assert_int_equal(drain(p), 1);
  assert_int_equal(parsed(p, 0).mid, old_mid);
  /* The newer notification goes out at once, as CON with a new MID ... */
  assert_int_equal(rc_session_handle_expiry(p->s, 8000), RC_OK);
  assert_int_equal(notify(p, 3, "b"), RC_OK);
  assert_int_equal(drain(p), 1);
  m = parsed(p, 0);
  assert_int_equal(m.type, RC_TYPE_CON);
  uint16_t new_mid = m.mid;
  assert_int_not_equal(new_mid, old_mid);
  assert_int_equal(m.payload_len, 1);
  assert_int_equal(m.payload[0], 'b');
  /* ... and only it is retransmitted, when the old one's third would
   * have gone (+15 s) and its fourth (+31 s); the old one never again. */
  assert_int_equal(rc_session_expiry(p->s), 15000);
  assert_int_equal(rc_session_handle_expiry(p->s, 14999), RC_OK);
  assert_int_equal(drain(p), 0);
  assert_int_equal(rc_session_handle_expiry(p->s, 15000), RC_OK);
  assert_int_equal(drain(p), 1);
  assert_int_equal(parsed(p, 0).mid, new_mid);
  /* An ACK for the old Message ID does not stop it. */
  uint8_t ack_old[4] = {0x60, 0, (uint8_t)(old_mid >> 8), (uint8_t)old_mid};
  feed(p, ack_old, 4, 20000);
  assert_int_equal(rc_session_handle_expiry(p->s, 31000), RC_OK);
  assert_int_equal(drain(p), 1);
  assert_int_equal(parsed(p, 0).mid, new_mid);
  /* The counter was inherited: given up after the old one's last
   * timeout (+63 s), not four retransmissions after the takeover. */
  assert_int_equal(p->n_lost, 0);
  assert_int_equal(rc_session_handle_expiry(p->s, 63000), RC_OK);
  assert_int_equal(drain(p), 0);
  assert_int_equal(p->n_lost, 1);
  assert_int_equal(p->lost_why, RC_ERR_TIMEOUT);
  assert_memory_equal(p->lost_tok, "ob", 2);
  p_del(p);
}

/* The same, acknowledged: an ACK for the newer Message ID ends it. */
static void notification_takeover_acked(void **state) {
  (void)state;
  peer *p = p_new(notify_always_con);
  p->reply = 1;
  p->rnd = 0;
  uint8_t d[64];
  size_t n = build(d, RC_TYPE_CON, RC_GET, 0x0707, "ob", "obs", NULL);
  feed(p, d, n, 0);
  assert_int_equal(drain(p), 1);
  assert_int_equal(rc_session_handle_expiry(p->s, 0), RC_OK);
  assert_int_equal(notify(p, 2, "a"), RC_OK);
  assert_int_equal(rc_session_handle_expiry(p->s, 0), RC_OK);
  assert_int_equal(notify(p, 3, "b"), RC_OK);
  assert_int_equal(drain(p), 2);
  uint16_t new_mid = parsed(p, 1).mid;
  uint8_t ack[4] = {0x60, 0, (uint8_t)(new_mid >> 8), (uint8_t)new_mid};
  feed(p, ack, 4, 500);
  assert_int_equal(rc_session_expiry(p->s), RC_TIME_NEVER);
  assert_int_equal(p->n_lost, 0);
  p_del(p);
}

/* Each malformed datagram and its exact answer: NULL = silence. */
static void malformed_datagrams(void **state) {
  (void)state;
  peer *p = p_new(NULL);
  p->reply = 1;
  static const struct {
    const char *what;
    uint8_t d[16];
    size_t n;
    int rst; /* 1: RST echoing bytes 2-3 */
  } cases[] = {
      {"3 bytes", {0x40, 0x01, 0x00}, 3, 0},
      {"version 2 CON", {0x80, 0x01, 0x11, 0x11}, 4, 0},
      {"version 0 CON", {0x00, 0x01, 0x11, 0x12}, 4, 0},
      {"CON TKL 9", {0x49, 0x01, 0x22, 0x22, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 13, 1},
      {"CON TKL 15", {0x4f, 0x01, 0x22, 0x23}, 4, 1},
      {"NON TKL 9", {0x59, 0x01, 0x22, 0x24, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 13, 0},
      {"CON token cut short", {0x44, 0x01, 0x33, 0x33, 1, 2}, 6, 1},
      {"CON option delta 15", {0x40, 0x01, 0x44, 0x44, 0xf1, 0x00}, 6, 1},
      {"CON option past end", {0x40, 0x01, 0x44, 0x45, 0xb5, 'a'}, 6, 1},
      {"CON payload marker alone", {0x40, 0x01, 0x44, 0x46, 0xff}, 5, 1},
      {"NON option delta 15", {0x50, 0x01, 0x44, 0x47, 0xf1, 0x00}, 6, 0},
      {"Empty NON", {0x50, 0x00, 0x55, 0x55}, 4, 0},
      {"Empty CON with token", {0x41, 0x00, 0x55, 0x56, 9}, 5, 1},
      {"Empty CON with a byte", {0x40, 0x00, 0x55, 0x57, 0xff}, 5, 1},
      {"CON 7.01 signaling", {0x40, 0xe1, 0x66, 0x66}, 4, 1},
      {"CON 1.00 reserved", {0x40, 0x20, 0x66, 0x67}, 4, 1},
      {"NON 6.00 reserved", {0x50, 0xc0, 0x66, 0x68}, 4, 0},
      {"ACK carrying GET", {0x60, 0x01, 0x77, 0x77}, 4, 0},
      {"RST carrying 2.05", {0x70, 0x45, 0x77, 0x78}, 4, 0},
      {"ACK TKL 9", {0x69, 0x45, 0x77, 0x79, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 13, 0},
      {"unknown ACK", {0x60, 0x00, 0x77, 0x7a}, 4, 0},
      {"unknown RST", {0x70, 0x00, 0x77, 0x7b}, 4, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    feed(p, cases[i].d, cases[i].n, (rc_time)i);
    size_t got = drain(p);
    if (cases[i].rst) {
      if (got != 1 || p->out_len[0] != 4 || p->out[0][0] != 0x70 ||
          p->out[0][1] != 0 || p->out[0][2] != cases[i].d[2] ||
          p->out[0][3] != cases[i].d[3])
        fail_msg("%s: expected a matching RST", cases[i].what);
    } else if (got != 0) {
      fail_msg("%s: expected silence, got %zu datagram(s)", cases[i].what,
               got);
    }
  }
  assert_int_equal(p->n_msg, 0);
  assert_int_equal(p->n_closed, 0);
  assert_int_equal(rc_session_get_state(p->s), RC_SESSION_OPEN);
  /* And the session still works. */
  uint8_t d[64];
  size_t n = build(d, RC_TYPE_CON, RC_GET, 0x0909, "ok", "x", NULL);
  feed(p, d, n, 100);
  assert_int_equal(drain(p), 1);
  assert_int_equal(parsed(p, 0).type, RC_TYPE_ACK);
  p_del(p);
}

static void queries_and_refusals(void **state) {
  (void)state;
  peer *p = p_new(NULL);
  assert_int_equal(rc_session_peer_bert(p->s), 0);
  assert_int_equal(rc_session_peer_max_msg_size(p->s), 1152);
  assert_int_equal(rc_session_peer_csm_received(p->s), 1);
  assert_int_equal(rc_session_peer_max_token_len(p->s), 8);
  rc_enc e;
  assert_int_equal(rc_session_msg_begin(p->s, &e, RC_SIG_PING, NULL, 0, 0),
                   RC_ERR_BAD_CODE);
  uint8_t tok[9] = {0};
  assert_int_equal(rc_session_msg_begin(p->s, &e, RC_GET, tok, 9, 0),
                   RC_ERR_TOKEN_TOO_LONG);
  rc_session_close(p->s, RC_OK);
  assert_int_equal(p->n_closed, 1);
  assert_int_equal(rc_session_msg_begin(p->s, &e, RC_GET, tok, 1, 0),
                   RC_ERR_CLOSED);
  p_del(p);
}

static void non_requests(rc_session_config *c) { c->udp.requests_non = 1; }

static void requests_as_non(void **state) {
  (void)state;
  peer *p = p_new(non_requests);
  assert_int_equal(respond(p, RC_GET, (const uint8_t *)"n", 1, ""), RC_OK);
  assert_int_equal(drain(p), 1);
  assert_int_equal(parsed(p, 0).type, RC_TYPE_NON);
  assert_int_equal(rc_session_expiry(p->s), RC_TIME_NEVER);
  p_del(p);
}

static void probing(rc_session_config *c) {
  c->udp.requests_non = 1;
  c->udp.probing_rate = 10; /* bytes per second */
}

/* RFC 7252 §4.7 PROBING_RATE: NON requests to a peer that has not
 * answered average at most probing_rate bytes/s; an answer lifts it. */
static void probing_rate_holds_non(void **state) {
  (void)state;
  peer *p = p_new(probing);
  assert_int_equal(respond(p, RC_GET, (const uint8_t *)"a", 1, ""), RC_OK);
  assert_int_equal(drain(p), 1);
  assert_int_equal(p->out_len[0], 5); /* 4-byte header + 1-byte token */
  rc_msg a = parsed(p, 0);
  /* 5 more bytes at 10 B/s after 5 unanswered: at 1000 ms. */
  assert_int_equal(respond(p, RC_GET, (const uint8_t *)"b", 1, ""), RC_OK);
  assert_int_equal(drain(p), 0);
  assert_int_equal(rc_session_expiry(p->s), 1000);
  assert_int_equal(rc_session_handle_expiry(p->s, 999), RC_OK);
  assert_int_equal(drain(p), 0);
  assert_int_equal(rc_session_handle_expiry(p->s, 1000), RC_OK);
  assert_int_equal(drain(p), 1);
  assert_memory_equal(parsed(p, 0).token, "b", 1);
  assert_int_equal(respond(p, RC_GET, (const uint8_t *)"c", 1, ""), RC_OK);
  assert_int_equal(drain(p), 0);
  assert_int_equal(rc_session_expiry(p->s), 1500);
  /* The peer answers "a": it responds, so "c" goes at once. */
  uint8_t d[64];
  size_t n = build(d, RC_TYPE_NON, RC_CONTENT, 0x7777, "a", NULL, "x");
  (void)a;
  feed(p, d, n, 1200);
  assert_int_equal(drain(p), 1);
  assert_memory_equal(parsed(p, 0).token, "c", 1);
  p_del(p);
}

static void small_dedup(rc_session_config *c) { c->udp.dedup_max = 6; }

/* The dedup ring grows (4, then 6) and then forgets the oldest: memory per
 * peer is bounded by dedup_max whatever the peer sends. */
static void dedup_ring_bounded(void **state) {
  (void)state;
  peer *p = p_new(small_dedup);
  p->reply = 1;
  uint8_t d[64];
  for (uint16_t mid = 1; mid <= 7; mid++) {
    size_t n = build(d, RC_TYPE_CON, RC_GET, mid, "r", "x", NULL);
    feed(p, d, n, mid);
    assert_int_equal(drain(p), 1);
  }
  assert_int_equal(p->n_msg, 7);
  size_t n = build(d, RC_TYPE_CON, RC_GET, 7, "r", "x", NULL);
  feed(p, d, n, 10); /* remembered: replayed, not processed */
  assert_int_equal(drain(p), 1);
  assert_int_equal(p->n_msg, 7);
  n = build(d, RC_TYPE_CON, RC_GET, 1, "r", "x", NULL);
  feed(p, d, n, 11); /* the oldest was forgotten: a new request */
  assert_int_equal(drain(p), 1);
  assert_int_equal(p->n_msg, 8);
  p_del(p);
}

/* Regression (fuzz_session_udp, UBSan): a request without a token was
 * looked up with memcmp(NULL, ...). It is answered like any other. */
static void empty_token_request(void **state) {
  (void)state;
  peer *p = p_new(NULL);
  p->reply = 1;
  const uint8_t non[4] = {0x50, 0x01, 0x00, 0x01};
  feed(p, non, 4, 0);
  assert_int_equal(drain(p), 1);
  rc_msg m = parsed(p, 0);
  assert_int_equal(m.type, RC_TYPE_NON);
  assert_int_equal(m.code, RC_CONTENT);
  assert_int_equal(m.token_len, 0);
  const uint8_t con[4] = {0x40, 0x01, 0x00, 0x02};
  feed(p, con, 4, 1);
  assert_int_equal(drain(p), 1);
  m = parsed(p, 0);
  assert_int_equal(m.type, RC_TYPE_ACK);
  assert_int_equal(m.mid, 2);
  p_del(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(retransmission_schedule_exact),
      cmocka_unit_test(retransmission_random_factor),
      cmocka_unit_test(stats_counted),
      cmocka_unit_test(udp_params_derived),
      cmocka_unit_test(piggybacked_and_replayed),
      cmocka_unit_test(separate_response),
      cmocka_unit_test(separate_delay_expires),
      cmocka_unit_test(non_request_non_response),
      cmocka_unit_test(our_request_piggybacked_answer),
      cmocka_unit_test(separate_response_received),
      cmocka_unit_test(ping_both_ways),
      cmocka_unit_test(nstart_holds_second),
      cmocka_unit_test(notifications_non_then_con),
      cmocka_unit_test(malformed_datagrams),
      cmocka_unit_test(queries_and_refusals),
      cmocka_unit_test(requests_as_non),
      cmocka_unit_test(empty_token_request),
      cmocka_unit_test(probing_rate_holds_non),
      cmocka_unit_test(dedup_ring_bounded),
      cmocka_unit_test(notification_takes_over_retransmission),
      cmocka_unit_test(notification_takeover_acked),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
