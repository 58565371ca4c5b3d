/*
 * fuzz_keyfile.c - libFuzzer target for keyfile_parse.
 *
 * Only the parser: keyfile_open runs Argon2id with the parameters stored
 * in the file (up to 64 passes over 4 GiB are accepted), which takes from
 * 0.1 s to minutes per input: far too slow for fuzzing, and its only
 * extra input handling is crypto_open of a fixed-size payload. The header
 * it authenticates is exactly what keyfile_parse reads.
 *
 * Checks what a successful parse promises: terminated names, parameters
 * within the limits that keep opening a key file from being a denial of
 * service.
 */
#include "cairn/common.h"
#include "cairn/keyfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keyfile_info info;
	memset(&info, 0xa5, sizeof(info));
	int e = keyfile_parse(data, size, &info);
	if (e == 0) {
		if (memchr(info.hostname, 0, sizeof(info.hostname)) == NULL ||
		    memchr(info.username, 0, sizeof(info.username)) == NULL)
			abort();
		if (info.opslimit < 1 || info.opslimit > 64 || info.memlimit < 8192 ||
		    info.memlimit > ((uint64_t)4 << 30))
			abort();
		/* Magic, version, kdf, limits, salt, created, two name lengths and
		 * the sealed payload (version byte + 3 keys) are all there. */
		if (size < 8 + 1 + 1 + 8 + 8 + CRYPTO_SALT_LEN + 8 + 1 + 1 + 1 + 3 * CRYPTO_KEY_LEN +
				   CRYPTO_SEAL_OVERHEAD ||
		    memcmp(data, "CAIRNKEY", 8) != 0)
			abort();
	} else if (e != CAIRN_ECORRUPT && e != CAIRN_EUNSUPPORTED) {
		abort();
	}
	return 0;
}
