/*
 * CoRE Link Format (RFC 6690): a pull parser over a caller's buffer, a
 * writer into a caller's buffer, and the query filtering of
 * /.well-known/core (RFC 6690 §4.1).
 *
 *   </sensors/temp>;rt="temperature-c";if="sensor";ct=0;obs,</time>;...
 *
 * The parser follows the ABNF of RFC 6690 §2 (RFC 5234 ABNF: no implied
 * whitespace): a list of links separated by ',', each "<" URI-Reference ">"
 * and then any number of ";" parmname [ "=" ( ptoken / quoted-string ) ].
 * Quoted strings may hold ',' and ';'. With RC_LINK_LENIENT it also
 * accepts optional whitespace (SP, HTAB, CR, LF) around ',', ';' and '=' and
 * at both ends, which some servers send (RFC 5988's implied LWS).
 *
 * Nothing here allocates. Links and attributes are views into the parsed
 * buffer, valid as long as the buffer is; the writer writes into a caller's
 * buffer and keeps counting what it would need when the buffer is short.
 */
#ifndef RCOAP_CODEC_LINK_H
#define RCOAP_CODEC_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "rcoap/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Parse flags. */
enum rc_link_flags {
  /* Tolerate whitespace around separators and at the ends. */
  RC_LINK_LENIENT = 1u << 0
};

/* One link: views into the parsed buffer. */
typedef struct rc_link {
  const char *target; /* between '<' and '>', as written */
  size_t target_len;
  const char *params; /* everything after '>' up to the ',' or the end:
                         the ";name=value" list, already validated */
  size_t params_len;
  unsigned flags;     /* the parse flags */
} rc_link;

/* One attribute (link-param) of a link. */
typedef struct rc_link_attr {
  const char *name; /* parmname, with its trailing '*' if any ("title*") */
  size_t name_len;
  /* The value: a ptoken as written, or a quoted-string's content between
   * the quotes with its backslash escapes still in place (see escaped and
   * rc_link_attr_unquote). NULL/0 for a flag such as "obs". */
  const char *value;
  size_t value_len;
  uint8_t has_value; /* "name=..." rather than a bare "name" */
  uint8_t quoted;    /* the value was a quoted-string */
  uint8_t escaped;   /* the quoted value holds a backslash escape */
} rc_link_attr;

/* Pull parser over buf[0..len). */
typedef struct rc_link_iter {
  const char *p;
  const char *end;
  unsigned flags;
  uint8_t need_link; /* after a ',' another link must follow */
  rc_err err;        /* sticky */
} rc_link_iter;

/* Starts iterating the links of buf[0..len) (an empty buffer has none).
 * buf is not copied; it must outlive the iterator and every view. */
void rc_link_iter_init(rc_link_iter *it, const char *buf, size_t len,
                       unsigned flags);

/*
 * Reads the next link, validating it and its attributes completely.
 * Returns 1 and fills *out, 0 at the end, or RC_ERR_BAD_LINK (sticky: later
 * calls return it again) for input that is not link-format.
 */
int rc_link_next(rc_link_iter *it, rc_link *out);

/* Counts the links of buf[0..len) after validating all of it: the count,
 * or RC_ERR_BAD_LINK. */
rc_ssize rc_link_count(const char *buf, size_t len, unsigned flags);

/* Iterator over the attributes of one link (which rc_link_next validated). */
typedef struct rc_link_attr_iter {
  const char *p;
  const char *end;
  unsigned flags;
} rc_link_attr_iter;

void rc_link_attr_iter_init(rc_link_attr_iter *it, const rc_link *link);
/* Returns 1 and fills *out, or 0 after the last attribute. */
int rc_link_attr_next(rc_link_attr_iter *it, rc_link_attr *out);

/* The first attribute called name (case-insensitive, as parameter names
 * are): 1 and *out filled, or 0. */
int rc_link_find_attr(const rc_link *link, const char *name, size_t name_len,
                      rc_link_attr *out);

/* Copies the attribute's value with escapes resolved into buf. On success
 * *out_len is the length (no NUL is written). Returns 0, or RC_ERR_NOBUF
 * with *out_len set to the bytes needed, or RC_ERR_INVAL. */
rc_err rc_link_attr_unquote(const rc_link_attr *a, char *buf, size_t cap,
                            size_t *out_len);

/* 1 if the attribute's (unescaped) value equals v[0..n); a flag has the
 * empty value. */
int rc_link_attr_value_eq(const rc_link_attr *a, const char *v, size_t n);

/*
 * RFC 6690 §4.1 filtering: 1 if the link matches the filter
 * name=pattern, else 0.
 *   - name "href" matches the link target; any other name matches the
 *     link's attributes of that name (case-insensitive), any of them if
 *     there are several;
 *   - a pattern ending in '*' matches every value that starts with the part
 *     before the '*'; otherwise the value must be equal;
 *   - for "rel", "rev", "rt", "if" and "ct", whose values may be
 *     space-separated lists ("relation-types", RFC 7252 §7.2.1 for ct),
 *     the pattern matches when it matches any one element;
 *   - a flag attribute ("obs") has the empty value, so only "" and "*"
 *     match it;
 *   - pattern NULL matches every link that has the attribute at all.
 * The pattern is compared to the unescaped value, byte for byte; it is the
 * already percent-decoded value of the Uri-Query option.
 */
int rc_link_match(const rc_link *link, const char *name, size_t name_len,
                  const char *pattern, size_t pattern_len);

/* rc_link_match() for one Uri-Query value "name=pattern" (a value without
 * '=' is a presence test). */
int rc_link_match_query(const rc_link *link, const char *query, size_t len);

/*
 * Writer. rc_link_begin() starts a link (writing the ',' before it when it
 * is not the first), the rc_link_add_*() calls append attributes,
 * rc_link_end() closes it. Invalid input sets a sticky RC_ERR_INVAL (a
 * call in the wrong order RC_ERR_STATE): later calls return it and write
 * nothing. A short buffer is not an error until rc_link_writer_finish():
 * the writer keeps counting the bytes it would need.
 */
typedef struct rc_link_writer {
  char *buf;  /* caller's buffer; not owned */
  size_t cap;
  size_t pos; /* bytes written, or needed when past cap */
  uint8_t in_link;
  uint8_t any_link;
  rc_err err; /* sticky */
} rc_link_writer;

void rc_link_writer_init(rc_link_writer *w, char *buf, size_t cap);

/* "<target>": the target must be URI-reference characters with valid
 * percent-encoding (RC_ERR_INVAL). */
rc_err rc_link_begin(rc_link_writer *w, const char *target, size_t len);
/* ";name=value" with value a ptoken (RC_ERR_INVAL otherwise: use
 * rc_link_add_quoted). name: NUL-terminated parmname, optionally ending in
 * '*'. */
rc_err rc_link_add_token(rc_link_writer *w, const char *name,
                         const char *value, size_t len);
/* ';name="value"' with '"' and '\' escaped; control characters other than
 * HTAB are RC_ERR_INVAL. */
rc_err rc_link_add_quoted(rc_link_writer *w, const char *name,
                          const char *value, size_t len);
/* ";name=123" */
rc_err rc_link_add_uint(rc_link_writer *w, const char *name, uint32_t value);
/* ";name" */
rc_err rc_link_add_flag(rc_link_writer *w, const char *name);
/* Closes the current link. */
rc_err rc_link_end(rc_link_writer *w);

/* Bytes written so far, or needed when the buffer was short. */
size_t rc_link_writer_needed(const rc_link_writer *w);

/* Closes an open link and reports the result: 0 with *len the length, or
 * RC_ERR_NOBUF with *len the capacity needed, or the sticky error. */
rc_err rc_link_writer_finish(rc_link_writer *w, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
