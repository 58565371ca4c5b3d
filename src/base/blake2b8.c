/*
 * blake2b8.c - keyed BLAKE2b-256 of many messages at once (crypto.h's
 * crypto_keyed_hash_many).
 *
 * A backup hashes every chunk with keyed BLAKE2b: at 8 KiB chunks that was
 * a quarter of its CPU, libsodium's single-message AVX2 code running at
 * ~0.8 GB/s here. BLAKE2b's rounds are a chain of dependent 64-bit adds,
 * xors and rotations, so one message leaves most of a vector unit idle;
 * eight messages side by side fill the eight 64-bit lanes of an AVX-512
 * register with no shuffles at all. Measured on the Xeon of
 * bench/RESULTS.md: see the commit that added this file.
 *
 * How the lanes are fed:
 * - The messages are taken longest first, and a lane that finishes one
 *   takes the next at once, so lanes are busy until the last few messages.
 * - Block 0 of every message is the key block (the key zero-padded to 128
 *   bytes, as BLAKE2b's keyed mode prescribes); the message's own blocks
 *   follow. An empty message is its key block, marked final.
 * - A short last block is copied into a zeroed per-lane buffer, so no lane
 *   reads past the end of its message.
 * - Idle lanes hash a zero block; their results are dropped.
 *
 * The output is BLAKE2b exactly (RFC 7693 with a 32-byte key and a 32-byte
 * digest): tests/unit/crypto_test.c compares it with libsodium's
 * crypto_generichash for thousands of messages. Without AVX-512F (decided
 * at run time) or for fewer than BLAKE8_MIN messages, libsodium hashes
 * them one by one.
 */
#include "cairn/common.h"
#include "cairn/crypto.h"

#include <sodium.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_BLAKE8 1
#include <immintrin.h>
#endif

#define BLAKE8_MIN 4

static void hash_serial(const uint8_t key[CRYPTO_KEY_LEN], size_t n, const uint8_t *const *data,
			const size_t *len, uint8_t (*out)[CRYPTO_ID_LEN])
{
	for (size_t i = 0; i < n; i++)
		crypto_keyed_hash(key, data[i], len[i], out[i]);
}

#ifdef HAVE_BLAKE8

static const uint64_t blake2b_iv[8] = {
	0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL,
	0xa54ff53a5f1d36f1ULL, 0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
	0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

static const uint8_t sigma[12][16] = {
	{ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
	{ 14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3 },
	{ 11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4 },
	{ 7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8 },
	{ 9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13 },
	{ 2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9 },
	{ 12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11 },
	{ 13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10 },
	{ 6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5 },
	{ 10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0 },
	{ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 },
	{ 14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3 },
};

/* BLAKE2b parameter block word 0: digest length 32, key length 32,
 * fanout 1, depth 1. */
#define PARAM0 (0x01010000ULL | (CRYPTO_KEY_LEN << 8) | CRYPTO_ID_LEN)

#define LANES 8

/* One lane's message. */
struct lane {
	size_t msg;		/* index into the caller's arrays, or SIZE_MAX when idle */
	size_t block;		/* next block: 0 is the key block */
	size_t nblocks;		/* 1 + ceil(len / 128) */
};

#define G(a, b, c, d, x, y)                                                                \
	do {                                                                               \
		a = _mm512_add_epi64(_mm512_add_epi64(a, b), x);                           \
		d = _mm512_ror_epi64(_mm512_xor_si512(d, a), 32);                          \
		c = _mm512_add_epi64(c, d);                                                \
		b = _mm512_ror_epi64(_mm512_xor_si512(b, c), 24);                          \
		a = _mm512_add_epi64(_mm512_add_epi64(a, b), y);                           \
		d = _mm512_ror_epi64(_mm512_xor_si512(d, a), 16);                          \
		c = _mm512_add_epi64(c, d);                                                \
		b = _mm512_ror_epi64(_mm512_xor_si512(b, c), 63);                          \
	} while (0)

#define ROUND(r)                                                                           \
	do {                                                                               \
		G(v[0], v[4], v[8], v[12], m[sigma[r][0]], m[sigma[r][1]]);                \
		G(v[1], v[5], v[9], v[13], m[sigma[r][2]], m[sigma[r][3]]);                \
		G(v[2], v[6], v[10], v[14], m[sigma[r][4]], m[sigma[r][5]]);               \
		G(v[3], v[7], v[11], v[15], m[sigma[r][6]], m[sigma[r][7]]);               \
		G(v[0], v[5], v[10], v[15], m[sigma[r][8]], m[sigma[r][9]]);               \
		G(v[1], v[6], v[11], v[12], m[sigma[r][10]], m[sigma[r][11]]);             \
		G(v[2], v[7], v[8], v[13], m[sigma[r][12]], m[sigma[r][13]]);              \
		G(v[3], v[4], v[9], v[14], m[sigma[r][14]], m[sigma[r][15]]);              \
	} while (0)

/* Compresses one 128-byte block per lane. h[w] holds state word w of all
 * eight lanes; blk[l] is lane l's block; t and f its counter and final
 * flag (all ones or zero). */
__attribute__((target("avx512f"))) static void compress8(uint64_t h[8][LANES],
							  const uint8_t *const blk[LANES],
							  const uint64_t t[LANES],
							  const uint64_t f[LANES])
{
	__m512i v[16], m[16];
	__m512i addr = _mm512_loadu_si512((const void *)blk);

	for (int w = 0; w < 16; w++) {
		m[w] = _mm512_i64gather_epi64(addr, NULL, 1);
		addr = _mm512_add_epi64(addr, _mm512_set1_epi64(8));
	}
	for (int w = 0; w < 8; w++) {
		v[w] = _mm512_load_si512((const void *)h[w]);
		v[w + 8] = _mm512_set1_epi64((long long)blake2b_iv[w]);
	}
	v[12] = _mm512_xor_si512(v[12], _mm512_loadu_si512((const void *)t));
	v[14] = _mm512_xor_si512(v[14], _mm512_loadu_si512((const void *)f));
	ROUND(0);
	ROUND(1);
	ROUND(2);
	ROUND(3);
	ROUND(4);
	ROUND(5);
	ROUND(6);
	ROUND(7);
	ROUND(8);
	ROUND(9);
	ROUND(10);
	ROUND(11);
	for (int w = 0; w < 8; w++) {
		__m512i x = _mm512_xor_si512(_mm512_load_si512((const void *)h[w]),
					     _mm512_xor_si512(v[w], v[w + 8]));
		_mm512_store_si512((void *)h[w], x);
	}
}

static int longer_first(const void *a, const void *b, void *arg)
{
	const size_t *len = arg;
	size_t la = len[*(const size_t *)a], lb = len[*(const size_t *)b];
	return la < lb ? 1 : la > lb ? -1 : 0;
}

static void lane_start(uint64_t h[8][LANES], int l)
{
	for (int w = 0; w < 8; w++)
		h[w][l] = blake2b_iv[w];
	h[0][l] ^= PARAM0;
}

static int hash8(const uint8_t key[CRYPTO_KEY_LEN], size_t n, const uint8_t *const *data,
		 const size_t *len, uint8_t (*out)[CRYPTO_ID_LEN])
{
	size_t *order = malloc(n * sizeof(*order));
	if (!order)
		return -1;
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(*order), longer_first, (void *)len);

	_Alignas(64) uint64_t h[8][LANES];
	_Alignas(64) uint8_t keyblock[128] = { 0 };
	_Alignas(64) uint8_t pad[LANES][128];
	static const uint8_t zero[128];
	_Alignas(64) const uint8_t *blk[LANES];
	_Alignas(64) uint64_t t[LANES], f[LANES];
	struct lane lane[LANES];
	size_t next = 0, active = 0;

	memcpy(keyblock, key, CRYPTO_KEY_LEN);
	for (int l = 0; l < LANES; l++) {
		lane[l].msg = SIZE_MAX;
		if (next < n) {
			lane[l].msg = order[next++];
			lane[l].block = 0;
			lane[l].nblocks = 1 + (len[lane[l].msg] + 127) / 128;
			lane_start(h, l);
			active++;
		}
	}
	while (active) {
		for (int l = 0; l < LANES; l++) {
			struct lane *ln = &lane[l];
			if (ln->msg == SIZE_MAX) {
				blk[l] = zero;
				t[l] = f[l] = 0;
				continue;
			}
			size_t L = len[ln->msg], k = ln->block;
			f[l] = k + 1 == ln->nblocks ? ~0ULL : 0;
			if (k == 0) {
				blk[l] = keyblock;
				t[l] = 128;
				continue;
			}
			size_t off = (k - 1) * 128, rest = L - off;
			t[l] = 128 + (uint64_t)(rest < 128 ? L : off + 128);
			if (rest >= 128) {
				blk[l] = data[ln->msg] + off;
			} else {
				memcpy(pad[l], data[ln->msg] + off, rest);
				memset(pad[l] + rest, 0, 128 - rest);
				blk[l] = pad[l];
			}
		}
		compress8(h, blk, t, f);
		for (int l = 0; l < LANES; l++) {
			struct lane *ln = &lane[l];
			if (ln->msg == SIZE_MAX || ++ln->block < ln->nblocks)
				continue;
			for (int w = 0; w < 4; w++)
				for (int b = 0; b < 8; b++)
					out[ln->msg][8 * w + b] = (uint8_t)(h[w][l] >> (8 * b));
			if (next < n) {
				ln->msg = order[next++];
				ln->block = 0;
				ln->nblocks = 1 + (len[ln->msg] + 127) / 128;
				lane_start(h, l);
			} else {
				ln->msg = SIZE_MAX;
				active--;
			}
		}
	}
	crypto_wipe(h, sizeof(h));
	crypto_wipe(keyblock, sizeof(keyblock));
	crypto_wipe(pad, sizeof(pad));
	free(order);
	return 0;
}

/* libgcc fills the CPU model in a constructor, and its AVX-512 bit also
 * requires the OS to save the registers (XCR0). */
static int have_avx512(void)
{
	return __builtin_cpu_supports("avx512f");
}
#endif

void crypto_keyed_hash_many(const uint8_t key[CRYPTO_KEY_LEN], size_t n,
			    const uint8_t *const *data, const size_t *len,
			    uint8_t (*out)[CRYPTO_ID_LEN])
{
#ifdef HAVE_BLAKE8
	if (n >= BLAKE8_MIN && have_avx512() && hash8(key, n, data, len, out) == 0)
		return;
#endif
	hash_serial(key, n, data, len, out);
}
