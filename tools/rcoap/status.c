/*
 * rcoap's exit statuses: one per kind of outcome, so scripts can tell a
 * 4.xx from a refused connection.
 */
#include <stdio.h>
#include <string.h>

#include "rcoap/codec_msg.h"
#include "status.h"

int status_for_code(uint8_t code) {
  switch (RC_CODE_CLASS(code)) {
  case 2:
    return EX_OK;
  case 4:
    return EX_CLIENT;
  case 5:
    return EX_SERVER;
  default:
    return EX_ABORT;
  }
}

int status_for_error(rc_err err) {
  switch (err) {
  case RC_ERR_TIMEOUT:
    return EX_TIMEOUT;
  case RC_ERR_PEER_ABORT:
  case RC_ERR_PROTOCOL:
  case RC_ERR_BAD_CSM:
  case RC_ERR_PEER_DEAD:
  case RC_ERR_PEER_RELEASE:
    return EX_ABORT;
  case RC_ERR_NOMEM:
    return EX_LOCAL;
  default:
    return EX_CONNECT;
  }
}

int report_error(rc_err status, const char *detail) {
  fprintf(stderr, "rcoap: %s%s%s\n", rc_strerror(status),
          detail && *detail ? ": " : "", detail ? detail : "");
  if (status == RC_ERR_TLS_ALPN && detail &&
      strstr(detail, "did not negotiate"))
    fprintf(stderr, "rcoap: hint: --allow-no-alpn accepts a server that "
                    "negotiates no ALPN (libcoap's PSK server is one)\n");
  return status_for_error(status);
}
