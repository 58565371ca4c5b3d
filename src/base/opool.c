/*
 * opool.c - ordered worker pool (see opool.h). One mutex: the items are
 * batches of work (megabytes), so hand-offs are rare.
 */
#include "cairn/common.h"
#include "cairn/opool.h"

#include <pthread.h>

struct slot {
	void *item;
	int state;	/* 0 free, 1 queued, 2 running, 3 done */
	int err;
};

struct opool {
	pthread_mutex_t mu;
	pthread_cond_t work;	/* a slot was queued, or closing */
	pthread_cond_t done;	/* a slot finished */
	pthread_cond_t space;	/* a slot was freed */
	struct slot *slots;
	size_t cap;
	size_t head, tail, take;	/* monotonically increasing sequence numbers */
	int closed, stopping;
	opool_fn fn;
	pthread_t *threads;
	void **ctxs;
	size_t nthreads;
};

struct worker_arg {
	struct opool *p;
	void *ctx;
};

static void *opool_worker(void *arg)
{
	struct opool *p = ((struct worker_arg *)arg)->p;
	void *ctx = ((struct worker_arg *)arg)->ctx;
	free(arg);
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->take == p->tail && !p->stopping)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->take == p->tail)
			break;
		struct slot *s = &p->slots[p->take++ % p->cap];
		s->state = 2;
		pthread_mutex_unlock(&p->mu);
		int e = p->fn(ctx, s->item);
		pthread_mutex_lock(&p->mu);
		s->err = e;
		s->state = 3;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int opool_new(size_t nthreads, size_t cap, opool_fn fn, void **ctxs, struct opool **ret)
{
	struct opool *p = calloc(1, sizeof(*p));
	if (!p)
		return CAIRN_ENOMEM;
	p->cap = cap ? cap : 1;
	p->fn = fn;
	p->slots = calloc(p->cap, sizeof(*p->slots));
	p->threads = calloc(nthreads ? nthreads : 1, sizeof(*p->threads));
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	pthread_cond_init(&p->space, NULL);
	if (!p->slots || !p->threads) {
		opool_free(p);
		return CAIRN_ENOMEM;
	}
	for (size_t i = 0; i < nthreads; i++) {
		struct worker_arg *wa = malloc(sizeof(*wa));
		if (!wa) {
			opool_free(p);
			return CAIRN_ENOMEM;
		}
		wa->p = p;
		wa->ctx = ctxs ? ctxs[i] : NULL;
		if (pthread_create(&p->threads[i], NULL, opool_worker, wa) != 0) {
			free(wa);
			opool_free(p);
			return CAIRN_ENOMEM;
		}
		p->nthreads++;
	}
	*ret = p;
	return 0;
}

void opool_free(struct opool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (size_t i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->space);
	free(p->threads);
	free(p->slots);
	free(p);
}

void opool_submit(struct opool *p, void *item)
{
	pthread_mutex_lock(&p->mu);
	while (p->tail - p->head == p->cap)
		pthread_cond_wait(&p->space, &p->mu);
	struct slot *s = &p->slots[p->tail++ % p->cap];
	s->item = item;
	s->state = 1;
	s->err = 0;
	pthread_cond_signal(&p->work);
	pthread_cond_broadcast(&p->done);	/* a collector may wait for an item */
	pthread_mutex_unlock(&p->mu);
}

int opool_has_space(struct opool *p)
{
	pthread_mutex_lock(&p->mu);
	int r = p->tail - p->head < p->cap;
	pthread_mutex_unlock(&p->mu);
	return r;
}

size_t opool_in_flight(struct opool *p)
{
	pthread_mutex_lock(&p->mu);
	size_t n = p->tail - p->head;
	pthread_mutex_unlock(&p->mu);
	return n;
}

void opool_close(struct opool *p)
{
	pthread_mutex_lock(&p->mu);
	p->closed = 1;
	pthread_cond_broadcast(&p->done);
	pthread_mutex_unlock(&p->mu);
}

int opool_collect(struct opool *p, void **ret_item, int *ret_err)
{
	pthread_mutex_lock(&p->mu);
	for (;;) {
		if (p->head == p->tail) {
			if (p->closed) {
				pthread_mutex_unlock(&p->mu);
				return 0;
			}
		} else if (p->slots[p->head % p->cap].state == 3) {
			break;
		}
		pthread_cond_wait(&p->done, &p->mu);
	}
	struct slot *s = &p->slots[p->head++ % p->cap];
	*ret_item = s->item;
	*ret_err = s->err;
	s->state = 0;
	pthread_cond_signal(&p->space);
	pthread_mutex_unlock(&p->mu);
	return 1;
}

int opool_try_collect(struct opool *p, void **ret_item, int *ret_err)
{
	pthread_mutex_lock(&p->mu);
	if (p->head == p->tail || p->slots[p->head % p->cap].state != 3) {
		pthread_mutex_unlock(&p->mu);
		return 0;
	}
	struct slot *s = &p->slots[p->head++ % p->cap];
	*ret_item = s->item;
	*ret_err = s->err;
	s->state = 0;
	pthread_cond_signal(&p->space);
	pthread_mutex_unlock(&p->mu);
	return 1;
}
