/*
 * fuzz_pgdump.c - libFuzzer target for the pg_dump side of dumpcheck: the
 * custom-format (-Fc) header, TOC and data-block parser, and the plain
 * format's header and trailer checks.
 *
 * The input is fed in split sizes derived from its own bytes; the verdict
 * must not depend on the splits. Every proper prefix of an input that
 * verifies as a custom-format archive must be refused (truncation is
 * always caught); prefixes are sampled to keep runs fast. An input
 * without backslashes, wrapped between pg_dump's plain header and
 * completion trailer, must verify. The same bytes also go through the
 * directory-format toc.dat check (dumpcheck_pg_toc): every proper prefix of
 * a toc.dat that verifies must be refused.
 */
#include "cairn/common.h"
#include "cairn/buf.h"
#include "cairn/dumpcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feeds data in pieces whose sizes follow a generator seeded by seed
 * (0: one piece); returns the status and fills r. */
static int check(const uint8_t *data, size_t size, uint32_t seed, struct dumpcheck_result *r)
{
	struct dumpcheck *dc;
	if (dumpcheck_new(&dc) != 0)
		abort();
	size_t off = 0;
	while (off < size) {
		size_t k = size - off;
		if (seed) {
			seed = seed * 1103515245u + 12345u;
			k = CAIRN_MIN(k, (size_t)((seed >> 16) % 300) + 1);
		}
		dumpcheck_feed(dc, data + off, k);
		off += k;
	}
	int e = dumpcheck_finish(dc, r);
	dumpcheck_free(dc);
	if ((e == 0) != (r->status != DUMPCHECK_FAILED) || !r->format_name ||
	    strlen(r->detail) >= sizeof(r->detail) || strlen(r->warning) >= sizeof(r->warning))
		abort();
	return e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dumpcheck_result a, b;
	uint32_t seed = size ? (uint32_t)(data[size - 1] | 1u) : 1;
	check(data, size, 0, &a);
	check(data, size, seed, &b);
	if (a.status != b.status || a.format != b.format || strcmp(a.detail, b.detail) != 0 ||
	    strcmp(a.warning, b.warning) != 0)
		abort(); /* the verdict depends on how the stream was split */

	if (a.format == DUMPCHECK_PG_CUSTOM && a.status == DUMPCHECK_VERIFIED) {
		size_t step = size / 64 + 1;
		for (size_t l = 5; l < size; l += step)
			if (check(data, l, seed, &b) == 0)
				abort(); /* a truncated archive passed */
		if (size > 5 && check(data, size - 1, 0, &b) == 0)
			abort();
	}

	uint64_t files = 0;
	struct dumpcheck_result t;
	int te = dumpcheck_pg_toc(data, size, &t, &files);
	if ((te == 0) != (t.status == DUMPCHECK_VERIFIED) || t.format != DUMPCHECK_PG_DIRECTORY ||
	    strlen(t.detail) >= sizeof(t.detail) || strlen(t.warning) >= sizeof(t.warning))
		abort();
	if (te == 0) {
		size_t step = size / 64 + 1;
		for (size_t l = 0; l < size; l += step)
			if (dumpcheck_pg_toc(data, l, &t, &files) == 0)
				abort(); /* a truncated toc.dat passed */
	}

	if (!memchr(data, '\\', size)) {
		struct buf w = BUF_INIT;
		buf_printf(&w, "--\n-- PostgreSQL database dump\n--\n\n");
		buf_put(&w, data, size);
		buf_printf(&w, "\n--\n-- PostgreSQL database dump complete\n--\n\n");
		if (buf_ok(&w) != 0)
			abort();
		if (check(w.data, w.len, seed, &a) != 0 || a.format != DUMPCHECK_PG_PLAIN ||
		    a.status != DUMPCHECK_VERIFIED)
			abort(); /* a complete plain dump was refused */
		if (check(w.data, w.len - 4, seed, &a) == 0)
			abort(); /* a cut trailer passed */
		buf_free(&w);
	}
	return 0;
}
