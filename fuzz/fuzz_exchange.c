/*
 * Fuzz target: the exchange layer's server state machines (Block1
 * reassembly, Block2 serving and its body cache, BERT, deferred answers,
 * streaming sources, observe and notifications) behind a server session in
 * stream mode. Input byte 0 picks the peer's CSM (Block-Wise-Transfer,
 * Max-Message-Size) and the split seed; the rest is the peer's byte stream
 * of CoAP-over-TCP frames, fed in pieces while output is drained, time
 * advances (past the block TTL too) and expiries run. The handler's
 * behaviour comes from the request's first token byte (on_plain answers
 * every second plain request). Must never crash,
 * leak or hang, whatever the peer sends.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_peer.h"
#include "rcoap/exchange.h"

#define FX_DEFER_MAX 4
#define FX_BIG 5000u

typedef struct fx {
  rc_session *s;
  rc_exchange *x;
  rc_time now;
  rc_xreq *deferred[FX_DEFER_MAX];
  int ndeferred;
  uint8_t obs_tok[RC_TOKEN_MAX];
  size_t obs_tok_len;
  uint64_t obs_key;
  int observing;
  uint32_t obs_seq;
  unsigned nplain; /* on_plain calls */
} fx;


/* Answers req per sel; gives up (drops when deferred) on a second refusal. */
static void fx_answer(fx *f, rc_xreq *req, uint8_t sel, int deferred) {
  static const uint8_t etag[2] = {0xe7, 0x01};
  rc_opt opt = {RC_OPT_ETAG, sizeof etag, etag};
  rc_outmsg m = {RC_CONTENT, (sel & 8) ? &opt : NULL, (sel & 8) ? 1 : 0,
                 fz_body, 5};
  rc_err err;
  switch (sel % 4) {
  case 1: /* large: Block2 (BERT when offered) from the cache */
    m.payload_len = 1025 + (size_t)(sel >> 4) * 250;
    err = rc_exchange_respond(req, &m);
    break;
  case 2: { /* streaming source */
    rc_body_source src = {fz_src_read, NULL, (void *)(uintptr_t)FX_BIG,
                          FX_BIG, NULL};
    err = rc_exchange_respond_source(req, &m, &src);
    break;
  }
  case 3: /* a changed or empty answer */
    m.code = (sel & 16) ? RC_CHANGED : RC_NOT_FOUND;
    m.payload_len = 0;
    err = rc_exchange_respond(req, &m);
    break;
  default:
    err = rc_exchange_respond(req, &m);
    break;
  }
  if (err == RC_ERR_PEER_TOO_LARGE) {
    rc_outmsg e = {RC_INTERNAL_SERVER_ERROR, NULL, 0, NULL, 0};
    if (rc_exchange_respond(req, &e) == RC_ERR_PEER_TOO_LARGE && deferred)
      rc_xreq_drop(req);
  }
}

static void on_request(void *user, rc_exchange *x, rc_xreq *req) {
  fx *f = user;
  (void)x;
  size_t tl;
  const uint8_t *t = rc_xreq_token(req, &tl);
  uint8_t sel = tl ? t[0] : 0;
  if (rc_xreq_observe(req) == 0 && (sel & 0x40) && tl <= RC_TOKEN_MAX) {
    memcpy(f->obs_tok, t, tl);
    f->obs_tok_len = tl;
    f->obs_key = rc_xreq_key(req);
    f->observing = 1;
    rc_xreq_set_observe(req, f->obs_seq++);
  }
  if ((sel & 0x20) && f->ndeferred < FX_DEFER_MAX &&
      rc_xreq_defer(req) == RC_OK) {
    f->deferred[f->ndeferred++] = req;
    return;
  }
  fx_answer(f, req, sel, 0);
}

/* on_plain's answers: CF 0 and 5 bytes; four 300-byte Location-Paths and
 * 1000 bytes (over the peer's 2048: the request goes to on_request). */
static uint8_t fx_small[7] = {0xc0, 0xff, 'p', 'l', 'a', 'i', 'n'};
static uint8_t fx_large[4 * 303 + 1 + 1000];

static void fx_tails_fill(void) {
  size_t n = 0;
  for (int i = 0; i < 4; i++) {
    fx_large[n++] = i == 0 ? 0x8e : 0x0e; /* delta 8, then 0; length +2 */
    fx_large[n++] = 0x00;
    fx_large[n++] = 300 - 269;
    memset(fx_large + n, 'l', 300);
    n += 300;
  }
  fx_large[n] = 0xff;
  memset(fx_large + n + 1, 'b', 1000);
}

/* Every second plain request (the first, the third ...) gets a fixed
 * answer, as a static representation would: every other one of those
 * the large one (the usual way after all); the rest go to on_request. */
static const rc_msg_tail *on_plain(void *user, const rc_msg *m,
                                   uint8_t *code) {
  static const rc_msg_tail small = {fx_small, sizeof fx_small, 1};
  static const rc_msg_tail large = {fx_large, sizeof fx_large, 4 * 303};
  fx *f = user;
  unsigned k = f->nplain++;
  (void)m;
  if (k & 1)
    return NULL;
  *code = RC_CONTENT;
  return (k & 2) ? &large : &small;
}

static void on_body_start(void *user, rc_exchange *x, rc_xreq *req) {
  (void)user, (void)x;
  size_t tl;
  const uint8_t *t = rc_xreq_token(req, &tl);
  uint8_t sel = tl ? t[0] : 0;
  if (sel & 0x80)
    rc_xreq_body_limit(req, 100u + (sel & 0x0f) * 300u);
  else if (sel & 0x10) {
    rc_body_sink k = {fz_sink_write, NULL, (void *)(uintptr_t)3000};
    rc_xreq_body_sink(req, &k);
  }
}

static int on_message(void *user, const rc_msg *m) {
  fx *f = user;
  return rc_exchange_on_message(f->x, m, f->now) == RC_OK ? 0 : -1;
}

static void on_closed(void *user, rc_err reason) {
  fx *f = user;
  rc_exchange_fail_all(f->x, reason);
  f->observing = 0;
}

static void on_csm(void *user) {
  fx *f = user;
  rc_exchange_on_csm(f->x, f->now);
}

static void fx_drain(fx *f) { fz_drain(f->s, 64); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  fz_body_fill();
  fx f;
  memset(&f, 0, sizeof f);
  rc_session_callbacks cb = {.on_message = on_message, .on_csm = on_csm,
                             .on_closed = on_closed};
  rc_exchange_callbacks xcb = {.on_request = on_request,
                               .on_body_start = on_body_start,
                               .on_plain = on_plain};
  fx_tails_fill();
  /* Max-Message-Size 2048: small, so Block2 and oversize paths are hit. */
  if (fz_open(RC_SESSION_SERVER, 2048, &cb, &xcb, &f, &f.s, &f.x) != 0)
    return 0;
  rc_exchange_block_config bc;
  rc_exchange_block_config_default(&bc);
  bc.body_max = 8192;
  bc.cache_max = 16384;
  bc.bert_max = 4096;
  bc.ttl_ms = 500;
  rc_exchange_set_block_config(f.x, &bc);

  uint8_t csm[8];
  rc_session_recv(f.s, csm, fz_peer_csm(data[0], csm), f.now);
  fx_drain(&f);

  uint32_t rnd = data[0] * 2654435761u + 1;
  for (size_t off = 1; off < size;) {
    rnd = rnd * 1103515245u + 12345u;
    size_t n = 1 + (rnd >> 16) % 128;
    if (n > size - off)
      n = size - off;
    rc_session_recv(f.s, data + off, n, f.now);
    off += n;
    if (f.ndeferred && (rnd & 0x300)) { /* answer the oldest deferred */
      rc_xreq *r = f.deferred[0];
      uint8_t sel = (uint8_t)(rnd >> 8);
      memmove(f.deferred, f.deferred + 1,
              (size_t)--f.ndeferred * sizeof f.deferred[0]);
      fx_answer(&f, r, sel, 1);
    }
    if (f.observing && (rnd & 0x3000) == 0x3000 &&
        rc_session_get_state(f.s) != RC_SESSION_CLOSED) {
      rc_outmsg m = {RC_CONTENT, NULL, 0, fz_body,
                     (rnd & 0x4000) ? 3000 : 3};
      rc_exchange_notify(f.x, f.obs_tok, f.obs_tok_len, f.obs_key,
                         f.obs_seq++, &m);
    }
    fx_drain(&f);
    f.now += (rnd >> 27) == 31 ? 400 : (rnd & 31); /* rare TTL jumps */
    if (rc_exchange_expiry(f.x) <= f.now)
      rc_exchange_handle_expiry(f.x, f.now);
    if (rc_session_expiry(f.s) <= f.now)
      rc_session_handle_expiry(f.s, f.now);
  }
  for (int i = 0; i < f.ndeferred; i++) /* late answers, session or not */
    if (data[size - 1] & 1)
      fx_answer(&f, f.deferred[i], data[size - 1], 1), f.deferred[i] = NULL;
  fx_drain(&f);
  rc_exchange_free(f.x);
  for (int i = 0; i < f.ndeferred; i++)
    if (f.deferred[i])
      rc_xreq_drop(f.deferred[i]); /* orphans: dropping frees them */
  rc_session_free(f.s);
  return 0;
}
