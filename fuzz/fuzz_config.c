/*
 * fuzz_config.c - libFuzzer target for config_decode.
 *
 * Whatever decodes must survive config_encode: decoding the encoding gives
 * the same struct, and encoding is stable.
 */
#include "cairn/common.h"
#include "cairn/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_config(const struct repo_config *a, const struct repo_config *b)
{
	return a->version == b->version && memcmp(a->id, b->id, 32) == 0 &&
	       a->created == b->created && a->chunker.min == b->chunker.min &&
	       a->chunker.avg == b->chunker.avg && a->chunker.max == b->chunker.max &&
	       a->compression == b->compression && a->pack_size == b->pack_size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct repo_config c, c2;
	struct buf e1 = BUF_INIT, e2 = BUF_INIT;
	int e = config_decode(data, size, &c);
	if (e != 0) {
		if (e != CAIRN_ECORRUPT && e != CAIRN_EUNSUPPORTED)
			abort();
		return 0;
	}
	if (c.version != REPO_FORMAT_VERSION || chunker_params_check(&c.chunker) != 0)
		abort(); /* decode promised a usable config */
	if (config_encode(&c, &e1) != 0)
		abort();
	if (config_decode(e1.data, e1.len, &c2) != 0 || !same_config(&c, &c2))
		abort(); /* encode(decode(x)) does not decode to the same config */
	if (config_encode(&c2, &e2) != 0 || e1.len != e2.len ||
	    memcmp(e1.data, e2.data, e1.len) != 0)
		abort();
	buf_free(&e1);
	buf_free(&e2);
	return 0;
}
