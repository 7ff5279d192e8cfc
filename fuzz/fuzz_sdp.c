/*
 * Fuzz target for src/transport/webrtc/sdp_parse.c, sdp_emit.c and
 * signal_json.c. The input is read as SDP: what parses is emitted,
 * parsed again and must give the same fields, and is answered. The same
 * input is read as signaling JSON: what parses is emitted and read back
 * to the same type and SDP.
 */
#include <stdlib.h>
#include <string.h>

#include "transport/webrtc/sdp.h"
#include "transport/webrtc/signal_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_check(int cond) {
  if (!cond)
    abort();
}

static void sdp_round(const char *text, size_t size) {
  static rc_sdp d, d2, ans;
  static char out[RC_SDP_TEXT_MAX];
  if (rc_sdp_parse(&d, text, size) != RC_OK)
    return;
  fz_check(d.ncand <= RC_SDP_CAND_MAX && d.ice_ufrag[0] && d.ice_pwd[0]);
  size_t len;
  if (d.setup != RC_SDP_SETUP_NONE && d.mid[0] &&
      rc_sdp_emit(out, sizeof out, &len, &d) == RC_OK) {
    fz_check(strlen(out) == len);
    fz_check(rc_sdp_parse(&d2, out, len) == RC_OK);
    fz_check(d2.legacy == d.legacy && d2.setup == d.setup &&
             d2.ncand == d.ncand && d2.sctp_port == d.sctp_port &&
             d2.max_message_size == d.max_message_size &&
             !strcmp(d2.ice_ufrag, d.ice_ufrag) &&
             !strcmp(d2.ice_pwd, d.ice_pwd) && !strcmp(d2.mid, d.mid) &&
             !memcmp(d2.fingerprint, d.fingerprint, sizeof d.fingerprint) &&
             d2.nmedia == d.nmedia && d2.ours == d.ours);
    for (size_t i = 0; i < d.nmedia; i++)
      fz_check(!strcmp(d2.media[i].media, d.media[i].media) &&
               !strcmp(d2.media[i].mid, d.media[i].mid));
    for (size_t i = 0; i < d.ncand; i++)
      fz_check(!memcmp(&d2.cand[i].addr, &d.cand[i].addr, sizeof d.cand[i].addr));
  }
  static const uint8_t fp[RC_SDP_FINGERPRINT_LEN];
  rc_sdp_local l = {"abcd", "0123456789012345678901", fp, RC_SDP_SETUP_ACTIVE,
                    true, d.cand, d.ncand, 0, 1};
  if (rc_sdp_answer_for(&ans, &d, &l) == RC_OK && rc_sdp_emit(out, sizeof out, &len, &ans) == RC_OK)
    fz_check(rc_sdp_parse(&d2, out, len) == RC_OK && d2.legacy == d.legacy &&
             d2.nmedia == d.nmedia && d2.ours == d.ours);
}

static void json_round(const char *text, size_t size) {
  static char sdp[4096], sdp2[4096], json[4 * 4096 + 64];
  char type[RC_SIGNAL_TYPE_MAX + 1], type2[RC_SIGNAL_TYPE_MAX + 1];
  size_t sl, sl2, jl;
  rc_err err = rc_signal_json_parse(text, size, type, sdp, sizeof sdp, &sl);
  if (err) {
    fz_check(err == RC_ERR_PROTOCOL || err == RC_ERR_NOT_FOUND || err == RC_ERR_NOBUF);
    return;
  }
  fz_check(sl < sizeof sdp && sdp[sl] == 0 && strlen(sdp) == sl);
  if (rc_signal_json_emit(json, sizeof json, &jl, type, sdp, sl) != RC_OK)
    return; /* a type with a quote or control character */
  fz_check(rc_signal_json_parse(json, jl, type2, sdp2, sizeof sdp2, &sl2) == RC_OK);
  fz_check(!strcmp(type, type2) && sl2 == sl && !memcmp(sdp, sdp2, sl));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sdp_round((const char *)data, size);
  json_round((const char *)data, size);
  return 0;
}
