/*
 * repair_packs.c - `repair packs`: salvaging the intact blobs of damaged
 * packs (see repair.h).
 *
 * Order (DESIGN.md inv. 4 and 8): salvaged blobs are stored and indexed
 * first; then index files are rewritten without the damaged packs (each
 * new file stored before its old one is removed); damaged pack objects are
 * removed last, and only when nothing of them is lost. An interruption
 * leaves duplicates, never less than before.
 *
 * Memory: one pack (read whole) and one index file at a time; the index
 * entries of every index file go to the checker's scratch database.
 */
#include "cairn/common.h"
#include "cairn/repair.h"
#include "cairn/checkdb.h"
#include "cairn/checker.h"
#include "cairn/compress.h"
#include "cairn/index.h"
#include "cairn/indexfile.h"
#include "cairn/log.h"
#include "cairn/repo.h"
#include "cairn/saver.h"

struct target {
	struct checkdb_pack p;
	struct repair_pack_report rep;
};

/* Resolves the ids given by the user to packs, flagged TARGET. */
static int resolve(struct checkdb *db, const char *const *ids, size_t n, struct target *t,
		   size_t *ret_nt)
{
	*ret_nt = 0;
	for (size_t i = 0; i < n; i++) {
		struct checkdb_pack found[2];
		size_t nf;
		char low[65];
		size_t len = strlen(ids[i]);
		for (size_t k = 0; k <= len && k < sizeof(low); k++)
			low[k] = (char)((ids[i][k] >= 'A' && ids[i][k] <= 'F') ? ids[i][k] + 32
									      : ids[i][k]);
		low[sizeof(low) - 1] = 0;
		int e = checkdb_pack_find_prefix(db, low, found, 2, &nf);
		if (e == CAIRN_EINVAL || (e == 0 && nf == 0)) {
			log_error("no pack %s in the repository or its index; 'cairn check' names "
				  "the damaged packs", ids[i]);
			return CAIRN_ENOTFOUND;
		}
		if (e < 0)
			return e;
		if (nf > 1) {
			log_error("pack id prefix %s is ambiguous; give more digits", ids[i]);
			return CAIRN_EAMBIGUOUS;
		}
		int dup = 0;
		for (size_t k = 0; k < *ret_nt; k++)
			dup |= t[k].p.pid == found[0].pid;
		if (dup)
			continue;
		struct target *x = &t[(*ret_nt)++];
		x->p = found[0];
		memcpy(x->rep.id, found[0].id, 32);
		x->rep.found = (found[0].flags & CHECKDB_PACK_FOUND) != 0;
		e = checkdb_pack_set_flags(db, found[0].pid, CHECKDB_PACK_TARGET);
		if (e < 0)
			return e;
	}
	return 0;
}

/* Reads one pack and stores every blob of it that still decodes. */
static int salvage(struct repo *r, struct checkdb *db, struct saver *sv, struct saver_ctx *sc,
		   struct decompressor *d, struct target *t)
{
	struct buf data = BUF_INIT, plain = BUF_INIT;
	struct pack_entry *ents = NULL;
	size_t n = 0, need;
	char name[96];
	int e = 0;
	pack_name(t->p.id, name, sizeof(name));
	if (t->rep.found) {
		e = backend_get(repo_backend(r), name, 0, 0, &data);
		if (e == CAIRN_ENOTFOUND) {
			t->rep.found = 0;
			e = 0;
		} else if (e == CAIRN_EIO || e == CAIRN_ECORRUPT) {
			log_warn("%s can't be read (%s): nothing of it is salvaged", name,
				 cairn_strerror(e));
			buf_free(&data);
			e = 0;
		}
		if (e < 0)
			goto out;
	}
	if (data.len && pack_header_decode(repo_keys(r), data.data, data.len, data.len, &need,
					   &ents, &n) == 0)
		t->rep.header_ok = 1;
	else if ((e = checkdb_pack_entries(db, t->p.pid, &ents, &n)) < 0)
		goto out;
	t->rep.blobs = n;
	for (size_t i = 0; i < n; i++) {
		const struct pack_entry *x = &ents[i];
		int ok = data.len && x->offset <= data.len && x->length <= data.len - x->offset &&
			 repo_blob_decode(r, d, x->type, x->id, data.data + x->offset, x->length,
					  x->raw_length, &plain) == 0;
		if (ok) {
			e = saver_save(sv, sc, x->type, plain.data, plain.len, x->id, NULL);
			if (e < 0)
				goto out;
			t->rep.salvaged++;
			continue;
		}
		e = checkdb_blob_elsewhere(db, x->type, x->id);
		if (e < 0)
			goto out;
		if (e == 1) {
			t->rep.elsewhere++;
		} else {
			char hex[65];
			hex_encode(x->id, 32, hex);
			log_warn("%s blob %s of pack %s is lost: it is damaged and no other pack "
				 "holds it",
				 blob_type_name(x->type), hex, name);
			t->rep.lost++;
		}
		e = 0;
	}
out:
	free(ents);
	buf_free(&data);
	buf_free(&plain);
	return e;
}

struct rewrite {
	const struct target *t;
	size_t nt;
	size_t keep;		/* packs kept (first pass) */
	struct buf *out;	/* second pass */
};

static int is_target(const struct rewrite *rw, const uint8_t id[32])
{
	for (size_t i = 0; i < rw->nt; i++)
		if (memcmp(rw->t[i].p.id, id, 32) == 0)
			return 1;
	return 0;
}

static int count_cb(void *arg, const uint8_t pack_id[32], uint64_t size,
		    const struct pack_entry *e, size_t n)
{
	struct rewrite *rw = arg;
	(void)size, (void)e, (void)n;
	rw->keep += !is_target(rw, pack_id);
	return 0;
}

static int copy_cb(void *arg, const uint8_t pack_id[32], uint64_t size,
		   const struct pack_entry *e, size_t n)
{
	struct rewrite *rw = arg;
	if (!is_target(rw, pack_id))
		indexfile_add_pack(rw->out, pack_id, size, e, n);
	return 0;
}

/* Replaces an index file by one without the target packs. */
static int rewrite_index_file(struct repo *r, const uint8_t id[32], struct rewrite *rw,
			      struct repair_packs_result *res)
{
	struct buf plain = BUF_INIT, out = BUF_INIT;
	char name[96];
	uint8_t new_id[32];
	repo_file_name(REPO_FILE_INDEX, id, name, sizeof(name));
	int e = repo_file_load(r, REPO_FILE_INDEX, id, &plain);
	if (e == CAIRN_ENOTFOUND) {
		e = 0;
		goto out;
	}
	if (e < 0)
		goto out;
	rw->keep = 0;
	e = indexfile_decode(plain.data, plain.len, count_cb, rw);
	if (e < 0)
		goto out;
	if (rw->keep) {
		indexfile_begin(&out, rw->keep);
		rw->out = &out;
		e = indexfile_decode(plain.data, plain.len, copy_cb, rw);
		if (e == 0)
			e = buf_ok(&out);
		if (e == 0)
			e = repo_file_save(r, REPO_FILE_INDEX, out.data, out.len, new_id);
		if (e < 0)
			goto out;
		res->index_files_written++;
	}
	e = backend_del(repo_backend(r), name);
	if (e == CAIRN_ENOTFOUND)
		e = 0;
	if (e == 0)
		res->index_files_removed++;
out:
	buf_free(&plain);
	buf_free(&out);
	return e;
}

/* Every index file listing a target, rewritten once. */
static int rewrite_index(struct repo *r, struct checkdb *db, struct target *t, size_t nt,
			 struct repair_packs_result *res)
{
	struct rewrite rw = { .t = t, .nt = nt };
	uint8_t (*done)[32] = NULL;
	size_t n_done = 0;
	int e = 0;
	for (size_t i = 0; i < nt && e == 0; i++) {
		uint8_t (*files)[32] = NULL;
		size_t nf = 0;
		e = checkdb_pack_index_files(db, t[i].p.pid, &files, &nf);
		for (size_t k = 0; k < nf && e == 0; k++) {
			int seen = 0;
			for (size_t m = 0; m < n_done && !seen; m++)
				seen = memcmp(done[m], files[k], 32) == 0;
			if (seen)
				continue;
			void *p = realloc(done, (n_done + 1) * 32);
			if (!p) {
				e = CAIRN_ENOMEM;
				break;
			}
			done = p;
			memcpy(done[n_done++], files[k], 32);
			e = rewrite_index_file(r, files[k], &rw, res);
		}
		free(files);
	}
	free(done);
	return e;
}

int repair_packs(struct repo *r, const char *const *ids, size_t n, repair_pack_fn fn, void *arg,
		 struct repair_packs_result *ret)
{
	struct checker_opts co = { .index_only = 1 };
	struct checker *ch = NULL;
	struct saver *sv = NULL;
	struct saver_ctx *sc = NULL;
	struct decompressor *d = decompressor_new();
	struct target *t = calloc(n ? n : 1, sizeof(*t));
	memset(ret, 0, sizeof(*ret));
	int e = d && t ? 0 : CAIRN_ENOMEM;
	if (e == 0)
		e = checker_new(r, &co, &ch);
	if (e == 0)
		e = checker_run(ch);
	size_t nt = 0;
	if (e == 0)
		e = resolve(checker_db(ch), ids, n, t, &nt);
	n = nt;
	/* The cache must not know the damaged copies, or the saver would
	 * take the salvaged blobs for stored already. */
	int forgot = 0;
	for (size_t i = 0; i < n && e == 0; i++) {
		forgot = 1;
		e = index_forget_pack(repo_index(r), t[i].p.id);
	}
	if (e == 0) {
		struct saver_opts so = { .compression = -1 };
		e = saver_new(r, &so, &sv);
	}
	if (e == 0 && !(sc = saver_ctx_new(sv)))
		e = CAIRN_ENOMEM;
	for (size_t i = 0; i < n && e == 0; i++)
		e = salvage(r, checker_db(ch), sv, sc, d, &t[i]);
	if (e == 0)
		e = saver_flush(sv);
	if (e == 0)
		e = rewrite_index(r, checker_db(ch), t, n, ret);
	for (size_t i = 0; i < n && e == 0; i++) {
		struct repair_pack_report *p = &t[i].rep;
		ret->packs++;
		ret->salvaged += p->salvaged;
		ret->elsewhere += p->elsewhere;
		ret->lost += p->lost;
		if (p->found && p->lost == 0) {
			char name[96];
			pack_name(p->id, name, sizeof(name));
			e = backend_del(repo_backend(r), name);
			if (e == CAIRN_ENOTFOUND)
				e = 0;
			p->removed = e == 0;
		}
		if (p->removed)
			ret->packs_removed++;
		else if (p->found)
			ret->packs_kept++;
		if (e == 0 && fn)
			fn(arg, p);
	}
	/* the cache still lists the old index files: it is rebuilt */
	if (e == 0) {
		e = repo_index_sync(r);
	} else if (forgot) {
		/* The cache no longer matches the index files: rebuild it from
		 * them, so a failed repair leaves the cache as it found it. */
		if (index_clear(repo_index(r)) == 0)
			repo_index_sync(r);
	}
	saver_ctx_free(sc);
	saver_free(sv);
	checker_free(ch);
	decompressor_free(d);
	free(t);
	return e;
}
