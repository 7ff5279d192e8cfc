/*
 * SCTP over DTLS (RFC 8261) for WebRTC data channels (RFC 8831), a chain
 * filter over libusrsctp with AF_CONN sockets: no threads, no sockets of
 * its own, no clock of its own. One DTLS record from below is one SCTP
 * packet (usrsctp_conninput); each packet usrsctp emits goes down as one
 * record. usrsctp's timers run from the filter's expiry/timeout ops on
 * the caller's clock (one library-wide tick shared by every filter).
 *
 * Above it sits the data-channel filter (transport_dcep.h); the two talk
 * in user messages, each carrying a stream id, a PPID and the channel's
 * reliability (src/transport/webrtc/sctp_int.h). Messages larger than the
 * receive window arrive in pieces (partial delivery) and are handed up
 * whole, up to max_message. A stream is closed by an outgoing stream
 * reset (RFC 6525), as RFC 8831 §6.7 closes a channel.
 *
 * usrsctp is initialised with the first filter (usrsctp_init_nothreads)
 * and finished with the last (usrsctp_finish). Threading: every filter
 * of a process must belong to one thread.
 */
#ifndef RCOAP_TRANSPORT_SCTP_H
#define RCOAP_TRANSPORT_SCTP_H

#include <stddef.h>
#include <stdint.h>

#include "rcoap/common.h"
#include "rcoap/transport_filter.h"

#ifdef __cplusplus
extern "C" {
#endif

/* RFC 8841 §5: a=sctp-port, 5000 when absent. */
#define RC_SCTP_DEFAULT_PORT 5000
/* Largest SCTP packet handed down: fits one DTLS record of the default
 * DTLS mtu (1232) with any DTLS 1.2 cipher's overhead. */
#define RC_SCTP_DEFAULT_MTU 1152
/* RFC 8841 §6: a=max-message-size absent means 64 KiB; we take more. */
#define RC_SCTP_DEFAULT_MAX_MESSAGE (256u * 1024u)
/* Bytes held for sending when usrsctp's send buffer is full. */
#define RC_SCTP_DEFAULT_MAX_QUEUED (8u * 1024u * 1024u)
/* Retransmission limits: a peer that answers nothing is given up after
 * about 40 s. */
#define RC_SCTP_RTO_MAX_MS 6000
#define RC_SCTP_MAX_RETRANSMIT 8
/* Streams offered each way (RFC 8831 §6.2: "SHOULD be 65535"; one CoAP
 * channel needs one, a browser numbers its channels from 0 or 1 by DTLS
 * role, two apart: 16 leave a page room for 8 channels of its own
 * besides ours, and each stream costs every association ~100 bytes,
 * measured: 64 were 4.8 KB more per idle peer). */
#define RC_SCTP_STREAMS 16
/* How often usrsctp's timers are driven. */
#define RC_SCTP_TICK_MS 10

typedef struct rc_sctp_config {
  uint16_t local_port;  /* 0: RC_SCTP_DEFAULT_PORT */
  uint16_t remote_port; /* 0: RC_SCTP_DEFAULT_PORT */
  size_t mtu;           /* 0: RC_SCTP_DEFAULT_MTU */
  size_t max_message;   /* largest message taken in; 0: default above */
  size_t max_queued;    /* 0: RC_SCTP_DEFAULT_MAX_QUEUED */
  rc_time now;          /* the caller's clock now (timers count from it) */
  /* The bytes the datagram socket below really holds (SO_RCVBUF read
   * back, Linux's doubled figure); 0: not known. The receive window we
   * advertise stays within half of it, so a peer's full window of
   * datagrams fits the socket (a datagram dropped there is a
   * retransmission). */
  size_t rcvbuf;
  const rc_mem *mem;    /* NULL: rc_mem_default() */
} rc_sctp_config;

/*
 * Creates the filter (and usrsctp, for the first one). It sends its INIT
 * at rc_filter_start(), once DTLS is open; both ends do (RFC 8831 §6.2
 * leaves it to either; the collision is SCTP's to resolve). EV_OPEN when
 * the association is up. Returns 0 and *out, RC_ERR_INVAL, RC_ERR_NOMEM,
 * or RC_ERR_IO (usrsctp refused a socket or option).
 */
rc_err rc_sctp_filter_new(rc_filter **out, const rc_sctp_config *cfg,
                          const rc_filter_sink *sink);

/* Non-zero once the association is over (shut down, lost or failed). */
int rc_sctp_closed(const rc_filter *f);

/* Live SCTP filters in this process (0 once usrsctp is finished). */
unsigned rc_sctp_live(void);

#ifdef __cplusplus
}
#endif
#endif
