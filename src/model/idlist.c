/*
 * idlist.c - a file's chunk list as a tree of LIST blobs.
 *
 * Writer: level k holds the refs not yet cut into a LIST blob of depth k
 * (level 0: data refs). A ref closes its level's blob when at least
 * IDLIST_BLOB_MIN refs are pending and the last byte of its id is 0 (ids
 * are keyed hashes, so this happens for 1 ref in 256, at places set by the
 * content), or when IDLIST_BLOB_MAX refs are pending. The blob's own ref
 * (its id, the bytes it covers) goes to level k + 1. Memory: one pending
 * array of IDLIST_BLOB_MAX refs per level in use.
 *
 * Reader: one decoded LIST blob per level, depth first; every LIST blob's
 * entry sizes must add up to the size of the ref that named it.
 *
 * The LIST blob layout is described in man/cairn-format.5 ("LIST blobs").
 */
#include "cairn/common.h"
#include "cairn/idlist.h"
#include "cairn/log.h"

#define IDLIST_MAGIC "CLS1"
#define IDLIST_MAGIC_LEN 4
#define IDLIST_DEPTH_MAX 16
#define IDLIST_LEVELS (IDLIST_DEPTH_MAX + 1)
/* One encoded ref: id and at least one byte of size varint. */
#define IDLIST_REF_MIN_BYTES 33

static int id_is_zero(const uint8_t id[32])
{
	uint8_t acc = 0;
	for (int i = 0; i < 32; i++)
		acc |= id[i];
	return acc == 0;
}

/* Hash condition for a content-defined cut: true for 1 id in 256. */
static int idlist_is_cut(const uint8_t id[32])
{
	return id[31] == 0;
}

int idlist_encode(const struct content_ref *refs, size_t n, struct buf *out)
{
	if (n == 0 || n > IDLIST_BLOB_MAX || !refs)
		return CAIRN_EINVAL;
	buf_put(out, IDLIST_MAGIC, IDLIST_MAGIC_LEN);
	buf_put_varint(out, n);
	for (size_t i = 0; i < n; i++) {
		buf_put(out, refs[i].id, 32);
		buf_put_varint(out, refs[i].size);
	}
	return buf_ok(out);
}

int idlist_decode(const void *data, size_t len, struct content_ref **ret_refs, size_t *ret_n)
{
	struct rd r;
	const uint8_t *magic;
	uint64_t count;
	struct content_ref *refs;

	rd_init(&r, data, len);
	if (rd_take(&r, IDLIST_MAGIC_LEN, &magic) < 0 ||
	    memcmp(magic, IDLIST_MAGIC, IDLIST_MAGIC_LEN) ||
	    rd_varint(&r, &count) < 0 || count == 0 || count > IDLIST_BLOB_MAX ||
	    count > r.len / IDLIST_REF_MIN_BYTES)
		return CAIRN_ECORRUPT;
	refs = malloc((size_t)count * sizeof(*refs));
	if (!refs)
		return CAIRN_ENOMEM;
	for (size_t i = 0; i < count; i++) {
		if (rd_copy(&r, refs[i].id, 32) < 0 || rd_varint(&r, &refs[i].size) < 0) {
			free(refs);
			return CAIRN_ECORRUPT;
		}
	}
	if (r.len) {
		free(refs);
		return CAIRN_ECORRUPT;
	}
	*ret_refs = refs;
	*ret_n = (size_t)count;
	return 0;
}

/* ---- writer ---- */

struct idlist_level {
	struct content_ref *refs;	/* IDLIST_BLOB_MAX slots, allocated on first use */
	size_t n;
	uint64_t sum;			/* bytes covered by refs[0..n) */
	int emitted;			/* a LIST blob of this level was saved */
};

struct idlist_writer {
	idlist_save_fn save;
	void *arg;
	struct idlist_level lv[IDLIST_LEVELS];
	uint64_t total;			/* bytes covered by all refs added */
	struct buf enc;			/* reused for each LIST blob */
	int err;			/* first error; sticky */
	int finished;
};

struct idlist_writer *idlist_writer_new(idlist_save_fn save, void *arg)
{
	struct idlist_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->save = save;
	w->arg = arg;
	buf_init(&w->enc);
	return w;
}

void idlist_writer_free(struct idlist_writer *w)
{
	if (!w)
		return;
	for (int k = 0; k < IDLIST_LEVELS; k++)
		free(w->lv[k].refs);
	buf_free(&w->enc);
	free(w);
}

static int idlist_push(struct idlist_writer *w, unsigned level, const uint8_t id[32], uint64_t size);

/* Saves level's pending refs as one LIST blob and pushes its ref one level up. */
static int idlist_emit(struct idlist_writer *w, unsigned level)
{
	struct idlist_level *l = &w->lv[level];
	uint8_t id[32];
	int e;

	if (level + 1 >= IDLIST_LEVELS) {
		/* unreachable: a level k blob needs >= 16^(k+1) data refs */
		log_error("idlist: chunk list deeper than %d levels", IDLIST_DEPTH_MAX);
		return CAIRN_EINVAL;
	}
	buf_reset(&w->enc);
	if ((e = idlist_encode(l->refs, l->n, &w->enc)) < 0)
		return e;
	if ((e = w->save(w->arg, w->enc.data, w->enc.len, id)) < 0)
		return e;
	uint64_t sum = l->sum;
	l->emitted = 1;
	l->n = 0;
	l->sum = 0;
	return idlist_push(w, level + 1, id, sum);
}

static int idlist_push(struct idlist_writer *w, unsigned level, const uint8_t id[32], uint64_t size)
{
	struct idlist_level *l = &w->lv[level];

	if (!l->refs) {
		l->refs = malloc(IDLIST_BLOB_MAX * sizeof(*l->refs));
		if (!l->refs)
			return CAIRN_ENOMEM;
	}
	memcpy(l->refs[l->n].id, id, 32);
	l->refs[l->n].size = size;
	l->n++;
	l->sum += size; /* cannot overflow: bounded by w->total */
	if ((l->n >= IDLIST_BLOB_MIN && idlist_is_cut(id)) || l->n == IDLIST_BLOB_MAX)
		return idlist_emit(w, level);
	return 0;
}

int idlist_writer_add(struct idlist_writer *w, const uint8_t id[32], uint64_t size)
{
	if (w->err)
		return w->err;
	if (w->finished)
		return CAIRN_EINVAL;
	if (size > UINT64_MAX - w->total) {
		log_error("idlist: file larger than 2^64 bytes");
		return w->err = CAIRN_EINVAL;
	}
	w->total += size;
	int e = idlist_push(w, 0, id, size);
	if (e < 0)
		w->err = e;
	return e;
}

int idlist_writer_finish(struct idlist_writer *w, uint32_t *ret_depth,
			 struct content_ref **ret_refs, size_t *ret_n)
{
	int e;

	if (w->err)
		return w->err;
	if (w->finished)
		return CAIRN_EINVAL;
	w->finished = 1;
	for (unsigned k = 0; k < IDLIST_LEVELS; k++) {
		struct idlist_level *l = &w->lv[k];
		if (!l->emitted && l->n <= IDLIST_INLINE_MAX) {
			struct content_ref *refs = NULL;
			if (l->n) {
				refs = malloc(l->n * sizeof(*refs));
				if (!refs)
					return w->err = CAIRN_ENOMEM;
				memcpy(refs, l->refs, l->n * sizeof(*refs));
			}
			*ret_depth = k;
			*ret_refs = refs;
			*ret_n = l->n;
			return 0;
		}
		if (l->n > 0 && (e = idlist_emit(w, k)) < 0)
			return w->err = e;
	}
	return w->err = CAIRN_EINVAL; /* unreachable, see idlist_emit */
}

/* ---- reader ---- */

struct idlist_frame {
	struct content_ref *refs;
	size_t n;
	size_t i;	/* next ref to visit */
};

struct idlist_reader {
	idlist_load_fn load;
	void *arg;
	uint32_t depth;
	/* f[depth] holds the node's refs; f[k] for k < cur are not loaded;
	 * f[k] for k > cur have i just past the ref that f[k - 1] came from. */
	struct idlist_frame f[IDLIST_LEVELS];
	uint32_t cur;
	struct buf blob;
};

int idlist_reader_new(const struct content_ref *refs, size_t n, uint32_t depth,
		      idlist_load_fn load, void *arg, struct idlist_reader **ret)
{
	if (depth > IDLIST_DEPTH_MAX)
		return CAIRN_EINVAL;
	struct idlist_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return CAIRN_ENOMEM;
	if (n) {
		r->f[depth].refs = malloc(n * sizeof(*refs));
		if (!r->f[depth].refs) {
			free(r);
			return CAIRN_ENOMEM;
		}
		memcpy(r->f[depth].refs, refs, n * sizeof(*refs));
	}
	r->f[depth].n = n;
	r->load = load;
	r->arg = arg;
	r->depth = depth;
	r->cur = depth;
	buf_init(&r->blob);
	*ret = r;
	return 0;
}

void idlist_reader_free(struct idlist_reader *r)
{
	if (!r)
		return;
	for (int k = 0; k < IDLIST_LEVELS; k++)
		free(r->f[k].refs);
	buf_free(&r->blob);
	free(r);
}

/* Frees the loaded frames below level. */
static void idlist_reader_drop_below(struct idlist_reader *r, uint32_t level)
{
	for (uint32_t k = 0; k < level; k++) {
		free(r->f[k].refs);
		r->f[k].refs = NULL;
		r->f[k].n = r->f[k].i = 0;
	}
}

/* Loads the LIST blob named by ref (a ref at `level` > 0) into f[level - 1]
 * after checking that its sizes add up to ref->size. */
static int idlist_reader_descend(struct idlist_reader *r, uint32_t level,
				 const struct content_ref *ref)
{
	struct content_ref *refs;
	size_t n;
	uint64_t sum = 0;
	int overflow = 0;
	char hex[65];
	int e;

	if (id_is_zero(ref->id)) {
		log_error("chunk list: hole at list level %u", (unsigned)level);
		return CAIRN_ECORRUPT;
	}
	buf_reset(&r->blob);
	if ((e = r->load(r->arg, ref->id, &r->blob)) < 0)
		return e; /* the loader names what failed */
	if ((e = idlist_decode(r->blob.data, r->blob.len, &refs, &n)) < 0) {
		if (e == CAIRN_ECORRUPT) {
			hex_encode(ref->id, 32, hex);
			log_error("LIST blob %s is malformed", hex);
		}
		return e;
	}
	for (size_t i = 0; i < n && !overflow; i++) {
		overflow = refs[i].size > UINT64_MAX - sum;
		sum += refs[i].size;
	}
	if (overflow || sum != ref->size) {
		hex_encode(ref->id, 32, hex);
		log_error("LIST blob %s: its entries cover %s%llu bytes, its reference says %llu",
			  hex, overflow ? "more than " : "", (unsigned long long)sum,
			  (unsigned long long)ref->size);
		free(refs);
		return CAIRN_ECORRUPT;
	}
	free(r->f[level - 1].refs);
	r->f[level - 1].refs = refs;
	r->f[level - 1].n = n;
	r->f[level - 1].i = 0;
	return 0;
}

int idlist_reader_next(struct idlist_reader *r, struct content_ref *ret)
{
	for (;;) {
		struct idlist_frame *f = &r->f[r->cur];
		if (f->i == f->n) {
			if (r->cur == r->depth)
				return 0;
			idlist_reader_drop_below(r, r->cur + 1);
			r->cur++;
			continue;
		}
		if (r->cur == 0) {
			*ret = f->refs[f->i++];
			return 1;
		}
		/* f->i advances only once the blob is loaded: a retry fails again
		 * rather than silently skipping that part of the file */
		int e = idlist_reader_descend(r, r->cur, &f->refs[f->i]);
		if (e < 0)
			return e;
		f->i++;
		r->cur--;
	}
}

int idlist_reader_seek(struct idlist_reader *r, uint64_t offset, uint64_t *ret_start)
{
	uint64_t pos = 0;	/* file offset of f->refs[i]; pos <= offset */
	uint32_t level = r->depth;

	idlist_reader_drop_below(r, r->depth);
	r->cur = r->depth;
	r->f[r->depth].i = 0;
	for (;;) {
		struct idlist_frame *f = &r->f[level];
		size_t i = 0;
		while (i < f->n && offset - pos >= f->refs[i].size) {
			pos += f->refs[i].size; /* stays <= offset: no overflow */
			i++;
		}
		if (i == f->n) {
			if (level != r->depth) {
				/* descend() checked the sizes, so this cannot happen */
				log_error("chunk list: LIST blob sizes inconsistent");
				return CAIRN_ECORRUPT;
			}
			f->i = f->n;
			*ret_start = pos;
			return 1;
		}
		f->i = i;
		r->cur = level;
		if (level == 0) {
			*ret_start = pos;
			return 0;
		}
		int e = idlist_reader_descend(r, level, &f->refs[i]);
		if (e < 0)
			return e;
		f->i = i + 1;
		level--;
		r->cur = level;
	}
}
