/*
 * The coaps+wr rendezvous broker: a peer that cannot be dialled (behind a
 * NAT) keeps an outbound connection here and is reached by name.
 *
 * The protocol, all plain CoAP on /webrtc/peers/NAME (NAME allowed by
 * --webrtc-peers-allow NAME=RULE):
 *
 *   device:  GET /webrtc/peers/NAME, Observe 0   (registration; the
 *            client must pass one of NAME's rules: TLS client certificate
 *            CN, PSK identity, a shared key in Uri-Query secret=..., or its
 *            address; else 4.01 without credentials, 4.03 with wrong
 *            ones; 4.03 too while another connection holds NAME)
 *            <- 2.05, Observe: the resource's state: the oldest offer not
 *               yet answered (application/json, ETag = its id, 8 random
 *               bytes), or an empty 2.05 when none is waiting
 *   client:  POST /webrtc/peers/NAME {"type":"offer","sdp":...}
 *            (application/json): held (deferred) while the device is
 *            notified; 4.04 when NAME is not registered
 *   device:  POST /webrtc/peers/NAME, If-Match: <the offer's ETag>,
 *            {"type":"answer","sdp":...} (application/json), or a
 *            text/plain reason it cannot answer
 *            <- 2.04 (4.12 when no offer has that ETag any more)
 *   client   <- 2.05 with the answer (5.02 with the device's reason;
 *               5.04 when no answer came within --webrtc-peers-timeout)
 *
 * Offers are the resource's state, so a notification lost or merged
 * (RFC 7641 §4.5: only the latest state counts) loses nothing: the head
 * offer stays until it is answered or times out, and the next one is
 * notified then. The broker relays the signaling bytes and nothing else:
 * the data channel runs between client and device (the device learns its
 * server-reflexive address from this rcoapd's coaps+wr port, a full ICE
 * agent that sends checks outwards through its NAT).
 */
#include "wr_broker.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcoap/codec_option.h"
#include "rcoap/transport_tls.h"
#include "rcoap/transport_webrtc.h"

#define CF_JSON 50
#define ETAG_LEN 8
#define PENDING_MAX 8 /* offers waiting per name */
#define NAME_MAX_LEN 63
#define KEY_MAX 128
#define DEFAULT_TIMEOUT_MS 10000u

typedef enum { R_CN, R_PSK, R_KEY, R_ADDR } rule_kind;

typedef struct rule {
  rule_kind kind;
  char value[KEY_MAX + 1];
} rule;

typedef struct wr_name wr_name;

typedef struct pend {
  struct pend *next;
  wr_name *n;
  rc_xreq *req; /* the client's offer, deferred */
  uint8_t etag[ETAG_LEN];
  uv_timer_t timer;
  size_t len;
  char offer[]; /* the offer's JSON, as the client sent it */
} pend;

struct wr_name {
  wr_name *next;
  wr_broker *b;
  char name[NAME_MAX_LEN + 1];
  rc_resource *res;
  rule rules[OPT_MAX_PEER_RULES];
  size_t nrules;
  pend *head; /* oldest first */
  size_t npend;
};

struct wr_broker {
  rc_context *ctx;
  wr_name *names;
  unsigned timeout_ms;
};

/* ---- who may use a name ------------------------------------------------ */

/* The Uri-Query parameter secret=... into out: 1, or 0 when there is
 * none, -1 when it is too long to be any rule's (never cut to fit). */
static int query_secret(const rc_msg *m, char *out, size_t cap) {
  char q[512];
  out[0] = 0;
  if (rc_msg_query(m, q, sizeof q) < 0)
    return -1;
  for (char *s = q; s != NULL && *s;) {
    char *amp = strchr(s, '&');
    if (amp)
      *amp = 0;
    if (strncmp(s, "secret=", 7) == 0)
      return (size_t)snprintf(out, cap, "%s", s + 7) < cap ? 1 : -1;
    s = amp ? amp + 1 : NULL;
  }
  return 0;
}

static int same_secret(const char *a, const char *b) {
  size_t n = strlen(a);
  return n == strlen(b) && n > 0 && CRYPTO_memcmp(a, b, n) == 0;
}

/* 0 when req's client may use n; else the code to answer (4.01: it showed
 * no credentials at all, 4.03: none that fit). */
static uint8_t authorise(const wr_name *n, rc_xreq *req) {
  rc_conn *c = rc_xreq_conn(req);
  if (c == NULL)
    return RC_FORBIDDEN;
  char key[KEY_MAX + 1], peer[80] = "";
  int has_key = query_secret(rc_xreq_msg(req), key, sizeof key);
  rc_tls_peer pi;
  memset(&pi, 0, sizeof pi);
  rc_filter *f = rc_conn_tls(c);
  int tls = f != NULL && rc_tls_peer_info(f, &pi) == RC_OK;
  (void)rc_conn_peer_addr(c, peer, sizeof peer);
  /* "1.2.3.4:5" or "[::1]:5" to the bare address */
  char *colon = strrchr(peer, ':');
  if (colon)
    *colon = 0;
  const char *host = peer;
  if (host[0] == '[') {
    host++;
    char *rb = strchr(peer, ']');
    if (rb)
      *rb = 0;
    if (!strncmp(host, "::ffff:", 7) && strchr(host, '.'))
      host += 7; /* IPv4 on a dual-stack socket */
  }
  for (size_t i = 0; i < n->nrules; i++) {
    const rule *r = &n->rules[i];
    switch (r->kind) {
    case R_CN: /* a certificate the TLS layer verified (--cafile) */
      if (tls && pi.verified && strcmp(pi.subject_cn, r->value) == 0)
        return 0;
      break;
    case R_PSK:
      if (tls && pi.psk_identity_len == strlen(r->value) &&
          memcmp(pi.psk_identity, r->value, pi.psk_identity_len) == 0)
        return 0;
      break;
    case R_KEY:
      if (has_key == 1 && same_secret(key, r->value))
        return 0;
      break;
    case R_ADDR:
      if (strcmp(host, r->value) == 0)
        return 0;
      break;
    }
  }
  /* RFC 7252 §5.9.2.2: 4.01 when credentials could help (none shown, and
   * a rule wants some), else 4.03. */
  int shown = has_key != 0 || (tls && (pi.has_cert || pi.psk_identity_len));
  int wanted = 0;
  for (size_t i = 0; i < n->nrules; i++)
    wanted |= n->rules[i].kind != R_ADDR;
  return shown || !wanted ? RC_FORBIDDEN : RC_UNAUTHORIZED;
}

static void refuse(rc_xreq *req, uint8_t code, const char *why) {
  rc_respond(req, code, RC_CF_TEXT_PLAIN, why, strlen(why));
}

/* ---- offers waiting ---------------------------------------------------- */

static void pend_closed(uv_handle_t *h) { free(h->data); }

/* Unlinks p and answers its client (code, payload), then frees it. */
static void pend_finish(pend *p, uint8_t code, int cf, const void *body,
                        size_t len) {
  wr_name *n = p->n;
  for (pend **pp = &n->head; *pp; pp = &(*pp)->next)
    if (*pp == p) {
      *pp = p->next;
      break;
    }
  n->npend--;
  rc_respond(p->req, code, cf, body, len);
  uv_timer_stop(&p->timer);
  uv_close((uv_handle_t *)&p->timer, pend_closed);
}

static void pend_timeout(uv_timer_t *t) {
  pend *p = t->data;
  wr_name *n = p->n;
  char why[128];
  snprintf(why, sizeof why, "%s did not answer within %u ms", n->name,
           n->b->timeout_ms);
  pend_finish(p, RC_GATEWAY_TIMEOUT, RC_CF_TEXT_PLAIN, why, strlen(why));
  rc_resource_notify(n->res); /* the next offer, or none */
}

/* ---- the resource ------------------------------------------------------ */

/* GET: a registration (Observe 0), a notification's render, or a look. */
static void on_get(rc_context *ctx, rc_resource *res, rc_xreq *req,
                   void *user) {
  (void)ctx;
  wr_name *n = user;
  uint8_t code = authorise(n, req);
  if (code) {
    refuse(req, code,
           code == RC_UNAUTHORIZED
               ? "registration needs credentials (TLS client certificate, "
                 "PSK, or ?secret=)"
               : "not allowed to register this name");
    return;
  }
  /* The registration being made is counted already: a second one means
   * another connection (or token) holds the name. */
  if (rc_xreq_observe(req) == 0 && rc_resource_observers(res) > 1) {
    refuse(req, RC_FORBIDDEN, "this name is registered by another client");
    return;
  }
  if (n->head == NULL) {
    rc_respond(req, RC_CONTENT, -1, NULL, 0);
    return;
  }
  uint8_t cf = CF_JSON;
  rc_opt opts[2] = {
      {.num = RC_OPT_ETAG, .val = n->head->etag, .len = ETAG_LEN},
      {.num = RC_OPT_CONTENT_FORMAT, .val = &cf, .len = 1}};
  rc_outmsg out = {.code = RC_CONTENT,
                   .opts = opts,
                   .nopts = 2,
                   .payload = (const uint8_t *)n->head->offer,
                   .payload_len = n->head->len};
  (void)rc_exchange_respond(req, &out);
}

/* POST with If-Match: the device answers the offer of that ETag. */
static void on_answer(wr_name *n, rc_xreq *req, const rc_opt *im) {
  const rc_msg *m = rc_xreq_msg(req);
  uint8_t code = authorise(n, req);
  if (code) {
    refuse(req, code, "not allowed to answer for this name");
    return;
  }
  pend *p = n->head;
  while (p && !(im->len == ETAG_LEN && !memcmp(im->val, p->etag, ETAG_LEN)))
    p = p->next;
  if (p == NULL) {
    refuse(req, RC_PRECONDITION_FAILED, "no offer with that ETag waits");
    return;
  }
  if (rc_msg_content_format(m) == CF_JSON)
    pend_finish(p, RC_CONTENT, CF_JSON, m->payload, m->payload_len);
  else
    pend_finish(p, RC_BAD_GATEWAY, RC_CF_TEXT_PLAIN, m->payload,
                m->payload_len);
  rc_respond(req, RC_CHANGED, -1, NULL, 0);
  rc_resource_notify(n->res);
}

/* POST without If-Match: a client's offer, held until the device answers. */
static void on_post(rc_context *ctx, rc_resource *res, rc_xreq *req,
                    void *user) {
  wr_name *n = user;
  const rc_msg *m = rc_xreq_msg(req);
  rc_opt im;
  if (rc_msg_find_opt(m, RC_OPT_IF_MATCH, &im)) {
    on_answer(n, req, &im);
    return;
  }
  if (rc_msg_content_format(m) != CF_JSON) {
    refuse(req, RC_UNSUPPORTED_CONTENT_FORMAT,
           "send the offer as application/json (50)");
    return;
  }
  if (m->payload_len == 0 || m->payload_len > RC_WR_SIGNAL_MAX) {
    refuse(req, RC_BAD_REQUEST, "an offer is 1 to 16384 bytes of JSON");
    return;
  }
  if (rc_resource_observers(res) == 0) {
    refuse(req, RC_NOT_FOUND, "no peer is registered under this name");
    return;
  }
  pend *p = n->npend < PENDING_MAX ? malloc(sizeof *p + m->payload_len)
                                   : NULL;
  if (p == NULL || RAND_bytes(p->etag, ETAG_LEN) != 1 ||
      rc_xreq_defer(req) != RC_OK) {
    free(p);
    refuse(req, RC_SERVICE_UNAVAILABLE, "too many offers waiting");
    return;
  }
  memcpy(p->offer, m->payload, m->payload_len);
  p->len = m->payload_len;
  p->n = n;
  p->req = req;
  p->next = NULL;
  uv_timer_init(rc_context_loop(ctx), &p->timer);
  p->timer.data = p;
  uv_timer_start(&p->timer, pend_timeout, n->b->timeout_ms, 0);
  pend **tail = &n->head;
  while (*tail)
    tail = &(*tail)->next;
  *tail = p;
  n->npend++;
  if (n->head == p)
    rc_resource_notify(res); /* else it is notified when its turn comes */
}

/* ---- set-up ------------------------------------------------------------ */

static int name_ok(const char *s, size_t len) {
  if (len == 0 || len > NAME_MAX_LEN)
    return 0;
  for (size_t i = 0; i < len; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
          (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' ||
          s[i] == '.'))
      return 0;
  return 1;
}

int wr_secret_read(const char *file, char *out, size_t cap) {
  FILE *f = fopen(file, "r");
  if (!f)
    return -1;
  int ok = fgets(out, (int)cap, f) != NULL;
  fclose(f);
  out[strcspn(out, "\r\n")] = 0;
  /* It travels in a Uri-Query: RFC 3986 unreserved characters only, so
   * it is the same bytes on both sides without any encoding. */
  size_t n = strlen(out);
  if (!ok || n == 0 || n != strspn(out, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "abcdefghijklmnopqrstuvwxyz"
                                         "0123456789-._~"))
    return -1;
  return 0;
}

static int parse_rule(const char *spec, rule *r) {
  static const struct {
    const char *pfx;
    rule_kind kind;
  } kinds[] = {{"cn:", R_CN}, {"psk:", R_PSK}, {"secret-file:", R_KEY},
               {"addr:", R_ADDR}};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    size_t pl = strlen(kinds[i].pfx);
    if (strncmp(spec, kinds[i].pfx, pl) != 0 || !spec[pl] ||
        strlen(spec + pl) > KEY_MAX)
      continue;
    r->kind = kinds[i].kind;
    if (r->kind == R_KEY)
      return wr_secret_read(spec + pl, r->value, sizeof r->value);
    snprintf(r->value, sizeof r->value, "%s", spec + pl);
    return 0;
  }
  return -1;
}

static wr_name *name_get(wr_broker *b, const char *name, size_t len) {
  for (wr_name *n = b->names; n; n = n->next)
    if (strlen(n->name) == len && !memcmp(n->name, name, len))
      return n;
  wr_name *n = calloc(1, sizeof *n);
  if (!n)
    return NULL;
  memcpy(n->name, name, len);
  n->b = b;
  char path[sizeof n->name + 16];
  snprintf(path, sizeof path, "/webrtc/peers/%s", n->name);
  if (rc_resource_add(b->ctx, path, 0, n, &n->res) != RC_OK ||
      rc_resource_set_observable(n->res) != RC_OK) {
    free(n);
    return NULL;
  }
  rc_resource_on(n->res, RC_GET, on_get);
  rc_resource_on(n->res, RC_POST, on_post);
  (void)rc_resource_attr(n->res, "title",
                         "a registered WebRTC peer: POST an offer", 1);
  n->next = b->names;
  b->names = n;
  return n;
}

int wr_broker_start(rc_context *ctx, const rcoapd_opts *o, wr_broker **out) {
  *out = NULL;
  if (o->npeer_rules == 0)
    return 0;
  wr_broker *b = calloc(1, sizeof *b);
  if (!b)
    return -1;
  b->ctx = ctx;
  b->timeout_ms = o->peers_timeout_ms ? o->peers_timeout_ms
                                      : DEFAULT_TIMEOUT_MS;
  *out = b;
  for (size_t i = 0; i < o->npeer_rules; i++) {
    const char *spec = o->peer_rules[i];
    const char *eq = strchr(spec, '=');
    rule r;
    if (!eq || !name_ok(spec, (size_t)(eq - spec)) ||
        parse_rule(eq + 1, &r) != 0) {
      fprintf(stderr,
              "rcoapd: --webrtc-peers-allow %s: want NAME=cn:CN, NAME=psk:ID, "
              "NAME=secret-file:FILE (a readable file, the secret on its "
              "first line: A-Z a-z 0-9 - . _ ~) or NAME=addr:IP; NAME 1-63 of A-Z a-z 0-9 . _ -\n",
              spec);
      return -1;
    }
    wr_name *n = name_get(b, spec, (size_t)(eq - spec));
    if (!n || n->nrules == OPT_MAX_PEER_RULES) {
      fprintf(stderr,
              "rcoapd: --webrtc-peers-allow %s: out of memory, or more than "
              "%d rules for the name\n",
              spec, OPT_MAX_PEER_RULES);
      return -1;
    }
    n->rules[n->nrules++] = r;
  }
  return 0;
}

void wr_broker_stop(wr_broker *b) {
  if (!b)
    return;
  for (wr_name *n = b->names, *nx; n; n = nx) {
    nx = n->next;
    while (n->head)
      pend_finish(n->head, RC_SERVICE_UNAVAILABLE, -1, NULL, 0);
    free(n);
  }
  free(b);
}
