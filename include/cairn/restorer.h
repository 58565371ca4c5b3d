/*
 * restorer.h - reading files back out of snapshots.
 */
#ifndef CAIRN_RESTORER_H
#define CAIRN_RESTORER_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/tree.h"

struct repo;

/* Loads a tree blob. */
int restorer_load_tree(struct repo *r, const uint8_t id[32], struct tree *ret);

/* Finds the node at path ("a/b/c", leading '/' optional) below the root
 * tree. The node is copied into ret (node_clear it). CAIRN_ENOTFOUND is
 * logged naming the path. */
int restorer_find(struct repo *r, const uint8_t root[32], const char *path, struct node *ret);

/* Writes a file node's content to fd, loading blobs with `threads`
 * workers (0: number of CPUs) ahead of the writer. Every blob is checked
 * against its id; a damaged blob stops the dump with CAIRN_ECORRUPT, and
 * no wrong byte is written. */
int restorer_dump(struct repo *r, const struct node *file, int fd, unsigned threads);

/* Output callback of restorer_dump_to: returns 0 or an error. */
typedef int (*restorer_write_fn)(void *arg, const void *data, size_t len);

/* Like restorer_dump, handing the bytes to fn in order. */
int restorer_dump_to(struct repo *r, const struct node *file, restorer_write_fn fn, void *arg,
		     unsigned threads);

/* --include/--exclude rules, shared by restore and archive export: 1 when
 * the snapshot path, or its base name for a pattern without '/', matches
 * one of the fnmatch(3) patterns, or lies below a pattern naming a folder
 * ("/srv/app" includes "/srv/app/x"). */
int restorer_path_match(const char *const *pats, size_t n, const char *path);
/* 1 when some pattern could match something below the folder spath. */
int restorer_may_match_below(const char *const *pats, size_t n, const char *spath);

enum restore_overwrite {
	RESTORE_OVERWRITE_UNSET = 0,	/* refuse a non-empty target */
	RESTORE_OVERWRITE_ALWAYS,
	RESTORE_OVERWRITE_IF_CHANGED,	/* replace unless size and mtime match */
	RESTORE_OVERWRITE_NEVER,	/* keep what is there */
};

struct restore_opts {
	const char *target;		/* folder; created if missing */
	const char *const *includes;	/* restore only matching paths (and what is below) */
	size_t n_includes;
	const char *const *excludes;	/* leave out matching paths */
	size_t n_excludes;
	enum restore_overwrite overwrite;
	int verify;			/* read back every file and check its blob ids */
	unsigned threads;		/* 0: number of CPUs */
};

struct restore_stats {
	uint64_t files, dirs, links, others, bytes;
	uint64_t skipped;		/* existing entries kept */
	uint64_t errors;		/* entries that could not be restored */
	uint64_t verified;		/* files read back and checked */
};

/*
 * Restores the tree below root into o->target: each path lands at its
 * full snapshot path below the target. Contents are written by worker
 * threads; metadata (owner when root, mode, xattrs, times) is applied
 * after a file's content and after a folder's children. Hard links are
 * restored as links. An entry that cannot be restored is reported and
 * counted; damaged data (CAIRN_ECORRUPT) stops the restore.
 */
int restorer_restore(struct repo *r, const uint8_t root[32], const struct restore_opts *o,
		     struct restore_stats *ret);

#endif
