/*
 * Internals shared by the WebSocket filter's two files: ws.c (frames, the
 * filter ops, output buffering) and ws_handshake.c (the HTTP/1.1 opening
 * handshake on both sides and plain HTTP answers). Not a public header.
 */
#ifndef RCOAP_TRANSPORT_WS_INT_H
#define RCOAP_TRANSPORT_WS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "rcoap/transport_filter.h"
#include "rcoap/transport_http.h"
#include "rcoap/transport_ws.h"

struct wslay_frame_context;

typedef enum rc__ws_state {
  RC__WS_HANDSHAKE = 0, /* opening handshake in progress */
  RC__WS_OPEN,          /* frames flow */
  RC__WS_HTTP,          /* server streaming a plain HTTP body */
  RC__WS_HTTP_BODY,     /* server reading a plain HTTP request's body */
  RC__WS_HTTP_WAIT,     /* server waiting for a deferred HTTP answer */
  RC__WS_DONE           /* closed or failed: only destroy() is useful */
} rc__ws_state;

typedef struct rc__ws {
  rc_filter base; /* first: the filter header */
  rc_mem mem;
  int server;
  rc__ws_state state;
  size_t max_message;
  rc_ws_subproto proto;

  /* configuration (owned copies) */
  char *path;
  char *host;
  char *origin;
  char **origins;
  size_t n_origins;
  uint16_t port;
  int tls;
  int offer_v1;
  rc_ws_http_cb on_http;
  void *http_user;

  /* opening handshake: the head collected so far */
  uint8_t *hbuf;
  size_t hlen;
  int started; /* client: request sent */
  char accept[RC_WS_ACCEPT_SIZE]; /* client: the expected accept value */

  /* frames in */
  struct wslay_frame_context *wf; /* NULL while idle (ws_wf_get/put) */
  uint64_t wf_fed, wf_used; /* bytes given to wf; bytes of the frames it
                               parsed (equal: its buffer is empty) */
  const uint8_t *in; /* the bytes of the current recv(), for wslay */
  size_t in_len;
  int in_frame; /* a frame's header was seen, its payload is coming */
  uint8_t f_opcode;
  uint8_t f_fin;
  uint64_t f_len, f_off;
  uint8_t ctrl[RC_WS_MAX_CONTROL];
  size_t ctrl_len;
  uint8_t *msg; /* reassembly of fragmented messages */
  size_t msg_len, msg_cap;
  rc_budget *budget;
  size_t taken;  /* bytes of budget held for msg */
  int delivering; /* msg is up() with the layer above */
  int msg_active;
  int close_sent, close_rcvd;

  /* bytes out: flushed with one down() per batch */
  uint8_t *out;
  size_t out_len, out_cap;
  int in_recv;
  int cork;

  /* streamed HTTP body */
  rc_http_body_source src;
  uint64_t src_left;

  /* plain HTTP requests (ws_http.c) */
  size_t http_body_max;
  uint8_t *body;        /* the request's body */
  size_t body_len, body_need; /* body_need: Content-Length, or the
                                 buffer's size for a chunked body */
  int chunked;          /* the body comes in the chunked coding */
  rc_http_chunked chunk;
  size_t head_len;      /* the head in hbuf, kept while the body comes */
  rc_http_reply *reply; /* the deferred answer, while one is due */
  int keep_alive;       /* this request's connection persists */
  uint8_t *held;        /* the peer's next request, while one is served */
  size_t held_len;
} rc__ws;

/* A deferred plain HTTP answer (transport_ws.h): w is NULL once the
 * filter is gone. */
struct rc_http_reply {
  rc__ws *w;
  rc_mem mem; /* the filter's, to free the reply after the filter */
  int head_only;
};

/* The ws filter behind f, or NULL when f is not one. */
rc__ws *rc__ws_of(const rc_filter *f);
rc_err rc__ws_reserve(rc__ws *w, size_t n);
rc_err rc__ws_append(rc__ws *w, const void *data, size_t n);
rc_err rc__ws_flush(rc__ws *w);
void rc__ws_finish(rc__ws *w, rc_filter_event ev, int arg, const char *detail);
void rc__ws_event(rc__ws *w, rc_filter_event ev, int arg, const char *detail);
rc_err rc__ws_http_start_body(rc__ws *w);
/* Answers with a refusal (status, a one-line text body, Connection:
 * close) and fails the filter with err. Returns err. */
rc_err rc__ws_refuse(rc__ws *w, int status, const char *extra,
                     const char *why, rc_err err);

/* ws_http.c: plain HTTP on a server port. */
/* Writes a response head into the output buffer. clen < 0: no
 * Content-Length; keep: no "Connection: close". RC_OK or RC_ERR_NOMEM. */
rc_err rc__ws_http_head_out(rc__ws *w, int status, const char *ctype,
                            long long clen, const char *extra, int keep);
/* A complete request head of head_len bytes in hbuf that is not an
 * upgrade: reads its body (state HTTP_BODY) or answers it. */
rc_err rc__ws_http_request(rc__ws *w, const rc_http_head *h, size_t head_len);
/* Bytes for the HTTP side while not in HANDSHAKE: *used of data taken. */
rc_err rc__ws_http_input(rc__ws *w, const uint8_t *data, size_t len,
                         size_t *used);
/* A response went out in full: next request (kept alive) or EV_CLOSED. */
void rc__ws_http_done(rc__ws *w);
/* The filter goes: a pending reply is orphaned, held bytes freed. */
void rc__ws_http_free(rc__ws *w);

/* Feed handshake bytes. *used is how many bytes of data belong to the
 * handshake (the rest are frames, when the state turned OPEN). Return
 * RC_OK or the error that ended the filter. */
rc_err rc__ws_server_handshake(rc__ws *w, const uint8_t *data, size_t len,
                               size_t *used);
rc_err rc__ws_client_handshake(rc__ws *w, const uint8_t *data, size_t len,
                               size_t *used);

#endif
