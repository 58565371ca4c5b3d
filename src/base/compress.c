/*
 * compress.c - zstd contexts, one per thread.
 */
#include "cairn/common.h"
#include "cairn/compress.h"
#include "cairn/log.h"

/* ZSTD_createCDict_advanced (zstd's experimental API, stable since 1.4; it
 * is exported by the shared library) */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#define ZDICT_STATIC_LINKING_ONLY	/* ZDICT_trainFromBuffer_fastCover */
#include <zdict.h>

struct compressor {
	ZSTD_CCtx *cctx;
	int level;
};

struct decompressor {
	ZSTD_DCtx *dctx;
};

struct zdict {
	ZSTD_CDict *cdict;	/* NULL when made for decompression only */
	ZSTD_DDict *ddict;
};

static int zdict_make(const void *data, size_t len, int level, int fast, struct zdict **ret)
{
	/* A zstd dictionary starts with its magic; anything else would be
	 * taken as raw content, which is not what was stored. */
	if (len < 8 || ZDICT_getDictID(data, len) == 0)
		return CAIRN_ECORRUPT;
	struct zdict *z = calloc(1, sizeof(*z));
	if (!z)
		return CAIRN_ENOMEM;
	z->ddict = ZSTD_createDDict(data, len);
	if (level > 0 && fast && level <= 3) {
		ZSTD_compressionParameters cp = ZSTD_getCParams(level, 0, len);
		cp.strategy = ZSTD_fast;
		cp.minMatch = 6;	/* compress.h: 10 % faster, 1 % more output */
		z->cdict = ZSTD_createCDict_advanced(data, len, ZSTD_dlm_byCopy, ZSTD_dct_auto, cp,
						     ZSTD_defaultCMem);
	} else if (level > 0) {
		z->cdict = ZSTD_createCDict(data, len, level);
	}
	if (!z->ddict || (level > 0 && !z->cdict)) {
		zdict_free(z);
		return CAIRN_ECORRUPT;
	}
	*ret = z;
	return 0;
}

int zdict_new(const void *data, size_t len, int level, struct zdict **ret)
{
	return zdict_make(data, len, level, 0, ret);
}

int zdict_new_fast(const void *data, size_t len, int level, struct zdict **ret)
{
	return zdict_make(data, len, level, 1, ret);
}

void zdict_free(struct zdict *z)
{
	if (!z)
		return;
	ZSTD_freeCDict(z->cdict);
	ZSTD_freeDDict(z->ddict);
	free(z);
}

int zdict_can_compress(const struct zdict *z)
{
	return z && z->cdict;
}

int zdict_train(const void *samples, const size_t *sizes, unsigned n, size_t cap,
		struct buf *out)
{
	buf_reset(out);
	if (n < 16 || buf_reserve(out, cap) < 0)
		return n < 16 ? CAIRN_EINVAL : CAIRN_ENOMEM;
	/* fastCover with fixed parameters rather than ZDICT_trainFromBuffer,
	 * which tries four segment sizes: measured on 1024 4 KiB chunks of a
	 * 200 MB pg_dump, 0.07 s instead of 0.30 s, and the dictionary
	 * compresses a dump six hours later as well (2.937 vs 2.927). The
	 * training runs at the end of a first backup, on its critical path. */
	ZDICT_fastCover_params_t p;
	memset(&p, 0, sizeof(p));
	p.k = 200;	/* segment size */
	p.d = 8;	/* dmer size */
	/* log2 of the frequency tables (4 + 2 bytes an entry): 18, not the
	 * default 20, keeps training in 1.5 MiB instead of 6, and the
	 * dictionary compressed the benchmark's sixth hourly dump as well
	 * (34.00 vs 34.05 % of its size) */
	p.f = 18;
	p.accel = 1;
	p.zParams.compressionLevel = 3;
	size_t r = ZDICT_trainFromBuffer_fastCover(out->data, cap, samples, sizes, n, p);
	if (ZDICT_isError(r)) {
		log_debug("dictionary training: %s", ZDICT_getErrorName(r));
		return CAIRN_EINVAL;
	}
	out->len = r;
	return 0;
}

void compressor_set_dict(struct compressor *c, const struct zdict *z)
{
	if (!c->cctx)
		return;
	ZSTD_CCtx_refCDict(c->cctx, z ? z->cdict : NULL);
	/* Attach the dictionary's tables instead of copying them into the
	 * context for every blob: zstd copies above 8 KiB at level 3, and a
	 * copy of ~1 MiB of tables per 8 KiB chunk cost more than the
	 * compression itself (measured: hourly dump backups 2x the CPU).
	 * ZSTD_c_forceAttachDict is zstd's experimental parameter 4
	 * (ZSTD_c_experimentalParam4, stable in value since 1.4); a library
	 * that does not know it refuses it and keeps its default. */
	ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_experimentalParam4, z ? 1 : 0);
	/* The blob names its dictionary (pack.h); the frame need not. */
	ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_dictIDFlag, 0);
}

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

int decompressor_run_dict(struct decompressor *d, const struct zdict *z, const void *src,
			  size_t len, void *dst, size_t rawlen)
{
	unsigned long long fsize = ZSTD_getFrameContentSize(src, len);
	if (fsize == ZSTD_CONTENTSIZE_ERROR || (fsize != ZSTD_CONTENTSIZE_UNKNOWN && fsize != rawlen))
		return CAIRN_ECORRUPT;
	size_t n = ZSTD_decompress_usingDDict(d->dctx, dst, rawlen, src, len, z->ddict);
	if (ZSTD_isError(n) || n != rawlen)
		return CAIRN_ECORRUPT;
	return 0;
}
