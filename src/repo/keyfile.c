/*
 * keyfile.c - key files (format and KDF choice in keyfile.h).
 */
#include "cairn/common.h"
#include "cairn/keyfile.h"
#include "cairn/log.h"

#include <time.h>

#define KEY_PAYLOAD_LEN (1 + 3 * CRYPTO_KEY_LEN)

int keyfile_create(const struct crypto_keys *keys, const char *pass, size_t passlen,
		   const char *hostname, const char *username, struct buf *out)
{
	uint8_t salt[CRYPTO_SALT_LEN], kek[CRYPTO_KEY_LEN], payload[KEY_PAYLOAD_LEN];
	uint64_t ops = KEYFILE_OPSLIMIT, mem = KEYFILE_MEMLIMIT;
	/* Test suites that open a repository hundreds of times may ask for a
	 * cheap KDF; nothing else sets this. */
	if (getenv("CAIRN_TEST_WEAK_KDF")) {
		ops = 1;
		mem = 1u << 20;
	}
	crypto_random(salt, sizeof(salt));
	buf_reset(out);
	buf_put(out, "CAIRNKEY", 8);
	buf_put_u8(out, 1);
	buf_put_u8(out, 1);
	buf_put_u64le(out, ops);
	buf_put_u64le(out, mem);
	buf_put(out, salt, sizeof(salt));
	buf_put_u64le(out, (uint64_t)time(NULL));
	buf_put_str(out, hostname ? hostname : "");
	buf_put_str(out, username ? username : "");
	int ret = buf_ok(out);
	if (ret < 0)
		return ret;
	ret = crypto_kdf(pass, passlen, salt, ops, mem, kek);
	if (ret < 0) {
		log_error("cannot derive a key from the password: %s", cairn_strerror(ret));
		return ret;
	}
	payload[0] = 1;
	memcpy(payload + 1, keys->enc, CRYPTO_KEY_LEN);
	memcpy(payload + 1 + CRYPTO_KEY_LEN, keys->id, CRYPTO_KEY_LEN);
	memcpy(payload + 1 + 2 * CRYPTO_KEY_LEN, keys->chunker, CRYPTO_KEY_LEN);
	size_t hlen = out->len;
	ret = buf_reserve(out, KEY_PAYLOAD_LEN + CRYPTO_SEAL_OVERHEAD);
	if (ret == 0) {
		crypto_seal(kek, out->data, hlen, payload, sizeof(payload), out->data + hlen);
		out->len += KEY_PAYLOAD_LEN + CRYPTO_SEAL_OVERHEAD;
	}
	crypto_wipe(kek, sizeof(kek));
	crypto_wipe(payload, sizeof(payload));
	return ret;
}

/* Parses the header; *ret_hlen is where the sealed payload starts. */
static int keyfile_parse_header(const uint8_t *data, size_t len, struct keyfile_info *info,
				uint8_t salt[CRYPTO_SALT_LEN], size_t *ret_hlen)
{
	struct rd r;
	rd_init(&r, data, len);
	const uint8_t *magic, *s;
	uint8_t version, kdf;
	uint64_t created;
	size_t n;
	if (rd_take(&r, 8, &magic) < 0 || memcmp(magic, "CAIRNKEY", 8) != 0)
		return CAIRN_ECORRUPT;
	if (rd_u8(&r, &version) < 0 || rd_u8(&r, &kdf) < 0)
		return CAIRN_ECORRUPT;
	if (version != 1 || kdf != 1)
		return CAIRN_EUNSUPPORTED;
	if (rd_u64le(&r, &info->opslimit) < 0 || rd_u64le(&r, &info->memlimit) < 0 ||
	    rd_copy(&r, salt, CRYPTO_SALT_LEN) < 0 || rd_u64le(&r, &created) < 0)
		return CAIRN_ECORRUPT;
	info->created = (int64_t)created;
	if (rd_bytes(&r, &s, &n) < 0 || n >= sizeof(info->hostname))
		return CAIRN_ECORRUPT;
	memcpy(info->hostname, s, n);
	info->hostname[n] = 0;
	if (rd_bytes(&r, &s, &n) < 0 || n >= sizeof(info->username))
		return CAIRN_ECORRUPT;
	memcpy(info->username, s, n);
	info->username[n] = 0;
	if (r.len != KEY_PAYLOAD_LEN + CRYPTO_SEAL_OVERHEAD)
		return CAIRN_ECORRUPT;
	/* Refuse limits that would make opening a key file a denial of service. */
	if (info->opslimit < 1 || info->opslimit > 64 || info->memlimit < 8192 ||
	    info->memlimit > ((uint64_t)4 << 30))
		return CAIRN_ECORRUPT;
	*ret_hlen = len - r.len;
	return 0;
}

int keyfile_parse(const uint8_t *data, size_t len, struct keyfile_info *ret_info)
{
	uint8_t salt[CRYPTO_SALT_LEN];
	size_t hlen;
	return keyfile_parse_header(data, len, ret_info, salt, &hlen);
}

int keyfile_open(const uint8_t *data, size_t len, const char *pass, size_t passlen,
		 struct crypto_keys *ret_keys, struct keyfile_info *ret_info)
{
	struct keyfile_info info;
	uint8_t salt[CRYPTO_SALT_LEN], kek[CRYPTO_KEY_LEN], payload[KEY_PAYLOAD_LEN];
	size_t hlen;
	int ret = keyfile_parse_header(data, len, &info, salt, &hlen);
	if (ret < 0)
		return ret;
	ret = crypto_kdf(pass, passlen, salt, info.opslimit, info.memlimit, kek);
	if (ret < 0)
		return ret;
	ret = crypto_open(kek, data, hlen, data + hlen, len - hlen, payload);
	crypto_wipe(kek, sizeof(kek));
	if (ret < 0)
		return CAIRN_EPASSWORD;
	if (payload[0] != 1) {
		crypto_wipe(payload, sizeof(payload));
		return CAIRN_EUNSUPPORTED;
	}
	memcpy(ret_keys->enc, payload + 1, CRYPTO_KEY_LEN);
	memcpy(ret_keys->id, payload + 1 + CRYPTO_KEY_LEN, CRYPTO_KEY_LEN);
	memcpy(ret_keys->chunker, payload + 1 + 2 * CRYPTO_KEY_LEN, CRYPTO_KEY_LEN);
	crypto_wipe(payload, sizeof(payload));
	if (ret_info)
		*ret_info = info;
	return 0;
}
