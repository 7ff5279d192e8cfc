/*
 * The data-channel filter (transport_dcep.h): one CoAP channel over the
 * SCTP filter. Below it every message carries an rc__sctp_meta header
 * (sctp_int.h); above it only CoAP messages travel.
 */
#include <stdio.h>
#include <string.h>

#include "rcoap/transport_dcep.h"
#include "transport/webrtc/sctp_int.h"

typedef enum { D_IDLE, D_OPENING, D_OPEN, D_CLOSED, D_DEAD } dcep_state;

typedef struct dcep_filter {
  rc_filter base;
  const rc_mem *mem;
  rc_dcep_config cfg;
  dcep_state state;
  int sid; /* the CoAP channel's stream, -1 before */
  uint8_t flags, pr_policy;
  uint32_t pr_value;
  char detail[160];
} dcep_filter;

#define D(b) ((dcep_filter *)(b))

static rc_err fail(dcep_filter *f, rc_err err, const char *why) {
  if (f->state == D_DEAD)
    return err;
  f->state = D_DEAD;
  snprintf(f->detail, sizeof f->detail, "data channel: %s", why);
  f->base.sink.event(f->base.sink.ctx, RC_FILTER_EV_ERROR, (int)err,
                     f->detail);
  return err;
}

/* One message down to SCTP on stream sid, behind its meta. */
static rc_err put(dcep_filter *f, uint8_t op, uint16_t sid, uint32_t ppid,
                  const uint8_t *d, size_t n, uint8_t more) {
  rc__sctp_ref r;
  memset(&r, 0, sizeof r);
  rc__sctp_meta *m = &r.meta;
  m->op = op;
  m->sid = sid;
  m->ppid = ppid;
  /* Control messages go reliable and ordered (RFC 8832 §6 sends OPEN and
   * ACK that way); CoAP messages take the channel's reliability. */
  if (ppid != RC_DCEP_PPID_CONTROL && (int)sid == f->sid) {
    m->flags = f->flags;
    m->pr_policy = f->pr_policy;
    m->pr_value = f->pr_value;
  }
  m->flags |= more;
  if (n == 0) /* a stream reset: the meta alone */
    return f->base.sink.down(f->base.sink.ctx, (const uint8_t *)m, sizeof *m);
  /* The message by reference: sctp copies it before returning. */
  m->flags |= RC__SCTP_REF;
  r.data = d;
  r.len = n;
  return f->base.sink.down(f->base.sink.ctx, (const uint8_t *)&r, sizeof r);
}

/* The channel type the peer opened, as our sending reliability. */
static void adopt(dcep_filter *f, const rc_dcep_msg *o) {
  f->flags = (o->channel_type & 0x80) ? RC__SCTP_UNORDERED : 0;
  switch (o->channel_type & 0x7f) {
  case RC_DCEP_PARTIAL_REXMIT:
    f->pr_policy = RC__SCTP_PR_RTX;
    break;
  case RC_DCEP_PARTIAL_TIMED:
    f->pr_policy = RC__SCTP_PR_TTL;
    break;
  default:
    f->pr_policy = RC__SCTP_PR_NONE;
  }
  f->pr_value = o->reliability;
}

static void opened(dcep_filter *f) {
  if (f->state != D_OPENING && f->state != D_IDLE)
    return;
  f->state = D_OPEN;
  f->base.sink.event(f->base.sink.ctx, RC_FILTER_EV_OPEN, 0, NULL);
}

static rc_err on_control(dcep_filter *f, uint16_t sid, const uint8_t *d,
                         size_t n) {
  rc_dcep_msg m;
  if (rc_dcep_parse(d, n, &m) != RC_OK)
    return fail(f, RC_ERR_PROTOCOL, "malformed DCEP message");
  if (m.type == RC_DCEP_ACK) {
    if ((int)sid == f->sid && f->state == D_OPENING)
      opened(f);
    return RC_OK;
  }
  /* An OPEN: ours if it is CoAP and we have no channel yet. RFC 8832 §6:
   * a stream id already in use is an error; the peer's parity is checked
   * (the DTLS client's ids are even). */
  int peer_even = !f->cfg.dtls_client;
  if (rc_dcep_is_coap(&m) && f->sid < 0 && f->state == D_IDLE &&
      (sid % 2 == 0) == peer_even) {
    f->sid = sid;
    adopt(f, &m);
    /* RFC 8832 §6 (paraphrased): a peer that accepts an OPEN answers it
     * with a DATA_CHANNEL_ACK on the same stream, PPID 50. */
    rc_err err = put(f, RC__SCTP_DATA, sid, RC_DCEP_PPID_CONTROL,
                     (const uint8_t[]){RC_DCEP_ACK}, RC_DCEP_ACK_LEN, 0);
    if (err != RC_OK)
      return fail(f, err, "cannot send DATA_CHANNEL_ACK");
    opened(f);
    return RC_OK;
  }
  /* Not a CoAP channel, a second one, or the wrong parity: refused by
   * closing its stream (RFC 8831 §6.7, an outgoing stream reset). */
  return put(f, RC__SCTP_RESET, sid, 0, NULL, 0, 0);
}

static rc_err on_reset(dcep_filter *f, uint16_t sid) {
  if ((int)sid != f->sid || f->state == D_CLOSED || f->state == D_DEAD)
    return RC_OK;
  /* RFC 8831 §6.7: the other side resets its outgoing stream in turn. */
  int was = f->state;
  f->state = D_CLOSED;
  (void)put(f, RC__SCTP_RESET, sid, 0, NULL, 0, 0);
  if (was == D_OPENING) /* refused our OPEN */
    return fail(f, RC_ERR_CONN_REFUSED, "the peer refused the CoAP channel");
  f->base.sink.event(f->base.sink.ctx, RC_FILTER_EV_CLOSED, 0,
                     "the peer closed the data channel");
  return RC_OK;
}

static rc_err dcep_recv(rc_filter *base, const uint8_t *d, size_t n) {
  dcep_filter *f = D(base);
  if (f->state == D_DEAD)
    return RC_ERR_CLOSED;
  rc__sctp_meta m;
  if (n < sizeof m)
    return RC_ERR_INVAL;
  memcpy(&m, d, sizeof m);
  d += sizeof m;
  n -= sizeof m;
  if (m.op == RC__SCTP_RESET)
    return on_reset(f, m.sid);
  if (m.ppid == RC_DCEP_PPID_CONTROL)
    return on_control(f, m.sid, d, n);
  if ((int)m.sid != f->sid || f->state == D_CLOSED)
    return RC_OK; /* another channel's, or after the close: not ours */
  switch (m.ppid) {
  case RC_DCEP_PPID_STRING:
  case RC_DCEP_PPID_BINARY:
    if (n == 0)
      return RC_OK; /* SCTP carries no empty message; nothing to hand up */
    /* RFC 8832 §6.6: data before the ACK means the peer took the OPEN. */
    if (f->state == D_OPENING)
      opened(f);
    return f->base.sink.up(f->base.sink.ctx, d, n, RC_FILTER_MSG_END);
  default:
    /* Empty-message PPIDs (56, 57) and others carry no CoAP message
     * (draft-groves-coap-webrtcdc-02 §4.1: "PPIDs for empty data MUST
     * not be used"): dropped. */
    return RC_OK;
  }
}

static rc_err dcep_start(rc_filter *base) {
  dcep_filter *f = D(base);
  if (!f->cfg.open_channel || f->state != D_IDLE)
    return RC_OK;
  /* RFC 8832 §6 (paraphrased): the DTLS client picks even stream ids, the
   * DTLS server odd ones, so both may open without colliding. */
  f->sid = f->cfg.dtls_client ? 0 : 1;
  f->state = D_OPENING;
  const char *label = f->cfg.label != NULL ? f->cfg.label : "coap";
  rc_dcep_msg o = {.type = RC_DCEP_OPEN,
                   .channel_type = RC_DCEP_RELIABLE,
                   .label = (const uint8_t *)label,
                   .label_len = strlen(label),
                   .protocol = (const uint8_t *)"coap",
                   .protocol_len = 4};
  uint8_t b[RC_DCEP_OPEN_FIXED + 256 + 4];
  size_t len;
  rc_err err = rc_dcep_encode_open(&o, b, sizeof b, &len);
  if (err == RC_OK)
    err = put(f, RC__SCTP_DATA, (uint16_t)f->sid, RC_DCEP_PPID_CONTROL, b,
              len, 0);
  return err != RC_OK ? fail(f, err, "cannot send DATA_CHANNEL_OPEN") : RC_OK;
}

static rc_err dcep_send(rc_filter *base, const uint8_t *d, size_t n,
                        int flags) {
  dcep_filter *f = D(base);
  if (f->state == D_DEAD)
    return RC_ERR_CLOSED;
  if (f->state != D_OPEN)
    return RC_ERR_STATE;
  if (n == 0)
    return RC_ERR_INVAL; /* §4.1: no empty messages */
  /* RFC 8831 §6.6: binary data on PPID 53 (WebRTC Binary). */
  return put(f, RC__SCTP_DATA, (uint16_t)f->sid, RC_DCEP_PPID_BINARY, d, n,
             (flags & RC_FILTER_MORE) ? RC__SCTP_MORE : 0);
}

static rc_err dcep_shutdown(rc_filter *base) {
  dcep_filter *f = D(base);
  if (f->state != D_OPEN)
    return RC_OK;
  f->state = D_CLOSED;
  /* RFC 8831 §6.7: a channel is closed by resetting its outgoing stream. */
  return put(f, RC__SCTP_RESET, (uint16_t)f->sid, 0, NULL, 0, 0);
}

static void dcep_free(rc_filter *base) {
  dcep_filter *f = D(base);
  f->mem->free(f, f->mem->user);
}

static const rc_filter_ops dcep_ops = {
    .name = "dcep",
    .label = "data channel",
    .flags = RC_FILTER_F_MESSAGES,
    .start = dcep_start,
    .recv = dcep_recv,
    .send = dcep_send,
    .shutdown = dcep_shutdown,
    .free = dcep_free,
};

rc_err rc_dcep_filter_new(rc_filter **out, const rc_dcep_config *cfg,
                          const rc_filter_sink *sink) {
  if (out == NULL || cfg == NULL || sink == NULL ||
      (cfg->label != NULL && strlen(cfg->label) > 256))
    return RC_ERR_INVAL;
  const rc_mem *mem = cfg->mem != NULL ? cfg->mem : rc_mem_default();
  dcep_filter *f = mem->malloc(sizeof *f, mem->user);
  if (f == NULL)
    return RC_ERR_NOMEM;
  memset(f, 0, sizeof *f);
  f->base.ops = &dcep_ops;
  f->base.sink = *sink;
  f->mem = mem;
  f->cfg = *cfg;
  f->sid = -1;
  *out = &f->base;
  return RC_OK;
}

int rc_dcep_stream(const rc_filter *f) { return D(f)->sid; }
