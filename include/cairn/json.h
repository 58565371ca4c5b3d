/*
 * json.h - a small JSON writer for --json output (no parsing needed).
 * Commas are inserted automatically; strings are escaped (invalid UTF-8
 * bytes are written as \u00XX so output is always valid JSON).
 */
#ifndef CAIRN_JSON_H
#define CAIRN_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/buf.h"

struct json {
	struct buf *out;
	int need_comma[32];
	int depth;
};

void json_init(struct json *j, struct buf *out);
void json_obj_begin(struct json *j);
void json_obj_end(struct json *j);
void json_arr_begin(struct json *j);
void json_arr_end(struct json *j);
/* Writes "key": ; follow with a value call. */
void json_key(struct json *j, const char *key);
void json_str(struct json *j, const char *s);
void json_strn(struct json *j, const char *s, size_t n);
void json_u64(struct json *j, uint64_t v);
void json_i64(struct json *j, int64_t v);
void json_double(struct json *j, double v);
void json_bool(struct json *j, int v);
void json_null(struct json *j);
void json_hex(struct json *j, const uint8_t *p, size_t n);

#endif
