/*
 * indexfile.c - index file encoding (format in indexfile.h).
 */
#include "cairn/common.h"
#include "cairn/indexfile.h"

void indexfile_begin(struct buf *out, size_t n_packs)
{
	buf_put(out, "CIX1", 4);
	buf_put_varint(out, n_packs);
}

void indexfile_add_pack(struct buf *out, const uint8_t pack_id[32], uint64_t pack_size,
			const struct pack_entry *e, size_t n)
{
	buf_put(out, pack_id, 32);
	buf_put_varint(out, pack_size);
	buf_put_varint(out, n);
	for (size_t i = 0; i < n; i++) {
		buf_put_u8(out, e[i].type);
		buf_put(out, e[i].id, 32);
		buf_put_varint(out, e[i].offset);
		buf_put_varint(out, e[i].length);
		buf_put_varint(out, e[i].raw_length);
	}
}

int indexfile_decode(const void *data, size_t len, indexfile_pack_fn fn, void *arg)
{
	struct rd r;
	rd_init(&r, data, len);
	const uint8_t *magic;
	uint64_t npacks;
	if (rd_take(&r, 4, &magic) < 0 || memcmp(magic, "CIX1", 4) != 0 ||
	    rd_varint(&r, &npacks) < 0 || npacks > r.len / 34)
		return CAIRN_ECORRUPT;
	struct pack_entry *ents = NULL;
	size_t cap = 0;
	int ret = 0;
	for (uint64_t p = 0; p < npacks; p++) {
		uint8_t pack_id[32];
		uint64_t size, n;
		if (rd_copy(&r, pack_id, 32) < 0 || rd_varint(&r, &size) < 0 ||
		    rd_varint(&r, &n) < 0 || n == 0 || n > PACK_MAX_BLOBS || n > r.len / 36) {
			ret = CAIRN_ECORRUPT;
			goto out;
		}
		if (n > cap) {
			struct pack_entry *t = realloc(ents, (size_t)n * sizeof(*ents));
			if (!t) {
				ret = CAIRN_ENOMEM;
				goto out;
			}
			ents = t;
			cap = (size_t)n;
		}
		for (size_t i = 0; i < n; i++) {
			struct pack_entry *e = &ents[i];
			uint64_t off, l, raw;
			if (rd_u8(&r, &e->type) < 0 || rd_copy(&r, e->id, 32) < 0 ||
			    rd_varint(&r, &off) < 0 || rd_varint(&r, &l) < 0 ||
			    rd_varint(&r, &raw) < 0 || !blob_type_valid(e->type) ||
			    l > UINT32_MAX || raw > UINT32_MAX || off > size || l > size - off) {
				ret = CAIRN_ECORRUPT;
				goto out;
			}
			e->offset = off;
			e->length = (uint32_t)l;
			e->raw_length = (uint32_t)raw;
		}
		ret = fn(arg, pack_id, size, ents, (size_t)n);
		if (ret)
			goto out;
	}
	if (r.len != 0)
		ret = CAIRN_ECORRUPT;
out:
	free(ents);
	return ret;
}
