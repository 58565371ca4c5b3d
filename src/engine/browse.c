/*
 * browse.c - walking, searching and diffing snapshot trees (see browse.h).
 *
 * All three walks are iterative over an explicit stack of frames, one per
 * folder level, each holding that level's decoded tree(s) and a cursor:
 * memory follows the depth of the tree, and a hostile tree can't blow the
 * C stack. Paths are built in one buffer: a frame remembers the length of
 * its folder's path, and an entry's path is written after it.
 */
#include "cairn/common.h"
#include "cairn/browse.h"
#include "cairn/compress.h"
#include "cairn/idlist.h"
#include "cairn/log.h"
#include "cairn/pack.h"
#include "cairn/repo.h"

#include <fnmatch.h>

/* Tree loading with one decompressor and one buffer for the whole walk. */
struct loader {
	struct repo *r;
	struct decompressor *d;
	struct buf b;
	uint64_t loaded;
};

/* One decompressor for all the loads of a walk (a zstd context is costly). */
static int loader_init(struct loader *l, struct repo *r)
{
	memset(l, 0, sizeof(*l));
	l->r = r;
	buf_init(&l->b);
	l->d = decompressor_new();
	return l->d ? 0 : CAIRN_ENOMEM;
}

/* Frees what loader_init made. */
static void loader_done(struct loader *l)
{
	decompressor_free(l->d);
	buf_free(&l->b);
}

/* Loads and decodes a tree blob into t (initialised here, empty on error). */
static int loader_tree(struct loader *l, const uint8_t id[32], struct tree *t)
{
	tree_init(t);
	int e = repo_blob_load(l->r, l->d, BLOB_TREE, id, &l->b);
	if (e < 0)
		return e;
	l->loaded++;
	e = tree_decode(l->b.data, l->b.len, t);
	if (e == CAIRN_ECORRUPT) {
		char hex[65];
		hex_encode(id, 32, hex);
		log_error("tree %s is malformed; run 'cairn check'", hex);
	}
	return e;
}

/* The subtree of a folder node, or an empty tree when it has none. */
static int loader_subtree(struct loader *l, const struct node *dir, struct tree *t)
{
	if (!dir || dir->type != NODE_DIR || !dir->has_subtree) {
		tree_init(t);
		return 0;
	}
	return loader_tree(l, dir->subtree, t);
}

/* A growable, NUL-terminated path. */
struct pathbuf {
	char *p;
	size_t cap;
};

/* Writes "/name" at offset len; returns the new length or CAIRN_ENOMEM. */
static int64_t path_set(struct pathbuf *pb, size_t len, const char *name)
{
	size_t nl = strlen(name);
	size_t need = len + 1 + nl + 1;
	if (need > pb->cap) {
		size_t cap = pb->cap ? pb->cap : 256;
		while (cap < need)
			cap *= 2;
		char *p = realloc(pb->p, cap);
		if (!p)
			return CAIRN_ENOMEM;
		pb->p = p;
		pb->cap = cap;
	}
	pb->p[len] = '/';
	memcpy(pb->p + len + 1, name, nl + 1);
	return (int64_t)(len + 1 + nl);
}

/* Cuts the path back to len bytes (a folder's own path). */
static void path_cut(struct pathbuf *pb, size_t len)
{
	if (pb->p)
		pb->p[len] = '\0';
}

/* Grows an array of frames by doubling, up to BROWSE_MAX_DEPTH entries;
 * *v is replaced by the new array. */
static int frames_reserve(void *v, size_t *ret_cap, size_t n, size_t elem, const char *path,
			  void **ret)
{
	*ret = v;
	if (n < *ret_cap)
		return 0;
	if (n >= BROWSE_MAX_DEPTH) {
		log_error("folders nest more than %d levels deep at %.200s%s; the snapshot's "
			  "trees are damaged (run 'cairn check')",
			  BROWSE_MAX_DEPTH, path, strlen(path) > 200 ? "..." : "");
		return CAIRN_ECORRUPT;
	}
	size_t cap = *ret_cap ? *ret_cap * 2 : 16;
	void *p = realloc(v, cap * elem);
	if (!p)
		return CAIRN_ENOMEM;
	*ret = p;
	*ret_cap = cap;
	return 0;
}

/* ---- walk ---- */

struct wframe {
	struct tree t;
	size_t i;			/* next node of t */
	size_t path_len;		/* length of the folder's path */
	const struct node *dir;		/* the folder (NULL for the root tree) */
};

/* Resolves o->start: fills *ret with a copy of the node and pb with its
 * canonical path ("/a/b"). */
static int walk_resolve(struct loader *l, const uint8_t root[32], const char *start,
			struct pathbuf *pb, size_t *ret_len, struct node *ret)
{
	char *copy = strdup(start);
	if (!copy)
		return CAIRN_ENOMEM;
	uint8_t cur[32];
	memcpy(cur, root, 32);
	size_t len = 0;
	char *save = NULL;
	char *comp = strtok_r(copy, "/", &save);
	int e = 0;
	while (comp) {
		struct tree t;
		e = loader_tree(l, cur, &t);
		if (e < 0) {
			tree_free(&t);
			break;
		}
		const struct node *n = tree_find(&t, comp);
		char *next = strtok_r(NULL, "/", &save);
		int64_t nl = path_set(pb, len, comp);
		if (nl < 0) {
			e = (int)nl;
		} else if (!n) {
			log_error("%s is not in the snapshot (see 'cairn ls')", pb->p);
			e = CAIRN_ENOTFOUND;
		} else if (!next) {
			e = node_copy(ret, n);
		} else if (n->type != NODE_DIR) {
			log_error("%s is not in the snapshot: %s is not a folder", start, pb->p);
			e = CAIRN_ENOTFOUND;
		} else if (!n->has_subtree) {
			log_error("%s is not in the snapshot: the folder %s is empty", start, pb->p);
			e = CAIRN_ENOTFOUND;
		} else {
			memcpy(cur, n->subtree, 32);
		}
		tree_free(&t);
		if (e < 0)
			break;
		len = (size_t)nl;
		comp = next;
	}
	free(copy);
	*ret_len = len;
	return e;
}

int browse_walk(struct repo *r, const uint8_t root[32], const struct browse_walk_opts *o,
		struct browse_walk_stats *stats)
{
	struct loader l;
	struct pathbuf pb = { 0 };
	struct wframe *fr = NULL;
	size_t n_fr = 0, cap_fr = 0, len = 0;
	struct node start;
	memset(&start, 0, sizeof(start));
	uint64_t nodes = 0;
	int e = loader_init(&l, r);
	if (e < 0)
		goto out;
	void *grown;
	e = frames_reserve(fr, &cap_fr, 0, sizeof(*fr), "/", &grown);
	fr = grown;
	if (e < 0)
		goto out;
	if (o->start && strspn(o->start, "/") != strlen(o->start)) {
		e = walk_resolve(&l, root, o->start, &pb, &len, &start);
		if (e < 0)
			goto out;
		nodes++;
		e = o->visit(o->arg, pb.p, &start);
		if (e < 0)
			goto out;
		if (e == BROWSE_PRUNE || start.type != NODE_DIR) {
			e = 0;
			goto out;
		}
		e = loader_subtree(&l, &start, &fr[0].t);
		fr[0].dir = &start;
	} else {
		e = loader_tree(&l, root, &fr[0].t);
		fr[0].dir = NULL;
	}
	fr[0].i = 0;
	fr[0].path_len = len;
	n_fr = 1;
	if (e < 0)
		goto out;
	while (n_fr > 0) {
		struct wframe *f = &fr[n_fr - 1];
		if (f->i == f->t.n_nodes) {
			path_cut(&pb, f->path_len);
			if (f->dir && o->leave)
				e = o->leave(o->arg, pb.p ? pb.p : "", f->dir);
			tree_free(&f->t);
			n_fr--;
			if (e < 0)
				goto out;
			e = 0;
			continue;
		}
		const struct node *n = &f->t.nodes[f->i++];
		int64_t nl = path_set(&pb, f->path_len, n->name);
		if (nl < 0) {
			e = (int)nl;
			goto out;
		}
		nodes++;
		e = o->visit(o->arg, pb.p, n);
		if (e < 0)
			goto out;
		if (e == BROWSE_PRUNE || n->type != NODE_DIR) {
			e = 0;
			continue;
		}
		e = frames_reserve(fr, &cap_fr, n_fr, sizeof(*fr), pb.p, &grown);
		fr = grown;
		if (e < 0)
			goto out;
		f = &fr[n_fr];
		f->i = 0;
		f->path_len = (size_t)nl;
		f->dir = n;
		n_fr++;
		e = loader_subtree(&l, n, &f->t);
		if (e < 0)
			goto out;
	}
out:
	while (n_fr > 0)
		tree_free(&fr[--n_fr].t);
	if (stats) {
		stats->nodes = nodes;
		stats->trees_loaded = l.loaded;
	}
	free(fr);
	free(pb.p);
	node_clear(&start);
	loader_done(&l);
	return e;
}

/* LIST blob loader for browse_count_chunks. */
static int count_load(void *arg, const uint8_t id[32], struct buf *out)
{
	struct loader *l = arg;
	return repo_blob_load(l->r, l->d, BLOB_LIST, id, out);
}

int browse_count_chunks(struct repo *r, const struct node *file, uint64_t *ret)
{
	static const uint8_t zero[32];
	uint64_t n = 0;
	*ret = 0;
	if (file->type != NODE_FILE)
		return CAIRN_EINVAL;
	if (file->content_depth == 0) {
		for (size_t i = 0; i < file->n_content; i++)
			if (memcmp(file->content[i].id, zero, 32) != 0)
				n++;
		*ret = n;
		return 0;
	}
	struct loader l;
	struct idlist_reader *rd = NULL;
	int e = loader_init(&l, r);
	if (e == 0)
		e = idlist_reader_new(file->content, file->n_content, file->content_depth,
				      count_load, &l, &rd);
	while (e == 0) {
		struct content_ref c;
		int got = idlist_reader_next(rd, &c);
		if (got <= 0) {
			e = got;
			break;
		}
		if (memcmp(c.id, zero, 32) != 0)
			n++;
	}
	if (e == CAIRN_ECORRUPT)
		log_error("the chunk list of %s is damaged; run 'cairn check'", file->name);
	idlist_reader_free(rd);
	loader_done(&l);
	if (e == 0)
		*ret = n;
	return e;
}

/* ---- find ---- */

int browse_match(const char *const *patterns, size_t n, int ignore_case, const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	int flags = ignore_case ? FNM_CASEFOLD : 0;
	for (size_t i = 0; i < n; i++) {
		const char *p = patterns[i];
		if (fnmatch(p, strchr(p, '/') ? path : base, flags) == 0)
			return 1;
	}
	return 0;
}

#define FIND_CACHE_DEFAULT (16u << 20)
/* A subtree with more matches than this is not cached (its smaller
 * subtrees still are): replaying big lists saves little and costs memory. */
#define FIND_ENTRY_MATCHES_MAX 256

struct fmatch {
	char *path;
	struct node n;
};

/* Cache entry: the matches below the folder with subtree id at path. */
struct centry {
	uint8_t id[32];
	char *path;
	struct fmatch *m;
	size_t n;
	size_t cost;
	struct centry *next;
};

/* One open folder of the walk: the sequence number of its first match. */
struct fframe {
	uint64_t start;
};

struct browse_finder {
	struct browse_find_opts o;
	/* cache */
	struct centry **buckets;
	size_t n_buckets, n_entries, used;
	/* state of a run */
	struct browse_find_stats st;
	uint64_t seq;			/* matches so far */
	struct fmatch *rec;		/* rec[k] is match number rec_base + k */
	size_t n_rec, cap_rec;
	uint64_t rec_base;
	struct fframe *fr;
	size_t n_fr, cap_fr;
	size_t first_cacheable;		/* outermost frame with few enough matches */
};

/* Frees a recorded match's copies. */
static void fmatch_clear(struct fmatch *m)
{
	free(m->path);
	node_clear(&m->n);
	m->path = NULL;
}

/* Frees a cache entry and its matches. */
static void centry_free(struct centry *c)
{
	for (size_t i = 0; i < c->n; i++)
		fmatch_clear(&c->m[i]);
	free(c->m);
	free(c->path);
	free(c);
}

/* Empties the cache (it is full, or the finder goes away). */
static void cache_clear(struct browse_finder *f)
{
	for (size_t b = 0; b < f->n_buckets; b++) {
		while (f->buckets[b]) {
			struct centry *c = f->buckets[b];
			f->buckets[b] = c->next;
			centry_free(c);
		}
	}
	f->n_entries = 0;
	f->used = 0;
}

/* Bucket hash of (subtree id, path): FNV-1a of the path over the id. */
static size_t cache_hash(const uint8_t id[32], const char *path)
{
	uint64_t h;
	memcpy(&h, id, 8);	/* ids are keyed hashes: already uniform */
	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	return (size_t)(h ^ (h >> 32));
}

/* The cache entry of the folder (id, path), or NULL. */
static struct centry *cache_get(struct browse_finder *f, const uint8_t id[32], const char *path)
{
	if (!f->n_buckets)
		return NULL;
	struct centry *c = f->buckets[cache_hash(id, path) & (f->n_buckets - 1)];
	for (; c; c = c->next)
		if (memcmp(c->id, id, 32) == 0 && strcmp(c->path, path) == 0)
			return c;
	return NULL;
}

/* Rough memory of a node copy. */
static size_t node_cost(const struct node *n)
{
	size_t c = sizeof(*n) + strlen(n->name) + 1 + n->n_content * sizeof(struct content_ref);
	c += n->user ? strlen(n->user) + 1 : 0;
	c += n->group ? strlen(n->group) + 1 : 0;
	c += n->link_target ? strlen(n->link_target) + 1 : 0;
	for (size_t i = 0; i < n->n_xattrs; i++)
		c += sizeof(struct xattr) + strlen(n->xattrs[i].name) + 1 + n->xattrs[i].len;
	return c;
}

/* Doubles the bucket array when entries outnumber buckets. */
static int cache_grow(struct browse_finder *f)
{
	if (f->n_buckets && f->n_entries < f->n_buckets)
		return 0;
	size_t nb = f->n_buckets ? f->n_buckets * 2 : 1024;
	struct centry **b = calloc(nb, sizeof(*b));
	if (!b)
		return CAIRN_ENOMEM;
	for (size_t i = 0; i < f->n_buckets; i++) {
		while (f->buckets[i]) {
			struct centry *c = f->buckets[i];
			f->buckets[i] = c->next;
			size_t h = cache_hash(c->id, c->path) & (nb - 1);
			c->next = b[h];
			b[h] = c;
		}
	}
	free(f->buckets);
	f->buckets = b;
	f->n_buckets = nb;
	return 0;
}

/* Remembers the matches m[0..n) below the folder (id, path). When the
 * cache is full it is emptied first: snapshots are searched oldest
 * first, and each mostly repeats the one before. */
static int cache_put(struct browse_finder *f, const uint8_t id[32], const char *path,
		     const struct fmatch *m, size_t n)
{
	size_t cost = sizeof(struct centry) + strlen(path) + 1 + sizeof(void *);
	for (size_t i = 0; i < n; i++)
		cost += sizeof(struct fmatch) + strlen(m[i].path) + 1 + node_cost(&m[i].n);
	if (cost > f->o.cache_bytes)
		return 0;
	if (f->used + cost > f->o.cache_bytes)
		cache_clear(f);
	int e = cache_grow(f);
	if (e < 0)
		return e;
	struct centry *c = calloc(1, sizeof(*c));
	if (!c)
		return CAIRN_ENOMEM;
	memcpy(c->id, id, 32);
	c->cost = cost;
	c->path = strdup(path);
	c->m = n ? calloc(n, sizeof(*c->m)) : NULL;
	if (!c->path || (n && !c->m))
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		c->n = i + 1;
		c->m[i].path = strdup(m[i].path);
		if (!c->m[i].path || node_copy(&c->m[i].n, &m[i].n) < 0)
			goto nomem;
	}
	size_t h = cache_hash(id, path) & (f->n_buckets - 1);
	c->next = f->buckets[h];
	f->buckets[h] = c;
	f->n_entries++;
	f->used += cost;
	return 0;
nomem:
	centry_free(c);
	return CAIRN_ENOMEM;
}

/* Drops recorded matches older than the outermost cacheable frame. */
static void rec_trim(struct browse_finder *f)
{
	uint64_t keep = f->first_cacheable < f->n_fr ? f->fr[f->first_cacheable].start : f->seq;
	if (keep <= f->rec_base)
		return;
	size_t drop = (size_t)(keep - f->rec_base);
	if (drop > f->n_rec)
		drop = f->n_rec;
	for (size_t i = 0; i < drop; i++)
		fmatch_clear(&f->rec[i]);
	memmove(f->rec, f->rec + drop, (f->n_rec - drop) * sizeof(*f->rec));
	f->n_rec -= drop;
	f->rec_base += drop;
}

/* Reports one match and records it for the cache entries of the folders
 * that are open. */
static int find_emit(struct browse_finder *f, const char *path, const struct node *n)
{
	int e = f->o.match(f->o.arg, path, n);
	if (e < 0)
		return e;
	f->st.matches++;
	f->seq++;
	if (f->first_cacheable >= f->n_fr) {
		f->rec_base = f->seq;
		return 0;
	}
	if (f->n_rec == f->cap_rec) {
		size_t cap = f->cap_rec ? f->cap_rec * 2 : 64;
		struct fmatch *p = realloc(f->rec, cap * sizeof(*p));
		if (!p)
			return CAIRN_ENOMEM;
		f->rec = p;
		f->cap_rec = cap;
	}
	struct fmatch *m = &f->rec[f->n_rec];
	memset(m, 0, sizeof(*m));
	m->path = strdup(path);
	if (!m->path || node_copy(&m->n, n) < 0) {
		fmatch_clear(m);
		return CAIRN_ENOMEM;
	}
	f->n_rec++;
	while (f->first_cacheable < f->n_fr &&
	       f->seq - f->fr[f->first_cacheable].start > FIND_ENTRY_MATCHES_MAX)
		f->first_cacheable++;
	rec_trim(f);
	return 0;
}

/* Time limits first: they are cheaper than fnmatch. */
static int node_matches(const struct browse_finder *f, const char *path, const struct node *n)
{
	if (f->o.has_newer && !(n->mtime_ns > f->o.newer_ns))
		return 0;
	if (f->o.has_older && !(n->mtime_ns < f->o.older_ns))
		return 0;
	if (f->o.n_patterns == 0)
		return 1;
	return browse_match(f->o.patterns, f->o.n_patterns, f->o.ignore_case, path);
}

/* Walk visitor: tests the node; a folder is answered from the cache or
 * opens a frame that records its matches. */
static int find_visit(void *arg, const char *path, const struct node *n)
{
	struct browse_finder *f = arg;
	int e;
	f->st.nodes++;
	if (node_matches(f, path, n) && (e = find_emit(f, path, n)) < 0)
		return e;
	if (n->type != NODE_DIR)
		return 0;
	if (n->has_subtree && f->o.cache_bytes > 1) {
		const struct centry *c = cache_get(f, n->subtree, path);
		if (c) {
			f->st.cache_hits++;
			for (size_t i = 0; i < c->n; i++)
				if ((e = find_emit(f, c->m[i].path, &c->m[i].n)) < 0)
					return e;
			return BROWSE_PRUNE;
		}
	}
	if (f->n_fr == f->cap_fr) {
		size_t cap = f->cap_fr ? f->cap_fr * 2 : 16;
		struct fframe *p = realloc(f->fr, cap * sizeof(*p));
		if (!p)
			return CAIRN_ENOMEM;
		f->fr = p;
		f->cap_fr = cap;
	}
	f->fr[f->n_fr++].start = f->seq;
	return 0;
}

/* Walk leave: a folder with few enough matches goes into the cache. */
static int find_leave(void *arg, const char *path, const struct node *n)
{
	struct browse_finder *f = arg;
	int e = 0;
	size_t top = --f->n_fr;
	if (f->first_cacheable <= top && n->has_subtree && f->o.cache_bytes > 1) {
		uint64_t start = f->fr[top].start;
		e = cache_put(f, n->subtree, path, f->rec + (start - f->rec_base),
			      (size_t)(f->seq - start));
	}
	if (f->first_cacheable > f->n_fr)
		f->first_cacheable = f->n_fr;
	rec_trim(f);
	return e;
}

struct browse_finder *browse_finder_new(const struct browse_find_opts *o)
{
	struct browse_finder *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->o = *o;
	if (f->o.cache_bytes == 0)
		f->o.cache_bytes = FIND_CACHE_DEFAULT;
	return f;
}

/* Forgets the per-run state (after an error, frames may still be open). */
static void finder_reset(struct browse_finder *f)
{
	for (size_t i = 0; i < f->n_rec; i++)
		fmatch_clear(&f->rec[i]);
	f->n_rec = 0;
	f->n_fr = 0;
	f->first_cacheable = 0;
	f->seq = 0;
	f->rec_base = 0;
	memset(&f->st, 0, sizeof(f->st));
}

void browse_finder_free(struct browse_finder *f)
{
	if (!f)
		return;
	finder_reset(f);
	cache_clear(f);
	free(f->buckets);
	free(f->rec);
	free(f->fr);
	free(f);
}

int browse_finder_run(struct browse_finder *f, struct repo *r, const uint8_t root[32],
		      struct browse_find_stats *stats)
{
	finder_reset(f);
	struct browse_walk_opts wo = { .visit = find_visit, .leave = find_leave, .arg = f };
	struct browse_walk_stats ws;
	int e = browse_walk(r, root, &wo, &ws);
	if (stats) {
		stats->nodes += f->st.nodes;
		stats->trees_loaded += ws.trees_loaded;
		stats->cache_hits += f->st.cache_hits;
		stats->matches += f->st.matches;
	}
	finder_reset(f);
	return e;
}

/* ---- diff ---- */

/* Equal strings, where NULL (no name recorded) equals only NULL. */
static int str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

int browse_content_equal(const struct node *a, const struct node *b)
{
	return a->size == b->size && a->content_depth == b->content_depth &&
	       a->n_content == b->n_content &&
	       (a->n_content == 0 ||
		memcmp(a->content, b->content, a->n_content * sizeof(*a->content)) == 0);
}

int browse_metadata_equal(const struct node *a, const struct node *b)
{
	if (a->mode != b->mode || a->uid != b->uid || a->gid != b->gid ||
	    a->mtime_ns != b->mtime_ns || a->rdev != b->rdev || !str_eq(a->user, b->user) ||
	    !str_eq(a->group, b->group) || !str_eq(a->link_target, b->link_target) ||
	    a->n_xattrs != b->n_xattrs)
		return 0;
	for (size_t i = 0; i < a->n_xattrs; i++) {
		const struct xattr *x = &a->xattrs[i], *y = &b->xattrs[i];
		if (strcmp(x->name, y->name) != 0 || x->len != y->len ||
		    (x->len && memcmp(x->value, y->value, x->len) != 0))
			return 0;
	}
	return 1;
}

struct dframe {
	struct tree a, b;		/* old and new entries of one folder */
	size_t i, j;
	size_t path_len;
};

struct differ {
	const struct browse_diff_opts *o;
	struct browse_diff_stats st;
	struct loader l;
	struct pathbuf pb;
	struct dframe *fr;
	size_t n_fr, cap_fr;
};

/* Opens a frame for the folders a (old) and b (new), either may be NULL. */
static int diff_push(struct differ *d, const struct node *a, const struct node *b, size_t len)
{
	void *grown;
	int e = frames_reserve(d->fr, &d->cap_fr, d->n_fr, sizeof(*d->fr), d->pb.p, &grown);
	d->fr = grown;
	if (e < 0)
		return e;
	struct dframe *f = &d->fr[d->n_fr];
	memset(f, 0, sizeof(*f));
	f->path_len = len;
	tree_init(&f->b);
	e = loader_subtree(&d->l, a, &f->a);
	if (e == 0)
		e = loader_subtree(&d->l, b, &f->b);
	if (e < 0) {
		tree_free(&f->a);
		tree_free(&f->b);
		return e;
	}
	d->n_fr++;
	return 0;
}

/* Totals of an added entry, by type. */
static void count_added(struct browse_diff_stats *st, const struct node *n)
{
	if (n->type == NODE_FILE) {
		st->files_added++;
		st->bytes_added += n->size;
	} else if (n->type == NODE_DIR) {
		st->dirs_added++;
	} else {
		st->others_added++;
	}
}

/* Totals of a removed entry, by type. */
static void count_removed(struct browse_diff_stats *st, const struct node *n)
{
	if (n->type == NODE_FILE) {
		st->files_removed++;
		st->bytes_removed += n->size;
	} else if (n->type == NODE_DIR) {
		st->dirs_removed++;
	} else {
		st->others_removed++;
	}
}

/* Handles one name present on both sides. */
static int diff_both(struct differ *d, const struct node *a, const struct node *b, size_t len)
{
	struct browse_diff_stats *st = &d->st;
	const char *path = d->pb.p;
	int e = 0;
	if (a->type != b->type) {
		st->type_changed++;
		count_removed(st, a);
		count_added(st, b);
		e = d->o->change(d->o->arg, BROWSE_TYPE, path, a, b);
		if (e == 0 && a->type == NODE_DIR)
			e = diff_push(d, a, NULL, len);
		if (e == 0 && b->type == NODE_DIR)
			e = diff_push(d, NULL, b, len);
		return e;
	}
	if (a->type == NODE_FILE && !browse_content_equal(a, b)) {
		st->files_changed++;
		st->bytes_added += b->size;
		st->bytes_removed += a->size;
		return d->o->change(d->o->arg, BROWSE_MODIFIED, path, a, b);
	}
	if (!browse_metadata_equal(a, b)) {
		if (a->type == NODE_FILE)
			st->files_metadata++;
		else if (a->type == NODE_DIR)
			st->dirs_metadata++;
		else
			st->others_metadata++;
		if (d->o->metadata)
			e = d->o->change(d->o->arg, BROWSE_METADATA, path, a, b);
	}
	if (e < 0 || a->type != NODE_DIR)
		return e;
	if (a->has_subtree && b->has_subtree && memcmp(a->subtree, b->subtree, 32) == 0) {
		st->trees_skipped++;
		return 0;
	}
	if (!a->has_subtree && !b->has_subtree)
		return 0;
	return diff_push(d, a, b, len);
}

/* Takes the next name of the top frame; a folder opens a new frame. */
static int diff_step(struct differ *d)
{
	struct dframe *f = &d->fr[d->n_fr - 1];
	const struct node *a = f->i < f->a.n_nodes ? &f->a.nodes[f->i] : NULL;
	const struct node *b = f->j < f->b.n_nodes ? &f->b.nodes[f->j] : NULL;
	if (a && b) {
		int c = strcmp(a->name, b->name);
		if (c < 0)
			b = NULL;
		else if (c > 0)
			a = NULL;
	}
	f->i += a != NULL;
	f->j += b != NULL;
	int64_t len = path_set(&d->pb, f->path_len, a ? a->name : b->name);
	if (len < 0)
		return (int)len;
	if (a && b)
		return diff_both(d, a, b, (size_t)len);
	int e;
	if (a) {
		count_removed(&d->st, a);
		e = d->o->change(d->o->arg, BROWSE_REMOVED, d->pb.p, a, NULL);
		if (e == 0 && a->type == NODE_DIR)
			e = diff_push(d, a, NULL, (size_t)len);
	} else {
		count_added(&d->st, b);
		e = d->o->change(d->o->arg, BROWSE_ADDED, d->pb.p, NULL, b);
		if (e == 0 && b->type == NODE_DIR)
			e = diff_push(d, NULL, b, (size_t)len);
	}
	return e;
}

int browse_diff(struct repo *r, const uint8_t root_old[32], const uint8_t root_new[32],
		const struct browse_diff_opts *o, struct browse_diff_stats *stats)
{
	struct differ d;
	memset(&d, 0, sizeof(d));
	d.o = o;
	int e = loader_init(&d.l, r);
	if (e < 0)
		goto out;
	if (memcmp(root_old, root_new, 32) == 0) {
		d.st.trees_skipped++;
		goto out;
	}
	void *grown;
	e = frames_reserve(d.fr, &d.cap_fr, 0, sizeof(*d.fr), "/", &grown);
	d.fr = grown;
	if (e < 0)
		goto out;
	struct dframe *f = &d.fr[0];
	memset(f, 0, sizeof(*f));
	tree_init(&f->b);
	e = loader_tree(&d.l, root_old, &f->a);
	if (e == 0)
		e = loader_tree(&d.l, root_new, &f->b);
	if (e < 0) {
		tree_free(&f->a);
		tree_free(&f->b);
		goto out;
	}
	d.n_fr = 1;
	while (d.n_fr > 0) {
		f = &d.fr[d.n_fr - 1];
		if (f->i == f->a.n_nodes && f->j == f->b.n_nodes) {
			tree_free(&f->a);
			tree_free(&f->b);
			d.n_fr--;
			continue;
		}
		e = diff_step(&d);
		if (e < 0)
			goto out;
	}
out:
	while (d.n_fr > 0) {
		d.n_fr--;
		tree_free(&d.fr[d.n_fr].a);
		tree_free(&d.fr[d.n_fr].b);
	}
	d.st.trees_loaded = d.l.loaded;
	if (stats)
		*stats = d.st;
	free(d.fr);
	free(d.pb.p);
	loader_done(&d.l);
	return e;
}
