/*
 * Fuzz target for src/transport/webrtc/stun.c: parse the input as one
 * STUN datagram; when it parses, check what a success promises (the
 * demultiplexer agrees it is STUN, views lie inside the input, an error
 * code is in range), check MESSAGE-INTEGRITY with a fixed key, and encode
 * the parsed values again: the result must parse to the same values;
 * a plain Binding answer only for a credential-less Binding request.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "transport/webrtc/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_check(int cond) {
  if (!cond)
    abort();
}

static int inside(const uint8_t *v, size_t n, const uint8_t *d, size_t size) {
  return !v || (v >= d && v + n <= d + size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char key[] = "VOkJxbRl1RmTxUk/WvJxBt";
  rc_stun_msg m, m2;
  rc_err err = rc_stun_parse(&m, data, size);
  if (err) {
    fz_check(err == RC_ERR_TRUNCATED || err == RC_ERR_PROTOCOL);
    return 0;
  }
  fz_check(rc_stun_is(data, size) == (data[0] <= 3));
  fz_check(inside(m.username, m.username_len, data, size));
  fz_check(inside(m.software, m.software_len, data, size));
  fz_check(inside(m.reason, m.reason_len, data, size));
  fz_check(!m.has_error || (m.error_code >= 300 && m.error_code <= 699));
  (void)rc_stun_integrity_ok(&m, data, size, (const uint8_t *)key,
                             sizeof key - 1);

  /* the plain Binding answer: only to a credential-less Binding request,
   * never longer than it plus an IPv6 XOR-MAPPED-ADDRESS */
  struct sockaddr_in6 from = {.sin6_family = AF_INET6, .sin6_port = 5683};
  uint8_t ans[RC_STUN_HEADER + 24 + 8];
  size_t an = rc_stun_binding_answer(data, size, (const struct sockaddr *)&from,
                                     ans, sizeof ans);
  fz_check(an == 0 || (m.method == RC_STUN_BINDING &&
                       m.cls == RC_STUN_REQUEST && m.username == NULL &&
                       m.integrity_off == 0 && an <= size + 24));

  uint8_t out[2048];
  rc_stun_enc e;
  rc_stun_enc_begin(&e, out, sizeof out, m.method, m.cls, m.tid);
  if (m.username)
    rc_stun_enc_attr(&e, RC_STUN_ATTR_USERNAME, m.username, m.username_len);
  if (m.has_priority)
    rc_stun_enc_u32(&e, RC_STUN_ATTR_PRIORITY, m.priority);
  if (m.use_candidate)
    rc_stun_enc_attr(&e, RC_STUN_ATTR_USE_CANDIDATE, NULL, 0);
  if (m.has_xor_mapped)
    rc_stun_enc_xor_addr(&e, (const struct sockaddr *)&m.xor_mapped);
  if (m.has_error && m.reason_len <= 128) {
    char reason[129];
    memcpy(reason, m.reason, m.reason_len);
    reason[m.reason_len] = 0;
    if (strlen(reason) == m.reason_len)
      rc_stun_enc_error(&e, m.error_code, reason);
  }
  rc_stun_enc_integrity(&e, (const uint8_t *)key, sizeof key - 1);
  rc_ssize n = rc_stun_enc_end(&e, true);
  if (n < 0)
    return 0;
  fz_check(rc_stun_parse(&m2, out, (size_t)n) == RC_OK);
  fz_check(m2.method == m.method && m2.cls == m.cls && m2.has_fingerprint);
  fz_check(!memcmp(m2.tid, m.tid, sizeof m.tid));
  fz_check(m2.username_len == m.username_len &&
           (!m.username_len ||
            !memcmp(m2.username, m.username, m.username_len)));
  fz_check(m2.has_priority == m.has_priority && m2.priority == m.priority);
  fz_check(m2.use_candidate == m.use_candidate);
  fz_check(m2.has_xor_mapped == m.has_xor_mapped &&
           (!m.has_xor_mapped ||
            !memcmp(&m2.xor_mapped, &m.xor_mapped, sizeof m.xor_mapped)));
  fz_check(rc_stun_integrity_ok(&m2, out, (size_t)n, (const uint8_t *)key,
                                sizeof key - 1));
  return 0;
}
