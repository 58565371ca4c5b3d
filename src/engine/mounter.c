/*
 * mounter.c - the FUSE file system (see mounter.h).
 *
 * Paths are resolved on every call: the first component picks the view,
 * then a snapshot, then the rest walks trees (decoded trees are cached by
 * id). Open files keep an idlist reader (under a mutex) to find the chunk
 * at an offset without reading the chunks before it.
 *
 * Blobs go through one cache (hash + LRU, under cmu). A blob is either
 * ready (in the LRU, evictable) or pending: claimed by read-ahead, not
 * loaded yet; a reader that needs a pending blob waits for it instead of
 * loading it a second time. Read-ahead: once a file is read sequentially,
 * each read walks a second idlist reader up to a window past the read
 * (doubling from RA_FIRST to RA_MAX), claims the chunks it finds and queues
 * them as jobs. Worker threads (one per CPU) take jobs: one index look-up
 * per chunk, chunks sorted by pack and offset, neighbours in a pack read
 * with one ranged get, then each blob decrypted, decompressed and re-hashed
 * (repo_blob_decode) from that buffer. So the FUSE threads mostly copy
 * bytes out while the workers decode in parallel.
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
#include <malloc.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TREE_CACHE 256
#define RA_FIRST (512u << 10)	/* read-ahead window after the first sequential read */
#define RA_MAX (16u << 20)	/* largest read-ahead window (and at most cache / 4) */
#define RA_NEAR (2u << 20)	/* a read this close to the last one continues it */
#define JOB_REFS 64		/* chunks per read-ahead job at most */
#define WORKERS_MAX 8
#define RUN_GAP_LOCAL (4u << 10)	/* join reads of blobs this close in a pack */
#define RUN_GAP_REMOTE (256u << 10)
#define RUN_MAX (4u << 20)	/* one ranged read at most */
#define PACK_MAPS 4		/* pack headers each worker keeps decoded */
#define PACK_MAP_MIN 4		/* map a pack once a job finds this many chunks in it */

struct msnap {
	char name[64];		/* snapshots/<name> */
	char short_id[9];
	struct snap_entry *e;
};

enum { CE_FREE, CE_READY, CE_PENDING };

/* A cached blob: in a hash chain (by id); when ready, also in the LRU list
 * (indices). A pending entry has no data; len is the size it was claimed
 * with. */
struct blob_ent {
	uint8_t id[32];
	uint8_t *data;
	size_t len;
	size_t hnext, prev, next;
	int state;
	int wanted;		/* pending, and a reader waits for it */
	unsigned pins;		/* read-ahead claims not read to the end yet */
};

/* Chunks claimed by read-ahead, for a worker to load. */
struct job {
	struct job *next;
	size_t n;
	struct content_ref v[JOB_REFS];
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
	pthread_mutex_t mu;		/* snapshot list, tree cache */
	struct snap_list list;
	struct msnap *snaps;
	size_t n_snaps;
	time_t loaded_at;
	time_t mounted_at;
	uint64_t tick;
	struct tree_ent trees[TREE_CACHE];
	pthread_key_t dkey;		/* per-thread decompressor */
	/* blob cache */
	pthread_mutex_t cmu;		/* blobs, buckets, lru, counters below */
	pthread_cond_t ccv;		/* a pending blob became ready or was dropped */
	struct blob_ent *blobs;
	size_t n_blobs, cap_blobs;
	size_t *buckets, n_buckets;	/* hash heads; n_buckets a power of two */
	size_t lru_head, lru_tail;	/* most and least recently used */
	size_t free_slot;		/* chain of unused entries (through hnext) */
	uint64_t blob_bytes;		/* ready entries */
	uint64_t pending_bytes;		/* pending entries, as claimed */
	uint64_t cache_limit;		/* cache_bytes or its default */
	uint64_t fetched, fetched_bytes, hits, prefetched;
	/* read-ahead jobs */
	pthread_mutex_t jmu;
	pthread_cond_t jcv;
	struct job *jhead, *jtail;	/* FIFO */
	int stopping;
	pthread_t workers[WORKERS_MAX];
	int n_workers;
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
	struct idlist_reader *ahead;	/* read-ahead walker, positioned after ahead_end */
	uint64_t ahead_end;		/* file offset up to which chunks were claimed */
	int ahead_valid;		/* ahead was positioned (seek) since the last reset */
	struct content_ref pending;	/* next read-ahead ref, not claimed yet */
	int have_pending;
	uint64_t ra;			/* current read-ahead window; 0: reads look random */
	uint64_t last_end;
	int have_last;
	int stats;
	char statbuf[1024];
	size_t statlen;
};

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

/* The cached (ready or pending) entry of a blob, or NIL (caller holds cmu). */
static size_t cache_find(struct mfs *fs, const uint8_t id[32])
{
	if (!fs->n_buckets)
		return NIL;
	for (size_t i = fs->buckets[bucket_of(fs, id)]; i != NIL; i = fs->blobs[i].hnext)
		if (!memcmp(fs->blobs[i].id, id, 32))
			return i;
	return NIL;
}

/* Takes an entry out of the hash (and the LRU when ready), frees its data
 * and returns the slot to the free chain (caller holds cmu). */
static void cache_remove(struct mfs *fs, size_t v)
{
	struct blob_ent *b = &fs->blobs[v];
	if (b->state == CE_READY) {
		lru_unlink(fs, v);
		fs->blob_bytes -= b->len;
	} else {
		fs->pending_bytes -= b->len;
	}
	size_t *pp = &fs->buckets[bucket_of(fs, b->id)];
	while (*pp != v)
		pp = &fs->blobs[*pp].hnext;
	*pp = b->hnext;
	free(b->data);
	b->data = NULL;
	b->state = CE_FREE;
	b->hnext = fs->free_slot;
	fs->free_slot = v;
}

/* Evicts least recently used ready blobs until len more bytes fit (caller
 * holds cmu). */
static void cache_make_room(struct mfs *fs, size_t len)
{
	while (fs->lru_tail != NIL && fs->blob_bytes + len > fs->cache_limit)
		cache_remove(fs, fs->lru_tail);
}

/* Adds an entry for id (not in the cache yet): ready with data (taken) or
 * pending (data NULL, len as claimed). Returns its slot, or NIL when out of
 * memory (data is freed). Caller holds cmu; slot indices stay valid, but
 * pointers into fs->blobs do not survive this call. */
static size_t cache_insert(struct mfs *fs, const uint8_t id[32], uint8_t *data, size_t len,
			   int state)
{
	if (state == CE_READY)
		cache_make_room(fs, len);
	if (fs->free_slot == NIL) {
		size_t cap = fs->cap_blobs ? fs->cap_blobs * 2 : 1024;
		struct blob_ent *v = realloc(fs->blobs, cap * sizeof(*v));
		size_t *nb = calloc(cap * 2, sizeof(*nb));
		if (!v || !nb) {
			if (v)
				fs->blobs = v;
			free(nb);
			free(data);
			return NIL;
		}
		fs->blobs = v;
		for (size_t i = fs->cap_blobs; i < cap; i++) {
			v[i].state = CE_FREE;
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
			if (v[i].state == CE_FREE)
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
	b->state = state;
	b->wanted = 0;
	b->pins = state == CE_PENDING;
	b->prev = b->next = NIL;
	size_t h = bucket_of(fs, id);
	b->hnext = fs->buckets[h];
	fs->buckets[h] = i;
	if (state == CE_READY) {
		lru_push_front(fs, i);
		fs->blob_bytes += len;
	} else {
		fs->pending_bytes += len;
	}
	return i;
}

/* A loaded blob enters the cache: fills its pending entry or adds it (data
 * taken). Wakes readers waiting for it. Caller holds cmu. */
static void cache_fill(struct mfs *fs, const uint8_t id[32], uint8_t *data, size_t len)
{
	size_t i = cache_find(fs, id);
	if (i != NIL && fs->blobs[i].state == CE_READY) {
		free(data);	/* another thread was first */
		return;
	}
	if (i != NIL) {
		cache_make_room(fs, len);
		struct blob_ent *b = &fs->blobs[i];
		int wanted = b->wanted;
		fs->pending_bytes -= b->len;
		b->data = data;
		b->len = len;
		b->state = CE_READY;
		b->wanted = 0;
		lru_push_front(fs, i);
		fs->blob_bytes += len;
		if (wanted)
			pthread_cond_broadcast(&fs->ccv);
	} else {
		cache_insert(fs, id, data, len, CE_READY);
	}
}

/* Read-ahead gave up on a claimed blob: readers load it themselves. Caller
 * holds cmu. */
static void cache_unclaim(struct mfs *fs, const uint8_t id[32])
{
	size_t i = cache_find(fs, id);
	if (i != NIL && fs->blobs[i].state == CE_PENDING) {
		int wanted = fs->blobs[i].wanted;
		cache_remove(fs, i);
		if (wanted)
			pthread_cond_broadcast(&fs->ccv);
	}
}

/* Copies [from, from+len) of a ready cached blob, waiting while it is
 * pending. A read to the blob's end uses up one read-ahead claim (when
 * `claimed`); a blob with no claims left was streamed through and is
 * dropped (drop-behind: the kernel's page cache has the bytes now, and the
 * cache stays the size of the read-ahead window). Returns 0 (copied), 1
 * (not cached) or -EIO (shorter than the range). Caller holds cmu. */
static int cache_copy(struct mfs *fs, const uint8_t id[32], uint64_t from, size_t len, char *out,
		      int claimed)
{
	for (;;) {
		size_t i = cache_find(fs, id);
		if (i == NIL)
			return 1;
		struct blob_ent *b = &fs->blobs[i];
		if (b->state == CE_PENDING) {
			b->wanted = 1;
			pthread_cond_wait(&fs->ccv, &fs->cmu);
			continue;
		}
		if (from + len > b->len)
			return -EIO;
		memcpy(out, b->data + from, len);
		if (claimed && b->pins && from + len == b->len && --b->pins == 0) {
			cache_remove(fs, i);
		} else {
			lru_unlink(fs, i);
			lru_push_front(fs, i);
		}
		return 0;
	}
}

/* Copies [from, from+len) of a data blob into out, via the cache; loads it
 * in this thread when nobody has. claimed: the read is part of a stream
 * that read-ahead serves. */
static int blob_read(struct mfs *fs, const uint8_t id[32], uint64_t from, size_t len, char *out,
		     int claimed)
{
	pthread_mutex_lock(&fs->cmu);
	int e = cache_copy(fs, id, from, len, out, claimed);
	if (e <= 0) {
		if (e == 0)
			fs->hits++;
		pthread_mutex_unlock(&fs->cmu);
		return e;
	}
	pthread_mutex_unlock(&fs->cmu);
	struct buf blob = BUF_INIT;
	e = repo_blob_load(fs->r, dec(fs), BLOB_DATA, id, &blob);
	if (e < 0) {
		buf_free(&blob);
		return -EIO;
	}
	if (from + len > blob.len) {
		buf_free(&blob);
		return -EIO;
	}
	memcpy(out, blob.data + from, len);
	pthread_mutex_lock(&fs->cmu);
	fs->fetched++;
	fs->fetched_bytes += blob.len;
	size_t n = blob.len;
	cache_fill(fs, id, buf_steal(&blob, NULL), n);
	pthread_mutex_unlock(&fs->cmu);
	return 0;
}

/* Loads LIST blobs through the cache: reads that jump back re-seek the
 * idlist reader, and that should not decrypt the same LIST blobs again. */
static int mload_list(void *arg, const uint8_t id[32], struct buf *out)
{
	struct mfs *fs = arg;
	pthread_mutex_lock(&fs->cmu);
	size_t i = cache_find(fs, id);
	if (i != NIL && fs->blobs[i].state == CE_READY) {
		buf_reset(out);
		buf_put(out, fs->blobs[i].data, fs->blobs[i].len);
		lru_unlink(fs, i);
		lru_push_front(fs, i);
		pthread_mutex_unlock(&fs->cmu);
		return buf_ok(out);
	}
	pthread_mutex_unlock(&fs->cmu);
	int e = repo_blob_load(fs->r, dec(fs), BLOB_LIST, id, out);
	if (e < 0)
		return e;
	uint8_t *copy = malloc(out->len ? out->len : 1);
	if (copy) {
		memcpy(copy, out->data, out->len);
		pthread_mutex_lock(&fs->cmu);
		cache_fill(fs, id, copy, out->len);
		pthread_mutex_unlock(&fs->cmu);
	}
	return 0;
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
		pthread_mutex_lock(&fs->cmu);
		uint64_t c[5] = { fs->fetched, fs->fetched_bytes, fs->hits, fs->prefetched,
				  fs->blob_bytes };
		pthread_mutex_unlock(&fs->cmu);
		json_init(&j, &b);
		json_obj_begin(&j);
		json_key(&j, "blobs_fetched");
		json_u64(&j, c[0]);
		json_key(&j, "bytes_fetched");
		json_u64(&j, c[1]);
		json_key(&j, "cache_hits");
		json_u64(&j, c[2]);
		json_key(&j, "blobs_prefetched");
		json_u64(&j, c[3]);
		json_key(&j, "cached_bytes");
		json_u64(&j, c[4]);
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
		if (f) {
			idlist_reader_free(f->rd);
			idlist_reader_free(f->ahead);
			node_clear(&f->node);
		}
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

/* Orders job chunks by pack, then offset. */
struct jloc {
	struct index_loc loc;
	size_t k;	/* index in the job */
};

static int cmp_jloc(const void *a, const void *b)
{
	const struct jloc *x = a, *y = b;
	int c = memcmp(x->loc.pack_id, y->loc.pack_id, 32);
	if (c)
		return c;
	return x->loc.offset < y->loc.offset ? -1 : x->loc.offset > y->loc.offset;
}

/* A pack's decoded header with a hash table over its entries: the chunks
 * of a file come from few packs in a row, so after the first look-ups in a
 * pack the rest are found here without asking SQLite. The header is sealed
 * and its entries are checked to tile the pack, as the index's are. */
struct pack_map {
	uint8_t id[32];
	int state;		/* 0 unused, 1 mapped, 2 header unreadable: use the index */
	struct pack_entry *e;
	size_t n;
	uint32_t *slot;		/* open addressing: entry index + 1, 0 empty */
	size_t mask;
	uint64_t tick;
};

/* A worker's reusable state. */
struct worker {
	struct mfs *fs;
	struct decompressor *d;
	struct buf run;		/* sealed bytes of one ranged read */
	struct jloc locs[JOB_REFS];
	uint8_t ids[JOB_REFS][32];
	size_t ids_k[JOB_REFS];	/* job index of ids[i] */
	struct index_loc found_locs[JOB_REFS];
	uint8_t found[JOB_REFS];
	struct pack_map maps[PACK_MAPS];
	uint64_t tick;
};

/* Frees a map's entries and marks it unused. */
static void pack_map_clear(struct pack_map *pm)
{
	free(pm->e);
	free(pm->slot);
	memset(pm, 0, sizeof(*pm));
}

/* Finds a data blob in the worker's mapped packs. */
static int pack_map_find(struct worker *w, const uint8_t id[32], struct index_loc *ret)
{
	for (size_t i = 0; i < PACK_MAPS; i++) {
		struct pack_map *pm = &w->maps[i];
		if (pm->state != 1)
			continue;
		for (size_t h = (size_t)get_u64le(id) & pm->mask; pm->slot[h]; h = (h + 1) & pm->mask) {
			const struct pack_entry *e = &pm->e[pm->slot[h] - 1];
			if (e->type != BLOB_DATA || memcmp(e->id, id, 32))
				continue;
			memcpy(ret->pack_id, pm->id, 32);
			ret->offset = e->offset;
			ret->length = e->length;
			ret->raw_length = e->raw_length;
			pm->tick = ++w->tick;
			return 1;
		}
	}
	return 0;
}

/* Decodes a pack's header into the least recently used map (once per
 * pack: a pack whose header can't be read is remembered as such). */
static void pack_map_load(struct worker *w, const uint8_t pack_id[32])
{
	struct pack_map *pm = &w->maps[0];
	for (size_t i = 0; i < PACK_MAPS; i++) {
		if (w->maps[i].state && !memcmp(w->maps[i].id, pack_id, 32))
			return;
		if (w->maps[i].tick < pm->tick)
			pm = &w->maps[i];
	}
	pack_map_clear(pm);
	memcpy(pm->id, pack_id, 32);
	pm->state = 2;
	pm->tick = ++w->tick;
	char name[96];
	uint64_t size;
	pack_name(pack_id, name, sizeof(name));
	if (backend_stat(repo_backend(w->fs->r), name, &size) < 0 ||
	    repo_pack_header(w->fs->r, pack_id, size, &pm->e, &pm->n) < 0)
		return;
	size_t cap = 16;
	while (cap < pm->n * 2)
		cap *= 2;
	if (pm->n >= UINT32_MAX || !(pm->slot = calloc(cap, sizeof(*pm->slot)))) {
		free(pm->e);
		pm->e = NULL;
		return;
	}
	pm->mask = cap - 1;
	for (size_t k = 0; k < pm->n; k++) {
		size_t h = (size_t)get_u64le(pm->e[k].id) & pm->mask;
		while (pm->slot[h])
			h = (h + 1) & pm->mask;
		pm->slot[h] = (uint32_t)k + 1;
	}
	pm->state = 1;
}

/* Loads a job's chunks into the cache; chunks it cannot load are unclaimed
 * (a reader then loads them itself, and reports the error). */
static void job_run(struct worker *w, struct job *j)
{
	struct mfs *fs = w->fs;
	struct index *ix = repo_index(fs->r);
	struct backend *be = repo_backend(fs->r);
	uint64_t gap = (be->ops->features & BACKEND_F_REMOTE) ? RUN_GAP_REMOTE : RUN_GAP_LOCAL;
	size_t m = 0, q = 0;
	for (size_t k = 0; k < j->n; k++) {
		if (pack_map_find(w, j->v[k].id, &w->locs[m].loc)) {
			w->locs[m++].k = k;
		} else {
			memcpy(w->ids[q], j->v[k].id, 32);
			w->ids_k[q++] = k;
		}
	}
	if (q && index_lookup_many(ix, BLOB_DATA, (const uint8_t(*)[32])w->ids, q, w->found_locs,
				   w->found) < 0)
		memset(w->found, 0, sizeof(w->found));
	size_t from_index = m;
	for (size_t i = 0; i < q; i++) {
		if (w->found[i]) {
			w->locs[m].loc = w->found_locs[i];
			w->locs[m++].k = w->ids_k[i];
		} else {
			pthread_mutex_lock(&fs->cmu);
			cache_unclaim(fs, w->ids[i]);
			pthread_mutex_unlock(&fs->cmu);
		}
	}
	qsort(w->locs, m, sizeof(w->locs[0]), cmp_jloc);
	/* packs the index had to be asked about often: map them for the next jobs */
	if (m - from_index >= PACK_MAP_MIN) {
		for (size_t a = 0, b; a < m; a = b) {
			for (b = a + 1; b < m && !memcmp(w->locs[b].loc.pack_id, w->locs[a].loc.pack_id, 32); b++)
				;
			if (b - a >= PACK_MAP_MIN) {
				struct index_loc dummy;
				size_t k = w->locs[a].k;
				if (!pack_map_find(w, j->v[k].id, &dummy))
					pack_map_load(w, w->locs[a].loc.pack_id);
			}
		}
	}
	for (size_t a = 0, b; a < m; a = b) {
		const struct index_loc *first = &w->locs[a].loc;
		uint64_t end = first->offset + first->length;
		for (b = a + 1; b < m; b++) {
			const struct index_loc *l = &w->locs[b].loc;
			if (memcmp(l->pack_id, first->pack_id, 32) || l->offset > end + gap ||
			    l->offset + l->length - first->offset > RUN_MAX)
				break;
			end = CAIRN_MAX(end, l->offset + l->length);
		}
		char name[96];
		pack_name(first->pack_id, name, sizeof(name));
		buf_reset(&w->run);
		int e = backend_get(be, name, first->offset, (size_t)(end - first->offset), &w->run);
		for (size_t i = a; i < b; i++) {
			const struct index_loc *l = &w->locs[i].loc;
			const uint8_t *id = j->v[w->locs[i].k].id;
			struct buf out = BUF_INIT;
			int de = e;
			if (de == 0)
				de = repo_blob_decode(fs->r, w->d, BLOB_DATA, id,
						      w->run.data + (l->offset - first->offset),
						      l->length, l->raw_length, &out);
			pthread_mutex_lock(&fs->cmu);
			if (de == 0) {
				fs->fetched++;
				fs->prefetched++;
				fs->fetched_bytes += out.len;
				size_t n = out.len;
				cache_fill(fs, id, buf_steal(&out, NULL), n);
			} else {
				cache_unclaim(fs, id);
			}
			pthread_mutex_unlock(&fs->cmu);
			buf_free(&out);
		}
	}
}

/* A read-ahead worker: runs queued jobs until the mount stops. */
static void *worker_thread(void *arg)
{
	struct worker *w = arg;
	struct mfs *fs = w->fs;
	pthread_mutex_lock(&fs->jmu);
	for (;;) {
		while (!fs->jhead && !fs->stopping)
			pthread_cond_wait(&fs->jcv, &fs->jmu);
		if (fs->stopping)
			break;
		struct job *j = fs->jhead;
		fs->jhead = j->next;
		if (!fs->jhead)
			fs->jtail = NULL;
		pthread_mutex_unlock(&fs->jmu);
		job_run(w, j);
		free(j);
		pthread_mutex_lock(&fs->jmu);
	}
	pthread_mutex_unlock(&fs->jmu);
	return NULL;
}

/* Hands a job to the workers (taking it). */
static void job_submit(struct mfs *fs, struct job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&fs->jmu);
	if (fs->jtail)
		fs->jtail->next = j;
	else
		fs->jhead = j;
	fs->jtail = j;
	pthread_cond_signal(&fs->jcv);
	pthread_mutex_unlock(&fs->jmu);
}

/* Claims and queues the chunks of [from, to) that read-ahead has not
 * covered yet; stops early when the claimed bytes reach half the cache
 * (the next read goes on). Caller holds f->mu. */
static void file_readahead(struct mfs *fs, struct mfile *f, uint64_t from, uint64_t to)
{
	static const uint8_t zero[32];
	if (!f->ahead_valid || f->ahead_end < from || f->ahead_end > to + RA_MAX) {
		uint64_t start;
		f->have_pending = 0;
		f->ahead_valid = 1;
		if (idlist_reader_seek(f->ahead, from, &start) == 0)
			f->ahead_end = start;
		else
			f->ahead_end = f->node.size;	/* at the end, or broken: no read-ahead */
	}
	struct job *j = NULL;
	while (f->ahead_end < to) {
		if (!f->have_pending) {
			if (idlist_reader_next(f->ahead, &f->pending) != 1) {
				f->ahead_end = f->node.size;
				break;
			}
			f->have_pending = 1;
		}
		if (memcmp(f->pending.id, zero, 32)) {
			if (!j) {
				if (!(j = malloc(sizeof(*j))))
					break;
				j->n = 0;
			}
			pthread_mutex_lock(&fs->cmu);
			int full = fs->pending_bytes + f->pending.size > fs->cache_limit / 2;
			size_t i = full ? NIL : cache_find(fs, f->pending.id);
			if (i != NIL)
				fs->blobs[i].pins++;	/* cached, or claimed already */
			else if (!full && cache_insert(fs, f->pending.id, NULL, f->pending.size,
						       CE_PENDING) != NIL)
				j->v[j->n++] = f->pending;
			pthread_mutex_unlock(&fs->cmu);
			if (full)
				break;
			if (j->n == JOB_REFS) {
				job_submit(fs, j);
				j = NULL;
			}
		}
		f->ahead_end += f->pending.size;
		f->have_pending = 0;
	}
	if (j && j->n)
		job_submit(fs, j);
	else
		free(j);
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
	uint64_t pos = (uint64_t)off;
	/* sequential (also when the kernel's read-ahead requests arrive out of
	 * order): grow the read-ahead window; a jump elsewhere resets it */
	int near = off == 0 || (f->have_last && pos + RA_NEAR >= f->last_end &&
				pos <= f->last_end + RA_NEAR);
	uint64_t ra_max = CAIRN_MIN((uint64_t)RA_MAX, fs->cache_limit / 4);
	if (!near || !fs->n_workers)
		f->ra = 0;
	else
		f->ra = f->ra ? CAIRN_MIN(f->ra * 2, ra_max) : CAIRN_MIN((uint64_t)RA_FIRST, ra_max);
	/* queue before copying, so that the workers load this read's chunks
	 * in parallel too; top up only when half the window is used, so that
	 * jobs are large and workers wake up less often */
	if (f->ra && (!f->ahead_valid || f->ahead_end < pos + size + f->ra / 2 ||
		      f->ahead_end > pos + size + RA_MAX))
		file_readahead(fs, f, pos, pos + size + f->ra);
	int e = 0;
	size_t done = 0;
	/* position on the ref covering off: keep the current one, walk on for a
	 * read a little ahead, seek otherwise */
	if (!f->have_cur || pos < f->cur_start || pos >= f->cur_start + f->cur.size + RA_NEAR) {
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
		else if ((e = blob_read(fs, f->cur.id, in, n, buf + done, f->ra != 0)) < 0)
			break;
		done += n;
	}
	f->last_end = (uint64_t)off + done;
	f->have_last = 1;
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
	struct worker ws[WORKERS_MAX];
	memset(&fs, 0, sizeof(fs));
	memset(ws, 0, sizeof(ws));
	fs.r = r;
	fs.o = o;
	fs.mounted_at = time(NULL);
	fs.lru_head = fs.lru_tail = fs.free_slot = NIL;
	fs.cache_limit = o->cache_bytes ? o->cache_bytes : (128u << 20);
	pthread_mutex_init(&fs.mu, NULL);
	pthread_mutex_init(&fs.cmu, NULL);
	pthread_cond_init(&fs.ccv, NULL);
	pthread_mutex_init(&fs.jmu, NULL);
	pthread_cond_init(&fs.jcv, NULL);
	pthread_key_create(&fs.dkey, dec_free);
	int e = refresh(&fs);
	if (e < 0)
		goto out;
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
#ifdef M_TRIM_THRESHOLD
	/* streamed blobs are freed as fast as they are allocated: without this,
	 * glibc hands the freed memory back to the kernel and faults it in
	 * again (57,000 page faults per GiB read). Setting the trim threshold
	 * turns off glibc's adaptive mmap threshold, so set that one too (else
	 * each 128 KiB FUSE read buffer is an mmap). */
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_MMAP_THRESHOLD, 8 << 20);
#endif
	/* one read-ahead worker per CPU: they do the decrypting and hashing */
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int nw = (int)CAIRN_MIN(CAIRN_MAX(ncpu, 2L), (long)WORKERS_MAX);
	for (int i = 0; i < nw; i++) {
		struct worker *w = &ws[fs.n_workers];
		w->fs = &fs;
		if (!(w->d = decompressor_new()))
			break;
		if (pthread_create(&fs.workers[fs.n_workers], NULL, worker_thread, w) != 0) {
			decompressor_free(w->d);
			w->d = NULL;
			break;
		}
		fs.n_workers++;
	}
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
	pthread_mutex_lock(&fs.jmu);
	fs.stopping = 1;
	pthread_cond_broadcast(&fs.jcv);
	pthread_mutex_unlock(&fs.jmu);
	for (int i = 0; i < fs.n_workers; i++) {
		pthread_join(fs.workers[i], NULL);
		decompressor_free(ws[i].d);
		buf_free(&ws[i].run);
		for (size_t k = 0; k < PACK_MAPS; k++)
			pack_map_clear(&ws[i].maps[k]);
	}
	while (fs.jhead) {
		struct job *j = fs.jhead;
		fs.jhead = j->next;
		free(j);
	}
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
	pthread_cond_destroy(&fs.jcv);
	pthread_mutex_destroy(&fs.jmu);
	pthread_cond_destroy(&fs.ccv);
	pthread_mutex_destroy(&fs.cmu);
	pthread_mutex_destroy(&fs.mu);
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
