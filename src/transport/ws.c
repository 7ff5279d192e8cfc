/*
 * The WebSocket filter: RFC 6455 framing and handshakes as a sans-I/O byte
 * <-> message transform for coap+ws and coaps+ws (RFC 8323 §4). Bytes from
 * below first go through the opening handshake (ws_handshake.c decides the
 * server's answer and checks the client's 101), then through wslay's frame
 * layer, whose recv callback reads from the bytes given to recv() and
 * whose send callback appends to one output buffer; everything produced
 * while processing one recv() (pongs, close replies, frames the session
 * sends from inside up()) leaves in one down() call. The message rules
 * wslay's frame layer leaves to its user live here: masking direction,
 * reserved bits and opcodes, fragmentation and reassembly up to the
 * configured maximum, text refusal, ping/pong and the close handshake.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>
#include <wslay/wslay.h>

#include "transport/ws_int.h"

/* How much of a streamed HTTP body one chunk reads. */
#define WS_HTTP_CHUNK 16384
/* How much of a streamed body is sent before waiting for rc_ws_http_pump. */
#define WS_HTTP_FIRST_BUDGET 65536
/* RFC 6455 §5.2: at most 14 header bytes (2 + 8 length + 4 mask). */
#define WS_FRAME_HEADER_MAX 14

/* ---- small helpers ------------------------------------------------------ */

static void *ws_alloc(rc__ws *w, size_t n) { return w->mem.malloc(n, w->mem.user); }

static char *ws_strdup(rc__ws *w, const char *s) {
  size_t n;
  char *d;
  if (!s)
    return NULL;
  n = strlen(s) + 1;
  d = ws_alloc(w, n);
  if (d)
    memcpy(d, s, n);
  return d;
}

/* Makes room for n more bytes in the output buffer. Returns RC_OK or
 * RC_ERR_NOMEM. */
rc_err rc__ws_reserve(rc__ws *w, size_t n) {
  size_t cap;
  uint8_t *p;
  if (w->out_cap - w->out_len >= n)
    return RC_OK;
  if (n > SIZE_MAX / 2 - w->out_len)
    return RC_ERR_NOMEM;
  cap = w->out_cap ? w->out_cap : 256;
  while (cap - w->out_len < n)
    cap *= 2;
  p = w->mem.realloc(w->out, cap, w->mem.user);
  if (!p)
    return RC_ERR_NOMEM;
  w->out = p;
  w->out_cap = cap;
  return RC_OK;
}

rc_err rc__ws_append(rc__ws *w, const void *data, size_t n) {
  rc_err rc = rc__ws_reserve(w, n);
  if (rc)
    return rc;
  if (n)
    memcpy(w->out + w->out_len, data, n);
  w->out_len += n;
  return RC_OK;
}

/* Hands the output buffer down. Returns RC_OK or down()'s error. */
rc_err rc__ws_flush(rc__ws *w) {
  rc_err rc;
  size_t n = w->out_len;
  if (n == 0)
    return RC_OK;
  w->out_len = 0;
  rc = w->base.sink.down(w->base.sink.ctx, w->out, n);
  return rc;
}

/* Flushes unless a recv is in progress or the filter is corked (the
 * batch is flushed when those end). */
static rc_err ws_maybe_flush(rc__ws *w) {
  if (w->in_recv || w->cork)
    return RC_OK;
  return rc__ws_flush(w);
}

/* Ends the filter's life: flushes what is queued (the close frame, the
 * HTTP answer), then reports ev. Later input is ignored. */
void rc__ws_finish(rc__ws *w, rc_filter_event ev, int arg, const char *detail) {
  if (w->state == RC__WS_DONE)
    return;
  w->state = RC__WS_DONE;
  (void)rc__ws_flush(w);
  if (w->src.close) {
    w->src.close(w->src.ctx);
    w->src.close = NULL;
    w->src.read = NULL;
  }
  if (w->base.sink.event)
    w->base.sink.event(w->base.sink.ctx, ev, arg, detail);
}

void rc__ws_event(rc__ws *w, rc_filter_event ev, int arg, const char *detail) {
  if (w->base.sink.event)
    w->base.sink.event(w->base.sink.ctx, ev, arg, detail);
}

/* ---- wslay callbacks ----------------------------------------------------- */

/* Gives wslay the bytes of the current recv() call; 0 (which wslay reads
 * as "want read") once they are used up. */
static ssize_t ws_cb_recv(uint8_t *buf, size_t len, int flags, void *user) {
  rc__ws *w = user;
  size_t n = len < w->in_len ? len : w->in_len;
  (void)flags;
  if (n) {
    memcpy(buf, w->in, n);
    w->in += n;
    w->in_len -= n;
    w->wf_fed += n;
  }
  return (ssize_t)n;
}

/* Appends frame bytes to the output buffer; room was reserved before the
 * frame was started, so this cannot fail halfway through a frame. */
static ssize_t ws_cb_send(const uint8_t *data, size_t len, int flags,
                          void *user) {
  rc__ws *w = user;
  (void)flags;
  if (rc__ws_append(w, data, len))
    return -1;
  return (ssize_t)len;
}

/* RFC 6455 §5.3: "The masking key is a 32-bit value chosen at random by
 * the client. When preparing a masked frame, the client MUST pick a fresh
 * masking key from the set of allowed 32-bit values." Keys come from
 * RAND_bytes, drawn a pool at a time; the pool is per thread (a filter
 * belongs to one thread), so it costs no memory per connection and one
 * RAND_bytes call serves a thousand frames. */
#define WS_MASK_POOL 4096u
static _Thread_local uint8_t ws_mask_pool[WS_MASK_POOL];
static _Thread_local size_t ws_mask_pos = WS_MASK_POOL;

static int ws_cb_genmask(uint8_t *buf, size_t len, void *user) {
  (void)user;
  if (len > WS_MASK_POOL)
    return -1;
  if (ws_mask_pos + len > WS_MASK_POOL) {
    if (RAND_bytes(ws_mask_pool, (int)WS_MASK_POOL) != 1)
      return -1;
    ws_mask_pos = 0;
  }
  memcpy(buf, ws_mask_pool + ws_mask_pos, len);
  ws_mask_pos += len;
  return 0;
}

static const struct wslay_frame_callbacks ws_cbs = {ws_cb_send, ws_cb_recv,
                                                    ws_cb_genmask};

/* wslay's frame context (4 KiB of input buffer, ~4.2 KB) exists only while
 * frames move through it: an idle connection holds none. Returns 0, or -1
 * without memory. */
static int ws_wf_get(rc__ws *w) {
  if (w->wf)
    return 0;
  w->wf_fed = w->wf_used = 0;
  if (wslay_frame_context_init(&w->wf, &ws_cbs, w) != 0) {
    w->wf = NULL;
    return -1;
  }
  return 0;
}

/* Frees wslay's context when it holds nothing: no frame under way and
 * every byte given to it belongs to a whole frame parsed (counted with the
 * shortest header for the frame's length, RFC 6455 §5.2's "minimal number
 * of bytes"; a longer one keeps the context, which is only memory). */
static void ws_wf_put(rc__ws *w) {
  if (w->wf && !w->in_frame && w->wf_fed == w->wf_used) {
    wslay_frame_context_free(w->wf);
    w->wf = NULL;
  }
}

/* ---- sending frames ------------------------------------------------------- */

/* Encodes one whole frame into the output buffer. Returns RC_OK,
 * RC_ERR_NOMEM, or RC_ERR_TLS (no random mask key). */
static rc_err ws_frame_out(rc__ws *w, uint8_t opcode, const uint8_t *data,
                           size_t n) {
  struct wslay_frame_iocb io;
  ssize_t r;
  rc_err rc;
  /* The masked path of wslay copies through a 4 KiB stack buffer, so the
   * whole frame lands in our buffer; reserve it all first. */
  if (n > SIZE_MAX - WS_FRAME_HEADER_MAX)
    return RC_ERR_TOO_LARGE;
  rc = rc__ws_reserve(w, n + WS_FRAME_HEADER_MAX);
  if (rc)
    return rc;
  if (w->server) {
    /* RFC 6455 §5.2: an unmasked frame is two bytes (FIN, opcode; length
     * 0-125, or 126 / 127 announcing a 16- or 64-bit length), the extended
     * length, then the payload. Written here directly: on the server's hot
     * path wslay's per-frame callbacks cost more than the frame. */
    uint8_t h[WS_FRAME_HEADER_MAX];
    size_t hl = 2;
    h[0] = (uint8_t)(0x80u | opcode);
    if (n < 126) {
      h[1] = (uint8_t)n;
    } else if (n <= 0xffffu) {
      h[1] = 126;
      h[2] = (uint8_t)(n >> 8);
      h[3] = (uint8_t)n;
      hl = 4;
    } else {
      h[1] = 127;
      for (int i = 0; i < 8; i++)
        h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
      hl = 10;
    }
    /* Room was reserved above: these cannot fail. */
    rc__ws_append(w, h, hl);
    rc__ws_append(w, data, n);
    return RC_OK;
  }
  memset(&io, 0, sizeof(io));
  io.fin = 1;
  io.opcode = opcode;
  /* RFC 6455 §5.1: "a client MUST mask all frames that it sends to the
   * server"; "A server MUST NOT mask any frames that it sends to the
   * client." */
  io.mask = w->server ? 0 : 1;
  io.payload_length = n;
  io.data = data;
  io.data_length = n;
  if (ws_wf_get(w))
    return RC_ERR_NOMEM;
  r = wslay_frame_send(w->wf, &io);
  if (!w->in_recv)
    ws_wf_put(w);
  if (r == WSLAY_ERR_INVALID_CALLBACK)
    return RC_ERR_TLS;
  if (r < 0 || (size_t)r != n)
    return RC_ERR_NOMEM;
  return RC_OK;
}

/* Sends a close frame with code (0: none) and a short reason. */
static rc_err ws_close_out(rc__ws *w, uint16_t code, const char *reason) {
  uint8_t p[RC_WS_MAX_CONTROL];
  size_t n = 0, rl;
  if (w->close_sent)
    return RC_OK;
  w->close_sent = 1;
  if (code) {
    p[0] = (uint8_t)(code >> 8);
    p[1] = (uint8_t)code;
    n = 2;
    rl = reason ? strlen(reason) : 0;
    if (rl > sizeof(p) - 2)
      rl = sizeof(p) - 2;
    if (rl)
      memcpy(p + 2, reason, rl);
    n += rl;
  }
  return ws_frame_out(w, WSLAY_CONNECTION_CLOSE, p, n);
}

/* Fails the WebSocket connection (RFC 6455 §7.1.7): sends a close frame
 * with code, then reports EV_ERROR with err. Returns err. */
static rc_err ws_fail(rc__ws *w, uint16_t code, rc_err err, const char *why) {
  char detail[200];
  (void)ws_close_out(w, code, why);
  snprintf(detail, sizeof(detail), "sent WebSocket close %u: %s", code, why);
  rc__ws_finish(w, RC_FILTER_EV_ERROR, err, detail);
  return err;
}

/* ---- receiving frames ----------------------------------------------------- */

/* Strict UTF-8 (RFC 3629 §4): no overlongs, no surrogates, <= U+10FFFF. */
static int ws_utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    size_t k, need;
    uint32_t cp;
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      cp = c & 0x07;
    } else {
      return 0;
    }
    if (n - i <= need)
      return 0;
    for (k = 1; k <= need; k++) {
      if ((s[i + k] & 0xc0) != 0x80)
        return 0;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
      return 0;
    i += need + 1;
  }
  return 1;
}

/* RFC 6455 §7.4.1/§7.4.2 and the IANA registry: codes a peer may send. */
static int ws_close_code_valid(unsigned code) {
  if (code >= 3000 && code <= 4999)
    return 1;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}

static rc_err ws_on_close(rc__ws *w) {
  char detail[200];
  unsigned code = 1005; /* RFC 6455 §7.1.5: "no status code was present" */
  w->close_rcvd = 1;
  if (w->ctrl_len == 1)
    return ws_fail(w, 1002, RC_ERR_WS_PROTOCOL, "close frame of 1 byte");
  if (w->ctrl_len >= 2) {
    code = ((unsigned)w->ctrl[0] << 8) | w->ctrl[1];
    if (!ws_close_code_valid(code))
      return ws_fail(w, 1002, RC_ERR_WS_PROTOCOL, "invalid close code");
    /* RFC 6455 §5.5.1: the close reason "is not guaranteed to be human
     * readable" but is UTF-8; §8.1: invalid UTF-8 fails the connection. */
    if (!ws_utf8_valid(w->ctrl + 2, w->ctrl_len - 2))
      return ws_fail(w, 1007, RC_ERR_WS_PROTOCOL, "close reason not UTF-8");
  }
  /* RFC 6455 §5.5.1: "If an endpoint receives a Close frame and did not
   * previously send a Close frame, the endpoint MUST send a Close frame in
   * response. (When sending a Close frame in response, the endpoint
   * typically echos the status code it received.)" */
  if (!w->close_sent)
    (void)ws_close_out(w, code == 1005 ? 0 : (uint16_t)code, NULL);
  snprintf(detail, sizeof(detail), "WebSocket closed by peer with code %u",
           code);
  rc__ws_finish(w, RC_FILTER_EV_CLOSED, (int)code, detail);
  return RC_OK;
}

static rc_err ws_on_control(rc__ws *w) {
  switch (w->f_opcode) {
  case WSLAY_PING:
    /* RFC 6455 §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST
     * send a Pong frame in response, unless it already received a Close
     * frame." The Pong carries the Ping's application data (§5.5.3). */
    if (w->close_sent)
      return RC_OK;
    return ws_frame_out(w, WSLAY_PONG, w->ctrl, w->ctrl_len);
  case WSLAY_PONG:
    return RC_OK; /* §5.5.3: an unsolicited Pong needs no answer */
  default:
    return ws_on_close(w);
  }
}

/* Checks a frame's header when its first payload bytes (or its empty
 * payload) arrive. Returns RC_OK or the error it failed the connection
 * with. */
static rc_err ws_frame_start(rc__ws *w, const struct wslay_frame_iocb *io) {
  uint8_t op = io->opcode;
  /* RFC 6455 §5.2: RSV1-3 "MUST be 0 unless an extension is negotiated
   * ... If a nonzero value is received and none of the negotiated
   * extensions defines the meaning of such a nonzero value, the receiving
   * endpoint MUST _Fail the WebSocket Connection_." */
  if (io->rsv)
    return ws_fail(w, 1002, RC_ERR_WS_PROTOCOL, "reserved bits set");
  /* §5.2: "If an unknown opcode is received, the receiving endpoint MUST
   * _Fail the WebSocket Connection_." */
  if ((op > WSLAY_BINARY_FRAME && op < WSLAY_CONNECTION_CLOSE) ||
      op > WSLAY_PONG)
    return ws_fail(w, 1002, RC_ERR_WS_PROTOCOL, "reserved opcode");
  /* §5.1: "The server MUST close the connection upon receiving a frame
   * that is not masked ... with a status code of 1002"; "A client MUST
   * close a connection if it detects a masked frame." */
  if (w->server && !io->mask)
    return ws_fail(w, 1002, RC_ERR_WS_PROTOCOL, "client frame not masked");
  if (!w->server && io->mask)
    return ws_fail(w, 1002, RC_ERR_WS_PROTOCOL, "server frame masked");
  w->f_opcode = op;
  w->f_fin = io->fin;
  w->f_len = io->payload_length;
  w->f_off = 0;
  w->ctrl_len = 0;
  w->in_frame = 1;
  /* the whole frame's bytes, as wslay will have taken them at its end */
  w->wf_used += 2 + (w->f_len < 126 ? 0 : w->f_len <= 0xffffu ? 2 : 8) +
                (io->mask ? 4 : 0) + w->f_len;
  if (wslay_is_ctrl_frame(op))
    return RC_OK;
  /* §5.4: a continuation frame continues a started message; a new data
   * frame must not interleave with an unfinished one. */
  if (op == WSLAY_CONTINUATION_FRAME && !w->msg_active)
    return ws_fail(w, 1002, RC_ERR_WS_PROTOCOL, "continuation without start");
  if (op != WSLAY_CONTINUATION_FRAME && w->msg_active)
    return ws_fail(w, 1002, RC_ERR_WS_PROTOCOL, "fragmented message interleaved");
  /* RFC 8323 §4.2: "the messages are transmitted in binary data frames";
   * RFC 6455 §7.4.1: 1003 "indicates that an endpoint is terminating the
   * connection because it has received a type of data it cannot accept". */
  if (op == WSLAY_TEXT_FRAME)
    return ws_fail(w, 1003, RC_ERR_WS_PROTOCOL, "text messages not accepted");
  /* 1009: refuse before buffering anything more of an oversized message. */
  if (w->f_len > w->max_message - w->msg_len)
    return ws_fail(w, 1009, RC_ERR_TOO_LARGE, "message too big");
  if (op == WSLAY_BINARY_FRAME) {
    w->msg_len = 0;
    w->msg_active = !io->fin;
  }
  return RC_OK;
}

/* Frees the reassembly buffer and gives its bytes back to the budget. */
static void ws_msg_release(rc__ws *w) {
  w->mem.free(w->msg, w->mem.user);
  w->msg = NULL;
  w->msg_cap = 0;
  rc_budget_give_all(w->budget, &w->taken);
}

/* The end op: the connection is closing. */
static void ws_end(rc_filter *f) {
  rc__ws *w = (rc__ws *)f;
  if (!w->delivering)
    ws_msg_release(w);
  else /* still being read above: freed after delivery or at destroy */
    rc_budget_give_all(w->budget, &w->taken);
  /* The connection is closing (perhaps from inside up(), with more frames
   * in the same recv()): decode nothing more, and never touch the budget
   * again, whose owner may be gone by the time the filter is destroyed. */
  w->msg_len = 0;
  w->msg_active = 0;
  w->budget = NULL;
  w->state = RC__WS_DONE;
}

static rc_err ws_msg_append(rc__ws *w, const uint8_t *d, size_t n) {
  if (n == 0)
    return RC_OK;
  if (w->msg_cap - w->msg_len < n) {
    /* msg_len + n <= max_message was checked at the frame start. */
    size_t cap = w->msg_cap ? w->msg_cap : 1024;
    uint8_t *p;
    while (cap - w->msg_len < n)
      cap *= 2;
    if (cap > w->max_message)
      cap = w->max_message;
    /* Past RC_WS_MSG_FREE the whole buffer is the budget's: exactly what
     * this piece needs if doubling is refused, else RC_ERR_LIMIT. */
    if (w->budget && cap > RC_WS_MSG_FREE &&
        !(cap = rc_budget_grow(w->budget, &w->taken, cap, w->msg_len + n)))
      return RC_ERR_LIMIT;
    p = w->mem.realloc(w->msg, cap, w->mem.user);
    if (!p)
      return RC_ERR_NOMEM;
    w->msg = p;
    w->msg_cap = cap;
  }
  memcpy(w->msg + w->msg_len, d, n);
  w->msg_len += n;
  return RC_OK;
}

static rc_err ws_deliver(rc__ws *w, const uint8_t *d, size_t n) {
  rc_err rc = w->base.sink.up(w->base.sink.ctx, d, n, RC_FILTER_MSG_END);
  if (rc && w->state != RC__WS_DONE) {
    /* The layer above refused the message: its failure ends the
     * connection (the session has reported it its own way). */
    w->state = RC__WS_DONE;
  }
  return rc;
}

/* One chunk of one frame from wslay. Returns RC_OK or an error (after
 * which the filter is done). */
static rc_err ws_on_chunk(rc__ws *w, const struct wslay_frame_iocb *io) {
  rc_err rc;
  int last;
  if (!w->in_frame) {
    rc = ws_frame_start(w, io);
    if (rc)
      return rc;
  }
  w->f_off += io->data_length;
  last = w->f_off == w->f_len;
  if (wslay_is_ctrl_frame(w->f_opcode)) {
    /* wslay's frame layer refuses control frames over 125 bytes. */
    if (io->data_length) {
      memcpy(w->ctrl + w->ctrl_len, io->data, io->data_length);
      w->ctrl_len += io->data_length;
    }
    if (!last)
      return RC_OK;
    w->in_frame = 0;
    return ws_on_control(w);
  }
  if (last)
    w->in_frame = 0;
  /* The common case, a whole message in one frame whose payload wslay
   * hands over in one piece, goes up without a copy. */
  if (w->f_fin && last && w->msg_len == 0 &&
      io->data_length == w->f_len) {
    w->msg_active = 0;
    return ws_deliver(w, io->data, io->data_length);
  }
  rc = ws_msg_append(w, io->data, io->data_length);
  if (rc == RC_ERR_LIMIT) {
    /* The shared budget refused: 1009 if the message alone is larger
     * than it, else 1013 "Try Again Later" (IANA WebSocket Close Code
     * registry). */
    int never = w->msg_len + io->data_length + (w->f_len - w->f_off) >
                rc_budget_limit(w->budget);
    ws_msg_release(w);
    return never ? ws_fail(w, 1009, RC_ERR_TOO_LARGE,
                           "message larger than the server's memory for "
                           "messages")
                 : ws_fail(w, 1013, RC_ERR_LIMIT,
                           "no memory for a message this large now");
  }
  if (rc)
    return ws_fail(w, 1011, rc, "out of memory");
  if (last && w->f_fin) {
    size_t n = w->msg_len;
    w->msg_len = 0;
    w->msg_active = 0;
    w->delivering = 1;
    rc = ws_deliver(w, w->msg, n);
    w->delivering = 0;
    /* A large buffer goes back at once: idle connections hold none. */
    if (w->msg_cap > RC_WS_MSG_FREE)
      ws_msg_release(w);
    return rc;
  }
  return RC_OK;
}

/* Runs every complete frame in data through wslay and the rules above. */
static rc_err ws_frames_in(rc__ws *w, const uint8_t *data, size_t len) {
  if (ws_wf_get(w))
    return ws_fail(w, 1011, RC_ERR_NOMEM, "out of memory");
  w->in = data;
  w->in_len = len;
  /* Each pass either consumes input, returns a chunk, or stops. */
  while (w->state == RC__WS_OPEN) {
    struct wslay_frame_iocb io;
    size_t before = w->in_len;
    ssize_t r;
    memset(&io, 0, sizeof(io));
    r = wslay_frame_recv(w->wf, &io);
    if (r == WSLAY_ERR_WANT_READ) {
      if (w->in_len == 0 || w->in_len == before)
        break;
      continue;
    }
    if (r == WSLAY_ERR_PROTO)
      return ws_fail(w, 1002, RC_ERR_WS_PROTOCOL, "malformed frame header");
    if (r < 0)
      return ws_fail(w, 1011, RC_ERR_WS_PROTOCOL, "frame decoder failure");
    {
      rc_err rc = ws_on_chunk(w, &io);
      if (rc)
        return rc;
    }
  }
  w->in = NULL;
  w->in_len = 0;
  ws_wf_put(w);
  return RC_OK;
}

/* ---- the filter ops -------------------------------------------------------- */

static rc_err ws_recv(rc_filter *f, const uint8_t *data, size_t len) {
  rc__ws *w = (rc__ws *)f;
  size_t used = 0;
  rc_err rc = RC_OK, frc;
  if (w->state == RC__WS_DONE)
    return RC_ERR_STATE;
  if (!data && len)
    return RC_ERR_INVAL;
  w->in_recv++;
  /* A server's plain HTTP requests follow one another on a kept-alive
   * connection: each state takes what is its own and hands on the rest. */
  for (size_t off = 0; rc == RC_OK && off < len; off += used) {
    rc__ws_state before = w->state;
    used = 0;
    if (w->state == RC__WS_HANDSHAKE)
      rc = w->server ? rc__ws_server_handshake(w, data + off, len - off, &used)
                     : rc__ws_client_handshake(w, data + off, len - off, &used);
    else if (w->state == RC__WS_OPEN)
      rc = ws_frames_in(w, data + off, (used = len - off));
    else if (w->state != RC__WS_DONE)
      rc = rc__ws_http_input(w, data + off, len - off, &used);
    if (used == 0 && w->state == before)
      break;
  }
  w->in_recv--;
  if (w->state == RC__WS_DONE)
    return rc;
  frc = ws_maybe_flush(w);
  return rc ? rc : frc;
}

static rc_err ws_send(rc_filter *f, const uint8_t *data, size_t len,
                      int flags) {
  rc__ws *w = (rc__ws *)f;
  rc_err rc;
  if (w->state != RC__WS_OPEN || w->close_sent)
    return RC_ERR_STATE;
  if (!data && len)
    return RC_ERR_INVAL;
  rc = ws_frame_out(w, WSLAY_BINARY_FRAME, data, len);
  if (rc || (flags & RC_FILTER_MORE))
    return rc; /* held until flush() */
  return ws_maybe_flush(w);
}

static rc_err ws_shutdown(rc_filter *f) {
  rc__ws *w = (rc__ws *)f;
  rc_err rc;
  switch (w->state) {
  case RC__WS_OPEN:
    /* RFC 6455 §7.4.1: 1000 "indicates a normal closure". The peer's
     * Close answer is reported as EV_CLOSED. */
    rc = ws_close_out(w, 1000, NULL);
    if (rc)
      return rc;
    return ws_maybe_flush(w);
  case RC__WS_HANDSHAKE:
    w->state = RC__WS_DONE;
    return RC_OK;
  case RC__WS_HTTP:
  case RC__WS_HTTP_BODY:
  case RC__WS_HTTP_WAIT:
    return RC_ERR_STATE;
  default:
    return RC_OK;
  }
}

static void ws_free(rc_filter *f) {
  rc__ws *w = (rc__ws *)f;
  size_t i;
  if (w->src.close)
    w->src.close(w->src.ctx);
  rc__ws_http_free(w);
  if (w->wf)
    wslay_frame_context_free(w->wf);
  w->mem.free(w->hbuf, w->mem.user);
  ws_msg_release(w);
  w->mem.free(w->out, w->mem.user);
  w->mem.free(w->path, w->mem.user);
  w->mem.free(w->host, w->mem.user);
  w->mem.free(w->origin, w->mem.user);
  for (i = 0; i < w->n_origins; i++)
    w->mem.free(w->origins[i], w->mem.user);
  w->mem.free(w->origins, w->mem.user);
  w->mem.free(w, w->mem.user);
}

/* The generic start: a client sends its upgrade request; a server waits
 * for the peer's. */
static rc_err ws_start(rc_filter *f) {
  return ((rc__ws *)f)->server ? RC_OK : rc_ws_client_start(f);
}

static size_t ws_pending(const rc_filter *f) {
  const rc__ws *w = (const rc__ws *)f;
  if (w->state != RC__WS_HTTP || w->src.read == NULL)
    return 0;
  return w->src_left < SIZE_MAX ? (size_t)w->src_left : SIZE_MAX;
}

/* Hands down the frames held by RC_FILTER_MORE, then up to max_own bytes
 * of a streamed HTTP body (static files on the WS port). */
static rc_err ws_flush_op(rc_filter *f, size_t max_own) {
  rc__ws *w = (rc__ws *)f;
  rc_err rc = RC_OK;
  if (w->state != RC__WS_DONE)
    rc = ws_maybe_flush(w);
  if (rc == RC_OK && max_own > 0 && ws_pending(f) > 0) {
    w->in_recv++; /* the next kept-alive request flushes once, below */
    rc = rc_ws_http_pump(f, max_own);
    w->in_recv--;
    if (rc == RC_OK && w->state != RC__WS_DONE)
      rc = ws_maybe_flush(w);
  }
  return rc;
}

static const rc_filter_ops ws_ops = {
    .name = "ws",
    .label = "WebSocket",
    .flags = RC_FILTER_F_MESSAGES,
    .start = ws_start,
    .recv = ws_recv,
    .send = ws_send,
    .pending = ws_pending,
    .flush = ws_flush_op,
    .shutdown = ws_shutdown,
    .end = ws_end,
    .free = ws_free,
};

static rc_err ws_new(const rc_ws_config *cfg, const rc_filter_sink *sink,
                     int server, rc_filter **out) {
  const rc_mem *mem;
  rc__ws *w;
  size_t i;
  if (!cfg || !sink || !sink->up || !sink->down || !out)
    return RC_ERR_INVAL;
  if (!server && (!cfg->host || !cfg->host[0]))
    return RC_ERR_INVAL;
  if (cfg->n_origins && !cfg->origins)
    return RC_ERR_INVAL;
  mem = cfg->mem ? cfg->mem : rc_mem_default();
  w = mem->malloc(sizeof(*w), mem->user);
  if (!w)
    return RC_ERR_NOMEM;
  memset(w, 0, sizeof(*w));
  w->mem = *mem;
  w->base.ops = &ws_ops;
  w->base.sink = *sink;
  w->server = server;
  w->state = RC__WS_HANDSHAKE;
  w->max_message = cfg->max_message ? cfg->max_message : RC_WS_DEFAULT_MAX_MESSAGE;
  w->budget = cfg->budget;
  w->port = cfg->port;
  w->tls = cfg->tls;
  w->offer_v1 = cfg->offer_coap_v1;
  w->on_http = cfg->on_http;
  w->http_user = cfg->http_user;
  w->http_body_max = cfg->http_body_max;
  w->path = ws_strdup(w, cfg->path ? cfg->path : RC_WS_PATH);
  if (!w->path)
    goto nomem;
  if (cfg->host && !(w->host = ws_strdup(w, cfg->host)))
    goto nomem;
  if (cfg->origin && !(w->origin = ws_strdup(w, cfg->origin)))
    goto nomem;
  if (cfg->n_origins) {
    w->origins = ws_alloc(w, cfg->n_origins * sizeof(char *));
    if (!w->origins)
      goto nomem;
    for (i = 0; i < cfg->n_origins; i++) {
      w->origins[i] = ws_strdup(w, cfg->origins[i] ? cfg->origins[i] : "");
      if (!w->origins[i])
        goto nomem;
      w->n_origins++;
    }
  }
  *out = &w->base;
  return RC_OK;
nomem:
  ws_free(&w->base);
  return RC_ERR_NOMEM;
}

rc_err rc_ws_server_new(rc_filter **out, const rc_ws_config *cfg,
                        const rc_filter_sink *sink) {
  return ws_new(cfg, sink, 1, out);
}

rc_err rc_ws_client_new(rc_filter **out, const rc_ws_config *cfg,
                        const rc_filter_sink *sink) {
  return ws_new(cfg, sink, 0, out);
}

rc__ws *rc__ws_of(const rc_filter *f) {
  return (f && f->ops == &ws_ops) ? (rc__ws *)f : NULL;
}

int rc_ws_handshake_done(const rc_filter *f) {
  rc__ws *w = rc__ws_of(f);
  return w && w->proto != RC_WS_SUBPROTO_NONE;
}

rc_ws_subproto rc_ws_subprotocol(const rc_filter *f) {
  rc__ws *w = rc__ws_of(f);
  return w ? w->proto : RC_WS_SUBPROTO_NONE;
}

void rc_ws_cork(rc_filter *f) {
  rc__ws *w = rc__ws_of(f);
  if (w)
    w->cork++;
}

rc_err rc_ws_uncork(rc_filter *f) {
  rc__ws *w = rc__ws_of(f);
  if (!w || w->cork == 0)
    return RC_ERR_STATE;
  w->cork--;
  if (w->state == RC__WS_DONE)
    return RC_OK;
  return ws_maybe_flush(w);
}

int rc_ws_http_pending(const rc_filter *f) {
  rc__ws *w = rc__ws_of(f);
  return w && w->state == RC__WS_HTTP && w->src.read != NULL;
}

rc_err rc_ws_http_pump(rc_filter *f, size_t max_bytes) {
  rc__ws *w = rc__ws_of(f);
  rc_err rc;
  if (!w || w->state != RC__WS_HTTP || !w->src.read)
    return RC_ERR_STATE;
  while (max_bytes > 0 && w->src_left > 0) {
    size_t n = WS_HTTP_CHUNK;
    rc_ssize r;
    if (n > max_bytes)
      n = max_bytes;
    if (n > w->src_left)
      n = (size_t)w->src_left;
    rc = rc__ws_reserve(w, n);
    if (rc)
      return rc;
    r = w->src.read(w->src.ctx, w->out + w->out_len, n);
    if (r <= 0 || (size_t)r > n) {
      rc__ws_finish(w, RC_FILTER_EV_ERROR, RC_ERR_IO,
                    "HTTP body source failed or ended early");
      return RC_ERR_IO;
    }
    w->out_len += (size_t)r;
    w->src_left -= (uint64_t)r;
    max_bytes -= (size_t)r;
  }
  rc = rc__ws_flush(w);
  if (rc)
    return rc;
  if (w->src_left == 0) {
    if (w->src.close)
      w->src.close(w->src.ctx);
    w->src.read = NULL;
    w->src.close = NULL;
    rc__ws_http_done(w);
  }
  return RC_OK;
}

rc_err rc__ws_http_start_body(rc__ws *w) {
  if (w->src_left == 0) {
    rc__ws_http_done(w);
    return RC_OK;
  }
  w->state = RC__WS_HTTP;
  return rc_ws_http_pump(&w->base, WS_HTTP_FIRST_BUDGET);
}
