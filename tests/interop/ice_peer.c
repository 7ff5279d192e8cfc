/*
 * ice_peer: the webrtc/ ICE agent, SDP and signaling JSON on a real UDP
 * socket, for test_webrtc_ice_chromium.sh: it answers a real browser's
 * offer and lets the browser's ICE agent connect to ours.
 *
 *   ice_peer BIND_IP SECONDS [offer]
 *
 * Reads one signaling JSON offer ({"type":"offer","sdp":...}) on stdin
 * (one line), binds a UDP socket on BIND_IP (port 0), answers as an
 * ICE-lite, DTLS-passive peer with that socket as its one host candidate
 * and prints the answer as one JSON line. With "offer" it offers instead
 * (controlling full agent, a=setup:actpass, RFC 8841 form), prints the
 * offer as one JSON line and reads the answer on stdin. Then runs the agent until
 * its stdin closes (the driver has seen what it waits for) or, at most,
 * SECONDS pass, printing "state NAME", "selected ADDR:PORT", "first dtls"
 * when the browser's DTLS handshake first reaches us from the selected
 * address (RFC 7983 first byte 20..63) and, at the end, "dtls N" (such
 * datagrams in all). No DTLS is answered: the fingerprint is a dummy, so
 * only ICE is under test.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "transport/webrtc/ice.h"
#include "transport/webrtc/sdp.h"
#include "transport/webrtc/signal_json.h"
#include "transport/webrtc/stun.h"

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *state_name(rc_ice_state s) {
  static const char *n[] = {"new", "checking", "connected", "failed"};
  return n[s];
}

static void print_addr(const char *what, const struct sockaddr *a) {
  char host[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (a->sa_family == AF_INET) {
    const struct sockaddr_in *s4 = (const void *)a;
    inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
    port = ntohs(s4->sin_port);
  } else if (a->sa_family == AF_INET6) {
    const struct sockaddr_in6 *s6 = (const void *)a;
    inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
    port = ntohs(s6->sin6_port);
  }
  printf("%s %s:%u\n", what, host, port);
  fflush(stdout);
}

static int same(const struct sockaddr_storage *a, const struct sockaddr *b) {
  socklen_t n = a->ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                        : sizeof(struct sockaddr_in6);
  return b && a->ss_family == b->sa_family && !memcmp(a, b, n);
}

/* One signaling JSON line from stdin, parsed into d. */
static rc_err read_desc(char *line, size_t cap, char *sdp, size_t sdp_cap,
                        rc_sdp *d) {
  char type[RC_SIGNAL_TYPE_MAX + 1];
  size_t sl;
  if (!fgets(line, (int)cap, stdin))
    return RC_ERR_NOT_FOUND;
  rc_err err = rc_signal_json_parse(line, strcspn(line, "\n"), type, sdp,
                                    sdp_cap, &sl);
  return err ? err : rc_sdp_parse(d, sdp, sl);
}

int main(int argc, char **argv) {
  static char line[4 * RC_SDP_TEXT_MAX], sdp[RC_SDP_TEXT_MAX + 1],
      json[4 * RC_SDP_TEXT_MAX];
  static rc_sdp offer, answer;
  if (argc != 3 && !(argc == 4 && !strcmp(argv[3], "offer"))) {
    fprintf(stderr, "usage: ice_peer BIND_IP SECONDS [offer]\n");
    return 2;
  }
  int offering = argc == 4;
  size_t jl;
  rc_err err;

  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1)
    return 2;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  socklen_t al = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) ||
      getsockname(fd, (struct sockaddr *)&a, &al)) {
    perror("ice_peer: socket");
    return 1;
  }

  char ufrag[9], pwd[33];
  rc_ice_make_credentials(ufrag, pwd);
  uint64_t t0 = now_ms(), end = t0 + (uint64_t)atoi(argv[2]) * 1000;
  rc_sdp_cand c;
  memset(&c, 0, sizeof c);
  strcpy(c.foundation, "1");
  c.component = 1;
  c.priority = (126u << 24) | (65535u << 8) | 255u; /* host, RFC 8445 §5.1.2 */
  memcpy(&c.addr, &a, sizeof a);
  uint8_t fp[RC_SDP_FINGERPRINT_LEN];
  memset(fp, 0xAB, sizeof fp);
  rc_sdp_local l = {ufrag, pwd, fp, RC_SDP_SETUP_PASSIVE, !offering, &c, 1,
                    262144, (uint64_t)t0};
  size_t al2;
  /* Ours (an answer, or with "offer" an offer), and theirs. */
  rc_sdp *ours = offering ? &offer : &answer, *theirs = offering ? &answer : &offer;
  if (offering) {
    err = rc_sdp_offer(&offer, &l);
  } else {
    err = read_desc(line, sizeof line, sdp, sizeof sdp, &offer);
    if (!err)
      err = rc_sdp_answer_for(&answer, &offer, &l);
  }
  if (!err)
    err = rc_sdp_emit(sdp, sizeof sdp, &al2, ours);
  if (!err)
    err = rc_signal_json_emit(json, sizeof json, &jl,
                              offering ? "offer" : "answer", sdp, al2);
  if (err) {
    fprintf(stderr, "ice_peer: %s: %s\n", offering ? "offer" : "answer",
            rc_strerror(err));
    return 1;
  }
  printf("%s\n", json);
  fflush(stdout);
  if (offering && (err = read_desc(line, sizeof line, sdp, sizeof sdp, &answer))) {
    fprintf(stderr, "ice_peer: answer: %s\n", rc_strerror(err));
    return 1;
  }
  fprintf(stderr, "ice_peer: %s: %zu candidates, %zu skipped, %s, setup %d\n",
          offering ? "answer" : "offer", theirs->ncand, theirs->skipped,
          theirs->legacy ? "legacy" : "RFC 8841", (int)theirs->setup);
  rc_ice *ice;
  rc_ice_cfg cfg = {offering, ufrag, pwd, 0};
  if (rc_ice_new(&ice, &cfg, t0) || rc_ice_set_remote(ice, theirs->ice_ufrag, theirs->ice_pwd))
    return 1;
  for (size_t i = 0; i < theirs->ncand; i++)
    rc_ice_add_remote_candidate(ice, (struct sockaddr *)&theirs->cand[i].addr,
                                theirs->cand[i].priority);

  rc_ice_state last = RC_ICE_NEW;
  unsigned dtls = 0, stun = 0;
  int in_open = 1;
  for (uint64_t now = now_ms(); now < end && in_open; now = now_ms()) {
    uint64_t next = rc_ice_next_timeout(ice);
    int wait = next <= now ? 0 : (int)((next < end ? next : end) - now);
    struct pollfd pf[2] = {{fd, POLLIN, 0}, {0, POLLIN, 0}};
    if (poll(pf, 2, wait) > 0 && pf[1].revents) {
      char ch;
      in_open = read(0, &ch, 1) > 0; /* EOF: the driver is done with us */
    }
    if (pf[0].revents & POLLIN) {
      uint8_t buf[2048];
      struct sockaddr_storage from;
      socklen_t fl = sizeof from;
      ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
      now = now_ms();
      if (n > 0 && rc_stun_is(buf, (size_t)n)) {
        stun++;
        rc_ice_recv(ice, now, (struct sockaddr *)&from, buf, (size_t)n);
      } else if (n > 0 && buf[0] >= 20 && buf[0] <= 63 &&
                 same(&from, rc_ice_selected(ice))) {
        if (dtls++ == 0) {
          printf("first dtls\n");
          fflush(stdout);
        }
      }
    }
    rc_ice_timeout(ice, now);
    uint8_t out[640];
    struct sockaddr_storage to;
    size_t n;
    while ((n = rc_ice_pull(ice, now, &to, out, sizeof out)) > 0)
      sendto(fd, out, n, 0, (struct sockaddr *)&to,
             to.ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                     : sizeof(struct sockaddr_in6));
    if (rc_ice_get_state(ice) != last) {
      last = rc_ice_get_state(ice);
      printf("state %s\n", state_name(last));
      if (last == RC_ICE_CONNECTED)
        print_addr("selected", rc_ice_selected(ice));
      fflush(stdout);
    }
  }
  printf("stun %u\ndtls %u\n", stun, dtls);
  rc_ice_free(ice);
  close(fd);
  return 0;
}
