/*
 * Session tests for RFC 8323 §5.5 Release and §5.6 Abort, in both
 * directions: what the peer says is surfaced (alternative addresses,
 * Hold-Off, Bad-CSM-Option, diagnostic text), requests stop while
 * responses continue after a Release, and nothing follows an Abort.
 */
#include "test_session_harness.h"

static void peer_release(void **state) {
  (void)state;
  harness *h = h_new(RC_FRAMING_TCP, RC_SESSION_CLIENT, 0);
  h_handshake(h, 1);
  uint8_t b[128];
  h_opt o[3] = {{RC_SIGOPT_ALTERNATIVE_ADDRESS, "a.example:5683", 14},
                {RC_SIGOPT_ALTERNATIVE_ADDRESS, "[::1]:61616", 11},
                {RC_SIGOPT_HOLD_OFF, "\x3c", 1}};
  size_t n = h_mk(b, sizeof(b), RC_FRAMING_TCP, RC_SIG_RELEASE, NULL, 0, o, 3,
                  "moving", 6);
  assert_int_equal(h_feed(h, b, n, 2), RC_OK);
  assert_int_equal(h->n_release, 1);
  assert_int_equal(h->n_alt, 2);
  assert_string_equal(h->alt[0], "a.example:5683");
  assert_string_equal(h->alt[1], "[::1]:61616");
  assert_int_equal(h->hold_off, 60);
  assert_string_equal(h->rdiag, "moving");
  assert_int_equal(rc_session_get_state(h->s), RC_SESSION_RELEASING);
  /* new requests refused, responses still go out and come in */
  rc_enc e;
  assert_int_equal(rc_session_msg_begin(h->s, &e, RC_GET, NULL, 0, 0),
                   RC_ERR_PEER_RELEASE);
  assert_int_equal(rc_session_msg_begin(h->s, &e, RC_CONTENT, NULL, 0, 0),
                   RC_OK);
  assert_int_equal(rc_session_msg_end(h->s, &e), RC_OK);
  static const uint8_t resp[] = {0x01, 0x45, 0x99}; /* 2.05 token 99 */
  h_feed(h, resp, sizeof(resp), 3);
  assert_int_equal(h->n_msg, 1);
  /* EOF after the Release: an orderly end */
  rc_session_close(h->s, RC_ERR_CLOSED);
  assert_int_equal(h->n_closed, 1);
  assert_int_equal(h->closed_reason, RC_OK);
  rc_session_close(h->s, RC_ERR_CLOSED);
  assert_int_equal(h->n_closed, 1);
  h_free(h);

  /* no options: hold-off absent */
  h = h_new(RC_FRAMING_TCP, RC_SESSION_CLIENT, 0);
  h_handshake(h, 1);
  static const uint8_t bare[] = {0x00, 0xe4};
  h_feed(h, bare, 2, 2);
  assert_int_equal(h->n_alt, 0);
  assert_int_equal(h->hold_off, RC_SESSION_NO_HOLD_OFF);
  h_free(h);
}

static void our_release(void **state) {
  (void)state;
  harness hh, *h = &hh;
  h_init_cfg(h, RC_FRAMING_TCP, RC_SESSION_SERVER);
  h->cfg.release_timeout_ms = 3000;
  h_start(h, 0);
  h_handshake(h, 1);
  const char *alt[1] = {"b.example"};
  const char *bad[1] = {""};
  assert_int_equal(rc_session_release(h->s, bad, 1, 0, NULL, 10),
                   RC_ERR_INVAL);
  assert_int_equal(rc_session_release(h->s, alt, 1, 30, "bye", 10), RC_OK);
  assert_int_equal(rc_session_release(h->s, NULL, 0, 30, NULL, 10),
                   RC_ERR_STATE);
  rc_msg m;
  h_out_msg(h, 1, &m);
  assert_int_equal(m.code, RC_SIG_RELEASE);
  rc_opt o;
  assert_true(rc_msg_find_opt(&m, RC_SIGOPT_ALTERNATIVE_ADDRESS, &o));
  assert_int_equal(o.len, 9);
  assert_memory_equal(o.val, "b.example", 9);
  uint32_t v;
  assert_true(h_opt_uint(&m, RC_SIGOPT_HOLD_OFF, &v));
  assert_int_equal(v, 30);
  assert_int_equal(m.payload_len, 3);
  assert_int_equal(rc_session_get_state(h->s), RC_SESSION_RELEASING);
  rc_enc e;
  assert_int_equal(rc_session_msg_begin(h->s, &e, RC_GET, NULL, 0, 0),
                   RC_ERR_STATE);
  /* requests from the peer still arrive and get answers */
  h->reply_in_cb = 1;
  static const uint8_t get[] = {0x01, 0x01, 0x42};
  h_feed(h, get, sizeof(get), 20);
  assert_int_equal(h_last_out_code(h), RC_CONTENT);
  /* the peer never closes: release timeout */
  assert_int_equal(rc_session_expiry(h->s), 3010);
  rc_session_handle_expiry(h->s, 3010);
  assert_int_equal(h->closed_reason, RC_ERR_TIMEOUT);
  rc_session_free(h->s);
  free(h->out);
}

static void peer_abort(void **state) {
  (void)state;
  harness *h = h_new(RC_FRAMING_TCP, RC_SESSION_CLIENT, 0);
  h_handshake(h, 1);
  uint8_t b[128];
  h_opt o[1] = {{RC_SIGOPT_BAD_CSM_OPTION, "\x09", 1}};
  size_t n = h_mk(b, sizeof(b), RC_FRAMING_TCP, RC_SIG_ABORT, NULL, 0, o, 1,
                  "option 9 unknown", 16);
  /* and a request behind it, which must not be processed */
  static const uint8_t get[] = {0x01, 0x01, 0x42};
  memcpy(b + n, get, sizeof(get));
  assert_int_equal(h_feed(h, b, n + sizeof(get), 2), RC_OK);
  assert_int_equal(h->n_abort, 1);
  assert_true(h->abort_has_bad);
  assert_int_equal(h->abort_bad, 9);
  assert_string_equal(h->adiag, "option 9 unknown");
  assert_int_equal(h->n_closed, 1);
  assert_int_equal(h->closed_reason, RC_ERR_PEER_ABORT);
  assert_int_equal(h->n_msg, 0);
  assert_int_equal(h_out_count(h), 1); /* no answer to an Abort */
  assert_int_equal(h_feed(h, get, sizeof(get), 3), RC_ERR_CLOSED);
  h_free(h);
}

static void our_abort(void **state) {
  (void)state;
  harness *h = h_new(RC_FRAMING_TCP, RC_SESSION_SERVER, 0);
  h_handshake(h, 1);
  rc_enc e;
  assert_int_equal(rc_session_msg_begin(h->s, &e, RC_CONTENT, NULL, 0, 0),
                   RC_OK);
  /* nothing else while a message is open */
  assert_int_equal(rc_session_abort(h->s, 0, "x"), RC_ERR_STATE);
  assert_int_equal(rc_session_msg_end(h->s, &e), RC_OK);
  assert_int_equal(rc_session_abort(h->s, 0, "shutting down"), RC_OK);
  assert_int_equal(h->closed_reason, RC_OK);
  assert_int_equal(rc_session_abort(h->s, 0, "again"), RC_ERR_CLOSED);
  assert_int_equal(rc_session_msg_begin(h->s, &e, RC_CONTENT, NULL, 0, 0),
                   RC_ERR_CLOSED);
  assert_int_equal(rc_session_release(h->s, NULL, 0, 0, NULL, 2),
                   RC_ERR_CLOSED);
  /* the response queued before and the Abort are still drained, Abort last */
  assert_int_equal(h_out_count(h), 3);
  rc_msg m;
  h_out_msg(h, 2, &m);
  assert_int_equal(m.code, RC_SIG_ABORT);
  assert_int_equal(m.payload_len, 13);
  assert_memory_equal(m.payload, "shutting down", 13);
  assert_false(rc_session_want_write(h->s));
  h_free(h);
}

/* The user may act from inside callbacks: abort from on_message stops
 * the processing of the rest of the input. */
static int abort_in_cb(void *user, const rc_msg *m) {
  harness *h = user;
  h->n_msg++;
  (void)m;
  assert_int_equal(rc_session_abort(h->s, 0, "no"), RC_OK);
  return 0;
}

static void abort_from_callback(void **state) {
  (void)state;
  harness hh, *h = &hh;
  h_init_cfg(h, RC_FRAMING_TCP, RC_SESSION_SERVER);
  h->out = malloc(H_OUT_CAP);
  rc_session_callbacks cb = h_callbacks;
  cb.on_message = abort_in_cb;
  assert_int_equal(rc_session_new(&h->s, &h->cfg, &cb, h, NULL, 0), RC_OK);
  h_handshake(h, 1);
  static const uint8_t two[] = {0x01, 0x01, 0x42, 0x01, 0x01, 0x43};
  assert_int_equal(h_feed(h, two, sizeof(two), 2), RC_OK);
  assert_int_equal(h->n_msg, 1);
  assert_int_equal(h_last_out_code(h), RC_SIG_ABORT);
  rc_session_free(h->s);
  free(h->out);
}

/* A failing on_message closes the session. */
static void callback_failure(void **state) {
  (void)state;
  harness *h = h_new(RC_FRAMING_TCP, RC_SESSION_SERVER, 0);
  h_handshake(h, 1);
  h->fail_cb = 1;
  static const uint8_t two[] = {0x01, 0x01, 0x42, 0x01, 0x01, 0x43};
  assert_int_equal(h_feed(h, two, sizeof(two), 2), RC_ERR_CALLBACK_FAILURE);
  assert_int_equal(h->n_msg, 1);
  assert_int_equal(h->closed_reason, RC_ERR_CALLBACK_FAILURE);
  /* err.h: a closed object answers every later call with RC_ERR_CLOSED
   * and changes nothing; only the destructor remains. */
  size_t out_len = h->out_len;
  rc_msg m;
  memset(&m, 0, sizeof m);
  m.code = RC_GET;
  assert_int_equal(rc_session_send(h->s, &m), RC_ERR_CLOSED);
  assert_int_equal(rc_session_recv(h->s, two, sizeof two, 0), RC_ERR_CLOSED);
  assert_int_equal(rc_session_ping(h->s, 0, 0, NULL), RC_ERR_CLOSED);
  assert_int_equal(rc_session_release(h->s, NULL, 0, 0, NULL, 0), RC_ERR_CLOSED);
  assert_int_equal(h->n_msg, 1);
  assert_int_equal(h->out_len, out_len);
  h_free(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(peer_release),
      cmocka_unit_test(our_release),
      cmocka_unit_test(peer_abort),
      cmocka_unit_test(our_abort),
      cmocka_unit_test(abort_from_callback),
      cmocka_unit_test(callback_failure),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
