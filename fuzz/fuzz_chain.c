/*
 * Fuzzes the transport chain (src/transport/chain.c) as a server sees it:
 * coap+ws (ws filter under a WS-framing session, after a valid upgrade)
 * or, with bit 2 of the first byte, coap+tcp (no filter, stream session).
 * The rest of the input (WS frames, or the byte stream) is fed in pieces
 * whose size comes from the first byte; after every piece the output is
 * pulled and consumed (bit 1: in two parts), bit 0 starts the orderly
 * close half-way, and the stream ends with EOF. The chain must never hand
 * out an empty run, must take back exactly what it lent, and must have
 * nothing left unsent once its output is drained after the end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rcoap/transport_stack.h"

static const char req[] = "GET /.well-known/coap HTTP/1.1\r\nHost: h\r\n"
                          "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Protocol: coap\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n";

static int on_message(void *u, const rc_msg *m) {
  (void)u, (void)m;
  return 0;
}

static void drain(rc_chain *ch, int halves) {
  const uint8_t *d;
  size_t n;
  for (int guard = 0; guard < 1000 && rc_chain_pull(ch, &d, &n) == RC_OK;
       guard++) {
    if (n == 0)
      abort();
    size_t first = halves ? n / 2 : n;
    if (first && rc_chain_consume(ch, first) != RC_OK)
      abort();
    if (first < n && rc_chain_consume(ch, n - first) != RC_OK)
      abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  int ws = !(data[0] & 4), halves = data[0] & 2, close_mid = data[0] & 1;
  size_t step = (size_t)(data[0] >> 3) + 1;
  rc_stack_config st = {.role = RC_SESSION_SERVER, .ws = ws};
  rc_session_config sc;
  rc_session_config_default(&sc, rc_stack_framing(&st), RC_SESSION_SERVER);
  st.max_message = sc.max_msg_size;
  static const rc_session_callbacks cb = {.on_message = on_message};
  rc_session *s = NULL;
  rc_chain *ch = NULL;
  rc_time now = 1000;
  if (rc_session_new(&s, &sc, &cb, NULL, NULL, now) != RC_OK)
    return 0;
  if (rc_chain_new(&ch, NULL, s, NULL, NULL) != RC_OK)
    return 0;
  if (rc_stack_build(ch, &st) != RC_OK || rc_chain_start(ch, now) != RC_OK)
    abort();
  if (ws && rc_chain_recv(ch, (const uint8_t *)req, sizeof(req) - 1, now) !=
                RC_OK)
    abort();
  drain(ch, halves);
  if (!rc_chain_is_open(ch))
    abort();
  for (size_t off = 1; off < size; off += step) {
    size_t n = size - off < step ? size - off : step;
    now += 10;
    rc_err err = rc_chain_recv(ch, data + off, n, now);
    drain(ch, halves);
    if (close_mid && off * 2 >= size) {
      rc_session_close(s, RC_OK);
      rc_chain_close(ch);
      close_mid = 0;
    }
    if (err != RC_OK)
      break;
  }
  rc_chain_handle_expiry(ch, now + 60000);
  rc_session_close(s, RC_OK);
  rc_chain_close(ch);
  (void)rc_chain_eof(ch, now);
  drain(ch, halves);
  if (rc_chain_queued(ch) != 0)
    abort();
  rc_chain_end(ch);
  rc_chain_free(ch);
  return 0;
}
