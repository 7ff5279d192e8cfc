/*
 * Tests for STUN parse/encode (src/transport/webrtc/stun.c) against the
 * RFC 5769 test vectors, byte for byte: each is parsed, its
 * MESSAGE-INTEGRITY checked with the vector's password (the MD5 long-term
 * key for §2.4) and its FINGERPRINT checked, then encoded again from the
 * parsed values and compared with the vector.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include <openssl/evp.h>

#include "transport/webrtc/stun.h"

/* RFC 5769 §2.1 Sample Request (password "VOkJxbRl1RmTxUk/WvJxBt"). */
static const uint8_t req_v[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
    0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10,
    0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c,
    0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
    0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
    0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c,
    0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf};

/* RFC 5769 §2.2 Sample IPv4 Response: 192.0.2.1 port 32853. */
static const uint8_t resp4_v[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
    0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
    0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
    0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
    0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,
    0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96};

/* RFC 5769 §2.3 Sample IPv6 Response:
 * 2001:db8:1234:5678:11:2233:4455:6677 port 32853. */
static const uint8_t resp6_v[] = {
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
    0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
    0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
    0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
    0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
    0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1,
    0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41,
    0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c};

/* RFC 5769 §2.4 Sample Request with Long-Term Authentication. */
static const uint8_t lt_v[] = {
    0x00, 0x01, 0x00, 0x60, 0x21, 0x12, 0xa4, 0x42, 0x78, 0xad, 0x34, 0x33,
    0xc6, 0xad, 0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e, 0x00, 0x06, 0x00, 0x12,
    0xe3, 0x83, 0x9e, 0xe3, 0x83, 0x88, 0xe3, 0x83, 0xaa, 0xe3, 0x83, 0x83,
    0xe3, 0x82, 0xaf, 0xe3, 0x82, 0xb9, 0x00, 0x00, 0x00, 0x15, 0x00, 0x1c,
    0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39, 0x6b, 0x39, 0x35, 0x34, 0x64, 0x36,
    0x4f, 0x4c, 0x33, 0x34, 0x6f, 0x4c, 0x39, 0x46, 0x53, 0x54, 0x76, 0x79,
    0x36, 0x34, 0x73, 0x41, 0x00, 0x14, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d,
    0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72, 0x67, 0x00, 0x00, 0x08, 0x00, 0x14,
    0xf6, 0x70, 0x24, 0x65, 0x6d, 0xd6, 0x4a, 0x3e, 0x02, 0xb8, 0xe0, 0x71,
    0x2e, 0x85, 0xc9, 0xa2, 0x8c, 0xa8, 0x96, 0x66};

static const char PWD[] = "VOkJxbRl1RmTxUk/WvJxBt";
#define KEY(s) (const uint8_t *)(s), strlen(s)

static void test_sample_request(void **st) {
  (void)st;
  rc_stun_msg m;
  assert_int_equal(rc_stun_parse(&m, req_v, sizeof req_v), RC_OK);
  assert_true(rc_stun_is(req_v, sizeof req_v));
  assert_int_equal(m.cls, RC_STUN_REQUEST);
  assert_int_equal(m.method, RC_STUN_BINDING);
  assert_int_equal(m.username_len, 9);
  assert_memory_equal(m.username, "evtj:h6vY", 9);
  assert_int_equal(m.software_len, 16);
  assert_true(m.has_priority);
  assert_int_equal(m.priority, 0x6e0001ffu);
  assert_true(m.has_controlled);
  assert_false(m.has_controlling);
  assert_true(m.tie_breaker == 0x932ff9b151263b36ull);
  assert_true(m.has_fingerprint);
  assert_int_equal(m.integrity_off, 76);
  assert_true(rc_stun_integrity_ok(&m, req_v, sizeof req_v, KEY(PWD)));
  assert_false(rc_stun_integrity_ok(&m, req_v, sizeof req_v, KEY("wrong")));

  /* Encoded again from its parts: the vector pads with spaces. */
  uint8_t out[256];
  rc_stun_enc e;
  rc_stun_enc_begin(&e, out, sizeof out, RC_STUN_BINDING, RC_STUN_REQUEST,
                    m.tid);
  e.pad = ' ';
  rc_stun_enc_attr(&e, RC_STUN_ATTR_SOFTWARE, m.software, m.software_len);
  rc_stun_enc_u32(&e, RC_STUN_ATTR_PRIORITY, m.priority);
  rc_stun_enc_u64(&e, RC_STUN_ATTR_ICE_CONTROLLED, m.tie_breaker);
  rc_stun_enc_attr(&e, RC_STUN_ATTR_USERNAME, m.username, m.username_len);
  rc_stun_enc_integrity(&e, KEY(PWD));
  rc_ssize n = rc_stun_enc_end(&e, true);
  assert_int_equal(n, sizeof req_v);
  assert_memory_equal(out, req_v, sizeof req_v);
}

static void check_response(const uint8_t *v, size_t vn,
                           const struct sockaddr *want) {
  rc_stun_msg m;
  assert_int_equal(rc_stun_parse(&m, v, vn), RC_OK);
  assert_int_equal(m.cls, RC_STUN_SUCCESS);
  assert_int_equal(m.method, RC_STUN_BINDING);
  assert_true(m.has_xor_mapped);
  assert_true(m.has_fingerprint);
  size_t alen = want->sa_family == AF_INET ? sizeof(struct sockaddr_in)
                                           : sizeof(struct sockaddr_in6);
  assert_memory_equal(&m.xor_mapped, want, alen);
  assert_int_equal(m.software_len, 11);
  assert_memory_equal(m.software, "test vector", 11);
  assert_true(rc_stun_integrity_ok(&m, v, vn, KEY(PWD)));

  uint8_t out[256];
  rc_stun_enc e;
  rc_stun_enc_begin(&e, out, sizeof out, RC_STUN_BINDING, RC_STUN_SUCCESS,
                    m.tid);
  e.pad = ' ';
  rc_stun_enc_attr(&e, RC_STUN_ATTR_SOFTWARE, m.software, m.software_len);
  rc_stun_enc_xor_addr(&e, want);
  rc_stun_enc_integrity(&e, KEY(PWD));
  rc_ssize n = rc_stun_enc_end(&e, true);
  assert_int_equal(n, vn);
  assert_memory_equal(out, v, vn);
}

static void test_sample_ipv4_response(void **st) {
  (void)st;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(32853);
  inet_pton(AF_INET, "192.0.2.1", &a.sin_addr);
  check_response(resp4_v, sizeof resp4_v, (struct sockaddr *)&a);
}

static void test_sample_ipv6_response(void **st) {
  (void)st;
  struct sockaddr_in6 a;
  memset(&a, 0, sizeof a);
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(32853);
  inet_pton(AF_INET6, "2001:db8:1234:5678:11:2233:4455:6677", &a.sin6_addr);
  check_response(resp6_v, sizeof resp6_v, (struct sockaddr *)&a);
}

static void test_sample_long_term(void **st) {
  (void)st;
  rc_stun_msg m;
  assert_int_equal(rc_stun_parse(&m, lt_v, sizeof lt_v), RC_OK);
  assert_false(m.has_fingerprint);
  assert_int_equal(m.realm_len, 11);
  assert_memory_equal(m.realm, "example.org", 11);
  assert_int_equal(m.nonce_len, 28);
  /* RFC 8489 §9.2.2: key = MD5(username ":" realm ":" password), the
   * password after SASLprep: "TheMatrIX". */
  char in[128];
  size_t k = 0;
  memcpy(in, m.username, m.username_len), k += m.username_len;
  in[k++] = ':';
  memcpy(in + k, "example.org:TheMatrIX", 21), k += 21;
  uint8_t key[16];
  unsigned kl = 0;
  assert_true(EVP_Digest(in, k, key, &kl, EVP_md5(), NULL) == 1);
  assert_true(rc_stun_integrity_ok(&m, lt_v, sizeof lt_v, key, kl));

  uint8_t out[256];
  rc_stun_enc e;
  rc_stun_enc_begin(&e, out, sizeof out, RC_STUN_BINDING, RC_STUN_REQUEST,
                    m.tid);
  rc_stun_enc_attr(&e, RC_STUN_ATTR_USERNAME, m.username, m.username_len);
  rc_stun_enc_attr(&e, RC_STUN_ATTR_NONCE, m.nonce, m.nonce_len);
  rc_stun_enc_attr(&e, RC_STUN_ATTR_REALM, m.realm, m.realm_len);
  rc_stun_enc_integrity(&e, key, kl);
  assert_int_equal(rc_stun_enc_end(&e, false), sizeof lt_v);
  assert_memory_equal(out, lt_v, sizeof lt_v);
}

/* Every prefix and every single-bit flip of the vectors parses to an error
 * or, where the change lies in a value, is caught by the FINGERPRINT. */
static void test_damaged(void **st) {
  (void)st;
  rc_stun_msg m;
  uint8_t b[sizeof lt_v];
  for (size_t n = 0; n < sizeof req_v; n++)
    assert_int_not_equal(rc_stun_parse(&m, req_v, n), RC_OK);
  for (size_t i = 0; i < sizeof req_v * 8; i++) {
    memcpy(b, req_v, sizeof req_v);
    b[i / 8] ^= (uint8_t)(1u << (i % 8));
    rc_err err = rc_stun_parse(&m, b, sizeof req_v);
    /* A flipped bit breaks the framing or the CRC (which covers padding
     * too). What still parses has lost its FINGERPRINT: a flip in its type
     * makes it an ignored attribute after MESSAGE-INTEGRITY, one in
     * USERNAME's length (bit 509) swallows the rest of the message. */
    if (!err)
      assert_false(m.has_fingerprint);
  }
  /* Integrity alone (no FINGERPRINT: the long-term vector). */
  memcpy(b, lt_v, sizeof lt_v);
  b[30] ^= 1; /* inside USERNAME */
  assert_int_equal(rc_stun_parse(&m, b, sizeof lt_v), RC_OK);
  assert_false(rc_stun_integrity_ok(&m, b, sizeof lt_v, KEY("x")));
}

static void test_demux(void **st) {
  (void)st;
  uint8_t dtls[32] = {22, 0xfe, 0xfd};
  assert_false(rc_stun_is(dtls, sizeof dtls));
  assert_false(rc_stun_is(req_v, sizeof req_v - 1));
  uint8_t b[sizeof req_v];
  memcpy(b, req_v, sizeof b);
  b[4] ^= 0x80; /* cookie */
  assert_false(rc_stun_is(b, sizeof b));
  assert_false(rc_stun_is(NULL, 0));
}

static void test_error_and_attrs_after_integrity(void **st) {
  (void)st;
  uint8_t tid[RC_STUN_TID_LEN], out[256];
  rc_stun_new_tid(tid);
  rc_stun_enc e;
  rc_stun_enc_begin(&e, out, sizeof out, RC_STUN_BINDING, RC_STUN_ERROR, tid);
  rc_stun_enc_error(&e, 487, "Role Conflict");
  rc_stun_enc_integrity(&e, KEY(PWD));
  /* An attribute after MESSAGE-INTEGRITY is ignored by the parser. */
  rc_stun_enc_u32(&e, RC_STUN_ATTR_PRIORITY, 7);
  rc_ssize n = rc_stun_enc_end(&e, true);
  assert_true(n > 0);
  rc_stun_msg m;
  assert_int_equal(rc_stun_parse(&m, out, (size_t)n), RC_OK);
  assert_int_equal(m.cls, RC_STUN_ERROR);
  assert_true(m.has_error);
  assert_int_equal(m.error_code, 487);
  assert_int_equal(m.reason_len, 13);
  assert_false(m.has_priority);
  assert_memory_equal(m.tid, tid, sizeof tid);
  /* The HMAC was over the message as it was when MESSAGE-INTEGRITY was
   * added; the length in the header has grown since. */
  assert_true(rc_stun_integrity_ok(&m, out, (size_t)n, KEY(PWD)));
  /* Bad error classes. */
  rc_stun_enc_begin(&e, out, sizeof out, RC_STUN_BINDING, RC_STUN_ERROR, tid);
  rc_stun_enc_error(&e, 700, "x");
  assert_int_equal(rc_stun_enc_end(&e, false), RC_ERR_INVAL);
  /* No room. */
  rc_stun_enc_begin(&e, out, 40, RC_STUN_BINDING, RC_STUN_REQUEST, tid);
  rc_stun_enc_attr(&e, RC_STUN_ATTR_USERNAME, "evtj:h6vY", 9);
  rc_stun_enc_integrity(&e, KEY(PWD));
  assert_int_equal(rc_stun_enc_end(&e, true), RC_ERR_NOBUF);
}

/* A plain Binding request (no credentials) answered with the sender's
 * address, never longer than the request plus that address. */
static void test_plain_binding_answer(void **st) {
  (void)st;
  static const uint8_t tid[RC_STUN_TID_LEN] = {1, 2, 3, 4, 5, 6,
                                               7, 8, 9, 10, 11, 12};
  struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(32853)};
  inet_pton(AF_INET, "192.0.2.1", &a4.sin_addr);
  struct sockaddr_in6 a6 = {.sin6_family = AF_INET6,
                            .sin6_port = htons(32853)};
  inet_pton(AF_INET6, "2001:db8:1234:5678:11:2233:4455:6677", &a6.sin6_addr);
  uint8_t req[64], out[80];
  rc_stun_enc e;
  for (int fp = 0; fp <= 1; fp++) {
    rc_stun_enc_begin(&e, req, sizeof req, RC_STUN_BINDING, RC_STUN_REQUEST,
                      tid);
    rc_ssize rn = rc_stun_enc_end(&e, fp);
    assert_int_equal(rn, fp ? 28 : 20);
    const struct sockaddr *from[2] = {(const struct sockaddr *)&a4,
                                      (const struct sockaddr *)&a6};
    for (int i = 0; i < 2; i++) {
      size_t an = rc_stun_binding_answer(req, (size_t)rn, from[i], out,
                                         sizeof out);
      size_t xma = i == 0 ? 12 : 24; /* XOR-MAPPED-ADDRESS v4 / v6 */
      assert_int_equal(an, (size_t)rn + xma);
      rc_stun_msg m;
      assert_int_equal(rc_stun_parse(&m, out, an), RC_OK);
      assert_int_equal(m.method, RC_STUN_BINDING);
      assert_int_equal(m.cls, RC_STUN_SUCCESS);
      assert_memory_equal(m.tid, tid, RC_STUN_TID_LEN);
      assert_true(m.has_xor_mapped);
      assert_int_equal(m.has_fingerprint, fp);
      if (i == 0) {
        const struct sockaddr_in *g = (const struct sockaddr_in *)&m.xor_mapped;
        assert_int_equal(g->sin_family, AF_INET);
        assert_int_equal(g->sin_port, a4.sin_port);
        assert_memory_equal(&g->sin_addr, &a4.sin_addr, 4);
      } else {
        const struct sockaddr_in6 *g =
            (const struct sockaddr_in6 *)&m.xor_mapped;
        assert_int_equal(g->sin6_family, AF_INET6);
        assert_int_equal(g->sin6_port, a6.sin6_port);
        assert_memory_equal(&g->sin6_addr, &a6.sin6_addr, 16);
      }
      /* no room: no answer */
      assert_int_equal(rc_stun_binding_answer(req, (size_t)rn, from[i], out,
                                              an - 1),
                       0);
    }
  }
  const struct sockaddr *f = (const struct sockaddr *)&a4;
  /* ICE checks (USERNAME, MESSAGE-INTEGRITY) are not answered here */
  assert_int_equal(rc_stun_binding_answer(req_v, sizeof req_v, f, out,
                                          sizeof out),
                   0);
  rc_stun_enc_begin(&e, req, sizeof req, RC_STUN_BINDING, RC_STUN_REQUEST,
                    tid);
  rc_stun_enc_integrity(&e, KEY(PWD));
  rc_ssize rn = rc_stun_enc_end(&e, false);
  assert_int_equal(rc_stun_binding_answer(req, (size_t)rn, f, out, sizeof out),
                   0);
  /* an unknown comprehension-required attribute */
  rc_stun_enc_begin(&e, req, sizeof req, RC_STUN_BINDING, RC_STUN_REQUEST,
                    tid);
  rc_stun_enc_u32(&e, 0x7777, 1);
  rn = rc_stun_enc_end(&e, false);
  assert_int_equal(rc_stun_binding_answer(req, (size_t)rn, f, out, sizeof out),
                   0);
  /* responses and indications are not requests */
  assert_int_equal(rc_stun_binding_answer(resp4_v, sizeof resp4_v, f, out,
                                          sizeof out),
                   0);
  rc_stun_enc_begin(&e, req, sizeof req, RC_STUN_BINDING, RC_STUN_INDICATION,
                    tid);
  rn = rc_stun_enc_end(&e, false);
  assert_int_equal(rc_stun_binding_answer(req, (size_t)rn, f, out, sizeof out),
                   0);
  /* not STUN */
  assert_int_equal(rc_stun_binding_answer((const uint8_t *)"\x16\xfe\xfd", 3,
                                          f, out, sizeof out),
                   0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sample_request),
      cmocka_unit_test(test_sample_ipv4_response),
      cmocka_unit_test(test_sample_ipv6_response),
      cmocka_unit_test(test_sample_long_term),
      cmocka_unit_test(test_damaged),
      cmocka_unit_test(test_demux),
      cmocka_unit_test(test_error_and_attrs_after_integrity),
      cmocka_unit_test(test_plain_binding_answer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
