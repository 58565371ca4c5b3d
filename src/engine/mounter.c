/*
 * mounter.c - the FUSE file system (see mounter.h).
 *
 * Paths are resolved on every call: the first component picks the view,
 * then a snapshot, then the rest walks trees (decoded trees are cached by
 * id). Open files keep an idlist reader (under a mutex) to find the chunk
 * at an offset without reading the chunks before it.
 */
#include "cairn/common.h"
#include "cairn/mounter.h"
#include "cairn/log.h"

#ifdef HAVE_FUSE

#define FUSE_USE_VERSION 312
#include <fuse.h>

#include "cairn/compress.h"
#include "cairn/idlist.h"
#include "cairn/json.h"
#include "cairn/pack.h"
#include "cairn/repo.h"
#include "cairn/restorer.h"
#include "cairn/snaplist.h"
#include "cairn/timeparse.h"
#include "cairn/tree.h"

#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TREE_CACHE 256
#define PREFETCH_BYTES (4u << 20)
#define PREFETCH_QUEUE 1024

struct msnap {
	char name[64];		/* snapshots/<name> */
	char short_id[9];
	struct snap_entry *e;
};

/* A cached blob: in a hash chain (by id) and in the LRU list (indices). */
struct blob_ent {
	uint8_t id[32];
	uint8_t *data;
	size_t len;
	size_t hnext, prev, next;
	int used;
};

#define NIL SIZE_MAX

struct tree_ent {
	uint8_t id[32];
	struct tree t;
	uint64_t tick;
	int used;
};

struct mfs {
	struct repo *r;
	const struct mount_opts *o;
	pthread_mutex_t mu;		/* snapshot list, caches, counters */
	struct snap_list list;
	struct msnap *snaps;
	size_t n_snaps;
	time_t loaded_at;
	time_t mounted_at;
	struct blob_ent *blobs;
	size_t n_blobs, cap_blobs;
	size_t *buckets, n_buckets;	/* hash heads; n_buckets a power of two */
	size_t lru_head, lru_tail;	/* most and least recently used */
	size_t free_slot;		/* chain of unused entries (through hnext) */
	uint64_t blob_bytes, tick;
	struct tree_ent trees[TREE_CACHE];
	uint64_t fetched, fetched_bytes, hits, prefetched;
	pthread_key_t dkey;		/* per-thread decompressor */
	/* read-ahead */
	pthread_mutex_t pmu;
	pthread_cond_t pcv;
	struct content_ref *pq;		/* ring of PREFETCH_QUEUE */
	size_t pq_n, pq_head;
	int stopping;
	pthread_t pthreads[2];
	int n_pthreads;
};

static struct mfs *fs_get(void)
{
	return fuse_get_context()->private_data;
}

static struct decompressor *dec(struct mfs *fs)
{
	struct decompressor *d = pthread_getspecific(fs->dkey);
	if (!d) {
		d = decompressor_new();
		pthread_setspecific(fs->dkey, d);
	}
	return d;
}

static void dec_free(void *p)
{
	decompressor_free(p);
}

static int cmp_time(const void *a, const void *b)
{
	const struct msnap *x = a, *y = b;
	return x->e->sn.time_ns < y->e->sn.time_ns ? -1 : x->e->sn.time_ns > y->e->sn.time_ns;
}

/* (Re)loads the snapshot list when it is older than the refresh interval. */
static int refresh(struct mfs *fs)
{
	time_t now = time(NULL);
	unsigned every = fs->o->refresh_seconds ? fs->o->refresh_seconds : 60;
	if (fs->snaps && now - fs->loaded_at < (time_t)every)
		return 0;
	struct snap_list l;
	int e = snap_list_load(fs->r, NULL, &l);
	if (e < 0)
		return e;
	struct msnap *v = calloc(l.n ? l.n : 1, sizeof(*v));
	if (!v) {
		snap_list_free(&l);
		return CAIRN_ENOMEM;
	}
	for (size_t i = 0; i < l.n; i++) {
		v[i].e = &l.v[i];
		char t[40];
		time_format_short(l.v[i].sn.time_ns, time_local_offset(l.v[i].sn.time_ns), t, sizeof(t));
		t[10] = 'T';
		snprintf(v[i].name, sizeof(v[i].name), "%s", t);
		hex_encode(l.v[i].id, 4, v[i].short_id);
	}
	qsort(v, l.n, sizeof(*v), cmp_time);
	for (size_t i = 1; i < l.n; i++) {	/* same second: -1, -2 ... */
		size_t k = 0;
		for (size_t j = 0; j < i; j++)
			if (!strncmp(v[j].name, v[i].name, 19))
				k++;
		if (k) {
			char base[20];
			memcpy(base, v[i].name, 19);
			base[19] = 0;
			snprintf(v[i].name, sizeof(v[i].name), "%s-%zu", base, k);
		}
	}
	snap_list_free(&fs->list);
	free(fs->snaps);
	fs->list = l;
	fs->snaps = v;
	fs->n_snaps = l.n;
	fs->loaded_at = now;
	return 0;
}

/* A decoded tree from the cache (the caller holds fs->mu). */
static const struct tree *tree_get(struct mfs *fs, const uint8_t id[32], int *err)
{
	size_t victim = 0;
	for (size_t i = 0; i < TREE_CACHE; i++) {
		if (fs->trees[i].used && !memcmp(fs->trees[i].id, id, 32)) {
			fs->trees[i].tick = ++fs->tick;
			return &fs->trees[i].t;
		}
		if (!fs->trees[i].used || fs->trees[i].tick < fs->trees[victim].tick)
			victim = i;
	}
	struct tree_ent *te = &fs->trees[victim];
	if (te->used)
		tree_free(&te->t);
	te->used = 0;
	*err = restorer_load_tree(fs->r, id, &te->t);
	if (*err < 0)
		return NULL;
	memcpy(te->id, id, 32);
	te->used = 1;
	te->tick = ++fs->tick;
	return &te->t;
}

/* What a path names. */
struct target {
	int kind;		/* 0 dir (virtual), 1 node, 2 latest link, 3 stats file */
	const struct snap_entry *snap;
	struct node node;	/* kind 1 (copy) */
	int list;		/* virtual dir listing: 0 root, 1 snapshots, 2 ids, 3 hosts,
				   4 one host, 5 tags, 6 one tag */
	char arg[256];		/* host or tag */
	uint8_t tree[32];	/* kind 1 dir / snapshot root: its tree */
	int has_tree;
};

static int snap_in(const struct snap_entry *e, int list, const char *arg)
{
	if (list == 4)
		return !strcmp(e->sn.hostname ? e->sn.hostname : "", arg);
	if (list == 6)
		return snapshot_has_tag(&e->sn, arg);
	return 1;
}

/* Resolves a path (caller holds fs->mu). Returns 0 or -errno. */
static int resolve(struct mfs *fs, const char *path, struct target *t)
{
	memset(t, 0, sizeof(*t));
	if (refresh(fs) < 0)
		return -EIO;
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", path);
	char *save = NULL, *c = strtok_r(buf, "/", &save);
	if (!c)
		return t->list = 0, 0;
	if (!strcmp(c, ".cairn-stats")) {
		t->kind = 3;
		return strtok_r(NULL, "/", &save) ? -ENOTDIR : 0;
	}
	int list;
	if (!strcmp(c, "snapshots"))
		list = 1;
	else if (!strcmp(c, "ids"))
		list = 2;
	else if (!strcmp(c, "hosts"))
		list = 3;
	else if (!strcmp(c, "tags"))
		list = 5;
	else
		return -ENOENT;
	t->list = list;
	c = strtok_r(NULL, "/", &save);
	if (!c)
		return 0;
	if (list == 3 || list == 5) {
		snprintf(t->arg, sizeof(t->arg), "%s", c);
		t->list = list + 1;
		int any = 0;
		for (size_t i = 0; i < fs->n_snaps; i++)
			any |= snap_in(fs->snaps[i].e, t->list, t->arg);
		if (!any)
			return -ENOENT;
		c = strtok_r(NULL, "/", &save);
		if (!c)
			return 0;
	}
	if (t->list == 1 && !strcmp(c, "latest")) {
		t->kind = 2;
		return strtok_r(NULL, "/", &save) ? -ENOTDIR : (fs->n_snaps ? 0 : -ENOENT);
	}
	const struct msnap *ms = NULL;
	for (size_t i = 0; i < fs->n_snaps && !ms; i++) {
		const struct msnap *m = &fs->snaps[i];
		if (!snap_in(m->e, t->list, t->arg))
			continue;
		if (t->list == 2 ? !strcmp(m->short_id, c) : !strcmp(m->name, c))
			ms = m;
	}
	if (!ms)
		return -ENOENT;
	t->snap = ms->e;
	t->kind = 1;
	t->node.type = NODE_DIR;
	t->node.mode = 0555;
	t->node.mtime_ns = ms->e->sn.time_ns;
	memcpy(t->tree, ms->e->sn.tree, 32);
	t->has_tree = 1;
	while ((c = strtok_r(NULL, "/", &save)) != NULL) {
		if (!t->has_tree)
			return -ENOTDIR;
		int err = 0;
		const struct tree *tr = tree_get(fs, t->tree, &err);
		if (!tr)
			return -EIO;
		const struct node *n = tree_find(tr, c);
		if (!n)
			return -ENOENT;
		node_clear(&t->node);
		if (node_copy(&t->node, n) < 0)
			return -ENOMEM;
		t->has_tree = n->type == NODE_DIR && n->has_subtree;
		if (t->has_tree)
			memcpy(t->tree, n->subtree, 32);
		else if (n->type == NODE_DIR)
			t->has_tree = 0;
	}
	return 0;
}

static void fill_stat(struct mfs *fs, const struct target *t, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_nlink = 1;
	st->st_mtim.tv_sec = st->st_atim.tv_sec = st->st_ctim.tv_sec = fs->mounted_at;
	if (t->kind == 0) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		return;
	}
	if (t->kind == 2) {
		st->st_mode = S_IFLNK | 0777;
		st->st_size = (off_t)strlen(fs->snaps[fs->n_snaps - 1].name);
		return;
	}
	if (t->kind == 3) {
		st->st_mode = S_IFREG | 0444;
		st->st_size = 4096;
		return;
	}
	const struct node *n = &t->node;
	static const mode_t types[] = { 0, S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO };
	st->st_mode = (n->type <= NODE_FIFO ? types[n->type] : S_IFREG) | (n->mode & 07777);
	st->st_uid = n->uid;
	st->st_gid = n->gid;
	st->st_size = (off_t)(n->type == NODE_SYMLINK && n->link_target ? strlen(n->link_target)
									  : n->size);
	st->st_nlink = n->nlink ? (nlink_t)n->nlink : (n->type == NODE_DIR ? 2 : 1);
	st->st_rdev = (dev_t)n->rdev;
	st->st_ino = n->inode;
	st->st_blocks = (blkcnt_t)((n->size + 511) / 512);
	st->st_mtim.tv_sec = n->mtime_ns / 1000000000;
	st->st_mtim.tv_nsec = n->mtime_ns % 1000000000;
	st->st_ctim.tv_sec = (n->ctime_ns ? n->ctime_ns : n->mtime_ns) / 1000000000;
	st->st_ctim.tv_nsec = (n->ctime_ns ? n->ctime_ns : n->mtime_ns) % 1000000000;
	st->st_atim = st->st_mtim;
}

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct mfs *fs = fs_get();
	struct target t;
	(void)fi;
	pthread_mutex_lock(&fs->mu);
	int e = resolve(fs, path, &t);
	if (e == 0)
		fill_stat(fs, &t, st);
	pthread_mutex_unlock(&fs->mu);
	node_clear(&t.node);
	return e;
}

static int fs_readlink(const char *path, char *buf, size_t size)
{
	struct mfs *fs = fs_get();
	struct target t;
	pthread_mutex_lock(&fs->mu);
	int e = resolve(fs, path, &t);
	if (e == 0 && t.kind == 2)
		snprintf(buf, size, "%s", fs->snaps[fs->n_snaps - 1].name);
	else if (e == 0 && t.kind == 1 && t.node.type == NODE_SYMLINK)
		snprintf(buf, size, "%s", t.node.link_target ? t.node.link_target : "");
	else if (e == 0)
		e = -EINVAL;
	pthread_mutex_unlock(&fs->mu);
	node_clear(&t.node);
	return e;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct mfs *fs = fs_get();
	struct target t;
	(void)off;
	(void)fi;
	(void)flags;
	pthread_mutex_lock(&fs->mu);
	int e = resolve(fs, path, &t);
	if (e < 0)
		goto out;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	if (t.kind == 0 && t.list == 0) {
		fill(buf, "snapshots", NULL, 0, 0);
		fill(buf, "ids", NULL, 0, 0);
		fill(buf, "hosts", NULL, 0, 0);
		fill(buf, "tags", NULL, 0, 0);
		fill(buf, ".cairn-stats", NULL, 0, 0);
	} else if (t.kind == 0 && (t.list == 3 || t.list == 5)) {
		/* distinct hosts / tags */
		for (size_t i = 0; i < fs->n_snaps; i++) {
			const struct snapshot *s = &fs->snaps[i].e->sn;
			size_t nn = t.list == 3 ? 1 : s->n_tags;
			for (size_t k = 0; k < nn; k++) {
				const char *name = t.list == 3 ? (s->hostname && *s->hostname ? s->hostname : "unknown") : s->tags[k];
				int seen = 0;
				for (size_t j = 0; j < i && !seen; j++) {
					const struct snapshot *p = &fs->snaps[j].e->sn;
					if (t.list == 3)
						seen = !strcmp(p->hostname ? p->hostname : "", s->hostname ? s->hostname : "");
					else
						seen = snapshot_has_tag(p, name);
				}
				if (!seen && !strchr(name, '/'))
					fill(buf, name, NULL, 0, 0);
			}
		}
	} else if (t.kind == 0) {
		for (size_t i = 0; i < fs->n_snaps; i++)
			if (snap_in(fs->snaps[i].e, t.list, t.arg))
				fill(buf, t.list == 2 ? fs->snaps[i].short_id : fs->snaps[i].name, NULL, 0, 0);
		if (t.list == 1 && fs->n_snaps)
			fill(buf, "latest", NULL, 0, 0);
	} else if (t.kind == 1 && t.node.type == NODE_DIR) {
		if (t.has_tree) {
			int err = 0;
			const struct tree *tr = tree_get(fs, t.tree, &err);
			if (!tr) {
				e = -EIO;
				goto out;
			}
			for (size_t i = 0; i < tr->n_nodes; i++)
				fill(buf, tr->nodes[i].name, NULL, 0, 0);
		}
	} else {
		e = -ENOTDIR;
	}
out:
	pthread_mutex_unlock(&fs->mu);
	node_clear(&t.node);
	return e;
}

/* An open file. */
struct mfile {
	pthread_mutex_t mu;
	struct node node;
	struct idlist_reader *rd;	/* positioned after `cur` */
	struct content_ref cur;		/* the ref that covers [cur_start, cur_start+size) */
	uint64_t cur_start;
	int have_cur;
	struct idlist_reader *ahead;	/* read-ahead walker */
	uint64_t ahead_end;		/* file offset up to which read-ahead was queued */
	struct content_ref pending;	/* next read-ahead ref, not queued yet */
	int have_pending;
	uint64_t last_end;
	int stats;
	char statbuf[1024];
	size_t statlen;
};

static int mload_list(void *arg, const uint8_t id[32], struct buf *out)
{
	struct mfs *fs = arg;
	return repo_blob_load(fs->r, dec(fs), BLOB_LIST, id, out);
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	struct mfs *fs = fs_get();
	struct target t;
	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return -EROFS;
	pthread_mutex_lock(&fs->mu);
	int e = resolve(fs, path, &t);
	struct mfile *f = NULL;
	if (e == 0 && t.kind != 3 && !(t.kind == 1 && t.node.type == NODE_FILE))
		e = -EISDIR;
	if (e == 0 && !(f = calloc(1, sizeof(*f))))
		e = -ENOMEM;
	if (e == 0 && t.kind == 3) {
		struct buf b = BUF_INIT;
		struct json j;
		json_init(&j, &b);
		json_obj_begin(&j);
		json_key(&j, "blobs_fetched");
		json_u64(&j, fs->fetched);
		json_key(&j, "bytes_fetched");
		json_u64(&j, fs->fetched_bytes);
		json_key(&j, "cache_hits");
		json_u64(&j, fs->hits);
		json_key(&j, "blobs_prefetched");
		json_u64(&j, fs->prefetched);
		json_key(&j, "cached_bytes");
		json_u64(&j, fs->blob_bytes);
		json_key(&j, "snapshots");
		json_u64(&j, fs->n_snaps);
		json_obj_end(&j);
		buf_put_u8(&b, '\n');
		f->stats = 1;
		fi->direct_io = 1;	/* its st_size is a guess */
		f->statlen = CAIRN_MIN(b.len, sizeof(f->statbuf));
		memcpy(f->statbuf, b.data, f->statlen);
		buf_free(&b);
	} else if (e == 0) {
		f->node = t.node;
		memset(&t.node, 0, sizeof(t.node));
		if (idlist_reader_new(f->node.content, f->node.n_content, f->node.content_depth,
				      mload_list, fs, &f->rd) < 0 ||
		    idlist_reader_new(f->node.content, f->node.n_content, f->node.content_depth,
				      mload_list, fs, &f->ahead) < 0)
			e = -EIO;
		pthread_mutex_init(&f->mu, NULL);
	}
	pthread_mutex_unlock(&fs->mu);
	node_clear(&t.node);
	if (e < 0) {
		if (f)
			node_clear(&f->node);
		free(f);
		return e;
	}
	fi->fh = (uint64_t)(uintptr_t)f;
	fi->keep_cache = 1;
	return 0;
}

static int fs_release(const char *path, struct fuse_file_info *fi)
{
	struct mfile *f = (struct mfile *)(uintptr_t)fi->fh;
	(void)path;
	if (!f)
		return 0;
	idlist_reader_free(f->rd);
	idlist_reader_free(f->ahead);
	node_clear(&f->node);
	if (!f->stats)
		pthread_mutex_destroy(&f->mu);
	free(f);
	return 0;
}

static size_t bucket_of(const struct mfs *fs, const uint8_t id[32])
{
	return (size_t)get_u64le(id) & (fs->n_buckets - 1);
}

static void lru_unlink(struct mfs *fs, size_t i)
{
	struct blob_ent *b = &fs->blobs[i];
	if (b->prev != NIL)
		fs->blobs[b->prev].next = b->next;
	else
		fs->lru_head = b->next;
	if (b->next != NIL)
		fs->blobs[b->next].prev = b->prev;
	else
		fs->lru_tail = b->prev;
	b->prev = b->next = NIL;
}

static void lru_push_front(struct mfs *fs, size_t i)
{
	struct blob_ent *b = &fs->blobs[i];
	b->prev = NIL;
	b->next = fs->lru_head;
	if (fs->lru_head != NIL)
		fs->blobs[fs->lru_head].prev = i;
	fs->lru_head = i;
	if (fs->lru_tail == NIL)
		fs->lru_tail = i;
}

/* The cached entry of a blob, or NIL (caller holds mu). */
static size_t cache_find(struct mfs *fs, const uint8_t id[32])
{
	if (!fs->n_buckets)
		return NIL;
	for (size_t i = fs->buckets[bucket_of(fs, id)]; i != NIL; i = fs->blobs[i].hnext)
		if (!memcmp(fs->blobs[i].id, id, 32))
			return i;
	return NIL;
}

/* Removes the least recently used blob (caller holds mu). */
static void cache_evict(struct mfs *fs)
{
	size_t v = fs->lru_tail;
	if (v == NIL)
		return;
	struct blob_ent *b = &fs->blobs[v];
	lru_unlink(fs, v);
	size_t *pp = &fs->buckets[bucket_of(fs, b->id)];
	while (*pp != v)
		pp = &fs->blobs[*pp].hnext;
	*pp = b->hnext;
	fs->blob_bytes -= b->len;
	free(b->data);
	b->data = NULL;
	b->used = 0;
	b->hnext = fs->free_slot;
	fs->free_slot = v;
}

/* Adds a blob (taking data), evicting to stay under limit (caller holds mu). */
static void cache_add(struct mfs *fs, const uint8_t id[32], uint8_t *data, size_t len,
		      uint64_t limit)
{
	while (fs->lru_tail != NIL && fs->blob_bytes + len > limit)
		cache_evict(fs);
	if (fs->free_slot == NIL) {
		size_t cap = fs->cap_blobs ? fs->cap_blobs * 2 : 1024;
		struct blob_ent *v = realloc(fs->blobs, cap * sizeof(*v));
		size_t *nb = calloc(cap * 2, sizeof(*nb));
		if (!v || !nb) {
			if (v)
				fs->blobs = v;
			free(nb);
			free(data);
			return;
		}
		fs->blobs = v;
		for (size_t i = fs->cap_blobs; i < cap; i++) {
			v[i].used = 0;
			v[i].data = NULL;
			v[i].hnext = i + 1 < cap ? i + 1 : NIL;
		}
		fs->free_slot = fs->cap_blobs;
		fs->cap_blobs = cap;
		/* rehash into twice as many buckets */
		free(fs->buckets);
		fs->buckets = nb;
		fs->n_buckets = cap * 2;
		for (size_t i = 0; i < fs->n_buckets; i++)
			nb[i] = NIL;
		for (size_t i = 0; i < fs->n_blobs; i++) {
			if (!v[i].used)
				continue;
			size_t h = bucket_of(fs, v[i].id);
			v[i].hnext = nb[h];
			nb[h] = i;
		}
	}
	size_t i = fs->free_slot;
	struct blob_ent *b = &fs->blobs[i];
	fs->free_slot = b->hnext;
	if (i >= fs->n_blobs)
		fs->n_blobs = i + 1;
	memcpy(b->id, id, 32);
	b->data = data;
	b->len = len;
	b->used = 1;
	size_t h = bucket_of(fs, id);
	b->hnext = fs->buckets[h];
	fs->buckets[h] = i;
	lru_push_front(fs, i);
	fs->blob_bytes += len;
}

/* Copies [from, from+len) of a data blob into out, via the cache. */
static int blob_read(struct mfs *fs, const uint8_t id[32], uint64_t from, size_t len, char *out,
		     int prefetch)
{
	pthread_mutex_lock(&fs->mu);
	size_t i = cache_find(fs, id);
	if (i != NIL) {
		struct blob_ent *b = &fs->blobs[i];
		int e = 0;
		if (out && from + len > b->len)
			e = -EIO;
		else if (out)
			memcpy(out, b->data + from, len);
		lru_unlink(fs, i);
		lru_push_front(fs, i);
		if (!prefetch)
			fs->hits++;
		pthread_mutex_unlock(&fs->mu);
		return e;
	}
	pthread_mutex_unlock(&fs->mu);
	struct buf blob = BUF_INIT;
	int e = repo_blob_load(fs->r, dec(fs), BLOB_DATA, id, &blob);
	if (e < 0) {
		buf_free(&blob);
		return -EIO;
	}
	if (out) {
		if (from + len > blob.len) {
			buf_free(&blob);
			return -EIO;
		}
		memcpy(out, blob.data + from, len);
	}
	uint64_t limit = fs->o->cache_bytes ? fs->o->cache_bytes : (128u << 20);
	pthread_mutex_lock(&fs->mu);
	fs->fetched++;
	fs->fetched_bytes += blob.len;
	if (prefetch)
		fs->prefetched++;
	if (cache_find(fs, id) == NIL) {	/* another thread may have added it */
		size_t n = blob.len;
		cache_add(fs, id, buf_steal(&blob, NULL), n, limit);
	}
	pthread_mutex_unlock(&fs->mu);
	buf_free(&blob);
	return 0;
}

static void *prefetch_thread(void *arg)
{
	struct mfs *fs = arg;
	pthread_mutex_lock(&fs->pmu);
	for (;;) {
		while (fs->pq_n == 0 && !fs->stopping)
			pthread_cond_wait(&fs->pcv, &fs->pmu);
		if (fs->stopping)
			break;
		struct content_ref c = fs->pq[fs->pq_head];
		fs->pq_head = (fs->pq_head + 1) % PREFETCH_QUEUE;
		fs->pq_n--;
		pthread_mutex_unlock(&fs->pmu);
		blob_read(fs, c.id, 0, 0, NULL, 1);
		pthread_mutex_lock(&fs->pmu);
	}
	pthread_mutex_unlock(&fs->pmu);
	decompressor_free(pthread_getspecific(fs->dkey));
	pthread_setspecific(fs->dkey, NULL);
	return NULL;
}

/* Queues a chunk for the read-ahead threads (a FIFO ring). Returns 0, or
 * -1 when the queue is full: the caller tries again on its next read. */
static int prefetch(struct mfs *fs, const struct content_ref *c)
{
	int r = -1;
	pthread_mutex_lock(&fs->pmu);
	if (!fs->pq && !(fs->pq = calloc(PREFETCH_QUEUE, sizeof(*fs->pq))))
		goto out;
	if (fs->pq_n < PREFETCH_QUEUE) {
		fs->pq[(fs->pq_head + fs->pq_n) % PREFETCH_QUEUE] = *c;
		fs->pq_n++;
		pthread_cond_signal(&fs->pcv);
		r = 0;
	}
out:
	pthread_mutex_unlock(&fs->pmu);
	return r;
}

static int fs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct mfs *fs = fs_get();
	struct mfile *f = (struct mfile *)(uintptr_t)fi->fh;
	static const uint8_t zero[32];
	(void)path;
	if (f->stats) {
		if ((size_t)off >= f->statlen)
			return 0;
		size_t n = CAIRN_MIN(size, f->statlen - (size_t)off);
		memcpy(buf, f->statbuf + off, n);
		return (int)n;
	}
	if (off < 0 || (uint64_t)off >= f->node.size)
		return 0;
	if ((uint64_t)off + size > f->node.size)
		size = (size_t)(f->node.size - (uint64_t)off);
	pthread_mutex_lock(&f->mu);
	int sequential = (uint64_t)off == f->last_end && off > 0;
	int e = 0;
	size_t done = 0;
	/* position on the ref covering off: keep the current one, walk on for a
	 * sequential read, seek otherwise */
	uint64_t pos = (uint64_t)off;
	if (!f->have_cur || pos < f->cur_start ||
	    (pos >= f->cur_start + f->cur.size && !sequential)) {
		uint64_t start;
		e = idlist_reader_seek(f->rd, pos, &start);
		if (e == 0 && idlist_reader_next(f->rd, &f->cur) == 1) {
			f->cur_start = start;
			f->have_cur = 1;
		} else {
			f->have_cur = 0;
			e = e < 0 ? -EIO : 0;
		}
	}
	while (e == 0 && f->have_cur && done < size) {
		pos = (uint64_t)off + done;
		if (pos >= f->cur_start + f->cur.size) {
			uint64_t next_start = f->cur_start + f->cur.size;
			int got = idlist_reader_next(f->rd, &f->cur);
			if (got <= 0) {
				f->have_cur = 0;
				e = got < 0 ? -EIO : 0;
				break;
			}
			f->cur_start = next_start;
			continue;
		}
		uint64_t in = pos - f->cur_start;
		size_t n = (size_t)CAIRN_MIN((uint64_t)(size - done), f->cur.size - in);
		if (!memcmp(f->cur.id, zero, 32))
			memset(buf + done, 0, n);
		else if ((e = blob_read(fs, f->cur.id, in, n, buf + done, 0)) < 0)
			break;
		done += n;
	}
	if (e == 0 && sequential) {
		/* read ahead: queue the chunks up to PREFETCH_BYTES past this read */
		uint64_t end = (uint64_t)off + done;
		if (f->ahead_end < end) {
			uint64_t start;
			f->have_pending = 0;
			if (idlist_reader_seek(f->ahead, end, &start) == 0)
				f->ahead_end = start;
			else
				f->ahead_end = UINT64_MAX;
		}
		while (f->ahead_end < end + PREFETCH_BYTES) {
			if (!f->have_pending) {
				if (idlist_reader_next(f->ahead, &f->pending) != 1)
					break;
				f->have_pending = 1;
			}
			if (memcmp(f->pending.id, zero, 32) && prefetch(fs, &f->pending) < 0)
				break;	/* queue full: this one waits for the next read */
			f->ahead_end += f->pending.size;
			f->have_pending = 0;
		}
	}
	f->last_end = (uint64_t)off + done;
	pthread_mutex_unlock(&f->mu);
	return e < 0 ? e : (int)done;
}

static int fs_opendir(const char *path, struct fuse_file_info *fi)
{
	(void)fi;
	struct stat st;
	int e = fs_getattr(path, &st, NULL);
	if (e == 0 && !S_ISDIR(st.st_mode))
		e = -ENOTDIR;
	return e;
}

static int fs_getxattr(const char *path, const char *name, char *value, size_t size)
{
	struct mfs *fs = fs_get();
	struct target t;
	pthread_mutex_lock(&fs->mu);
	int e = resolve(fs, path, &t);
	pthread_mutex_unlock(&fs->mu);
	if (e == 0) {
		e = -ENODATA;
		for (size_t i = 0; i < t.node.n_xattrs; i++) {
			const struct xattr *x = &t.node.xattrs[i];
			if (strcmp(x->name, name))
				continue;
			if (size == 0)
				e = (int)x->len;
			else if (size < x->len)
				e = -ERANGE;
			else {
				memcpy(value, x->value, x->len);
				e = (int)x->len;
			}
		}
	}
	node_clear(&t.node);
	return e;
}

static int fs_listxattr(const char *path, char *list, size_t size)
{
	struct mfs *fs = fs_get();
	struct target t;
	pthread_mutex_lock(&fs->mu);
	int e = resolve(fs, path, &t);
	pthread_mutex_unlock(&fs->mu);
	if (e == 0) {
		size_t need = 0;
		for (size_t i = 0; i < t.node.n_xattrs; i++)
			need += strlen(t.node.xattrs[i].name) + 1;
		if (size == 0)
			e = (int)need;
		else if (size < need)
			e = -ERANGE;
		else {
			size_t o = 0;
			for (size_t i = 0; i < t.node.n_xattrs; i++) {
				size_t l = strlen(t.node.xattrs[i].name) + 1;
				memcpy(list + o, t.node.xattrs[i].name, l);
				o += l;
			}
			e = (int)need;
		}
	}
	node_clear(&t.node);
	return e;
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	conn->max_readahead = 4u << 20;	/* the kernel caps it; larger sequential reads */
	cfg->kernel_cache = 1;
	cfg->use_ino = 0;
	cfg->attr_timeout = 1;
	cfg->entry_timeout = 1;
	return fuse_get_context()->private_data;
}

static const struct fuse_operations ops = {
	.init = fs_init,
	.getattr = fs_getattr,
	.readlink = fs_readlink,
	.open = fs_open,
	.read = fs_read,
	.release = fs_release,
	.opendir = fs_opendir,
	.readdir = fs_readdir,
	.getxattr = fs_getxattr,
	.listxattr = fs_listxattr,
};

int mounter_available(void)
{
	return 1;
}

int mounter_run(struct repo *r, const struct mount_opts *o)
{
	struct mfs fs;
	memset(&fs, 0, sizeof(fs));
	fs.r = r;
	fs.o = o;
	fs.mounted_at = time(NULL);
	fs.lru_head = fs.lru_tail = fs.free_slot = NIL;
	pthread_mutex_init(&fs.mu, NULL);
	pthread_mutex_init(&fs.pmu, NULL);
	pthread_cond_init(&fs.pcv, NULL);
	pthread_key_create(&fs.dkey, dec_free);
	int e = refresh(&fs);
	if (e < 0)
		return e;
	char *argv[8];
	int argc = 0;
	argv[argc++] = "cairn";
	argv[argc++] = "-o";
	argv[argc++] = o->allow_other ? "ro,fsname=cairn,subtype=cairn,allow_other,default_permissions"
				      : "ro,fsname=cairn,subtype=cairn,default_permissions";
	if (o->debug)
		argv[argc++] = "-d";
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse *f = fuse_new(&args, &ops, sizeof(ops), &fs);
	fuse_opt_free_args(&args);
	if (!f) {
		log_error("cannot set up the FUSE file system");
		e = CAIRN_EIO;
		goto out;
	}
	if (fuse_mount(f, o->mountpoint) != 0) {
		log_error("cannot mount on %s (is it an empty folder, and is /dev/fuse usable?)",
			  o->mountpoint);
		fuse_destroy(f);
		e = CAIRN_EIO;
		goto out;
	}
	struct fuse_session *se = fuse_get_session(f);
	fuse_set_signal_handlers(se);
	for (int i = 0; i < 2; i++)
		if (pthread_create(&fs.pthreads[i], NULL, prefetch_thread, &fs) == 0)
			fs.n_pthreads++;
	log_info("serving %zu snapshots on %s; unmount with 'fusermount3 -u %s' or Ctrl-C",
		 fs.n_snaps, o->mountpoint, o->mountpoint);
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(cfg, 0);
	fuse_loop_cfg_set_max_threads(cfg, 16);
	int rc = fuse_loop_mt(f, cfg);
	fuse_loop_cfg_destroy(cfg);
	fuse_remove_signal_handlers(se);
	fuse_unmount(f);
	fuse_destroy(f);
	e = rc < 0 ? CAIRN_EIO : 0;
out:
	pthread_mutex_lock(&fs.pmu);
	fs.stopping = 1;
	pthread_cond_broadcast(&fs.pcv);
	pthread_mutex_unlock(&fs.pmu);
	for (int i = 0; i < fs.n_pthreads; i++)
		pthread_join(fs.pthreads[i], NULL);
	free(fs.pq);
	for (size_t i = 0; i < fs.n_blobs; i++)
		free(fs.blobs[i].data);
	free(fs.blobs);
	free(fs.buckets);
	for (size_t i = 0; i < TREE_CACHE; i++)
		if (fs.trees[i].used)
			tree_free(&fs.trees[i].t);
	snap_list_free(&fs.list);
	free(fs.snaps);
	decompressor_free(pthread_getspecific(fs.dkey));
	pthread_key_delete(fs.dkey);
	return e;
}

#else /* !HAVE_FUSE */

int mounter_available(void)
{
	return 0;
}

int mounter_run(struct repo *r, const struct mount_opts *o)
{
	(void)r;
	(void)o;
	log_error("this cairn was built without FUSE: install libfuse3-dev and fuse3, then "
		  "rebuild (./configure finds it)");
	return CAIRN_EUNSUPPORTED;
}

#endif
