/*
 * rc_sdp_parse: an SDP offer or answer read leniently, line by line, into
 * rc_sdp (sdp.h says what is kept). Lines end in CRLF or LF; a line we do
 * not use is skipped, a line we use must be well formed.
 */
#include "transport/webrtc/sdp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

/* A view of part of a line. */
typedef struct span {
  const char *p;
  size_t n;
} span;

static bool starts(span s, const char *prefix, span *rest) {
  size_t k = strlen(prefix);
  if (s.n < k || memcmp(s.p, prefix, k))
    return false;
  rest->p = s.p + k, rest->n = s.n - k;
  return true;
}

static bool eq(span s, const char *w) {
  return s.n == strlen(w) && !memcmp(s.p, w, s.n);
}

/* The next space-separated token of *s (consumed), empty at the end. */
static span token(span *s) {
  while (s->n && *s->p == ' ')
    s->p++, s->n--;
  span t = {s->p, 0};
  while (t.n < s->n && s->p[t.n] != ' ')
    t.n++;
  s->p += t.n, s->n -= t.n;
  return t;
}

/* A decimal number of at most max; false if not one. */
static bool number(span s, uint64_t max, uint64_t *out) {
  uint64_t v = 0;
  if (!s.n || s.n > 20)
    return false;
  for (size_t i = 0; i < s.n; i++) {
    if (s.p[i] < '0' || s.p[i] > '9')
      return false;
    uint64_t d = (uint64_t)(s.p[i] - '0');
    if (v > (max - d) / 10)
      return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

/* Copies s into a NUL-terminated field of cap bytes; no spaces. */
static bool copy(char *dst, size_t cap, span s) {
  if (!s.n || s.n >= cap || memchr(s.p, ' ', s.n))
    return false;
  memcpy(dst, s.p, s.n);
  dst[s.n] = 0;
  return true;
}

/* "AB:CD:..." (RFC 8122 §5: uppercase hex pairs with colons; either case
 * read) into 32 bytes. */
static bool fingerprint(span s, uint8_t out[RC_SDP_FINGERPRINT_LEN]) {
  if (s.n != RC_SDP_FINGERPRINT_LEN * 3 - 1)
    return false;
  for (size_t i = 0; i < RC_SDP_FINGERPRINT_LEN; i++) {
    int hi = rc_hex_digit(s.p[3 * i]), lo = rc_hex_digit(s.p[3 * i + 1]);
    if (hi < 0 || lo < 0 || (i + 1 < RC_SDP_FINGERPRINT_LEN && s.p[3 * i + 2] != ':'))
      return false;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return true;
}

/* A numeric address and port into a; false for names (mDNS .local too). */
static bool address(span host, uint64_t port, struct sockaddr_storage *a) {
  char buf[INET6_ADDRSTRLEN + 1];
  memset(a, 0, sizeof *a);
  if (!host.n || host.n >= sizeof buf)
    return false;
  memcpy(buf, host.p, host.n);
  buf[host.n] = 0;
  struct sockaddr_in *s4 = (struct sockaddr_in *)a;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)a;
  if (inet_pton(AF_INET, buf, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    return true;
  }
  if (inet_pton(AF_INET6, buf, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    return true;
  }
  return false;
}

/* a=candidate:<foundation> <component> <transport> <priority> <address>
 * <port> typ <type> [extensions] (RFC 8839 §5.1). A candidate we cannot
 * use is skipped; only a malformed one fails. */
static rc_err candidate(rc_sdp *d, span v) {
  rc_sdp_cand c;
  memset(&c, 0, sizeof c);
  span f = token(&v), comp = token(&v), tr = token(&v), pri = token(&v);
  span host = token(&v), port = token(&v), typ = token(&v), type = token(&v);
  uint64_t ncomp, npri, nport;
  if (!copy(c.foundation, sizeof c.foundation, f) || !number(comp, 256, &ncomp) ||
      !number(pri, UINT32_MAX, &npri) || !number(port, 65535, &nport) ||
      !eq(typ, "typ") || !type.n || !tr.n || !host.n)
    return RC_ERR_SDP;
  c.component = (uint16_t)ncomp;
  c.priority = (uint32_t)npri;
  if (eq(type, "host"))
    c.type = RC_SDP_CAND_HOST;
  else if (eq(type, "srflx"))
    c.type = RC_SDP_CAND_SRFLX;
  else if (eq(type, "prflx"))
    c.type = RC_SDP_CAND_PRFLX;
  else if (eq(type, "relay"))
    c.type = RC_SDP_CAND_RELAY;
  else
    return RC_ERR_SDP;
  /* mDNS names (<uuid>.local), TCP candidates, other components and a
   * full table are skipped: ICE still finds the peer through
   * peer-reflexive candidates. */
  if (tr.n != 3 || strncasecmp(tr.p, "udp", 3) || c.component != 1 ||
      nport == 0 || !address(host, nport, &c.addr) ||
      d->ncand == RC_SDP_CAND_MAX) {
    d->skipped++;
    return RC_OK;
  }
  d->cand[d->ncand++] = c;
  return RC_OK;
}

/* m=application <port> <proto> <fmt>: is it a data-channel section? */
static bool datachannel_media(rc_sdp *d, span v) {
  span port = token(&v), proto = token(&v), fmt = token(&v);
  uint64_t n;
  span pn = port;
  const char *slash = memchr(port.p, '/', port.n); /* <port>/<count> */
  if (slash)
    pn.n = (size_t)(slash - port.p);
  /* RFC 3264 §6: port 0 is a rejected (or bundle-only) section, never
   * the one we answer. */
  if (!number(pn, 65535, &n) || n == 0)
    return false;
  if ((eq(proto, "UDP/DTLS/SCTP") || eq(proto, "TCP/DTLS/SCTP")) &&
      eq(fmt, "webrtc-datachannel")) {
    d->legacy = false;
  } else if (eq(proto, "DTLS/SCTP")) {
    uint64_t sp;
    if (!number(fmt, 65535, &sp))
      return false;
    d->legacy = true;
    d->sctp_port = (uint16_t)sp;
  } else {
    return false;
  }
  d->media_port = (uint16_t)n;
  return true;
}

/* m=<media> <port> <proto> <fmt> ...: kept in order (media, proto and
 * the first format), our data channel's or not. */
static rc_err media_line(rc_sdp *d, span v) {
  if (d->nmedia == RC_SDP_MEDIA_MAX) {
    d->why = "more m-sections than rcoap keeps (8)";
    return RC_ERR_SDP;
  }
  rc_sdp_media *m = &d->media[d->nmedia++];
  span media = token(&v);
  token(&v); /* port */
  span proto = token(&v), fmt = token(&v);
  if (!copy(m->media, sizeof m->media, media) ||
      !copy(m->proto, sizeof m->proto, proto) ||
      !copy(m->fmt, sizeof m->fmt, fmt)) {
    d->why = "a malformed m= line";
    return RC_ERR_SDP;
  }
  return RC_OK;
}

/* Attributes the session level and our section share. */
typedef struct ice_attrs {
  char ufrag[RC_SDP_ICE_MAX + 1], pwd[RC_SDP_ICE_MAX + 1];
  bool lite, trickle, has_fp;
  uint8_t fp[RC_SDP_FINGERPRINT_LEN];
  rc_sdp_setup setup;
} ice_attrs;

static rc_err shared_attr(ice_attrs *a, span line) {
  span v;
  if (starts(line, "a=ice-ufrag:", &v))
    return copy(a->ufrag, sizeof a->ufrag, v) ? RC_OK : RC_ERR_SDP;
  if (starts(line, "a=ice-pwd:", &v))
    return copy(a->pwd, sizeof a->pwd, v) ? RC_OK : RC_ERR_SDP;
  if (eq(line, "a=ice-lite"))
    a->lite = true;
  else if (starts(line, "a=ice-options:", &v)) {
    /* RFC 8839 §5.6 separates the options with spaces; libdatachannel
     * writes "ice2,trickle": commas are taken as separators too. */
    for (size_t i = 0; i < v.n; i++) {
      size_t k = 0;
      while (i + k < v.n && v.p[i + k] != ' ' && v.p[i + k] != ',')
        k++;
      a->trickle |= k == 7 && !memcmp(v.p + i, "trickle", 7);
      i += k;
    }
  } else if (starts(line, "a=fingerprint:", &v)) {
    span alg = token(&v), hex = token(&v);
    /* RFC 8122 §5: hash names are case-insensitive; we check sha-256
     * only and skip the others. */
    if (alg.n == 7 && !strncasecmp(alg.p, "sha-256", 7)) {
      if (!fingerprint(hex, a->fp))
        return RC_ERR_SDP;
      a->has_fp = true;
    }
  } else if (starts(line, "a=setup:", &v)) {
    if (eq(v, "actpass"))
      a->setup = RC_SDP_SETUP_ACTPASS;
    else if (eq(v, "active"))
      a->setup = RC_SDP_SETUP_ACTIVE;
    else if (eq(v, "passive"))
      a->setup = RC_SDP_SETUP_PASSIVE;
    else
      return RC_ERR_SDP; /* holdconn or junk: no DTLS role */
  }
  return RC_OK;
}

/* A line of our data-channel section. */
static rc_err media_attr(rc_sdp *d, span line, bool *has_mms) {
  span v;
  uint64_t n;
  if (starts(line, "a=candidate:", &v))
    return candidate(d, v);
  if (eq(line, "a=end-of-candidates"))
    d->end_of_candidates = true;
  else if (starts(line, "a=mid:", &v))
    return copy(d->mid, sizeof d->mid, v) ? RC_OK : RC_ERR_SDP;
  else if (starts(line, "a=sctp-port:", &v)) {
    if (!number(v, 65535, &n))
      return RC_ERR_SDP;
    d->sctp_port = (uint16_t)n;
  } else if (starts(line, "a=max-message-size:", &v)) {
    /* RFC 8841 §6: 0 means no limit; we keep the largest uint32. */
    if (!number(v, UINT64_MAX / 10, &n))
      return RC_ERR_SDP;
    d->max_message_size = n == 0 || n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
    *has_mms = true;
  } else if (starts(line, "a=sctpmap:", &v)) {
    /* Legacy: a=sctpmap:<port> webrtc-datachannel [<streams>]. */
    if (!number(token(&v), 65535, &n) || !eq(token(&v), "webrtc-datachannel"))
      return RC_ERR_SDP;
    d->sctp_port = (uint16_t)n;
  }
  return RC_OK;
}

rc_err rc_sdp_parse(rc_sdp *d, const char *text, size_t len) {
  memset(d, 0, sizeof *d);
  if (len > RC_SDP_TEXT_MAX)
    return RC_ERR_TOO_LARGE;
  ice_attrs sess, med;
  memset(&sess, 0, sizeof sess);
  memset(&med, 0, sizeof med);
  enum { SESSION, OURS, OTHER } where = SESSION;
  bool found = false;
  bool has_mms = false;
  d->sctp_port = 5000; /* RFC 8841 §5.2: absent sctp-port means 5000 */
  for (size_t at = 0; at < len;) {
    const char *nl = memchr(text + at, '\n', len - at);
    span line = {text + at, nl ? (size_t)(nl - (text + at)) : len - at};
    at += line.n + (nl != NULL);
    if (line.n && line.p[line.n - 1] == '\r')
      line.n--;
    span v;
    rc_err err = RC_OK;
    if (starts(line, "m=", &v)) {
      if ((err = media_line(d, v)) != RC_OK)
        return err;
      /* The first data-channel section is ours; any later one is
       * another section (rejected in an answer). */
      where = !found && starts(v, "application ", &v) && datachannel_media(d, v)
                  ? OURS : OTHER;
      if (where == OURS) {
        found = true;
        d->ours = d->nmedia - 1;
      }
      continue;
    }
    if (where == SESSION && starts(line, "o=", &v)) {
      uint64_t id = 0, ver = 0;
      token(&v); /* username */
      if (number(token(&v), UINT64_MAX, &id) && number(token(&v), UINT64_MAX, &ver))
        d->session_id = id, d->session_version = ver;
    } else if (where == SESSION) {
      err = shared_attr(&sess, line);
    } else if (where == OURS) {
      err = shared_attr(&med, line);
      if (!err)
        err = media_attr(d, line, &has_mms);
    } else if (starts(line, "a=mid:", &v) &&
               !copy(d->media[d->nmedia - 1].mid, sizeof d->media[0].mid, v)) {
      err = RC_ERR_SDP; /* another section's, which an answer repeats */
    }
    if (err) {
      if (!d->why)
        d->why = "a malformed line (m=, a=mid, or an ICE, DTLS or SCTP attribute)";
      return err;
    }
  }
  if (!found) {
    d->why = "no data-channel section (m=application ... "
             "UDP/DTLS/SCTP webrtc-datachannel)";
    return RC_ERR_SDP;
  }
  memcpy(d->media[d->ours].mid, d->mid, sizeof d->mid);
  /* RFC 8839 §5.4 / RFC 8122 §5: media-level values win over session
   * level ones. */
  const ice_attrs *u = med.ufrag[0] ? &med : &sess, *p = med.pwd[0] ? &med : &sess;
  memcpy(d->ice_ufrag, u->ufrag, sizeof d->ice_ufrag);
  memcpy(d->ice_pwd, p->pwd, sizeof d->ice_pwd);
  d->ice_lite = sess.lite || med.lite; /* session-level by RFC 8839 */
  d->ice_trickle = med.trickle || sess.trickle;
  d->setup = med.setup ? med.setup : sess.setup;
  const ice_attrs *f = med.has_fp ? &med : &sess;
  memcpy(d->fingerprint, f->fp, sizeof d->fingerprint);
  /* RFC 8841 §6.1: "If the SDP 'max-message-size' attribute is not
   * present, the default value is 64K." */
  if (!has_mms)
    d->max_message_size = RC_SDP_DEFAULT_MAX_MESSAGE;
  if (!d->ice_ufrag[0] || !d->ice_pwd[0]) {
    d->why = "no a=ice-ufrag or a=ice-pwd for the data channel";
    return RC_ERR_SDP;
  }
  if (!f->has_fp) {
    d->why = "no a=fingerprint:sha-256 for the data channel";
    return RC_ERR_SDP;
  }
  return RC_OK;
}
