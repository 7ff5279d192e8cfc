/*
 * The key log of a TLS or DTLS context (rc_tls_config.keylog_file): every
 * secret OpenSSL derives, one line each in the NSS key log format that
 * Wireshark reads (tshark -o tls.keylog_file:FILE), appended to the file
 * with one write per line so that several contexts and processes may share
 * it. A debugging aid: whoever reads the file can decrypt the traffic.
 * The same callback gives a server's TLS filter the application traffic
 * secrets it takes the record layer over with (tls_handoff.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "transport/tls_int.h"

static void keylog_cb(const SSL *ssl, const char *line) {
  rc_tls_ctx *ctx = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
  if (ctx == NULL)
    return;
  /* The TLS filter's record layer takes over from these secrets. */
  if (ctx->handoff)
    rc__tls_handoff_capture(rc__tls_from_ssl(ssl), line);
  if (ctx->keylog_fd < 0)
    return;
  struct iovec iov[2] = {{(void *)line, strlen(line)}, {"\n", 1}};
  ssize_t n;
  do /* an interrupted write is retried; a failed one loses that line */
    n = writev(ctx->keylog_fd, iov, 2);
  while (n < 0 && errno == EINTR);
}

rc_err rc__tls_keylog_open(rc_tls_ctx *ctx, SSL_CTX *sc, const char *path) {
  ctx->keylog_fd = -1;
  if (path == NULL || path[0] == '\0') {
    if (ctx->handoff) {
      SSL_CTX_set_app_data(sc, ctx);
      SSL_CTX_set_keylog_callback(sc, keylog_cb);
    }
    return RC_OK;
  }
  /* 0600: the file holds secrets */
  ctx->keylog_fd =
      open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
  if (ctx->keylog_fd < 0)
    return RC_ERR_IO;
  SSL_CTX_set_app_data(sc, ctx);
  SSL_CTX_set_keylog_callback(sc, keylog_cb);
  return RC_OK;
}

void rc__tls_keylog_close(rc_tls_ctx *ctx) {
  if (ctx->keylog_fd >= 0)
    close(ctx->keylog_fd);
  ctx->keylog_fd = -1;
}
