/*
 * The in-memory key/value store behind rcoapd's /store/... resources:
 * representations by path with their Content-Format, bounded in item size
 * and total size.
 */
#ifndef RCOAPD_STORE_H
#define RCOAPD_STORE_H

#include <stddef.h>
#include <stdint.h>

/* Largest item and largest total the store keeps. */
#define STORE_ITEM_MAX (1024u * 1024u)
#define STORE_TOTAL_MAX (64u * 1024u * 1024u)

typedef struct store store;

typedef struct store_item {
  const uint8_t *data;
  size_t len;
  int content_format; /* -1: none */
  uint32_t version;   /* bumps on every change (an ETag source) */
} store_item;

store *store_new(void);
void store_free(store *s);

/* Puts data at key. Returns 1 if it created the item, 0 if it replaced
 * one, -1 if out of memory, -2 if over the size limits. */
int store_put(store *s, const char *key, const uint8_t *data, size_t len,
              int content_format);
/* 1 and *out (valid until the next change of that key), or 0. */
int store_get(store *s, const char *key, store_item *out);
/* 1 if removed, 0 if there was nothing. */
int store_del(store *s, const char *key);
/* Number of items. */
size_t store_count(const store *s);

#endif
