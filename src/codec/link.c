/*
 * CoRE Link Format (RFC 6690): validation and pull parsing of link lists,
 * attribute lookup, the RFC 6690 §4.1 query filter used by
 * /.well-known/core, and a writer that emits link-format into a caller's
 * buffer. Every scan is bounded by the end pointer of the caller's buffer,
 * so input cut at any length is read safely; nothing is allocated.
 */
#include "rcoap/codec_link.h"

#include <string.h>

/* ------------------------------------------------------------------ */
/* Character classes                                                   */

static int lk_is_alpha(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static int lk_is_digit(int c) { return c >= '0' && c <= '9'; }
static int lk_is_hex(int c) {
  return lk_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static int lk_lower(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

/* attr-char (RFC 5987 §3.2.1), the characters of a parmname. */
static int lk_is_attr_char(int c) {
  return lk_is_alpha(c) || lk_is_digit(c) || c == '!' || c == '#' ||
         c == '$' || c == '&' || c == '+' || c == '-' || c == '.' ||
         c == '^' || c == '_' || c == '`' || c == '|' || c == '~';
}

/* ptokenchar, RFC 6690 §2. */
static int lk_is_ptoken_char(int c) {
  return lk_is_alpha(c) || lk_is_digit(c) ||
         (c != 0 && strchr("!#$%&'()*+-./:<=>?@[]^_`{|}~", c) != NULL);
}

/* Characters of a URI-reference (RFC 3986 §2): unreserved, reserved, '%'. */
static int lk_is_uri_char(int c) {
  return lk_is_alpha(c) || lk_is_digit(c) ||
         (c != 0 && strchr("-._~:/?#[]@!$&'()*+,;=%", c) != NULL);
}

static int lk_is_ws(int c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* qdtext: any byte but CTLs (HTAB allowed), '"' and '\'. */
static int lk_is_qdtext(int c) {
  return c == '\t' || (c >= 0x20 && c != 0x7f && c != '"' && c != '\\');
}

/* ------------------------------------------------------------------ */
/* Scanning helpers (all bounded by end)                               */

static const char *lk_skip_ws(const char *p, const char *end,
                              unsigned flags) {
  if (flags & RC_LINK_LENIENT)
    while (p < end && lk_is_ws((unsigned char)*p))
      p++;
  return p;
}

/* Scans a URI-reference up to '>'; returns the '>' or NULL. */
static const char *lk_scan_target(const char *p, const char *end) {
  while (p < end && *p != '>') {
    int c = (unsigned char)*p;
    if (!lk_is_uri_char(c))
      return NULL;
    if (c == '%') {
      if (end - p < 3 || !lk_is_hex((unsigned char)p[1]) ||
          !lk_is_hex((unsigned char)p[2]))
        return NULL;
      p += 2;
    }
    p++;
  }
  return p < end ? p : NULL;
}

/* Scans a quoted-string starting at the opening '"'. Returns the position
 * after the closing '"', or NULL. *escaped is set when a quoted-pair was
 * seen. */
static const char *lk_scan_quoted(const char *p, const char *end,
                                  int *escaped) {
  p++; /* '"' */
  while (p < end) {
    int c = (unsigned char)*p;
    if (c == '"')
      return p + 1;
    if (c == '\\') {
      /* quoted-pair = "\" CHAR (US-ASCII 0-127) */
      if (end - p < 2 || (unsigned char)p[1] > 127)
        return NULL;
      *escaped = 1;
      p += 2;
      continue;
    }
    if (!lk_is_qdtext(c))
      return NULL;
    p++;
  }
  return NULL;
}

/*
 * Parses one ";name[=value]" starting at p (at the ';'). Fills *a and
 * returns the position after it, or NULL when malformed.
 */
static const char *lk_scan_param(const char *p, const char *end,
                                 unsigned flags, rc_link_attr *a) {
  memset(a, 0, sizeof *a);
  if (p >= end || *p != ';')
    return NULL;
  p = lk_skip_ws(p + 1, end, flags);
  const char *n0 = p;
  while (p < end && lk_is_attr_char((unsigned char)*p))
    p++;
  if (p == n0)
    return NULL;
  if (p < end && *p == '*') /* ext-name-star = parmname "*" */
    p++;
  a->name = n0;
  a->name_len = (size_t)(p - n0);
  const char *q = lk_skip_ws(p, end, flags);
  if (q >= end || *q != '=')
    return p; /* a flag; whitespace after it belongs to the caller */
  q = lk_skip_ws(q + 1, end, flags);
  a->has_value = 1;
  if (q < end && *q == '"') {
    int esc = 0;
    const char *after = lk_scan_quoted(q, end, &esc);
    if (after == NULL)
      return NULL;
    a->quoted = 1;
    a->escaped = (uint8_t)esc;
    a->value = q + 1;
    a->value_len = (size_t)(after - q - 2);
    return after;
  }
  const char *v0 = q;
  while (q < end && lk_is_ptoken_char((unsigned char)*q))
    q++;
  if (q == v0)
    return NULL; /* ptoken = 1*ptokenchar */
  a->value = v0;
  a->value_len = (size_t)(q - v0);
  return q;
}

/* ------------------------------------------------------------------ */
/* Pull parser                                                         */

void rc_link_iter_init(rc_link_iter *it, const char *buf, size_t len,
                       unsigned flags) {
  memset(it, 0, sizeof *it);
  it->p = buf;
  it->end = buf ? buf + len : NULL;
  it->flags = flags;
  if (buf == NULL && len > 0)
    it->err = RC_ERR_INVAL;
}

static int lk_fail(rc_link_iter *it) {
  it->err = RC_ERR_BAD_LINK;
  return RC_ERR_BAD_LINK;
}

int rc_link_next(rc_link_iter *it, rc_link *out) {
  if (it->err != RC_OK)
    return it->err;
  const char *p = lk_skip_ws(it->p, it->end, it->flags);
  if (p == it->end) {
    it->p = p;
    /* link-value-list = [ link-value *( "," link-value ) ]: a ',' must be
     * followed by a link. */
    return it->need_link ? lk_fail(it) : 0;
  }
  /* link-value = "<" URI-Reference ">" *( ";" link-param ) */
  if (*p != '<')
    return lk_fail(it);
  const char *gt = lk_scan_target(p + 1, it->end);
  if (gt == NULL)
    return lk_fail(it);
  rc_link l;
  l.target = p + 1;
  l.target_len = (size_t)(gt - p - 1);
  l.flags = it->flags;
  p = gt + 1;
  l.params = p;
  const char *params_end = p;
  for (;;) {
    const char *q = lk_skip_ws(p, it->end, it->flags);
    if (q == it->end || *q == ',')
      break;
    rc_link_attr a;
    p = lk_scan_param(q, it->end, it->flags, &a);
    if (p == NULL)
      return lk_fail(it);
    params_end = p;
  }
  l.params_len = (size_t)(params_end - l.params);
  p = lk_skip_ws(p, it->end, it->flags);
  it->need_link = 0;
  if (p < it->end) { /* *p == ',' */
    it->need_link = 1;
    p++;
  }
  it->p = p;
  *out = l;
  return 1;
}

rc_ssize rc_link_count(const char *buf, size_t len, unsigned flags) {
  rc_link_iter it;
  rc_link l;
  rc_link_iter_init(&it, buf, len, flags);
  rc_ssize n = 0;
  int r;
  while ((r = rc_link_next(&it, &l)) == 1)
    n++;
  return r < 0 ? r : n;
}

/* ------------------------------------------------------------------ */
/* Attributes                                                          */

void rc_link_attr_iter_init(rc_link_attr_iter *it, const rc_link *link) {
  it->p = link->params;
  it->end = link->params ? link->params + link->params_len : NULL;
  it->flags = link->flags;
}

int rc_link_attr_next(rc_link_attr_iter *it, rc_link_attr *out) {
  const char *q = lk_skip_ws(it->p, it->end, it->flags);
  if (q == NULL || q >= it->end)
    return 0;
  const char *p = lk_scan_param(q, it->end, it->flags, out);
  if (p == NULL) { /* not from rc_link_next: stop rather than guess */
    it->p = it->end;
    return 0;
  }
  it->p = p;
  return 1;
}

static int lk_name_eq(const char *a, size_t an, const char *b, size_t bn) {
  if (an != bn)
    return 0;
  for (size_t i = 0; i < an; i++)
    if (lk_lower((unsigned char)a[i]) != lk_lower((unsigned char)b[i]))
      return 0;
  return 1;
}

int rc_link_find_attr(const rc_link *link, const char *name, size_t name_len,
                      rc_link_attr *out) {
  rc_link_attr_iter it;
  rc_link_attr a;
  rc_link_attr_iter_init(&it, link);
  while (rc_link_attr_next(&it, &a))
    if (lk_name_eq(a.name, a.name_len, name, name_len)) {
      if (out != NULL)
        *out = a;
      return 1;
    }
  return 0;
}

/* Reads value bytes resolving quoted-pairs: a tiny cursor. */
typedef struct lk_cur {
  const char *p;
  const char *end;
  int esc;
} lk_cur;

static int lk_cur_get(lk_cur *c) {
  if (c->p >= c->end)
    return -1;
  if (c->esc && *c->p == '\\' && c->end - c->p >= 2)
    c->p++;
  return (unsigned char)*c->p++;
}

/* A cursor over an attribute's value (empty for a flag, whose value is
 * NULL: no arithmetic on it). */
static lk_cur lk_cur_of(const rc_link_attr *a) {
  lk_cur c = {NULL, NULL, a->escaped};
  if (a->value != NULL) {
    c.p = a->value;
    c.end = a->value + a->value_len;
  }
  return c;
}

rc_err rc_link_attr_unquote(const rc_link_attr *a, char *buf, size_t cap,
                            size_t *out_len) {
  if (a == NULL || out_len == NULL || (buf == NULL && cap > 0))
    return RC_ERR_INVAL;
  lk_cur c = lk_cur_of(a);
  size_t n = 0;
  int ch;
  while ((ch = lk_cur_get(&c)) >= 0) {
    if (n < cap)
      buf[n] = (char)ch;
    n++;
  }
  *out_len = n;
  return n > cap ? RC_ERR_NOBUF : RC_OK;
}

int rc_link_attr_value_eq(const rc_link_attr *a, const char *v, size_t n) {
  lk_cur c = lk_cur_of(a);
  for (size_t i = 0; i < n; i++)
    if (lk_cur_get(&c) != (unsigned char)v[i])
      return 0;
  return lk_cur_get(&c) < 0;
}

/* ------------------------------------------------------------------ */
/* RFC 6690 §4.1 filtering                                             */

/* Does value v (a cursor) match pattern? A trailing '*' makes it a prefix
 * match. */
static int lk_match_value(lk_cur c, const char *pat, size_t pn) {
  int prefix = pn > 0 && pat[pn - 1] == '*';
  if (prefix)
    pn--;
  for (size_t i = 0; i < pn; i++)
    if (lk_cur_get(&c) != (unsigned char)pat[i])
      return 0;
  return prefix || lk_cur_get(&c) < 0;
}

/* Attributes whose values are space-separated lists: relation-types
 * (RFC 6690 §2: rel, rev, rt, if) and ct (RFC 7252 §7.2.1). */
static int lk_is_list_attr(const char *n, size_t len) {
  static const char *const names[] = {"rel", "rev", "rt", "if", "ct"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (lk_name_eq(n, len, names[i], strlen(names[i])))
      return 1;
  return 0;
}

static int lk_match_attr(const rc_link_attr *a, const char *pat, size_t pn) {
  if (pat == NULL)
    return 1;
  lk_cur whole = lk_cur_of(a);
  if (!a->quoted || !lk_is_list_attr(a->name, a->name_len))
    return lk_match_value(whole, pat, pn);
  /* relation-types = relation-type / DQUOTE relation-type *( 1*SP
   * relation-type ) DQUOTE: match any element. */
  const char *p = a->value, *end = a->value + a->value_len;
  while (p < end) {
    while (p < end && *p == ' ')
      p++;
    const char *e = p;
    while (e < end && *e != ' ')
      e++;
    if (e > p) {
      lk_cur elem = {p, e, a->escaped};
      if (lk_match_value(elem, pat, pn))
        return 1;
    }
    p = e;
  }
  return 0;
}

int rc_link_match(const rc_link *link, const char *name, size_t name_len,
                  const char *pattern, size_t pattern_len) {
  if (link == NULL || name == NULL)
    return 0;
  if (lk_name_eq(name, name_len, "href", 4)) {
    if (pattern == NULL)
      return 1;
    lk_cur t = {link->target, link->target + link->target_len, 0};
    return lk_match_value(t, pattern, pattern_len);
  }
  rc_link_attr_iter it;
  rc_link_attr a;
  rc_link_attr_iter_init(&it, link);
  while (rc_link_attr_next(&it, &a))
    if (lk_name_eq(a.name, a.name_len, name, name_len) &&
        lk_match_attr(&a, pattern, pattern_len))
      return 1;
  return 0;
}

int rc_link_match_query(const rc_link *link, const char *query, size_t len) {
  if (query == NULL)
    return 0;
  const char *eq = memchr(query, '=', len);
  if (eq == NULL)
    return rc_link_match(link, query, len, NULL, 0);
  return rc_link_match(link, query, (size_t)(eq - query), eq + 1,
                       len - (size_t)(eq - query) - 1);
}

/* ------------------------------------------------------------------ */
/* Writer                                                              */

void rc_link_writer_init(rc_link_writer *w, char *buf, size_t cap) {
  memset(w, 0, sizeof *w);
  w->buf = buf;
  w->cap = buf ? cap : 0;
}

static void lk_put(rc_link_writer *w, char c) {
  if (w->pos < w->cap)
    w->buf[w->pos] = c;
  w->pos++;
}

static void lk_puts(rc_link_writer *w, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    lk_put(w, s[i]);
}

static rc_err lk_werr(rc_link_writer *w, rc_err e) {
  w->err = e;
  return e;
}

rc_err rc_link_begin(rc_link_writer *w, const char *target, size_t len) {
  if (w->err != RC_OK)
    return w->err;
  if (w->in_link)
    return lk_werr(w, RC_ERR_STATE);
  if (target == NULL && len > 0)
    return lk_werr(w, RC_ERR_INVAL);
  /* The target must not be able to end the <...> early ('>' is not a URI
   * character) or break the percent-encoding. */
  for (size_t i = 0; i < len; i++) {
    int c = (unsigned char)target[i];
    if (!lk_is_uri_char(c))
      return lk_werr(w, RC_ERR_INVAL);
    if (c == '%' && (len - i < 3 || !lk_is_hex((unsigned char)target[i + 1]) ||
                     !lk_is_hex((unsigned char)target[i + 2])))
      return lk_werr(w, RC_ERR_INVAL);
  }
  if (w->any_link)
    lk_put(w, ',');
  lk_put(w, '<');
  lk_puts(w, target, len);
  lk_put(w, '>');
  w->in_link = 1;
  w->any_link = 1;
  return RC_OK;
}

/* Writes ";name" after checking the state and the name. */
static rc_err lk_put_name(rc_link_writer *w, const char *name) {
  if (w->err != RC_OK)
    return w->err;
  if (!w->in_link)
    return lk_werr(w, RC_ERR_STATE);
  if (name == NULL || name[0] == '\0')
    return lk_werr(w, RC_ERR_INVAL);
  size_t n = strlen(name);
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)name[i];
    if (!lk_is_attr_char(c) && !(c == '*' && i == n - 1 && i > 0))
      return lk_werr(w, RC_ERR_INVAL);
  }
  lk_put(w, ';');
  lk_puts(w, name, n);
  return RC_OK;
}

rc_err rc_link_add_token(rc_link_writer *w, const char *name,
                         const char *value, size_t len) {
  if (w->err == RC_OK && (value == NULL || len == 0))
    return lk_werr(w, RC_ERR_INVAL);
  for (size_t i = 0; w->err == RC_OK && i < len; i++)
    if (!lk_is_ptoken_char((unsigned char)value[i]))
      return lk_werr(w, RC_ERR_INVAL);
  rc_err e = lk_put_name(w, name);
  if (e != RC_OK)
    return e;
  lk_put(w, '=');
  lk_puts(w, value, len);
  return RC_OK;
}

rc_err rc_link_add_quoted(rc_link_writer *w, const char *name,
                          const char *value, size_t len) {
  if (w->err == RC_OK && value == NULL && len > 0)
    return lk_werr(w, RC_ERR_INVAL);
  for (size_t i = 0; w->err == RC_OK && i < len; i++) {
    int c = (unsigned char)value[i];
    if (c != '"' && c != '\\' && !lk_is_qdtext(c))
      return lk_werr(w, RC_ERR_INVAL);
  }
  rc_err e = lk_put_name(w, name);
  if (e != RC_OK)
    return e;
  lk_puts(w, "=\"", 2);
  for (size_t i = 0; i < len; i++) {
    if (value[i] == '"' || value[i] == '\\')
      lk_put(w, '\\'); /* quoted-pair */
    lk_put(w, value[i]);
  }
  lk_put(w, '"');
  return RC_OK;
}

rc_err rc_link_add_uint(rc_link_writer *w, const char *name, uint32_t value) {
  char digits[10];
  size_t n = 0;
  do {
    digits[sizeof digits - 1 - n++] = (char)('0' + value % 10);
    value /= 10;
  } while (value > 0);
  return rc_link_add_token(w, name, digits + sizeof digits - n, n);
}

rc_err rc_link_add_flag(rc_link_writer *w, const char *name) {
  return lk_put_name(w, name);
}

rc_err rc_link_end(rc_link_writer *w) {
  if (w->err != RC_OK)
    return w->err;
  if (!w->in_link)
    return lk_werr(w, RC_ERR_STATE);
  w->in_link = 0;
  return RC_OK;
}

size_t rc_link_writer_needed(const rc_link_writer *w) { return w->pos; }

rc_err rc_link_writer_finish(rc_link_writer *w, size_t *len) {
  if (w->err != RC_OK)
    return w->err;
  w->in_link = 0;
  if (len != NULL)
    *len = w->pos;
  return w->pos > w->cap ? RC_ERR_NOBUF : RC_OK;
}
