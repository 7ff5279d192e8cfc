/*
 * The ICE agent of ice.h: remote candidates as pairs (one local socket,
 * so one pair per remote address), the responder both roles share, the
 * controlling side's checks and nomination, and consent freshness. STUN
 * bytes come from stun.c; datagrams to send wait in a small queue.
 *
 * An agent lives as long as its peer (consent), so it holds only what it
 * uses: the credentials at their length, the pairs it has, and a queued
 * datagram only until it is pulled (an idle agent ~0.5 KB, not the
 * fixed 10 KB of a table of 16 pairs and a queue of 8 datagrams).
 */
#include "transport/webrtc/ice.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <openssl/rand.h>

#include "transport/webrtc/stun.h"

#define CRED_MAX 256
#define DGRAM_MAX 640
#define CONSENT_TIDS 4
/* RFC 8445 §5.1.2.1: priority = 2^24 * type preference + 2^8 * local
 * preference + (256 - component); peer-reflexive type preference 110,
 * one local address (65535), component 1. Sent in PRIORITY (§7.1.1). */
#define PRFLX_PRIORITY ((110u << 24) | (65535u << 8) | 255u)

enum pair_state { P_WAITING, P_INPROGRESS, P_SUCCEEDED, P_FAILED };

typedef struct pair {
  struct sockaddr_storage addr;
  uint32_t priority;
  enum pair_state state;
  bool nominating; /* this check carries USE-CANDIDATE */
  bool triggered;  /* goes before the ordinary checks (§7.3.1.4) */
  uint8_t tid[RC_STUN_TID_LEN];
  unsigned sends;
  uint32_t rto;
  uint64_t next_send;
} pair;

typedef struct dgram dgram;
struct dgram {
  dgram *next;
  struct sockaddr_storage to;
  size_t len;
  uint8_t b[DGRAM_MAX];
};

struct rc_ice {
  bool controlling;
  bool full; /* controlled, yet sending checks */
  rc_ice_state state;
  char *lufrag, *lpwd; /* "ufrag\0pwd\0" in one block */
  char *rufrag, *rpwd; /* the same, once set; NULL before */
  bool have_remote;
  uint64_t tie_breaker;
  pair *pairs; /* grown by doubling up to RC_ICE_REMOTE_MAX */
  size_t npairs, pairs_cap;
  int selected; /* index into pairs, -1 before */
  uint64_t next_pace;
  uint64_t consent_next, consent_last;
  uint8_t consent_tid[CONSENT_TIDS][RC_STUN_TID_LEN];
  unsigned consent_at;
  dgram *qhead, **qtail; /* allocated when queued, freed when pulled */
  size_t qlen;
};

/* ---- small helpers --------------------------------------------------- */

static uint64_t rand_u64(void) {
  uint64_t v = 0;
  if (RAND_bytes((unsigned char *)&v, sizeof v) != 1)
    v = 0x9E3779B97F4A7C15ull; /* no randomness: still a valid value */
  return v;
}

/* ice-char = ALPHA / DIGIT / "+" / "/" (RFC 8839 §5.4). */
static bool ice_chars(const char *s, size_t min) {
  size_t n = s ? strlen(s) : 0;
  if (n < min || n > CRED_MAX)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '+' || c == '/'))
      return false;
  }
  return true;
}

/* addr copied into out, a v4-mapped IPv6 address made IPv4. */
static bool norm_addr(const struct sockaddr *a, struct sockaddr_storage *out) {
  memset(out, 0, sizeof *out);
  if (!a)
    return false;
  if (a->sa_family == AF_INET) {
    memcpy(out, a, sizeof(struct sockaddr_in));
    return true;
  }
  if (a->sa_family != AF_INET6)
    return false;
  const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)a;
  if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
    struct sockaddr_in *s4 = (struct sockaddr_in *)out;
    s4->sin_family = AF_INET;
    s4->sin_port = s6->sin6_port;
    memcpy(&s4->sin_addr, s6->sin6_addr.s6_addr + 12, 4);
    return true;
  }
  struct sockaddr_in6 *o6 = (struct sockaddr_in6 *)out;
  o6->sin6_family = AF_INET6;
  o6->sin6_port = s6->sin6_port;
  o6->sin6_addr = s6->sin6_addr;
  o6->sin6_scope_id = s6->sin6_scope_id;
  return true;
}

int rc_ice_same_addr(const struct sockaddr_storage *a,
                     const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family)
    return false;
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
    return x->sin_port == y->sin_port &&
           x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
  return x->sin6_port == y->sin6_port &&
         !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
}

static int find_pair(const rc_ice *ice, const struct sockaddr_storage *a) {
  for (size_t i = 0; i < ice->npairs; i++)
    if (rc_ice_same_addr(&ice->pairs[i].addr, a))
      return (int)i;
  return -1;
}

static int add_pair(rc_ice *ice, const struct sockaddr_storage *a,
                    uint32_t priority) {
  if (ice->npairs == RC_ICE_REMOTE_MAX)
    return -1;
  if (ice->npairs == ice->pairs_cap) {
    size_t cap = ice->pairs_cap ? ice->pairs_cap * 2 : 2;
    if (cap > RC_ICE_REMOTE_MAX)
      cap = RC_ICE_REMOTE_MAX;
    pair *np = realloc(ice->pairs, cap * sizeof *np);
    if (!np)
      return -1;
    ice->pairs = np;
    ice->pairs_cap = cap;
  }
  pair *p = &ice->pairs[ice->npairs];
  memset(p, 0, sizeof *p);
  p->addr = *a;
  p->priority = priority;
  p->state = P_WAITING;
  return (int)ice->npairs++;
}

/* A datagram to `to` to be written and then queued by q_commit, NULL if
 * the queue is full (or no memory: as if lost). */
static dgram *q_push(rc_ice *ice, const struct sockaddr_storage *to) {
  if (ice->qlen == RC_ICE_QUEUE_MAX)
    return NULL;
  dgram *d = malloc(sizeof *d);
  if (!d)
    return NULL;
  d->next = NULL;
  d->to = *to;
  d->len = 0;
  return d;
}

static void q_commit(rc_ice *ice, dgram *d, rc_ssize n) {
  if (n <= 0) {
    free(d);
    return;
  }
  d->len = (size_t)n;
  *ice->qtail = d;
  ice->qtail = &d->next;
  ice->qlen++;
}

static void q_clear(rc_ice *ice) {
  while (ice->qhead) {
    dgram *d = ice->qhead;
    ice->qhead = d->next;
    free(d);
  }
  ice->qtail = &ice->qhead;
  ice->qlen = 0;
}

static void fail(rc_ice *ice) {
  ice->state = RC_ICE_FAILED;
  q_clear(ice);
}

/* "a\0b\0" in one block: *x = a, *y = b. false: no memory. */
static bool cred_pair(char **x, char **y, const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  char *p = malloc(la + lb + 2);
  if (!p)
    return false;
  memcpy(p, a, la + 1);
  memcpy(p + la + 1, b, lb + 1);
  free(*x);
  *x = p;
  *y = p + la + 1;
  return true;
}

/* ---- lifecycle ------------------------------------------------------- */

rc_err rc_ice_new(rc_ice **out, const rc_ice_cfg *cfg, uint64_t now_ms) {
  *out = NULL;
  if (!cfg || !ice_chars(cfg->local_ufrag, 4) || !ice_chars(cfg->local_pwd, 22))
    return RC_ERR_INVAL;
  rc_ice *ice = calloc(1, sizeof *ice);
  if (!ice)
    return RC_ERR_NOMEM;
  if (!cred_pair(&ice->lufrag, &ice->lpwd, cfg->local_ufrag,
                 cfg->local_pwd)) {
    free(ice);
    return RC_ERR_NOMEM;
  }
  ice->qtail = &ice->qhead;
  ice->controlling = cfg->controlling != 0;
  ice->full = cfg->full != 0;
  ice->tie_breaker = rand_u64();
  ice->selected = -1;
  ice->next_pace = now_ms;
  *out = ice;
  return RC_OK;
}

void rc_ice_free(rc_ice *ice) {
  if (!ice)
    return;
  q_clear(ice);
  free(ice->pairs);
  free(ice->lufrag);
  free(ice->rufrag);
  free(ice);
}

void rc_ice_make_credentials(char ufrag[9], char pwd[33]) {
  static const char set[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  uint8_t r[40];
  if (RAND_bytes(r, sizeof r) != 1) {
    uint64_t a = rand_u64();
    for (size_t i = 0; i < sizeof r; i++)
      r[i] = (uint8_t)(a >> (i % 8 * 8)) ^ (uint8_t)(i * 37);
  }
  /* 64 symbols: 6 random bits each, so the ufrag carries 48 bits and the
   * password 192 (RFC 8839 §5.4: at least 24 and 128 bits of randomness
   * MUST be in them). */
  for (int i = 0; i < 8; i++)
    ufrag[i] = set[r[i] & 63];
  ufrag[8] = 0;
  for (int i = 0; i < 32; i++)
    pwd[i] = set[r[8 + i] & 63];
  pwd[32] = 0;
}

rc_err rc_ice_set_remote(rc_ice *ice, const char *ufrag, const char *pwd) {
  /* Lenient on lengths the peer chose (Chromium's ufrag is 4, its pwd
   * 24), strict on the character set. */
  if (!ice_chars(ufrag, 1) || !ice_chars(pwd, 1))
    return RC_ERR_INVAL;
  if (!cred_pair(&ice->rufrag, &ice->rpwd, ufrag, pwd))
    return RC_ERR_NOMEM;
  ice->have_remote = true;
  return RC_OK;
}

rc_err rc_ice_add_remote_candidate(rc_ice *ice, const struct sockaddr *addr,
                                   uint32_t priority) {
  struct sockaddr_storage a;
  if (!norm_addr(addr, &a))
    return RC_ERR_INVAL;
  if (find_pair(ice, &a) >= 0)
    return RC_ERR_EXISTS;
  return add_pair(ice, &a, priority) < 0 ? RC_ERR_LIMIT : RC_OK;
}

rc_ice_state rc_ice_get_state(const rc_ice *ice) { return ice->state; }

const struct sockaddr *rc_ice_selected(const rc_ice *ice) {
  return ice->selected < 0
             ? NULL
             : (const struct sockaddr *)&ice->pairs[ice->selected].addr;
}

int rc_ice_controlling(const rc_ice *ice) { return ice->controlling; }

/* ---- sending checks (controlling, and consent) ------------------------ */

/* A Binding request to `to` with our USERNAME "<remote>:<local>" (RFC 8445
 * §7.2.2: "RFRAG:LFRAG"), signed with the remote password. */
static void send_request(rc_ice *ice, const struct sockaddr_storage *to,
                         const uint8_t tid[RC_STUN_TID_LEN], bool nominate) {
  char user[2 * CRED_MAX + 2];
  dgram *d = ice->have_remote ? q_push(ice, to) : NULL;
  if (!d)
    return;
  size_t ul = strlen(ice->rufrag), ll = strlen(ice->lufrag);
  memcpy(user, ice->rufrag, ul);
  user[ul] = ':';
  memcpy(user + ul + 1, ice->lufrag, ll);
  rc_stun_enc e;
  rc_stun_enc_begin(&e, d->b, sizeof d->b, RC_STUN_BINDING, RC_STUN_REQUEST,
                    tid);
  rc_stun_enc_attr(&e, RC_STUN_ATTR_USERNAME, user, ul + 1 + ll);
  rc_stun_enc_u32(&e, RC_STUN_ATTR_PRIORITY, PRFLX_PRIORITY);
  /* RFC 8445 §7.1.3: "The controlling agent MUST include the
   * ICE-CONTROLLING attribute in a Binding request. The controlled agent
   * MUST include the ICE-CONTROLLED attribute in a Binding request." */
  rc_stun_enc_u64(&e, ice->controlling ? RC_STUN_ATTR_ICE_CONTROLLING
                                       : RC_STUN_ATTR_ICE_CONTROLLED,
                  ice->tie_breaker);
  if (nominate)
    rc_stun_enc_attr(&e, RC_STUN_ATTR_USE_CANDIDATE, NULL, 0);
  rc_stun_enc_integrity(&e, (const uint8_t *)ice->rpwd, strlen(ice->rpwd));
  q_commit(ice, d, rc_stun_enc_end(&e, true));
}

static void start_check(rc_ice *ice, pair *p, uint64_t now) {
  rc_stun_new_tid(p->tid);
  p->state = P_INPROGRESS;
  p->triggered = false;
  p->sends = 1;
  p->rto = RC_ICE_RTO_MS;
  p->next_send = now + p->rto;
  send_request(ice, &p->addr, p->tid, p->nominating);
  if (ice->state == RC_ICE_NEW)
    ice->state = RC_ICE_CHECKING;
}

/* The waiting pair to check next: triggered ones first, then by priority
 * (RFC 8445 §6.1.4.2). -1 if none. */
static int next_waiting(const rc_ice *ice) {
  int best = -1;
  for (size_t i = 0; i < ice->npairs; i++) {
    const pair *p = &ice->pairs[i];
    if (p->state != P_WAITING)
      continue;
    if (best < 0 || p->triggered > ice->pairs[best].triggered ||
        (p->triggered == ice->pairs[best].triggered &&
         p->priority > ice->pairs[best].priority))
      best = (int)i;
  }
  return best;
}

static bool may_check(const rc_ice *ice) {
  return (ice->controlling || ice->full) && ice->have_remote &&
         ice->selected < 0 &&
         ice->state != RC_ICE_FAILED;
}

static void consent_schedule(rc_ice *ice, uint64_t now) {
  /* RFC 7675 §5.1: consent requests at a randomised interval, 0.8 to 1.2
   * times the 5 s base, so agents do not fall into step. */
  uint64_t span = RC_ICE_CONSENT_INTERVAL_MS * 2 / 5;
  ice->consent_next = now + RC_ICE_CONSENT_INTERVAL_MS * 4 / 5 +
                      rand_u64() % (span + 1);
}

static void select_pair(rc_ice *ice, int i, uint64_t now) {
  ice->selected = i;
  ice->state = RC_ICE_CONNECTED;
  ice->consent_last = now;
  consent_schedule(ice, now);
}

void rc_ice_timeout(rc_ice *ice, uint64_t now) {
  if (ice->state == RC_ICE_FAILED)
    return;
  if (ice->state == RC_ICE_CONNECTED) {
    /* RFC 7675 §5.1: without an authenticated response (for us, the
     * controlled side: request) for 30 s, consent is lost and the agent
     * stops sending. */
    if (now - ice->consent_last >= RC_ICE_CONSENT_TIMEOUT_MS) {
      fail(ice);
      return;
    }
    if (ice->controlling && now >= ice->consent_next) {
      uint8_t *tid = ice->consent_tid[ice->consent_at++ % CONSENT_TIDS];
      rc_stun_new_tid(tid);
      send_request(ice, &ice->pairs[ice->selected].addr, tid, false);
      consent_schedule(ice, now);
    }
    return;
  }
  if (!may_check(ice))
    return;
  bool live = false;
  for (size_t i = 0; i < ice->npairs; i++) {
    pair *p = &ice->pairs[i];
    if (p->state == P_INPROGRESS && now >= p->next_send) {
      if (p->sends >= RC_ICE_MAX_SENDS) {
        p->state = P_FAILED;
      } else {
        /* RFC 8489 §6.2.1: retransmitted with the same transaction ID,
         * the interval doubled each time. */
        p->sends++;
        p->rto *= 2;
        p->next_send = now + p->rto;
        send_request(ice, &p->addr, p->tid, p->nominating);
      }
    }
    live |= p->state != P_FAILED;
  }
  if (ice->npairs && !live && ice->controlling) {
    fail(ice);
    return;
  }
  /* RFC 8445 §6.1.4.2: one new check every Ta. */
  int w = next_waiting(ice);
  if (w >= 0 && now >= ice->next_pace) {
    start_check(ice, &ice->pairs[w], now);
    ice->next_pace = now + RC_ICE_TA_MS;
  }
}

uint64_t rc_ice_next_timeout(const rc_ice *ice) {
  if (ice->qlen)
    return 0;
  if (ice->state == RC_ICE_FAILED)
    return UINT64_MAX;
  if (ice->state == RC_ICE_CONNECTED) {
    uint64_t t = ice->consent_last + RC_ICE_CONSENT_TIMEOUT_MS;
    if (ice->controlling && ice->consent_next < t)
      t = ice->consent_next;
    return t;
  }
  if (!may_check(ice))
    return UINT64_MAX;
  uint64_t t = next_waiting(ice) >= 0 ? ice->next_pace : UINT64_MAX;
  for (size_t i = 0; i < ice->npairs; i++)
    if (ice->pairs[i].state == P_INPROGRESS && ice->pairs[i].next_send < t)
      t = ice->pairs[i].next_send;
  return t;
}

size_t rc_ice_pull(rc_ice *ice, uint64_t now, struct sockaddr_storage *to,
                   uint8_t *buf, size_t cap) {
  rc_ice_timeout(ice, now);
  dgram *d = ice->qhead;
  if (!d)
    return 0;
  ice->qhead = d->next;
  if (!ice->qhead)
    ice->qtail = &ice->qhead;
  ice->qlen--;
  size_t n = d->len <= cap ? d->len : 0;
  if (n) {
    memcpy(buf, d->b, n);
    *to = d->to;
  }
  free(d);
  return n;
}

/* ---- receiving --------------------------------------------------------- */

/* An answer to request m from `to`: success with XOR-MAPPED-ADDRESS, or
 * error `code` (then without MESSAGE-INTEGRITY when unauthenticated). */
static void respond(rc_ice *ice, const rc_stun_msg *m,
                    const struct sockaddr_storage *to, uint16_t code,
                    const char *reason) {
  dgram *d = q_push(ice, to);
  if (!d)
    return;
  rc_stun_enc e;
  rc_stun_enc_begin(&e, d->b, sizeof d->b, RC_STUN_BINDING,
                    code ? RC_STUN_ERROR : RC_STUN_SUCCESS, m->tid);
  if (code) {
    rc_stun_enc_error(&e, code, reason);
    if (code == 420) {
      uint8_t u[2 * RC_STUN_UNKNOWN_MAX];
      for (size_t i = 0; i < m->unknown_count; i++)
        u[2 * i] = (uint8_t)(m->unknown[i] >> 8), u[2 * i + 1] = (uint8_t)m->unknown[i];
      rc_stun_enc_attr(&e, RC_STUN_ATTR_UNKNOWN_ATTRIBUTES, u,
                       2 * m->unknown_count);
    }
  } else {
    rc_stun_enc_xor_addr(&e, (const struct sockaddr *)to);
  }
  /* RFC 8445 §7.3: the response is signed with the local password, as the
   * request was; 400 and 401 go unsigned (RFC 8489 §9.1.3). */
  if (code != 400 && code != 401)
    rc_stun_enc_integrity(&e, (const uint8_t *)ice->lpwd, strlen(ice->lpwd));
  q_commit(ice, d, rc_stun_enc_end(&e, true));
}

/* RFC 8445 §7.3.1.1: a role conflict. Returns true if the request is to
 * be answered 487. */
static bool role_conflict(rc_ice *ice, const rc_stun_msg *m) {
  if (ice->controlling && m->has_controlling) {
    /* "If the agent's tiebreaker value is larger than or equal to the
     * contents of the ICE-CONTROLLING attribute, the agent generates a
     * Binding error response and includes an ERROR-CODE attribute with a
     * value of 487 (Role Conflict) but retains its role." */
    if (ice->tie_breaker >= m->tie_breaker)
      return true;
    ice->controlling = false;
  } else if (!ice->controlling && m->has_controlled) {
    /* "If the agent's tiebreaker value is larger than or equal to the
     * contents of the ICE-CONTROLLED attribute, the agent switches to the
     * controlling role." */
    if (ice->tie_breaker >= m->tie_breaker)
      ice->controlling = true;
    else
      return true;
  }
  return false;
}

static rc_err on_request(rc_ice *ice, uint64_t now, const rc_stun_msg *m,
                         const struct sockaddr_storage *from,
                         const uint8_t *p, size_t n) {
  /* RFC 8489 §9.1.3: "If the message does not contain both a
   * MESSAGE-INTEGRITY and a USERNAME attribute ... The server MUST reject
   * the request with an error response. This response MUST use an error
   * code of 400 (Bad Request)." */
  if (!m->username || !m->integrity_off) {
    respond(ice, m, from, 400, "Bad Request");
    return RC_ERR_PROTOCOL;
  }
  /* RFC 8445 §7.3: the USERNAME is "LFRAG:RFRAG" from our side; a wrong
   * one, or MESSAGE-INTEGRITY that does not verify with our password, is
   * 401 (Unauthenticated), RFC 8489 §9.1.3. */
  size_t ll = strlen(ice->lufrag);
  bool user_ok = m->username_len > ll && !memcmp(m->username, ice->lufrag, ll) &&
                 m->username[ll] == ':';
  if (user_ok && ice->have_remote)
    user_ok = m->username_len - ll - 1 == strlen(ice->rufrag) &&
              !memcmp(m->username + ll + 1, ice->rufrag, m->username_len - ll - 1);
  if (!user_ok || !rc_stun_integrity_ok(m, p, n, (const uint8_t *)ice->lpwd,
                                        strlen(ice->lpwd))) {
    respond(ice, m, from, 401, "Unauthenticated");
    return RC_ERR_STUN_AUTH;
  }
  /* RFC 8489 §6.3.1: unknown comprehension-required attributes: 420. */
  if (m->unknown_count) {
    respond(ice, m, from, 420, "Unknown Attribute");
    return RC_OK;
  }
  if (role_conflict(ice, m)) {
    respond(ice, m, from, 487, "Role Conflict");
    return RC_OK;
  }
  respond(ice, m, from, 0, NULL);
  /* RFC 8445 §7.3.1.3: a source address not among the remote candidates
   * is a peer-reflexive candidate, with the priority from the request's
   * PRIORITY attribute. */
  int i = find_pair(ice, from);
  if (i < 0)
    i = add_pair(ice, from, m->has_priority ? m->priority : 0);
  if (i < 0)
    return RC_OK; /* table full: answered, not remembered */
  if (ice->state == RC_ICE_NEW)
    ice->state = RC_ICE_CHECKING;
  if (i == ice->selected)
    ice->consent_last = now;
  pair *pr = &ice->pairs[i];
  if (!ice->controlling) {
    /* RFC 8445 §7.3.1.5 (for a lite agent, the pair is selected at
     * once): USE-CANDIDATE in an authenticated request nominates it. */
    if (m->use_candidate && ice->state != RC_ICE_CONNECTED)
      select_pair(ice, i, now);
    else if (m->use_candidate)
      ice->selected = i, ice->consent_last = now;
  }
  if ((ice->controlling || ice->full) && ice->selected < 0 &&
      ice->have_remote && (pr->state == P_WAITING || pr->state == P_FAILED)) {
    /* §7.3.1.4: a triggered check on the pair. */
    pr->state = P_WAITING;
    pr->triggered = true;
  }
  return RC_OK;
}

static rc_err on_response(rc_ice *ice, uint64_t now, const rc_stun_msg *m,
                          const struct sockaddr_storage *from,
                          const uint8_t *p, size_t n) {
  /* Which request: a check in progress, or a consent request. */
  int i = -1;
  bool consent = false;
  for (size_t k = 0; k < ice->npairs && i < 0; k++)
    if (ice->pairs[k].state == P_INPROGRESS &&
        !memcmp(ice->pairs[k].tid, m->tid, RC_STUN_TID_LEN))
      i = (int)k;
  for (unsigned k = 0; k < CONSENT_TIDS && i < 0 && ice->selected >= 0; k++)
    if (!memcmp(ice->consent_tid[k], m->tid, RC_STUN_TID_LEN))
      i = ice->selected, consent = true;
  if (i < 0)
    return RC_OK; /* stray or late: ignored */
  if (!ice->have_remote)
    return RC_ERR_STUN_AUTH; /* no password to check it with */
  /* RFC 8445 §7.2.5.2.1: "The ICE agent MUST check that the source and
   * destination transport addresses in the Binding request and response
   * are symmetric." */
  if (!rc_ice_same_addr(&ice->pairs[i].addr, from))
    return RC_OK;
  if (!rc_stun_integrity_ok(m, p, n, (const uint8_t *)ice->rpwd,
                            strlen(ice->rpwd)))
    return RC_ERR_STUN_AUTH;
  pair *pr = &ice->pairs[i];
  if (consent) {
    if (m->cls == RC_STUN_SUCCESS)
      ice->consent_last = now;
    return RC_OK;
  }
  if (m->cls == RC_STUN_ERROR) {
    /* §7.2.5.1: on 487 the agent switches role (controlling to
     * controlled, or back) and checks the pair again (triggered). */
    if (m->has_error && m->error_code == 487) {
      ice->controlling = !ice->controlling;
      pr->state = P_WAITING;
      pr->triggered = true;
    } else {
      pr->state = P_FAILED;
    }
    return RC_OK;
  }
  pr->state = P_SUCCEEDED;
  if (pr->nominating) {
    select_pair(ice, i, now);
  } else if (ice->controlling) {
    /* §8.1.1: regular nomination: the pair that succeeded is checked
     * again with USE-CANDIDATE. */
    pr->nominating = true;
    pr->state = P_WAITING;
    pr->triggered = true;
  }
  return RC_OK;
}

rc_err rc_ice_recv(rc_ice *ice, uint64_t now, const struct sockaddr *from,
                   const uint8_t *p, size_t n) {
  if (ice->state == RC_ICE_FAILED)
    return RC_ERR_STATE;
  struct sockaddr_storage src;
  rc_stun_msg m;
  if (!norm_addr(from, &src) || rc_stun_parse(&m, p, n) != RC_OK ||
      m.method != RC_STUN_BINDING)
    return RC_ERR_PROTOCOL;
  switch (m.cls) {
  case RC_STUN_REQUEST:
    return on_request(ice, now, &m, &src, p, n);
  case RC_STUN_SUCCESS:
  case RC_STUN_ERROR:
    return on_response(ice, now, &m, &src, p, n);
  default:
    return RC_OK; /* a Binding indication: keepalive, nothing to do */
  }
}
