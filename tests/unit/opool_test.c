/*
 * opool_test.c - the ordered worker pool: order, results, errors, worker
 * contexts, bounded capacity.
 */
#include "cairn/common.h"
#include "cairn/opool.h"

#include <pthread.h>
#include <time.h>

#include "tap.h"

#define NITEMS 10000

struct item {
	int seq;
	long result;
	int done_by;	/* worker index + 1 */
};

struct wctx {
	int index;
	long count;
};

/* Squares seq; every 97th item fails; some items take longer, so workers
 * finish out of order. */
static int work(void *ctx, void *arg)
{
	struct wctx *w = ctx;
	struct item *it = arg;
	if (it->seq % 13 == 0) {
		struct timespec ts = { 0, 20000 };
		nanosleep(&ts, NULL);
	}
	it->result = (long)it->seq * it->seq;
	it->done_by = w ? w->index + 1 : -1;
	if (w)
		w->count++;
	return it->seq % 97 == 0 ? CAIRN_ECORRUPT : 0;
}

struct submitter {
	struct opool *p;
	struct item *items;
	int n;
};

static void *submit_all(void *arg)
{
	struct submitter *s = arg;
	for (int i = 0; i < s->n; i++)
		opool_submit(s->p, &s->items[i]);
	opool_close(s->p);
	return NULL;
}

static void test_threads(void)
{
	struct item *items = calloc(NITEMS, sizeof(*items));
	struct wctx ctx[3] = { { 0, 0 }, { 1, 0 }, { 2, 0 } };
	void *ctxs[3] = { &ctx[0], &ctx[1], &ctx[2] };
	struct opool *p = NULL;
	if (!items)
		abort();
	for (int i = 0; i < NITEMS; i++)
		items[i].seq = i;
	ok(opool_new(3, 16, work, ctxs, &p) == 0 && p, "opool_new with 3 workers, 16 in flight");
	is_int(opool_in_flight(p), 0, "nothing in flight");
	ok(opool_has_space(p), "has space");

	struct submitter sub = { p, items, NITEMS };
	pthread_t t;
	pthread_create(&t, NULL, submit_all, &sub);
	int collected = 0, in_order = 1, results = 1, errors_ok = 1, nerr = 0, bounded = 1;
	void *got;
	int err;
	while (opool_collect(p, &got, &err) == 1) {
		struct item *it = got;
		if (it != &items[collected])
			in_order = 0;
		if (it->result != (long)it->seq * it->seq || it->done_by < 1 || it->done_by > 3)
			results = 0;
		if ((it->seq % 97 == 0) != (err == CAIRN_ECORRUPT) || (err != 0 && err != CAIRN_ECORRUPT))
			errors_ok = 0;
		nerr += err != 0;
		if (opool_in_flight(p) > 16)
			bounded = 0;
		collected++;
	}
	pthread_join(t, NULL);
	is_int(collected, NITEMS, "all %d items come back", NITEMS);
	ok(in_order, "in submission order");
	ok(results, "each with its result, processed by one of the workers");
	ok(errors_ok, "errors come back with their own item");
	is_int(nerr, (NITEMS + 96) / 97, "every failing item reported");
	ok(bounded, "never more than cap items in flight");
	is_int(ctx[0].count + ctx[1].count + ctx[2].count, NITEMS,
	       "worker contexts saw every item once (%ld, %ld, %ld)", ctx[0].count, ctx[1].count,
	       ctx[2].count);
	is_int(opool_collect(p, &got, &err), 0, "closed and empty: collect returns 0");
	is_int(opool_in_flight(p), 0, "nothing in flight at the end");
	opool_free(p);
	free(items);
}

/* One thread submits and collects, keeping the pool full. */
static void test_single_thread(void)
{
	enum { N = 3000, CAP = 4 };
	struct item *items = calloc(N, sizeof(*items));
	struct opool *p = NULL;
	if (!items)
		abort();
	ok(opool_new(2, CAP, work, NULL, &p) == 0, "opool_new with NULL contexts, cap %d", CAP);
	int next = 0, collected = 0, in_order = 1, tried = 0;
	void *got;
	int err;
	while (collected < N) {
		while (next < N && opool_has_space(p)) {
			items[next].seq = next;
			opool_submit(p, &items[next++]);
		}
		if (opool_in_flight(p) > CAP)
			in_order = 0;
		int r = opool_try_collect(p, &got, &err);
		if (r == 0)
			r = opool_collect(p, &got, &err);
		else
			tried++;
		if (r != 1 || got != &items[collected] ||
		    ((struct item *)got)->result != (long)collected * collected ||
		    ((struct item *)got)->done_by != -1)
			in_order = 0;
		collected++;
	}
	ok(in_order, "%d items in order, never over capacity (%d via try_collect)", N, tried);
	void *none = NULL;
	is_int(opool_try_collect(p, &none, &err), 0, "try_collect with nothing in flight: 0");
	ok(none == NULL, "and leaves the output alone");
	opool_close(p);
	is_int(opool_collect(p, &got, &err), 0, "closed: collect returns 0");
	opool_free(p);
	opool_free(NULL);
	free(items);
}

/* opool_free after items were collected and the pool closed, with no
 * submissions at all. */
static void test_empty(void)
{
	struct opool *p = NULL;
	void *got;
	int err;
	ok(opool_new(3, 1, work, NULL, &p) == 0, "a pool with capacity 1");
	opool_close(p);
	is_int(opool_collect(p, &got, &err), 0, "closed without items: collect returns 0");
	opool_free(p);
	ok(1, "freed an idle pool without hanging");
}

int main(void)
{
	test_threads();
	test_single_thread();
	test_empty();
	return tap_done();
}
