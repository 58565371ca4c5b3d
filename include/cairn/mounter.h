/*
 * mounter.h - browsing snapshots as a read-only file system (FUSE 3).
 *
 * Layout: snapshots/<local time>/..., snapshots/latest (a symlink),
 * ids/<short id>/..., hosts/<host>/<time>/..., tags/<tag>/<time>/..., and
 * .cairn-stats (JSON counters: blobs fetched, cache hits). A snapshot whose
 * time second is taken gets a suffix "-1", "-2" in time order. The
 * snapshot list is re-read at most every `refresh_seconds`.
 *
 * Reads fetch only the chunks covering the requested range (the chunk
 * list is walked with idlist_reader_seek); opened blobs are kept in an LRU
 * cache of `cache_bytes`. Sequential reads trigger read-ahead: the next
 * chunks (a window growing to 16 MiB, at most cache_bytes / 4; claims in
 * flight at most cache_bytes / 2) are located in batches and loaded,
 * decrypted and re-hashed on one worker thread per CPU; a chunk streamed
 * through this way leaves the cache once read (drop-behind), so a long
 * sequential read does not push out what random reads cached. The FUSE
 * loop is multi-threaded.
 */
#ifndef CAIRN_MOUNTER_H
#define CAIRN_MOUNTER_H

#include <stddef.h>
#include <stdint.h>

struct repo;

struct mount_opts {
	const char *mountpoint;
	uint64_t cache_bytes;		/* 0: 128 MiB */
	unsigned refresh_seconds;	/* 0: 60 */
	int allow_other;
	int debug;
};

/* 1 when cairn was built with FUSE support. */
int mounter_available(void);

/* Mounts and serves until unmounted (fusermount3 -u, SIGINT, SIGTERM).
 * Returns 0 after a clean unmount, or an error (logged). */
int mounter_run(struct repo *r, const struct mount_opts *o);

#endif
