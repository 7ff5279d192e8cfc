/*
 * codec_bench: rcoap's codec against libcoap 4.3's on the same messages,
 * in one run, reported as messages per second and as ratios.
 *
 * The mix is what a CoAP-over-TCP connection carries: GETs with Uri-Path
 * segments, Uri-Query and Accept; 2.05 responses with Content-Format,
 * ETag, Max-Age, Observe, Block2/Size2 and small or 1 KiB payloads;
 * PUT/POST with Block1/Size1; error responses; CSM, Ping and Pong. Four
 * timings, each over a fixed number of rounds of the whole mix, calibrated
 * first so that every timing runs at least BENCH_MIN_SECONDS:
 *   rcoap parse    rc_msg_parse(RC_FRAMING_TCP) + iterate every option
 *   libcoap parse  coap_pdu_parse(COAP_PROTO_TCP) into one pre-allocated
 *                  PDU + iterate every option (coap_option_iterator)
 *   rcoap encode   rc_enc_init + options + payload + rc_enc_finish(TCP)
 *   libcoap encode coap_pdu_init + coap_add_token + coap_add_option +
 *                  coap_add_data + coap_delete_pdu. libcoap's public API
 *                  has no call that writes the TCP header (its
 *                  coap_pdu_encode_header is internal and not exported) and
 *                  no way to reuse a PDU, so its figure is the body only,
 *                  with one allocation per message, as its users have it.
 * Before timing, each message's TCP bytes are parsed by both libraries and
 * the results compared, so the two sides are known to do the same work.
 *
 * Environment: BENCH_MIN_SECONDS (default 0.5), BENCH_ROUNDS (skip the
 * calibration and run exactly this many rounds of the mix), BENCH_REPEAT
 * (default 5: the four timings run that many times, interleaved, and each
 * keeps its best rate; on a shared machine the best of several is the one
 * least disturbed by other work).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <coap3/coap.h>

#include "rcoap/codec_msg.h"
#include "rcoap/codec_option.h"

#define BENCH_MAX_OPTS 10
#define BENCH_BUF 2048
#define BENCH_KIB 1024

typedef struct bench_opt {
  uint16_t num;
  uint8_t is_uint; /* value is u (shortest uint encoding), else s/len */
  uint32_t u;
  const char *s;
  size_t len;
} bench_opt;

typedef struct bench_msg {
  const char *what;
  uint8_t code;
  uint8_t tkl;
  uint8_t token[8];
  size_t nopts;
  bench_opt opts[BENCH_MAX_OPTS];
  const uint8_t *payload;
  size_t plen;
  /* filled by the setup: the TCP frame rcoap encodes for it */
  uint8_t wire[BENCH_BUF];
  size_t wire_len;
} bench_msg;

static uint8_t payload_kib[BENCH_KIB];
static const uint8_t payload_small[] = "22.5 C";
static const uint8_t payload_json[] = "{\"temp\":22.5,\"unit\":\"Cel\"}";
static const uint8_t payload_cbor[256] = {0xa2, 0x61, 0x74};
static const uint8_t payload_diag[] = "no such resource";

#define S(str) 0, 0, (str), sizeof(str) - 1
#define U(v) 1, (v), NULL, 0
#define E() 0, 0, "", 0

static bench_msg msgs[] = {
    {"GET /sensors/temperature?u=Cel Accept json", RC_GET, 4, {1, 2, 3, 4}, 4,
     {{RC_OPT_URI_PATH, S("sensors")},
      {RC_OPT_URI_PATH, S("temperature")},
      {RC_OPT_URI_QUERY, S("u=Cel")},
      {RC_OPT_ACCEPT, U(RC_CF_JSON)}},
     NULL, 0, {0}, 0},
    {"GET /.well-known/core", RC_GET, 2, {9, 9}, 2,
     {{RC_OPT_URI_PATH, S(".well-known")}, {RC_OPT_URI_PATH, S("core")}},
     NULL, 0, {0}, 0},
    {"GET observe /a/b/c/d?x=1&y=2 Accept cbor", RC_GET, 8,
     {1, 2, 3, 4, 5, 6, 7, 8}, 8,
     {{RC_OPT_URI_HOST, S("example.org")},
      {RC_OPT_OBSERVE, U(0)},
      {RC_OPT_URI_PATH, S("a")},
      {RC_OPT_URI_PATH, S("b")},
      {RC_OPT_URI_PATH, S("c")},
      {RC_OPT_URI_PATH, S("d")},
      {RC_OPT_URI_QUERY, S("x=1")},
      {RC_OPT_URI_QUERY, S("y=2")}},
     NULL, 0, {0}, 0},
    {"2.05 text ETag Max-Age, small payload", RC_CONTENT, 4, {1, 2, 3, 4}, 3,
     {{RC_OPT_ETAG, S("\x01\x02\x03\x04")},
      {RC_OPT_CONTENT_FORMAT, U(RC_CF_TEXT_PLAIN)},
      {RC_OPT_MAX_AGE, U(60)}},
     payload_small, sizeof payload_small - 1, {0}, 0},
    {"2.05 notification Observe json", RC_CONTENT, 8, {1, 2, 3, 4, 5, 6, 7, 8},
     3,
     {{RC_OPT_OBSERVE, U(12345)},
      {RC_OPT_CONTENT_FORMAT, U(RC_CF_JSON)},
      {RC_OPT_MAX_AGE, U(30)}},
     payload_json, sizeof payload_json - 1, {0}, 0},
    {"2.05 ETag Observe 1 KiB", RC_CONTENT, 4, {4, 3, 2, 1}, 3,
     {{RC_OPT_ETAG, S("\xde\xad\xbe\xef\x00\x11\x22\x33")},
      {RC_OPT_OBSERVE, U(70000)},
      {RC_OPT_CONTENT_FORMAT, U(RC_CF_OCTET_STREAM)}},
     payload_kib, sizeof payload_kib, {0}, 0},
    {"2.05 Block2 2/1/1024 Size2, 1 KiB", RC_CONTENT, 2, {7, 7}, 4,
     {{RC_OPT_ETAG, S("\x0a\x0b")},
      {RC_OPT_CONTENT_FORMAT, U(RC_CF_OCTET_STREAM)},
      {RC_OPT_BLOCK2, U(2u << 4 | 1u << 3 | 6u)},
      {RC_OPT_SIZE2, U(8192)}},
     payload_kib, sizeof payload_kib, {0}, 0},
    {"PUT /fw/image Block1 3/1/1024 Size1, 1 KiB", RC_PUT, 4, {5, 6, 7, 8}, 5,
     {{RC_OPT_URI_PATH, S("fw")},
      {RC_OPT_URI_PATH, S("image")},
      {RC_OPT_CONTENT_FORMAT, U(RC_CF_OCTET_STREAM)},
      {RC_OPT_BLOCK1, U(3u << 4 | 1u << 3 | 6u)},
      {RC_OPT_SIZE1, U(65536)}},
     payload_kib, sizeof payload_kib, {0}, 0},
    {"POST /data cbor Block1 0/0/256 Size1", RC_POST, 3, {1, 1, 1}, 4,
     {{RC_OPT_URI_PATH, S("data")},
      {RC_OPT_CONTENT_FORMAT, U(RC_CF_CBOR)},
      {RC_OPT_BLOCK1, U(4u)},
      {RC_OPT_SIZE1, U(256)}},
     payload_cbor, sizeof payload_cbor, {0}, 0},
    {"2.04 Changed", RC_CHANGED, 4, {5, 6, 7, 8}, 0, {{0}}, NULL, 0, {0}, 0},
    {"4.04 with diagnostic payload", RC_NOT_FOUND, 4, {1, 2, 3, 4}, 0, {{0}},
     payload_diag, sizeof payload_diag - 1, {0}, 0},
    {"CSM Max-Message-Size Block-Wise-Transfer", RC_SIG_CSM, 0, {0}, 2,
     {{RC_SIGOPT_MAX_MESSAGE_SIZE, U(8388864)},
      {RC_SIGOPT_BLOCK_WISE_TRANSFER, E()}},
     NULL, 0, {0}, 0},
    {"Ping", RC_SIG_PING, 0, {0}, 0, {{0}}, NULL, 0, {0}, 0},
    {"Pong Custody", RC_SIG_PONG, 0, {0}, 1, {{RC_SIGOPT_CUSTODY, E()}}, NULL,
     0, {0}, 0},
};
#define NMSGS (sizeof msgs / sizeof msgs[0])

static volatile uint64_t sink;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rc_encode_one(const bench_msg *m, uint8_t *buf, size_t cap,
                         const uint8_t **out, size_t *out_len) {
  rc_enc e;
  rc_enc_init(&e, buf, cap, m->code, m->token, m->tkl);
  for (size_t i = 0; i < m->nopts; i++) {
    const bench_opt *o = &m->opts[i];
    if (o->is_uint)
      rc_enc_opt_uint(&e, o->num, o->u);
    else
      rc_enc_opt(&e, o->num, o->s, o->len);
  }
  if (m->plen)
    rc_enc_payload(&e, m->payload, m->plen);
  return rc_enc_finish(&e, RC_FRAMING_TCP, 0, 0, out, out_len) == RC_OK ? 0
                                                                         : -1;
}

static coap_pdu_t *coap_encode_one(const bench_msg *m) {
  coap_pdu_t *pdu = coap_pdu_init(COAP_MESSAGE_CON, (coap_pdu_code_t)m->code,
                                  0, BENCH_BUF);
  if (!pdu)
    return NULL;
  if (m->tkl && !coap_add_token(pdu, m->tkl, m->token))
    goto fail;
  for (size_t i = 0; i < m->nopts; i++) {
    const bench_opt *o = &m->opts[i];
    uint8_t tmp[4];
    size_t n;
    if (o->is_uint) {
      n = coap_encode_var_safe(tmp, sizeof tmp, o->u);
      if (!coap_add_option(pdu, o->num, n, tmp) && n)
        goto fail;
    } else if (!coap_add_option(pdu, o->num, o->len, (const uint8_t *)o->s) &&
               o->len) {
      goto fail;
    }
  }
  if (m->plen && !coap_add_data(pdu, m->plen, m->payload))
    goto fail;
  return pdu;
fail:
  coap_delete_pdu(pdu);
  return NULL;
}

/* Sum over options of number + length: what both parsers must agree on. */
static uint64_t rc_walk(const rc_msg *m, size_t *nopts) {
  rc_opt_iter it;
  rc_opt o;
  uint64_t acc = m->payload_len;
  *nopts = 0;
  rc_opt_iter_init(&it, m);
  while (rc_opt_next(&it, &o)) {
    acc += o.num + o.len + (o.len ? o.val[0] : 0);
    (*nopts)++;
  }
  return acc;
}

static uint64_t coap_walk(const coap_pdu_t *pdu, size_t *nopts) {
  coap_opt_iterator_t oi;
  coap_opt_t *opt;
  size_t dlen = 0;
  const uint8_t *data;
  uint64_t acc;
  *nopts = 0;
  acc = coap_get_data(pdu, &dlen, &data) ? dlen : 0;
  if (!coap_option_iterator_init(pdu, &oi, COAP_OPT_ALL))
    return acc;
  while ((opt = coap_option_next(&oi))) {
    uint32_t len = coap_opt_length(opt);
    acc += oi.number + len + (len ? coap_opt_value(opt)[0] : 0);
    (*nopts)++;
  }
  return acc;
}

/* ---- the four timed loops -------------------------------------------------*/

static double time_rc_parse(uint64_t rounds) {
  uint64_t acc = 0;
  double t0 = now_s();
  for (uint64_t r = 0; r < rounds; r++) {
    for (size_t i = 0; i < NMSGS; i++) {
      rc_msg m;
      size_t n;
      if (rc_msg_parse(RC_FRAMING_TCP, msgs[i].wire, msgs[i].wire_len, &m))
        abort();
      acc += rc_walk(&m, &n);
    }
  }
  double t = now_s() - t0;
  sink += acc;
  return t;
}

static double time_coap_parse(uint64_t rounds, coap_pdu_t *pdu) {
  uint64_t acc = 0;
  double t0 = now_s();
  for (uint64_t r = 0; r < rounds; r++) {
    for (size_t i = 0; i < NMSGS; i++) {
      size_t n;
      if (!coap_pdu_parse(COAP_PROTO_TCP, msgs[i].wire, msgs[i].wire_len, pdu))
        abort();
      acc += coap_walk(pdu, &n);
    }
  }
  double t = now_s() - t0;
  sink += acc;
  return t;
}

static double time_rc_encode(uint64_t rounds) {
  static uint8_t buf[BENCH_BUF];
  uint64_t acc = 0;
  double t0 = now_s();
  for (uint64_t r = 0; r < rounds; r++) {
    for (size_t i = 0; i < NMSGS; i++) {
      const uint8_t *out;
      size_t len;
      if (rc_encode_one(&msgs[i], buf, sizeof buf, &out, &len))
        abort();
      acc += len + out[0];
    }
  }
  double t = now_s() - t0;
  sink += acc;
  return t;
}

static double time_coap_encode(uint64_t rounds) {
  uint64_t acc = 0;
  double t0 = now_s();
  for (uint64_t r = 0; r < rounds; r++) {
    for (size_t i = 0; i < NMSGS; i++) {
      coap_pdu_t *pdu = coap_encode_one(&msgs[i]);
      if (!pdu)
        abort();
      acc += coap_pdu_get_code(pdu);
      coap_delete_pdu(pdu);
    }
  }
  double t = now_s() - t0;
  sink += acc;
  return t;
}

/* ---- setup and checks -----------------------------------------------------*/

/* Encodes every message with rcoap and checks that libcoap parses the bytes
 * to the same options and payload, and that libcoap can build it too.
 * Returns 0 or -1 with a message. */
static int setup(coap_pdu_t *pdu) {
  for (size_t i = 0; i < BENCH_KIB; i++)
    payload_kib[i] = (uint8_t)(i * 31 + 7);
  for (size_t i = 0; i < NMSGS; i++) {
    bench_msg *m = &msgs[i];
    uint8_t buf[BENCH_BUF];
    const uint8_t *out;
    size_t len, n_rc, n_coap;
    rc_msg pm;
    if (rc_encode_one(m, buf, sizeof buf, &out, &len)) {
      fprintf(stderr, "rcoap cannot encode '%s'\n", m->what);
      return -1;
    }
    memcpy(m->wire, out, len);
    m->wire_len = len;
    if (rc_msg_parse(RC_FRAMING_TCP, m->wire, len, &pm)) {
      fprintf(stderr, "rcoap cannot parse its own '%s'\n", m->what);
      return -1;
    }
    uint64_t a = rc_walk(&pm, &n_rc);
    if (!coap_pdu_parse(COAP_PROTO_TCP, m->wire, len, pdu)) {
      fprintf(stderr, "libcoap cannot parse '%s'\n", m->what);
      return -1;
    }
    uint64_t b = coap_walk(pdu, &n_coap);
    if (a != b || n_rc != n_coap || n_rc != m->nopts ||
        coap_pdu_get_code(pdu) != m->code) {
      fprintf(stderr,
              "'%s': rcoap and libcoap disagree (options %zu vs %zu, "
              "sums %llu vs %llu)\n",
              m->what, n_rc, n_coap, (unsigned long long)a,
              (unsigned long long)b);
      return -1;
    }
    coap_pdu_t *built = coap_encode_one(m);
    if (!built) {
      fprintf(stderr, "libcoap cannot build '%s'\n", m->what);
      return -1;
    }
    coap_delete_pdu(built);
  }
  return 0;
}

static double env_double(const char *name, double dflt) {
  const char *v = getenv(name);
  return v && *v ? strtod(v, NULL) : dflt;
}

typedef double (*bench_fn)(uint64_t rounds, coap_pdu_t *pdu);
static double run_rc_parse(uint64_t r, coap_pdu_t *p) {
  (void)p;
  return time_rc_parse(r);
}
static double run_coap_parse(uint64_t r, coap_pdu_t *p) {
  return time_coap_parse(r, p);
}
static double run_rc_encode(uint64_t r, coap_pdu_t *p) {
  (void)p;
  return time_rc_encode(r);
}
static double run_coap_encode(uint64_t r, coap_pdu_t *p) {
  (void)p;
  return time_coap_encode(r);
}

int main(void) {
  static const struct {
    const char *name;
    bench_fn fn;
  } runs[] = {
      {"rcoap   parse + options", run_rc_parse},
      {"libcoap parse + options", run_coap_parse},
      {"rcoap   encode (TCP frame)", run_rc_encode},
      {"libcoap encode (body only*)", run_coap_encode},
  };
  double min_s = env_double("BENCH_MIN_SECONDS", 0.5);
  uint64_t fixed = (uint64_t)env_double("BENCH_ROUNDS", 0);
  double rate[4];
  size_t bytes = 0;

  coap_startup();
  coap_set_log_level(LOG_EMERG);
  coap_pdu_t *pdu = coap_pdu_init(0, 0, 0, BENCH_BUF);
  if (!pdu || setup(pdu) != 0) {
    fputs("codec_bench: setup failed\n", stderr);
    return 1;
  }
  for (size_t i = 0; i < NMSGS; i++)
    bytes += msgs[i].wire_len;

  printf("codec_bench: rcoap vs %s, CoAP over TCP framing\n",
         coap_package_version());
  printf("mix of %zu messages, %zu bytes in all (%.0f bytes average):\n",
         NMSGS, bytes, (double)bytes / NMSGS);
  for (size_t i = 0; i < NMSGS; i++)
    printf("  %4zu B  %s\n", msgs[i].wire_len, msgs[i].what);
  printf("\n%-28s %14s %10s %10s %8s\n", "", "messages/s", "ns/msg",
         "rounds", "seconds");

  uint64_t rounds[4];
  double secs[4];
  int repeat = (int)env_double("BENCH_REPEAT", 5);
  if (repeat < 1)
    repeat = 1;
  for (size_t k = 0; k < 4; k++) {
    uint64_t n = fixed ? fixed : 64;
    double t = runs[k].fn(n, pdu);
    /* Calibrate: grow the count until one run lasts min_s; the run that
     * does is the first measurement (its count is printed as "rounds"). */
    while (!fixed && t < min_s) {
      double scale = t > 0 ? (min_s * 1.2) / t : 16;
      if (scale < 2)
        scale = 2;
      if (scale > 64)
        scale = 64;
      n = (uint64_t)((double)n * scale);
      t = runs[k].fn(n, pdu);
    }
    rounds[k] = n;
    secs[k] = t;
    rate[k] = (double)(n * NMSGS) / t;
  }
  for (int r = 1; r < repeat; r++) {
    for (size_t k = 0; k < 4; k++) {
      double t = runs[k].fn(rounds[k], pdu);
      double x = (double)(rounds[k] * NMSGS) / t;
      if (x > rate[k]) {
        rate[k] = x;
        secs[k] = t;
      }
    }
  }
  for (size_t k = 0; k < 4; k++)
    printf("%-28s %14.0f %10.1f %10llu %8.2f\n", runs[k].name, rate[k],
           1e9 / rate[k], (unsigned long long)rounds[k], secs[k]);
  if (repeat > 1)
    printf("(best of %d interleaved runs each)\n", repeat);
  printf("\nratio parse  rcoap/libcoap: %.2fx\n", rate[0] / rate[1]);
  printf("ratio encode rcoap/libcoap: %.2fx\n", rate[2] / rate[3]);
  printf("* libcoap's public API cannot write a TCP header (coap_pdu_encode_"
         "header\n  is internal) nor reuse a PDU: its encode figure is "
         "coap_pdu_init + token,\n  options, data + coap_delete_pdu, one "
         "allocation per message.\n");
  coap_delete_pdu(pdu);
  coap_cleanup();
  return 0;
}
