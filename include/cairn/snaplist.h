/*
 * snaplist.h - loading, listing and selecting snapshots.
 *
 * Selection (DESIGN.md): a full or unique-prefix id, "latest", or --at
 * TIME (the newest snapshot at or before TIME), after host/path/tag
 * filters.
 */
#ifndef CAIRN_SNAPLIST_H
#define CAIRN_SNAPLIST_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/snapshot.h"

struct repo;

struct snap_entry {
	uint8_t id[32];
	struct snapshot sn;
};

struct snap_list {
	struct snap_entry *v;	/* sorted by time, oldest first */
	size_t n;
};

struct snap_filter {
	const char *host;	/* NULL: any */
	const char *const *tags; /* every tag must be present */
	size_t n_tags;
	const char *const *paths; /* snapshot's paths must equal these (any order) */
	size_t n_paths;
};

/* Loads every snapshot. A snapshot that fails to load is reported and
 * skipped (it does not stop listing). */
int snap_list_load(struct repo *r, const struct snap_filter *f, struct snap_list *ret);
void snap_list_free(struct snap_list *l);

/* Resolves a name: full/prefix id, "latest", or, when name is NULL and
 * at_ns is set, --at. Returns the index into l, or CAIRN_ENOTFOUND /
 * CAIRN_EAMBIGUOUS (logged with what to do). */
int snap_list_select(const struct snap_list *l, const char *name, int has_at, int64_t at_ns);

/* Loads and decodes one snapshot by id. */
int snap_load(struct repo *r, const uint8_t id[32], struct snapshot *ret);

#endif
