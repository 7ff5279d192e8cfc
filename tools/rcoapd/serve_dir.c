/*
 * rcoapd --serve-dir DIR: files below DIR served read-only as
 * /files/PATH. Bodies are read block by block from the file on demand
 * (rc_respond_source), so files of many GiB go out in Block2/BERT without
 * being held in memory; every block request reopens the file, and the
 * ETag (from size, mtime and inode) tells a client when the file changed
 * under a transfer (RFC 7959 §2.4). Paths are cleaned by rc_path_clean and
 * opened by rc_file_open_below, as the HTTP side's static files are: no
 * "..", no hidden names, no symbolic links, no FIFOs.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rcoap/transport_file.h"
#include "serve_dir.h"

typedef struct serve_dir {
  int dirfd;
} serve_dir;

static serve_dir g_dir = {-1};

/* Content-Format by extension (RFC 7252 §12.3 registry). */
static int cf_for(const char *name) {
  const char *dot = strrchr(name, '.');
  if (!dot)
    return 42;
  static const struct {
    const char *ext;
    int cf;
  } map[] = {{".txt", 0},   {".log", 0},   {".md", 0},    {".c", 0},
             {".h", 0},     {".csv", 0},   {".link", 40}, {".xml", 41},
             {".bin", 42},  {".exi", 47},  {".json", 50}, {".cbor", 60},
             {".senml", 110}};
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (!strcmp(dot, map[i].ext))
      return map[i].cf;
  return 42; /* application/octet-stream */
}

static rc_ssize file_read(void *arg, uint64_t off, uint8_t *buf, size_t cap) {
  return rc_fd_read(*(int *)arg, off, buf, cap);
}

static void file_close(void *arg) { close(*(int *)arg); }

static void on_file(rc_context *ctx, rc_resource *res, rc_xreq *req,
                    void *user) {
  (void)ctx;
  (void)res;
  serve_dir *sd = user;
  char path[RC_APP_PATH_MAX], clean[RC_APP_PATH_MAX];
  const char *name = "";
  if (rc_req_path(req, path, sizeof path) < 0) {
    rc_respond(req, RC_BAD_REQUEST, -1, NULL, 0);
    return;
  }
  /* rc_req_path escapes a segment's '/', '%' and control bytes, so the
   * same cleaning as the HTTP side's decodes them back and refuses an
   * encoded '/'; "/files" itself is the folder. */
  const char *rel = path + strlen(SERVE_DIR_PREFIX);
  rc_ssize n = rc_path_clean(*rel ? rel : "/", *rel ? strlen(rel) : 1, 0,
                             clean, sizeof clean);
  int fd = -1;
  rc_err rc = n < 0 ? (rc_err)n
                    : rc_file_open_below(sd->dirfd, clean, &fd, &name);
  struct stat st;
  if (rc == RC_OK && fstat(fd, &st) != 0) {
    close(fd);
    rc = RC_ERR_IO;
  }
  if (rc) {
    rc_respond(req,
               rc == RC_ERR_PATH_REFUSED || rc == RC_ERR_BAD_PERCENT
                   ? RC_FORBIDDEN
                   : RC_NOT_FOUND,
               -1, NULL, 0);
    return;
  }
  /* ETag from size, mtime and inode: stable across the block requests of
   * one transfer, different when the file is replaced or rewritten. */
  uint64_t h = 0xcbf29ce484222325ull;
  uint64_t parts[4] = {(uint64_t)st.st_size, (uint64_t)st.st_mtim.tv_sec,
                       (uint64_t)st.st_mtim.tv_nsec, (uint64_t)st.st_ino};
  for (int i = 0; i < 4; i++)
    h = (h ^ parts[i]) * 0x100000001b3ull;
  uint8_t etag[8];
  for (int i = 0; i < 8; i++)
    etag[i] = (uint8_t)(h >> (56 - 8 * i));
  rc_body_source src = {file_read, file_close, &fd, (uint64_t)st.st_size};
  rc_respond_source(req, RC_CONTENT, cf_for(name), etag, sizeof etag, &src);
}

rc_err serve_dir_start(rc_context *ctx, const char *dir) {
  g_dir.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (g_dir.dirfd < 0)
    return RC_ERR_NOT_FOUND;
  rc_resource *r;
  rc_err err = rc_resource_add(ctx, SERVE_DIR_PREFIX, RC_RES_PREFIX, &g_dir,
                               &r);
  if (err)
    return err;
  rc_resource_on(r, RC_GET, on_file);
  return rc_resource_attr(r, "title", "files (read-only)", 1);
}
