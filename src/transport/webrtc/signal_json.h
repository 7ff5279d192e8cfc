/*
 * The signaling message that carries an SDP description over CoAP (a POST
 * to /webrtc, Content-Format application/json): the RTCSessionDescription
 * JSON form {"type":"offer","sdp":"..."} (W3C WebRTC, RFC 8829 §4.1.8).
 * Parse and emit with JSON string escapes both ways (RFC 8259 §7),
 * bounded by the caller's buffers; no allocation.
 */
#ifndef RCOAP_TRANSPORT_WEBRTC_SIGNAL_JSON_H
#define RCOAP_TRANSPORT_WEBRTC_SIGNAL_JSON_H

#include <stddef.h>

#include "rcoap/common.h"

/* The longest "type" value kept ("offer", "answer", "pranswer",
 * "rollback"). */
#define RC_SIGNAL_TYPE_MAX 15

/* Reads one JSON object (len bytes) with string members "type" and "sdp"
 * (other members of any type are skipped, nesting up to 16 deep). The
 * values are unescaped into type (RC_SIGNAL_TYPE_MAX + 1 bytes) and sdp
 * (sdp_cap bytes), both NUL-terminated; *sdp_len is the SDP's length.
 * Returns RC_OK, RC_ERR_PROTOCOL (not such a JSON object: bad syntax, bad
 * escape, invalid UTF-8 from \u escapes, a NUL in a value, trailing
 * bytes), RC_ERR_NOT_FOUND (no "type" or no "sdp" string) or
 * RC_ERR_NOBUF (a value does not fit). */
rc_err rc_signal_json_parse(const char *json, size_t len,
                            char type[RC_SIGNAL_TYPE_MAX + 1], char *sdp,
                            size_t sdp_cap, size_t *sdp_len);

/* Writes {"type":"<type>","sdp":"<sdp>"} into buf (cap bytes),
 * NUL-terminated, length in *len; quotes, backslashes and control
 * characters escaped. Returns RC_OK, RC_ERR_NOBUF or RC_ERR_INVAL (type
 * NULL or with characters needing escapes). */
rc_err rc_signal_json_emit(char *buf, size_t cap, size_t *len,
                           const char *type, const char *sdp,
                           size_t sdp_len);

#endif
