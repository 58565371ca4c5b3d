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
	uint64_t pack_size;	/* of the whole pack */
};

/* Opens (creating) the database at path. CAIRN_EIO when SQLite fails. */
int index_open(const char *path, struct index **ret);
void index_free(struct index *ix);

/* Looks up a blob. Returns 0 with *ret filled (ret may be NULL), or
 * CAIRN_ENOTFOUND, or CAIRN_EIO. */
int index_lookup(struct index *ix, unsigned type, const uint8_t id[32], struct index_loc *ret);

/* Looks up n blobs of one type in one read transaction (much cheaper per
 * blob than index_lookup). found[i] is set to 1 with ret[i] filled, or to
 * 0 when ids[i] is not indexed. Returns 0, or CAIRN_EIO (found and ret are
 * then partly filled). */
int index_lookup_many(struct index *ix, unsigned type, const uint8_t (*ids)[32], size_t n,
		      struct index_loc *ret, uint8_t *found);

/* Lets SQLite keep up to kib KiB of the index's pages in memory on this
 * connection (its default is 2 MiB), for commands that look up many blobs
 * in no useful order (restore). Returns 0 or CAIRN_EIO. */
int index_set_cache_kib(struct index *ix, unsigned kib);

/* Transactions around bulk changes. */
int index_begin(struct index *ix);
/* index_begin without waiting: CAIRN_ELOCKED at once when another process
 * holds the cache's write lock. */
int index_try_begin(struct index *ix);
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

/* ---- prune: blobs in use ----
 * TEMP tables in the cache mark blobs referenced by snapshots, so marking a
 * repository's blobs costs disk, not memory (SQLite spills them to a
 * temporary file past its cache size). After marking, index_used_finish
 * picks one keeper copy per used blob (the copy in the oldest pack row) for
 * the per-pack accounting. */

/* Starts marking (empties the tables). */
int index_used_reset(struct index *ix);
/* Marks every blob of that type (prune keeps all dictionaries). */
int index_used_mark_type(struct index *ix, unsigned type);
/* Drops the marking tables. */
int index_used_drop(struct index *ix);
/* 1 when (type, id) was not marked yet (it is now), 0 when it was, <0 error. */
int index_used_mark(struct index *ix, unsigned type, const uint8_t id[32]);
/* Marks n ids of one type without saying which were new (faster in id
 * order). 0 or <0 error. */
int index_used_mark_many(struct index *ix, unsigned type, const uint8_t (*ids)[32], size_t n);
/* Chooses keepers; counts used blobs and used blobs that are not indexed. */
int index_used_finish(struct index *ix, uint64_t *ret_used, uint64_t *ret_missing);

struct index_pack_usage {
	uint8_t id[32];
	uint64_t size;
	uint64_t used_bytes, used_blobs;	/* keeper copies */
	uint64_t unused_bytes, unused_blobs;	/* unreferenced or duplicate copies */
};

/* Calls fn for every indexed pack with its usage (after index_used_finish),
 * in pack row order. fn may call index_drop_pack. */
int index_foreach_pack_usage(struct index *ix,
			     int (*fn)(void *arg, const struct index_pack_usage *u), void *arg);
/* Records that prune deletes the pack (repack: after storing its keepers
 * again). 0 or <0 error; an unknown pack is ignored. */
int index_drop_pack(struct index *ix, const uint8_t pack_id[32], int repack);
/* Calls fn for each keeper blob of the packs to repack, pack by pack in
 * offset order. */
int index_foreach_repack_blob(struct index *ix,
			      int (*fn)(void *arg, const uint8_t pack_id[32], uint64_t pack_size,
					const struct pack_entry *en),
			      void *arg);
/* Calls fn for every blob entry of every pack that is not dropped, pack by
 * pack (all entries of a pack in a row, in no particular order). */
int index_foreach_kept_entry(struct index *ix,
			     int (*fn)(void *arg, const uint8_t pack_id[32], uint64_t pack_size,
				       const struct pack_entry *en),
			     void *arg);
/* Calls fn for every dropped pack. */
int index_foreach_dropped_pack(struct index *ix,
			       int (*fn)(void *arg, const uint8_t pack_id[32], uint64_t size),
			       void *arg);
/* 1 when the pack is to be dropped (index_drop_pack), 0 when not. */
int index_pack_dropped(struct index *ix, const uint8_t pack_id[32]);
/* After prune deleted them: removes the dropped packs from the cache, the
 * removed index files from its list and adds the added ones, in one
 * transaction. */
int index_drop_apply(struct index *ix, const uint8_t (*added)[32], size_t n_added,
		     const uint8_t (*removed)[32], size_t n_removed);
/* After index_used_finish: count, plaintext bytes and stored bytes of the
 * used blobs (one copy each). */
int index_used_sums(struct index *ix, uint64_t *ret_blobs, uint64_t *ret_raw, uint64_t *ret_stored);
/* Packs, their bytes, blob entries and their plaintext bytes in the cache. */
int index_totals(struct index *ix, uint64_t *ret_packs, uint64_t *ret_pack_bytes,
		 uint64_t *ret_blobs, uint64_t *ret_raw);
/* copy: blob ids of another repository mapped to this one's (a cache:
 * callers check that the mapped blob is indexed). CAIRN_ENOTFOUND. */
int index_map_get(struct index *ix, const uint8_t old[32], uint8_t ret_new[32]);
int index_map_put(struct index *ix, const uint8_t old[32], const uint8_t new_id[32]);
/* 1 when the pack is indexed, 0 when not. */
int index_has_pack(struct index *ix, const uint8_t pack_id[32]);

/* ---- repair packs, metrics ---- */

/* Removes a pack and its blob entries from the cache (repair packs, so
 * that the saver stores the blobs it salvages again). Not an error when the
 * pack is not there. */
int index_forget_pack(struct index *ix, const uint8_t pack_id[32]);
/* Total size of the indexed packs, in bytes. */
int index_pack_bytes(struct index *ix, uint64_t *ret);

#endif
