/*
 * rcoap error codes: one table for the whole library.
 *
 * Every function that can fail returns an rc_err: 0 on success, a negative
 * code from RC_ERR_MAP otherwise. Nothing global is set.
 *
 * No code is fatal by its value: the same RC_ERR_NOMEM may leave the object
 * as it was (nothing was queued) or end it (a receive buffer that could not
 * grow mid-message). An object that cannot go on closes itself instead: it
 * reports the reason once (a session's on_closed, a filter's
 * RC_FILTER_EV_ERROR, a connection's on_closed), and every later call on it
 * returns RC_ERR_CLOSED (or RC_ERR_STATE) and changes nothing; its
 * destructor stays legal. A failed call that does not close the object left
 * it as before the call.
 *
 * To add a code, add one line to RC_ERR_MAP in the group it belongs to; the
 * enum, rc_strerror() and rc_err_name() all come from that line.
 */
#ifndef RCOAP_ERR_H
#define RCOAP_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

/* X(NAME, value, "human text") */
#define RC_ERR_MAP(X)                                                          \
  /* generic */                                                                \
  X(INVAL, -1, "invalid argument")                                             \
  X(NOMEM, -2, "out of memory")                                                \
  X(NOBUF, -3, "buffer too small")                                             \
  X(NEED_MORE, -4, "more input needed")                                        \
  X(NOT_FOUND, -5, "not found")                                                \
  X(EXISTS, -6, "already exists")                                              \
  X(NOT_SUPPORTED, -7, "not supported yet")                                    \
  X(STATE, -8, "not allowed in the current state")                             \
  X(LIMIT, -9, "configured limit reached")                                     \
  X(IO, -10, "I/O error")                                                      \
  X(FILE_NEXT, -11, "a file run is next in the output")                        \
  /* codec: message and framing */                                             \
  X(TRUNCATED, -20, "message truncated")                                       \
  X(TKL_RESERVED, -21, "reserved token length 15")                             \
  X(BAD_VERSION, -22, "CoAP version is not 1")                                 \
  X(OPT_DELTA_RESERVED, -23, "option delta nibble 15 outside payload marker")  \
  X(OPT_LEN_RESERVED, -24, "option length nibble 15 outside payload marker")   \
  X(OPT_TRUNCATED, -25, "option runs past the end of the message")             \
  X(OPT_NUMBER_OVERFLOW, -26, "option number exceeds 65535")                   \
  X(OPT_ORDER, -27, "options not in ascending order")                          \
  X(OPT_FORMAT, -28, "option value violates its format or length range")      \
  X(EMPTY_PAYLOAD, -29, "payload marker followed by no payload")               \
  X(TOO_LARGE, -30, "message larger than the allowed maximum")                 \
  X(TOKEN_TOO_LONG, -31, "token longer than allowed")                          \
  X(BAD_LEN_NIBBLE, -32, "length nibble must be 0 for this framing")           \
  X(BAD_CODE, -33, "code not allowed here")                                    \
  X(BAD_TYPE, -34, "message type not allowed here")                            \
  X(TRAILING_BYTES, -35, "bytes left after the message")                       \
  X(BAD_BLOCK, -36, "invalid block option value")                              \
  /* codec: URI and link-format */                                             \
  X(BAD_URI, -50, "malformed URI")                                             \
  X(BAD_SCHEME, -51, "unsupported URI scheme")                                 \
  X(BAD_PERCENT, -52, "bad percent-encoding")                                  \
  X(URI_FRAGMENT, -53, "URI fragments are not allowed in CoAP")                \
  X(BAD_PORT, -54, "bad port number")                                          \
  X(BAD_HOST, -55, "bad host")                                                 \
  X(BAD_LINK, -56, "malformed link-format")                                    \
  /* session */                                                                \
  X(BAD_CSM, -70, "missing or invalid CSM")                                    \
  X(PEER_ABORT, -71, "peer aborted the connection")                            \
  X(PEER_RELEASE, -72, "peer released the connection")                         \
  X(PEER_DEAD, -73, "peer did not answer a ping")                              \
  X(PEER_TOO_LARGE, -74, "message larger than the peer's Max-Message-Size")    \
  X(PROTOCOL, -75, "protocol violation by the peer")                           \
  X(CALLBACK_FAILURE, -76, "a user callback failed")                           \
  /* exchange */                                                               \
  X(TIMEOUT, -90, "timed out")                                                 \
  X(CANCELLED, -91, "cancelled")                                               \
  X(NO_TOKEN, -92, "no free token")                                            \
  X(BLOCK_ORDER, -93, "block received out of order")                           \
  X(ENTITY_TOO_LARGE, -94, "request entity too large")                         \
  X(BLOCK_CHANGED, -95, "representation changed during a block-wise transfer")\
  X(CRITICAL_OPTION, -96,                                                      \
    "response rejected: it carries an unrecognized critical option")           \
  /* transport */                                                              \
  X(RESOLVE, -110, "host name could not be resolved")                          \
  X(CONNECT, -111, "connection failed")                                        \
  X(CONN_REFUSED, -112, "connection refused")                                  \
  X(CONN_RESET, -113, "connection reset by peer")                              \
  X(CLOSED, -114, "connection closed")                                         \
  X(TLS, -115, "TLS failure")                                                  \
  X(TLS_CERT, -116, "certificate verification failed")                         \
  X(TLS_ALPN, -117, "ALPN coap was not negotiated")                            \
  X(TLS_NOT_TLS, -118, "peer is not speaking TLS")                             \
  X(WS_HANDSHAKE, -119, "WebSocket handshake failed")                          \
  X(WS_PROTOCOL, -120, "WebSocket protocol error")                             \
  X(HTTP_PARSE, -121, "malformed HTTP request")                                \
  X(ADDR_IN_USE, -122, "address already in use")                               \
  X(PATH_REFUSED, -123, "path refused (traversal, symlink or hidden file)")   \
  /* transport: WebRTC (ICE, STUN, SDP) */                                     \
  X(STUN_AUTH, -140, "STUN username or message integrity check failed")        \
  X(SDP, -141, "malformed or unusable SDP")

typedef enum rc_err {
  RC_OK = 0,
#define RC__ERR_ENUM(name, value, text) RC_ERR_##name = (value),
  RC_ERR_MAP(RC__ERR_ENUM)
#undef RC__ERR_ENUM
} rc_err;

/* Human text for an error code; never NULL ("unknown error" for unknown). */
const char *rc_strerror(int err);

/* Symbolic name of an error code ("RC_ERR_TRUNCATED"); never NULL. */
const char *rc_err_name(int err);

#ifdef __cplusplus
}
#endif
#endif
