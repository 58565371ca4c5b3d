/*
 * checkdb.h - the checker's scratch database (SQLite).
 *
 * `cairn check` needs every entry of every index file (the index cache
 * keeps one location per blob, so it can't see blobs indexed twice), the
 * trees and LIST blobs it has already walked, and the damage it finds,
 * for a repository of any size. All of that goes into a temporary SQLite
 * file in the cache folder, unlinked as soon as it is open (a crash leaves
 * nothing behind), with a page cache of CHECKDB_CACHE_KIB: memory does not
 * grow with the repository (DESIGN.md inv. 6), disk use is about 150 bytes
 * per indexed blob.
 *
 * Not thread-safe: one thread (the checker's main thread) uses it.
 */
#ifndef CAIRN_CHECKDB_H
#define CAIRN_CHECKDB_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/pack.h"

#define CHECKDB_CACHE_KIB 32768

struct checkdb;

/* Pack flags (OR-ed into a pack's row). */
#define CHECKDB_PACK_FOUND 0x01		/* in the storage listing */
#define CHECKDB_PACK_INDEXED 0x02	/* an index file lists it */
#define CHECKDB_PACK_MISSING 0x04	/* indexed, not in storage */
#define CHECKDB_PACK_HEADER_BAD 0x08	/* its header does not decode */
#define CHECKDB_PACK_SIZE_BAD 0x10	/* stored size differs from the index */
#define CHECKDB_PACK_HASH_BAD 0x20	/* SHA-256 of its bytes is not its name */
#define CHECKDB_PACK_READ 0x40		/* read in full (--read-data) */
#define CHECKDB_PACK_SELECTED 0x80	/* chosen to be read */
#define CHECKDB_PACK_TARGET 0x100	/* named by `repair packs` */
#define CHECKDB_PACK_BLOBS_BAD 0x200	/* some of its blobs are damaged */

/* Why a blob (or one index entry of it) can't be used; 0: it can. The
 * order matters: a blob's state is the smallest reason among its entries. */
enum checkdb_reason {
	CHECKDB_OK = 0,
	CHECKDB_LOST_PACK_MISSING = 1,	/* its pack is not in storage */
	CHECKDB_LOST_PAST_END = 2,	/* the entry reaches past the pack's end */
	CHECKDB_LOST_NOT_IN_HEADER = 3,	/* the pack's header does not list it there */
	CHECKDB_LOST_DAMAGED = 4,	/* it does not decrypt, decompress or match its id */
	CHECKDB_LOST_UNREADABLE = 5,	/* reading it failed (I/O error) */
	CHECKDB_LOST_NOT_INDEXED = 6,	/* no index entry at all */
};

/* A short description of a reason ("its pack is missing"). */
const char *checkdb_reason_text(int reason);

/* Opens a new scratch database in dir (a file made there and unlinked at
 * once). Returns 0, CAIRN_EIO (logged) or CAIRN_ENOMEM. */
int checkdb_open(const char *dir, struct checkdb **ret);
/* Closes and frees; NULL does nothing. */
void checkdb_free(struct checkdb *db);

/* A transaction around bulk inserts (much faster). */
int checkdb_begin(struct checkdb *db);
int checkdb_commit(struct checkdb *db);

/* ---- packs and index entries ---- */

struct checkdb_pack {
	int64_t pid;		/* row id */
	uint8_t id[32];
	uint64_t size;		/* in storage (FOUND) */
	uint64_t indexed_size;	/* as the (first) index file says (INDEXED) */
	unsigned flags;		/* CHECKDB_PACK_* */
	uint64_t n_index_files;	/* index files listing it */
};

/* Records a pack seen in the storage listing. */
int checkdb_pack_found(struct checkdb *db, const uint8_t id[32], uint64_t size);
/* Records an index file; *ret_fid identifies it for checkdb_add_index_pack. */
int checkdb_add_index_file(struct checkdb *db, const uint8_t id[32], int64_t *ret_fid);
/* Records that index file fid lists a pack of pack_size bytes with these
 * blobs (an entry listed twice for the same pack is kept once). */
int checkdb_add_index_pack(struct checkdb *db, int64_t fid, const uint8_t pack_id[32],
			   uint64_t pack_size, const struct pack_entry *e, size_t n);
/* Call once every index file is added: builds what the queries by pack
 * need (before it, checkdb_pack_entries and the marking of a pack's
 * entries work, but slowly). */
int checkdb_index_loaded(struct checkdb *db);
/* Adds flags to a pack. */
int checkdb_pack_set_flags(struct checkdb *db, int64_t pid, unsigned flags);
/* Up to cap packs with pid > after, in pid order; *ret_n of them (0 at the end). */
int checkdb_packs_next(struct checkdb *db, int64_t after, struct checkdb_pack *out, size_t cap,
		       size_t *ret_n);
/* The pack with that id. CAIRN_ENOTFOUND when neither listed nor indexed. */
int checkdb_pack_get(struct checkdb *db, const uint8_t id[32], struct checkdb_pack *ret);
/* Packs whose hex id starts with prefix: up to cap of them into out, the
 * total count in *ret_n. */
int checkdb_pack_find_prefix(struct checkdb *db, const char *prefix, struct checkdb_pack *out,
			     size_t cap, size_t *ret_n);
/* Flags k packs of the storage listing, chosen at random, SELECTED. */
int checkdb_select_random(struct checkdb *db, uint64_t k);
/* The index entries of a pack (malloc'ed, *ret NULL when none). */
int checkdb_pack_entries(struct checkdb *db, int64_t pid, struct pack_entry **ret, size_t *ret_n);
/* Marks one index entry of a pack unusable for reason. */
int checkdb_mark_entry(struct checkdb *db, int64_t pid, unsigned type, const uint8_t id[32],
		       int reason);
/* Marks every still usable index entry of a pack unusable for reason. */
int checkdb_mark_pack(struct checkdb *db, int64_t pid, int reason);
/* Marks the entries of a pack that reach past size bytes; *ret_n of them. */
int checkdb_mark_past_end(struct checkdb *db, int64_t pid, uint64_t size, uint64_t *ret_n);
/* Records the header entries of a pack that no index file lists (to tell
 * the user that `repair index` would find a blob there). */
int checkdb_add_header(struct checkdb *db, int64_t pid, const struct pack_entry *e, size_t n);
/* The ids of the index files that list pack pid (malloc'ed). */
int checkdb_pack_index_files(struct checkdb *db, int64_t pid, uint8_t (**ret)[32], size_t *ret_n);
/* Calls fn for each pack having every bit of flags; a non-zero return stops. */
int checkdb_packs_foreach(struct checkdb *db, unsigned flags,
			  int (*fn)(void *arg, const struct checkdb_pack *p), void *arg);

/* ---- blobs ---- */

struct checkdb_loc {
	int64_t pid;
	uint8_t pack_id[32];
	uint64_t offset;
	uint32_t length, raw_length;
	int reason;		/* 0: usable */
};

/* The blob's state: CHECKDB_OK when some index entry is usable, else the
 * smallest reason among its entries, or CHECKDB_LOST_NOT_INDEXED; or a
 * negative error. */
int checkdb_blob_state(struct checkdb *db, unsigned type, const uint8_t id[32]);
/* Up to cap index entries of a blob, usable ones first; *ret_n of them. */
int checkdb_blob_locs(struct checkdb *db, unsigned type, const uint8_t id[32],
		      struct checkdb_loc *out, size_t cap, size_t *ret_n);
/* 1 when the blob has a usable entry in a pack that is in storage and not
 * a TARGET; 0 when not; or an error. */
int checkdb_blob_elsewhere(struct checkdb *db, unsigned type, const uint8_t id[32]);
/* 1 with the pack's id when a pack that no index lists holds the blob
 * (checkdb_add_header); 0 when none; or an error. */
int checkdb_blob_unindexed_pack(struct checkdb *db, unsigned type, const uint8_t id[32],
				uint8_t ret_pack[32]);
/* Distinct indexed blobs, and those of them indexed in more than one pack. */
int checkdb_blob_counts(struct checkdb *db, uint64_t *ret_blobs, uint64_t *ret_duplicates);

/* ---- trees and LIST blobs walked ---- */

enum checkdb_state {
	CHECKDB_UNKNOWN = 0,	/* not walked */
	CHECKDB_CLEAN = 1,	/* it and everything below it is usable */
	CHECKDB_DAMAGED = 2,	/* readable, but something below it is lost */
	CHECKDB_LOST = 3,	/* the blob itself can't be read */
};

struct checkdb_visit {
	int state;		/* enum checkdb_state */
	int reason;		/* LOST: why (enum checkdb_reason) */
	uint64_t files;		/* regular files below (trees) */
	uint64_t bytes;		/* their size (trees) or the bytes covered (LIST) */
};

/* 1 with *ret filled when the blob was walked, 0 when not, or an error. */
int checkdb_visit_get(struct checkdb *db, unsigned type, const uint8_t id[32],
		      struct checkdb_visit *ret);
int checkdb_visit_set(struct checkdb *db, unsigned type, const uint8_t id[32],
		      const struct checkdb_visit *v);

/* ---- findings ---- */

/* A problem: severity (0 info, 1 warning, 2 error), a short kind
 * ("pack-missing"), the object's name and a sentence. */
int checkdb_problem_add(struct checkdb *db, int severity, const char *kind, const char *object,
			const char *message);
struct checkdb_problem {
	int severity;
	const char *kind, *object, *message;
};
/* Problems by severity: ret[0] notes, ret[1] warnings, ret[2] errors. */
int checkdb_problem_counts(struct checkdb *db, uint64_t ret[3]);
/* Forgets what a walk of the snapshots found (trees and LIST blobs walked,
 * damage references, damaged files, problems of kind "snapshot-*"), to
 * walk again. */
int checkdb_walk_reset(struct checkdb *db);
/* In the order they were added; a non-zero return of fn stops. */
int checkdb_problems_foreach(struct checkdb *db,
			     int (*fn)(void *arg, const struct checkdb_problem *p), void *arg);

/* A reference from a snapshot (its index sidx) at path to a lost blob,
 * at file offset off (for content; 0 for trees). Only the first reference
 * of a blob per snapshot and path is kept. */
int checkdb_damage_add(struct checkdb *db, unsigned type, const uint8_t id[32], int reason,
		       uint64_t sidx, const char *path, uint64_t off);
struct checkdb_damage {
	unsigned type;
	uint8_t id[32];
	int reason;
	uint64_t sidx;
	const char *path;
	uint64_t off;
};
/* Ordered by blob, then snapshot, then path. */
int checkdb_damage_foreach(struct checkdb *db,
			   int (*fn)(void *arg, const struct checkdb_damage *d), void *arg);

/* A damaged file (is_dir 0: size and intact bytes) or a lost folder (is_dir 1). */
int checkdb_dfile_add(struct checkdb *db, uint64_t sidx, const char *path, int is_dir,
		      uint64_t size, uint64_t intact);
struct checkdb_dfile {
	const char *path;
	int is_dir;
	uint64_t size, intact;
};
/* The damaged entries of snapshot sidx, by path. */
int checkdb_dfiles_foreach(struct checkdb *db, uint64_t sidx,
			   int (*fn)(void *arg, const struct checkdb_dfile *f), void *arg);

#endif
