/*
 * buf.c - growable buffers, encoders and the bounds-checked reader.
 */
#include "cairn/common.h"
#include "cairn/buf.h"
#include "cairn/crypto.h"

#include <stdarg.h>

void buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->failed = 0;
}

void buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

void buf_free_secret(struct buf *b)
{
	if (b->data)
		crypto_wipe(b->data, b->cap);
	buf_free(b);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	b->failed = 0;
}

int buf_reserve(struct buf *b, size_t n)
{
	if (b->failed)
		return CAIRN_ENOMEM;
	if (n <= b->cap - b->len)
		return 0;
	if (n > SIZE_MAX / 2 - b->len) {
		b->failed = 1;
		return CAIRN_ENOMEM;
	}
	size_t cap = b->cap ? b->cap : 64;
	while (cap - b->len < n)
		cap *= 2;
	uint8_t *p = realloc(b->data, cap);
	if (!p) {
		b->failed = 1;
		return CAIRN_ENOMEM;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

int buf_ok(const struct buf *b)
{
	return b->failed ? CAIRN_ENOMEM : 0;
}

uint8_t *buf_steal(struct buf *b, size_t *ret_len)
{
	uint8_t *p = b->data;
	if (ret_len)
		*ret_len = b->len;
	buf_init(b);
	return p;
}

void buf_put(struct buf *b, const void *p, size_t n)
{
	if (n == 0 || buf_reserve(b, n) < 0)
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void buf_put_u8(struct buf *b, uint8_t v)
{
	buf_put(b, &v, 1);
}

void put_u32le(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void put_u64le(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t get_u32le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t get_u64le(const uint8_t *p)
{
	return (uint64_t)get_u32le(p) | (uint64_t)get_u32le(p + 4) << 32;
}

void buf_put_u32le(struct buf *b, uint32_t v)
{
	uint8_t t[4];
	put_u32le(t, v);
	buf_put(b, t, 4);
}

void buf_put_u64le(struct buf *b, uint64_t v)
{
	uint8_t t[8];
	put_u64le(t, v);
	buf_put(b, t, 8);
}

void buf_put_varint(struct buf *b, uint64_t v)
{
	uint8_t t[10];
	size_t n = 0;
	while (v >= 0x80) {
		t[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	t[n++] = (uint8_t)v;
	buf_put(b, t, n);
}

void buf_put_bytes(struct buf *b, const void *p, size_t n)
{
	buf_put_varint(b, n);
	buf_put(b, p, n);
}

void buf_put_str(struct buf *b, const char *s)
{
	buf_put_bytes(b, s, strlen(s));
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n + 1) < 0)
		return;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void buf_terminate(struct buf *b)
{
	if (buf_reserve(b, 1) < 0)
		return;
	b->data[b->len] = 0;
}

int rd_take(struct rd *r, size_t n, const uint8_t **ret_p)
{
	if (n > r->len)
		return CAIRN_ECORRUPT;
	*ret_p = r->p;
	r->p += n;
	r->len -= n;
	return 0;
}

int rd_copy(struct rd *r, void *out, size_t n)
{
	const uint8_t *p;
	int e = rd_take(r, n, &p);
	if (e < 0)
		return e;
	if (n)
		memcpy(out, p, n);
	return 0;
}

int rd_u8(struct rd *r, uint8_t *v)
{
	return rd_copy(r, v, 1);
}

int rd_u32le(struct rd *r, uint32_t *v)
{
	const uint8_t *p;
	int e = rd_take(r, 4, &p);
	if (e < 0)
		return e;
	*v = get_u32le(p);
	return 0;
}

int rd_u64le(struct rd *r, uint64_t *v)
{
	const uint8_t *p;
	int e = rd_take(r, 8, &p);
	if (e < 0)
		return e;
	*v = get_u64le(p);
	return 0;
}

int rd_varint(struct rd *r, uint64_t *v)
{
	uint64_t x = 0;
	for (size_t i = 0; i < 10; i++) {
		if (i >= r->len)
			return CAIRN_ECORRUPT;
		uint8_t c = r->p[i];
		if (i == 9 && c > 1)
			return CAIRN_ECORRUPT;
		x |= (uint64_t)(c & 0x7f) << (7 * i);
		if (!(c & 0x80)) {
			if (c == 0 && i > 0)
				return CAIRN_ECORRUPT; /* overlong */
			r->p += i + 1;
			r->len -= i + 1;
			*v = x;
			return 0;
		}
	}
	return CAIRN_ECORRUPT;
}

int rd_bytes(struct rd *r, const uint8_t **ret_p, size_t *ret_n)
{
	struct rd save = *r;
	uint64_t n;
	int e = rd_varint(r, &n);
	if (e < 0)
		return e;
	if (n > r->len) {
		*r = save;
		return CAIRN_ECORRUPT;
	}
	*ret_n = (size_t)n;
	return rd_take(r, (size_t)n, ret_p);
}

void hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = 0;
}

/* Value of one hex digit, or -1. */
static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode(const char *in, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hex_val(in[2 * i]);
		if (hi < 0)
			return CAIRN_EINVAL;
		int lo = hex_val(in[2 * i + 1]);
		if (lo < 0)
			return CAIRN_EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return in[2 * n] == 0 ? 0 : CAIRN_EINVAL;
}
