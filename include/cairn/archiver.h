/*
 * archiver.h - turning inputs into snapshots.
 *
 * Data path (DESIGN.md): read -> chunk (FastCDC) -> id -> seen? ->
 * compress -> seal -> pack -> upload -> index -> tree -> snapshot.
 * The reading thread cuts the input into batches of whole chunks (about
 * 4 MiB each); worker threads hash and save each batch's chunks; a
 * collector thread takes the batches back in order and appends their refs
 * to the file's chunk list (idlist.h). Memory is bounded by the batches in
 * flight and the saver's packs.
 */
#ifndef CAIRN_ARCHIVER_H
#define CAIRN_ARCHIVER_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/snapshot.h"
#include "cairn/tree.h"

struct repo;
struct saver;
struct saver_ctx;

struct archiver;

struct archiver_opts {
	unsigned threads;	/* workers; 0: number of CPUs */
};

int archiver_new(struct repo *r, const struct archiver_opts *o, struct archiver **ret);
void archiver_free(struct archiver *a);

/* Reads fd to its end and stores its content. Fills the node's size,
 * content_depth, content, n_content. *ret_read is the byte count.
 * Returns 0 or the first error (reading: CAIRN_EIO, logged naming `what`). */
int archiver_store_fd(struct archiver *a, int fd, const char *what, struct node *node);

/* Saves a tree blob; returns its id. */
int archiver_store_tree(struct archiver *a, const struct tree *t, uint8_t ret_id[32]);

/* Flushes every pack and index file, then writes the snapshot (filling
 * chunker parameters and summary byte counts); returns its id. */
int archiver_commit(struct archiver *a, struct snapshot *sn, uint8_t ret_id[32]);

/* Bytes stored so far (packs written), blobs added. */
uint64_t archiver_bytes_added(struct archiver *a);
uint64_t archiver_data_blobs_added(struct archiver *a);
uint64_t archiver_tree_blobs_added(struct archiver *a);

#endif
