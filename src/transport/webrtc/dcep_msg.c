/*
 * The Data Channel Establishment Protocol's two messages (RFC 8832 §5):
 * DATA_CHANNEL_OPEN and DATA_CHANNEL_ACK, parsed and encoded on bytes.
 */
#include <string.h>

#include "rcoap/transport_dcep.h"

static int known_channel_type(uint8_t t) {
  switch (t) {
  case RC_DCEP_RELIABLE:
  case RC_DCEP_RELIABLE_UNORDERED:
  case RC_DCEP_PARTIAL_REXMIT:
  case RC_DCEP_PARTIAL_REXMIT_UNORDERED:
  case RC_DCEP_PARTIAL_TIMED:
  case RC_DCEP_PARTIAL_TIMED_UNORDERED:
    return 1;
  default:
    return 0;
  }
}

rc_err rc_dcep_parse(const uint8_t *p, size_t n, rc_dcep_msg *out) {
  memset(out, 0, sizeof *out);
  if (p == NULL || n < 1)
    return RC_ERR_PROTOCOL;
  out->type = p[0];
  if (p[0] == RC_DCEP_ACK)
    return n == RC_DCEP_ACK_LEN ? RC_OK : RC_ERR_PROTOCOL;
  if (p[0] != RC_DCEP_OPEN || n < RC_DCEP_OPEN_FIXED)
    return RC_ERR_PROTOCOL;
  out->channel_type = p[1];
  if (!known_channel_type(p[1]))
    return RC_ERR_PROTOCOL;
  out->priority = (uint16_t)(p[2] << 8 | p[3]);
  out->reliability = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 |
                     (uint32_t)p[6] << 8 | p[7];
  out->label_len = (size_t)(p[8] << 8 | p[9]);
  out->protocol_len = (size_t)(p[10] << 8 | p[11]);
  /* RFC 8832 §5.1: the message ends with the label and the protocol. */
  if (n != RC_DCEP_OPEN_FIXED + out->label_len + out->protocol_len)
    return RC_ERR_PROTOCOL;
  out->label = p + RC_DCEP_OPEN_FIXED;
  out->protocol = out->label + out->label_len;
  return RC_OK;
}

rc_err rc_dcep_encode_open(const rc_dcep_msg *m, uint8_t *buf, size_t cap,
                           size_t *len) {
  if (m->label_len > 0xffff || m->protocol_len > 0xffff)
    return RC_ERR_INVAL;
  size_t n = RC_DCEP_OPEN_FIXED + m->label_len + m->protocol_len;
  if (n > cap)
    return RC_ERR_LIMIT;
  buf[0] = RC_DCEP_OPEN;
  buf[1] = m->channel_type;
  buf[2] = (uint8_t)(m->priority >> 8);
  buf[3] = (uint8_t)m->priority;
  buf[4] = (uint8_t)(m->reliability >> 24);
  buf[5] = (uint8_t)(m->reliability >> 16);
  buf[6] = (uint8_t)(m->reliability >> 8);
  buf[7] = (uint8_t)m->reliability;
  buf[8] = (uint8_t)(m->label_len >> 8);
  buf[9] = (uint8_t)m->label_len;
  buf[10] = (uint8_t)(m->protocol_len >> 8);
  buf[11] = (uint8_t)m->protocol_len;
  if (m->label_len)
    memcpy(buf + RC_DCEP_OPEN_FIXED, m->label, m->label_len);
  if (m->protocol_len)
    memcpy(buf + RC_DCEP_OPEN_FIXED + m->label_len, m->protocol,
           m->protocol_len);
  *len = n;
  return RC_OK;
}

static int is(const rc_dcep_msg *m, const char *s) {
  size_t n = strlen(s);
  return m->protocol_len == n && memcmp(m->protocol, s, n) == 0;
}

int rc_dcep_is_coap(const rc_dcep_msg *m) {
  return m->type == RC_DCEP_OPEN && (is(m, "coap") || is(m, "coap.v1"));
}
