/*
 * pruner.h - freeing storage no snapshot needs (`cairn prune`).
 *
 * 1. Mark every blob the snapshots reference (a table in the index cache:
 *    disk, not memory). A referenced blob that is not indexed stops prune.
 * 2. Per pack: used bytes (one keeper copy per blob), unused bytes
 *    (unreferenced blobs and extra copies).
 * 3. Packs with nothing used are deleted; packs whose unused share is above
 *    max_unused are repacked: their used blobs are stored again in new packs.
 *    Packs in data/ that no index file names (left by interrupted backups)
 *    are deleted.
 * 4. Order (DESIGN.md inv. 8): new packs, then new index files, then the
 *    old index files they replace are removed, and packs are deleted last.
 *    Only the index files that name a dropped pack are replaced (by files
 *    with their other packs); the others already are part of the complete
 *    new index. When an index file cannot be read, the whole index is
 *    written again from the cache and every old index file is replaced.
 *    A crash at any point leaves a repository that check passes.
 * The caller holds an exclusive lock.
 */
#ifndef CAIRN_PRUNER_H
#define CAIRN_PRUNER_H

#include <stdint.h>

struct repo;

#define PRUNE_DEFAULT_MAX_UNUSED 0.10

struct prune_opts {
	double max_unused;	/* repack above this unused share (0..1) */
	int dry_run;
};

struct prune_stats {
	uint64_t snapshots;
	uint64_t blobs_used, blobs_missing;
	uint64_t packs, packs_deleted, packs_repacked, packs_orphaned, packs_written;
	uint64_t bytes_before, bytes_freed, bytes_repacked;
	uint64_t index_files_written, index_files_removed;
};

int prune_run(struct repo *r, const struct prune_opts *o, struct prune_stats *st);

/* Marks every blob reachable from a tree in the index cache's `used`
 * table (after index_used_reset); used by prune and stats. */
int prune_mark_tree(struct repo *r, const uint8_t tree[32]);

#endif
