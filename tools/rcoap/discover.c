/*
 * rcoap discover [coap://GROUP[:PORT][/PATH?QUERY]]: one NON GET (default
 * /.well-known/core) to a multicast group (RFC 7252 §8.1; default
 * 224.0.1.187; an IPv6 group may name its interface, [ff02::fd%25eth0]),
 * then every answer that carries our token, until -T:
 * "coap://ADDR:PORT LINKS" per answer (RFC 7252 §8.2: answers come from
 * each server's unicast address and are matched by token only). Exit 0
 * if any came, 6 (EX_TIMEOUT) if none.
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "discover.h"
#include "rcoap/app.h"
#include "rcoap/codec_msg.h"
#include "rcoap/codec_option.h"
#include "rcoap/codec_uri.h"
#include "status.h"

#define DEFAULT_GROUP "coap://" RC_MULTICAST_GROUP4 "/.well-known/core"

typedef struct disc {
  uv_udp_t sock;
  uv_timer_t timer;
  uint8_t token[8];
  int answers;
  uint8_t rbuf[65536];
} disc;

static void d_alloc(uv_handle_t *h, size_t s, uv_buf_t *buf) {
  disc *d = h->data;
  (void)s;
  buf->base = (char *)d->rbuf;
  buf->len = sizeof d->rbuf;
}

static void d_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf,
                   const struct sockaddr *from, unsigned flags) {
  disc *d = h->data;
  rc_msg m;
  (void)flags;
  if (n <= 0 || from == NULL ||
      rc_msg_parse(RC_FRAMING_UDP, (const uint8_t *)buf->base, (size_t)n,
                   &m) != RC_OK ||
      m.token_len != sizeof d->token ||
      memcmp(m.token, d->token, sizeof d->token) != 0 ||
      !rc_code_is_response(m.code))
    return;
  char ip[INET6_ADDRSTRLEN] = "?";
  unsigned port;
  if (from->sa_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const void *)from;
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
    port = ntohs(a->sin6_port);
    printf("coap://[%s]:%u", ip, port);
  } else {
    const struct sockaddr_in *a = (const void *)from;
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    port = ntohs(a->sin_port);
    printf("coap://%s:%u", ip, port);
  }
  if (m.code != RC_CONTENT)
    printf(" %u.%02u", m.code >> 5, m.code & 31);
  printf(" %.*s\n", (int)m.payload_len, (const char *)m.payload);
  fflush(stdout);
  d->answers++;
}

static void d_timeout(uv_timer_t *t) {
  disc *d = t->data;
  uv_udp_recv_stop(&d->sock);
  uv_close((uv_handle_t *)&d->sock, NULL);
  uv_close((uv_handle_t *)&d->timer, NULL);
}

/* The request: NON GET with the URI's path and query, our token. */
static int build(const rc_uri *u, disc *d, uint8_t *buf, size_t cap,
                 const uint8_t **out, size_t *len) {
  rc_opt opts[64];
  size_t nopts = 0;
  uint8_t scratch[1024];
  if (rc_uri_to_opts(u, RC_URI_OMIT_HOST | RC_URI_OMIT_PORT, opts, 64,
                     &nopts, scratch, sizeof scratch, NULL) != RC_OK)
    return -1;
  rc_enc e;
  rc_enc_init(&e, buf, cap, RC_GET, d->token, sizeof d->token);
  for (size_t i = 0; i < nopts; i++)
    rc_enc_opt(&e, opts[i].num, opts[i].val, opts[i].len);
  uint16_t mid;
  uv_random(NULL, NULL, &mid, sizeof mid, 0, NULL);
  return rc_enc_finish(&e, RC_FRAMING_UDP, RC_TYPE_NON, mid, out, len) ==
                 RC_OK
             ? 0
             : -1;
}

int rcoap_discover(const char *uri_text, double timeout_s) {
  if (uri_text == NULL)
    uri_text = DEFAULT_GROUP;
  rc_uri u;
  if (rc_uri_parse(uri_text, strlen(uri_text), &u) != RC_OK ||
      u.scheme != RC_SCHEME_COAP || !u.host_is_literal) {
    fprintf(stderr, "rcoap: discover takes coap://GROUP (an IP literal "
                    "such as %s or [%s]): '%s'\n",
            RC_MULTICAST_GROUP4, RC_MULTICAST_GROUP6, uri_text);
    return EX_URI;
  }
  /* no path: /.well-known/core (RFC 7252 §7.2) */
  char with_path[600];
  if (u.path_len == 0 && !u.has_query) {
    snprintf(with_path, sizeof with_path, "%s/.well-known/core", uri_text);
    uri_text = with_path;
    rc_uri_parse(uri_text, strlen(uri_text), &u);
  }
  char host[64];
  struct sockaddr_storage to;
  memset(&to, 0, sizeof to);
  if (u.host_len >= sizeof host)
    return EX_URI;
  memcpy(host, u.host, u.host_len);
  host[u.host_len] = 0;
  int v6 = u.host_is_ipv6;
  if ((v6 ? uv_ip6_addr(host, u.port, (struct sockaddr_in6 *)&to)
          : uv_ip4_addr(host, u.port, (struct sockaddr_in *)&to)) != 0) {
    fprintf(stderr, "rcoap: '%s' is not an IP address\n", host);
    return EX_URI;
  }
  if (v6 && u.zone != NULL) {
    /* coap://[ff02::fd%25eth0]: the interface to send on (RFC 6874) */
    char zone[IF_NAMESIZE];
    unsigned idx = 0;
    if (u.zone_len < sizeof zone) {
      memcpy(zone, u.zone, u.zone_len);
      zone[u.zone_len] = 0;
      idx = if_nametoindex(zone);
    }
    if (idx == 0) {
      fprintf(stderr, "rcoap: no interface '%.*s'\n", (int)u.zone_len,
              u.zone);
      return EX_URI;
    }
    ((struct sockaddr_in6 *)&to)->sin6_scope_id = idx;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  static disc d;
  memset(&d, 0, sizeof d);
  uv_random(NULL, NULL, d.token, sizeof d.token, 0, NULL);
  uint8_t buf[1280];
  const uint8_t *req;
  size_t len;
  if (build(&u, &d, buf, sizeof buf, &req, &len) != 0) {
    fprintf(stderr, "rcoap: cannot build the request for '%s'\n", uri_text);
    uv_loop_close(&loop);
    return EX_URI;
  }
  uv_udp_init(&loop, &d.sock);
  uv_timer_init(&loop, &d.timer);
  d.sock.data = d.timer.data = &d;
  struct sockaddr_storage any;
  memset(&any, 0, sizeof any);
  any.ss_family = (sa_family_t)(v6 ? AF_INET6 : AF_INET);
  uv_buf_t b = uv_buf_init((char *)(uintptr_t)req, (unsigned)len);
  int r = uv_udp_bind(&d.sock, (const struct sockaddr *)&any, 0);
  if (r == 0)
    r = uv_udp_recv_start(&d.sock, d_alloc, d_recv);
  if (r == 0)
    r = uv_udp_try_send(&d.sock, &b, 1, (const struct sockaddr *)&to) ==
                (int)len
            ? 0
            : -1;
  if (r != 0) {
    fprintf(stderr, "rcoap: cannot send to %s: %s\n", uri_text,
            r < 0 && r != -1 ? uv_strerror(r) : "send failed");
    uv_close((uv_handle_t *)&d.sock, NULL);
    uv_close((uv_handle_t *)&d.timer, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return EX_CONNECT;
  }
  uv_timer_start(&d.timer, d_timeout, (uint64_t)(timeout_s * 1000), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  if (d.answers == 0) {
    fprintf(stderr, "rcoap: no answer to the multicast request within -T "
                    "%g s\n",
            timeout_s);
    return EX_TIMEOUT;
  }
  return EX_OK;
}
