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

#endif
