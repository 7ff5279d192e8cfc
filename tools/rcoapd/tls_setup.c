/*
 * rcoapd's server TLS context. Without --cert it makes a self-signed demo
 * certificate (EC P-256, names localhost, 127.0.0.1 and ::1) in the state
 * folder on first start, reuses it afterwards, and prints its path and
 * SHA-256 fingerprint so that a client can trust it with --cafile. With
 * --psk-key and no --cert it loads no certificate at all: a demo
 * certificate beside the PSK would let in any client that trusts it (or
 * skips verification) without knowing the key.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tls_setup.h"

/* mkdir -p with mode 0700 for the folders it creates. */
static int make_dirs(const char *path) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
    return -1;
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = 0;
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
      return -1;
    *p = '/';
  }
  if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
    return -1;
  return 0;
}

static const char *state_dir(const rcoapd_opts *o, char *buf, size_t cap) {
  if (o->state_dir)
    return o->state_dir;
  const char *env = getenv("RCOAPD_STATE_DIR");
  if (env && *env)
    return env;
  const char *home = getenv("HOME");
  snprintf(buf, cap, "%s/.local/state/rcoapd", home && *home ? home : ".");
  return buf;
}

static int demo_cert(const rcoapd_opts *o, char *cert, char *key,
                     size_t cap) {
  char dbuf[4096];
  const char *dir = state_dir(o, dbuf, sizeof dbuf);
  if (make_dirs(dir) != 0) {
    fprintf(stderr, "rcoapd: cannot create state folder %s: %s\n", dir,
            strerror(errno));
    return -1;
  }
  snprintf(cert, cap, "%s/demo-cert.pem", dir);
  snprintf(key, cap, "%s/demo-key.pem", dir);
  int made = 0;
  if (access(cert, R_OK) != 0 || access(key, R_OK) != 0) {
    rc_err err = rc_tls_make_self_signed(cert, key, "localhost");
    if (err) {
      fprintf(stderr, "rcoapd: cannot create the demo certificate in %s: %s\n",
              dir, rc_strerror(err));
      return -1;
    }
    made = 1;
  }
  uint8_t fp[RC_TLS_FINGERPRINT_LEN];
  char hex[RC_TLS_FINGERPRINT_HEX_LEN];
  static int told; /* once, for the TLS and the DTLS context */
  if (!told++ && rc_tls_fingerprint_file(cert, fp) == RC_OK) {
    rc_tls_fingerprint_hex(fp, hex);
    printf("rcoapd: TLS: %s self-signed demo certificate %s\n"
           "rcoapd: TLS: SHA-256 fingerprint %s\n"
           "rcoapd: TLS: clients can trust it with: rcoap --cafile %s\n",
           made ? "created" : "using", cert, hex, cert);
  }
  return 0;
}

/* --psk-keys-file: one key per identity ("IDENTITY KEY" lines), read
 * once for the TLS and the DTLS context. */
#define PSK_KEYS_MAX 256
typedef struct psk_entry {
  char id[RC_TLS_MAX_PSK_IDENTITY + 1];
  char key[128];
} psk_entry;
static psk_entry g_psk[PSK_KEYS_MAX];
static size_t g_npsk;

static int psk_keys_load(const char *file) {
  if (g_npsk)
    return 0;
  FILE *f = fopen(file, "r");
  if (!f) {
    fprintf(stderr, "rcoapd: --psk-keys-file %s: %s\n", file, strerror(errno));
    return -1;
  }
  char line[512];
  unsigned no = 0;
  int bad = 0;
  while (!bad && fgets(line, sizeof line, f)) {
    no++;
    line[strcspn(line, "\r\n")] = 0;
    char *id = line + strspn(line, " \t");
    if (!*id || *id == '#')
      continue;
    size_t il = strcspn(id, " \t");
    char *key = id + il + strspn(id + il, " \t");
    key[strcspn(key, " \t")] = 0;
    bad = il == 0 || il > RC_TLS_MAX_PSK_IDENTITY || !*key ||
          strlen(key) >= sizeof g_psk[0].key || g_npsk == PSK_KEYS_MAX;
    if (!bad) {
      snprintf(g_psk[g_npsk].id, sizeof g_psk[0].id, "%.*s", (int)il, id);
      snprintf(g_psk[g_npsk].key, sizeof g_psk[0].key, "%s", key);
      g_npsk++;
    }
  }
  fclose(f);
  if (bad || !g_npsk) {
    fprintf(stderr, "rcoapd: --psk-keys-file %s: line %u: want 'IDENTITY KEY' "
                    "(at most %d)\n", file, no, PSK_KEYS_MAX);
    return -1;
  }
  return 0;
}

static int psk_lookup(void *user, const uint8_t *identity, size_t len,
                      uint8_t *key, size_t cap) {
  (void)user;
  for (size_t i = 0; i < g_npsk; i++) {
    size_t kl = strlen(g_psk[i].key);
    if (strlen(g_psk[i].id) == len && !memcmp(g_psk[i].id, identity, len) &&
        kl <= cap) {
      memcpy(key, g_psk[i].key, kl);
      return (int)kl;
    }
  }
  return -1;
}

int rcoapd_tls_setup(const rcoapd_opts *o, int dgram, rc_tls_ctx **out) {
  rc_tls_config cfg;
  rc_tls_config_init(&cfg, RC_TLS_SERVER);
  cfg.datagram = dgram;
  static char cert[4200], key[4200];
  if (o->ncerts) {
    for (size_t i = 0; i < o->ncerts; i++) {
      cfg.certs[i].cert_file = o->cert[i];
      cfg.certs[i].key_file = o->key[i];
    }
    cfg.ncerts = o->ncerts;
  } else if (!o->psk_key && !o->psk_keys_file) {
    if (demo_cert(o, cert, key, sizeof cert) != 0)
      return -1;
    cfg.certs[0].cert_file = cert;
    cfg.certs[0].key_file = key;
    cfg.ncerts = 1;
  }
  cfg.ca_file = o->cafile;
  cfg.client_auth = (rc_tls_client_auth)o->client_auth;
  if (o->psk_key) {
    cfg.psk_key = (const uint8_t *)o->psk_key;
    cfg.psk_key_len = strlen(o->psk_key);
    if (o->psk_identity) {
      cfg.psk_identity = (const uint8_t *)o->psk_identity;
      cfg.psk_identity_len = strlen(o->psk_identity);
    }
    if (o->ncerts && !dgram && o->client_auth != RC_TLS_CLIENT_AUTH_REQUIRE)
      fprintf(stderr, "rcoapd: TLS: note: with --cert beside --psk-key, "
                      "clients without the key get in through the "
                      "certificate (--client-auth require to need one)\n");
  }
  if (o->psk_keys_file) {
    if (psk_keys_load(o->psk_keys_file) != 0)
      return -1;
    cfg.psk_lookup = psk_lookup;
  }
  /* RFC 4279 §5.2: "In the absence of an application profile
   * specification specifying otherwise, servers SHOULD NOT provide an
   * identity hint"; CoAP (RFC 7252 §9.1.3.1) specifies none. Only on
   * request, then: node-dtls-client 2.0 cannot take the
   * ServerKeyExchange that carries one (docs/INTEROP.md). */
  cfg.psk_hint = o->psk_hint;
  cfg.allow_no_alpn = o->allow_no_alpn && !dgram; /* DTLS: no ALPN */
  cfg.no_tickets = o->no_tickets;
  cfg.keep_ssl = o->keep_ssl;
  cfg.keylog_file = o->keylog;
  char errbuf[512];
  if (rc_tls_ctx_new(out, &cfg, errbuf, sizeof errbuf) != RC_OK) {
    fprintf(stderr, "rcoapd: %s: %s\n", dgram ? "DTLS" : "TLS", errbuf);
    return -1;
  }
  return 0;
}
