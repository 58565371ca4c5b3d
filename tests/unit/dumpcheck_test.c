/*
 * dumpcheck_test.c - the streaming dump detector and checker.
 *
 * CRC-64 known answer; a small RDB verifies in every split, and every
 * truncation and every flipped byte of it is refused; the EOF mark of
 * redis-cli; zero checksum and old versions; plain pg_dump with and without
 * the trailer and \unrestrict; a hand-built custom-format (-Fc) archive:
 * header, TOC, data framing, every truncation refused, compression warned;
 * gzip and zstd warnings; unknown input passes unchecked.
 */
#include "cairn/common.h"
#include "cairn/buf.h"
#include "cairn/dumpcheck.h"
#include "tap.h"

/* Runs bytes through a context in pieces of `split` bytes (0: one piece). */
static int run(const void *data, size_t len, size_t split, enum dumpcheck_format expect,
	       struct dumpcheck_result *r)
{
	struct dumpcheck *dc;
	if (dumpcheck_new(&dc) != 0)
		return -1;
	if (expect != DUMPCHECK_UNKNOWN)
		dumpcheck_expect(dc, expect);
	const uint8_t *p = data;
	size_t off = 0;
	while (off < len) {
		size_t k = split && split < len - off ? split : len - off;
		dumpcheck_feed(dc, p + off, k);
		off += k;
	}
	int e = dumpcheck_finish(dc, r);
	dumpcheck_free(dc);
	return e;
}

static int has(const char *s, const char *sub)
{
	return strstr(s, sub) != NULL;
}

/* A small RDB: header, aux fields, one database with a few keys, EOF, CRC. */
static void make_rdb(struct buf *b, const char *version, int with_crc, int zero_crc)
{
	buf_reset(b);
	buf_put(b, "REDIS", 5);
	buf_put(b, version, 4);
	buf_put(b, "\xfa\x09redis-ver\x06" "7.0.15", 18);
	buf_put(b, "\xfa\x0aredis-bits\xc0\x40", 14);
	buf_put(b, "\xfe\x00\xfb\x03\x00", 5);
	for (int i = 0; i < 3; i++) {
		char kv[32];
		int n = snprintf(kv, sizeof(kv), "key:%d", i);
		buf_put_u8(b, 0);	/* string */
		buf_put_u8(b, (uint8_t)n);
		buf_put(b, kv, (size_t)n);
		n = snprintf(kv, sizeof(kv), "value number %d", i);
		buf_put_u8(b, (uint8_t)n);
		buf_put(b, kv, (size_t)n);
	}
	buf_put_u8(b, 0xff);
	if (with_crc)
		buf_put_u64le(b, zero_crc ? 0 : dumpcheck_crc64(0, b->data, b->len));
}

static void test_crc(void)
{
	is_int(dumpcheck_crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9caULL, 1,
	       "CRC-64 of \"123456789\" is e9c6d914c4b8d9ca (Redis's crc64 test vector)");
	uint64_t c = dumpcheck_crc64(0, "1234", 4);
	ok(dumpcheck_crc64(c, "56789", 5) == 0xe9c6d914c4b8d9caULL, "CRC-64 continues across calls");
	ok(dumpcheck_crc64(0, "", 0) == 0, "CRC-64 of nothing is 0");
}

static void test_rdb(void)
{
	struct buf b = BUF_INIT, m = BUF_INIT;
	struct dumpcheck_result r;
	make_rdb(&b, "0010", 1, 0);
	is_int(run(b.data, b.len, 0, DUMPCHECK_UNKNOWN, &r), 0, "valid RDB passes");
	ok(r.format == DUMPCHECK_RDB && strcmp(r.format_name, "rdb") == 0, "detected as rdb");
	ok(r.status == DUMPCHECK_VERIFIED && has(r.detail, "CRC-64 ok") &&
	   has(r.detail, "version 10") && has(r.detail, "Redis 7.0"), "verified: %s", r.detail);

	int split_bad = 0;
	for (size_t s = 1; s <= b.len; s++)
		split_bad += run(b.data, b.len, s, DUMPCHECK_UNKNOWN, &r) != 0 ||
			     r.status != DUMPCHECK_VERIFIED;
	is_int(split_bad, 0, "valid RDB verifies fed in pieces of every size 1..%zu", b.len);

	/* every truncation: with the .rdb expectation even the shortest prefixes */
	int trunc_missed = 0, trunc_msg = 0;
	for (size_t l = 0; l < b.len; l++) {
		if (run(b.data, l, 3, DUMPCHECK_RDB, &r) != CAIRN_ECORRUPT ||
		    r.status != DUMPCHECK_FAILED)
			trunc_missed++;
		else if (l >= 18 && !has(r.detail, "truncated") && !has(r.detail, "mismatch"))
			trunc_msg++;
	}
	is_int(trunc_missed, 0, "every truncation (0..%zu bytes) is refused", b.len - 1);
	is_int(trunc_msg, 0, "truncations say truncated or mismatch");
	run(b.data, b.len - 3, 0, DUMPCHECK_UNKNOWN, &r);
	ok(has(r.detail, "truncated"), "cut trailer: %s", r.detail);
	/* without the expectation, a prefix that still shows "REDIS" + digits is caught */
	int short_missed = 0;
	for (size_t l = 5; l < b.len; l++)
		short_missed += run(b.data, l, 0, DUMPCHECK_UNKNOWN, &r) != CAIRN_ECORRUPT;
	is_int(short_missed, 0, "prefixes from 5 bytes on are refused without the expectation");

	/* (a flip in "REDIS0010" makes it unrecognisable, so only the .rdb
	 * expectation catches those) */
	int flip_missed = 0;
	for (size_t i = 0; i < b.len; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			b.data[i] ^= (uint8_t)(1u << bit);
			if (run(b.data, b.len, 7, i < 9 ? DUMPCHECK_RDB : DUMPCHECK_UNKNOWN, &r) == 0)
				flip_missed++;
			b.data[i] ^= (uint8_t)(1u << bit);
		}
	}
	is_int(flip_missed, 0, "every flipped bit (3 per byte) is refused");
	b.data[30] ^= 0x20;
	run(b.data, b.len, 0, DUMPCHECK_UNKNOWN, &r);
	ok(r.status == DUMPCHECK_FAILED && has(r.detail, "CRC-64 checksum mismatch"),
	   "flipped byte: %s", r.detail);
	b.data[30] ^= 0x20;

	/* redis-cli --rdb - on a diskless sync leaves a 40-hex-digit EOF mark */
	buf_reset(&m);
	buf_put(&m, b.data, b.len);
	buf_put(&m, "61a3e64d29d0fe8c76595d8f01d67861cc4a89d3", 40);
	run(m.data, m.len, 5, DUMPCHECK_RDB, &r);
	ok(r.status == DUMPCHECK_VERIFIED && has(r.detail, "EOF mark"), "EOF mark: %s", r.detail);
	m.data[m.len - 45] ^= 1;
	is_int(run(m.data, m.len, 0, DUMPCHECK_RDB, &r), CAIRN_ECORRUPT,
	       "flipped trailer before an EOF mark is refused");
	m.data[20] ^= 1;
	m.data[m.len - 45] ^= 1;
	is_int(run(m.data, m.len, 0, DUMPCHECK_RDB, &r), CAIRN_ECORRUPT,
	       "flipped body before an EOF mark is refused");

	/* a larger RDB crosses the kept tail: the streamed CRC must agree */
	buf_reset(&m);
	buf_put(&m, "REDIS0011", 9);
	for (int i = 0; i < 5000; i++)
		buf_put_u32le(&m, (uint32_t)i * 2654435761u);
	buf_put_u8(&m, 0xff);
	buf_put_u64le(&m, dumpcheck_crc64(0, m.data, m.len));
	int big_bad = 0;
	size_t splits[] = { 0, 1, 7, 8, 9, 511, 512, 513, 4096 };
	for (size_t i = 0; i < CAIRN_ARRAY_LEN(splits); i++)
		big_bad += run(m.data, m.len, splits[i], DUMPCHECK_UNKNOWN, &r) != 0 ||
			   r.status != DUMPCHECK_VERIFIED;
	is_int(big_bad, 0, "a 20 KB RDB verifies for split sizes around the window size");

	make_rdb(&b, "0010", 1, 1);
	is_int(run(b.data, b.len, 0, DUMPCHECK_UNKNOWN, &r), 0, "zero checksum is accepted");
	ok(r.status == DUMPCHECK_UNCHECKED && has(r.detail, "checksums off"), "zero checksum: %s",
	   r.detail);
	make_rdb(&b, "0004", 0, 0);
	is_int(run(b.data, b.len, 0, DUMPCHECK_UNKNOWN, &r), 0, "RDB version 4 is accepted");
	ok(r.status == DUMPCHECK_UNCHECKED && has(r.detail, "no checksum"), "version 4: %s",
	   r.detail);
	is_int(run(b.data, b.len - 1, 0, DUMPCHECK_UNKNOWN, &r), CAIRN_ECORRUPT,
	       "RDB version 4 without its EOF opcode is refused");
	make_rdb(&b, "0013", 1, 0);
	is_int(run(b.data, b.len, 0, DUMPCHECK_UNKNOWN, &r), CAIRN_ECORRUPT,
	       "RDB version 13 is refused");
	ok(has(r.detail, "not supported") && has(r.detail, "1 to 12"), "version 13: %s", r.detail);
	make_rdb(&b, "0012", 1, 0);
	is_int(run(b.data, b.len, 0, DUMPCHECK_UNKNOWN, &r), 0, "RDB version 12 verifies");

	is_int(run("hello", 5, 0, DUMPCHECK_RDB, &r), CAIRN_ECORRUPT,
	       "text is refused when an RDB is expected");
	ok(has(r.detail, "expected a Redis RDB"), "expectation: %s", r.detail);
	is_int(run("", 0, 0, DUMPCHECK_RDB, &r), CAIRN_ECORRUPT, "empty stream refused as RDB");
	ok(has(r.detail, "empty"), "empty: %s", r.detail);
	buf_free(&b);
	buf_free(&m);
}

static const char KEY[] = "C1wvjnH4UFClf8Jwcwr28tILv8ESg3iPPLg8iwEaTAgL6DLyggNganzVwAG9a6U";

/* A plain pg_dump: header, \restrict (when key), rows, trailer (when complete). */
static void make_plain(struct buf *b, const char *key, int complete, int unrestrict)
{
	buf_reset(b);
	buf_printf(b, "--\n-- PostgreSQL database dump\n--\n\n");
	if (key)
		buf_printf(b, "\\restrict %s\n\n", key);
	buf_printf(b, "-- Dumped from database version 15.18\n\nSET statement_timeout = 0;\n");
	buf_printf(b, "COPY public.t (a, b) FROM stdin;\n");
	for (int i = 0; i < 200; i++)
		buf_printf(b, "%d\trow %d\n", i, i * 7);
	buf_printf(b, "\\.\n\n\n");
	if (complete)
		buf_printf(b, "--\n-- PostgreSQL database dump complete\n--\n\n");
	if (key && unrestrict)
		buf_printf(b, "\\unrestrict %s\n\n", key);
}

static void test_plain(void)
{
	struct buf b = BUF_INIT;
	struct dumpcheck_result r;
	make_plain(&b, KEY, 1, 1);
	is_int(run(b.data, b.len, 0, DUMPCHECK_UNKNOWN, &r), 0, "plain dump with trailer passes");
	ok(r.format == DUMPCHECK_PG_PLAIN && r.status == DUMPCHECK_VERIFIED &&
	   has(r.detail, "keys match"), "verified plain: %s", r.detail);
	int split_bad = 0;
	for (size_t s = 1; s < 300; s += 7)
		split_bad += run(b.data, b.len, s, DUMPCHECK_UNKNOWN, &r) != 0;
	is_int(split_bad, 0, "plain dump passes in pieces of many sizes");

	int trunc_missed = 0;
	size_t hdr = strlen("--\n-- PostgreSQL database dump\n--\n");
	for (size_t l = hdr; l < b.len; l++)
		trunc_missed += run(b.data, l, 13, DUMPCHECK_UNKNOWN, &r) != CAIRN_ECORRUPT;
	/* cutting only the two final newlines leaves a complete dump */
	is_int(trunc_missed, 2, "every truncation after the header is refused (but of the final "
	       "newlines)");

	make_plain(&b, KEY, 0, 0);
	is_int(run(b.data, b.len, 0, DUMPCHECK_UNKNOWN, &r), CAIRN_ECORRUPT,
	       "plain dump without trailer is refused");
	ok(has(r.detail, "truncated") && has(r.detail, "-- PostgreSQL database dump complete"),
	   "no trailer: %s", r.detail);
	make_plain(&b, KEY, 1, 0);
	is_int(run(b.data, b.len, 0, DUMPCHECK_UNKNOWN, &r), CAIRN_ECORRUPT,
	       "trailer without the closing \\unrestrict is refused");
	ok(has(r.detail, "\\unrestrict"), "missing unrestrict: %s", r.detail);
	make_plain(&b, NULL, 1, 0);
	is_int(run(b.data, b.len, 0, DUMPCHECK_UNKNOWN, &r), 0,
	       "older pg_dump output (no \\restrict) with trailer passes");
	make_plain(&b, NULL, 0, 0);
	is_int(run(b.data, b.len, 0, DUMPCHECK_UNKNOWN, &r), CAIRN_ECORRUPT,
	       "older pg_dump output without trailer is refused");

	buf_reset(&b);
	buf_printf(&b, "--\n-- PostgreSQL database cluster dump\n--\n\nSET x = 1;\n");
	buf_printf(&b, "--\n-- PostgreSQL database cluster dump complete\n--\n\n");
	is_int(run(b.data, b.len, 0, DUMPCHECK_UNKNOWN, &r), 0, "pg_dumpall output passes");
	ok(r.format == DUMPCHECK_PG_DUMPALL, "detected as %s", r.format_name);
	is_int(run(b.data, b.len - 20, 0, DUMPCHECK_UNKNOWN, &r), CAIRN_ECORRUPT,
	       "truncated pg_dumpall output is refused");
	buf_free(&b);
}

/* -Fc writer, as pg_dump's WriteInt/WriteStr with intSize 4, offSize 8. */
static void pg_int(struct buf *b, int64_t v)
{
	buf_put_u8(b, v < 0);
	buf_put_u32le(b, (uint32_t)(v < 0 ? -v : v));
}

static void pg_str(struct buf *b, const char *s)
{
	if (!s) {
		pg_int(b, -1);
		return;
	}
	pg_int(b, (int64_t)strlen(s));
	buf_put(b, s, strlen(s));
}

/* One TOC entry; with_data: a data block will follow. */
static void pg_entry(struct buf *b, int id, const char *desc, int with_data, int minor)
{
	pg_int(b, id);
	pg_int(b, with_data);
	pg_str(b, "1259");
	pg_str(b, "16384");
	pg_str(b, "t");
	pg_str(b, desc);
	pg_int(b, with_data ? 3 : 2);	/* section */
	pg_str(b, with_data ? "" : "CREATE TABLE public.t (a int, b text);\n");
	pg_str(b, with_data ? "" : "DROP TABLE public.t;\n");
	pg_str(b, with_data ? "COPY public.t (a, b) FROM stdin;\n" : "");
	pg_str(b, "public");
	pg_str(b, "");
	pg_str(b, "heap");
	if (minor >= 16)
		pg_int(b, 'r');
	pg_str(b, "postgres");
	pg_str(b, "false");
	if (id > 1)
		pg_str(b, "1");
	pg_str(b, NULL);
	buf_put_u8(b, with_data ? 1 : 3);	/* K_OFFSET_POS_NOT_SET / NO_DATA */
	buf_put_u64le(b, 0);
}

static void make_custom(struct buf *b, int minor, int compression)
{
	buf_reset(b);
	buf_put(b, "PGDMP", 5);
	buf_put_u8(b, 1);
	buf_put_u8(b, (uint8_t)minor);
	buf_put_u8(b, 0);
	buf_put_u8(b, 4);	/* intSize */
	buf_put_u8(b, 8);	/* offSize */
	buf_put_u8(b, 1);	/* archCustom */
	if (minor >= 15)
		buf_put_u8(b, (uint8_t)compression);
	else
		pg_int(b, compression ? -1 : 0);
	int64_t tm[7] = { 5, 4, 3, 22, 10, 125, 0 };
	for (int i = 0; i < 7; i++)
		pg_int(b, tm[i]);
	pg_str(b, "bench");
	pg_str(b, "15.18 (Debian 15.18-0+deb12u1)");
	pg_str(b, "15.18 (Debian 15.18-0+deb12u1)");
	pg_int(b, 3);
	pg_entry(b, 1, "TABLE", 0, minor);
	pg_entry(b, 2, "TABLE DATA", 1, minor);
	pg_entry(b, 3, "BLOBS", 1, minor);
	/* data block of entry 2: two chunks, then 0 */
	buf_put_u8(b, 1);
	pg_int(b, 2);
	pg_str(b, "1\tone\n2\ttwo\n");
	pg_str(b, "3\tthree\n");
	pg_int(b, 0);
	/* blobs block of entry 3: one large object of one chunk */
	buf_put_u8(b, 3);
	pg_int(b, 3);
	pg_int(b, 16400);
	pg_str(b, "large object bytes");
	pg_int(b, 0);
	pg_int(b, 0);
}

static void test_custom(void)
{
	struct buf b = BUF_INIT;
	struct dumpcheck_result r;
	int minors[] = { 14, 15, 16 };
	for (size_t i = 0; i < CAIRN_ARRAY_LEN(minors); i++) {
		make_custom(&b, minors[i], 0);
		is_int(run(b.data, b.len, 0, DUMPCHECK_UNKNOWN, &r), 0, "-Fc archive 1.%d passes",
		       minors[i]);
		ok(r.format == DUMPCHECK_PG_CUSTOM && r.status == DUMPCHECK_VERIFIED &&
		   has(r.detail, "3 TOC entries") && has(r.detail, "2 data blocks") &&
		   r.warning[0] == 0, "1.%d verified: %s", minors[i], r.detail);
		int split_bad = 0;
		for (size_t s = 1; s <= 64; s++)
			split_bad += run(b.data, b.len, s, DUMPCHECK_UNKNOWN, &r) != 0;
		is_int(split_bad, 0, "1.%d passes in pieces of 1..64 bytes", minors[i]);
		int trunc_missed = 0;
		for (size_t l = 5; l < b.len; l++)
			trunc_missed += run(b.data, l, 0, DUMPCHECK_UNKNOWN, &r) != CAIRN_ECORRUPT ||
					!has(r.detail, "truncated");
		is_int(trunc_missed, 0, "1.%d: every truncation (5..%zu bytes) is refused as "
		       "truncated", minors[i], b.len - 1);
	}
	make_custom(&b, 14, 0);
	run(b.data, b.len - 1, 0, DUMPCHECK_UNKNOWN, &r);
	ok(has(r.detail, "data block 2 of 2"), "cut in the last block: %s", r.detail);
	run(b.data, 200, 0, DUMPCHECK_UNKNOWN, &r);
	ok(has(r.detail, "table-of-contents entry"), "cut in the TOC: %s", r.detail);

	make_custom(&b, 14, 1);
	is_int(run(b.data, b.len, 0, DUMPCHECK_UNKNOWN, &r), 0, "compressed -Fc passes");
	ok(has(r.warning, "compressed") && has(r.warning, "-Z0"), "compression warned: %s",
	   r.warning);
	make_custom(&b, 15, 3);
	run(b.data, b.len, 0, DUMPCHECK_UNKNOWN, &r);
	ok(has(r.warning, "zstd"), "1.15 zstd warned: %s", r.warning);

	/* malformed headers */
	make_custom(&b, 9, 0);
	is_int(run(b.data, b.len, 0, DUMPCHECK_UNKNOWN, &r), CAIRN_ECORRUPT, "version 1.9 refused");
	ok(has(r.detail, "not supported"), "old version: %s", r.detail);
	make_custom(&b, 14, 0);
	b.data[10] = 5;	/* directory format */
	run(b.data, b.len, 0, DUMPCHECK_UNKNOWN, &r);
	ok(r.status == DUMPCHECK_FAILED && has(r.detail, "-Fd"), "toc.dat: %s", r.detail);
	make_custom(&b, 14, 0);
	b.data[8] = 200;	/* intSize */
	is_int(run(b.data, b.len, 0, DUMPCHECK_UNKNOWN, &r), CAIRN_ECORRUPT, "insane intSize refused");
	/* a string length of 2^31-1 in the TOC cannot be skipped: truncation */
	make_custom(&b, 14, 0);
	size_t at = 0;
	for (size_t i = 0; i + 4 < b.len; i++)
		if (memcmp(b.data + i, "TABLE", 5) == 0) {
			at = i - 4;	/* the length bytes of the first desc */
			break;
		}
	b.data[at + 3] = 0x7f;
	is_int(run(b.data, b.len, 0, DUMPCHECK_UNKNOWN, &r), CAIRN_ECORRUPT, "huge string refused");
	b.data[at - 1] = 1;	/* sign: negative length */
	run(b.data, b.len, 0, DUMPCHECK_UNKNOWN, &r);
	ok(has(r.detail, "negative string length"), "negative length: %s", r.detail);

	/* an extra block, an unknown block type */
	make_custom(&b, 14, 0);
	buf_put_u8(&b, 1);
	pg_int(&b, 2);
	pg_int(&b, 0);
	run(b.data, b.len, 0, DUMPCHECK_UNKNOWN, &r);
	ok(r.status == DUMPCHECK_FAILED && has(r.detail, "more data blocks"), "extra block: %s",
	   r.detail);
	make_custom(&b, 14, 0);
	buf_put_u8(&b, 9);
	run(b.data, b.len, 0, DUMPCHECK_UNKNOWN, &r);
	ok(r.status == DUMPCHECK_FAILED && has(r.detail, "unknown data block type"), "block type: %s",
	   r.detail);
	buf_free(&b);
}

static void test_other(void)
{
	struct dumpcheck_result r;
	is_int(run("\x1f\x8b\x08\x00\x00\x00\x00\x00", 8, 1, DUMPCHECK_UNKNOWN, &r), 0, "gzip accepted");
	ok(r.format == DUMPCHECK_GZIP && r.status == DUMPCHECK_UNCHECKED &&
	   has(r.warning, "deduplication") && has(r.warning, "pg_dump"), "gzip warned: %s", r.warning);
	is_int(run("\x28\xb5\x2f\xfd\x00", 5, 0, DUMPCHECK_UNKNOWN, &r), 0, "zstd accepted");
	ok(r.format == DUMPCHECK_ZSTD && r.warning[0], "zstd warned");
	is_int(run("just some text\n", 15, 0, DUMPCHECK_UNKNOWN, &r), 0, "unknown accepted");
	ok(r.format == DUMPCHECK_UNKNOWN && r.status == DUMPCHECK_UNCHECKED && !r.warning[0] &&
	   strcmp(r.format_name, "unknown") == 0, "unknown: not checked, no warning");
	is_int(run("", 0, 0, DUMPCHECK_UNKNOWN, &r), 0, "empty stream accepted");
	is_int(run("REDISx", 6, 0, DUMPCHECK_UNKNOWN, &r), 0, "\"REDISx\" is not an RDB");
	dumpcheck_free(NULL);
	ok(1, "dumpcheck_free(NULL) does nothing");
}

int main(void)
{
	test_crc();
	test_rdb();
	test_plain();
	test_custom();
	test_other();
	return tap_done();
}
