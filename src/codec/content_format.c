/*
 * The IANA "CoAP Content-Formats" registry (RFC 7252 §12.3 and the RFCs
 * that added entries since), both ways: number to canonical name and name
 * (or a short alias, or a decimal number) to number, for the CLI's -t/-A
 * and for logs. Names compare case-insensitively and ignore blanks, so
 * "text/plain; charset=utf-8" and "text/plain;charset=utf-8" match.
 */
#include <stddef.h>
#include <stdint.h>

#include "rcoap/codec_option.h"

typedef struct cf_entry {
  uint16_t num;
  const char *name;
} cf_entry;

/* Ordered by number. */
static const cf_entry cf_table[] = {
    {0, "text/plain; charset=utf-8"},
    {16, "application/cose; cose-type=\"cose-encrypt0\""},
    {17, "application/cose; cose-type=\"cose-mac0\""},
    {18, "application/cose; cose-type=\"cose-sign1\""},
    {19, "application/ace+cbor"},
    {21, "image/gif"},
    {22, "image/jpeg"},
    {23, "image/png"},
    {40, "application/link-format"},
    {41, "application/xml"},
    {42, "application/octet-stream"},
    {47, "application/exi"},
    {50, "application/json"},
    {51, "application/json-patch+json"},
    {52, "application/merge-patch+json"},
    {60, "application/cbor"},
    {61, "application/cwt"},
    {62, "application/multipart-core"},
    {63, "application/cbor-seq"},
    {96, "application/cose; cose-type=\"cose-encrypt\""},
    {97, "application/cose; cose-type=\"cose-mac\""},
    {98, "application/cose; cose-type=\"cose-sign\""},
    {101, "application/cose-key"},
    {102, "application/cose-key-set"},
    {110, "application/senml+json"},
    {111, "application/sensml+json"},
    {112, "application/senml+cbor"},
    {113, "application/sensml+cbor"},
    {114, "application/senml-exi"},
    {115, "application/sensml-exi"},
    {256, "application/coap-group+json"},
    {257, "application/concise-problem-details+cbor"},
    {258, "application/swid+cbor"},
    {271, "application/dots+cbor"},
    {272, "application/missing-blocks+cbor-seq"},
    {280, "application/pkcs7-mime; smime-type=server-generated-key"},
    {281, "application/pkcs7-mime; smime-type=certs-only"},
    {284, "application/pkcs8"},
    {285, "application/csrattrs"},
    {286, "application/pkcs10"},
    {287, "application/pkix-cert"},
    {310, "application/senml+xml"},
    {311, "application/sensml+xml"},
    {320, "application/senml-etch+json"},
    {322, "application/senml-etch+cbor"},
    {432, "application/td+json"},
    {10000, "application/vnd.ocf+cbor"},
    {10001, "application/oscore"},
    {11542, "application/vnd.oma.lwm2m+tlv"},
    {11543, "application/vnd.oma.lwm2m+json"},
    {11544, "application/vnd.oma.lwm2m+cbor"},
};

/* Short names for a curl-like command line. */
static const cf_entry cf_alias[] = {
    {0, "text"},          {0, "text/plain"},   {0, "plain"},
    {40, "link"},         {40, "link-format"}, {41, "xml"},
    {42, "octet"},        {42, "octet-stream"}, {42, "binary"},
    {47, "exi"},          {50, "json"},        {51, "json-patch"},
    {52, "merge-patch"},  {60, "cbor"},        {61, "cwt"},
    {63, "cbor-seq"},     {110, "senml+json"}, {110, "senml"},
    {112, "senml+cbor"},  {256, "coap-group+json"},
};

#define CF_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int cf_lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }
static int cf_blank(int c) { return c == ' ' || c == '\t'; }

/* Equal ignoring case and blanks. */
static int cf_match(const char *a, const char *b) {
  for (;;) {
    while (cf_blank((unsigned char)*a))
      a++;
    while (cf_blank((unsigned char)*b))
      b++;
    if (*a == '\0' || *b == '\0')
      return *a == *b;
    if (cf_lower((unsigned char)*a) != cf_lower((unsigned char)*b))
      return 0;
    a++;
    b++;
  }
}

int rc_content_format_by_name(const char *name) {
  if (name == NULL || *name == '\0')
    return -1;
  /* A decimal number 0-65535 (RFC 7252 §12.3 numbers are 16 bits). */
  const char *p = name;
  uint32_t v = 0;
  while (*p >= '0' && *p <= '9' && v <= 65535)
    v = v * 10 + (uint32_t)(*p++ - '0');
  if (*p == '\0' && v <= 65535)
    return (int)v;
  for (size_t i = 0; i < CF_COUNT(cf_table); i++)
    if (cf_match(name, cf_table[i].name))
      return cf_table[i].num;
  for (size_t i = 0; i < CF_COUNT(cf_alias); i++)
    if (cf_match(name, cf_alias[i].name))
      return cf_alias[i].num;
  return -1;
}

const char *rc_content_format_name(uint32_t cf) {
  for (size_t i = 0; i < CF_COUNT(cf_table); i++)
    if (cf_table[i].num == cf)
      return cf_table[i].name;
  return NULL;
}
