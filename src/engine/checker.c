/*
 * checker.c - verifying a repository (see checker.h).
 *
 * The main thread owns the scratch database; pack jobs run on an ordered
 * worker pool (opool.h) and hand their findings back with the job, so
 * workers never touch the database. Memory: the jobs in flight (one pack
 * each when reading data, a header otherwise), one tree per folder level
 * of the walk, and one LIST blob per level of a chunk list.
 */
#include "cairn/common.h"
#include "cairn/checker.h"
#include "cairn/checkdb.h"
#include "cairn/compress.h"
#include "cairn/idlist.h"
#include "cairn/indexfile.h"
#include "cairn/log.h"
#include "cairn/opool.h"
#include "cairn/repo.h"
#include "cairn/snaplist.h"
#include "cairn/timeparse.h"

#include <stdarg.h>
#include <unistd.h>

#define CHECK_MAX_DEPTH 4096	/* folder levels, as browse.h */
#define CHECK_TAIL (64u << 10)	/* first tail read of a pack */
#define CHECK_MAX_LOCS 8	/* index entries tried per blob */

struct checker {
	struct repo *r;
	struct checker_opts o;
	struct checkdb *db;
	struct decompressor *d;		/* main thread's */
	struct check_stats st;
	struct check_snapshot *snaps;
	size_t n_snaps;
	struct buf sealed, plain;	/* main thread's scratch */
	uint64_t sidx;			/* snapshot being walked */
	int64_t t_progress;
	struct pump *pump;		/* pack jobs, while they run */
	uint64_t snaps_done;		/* for progress */
	unsigned poll;			/* walk steps since the pump was polled */
	int stale;			/* a pack job made a blob lost: walk again */
};

/* A pack handed to a worker, and what the worker found. */
struct pack_job {
	struct checkdb_pack p;
	int full;			/* read all of it */
	struct pack_entry *idx;		/* index entries (from the database) */
	size_t n_idx;
	int *idx_reason;		/* result per index entry */
	struct pack_entry *hdr;		/* header entries (result) */
	size_t n_hdr;
	int header_bad, hash_bad, missing, io_err;
	uint64_t got;			/* bytes read */
	uint64_t stored;		/* bytes the object has (full reads) */
};

struct worker {
	struct checker *ch;
	struct decompressor *d;
	struct buf data, out;
};

/* The pack jobs: the packs table is read in batches (pid order) and fed to
 * the pool while the main thread walks the snapshots, polling the pump
 * between steps, so reading packs and walking trees overlap. */
struct pump {
	struct opool *pool;
	struct worker *w;
	void **ctxs;
	unsigned nt;
	struct checkdb_pack batch[64];
	size_t nb, ib;
	int64_t after;
	int listed;			/* every pack was submitted */
	uint64_t done, total;
};

static void pump_free(struct pump *pu);

static void progress(struct checker *ch, const char *phase, uint64_t done, uint64_t total,
		     int force)
{
	if (!ch->o.progress)
		return;
	int64_t now = time_now_ns();
	if (!force && now - ch->t_progress < 200000000)
		return;
	ch->t_progress = now;
	struct check_progress p = { phase, done, total, ch->st.bytes_read, 0, 0, 0, 0 };
	if (ch->pump) {
		p.packs_done = ch->pump->done;
		p.packs_total = ch->pump->total;
	}
	p.snapshots_done = ch->snaps_done;
	p.snapshots_total = ch->n_snaps;
	ch->o.progress(ch->o.progress_arg, &p);
}

/* Records a finding and counts it. */
static int problem(struct checker *ch, int sev, const char *kind, const char *object,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int problem(struct checker *ch, int sev, const char *kind, const char *object,
		   const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sev == CHECK_ERROR)
		ch->st.errors++;
	else if (sev == CHECK_WARNING)
		ch->st.warnings++;
	else
		ch->st.notes++;
	return checkdb_problem_add(ch->db, sev, kind, object, msg);
}

int checker_new(struct repo *r, const struct checker_opts *o, struct checker **ret)
{
	struct checker *ch = calloc(1, sizeof(*ch));
	if (!ch)
		return CAIRN_ENOMEM;
	ch->r = r;
	if (o)
		ch->o = *o;
	ch->d = decompressor_new();
	int e = ch->d ? 0 : CAIRN_ENOMEM;
	if (e == 0 && !repo_cache_path(r)) {
		log_error("check needs the local cache folder; it was not opened");
		e = CAIRN_EINVAL;
	}
	if (e == 0)
		e = checkdb_open(repo_cache_path(r), &ch->db);
	if (e < 0) {
		checker_free(ch);
		return e;
	}
	*ret = ch;
	return 0;
}

void checker_free(struct checker *ch)
{
	if (!ch)
		return;
	pump_free(ch->pump);
	for (size_t i = 0; i < ch->n_snaps; i++)
		snapshot_clear(&ch->snaps[i].sn);
	free(ch->snaps);
	checkdb_free(ch->db);
	decompressor_free(ch->d);
	buf_free(&ch->sealed);
	buf_free(&ch->plain);
	free(ch);
}

void checker_get_stats(const struct checker *ch, struct check_stats *ret)
{
	*ret = ch->st;
}

struct checkdb *checker_db(struct checker *ch)
{
	return ch->db;
}

size_t checker_snapshot_count(const struct checker *ch)
{
	return ch->n_snaps;
}

const struct check_snapshot *checker_snapshot(const struct checker *ch, size_t i)
{
	return i < ch->n_snaps ? &ch->snaps[i] : NULL;
}

/* ---- phase 1: packs in storage, index files ---- */

static int list_pack_cb(void *arg, const char *name, uint64_t size)
{
	struct checker *ch = arg;
	uint8_t id[32];
	/* data/xx/<64 hex>, xx being the id's first two digits */
	if (strlen(name) != 8 + 64 || hex_decode(name + 8, id, 32) < 0 ||
	    strncmp(name + 5, name + 8, 2) != 0 || name[7] != '/')
		return problem(ch, CHECK_WARNING, "unexpected-object", name,
			       "this object is not a pack of this format; cairn ignores it");
	return checkdb_pack_found(ch->db, id, size);
}

struct id_list {
	uint8_t (*v)[32];
	size_t n, cap;
};

static int id_list_add(void *arg, const uint8_t id[32])
{
	struct id_list *l = arg;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		void *p = realloc(l->v, cap * 32);
		if (!p)
			return CAIRN_ENOMEM;
		l->v = p;
		l->cap = cap;
	}
	memcpy(l->v[l->n++], id, 32);
	return 0;
}

/* indexfile_decode callback that only validates. */
static int index_noop_cb(void *arg, const uint8_t pack_id[32], uint64_t size,
			 const struct pack_entry *e, size_t n)
{
	(void)arg, (void)pack_id, (void)size, (void)e, (void)n;
	return 0;
}

struct index_add {
	struct checker *ch;
	int64_t fid;
};

static int index_add_cb(void *arg, const uint8_t pack_id[32], uint64_t size,
			const struct pack_entry *e, size_t n)
{
	struct index_add *ia = arg;
	return checkdb_add_index_pack(ia->ch->db, ia->fid, pack_id, size, e, n);
}

static int load_index_files(struct checker *ch)
{
	struct id_list files = { 0 };
	struct buf plain = BUF_INIT;
	int e = repo_file_list(ch->r, REPO_FILE_INDEX, id_list_add, &files);
	for (size_t i = 0; e == 0 && i < files.n; i++) {
		char name[96];
		repo_file_name(REPO_FILE_INDEX, files.v[i], name, sizeof(name));
		progress(ch, "index", i, files.n, 0);
		ch->st.index_files++;
		e = repo_file_load(ch->r, REPO_FILE_INDEX, files.v[i], &plain);
		if (e == 0) {
			/* Decoded twice: a malformed file adds nothing. */
			e = indexfile_decode(plain.data, plain.len, index_noop_cb, NULL);
			if (e == 0) {
				struct index_add ia = { ch, 0 };
				e = checkdb_add_index_file(ch->db, files.v[i], &ia.fid);
				if (e == 0)
					e = indexfile_decode(plain.data, plain.len, index_add_cb, &ia);
				continue;
			}
		}
		if (e == CAIRN_ENOTFOUND) {	/* removed since the listing */
			ch->st.index_files--;
			e = 0;
		} else if (e == CAIRN_ECORRUPT || e == CAIRN_EIO) {
			ch->st.index_files_bad++;
			e = problem(ch, CHECK_ERROR, "index-damaged", name,
				    "the index file %s; the blobs it lists are unindexed until "
				    "'cairn repair index' rebuilds the index from the packs",
				    e == CAIRN_EIO ? "can't be read" : "is damaged or malformed");
		}
	}
	free(files.v);
	buf_free(&plain);
	return e;
}

/* ---- phases 2 and 3: packs ---- */

static int entry_cmp(const void *x, const void *y)
{
	const struct pack_entry *a = x, *b = y;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	return memcmp(a->id, b->id, 32);
}

/* Reads a pack's header from its tail, quietly (damage is a finding). */
static int read_header(struct worker *w, struct pack_job *j)
{
	struct backend *be = repo_backend(w->ch->r);
	char name[96];
	size_t need = 0;
	pack_name(j->p.id, name, sizeof(name));
	size_t want = (size_t)CAIRN_MIN(j->p.size, (uint64_t)CHECK_TAIL);
	buf_reset(&w->data);
	int e = backend_get(be, name, j->p.size - want, want, &w->data);
	if (e < 0)
		return e;
	j->got += w->data.len;
	e = pack_header_decode(repo_keys(w->ch->r), w->data.data, w->data.len, j->p.size, &need,
			       &j->hdr, &j->n_hdr);
	if (e == CAIRN_EINVAL && need > want && need <= j->p.size) {
		buf_reset(&w->data);
		e = backend_get(be, name, j->p.size - need, need, &w->data);
		if (e < 0)
			return e;
		j->got += w->data.len;
		e = pack_header_decode(repo_keys(w->ch->r), w->data.data, w->data.len, j->p.size,
				       &need, &j->hdr, &j->n_hdr);
	}
	if (e == CAIRN_EINVAL || e == CAIRN_ECORRUPT) {
		j->header_bad = 1;
		e = 0;
	}
	return e;
}

/* Worker: a pack's header, or (full) all of it. */
static int pack_job_run(void *ctx, void *item)
{
	struct worker *w = ctx;
	struct pack_job *j = item;
	struct repo *r = w->ch->r;
	int e;
	if (j->n_idx) {
		j->idx_reason = calloc(j->n_idx, sizeof(*j->idx_reason));
		if (!j->idx_reason)
			return CAIRN_ENOMEM;
	}
	if (!j->full) {
		e = read_header(w, j);
	} else {
		char name[96];
		uint8_t hash[32];
		size_t need;
		pack_name(j->p.id, name, sizeof(name));
		buf_reset(&w->data);
		e = backend_get(repo_backend(r), name, 0, 0, &w->data);
		if (e == 0) {
			j->got = j->stored = w->data.len;
			crypto_plain_hash(w->data.data, w->data.len, hash);
			j->hash_bad = memcmp(hash, j->p.id, 32) != 0;
			int he = pack_header_decode(repo_keys(r), w->data.data, w->data.len,
						    w->data.len, &need, &j->hdr, &j->n_hdr);
			j->header_bad = he < 0;
			if (he == CAIRN_ENOMEM)
				e = he;
		}
	}
	if (e == CAIRN_ENOTFOUND) {
		j->missing = 1;
		return 0;
	}
	if (e == CAIRN_EIO || e == CAIRN_ECORRUPT) {
		j->io_err = e;
		return 0;
	}
	if (e < 0)
		return e;
	if (j->hdr && j->n_hdr > 1)
		qsort(j->hdr, j->n_hdr, sizeof(*j->hdr), entry_cmp);
	uint64_t size = j->full ? j->stored : j->p.size;
	for (size_t i = 0; i < j->n_idx; i++) {
		const struct pack_entry *x = &j->idx[i];
		if (x->offset > size || x->length > size - x->offset) {
			j->idx_reason[i] = CHECKDB_LOST_PAST_END;
			continue;
		}
		if (j->full) {
			if (repo_blob_decode(r, w->d, x->type, x->id, w->data.data + x->offset,
					     x->length, x->raw_length, &w->out) < 0)
				j->idx_reason[i] = CHECKDB_LOST_DAMAGED;
			continue;
		}
		if (j->header_bad)
			continue;	/* can't tell without reading */
		const struct pack_entry *h =
			j->n_hdr ? bsearch(x, j->hdr, j->n_hdr, sizeof(*j->hdr), entry_cmp) : NULL;
		if (!h || h->offset != x->offset || h->length != x->length ||
		    h->raw_length != x->raw_length)
			j->idx_reason[i] = CHECKDB_LOST_NOT_IN_HEADER;
	}
	buf_reset(&w->out);
	return 0;
}

static void pack_job_free(struct pack_job *j)
{
	if (!j)
		return;
	free(j->idx);
	free(j->idx_reason);
	free(j->hdr);
	free(j);
}

/* Records what a worker found in a pack. */
static int pack_job_done(struct checker *ch, struct pack_job *j)
{
	char name[96];
	int e = 0;
	int indexed = (j->p.flags & CHECKDB_PACK_INDEXED) != 0;
	pack_name(j->p.id, name, sizeof(name));
	ch->st.bytes_read += j->got;
	if (j->missing) {
		/* gone since the listing */
		if (indexed) {
			ch->st.packs_missing++;
			e = checkdb_pack_set_flags(ch->db, j->p.pid, CHECKDB_PACK_MISSING);
			if (e == 0)
				e = checkdb_mark_pack(ch->db, j->p.pid, CHECKDB_LOST_PACK_MISSING);
			if (e == 0)
				e = problem(ch, CHECK_ERROR, "pack-missing", name,
					    "the pack disappeared while it was being checked");
		}
		return e;
	}
	if (j->io_err) {
		if (j->full && indexed)
			e = checkdb_mark_pack(ch->db, j->p.pid, CHECKDB_LOST_UNREADABLE);
		if (e == 0)
			e = problem(ch, CHECK_ERROR, "pack-unreadable", name,
				    "the pack could not be read (%s); its blobs were not verified",
				    cairn_strerror(j->io_err));
		return e;
	}
	unsigned flags = 0;
	uint64_t bad = 0, past = 0, decode = 0, nohdr = 0;
	for (size_t i = 0; i < j->n_idx; i++) {
		int rs = j->idx_reason[i];
		if (!rs)
			continue;
		bad++;
		past += rs == CHECKDB_LOST_PAST_END;
		decode += rs == CHECKDB_LOST_DAMAGED;
		nohdr += rs == CHECKDB_LOST_NOT_IN_HEADER;
		e = checkdb_mark_entry(ch->db, j->p.pid, j->idx[i].type, j->idx[i].id, rs);
		if (e == 0 && !ch->stale) {
			/* the walk may have taken this blob for intact already */
			e = checkdb_blob_state(ch->db, j->idx[i].type, j->idx[i].id);
			ch->stale = e > 0;
		}
		if (e < 0)
			return e;
	}
	if (j->full) {
		flags |= CHECKDB_PACK_READ;
		ch->st.packs_read++;
		ch->st.blobs_read += j->n_idx;
		ch->st.blobs_read_bad += decode;
	}
	if (j->hash_bad) {
		flags |= CHECKDB_PACK_HASH_BAD;
		e = problem(ch, indexed ? CHECK_ERROR : CHECK_WARNING, "pack-damaged", name,
			    "the SHA-256 of the pack's bytes is not its name: its content has "
			    "changed%s",
			    indexed ? "" : " (no index file lists it: no snapshot can use it)");
	}
	if (e == 0 && j->header_bad) {
		flags |= CHECKDB_PACK_HEADER_BAD;
		e = problem(ch, indexed ? CHECK_ERROR : CHECK_WARNING, "pack-header-damaged", name,
			    "the pack's header is damaged%s",
			    indexed ? ": 'cairn repair index' could not index it again"
				    : " and no index file lists it: no snapshot can use it");
	}
	if (e == 0 && bad) {
		flags |= CHECKDB_PACK_BLOBS_BAD;
		char what[256];
		snprintf(what, sizeof(what), "%s%s%s",
			 decode ? "do not decrypt or do not match their ids; " : "",
			 past ? "reach past the pack's end; " : "",
			 nohdr ? "are not where the pack's header puts them; " : "");
		what[strlen(what) - 2] = 0;
		e = problem(ch, CHECK_ERROR, "pack-blobs-damaged", name,
			    "%llu of the %llu blobs the index lists in this pack %s",
			    (unsigned long long)bad, (unsigned long long)j->n_idx, what);
	}
	if (e == 0 && (j->hash_bad || j->header_bad || bad) && indexed)
		ch->st.packs_damaged++;
	if (e == 0 && !indexed) {
		ch->st.packs_unindexed++;
		if (!j->header_bad)
			e = checkdb_add_header(ch->db, j->p.pid, j->hdr, j->n_hdr);
		if (e == 0)
			e = problem(ch, CHECK_WARNING, "pack-unindexed", name,
				    "no index file lists this pack (%llu blobs): an interrupted "
				    "backup left it, or its index file is lost; 'cairn repair index' "
				    "indexes it, prune removes it",
				    (unsigned long long)j->n_hdr);
	}
	if (e == 0 && flags)
		e = checkdb_pack_set_flags(ch->db, j->p.pid, flags);
	return e;
}

/* 1 when a pack is to be read in full. */
static int pack_selected(const struct checker *ch, const struct checkdb_pack *p)
{
	switch (ch->o.read) {
	case CHECK_READ_NONE: return 0;
	case CHECK_READ_ALL: return 1;
	case CHECK_READ_BUCKET: {
		uint32_t v = (uint32_t)p->id[0] << 24 | (uint32_t)p->id[1] << 16 |
			     (uint32_t)p->id[2] << 8 | p->id[3];
		uint32_t b = v % ch->o.buckets, last = CAIRN_MAX(ch->o.bucket, ch->o.bucket_last);
		return b >= ch->o.bucket - 1 && b <= last - 1;
	}
	case CHECK_READ_PERCENT: return (p->flags & CHECKDB_PACK_SELECTED) != 0;
	}
	return 0;
}

/* The structure of a pack found only in the index, or of any pack's size. */
static int pack_static_checks(struct checker *ch, const struct checkdb_pack *p)
{
	char name[96];
	int e = 0;
	pack_name(p->id, name, sizeof(name));
	if (!(p->flags & CHECKDB_PACK_FOUND)) {
		ch->st.packs_missing++;
		e = checkdb_pack_set_flags(ch->db, p->pid, CHECKDB_PACK_MISSING);
		if (e == 0)
			e = checkdb_mark_pack(ch->db, p->pid, CHECKDB_LOST_PACK_MISSING);
		if (e == 0)
			e = problem(ch, CHECK_ERROR, "pack-missing", name,
				    "the pack is missing: %llu index file(s) list it; 'cairn repair "
				    "packs' removes it from the index",
				    (unsigned long long)p->n_index_files);
		return e;
	}
	ch->st.packs++;
	ch->st.bytes += p->size;
	if (!(p->flags & CHECKDB_PACK_INDEXED))
		return 0;
	if (p->n_index_files > 1)
		e = problem(ch, CHECK_NOTE, "pack-indexed-twice", name,
			    "%llu index files list this pack (harmless)",
			    (unsigned long long)p->n_index_files);
	if (e == 0 && p->indexed_size != p->size) {
		uint64_t past = 0;
		e = checkdb_pack_set_flags(ch->db, p->pid, CHECKDB_PACK_SIZE_BAD);
		if (e == 0 && p->size < p->indexed_size)
			e = checkdb_mark_past_end(ch->db, p->pid, p->size, &past);
		if (e == 0)
			e = problem(ch, CHECK_ERROR, "pack-size", name,
				    "the pack has %llu bytes, the index says %llu%s",
				    (unsigned long long)p->size,
				    (unsigned long long)p->indexed_size,
				    p->size < p->indexed_size ? ": it was truncated" : "");
	}
	return e;
}

static unsigned default_threads(const struct checker *ch)
{
	unsigned par = backend_parallel(repo_backend(ch->r));
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n = ch->o.threads;
	if (!n)
		n = ch->o.read ? (unsigned)(ncpu > 0 ? ncpu : 2) : 2;
	if (!ch->o.threads && par > n)
		n = par;
	return n > 64 ? 64 : n;
}

/* Cheap checks of every pack, before any job: missing packs and size
 * mismatches mark their entries before the walk looks at them. */
static int check_packs_static(struct checker *ch)
{
	struct checkdb_pack batch[64];
	int64_t after = 0;
	uint64_t found = 0;
	size_t n;
	int e;
	while ((e = checkdb_packs_next(ch->db, after, batch, 64, &n)) == 0 && n) {
		for (size_t i = 0; i < n && e == 0; i++) {
			found += (batch[i].flags & CHECKDB_PACK_FOUND) != 0;
			e = pack_static_checks(ch, &batch[i]);
		}
		after = batch[n - 1].pid;
		if (e < 0)
			return e;
	}
	if (e == 0 && ch->o.read == CHECK_READ_PERCENT) {
		double want = (double)found * ch->o.percent / 100.0;
		uint64_t k = (uint64_t)want;
		if ((double)k < want)
			k++;	/* rounded up: a small sample reads at least one pack */
		e = checkdb_select_random(ch->db, k > found ? found : k);
	}
	if (e == 0 && ch->pump)
		ch->pump->total = found;
	return e;
}

static void pump_free(struct pump *pu)
{
	if (!pu)
		return;
	if (pu->pool) {
		void *item;
		int err;
		while (opool_in_flight(pu->pool) > 0 && opool_collect(pu->pool, &item, &err))
			pack_job_free(item);
		opool_free(pu->pool);
	}
	for (unsigned i = 0; pu->w && i < pu->nt; i++) {
		decompressor_free(pu->w[i].d);
		buf_free(&pu->w[i].data);
		buf_free(&pu->w[i].out);
	}
	free(pu->w);
	free(pu->ctxs);
	free(pu);
}

static int pump_new(struct checker *ch)
{
	struct pump *pu = calloc(1, sizeof(*pu));
	if (!pu)
		return CAIRN_ENOMEM;
	pu->nt = default_threads(ch);
	pu->w = calloc(pu->nt, sizeof(*pu->w));
	pu->ctxs = calloc(pu->nt, sizeof(*pu->ctxs));
	int e = pu->w && pu->ctxs ? 0 : CAIRN_ENOMEM;
	for (unsigned i = 0; e == 0 && i < pu->nt; i++) {
		pu->w[i].ch = ch;
		pu->w[i].d = decompressor_new();
		pu->ctxs[i] = &pu->w[i];
		if (!pu->w[i].d)
			e = CAIRN_ENOMEM;
	}
	if (e == 0)
		e = opool_new(pu->nt, 2 * (size_t)pu->nt, pack_job_run, pu->ctxs, &pu->pool);
	if (e < 0) {
		pump_free(pu);
		return e;
	}
	ch->pump = pu;
	return 0;
}

/* The next pack in storage, or NULL when all were taken. */
static const struct checkdb_pack *pump_next_pack(struct checker *ch)
{
	struct pump *pu = ch->pump;
	for (;;) {
		while (pu->ib < pu->nb) {
			const struct checkdb_pack *p = &pu->batch[pu->ib++];
			if (p->flags & CHECKDB_PACK_FOUND)
				return p;
		}
		if (pu->listed)
			return NULL;
		if (checkdb_packs_next(ch->db, pu->after, pu->batch, 64, &pu->nb) < 0 || !pu->nb) {
			pu->listed = 1;
			pu->nb = 0;
			return NULL;
		}
		pu->ib = 0;
		pu->after = pu->batch[pu->nb - 1].pid;
	}
}

/* Takes finished jobs back (waiting for one when wait is set), then
 * hands out packs while the pool has room. */
static int pump_run(struct checker *ch, int wait)
{
	struct pump *pu = ch->pump;
	void *item;
	int err, e = 0;
	while (e == 0 && opool_in_flight(pu->pool) > 0) {
		int got = wait ? opool_collect(pu->pool, &item, &err)
			       : opool_try_collect(pu->pool, &item, &err);
		if (!got)
			break;
		wait = 0;
		e = err < 0 ? err : pack_job_done(ch, item);
		pack_job_free(item);
		pu->done++;
		progress(ch, ch->o.read ? "read" : "packs", pu->done, pu->total, 0);
	}
	while (e == 0 && opool_has_space(pu->pool)) {
		const struct checkdb_pack *p = pump_next_pack(ch);
		if (!p)
			break;
		struct pack_job *j = calloc(1, sizeof(*j));
		if (!j)
			return CAIRN_ENOMEM;
		j->p = *p;
		j->full = pack_selected(ch, p);
		if (p->flags & CHECKDB_PACK_INDEXED)
			e = checkdb_pack_entries(ch->db, p->pid, &j->idx, &j->n_idx);
		if (e < 0) {
			pack_job_free(j);
			return e;
		}
		opool_submit(pu->pool, j);
	}
	return e;
}

/* Runs every remaining pack job to its end. */
static int pump_drain(struct checker *ch)
{
	int e = 0;
	while (e == 0 && (opool_in_flight(ch->pump->pool) > 0 || !ch->pump->listed))
		e = pump_run(ch, opool_in_flight(ch->pump->pool) > 0);
	progress(ch, ch->o.read ? "read" : "packs", ch->pump->done, ch->pump->total, 1);
	return e;
}

/* Called between steps of the walk: keeps the pack workers busy. */
static int pump_poll(struct checker *ch)
{
	if (!ch->pump || ++ch->poll < 32)
		return 0;
	ch->poll = 0;
	return pump_run(ch, 0);
}

/* ---- phase 4: snapshots ---- */

/* Loads a blob from its first usable index entry into ch->plain. Returns
 * 0, a positive enum checkdb_reason when it is lost (bad entries are
 * marked), or a negative error. */
static int load_blob(struct checker *ch, unsigned type, const uint8_t id[32])
{
	struct checkdb_loc locs[CHECK_MAX_LOCS];
	size_t n;
	int e = checkdb_blob_locs(ch->db, type, id, locs, CHECK_MAX_LOCS, &n);
	if (e < 0)
		return e;
	if (n == 0)
		return CHECKDB_LOST_NOT_INDEXED;
	for (size_t i = 0; i < n; i++) {
		char name[96];
		if (locs[i].reason)
			continue;
		pack_name(locs[i].pack_id, name, sizeof(name));
		buf_reset(&ch->sealed);
		e = backend_get(repo_backend(ch->r), name, locs[i].offset, locs[i].length,
				&ch->sealed);
		int reason = 0;
		if (e == CAIRN_ENOTFOUND)
			reason = CHECKDB_LOST_PACK_MISSING;
		else if (e == CAIRN_EIO || e == CAIRN_ECORRUPT)
			reason = CHECKDB_LOST_UNREADABLE;
		else if (e < 0)
			return e;
		if (!reason) {
			ch->st.bytes_read += ch->sealed.len;
			e = repo_blob_decode(ch->r, ch->d, type, id, ch->sealed.data, ch->sealed.len,
					     locs[i].raw_length, &ch->plain);
			if (e == 0)
				return 0;
			if (e != CAIRN_ECORRUPT)
				return e;
			reason = CHECKDB_LOST_DAMAGED;
			char hex[65];
			hex_encode(id, 32, hex);
			e = checkdb_pack_set_flags(ch->db, locs[i].pid, CHECKDB_PACK_BLOBS_BAD);
			if (e == 0)
				e = problem(ch, CHECK_ERROR, "blob-damaged", name,
					    "%s blob %s in this pack does not decrypt or does not "
					    "match its id",
					    blob_type_name(type), hex);
			if (e < 0)
				return e;
		}
		e = checkdb_mark_entry(ch->db, locs[i].pid, type, id, reason);
		if (e < 0)
			return e;
	}
	e = checkdb_blob_state(ch->db, type, id);
	return e == 0 ? CHECKDB_LOST_DAMAGED : e;
}

/* Walks a file's content refs (see checker_file_prefix and file_check). */
struct content_walk {
	struct checker *ch;
	const char *path;	/* NULL: record nothing */
	int use_memo;		/* skip LIST blobs known to be clean */
	int stop;		/* stop at the first lost chunk */
	int (*fn)(void *arg, const struct content_ref *ref);
	void *arg;
	uint64_t off;
	int damaged;		/* in the LIST blob being walked (see walk_list) */
	int any;		/* anywhere in the file so far */
	uint64_t first_damage;	/* file offset of the first lost chunk (any) */
};

static int id_zero(const uint8_t id[32])
{
	uint8_t acc = 0;
	for (int i = 0; i < 32; i++)
		acc |= id[i];
	return acc == 0;
}

/* A lost chunk at cw->off: remembered, recorded when walking a snapshot. */
static int content_lost(struct content_walk *cw, unsigned type, const uint8_t id[32], int reason)
{
	if (!cw->any || cw->off < cw->first_damage)
		cw->first_damage = cw->off;
	cw->damaged = cw->any = 1;
	if (!cw->path)
		return 0;
	return checkdb_damage_add(cw->ch->db, type, id, reason, cw->ch->sidx, cw->path, cw->off);
}

static int walk_refs(struct content_walk *cw, const struct content_ref *refs, size_t n,
		     uint32_t level);

/* One LIST ref whose entries have depth level. */
static int walk_list(struct content_walk *cw, const struct content_ref *ref, uint32_t level)
{
	struct checker *ch = cw->ch;
	struct checkdb_visit v;
	uint64_t start = cw->off;
	int e = checkdb_visit_get(ch->db, BLOB_LIST, ref->id, &v);
	if (e < 0)
		return e;
	int first = e == 0;
	if (e == 1 && v.state == CHECKDB_CLEAN && cw->use_memo) {
		cw->off = start + ref->size;
		return 0;
	}
	int reason = 0;
	struct content_ref *sub = NULL;
	size_t nsub = 0;
	if (e == 1 && v.state == CHECKDB_LOST) {
		reason = v.reason;
	} else {
		e = load_blob(ch, BLOB_LIST, ref->id);
		if (e < 0)
			return e;
		reason = e;
		if (!reason) {
			e = idlist_decode(ch->plain.data, ch->plain.len, &sub, &nsub);
			if (e == CAIRN_ENOMEM)
				return e;
			uint64_t sum = 0;
			for (size_t i = 0; e == 0 && i < nsub; i++) {
				if (sub[i].size > UINT64_MAX - sum)
					e = CAIRN_ECORRUPT;
				sum += sub[i].size;
			}
			if (e < 0 || sum != ref->size)
				reason = CHECKDB_LOST_DAMAGED;
		}
	}
	if (reason) {
		free(sub);
		memset(&v, 0, sizeof(v));
		v.state = CHECKDB_LOST;
		v.reason = reason;
		v.bytes = ref->size;
		e = checkdb_visit_set(ch->db, BLOB_LIST, ref->id, &v);
		if (e == 0)
			e = content_lost(cw, BLOB_LIST, ref->id, reason);
		cw->off = start + ref->size;
		return e;
	}
	int had = cw->damaged;
	cw->damaged = 0;
	e = walk_refs(cw, sub, nsub, level);
	free(sub);
	if (e < 0)
		return e;
	if (first)
		ch->st.lists++;
	memset(&v, 0, sizeof(v));
	v.state = cw->damaged ? CHECKDB_DAMAGED : CHECKDB_CLEAN;
	v.bytes = ref->size;
	cw->damaged |= had;
	cw->off = start + ref->size;
	return checkdb_visit_set(ch->db, BLOB_LIST, ref->id, &v);
}

static int walk_refs(struct content_walk *cw, const struct content_ref *refs, size_t n,
		     uint32_t level)
{
	for (size_t i = 0; i < n; i++) {
		if (cw->stop && cw->any)
			return 0;
		int e = pump_poll(cw->ch);
		if (e < 0)
			return e;
		if (level > 0) {
			e = walk_list(cw, &refs[i], level - 1);
			if (e < 0)
				return e;
			continue;
		}
		if (!id_zero(refs[i].id)) {
			int st = checkdb_blob_state(cw->ch->db, BLOB_DATA, refs[i].id);
			if (st < 0)
				return st;
			if (st) {
				e = content_lost(cw, BLOB_DATA, refs[i].id, st);
				if (e < 0)
					return e;
				cw->off += refs[i].size;
				continue;
			}
		}
		if (cw->fn && (e = cw->fn(cw->arg, &refs[i])) != 0)
			return e;
		cw->off += refs[i].size;
	}
	return 0;
}

/* Walks a file's content; *ret_intact: bytes before the first lost chunk. */
static int file_walk(struct content_walk *cw, const struct node *file, uint64_t *ret_intact)
{
	if (file->content_depth > 16)
		return CAIRN_ECORRUPT;
	int e = walk_refs(cw, file->content, file->n_content, file->content_depth);
	if (ret_intact)
		*ret_intact = CAIRN_MIN(cw->any ? cw->first_damage : cw->off, file->size);
	return e;
}

struct walk_res {
	uint64_t files, bytes, bytes_intact, files_damaged, dirs_lost;
	int damaged;
};

/* Joins a folder path and a name into path (restored by the caller). */
static int path_push(struct buf *path, const char *name, size_t *ret_len)
{
	*ret_len = path->len;
	buf_put_u8(path, '/');
	buf_put(path, name, strlen(name));
	buf_terminate(path);
	return buf_ok(path);
}

static void path_pop(struct buf *path, size_t len)
{
	path->len = len;
	buf_terminate(path);
}

static int walk_tree(struct checker *ch, const uint8_t id[32], struct buf *path, int depth,
		     struct walk_res *res)
{
	struct checkdb_visit v;
	const char *where = path->len ? (const char *)path->data : "/";
	int e = checkdb_visit_get(ch->db, BLOB_TREE, id, &v);
	if (e < 0)
		return e;
	if (e == 1 && v.state == CHECKDB_CLEAN) {
		res->files += v.files;
		res->bytes += v.bytes;
		res->bytes_intact += v.bytes;
		return 0;
	}
	int first = e == 0, reason = 0;
	struct tree t;
	tree_init(&t);
	if (depth > CHECK_MAX_DEPTH) {
		reason = CHECKDB_LOST_DAMAGED;
	} else if (e == 1 && v.state == CHECKDB_LOST) {
		reason = v.reason;
	} else {
		e = load_blob(ch, BLOB_TREE, id);
		if (e < 0)
			return e;
		reason = e;
		if (!reason) {
			e = tree_decode(ch->plain.data, ch->plain.len, &t);
			if (e == CAIRN_ENOMEM)
				return e;
			if (e < 0)
				reason = CHECKDB_LOST_DAMAGED;
		}
	}
	if (reason) {
		memset(&v, 0, sizeof(v));
		v.state = CHECKDB_LOST;
		v.reason = reason;
		e = checkdb_visit_set(ch->db, BLOB_TREE, id, &v);
		if (e == 0)
			e = checkdb_damage_add(ch->db, BLOB_TREE, id, reason, ch->sidx, where, 0);
		if (e == 0)
			e = checkdb_dfile_add(ch->db, ch->sidx, where, 1, 0, 0);
		res->dirs_lost++;
		res->damaged = 1;
		return e;
	}
	if (first)
		ch->st.trees++;
	struct walk_res here = { 0 };
	for (size_t i = 0; i < t.n_nodes && e == 0; i++) {
		const struct node *n = &t.nodes[i];
		size_t keep;
		if ((e = pump_poll(ch)) < 0)
			break;
		if ((n->type != NODE_DIR || !n->has_subtree) && n->type != NODE_FILE)
			continue;
		if ((e = path_push(path, n->name, &keep)) < 0)
			break;
		if (n->type == NODE_DIR) {
			e = walk_tree(ch, n->subtree, path, depth + 1, &here);
		} else {
			struct content_walk cw = { .ch = ch, .path = (const char *)path->data,
						   .use_memo = 1 };
			uint64_t intact;
			e = file_walk(&cw, n, &intact);
			here.files++;
			here.bytes += n->size;
			here.bytes_intact += cw.any ? intact : n->size;
			if (e == 0 && cw.any) {
				here.files_damaged++;
				here.damaged = 1;
				e = checkdb_dfile_add(ch->db, ch->sidx, (const char *)path->data, 0,
						      n->size, intact);
			}
			if (e == CAIRN_ECORRUPT)	/* depth > 16: the node is malformed */
				e = 0;
		}
		path_pop(path, keep);
	}
	tree_free(&t);
	if (e < 0)
		return e;
	memset(&v, 0, sizeof(v));
	v.state = here.damaged ? CHECKDB_DAMAGED : CHECKDB_CLEAN;
	v.files = here.files;
	v.bytes = here.bytes;
	res->files += here.files;
	res->bytes += here.bytes;
	res->bytes_intact += here.bytes_intact;
	res->files_damaged += here.files_damaged;
	res->dirs_lost += here.dirs_lost;
	res->damaged |= here.damaged;
	return checkdb_visit_set(ch->db, BLOB_TREE, id, &v);
}

static int snap_cmp(const void *x, const void *y)
{
	const struct check_snapshot *a = x, *b = y;
	if (a->readable != b->readable)
		return a->readable ? -1 : 1;
	if (a->sn.time_ns != b->sn.time_ns)
		return a->sn.time_ns < b->sn.time_ns ? -1 : 1;
	return memcmp(a->id, b->id, 32);
}

/* Loads every snapshot object (a damaged one is kept, as unreadable). */
static int load_snapshots(struct checker *ch)
{
	struct id_list ids = { 0 };
	int e = repo_file_list(ch->r, REPO_FILE_SNAPSHOT, id_list_add, &ids);
	if (e < 0)
		goto out;
	ch->snaps = calloc(ids.n ? ids.n : 1, sizeof(*ch->snaps));
	if (!ch->snaps) {
		e = CAIRN_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < ids.n; i++) {
		struct check_snapshot *s = &ch->snaps[ch->n_snaps];
		memcpy(s->id, ids.v[i], 32);
		e = snap_load(ch->r, ids.v[i], &s->sn);
		if (e == CAIRN_ENOTFOUND) {	/* forgotten since the listing */
			e = 0;
			continue;
		}
		ch->n_snaps++;
		if (e == CAIRN_ENOMEM)
			goto out;
		s->readable = e == 0;
		if (!s->readable)
			snapshot_init(&s->sn);
		e = 0;
	}
	if (ch->n_snaps > 1)
		qsort(ch->snaps, ch->n_snaps, sizeof(*ch->snaps), snap_cmp);
	ch->st.snapshots = ch->n_snaps;
out:
	free(ids.v);
	return e;
}

/* Walks one snapshot and records what is damaged in it. */
static int walk_snapshot(struct checker *ch, size_t i, struct buf *path)
{
	struct check_snapshot *s = &ch->snaps[i];
	struct walk_res res = { 0 };
	char name[96];
	int e;
	repo_file_name(REPO_FILE_SNAPSHOT, s->id, name, sizeof(name));
	if (!s->readable) {
		ch->st.snapshots_unreadable++;
		s->state = CHECKDB_LOST;
		return problem(ch, CHECK_ERROR, "snapshot-damaged", name,
			       "the snapshot object is damaged and can't be read: nothing of it "
			       "can be restored; 'cairn repair snapshots --forget' removes it");
	}
	ch->sidx = i;
	buf_reset(path);
	buf_terminate(path);
	e = buf_ok(path);
	if (e == 0)
		e = walk_tree(ch, s->sn.tree, path, 0, &res);
	if (e < 0)
		return e;
	s->files = res.files;
	s->bytes = res.bytes;
	s->bytes_intact = res.bytes_intact;
	s->files_damaged = res.files_damaged;
	s->dirs_lost = res.dirs_lost;
	s->state = res.damaged ? CHECKDB_DAMAGED : CHECKDB_CLEAN;
	ch->st.files += res.files;
	if (!res.damaged)
		return 0;
	ch->st.snapshots_damaged++;
	struct checkdb_visit rv;
	e = checkdb_visit_get(ch->db, BLOB_TREE, s->sn.tree, &rv);
	if (e < 0)
		return e;
	if (e == 1 && rv.state == CHECKDB_LOST) {
		s->state = CHECKDB_LOST;
		return problem(ch, CHECK_ERROR, "snapshot-tree-lost", name,
			       "the snapshot's root tree is lost: none of its %llu files can be "
			       "restored",
			       (unsigned long long)s->sn.summary.total_files);
	}
	return problem(ch, CHECK_ERROR, "snapshot-damaged-files", name,
		       "%llu of its %llu files are damaged and %llu folder(s) are lost; "
		       "the other files can be restored",
		       (unsigned long long)res.files_damaged, (unsigned long long)res.files,
		       (unsigned long long)res.dirs_lost);
}

static int walk_snapshots(struct checker *ch)
{
	struct buf path = BUF_INIT;
	int e = 0;
	for (size_t i = 0; i < ch->n_snaps && e == 0; i++) {
		ch->snaps_done = i;
		progress(ch, "snapshots", i, ch->n_snaps, 0);
		e = walk_snapshot(ch, i, &path);
	}
	ch->snaps_done = ch->n_snaps;
	buf_free(&path);
	return e;
}

/* Forgets what the walk found, to walk again. */
static int walk_reset(struct checker *ch)
{
	for (size_t i = 0; i < ch->n_snaps; i++) {
		struct check_snapshot *s = &ch->snaps[i];
		s->state = CHECKDB_UNKNOWN;
		s->files = s->bytes = s->files_damaged = s->dirs_lost = s->bytes_intact = 0;
	}
	ch->st.snapshots_unreadable = ch->st.snapshots_damaged = 0;
	ch->st.trees = ch->st.lists = ch->st.files = 0;
	return checkdb_walk_reset(ch->db);
}

struct lost_count {
	uint64_t n;
	unsigned type;
	uint8_t id[32];
};

static int count_lost_cb(void *arg, const struct checkdb_damage *d)
{
	struct lost_count *lc = arg;
	if (lc->n == 0 || d->type != lc->type || memcmp(d->id, lc->id, 32) != 0) {
		lc->n++;
		lc->type = d->type;
		memcpy(lc->id, d->id, 32);
	}
	return 0;
}

int checker_run(struct checker *ch)
{
	int e = checkdb_begin(ch->db);
	if (e < 0)
		return e;
	progress(ch, "index", 0, 0, 1);
	e = backend_list(repo_backend(ch->r), "data/", list_pack_cb, ch);
	if (e == 0)
		e = load_index_files(ch);
	if (e == 0)
		e = checkdb_index_loaded(ch->db);
	if (e == 0 && !ch->o.index_only) {
		e = pump_new(ch);
		if (e == 0)
			e = check_packs_static(ch);
		if (e == 0)
			e = load_snapshots(ch);
		/* pack jobs run while the snapshots are walked */
		if (e == 0)
			e = pump_run(ch, 0);
		if (e == 0)
			e = walk_snapshots(ch);
		if (e == 0)
			e = pump_drain(ch);
		if (e == 0 && ch->stale) {
			log_verbose("pack checks found lost blobs: walking the snapshots again");
			e = walk_reset(ch);
			if (e == 0)
				e = walk_snapshots(ch);
			progress(ch, "snapshots", ch->n_snaps, ch->n_snaps, 1);
		}
		pump_free(ch->pump);
		ch->pump = NULL;
	}
	if (e == 0)
		e = checkdb_blob_counts(ch->db, &ch->st.blobs, &ch->st.blobs_duplicate);
	if (e == 0 && ch->st.blobs_duplicate)
		e = problem(ch, CHECK_NOTE, "blobs-duplicate", "index",
			    "%llu blobs are stored in more than one pack (harmless: prune removes "
			    "the extra copies)",
			    (unsigned long long)ch->st.blobs_duplicate);
	if (e == 0) {
		struct lost_count lc = { 0 };
		e = checkdb_damage_foreach(ch->db, count_lost_cb, &lc);
		ch->st.blobs_lost = lc.n;
	}
	if (e == 0) {
		uint64_t c[3];
		e = checkdb_problem_counts(ch->db, c);
		ch->st.notes = c[CHECK_NOTE];
		ch->st.warnings = c[CHECK_WARNING];
		ch->st.errors = c[CHECK_ERROR];
	}
	if (e == 0)
		e = checkdb_commit(ch->db);
	return e;
}

/* ---- report helpers ---- */

int checker_blob_detail(struct checker *ch, unsigned type, const uint8_t id[32], int reason,
			char *out, size_t cap)
{
	struct checkdb_loc locs[4];
	size_t n, len = 0;
	char hex[65];
	out[0] = 0;
	if (reason == CHECKDB_LOST_NOT_INDEXED) {
		uint8_t pack[32];
		int e = checkdb_blob_unindexed_pack(ch->db, type, id, pack);
		if (e < 0)
			return e;
		if (e == 1) {
			hex_encode(pack, 32, hex);
			snprintf(out, cap, "it is not in any index file, but pack %s, which no index "
				 "file lists, holds it: run 'cairn repair index'", hex);
		} else {
			snprintf(out, cap, "it is not in any index file, and no pack holds it");
		}
		return 0;
	}
	int e = checkdb_blob_locs(ch->db, type, id, locs, CAIRN_ARRAY_LEN(locs), &n);
	if (e < 0)
		return e;
	for (size_t i = 0; i < n && len + 1 < cap; i++) {
		hex_encode(locs[i].pack_id, 32, hex);
		int w = snprintf(out + len, cap - len, "%sin pack %s: %s", i ? "; " : "", hex,
				 checkdb_reason_text(locs[i].reason ? locs[i].reason : reason));
		if (w < 0)
			break;
		len += (size_t)w;
	}
	if (len >= cap)
		out[cap - 1] = 0;
	return 0;
}

struct read_iter {
	int (*fn)(void *arg, const uint8_t id[32]);
	void *arg;
};

static int read_iter_cb(void *arg, const struct checkdb_pack *p)
{
	struct read_iter *ri = arg;
	return ri->fn(ri->arg, p->id);
}

int checker_foreach_pack_read(struct checker *ch, int (*fn)(void *arg, const uint8_t id[32]),
			      void *arg)
{
	struct read_iter ri = { fn, arg };
	return checkdb_packs_foreach(ch->db, CHECKDB_PACK_READ, read_iter_cb, &ri);
}

/* ---- for repair ---- */

int checker_state(struct checker *ch, unsigned type, const uint8_t id[32])
{
	struct checkdb_visit v;
	int e = checkdb_visit_get(ch->db, type, id, &v);
	return e == 1 ? v.state : e == 0 ? CHECKDB_UNKNOWN : e;
}

int checker_load_tree(struct checker *ch, const uint8_t id[32], struct tree *ret)
{
	int e = load_blob(ch, BLOB_TREE, id);
	if (e > 0)
		return CAIRN_ECORRUPT;
	if (e == 0)
		e = tree_decode(ch->plain.data, ch->plain.len, ret);
	return e;
}

int checker_file_damaged(struct checker *ch, const struct node *file)
{
	struct content_walk cw = { .ch = ch, .use_memo = 1, .stop = 1 };
	int e = file_walk(&cw, file, NULL);
	if (e == CAIRN_ECORRUPT)
		return 1;
	return e < 0 ? e : cw.any;
}

int checker_file_prefix(struct checker *ch, const struct node *file,
			int (*fn)(void *arg, const struct content_ref *ref), void *arg,
			uint64_t *ret_intact)
{
	struct content_walk cw = { .ch = ch, .stop = 1, .fn = fn, .arg = arg };
	*ret_intact = 0;
	int e = file_walk(&cw, file, ret_intact);
	if (e == CAIRN_ECORRUPT) {
		*ret_intact = 0;
		return 0;
	}
	return e;
}
