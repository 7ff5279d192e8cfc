/*
 * Internal to src/session/: the RFC 7252 message layer (udp.c) behind the
 * same opaque rc_session as the RFC 8323 one (reliable.c). Both structs
 * begin with the byte rc__session_is_udp() reads, and every public
 * rc_session_* function in reliable.c hands a UDP session to the
 * rc__udp_* function of the same name: one predictable branch on the
 * reliable path.
 */
#ifndef RCOAP_SESSION_UDP_INT_H
#define RCOAP_SESSION_UDP_INT_H

#include "rcoap/session.h"

/* Non-zero for a session made by rc__udp_new. Read as a byte: both
 * structs have it as their first member. */
static inline int rc__session_is_udp(const rc_session *s) {
  return *(const uint8_t *)(const void *)s;
}

void rc__udp_config_default(rc_session_udp_config *u);
rc_err rc__udp_new(rc_session **out, const rc_session_config *cfg,
                   const rc_session_callbacks *cb, void *user,
                   const rc_mem *mem, rc_time now);
void rc__udp_free(rc_session *s);
rc_err rc__udp_recv(rc_session *s, const uint8_t *data, size_t len,
                    rc_time now);
rc_err rc__udp_msg_begin(rc_session *s, rc_enc *e, uint8_t code,
                         const uint8_t *token, size_t token_len,
                         size_t size_hint);
rc_err rc__udp_msg_end(rc_session *s, rc_enc *e);
void rc__udp_msg_cancel(rc_session *s, rc_enc *e);
rc_err rc__udp_send(rc_session *s, const rc_msg *m);
rc_err rc__udp_pending(rc_session *s, const uint8_t **data, size_t *len);
rc_err rc__udp_consume(rc_session *s, size_t n);
size_t rc__udp_pending_bytes(const rc_session *s);
int rc__udp_want_read(const rc_session *s);
rc_time rc__udp_expiry(const rc_session *s);
rc_err rc__udp_handle_expiry(rc_session *s, rc_time now);
rc_err rc__udp_ping(rc_session *s, rc_time now, uint32_t *ping_id);
void rc__udp_close(rc_session *s, rc_err reason);
void rc__udp_set_non(rc_session *s, int on);
rc_err rc__udp_ack_now(rc_session *s, const uint8_t *token, size_t token_len);
rc_err rc__udp_reject(rc_session *s, const uint8_t *token, size_t token_len);
rc_err rc__udp_set_max_datagram(rc_session *s, size_t n);
rc_err rc__udp_set_echo(rc_session *s, const rc_session_echo *echo);
int rc__udp_amp_held(const rc_session *s, const uint8_t *token, size_t tkl);
void rc__udp_set_trace(rc_session *s,
                       void (*on_trace)(void *user, int sent,
                                        const rc_msg *m));
rc_session_state rc__udp_state(const rc_session *s);

#endif
