/*
 * pack.c - pack writer and header decoder (format in pack.h).
 */
#include "cairn/common.h"
#include "cairn/pack.h"
#include "cairn/log.h"

#define BLOB_AD_LEN (10 + 1 + 32)
static const char pack_ad[] = "cairn-pack";

struct pack_writer {
	struct buf data;		/* sealed blobs in the order added */
	struct pack_entry *entries;	/* offsets into data */
	size_t n, cap;
};

int blob_type_valid(unsigned type)
{
	return type == BLOB_DATA || type == BLOB_TREE || type == BLOB_LIST || type == BLOB_DICT;
}

const char *blob_type_name(unsigned type)
{
	switch (type) {
	case BLOB_DATA: return "data";
	case BLOB_TREE: return "tree";
	case BLOB_LIST: return "list";
	case BLOB_DICT: return "dict";
	default: return "unknown";
	}
}

/* Additional data binding a sealed blob to its type and id. */
static void blob_ad(unsigned type, const uint8_t id[32], uint8_t ad[BLOB_AD_LEN])
{
	memcpy(ad, "cairn-blob", 10);
	ad[10] = (uint8_t)type;
	memcpy(ad + 11, id, 32);
}

int pack_blob_seal(const struct crypto_keys *keys, unsigned type, const uint8_t id[32],
		   unsigned flag, const void *payload, size_t len, struct buf *out)
{
	uint8_t ad[BLOB_AD_LEN];
	blob_ad(type, id, ad);
	buf_reset(out);
	/* plaintext = flag || payload, assembled after the sealed area */
	size_t need = 2 * (len + 1) + CRYPTO_SEAL_OVERHEAD;
	int e = buf_reserve(out, need);
	if (e < 0)
		return e;
	uint8_t *pt = out->data + len + 1 + CRYPTO_SEAL_OVERHEAD;
	pt[0] = (uint8_t)flag;
	memcpy(pt + 1, payload, len);
	e = crypto_seal(keys->enc, ad, sizeof(ad), pt, len + 1, out->data);
	if (e < 0)
		return e;
	out->len = len + 1 + CRYPTO_SEAL_OVERHEAD;
	return 0;
}

int pack_blob_open(const struct crypto_keys *keys, unsigned type, const uint8_t id[32],
		   const uint8_t *sealed, size_t len, unsigned *ret_flag, struct buf *out)
{
	uint8_t ad[BLOB_AD_LEN];
	if (len < CRYPTO_SEAL_OVERHEAD + 1)
		return CAIRN_ECORRUPT;
	blob_ad(type, id, ad);
	buf_reset(out);
	int e = buf_reserve(out, len - CRYPTO_SEAL_OVERHEAD);
	if (e < 0)
		return e;
	e = crypto_open(keys->enc, ad, sizeof(ad), sealed, len, out->data);
	if (e < 0)
		return e;
	unsigned flag = out->data[0];
	if (flag != PACK_BLOB_FLAG_RAW && flag != PACK_BLOB_FLAG_ZSTD &&
	    !(flag == PACK_BLOB_FLAG_ZSTD_DICT && type == BLOB_DATA))
		return CAIRN_ECORRUPT;
	size_t n = len - CRYPTO_SEAL_OVERHEAD - 1;
	memmove(out->data, out->data + 1, n);
	out->len = n;
	*ret_flag = flag;
	return 0;
}

struct pack_writer *pack_writer_new(size_t expected)
{
	struct pack_writer *pw = calloc(1, sizeof(struct pack_writer));
	if (pw && expected && buf_reserve(&pw->data, expected) < 0) {
		free(pw);
		return NULL;
	}
	return pw;
}

void pack_writer_free(struct pack_writer *pw)
{
	if (!pw)
		return;
	buf_free(&pw->data);
	free(pw->entries);
	free(pw);
}

int pack_writer_add(struct pack_writer *pw, unsigned type, const uint8_t id[32],
		    const uint8_t *sealed, size_t len, uint32_t raw_length)
{
	if (len > UINT32_MAX || pw->n >= PACK_MAX_BLOBS)
		return CAIRN_EINVAL;
	if (pw->n == pw->cap) {
		size_t cap = pw->cap ? pw->cap * 2 : 256;
		struct pack_entry *p = realloc(pw->entries, cap * sizeof(*p));
		if (!p)
			return CAIRN_ENOMEM;
		pw->entries = p;
		pw->cap = cap;
	}
	int e = buf_reserve(&pw->data, len);
	if (e < 0)
		return e;
	struct pack_entry *en = &pw->entries[pw->n++];
	en->type = (uint8_t)type;
	memcpy(en->id, id, 32);
	en->offset = pw->data.len;
	en->length = (uint32_t)len;
	en->raw_length = raw_length;
	buf_put(&pw->data, sealed, len);
	return 0;
}

size_t pack_writer_size(const struct pack_writer *pw)
{
	return pw->data.len;
}

size_t pack_writer_count(const struct pack_writer *pw)
{
	return pw->n;
}

int pack_writer_seal(struct pack_writer *pw, const struct crypto_keys *keys, struct pack_out *out)
{
	memset(out, 0, sizeof(*out));
	if (pw->n == 0)
		return CAIRN_EINVAL;
	int ret = CAIRN_ENOMEM;
	struct buf hdr = BUF_INIT;
	uint64_t *rnd = malloc(pw->n * sizeof(*rnd));
	out->entries = malloc(pw->n * sizeof(*out->entries));
	out->iov = malloc((pw->n + 1) * sizeof(*out->iov));
	if (!rnd || !out->entries || !out->iov)
		goto fail;
	/* Fisher-Yates over the entries: the stored order is random. One
	 * random draw for the whole pack (64-bit values, so the modulo bias is
	 * below 2^-40 for any pack size). */
	struct pack_entry *ents = out->entries;
	crypto_random(rnd, pw->n * sizeof(*rnd));
	memcpy(ents, pw->entries, pw->n * sizeof(*ents));
	for (size_t i = pw->n - 1; i > 0; i--) {
		size_t j = (size_t)(rnd[i] % (i + 1));
		struct pack_entry t = ents[i];
		ents[i] = ents[j];
		ents[j] = t;
	}
	buf_put(&hdr, "CPH1", 4);
	buf_put_varint(&hdr, pw->n);
	uint64_t off = 0;
	for (size_t i = 0; i < pw->n; i++) {
		struct pack_entry *en = &ents[i];
		out->iov[i].iov_base = pw->data.data + en->offset;
		out->iov[i].iov_len = en->length;
		en->offset = off;
		off += en->length;
		buf_put_u8(&hdr, en->type);
		buf_put(&hdr, en->id, 32);
		buf_put_u32le(&hdr, en->length);
		buf_put_u32le(&hdr, en->raw_length);
	}
	if (buf_ok(&hdr) < 0 || buf_reserve(&out->trailer, hdr.len + CRYPTO_SEAL_OVERHEAD + 4) < 0)
		goto fail;
	ret = crypto_seal(keys->enc, pack_ad, sizeof(pack_ad) - 1, hdr.data, hdr.len,
			  out->trailer.data);
	if (ret < 0)
		goto fail;
	out->trailer.len = hdr.len + CRYPTO_SEAL_OVERHEAD;
	buf_put_u32le(&out->trailer, (uint32_t)(hdr.len + CRYPTO_SEAL_OVERHEAD));
	out->iov[pw->n].iov_base = out->trailer.data;
	out->iov[pw->n].iov_len = out->trailer.len;
	out->n_iov = pw->n + 1;
	out->n = pw->n;
	out->size = off + out->trailer.len;
	crypto_plain_hash_iov(out->iov, out->n_iov, out->id);
	buf_free(&hdr);
	free(rnd);
	return 0;
fail:
	buf_free(&hdr);
	free(rnd);
	pack_out_free(out);
	return ret;
}

void pack_out_free(struct pack_out *out)
{
	free(out->iov);
	free(out->entries);
	buf_free(&out->trailer);
	memset(out, 0, sizeof(*out));
}

void pack_writer_reset(struct pack_writer *pw)
{
	pw->n = 0;
	buf_reset(&pw->data);
}

int pack_writer_finish(struct pack_writer *pw, const struct crypto_keys *keys, struct buf *out,
		       uint8_t ret_id[32], struct pack_entry **ret_entries, size_t *ret_n)
{
	struct pack_out po;
	int e = pack_writer_seal(pw, keys, &po);
	if (e < 0)
		return e;
	buf_reset(out);
	for (size_t i = 0; i < po.n_iov; i++)
		buf_put(out, po.iov[i].iov_base, po.iov[i].iov_len);
	e = buf_ok(out);
	if (e == 0) {
		memcpy(ret_id, po.id, 32);
		*ret_entries = po.entries;
		*ret_n = po.n;
		po.entries = NULL;
		pack_writer_reset(pw);
	}
	pack_out_free(&po);
	return e;
}

int pack_header_decode(const struct crypto_keys *keys, const uint8_t *tail, size_t tail_len,
		       uint64_t pack_size, size_t *ret_need, struct pack_entry **ret_entries,
		       size_t *ret_n)
{
	if (tail_len < 4 || tail_len > pack_size)
		return CAIRN_ECORRUPT;
	uint32_t hlen = get_u32le(tail + tail_len - 4);
	if (hlen < CRYPTO_SEAL_OVERHEAD + 5 || (uint64_t)hlen + 4 > pack_size)
		return CAIRN_ECORRUPT;
	if ((size_t)hlen + 4 > tail_len) {
		if (ret_need)
			*ret_need = (size_t)hlen + 4;
		return CAIRN_EINVAL;
	}
	const uint8_t *sealed = tail + tail_len - 4 - hlen;
	uint8_t *plain = malloc(hlen);
	if (!plain)
		return CAIRN_ENOMEM;
	struct pack_entry *ents = NULL;
	int ret = crypto_open(keys->enc, pack_ad, sizeof(pack_ad) - 1, sealed, hlen, plain);
	if (ret < 0)
		goto fail;
	ret = CAIRN_ECORRUPT;
	struct rd r;
	rd_init(&r, plain, hlen - CRYPTO_SEAL_OVERHEAD);
	const uint8_t *magic;
	uint64_t n;
	if (rd_take(&r, 4, &magic) < 0 || memcmp(magic, "CPH1", 4) != 0 || rd_varint(&r, &n) < 0)
		goto fail;
	if (n == 0 || n > PACK_MAX_BLOBS || n * (1 + 32 + 4 + 4) != r.len)
		goto fail;
	ents = malloc((size_t)n * sizeof(*ents));
	if (!ents) {
		ret = CAIRN_ENOMEM;
		goto fail;
	}
	uint64_t off = 0;
	uint64_t data_end = pack_size - 4 - hlen;
	for (size_t i = 0; i < n; i++) {
		struct pack_entry *en = &ents[i];
		rd_u8(&r, &en->type);
		rd_copy(&r, en->id, 32);
		rd_u32le(&r, &en->length);
		rd_u32le(&r, &en->raw_length);
		en->offset = off;
		if (!blob_type_valid(en->type) || en->length < CRYPTO_SEAL_OVERHEAD + 1 ||
		    en->length > data_end - off)
			goto fail;
		off += en->length;
	}
	if (off != data_end)
		goto fail;
	free(plain);
	*ret_entries = ents;
	*ret_n = (size_t)n;
	return 0;
fail:
	free(ents);
	free(plain);
	return ret;
}

void pack_name(const uint8_t id[32], char *name, size_t cap)
{
	char hex[65];
	hex_encode(id, 32, hex);
	snprintf(name, cap, "data/%.2s/%s", hex, hex);
}
