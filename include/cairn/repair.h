/*
 * repair.h - rebuilding what can be rebuilt.
 */
#ifndef CAIRN_REPAIR_H
#define CAIRN_REPAIR_H

#include <stdint.h>

struct repo;

struct repair_index_result {
	uint64_t packs, blobs;		/* found in pack headers */
	uint64_t bad_packs;		/* packs whose header could not be read */
	uint64_t index_files_written, index_files_removed;
};

/* Reads every pack's header, writes new index files covering all readable
 * packs, then (only then) removes the old index files and rebuilds the
 * local cache. A pack whose header is damaged is reported and left out. */
int repair_index(struct repo *r, struct repair_index_result *ret);

/* ---- repair snapshots (repair_snapshots.c) ---- */

struct checker;

struct repair_snapshots_result {
	uint64_t damaged;		/* readable snapshots with lost blobs */
	uint64_t written;		/* repaired snapshots written */
	uint64_t removed;		/* damaged originals removed (forget) */
	uint64_t unreadable;		/* snapshot objects that can't be read */
	uint64_t unreadable_removed;	/* of those, removed (forget) */
	uint64_t files_truncated, dirs_emptied;	/* in the new snapshots */
};

/* Called for each snapshot written: the damaged original and its repair. */
typedef void (*repair_snapshot_fn)(void *arg, const uint8_t old_id[32],
				   const uint8_t new_id[32], uint64_t files_truncated,
				   uint64_t dirs_emptied);

/*
 * For each snapshot that the checker (already run) found damaged, writes
 * a new snapshot: a file with a lost chunk becomes a node flagged
 * NODE_F_DAMAGED whose content stops before the first lost chunk (empty
 * when the first chunk is lost), a folder whose tree is lost becomes an
 * empty folder; everything else keeps its blobs. The new snapshot keeps
 * the original's time, host, paths, parent and summary, gains the tag
 * "repaired", and its note lists what was truncated or emptied. New trees
 * and LIST blobs are stored and indexed before the snapshot is written.
 * With forget, the original snapshot object is removed after its repair
 * is written, and so are snapshot objects that can't be read at all
 * (nothing of them can be restored). fn may be NULL.
 */
int repair_snapshots(struct repo *r, struct checker *ch, int forget, repair_snapshot_fn fn,
		     void *arg, struct repair_snapshots_result *ret);

/* ---- repair packs (repair_packs.c) ---- */

struct repair_pack_report {
	uint8_t id[32];
	int found;			/* the pack is in storage */
	int header_ok;			/* its header decoded (else index entries used) */
	uint64_t blobs;			/* blobs it should hold */
	uint64_t salvaged;		/* read intact and stored again */
	uint64_t elsewhere;		/* damaged here, intact in another pack */
	uint64_t lost;			/* neither */
	int removed;			/* the pack object was removed */
};

typedef void (*repair_pack_fn)(void *arg, const struct repair_pack_report *p);

struct repair_packs_result {
	uint64_t packs, salvaged, elsewhere, lost;
	uint64_t packs_removed, packs_kept;
	uint64_t index_files_written, index_files_removed;
};

/*
 * Salvages damaged packs, named by ids or unique id prefixes: each pack is
 * read whole, its blob list taken from its header (or, when the header is
 * damaged, from the index files); every blob that still decrypts and
 * matches its id is stored again through the saver, in new packs with a
 * new index file. Then each index file that lists one of the packs is
 * replaced by one without them (new file first, old one removed after),
 * so the index no longer points into the damaged packs: salvaged blobs
 * are found in the new packs, lost ones are unindexed (a later backup that
 * sees their content stores it again). Last, a pack is removed from storage
 * when every one of its blobs was salvaged or is intact in another pack;
 * otherwise it is kept (for manual recovery) and reported. Returns 0,
 * CAIRN_ENOTFOUND / CAIRN_EAMBIGUOUS for an id (logged), or an error.
 */
int repair_packs(struct repo *r, const char *const *ids, size_t n, repair_pack_fn fn, void *arg,
		 struct repair_packs_result *ret);

#endif
