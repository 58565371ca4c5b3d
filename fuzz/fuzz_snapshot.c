/*
 * fuzz_snapshot.c - libFuzzer target for snapshot_decode.
 *
 * Whatever decodes must re-encode stably, and (the encoding being
 * canonical) encode(decode(x)) is never longer than x and equals x when it
 * has the same length.
 */
#include "cairn/common.h"
#include "cairn/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snapshot s, s2;
	struct buf e1 = BUF_INIT, e2 = BUF_INIT;

	snapshot_init(&s);
	snapshot_init(&s2);
	if (snapshot_decode(data, size, &s) != 0)
		return 0;
	if (!s.hostname)
		abort(); /* required field */
	for (size_t i = 0; i < s.n_tags; i++)
		if (!snapshot_has_tag(&s, s.tags[i]))
			abort();
	if (snapshot_encode(&s, &e1) != 0)
		abort();
	if (e1.len > size || (e1.len == size && memcmp(e1.data, data, size) != 0))
		abort();
	if (snapshot_decode(e1.data, e1.len, &s2) != 0 || snapshot_encode(&s2, &e2) != 0)
		abort();
	if (e1.len != e2.len || memcmp(e1.data, e2.data, e1.len) != 0)
		abort();
	snapshot_clear(&s);
	snapshot_clear(&s2);
	buf_free(&e1);
	buf_free(&e2);
	return 0;
}
