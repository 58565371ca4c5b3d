/*
 * fuzz_pack.c - libFuzzer target for pack_header_decode.
 *
 * Authenticated path: the input is the plaintext of a pack header. It is
 * sealed with a fixed key (all 0x11) and the additional data "cairn-pack"
 * (as src/repo/pack.c does), and put behind (first input byte * 97) zero
 * bytes of blob data: pack = data || sealed header || u32le sealed length.
 * The decoder then sees attacker-chosen plaintext behind a valid tag,
 * which is what a key holder (or a bug in the writer) could produce.
 * It is decoded from the whole pack, from exactly the header's tail, and
 * from a short tail (the "need more" path) followed by the tail it asks
 * for; all must agree, and a decoded header must tile the data exactly.
 *
 * The nonce of the seal is random, but no decoder branch depends on it,
 * so runs are deterministic in what they exercise.
 *
 * Unauthenticated path: the raw input is also decoded as a whole pack
 * (and from its second half), as a damaged or hostile repository would
 * present it. Seeds include real packs sealed with the fixed key, so
 * that path also reaches the entry checks.
 */
#include "cairn/common.h"
#include "cairn/pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char pack_ad[] = "cairn-pack";

/* Fixed keys: every byte 0x11. */
static void fixed_keys(struct crypto_keys *k)
{
	memset(k, 0x11, sizeof(*k));
}

/* Checks what a successful decode promises; aborts otherwise. */
static void check_entries(const struct pack_entry *e, size_t n, uint64_t data_len)
{
	uint64_t off = 0;
	if (n == 0 || n > PACK_MAX_BLOBS)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (!blob_type_valid(e[i].type) || e[i].offset != off ||
		    e[i].length < CRYPTO_SEAL_OVERHEAD + 1)
			abort();
		off += e[i].length;
	}
	if (off != data_len)
		abort();
}

static int same_entries(const struct pack_entry *a, size_t na, const struct pack_entry *b,
			size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (a[i].type != b[i].type || memcmp(a[i].id, b[i].id, 32) != 0 ||
		    a[i].offset != b[i].offset || a[i].length != b[i].length ||
		    a[i].raw_length != b[i].raw_length)
			return 0;
	return 1;
}

/* Decodes a pack of pack_len bytes from tails of several lengths. */
static void decode_tails(const struct crypto_keys *k, const uint8_t *pack, size_t pack_len,
			 size_t hdr_len, int authentic)
{
	struct pack_entry *full = NULL, *part = NULL;
	size_t nfull = 0, npart = 0, need = 0;

	int ef = pack_header_decode(k, pack, pack_len, pack_len, &need, &full, &nfull);
	if (ef == 0)
		check_entries(full, nfull, pack_len - hdr_len);
	else if (ef != CAIRN_ECORRUPT && ef != CAIRN_ENOMEM)
		abort(); /* with the whole pack as tail, more is never needed */

	if (hdr_len && hdr_len <= pack_len) {
		/* Exactly the header and its length. */
		int ee = pack_header_decode(k, pack + pack_len - hdr_len, hdr_len, pack_len, &need,
					    &part, &npart);
		if (ee != ef || (ee == 0 && !same_entries(full, nfull, part, npart)))
			abort();
		free(part);
		part = NULL;
	}

	/* A short tail: asks for more or fails; then retry with what it asked. */
	size_t short_len = CAIRN_MIN(pack_len, (size_t)16);
	need = 0;
	int es = pack_header_decode(k, pack + pack_len - short_len, short_len, pack_len, &need,
				    &part, &npart);
	if (es == 0) {
		check_entries(part, npart, pack_len - get_u32le(pack + pack_len - 4) - 4);
		free(part);
		part = NULL;
	} else if (es == CAIRN_EINVAL) {
		if (need <= short_len || need > pack_len)
			abort(); /* asked for less than it had, or more than exists */
		if (authentic && need != hdr_len)
			abort();
		int er = pack_header_decode(k, pack + pack_len - need, need, pack_len, &need, &part,
					    &npart);
		if (er == CAIRN_EINVAL || er != ef ||
		    (er == 0 && !same_entries(full, nfull, part, npart)))
			abort();
		free(part);
		part = NULL;
	}
	free(full);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct crypto_keys k;
	struct buf pack = BUF_INIT;
	fixed_keys(&k);

	/* Authenticated: the input is the header plaintext. */
	size_t prefix = size ? (size_t)data[0] * 97 : 0;
	size_t sealed_len = size + CRYPTO_SEAL_OVERHEAD;
	if (buf_reserve(&pack, prefix + sealed_len + 4) == 0) {
		memset(pack.data, 0, prefix);
		if (crypto_seal(k.enc, pack_ad, sizeof(pack_ad) - 1, data, size,
				pack.data + prefix) == 0) {
			pack.len = prefix + sealed_len;
			buf_put_u32le(&pack, (uint32_t)sealed_len);
			decode_tails(&k, pack.data, pack.len, sealed_len + 4, 1);
		}
	}
	buf_free(&pack);

	/* Unauthenticated: the raw input is a pack (copied to an exact-size
	 * buffer so reads past either end are caught). */
	if (size) {
		uint8_t *raw = malloc(size);
		if (!raw)
			return 0;
		memcpy(raw, data, size);
		size_t hdr_len = size >= 4 ? (size_t)get_u32le(raw + size - 4) + 4 : 0;
		if (hdr_len > size || hdr_len < 4)
			hdr_len = 0;
		decode_tails(&k, raw, size, hdr_len, 0);
		struct pack_entry *e = NULL;
		size_t n = 0, need = 0;
		if (pack_header_decode(&k, raw + size / 2, size - size / 2, size, &need, &e, &n) == 0)
			free(e);
		free(raw);
	}
	return 0;
}
