/*
 * WebRTC data channels for CoAP (draft-groves-coap-webrtcdc-02 over
 * RFC 8831/8832): the DCEP codec (sans-I/O) and the data-channel filter
 * that sits on the SCTP filter (transport_sctp.h) in message mode.
 *
 * The filter carries one CoAP channel (protocol "coap"): it opens it
 * (DATA_CHANNEL_OPEN on PPID 50, stream id even for the DTLS client and
 * odd for the DTLS server, RFC 8832 §6) or accepts the peer's (protocol
 * "coap" or "coap.v1"; anything else is refused with a stream reset), and
 * reports EV_OPEN once the channel is up. Above it one up()/send() is one
 * CoAP message in the RFC 8323 WebSocket form (the session runs
 * RC_FRAMING_WS); it goes out as one SCTP user message on PPID 53
 * (Binary), with the channel's reliability; PPIDs 51 (String) and 53 are
 * taken in. A reset of the channel's stream by the peer is the channel's
 * close (EV_CLOSED); our shutdown resets ours.
 */
#ifndef RCOAP_TRANSPORT_DCEP_H
#define RCOAP_TRANSPORT_DCEP_H

#include <stddef.h>
#include <stdint.h>

#include "rcoap/common.h"
#include "rcoap/transport_filter.h"

#ifdef __cplusplus
extern "C" {
#endif

/* RFC 8832 §8.1 message types, RFC 8831 §8 PPIDs. */
#define RC_DCEP_OPEN 0x03
#define RC_DCEP_ACK 0x02
#define RC_DCEP_PPID_CONTROL 50
#define RC_DCEP_PPID_STRING 51
#define RC_DCEP_PPID_BINARY 53
#define RC_DCEP_PPID_STRING_EMPTY 56
#define RC_DCEP_PPID_BINARY_EMPTY 57

/* RFC 8832 §8.2.1 channel types. */
enum {
  RC_DCEP_RELIABLE = 0x00,
  RC_DCEP_RELIABLE_UNORDERED = 0x80,
  RC_DCEP_PARTIAL_REXMIT = 0x01,
  RC_DCEP_PARTIAL_REXMIT_UNORDERED = 0x81,
  RC_DCEP_PARTIAL_TIMED = 0x02,
  RC_DCEP_PARTIAL_TIMED_UNORDERED = 0x82
};

/* A DCEP message: an ACK, or an OPEN whose label and protocol point into
 * the parsed bytes. */
typedef struct rc_dcep_msg {
  uint8_t type; /* RC_DCEP_OPEN or RC_DCEP_ACK */
  uint8_t channel_type;
  uint16_t priority;
  uint32_t reliability;
  const uint8_t *label;
  size_t label_len;
  const uint8_t *protocol;
  size_t protocol_len;
} rc_dcep_msg;

/* The fixed part of an OPEN (RFC 8832 §5.1). */
#define RC_DCEP_OPEN_FIXED 12

/* Parses one DCEP message. Returns 0, or RC_ERR_PROTOCOL (short, lengths
 * past the end, unknown type or channel type). */
rc_err rc_dcep_parse(const uint8_t *p, size_t n, rc_dcep_msg *out);

/* Encodes an OPEN (type ignored). Returns 0 and *len, RC_ERR_INVAL
 * (label or protocol over 65535 bytes) or RC_ERR_LIMIT (cap too small). */
rc_err rc_dcep_encode_open(const rc_dcep_msg *m, uint8_t *buf, size_t cap,
                           size_t *len);

/* The one-byte ACK. */
#define RC_DCEP_ACK_LEN 1

/* Non-zero if an OPEN's protocol is CoAP's ("coap", "coap.v1"). */
int rc_dcep_is_coap(const rc_dcep_msg *m);

typedef struct rc_dcep_config {
  /* The DTLS role below: the client opens even stream ids, the server
   * odd (RFC 8832 §6). */
  int dtls_client;
  /* Open the CoAP channel ourselves (else wait for the peer's OPEN). */
  int open_channel;
  const char *label;    /* NULL: "coap" */
  const rc_mem *mem;    /* NULL: rc_mem_default() */
} rc_dcep_config;

/* Creates the filter. Returns 0 and *out, RC_ERR_INVAL or RC_ERR_NOMEM. */
rc_err rc_dcep_filter_new(rc_filter **out, const rc_dcep_config *cfg,
                          const rc_filter_sink *sink);

/* The CoAP channel's stream id, or -1 before it exists. */
int rc_dcep_stream(const rc_filter *f);

#ifdef __cplusplus
}
#endif
#endif
