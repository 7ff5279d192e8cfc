/*
 * Requests and responses by token over one reliable session, both ways.
 *
 * Our outstanding requests live in a hash table keyed by their 8-byte token
 * and in a list ordered by deadline (timeouts are appended in the common
 * case, so insertion is O(1)). Incoming requests are handed to the user as
 * rc_xreq records taken from a free list, so serving a request allocates
 * nothing in the steady state.
 */
#include <stdio.h>
#include <string.h>

#include "rcoap/exchange.h"

typedef struct xout xout;
struct xout {
  uint64_t key;       /* the token as a 64-bit number */
  uint64_t id;
  rc_time deadline;
  rc_response_cb cb;
  void *arg;
  xout *hnext;        /* hash chain */
  xout *prev, *next;  /* deadline list */
};

struct rc_xreq {
  rc_exchange *x;     /* NULL once the exchange is gone */
  const rc_mem *mem;  /* frees an orphan (x gone) */
  const rc_msg *msg;  /* during on_request only */
  uint8_t deferred;
  uint8_t answered;
  uint32_t token_len;
  const uint8_t *token; /* into msg, tok, or tok_heap */
  uint8_t *tok_heap;    /* extended tokens of deferred requests */
  uint8_t tok[RC_TOKEN_MAX];
  rc_xreq *prev, *next; /* deferred list, or free list (next) */
};

struct rc_exchange {
  rc_session *s;
  rc_exchange_callbacks cb;
  void *user;
  const rc_mem *mem;
  uint64_t rng;
  uint64_t next_id;
  xout **buckets;
  size_t nbuckets; /* power of two */
  size_t nout;
  xout *head, *tail; /* deadline order */
  xout *free_out;
  rc_xreq *free_req;
  rc_xreq *deferred;
  size_t ndeferred;
  int dead;
};

#define XCH_INITIAL_BUCKETS 16u
#define XCH_FREE_KEEP 64u

static uint64_t xch_splitmix(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t xch_key(const uint8_t *t) {
  uint64_t k = 0;
  for (int i = 0; i < 8; i++)
    k = (k << 8) | t[i];
  return k;
}

static void xch_log(rc_exchange *x, int level, const char *text) {
  if (x->cb.on_log)
    x->cb.on_log(x->user, level, text);
}

rc_err rc_exchange_new(rc_exchange **out, rc_session *s,
                       const rc_exchange_callbacks *cb, void *user,
                       const uint8_t *seed, size_t seed_len,
                       const rc_mem *mem) {
  if (!out || !s || !cb || !cb->on_request)
    return RC_ERR_INVAL;
  if (!mem)
    mem = rc_mem_default();
  rc_exchange *x = mem->malloc(sizeof *x, mem->user);
  if (!x)
    return RC_ERR_NOMEM;
  memset(x, 0, sizeof *x);
  x->buckets = mem->malloc(XCH_INITIAL_BUCKETS * sizeof(xout *), mem->user);
  if (!x->buckets) {
    mem->free(x, mem->user);
    return RC_ERR_NOMEM;
  }
  memset(x->buckets, 0, XCH_INITIAL_BUCKETS * sizeof(xout *));
  x->nbuckets = XCH_INITIAL_BUCKETS;
  x->s = s;
  x->cb = *cb;
  x->user = user;
  x->mem = mem;
  x->next_id = 1;
  for (size_t i = 0; seed && i < seed_len; i++)
    x->rng = (x->rng * 131) ^ seed[i] ^ ((uint64_t)seed[i] << ((i % 8) * 8));
  *out = x;
  return RC_OK;
}

/* ---- the outstanding-request table -------------------------------------- */

static xout **xch_slot(rc_exchange *x, uint64_t key) {
  return &x->buckets[(key ^ (key >> 29)) & (x->nbuckets - 1)];
}

static xout *xch_find(rc_exchange *x, uint64_t key) {
  for (xout *o = *xch_slot(x, key); o; o = o->hnext)
    if (o->key == key)
      return o;
  return NULL;
}

static void xch_grow(rc_exchange *x) {
  size_t n = x->nbuckets * 2;
  xout **b = x->mem->malloc(n * sizeof *b, x->mem->user);
  if (!b)
    return; /* longer chains; still correct */
  memset(b, 0, n * sizeof *b);
  xout **old = x->buckets;
  size_t oldn = x->nbuckets;
  x->buckets = b;
  x->nbuckets = n;
  for (size_t i = 0; i < oldn; i++) {
    xout *o = old[i];
    while (o) {
      xout *nx = o->hnext;
      xout **slot = xch_slot(x, o->key);
      o->hnext = *slot;
      *slot = o;
      o = nx;
    }
  }
  x->mem->free(old, x->mem->user);
}

static void xch_unlink(rc_exchange *x, xout *o) {
  xout **pp = xch_slot(x, o->key);
  while (*pp != o)
    pp = &(*pp)->hnext;
  *pp = o->hnext;
  if (o->prev)
    o->prev->next = o->next;
  else
    x->head = o->next;
  if (o->next)
    o->next->prev = o->prev;
  else
    x->tail = o->prev;
  x->nout--;
}

static void xch_release_out(rc_exchange *x, xout *o) {
  o->next = x->free_out;
  x->free_out = o;
}

static void xch_insert_deadline(rc_exchange *x, xout *o) {
  xout *after = x->tail;
  while (after && after->deadline > o->deadline)
    after = after->prev;
  o->prev = after;
  o->next = after ? after->next : x->head;
  if (o->next)
    o->next->prev = o;
  else
    x->tail = o;
  if (after)
    after->next = o;
  else
    x->head = o;
}

/* ---- sending ------------------------------------------------------------ */

static size_t xch_size_hint(const rc_outmsg *m) {
  size_t n = m->payload_len + 1;
  for (size_t i = 0; i < m->nopts; i++)
    n += m->opts[i].len + 5;
  return n;
}

/* Writes m with token into the session's output. */
static rc_err xch_send(rc_exchange *x, const rc_outmsg *m,
                       const uint8_t *token, size_t token_len) {
  size_t hint = xch_size_hint(m);
  for (int attempt = 0; attempt < 2; attempt++) {
    rc_enc e;
    rc_err err = rc_session_msg_begin(x->s, &e, m->code, token, token_len, hint);
    if (err)
      return err;
    for (size_t i = 0; i < m->nopts; i++)
      rc_enc_opt(&e, m->opts[i].num, m->opts[i].val, m->opts[i].len);
    rc_enc_payload(&e, m->payload, m->payload_len);
    size_t needed = rc_enc_needed(&e);
    err = rc_session_msg_end(x->s, &e);
    if (err == RC_OK && x->cb.on_output)
      x->cb.on_output(x->user);
    if (err != RC_ERR_NOBUF)
      return err;
    hint = needed;
  }
  return RC_ERR_NOBUF;
}

rc_err rc_exchange_request(rc_exchange *x, const rc_outmsg *req,
                           uint32_t timeout_ms, rc_time now,
                           rc_response_cb cb, void *arg, uint64_t *id) {
  if (!x || !req || !cb || !rc_code_is_request(req->code))
    return RC_ERR_INVAL;
  if (x->dead)
    return RC_ERR_CLOSED;
  uint8_t token[RC_EXCHANGE_TOKEN_LEN];
  uint64_t key;
  do {
    key = xch_splitmix(&x->rng);
  } while (xch_find(x, key));
  for (int i = 7; i >= 0; i--)
    token[7 - i] = (uint8_t)(key >> (i * 8));

  xout *o = x->free_out;
  if (o)
    x->free_out = o->next;
  else if (!(o = x->mem->malloc(sizeof *o, x->mem->user)))
    return RC_ERR_NOMEM;

  rc_err err = xch_send(x, req, token, sizeof token);
  if (err) {
    xch_release_out(x, o);
    return err;
  }
  memset(o, 0, sizeof *o);
  o->key = key;
  o->id = x->next_id++;
  o->deadline = now + (timeout_ms ? timeout_ms : RC_EXCHANGE_DEFAULT_TIMEOUT_MS);
  o->cb = cb;
  o->arg = arg;
  xout **slot = xch_slot(x, key);
  o->hnext = *slot;
  *slot = o;
  xch_insert_deadline(x, o);
  if (++x->nout > x->nbuckets)
    xch_grow(x);
  if (id)
    *id = o->id;
  return RC_OK;
}

rc_err rc_exchange_cancel(rc_exchange *x, uint64_t id) {
  for (xout *o = x->head; o; o = o->next) {
    if (o->id == id) {
      xch_unlink(x, o);
      xch_release_out(x, o);
      return RC_OK;
    }
  }
  return RC_ERR_NOT_FOUND;
}

/* ---- receiving ---------------------------------------------------------- */

static rc_xreq *xch_req_get(rc_exchange *x) {
  rc_xreq *r = x->free_req;
  if (r) {
    x->free_req = r->next;
    return r;
  }
  return x->mem->malloc(sizeof *r, x->mem->user);
}

static void xch_req_put(rc_exchange *x, rc_xreq *r) {
  if (r->tok_heap)
    x->mem->free(r->tok_heap, x->mem->user);
  r->tok_heap = NULL;
  r->next = x->free_req;
  x->free_req = r;
}

/* An unrecognized critical option, or a critical option with a value the
 * registry says is malformed (RFC 7252 §5.4.3: "treated like an
 * unrecognized option"). Returns its number, or 0. */
static uint16_t xch_bad_critical(const rc_msg *m) {
  rc_opt_iter it;
  rc_opt o;
  rc_opt_iter_init(&it, m);
  while (rc_opt_next(&it, &o)) {
    if (!rc_opt_is_critical(o.num))
      continue;
    if (!rc_opt_lookup(m->code, o.num) || rc_opt_check(m->code, &o) != RC_OK)
      return o.num;
  }
  return 0;
}

static rc_err xch_on_request(rc_exchange *x, const rc_msg *m) {
  uint16_t bad = xch_bad_critical(m);
  if (bad) {
    char diag[64];
    int n = snprintf(diag, sizeof diag, "unrecognized critical option %u", bad);
    rc_outmsg r = {RC_BAD_OPTION, NULL, 0, (const uint8_t *)diag, (size_t)n};
    return xch_send(x, &r, m->token, m->token_len);
  }
  rc_xreq *r = xch_req_get(x);
  if (!r)
    return RC_ERR_NOMEM;
  memset(r, 0, sizeof *r);
  r->x = x;
  r->mem = x->mem;
  r->msg = m;
  r->token = m->token;
  r->token_len = m->token_len;
  x->cb.on_request(x->user, x, r);
  r->msg = NULL;
  if (r->deferred && !r->answered)
    return RC_OK; /* the user holds it now */
  rc_err err = RC_OK;
  if (!r->answered) {
    /* A handler that neither answered nor deferred would leave the client
     * waiting for its timeout: answer for it. */
    static const char diag[] = "handler gave no response";
    rc_outmsg resp = {RC_INTERNAL_SERVER_ERROR, NULL, 0,
                      (const uint8_t *)diag, sizeof diag - 1};
    err = xch_send(x, &resp, r->token, r->token_len);
    xch_log(x, RC_SESSION_LOG_WARN, diag);
  }
  xch_req_put(x, r);
  return err;
}

static void xch_on_response(rc_exchange *x, const rc_msg *m) {
  xout *o = NULL;
  if (m->token_len == RC_EXCHANGE_TOKEN_LEN)
    o = xch_find(x, xch_key(m->token));
  if (!o) {
    xch_log(x, RC_SESSION_LOG_DEBUG, "response with unknown token dropped");
    return;
  }
  xch_unlink(x, o);
  rc_response_cb cb = o->cb;
  void *arg = o->arg;
  xch_release_out(x, o);
  cb(arg, RC_OK, m);
}

rc_err rc_exchange_on_message(rc_exchange *x, const rc_msg *m, rc_time now) {
  (void)now;
  if (x->dead)
    return RC_ERR_CLOSED;
  if (rc_code_is_request(m->code))
    return xch_on_request(x, m);
  if (rc_code_is_response(m->code))
    xch_on_response(x, m);
  /* Other classes (1.xx, 3.xx, 6.xx) are reserved: RFC 7252 §5.8 gives
   * them no meaning, so they are ignored. */
  return RC_OK;
}

const rc_msg *rc_xreq_msg(const rc_xreq *req) { return req->msg; }

rc_exchange *rc_xreq_exchange(const rc_xreq *req) { return req->x; }

rc_err rc_xreq_defer(rc_xreq *req) {
  if (req->deferred || req->answered || !req->x)
    return req->deferred ? RC_OK : RC_ERR_STATE;
  rc_exchange *x = req->x;
  if (req->token_len <= RC_TOKEN_MAX) {
    memcpy(req->tok, req->token, req->token_len);
    req->token = req->tok;
  } else {
    req->tok_heap = x->mem->malloc(req->token_len, x->mem->user);
    if (!req->tok_heap)
      return RC_ERR_NOMEM;
    memcpy(req->tok_heap, req->token, req->token_len);
    req->token = req->tok_heap;
  }
  req->deferred = 1;
  req->prev = NULL;
  req->next = x->deferred;
  if (x->deferred)
    x->deferred->prev = req;
  x->deferred = req;
  x->ndeferred++;
  return RC_OK;
}

static void xch_undefer(rc_exchange *x, rc_xreq *req) {
  if (req->prev)
    req->prev->next = req->next;
  else
    x->deferred = req->next;
  if (req->next)
    req->next->prev = req->prev;
  x->ndeferred--;
}

/* Frees a deferred request whose exchange is gone (it was orphaned by
 * rc_exchange_fail_all / rc_exchange_del and is owned by the user). */
static void xch_free_orphan(rc_xreq *req) {
  const rc_mem *mem = req->mem;
  if (req->tok_heap)
    mem->free(req->tok_heap, mem->user);
  mem->free(req, mem->user);
}

rc_err rc_exchange_respond(rc_xreq *req, const rc_outmsg *resp) {
  if (!req || !resp)
    return RC_ERR_INVAL;
  if (req->answered)
    return RC_ERR_STATE;
  rc_exchange *x = req->x;
  if (!x) {
    xch_free_orphan(req);
    return RC_ERR_CLOSED;
  }
  if (!rc_code_is_response(resp->code))
    return RC_ERR_INVAL;
  rc_err err = x->dead ? RC_ERR_CLOSED
                       : xch_send(x, resp, req->token, req->token_len);
  if (err == RC_ERR_PEER_TOO_LARGE)
    return err; /* the caller may answer again, smaller */
  req->answered = 1;
  if (req->deferred) {
    xch_undefer(x, req);
    xch_req_put(x, req);
    if (x->ndeferred == 0 && !x->dead)
      rc_session_custody_ready(x->s);
  }
  return err;
}

void rc_xreq_drop(rc_xreq *req) {
  if (!req || !req->deferred || req->answered)
    return;
  rc_exchange *x = req->x;
  if (!x) {
    xch_free_orphan(req);
    return;
  }
  req->answered = 1;
  xch_undefer(x, req);
  xch_req_put(x, req);
}

void *rc_exchange_user(const rc_exchange *x) { return x->user; }

size_t rc_exchange_outstanding(const rc_exchange *x) { return x->nout; }

size_t rc_exchange_unanswered(const rc_exchange *x) { return x->ndeferred; }

rc_time rc_exchange_expiry(const rc_exchange *x) {
  return x->head ? x->head->deadline : RC_TIME_NEVER;
}

void rc_exchange_handle_expiry(rc_exchange *x, rc_time now) {
  while (x->head && x->head->deadline <= now) {
    xout *o = x->head;
    xch_unlink(x, o);
    rc_response_cb cb = o->cb;
    void *arg = o->arg;
    xch_release_out(x, o);
    cb(arg, RC_ERR_TIMEOUT, NULL);
  }
}

void rc_exchange_fail_all(rc_exchange *x, rc_err reason) {
  x->dead = 1;
  while (x->head) {
    xout *o = x->head;
    xch_unlink(x, o);
    rc_response_cb cb = o->cb;
    void *arg = o->arg;
    xch_release_out(x, o);
    cb(arg, reason, NULL);
  }
  /* Deferred requests belong to their handlers until answered or dropped:
   * orphan them, so that those calls free them without touching x. */
  while (x->deferred) {
    rc_xreq *r = x->deferred;
    xch_undefer(x, r);
    r->x = NULL;
  }
}

void rc_exchange_del(rc_exchange *x) {
  if (!x)
    return;
  if (!x->dead)
    rc_exchange_fail_all(x, RC_ERR_CANCELLED);
  for (xout *o = x->free_out; o;) {
    xout *n = o->next;
    x->mem->free(o, x->mem->user);
    o = n;
  }
  for (rc_xreq *r = x->free_req; r;) {
    rc_xreq *n = r->next;
    x->mem->free(r, x->mem->user);
    r = n;
  }
  x->mem->free(x->buckets, x->mem->user);
  x->mem->free(x, x->mem->user);
}
