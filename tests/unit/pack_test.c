/*
 * pack_test.c - sealed blobs, the pack writer and the header decoder.
 */
#include "cairn/common.h"
#include "cairn/pack.h"

#include "tap.h"

#define NBLOBS 120

struct blob {
	unsigned type;
	unsigned flag;
	uint8_t id[32];
	uint8_t *payload;
	size_t len;
};

static struct crypto_keys keys;
static struct blob blobs[NBLOBS];

static void make_blobs(void)
{
	for (int i = 0; i < NBLOBS; i++) {
		struct blob *b = &blobs[i];
		b->type = BLOB_DATA + (unsigned)(i % 3);
		b->flag = i % 5 == 0 ? PACK_BLOB_FLAG_ZSTD : PACK_BLOB_FLAG_RAW;
		b->len = i == 0 ? 0 : crypto_random_uniform(3000);
		b->payload = malloc(b->len ? b->len : 1);
		if (!b->payload)
			abort();
		crypto_random(b->payload, b->len);
		/* Ids are unique even for equal payloads. */
		uint8_t in[8];
		put_u64le(in, (uint64_t)i);
		crypto_keyed_hash(keys.id, in, sizeof(in), b->id);
	}
}

/* Field-wise: struct pack_entry has padding after the id. */
static int entries_equal(const struct pack_entry *a, const struct pack_entry *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].type != b[i].type || memcmp(a[i].id, b[i].id, 32) != 0 ||
		    a[i].offset != b[i].offset || a[i].length != b[i].length ||
		    a[i].raw_length != b[i].raw_length)
			return 0;
	return 1;
}

static const struct blob *find_blob(unsigned type, const uint8_t id[32])
{
	for (int i = 0; i < NBLOBS; i++)
		if (blobs[i].type == type && memcmp(blobs[i].id, id, 32) == 0)
			return &blobs[i];
	return NULL;
}

static void test_blob_seal(void)
{
	struct buf sealed = BUF_INIT, out = BUF_INIT;
	uint8_t id[32] = { 1, 2, 3 }, id2[32] = { 1, 2, 4 };
	unsigned flag = 99;
	ok(pack_blob_seal(&keys, BLOB_TREE, id, PACK_BLOB_FLAG_ZSTD, "hello", 5, &sealed) == 0,
	   "seal a blob");
	is_int(sealed.len, 5 + 1 + CRYPTO_SEAL_OVERHEAD, "sealed length = payload + flag + overhead");
	ok(pack_blob_open(&keys, BLOB_TREE, id, sealed.data, sealed.len, &flag, &out) == 0 &&
		   flag == PACK_BLOB_FLAG_ZSTD && out.len == 5 && memcmp(out.data, "hello", 5) == 0,
	   "open gives flag and payload");
	flag = 99;
	is_int(pack_blob_open(&keys, BLOB_TREE, id2, sealed.data, sealed.len, &flag, &out),
	       CAIRN_ECORRUPT, "open with the wrong id fails");
	is_int(pack_blob_open(&keys, BLOB_DATA, id, sealed.data, sealed.len, &flag, &out),
	       CAIRN_ECORRUPT, "open with the wrong type fails");
	struct crypto_keys other = keys;
	other.enc[0] ^= 1;
	is_int(pack_blob_open(&other, BLOB_TREE, id, sealed.data, sealed.len, &flag, &out),
	       CAIRN_ECORRUPT, "open with the wrong key fails");
	is_int(pack_blob_open(&keys, BLOB_TREE, id, sealed.data, sealed.len - 1, &flag, &out),
	       CAIRN_ECORRUPT, "open of a truncated blob fails");
	is_int(pack_blob_open(&keys, BLOB_TREE, id, sealed.data, CRYPTO_SEAL_OVERHEAD, &flag, &out),
	       CAIRN_ECORRUPT, "open of a blob without a flag byte fails");
	ok(flag == 99, "failed opens leave the flag untouched");

	ok(pack_blob_seal(&keys, BLOB_DATA, id, 3, "x", 1, &sealed) == 0, "seal with flag 3");
	is_int(pack_blob_open(&keys, BLOB_DATA, id, sealed.data, sealed.len, &flag, &out),
	       CAIRN_ECORRUPT, "an unknown flag is CAIRN_ECORRUPT");
	ok(pack_blob_seal(&keys, BLOB_DATA, id, PACK_BLOB_FLAG_ZSTD_DICT, "x", 1, &sealed) == 0 &&
		   pack_blob_open(&keys, BLOB_DATA, id, sealed.data, sealed.len, &flag, &out) == 0 &&
		   flag == PACK_BLOB_FLAG_ZSTD_DICT,
	   "flag 2 (zstd with a dictionary) opens on a data blob");
	ok(pack_blob_seal(&keys, BLOB_TREE, id, PACK_BLOB_FLAG_ZSTD_DICT, "x", 1, &sealed) == 0 &&
		   pack_blob_open(&keys, BLOB_TREE, id, sealed.data, sealed.len, &flag, &out) ==
			   CAIRN_ECORRUPT,
	   "flag 2 on a tree blob is CAIRN_ECORRUPT");

	ok(pack_blob_seal(&keys, BLOB_LIST, id, PACK_BLOB_FLAG_RAW, "", 0, &sealed) == 0 &&
		   pack_blob_open(&keys, BLOB_LIST, id, sealed.data, sealed.len, &flag, &out) == 0 &&
		   out.len == 0 && flag == PACK_BLOB_FLAG_RAW,
	   "an empty payload round trips");

	/* Two seals of the same blob differ (fresh nonce) and both open. */
	struct buf s2 = BUF_INIT;
	pack_blob_seal(&keys, BLOB_DATA, id, 0, "same", 4, &sealed);
	pack_blob_seal(&keys, BLOB_DATA, id, 0, "same", 4, &s2);
	ok(sealed.len == s2.len && memcmp(sealed.data, s2.data, s2.len) != 0,
	   "sealing twice gives different bytes");
	buf_free(&s2);
	buf_free(&sealed);
	buf_free(&out);
}

static void test_types(void)
{
	ok(blob_type_valid(BLOB_DATA) && blob_type_valid(BLOB_TREE) && blob_type_valid(BLOB_LIST) &&
		   blob_type_valid(BLOB_DICT),
	   "the four blob types are valid");
	ok(!blob_type_valid(0) && !blob_type_valid(5) && !blob_type_valid(255),
	   "0, 5, 255 are not");
	ok(strcmp(blob_type_name(BLOB_DATA), "data") == 0 &&
		   strcmp(blob_type_name(BLOB_TREE), "tree") == 0 &&
		   strcmp(blob_type_name(BLOB_LIST), "list") == 0 &&
		   strcmp(blob_type_name(9), "unknown") == 0,
	   "blob type names");
	uint8_t id[32];
	for (int i = 0; i < 32; i++)
		id[i] = (uint8_t)(0xab + i);
	char name[80];
	pack_name(id, name, sizeof(name));
	ok(strncmp(name, "data/ab/abacadae", 16) == 0 && strlen(name) == 5 + 3 + 64,
	   "pack_name is data/<xx>/<hex> (%s)", name);
}

static void test_pack(void)
{
	struct pack_writer *pw = pack_writer_new(0);
	struct buf sealed = BUF_INIT, pack = BUF_INIT, out = BUF_INIT;
	ok(pw != NULL, "pack_writer_new");
	ok(pack_writer_count(pw) == 0 && pack_writer_size(pw) == 0, "a new writer is empty");
	uint8_t pid[32];
	struct pack_entry *ents = NULL;
	size_t n = 0;
	is_int(pack_writer_finish(pw, &keys, &pack, pid, &ents, &n), CAIRN_EINVAL,
	       "finishing an empty pack: CAIRN_EINVAL");

	size_t total = 0;
	int add_ok = 1;
	for (int i = 0; i < NBLOBS; i++) {
		struct blob *b = &blobs[i];
		if (pack_blob_seal(&keys, b->type, b->id, b->flag, b->payload, b->len, &sealed) != 0 ||
		    pack_writer_add(pw, b->type, b->id, sealed.data, sealed.len,
				    (uint32_t)b->len + 7) != 0)
			add_ok = 0;
		total += sealed.len;
	}
	ok(add_ok, "added %d blobs", NBLOBS);
	ok(pack_writer_count(pw) == NBLOBS && pack_writer_size(pw) == total,
	   "count %zu and size %zu", pack_writer_count(pw), pack_writer_size(pw));

	ok(pack_writer_finish(pw, &keys, &pack, pid, &ents, &n) == 0, "finish the pack");
	ok(n == NBLOBS, "finish returns %zu entries", n);
	ok(pack_writer_count(pw) == 0 && pack_writer_size(pw) == 0, "the writer is empty after");
	uint8_t h[32];
	crypto_plain_hash(pack.data, pack.len, h);
	ok(memcmp(h, pid, 32) == 0, "pack id = SHA-256 of its bytes");
	uint32_t hlen = get_u32le(pack.data + pack.len - 4);
	ok(pack.len == total + hlen + 4, "pack = blobs + sealed header + length");
	is_int(hlen, CRYPTO_SEAL_OVERHEAD + 4 + 1 + NBLOBS * 41 + (NBLOBS >= 128),
	       "header length = overhead + magic + varint + 41 per entry");

	/* Decode from the whole pack as the tail. */
	struct pack_entry *dec = NULL;
	size_t dn = 0, need = 0;
	ok(pack_header_decode(&keys, pack.data, pack.len, pack.len, &need, &dec, &dn) == 0,
	   "decode the header from the full pack");
	ok(dn == n && entries_equal(dec, ents, n),
	   "decoded entries equal the writer's, in stored order");
	int tiles = 1;
	uint64_t off = 0;
	for (size_t i = 0; i < dn; i++) {
		if (dec[i].offset != off)
			tiles = 0;
		off += dec[i].length;
	}
	ok(tiles && off == pack.len - hlen - 4, "entries tile the pack up to the header");

	int opened = 0, order_same = 1;
	for (size_t i = 0; i < dn; i++) {
		const struct blob *b = find_blob(dec[i].type, dec[i].id);
		unsigned flag;
		if (memcmp(dec[i].id, blobs[i].id, 32) != 0)
			order_same = 0;
		if (b && dec[i].raw_length == b->len + 7 &&
		    pack_blob_open(&keys, dec[i].type, dec[i].id, pack.data + dec[i].offset,
				   dec[i].length, &flag, &out) == 0 &&
		    flag == b->flag && out.len == b->len && memcmp(out.data, b->payload, b->len) == 0)
			opened++;
	}
	is_int(opened, NBLOBS, "every blob opens at its offset to its payload and flag");
	ok(!order_same, "stored order differs from insertion order");

	/* A wrong id or type for a blob at its place fails. */
	unsigned flag;
	uint8_t wrong[32];
	memcpy(wrong, dec[0].id, 32);
	wrong[31] ^= 1;
	is_int(pack_blob_open(&keys, dec[0].type, wrong, pack.data + dec[0].offset, dec[0].length,
			      &flag, &out),
	       CAIRN_ECORRUPT, "a blob opened with the wrong id fails");
	unsigned wtype = dec[0].type == BLOB_DATA ? BLOB_TREE : BLOB_DATA;
	is_int(pack_blob_open(&keys, wtype, dec[0].id, pack.data + dec[0].offset, dec[0].length,
			      &flag, &out),
	       CAIRN_ECORRUPT, "a blob opened with the wrong type fails");
	is_int(pack_blob_open(&keys, dec[1].type, dec[1].id, pack.data + dec[0].offset,
			      dec[0].length, &flag, &out),
	       CAIRN_ECORRUPT, "a blob opened with another blob's id and type fails");
	free(dec);
	dec = NULL;

	/* Short tail: asks for more, then succeeds with what it asked for. */
	size_t tail = 100;
	need = 0;
	is_int(pack_header_decode(&keys, pack.data + pack.len - tail, tail, pack.len, &need, &dec,
				  &dn),
	       CAIRN_EINVAL, "a tail shorter than the header: CAIRN_EINVAL");
	is_int(need, hlen + 4, "need is the header length + 4");
	ok(dec == NULL, "no entries returned");
	ok(pack_header_decode(&keys, pack.data + pack.len - need, need, pack.len, NULL, &dec, &dn) ==
			   0 &&
		   dn == n && entries_equal(dec, ents, n),
	   "decoding with the needed tail succeeds");
	free(dec);
	dec = NULL;
	is_int(pack_header_decode(&keys, pack.data + pack.len - (need - 1), need - 1, pack.len,
				  &need, &dec, &dn),
	       CAIRN_EINVAL, "one byte short still asks for more");
	is_int(pack_header_decode(&keys, pack.data + pack.len - 3, 3, pack.len, &need, &dec, &dn),
	       CAIRN_ECORRUPT, "a tail under 4 bytes: CAIRN_ECORRUPT");
	is_int(pack_header_decode(&keys, pack.data, pack.len, pack.len - 1, &need, &dec, &dn),
	       CAIRN_ECORRUPT, "a tail longer than the pack: CAIRN_ECORRUPT");

	/* The same header in a pack of another size does not tile. */
	struct buf longer = BUF_INIT;
	buf_put_u8(&longer, 0);
	buf_put(&longer, pack.data, pack.len);
	is_int(pack_header_decode(&keys, longer.data, longer.len, longer.len, &need, &dec, &dn),
	       CAIRN_ECORRUPT, "a byte more before the blobs: entries do not tile, CAIRN_ECORRUPT");
	buf_free(&longer);

	/* Any flipped byte in the header or its length: CAIRN_ECORRUPT. */
	struct buf copy = BUF_INIT;
	buf_put(&copy, pack.data, pack.len);
	int undetected = 0;
	for (size_t pos = pack.len - hlen - 4; pos < pack.len; pos++) {
		copy.data[pos] ^= 0x10;
		int e = pack_header_decode(&keys, copy.data, copy.len, copy.len, &need, &dec, &dn);
		if (e != CAIRN_ECORRUPT) {
			undetected++;
			printf("# flip at %zu of %zu: %d\n", pos, pack.len, e);
			if (e == 0)
				free(dec);
		}
		copy.data[pos] ^= 0x10;
	}
	is_int(undetected, 0, "each of the %u header bytes flipped: CAIRN_ECORRUPT", hlen + 4);
	struct crypto_keys other = keys;
	other.enc[5] ^= 0x20;
	is_int(pack_header_decode(&other, pack.data, pack.len, pack.len, &need, &dec, &dn),
	       CAIRN_ECORRUPT, "the header with the wrong key: CAIRN_ECORRUPT");

	/* A flipped byte inside a blob leaves the header fine but that blob fails. */
	copy.data[ents[3].offset + ents[3].length / 2] ^= 1;
	ok(pack_header_decode(&keys, copy.data, copy.len, copy.len, &need, &dec, &dn) == 0,
	   "a damaged blob does not affect the header");
	free(dec);
	is_int(pack_blob_open(&keys, ents[3].type, ents[3].id, copy.data + ents[3].offset,
			      ents[3].length, &flag, &out),
	       CAIRN_ECORRUPT, "but that blob no longer opens");
	ok(pack_blob_open(&keys, ents[4].type, ents[4].id, copy.data + ents[4].offset,
			  ents[4].length, &flag, &out) == 0,
	   "its neighbour still opens");
	buf_free(&copy);

	/* The writer is reusable; a second pack with the same blobs has a
	 * different id and (very likely) order. */
	for (int i = 0; i < 3; i++) {
		pack_blob_seal(&keys, blobs[i].type, blobs[i].id, 0, blobs[i].payload, blobs[i].len,
			       &sealed);
		pack_writer_add(pw, blobs[i].type, blobs[i].id, sealed.data, sealed.len,
				(uint32_t)blobs[i].len);
	}
	struct pack_entry *e2 = NULL;
	size_t n2 = 0;
	uint8_t pid2[32];
	struct buf pack2 = BUF_INIT;
	ok(pack_writer_finish(pw, &keys, &pack2, pid2, &e2, &n2) == 0 && n2 == 3 &&
		   memcmp(pid, pid2, 32) != 0,
	   "the writer is reusable after finish");
	ok(pack_header_decode(&keys, pack2.data, pack2.len, pack2.len, &need, &dec, &dn) == 0 &&
		   dn == 3,
	   "the second pack decodes");
	free(dec);
	free(e2);
	buf_free(&pack2);

	free(ents);
	pack_writer_free(pw);
	pack_writer_free(NULL);
	buf_free(&sealed);
	buf_free(&pack);
	buf_free(&out);
}

/* pack_writer_seal: the pieces are the pack, without a copy. */
static void test_seal_pieces(void)
{
	struct pack_writer *pw = pack_writer_new(1u << 20);
	struct buf sealed = BUF_INIT, whole = BUF_INIT, out = BUF_INIT;
	struct pack_out po;
	ok(pw != NULL, "pack_writer_new with a reservation");
	is_int(pack_writer_seal(pw, &keys, &po), CAIRN_EINVAL, "sealing an empty writer: CAIRN_EINVAL");
	for (int i = 0; i < 60; i++) {
		pack_blob_seal(&keys, blobs[i].type, blobs[i].id, blobs[i].flag, blobs[i].payload,
			       blobs[i].len, &sealed);
		pack_writer_add(pw, blobs[i].type, blobs[i].id, sealed.data, sealed.len,
				(uint32_t)blobs[i].len);
	}
	size_t blob_bytes = pack_writer_size(pw);
	ok(pack_writer_seal(pw, &keys, &po) == 0, "seal 60 blobs into pieces");
	ok(po.n == 60 && po.n_iov == 61, "60 entries, 60 blob pieces + trailer");
	for (size_t i = 0; i < po.n_iov; i++)
		buf_put(&whole, po.iov[i].iov_base, po.iov[i].iov_len);
	uint8_t h[32];
	crypto_plain_hash(whole.data, whole.len, h);
	ok(whole.len == po.size && po.size == blob_bytes + po.trailer.len,
	   "size = blobs + trailer = concatenated pieces");
	ok(memcmp(h, po.id, 32) == 0, "id = SHA-256 of the concatenated pieces");
	ok(po.iov[60].iov_base == po.trailer.data && po.iov[60].iov_len == po.trailer.len,
	   "the last piece is the trailer");
	struct pack_entry *dec = NULL;
	size_t dn = 0, need = 0;
	ok(pack_header_decode(&keys, whole.data, whole.len, whole.len, &need, &dec, &dn) == 0 &&
		   dn == 60 && entries_equal(dec, po.entries, 60),
	   "the concatenation decodes to the entries");
	int opened = 0;
	for (size_t i = 0; i < dn; i++) {
		const struct blob *b = find_blob(dec[i].type, dec[i].id);
		unsigned flag;
		if (b && po.iov[i].iov_len == dec[i].length &&
		    pack_blob_open(&keys, dec[i].type, dec[i].id, whole.data + dec[i].offset,
				   dec[i].length, &flag, &out) == 0 &&
		    out.len == b->len && memcmp(out.data, b->payload, b->len) == 0)
			opened++;
	}
	is_int(opened, 60, "each piece i is the blob of entry i and opens");
	free(dec);
	ok(pack_writer_count(pw) == 60, "the writer keeps its blobs until reset");
	pack_out_free(&po);
	ok(po.iov == NULL && po.entries == NULL, "pack_out_free clears the struct");
	pack_writer_reset(pw);
	ok(pack_writer_count(pw) == 0 && pack_writer_size(pw) == 0, "pack_writer_reset empties it");
	pack_writer_free(pw);
	buf_free(&sealed);
	buf_free(&whole);
	buf_free(&out);
}

/* A hand-made header plaintext, sealed, behind `data_len` zero bytes. */
static void seal_header(const struct buf *plain, size_t data_len, struct buf *pack)
{
	buf_reset(pack);
	for (size_t i = 0; i < data_len; i++)
		buf_put_u8(pack, 0);
	buf_reserve(pack, plain->len + CRYPTO_SEAL_OVERHEAD + 4);
	crypto_seal(keys.enc, "cairn-pack", 10, plain->data, plain->len, pack->data + pack->len);
	pack->len += plain->len + CRYPTO_SEAL_OVERHEAD;
	buf_put_u32le(pack, (uint32_t)(plain->len + CRYPTO_SEAL_OVERHEAD));
}

static void test_header_rules(void)
{
	struct buf plain = BUF_INIT, pack = BUF_INIT;
	struct pack_entry *dec = NULL;
	size_t dn = 0, need = 0;
	uint8_t id[32] = { 7 };

	/* A valid hand-made header: one blob of 100 bytes. */
	buf_put(&plain, "CPH1", 4);
	buf_put_varint(&plain, 1);
	buf_put_u8(&plain, BLOB_DATA);
	buf_put(&plain, id, 32);
	buf_put_u32le(&plain, 100);
	buf_put_u32le(&plain, 60);
	seal_header(&plain, 100, &pack);
	ok(pack_header_decode(&keys, pack.data, pack.len, pack.len, &need, &dec, &dn) == 0 &&
		   dn == 1 && dec[0].offset == 0 && dec[0].length == 100 &&
		   dec[0].raw_length == 60 && dec[0].type == BLOB_DATA,
	   "a hand-made header with AD \"cairn-pack\" decodes");
	free(dec);
	dec = NULL;

	struct {
		const char *what;
		const char *magic;
		uint64_t count;
		unsigned type;
		uint32_t len;
		size_t data_len;
		int extra;
	} bad[] = {
		{ "bad magic", "CPH2", 1, BLOB_DATA, 100, 100, 0 },
		{ "count 0", "CPH1", 0, BLOB_DATA, 100, 100, 0 },
		{ "count larger than the entries", "CPH1", 2, BLOB_DATA, 100, 100, 0 },
		{ "trailing byte after the entries", "CPH1", 1, BLOB_DATA, 100, 100, 1 },
		{ "blob type 0", "CPH1", 1, 0, 100, 100, 0 },
		{ "blob type 5", "CPH1", 1, 5, 100, 100, 0 },
		{ "blob shorter than a sealed empty blob", "CPH1", 1, BLOB_DATA, 40, 40, 0 },
		{ "entries shorter than the data", "CPH1", 1, BLOB_DATA, 100, 101, 0 },
		{ "entries longer than the data", "CPH1", 1, BLOB_DATA, 100, 99, 0 },
		{ "length beyond the pack", "CPH1", 1, BLOB_DATA, 0xffffffffu, 99, 0 },
	};
	for (size_t i = 0; i < CAIRN_ARRAY_LEN(bad); i++) {
		buf_reset(&plain);
		buf_put(&plain, bad[i].magic, 4);
		buf_put_varint(&plain, bad[i].count);
		buf_put_u8(&plain, (uint8_t)bad[i].type);
		buf_put(&plain, id, 32);
		buf_put_u32le(&plain, bad[i].len);
		buf_put_u32le(&plain, 60);
		if (bad[i].extra)
			buf_put_u8(&plain, 0);
		seal_header(&plain, bad[i].data_len, &pack);
		is_int(pack_header_decode(&keys, pack.data, pack.len, pack.len, &need, &dec, &dn),
		       CAIRN_ECORRUPT, "header rejected: %s", bad[i].what);
	}

	/* Sealed with another additional data. */
	buf_reset(&plain);
	buf_put(&plain, "CPH1", 4);
	buf_put_varint(&plain, 1);
	buf_put_u8(&plain, BLOB_DATA);
	buf_put(&plain, id, 32);
	buf_put_u32le(&plain, 100);
	buf_put_u32le(&plain, 60);
	buf_reset(&pack);
	for (int i = 0; i < 100; i++)
		buf_put_u8(&pack, 0);
	buf_reserve(&pack, plain.len + CRYPTO_SEAL_OVERHEAD + 4);
	crypto_seal(keys.enc, "cairn-index", 11, plain.data, plain.len, pack.data + pack.len);
	pack.len += plain.len + CRYPTO_SEAL_OVERHEAD;
	buf_put_u32le(&pack, (uint32_t)(plain.len + CRYPTO_SEAL_OVERHEAD));
	is_int(pack_header_decode(&keys, pack.data, pack.len, pack.len, &need, &dec, &dn),
	       CAIRN_ECORRUPT, "a header sealed as another kind of object is rejected");

	/* Header length field too small or larger than the pack. */
	uint8_t small[64] = { 0 };
	put_u32le(small + 60, 10);
	is_int(pack_header_decode(&keys, small, 64, 64, &need, &dec, &dn), CAIRN_ECORRUPT,
	       "a header length below the minimum: CAIRN_ECORRUPT");
	put_u32le(small + 60, 61);
	is_int(pack_header_decode(&keys, small, 64, 64, &need, &dec, &dn), CAIRN_ECORRUPT,
	       "a header length beyond the pack: CAIRN_ECORRUPT");
	put_u32le(small + 60, 0xffffffffu);
	is_int(pack_header_decode(&keys, small, 64, 64, &need, &dec, &dn), CAIRN_ECORRUPT,
	       "a header length of 2^32-1: CAIRN_ECORRUPT");
	buf_free(&plain);
	buf_free(&pack);
}

int main(void)
{
	if (crypto_init() != 0)
		return 1;
	crypto_keys_generate(&keys);
	make_blobs();
	test_blob_seal();
	test_types();
	test_pack();
	test_seal_pieces();
	test_header_rules();
	for (int i = 0; i < NBLOBS; i++)
		free(blobs[i].payload);
	return tap_done();
}
