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
  rc_exchange *x;     /* NULL once the exchange is gone */
  const rc_mem *mem;  /* frees an orphan (x gone) */
  const rc_msg *msg;  /* during on_request only */
  uint8_t deferred;
  uint8_t answered;
  uint8_t has_b1, has_b2, size2_req, obs_set, streamed, in_body_start;
  uint8_t resp_code;
  int32_t obs_val;    /* -1: no Observe option */
  uint32_t obs_seq;
  uint64_t size1;     /* RC_BODY_SIZE_UNKNOWN when absent */
  uint64_t key;
  rc_block b1, b2;
  xup *up;            /* during on_body_start */
  rc_xcapture *cap;   /* a capture record: answers are copied, not sent */
  uint32_t token_len;
  const uint8_t *token; /* into msg, tok, or tok_heap */
  uint8_t *tok_heap;    /* extended tokens of deferred requests */
  uint8_t tok[RC_TOKEN_MAX];
  rc_xreq *prev, *next; /* deferred list, or free list (next) */
};

/* A body kept for the next Block2 requests of a transfer. */
typedef struct xcache {
  uint64_t key;
  rc_time expires;    /* 0: slot free */
  uint8_t code;
  uint8_t etag_len;
  uint8_t etag[8];
  size_t nopts;
  rc_opt *opts;       /* into blob */
  const uint8_t *body;/* into blob */
  size_t len;
  uint8_t *blob;
  size_t blob_size;
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
  rc_body_sink sink;
};

/* Extra options the exchange adds to a message (Block, Size, ETag,
 * Observe, Request-Tag), kept sorted. */
typedef struct xextra {
  rc_opt o[8];
  size_t n;
  uint8_t store[64];
  size_t used;
} xextra;

struct rc_exchange {
  rc_session *s;
  rc_exchange_callbacks cb;
  void *user;
  const rc_mem *mem;
  uint64_t rng;
  uint64_t next_id;
  xout **buckets;     /* NULL until the first request we send */
  size_t nbuckets; /* power of two */
  size_t nout;
  xout *head, *tail; /* deadline order */
  xout *free_out;
  rc_xreq *deferred;
  size_t ndeferred;
  int dead;
  int hold;
  rc_time now;        /* of the last input: for answers given later */
  rc_exchange_block_config bcfg;
  /* RC_EXCHANGE_CACHE_SLOTS entries, allocated by the first block-wise
   * answer (most connections never need one: idle memory). */
  xcache *cache;
  size_t cache_bytes;
  xup *ups;
  size_t nups;
  uint32_t next_tag;
  rc_budget *budget;  /* body memory shared with other exchanges, or NULL */
  rc_xreq_pool *pool; /* request records shared with other exchanges */
  size_t unanswered_max;
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
xout *rc__xch_find(rc_exchange *x, uint64_t key);
void rc__xch_unlink(rc_exchange *x, xout *o);
void rc__xch_release_out(rc_exchange *x, xout *o);
void rc__xch_rearm(rc_exchange *x, xout *o, rc_time deadline);
rc_err rc__xch_new_out(rc_exchange *x, xout **out, uint8_t token[8]);
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
/* Answers a Block2 request from the cache: 1 answered, 0 not cached. */
int rc__xsrv_from_cache(rc_exchange *x, rc_xreq *r, rc_time now);
rc_err rc__xsrv_respond(rc_exchange *x, rc_xreq *r, const rc_outmsg *resp,
                        const rc_body_source *src);
rc_err rc__xcap_store(rc_xcapture *c, const rc_outmsg *resp);
void rc__xsrv_expire(rc_exchange *x, rc_time now);
rc_time rc__xsrv_expiry(const rc_exchange *x);
void rc__xsrv_free_all(rc_exchange *x, rc_err reason);

/* xclient.c */
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
  /* UDP: the freshest notification so far (RFC 7641 §3.4) */
  uint8_t obs_seen;
  uint32_t obs_v1;
  rc_time obs_t1;
  /* download with Block2 requests in flight at once (xwindow.c) */
  xwin *win;
};


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

#endif
