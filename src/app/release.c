/*
 * What a peer's Release (RFC 8323 §5.5) asks of later connections to the
 * same origin: "not reconnect to it for the number of seconds given" in
 * Hold-Off, and, with an Alternative-Address, "open a connection of the
 * same scheme ... to the alternative transport address given" (at once:
 * the Hold-Off is about the server that released, not the alternative).
 * The context remembers one such instruction per origin; rc_request
 * consults it before opening a connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_int.h"

/* The scheme of an origin key ("KIND|host|port|tls"): for the default
 * port of an alternative address without one. */
static const char *key_scheme(const char *key) {
  return rc__app_kind_scheme((rc_conn_kind)atoi(key));
}

/* Parses an RFC 3986 authority ("host", "host:port", "[v6]:port") into
 * r->host / r->port. Returns 0, or -1 if it is not one. */
static int parse_authority(app_redirect *r, const char *key, const char *a,
                           size_t n) {
  char uri[300];
  int len = snprintf(uri, sizeof uri, "%s://%.*s", key_scheme(key), (int)n, a);
  rc_uri u;
  if (len < 0 || (size_t)len >= sizeof uri ||
      rc_uri_parse(uri, (size_t)len, &u) != RC_OK || u.path_len > 0 ||
      u.has_query || u.host_len > RC_URI_HOST_MAX)
    return -1;
  memcpy(r->host, u.host, u.host_len);
  r->host[u.host_len] = 0;
  r->port = u.port;
  return 0;
}

void rc__app_note_release(rc_context *ctx, const char *origin,
                          const rc_session_release_info *info) {
  if (!origin)
    return;
  int has_hold = info->hold_off_s != RC_SESSION_NO_HOLD_OFF &&
                 info->hold_off_s > 0;
  int use_alt = ctx->opts.follow_release && info->n_alt > 0;
  if (!has_hold && !use_alt)
    return;
  app_redirect *r = NULL;
  for (app_redirect *i = ctx->redirects; i; i = i->next)
    if (!strcmp(i->origin, origin))
      r = i;
  if (!r) {
    size_t n = strlen(origin) + 1;
    r = calloc(1, sizeof *r + n);
    if (!r)
      return; /* a hint lost; the next request just reconnects */
    r->origin = (char *)(r + 1);
    memcpy(r->origin, origin, n);
    r->next = ctx->redirects;
    ctx->redirects = r;
  }
  r->not_before =
      has_hold ? rc__app_now(ctx) + (rc_time)info->hold_off_s * 1000u : 0;
  if (use_alt) {
    /* Any of several addresses will do (RFC 8323 §5.5); the first that
     * parses is taken. */
    for (size_t i = 0; i < info->n_alt; i++) {
      if (parse_authority(r, origin, info->alt[i], info->alt_len[i]) == 0) {
        r->has_alt = 1;
        rc__app_log(ctx, RC_SESSION_LOG_INFO,
                    "following Release: new connections go to %s port %u",
                    r->host, r->port);
        break;
      }
    }
  }
}

const app_redirect *rc__app_redirect(const rc_context *ctx, const char *key) {
  for (const app_redirect *r = ctx->redirects; r; r = r->next)
    if (!strcmp(r->origin, key))
      return r;
  return NULL;
}

void rc__app_redirects_free(rc_context *ctx) {
  while (ctx->redirects) {
    app_redirect *r = ctx->redirects;
    ctx->redirects = r->next;
    free(r);
  }
}
