/*
 * HTTP-to-CoAP mapping tables (RFC 8075), sans-I/O: the request target of
 * an HTTP request to a CoAP URI (§5), HTTP methods to CoAP methods (§4),
 * media types to Content-Formats and back (§6), CoAP response codes to
 * HTTP status codes (§7), and entity tags between CoAP's opaque bytes and
 * HTTP's quoted strings. Nothing here allocates or touches a socket; the
 * HTTP side (src/app/proxy_http.c) joins these to a parsed HTTP head and
 * an rc_request.
 */
#ifndef RCOAP_CODEC_HC_H
#define RCOAP_CODEC_HC_H

#include <stddef.h>
#include <stdint.h>

#include "rcoap/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The default prefix of RFC 8075 §5.3 ("/hc/" then the target URI). */
#define RC_HC_PREFIX "/hc/"

/* What a request target names (rc_hc_target). */
typedef enum rc_hc_kind {
  RC_HC_NONE = 0,  /* not under the prefix: not ours */
  RC_HC_URI = 1,   /* out holds an absolute CoAP URI ("coap://h/p") */
  RC_HC_PATH = 2   /* out holds "/rest?query", for a route lookup */
} rc_hc_kind;

/*
 * Maps an HTTP request-target (origin-form, as received) under prefix
 * ("/hc/"; NULL: RC_HC_PREFIX) to what the proxy should ask for. After
 * the prefix either a URI with a coap* scheme follows, as RFC 8075 §5.3's
 * template {+tu} leaves it ("/hc/coap://[::1]:5690/lamp"), or the same URI
 * percent-encoded whole ({tu}: "/hc/coap%3A%2F%2F..."), which is decoded
 * once; anything else is a path ("/hc/devices/lamp" -> "/devices/lamp")
 * for the reverse routes. The result in out is NUL-terminated.
 *
 * Returns RC_HC_URI or RC_HC_PATH with *out_len set, RC_HC_NONE when the
 * target is not under the prefix; or RC_ERR_BAD_PERCENT (bad or control
 * escape when decoding), RC_ERR_BAD_URI (a byte that is not visible
 * ASCII), RC_ERR_NOBUF (does not fit cap),
 * RC_ERR_INVAL (NULL argument).
 */
int rc_hc_target(const char *target, size_t len, const char *prefix,
                 char *out, size_t cap, size_t *out_len);

/* The CoAP method for an HTTP method name (case-sensitive, RFC 9110
 * §9.1): GET, POST, PUT, DELETE, FETCH, PATCH, iPATCH, and HEAD (as GET,
 * the body not sent). Returns the method code or -1. */
int rc_hc_method(const char *name, size_t len);

/* The Content-Format for an HTTP Content-Type value (media type and
 * parameters, case and blanks ignored; "text/plain" alone is 0). Returns
 * the number or -1 (no such Content-Format: 415). */
int rc_hc_content_format(const char *ctype, size_t len);

/* The HTTP media type for a Content-Format (cf < 0: none given): the
 * registry's name, or "application/octet-stream" for a number we do not
 * know (RFC 8075 §6.1 leaves an unknown format opaque bytes). Static
 * storage. */
const char *rc_hc_media_type(int cf);

/*
 * The HTTP status for a CoAP response code (RFC 8075 §7, Table 2).
 * has_payload picks between 200 and 204 for 2.02 and 2.04; conditional
 * (the HTTP request carried If-None-Match) between 304 and 200 for 2.03.
 * Returns the status; 502 for a code with no mapping (a proxy cannot
 * relay it: RFC 8075 says an unknown class 2 is 200, 4 is 400, 5 is 500,
 * which this follows for codes it does not name).
 */
int rc_hc_status(uint8_t code, int has_payload, int conditional);

/* Writes a CoAP ETag (0-8 opaque bytes) as an HTTP entity-tag: a quoted
 * string of lowercase hex. Returns the length written (cap >= 19 always
 * fits) or RC_ERR_NOBUF. */
rc_ssize rc_hc_etag_out(const uint8_t *etag, size_t len, char *out,
                        size_t cap);

/* Reads the first entity-tag of an If-None-Match / If-Match value back
 * into CoAP bytes: a quoted hex string of 2-16 digits written by
 * rc_hc_etag_out (W/ ignored). Returns the byte count (1-8), or -1 when
 * the value is "*" or not one of ours. */
int rc_hc_etag_in(const char *value, size_t len, uint8_t out[8]);

#ifdef __cplusplus
}
#endif
#endif
