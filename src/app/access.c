/*
 * The access log's bookkeeping: a server connection's requests are noted
 * as they arrive (token, method, path and query, arrival time) and
 * matched by token with the response that answers them, which gives one
 * rc_access_entry per answered request. Only a context with on_access
 * pays for it: the messages come from the connection's trace hook.
 */
#include <stdio.h>
#include <string.h>

#include "app_int.h"

/* Requests remembered per connection; an older one that is still
 * unanswered when more arrive is dropped from the log (not from the
 * exchange). */
#define ACCESS_SLOTS 16

typedef struct access_slot {
  uint8_t token[RC_TOKEN_MAX];
  uint8_t token_len;
  uint8_t used;
  uint8_t method;
  uint64_t start_ns;
  char uri[256];
} access_slot;

struct app_access {
  access_slot slot[ACCESS_SLOTS];
  unsigned next; /* round robin when all are in use */
};

const char *rc__app_kind_scheme(rc_conn_kind k) {
  switch (k) {
  case RC_CONN_TLS:
    return "coaps+tcp";
  case RC_CONN_WS:
    return "coap+ws";
  case RC_CONN_TLS_WS:
    return "coaps+ws";
  case RC_CONN_UDP:
    return "coap";
  case RC_CONN_DTLS:
    return "coaps";
  default:
    return "coap+tcp";
  }
}

static access_slot *find(struct app_access *a, const rc_msg *m) {
  for (unsigned i = 0; i < ACCESS_SLOTS; i++) {
    access_slot *s = &a->slot[i];
    if (s->used && s->token_len == m->token_len &&
        (!m->token_len || !memcmp(s->token, m->token, m->token_len)))
      return s; /* an empty token may be NULL */
  }
  return NULL;
}

static void note_request(struct app_access *a, const rc_msg *m) {
  if (m->token_len > sizeof a->slot[0].token)
    return; /* extended tokens (RFC 8974) are not logged */
  access_slot *s = find(a, m);
  for (unsigned i = 0; !s && i < ACCESS_SLOTS; i++)
    if (!a->slot[i].used)
      s = &a->slot[i];
  if (!s)
    s = &a->slot[a->next++ % ACCESS_SLOTS];
  s->used = 1;
  s->token_len = (uint8_t)m->token_len;
  if (m->token_len)
    memcpy(s->token, m->token, m->token_len);
  s->method = m->code;
  s->start_ns = uv_hrtime();
  rc_ssize n = rc_msg_path(m, s->uri, sizeof s->uri);
  if (n < 0)
    snprintf(s->uri, sizeof s->uri, "(too long)");
  else {
    char q[200];
    rc_ssize qn = rc_msg_query(m, q, sizeof q);
    if (qn > 0)
      snprintf(s->uri + n, sizeof s->uri - (size_t)n, "?%s", q);
  }
}

void rc__app_access_trace(app_peer *p, int sent, const rc_msg *m) {
  rc_context *ctx = p->ctx;
  if (!rc_conn_is_server(p->conn))
    return;
  if (!p->access && !sent && rc_code_is_request(m->code)) {
    p->access = ctx->mem->malloc(sizeof *p->access, ctx->mem->user);
    if (!p->access)
      return;
    memset(p->access, 0, sizeof *p->access);
  }
  if (!p->access)
    return;
  if (!sent && rc_code_is_request(m->code)) {
    note_request(p->access, m);
    return;
  }
  if (!sent || !rc_code_is_response(m->code))
    return;
  access_slot *s = find(p->access, m);
  if (!s)
    return;
  char peer[64] = "";
  rc_conn_peer_addr(p->conn, peer, sizeof peer);
  rc_access_entry e = {peer,
                       rc__app_kind_scheme(rc_conn_get_kind(p->conn)),
                       rc_code_name(s->method),
                       s->uri,
                       m->code,
                       m->payload_len,
                       (double)(uv_hrtime() - s->start_ns) / 1e6};
  s->used = 0;
  ctx->opts.on_access(ctx->opts.trace_user, &e);
}

void rc__app_access_free(app_peer *p) {
  if (p->access)
    p->ctx->mem->free(p->access, p->ctx->mem->user);
  p->access = NULL;
}
