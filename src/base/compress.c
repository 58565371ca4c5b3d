/*
 * compress.c - zstd contexts, one per thread.
 */
#include "cairn/common.h"
#include "cairn/compress.h"
#include "cairn/log.h"

#include <zstd.h>

struct compressor {
	ZSTD_CCtx *cctx;
	int level;
};

struct decompressor {
	ZSTD_DCtx *dctx;
};

struct compressor *compressor_new(int level)
{
	struct compressor *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->level = level;
	if (level > 0) {
		c->cctx = ZSTD_createCCtx();
		if (!c->cctx) {
			free(c);
			return NULL;
		}
		ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_compressionLevel, level);
		/* The raw length is kept in the index; no need to repeat it. */
		ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_checksumFlag, 0);
	}
	return c;
}

void compressor_free(struct compressor *c)
{
	if (!c)
		return;
	ZSTD_freeCCtx(c->cctx);
	free(c);
}

size_t compress_bound(size_t len)
{
	return ZSTD_compressBound(len);
}

size_t compressor_run(struct compressor *c, const void *src, size_t len, void *dst, size_t cap)
{
	if (c->level <= 0 || len < 64)
		return 0;
	size_t n = ZSTD_compress2(c->cctx, dst, cap, src, len);
	if (ZSTD_isError(n) || n >= len)
		return 0;
	return n;
}

struct decompressor *decompressor_new(void)
{
	struct decompressor *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->dctx = ZSTD_createDCtx();
	if (!d->dctx) {
		free(d);
		return NULL;
	}
	return d;
}

void decompressor_free(struct decompressor *d)
{
	if (!d)
		return;
	ZSTD_freeDCtx(d->dctx);
	free(d);
}

int decompressor_run(struct decompressor *d, const void *src, size_t len, void *dst, size_t rawlen)
{
	unsigned long long fsize = ZSTD_getFrameContentSize(src, len);
	if (fsize == ZSTD_CONTENTSIZE_ERROR || (fsize != ZSTD_CONTENTSIZE_UNKNOWN && fsize != rawlen))
		return CAIRN_ECORRUPT;
	size_t n = ZSTD_decompressDCtx(d->dctx, dst, rawlen, src, len);
	if (ZSTD_isError(n) || n != rawlen)
		return CAIRN_ECORRUPT;
	return 0;
}
