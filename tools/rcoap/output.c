/*
 * rcoap's stdout. Link-format bodies are shown one link per line; a body
 * on a terminal gets a final newline.
 */
#include <stdio.h>
#include <unistd.h>

#include "output.h"
#include "rcoap/app.h"
#include "rcoap/codec_link.h"
#include "rcoap/codec_print.h"

void output_head(const rc_msg *m) {
  char line[2048];
  rc_msg tmp = *m;
  tmp.payload = NULL;
  tmp.payload_len = 0;
  rc_msg_format(&tmp, line, sizeof line);
  printf("%s\n", line);
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

int output_body(const rc_msg *m) {
  if (!m->payload_len)
    return 0;
  if (rc_msg_content_format(m) == RC_CF_LINK_FORMAT) {
    write_links(stdout, m);
  } else {
    fwrite(m->payload, 1, m->payload_len, stdout);
    if (isatty(STDOUT_FILENO) && m->payload[m->payload_len - 1] != '\n')
      fputc('\n', stdout);
  }
  return 0;
}
