/*
 * The shared byte budget: a counter with a ceiling, and the figures an
 * operator wants to see (peak, refusals).
 */
#include <stdint.h>

#include "rcoap/budget.h"

struct rc_budget {
  const rc_mem *mem;
  size_t limit;
  size_t used;
  size_t peak;
  size_t refusals;
};

rc_err rc_budget_new(rc_budget **out, size_t limit, const rc_mem *mem) {
  if (!out)
    return RC_ERR_INVAL;
  if (!mem)
    mem = rc_mem_default();
  rc_budget *b = mem->malloc(sizeof *b, mem->user);
  if (!b)
    return RC_ERR_NOMEM;
  *b = (rc_budget){.mem = mem, .limit = limit};
  *out = b;
  return RC_OK;
}

void rc_budget_free(rc_budget *b) {
  if (b)
    b->mem->free(b, b->mem->user);
}

rc_err rc_budget_take(rc_budget *b, size_t n) {
  if (!b)
    return RC_OK;
  if (n > b->limit - b->used) {
    b->refusals++;
    return RC_ERR_LIMIT;
  }
  b->used += n;
  if (b->used > b->peak)
    b->peak = b->used;
  return RC_OK;
}

void rc_budget_give(rc_budget *b, size_t n) {
  if (b)
    b->used = n < b->used ? b->used - n : 0;
}

void rc_budget_give_all(rc_budget *b, size_t *held) {
  if (*held) {
    rc_budget_give(b, *held);
    *held = 0;
  }
}

size_t rc_budget_grow(rc_budget *b, size_t *held, size_t want, size_t need) {
  if (want > *held && rc_budget_take(b, want - *held) == RC_OK)
    return *held = want;
  if (need > *held && rc_budget_take(b, need - *held) == RC_OK)
    return *held = need;
  return 0;
}

size_t rc_budget_used(const rc_budget *b) { return b ? b->used : 0; }
size_t rc_budget_limit(const rc_budget *b) { return b ? b->limit : SIZE_MAX; }
size_t rc_budget_peak(const rc_budget *b) { return b ? b->peak : 0; }
size_t rc_budget_refusals(const rc_budget *b) { return b ? b->refusals : 0; }
