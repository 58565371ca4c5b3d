/*
 * fuzz_rdb.c - libFuzzer target for the RDB side of dumpcheck.
 *
 * The input is fed in split sizes derived from its own bytes, and the
 * verdict must not depend on the splits (one piece gives the same status
 * and detail). Then it is wrapped into a well-formed RDB ("REDIS0010",
 * the input, the EOF opcode, its CRC-64): that must verify (or, when the
 * CRC happens to be 0, pass as unchecked), and with one bit of the trailer
 * flipped it must be refused.
 */
#include "cairn/common.h"
#include "cairn/buf.h"
#include "cairn/dumpcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feeds data in pieces whose sizes follow a generator seeded by seed
 * (0: one piece); returns the status and fills r. */
static int check(const uint8_t *data, size_t size, uint32_t seed, enum dumpcheck_format expect,
		 struct dumpcheck_result *r)
{
	struct dumpcheck *dc;
	if (dumpcheck_new(&dc) != 0)
		abort();
	dumpcheck_expect(dc, expect);
	size_t off = 0;
	while (off < size) {
		size_t k = size - off;
		if (seed) {
			seed = seed * 1103515245u + 12345u;
			k = CAIRN_MIN(k, (size_t)((seed >> 16) % 600) + 1);
		}
		dumpcheck_feed(dc, data + off, k);
		off += k;
	}
	int e = dumpcheck_finish(dc, r);
	dumpcheck_free(dc);
	if ((e == 0) != (r->status != DUMPCHECK_FAILED) || !r->format_name ||
	    strlen(r->detail) >= sizeof(r->detail) || r->bytes != size)
		abort();
	return e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dumpcheck_result a, b;
	uint32_t seed = size ? data[0] | 1u : 1;
	check(data, size, 0, DUMPCHECK_UNKNOWN, &a);
	check(data, size, seed, DUMPCHECK_UNKNOWN, &b);
	if (a.status != b.status || a.format != b.format || strcmp(a.detail, b.detail) != 0)
		abort(); /* the verdict depends on how the stream was split */
	check(data, size, seed, DUMPCHECK_RDB, &b);
	if (a.format == DUMPCHECK_RDB && (a.status != b.status || strcmp(a.detail, b.detail) != 0))
		abort();
	if (a.format != DUMPCHECK_RDB && b.status != DUMPCHECK_FAILED)
		abort(); /* the expectation was not enforced */

	struct buf w = BUF_INIT;
	buf_put(&w, "REDIS0010", 9);
	buf_put(&w, data, size);
	buf_put_u8(&w, 0xff);
	uint64_t crc = dumpcheck_crc64(0, w.data, w.len);
	buf_put_u64le(&w, crc);
	if (buf_ok(&w) != 0)
		abort();
	check(w.data, w.len, seed, DUMPCHECK_UNKNOWN, &a);
	if (a.status != (crc ? DUMPCHECK_VERIFIED : DUMPCHECK_UNCHECKED))
		abort(); /* a well-formed RDB was not accepted */
	w.data[w.len - 1 - (seed % 8)] ^= (uint8_t)(1u << (seed % 7));
	check(w.data, w.len, seed, DUMPCHECK_UNKNOWN, &a);
	/* a flipped trailer may still look like a zero checksum only if it became 0 */
	if (a.status != DUMPCHECK_FAILED && get_u64le(w.data + w.len - 8) != 0)
		abort();
	buf_free(&w);
	return 0;
}
