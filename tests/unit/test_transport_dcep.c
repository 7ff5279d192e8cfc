/*
 * The DCEP codec against RFC 8832 §5 byte layouts, and the data-channel
 * filter alone over a recording sink standing for the SCTP filter:
 * accepting the peer's CoAP channel (ACK on PPID 50, its reliability
 * adopted), refusing other protocols and wrong parities with a stream
 * reset, PPID 53 on what we send, 51 and 53 taken in, empty PPIDs
 * dropped, our own OPEN with the DTLS role's parity, the close both ways.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "rcoap/transport_dcep.h"
#include "transport/webrtc/sctp_int.h"

typedef struct rec {
  rc__sctp_meta down[8];
  uint8_t down_body[8][64];
  size_t down_len[8];
  int ndown;
  int ups;
  uint8_t up_body[64];
  size_t up_len;
  int opened, closed, errors;
  rc_err err;
} rec;

static rc_err r_up(void *ctx, const uint8_t *d, size_t n, int flags) {
  rec *r = ctx;
  (void)flags;
  r->ups++;
  r->up_len = n < sizeof r->up_body ? n : sizeof r->up_body;
  memcpy(r->up_body, d, r->up_len);
  return RC_OK;
}

static rc_err r_down(void *ctx, const uint8_t *d, size_t n) {
  rec *r = ctx;
  const uint8_t *msg = NULL;
  assert_true(r->ndown < 8);
  /* a message goes down by reference (RC__SCTP_REF), a reset inline */
  assert_int_equal(rc__sctp_down_view(d, n, &r->down[r->ndown], &msg,
                                      &r->down_len[r->ndown]),
                   0);
  assert_true(r->down[r->ndown].op == RC__SCTP_RESET ||
              n == sizeof(rc__sctp_ref));
  memcpy(r->down_body[r->ndown], msg,
         r->down_len[r->ndown] < 64 ? r->down_len[r->ndown] : 64);
  r->ndown++;
  return RC_OK;
}

static void r_event(void *ctx, rc_filter_event ev, int arg, const char *d) {
  rec *r = ctx;
  (void)d;
  if (ev == RC_FILTER_EV_OPEN)
    r->opened++;
  else if (ev == RC_FILTER_EV_CLOSED)
    r->closed++;
  else {
    r->errors++;
    r->err = (rc_err)arg;
  }
}

static rc_filter *make(rec *r, int dtls_client, int open) {
  memset(r, 0, sizeof *r);
  rc_filter_sink sink = {r_up, r_down, r_event, r};
  rc_dcep_config cfg = {.dtls_client = dtls_client, .open_channel = open};
  rc_filter *f = NULL;
  assert_int_equal(rc_dcep_filter_new(&f, &cfg, &sink), RC_OK);
  assert_int_equal(rc_filter_start(f), RC_OK);
  return f;
}

/* One SCTP user message from the peer. */
static rc_err feed(rc_filter *f, uint8_t op, uint16_t sid, uint32_t ppid,
                   const void *body, size_t n) {
  uint8_t b[RC__SCTP_META_LEN + 128];
  rc__sctp_meta m;
  memset(&m, 0, sizeof m);
  m.op = op;
  m.sid = sid;
  m.ppid = ppid;
  memcpy(b, &m, sizeof m);
  memcpy(b + sizeof m, body, n);
  return rc_filter_recv(f, b, sizeof m + n);
}

/* RFC 8832 §5.1 layout, written out by hand. */
static const uint8_t OPEN_COAP[] = {0x03, 0x81, 0x01, 0x00, 0x00, 0x00,
                                    0x00, 0x03, 0x00, 0x04, 0x00, 0x04,
                                    'c',  'o',  'a',  'p',  'c',  'o',
                                    'a',  'p'};

static void test_codec(void **state) {
  (void)state;
  rc_dcep_msg m;
  assert_int_equal(rc_dcep_parse(OPEN_COAP, sizeof OPEN_COAP, &m), RC_OK);
  assert_int_equal(m.type, RC_DCEP_OPEN);
  assert_int_equal(m.channel_type, RC_DCEP_PARTIAL_REXMIT_UNORDERED);
  assert_int_equal(m.priority, 256);
  assert_int_equal(m.reliability, 3);
  assert_true(rc_dcep_is_coap(&m));
  uint8_t b[64];
  size_t n;
  assert_int_equal(rc_dcep_encode_open(&m, b, sizeof b, &n), RC_OK);
  assert_int_equal(n, sizeof OPEN_COAP);
  assert_memory_equal(b, OPEN_COAP, n);
  assert_int_equal(rc_dcep_encode_open(&m, b, 10, &n), RC_ERR_LIMIT);
  /* Lengths that do not add up, an unknown channel type, a long ACK. */
  assert_int_equal(rc_dcep_parse(OPEN_COAP, sizeof OPEN_COAP - 1, &m),
                   RC_ERR_PROTOCOL);
  uint8_t bad[sizeof OPEN_COAP];
  memcpy(bad, OPEN_COAP, sizeof bad);
  bad[1] = 0x03;
  assert_int_equal(rc_dcep_parse(bad, sizeof bad, &m), RC_ERR_PROTOCOL);
  assert_int_equal(rc_dcep_parse((const uint8_t *)"\x02\x00", 2, &m),
                   RC_ERR_PROTOCOL);
  assert_int_equal(rc_dcep_parse((const uint8_t *)"\x02", 1, &m), RC_OK);
  assert_int_equal(m.type, RC_DCEP_ACK);
  memcpy(bad, OPEN_COAP, sizeof bad);
  memcpy(bad + 16, "x.v1", 4); /* protocol "x.v1" */
  assert_int_equal(rc_dcep_parse(bad, sizeof bad, &m), RC_OK);
  assert_false(rc_dcep_is_coap(&m));
}

static void test_accept_peer_channel(void **state) {
  (void)state;
  rec r;
  rc_filter *f = make(&r, 1, 0); /* DTLS client: the peer opens odd ids */
  assert_int_equal(r.ndown, 0);
  /* Wrong parity: refused with a reset of that stream. */
  assert_int_equal(feed(f, RC__SCTP_DATA, 2, RC_DCEP_PPID_CONTROL, OPEN_COAP,
                        sizeof OPEN_COAP),
                   RC_OK);
  assert_int_equal(r.ndown, 1);
  assert_int_equal(r.down[0].op, RC__SCTP_RESET);
  assert_int_equal(r.down[0].sid, 2);
  /* Another protocol: refused the same way. */
  uint8_t chat[sizeof OPEN_COAP];
  memcpy(chat, OPEN_COAP, sizeof chat);
  memcpy(chat + 16, "chat", 4);
  assert_int_equal(
      feed(f, RC__SCTP_DATA, 3, RC_DCEP_PPID_CONTROL, chat, sizeof chat),
      RC_OK);
  assert_int_equal(r.down[1].op, RC__SCTP_RESET);
  assert_int_equal(r.down[1].sid, 3);
  assert_int_equal(r.opened, 0);
  /* CoAP on stream 1: ACK on PPID 50, open. */
  assert_int_equal(feed(f, RC__SCTP_DATA, 1, RC_DCEP_PPID_CONTROL, OPEN_COAP,
                        sizeof OPEN_COAP),
                   RC_OK);
  assert_int_equal(r.opened, 1);
  assert_int_equal(r.down[2].op, RC__SCTP_DATA);
  assert_int_equal(r.down[2].ppid, RC_DCEP_PPID_CONTROL);
  assert_int_equal(r.down[2].sid, 1);
  assert_int_equal(r.down_len[2], 1);
  assert_int_equal(r.down_body[2][0], RC_DCEP_ACK);
  assert_int_equal(r.down[2].pr_policy, RC__SCTP_PR_NONE); /* control */
  assert_int_equal(rc_dcep_stream(f), 1);
  /* A second CoAP OPEN is refused. */
  assert_int_equal(feed(f, RC__SCTP_DATA, 5, RC_DCEP_PPID_CONTROL, OPEN_COAP,
                        sizeof OPEN_COAP),
                   RC_OK);
  assert_int_equal(r.down[3].op, RC__SCTP_RESET);
  assert_int_equal(r.down[3].sid, 5);
  /* Our messages: PPID 53, with the peer's reliability (3 retransmits,
   * unordered). */
  static const uint8_t msg[] = {0x01, 0x45, 0x77};
  assert_int_equal(rc_filter_send(f, msg, sizeof msg, RC_FILTER_MSG_END),
                   RC_OK);
  assert_int_equal(r.down[4].ppid, RC_DCEP_PPID_BINARY);
  assert_int_equal(r.down[4].sid, 1);
  assert_int_equal(r.down[4].pr_policy, RC__SCTP_PR_RTX);
  assert_int_equal(r.down[4].pr_value, 3);
  assert_int_equal(r.down[4].flags, RC__SCTP_UNORDERED);
  assert_memory_equal(r.down_body[4], msg, sizeof msg);
  /* Theirs: 51 and 53 go up, empty PPIDs and other streams do not. */
  assert_int_equal(feed(f, RC__SCTP_DATA, 1, 51, "ab", 2), RC_OK);
  assert_int_equal(feed(f, RC__SCTP_DATA, 1, 53, "cd", 2), RC_OK);
  assert_int_equal(feed(f, RC__SCTP_DATA, 1, 57, "\0", 1), RC_OK);
  assert_int_equal(feed(f, RC__SCTP_DATA, 7, 53, "ef", 2), RC_OK);
  assert_int_equal(feed(f, RC__SCTP_DATA, 1, 53, "", 0), RC_OK); /* fuzz */
  assert_int_equal(r.ups, 2);
  assert_memory_equal(r.up_body, "cd", 2);
  /* The peer resets its stream: we reset ours and report the close. */
  assert_int_equal(feed(f, RC__SCTP_RESET, 1, 0, "", 0), RC_OK);
  assert_int_equal(r.closed, 1);
  assert_int_equal(r.down[5].op, RC__SCTP_RESET);
  assert_int_equal(r.down[5].sid, 1);
  assert_int_equal(rc_filter_send(f, msg, sizeof msg, RC_FILTER_MSG_END),
                   RC_ERR_STATE);
  /* A malformed DCEP message fails the channel. */
  assert_int_equal(feed(f, RC__SCTP_DATA, 1, RC_DCEP_PPID_CONTROL, "\x03", 1),
                   RC_ERR_PROTOCOL);
  assert_int_equal(r.errors, 1);
  rc_filter_free(f);
}

static void test_open_our_channel(void **state) {
  (void)state;
  for (int client = 0; client < 2; client++) {
    rec r;
    rc_filter *f = make(&r, client, 1);
    assert_int_equal(r.ndown, 1);
    assert_int_equal(r.down[0].ppid, RC_DCEP_PPID_CONTROL);
    assert_int_equal(r.down[0].sid, client ? 0 : 1); /* even / odd */
    rc_dcep_msg m;
    assert_int_equal(rc_dcep_parse(r.down_body[0], r.down_len[0], &m), RC_OK);
    assert_true(rc_dcep_is_coap(&m));
    assert_int_equal(m.channel_type, RC_DCEP_RELIABLE);
    assert_int_equal(r.opened, 0);
    if (client) { /* the ACK opens it */
      assert_int_equal(feed(f, RC__SCTP_DATA, 0, RC_DCEP_PPID_CONTROL, "\x02",
                            1),
                       RC_OK);
      assert_int_equal(r.opened, 1);
      /* Our close: a reset of our stream. */
      assert_int_equal(rc_filter_shutdown(f), RC_OK);
      assert_int_equal(r.down[1].op, RC__SCTP_RESET);
    } else { /* refused: the peer resets the stream */
      assert_int_equal(feed(f, RC__SCTP_RESET, 1, 0, "", 0),
                       RC_ERR_CONN_REFUSED);
      assert_int_equal(r.errors, 1);
      assert_int_equal(r.err, RC_ERR_CONN_REFUSED);
    }
    rc_filter_free(f);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_codec),
      cmocka_unit_test(test_accept_peer_channel),
      cmocka_unit_test(test_open_our_channel),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
