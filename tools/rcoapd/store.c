/*
 * rcoapd's in-memory store: a small chained hash table of path -> bytes,
 * with size limits so that a client cannot exhaust the daemon's memory.
 */
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define STORE_BUCKETS 1024u

typedef struct entry {
  struct entry *next;
  char *key;
  uint8_t *data;
  size_t len;
  int cf;
  uint32_t version;
} entry;

struct store {
  entry *b[STORE_BUCKETS];
  size_t count;
  size_t total;
  uint32_t version;
};

static uint32_t hash(const char *s) {
  uint32_t h = 2166136261u;
  while (*s)
    h = (h ^ (uint8_t)*s++) * 16777619u;
  return h;
}

store *store_new(void) { return calloc(1, sizeof(store)); }

void store_free(store *s) {
  if (!s)
    return;
  for (size_t i = 0; i < STORE_BUCKETS; i++) {
    for (entry *e = s->b[i]; e;) {
      entry *n = e->next;
      free(e->key);
      free(e->data);
      free(e);
      e = n;
    }
  }
  free(s);
}

static entry **find(store *s, const char *key) {
  entry **pp = &s->b[hash(key) % STORE_BUCKETS];
  while (*pp && strcmp((*pp)->key, key))
    pp = &(*pp)->next;
  return pp;
}

int store_put(store *s, const char *key, const uint8_t *data, size_t len,
              int content_format) {
  entry **pp = find(s, key);
  size_t old = *pp ? (*pp)->len : 0;
  if (len > STORE_ITEM_MAX || s->total - old + len > STORE_TOTAL_MAX)
    return -2;
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy)
    return -1;
  memcpy(copy, data, len);
  int created = 0;
  entry *e = *pp;
  if (!e) {
    e = calloc(1, sizeof *e);
    size_t kl = strlen(key) + 1;
    if (!e || !(e->key = malloc(kl))) {
      free(e);
      free(copy);
      return -1;
    }
    memcpy(e->key, key, kl);
    *pp = e;
    s->count++;
    created = 1;
  }
  s->total = s->total - old + len;
  free(e->data);
  e->data = copy;
  e->len = len;
  e->cf = content_format;
  e->version = ++s->version;
  return created;
}

int store_get(store *s, const char *key, store_item *out) {
  entry *e = *find(s, key);
  if (!e)
    return 0;
  out->data = e->data;
  out->len = e->len;
  out->content_format = e->cf;
  out->version = e->version;
  return 1;
}

int store_del(store *s, const char *key) {
  entry **pp = find(s, key);
  entry *e = *pp;
  if (!e)
    return 0;
  *pp = e->next;
  s->total -= e->len;
  s->count--;
  free(e->key);
  free(e->data);
  free(e);
  return 1;
}

size_t store_count(const store *s) { return s->count; }
