/*
 * compress.h - zstd compression of blobs.
 *
 * One compressor/decompressor per thread: they own a zstd context and are
 * not thread-safe. A blob is stored compressed only when that makes it
 * smaller; compress_blob() reports which.
 */
#ifndef CAIRN_COMPRESS_H
#define CAIRN_COMPRESS_H

#include <stddef.h>

#include "cairn/buf.h"

struct compressor;

/* level 0 disables compression; 1..19 are zstd levels. NULL on ENOMEM. */
struct compressor *compressor_new(int level);
void compressor_free(struct compressor *c);

/* Upper bound of compressed size for len input bytes. */
size_t compress_bound(size_t len);

/* Compresses src into dst (cap bytes, at least compress_bound(len)).
 * Returns the compressed length when it is smaller than len, or 0 when the
 * blob should be stored raw (not smaller, or compression disabled).
 * Never fails otherwise. */
size_t compressor_run(struct compressor *c, const void *src, size_t len, void *dst, size_t cap);

/* Dictionaries: trained on samples of a backup's new data blobs, stored as
 * DICT blobs, then used for the next backups of the same series (the
 * parent's). On 8 KiB chunks of SQL text a 110 KiB dictionary makes zstd
 * output 7-15 % smaller (bench/RESULTS.md). A zdict holds the prepared
 * compression (at one level) and decompression tables; it is read-only
 * once made and may be shared by threads. */
struct zdict;

/* Prepares a dictionary for level (ignored for decompression only: 0).
 * CAIRN_ECORRUPT when the bytes are not a zstd dictionary, CAIRN_ENOMEM. */
int zdict_new(const void *data, size_t len, int level, struct zdict **ret);
/* zdict_new whose compression at levels 1-3 uses zstd's fast strategy
 * with the level's table sizes and matches of at least 6 bytes, instead of
 * the level's own parameters (double fast, 5 bytes at 3). Measured on
 * 4 KiB chunks of the benchmark's pg_dump0 with a dictionary, zstd -3, on
 * one core: the fast strategy 164 -> 181 MB/s, output 35.0 -> 36.0 % of
 * the input; then 6-byte matches 190 -> 210 MB/s (best of 5), output
 * 36.5 -> 36.9 % (7 bytes: 38.9 %). For the early dictionary of a first
 * backup, which compresses all of its input (saver.c); the data it
 * compresses decompresses like any other. */
int zdict_new_fast(const void *data, size_t len, int level, struct zdict **ret);
void zdict_free(struct zdict *z);
/* 1 when z can compress (it was made with a level > 0). */
int zdict_can_compress(const struct zdict *z);

/* Trains a dictionary of at most cap bytes from n samples laid end to end
 * in samples (sizes[i] bytes each) into out (reset first). CAIRN_EINVAL
 * when the samples are too few or too alike to train on. */
int zdict_train(const void *samples, const size_t *sizes, unsigned n, size_t cap,
		struct buf *out);

/* Compress with z from now on (NULL: without a dictionary again). z must
 * outlive its use by c. */
void compressor_set_dict(struct compressor *c, const struct zdict *z);

struct decompressor;

struct decompressor *decompressor_new(void);
void decompressor_free(struct decompressor *d);

/* Decompresses exactly rawlen bytes into dst. Returns 0, or CAIRN_ECORRUPT
 * when the frame is malformed or its size differs from rawlen. */
int decompressor_run(struct decompressor *d, const void *src, size_t len, void *dst, size_t rawlen);
/* The same for a frame compressed with the dictionary z. */
int decompressor_run_dict(struct decompressor *d, const struct zdict *z, const void *src,
			  size_t len, void *dst, size_t rawlen);

#endif
