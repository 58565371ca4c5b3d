/*
 * archiver.c - the backup pipeline (see archiver.h).
 *
 * The calling thread reads and cuts; it also collects finished batches in
 * order and appends their chunk refs to the file's idlist, so no separate
 * collector thread is needed: it collects whenever it needs a free batch.
 */
#include "cairn/common.h"
#include "cairn/archiver.h"
#include "cairn/chunker.h"
#include "cairn/idlist.h"
#include "cairn/log.h"
#include "cairn/opool.h"
#include "cairn/pack.h"
#include "cairn/repo.h"
#include "cairn/saver.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

#define BATCH_BYTES (4u << 20)
#define BATCH_RING 4

struct chunk_ref {
	size_t off;
	uint32_t len;
	uint8_t id[32];
};

/* Whole chunks cut from one stretch of input. */
struct batch {
	uint8_t *data;
	size_t len, cap;
	struct chunk_ref *chunks;
	size_t n, ncap;
};

struct worker_ctx {
	struct archiver *a;
	struct saver_ctx *sc;
};

struct archiver {
	struct repo *repo;
	const struct chunker *chunker;
	struct saver *saver;
	size_t nworkers;
	struct worker_ctx *workers;
	struct saver_ctx *meta_ctx;	/* for tree and list blobs, calling thread */
	struct opool *pool;
	struct batch batches[BATCH_RING];
	struct batch *free_list[BATCH_RING];
	size_t n_free;
	uint8_t *carry;			/* uncut tail of the previous batch */
	size_t carry_len;
	int64_t start_ns;
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Worker: hash and save every chunk of a batch. */
static int batch_save(void *ctx, void *item)
{
	struct worker_ctx *w = ctx;
	struct batch *b = item;
	for (size_t i = 0; i < b->n; i++) {
		struct chunk_ref *c = &b->chunks[i];
		repo_blob_id(w->a->repo, b->data + c->off, c->len, c->id);
		int e = saver_save(w->a->saver, w->sc, BLOB_DATA, b->data + c->off, c->len, c->id,
				   NULL);
		if (e < 0)
			return e;
	}
	return 0;
}

int archiver_new(struct repo *r, const struct archiver_opts *o, struct archiver **ret)
{
	struct archiver *a = calloc(1, sizeof(*a));
	void **ctxp = NULL;
	if (!a)
		return CAIRN_ENOMEM;
	a->repo = r;
	a->chunker = repo_chunker(r);
	a->start_ns = now_ns();
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	a->nworkers = o && o->threads ? o->threads : (ncpu > 0 ? (size_t)ncpu : 2);
	if (a->nworkers > 64)
		a->nworkers = 64;
	struct saver_opts so = { .compression = -1 };
	int e = saver_new(r, &so, &a->saver);
	if (e < 0)
		goto fail;
	e = CAIRN_ENOMEM;
	size_t bcap = BATCH_BYTES + chunker_params(a->chunker)->max;
	a->carry = malloc(chunker_params(a->chunker)->max);
	a->workers = calloc(a->nworkers, sizeof(*a->workers));
	ctxp = calloc(a->nworkers, sizeof(void *));
	a->meta_ctx = saver_ctx_new(a->saver);
	if (!a->carry || !a->workers || !ctxp || !a->meta_ctx)
		goto fail;
	for (size_t i = 0; i < a->nworkers; i++) {
		a->workers[i].a = a;
		a->workers[i].sc = saver_ctx_new(a->saver);
		if (!a->workers[i].sc)
			goto fail;
		ctxp[i] = &a->workers[i];
	}
	for (size_t i = 0; i < BATCH_RING; i++) {
		struct batch *b = &a->batches[i];
		b->data = malloc(bcap);
		if (!b->data)
			goto fail;
		b->cap = bcap;
		a->free_list[a->n_free++] = b;
	}
	e = opool_new(a->nworkers, BATCH_RING, batch_save, ctxp, &a->pool);
	if (e < 0)
		goto fail;
	free(ctxp);
	*ret = a;
	return 0;
fail:
	free(ctxp);
	archiver_free(a);
	return e;
}

void archiver_free(struct archiver *a)
{
	if (!a)
		return;
	opool_free(a->pool);
	for (size_t i = 0; i < BATCH_RING; i++) {
		free(a->batches[i].data);
		free(a->batches[i].chunks);
	}
	if (a->workers)
		for (size_t i = 0; i < a->nworkers; i++)
			saver_ctx_free(a->workers[i].sc);
	free(a->workers);
	saver_ctx_free(a->meta_ctx);
	saver_free(a->saver);
	free(a->carry);
	free(a);
}

/* idlist callback: LIST blobs are saved from the calling thread. */
static int save_list_blob(void *arg, const void *data, size_t len, uint8_t ret_id[32])
{
	struct archiver *a = arg;
	return saver_save_blob(a->saver, a->meta_ctx, BLOB_LIST, data, len, ret_id);
}

/* Takes the oldest batch back, appends its refs, and returns it to the free list. */
static int collect_one(struct archiver *a, struct idlist_writer *w, int *first_err)
{
	void *item;
	int err;
	if (!opool_collect(a->pool, &item, &err))
		return 0;
	struct batch *b = item;
	if (err < 0 && !*first_err)
		*first_err = err;
	for (size_t i = 0; !*first_err && i < b->n; i++) {
		int e = idlist_writer_add(w, b->chunks[i].id, b->chunks[i].len);
		if (e < 0)
			*first_err = e;
	}
	a->free_list[a->n_free++] = b;
	return 1;
}

/* Cuts the batch into chunks; leaves the uncut tail in carry. */
static int batch_cut(struct archiver *a, struct batch *b, int eof)
{
	size_t pos = 0;
	b->n = 0;
	while (pos < b->len) {
		size_t cut = chunker_cut(a->chunker, b->data + pos, b->len - pos, eof);
		if (cut == 0)
			break;
		if (b->n == b->ncap) {
			size_t nc = b->ncap ? b->ncap * 2 : 1024;
			struct chunk_ref *p = realloc(b->chunks, nc * sizeof(*p));
			if (!p)
				return CAIRN_ENOMEM;
			b->chunks = p;
			b->ncap = nc;
		}
		b->chunks[b->n].off = pos;
		b->chunks[b->n].len = (uint32_t)cut;
		b->n++;
		pos += cut;
	}
	a->carry_len = b->len - pos;
	memcpy(a->carry, b->data + pos, a->carry_len);
	return 0;
}

int archiver_store_fd(struct archiver *a, int fd, const char *what, struct node *node)
{
	int first_err = 0, eof = 0;
	uint64_t total = 0;
	struct idlist_writer *w = idlist_writer_new(save_list_blob, a);
	if (!w)
		return CAIRN_ENOMEM;
	a->carry_len = 0;
	while (!eof && !first_err) {
		while (a->n_free == 0)
			collect_one(a, w, &first_err);
		if (first_err)
			break;
		struct batch *b = a->free_list[--a->n_free];
		memcpy(b->data, a->carry, a->carry_len);
		b->len = a->carry_len;
		while (b->len < BATCH_BYTES) {
			ssize_t r = read(fd, b->data + b->len, BATCH_BYTES - b->len);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				log_error("cannot read %s: %s", what, strerror(errno));
				first_err = cairn_from_errno(errno);
				break;
			}
			if (r == 0) {
				eof = 1;
				break;
			}
			b->len += (size_t)r;
			total += (uint64_t)r;
		}
		if (first_err || (first_err = batch_cut(a, b, eof)) < 0) {
			a->free_list[a->n_free++] = b;
			break;
		}
		opool_submit(a->pool, b);
	}
	while (opool_in_flight(a->pool) > 0)
		collect_one(a, w, &first_err);
	if (!first_err) {
		first_err = idlist_writer_finish(w, &node->content_depth, &node->content,
						 &node->n_content);
		w = NULL;
	}
	idlist_writer_free(w);
	node->size = total;
	return first_err;
}

int archiver_store_tree(struct archiver *a, const struct tree *t, uint8_t ret_id[32])
{
	struct buf b = BUF_INIT;
	int e = tree_encode(t, &b);
	if (e == 0)
		e = saver_save_blob(a->saver, a->meta_ctx, BLOB_TREE, b.data, b.len, ret_id);
	buf_free(&b);
	return e;
}

int archiver_commit(struct archiver *a, struct snapshot *sn, uint8_t ret_id[32])
{
	int e = saver_flush(a->saver);
	if (e < 0)
		return e;
	struct saver_stats st;
	saver_get_stats(a->saver, &st);
	const struct chunker_params *cp = chunker_params(a->chunker);
	sn->chunk_min = cp->min;
	sn->chunk_avg = cp->avg;
	sn->chunk_max = cp->max;
	sn->summary.bytes_added = st.bytes_added;
	sn->summary.data_blobs_added = st.blobs_added[BLOB_DATA];
	sn->summary.tree_blobs_added = st.blobs_added[BLOB_TREE] + st.blobs_added[BLOB_LIST];
	sn->summary.start_ns = a->start_ns;
	sn->summary.end_ns = now_ns();
	struct buf b = BUF_INIT;
	e = snapshot_encode(sn, &b);
	if (e == 0)
		e = repo_file_save(a->repo, REPO_FILE_SNAPSHOT, b.data, b.len, ret_id);
	buf_free(&b);
	return e;
}

uint64_t archiver_bytes_added(struct archiver *a)
{
	struct saver_stats st;
	saver_get_stats(a->saver, &st);
	return st.bytes_added;
}

uint64_t archiver_data_blobs_added(struct archiver *a)
{
	struct saver_stats st;
	saver_get_stats(a->saver, &st);
	return st.blobs_added[BLOB_DATA];
}

uint64_t archiver_tree_blobs_added(struct archiver *a)
{
	struct saver_stats st;
	saver_get_stats(a->saver, &st);
	return st.blobs_added[BLOB_TREE] + st.blobs_added[BLOB_LIST];
}
