/*
 * wr_offerer: a coaps+wr offerer on 127.0.0.1 for test_webrtc_fingerprint.sh
 * (the transport's rc_wr_* API alone, no app). Writes its offer as one
 * JSON line on stdout, reads the answer's JSON line from stdin (the
 * script carries both to rcoapd's /webrtc), then runs ICE and DTLS toward
 * the answer and waits for the data channel.
 *
 *   wr_offerer [--wrong] [--timeout MS]
 *     --wrong: the offer's a=fingerprint is a second certificate's, not
 *              the one our DTLS shows
 *     --timeout: the connect and handshake deadlines (default 10000)
 *
 * Prints "open" when the channel came up (then closes it), else
 * "closed: <reason>: <detail>". Exit 0: open; 1: closed before; 2: set-up
 * failed (the reason on stderr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rcoap/transport_webrtc.h"

static int g_opened;

static void on_open(void *user, rc_conn *c) {
  (void)user;
  g_opened = 1;
  printf("open\n");
  fflush(stdout);
  rc_conn_close(c, RC_CONN_CLOSE_FLUSH);
}

static int on_message(void *user, rc_conn *c, const rc_msg *m) {
  (void)user;
  (void)c;
  (void)m;
  return 0;
}

static void on_closed(void *user, rc_conn *c, rc_err reason,
                      const char *detail) {
  (void)user;
  (void)c;
  if (!g_opened)
    printf("closed: %s: %s\n", rc_strerror(reason), detail);
  fflush(stdout);
}

int main(int argc, char **argv) {
  int wrong = 0;
  uint32_t tmo = 10000;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--wrong") == 0)
      wrong = 1;
    else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc)
      tmo = (uint32_t)strtoul(argv[++i], NULL, 10);
  }
  static char json[RC_WR_SIGNAL_MAX + 2];
  uv_loop_t loop;
  uv_loop_init(&loop);
  rc_wr_identity id, other;
  memset(&other, 0, sizeof other);
  if (rc_wr_identity_make(&id, NULL) != RC_OK ||
      (wrong && rc_wr_identity_make(&other, NULL) != RC_OK)) {
    fprintf(stderr, "wr_offerer: cannot make a certificate\n");
    return 2;
  }
  rc_wr_offer *o = NULL;
  rc_wr_desc offer, answer;
  size_t len = 0;
  int rc = 2;
  rc_err err = rc_wr_offer_new(&o, &loop, &id, "127.0.0.1", 1, &offer);
  if (err == RC_OK && wrong) /* RFC 8122 §5: the answerer must refuse */
    memcpy(offer.fingerprint, other.fingerprint, sizeof offer.fingerprint);
  if (err == RC_OK)
    err = rc_wr_offer_json(&offer, json, sizeof json, &len);
  if (err != RC_OK) {
    fprintf(stderr, "wr_offerer: offer: %s\n", rc_strerror(err));
    goto out;
  }
  printf("%.*s\n", (int)len, json);
  fflush(stdout);
  if (fgets(json, sizeof json, stdin) == NULL ||
      (err = rc_wr_answer_parse_json(json, strcspn(json, "\n"), &answer)) !=
          RC_OK) {
    fprintf(stderr, "wr_offerer: no usable answer on stdin\n");
    rc_wr_offer_free(o);
    goto out;
  }
  uv_update_time(&loop); /* the loop's clock stood still while we read */
  rc_conn_connect_opts co;
  memset(&co, 0, sizeof co);
  co.loop = &loop;
  co.kind = RC_CONN_WEBRTC;
  co.handshake_timeout_ms = tmo;
  co.connect_timeout_ms = tmo;
  co.cb.on_open = on_open;
  co.cb.on_message = on_message;
  co.cb.on_closed = on_closed;
  rc_conn *c = NULL;
  if ((err = rc_wr_connect(&c, o, &answer, &co)) != RC_OK) {
    fprintf(stderr, "wr_offerer: connect: %s\n", rc_strerror(err));
    goto out;
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  rc = g_opened ? 0 : 1;
out:
  uv_run(&loop, UV_RUN_DEFAULT);
  (void)uv_loop_close(&loop);
  rc_wr_identity_remove(&id);
  rc_wr_identity_remove(&other);
  return rc;
}
