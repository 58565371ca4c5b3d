/*
 * indexfile.h - encoding of the repository's index files.
 *
 * Plaintext (sealed with additional data "cairn-index"): "CIX1", varint
 * pack count, then per pack: id[32], varint pack size, varint blob count,
 * blob count x (u8 type, id[32], varint offset, varint length, varint raw
 * length). An index file is stored as index/<SHA-256 of its stored bytes>.
 */
#ifndef CAIRN_INDEXFILE_H
#define CAIRN_INDEXFILE_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/buf.h"
#include "cairn/pack.h"

/* Appends one pack's entries to an index file being built (call
 * indexfile_begin first, indexfile_end last). */
void indexfile_begin(struct buf *out, size_t n_packs);
void indexfile_add_pack(struct buf *out, const uint8_t pack_id[32], uint64_t pack_size,
			const struct pack_entry *e, size_t n);

/* Called once per pack while decoding; entries are valid during the call. */
typedef int (*indexfile_pack_fn)(void *arg, const uint8_t pack_id[32], uint64_t pack_size,
				 const struct pack_entry *e, size_t n);

/* Decodes and calls fn per pack. Returns 0, CAIRN_ECORRUPT, CAIRN_ENOMEM or
 * what fn returned (non-zero stops). */
int indexfile_decode(const void *data, size_t len, indexfile_pack_fn fn, void *arg);

#endif
