/*
 * Internal structures of the app layer, shared by its files: the context,
 * the resource table, and the per-connection "peer" that joins an rc_conn
 * to its rc_exchange.
 */
#ifndef RCOAP_APP_INT_H
#define RCOAP_APP_INT_H

#include <stddef.h>
#include <string.h>

#include "common/fastpath.h"
#include "rcoap/app.h"
#include "rcoap/transport_listen.h"

#define APP_MAX_LISTENERS 16
#define APP_RES_BUCKETS 256u
/* Free 16 KiB output chunks a context keeps for its sessions' bursts:
 * what concurrent handshakes and bursts leave behind stays (64 KiB), not
 * 16 per context (256 KiB, counted as ~13 KB per idle peer by
 * bench/webrtc.sh). */
#define APP_CHUNKS_KEPT 4u
/* Internal rc_resource flag: a reverse proxy's route, which forwards the
 * unrecognized safe-to-forward critical options of its requests (RFC
 * 7252 §5.7.2) instead of refusing them (rc_xreq_unknown_forwardable). */
#define APP_RES_FORWARDS (1u << 31)

typedef struct app_attr {
  struct app_attr *next;
  char *name;
  char *value; /* NULL: a flag */
  int quoted;
} app_attr;

/* A request whose unrecognized critical option (safe to forward) no route
 * takes is refused as the exchange refuses one (RFC 7252 §5.4.1): 1 when
 * it was answered so. */
int rc__app_refuse_unknown(const rc_resource *r, rc_xreq *req);

struct rc_resource {
  rc_resource *next;  /* all resources, sorted by path */
  rc_resource *hnext; /* hash chain */
  uint32_t hash;
  char *path;
  size_t path_len;
  unsigned flags;
  void *user;
  rc_handler handlers[8]; /* index: method code 1..7 */
  app_attr *attrs, *attrs_tail;
  /* block-wise and observe (body.c, observe.c) */
  rc_context *ctx;
  uint64_t body_max;          /* 0: the exchange default */
  rc_body_start_fn on_body;
  struct app_obs *observers;  /* observe.c; registration order */
  struct app_obs *observers_tail;
  size_t nobservers;
  uint32_t obs_seq;
  uint8_t observable;
  /* Called when its last observer goes (the proxy's relays; the callee
   * must not free the resource from inside: a notify round may run). */
  void (*on_unobserved)(rc_resource *r);
  struct app_static *stat; /* res_static.c: a GET answer encoded once */
};

/* A peer's Release instruction for an origin (release.c). */
typedef struct app_redirect {
  struct app_redirect *next;
  char *origin;          /* origin key, stored after the struct */
  rc_time not_before;    /* Hold-Off: no connection before this */
  int has_alt;
  char host[RC_URI_HOST_MAX + 1]; /* Alternative-Address, if has_alt */
  uint16_t port;
} app_redirect;

typedef struct app_creq app_creq;
typedef struct app_peer app_peer;

/* One connection of the context, in either direction. */
struct app_peer {
  /* A parked connection has no peer (peer_on_park frees it: the
   * transport keeps the connection, and gives it back through
   * peer_on_unpark to a new one). */
  rc_context *ctx;
  rc_conn *conn;
  app_peer *prev, *next; /* ctx->peers */
  /* client side */
  char *origin;          /* origin key; NULL for server connections and
                            for released client connections */
  app_creq *wait_head, *wait_tail; /* requests waiting for on_open */
  app_creq *pings;       /* Pings sent, waiting for their Pong */
  uv_timer_t *timer;     /* exchange timeouts, or the delayed connect
                            below; allocated on first use */
  /* A connect delayed by a Release's Hold-Off (conn is NULL until then). */
  char *dial_host;
  uint16_t dial_port;
  uint8_t dial_kind;
  rc_tls_ctx *dial_tls;
  const char *close_detail; /* during on_closed only */
  rc_exchange *x; /* beside plain: both are touched per message */
  uint8_t open;
  uint8_t released;
  /* The message being handled was answered by rc__app_static_plain and
   * changed nothing in the exchange (rc__app_dispatch clears it): its
   * timer needs no new look (peer_on_message). */
  uint8_t plain;
  struct app_obs *obs;        /* observations on this connection */
  app_peer *turn_next;        /* turn_flush.c: output held to the turn's end */
  uint8_t turn_held;
  uint8_t obs_skipped;        /* observe.c: an observation here is owed the
                                 current state (rc__app_observe_catch_up) */
  uint32_t direct_turn;       /* turn_flush.c: the turn it was last written
                                 directly in */
  struct app_access *access;  /* requests awaiting their answer (access.c) */
  struct app_proxy *proxy;    /* proxy.c; NULL: not a proxy */
  struct app_wr_dial *wr_dial; /* webrtc.c: signaling in flight */
};


/* A client request of rc_request(). */
struct app_creq {
  app_creq *next;
  app_peer *peer;
  rc_request_cb cb;
  void *arg;
  uint8_t method;
  uint32_t timeout_ms;
  size_t nopts;
  rc_opt *opts;      /* into blob */
  uint8_t *payload;  /* into blob */
  size_t payload_len;
  uint8_t *blob;     /* option values and payload, owned */
  /* block-wise and observe */
  rc_exchange_req_opts xo;
  rc_body_source body;
  rc_body_sink sink;
  uint64_t xid;
  uint8_t observe;   /* notifications keep it alive */
  uint8_t sent;
  /* a Ping (rc_ping) instead of a request when ping_cb is set */
  rc_ping_cb ping_cb;
  uint32_t ping_id;
  uint8_t custody;
  uint64_t ping_sent_ns;
};

/* Lookups kept by option bytes (resource.c), a power of two. */
#define APP_MEMO_SLOTS 8

struct rc_context {
  uv_loop_t *loop;
  const rc_mem *mem;
  rc_xreq_pool *xreqs; /* request records of all its connections */
  rc_chunk_pool *chunks; /* output chunks of all its sessions (our ref) */
  rc_context_opts opts;
  rc_session_config session;
  int has_session;
  struct app_mcast *mcast; /* rc_context_multicast, or NULL */
  rc_listener *listeners[APP_MAX_LISTENERS];
  int listener_kinds[APP_MAX_LISTENERS]; /* rc_conn_kind of each */
  size_t nlisteners;
  rc_resource *resources; /* sorted by path */
  rc_resource *buckets[APP_RES_BUCKETS];
  /* resource.c: the last lookups by a request's whole option bytes */
  struct app_memo {
    uint64_t w0, w1; /* the option bytes (rc__app_match_msg: memo_key) */
    uint32_t len;    /* their length + 1; 0: unused */
    uint8_t exact;
    rc_resource *r;
  } memo[APP_MEMO_SLOTS];
  app_peer *peers;
  size_t npeers;
  size_t nparked; /* connections parked (their user pointer is ctx) */
  rc_tls_ctx *default_tls; /* owned */
  rc_tls_ctx *default_dtls; /* owned: the same for coaps:// */
  rc_budget *bodies;       /* owned: body memory of every exchange */
  rc_udp_stats udp_stats;  /* every coap:// and coaps:// session's */
  /* shutdown */
  int shutting_down;
  void (*done)(void *arg);
  void *done_arg;
  uv_timer_t *shutdown_timer;
  int freeing;
  app_redirect *redirects;    /* release.c */
  /* What our own Release carries at shutdown (rc_context_set_release). */
  char *release_alt;
  uint32_t release_hold_off;
  rc_xcapture *capture;       /* observe.c: renders notifications */
  struct rc_observation *observations; /* observe_client.c */
  struct app_turn *turn;      /* turn_flush.c: made by the first notify */
  rc_notify_stats notify_stats;
  struct app_proxy *proxy;    /* proxy.c; NULL: not a proxy */
  struct px_relay *relays;    /* proxy_observe.c */
  struct px_upstream *px_up;  /* proxy_upstream.c */
  struct rc_wr_identity *wr_id; /* webrtc.c: made on first use */
};

/* client.c: connect options for p's connection from the context's
 * settings (callbacks, session, timeouts, WS). */
void rc__app_connect_opts(app_peer *p, rc_conn_kind kind, const char *host,
                          uint16_t port, rc_conn_connect_opts *co);

/* webrtc.c: the context's DTLS identity (NULL: cannot make one); its
 * files removed; the signaling of a coaps+wr origin started; the peer of
 * that origin is gone. */
const struct rc_wr_identity *rc__app_wr_identity(rc_context *ctx);
void rc__app_wr_free(rc_context *ctx);
rc_err rc__app_wr_dial(app_peer *p, const char *host);
void rc__app_wr_peer_gone(app_peer *p);

/* turn_flush.c: the context's end-of-turn handles, made once (0 or
 * RC_ERR_NOMEM); p's output held until the end of the loop's turn, then
 * flushed once (p->x must be set); p leaves the waiting list when it is
 * freed; the handles are closed with the context. */
typedef struct app_turn app_turn;
rc_err rc__app_turn_init(rc_context *ctx);
void rc__app_turn_hold(app_peer *p);
/* Non-zero when p may be written directly now (not yet in this turn, and
 * nothing of it held); rc__app_turn_direct: it was. */
int rc__app_turn_direct_ok(const app_peer *p);
void rc__app_turn_direct(app_peer *p);
void rc__app_turn_forget(app_peer *p);
void rc__app_turn_free(rc_context *ctx);

/* context.c */
void rc__app_log(rc_context *ctx, int level, const char *fmt, ...);
rc_time rc__app_now(const rc_context *ctx);
app_peer *rc__app_peer_new(rc_context *ctx, rc_conn *c);
/* Unlinks and frees a peer (its conn is not touched). */
void rc__app_peer_free(app_peer *p);
/* The connection callbacks for ctx's connections. */
const rc_conn_callbacks *rc__app_conn_cb(const rc_context *ctx);
void rc__app_arm_timer(app_peer *p);
void rc__app_check_shutdown(rc_context *ctx);

/* resource.c */
void rc__app_dispatch(void *user, rc_exchange *x, rc_xreq *req);
void rc__app_resources_free(rc_context *ctx);
uint32_t rc__app_path_hash(const char *s, size_t n);

rc_resource *rc__app_match(rc_context *ctx, const char *path, size_t n);
/* The resource for m's Uri-Path (matched on the options, no string
 * built): exact (*exact = 1), else the longest prefix resource above it,
 * else NULL. RC_ERR_NOBUF when the path is longer than RC_APP_PATH_MAX. */
rc_err rc__app_match_msg(rc_context *ctx, const rc_msg *m, rc_resource **out,
                         int *exact);
/* Forgets the lookups rc__app_match_msg keeps (the table changed). */
void rc__app_memo_clear(rc_context *ctx);

/*
 * The lookup memo (ctx->memo): a request whose whole option bytes (up to
 * 16, the usual GET's) equal an earlier one's names the same Uri-Path
 * (the options are a function of their bytes), so it finds the same
 * resource while the table is unchanged (every add and remove clears the
 * memo). Its key is the bytes as two words with every byte in one of
 * them (overlapping loads, as seg_eq compares), which for one length is
 * the bytes themselves; a small direct-mapped table indexed by a mix of
 * the key keeps a few paths served by turns. Here, inline, so that a hit
 * (rc__app_memo_hit) costs no call.
 */
typedef struct app_memo_key {
  uint64_t w0, w1;
  uint32_t len; /* bytes + 1 */
} app_memo_key;

static inline int rc__app_memo_key(const rc_msg *m, app_memo_key *k) {
  size_t n = m->opts_len;
  const uint8_t *a = m->opts;
  uint64_t x = 0, y = 0;
  if (n > 16)
    return 0;
  if (n >= 8) {
    memcpy(&x, a, 8);
    memcpy(&y, a + n - 8, 8);
  } else if (n >= 4) {
    uint32_t lo, hi;
    memcpy(&lo, a, 4);
    memcpy(&hi, a + n - 4, 4);
    x = lo;
    y = hi;
  } else if (n > 0) {
    x = (uint64_t)a[0] | (uint64_t)a[n / 2] << 8 | (uint64_t)a[n - 1] << 16;
  }
  k->w0 = x;
  k->w1 = y;
  k->len = (uint32_t)n + 1;
  return 1;
}

static inline struct app_memo *rc__app_memo_slot(rc_context *ctx,
                                                 const app_memo_key *k) {
  uint64_t h = (k->w0 ^ (k->w1 * 0x9e3779b97f4a7c15ull) ^ k->len) *
               0xff51afd7ed558ccdull;
  return &ctx->memo[h >> 61 & (APP_MEMO_SLOTS - 1)];
}

/* The memo's resource for m (NULL: none found there, or none to find:
 * ask rc__app_match_msg). */
static inline rc_resource *rc__app_memo_hit(rc_context *ctx,
                                            const rc_msg *m) {
  app_memo_key k;
  if (!rc__app_memo_key(m, &k))
    return NULL;
  const struct app_memo *e = rc__app_memo_slot(ctx, &k);
  return e->len == k.len && e->w0 == k.w0 && e->w1 == k.w1 ? e->r : NULL;
}

/* body.c */
void rc__app_body_start(void *user, rc_exchange *x, rc_xreq *req);

/* observe.c */
/* A GET to an observable resource, or any GET on a connection with
 * observations: registers / deregisters and calls h. */
void rc__app_observe_dispatch(rc_context *ctx, rc_resource *r, app_peer *p,
                              rc_xreq *req, rc_handler h);
/* UDP: the notification on this token was rejected with RST or never
 * acknowledged: RFC 7641 §3.6 / §4.5 remove the observer. */
void rc__app_observe_lost(app_peer *p, const uint8_t *tok, size_t tkl);
void rc__app_observe_catch_up(app_peer *p);
void rc__app_observe_on_writable(void *user, rc_conn *c);
/* Registers (p, m's token and options, key) as an observer of r outside a
 * dispatch (a deferred registration: the proxy's first notification).
 * Returns 0 or RC_ERR_NOMEM. */
rc_err rc__app_observe_add(rc_resource *r, app_peer *p, const rc_msg *m,
                           uint64_t key);
void rc__app_observe_peer_gone(app_peer *p);
void rc__app_observe_res_gone(rc_resource *r);
/* res_static.c: frees res's static representation (res_free). */
typedef struct app_static app_static;
void rc__app_static_free(rc_resource *res);
/* res_static.c: the exchange's on_plain (user: the app_peer): a static
 * GET answer sent without a request record, or NULL. */
const rc_msg_tail *rc__app_static_plain(void *user, const rc_msg *m,
                                        uint8_t *code);
void rc__app_observe_free(rc_context *ctx);

/* release.c */
void rc__app_note_release(rc_context *ctx, const char *origin,
                          const rc_session_release_info *info);
const app_redirect *rc__app_redirect(const rc_context *ctx, const char *key);
void rc__app_redirects_free(rc_context *ctx);

/* proxy_observe.c: a GET with Observe for an upstream target, relayed
 * through one shared upstream observation; 1 when it took req. */
int rc__app_proxy_observe(rc_context *ctx, rc_xreq *req, const char *uri,
                          const char *origin, const rc_opt *opts,
                          size_t nopts, uint32_t timeout_ms);
void rc__app_proxy_observe_free(rc_context *ctx);

/* proxy.c */
/* The request carries Proxy-Uri or Proxy-Scheme. */
int rc__app_proxy_is_forward(const rc_xreq *req);
/* Options each side's exchange makes for itself, never relayed. */
int rc__app_proxy_hop_by_hop(uint16_t num);
/* on_body_start of a forward-proxy upload (proxy_upload.c). */
void rc__app_proxy_body_start(rc_context *ctx, rc_xreq *req);
/* A forward-proxy request: forwarded or refused, and 1; else 0. */
int rc__app_proxy_request(rc_context *ctx, rc_xreq *req);
void rc__app_proxy_free(rc_context *ctx);
/* Whether u may be a target: 0, or the code to refuse with (5.05: scheme,
 * and when check the allow rules and our own listeners) and a sentence
 * in diag. origin receives "scheme://host:port" for diagnostics. */
uint8_t rc__proxy_target_check(const rc_context *ctx, const rc_uri *u,
                               int check, char *origin, size_t ocap,
                               char *diag, size_t dcap);
/* The target URI of the longest route whose prefix starts path[0..len)
 * ("/devices/lamp/x?q"), the rest appended, into out: 1, 0 when no route
 * matches, -1 when it does not fit. */
int rc__proxy_route_uri(const rc_context *ctx, const char *path, size_t len,
                        char *out, size_t cap);
/* The proxy's options, NULL when ctx is not a proxy. */
const struct rc_proxy_opts *rc__proxy_opts(const rc_context *ctx);

/* discovery.c */
rc_err rc__app_add_well_known_core(rc_context *ctx);
/* Serializes every visible resource passing the filter query[0..qlen)
 * ("" passes all) into buf (*len bytes). Returns the size it needed. */
size_t rc__app_core_links(rc_context *ctx, const char *query, size_t qlen,
                          char *buf, size_t cap, size_t *len);
/* mcast.c: closes the multicast responder (rc_context_multicast). */
void rc__app_mcast_stop(rc_context *ctx);

/* client.c */
void rc__app_peer_opened(app_peer *p);
void rc__app_peer_fail_waiting(app_peer *p, rc_err reason, const char *detail);
/* A peer that never got a conn given up: freed, then its waiting requests
 * and Pings failed (their callbacks may shut the context down). */
void rc__app_peer_fail_free(app_peer *p, rc_err reason, const char *detail);
/* The conn's on_pong: completes the rc_ping with that ping id. */
void rc__app_on_pong(void *user, rc_conn *c, uint32_t ping_id, rc_time rtt,
                     int custody);
void rc__app_creq_free(rc_context *ctx, app_creq *r);
/* The detail a request's callback gets with a notification (a 2.xx with
 * Observe on an observing request): the same empty text as before, told
 * apart by its address. */
extern const char rc__app_notified[];
/* rc_request with the observe flag (observe_client.c): the callback runs
 * for every notification; *creq is the live request (for cancelling). */
rc_err rc__app_request_observe(rc_context *ctx, const char *uri,
                               const rc_request_opts *ro, rc_request_cb cb,
                               void *arg, app_creq **creq);
void rc__app_creq_cancel(app_creq *r);
void rc__app_observations_free(rc_context *ctx);
/* p's server released the connection (RFC 8323 §5.5): every observation
 * registered on p is forgotten there and registered again on the origin's
 * next connection (after the Hold-Off, or at the Alternative-Address). */
void rc__app_observations_move(app_peer *p);

/* access.c: with opts.on_access, every message of a connection (both
 * ways); an answered request becomes one rc_access_entry. */
void rc__app_access_trace(app_peer *p, int sent, const rc_msg *m);
void rc__app_access_free(app_peer *p);
/* The URI scheme of a connection kind: "coap+tcp", "coaps+ws", ... */
const char *rc__app_kind_scheme(rc_conn_kind k);

#endif
