/*
 * The device side of the coaps+wr rendezvous (wr_broker.c has the
 * protocol): an observation of the broker's /webrtc/peers/NAME is the
 * registration. rc_observe re-registers after a lost connection (back-off
 * 1 s doubling to 30 s); a refusal (4.01, 4.03: the name is still held by
 * our previous, not yet dead, connection) ends an observation, so this
 * file starts a new one after the same kind of back-off. Each
 * notification with an ETag is an offer: answered by the context's
 * coaps+wr listener and POSTed back with If-Match: that ETag.
 *
 * Through the NAT: a plain STUN Binding request goes from the coaps+wr
 * socket to the broker's coaps+wr port (--webrtc-stun) at start and every
 * STUN_REFRESH_MS (with a CoAP Ping on the registration's connection, so
 * a broker with --idle-timeout closes only dead registrations, and a NAT
 * keeps the TCP mapping), keeping the NAT's mapping and teaching the listener
 * its server-reflexive address; it then answers as a full ICE agent that
 * sends checks to the client's candidates, which opens the NAT toward the
 * client (transport_webrtc.h, rc_wr_listener_stun).
 */
#include "wr_register.h"
#include "wr_broker.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcoap/codec_option.h"
#include "rcoap/transport_tls.h"
#include "rcoap/transport_webrtc.h"

#define CF_JSON 50
#define STUN_REFRESH_MS 15000u
#define STUN_PORT_DEFAULT "3478" /* RFC 8489 §9 */
#define BACKOFF_MIN_MS 1000u
#define BACKOFF_MAX_MS 30000u
#define ETAG_MAX 8

struct wr_register {
  rc_context *ctx;
  char uri[1024];   /* with ?secret= when there is one */
  const char *shown; /* the URI as given, without the key */
  rc_observation *obs;
  rc_tls_ctx *tls;   /* toward a coaps+ broker; NULL: the context's */
  char psk[256];     /* --webrtc-register-psk-key-file's key */
  uv_timer_t retry, stun;
  unsigned backoff_ms;
  unsigned registered : 1;
  uint8_t last[ETAG_MAX]; /* the ETag answered last */
  size_t last_len;
};

__attribute__((format(printf, 1, 2))) static void note(const char *fmt,
                                                        ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "rcoapd: webrtc register: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
}

/* The broker's word on an answer: 2.04, or 4.12 when the offer had
 * timed out meanwhile (the client got 5.04). */
static void on_posted(void *arg, rc_err status, const rc_msg *resp,
                      const char *detail) {
  (void)arg;
  char code[5];
  if (status != RC_OK)
    note("answer not delivered: %s %s", rc_strerror(status), detail);
  else if (RC_CODE_CLASS(resp->code) != 2)
    note("the broker took no answer: %s %.*s", rc_code_str(resp->code, code),
         (int)resp->payload_len,
         resp->payload ? (const char *)resp->payload : "");
}

/* An offer (the notification's payload, its ETag) to the broker's
 * answer. */
static void answer(wr_register *r, const rc_msg *m, const rc_opt *etag) {
  static char buf[RC_WR_SIGNAL_MAX];
  size_t len = 0;
  rc_err err = rc_context_webrtc_answer(r->ctx, m->payload, m->payload_len,
                                        buf, sizeof buf, &len);
  uint8_t cf = CF_JSON;
  if (err != RC_OK) {
    cf = RC_CF_TEXT_PLAIN;
    len = (size_t)snprintf(buf, sizeof buf, "cannot answer the offer: %s",
                           rc_strerror(err));
  }
  rc_opt opts[2] = {{.num = RC_OPT_IF_MATCH, .val = etag->val,
                     .len = etag->len},
                    {.num = RC_OPT_CONTENT_FORMAT, .val = &cf, .len = 1}};
  rc_request_opts ro = {.opts = opts,
                        .nopts = 2,
                        .payload = (const uint8_t *)buf,
                        .payload_len = len,
                        .tls = r->tls};
  if (cf == RC_CF_TEXT_PLAIN)
    opts[1].len = 0; /* Content-Format 0: the empty uint */
  if (rc_request(r->ctx, RC_POST, r->uri, &ro, on_posted, NULL) != RC_OK)
    note("cannot send the answer to %s", r->shown);
}

static void start_observe(wr_register *r);

static void retry_cb(uv_timer_t *t) { start_observe(t->data); }

static void on_note(void *arg, rc_err status, const rc_msg *resp,
                    const char *detail) {
  wr_register *r = arg;
  if (status != RC_OK) { /* connection lost: rc_observe tries again */
    if (r->registered)
      note("lost the broker (%s%s%s), registering again",
           rc_strerror(status), detail[0] ? ": " : "", detail);
    r->registered = 0;
    return;
  }
  rc_opt ob, etag;
  if (RC_CODE_CLASS(resp->code) != 2 ||
      !rc_msg_find_opt(resp, RC_OPT_OBSERVE, &ob)) {
    char code[5], why[200];
    snprintf(why, sizeof why, "%.*s", (int)resp->payload_len,
             resp->payload ? (const char *)resp->payload : "");
    note("refused (%s %s); trying again later", rc_code_str(resp->code, code),
         why);
    r->registered = 0;
    uv_timer_start(&r->retry, retry_cb, r->backoff_ms, 0);
    if (r->backoff_ms < BACKOFF_MAX_MS)
      r->backoff_ms *= 2;
    return;
  }
  if (!r->registered) {
    note("registered at %s", r->shown);
    r->registered = 1;
    r->backoff_ms = BACKOFF_MIN_MS;
    rc_context_webrtc_stun(r->ctx, NULL);
  }
  if (!rc_msg_find_opt(resp, RC_OPT_ETAG, &etag) || etag.len == 0 ||
      etag.len > ETAG_MAX || resp->payload_len == 0)
    return; /* no offer waiting */
  if (etag.len == r->last_len && !memcmp(etag.val, r->last, etag.len))
    return; /* answered already (a repeated notification) */
  memcpy(r->last, etag.val, etag.len);
  r->last_len = etag.len;
  answer(r, resp, &etag);
}

static void start_observe(wr_register *r) {
  if (r->obs) {
    rc_observe_cancel(r->obs);
    r->obs = NULL;
  }
  rc_request_opts ro = {.tls = r->tls};
  rc_err err = rc_observe(r->ctx, r->uri, &ro, on_note, r, &r->obs);
  if (err != RC_OK) {
    note("cannot observe %s: %s", r->shown, rc_strerror(err));
    uv_timer_start(&r->retry, retry_cb, BACKOFF_MAX_MS, 0);
  }
}

static void on_pong(void *arg, rc_err status, uint64_t rtt_us, int custody,
                    const char *detail) {
  (void)arg, (void)status, (void)rtt_us, (void)custody, (void)detail;
  /* A lost connection is the observation's to notice and mend. */
}

static void stun_cb(uv_timer_t *t) {
  wr_register *r = t->data;
  rc_context_webrtc_stun(r->ctx, NULL);
  if (r->registered) {
    rc_request_opts ro = {.tls = r->tls};
    (void)rc_ping(r->ctx, r->uri, &ro, 0, on_pong, r);
  }
}

/* The TLS context toward a coaps+ broker from --webrtc-register-cert,
 * -psk-*, -cafile (none given: the context's default client, which
 * verifies against the system's CAs). Returns 0 or -1 (said). */
static int make_tls(wr_register *r, const rcoapd_opts *o) {
  if (!o->reg_cert && !o->reg_psk_identity && !o->reg_cafile)
    return 0;
  rc_tls_config tc;
  rc_tls_config_init(&tc, RC_TLS_CLIENT);
  tc.ca_file = o->reg_cafile;
  if (o->reg_cert) {
    tc.certs[0].cert_file = o->reg_cert;
    tc.certs[0].key_file = o->reg_cert_key ? o->reg_cert_key : o->reg_cert;
    tc.ncerts = 1;
  }
  if (o->reg_psk_identity) {
    FILE *f = o->reg_psk_key_file ? fopen(o->reg_psk_key_file, "r") : NULL;
    if (!f || !fgets(r->psk, sizeof r->psk, f))
      r->psk[0] = 0;
    if (f)
      fclose(f);
    r->psk[strcspn(r->psk, "\r\n")] = 0;
    if (!r->psk[0]) {
      note("--webrtc-register-psk-identity needs "
           "--webrtc-register-psk-key-file with the key on its first line");
      return -1;
    }
    tc.psk_identity = (const uint8_t *)o->reg_psk_identity;
    tc.psk_identity_len = strlen(o->reg_psk_identity);
    tc.psk_key = (const uint8_t *)r->psk;
    tc.psk_key_len = strlen(r->psk);
  }
  char err[256];
  if (rc_tls_ctx_new(&r->tls, &tc, err, sizeof err) != RC_OK) {
    note("TLS toward the broker: %s", err);
    return -1;
  }
  return 0;
}

/* --webrtc-stun HOST:PORT, default the broker's host, port 3478. */
static int stun_addr(const rcoapd_opts *o, struct sockaddr_storage *ss) {
  if (o->webrtc_stun)
    return rc_wr_stun_addr(o->webrtc_stun, NULL, ss) == RC_OK ? 0 : -1;
  rc_uri u;
  if (rc_uri_parse(o->webrtc_register, strlen(o->webrtc_register), &u) !=
      RC_OK)
    return -1;
  char host[260];
  snprintf(host, sizeof host, u.host_is_ipv6 ? "[%.*s]" : "%.*s",
           (int)u.host_len, u.host);
  return rc_wr_stun_addr(host, STUN_PORT_DEFAULT, ss) == RC_OK ? 0 : -1;
}

int wr_register_start(rc_context *ctx, const rcoapd_opts *o,
                      wr_register **out) {
  *out = NULL;
  if (!o->webrtc_register)
    return 0;
  rc_uri u;
  if (rc_uri_parse(o->webrtc_register, strlen(o->webrtc_register), &u) !=
          RC_OK ||
      u.is_udp || u.is_wr) {
    note("--webrtc-register %s: want coap+ws, coaps+ws, coap+tcp or "
         "coaps+tcp://BROKER/webrtc/peers/NAME",
         o->webrtc_register);
    return -1;
  }
  struct sockaddr_storage ss;
  if (stun_addr(o, &ss) != 0) {
    note("--webrtc-stun: cannot resolve %s",
         o->webrtc_stun ? o->webrtc_stun : "the broker's host");
    return -1;
  }
  wr_register *r = calloc(1, sizeof *r);
  if (!r)
    return -1;
  r->ctx = ctx;
  r->backoff_ms = BACKOFF_MIN_MS;
  r->shown = o->webrtc_register;
  if (make_tls(r, o) != 0) {
    free(r);
    return -1;
  }
  int n = snprintf(r->uri, sizeof r->uri, "%s", o->webrtc_register);
  if (o->webrtc_register_secret) {
    char key[200];
    if (wr_secret_read(o->webrtc_register_secret, key, sizeof key) != 0) {
      note("--webrtc-register-secret-file %s: want the secret on its first "
           "line (A-Z a-z 0-9 - . _ ~)",
           o->webrtc_register_secret);
      rc_tls_ctx_free(r->tls);
      free(r);
      return -1;
    }
    n += snprintf(r->uri + n, sizeof r->uri - (size_t)n, "%ssecret=%s",
                  u.has_query ? "&" : "?", key);
  }
  if ((size_t)n >= sizeof r->uri ||
      rc_context_webrtc_stun(ctx, (const struct sockaddr *)&ss) != RC_OK) {
    note("--webrtc-register needs -l coaps+wr://ADDR:PORT (the peer's "
         "data channels)");
    rc_tls_ctx_free(r->tls);
    free(r);
    return -1;
  }
  uv_timer_init(rc_context_loop(ctx), &r->retry);
  uv_timer_init(rc_context_loop(ctx), &r->stun);
  r->retry.data = r->stun.data = r;
  uv_timer_start(&r->stun, stun_cb, STUN_REFRESH_MS, STUN_REFRESH_MS);
  *out = r;
  start_observe(r);
  return 0;
}

static void reg_closed(uv_handle_t *h) { free(h->data); }

void wr_register_stop(wr_register *r) {
  if (!r)
    return;
  rc_observe_cancel(r->obs);
  r->obs = NULL;
  uv_timer_stop(&r->retry);
  uv_timer_stop(&r->stun);
}

void wr_register_free(wr_register *r) {
  if (!r)
    return;
  rc_tls_ctx_free(r->tls); /* the connections hold their own references */
  uv_close((uv_handle_t *)&r->retry, NULL);
  uv_close((uv_handle_t *)&r->stun, reg_closed);
}
