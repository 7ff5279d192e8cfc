/*
 * Tests for the ICE agent (src/transport/webrtc/ice.c): two agents wired
 * back to back in memory on a fake clock, their datagrams carried between
 * two made-up addresses (or dropped), as a browser-like full agent and
 * rcoap's lite answerer would see them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "transport/webrtc/ice.h"
#include "transport/webrtc/stun.h"

static uint64_t g_now;

typedef struct end {
  rc_ice *ice;
  struct sockaddr_in addr; /* where its datagrams come from */
  char ufrag[9], pwd[33];
  bool drop_out;           /* its datagrams are lost */
  unsigned sent, requests; /* counted as they leave */
  uint64_t last_request_at;
} end;

static void mkaddr(struct sockaddr_in *a, const char *ip, uint16_t port) {
  memset(a, 0, sizeof *a);
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  inet_pton(AF_INET, ip, &a->sin_addr);
}

static void make_full(end *e, int controlling, int full, const char *ip,
                      uint16_t port) {
  memset(e, 0, sizeof *e);
  rc_ice_make_credentials(e->ufrag, e->pwd);
  rc_ice_cfg cfg = {controlling, e->ufrag, e->pwd, full};
  assert_int_equal(rc_ice_new(&e->ice, &cfg, g_now), RC_OK);
  mkaddr(&e->addr, ip, port);
}

static void make(end *e, int controlling, const char *ip, uint16_t port) {
  make_full(e, controlling, 0, ip, port);
}

/* a knows b's credentials (and, if cand, its address from the SDP). */
static void learn(end *a, const end *b, bool cand) {
  assert_int_equal(rc_ice_set_remote(a->ice, b->ufrag, b->pwd), RC_OK);
  if (cand)
    assert_int_equal(rc_ice_add_remote_candidate(
                         a->ice, (const struct sockaddr *)&b->addr, 100),
                     RC_OK);
}

/* Moves everything x has to send to y (unless dropped). */
static void carry(end *x, end *y) {
  uint8_t buf[640];
  struct sockaddr_storage to;
  size_t n;
  while ((n = rc_ice_pull(x->ice, g_now, &to, buf, sizeof buf)) > 0) {
    rc_stun_msg m;
    assert_int_equal(rc_stun_parse(&m, buf, n), RC_OK);
    x->sent++;
    if (m.cls == RC_STUN_REQUEST)
      x->requests++, x->last_request_at = g_now;
    if (!x->drop_out)
      (void)rc_ice_recv(y->ice, g_now, (const struct sockaddr *)&x->addr, buf,
                        n);
  }
}

/* Runs the clock in 10 ms steps until both are connected (or failed), at
 * most until `until`. */
static void pump(end *a, end *b, uint64_t until, bool stop_connected) {
  while (g_now < until) {
    carry(a, b);
    carry(b, a);
    if (stop_connected && rc_ice_get_state(a->ice) == RC_ICE_CONNECTED &&
        rc_ice_get_state(b->ice) == RC_ICE_CONNECTED)
      return;
    g_now += 10;
  }
}

/* A NAT in front of d (Linux masquerade: the mapping keeps d's port, the
 * filter lets in only answers to what d sent): d's datagrams leave from
 * `mapped`; the peer's reach d only when sent to `mapped` from an address
 * d has sent to. */
typedef struct nat {
  struct sockaddr_in mapped;
  bool open; /* d has sent to the peer */
  unsigned dropped;
} nat;

static bool to_is(const struct sockaddr_storage *to,
                  const struct sockaddr_in *a) {
  const struct sockaddr_in *t = (const struct sockaddr_in *)to;
  return to->ss_family == AF_INET && t->sin_port == a->sin_port &&
         t->sin_addr.s_addr == a->sin_addr.s_addr;
}

static void pump_nat(end *c, end *d, nat *n, uint64_t until) {
  uint8_t buf[640];
  struct sockaddr_storage to;
  size_t len;
  while (g_now < until) {
    while ((len = rc_ice_pull(c->ice, g_now, &to, buf, sizeof buf)) > 0) {
      if (n->open && to_is(&to, &n->mapped))
        (void)rc_ice_recv(d->ice, g_now, (const struct sockaddr *)&c->addr,
                          buf, len);
      else
        n->dropped++;
    }
    while ((len = rc_ice_pull(d->ice, g_now, &to, buf, sizeof buf)) > 0) {
      rc_stun_msg m;
      assert_int_equal(rc_stun_parse(&m, buf, len), RC_OK);
      if (m.cls == RC_STUN_REQUEST)
        d->requests++;
      if (to_is(&to, &c->addr)) {
        n->open = true;
        (void)rc_ice_recv(c->ice, g_now, (const struct sockaddr *)&n->mapped,
                          buf, len);
      }
    }
    if (rc_ice_get_state(c->ice) == RC_ICE_CONNECTED &&
        rc_ice_get_state(d->ice) == RC_ICE_CONNECTED)
      return;
    g_now += 10;
  }
}

/* Client c (public) and device d behind n, d full or lite; c knows d's
 * host candidate (unreachable) and its server-reflexive one (n's). */
static void behind_nat(end *c, end *d, nat *n, int full) {
  memset(n, 0, sizeof *n);
  mkaddr(&n->mapped, "192.0.2.1", 2222);
  make(c, 1, "192.0.2.20", 1111);
  make_full(d, 0, full, "10.0.0.2", 2222);
  learn(c, d, true);
  assert_int_equal(rc_ice_add_remote_candidate(
                       c->ice, (const struct sockaddr *)&n->mapped, 90),
                   RC_OK);
  learn(d, c, true);
}

/* A device behind a NAT answers as a controlled full agent: its own
 * checks open the NAT, the client's checks to the server-reflexive
 * candidate get through, the client nominates that pair. */
static void test_full_controlled_behind_nat(void **st) {
  (void)st;
  end c, d;
  nat n;
  behind_nat(&c, &d, &n, 1);
  /* The client's first checks go before the device's (they come first
   * in pump_nat): dropped by the NAT, then retransmitted. */
  pump_nat(&c, &d, &n, g_now + 10000);
  assert_int_equal(rc_ice_get_state(c.ice), RC_ICE_CONNECTED);
  assert_int_equal(rc_ice_get_state(d.ice), RC_ICE_CONNECTED);
  assert_memory_equal(rc_ice_selected(c.ice), &n.mapped, sizeof n.mapped);
  assert_memory_equal(rc_ice_selected(d.ice), &c.addr, sizeof c.addr);
  assert_true(d.requests > 0);  /* it did send checks */
  assert_true(n.dropped > 0);   /* and the NAT did filter */
  assert_false(rc_ice_controlling(d.ice));
  rc_ice_free(c.ice);
  rc_ice_free(d.ice);
}

/* The same device as ICE-lite never opens the NAT: no pair in 10 s. */
static void test_lite_behind_nat_fails(void **st) {
  (void)st;
  end c, d;
  nat n;
  behind_nat(&c, &d, &n, 0);
  pump_nat(&c, &d, &n, g_now + 10000);
  assert_int_not_equal(rc_ice_get_state(c.ice), RC_ICE_CONNECTED);
  assert_int_equal(d.requests, 0);
  rc_ice_free(c.ice);
  rc_ice_free(d.ice);
}

/* A controlled full agent whose checks all fail keeps waiting for the
 * controlling side (the caller bounds the wait), and never nominates. */
static void test_full_controlled_checks_fail(void **st) {
  (void)st;
  end c, d;
  make(&c, 1, "192.0.2.20", 1111);
  make_full(&d, 0, 1, "10.0.0.2", 2222);
  learn(&d, &c, true);
  uint8_t buf[640];
  struct sockaddr_storage to;
  unsigned reqs = 0;
  size_t len;
  for (uint64_t end_at = g_now + 60000; g_now < end_at; g_now += 10)
    while ((len = rc_ice_pull(d.ice, g_now, &to, buf, sizeof buf)) > 0) {
      rc_stun_msg m;
      assert_int_equal(rc_stun_parse(&m, buf, len), RC_OK);
      assert_int_equal(m.cls, RC_STUN_REQUEST);
      assert_true(m.has_controlled); /* RFC 8445 §7.1.3 */
      assert_false(m.use_candidate);
      reqs++;
    }
  assert_int_equal(reqs, RC_ICE_MAX_SENDS); /* one pair, all its sends */
  assert_int_not_equal(rc_ice_get_state(d.ice), RC_ICE_FAILED);
  rc_ice_free(c.ice);
  rc_ice_free(d.ice);
}

static int setup(void **st) {
  (void)st;
  g_now = 1000000;
  return 0;
}

static void connect_pair(end *a, end *b) {
  make(a, 1, "10.77.0.1", 40000);
  make(b, 0, "10.77.0.1", 50000);
  learn(a, b, true);
  learn(b, a, false); /* the lite side never needs the peer's candidates */
  pump(a, b, g_now + 5000, true);
  assert_int_equal(rc_ice_get_state(a->ice), RC_ICE_CONNECTED);
  assert_int_equal(rc_ice_get_state(b->ice), RC_ICE_CONNECTED);
}

static void test_both_roles_connect(void **st) {
  (void)st;
  end a, b;
  uint64_t t0 = g_now;
  connect_pair(&a, &b);
  assert_true(g_now - t0 < 200); /* no loss: no retransmission needed */
  assert_memory_equal(rc_ice_selected(a.ice), &b.addr, sizeof b.addr);
  /* b learned a's address from the check alone: peer-reflexive. */
  assert_memory_equal(rc_ice_selected(b.ice), &a.addr, sizeof a.addr);
  assert_true(rc_ice_controlling(a.ice));
  assert_false(rc_ice_controlling(b.ice));
  /* The lite side sent only responses. */
  assert_int_equal(b.requests, 0);
  /* Check, then nomination: two requests. */
  assert_int_equal(a.requests, 2);
  rc_ice_free(a.ice);
  rc_ice_free(b.ice);
}

/* The lite side selects nothing before USE-CANDIDATE. */
static void test_nomination(void **st) {
  (void)st;
  end a, b;
  make(&a, 1, "10.0.0.1", 1111);
  make(&b, 0, "10.0.0.2", 2222);
  learn(&a, &b, true);
  learn(&b, &a, false);
  carry(&a, &b); /* first check: no USE-CANDIDATE */
  assert_int_equal(rc_ice_get_state(b.ice), RC_ICE_CHECKING);
  assert_null(rc_ice_selected(b.ice));
  carry(&b, &a); /* its success: a nominates */
  assert_int_equal(rc_ice_get_state(a.ice), RC_ICE_CHECKING);
  g_now += RC_ICE_TA_MS;
  carry(&a, &b);
  assert_int_equal(rc_ice_get_state(b.ice), RC_ICE_CONNECTED);
  assert_memory_equal(rc_ice_selected(b.ice), &a.addr, sizeof a.addr);
  carry(&b, &a);
  assert_int_equal(rc_ice_get_state(a.ice), RC_ICE_CONNECTED);
  rc_ice_free(a.ice);
  rc_ice_free(b.ice);
}

/* A check signed with the wrong password, or with a wrong USERNAME, is
 * answered 401 and changes nothing. */
static void test_wrong_integrity_ignored(void **st) {
  (void)st;
  end a, b;
  make(&a, 1, "10.0.0.1", 1111);
  make(&b, 0, "10.0.0.2", 2222);
  char bad[33];
  memcpy(bad, b.pwd, sizeof bad);
  bad[0] = bad[0] == 'A' ? 'B' : 'A';
  assert_int_equal(rc_ice_set_remote(a.ice, b.ufrag, bad), RC_OK);
  assert_int_equal(rc_ice_add_remote_candidate(
                       a.ice, (const struct sockaddr *)&b.addr, 1),
                   RC_OK);
  learn(&b, &a, false);
  uint8_t buf[640], out[640];
  struct sockaddr_storage to;
  size_t n = rc_ice_pull(a.ice, g_now, &to, buf, sizeof buf);
  assert_true(n > 0);
  assert_int_equal(rc_ice_recv(b.ice, g_now, (struct sockaddr *)&a.addr, buf, n),
                   RC_ERR_STUN_AUTH);
  assert_int_equal(rc_ice_get_state(b.ice), RC_ICE_NEW);
  assert_null(rc_ice_selected(b.ice));
  size_t m = rc_ice_pull(b.ice, g_now, &to, out, sizeof out);
  rc_stun_msg r;
  assert_int_equal(rc_stun_parse(&r, out, m), RC_OK);
  assert_int_equal(r.cls, RC_STUN_ERROR);
  assert_int_equal(r.error_code, 401);
  assert_int_equal(r.integrity_off, 0);
  /* Its 401 means nothing to a: the check stays in progress. */
  assert_int_equal(rc_ice_recv(a.ice, g_now, (struct sockaddr *)&b.addr, out, m),
                   RC_ERR_STUN_AUTH);
  /* Same bytes with one bit of the HMAC flipped (CRC redone by hand would
   * be needed to pass FINGERPRINT: a flipped byte fails parsing). */
  buf[n - 9] ^= 1;
  assert_int_equal(rc_ice_recv(b.ice, g_now, (struct sockaddr *)&a.addr, buf, n),
                   RC_ERR_PROTOCOL);
  /* A request with no USERNAME: 400. */
  uint8_t tid[12], q[64];
  rc_stun_new_tid(tid);
  rc_stun_enc e;
  rc_stun_enc_begin(&e, q, sizeof q, RC_STUN_BINDING, RC_STUN_REQUEST, tid);
  rc_ssize qn = rc_stun_enc_end(&e, true);
  assert_int_equal(rc_ice_recv(b.ice, g_now, (struct sockaddr *)&a.addr, q,
                               (size_t)qn),
                   RC_ERR_PROTOCOL);
  m = rc_ice_pull(b.ice, g_now, &to, out, sizeof out);
  assert_int_equal(rc_stun_parse(&r, out, m), RC_OK);
  assert_int_equal(r.error_code, 400);
  assert_int_equal(rc_ice_get_state(b.ice), RC_ICE_NEW);
  rc_ice_free(a.ice);
  rc_ice_free(b.ice);
}

/* The browser with mDNS on: b's SDP names no usable address of a, and a's
 * checks come from an address b never saw; a v4-mapped IPv6 source (a
 * dual-stack socket) is the same address. */
static void test_peer_reflexive(void **st) {
  (void)st;
  end a, b;
  make(&a, 1, "192.168.5.5", 61000);
  make(&b, 0, "10.77.0.1", 5000);
  learn(&a, &b, true);
  learn(&b, &a, false);
  struct sockaddr_in other;
  mkaddr(&other, "10.9.9.9", 9);
  assert_int_equal(rc_ice_add_remote_candidate(b.ice, (struct sockaddr *)&other, 5),
                   RC_OK);
  assert_int_equal(rc_ice_add_remote_candidate(b.ice, (struct sockaddr *)&other, 5),
                   RC_ERR_EXISTS);
  uint8_t buf[640];
  struct sockaddr_storage to;
  size_t n = rc_ice_pull(a.ice, g_now, &to, buf, sizeof buf);
  struct sockaddr_in6 mapped;
  memset(&mapped, 0, sizeof mapped);
  mapped.sin6_family = AF_INET6;
  mapped.sin6_port = a.addr.sin_port;
  inet_pton(AF_INET6, "::ffff:192.168.5.5", &mapped.sin6_addr);
  assert_int_equal(rc_ice_recv(b.ice, g_now, (struct sockaddr *)&mapped, buf, n),
                   RC_OK);
  /* The response goes back to the source, XOR-MAPPED-ADDRESS names it. */
  size_t m = rc_ice_pull(b.ice, g_now, &to, buf, sizeof buf);
  rc_stun_msg r;
  assert_int_equal(rc_stun_parse(&r, buf, m), RC_OK);
  assert_int_equal(r.cls, RC_STUN_SUCCESS);
  assert_memory_equal(&to, &a.addr, sizeof a.addr);
  assert_memory_equal(&r.xor_mapped, &a.addr, sizeof a.addr);
  assert_int_equal(rc_ice_recv(a.ice, g_now, (struct sockaddr *)&b.addr, buf, m),
                   RC_OK);
  pump(&a, &b, g_now + 1000, true);
  assert_memory_equal(rc_ice_selected(b.ice), &a.addr, sizeof a.addr);
  rc_ice_free(a.ice);
  rc_ice_free(b.ice);
}

/* Consent: kept for minutes while answered; requests every 4..6 s. */
static void test_consent_kept(void **st) {
  (void)st;
  end a, b;
  connect_pair(&a, &b);
  unsigned before = a.requests;
  uint64_t t0 = g_now, last = g_now;
  while (g_now < t0 + 120000) {
    carry(&a, &b);
    carry(&b, &a);
    if (a.requests > before) {
      uint64_t gap = a.last_request_at - last;
      assert_true(gap >= 4000 && gap <= 6010);
      last = a.last_request_at;
      before = a.requests;
    }
    g_now += 10;
  }
  assert_int_equal(rc_ice_get_state(a.ice), RC_ICE_CONNECTED);
  assert_int_equal(rc_ice_get_state(b.ice), RC_ICE_CONNECTED);
  assert_true(a.requests >= 2 + 120 / 6);
  rc_ice_free(a.ice);
  rc_ice_free(b.ice);
}

/* Consent lost 30 s after the last answer: both sides, the controlling
 * one by its requests going unanswered, the lite one by requests no
 * longer arriving. */
static void test_consent_expiry(void **st) {
  (void)st;
  end a, b;
  connect_pair(&a, &b);
  uint64_t cut = g_now;
  b.drop_out = true; /* b's answers are lost */
  pump(&a, &b, cut + 29990, false);
  assert_int_equal(rc_ice_get_state(a.ice), RC_ICE_CONNECTED);
  assert_int_equal(rc_ice_get_state(b.ice), RC_ICE_CONNECTED);
  pump(&a, &b, cut + 30100, false);
  assert_int_equal(rc_ice_get_state(a.ice), RC_ICE_FAILED);
  /* b still hears a's consent requests (the last one at most 6 s ago). */
  assert_int_equal(rc_ice_get_state(b.ice), RC_ICE_CONNECTED);
  uint64_t heard = a.last_request_at;
  pump(&a, &b, heard + 29990, false);
  assert_int_equal(rc_ice_get_state(b.ice), RC_ICE_CONNECTED);
  pump(&a, &b, heard + 30100, false);
  assert_int_equal(rc_ice_get_state(b.ice), RC_ICE_FAILED);
  assert_int_equal(rc_ice_next_timeout(a.ice), UINT64_MAX);
  uint8_t x[RC_STUN_HEADER] = {0};
  assert_int_equal(rc_ice_recv(a.ice, g_now, (struct sockaddr *)&b.addr, x, sizeof x),
                   RC_ERR_STATE);
  rc_ice_free(a.ice);
  rc_ice_free(b.ice);
}

/* An unanswered check: sent 7 times, 500 ms doubling, then FAILED. */
static void test_retransmission(void **st) {
  (void)st;
  end a, b;
  make(&a, 1, "10.0.0.1", 1111);
  make(&b, 0, "10.0.0.2", 2222);
  learn(&a, &b, true);
  uint64_t t0 = g_now, at[RC_ICE_MAX_SENDS + 1];
  unsigned sends = 0;
  uint8_t buf[640];
  struct sockaddr_storage to;
  uint8_t tid[12];
  while (rc_ice_get_state(a.ice) != RC_ICE_FAILED && g_now < t0 + 100000) {
    uint64_t next = rc_ice_next_timeout(a.ice);
    assert_true(next != UINT64_MAX);
    if (next > g_now)
      g_now = next;
    size_t n;
    while ((n = rc_ice_pull(a.ice, g_now, &to, buf, sizeof buf)) > 0) {
      rc_stun_msg m;
      assert_int_equal(rc_stun_parse(&m, buf, n), RC_OK);
      if (sends)
        assert_memory_equal(m.tid, tid, sizeof tid); /* same transaction */
      memcpy(tid, m.tid, sizeof tid);
      assert_true(sends <= RC_ICE_MAX_SENDS);
      at[sends++] = g_now;
    }
  }
  assert_int_equal(sends, RC_ICE_MAX_SENDS);
  for (unsigned i = 1; i < sends; i++)
    assert_int_equal(at[i] - at[i - 1], (uint64_t)RC_ICE_RTO_MS << (i - 1));
  assert_int_equal(rc_ice_get_state(a.ice), RC_ICE_FAILED);
  rc_ice_free(a.ice);
  rc_ice_free(b.ice);
}

/* Both think they are controlling: 487 sorts it out. */
static void test_role_conflict(void **st) {
  (void)st;
  end a, b;
  make(&a, 1, "10.0.0.1", 1111);
  make(&b, 1, "10.0.0.2", 2222);
  learn(&a, &b, true);
  learn(&b, &a, true);
  pump(&a, &b, g_now + 5000, true);
  assert_int_equal(rc_ice_get_state(a.ice), RC_ICE_CONNECTED);
  assert_int_equal(rc_ice_get_state(b.ice), RC_ICE_CONNECTED);
  assert_int_not_equal(rc_ice_controlling(a.ice), rc_ice_controlling(b.ice));
  rc_ice_free(a.ice);
  rc_ice_free(b.ice);
}

/* A check carrying a comprehension-required attribute we do not know is
 * answered 420 naming it (RFC 8489 §6.3.1); an indication changes
 * nothing. */
static void test_unknown_attribute(void **st) {
  (void)st;
  end a, b;
  make(&a, 1, "10.0.0.1", 1111);
  make(&b, 0, "10.0.0.2", 2222);
  learn(&b, &a, false);
  char user[20];
  snprintf(user, sizeof user, "%s:%s", b.ufrag, a.ufrag);
  uint8_t tid[12], q[256], out[640];
  rc_stun_new_tid(tid);
  rc_stun_enc e;
  rc_stun_enc_begin(&e, q, sizeof q, RC_STUN_BINDING, RC_STUN_REQUEST, tid);
  rc_stun_enc_attr(&e, RC_STUN_ATTR_USERNAME, user, strlen(user));
  rc_stun_enc_attr(&e, 0x7777, "xyz", 3);
  rc_stun_enc_integrity(&e, (const uint8_t *)b.pwd, strlen(b.pwd));
  rc_ssize n = rc_stun_enc_end(&e, true);
  assert_int_equal(rc_ice_recv(b.ice, g_now, (struct sockaddr *)&a.addr, q, (size_t)n),
                   RC_OK);
  struct sockaddr_storage to;
  size_t m = rc_ice_pull(b.ice, g_now, &to, out, sizeof out);
  rc_stun_msg r;
  assert_int_equal(rc_stun_parse(&r, out, m), RC_OK);
  assert_int_equal(r.cls, RC_STUN_ERROR);
  assert_int_equal(r.error_code, 420);
  assert_true(rc_stun_integrity_ok(&r, out, m, (const uint8_t *)b.pwd, strlen(b.pwd)));
  assert_int_equal(r.unknown_count, 0); /* UNKNOWN-ATTRIBUTES is known... */
  const uint8_t *ua = NULL;
  for (size_t off = RC_STUN_HEADER; off + 4 <= m;) {
    size_t len = (size_t)(out[off + 2] << 8 | out[off + 3]);
    if ((out[off] << 8 | out[off + 1]) == RC_STUN_ATTR_UNKNOWN_ATTRIBUTES)
      ua = out + off;
    off += 4 + ((len + 3) & ~(size_t)3);
  }
  assert_non_null(ua); /* ...which lists 0x7777 */
  assert_int_equal(ua[3], 2);
  assert_int_equal(ua[4] << 8 | ua[5], 0x7777);
  assert_null(rc_ice_selected(b.ice));
  /* A Binding indication (a keepalive) is taken and ignored. */
  rc_stun_enc_begin(&e, q, sizeof q, RC_STUN_BINDING, RC_STUN_INDICATION, tid);
  n = rc_stun_enc_end(&e, true);
  assert_int_equal(rc_ice_recv(b.ice, g_now, (struct sockaddr *)&a.addr, q, (size_t)n),
                   RC_OK);
  assert_int_equal(rc_ice_pull(b.ice, g_now, &to, out, sizeof out), 0);
  rc_ice_free(a.ice);
  rc_ice_free(b.ice);
}

static void test_credentials(void **st) {
  (void)st;
  char u[9], p[33], u2[9], p2[33];
  rc_ice_make_credentials(u, p);
  rc_ice_make_credentials(u2, p2);
  assert_int_equal(strlen(u), 8);
  assert_int_equal(strlen(p), 32);
  assert_string_not_equal(p, p2);
  rc_ice *ice;
  rc_ice_cfg bad = {0, "ab", p, 0};
  assert_int_equal(rc_ice_new(&ice, &bad, 0), RC_ERR_INVAL);
  rc_ice_cfg bad2 = {0, u, "short", 0};
  assert_int_equal(rc_ice_new(&ice, &bad2, 0), RC_ERR_INVAL);
  rc_ice_cfg ok = {0, u, p, 0};
  assert_int_equal(rc_ice_new(&ice, &ok, 0), RC_OK);
  assert_int_equal(rc_ice_set_remote(ice, "a:b", p), RC_ERR_INVAL);
  for (int i = 0; i < RC_ICE_REMOTE_MAX; i++) {
    struct sockaddr_in a;
    mkaddr(&a, "10.0.0.1", (uint16_t)(1000 + i));
    assert_int_equal(rc_ice_add_remote_candidate(ice, (struct sockaddr *)&a, 1),
                     RC_OK);
  }
  struct sockaddr_in a;
  mkaddr(&a, "10.0.0.1", 999);
  assert_int_equal(rc_ice_add_remote_candidate(ice, (struct sockaddr *)&a, 1),
                   RC_ERR_LIMIT);
  assert_int_equal(rc_ice_next_timeout(ice), UINT64_MAX); /* lite: quiet */
  rc_ice_free(ice);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_both_roles_connect, setup),
      cmocka_unit_test_setup(test_nomination, setup),
      cmocka_unit_test_setup(test_wrong_integrity_ignored, setup),
      cmocka_unit_test_setup(test_peer_reflexive, setup),
      cmocka_unit_test_setup(test_consent_kept, setup),
      cmocka_unit_test_setup(test_consent_expiry, setup),
      cmocka_unit_test_setup(test_retransmission, setup),
      cmocka_unit_test_setup(test_role_conflict, setup),
      cmocka_unit_test_setup(test_unknown_attribute, setup),
      cmocka_unit_test_setup(test_credentials, setup),
      cmocka_unit_test_setup(test_full_controlled_behind_nat, setup),
      cmocka_unit_test_setup(test_lite_behind_nat_fails, setup),
      cmocka_unit_test_setup(test_full_controlled_checks_fail, setup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
