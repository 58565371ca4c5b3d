/*
 * json.c - JSON writer (see json.h).
 */
#include "cairn/common.h"
#include "cairn/json.h"

void json_init(struct json *j, struct buf *out)
{
	memset(j, 0, sizeof(*j));
	j->out = out;
}

/* Emits a comma before a value when needed; a value after a key needs none. */
static void json_sep(struct json *j)
{
	if (j->need_comma[j->depth] == 1)
		buf_put_u8(j->out, ',');
	j->need_comma[j->depth] = 1;
}

static void json_open(struct json *j, char c)
{
	json_sep(j);
	buf_put_u8(j->out, (uint8_t)c);
	if (j->depth < 31)
		j->depth++;
	j->need_comma[j->depth] = 0;
}

static void json_close(struct json *j, char c)
{
	buf_put_u8(j->out, (uint8_t)c);
	if (j->depth > 0)
		j->depth--;
}

void json_obj_begin(struct json *j) { json_open(j, '{'); }
void json_obj_end(struct json *j) { json_close(j, '}'); }
void json_arr_begin(struct json *j) { json_open(j, '['); }
void json_arr_end(struct json *j) { json_close(j, ']'); }

void json_key(struct json *j, const char *key)
{
	json_str(j, key);
	buf_put_u8(j->out, ':');
	j->need_comma[j->depth] = 2;	/* next value: no comma */
}

/* Length of a valid UTF-8 sequence at p (max n bytes), or 0. */
static size_t utf8_len(const uint8_t *p, size_t n)
{
	size_t len;
	uint32_t cp;
	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0)
		len = 2, cp = p[0] & 0x1f;
	else if ((p[0] & 0xf0) == 0xe0)
		len = 3, cp = p[0] & 0x0f;
	else if ((p[0] & 0xf8) == 0xf0)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void json_strn(struct json *j, const char *s, size_t n)
{
	if (j->need_comma[j->depth] == 2)
		j->need_comma[j->depth] = 1;
	else
		json_sep(j);
	const uint8_t *p = (const uint8_t *)s;
	buf_put_u8(j->out, '"');
	for (size_t i = 0; i < n;) {
		uint8_t c = p[i];
		if (c == '"' || c == '\\') {
			buf_put_u8(j->out, '\\');
			buf_put_u8(j->out, c);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			buf_printf(j->out, "\\u%04x", c);
			i++;
		} else {
			size_t l = utf8_len(p + i, n - i);
			if (l == 0) {
				buf_printf(j->out, "\\u%04x", c);
				i++;
			} else {
				buf_put(j->out, p + i, l);
				i += l;
			}
		}
	}
	buf_put_u8(j->out, '"');
}

void json_str(struct json *j, const char *s)
{
	if (!s) {
		json_null(j);
		return;
	}
	json_strn(j, s, strlen(s));
}

/* Writes a bare token (number, true, null) as a value. */
static void json_raw(struct json *j, const char *tok)
{
	if (j->need_comma[j->depth] == 2)
		j->need_comma[j->depth] = 1;
	else
		json_sep(j);
	buf_put(j->out, tok, strlen(tok));
}

void json_u64(struct json *j, uint64_t v)
{
	char t[24];
	snprintf(t, sizeof(t), "%llu", (unsigned long long)v);
	json_raw(j, t);
}

void json_i64(struct json *j, int64_t v)
{
	char t[24];
	snprintf(t, sizeof(t), "%lld", (long long)v);
	json_raw(j, t);
}

void json_double(struct json *j, double v)
{
	char t[32];
	snprintf(t, sizeof(t), "%.6g", v);
	json_raw(j, t);
}

void json_bool(struct json *j, int v) { json_raw(j, v ? "true" : "false"); }
void json_null(struct json *j) { json_raw(j, "null"); }

void json_hex(struct json *j, const uint8_t *p, size_t n)
{
	char hex[129];
	if (n > 64)
		n = 64;
	hex_encode(p, n, hex);
	json_str(j, hex);
}
