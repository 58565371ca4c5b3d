/*
 * keyfile_test.c - key files: round trip, wrong password, parsing, and
 * tamper detection of the header.
 *
 * keyfile_create always uses the real Argon2 parameters (19 MiB x 7); opening
 * costs ~0.1 s each, so the exhaustive byte-flip test runs on a key file
 * built here by the documented layout with cheap parameters (which also
 * checks that parameters are read from the file, not assumed).
 */
#include "cairn/common.h"
#include "cairn/keyfile.h"

#include <time.h>

#include "tap.h"

static struct crypto_keys keys;

/* Builds a key file by the documented layout (keyfile.h). */
static void make_keyfile(uint64_t ops, uint64_t mem, const char *host, const char *user,
			 uint8_t payload_version, const char *pass, struct buf *out)
{
	uint8_t salt[CRYPTO_SALT_LEN], kek[CRYPTO_KEY_LEN], payload[1 + 3 * CRYPTO_KEY_LEN];
	for (int i = 0; i < CRYPTO_SALT_LEN; i++)
		salt[i] = (uint8_t)(0x40 + i);
	buf_reset(out);
	buf_put(out, "CAIRNKEY", 8);
	buf_put_u8(out, 1);
	buf_put_u8(out, 1);
	buf_put_u64le(out, ops);
	buf_put_u64le(out, mem);
	buf_put(out, salt, sizeof(salt));
	buf_put_u64le(out, 1700000000);
	buf_put_str(out, host);
	buf_put_str(out, user);
	if (crypto_kdf(pass, strlen(pass), salt, ops, mem, kek) != 0)
		abort();
	payload[0] = payload_version;
	memcpy(payload + 1, keys.enc, 32);
	memcpy(payload + 33, keys.id, 32);
	memcpy(payload + 65, keys.chunker, 32);
	size_t hlen = out->len;
	buf_reserve(out, sizeof(payload) + CRYPTO_SEAL_OVERHEAD);
	crypto_seal(kek, out->data, hlen, payload, sizeof(payload), out->data + hlen);
	out->len += sizeof(payload) + CRYPTO_SEAL_OVERHEAD;
}

static int keys_equal(const struct crypto_keys *a, const struct crypto_keys *b)
{
	return memcmp(a->enc, b->enc, 32) == 0 && memcmp(a->id, b->id, 32) == 0 &&
	       memcmp(a->chunker, b->chunker, 32) == 0;
}

/* Offset of the sealed payload: the header length. */
static size_t header_len(const struct buf *kf)
{
	return kf->len - (1 + 3 * CRYPTO_KEY_LEN) - CRYPTO_SEAL_OVERHEAD;
}

static void test_real(void)
{
	struct buf kf = BUF_INIT;
	struct crypto_keys got;
	struct keyfile_info info;
	time_t before = time(NULL);
	ok(keyfile_create(&keys, "correct horse", 13, "myhost", "alice", &kf) == 0,
	   "keyfile_create");
	size_t hlen = header_len(&kf);
	ok(kf.len > 8 && memcmp(kf.data, "CAIRNKEY", 8) == 0, "starts with CAIRNKEY");
	is_int(hlen, 8 + 1 + 1 + 8 + 8 + 16 + 8 + 1 + 6 + 1 + 5, "header has the documented size");

	memset(&info, 0, sizeof(info));
	ok(keyfile_parse(kf.data, kf.len, &info) == 0, "keyfile_parse");
	ok(strcmp(info.hostname, "myhost") == 0 && strcmp(info.username, "alice") == 0,
	   "parse gives host and user (%s, %s)", info.hostname, info.username);
	ok(info.opslimit == KEYFILE_OPSLIMIT && info.memlimit == KEYFILE_MEMLIMIT,
	   "parse gives the Argon2 parameters");
	ok(info.created >= (int64_t)before && info.created <= (int64_t)time(NULL) + 1,
	   "created is now");

	memset(&got, 0, sizeof(got));
	memset(&info, 0, sizeof(info));
	ok(keyfile_open(kf.data, kf.len, "correct horse", 13, &got, &info) == 0,
	   "open with the password");
	ok(keys_equal(&got, &keys), "gives the master keys back");
	ok(strcmp(info.hostname, "myhost") == 0 && info.memlimit == KEYFILE_MEMLIMIT,
	   "and the info");
	memset(&got, 0, sizeof(got));
	is_int(keyfile_open(kf.data, kf.len, "correct horsf", 13, &got, NULL), CAIRN_EPASSWORD,
	       "wrong password: CAIRN_EPASSWORD");
	is_int(keyfile_open(kf.data, kf.len, "correct hors", 12, &got, NULL), CAIRN_EPASSWORD,
	       "password prefix: CAIRN_EPASSWORD");
	struct crypto_keys zero;
	memset(&zero, 0, sizeof(zero));
	ok(memcmp(&got, &zero, sizeof(got)) == 0, "a failed open leaves the keys untouched");

	/* The password length is honoured (embedded NUL). */
	struct buf kf2 = BUF_INIT;
	ok(keyfile_create(&keys, "a\0b", 3, NULL, NULL, &kf2) == 0, "create with a NUL in the password");
	ok(keyfile_open(kf2.data, kf2.len, "a\0b", 3, &got, NULL) == 0, "opens with all 3 bytes");
	is_int(keyfile_open(kf2.data, kf2.len, "a\0c", 3, &got, NULL), CAIRN_EPASSWORD,
	       "not with the bytes after the NUL changed");
	ok(keyfile_parse(kf2.data, kf2.len, &info) == 0 && info.hostname[0] == 0 &&
		   info.username[0] == 0,
	   "NULL host and user are stored empty");
	buf_free(&kf2);

	/* Two key files of the same keys and password differ (salt, nonce). */
	struct buf kf3 = BUF_INIT;
	keyfile_create(&keys, "correct horse", 13, "myhost", "alice", &kf3);
	ok(kf3.len == kf.len && memcmp(kf3.data, kf.data, kf.len) != 0,
	   "a second key file for the same keys differs");
	buf_free(&kf3);

	/* One flipped byte in each header field of the real file. */
	static const struct {
		size_t off;
		const char *field;
	} fields[] = {
		{ 8, "version" }, { 9, "kdf" }, { 10, "opslimit" }, { 21, "memlimit" },
		{ 26, "salt" }, { 41, "salt" }, { 42, "created" }, { 50, "hostname length" },
		{ 51, "hostname" }, { 57, "username length" }, { 58, "username" },
	};
	for (size_t i = 0; i < CAIRN_ARRAY_LEN(fields); i++) {
		kf.data[fields[i].off] ^= 0x01;
		int e = keyfile_open(kf.data, kf.len, "correct horse", 13, &got, NULL);
		ok(e < 0, "real key file, flipped %s byte: open fails (%d)", fields[i].field, e);
		kf.data[fields[i].off] ^= 0x01;
	}
	ok(keyfile_open(kf.data, kf.len, "correct horse", 13, &got, NULL) == 0,
	   "restored, it opens again");

	/* Every truncation: parse and open fail with CAIRN_ECORRUPT. */
	int bad = 0;
	for (size_t n = 0; n < kf.len; n++) {
		uint8_t *c = malloc(n ? n : 1);
		memcpy(c, kf.data, n);
		if (keyfile_parse(c, n, &info) != CAIRN_ECORRUPT ||
		    keyfile_open(c, n, "correct horse", 13, &got, NULL) != CAIRN_ECORRUPT)
			bad++;
		free(c);
	}
	is_int(bad, 0, "every truncation (0..%zu bytes): CAIRN_ECORRUPT", kf.len - 1);
	buf_put_u8(&kf, 0);
	is_int(keyfile_parse(kf.data, kf.len, &info), CAIRN_ECORRUPT,
	       "a trailing byte: CAIRN_ECORRUPT");
	is_int(keyfile_open(kf.data, kf.len, "correct horse", 13, &got, NULL), CAIRN_ECORRUPT,
	       "open with a trailing byte: CAIRN_ECORRUPT");
	buf_free(&kf);
}

/* Key files written with earlier defaults keep opening: the parameters
 * come from the file, not from KEYFILE_OPSLIMIT/MEMLIMIT. */
static void test_old_defaults(void)
{
	static const struct {
		uint64_t ops, mem;
		const char *what;
	} old[] = {
		{ 3, 64u << 20, "64 MiB x 3 (first default)" },
		{ 4, 32u << 20, "32 MiB x 4 (second default)" },
	};
	struct buf kf = BUF_INIT;
	for (size_t i = 0; i < CAIRN_ARRAY_LEN(old); i++) {
		struct crypto_keys got;
		struct keyfile_info info;
		memset(&got, 0, sizeof(got));
		make_keyfile(old[i].ops, old[i].mem, "", "", 1, "old pw", &kf);
		ok(keyfile_open(kf.data, kf.len, "old pw", 6, &got, &info) == 0 &&
			   keys_equal(&got, &keys) && info.opslimit == old[i].ops &&
			   info.memlimit == old[i].mem,
		   "a key file with %s opens", old[i].what);
	}
	buf_free(&kf);
	ok(KEYFILE_MEMLIMIT >= (19u << 20) && KEYFILE_OPSLIMIT * (uint64_t)KEYFILE_MEMLIMIT >= 4 * (uint64_t)(32u << 20),
	   "the default is at least OWASP's 19 MiB and keeps the 32 MiB x 4 work per guess");
}

static void test_cheap(void)
{
	struct buf kf = BUF_INIT;
	struct crypto_keys got;
	struct keyfile_info info;
	make_keyfile(1, 8192, "h", "u", 1, "pw", &kf);
	ok(keyfile_open(kf.data, kf.len, "pw", 2, &got, &info) == 0 && keys_equal(&got, &keys),
	   "a key file with other Argon2 parameters opens (parameters come from the file)");
	ok(info.opslimit == 1 && info.memlimit == 8192 && info.created == 1700000000,
	   "its parameters and date are reported");
	is_int(keyfile_open(kf.data, kf.len, "pX", 2, &got, NULL), CAIRN_EPASSWORD,
	       "wrong password: CAIRN_EPASSWORD");

	/* Flip every header byte (bit pos % 8; bit 0 of memlimit bytes, so
	 * no flip asks Argon2 for hundreds of MiB): open must fail. */
	size_t hlen = header_len(&kf);
	int opened = 0;
	for (size_t pos = 0; pos < hlen; pos++) {
		uint8_t mask = (uint8_t)(pos >= 18 && pos < 26 ? 1u : 1u << (pos % 8));
		kf.data[pos] ^= mask;
		int e = keyfile_open(kf.data, kf.len, "pw", 2, &got, NULL);
		if (e == 0) {
			opened++;
			printf("# flipping header byte %zu was not detected\n", pos);
		}
		kf.data[pos] ^= mask;
	}
	is_int(opened, 0, "each of the %zu header bytes flipped: open fails", hlen);
	/* And each byte of the sealed payload. */
	opened = 0;
	for (size_t pos = hlen; pos < kf.len; pos++) {
		kf.data[pos] ^= 0x80;
		if (keyfile_open(kf.data, kf.len, "pw", 2, &got, NULL) != CAIRN_EPASSWORD)
			opened++;
		kf.data[pos] ^= 0x80;
	}
	is_int(opened, 0, "each sealed payload byte flipped: CAIRN_EPASSWORD");

	/* Header rules. */
	make_keyfile(1, 8192, "h", "u", 2, "pw", &kf);
	is_int(keyfile_open(kf.data, kf.len, "pw", 2, &got, NULL), CAIRN_EUNSUPPORTED,
	       "payload version 2: CAIRN_EUNSUPPORTED");
	make_keyfile(1, 8192, "h", "u", 1, "pw", &kf);
	kf.data[8] = 2;
	is_int(keyfile_parse(kf.data, kf.len, &info), CAIRN_EUNSUPPORTED,
	       "file version 2: CAIRN_EUNSUPPORTED");
	kf.data[8] = 1;
	kf.data[9] = 2;
	is_int(keyfile_parse(kf.data, kf.len, &info), CAIRN_EUNSUPPORTED,
	       "kdf 2: CAIRN_EUNSUPPORTED");
	kf.data[0] = 'X';
	is_int(keyfile_parse(kf.data, kf.len, &info), CAIRN_ECORRUPT, "bad magic: CAIRN_ECORRUPT");

	/* Parameter limits: refuse what would make opening a denial of service. */
	static const struct {
		uint64_t ops, mem;
		const char *what;
	} limits[] = {
		{ 0, 8192, "opslimit 0" },
		{ 65, 8192, "opslimit 65" },
		{ 1, 8191, "memlimit below 8 KiB" },
		{ 1, (4ull << 30) + 1, "memlimit above 4 GiB" },
		{ UINT64_MAX, UINT64_MAX, "both UINT64_MAX" },
	};
	for (size_t i = 0; i < CAIRN_ARRAY_LEN(limits); i++) {
		make_keyfile(1, 8192, "h", "u", 1, "pw", &kf);
		put_u64le(kf.data + 10, limits[i].ops);
		put_u64le(kf.data + 18, limits[i].mem);
		is_int(keyfile_parse(kf.data, kf.len, &info), CAIRN_ECORRUPT,
		       "%s: CAIRN_ECORRUPT", limits[i].what);
	}

	/* Names up to 255 bytes are accepted. */
	char name[256];
	memset(name, 'n', 255);
	name[255] = 0;
	make_keyfile(1, 8192, name, name, 1, "pw", &kf);
	ok(keyfile_parse(kf.data, kf.len, &info) == 0 && strlen(info.hostname) == 255 &&
		   strlen(info.username) == 255,
	   "255-byte host and user names parse");
	/* A length prefix pointing past the end. */
	make_keyfile(1, 8192, "h", "u", 1, "pw", &kf);
	kf.data[50] = 0x7f; /* hostname length */
	is_int(keyfile_parse(kf.data, kf.len, &info), CAIRN_ECORRUPT,
	       "a hostname length past the end: CAIRN_ECORRUPT");
	buf_free(&kf);
}

int main(void)
{
	if (crypto_init() != 0)
		return 1;
	/* This test checks the real Argon2 parameters. */
	unsetenv("CAIRN_TEST_WEAK_KDF");
	crypto_keys_generate(&keys);
	test_real();
	test_cheap();
	test_old_defaults();
	return tap_done();
}
