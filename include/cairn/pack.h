/*
 * pack.h - pack files: many sealed blobs followed by an encrypted header.
 *
 * Layout: blob_0 || ... || blob_n-1 || sealed header || u32le header length.
 * Each blob is sealed (crypto.h) with additional data "cairn-blob" || type ||
 * id; its plaintext is one flag byte (0 raw, 1 zstd, 2 zstd with a
 * dictionary) and the payload. The
 * header is sealed with additional data "cairn-pack"; its plaintext is
 * "CPH1", varint count, then count x (type u8, id[32], u32le sealed length,
 * u32le raw length); offsets follow from the order. So blob lengths are
 * visible only to key holders, and the writer stores blobs in a random
 * order, not the order they were added (ePrint 2025/532, 2025/558: chunk
 * sizes and order leak the chunker secret).
 *
 * A pack's name is data/<xx>/<id> where id = SHA-256 of its bytes.
 */
#ifndef CAIRN_PACK_H
#define CAIRN_PACK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "cairn/buf.h"
#include "cairn/crypto.h"

enum blob_type {
	BLOB_DATA = 1,	/* file content */
	BLOB_TREE = 2,	/* directory manifest (tree.h) */
	BLOB_LIST = 3,	/* part of a long chunk list (idlist.h) */
	BLOB_DICT = 4,	/* zstd dictionary (compress.h): never pruned */
};

#define PACK_MAX_BLOBS 1000000u
#define PACK_BLOB_FLAG_RAW 0
#define PACK_BLOB_FLAG_ZSTD 1
/* zstd with a dictionary (data blobs only): the payload is the first
 * PACK_DICT_REF_LEN bytes of the DICT blob's id, then the zstd frame. */
#define PACK_BLOB_FLAG_ZSTD_DICT 2
#define PACK_DICT_REF_LEN 8

struct pack_entry {
	uint8_t type;		/* enum blob_type */
	uint8_t id[32];
	uint64_t offset;	/* of the sealed blob in the pack */
	uint32_t length;	/* sealed length */
	uint32_t raw_length;	/* plaintext payload length, uncompressed */
};

/* 1 for the four known blob types. */
int blob_type_valid(unsigned type);
const char *blob_type_name(unsigned type);

/* Seals a blob: flag byte + payload -> out (reset first). payload is the
 * compressed bytes when flag is PACK_BLOB_FLAG_ZSTD. */
int pack_blob_seal(const struct crypto_keys *keys, unsigned type, const uint8_t id[32],
		   unsigned flag, const void *payload, size_t len, struct buf *out);

/* Opens a sealed blob; *ret_flag and the payload (out, reset first).
 * CAIRN_ECORRUPT when it does not authenticate or the flag is unknown. */
int pack_blob_open(const struct crypto_keys *keys, unsigned type, const uint8_t id[32],
		   const uint8_t *sealed, size_t len, unsigned *ret_flag, struct buf *out);

struct pack_writer;

/* expected: bytes to reserve up front (0: grow on demand). Reserving the
 * pack size plus one blob avoids doubling a 16 MiB buffer to 32 MiB. */
struct pack_writer *pack_writer_new(size_t expected);
void pack_writer_free(struct pack_writer *pw);

/* Adds a sealed blob (copied). Returns 0 or CAIRN_ENOMEM. */
int pack_writer_add(struct pack_writer *pw, unsigned type, const uint8_t id[32],
		    const uint8_t *sealed, size_t len, uint32_t raw_length);
size_t pack_writer_size(const struct pack_writer *pw);
size_t pack_writer_count(const struct pack_writer *pw);

/* A sealed pack ready to store: pieces that point into the writer (blobs
 * in shuffled order) and into `trailer` (sealed header and its length). */
struct pack_out {
	struct iovec *iov;
	size_t n_iov;
	struct buf trailer;
	uint64_t size;
	uint8_t id[32];
	struct pack_entry *entries;	/* in stored order */
	size_t n;
};

/* Shuffles the blobs and seals the header without copying blobs. out is
 * valid until the writer changes; pack_writer_reset() empties the writer
 * afterwards. Returns 0, CAIRN_EINVAL when empty, or CAIRN_ENOMEM. */
int pack_writer_seal(struct pack_writer *pw, const struct crypto_keys *keys, struct pack_out *out);
/* Frees what out owns (not the entries when ret_entries took them). */
void pack_out_free(struct pack_out *out);
void pack_writer_reset(struct pack_writer *pw);

/* Shuffles the blobs, appends the sealed header and returns the pack's
 * bytes in out (reset first), its id, and its entries in stored order
 * (malloc'ed; caller frees). The writer is empty and reusable afterwards.
 * Returns 0, CAIRN_EINVAL when empty, or CAIRN_ENOMEM. */
int pack_writer_finish(struct pack_writer *pw, const struct crypto_keys *keys, struct buf *out,
		       uint8_t ret_id[32], struct pack_entry **ret_entries, size_t *ret_n);

/* Decodes the header from the last tail_len bytes of a pack of pack_size
 * bytes. When the header is longer than the tail, returns CAIRN_EAGAIN-like
 * CAIRN_EINVAL with *ret_need set to the tail length needed. Entries must
 * tile the pack exactly from offset 0 up to the header. Returns 0,
 * CAIRN_EINVAL (need more tail), or CAIRN_ECORRUPT. */
int pack_header_decode(const struct crypto_keys *keys, const uint8_t *tail, size_t tail_len,
		       uint64_t pack_size, size_t *ret_need, struct pack_entry **ret_entries,
		       size_t *ret_n);

/* Object name of a pack: "data/<xx>/<hex id>" into name (at least 80 bytes). */
void pack_name(const uint8_t id[32], char *name, size_t cap);

#endif
