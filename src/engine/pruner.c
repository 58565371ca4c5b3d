/*
 * pruner.c - prune (see pruner.h).
 */
#include "cairn/common.h"
#include "cairn/pruner.h"
#include "cairn/compress.h"
#include "cairn/idlist.h"
#include "cairn/index.h"
#include "cairn/indexfile.h"
#include "cairn/log.h"
#include "cairn/repo.h"
#include "cairn/saver.h"
#include "cairn/snaplist.h"

#include <signal.h>
#include <time.h>

#define PRUNE_INDEX_BLOBS 100000
/* Data blob ids are marked in sorted batches of this many (2 MiB, and as
 * much to sort them): inserts in key order touch few pages, and duplicates
 * within a batch cost nothing. */
#define PRUNE_MARK_BATCH 65536
/* Objects deleted per backend call. */
#define PRUNE_DEL_BATCH 256

/* Pack ids (orphans: packs no index file names). */
struct id_list {
	uint8_t (*v)[32];
	size_t n, cap;
};

static int id_list_add(struct id_list *l, const uint8_t id[32])
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		void *a = realloc(l->v, cap * 32);
		if (!a)
			return CAIRN_ENOMEM;
		l->v = a;
		l->cap = cap;
	}
	memcpy(l->v[l->n++], id, 32);
	return 0;
}

static int id_list_has(const struct id_list *l, const uint8_t id[32])
{
	for (size_t i = 0; i < l->n; i++)
		if (!memcmp(l->v[i], id, 32))
			return 1;
	return 0;
}

static void id_list_free(struct id_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

struct prune {
	struct repo *r;
	struct index *ix;
	const struct prune_opts *o;
	struct prune_stats *st;
	struct decompressor *d;
	struct buf blob;
	long kill_at, events;
	uint64_t dropped;		/* indexed packs deleted or repacked */
	struct id_list orphans, written, removed;	/* packs; index files */
	struct id_list affected;	/* old index files that name a dropped pack */
	uint8_t (*batch)[32];		/* data ids not yet marked */
	size_t n_batch;
	char (*del)[96];		/* object names not yet deleted */
	size_t n_del, cap_del;
	int del_lazy;			/* deleting packs: see del_flush */
};

/* Seconds on the monotonic clock, for the per-phase timings of -v. */
static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Test hook: CAIRN_TEST_PRUNE_KILL_AT=N kills the process at the N-th step. */
static void step(struct prune *p)
{
	if (p->kill_at > 0 && ++p->events == p->kill_at)
		raise(SIGKILL);
}

/* Sorts ids: a radix sort on the first four bytes (ids are keyed hashes,
 * uniformly spread), then an insertion pass on the full 32 bytes that
 * only has to fix the rare ids sharing those four bytes. qsort's
 * comparisons cost more than the SQLite inserts they speed up. */
static void ids_sort(uint8_t (*v)[32], uint8_t (*tmp)[32], size_t n)
{
	uint8_t (*src)[32] = v, (*dst)[32] = tmp;
	for (int byte = 3; byte >= 0; byte--) {
		size_t count[257] = { 0 };
		for (size_t i = 0; i < n; i++)
			count[src[i][byte] + 1]++;
		for (int b = 0; b < 256; b++)
			count[b + 1] += count[b];
		for (size_t i = 0; i < n; i++)
			memcpy(dst[count[src[i][byte]]++], src[i], 32);
		uint8_t (*t)[32] = src;
		src = dst;
		dst = t;
	}
	/* four passes: the result is back in v */
	for (size_t i = 1; i < n; i++) {
		if (memcmp(v[i - 1], v[i], 32) <= 0)
			continue;
		uint8_t cur[32];
		memcpy(cur, v[i], 32);
		size_t j = i;
		for (; j > 0 && memcmp(v[j - 1], cur, 32) > 0; j--)
			memcpy(v[j], v[j - 1], 32);
		memcpy(v[j], cur, 32);
	}
}

/* Marks the batched data ids, sorted and without duplicates. */
static int mark_flush(struct prune *p)
{
	if (p->n_batch == 0)
		return 0;
	ids_sort(p->batch, p->batch + PRUNE_MARK_BATCH, p->n_batch);
	size_t n = 1;
	for (size_t i = 1; i < p->n_batch; i++)
		if (memcmp(p->batch[i], p->batch[n - 1], 32))
			memcpy(p->batch[n++], p->batch[i], 32);
	log_debug("prune: marking %zu data ids (%zu distinct)", p->n_batch, n);
	p->n_batch = 0;
	return index_used_mark_many(p->ix, BLOB_DATA, (const uint8_t(*)[32])p->batch, n);
}

static int mark_data(struct prune *p, const uint8_t id[32])
{
	/* the batch and, behind it, the sort's scratch space */
	if (!p->batch && !(p->batch = malloc((size_t)PRUNE_MARK_BATCH * 2 * 32)))
		return CAIRN_ENOMEM;
	memcpy(p->batch[p->n_batch++], id, 32);
	return p->n_batch == PRUNE_MARK_BATCH ? mark_flush(p) : 0;
}

static int mark_content(struct prune *p, const struct content_ref *refs, size_t n, uint32_t depth)
{
	static const uint8_t zero[32];
	for (size_t i = 0; i < n; i++) {
		if (depth == 0) {
			if (!memcmp(refs[i].id, zero, 32))
				continue;
			int m = mark_data(p, refs[i].id);
			if (m < 0)
				return m;
			continue;
		}
		int m = index_used_mark(p->ix, BLOB_LIST, refs[i].id);
		if (m <= 0)
			continue;	/* seen before (its children too) or error */
		int e = repo_blob_load(p->r, p->d, BLOB_LIST, refs[i].id, &p->blob);
		if (e == CAIRN_ENOTFOUND)
			continue;	/* counted as missing by index_used_finish */
		if (e < 0)
			return e;
		struct content_ref *sub;
		size_t ns;
		e = idlist_decode(p->blob.data, p->blob.len, &sub, &ns);
		if (e < 0)
			return e;
		e = mark_content(p, sub, ns, depth - 1);
		free(sub);
		if (e < 0)
			return e;
	}
	return 0;
}

static int mark_tree(struct prune *p, const uint8_t id[32], int depth)
{
	int m = index_used_mark(p->ix, BLOB_TREE, id);
	if (m <= 0)
		return m;
	if (depth > 4096)
		return CAIRN_ECORRUPT;
	struct tree t;
	int e = repo_blob_load(p->r, p->d, BLOB_TREE, id, &p->blob);
	if (e == CAIRN_ENOTFOUND)
		return 0;	/* counted as missing by index_used_finish */
	if (e < 0)
		return e;
	tree_init(&t);
	e = tree_decode(p->blob.data, p->blob.len, &t);
	if (e < 0) {
		char hex[65];
		hex_encode(id, 32, hex);
		log_error("tree %s is malformed", hex);
		tree_free(&t);
		return e;
	}
	for (size_t i = 0; i < t.n_nodes && e == 0; i++) {
		const struct node *n = &t.nodes[i];
		if (n->type == NODE_FILE)
			e = mark_content(p, n->content, n->n_content, n->content_depth);
		else if (n->type == NODE_DIR && n->has_subtree)
			e = mark_tree(p, n->subtree, depth + 1);
	}
	tree_free(&t);
	return e;
}

int prune_mark_tree(struct repo *r, const uint8_t tree[32])
{
	struct prune_stats st;
	struct prune p = { .r = r, .ix = repo_index(r), .st = &st };
	p.d = decompressor_new();
	if (!p.d)
		return CAIRN_ENOMEM;
	int e = mark_tree(&p, tree, 0);
	if (e == 0)
		e = mark_flush(&p);
	free(p.batch);
	buf_free(&p.blob);
	decompressor_free(p.d);
	return e;
}

static int mark_snapshot(void *arg, const uint8_t id[32])
{
	struct prune *p = arg;
	struct snapshot sn;
	int e = snap_load(p->r, id, &sn);
	if (e < 0) {
		char hex[65];
		hex_encode(id, 32, hex);
		log_error("cannot read snapshot %s; prune stops so nothing it needs is deleted",
			  hex);
		return e;
	}
	p->st->snapshots++;
	e = mark_tree(p, sn.tree, 0);
	snapshot_clear(&sn);
	return e;
}

static int usage_cb(void *arg, const struct index_pack_usage *u)
{
	struct prune *p = arg;
	uint64_t total = u->used_bytes + u->unused_bytes;
	p->st->packs++;
	p->st->bytes_before += u->size;
	if (u->used_blobs == 0) {
		p->st->packs_deleted++;
		p->st->bytes_freed += u->size;
		p->dropped++;
		return p->o->dry_run ? 0 : index_drop_pack(p->ix, u->id, 0);
	}
	if (total && (double)u->unused_bytes / (double)total > p->o->max_unused) {
		p->st->packs_repacked++;
		p->st->bytes_repacked += u->used_bytes;
		p->st->bytes_freed += u->unused_bytes;
		p->dropped++;
		return p->o->dry_run ? 0 : index_drop_pack(p->ix, u->id, 1);
	}
	return 0;
}

static int orphan_cb(void *arg, const char *name, uint64_t size)
{
	struct prune *p = arg;
	uint8_t id[32];
	if (strlen(name) != 8 + 64 || hex_decode(name + 8, id, 32) < 0)
		return 0;
	int has = index_has_pack(p->ix, id);
	if (has < 0)
		return has;
	if (has)
		return 0;
	p->st->packs_orphaned++;
	p->st->bytes_freed += size;
	p->st->bytes_before += size;
	return id_list_add(&p->orphans, id);
}

struct repack_ctx {
	struct prune *p;
	struct saver *sv;
	struct saver_ctx *sc;
	struct buf sealed;
};

/* Stores one keeper blob of a pack being repacked again, read from where
 * the keeper copy is (no index look-up) and checked against its id. */
static int repack_blob(void *arg, const uint8_t pack_id[32], uint64_t pack_size,
		       const struct pack_entry *en)
{
	struct repack_ctx *rc = arg;
	struct prune *p = rc->p;
	char name[96];
	(void)pack_size;
	pack_name(pack_id, name, sizeof(name));
	buf_reset(&rc->sealed);
	int e = backend_get(repo_backend(p->r), name, en->offset, en->length, &rc->sealed);
	if (e < 0) {
		log_error("cannot read a blob of pack %s to repack it: %s", name, cairn_strerror(e));
		return e;
	}
	e = repo_blob_decode(p->r, p->d, en->type, en->id, rc->sealed.data, rc->sealed.len,
			     en->raw_length, &p->blob);
	if (e < 0) {
		char hex[65];
		hex_encode(en->id, 32, hex);
		log_error("%s blob %s in pack %s is damaged; prune stopped before deleting "
			  "anything. Run 'cairn check --read-data'",
			  blob_type_name(en->type), hex, name);
		return e;
	}
	return saver_save(rc->sv, rc->sc, en->type, p->blob.data, p->blob.len, en->id, NULL);
}

/* Collects the kept packs' entries into index files of about
 * PRUNE_INDEX_BLOBS entries. */
struct index_batch {
	struct prune *p;
	struct repo_index_pack *packs;
	size_t n, cap, blobs;
	struct pack_entry *ents;	/* entries of the current pack */
	size_t n_ents, cap_ents;
	uint8_t cur[32];
	uint64_t cur_size;
};

static int batch_flush(struct index_batch *b)
{
	if (b->n == 0)
		return 0;
	uint8_t id[32];
	int e = repo_index_write(b->p->r, b->packs, b->n, id);
	for (size_t i = 0; i < b->n; i++)
		free(b->packs[i].entries);
	b->n = 0;
	b->blobs = 0;
	if (e < 0)
		return e;
	b->p->st->index_files_written++;
	step(b->p);
	return id_list_add(&b->p->written, id);
}

static int entry_off_cmp(const void *a, const void *b)
{
	const struct pack_entry *x = a, *y = b;
	return (x->offset > y->offset) - (x->offset < y->offset);
}

/* Moves the current pack's entries into the batch, in offset order as in
 * the pack. */
static int batch_end_pack(struct index_batch *b)
{
	if (b->n_ents == 0)
		return 0;
	qsort(b->ents, b->n_ents, sizeof(*b->ents), entry_off_cmp);
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct repo_index_pack *v = realloc(b->packs, cap * sizeof(*v));
		if (!v)
			return CAIRN_ENOMEM;
		b->packs = v;
		b->cap = cap;
	}
	struct repo_index_pack *ip = &b->packs[b->n];
	memcpy(ip->id, b->cur, 32);
	ip->size = b->cur_size;
	ip->entries = malloc(b->n_ents * sizeof(*ip->entries));
	if (!ip->entries)
		return CAIRN_ENOMEM;
	memcpy(ip->entries, b->ents, b->n_ents * sizeof(*ip->entries));
	ip->n = b->n_ents;
	b->n++;
	b->blobs += b->n_ents;
	b->n_ents = 0;
	return b->blobs >= PRUNE_INDEX_BLOBS ? batch_flush(b) : 0;
}

static int kept_entry_cb(void *arg, const uint8_t pack_id[32], uint64_t pack_size,
			 const struct pack_entry *en)
{
	struct index_batch *b = arg;
	if (b->n_ents && memcmp(b->cur, pack_id, 32)) {
		int e = batch_end_pack(b);
		if (e < 0)
			return e;
	}
	if (b->n_ents == 0) {
		memcpy(b->cur, pack_id, 32);
		b->cur_size = pack_size;
	}
	if (b->n_ents == b->cap_ents) {
		size_t cap = b->cap_ents ? b->cap_ents * 2 : 256;
		struct pack_entry *v = realloc(b->ents, cap * sizeof(*v));
		if (!v)
			return CAIRN_ENOMEM;
		b->ents = v;
		b->cap_ents = cap;
	}
	b->ents[b->n_ents++] = *en;
	return 0;
}

/* Deletes the queued objects in one backend call (one fsync per folder
 * locally, one request per 1000 on S3). With the kill hook set, objects go
 * one at a time so that every kill point is a different state.
 * Index files are deleted durably, before any pack. Pack deletions need not
 * be durable (del_lazy): no index file names those packs any more, so one
 * that comes back after a crash is unreferenced and the next prune deletes
 * it; locally that saves an fsync per data/ folder. */
static int del_flush(struct prune *p)
{
	const char *names[PRUNE_DEL_BATCH];
	for (size_t i = 0; i < p->n_del; i++)
		names[i] = p->del[i];
	int e = backend_del_many_flags(repo_backend(p->r), names, p->n_del,
				       p->del_lazy ? BACKEND_DEL_LAZY : 0);
	for (size_t i = 0; e == 0 && i < p->n_del; i++)
		step(p);
	p->n_del = 0;
	return e;
}

static int del_queue(struct prune *p, const char *name)
{
	if (!p->del) {
		p->cap_del = p->kill_at > 0 ? 1 : PRUNE_DEL_BATCH;
		if (!(p->del = malloc(p->cap_del * sizeof(*p->del))))
			return CAIRN_ENOMEM;
	}
	snprintf(p->del[p->n_del++], sizeof(p->del[0]), "%s", name);
	return p->n_del == p->cap_del ? del_flush(p) : 0;
}

static int del_index_file(struct prune *p, const uint8_t id[32])
{
	char name[96];
	repo_file_name(REPO_FILE_INDEX, id, name, sizeof(name));
	p->st->index_files_removed++;
	int e = id_list_add(&p->removed, id);
	return e < 0 ? e : del_queue(p, name);
}

static int old_index_cb(void *arg, const uint8_t id[32])
{
	struct prune *p = arg;
	if (id_list_has(&p->written, id))
		return 0;
	return del_index_file(p, id);
}

static int del_pack(struct prune *p, const uint8_t id[32])
{
	char name[96];
	pack_name(id, name, sizeof(name));
	return del_queue(p, name);
}

static int dropped_pack_cb(void *arg, const uint8_t id[32], uint64_t size)
{
	(void)size;
	return del_pack(arg, id);
}

/* Reading the old index files: which name a dropped pack, and the other
 * packs of those that do. */
struct affected_scan {
	struct prune *p;
	struct index_batch *b;
	int hit;
};

static int affected_pack_cb(void *arg, const uint8_t pack_id[32], uint64_t pack_size,
			    const struct pack_entry *en, size_t n)
{
	struct affected_scan *a = arg;
	(void)pack_size;
	(void)en;
	(void)n;
	int d = index_pack_dropped(a->p->ix, pack_id);
	if (d > 0)
		a->hit = 1;
	return d < 0 ? d : 0;
}

static int survivor_pack_cb(void *arg, const uint8_t pack_id[32], uint64_t pack_size,
			    const struct pack_entry *en, size_t n)
{
	struct affected_scan *a = arg;
	int d = index_pack_dropped(a->p->ix, pack_id);
	if (d != 0)
		return d < 0 ? d : 0;
	for (size_t i = 0; i < n; i++) {
		int e = kept_entry_cb(a->b, pack_id, pack_size, &en[i]);
		if (e < 0)
			return e;
	}
	return batch_end_pack(a->b);
}

static int list_index_cb(void *arg, const uint8_t id[32])
{
	return id_list_add(arg, id);
}

/* Writes the packs that stay of every index file naming a dropped pack
 * into new index files and lists those old files in p->affected. *ret_full
 * is set when an index file cannot be read: the caller then writes the
 * whole index from the cache instead. */
static int rewrite_affected(struct prune *p, struct index_batch *b, int *ret_full)
{
	struct id_list files = { 0 };
	struct buf plain = BUF_INIT;
	/* listed first: the new files go into the same folder */
	int e = repo_file_list(p->r, REPO_FILE_INDEX, list_index_cb, &files);
	for (size_t i = 0; e == 0 && i < files.n; i++) {
		if (id_list_has(&p->written, files.v[i]))
			continue;
		struct affected_scan a = { .p = p, .b = b };
		buf_reset(&plain);
		e = repo_file_load(p->r, REPO_FILE_INDEX, files.v[i], &plain);
		if (e == 0)
			e = indexfile_decode(plain.data, plain.len, affected_pack_cb, &a);
		if (e == CAIRN_ECORRUPT || e == CAIRN_ENOTFOUND) {
			/* what was batched would be written again: start over */
			for (size_t j = 0; j < b->n; j++)
				free(b->packs[j].entries);
			b->n = b->blobs = b->n_ents = 0;
			p->affected.n = 0;
			*ret_full = 1;
			e = 0;
			break;
		}
		if (e == 0 && a.hit) {
			e = indexfile_decode(plain.data, plain.len, survivor_pack_cb, &a);
			if (e == 0)
				e = id_list_add(&p->affected, files.v[i]);
		}
	}
	if (e == 0 && !*ret_full)
		e = batch_flush(b);
	id_list_free(&files);
	buf_free(&plain);
	return e;
}

/* Rewrites the index without the dropped packs, then deletes them
 * (DESIGN.md inv. 8: new packs, a complete new index, old index files,
 * packs last). */
static int prune_rewrite(struct prune *p)
{
	struct repo *r = p->r;
	struct index_batch b = { .p = p };
	struct repack_ctx rc = { .p = p };
	double t0 = mono_s(), t1;
	int e = 0;
	/* 1. used blobs of repacked packs go into new packs */
	if (p->st->packs_repacked) {
		struct saver_opts so = { .compression = -1, .no_index_dedup = 1 };
		e = saver_new(r, &so, &rc.sv);
		if (e == 0 && !(rc.sc = saver_ctx_new(rc.sv)))
			e = CAIRN_ENOMEM;
		if (e == 0)
			e = index_foreach_repack_blob(p->ix, repack_blob, &rc);
		if (e == 0)
			e = saver_flush(rc.sv);
		if (e < 0)
			goto out;
		struct saver_stats ss;
		saver_get_stats(rc.sv, &ss);
		p->st->packs_written = ss.packs_added;
		step(p);
		t1 = mono_s();
		log_verbose("prune: repacked %llu packs in %.3f s",
			    (unsigned long long)p->st->packs_repacked, t1 - t0);
		t0 = t1;
	}
	/* 2. a complete new index: the index files that name a dropped pack are
	 * replaced by new ones with their other packs; the rest stay */
	int full = 0;
	e = rewrite_affected(p, &b, &full);
	if (e == 0 && full) {
		/* an index file did not read: rewrite everything from the cache */
		log_verbose("prune: rewriting the whole index");
		e = index_foreach_kept_entry(p->ix, kept_entry_cb, &b);
		if (e == 0)
			e = batch_end_pack(&b);
		if (e == 0)
			e = batch_flush(&b);
	}
	if (e < 0)
		goto out;
	t1 = mono_s();
	log_verbose("prune: wrote %llu index files in %.3f s",
		    (unsigned long long)p->st->index_files_written, t1 - t0);
	t0 = t1;
	/* 3. then the old index files go, durably before any pack */
	if (full)
		e = repo_file_list(r, REPO_FILE_INDEX, old_index_cb, p);
	for (size_t i = 0; e == 0 && !full && i < p->affected.n; i++)
		e = del_index_file(p, p->affected.v[i]);
	if (e == 0)
		e = del_flush(p);
	if (e < 0)
		goto out;
	/* 4. and packs last */
	p->del_lazy = 1;
	e = index_foreach_dropped_pack(p->ix, dropped_pack_cb, p);
	if (e == 0)
		e = del_flush(p);
	if (e < 0)
		goto out;
	/* the cache drops the same packs and the same index files */
	e = index_drop_apply(p->ix, (const uint8_t(*)[32])p->written.v, p->written.n,
			     (const uint8_t(*)[32])p->removed.v, p->removed.n);
	log_verbose("prune: deleted old index files and packs in %.3f s", mono_s() - t0);
out:
	saver_ctx_free(rc.sc);
	saver_free(rc.sv);
	buf_free(&rc.sealed);
	for (size_t i = 0; i < b.n; i++)
		free(b.packs[i].entries);
	free(b.packs);
	free(b.ents);
	return e;
}

int prune_run(struct repo *r, const struct prune_opts *o, struct prune_stats *st)
{
	struct prune p = { .r = r, .ix = repo_index(r), .o = o, .st = st };
	const char *k = getenv("CAIRN_TEST_PRUNE_KILL_AT");
	p.kill_at = k ? strtol(k, NULL, 10) : 0;
	memset(st, 0, sizeof(*st));
	p.d = decompressor_new();
	if (!p.d)
		return CAIRN_ENOMEM;
	double t0 = mono_s(), t1;
	int e = index_used_reset(p.ix);
	if (e == 0)
		e = index_begin(p.ix);
	if (e == 0) {
		e = repo_file_list(r, REPO_FILE_SNAPSHOT, mark_snapshot, &p);
		/* Dictionaries stay: a blob that any snapshot keeps may have been
		 * compressed with one, and they are small (at most 112 KiB). */
		if (e == 0)
			e = index_used_mark_type(p.ix, BLOB_DICT);
		if (e == 0)
			e = mark_flush(&p);
		if (e == 0)
			e = index_commit(p.ix);
		else
			index_rollback(p.ix);
	}
	free(p.batch);
	p.batch = NULL;
	t1 = mono_s();
	log_verbose("prune: marked %llu snapshots in %.3f s", (unsigned long long)st->snapshots,
		    t1 - t0);
	t0 = t1;
	if (e == 0)
		e = index_used_finish(p.ix, &st->blobs_used, &st->blobs_missing);
	if (e < 0)
		goto out;
	t1 = mono_s();
	log_verbose("prune: keepers of %llu used blobs in %.3f s",
		    (unsigned long long)st->blobs_used, t1 - t0);
	t0 = t1;
	if (st->blobs_missing) {
		log_error("%llu blobs that snapshots need are missing from the index; prune "
			  "stopped without deleting anything. Run 'cairn check' and 'cairn repair'",
			  (unsigned long long)st->blobs_missing);
		e = CAIRN_ECORRUPT;
		goto out;
	}
	e = index_foreach_pack_usage(p.ix, usage_cb, &p);
	if (e == 0)
		e = backend_list(repo_backend(r), "data/", orphan_cb, &p);
	if (e < 0 || o->dry_run)
		goto out;
	t1 = mono_s();
	log_verbose("prune: usage of %llu packs and %llu left over in %.3f s",
		    (unsigned long long)st->packs, (unsigned long long)st->packs_orphaned, t1 - t0);
	if (p.dropped == 0 && p.orphans.n == 0) {
		log_verbose("nothing to prune");
		goto out;
	}
	/* Packs no index file names need no new index: they go at once. */
	if (p.dropped)
		e = prune_rewrite(&p);
	p.del_lazy = 1;
	for (size_t i = 0; e == 0 && i < p.orphans.n; i++)
		e = del_pack(&p, p.orphans.v[i]);
	if (e == 0)
		e = del_flush(&p);
out:
	free(p.del);
	index_used_drop(p.ix);
	id_list_free(&p.orphans);
	id_list_free(&p.written);
	id_list_free(&p.removed);
	id_list_free(&p.affected);
	free(p.batch);
	buf_free(&p.blob);
	decompressor_free(p.d);
	return e;
}
