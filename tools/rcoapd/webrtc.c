/*
 * /webrtc: signaling for coaps+wr over any transport rcoapd serves. A
 * POST of {"type":"offer","sdp":...} (application/json) is answered 2.05
 * with {"type":"answer","sdp":...}: rcoapd is the ICE-lite, DTLS-client
 * answerer on its coaps+wr UDP port (rc_context_webrtc_answer).
 */
#include <stdio.h>
#include <string.h>

#include "rcoap/codec_option.h"
#include "rcoap/transport_webrtc.h"
#include "webrtc.h"

/* RFC 7252 §12.3: application/json. */
#define CF_JSON 50

static void on_offer(rc_context *ctx, rc_resource *res, rc_xreq *req,
                     void *user) {
  (void)res;
  (void)user;
  const rc_msg *m = rc_xreq_msg(req);
  int cf = rc_msg_content_format(m);
  if (cf != CF_JSON) {
    static const char why[] = "send the offer as application/json (50)";
    rc_respond(req, RC_UNSUPPORTED_CONTENT_FORMAT, 0, why, sizeof why - 1);
    return;
  }
  static char answer[RC_WR_SIGNAL_MAX];
  size_t len = 0;
  rc_err err = rc_context_webrtc_answer(ctx, m->payload, m->payload_len,
                                        answer, sizeof answer, &len);
  if (err == RC_OK) {
    rc_respond(req, RC_CONTENT, CF_JSON, answer, len);
    return;
  }
  /* The transport's sentence when it gave one (answer holds it). */
  const char *text = len > 0 ? answer : rc_strerror(err);
  size_t tl = len > 0 ? len : strlen(text);
  char why[200];
  int n = snprintf(why, sizeof why, "cannot answer the offer: %.*s",
                   (int)(tl > 150 ? 150 : tl), text);
  uint8_t code = err == RC_ERR_LIMIT || err == RC_ERR_NOMEM
                     ? RC_SERVICE_UNAVAILABLE
                     : RC_BAD_REQUEST;
  rc_respond(req, code, 0, why, (size_t)n);
}

rc_err webrtc_resource_add(rc_context *ctx) {
  rc_resource *r;
  rc_err err = rc_resource_add(ctx, "/webrtc", 0, NULL, &r);
  if (err)
    return err;
  rc_resource_on(r, RC_POST, on_offer);
  return rc_resource_attr(r, "title", "POST a WebRTC offer (JSON)", 1);
}
