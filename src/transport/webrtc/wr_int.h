/*
 * Internal to the webrtc endpoint (wr_ep.c) and the UDP socket, listener
 * and conn code that carries it (udp.c, listen.c, conn.c): the hooks by
 * which a UDP socket hands its datagrams to the endpoint and a conn finds
 * its ICE session.
 */
#ifndef RCOAP_WR_INT_H
#define RCOAP_WR_INT_H

#include "rcoap/transport_webrtc.h"
#include "transport/conn_int.h"

typedef struct rc__wr_ep rc__wr_ep;

/* An endpoint on socket ep (server: a listener's; client: an offer's).
 * NULL on no memory. */
rc__wr_ep *rc__wr_ep_new(rc__udp_ep *ep, uv_loop_t *loop, const rc_mem *mem,
                         const rc_wr_identity *id, int server);
/* The listener goes: offers not yet connected are dropped; the endpoint
 * lives on with the conns it made. */
void rc__wr_ep_unlisten(rc__wr_ep *w);
/* udp.c: the socket closed (its last peer is gone). */
void rc__wr_ep_closed(rc__wr_ep *w);
/* udp.c: one datagram on the socket. */
void rc__wr_input(rc__wr_ep *w, const uint8_t *d, size_t n,
                  const struct sockaddr *from);
/* listen.c: rc_wr_listener_answer's work. */
rc_err rc__wr_answer(rc__wr_ep *w, const rc_wr_desc *offer,
                     rc_wr_desc *answer);
/* listen.c: a plain Binding request to server (NULL: the one given
 * before) from the endpoint's socket; its answer is kept as our
 * server-reflexive address, and answers become a full agent's. */
void rc__wr_stun_send(rc__wr_ep *w, const struct sockaddr *server);
/* listen.c / wr_ep.c: the stack of a webrtc conn (its DTLS context, the
 * role, whether we open the channel, the peer's SCTP port). */
void rc__wr_conn_stack(rc_conn *c, rc_stack_config *st);
/* conn.c: the conn closes; its ICE session goes with it. */
void rc__wr_conn_gone(rc_conn *c);

/* udp.c helpers for the endpoint. */
rc_conn *rc__udp_peer_find(rc__udp_ep *ep, const struct sockaddr *sa);
void rc__udp_attach(rc__udp_ep *ep, rc_conn *c, const struct sockaddr *sa);
int rc__udp_accept(rc__udp_ep *ep, rc_conn *c);
rc_err rc__udp_send_raw(rc__udp_ep *ep, const struct sockaddr *to,
                        const uint8_t *d, size_t n);
void rc__udp_set_wr(rc__udp_ep *ep, rc__wr_ep *w);
/* An offerer's socket, once ICE chose: connected to the pair's peer, so
 * a peer gone is heard (ICMP port unreachable) at once. */
void rc__udp_connect_to(rc__udp_ep *ep, const struct sockaddr *sa);
/* The socket's receive buffer as the kernel granted it (SO_RCVBUF read
 * back: twice the request, capped by net.core.rmem_max), 0 if unknown. */
size_t rc__udp_rcvbuf(rc__udp_ep *ep);
/* A socket bound to sa (port 0: any), not connected, with no accept. */
rc_err rc__udp_open_bound(uv_loop_t *loop, const rc_mem *mem,
                          const struct sockaddr *sa, rc__udp_ep **out);
/* Drops the caller's reference to a socket with no peer. */
void rc__udp_release(rc__udp_ep *ep);

#endif
