/*
 * keyfile.h - key files: the master keys sealed under a passphrase.
 *
 * Layout (little-endian): "CAIRNKEY", u8 version (1), u8 kdf (1 =
 * Argon2id13), u64 opslimit, u64 memlimit, salt[16], i64 created (Unix s),
 * varint+bytes hostname, varint+bytes username, then the sealed payload:
 * nonce(24) || XChaCha20-Poly1305(u8 1 || enc[32] || id[32] || chunker[32])
 * with the whole header before it as additional data, so its parameters
 * cannot be changed without the password.
 *
 * The hostname and username fields are readable by anyone with access to
 * the storage, so cairn writes them empty (DESIGN.md: nothing on the
 * storage side names hosts); they stay in the format for other writers.
 *
 * Argon2id parameters: opslimit 7, memlimit 19 MiB, one lane (libsodium's
 * crypto_pwhash). 19 MiB is the memory of OWASP's minimum recommendation for
 * Argon2id (m=19 MiB, t=2, p=1); the seven passes keep the work per guess
 * (memory x passes, 133 MiB-passes) at least that of the earlier default of
 * 32 MiB x 4 (128), i.e. 3.5 times OWASP's minimum. It costs about 0.1 s on
 * this project's reference machine, well below restic's ~0.7 s.
 * Why not more memory: every command derives the key once, so the KDF's
 * memory is the floor of every command's peak RSS (prune, check, ls, mount
 * all stay near it); at 32 MiB a short command could not use less than
 * ~38 MiB. Why not less: below OWASP's 19 MiB the trade-off against GPU and
 * ASIC guessing is no longer one that a public recommendation backs.
 * The parameters are stored per key file and read from it when opening, so
 * key files written with earlier defaults (64 MiB x 3, 32 MiB x 4) still
 * open, and the defaults can change again without breaking old keys.
 */
#ifndef CAIRN_KEYFILE_H
#define CAIRN_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/buf.h"
#include "cairn/crypto.h"

#define KEYFILE_OPSLIMIT 7
#define KEYFILE_MEMLIMIT (19u << 20)

struct keyfile_info {
	int64_t created;
	char hostname[256];
	char username[256];
	uint64_t opslimit, memlimit;
};

/* Seals keys under pass into out. Returns 0 or CAIRN_ENOMEM. */
int keyfile_create(const struct crypto_keys *keys, const char *pass, size_t passlen,
		   const char *hostname, const char *username, struct buf *out);

/* Parses a key file without opening it. CAIRN_ECORRUPT when malformed. */
int keyfile_parse(const uint8_t *data, size_t len, struct keyfile_info *ret_info);

/* Opens a key file with pass. Returns 0, CAIRN_EPASSWORD when the password
 * does not open it, CAIRN_ECORRUPT when malformed, CAIRN_ENOMEM. */
int keyfile_open(const uint8_t *data, size_t len, const char *pass, size_t passlen,
		 struct crypto_keys *ret_keys, struct keyfile_info *ret_info);

#endif
