/*
 * pruner.c - prune (see pruner.h).
 */
#include "cairn/common.h"
#include "cairn/pruner.h"
#include "cairn/compress.h"
#include "cairn/idlist.h"
#include "cairn/index.h"
#include "cairn/log.h"
#include "cairn/repo.h"
#include "cairn/restorer.h"
#include "cairn/saver.h"
#include "cairn/snaplist.h"

#include <signal.h>

#define PRUNE_INDEX_BLOBS 100000

struct id_list {
	uint8_t (*v)[32];
	uint64_t *size;
	size_t n, cap;
};

static int id_list_add(struct id_list *l, const uint8_t id[32], uint64_t size)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		void *a = realloc(l->v, cap * 32);
		if (!a)
			return CAIRN_ENOMEM;
		l->v = a;
		void *b = realloc(l->size, cap * sizeof(uint64_t));
		if (!b)
			return CAIRN_ENOMEM;
		l->size = b;
		l->cap = cap;
	}
	memcpy(l->v[l->n], id, 32);
	l->size[l->n++] = size;
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
	free(l->size);
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
	struct id_list del, repack, written;
};

/* Test hook: CAIRN_TEST_PRUNE_KILL_AT=N kills the process at the N-th step. */
static void step(struct prune *p)
{
	if (p->kill_at > 0 && ++p->events == p->kill_at)
		raise(SIGKILL);
}

static int mark_content(struct prune *p, const struct content_ref *refs, size_t n, uint32_t depth)
{
	static const uint8_t zero[32];
	for (size_t i = 0; i < n; i++) {
		if (depth == 0) {
			if (!memcmp(refs[i].id, zero, 32))
				continue;
			int m = index_used_mark(p->ix, BLOB_DATA, refs[i].id);
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
	int e = restorer_load_tree(p->r, id, &t);
	if (e == CAIRN_ENOTFOUND)
		return 0;
	if (e < 0)
		return e;
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
		return id_list_add(&p->del, u->id, u->size);
	}
	if (total && (double)u->unused_bytes / (double)total > p->o->max_unused) {
		p->st->packs_repacked++;
		p->st->bytes_repacked += u->used_bytes;
		p->st->bytes_freed += u->unused_bytes;
		return id_list_add(&p->repack, u->id, u->size);
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
	return id_list_add(&p->del, id, size);
}

struct repack_ctx {
	struct prune *p;
	struct saver *sv;
	struct saver_ctx *sc;
};

static int repack_blob(void *arg, const struct pack_entry *en)
{
	struct repack_ctx *rc = arg;
	int e = repo_blob_load(rc->p->r, rc->p->d, en->type, en->id, &rc->p->blob);
	if (e < 0)
		return e;
	return saver_save(rc->sv, rc->sc, en->type, rc->p->blob.data, rc->p->blob.len, en->id, NULL);
}

/* Collects one kept pack's entries into the index batch. */
struct index_batch {
	struct prune *p;
	struct repo_index_pack *packs;
	size_t n, cap, blobs;
	struct pack_entry *ents;
	size_t n_ents, cap_ents;
};

static int batch_entry(void *arg, const struct pack_entry *en)
{
	struct index_batch *b = arg;
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
	return id_list_add(&b->p->written, id, 0);
}

static int keep_pack_cb(void *arg, const struct index_pack_usage *u)
{
	struct index_batch *b = arg;
	if (id_list_has(&b->p->del, u->id) || id_list_has(&b->p->repack, u->id))
		return 0;
	b->n_ents = 0;
	int e = index_foreach_pack_blob(b->p->ix, u->id, 0, batch_entry, b);
	if (e < 0 || b->n_ents == 0)
		return e;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct repo_index_pack *v = realloc(b->packs, cap * sizeof(*v));
		if (!v)
			return CAIRN_ENOMEM;
		b->packs = v;
		b->cap = cap;
	}
	struct repo_index_pack *ip = &b->packs[b->n];
	memcpy(ip->id, u->id, 32);
	ip->size = u->size;
	ip->entries = malloc(b->n_ents * sizeof(*ip->entries));
	if (!ip->entries)
		return CAIRN_ENOMEM;
	memcpy(ip->entries, b->ents, b->n_ents * sizeof(*ip->entries));
	ip->n = b->n_ents;
	b->n++;
	b->blobs += b->n_ents;
	return b->blobs >= PRUNE_INDEX_BLOBS ? batch_flush(b) : 0;
}

static int old_index_cb(void *arg, const uint8_t id[32])
{
	struct prune *p = arg;
	if (id_list_has(&p->written, id))
		return 0;
	char name[96];
	repo_file_name(REPO_FILE_INDEX, id, name, sizeof(name));
	int e = backend_del(repo_backend(p->r), name);
	if (e < 0 && e != CAIRN_ENOTFOUND)
		return e;
	p->st->index_files_removed++;
	step(p);
	return 0;
}

int prune_run(struct repo *r, const struct prune_opts *o, struct prune_stats *st)
{
	struct prune p = { .r = r, .ix = repo_index(r), .o = o, .st = st };
	struct index_batch b = { .p = &p };
	struct saver *sv = NULL;
	struct saver_ctx *sc = NULL;
	const char *k = getenv("CAIRN_TEST_PRUNE_KILL_AT");
	p.kill_at = k ? strtol(k, NULL, 10) : 0;
	memset(st, 0, sizeof(*st));
	p.d = decompressor_new();
	if (!p.d)
		return CAIRN_ENOMEM;
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
			e = index_commit(p.ix);
		else
			index_rollback(p.ix);
	}
	if (e == 0)
		e = index_used_finish(p.ix, &st->blobs_used, &st->blobs_missing);
	if (e < 0)
		goto out;
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
	if (p.del.n == 0 && p.repack.n == 0) {
		log_verbose("nothing to prune");
		goto out;
	}
	/* 1. used blobs of repacked packs go into new packs */
	if (p.repack.n) {
		struct saver_opts so = { .compression = -1, .no_index_dedup = 1 };
		e = saver_new(r, &so, &sv);
		if (e == 0 && !(sc = saver_ctx_new(sv)))
			e = CAIRN_ENOMEM;
		struct repack_ctx rc = { &p, sv, sc };
		for (size_t i = 0; e == 0 && i < p.repack.n; i++)
			e = index_foreach_pack_blob(p.ix, p.repack.v[i], 1, repack_blob, &rc);
		if (e == 0)
			e = saver_flush(sv);
		if (e < 0)
			goto out;
		struct saver_stats ss;
		saver_get_stats(sv, &ss);
		st->packs_written = ss.packs_added;
		step(&p);
	}
	/* 2. a complete new index: every pack that stays (incl. the new ones) */
	e = index_foreach_pack_usage(p.ix, keep_pack_cb, &b);
	if (e == 0)
		e = batch_flush(&b);
	if (e < 0)
		goto out;
	/* 3. then the old index files go */
	e = repo_file_list(r, REPO_FILE_INDEX, old_index_cb, &p);
	if (e < 0)
		goto out;
	/* 4. and packs last */
	for (size_t i = 0; i < p.del.n + p.repack.n; i++) {
		const uint8_t *id = i < p.del.n ? p.del.v[i] : p.repack.v[i - p.del.n];
		char name[96];
		pack_name(id, name, sizeof(name));
		e = backend_del(repo_backend(r), name);
		if (e < 0 && e != CAIRN_ENOTFOUND)
			goto out;
		e = 0;
		step(&p);
	}
	e = index_clear(p.ix);
	if (e == 0)
		e = repo_index_sync(r);
out:
	index_used_drop(p.ix);
	saver_ctx_free(sc);
	saver_free(sv);
	for (size_t i = 0; i < b.n; i++)
		free(b.packs[i].entries);
	free(b.packs);
	free(b.ents);
	id_list_free(&p.del);
	id_list_free(&p.repack);
	id_list_free(&p.written);
	buf_free(&p.blob);
	decompressor_free(p.d);
	return e;
}
