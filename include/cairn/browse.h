/*
 * browse.h - walking the trees of snapshots: listing, finding, diffing.
 *
 * Snapshots store each backed-up path at its full absolute path below the
 * root tree (walker.h), so the paths handed out here are absolute
 * ("/etc/hosts"); the root tree itself has no node and no path.
 *
 * Memory is bounded by the depth of the tree, not its size: a walk holds
 * one tree per folder level (two for a diff), loading subtrees only when
 * it descends into them. Folders nest at most BROWSE_MAX_DEPTH deep; a
 * deeper tree is refused with CAIRN_ECORRUPT.
 */
#ifndef CAIRN_BROWSE_H
#define CAIRN_BROWSE_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/tree.h"

struct repo;

#define BROWSE_MAX_DEPTH 4096

/* A visitor's return value that stops descent into the folder just visited
 * (its leave callback is not called either); 0 continues; a negative
 * CAIRN_E* code stops the walk and is returned by it. */
#define BROWSE_PRUNE 1

/* Called for each node, depth first, a folder before its entries, entries
 * in name order. path is the node's full path (valid during the call). */
typedef int (*browse_visit_fn)(void *arg, const char *path, const struct node *n);

struct browse_walk_opts {
	/* Where to start: NULL, "" or "/" for the whole tree; otherwise the
	 * path of a node ("etc/app", leading '/' optional), which is visited
	 * first, then (for a folder) everything below it. */
	const char *start;
	browse_visit_fn visit;		/* required */
	/* Optional: called after a folder's entries have all been visited
	 * (not for a pruned folder, nor for the root tree). */
	browse_visit_fn leave;
	void *arg;
};

struct browse_walk_stats {
	uint64_t nodes;			/* nodes visited */
	uint64_t trees_loaded;		/* tree blobs loaded (including the path to start) */
};

/*
 * Walks the tree below root (a root tree id), calling o->visit for every
 * node. Returns 0; CAIRN_ENOTFOUND when o->start is not in the tree
 * (logged naming the path); CAIRN_ECORRUPT / CAIRN_EIO / CAIRN_ENOTFOUND
 * when a tree blob can't be loaded (logged by the loader naming it);
 * CAIRN_ENOMEM; or a visitor's negative return value (not logged here).
 * stats may be NULL.
 */
int browse_walk(struct repo *r, const uint8_t root[32], const struct browse_walk_opts *o,
		struct browse_walk_stats *stats);

/*
 * Counts a file node's data chunks (holes excluded). Content held inline
 * (content_depth 0) is counted without I/O; deeper chunk lists are read
 * through their LIST blobs. Returns 0, CAIRN_EINVAL (not a file), or an
 * error loading a LIST blob (logged by the loader).
 */
int browse_count_chunks(struct repo *r, const struct node *file, uint64_t *ret);

/* ---- find ---- */

struct browse_find_opts {
	const char *const *patterns;	/* fnmatch(3); NULL/0 patterns: everything matches */
	size_t n_patterns;
	int ignore_case;		/* FNM_CASEFOLD */
	int has_newer;
	int64_t newer_ns;		/* match only mtime > newer_ns */
	int has_older;
	int64_t older_ns;		/* match only mtime < older_ns */
	/* Called for each match, in walk order; path valid during the call.
	 * A negative return stops the search. */
	browse_visit_fn match;
	void *arg;
	/* Bound of the subtree cache in bytes (0: 16 MiB; 1 turns the
	 * cache off). */
	size_t cache_bytes;
};

struct browse_finder;

struct browse_find_stats {
	uint64_t nodes;			/* nodes tested */
	uint64_t trees_loaded;
	uint64_t cache_hits;		/* subtrees answered from the cache */
	uint64_t matches;
};

/*
 * A finder searches one snapshot tree after another with the same options.
 * It remembers, for each (subtree id, path) it walked, the matches found
 * below it (while their number is small, within o->cache_bytes in all), so
 * a folder that is unchanged between snapshots is not loaded again: its
 * matches are replayed from memory, with exactly the paths and nodes a
 * walk would give. Options are copied except the pattern strings, which
 * must outlive the finder. Returns NULL when out of memory.
 */
struct browse_finder *browse_finder_new(const struct browse_find_opts *o);
/* Frees the finder and its cache; NULL does nothing. */
void browse_finder_free(struct browse_finder *f);

/*
 * Searches the tree below root, calling the match callback for each
 * matching node. Returns 0, a tree loading error (logged by the loader),
 * CAIRN_ENOMEM, or the callback's negative value. Stats are added to
 * *stats when it is not NULL.
 */
int browse_finder_run(struct browse_finder *f, struct repo *r, const uint8_t root[32],
		      struct browse_find_stats *stats);

/*
 * 1 when path (absolute) matches one of the patterns: a pattern with a
 * '/' is matched against the full path, any other against the base name
 * (the rule of walker_excluded). No FNM_PATHNAME: '*' matches '/' too.
 */
int browse_match(const char *const *patterns, size_t n, int ignore_case, const char *path);

/* ---- diff ---- */

enum browse_change {
	BROWSE_ADDED = '+',
	BROWSE_REMOVED = '-',
	BROWSE_MODIFIED = 'M',		/* file content differs (content refs or size) */
	BROWSE_METADATA = 'U',		/* same type and content, other metadata differs */
	BROWSE_TYPE = 'T',		/* the path is a different type of entry */
};

/* Called for each change, depth first in name order, a folder's own change
 * before those of its entries. old is NULL for ADDED, new_ NULL for
 * REMOVED. A negative return stops the diff. */
typedef int (*browse_diff_fn)(void *arg, enum browse_change c, const char *path,
			      const struct node *old, const struct node *new_);

struct browse_diff_opts {
	browse_diff_fn change;		/* required */
	void *arg;
	/* Report BROWSE_METADATA changes through the callback too (they are
	 * counted in the stats either way). */
	int metadata;
};

/*
 * Totals. A type change counts as the removal of the old entry and the
 * addition of the new one (and in type_changed); the entries below a
 * folder that appears, disappears or replaces another entry are added or
 * removed one by one. bytes_added is the size of added files plus the new
 * size of files whose content changed; bytes_removed the size of removed
 * files plus the old size of changed files. "others" are symlinks,
 * devices and FIFOs.
 */
struct browse_diff_stats {
	uint64_t files_added, files_removed, files_changed, files_metadata;
	uint64_t dirs_added, dirs_removed, dirs_metadata;
	uint64_t others_added, others_removed, others_metadata;
	uint64_t type_changed;
	uint64_t bytes_added, bytes_removed;
	uint64_t trees_loaded;		/* tree blobs read */
	uint64_t trees_skipped;		/* folders skipped because their subtree ids are equal */
};

/*
 * Compares the tree below root_new against the one below root_old. The
 * two trees are merged by name; a folder whose subtree id is the same on
 * both sides is skipped without being loaded, so the cost follows the
 * size of the change, not of the trees. Metadata compared for
 * BROWSE_METADATA: mode, uid, gid, user and group names, mtime, xattrs,
 * symlink target and device number (not atime, ctime, inode, link count:
 * they change without the entry changing). Returns 0, a tree loading
 * error (logged by the loader), CAIRN_ENOMEM, CAIRN_ECORRUPT (too deep),
 * or the callback's negative value. stats may be NULL.
 */
int browse_diff(struct repo *r, const uint8_t root_old[32], const uint8_t root_new[32],
		const struct browse_diff_opts *o, struct browse_diff_stats *stats);

/* 1 when two file nodes have the same content (size, depth and refs). */
int browse_content_equal(const struct node *a, const struct node *b);
/* 1 when two nodes of the same type have the same metadata (as listed
 * for browse_diff). */
int browse_metadata_equal(const struct node *a, const struct node *b);

#endif
