/*
 * rcoapd --serve-dir DIR: a folder served read-only under /files.
 */
#ifndef RCOAPD_SERVE_DIR_H
#define RCOAPD_SERVE_DIR_H

#include "rcoap/app.h"

/* Mount point of the served folder. */
#define SERVE_DIR_PREFIX "/files"

/* Registers /files (prefix) serving dir; sendfile: over plain coap+tcp a
 * block goes from the file to the socket (rc_body_source.file), else it
 * is read into the message. Returns 0, RC_ERR_NOT_FOUND (dir cannot be
 * opened) or the resource errors. */
rc_err serve_dir_start(rc_context *ctx, const char *dir, int sendfile);

#endif
