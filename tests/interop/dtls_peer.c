/*
 * dtls_peer: the DTLS filter (src/transport/dtls.c) on a real UDP socket,
 * for tests/interop/test_libcoap_dtls_filter.sh: the filter alone, apart
 * from rcoap and rcoapd (test_libcoap_dtls.sh). One peer at a time, poll() and the monotonic
 * clock at the edge; the CoAP messages are built by hand (RFC 7252 §3).
 *
 *   dtls_peer client HOST PORT PATH [opts]   one CON GET; prints
 *                                            "CODE c.dd PAYLOAD ..."
 *   dtls_peer server PORT N [opts]           answers N requests with
 *                                            2.05 "hello from rcoap dtls";
 *                                            prints "PORT p" once bound
 *   opts: --psk ID KEY  --hint H  --ca FILE  --cert FILE --key FILE
 *         --name NAME (client: the name checked in the certificate)
 *         --mtls (server: require a client certificate)
 *         --deadline MS (give up after MS, default 20000)
 * Exit 0 on success, 1 on failure (with the reason on stderr).
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rcoap/transport_dtls.h"
#include "rcoap/transport_tls.h"

#define DEADLINE_MS 20000

typedef struct peer {
  int fd;
  struct sockaddr_storage addr;
  socklen_t addr_len;
  rc_filter *f;
  int open, closed, failed, served, want;
  int client;
  char path[128];
  uint16_t mid;
} peer;

static rc_time now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (rc_time)ts.tv_sec * 1000 + (rc_time)ts.tv_nsec / 1000000;
}

static void send_get(peer *p) {
  uint8_t m[256];
  size_t n = 0;
  m[n++] = 0x42; /* ver 1, CON, TKL 2 */
  m[n++] = 0x01; /* GET */
  m[n++] = (uint8_t)(p->mid >> 8);
  m[n++] = (uint8_t)p->mid;
  m[n++] = 0xAB;
  m[n++] = 0xCD;
  unsigned last = 0;
  for (char *seg = strtok(p->path, "/"); seg; seg = strtok(NULL, "/")) {
    size_t len = strlen(seg);
    if (len > 12 || n + 1 + len > sizeof(m))
      break;
    m[n++] = (uint8_t)((11 - last) << 4 | len); /* Uri-Path */
    memcpy(m + n, seg, len);
    n += len;
    last = 11;
  }
  if (rc_filter_send(p->f, m, n, RC_FILTER_MSG_END) != RC_OK)
    p->failed = 1;
}

static rc_err on_up(void *u, const uint8_t *d, size_t n, int flags) {
  peer *p = u;
  (void)flags;
  if (n < 4 || (d[0] >> 6) != 1)
    return RC_OK;
  size_t tkl = d[0] & 15;
  if (p->client) {
    size_t at = 4 + tkl;
    while (at < n && d[at] != 0xFF)
      at++; /* options skipped: good enough for a payload print */
    printf("CODE %u.%02u PAYLOAD %.*s\n", d[1] >> 5, d[1] & 31,
           at < n ? (int)(n - at - 1) : 0, at < n ? (const char *)d + at + 1
                                                  : "");
    fflush(stdout);
    p->served++;
    return RC_OK;
  }
  if ((d[0] >> 4 & 3) != 0 || d[1] == 0 || 4 + tkl > n)
    return RC_OK; /* only CON requests get an answer here */
  uint8_t r[64 + 8];
  static const char body[] = "hello from rcoap dtls";
  size_t k = 0;
  r[k++] = (uint8_t)(0x60 | tkl); /* ACK, piggybacked */
  r[k++] = 0x45;                  /* 2.05 */
  r[k++] = d[2];
  r[k++] = d[3];
  memcpy(r + k, d + 4, tkl);
  k += tkl;
  r[k++] = 0xFF;
  memcpy(r + k, body, sizeof(body) - 1);
  k += sizeof(body) - 1;
  p->served++;
  return rc_filter_send(p->f, r, k, RC_FILTER_MSG_END);
}

static rc_err on_down(void *u, const uint8_t *d, size_t n) {
  peer *p = u;
  (void)sendto(p->fd, d, n, 0, (struct sockaddr *)&p->addr, p->addr_len);
  return RC_OK;
}

static void on_event(void *u, rc_filter_event ev, int arg, const char *det) {
  peer *p = u;
  if (ev == RC_FILTER_EV_OPEN) {
    p->open = 1;
    fprintf(stderr, "dtls_peer: open, %s %s\n", rc_tls_protocol(p->f),
            rc_tls_cipher(p->f));
    if (p->client)
      send_get(p);
  } else if (ev == RC_FILTER_EV_CLOSED) {
    p->closed = 1;
  } else {
    p->failed = 1;
    fprintf(stderr, "dtls_peer: %s (%s)\n", det ? det : "?", rc_strerror(arg));
  }
}

static const char *opt(int argc, char **argv, const char *name, int k) {
  for (int i = 0; i + k < argc; i++)
    if (strcmp(argv[i], name) == 0)
      return argv[i + k];
  return NULL;
}

static int has(int argc, char **argv, const char *name) {
  for (int i = 0; i < argc; i++)
    if (strcmp(argv[i], name) == 0)
      return 1;
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 4)
    return fprintf(stderr, "usage: see the comment in dtls_peer.c\n"), 2;
  peer p;
  memset(&p, 0, sizeof(p));
  p.client = strcmp(argv[1], "client") == 0;
  p.mid = (uint16_t)(getpid() & 0xFFFF);
  rc_tls_config cfg;
  rc_tls_config_init(&cfg, p.client ? RC_TLS_CLIENT : RC_TLS_SERVER);
  cfg.datagram = 1;
  const char *id = opt(argc, argv, "--psk", 1), *key = opt(argc, argv, "--psk", 2);
  if (id && key) {
    cfg.psk_identity = (const uint8_t *)id;
    cfg.psk_identity_len = strlen(id);
    cfg.psk_key = (const uint8_t *)key;
    cfg.psk_key_len = strlen(key);
  }
  cfg.psk_hint = opt(argc, argv, "--hint", 1);
  cfg.ca_file = opt(argc, argv, "--ca", 1);
  if (opt(argc, argv, "--cert", 1)) {
    cfg.certs[0].cert_file = opt(argc, argv, "--cert", 1);
    cfg.certs[0].key_file = opt(argc, argv, "--key", 1);
    cfg.ncerts = 1;
  }
  if (has(argc, argv, "--mtls"))
    cfg.client_auth = RC_TLS_CLIENT_AUTH_REQUIRE;
  char err[256];
  rc_tls_ctx *ctx = NULL;
  if (rc_tls_ctx_new(&ctx, &cfg, err, sizeof(err)) != RC_OK)
    return fprintf(stderr, "dtls_peer: %s\n", err), 1;
  rc_filter_sink sink = {on_up, on_down, on_event, &p};
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM},
                  *ai = NULL;
  if (p.client) {
    if (argc < 5)
      return fprintf(stderr, "usage: dtls_peer client HOST PORT PATH\n"), 2;
    snprintf(p.path, sizeof(p.path), "%s", argv[4]);
    if (getaddrinfo(argv[2], argv[3], &hints, &ai) != 0)
      return fprintf(stderr, "dtls_peer: cannot resolve %s\n", argv[2]), 1;
    p.fd = socket(ai->ai_family, SOCK_DGRAM, 0);
    memcpy(&p.addr, ai->ai_addr, ai->ai_addrlen);
    p.addr_len = ai->ai_addrlen;
    freeaddrinfo(ai);
    const char *name = opt(argc, argv, "--name", 1);
    if (rc_dtls_filter_new(&p.f, ctx, name ? name : argv[2],
                           (uint16_t)atoi(argv[3]), NULL, 0, now_ms(),
                           &sink) != RC_OK ||
        rc_filter_start(p.f) != RC_OK)
      return fprintf(stderr, "dtls_peer: cannot start\n"), 1;
    p.want = 1;
  } else {
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)atoi(argv[2]))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    p.fd = socket(AF_INET, SOCK_DGRAM, 0);
    socklen_t sl = sizeof(sa);
    if (bind(p.fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(p.fd, (struct sockaddr *)&sa, &sl) != 0)
      return perror("dtls_peer: bind"), 1;
    printf("PORT %u\n", ntohs(sa.sin_port));
    fflush(stdout);
    p.want = atoi(argv[3]);
  }
  const char *dl = opt(argc, argv, "--deadline", 1);
  rc_time end = now_ms() + (dl ? (rc_time)atoi(dl) : DEADLINE_MS);
  int hvr = 0;
  while (now_ms() < end && p.served < p.want && !p.failed) {
    rc_time exp = p.f ? rc_filter_expiry(p.f) : RC_TIME_NEVER, t = now_ms();
    int wait = exp == RC_TIME_NEVER ? 200 : exp <= t ? 0 : (int)(exp - t);
    struct pollfd pfd = {.fd = p.fd, .events = POLLIN};
    if (poll(&pfd, 1, wait > 200 ? 200 : wait) > 0) {
      uint8_t buf[65536];
      struct sockaddr_storage from;
      socklen_t fl = sizeof(from);
      ssize_t n = recvfrom(p.fd, buf, sizeof(buf), 0,
                           (struct sockaddr *)&from, &fl);
      if (n < 0)
        continue;
      if (!p.client && (!p.f || p.closed)) {
        /* A socket with no peer: the stateless cookie check first. */
        uint8_t out[RC_DTLS_HVR_MAX];
        size_t olen;
        rc_dtls_listen r = rc_dtls_listen_check(ctx, &from, fl, buf, (size_t)n,
                                                now_ms(), out, &olen);
        if (r == RC_DTLS_LISTEN_ANSWER) {
          (void)sendto(p.fd, out, olen, 0, (struct sockaddr *)&from, fl);
          hvr++;
          continue;
        }
        if (r == RC_DTLS_LISTEN_DROP)
          continue;
        rc_filter_free(p.f);
        p.open = p.closed = 0;
        memcpy(&p.addr, &from, fl);
        p.addr_len = fl;
        if (rc_dtls_filter_new(&p.f, ctx, NULL, 0, &from, fl, now_ms(),
                               &sink) != RC_OK)
          return fprintf(stderr, "dtls_peer: no filter\n"), 1;
      }
      (void)rc_filter_recv(p.f, buf, (size_t)n);
    }
    if (p.f && rc_filter_expiry(p.f) <= now_ms())
      (void)rc_filter_timeout(p.f, now_ms());
  }
  if (!p.client)
    fprintf(stderr, "dtls_peer: %d HelloVerifyRequests sent\n", hvr);
  int ok = p.served >= p.want && !p.failed;
  if (p.f && p.open && !p.closed)
    (void)rc_filter_shutdown(p.f);
  rc_filter_free(p.f);
  rc_tls_ctx_free(ctx);
  close(p.fd);
  if (!ok)
    fprintf(stderr, "dtls_peer: %s\n",
            p.failed ? "failed" : "timed out");
  return ok ? 0 : 1;
}
