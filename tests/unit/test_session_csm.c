/*
 * Session tests for the CSM handshake (RFC 8323 §3.3, §5.3): our CSM is
 * the first output, base values hold until the peer's CSM, a missing,
 * late or invalid CSM is answered with Abort, later CSMs are cumulative;
 * plus stream reassembly of a message sequence split at every boundary
 * and fed one byte at a time, and the WebSocket (message) mode rules.
 */
#include "test_session_harness.h"

/* Our CSM is the first thing out, before anything is received; with the
 * default config it is byte-for-byte the CSM libcoap sends
 * (INTEROP-NOTES.md): Max-Message-Size 8388864, Block-Wise-Transfer. */
static void csm_is_first_output(void **state) {
  (void)state;
  static const uint8_t want[] = {0x50, 0xe1, 0x23, 0x80, 0x01, 0x00, 0x20};
  harness *h = h_new(RC_FRAMING_TCP, RC_SESSION_CLIENT, 0);
  assert_int_equal(rc_session_get_state(h->s), RC_SESSION_CONNECTING);
  assert_true(rc_session_want_write(h->s));
  h_drain(h);
  assert_int_equal(h->out_len, sizeof(want));
  assert_memory_equal(h->out, want, sizeof(want));
  h_free(h);

  /* server role too: the acceptor does not wait either */
  h = h_new(RC_FRAMING_WS, RC_SESSION_SERVER, 0);
  h_drain(h);
  static const uint8_t want_ws[] = {0x00, 0xe1, 0x23, 0x80, 0x01, 0x00, 0x20};
  assert_int_equal(h->n_out_msgs, 1);
  assert_int_equal(h->out_len, sizeof(want_ws));
  assert_memory_equal(h->out, want_ws, sizeof(want_ws));
  h_free(h);
}

static uint8_t traced[8];
static int n_traced;
static void trace_rec(void *user, int sent, const rc_msg *m) {
  (void)user;
  assert_true(sent);
  if (n_traced < 8)
    traced[n_traced] = m->code;
  n_traced++;
}

/* Regression (rcoapd -v never showed its own CSM): tracing switched on
 * after creation shows what is queued already, in order, once; after
 * output was taken nothing is replayed. */
static void trace_switched_on_late(void **state) {
  (void)state;
  for (int ws = 0; ws <= 1; ws++) {
    harness *h = h_new(ws ? RC_FRAMING_WS : RC_FRAMING_TCP,
                       RC_SESSION_SERVER, 0);
    assert_int_equal(rc_session_ping(h->s, 1, 0, NULL), RC_OK);
    n_traced = 0;
    rc_session_set_trace(h->s, trace_rec);
    assert_int_equal(n_traced, 2);
    assert_int_equal(traced[0], RC_SIG_CSM);
    assert_int_equal(traced[1], RC_SIG_PING);
    rc_session_set_trace(h->s, trace_rec); /* already on: no replay */
    assert_int_equal(n_traced, 2);
    h_drain(h);
    rc_session_set_trace(h->s, NULL);
    assert_int_equal(rc_session_ping(h->s, 0, 0, NULL), RC_OK);
    rc_session_set_trace(h->s, trace_rec);
    assert_int_equal(n_traced, 2); /* output was taken: no replay */
    h_free(h);
  }
}

static int trace_in, trace_out;
static void trace_count(void *user, int sent, const rc_msg *m) {
  (void)user;
  (void)m;
  if (sent)
    trace_out++;
  else
    trace_in++;
}

/* Regression (hot16m: the per-message tests read a flag that only
 * rc_session_new set, so rcoapd -v, which switches tracing on after
 * creation, showed no request, answer or Release): tracing switched on
 * late shows a request taken by the whole-frame run and an answer
 * written by rc_session_send_tail; switched off, neither. */
static void trace_late_sees_fast_paths(void **state) {
  (void)state;
  static const uint8_t tail_bytes[] = {0xc0, 0xff, 'h', 'i'};
  static const rc_msg_tail tail = {tail_bytes, sizeof tail_bytes, 1};
  static const uint8_t get[] = {0x61, 0x01, 0x42, 0xb5, 'h', 'e', 'l', 'l', 'o',
                                0x61, 0x01, 0x43, 0xb5, 'h', 'e', 'l', 'l', 'o'};
  for (int on = 0; on <= 1; on++) {
    harness *h = h_new(RC_FRAMING_TCP, RC_SESSION_SERVER, 0);
    h_handshake(h, 0);
    rc_session_set_trace(h->s, trace_count);
    if (!on)
      rc_session_set_trace(h->s, NULL);
    trace_in = trace_out = 0;
    assert_int_equal(h_feed(h, get, sizeof get, 1), RC_OK);
    assert_int_equal(h->n_msg, 2);
    assert_int_equal(trace_in, on ? 2 : 0);
    const uint8_t tok = 0x42;
    assert_int_equal(rc_session_send_tail(h->s, RC_CONTENT, &tok, 1, &tail),
                     RC_OK);
    assert_int_equal(trace_out, on ? 1 : 0);
    h_free(h);
  }
}

static void csm_extended_token_announced(void **state) {
  (void)state;
  harness hh, *h = &hh;
  h_init_cfg(h, RC_FRAMING_TCP, RC_SESSION_CLIENT);
  h->cfg.max_token_len = 16;
  h->cfg.block_wise = 0;
  h->cfg.max_msg_size = 2048;
  h_start(h, 0);
  rc_msg m;
  assert_true(h_out_msg(h, 0, &m));
  uint32_t v;
  assert_true(h_opt_uint(&m, RC_SIGOPT_MAX_MESSAGE_SIZE, &v));
  assert_int_equal(v, 2048);
  assert_true(h_opt_uint(&m, RC_SIGOPT_EXTENDED_TOKEN_LENGTH, &v));
  assert_int_equal(v, 16);
  assert_int_equal(rc_msg_count_opt(&m, RC_SIGOPT_BLOCK_WISE_TRANSFER), 0);
  rc_session_free(h->s);
  free(h->out);
}

static void csm_bad_config(void **state) {
  (void)state;
  rc_session_config cfg;
  rc_session *s = (rc_session *)1;
  rc_session_config_default(&cfg, RC_FRAMING_TCP, RC_SESSION_CLIENT);
  cfg.max_msg_size = 1151;
  assert_int_equal(rc_session_new(&s, &cfg, &h_callbacks, NULL, NULL, 0),
                   RC_ERR_INVAL);
  assert_null(s);
  /* UDP framing is the RFC 7252 session now; a bad setting of it is
   * refused (ACK_RANDOM_FACTOR below 1, NSTART 0). */
  rc_session_config_default(&cfg, RC_FRAMING_UDP, RC_SESSION_CLIENT);
  cfg.udp.ack_random_factor = 999;
  assert_int_equal(rc_session_new(&s, &cfg, &h_callbacks, NULL, NULL, 0),
                   RC_ERR_INVAL);
  rc_session_config_default(&cfg, RC_FRAMING_UDP, RC_SESSION_CLIENT);
  cfg.udp.nstart = 0;
  assert_int_equal(rc_session_new(&s, &cfg, &h_callbacks, NULL, NULL, 0),
                   RC_ERR_INVAL);
  rc_session_callbacks cb = {0};
  rc_session_config_default(&cfg, RC_FRAMING_TCP, RC_SESSION_CLIENT);
  assert_int_equal(rc_session_new(&s, &cfg, &cb, NULL, NULL, 0),
                   RC_ERR_INVAL);
}

/* Before the peer's CSM: base Max-Message-Size 1152, no BERT; a request
 * over 1152 bytes is refused, then allowed once the CSM raises it. */
static void csm_base_values_until_peer_csm(void **state) {
  (void)state;
  harness *h = h_new(RC_FRAMING_TCP, RC_SESSION_CLIENT, 0);
  assert_int_equal(rc_session_peer_max_msg_size(h->s), 1152);
  assert_false(rc_session_peer_bert(h->s));
  assert_false(rc_session_peer_csm_received(h->s));
  assert_int_equal(rc_session_peer_max_token_len(h->s), 8);

  static uint8_t body[1200];
  rc_enc e;
  assert_int_equal(rc_session_msg_begin(h->s, &e, RC_POST, (uint8_t *)"t", 1,
                                        sizeof(body)),
                   RC_OK);
  rc_enc_payload(&e, body, sizeof(body));
  assert_int_equal(rc_session_msg_end(h->s, &e), RC_ERR_PEER_TOO_LARGE);
  h_drain(h);
  assert_int_equal(h_out_count(h), 1); /* only the CSM */

  /* a request that fits may go before the peer's CSM (RFC 8323 §3.3) */
  assert_int_equal(rc_session_msg_begin(h->s, &e, RC_GET, (uint8_t *)"a", 1,
                                        0),
                   RC_OK);
  assert_int_equal(rc_session_msg_end(h->s, &e), RC_OK);

  h_handshake(h, 5);
  assert_int_equal(h->n_csm, 1);
  assert_true(rc_session_peer_bert(h->s));
  assert_int_equal(rc_session_peer_max_msg_size(h->s),
                   RC_SESSION_DEFAULT_MAX_MSG);
  assert_int_equal(rc_session_msg_begin(h->s, &e, RC_POST, (uint8_t *)"t", 1,
                                        sizeof(body)),
                   RC_OK);
  rc_enc_payload(&e, body, sizeof(body));
  assert_int_equal(rc_session_msg_end(h->s, &e), RC_OK);
  assert_int_equal(h_out_count(h), 3);
  rc_msg m;
  h_out_msg(h, 2, &m);
  assert_int_equal(m.code, RC_POST);
  assert_int_equal(m.payload_len, sizeof(body));
  h_free(h);
}

static void check_abort_out(harness *h, int want_bad, uint32_t bad) {
  rc_msg m;
  size_t n = h_out_count(h);
  assert_true(n >= 2);
  h_out_msg(h, n - 1, &m);
  assert_int_equal(m.code, RC_SIG_ABORT);
  assert_true(m.payload_len > 0); /* diagnostic payload */
  uint32_t v;
  assert_int_equal(h_opt_uint(&m, RC_SIGOPT_BAD_CSM_OPTION, &v), want_bad);
  if (want_bad)
    assert_int_equal(v, bad);
}

/* RFC 8323 §3.3: a missing CSM (another message first) -> Abort. */
static void csm_missing_aborts(void **state) {
  (void)state;
  static const uint8_t get[] = {0x01, 0x01, 0x42}; /* GET, token 0x42 */
  harness *h = h_new(RC_FRAMING_TCP, RC_SESSION_SERVER, 0);
  assert_int_equal(h_feed(h, get, sizeof(get), 1), RC_OK);
  assert_int_equal(h->n_msg, 0);
  assert_int_equal(h->n_closed, 1);
  assert_int_equal(h->closed_reason, RC_ERR_BAD_CSM);
  assert_int_equal(rc_session_get_state(h->s), RC_SESSION_CLOSED);
  check_abort_out(h, 0, 0);
  /* nothing more after the Abort */
  assert_int_equal(h_feed(h, get, sizeof(get), 2), RC_ERR_CLOSED);
  rc_enc e;
  assert_int_equal(rc_session_msg_begin(h->s, &e, RC_CONTENT, NULL, 0, 0),
                   RC_ERR_CLOSED);
  assert_int_equal(rc_session_ping(h->s, 0, 2, NULL), RC_ERR_CLOSED);
  assert_false(rc_session_want_read(h->s));
  assert_int_equal(rc_session_expiry(h->s), RC_TIME_NEVER);
  /* an Empty message first is a missing CSM as well */
  h_free(h);
  static const uint8_t empty[] = {0x00, 0x00};
  h = h_new(RC_FRAMING_TCP, RC_SESSION_SERVER, 0);
  h_feed(h, empty, sizeof(empty), 1);
  assert_int_equal(h->closed_reason, RC_ERR_BAD_CSM);
  h_free(h);
}

/* RFC 8323 §5.3: unknown critical option -> Abort with Bad-CSM-Option. */
static void csm_unknown_critical_aborts(void **state) {
  (void)state;
  uint8_t b[64];
  h_opt o[2] = {{RC_SIGOPT_MAX_MESSAGE_SIZE, "\x08\x00", 2}, {9, "x", 1}};
  size_t n = h_mk(b, sizeof(b), RC_FRAMING_TCP, RC_SIG_CSM, NULL, 0, o, 2,
                  NULL, 0);
  harness *h = h_new(RC_FRAMING_TCP, RC_SESSION_SERVER, 0);
  assert_int_equal(h_feed(h, b, n, 1), RC_OK);
  assert_int_equal(h->n_csm, 0);
  assert_int_equal(h->closed_reason, RC_ERR_BAD_CSM);
  check_abort_out(h, 1, 9);
  /* the rejected CSM's settings were not applied */
  assert_int_equal(rc_session_peer_max_msg_size(h->s), 1152);
  h_free(h);
}

/* Unknown elective options (even numbers) are ignored; a length outside
 * the known option's range counts as unrecognized (RFC 7252 §5.4.3). */
static void csm_unknown_elective_ignored(void **state) {
  (void)state;
  uint8_t b[64];
  h_opt o[4] = {{RC_SIGOPT_MAX_MESSAGE_SIZE, "\x10\x00", 2},
                {RC_SIGOPT_BLOCK_WISE_TRANSFER, NULL, 0},
                {10, "abc", 3},
                {200, "x", 1}};
  size_t n = h_mk(b, sizeof(b), RC_FRAMING_TCP, RC_SIG_CSM, NULL, 0, o, 4,
                  NULL, 0);
  harness *h = h_new(RC_FRAMING_TCP, RC_SESSION_SERVER, 0);
  assert_int_equal(h_feed(h, b, n, 1), RC_OK);
  assert_int_equal(h->n_csm, 1);
  assert_int_equal(h->n_closed, 0);
  assert_int_equal(rc_session_peer_max_msg_size(h->s), 4096);
  assert_true(rc_session_peer_bert(h->s));
  /* Max-Message-Size 5 bytes long: ignored, the value stays */
  h_opt bad[1] = {{RC_SIGOPT_MAX_MESSAGE_SIZE, "\x01\x00\x00\x00\x00", 5}};
  n = h_mk(b, sizeof(b), RC_FRAMING_TCP, RC_SIG_CSM, NULL, 0, bad, 1, NULL, 0);
  assert_int_equal(h_feed(h, b, n, 2), RC_OK);
  assert_int_equal(h->n_closed, 0);
  assert_int_equal(rc_session_peer_max_msg_size(h->s), 4096);
  h_free(h);
}

/* RFC 8323 §5.3: later CSMs are cumulative; BERT follows Max-Message-Size
 * (§5.3.2). */
static void csm_later_updates(void **state) {
  (void)state;
  uint8_t b[64];
  harness *h = h_new(RC_FRAMING_TCP, RC_SESSION_CLIENT, 0);
  size_t n = h_peer_csm(b, sizeof(b), RC_FRAMING_TCP, 1152, 1);
  h_feed(h, b, n, 1);
  assert_true(rc_session_peer_block_wise(h->s));
  assert_false(rc_session_peer_bert(h->s));
  /* Max-Message-Size only: Block-Wise-Transfer stays announced */
  n = h_peer_csm(b, sizeof(b), RC_FRAMING_TCP, 5000, 0);
  h_feed(h, b, n, 2);
  assert_int_equal(rc_session_peer_max_msg_size(h->s), 5000);
  assert_true(rc_session_peer_bert(h->s));
  /* an empty CSM is a no-op */
  static const uint8_t empty_csm[] = {0x00, 0xe1};
  h_feed(h, empty_csm, 2, 3);
  assert_int_equal(rc_session_peer_max_msg_size(h->s), 5000);
  n = h_peer_csm(b, sizeof(b), RC_FRAMING_TCP, 1000, 0);
  h_feed(h, b, n, 4);
  assert_false(rc_session_peer_bert(h->s));
  assert_int_equal(rc_session_peer_max_msg_size(h->s), 1000);
  /* Extended-Token-Length raises the token limit for our requests */
  h_opt o[1] = {{RC_SIGOPT_EXTENDED_TOKEN_LENGTH, "\x20", 1}};
  n = h_mk(b, sizeof(b), RC_FRAMING_TCP, RC_SIG_CSM, NULL, 0, o, 1, NULL, 0);
  rc_enc e;
  uint8_t tok[20] = {1};
  assert_int_equal(rc_session_msg_begin(h->s, &e, RC_GET, tok, 20, 0),
                   RC_ERR_TOKEN_TOO_LONG);
  h_feed(h, b, n, 5);
  assert_int_equal(rc_session_peer_max_token_len(h->s), 32);
  assert_int_equal(rc_session_msg_begin(h->s, &e, RC_GET, tok, 20, 0), RC_OK);
  assert_int_equal(rc_session_msg_end(h->s, &e), RC_OK);
  assert_int_equal(h->n_csm, 5);
  assert_int_equal(h->n_closed, 0);
  h_free(h);
}

/* No CSM within csm_timeout -> Abort, closed BAD_CSM. */
static void csm_timeout(void **state) {
  (void)state;
  harness *h = h_new(RC_FRAMING_TCP, RC_SESSION_SERVER, 1000);
  assert_int_equal(rc_session_expiry(h->s),
                   1000 + RC_SESSION_DEFAULT_CSM_TIMEOUT);
  assert_int_equal(rc_session_handle_expiry(h->s, 1000 + 9999), RC_OK);
  assert_int_equal(h->n_closed, 0);
  assert_int_equal(rc_session_handle_expiry(h->s, 1000 + 10000), RC_OK);
  assert_int_equal(h->n_closed, 1);
  assert_int_equal(h->closed_reason, RC_ERR_BAD_CSM);
  check_abort_out(h, 0, 0);
  h_free(h);

  /* in time: no deadline left */
  h = h_new(RC_FRAMING_TCP, RC_SESSION_SERVER, 0);
  h_handshake(h, 9999);
  assert_int_equal(rc_session_expiry(h->s), RC_TIME_NEVER);
  h_free(h);
}

/* The same sequence of messages, split at every byte boundary and fed one
 * byte at a time, gives the same events. */
static size_t build_stream(uint8_t *b, size_t cap) {
  size_t n = h_peer_csm(b, cap, RC_FRAMING_TCP, 100000, 1);
  static const uint8_t ping[] = {0x01, 0xe2, 0x42};
  memcpy(b + n, ping, sizeof(ping));
  n += sizeof(ping);
  h_opt path[1] = {{RC_OPT_URI_PATH, "time", 4}};
  n += h_mk(b + n, cap - n, RC_FRAMING_TCP, RC_GET, "ab", 2, path, 1, NULL, 0);
  static uint8_t big[700];
  memset(big, 'x', sizeof(big));
  n += h_mk(b + n, cap - n, RC_FRAMING_TCP, RC_POST, "c", 1, path, 1, big,
            sizeof(big)); /* 2-byte extended length */
  static uint8_t huge[70000];
  n += h_mk(b + n, cap - n, RC_FRAMING_TCP, RC_PUT, "d", 1, NULL, 0, huge,
            sizeof(huge)); /* 4-byte extended length */
  b[n++] = 0x00; /* Empty */
  b[n++] = 0x00;
  n += h_mk(b + n, cap - n, RC_FRAMING_TCP, RC_CONTENT, "e", 1, NULL, 0, "y",
            1);
  return n;
}

static void check_stream_events(harness *h) {
  assert_int_equal(h->n_closed, 0);
  assert_int_equal(h->n_csm, 1);
  assert_int_equal(h->n_msg, 4);
  assert_int_equal(h->codes[0], RC_GET);
  assert_int_equal(h->codes[1], RC_POST);
  assert_int_equal(h->codes[2], RC_PUT);
  assert_int_equal(h->codes[3], RC_CONTENT);
  assert_int_equal(h->last_payload_len, 1);
  assert_int_equal(h_last_out_code(h), RC_SIG_PONG);
}

static void stream_split_everywhere(void **state) {
  (void)state;
  size_t cap = 80000;
  uint8_t *b = malloc(cap);
  size_t n = build_stream(b, cap);
  /* every split point in the small messages, every 97th in the huge one */
  for (size_t cut = 0; cut <= n; cut += (cut > 800 && cut < n - 40) ? 97 : 1) {
    harness *h = h_new(RC_FRAMING_TCP, RC_SESSION_SERVER, 0);
    assert_int_equal(h_feed(h, b, cut, 1), RC_OK);
    assert_int_equal(h_feed(h, b + cut, n - cut, 1), RC_OK);
    check_stream_events(h);
    h_free(h);
  }
  harness *h = h_new(RC_FRAMING_TCP, RC_SESSION_SERVER, 0);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(h_feed(h, b + i, 1, 1), RC_OK);
  check_stream_events(h);
  h_free(h);
  free(b);
}

/* RFC 8323 §4.2: "The Length (Len) field MUST be set to zero". */
static void ws_len_nonzero_aborts(void **state) {
  (void)state;
  harness *h = h_new(RC_FRAMING_WS, RC_SESSION_SERVER, 0);
  h_handshake(h, 1);
  static const uint8_t bad[] = {0x11, 0x01, 0x42, 0xff}; /* Len 1 */
  assert_int_equal(h_feed(h, bad, sizeof(bad), 2), RC_OK);
  assert_int_equal(h->closed_reason, RC_ERR_PROTOCOL);
  assert_int_equal(h->n_msg, 0);
  rc_msg m;
  size_t n = h_out_count(h);
  h_out_msg(h, n - 1, &m);
  assert_int_equal(m.code, RC_SIG_ABORT);
  assert_non_null(strstr((const char *)m.payload, "LEN_NIBBLE"));
  h_free(h);
}

/* RFC 8323 §4.2: every message has at least the 2-byte header (and its
 * token). An empty WebSocket message, one byte, or a header promising a
 * token that is not there: Abort "malformed message: RC_ERR_TRUNCATED", closed,
 * nothing delivered (a regression: the empty one used to be refused with
 * RC_ERR_INVAL and the connection hung). */
static void ws_short_messages_abort(void **state) {
  (void)state;
  static const uint8_t one[] = {0x00};
  static const uint8_t no_token[] = {0x02, 0x01, 0xaa}; /* TKL 2, 1 byte */
  const struct {
    const uint8_t *b;
    size_t n;
  } cases[] = {{NULL, 0}, {one, 0}, {one, 1}, {no_token, 3}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    harness *h = h_new(RC_FRAMING_WS, RC_SESSION_SERVER, 0);
    h_handshake(h, 1);
    size_t before = h_out_count(h);
    assert_int_equal(h_feed(h, cases[i].b, cases[i].n, 2), RC_OK);
    assert_int_equal(h->closed_reason, RC_ERR_PROTOCOL);
    assert_int_equal(rc_session_get_state(h->s), RC_SESSION_CLOSED);
    assert_int_equal(h->n_msg, 0);
    size_t n = h_out_count(h);
    assert_int_equal(n, before + 1);
    rc_msg m;
    h_out_msg(h, n - 1, &m);
    assert_int_equal(m.code, RC_SIG_ABORT);
    assert_int_equal(m.payload_len, strlen("malformed message: RC_ERR_TRUNCATED"));
    assert_memory_equal(m.payload, "malformed message: RC_ERR_TRUNCATED",
                        m.payload_len);
    h_free(h);
  }
}

/* Message mode: one message per recv, one message per pending(). */
static void ws_messages(void **state) {
  (void)state;
  harness *h = h_new(RC_FRAMING_WS, RC_SESSION_SERVER, 0);
  h->reply_in_cb = 1;
  h_handshake(h, 1);
  uint8_t b[64];
  for (int i = 0; i < 3; i++) {
    uint8_t t = (uint8_t)i;
    size_t n = h_mk(b, sizeof(b), RC_FRAMING_WS, RC_GET, &t, 1, NULL, 0,
                    NULL, 0);
    assert_int_equal(h_feed(h, b, n, 2), RC_OK);
  }
  assert_int_equal(h->n_msg, 3);
  /* the three replies queued: each comes out alone */
  const uint8_t *p;
  size_t len;
  assert_int_equal(rc_session_pending(h->s, &p, &len), RC_OK);
  assert_int_equal(len, 7); /* our CSM */
  assert_int_equal(rc_session_consume(h->s, 3), RC_ERR_INVAL);
  h_drain(h);
  assert_int_equal(h->n_out_msgs, 4);
  size_t off = h->msg_len[0];
  for (size_t i = 1; i < 4; i++) {
    rc_msg m;
    assert_int_equal(h->out[off] >> 4, 0); /* Len = 0 */
    off += h->msg_len[i];
    h_out_msg(h, i, &m);
    assert_int_equal(m.code, RC_CONTENT);
    assert_int_equal(m.token[0], i - 1);
  }
  h_free(h);
}

/* Reserved classes 1 and 6 are format errors -> Abort; unknown signaling
 * codes are ignored. */
static void reserved_and_unknown_codes(void **state) {
  (void)state;
  harness *h = h_new(RC_FRAMING_TCP, RC_SESSION_SERVER, 0);
  h_handshake(h, 1);
  static const uint8_t sig9[] = {0x00, 0xe9};
  h_feed(h, sig9, 2, 2);
  assert_int_equal(h->n_closed, 0);
  static const uint8_t cls6[] = {0x00, 0xc1};
  h_feed(h, cls6, 2, 2);
  assert_int_equal(h->closed_reason, RC_ERR_PROTOCOL);
  check_abort_out(h, 0, 0);
  h_free(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(csm_is_first_output),
      cmocka_unit_test(trace_switched_on_late),
      cmocka_unit_test(trace_late_sees_fast_paths),
      cmocka_unit_test(csm_extended_token_announced),
      cmocka_unit_test(csm_bad_config),
      cmocka_unit_test(csm_base_values_until_peer_csm),
      cmocka_unit_test(csm_missing_aborts),
      cmocka_unit_test(csm_unknown_critical_aborts),
      cmocka_unit_test(csm_unknown_elective_ignored),
      cmocka_unit_test(csm_later_updates),
      cmocka_unit_test(csm_timeout),
      cmocka_unit_test(stream_split_everywhere),
      cmocka_unit_test(ws_len_nonzero_aborts),
      cmocka_unit_test(ws_short_messages_abort),
      cmocka_unit_test(ws_messages),
      cmocka_unit_test(reserved_and_unknown_codes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
