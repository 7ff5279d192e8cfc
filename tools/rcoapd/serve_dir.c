/*
 * rcoapd --serve-dir DIR: files below DIR served read-only as
 * /files/PATH. Bodies are read block by block from the file on demand
 * (rc_respond_source), so files of many GiB go out in Block2/BERT without
 * being held in memory; every block request reopens the file, and the
 * ETag (from size, mtime and inode) tells a client when the file changed
 * under a transfer (RFC 7959 §2.4). Paths are cleaned by rc_path_clean and
 * opened by rc_file_open_below, as the HTTP side's static files are: no
 * "..", no hidden names, no symbolic links, no FIFOs. A folder (/files,
 * /files/sub/) answers with its entries in link-format (dir_list.c).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dir_list.h"
#include "rcoap/transport_file.h"
#include "serve_dir.h"

typedef struct serve_dir {
  int dirfd;
  int sendfile;
} serve_dir;

static serve_dir g_dir = {-1, 1};

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

/* The file itself: over plain coap+tcp a block goes out by sendfile. */
static int file_fd(void *arg) { return *(int *)arg; }

/* RFC 7252 §5.10.4: an Accept naming another format gets 4.06. */
static int acceptable(rc_xreq *req, int cf) {
  rc_opt o;
  uint32_t want;
  return !rc_msg_find_opt(rc_xreq_msg(req), RC_OPT_ACCEPT, &o) ||
         rc_opt_uint(&o, &want) != RC_OK || want == (uint32_t)cf;
}

/* The folder clean names ("/" or "/a/b", from rc_path_clean, which
 * rc_file_open_below found to be a folder), opened segment by segment
 * without following links. Returns an fd or -1. */
static int folder_open(int root, const char *clean) {
  int fd = openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  char seg[256];
  for (const char *p = clean; fd >= 0 && *p;) {
    p += strspn(p, "/");
    size_t n = strcspn(p, "/");
    if (!n)
      break;
    if (n >= sizeof seg) {
      close(fd);
      return -1;
    }
    memcpy(seg, p, n);
    seg[n] = 0;
    int next = openat(fd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    close(fd);
    fd = next;
    p += n;
  }
  return fd;
}

/* GET on a folder: its entries as link-format, targets under the
 * request's path ("/files" lists as "/files/..."). */
static void list_folder(rc_xreq *req, int root, const char *clean,
                        const char *path) {
  char base[RC_APP_PATH_MAX + 2];
  size_t n = strlen(path);
  snprintf(base, sizeof base, "%s%s", path, n && path[n - 1] == '/' ? "" : "/");
  if (!acceptable(req, RC_CF_LINK_FORMAT)) {
    rc_respond(req, RC_NOT_ACCEPTABLE, -1, NULL, 0);
    return;
  }
  char *body = NULL;
  size_t len = 0;
  int fd = folder_open(root, clean);
  int ok = fd >= 0 && dir_list(fd, base, cf_for, &body, &len) == 0;
  if (fd >= 0)
    close(fd);
  if (!ok) {
    rc_respond(req, RC_INTERNAL_SERVER_ERROR, -1, NULL, 0);
    return;
  }
  rc_respond(req, RC_CONTENT, RC_CF_LINK_FORMAT, body, len);
  free(body);
}

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
  if (rc == RC_ERR_EXISTS) {
    list_folder(req, sd->dirfd, clean, path);
    return;
  }
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
  if (!acceptable(req, cf_for(name))) {
    close(fd);
    rc_respond(req, RC_NOT_ACCEPTABLE, -1, NULL, 0);
    return;
  }
  rc_body_source src = {file_read, file_close, &fd, (uint64_t)st.st_size,
                        sd->sendfile && S_ISREG(st.st_mode) ? file_fd : NULL};
  rc_respond_source(req, RC_CONTENT, cf_for(name), etag, sizeof etag, &src);
}

rc_err serve_dir_start(rc_context *ctx, const char *dir, int sendfile) {
  g_dir.sendfile = sendfile;
  g_dir.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (g_dir.dirfd < 0)
    return RC_ERR_NOT_FOUND;
  rc_resource *r;
  rc_err err = rc_resource_add(ctx, SERVE_DIR_PREFIX, RC_RES_PREFIX, &g_dir,
                               &r);
  if (err)
    return err;
  rc_resource_on(r, RC_GET, on_file);
  /* Agrees with GET /files: a folder listing in link-format. */
  if ((err = rc_resource_attr(r, "ct", "40", 0)))
    return err;
  return rc_resource_attr(r, "title", "files (read-only)", 1);
}
