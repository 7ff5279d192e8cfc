/*
 * The incremental reader for the RFC 8323 §3.2 length shim: turns a TCP or
 * TLS byte stream that arrives in arbitrary pieces (one byte at a time
 * works) into whole CoAP messages.
 *
 * The reader holds no memory of its own. When a whole frame already sits in
 * the caller's input it is parsed in place (no copy); otherwise its bytes
 * are gathered in a buffer the caller provides: either one fixed
 * reassembly buffer given at init (rc_frame_reader_init), or one asked for
 * per frame once its header is read and its size known
 * (rc_frame_reader_init_fn: the session takes exactly the frame's size,
 * from a shared budget, and gives it back after the frame). A frame whose
 * header announces more than the configured maximum, or that the caller
 * declines to buffer, is never buffered: the reader reports it (with its
 * code and token, so a request can be answered 4.13 or 5.03) and then
 * discards its bytes by itself.
 */
#ifndef RCOAP_CODEC_FRAME_H
#define RCOAP_CODEC_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "rcoap/codec_msg.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest TCP frame header: Len|TKL, 4-byte extended length, Code, 2-byte
 * extended TKL. */
#define RC_TCP_HDR_MAX 8

typedef enum rc_frame_event {
  RC_FRAME_NONE = 0,     /* all given bytes consumed, no message yet */
  RC_FRAME_MSG = 1,      /* *msg holds a whole message */
  RC_FRAME_OVERSIZE = 2  /* *msg holds code and token of a message over the
                            maximum; its remaining bytes will be skipped */
} rc_frame_event;

/* Parsed TCP frame header. */
typedef struct rc_tcp_hdr {
  uint8_t hdr_len;    /* bytes of header, Len|TKL through extended TKL */
  uint8_t code;
  uint32_t token_len;
  uint64_t body_len;  /* options + payload marker + payload (the Len) */
} rc_tcp_hdr;

/*
 * Parses a TCP frame header from the start of buf.
 * Returns the header length (> 0) and fills *h, RC_ERR_NEED_MORE if buf
 * does not hold the whole header yet, or RC_ERR_TKL_RESERVED.
 * The whole frame is h->hdr_len + h->token_len + h->body_len bytes.
 */
rc_ssize rc_tcp_hdr_parse(const uint8_t *buf, size_t len, rc_tcp_hdr *h);

/*
 * Asked for a buffer once a frame's header is read and the frame is not
 * whole in the input. With token_only 0, need is the whole frame (header
 * included, at most the maximum): return need bytes to gather it in, or
 * NULL to decline it (it is then reported RC_FRAME_OVERSIZE like a frame
 * over the maximum, and the function is asked again with token_only 1).
 * With token_only 1, need is the token length of a frame that will not be
 * delivered: return need bytes to keep the token in (the reader may use
 * the input instead when the token is there whole), or NULL to report the
 * frame without its token. The buffer is the caller's; the reader writes
 * it only until it reports that frame, and never touches it afterwards.
 */
typedef uint8_t *(*rc_frame_buf_fn)(void *user, const rc_tcp_hdr *h,
                                    size_t need, int token_only);

typedef struct rc_frame_reader {
  /* all fields private; what a whole-frame run reads and writes first */
  size_t max_msg;     /* frames over this many bytes are refused */
  rc_tcp_hdr hdr;
  uint8_t state;
  uint8_t hdr_have;
  uint8_t hdr_bytes[RC_TCP_HDR_MAX];
  uint8_t *buf;       /* fixed reassembly buffer; caller's, not owned */
  size_t cap;
  rc_frame_buf_fn get;/* where split frames go (fixed buffer or caller's) */
  void *get_user;
  uint8_t *frame;     /* the buffer of the frame being gathered */
  size_t have;        /* bytes in buf (header + token + body so far) */
  uint64_t skip;      /* bytes of an oversize frame still to discard */
} rc_frame_reader;

/*
 * buf[0..cap) is the reassembly buffer; it must hold max_msg bytes
 * (cap >= max_msg) and stay valid while the reader is used. max_msg counts
 * the whole frame, header included (RFC 8323 §5.3.1: "The message size
 * indicated includes the entire message, starting from the first byte of
 * the message header and ending at the end of the message payload").
 * Returns 0 or RC_ERR_INVAL.
 */
rc_err rc_frame_reader_init(rc_frame_reader *r, uint8_t *buf, size_t cap,
                            size_t max_msg);

/*
 * A reader with no fixed buffer: a frame that arrives split is gathered in
 * the buffer get(user, ...) returns for it (see rc_frame_buf_fn); frames
 * over max_msg bytes (header included) are reported, never buffered.
 * Returns 0 or RC_ERR_INVAL.
 */
rc_err rc_frame_reader_init_fn(rc_frame_reader *r, size_t max_msg,
                               rc_frame_buf_fn get, void *user);

/* The header of the frame last reported or being read: for an OVERSIZE
 * report, its token length and size even when the token was not kept. */
const rc_tcp_hdr *rc_frame_reader_hdr(const rc_frame_reader *r);

/* Changes the maximum (our own Max-Message-Size); cap must still hold it
 * (a reader from rc_frame_reader_init_fn has no cap). */
rc_err rc_frame_reader_set_max(rc_frame_reader *r, size_t max_msg);

/*
 * Consumes bytes from in[0..len). Returns how many were consumed (>= 0)
 * and sets *ev:
 *   RC_FRAME_MSG       *msg is a whole message. Its pointers go into `in`
 *                      (whole frame was there) or into the reassembly
 *                      buffer (the fixed one, or the one rc_frame_buf_fn
 *                      gave for this frame, which the caller may free
 *                      once done with *msg); valid until the next feed
 *                      call and while `in` is.
 *   RC_FRAME_OVERSIZE  *msg has code, token (token_len > 0 only if the
 *                      token fitted in the buffer) and nothing else; the
 *                      frame's remaining bytes are discarded by later feeds.
 *   RC_FRAME_NONE      consumed == len, no message completed.
 * Call again with the rest of the input while consumed < len.
 * A negative return is an rc_err (RC_ERR_TKL_RESERVED, RC_ERR_OPT_*,
 * RC_ERR_EMPTY_PAYLOAD, ...): the stream is broken, the reader must not be
 * fed again (the session answers with Abort); if it is, it returns
 * RC_ERR_STATE.
 * An OVERSIZE report may consume 0 bytes (a token too long for the buffer
 * is reported as soon as the header is read): loop while consumed < len or
 * an event was reported. Frames are validated exactly like rc_msg_parse
 * (RC_FRAMING_TCP).
 */
rc_ssize rc_frame_reader_feed(rc_frame_reader *r, const uint8_t *in,
                              size_t len, rc_frame_event *ev, rc_msg *msg);

/* Takes one whole message (see rc_frame_reader_feed_each); non-zero stops
 * the run after it. */
typedef int (*rc_frame_msg_fn)(void *user, const rc_msg *msg);

/*
 * The whole-frame run: while the reader is between frames and the next
 * frame lies whole in in[0..len) within the maximum, parses it where it
 * lies and gives it to fn (msg valid during the call only), with no
 * return to the caller between frames. Stops at the first frame that is
 * not whole in the input or is over the maximum (for rc_frame_reader_feed
 * to take on: gather, report, skip), at a malformed one, or after a call
 * of fn that returned non-zero. Returns the bytes of the frames given to
 * fn (0 when none: the reader is mid-frame, or the first frame needs
 * rc_frame_reader_feed), or a negative rc_err as rc_frame_reader_feed (a
 * malformed frame: the stream is broken; the frames before it were
 * given). fn may change the maximum (rc_frame_reader_set_max); it must not
 * feed the reader. Frames are validated exactly like rc_msg_parse
 * (RC_FRAMING_TCP), which gives the same rc_msg.
 */
rc_ssize rc_frame_reader_feed_each(rc_frame_reader *r, const uint8_t *in,
                                   size_t len, rc_frame_msg_fn fn,
                                   void *user);

/* Non-zero while a frame is partly read (EOF now would lose data). */
int rc_frame_reader_busy(const rc_frame_reader *r);

/*
 * Where the next bytes of the frame being gathered go: while a split frame
 * is gathered in its own buffer, sets *at to the first missing byte and
 * returns how many are missing; else returns 0. A caller may read up to
 * that many bytes from the stream straight to *at and then hand them over
 * with rc_frame_reader_commit instead of rc_frame_reader_feed: a large
 * frame is read into place, not copied from a read buffer.
 */
size_t rc_frame_reader_room(const rc_frame_reader *r, uint8_t **at);

/*
 * n bytes (at most what rc_frame_reader_room returned) were written where
 * it said. Returns n with *ev RC_FRAME_NONE, or RC_FRAME_MSG and *msg when
 * they complete the frame (as rc_frame_reader_feed), or a negative rc_err
 * (RC_ERR_STATE: no frame being gathered or n too large; the frame's
 * parse error).
 */
rc_ssize rc_frame_reader_commit(rc_frame_reader *r, size_t n,
                                rc_frame_event *ev, rc_msg *msg);

#ifdef __cplusplus
}
#endif
#endif
