/*
 * rcoap's stdout, the way curl and aiocoap-client do it: a pipe gets the
 * body byte for byte; a terminal gets something a person can read (JSON
 * indented, CBOR in diagnostic notation, link-format one link per line, a
 * final newline) and no raw binary, which would garble it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "output.h"
#include "rcoap/app.h"
#include "rcoap/codec_cbor.h"
#include "rcoap/codec_link.h"
#include "rcoap/codec_print.h"

#define JSON_DEPTH_MAX 64

void output_head(const rc_msg *m, int verbose) {
  char line[2048], code[5];
  printf("%s %s\n", rc_code_str(m->code, code), rc_code_name(m->code));
  if (verbose && m->token_len) {
    printf("Token: ");
    for (size_t i = 0; i < m->token_len; i++)
      printf("%02x", m->token[i]);
    printf("\n");
  }
  rc_opt_iter it;
  rc_opt o;
  rc_opt_iter_init(&it, m);
  while (rc_opt_next(&it, &o)) {
    rc_opt_print(m->code, &o, line, sizeof line);
    char *colon = strchr(line, ':');
    if (colon)
      printf("%.*s: %s\n", (int)(colon - line), line, colon + 1);
    else
      printf("%s\n", line);
  }
  printf("\n");
}

/* Link-format bodies are shown one link per line. */
static void write_links(FILE *f, const rc_msg *m) {
  rc_link_iter it;
  rc_link l;
  rc_link_iter_init(&it, (const char *)m->payload, m->payload_len,
                    RC_LINK_LENIENT);
  size_t shown = 0;
  const char *base = (const char *)m->payload;
  while (rc_link_next(&it, &l) == 1) {
    const char *start = l.target - 1; /* the '<' */
    const char *end = l.params + l.params_len;
    fprintf(f, "%.*s\n", (int)(end - start), start);
    shown = (size_t)(end - base);
  }
  if (it.err) /* not valid link-format after all: show it raw */
    fprintf(f, "%.*s\n", (int)(m->payload_len - shown), base + shown);
}

static void indent(FILE *f, int depth) {
  fputc('\n', f);
  for (int i = 0; i < depth; i++)
    fputs("  ", f);
}

/* JSON re-indented by two spaces into f; -1 when p is not JSON-shaped
 * (f then holds a partial rendering the caller drops). */
static int json_pretty(FILE *f, const uint8_t *p, size_t n) {
  char stack[JSON_DEPTH_MAX];
  int depth = 0, in_str = 0, esc = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t c = p[i];
    if (in_str) {
      if (c < 0x20)
        return -1;
      fputc(c, f);
      if (esc)
        esc = 0;
      else if (c == '\\')
        esc = 1;
      else if (c == '"')
        in_str = 0;
      continue;
    }
    switch (c) {
    case ' ':
    case '\t':
    case '\r':
    case '\n':
      break;
    case '"':
      in_str = 1;
      fputc(c, f);
      break;
    case '{':
    case '[': {
      size_t j = i + 1;
      while (j < n && strchr(" \t\r\n", p[j]))
        j++;
      if (j < n && p[j] == (c == '{' ? '}' : ']')) {
        fprintf(f, "%c%c", c, p[j]);
        i = j;
        break;
      }
      if (depth == JSON_DEPTH_MAX)
        return -1;
      stack[depth++] = (char)c;
      fputc(c, f);
      indent(f, depth);
      break;
    }
    case '}':
    case ']':
      if (!depth || stack[depth - 1] != (c == '}' ? '{' : '['))
        return -1;
      indent(f, --depth);
      fputc(c, f);
      break;
    case ',':
      if (!depth)
        return -1;
      fputc(c, f);
      indent(f, depth);
      break;
    case ':':
      if (!depth || stack[depth - 1] != '{')
        return -1;
      fputs(": ", f);
      break;
    default:
      if (!strchr("0123456789+-.eEtrufalsn", c))
        return -1;
      fputc(c, f);
    }
  }
  if (in_str || depth)
    return -1;
  fputc('\n', f);
  return 0;
}

static int is_text(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (p[i] >= 0x80) {
      /* UTF-8: a lead byte and its continuation bytes. */
      size_t more = p[i] >= 0xf0 ? 3 : p[i] >= 0xe0 ? 2 : p[i] >= 0xc2 ? 1 : 0;
      if (!more || p[i] > 0xf4 || i + more >= n)
        return 0;
      for (size_t k = 1; k <= more; k++)
        if ((p[i + k] & 0xc0) != 0x80)
          return 0;
      i += more;
    } else if ((p[i] < 0x20 && !strchr("\t\r\n", p[i])) || p[i] == 0x7f) {
      return 0;
    }
  }
  return 1;
}

static void refuse(const rc_msg *m, const char *cfname, const char *why) {
  fprintf(stderr,
          "rcoap: not shown on a terminal: %zu bytes of %s%s%s; -o FILE keeps "
          "them, --raw shows them anyway\n",
          m->payload_len, cfname ? cfname : "binary data", why ? ", " : "",
          why ? why : "");
}

int output_body(const rc_msg *m, int raw) {
  if (!m->payload_len)
    return 0;
  if (raw || !isatty(STDOUT_FILENO)) {
    fwrite(m->payload, 1, m->payload_len, stdout);
    return 0;
  }
  int cf = rc_msg_content_format(m);
  const char *name = cf >= 0 ? rc_content_format_name((uint32_t)cf) : NULL;
  if (cf == RC_CF_LINK_FORMAT) {
    write_links(stdout, m);
    return 0;
  }
  if (name && strstr(name, "cbor")) {
    size_t cap = 12 * m->payload_len + 16, len;
    char *text = malloc(cap);
    rc_err e = text ? rc_cbor_diag(m->payload, m->payload_len, text, cap, &len)
                    : RC_ERR_NOMEM;
    if (e == RC_OK)
      printf("%s\n", text);
    free(text);
    if (e == RC_OK)
      return 0;
    refuse(m, name, e == RC_ERR_NOMEM ? "out of memory"
                                      : "not well-formed CBOR");
    return -1;
  }
  if (name && strstr(name, "json")) {
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    int ok = mem && json_pretty(mem, m->payload, m->payload_len) == 0;
    if (mem)
      fclose(mem);
    if (ok)
      fwrite(text, 1, len, stdout);
    free(text);
    if (ok)
      return 0;
  }
  if (!is_text(m->payload, m->payload_len)) {
    refuse(m, name, NULL);
    return -1;
  }
  fwrite(m->payload, 1, m->payload_len, stdout);
  if (m->payload[m->payload_len - 1] != '\n')
    fputc('\n', stdout);
  return 0;
}
