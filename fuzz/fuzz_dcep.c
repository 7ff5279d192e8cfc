/*
 * Fuzz target for the data-channel layer (src/transport/webrtc/dcep_msg.c
 * and dcep.c): the input is parsed as one DCEP message (an OPEN that
 * parses must encode back to the same bytes), then cut into records
 * [stream id 2][ppid 1][length 1][bytes] fed as SCTP user messages to a
 * dcep filter (first byte: DTLS role, whether we open the channel, a
 * stream reset between records); what the filter sends down must be a
 * well-formed DCEP message on PPID 50, or a CoAP message on PPID 53 on
 * the channel's stream, or a reset.
 */
#include <stdlib.h>
#include <string.h>

#include "rcoap/transport_dcep.h"
#include "transport/webrtc/sctp_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_check(int cond) {
  if (!cond)
    abort();
}

static rc_err fz_up(void *ctx, const uint8_t *d, size_t n, int flags) {
  (void)ctx, (void)flags;
  fz_check(n > 0 && d != NULL);
  return RC_OK;
}

static rc_err fz_down(void *ctx, const uint8_t *d, size_t n) {
  (void)ctx;
  rc__sctp_meta m;
  const uint8_t *msg;
  size_t len;
  fz_check(rc__sctp_down_view(d, n, &m, &msg, &len) == 0);
  if (m.op == RC__SCTP_RESET)
    return RC_OK;
  rc_dcep_msg dm;
  if (m.ppid == RC_DCEP_PPID_CONTROL)
    fz_check(rc_dcep_parse(msg, len, &dm) == RC_OK);
  else
    fz_check(m.ppid == RC_DCEP_PPID_BINARY && len > 0);
  return RC_OK;
}

static void fz_event(void *ctx, rc_filter_event ev, int arg, const char *d) {
  (void)ctx, (void)ev, (void)arg, (void)d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rc_dcep_msg m;
  if (rc_dcep_parse(data, size, &m) == RC_OK && m.type == RC_DCEP_OPEN) {
    uint8_t *b = malloc(size);
    size_t len = 0;
    fz_check(rc_dcep_encode_open(&m, b, size, &len) == RC_OK);
    fz_check(len == size && memcmp(b, data, size) == 0);
    free(b);
  }
  if (size < 1)
    return 0;
  rc_dcep_config cfg = {.dtls_client = data[0] & 1,
                        .open_channel = (data[0] >> 1) & 1};
  rc_filter_sink sink = {fz_up, fz_down, fz_event, NULL};
  rc_filter *f = NULL;
  fz_check(rc_dcep_filter_new(&f, &cfg, &sink) == RC_OK);
  (void)rc_filter_start(f);
  size_t i = 1;
  uint8_t buf[sizeof(rc__sctp_meta) + 255];
  while (i + 4 <= size) {
    rc__sctp_meta mt;
    memset(&mt, 0, sizeof mt);
    mt.sid = (uint16_t)(data[i] << 8 | data[i + 1]) % 8;
    mt.ppid = data[i + 2];
    mt.op = (data[0] & 4) && data[i + 2] == 0xff ? RC__SCTP_RESET
                                                 : RC__SCTP_DATA;
    size_t n = data[i + 3];
    i += 4;
    if (n > size - i)
      n = size - i;
    memcpy(buf, &mt, sizeof mt);
    memcpy(buf + sizeof mt, data + i, n);
    i += n;
    (void)rc_filter_recv(f, buf, sizeof mt + n);
    static const uint8_t coap[] = {0x01, 0x45, 0x33};
    (void)rc_filter_send(f, coap, sizeof coap, RC_FILTER_MSG_END);
  }
  (void)rc_filter_shutdown(f);
  rc_filter_free(f);
  return 0;
}
