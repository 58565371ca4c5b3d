/*
 * stats.h - sizes of snapshots and of the repository.
 */
#ifndef CAIRN_STATS_H
#define CAIRN_STATS_H

#include <stdint.h>

struct repo;

/* Adds the files and bytes a restore of the tree would write. */
int stats_restore_size(struct repo *r, const uint8_t tree[32], uint64_t *files, uint64_t *bytes);

#endif
