/*
 * crypto_test.c - sealing, hashing and randomness wrappers.
 */
#include "cairn/common.h"
#include "cairn/buf.h"
#include "cairn/crypto.h"

#include <sodium.h>

#include "tap.h"

static void fill_key(uint8_t key[CRYPTO_KEY_LEN], uint8_t start)
{
	for (int i = 0; i < CRYPTO_KEY_LEN; i++)
		key[i] = (uint8_t)(start + i);
}

static void test_seal_round_trip(void)
{
	uint8_t key[CRYPTO_KEY_LEN];
	fill_key(key, 1);
	static const char ad[] = "cairn-test";
	size_t sizes[] = { 0, 1, 15, 16, 17, 63, 64, 1000, 70000 };
	int all_ok = 1, differs = 1;
	for (size_t k = 0; k < CAIRN_ARRAY_LEN(sizes); k++) {
		size_t n = sizes[k];
		uint8_t *pt = malloc(n + 1), *sealed = malloc(n + CRYPTO_SEAL_OVERHEAD),
			*back = malloc(n + 1);
		if (!pt || !sealed || !back)
			abort();
		for (size_t i = 0; i < n; i++)
			pt[i] = (uint8_t)(i * 13 + 5);
		if (crypto_seal(key, ad, sizeof(ad) - 1, pt, n, sealed) != 0)
			all_ok = 0;
		if (n >= 16 && memcmp(sealed + CRYPTO_NONCE_LEN, pt, 16) == 0)
			differs = 0;
		memset(back, 0xee, n + 1);
		if (crypto_open(key, ad, sizeof(ad) - 1, sealed, n + CRYPTO_SEAL_OVERHEAD, back) !=
			    0 ||
		    (n && memcmp(back, pt, n) != 0) || back[n] != 0xee)
			all_ok = 0;
		free(pt);
		free(sealed);
		free(back);
	}
	ok(all_ok, "seal/open round trip for sizes 0..70000, no write past the plaintext");
	ok(differs, "ciphertext differs from plaintext");

	uint8_t tiny[CRYPTO_SEAL_OVERHEAD - 1] = { 0 }, out[1];
	is_int(crypto_open(key, NULL, 0, tiny, sizeof(tiny), out), CAIRN_ECORRUPT,
	       "open of a too-short object fails with CAIRN_ECORRUPT");
	is_int(crypto_open(key, NULL, 0, tiny, 0, out), CAIRN_ECORRUPT,
	       "open of an empty object fails");
}

static void test_tamper(void)
{
	uint8_t key[CRYPTO_KEY_LEN];
	fill_key(key, 7);
	static const char msg[] = "attack at dawn!";
	static const char ad[] = "cairn-blob";
	size_t n = sizeof(msg) - 1;
	size_t sl = n + CRYPTO_SEAL_OVERHEAD;
	uint8_t sealed[sizeof(msg) - 1 + CRYPTO_SEAL_OVERHEAD], copy[sizeof(sealed)];
	uint8_t out[sizeof(msg)];
	ok(crypto_seal(key, ad, sizeof(ad) - 1, msg, n, sealed) == 0, "seal a small message");
	ok(crypto_open(key, ad, sizeof(ad) - 1, sealed, sl, out) == 0 && memcmp(out, msg, n) == 0,
	   "the untouched message opens");

	int failures = 0;
	for (size_t pos = 0; pos < sl; pos++) {
		for (int bit = 0; bit < 8; bit += 7) { /* lowest and highest bit */
			memcpy(copy, sealed, sl);
			copy[pos] ^= (uint8_t)(1u << bit);
			if (crypto_open(key, ad, sizeof(ad) - 1, copy, sl, out) != CAIRN_ECORRUPT) {
				failures++;
				printf("# flipping bit %d of byte %zu was not detected\n", bit, pos);
			}
		}
	}
	is_int(failures, 0, "flipping a bit in any of the %zu sealed bytes is detected", sl);

	memcpy(copy, sealed, sl);
	is_int(crypto_open(key, ad, sizeof(ad) - 1, copy, sl - 1, out), CAIRN_ECORRUPT,
	       "truncated by one byte: fails");
	static const char ad2[] = "cairn-blos";
	is_int(crypto_open(key, ad2, sizeof(ad2) - 1, sealed, sl, out), CAIRN_ECORRUPT,
	       "wrong additional data fails");
	is_int(crypto_open(key, ad, sizeof(ad) - 2, sealed, sl, out), CAIRN_ECORRUPT,
	       "shortened additional data fails");
	is_int(crypto_open(key, NULL, 0, sealed, sl, out), CAIRN_ECORRUPT,
	       "missing additional data fails");
	uint8_t key2[CRYPTO_KEY_LEN];
	memcpy(key2, key, sizeof(key2));
	key2[31] ^= 0x80;
	is_int(crypto_open(key2, ad, sizeof(ad) - 1, sealed, sl, out), CAIRN_ECORRUPT,
	       "a key differing in one bit fails");
	uint8_t key3[CRYPTO_KEY_LEN];
	fill_key(key3, 100);
	is_int(crypto_open(key3, ad, sizeof(ad) - 1, sealed, sl, out), CAIRN_ECORRUPT,
	       "an unrelated key fails");
}

/* crypto_seal and crypto_open take two routes by size (libsodium below
 * 2 KiB, OpenSSL's ChaCha20-Poly1305 under the HChaCha20 subkey above): both
 * must be libsodium's XChaCha20-Poly1305-IETF byte for byte, in both
 * directions, and a large sealed object must refuse tampering. */
static void test_seal_matches_libsodium(void)
{
	uint8_t key[CRYPTO_KEY_LEN];
	fill_key(key, 31);
	static const char ad[] = "cairn-blob-0123456789abcdef0123456789abcdef";
	size_t max = 3 * 65536 + 7;
	uint8_t *pt = malloc(max), *a = malloc(max + CRYPTO_SEAL_OVERHEAD),
		*b = malloc(max + CRYPTO_SEAL_OVERHEAD), *back = malloc(max + 1);
	if (!pt || !a || !b || !back)
		abort();
	for (size_t i = 0; i < max; i++)
		pt[i] = (uint8_t)(i * 7 + (i >> 9));
	int same = 1, opens = 1, checked = 0;
	for (size_t n = 0; n <= max; n += n < 2200 ? 1 + (n >= 1950 ? 0 : 97) : 4093) {
		crypto_seal(key, ad, sizeof(ad) - 1, pt, n, a);
		/* libsodium with the nonce crypto_seal chose */
		crypto_aead_xchacha20poly1305_ietf_encrypt(b + CRYPTO_NONCE_LEN, NULL, pt, n,
							   (const uint8_t *)ad, sizeof(ad) - 1,
							   NULL, a, key);
		if (memcmp(a + CRYPTO_NONCE_LEN, b + CRYPTO_NONCE_LEN, n + CRYPTO_TAG_LEN) != 0) {
			same = 0;
			printf("# size %zu: crypto_seal differs from libsodium\n", n);
		}
		memcpy(b, a, CRYPTO_NONCE_LEN);
		if (crypto_open(key, ad, sizeof(ad) - 1, b, n + CRYPTO_SEAL_OVERHEAD, back) != 0 ||
		    (n && memcmp(back, pt, n) != 0))
			opens = 0;
		checked++;
	}
	ok(same, "crypto_seal equals libsodium's XChaCha20-Poly1305 at %d sizes 0..%zu", checked,
	   max);
	ok(opens, "crypto_open opens what libsodium sealed at every size");

	size_t n = 65536;
	crypto_seal(key, ad, sizeof(ad) - 1, pt, n, a);
	size_t where[] = { 0, 23, 24, 4000, n + 23, n + 24, n + CRYPTO_SEAL_OVERHEAD - 1 };
	int caught = 0;
	for (size_t k = 0; k < CAIRN_ARRAY_LEN(where); k++) {
		memcpy(b, a, n + CRYPTO_SEAL_OVERHEAD);
		b[where[k]] ^= 0x10;
		memset(back, 0xaa, n);
		if (crypto_open(key, ad, sizeof(ad) - 1, b, n + CRYPTO_SEAL_OVERHEAD, back) ==
			    CAIRN_ECORRUPT &&
		    back[0] == 0 && back[n - 1] == 0)
			caught++;
	}
	is_int(caught, (int)CAIRN_ARRAY_LEN(where),
	       "a 64 KiB object with a flipped nonce, ciphertext or tag byte fails and leaves no plaintext");
	is_int(crypto_open(key, ad, sizeof(ad) - 2, a, n + CRYPTO_SEAL_OVERHEAD, back),
	       CAIRN_ECORRUPT, "a 64 KiB object with other additional data fails");
	free(pt);
	free(a);
	free(b);
	free(back);
}

static void test_nonces(void)
{
	uint8_t key[CRYPTO_KEY_LEN];
	fill_key(key, 3);
	uint8_t a[10 + CRYPTO_SEAL_OVERHEAD], b[10 + CRYPTO_SEAL_OVERHEAD];
	crypto_seal(key, NULL, 0, "0123456789", 10, a);
	crypto_seal(key, NULL, 0, "0123456789", 10, b);
	ok(memcmp(a, b, CRYPTO_NONCE_LEN) != 0, "two seals of the same message use different nonces");
	ok(memcmp(a + CRYPTO_NONCE_LEN, b + CRYPTO_NONCE_LEN, 10) != 0,
	   "and give different ciphertexts");

	/* Many seals: all nonces distinct. */
	enum { N = 1000 };
	uint8_t(*nonces)[CRYPTO_NONCE_LEN] = malloc(N * CRYPTO_NONCE_LEN);
	if (!nonces)
		abort();
	for (int i = 0; i < N; i++) {
		uint8_t s[1 + CRYPTO_SEAL_OVERHEAD];
		crypto_seal(key, NULL, 0, "x", 1, s);
		memcpy(nonces[i], s, CRYPTO_NONCE_LEN);
	}
	int dup = 0;
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++)
			dup += memcmp(nonces[i], nonces[j], CRYPTO_NONCE_LEN) == 0;
	is_int(dup, 0, "%d consecutive seals: no repeated nonce", N);
	free(nonces);
}

static void test_keyed_hash(void)
{
	uint8_t key[CRYPTO_KEY_LEN], key2[CRYPTO_KEY_LEN];
	fill_key(key, 0);
	memcpy(key2, key, sizeof(key2));
	key2[0] ^= 1;
	static const char *inputs[] = { "", "abc", "The quick brown fox jumps over the lazy dog" };
	for (size_t i = 0; i < CAIRN_ARRAY_LEN(inputs); i++) {
		uint8_t got[CRYPTO_ID_LEN], want[CRYPTO_ID_LEN];
		size_t n = strlen(inputs[i]);
		crypto_keyed_hash(key, inputs[i], n, got);
		crypto_generichash(want, sizeof(want), (const unsigned char *)inputs[i], n, key,
				   CRYPTO_KEY_LEN);
		ok(memcmp(got, want, CRYPTO_ID_LEN) == 0,
		   "keyed hash of \"%s\" equals libsodium's keyed BLAKE2b-256", inputs[i]);
		uint8_t other[CRYPTO_ID_LEN];
		crypto_keyed_hash(key2, inputs[i], n, other);
		ok(memcmp(got, other, CRYPTO_ID_LEN) != 0,
		   "keyed hash of \"%s\" depends on the key", inputs[i]);
	}
	/* The key is really used, not dropped. */
	uint8_t unkeyed[CRYPTO_ID_LEN], keyed[CRYPTO_ID_LEN];
	crypto_generichash(unkeyed, sizeof(unkeyed), (const unsigned char *)"abc", 3, NULL, 0);
	crypto_keyed_hash(key, "abc", 3, keyed);
	ok(memcmp(unkeyed, keyed, CRYPTO_ID_LEN) != 0, "keyed hash differs from unkeyed BLAKE2b");

	uint8_t h1[CRYPTO_ID_LEN], h2[CRYPTO_ID_LEN];
	crypto_keyed_hash(key, "abd", 3, h1);
	crypto_keyed_hash(key, "abc", 3, h2);
	ok(memcmp(h1, h2, CRYPTO_ID_LEN) != 0, "keyed hash depends on the data");
}

/* crypto_keyed_hash_many must equal crypto_generichash message by message:
 * every length around the block size, empty messages, messages that share
 * a buffer, and batches too small for the eight-lane code. */
static void test_keyed_hash_many(void)
{
	uint8_t key[CRYPTO_KEY_LEN];
	fill_key(key, 77);
	size_t big = 70000, n = 0, cap = 2000;
	uint8_t *buf = malloc(big + 300);
	const uint8_t **data = malloc(cap * sizeof(*data));
	size_t *len = malloc(cap * sizeof(*len));
	uint8_t (*out)[CRYPTO_ID_LEN] = malloc(cap * sizeof(*out));
	if (!buf || !data || !len || !out)
		abort();
	for (size_t i = 0; i < big + 300; i++)
		buf[i] = (uint8_t)(i * 131 + (i >> 7));
	for (size_t l = 0; l <= 400; l++) { /* every length up to 400, odd offsets */
		data[n] = buf + (l * 7) % 251;
		len[n++] = l;
	}
	for (size_t l = 401; l < big && n < cap; l = l * 9 / 8 + 13) {
		data[n] = buf + l % 300;
		len[n++] = l;
	}
	data[n] = buf;
	len[n++] = big;
	data[n] = buf; /* the same message twice */
	len[n++] = big;
	int bad = 0, checked = 0;
	size_t batch[] = { n, 1, 3, 4, 7, 8, 9, 17, 100 };
	for (size_t b = 0; b < CAIRN_ARRAY_LEN(batch); b++) {
		for (size_t s = 0; s < n; s += batch[b]) {
			size_t k = n - s < batch[b] ? n - s : batch[b];
			memset(out + s, 0, k * sizeof(*out));
			crypto_keyed_hash_many(key, k, data + s, len + s, out + s);
		}
		for (size_t i = 0; i < n; i++) {
			uint8_t want[CRYPTO_ID_LEN];
			crypto_generichash(want, sizeof(want), data[i], len[i], key, sizeof(key));
			if (memcmp(want, out[i], sizeof(want)) != 0) {
				if (bad++ < 5)
					printf("# batches of %zu: message %zu (%zu bytes) differs\n",
					       batch[b], i, len[i]);
			}
			checked++;
		}
	}
	is_int(bad, 0, "crypto_keyed_hash_many equals keyed BLAKE2b-256 for %d messages of 0..%zu bytes",
	       checked, big);
	crypto_keyed_hash_many(key, 0, data, len, out);
	ok(1, "crypto_keyed_hash_many of no messages returns");
	free(buf);
	free(data);
	free(len);
	free(out);
}

static void test_plain_hash(void)
{
	static const char abc_hex[] =
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	static const char empty_hex[] =
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	uint8_t h[CRYPTO_ID_LEN];
	char hex[65];
	crypto_plain_hash("abc", 3, h);
	hex_encode(h, sizeof(h), hex);
	ok(strcmp(hex, abc_hex) == 0, "SHA-256(\"abc\") = ba7816bf...");
	crypto_plain_hash("", 0, h);
	hex_encode(h, sizeof(h), hex);
	ok(strcmp(hex, empty_hex) == 0, "SHA-256(\"\") = e3b0c442...");
	/* Two-block message from FIPS 180-2. */
	static const char two[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	crypto_plain_hash(two, sizeof(two) - 1, h);
	hex_encode(h, sizeof(h), hex);
	ok(strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0,
	   "SHA-256 of the 448-bit FIPS message");
	/* Must agree with libsodium's SHA-256 on a larger input. */
	uint8_t big[10000], want[CRYPTO_ID_LEN];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i ^ (i >> 8));
	crypto_plain_hash(big, sizeof(big), h);
	crypto_hash_sha256(want, big, sizeof(big));
	ok(memcmp(h, want, sizeof(h)) == 0, "SHA-256 agrees with libsodium on 10000 bytes");
}

static void test_random_and_misc(void)
{
	uint8_t a[64], b[64];
	crypto_random(a, sizeof(a));
	crypto_random(b, sizeof(b));
	ok(memcmp(a, b, sizeof(a)) != 0, "two random draws differ");

	int in_range = 1, seen[7] = { 0 };
	for (int i = 0; i < 2000; i++) {
		uint32_t v = crypto_random_uniform(7);
		if (v >= 7)
			in_range = 0;
		else
			seen[v]++;
	}
	int all_seen = 1;
	for (int i = 0; i < 7; i++)
		all_seen &= seen[i] > 0;
	ok(in_range && all_seen, "crypto_random_uniform(7) stays in [0,7) and hits every value");

	struct crypto_keys k1, k2;
	crypto_keys_generate(&k1);
	crypto_keys_generate(&k2);
	ok(memcmp(&k1, &k2, sizeof(k1)) != 0, "generated key sets differ");
	ok(memcmp(k1.enc, k1.id, CRYPTO_KEY_LEN) != 0 &&
		   memcmp(k1.id, k1.chunker, CRYPTO_KEY_LEN) != 0,
	   "the three keys of a set differ");

	ok(crypto_memcmp(a, a, sizeof(a)) == 0, "crypto_memcmp equal -> 0");
	memcpy(b, a, sizeof(b));
	b[63] ^= 1;
	ok(crypto_memcmp(a, b, sizeof(a)) != 0, "crypto_memcmp different -> non-zero");
	crypto_wipe(a, sizeof(a));
	int zero = 1;
	for (size_t i = 0; i < sizeof(a); i++)
		zero &= a[i] == 0;
	ok(zero, "crypto_wipe zeroes");

	/* KDF: deterministic, depends on password and salt, rejects bad limits. */
	uint8_t salt[CRYPTO_SALT_LEN] = { 1, 2, 3 }, k_a[32], k_b[32], k_c[32];
	ok(crypto_kdf("pw", 2, salt, 1, 8192, k_a) == 0 &&
		   crypto_kdf("pw", 2, salt, 1, 8192, k_b) == 0 && memcmp(k_a, k_b, 32) == 0,
	   "crypto_kdf is deterministic");
	crypto_kdf("px", 2, salt, 1, 8192, k_c);
	ok(memcmp(k_a, k_c, 32) != 0, "crypto_kdf depends on the password");
	salt[0] ^= 1;
	crypto_kdf("pw", 2, salt, 1, 8192, k_c);
	ok(memcmp(k_a, k_c, 32) != 0, "crypto_kdf depends on the salt");
	is_int(crypto_kdf("pw", 2, salt, 0, 8192, k_c), CAIRN_EINVAL, "opslimit 0 rejected");
	is_int(crypto_kdf("pw", 2, salt, 1, 1, k_c), CAIRN_EINVAL, "memlimit 1 rejected");
}

int main(void)
{
	if (crypto_init() != 0) {
		printf("not ok 1 - crypto_init\n1..1\n");
		return 1;
	}
	test_seal_round_trip();
	test_tamper();
	test_seal_matches_libsodium();
	test_nonces();
	test_keyed_hash();
	test_keyed_hash_many();
	test_plain_hash();
	test_random_and_misc();
	return tap_done();
}
