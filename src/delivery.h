/*
 * delivery: one recipient's way from the MX lookup to a result.  The engine
 * creates deliveries, starts them when a slot is free and frees them after
 * their completion callback.
 */
#ifndef MXC_DELIVERY_H
#define MXC_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mxclient.h"

struct config;


/* Called just before a delivery's completion callback (engine.c). */
void engine_delivery_reporting(struct mxc_engine *engine,
                               struct mxc_delivery *delivery);
/*
 * Called after a delivery's completion callback returned: the engine takes
 * it off its list, frees it and starts the next.  Defined in engine.c.
 */
void engine_delivery_ended(struct mxc_engine *engine,
                           struct mxc_delivery *delivery);

/* A new session number (engine.c), for log lines. */
uint64_t engine_new_session_id(struct mxc_engine *engine);

/* Creates delivery number `id` (addresses already checked).  NULL: out
 * of memory. */
struct mxc_delivery *delivery_new(struct mxc_engine *engine,
                                  const struct config *config,
                                  const struct mxc_delivery_params *params,
                                  uint64_t id);
/* Starts it: the MX lookup goes out. */
void delivery_start(struct mxc_delivery *delivery);
/* Calls the completion callback at once, from inside the caller's stack
 * (mxc_engine_free()): TEMPFAIL "cancelled" unless the delivery had already
 * ended.  The caller frees it afterwards. */
void delivery_abort(struct mxc_delivery *delivery);
/* Frees a delivery without calling its completion callback. */
void delivery_free(struct mxc_delivery *delivery);

#endif
