/*
 * snapshot.h - snapshot manifests.
 *
 * A snapshot names the root tree and records when, where and what was
 * backed up. Encoding (man/cairn-format.5): "CSN1", a varint field count
 * (so truncation is detected), then that many TLV fields
 * (varint tag, varint length, value) in increasing tag order; repeated
 * fields (paths, tags) repeat their tag in order. Unknown tags are skipped.
 * The encoding is deterministic, and a snapshot's id is the keyed BLAKE2b
 * of its encoding, so the same manifest always has the same id.
 */
#ifndef CAIRN_SNAPSHOT_H
#define CAIRN_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/buf.h"

#define SNAPSHOT_F_INCOMPLETE 0x1	/* some sources could not be read */

struct snapshot_summary {
	uint64_t files_new, files_changed, files_unmodified;
	uint64_t dirs_new, dirs_changed, dirs_unmodified;
	uint64_t bytes_read;		/* bytes of input read */
	uint64_t bytes_added;		/* bytes stored (packed, encrypted) */
	uint64_t data_blobs_added, tree_blobs_added;
	int64_t start_ns, end_ns;	/* wall clock of the backup run */
	uint64_t total_files;		/* files in the snapshot, read or not */
	uint64_t total_bytes;		/* their size: what a restore writes */
};

struct snapshot {
	int64_t time_ns;		/* Unix time in ns, UTC */
	int32_t tz_offset;		/* seconds east of UTC when it was taken */
	char *hostname;
	char *username;
	char **paths;
	size_t n_paths;
	char **tags;			/* sorted, unique */
	size_t n_tags;
	uint8_t tree[32];
	int has_parent;
	uint8_t parent[32];
	int has_original;
	uint8_t original[32];		/* id in the repository it was copied from */
	int has_dict;
	uint8_t dict[32];		/* DICT blob new data blobs were compressed
					   with; the next backup of the series uses it */
	uint32_t chunk_min, chunk_avg, chunk_max;
	uint32_t flags;			/* SNAPSHOT_F_* */
	char *program;			/* e.g. "cairn 0.1.0" */
	char *note;			/* free text (repair notes, dump format) */
	char *input_format;		/* e.g. "stream", "pgdump-plain", "rdb"; may be NULL */
	struct snapshot_summary summary;
};

void snapshot_init(struct snapshot *s);
/* Frees what s owns; s is re-initialised. */
void snapshot_clear(struct snapshot *s);

/* Appends a string to paths / tags (tags kept sorted and unique).
 * Returns 0 or CAIRN_ENOMEM. */
int snapshot_add_path(struct snapshot *s, const char *path);
int snapshot_add_tag(struct snapshot *s, const char *tag);
/* 1 when s carries tag. */
int snapshot_has_tag(const struct snapshot *s, const char *tag);

int snapshot_encode(const struct snapshot *s, struct buf *out);
/* Decodes into s (initialised, empty). CAIRN_ECORRUPT on malformed input. */
int snapshot_decode(const void *data, size_t len, struct snapshot *s);

#endif
