/*
 * Static files for the HTTP side of rcoapd's WebSocket port: the page and
 * scripts of the browser client. Given a root folder and a request
 * target, it resolves the path without ever leaving the root (percent-
 * decoding first, refusing "..", encoded slashes, backslashes, NUL, dot
 * files and every symbolic link, opening each component with O_NOFOLLOW
 * relative to the root's descriptor) and fills an rc_http_response that
 * streams the file from its descriptor, with Content-Type by extension,
 * Cache-Control, ETag and Last-Modified, and 304 for a matching
 * If-None-Match. It reads files; it never touches a socket.
 */
#ifndef RCOAP_TRANSPORT_STATIC_H
#define RCOAP_TRANSPORT_STATIC_H

#include <stddef.h>

#include "rcoap/common.h"
#include "rcoap/transport_http.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest decoded path accepted (bytes). */
#define RC_STATIC_MAX_PATH 1024
/* Cache lifetime of everything but HTML (seconds). */
#define RC_STATIC_MAX_AGE 3600

typedef struct rc_static rc_static;

/*
 * Opens root (a directory) for serving. The caller frees the object with
 * rc_static_free(). Returns RC_OK, RC_ERR_INVAL, RC_ERR_NOT_FOUND (root
 * cannot be opened as a directory), or RC_ERR_NOMEM.
 */
rc_err rc_static_new(rc_static **out, const char *root, const rc_mem *mem);
void rc_static_free(rc_static *s);

/*
 * Resolves a request target ("/js/app.js?v=2"; the query is ignored) to an
 * open regular file under the root. "/" and paths ending in "/" mean the
 * folder's index.html. On RC_OK *fd is a descriptor the caller closes and
 * *ctype the file's media type (static storage). Returns RC_OK,
 * RC_ERR_PATH_REFUSED (traversal, encoded slash, backslash, NUL, dot
 * file, symlink, not absolute), RC_ERR_BAD_PERCENT, RC_ERR_NOT_FOUND,
 * RC_ERR_EXISTS (the path names a folder: redirect to path + "/"), or
 * RC_ERR_IO.
 */
rc_err rc_static_open(const rc_static *s, const char *target, size_t len,
                      int *fd, const char **ctype);

/* The media type for a file name by its extension
 * ("application/octet-stream" when unknown); static storage. */
const char *rc_static_content_type(const char *name, size_t len);

/*
 * Answers req (GET or HEAD; 405 otherwise) into resp: 200 with a body
 * source streaming the file, 304, 301 (folder without "/"), 400, 403 or
 * 404 with a short text body. Matches rc_ws_http_cb with user = the
 * rc_static object, so rcoapd passes it as the ws filter's on_http.
 */
void rc_static_respond(void *s, const rc_http_head *req, rc_http_response *resp);

#ifdef __cplusplus
}
#endif
#endif
