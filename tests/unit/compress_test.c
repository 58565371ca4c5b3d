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

int main(void)
{
	test_round_trip();
	test_store_raw();
	test_corrupt();
	return tap_done();
}
