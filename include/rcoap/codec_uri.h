/*
 * CoAP URIs: parsing every CoAP scheme into a view, decomposing a URI into
 * request options (RFC 7252 §6.4, RFC 8323 §8.6) and composing a URI back
 * from a request's options (RFC 7252 §6.5, RFC 8323 §8.7).
 *
 * Schemes and their default ports:
 *   coap       5683  RFC 7252 §6.1   (UDP)
 *   coaps      5684  RFC 7252 §6.2   (DTLS)
 *   coap+tcp   5683  RFC 8323 §8.1   (TCP)
 *   coaps+tcp  5684  RFC 8323 §8.2   (TLS)
 *   coap+ws      80  RFC 8323 §8.3   (WebSocket)
 *   coaps+ws    443  RFC 8323 §8.4   (secure WebSocket); "coap+wss" is the
 *                    name draft-savolainen-core-coap-websockets-02 §3 used
 *                    for the same thing (default 443) and is accepted as an
 *                    alias of coaps+ws
 *   coaps+wr   none  draft-groves-coap-webrtcdc-02 §6.1 (WebRTC data
 *                    channel): "The port SHALL be omitted."
 *
 * Nothing here allocates. rc_uri_parse() fills a view whose pointers point
 * into the caller's string; rc_uri_to_opts() writes decoded option values
 * into a caller's scratch buffer; rc_uri_compose() writes into a caller's
 * buffer and reports the size needed when it is too small.
 */
#ifndef RCOAP_CODEC_URI_H
#define RCOAP_CODEC_URI_H

#include <stddef.h>
#include <stdint.h>

#include "rcoap/codec_msg.h"
#include "rcoap/codec_option.h"
#include "rcoap/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum rc_scheme {
  RC_SCHEME_COAP = 0,
  RC_SCHEME_COAPS = 1,
  RC_SCHEME_COAP_TCP = 2,
  RC_SCHEME_COAPS_TCP = 3,
  RC_SCHEME_COAP_WS = 4,
  RC_SCHEME_COAPS_WS = 5,
  RC_SCHEME_COAPS_WR = 6
} rc_scheme;

#define RC_SCHEME_COUNT 7

/* Default ports (see the table above for the sections). */
#define RC_PORT_COAP 5683u
#define RC_PORT_COAPS 5684u
#define RC_PORT_COAP_WS 80u
#define RC_PORT_COAPS_WS 443u

/* RFC 8323 §8.3/§8.4: the WebSocket endpoint of a coap+ws / coaps+ws URI is
 * its authority plus this well-known path; the URI's own path and query
 * become Uri-Path and Uri-Query options inside the connection. */
#define RC_URI_WS_PATH "/.well-known/coap"

/* RFC 7252 §5.10 table: Uri-Host 1-255 bytes, Uri-Path and Uri-Query 0-255,
 * Uri-Port a uint of 0-2 bytes. */
#define RC_URI_HOST_MAX 255u
#define RC_URI_SEGMENT_MAX 255u

/*
 * A parsed CoAP URI: a view into the caller's string, valid as long as the
 * string is. Views are not NUL-terminated.
 */
typedef struct rc_uri {
  rc_scheme scheme;
  uint8_t is_secure; /* coaps, coaps+tcp, coaps+ws, coaps+wr */
  uint8_t is_udp;    /* coap, coaps */
  uint8_t is_tcp;    /* coap+tcp, coaps+tcp */
  uint8_t is_ws;     /* coap+ws, coaps+ws */
  uint8_t is_wr;     /* coaps+wr */
  uint8_t host_is_literal; /* IPv4address or IP-literal (RFC 3986 §3.2.2) */
  uint8_t host_is_ipv6;    /* IP-literal holding an IPv6address */
  uint8_t port_explicit;   /* a non-empty port was written */
  uint8_t has_query;       /* a '?' was written (the query may be empty) */
  uint16_t port;           /* the written port, else the scheme default
                              (0 for coaps+wr, which has none) */
  /* The <host> component exactly as written: brackets included for an
   * IP-literal, case and percent-encoding kept. */
  const char *host_raw;
  size_t host_raw_len;
  /* The host to connect to: the reg-name or IPv4address as written, or the
   * IPv6 address without brackets and zone (ready for inet_pton). */
  const char *host;
  size_t host_len;
  /* RFC 6874 zone id after "%25", still percent-encoded; NULL if none. */
  const char *zone;
  size_t zone_len;
  /* path-abempty: empty or starting with '/'; still percent-encoded. */
  const char *path;
  size_t path_len;
  /* The query without its '?', still percent-encoded (see has_query). */
  const char *query;
  size_t query_len;
} rc_uri;

/*
 * Parses an absolute CoAP URI s[0..len) (no NUL needed; an embedded NUL is
 * an invalid character). The syntax is RFC 3986's with the CoAP schemes'
 * restrictions: "//" authority is required, there is no userinfo.
 * An empty port (":" and nothing) means the default port (RFC 8323 §8.1).
 *
 * Returns 0 and fills *out, or:
 *   RC_ERR_INVAL         s or out is NULL
 *   RC_ERR_BAD_URI       not an absolute URI (relative reference, no "//"
 *                        authority, userinfo, invalid character)
 *   RC_ERR_BAD_SCHEME    a scheme that is not one of the CoAP schemes
 *   RC_ERR_URI_FRAGMENT  a fragment: RFC 7252 §6.4 step 4, "If |url| has a
 *                        <fragment> component, then fail this algorithm."
 *   RC_ERR_BAD_PERCENT   '%' not followed by two hex digits
 *   RC_ERR_BAD_HOST      empty host, bad IP-literal, IPvFuture
 *   RC_ERR_BAD_PORT      a port that is not 1-65535, or any port for
 *                        coaps+wr
 */
rc_err rc_uri_parse(const char *s, size_t len, rc_uri *out);

/* Flags for rc_uri_to_opts(). */
enum rc_uri_opt_flags {
  /* Never emit Uri-Host (the destination is known to be the host). */
  RC_URI_OMIT_HOST = 1u << 0,
  /* Emit Uri-Host even when the host is an IP literal. */
  RC_URI_FORCE_HOST = 1u << 1,
  /* Never emit Uri-Port: the request goes to the URI's port, so it equals
   * the destination port (RFC 7252 §6.4 step 7 read literally). */
  RC_URI_OMIT_PORT = 1u << 2,
  /* Emit Uri-Port even when the port is the scheme's default. */
  RC_URI_FORCE_PORT = 1u << 3
};

/* Scratch bytes that always suffice for rc_uri_to_opts() of a URI parsed
 * from len characters (decoding never grows a value; +2 for Uri-Port). */
#define RC_URI_SCRATCH_MAX(len) ((len) + 2u)

/*
 * Decomposes a parsed URI into request options (RFC 7252 §6.4 steps 5-9,
 * RFC 8323 §8.6):
 *   Uri-Host   when the host is not an IP literal (see the flags): the host
 *              "converted to ASCII lowercase, and then all percent-encodings
 *              ... replaced by the characters that they represent" (step 5)
 *   Uri-Port   when the port is not the scheme default (see the flags)
 *   Uri-Path   one per path segment, percent-decoded, after removing dot
 *              segments (RFC 3986 §5.2.4); a path that is empty or "/"
 *              gives none (step 8); "/a/" gives "a" and ""
 *   Uri-Query  one per '&'-separated argument, percent-decoded (step 9)
 * For coap+ws and coaps+ws the URI's path and query go into these options
 * as for every scheme; the WebSocket itself connects to RC_URI_WS_PATH.
 *
 * The options are appended to opts[*n_opts .. cap) (*n_opts on entry is the
 * number of options already there, which are kept) and the whole array is
 * then sorted with rc_opts_sort(). Option values point into
 * scratch[0..scratch_cap), which the caller owns and must keep while the
 * options are used; RC_URI_SCRATCH_MAX(uri length) bytes always suffice.
 * On success *n_opts is the new total and *scratch_len (may be NULL) the
 * scratch bytes used.
 *
 * Returns 0, or:
 *   RC_ERR_INVAL        NULL arguments, or both OMIT and FORCE of one option
 *   RC_ERR_NOBUF        opts or scratch too small: *n_opts is then set to the
 *                       total count needed and *scratch_len to the bytes
 *                       needed; the first *n_opts entries given are intact
 *   RC_ERR_BAD_PERCENT  bad percent-encoding in the view
 *   RC_ERR_BAD_HOST     Uri-Host would be longer than RC_URI_HOST_MAX
 *   RC_ERR_OPT_FORMAT   a decoded segment or argument longer than
 *                       RC_URI_SEGMENT_MAX
 */
rc_err rc_uri_to_opts(const rc_uri *u, unsigned flags, rc_opt *opts,
                      size_t cap, size_t *n_opts, uint8_t *scratch,
                      size_t scratch_cap, size_t *scratch_len);

/*
 * Composes the URI of a request (RFC 7252 §6.5, RFC 8323 §8.7) from the
 * scheme it was received over, its destination and its options.
 *   dest_host  the destination as text: an IPv4 address, an IPv6 address
 *              with or without brackets (a "%zone" suffix is written as
 *              "%25zone"), or a name; used when there is no Uri-Host
 *   dest_port  the destination port; 0 means the scheme's default
 *   opts       the request's options in message order; only Uri-Host,
 *              Uri-Port, Uri-Path and Uri-Query are read (the first
 *              Uri-Host and Uri-Port count)
 * Path segments keep unreserved, sub-delims, ':' and '@' (step 6) and
 * queries also '/' and '?' but not '&' (step 8); every other byte is
 * percent-encoded with upper-case hex. A segment that is exactly "." or
 * ".." is written as "%2E" / "%2E%2E" so that parsing it back does not
 * remove it as a dot segment. The port is omitted when it is the scheme's
 * default (step 5) and always for coaps+wr.
 *
 * The result is written to buf and NUL-terminated; *out_len is its length
 * without the NUL. Returns 0, or:
 *   RC_ERR_INVAL       NULL arguments, unknown scheme, no host at all
 *   RC_ERR_NOBUF       buf too small: *out_len is the capacity needed
 *                      (length + 1 for the NUL)
 *   RC_ERR_BAD_HOST    a Uri-Host or destination starting with '[' that is
 *                      not an IPv6 literal, or an empty Uri-Host
 *   RC_ERR_BAD_PORT    a Uri-Port of 0
 *   RC_ERR_OPT_FORMAT  a Uri-Port longer than 2 bytes
 */
rc_err rc_uri_compose(rc_scheme scheme, const char *dest_host,
                      size_t dest_host_len, uint16_t dest_port,
                      const rc_opt *opts, size_t n_opts, char *buf,
                      size_t cap, size_t *out_len);

/* As rc_uri_compose(), reading the options of a parsed message. */
rc_err rc_uri_compose_msg(rc_scheme scheme, const char *dest_host,
                          size_t dest_host_len, uint16_t dest_port,
                          const rc_msg *m, char *buf, size_t cap,
                          size_t *out_len);

/* The canonical lower-case scheme name ("coaps+ws"); NULL if unknown. */
const char *rc_scheme_name(rc_scheme scheme);
/* The scheme for a name, case-insensitive, "coap+wss" included; or
 * RC_ERR_BAD_SCHEME. */
int rc_scheme_from_name(const char *name, size_t len);
/* The default port of a scheme (0 for coaps+wr and unknown schemes). */
uint16_t rc_scheme_default_port(rc_scheme scheme);

#ifdef __cplusplus
}
#endif
#endif
