/*
 * lock.h - repository locks.
 *
 * A lock is an object locks/<random id>, sealed like other files
 * (additional data "cairn-lock"), holding: exclusive flag, hostname, pid,
 * username, creation time and refresh time. Shared locks (backup, forget,
 * check, dump, restore) coexist; an exclusive lock (prune, repair) excludes
 * every other lock.
 *
 * Taking a lock: write ours, then list the others; on a conflict remove
 * ours and fail with CAIRN_ELOCKED naming the holder. (Two processes that
 * race both see each other and both back off; one retry after a short
 * random wait usually settles it.)
 *
 * Held locks are refreshed every LOCK_REFRESH_SECONDS by a thread. A lock
 * is stale when it was not refreshed for LOCK_STALE_SECONDS, or at once
 * when it was made on this host by a process that no longer exists. Stale
 * locks are ignored, and removed by `cairn unlock`.
 */
#ifndef CAIRN_LOCK_H
#define CAIRN_LOCK_H

#include <stdint.h>

#define LOCK_REFRESH_SECONDS 300
#define LOCK_STALE_SECONDS 1800

struct repo;
struct repo_lock;

struct lock_info {
	uint8_t id[32];
	int exclusive;
	char hostname[256];
	char username[256];
	int64_t pid;
	int64_t created, refreshed;	/* Unix seconds */
	int stale;
};

/* Takes a lock. Returns 0, CAIRN_ELOCKED (logged with the holder and what to
 * do), or a storage error. Free with lock_release. */
int lock_acquire(struct repo *r, int exclusive, struct repo_lock **ret);

/* Stops refreshing and removes the lock; NULL does nothing. */
void lock_release(struct repo_lock *l);

/* Calls fn for every lock in the repository (malformed ones are reported). */
int lock_list(struct repo *r, int (*fn)(void *arg, const struct lock_info *li), void *arg);

/* Removes stale locks, or all locks with all set. *ret_removed counts them. */
int lock_remove(struct repo *r, int all, uint64_t *ret_removed);

#endif
