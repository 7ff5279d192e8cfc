/*
 * Tests for src/codec/msg.c and code.c: the RFC 7252 Appendix A and
 * RFC 8323 vectors (frame figure, WebSocket examples), libcoap's CSM, Ping
 * and Pong bytes, every malformed header with its named error, the encoder
 * (head room, re-framing one body, size-needed reporting at every capacity,
 * sticky errors), and a seeded round trip of 100,000 random messages per
 * framing that must come back field-equal and byte-identical, with the
 * options summary the parser leaves in rc_msg equal to a walk's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "codec_testgen.h"
#include "rcoap/codec_frame.h"
#include "rcoap/codec_msg.h"
#include "rcoap/codec_print.h"
#include "rcoap/codec_option.h"

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__})
#define NBYTES(...) sizeof((const uint8_t[]){__VA_ARGS__})
/* Parses the listed bytes with framing f and expects error e. */
#define EXPECT_PARSE(f, e, ...)                                                \
  do {                                                                         \
    rc_msg m_;                                                                 \
    assert_int_equal(rc_msg_parse((f), BYTES(__VA_ARGS__),                     \
                                  NBYTES(__VA_ARGS__), &m_),                   \
                     (e));                                                     \
  } while (0)

static void assert_opt(const rc_opt *o, uint16_t num, const char *val) {
  assert_int_equal(o->num, num);
  assert_int_equal(o->len, strlen(val));
  assert_memory_equal(o->val, val, o->len);
}

/* Encodes m with rc_msg_encode and checks it gives back exactly b[0..n). */
static void assert_reencodes(const rc_msg *m, rc_framing f, const uint8_t *b,
                             size_t n) {
  uint8_t out[256];
  size_t len = 0;
  assert_int_equal(rc_msg_encode(m, f, out, sizeof(out), &len), RC_OK);
  assert_int_equal(len, n);
  assert_memory_equal(out, b, n);
  assert_int_equal(rc_msg_encoded_len(m, f), n);
}

/* ---- vectors ---------------------------------------------------------------- */

/* RFC 8323 §3.2, Figure "CoAP message with no options or payload". */
static void test_rfc8323_frame_figure(void **state) {
  (void)state;
  static const uint8_t b[] = {0x01, 0x43, 0x7f};
  rc_msg m;
  assert_int_equal(rc_msg_parse(RC_FRAMING_TCP, b, sizeof(b), &m), RC_OK);
  assert_int_equal(m.code, RC_VALID);
  assert_int_equal(m.token_len, 1);
  assert_int_equal(m.token[0], 0x7f);
  assert_null(m.opts);
  assert_int_equal(m.opts_len, 0);
  assert_null(m.payload);
  assert_int_equal(m.payload_len, 0);
  assert_reencodes(&m, RC_FRAMING_TCP, b, sizeof(b));
}

/* RFC 8323 Appendix "CoAP over WebSocket Examples", first figure: GET with
 * token 0x53, Uri-Path "sensors", "temperature", Uri-Query "u=Cel", and the
 * 2.05 response with payload "22.3 Cel". */
static const uint8_t ws_get[] = {0x01, 0x01, 0x53, 0xb7, 's', 'e', 'n', 's',
                                 'o',  'r',  's',  0x0b, 't', 'e', 'm', 'p',
                                 'e',  'r',  'a',  't',  'u', 'r', 'e', 0x45,
                                 'u',  '=',  'C',  'e',  'l'};
static const uint8_t ws_rsp[] = {0x01, 0x45, 0x53, 0xff, '2', '2',
                                 '.',  '3',  ' ',  'C',  'e', 'l'};

static void test_rfc8323_ws_examples(void **state) {
  (void)state;
  rc_msg m;
  rc_opt_iter it;
  rc_opt o;
  assert_int_equal(rc_msg_parse(RC_FRAMING_WS, ws_get, sizeof(ws_get), &m),
                   RC_OK);
  assert_int_equal(m.code, RC_GET);
  assert_int_equal(m.token_len, 1);
  assert_int_equal(m.token[0], 0x53);
  assert_int_equal(m.payload_len, 0);
  rc_opt_iter_init(&it, &m);
  assert_true(rc_opt_next(&it, &o));
  assert_opt(&o, RC_OPT_URI_PATH, "sensors");
  assert_true(rc_opt_next(&it, &o));
  assert_opt(&o, RC_OPT_URI_PATH, "temperature");
  assert_true(rc_opt_next(&it, &o));
  assert_opt(&o, RC_OPT_URI_QUERY, "u=Cel");
  assert_false(rc_opt_next(&it, &o));
  assert_reencodes(&m, RC_FRAMING_WS, ws_get, sizeof(ws_get));

  assert_int_equal(rc_msg_parse(RC_FRAMING_WS, ws_rsp, sizeof(ws_rsp), &m),
                   RC_OK);
  assert_int_equal(m.code, RC_CONTENT);
  assert_int_equal(m.payload_len, 8);
  assert_memory_equal(m.payload, "22.3 Cel", 8);
  assert_null(m.opts);
  assert_reencodes(&m, RC_FRAMING_WS, ws_rsp, sizeof(ws_rsp));

  /* The same message over TCP differs only in the Len nibble. */
  uint8_t tcp[sizeof(ws_rsp)];
  memcpy(tcp, ws_rsp, sizeof(tcp));
  tcp[0] = 0x91; /* Len 9: marker + 8 payload bytes */
  assert_reencodes(&m, RC_FRAMING_TCP, tcp, sizeof(tcp));
}

/* INTEROP-NOTES: libcoap's CSM, Ping and Pong bytes. */
static void test_libcoap_signaling(void **state) {
  (void)state;
  static const uint8_t csm[] = {0x50, 0xe1, 0x23, 0x80, 0x01, 0x00, 0x20};
  static const uint8_t pong[] = {0x10, 0xe3, 0x20};
  static const uint8_t ping[] = {0x00, 0xe2};
  rc_msg m;
  rc_opt_iter it;
  rc_opt o;
  uint32_t v;

  assert_int_equal(rc_msg_parse(RC_FRAMING_TCP, csm, sizeof(csm), &m), RC_OK);
  assert_int_equal(m.code, RC_SIG_CSM);
  assert_int_equal(m.token_len, 0);
  assert_null(m.token);
  rc_opt_iter_init(&it, &m);
  assert_true(rc_opt_next(&it, &o));
  assert_int_equal(o.num, RC_SIGOPT_MAX_MESSAGE_SIZE);
  assert_int_equal(rc_opt_uint(&o, &v), RC_OK);
  assert_int_equal(v, 8388864);
  assert_int_equal(rc_opt_check(m.code, &o), RC_OK);
  assert_true(rc_opt_next(&it, &o));
  assert_int_equal(o.num, RC_SIGOPT_BLOCK_WISE_TRANSFER);
  assert_int_equal(o.len, 0);
  assert_int_equal(rc_opt_check(m.code, &o), RC_OK);
  assert_false(rc_opt_next(&it, &o));
  assert_reencodes(&m, RC_FRAMING_TCP, csm, sizeof(csm));

  /* Built with the encoder, it is the same bytes. */
  uint8_t buf[32];
  const uint8_t *out;
  size_t len;
  rc_enc e;
  rc_enc_init(&e, buf, sizeof(buf), RC_SIG_CSM, NULL, 0);
  assert_int_equal(rc_enc_opt_uint(&e, RC_SIGOPT_MAX_MESSAGE_SIZE, 8388864),
                   RC_OK);
  assert_int_equal(rc_enc_opt(&e, RC_SIGOPT_BLOCK_WISE_TRANSFER, NULL, 0),
                   RC_OK);
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_TCP, 0, 0, &out, &len), RC_OK);
  assert_int_equal(len, sizeof(csm));
  assert_memory_equal(out, csm, sizeof(csm));

  assert_int_equal(rc_msg_parse(RC_FRAMING_TCP, pong, sizeof(pong), &m),
                   RC_OK);
  assert_int_equal(m.code, RC_SIG_PONG);
  assert_int_equal(rc_msg_count_opt(&m, RC_SIGOPT_CUSTODY), 1);
  assert_reencodes(&m, RC_FRAMING_TCP, pong, sizeof(pong));

  assert_int_equal(rc_msg_parse(RC_FRAMING_TCP, ping, sizeof(ping), &m),
                   RC_OK);
  assert_int_equal(m.code, RC_SIG_PING);
  assert_int_equal(m.opts_len, 0);
  assert_reencodes(&m, RC_FRAMING_TCP, ping, sizeof(ping));
  /* INTEROP-NOTES: a CSM over WebSockets is 00 e1. */
  assert_int_equal(rc_msg_parse(RC_FRAMING_WS, BYTES(0x00, 0xe1), 2, &m),
                   RC_OK);
  assert_int_equal(m.code, RC_SIG_CSM);
}

/* RFC 7252 Appendix A (Figure 16): CON GET /temperature, MID 0x7d34, and
 * its piggybacked ACK 2.05 "22.5 C". */
static void test_rfc7252_udp_examples(void **state) {
  (void)state;
  static const uint8_t get[] = {0x40, 0x01, 0x7d, 0x34, 0xbb, 't', 'e', 'm',
                                'p',  'e',  'r',  'a',  't',  'u', 'r', 'e'};
  static const uint8_t ack[] = {0x60, 0x45, 0x7d, 0x34, 0xff, '2',
                                '2',  '.',  '5',  ' ',  'C'};
  /* Figure 17's shape: a token (0x20) and an empty ACK. */
  static const uint8_t tok[] = {0x41, 0x01, 0x7d, 0x35, 0x20, 0xbb, 't', 'e',
                                'm',  'p',  'e',  'r',  'a',  't',  'u', 'r',
                                'e'};
  static const uint8_t empty_ack[] = {0x60, 0x00, 0x7d, 0x35};
  rc_msg m;
  rc_opt o;

  assert_int_equal(rc_msg_parse(RC_FRAMING_UDP, get, sizeof(get), &m), RC_OK);
  assert_int_equal(m.type, RC_TYPE_CON);
  assert_int_equal(m.code, RC_GET);
  assert_int_equal(m.mid, 0x7d34);
  assert_int_equal(m.token_len, 0);
  assert_true(rc_msg_find_opt(&m, RC_OPT_URI_PATH, &o));
  assert_opt(&o, RC_OPT_URI_PATH, "temperature");
  assert_false(rc_msg_find_opt(&m, RC_OPT_URI_HOST, &o));
  assert_reencodes(&m, RC_FRAMING_UDP, get, sizeof(get));

  assert_int_equal(rc_msg_parse(RC_FRAMING_UDP, ack, sizeof(ack), &m), RC_OK);
  assert_int_equal(m.type, RC_TYPE_ACK);
  assert_int_equal(m.code, RC_CONTENT);
  assert_int_equal(m.mid, 0x7d34);
  assert_int_equal(m.payload_len, 6);
  assert_memory_equal(m.payload, "22.5 C", 6);
  assert_reencodes(&m, RC_FRAMING_UDP, ack, sizeof(ack));

  assert_int_equal(rc_msg_parse(RC_FRAMING_UDP, tok, sizeof(tok), &m), RC_OK);
  assert_int_equal(m.token_len, 1);
  assert_int_equal(m.token[0], 0x20);
  assert_reencodes(&m, RC_FRAMING_UDP, tok, sizeof(tok));

  assert_int_equal(
      rc_msg_parse(RC_FRAMING_UDP, empty_ack, sizeof(empty_ack), &m), RC_OK);
  assert_int_equal(m.code, RC_CODE_EMPTY);
  assert_int_equal(m.type, RC_TYPE_ACK);
  assert_reencodes(&m, RC_FRAMING_UDP, empty_ack, sizeof(empty_ack));

  /* Re-framing: the UDP GET as a TCP frame: Len 12 (the option), TKL 0. */
  assert_int_equal(rc_msg_parse(RC_FRAMING_UDP, get, sizeof(get), &m), RC_OK);
  uint8_t tcp[sizeof(get) - 2];
  tcp[0] = 0xc0;
  tcp[1] = 0x01;
  memcpy(tcp + 2, get + 4, sizeof(get) - 4);
  assert_reencodes(&m, RC_FRAMING_TCP, tcp, sizeof(tcp));
}

/* RFC 8974 §2.1: TKL 13 and 14 with their extension bytes, placed after the
 * Code (TCP, WS) and after the Message ID (UDP). */
static void test_extended_token(void **state) {
  (void)state;
  static const size_t lens[] = {12, 13, 268, 269, 1000, RC_TOKEN_MAX_EXTENDED};
  uint8_t *token = malloc(RC_TOKEN_MAX_EXTENDED);
  uint8_t *buf = malloc(RC_TOKEN_MAX_EXTENDED + 64);
  assert_non_null(token);
  assert_non_null(buf);
  for (size_t i = 0; i < RC_TOKEN_MAX_EXTENDED; i++)
    token[i] = (uint8_t)(i * 7);
  for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
    size_t tl = lens[k];
    uint8_t nib = tl < 13 ? (uint8_t)tl : tl < 269 ? 13 : 14;
    size_t ext = tl < 13 ? 0 : tl < 269 ? 1 : 2;
    for (int f = 0; f < 3; f++) {
      rc_enc e;
      const uint8_t *out;
      size_t len;
      rc_enc_init(&e, buf, RC_TOKEN_MAX_EXTENDED + 64, RC_GET, token, tl);
      assert_int_equal(rc_enc_finish(&e, (rc_framing)f, RC_TYPE_NON, 0x1234,
                                     &out, &len),
                       RC_OK);
      size_t at = f == RC_FRAMING_UDP ? 4 : 2; /* TCP body is 0: no ext Len */
      assert_int_equal(out[0] & 0x0f, nib);
      assert_int_equal(len, at + ext + tl);
      if (ext == 1)
        assert_int_equal(out[at], tl - 13);
      if (ext == 2) {
        assert_int_equal(out[at], (tl - 269) >> 8);
        assert_int_equal(out[at + 1], (tl - 269) & 0xff);
      }
      assert_memory_equal(out + at + ext, token, tl);
      rc_msg m;
      assert_int_equal(rc_msg_parse((rc_framing)f, out, len, &m), RC_OK);
      assert_int_equal(m.token_len, tl);
      assert_ptr_equal(m.token, out + at + ext);
      /* cut anywhere inside the extension or token: TRUNCATED */
      assert_int_equal(rc_msg_parse((rc_framing)f, out, at, &m),
                       tl ? RC_ERR_TRUNCATED : RC_OK);
      if (tl && f != RC_FRAMING_TCP)
        assert_int_equal(rc_msg_parse((rc_framing)f, out, len - 1, &m),
                         RC_ERR_TRUNCATED);
    }
  }
  /* The hand-written vector: TCP, Len 0, TKL 13, Code 0.01, ext 0x00, then
   * a 13-byte token. */
  uint8_t v[3 + 13] = {0x0d, 0x01, 0x00};
  memset(v + 3, 0xaa, 13);
  rc_msg m;
  assert_int_equal(rc_msg_parse(RC_FRAMING_TCP, v, sizeof(v), &m), RC_OK);
  assert_int_equal(m.token_len, 13);
  /* UDP: the extension after the Message ID. */
  uint8_t u[6 + 269] = {0x4e, 0x01, 0xbe, 0xef, 0x00, 0x00};
  assert_int_equal(rc_msg_parse(RC_FRAMING_UDP, u, sizeof(u), &m), RC_OK);
  assert_int_equal(m.token_len, 269);
  assert_int_equal(m.mid, 0xbeef);
  rc_enc e;
  rc_enc_init(&e, buf, 64, RC_GET, token, RC_TOKEN_MAX_EXTENDED + 1);
  const uint8_t *out;
  size_t len;
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_TCP, 0, 0, &out, &len),
                   RC_ERR_TOKEN_TOO_LONG);
  free(token);
  free(buf);
}

/* RFC 8323 §3.2 Len forms at their boundaries; the encoder picks the
 * shortest. Body = marker + payload, so payload p gives Len p + 1. */
static void test_tcp_len_boundaries(void **state) {
  (void)state;
  static const size_t bodies[] = {0,   1,   12,    13,    268,
                                  269, 270, 65804, 65805, 70000};
  size_t cap = 70000 + 16;
  uint8_t *buf = malloc(cap);
  uint8_t *pl = calloc(1, 70000);
  assert_non_null(buf);
  assert_non_null(pl);
  for (size_t k = 0; k < sizeof(bodies) / sizeof(bodies[0]); k++) {
    size_t body = bodies[k];
    rc_enc e;
    const uint8_t *out;
    size_t len;
    rc_enc_init(&e, buf, cap, RC_POST, BYTES(0x42), 1);
    if (body)
      assert_int_equal(rc_enc_payload(&e, pl, body - 1), RC_OK);
    if (body == 1) /* a 1-byte body: one empty option 0 instead */
      assert_int_equal(rc_enc_opt(&e, 0, NULL, 0), RC_OK);
    assert_int_equal(rc_enc_finish(&e, RC_FRAMING_TCP, 0, 0, &out, &len),
                     RC_OK);
    uint8_t ln = out[0] >> 4;
    size_t ext;
    uint64_t got;
    if (body < 13) {
      ext = 0;
      got = ln;
      assert_int_equal(ln, body);
    } else if (body < 269) {
      ext = 1;
      assert_int_equal(ln, 13);
      got = 13 + out[1];
    } else if (body < 65805) {
      ext = 2;
      assert_int_equal(ln, 14);
      got = 269 + ((uint32_t)out[1] << 8 | out[2]);
    } else {
      ext = 4;
      assert_int_equal(ln, 15);
      got = 65805 + ((uint64_t)out[1] << 24 | (uint32_t)out[2] << 16 |
                     (uint32_t)out[3] << 8 | out[4]);
    }
    assert_int_equal(got, body);
    assert_int_equal(out[1 + ext], RC_POST);
    assert_int_equal(len, 1 + ext + 1 + 1 + body);
    rc_tcp_hdr h;
    assert_int_equal(rc_tcp_hdr_parse(out, len, &h), (rc_ssize)(2 + ext));
    assert_int_equal(h.body_len, body);
    rc_msg m;
    assert_int_equal(rc_msg_parse(RC_FRAMING_TCP, out, len, &m), RC_OK);
    assert_int_equal(m.payload_len, body > 1 ? body - 1 : 0);
  }
  free(buf);
  free(pl);
}

/* ---- malformed input -------------------------------------------------------- */

static void test_malformed_udp(void **state) {
  (void)state;
  EXPECT_PARSE(RC_FRAMING_UDP, RC_ERR_TRUNCATED, 0x40, 0x01, 0x7d);
  EXPECT_PARSE(RC_FRAMING_UDP, RC_ERR_BAD_VERSION, 0x00, 0x01, 0x7d, 0x34);
  EXPECT_PARSE(RC_FRAMING_UDP, RC_ERR_BAD_VERSION, 0x80, 0x01, 0x7d, 0x34);
  EXPECT_PARSE(RC_FRAMING_UDP, RC_ERR_BAD_VERSION, 0xc0, 0x01, 0x7d, 0x34);
  EXPECT_PARSE(RC_FRAMING_UDP, RC_ERR_TKL_RESERVED, 0x4f, 0x01, 0x7d, 0x34);
  /* RFC 7252 §4.1: an Empty message with a token or any byte after the
   * Message ID is a message format error. */
  EXPECT_PARSE(RC_FRAMING_UDP, RC_ERR_BAD_CODE, 0x41, 0x00, 0x7d, 0x34, 0xaa);
  EXPECT_PARSE(RC_FRAMING_UDP, RC_ERR_BAD_CODE, 0x41, 0x00, 0x7d, 0x34);
  EXPECT_PARSE(RC_FRAMING_UDP, RC_ERR_BAD_CODE, 0x70, 0x00, 0x7d, 0x34, 0xff,
               0x01);
  EXPECT_PARSE(RC_FRAMING_UDP, RC_ERR_BAD_CODE, 0x60, 0x00, 0x7d, 0x34, 0x10);
  /* token cut short, extended TKL byte missing */
  EXPECT_PARSE(RC_FRAMING_UDP, RC_ERR_TRUNCATED, 0x44, 0x01, 0, 0, 1, 2);
  EXPECT_PARSE(RC_FRAMING_UDP, RC_ERR_TRUNCATED, 0x4d, 0x01, 0, 0);
  EXPECT_PARSE(RC_FRAMING_UDP, RC_ERR_TRUNCATED, 0x4e, 0x01, 0, 0, 0);
  EXPECT_PARSE(RC_FRAMING_UDP, RC_ERR_TRUNCATED, 0x4d, 0x01, 0, 0, 0x00, 1);
  /* options */
  EXPECT_PARSE(RC_FRAMING_UDP, RC_ERR_OPT_DELTA_RESERVED, 0x40, 0x01, 0, 0,
               0xf0);
  EXPECT_PARSE(RC_FRAMING_UDP, RC_ERR_OPT_LEN_RESERVED, 0x40, 0x01, 0, 0,
               0x1f);
  EXPECT_PARSE(RC_FRAMING_UDP, RC_ERR_OPT_TRUNCATED, 0x40, 0x01, 0, 0, 0xb5,
               't', 'e');
  EXPECT_PARSE(RC_FRAMING_UDP, RC_ERR_OPT_TRUNCATED, 0x40, 0x01, 0, 0, 0xd0);
  EXPECT_PARSE(RC_FRAMING_UDP, RC_ERR_OPT_TRUNCATED, 0x40, 0x01, 0, 0, 0xe0,
               0x01);
  EXPECT_PARSE(RC_FRAMING_UDP, RC_ERR_OPT_TRUNCATED, 0x40, 0x01, 0, 0, 0x0d);
  EXPECT_PARSE(RC_FRAMING_UDP, RC_ERR_OPT_TRUNCATED, 0x40, 0x01, 0, 0, 0x0e,
               0x00);
  EXPECT_PARSE(RC_FRAMING_UDP, RC_ERR_OPT_NUMBER_OVERFLOW, 0x40, 0x01, 0, 0,
               0xe0, 0xff, 0xff);
  EXPECT_PARSE(RC_FRAMING_UDP, RC_ERR_OPT_NUMBER_OVERFLOW, 0x40, 0x01, 0, 0,
               0xe0, 0xfe, 0xf2, 0x10);
  EXPECT_PARSE(RC_FRAMING_UDP, RC_ERR_EMPTY_PAYLOAD, 0x40, 0x01, 0, 0, 0xff);
  EXPECT_PARSE(RC_FRAMING_UDP, RC_ERR_EMPTY_PAYLOAD, 0x40, 0x01, 0, 0, 0xb1,
               'a', 0xff);
  /* option 65535 is the largest legal number */
  EXPECT_PARSE(RC_FRAMING_UDP, RC_OK, 0x40, 0x01, 0, 0, 0xe0, 0xfe, 0xf2);
}

static void test_malformed_tcp_ws(void **state) {
  (void)state;
  rc_msg m;
  EXPECT_PARSE(RC_FRAMING_TCP, RC_ERR_TRUNCATED, 0x00);
  EXPECT_PARSE(RC_FRAMING_TCP, RC_ERR_TRUNCATED, 0xd0, 0x00);
  EXPECT_PARSE(RC_FRAMING_TCP, RC_ERR_TRUNCATED, 0x0d, 0x01);
  EXPECT_PARSE(RC_FRAMING_TCP, RC_ERR_TKL_RESERVED, 0x0f, 0x01);
  EXPECT_PARSE(RC_FRAMING_TCP, RC_ERR_TKL_RESERVED, 0x0f);
  /* Len describes more than is there / less than is there */
  EXPECT_PARSE(RC_FRAMING_TCP, RC_ERR_TRUNCATED, 0x21, 0x01, 0xaa, 0x10);
  EXPECT_PARSE(RC_FRAMING_TCP, RC_ERR_TRUNCATED, 0x02, 0x01, 0xaa);
  EXPECT_PARSE(RC_FRAMING_TCP, RC_ERR_TRAILING_BYTES, 0x01, 0x43, 0x7f, 0x00);
  EXPECT_PARSE(RC_FRAMING_TCP, RC_ERR_TRAILING_BYTES, 0x00, 0xe2, 0x00, 0xe2);
  EXPECT_PARSE(RC_FRAMING_TCP, RC_ERR_EMPTY_PAYLOAD, 0x10, 0x45, 0xff);
  EXPECT_PARSE(RC_FRAMING_TCP, RC_ERR_OPT_DELTA_RESERVED, 0x10, 0x01, 0xf1);
  EXPECT_PARSE(RC_FRAMING_TCP, RC_ERR_OPT_TRUNCATED, 0x10, 0x01, 0x01);

  EXPECT_PARSE(RC_FRAMING_WS, RC_ERR_TRUNCATED, 0x00);
  EXPECT_PARSE(RC_FRAMING_WS, RC_ERR_BAD_LEN_NIBBLE, 0x10, 0x45, 0xff);
  EXPECT_PARSE(RC_FRAMING_WS, RC_ERR_BAD_LEN_NIBBLE, 0xd0, 0x01);
  EXPECT_PARSE(RC_FRAMING_WS, RC_ERR_TKL_RESERVED, 0x0f, 0x01);
  EXPECT_PARSE(RC_FRAMING_WS, RC_ERR_TRUNCATED, 0x02, 0x01, 0xaa);
  EXPECT_PARSE(RC_FRAMING_WS, RC_ERR_TRUNCATED, 0x0e, 0x01, 0x00);
  EXPECT_PARSE(RC_FRAMING_WS, RC_ERR_EMPTY_PAYLOAD, 0x00, 0x45, 0xff);
  EXPECT_PARSE(RC_FRAMING_WS, RC_OK, 0x00, 0x00); /* Empty is fine over WS */

  assert_int_equal(rc_msg_parse(RC_FRAMING_UDP, NULL, 0, &m),
                   RC_ERR_TRUNCATED);
  assert_int_equal(rc_msg_parse(RC_FRAMING_UDP, NULL, 4, &m), RC_ERR_INVAL);
  assert_int_equal(rc_msg_parse((rc_framing)9, BYTES(0, 0), 2, &m),
                   RC_ERR_INVAL);
  assert_int_equal(rc_msg_parse(RC_FRAMING_WS, BYTES(0, 0), 2, NULL),
                   RC_ERR_INVAL);
}

/* Every prefix of a valid message fails cleanly (never reads past len). */
static void test_every_prefix(void **state) {
  (void)state;
  rc_msg m;
  for (size_t n = 0; n < sizeof(ws_get); n++) {
    uint8_t *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, ws_get, n);
    rc_err rc = rc_msg_parse(RC_FRAMING_WS, copy, n, &m);
    /* a prefix that ends between options is itself a valid message */
    if (n == 3 || n == 11 || n == 23)
      assert_int_equal(rc, RC_OK);
    else
      assert_true(rc == RC_ERR_TRUNCATED || rc == RC_ERR_OPT_TRUNCATED);
    rc = rc_msg_parse(RC_FRAMING_TCP, copy, n, &m);
    assert_true(rc < 0 || n == 3); /* TCP Len is 0: only "01 01 53" fits */
    free(copy);
  }
}

/* ---- encoder ---------------------------------------------------------------- */

static void build_ws_get(rc_enc *e, uint8_t *buf, size_t cap) {
  rc_enc_init(e, buf, cap, RC_GET, BYTES(0x53), 1);
  rc_enc_opt_str(e, RC_OPT_URI_PATH, "sensors");
  rc_enc_opt_str(e, RC_OPT_URI_PATH, "temperature");
  rc_enc_opt_str(e, RC_OPT_URI_QUERY, "u=Cel");
}

static void test_enc_reframe(void **state) {
  (void)state;
  uint8_t buf[64];
  rc_enc e;
  const uint8_t *out;
  size_t len;
  build_ws_get(&e, buf, sizeof(buf));
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_WS, 0, 0, &out, &len), RC_OK);
  assert_int_equal(len, sizeof(ws_get));
  assert_memory_equal(out, ws_get, sizeof(ws_get));
  assert_ptr_equal(out, buf + RC_ENC_HEADROOM - 2);

  /* the same body, framed again for TCP: Len 13 + ext 13 (26 bytes) */
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_TCP, 0, 0, &out, &len), RC_OK);
  assert_int_equal(len, sizeof(ws_get) + 1);
  assert_int_equal(out[0], 0xd1);
  assert_int_equal(out[1], 26 - 13);
  assert_int_equal(out[2], RC_GET);
  assert_memory_equal(out + 3, ws_get + 2, sizeof(ws_get) - 2);
  rc_msg m;
  assert_int_equal(rc_msg_parse(RC_FRAMING_TCP, out, len, &m), RC_OK);
  assert_int_equal(rc_msg_count_opt(&m, RC_OPT_URI_PATH), 2);

  /* and for UDP */
  assert_int_equal(
      rc_enc_finish(&e, RC_FRAMING_UDP, RC_TYPE_CON, 0xabcd, &out, &len),
      RC_OK);
  assert_int_equal(len, sizeof(ws_get) + 2);
  assert_memory_equal(out, BYTES(0x41, 0x01, 0xab, 0xcd, 0x53), 5);
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_UDP, 4, 0, &out, &len),
                   RC_ERR_INVAL);
}

/* At every capacity below the need, finish says NOBUF and the need is the
 * same number; at exactly the need it succeeds. */
static void test_enc_nobuf(void **state) {
  (void)state;
  uint8_t ref[64];
  rc_enc e;
  const uint8_t *out;
  size_t len;
  build_ws_get(&e, ref, sizeof(ref));
  size_t need = rc_enc_needed(&e);
  assert_int_equal(need, RC_ENC_HEADROOM + sizeof(ws_get) - 2);
  for (size_t cap = 0; cap <= need; cap++) {
    uint8_t *buf = malloc(cap ? cap : 1); /* exact size: ASan sees overruns */
    assert_non_null(buf);
    build_ws_get(&e, cap ? buf : NULL, cap);
    assert_int_equal(rc_enc_needed(&e), need);
    rc_err rc = rc_enc_finish(&e, RC_FRAMING_WS, 0, 0, &out, &len);
    if (cap < need) {
      assert_int_equal(rc, RC_ERR_NOBUF);
    } else {
      assert_int_equal(rc, RC_OK);
      assert_memory_equal(out, ws_get, sizeof(ws_get));
    }
    free(buf);
  }
  /* an option that does not fit says NOBUF, counting goes on */
  uint8_t small[12];
  rc_enc_init(&e, small, sizeof(small), RC_GET, NULL, 0);
  assert_int_equal(rc_enc_opt_str(&e, RC_OPT_URI_PATH, "sensors"),
                   RC_ERR_NOBUF);
  assert_int_equal(rc_enc_opt_str(&e, RC_OPT_URI_PATH, "x"), RC_ERR_NOBUF);
  assert_null(rc_enc_payload_ptr(&e, 4));
  assert_int_equal(rc_enc_needed(&e), RC_ENC_HEADROOM + 8 + 2 + 5);
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_WS, 0, 0, &out, &len),
                   RC_ERR_NOBUF);

  /* rc_msg_encode reports the needed length */
  rc_msg m;
  uint8_t tiny[5];
  assert_int_equal(rc_msg_parse(RC_FRAMING_WS, ws_get, sizeof(ws_get), &m),
                   RC_OK);
  assert_int_equal(rc_msg_encode(&m, RC_FRAMING_UDP, tiny, sizeof(tiny), &len),
                   RC_ERR_NOBUF);
  assert_int_equal(len, sizeof(ws_get) + 2);
  assert_int_equal(rc_msg_encoded_len(&m, RC_FRAMING_UDP), len);
  assert_int_equal(rc_msg_encode(&m, RC_FRAMING_UDP, NULL, 0, &len),
                   RC_ERR_NOBUF);
  assert_int_equal(len, sizeof(ws_get) + 2);
}

static void test_enc_sticky(void **state) {
  (void)state;
  uint8_t buf[64];
  rc_enc e;
  const uint8_t *out;
  size_t len;

  rc_enc_init(&e, buf, sizeof(buf), RC_GET, NULL, 0);
  assert_int_equal(rc_enc_opt_uint(&e, RC_OPT_URI_PORT, 5683), RC_OK);
  assert_int_equal(rc_enc_opt_uint(&e, RC_OPT_URI_HOST, 1), RC_ERR_OPT_ORDER);
  size_t need = rc_enc_needed(&e);
  assert_int_equal(rc_enc_opt_uint(&e, RC_OPT_ACCEPT, 1), RC_ERR_OPT_ORDER);
  assert_int_equal(rc_enc_payload(&e, "x", 1), RC_ERR_OPT_ORDER);
  assert_int_equal(rc_enc_needed(&e), need); /* nothing more was written */
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_TCP, 0, 0, &out, &len),
                   RC_ERR_OPT_ORDER);

  rc_enc_init(&e, buf, sizeof(buf), RC_CONTENT, NULL, 0);
  assert_int_equal(rc_enc_payload(&e, "x", 1), RC_OK);
  assert_int_equal(rc_enc_opt(&e, 60, NULL, 0), RC_ERR_STATE);
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_TCP, 0, 0, &out, &len),
                   RC_ERR_STATE);

  rc_enc_init(&e, buf, sizeof(buf), RC_CONTENT, NULL, 0);
  assert_int_equal(rc_enc_payload(&e, "x", 1), RC_OK);
  assert_int_equal(rc_enc_payload(&e, "y", 1), RC_ERR_STATE);

  static uint8_t big[65805];
  rc_enc_init(&e, buf, sizeof(buf), RC_CONTENT, NULL, 0);
  assert_int_equal(rc_enc_opt(&e, 1, big, sizeof(big)), RC_ERR_INVAL);
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_WS, 0, 0, &out, &len),
                   RC_ERR_INVAL);

  /* a UDP Empty message cannot carry anything; over TCP it may */
  rc_enc_init(&e, buf, sizeof(buf), RC_CODE_EMPTY, BYTES(1), 1);
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_UDP, RC_TYPE_ACK, 1, &out,
                                 &len),
                   RC_ERR_BAD_CODE);
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_TCP, 0, 0, &out, &len), RC_OK);
  rc_enc_init(&e, buf, sizeof(buf), RC_CODE_EMPTY, NULL, 0);
  assert_int_equal(
      rc_enc_finish(&e, RC_FRAMING_UDP, RC_TYPE_RST, 0x0102, &out, &len),
      RC_OK);
  assert_int_equal(len, 4);
  assert_memory_equal(out, BYTES(0x70, 0x00, 0x01, 0x02), 4);
}

/* rc_enc_finish_tail's head parsed back with rc_msg_parse_head: the
 * fields, the payload as a length only; heads that do not fit refused. */
static void test_parse_head(void **state) {
  (void)state;
  uint8_t buf[64];
  rc_enc e;
  const uint8_t *out;
  size_t len;
  rc_msg m;
  rc_enc_init(&e, buf, sizeof(buf), RC_CONTENT, BYTES(0xa1, 0xb2), 2);
  assert_int_equal(rc_enc_opt_uint(&e, RC_OPT_CONTENT_FORMAT, RC_CF_CBOR),
                   RC_OK);
  /* a 100,000-byte tail: the 32-bit Len form (RFC 8323 §3.2) */
  assert_int_equal(rc_enc_finish_tail(&e, 100000, &out, &len), RC_OK);
  assert_int_equal(rc_msg_parse_head(out, len, 100000, &m), RC_OK);
  assert_int_equal(m.code, RC_CONTENT);
  assert_int_equal(m.token_len, 2);
  assert_memory_equal(m.token, BYTES(0xa1, 0xb2), 2);
  assert_int_equal(m.opts_len, 2);
  assert_null(m.payload);
  assert_int_equal(m.payload_len, 100000);
  char line[256];
  rc_msg_format(&m, line, sizeof line);
  assert_non_null(strstr(line, "(100000 bytes from a file)"));
  /* the Len must count head + tail exactly */
  assert_int_equal(rc_msg_parse_head(out, len, 99999, &m), RC_ERR_INVAL);
  assert_int_equal(rc_msg_parse_head(out, len - 1, 100001, &m), RC_ERR_INVAL);
  /* a head cut inside the header */
  assert_int_equal(rc_msg_parse_head(out, 1, 100000, &m), RC_ERR_TRUNCATED);
  /* a whole message with no tail is an ordinary parse, payload none */
  rc_enc_init(&e, buf, sizeof(buf), RC_CONTENT, NULL, 0);
  assert_int_equal(rc_enc_opt_uint(&e, RC_OPT_CONTENT_FORMAT, 0), RC_OK);
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_TCP, 0, 0, &out, &len),
                   RC_OK);
  assert_int_equal(rc_msg_parse_head(out, len, 0, &m), RC_OK);
  assert_int_equal(m.payload_len, 0);
  /* a tail but no payload marker at the head's end */
  assert_int_equal(rc_msg_parse_head(BYTES(0x20, 0x45, 0xc1, 0x00), 4, 0, &m),
                   RC_OK);
  assert_int_equal(rc_msg_parse_head(BYTES(0x30, 0x45, 0xc1, 0x00), 4, 1, &m),
                   RC_ERR_INVAL);
  /* a marker and payload byte inside the head: not a head */
  assert_int_equal(
      rc_msg_parse_head(BYTES(0x40, 0x45, 0xff, 0x61, 0xff), 5, 1, &m),
      RC_ERR_INVAL);
}

static void test_enc_raw_and_ptr(void **state) {
  (void)state;
  rc_msg m;
  uint8_t buf[64];
  rc_enc e;
  const uint8_t *out;
  size_t len;
  assert_int_equal(rc_msg_parse(RC_FRAMING_WS, ws_get, sizeof(ws_get), &m),
                   RC_OK);
  /* raw copy of the options, then one more option after them (Accept 17:
   * delta 2 from Uri-Query 15), then a payload written in place */
  rc_enc_init(&e, buf, sizeof(buf), RC_GET, m.token, m.token_len);
  assert_int_equal(rc_enc_opts_raw(&e, m.opts, m.opts_len), RC_OK);
  assert_int_equal(rc_enc_opt_uint(&e, RC_OPT_URI_HOST, 1), RC_ERR_OPT_ORDER);
  rc_enc_init(&e, buf, sizeof(buf), RC_GET, m.token, m.token_len);
  assert_int_equal(rc_enc_opts_raw(&e, m.opts, m.opts_len), RC_OK);
  assert_int_equal(rc_enc_opt_uint(&e, RC_OPT_ACCEPT, RC_CF_CBOR), RC_OK);
  uint8_t *p = rc_enc_payload_ptr(&e, 3);
  assert_non_null(p);
  memcpy(p, "abc", 3);
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_WS, 0, 0, &out, &len), RC_OK);
  assert_int_equal(len, sizeof(ws_get) + 2 + 4);
  assert_memory_equal(out, ws_get, sizeof(ws_get));
  assert_memory_equal(out + sizeof(ws_get),
                      BYTES(0x21, 60, 0xff, 'a', 'b', 'c'), 6);

  /* raw options only right after the token, and only a whole option list */
  rc_enc_init(&e, buf, sizeof(buf), RC_GET, NULL, 0);
  assert_int_equal(rc_enc_opt_uint(&e, 1, 1), RC_OK);
  assert_int_equal(rc_enc_opts_raw(&e, m.opts, m.opts_len), RC_ERR_STATE);
  rc_enc_init(&e, buf, sizeof(buf), RC_GET, NULL, 0);
  assert_int_equal(rc_enc_opts_raw(&e, BYTES(0xb5, 'a'), 2), RC_ERR_INVAL);
  rc_enc_init(&e, buf, sizeof(buf), RC_GET, NULL, 0);
  assert_int_equal(rc_enc_opts_raw(&e, BYTES(0xb1, 'a', 0xff, 1), 4),
                   RC_ERR_INVAL);
}

/* ---- the inline fast paths at their edges ---------------------------------
 * The encoder's common cases are inline in codec_msg.h (a token of 0-8
 * bytes, a delta below 269 with a value of 0-12 bytes, uint options, the
 * TCP header for a body under 65805 bytes); everything else goes out of
 * line. Each case below is checked byte for byte against a reference
 * written here from RFC 7252 §3.1 / RFC 8323 §3.2, on both sides of every
 * boundary, at every capacity around the fast paths' room test. */

/* One field of an RFC 7252 §3.1 option header. */
static size_t ref_field(uint32_t v, uint32_t *nibble, uint8_t *ext) {
  if (v < 13) {
    *nibble = v;
    return 0;
  }
  if (v < 269) {
    *nibble = 13;
    ext[0] = (uint8_t)(v - 13);
    return 1;
  }
  *nibble = 14;
  ext[0] = (uint8_t)((v - 269) >> 8);
  ext[1] = (uint8_t)(v - 269);
  return 2;
}

/* Writes option (delta, value) to out; returns the bytes written. */
static size_t ref_opt(uint8_t *out, uint32_t delta, const uint8_t *val,
                      size_t len) {
  uint32_t nd, nl;
  uint8_t ed[2], el[2];
  size_t a = ref_field(delta, &nd, ed), b = ref_field((uint32_t)len, &nl, el);
  size_t n = 0;
  out[n++] = (uint8_t)(nd << 4 | nl);
  memcpy(out + n, ed, a);
  n += a;
  memcpy(out + n, el, b);
  n += b;
  if (len)
    memcpy(out + n, val, len);
  return n + len;
}

/* The shortest big-endian form of v (RFC 7252 §3.2). */
static size_t ref_uint(uint8_t out[4], uint32_t v) {
  size_t n = v > 0xffffff ? 4 : v > 0xffff ? 3 : v > 0xff ? 2 : v ? 1 : 0;
  for (size_t i = 0; i < n; i++)
    out[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
  return n;
}

/* RFC 8323 §3.2 frame of body[0..blen) after a token of tl (< 13) bytes. */
static size_t ref_tcp(uint8_t *out, uint8_t code, const uint8_t *tok,
                      size_t tl, const uint8_t *body, size_t blen) {
  uint32_t nl;
  uint8_t ext[4];
  size_t en;
  if (blen < 65805) {
    en = ref_field((uint32_t)blen, &nl, ext);
  } else {
    nl = 15;
    en = 4;
    uint32_t v = (uint32_t)(blen - 65805);
    for (int i = 0; i < 4; i++)
      ext[i] = (uint8_t)(v >> (24 - 8 * i));
  }
  size_t n = 0;
  out[n++] = (uint8_t)(nl << 4 | tl);
  memcpy(out + n, ext, en);
  n += en;
  out[n++] = code;
  if (tl)
    memcpy(out + n, tok, tl);
  n += tl;
  if (blen)
    memcpy(out + n, body, blen);
  return n + blen;
}

/* An empty option at number first, then one at num: encoded at every
 * capacity from 0 to the need + 24 (so the inline room test sees both
 * sides) and checked against the reference. A uint option (value u) when
 * is_uint, else val[0..len). */
static void check_one_opt(uint16_t first, uint16_t num, int is_uint,
                          uint32_t u, const uint8_t *val, size_t len) {
  static const uint8_t tok[4] = {0xa1, 0xb2, 0xc3, 0xd4};
  uint8_t body[400], uv[4], want[420];
  size_t bn = ref_opt(body, first, NULL, 0);
  if (is_uint) {
    len = ref_uint(uv, u);
    val = uv;
  }
  bn += ref_opt(body + bn, (uint32_t)(num - first), val, len);
  size_t wn = ref_tcp(want, RC_CONTENT, tok, sizeof tok, body, bn);
  size_t need = RC_ENC_HEADROOM + sizeof tok + bn;
  for (size_t cap = 0; cap <= need + 24; cap++) {
    uint8_t *buf = malloc(cap ? cap : 1); /* exact size: ASan sees overruns */
    assert_non_null(buf);
    rc_enc e;
    const uint8_t *out;
    size_t olen;
    rc_enc_init(&e, cap ? buf : NULL, cap, RC_CONTENT, tok, sizeof tok);
    rc_err r1 = rc_enc_opt(&e, first, NULL, 0);
    rc_err r2 = is_uint ? rc_enc_opt_uint(&e, num, u)
                        : rc_enc_opt(&e, num, val, len);
    assert_int_equal(rc_enc_needed(&e), need);
    rc_err rf = rc_enc_finish(&e, RC_FRAMING_TCP, 0, 0, &out, &olen);
    if (cap < need) {
      assert_int_equal(rf, RC_ERR_NOBUF);
      assert_true(r1 == RC_ERR_NOBUF || r2 == RC_ERR_NOBUF);
    } else {
      assert_int_equal(r1, RC_OK);
      assert_int_equal(r2, RC_OK);
      assert_int_equal(rf, RC_OK);
      assert_int_equal(olen, wn);
      assert_memory_equal(out, want, wn);
    }
    free(buf);
  }
}

static void test_enc_inline_option_edges(void **state) {
  (void)state;
  static const uint32_t deltas[] = {0,   1,   12,  13,   14,   267,
                                    268, 269, 270, 1000, 65535};
  static const uint32_t us[] = {0,       1,        0xff,
                                0x100,   0xffff,   0x10000,
                                0xffffff, 0x1000000, 0xffffffffu};
  uint8_t val[300];
  for (size_t i = 0; i < sizeof val; i++)
    val[i] = (uint8_t)(i * 7 + 1);
  for (size_t d = 0; d < sizeof deltas / sizeof deltas[0]; d++) {
    /* the same delta from a first option at 0 and at 1 */
    for (uint32_t first = 0; first <= 1; first++) {
      uint32_t num = deltas[d] + first;
      if (num > 65535)
        continue;
      for (size_t len = 0; len <= 16; len++)
        check_one_opt((uint16_t)first, (uint16_t)num, 0, 0, val, len);
      check_one_opt((uint16_t)first, (uint16_t)num, 0, 0, val, 268);
      check_one_opt((uint16_t)first, (uint16_t)num, 0, 0, val, 269);
      /* uint values of 0 to 4 bytes, at each length's edges */
      for (size_t k = 0; k < sizeof us / sizeof us[0]; k++)
        check_one_opt((uint16_t)first, (uint16_t)num, 1, us[k], NULL, 0);
    }
  }
}

/* Tokens of 0-12 bytes (the inline init takes 0-8) and TCP bodies at every
 * Len boundary (12/13, 268/269, 65804/65805: the inline finish takes bodies
 * under 65805), against the reference frame; then the errors that the
 * inline paths hand to the out-of-line encoder. */
static void test_enc_inline_token_and_len(void **state) {
  (void)state;
  static uint8_t payload[65900], buf[66000], want[66000], rb[65900];
  static const size_t bodies[] = {0,   2,   12,   13,    14,    268,
                                  269, 270, 1024, 65804, 65805, 65806};
  for (size_t i = 0; i < sizeof payload; i++)
    payload[i] = (uint8_t)(i * 13 + 5);
  for (size_t tl = 0; tl <= 12; tl++) {
    for (size_t b = 0; b < sizeof bodies / sizeof bodies[0]; b++) {
      /* a body of blen bytes: the marker and blen - 1 payload bytes */
      size_t blen = bodies[b];
      rc_enc e;
      const uint8_t *out;
      size_t olen;
      rc_enc_init(&e, buf, sizeof buf, RC_CONTENT, payload + 100, tl);
      if (blen)
        assert_int_equal(rc_enc_payload(&e, payload, blen - 1), RC_OK);
      assert_int_equal(rc_enc_finish(&e, RC_FRAMING_TCP, 0, 0, &out, &olen),
                       RC_OK);
      rb[0] = 0xff;
      memcpy(rb + 1, payload, blen ? blen - 1 : 0);
      size_t wn = ref_tcp(want, RC_CONTENT, payload + 100, tl, rb, blen);
      assert_int_equal(olen, wn);
      assert_memory_equal(out, want, wn);
    }
  }
  rc_enc e;
  const uint8_t *out;
  size_t olen;
  rc_enc_init(&e, buf, sizeof buf, RC_GET, NULL, 3);
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_TCP, 0, 0, &out, &olen),
                   RC_ERR_INVAL);
  rc_enc_init(&e, buf, 12, RC_GET, payload, 8); /* below the inline room */
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_TCP, 0, 0, &out, &olen),
                   RC_ERR_NOBUF);
  assert_int_equal(rc_enc_needed(&e), RC_ENC_HEADROOM + 8);
  rc_enc_init(&e, buf, 16, RC_GET, payload, 8);
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_TCP, 0, 0, &out, &olen),
                   RC_OK);
  assert_int_equal(olen, 2 + 8);
  assert_memory_equal(out + 2, payload, 8);
  /* option errors after inline appends: a NULL value, order, closed */
  rc_enc_init(&e, buf, sizeof buf, RC_GET, NULL, 0);
  assert_int_equal(rc_enc_opt(&e, 11, "a", 1), RC_OK);
  assert_int_equal(rc_enc_opt(&e, 12, NULL, 2), RC_ERR_INVAL);
  assert_int_equal(rc_enc_opt_uint(&e, 60, 1), RC_ERR_INVAL);
  rc_enc_init(&e, buf, sizeof buf, RC_GET, NULL, 0);
  assert_int_equal(rc_enc_opt_uint(&e, 12, 0), RC_OK);
  assert_int_equal(rc_enc_opt_uint(&e, 11, 0), RC_ERR_OPT_ORDER);
  rc_enc_init(&e, buf, sizeof buf, RC_GET, NULL, 0);
  assert_int_equal(rc_enc_payload(&e, "p", 1), RC_OK);
  assert_int_equal(rc_enc_opt_uint(&e, 65535, 0), RC_ERR_STATE);
  assert_int_equal(rc_enc_payload(&e, NULL, 0), RC_ERR_STATE);
  rc_enc_init(&e, buf, sizeof buf, RC_GET, NULL, 0);
  assert_int_equal(rc_enc_payload(&e, NULL, 1), RC_ERR_INVAL);
  assert_int_equal(rc_enc_finish(&e, RC_FRAMING_TCP, 0, 0, &out, &olen),
                   RC_ERR_INVAL);
}

static void test_code_text(void **state) {
  (void)state;
  char b[5];
  assert_string_equal(rc_code_str(RC_CONTENT, b), "2.05");
  assert_string_equal(rc_code_str(RC_CONTINUE, b), "2.31");
  assert_string_equal(rc_code_str(RC_SIG_ABORT, b), "7.05");
  assert_string_equal(rc_code_str(0xff, b), "7.31");
  assert_string_equal(rc_code_str(0, b), "0.00");
  assert_string_equal(rc_code_name(RC_CONTENT), "Content");
  assert_string_equal(rc_code_name(RC_GET), "GET");
  assert_string_equal(rc_code_name(RC_SIG_CSM), "CSM");
  assert_string_equal(rc_code_name(RC_REQUEST_ENTITY_TOO_LARGE),
                      "Request Entity Too Large");
  assert_string_equal(rc_code_name(RC_CODE(3, 0)), "Unknown");
  assert_true(rc_code_is_request(RC_GET));
  assert_false(rc_code_is_request(RC_CODE_EMPTY));
  assert_true(rc_code_is_signaling(RC_SIG_PONG));
}

/* ---- round trip --------------------------------------------------------------- */

#define RT_COUNT 100000
#define RT_BUF 65536

/* The options summary rc_msg_parse leaves in m is what a walk of m's
 * options finds: numbers below 64 seen, one of 64 or more, the longest
 * value. */
static void assert_summary(const rc_msg *m) {
  rc_opt_iter it;
  rc_opt o;
  uint64_t seen = 0;
  uint32_t maxlen = 0;
  int over = 0;
  rc_opt_iter_init(&it, m);
  while (rc_opt_next(&it, &o)) {
    if (o.num < 64)
      seen |= 1ull << o.num;
    else
      over = 1;
    if (o.len > maxlen)
      maxlen = o.len;
  }
  assert_int_equal(m->opts_summary, 1);
  assert_true(m->opts_below64 == seen);
  assert_int_equal(m->opts_over63, over);
  assert_int_equal(m->opts_maxlen, maxlen);
}

static void round_trip(rc_framing f, uint64_t seed) {
  static uint8_t b1[RT_BUF], b2[RT_BUF], b3[RT_BUF];
  tg_rng r = {seed};
  tg_pool_init(&r);
  for (int i = 0; i < RT_COUNT; i++) {
    tg_msg g;
    const uint8_t *out;
    size_t len, len2;
    rc_msg m;
    tg_gen(&r, f, &g);
    assert_int_equal(tg_encode(&g, f, b1, sizeof(b1), &out, &len), RC_OK);
    rc_err rc = rc_msg_parse(f, out, len, &m);
    if (rc != RC_OK)
      fail_msg("seed %llu msg %d: parse %s", (unsigned long long)seed, i,
               rc_err_name(rc));
    if (!tg_equal(&g, f, &m))
      fail_msg("seed %llu msg %d: fields differ", (unsigned long long)seed, i);
    assert_summary(&m);
    assert_int_equal(rc_msg_encoded_len(&m, f), len);
    assert_int_equal(rc_msg_encode(&m, f, b2, sizeof(b2), &len2), RC_OK);
    assert_int_equal(len2, len);
    assert_memory_equal(b2, out, len);
    /* and through rc_enc_opts_raw once more */
    rc_enc e;
    rc_enc_init(&e, b3, sizeof(b3), m.code, m.token, m.token_len);
    rc_enc_opts_raw(&e, m.opts, m.opts_len);
    rc_enc_payload(&e, m.payload, m.payload_len);
    assert_int_equal(rc_enc_finish(&e, f, m.type, m.mid, &out, &len2), RC_OK);
    assert_int_equal(len2, len);
    assert_memory_equal(out, b2, len);
  }
}

static void test_round_trip_udp(void **state) {
  (void)state;
  round_trip(RC_FRAMING_UDP, 0x5eed0001);
}
static void test_round_trip_tcp(void **state) {
  (void)state;
  round_trip(RC_FRAMING_TCP, 0x5eed0002);
}
static void test_round_trip_ws(void **state) {
  (void)state;
  round_trip(RC_FRAMING_WS, 0x5eed0003);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc8323_frame_figure),
      cmocka_unit_test(test_rfc8323_ws_examples),
      cmocka_unit_test(test_libcoap_signaling),
      cmocka_unit_test(test_rfc7252_udp_examples),
      cmocka_unit_test(test_extended_token),
      cmocka_unit_test(test_tcp_len_boundaries),
      cmocka_unit_test(test_malformed_udp),
      cmocka_unit_test(test_malformed_tcp_ws),
      cmocka_unit_test(test_every_prefix),
      cmocka_unit_test(test_enc_reframe),
      cmocka_unit_test(test_enc_nobuf),
      cmocka_unit_test(test_enc_sticky),
      cmocka_unit_test(test_parse_head),
      cmocka_unit_test(test_enc_raw_and_ptr),
      cmocka_unit_test(test_enc_inline_option_edges),
      cmocka_unit_test(test_enc_inline_token_and_len),
      cmocka_unit_test(test_code_text),
      cmocka_unit_test(test_round_trip_udp),
      cmocka_unit_test(test_round_trip_tcp),
      cmocka_unit_test(test_round_trip_ws),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
