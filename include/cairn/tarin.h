/*
 * tarin.h - importing tar, zip and other archives (through libarchive).
 *
 * An archive's entries land at their paths below the snapshot's root tree,
 * as `tar -x -C DIR` would extract them into DIR: "./srv/app/x", "srv/app/x"
 * and "/srv/app/x" all become srv/app/x. Empty and "." components are
 * dropped; an entry with a ".." component, or a name cairn cannot store,
 * is left out with a warning. An entry naming the root itself ("./") has
 * nowhere to keep its metadata and is ignored.
 *
 * Entries can come in any order: the importer builds the whole path tree in
 * memory (metadata and content lists, never content), then stores the
 * folders' trees bottom-up once every file's content is stored. Contents
 * stream through the archiver (archiver_add_stream) while the archive is
 * read, so they are pipelined and deduplicated like files of a backup.
 *
 * Metadata is taken as the archive has it: type, permission bits, uid/gid,
 * user and group names, mtime/atime/ctime with nanoseconds when present
 * (ctime is the mtime when the archive has none), symlink targets, device
 * numbers, FIFOs, extended attributes. Sockets are skipped with a note.
 * Every node gets a synthetic inode number, unique within the import (dev
 * is 0); a hard link gets its target's number, metadata and content, and
 * the nlink of each such file is the number of its paths in the snapshot,
 * so a restore links them again. Holes of sparse entries are read as zeros
 * (stored deduplicated, but read: time follows the apparent size).
 * Folders the archive does not list get mode 0755, the importing user's
 * uid/gid and tarin_opts.dir_time_ns as their times.
 *
 * A path that appears twice: the later entry wins (as when tar extracts),
 * with a warning; a folder listed twice keeps its children and takes the
 * later metadata. A truncated or malformed archive fails the whole import
 * with CAIRN_ECORRUPT (logged, naming the archive and the entry).
 *
 * Readable formats: tar (ustar, pax, GNU, v7), zip, cpio, 7-Zip, ar,
 * ISO 9660, xar, RAR, cab, LHA, WARC; compressed with gzip, bzip2, xz,
 * lzma, lzip, lz4, zstd or compress(1). Not mtree, whose entries name files
 * on the local disk.
 */
#ifndef CAIRN_TARIN_H
#define CAIRN_TARIN_H

#include <stddef.h>
#include <stdint.h>

struct archiver;

struct tarin_opts {
	int64_t dir_time_ns;		/* times of folders missing from the archive;
					 * 0: the archive file's mtime (or now) */
	uint32_t dir_uid, dir_gid;	/* their owner */
};

/* What the snapshot holds (entries replaced by later ones not counted). */
struct tarin_stats {
	uint64_t files;			/* regular files (hard links not counted) */
	uint64_t dirs;			/* folders, listed or made up */
	uint64_t links;			/* hard links */
	uint64_t symlinks;
	uint64_t others;		/* devices and FIFOs */
	uint64_t bytes;			/* content bytes read from the archive */
	uint64_t file_bytes;		/* size of the files (hard links once) */
	uint64_t skipped;		/* entries left out (bad paths, sockets, ...) */
	uint64_t duplicates;		/* entries that replaced an earlier one */
	const char *format;		/* "tar", "zip", "cpio", ... or "archive"; static */
};

/*
 * Reads the archive at path ("-": standard input) and stores it with a:
 * contents through archiver_add_stream (the archiver's done callback is
 * replaced for the duration), then the trees. On success returns 0 and the
 * root tree's id; the caller commits the snapshot (archiver_commit). Returns
 * CAIRN_ENOTFOUND (the archive cannot be opened), CAIRN_ECORRUPT (not an
 * archive, truncated or malformed: no part of it should be committed),
 * CAIRN_ENOMEM, or the archiver's storage error. Errors are logged.
 */
int tarin_import(struct archiver *a, const char *path, const struct tarin_opts *o,
		 uint8_t ret_root[32], struct tarin_stats *ret);

/*
 * The parsing half of tarin_import, for fuzzing and tests: reads an archive
 * from memory and builds and encodes every tree (tree_encode) without
 * reading contents or storing anything. Returns 0, CAIRN_ECORRUPT,
 * CAIRN_ENOMEM, or CAIRN_EINVAL if a built tree does not encode (a bug).
 * Messages go to the log as in tarin_import.
 */
int tarin_parse_memory(const void *data, size_t len, const struct tarin_opts *o,
		       struct tarin_stats *ret);

#endif
