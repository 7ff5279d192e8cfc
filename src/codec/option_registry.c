/*
 * The registry of known option numbers: name, format, length range and
 * repeatability, from the IANA "CoAP Option Numbers" registry as set by
 * RFC 7252 §5.10 and §12.2, RFC 7641, RFC 7959, RFC 7967, RFC 8613,
 * RFC 8768, RFC 9175 and RFC 9177; and the per-code signaling option spaces
 * of RFC 8323 §5.3-§5.6 (plus RFC 8974 §2.2.2 Extended-Token-Length).
 * Lookups are switch statements: no search, no table walk.
 */
#include "rcoap/codec_option.h"

#define DEF(n, nm, f, r, lo, hi)                                               \
  { (n), (nm), RC_OPTF_##f, (r), (lo), (hi) }

/* RFC 7252 §5.10 table and the later RFCs named beside each entry. */
static const rc_opt_def opt_defs[] = {
    DEF(RC_OPT_IF_MATCH, "If-Match", OPAQUE, 1, 0, 8),
    DEF(RC_OPT_URI_HOST, "Uri-Host", STRING, 0, 1, 255),
    DEF(RC_OPT_ETAG, "ETag", OPAQUE, 1, 1, 8),
    DEF(RC_OPT_IF_NONE_MATCH, "If-None-Match", EMPTY, 0, 0, 0),
    DEF(RC_OPT_OBSERVE, "Observe", UINT, 0, 0, 3),           /* RFC 7641 §2 */
    DEF(RC_OPT_URI_PORT, "Uri-Port", UINT, 0, 0, 2),
    DEF(RC_OPT_LOCATION_PATH, "Location-Path", STRING, 1, 0, 255),
    DEF(RC_OPT_OSCORE, "OSCORE", OPAQUE, 0, 0, 255),         /* RFC 8613 §2 */
    DEF(RC_OPT_URI_PATH, "Uri-Path", STRING, 1, 0, 255),
    DEF(RC_OPT_CONTENT_FORMAT, "Content-Format", UINT, 0, 0, 2),
    DEF(RC_OPT_MAX_AGE, "Max-Age", UINT, 0, 0, 4),
    DEF(RC_OPT_URI_QUERY, "Uri-Query", STRING, 1, 0, 255),
    DEF(RC_OPT_HOP_LIMIT, "Hop-Limit", UINT, 0, 1, 1),       /* RFC 8768 §3 */
    DEF(RC_OPT_ACCEPT, "Accept", UINT, 0, 0, 2),
    DEF(RC_OPT_Q_BLOCK1, "Q-Block1", UINT, 0, 0, 3),         /* RFC 9177 §4 */
    DEF(RC_OPT_LOCATION_QUERY, "Location-Query", STRING, 1, 0, 255),
    DEF(RC_OPT_BLOCK2, "Block2", UINT, 0, 0, 3),             /* RFC 7959 §2.1 */
    DEF(RC_OPT_BLOCK1, "Block1", UINT, 0, 0, 3),             /* RFC 7959 §2.1 */
    DEF(RC_OPT_SIZE2, "Size2", UINT, 0, 0, 4),               /* RFC 7959 §4 */
    DEF(RC_OPT_Q_BLOCK2, "Q-Block2", UINT, 1, 0, 3),         /* RFC 9177 §4 */
    DEF(RC_OPT_PROXY_URI, "Proxy-Uri", STRING, 0, 1, 1034),
    DEF(RC_OPT_PROXY_SCHEME, "Proxy-Scheme", STRING, 0, 1, 255),
    DEF(RC_OPT_SIZE1, "Size1", UINT, 0, 0, 4),
    DEF(RC_OPT_ECHO, "Echo", OPAQUE, 0, 1, 40),              /* RFC 9175 §2.2 */
    DEF(RC_OPT_NO_RESPONSE, "No-Response", UINT, 0, 0, 1),   /* RFC 7967 §2 */
    DEF(RC_OPT_REQUEST_TAG, "Request-Tag", OPAQUE, 1, 0, 8), /* RFC 9175 §3.2 */
};

/* RFC 8323 §5.3.1, §5.3.2; RFC 8974 §2.2.2. */
static const rc_opt_def csm_defs[] = {
    DEF(RC_SIGOPT_MAX_MESSAGE_SIZE, "Max-Message-Size", UINT, 0, 0, 4),
    DEF(RC_SIGOPT_BLOCK_WISE_TRANSFER, "Block-Wise-Transfer", EMPTY, 0, 0, 0),
    DEF(RC_SIGOPT_EXTENDED_TOKEN_LENGTH, "Extended-Token-Length", UINT, 0, 0,
        3),
};
/* RFC 8323 §5.4.1 */
static const rc_opt_def custody_def =
    DEF(RC_SIGOPT_CUSTODY, "Custody", EMPTY, 0, 0, 0);
/* RFC 8323 §5.5.1, §5.5.2 */
static const rc_opt_def release_defs[] = {
    DEF(RC_SIGOPT_ALTERNATIVE_ADDRESS, "Alternative-Address", STRING, 1, 1,
        255),
    DEF(RC_SIGOPT_HOLD_OFF, "Hold-Off", UINT, 0, 0, 3),
};
/* RFC 8323 §5.6.1 */
static const rc_opt_def abort_def =
    DEF(RC_SIGOPT_BAD_CSM_OPTION, "Bad-CSM-Option", UINT, 0, 0, 2);

static const rc_opt_def *sig_lookup(uint8_t code, uint16_t num) {
  switch (code) {
  case RC_SIG_CSM:
    switch (num) {
    case RC_SIGOPT_MAX_MESSAGE_SIZE: return &csm_defs[0];
    case RC_SIGOPT_BLOCK_WISE_TRANSFER: return &csm_defs[1];
    case RC_SIGOPT_EXTENDED_TOKEN_LENGTH: return &csm_defs[2];
    default: return NULL;
    }
  case RC_SIG_PING:
  case RC_SIG_PONG:
    return num == RC_SIGOPT_CUSTODY ? &custody_def : NULL;
  case RC_SIG_RELEASE:
    switch (num) {
    case RC_SIGOPT_ALTERNATIVE_ADDRESS: return &release_defs[0];
    case RC_SIGOPT_HOLD_OFF: return &release_defs[1];
    default: return NULL;
    }
  case RC_SIG_ABORT:
    return num == RC_SIGOPT_BAD_CSM_OPTION ? &abort_def : NULL;
  default:
    return NULL;
  }
}

const rc_opt_def *rc_opt_lookup(uint8_t code, uint16_t num) {
  if (rc_code_is_signaling(code))
    return sig_lookup(code, num);
  switch (num) {
  case RC_OPT_IF_MATCH: return &opt_defs[0];
  case RC_OPT_URI_HOST: return &opt_defs[1];
  case RC_OPT_ETAG: return &opt_defs[2];
  case RC_OPT_IF_NONE_MATCH: return &opt_defs[3];
  case RC_OPT_OBSERVE: return &opt_defs[4];
  case RC_OPT_URI_PORT: return &opt_defs[5];
  case RC_OPT_LOCATION_PATH: return &opt_defs[6];
  case RC_OPT_OSCORE: return &opt_defs[7];
  case RC_OPT_URI_PATH: return &opt_defs[8];
  case RC_OPT_CONTENT_FORMAT: return &opt_defs[9];
  case RC_OPT_MAX_AGE: return &opt_defs[10];
  case RC_OPT_URI_QUERY: return &opt_defs[11];
  case RC_OPT_HOP_LIMIT: return &opt_defs[12];
  case RC_OPT_ACCEPT: return &opt_defs[13];
  case RC_OPT_Q_BLOCK1: return &opt_defs[14];
  case RC_OPT_LOCATION_QUERY: return &opt_defs[15];
  case RC_OPT_BLOCK2: return &opt_defs[16];
  case RC_OPT_BLOCK1: return &opt_defs[17];
  case RC_OPT_SIZE2: return &opt_defs[18];
  case RC_OPT_Q_BLOCK2: return &opt_defs[19];
  case RC_OPT_PROXY_URI: return &opt_defs[20];
  case RC_OPT_PROXY_SCHEME: return &opt_defs[21];
  case RC_OPT_SIZE1: return &opt_defs[22];
  case RC_OPT_ECHO: return &opt_defs[23];
  case RC_OPT_NO_RESPONSE: return &opt_defs[24];
  case RC_OPT_REQUEST_TAG: return &opt_defs[25];
  default: return NULL;
  }
}
