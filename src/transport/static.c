/*
 * Static files under one root folder, for the browser client served on
 * rcoapd's WebSocket port. Safety comes from the walk, not from string
 * checks alone: the decoded path is split into segments, any "." or ".."
 * or dot-file segment is refused, and each segment is opened with
 * openat(O_NOFOLLOW) relative to the previous folder's descriptor,
 * starting from the root's, so neither a symlink nor a rename race can
 * lead outside the root. The response streams from the open descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rcoap/transport_static.h"

#define RC__STATIC_XSTR(x) #x
#define RC__STATIC_STR(x) RC__STATIC_XSTR(x)

struct rc_static {
  rc_mem mem;
  int root_fd;
};

rc_err rc_static_new(const char *root, const rc_mem *mem, rc_static **out) {
  rc_static *s;
  int fd;
  if (!root || !out)
    return RC_ERR_INVAL;
  mem = mem ? mem : rc_mem_default();
  fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return RC_ERR_NOT_FOUND;
  s = mem->malloc(sizeof(*s), mem->user);
  if (!s) {
    close(fd);
    return RC_ERR_NOMEM;
  }
  s->mem = *mem;
  s->root_fd = fd;
  *out = s;
  return RC_OK;
}

void rc_static_free(rc_static *s) {
  if (!s)
    return;
  close(s->root_fd);
  s->mem.free(s, s->mem.user);
}

const char *rc_static_content_type(const char *name, size_t len) {
  static const struct {
    const char *ext, *type;
  } types[] = {
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      /* RFC 9239 §6: text/javascript is the one to use. */
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".png", "image/png"},
      {".svg", "image/svg+xml"},
      {".ico", "image/vnd.microsoft.icon"},
      {".txt", "text/plain; charset=utf-8"},
      {".wasm", "application/wasm"},
  };
  size_t i;
  for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
    size_t el = strlen(types[i].ext);
    if (len > el && rc_http_eq(name + len - el, el, types[i].ext))
      return types[i].type;
  }
  return "application/octet-stream";
}

/* Percent-decodes the path part of target into out (NUL-terminated).
 * Returns RC_OK, RC_ERR_BAD_PERCENT, or RC_ERR_PATH_REFUSED. */
static rc_err st_decode(const char *t, size_t len, char *out, size_t cap) {
  size_t i, o = 0;
  for (i = 0; i < len && t[i] != '?' && t[i] != '#'; i++) {
    char c = t[i];
    if (c == '%') {
      int hi, lo;
      if (i + 2 >= len)
        return RC_ERR_BAD_PERCENT;
      hi = rc_hex_digit((unsigned char)t[i + 1]);
      lo = rc_hex_digit((unsigned char)t[i + 2]);
      if (hi < 0 || lo < 0)
        return RC_ERR_BAD_PERCENT;
      c = (char)(hi * 16 + lo);
      i += 2;
      /* An encoded "/" would name a segment boundary the walk cannot
       * see; an encoded NUL would cut the name short. */
      if (c == '/' || c == '\0')
        return RC_ERR_PATH_REFUSED;
    }
    if (c == '\\' || c == '\0')
      return RC_ERR_PATH_REFUSED;
    if (o + 1 >= cap)
      return RC_ERR_PATH_REFUSED;
    out[o++] = c;
  }
  out[o] = '\0';
  return RC_OK;
}

/* Maps a failed openat of name (under dir) to an error, telling a
 * refused symlink from a missing file. */
static rc_err st_open_error(int dir, const char *name, int err) {
  struct stat st;
  if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
    return RC_ERR_PATH_REFUSED;
  if (err == ENOENT || err == ENOTDIR)
    return RC_ERR_NOT_FOUND;
  if (err == EACCES || err == ELOOP || err == EPERM)
    return RC_ERR_PATH_REFUSED;
  return RC_ERR_IO;
}

rc_err rc_static_open(const rc_static *s, const char *target, size_t len,
                      int *fd_out, const char **ctype) {
  char path[RC_STATIC_MAX_PATH + 16];
  char *seg, *end;
  const char *name = "";
  int dir, fd;
  struct stat st;
  rc_err rc;

  if (!s || !target || !fd_out)
    return RC_ERR_INVAL;
  /* origin-form only (RFC 9112 §3.2.1): absolute-form and anything not
   * starting with "/" is refused. */
  if (len == 0 || target[0] != '/')
    return RC_ERR_PATH_REFUSED;
  rc = st_decode(target, len, path, RC_STATIC_MAX_PATH);
  if (rc)
    return rc;
  end = path + strlen(path);
  if (end[-1] == '/') {
    memcpy(end, "index.html", sizeof("index.html"));
    end += sizeof("index.html") - 1;
  }
  dir = s->root_fd;
  seg = path + 1;
  for (;;) {
    char *slash = strchr(seg, '/');
    int last = slash == NULL;
    if (slash)
      *slash = '\0';
    /* ".", ".." and dot files (.git, .env) are never served. */
    if (seg[0] == '.') {
      rc = RC_ERR_PATH_REFUSED;
      break;
    }
    if (seg[0] == '\0' && !last) { /* "//": an empty segment */
      seg = slash + 1;
      continue;
    }
    fd = openat(dir, seg,
                O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK |
                    (last ? 0 : O_DIRECTORY));
    if (fd < 0) {
      rc = st_open_error(dir, seg, errno);
      break;
    }
    if (dir != s->root_fd)
      close(dir);
    dir = fd;
    if (last) {
      name = seg;
      break;
    }
    seg = slash + 1;
  }
  if (rc) {
    if (dir != s->root_fd)
      close(dir);
    return rc;
  }
  fd = dir;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return RC_ERR_IO;
  }
  if (S_ISDIR(st.st_mode)) {
    close(fd);
    return RC_ERR_EXISTS;
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return RC_ERR_PATH_REFUSED;
  }
  /* O_NONBLOCK was only for not hanging on a FIFO. */
  (void)fcntl(fd, F_SETFL, 0);
  *fd_out = fd;
  if (ctype)
    *ctype = rc_static_content_type(name, strlen(name));
  return RC_OK;
}

static rc_ssize st_read(void *ctx, uint8_t *buf, size_t cap) {
  int fd = (int)(intptr_t)ctx;
  for (;;) {
    ssize_t n = read(fd, buf, cap);
    if (n >= 0)
      return (rc_ssize)n;
    if (errno != EINTR)
      return RC_ERR_IO;
  }
}

static void st_close(void *ctx) { close((int)(intptr_t)ctx); }

/* Non-zero if If-None-Match lists etag or "*" (RFC 9110 §13.1.2; the
 * comparison is weak, so W/ prefixes are ignored). */
static int st_etag_match(const rc_http_head *req, const char *etag) {
  size_t i;
  for (i = 0; i < req->n_headers; i++) {
    const rc_http_header *f = &req->headers[i];
    size_t p = 0;
    if (!rc_http_eq(f->name, f->name_len, "If-None-Match"))
      continue;
    while (p < f->value_len) {
      size_t e = p, a, b;
      while (e < f->value_len && f->value[e] != ',')
        e++;
      a = p;
      b = e;
      while (a < b && (f->value[a] == ' ' || f->value[a] == '\t'))
        a++;
      while (b > a && (f->value[b - 1] == ' ' || f->value[b - 1] == '\t'))
        b--;
      if (b - a >= 2 && f->value[a] == 'W' && f->value[a + 1] == '/')
        a += 2;
      if ((b - a == 1 && f->value[a] == '*') ||
          (b - a == strlen(etag) && memcmp(f->value + a, etag, b - a) == 0))
        return 1;
      p = e + 1;
    }
  }
  return 0;
}

void rc_static_respond(void *user, const rc_http_head *req,
                       rc_http_response *resp) {
  rc_static *s = user;
  const char *ctype = NULL;
  char etag[64], date[64];
  struct stat st;
  struct tm tm;
  int fd = -1, html, n;
  size_t plen = 0;
  rc_err rc;

  if (!rc_http_eq(req->method, req->method_len, "GET") &&
      !rc_http_eq(req->method, req->method_len, "HEAD")) {
    rc_http_response_text(resp, 405, "only GET and HEAD are served here\n");
    resp->extra_headers = "Allow: GET, HEAD\r\n";
    return;
  }
  rc = rc_static_open(s, req->target, req->target_len, &fd, &ctype);
  switch (rc) {
  case RC_OK:
    break;
  case RC_ERR_EXISTS:
    while (plen < req->target_len && req->target[plen] != '?')
      plen++;
    n = snprintf(resp->extra_buf, sizeof(resp->extra_buf),
                 "Location: %.*s/\r\n", (int)plen, req->target);
    if (n < 0 || (size_t)n >= sizeof(resp->extra_buf)) {
      rc_http_response_text(resp, 404, "not found\n");
      return;
    }
    rc_http_response_text(resp, 301, "this is a folder: add a slash\n");
    resp->extra_headers = resp->extra_buf;
    return;
  case RC_ERR_NOT_FOUND:
    rc_http_response_text(resp, 404, "not found\n");
    return;
  case RC_ERR_BAD_PERCENT:
    rc_http_response_text(resp, 400, "bad percent-encoding in the path\n");
    return;
  case RC_ERR_PATH_REFUSED:
    rc_http_response_text(resp, 403, "path refused\n");
    return;
  default:
    rc_http_response_text(resp, 500, "cannot open the file\n");
    return;
  }
  if (fstat(fd, &st) != 0 || !gmtime_r(&st.st_mtime, &tm)) {
    close(fd);
    rc_http_response_text(resp, 500, "cannot stat the file\n");
    return;
  }
  /* RFC 9110 §8.8.3: an entity tag is an opaque quoted string; size and
   * modification time in nanoseconds change whenever the file does. */
  snprintf(etag, sizeof(etag), "\"%llx-%llx\"", (unsigned long long)st.st_size,
           (unsigned long long)st.st_mtim.tv_sec * 1000000000ull +
               (unsigned long long)st.st_mtim.tv_nsec);
  strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  html = strncmp(ctype, "text/html", 9) == 0;
  n = snprintf(resp->extra_buf, sizeof(resp->extra_buf),
               "Cache-Control: %s\r\nETag: %s\r\nLast-Modified: %s\r\n"
               "X-Content-Type-Options: nosniff\r\n",
               html ? "no-cache" : "max-age=" RC__STATIC_STR(RC_STATIC_MAX_AGE),
               etag, date);
  resp->extra_headers = (n > 0 && (size_t)n < sizeof(resp->extra_buf))
                            ? resp->extra_buf
                            : NULL;
  resp->content_type = ctype;
  resp->body = NULL;
  resp->body_len = 0;
  if (st_etag_match(req, etag)) {
    close(fd);
    resp->status = 304;
    return;
  }
  resp->status = 200;
  resp->source.read = st_read;
  resp->source.close = st_close;
  resp->source.ctx = (void *)(intptr_t)fd;
  resp->content_length = (uint64_t)st.st_size;
  resp->head_only = rc_http_eq(req->method, req->method_len, "HEAD");
}
