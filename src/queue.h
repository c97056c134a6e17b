/*
 * queue: the engine's deliveries, waiting or in flight, grouped by
 * destination (the recipient domain).  Deliveries start round robin over
 * the destinations that have work, within two limits: all in flight (the
 * caller's --jobs) and in flight per destination (as Postfix's
 * destination concurrency), so one slow or large destination can neither
 * hold every slot nor open more connections than a receiver tolerates.
 * It also finds a delivery by its id (log lines carry ids only).
 */
#ifndef MXC_QUEUE_H
#define MXC_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

struct mxc_delivery;
struct queue;

/* NULL when memory runs out.  Limits are at least 1. */
struct queue *queue_new(unsigned max_active, unsigned max_per_dest);
/* Frees the queue, not the deliveries in it. */
void queue_free(struct queue *q);
/* Adds a waiting delivery with this id for `domain` (any case).  False
 * when memory runs out. */
bool queue_add(struct queue *q, struct mxc_delivery *d, uint64_t id,
               const char *domain);
/* The next delivery to start, now counted in flight, or NULL while the
 * limits allow none. */
struct mxc_delivery *queue_next(struct queue *q);
/* Takes out a delivery that ended, waiting or in flight. */
void queue_remove(struct queue *q, uint64_t id);
/* The delivery with this id, or NULL. */
struct mxc_delivery *queue_find(const struct queue *q, uint64_t id);
/* Calls fn for every delivery in the queue (which must not change
 * meanwhile), e.g. to free them all before queue_free(). */
void queue_each(const struct queue *q,
                void (*fn)(void *arg, struct mxc_delivery *d), void *arg);

#endif
