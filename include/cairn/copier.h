/*
 * copier.h - copying snapshots between repositories.
 *
 * Every blob a copied snapshot needs is read from the source (decrypted
 * and checked), and stored in the destination under its keys. When the
 * destination was made with `init --copy-chunker-params`, both share the
 * blob id key and the chunker secret: ids are equal, trees are copied as
 * they are, blobs the destination already has are not read, and chunks of
 * later backups into either repository deduplicate against each other.
 * Otherwise every blob gets the destination's id and trees and chunk lists
 * are rewritten; an id map in the destination's cache (old id -> new id)
 * spares re-reading blobs on later runs.
 */
#ifndef CAIRN_COPIER_H
#define CAIRN_COPIER_H

#include <stdint.h>

#include "cairn/snapshot.h"

struct repo;

struct copy_stats {
	uint64_t snapshots, blobs_read, bytes_read;
	uint64_t bytes_added;
	int same_ids;
};

/* Copies one snapshot (src_id, sn) from src into dst: its blobs, then the
 * snapshot with `original` set. *ret_id is the new snapshot's id. */
int copier_copy(struct repo *src, struct repo *dst, const uint8_t src_id[32],
		const struct snapshot *sn, uint8_t ret_id[32], struct copy_stats *st);

#endif
