/*
 * compress_test.c - zstd compression of blobs: round trips, the "store raw"
 * decision, and rejection of damaged frames.
 */
#include "cairn/common.h"
#include "cairn/compress.h"

#include <zstd.h>

#include "tap.h"

/* Text-like, compressible. */
static void fill_text(uint8_t *p, size_t n)
{
	static const char words[] = "the cairn stores content-addressed chunks of data ";
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)words[(i * 7 / 5) % (sizeof(words) - 1)];
}

/* Pseudo-random, incompressible. */
static void fill_random(uint8_t *p, size_t n, uint64_t x)
{
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
}

static uint8_t *xmalloc(size_t n)
{
	uint8_t *p = malloc(n ? n : 1);
	if (!p)
		abort();
	return p;
}

static void test_round_trip(void)
{
	struct decompressor *d = decompressor_new();
	ok(d != NULL, "decompressor_new");
	static const int levels[] = { 1, 3, 19 };
	static const size_t sizes[] = { 100, 1000, 8192, 200000 };
	for (size_t li = 0; li < CAIRN_ARRAY_LEN(levels); li++) {
		struct compressor *c = compressor_new(levels[li]);
		int all_ok = c != NULL, smaller = 1;
		for (size_t si = 0; c && si < CAIRN_ARRAY_LEN(sizes); si++) {
			size_t n = sizes[si], cap = compress_bound(n);
			uint8_t *src = xmalloc(n), *dst = xmalloc(cap), *back = xmalloc(n + 1);
			fill_text(src, n);
			size_t clen = compressor_run(c, src, n, dst, cap);
			if (clen == 0 || clen >= n)
				smaller = 0;
			back[n] = 0x5a;
			if (clen == 0 || decompressor_run(d, dst, clen, back, n) != 0 ||
			    memcmp(src, back, n) != 0 || back[n] != 0x5a)
				all_ok = 0;
			free(src);
			free(dst);
			free(back);
		}
		ok(smaller, "level %d: compressible data gets smaller", levels[li]);
		ok(all_ok, "level %d: round trip of 100..200000 bytes", levels[li]);
		compressor_free(c);
	}
	/* A context is reusable for many blobs. */
	struct compressor *c = compressor_new(3);
	int reuse_ok = 1;
	for (int i = 0; i < 50; i++) {
		size_t n = 1000 + (size_t)i * 37, cap = compress_bound(n);
		uint8_t *src = xmalloc(n), *dst = xmalloc(cap), *back = xmalloc(n);
		fill_text(src, n);
		src[i] = (uint8_t)i;
		size_t clen = compressor_run(c, src, n, dst, cap);
		if (!clen || decompressor_run(d, dst, clen, back, n) != 0 || memcmp(src, back, n))
			reuse_ok = 0;
		free(src);
		free(dst);
		free(back);
	}
	ok(reuse_ok, "50 blobs through one compressor and decompressor");
	compressor_free(c);
	decompressor_free(d);
	compressor_free(NULL);
	decompressor_free(NULL);
}

static void test_store_raw(void)
{
	struct compressor *c = compressor_new(3);
	size_t n = 65536, cap = compress_bound(n);
	uint8_t *src = xmalloc(n), *dst = xmalloc(cap);
	ok(cap >= n, "compress_bound(%zu) >= %zu", n, n);
	fill_random(src, n, 12345);
	is_int(compressor_run(c, src, n, dst, cap), 0, "incompressible data: 0 (store raw)");
	fill_random(src, 100, 999);
	is_int(compressor_run(c, src, 100, dst, cap), 0, "small incompressible data: 0");
	memset(src, 'a', 63);
	is_int(compressor_run(c, src, 63, dst, cap), 0, "below 64 bytes: never compressed");
	is_int(compressor_run(c, src, 0, dst, cap), 0, "empty input: 0");
	compressor_free(c);

	struct compressor *off = compressor_new(0);
	ok(off != NULL, "compressor_new(0)");
	fill_text(src, n);
	is_int(compressor_run(off, src, n, dst, cap), 0, "level 0: compressible data is not compressed");
	memset(src, 0, n);
	is_int(compressor_run(off, src, n, dst, cap), 0, "level 0: all zeros are not compressed");
	compressor_free(off);
	free(src);
	free(dst);
}

static void test_corrupt(void)
{
	struct compressor *c = compressor_new(3);
	struct decompressor *d = decompressor_new();
	size_t n = 20000, cap = compress_bound(n);
	uint8_t *src = xmalloc(n), *dst = xmalloc(cap + 16), *back = xmalloc(n + 100);
	fill_text(src, n);
	size_t clen = compressor_run(c, src, n, dst, cap);
	ok(clen > 0, "compressed %zu -> %zu bytes", n, clen);

	is_int(decompressor_run(d, dst, clen, back, n - 1), CAIRN_ECORRUPT,
	       "raw length one too small: CAIRN_ECORRUPT");
	is_int(decompressor_run(d, dst, clen, back, n + 1), CAIRN_ECORRUPT,
	       "raw length one too large: CAIRN_ECORRUPT");
	is_int(decompressor_run(d, dst, clen, back, 0), CAIRN_ECORRUPT,
	       "raw length 0: CAIRN_ECORRUPT");
	is_int(decompressor_run(d, dst, clen - 1, back, n), CAIRN_ECORRUPT,
	       "frame truncated by one byte: CAIRN_ECORRUPT");
	is_int(decompressor_run(d, dst, clen / 2, back, n), CAIRN_ECORRUPT,
	       "frame truncated by half: CAIRN_ECORRUPT");
	is_int(decompressor_run(d, dst, 0, back, n), CAIRN_ECORRUPT, "empty input: CAIRN_ECORRUPT");

	uint8_t *bad = xmalloc(clen + 16);
	memcpy(bad, dst, clen);
	bad[0] ^= 0xff;
	is_int(decompressor_run(d, bad, clen, back, n), CAIRN_ECORRUPT,
	       "damaged magic number: CAIRN_ECORRUPT");
	memcpy(bad, dst, clen);
	memcpy(bad + clen, "garbage!", 8);
	is_int(decompressor_run(d, bad, clen + 8, back, n), CAIRN_ECORRUPT,
	       "trailing garbage after the frame: CAIRN_ECORRUPT");

	uint8_t junk[256];
	fill_random(junk, sizeof(junk), 4242);
	is_int(decompressor_run(d, junk, sizeof(junk), back, n), CAIRN_ECORRUPT,
	       "random bytes: CAIRN_ECORRUPT");

	/* Any single damaged byte: either detected, or (zstd has no checksum
	 * here) decodes to exactly rawlen bytes; never another result, never
	 * a write past rawlen. */
	int other = 0, detected = 0;
	for (size_t i = 0; i < clen; i++) {
		memcpy(bad, dst, clen);
		bad[i] ^= 0x41;
		back[n] = 0x77;
		int e = decompressor_run(d, bad, clen, back, n);
		if (e == CAIRN_ECORRUPT)
			detected++;
		else if (e != 0 || back[n] != 0x77)
			other++;
	}
	is_int(other, 0, "every damaged byte gives 0 or CAIRN_ECORRUPT, no overflow");
	ok(detected > 0, "some damaged bytes are detected (%d of %zu)", detected, clen);

	/* The decompressor still works after errors. */
	ok(decompressor_run(d, dst, clen, back, n) == 0 && memcmp(back, src, n) == 0,
	   "the decompressor works after failures");

	/* A frame without a content size: the raw length is checked by the
	 * size actually produced. */
	ZSTD_CCtx *z = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(z, ZSTD_c_contentSizeFlag, 0);
	uint8_t *big = xmalloc(cap + 64);
	ZSTD_outBuffer ob = { big, cap + 64, 0 };
	ZSTD_inBuffer ib = { src, n, 0 };
	size_t r = ZSTD_compressStream2(z, &ob, &ib, ZSTD_e_end);
	ok(r == 0 && ZSTD_getFrameContentSize(big, ob.pos) == ZSTD_CONTENTSIZE_UNKNOWN,
	   "made a frame without a content size");
	ok(decompressor_run(d, big, ob.pos, back, n) == 0 && memcmp(back, src, n) == 0,
	   "such a frame decompresses with the right raw length");
	is_int(decompressor_run(d, big, ob.pos, back, n + 50), CAIRN_ECORRUPT,
	       "such a frame with too large a raw length: CAIRN_ECORRUPT");
	is_int(decompressor_run(d, big, ob.pos, back, n - 50), CAIRN_ECORRUPT,
	       "such a frame with too small a raw length: CAIRN_ECORRUPT");
	ZSTD_freeCCtx(z);
	free(big);
	free(bad);
	free(src);
	free(dst);
	free(back);
	compressor_free(c);
	decompressor_free(d);
}

/* Records like a database dump's: shared structure, varying fields. */
static size_t fill_records(uint8_t *p, size_t cap, uint64_t seed)
{
	static const char *const words[] = { "shipped", "pending", "cancelled", "Berlin", "Lisbon",
					     "Oslo", "express", "standard", "gift wrap" };
	size_t n = 0;
	uint64_t x = seed | 1;
	while (n + 200 < cap) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		int w = snprintf((char *)p + n, cap - n,
				 "%llu\t2026-11-%02u 1%u:%02u:00+00\t%s\t%s\tcustomer-%llu@example.org\t%s\n",
				 (unsigned long long)(x % 1000000), (unsigned)(x >> 20) % 28 + 1,
				 (unsigned)(x >> 8) % 10, (unsigned)(x >> 12) % 60,
				 words[(x >> 30) % 3], words[3 + (x >> 34) % 3],
				 (unsigned long long)(x >> 40) % 50000, words[6 + (x >> 50) % 3]);
		n += (size_t)w;
	}
	return n;
}

static void test_dict(void)
{
	/* 400 samples of 4 KiB records train a dictionary */
	enum { NS = 400, SL = 4096 };
	uint8_t *samples = xmalloc((size_t)NS * SL);
	size_t sizes[NS];
	for (unsigned i = 0; i < NS; i++)
		sizes[i] = fill_records(samples + (size_t)i * SL, SL, 1000 + i);
	size_t packed = 0;
	for (unsigned i = 0; i < NS; i++) {
		memmove(samples + packed, samples + (size_t)i * SL, sizes[i]);
		packed += sizes[i];
	}
	struct buf dict = BUF_INIT;
	is_int(zdict_train(samples, sizes, NS, 112 << 10, &dict), 0, "a dictionary trains");
	ok(dict.len > 0 && dict.len <= (112u << 10), "it fits the cap (%zu bytes)", dict.len);
	struct buf none = BUF_INIT;
	is_int(zdict_train(samples, sizes, 3, 112 << 10, &none), CAIRN_EINVAL,
	       "3 samples are too few: CAIRN_EINVAL");
	buf_free(&none);

	struct zdict *z = NULL, *zd = NULL;
	is_int(zdict_new(dict.data, dict.len, 3, &z), 0, "zdict_new for compression");
	ok(zdict_can_compress(z), "it can compress");
	is_int(zdict_new(dict.data, dict.len, 0, &zd), 0, "zdict_new for decompression only");
	ok(!zdict_can_compress(zd), "that one cannot compress");
	uint8_t junk[512];
	fill_random(junk, sizeof(junk), 77);
	struct zdict *bad = NULL;
	is_int(zdict_new(junk, sizeof(junk), 3, &bad), CAIRN_ECORRUPT,
	       "random bytes are not a dictionary: CAIRN_ECORRUPT");

	/* new records, as a later dump's: smaller with the dictionary, and
	 * they decode only with it */
	struct compressor *plain = compressor_new(3), *with = compressor_new(3);
	struct decompressor *d = decompressor_new();
	compressor_set_dict(with, z);
	size_t n = 8192, cap = compress_bound(n);
	uint8_t *src = xmalloc(n), *a = xmalloc(cap), *b = xmalloc(cap), *back = xmalloc(n);
	size_t tot_plain = 0, tot_dict = 0;
	int round = 1, needs = 1;
	for (unsigned i = 0; i < 20; i++) {
		size_t len = fill_records(src, n, 99999 + i);
		size_t la = compressor_run(plain, src, len, a, cap);
		size_t lb = compressor_run(with, src, len, b, cap);
		tot_plain += la;
		tot_dict += lb;
		if (!lb || decompressor_run_dict(d, zd, b, lb, back, len) != 0 || memcmp(back, src, len))
			round = 0;
		if (lb && decompressor_run(d, b, lb, back, len) == 0 && memcmp(back, src, len) == 0)
			needs = 0;
	}
	ok(round, "20 blobs round-trip through the dictionary");
	ok(needs, "they do not decode without it");
	ok(tot_dict < tot_plain, "the dictionary makes them smaller (%zu -> %zu bytes)", tot_plain,
	   tot_dict);

	/* the early dictionary's fast tables: other frames, the same bytes
	 * back through the decompression-only dictionary */
	struct zdict *zf = NULL;
	is_int(zdict_new_fast(dict.data, dict.len, 3, &zf), 0, "zdict_new_fast");
	compressor_set_dict(with, zf);
	int fast_round = 1, differ = 0;
	size_t tot_fast = 0;
	for (unsigned i = 0; i < 20; i++) {
		size_t len = fill_records(src, n, 99999 + i);
		size_t lf = compressor_run(with, src, len, b, cap);
		tot_fast += lf;
		if (!lf || decompressor_run_dict(d, zd, b, lf, back, len) != 0 || memcmp(back, src, len))
			fast_round = 0;
	}
	compressor_set_dict(with, z);
	size_t l1 = fill_records(src, n, 5150);
	size_t la = compressor_run(with, src, l1, a, cap);
	compressor_set_dict(with, zf);
	size_t lb = compressor_run(with, src, l1, b, cap);
	differ = la != lb || memcmp(a, b, la) != 0;
	ok(fast_round, "20 blobs round-trip through the fast tables");
	ok(differ, "the fast tables make other frames (%zu vs %zu bytes)", la, lb);
	ok(tot_fast < tot_plain, "and still smaller ones than no dictionary (%zu -> %zu bytes)",
	   tot_plain, tot_fast);
	zdict_free(zf);

	compressor_set_dict(with, NULL);
	size_t len = fill_records(src, n, 4242);
	size_t lc = compressor_run(with, src, len, a, cap);
	ok(lc && decompressor_run(d, a, lc, back, len) == 0 && memcmp(back, src, len) == 0,
	   "after compressor_set_dict(NULL) blobs decode without it");
	compressor_free(plain);
	compressor_free(with);
	decompressor_free(d);
	zdict_free(z);
	zdict_free(zd);
	zdict_free(NULL);
	buf_free(&dict);
	free(samples);
	free(src);
	free(a);
	free(b);
	free(back);
}

int main(void)
{
	test_round_trip();
	test_store_raw();
	test_corrupt();
	test_dict();
	return tap_done();
}
