/*
 * Multicast discovery (RFC 7252 §8, RFC 7390 §2.6): a receive socket per
 * family bound to the CoAP port (shared with other servers on the host:
 * SO_REUSEADDR) and joined to "All CoAP Nodes" (224.0.1.187, ff02::fd).
 * A NON GET /.well-known/core gets the context's links (filtered by its
 * query) after a random leisure, as NON, from the context's unicast
 * coap:// listener of the same family (§8.2: the response comes from the
 * server's unicast address); anything else, and an empty filtered
 * result, gets nothing (§8.2). Answers waiting for their leisure are
 * bounded (MC_PENDING); more requests meanwhile are dropped.
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "app_int.h"
#include "rcoap/codec_block.h"
#include "rcoap/codec_option.h"

/* Answers waiting for their leisure at once. */
#define MC_PENDING 16u
/* RFC 7252 §4.6: a datagram of at most 1152 bytes, 1024 of payload. */
#define MC_DGRAM 1152u
#define MC_PAYLOAD 1024u

typedef struct mc_answer {
  uv_timer_t timer;
  struct app_mcast *mc;
  struct sockaddr_storage to;
  size_t len; /* 0: slot free */
  uint8_t buf[MC_DGRAM + RC_ENC_HEADROOM];
  const uint8_t *dgram;
} mc_answer;

typedef struct app_mcast {
  rc_context *ctx; /* NULL once stopped */
  const rc_mem *mem;
  uv_udp_t sock[2]; /* [0] IPv4, [1] IPv6 */
  uint8_t open[2];  /* sock[i] joined and reading */
  int nsock;
  int open_handles;
  uint32_t leisure_ms;
  uint64_t rng;
  uint8_t rbuf[MC_DGRAM + 64];
  mc_answer ans[MC_PENDING];
} app_mcast;

static uint32_t mc_rand(app_mcast *mc) {
  mc->rng ^= mc->rng << 13;
  mc->rng ^= mc->rng >> 7;
  mc->rng ^= mc->rng << 17;
  return (uint32_t)(mc->rng >> 32);
}

static void mc_close_cb(uv_handle_t *h) {
  /* a timer's data is its answer; a socket's the responder */
  app_mcast *mc = h->type == UV_TIMER ? ((mc_answer *)h->data)->mc
                                      : (app_mcast *)h->data;
  if (--mc->open_handles == 0)
    mc->mem->free(mc, mc->mem->user);
}

/* 1 if m is GET /.well-known/core; its first Uri-Query (the RFC 6690
 * filter) in *q. */
static int is_core_get(const rc_msg *m, rc_opt *q) {
  static const char *const seg[2] = {".well-known", "core"};
  rc_opt_iter it;
  rc_opt o;
  int n = 0, has_q = 0;
  if (m->code != RC_GET)
    return 0;
  rc_opt_iter_init(&it, m);
  while (rc_opt_next(&it, &o)) {
    if (o.num == RC_OPT_URI_PATH) {
      if (n >= 2 || o.len != strlen(seg[n]) || memcmp(o.val, seg[n], o.len))
        return 0;
      n++;
    } else if (o.num == RC_OPT_URI_QUERY && !has_q) {
      *q = o;
      has_q = 1;
    } else if (rc_opt_is_critical(o.num) && o.num != RC_OPT_URI_HOST &&
               o.num != RC_OPT_URI_PORT && o.num != RC_OPT_ACCEPT) {
      return 0; /* a critical option we do not act on: no answer */
    }
  }
  if (!has_q)
    q->len = 0;
  return n == 2;
}

/* The answer to a multicast request, or 0 (no answer). Pure: the
 * datagram in, the datagram out. */
static size_t mc_answer_for(app_mcast *mc, const uint8_t *d, size_t n,
                            mc_answer *a) {
  rc_msg m;
  rc_opt q;
  /* RFC 7252 §8.1: "Such multicast requests MUST be Non-confirmable."
   * A CON, anything unparsable and any other request get nothing: no
   * error answers to a group (§8.2), and §8.2: a server that knows a
   * request came by multicast "MUST NOT return a Reset message in reply
   * to a Non-confirmable message" (this socket sends none). */
  if (rc_msg_parse(RC_FRAMING_UDP, d, n, &m) != RC_OK ||
      m.type != RC_TYPE_NON || m.token_len > RC_TOKEN_MAX ||
      !is_core_get(&m, &q))
    return 0;
  char query[256];
  if (q.len >= sizeof query)
    return 0;
  if (q.len > 0) /* no query: q.val is NULL, which memcpy may not take */
    memcpy(query, q.val, q.len);
  query[q.len] = 0;
  char links[4096];
  size_t len = 0;
  rc__app_core_links(mc->ctx, query, q.len, links, sizeof links, &len);
  /* An empty filtered list gets no answer (RFC 7252 §8.2 and RFC 6690
   * §4.1 ask a server not to answer a multicast query it has nothing
   * for). */
  if (len == 0)
    return 0;
  rc_enc e;
  rc_enc_init(&e, a->buf, sizeof a->buf, RC_CONTENT, m.token, m.token_len);
  rc_enc_opt_uint(&e, RC_OPT_CONTENT_FORMAT, RC_CF_LINK_FORMAT);
  if (len > MC_PAYLOAD) {
    /* the first block; the client fetches the rest by unicast */
    uint8_t b[3];
    rc_block blk = {0, 1, 6};
    size_t bl = rc_block_encode(&blk, b);
    rc_enc_opt(&e, RC_OPT_BLOCK2, b, bl);
    len = MC_PAYLOAD;
  }
  rc_enc_payload(&e, links, len);
  /* §8.1: the answer to a multicast request is Non-confirmable. */
  if (rc_enc_finish(&e, RC_FRAMING_UDP, RC_TYPE_NON, (uint16_t)mc_rand(mc),
                    &a->dgram, &a->len) != RC_OK)
    return 0;
  return a->len;
}

static void mc_send(uv_timer_t *t) {
  mc_answer *a = t->data;
  app_mcast *mc = a->mc;
  const struct sockaddr *to = (const struct sockaddr *)&a->to;
  size_t len = a->len;
  a->len = 0;
  if (mc->ctx == NULL)
    return;
  rc_context *ctx = mc->ctx;
  for (size_t i = 0; i < ctx->nlisteners; i++)
    if (ctx->listener_kinds[i] == RC_CONN_UDP &&
        rc_listener_family(ctx->listeners[i]) == to->sa_family &&
        rc_listener_send_datagram(ctx->listeners[i], to, a->dgram, len) ==
            RC_OK)
      return;
  /* no unicast listener of that family: from the group socket */
  uv_buf_t b = uv_buf_init((char *)(uintptr_t)a->dgram, (unsigned)len);
  int i = to->sa_family == AF_INET6;
  if (mc->open[i])
    uv_udp_try_send(&mc->sock[i], &b, 1, to);
}

static void mc_alloc(uv_handle_t *h, size_t s, uv_buf_t *buf) {
  app_mcast *mc = h->data;
  (void)s;
  buf->base = (char *)mc->rbuf;
  buf->len = sizeof mc->rbuf;
}

static void mc_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf,
                    const struct sockaddr *from, unsigned flags) {
  app_mcast *mc = h->data;
  if (n <= 0 || from == NULL || mc->ctx == NULL || (flags & UV_UDP_PARTIAL))
    return;
  mc_answer *a = NULL;
  for (size_t i = 0; i < MC_PENDING && a == NULL; i++)
    if (mc->ans[i].len == 0)
      a = &mc->ans[i];
  if (a == NULL || mc_answer_for(mc, (const uint8_t *)buf->base,
                                 (size_t)n, a) == 0)
    return;
  memcpy(&a->to, from,
         from->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                     : sizeof(struct sockaddr_in));
  /* RFC 7252 §8.2: the answer goes at a random time within the leisure
   * period, so that the group's answers do not all arrive at once. */
  uint64_t wait = mc->leisure_ms
                      ? ((uint64_t)mc_rand(mc) * mc->leisure_ms) >> 32
                      : 0;
  uv_timer_start(&a->timer, mc_send, wait, 0);
}

/* Opens the group socket of one family. */
static rc_err mc_open(app_mcast *mc, int family, uint16_t port,
                      unsigned ifindex, char *err, size_t errcap) {
  uv_udp_t *h = &mc->sock[family == AF_INET6];
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  if (family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
  }
  uv_udp_init_ex(mc->ctx->loop, h, (unsigned)family);
  h->data = mc;
  mc->open_handles++;
  /* Shared with the other CoAP servers of the host: each gets a copy of
   * every group datagram. */
  int r = uv_udp_bind(h, (const struct sockaddr *)&ss,
                      UV_UDP_REUSEADDR |
                          (family == AF_INET6 ? UV_UDP_IPV6ONLY : 0));
  uv_os_fd_t fd;
  if (r == 0)
    r = uv_fileno((uv_handle_t *)h, &fd);
  if (r == 0 && family == AF_INET) {
    struct ip_mreqn mr;
    memset(&mr, 0, sizeof mr);
    inet_pton(AF_INET, RC_MULTICAST_GROUP4, &mr.imr_multiaddr);
    mr.imr_ifindex = (int)ifindex;
    r = setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr) == 0
            ? 0
            : -1;
  } else if (r == 0) {
    struct ipv6_mreq mr;
    memset(&mr, 0, sizeof mr);
    inet_pton(AF_INET6, RC_MULTICAST_GROUP6, &mr.ipv6mr_multiaddr);
    mr.ipv6mr_interface = ifindex;
    r = setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mr, sizeof mr) == 0
            ? 0
            : -1;
  }
  if (r == 0)
    r = uv_udp_recv_start(h, mc_alloc, mc_recv);
  if (r != 0) {
    snprintf(err, errcap, "cannot join %s on port %u",
             family == AF_INET ? RC_MULTICAST_GROUP4 : RC_MULTICAST_GROUP6,
             (unsigned)port);
    uv_close((uv_handle_t *)h, mc_close_cb);
    return RC_ERR_IO;
  }
  mc->open[family == AF_INET6] = 1;
  mc->nsock++;
  return RC_OK;
}

rc_err rc_context_multicast(rc_context *ctx, const rc_multicast_opts *o,
                            char *errbuf, size_t errcap) {
  char scratch[1];
  if (errbuf == NULL || errcap == 0) {
    errbuf = scratch;
    errcap = sizeof scratch;
  }
  errbuf[0] = 0;
  if (ctx == NULL || o == NULL || ctx->mcast != NULL ||
      (o->no_ipv4 && o->no_ipv6))
    return RC_ERR_INVAL;
  unsigned ifindex = 0;
  if (o->ifname != NULL && (ifindex = if_nametoindex(o->ifname)) == 0) {
    snprintf(errbuf, errcap, "no interface %s", o->ifname);
    return RC_ERR_NOT_FOUND;
  }
  app_mcast *mc = ctx->mem->malloc(sizeof *mc, ctx->mem->user);
  if (mc == NULL)
    return RC_ERR_NOMEM;
  memset(mc, 0, sizeof *mc);
  mc->ctx = ctx;
  mc->mem = ctx->mem;
  mc->leisure_ms = o->leisure_ms ? o->leisure_ms : RC_MULTICAST_LEISURE_MS;
  mc->rng = uv_hrtime() ^ (uint64_t)(uintptr_t)mc ^ 0x9E3779B97F4A7C15ULL;
  uint16_t port = o->port ? o->port : 5683;
  /* one reference for ourselves while the sockets open */
  mc->open_handles = 1;
  for (size_t i = 0; i < MC_PENDING; i++) {
    uv_timer_init(ctx->loop, &mc->ans[i].timer);
    mc->ans[i].timer.data = &mc->ans[i];
    mc->ans[i].mc = mc;
    mc->open_handles++;
  }
  ctx->mcast = mc;
  rc_err e4 = o->no_ipv4 ? RC_ERR_INVAL
                         : mc_open(mc, AF_INET, port, ifindex, errbuf,
                                   errcap);
  char err6[128] = "";
  rc_err e6 = o->no_ipv6 ? RC_ERR_INVAL
                         : mc_open(mc, AF_INET6, port, ifindex, err6,
                                   sizeof err6);
  if (e6 != RC_OK && !o->no_ipv6 && errbuf[0] == 0)
    snprintf(errbuf, errcap, "%s", err6);
  mc->open_handles--;
  if (mc->nsock == 0) {
    rc__app_mcast_stop(ctx);
    return e4 != RC_OK && !o->no_ipv4 ? e4 : e6;
  }
  return RC_OK; /* errbuf may say which family could not join */
}

void rc__app_mcast_stop(rc_context *ctx) {
  app_mcast *mc = ctx->mcast;
  if (mc == NULL)
    return;
  ctx->mcast = NULL;
  mc->ctx = NULL;
  for (size_t i = 0; i < MC_PENDING; i++)
    uv_close((uv_handle_t *)&mc->ans[i].timer, mc_close_cb);
  for (int i = 0; i < 2; i++)
    if (mc->open[i])
      uv_close((uv_handle_t *)&mc->sock[i], mc_close_cb);
}
