/*
 * rcoap-decode: prints a CoAP message the way a person wants to read it.
 * It takes the message as hex on the command line (spaces, colons and 0x
 * prefixes allowed) or from standard input ("-": hex text or raw bytes),
 * parses it with the codec (rc_msg_parse, or rc_frame_reader for a whole
 * TCP byte stream with --stream) and prints the framing header fields, the
 * code by name, the token, every option by name with its value rendered by
 * its format (signaling options by their per-code names, RFC 8323 §5.2),
 * and the payload as text or as a hex dump. A message the codec refuses is
 * reported by its error name and text, with the byte offset where the tool
 * can tell, and the exit status is 1 (2 for bad usage).
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rcoap/codec_block.h"
#include "rcoap/codec_frame.h"
#include "rcoap/codec_msg.h"
#include "rcoap/codec_option.h"
#include "rcoap/err.h"
#include "rcoap/version.h"

/* Largest input read from stdin; CoAP over TCP frames can be large, but a
 * tool for people reading messages need not take more. */
#define DEC_INPUT_MAX (64u * 1024u * 1024u)

/* Payload bytes shown in a hex dump before it is cut short. */
#define DEC_DUMP_MAX 4096u

typedef struct dec_buf {
  uint8_t *data;
  size_t len;
  size_t cap;
} dec_buf;

static void usage(FILE *f) {
  fputs("usage: rcoap-decode [--framing tcp|ws|udp] [--stream] HEX...\n"
        "       rcoap-decode [--framing tcp|ws|udp] [--stream] -\n"
        "\n"
        "Decodes one CoAP message and prints it for people.\n"
        "  HEX...        the message as hex; spaces, ':' '-' ',' and 0x\n"
        "                prefixes are ignored (\"01 43 7f\", \"01:43:7f\")\n"
        "  -             read from stdin: hex text, or raw bytes otherwise\n"
        "  --framing F   tcp (RFC 8323 §3.2, default; also TLS), ws (RFC 8323\n"
        "                §4.2; also WebRTC data channels), udp (RFC 7252 §3)\n"
        "                (case does not matter)\n"
        "  --stream      the input is a TCP byte stream of several frames\n"
        "  -V, --version print the version\n"
        "Exit status: 0 decoded, 1 malformed input, 2 bad usage.\n",
        f);
}

static int buf_push(dec_buf *b, uint8_t byte) {
  if (b->len == b->cap) {
    size_t ncap = b->cap ? b->cap * 2 : 256;
    uint8_t *n = realloc(b->data, ncap);
    if (!n)
      return -1;
    b->data = n;
    b->cap = ncap;
  }
  b->data[b->len++] = byte;
  return 0;
}

/* Appends the bytes of a hex text to out. Separators (space, ':', '-', ',')
 * and "0x" prefixes are skipped; a digit pair may not straddle a
 * separator. Returns 0, or -1 with a message in err. */
static int parse_hex(const char *s, size_t n, dec_buf *out, char *err,
                     size_t errlen) {
  int hi = -1;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)s[i];
    if (hi < 0 && c == '0' && i + 1 < n && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
      i++;
      continue;
    }
    int v = rc_hex_digit(c);
    if (v >= 0) {
      if (hi < 0) {
        hi = v;
      } else {
        if (buf_push(out, (uint8_t)(hi << 4 | v)) < 0) {
          snprintf(err, errlen, "out of memory");
          return -1;
        }
        hi = -1;
      }
      continue;
    }
    if (isspace(c) || c == ':' || c == '-' || c == ',') {
      if (hi >= 0) {
        snprintf(err, errlen, "odd number of hex digits before '%c'", c);
        return -1;
      }
      continue;
    }
    snprintf(err, errlen, "'%c' is not a hex digit", isprint(c) ? c : '?');
    return -1;
  }
  if (hi >= 0) {
    snprintf(err, errlen, "odd number of hex digits");
    return -1;
  }
  return 0;
}

/* Reads all of stdin into raw. Returns 0 or -1. */
static int read_stdin(dec_buf *raw) {
  int c;
  while ((c = getchar()) != EOF) {
    if (raw->len >= DEC_INPUT_MAX) {
      fprintf(stderr, "rcoap-decode: input over %u bytes\n", DEC_INPUT_MAX);
      return -1;
    }
    if (buf_push(raw, (uint8_t)c) < 0)
      return -1;
  }
  return ferror(stdin) ? -1 : 0;
}

/* Whether stdin's bytes look like hex text rather than a binary message. */
static int looks_like_hex(const dec_buf *raw) {
  int digits = 0;
  for (size_t i = 0; i < raw->len; i++) {
    int c = raw->data[i];
    if (rc_hex_digit(c) >= 0) {
      digits++;
    } else if (!(isspace(c) || c == ':' || c == '-' || c == ',' || c == 'x' ||
                 c == 'X')) {
      return 0;
    }
  }
  return digits > 0;
}

static void print_hex(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    printf("%s%02x", i ? " " : "", p[i]);
}

/* xxd-style dump: offset, 16 hex bytes, the printable ones as text. */
static void hex_dump(const uint8_t *p, size_t n, const char *indent) {
  size_t shown = n > DEC_DUMP_MAX ? DEC_DUMP_MAX : n;
  for (size_t off = 0; off < shown; off += 16) {
    size_t row = shown - off < 16 ? shown - off : 16;
    printf("%s%04zx  ", indent, off);
    for (size_t i = 0; i < 16; i++) {
      if (i < row)
        printf("%02x ", p[off + i]);
      else
        fputs("   ", stdout);
      if (i == 7)
        putchar(' ');
    }
    fputs(" |", stdout);
    for (size_t i = 0; i < row; i++)
      putchar(isprint(p[off + i]) ? p[off + i] : '.');
    puts("|");
  }
  if (shown < n)
    printf("%s... %zu more bytes not shown\n", indent, n - shown);
}

/* Length of the UTF-8 sequence starting at p (at most n bytes), or 0 if
 * it is not a valid one. */
static size_t utf8_seq(const uint8_t *p, size_t n) {
  size_t len;
  uint32_t min;
  if (p[0] < 0x80)
    return 1;
  if ((p[0] & 0xe0) == 0xc0) {
    len = 2;
    min = 0x80;
  } else if ((p[0] & 0xf0) == 0xe0) {
    len = 3;
    min = 0x800;
  } else if ((p[0] & 0xf8) == 0xf0) {
    len = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (len > n)
    return 0;
  uint32_t cp = p[0] & (0x7f >> len);
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (p[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return len;
}

/* Text a person can read: valid UTF-8 without control characters other
 * than tab, CR and LF. */
static int is_text(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n;) {
    size_t k = utf8_seq(p + i, n - i);
    if (k == 0)
      return 0;
    if (k == 1 && p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
      return 0;
    if (k == 1 && p[i] == 0x7f)
      return 0;
    i += k;
  }
  return 1;
}

/* Prints a string value in double quotes, escaping what is not printable. */
static void print_quoted(const uint8_t *p, size_t n) {
  putchar('"');
  for (size_t i = 0; i < n; i++) {
    uint8_t c = p[i];
    if (c == '"' || c == '\\')
      printf("\\%c", c);
    else if (c >= 0x20 && c != 0x7f)
      putchar(c); /* bytes >= 0x80 pass: UTF-8 shows as itself */
    else
      printf("\\x%02x", c);
  }
  putchar('"');
}

static const char *type_name(uint8_t t) {
  static const char *const names[] = {"CON", "NON", "ACK", "RST"};
  return names[t & 3];
}

/* Prints one option's value by what the option is. */
static void print_opt_value(uint8_t code, const rc_opt *o,
                            const rc_opt_def *def) {
  uint32_t u = 0;
  int is_uint = def && def->format == RC_OPTF_UINT;
  int uint_ok = is_uint && rc_opt_uint(o, &u) == RC_OK;

  if (!rc_code_is_signaling(code) &&
      (o->num == RC_OPT_BLOCK1 || o->num == RC_OPT_BLOCK2 ||
       o->num == RC_OPT_Q_BLOCK1 || o->num == RC_OPT_Q_BLOCK2)) {
    rc_block b;
    if (rc_block_decode(o->val, o->len, &b) == RC_OK) {
      if (b.szx == RC_BLOCK_SZX_BERT)
        printf("%u/%u/BERT (NUM/M/SIZE, 1024-byte units, RFC 8323 §6)",
               (unsigned)b.num, (unsigned)b.more);
      else
        printf("%u/%u/%zu (NUM/M/SIZE)", (unsigned)b.num, (unsigned)b.more,
               rc_block_size(b.szx));
      return;
    }
  }
  if (!rc_code_is_signaling(code) &&
      (o->num == RC_OPT_CONTENT_FORMAT || o->num == RC_OPT_ACCEPT) && uint_ok) {
    const char *name = rc_content_format_name(u);
    printf("%u (%s)", (unsigned)u, name ? name : "unregistered");
    return;
  }
  if (!def) {
    if (o->len == 0)
      fputs("(empty)", stdout);
    else
      print_hex(o->val, o->len);
    return;
  }
  switch (def->format) {
  case RC_OPTF_EMPTY:
    if (o->len == 0) {
      fputs("(empty)", stdout);
      return;
    }
    break;
  case RC_OPTF_UINT:
    if (uint_ok) {
      printf("%u", (unsigned)u);
      if (!rc_code_is_signaling(code) && o->num == RC_OPT_MAX_AGE)
        fputs(" s", stdout);
      if (rc_code_is_signaling(code) && code == RC_SIG_RELEASE &&
          o->num == RC_SIGOPT_HOLD_OFF)
        fputs(" s", stdout);
      if (rc_code_is_signaling(code) && code == RC_SIG_CSM &&
          o->num == RC_SIGOPT_MAX_MESSAGE_SIZE)
        fputs(" bytes", stdout);
      return;
    }
    break;
  case RC_OPTF_STRING:
    print_quoted(o->val, o->len);
    return;
  case RC_OPTF_OPAQUE:
  default:
    if (o->len == 0)
      fputs("(empty)", stdout);
    else
      print_hex(o->val, o->len);
    return;
  }
  /* The value does not fit its format: show the bytes. */
  if (o->len == 0)
    fputs("(empty)", stdout);
  else
    print_hex(o->val, o->len);
}

static void print_options(const rc_msg *m) {
  rc_opt_iter it;
  rc_opt o;
  size_t n = 0;

  rc_opt_iter_init(&it, m);
  while (rc_opt_next(&it, &o))
    n++;
  if (n == 0) {
    puts("options:  none");
    return;
  }
  printf("options:  %zu\n", n);
  rc_opt_iter_init(&it, m);
  while (rc_opt_next(&it, &o)) {
    const rc_opt_def *def = rc_opt_lookup(m->code, o.num);
    char label[64];
    if (def)
      snprintf(label, sizeof label, "%s (%u)", def->name, (unsigned)o.num);
    else if (rc_code_is_signaling(m->code))
      snprintf(label, sizeof label, "Unknown-%s (%u)",
               rc_opt_is_critical(o.num) ? "critical" : "elective",
               (unsigned)o.num);
    else
      snprintf(label, sizeof label, "Unknown-%s%s (%u)",
               rc_opt_is_critical(o.num) ? "critical" : "elective",
               rc_opt_is_unsafe(o.num) ? "-unsafe" : "", (unsigned)o.num);
    printf("  %-28s ", label);
    print_opt_value(m->code, &o, def);
    if (o.len > 0)
      printf("  [%u byte%s]", (unsigned)o.len, o.len == 1 ? "" : "s");
    rc_err e = rc_opt_check(m->code, &o);
    if (e != RC_OK)
      printf("  ! %s: %s", rc_err_name(e), rc_strerror(e));
    putchar('\n');
  }
}

static void print_payload(const rc_msg *m) {
  if (m->payload_len == 0) {
    puts("payload:  none");
    return;
  }
  if (is_text(m->payload, m->payload_len)) {
    printf("payload:  %zu bytes, text:\n", m->payload_len);
    /* Indent every line so the message stays one block. */
    fputs("  ", stdout);
    for (size_t i = 0; i < m->payload_len; i++) {
      putchar(m->payload[i]);
      if (m->payload[i] == '\n' && i + 1 < m->payload_len)
        fputs("  ", stdout);
    }
    if (m->payload[m->payload_len - 1] != '\n')
      putchar('\n');
    return;
  }
  printf("payload:  %zu bytes, binary:\n", m->payload_len);
  hex_dump(m->payload, m->payload_len, "  ");
}

static void print_tkl(unsigned tkl, const rc_msg *m) {
  if (tkl >= 13)
    printf("  TKL:    %u (extended, RFC 8974: token is %u bytes)\n", tkl,
           (unsigned)m->token_len);
  else
    printf("  TKL:    %u\n", tkl);
}

/* Prints the framing header of buf[0..len) (already parsed into m). */
static void print_header(rc_framing framing, const uint8_t *buf, size_t len,
                         const rc_msg *m) {
  unsigned tkl = buf[0] & 0x0f;
  switch (framing) {
  case RC_FRAMING_TCP: {
    rc_tcp_hdr h;
    rc_ssize hl = rc_tcp_hdr_parse(buf, len, &h);
    printf("framing:  TCP/TLS (RFC 8323 §3.2), %zu bytes\n", len);
    if (hl > 0) {
      unsigned nib = buf[0] >> 4;
      printf("  Len:    %llu (nibble %u%s)\n", (unsigned long long)h.body_len,
             nib,
             nib == 13   ? ", 8-bit extended"
             : nib == 14 ? ", 16-bit extended"
             : nib == 15 ? ", 32-bit extended"
                         : "");
      print_tkl(tkl, m);
      printf("  header: %u bytes\n", (unsigned)h.hdr_len);
    }
    return;
  }
  case RC_FRAMING_WS:
    printf("framing:  WebSocket (RFC 8323 §4.2), %zu bytes\n", len);
    printf("  Len:    0\n");
    print_tkl(tkl, m);
    return;
  case RC_FRAMING_UDP:
  default:
    printf("framing:  UDP (RFC 7252 §3), %zu bytes\n", len);
    printf("  Ver:    %u\n", (unsigned)(buf[0] >> 6));
    printf("  Type:   %s (%u)\n", type_name(m->type), (unsigned)m->type);
    print_tkl(tkl, m);
    printf("  MID:    %u (0x%04x)\n", (unsigned)m->mid, (unsigned)m->mid);
    return;
  }
}

static void print_msg(rc_framing framing, const uint8_t *buf, size_t len,
                      const rc_msg *m) {
  char cs[5];
  print_header(framing, buf, len, m);
  const char *kind = rc_code_is_request(m->code)    ? "request"
                     : rc_code_is_response(m->code) ? "response"
                     : rc_code_is_signaling(m->code) ? "signaling"
                     : m->code == RC_CODE_EMPTY      ? "empty"
                                                     : "reserved class";
  printf("code:     %s %s (%s)\n", rc_code_str(m->code, cs),
         rc_code_name(m->code), kind);
  if (m->token_len == 0) {
    puts("token:    none");
  } else {
    fputs("token:    ", stdout);
    for (uint32_t i = 0; i < m->token_len; i++)
      printf("%02x", m->token[i]);
    printf(" (%u byte%s)\n", (unsigned)m->token_len,
           m->token_len == 1 ? "" : "s");
  }
  print_options(m);
  print_payload(m);
}

/* Offset of the first option byte in a message of this framing, or 0 if
 * the header is too short to tell. */
static size_t opts_offset(rc_framing framing, const uint8_t *buf, size_t len) {
  size_t off, tok;
  unsigned tkl;
  if (len == 0)
    return 0;
  tkl = buf[0] & 0x0f;
  if (framing == RC_FRAMING_TCP) {
    rc_tcp_hdr h;
    if (rc_tcp_hdr_parse(buf, len, &h) <= 0)
      return 0;
    return h.hdr_len + h.token_len;
  }
  off = framing == RC_FRAMING_UDP ? 4 : 2;
  tok = tkl;
  if (tkl == 13) {
    if (len < off + 1)
      return 0;
    tok = 13u + buf[off];
    off += 1;
  } else if (tkl == 14) {
    if (len < off + 2)
      return 0;
    tok = 269u + ((size_t)buf[off] << 8 | buf[off + 1]);
    off += 2;
  }
  return off + tok <= len ? off + tok : 0;
}

/* After the codec refused a message with an option error, walks the option
 * headers (RFC 7252 §3.1) to find the byte where the trouble starts, so the
 * error message can point at it. Returns the offset or -1. */
static long locate_opt_error(const uint8_t *buf, size_t len, size_t off) {
  uint32_t num = 0;
  while (off < len) {
    size_t at = off;
    uint8_t b = buf[off++];
    if (b == 0xff)
      return off >= len ? (long)at : -1; /* payload marker */
    uint32_t d = b >> 4, l = b & 0x0f;
    if (d == 15 || l == 15)
      return (long)at;
    uint32_t *f[2] = {&d, &l};
    for (int k = 0; k < 2; k++) {
      if (*f[k] == 13) {
        if (off + 1 > len)
          return (long)at;
        *f[k] = 13u + buf[off];
        off += 1;
      } else if (*f[k] == 14) {
        if (off + 2 > len)
          return (long)at;
        *f[k] = 269u + ((uint32_t)buf[off] << 8 | buf[off + 1]);
        off += 2;
      }
    }
    num += d;
    if (num > 65535u)
      return (long)at;
    if (l > len - off)
      return (long)at;
    off += l;
  }
  return -1;
}

static int report_error(rc_err e, long offset, const char *hint) {
  if (offset >= 0)
    fprintf(stderr, "error: %s: %s (at byte %ld)\n", rc_err_name(e),
            rc_strerror(e), offset);
  else
    fprintf(stderr, "error: %s: %s\n", rc_err_name(e), rc_strerror(e));
  if (hint)
    fprintf(stderr, "hint: %s\n", hint);
  return 1;
}

static int is_opt_error(rc_err e) {
  return e == RC_ERR_OPT_DELTA_RESERVED || e == RC_ERR_OPT_LEN_RESERVED ||
         e == RC_ERR_OPT_TRUNCATED || e == RC_ERR_OPT_NUMBER_OVERFLOW ||
         e == RC_ERR_EMPTY_PAYLOAD;
}

static int decode_one(rc_framing framing, const uint8_t *buf, size_t len) {
  rc_msg m;
  rc_err e = rc_msg_parse(framing, buf, len, &m);
  if (e == RC_OK) {
    print_msg(framing, buf, len, &m);
    return 0;
  }
  long at = -1;
  const char *hint = NULL;
  if (is_opt_error(e)) {
    size_t off = opts_offset(framing, buf, len);
    if (off > 0)
      at = locate_opt_error(buf, len, off);
  } else if (e == RC_ERR_TKL_RESERVED || e == RC_ERR_BAD_VERSION ||
             e == RC_ERR_BAD_LEN_NIBBLE) {
    at = 0;
  } else if (framing == RC_FRAMING_TCP &&
             (e == RC_ERR_TRAILING_BYTES || e == RC_ERR_TRUNCATED)) {
    rc_tcp_hdr h;
    if (rc_tcp_hdr_parse(buf, len, &h) > 0) {
      uint64_t want = h.hdr_len + h.token_len + h.body_len;
      at = (long)(want < len ? want : len);
      fprintf(stderr, "note: the frame header announces %llu bytes, input has %zu\n",
              (unsigned long long)want, len);
      if (want < len)
        hint = "the input holds more than one frame: try --stream";
    }
  }
  /* A UDP header (RFC 7252 §3: version 1 in the top two bits) parsed as
   * TCP or WS framing fails somewhere; say what it looks like. */
  if (framing != RC_FRAMING_UDP && len >= 4 && (buf[0] >> 6) == 1 &&
      rc_msg_parse(RC_FRAMING_UDP, buf, len, &m) == RC_OK)
    hint = "the input looks like a CoAP-over-UDP message (RFC 7252 "
           "header): try --framing udp";
  return report_error(e, at, hint);
}

static int decode_stream(const uint8_t *in, size_t len) {
  rc_frame_reader r;
  /* The whole stream is in memory, so every frame is parsed in place; the
   * reassembly buffer only has to satisfy the reader's contract. */
  size_t max = len < 64 ? 64 : len;
  uint8_t *rbuf = malloc(max);
  if (!rbuf) {
    fputs("rcoap-decode: out of memory\n", stderr);
    return 1;
  }
  rc_err e = rc_frame_reader_init(&r, rbuf, max, max);
  if (e != RC_OK) {
    free(rbuf);
    return report_error(e, -1, NULL);
  }
  size_t pos = 0, frames = 0, start = 0;
  int rc = 0;
  while (pos < len) {
    rc_frame_event ev = RC_FRAME_NONE;
    rc_msg m;
    start = pos;
    rc_ssize n = rc_frame_reader_feed(&r, in + pos, len - pos, &ev, &m);
    if (n < 0) {
      fprintf(stderr, "in frame %zu, which starts at byte %zu:\n", frames + 1,
              start);
      rc = report_error((rc_err)n, -1, NULL);
      break;
    }
    pos += (size_t)n;
    if (ev == RC_FRAME_MSG) {
      printf("%s-- frame %zu at byte %zu --\n", frames ? "\n" : "", frames + 1,
             start);
      print_msg(RC_FRAMING_TCP, in + start, pos - start, &m);
      frames++;
    } else if (ev == RC_FRAME_OVERSIZE) {
      /* Cannot happen with max = whole input; say so if it does. */
      rc = report_error(RC_ERR_TOO_LARGE, (long)start, NULL);
      break;
    } else if (n == 0) {
      break; /* defensive: the reader must always make progress */
    }
  }
  if (rc == 0 && rc_frame_reader_busy(&r)) {
    fprintf(stderr, "stream ends inside frame %zu, which starts at byte %zu\n",
            frames + 1, start);
    rc = report_error(RC_ERR_TRUNCATED, (long)len, NULL);
  }
  if (rc == 0)
    printf("\n%zu frame%s, %zu bytes\n", frames, frames == 1 ? "" : "s", len);
  free(rbuf);
  return rc;
}

int main(int argc, char **argv) {
  rc_framing framing = RC_FRAMING_TCP;
  int stream = 0, from_stdin = 0, framing_set = 0;
  dec_buf bytes = {0};
  char err[96];
  int i, rc;

  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
      printf("rcoap-decode %s\n", rc_version());
      return 0;
    } else if (!strcmp(a, "--stream")) {
      stream = 1;
    } else if (!strcmp(a, "--framing") || !strcmp(a, "-f") ||
               !strncmp(a, "--framing=", 10)) {
      const char *v = a[1] == '-' && a[9] == '=' ? a + 10 : NULL;
      if (!v) {
        if (++i >= argc) {
          usage(stderr);
          return 2;
        }
        v = argv[i];
      }
      if (!strcasecmp(v, "tcp") || !strcasecmp(v, "tls"))
        framing = RC_FRAMING_TCP;
      else if (!strcasecmp(v, "ws") || !strcasecmp(v, "webrtc"))
        framing = RC_FRAMING_WS;
      else if (!strcasecmp(v, "udp") || !strcasecmp(v, "dtls"))
        framing = RC_FRAMING_UDP;
      else {
        fprintf(stderr, "rcoap-decode: unknown framing '%s'\n", v);
        return 2;
      }
      framing_set = 1;
    } else if (!strcmp(a, "-")) {
      from_stdin = 1;
    } else if (a[0] == '-' && a[1] == '-') {
      fprintf(stderr, "rcoap-decode: unknown option '%s'\n", a);
      usage(stderr);
      return 2;
    } else {
      if (parse_hex(a, strlen(a), &bytes, err, sizeof err) < 0) {
        fprintf(stderr, "rcoap-decode: bad hex '%s': %s\n", a, err);
        free(bytes.data);
        return 2;
      }
    }
  }
  if (stream && framing_set && framing != RC_FRAMING_TCP) {
    fputs("rcoap-decode: --stream is for TCP framing only\n", stderr);
    return 2;
  }
  if (from_stdin) {
    dec_buf raw = {0};
    if (read_stdin(&raw) < 0) {
      fprintf(stderr, "rcoap-decode: reading stdin: %s\n", strerror(errno));
      free(raw.data);
      free(bytes.data);
      return 2;
    }
    if (looks_like_hex(&raw)) {
      if (parse_hex((const char *)raw.data, raw.len, &bytes, err, sizeof err) <
          0) {
        fprintf(stderr, "rcoap-decode: bad hex on stdin: %s\n", err);
        free(raw.data);
        free(bytes.data);
        return 2;
      }
      free(raw.data);
    } else {
      for (size_t k = 0; k < raw.len; k++)
        if (buf_push(&bytes, raw.data[k]) < 0)
          break;
      free(raw.data);
    }
  }
  if (bytes.len == 0) {
    if (!from_stdin && argc <= 1) {
      usage(stderr);
      return 2;
    }
    free(bytes.data);
    return report_error(RC_ERR_TRUNCATED, 0, "no bytes to decode");
  }
  rc = stream ? decode_stream(bytes.data, bytes.len)
              : decode_one(framing, bytes.data, bytes.len);
  free(bytes.data);
  return rc;
}
