/*
 * saver.h - the blob store's write side: dedup, compress, seal, pack, upload.
 *
 * saver_save() is called concurrently by worker threads, each with its own
 * struct saver_ctx (zstd context, scratch buffers). A blob already in the
 * index cache, or already saved in this run, is not stored again. New
 * blobs go into one of two pack writers (data; tree+list metadata); a full
 * pack is handed to the upload threads through a bounded queue, so memory
 * stays at a few packs: one filling, one queued, one per upload thread.
 * There is one upload thread, or as many as the backend wants requests in
 * flight (backend_parallel(): S3's -o s3.connections).
 *
 * Write order (DESIGN.md inv. 4): a pack is stored, then an index file
 * naming it, and only then its blobs count as indexed. Index files are
 * written every `index_every_blobs` blobs or `index_every_seconds`, so an
 * interrupted run leaves indexed packs that the next run reuses.
 * Blobs saved in this run but not yet indexed are remembered in a hash set
 * that is emptied as index files are written, so its size is bounded by
 * the index interval, not by the size of the backup.
 */
#ifndef CAIRN_SAVER_H
#define CAIRN_SAVER_H

#include <stddef.h>
#include <stdint.h>

struct repo;
struct saver;
struct saver_ctx;

struct saver_opts {
	uint64_t pack_size;		/* 0: the repository's */
	int compression;		/* -1: the repository's */
	size_t queue_packs;		/* full packs waiting for a busy uploader;
					   0: none with two uploaders, else 1 */
	size_t index_every_blobs;	/* 0: 100000 */
	unsigned index_every_seconds;	/* 0: 300 */
	int no_index_dedup;		/* store blobs even when the index has them
					   (prune's repacking) */
};

struct saver_stats {
	uint64_t blobs_added[5];	/* by blob type */
	uint64_t raw_bytes_added;	/* plaintext bytes of new blobs */
	uint64_t bytes_added;		/* stored bytes of new packs */
	uint64_t packs_added;
	uint64_t index_files_added;
};

int saver_new(struct repo *r, const struct saver_opts *o, struct saver **ret);
/* Stops the upload thread. Packs not flushed are dropped (their blobs were
 * never indexed, so nothing refers to them). */
void saver_free(struct saver *s);

/* Per-thread context. NULL on ENOMEM. */
struct saver_ctx *saver_ctx_new(struct saver *s);
void saver_ctx_free(struct saver_ctx *c);

/* Saves a blob whose id the caller computed (repo_blob_id). *ret_added is
 * 1 when it was new. Returns 0, or the first error of the run (an upload
 * failure is reported by every later call). Thread-safe. */
int saver_save(struct saver *s, struct saver_ctx *c, unsigned type, const void *data, size_t len,
	       const uint8_t id[32], int *ret_added);

/* Batched dedup for many blobs of one type: saver_lookup looks ids up in
 * the index cache in one read transaction (ret_indexed[i] = 1 when blob i
 * is stored already) and returns in *ret_gen the index generation it saw;
 * saver_save_looked_up then saves one of them as saver_save does, given
 * that look-up (it looks again only if an index file was written since).
 * Same returns as saver_save. */
int saver_lookup(struct saver *s, struct saver_ctx *c, unsigned type, const uint8_t (*ids)[32],
		 size_t n, uint8_t *ret_indexed, uint64_t *ret_gen);
int saver_save_looked_up(struct saver *s, struct saver_ctx *c, unsigned type, const void *data,
			 size_t len, const uint8_t id[32], int indexed, uint64_t gen);

/* Computes the id and saves; convenience for metadata blobs. */
int saver_save_blob(struct saver *s, struct saver_ctx *c, unsigned type, const void *data,
		    size_t len, uint8_t ret_id[32]);

/* Compression dictionaries (compress.h). saver_use_dict: new data blobs
 * are compressed with the DICT blob id from now on (call it before the
 * first save; the dictionary's level is the saver's). saver_sample_start:
 * keep a bounded sample (at most 8 MiB) of the new data blobs that
 * compress. saver_train_dict: train a dictionary from that sample and save
 * it as a DICT blob through c; CAIRN_EINVAL when the sample holds less
 * than min_bytes (nothing is saved); the sample is used up.
 * saver_train_early: train one from the sample so far, which is kept and
 * goes on growing, save it, and compress the data blobs saved from now on
 * with it (while other threads save). Each returns 0 or a CAIRN_E* code. */
int saver_use_dict(struct saver *s, const uint8_t id[32]);
int saver_sample_start(struct saver *s);
int saver_train_dict(struct saver *s, struct saver_ctx *c, size_t min_bytes, uint8_t ret_id[32]);
int saver_train_early(struct saver *s, struct saver_ctx *c, size_t min_bytes);

/* Hands the data pack being filled to the upload threads without waiting
 * (the next data blob starts a new one), so that its upload overlaps what
 * the caller does before saver_flush. Returns 0 or CAIRN_ENOMEM. */
int saver_send_data(struct saver *s);

/* Stores the packs being filled, waits for every upload and writes the
 * index file for them. After 0, everything saved so far is durable and
 * indexed. */
int saver_flush(struct saver *s);

/* saver_flush in two steps, for a caller with work to do in between (a
 * backup stores its snapshot): after saver_flush_index returns 0 the index
 * file is stored, and everything saved so far is durable and indexed in
 * the repository; saver_flush_commit then waits for the local cache to
 * record it. An error from saver_flush_commit leaves the repository as it
 * is and the cache without those blobs (the next command reads the index
 * file into it). */
int saver_flush_index(struct saver *s);
int saver_flush_commit(struct saver *s);

void saver_get_stats(struct saver *s, struct saver_stats *ret);

#endif
