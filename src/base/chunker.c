/*
 * chunker.c - FastCDC with normalized chunking (level 2).
 *
 * Gear hash: fp = (fp << 1) + gear[byte]; bit 63 of fp depends on the last
 * 64 bytes. A cut is declared where the top bits of fp are all zero: before
 * the average size the mask has log2(avg)+2 bits (cuts are rarer), after it
 * log2(avg)-2 bits (cuts are likelier), which narrows the size distribution
 * around avg. The 256 gear values are keyed BLAKE2b outputs of the chunker
 * seed, so boundaries depend on a repository secret.
 */
#include "cairn/common.h"
#include "cairn/chunker.h"
#include "cairn/buf.h"
#include "cairn/crypto.h"
#include "cairn/log.h"

struct chunker {
	struct chunker_params p;
	uint64_t mask_small;	/* used before avg: harder to match */
	uint64_t mask_large;	/* used after avg: easier to match */
	uint64_t gear[256];
};

int chunker_params_check(const struct chunker_params *p)
{
	if (p->min < CHUNKER_LIMIT_MIN || p->max > CHUNKER_LIMIT_MAX) {
		log_error("chunk sizes must lie between %u bytes and %u MiB", CHUNKER_LIMIT_MIN,
			  CHUNKER_LIMIT_MAX >> 20);
		return CAIRN_EINVAL;
	}
	if (!(p->min < p->avg && p->avg < p->max)) {
		log_error("chunk sizes must satisfy min < avg < max (got %u, %u, %u)", p->min,
			  p->avg, p->max);
		return CAIRN_EINVAL;
	}
	if (p->avg & (p->avg - 1)) {
		log_error("average chunk size %u is not a power of two", p->avg);
		return CAIRN_EINVAL;
	}
	if (p->avg < 256) {
		log_error("average chunk size must be at least 256 bytes");
		return CAIRN_EINVAL;
	}
	return 0;
}

/* Mask with the top n bits set. */
static uint64_t top_bits(unsigned n)
{
	return n >= 64 ? ~(uint64_t)0 : ~(~(uint64_t)0 >> n);
}

struct chunker *chunker_new(const struct chunker_params *p, const uint8_t seed[32])
{
	if (chunker_params_check(p) < 0)
		return NULL;
	struct chunker *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->p = *p;
	unsigned bits = (unsigned)__builtin_ctz(p->avg);
	c->mask_small = top_bits(bits + 2);
	c->mask_large = top_bits(bits - 2);
	for (unsigned i = 0; i < 256; i++) {
		uint8_t in[16] = "cairn-gear";
		uint8_t out[CRYPTO_ID_LEN];
		in[12] = (uint8_t)i;
		crypto_keyed_hash(seed, in, sizeof(in), out);
		c->gear[i] = get_u64le(out);
	}
	return c;
}

void chunker_free(struct chunker *c)
{
	free(c);
}

const struct chunker_params *chunker_params(const struct chunker *c)
{
	return &c->p;
}

size_t chunker_cut(const struct chunker *c, const uint8_t *buf, size_t len, int eof)
{
	const struct chunker_params *p = &c->p;
	if (len <= p->min)
		return eof ? len : 0;
	size_t n = len < p->max ? len : p->max;
	size_t normal = n < p->avg ? n : p->avg;
	uint64_t fp = 0;
	size_t i = p->min;
	const uint64_t *gear = c->gear;
	for (; i < normal; i++) {
		fp = (fp << 1) + gear[buf[i]];
		if (!(fp & c->mask_small))
			return i + 1;
	}
	for (; i < n; i++) {
		fp = (fp << 1) + gear[buf[i]];
		if (!(fp & c->mask_large))
			return i + 1;
	}
	if (n == p->max)
		return n;
	return eof ? len : 0;
}
