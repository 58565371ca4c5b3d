/*
 * archiver.h - storing file contents and trees.
 *
 * Data path (DESIGN.md): read -> chunk (FastCDC) -> id -> seen? ->
 * compress -> seal -> pack -> upload -> index -> tree -> snapshot.
 * The calling thread reads files into batches of about 4 MiB and cuts
 * them into chunks (a batch may hold chunks of many small files); worker
 * threads hash and save each batch's chunks; the calling thread takes
 * batches back in order and appends each file's refs to its chunk list
 * (idlist.h). When a file's last chunk has been collected, the `done`
 * callback reports its content. So many small files are in flight at
 * once, and memory is bounded by the batches in flight plus the saver's
 * packs.
 */
#ifndef CAIRN_ARCHIVER_H
#define CAIRN_ARCHIVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cairn/snapshot.h"
#include "cairn/tree.h"

struct repo;

struct archiver;

/* A file's content is stored: err is 0, or the error that stopped reading
 * it (the file is then not usable). refs (malloc'ed) pass to the callee. */
typedef void (*archiver_done_fn)(void *arg, uint64_t cookie, int err, uint32_t depth,
				 struct content_ref *refs, size_t n, uint64_t size);

struct archiver_opts {
	unsigned threads;		/* workers; 0: number of CPUs */
	archiver_done_fn done;		/* file completion (add_file); may be NULL */
	void *done_arg;
};

int archiver_new(struct repo *r, const struct archiver_opts *o, struct archiver **ret);
void archiver_free(struct archiver *a);

/* Replaces the done callback (before any file is queued). */
void archiver_set_done(struct archiver *a, archiver_done_fn done, void *arg);

/* Cuts what is read from now on with half the repository's chunk sizes
 * (defaults: 1/4/32 KiB), for database dumps: PostgreSQL moves updated
 * rows, so an hourly dump's changes are scattered and smaller chunks
 * share more (measured on 24 hourly pg_dumps: 11 % fewer bytes added per
 * hour, 12 % more for the first dump; bench/RESULTS.md). Call before any
 * chunk is cut: from the observer (it sees the first bytes before a cut)
 * or before queueing data. The snapshot records the sizes used. Does
 * nothing when half the sizes would be below the chunker's limits.
 * 0, or CAIRN_ENOMEM. */
int archiver_use_dump_chunker(struct archiver *a);

/* The compression dictionary of the backup series (compress.h): dict is
 * the parent snapshot's (NULL: none). When it loads, new data blobs are
 * compressed with it; otherwise (reported as a warning when dict was
 * given) a sample of the new data trains one at archiver_commit. Either
 * way the snapshot records it (snapshot.dict) for the next backup. Call
 * before queueing data. 0, or CAIRN_ENOMEM. */
int archiver_set_dict(struct archiver *a, const uint8_t *dict);

/* Sees the bytes of every file as they are read, in order, from the
 * reading (calling) thread, before they are chunked (holes of sparse files
 * are not passed). For checks while streaming (dumpcheck.h). */
typedef void (*archiver_observe_fn)(void *arg, const void *data, size_t len);

/* Sets (fn non-NULL) or clears (fn NULL) the observer. */
void archiver_set_observer(struct archiver *a, archiver_observe_fn fn, void *arg);

/* Queues a file's content: reads fd to its end (holes of a sparse file
 * become hole refs when sparse is set). `done` fires later, from a call to
 * add_file, poll or drain, with the cookie. A read error is reported to
 * `done` (and logged naming `what`), not returned. Returns 0, or a storage
 * error that ends the backup. */
int archiver_add_file(struct archiver *a, int fd, const char *what, uint64_t cookie, int sparse);

/* Source of archiver_add_stream: fills up to n bytes of buf; returns the
 * count (0 at the end), or a negative CAIRN_E* code it has logged. */
typedef ssize_t (*archiver_read_fn)(void *arg, void *buf, size_t n);

/* Like archiver_add_file, reading the content through rd until it returns
 * 0 (same batching, same `done` callback). An error returned by rd is
 * reported to `done` as the file's error, not returned. Returns 0, or a
 * storage error that ends the backup. */
int archiver_add_stream(struct archiver *a, archiver_read_fn rd, void *arg, uint64_t cookie);

/* Collects finished batches without waiting. */
int archiver_poll(struct archiver *a);

/* Submits the partial batch and waits until every queued file is done. */
int archiver_drain(struct archiver *a);

/* Reads fd to its end and stores it, waiting for the result: fills the
 * node's size, content_depth, content, n_content. Must not be mixed with
 * files queued by add_file that are still in flight. */
int archiver_store_fd(struct archiver *a, int fd, const char *what, struct node *node);

/* Saves a tree blob; returns its id. */
int archiver_store_tree(struct archiver *a, const struct tree *t, uint8_t ret_id[32]);

/* Flushes every pack and index file, then writes the snapshot (filling
 * chunker parameters and summary byte counts); returns its id. The local
 * cache may still be recording the new blobs: archiver_finish waits for
 * that, and may come after the repository's lock is released (the
 * snapshot is stored). Without it, archiver_free drops what the cache was
 * recording, and the next command reads it from the repository. */
int archiver_commit(struct archiver *a, struct snapshot *sn, uint8_t ret_id[32]);
/* After archiver_commit: waits for the cache; a failure there is only
 * logged as a warning (the repository is complete). */
void archiver_finish(struct archiver *a);

/* Bytes stored so far (packs written), blobs added. */
uint64_t archiver_bytes_added(struct archiver *a);

#endif
