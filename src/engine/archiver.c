/*
 * archiver.c - the backup pipeline (see archiver.h).
 *
 * A batch is a buffer of file bytes plus records, in file order: a data
 * chunk (offset, length), a hole (length only), or the end of a file.
 * Chunks never span files. The uncut tail of a file at the end of a full
 * batch moves to the start of the next batch. The calling thread reads,
 * cuts and collects; it collects whenever it needs a free batch, so no
 * collector thread is needed.
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
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#define BATCH_BYTES (2u << 20)
#define BATCH_RING 4

enum { REC_DATA, REC_HOLE, REC_END };

struct rec {
	uint8_t kind;
	int err;		/* REC_END: read error of the file, or 0 */
	uint64_t cookie;	/* REC_END */
	size_t off;		/* REC_DATA: offset in the batch */
	uint64_t len;		/* REC_DATA, REC_HOLE: bytes */
	uint8_t id[32];		/* REC_DATA: filled by a worker */
};

struct batch {
	uint8_t *data;
	size_t len, cap;
	struct rec *recs;
	size_t n, ncap;
};

struct worker_ctx {
	struct archiver *a;
	struct saver_ctx *sc;
	uint8_t (*ids)[32];		/* a batch's data ids, for one look-up */
	const uint8_t **data;		/* and its chunks, hashed together */
	size_t *len;
	uint8_t *indexed;
	size_t cap;
};

struct archiver {
	struct repo *repo;
	const struct chunker *chunker;
	struct chunker *own_chunker;	/* archiver_use_dump_chunker's */
	struct saver *saver;
	size_t nworkers;
	struct worker_ctx *workers;
	struct saver_ctx *meta_ctx;	/* tree and list blobs, calling thread */
	struct opool *pool;
	struct batch batches[BATCH_RING];
	struct batch *free_list[BATCH_RING];
	size_t n_free;
	struct batch *cur;		/* being filled, not yet submitted */
	archiver_done_fn done;
	void *done_arg;
	struct idlist_writer *w;	/* chunk list of the file being collected */
	uint64_t collected_bytes;	/* of that file */
	int fatal;			/* first storage error */
	int64_t start_ns;
	/* archiver_store_fd's result */
	struct node *sync_node;
	int sync_err;
	int has_dict;			/* new data is compressed with dict */
	uint8_t dict[32];
	int train_dict;			/* train one from a sample at commit */
	int early_tried;		/* early_start ran */
	int final_started;		/* train_start ran */
	uint64_t bytes_read;		/* of all input, for early_start */
	int training;			/* the trainer thread runs (early_start, train_start) */
	int train_err;
	pthread_t trainer;
	struct saver_ctx *train_ctx;
	archiver_observe_fn observe;	/* sees every byte read; may be NULL */
	void *observe_arg;
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Worker: hash every data chunk of a batch, look them all up in one index
 * transaction (a lock and a read transaction per chunk made the two
 * workers take turns), then save the new ones. */
static int batch_save(void *ctx, void *item)
{
	struct worker_ctx *w = ctx;
	struct batch *b = item;
	if (b->n > w->cap) {
		void *ids = realloc(w->ids, b->n * sizeof(*w->ids));
		if (ids)
			w->ids = ids;
		void *ix = ids ? realloc(w->indexed, b->n) : NULL;
		if (ix)
			w->indexed = ix;
		void *dp = ix ? realloc(w->data, b->n * sizeof(*w->data)) : NULL;
		if (dp)
			w->data = dp;
		void *lp = dp ? realloc(w->len, b->n * sizeof(*w->len)) : NULL;
		if (!lp)
			return CAIRN_ENOMEM;
		w->len = lp;
		w->cap = b->n;
	}
	size_t n = 0;
	for (size_t i = 0; i < b->n; i++) {
		struct rec *r = &b->recs[i];
		if (r->kind != REC_DATA)
			continue;
		w->data[n] = b->data + r->off;
		w->len[n++] = (size_t)r->len;
	}
	repo_blob_ids(w->a->repo, n, w->data, w->len, w->ids);
	for (size_t i = 0, k = 0; i < b->n; i++)
		if (b->recs[i].kind == REC_DATA)
			memcpy(b->recs[i].id, w->ids[k++], 32);
	uint64_t gen;
	int e = saver_lookup(w->a->saver, w->sc, BLOB_DATA, (const uint8_t (*)[32])w->ids, n,
			     w->indexed, &gen);
	for (size_t i = 0, k = 0; e == 0 && i < b->n; i++) {
		struct rec *r = &b->recs[i];
		if (r->kind != REC_DATA)
			continue;
		e = saver_save_looked_up(w->a->saver, w->sc, BLOB_DATA, b->data + r->off,
					 (size_t)r->len, r->id, w->indexed[k++], gen);
	}
	return e < 0 ? e : 0;
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
	if (o) {
		a->done = o->done;
		a->done_arg = o->done_arg;
	}
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
	a->workers = calloc(a->nworkers, sizeof(*a->workers));
	ctxp = calloc(a->nworkers, sizeof(void *));
	a->meta_ctx = saver_ctx_new(a->saver);
	if (!a->workers || !ctxp || !a->meta_ctx)
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
	/* collect what is in flight so the workers stop touching batches */
	if (a->pool) {
		void *item;
		int err;
		while (opool_in_flight(a->pool) > 0)
			opool_collect(a->pool, &item, &err);
	}
	opool_free(a->pool);
	for (size_t i = 0; i < BATCH_RING; i++) {
		free(a->batches[i].data);
		free(a->batches[i].recs);
	}
	if (a->workers)
		for (size_t i = 0; i < a->nworkers; i++) {
			saver_ctx_free(a->workers[i].sc);
			free(a->workers[i].ids);
			free(a->workers[i].data);
			free(a->workers[i].len);
			free(a->workers[i].indexed);
		}
	free(a->workers);
	if (a->training)
		pthread_join(a->trainer, NULL);
	saver_ctx_free(a->train_ctx);
	idlist_writer_free(a->w);
	chunker_free(a->own_chunker);
	saver_ctx_free(a->meta_ctx);
	saver_free(a->saver);
	free(a);
}

/* idlist callback: LIST blobs are saved from the calling thread. */
static int save_list_blob(void *arg, const void *data, size_t len, uint8_t ret_id[32])
{
	struct archiver *a = arg;
	return saver_save_blob(a->saver, a->meta_ctx, BLOB_LIST, data, len, ret_id);
}

/* Applies one collected record to the file being collected. */
static int collect_rec(struct archiver *a, const struct rec *r)
{
	static const uint8_t zero[32];
	int e = 0;
	if (!a->w) {
		a->w = idlist_writer_new(save_list_blob, a);
		a->collected_bytes = 0;
		if (!a->w)
			return CAIRN_ENOMEM;
	}
	if (r->kind == REC_DATA || r->kind == REC_HOLE) {
		a->collected_bytes += r->len;
		return idlist_writer_add(a->w, r->kind == REC_DATA ? r->id : zero, r->len);
	}
	uint32_t depth = 0;
	struct content_ref *refs = NULL;
	size_t n = 0;
	int ferr = r->err;
	if (!ferr) {
		e = idlist_writer_finish(a->w, &depth, &refs, &n);
		idlist_writer_free(a->w);
		a->w = NULL;
		if (e < 0)
			return e;
	} else {
		idlist_writer_free(a->w);
		a->w = NULL;
	}
	if (a->done)
		a->done(a->done_arg, r->cookie, ferr, depth, refs, n, a->collected_bytes);
	else
		free(refs);
	return 0;
}

/* Takes one finished batch back (waiting when `wait`), applies its records
 * and returns it to the free list. Returns 1 when a batch was collected. */
static int collect_one(struct archiver *a, int wait)
{
	void *item;
	int err;
	int got = wait ? opool_collect(a->pool, &item, &err) : opool_try_collect(a->pool, &item, &err);
	if (!got)
		return 0;
	struct batch *b = item;
	if (err < 0 && !a->fatal)
		a->fatal = err;
	for (size_t i = 0; i < b->n && !a->fatal; i++) {
		int e = collect_rec(a, &b->recs[i]);
		if (e < 0)
			a->fatal = e;
	}
	b->n = 0;
	b->len = 0;
	a->free_list[a->n_free++] = b;
	return 1;
}

/* The batch being filled; takes a free one (collecting if needed). */
static struct batch *cur_batch(struct archiver *a)
{
	if (!a->cur) {
		while (a->n_free == 0)
			collect_one(a, 1);
		a->cur = a->free_list[--a->n_free];
		a->cur->len = 0;
		a->cur->n = 0;
	}
	return a->cur;
}

static struct rec *add_rec(struct batch *b, int kind)
{
	if (b->n == b->ncap) {
		size_t nc = b->ncap ? b->ncap * 2 : 1024;
		struct rec *p = realloc(b->recs, nc * sizeof(*p));
		if (!p)
			return NULL;
		b->recs = p;
		b->ncap = nc;
	}
	struct rec *r = &b->recs[b->n++];
	memset(r, 0, sizeof(*r));
	r->kind = (uint8_t)kind;
	return r;
}

/* Submits the current batch, moving bytes [keep, len) to a fresh one.
 * Returns the new position of `keep` (0). */
static int rotate(struct archiver *a, size_t keep)
{
	struct batch *old = a->cur;
	size_t tail = old->len - keep;
	a->cur = NULL;
	/* take the next batch before submitting, so the tail can be copied */
	while (a->n_free == 0)
		collect_one(a, 1);
	struct batch *nb = a->free_list[--a->n_free];
	nb->n = 0;
	memcpy(nb->data, old->data + keep, tail);
	nb->len = tail;
	old->len = keep;
	if (old->n > 0)
		opool_submit(a->pool, old);
	else
		a->free_list[a->n_free++] = old;
	a->cur = nb;
	return a->fatal;
}

/* Cuts [*start, len) of the current batch into chunks; eof: the data ends at len. */
static int cut_chunks(struct archiver *a, size_t *start, int eof)
{
	struct batch *b = a->cur;
	while (*start < b->len) {
		size_t c = chunker_cut(a->chunker, b->data + *start, b->len - *start, eof);
		if (c == 0)
			break;
		struct rec *r = add_rec(b, REC_DATA);
		if (!r)
			return CAIRN_ENOMEM;
		r->off = *start;
		r->len = c;
		*start += c;
	}
	return 0;
}

/* A file read with read(2): the source of archiver_add_file. */
struct fd_src {
	int fd;
	const char *what;
};

/* archiver_read_fn over a file descriptor; logs a read error naming the file. */
static ssize_t fd_read(void *arg, void *buf, size_t n)
{
	struct fd_src *src = arg;
	for (;;) {
		ssize_t r = read(src->fd, buf, n);
		if (r >= 0)
			return r;
		if (errno != EINTR) {
			log_error("cannot read %s: %s", src->what, strerror(errno));
			return cairn_from_errno(errno);
		}
	}
}

/*
 * The early dictionary. Without a dictionary, zstd compresses the small
 * chunks of a first backup slowly and poorly: measured on the benchmark's
 * pg_dump0 at 4 KiB chunks, 145 MB/s to 40.1 % of the input, and with a
 * dictionary trained on a sample of the first 16 MiB, 168 MB/s to 36.2 %.
 * So once EARLY_DICT_AT bytes are read, a dictionary is trained from the
 * sample so far on a thread, and the data blobs saved after it is ready use
 * it. The sample goes on growing, and the dictionary the snapshot names
 * (for the backups that follow) is still trained from all of it at the
 * end: it is the better one for data from anywhere in the input.
 */
#define EARLY_DICT_AT (16u << 20)

static void early_start(struct archiver *a);

/* Reads up to `limit` bytes (UINT64_MAX: to the end) from rd into batches,
 * cutting chunks; the last chunk ends where the region ends. */
static int read_region(struct archiver *a, archiver_read_fn rd, void *arg, uint64_t limit,
		       int *ret_err)
{
	struct batch *b = cur_batch(a);
	size_t start = b->len;
	uint64_t done = 0;
	for (;;) {
		b = a->cur;
		if (b->len >= BATCH_BYTES) {
			int e = rotate(a, start);
			if (e < 0)
				return e;
			start = 0;
			b = a->cur;
		}
		size_t want = BATCH_BYTES - b->len;
		if (limit != UINT64_MAX && want > limit - done)
			want = (size_t)(limit - done);
		ssize_t r = want ? rd(arg, b->data + b->len, want) : 0;
		if (r < 0 || (size_t)r > want) {
			*ret_err = r < 0 ? (int)r : CAIRN_EIO;
			b->len = start;	/* drop the uncut tail */
			return 0;
		}
		if (a->observe && r > 0)
			a->observe(a->observe_arg, b->data + b->len, (size_t)r);
		b->len += (size_t)r;
		done += (uint64_t)r;
		a->bytes_read += (uint64_t)r;
		if (a->bytes_read >= EARLY_DICT_AT && !a->early_tried)
			early_start(a);
		int eof = r == 0 || (limit != UINT64_MAX && done == limit);
		int e = cut_chunks(a, &start, eof);
		if (e < 0)
			return e;
		if (eof)
			return a->fatal;
	}
}

/* Appends a hole record. */
static int add_hole(struct archiver *a, uint64_t len)
{
	struct rec *r = add_rec(cur_batch(a), REC_HOLE);
	if (!r)
		return CAIRN_ENOMEM;
	r->len = len;
	return 0;
}

/* Sparse reading: data regions from SEEK_DATA/SEEK_HOLE, holes as records. */
static int read_sparse(struct archiver *a, struct fd_src *src, int *ret_err)
{
	int fd = src->fd;
	const char *what = src->what;
	off_t pos = 0, end = lseek(fd, 0, SEEK_END);
	if (end < 0)
		return read_region(a, fd_read, src, UINT64_MAX, ret_err);
	while (pos < end && !*ret_err) {
		off_t data = lseek(fd, pos, SEEK_DATA);
		if (data < 0)
			data = end;	/* ENXIO: only a hole remains */
		if (data > pos) {
			int e = add_hole(a, (uint64_t)(data - pos));
			if (e < 0)
				return e;
			pos = data;
			if (pos >= end)
				break;
		}
		off_t hole = lseek(fd, pos, SEEK_HOLE);
		if (hole < 0 || hole > end)
			hole = end;
		if (lseek(fd, pos, SEEK_SET) < 0) {
			*ret_err = cairn_from_errno(errno);
			log_error("cannot seek in %s: %s", what, strerror(errno));
			break;
		}
		int e = read_region(a, fd_read, src, (uint64_t)(hole - pos), ret_err);
		if (e < 0)
			return e;
		pos = hole;
	}
	return 0;
}

/* Ends a file read by add_file or add_stream (e: the reading's storage error). */
static int end_file(struct archiver *a, int e, uint64_t cookie, int ferr);

int archiver_add_file(struct archiver *a, int fd, const char *what, uint64_t cookie, int sparse)
{
	if (a->fatal)
		return a->fatal;
	struct fd_src src = { .fd = fd, .what = what };
	int ferr = 0;
	int e = sparse ? read_sparse(a, &src, &ferr) : read_region(a, fd_read, &src, UINT64_MAX, &ferr);
	return end_file(a, e, cookie, ferr);
}

int archiver_add_stream(struct archiver *a, archiver_read_fn rd, void *arg, uint64_t cookie)
{
	if (a->fatal)
		return a->fatal;
	int ferr = 0;
	int e = read_region(a, rd, arg, UINT64_MAX, &ferr);
	return end_file(a, e, cookie, ferr);
}

static int end_file(struct archiver *a, int e, uint64_t cookie, int ferr)
{
	if (e < 0)
		return a->fatal ? a->fatal : e;
	struct rec *r = add_rec(cur_batch(a), REC_END);
	if (!r)
		return CAIRN_ENOMEM;
	r->cookie = cookie;
	r->err = ferr;
	/* a batch of only records (tiny files) still goes out when full enough */
	if (a->cur->len >= BATCH_BYTES || a->cur->n >= 65536)
		e = rotate(a, a->cur->len);
	return e < 0 ? e : a->fatal;
}

void archiver_set_done(struct archiver *a, archiver_done_fn done, void *arg)
{
	a->done = done;
	a->done_arg = arg;
}

void archiver_set_observer(struct archiver *a, archiver_observe_fn fn, void *arg)
{
	a->observe = fn;
	a->observe_arg = arg;
}

int archiver_poll(struct archiver *a)
{
	while (collect_one(a, 0))
		;
	return a->fatal;
}

int archiver_drain(struct archiver *a)
{
	if (a->cur) {
		struct batch *b = a->cur;
		a->cur = NULL;
		if (b->n > 0)
			opool_submit(a->pool, b);
		else
			a->free_list[a->n_free++] = b;
	}
	while (opool_in_flight(a->pool) > 0)
		collect_one(a, 1);
	return a->fatal;
}

/* done callback of archiver_store_fd. */
static void store_fd_done(void *arg, uint64_t cookie, int err, uint32_t depth,
			  struct content_ref *refs, size_t n, uint64_t size)
{
	struct archiver *a = arg;
	(void)cookie;
	a->sync_err = err;
	if (err || !a->sync_node) {
		free(refs);
		return;
	}
	a->sync_node->content_depth = depth;
	a->sync_node->content = refs;
	a->sync_node->n_content = n;
	a->sync_node->size = size;
}

static void train_start(struct archiver *a);

int archiver_store_fd(struct archiver *a, int fd, const char *what, struct node *node)
{
	archiver_done_fn save_fn = a->done;
	void *save_arg = a->done_arg;
	a->done = store_fd_done;
	a->done_arg = a;
	a->sync_node = node;
	a->sync_err = 0;
	int e = archiver_add_file(a, fd, what, 0, 0);
	if (e == 0)
		train_start(a);	/* the stream is read: train while the pipeline drains */
	if (e == 0)
		e = archiver_drain(a);
	if (e == 0)
		e = a->sync_err;
	a->done = save_fn;
	a->done_arg = save_arg;
	a->sync_node = NULL;
	return e;
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

/* Training takes ~0.1 s per MiB of sample; below 1 MiB of compressible new
 * data a dictionary has too little to learn from. */
#define DICT_MIN_SAMPLE (1u << 20)

int archiver_use_dump_chunker(struct archiver *a)
{
	if (a->own_chunker)
		return 0;
	const struct chunker_params *p = chunker_params(repo_chunker(a->repo));
	struct chunker_params half = { .min = p->min / 2, .avg = p->avg / 2, .max = p->max / 2 };
	if (half.min < CHUNKER_LIMIT_MIN || half.avg < 256)
		return 0;	/* the repository's sizes are small already */
	a->own_chunker = chunker_new(&half, repo_keys(a->repo)->chunker);
	if (!a->own_chunker)
		return CAIRN_ENOMEM;
	a->chunker = a->own_chunker;
	return 0;
}

int archiver_set_dict(struct archiver *a, const uint8_t *dict)
{
	if (dict) {
		int e = saver_use_dict(a->saver, dict);
		if (e == 0) {
			a->has_dict = 1;
			memcpy(a->dict, dict, 32);
			return 0;
		}
		if (e == CAIRN_ENOMEM)
			return e;
		log_warn("the parent snapshot's compression dictionary can't be used; "
			 "this backup trains a new one");
	}
	a->train_dict = 1;
	return saver_sample_start(a->saver);
}

static void *train_main(void *arg)
{
	struct archiver *a = arg;
	a->train_err = saver_train_dict(a->saver, a->train_ctx, DICT_MIN_SAMPLE, a->dict);
	return NULL;
}

static void *early_main(void *arg)
{
	struct archiver *a = arg;
	int e = saver_train_early(a->saver, a->train_ctx, DICT_MIN_SAMPLE);
	a->train_err = e == CAIRN_EINVAL ? 0 : e;	/* too little compressible data */
	return NULL;
}

static void early_start(struct archiver *a)
{
	a->early_tried = 1;
	if (!a->train_dict || a->has_dict || a->training)
		return;
	if (!a->train_ctx)
		a->train_ctx = saver_ctx_new(a->saver);
	if (a->train_ctx && pthread_create(&a->trainer, NULL, early_main, a) == 0)
		a->training = 1;
}

/* Waits for the early dictionary's thread; returns its error. */
static int early_join(struct archiver *a)
{
	if (!a->training)
		return 0;
	pthread_join(a->trainer, NULL);
	a->training = 0;
	return a->train_err;
}

/* Once all input is read, the sample is as good as complete: the
 * dictionary is trained on a thread of its own while the pipeline drains
 * (training took ~0.07 s at the end of a 1.4 s first backup). Without a
 * thread, train_finish trains. */
static void train_start(struct archiver *a)
{
	if (!a->train_dict || a->has_dict || a->final_started)
		return;
	a->final_started = 1;
	if (early_join(a) < 0)
		return;
	if (!a->train_ctx)
		a->train_ctx = saver_ctx_new(a->saver);
	a->train_err = 0;
	if (a->train_ctx && pthread_create(&a->trainer, NULL, train_main, a) == 0)
		a->training = 1;
}

/* Waits for the dictionary (or trains it here). Returns 0 or an error. */
static int train_finish(struct archiver *a)
{
	if (!a->train_dict || a->has_dict)
		return early_join(a);
	int e;
	if (a->training) {
		pthread_join(a->trainer, NULL);
		a->training = 0;
		e = a->train_err;
	} else {
		e = a->train_err;	/* the early dictionary's */
		if (e == 0)
			e = saver_train_dict(a->saver, a->meta_ctx, DICT_MIN_SAMPLE, a->dict);
	}
	a->train_dict = 0;
	if (e == 0)
		a->has_dict = 1;
	return e == CAIRN_EINVAL ? 0 : e;	/* EINVAL: too little compressible data */
}

int archiver_commit(struct archiver *a, struct snapshot *sn, uint8_t ret_id[32])
{
	train_start(a);
	int e = archiver_drain(a);
	/* the last data pack uploads while the dictionary trains (measured on
	 * S3: the two took 0.1 s each, one after the other, at the end of a
	 * 1.5 s backup); the dictionary goes into the metadata pack */
	if (e == 0)
		e = saver_send_data(a->saver);
	int te = train_finish(a);
	if (e == 0)
		e = te;
	if (e == 0)
		e = saver_flush_index(a->saver);
	if (e < 0)
		return e;
	struct saver_stats st;
	saver_get_stats(a->saver, &st);
	const struct chunker_params *cp = chunker_params(a->chunker);
	sn->chunk_min = cp->min;
	sn->chunk_avg = cp->avg;
	sn->chunk_max = cp->max;
	sn->has_dict = a->has_dict;
	if (a->has_dict)
		memcpy(sn->dict, a->dict, 32);
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

void archiver_finish(struct archiver *a)
{
	/* the cache recorded the new blobs while the snapshot was stored */
	if (saver_flush_commit(a->saver) < 0)
		log_warn("the local index cache did not record this backup's blobs; "
			 "the next command reads them from the repository");
}

uint64_t archiver_bytes_added(struct archiver *a)
{
	struct saver_stats st;
	saver_get_stats(a->saver, &st);
	return st.bytes_added;
}
