/*
 * fuzz_indexfile.c - libFuzzer target for indexfile_decode.
 *
 * The callback sums every field (so each is read) and checks what the
 * decoder promises: known blob types, entries inside their pack. It also
 * re-encodes each pack with indexfile_add_pack: the encoding is canonical
 * (varints without overlong forms, nothing after the last pack), so
 * whatever decodes must re-encode to exactly the input.
 */
#include "cairn/common.h"
#include "cairn/indexfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct state {
	uint64_t sum;
	size_t packs;
	struct buf body;	/* re-encoded packs */
};

static int sum_pack(void *arg, const uint8_t pack_id[32], uint64_t pack_size,
		    const struct pack_entry *e, size_t n)
{
	struct state *s = arg;
	if (n == 0 || n > PACK_MAX_BLOBS)
		abort();
	s->sum += pack_id[0] + pack_size + n;
	for (size_t i = 0; i < n; i++) {
		if (!blob_type_valid(e[i].type) || e[i].offset > pack_size ||
		    e[i].length > pack_size - e[i].offset)
			abort();
		s->sum += e[i].type + e[i].id[31] + e[i].offset + e[i].length + e[i].raw_length;
	}
	s->packs++;
	indexfile_add_pack(&s->body, pack_id, pack_size, e, n);
	/* Stop early sometimes, to exercise the callback's veto. */
	return s->packs == 1000 ? 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state s = { 0, 0, BUF_INIT };
	int e = indexfile_decode(data, size, sum_pack, &s);
	if (e == 0) {
		struct buf again = BUF_INIT;
		indexfile_begin(&again, s.packs);
		buf_put(&again, s.body.data, s.body.len);
		if (buf_ok(&again) == 0 &&
		    (again.len != size || (size && memcmp(again.data, data, size) != 0)))
			abort(); /* decoded, but not canonical */
		buf_free(&again);
	} else if (e != CAIRN_ECORRUPT && e != CAIRN_ENOMEM && e != 1) {
		abort();
	}
	buf_free(&s.body);
	return 0;
}
