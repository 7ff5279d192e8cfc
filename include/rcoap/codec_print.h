/*
 * One-line, human-readable renderings of CoAP messages, for logs and for
 * tools that show a conversation ("rcoap -v"): the code with its name, the
 * token in hex, every option by name with its value rendered by format
 * (signaling options by their per-code names), and the payload as text
 * when it is printable, else as a byte count and hex prefix.
 *
 * Writes into a caller's buffer; allocates nothing.
 */
#ifndef RCOAP_CODEC_PRINT_H
#define RCOAP_CODEC_PRINT_H

#include <stddef.h>

#include "rcoap/codec_msg.h"
#include "rcoap/codec_option.h"
#include "rcoap/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest payload excerpt shown. */
#define RC_PRINT_PAYLOAD_MAX 64u

/*
 * Renders m into buf (always NUL-terminated when cap > 0; cut short with
 * "..." when it does not fit), e.g.
 *   0.01 GET tok=3f2a Uri-Path:"sensors" Uri-Path:"temp" Accept:text/plain
 *   2.05 Content tok=3f2a Content-Format:text/plain;charset=utf-8 "21.5 C"
 *   7.01 CSM Max-Message-Size:8388864 Block-Wise-Transfer
 * Returns the length written (excluding the NUL).
 */
size_t rc_msg_format(const rc_msg *m, char *buf, size_t cap);

/*
 * Renders one option of a message with code code as rc_msg_format does
 * ("Content-Format:text/plain;charset=utf-8", "Block2:0/1/1024",
 * "Observe:12"), into buf (NUL-terminated when cap > 0). Returns the
 * length written.
 */
size_t rc_opt_print(uint8_t code, const rc_opt *o, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
