/*
 * chunker.h - FastCDC content-defined chunking (normalized chunking,
 * Xia et al. 2016/2020) with a gear table derived from a repository secret,
 * so chunk boundaries do not fingerprint known content (DESIGN.md inv. 2).
 *
 * The chunker is stateless between calls: chunker_cut() looks at a buffer
 * that starts at a chunk boundary and says where the chunk ends. It is
 * read-only after chunker_new() and may be shared between threads.
 */
#ifndef CAIRN_CHUNKER_H
#define CAIRN_CHUNKER_H

#include <stddef.h>
#include <stdint.h>

struct chunker_params {
	uint32_t min;	/* no cut before this many bytes */
	uint32_t avg;	/* normalisation point; a power of two */
	uint32_t max;	/* always cut here */
};

#define CHUNKER_LIMIT_MIN 64u
#define CHUNKER_LIMIT_MAX (16u << 20)

/* Checks that 64 <= min < avg < max <= 16 MiB and avg is a power of two.
 * Returns 0 or CAIRN_EINVAL (and logs which rule failed). */
int chunker_params_check(const struct chunker_params *p);

struct chunker;

/* Builds the gear table from seed (32 bytes). Returns NULL on allocation
 * failure or invalid params. Free with chunker_free(). */
struct chunker *chunker_new(const struct chunker_params *p, const uint8_t seed[32]);
void chunker_free(struct chunker *c);

const struct chunker_params *chunker_params(const struct chunker *c);

/* Given len bytes starting at a chunk boundary, returns the length of the
 * chunk that starts there. Returns 0 when more data is needed to decide
 * (len < max and !eof). With eof set, returns min(len, cut). Never returns
 * more than len or more than max. */
size_t chunker_cut(const struct chunker *c, const uint8_t *buf, size_t len, int eof);

#endif
