/*
 * A folder as link-format: one link per entry that --serve-dir would
 * serve, with its Content-Format (ct) and size (sz, RFC 6690 §3.3 allows
 * target attributes; aiocoap's file server lists folders the same way).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dir_list.h"
#include "rcoap/codec_link.h"

typedef struct entry {
  char *name;
  int dir;
  unsigned long long size;
} entry;

static int by_name(const void *a, const void *b) {
  return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

/* base + name (+ '/' for a folder), every byte outside the unreserved set
 * percent-encoded (RFC 3986 §2.3). */
static void target(const char *base, const entry *e, char *out, size_t cap) {
  static const char hex[] = "0123456789ABCDEF";
  size_t n = (size_t)snprintf(out, cap, "%s", base);
  for (const unsigned char *p = (const unsigned char *)e->name;
       *p && n + 4 < cap; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
        (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
      out[n++] = (char)*p;
    } else {
      out[n++] = '%';
      out[n++] = hex[*p >> 4];
      out[n++] = hex[*p & 15];
    }
  }
  if (e->dir && n + 1 < cap)
    out[n++] = '/';
  out[n] = 0;
}

static size_t write_links(const entry *v, size_t n, const char *base,
                          int (*cf_for)(const char *), char *buf, size_t cap,
                          int *err) {
  rc_link_writer w;
  rc_link_writer_init(&w, buf, cap);
  for (size_t i = 0; i < n; i++) {
    char t[1100], sz[24];
    target(base, &v[i], t, sizeof t);
    rc_link_begin(&w, t, strlen(t));
    rc_link_add_uint(&w, "ct", (uint32_t)(v[i].dir ? 40 : cf_for(v[i].name)));
    if (!v[i].dir) {
      snprintf(sz, sizeof sz, "%llu", v[i].size);
      rc_link_add_token(&w, "sz", sz, strlen(sz));
    }
    rc_link_end(&w);
  }
  size_t len;
  rc_err e = rc_link_writer_finish(&w, &len);
  *err = e != RC_OK && e != RC_ERR_NOBUF;
  return len;
}

int dir_list(int dirfd, const char *base, int (*cf_for)(const char *name),
             char **out, size_t *len) {
  /* A new open file description: a dup would share (and leave at the
   * end) the read offset of the caller's descriptor. */
  int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (!d) {
    if (fd >= 0)
      close(fd);
    return -1;
  }
  entry *v = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  int fail = 0;
  while (!fail && (de = readdir(d))) {
    struct stat st;
    if (de->d_name[0] == '.' ||
        fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
      continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 32;
      entry *nv = realloc(v, cap * sizeof *v);
      if (!nv) {
        fail = 1;
        break;
      }
      v = nv;
    }
    v[n].name = strdup(de->d_name);
    v[n].dir = S_ISDIR(st.st_mode);
    v[n].size = (unsigned long long)st.st_size;
    if (!v[n].name)
      fail = 1;
    else
      n++;
  }
  closedir(d);
  int bad = 0;
  *out = NULL;
  if (!fail) {
    if (n)
      qsort(v, n, sizeof *v, by_name);
    size_t need = write_links(v, n, base, cf_for, NULL, 0, &bad);
    *out = malloc(need + 1);
    if (!*out || bad)
      fail = 1;
    else
      *len = write_links(v, n, base, cf_for, *out, need + 1, &bad);
  }
  for (size_t i = 0; i < n; i++)
    free(v[i].name);
  free(v);
  if (fail || bad) {
    free(*out);
    *out = NULL;
    errno = ENOMEM;
    return -1;
  }
  return 0;
}
