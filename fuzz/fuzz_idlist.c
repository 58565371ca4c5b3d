/*
 * fuzz_idlist.c - libFuzzer target for idlist_decode and the reader.
 *
 * A LIST blob has no optional parts, so whatever decodes must re-encode to
 * exactly the input. The decoded blob is then read through an
 * idlist_reader at depth 1 whose loader returns the input itself, plus
 * seeks. (Size mismatches are left to the unit test: they log an error.)
 */
#include "cairn/common.h"
#include "cairn/idlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	const uint8_t *data;
	size_t size;
};

/* Every LIST blob id loads the fuzz input. */
static int load_input(void *arg, const uint8_t id[32], struct buf *out)
{
	const struct input *in = arg;
	(void)id;
	buf_reset(out);
	buf_put(out, in->data, in->size);
	return buf_ok(out);
}

/* Reads everything; returns the number of refs or an error. */
static long read_all(struct idlist_reader *r)
{
	struct content_ref ref;
	long n = 0;
	int e;
	while ((e = idlist_reader_next(r, &ref)) == 1)
		n++;
	return e < 0 ? e : n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct content_ref *refs = NULL;
	struct buf e1 = BUF_INIT;
	size_t n = 0;
	struct input in = { data, size };

	if (idlist_decode(data, size, &refs, &n) != 0)
		return 0;
	if (n == 0 || n > IDLIST_BLOB_MAX)
		abort();
	if (idlist_encode(refs, n, &e1) != 0 || e1.len != size || memcmp(e1.data, data, size) != 0)
		abort();

	uint64_t sum = 0;
	int overflow = 0;
	for (size_t i = 0; i < n; i++) {
		overflow |= refs[i].size > UINT64_MAX - sum;
		sum += refs[i].size;
	}
	if (!overflow) { /* an overflowing sum is CAIRN_ECORRUPT, and logs */
		struct content_ref top = { .id = { 1 }, .size = sum };
		struct idlist_reader *r;
		if (idlist_reader_new(&top, 1, 1, load_input, &in, &r) != 0)
			abort();
		if (read_all(r) != (long)n)
			abort();
		uint64_t offs[4] = { 0, sum / 2, sum ? sum - 1 : 0, sum }, start;
		for (int k = 0; k < 4; k++) {
			int e = idlist_reader_seek(r, offs[k], &start);
			if (e < 0 || (e == 0) != (offs[k] < sum) || start > offs[k])
				abort();
			struct content_ref ref;
			if (e == 0 && (idlist_reader_next(r, &ref) != 1 ||
				       ref.size <= offs[k] - start))
				abort();
		}
		idlist_reader_free(r);
	}

	free(refs);
	buf_free(&e1);
	return 0;
}
