/*
 * buf_test.c - buffers, little-endian and varint encoding, the bounded
 * reader and the hex helpers.
 */
#include "cairn/common.h"
#include "cairn/buf.h"

#include "tap.h"

/* A heap copy of exactly n bytes, so ASan catches any read past the end. */
static uint8_t *exact_copy(const void *p, size_t n)
{
	uint8_t *c = malloc(n ? n : 1);
	if (!c)
		abort();
	if (n)
		memcpy(c, p, n);
	return c;
}

/* Expected encoded length of a LEB128 varint. */
static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static void test_varint_round_trip(void)
{
	static const uint64_t vals[] = {
		0, 1, 127, 128, 255, 256, 16383, 16384, 0xffffffffu, 0x100000000ull,
		(1ull << 56) - 1, 1ull << 56, (1ull << 63) - 1, 1ull << 63, UINT64_MAX,
	};
	for (size_t i = 0; i < CAIRN_ARRAY_LEN(vals); i++) {
		struct buf b = BUF_INIT;
		buf_put_varint(&b, vals[i]);
		is_int(b.len, varint_len(vals[i]), "varint %llu encodes to %zu bytes",
		       (unsigned long long)vals[i], varint_len(vals[i]));
		uint8_t *c = exact_copy(b.data, b.len);
		struct rd r;
		uint64_t v = 12345;
		rd_init(&r, c, b.len);
		ok(rd_varint(&r, &v) == 0 && v == vals[i] && r.len == 0,
		   "varint %llu round trips and consumes everything", (unsigned long long)vals[i]);
		free(c);
		buf_free(&b);
	}

	/* Exact encodings at the boundaries. */
	struct buf b = BUF_INIT;
	buf_put_varint(&b, 0);
	ok(b.len == 1 && b.data[0] == 0, "0 is one zero byte");
	buf_reset(&b);
	buf_put_varint(&b, 127);
	ok(b.len == 1 && b.data[0] == 0x7f, "127 is 0x7f");
	buf_reset(&b);
	buf_put_varint(&b, 128);
	ok(b.len == 2 && b.data[0] == 0x80 && b.data[1] == 0x01, "128 is 80 01");
	buf_reset(&b);
	buf_put_varint(&b, UINT64_MAX);
	int all_ff = 1;
	for (size_t i = 0; i < 9 && b.len == 10; i++)
		all_ff &= b.data[i] == 0xff;
	ok(b.len == 10 && all_ff && b.data[9] == 0x01, "UINT64_MAX is 9 x ff then 01");
	buf_reset(&b);
	buf_put_varint(&b, 1ull << 63);
	ok(b.len == 10 && b.data[0] == 0x80 && b.data[9] == 0x01, "2^63 is 80 .. 80 01");
	buf_free(&b);

	/* Several varints back to back. */
	buf_init(&b);
	for (uint64_t v = 0; v < 300; v++)
		buf_put_varint(&b, v * 1000003);
	struct rd r;
	rd_init(&r, b.data, b.len);
	int good = 1;
	for (uint64_t v = 0; v < 300; v++) {
		uint64_t x;
		if (rd_varint(&r, &x) != 0 || x != v * 1000003)
			good = 0;
	}
	ok(good && r.len == 0, "300 consecutive varints decode in order");
	buf_free(&b);
}

static void test_varint_rejects(void)
{
	struct {
		const char *what;
		uint8_t bytes[12];
		size_t len;
	} bad[] = {
		{ "overlong zero (80 00)", { 0x80, 0x00 }, 2 },
		{ "overlong 1 (81 00)", { 0x81, 0x00 }, 2 },
		{ "overlong 127 (ff 00)", { 0xff, 0x00 }, 2 },
		{ "overlong 3-byte (80 80 00)", { 0x80, 0x80, 0x00 }, 3 },
		{ "10th byte 2 (overflows 64 bits)",
		  { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02 }, 10 },
		{ "10th byte 7f",
		  { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f }, 10 },
		{ "10th byte with continuation",
		  { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x81, 0x01 }, 11 },
		{ "11 bytes",
		  { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 }, 11 },
		{ "12 continuation bytes",
		  { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 12 },
		{ "lone continuation byte", { 0x80 }, 1 },
		{ "empty", { 0 }, 0 },
	};
	for (size_t i = 0; i < CAIRN_ARRAY_LEN(bad); i++) {
		uint8_t *c = exact_copy(bad[i].bytes, bad[i].len);
		struct rd r;
		uint64_t v = 0xdeadbeef;
		rd_init(&r, c, bad[i].len);
		int e = rd_varint(&r, &v);
		ok(e == CAIRN_ECORRUPT && v == 0xdeadbeef && r.len == bad[i].len && r.p == c,
		   "varint rejected, reader and output untouched: %s", bad[i].what);
		free(c);
	}
}

/* Every truncation of a record: each rd_* call fails cleanly, never reads
 * past the end (exact-size heap copies under ASan). */
static void test_rd_truncation(void)
{
	struct buf b = BUF_INIT;
	buf_put_u8(&b, 0xab);
	buf_put_u32le(&b, 0x01020304);
	buf_put_u64le(&b, 0x1122334455667788ull);
	buf_put_varint(&b, 1ull << 40);
	buf_put_bytes(&b, "hello, world", 12);
	buf_put_str(&b, "tail");
	uint8_t fixed[5] = { 9, 8, 7, 6, 5 };
	buf_put(&b, fixed, 5);
	is_int(b.len, 1 + 4 + 8 + 6 + 13 + 5 + 5, "record has the expected size");

	int full_ok = 0;
	int bad_trunc = 0;
	for (size_t cut = 0; cut <= b.len; cut++) {
		uint8_t *c = exact_copy(b.data, cut);
		struct rd r;
		rd_init(&r, c, cut);
		uint8_t u8 = 0;
		uint32_t u32 = 0;
		uint64_t u64 = 0, vi = 0;
		const uint8_t *p1 = NULL, *p2 = NULL, *p3 = NULL;
		size_t n1 = 0, n2 = 0;
		uint8_t out5[5];
		int step = 0, e = 0;
		size_t before;
#define STEP(call)                                                        \
		do {                                                      \
			before = r.len;                                   \
			if ((e = (call)) < 0)                             \
				goto stop;                                \
			step++;                                           \
		} while (0)
		STEP(rd_u8(&r, &u8));
		STEP(rd_u32le(&r, &u32));
		STEP(rd_u64le(&r, &u64));
		STEP(rd_varint(&r, &vi));
		STEP(rd_bytes(&r, &p1, &n1));
		STEP(rd_bytes(&r, &p2, &n2));
		STEP(rd_copy(&r, out5, 5));
		STEP(rd_take(&r, 0, &p3));
#undef STEP
stop:
		if (cut == b.len) {
			full_ok = e == 0 && step == 8 && u8 == 0xab && u32 == 0x01020304 &&
				  u64 == 0x1122334455667788ull && vi == 1ull << 40 && n1 == 12 &&
				  memcmp(p1, "hello, world", 12) == 0 && n2 == 4 &&
				  memcmp(p2, "tail", 4) == 0 && memcmp(out5, fixed, 5) == 0 &&
				  r.len == 0;
		} else if (e != CAIRN_ECORRUPT || r.len != before) {
			bad_trunc++;
			printf("# truncation at %zu: step %d returned %d\n", cut, step, e);
		}
		free(c);
	}
	ok(full_ok, "full record decodes to the values written");
	is_int(bad_trunc, 0,
	       "every truncation fails with CAIRN_ECORRUPT and consumes nothing on failure");

	/* Individual readers on an empty reader leave outputs untouched. */
	uint8_t *empty = exact_copy("", 0);
	struct rd r;
	rd_init(&r, empty, 0);
	uint8_t u8 = 7;
	uint32_t u32 = 7;
	uint64_t u64 = 7;
	const uint8_t *p = (const uint8_t *)"x";
	size_t n = 7;
	ok(rd_u8(&r, &u8) == CAIRN_ECORRUPT && u8 == 7, "rd_u8 on empty fails, output untouched");
	ok(rd_u32le(&r, &u32) == CAIRN_ECORRUPT && u32 == 7, "rd_u32le on empty fails");
	ok(rd_u64le(&r, &u64) == CAIRN_ECORRUPT && u64 == 7, "rd_u64le on empty fails");
	ok(rd_bytes(&r, &p, &n) == CAIRN_ECORRUPT && n == 7, "rd_bytes on empty fails");
	ok(rd_take(&r, 1, &p) == CAIRN_ECORRUPT, "rd_take of 1 on empty fails");
	ok(rd_take(&r, SIZE_MAX, &p) == CAIRN_ECORRUPT, "rd_take of SIZE_MAX fails");
	ok(rd_take(&r, 0, &p) == 0, "rd_take of 0 on empty succeeds");
	free(empty);

	/* A length prefix larger than what follows (also a huge one). */
	struct buf lb = BUF_INIT;
	buf_put_varint(&lb, 5);
	buf_put(&lb, "abcd", 4);
	uint8_t *c = exact_copy(lb.data, lb.len);
	rd_init(&r, c, lb.len);
	ok(rd_bytes(&r, &p, &n) == CAIRN_ECORRUPT && r.len == lb.len && r.p == c,
	   "rd_bytes with a length past the end fails and restores the reader");
	free(c);
	buf_reset(&lb);
	buf_put_varint(&lb, UINT64_MAX);
	buf_put(&lb, "abcd", 4);
	c = exact_copy(lb.data, lb.len);
	rd_init(&r, c, lb.len);
	ok(rd_bytes(&r, &p, &n) == CAIRN_ECORRUPT && r.len == lb.len,
	   "rd_bytes with length UINT64_MAX fails");
	free(c);
	buf_free(&lb);
	buf_free(&b);
}

static void test_fixed_width(void)
{
	uint8_t t[8];
	put_u32le(t, 0x11223344);
	ok(t[0] == 0x44 && t[1] == 0x33 && t[2] == 0x22 && t[3] == 0x11, "put_u32le little-endian");
	is_int(get_u32le(t), 0x11223344, "get_u32le reads it back");
	put_u64le(t, 0x0102030405060708ull);
	ok(t[0] == 0x08 && t[7] == 0x01, "put_u64le little-endian");
	ok(get_u64le(t) == 0x0102030405060708ull, "get_u64le reads it back");
	put_u64le(t, UINT64_MAX);
	ok(get_u64le(t) == UINT64_MAX, "u64 all ones round trips");
	put_u32le(t, 0x80000000u);
	ok(get_u32le(t) == 0x80000000u, "u32 high bit survives (no sign extension)");
}

static void test_hex(void)
{
	static const uint8_t bin[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff };
	char hex[2 * sizeof(bin) + 1];
	memset(hex, 'x', sizeof(hex));
	hex_encode(bin, sizeof(bin), hex);
	ok(strcmp(hex, "00017f80abcdefff") == 0, "hex_encode lower-case, NUL-terminated");

	uint8_t out[sizeof(bin)];
	ok(hex_decode("00017f80abcdefff", out, sizeof(out)) == 0 &&
		   memcmp(out, bin, sizeof(bin)) == 0,
	   "hex_decode round trip");
	ok(hex_decode("00017F80ABCDEFFF", out, sizeof(out)) == 0 &&
		   memcmp(out, bin, sizeof(bin)) == 0,
	   "hex_decode accepts upper case");
	ok(hex_decode("00017f80abcdeff", out, sizeof(out)) == CAIRN_EINVAL,
	   "hex_decode rejects a short string (odd length)");
	ok(hex_decode("00017f80abcdef", out, sizeof(out)) == CAIRN_EINVAL,
	   "hex_decode rejects a short string (even length)");
	ok(hex_decode("00017f80abcdefff0", out, sizeof(out)) == CAIRN_EINVAL,
	   "hex_decode rejects trailing characters");
	ok(hex_decode("00017f80abcdefgf", out, sizeof(out)) == CAIRN_EINVAL,
	   "hex_decode rejects a non-hex digit");
	ok(hex_decode(" 0017f80abcdefff", out, sizeof(out)) == CAIRN_EINVAL,
	   "hex_decode rejects a space");
	ok(hex_decode("", out, 0) == 0, "hex_decode of zero bytes from empty string");

	/* Every byte value round trips. */
	uint8_t all[256], back[256];
	char allhex[513];
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	hex_encode(all, 256, allhex);
	ok(strlen(allhex) == 512 && hex_decode(allhex, back, 256) == 0 &&
		   memcmp(all, back, 256) == 0,
	   "all 256 byte values round trip through hex");
}

static void test_buf_printf(void)
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "%d-%s", 42, "x");
	ok(b.len == 4 && memcmp(b.data, "42-x", 4) == 0, "buf_printf formats, len without NUL");
	buf_printf(&b, "|%05u", 7u);
	ok(b.len == 10 && memcmp(b.data, "42-x|00007", 10) == 0, "buf_printf appends");
	buf_printf(&b, "%s", "");
	is_int(b.len, 10, "empty format appends nothing");

	/* Longer than any initial capacity: forces growth while formatting. */
	char big[1000];
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	buf_printf(&b, "[%s]", big);
	ok(b.len == 10 + 1001 && b.data[10] == '[' && b.data[11] == 'q' &&
		   b.data[b.len - 1] == ']' && b.cap >= b.len,
	   "buf_printf grows the buffer for long output");
	buf_terminate(&b);
	ok(b.len == 1011 && b.data[b.len] == 0 && strlen((char *)b.data) == 1011,
	   "buf_terminate adds a NUL not counted in len");
	ok(buf_ok(&b) == 0, "buffer is not marked failed");
	buf_free(&b);
	ok(b.data == NULL && b.len == 0 && b.cap == 0, "buf_free empties the buffer");
}

static void test_buf_basics(void)
{
	struct buf b = BUF_INIT;
	buf_put(&b, "abc", 3);
	buf_put(&b, NULL, 0);
	buf_put_u8(&b, 'd');
	ok(b.len == 4 && memcmp(b.data, "abcd", 4) == 0, "buf_put and buf_put_u8 append");
	ok(buf_reserve(&b, 10000) == 0 && b.cap - b.len >= 10000, "buf_reserve makes room");
	uint8_t *keep = b.data;
	buf_reset(&b);
	ok(b.len == 0 && b.data == keep, "buf_reset keeps the storage");

	/* Many appends, content intact after every reallocation. */
	for (int i = 0; i < 100000; i++)
		buf_put_u8(&b, (uint8_t)(i * 7));
	int same = b.len == 100000;
	for (int i = 0; same && i < 100000; i++)
		same = b.data[i] == (uint8_t)(i * 7);
	ok(same, "100000 single-byte appends keep their content");

	/* An impossible reservation marks the buffer failed; appends stop. */
	ok(buf_reserve(&b, SIZE_MAX) == CAIRN_ENOMEM, "reserving SIZE_MAX fails");
	ok(buf_ok(&b) == CAIRN_ENOMEM, "buf_ok reports the remembered failure");
	size_t len = b.len;
	buf_put(&b, "zz", 2);
	is_int(b.len, len, "appends after a failure do nothing");
	buf_reset(&b);
	ok(buf_ok(&b) == 0, "buf_reset clears the failure");
	buf_free(&b);

	/* buf_steal */
	buf_init(&b);
	buf_put(&b, "steal me", 8);
	size_t n = 0;
	uint8_t *p = buf_steal(&b, &n);
	ok(p != NULL && n == 8 && memcmp(p, "steal me", 8) == 0, "buf_steal hands over the data");
	ok(b.data == NULL && b.len == 0 && b.cap == 0 && b.failed == 0,
	   "buffer is empty after buf_steal");
	buf_put(&b, "again", 5);
	ok(b.len == 5 && b.data != p && memcmp(b.data, "again", 5) == 0,
	   "buffer is reusable after buf_steal");
	free(p);
	p = buf_steal(&b, NULL);
	ok(p != NULL && memcmp(p, "again", 5) == 0, "buf_steal with NULL length");
	free(p);
	buf_free(&b);

	struct buf e = BUF_INIT;
	p = buf_steal(&e, &n);
	ok(p == NULL && n == 0, "buf_steal of an empty buffer gives NULL, 0");

	/* buf_free_secret */
	buf_put(&e, "secret", 6);
	buf_free_secret(&e);
	ok(e.data == NULL && e.len == 0, "buf_free_secret empties the buffer");
}

int main(void)
{
	test_varint_round_trip();
	test_varint_rejects();
	test_rd_truncation();
	test_fixed_width();
	test_hex();
	test_buf_printf();
	test_buf_basics();
	return tap_done();
}
