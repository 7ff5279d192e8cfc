/*
 * For unit tests that check nothing is left open: the number of file
 * descriptors this process has (entries of /proc/self/fd, the directory
 * stream's own included: compare two counts, never one against a
 * constant). -1 when /proc is not there.
 */
#ifndef RCOAP_TEST_FDS_H
#define RCOAP_TEST_FDS_H

#include <dirent.h>

static inline int fd_count(void) {
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL)
    return -1;
  int n = 0;
  while (readdir(d) != NULL)
    n++;
  closedir(d);
  return n;
}

#endif
