/*
 * Request paths made safe to name files with. A path from a request
 * (an HTTP request target, or a CoAP path from rc_msg_path) is checked and
 * rewritten, on bytes alone, into a form whose every segment can be opened
 * one by one below a root folder: percent-escapes decoded, empty segments
 * dropped, and refused outright when any segment could climb out ("..",
 * "%2e%2e"), hide a boundary (an encoded '/', a backslash), cut a name
 * short (NUL) or name a dot file. rc_file_open_below (transport_file.h)
 * then walks the result on the filesystem; this half touches no file.
 */
#ifndef RCOAP_CODEC_PATH_H
#define RCOAP_CODEC_PATH_H

#include <stddef.h>

#include "rcoap/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* rc_path_clean flags. */
enum {
  /* The input is an HTTP request target: '?' or '#' ends the path (the
   * query and fragment are not part of the file's name). Without it they
   * are ordinary bytes, as in a CoAP Uri-Path segment. */
  RC_PATH_TARGET = 1
};

/*
 * Cleans in[0..len) into out (NUL-terminated): "/" followed by the decoded
 * segments joined with "/", with a trailing "/" kept when the input ended
 * in one (the caller may read it as "the folder's index"); "/" alone for
 * an input with no segments. The input must start with "/" (an absolute
 * path: origin-form for HTTP, RFC 9112 §3.2.1); "%XX" escapes are decoded.
 * Returns the length written (not counting the NUL), or
 *   RC_ERR_PATH_REFUSED  not starting with "/"; a segment starting with
 *                        "." (".", "..", dot files), holding a '\' or a
 *                        NUL, or holding a '/' that arrived encoded; or
 *                        the result would not fit in cap bytes
 *   RC_ERR_BAD_PERCENT   a '%' not followed by two hex digits
 *   RC_ERR_INVAL         in or out NULL
 */
rc_ssize rc_path_clean(const char *in, size_t len, unsigned flags, char *out,
                       size_t cap);

#ifdef __cplusplus
}
#endif

#endif
