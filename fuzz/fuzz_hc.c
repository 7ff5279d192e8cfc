/*
 * Fuzzes the RFC 8075 mapping of codec_hc.h: the input as an HTTP request
 * target (under "/hc/", and under a one-byte prefix), whose URI result
 * must parse or fail cleanly with rc_uri_parse and must hold no control
 * byte; as a Content-Type and an If-None-Match value; and its first byte
 * as a CoAP code for the status table. Nothing may crash; every output
 * must fit its buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rcoap/codec_hc.h"
#include "rcoap/codec_uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char out[256];
  size_t len = 0;
  uint8_t tag[8];
  const char *s = (const char *)data;
  int k = rc_hc_target(s, size, NULL, out, sizeof out, &len);
  int clean = 1; /* as the HTTP parser leaves a target: no controls */
  for (size_t i = 0; i < size; i++)
    clean &= data[i] > 0x20 && data[i] < 0x7f;
  if (k > 0) {
    if (len >= sizeof out || out[len] != 0 || strlen(out) != len)
      abort();
    if (k == RC_HC_URI && clean) {
      rc_uri u;
      for (size_t i = 0; i < len; i++)
        if ((unsigned char)out[i] < 0x21)
          abort(); /* a decoded escape made a control byte */
      (void)rc_uri_parse(out, len, &u);
    }
  }
  (void)rc_hc_target(s, size, "/", out, 8, &len);
  (void)rc_hc_content_format(s, size);
  (void)rc_hc_etag_in(s, size, tag);
  (void)rc_hc_method(s, size);
  if (size) {
    int st = rc_hc_status(data[0], size & 1, size & 2);
    if (st < 200 || st > 599)
      abort();
    if (rc_hc_etag_out(data + 1, (size - 1) % 9, out, sizeof out) < 0)
      abort();
  }
  return 0;
}
