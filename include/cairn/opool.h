/*
 * opool.h - an ordered worker pool: items are processed in parallel and
 * handed back in the order they were submitted (DESIGN.md: "order of
 * chunks within a file is kept by sequence numbers, not by locks").
 *
 * The ring holds at most `cap` items in flight, which bounds memory. One
 * thread submits, one thread (the same or another) collects.
 */
#ifndef CAIRN_OPOOL_H
#define CAIRN_OPOOL_H

#include <stddef.h>

struct opool;

/* Processes one item in a worker; ctx is that worker's own context.
 * Returns 0 or a CAIRN_E* code, handed back with the item. */
typedef int (*opool_fn)(void *ctx, void *item);

/* Starts nthreads workers; ctxs[i] is worker i's context (may be NULL).
 * Returns 0 or CAIRN_ENOMEM. */
int opool_new(size_t nthreads, size_t cap, opool_fn fn, void **ctxs, struct opool **ret);

/* Stops the workers after the items in flight. Items never collected are
 * not freed: collect them first. */
void opool_free(struct opool *p);

/* Submits an item; blocks while cap items are in flight. */
void opool_submit(struct opool *p, void *item);
/* 1 when an item can be submitted without blocking. */
int opool_has_space(struct opool *p);
/* Number of items submitted and not yet collected. */
size_t opool_in_flight(struct opool *p);
/* No more items will be submitted: opool_collect returns 0 at the end. */
void opool_close(struct opool *p);

/* Waits for the oldest item. Returns 1 with *ret_item and *ret_err, or 0
 * when the pool is closed and empty. Must not be called on an open pool
 * with nothing in flight unless another thread submits. */
int opool_collect(struct opool *p, void **ret_item, int *ret_err);

/* Like opool_collect but never waits: 1 with the oldest item when it is
 * done, 0 when nothing is ready. */
int opool_try_collect(struct opool *p, void **ret_item, int *ret_err);

#endif
