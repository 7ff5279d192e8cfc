/*
 * Fuzz target: the exchange layer's client state machines (Block2
 * following and reassembly, downloads into a sink, Block1 uploads from
 * memory and from a source, BERT, observe with notifications and
 * re-registration, timeouts, cancellation from inside callbacks) behind a
 * client session in stream mode. The fuzzer plays the server: its
 * responses are built here around the tokens our requests really carry
 * (they are random), so it reaches the state machines instead of
 * guessing tokens.
 *
 * Input: byte 0 picks the server's CSM (bit 0 Block-Wise-Transfer, bit 1
 * Max-Message-Size 8192 instead of 1152) and the requests' options (bit 2
 * no BERT, bit 3 small blocks, bit 4 Q-Block, RFC 9177: sets, 4.08
 * missing-blocks payloads, Q-Block2 in any order). Then records of
 *   [ctl] [code] [len, 2 bytes] [len bytes: options and payload, as on the
 * wire; len at most 4096]
 * ctl bits 0-2 pick one of the last 8 request tokens; bit 3 jumps the
 * clock (timeouts); bit 4 cancels a request; bit 5 cancels the
 * observation; bit 6 starts another request; bit 7 feeds the len bytes
 * raw (no framing) instead. Must never crash, leak or hang.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_peer.h"
#include "rcoap/exchange.h"

#define XC_TOKENS 8
#define XC_REQS 8
#define XC_UP 7000u
#define XC_REC_MAX 4096u

typedef struct xc {
  rc_session *s;
  rc_exchange *x;
  rc_time now;
  uint8_t tok[XC_TOKENS][RC_EXCHANGE_TOKEN_LEN];
  size_t ntok;      /* tokens seen so far (ring index) */
  uint64_t ids[XC_REQS];
  int live[XC_REQS];
  uint64_t obs_id;
  int observing;
  int cancel_in_cb; /* cancel the observation from its next callback */
  uint8_t opts_byte;
  int started;
} xc;

static void sink_end(void *arg, rc_err status) { (void)arg, (void)status; }

typedef struct slot {
  xc *c;
  int i;
} slot;
static slot xc_slots[XC_REQS];

static void on_response(void *arg, rc_err status, const rc_msg *resp) {
  slot *sl = arg;
  xc *c = sl->c;
  (void)resp;
  if (sl->i == 0 && c->observing) {
    /* the observation: notifications keep it alive */
    if (status != RC_OK || !resp || !rc_msg_find_opt(resp, RC_OPT_OBSERVE,
                                                     &(rc_opt){0})) {
      c->observing = 0;
      c->live[0] = 0;
      return;
    }
    if (c->cancel_in_cb) {
      c->cancel_in_cb = 0;
      rc_exchange_cancel_observe(c->x, c->obs_id, c->now);
    }
    return;
  }
  c->live[sl->i] = 0;
}

/* Starts request kind k (0 observe, 1 GET whole, 2 GET into a sink, 3 PUT
 * from memory, 4 POST from a source, 5.. small GETs) in slot k. */
static void xc_start(xc *c, int k) {
  if (c->live[k] || rc_session_get_state(c->s) == RC_SESSION_CLOSED)
    return;
  static const char *paths[XC_REQS] = {"o", "a", "b", "c", "d", "e", "f", "g"};
  rc_opt o = {RC_OPT_URI_PATH, 1, (const uint8_t *)paths[k]};
  rc_outmsg m = {RC_GET, &o, 1, NULL, 0};
  rc_exchange_req_opts ro;
  memset(&ro, 0, sizeof ro);
  ro.timeout_ms = 2000;
  ro.no_bert = (c->opts_byte >> 2) & 1;
  ro.block_szx = ((c->opts_byte >> 3) & 1) ? 1 : 0; /* SZX 0: 16 bytes */
  ro.qblock = (c->opts_byte >> 4) & 1;
  rc_body_sink sink = {fz_sink_write, sink_end, (void *)(uintptr_t)15000};
  rc_body_source src = {fz_src_read, NULL, (void *)(uintptr_t)XC_UP, XC_UP,
                        NULL};
  switch (k) {
  case 0:
    ro.observe = 1;
    break;
  case 2:
    ro.sink = &sink;
    break;
  case 3:
    m.code = RC_PUT;
    m.payload = fz_body;
    m.payload_len = 5000;
    break;
  case 4:
    m.code = RC_POST;
    ro.body = &src;
    break;
  default:
    break;
  }
  xc_slots[k].c = c;
  xc_slots[k].i = k;
  if (rc_exchange_request(c->x, &m, &ro, c->now, on_response, &xc_slots[k],
                          &c->ids[k]) == RC_OK) {
    c->live[k] = 1;
    if (k == 0) {
      c->observing = 1;
      c->obs_id = c->ids[0];
    }
  }
}

/* Records the token of every request we send (blocks and re-registrations
 * carry new ones). */
static void on_trace(void *user, int sent, const rc_msg *m) {
  xc *c = user;
  if (!sent || !rc_code_is_request(m->code) ||
      m->token_len != RC_EXCHANGE_TOKEN_LEN)
    return;
  memcpy(c->tok[c->ntok % XC_TOKENS], m->token, RC_EXCHANGE_TOKEN_LEN);
  c->ntok++;
}

static int on_message(void *user, const rc_msg *m) {
  xc *c = user;
  return rc_exchange_on_message(c->x, m, c->now) == RC_OK ? 0 : -1;
}

static void on_closed(void *user, rc_err reason) {
  xc *c = user;
  rc_exchange_fail_all(c->x, reason);
}

static void on_csm(void *user) {
  xc *c = user;
  rc_exchange_on_csm(c->x, c->now);
}

static void xc_drain(xc *c) { fz_drain(c->s, 256); }

/* The server half is not under test here: any request the fuzzer sends us
 * gets 4.04. */
static void xc_on_request(void *user, rc_exchange *x, rc_xreq *req) {
  (void)user, (void)x;
  rc_outmsg m = {RC_NOT_FOUND, NULL, 0, NULL, 0};
  rc_exchange_respond(req, &m);
}

/* A CoAP-over-TCP frame (RFC 8323 §3.2) around body with token t. */
static size_t xc_frame(uint8_t *out, uint8_t code, const uint8_t *t,
                       const uint8_t *body, size_t n) {
  size_t k = 0;
  if (n < 13) {
    out[k++] = (uint8_t)(n << 4 | RC_EXCHANGE_TOKEN_LEN);
  } else if (n < 269) {
    out[k++] = (uint8_t)(13 << 4 | RC_EXCHANGE_TOKEN_LEN);
    out[k++] = (uint8_t)(n - 13);
  } else { /* n <= XC_REC_MAX < 65805 */
    out[k++] = (uint8_t)(14 << 4 | RC_EXCHANGE_TOKEN_LEN);
    out[k++] = (uint8_t)((n - 269) >> 8);
    out[k++] = (uint8_t)(n - 269);
  }
  out[k++] = code;
  memcpy(out + k, t, RC_EXCHANGE_TOKEN_LEN);
  k += RC_EXCHANGE_TOKEN_LEN;
  memcpy(out + k, body, n);
  return k + n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  fz_body_fill();
  xc c;
  memset(&c, 0, sizeof c);
  c.opts_byte = data[0];
  rc_session_callbacks cb = {.on_message = on_message, .on_csm = on_csm,
                             .on_closed = on_closed, .on_trace = on_trace};
  rc_exchange_callbacks ex = {.on_request = xc_on_request};
  if (fz_open(RC_SESSION_CLIENT, 4096, &cb, &ex, &c, &c.s, &c.x) != 0)
    return 0;
  rc_exchange_block_config bc;
  rc_exchange_block_config_default(&bc);
  bc.body_max = 20000;
  bc.bert_max = 2048;
  bc.ttl_ms = 500;
  rc_exchange_set_block_config(c.x, &bc);

  for (int k = 0; k < 5; k++)
    xc_start(&c, k);
  uint8_t csm[8];
  rc_session_recv(c.s, csm, fz_peer_csm(data[0], csm), c.now);
  xc_drain(&c);

  static uint8_t frame[3 + 1 + RC_EXCHANGE_TOKEN_LEN + XC_REC_MAX];
  for (size_t off = 1; off + 4 <= size;) {
    uint8_t ctl = data[off], code = data[off + 1];
    size_t n = (size_t)data[off + 2] << 8 | data[off + 3];
    off += 4;
    if (n > XC_REC_MAX)
      n = XC_REC_MAX;
    if (n > size - off)
      n = size - off;
    const uint8_t *body = data + off;
    off += n;
    if (ctl & 0x80) {
      rc_session_recv(c.s, body, n, c.now);
    } else if (c.ntok) {
      size_t have = c.ntok < XC_TOKENS ? c.ntok : XC_TOKENS;
      size_t len = xc_frame(frame, code, c.tok[(ctl & 7) % have], body, n);
      rc_session_recv(c.s, frame, len, c.now);
    }
    if (ctl & 0x10) {
      int k = 1 + code % (XC_REQS - 1);
      if (c.live[k]) {
        rc_exchange_cancel(c.x, c.ids[k]);
        c.live[k] = 0;
      }
    }
    if ((ctl & 0x20) && c.observing) {
      if (code & 1) {
        c.cancel_in_cb = 1;
      } else {
        rc_exchange_cancel_observe(c.x, c.obs_id, c.now);
      }
    }
    if (ctl & 0x40)
      xc_start(&c, code % XC_REQS);
    xc_drain(&c);
    c.now += (ctl & 0x08) ? 2500 : 7;
    if (rc_exchange_expiry(c.x) <= c.now)
      rc_exchange_handle_expiry(c.x, c.now);
    if (rc_session_expiry(c.s) <= c.now)
      rc_session_handle_expiry(c.s, c.now);
    xc_drain(&c);
  }
  rc_exchange_free(c.x); /* outstanding requests fail with CANCELLED */
  rc_session_free(c.s);
  return 0;
}
