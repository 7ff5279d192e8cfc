/*
 * The throw-away test PKI for unit tests (header only): tests/certs/gen.sh
 * run into a fresh folder /tmp/NAME-XXXXXX, and that folder removed
 * again. Each test binary names its own folder, so tests running side by
 * side never share one.
 */
#ifndef RCOAP_TEST_PKI_H
#define RCOAP_TEST_PKI_H

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#endif

/* Makes /tmp/NAME-XXXXXX (its path in dir) and the PKI in it; 0 or -1. */
static int test_pki_make(char *dir, size_t cap, const char *name) {
  char src[512], cmd[1400];
  snprintf(src, sizeof src, "%s", __FILE__); /* tests/unit/test_pki.h */
  if ((size_t)snprintf(dir, cap, "/tmp/%s-XXXXXX", name) >= cap ||
      mkdtemp(dir) == NULL) {
    dir[0] = '\0';
    return -1;
  }
  snprintf(cmd, sizeof cmd, "bash '%s/../certs/gen.sh' '%s' >/dev/null",
           dirname(src), dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* The path of the PKI's file `name` in dir (a static buffer: use at
 * once). */
static const char *test_pki_path(const char *dir, const char *name) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return path;
}

/* Removes what test_pki_make(dir, .., name) made; 0 if there was nothing
 * (or nothing of ours) to remove. */
static int test_pki_remove(const char *dir, const char *name) {
  char want[128], cmd[400];
  int n = snprintf(want, sizeof want, "/tmp/%s-", name);
  if (!dir[0] || n <= 0 || (size_t)n >= sizeof want ||
      strncmp(dir, want, (size_t)n) != 0)
    return 0;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#endif
