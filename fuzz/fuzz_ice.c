/*
 * Fuzz target for src/transport/webrtc/ice.c: a controlled (lite) and a
 * controlling agent, with the credentials of fuzz/seeds/stun_seeds.py,
 * are fed the same scripted datagrams. The input is records: 1 byte
 * source (one of 4 addresses, IPv4, IPv6 and v4-mapped), 2 bytes time
 * step in ms, 2 bytes length, the datagram. After each record everything
 * the agents want to send is pulled and must be valid STUN; the clock
 * only moves forward and the timers are run.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "transport/webrtc/ice.h"
#include "transport/webrtc/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_check(int cond) {
  if (!cond)
    abort();
}

static void drain(rc_ice *ice, uint64_t now) {
  uint8_t buf[640];
  struct sockaddr_storage to;
  size_t n;
  rc_stun_msg m;
  for (int i = 0; i < 64 && (n = rc_ice_pull(ice, now, &to, buf, sizeof buf)); i++)
    fz_check(rc_stun_parse(&m, buf, n) == RC_OK && m.has_fingerprint);
  uint64_t t = rc_ice_next_timeout(ice);
  if (t != UINT64_MAX && t > now)
    rc_ice_timeout(ice, t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct sockaddr_storage src[4];
  memset(src, 0, sizeof src);
  struct sockaddr_in *a0 = (void *)&src[0], *a1 = (void *)&src[1];
  struct sockaddr_in6 *a2 = (void *)&src[2], *a3 = (void *)&src[3];
  a0->sin_family = a1->sin_family = AF_INET;
  a0->sin_port = htons(40000), a1->sin_port = htons(40001);
  inet_pton(AF_INET, "10.77.0.1", &a0->sin_addr);
  inet_pton(AF_INET, "10.77.0.2", &a1->sin_addr);
  a2->sin6_family = a3->sin6_family = AF_INET6;
  a2->sin6_port = a3->sin6_port = htons(40000);
  inet_pton(AF_INET6, "2001:db8::1", &a2->sin6_addr);
  inet_pton(AF_INET6, "::ffff:10.77.0.1", &a3->sin6_addr);

  rc_ice *ice[2];
  uint64_t now = 1000;
  for (int r = 0; r < 2; r++) {
    /* An input of odd length makes the controlled agent a full one
     * (behind a NAT: it sends checks too). */
    rc_ice_cfg cfg = {r, "LOCL", "localpasswordlocalpass00", (int)(size & 1)};
    fz_check(rc_ice_new(&ice[r], &cfg, now) == RC_OK);
    fz_check(rc_ice_set_remote(ice[r], "REMT", "remotepasswordremotepass") ==
             RC_OK);
    rc_ice_add_remote_candidate(ice[r], (struct sockaddr *)&src[r], 100);
  }
  while (size >= 5) {
    const struct sockaddr *from = (const struct sockaddr *)&src[data[0] & 3];
    now += (uint64_t)(data[1] << 8 | data[2]);
    size_t n = (size_t)(data[3] << 8 | data[4]);
    data += 5, size -= 5;
    if (n > size)
      n = size;
    for (int r = 0; r < 2; r++) {
      rc_err err = rc_ice_recv(ice[r], now, from, data, n);
      fz_check(err == RC_OK || err == RC_ERR_PROTOCOL ||
               err == RC_ERR_STUN_AUTH || err == RC_ERR_STATE);
      const struct sockaddr *sel = rc_ice_selected(ice[r]);
      fz_check(!sel || sel->sa_family == AF_INET || sel->sa_family == AF_INET6);
      drain(ice[r], now);
    }
    data += n, size -= n;
  }
  rc_ice_free(ice[0]);
  rc_ice_free(ice[1]);
  return 0;
}
