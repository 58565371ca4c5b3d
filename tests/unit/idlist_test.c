/*
 * idlist_test.c - chunk lists as trees of LIST blobs: writer, reader, seek,
 * determinism, locality of changes, corruption.
 */
#include "cairn/common.h"
#include "cairn/crypto.h"
#include "cairn/idlist.h"

#include "tap.h"

/* In-memory blob store keyed by id (keyed hash of the plaintext). */
struct blob {
	uint8_t id[32];
	uint8_t *data;
	size_t len;
};

struct store {
	struct blob *b;
	size_t n, cap;
	size_t saves, new_saves, loads;
};

static uint8_t key[32];

static struct blob *store_find(struct store *s, const uint8_t id[32])
{
	for (size_t i = 0; i < s->n; i++)
		if (memcmp(s->b[i].id, id, 32) == 0)
			return &s->b[i];
	return NULL;
}

static int store_save(void *arg, const void *data, size_t len, uint8_t ret_id[32])
{
	struct store *s = arg;
	crypto_keyed_hash(key, data, len, ret_id);
	s->saves++;
	if (store_find(s, ret_id))
		return 0;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->b = realloc(s->b, s->cap * sizeof(*s->b));
		if (!s->b)
			abort();
	}
	struct blob *b = &s->b[s->n++];
	memcpy(b->id, ret_id, 32);
	b->data = malloc(len);
	memcpy(b->data, data, len);
	b->len = len;
	s->new_saves++;
	return 0;
}

static int store_load(void *arg, const uint8_t id[32], struct buf *out)
{
	struct store *s = arg;
	struct blob *b = store_find(s, id);
	s->loads++;
	buf_reset(out);
	if (!b)
		return CAIRN_ENOTFOUND;
	buf_put(out, b->data, b->len);
	return buf_ok(out);
}

static void store_free(struct store *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->b[i].data);
	free(s->b);
	memset(s, 0, sizeof(*s));
}

/* Data ref number i: id = keyed hash of i, size 1..65536 from the id. */
static void data_ref(uint64_t i, struct content_ref *r)
{
	crypto_keyed_hash(key, &i, sizeof(i), r->id);
	r->size = 1 + ((uint64_t)r->id[0] << 8 | r->id[1]);
}

struct result {
	uint32_t depth;
	struct content_ref *refs;
	size_t n;
};

static int write_refs(struct store *s, const struct content_ref *refs, size_t n, struct result *res)
{
	struct idlist_writer *w = idlist_writer_new(store_save, s);
	if (!w)
		return CAIRN_ENOMEM;
	int e = 0;
	for (size_t i = 0; i < n && e == 0; i++)
		e = idlist_writer_add(w, refs[i].id, refs[i].size);
	if (e == 0)
		e = idlist_writer_finish(w, &res->depth, &res->refs, &res->n);
	idlist_writer_free(w);
	return e;
}

/* Reads the whole list back; 1 when it equals refs[0..n). */
static int read_equals(struct store *s, const struct result *res, const struct content_ref *refs,
		       size_t n)
{
	struct idlist_reader *r;
	struct content_ref got;
	size_t i = 0;
	int e, good = 1;

	if (idlist_reader_new(res->refs, res->n, res->depth, store_load, s, &r) < 0)
		return 0;
	while ((e = idlist_reader_next(r, &got)) == 1) {
		if (i >= n || memcmp(got.id, refs[i].id, 32) || got.size != refs[i].size)
			good = 0;
		i++;
	}
	idlist_reader_free(r);
	return good && e == 0 && i == n;
}

static void free_result(struct result *res)
{
	free(res->refs);
	memset(res, 0, sizeof(*res));
}

static struct content_ref *make_refs(size_t n)
{
	struct content_ref *refs = calloc(n ? n : 1, sizeof(*refs));
	for (size_t i = 0; i < n; i++)
		data_ref(i, &refs[i]);
	return refs;
}

static void test_small(void)
{
	static const size_t counts[] = { 0, 1, 16, 32, 33 };
	for (size_t c = 0; c < CAIRN_ARRAY_LEN(counts); c++) {
		size_t n = counts[c];
		struct store s = { 0 };
		struct result res = { 0 };
		struct content_ref *refs = make_refs(n);
		is_int(write_refs(&s, refs, n, &res), 0, "%zu refs: write", n);
		if (n <= IDLIST_INLINE_MAX) {
			ok(res.depth == 0 && res.n == n && s.saves == 0,
			   "%zu refs: inline at depth 0, no LIST blob", n);
			if (n == 0)
				ok(res.refs == NULL, "0 refs: refs NULL");
		} else {
			ok(res.depth == 1 && res.n >= 1 && res.n <= 3 && s.saves == res.n,
			   "%zu refs: depth 1 (%zu refs, %zu blobs)", n, res.n, s.saves);
		}
		ok(read_equals(&s, &res, refs, n), "%zu refs: read back in order", n);
		free(refs);
		free_result(&res);
		store_free(&s);
	}
}

/* Checks that the data ref covering each offset is found and starts there. */
static int check_seeks(struct store *s, const struct result *res, const struct content_ref *refs,
		       size_t n, int count)
{
	uint64_t *start = malloc((n + 1) * sizeof(*start));
	struct idlist_reader *r;
	struct content_ref got;
	int bad = 0;

	start[0] = 0;
	for (size_t i = 0; i < n; i++)
		start[i + 1] = start[i] + refs[i].size;
	if (idlist_reader_new(res->refs, res->n, res->depth, store_load, s, &r) < 0)
		return -1;
	for (int k = 0; k < count + 3; k++) {
		uint64_t off, st = 12345;
		if (k == count)
			off = 0;
		else if (k == count + 1)
			off = start[n] - 1;
		else if (k == count + 2)
			off = start[1]; /* first byte of the second ref */
		else
			off = ((uint64_t)crypto_random_uniform(1u << 31) << 16 |
			       crypto_random_uniform(1u << 16)) % start[n];
		/* the ref covering off: the last i with start[i] <= off */
		size_t lo = 0, hi = n;
		while (hi - lo > 1) {
			size_t mid = (lo + hi) / 2;
			if (start[mid] <= off)
				lo = mid;
			else
				hi = mid;
		}
		size_t loads = s->loads;
		if (idlist_reader_seek(r, off, &st) != 0 || st != start[lo] ||
		    s->loads - loads != res->depth) {
			bad++;
			continue;
		}
		/* next() continues in order from there, across LIST blobs */
		for (size_t j = lo; j < lo + 300 && j < n; j++)
			if (idlist_reader_next(r, &got) != 1 || memcmp(got.id, refs[j].id, 32) ||
			    got.size != refs[j].size) {
				bad++;
				break;
			}
	}
	if (idlist_reader_seek(r, start[n], &(uint64_t){ 0 }) != 1 ||
	    idlist_reader_next(r, &got) != 0)
		bad++;
	if (idlist_reader_seek(r, UINT64_MAX, &(uint64_t){ 0 }) != 1)
		bad++;
	idlist_reader_free(r);
	free(start);
	return bad;
}

/* The set of LIST blobs a result refers to, collected into ids[]. */
static size_t collect_blobs(struct store *s, uint32_t depth, const struct content_ref *refs,
			    size_t n, uint8_t (*ids)[32], size_t cap, size_t k)
{
	if (depth == 0)
		return k;
	for (size_t i = 0; i < n; i++) {
		struct buf b = BUF_INIT;
		struct content_ref *sub;
		size_t m;
		if (k < cap)
			memcpy(ids[k], refs[i].id, 32);
		k++;
		if (store_load(s, refs[i].id, &b) == 0 && idlist_decode(b.data, b.len, &sub, &m) == 0) {
			k = collect_blobs(s, depth - 1, sub, m, ids, cap, k);
			free(sub);
		}
		buf_free(&b);
	}
	return k;
}

static int has_id(uint8_t (*ids)[32], size_t n, const uint8_t id[32])
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(ids[i], id, 32) == 0)
			return 1;
	return 0;
}

static void test_large(void)
{
	const size_t n = 100000;
	struct store s = { 0 };
	struct result res = { 0 }, res2 = { 0 }, res3 = { 0 };
	struct content_ref *refs = make_refs(n + 1);

	is_int(write_refs(&s, refs, n, &res), 0, "100000 refs: write");
	ok(res.depth >= 2 && res.n >= 1 && res.n <= IDLIST_INLINE_MAX,
	   "100000 refs: depth %u, %zu top refs, %zu LIST blobs", res.depth, res.n, s.n);
	ok(read_equals(&s, &res, refs, n), "100000 refs: read back in order");
	is_int(check_seeks(&s, &res, refs, n, 2000), 0, "seek to 2000 random offsets");

	/* determinism */
	size_t saved = s.new_saves;
	is_int(write_refs(&s, refs, n, &res2), 0, "write again");
	ok(res2.depth == res.depth && res2.n == res.n &&
	   memcmp(res2.refs, res.refs, res.n * sizeof(*res.refs)) == 0 && s.new_saves == saved,
	   "same refs -> same top refs, no new LIST blob");
	free_result(&res2);

	/* locality: one ref inserted in the middle */
	memmove(&refs[50001], &refs[50000], (n - 50000) * sizeof(*refs));
	data_ref(999999999, &refs[50000]);
	is_int(write_refs(&s, refs, n + 1, &res3), 0, "write with one ref inserted");
	ok(read_equals(&s, &res3, refs, n + 1), "read back with the insertion");
	size_t cap = 4096;
	uint8_t (*old_ids)[32] = malloc(cap * 32), (*new_ids)[32] = malloc(cap * 32);
	size_t n_old = collect_blobs(&s, res.depth, res.refs, res.n, old_ids, cap, 0);
	size_t n_new = collect_blobs(&s, res3.depth, res3.refs, res3.n, new_ids, cap, 0);
	size_t changed = 0;
	for (size_t i = 0; i < n_new && i < cap; i++)
		changed += !has_id(old_ids, n_old, new_ids[i]);
	ok(n_old < cap && n_new < cap && changed >= 1 && changed < 10,
	   "insertion: %zu of %zu LIST blobs are new", changed, n_new);
	is_int(s.new_saves - saved, changed, "the store saw exactly those new blobs");
	free(old_ids);
	free(new_ids);
	free_result(&res3);

	/* corrupt sizes: tamper with a level-0 LIST blob in the store */
	memmove(&refs[50000], &refs[50001], (n - 50000) * sizeof(*refs));
	struct blob *victim = NULL;
	for (size_t i = 0; i < s.n && !victim; i++) {
		struct content_ref *sub;
		size_t m;
		if (idlist_decode(s.b[i].data, s.b[i].len, &sub, &m) == 0) {
			/* a data-level blob: its first entry is data ref 0..n */
			for (size_t j = 0; j < n && !victim; j += 1)
				if (memcmp(sub[0].id, refs[j].id, 32) == 0 && j > 1000)
					victim = &s.b[i];
			free(sub);
		}
	}
	ok(victim != NULL, "found a data-level LIST blob to tamper with");
	if (victim) {
		struct content_ref *sub;
		size_t m;
		struct buf enc = BUF_INIT;
		idlist_decode(victim->data, victim->len, &sub, &m);
		sub[m / 2].size += 1;
		idlist_encode(sub, m, &enc);
		uint8_t *orig = victim->data;
		size_t orig_len = victim->len;
		victim->data = enc.data;
		victim->len = enc.len;

		struct idlist_reader *r;
		struct content_ref got;
		int e;
		size_t cnt = 0;
		idlist_reader_new(res.refs, res.n, res.depth, store_load, &s, &r);
		while ((e = idlist_reader_next(r, &got)) == 1)
			cnt++;
		ok(e == CAIRN_ECORRUPT && cnt > 1000 && cnt < n,
		   "sizes that do not add up: CAIRN_ECORRUPT after %zu refs", cnt);
		is_int(idlist_reader_next(r, &got), CAIRN_ECORRUPT, "and again: nothing skipped");
		idlist_reader_free(r);

		/* and a different id than the ref names: blob missing */
		victim->data = orig;
		victim->len = orig_len;
		victim->id[0] ^= 1;
		idlist_reader_new(res.refs, res.n, res.depth, store_load, &s, &r);
		while ((e = idlist_reader_next(r, &got)) == 1)
			;
		is_int(e, CAIRN_ENOTFOUND, "a missing LIST blob: the loader's error");
		victim->id[0] ^= 1;
		idlist_reader_free(r);
		free(sub);
		buf_free(&enc);
	}

	/* a top ref whose size is off by one */
	struct content_ref *top = malloc(res.n * sizeof(*top));
	memcpy(top, res.refs, res.n * sizeof(*top));
	top[0].size--;
	struct idlist_reader *r;
	struct content_ref got;
	idlist_reader_new(top, res.n, res.depth, store_load, &s, &r);
	is_int(idlist_reader_next(r, &got), CAIRN_ECORRUPT, "top ref size mismatch");
	uint64_t st;
	is_int(idlist_reader_seek(r, 0, &st), CAIRN_ECORRUPT, "seek: top ref size mismatch");
	idlist_reader_free(r);
	/* a hole at a list level */
	memcpy(top, res.refs, res.n * sizeof(*top));
	memset(top[0].id, 0, 32);
	idlist_reader_new(top, res.n, res.depth, store_load, &s, &r);
	is_int(idlist_reader_next(r, &got), CAIRN_ECORRUPT, "hole at a list level");
	idlist_reader_free(r);
	free(top);

	free_result(&res);
	free(refs);
	store_free(&s);
}

static void test_holes_and_bounds(void)
{
	const size_t n = 5000;
	struct store s = { 0 };
	struct result res = { 0 };
	struct content_ref *refs = make_refs(n);

	for (size_t i = 0; i < n; i += 7) {
		memset(refs[i].id, 0, 32);
		refs[i].size = 1u << 20;
	}
	is_int(write_refs(&s, refs, n, &res), 0, "holes: write");
	ok(read_equals(&s, &res, refs, n), "holes pass through");
	is_int(check_seeks(&s, &res, refs, n, 300), 0, "holes: seeks");
	free_result(&res);
	store_free(&s);

	/* no id satisfies the cut condition: blobs are cut at IDLIST_BLOB_MAX */
	for (size_t i = 0; i < n; i++)
		refs[i].id[31] = 1;
	is_int(write_refs(&s, refs, n, &res), 0, "no content cuts: write");
	int sizes_ok = res.depth == 1 && res.n == 5;
	for (size_t i = 0; sizes_ok && i < res.n; i++) {
		struct buf b = BUF_INIT;
		struct content_ref *sub;
		size_t m = 0;
		sizes_ok = store_load(&s, res.refs[i].id, &b) == 0 &&
			   idlist_decode(b.data, b.len, &sub, &m) == 0;
		if (sizes_ok) {
			sizes_ok = m == (i < 4 ? IDLIST_BLOB_MAX : n - 4 * IDLIST_BLOB_MAX);
			free(sub);
		}
		buf_free(&b);
	}
	ok(sizes_ok, "blobs of exactly %d refs, then the rest", IDLIST_BLOB_MAX);
	ok(read_equals(&s, &res, refs, n), "read back");
	free_result(&res);
	store_free(&s);

	/* every id satisfies it: blobs are cut at IDLIST_BLOB_MIN */
	for (size_t i = 0; i < n; i++)
		refs[i].id[31] = 0;
	is_int(write_refs(&s, refs, 1000, &res), 0, "cut everywhere: write");
	/* follow the first ref of each level down to the first data-level blob */
	struct buf b = BUF_INIT;
	struct content_ref *sub = NULL, first = res.refs[0];
	size_t m = 0;
	int path_ok = res.depth >= 1;
	for (uint32_t d = res.depth; path_ok && d > 0; d--) {
		free(sub);
		sub = NULL;
		path_ok = store_load(&s, first.id, &b) == 0 &&
			  idlist_decode(b.data, b.len, &sub, &m) == 0;
		if (path_ok)
			first = sub[0];
	}
	ok(path_ok && m == IDLIST_BLOB_MIN && memcmp(first.id, refs[0].id, 32) == 0,
	   "first data-level blob cut at IDLIST_BLOB_MIN (depth %u, %zu refs)", res.depth, m);
	ok(read_equals(&s, &res, refs, 1000), "read back");
	free(sub);
	buf_free(&b);
	free_result(&res);
	store_free(&s);
	free(refs);

	struct idlist_reader *r = NULL;
	is_int(idlist_reader_new(NULL, 0, 17, store_load, &s, &r), CAIRN_EINVAL, "depth 17 refused");
	is_int(idlist_reader_new(NULL, 0, 0, store_load, &s, &r), 0, "empty reader");
	struct content_ref got;
	uint64_t st = 99;
	is_int(idlist_reader_next(r, &got), 0, "empty: end at once");
	is_int(idlist_reader_seek(r, 0, &st), 1, "empty: seek(0) is past the end");
	is_int(st, 0, "empty: start 0");
	idlist_reader_free(r);
	idlist_reader_free(NULL);
	idlist_writer_free(NULL);
}

static void test_blob_codec(void)
{
	struct content_ref refs[3], *out = NULL;
	struct buf b = BUF_INIT;
	size_t n;

	for (int i = 0; i < 3; i++)
		data_ref((uint64_t)i, &refs[i]);
	refs[2].size = UINT64_MAX;
	is_int(idlist_encode(refs, 3, &b), 0, "encode");
	is_int(idlist_decode(b.data, b.len, &out, &n), 0, "decode");
	ok(n == 3 && memcmp(out, refs, sizeof(refs)) == 0, "round trip");
	free(out);
	int acc = 0;
	for (size_t k = 0; k < b.len; k++) {
		if (idlist_decode(b.data, k, &out, &n) == 0) {
			acc++;
			free(out);
		}
	}
	is_int(acc, 0, "no proper prefix decodes");
	buf_put_u8(&b, 0);
	is_int(idlist_decode(b.data, b.len, &out, &n), CAIRN_ECORRUPT, "trailing byte");
	b.len--;
	b.data[0] = 'X';
	is_int(idlist_decode(b.data, b.len, &out, &n), CAIRN_ECORRUPT, "bad magic");
	buf_reset(&b);
	buf_put(&b, "CLS1\0", 5);
	is_int(idlist_decode(b.data, b.len, &out, &n), CAIRN_ECORRUPT, "empty LIST blob");
	is_int(idlist_encode(refs, 0, &b), CAIRN_EINVAL, "encode refuses 0 refs");
	is_int(idlist_encode(refs, IDLIST_BLOB_MAX + 1, &b), CAIRN_EINVAL,
	       "encode refuses more than IDLIST_BLOB_MAX");
	buf_reset(&b);
	buf_put(&b, "CLS1", 4);
	buf_put_varint(&b, IDLIST_BLOB_MAX + 1);
	for (int i = 0; i < IDLIST_BLOB_MAX + 1; i++) {
		buf_put(&b, refs[0].id, 32);
		buf_put_varint(&b, 1);
	}
	is_int(idlist_decode(b.data, b.len, &out, &n), CAIRN_ECORRUPT, "more than IDLIST_BLOB_MAX");
	buf_reset(&b);
	buf_put(&b, "CLS1", 4);
	buf_put_varint(&b, 1000);
	buf_put(&b, refs[0].id, 32);
	buf_put_varint(&b, 1);
	is_int(idlist_decode(b.data, b.len, &out, &n), CAIRN_ECORRUPT, "count absurd for the length");
	buf_free(&b);
}

int main(void)
{
	if (crypto_init() < 0)
		return 1;
	memset(key, 7, sizeof(key));
	test_blob_codec();
	test_small();
	test_large();
	test_holes_and_bounds();
	return tap_done();
}
