/*
 * crypto.c - libsodium wrappers (see crypto.h for the choices).
 */
#include "cairn/common.h"
#include "cairn/crypto.h"
#include "cairn/log.h"

#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sys/uio.h>
#include <sodium.h>

/* Little-endian load, local so crypto.c depends on nothing but libsodium. */
static uint64_t get_u64le_local(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int crypto_init(void)
{
	if (sodium_init() < 0) {
		log_error("cannot initialise libsodium");
		return CAIRN_EIO;
	}
	return 0;
}

void crypto_keys_generate(struct crypto_keys *keys)
{
	randombytes_buf(keys->enc, sizeof(keys->enc));
	randombytes_buf(keys->id, sizeof(keys->id));
	randombytes_buf(keys->chunker, sizeof(keys->chunker));
}

void crypto_keyed_hash(const uint8_t key[CRYPTO_KEY_LEN], const void *data, size_t len,
		       uint8_t out[CRYPTO_ID_LEN])
{
	crypto_generichash(out, CRYPTO_ID_LEN, data, len, key, CRYPTO_KEY_LEN);
}

void crypto_plain_hash(const void *data, size_t len, uint8_t out[CRYPTO_ID_LEN])
{
	/* OpenSSL uses the CPU's SHA extensions; libsodium's SHA-256 does not. */
	EVP_Digest(data, len, out, NULL, EVP_sha256(), NULL);
}

/*
 * Nonces: each thread draws 24 random bytes once and then increments the
 * last 8 as a counter. With 128 random bits per thread, nonces never repeat
 * in practice, and sealing a small blob does not cost a getrandom(2)
 * system call (measured: one per blob cost more than the cipher at 8 KiB).
 */
static __thread uint8_t nonce_base[CRYPTO_NONCE_LEN];
static __thread uint64_t nonce_ctr;

static void next_nonce(uint8_t out[CRYPTO_NONCE_LEN])
{
	if (nonce_ctr == 0 || nonce_ctr == UINT64_MAX) {
		randombytes_buf(nonce_base, sizeof(nonce_base));
		nonce_ctr = 1;
	}
	memcpy(out, nonce_base, CRYPTO_NONCE_LEN);
	uint64_t c = nonce_ctr++ + get_u64le_local(out + 16);
	for (int i = 0; i < 8; i++)
		out[16 + i] = (uint8_t)(c >> (8 * i));
}

void crypto_plain_hash_iov(const struct iovec *iov, size_t n, uint8_t out[CRYPTO_ID_LEN])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	/* Allocation failure of a few hundred bytes: abort rather than name a pack wrongly. */
	if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)
		abort();
	for (size_t i = 0; i < n; i++)
		EVP_DigestUpdate(c, iov[i].iov_base, iov[i].iov_len);
	EVP_DigestFinal_ex(c, out, NULL);
	EVP_MD_CTX_free(c);
}

/*
 * XChaCha20-Poly1305 (IETF) is HChaCha20 of the key and the nonce's first
 * 16 bytes, giving a subkey, then ChaCha20-Poly1305 (IETF) under that subkey
 * with the 12-byte nonce 0^4 || nonce[16..24] (draft-irtf-cfrg-xchacha,
 * libsodium's construction). For blobs of SEAL_OPENSSL_MIN bytes and more the
 * second step runs on OpenSSL, whose ChaCha20 and Poly1305 use AVX-512 where
 * the CPU has it: measured on the 2-core Xeon of bench/RESULTS.md, 2.2 GB/s
 * against libsodium's 1.2 GB/s at 8 KiB, 1.0 against 0.85 GB/s at 2 KiB.
 * Below that size creating the EVP context costs more than it saves, so
 * libsodium seals small objects.
 * Both give the same bytes (tests/unit/crypto_test.c checks it size by size).
 */
#define SEAL_OPENSSL_MIN 2048

static EVP_CIPHER *chacha_poly;
static pthread_once_t chacha_once = PTHREAD_ONCE_INIT;

static void chacha_fetch(void)
{
	chacha_poly = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
}

/* The EVP cipher, or NULL when this OpenSSL has none (libsodium is used). */
static const EVP_CIPHER *chacha_cipher(void)
{
	pthread_once(&chacha_once, chacha_fetch);
	return chacha_poly;
}

static void xchacha_subkey(const uint8_t key[CRYPTO_KEY_LEN], const uint8_t nonce[CRYPTO_NONCE_LEN],
			   uint8_t subkey[CRYPTO_KEY_LEN], uint8_t iv[12])
{
	crypto_core_hchacha20(subkey, nonce, key, NULL);
	memset(iv, 0, 4);
	memcpy(iv + 4, nonce + 16, 8);
}

/* ChaCha20-Poly1305 through OpenSSL: enc 1 seals in into out and writes the
 * tag; enc 0 opens and checks tag. Returns 0, or -1 when the tag does not
 * match or OpenSSL fails. */
static int evp_chacha(int enc, const uint8_t key[CRYPTO_KEY_LEN], const uint8_t nonce[CRYPTO_NONCE_LEN],
		      const void *ad, size_t adlen, const uint8_t *in, size_t len, uint8_t *out,
		      uint8_t tag[CRYPTO_TAG_LEN])
{
	uint8_t subkey[CRYPTO_KEY_LEN], iv[12];
	int n, ok = 0;

	if (len > INT_MAX || adlen > INT_MAX)
		return -1;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	if (!c)
		return -1;
	xchacha_subkey(key, nonce, subkey, iv);
	if (EVP_CipherInit_ex2(c, chacha_cipher(), subkey, iv, enc, NULL) != 1)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, CRYPTO_TAG_LEN, tag) != 1)
		goto out;
	if (adlen && EVP_CipherUpdate(c, NULL, &n, ad, (int)adlen) != 1)
		goto out;
	if (len && EVP_CipherUpdate(c, out, &n, in, (int)len) != 1)
		goto out;
	if (EVP_CipherFinal_ex(c, out + len, &n) != 1)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, CRYPTO_TAG_LEN, tag) != 1)
		goto out;
	ok = 1;
out:
	EVP_CIPHER_CTX_free(c);
	crypto_wipe(subkey, sizeof(subkey));
	return ok ? 0 : -1;
}

int crypto_seal(const uint8_t key[CRYPTO_KEY_LEN], const void *ad, size_t adlen,
		const void *pt, size_t len, uint8_t *out)
{
	if (len > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX - 1)
		return CAIRN_EINVAL;
	next_nonce(out);
	if (len >= SEAL_OPENSSL_MIN && chacha_cipher() &&
	    evp_chacha(1, key, out, ad, adlen, pt, len, out + CRYPTO_NONCE_LEN,
		       out + CRYPTO_NONCE_LEN + len) == 0)
		return 0;
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + CRYPTO_NONCE_LEN, NULL, pt, len, ad, adlen,
						   NULL, out, key);
	return 0;
}

int crypto_open(const uint8_t key[CRYPTO_KEY_LEN], const void *ad, size_t adlen,
		const uint8_t *in, size_t inlen, uint8_t *out)
{
	if (inlen < CRYPTO_SEAL_OVERHEAD)
		return CAIRN_ECORRUPT;
	size_t len = inlen - CRYPTO_SEAL_OVERHEAD;
	if (len >= SEAL_OPENSSL_MIN && chacha_cipher()) {
		uint8_t tag[CRYPTO_TAG_LEN];
		memcpy(tag, in + CRYPTO_NONCE_LEN + len, CRYPTO_TAG_LEN);
		if (evp_chacha(0, key, in, ad, adlen, in + CRYPTO_NONCE_LEN, len, out, tag) == 0)
			return 0;
		/* OpenSSL writes the plaintext before it checks the tag: no caller
		 * may see bytes that did not authenticate. */
		crypto_wipe(out, len);
		return CAIRN_ECORRUPT;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, in + CRYPTO_NONCE_LEN,
						       inlen - CRYPTO_NONCE_LEN, ad, adlen, in,
						       key) != 0)
		return CAIRN_ECORRUPT;
	return 0;
}

void crypto_random(void *p, size_t n)
{
	randombytes_buf(p, n);
}

uint32_t crypto_random_uniform(uint32_t upper)
{
	return randombytes_uniform(upper);
}

int crypto_kdf(const char *pass, size_t passlen, const uint8_t salt[CRYPTO_SALT_LEN],
	       uint64_t opslimit, uint64_t memlimit, uint8_t out[CRYPTO_KEY_LEN])
{
	if (opslimit < crypto_pwhash_OPSLIMIT_MIN || opslimit > crypto_pwhash_OPSLIMIT_MAX ||
	    memlimit < crypto_pwhash_MEMLIMIT_MIN || memlimit > (uint64_t)1 << 40)
		return CAIRN_EINVAL;
	if (crypto_pwhash(out, CRYPTO_KEY_LEN, pass, passlen, salt, opslimit, (size_t)memlimit,
			  crypto_pwhash_ALG_ARGON2ID13) != 0)
		return CAIRN_ENOMEM;
	return 0;
}

void crypto_wipe(void *p, size_t n)
{
	sodium_memzero(p, n);
}

int crypto_memcmp(const void *a, const void *b, size_t n)
{
	return sodium_memcmp(a, b, n);
}
