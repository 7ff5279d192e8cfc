/*
 * Internal structures of the exchange layer, shared by its files:
 * exchange.c (token table, dispatch, plain send), xserver.c (block-wise
 * answers: Block2 slicing and the body cache, Block1 reassembly, observe
 * notifications, captures) and xclient.c (client block-wise and observe).
 */
#ifndef RCOAP_EXCHANGE_INT_H
#define RCOAP_EXCHANGE_INT_H

#include "rcoap/exchange.h"

typedef struct xout xout;
typedef struct xblk xblk;
typedef struct xup xup;

struct xout {
  uint64_t key;       /* the token as a 64-bit number */
  uint64_t id;
  rc_time deadline;
  rc_response_cb cb;
  void *arg;
  xout *hnext;        /* hash chain */
  xout *prev, *next;  /* deadline list */
  xblk *blk;          /* block-wise / observe state; NULL for plain ones */
};

struct rc_xreq {
  /* cleared for every new request (xch_on_request: up to x) */
  uint8_t deferred;
  uint8_t answered;
  uint8_t has_b1, has_b2, size2_req, obs_set, streamed, in_body_start;
  uint8_t has_qb1, nqb2; /* Q-Block1; Q-Block2 options (RFC 9177) */
  uint8_t has_rtag;      /* Request-Tag present (it also goes into key) */
  uint8_t resp_code;
  uint16_t fwd_unknown; /* rc_xreq_unknown_forwardable */
  uint32_t obs_seq;
  uint64_t opts_seen; /* bit n: option n (< 64) is present */
  rc_block b1, b2, qb1;
  xup *up;            /* during on_body_start */
  rc_xcapture *cap;   /* a capture record: answers are copied, not sent */
  uint8_t *tok_heap;    /* extended tokens of deferred requests */
  /* set for every new request before anything reads them */
  rc_exchange *x;     /* NULL once the exchange is gone */
  const rc_mem *mem;  /* frees an orphan (x gone) */
  const rc_msg *msg;  /* during on_request only */
  int32_t obs_val;    /* -1: no Observe option */
  uint64_t size1;     /* RC_BODY_SIZE_UNKNOWN when absent */
  const rc_msg *key_msg; /* the keys are still to be made from it */
  uint64_t key;       /* read through rc__xreq_keys */
  uint64_t key_untagged; /* key without Request-Tag (== key when none) */
  uint8_t code;       /* the request's method, once deferred (xheld.c) */
  uint64_t body_hash; /* POST, PATCH, iPATCH: the payload's, with the keys */
  uint32_t token_len;
  const uint8_t *token; /* into msg, tok, or tok_heap */
  uint8_t tok[RC_TOKEN_MAX];
  rc_xreq *prev, *next; /* deferred list, or free list (next) */
  /* Q-Block2 options asked for: nqb2 (cleared) says how many are set */
  rc_block qb2[RC_QBLOCK_LIST_MAX];
};

/* A body kept for the next Block2 requests of a transfer. */
typedef struct xcache {
  uint64_t key;
  uint64_t key_untagged; /* the request's key without its Request-Tag */
  rc_time expires;    /* 0: slot free */
  uint32_t used;      /* the order of puts and uses (xserver.c cache_tick) */
  uint8_t code;
  uint8_t etag_len;
  uint8_t etag[8];
  size_t nopts;
  rc_opt *opts;       /* into blob */
  const uint8_t *body;/* into blob */
  size_t len;
  uint8_t *blob;
  size_t blob_size;
  /* Q-Block2 (qblock.c): the next set goes out at qb_due (0: none) from
   * block qb_next, to the token of the request that started it */
  rc_time qb_due;
  uint32_t qb_next;
  uint8_t qb_szx, qb_tkl;
  uint8_t qb_tok[RC_TOKEN_MAX];
  /* xheld.c: an answer the UDP amplification limit held back, kept for
   * the request's Echo'd repeat (request payload hash req_hash) */
  uint8_t amp_held;
  uint64_t req_hash;
} xcache;

/* An unfinished Block1 upload (server side). */
struct xup {
  xup *next;
  uint64_t key;
  uint64_t off;       /* bytes received so far */
  uint64_t limit;
  rc_time expires;
  uint8_t *buf;
  size_t cap;
  uint8_t has_sink;
  uint8_t blocks;     /* rc_xreq_body_blocks: each block to on_request;
                         sink.end / sink.arg are its end and arg */
  rc_body_sink sink;
  /* Q-Block1 (qblock.c): blocks land where they belong, have[] marks
   * them; 4.08 names the holes at miss_due, to the latest token */
  uint8_t qb, qb_szx, qb_last_known, qb_tries, qb_tkl, qb_con;
  uint8_t qb_tok[RC_TOKEN_MAX];
  uint32_t qb_last, qb_top, qb_got; /* final NUM; highest NUM + 1; count */
  uint8_t *qb_have;
  size_t qb_have_len;
  rc_time qb_miss_due;
};

/* One answer's target: token, cache key and the block options asked. */
typedef struct xanswer {
  const uint8_t *token;
  size_t token_len;
  uint64_t key, key_untagged;
  uint8_t has_b2, size2_req, obs_set, has_b1, nqb2;
  rc_block b2, b1;
  rc_block qb2[RC_QBLOCK_LIST_MAX];
  uint32_t obs_seq;
} xanswer;

/* Extra options the exchange adds to a message (Block, Size, ETag,
 * Observe, Request-Tag, a list of Q-Block2), kept sorted. */
typedef struct xextra {
  rc_opt o[8 + RC_QBLOCK_LIST_MAX];
  size_t n;
  uint8_t store[64 + 3 * RC_QBLOCK_LIST_MAX];
  size_t used;
} xextra;

struct rc_exchange {
  /* What a request answered by on_plain touches first, in two cache
   * lines (BENCHMARKS.md, hot16m): cb.on_plain is cb's last member. */
  rc_session *s;
  void *user;
  rc_exchange_callbacks cb;
  uint32_t next_tag;
  uint8_t fwd_to_app; /* rc_exchange_set_forward_unknown */
  /* Bit fields, so that these four bytes fill next_tag's 8-byte slot
   * (test_exchange IDLE_SERVER_BYTES): dead and hold, read per message,
   * stay whole bytes. */
  uint8_t nheld : 7; /* cache entries with amp_held (xheld.c): 0 or 1 */
  uint8_t udp : 1;   /* the session is RFC 7252's (xheld.c) */
  uint8_t dead;       /* failed (rc_exchange_fail_all) */
  uint8_t hold;       /* rc_exchange_hold_output */
  rc_time now;        /* of the last input: for answers given later */
  size_t ndeferred;
  size_t unanswered_max;
  const rc_mem *mem;
  uint64_t rng;
  uint64_t next_id;
  xout **buckets;     /* NULL until the first request we send */
  size_t nbuckets; /* power of two */
  size_t nout;
  xout *head, *tail; /* deadline order */
  xout *free_out;
  rc_xreq *deferred;
  rc_exchange_block_config bcfg;
  /* RC_EXCHANGE_CACHE_SLOTS entries, allocated by the first block-wise
   * answer (most connections never need one: idle memory). */
  xcache *cache;
  size_t cache_bytes;
  xup *ups;
  size_t nups;
  rc_budget *budget;  /* body memory shared with other exchanges, or NULL */
  rc_xreq_pool *pool; /* request records shared with other exchanges */
};

typedef struct xwin xwin;
/* Where a client transfer stands; rc__xcli_on_response has one handler
 * per state. */
typedef enum xcli_state {
  XCLI_WAITING = 0,   /* sent, no answer yet (or the upload just ended) */
  XCLI_UPLOADING,     /* Block1 transfer under way: 2.31 asks for more */
  XCLI_DOWNLOADING,   /* Block2 transfer under way */
  XCLI_OBSERVING,     /* registered: a first notification came */
  XCLI_DEREGISTERING  /* a deregistration GET is out: swallow the rest */
} xcli_state;

struct xblk {
  uint8_t code;
  rc_opt *opts;           /* the caller's, copied (into blob) */
  size_t nopts;
  uint8_t *blob;
  uint8_t *payload;       /* copied request payload (into blob) */
  size_t plen;
  uint32_t timeout_ms;
  rc_exchange_req_opts o;
  rc_body_source src;
  rc_body_sink sink;
  uint8_t has_src, has_sink, manual, observe;
  uint8_t state;          /* xcli_state: what a response means now */
  uint8_t csm_wait;       /* upload held until the peer's CSM arrives */
  /* upload */
  uint8_t up_bert;
  uint8_t up_szx;
  uint8_t up_szx_limit;   /* smallest SZX a 2.31 asked for; 7: none */
  uint64_t up_total;      /* RC_BODY_SIZE_UNKNOWN for unknown sources */
  uint64_t up_off;        /* bytes acknowledged */
  size_t up_last;         /* bytes in the block in flight */
  uint8_t up_last_more;
  uint8_t tag[4];
  uint8_t has_tag;        /* tag was sent with Block1: Block2 asks repeat it */
  uint8_t *stage;         /* source of unknown size: one block read ahead */
  size_t stage_cap;
  /* download */
  uint64_t down_off;
  uint64_t size2;
  uint8_t etag[8];
  uint8_t etag_len;
  uint8_t have_etag;
  uint8_t *buf;
  size_t len, cap;
  uint8_t first_code;
  uint8_t *first_opts;    /* raw options of the first response */
  size_t first_opts_len;
  /* observe: completing a large notification */
  xout *child;            /* request fetching the rest (no Observe) */
  xout *parent;           /* for a child: the observation */
  /* RFC 9175 §2.4: the Echo a 4.01 asked us to repeat the request with */
  uint8_t echo[RC_UDP_ECHO_MAX];
  uint8_t echo_len;       /* non-zero: the next request carries it */
  uint8_t echo_tried;     /* repeated once already: the next 4.01 stands */
  /* UDP: the freshest notification so far (RFC 7641 §3.4) */
  uint8_t obs_seen;
  uint32_t obs_v1;
  rc_time obs_t1;
  /* Q-Block (qblock_client.c): offered while qb (o.qblock; cleared by a
   * 4.02 fallback or a plain answer); qb_on while a Q-Block upload or
   * download is under way; blocks of a download marked in qb_have; the next
   * timer action (missing blocks, next set) at qb_due, the transfer
   * given up at qb_deadline */
  uint8_t qb, qb_on, qb_szx, qb_tries, qb_last_known, qb_probed;
  uint32_t qb_seq;  /* tokens used: request n goes with key + (n << 32) */
  uint32_t qb_last, qb_top, qb_got;
  uint32_t qb_next, qb_nblocks; /* upload: next block of the sets; count */
  uint8_t *qb_have;
  size_t qb_have_len;
  rc_time qb_due, qb_deadline;
  /* download with Block2 requests in flight at once (xwindow.c) */
  xwin *win;
};

/* exchange.c */
void rc__xx_add(xextra *ex, uint16_t num, const void *val, size_t len);
void rc__xx_add_uint(xextra *ex, uint16_t num, uint64_t v);
void rc__xx_add_block(xextra *ex, uint16_t num, const rc_block *b);
int rc__xx_has(const xextra *ex, uint16_t num);
rc_err rc__xch_send_full(rc_exchange *x, uint8_t code, const uint8_t *token,
                         size_t token_len, const rc_opt *opts, size_t nopts,
                         const xextra *ex, const uint8_t *payload,
                         size_t plen, const rc_body_source *src,
                         uint64_t src_off);
size_t rc__xch_opts_size(const rc_opt *opts, size_t nopts);
/* Encodes opts (sorted) merged with ex (an option number present in ex
 * replaces the caller's) into e. */
void rc__xch_enc_opts(rc_enc *e, const rc_opt *opts, size_t nopts,
                      const xextra *ex);
/* A request's key and key_untagged are made from its message the first
 * time they are needed (only while on_request runs: a request the user
 * holds has them made before it returns). */
void rc__xreq_keys_make(rc_xreq *r);
static inline void rc__xreq_keys(rc_xreq *r) {
  if (r->key_msg)
    rc__xreq_keys_make(r);
}

xout *rc__xch_find(rc_exchange *x, uint64_t key);
void rc__xch_unlink(rc_exchange *x, xout *o);
void rc__xch_release_out(rc_exchange *x, xout *o);
void rc__xch_rearm(rc_exchange *x, xout *o, rc_time deadline);
rc_err rc__xch_new_out(rc_exchange *x, xout **out, uint8_t token[8]);
/* Gives o a fresh token: answers to the old one no longer find it. */
void rc__xch_retoken(rc_exchange *x, xout *o);
/* The Q-Block transfer one of whose request tokens is key (each of its
 * requests has a token of its own, RFC 9177 §6), or NULL. */
xout *rc__xch_find_alias(rc_exchange *x, uint64_t key);
void rc__xch_link_out(rc_exchange *x, xout *o, rc_time deadline);
void rc__xch_log(rc_exchange *x, int level, const char *text);
/* Answers 5.03 Service Unavailable with Max-Age RC_EXCHANGE_RETRY_AFTER_S
 * and diag as the payload: a limit refuses the request for now. */
rc_err rc__xch_busy(rc_exchange *x, const uint8_t *token, size_t token_len,
                    const char *diag);

/* xserver.c */
/* Handles a request carrying Block1: 0 answered (nothing more to do),
 * 1 complete (*whole is the message for on_request), or an error. */
int rc__xsrv_block1(rc_exchange *x, rc_xreq *r, const rc_msg *m,
                    rc_msg *whole, rc_time now);
void rc__xsrv_block1_done(rc_exchange *x, rc_xreq *r);
/* Shared with qblock.c: the body cache, the upload records. */
xcache *rc__xsrv_cache_find(rc_exchange *x, uint64_t key, rc_time now);
xcache *rc__xsrv_cache_put(rc_exchange *x, const xanswer *a,
                           const rc_outmsg *m, const uint8_t etag[8],
                           uint8_t etag_len, rc_time now);
xup *rc__xsrv_up_find(rc_exchange *x, uint64_t key);
void rc__xsrv_up_free(rc_exchange *x, xup *u, rc_err reason);
/* A new upload for r's first block (uploads_max, on_body_start, Size1):
 * 1 and *out, 0 answered, or an error. */
int rc__xsrv_up_start(rc_exchange *x, rc_xreq *r, const rc_msg *m,
                      xup **out);
/* Makes u's buffer hold need bytes (budget, limit): 0, RC_ERR_LIMIT or
 * RC_ERR_NOMEM. Keeps the first u->off bytes. */
rc_err rc__xsrv_up_reserve(rc_exchange *x, xup *u, size_t need);
/* The answer to a refused store: 4.13 / 5.03 / 5.00 (u is freed). */
int rc__xsrv_up_refused(rc_exchange *x, xup *u, const rc_msg *m, rc_err err,
                        uint64_t need);
/* Room for token, options and header in one message. */
size_t rc__xsrv_overhead(const xanswer *a, const rc_outmsg *m);

/* qblock.c: Q-Block1 / Q-Block2 (RFC 9177), server side */
/* A request carrying Q-Block1; same results as rc__xsrv_block1. */
int rc__xqb1_request(rc_exchange *x, rc_xreq *r, const rc_msg *m,
                     rc_msg *whole, rc_time now);
/* Sends the Q-Block2 blocks a asks for of m's body (payload, or src of
 * total bytes; cached: the body's cache entry, or NULL). */
rc_err rc__xqb2_answer(rc_exchange *x, const xanswer *a, const rc_outmsg *m,
                       const rc_body_source *src, uint64_t total,
                       xcache *cached, rc_time now);
/* Q-Block2 options in strictly increasing order (RFC 9177 §4.4). */
int rc__xqb2_list_ok(const rc_xreq *r);
rc_time rc__xqb_expiry(const rc_exchange *x);
void rc__xqb_expire(rc_exchange *x, rc_time now);
/* Answers a Block2 request from the cache: 1 answered, 0 not cached. */
int rc__xsrv_from_cache(rc_exchange *x, rc_xreq *r, rc_time now);
/* Answers r from c (the block r asks for); returns non-zero while the
 * transfer has more to give (c stays), 0 once the last block went. */
int rc__xsrv_send_cached(rc_exchange *x, rc_xreq *r, xcache *c, rc_time now);
void rc__xsrv_cache_drop(rc_exchange *x, xcache *c);

/* xheld.c: answers held back by the UDP amplification limit */
/* POST, PATCH, iPATCH (RFC 7252 §5.8: not idempotent). */
static inline int rc__xheld_method(uint8_t code) {
  return code == RC_POST || code == RC_PATCH || code == RC_IPATCH;
}
/* After r's answer resp was sent: keeps it when the session held it back
 * for the amplification limit. */
void rc__xheld_keep(rc_exchange *x, rc_xreq *r, const rc_outmsg *resp,
                    const rc_body_source *src);
/* Before the handler (x->nheld > 0): answers r, a repeat with an Echo of
 * a request whose answer is kept, from it: 1 answered, 0 not such a
 * repeat. */
int rc__xheld_answer(rc_exchange *x, rc_xreq *r, const rc_msg *m,
                     rc_time now);
rc_err rc__xsrv_respond(rc_exchange *x, rc_xreq *r, const rc_outmsg *resp,
                        const rc_body_source *src);
rc_err rc__xcap_store(rc_xcapture *c, const rc_outmsg *resp);
void rc__xsrv_expire(rc_exchange *x, rc_time now);
rc_time rc__xsrv_expiry(const rc_exchange *x);
void rc__xsrv_free_all(rc_exchange *x, rc_err reason);

/* xclient.c */


/* Stores the next in-order piece of a download (sink or memory) and
 * reports progress. Returns 0 or the sink's / memory error. */
rc_err rc__xcli_store(rc_exchange *x, xblk *b, const uint8_t *p, size_t n);
/* Ends o (linked): status and an optional final response. */
void rc__xcli_end(rc_exchange *x, xout *o, rc_err status, const rc_msg *m);
/* Ends o (linked) with m as the final answer (its payload to the sink). */
void rc__xcli_deliver(rc_exchange *x, xout *o, const rc_msg *m);
/* The whole body is in; m's payload is not part of it. */
void rc__xcli_downloaded(rc_exchange *x, xout *o, const rc_msg *m);
void rc__xcli_on_response(rc_exchange *x, xout *o, const rc_msg *m,
                          rc_time now);
void rc__xcli_fail(rc_exchange *x, xout *o, rc_err reason);
void rc__xcli_free(rc_exchange *x, xblk *b, rc_err reason);
/* Shared with qblock_client.c. */
void rc__xcli_finish(rc_exchange *x, xout *o, rc_err status,
                     const rc_msg *m);
rc_err rc__xcli_keep_first(rc_exchange *x, xblk *b, const rc_msg *m);
rc_err rc__xcli_grow(rc_exchange *x, xblk *b, size_t n);
void rc__xcli_progress(xblk *b, int up, uint64_t done, uint64_t total);
/* The upload's Request-Tag into ex, for the Block2 requests after it. */
void rc__xcli_add_tag(const xblk *b, xextra *ex);
rc_err rc__xcli_send(rc_exchange *x, xout *o, rc_time now);

/* qblock_client.c: Q-Block1 / Q-Block2 (RFC 9177), client side */
/* Handles m for a Q-Block transfer: 1 taken, 0 for the usual handlers. */
int rc__xqcli_on_response(rc_exchange *x, xout *o, const rc_msg *m,
                          rc_time now);
/* o's deadline passed: 1 when it was a Q-Block timer (o rearmed), 0 when
 * the transfer times out. */
int rc__xqcli_on_timer(rc_exchange *x, xout *o, rc_time now);
/* A Reset to one of o's messages: 1 when it means "no Q-Block" and the
 * transfer went on without it, 0 when o fails. */
int rc__xqcli_on_reset(rc_exchange *x, xout *o, rc_time now);
/* Sends the next set of a Q-Block1 upload. */
rc_err rc__xqcli_send_set(rc_exchange *x, xout *o, rc_time now);
/* A 4.01 with Echo (b->echo) to one request of o's Q-Block transfer:
 * that request's part of the transfer goes again, with the Echo. */
rc_err rc__xqcli_echo_repeat(rc_exchange *x, xout *o, rc_time now);

/* xwindow.c: a download's other Block2 requests in flight. */
/* After the first block (stored, b->down_off its length): asks for the
 * next blocks on up to b->o.window tokens. Returns 0 or an error (the
 * caller ends the transfer). */
rc_err rc__xwin_start(rc_exchange *x, xout *o, const rc_block *first,
                      size_t len, rc_time now);
/* Cancels the requests in flight and frees held blocks (w may be NULL;
 * its transfer's xout may be released already). */
void rc__xwin_free(rc_exchange *x, xwin *w);

uint64_t rc__xch_hash_body(const uint8_t *p, size_t n);

/* xstrip.c: m without its recognized elective options whose value length
 * is outside their range (RFC 7252 §5.4.3), in *out; the options in *buf
 * (mem->free it after use), the rest m's. 0 or RC_ERR_NOMEM. */
rc_err rc__xch_strip(const rc_mem *mem, const rc_msg *m, rc_msg *out,
                     uint8_t **buf);

#endif
