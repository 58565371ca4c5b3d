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

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <sys/xattr.h>
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

/* ---- read-ahead for a remote repository -------------------------------- */

/* File bytes hinted ahead of the batches: on S3 a request costs a round
 * trip and a pack ~16 MiB of transfer, so the packs a dump needs next
 * must be asked for well before the workers get there (about one pack of
 * compressed text ahead; the backend bounds what it holds). */
#define RAHEAD_BYTES (64u << 20)

/* A second walk of the chunk list that runs RAHEAD_BYTES ahead of the
 * batches and hints each blob to the backend (repo_blob_prefetch). */
struct rahead {
	struct repo *r;
	struct idlist_reader *rd;	/* NULL: no read-ahead */
	uint64_t hinted;		/* file bytes hinted so far */
	int done;
};

/* Starts the look-ahead walk when the backend reads ahead; without one,
 * or when the walk can't start, dumping works as before. */
static void rahead_start(struct rahead *ra, struct repo *r, const struct node *file,
			 struct rworker *w)
{
	memset(ra, 0, sizeof(*ra));
	ra->r = r;
	if (!backend_can_prefetch(repo_backend(r)) ||
	    idlist_reader_new(file->content, file->n_content, file->content_depth, idl_load, w,
			      &ra->rd) < 0)
		ra->rd = NULL;
}

/* Hints blobs until the walk is RAHEAD_BYTES past taken (the file bytes
 * handed to the workers). An error only ends the read-ahead: the dump's
 * own walk meets it and reports it. */
static void rahead_step(struct rahead *ra, uint64_t taken)
{
	static const uint8_t zero[32];
	while (ra->rd && !ra->done && ra->hinted < taken + RAHEAD_BYTES) {
		struct content_ref c;
		if (idlist_reader_next(ra->rd, &c) <= 0) {
			ra->done = 1;
			break;
		}
		ra->hinted += c.size;
		if (memcmp(c.id, zero, 32) != 0)
			repo_blob_prefetch(ra->r, BLOB_DATA, c.id);
	}
}

static void rahead_free(struct rahead *ra)
{
	idlist_reader_free(ra->rd);
	ra->rd = NULL;
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
	struct rworker *workers = calloc(nw + 1, sizeof(*workers));
	void **ctxp = calloc(nw, sizeof(void *));
	struct rbatch *batches = calloc(RBATCH_RING, sizeof(*batches));
	struct rbatch *free_list[RBATCH_RING];
	size_t n_free = 0;
	struct opool *pool = NULL;
	struct idlist_reader *rd = NULL;
	struct rahead ra = { 0 };
	uint64_t taken = 0;
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
	/* the look-ahead walk shares the spare context: same thread */
	rahead_start(&ra, r, file, &workers[nw]);
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
			taken += b->bytes;
			rahead_step(&ra, taken);
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
		else if ((err = fn(arg, b->out.data, b->out.len)) < 0)
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
	rahead_free(&ra);
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

/* ---- restoring trees ---------------------------------------------------- */

#define RJOB_REFS 512
#define RJOB_BYTES (4u << 20)
#define RJOB_RING 8

enum { RJOB_DATA, RJOB_FILE_END, RJOB_DIR_END };

struct rfile {
	int fd;
	char *path;
	struct node meta;	/* metadata to apply when the content is written */
	int failed;
};

struct rjob {
	int kind;
	struct rfile *f;	/* DATA, FILE_END */
	char *dir_path;		/* DIR_END */
	struct node dir_meta;	/* DIR_END */
	uint64_t offset;	/* DATA: file offset of refs[0] */
	struct content_ref refs[RJOB_REFS];
	size_t n;
	uint64_t bytes;
};

struct rworker2 {
	struct repo *r;
	struct decompressor *d;
	struct buf blob, check;
	int verify;
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
	struct rworker2 *workers;
	size_t nw;
	int fatal;
	int is_root;
	struct hl_entry *hl;	/* hard links seen: open addressing */
	size_t hl_cap, hl_n;
};

/* Worker: loads the blobs of a DATA job and writes them at their offsets. */
static int rjob_work(void *ctx, void *item)
{
	struct rworker2 *w = ctx;
	struct rjob *j = item;
	static const uint8_t zero[32];
	if (j->kind != RJOB_DATA || j->f->failed)
		return 0;
	uint64_t off = j->offset;
	for (size_t i = 0; i < j->n; i++) {
		const struct content_ref *c = &j->refs[i];
		if (memcmp(c->id, zero, 32) == 0) {	/* hole: the file was truncated to size */
			off += c->size;
			continue;
		}
		int e = repo_blob_load(w->r, w->d, BLOB_DATA, c->id, &w->blob);
		if (e < 0)
			return e;
		if (w->blob.len != c->size) {
			log_error("%s: a chunk has %zu bytes where the chunk list says %llu",
				  j->f->path, w->blob.len, (unsigned long long)c->size);
			return CAIRN_ECORRUPT;
		}
		size_t done = 0;
		while (done < w->blob.len) {
			ssize_t n = pwrite(j->f->fd, w->blob.data + done, w->blob.len - done,
					   (off_t)(off + done));
			if (n < 0) {
				if (errno == EINTR)
					continue;
				log_error("cannot write %s: %s", j->f->path, strerror(errno));
				return cairn_from_errno(errno);
			}
			done += (size_t)n;
		}
		if (w->verify) {
			buf_reset(&w->check);
			if (buf_reserve(&w->check, w->blob.len) < 0)
				return CAIRN_ENOMEM;
			ssize_t n = pread(j->f->fd, w->check.data, w->blob.len, (off_t)off);
			uint8_t id[32];
			if (n == (ssize_t)w->blob.len)
				repo_blob_id(w->r, w->check.data, w->blob.len, id);
			if (n != (ssize_t)w->blob.len || memcmp(id, c->id, 32) != 0) {
				log_error("verification failed: %s differs from the snapshot at "
					  "offset %llu",
					  j->f->path, (unsigned long long)off);
				return CAIRN_ECORRUPT;
			}
		}
		off += c->size;
	}
	return 0;
}

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

/* Applies ownership (as root), mode, xattrs and times. */
static void apply_meta(struct rstate *s, const char *path, const struct node *n)
{
	if (s->is_root && lchown(path, n->uid, n->gid) < 0)
		log_warn("cannot set the owner of %s: %s", path, strerror(errno));
	if (n->type != NODE_SYMLINK && chmod(path, n->mode) < 0)
		log_warn("cannot set the mode of %s: %s", path, strerror(errno));
	for (size_t i = 0; i < n->n_xattrs; i++)
		if (lsetxattr(path, n->xattrs[i].name, n->xattrs[i].value, n->xattrs[i].len, 0) < 0)
			log_warn("cannot set extended attribute %s of %s: %s", n->xattrs[i].name,
				 path, strerror(errno));
	struct timespec ts[2];
	int64_t at = n->atime_ns ? n->atime_ns : n->mtime_ns;
	ts[0].tv_sec = at / 1000000000;
	ts[0].tv_nsec = at % 1000000000;
	ts[1].tv_sec = n->mtime_ns / 1000000000;
	ts[1].tv_nsec = n->mtime_ns % 1000000000;
	if (ts[0].tv_nsec < 0 || ts[1].tv_nsec < 0)
		return;
	if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) < 0)
		log_warn("cannot set the times of %s: %s", path, strerror(errno));
}

static void rjob_release(struct rstate *s, struct rjob *j)
{
	if (j->kind == RJOB_DIR_END) {
		free(j->dir_path);
		node_clear(&j->dir_meta);
	}
	j->dir_path = NULL;
	j->f = NULL;
	s->free_jobs[s->n_free++] = j;
}

/* Takes the oldest job back and finishes files and folders in order. */
static void rcollect(struct rstate *s)
{
	void *item;
	int err;
	if (!opool_collect(s->pool, &item, &err))
		return;
	struct rjob *j = item;
	if (err < 0) {
		if (j->f)
			j->f->failed = 1;
		if (err == CAIRN_ECORRUPT || err == CAIRN_ENOSPC || err == CAIRN_ENOMEM ||
		    err == CAIRN_ENOTFOUND) {
			if (!s->fatal)
				s->fatal = err;
		} else {
			s->st->errors++;
		}
	}
	if (j->kind == RJOB_FILE_END) {
		struct rfile *f = j->f;
		if (f->fd >= 0)
			close(f->fd);
		if (!f->failed) {
			apply_meta(s, f->path, &f->meta);
			s->st->files++;
			s->st->bytes += f->meta.size;
			if (s->o->verify)
				s->st->verified++;
		}
		node_clear(&f->meta);
		free(f->path);
		free(f);
	} else if (j->kind == RJOB_DIR_END) {
		apply_meta(s, j->dir_path, &j->dir_meta);
	}
	rjob_release(s, j);
}

/* A free job; collects finished ones while none is free. */
static struct rjob *rjob_get(struct rstate *s, int kind)
{
	while (s->n_free == 0)
		rcollect(s);
	struct rjob *j = s->free_jobs[--s->n_free];
	j->kind = kind;
	j->n = 0;
	j->bytes = 0;
	j->f = NULL;
	j->dir_path = NULL;
	memset(&j->dir_meta, 0, sizeof(j->dir_meta));
	return j;
}

static void rsubmit(struct rstate *s, struct rjob *j)
{
	opool_submit(s->pool, j);
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

static int idl_load2(void *arg, const uint8_t id[32], struct buf *out)
{
	struct rworker2 *w = arg;
	return repo_blob_load(w->r, w->d, BLOB_LIST, id, out);
}

/* Restores a regular file: queues its content, then its end. */
static int restore_file(struct rstate *s, const char *path, const struct node *n)
{
	if (n->nlink > 1) {
		struct hl_entry *h = hl_slot(s, n->dev, n->inode, 0);
		if (h) {
			if (link(h->path, path) == 0) {
				s->st->links++;
				return 0;
			}
			log_warn("cannot link %s to %s: %s; restoring a copy", path, h->path,
				 strerror(errno));
		}
	}
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_error("cannot create %s: %s", path, strerror(errno));
		s->st->errors++;
		return errno == ENOSPC ? CAIRN_ENOSPC : 0;
	}
	if (n->size && ftruncate(fd, (off_t)n->size) < 0) {
		log_error("cannot size %s: %s", path, strerror(errno));
		close(fd);
		s->st->errors++;
		return errno == ENOSPC || errno == EFBIG ? CAIRN_ENOSPC : 0;
	}
	struct rfile *f = calloc(1, sizeof(*f));
	if (!f || !(f->path = strdup(path)) || node_copy(&f->meta, n) < 0) {
		if (f)
			free(f->path);
		free(f);
		close(fd);
		return CAIRN_ENOMEM;
	}
	f->fd = fd;
	if (n->nlink > 1) {
		struct hl_entry *h = hl_slot(s, n->dev, n->inode, 1);
		if (h && (h->path = strdup(path)) != NULL) {
			h->dev = n->dev;
			h->ino = n->inode;
			s->hl_n++;
		}
	}
	struct idlist_reader *rd = NULL;
	int e = idlist_reader_new(n->content, n->n_content, n->content_depth, idl_load2,
				  &s->workers[s->nw], &rd);
	struct rjob *j = NULL;
	uint64_t off = 0;
	while (e == 0 && !s->fatal) {
		struct content_ref c;
		int got = idlist_reader_next(rd, &c);
		if (got < 0)
			e = got;
		if (got <= 0)
			break;
		if (!j) {
			j = rjob_get(s, RJOB_DATA);
			j->f = f;
			j->offset = off;
		}
		j->refs[j->n++] = c;
		j->bytes += c.size;
		off += c.size;
		if (j->n == RJOB_REFS || j->bytes >= RJOB_BYTES) {
			rsubmit(s, j);
			j = NULL;
		}
	}
	if (j)
		rsubmit(s, j);
	idlist_reader_free(rd);
	if (e == 0 && off != n->size) {
		log_error("%s: the chunk list covers %llu bytes but the file has %llu", path,
			  (unsigned long long)off, (unsigned long long)n->size);
		e = CAIRN_ECORRUPT;
	}
	if (e < 0) {
		f->failed = 1;
		if (!s->fatal)
			s->fatal = e;
	}
	struct rjob *end = rjob_get(s, RJOB_FILE_END);
	end->f = f;
	rsubmit(s, end);
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

static int restore_dir(struct rstate *s, const uint8_t tree_id[32], const char *dpath,
		       const char *spath, int included, int depth);

/* Restores one node of a folder. */
static int restore_node(struct rstate *s, const struct node *n, const char *dpath,
			const char *spath, int included, int depth)
{
	char *path = join2(dpath, n->name), *sp = join2(spath, n->name);
	int e = 0;
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
			if (overwrite_check(s, path, n))
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
			struct rjob *j = rjob_get(s, RJOB_DIR_END);
			j->dir_path = path;
			path = NULL;
			if (node_copy(&j->dir_meta, n) < 0) {
				rjob_release(s, j);
				e = CAIRN_ENOMEM;
				goto out;
			}
			rsubmit(s, j);
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
	if (overwrite_check(s, path, n))
		goto out;
	switch (n->type) {
	case NODE_FILE:
		e = restore_file(s, path, n);
		break;
	case NODE_SYMLINK:
		if (symlink(n->link_target ? n->link_target : "", path) < 0) {
			log_error("cannot create the link %s: %s", path, strerror(errno));
			s->st->errors++;
		} else {
			apply_meta(s, path, n);
			s->st->others++;
		}
		break;
	case NODE_CHARDEV:
	case NODE_BLOCKDEV:
	case NODE_FIFO: {
		mode_t m = n->type == NODE_FIFO ? S_IFIFO : n->type == NODE_CHARDEV ? S_IFCHR : S_IFBLK;
		if (mknod(path, m | 0600, (dev_t)n->rdev) < 0) {
			log_error("cannot create %s: %s", path, strerror(errno));
			s->st->errors++;
		} else {
			apply_meta(s, path, n);
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
	int e = restorer_load_tree(s->r, tree_id, &t);
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
	struct rstate s = { .r = r, .o = o, .st = ret };
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
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	s.nw = o->threads ? o->threads : (ncpu > 0 ? (size_t)ncpu : 2);
	s.workers = calloc(s.nw + 1, sizeof(*s.workers));
	ctxp = calloc(s.nw, sizeof(void *));
	s.jobs = calloc(RJOB_RING, sizeof(*s.jobs));
	e = CAIRN_ENOMEM;
	if (!s.workers || !ctxp || !s.jobs)
		goto out;
	for (size_t i = 0; i <= s.nw; i++) {
		s.workers[i].r = r;
		s.workers[i].verify = o->verify;
		if (!(s.workers[i].d = decompressor_new()))
			goto out;
		if (i < s.nw)
			ctxp[i] = &s.workers[i];
	}
	for (size_t i = 0; i < RJOB_RING; i++)
		s.free_jobs[s.n_free++] = &s.jobs[i];
	e = opool_new(s.nw, RJOB_RING, rjob_work, ctxp, &s.pool);
	if (e < 0)
		goto out;
	e = restore_dir(&s, root, o->target, "", 0, 0);
	while (opool_in_flight(s.pool) > 0)
		rcollect(&s);
	if (e == 0)
		e = s.fatal;
out:
	opool_free(s.pool);
	if (s.workers)
		for (size_t i = 0; i <= s.nw; i++) {
			decompressor_free(s.workers[i].d);
			buf_free(&s.workers[i].blob);
			buf_free(&s.workers[i].check);
		}
	for (size_t i = 0; i < s.hl_cap; i++)
		free(s.hl[i].path);
	free(s.hl);
	free(s.workers);
	free(s.jobs);
	free(ctxp);
	return e;
}
