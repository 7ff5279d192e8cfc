/*
 * A byte budget shared by many objects on one event loop (not
 * thread-safe). Memory that peers make us hold on their behalf (Block1
 * bodies being reassembled, Block2 bodies cached between blocks) is taken
 * from one budget per context, so that ten thousand connections cannot
 * each hold their per-connection maximum at the same time.
 *
 * Every function accepts a NULL budget, which is unlimited.
 */
#ifndef RCOAP_BUDGET_H
#define RCOAP_BUDGET_H

#include <stddef.h>

#include "rcoap/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rc_budget rc_budget;

/* A budget of limit bytes (0 is allowed: nothing can be taken). mem NULL:
 * C library. Returns 0 and *out, RC_ERR_INVAL or RC_ERR_NOMEM. */
rc_err rc_budget_new(rc_budget **out, size_t limit, const rc_mem *mem);
/* Frees b; what is still taken is forgotten. NULL ok. */
void rc_budget_free(rc_budget *b);

/* Takes n bytes. Returns 0 when they fit under the limit, else
 * RC_ERR_LIMIT and nothing is taken (the refusal is counted). */
rc_err rc_budget_take(rc_budget *b, size_t n);
/* Gives back n bytes taken earlier. */
void rc_budget_give(rc_budget *b, size_t n);
/* Gives back all *held bytes and sets *held to 0. */
void rc_budget_give_all(rc_budget *b, size_t *held);
/* Grows what a buffer holds of b (*held bytes) to want bytes, or, if b
 * refuses that, to need (need <= want): returns the new size (and sets
 * *held to it), or 0 when b refuses both (nothing changes). */
size_t rc_budget_grow(rc_budget *b, size_t *held, size_t want, size_t need);

size_t rc_budget_used(const rc_budget *b);
size_t rc_budget_limit(const rc_budget *b); /* SIZE_MAX for NULL */
size_t rc_budget_peak(const rc_budget *b);  /* highest used so far */
size_t rc_budget_refusals(const rc_budget *b);

#ifdef __cplusplus
}
#endif
#endif
