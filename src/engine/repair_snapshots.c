/*
 * repair_snapshots.c - `repair snapshots`: new snapshots without the lost
 * blobs (see repair.h).
 *
 * Only the trees on the path from a root to damage are rewritten; a tree
 * the checker found clean keeps its id. Rewritten trees are remembered
 * (old id -> new id) so a damaged folder shared by many snapshots is
 * rewritten once: that map holds one entry per damaged tree, which is
 * bounded by the damage (its depth times the number of lost blobs), not by
 * the size of the repository.
 */
#include "cairn/common.h"
#include "cairn/repair.h"
#include "cairn/checkdb.h"
#include "cairn/checker.h"
#include "cairn/idlist.h"
#include "cairn/log.h"
#include "cairn/pack.h"
#include "cairn/repo.h"
#include "cairn/saver.h"

#define NOTE_MAX 3000		/* bytes of damage listed in a note */

struct tree_map {
	uint8_t old[32], new_[32];
};

struct rs {
	struct repo *r;
	struct checker *ch;
	struct saver *sv;
	struct saver_ctx *sc;
	struct tree_map *map;
	size_t n_map, cap_map;
	uint8_t empty_tree[32];
	int have_empty;
};

static int save_list(void *arg, const void *data, size_t len, uint8_t ret_id[32])
{
	struct rs *s = arg;
	return saver_save_blob(s->sv, s->sc, BLOB_LIST, data, len, ret_id);
}

static int add_ref(void *arg, const struct content_ref *ref)
{
	return idlist_writer_add(arg, ref->id, ref->size);
}

/* Cuts a damaged file's content before its first lost chunk. */
static int truncate_file(struct rs *s, struct node *n)
{
	struct idlist_writer *w = idlist_writer_new(save_list, s);
	struct content_ref *refs = NULL;
	uint32_t depth = 0;
	size_t nrefs = 0;
	uint64_t intact = 0;
	if (!w)
		return CAIRN_ENOMEM;
	int e = checker_file_prefix(s->ch, n, add_ref, w, &intact);
	if (e == 0)
		e = idlist_writer_finish(w, &depth, &refs, &nrefs);
	idlist_writer_free(w);
	if (e < 0)
		return e;
	free(n->content);
	n->content = refs;
	n->n_content = nrefs;
	n->content_depth = depth;
	n->size = intact;
	n->flags |= NODE_F_DAMAGED;
	return 0;
}

static int save_tree(struct rs *s, const struct tree *t, uint8_t ret_id[32])
{
	struct buf b = BUF_INIT;
	int e = tree_encode(t, &b);
	if (e == 0)
		e = saver_save_blob(s->sv, s->sc, BLOB_TREE, b.data, b.len, ret_id);
	buf_free(&b);
	return e;
}

static int map_add(struct rs *s, const uint8_t old[32], const uint8_t new_[32])
{
	if (s->n_map == s->cap_map) {
		size_t cap = s->cap_map ? s->cap_map * 2 : 32;
		struct tree_map *m = realloc(s->map, cap * sizeof(*m));
		if (!m)
			return CAIRN_ENOMEM;
		s->map = m;
		s->cap_map = cap;
	}
	memcpy(s->map[s->n_map].old, old, 32);
	memcpy(s->map[s->n_map].new_, new_, 32);
	s->n_map++;
	return 0;
}

/* Writes the repaired version of a tree; clean trees keep their id. */
static int rewrite_tree(struct rs *s, const uint8_t id[32], int depth, uint8_t ret_id[32])
{
	int st = checker_state(s->ch, BLOB_TREE, id);
	if (st < 0)
		return st;
	if (st == CHECKDB_CLEAN || st == CHECKDB_UNKNOWN) {
		memcpy(ret_id, id, 32);
		return 0;
	}
	for (size_t i = 0; i < s->n_map; i++) {
		if (memcmp(s->map[i].old, id, 32) == 0) {
			memcpy(ret_id, s->map[i].new_, 32);
			return 0;
		}
	}
	struct tree t;
	tree_init(&t);
	int e = 0;
	if (st == CHECKDB_DAMAGED && depth < 4096) {
		e = checker_load_tree(s->ch, id, &t);
		if (e == CAIRN_ECORRUPT) {
			tree_free(&t);
			e = 0;
			st = CHECKDB_LOST;
		}
	} else {
		st = CHECKDB_LOST;
	}
	for (size_t i = 0; e == 0 && st == CHECKDB_DAMAGED && i < t.n_nodes; i++) {
		struct node *n = &t.nodes[i];
		if (n->type == NODE_DIR && n->has_subtree) {
			uint8_t sub[32];
			e = rewrite_tree(s, n->subtree, depth + 1, sub);
			memcpy(n->subtree, sub, 32);
		} else if (n->type == NODE_FILE) {
			e = checker_file_damaged(s->ch, n);
			if (e == 1)
				e = truncate_file(s, n);
		}
	}
	if (e == 0) {
		if (st == CHECKDB_LOST && s->have_empty) {
			memcpy(ret_id, s->empty_tree, 32);
		} else {
			/* a lost tree becomes an empty folder (t is empty) */
			e = save_tree(s, &t, ret_id);
			if (e == 0 && st == CHECKDB_LOST) {
				memcpy(s->empty_tree, ret_id, 32);
				s->have_empty = 1;
			}
		}
	}
	if (e == 0)
		e = map_add(s, id, ret_id);
	tree_free(&t);
	return e;
}

struct note_state {
	struct buf *b;
	uint64_t files, dirs, left;
};

/* Lists a snapshot's damaged files and lost folders (bounded). */
static int note_cb(void *arg, const struct checkdb_dfile *f)
{
	struct note_state *ns = arg;
	if (f->is_dir)
		ns->dirs++;
	else
		ns->files++;
	if (ns->b->len > NOTE_MAX) {
		ns->left++;
		return 0;
	}
	if (f->is_dir)
		buf_printf(ns->b, "; folder %s lost, now empty", f->path);
	else
		buf_printf(ns->b, "; %s damaged, truncated to %llu of %llu bytes", f->path,
			   (unsigned long long)f->intact, (unsigned long long)f->size);
	return 0;
}

/* A deep copy of a snapshot (through its encoding). */
static int snapshot_copy(const struct snapshot *src, struct snapshot *dst)
{
	struct buf b = BUF_INIT;
	snapshot_init(dst);
	int e = snapshot_encode(src, &b);
	if (e == 0)
		e = snapshot_decode(b.data, b.len, dst);
	buf_free(&b);
	return e;
}

static int repair_one(struct rs *s, size_t i, int forget, repair_snapshot_fn fn, void *arg,
		      struct repair_snapshots_result *res)
{
	const struct check_snapshot *cs = checker_snapshot(s->ch, i);
	struct snapshot sn;
	struct buf note = BUF_INIT, enc = BUF_INIT;
	struct note_state ns = { .b = &note };
	uint8_t tree[32], new_id[32];
	char old_name[96];
	int e = snapshot_copy(&cs->sn, &sn);
	if (e < 0)
		goto out;
	e = rewrite_tree(s, cs->sn.tree, 0, tree);
	if (e < 0)
		goto out;
	buf_printf(&note, "%s%srepaired by cairn " PACKAGE_VERSION, sn.note ? sn.note : "",
		   sn.note ? "; " : "");
	e = checkdb_dfiles_foreach(checker_db(s->ch), i, note_cb, &ns);
	if (e < 0)
		goto out;
	if (ns.left)
		buf_printf(&note, "; and %llu more", (unsigned long long)ns.left);
	buf_terminate(&note);
	if ((e = buf_ok(&note)) < 0)
		goto out;
	free(sn.note);
	sn.note = strdup((const char *)note.data);
	memcpy(sn.tree, tree, 32);
	e = sn.note ? snapshot_add_tag(&sn, "repaired") : CAIRN_ENOMEM;
	/* packs and index first, then the snapshot (DESIGN.md inv. 4) */
	if (e == 0)
		e = saver_flush(s->sv);
	if (e == 0)
		e = snapshot_encode(&sn, &enc);
	if (e == 0)
		e = repo_file_save(s->r, REPO_FILE_SNAPSHOT, enc.data, enc.len, new_id);
	if (e < 0)
		goto out;
	res->written++;
	res->files_truncated += ns.files;
	res->dirs_emptied += ns.dirs;
	if (fn)
		fn(arg, cs->id, new_id, ns.files, ns.dirs);
	if (forget && memcmp(new_id, cs->id, 32) != 0) {
		repo_file_name(REPO_FILE_SNAPSHOT, cs->id, old_name, sizeof(old_name));
		e = backend_del(repo_backend(s->r), old_name);
		if (e == CAIRN_ENOTFOUND)
			e = 0;
		if (e == 0)
			res->removed++;
		else
			log_error("cannot remove the damaged snapshot %s: %s", old_name,
				  cairn_strerror(e));
	}
out:
	snapshot_clear(&sn);
	buf_free(&note);
	buf_free(&enc);
	return e;
}

int repair_snapshots(struct repo *r, struct checker *ch, int forget, repair_snapshot_fn fn,
		     void *arg, struct repair_snapshots_result *ret)
{
	struct rs s = { .r = r, .ch = ch };
	struct saver_opts so = { .compression = -1 };
	memset(ret, 0, sizeof(*ret));
	int e = saver_new(r, &so, &s.sv);
	if (e < 0)
		return e;
	s.sc = saver_ctx_new(s.sv);
	if (!s.sc) {
		e = CAIRN_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < checker_snapshot_count(ch) && e == 0; i++) {
		const struct check_snapshot *cs = checker_snapshot(ch, i);
		if (!cs->readable) {
			ret->unreadable++;
			if (!forget)
				continue;
			char name[96];
			repo_file_name(REPO_FILE_SNAPSHOT, cs->id, name, sizeof(name));
			e = backend_del(repo_backend(r), name);
			if (e == CAIRN_ENOTFOUND)
				e = 0;
			if (e == 0)
				ret->unreadable_removed++;
			else
				log_error("cannot remove the damaged snapshot %s: %s", name,
					  cairn_strerror(e));
			continue;
		}
		if (cs->state == CHECKDB_CLEAN)
			continue;
		ret->damaged++;
		e = repair_one(&s, i, forget, fn, arg, ret);
	}
	if (e == 0)
		e = saver_flush(s.sv);
out:
	saver_ctx_free(s.sc);
	saver_free(s.sv);
	free(s.map);
	return e;
}
