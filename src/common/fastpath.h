#ifndef RCOAP_COMMON_FASTPATH_H
#define RCOAP_COMMON_FASTPATH_H
/*
 * The fast paths' switch, for tests only (tests/unit/test_app_fastpath.c):
 * when set, every fast path that has a general equivalent declines, so a
 * request is read, looked up and answered the general way: the frame
 * reader frame by frame (no rc_frame_reader_feed_each run), the app's
 * on_message without the read's time (no rc_session_set_message_at), the
 * exchange's option walk whatever the parser's summary says, no
 * on_plain, no lookup memo, a static answer encoded from its decoded
 * form. (The session's own fast writes, send_tail / send_parts /
 * send_tails, are off for a traced session: the test traces its general
 * context.) The differential test answers each request both ways and
 * compares the bytes. Read where a path is chosen (a connection's
 * callbacks, a read, a lookup miss, the general path's own steps), never
 * in the test a fast path itself makes per request. Not public; 0 in
 * every program.
 */
extern int rc__fast_paths_off;

#endif
