/*
 * restorer.c - reading files back (see restorer.h).
 *
 * restorer_dump: the chunk list is walked in order (idlist reader) on the
 * calling thread, which groups refs into batches of about 4 MiB; workers
 * load and verify the blobs of a batch; the calling thread writes batches
 * in order. restorer_restore: see "restoring trees" below.
 */
#include "cairn/common.h"
#include "cairn/restorer.h"
#include "cairn/compress.h"
#include "cairn/idlist.h"
#include "cairn/log.h"
#include "cairn/opool.h"
#include "cairn/pack.h"
#include "cairn/repo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* ---- loading blobs -------------------------------------------------------
 *
 * Both dump and restore load content a batch of refs at a time: one index
 * read for the whole batch (index_lookup_many), then the reads sorted by
 * pack and offset, one backend read over each run of blobs that lie at
 * most RREAD_GAP apart, every blob decoded straight into its place in the
 * output buffer. Per blob that leaves a decode and no look-up, lock or
 * system call of its own.
 */

#define RLOAD_REFS 4096	/* most refs in one rload_refs call */
/* SQLite page cache for the look-ups, which come in no useful order: the
 * default 2 MiB misses most of them once the index outgrows it (a read()
 * a look-up). The cache grows only as far as the index file. */
#define RINDEX_CACHE_KIB (64u << 10)
#define RREAD_GAP (16u << 10)	/* one read spans gaps up to this between blobs of a pack */
#define RREAD_MAX (8u << 20)	/* longest read of several blobs */

static const uint8_t zero_id[32];

/* One blob a batch needs: where it is stored and where it goes. */
struct rread {
	struct index_loc loc;
	size_t ref;	/* index in the batch's refs */
	size_t dst;	/* offset in the output buffer */
};

/* One thread's state for loading blobs. */
struct rloader {
	struct repo *r;
	struct decompressor *d;
	struct buf blob;	/* LIST blobs */
	struct buf range, scratch;
	struct rread reads[RLOAD_REFS];
	uint8_t ids[RLOAD_REFS][32];	/* of the reads, for index_lookup_many */
	struct index_loc locs[RLOAD_REFS];
	uint8_t found[RLOAD_REFS];
	const uint8_t *plain[RLOAD_REFS];	/* the decoded reads, hashed together */
	size_t plain_len[RLOAD_REFS];
	uint8_t plain_id[RLOAD_REFS][32];
};

static void rloader_free(struct rloader *l)
{
	decompressor_free(l->d);
	buf_free(&l->blob);
	buf_free(&l->range);
	buf_free(&l->scratch);
}

static int idl_load(void *arg, const uint8_t id[32], struct buf *out)
{
	struct rloader *l = arg;
	return repo_blob_load(l->r, l->d, BLOB_LIST, id, out);
}

static int rread_cmp(const void *a, const void *b)
{
	const struct rread *x = a, *y = b;
	int c = memcmp(x->loc.pack_id, y->loc.pack_id, 32);
	if (c)
		return c;
	return x->loc.offset < y->loc.offset ? -1 : x->loc.offset > y->loc.offset;
}

/* The run of reads that starts at reads[i] (sorted by rread_cmp): the
 * blobs of one pack at most RREAD_GAP apart, RREAD_MAX in all. Returns
 * the index after the run; *start, *end: its byte range in the pack. */
static size_t rread_run(const struct rread *reads, size_t i, size_t nr, uint64_t *start,
			uint64_t *end)
{
	uint64_t s0 = reads[i].loc.offset, e0 = s0 + reads[i].loc.length;
	size_t k = i + 1;
	while (k < nr && !memcmp(reads[k].loc.pack_id, reads[i].loc.pack_id, 32)) {
		const struct index_loc *lc = &reads[k].loc;
		uint64_t e2 = CAIRN_MAX(e0, lc->offset + lc->length);
		if (lc->offset > e0 + RREAD_GAP || e2 - s0 > RREAD_MAX)
			break;
		e0 = e2;
		k++;
	}
	*start = s0;
	*end = e0;
	return k;
}

/* Looks up the data blobs of refs[0 .. n) that are not holes, in one
 * index read: locs[k] and found[k] for the k-th of them. Returns their
 * count, or an error. */
static long rload_lookup(struct rloader *l, const struct content_ref *refs, size_t n,
			 struct index_loc *locs, uint8_t *found)
{
	size_t nr = 0;
	for (size_t i = 0; i < n; i++)
		if (memcmp(refs[i].id, zero_id, 32) != 0)
			memcpy(l->ids[nr++], refs[i].id, 32);
	int e = nr ? index_lookup_many(repo_index(l->r), BLOB_DATA, l->ids, nr, locs, found) : 0;
	return e < 0 ? e : (long)nr;
}

static void rload_damaged(const uint8_t id[32], const char *pack)
{
	char hex[65];
	hex_encode(id, 32, hex);
	log_error("data blob %s in pack %s is damaged (it does not decrypt or its content "
		  "does not match its id); run 'cairn check --read-data'",
		  hex, pack);
}

/* Loads the data blobs refs[0 .. n) into out (reset first), in ref order,
 * from where rload_lookup found them (locs, found). A hole (all-zero id)
 * is zeros in out when zero_holes is set, else left out. slot, when not
 * NULL, gets each ref's offset in out, SIZE_MAX for a hole left out.
 * Returns 0 or an error (logged). */
static int rload_read(struct rloader *l, const struct content_ref *refs, size_t n,
		      const struct index_loc *locs, const uint8_t *found, int zero_holes,
		      struct buf *out, size_t *slot)
{
	struct backend *be = repo_backend(l->r);
	size_t nr = 0, pos = 0;
	char hex[65], name[96];
	int e;
	for (size_t i = 0; i < n; i++) {
		if (memcmp(refs[i].id, zero_id, 32) == 0) {
			if (slot)
				slot[i] = zero_holes ? pos : SIZE_MAX;
			if (zero_holes)
				pos += refs[i].size;
			continue;
		}
		const struct content_ref *c = &refs[i];
		if (!found[nr]) {
			hex_encode(c->id, 32, hex);
			log_error("data blob %s is not in the index; run 'cairn repair index' or "
				  "'cairn check'",
				  hex);
			return CAIRN_ENOTFOUND;
		}
		if (locs[nr].raw_length != c->size) {
			hex_encode(c->id, 32, hex);
			log_error("data blob %s has %lu bytes where the file's chunk list says %llu",
				  hex, (unsigned long)locs[nr].raw_length,
				  (unsigned long long)c->size);
			return CAIRN_ECORRUPT;
		}
		l->reads[nr].loc = locs[nr];
		l->reads[nr].ref = i;
		l->reads[nr++].dst = pos;
		if (slot)
			slot[i] = pos;
		pos += c->size;
	}
	buf_reset(out);
	if (buf_reserve(out, pos ? pos : 1) < 0)
		return CAIRN_ENOMEM;
	out->len = pos;
	if (zero_holes && nr < n)
		for (size_t i = 0, p = 0; i < n; p += refs[i++].size)
			if (memcmp(refs[i].id, zero_id, 32) == 0)
				memset(out->data + p, 0, refs[i].size);
	qsort(l->reads, nr, sizeof(l->reads[0]), rread_cmp);
	for (size_t i = 0; i < nr;) {
		uint64_t start, end;
		size_t k = rread_run(l->reads, i, nr, &start, &end);
		pack_name(l->reads[i].loc.pack_id, name, sizeof(name));
		buf_reset(&l->range);
		e = backend_get(be, name, start, (size_t)(end - start), &l->range);
		if (e == CAIRN_ENOTFOUND)
			log_error("pack %s holding data blobs is missing", name);
		if (e < 0)
			return e;
		if (l->range.len != end - start) {
			log_error("pack %s: short read at offset %llu", name,
				  (unsigned long long)start);
			return CAIRN_EIO;
		}
		for (; i < k; i++) {
			const struct rread *rr = &l->reads[i];
			const struct content_ref *c = &refs[rr->ref];
			e = repo_blob_decode_unchecked(l->r, l->d, BLOB_DATA, c->id,
						       l->range.data + (rr->loc.offset - start),
						       rr->loc.length, rr->loc.raw_length,
						       out->data + rr->dst, &l->scratch);
			if (e == CAIRN_ECORRUPT)
				rload_damaged(c->id, name);
			if (e < 0)
				return e;
			l->plain[i] = (const uint8_t *)out->data + rr->dst;
			l->plain_len[i] = rr->loc.raw_length;
		}
	}
	/* the ids of all the batch's blobs at once (eight at a time), before
	 * the caller sees any of their bytes */
	repo_blob_ids(l->r, (size_t)nr, l->plain, l->plain_len, l->plain_id);
	for (size_t i = 0; i < nr; i++) {
		if (memcmp(l->plain_id[i], refs[l->reads[i].ref].id, 32) != 0) {
			pack_name(l->reads[i].loc.pack_id, name, sizeof(name));
			rload_damaged(refs[l->reads[i].ref].id, name);
			return CAIRN_ECORRUPT;
		}
	}
	return 0;
}

/* rload_lookup, then rload_read. */
static int rload_refs(struct rloader *l, const struct content_ref *refs, size_t n,
		      int zero_holes, struct buf *out, size_t *slot)
{
	long nr = rload_lookup(l, refs, n, l->locs, l->found);
	if (nr < 0)
		return (int)nr;
	return rload_read(l, refs, n, l->locs, l->found, zero_holes, out, slot);
}

/* Loads a tree blob with the caller's decompressor (one per thread). */
static int load_tree_with(struct repo *r, struct decompressor *d, const uint8_t id[32],
			  struct tree *ret)
{
	struct buf b = BUF_INIT;
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
	return e;
}

int restorer_load_tree(struct repo *r, const uint8_t id[32], struct tree *ret)
{
	struct decompressor *d = decompressor_new();
	if (!d)
		return CAIRN_ENOMEM;
	int e = load_tree_with(r, d, id, ret);
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

/* ---- dump ---------------------------------------------------------------
 *
 * The calling thread walks the file's chunk list (idlist reader) and cuts
 * it into batches of RBATCH_REFS refs or RBATCH_BYTES of file. It looks
 * each batch's blobs up in one index read and, when the backend reads
 * ahead (S3), hints the batch's runs of blobs, the very reads a worker
 * will make. Up to RAHEAD_BATCHES batches wait so prepared, so the hints
 * run that far ahead of the reads (a request to S3 costs a round trip and
 * a pack ~16 MiB of transfer); without read-ahead one waits. Workers read
 * and decode a batch into one of RBATCH_RING output buffers (rload_read);
 * the calling thread writes them in order.
 */

#define RBATCH_BYTES (4u << 20)
#define RBATCH_REFS 1024
#define RBATCH_RING 6		/* output buffers: batches with workers or being written */
#define RAHEAD_BATCHES 16	/* prepared batches ahead of the reads: 64 MiB of file */
#define RDUMP_BATCHES (RAHEAD_BATCHES + RBATCH_RING)

struct rbatch {
	struct content_ref refs[RBATCH_REFS];
	struct index_loc locs[RBATCH_REFS];	/* of the refs that are not holes, in order */
	uint8_t found[RBATCH_REFS];
	size_t n;
	uint64_t bytes;
	struct buf *out;	/* with a worker or being written */
};

/* Worker: reads and decodes the blobs of a batch into its output buffer. */
static int rbatch_load(void *ctx, void *item)
{
	struct rbatch *b = item;
	return rload_read(ctx, b->refs, b->n, b->locs, b->found, 1, b->out, NULL);
}

/* Hints to the backend the runs of blobs that rload_read will read from
 * locs (nr blobs, as rload_lookup found them); l's arrays are used. */
static void rhint_runs(struct rloader *l, const struct index_loc *locs, const uint8_t *found,
		       size_t nr)
{
	struct backend *be = repo_backend(l->r);
	char name[96];
	size_t m = 0;
	for (size_t k = 0; k < nr; k++)
		if (found[k])
			l->reads[m++].loc = locs[k];
	qsort(l->reads, m, sizeof(l->reads[0]), rread_cmp);
	for (size_t i = 0; i < m;) {
		uint64_t start, end;
		size_t k = rread_run(l->reads, i, m, &start, &end);
		pack_name(l->reads[i].loc.pack_id, name, sizeof(name));
		backend_prefetch(be, name, start, (size_t)(end - start), l->reads[i].loc.pack_size);
		i = k;
	}
}

/* Fills b from the chunk list and looks its blobs up; on a backend that
 * reads ahead, hints its runs (l: the calling thread's loader, whose
 * arrays it uses). Returns 1, 0 at the end of the list, or an error. */
static int rbatch_prepare(struct rloader *l, struct idlist_reader *rd, int hint, struct rbatch *b)
{
	b->n = 0;
	b->bytes = 0;
	while (b->n < RBATCH_REFS && b->bytes < RBATCH_BYTES) {
		int got = idlist_reader_next(rd, &b->refs[b->n]);
		if (got < 0)
			return got;
		if (got == 0)
			break;
		b->bytes += b->refs[b->n++].size;
	}
	if (b->n == 0)
		return 0;
	long nr = rload_lookup(l, b->refs, b->n, b->locs, b->found);
	if (nr < 0)
		return (int)nr;
	if (hint)
		rhint_runs(l, b->locs, b->found, (size_t)nr);
	return 1;
}

static int write_all_fd(void *arg, const void *data, size_t n)
{
	int fd = *(int *)arg;
	const uint8_t *p = data;
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
	return restorer_dump_to(r, file, write_all_fd, &fd, threads);
}

int restorer_dump_to(struct repo *r, const struct node *file, restorer_write_fn fn, void *arg,
		     unsigned threads)
{
	if (file->type != NODE_FILE) {
		log_error("%s is not a regular file", file->name);
		return CAIRN_EINVAL;
	}
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nw = threads ? threads : (ncpu > 0 ? (size_t)ncpu : 2);
	struct rloader *workers = calloc(nw + 1, sizeof(*workers));
	void **ctxp = calloc(nw, sizeof(void *));
	struct rbatch *batches = calloc(RDUMP_BATCHES, sizeof(*batches));
	struct rbatch *free_b[RDUMP_BATCHES], *prep[RAHEAD_BATCHES];
	struct buf outs[RBATCH_RING], *free_out[RBATCH_RING];
	size_t n_free_b = 0, n_free_out = 0, prep_head = 0, n_prep = 0;
	struct opool *pool = NULL;
	struct idlist_reader *rd = NULL;
	uint64_t written = 0;
	int e = CAIRN_ENOMEM, first_err = 0, done = 0;
	for (size_t i = 0; i < RBATCH_RING; i++) {
		buf_init(&outs[i]);
		free_out[n_free_out++] = &outs[i];
	}
	if (!workers || !ctxp || !batches)
		goto out;
	for (size_t i = 0; i <= nw; i++) {
		workers[i].r = r;
		if (!(workers[i].d = decompressor_new()))
			goto out;
		if (i < nw)
			ctxp[i] = &workers[i];
	}
	for (size_t i = 0; i < RDUMP_BATCHES; i++)
		free_b[n_free_b++] = &batches[i];
	index_set_cache_kib(repo_index(r), RINDEX_CACHE_KIB);
	e = opool_new(nw, RBATCH_RING, rbatch_load, ctxp, &pool);
	if (e < 0)
		goto out;
	/* the calling thread reads LIST blobs and looks up with the spare context */
	struct rloader *me = &workers[nw];
	e = idlist_reader_new(file->content, file->n_content, file->content_depth, idl_load, me,
			      &rd);
	if (e < 0)
		goto out;
	int hint = backend_can_prefetch(repo_backend(r));
	size_t ahead = hint ? RAHEAD_BATCHES : 1;
	for (;;) {
		while (!first_err && !done && n_prep < ahead && n_free_b > 0) {
			struct rbatch *b = free_b[--n_free_b];
			int got = rbatch_prepare(me, rd, hint, b);
			if (got <= 0) {
				free_b[n_free_b++] = b;
				if (got < 0)
					first_err = got;
				done = 1;
				break;
			}
			prep[(prep_head + n_prep++) % RAHEAD_BATCHES] = b;
		}
		if (!first_err && n_prep > 0 && n_free_out > 0) {
			struct rbatch *b = prep[prep_head];
			prep_head = (prep_head + 1) % RAHEAD_BATCHES;
			n_prep--;
			b->out = free_out[--n_free_out];
			opool_submit(pool, b);
			continue;
		}
		if (opool_in_flight(pool) == 0)
			break;	/* all written, or an error */
		void *item;
		int err;
		if (!opool_collect(pool, &item, &err))
			break;
		struct rbatch *b = item;
		if (err < 0 && !first_err)
			first_err = err;
		else if (!first_err && (err = fn(arg, b->out->data, b->out->len)) < 0)
			first_err = err;
		written += b->out->len;
		free_out[n_free_out++] = b->out;
		free_b[n_free_b++] = b;
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
		for (size_t i = 0; i <= nw; i++)
			rloader_free(&workers[i]);
	for (size_t i = 0; i < RBATCH_RING; i++)
		buf_free(&outs[i]);
	free(batches);
	free(workers);
	free(ctxp);
	return e;
}

/* ---- restoring trees ----------------------------------------------------
 *
 * The calling thread walks the trees; it creates folders, symbolic links
 * and special files itself and packs regular files into jobs of up to
 * RJOB_BYTES of content, many small files per job, so that a hand-off to
 * a worker costs little per file. A worker looks the blobs of a job up,
 * reads them pack by pack in offset order (one read per run of nearby
 * blobs), decodes each straight into its place in the worker's buffer,
 * then creates and writes the job's files and sets their metadata through
 * the open descriptor. A file too big for one job is created by the
 * walker and written in parts by several jobs. Jobs are collected in
 * order, so what must come after content (a big file's metadata, hard
 * links, a folder's metadata) runs on the calling thread when its job
 * comes back. On a backend that reads ahead (S3) the walker looks a job's
 * blobs up when it submits the job and hints their runs (rflush), so the
 * packs load while earlier jobs are decoded. Nothing is fsync'ed (see
 * cairn-restore(1)).
 */

#define RJOB_REFS 4096
#define RJOB_BYTES (16u << 20)
#define RJOB_ITEMS 1024
#define RJOB_RING 6

enum { RI_FILE, RI_PART, RI_BIG_END, RI_LINK, RI_DIR_END };

/* What apply_meta needs of a node. */
struct rmeta {
	enum node_type type;
	uint32_t mode, uid, gid;
	int64_t atime_ns, mtime_ns;
	uint64_t size;
	struct xattr *xattrs;	/* owned when the rmeta is a copy */
	size_t n_xattrs;
};

/* A file written by several jobs: the walker opens it. */
struct rfile {
	int fd;
	char *path;
	struct rmeta meta;
	int failed;	/* set by workers, atomically */
};

struct ritem {
	int kind;
	int failed;		/* FILE: set by the worker */
	char *path;		/* FILE, LINK (the new name), DIR_END */
	char *link_to;		/* LINK: where the inode was restored first */
	struct rfile *f;	/* PART, BIG_END */
	size_t ref0, nref;	/* FILE, PART: refs[ref0 .. ref0 + nref) */
	uint64_t offset;	/* PART: file offset of refs[ref0] */
	struct rmeta meta;	/* FILE, LINK, DIR_END */
};

struct rjob {
	struct ritem items[RJOB_ITEMS];
	size_t n_items;
	struct content_ref refs[RJOB_REFS];
	size_t n_refs;
	uint64_t bytes;		/* content bytes of the refs, holes left out */
	int looked;		/* the walker looked the refs up (read-ahead) */
	struct index_loc locs[RJOB_REFS];	/* then: where, for rload_read */
	uint8_t found[RJOB_REFS];
	uint64_t files, file_bytes, errors;	/* outcome, counted by the worker */
};

struct rworker2 {
	struct rloader l;	/* r, d, LIST blobs (walker) */
	struct buf out;		/* a job's content, its refs in order, holes left out */
	struct buf check;
	size_t slot[RJOB_REFS];	/* offset of each ref in out; SIZE_MAX for a hole */
	int verify, is_root;
	mode_t umask;
	int own_known;		/* new files get euid/egid (see restorer_restore) */
	uid_t euid;
	gid_t egid;
};

struct hl_entry {
	uint64_t dev, ino;
	char *path;
};

struct rstate {
	struct repo *r;
	const struct restore_opts *o;
	struct restore_stats *st;
	struct opool *pool;
	struct rjob *jobs;
	struct rjob *free_jobs[RJOB_RING];
	size_t n_free;
	struct rjob *cur;	/* the job being filled */
	struct rworker2 *workers;	/* nw workers, then the walker's context */
	size_t nw;
	int hint;		/* the backend reads ahead: rflush hints each job */
	int fatal;
	int is_root;
	mode_t umask;
	struct content_ref *tmp;	/* a small file's refs read from its LIST blobs */
	struct hl_entry *hl;	/* hard links seen: open addressing */
	size_t hl_cap, hl_n;
};

int restorer_path_match(const char *const *pats, size_t n, const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	for (size_t i = 0; i < n; i++) {
		const char *p = pats[i];
		if (strchr(p, '/') ? fnmatch(p, path, 0) == 0 : fnmatch(p, base, 0) == 0)
			return 1;
		/* a pattern naming a folder includes what is below it */
		size_t pl = strlen(p);
		if (p[0] == '/' && !strncmp(path, p, pl) && path[pl] == '/')
			return 1;
	}
	return 0;
}

int restorer_may_match_below(const char *const *pats, size_t n, const char *spath)
{
	size_t l = strlen(spath);
	for (size_t i = 0; i < n; i++) {
		const char *p = pats[i];
		if (p[0] != '/')
			return 1;	/* a base-name pattern can match anywhere */
		if (!strncmp(p, spath, l) && (p[l] == '/' || p[l] == 0))
			return 1;
		if (strpbrk(p, "*?["))
			return 1;
	}
	return 0;
}

static void rmeta_view(struct rmeta *m, const struct node *n)
{
	m->type = n->type;
	m->mode = n->mode;
	m->uid = n->uid;
	m->gid = n->gid;
	m->atime_ns = n->atime_ns;
	m->mtime_ns = n->mtime_ns;
	m->size = n->size;
	m->xattrs = n->xattrs;
	m->n_xattrs = n->n_xattrs;
}

static void rmeta_clear(struct rmeta *m)
{
	for (size_t i = 0; i < m->n_xattrs; i++) {
		free(m->xattrs[i].name);
		free(m->xattrs[i].value);
	}
	free(m->xattrs);
	m->xattrs = NULL;
	m->n_xattrs = 0;
}

/* rmeta_view with the xattrs copied (the node goes away before the job). */
static int rmeta_copy(struct rmeta *m, const struct node *n)
{
	rmeta_view(m, n);
	m->xattrs = NULL;
	m->n_xattrs = 0;
	if (!n->n_xattrs)
		return 0;
	if (!(m->xattrs = calloc(n->n_xattrs, sizeof(*m->xattrs))))
		return CAIRN_ENOMEM;
	for (size_t i = 0; i < n->n_xattrs; i++) {
		struct xattr *x = &m->xattrs[i];
		m->n_xattrs++;
		x->len = n->xattrs[i].len;
		x->name = strdup(n->xattrs[i].name);
		x->value = malloc(x->len ? x->len : 1);
		if (!x->name || !x->value) {
			rmeta_clear(m);
			return CAIRN_ENOMEM;
		}
		if (x->len)
			memcpy(x->value, n->xattrs[i].value, x->len);
	}
	return 0;
}

/* Applies ownership (as root), mode, xattrs and times, through fd when it
 * is open (path then only names the file in messages). created is the mode
 * the file got at creation (umask applied), (mode_t)-1 when unknown: chmod
 * is skipped when it already is the wanted one. */
static void apply_meta(int is_root, const char *path, int fd, mode_t created,
		       const struct rmeta *n)
{
	if (is_root && (fd >= 0 ? fchown(fd, n->uid, n->gid) : lchown(path, n->uid, n->gid)) < 0)
		log_warn("cannot set the owner of %s: %s", path, strerror(errno));
	if (n->type != NODE_SYMLINK && (n->mode & 07777) != created &&
	    (fd >= 0 ? fchmod(fd, n->mode) : chmod(path, n->mode)) < 0)
		log_warn("cannot set the mode of %s: %s", path, strerror(errno));
	for (size_t i = 0; i < n->n_xattrs; i++) {
		const struct xattr *x = &n->xattrs[i];
		if ((fd >= 0 ? fsetxattr(fd, x->name, x->value, x->len, 0)
			     : lsetxattr(path, x->name, x->value, x->len, 0)) < 0)
			log_warn("cannot set extended attribute %s of %s: %s", x->name, path,
				 strerror(errno));
	}
	struct timespec ts[2];
	int64_t at = n->atime_ns ? n->atime_ns : n->mtime_ns;
	ts[0].tv_sec = at / 1000000000;
	ts[0].tv_nsec = at % 1000000000;
	ts[1].tv_sec = n->mtime_ns / 1000000000;
	ts[1].tv_nsec = n->mtime_ns % 1000000000;
	if (ts[0].tv_nsec < 0 || ts[1].tv_nsec < 0)
		return;
	if ((fd >= 0 ? futimens(fd, ts) : utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW)) < 0)
		log_warn("cannot set the times of %s: %s", path, strerror(errno));
}

/* errno to code; a file too big for the file system is like a full one. */
static int rerrno(int en)
{
	return en == EFBIG ? CAIRN_ENOSPC : cairn_from_errno(en);
}

/* Errors that stop the restore: damaged data or a missing blob (as
 * restorer.h promises), or what would make every next file fail too. */
static int rfatal(int e)
{
	return e == CAIRN_ECORRUPT || e == CAIRN_ENOTFOUND || e == CAIRN_ENOSPC ||
	       e == CAIRN_ENOMEM;
}

/* pwrite of all n bytes; 0 or a code (logged). */
static int pwrite_all(int fd, const char *path, const uint8_t *p, size_t n, uint64_t off)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			int en = errno;
			log_error("cannot write %s: %s", path, strerror(en));
			return rerrno(en);
		}
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* Writes refs[ref0 .. ref0 + nref) of a job at file offset off, in runs
 * of contiguous data; holes are skipped (the file is sized for them).
 * Returns 0 or a code (logged). */
static int rwrite_refs(struct rworker2 *w, const struct rjob *j, size_t ref0, size_t nref,
		       uint64_t off, int fd, const char *path)
{
	size_t i = ref0, end = ref0 + nref;
	while (i < end) {
		if (w->slot[i] == SIZE_MAX) {
			off += j->refs[i++].size;
			continue;
		}
		size_t k = i;
		uint64_t n = 0;
		while (k < end && w->slot[k] != SIZE_MAX)
			n += j->refs[k++].size;
		int e = pwrite_all(fd, path, w->out.data + w->slot[i], (size_t)n, off);
		if (e < 0)
			return e;
		off += n;
		i = k;
	}
	return 0;
}

/* --verify: reads the refs back from the file and checks their ids. */
static int rverify_refs(struct rworker2 *w, const struct rjob *j, size_t ref0, size_t nref,
			uint64_t off, int fd, const char *path)
{
	for (size_t i = ref0; i < ref0 + nref; off += j->refs[i++].size) {
		const struct content_ref *c = &j->refs[i];
		if (w->slot[i] == SIZE_MAX)
			continue;
		buf_reset(&w->check);
		if (buf_reserve(&w->check, c->size) < 0)
			return CAIRN_ENOMEM;
		ssize_t n = pread(fd, w->check.data, c->size, (off_t)off);
		uint8_t id[32];
		if (n == (ssize_t)c->size)
			repo_blob_id(w->l.r, w->check.data, c->size, id);
		if (n != (ssize_t)c->size || memcmp(id, c->id, 32) != 0) {
			log_error("verification failed: %s differs from the snapshot at offset %llu",
				  path, (unsigned long long)off);
			return CAIRN_ECORRUPT;
		}
	}
	return 0;
}

/* Creates, writes and closes a file that fits in one job. Returns 0 or
 * an error that stops the restore; other failures mark the item. */
static int rwrite_file(struct rworker2 *w, struct rjob *j, struct ritem *it)
{
	mode_t created = it->meta.mode & 0777 & ~w->umask;
	int fd = open(it->path, (w->verify ? O_RDWR : O_WRONLY) | O_CREAT | O_EXCL | O_NOFOLLOW |
					 O_CLOEXEC,
		      it->meta.mode & 0777);
	if (fd < 0) {
		int en = errno;
		log_error("cannot create %s: %s", it->path, strerror(en));
		it->failed = 1;
		j->errors++;
		return rerrno(en) == CAIRN_ENOSPC ? CAIRN_ENOSPC : 0;
	}
	int e = rwrite_refs(w, j, it->ref0, it->nref, 0, fd, it->path);
	uint64_t data_end = 0;
	for (size_t i = it->ref0; i < it->ref0 + it->nref; i++)
		data_end += j->refs[i].size;
	/* a trailing hole: writes did not reach the end */
	if (e == 0 && it->nref && w->slot[it->ref0 + it->nref - 1] == SIZE_MAX &&
	    ftruncate(fd, (off_t)data_end) < 0) {
		e = rerrno(errno);
		log_error("cannot size %s: %s", it->path, strerror(errno));
	}
	if (e == 0 && w->verify)
		e = rverify_refs(w, j, it->ref0, it->nref, 0, fd, it->path);
	/* as root, chown only when the file did not get the right owner */
	int chown = w->is_root && !(w->own_known && it->meta.uid == w->euid &&
				    it->meta.gid == w->egid);
	if (e == 0)
		apply_meta(chown, it->path, fd, created, &it->meta);
	if (close(fd) < 0 && e == 0) {
		e = rerrno(errno);
		log_error("cannot write %s: %s", it->path, strerror(errno));
	}
	if (e < 0) {
		it->failed = 1;
		j->errors++;
		return rfatal(e) ? e : 0;
	}
	j->files++;
	j->file_bytes += it->meta.size;
	return 0;
}

/* Worker: loads the blobs of a job, then writes its files and parts.
 * Errors are counted per file: here for whole files, at the end item
 * (rcollect) for a file written in parts. */
static int rjob_work(void *ctx, void *item)
{
	struct rworker2 *w = ctx;
	struct rjob *j = item;
	int e = j->looked ? rload_read(&w->l, j->refs, j->n_refs, j->locs, j->found, 0, &w->out,
				       w->slot)
			  : rload_refs(&w->l, j->refs, j->n_refs, 0, &w->out, w->slot);
	if (e < 0) {
		for (size_t i = 0; i < j->n_items; i++) {
			struct ritem *it = &j->items[i];
			if (it->kind == RI_FILE) {
				it->failed = 1;
				j->errors++;
			} else if (it->kind == RI_PART) {
				__atomic_store_n(&it->f->failed, 1, __ATOMIC_RELAXED);
			}
		}
		return rfatal(e) ? e : 0;
	}
	for (size_t i = 0; i < j->n_items && e == 0; i++) {
		struct ritem *it = &j->items[i];
		if (it->kind == RI_FILE) {
			e = rwrite_file(w, j, it);
		} else if (it->kind == RI_PART) {
			struct rfile *f = it->f;
			if (__atomic_load_n(&f->failed, __ATOMIC_RELAXED))
				continue;
			int we = rwrite_refs(w, j, it->ref0, it->nref, it->offset, f->fd, f->path);
			if (we == 0 && w->verify)
				we = rverify_refs(w, j, it->ref0, it->nref, it->offset, f->fd,
						  f->path);
			if (we < 0) {
				__atomic_store_n(&f->failed, 1, __ATOMIC_RELAXED);
				e = rfatal(we) ? we : 0;
			}
		}
	}
	return e;
}

/* Where a hard-linked inode was first restored; NULL when not yet. */
static struct hl_entry *hl_slot(struct rstate *s, uint64_t dev, uint64_t ino, int add)
{
	if (add && (s->hl_n + 1) * 2 > s->hl_cap) {
		size_t cap = s->hl_cap ? s->hl_cap * 2 : 256;
		struct hl_entry *nh = calloc(cap, sizeof(*nh));
		if (!nh)
			return NULL;
		for (size_t i = 0; i < s->hl_cap; i++) {
			if (!s->hl[i].path)
				continue;
			size_t k = (size_t)(s->hl[i].ino * 31 + s->hl[i].dev) & (cap - 1);
			while (nh[k].path)
				k = (k + 1) & (cap - 1);
			nh[k] = s->hl[i];
		}
		free(s->hl);
		s->hl = nh;
		s->hl_cap = cap;
	}
	if (!s->hl_cap)
		return NULL;
	size_t k = (size_t)(ino * 31 + dev) & (s->hl_cap - 1);
	while (s->hl[k].path) {
		if (s->hl[k].dev == dev && s->hl[k].ino == ino)
			return &s->hl[k];
		k = (k + 1) & (s->hl_cap - 1);
	}
	return add ? &s->hl[k] : NULL;
}

/* Handles an existing entry at path per the overwrite policy: 1 keep it
 * (skip), 0 go on (removed when needed). */
static int overwrite_check(struct rstate *s, const char *path, const struct node *n)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return 0;
	if (n->type == NODE_DIR && S_ISDIR(st.st_mode))
		return 0;
	switch (s->o->overwrite) {
	case RESTORE_OVERWRITE_NEVER:
		s->st->skipped++;
		return 1;
	case RESTORE_OVERWRITE_IF_CHANGED:
		if (n->type == NODE_FILE && S_ISREG(st.st_mode) && (uint64_t)st.st_size == n->size &&
		    (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec == n->mtime_ns) {
			s->st->skipped++;
			return 1;
		}
		break;
	default:
		break;
	}
	if (S_ISDIR(st.st_mode)) {
		log_error("cannot restore %s: a folder is in the way", path);
		s->st->errors++;
		return 1;
	}
	if (unlink(path) < 0) {
		log_error("cannot replace %s: %s", path, strerror(errno));
		s->st->errors++;
		return 1;
	}
	return 0;
}

static char *join2(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s%s%s", a, (a[0] && a[strlen(a) - 1] == '/') ? "" : "/", b);
	return p;
}

/* Creates the folders of path that are missing (no metadata: not restored). */
static int mkdirs(const char *path)
{
	char *p = strdup(path);
	if (!p)
		return CAIRN_ENOMEM;
	for (char *c = strchr(p + 1, '/');; c = strchr(c + 1, '/')) {
		if (c)
			*c = 0;
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			log_error("cannot create the folder %s: %s", p, strerror(errno));
			free(p);
			return cairn_from_errno(errno);
		}
		if (!c)
			break;
		*c = '/';
	}
	free(p);
	return 0;
}


/* --- the calling thread --- */

/* Copies the content of a hard link's first path when link() failed (a
 * file system without hard links, or too many). Returns 0 or 1 on failure
 * (logged). */
static int rlink_copy(struct rstate *s, const struct ritem *it)
{
	int in = open(it->link_to, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int out = in < 0 ? -1
			 : open(it->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				0600);
	int e = in < 0 || out < 0 ? rerrno(errno) : 0;
	uint8_t buf[64 << 10];
	while (e == 0) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			e = rerrno(errno);
		if (n <= 0)
			break;
		for (ssize_t done = 0; e == 0 && done < n;) {
			ssize_t w = write(out, buf + done, (size_t)(n - done));
			if (w < 0 && errno != EINTR)
				e = rerrno(errno);
			else if (w > 0)
				done += w;
		}
	}
	if (e == 0)
		apply_meta(s->is_root, it->path, out, 0600 & ~s->umask, &it->meta);
	if (out >= 0 && close(out) < 0 && e == 0)
		e = rerrno(errno);
	if (in >= 0)
		close(in);
	if (e < 0) {
		log_error("cannot restore %s as a copy of %s: %s", it->path, it->link_to,
			  cairn_strerror(e));
		if (e == CAIRN_ENOSPC && !s->fatal)
			s->fatal = e;
		return 1;
	}
	return 0;
}

/* Frees what an item owns. */
static void ritem_clear(struct ritem *it)
{
	free(it->path);
	free(it->link_to);
	rmeta_clear(&it->meta);
	it->path = it->link_to = NULL;
	it->f = NULL;
}

/* Takes the oldest job back and finishes, in order, what had to wait for
 * its content: big files' metadata, hard links, folders' metadata. */
static void rcollect(struct rstate *s)
{
	void *item;
	int err;
	if (!opool_collect(s->pool, &item, &err))
		return;
	struct rjob *j = item;
	if (err < 0 && !s->fatal)
		s->fatal = err;
	s->st->files += j->files;
	s->st->bytes += j->file_bytes;
	s->st->errors += j->errors;
	if (s->o->verify)
		s->st->verified += j->files;
	for (size_t i = 0; i < j->n_items; i++) {
		struct ritem *it = &j->items[i];
		if (it->kind == RI_BIG_END) {
			struct rfile *f = it->f;
			if (!f->failed)
				apply_meta(s->is_root, f->path, f->fd, 0600 & ~s->umask, &f->meta);
			if (close(f->fd) < 0 && !f->failed) {
				log_error("cannot write %s: %s", f->path, strerror(errno));
				f->failed = 1;
			}
			if (f->failed) {
				s->st->errors++;
			} else {
				s->st->files++;
				s->st->bytes += f->meta.size;
				if (s->o->verify)
					s->st->verified++;
			}
			rmeta_clear(&f->meta);
			free(f->path);
			free(f);
		} else if (it->kind == RI_LINK && !s->fatal) {
			if (link(it->link_to, it->path) == 0) {
				s->st->links++;
			} else {
				log_warn("cannot link %s to %s: %s; restoring a copy", it->path,
					 it->link_to, strerror(errno));
				if (rlink_copy(s, it)) {
					s->st->errors++;
				} else {
					s->st->files++;
					s->st->bytes += it->meta.size;
				}
			}
		} else if (it->kind == RI_DIR_END) {
			apply_meta(s->is_root, it->path, -1, (mode_t)-1, &it->meta);
		}
		ritem_clear(it);
	}
	s->free_jobs[s->n_free++] = j;
}

/* Submits the job being filled, if any. */
/* Submits the job being filled. On a backend that reads ahead (S3) the
 * walker looks its blobs up and hints their runs first, so the packs load
 * while the jobs before it are decoded (up to RJOB_RING jobs ahead). */
static void rflush(struct rstate *s)
{
	struct rjob *j = s->cur;
	if (!j)
		return;
	j->looked = 0;
	if (s->hint) {
		struct rloader *l = &s->workers[s->nw].l;
		long nr = rload_lookup(l, j->refs, j->n_refs, j->locs, j->found);
		if (nr >= 0) {
			j->looked = 1;
			rhint_runs(l, j->locs, j->found, (size_t)nr);
		}	/* else the worker looks up again and reports the error */
	}
	opool_submit(s->pool, j);
	s->cur = NULL;
}

/* The job being filled when it has room for nref more refs holding bytes
 * more content and one more item; otherwise submits it and starts another
 * (collecting finished jobs while none is free). */
static struct rjob *rjob_room(struct rstate *s, size_t nref, uint64_t bytes)
{
	struct rjob *j = s->cur;
	if (j && (j->n_items == RJOB_ITEMS || j->n_refs + nref > RJOB_REFS ||
		  (j->bytes + bytes > RJOB_BYTES && j->n_refs > 0)))
		rflush(s);
	if (!s->cur) {
		while (s->n_free == 0)
			rcollect(s);
		j = s->cur = s->free_jobs[--s->n_free];
		j->n_items = 0;
		j->n_refs = 0;
		j->bytes = 0;
		j->files = j->file_bytes = j->errors = 0;
	}
	return s->cur;
}

/* Adds an item to the job being filled (rjob_room made room for it). */
static struct ritem *ritem_add(struct rjob *j, int kind)
{
	struct ritem *it = &j->items[j->n_items++];
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	it->ref0 = j->n_refs;
	return it;
}

/* Content bytes of refs, holes left out. */
static uint64_t refs_bytes(const struct content_ref *c, size_t n)
{
	uint64_t b = 0;
	for (size_t i = 0; i < n; i++)
		if (memcmp(c[i].id, zero_id, 32) != 0)
			b += c[i].size;
	return b;
}

/* The data refs of a file that fits in one job, read from its LIST blobs
 * into s->tmp. Returns the count, 0 when the file needs several jobs, or
 * an error. */
static long small_refs(struct rstate *s, const struct node *n, const struct content_ref **ret)
{
	if (n->size > RJOB_BYTES)
		return 0;
	if (n->content_depth == 0) {
		*ret = n->content;
		return n->n_content <= RJOB_REFS ? (long)n->n_content : 0;
	}
	struct idlist_reader *rd = NULL;
	int e = idlist_reader_new(n->content, n->n_content, n->content_depth, idl_load,
				  &s->workers[s->nw].l, &rd);
	long cnt = 0;
	while (e == 0) {
		struct content_ref c;
		int got = idlist_reader_next(rd, &c);
		if (got < 0)
			e = got;
		if (got <= 0)
			break;
		if (cnt == RJOB_REFS) {
			cnt = 0;
			break;
		}
		s->tmp[cnt++] = c;
	}
	idlist_reader_free(rd);
	*ret = s->tmp;
	return e < 0 ? e : cnt;
}

/* A file that needs several jobs: created here, written in parts by the
 * workers, finished by rcollect. */
static int restore_big_file(struct rstate *s, const char *path, const struct node *n)
{
	int fd = open(path, (s->o->verify ? O_RDWR : O_WRONLY) | O_CREAT | O_EXCL | O_NOFOLLOW |
				    O_CLOEXEC,
		      0600);
	if (fd < 0) {
		int en = errno;
		log_error("cannot create %s: %s", path, strerror(en));
		s->st->errors++;
		return rerrno(en) == CAIRN_ENOSPC ? CAIRN_ENOSPC : 0;
	}
	if (n->size && ftruncate(fd, (off_t)n->size) < 0) {
		int en = errno;
		log_error("cannot size %s: %s", path, strerror(en));
		close(fd);
		s->st->errors++;
		return rerrno(en) == CAIRN_ENOSPC ? CAIRN_ENOSPC : 0;
	}
	struct rfile *f = calloc(1, sizeof(*f));
	if (!f || !(f->path = strdup(path)) || rmeta_copy(&f->meta, n) < 0) {
		if (f)
			free(f->path);
		free(f);
		close(fd);
		return CAIRN_ENOMEM;
	}
	f->fd = fd;
	struct idlist_reader *rd = NULL;
	int e = idlist_reader_new(n->content, n->n_content, n->content_depth, idl_load,
				  &s->workers[s->nw].l, &rd);
	uint64_t off = 0;
	struct ritem *part = NULL;
	while (e == 0 && !s->fatal) {
		struct content_ref c;
		int got = idlist_reader_next(rd, &c);
		if (got < 0)
			e = got;
		if (got <= 0)
			break;
		uint64_t b = memcmp(c.id, zero_id, 32) ? c.size : 0;
		struct rjob *j = s->cur;
		if (!part || j->n_refs == RJOB_REFS || (j->bytes + b > RJOB_BYTES && j->n_refs)) {
			j = rjob_room(s, 1, b);
			part = ritem_add(j, RI_PART);
			part->f = f;
			part->offset = off;
		}
		j->refs[j->n_refs++] = c;
		j->bytes += b;
		part->nref++;
		off += c.size;
	}
	idlist_reader_free(rd);
	if (e == 0 && !s->fatal && off != n->size) {
		log_error("%s: the chunk list covers %llu bytes but the file has %llu", path,
			  (unsigned long long)off, (unsigned long long)n->size);
		e = CAIRN_ECORRUPT;
	}
	if (e < 0) {
		__atomic_store_n(&f->failed, 1, __ATOMIC_RELAXED);
		if (!s->fatal)
			s->fatal = e;
	}
	struct ritem *end = ritem_add(rjob_room(s, 0, 0), RI_BIG_END);
	end->f = f;
	return 0;
}

/* Restores a regular file: a hard link to an inode restored before, a
 * file packed into the job being filled, or a big file. */
static int restore_file(struct rstate *s, const char *path, const struct node *n)
{
	if (n->nlink > 1) {
		struct hl_entry *h = hl_slot(s, n->dev, n->inode, 0);
		if (h) {
			struct rjob *j = rjob_room(s, 0, 0);
			struct ritem *it = ritem_add(j, RI_LINK);
			if (!(it->path = strdup(path)) || !(it->link_to = strdup(h->path)) ||
			    rmeta_copy(&it->meta, n) < 0) {
				ritem_clear(it);
				j->n_items--;
				return CAIRN_ENOMEM;
			}
			return 0;
		}
		h = hl_slot(s, n->dev, n->inode, 1);
		if (h && (h->path = strdup(path)) != NULL) {
			h->dev = n->dev;
			h->ino = n->inode;
			s->hl_n++;
		}
	}
	const struct content_ref *refs = NULL;
	long nref = small_refs(s, n, &refs);
	if (nref < 0) {
		if (!s->fatal)
			s->fatal = (int)nref;
		return (int)nref;
	}
	if (nref == 0 && n->size > 0)
		return restore_big_file(s, path, n);
	uint64_t b = refs_bytes(refs, (size_t)nref), total = 0;
	for (long i = 0; i < nref; i++)
		total += refs[i].size;
	if (total != n->size) {
		log_error("%s: the chunk list covers %llu bytes but the file has %llu", path,
			  (unsigned long long)total, (unsigned long long)n->size);
		if (!s->fatal)
			s->fatal = CAIRN_ECORRUPT;
		return CAIRN_ECORRUPT;
	}
	struct rjob *j = rjob_room(s, (size_t)nref, b);
	struct ritem *it = ritem_add(j, RI_FILE);
	if (!(it->path = strdup(path)) || rmeta_copy(&it->meta, n) < 0) {
		/* the worker must not see a half-made item */
		ritem_clear(it);
		j->n_items--;
		return CAIRN_ENOMEM;
	}
	if (nref)	/* an empty file has no refs (and may have no array) */
		memcpy(&j->refs[j->n_refs], refs, (size_t)nref * sizeof(*refs));
	it->nref = (size_t)nref;
	j->n_refs += (size_t)nref;
	j->bytes += b;
	return 0;
}

static int restore_dir(struct rstate *s, const uint8_t tree_id[32], const char *dpath,
		       const char *spath, int included, int depth);

/* Restores one node of a folder. */
static int restore_node(struct rstate *s, const struct node *n, const char *dpath,
			const char *spath, int included, int depth)
{
	char *path = join2(dpath, n->name), *sp = join2(spath, n->name);
	int e = 0;
	/* an empty target was checked: nothing can be in the way */
	int check = s->o->overwrite != RESTORE_OVERWRITE_UNSET;
	if (!path || !sp) {
		e = CAIRN_ENOMEM;
		goto out;
	}
	if (s->o->n_excludes && restorer_path_match(s->o->excludes, s->o->n_excludes, sp))
		goto out;
	int inc = included || !s->o->n_includes || restorer_path_match(s->o->includes, s->o->n_includes, sp);
	if (n->type == NODE_DIR) {
		if (!inc && !restorer_may_match_below(s->o->includes, s->o->n_includes, sp))
			goto out;
		if (inc) {
			if (check && overwrite_check(s, path, n))
				goto out;
			/* folders above an entry picked by --include were not restored */
			if (s->o->n_includes && !included && (e = mkdirs(dpath)) < 0)
				goto out;
			if (mkdir(path, 0700) < 0 && errno != EEXIST) {
				log_error("cannot create the folder %s: %s", path, strerror(errno));
				s->st->errors++;
				goto out;
			}
			s->st->dirs++;
		}
		if (n->has_subtree)
			e = restore_dir(s, n->subtree, path, sp, inc, depth + 1);
		if (e == 0 && inc) {
			struct rjob *j = rjob_room(s, 0, 0);
			struct ritem *it = ritem_add(j, RI_DIR_END);
			if (rmeta_copy(&it->meta, n) < 0) {
				j->n_items--;
				e = CAIRN_ENOMEM;
				goto out;
			}
			it->path = path;
			path = NULL;
		}
		goto out;
	}
	if (!inc)
		goto out;
	/* a folder above an entry picked by --include may not exist yet */
	char *slash = strrchr(path, '/');
	if (s->o->n_includes && !included && slash && slash != path) {
		*slash = 0;
		e = mkdirs(path);
		*slash = '/';
		if (e < 0)
			goto out;
	}
	if (check && overwrite_check(s, path, n))
		goto out;
	struct rmeta m;
	rmeta_view(&m, n);
	switch (n->type) {
	case NODE_FILE:
		e = restore_file(s, path, n);
		break;
	case NODE_SYMLINK:
		if (symlink(n->link_target ? n->link_target : "", path) < 0) {
			log_error("cannot create the link %s: %s", path, strerror(errno));
			s->st->errors++;
		} else {
			apply_meta(s->is_root, path, -1, (mode_t)-1, &m);
			s->st->others++;
		}
		break;
	case NODE_CHARDEV:
	case NODE_BLOCKDEV:
	case NODE_FIFO: {
		mode_t mt = n->type == NODE_FIFO ? S_IFIFO : n->type == NODE_CHARDEV ? S_IFCHR : S_IFBLK;
		if (mknod(path, mt | 0600, (dev_t)n->rdev) < 0) {
			log_error("cannot create %s: %s", path, strerror(errno));
			s->st->errors++;
		} else {
			apply_meta(s->is_root, path, -1, (mode_t)-1, &m);
			s->st->others++;
		}
		break;
	}
	default:
		break;
	}
out:
	free(path);
	free(sp);
	return e ? e : s->fatal;
}

static int restore_dir(struct rstate *s, const uint8_t tree_id[32], const char *dpath,
		       const char *spath, int included, int depth)
{
	struct tree t;
	if (depth > 4096) {
		log_error("%s: folders nested too deep", spath);
		return CAIRN_ECORRUPT;
	}
	int e = load_tree_with(s->r, s->workers[s->nw].l.d, tree_id, &t);
	if (e < 0)
		return e;
	for (size_t i = 0; i < t.n_nodes && e == 0; i++)
		e = restore_node(s, &t.nodes[i], dpath, spath, included, depth);
	tree_free(&t);
	return e;
}

/* 1 when the folder has any entry. */
static int dir_nonempty(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return 0;
	struct dirent *de;
	int n = 0;
	while (!n && (de = readdir(d)) != NULL)
		n = strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

int restorer_restore(struct repo *r, const uint8_t root[32], const struct restore_opts *o,
		     struct restore_stats *ret)
{
	struct rstate s = { .r = r, .o = o, .st = ret,
			    .hint = backend_can_prefetch(repo_backend(r)) };
	void **ctxp = NULL;
	int e;
	memset(ret, 0, sizeof(*ret));
	if (o->overwrite == RESTORE_OVERWRITE_UNSET && dir_nonempty(o->target)) {
		log_error("the target %s is not empty; choose --overwrite always, if-changed or "
			  "never",
			  o->target);
		return CAIRN_EEXIST;
	}
	e = mkdirs(o->target);
	if (e < 0)
		return e;
	s.is_root = geteuid() == 0;
	/* A file created below a target that is ours, not setgid, and that
	 * holds only folders we create gets euid/egid (also with grpid). */
	struct stat tst;
	int own_known = o->overwrite == RESTORE_OVERWRITE_UNSET && stat(o->target, &tst) == 0 &&
			tst.st_gid == getegid() && !(tst.st_mode & S_ISGID);
	/* files are created with their mode; chmod only when the umask took bits */
	s.umask = umask(022);
	umask(s.umask);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	s.nw = o->threads ? o->threads : (ncpu > 0 ? (size_t)ncpu : 2);
	s.workers = calloc(s.nw + 1, sizeof(*s.workers));
	ctxp = calloc(s.nw, sizeof(void *));
	s.jobs = calloc(RJOB_RING, sizeof(*s.jobs));
	s.tmp = calloc(RJOB_REFS, sizeof(*s.tmp));
	e = CAIRN_ENOMEM;
	if (!s.workers || !ctxp || !s.jobs || !s.tmp)
		goto out;
	for (size_t i = 0; i <= s.nw; i++) {
		s.workers[i].l.r = r;
		s.workers[i].verify = o->verify;
		s.workers[i].is_root = s.is_root;
		s.workers[i].umask = s.umask;
		s.workers[i].own_known = own_known;
		s.workers[i].euid = geteuid();
		s.workers[i].egid = getegid();
		if (!(s.workers[i].l.d = decompressor_new()))
			goto out;
		if (i < s.nw)
			ctxp[i] = &s.workers[i];
	}
	for (size_t i = 0; i < RJOB_RING; i++)
		s.free_jobs[s.n_free++] = &s.jobs[i];
	index_set_cache_kib(repo_index(r), RINDEX_CACHE_KIB);
	e = opool_new(s.nw, RJOB_RING, rjob_work, ctxp, &s.pool);
	if (e < 0)
		goto out;
	e = restore_dir(&s, root, o->target, "", 0, 0);
	rflush(&s);
	while (opool_in_flight(s.pool) > 0)
		rcollect(&s);
	if (e == 0)
		e = s.fatal;
out:
	opool_free(s.pool);
	if (s.workers)
		for (size_t i = 0; i <= s.nw; i++) {
			rloader_free(&s.workers[i].l);
			buf_free(&s.workers[i].out);
			buf_free(&s.workers[i].check);
		}
	for (size_t i = 0; i < s.hl_cap; i++)
		free(s.hl[i].path);
	free(s.hl);
	free(s.workers);
	free(s.jobs);
	free(s.tmp);
	free(ctxp);
	return e;
}
