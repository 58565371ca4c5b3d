/*
 * repo.h - a repository: config, keys, encrypted files, the blob store.
 *
 * Object names (DESIGN.md): config, keys/<id>, data/<xx>/<id>,
 * index/<id>, snapshots/<id>, locks/<id>. Index files are named by the
 * SHA-256 of their stored bytes; snapshots by the keyed BLAKE2b of their
 * plaintext (so equal manifests have equal ids).
 */
#ifndef CAIRN_REPO_H
#define CAIRN_REPO_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/backend.h"
#include "cairn/buf.h"
#include "cairn/config.h"
#include "cairn/crypto.h"
#include "cairn/index.h"
#include "cairn/pack.h"

struct repo;
struct decompressor;
struct chunker;

/* Defaults for `init` (chosen by measurement; see bench/RESULTS.md). */
#define REPO_DEFAULT_CHUNK_MIN (2u << 10)
#define REPO_DEFAULT_CHUNK_AVG (8u << 10)
#define REPO_DEFAULT_CHUNK_MAX (64u << 10)
#define REPO_DEFAULT_COMPRESSION 3
#define REPO_DEFAULT_PACK_SIZE (16u << 20)

struct repo_init_opts {
	const char *location;
	const char *password;
	size_t password_len;
	struct chunker_params chunker;	/* zeros: defaults */
	int compression;		/* -1: default */
	uint64_t pack_size;		/* 0: default */
	const struct crypto_keys *copy_keys; /* take the id key and chunker secret
						from these (NULL: fresh) */
	const char *const *backend_options; /* NULL-terminated -o KEY=VALUE list, or NULL */
	int create_bucket;		/* S3: create the bucket when missing */
};

struct repo_open_opts {
	const char *location;
	const char *password;
	size_t password_len;
	const char *cache_dir;	/* NULL: $CAIRN_CACHE_DIR, $XDG_CACHE_HOME/cairn, ~/.cache/cairn */
	int no_index;		/* don't open or sync the index cache */
	const char *const *backend_options; /* NULL-terminated -o KEY=VALUE list, or NULL */
};

/* Creates a repository. CAIRN_EEXIST when one is already there. */
int repo_init(const struct repo_init_opts *o);

/* Opens a repository: reads config, opens a key with the password, opens
 * and synchronises the index cache. CAIRN_ENOREPO, CAIRN_EPASSWORD,
 * CAIRN_ECORRUPT, CAIRN_EIO. Each is logged with what to do. */
int repo_open(const struct repo_open_opts *o, struct repo **ret);
void repo_free(struct repo *r);

struct backend *repo_backend(struct repo *r);
const struct repo_config *repo_config(const struct repo *r);
const struct crypto_keys *repo_keys(const struct repo *r);
struct index *repo_index(struct repo *r);
const struct chunker *repo_chunker(const struct repo *r);
const char *repo_cache_path(const struct repo *r);
/* Object name ("keys/<id>") of the key file the repository was opened with. */
const char *repo_key_name(const struct repo *r);
/* Stores a new key file sealing this repository's keys under pass; its
 * object name goes to ret_name. */
int repo_key_add(struct repo *r, const char *pass, size_t passlen, char *ret_name, size_t cap);

/* Blob id: keyed BLAKE2b of the plaintext. */
void repo_blob_id(const struct repo *r, const void *data, size_t len, uint8_t ret_id[32]);
/* ret_ids[i] = the blob id of data[i] (len[i] bytes) for i < n; faster than
 * n calls of repo_blob_id. */
void repo_blob_ids(const struct repo *r, size_t n, const uint8_t *const *data, const size_t *len,
		   uint8_t (*ret_ids)[32]);

enum repo_file { REPO_FILE_INDEX, REPO_FILE_SNAPSHOT };

/* Seals and stores an encrypted file; returns its id. */
int repo_file_save(struct repo *r, enum repo_file kind, const void *plain, size_t len,
		   uint8_t ret_id[32]);
/* Loads, verifies the name and opens an encrypted file into out (reset
 * first). CAIRN_ENOTFOUND, CAIRN_ECORRUPT (logged with the object name). */
int repo_file_load(struct repo *r, enum repo_file kind, const uint8_t id[32], struct buf *out);
/* Calls fn for each file id of that kind (names that are not 64 hex digits are skipped). */
int repo_file_list(struct repo *r, enum repo_file kind,
		   int (*fn)(void *arg, const uint8_t id[32]), void *arg);
/* Resolves a hex prefix to a unique file id. CAIRN_ENOTFOUND, CAIRN_EAMBIGUOUS. */
int repo_file_find(struct repo *r, enum repo_file kind, const char *prefix, uint8_t ret_id[32]);
/* Object name of a file: "index/<hex>" etc. */
void repo_file_name(enum repo_file kind, const uint8_t id[32], char *name, size_t cap);

/* Loads a blob: index look-up, ranged read of the pack, open, decompress,
 * re-hash and compare with id. out is reset first. d is the caller's
 * decompressor (one per thread). Returns 0, CAIRN_ENOTFOUND (not indexed),
 * CAIRN_ECORRUPT (logged naming the blob and pack), CAIRN_EIO. */
int repo_blob_load(struct repo *r, struct decompressor *d, unsigned type, const uint8_t id[32],
		   struct buf *out);

/* Read-ahead: tells the backend that the blob will be loaded soon, so that
 * a remote one can start reading its pack (backend_prefetch). Does nothing
 * on a backend without read-ahead, or for a blob the index does not have
 * (the load reports that). Safe from any thread; never fails. */
void repo_blob_prefetch(struct repo *r, unsigned type, const uint8_t id[32]);

/* Decodes a blob from its sealed bytes (already read from a pack), checks
 * the id. Used by repo_blob_load and by readers of whole packs. */
int repo_blob_decode(struct repo *r, struct decompressor *d, unsigned type, const uint8_t id[32],
		     const uint8_t *sealed, size_t len, uint32_t raw_length, struct buf *out);

/* Like repo_blob_decode, but writes the raw_length plaintext bytes to dst
 * (the caller's memory, e.g. its place in a file's buffer) and keeps the
 * decrypted payload in scratch, which the caller reuses between calls, so
 * that a blob costs no allocation. Returns 0, CAIRN_ECORRUPT (not logged:
 * the caller names the blob and where it was), CAIRN_ENOMEM. */
int repo_blob_decode_to(struct repo *r, struct decompressor *d, unsigned type,
			const uint8_t id[32], const uint8_t *sealed, size_t len,
			uint32_t raw_length, void *dst, struct buf *scratch);
/* repo_blob_decode_to without the last step, the check that the plaintext
 * hashes to id: for a caller that decodes many blobs and checks their ids
 * together with repo_blob_ids before it uses any of them. */
int repo_blob_decode_unchecked(struct repo *r, struct decompressor *d, unsigned type,
			       const uint8_t id[32], const uint8_t *sealed, size_t len,
			       uint32_t raw_length, void *dst, struct buf *scratch);

/* Loads the DICT blob id and prepares it for compression at level (0:
 * decompression only). The dictionary is owned by r and lives until
 * repo_free. Blobs compressed with a dictionary (PACK_BLOB_FLAG_ZSTD_DICT)
 * find it themselves in repo_blob_decode. CAIRN_ENOTFOUND, CAIRN_ECORRUPT
 * (logged), CAIRN_ENOMEM. */
struct zdict;
int repo_dict_load(struct repo *r, struct decompressor *d, const uint8_t id[32], int level,
		   const struct zdict **ret);
/* Like repo_dict_load for a dictionary this process has just made (its
 * DICT blob may not be stored yet): data is its content. Made for the early
 * dictionary of a first backup, whose compression is zdict_new_fast's. */
int repo_dict_add(struct repo *r, const uint8_t id[32], const void *data, size_t len, int level,
		  const struct zdict **ret);

/* Reads and decodes a pack's header (a tail read; one more if the header
 * is larger). Entries are malloc'ed. */
int repo_pack_header(struct repo *r, const uint8_t pack_id[32], uint64_t pack_size,
		     struct pack_entry **ret_entries, size_t *ret_n);

/* Re-reads index files into the cache: new files are loaded, and when any
 * cached file is gone from the repository the cache is rebuilt. */
int repo_index_sync(struct repo *r);

/* Writes index files for the given packs (used by repair and the saver):
 * the caller has already stored the packs. */
struct repo_index_pack {
	uint8_t id[32];
	uint64_t size;
	struct pack_entry *entries;
	size_t n;
};
int repo_index_write(struct repo *r, const struct repo_index_pack *packs, size_t n,
		     uint8_t ret_id[32]);

#endif
