/*
 * rcoap-bench --observe on coap+tcp: one observing connection whose
 * notifications are read lean. The socket is ours (a uv_poll_t on the
 * run's loop); the library's session (rc_session) sends our CSM and the
 * registrations and takes every frame the lean path does not: the
 * registrations' answers, signals (CSM, Ping, Release, Abort), anything
 * unexpected. Per read the lean path walks the frames in the buffer; a
 * 2.05 whose 4-byte token is a registered observer's number (the token is
 * the observer's index) is checked in place: the Observe option must be
 * there and differ from the observer's last, the payload must be the
 * round's (the first notification of a round sets it; it must differ from
 * the last round's), and the observer must not have been notified in
 * this round. Every other frame goes whole to the session, whose
 * on_message counts a registration's answer or, for a registered
 * observer, an error.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "obs.h"
#include "obsnote.h"
#include "rcoap/codec_option.h"

#define OBS_TOKEN_LEN 4

static void oc_flush(obs_conn *c) {
  const uint8_t *p;
  size_t len;
  while (c->s && rc_session_pending(c->s, &p, &len) == RC_OK && len > 0) {
    ssize_t n = send(c->sock, p, len, MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR)
        continue;
      c->b->errors++; /* our small output never fills the socket */
      return;
    }
    rc_session_consume(c->s, (size_t)n);
  }
}

static obs_watcher *oc_watcher(obs_conn *c, const uint8_t *tok, size_t tl) {
  if (tl != OBS_TOKEN_LEN)
    return NULL;
  uint32_t i = ((uint32_t)tok[0] << 24) | ((uint32_t)tok[1] << 16) |
               ((uint32_t)tok[2] << 8) | tok[3];
  if (i < c->first || i >= c->first + c->n)
    return NULL;
  return &c->b->ws[i];
}

/* The library's path: a registration's answer (2.xx with Observe,
 * RFC 7641 §3.2) or, for anything else, an error. */
static int oc_on_message(void *user, const rc_msg *m) {
  obs_conn *c = user;
  obs_watcher *w = oc_watcher(c, m->token, m->token_len);
  rc_opt o;
  if (w && !w->registered && RC_CODE_CLASS(m->code) == 2 &&
      rc_msg_find_opt(m, RC_OPT_OBSERVE, &o)) {
    w->registered = 1;
    c->b->regs++;
    return 0;
  }
  c->b->errors++;
  return 0;
}

static void oc_on_closed(void *user, rc_err reason) {
  obs_conn *c = user;
  (void)reason;
  if (c->b->closing == 0)
    c->b->errors++;
}

static const rc_session_callbacks oc_cb = {.on_message = oc_on_message,
                                           .on_closed = oc_on_closed};

/* The check of one notification to a registered observer: p..end is
 * what follows the token (options, 0xFF, payload). Returns 0, or -1
 * (counted as an error by the caller). */
static int oc_note(obs_run *b, obs_watcher *w, const uint8_t *p,
                   const uint8_t *end) {
  obs_note n;
  if (obs_note_parse(p, end, &n) != 0)
    return -1;
  return obs_check(b, w, n.have_obs, n.seq, n.pl, n.plen);
}

int obs_check(obs_run *b, obs_watcher *w, int have_obs, uint32_t seq,
              const uint8_t *pl, size_t plen) {
  if (!have_obs || (w->notes && seq == w->seq))
    return -1; /* not a notification, or one seen before */
  if (plen > sizeof b->val)
    return -1;
  if (plen == 0)
    pl = b->val; /* no payload (pl may be NULL): compare no bytes */
  if (!b->val_set) {
    if (b->prev_set && plen == b->prev_len && memcmp(pl, b->prev, plen) == 0)
      return -1; /* the last round's value */
    memcpy(b->val, pl, plen);
    b->val_len = plen;
    b->val_set = 1;
  } else if (plen != b->val_len || memcmp(pl, b->val, plen) != 0) {
    return -1; /* not this round's value */
  }
  if (w->round == b->round)
    return -1; /* a second notification in one round */
  w->round = b->round;
  w->seq = seq;
  w->notes++;
  b->notes++;
  return 0;
}

/* Walks the complete frames of buf[0..len): returns the bytes used (a
 * partial frame stays for the next read) or -1 (the session failed). */
static rc_ssize oc_walk(obs_conn *c, const uint8_t *buf, size_t len) {
  size_t at = 0;
  while (at < len) {
    const uint8_t *f = buf + at;
    size_t avail = len - at, hl = 2;
    unsigned ln = f[0] >> 4, tkl = f[0] & 15;
    size_t body = ln;
    if (ln >= 13) {
      size_t k = ln == 13 ? 1 : ln == 14 ? 2 : 4;
      hl += k;
      if (avail < hl)
        break;
      if (ln == 13)
        body = 13u + f[1];
      else if (ln == 14)
        body = 269u + ((size_t)f[1] << 8 | f[2]);
      else
        body = 65805u + ((size_t)f[1] << 24 | (size_t)f[2] << 16 |
                         (size_t)f[3] << 8 | f[4]);
    }
    /* RFC 8323 §3.2 frame: Len, TKL, [Extended Length], Code, Token,
     * options and payload (Len counts those last two). */
    if (tkl > 8 || body > BENCH_MAX_MSG)
      return -1; /* extended token or larger than we announced: not ours */
    if (avail < hl + tkl + body)
      break;
    size_t flen = hl + tkl + body;
    obs_watcher *w = NULL;
    if (f[hl - 1] == RC_CONTENT)
      w = oc_watcher(c, f + hl, tkl);
    if (w && w->registered) {
      if (oc_note(c->b, w, f + hl + tkl, f + flen) != 0)
        c->b->errors++;
    } else {
      if (rc_session_recv(c->s, f, flen, ms_of(now_ns())) != RC_OK)
        return -1;
    }
    at += flen;
  }
  return (rc_ssize)at;
}

static void oc_close(obs_conn *c) {
  if (c->fd >= 0) {
    uv_poll_stop(&c->poll);
    uv_close((uv_handle_t *)&c->poll, NULL);
    c->fd = -1;
  }
}

static void oc_on_readable(uv_poll_t *h, int status, int events) {
  obs_conn *c = h->data;
  (void)events;
  if (status < 0) {
    c->b->errors++;
    oc_close(c);
    return;
  }
  obs_run *b = c->b;
  for (int turn = 0; turn < 64; turn++) {
    size_t carry = c->carry_len;
    if (carry)
      memcpy(b->rbuf, c->carry, carry);
    ssize_t n = read(c->sock, b->rbuf + carry, sizeof b->rbuf - carry);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break;
    if (n <= 0) {
      if (b->closing == 0)
        b->errors++; /* the server closed on us */
      oc_close(c);
      return;
    }
    size_t len = carry + (size_t)n;
    rc_ssize used = oc_walk(c, b->rbuf, len);
    if (used < 0) {
      b->errors++;
      oc_close(c);
      return;
    }
    size_t rest = len - (size_t)used;
    if (rest > c->carry_cap) {
      uint8_t *nb = realloc(c->carry, rest);
      if (!nb) {
        b->errors++;
        oc_close(c);
        return;
      }
      c->carry = nb;
      c->carry_cap = rest;
    }
    if (rest)
      memmove(c->carry, b->rbuf + used, rest);
    c->carry_len = rest;
    if ((size_t)n < sizeof b->rbuf - carry)
      break; /* the socket is drained */
  }
  oc_flush(c);
}

int obs_conn_open(obs_conn *c, obs_run *b, const bench_cfg *cfg,
                  uint32_t first, uint32_t n) {
  memset(c, 0, sizeof *c);
  c->b = b;
  c->first = first;
  c->n = n;
  c->fd = -1;
  c->sock = socket(cfg->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->sock < 0)
    return -1;
  int one = 1;
  setsockopt(c->sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c->sock, (const struct sockaddr *)&cfg->addr, cfg->addr_len) != 0)
    return -1;
  rc_session_config sc;
  rc_session_config_default(&sc, RC_FRAMING_TCP, RC_SESSION_CLIENT);
  sc.max_msg_size = BENCH_MAX_MSG;
  sc.csm_timeout_ms = 0;
  if (rc_session_new(&c->s, &sc, &oc_cb, c, NULL, ms_of(now_ns())) != RC_OK)
    return -1;
  /* The registrations: GET with Observe 0 (RFC 7641 §3.1) and the URI's
   * options, token = the observer's number. */
  rc_uri u;
  rc_opt opts[65];
  uint8_t scratch[RC_URI_SCRATCH_MAX(sizeof cfg->uri)];
  size_t no = 0;
  if (rc_uri_parse(cfg->uri, strlen(cfg->uri), &u) != RC_OK ||
      rc_uri_to_opts(&u, RC_URI_OMIT_HOST | RC_URI_OMIT_PORT, opts, 64, &no,
                     scratch, sizeof scratch, NULL) != RC_OK)
    return -1;
  opts[no++] = (rc_opt){.num = RC_OPT_OBSERVE, .len = 0, .val = NULL};
  rc_opts_sort(opts, no);
  for (uint32_t k = 0; k < n; k++) {
    uint32_t i = first + k;
    uint8_t tok[OBS_TOKEN_LEN] = {(uint8_t)(i >> 24), (uint8_t)(i >> 16),
                                  (uint8_t)(i >> 8), (uint8_t)i};
    rc_enc e;
    if (rc_session_msg_begin(c->s, &e, RC_GET, tok, sizeof tok, 64) != RC_OK)
      return -1;
    for (size_t j = 0; j < no; j++)
      if (rc_enc_opt(&e, opts[j].num, opts[j].val, opts[j].len) != RC_OK) {
        rc_session_msg_cancel(c->s, &e);
        return -1;
      }
    if (rc_session_msg_end(c->s, &e) != RC_OK)
      return -1;
  }
  oc_flush(c);
  int fl = fcntl(c->sock, F_GETFL);
  if (fl < 0 || fcntl(c->sock, F_SETFL, fl | O_NONBLOCK) != 0)
    return -1;
  if (uv_poll_init(&b->loop, &c->poll, c->sock) != 0)
    return -1;
  c->fd = c->sock;
  c->poll.data = c;
  uv_poll_start(&c->poll, UV_READABLE, oc_on_readable);
  return 0;
}

void obs_conn_free(obs_conn *c) {
  oc_close(c);
  rc_session_free(c->s);
  c->s = NULL;
  if (c->sock >= 0)
    close(c->sock);
  c->sock = -1;
  free(c->carry);
  c->carry = NULL;
}
