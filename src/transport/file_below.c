/*
 * rc_file_open_below: the filesystem half of serving a file from a
 * request path. Each segment is opened relative to the descriptor of the
 * folder before it, with O_NOFOLLOW, so the walk never resolves a
 * symbolic link nor a ".." (rc_path_clean refused those already; the dot
 * check here keeps the walk safe even if handed a raw path). The last
 * segment is opened with O_NONBLOCK so that a FIFO cannot block the loop
 * in open(); a regular file gets its blocking mode back.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rcoap/transport_file.h"

/* Why openat of name under dir failed, telling a refused symbolic link
 * from a missing file. */
static rc_err file_open_error(int dir, const char *name, int err) {
  struct stat st;
  if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
    return RC_ERR_PATH_REFUSED;
  if (err == ENOENT || err == ENOTDIR || err == ENAMETOOLONG)
    return RC_ERR_NOT_FOUND;
  if (err == EACCES || err == ELOOP || err == EPERM)
    return RC_ERR_PATH_REFUSED;
  return RC_ERR_IO;
}

rc_err rc_file_open_below(int root_fd, const char *path, int *fd_out,
                          const char **name) {
  char seg[NAME_MAX + 1];
  const char *p;
  int dir = root_fd;
  rc_err rc = RC_OK;
  struct stat st;
  if (!path || !fd_out)
    return RC_ERR_INVAL;
  if (path[0] != '/')
    return RC_ERR_PATH_REFUSED;
  p = path + 1;
  for (;;) {
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    int last = slash == NULL, fd;
    if (n == 0 && !last) { /* an empty segment names nothing */
      p = slash + 1;
      continue;
    }
    if (n == 0) { /* "/" or "/a/": the path names a folder */
      rc = RC_ERR_EXISTS;
      break;
    }
    if (p[0] == '.') {
      rc = RC_ERR_PATH_REFUSED;
      break;
    }
    if (n >= sizeof seg) {
      rc = RC_ERR_NOT_FOUND;
      break;
    }
    memcpy(seg, p, n);
    seg[n] = '\0';
    fd = openat(dir, seg,
                O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK |
                    (last ? 0 : O_DIRECTORY));
    if (fd < 0) {
      rc = file_open_error(dir, seg, errno);
      break;
    }
    if (dir != root_fd)
      close(dir);
    dir = fd;
    if (last) {
      if (name)
        *name = p;
      break;
    }
    p = slash + 1;
  }
  if (rc == RC_OK && fstat(dir, &st) != 0)
    rc = RC_ERR_IO;
  else if (rc == RC_OK && S_ISDIR(st.st_mode))
    rc = RC_ERR_EXISTS;
  else if (rc == RC_OK && !S_ISREG(st.st_mode))
    rc = RC_ERR_PATH_REFUSED;
  if (rc) {
    if (dir != root_fd)
      close(dir);
    return rc;
  }
  /* O_NONBLOCK was only for not hanging on a FIFO's open. */
  (void)fcntl(dir, F_SETFL, 0);
  *fd_out = dir;
  return RC_OK;
}
