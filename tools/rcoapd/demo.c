/*
 * rcoapd's demo resources, the ones the README and the browser demo page
 * use: a greeting, the time, an echo, a writable store, a sensor whose
 * value changes every second, a large text for block-wise transfer, and
 * a log a POST appends to (an effect a test can count).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "demo.h"
#include "rcoap/version.h"
#include "store.h"

/* RFC 7252 §5.10.5: Max-Age default is 60 s; the sensor changes every
 * second, so say so. */
#define SENSOR_PERIOD_MS 1000u
#define LARGE_SIZE (100u * 1024u)
/* /log: the last LOG_LINES entries, each up to LOG_TEXT bytes of text */
#define LOG_LINES 16u
#define LOG_TEXT 64u

struct demo {
  rc_context *ctx;
  store *store;
  uv_timer_t *timer;
  double temp;
  uint32_t ticks;
  char *large;
  rc_resource *temp_res;    /* observable: notified when the value changes */
  char temp_last[32];
  char sink_digest[80];     /* of the streamed upload that just ended */
  uint64_t sink_bytes;
  rc_resource *counter_res; /* /counter: observable, POST increments */
  uint64_t counter;
  rc_resource *store_res;   /* /store/NAME: observable, PUT/DELETE notify */
  uint64_t log_seq;         /* /log: entries appended so far */
  char log[LOG_LINES][LOG_TEXT + 1];
};

static void on_time(rc_context *ctx, rc_resource *res, rc_xreq *req,
                    void *user) {
  (void)ctx;
  (void)res;
  (void)user;
  char body[32];
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  size_t n = strftime(body, sizeof body, "%Y-%m-%dT%H:%M:%SZ", &tm);
  rc_respond(req, RC_CONTENT, RC_CF_TEXT_PLAIN, body, n);
}

static void on_echo(rc_context *ctx, rc_resource *res, rc_xreq *req,
                    void *user) {
  (void)ctx;
  (void)res;
  (void)user;
  const rc_msg *m = rc_xreq_msg(req);
  /* RFC 7252 §5.8.2: a POST that changed nothing lasting answers 2.04. */
  rc_respond(req, RC_CHANGED, rc_msg_content_format(m), m->payload,
             m->payload_len);
}

static void on_temp(rc_context *ctx, rc_resource *res, rc_xreq *req,
                    void *user) {
  (void)ctx;
  (void)res;
  demo *d = user;
  char body[32];
  int n = snprintf(body, sizeof body, "%.2f", d->temp);
  uint8_t ma[4];
  rc_opt opts[2];
  uint8_t cf[4];
  opts[0].num = RC_OPT_CONTENT_FORMAT;
  opts[0].len = (uint32_t)rc_opt_uint_encode(RC_CF_TEXT_PLAIN, cf);
  opts[0].val = cf;
  opts[1].num = RC_OPT_MAX_AGE;
  opts[1].len = (uint32_t)rc_opt_uint_encode(1, ma);
  opts[1].val = ma;
  rc_outmsg out = {RC_CONTENT, opts, 2, (const uint8_t *)body, (size_t)n};
  rc_exchange_respond(req, &out);
}

static void on_large(rc_context *ctx, rc_resource *res, rc_xreq *req,
                     void *user) {
  (void)ctx;
  (void)res;
  demo *d = user;
  rc_err err = rc_respond(req, RC_CONTENT, RC_CF_TEXT_PLAIN, d->large,
                          LARGE_SIZE);
  if (err == RC_ERR_PEER_TOO_LARGE) {
    static const char why[] =
        "/large is bigger than this connection's Max-Message-Size";
    rc_respond(req, RC_INTERNAL_SERVER_ERROR, RC_CF_TEXT_PLAIN, why,
               sizeof why - 1);
  }
}

/* /store/KEY: the key is the path after "/store/". */
static int store_key(rc_xreq *req, char *key, size_t cap) {
  char path[RC_APP_PATH_MAX];
  rc_ssize n = rc_req_path(req, path, sizeof path);
  static const char prefix[] = "/store/";
  if (n < (rc_ssize)sizeof prefix || strncmp(path, prefix, sizeof prefix - 1))
    return 0;
  snprintf(key, cap, "%s", path + sizeof prefix - 1);
  return 1;
}

/* An item's ETag: its version, 4 bytes big-endian. */
static void store_etag(const store_item *it, uint8_t tag[4]) {
  for (int i = 0; i < 4; i++)
    tag[i] = (uint8_t)(it->version >> (24 - 8 * i));
}

/* Whether a conditional request may go on against the item (NULL: there
 * is none). RFC 7252 §5.10.8.1: "If any of the ETags match, or the
 * option is empty and the resource exists" (If-Match), and §5.10.8.2:
 * "If the target resource does exist, then the server MUST NOT perform
 * the requested method" (If-None-Match); else "the server MUST respond
 * with the 4.12 (Precondition Failed) response code". */
static int store_precondition(const rc_msg *m, const store_item *it) {
  uint8_t tag[4];
  if (it)
    store_etag(it, tag);
  rc_opt o;
  if (rc_msg_find_opt(m, RC_OPT_IF_NONE_MATCH, &o) && it)
    return 0;
  rc_opt_iter iter;
  int any = 0;
  rc_opt_iter_init(&iter, m);
  while (rc_opt_next_of(&iter, RC_OPT_IF_MATCH, &o)) {
    if (it && (o.len == 0 || (o.len == 4 && !memcmp(o.val, tag, 4))))
      return 1;
    any = 1;
  }
  return !any;
}

static void on_store(rc_context *ctx, rc_resource *res, rc_xreq *req,
                     void *user) {
  (void)ctx;
  (void)res;
  demo *d = user;
  const rc_msg *m = rc_xreq_msg(req);
  char key[RC_APP_PATH_MAX];
  if (!store_key(req, key, sizeof key)) {
    if (m->code == RC_GET) {
      char body[64];
      int n = snprintf(body, sizeof body, "%zu item(s)", store_count(d->store));
      rc_respond(req, RC_CONTENT, RC_CF_TEXT_PLAIN, body, (size_t)n);
    } else {
      rc_respond(req, RC_METHOD_NOT_ALLOWED, RC_CF_TEXT_PLAIN,
                 "PUT, GET and DELETE take /store/NAME", 36);
    }
    return;
  }
  store_item it;
  int exists = store_get(d->store, key, &it);
  if (!store_precondition(m, exists ? &it : NULL)) {
    rc_respond(req, RC_PRECONDITION_FAILED, -1, NULL, 0);
    return;
  }
  switch (m->code) {
  case RC_GET: {
    if (!exists) {
      rc_respond(req, RC_NOT_FOUND, -1, NULL, 0);
      return;
    }
    uint8_t tag[4], cf[4];
    store_etag(&it, tag);
    rc_opt opts[2] = {{.num = RC_OPT_ETAG, .val = tag, .len = 4}};
    size_t n = 1;
    if (it.content_format >= 0)
      opts[n++] = (rc_opt){.num = RC_OPT_CONTENT_FORMAT, .val = cf,
                           .len = (uint16_t)rc_opt_uint_encode(
                               (uint32_t)it.content_format, cf)};
    /* RFC 7252 §5.10.6.2: a request ETag that is the current one is
     * answered 2.03 (Valid) with that ETag, without the body. */
    rc_opt o;
    rc_opt_iter iter;
    rc_opt_iter_init(&iter, m);
    int valid = 0;
    while (!valid && rc_opt_next_of(&iter, RC_OPT_ETAG, &o))
      valid = o.len == 4 && !memcmp(o.val, tag, 4);
    rc_outmsg out = {.code = valid ? RC_VALID : RC_CONTENT,
                     .opts = opts,
                     .nopts = valid ? 1 : n,
                     .payload = valid ? NULL : it.data,
                     .payload_len = valid ? 0 : it.len};
    rc_exchange_respond(req, &out);
    return;
  }
  case RC_PUT: {
    int r = store_put(d->store, key, m->payload, m->payload_len,
                      rc_msg_content_format(m));
    if (r == -2) {
      rc_respond(req, RC_REQUEST_ENTITY_TOO_LARGE, RC_CF_TEXT_PLAIN,
                 "store is full or item too large", 31);
      return;
    }
    if (r < 0) {
      rc_respond(req, RC_INTERNAL_SERVER_ERROR, -1, NULL, 0);
      return;
    }
    /* RFC 7252 §5.8.3: 2.01 when PUT created the resource, else 2.04;
     * with the new ETag (§5.10.6.1), for a later If-Match. */
    uint8_t tag[4];
    store_get(d->store, key, &it);
    store_etag(&it, tag);
    rc_opt etag = {.num = RC_OPT_ETAG, .val = tag, .len = 4};
    rc_outmsg out = {.code = r == 1 ? RC_CREATED : RC_CHANGED,
                     .opts = &etag, .nopts = 1};
    rc_exchange_respond(req, &out);
    /* RFC 7641 §4.2: observers hear of the new state (each observer's
     * own /store/NAME is rendered again; others get theirs unchanged). */
    rc_resource_notify(d->store_res);
    return;
  }
  case RC_DELETE:
    /* RFC 7252 §5.8.4: 2.02 Deleted, also when it did not exist. */
    store_del(d->store, key);
    rc_respond(req, RC_DELETED, -1, NULL, 0);
    /* RFC 7641 §3.2: the 4.04 they now get ends their observation. */
    rc_resource_notify(d->store_res);
    return;
  default:
    rc_respond(req, RC_METHOD_NOT_ALLOWED, -1, NULL, 0);
  }
}

/* /slow?ms=N: answers after N ms (default 1000, at most 60000), from a
 * timer: a deferred response, and an exchange that is in flight long
 * enough to watch a graceful shutdown finish it. */
typedef struct slow_req {
  uv_timer_t timer;
  rc_xreq *req;
} slow_req;

static void slow_closed(uv_handle_t *h) { free(h->data); }

static void slow_fire(uv_timer_t *t) {
  slow_req *s = t->data;
  static const char body[] = "sorry for the wait";
  rc_respond(s->req, RC_CONTENT, RC_CF_TEXT_PLAIN, body, sizeof body - 1);
  uv_close((uv_handle_t *)&s->timer, slow_closed);
}

static void on_slow(rc_context *ctx, rc_resource *res, rc_xreq *req,
                    void *user) {
  (void)res;
  (void)user;
  char q[64];
  unsigned long ms = 1000;
  if (rc_msg_query(rc_xreq_msg(req), q, sizeof q) > 3 && !strncmp(q, "ms=", 3))
    ms = strtoul(q + 3, NULL, 10);
  if (ms > 60000) {
    rc_respond(req, RC_BAD_REQUEST, RC_CF_TEXT_PLAIN, "ms is at most 60000",
               19);
    return;
  }
  slow_req *s = malloc(sizeof *s);
  if (!s || rc_xreq_defer(req) != RC_OK) {
    free(s);
    rc_respond(req, RC_SERVICE_UNAVAILABLE, -1, NULL, 0);
    return;
  }
  s->req = req;
  uv_timer_init(rc_context_loop(ctx), &s->timer);
  s->timer.data = s;
  uv_timer_start(&s->timer, slow_fire, ms, 0);
}

static void on_tick(uv_timer_t *t) {
  demo *d = t->data;
  d->ticks++;
  /* A slow drift plus a little noise around 21 degrees. */
  d->temp = 21.0 + 1.5 * sin(d->ticks / 30.0) + (rand() % 21 - 10) / 100.0;
  char now[32];
  snprintf(now, sizeof now, "%.2f", d->temp);
  if (strcmp(now, d->temp_last)) {
    memcpy(d->temp_last, now, sizeof now);
    rc_resource_notify(d->temp_res); /* RFC 7641: observers get the change */
  }
}

/* /counter: GET the number (observable), POST adds one and notifies every
 * observer (what bench/observe.sh triggers). */
static void on_counter(rc_context *ctx, rc_resource *res, rc_xreq *req,
                       void *user) {
  (void)ctx;
  (void)res;
  demo *d = user;
  const rc_msg *m = rc_xreq_msg(req);
  if (m->code == RC_POST) {
    d->counter++;
    rc_respond(req, RC_CHANGED, -1, NULL, 0);
    rc_resource_notify(d->counter_res);
    return;
  }
  char body[24];
  int n = snprintf(body, sizeof body, "%llu", (unsigned long long)d->counter);
  rc_respond(req, RC_CONTENT, RC_CF_TEXT_PLAIN, body, (size_t)n);
}

/* /log: a POST appends an entry (its payload, up to LOG_TEXT bytes, with
 * a sequence number) and, like a GET, answers the last
 * LOG_LINES entries, one a line: every run of the POST handler shows. */
static void on_log(rc_context *ctx, rc_resource *res, rc_xreq *req,
                   void *user) {
  (void)ctx;
  (void)res;
  demo *d = user;
  const rc_msg *m = rc_xreq_msg(req);
  if (m->code == RC_POST) {
    size_t n = m->payload_len < LOG_TEXT ? m->payload_len : LOG_TEXT;
    char *line = d->log[d->log_seq++ % LOG_LINES];
    memcpy(line, m->payload, n);
    line[n] = 0;
  }
  char body[LOG_LINES * (LOG_TEXT + 32)];
  size_t len = 0;
  uint64_t first = d->log_seq > LOG_LINES ? d->log_seq - LOG_LINES : 0;
  for (uint64_t i = first; i < d->log_seq; i++)
    len += (size_t)snprintf(body + len, sizeof body - len, "#%llu %s\n",
                            (unsigned long long)i + 1, d->log[i % LOG_LINES]);
  rc_respond(req, m->code == RC_POST ? RC_CHANGED : RC_CONTENT,
             RC_CF_TEXT_PLAIN, body, len);
}

/* /sink: PUT or POST any body (streamed in Block1, never held); answers
 * 2.04 with "SHA256HEX BYTES" so clients can check what arrived. */
typedef struct sink_state {
  demo *d;
  EVP_MD_CTX *md;
  uint64_t bytes;
} sink_state;

static void sink_hex(EVP_MD_CTX *md, char *out, size_t cap) {
  unsigned char h[EVP_MAX_MD_SIZE];
  unsigned int hl = 0;
  EVP_DigestFinal_ex(md, h, &hl);
  size_t n = 0;
  for (unsigned i = 0; i < hl && n + 3 <= cap; i++)
    n += (size_t)snprintf(out + n, cap - n, "%02x", h[i]);
}

static rc_err sink_write(void *arg, uint64_t off, const uint8_t *data,
                         size_t len, uint64_t total) {
  sink_state *st = arg;
  (void)off;
  (void)total;
  EVP_DigestUpdate(st->md, data, len);
  st->bytes += len;
  return RC_OK;
}

static void sink_end(void *arg, rc_err status) {
  sink_state *st = arg;
  if (status == RC_OK) {
    sink_hex(st->md, st->d->sink_digest, sizeof st->d->sink_digest);
    st->d->sink_bytes = st->bytes;
  }
  EVP_MD_CTX_free(st->md);
  free(st);
}

static void on_sink_body(rc_context *ctx, rc_resource *res, rc_xreq *req,
                         void *user) {
  (void)ctx;
  (void)res;
  sink_state *st = calloc(1, sizeof *st);
  if (!st || !(st->md = EVP_MD_CTX_new()) ||
      !EVP_DigestInit_ex(st->md, EVP_sha256(), NULL)) {
    if (st)
      EVP_MD_CTX_free(st->md);
    free(st);
    rc_respond(req, RC_SERVICE_UNAVAILABLE, -1, NULL, 0);
    return;
  }
  st->d = user;
  rc_body_sink sk = {sink_write, sink_end, st};
  rc_xreq_body_sink(req, &sk);
}

static void on_sink(rc_context *ctx, rc_resource *res, rc_xreq *req,
                    void *user) {
  (void)ctx;
  (void)res;
  demo *d = user;
  char body[120];
  if (!rc_xreq_body_streamed(req)) {
    const rc_msg *m = rc_xreq_msg(req);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    EVP_DigestUpdate(md, m->payload, m->payload_len);
    sink_hex(md, d->sink_digest, sizeof d->sink_digest);
    EVP_MD_CTX_free(md);
    d->sink_bytes = m->payload_len;
  }
  int n = snprintf(body, sizeof body, "%s %llu", d->sink_digest,
                   (unsigned long long)d->sink_bytes);
  rc_respond(req, RC_CHANGED, RC_CF_TEXT_PLAIN, body, (size_t)n);
}

static void timer_closed(uv_handle_t *h) { free(h); }

static char *make_large(void) {
  char *b = malloc(LARGE_SIZE + 1);
  if (!b)
    return NULL;
  size_t n = 0;
  unsigned line = 1;
  while (n < LARGE_SIZE) {
    char l[96];
    int k = snprintf(l, sizeof l,
                     "%06u The quick brown fox jumps over the lazy dog; "
                     "CoAP over TCP, TLS and WebSockets.\n",
                     line++);
    size_t take = (size_t)k < LARGE_SIZE - n ? (size_t)k : LARGE_SIZE - n;
    memcpy(b + n, l, take);
    n += take;
  }
  b[LARGE_SIZE] = 0;
  return b;
}

static rc_err add(rc_context *ctx, const char *path, unsigned flags, void *user,
                  rc_handler get, rc_handler put, rc_handler post,
                  rc_handler del, rc_resource **out) {
  rc_resource *r;
  rc_err err = rc_resource_add(ctx, path, flags, user, &r);
  if (err)
    return err;
  rc_resource_on(r, RC_GET, get);
  rc_resource_on(r, RC_PUT, put);
  rc_resource_on(r, RC_POST, post);
  rc_resource_on(r, RC_DELETE, del);
  *out = r;
  return RC_OK;
}

rc_err demo_start(rc_context *ctx, demo **out) {
  demo *d = calloc(1, sizeof *d);
  if (!d)
    return RC_ERR_NOMEM;
  d->ctx = ctx;
  d->temp = 21.0;
  d->store = store_new();
  d->large = make_large();
  d->timer = malloc(sizeof *d->timer);
  if (!d->store || !d->large || !d->timer) {
    free(d->timer);
    d->timer = NULL;
    demo_stop(d);
    return RC_ERR_NOMEM;
  }
  rc_resource *r;
  rc_err err;
  char hello[64];
  int hello_len =
      snprintf(hello, sizeof hello, "Hello, world! (rcoap %s)", rc_version());
  /* The greeting is the benchmark's resource: a static representation,
   * encoded once, so that a request costs the stack's work. */
  if ((err = add(ctx, "/hello", 0, d, NULL, NULL, NULL, NULL, &r)) ||
      (err = rc_resource_set_static(r, RC_CONTENT, RC_CF_TEXT_PLAIN, hello,
                                    (size_t)hello_len)) ||
      (err = rc_resource_attr(r, "title", "Greeting", 1)) ||
      (err = rc_resource_attr(r, "ct", "0", 0)))
    goto fail;
  if ((err = add(ctx, "/time", 0, d, on_time, NULL, NULL, NULL, &r)) ||
      (err = rc_resource_attr(r, "title", "Current UTC time", 1)) ||
      (err = rc_resource_attr(r, "rt", "time", 1)) ||
      (err = rc_resource_attr(r, "ct", "0", 0)))
    goto fail;
  if ((err = add(ctx, "/echo", 0, d, NULL, NULL, on_echo, NULL, &r)) ||
      (err = rc_resource_attr(r, "title", "POST echoes the payload", 1)))
    goto fail;
  if ((err = add(ctx, "/store", RC_RES_PREFIX, d, on_store, on_store, NULL,
                 on_store, &r)) ||
      (err = rc_resource_attr(r, "title", "PUT/GET/DELETE /store/NAME", 1)) ||
      /* an item over the limit is refused by its first block when the
       * client says its size (Size1), else once it is over: 4.13 with
       * Size1 naming the limit (RFC 7959 §2.9.3, §4) */
      (err = rc_resource_body_limit(r, STORE_ITEM_MAX)) ||
      (err = rc_resource_set_observable(r)))
    goto fail;
  d->store_res = r;
  if ((err = add(ctx, "/sensors/temp", 0, d, on_temp, NULL, NULL, NULL, &r)) ||
      (err = rc_resource_attr(r, "title", "Temperature (C)", 1)) ||
      (err = rc_resource_attr(r, "rt", "temperature-c", 1)) ||
      (err = rc_resource_attr(r, "if", "sensor", 1)) ||
      (err = rc_resource_attr(r, "ct", "0", 0)) ||
      (err = rc_resource_set_observable(r)))
    goto fail;
  d->temp_res = r;
  snprintf(d->temp_last, sizeof d->temp_last, "%.2f", d->temp);
  if ((err = add(ctx, "/counter", 0, d, on_counter, NULL, on_counter, NULL,
                 &r)) ||
      (err = rc_resource_set_observable(r)) ||
      (err = rc_resource_attr(r, "title", "POST adds one; observable", 1)))
    goto fail;
  d->counter_res = r;
  if ((err = add(ctx, "/log", 0, d, on_log, NULL, on_log, NULL, &r)) ||
      (err = rc_resource_attr(r, "title", "POST appends; the last 16", 1)))
    goto fail;
  if ((err = add(ctx, "/sink", 0, d, NULL, on_sink, on_sink, NULL, &r)) ||
      (err = rc_resource_on_body(r, on_sink_body)) ||
      (err = rc_resource_body_limit(r, UINT64_MAX)) ||
      (err = rc_resource_attr(r, "title",
                              "PUT/POST any body: answers its SHA-256", 1)))
    goto fail;
  if ((err = add(ctx, "/slow", 0, d, on_slow, NULL, NULL, NULL, &r)) ||
      (err = rc_resource_attr(r, "title", "Answers after ?ms=N", 1)))
    goto fail;
  if ((err = add(ctx, "/large", 0, d, on_large, NULL, NULL, NULL, &r)) ||
      (err = rc_resource_attr(r, "title", "100 KiB of text", 1)) ||
      (err = rc_resource_attr(r, "sz", "102400", 0)) ||
      (err = rc_resource_attr(r, "ct", "0", 0)))
    goto fail;
  uv_timer_init(rc_context_loop(ctx), d->timer);
  d->timer->data = d;
  uv_timer_start(d->timer, on_tick, SENSOR_PERIOD_MS, SENSOR_PERIOD_MS);
  *out = d;
  return RC_OK;
fail:
  free(d->timer);
  d->timer = NULL;
  demo_stop(d);
  return err;
}

void demo_stop(demo *d) {
  if (!d)
    return;
  if (d->timer) {
    uv_timer_stop(d->timer);
    uv_close((uv_handle_t *)d->timer, timer_closed);
  }
  store_free(d->store);
  free(d->large);
  free(d);
}
