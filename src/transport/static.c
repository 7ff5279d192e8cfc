/*
 * Static files under one root folder, for the browser client served on
 * rcoapd's WebSocket port. The path is made safe by rc_path_clean
 * (codec_path.h: decoded, "." / ".." / dot files / encoded slashes / NUL
 * refused) and opened by rc_file_open_below (transport_file.h: each
 * segment with openat(O_NOFOLLOW) below the root's descriptor), the same
 * two steps rcoapd's CoAP /files tree takes. The response streams from the
 * open descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rcoap/transport_file.h"
#include "rcoap/transport_static.h"

#define RC__STATIC_XSTR(x) #x
#define RC__STATIC_STR(x) RC__STATIC_XSTR(x)

struct rc_static {
  rc_mem mem;
  int root_fd;
};

rc_err rc_static_new(rc_static **out, const char *root, const rc_mem *mem) {
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

rc_err rc_static_open(const rc_static *s, const char *target, size_t len,
                      int *fd_out, const char **ctype) {
  char path[RC_STATIC_MAX_PATH + 16];
  const char *name = "";
  rc_ssize n;
  rc_err rc;

  if (!s || !target || !fd_out)
    return RC_ERR_INVAL;
  /* origin-form only (RFC 9112 §3.2.1): rc_path_clean refuses
   * absolute-form and anything not starting with "/". */
  n = rc_path_clean(target, len, RC_PATH_TARGET, path, RC_STATIC_MAX_PATH);
  if (n < 0)
    return (rc_err)n;
  if (path[n - 1] == '/')
    memcpy(path + n, "index.html", sizeof("index.html"));
  rc = rc_file_open_below(s->root_fd, path, fd_out, &name);
  if (rc)
    return rc;
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
