/*
 * Opening a file below a root folder without ever leaving it: the walk
 * that rcoapd's HTTP static files (transport_static.h) and its CoAP
 * /files tree both use. The path's rules are checked first, on bytes, by
 * rc_path_clean (codec_path.h); this half opens each segment with
 * openat(O_NOFOLLOW) relative to the previous folder's descriptor,
 * starting from the root's, so no symbolic link and no rename racing the
 * walk can lead outside the root.
 */
#ifndef RCOAP_TRANSPORT_FILE_H
#define RCOAP_TRANSPORT_FILE_H

#include "rcoap/codec_path.h"
#include "rcoap/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Opens path, a result of rc_path_clean ("/a/b.txt"), below the folder
 * root_fd (borrowed; never closed here). On RC_OK *fd is a blocking
 * descriptor of a regular file, which the caller closes, and *name (may be
 * NULL) points at the last segment inside path. Returns RC_OK, or
 *   RC_ERR_EXISTS        the path names a folder (nothing left open)
 *   RC_ERR_NOT_FOUND     a segment is missing, or a non-folder is walked
 *                        through
 *   RC_ERR_PATH_REFUSED  a symbolic link anywhere, a file that is not
 *                        regular (FIFO, device, socket), no permission,
 *                        a segment starting with "." or not starting
 *                        with "/"
 *   RC_ERR_IO            any other failure of the filesystem
 *   RC_ERR_INVAL         path or fd NULL
 */
rc_err rc_file_open_below(int root_fd, const char *path, int *fd,
                          const char **name);

#ifdef __cplusplus
}
#endif

#endif
