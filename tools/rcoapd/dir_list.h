/*
 * A folder as link-format (RFC 6690), for rcoapd --serve-dir.
 */
#ifndef RCOAPD_DIR_LIST_H
#define RCOAPD_DIR_LIST_H

#include <stddef.h>

/* The entries of the open folder dirfd, under the URI path base ("/files/a/",
 * ending in '/'), as link-format in a malloc'd *out (caller frees) of
 * *len bytes: files "<base+name>;ct=N;sz=BYTES", folders
 * "<base+name/>;ct=40", sorted by name; hidden names, symbolic links and
 * other kinds are left out, as they are not served. cf_for gives a file's
 * Content-Format. Returns 0 or -1 (errno). */
int dir_list(int dirfd, const char *base, int (*cf_for)(const char *name),
             char **out, size_t *len);

#endif
