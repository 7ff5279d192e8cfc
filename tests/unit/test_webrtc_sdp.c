/*
 * Tests for the data-channel SDP (src/transport/webrtc/sdp_parse.c,
 * sdp_emit.c) and the signaling JSON (signal_json.c) against real offers
 * and answers from Chromium 156 (mDNS on and off), aiortc 1.4 (legacy
 * SCTP SDP), werift 0.24 and node-datachannel 0.33 (and Chromium offers
 * with audio and video sections, gathered and trickling), captured by
 * tests/unit/vectors/sdp/capture.sh:
 * each is parsed (fields checked against what the file says), emitted,
 * parsed again (same fields), answered, and carried through the JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>

#include "transport/webrtc/sdp.h"
#include "transport/webrtc/signal_json.h"

static char g_dir[512];

typedef struct vec {
  const char *file;
  bool legacy;
  rc_sdp_setup setup;
  uint32_t mms;
  size_t ncand, skipped;
  const char *ip; /* first candidate, NULL if none */
  bool trickle;
} vec;

static const vec VECS[] = {
    {"chromium-offer.sdp", false, RC_SDP_SETUP_ACTPASS, 262144, 1, 0, "10.77.0.1", true},
    {"chromium-offer-mdns.sdp", false, RC_SDP_SETUP_ACTPASS, 262144, 0, 1, NULL, true},
    {"chromium-answer-to-chromium.sdp", false, RC_SDP_SETUP_ACTIVE, 262144, 1, 0, "10.77.0.1", true},
    {"aiortc-offer-legacy.sdp", true, RC_SDP_SETUP_ACTPASS, 65536, 1, 0, "10.77.0.1", false},
    /* Chromium answers a legacy offer in the legacy form, without
     * max-message-size: the RFC 8841 default applies. */
    {"chromium-answer-to-aiortc-legacy.sdp", true, RC_SDP_SETUP_ACTIVE, 65536, 1, 0, "10.77.0.1", true},
    {"aiortc-answer-to-chromium.sdp", false, RC_SDP_SETUP_ACTIVE, 65536, 1, 0, "10.77.0.1", false},
    {"werift-offer.sdp", false, RC_SDP_SETUP_ACTPASS, 65536, 1, 0, "10.77.0.1", true},
    {"chromium-answer-to-werift.sdp", false, RC_SDP_SETUP_ACTIVE, 65536, 1, 0, "10.77.0.1", true},
    {"werift-answer-to-chromium.sdp", false, RC_SDP_SETUP_ACTIVE, 65536, 1, 0, "10.77.0.1", true},
    /* libdatachannel puts the fingerprint and ice-options at session
     * level, separates ice-options with a comma ("ice2,trickle") and
     * writes "UDP" in capitals. */
    {"node-datachannel-offer.sdp", false, RC_SDP_SETUP_ACTPASS, 262144, 1, 0, "10.77.0.1", true},
    {"chromium-answer-to-node-datachannel.sdp", false, RC_SDP_SETUP_ACTIVE, 262144, 1, 0, "10.77.0.1", true},
    {"node-datachannel-answer-to-chromium.sdp", false, RC_SDP_SETUP_ACTIVE, 262144, 1, 0, "10.77.0.1", true},
};

static size_t load(const char *name, char *buf, size_t cap) {
  char path[700];
  snprintf(path, sizeof path, "%s/vectors/sdp/%s", g_dir, name);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  size_t n = fread(buf, 1, cap - 1, f);
  fclose(f);
  buf[n] = 0;
  return n;
}

/* The value of "a=<attr>:" in text, into out. */
static void attr(const char *text, const char *name, char *out, size_t cap) {
  char key[64];
  snprintf(key, sizeof key, "a=%s:", name);
  const char *p = strstr(text, key);
  assert_non_null(p);
  p += strlen(key);
  size_t n = strcspn(p, "\r\n");
  assert_true(n < cap);
  memcpy(out, p, n);
  out[n] = 0;
}

static void same(const rc_sdp *a, const rc_sdp *b) {
  assert_int_equal(a->legacy, b->legacy);
  assert_string_equal(a->mid, b->mid);
  assert_string_equal(a->ice_ufrag, b->ice_ufrag);
  assert_string_equal(a->ice_pwd, b->ice_pwd);
  assert_int_equal(a->ice_lite, b->ice_lite);
  assert_int_equal(a->ice_trickle, b->ice_trickle);
  assert_int_equal(a->setup, b->setup);
  assert_memory_equal(a->fingerprint, b->fingerprint, sizeof a->fingerprint);
  assert_int_equal(a->sctp_port, b->sctp_port);
  assert_int_equal(a->max_message_size, b->max_message_size);
  assert_int_equal(a->ncand, b->ncand);
  assert_int_equal(a->media_port, b->media_port);
  assert_true(a->session_id == b->session_id);
  for (size_t i = 0; i < a->ncand; i++) {
    assert_string_equal(a->cand[i].foundation, b->cand[i].foundation);
    assert_int_equal(a->cand[i].priority, b->cand[i].priority);
    assert_int_equal(a->cand[i].type, b->cand[i].type);
    assert_memory_equal(&a->cand[i].addr, &b->cand[i].addr, sizeof a->cand[i].addr);
  }
}

static void test_vectors_roundtrip(void **st) {
  (void)st;
  static char text[RC_SDP_TEXT_MAX + 1], out[RC_SDP_TEXT_MAX];
  static rc_sdp d, d2;
  for (size_t v = 0; v < sizeof VECS / sizeof *VECS; v++) {
    const vec *w = &VECS[v];
    size_t n = load(w->file, text, sizeof text);
    assert_int_equal(rc_sdp_parse(&d, text, n), RC_OK);
    assert_int_equal(d.legacy, w->legacy);
    assert_int_equal(d.setup, w->setup);
    assert_int_equal(d.max_message_size, w->mms);
    assert_int_equal(d.ncand, w->ncand);
    assert_int_equal(d.skipped, w->skipped);
    assert_int_equal(d.ice_trickle, w->trickle);
    assert_int_equal(d.sctp_port, 5000);
    assert_string_equal(d.mid, "0");
    assert_false(d.ice_lite);
    /* Field values as the file has them. */
    char val[300], fp[100];
    attr(text, "ice-ufrag", val, sizeof val);
    assert_string_equal(d.ice_ufrag, val);
    attr(text, "ice-pwd", val, sizeof val);
    assert_string_equal(d.ice_pwd, val);
    attr(text, "fingerprint", val, sizeof val);
    for (size_t i = 0; i < 32; i++)
      snprintf(fp + 3 * i, 4, "%02X%s", d.fingerprint[i], i < 31 ? ":" : "");
    assert_string_equal(val + strlen("sha-256 "), fp);
    if (w->ip) {
      char ip[64];
      const struct sockaddr_in *s4 = (const void *)&d.cand[0].addr;
      assert_int_equal(s4->sin_family, AF_INET);
      inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
      assert_string_equal(ip, w->ip);
      char port[16];
      snprintf(port, sizeof port, " %u typ host", ntohs(s4->sin_port));
      assert_non_null(strstr(text, port));
    }
    /* emit -> parse gives the same description. */
    size_t len;
    assert_int_equal(rc_sdp_emit(out, sizeof out, &len, &d), RC_OK);
    assert_int_equal(strlen(out), len);
    assert_int_equal(rc_sdp_parse(&d2, out, len), RC_OK);
    same(&d, &d2);
    /* Every shorter buffer is refused, never overrun. */
    for (size_t cap = 0; cap < len + 1; cap += 7)
      assert_int_equal(rc_sdp_emit(out, cap, &len, &d), RC_ERR_NOBUF);
  }
}

static void test_answers(void **st) {
  (void)st;
  static char text[RC_SDP_TEXT_MAX + 1], out[RC_SDP_TEXT_MAX];
  static rc_sdp offer, ans, back;
  uint8_t fp[32];
  for (int i = 0; i < 32; i++)
    fp[i] = (uint8_t)(i * 7);
  rc_sdp_cand c[2];
  memset(c, 0, sizeof c);
  strcpy(c[0].foundation, "1");
  c[0].component = 1;
  c[0].priority = 2130706431u;
  struct sockaddr_in *s4 = (void *)&c[0].addr;
  s4->sin_family = AF_INET;
  s4->sin_port = htons(5684);
  inet_pton(AF_INET, "10.77.0.1", &s4->sin_addr);
  strcpy(c[1].foundation, "2");
  c[1].component = 1;
  c[1].priority = 2130706175u;
  struct sockaddr_in6 *s6 = (void *)&c[1].addr;
  s6->sin6_family = AF_INET6;
  s6->sin6_port = htons(5684);
  inet_pton(AF_INET6, "2001:db8::7", &s6->sin6_addr);
  rc_sdp_local l = {"abcdEFGH", "0123456789abcdef0123456789ABCDEF", fp,
                    RC_SDP_SETUP_PASSIVE, true, c, 2, 262144, 42};
  const char *offers[] = {"chromium-offer.sdp", "chromium-offer-mdns.sdp",
                          "aiortc-offer-legacy.sdp", "werift-offer.sdp",
                          "node-datachannel-offer.sdp"};
  for (size_t k = 0; k < sizeof offers / sizeof *offers; k++) {
    size_t n = load(offers[k], text, sizeof text);
    assert_int_equal(rc_sdp_parse(&offer, text, n), RC_OK);
    assert_int_equal(rc_sdp_answer_for(&ans, &offer, &l), RC_OK);
    size_t len;
    assert_int_equal(rc_sdp_emit(out, sizeof out, &len, &ans), RC_OK);
    /* The form follows the offer; we are lite and passive as told. */
    assert_true((strstr(out, "m=application 5684 DTLS/SCTP 5000\r\n") != NULL) ==
                offer.legacy);
    assert_true((strstr(out, "a=sctpmap:5000 webrtc-datachannel") != NULL) ==
                offer.legacy);
    assert_true((strstr(out, "a=sctp-port:5000\r\n") != NULL) == !offer.legacy);
    assert_non_null(strstr(out, "\r\na=ice-lite\r\n"));
    assert_non_null(strstr(out, "\r\na=setup:passive\r\n"));
    assert_non_null(strstr(out, "\r\na=max-message-size:262144\r\n"));
    assert_non_null(strstr(out, "\r\na=fingerprint:sha-256 00:07:0E:15:"));
    assert_non_null(strstr(out, "\r\na=candidate:2 1 udp 2130706175 2001:db8::7 5684 typ host\r\n"));
    assert_non_null(strstr(out, "\r\nc=IN IP4 10.77.0.1\r\n"));
    assert_int_equal(rc_sdp_parse(&back, out, len), RC_OK);
    same(&ans, &back);
    assert_true(back.ice_lite);
    assert_int_equal(back.ncand, 2);
  }
  /* Setup follows the offer when it is not actpass (RFC 8842 §5.3). */
  offer.setup = RC_SDP_SETUP_ACTIVE;
  assert_int_equal(rc_sdp_answer_for(&ans, &offer, &l), RC_OK);
  assert_int_equal(ans.setup, RC_SDP_SETUP_PASSIVE);
  offer.setup = RC_SDP_SETUP_PASSIVE;
  assert_int_equal(rc_sdp_answer_for(&ans, &offer, &l), RC_OK);
  assert_int_equal(ans.setup, RC_SDP_SETUP_ACTIVE);
  offer.setup = RC_SDP_SETUP_ACTPASS;
  l.setup = RC_SDP_SETUP_ACTPASS;
  assert_int_equal(rc_sdp_answer_for(&ans, &offer, &l), RC_ERR_INVAL);
  /* Our own offer reads back as an actpass RFC 8841 offer. */
  assert_int_equal(rc_sdp_offer(&offer, &l), RC_OK);
  size_t len;
  assert_int_equal(rc_sdp_emit(out, sizeof out, &len, &offer), RC_OK);
  assert_int_equal(rc_sdp_parse(&back, out, len), RC_OK);
  assert_int_equal(back.setup, RC_SDP_SETUP_ACTPASS);
  assert_false(back.legacy);
  same(&offer, &back);
}

/* A full agent's answer behind a NAT: no a=ice-lite, a srflx candidate
 * with rel-addr and rel-port (RFC 8839 §5.1), read back as srflx. */
static void test_srflx_answer(void **st) {
  (void)st;
  static char text[RC_SDP_TEXT_MAX + 1], out[RC_SDP_TEXT_MAX];
  static rc_sdp offer, ans, back;
  uint8_t fp[32] = {1};
  rc_sdp_cand c[2];
  memset(c, 0, sizeof c);
  const char *ip[2] = {"10.0.0.2", "192.0.2.1"};
  for (int i = 0; i < 2; i++) {
    c[i].foundation[0] = (char)('1' + i);
    c[i].component = 1;
    c[i].priority = i ? 1694498815u : 2130706431u;
    c[i].type = i ? RC_SDP_CAND_SRFLX : RC_SDP_CAND_HOST;
    struct sockaddr_in *s4 = (void *)&c[i].addr;
    s4->sin_family = AF_INET;
    s4->sin_port = htons(40000);
    inet_pton(AF_INET, ip[i], &s4->sin_addr);
  }
  rc_sdp_local l = {"abcdEFGH", "0123456789abcdef0123456789ABCDEF", fp,
                    RC_SDP_SETUP_ACTIVE, false, c, 2, 262144, 42};
  size_t n = load("chromium-offer.sdp", text, sizeof text);
  assert_int_equal(rc_sdp_parse(&offer, text, n), RC_OK);
  assert_int_equal(rc_sdp_answer_for(&ans, &offer, &l), RC_OK);
  size_t len;
  assert_int_equal(rc_sdp_emit(out, sizeof out, &len, &ans), RC_OK);
  assert_null(strstr(out, "a=ice-lite"));
  assert_non_null(strstr(out, "\r\na=candidate:1 1 udp 2130706431 10.0.0.2 "
                              "40000 typ host\r\n"));
  assert_non_null(strstr(out, "\r\na=candidate:2 1 udp 1694498815 192.0.2.1 "
                              "40000 typ srflx raddr 0.0.0.0 rport 0\r\n"));
  assert_int_equal(rc_sdp_parse(&back, out, len), RC_OK);
  assert_false(back.ice_lite);
  assert_int_equal(back.ncand, 2);
  assert_int_equal(back.cand[1].type, RC_SDP_CAND_SRFLX);
  same(&ans, &back);
}

static void test_bad_sdp(void **st) {
  (void)st;
  static char text[RC_SDP_TEXT_MAX + 1], mod[RC_SDP_TEXT_MAX + 64];
  static rc_sdp d;
  size_t n = load("chromium-offer.sdp", text, sizeof text);
  /* Every prefix either parses or fails with RC_ERR_SDP; never more. */
  for (size_t k = 0; k < n; k++) {
    rc_err err = rc_sdp_parse(&d, text, k);
    assert_true(err == RC_OK || err == RC_ERR_SDP);
  }
  struct {
    const char *from, *to;
  } cuts[] = {
      {"a=ice-ufrag:", "a=x-ufrag:"},             /* no ufrag */
      {"a=fingerprint:sha-256", "a=fingerprint:sha-1"}, /* no sha-256 */
      {"webrtc-datachannel", "webrtc-datachanne1"},   /* no data channel */
      {"a=setup:actpass", "a=setup:holdconn"},
      {"a=sctp-port:5000", "a=sctp-port:70000"},
      {" 2113937151 ", " 99999999999 "},
  };
  for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
    const char *p = strstr(text, cuts[i].from);
    assert_non_null(p);
    size_t at = (size_t)(p - text), fl = strlen(cuts[i].from), tl = strlen(cuts[i].to);
    memcpy(mod, text, at);
    memcpy(mod + at, cuts[i].to, tl);
    memcpy(mod + at + tl, text + at + fl, n - at - fl);
    assert_int_equal(rc_sdp_parse(&d, mod, n - fl + tl), RC_ERR_SDP);
  }
  assert_int_equal(rc_sdp_parse(&d, text, RC_SDP_TEXT_MAX + 1), RC_ERR_TOO_LARGE);
  /* LF-only lines and a TCP candidate: still read, the TCP one skipped. */
  const char *lf = "v=0\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\n"
                   "a=ice-ufrag:abcd\na=ice-pwd:0123456789012345678901\n"
                   "a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:"
                   "CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\n"
                   "a=candidate:1 1 tcp 1 10.0.0.1 9 typ host tcptype active\n"
                   "a=candidate:2 1 UDP 7 fe80::1 4444 typ host\n";
  assert_int_equal(rc_sdp_parse(&d, lf, strlen(lf)), RC_OK);
  assert_int_equal(d.ncand, 1);
  assert_int_equal(d.skipped, 1);
  assert_int_equal(d.setup, RC_SDP_SETUP_NONE);
  assert_int_equal(d.fingerprint[15], 0xFF);
}

/* Position of needle in hay (must be there). */
static size_t at(const char *hay, const char *needle) {
  const char *p = strstr(hay, needle);
  if (p == NULL)
    fail_msg("\"%s\" not in:\n%s", needle, hay);
  return (size_t)(p - hay);
}

/* Chromium offers with an audio and a video section before the data
 * channel (a page with media transceivers): read, answered with both
 * rejected in place (RFC 3264 §6) and out of the BUNDLE group; the same
 * offer read at once after setLocalDescription (trickle, no candidate). */
static void test_media_sections(void **st) {
  (void)st;
  static char text[RC_SDP_TEXT_MAX + 1], out[RC_SDP_TEXT_MAX], mod[RC_SDP_TEXT_MAX + 1];
  static rc_sdp offer, ans, back;
  uint8_t fp[32] = {1};
  rc_sdp_cand c;
  memset(&c, 0, sizeof c);
  strcpy(c.foundation, "1");
  c.component = 1;
  c.priority = 2130706431u;
  struct sockaddr_in *s4 = (void *)&c.addr;
  s4->sin_family = AF_INET;
  s4->sin_port = htons(5684);
  inet_pton(AF_INET, "10.77.0.1", &s4->sin_addr);
  rc_sdp_local l = {"abcdEFGH", "0123456789abcdef0123456789ABCDEF", fp,
                    RC_SDP_SETUP_ACTIVE, true, &c, 1, 262144, 42};
  const char *files[] = {"chromium-offer-av-data.sdp", "chromium-offer-av-data-trickle.sdp"};
  for (size_t k = 0; k < 2; k++) {
    size_t n = load(files[k], text, sizeof text);
    assert_int_equal(rc_sdp_parse(&offer, text, n), RC_OK);
    assert_int_equal(offer.nmedia, 3);
    assert_int_equal(offer.ours, 2);
    assert_string_equal(offer.mid, "2");
    assert_string_equal(offer.media[0].media, "audio");
    assert_string_equal(offer.media[0].proto, "UDP/TLS/RTP/SAVPF");
    assert_string_equal(offer.media[0].fmt, "111");
    assert_string_equal(offer.media[0].mid, "0");
    assert_string_equal(offer.media[1].media, "video");
    assert_string_equal(offer.media[1].fmt, "96");
    assert_string_equal(offer.media[1].mid, "1");
    assert_true(offer.ice_trickle);
    assert_false(offer.end_of_candidates);
    /* Gathered: the data section's own candidate (not audio's or
     * video's); trickling: none, port 9. */
    assert_int_equal(offer.ncand, k == 0 ? 1 : 0);
    if (k == 0) {
      char line[64];
      snprintf(line, sizeof line, "m=application %u ", offer.media_port);
      assert_int_equal(ntohs(((struct sockaddr_in *)&offer.cand[0].addr)->sin_port),
                       offer.media_port);
      at(text, line);
    } else {
      assert_int_equal(offer.media_port, 9);
    }
    assert_int_equal(rc_sdp_answer_for(&ans, &offer, &l), RC_OK);
    size_t len;
    assert_int_equal(rc_sdp_emit(out, sizeof out, &len, &ans), RC_OK);
    size_t g = at(out, "\r\na=group:BUNDLE 2\r\n"),
           a = at(out, "\r\nm=audio 0 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n"),
           v = at(out, "\r\nm=video 0 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n"),
           d = at(out, "\r\nm=application 5684 UDP/DTLS/SCTP webrtc-datachannel\r\n"),
           m = at(out, "\r\na=mid:2\r\n");
    assert_true(g < a && a < v && v < d && d < m);
    size_t lines = 0;
    for (const char *p = out; (p = strstr(p, "\nm=")) != NULL; p++)
      lines++;
    assert_int_equal(lines, 3); /* RFC 3264 §6: as many m= lines */
    assert_int_equal(rc_sdp_parse(&back, out, len), RC_OK);
    same(&ans, &back);
    assert_int_equal(back.nmedia, 3);
    assert_int_equal(back.ours, 2);
    assert_string_equal(back.media[1].mid, "1");
  }
  /* No data-channel section (the audio and video ones only): refused,
   * saying so. */
  size_t n = load("chromium-offer-av-data.sdp", text, sizeof text);
  size_t cut = at(text, "m=application");
  assert_int_equal(rc_sdp_parse(&offer, text, cut), RC_ERR_SDP);
  assert_non_null(offer.why);
  assert_non_null(strstr(offer.why, "no data-channel section"));
  /* A second data-channel section after ours is rejected like media. */
  memcpy(mod, text, n);
  const char extra[] = "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:3\r\n";
  memcpy(mod + n, extra, sizeof extra - 1);
  assert_int_equal(rc_sdp_parse(&offer, mod, n + sizeof extra - 1), RC_OK);
  assert_int_equal(offer.nmedia, 4);
  assert_int_equal(offer.ours, 2);
  size_t len;
  assert_int_equal(rc_sdp_answer_for(&ans, &offer, &l), RC_OK);
  assert_int_equal(rc_sdp_emit(out, sizeof out, &len, &ans), RC_OK);
  assert_true(at(out, "a=mid:2\r\n") <
              at(out, "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:3\r\n"));
  /* More m-sections than RC_SDP_MEDIA_MAX: refused, not overrun. */
  size_t ml = 0;
  for (int i = 0; i < RC_SDP_MEDIA_MAX; i++)
    ml += (size_t)snprintf(mod + ml, sizeof mod - ml, "m=audio 9 RTP/AVP 0\r\na=mid:a%d\r\n", i);
  ml += (size_t)snprintf(mod + ml, sizeof mod - ml, "%s", text + cut);
  assert_int_equal(rc_sdp_parse(&offer, mod, ml), RC_ERR_SDP);
  assert_non_null(strstr(offer.why, "more m-sections"));
  /* A malformed m= line of another section. */
  const char *badm = "v=0\r\nm=audio\r\n";
  assert_int_equal(rc_sdp_parse(&offer, badm, strlen(badm)), RC_ERR_SDP);
}

static void test_signal_json(void **st) {
  (void)st;
  static char text[RC_SDP_TEXT_MAX + 1], json[2 * RC_SDP_TEXT_MAX],
      sdp[RC_SDP_TEXT_MAX + 1];
  char type[RC_SIGNAL_TYPE_MAX + 1];
  size_t n = load("chromium-offer.sdp", text, sizeof text), jl, sl;
  assert_int_equal(rc_signal_json_emit(json, sizeof json, &jl, "offer", text, n),
                   RC_OK);
  assert_non_null(strstr(json, "s=-\\r\\nt=0 0\\r\\n"));
  assert_int_equal(rc_signal_json_parse(json, jl, type, sdp, sizeof sdp, &sl), RC_OK);
  assert_string_equal(type, "offer");
  assert_int_equal(sl, n);
  assert_memory_equal(sdp, text, n);
  /* What a browser's JSON.stringify gives, with other members and
   * escapes (\u, \/, a surrogate pair). */
  const char *j = " {\"sdp\": \"v=0\\r\\na=x:\\u00e9\\/\\ud83d\\ude00\\\"\", "
                  "\"extra\": [1, {\"a\": null}, true, -2.5e3], "
                  "\"type\": \"answer\"} ";
  assert_int_equal(rc_signal_json_parse(j, strlen(j), type, sdp, sizeof sdp, &sl), RC_OK);
  assert_string_equal(type, "answer");
  assert_string_equal(sdp, "v=0\r\na=x:\xc3\xa9/\xf0\x9f\x98\x80\"");
  /* Refused. */
  const char *bad[] = {
      "", "{", "{\"type\":\"offer\"}", "{\"type\":\"offer\",\"sdp\":\"a\"} x",
      "{\"type\":\"offer\",\"sdp\":\"a\\q\"}", "{\"type\":\"offer\",\"sdp\":\"\\ud800\"}",
      "{\"type\":\"offer\",\"sdp\":\"\\u0000\"}", "{\"type\":\"offer\",\"sdp\":\"a\nb\"}",
      "{\"type\":\"offer\",\"sdp\":\"a\",}", "[[[[[[[[[[[[[[[[[[[[",
      "{\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],"
      "\"type\":\"offer\",\"sdp\":\"a\"}",
      "{\"type\":\"offeroffferofferoffer\",\"sdp\":\"a\"}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    rc_err err = rc_signal_json_parse(bad[i], strlen(bad[i]), type, sdp, sizeof sdp, &sl);
    assert_true(err == RC_ERR_PROTOCOL || err == RC_ERR_NOT_FOUND || err == RC_ERR_NOBUF);
  }
  /* Too small for the SDP. */
  assert_int_equal(rc_signal_json_parse(json, jl, type, sdp, 100, &sl), RC_ERR_NOBUF);
  assert_int_equal(rc_signal_json_emit(json, 50, &jl, "offer", text, n), RC_ERR_NOBUF);
  assert_int_equal(rc_signal_json_emit(json, sizeof json, &jl, "of\"fer", text, n),
                   RC_ERR_INVAL);
  /* Control bytes are escaped and come back. */
  const char ctl[] = "a\x01\tb\\\"";
  assert_int_equal(rc_signal_json_emit(json, sizeof json, &jl, "offer", ctl, sizeof ctl - 1),
                   RC_OK);
  assert_non_null(strstr(json, "a\\u0001\\tb\\\\\\\""));
  assert_int_equal(rc_signal_json_parse(json, jl, type, sdp, sizeof sdp, &sl), RC_OK);
  assert_string_equal(sdp, ctl);
}

int main(void) {
  char src[512];
  snprintf(src, sizeof src, "%s", __FILE__);
  snprintf(g_dir, sizeof g_dir, "%s", dirname(src));
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vectors_roundtrip),
      cmocka_unit_test(test_answers),
      cmocka_unit_test(test_srflx_answer),
      cmocka_unit_test(test_bad_sdp),
      cmocka_unit_test(test_media_sections),
      cmocka_unit_test(test_signal_json),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
