/*
 * Text for CoAP codes: the "c.dd" form every log line and the CLI print,
 * and the registered names of method, response and signaling codes
 * (RFC 7252 §12.1; RFC 7959 2.31 and 4.08; RFC 8132 FETCH, PATCH, iPATCH,
 * 4.09 and 4.22; RFC 8516 4.29; RFC 8768 5.08; RFC 8323 §5.1 signaling).
 */
#include "rcoap/codec_msg.h"

char *rc_code_str(uint8_t code, char buf[5]) {
  unsigned d = RC_CODE_DETAIL(code);
  buf[0] = (char)('0' + RC_CODE_CLASS(code));
  buf[1] = '.';
  buf[2] = (char)('0' + d / 10);
  buf[3] = (char)('0' + d % 10);
  buf[4] = '\0';
  return buf;
}

const char *rc_code_name(uint8_t code) {
  switch (code) {
  case RC_CODE_EMPTY: return "Empty";
  case RC_GET: return "GET";
  case RC_POST: return "POST";
  case RC_PUT: return "PUT";
  case RC_DELETE: return "DELETE";
  case RC_FETCH: return "FETCH";
  case RC_PATCH: return "PATCH";
  case RC_IPATCH: return "iPATCH";
  case RC_CREATED: return "Created";
  case RC_DELETED: return "Deleted";
  case RC_VALID: return "Valid";
  case RC_CHANGED: return "Changed";
  case RC_CONTENT: return "Content";
  case RC_CONTINUE: return "Continue";
  case RC_BAD_REQUEST: return "Bad Request";
  case RC_UNAUTHORIZED: return "Unauthorized";
  case RC_BAD_OPTION: return "Bad Option";
  case RC_FORBIDDEN: return "Forbidden";
  case RC_NOT_FOUND: return "Not Found";
  case RC_METHOD_NOT_ALLOWED: return "Method Not Allowed";
  case RC_NOT_ACCEPTABLE: return "Not Acceptable";
  case RC_REQUEST_ENTITY_INCOMPLETE: return "Request Entity Incomplete";
  case RC_CONFLICT: return "Conflict";
  case RC_PRECONDITION_FAILED: return "Precondition Failed";
  case RC_REQUEST_ENTITY_TOO_LARGE: return "Request Entity Too Large";
  case RC_UNSUPPORTED_CONTENT_FORMAT: return "Unsupported Content-Format";
  case RC_UNPROCESSABLE_ENTITY: return "Unprocessable Entity";
  case RC_TOO_MANY_REQUESTS: return "Too Many Requests";
  case RC_INTERNAL_SERVER_ERROR: return "Internal Server Error";
  case RC_NOT_IMPLEMENTED: return "Not Implemented";
  case RC_BAD_GATEWAY: return "Bad Gateway";
  case RC_SERVICE_UNAVAILABLE: return "Service Unavailable";
  case RC_GATEWAY_TIMEOUT: return "Gateway Timeout";
  case RC_PROXYING_NOT_SUPPORTED: return "Proxying Not Supported";
  case RC_HOP_LIMIT_REACHED: return "Hop Limit Reached";
  case RC_SIG_CSM: return "CSM";
  case RC_SIG_PING: return "Ping";
  case RC_SIG_PONG: return "Pong";
  case RC_SIG_RELEASE: return "Release";
  case RC_SIG_ABORT: return "Abort";
  default: return "Unknown";
  }
}

/* ASCII-only case folding: method names are ASCII and the C library's
 * tolower depends on the locale. */
static int ascii_lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

int rc_method_from_name(const char *name) {
  if (!name)
    return -1;
  for (uint8_t code = RC_GET; code <= RC_IPATCH; code++) {
    const char *want = rc_code_name(code);
    size_t i = 0;
    while (want[i] && ascii_lower((unsigned char)name[i]) ==
                          ascii_lower((unsigned char)want[i]))
      i++;
    if (!want[i] && !name[i])
      return code;
  }
  return -1;
}
