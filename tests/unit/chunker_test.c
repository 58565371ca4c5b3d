/*
 * chunker_test.c - FastCDC cut points: known answers, size bounds,
 * resynchronisation after an insertion, seed dependence, parameters.
 */
#include "cairn/common.h"
#include "cairn/chunker.h"
#include "cairn/crypto.h"

#include "tap.h"

static const struct chunker_params params = { .min = 2048, .avg = 8192, .max = 65536 };

/*
 * Known answer: seed = bytes 0..31, the parameters above, input = 1 MiB
 * from xorshift64 seeded with 42 (each step's 8 bytes, little-endian).
 * These are the ends of the first ten chunks. They were computed once from
 * this implementation; a change here means existing repositories would
 * chunk differently (and lose dedup against their old snapshots).
 */
static const size_t known_cuts[10] = {
	11755, 13890, 22370, 33908, 43381, 53043, 62140, 75019, 83500, 91925,
};

/* Deterministic test data: xorshift64, 8 bytes per step, little-endian. */
static void fill_xorshift(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed;
	for (size_t i = 0; i < n; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		for (size_t k = 0; k < 8 && i + k < n; k++)
			p[i + k] = (uint8_t)(x >> (8 * k));
	}
}

static uint8_t *xmalloc(size_t n)
{
	uint8_t *p = malloc(n);
	if (!p)
		abort();
	return p;
}

/* Chunks all of data; returns the number of chunks, their ends in cuts
 * (malloc'ed). */
static size_t chunk_all(const struct chunker *c, const uint8_t *data, size_t len, size_t **cuts)
{
	size_t cap = 64, n = 0, off = 0;
	*cuts = malloc(cap * sizeof(**cuts));
	if (!*cuts)
		abort();
	while (off < len) {
		size_t k = chunker_cut(c, data + off, len - off, 1);
		if (k == 0 || k > len - off)
			abort(); /* contract: with eof, a non-zero length <= len */
		off += k;
		if (n == cap) {
			cap *= 2;
			*cuts = realloc(*cuts, cap * sizeof(**cuts));
			if (!*cuts)
				abort();
		}
		(*cuts)[n++] = off;
	}
	return n;
}

static void seed_0_31(uint8_t seed[32])
{
	for (int i = 0; i < 32; i++)
		seed[i] = (uint8_t)i;
}

static void test_known_answer(void)
{
	uint8_t seed[32];
	seed_0_31(seed);
	struct chunker *c = chunker_new(&params, seed);
	ok(c != NULL, "chunker_new with valid params");
	if (!c)
		return;
	const struct chunker_params *p = chunker_params(c);
	ok(p->min == params.min && p->avg == params.avg && p->max == params.max,
	   "chunker_params returns the parameters");

	size_t len = 1u << 20;
	uint8_t *data = xmalloc(len);
	fill_xorshift(data, len, 42);
	size_t *cuts;
	size_t n = chunk_all(c, data, len, &cuts);
	ok(n >= 10, "1 MiB gives at least 10 chunks (%zu)", n);
	int same = n >= 10;
	printf("# first cuts:");
	for (size_t i = 0; i < 10 && i < n; i++) {
		printf(" %zu,", cuts[i]);
		same &= cuts[i] == known_cuts[i];
	}
	printf("\n");
	ok(same, "first 10 cut offsets match the recorded known answers");

	/* Streaming: feeding windows of at most max bytes without eof gives
	 * the same cuts as chunking the whole buffer. */
	size_t off = 0, i = 0;
	int stream_same = 1;
	while (off < len) {
		size_t avail = CAIRN_MIN(len - off, (size_t)params.max);
		int eof = off + avail == len;
		size_t k = chunker_cut(c, data + off, avail, eof);
		if (k == 0) {
			stream_same = 0;
			break;
		}
		off += k;
		if (i >= n || cuts[i] != off)
			stream_same = 0;
		i++;
	}
	ok(stream_same && i == n, "chunking in max-sized windows gives the same cuts");

	/* Cuts found in a partial buffer are final: with less data than the
	 * first chunk, no eof, the answer is 0 (need more) or the same cut. */
	size_t first = cuts[0];
	int partial_ok = 1;
	for (size_t l = 0; l < first; l += 97)
		if (chunker_cut(c, data, l, 0) != 0)
			partial_ok = 0;
	if (chunker_cut(c, data, first, 0) != first)
		partial_ok = 0;
	ok(partial_ok, "before the first cut, chunker_cut asks for more; at it, it cuts");
	free(cuts);
	free(data);
	chunker_free(c);
}

static void test_need_more(void)
{
	uint8_t seed[32];
	seed_0_31(seed);
	struct chunker *c = chunker_new(&params, seed);
	uint8_t *zeros = calloc(1, params.max + 100);
	if (!c || !zeros)
		abort();
	is_int(chunker_cut(c, zeros, 0, 0), 0, "empty, no eof: 0");
	is_int(chunker_cut(c, zeros, 0, 1), 0, "empty, eof: 0");
	is_int(chunker_cut(c, zeros, 100, 0), 0, "100 bytes, no eof: need more");
	is_int(chunker_cut(c, zeros, 100, 1), 100, "100 bytes, eof: all of it");
	is_int(chunker_cut(c, zeros, params.min, 0), 0, "min bytes, no eof: need more");
	is_int(chunker_cut(c, zeros, params.min, 1), params.min, "min bytes, eof: all of it");
	/* All zeros: the gear hash of a constant run is constant, cuts are
	 * either immediate or never; with this seed decide by the answer. */
	size_t k = chunker_cut(c, zeros, params.max + 100, 0);
	ok(k > params.min && k <= params.max, "long zero run: cut within (min, max] (%zu)", k);
	size_t k2 = chunker_cut(c, zeros, params.max - 1, 0);
	ok(k2 == 0 || k2 == k, "max-1 bytes, no eof: need more or the same cut");
	size_t k3 = chunker_cut(c, zeros, params.max - 1, 1);
	ok(k3 == CAIRN_MIN(k, (size_t)params.max - 1), "max-1 bytes, eof: min(len, cut)");
	is_int(chunker_cut(c, zeros, params.max, 0), k, "exactly max bytes, no eof: decides");
	free(zeros);
	chunker_free(c);
}

static void test_bounds_and_average(void)
{
	uint8_t seed[32];
	seed_0_31(seed);
	struct chunker *c = chunker_new(&params, seed);
	size_t len = 16u << 20;
	uint8_t *data = xmalloc(len);
	fill_xorshift(data, len, 7);
	/* A long run of one byte makes the max cut happen. */
	memset(data + (5u << 20), 0x55, 300000);
	size_t *cuts;
	size_t n = chunk_all(c, data, len, &cuts);
	size_t bad = 0, at_max = 0, prev = 0;
	for (size_t i = 0; i < n; i++) {
		size_t sz = cuts[i] - prev;
		prev = cuts[i];
		if (i + 1 < n && (sz < params.min || sz > params.max))
			bad++;
		if (sz == params.max)
			at_max++;
	}
	is_int(bad, 0, "all %zu chunks but the last lie within [min, max]", n);
	ok(cuts[n - 1] == len, "chunks tile the input");
	ok(at_max >= 1, "a constant run is cut at max (%zu chunks of max size)", at_max);

	/* Average over random data only. */
	fill_xorshift(data, len, 99);
	free(cuts);
	n = chunk_all(c, data, len, &cuts);
	double avg = (double)len / (double)n;
	ok(avg >= 0.6 * params.avg && avg <= 1.6 * params.avg,
	   "average chunk size %.0f within 0.6..1.6 x %u over 16 MiB", avg, params.avg);
	free(cuts);
	free(data);
	chunker_free(c);
}

static int cmp_hash(const void *a, const void *b)
{
	return memcmp(a, b, CRYPTO_ID_LEN);
}

/* Hashes of every chunk, sorted; count in *ret_n. */
static uint8_t (*chunk_hashes(const struct chunker *c, const uint8_t *data, size_t len,
			      size_t *ret_n))[CRYPTO_ID_LEN]
{
	size_t *cuts;
	size_t n = chunk_all(c, data, len, &cuts);
	uint8_t(*h)[CRYPTO_ID_LEN] = malloc(n * CRYPTO_ID_LEN);
	if (!h)
		abort();
	size_t prev = 0;
	for (size_t i = 0; i < n; i++) {
		crypto_plain_hash(data + prev, cuts[i] - prev, h[i]);
		prev = cuts[i];
	}
	free(cuts);
	*ret_n = n;
	return h;
}

static void test_resync(void)
{
	uint8_t seed[32];
	seed_0_31(seed);
	struct chunker *c = chunker_new(&params, seed);
	size_t len = 4u << 20, ins = 4096, mid = len / 2 + 1234;
	uint8_t *a = xmalloc(len), *b = xmalloc(len + ins);
	fill_xorshift(a, len, 1234);
	memcpy(b, a, mid);
	fill_xorshift(b + mid, ins, 5678);
	memcpy(b + mid + ins, a + mid, len - mid);

	size_t na, nb;
	uint8_t(*ha)[CRYPTO_ID_LEN] = chunk_hashes(c, a, len, &na);
	uint8_t(*hb)[CRYPTO_ID_LEN] = chunk_hashes(c, b, len + ins, &nb);
	qsort(ha, na, CRYPTO_ID_LEN, cmp_hash);
	size_t shared = 0;
	for (size_t i = 0; i < nb; i++)
		shared += bsearch(hb[i], ha, na, CRYPTO_ID_LEN, cmp_hash) != NULL;
	size_t fresh = nb - shared;
	ok(fresh >= 1 && fresh <= 6,
	   "after inserting 4 KiB in the middle only %zu of %zu chunks are new", fresh, nb);
	ok(shared + 6 >= na, "at most a few old chunks are lost (%zu of %zu kept)", shared, na);

	/* Cut points after the insertion are the old ones shifted by ins. */
	size_t *ca, *cb;
	size_t nca = chunk_all(c, a, len, &ca), ncb = chunk_all(c, b, len + ins, &cb);
	size_t j = 0, resync_at = 0;
	for (size_t i = 0; i < ncb && !resync_at; i++) {
		if (cb[i] <= mid + ins)
			continue;
		while (j < nca && ca[j] + ins < cb[i])
			j++;
		if (j < nca && ca[j] + ins == cb[i])
			resync_at = cb[i];
	}
	ok(resync_at && resync_at - mid < 3 * params.max,
	   "boundaries resynchronise shortly after the insertion (%zu bytes later)",
	   resync_at - mid);
	size_t tail_a = 0, tail_b = 0;
	for (size_t i = 0; i < nca; i++)
		tail_a += ca[i] + ins > resync_at;
	for (size_t i = 0; i < ncb; i++)
		tail_b += cb[i] > resync_at;
	ok(tail_a == tail_b && tail_a > 100, "every later cut is shared (%zu)", tail_b);
	free(ca);
	free(cb);
	free(ha);
	free(hb);
	free(a);
	free(b);
	chunker_free(c);
}

static void test_seed_dependence(void)
{
	uint8_t s1[32], s2[32];
	seed_0_31(s1);
	seed_0_31(s2);
	s2[31] ^= 1;
	struct chunker *c1 = chunker_new(&params, s1), *c2 = chunker_new(&params, s2);
	size_t len = 1u << 20;
	uint8_t *data = xmalloc(len);
	fill_xorshift(data, len, 42);
	size_t *k1, *k2;
	size_t n1 = chunk_all(c1, data, len, &k1), n2 = chunk_all(c2, data, len, &k2);
	/* Count shared cut offsets: with independent gear tables, few. */
	size_t i = 0, j = 0, common = 0;
	while (i < n1 && j < n2) {
		if (k1[i] == k2[j])
			common++, i++, j++;
		else if (k1[i] < k2[j])
			i++;
		else
			j++;
	}
	ok(k1[0] != k2[0], "a seed differing in one bit moves the first cut (%zu vs %zu)", k1[0],
	   k2[0]);
	ok(common < n1 / 4, "and most cut points (%zu of %zu shared)", common, n1);
	free(k1);
	free(k2);
	free(data);
	chunker_free(c1);
	chunker_free(c2);
}

static void test_params_check(void)
{
	static const struct {
		struct chunker_params p;
		int valid;
		const char *what;
	} cases[] = {
		{ { 2048, 8192, 65536 }, 1, "defaults" },
		{ { 64, 256, 1024 }, 1, "smallest allowed" },
		{ { 1u << 20, 4u << 20, 16u << 20 }, 1, "largest allowed" },
		{ { 63, 256, 1024 }, 0, "min below 64" },
		{ { 0, 256, 1024 }, 0, "min 0" },
		{ { 2048, 8192, (16u << 20) + 1 }, 0, "max above 16 MiB" },
		{ { 8192, 8192, 65536 }, 0, "min == avg" },
		{ { 2048, 65536, 65536 }, 0, "avg == max" },
		{ { 9000, 8192, 65536 }, 0, "min > avg" },
		{ { 2048, 8192, 4096 }, 0, "max < avg" },
		{ { 2048, 8000, 65536 }, 0, "avg not a power of two" },
		{ { 2048, 12288, 65536 }, 0, "avg 12288 not a power of two" },
		{ { 64, 128, 1024 }, 0, "avg below 256" },
		{ { 0, 0, 0 }, 0, "all zero" },
	};
	uint8_t seed[32] = { 0 };
	/* Each rejection logs an error on stderr: expected. */
	for (size_t i = 0; i < CAIRN_ARRAY_LEN(cases); i++) {
		int e = chunker_params_check(&cases[i].p);
		struct chunker *c = chunker_new(&cases[i].p, seed);
		if (cases[i].valid)
			ok(e == 0 && c != NULL, "params accepted: %s", cases[i].what);
		else
			ok(e == CAIRN_EINVAL && c == NULL, "params rejected: %s", cases[i].what);
		chunker_free(c);
	}
	chunker_free(NULL);
}

int main(void)
{
	if (crypto_init() != 0)
		return 1;
	test_known_answer();
	test_need_more();
	test_bounds_and_average();
	test_resync();
	test_seed_dependence();
	test_params_check();
	return tap_done();
}
