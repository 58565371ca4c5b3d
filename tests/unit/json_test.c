/*
 * json_test.c - the JSON writer: escaping, commas in nested structures,
 * numbers, and validity as checked by Python's json module when present.
 */
#include "cairn/common.h"
#include "cairn/json.h"

#include <sys/wait.h>

#include "tap.h"

/* The buffer as a C string. */
static const char *str(struct buf *b)
{
	buf_terminate(b);
	return b->data ? (const char *)b->data : "";
}

static void string_is(const char *in, size_t n, const char *want, const char *what)
{
	struct buf b = BUF_INIT;
	struct json j;
	json_init(&j, &b);
	json_strn(&j, in, n);
	const char *got = str(&b);
	ok(strcmp(got, want) == 0, "%s: %s", what, want);
	if (strcmp(got, want) != 0)
		printf("#   got %s\n", got);
	buf_free(&b);
}

static void test_escaping(void)
{
	string_is("plain", 5, "\"plain\"", "plain text");
	string_is("", 0, "\"\"", "empty string");
	string_is("say \"hi\"", 8, "\"say \\\"hi\\\"\"", "quotes escaped");
	string_is("a\\b", 3, "\"a\\\\b\"", "backslash escaped");
	string_is("/", 1, "\"/\"", "slash left alone");
	string_is("\n\r\t\b\f", 5, "\"\\u000a\\u000d\\u0009\\u0008\\u000c\"", "control characters");
	string_is("a\0b", 3, "\"a\\u0000b\"", "an embedded NUL");
	string_is("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\"", "0x01, 0x1f and DEL");
	string_is("caf\xc3\xa9", 5, "\"caf\xc3\xa9\"", "valid 2-byte UTF-8 kept");
	string_is("\xe2\x82\xac", 3, "\"\xe2\x82\xac\"", "valid 3-byte UTF-8 kept (euro)");
	string_is("\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"", "valid 4-byte UTF-8 kept");
	string_is("\xff", 1, "\"\\u00ff\"", "byte 0xff escaped");
	string_is("a\x80z", 3, "\"a\\u0080z\"", "a lone continuation byte escaped");
	string_is("\xc3", 1, "\"\\u00c3\"", "a truncated sequence at the end escaped");
	string_is("\xc3(", 2, "\"\\u00c3(\"", "a lead byte without continuation escaped");
	string_is("\xc0\xaf", 2, "\"\\u00c0\\u00af\"", "an overlong encoding escaped");
	string_is("\xe0\x80\xaf", 3, "\"\\u00e0\\u0080\\u00af\"", "an overlong 3-byte escaped");
	string_is("\xed\xa0\x80", 3, "\"\\u00ed\\u00a0\\u0080\"", "a UTF-16 surrogate escaped");
	string_is("\xf4\x90\x80\x80", 4, "\"\\u00f4\\u0090\\u0080\\u0080\"",
		  "a code point above U+10FFFF escaped");
	string_is("\xf8\x88\x80\x80\x80", 5, "\"\\u00f8\\u0088\\u0080\\u0080\\u0080\"",
		  "a 5-byte form escaped");
	string_is("\xe2\x82", 2, "\"\\u00e2\\u0082\"", "a truncated 3-byte sequence escaped");

	/* Strings as keys are escaped the same way. */
	struct buf b = BUF_INIT;
	struct json j;
	json_init(&j, &b);
	json_obj_begin(&j);
	json_key(&j, "k\"e\ny");
	json_str(&j, NULL);
	json_obj_end(&j);
	ok(strcmp(str(&b), "{\"k\\\"e\\u000ay\":null}") == 0, "keys are escaped; NULL string is null");
	buf_free(&b);
}

/* The document used for the structure and validity tests. */
static void write_doc(struct json *j)
{
	static const uint8_t id[4] = { 0xde, 0xad, 0xbe, 0xef };
	json_obj_begin(j);
	json_key(j, "a");
	json_u64(j, 1);
	json_key(j, "b");
	json_arr_begin(j);
	json_u64(j, 1);
	json_i64(j, -2);
	json_obj_begin(j);
	json_key(j, "c");
	json_null(j);
	json_obj_end(j);
	json_arr_begin(j);
	json_arr_end(j);
	json_arr_begin(j);
	json_arr_begin(j);
	json_bool(j, 0);
	json_arr_end(j);
	json_arr_end(j);
	json_arr_end(j);
	json_key(j, "d");
	json_obj_begin(j);
	json_key(j, "e");
	json_bool(j, 1);
	json_key(j, "f");
	json_str(j, "x");
	json_obj_end(j);
	json_key(j, "g");
	json_obj_begin(j);
	json_obj_end(j);
	json_key(j, "max");
	json_u64(j, UINT64_MAX);
	json_key(j, "min");
	json_i64(j, INT64_MIN);
	json_key(j, "pi");
	json_double(j, 3.25);
	json_key(j, "id");
	json_hex(j, id, sizeof(id));
	json_key(j, "q");
	json_str(j, "say \"hi\"\n\xff");
	json_key(j, "s");
	json_str(j, "caf\xc3\xa9 \xc3( \xf0\x9f\x98\x80");
	json_obj_end(j);
}

static const char doc_want[] =
	"{\"a\":1,\"b\":[1,-2,{\"c\":null},[],[[false]]],\"d\":{\"e\":true,\"f\":\"x\"},"
	"\"g\":{},\"max\":18446744073709551615,\"min\":-9223372036854775808,\"pi\":3.25,"
	"\"id\":\"deadbeef\",\"q\":\"say \\\"hi\\\"\\u000a\\u00ff\","
	"\"s\":\"caf\xc3\xa9 \\u00c3( \xf0\x9f\x98\x80\"}";

static void test_structure(void)
{
	struct buf b = BUF_INIT;
	struct json j;
	json_init(&j, &b);
	write_doc(&j);
	ok(strcmp(str(&b), doc_want) == 0, "nested objects and arrays have commas exactly between values");
	if (strcmp(str(&b), doc_want) != 0)
		printf("#   got  %s\n#   want %s\n", str(&b), doc_want);
	is_int(j.depth, 0, "depth is back to 0");

	/* Top-level sequence of values (one per line in --json streams is the
	 * caller's business; here: an array of 100 objects). */
	buf_reset(&b);
	json_init(&j, &b);
	json_arr_begin(&j);
	for (int i = 0; i < 100; i++) {
		json_obj_begin(&j);
		json_key(&j, "i");
		json_i64(&j, i);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	int commas = 0;
	for (size_t i = 0; i < b.len; i++)
		commas += b.data[i] == ',';
	ok(commas == 99 && b.data[0] == '[' && b.data[b.len - 1] == ']' &&
		   strncmp((char *)b.data, "[{\"i\":0},{\"i\":1},", 17) == 0,
	   "100 objects in an array: 99 commas");

	/* Nesting 20 deep with siblings at each level. */
	buf_reset(&b);
	json_init(&j, &b);
	for (int i = 0; i < 20; i++) {
		json_arr_begin(&j);
		json_u64(&j, (uint64_t)i);
	}
	for (int i = 0; i < 20; i++) {
		json_arr_end(&j);
		if (i < 19)
			json_bool(&j, 1);
	}
	const char *s = str(&b);
	ok(strncmp(s, "[0,[1,[2,", 9) == 0 && strstr(s, "[19]") && strstr(s, "]]") == NULL &&
		   strstr(s, "],true]") != NULL,
	   "20 levels deep: a comma before each sibling after a nested array");
	buf_free(&b);
}

/* Runs python3 on the document; returns its exit status, or -1. */
static int python_check(const char *doc, size_t len)
{
	FILE *p = popen("python3 -c '"
			"import json,sys\n"
			"d=json.load(sys.stdin)\n"
			"assert d[\"q\"]==\"say \\\"hi\\\"\\n\\u00ff\", d[\"q\"]\n"
			"assert d[\"b\"]==[1,-2,{\"c\":None},[],[[False]]]\n"
			"assert d[\"max\"]==2**64-1 and d[\"min\"]==-2**63\n"
			"assert d[\"s\"]==\"caf\\u00e9 \\u00c3( \\U0001f600\", d[\"s\"]\n"
			"' >/dev/null 2>&1",
			"w");
	if (!p)
		return -1;
	fwrite(doc, 1, len, p);
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_python(void)
{
	if (system("command -v python3 >/dev/null 2>&1") != 0) {
		printf("ok %d # SKIP python3 not found\n", ++tap_n);
		printf("ok %d # SKIP python3 not found\n", ++tap_n);
		return;
	}
	struct buf b = BUF_INIT;
	struct json j;
	json_init(&j, &b);
	write_doc(&j);
	is_int(python_check((char *)b.data, b.len), 0,
	       "python3's json module parses the output and reads back the values");
	/* The check can fail: the same document with one comma removed. */
	char *comma = strstr((char *)b.data, ",\"d\"");
	if (comma)
		memmove(comma, comma + 1, b.len - (size_t)(comma + 1 - (char *)b.data));
	ok(comma && python_check((char *)b.data, b.len - 1) != 0,
	   "a document missing a comma is rejected by the same check");
	buf_free(&b);
}

/* need_comma has 32 levels and json_open stops counting at 31: deeper
 * nesting must still give balanced, comma-correct output. */
static void test_deep_nesting(void)
{
	struct buf b = BUF_INIT;
	struct json j;
	json_init(&j, &b);
	for (int i = 0; i < 40; i++) {
		json_arr_begin(&j);
		json_u64(&j, (uint64_t)i);
	}
	for (int i = 0; i < 40; i++) {
		json_arr_end(&j);
		if (i < 39)
			json_bool(&j, 1);
	}
	/* Valid JSON here has exactly 39 ",true]" after "[39]". */
	const char *s = str(&b);
	const char *p = strstr(s, "[39]");
	int n = 0;
	for (const char *q = p; q && (q = strstr(q, ",true]")) != NULL; q++)
		n++;
	size_t open = 0, close = 0;
	for (const char *q = s; *q; q++) {
		open += *q == '[';
		close += *q == ']';
	}
	ok(p && n == 39 && open == 40 && close == 40 && s[strlen(s) - 1] == ']',
	   "40 nested arrays (deeper than need_comma) stay balanced (%zu '[', %zu ']', %d siblings)",
	   open, close, n);
	buf_free(&b);
}

int main(void)
{
	test_escaping();
	test_structure();
	test_python();
	test_deep_nesting();
	return tap_done();
}
