/*
 * idlist.h - a file's chunk list stored as a deduplicated stream of LIST
 * blobs (DESIGN.md, "Small chunks must stay cheap").
 *
 * The writer receives the content refs of a file in order and cuts them
 * into LIST blobs where a ref's id satisfies a hash condition (bup-style
 * hash splitting; ids are keyed hashes, so the cuts are content-defined and
 * an insertion in the file changes only nearby LIST blobs). LIST blobs of
 * level 0 hold data refs; their refs go to level 1, and so on, until a level
 * has few enough refs to sit inline in the node. The result is determined by
 * the refs alone, whatever the order of calls.
 *
 * LIST blob encoding: "CLS1", varint count, then count x (id[32], varint
 * size). A ref's size is the number of file bytes it covers.
 */
#ifndef CAIRN_IDLIST_H
#define CAIRN_IDLIST_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/buf.h"
#include "cairn/tree.h"

#define IDLIST_INLINE_MAX 32	/* at most this many refs inline in a node */
#define IDLIST_BLOB_MIN 16	/* no cut before this many refs */
#define IDLIST_BLOB_MAX 1024	/* always cut here */

/* Saves a LIST blob; fills ret_id. Returns 0 or a CAIRN_E* code. */
typedef int (*idlist_save_fn)(void *arg, const void *data, size_t len, uint8_t ret_id[32]);
/* Loads a LIST blob's plaintext into out (out is reset first). */
typedef int (*idlist_load_fn)(void *arg, const uint8_t id[32], struct buf *out);

struct idlist_writer;

struct idlist_writer *idlist_writer_new(idlist_save_fn save, void *arg);
void idlist_writer_free(struct idlist_writer *w);

/* Adds the next ref. Returns 0 or the error of save / CAIRN_ENOMEM. */
int idlist_writer_add(struct idlist_writer *w, const uint8_t id[32], uint64_t size);

/* Flushes and returns the top level: *ret_depth and a malloc'ed array of
 * *ret_n refs (caller frees; NULL when 0). The writer can't be used after;
 * free it with idlist_writer_free (finish does not). */
int idlist_writer_finish(struct idlist_writer *w, uint32_t *ret_depth,
			 struct content_ref **ret_refs, size_t *ret_n);

/* Encodes / decodes one LIST blob. decode returns CAIRN_ECORRUPT on
 * malformed input; on success *ret_refs is malloc'ed (caller frees). */
int idlist_encode(const struct content_ref *refs, size_t n, struct buf *out);
int idlist_decode(const void *data, size_t len, struct content_ref **ret_refs, size_t *ret_n);

/* Walks the data refs of a node depth first, holding one LIST blob per level. */
struct idlist_reader;

/* refs/n/depth as in struct node; refs are copied. Returns 0 or
 * CAIRN_EINVAL (depth > 16) / CAIRN_ENOMEM. */
int idlist_reader_new(const struct content_ref *refs, size_t n, uint32_t depth,
		      idlist_load_fn load, void *arg, struct idlist_reader **ret);
void idlist_reader_free(struct idlist_reader *r);

/* Yields the next data ref (or hole ref) in file order: returns 1 with *ret
 * filled, 0 at the end, or a negative CAIRN_E* code (a LIST blob failed to
 * load or decode, or sizes in a LIST blob do not add up to its parent ref's
 * size: CAIRN_ECORRUPT). */
int idlist_reader_next(struct idlist_reader *r, struct content_ref *ret);

/* Positions the reader so that the next idlist_reader_next() returns the
 * data ref covering file offset `offset`, loading only the LIST blobs on the
 * path to it. *ret_start is the file offset where that ref begins. Returns
 * 0, 1 when offset is at or past the end (next() then returns 0), or an
 * error as above. */
int idlist_reader_seek(struct idlist_reader *r, uint64_t offset, uint64_t *ret_start);

#endif
