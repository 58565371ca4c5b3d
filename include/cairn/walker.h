/*
 * walker.h - backing up file trees.
 *
 * Each path is stored at its absolute path below the snapshot's root tree
 * (restic's layout): /srv/app lands in the root tree as srv/app, and the
 * intermediate folders carry their own metadata. Folders are walked
 * depth-first through file descriptors (openat), entries in bytewise name
 * order. Regular files go to the archiver; a folder's tree blob is written
 * once all its files' contents are stored, so many small files are in
 * flight at once.
 *
 * Incremental: with a parent snapshot, a file whose type, size, mtime,
 * ctime and inode match the parent's node keeps the parent's content list
 * and is not read. Access times are not recorded (as borg, unlike restic):
 * reading a file or listing a folder changes its atime, and a recorded
 * atime would make every tree that holds it differ from the parent's. So
 * an unchanged folder yields the identical tree blob. Restore sets atime to
 * mtime.
 */
#ifndef CAIRN_WALKER_H
#define CAIRN_WALKER_H

#include <stddef.h>
#include <stdint.h>

struct repo;
struct archiver;

struct walker_stats {
	uint64_t files_new, files_changed, files_unmodified;
	uint64_t dirs_new, dirs_changed, dirs_unmodified;
	uint64_t bytes_read;		/* bytes read from files */
	uint64_t bytes_total;		/* size of all files, read or not */
	uint64_t errors;		/* sources that could not be read */
	uint64_t skipped;		/* sockets and other unsupported entries */
};

/* Progress callback: called now and then from the walking thread. */
typedef void (*walker_progress_fn)(void *arg, const struct walker_stats *st, const char *current);

struct walker_opts {
	const char *const *paths;	/* as given; made absolute */
	size_t n_paths;
	const char *const *excludes;	/* fnmatch(3) patterns (see cairn-backup(1)) */
	size_t n_excludes;
	int exclude_caches;		/* skip contents of folders with a CACHEDIR.TAG */
	int one_file_system;		/* don't cross mount points below each path */
	int has_parent;
	uint8_t parent_tree[32];	/* root tree of the parent snapshot */
	walker_progress_fn progress;
	void *progress_arg;
};

/* Walks the paths and stores everything; returns the root tree id. An
 * unreadable entry is reported, counted in stats->errors and left out; it
 * does not stop the walk. Returns 0 or a storage error. */
int walker_backup(struct repo *r, struct archiver *a, const struct walker_opts *o,
		  uint8_t ret_root[32], struct walker_stats *stats);

/* Makes a path absolute (against the working folder) and normal: no "//",
 * ".", "..", trailing "/"; symlinks are not resolved, so the path is the
 * one the walker stores. malloc'ed; NULL on ENOMEM. */
char *walker_normalize(const char *p);

/* 1 when path (absolute) or its base name matches one of the patterns. */
int walker_excluded(const char *const *patterns, size_t n, const char *path);

#endif
