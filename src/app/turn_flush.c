/*
 * Output held through one turn of the loop and written once: a notify
 * round (observe.c) holds the output of every connection it writes to
 * and puts the connection here; at the end of the turn each such
 * connection is flushed once, however many rounds (of one resource or
 * several) wrote to it in that turn. "The end of the turn" is whichever
 * comes first of the loop's check phase (right after the I/O callbacks:
 * a notify from a request handler goes out in the same iteration) and
 * its prepare phase (right before the loop blocks: a notify from a timer
 * callback, or from outside uv_run, goes out before the loop waits).
 * A round may also write a connection at once (observe.c: a plain one
 * with nothing queued gets its frames in one send, rc_conn_write_now):
 * once per connection per turn, the turn's later rounds hold theirs to
 * its end like any other, so a connection sees at most two writes per
 * turn however many rounds run in it. Both handles are made with the
 * first notify, are active only while a connection is waiting or was
 * written directly in this turn (its end opens the next one), and are
 * closed with the context.
 */
#include <stdlib.h>

#include "app_int.h"

static void turn_on_prepare(uv_prepare_t *h);
static void turn_on_check(uv_check_t *h);

struct app_turn {
  uv_prepare_t *prep;
  uv_check_t *check;
  app_peer *head; /* connections whose output waits for the turn's end */
  uint32_t turn;  /* counts the flushes: a peer's direct_turn */
  uint8_t armed;  /* prep and check are started */
};

static void turn_arm(app_turn *t) {
  if (t->armed)
    return;
  uv_prepare_start(t->prep, turn_on_prepare);
  uv_check_start(t->check, turn_on_check);
  t->armed = 1;
}

static void turn_handle_closed(uv_handle_t *h) { free(h); }

static void turn_flush_all(rc_context *ctx) {
  app_turn *t = ctx->turn;
  uv_prepare_stop(t->prep);
  uv_check_stop(t->check);
  t->armed = 0;
  t->turn++; /* a new turn: each peer may be written directly once */
  /* A flush that fails the connection frees its peer, which leaves this
   * list itself (rc__app_turn_forget): take each one off first. */
  app_peer *p;
  while ((p = t->head) != NULL) {
    t->head = p->turn_next;
    p->turn_next = NULL;
    p->turn_held = 0;
    if (p->x) {
      rc_exchange_hold_output(p->x, 0);
      ctx->notify_stats.flushes++;
      rc_conn_flush(p->conn);
      /* Skipped observers are owed the current state if this flush
       * brought the backlog under the bound (re-held, flushed below). */
      if (p->obs_skipped)
        rc__app_observe_catch_up(p);
    }
  }
}

static void turn_on_prepare(uv_prepare_t *h) { turn_flush_all(h->data); }
static void turn_on_check(uv_check_t *h) { turn_flush_all(h->data); }

rc_err rc__app_turn_init(rc_context *ctx) {
  if (ctx->turn)
    return RC_OK;
  app_turn *t = calloc(1, sizeof *t);
  if (t) {
    t->prep = malloc(sizeof *t->prep);
    t->check = malloc(sizeof *t->check);
  }
  if (!t || !t->prep || !t->check) {
    if (t) {
      free(t->prep);
      free(t->check);
    }
    free(t);
    return RC_ERR_NOMEM;
  }
  uv_prepare_init(ctx->loop, t->prep);
  uv_check_init(ctx->loop, t->check);
  t->prep->data = t->check->data = ctx;
  t->turn = 1; /* a new peer's direct_turn (0) is not this one */
  ctx->turn = t;
  return RC_OK;
}

void rc__app_turn_hold(app_peer *p) {
  if (p->turn_held)
    return;
  app_turn *t = p->ctx->turn;
  turn_arm(t);
  rc_exchange_hold_output(p->x, 1);
  p->turn_held = 1;
  p->turn_next = t->head;
  t->head = p;
}

int rc__app_turn_direct_ok(const app_peer *p) {
  return p->direct_turn != p->ctx->turn->turn && !p->turn_held;
}

void rc__app_turn_direct(app_peer *p) {
  app_turn *t = p->ctx->turn;
  p->direct_turn = t->turn;
  turn_arm(t); /* the turn's end starts the next one */
}

void rc__app_turn_forget(app_peer *p) {
  if (!p->turn_held)
    return;
  app_turn *t = p->ctx->turn;
  for (app_peer **pp = &t->head; *pp; pp = &(*pp)->turn_next)
    if (*pp == p) {
      *pp = p->turn_next;
      break;
    }
  p->turn_held = 0;
  p->turn_next = NULL;
}

void rc__app_turn_free(rc_context *ctx) {
  app_turn *t = ctx->turn;
  if (!t)
    return;
  uv_close((uv_handle_t *)t->prep, turn_handle_closed);
  uv_close((uv_handle_t *)t->check, turn_handle_closed);
  free(t);
  ctx->turn = NULL;
}

void rc_context_notify_stats(const rc_context *ctx, rc_notify_stats *out) {
  if (!out)
    return;
  if (!ctx) {
    *out = (rc_notify_stats){0};
    return;
  }
  *out = ctx->notify_stats;
}
