/*
 * Fuzzes WebSocket frame input on an open server filter (and, with the
 * first byte's low bit set, on an open client filter): after a valid
 * handshake the input is fed as frames in pieces whose sizes come from
 * the first byte. Messages delivered up must respect the maximum size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rcoap/transport_ws.h"

#define FUZZ_MAX 300

static rc_err up(void *c, const uint8_t *d, size_t n, int fl) {
  (void)c, (void)d;
  if (n > FUZZ_MAX || fl != RC_FILTER_MSG_END)
    abort();
  return RC_OK;
}
static rc_err down(void *c, const uint8_t *d, size_t n) {
  (void)c, (void)d, (void)n;
  return RC_OK;
}
static void event(void *c, rc_filter_event ev, int arg, const char *detail) {
  (void)c, (void)ev, (void)arg, (void)detail;
}

static const char req[] = "GET /.well-known/coap HTTP/1.1\r\nHost: h\r\n"
                          "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Protocol: coap\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rc_ws_config cfg = {0};
  rc_filter_sink sink = {up, down, event, NULL};
  rc_filter *f = NULL;
  size_t step, off;
  if (size < 1)
    return 0;
  step = (size_t)(data[0] >> 1) + 1;
  cfg.max_message = FUZZ_MAX;
  if (rc_ws_server_new(&f, &cfg, &sink) != RC_OK)
    return 0;
  if (rc_filter_recv(f, (const uint8_t *)req, sizeof(req) - 1) != RC_OK)
    abort();
  if (data[0] & 1)
    (void)rc_filter_send(f, data, size > 200 ? 200 : size, RC_FILTER_MSG_END);
  for (off = 1; off < size; off += step) {
    size_t n = size - off < step ? size - off : step;
    if (rc_filter_recv(f, data + off, n) != RC_OK)
      break;
  }
  rc_filter_free(f);
  return 0;
}
