/*
 * Shared harness for the session tests: a session whose callbacks record
 * what happened, helpers that build frames with the codec's encoder, and a
 * drain that collects the session's output and parses it back into
 * messages. Included by each tests/unit/test_session_*.c (header only, so
 * every test stays one executable).
 */
#ifndef TEST_SESSION_HARNESS_H
#define TEST_SESSION_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcoap/codec_frame.h"
#include "rcoap/codec_option.h"
#include "rcoap/session.h"

#define H_OUT_CAP (1u << 20)
#define H_MAX_OUT_MSGS 256

typedef struct harness {
  rc_session *s;
  rc_session_config cfg;
  /* on_message */
  int n_msg;
  uint8_t codes[64];
  uint8_t last_token[16];
  size_t last_tkl;
  size_t last_payload_len;
  /* respond from inside on_message (to requests): 1 = 2.05 "ok" */
  int reply_in_cb;
  int fail_cb;
  /* signals */
  int n_csm;
  int n_pong;
  uint32_t pong_id;
  rc_time pong_rtt;
  int pong_custody;
  int n_release;
  size_t n_alt;
  char alt[RC_SESSION_ALT_MAX][64];
  uint32_t hold_off;
  char rdiag[140];
  int n_abort;
  int abort_has_bad;
  uint32_t abort_bad;
  char adiag[140];
  int n_closed;
  rc_err closed_reason;
  int custody;
  int n_custody_asked;
  /* drained output */
  uint8_t *out;
  size_t out_len;
  size_t msg_len[H_MAX_OUT_MSGS]; /* message mode: lengths in order */
  size_t n_out_msgs;
} harness;

static inline int h_on_message(void *user, const rc_msg *m) {
  harness *h = user;
  if (h->n_msg < 64)
    h->codes[h->n_msg] = m->code;
  h->n_msg++;
  h->last_tkl = m->token_len < 16 ? m->token_len : 16;
  if (m->token_len)
    memcpy(h->last_token, m->token, h->last_tkl);
  h->last_payload_len = m->payload_len;
  if (h->fail_cb)
    return -1;
  if (h->reply_in_cb && rc_code_is_request(m->code)) {
    rc_enc e;
    if (rc_session_msg_begin(h->s, &e, RC_CONTENT, m->token, m->token_len,
                             2) == RC_OK) {
      rc_enc_opt_uint(&e, RC_OPT_CONTENT_FORMAT, 0);
      rc_enc_payload(&e, "ok", 2);
      assert_int_equal(rc_session_msg_end(h->s, &e), RC_OK);
    }
  }
  return 0;
}
static inline void h_on_csm(void *user) { ((harness *)user)->n_csm++; }
static inline void h_on_pong(void *user, uint32_t id, rc_time rtt, int custody) {
  harness *h = user;
  h->n_pong++;
  h->pong_id = id;
  h->pong_rtt = rtt;
  h->pong_custody = custody;
}
static inline void h_on_release(void *user, const rc_session_release_info *i) {
  harness *h = user;
  h->n_release++;
  h->n_alt = i->n_alt;
  for (size_t k = 0; k < i->n_alt; k++)
    snprintf(h->alt[k], sizeof(h->alt[k]), "%.*s", (int)i->alt_len[k],
             i->alt[k]);
  h->hold_off = i->hold_off_s;
  snprintf(h->rdiag, sizeof(h->rdiag), "%.*s", (int)i->diag_len,
           i->diag ? i->diag : "");
}
static inline void h_on_abort(void *user, const rc_session_abort_info *i) {
  harness *h = user;
  h->n_abort++;
  h->abort_has_bad = i->has_bad_csm_option;
  h->abort_bad = i->bad_csm_option;
  snprintf(h->adiag, sizeof(h->adiag), "%.*s", (int)i->diag_len,
           i->diag ? i->diag : "");
}
static inline void h_on_closed(void *user, rc_err reason) {
  harness *h = user;
  h->n_closed++;
  h->closed_reason = reason;
}
static inline int h_custody_ready(void *user) {
  harness *h = user;
  h->n_custody_asked++;
  return h->custody;
}

__attribute__((unused)) static const rc_session_callbacks h_callbacks = {
    .on_message = h_on_message,
    .on_csm = h_on_csm,
    .on_pong = h_on_pong,
    .on_release = h_on_release,
    .on_abort = h_on_abort,
    .on_closed = h_on_closed,
    .custody_ready = h_custody_ready};

static inline void h_init_cfg(harness *h, rc_framing f, rc_session_role role) {
  memset(h, 0, sizeof(*h));
  rc_session_config_default(&h->cfg, f, role);
}

static inline void h_start(harness *h, rc_time now) {
  h->out = malloc(H_OUT_CAP);
  assert_non_null(h->out);
  assert_int_equal(rc_session_new(&h->s, &h->cfg, &h_callbacks, h, NULL, now),
                   RC_OK);
}

static inline harness *h_new(rc_framing f, rc_session_role role, rc_time now) {
  harness *h = malloc(sizeof(*h));
  assert_non_null(h);
  h_init_cfg(h, f, role);
  h_start(h, now);
  return h;
}

static inline void h_free(harness *h) {
  rc_session_free(h->s);
  free(h->out);
  free(h);
}

/* Drains all pending output into h->out. */
static inline void h_drain(harness *h) {
  const uint8_t *p;
  size_t n;
  for (int guard = 0; guard < 100000; guard++) {
    if (rc_session_pending(h->s, &p, &n) != RC_OK)
      return;
    assert_true(h->out_len + n <= H_OUT_CAP);
    memcpy(h->out + h->out_len, p, n);
    h->out_len += n;
    if (rc_session_framing(h->s) == RC_FRAMING_WS) {
      assert_true(h->n_out_msgs < H_MAX_OUT_MSGS);
      h->msg_len[h->n_out_msgs++] = n;
    }
    assert_int_equal(rc_session_consume(h->s, n), RC_OK);
  }
  fail_msg("drain did not end");
}

/* Drains and then parses the idx-th message of all output so far. */
static inline int h_out_msg(harness *h, size_t idx, rc_msg *m) {
  h_drain(h);
  size_t off = 0;
  for (size_t i = 0;; i++) {
    size_t len;
    if (rc_session_framing(h->s) == RC_FRAMING_WS) {
      if (i >= h->n_out_msgs)
        return 0;
      len = h->msg_len[i];
    } else {
      if (off >= h->out_len)
        return 0;
      rc_tcp_hdr hdr;
      rc_ssize hl = rc_tcp_hdr_parse(h->out + off, h->out_len - off, &hdr);
      assert_true(hl > 0);
      len = (size_t)hl + hdr.token_len + (size_t)hdr.body_len;
      assert_true(off + len <= h->out_len);
    }
    if (i == idx) {
      assert_int_equal(rc_msg_parse(rc_session_framing(h->s), h->out + off,
                                    len, m),
                       RC_OK);
      return 1;
    }
    off += len;
  }
}

/* Number of messages drained so far. */
static inline size_t h_out_count(harness *h) {
  rc_msg m;
  size_t n = 0;
  while (h_out_msg(h, n, &m))
    n++;
  return n;
}

/* Code of the last message sent by the session (0xff if none). */
static inline uint8_t h_last_out_code(harness *h) {
  size_t n = h_out_count(h);
  rc_msg m;
  if (n == 0)
    return 0xff;
  h_out_msg(h, n - 1, &m);
  return m.code;
}

/* Builds a message into buf; returns its length. opts in ascending order. */
typedef struct h_opt {
  uint16_t num;
  const void *val;
  size_t len;
} h_opt;

static inline size_t h_mk(uint8_t *buf, size_t cap, rc_framing f, uint8_t code,
                   const void *tok, size_t tkl, const h_opt *opts,
                   size_t nopts, const void *payload, size_t plen) {
  uint8_t *tmp = malloc(cap + RC_ENC_HEADROOM);
  assert_non_null(tmp);
  rc_enc e;
  rc_enc_init(&e, tmp, cap + RC_ENC_HEADROOM, code, tok, tkl);
  for (size_t i = 0; i < nopts; i++)
    assert_int_equal(rc_enc_opt(&e, opts[i].num, opts[i].val, opts[i].len),
                     RC_OK);
  if (plen)
    assert_int_equal(rc_enc_payload(&e, payload, plen), RC_OK);
  const uint8_t *fr;
  size_t n;
  assert_int_equal(rc_enc_finish(&e, f, 0, 0, &fr, &n), RC_OK);
  assert_true(n <= cap);
  memmove(buf, fr, n);
  free(tmp);
  return n;
}

/* Feeds a message built by h_mk. */
static inline rc_err h_feed(harness *h, const uint8_t *b, size_t n, rc_time now) {
  return rc_session_recv(h->s, b, n, now);
}

/* The peer's CSM with a given Max-Message-Size and Block-Wise-Transfer. */
static inline size_t h_peer_csm(uint8_t *buf, size_t cap, rc_framing f,
                         uint32_t mms, int bwt) {
  uint8_t v[4];
  size_t vl = rc_opt_uint_encode(mms, v);
  h_opt o[2] = {{RC_SIGOPT_MAX_MESSAGE_SIZE, v, vl},
                {RC_SIGOPT_BLOCK_WISE_TRANSFER, NULL, 0}};
  return h_mk(buf, cap, f, RC_SIG_CSM, NULL, 0, o, bwt ? 2 : 1, NULL, 0);
}

/* Starts a harness and completes the CSM exchange (peer MMS 8 MiB+256,
 * BERT). The harness output holds our CSM. */
static inline void h_handshake(harness *h, rc_time now) {
  uint8_t b[32];
  size_t n = h_peer_csm(b, sizeof(b), h->cfg.framing,
                        RC_SESSION_DEFAULT_MAX_MSG, 1);
  assert_int_equal(h_feed(h, b, n, now), RC_OK);
  assert_int_equal(rc_session_get_state(h->s), RC_SESSION_OPEN);
}

/* Finds the first option num in m; returns 1 and its uint value. */
static inline int h_opt_uint(const rc_msg *m, uint16_t num, uint32_t *v) {
  rc_opt o;
  if (!rc_msg_find_opt(m, num, &o))
    return 0;
  assert_int_equal(rc_opt_uint(&o, v), RC_OK);
  return 1;
}

#endif
