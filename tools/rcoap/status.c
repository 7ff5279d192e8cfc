/*
 * rcoap's exit statuses: one per kind of outcome, so scripts can tell a
 * 4.xx from a refused connection, a name that does not resolve or a TLS
 * server that is not trusted (as curl's 7, 6 and 60/35 do). The words
 * on failure end with a hint when the fix is on the command line.
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
  case RC_ERR_CRITICAL_OPTION:
  case RC_ERR_BAD_CSM:
  case RC_ERR_PEER_DEAD:
  case RC_ERR_PEER_RELEASE:
    return EX_ABORT;
  case RC_ERR_NOMEM:
    return EX_LOCAL;
  case RC_ERR_RESOLVE:
    return EX_RESOLVE;
  case RC_ERR_TLS:
  case RC_ERR_TLS_CERT:
  case RC_ERR_TLS_ALPN:
  case RC_ERR_TLS_NOT_TLS:
    return EX_TLS;
  default:
    return EX_CONNECT;
  }
}

static int scheme_is(const rcoap_args *a, const char *scheme) {
  size_t n = strlen(scheme);
  return !strncmp(a->uri, scheme, n) && !strncmp(a->uri + n, "://", 3);
}

/* The URI with another scheme, for a hint. */
static void with_scheme(const rcoap_args *a, const char *scheme, char *out,
                        size_t cap) {
  const char *rest = strstr(a->uri, "://");
  snprintf(out, cap, "%s%s", scheme, rest ? rest : "://...");
}

/* One line a person can act on, or NULL. */
static const char *hint_for(const rcoap_args *a, rc_err status,
                            const char *detail, char *buf, size_t cap) {
  char uri[512];
  switch (status) {
  case RC_ERR_TLS_ALPN:
    if (strstr(detail, "did not negotiate"))
      return "--allow-no-alpn accepts a server that negotiates no ALPN "
             "(libcoap's PSK server is one)";
    return NULL;
  case RC_ERR_TLS_CERT:
    if (strstr(detail, "rejected our certificate"))
      return "the server wants a client certificate it trusts: "
             "--cert FILE --key FILE";
    if (strstr(detail, "mismatch") || strstr(detail, "does not match"))
      return "the certificate names another host: use the name it was "
             "issued for";
    return "--cafile FILE trusts the CA that signed the server's "
           "certificate (rcoapd prints the path of its demo one); "
           "--insecure skips the check";
  case RC_ERR_TLS:
    /* OpenSSL's own words, or the TLS filter's sentence for the alert */
    if (!strstr(detail, "handshake failure") &&
        !strstr(detail, "handshake_failure"))
      return NULL;
    if (a->psk_id) {
      snprintf(buf, cap,
               "the server refused the handshake: does it know the "
               "pre-shared key identity \"%s\"?",
               a->psk_id);
      return buf;
    }
    return "the server refused the handshake: it may want a pre-shared "
           "key (--psk-identity ID --psk-key KEY) or a client certificate "
           "(--cert FILE --key FILE)";
  case RC_ERR_TLS_NOT_TLS:
    if (strstr(detail, "HTTP")) {
      with_scheme(a, "coap+ws", uri, sizeof uri);
      snprintf(buf, cap, "the port answered HTTP: try %s", uri);
      return buf;
    }
    with_scheme(a, scheme_is(a, "coaps+ws") || scheme_is(a, "coap+wss")
                       ? "coap+ws"
                       : "coap+tcp",
                uri, sizeof uri);
    snprintf(buf, cap, "the port speaks plain CoAP: try %s", uri);
    return buf;
  case RC_ERR_PROTOCOL:
  case RC_ERR_BAD_CSM:
    if (scheme_is(a, "coap+tcp")) {
      with_scheme(a, "coap+ws", uri, sizeof uri);
      snprintf(buf, cap,
               "a WebSocket (HTTP) port answers like this: try %s", uri);
      return buf;
    }
    return NULL;
  case RC_ERR_CLOSED:
  case RC_ERR_CONN_RESET:
    if (scheme_is(a, "coap+tcp")) {
      with_scheme(a, "coaps+tcp", uri, sizeof uri);
      snprintf(buf, cap, "if the port speaks TLS, try %s", uri);
      return buf;
    }
    return NULL;
  default:
    return NULL;
  }
}

int report_error(const rcoap_args *a, rc_err status, const char *detail) {
  const char *what = rc_strerror(status);
  if (!detail)
    detail = "";
  /* Say each thing once: a detail that already starts with the error's
   * own words stands alone. */
  if (!strncmp(detail, what, strlen(what)))
    fprintf(stderr, "rcoap: %s\n", detail);
  else
    fprintf(stderr, "rcoap: %s%s%s\n", what, *detail ? ": " : "", detail);
  char buf[640];
  const char *hint = hint_for(a, status, detail, buf, sizeof buf);
  if (hint)
    fprintf(stderr, "rcoap: hint: %s\n", hint);
  return status_for_error(status);
}
