/*
 * config_test.c - the repository's config object: encoding, decoding and
 * every rejection.
 */
#include "cairn/common.h"
#include "cairn/config.h"

#include "tap.h"

static const char *const good_lines[] = {
	"version=1",
	"id=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
	"created=1700000000",
	"chunker_min=2048",
	"chunker_avg=8192",
	"chunker_max=65536",
	"compression=3",
	"pack_size=16777216",
};

/* The header plus good_lines, with line `skip` left out (-1: none) and
 * line `replace` (index) replaced by `with`, then `extra` appended. */
static void build(struct buf *b, int skip, int replace, const char *with, const char *extra)
{
	buf_reset(b);
	buf_printf(b, "cairn-repository\n");
	for (int i = 0; i < (int)CAIRN_ARRAY_LEN(good_lines); i++) {
		if (i == skip)
			continue;
		buf_printf(b, "%s\n", i == replace ? with : good_lines[i]);
	}
	if (extra)
		buf_printf(b, "%s", extra);
}

static int configs_equal(const struct repo_config *a, const struct repo_config *b)
{
	return a->version == b->version && memcmp(a->id, b->id, 32) == 0 &&
	       a->created == b->created && a->chunker.min == b->chunker.min &&
	       a->chunker.avg == b->chunker.avg && a->chunker.max == b->chunker.max &&
	       a->compression == b->compression && a->pack_size == b->pack_size;
}

static void test_round_trip(void)
{
	struct repo_config c, d;
	struct buf b = BUF_INIT;
	memset(&c, 0, sizeof(c));
	c.version = REPO_FORMAT_VERSION;
	for (int i = 0; i < 32; i++)
		c.id[i] = (uint8_t)(i * 9 + 1);
	c.created = 1763700000;
	c.chunker.min = 512;
	c.chunker.avg = 4096;
	c.chunker.max = 1u << 20;
	c.compression = 19;
	c.pack_size = 1ull << 32;
	ok(config_encode(&c, &b) == 0, "encode");
	ok(b.len > 17 && memcmp(b.data, "cairn-repository\n", 17) == 0 && b.data[b.len - 1] == '\n',
	   "starts with the header line, ends with a newline");
	memset(&d, 0xa5, sizeof(d));
	ok(config_decode(b.data, b.len, &d) == 0 && configs_equal(&c, &d), "decode gives it back");

	/* Encoding is stable, and a second encode resets the buffer. */
	struct buf b2 = BUF_INIT;
	buf_put(&b2, "junk", 4);
	ok(config_encode(&d, &b2) == 0 && b2.len == b.len && memcmp(b.data, b2.data, b.len) == 0,
	   "encode(decode(encode(c))) == encode(c), output reset first");
	buf_free(&b2);

	c.created = 0;
	c.compression = 0;
	c.pack_size = 64u << 10;
	c.chunker.min = 64;
	c.chunker.avg = 256;
	c.chunker.max = 16u << 20;
	config_encode(&c, &b);
	ok(config_decode(b.data, b.len, &d) == 0 && configs_equal(&c, &d),
	   "round trip of the smallest accepted values and the largest chunk size");

	c.created = INT64_MAX;
	config_encode(&c, &b);
	ok(config_decode(b.data, b.len, &d) == 0 && d.created == INT64_MAX,
	   "created = INT64_MAX round trips");

	/* The hand-written text decodes; key order and unknown keys do not matter. */
	build(&b, -1, -1, NULL, "future_key=whatever\nanother=1\n");
	ok(config_decode(b.data, b.len, &d) == 0 && d.version == 1 && d.created == 1700000000 &&
		   d.chunker.min == 2048 && d.chunker.avg == 8192 && d.chunker.max == 65536 &&
		   d.compression == 3 && d.pack_size == 16777216 && d.id[0] == 0x00 &&
		   d.id[1] == 0x11 && d.id[31] == 0xff,
	   "a written config decodes; unknown keys are ignored");
	buf_reset(&b);
	buf_printf(&b, "cairn-repository\n");
	for (int i = (int)CAIRN_ARRAY_LEN(good_lines) - 1; i >= 0; i--)
		buf_printf(&b, "%s\n", good_lines[i]);
	ok(config_decode(b.data, b.len, &d) == 0 && d.chunker.avg == 8192,
	   "keys in reverse order decode");
	build(&b, -1, 1, "id=00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF", NULL);
	ok(config_decode(b.data, b.len, &d) == 0 && d.id[8] == 0x88 && d.id[9] == 0x99 &&
		   d.id[10] == 0xaa,
	   "an upper-case id decodes");
	buf_free(&b);
}

static void test_rejects(void)
{
	struct repo_config d;
	struct buf b = BUF_INIT;

	for (int i = 0; i < (int)CAIRN_ARRAY_LEN(good_lines); i++) {
		build(&b, i, -1, NULL, NULL);
		is_int(config_decode(b.data, b.len, &d), CAIRN_ECORRUPT, "missing %.*s: CAIRN_ECORRUPT",
		       (int)(strchr(good_lines[i], '=') - good_lines[i]), good_lines[i]);
	}

	static const struct {
		int line;
		const char *with;
		int want;
		const char *what;
	} cases[] = {
		{ 0, "version=2", CAIRN_EUNSUPPORTED, "version 2" },
		{ 0, "version=999", CAIRN_EUNSUPPORTED, "version 999" },
		{ 0, "version=0", CAIRN_EUNSUPPORTED, "version 0" },
		{ 0, "version=1001", CAIRN_ECORRUPT, "version 1001 (absurd)" },
		{ 0, "version=", CAIRN_ECORRUPT, "empty version" },
		{ 0, "version=1 ", CAIRN_ECORRUPT, "trailing space" },
		{ 0, "version=+1", CAIRN_ECORRUPT, "a plus sign" },
		{ 1, "id=00112233445566778899aabbccddeeff00112233445566778899aabbccddeef",
		  CAIRN_ECORRUPT, "id of 63 hex digits" },
		{ 1, "id=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0",
		  CAIRN_ECORRUPT, "id of 65 hex digits" },
		{ 1, "id=00112233445566778899aabbccddeeff00112233445566778899aabbccddeegg",
		  CAIRN_ECORRUPT, "id with non-hex digits" },
		{ 1, "id=", CAIRN_ECORRUPT, "empty id" },
		{ 2, "created=-1", CAIRN_ECORRUPT, "negative created" },
		{ 2, "created=12345678901234567890", CAIRN_ECORRUPT, "created of 20 digits" },
		{ 3, "chunker_min=63", CAIRN_ECORRUPT, "chunker_min below 64" },
		{ 3, "chunker_min=8192", CAIRN_ECORRUPT, "chunker_min == avg" },
		{ 4, "chunker_avg=8000", CAIRN_ECORRUPT, "chunker_avg not a power of two" },
		{ 4, "chunker_avg=65536", CAIRN_ECORRUPT, "chunker_avg == max" },
		{ 4, "chunker_avg=0", CAIRN_ECORRUPT, "chunker_avg 0" },
		{ 5, "chunker_max=16777217", CAIRN_ECORRUPT, "chunker_max above 16 MiB" },
		{ 5, "chunker_max=4096", CAIRN_ECORRUPT, "chunker_max below avg" },
		{ 5, "chunker_max=4294967296", CAIRN_ECORRUPT, "chunker_max above 2^32-1" },
		{ 6, "compression=23", CAIRN_ECORRUPT, "compression 23" },
		{ 6, "compression=-1", CAIRN_ECORRUPT, "compression -1" },
		{ 7, "pack_size=65535", CAIRN_ECORRUPT, "pack_size below 64 KiB" },
		{ 7, "pack_size=4294967297", CAIRN_ECORRUPT, "pack_size above 4 GiB" },
		{ 7, "pack_size=abc", CAIRN_ECORRUPT, "pack_size not a number" },
		{ 7, "pack_size", CAIRN_ECORRUPT, "a line without '='" },
	};
	for (size_t i = 0; i < CAIRN_ARRAY_LEN(cases); i++) {
		build(&b, -1, cases[i].line, cases[i].with, NULL);
		is_int(config_decode(b.data, b.len, &d), cases[i].want, "%s: rejected",
		       cases[i].what);
	}

	static const struct {
		const char *text;
		const char *what;
	} garbage[] = {
		{ "", "empty" },
		{ "cairn-repository", "header without newline" },
		{ "cairn-repository\n", "header only" },
		{ "cairn-repositorx\n", "wrong header" },
		{ "\x00\x01\x02garbage", "binary garbage" },
		{ "version=1\n", "no header line" },
	};
	for (size_t i = 0; i < CAIRN_ARRAY_LEN(garbage); i++)
		is_int(config_decode(garbage[i].text, strlen(garbage[i].text), &d), CAIRN_ECORRUPT,
		       "garbage rejected: %s", garbage[i].what);

	build(&b, -1, -1, NULL, NULL);
	is_int(config_decode(b.data, b.len - 1, &d), CAIRN_ECORRUPT,
	       "last line without a newline: CAIRN_ECORRUPT");
	/* Every truncation of a good config is rejected (each drops part of a
	 * required line or its newline), and never read past the end. */
	int bad = 0;
	for (size_t n = 0; n < b.len; n++) {
		char *c = malloc(n ? n : 1);
		memcpy(c, b.data, n);
		if (config_decode(c, n, &d) == 0)
			bad++;
		free(c);
	}
	is_int(bad, 0, "every truncation of a config is rejected");

	/* A huge object is refused before parsing. */
	build(&b, -1, -1, NULL, NULL);
	while (b.len <= 65536)
		buf_printf(&b, "padding=%0100d\n", 0);
	is_int(config_decode(b.data, b.len, &d), CAIRN_ECORRUPT, "a config over 64 KiB: CAIRN_ECORRUPT");

	/* A failed decode leaves the output untouched. */
	struct repo_config before;
	memset(&d, 0x5a, sizeof(d));
	memcpy(&before, &d, sizeof(d));
	build(&b, -1, 0, "version=2", NULL);
	config_decode(b.data, b.len, &d);
	ok(memcmp(&d, &before, sizeof(d)) == 0, "a failed decode leaves the output untouched");
	buf_free(&b);
}

/*
 * Regression (src/repo/config.c, parse_num + "created"), fixed: parse_num accepts
 * up to 19 digits, i.e. values up to 9999999999999999999 > INT64_MAX, and
 * config_decode casts that to int64_t: created becomes negative. Such a
 * config decodes, but config_encode then writes "created=-8446744073709551617",
 * which config_decode rejects: the object does not survive a round trip
 * (found by fuzz/fuzz_config.c). Expected: values above INT64_MAX are
 * CAIRN_ECORRUPT. This test fails until config.c is fixed.
 */
static void test_created_overflow(void)
{
	struct buf b = BUF_INIT;
	struct repo_config d;
	build(&b, -1, 2, "created=9223372036854775808", NULL);
	int e = config_decode(b.data, b.len, &d);
	is_int(e, CAIRN_ECORRUPT,
	       "created=9223372036854775808 (INT64_MAX+1) must be rejected");
	if (e == 0) {
		struct buf enc = BUF_INIT;
		struct repo_config d2;
		config_encode(&d, &enc);
		printf("# decoded created=%lld, re-encoded config decodes with %d\n",
		       (long long)d.created, config_decode(enc.data, enc.len, &d2));
		buf_free(&enc);
	}
	buf_free(&b);
}

/*
 * Regression (src/repo/config.c, end of config_decode), fixed: the decoder repeats
 * chunker_params_check's rules instead of calling it, and leaves out
 * "avg >= 256". A config with chunker_min=64, chunker_avg=128 decodes,
 * chunker_new() then refuses the parameters, and repo_open() reports
 * CAIRN_ENOMEM ("out of memory") for what is a malformed config
 * (found by fuzz/fuzz_config.c). Expected: CAIRN_ECORRUPT from
 * config_decode. This test fails until config.c is fixed.
 */
static void test_chunker_avg_rule(void)
{
	struct buf b = BUF_INIT;
	struct repo_config d;
	buf_printf(&b, "cairn-repository\n");
	for (int k = 0; k < (int)CAIRN_ARRAY_LEN(good_lines); k++)
		buf_printf(&b, "%s\n",
			   k == 3 ? "chunker_min=64" : k == 4 ? "chunker_avg=128" : good_lines[k]);
	int e = config_decode(b.data, b.len, &d);
	is_int(e, CAIRN_ECORRUPT,
	       "chunker_avg=128 (below 256, chunker_params_check rejects it) "
	       "must be rejected");
	if (e == 0)
		printf("# decoded; chunker_params_check says %d\n", chunker_params_check(&d.chunker));
	buf_free(&b);
}

int main(void)
{
	test_round_trip();
	test_rejects();
	test_created_overflow();
	test_chunker_avg_rule();
	return tap_done();
}
