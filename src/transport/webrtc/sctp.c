/*
 * The SCTP filter (transport_sctp.h): one usrsctp AF_CONN socket per
 * filter, whose local transport handle is the filter itself. Packets from
 * below go in with usrsctp_conninput; usrsctp's output callback hands its
 * packets to the filter below (found in the list of live filters, so a
 * late packet for a filter gone is dropped). After every input, timer and
 * send the socket is read until it would block: notifications move the
 * filter's state, data is gathered until MSG_EOR and handed up whole.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <usrsctp.h>

#include "rcoap/transport_sctp.h"
#include "transport/webrtc/crc32c.h"
#include "transport/webrtc/sctp_int.h"

#define SCTP_RX_CHUNK (64u * 1024u)
#define SCTP_BUF (1024u * 1024u)
/* The smallest receive window a socket's buffer caps us to (rcv_window). */
#define SCTP_RWND_MIN (32u * 1024u)
/* A peer's reassembly buffer is kept while messages in pieces keep
 * coming (a bulk transfer), given back after this long without data. */
#define SCTP_RX_KEEP_MS 1000u
/* A filter without traffic for SCTP_QUIET_TICKS ticks (past usrsctp's
 * 20 ms delayed SACK) and nothing unacknowledged or unsent is ticked every
 * SCTP_IDLE_TICK_MS: an idle peer's timers are its heartbeats, 30 s
 * apart, and it should not wake the loop 100 times a second. */
#define SCTP_QUIET_TICKS 5u
#define SCTP_IDLE_TICK_MS 1000u
/* Heads of a socket's association hash (one association each). */
#define SCTP_PCB_HASH 2u
/* A tick later than this is a stall of the process (lib_tick). */
#define SCTP_STALL_MS 100u

typedef struct tx_msg tx_msg;
struct tx_msg {
  tx_msg *next;
  rc__sctp_meta meta;
  size_t len;
  uint8_t data[];
};

typedef enum { S_NEW, S_CONNECTING, S_OPEN, S_CLOSED, S_DEAD } sctp_state;

typedef struct sctp_filter sctp_filter;
struct sctp_filter {
  rc_filter base;
  const rc_mem *mem;
  sctp_filter *next_live;
  struct socket *sock;
  rc_sctp_config cfg;
  sctp_state state;
  rc_err out_err;  /* the layer below refused a packet */
  rc_time next_tick;
  /* the message being reassembled, behind room for its meta */
  uint8_t *rx;
  size_t rx_len, rx_cap;
  int rx_busy; /* a message has begun */
  rc_time last_rx; /* rx goes once no data came for SCTP_RX_KEEP_MS */
  tx_msg *txq, **txq_tail;
  size_t tx_bytes;
  /* The batch's latest small message, held until the next one or the
   * flush: handed over last with SCTP_NODELAY on, it sends the messages
   * before it (taken with Nagle on) bundled in as few packets as fit. */
  tx_msg *held;
  int nagle; /* SCTP_NODELAY is off (inside a batch) */
  int io;           /* traffic since the last tick */
  int shut;         /* our SHUTDOWN asked for: ticks until it is done */
  unsigned quiet;   /* ticks in a row without traffic */
  int in_drain;
  char detail[160];
};

/* ------------------------------------------------------------------ */
/* the library: one per process, shared by the live filters            */

static struct {
  unsigned refs;
  int up; /* usrsctp initialised and not (yet) finished */
  sctp_filter *live;
  rc_time last; /* the latest clock a timer tick saw */
} g;

static sctp_filter *live_find(void *addr) {
  for (sctp_filter *f = g.live; f != NULL; f = f->next_live)
    if (f == addr)
      return f;
  return NULL;
}

static int sctp_output(void *addr, void *buf, size_t len, uint8_t tos,
                       uint8_t set_df) {
  (void)tos, (void)set_df;
  sctp_filter *f = live_find(addr);
  if (f == NULL || f->state == S_DEAD || f->out_err != RC_OK)
    return 0; /* the filter went: the packet is lost, as on a wire */
  /* usrsctp leaves the checksum to us (crc32c offload, lib_ref). */
  if (len >= 12)
    rc__sctp_checksum_put(buf, len);
  rc_err err = f->base.sink.down(f->base.sink.ctx, buf, len);
  if (err != RC_OK)
    f->out_err = err;
  return 0;
}

static int lib_ref(rc_time now) {
  if (g.refs == 0)
    g.last = now;
  if (g.refs == 0 && !g.up) {
    usrsctp_init_nothreads(0, sctp_output, NULL);
    g.up = 1;
    /* No ECN over DTLS (there is no IP header to carry it). */
    usrsctp_sysctl_set_sctp_ecn_enable(0);
    /* The CRC32c of every packet is computed at the filter's edge
     * (crc32c.c: the CPU's crc32 instruction) instead of by usrsctp's
     * byte-wise loop, the largest cost of a bulk transfer (measured). */
    usrsctp_enable_crc32c_offload();
    /* Short delayed SACK: a CoAP answer waits for it otherwise. */
    usrsctp_sysctl_set_sctp_delayed_sack_time_default(20);
    /* Each socket (one per peer) hashes its associations into a table of
     * this many heads, 256 by default (2.3 KB of every idle peer,
     * measured); ours has one association. */
    (void)usrsctp_tunable_set_sctp_pcbtblsize(SCTP_PCB_HASH);
  }
  g.refs++;
  return 0;
}

/* RCOAP_SCTP_STATS set: usrsctp's counters for the process go to
 * stderr whenever a filter is freed (what bench/webrtc.sh counts). */
static void stats_dump(void) {
  if (getenv("RCOAP_SCTP_STATS") == NULL)
    return;
  struct sctpstat st;
  usrsctp_get_stat(&st);
  fprintf(stderr,
          "SCTPSTAT out_packets=%u in_packets=%u out_data=%u in_data=%u "
          "out_sacks=%u in_sacks=%u retrans=%u fast_retrans=%u t3=%u "
          "sack_timer=%u window_probes=%u wu_sacks=%u maxburst_queued=%u "
          "cwnd_avoid=%u dup_data=%u rwnd_drops=%u\n",
          st.sctps_outpackets, st.sctps_inpackets, st.sctps_senddata,
          st.sctps_recvdata, st.sctps_sendsacks, st.sctps_recvsacks,
          st.sctps_sendretransdata, st.sctps_sendfastretrans,
          st.sctps_timodata, st.sctps_timosack, st.sctps_windowprobed,
          st.sctps_wu_sacks_sent, st.sctps_maxburstqueued,
          st.sctps_send_cwnd_avoid, st.sctps_recvdupdata,
          st.sctps_datadroprwnd);
}

static void lib_unref(void) {
  stats_dump();
  if (g.refs == 0 || --g.refs > 0)
    return;
  /* Sockets closed with an abort are freed by the next timer run. */
  for (int i = 0; i < 100; i++) {
    if (usrsctp_finish() == 0) {
      g.up = 0;
      return;
    }
    usrsctp_handle_timers(RC_SCTP_TICK_MS);
  }
  /* Still busy (seen under load after test_peer_gone: a socket usrsctp
   * never frees, so every later finish fails too): usrsctp stays up,
   * reachable, and each later lib_unref tries again. Initialising it
   * again over its live state would lose its tables (sctp_init resets
   * sctp_pcb_initialized): the LeakSanitizer report of test_peer_gone. */
}

unsigned rc_sctp_live(void) { return g.refs; }

int rc_sctp_closed(const rc_filter *base) {
  const sctp_filter *f = (const sctp_filter *)base;
  return f->state == S_CLOSED || f->state == S_DEAD;
}

/* Advances usrsctp's clock to now and runs its timers. A tick that came
 * late (the process did not run, or the loop was busy) does not hand
 * usrsctp the time it lost: the loop runs timers before it reads the
 * sockets, so the SACKs that came meanwhile are still unread, and a
 * retransmission timer counted over the stall would fire for data the
 * peer has (measured under load: 7 T3 timeouts and 55 needless
 * retransmissions in one 64 MiB GET). Our own stall is not the path's
 * loss; usrsctp's clock falls behind by it, its timers count from it.
 * Only a stall past SCTP_STALL_MS counts (half the 200 ms minimum RTO):
 * a loop merely slow (valgrind, a busy turn) keeps usrsctp's timers on
 * the wall clock. */
static void lib_tick(rc_time now, rc_time late) {
  if (now <= g.last)
    return;
  uint64_t d = now - g.last;
  if (late > SCTP_STALL_MS) {
    uint64_t lost = late - SCTP_STALL_MS;
    d = d > lost ? d - lost : 0;
  }
  usrsctp_handle_timers(d > UINT32_MAX ? UINT32_MAX : (uint32_t)d);
  g.last = now;
}

/* Traffic: the 10 ms tick again (from the library's clock, which may
 * be behind when every filter is quiet: the tick is then due at once). */
static void wake(sctp_filter *f) {
  f->io = 1;
  rc_time t = g.last + RC_SCTP_TICK_MS;
  if (f->next_tick > t)
    f->next_tick = t;
}

/* After a tick: whether the filter may be ticked slowly now. */
static int quiet(sctp_filter *f) {
  if (f->io) {
    f->io = 0;
    f->quiet = 0;
    return 0;
  }
  if (f->quiet < SCTP_QUIET_TICKS) {
    f->quiet++;
    return 0;
  }
  if (f->state != S_OPEN || f->shut || f->txq != NULL || f->held != NULL ||
      f->rx_busy)
    return 0;
  struct sctp_status st;
  memset(&st, 0, sizeof st);
  socklen_t l = (socklen_t)sizeof st;
  if (usrsctp_getsockopt(f->sock, IPPROTO_SCTP, SCTP_STATUS, &st, &l) != 0)
    return 0;
  return st.sstat_unackdata == 0 && st.sstat_penddata == 0;
}

/* ------------------------------------------------------------------ */
/* state                                                               */

static rc_err fail(sctp_filter *f, rc_err err, const char *why) {
  if (f->state == S_DEAD)
    return err;
  f->state = S_DEAD;
  snprintf(f->detail, sizeof f->detail, "SCTP: %s", why);
  f->base.sink.event(f->base.sink.ctx, RC_FILTER_EV_ERROR, (int)err,
                     f->detail);
  return err;
}

static void on_assoc(sctp_filter *f, const struct sctp_assoc_change *ac) {
  switch (ac->sac_state) {
  case SCTP_COMM_UP:
    if (f->state == S_CONNECTING || f->state == S_NEW) {
      f->state = S_OPEN;
      f->base.sink.event(f->base.sink.ctx, RC_FILTER_EV_OPEN, 0, NULL);
    }
    break;
  case SCTP_SHUTDOWN_COMP:
    if (f->state == S_OPEN) {
      f->state = S_CLOSED;
      f->base.sink.event(f->base.sink.ctx, RC_FILTER_EV_CLOSED, 0,
                         "SCTP association shut down");
    }
    break;
  case SCTP_COMM_LOST:
    (void)fail(f, RC_ERR_CLOSED, "association lost (peer aborted or silent)");
    break;
  case SCTP_CANT_STR_ASSOC:
    (void)fail(f, RC_ERR_TIMEOUT, "cannot set up the association");
    break;
  default:
    break;
  }
}

/* The peer reset its outgoing streams: each goes up to the channel layer. */
static rc_err on_reset(sctp_filter *f, const struct sctp_stream_reset_event *e,
                       size_t len) {
  if (!(e->strreset_flags & SCTP_STREAM_RESET_INCOMING_SSN) ||
      (e->strreset_flags & (SCTP_STREAM_RESET_DENIED |
                            SCTP_STREAM_RESET_FAILED)))
    return RC_OK;
  size_t n = (len - sizeof *e) / sizeof(uint16_t);
  for (size_t i = 0; i < n && f->state == S_OPEN; i++) {
    rc__sctp_meta m;
    memset(&m, 0, sizeof m);
    m.op = RC__SCTP_RESET;
    m.sid = e->strreset_stream_list[i];
    rc_err err = f->base.sink.up(f->base.sink.ctx, (const uint8_t *)&m,
                                 sizeof m, RC_FILTER_MSG_END);
    if (err != RC_OK)
      return err;
  }
  return RC_OK;
}

static rc_err on_notification(sctp_filter *f, const uint8_t *p, size_t n) {
  union sctp_notification sn;
  if (n < sizeof sn.sn_header)
    return RC_OK;
  memcpy(&sn, p, n < sizeof sn ? n : sizeof sn);
  switch (sn.sn_header.sn_type) {
  case SCTP_ASSOC_CHANGE:
    on_assoc(f, &sn.sn_assoc_change);
    return RC_OK;
  case SCTP_STREAM_RESET_EVENT:
    return on_reset(f, (const struct sctp_stream_reset_event *)p, n);
  case SCTP_SHUTDOWN_EVENT:
    /* RFC 4960 §9.2: the peer is done sending; we finish ours. */
    return RC_OK;
  default:
    return RC_OK;
  }
}

/* ------------------------------------------------------------------ */
/* reading                                                             */

static rc_err rx_grow(sctp_filter *f, size_t need) {
  if (need <= f->rx_cap)
    return RC_OK;
  size_t cap = f->rx_cap ? f->rx_cap : SCTP_RX_CHUNK + RC__SCTP_META_LEN;
  while (cap < need)
    cap *= 2;
  uint8_t *p = f->mem->realloc(f->rx, cap, f->mem->user);
  if (p == NULL)
    return RC_ERR_NOMEM;
  f->rx = p;
  f->rx_cap = cap;
  return RC_OK;
}

/* One read buffer for every filter of the process (one thread, see
 * transport_sctp.h): a message that arrives whole goes up from it, so an
 * idle peer keeps no buffer; only a message in pieces (partial delivery)
 * is gathered in the filter's own rx. Busy while a message from it is
 * being handed up (the layers above may make another filter read). */
static uint8_t g_rbuf[RC__SCTP_META_LEN + SCTP_RX_CHUNK];
static int g_rbuf_busy;

static rc_err up_whole(sctp_filter *f, uint8_t *buf, size_t len) {
  return f->base.sink.up(f->base.sink.ctx, buf, len, RC_FILTER_MSG_END);
}

/* One recvv; returns 1 if something was read, 0 if it would block. */
static int read_one(sctp_filter *f, rc_err *err) {
  size_t have = RC__SCTP_META_LEN + f->rx_len;
  size_t room = f->cfg.max_message - f->rx_len + 1; /* one more: too long */
  /* A filter that kept its own buffer (messages in pieces came lately: a
   * bulk transfer) reads into it, as much as it holds: no copy out of the
   * shared one, fewer reads. */
  int shared = !f->rx_busy && !g_rbuf_busy && f->rx == NULL;
  size_t chunk = shared || f->rx_cap - have < SCTP_RX_CHUNK ? SCTP_RX_CHUNK
                                                            : f->rx_cap - have;
  if (room > chunk)
    room = chunk;
  if (!shared && (*err = rx_grow(f, have + room)) != RC_OK)
    return 0;
  uint8_t *buf = shared ? g_rbuf : f->rx;
  struct sctp_rcvinfo ri;
  socklen_t il = sizeof ri;
  unsigned it = 0;
  int fl = 0;
  struct sockaddr_conn from;
  socklen_t fromlen = sizeof from;
  ssize_t n = usrsctp_recvv(f->sock, buf + have, room,
                            (struct sockaddr *)&from, &fromlen, &ri, &il,
                            &it, &fl);
  if (n < 0)
    return 0; /* EWOULDBLOCK, or nothing more to read */
  if (n == 0 && !(fl & MSG_NOTIFICATION))
    return 0;
  if (fl & MSG_NOTIFICATION) {
    /* notifications are small: never split, never mixed with data */
    *err = on_notification(f, buf + have, (size_t)n);
    return 1;
  }
  f->last_rx = g.last;
  if (!f->rx_busy) {
    rc__sctp_meta m;
    memset(&m, 0, sizeof m);
    m.op = RC__SCTP_DATA;
    m.sid = ri.rcv_sid;
    m.ppid = ntohl(ri.rcv_ppid);
    m.flags = (ri.rcv_flags & SCTP_UNORDERED) ? RC__SCTP_UNORDERED : 0;
    memcpy(buf, &m, sizeof m);
    f->rx_busy = 1;
  }
  f->rx_len += (size_t)n;
  if (f->rx_len > f->cfg.max_message) {
    *err = fail(f, RC_ERR_LIMIT, "message larger than our max-message-size");
    return 0;
  }
  size_t len = RC__SCTP_META_LEN + f->rx_len;
  if (fl & MSG_EOR) {
    f->rx_busy = 0;
    f->rx_len = 0;
    if (!shared)
      return (*err = up_whole(f, f->rx, len)), 1;
    g_rbuf_busy = 1;
    *err = up_whole(f, g_rbuf, len);
    g_rbuf_busy = 0;
    return 1;
  }
  /* The first piece of a longer message: gathered in the filter's own. */
  if (shared) {
    if ((*err = rx_grow(f, len + SCTP_RX_CHUNK)) != RC_OK)
      return 0;
    memcpy(f->rx, g_rbuf, len);
  }
  return 1;
}

/* ------------------------------------------------------------------ */
/* writing                                                             */

/* Hands one message to usrsctp: 1 taken, 0 no room now, <0 refused. */
static int send_one(sctp_filter *f, const rc__sctp_meta *m, const uint8_t *d,
                    size_t n) {
  struct sctp_sendv_spa spa;
  memset(&spa, 0, sizeof spa);
  spa.sendv_flags = SCTP_SEND_SNDINFO_VALID;
  spa.sendv_sndinfo.snd_sid = m->sid;
  spa.sendv_sndinfo.snd_ppid = htonl(m->ppid);
  spa.sendv_sndinfo.snd_flags = SCTP_EOR;
  if (m->flags & RC__SCTP_UNORDERED)
    spa.sendv_sndinfo.snd_flags |= SCTP_UNORDERED;
  if (m->pr_policy != RC__SCTP_PR_NONE) {
    spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
    spa.sendv_prinfo.pr_policy =
        m->pr_policy == RC__SCTP_PR_RTX ? SCTP_PR_SCTP_RTX : SCTP_PR_SCTP_TTL;
    spa.sendv_prinfo.pr_value = m->pr_value;
  }
  ssize_t r = usrsctp_sendv(f->sock, d, n, NULL, 0, &spa, sizeof spa,
                            SCTP_SENDV_SPA, 0);
  if (r >= 0)
    return 1;
  return errno == EWOULDBLOCK || errno == EAGAIN ? 0 : -1;
}

static rc_err reset_stream(sctp_filter *f, uint16_t sid) {
  uint8_t b[sizeof(struct sctp_reset_streams) + sizeof(uint16_t)];
  struct sctp_reset_streams *rs = (struct sctp_reset_streams *)b;
  memset(b, 0, sizeof b);
  rs->srs_flags = SCTP_STREAM_RESET_OUTGOING;
  rs->srs_number_streams = 1;
  rs->srs_stream_list[0] = sid;
  if (usrsctp_setsockopt(f->sock, IPPROTO_SCTP, SCTP_RESET_STREAMS, rs,
                         (socklen_t)sizeof b) != 0)
    return RC_ERR_IO;
  return RC_OK;
}

/* Inside a batch Nagle is on (usrsctp keeps small messages while data is
 * in flight); the batch's last message goes with it off. */
static void set_nagle(sctp_filter *f, int on) {
  if (f->nagle == on)
    return;
  const int nodelay = !on;
  if (usrsctp_setsockopt(f->sock, IPPROTO_SCTP, SCTP_NODELAY, &nodelay,
                         sizeof nodelay) == 0)
    f->nagle = on;
}

/* Moves held messages into usrsctp while it takes them. */
static rc_err tx_drain(sctp_filter *f) {
  while (f->txq != NULL && f->state == S_OPEN) {
    tx_msg *t = f->txq;
    int r = send_one(f, &t->meta, t->data, t->len);
    if (r == 0)
      return RC_OK;
    if (r < 0)
      return fail(f, RC_ERR_IO, "usrsctp refused a message");
    f->txq = t->next;
    if (f->txq == NULL)
      f->txq_tail = &f->txq;
    f->tx_bytes -= t->len;
    f->mem->free(t, f->mem->user);
  }
  return RC_OK;
}

static rc_err tx_hold(sctp_filter *f, const rc__sctp_meta *m, const uint8_t *d,
                      size_t n) {
  if (f->tx_bytes + n > f->cfg.max_queued)
    return RC_ERR_LIMIT;
  tx_msg *t = f->mem->malloc(sizeof *t + n, f->mem->user);
  if (t == NULL)
    return RC_ERR_NOMEM;
  t->next = NULL;
  t->meta = *m;
  t->len = n;
  memcpy(t->data, d, n);
  *f->txq_tail = t;
  f->txq_tail = &t->next;
  f->tx_bytes += n;
  return RC_OK;
}

/* The held message goes to usrsctp (or behind the queue), Nagle as
 * asked. */
static rc_err held_push(sctp_filter *f, int nagle) {
  tx_msg *t = f->held;
  if (t == NULL)
    return RC_OK;
  f->held = NULL;
  set_nagle(f, nagle);
  int r = f->txq == NULL ? send_one(f, &t->meta, t->data, t->len) : 0;
  if (r == 0 && f->tx_bytes + t->len <= f->cfg.max_queued) {
    t->next = NULL;
    *f->txq_tail = t;
    f->txq_tail = &t->next;
    f->tx_bytes += t->len;
    return RC_OK;
  }
  f->mem->free(t, f->mem->user);
  return r > 0 ? RC_OK
               : fail(f, RC_ERR_LIMIT,
                      r < 0 ? "message refused" : "send queue full");
}

/* After anything usrsctp did: read all, send what waits, report. */
static rc_err drain(sctp_filter *f) {
  if (f->in_drain)
    return RC_OK;
  f->in_drain = 1;
  rc_err err = RC_OK;
  for (int guard = 0; guard < 100000 && err == RC_OK && f->state != S_DEAD;
       guard++) {
    if (!read_one(f, &err))
      break;
  }
  if (err == RC_OK)
    err = tx_drain(f);
  f->in_drain = 0;
  if (err == RC_OK && f->out_err != RC_OK)
    err = fail(f, f->out_err, "the DTLS layer refused a packet");
  return f->state == S_DEAD && err == RC_OK ? RC_ERR_CLOSED : err;
}

/* ------------------------------------------------------------------ */
/* the filter ops                                                      */

#define F(b) ((sctp_filter *)(b))

static rc_err sctp_start(rc_filter *base) {
  sctp_filter *f = F(base);
  if (f->state != S_NEW)
    return RC_OK;
  struct sockaddr_conn sc;
  memset(&sc, 0, sizeof sc);
  sc.sconn_family = AF_CONN;
  sc.sconn_port = htons(f->cfg.remote_port);
  sc.sconn_addr = f; /* the LOCAL handle (conninput uses it both ways) */
  f->state = S_CONNECTING;
  if (usrsctp_connect(f->sock, (struct sockaddr *)&sc, sizeof sc) != 0 &&
      errno != EINPROGRESS)
    return fail(f, RC_ERR_IO, "connect refused");
  return drain(f);
}

static rc_err sctp_recv(rc_filter *base, const uint8_t *d, size_t n) {
  sctp_filter *f = F(base);
  if (f->state == S_DEAD)
    return RC_ERR_CLOSED;
  if (f->state == S_NEW) { /* the peer's INIT before our start */
    rc_err err = sctp_start(base);
    if (err != RC_OK)
      return err;
  }
  /* RFC 9260 §6.8 (paraphrased): a packet whose CRC32c does not match is
   * dropped, as if lost; usrsctp checks none (offload, lib_ref). */
  if (n < 12 || !rc__sctp_checksum_ok(d, n))
    return RC_OK;
  wake(f);
  usrsctp_conninput(f, d, n, 0);
  return drain(f);
}

static rc_err sctp_send(rc_filter *base, const uint8_t *d, size_t n,
                        int flags) {
  (void)flags; /* a batch is told in the meta (RC__SCTP_MORE) */
  sctp_filter *f = F(base);
  if (f->state == S_DEAD)
    return RC_ERR_CLOSED;
  if (f->state != S_OPEN)
    return RC_ERR_STATE;
  rc__sctp_meta m;
  if (rc__sctp_down_view(d, n, &m, &d, &n) != 0)
    return RC_ERR_INVAL;
  wake(f);
  if (m.op == RC__SCTP_RESET) {
    rc_err err = held_push(f, 0); /* the stream's data before its reset */
    if (err == RC_OK)
      err = reset_stream(f, m.sid);
    return err != RC_OK ? fail(f, err, "stream reset refused") : drain(f);
  }
  /* draft-groves-coap-webrtcdc-02 §4.1: "PPIDs for empty data MUST not
   * be used": a CoAP message is never empty, and nothing else is sent. */
  if (n == 0)
    return RC_ERR_INVAL;
  int more = (m.flags & RC__SCTP_MORE) != 0;
  m.flags &= (uint8_t)~RC__SCTP_MORE;
  /* A batch (RC_FILTER_MORE from the chain): each message goes in with
   * Nagle on once the next one comes; the last waits for flush. One SCTP
   * packet then carries many messages (one DTLS record, one datagram). */
  rc_err err = held_push(f, 1);
  if (err != RC_OK)
    return err;
  if (more && n <= f->cfg.mtu && f->state == S_OPEN) {
    tx_msg *t = f->mem->malloc(sizeof *t + n, f->mem->user);
    if (t == NULL)
      return fail(f, RC_ERR_NOMEM, "no memory for a message");
    t->meta = m;
    t->len = n;
    memcpy(t->data, d, n);
    f->held = t;
    return RC_OK;
  }
  set_nagle(f, 0);
  if (f->txq == NULL) {
    int r = send_one(f, &m, d, n);
    if (r > 0)
      return drain(f);
    if (r < 0)
      return fail(f, RC_ERR_LIMIT, "message refused (larger than the send "
                                   "buffer?)");
  }
  err = tx_hold(f, &m, d, n);
  if (err != RC_OK)
    return fail(f, err, "send queue full");
  return RC_OK;
}

/* The end of a batch: its last message goes with Nagle off, which sends
 * everything usrsctp holds. */
static rc_err sctp_flush(rc_filter *base, size_t max_own) {
  (void)max_own;
  sctp_filter *f = F(base);
  if (f->held == NULL || f->state == S_DEAD)
    return RC_OK;
  rc_err err = held_push(f, 0);
  return err != RC_OK ? err : drain(f);
}

static rc_time sctp_expiry(const rc_filter *base) {
  const sctp_filter *f = F(base);
  return f->state == S_DEAD || f->state == S_CLOSED ? RC_TIME_NEVER
                                                    : f->next_tick;
}

static rc_err sctp_timeout(rc_filter *base, rc_time now) {
  sctp_filter *f = F(base);
  lib_tick(now, now > f->next_tick ? now - f->next_tick : 0);
  f->next_tick = now + RC_SCTP_TICK_MS;
  if (f->state == S_DEAD)
    return RC_OK;
  if (f->rx != NULL && !f->rx_busy && now - f->last_rx > SCTP_RX_KEEP_MS) {
    f->mem->free(f->rx, f->mem->user);
    f->rx = NULL;
    f->rx_cap = 0;
  }
  rc_err err = drain(f);
  if (quiet(f))
    f->next_tick = now + SCTP_IDLE_TICK_MS;
  return err;
}

static rc_err sctp_shutdown(rc_filter *base) {
  sctp_filter *f = F(base);
  if (f->state != S_OPEN)
    return RC_OK;
  rc_err err = held_push(f, 0);
  if (err != RC_OK)
    return err;
  f->shut = 1;
  wake(f);
  /* RFC 4960 §9.2: SHUTDOWN once our data is acknowledged. */
  if (usrsctp_shutdown(f->sock, SHUT_WR) != 0)
    return RC_OK; /* already going */
  return drain(f);
}

static void sctp_end(rc_filter *base) {
  sctp_filter *f = F(base);
  while (f->txq != NULL) {
    tx_msg *t = f->txq;
    f->txq = t->next;
    f->mem->free(t, f->mem->user);
  }
  f->txq_tail = &f->txq;
  f->tx_bytes = 0;
  f->mem->free(f->held, f->mem->user);
  f->held = NULL;
}

static void sctp_free(rc_filter *base) {
  sctp_filter *f = F(base);
  sctp_end(base);
  if (f->sock != NULL) {
    /* An abort, not a graceful end: nothing may outlive the filter. */
    struct linger l = {1, 0};
    (void)usrsctp_setsockopt(f->sock, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    usrsctp_close(f->sock); /* its ABORT still goes down */
  }
  usrsctp_deregister_address(f);
  for (sctp_filter **pp = &g.live; *pp != NULL; pp = &(*pp)->next_live)
    if (*pp == f) {
      *pp = f->next_live;
      break;
    }
  f->mem->free(f->rx, f->mem->user);
  const rc_mem *mem = f->mem;
  mem->free(f, mem->user);
  lib_unref();
}

static const rc_filter_ops sctp_ops = {
    .name = "sctp",
    .label = "SCTP",
    .flags = RC_FILTER_F_DATAGRAM | RC_FILTER_F_MESSAGES,
    .start = sctp_start,
    .recv = sctp_recv,
    .send = sctp_send,
    .flush = sctp_flush,
    .expiry = sctp_expiry,
    .timeout = sctp_timeout,
    .shutdown = sctp_shutdown,
    .end = sctp_end,
    .free = sctp_free,
};

/* ------------------------------------------------------------------ */
/* construction                                                        */

/* The receive window for a socket below that holds rcvbuf bytes (0: not
 * known, no cap). Linux reports twice what was asked and keeps the other
 * half for its own overhead: a datagram of a 16 KiB record takes about
 * 17 KiB of the buffer (measured: 24 fit in 416 KiB), so half the figure
 * is what a peer's whole window in flight may fill. SCTP_RWND_MIN keeps a
 * few packets in flight on the smallest buffer. */
static size_t rcv_window(size_t rcvbuf) {
  if (rcvbuf == 0)
    return 0;
  return rcvbuf / 2 > SCTP_RWND_MIN ? rcvbuf / 2 : SCTP_RWND_MIN;
}

static int sock_setup(sctp_filter *f) {
  struct socket *s = f->sock;
  const int on = 1;
  if (usrsctp_set_non_blocking(s, 1) != 0)
    return -1;
  int buf = (int)(f->cfg.max_message > SCTP_BUF ? f->cfg.max_message * 2
                                                : SCTP_BUF);
  int rbuf = (int)rcv_window(f->cfg.rcvbuf);
  if (rbuf == 0 || rbuf > buf)
    rbuf = buf;
  if (usrsctp_setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rbuf, sizeof rbuf) !=
          0 ||
      usrsctp_setsockopt(s, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf) != 0)
    return -1;
  if (usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on,
                         sizeof on) != 0 ||
      usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof on) != 0)
    return -1;
  /* RFC 8831 §6.7 closes a channel by resetting its streams: the stream
   * reconfiguration extension (RFC 6525) is turned on. */
  struct sctp_assoc_value av = {.assoc_id = SCTP_ALL_ASSOC,
                                .assoc_value = SCTP_ENABLE_RESET_STREAM_REQ};
  if (usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_ENABLE_STREAM_RESET, &av,
                         sizeof av) != 0)
    return -1;
  static const uint16_t events[] = {SCTP_ASSOC_CHANGE, SCTP_STREAM_RESET_EVENT,
                                    SCTP_SHUTDOWN_EVENT};
  for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
    struct sctp_event ev = {.se_assoc_id = SCTP_ALL_ASSOC, .se_on = 1,
                            .se_type = events[i]};
    if (usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof ev) != 0)
      return -1;
  }
  /* RFC 8261 §5: the SCTP packet must fit one DTLS record: a fixed path
   * MTU, no discovery over a path we cannot see. */
  struct sctp_paddrparams pp;
  memset(&pp, 0, sizeof pp);
  pp.spp_assoc_id = SCTP_FUTURE_ASSOC;
  pp.spp_flags = SPP_PMTUD_DISABLE;
  pp.spp_pathmtu = (uint32_t)f->cfg.mtu;
  if (usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, &pp,
                         sizeof pp) != 0)
    return -1;
  /* A silent peer is given up after about 40 s (RTO 1 s doubling up to
   * 6 s, 8 retransmissions), not RFC 4960's ten minutes.
   * Known (docs/BENCHMARKS.md, wrtidy): usrsctp restarts T3-rtx only on
   * an empty flight, not when the cumulative ack moves (RFC 4960 §6.3.2
   * R3), so a flight that never empties sees T3 expire one RTO after it
   * began; usrsctp then marks the chunks older than the smoothed RTT. */
  struct sctp_rtoinfo rto = {.srto_assoc_id = SCTP_FUTURE_ASSOC,
                             .srto_initial = 1000,
                             .srto_max = RC_SCTP_RTO_MAX_MS,
                             .srto_min = 200};
  struct sctp_assocparams ap;
  memset(&ap, 0, sizeof ap);
  ap.sasoc_assoc_id = SCTP_FUTURE_ASSOC;
  ap.sasoc_asocmaxrxt = RC_SCTP_MAX_RETRANSMIT;
  if (usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_RTOINFO, &rto, sizeof rto) !=
          0 ||
      usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_ASSOCINFO, &ap, sizeof ap) != 0)
    return -1;
  /* RC_SCTP_STREAMS each way: usrsctp keeps a stream's state from the
   * association's start, about 100 bytes per stream in and out (1024
   * were 100 KiB of every idle peer; 64 instead of 16, 4.8 KB; measured),
   * and a peer's channel ids (RFC 8832 §6) beyond it are refused as any
   * second channel is. */
  struct sctp_initmsg im;
  memset(&im, 0, sizeof im);
  im.sinit_num_ostreams = RC_SCTP_STREAMS;
  im.sinit_max_instreams = RC_SCTP_STREAMS;
  if (usrsctp_setsockopt(s, IPPROTO_SCTP, SCTP_INITMSG, &im, sizeof im) != 0)
    return -1;
  struct sockaddr_conn sc;
  memset(&sc, 0, sizeof sc);
  sc.sconn_family = AF_CONN;
  sc.sconn_port = htons(f->cfg.local_port);
  sc.sconn_addr = f;
  return usrsctp_bind(s, (struct sockaddr *)&sc, sizeof sc);
}

rc_err rc_sctp_filter_new(rc_filter **out, const rc_sctp_config *cfg,
                          const rc_filter_sink *sink) {
  if (out == NULL || cfg == NULL || sink == NULL)
    return RC_ERR_INVAL;
  const rc_mem *mem = cfg->mem != NULL ? cfg->mem : rc_mem_default();
  sctp_filter *f = mem->malloc(sizeof *f, mem->user);
  if (f == NULL)
    return RC_ERR_NOMEM;
  memset(f, 0, sizeof *f);
  f->base.ops = &sctp_ops;
  f->base.sink = *sink;
  f->mem = mem;
  f->cfg = *cfg;
  if (f->cfg.local_port == 0)
    f->cfg.local_port = RC_SCTP_DEFAULT_PORT;
  if (f->cfg.remote_port == 0)
    f->cfg.remote_port = RC_SCTP_DEFAULT_PORT;
  if (f->cfg.mtu == 0)
    f->cfg.mtu = RC_SCTP_DEFAULT_MTU;
  if (f->cfg.max_message == 0)
    f->cfg.max_message = RC_SCTP_DEFAULT_MAX_MESSAGE;
  if (f->cfg.max_queued == 0)
    f->cfg.max_queued = RC_SCTP_DEFAULT_MAX_QUEUED;
  f->txq_tail = &f->txq;
  f->next_tick = cfg->now + RC_SCTP_TICK_MS;
  lib_ref(cfg->now);
  f->next_live = g.live;
  g.live = f;
  usrsctp_register_address(f);
  f->sock = usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0,
                           NULL);
  if (f->sock == NULL || sock_setup(f) != 0) {
    sctp_free(&f->base);
    return RC_ERR_IO;
  }
  *out = &f->base;
  return RC_OK;
}
