/*
 * CoAP URIs <-> request options. This file parses the CoAP URI schemes
 * (RFC 7252 §6, RFC 8323 §8, the coap+wss alias of
 * draft-savolainen-core-coap-websockets-02 and coaps+wr of
 * draft-groves-coap-webrtcdc-02) with RFC 3986 syntax into an rc_uri view,
 * decomposes a view into Uri-Host / Uri-Port / Uri-Path / Uri-Query options
 * (RFC 7252 §6.4, RFC 8323 §8.6) and composes the URI of a request from
 * those options (RFC 7252 §6.5, RFC 8323 §8.7). It allocates nothing:
 * views point into the caller's string, decoded option values into the
 * caller's scratch buffer, composed URIs into the caller's buffer.
 */
#include "rcoap/codec_uri.h"

#include <string.h>

/* ------------------------------------------------------------------ */
/* Schemes                                                             */

typedef struct uri_scheme_def {
  const char *name;
  rc_scheme scheme;
} uri_scheme_def;

static const uri_scheme_def uri_schemes[] = {
    {"coap", RC_SCHEME_COAP},
    {"coaps", RC_SCHEME_COAPS},
    {"coap+tcp", RC_SCHEME_COAP_TCP},
    {"coaps+tcp", RC_SCHEME_COAPS_TCP},
    {"coap+ws", RC_SCHEME_COAP_WS},
    {"coaps+ws", RC_SCHEME_COAPS_WS},
    /* draft-savolainen-core-coap-websockets-02 §3: "the default for
     * "coap+ws" is port 80, while the default for "coap+wss" is port 443";
     * RFC 8323 renamed it coaps+ws. */
    {"coap+wss", RC_SCHEME_COAPS_WS},
    {"coaps+wr", RC_SCHEME_COAPS_WR},
};

static int uri_lower(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

const char *rc_scheme_name(rc_scheme scheme) {
  switch (scheme) {
  case RC_SCHEME_COAP: return "coap";
  case RC_SCHEME_COAPS: return "coaps";
  case RC_SCHEME_COAP_TCP: return "coap+tcp";
  case RC_SCHEME_COAPS_TCP: return "coaps+tcp";
  case RC_SCHEME_COAP_WS: return "coap+ws";
  case RC_SCHEME_COAPS_WS: return "coaps+ws";
  case RC_SCHEME_COAPS_WR: return "coaps+wr";
  }
  return NULL;
}

int rc_scheme_from_name(const char *name, size_t len) {
  if (name == NULL)
    return RC_ERR_BAD_SCHEME;
  for (size_t i = 0; i < sizeof uri_schemes / sizeof uri_schemes[0]; i++) {
    const char *n = uri_schemes[i].name;
    size_t nl = strlen(n);
    if (nl != len)
      continue;
    size_t k = 0;
    /* RFC 3986 §3.1: "schemes are case-insensitive" */
    while (k < len && uri_lower((unsigned char)name[k]) == n[k])
      k++;
    if (k == len)
      return (int)uri_schemes[i].scheme;
  }
  return RC_ERR_BAD_SCHEME;
}

uint16_t rc_scheme_default_port(rc_scheme scheme) {
  switch (scheme) {
  case RC_SCHEME_COAP: /* RFC 7252 §6.1 */
  case RC_SCHEME_COAP_TCP: /* RFC 8323 §8.1: "the default port 5683" */
    return RC_PORT_COAP;
  case RC_SCHEME_COAPS: /* RFC 7252 §6.2 */
  case RC_SCHEME_COAPS_TCP: /* RFC 8323 §8.2: "the default port 5684" */
    return RC_PORT_COAPS;
  case RC_SCHEME_COAP_WS: /* RFC 8323 §8.3: "The default is port 80." */
    return RC_PORT_COAP_WS;
  case RC_SCHEME_COAPS_WS: /* RFC 8323 §8.4: "The default is port 443." */
    return RC_PORT_COAPS_WS;
  case RC_SCHEME_COAPS_WR: /* draft-groves §6.1: no port at all */
    return 0;
  }
  return 0;
}

/* ------------------------------------------------------------------ */
/* RFC 3986 character classes                                          */

static int uri_is_alpha(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static int uri_is_digit(int c) { return c >= '0' && c <= '9'; }
/* unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~" */
static int uri_is_unreserved(int c) {
  return uri_is_alpha(c) || uri_is_digit(c) || c == '-' || c == '.' ||
         c == '_' || c == '~';
}
/* sub-delims = "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" /
 * "=" */
static int uri_is_sub_delim(int c) {
  return c == '!' || c == '$' || c == '&' || c == '\'' || c == '(' ||
         c == ')' || c == '*' || c == '+' || c == ',' || c == ';' || c == '=';
}
static int uri_is_pchar(int c) {
  return uri_is_unreserved(c) || uri_is_sub_delim(c) || c == ':' || c == '@';
}

/* Checks that s[i] starts a valid pct-encoded triplet. */
static int uri_pct_ok(const char *s, size_t n, size_t i) {
  return i + 3 <= n && rc_hex_digit((unsigned char)s[i + 1]) >= 0 &&
         rc_hex_digit((unsigned char)s[i + 2]) >= 0;
}

/*
 * Decodes percent-encodings of s[0..n) into out (NULL: only measure),
 * lower-casing ASCII letters of the encoded text first when lower is set.
 * Returns the decoded length, or RC_ERR_BAD_PERCENT.
 */
static rc_ssize uri_pct_decode(const char *s, size_t n, uint8_t *out,
                               int lower) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)s[i];
    if (c == '%') {
      if (!uri_pct_ok(s, n, i))
        return RC_ERR_BAD_PERCENT;
      c = rc_hex_digit((unsigned char)s[i + 1]) * 16 +
          rc_hex_digit((unsigned char)s[i + 2]);
      i += 2;
    } else if (lower) {
      c = uri_lower(c);
    }
    if (out != NULL)
      out[o] = (uint8_t)c;
    o++;
  }
  return (rc_ssize)o;
}

/* dec-octet "." dec-octet "." dec-octet "." dec-octet, RFC 3986 §3.2.2:
 * no leading zeros, at most 255. */
static int uri_ipv4_valid(const char *s, size_t n) {
  size_t i = 0;
  for (int part = 0; part < 4; part++) {
    if (part > 0) {
      if (i >= n || s[i] != '.')
        return 0;
      i++;
    }
    size_t start = i;
    unsigned v = 0;
    while (i < n && uri_is_digit((unsigned char)s[i]) && i - start < 3) {
      v = v * 10 + (unsigned)(s[i] - '0');
      i++;
    }
    size_t d = i - start;
    if (d == 0 || v > 255 || (d > 1 && s[start] == '0'))
      return 0;
  }
  return i == n;
}

/* IPv6address of RFC 3986 §3.2.2 (including an IPv4 tail). */
static int uri_ipv6_valid(const char *s, size_t n) {
  size_t i = 0;
  int groups = 0, dcolon = 0;
  if (n >= 2 && s[0] == ':' && s[1] == ':') {
    dcolon = 1;
    i = 2;
  } else if (n == 0 || s[0] == ':') {
    return 0;
  }
  while (i < n) {
    size_t start = i;
    while (i < n && rc_hex_digit((unsigned char)s[i]) >= 0 && i - start < 5)
      i++;
    if (i < n && s[i] == '.') {
      if (!uri_ipv4_valid(s + start, n - start))
        return 0;
      groups += 2;
      break;
    }
    if (i == start || i - start > 4)
      return 0;
    groups++;
    if (i == n)
      break;
    if (s[i] != ':')
      return 0;
    i++;
    if (i < n && s[i] == ':') {
      if (dcolon)
        return 0;
      dcolon = 1;
      i++;
    } else if (i == n) {
      return 0; /* a single trailing colon */
    }
  }
  return dcolon ? groups <= 7 : groups == 8;
}

/* ZoneID = 1*( unreserved / pct-encoded ), RFC 6874 §2. */
static rc_err uri_zone_check(const char *s, size_t n) {
  if (n == 0)
    return RC_ERR_BAD_HOST;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '%') {
      if (!uri_pct_ok(s, n, i))
        return RC_ERR_BAD_PERCENT;
      i += 2;
    } else if (!uri_is_unreserved((unsigned char)s[i])) {
      return RC_ERR_BAD_HOST;
    }
  }
  return RC_OK;
}

/* Checks s[0..n) against a character class with pct-encoding allowed.
 * Returns 0, RC_ERR_BAD_PERCENT or bad_char. */
static rc_err uri_check_chars(const char *s, size_t n, int (*ok)(int),
                              rc_err bad_char) {
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)s[i];
    if (c == '%') {
      if (!uri_pct_ok(s, n, i))
        return RC_ERR_BAD_PERCENT;
      i += 2;
    } else if (!ok(c)) {
      return bad_char;
    }
  }
  return RC_OK;
}

static int uri_is_regname_char(int c) {
  return uri_is_unreserved(c) || uri_is_sub_delim(c);
}
static int uri_is_path_char(int c) { return uri_is_pchar(c) || c == '/'; }
static int uri_is_query_char(int c) {
  return uri_is_pchar(c) || c == '/' || c == '?';
}

/* ------------------------------------------------------------------ */
/* Parsing                                                             */

/* Parses the host of an authority a[0..n) into u; *host_end is set to the
 * index after the host. */
static rc_err uri_parse_host(const char *a, size_t n, rc_uri *u,
                             size_t *host_end) {
  if (n > 0 && a[0] == '[') {
    const char *close = memchr(a, ']', n);
    if (close == NULL)
      return RC_ERR_BAD_HOST;
    size_t end = (size_t)(close - a); /* index of ']' */
    const char *in = a + 1;
    size_t in_len = end - 1;
    if (in_len > 0 && (in[0] == 'v' || in[0] == 'V'))
      return RC_ERR_BAD_HOST; /* IPvFuture: nothing we could connect to */
    size_t addr_len = in_len;
    for (size_t i = 0; i < in_len; i++) {
      if (in[i] == '%') {
        /* RFC 6874 §2: IPv6addrz = IPv6address "%25" ZoneID */
        if (i + 3 > in_len || in[i + 1] != '2' || in[i + 2] != '5')
          return (i + 3 <= in_len && uri_pct_ok(in, in_len, i))
                     ? RC_ERR_BAD_HOST
                     : RC_ERR_BAD_PERCENT;
        addr_len = i;
        rc_err e = uri_zone_check(in + i + 3, in_len - i - 3);
        if (e != RC_OK)
          return e;
        u->zone = in + i + 3;
        u->zone_len = in_len - i - 3;
        break;
      }
    }
    if (!uri_ipv6_valid(in, addr_len))
      return RC_ERR_BAD_HOST;
    u->host = in;
    u->host_len = addr_len;
    u->host_raw = a;
    u->host_raw_len = end + 1;
    u->host_is_literal = 1;
    u->host_is_ipv6 = 1;
    *host_end = end + 1;
    if (*host_end < n && a[*host_end] != ':')
      return RC_ERR_BAD_HOST; /* "[::1]x" */
    return RC_OK;
  }
  const char *colon = memchr(a, ':', n);
  size_t hl = colon ? (size_t)(colon - a) : n;
  if (hl == 0)
    return RC_ERR_BAD_HOST;
  rc_err e = uri_check_chars(a, hl, uri_is_regname_char, RC_ERR_BAD_HOST);
  if (e != RC_OK)
    return e;
  u->host = u->host_raw = a;
  u->host_len = u->host_raw_len = hl;
  u->host_is_literal = (uint8_t)uri_ipv4_valid(a, hl);
  *host_end = hl;
  return RC_OK;
}

static rc_err uri_parse_port(const char *p, size_t n, rc_uri *u) {
  if (u->scheme == RC_SCHEME_COAPS_WR)
    /* draft-groves-coap-webrtcdc-02 §6.1: "The port SHALL be omitted." */
    return RC_ERR_BAD_PORT;
  if (n == 0)
    return RC_OK; /* RFC 8323 §8.1: empty means the default */
  uint32_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (!uri_is_digit((unsigned char)p[i]))
      return RC_ERR_BAD_PORT;
    v = v * 10 + (uint32_t)(p[i] - '0');
    if (v > 65535)
      return RC_ERR_BAD_PORT;
  }
  if (v == 0)
    return RC_ERR_BAD_PORT; /* not a port anyone can connect to */
  u->port = (uint16_t)v;
  u->port_explicit = 1;
  return RC_OK;
}

rc_err rc_uri_parse(const char *s, size_t len, rc_uri *out) {
  if (s == NULL || out == NULL)
    return RC_ERR_INVAL;
  rc_uri u;
  memset(&u, 0, sizeof u);

  /* RFC 7252 §6.4 step 1: "If the |url| string is not an absolute URI
   * ([RFC3986]), then fail this algorithm."
   * scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
  size_t i = 0;
  if (len == 0 || !uri_is_alpha((unsigned char)s[0]))
    return RC_ERR_BAD_URI;
  while (i < len && (uri_is_alpha((unsigned char)s[i]) ||
                     uri_is_digit((unsigned char)s[i]) || s[i] == '+' ||
                     s[i] == '-' || s[i] == '.'))
    i++;
  if (i == len || s[i] != ':')
    return RC_ERR_BAD_URI;
  /* Step 3 (RFC 8323 §8.6): the scheme, "converted to ASCII lowercase",
   * must be one of ours. */
  int sch = rc_scheme_from_name(s, i);
  if (sch < 0)
    return RC_ERR_BAD_SCHEME;
  u.scheme = (rc_scheme)sch;
  /* Step 4: "If |url| has a <fragment> component, then fail this
   * algorithm." '#' cannot appear anywhere else in a valid URI. */
  if (memchr(s, '#', len) != NULL)
    return RC_ERR_URI_FRAGMENT;
  i++;
  if (len - i < 2 || s[i] != '/' || s[i + 1] != '/')
    return RC_ERR_BAD_URI; /* coap-URI = "coap:" "//" host ... */
  i += 2;

  u.is_secure = u.scheme == RC_SCHEME_COAPS ||
                u.scheme == RC_SCHEME_COAPS_TCP ||
                u.scheme == RC_SCHEME_COAPS_WS ||
                u.scheme == RC_SCHEME_COAPS_WR;
  u.is_udp = u.scheme == RC_SCHEME_COAP || u.scheme == RC_SCHEME_COAPS;
  u.is_tcp =
      u.scheme == RC_SCHEME_COAP_TCP || u.scheme == RC_SCHEME_COAPS_TCP;
  u.is_ws = u.scheme == RC_SCHEME_COAP_WS || u.scheme == RC_SCHEME_COAPS_WS;
  u.is_wr = u.scheme == RC_SCHEME_COAPS_WR;
  u.port = rc_scheme_default_port(u.scheme);

  /* authority: up to the first '/', '?' or the end */
  size_t a0 = i;
  while (i < len && s[i] != '/' && s[i] != '?')
    i++;
  const char *auth = s + a0;
  size_t auth_len = i - a0;
  if (memchr(auth, '@', auth_len) != NULL)
    return RC_ERR_BAD_URI; /* the CoAP schemes have no userinfo */
  size_t host_end;
  rc_err e = uri_parse_host(auth, auth_len, &u, &host_end);
  if (e != RC_OK)
    return e;
  if (host_end < auth_len) { /* a[host_end] == ':' */
    e = uri_parse_port(auth + host_end + 1, auth_len - host_end - 1, &u);
    if (e != RC_OK)
      return e;
  }

  /* path-abempty */
  size_t p0 = i;
  while (i < len && s[i] != '?')
    i++;
  e = uri_check_chars(s + p0, i - p0, uri_is_path_char, RC_ERR_BAD_URI);
  if (e != RC_OK)
    return e;
  u.path = s + p0;
  u.path_len = i - p0;

  if (i < len) { /* s[i] == '?' */
    i++;
    e = uri_check_chars(s + i, len - i, uri_is_query_char, RC_ERR_BAD_URI);
    if (e != RC_OK)
      return e;
    u.has_query = 1;
    u.query = s + i;
    u.query_len = len - i;
  }
  *out = u;
  return RC_OK;
}

/* ------------------------------------------------------------------ */
/* Decomposition                                                       */

/* Walks the path segments of p[0..n) backwards and calls back for every
 * segment that survives dot-segment removal (RFC 3986 §5.2.4), last first.
 * A final "." or ".." leaves an empty last segment ("/a/b/.." is "/a/"). */
typedef rc_err (*uri_seg_fn)(const char *seg, size_t len, void *ctx);

static rc_err uri_path_walk_back(const char *p, size_t n, uri_seg_fn fn,
                                 void *ctx) {
  size_t end = n, pending = 0;
  int last = 1;
  while (end > 0) {
    size_t j = end;
    while (j > 0 && p[j - 1] != '/')
      j--;
    /* segment p[j..end), p[j-1] is '/' (path-abempty starts with '/') */
    const char *seg = p + j;
    size_t sl = end - j;
    int dot = sl == 1 && seg[0] == '.';
    int dotdot = sl == 2 && seg[0] == '.' && seg[1] == '.';
    rc_err e = RC_OK;
    if (dot || dotdot) {
      if (last)
        e = fn(seg, 0, ctx);
      if (dotdot)
        pending++;
    } else if (pending > 0) {
      pending--;
    } else {
      e = fn(seg, sl, ctx);
    }
    if (e != RC_OK)
      return e;
    last = 0;
    end = j > 0 ? j - 1 : 0;
  }
  return RC_OK;
}

typedef struct uri_path_count {
  size_t count;
  size_t bytes;
  size_t first_len; /* decoded length of the last callback (the first
                       segment of the surviving path) */
} uri_path_count;

static rc_err uri_path_count_cb(const char *seg, size_t len, void *ctx) {
  uri_path_count *c = ctx;
  rc_ssize d = uri_pct_decode(seg, len, NULL, 0);
  if (d < 0)
    return (rc_err)d;
  if ((size_t)d > RC_URI_SEGMENT_MAX)
    return RC_ERR_OPT_FORMAT;
  c->count++;
  c->bytes += (size_t)d;
  c->first_len = (size_t)d;
  return RC_OK;
}

typedef struct uri_path_store {
  rc_opt *slot;     /* one past the next option to fill (filled downward) */
  uint8_t *end;     /* one past the next scratch byte (filled downward) */
} uri_path_store;

static rc_err uri_path_store_cb(const char *seg, size_t len, void *ctx) {
  uri_path_store *st = ctx;
  rc_ssize d = uri_pct_decode(seg, len, NULL, 0);
  if (d < 0)
    return (rc_err)d;
  st->end -= d;
  uri_pct_decode(seg, len, st->end, 0);
  st->slot--;
  st->slot->num = RC_OPT_URI_PATH;
  st->slot->len = (uint32_t)d;
  st->slot->val = st->end;
  return RC_OK;
}

/* Visits the '&'-separated arguments of a query; fn as for the path. */
static rc_err uri_query_walk(const char *q, size_t n, uri_seg_fn fn,
                             void *ctx) {
  size_t start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i == n || q[i] == '&') {
      rc_err e = fn(q + start, i - start, ctx);
      if (e != RC_OK)
        return e;
      start = i + 1;
    }
  }
  return RC_OK;
}

typedef struct uri_query_store {
  rc_opt *slot;
  uint8_t *pos;
} uri_query_store;

static rc_err uri_query_store_cb(const char *arg, size_t len, void *ctx) {
  uri_query_store *st = ctx;
  rc_ssize d = uri_pct_decode(arg, len, st->pos, 0);
  if (d < 0)
    return (rc_err)d;
  st->slot->num = RC_OPT_URI_QUERY;
  st->slot->len = (uint32_t)d;
  st->slot->val = st->pos;
  st->slot++;
  st->pos += d;
  return RC_OK;
}

rc_err rc_uri_to_opts(const rc_uri *u, unsigned flags, rc_opt *opts,
                      size_t cap, size_t *n_opts, uint8_t *scratch,
                      size_t scratch_cap, size_t *scratch_len) {
  if (u == NULL || n_opts == NULL || (opts == NULL && cap > 0) ||
      (scratch == NULL && scratch_cap > 0) || *n_opts > cap ||
      ((flags & RC_URI_OMIT_HOST) && (flags & RC_URI_FORCE_HOST)) ||
      ((flags & RC_URI_OMIT_PORT) && (flags & RC_URI_FORCE_PORT)))
    return RC_ERR_INVAL;
  size_t base = *n_opts;

  /* Step 5: Uri-Host unless the host "represent[s] the request's
   * destination IP address as an IP-literal or IPv4address". */
  int want_host = !(flags & RC_URI_OMIT_HOST) &&
                  (!u->host_is_literal || (flags & RC_URI_FORCE_HOST));
  size_t host_bytes = 0;
  if (want_host) {
    rc_ssize d = uri_pct_decode(u->host_raw, u->host_raw_len, NULL, 1);
    if (d < 0)
      return (rc_err)d;
    if (d == 0 || (size_t)d > RC_URI_HOST_MAX)
      return RC_ERR_BAD_HOST;
    host_bytes = (size_t)d;
  }
  /* Steps 6-7: Uri-Port when the port is not the one the request goes to
   * (by default: the scheme's default). coaps+wr has no port. */
  int want_port = !u->is_wr && !(flags & RC_URI_OMIT_PORT) &&
                  ((flags & RC_URI_FORCE_PORT) ||
                   u->port != rc_scheme_default_port(u->scheme));
  uint8_t port_val[4];
  size_t port_bytes = want_port ? rc_opt_uint_encode(u->port, port_val) : 0;

  /* Step 8: Uri-Path, unless the path is empty or "/" after dot-segment
   * removal. */
  uri_path_count pc = {0, 0, 0};
  rc_err e = uri_path_walk_back(u->path, u->path_len, uri_path_count_cb, &pc);
  if (e != RC_OK)
    return e;
  if (pc.count == 1 && pc.first_len == 0)
    pc.count = 0; /* the path is "/" */

  /* Step 9: one Uri-Query per argument. */
  size_t q_count = 0, q_bytes = 0;
  if (u->has_query) {
    size_t start = 0;
    for (size_t i = 0; i <= u->query_len; i++) {
      if (i == u->query_len || u->query[i] == '&') {
        rc_ssize d = uri_pct_decode(u->query + start, i - start, NULL, 0);
        if (d < 0)
          return (rc_err)d;
        if ((size_t)d > RC_URI_SEGMENT_MAX)
          return RC_ERR_OPT_FORMAT;
        q_count++;
        q_bytes += (size_t)d;
        start = i + 1;
      }
    }
  }

  size_t count = (size_t)want_host + (size_t)want_port + pc.count + q_count;
  size_t bytes = host_bytes + port_bytes + (pc.count ? pc.bytes : 0) + q_bytes;
  if (count > cap - base || bytes > scratch_cap) {
    *n_opts = base + count;
    if (scratch_len != NULL)
      *scratch_len = bytes;
    return RC_ERR_NOBUF;
  }

  *n_opts = base + count;
  if (scratch_len != NULL)
    *scratch_len = bytes;
  if (count == 0)
    return RC_OK; /* nothing to store (opts and scratch may be NULL) */
  uint8_t dummy = 0; /* only for a NULL scratch when bytes == 0 */
  rc_opt *o = opts + base;
  uint8_t *w = scratch != NULL ? scratch : &dummy;
  if (want_host) {
    uri_pct_decode(u->host_raw, u->host_raw_len, w, 1);
    *o++ = (rc_opt){RC_OPT_URI_HOST, (uint32_t)host_bytes, w};
    w += host_bytes;
  }
  if (want_port) {
    memcpy(w, port_val, port_bytes);
    *o++ = (rc_opt){RC_OPT_URI_PORT, (uint32_t)port_bytes, w};
    w += port_bytes;
  }
  if (pc.count > 0) {
    uri_path_store st = {o + pc.count, w + pc.bytes};
    e = uri_path_walk_back(u->path, u->path_len, uri_path_store_cb, &st);
    if (e != RC_OK)
      return e;
    o += pc.count;
    w += pc.bytes;
  }
  if (u->has_query) {
    uri_query_store st = {o, w};
    e = uri_query_walk(u->query, u->query_len, uri_query_store_cb, &st);
    if (e != RC_OK)
      return e;
  }
  if (base > 0)
    rc_opts_sort(opts, base + count);
  return RC_OK;
}

/* ------------------------------------------------------------------ */
/* Composition                                                         */

/* A bounded writer that keeps counting past its capacity. */
typedef struct uri_out {
  char *buf;
  size_t cap;
  size_t pos;
} uri_out;

static void uri_put(uri_out *o, char c) {
  if (o->pos < o->cap)
    o->buf[o->pos] = c;
  o->pos++;
}

static void uri_puts(uri_out *o, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    uri_put(o, s[i]);
}

static void uri_put_pct(uri_out *o, uint8_t b) {
  static const char hex[] = "0123456789ABCDEF";
  uri_put(o, '%');
  uri_put(o, hex[b >> 4]);
  uri_put(o, hex[b & 15]);
}

/* Writes v, percent-encoding every byte for which keep() is false. */
static void uri_put_encoded(uri_out *o, const uint8_t *v, size_t n,
                            int (*keep)(int)) {
  for (size_t i = 0; i < n; i++) {
    if (keep(v[i]))
      uri_put(o, (char)v[i]);
    else
      uri_put_pct(o, v[i]);
  }
}

/* RFC 7252 §6.5 step 6: keep "unreserved", "sub-delims", ':' and '@'. */
static int uri_keep_segment(int c) { return uri_is_pchar(c); }
/* Step 8: keep unreserved, sub-delims except '&', ':', '@', '/', '?'. */
static int uri_keep_query(int c) {
  return c != '&' && (uri_is_pchar(c) || c == '/' || c == '?');
}

/* Writes an IPv6 address text v[0..n) ("::1", "fe80::1%eth0", or already
 * bracketed "[fe80::1%25eth0]") as an IP-literal. */
static rc_err uri_put_ipv6(uri_out *o, const char *v, size_t n) {
  int bracketed = n >= 2 && v[0] == '[' && v[n - 1] == ']';
  if (n > 0 && v[0] == '[' && !bracketed)
    return RC_ERR_BAD_HOST;
  if (bracketed) {
    v++;
    n -= 2;
  }
  const char *pct = memchr(v, '%', n);
  size_t addr_len = pct ? (size_t)(pct - v) : n;
  if (!uri_ipv6_valid(v, addr_len))
    return RC_ERR_BAD_HOST;
  const char *zone = NULL;
  size_t zone_len = 0;
  if (pct != NULL) {
    zone = pct + 1;
    zone_len = n - addr_len - 1;
    if (zone_len == 0)
      return RC_ERR_BAD_HOST;
    /* A bracketed literal is normally encoded ("%25" ZoneID, as written in
     * a URI); a decoded one ("%eth0", as a Uri-Host from RFC 7252 §6.4
     * step 5 holds it) is encoded here. */
    if (!bracketed || zone_len < 3 || zone[0] != '2' || zone[1] != '5' ||
        uri_zone_check(zone + 2, zone_len - 2) != RC_OK)
      bracketed = 0;
  }
  uri_put(o, '[');
  for (size_t i = 0; i < addr_len; i++)
    uri_put(o, (char)uri_lower((unsigned char)v[i]));
  if (zone != NULL) {
    if (bracketed) {
      uri_put(o, '%');
      uri_puts(o, zone, zone_len);
    } else {
      uri_puts(o, "%25", 3);
      uri_put_encoded(o, (const uint8_t *)zone, zone_len, uri_is_unreserved);
    }
  }
  uri_put(o, ']');
  return RC_OK;
}

/* Writes a host (Uri-Host value or destination) as RFC 7252 §6.5 step 2
 * wants it: IP literals in brackets, other bytes that are not allowed in a
 * reg-name percent-encoded. */
static rc_err uri_put_host(uri_out *o, const uint8_t *v, size_t n) {
  if (n == 0)
    return RC_ERR_BAD_HOST;
  if (v[0] == '[')
    return uri_put_ipv6(o, (const char *)v, n);
  if (memchr(v, ':', n) != NULL) {
    const uint8_t *pct = memchr(v, '%', n);
    size_t al = pct ? (size_t)(pct - v) : n;
    if (uri_ipv6_valid((const char *)v, al) && (pct == NULL || al + 1 < n))
      return uri_put_ipv6(o, (const char *)v, n);
  }
  uri_put_encoded(o, v, n, uri_is_regname_char);
  return RC_OK;
}

/* Options source: an array or a parsed message. */
typedef struct uri_optsrc {
  const rc_opt *arr;
  size_t n, i;
  const rc_msg *msg;
  rc_opt_iter it;
} uri_optsrc;

static void uri_src_reset(uri_optsrc *s) {
  s->i = 0;
  if (s->msg != NULL)
    rc_opt_iter_init(&s->it, s->msg);
}

static int uri_src_next(uri_optsrc *s, rc_opt *out) {
  if (s->msg != NULL)
    return rc_opt_next(&s->it, out);
  if (s->i >= s->n)
    return 0;
  *out = s->arr[s->i++];
  return 1;
}

/* First option num of the source: 1 and *out, or 0. */
static int uri_src_find(uri_optsrc *s, uint16_t num, rc_opt *out) {
  uri_src_reset(s);
  rc_opt o;
  while (uri_src_next(s, &o))
    if (o.num == num) {
      *out = o;
      return 1;
    }
  return 0;
}

static rc_err uri_compose(rc_scheme scheme, const char *dest_host,
                          size_t dest_host_len, uint16_t dest_port,
                          uri_optsrc *src, char *buf, size_t cap,
                          size_t *out_len) {
  const char *name = rc_scheme_name(scheme);
  if (name == NULL || out_len == NULL || (buf == NULL && cap > 0))
    return RC_ERR_INVAL;
  uri_out o = {buf, cap, 0};
  /* Step 1 (RFC 8323 §8.7): the scheme the request came over. */
  uri_puts(&o, name, strlen(name));
  uri_puts(&o, "://", 3);

  /* Steps 2-3: Uri-Host, else the destination address. */
  rc_opt opt;
  rc_err e;
  if (uri_src_find(src, RC_OPT_URI_HOST, &opt)) {
    e = uri_put_host(&o, opt.val, opt.len);
  } else {
    if (dest_host == NULL || dest_host_len == 0)
      return RC_ERR_INVAL;
    e = uri_put_host(&o, (const uint8_t *)dest_host, dest_host_len);
  }
  if (e != RC_OK)
    return e;

  /* Steps 4-5: Uri-Port, else the destination port; omitted when it is
   * the scheme's default. */
  uint16_t def = rc_scheme_default_port(scheme);
  uint32_t port = dest_port ? dest_port : def;
  if (uri_src_find(src, RC_OPT_URI_PORT, &opt)) {
    if (opt.len > 2)
      return RC_ERR_OPT_FORMAT;
    port = 0;
    for (uint32_t k = 0; k < opt.len; k++)
      port = port << 8 | opt.val[k];
    if (port == 0)
      return RC_ERR_BAD_PORT;
  }
  if (scheme != RC_SCHEME_COAPS_WR && port != def) {
    char digits[6];
    size_t nd = 0;
    do {
      digits[nd++] = (char)('0' + port % 10);
      port /= 10;
    } while (port > 0);
    uri_put(&o, ':');
    while (nd > 0)
      uri_put(&o, digits[--nd]);
  }

  /* Steps 6-7: the path, "/" when there is no Uri-Path. */
  int any = 0;
  uri_src_reset(src);
  while (uri_src_next(src, &opt)) {
    if (opt.num != RC_OPT_URI_PATH)
      continue;
    any = 1;
    uri_put(&o, '/');
    if (opt.len == 1 && opt.val[0] == '.')
      uri_puts(&o, "%2E", 3);
    else if (opt.len == 2 && opt.val[0] == '.' && opt.val[1] == '.')
      uri_puts(&o, "%2E%2E", 6);
    else
      uri_put_encoded(&o, opt.val, opt.len, uri_keep_segment);
  }
  if (!any)
    uri_put(&o, '/');

  /* Step 8: "?" and the arguments joined by '&'. */
  any = 0;
  uri_src_reset(src);
  while (uri_src_next(src, &opt)) {
    if (opt.num != RC_OPT_URI_QUERY)
      continue;
    uri_put(&o, any ? '&' : '?');
    any = 1;
    uri_put_encoded(&o, opt.val, opt.len, uri_keep_query);
  }

  if (o.pos >= cap) {
    *out_len = o.pos + 1;
    return RC_ERR_NOBUF;
  }
  buf[o.pos] = '\0';
  *out_len = o.pos;
  return RC_OK;
}

rc_err rc_uri_compose(rc_scheme scheme, const char *dest_host,
                      size_t dest_host_len, uint16_t dest_port,
                      const rc_opt *opts, size_t n_opts, char *buf,
                      size_t cap, size_t *out_len) {
  if (opts == NULL && n_opts > 0)
    return RC_ERR_INVAL;
  uri_optsrc src;
  memset(&src, 0, sizeof src);
  src.arr = opts;
  src.n = n_opts;
  return uri_compose(scheme, dest_host, dest_host_len, dest_port, &src, buf,
                     cap, out_len);
}

rc_err rc_uri_compose_msg(rc_scheme scheme, const char *dest_host,
                          size_t dest_host_len, uint16_t dest_port,
                          const rc_msg *m, char *buf, size_t cap,
                          size_t *out_len) {
  if (m == NULL)
    return RC_ERR_INVAL;
  uri_optsrc src;
  memset(&src, 0, sizeof src);
  src.msg = m;
  return uri_compose(scheme, dest_host, dest_host_len, dest_port, &src, buf,
                     cap, out_len);
}
