/*
 * Tests for src/transport/file_below.c (rc_file_open_below) on a real
 * folder made with mkdtemp: regular files at any depth open and read
 * back; folders answer RC_ERR_EXISTS; missing names and walking through a
 * file answer RC_ERR_NOT_FOUND; a symbolic link anywhere on the way (to a
 * file inside or a folder outside), a FIFO (without blocking) and a dot
 * segment are refused; the root's descriptor stays open and no
 * descriptor leaks across all of it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rcoap/transport_file.h"

static char g_tmp[64];
static char g_out[64];

static void put(const char *rel, const char *text) {
  char p[256];
  snprintf(p, sizeof p, "%s/%s", g_tmp, rel);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int setup(void **state) {
  (void)state;
  char p[256], q[256];
  strcpy(g_tmp, "/tmp/rcoap-file-XXXXXX");
  strcpy(g_out, "/tmp/rcoap-out-XXXXXX");
  if (!mkdtemp(g_tmp) || !mkdtemp(g_out))
    return -1;
  snprintf(p, sizeof p, "%s/sub", g_tmp);
  mkdir(p, 0755);
  snprintf(p, sizeof p, "%s/sub/deeper", g_tmp);
  mkdir(p, 0755);
  put("top.txt", "top");
  put("sub/deeper/x.bin", "deep");
  put(".hidden", "no");
  snprintf(p, sizeof p, "%s/secret", g_out);
  FILE *f = fopen(p, "w");
  fputs("outside", f);
  fclose(f);
  snprintf(q, sizeof q, "%s/link", g_tmp);
  if (symlink("top.txt", q) != 0)
    return -1;
  snprintf(q, sizeof q, "%s/outlink", g_tmp);
  if (symlink(g_out, q) != 0)
    return -1;
  snprintf(q, sizeof q, "%s/sub/uplink", g_tmp);
  if (symlink("..", q) != 0)
    return -1;
  snprintf(q, sizeof q, "%s/fifo", g_tmp);
  if (mkfifo(q, 0644) != 0)
    return -1;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", g_tmp, g_out);
  return system(cmd) == 0 ? 0 : -1;
}

/* The lowest free descriptor number: equal before and after means no
 * descriptor was left open. */
static int next_fd(void) {
  int fd = dup(0);
  close(fd);
  return fd;
}

static void expect_file(int root, const char *path, const char *text,
                        const char *want_name) {
  int fd = -1;
  const char *name = NULL;
  char buf[32] = {0};
  assert_int_equal(rc_file_open_below(root, path, &fd, &name), RC_OK);
  assert_true(fd >= 0);
  /* Blocking mode is back after the O_NONBLOCK open. */
  assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
  assert_int_equal(read(fd, buf, sizeof buf - 1), (ssize_t)strlen(text));
  assert_string_equal(buf, text);
  assert_string_equal(name, want_name);
  close(fd);
}

static void test_open(void **state) {
  (void)state;
  int root = open(g_tmp, O_RDONLY | O_DIRECTORY);
  assert_true(root >= 0);
  int before = next_fd();
  expect_file(root, "/top.txt", "top", "top.txt");
  expect_file(root, "/sub/deeper/x.bin", "deep", "x.bin");
  expect_file(root, "//sub//deeper/x.bin", "deep", "x.bin");
  expect_file(root, "/sub/deeper/x.bin", "deep", "x.bin");
  assert_int_equal(next_fd(), before);
  close(root);
}

static void test_refused(void **state) {
  (void)state;
  static const struct {
    const char *path;
    rc_err want;
  } c[] = {
      {"/sub", RC_ERR_EXISTS},
      {"/sub/", RC_ERR_EXISTS},
      {"/", RC_ERR_EXISTS},
      {"/nothere", RC_ERR_NOT_FOUND},
      {"/sub/nothere/x", RC_ERR_NOT_FOUND},
      {"/top.txt/x", RC_ERR_NOT_FOUND},
      {"/link", RC_ERR_PATH_REFUSED},
      {"/outlink/secret", RC_ERR_PATH_REFUSED},
      {"/sub/uplink/top.txt", RC_ERR_PATH_REFUSED},
      {"/fifo", RC_ERR_PATH_REFUSED},
      {"/.hidden", RC_ERR_PATH_REFUSED},
      {"/sub/../top.txt", RC_ERR_PATH_REFUSED},
      {"top.txt", RC_ERR_PATH_REFUSED},
  };
  int root = open(g_tmp, O_RDONLY | O_DIRECTORY);
  assert_true(root >= 0);
  int before = next_fd();
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    int fd = -1;
    rc_err rc = rc_file_open_below(root, c[i].path, &fd, NULL);
    if (rc != c[i].want)
      fail_msg("%s: got %s, want %s", c[i].path, rc_err_name(rc),
               rc_err_name(c[i].want));
    assert_int_equal(fd, -1);
  }
  assert_int_equal(next_fd(), before);
  /* The root is borrowed: still open. */
  assert_int_equal(fcntl(root, F_GETFD) >= 0, 1);
  close(root);
  int fd;
  assert_int_equal(rc_file_open_below(3, NULL, &fd, NULL), RC_ERR_INVAL);
}

/* The two halves together, as both file servers use them: a cleaned
 * "%2e%2e" never reaches the walk, a cleaned "%74op.txt" opens. */
static void test_with_clean(void **state) {
  (void)state;
  char clean[64];
  int root = open(g_tmp, O_RDONLY | O_DIRECTORY);
  assert_true(root >= 0);
  assert_int_equal(rc_path_clean("/%2e%2e/x", 9, 0, clean, sizeof clean),
                   RC_ERR_PATH_REFUSED);
  rc_ssize n = rc_path_clean("/%74op.txt?x", 12, RC_PATH_TARGET, clean,
                             sizeof clean);
  assert_int_equal(n, 8);
  expect_file(root, clean, "top", "top.txt");
  close(root);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_open),
      cmocka_unit_test(test_refused),
      cmocka_unit_test(test_with_clean),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
