/*
 * A direct write to a plain coap+tcp connection's socket, for bytes its
 * owner framed itself (a notify round's frames for all of one
 * connection's observers, rc_session_frame_tails): while nothing is
 * queued on the connection they go to the kernel in one write(2) from
 * where they were built, with no output chunk, pull or consume; only
 * what the kernel does not take is queued in the session, behind which
 * the connection's usual write path (conn.c) carries on. Bytes already
 * queued are never overtaken: a connection with any unsent output (or a
 * write in flight, or filters) does not take this path at all.
 */
#include <errno.h>
#include <unistd.h>

#include "transport/conn_int.h"

/* Plain TCP, open, nothing unsent or in flight. */
static int conn_now_ok(const rc_conn *c) {
  return c != NULL && c->state == RC__CONN_OPEN && c->kind == RC_CONN_TCP &&
         c->tcp_inited && !c->writing && !c->lingering && c->chain != NULL &&
         rc_chain_count(c->chain) == 0 && rc_chain_unsent(c->chain) == 0;
}

rc_err rc_conn_write_now(rc_conn *c, const uint8_t *p, size_t n) {
  uv_os_fd_t fd;
  if (!conn_now_ok(c) || (p == NULL && n) ||
      uv_fileno((const uv_handle_t *)&c->tcp, &fd) != 0)
    return RC_ERR_STATE;
  ssize_t w;
  /* write(2), as libuv's own writes (the socket is non-blocking; SIGPIPE
   * is the application's, as for those) */
  do
    w = write(fd, p, n);
  while (w < 0 && errno == EINTR);
  if (w > 0)
    c->last_io = uv_now(c->loop);
  if (w == (ssize_t)n)
    return RC_OK;
  /* EAGAIN, or an error: the write path meets that error again and
   * fails the connection with it. */
  size_t done = w > 0 ? (size_t)w : 0;
  rc_err err = rc_session_send_framed(c->s, p + done, n - done);
  if (err != RC_OK && done > 0) {
    /* Part of a frame went: the stream cannot go on without the rest. */
    rc__conn_set_detail(c, "no memory for the rest of a write");
    rc__conn_fail(c, err, NULL);
    return err;
  }
  if (err == RC_OK)
    (void)rc_conn_flush(c);
  return err;
}
