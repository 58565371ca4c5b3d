/*
 * crypto.h - the repository's cryptography, on libsodium.
 *
 * - Blob ids: keyed BLAKE2b-256 of the plaintext (crypto_generichash with
 *   the repository's id key), so the storage side cannot confirm guesses.
 * - Object names of packs, index files and key files: SHA-256 of the stored
 *   (encrypted) bytes, so `check` can verify them without keys, and S3's
 *   x-amz-content-sha256 of a pack is its name. SHA-256 comes from OpenSSL
 *   (CPU SHA extensions, ~2 GB/s) rather than libsodium (~0.4 GB/s):
 *   hashing every pack is on the backup's data path.
 * - Sealing: XChaCha20-Poly1305 (IETF) with a random 24-byte nonce. Sealed
 *   layout: nonce(24) || ciphertext || tag(16). The additional data binds
 *   what a sealed object is (type and, for blobs, id). Objects of 2 KiB and
 *   more are sealed and opened with OpenSSL's ChaCha20-Poly1305 under the
 *   HChaCha20 subkey (the same bytes as libsodium, about twice as fast
 *   here; crypto.c says why), smaller ones with libsodium.
 * - Passphrases: Argon2id (crypto_pwhash) derives the key that wraps the
 *   master keys in a key file (keyfile.h).
 */
#ifndef CAIRN_CRYPTO_H
#define CAIRN_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define CRYPTO_ID_LEN 32
#define CRYPTO_KEY_LEN 32
#define CRYPTO_NONCE_LEN 24
#define CRYPTO_TAG_LEN 16
#define CRYPTO_SEAL_OVERHEAD (CRYPTO_NONCE_LEN + CRYPTO_TAG_LEN)
#define CRYPTO_SALT_LEN 16

/* The repository's master keys, held in key files. */
struct crypto_keys {
	uint8_t enc[CRYPTO_KEY_LEN];	 /* XChaCha20-Poly1305 key */
	uint8_t id[CRYPTO_KEY_LEN];	 /* BLAKE2b key for blob and snapshot ids */
	uint8_t chunker[CRYPTO_KEY_LEN]; /* seed of the FastCDC gear table */
};

/* Initialises libsodium. Returns 0 or CAIRN_EIO. Call once at start-up. */
int crypto_init(void);

/* Fills keys with fresh random keys. */
void crypto_keys_generate(struct crypto_keys *keys);

/* out = keyed BLAKE2b-256(key, data). */
void crypto_keyed_hash(const uint8_t key[CRYPTO_KEY_LEN], const void *data, size_t len,
		       uint8_t out[CRYPTO_ID_LEN]);

/* out[i] = keyed BLAKE2b-256(key, data[i], len[i]) for i < n: the same as
 * n calls of crypto_keyed_hash, several times faster for many messages
 * (eight at a time in AVX-512 lanes where the CPU has them; blake2b8.c). */
void crypto_keyed_hash_many(const uint8_t key[CRYPTO_KEY_LEN], size_t n,
			    const uint8_t *const *data, const size_t *len,
			    uint8_t (*out)[CRYPTO_ID_LEN]);

/* out = SHA-256(data). */
void crypto_plain_hash(const void *data, size_t len, uint8_t out[CRYPTO_ID_LEN]);

struct iovec;
/* out = SHA-256 of the concatenation of n pieces. */
void crypto_plain_hash_iov(const struct iovec *iov, size_t n, uint8_t out[CRYPTO_ID_LEN]);

/* Seals len bytes of pt into out, which must hold len + CRYPTO_SEAL_OVERHEAD
 * bytes. out may not overlap pt. Returns 0 (it cannot fail for valid sizes)
 * or CAIRN_EINVAL when len is too large. */
int crypto_seal(const uint8_t key[CRYPTO_KEY_LEN], const void *ad, size_t adlen,
		const void *pt, size_t len, uint8_t *out);

/* Opens a sealed object of inlen bytes into out (inlen - CRYPTO_SEAL_OVERHEAD
 * bytes). Returns 0, or CAIRN_ECORRUPT when it is too short or does not
 * authenticate (wrong key, wrong additional data, or tampered bytes); out
 * then holds no plaintext. out may not overlap in. */
int crypto_open(const uint8_t key[CRYPTO_KEY_LEN], const void *ad, size_t adlen,
		const uint8_t *in, size_t inlen, uint8_t *out);

/* Fills p with n random bytes. */
void crypto_random(void *p, size_t n);

/* Uniform random number in [0, upper). */
uint32_t crypto_random_uniform(uint32_t upper);

/* Argon2id: derives out from a passphrase and salt with the given limits.
 * Returns 0, CAIRN_ENOMEM when the memory limit cannot be met, or
 * CAIRN_EINVAL for limits outside libsodium's range. */
int crypto_kdf(const char *pass, size_t passlen, const uint8_t salt[CRYPTO_SALT_LEN],
	       uint64_t opslimit, uint64_t memlimit, uint8_t out[CRYPTO_KEY_LEN]);

/* Zeroes memory in a way the compiler does not remove. */
void crypto_wipe(void *p, size_t n);

/* Constant-time comparison; 0 when equal. */
int crypto_memcmp(const void *a, const void *b, size_t n);

#endif
