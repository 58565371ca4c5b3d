/*
 * restorer.c - reading files back (see restorer.h).
 *
 * The chunk list is walked in order (idlist reader) on the calling thread,
 * which groups refs into batches of about 4 MiB; workers load and verify
 * the blobs of a batch; the calling thread writes batches in order.
 */
#include "cairn/common.h"
#include "cairn/restorer.h"
#include "cairn/compress.h"
#include "cairn/idlist.h"
#include "cairn/log.h"
#include "cairn/opool.h"
#include "cairn/pack.h"
#include "cairn/repo.h"

#include <errno.h>
#include <unistd.h>

#define RBATCH_BYTES (4u << 20)
#define RBATCH_REFS 1024
#define RBATCH_RING 6

struct rbatch {
	struct content_ref refs[RBATCH_REFS];
	size_t n;
	uint64_t bytes;
	struct buf out;
};

struct rworker {
	struct repo *r;
	struct decompressor *d;
	struct buf blob;
};

int restorer_load_tree(struct repo *r, const uint8_t id[32], struct tree *ret)
{
	struct decompressor *d = decompressor_new();
	struct buf b = BUF_INIT;
	if (!d)
		return CAIRN_ENOMEM;
	int e = repo_blob_load(r, d, BLOB_TREE, id, &b);
	if (e == 0) {
		tree_init(ret);
		e = tree_decode(b.data, b.len, ret);
		if (e == CAIRN_ECORRUPT) {
			char hex[65];
			hex_encode(id, 32, hex);
			log_error("tree %s is malformed", hex);
		}
	}
	buf_free(&b);
	decompressor_free(d);
	return e;
}

int restorer_find(struct repo *r, const uint8_t root[32], const char *path, struct node *ret)
{
	uint8_t cur[32];
	memcpy(cur, root, 32);
	char *copy = strdup(path);
	if (!copy)
		return CAIRN_ENOMEM;
	int e = CAIRN_ENOTFOUND;
	char *save = NULL;
	char *comp = strtok_r(copy, "/", &save);
	if (!comp) {
		log_error("give the path of a file in the snapshot (see 'cairn ls')");
		goto out;
	}
	while (comp) {
		struct tree t;
		e = restorer_load_tree(r, cur, &t);
		if (e < 0)
			goto out;
		const struct node *n = tree_find(&t, comp);
		char *next = strtok_r(NULL, "/", &save);
		if (!n) {
			log_error("%s is not in the snapshot", path);
			e = CAIRN_ENOTFOUND;
		} else if (!next) {
			e = node_copy(ret, n);
		} else if (n->type != NODE_DIR || !n->has_subtree) {
			log_error("%s: %s is not a folder", path, comp);
			e = CAIRN_ENOTFOUND;
		} else {
			memcpy(cur, n->subtree, 32);
		}
		tree_free(&t);
		if (e < 0 || !next)
			goto out;
		comp = next;
	}
out:
	free(copy);
	return e;
}

static int idl_load(void *arg, const uint8_t id[32], struct buf *out)
{
	struct rworker *w = arg;
	return repo_blob_load(w->r, w->d, BLOB_LIST, id, out);
}

/* Worker: load every blob of a batch into its output buffer. */
static int rbatch_load(void *ctx, void *item)
{
	struct rworker *w = ctx;
	struct rbatch *b = item;
	static const uint8_t zero[32];
	buf_reset(&b->out);
	if (buf_reserve(&b->out, b->bytes) < 0)
		return CAIRN_ENOMEM;
	for (size_t i = 0; i < b->n; i++) {
		const struct content_ref *c = &b->refs[i];
		if (memcmp(c->id, zero, 32) == 0) {
			memset(b->out.data + b->out.len, 0, c->size);
			b->out.len += c->size;
			continue;
		}
		int e = repo_blob_load(w->r, w->d, BLOB_DATA, c->id, &w->blob);
		if (e < 0)
			return e;
		if (w->blob.len != c->size) {
			char hex[65];
			hex_encode(c->id, 32, hex);
			log_error("data blob %s has %zu bytes where the file's chunk list says "
				  "%llu",
				  hex, w->blob.len, (unsigned long long)c->size);
			return CAIRN_ECORRUPT;
		}
		buf_put(&b->out, w->blob.data, w->blob.len);
	}
	return buf_ok(&b->out);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			log_error("cannot write output: %s", strerror(errno));
			return cairn_from_errno(errno);
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int restorer_dump(struct repo *r, const struct node *file, int fd, unsigned threads)
{
	if (file->type != NODE_FILE) {
		log_error("%s is not a regular file", file->name);
		return CAIRN_EINVAL;
	}
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nw = threads ? threads : (ncpu > 0 ? (size_t)ncpu : 2);
	struct rworker *workers = calloc(nw + 1, sizeof(*workers));
	void **ctxp = calloc(nw, sizeof(void *));
	struct rbatch *batches = calloc(RBATCH_RING, sizeof(*batches));
	struct rbatch *free_list[RBATCH_RING];
	size_t n_free = 0;
	struct opool *pool = NULL;
	struct idlist_reader *rd = NULL;
	int e = CAIRN_ENOMEM, first_err = 0;
	if (!workers || !ctxp || !batches)
		goto out;
	for (size_t i = 0; i <= nw; i++) {
		workers[i].r = r;
		if (!(workers[i].d = decompressor_new()))
			goto out;
		if (i < nw)
			ctxp[i] = &workers[i];
	}
	for (size_t i = 0; i < RBATCH_RING; i++)
		free_list[n_free++] = &batches[i];
	e = opool_new(nw, RBATCH_RING, rbatch_load, ctxp, &pool);
	if (e < 0)
		goto out;
	/* the calling thread reads LIST blobs with the spare worker context */
	e = idlist_reader_new(file->content, file->n_content, file->content_depth, idl_load,
			      &workers[nw], &rd);
	if (e < 0)
		goto out;
	uint64_t written = 0;
	int done = 0;
	while (!first_err && (!done || opool_in_flight(pool) > 0)) {
		if (!done && n_free > 0) {
			struct rbatch *b = free_list[--n_free];
			b->n = 0;
			b->bytes = 0;
			while (b->n < RBATCH_REFS && b->bytes < RBATCH_BYTES) {
				int got = idlist_reader_next(rd, &b->refs[b->n]);
				if (got < 0) {
					first_err = got;
					break;
				}
				if (got == 0) {
					done = 1;
					break;
				}
				b->bytes += b->refs[b->n].size;
				b->n++;
			}
			if (b->n == 0 || first_err) {
				free_list[n_free++] = b;
				continue;
			}
			opool_submit(pool, b);
			if (n_free > 0 && !done)
				continue;
		}
		void *item;
		int err;
		if (!opool_collect(pool, &item, &err))
			break;
		struct rbatch *b = item;
		if (err < 0)
			first_err = err;
		else if ((err = write_all(fd, b->out.data, b->out.len)) < 0)
			first_err = err;
		written += b->out.len;
		free_list[n_free++] = b;
	}
	/* drain what is still in flight after an error */
	while (pool && opool_in_flight(pool) > 0) {
		void *item;
		int err;
		opool_collect(pool, &item, &err);
	}
	e = first_err;
	if (e == 0 && written != file->size) {
		log_error("%s: restored %llu bytes but the snapshot records %llu", file->name,
			  (unsigned long long)written, (unsigned long long)file->size);
		e = CAIRN_ECORRUPT;
	}
out:
	idlist_reader_free(rd);
	opool_free(pool);
	if (workers)
		for (size_t i = 0; i <= nw; i++) {
			decompressor_free(workers[i].d);
			buf_free(&workers[i].blob);
		}
	if (batches)
		for (size_t i = 0; i < RBATCH_RING; i++)
			buf_free(&batches[i].out);
	free(batches);
	free(workers);
	free(ctxp);
	return e;
}
