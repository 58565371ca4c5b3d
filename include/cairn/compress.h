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

struct decompressor;

struct decompressor *decompressor_new(void);
void decompressor_free(struct decompressor *d);

/* Decompresses exactly rawlen bytes into dst. Returns 0, or CAIRN_ECORRUPT
 * when the frame is malformed or its size differs from rawlen. */
int decompressor_run(struct decompressor *d, const void *src, size_t len, void *dst, size_t rawlen);

#endif
