/*
 * Fuzz target for src/codec/link.c: byte 0 picks strict or lenient
 * parsing of the rest; every link and attribute is visited, unquoted and
 * filtered with a few patterns; the links are written back with the writer
 * and the result must parse (strictly) to the same targets, names and
 * unescaped values.
 */
#include <stdlib.h>
#include <string.h>

#include "rcoap/codec_link.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_check(int cond) {
  if (!cond)
    abort();
}

static const char *const fz_queries[] = {"rt=t*", "href=/a*", "obs", "ct=0",
                                         "if=*", "title=x y", "rel=a"};

/* Writes the links of s into w; returns 0 if the writer refused a value it
 * cannot express (a quoted-pair of a control character). */
static int fz_rewrite(const char *s, size_t len, unsigned flags,
                      rc_link_writer *w, size_t *nlinks) {
  rc_link_iter it;
  rc_link l;
  rc_link_iter_init(&it, s, len, flags);
  int r;
  *nlinks = 0;
  while ((r = rc_link_next(&it, &l)) == 1) {
    (*nlinks)++;
    for (size_t q = 0; q < sizeof fz_queries / sizeof fz_queries[0]; q++)
      rc_link_match_query(&l, fz_queries[q], strlen(fz_queries[q]));
    fz_check(rc_link_begin(w, l.target, l.target_len) == RC_OK);
    rc_link_attr_iter ai;
    rc_link_attr a;
    rc_link_attr_iter_init(&ai, &l);
    while (rc_link_attr_next(&ai, &a)) {
      char name[1024], val[8192];
      size_t vl;
      fz_check(a.name_len < sizeof name);
      memcpy(name, a.name, a.name_len);
      name[a.name_len] = 0;
      fz_check(rc_link_find_attr(&l, a.name, a.name_len, NULL) == 1);
      if (!a.has_value) {
        fz_check(rc_link_add_flag(w, name) == RC_OK);
      } else if (a.quoted) {
        fz_check(rc_link_attr_unquote(&a, val, sizeof val, &vl) == RC_OK);
        fz_check(rc_link_attr_value_eq(&a, val, vl));
        if (rc_link_add_quoted(w, name, val, vl) != RC_OK)
          return 0;
      } else {
        fz_check(rc_link_add_token(w, name, a.value, a.value_len) == RC_OK);
      }
    }
    fz_check(rc_link_end(w) == RC_OK);
  }
  fz_check(r == 0 || r == RC_ERR_BAD_LINK);
  return r == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char out1[65536], out2[65536];
  if (size < 1 || size > 8192)
    return 0;
  unsigned flags = data[0] & 1 ? RC_LINK_LENIENT : 0;
  const char *s = (const char *)data + 1;
  size_t len = size - 1, n1, n2, l1, l2;
  rc_link_writer w1, w2;
  rc_link_writer_init(&w1, out1, sizeof out1);
  if (!fz_rewrite(s, len, flags, &w1, &n1))
    return 0;
  fz_check(rc_link_writer_finish(&w1, &l1) == RC_OK);
  fz_check(rc_link_count(s, len, flags) == (rc_ssize)n1);
  /* the rewrite is canonical: it parses strictly and rewrites to itself */
  rc_link_writer_init(&w2, out2, sizeof out2);
  fz_check(fz_rewrite(out1, l1, 0, &w2, &n2));
  fz_check(rc_link_writer_finish(&w2, &l2) == RC_OK);
  fz_check(n1 == n2 && l1 == l2 && memcmp(out1, out2, l1) == 0);
  return 0;
}
