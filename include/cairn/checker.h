/*
 * checker.h - verifying a repository (`cairn check`).
 *
 * Phases, in order:
 *  1. list the packs in storage; load and decode every index file (a file
 *     that does not load is reported by name);
 *  2. compare each pack with the index (tail reads only: the pack's
 *     header): packs no index lists, indexed packs that are missing or of
 *     another size, index entries past a pack's end or not where the
 *     header puts them, headers that do not decode;
 *  3. with a read mode, download the chosen packs in full, on several
 *     threads: the SHA-256 of the bytes must be the pack's name and every
 *     indexed blob must decrypt, decompress and hash to its id;
 *  4. walk every snapshot: each tree and LIST blob is loaded and decoded,
 *     each referenced data blob must have a usable index entry. A tree or
 *     LIST blob found intact is remembered (in the scratch database, not in
 *     memory) and not walked again for the next snapshot, so hourly
 *     snapshots of an unchanged tree cost one look-up each.
 * Phases 2-3 (workers) and 4 (the calling thread) overlap. When a pack job
 * finds a blob lost that the walk may already have taken for intact
 * (damage is rare), the walk is done again once the jobs are finished.
 *
 * Everything found is kept in a scratch database (checkdb.h): problems
 * (errors, warnings, notes), the references from snapshots and paths to
 * lost blobs, and per snapshot its damaged files and lost folders, so the
 * report and `repair snapshots` can use them.
 *
 * Pack buckets: with CHECK_READ_BUCKET n/t, a pack is read when the first
 * four bytes of its id, read as a big-endian number, modulo t equal n - 1.
 * Pack ids are SHA-256 hashes, so the buckets are about equal, and the runs
 * 1/t .. t/t together read every pack exactly once. A range n-m/t reads
 * buckets n to m (a scheduler catching up, or the last day of a short
 * month).
 */
#ifndef CAIRN_CHECKER_H
#define CAIRN_CHECKER_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/snapshot.h"
#include "cairn/tree.h"

struct repo;
struct checker;
struct checkdb;

enum check_read {
	CHECK_READ_NONE = 0,	/* structure only */
	CHECK_READ_ALL,		/* every pack */
	CHECK_READ_BUCKET,	/* packs of bucket n of t (see above) */
	CHECK_READ_PERCENT,	/* a random sample of the packs */
};

struct check_progress {
	const char *phase;	/* "index", "packs", "read", "snapshots" */
	uint64_t done, total;	/* items of the phase */
	uint64_t bytes;		/* bytes downloaded so far */
	/* pack jobs and the snapshot walk run at the same time: */
	uint64_t packs_done, packs_total;
	uint64_t snapshots_done, snapshots_total;
};

/* Called from the checker's thread after each item (the callee throttles). */
typedef void (*checker_progress_fn)(void *arg, const struct check_progress *p);

struct checker_opts {
	enum check_read read;
	uint32_t bucket, buckets;	/* READ_BUCKET: 1 <= bucket <= buckets */
	uint32_t bucket_last;		/* READ_BUCKET: buckets bucket..bucket_last
					   (0: bucket alone) */
	double percent;			/* READ_PERCENT: 0 < percent <= 100 */
	unsigned threads;		/* pack readers; 0: CPUs (or the backend's
					   parallelism, if larger) */
	int index_only;			/* phase 1 only (repair packs) */
	checker_progress_fn progress;
	void *progress_arg;
};

struct check_stats {
	uint64_t index_files, index_files_bad;
	uint64_t packs, packs_unindexed, packs_missing, packs_damaged;
	uint64_t bytes;			/* size of the packs in storage */
	uint64_t packs_read, bytes_read, blobs_read, blobs_read_bad;
	uint64_t blobs, blobs_duplicate;	/* distinct indexed blobs */
	uint64_t snapshots, snapshots_unreadable, snapshots_damaged;
	uint64_t trees, lists;		/* distinct tree and LIST blobs walked */
	uint64_t files;			/* files in all snapshots (with repeats) */
	uint64_t blobs_lost;		/* distinct referenced blobs that are lost */
	uint64_t errors, warnings, notes;
};

enum check_severity { CHECK_NOTE = 0, CHECK_WARNING = 1, CHECK_ERROR = 2 };

/* Creates a checker for r (which must have an index cache directory). */
int checker_new(struct repo *r, const struct checker_opts *o, struct checker **ret);
/* NULL does nothing. */
void checker_free(struct checker *ch);

/* Runs the phases. Returns 0 whether or not damage was found (see the
 * stats' errors), or an error that stopped the check (out of memory, the
 * storage can't be listed, the scratch database fails). */
int checker_run(struct checker *ch);

void checker_get_stats(const struct checker *ch, struct check_stats *ret);

/* The scratch database with the findings (owned by the checker). */
struct checkdb *checker_db(struct checker *ch);

/* ---- report ---- */

struct check_snapshot {
	uint8_t id[32];
	int readable;			/* 0: the snapshot object is damaged */
	struct snapshot sn;		/* empty when not readable */
	int state;			/* enum checkdb_state of its root tree */
	uint64_t files, bytes;		/* regular files found in it, their size */
	uint64_t files_damaged, dirs_lost;
	uint64_t bytes_intact;		/* bytes of its files that can be restored */
};

/* Snapshots in time order (oldest first), readable or not. */
size_t checker_snapshot_count(const struct checker *ch);
const struct check_snapshot *checker_snapshot(const struct checker *ch, size_t i);

/* A sentence saying where a lost blob was and why it is lost, e.g. "pack
 * 1a2b... is missing" or "not in any index file; pack 3c4d..., which no
 * index file lists, holds it: run 'cairn repair index'". */
int checker_blob_detail(struct checker *ch, unsigned type, const uint8_t id[32], int reason,
			char *out, size_t cap);

/* Calls fn with each pack read in full (their ids, in no order). */
int checker_foreach_pack_read(struct checker *ch, int (*fn)(void *arg, const uint8_t id[32]),
			      void *arg);

/* ---- for repair snapshots ---- */

/* The walk state (enum checkdb_state) of a tree or LIST blob. */
int checker_state(struct checker *ch, unsigned type, const uint8_t id[32]);

/* Loads and decodes a tree from a usable index entry. Returns 0, a
 * negative error, or CAIRN_ECORRUPT when the tree is lost. */
int checker_load_tree(struct checker *ch, const uint8_t id[32], struct tree *ret);

/* 1 when a file node's content has a lost chunk or LIST blob, 0 when not. */
int checker_file_damaged(struct checker *ch, const struct node *file);

/* Calls fn(arg, ref) for each content ref (data or hole) of a file, in
 * order, up to the first chunk that is lost (a lost data blob, or a LIST
 * blob that can't be loaded); *ret_intact is the number of bytes those refs
 * cover. Returns 0, an error, or fn's non-zero return. */
int checker_file_prefix(struct checker *ch, const struct node *file,
			int (*fn)(void *arg, const struct content_ref *ref), void *arg,
			uint64_t *ret_intact);

#endif
