/*
 * buf.h - growable byte buffers, little-endian/varint encoding and a
 * bounds-checked reader.
 *
 * Writers append; any allocation failure is remembered in the buffer
 * (buf->failed) so encoders can append freely and check once at the end
 * with buf_ok(). Readers (struct rd) never read past their end: every
 * rd_* function returns CAIRN_ECORRUPT instead, and leaves the output
 * untouched.
 */
#ifndef CAIRN_BUF_H
#define CAIRN_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	int failed;	/* set when an allocation failed; later appends do nothing */
};

#define BUF_INIT { NULL, 0, 0, 0 }

void buf_init(struct buf *b);
/* Frees the storage; the buffer is empty and reusable afterwards. */
void buf_free(struct buf *b);
/* Like buf_free but zeroes the storage first (for secrets). */
void buf_free_secret(struct buf *b);
/* Empties the buffer, keeps its storage. */
void buf_reset(struct buf *b);
/* Makes room for n more bytes. Returns 0 or CAIRN_ENOMEM. */
int buf_reserve(struct buf *b, size_t n);
/* Returns 0, or CAIRN_ENOMEM when any earlier append failed. */
int buf_ok(const struct buf *b);
/* Hands the storage to the caller (free() it); the buffer becomes empty. */
uint8_t *buf_steal(struct buf *b, size_t *ret_len);

void buf_put(struct buf *b, const void *p, size_t n);
void buf_put_u8(struct buf *b, uint8_t v);
void buf_put_u32le(struct buf *b, uint32_t v);
void buf_put_u64le(struct buf *b, uint64_t v);
void buf_put_varint(struct buf *b, uint64_t v);
/* varint length followed by the bytes */
void buf_put_bytes(struct buf *b, const void *p, size_t n);
void buf_put_str(struct buf *b, const char *s);
/* printf-style append (no terminating NUL kept in len). */
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends a NUL without counting it in len, so data can be used as a C string. */
void buf_terminate(struct buf *b);

void put_u32le(uint8_t *p, uint32_t v);
void put_u64le(uint8_t *p, uint64_t v);
uint32_t get_u32le(const uint8_t *p);
uint64_t get_u64le(const uint8_t *p);

struct rd {
	const uint8_t *p;
	size_t len;	/* bytes left */
};

static inline void rd_init(struct rd *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
}

int rd_u8(struct rd *r, uint8_t *v);
int rd_u32le(struct rd *r, uint32_t *v);
int rd_u64le(struct rd *r, uint64_t *v);
/* Decodes a LEB128 varint of at most 10 bytes (canonical: no overlong forms). */
int rd_varint(struct rd *r, uint64_t *v);
/* Copies n bytes out. */
int rd_copy(struct rd *r, void *out, size_t n);
/* Points *ret_p at the next n bytes without copying. */
int rd_take(struct rd *r, size_t n, const uint8_t **ret_p);
/* Reads a varint length then points at that many bytes. */
int rd_bytes(struct rd *r, const uint8_t **ret_p, size_t *ret_n);

/* Hex helpers: out must have room for 2*n+1 bytes. */
void hex_encode(const uint8_t *in, size_t n, char *out);
/* Decodes exactly 2*n hex digits from a string; returns 0 or CAIRN_EINVAL. */
int hex_decode(const char *in, uint8_t *out, size_t n);

#endif
