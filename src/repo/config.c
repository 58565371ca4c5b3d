/*
 * config.c - the `config` object (format in config.h).
 */
#include "cairn/common.h"
#include "cairn/config.h"

#include <errno.h>

int config_encode(const struct repo_config *c, struct buf *out)
{
	char hex[65];
	hex_encode(c->id, 32, hex);
	buf_reset(out);
	buf_printf(out,
		   "cairn-repository\nversion=%u\nid=%s\ncreated=%lld\nchunker_min=%u\n"
		   "chunker_avg=%u\nchunker_max=%u\ncompression=%d\npack_size=%llu\n",
		   c->version, hex, (long long)c->created, c->chunker.min, c->chunker.avg,
		   c->chunker.max, c->compression, (unsigned long long)c->pack_size);
	return buf_ok(out);
}

/* Parses a decimal number of at most 19 digits; -1 when malformed. */
static int parse_num(const char *s, size_t n, uint64_t *ret)
{
	if (n == 0 || n > 19)
		return -1;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*ret = v;
	return 0;
}

int config_decode(const void *data, size_t len, struct repo_config *ret)
{
	static const char head[] = "cairn-repository\n";
	const char *p = data, *end = p + len;
	struct repo_config c;
	unsigned seen = 0;
	memset(&c, 0, sizeof(c));
	if (len > 65536 || len < sizeof(head) - 1 || memcmp(p, head, sizeof(head) - 1) != 0)
		return CAIRN_ECORRUPT;
	p += sizeof(head) - 1;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			return CAIRN_ECORRUPT;
		const char *eq = memchr(p, '=', (size_t)(nl - p));
		if (!eq)
			return CAIRN_ECORRUPT;
		size_t klen = (size_t)(eq - p), vlen = (size_t)(nl - eq - 1);
		const char *v = eq + 1;
		uint64_t num = 0;
#define KEY(k) (klen == sizeof(k) - 1 && memcmp(p, k, klen) == 0)
		if (KEY("id")) {
			char hex[65];
			if (vlen != 64)
				return CAIRN_ECORRUPT;
			memcpy(hex, v, 64);
			hex[64] = 0;
			if (hex_decode(hex, c.id, 32) < 0)
				return CAIRN_ECORRUPT;
			seen |= 1;
		} else if (KEY("version") || KEY("created") || KEY("chunker_min") ||
			   KEY("chunker_avg") || KEY("chunker_max") || KEY("compression") ||
			   KEY("pack_size")) {
			if (parse_num(v, vlen, &num) < 0)
				return CAIRN_ECORRUPT;
			if (KEY("version")) {
				if (num > 1000)
					return CAIRN_ECORRUPT;
				c.version = (uint32_t)num, seen |= 2;
			} else if (KEY("created")) {
				if (num > INT64_MAX)
					return CAIRN_ECORRUPT;
				c.created = (int64_t)num, seen |= 4;
			} else if (KEY("compression")) {
				if (num > 22)
					return CAIRN_ECORRUPT;
				c.compression = (int)num, seen |= 8;
			} else if (KEY("pack_size")) {
				if (num < (64u << 10) || num > (1ull << 32))
					return CAIRN_ECORRUPT;
				c.pack_size = num, seen |= 16;
			} else {
				if (num > UINT32_MAX)
					return CAIRN_ECORRUPT;
				if (KEY("chunker_min"))
					c.chunker.min = (uint32_t)num, seen |= 32;
				else if (KEY("chunker_avg"))
					c.chunker.avg = (uint32_t)num, seen |= 64;
				else
					c.chunker.max = (uint32_t)num, seen |= 128;
			}
		}
#undef KEY
		p = nl + 1;
	}
	if (seen != 255)
		return CAIRN_ECORRUPT;
	if (c.version != REPO_FORMAT_VERSION)
		return CAIRN_EUNSUPPORTED;
	const struct chunker_params *cp = &c.chunker;
	/* the rules of chunker_params_check, without its messages */
	if (!(cp->min >= CHUNKER_LIMIT_MIN && cp->min < cp->avg && cp->avg < cp->max &&
	      cp->max <= CHUNKER_LIMIT_MAX && !(cp->avg & (cp->avg - 1)) && cp->avg >= 256))
		return CAIRN_ECORRUPT;
	*ret = c;
	return 0;
}
