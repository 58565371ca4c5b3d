/*
 * index.h - the local SQLite cache of the repository's index.
 *
 * A cache only (DESIGN.md inv. 5): repo.c rebuilds it from the index files
 * when it is missing or stale. Lives in <cache>/<repo id>/index.db (0600).
 * Dedup look-ups go here, so memory does not grow with the repository.
 * Thread-safe: calls are serialised by SQLite on one connection.
 */
#ifndef CAIRN_INDEX_H
#define CAIRN_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/pack.h"

struct index;

/* Where a blob is stored. */
struct index_loc {
	uint8_t pack_id[32];
	uint64_t offset;
	uint32_t length;
	uint32_t raw_length;
};

/* Opens (creating) the database at path. CAIRN_EIO when SQLite fails. */
int index_open(const char *path, struct index **ret);
void index_free(struct index *ix);

/* Looks up a blob. Returns 0 with *ret filled (ret may be NULL), or
 * CAIRN_ENOTFOUND, or CAIRN_EIO. */
int index_lookup(struct index *ix, unsigned type, const uint8_t id[32], struct index_loc *ret);

/* Transactions around bulk changes. */
int index_begin(struct index *ix);
int index_commit(struct index *ix);
void index_rollback(struct index *ix);

/* Records a pack and its blobs (existing blob entries are kept). */
int index_add_pack(struct index *ix, const uint8_t pack_id[32], uint64_t pack_size,
		   const struct pack_entry *e, size_t n);
/* Records that an index file's content is in the cache. */
int index_add_file(struct index *ix, const uint8_t file_id[32]);
/* 1 when that index file is recorded, 0 when not, <0 on error. */
int index_has_file(struct index *ix, const uint8_t file_id[32]);
/* Calls fn for every recorded index file id. */
int index_foreach_file(struct index *ix, int (*fn)(void *arg, const uint8_t id[32]), void *arg);
/* Empties every table (before a full rebuild). */
int index_clear(struct index *ix);

/* Counts of blobs and packs in the cache. */
int index_counts(struct index *ix, uint64_t *ret_blobs, uint64_t *ret_packs);

/* Finds the unique blob whose hex id starts with prefix. CAIRN_ENOTFOUND,
 * CAIRN_EAMBIGUOUS. */
int index_find_prefix(struct index *ix, const char *hexprefix, unsigned *ret_type,
		      uint8_t ret_id[32]);

#endif
