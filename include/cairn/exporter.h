/*
 * exporter.h - writing a snapshot (or part of it) as a tar or zip archive
 * (through libarchive): `cairn restore --archive`.
 *
 * The format follows the output's name: .tar (pax), .tar.gz or .tgz,
 * .tar.zst or .tzst, .tar.xz or .txz, .tar.bz2 or .tbz2 (pax, compressed),
 * .zip; "-" writes an uncompressed pax tar to standard output. Entries are
 * named by their snapshot path without the leading '/' ("srv/app/x"), folders
 * before what they hold, in tree order, so `tar -x -C DIR` of the archive
 * gives what `cairn restore --target DIR` gives.
 *
 * pax carries every node field that tar can: type, permission bits,
 * uid/gid, user and group names, mtime, atime and ctime with nanoseconds,
 * symlink targets, device numbers, FIFOs, extended attributes (as
 * SCHILY.xattr records, which GNU tar and bsdtar read). Regular files sharing an
 * inode (nlink > 1) are stored once and then as hard-link entries. Sparse
 * files are written in full, holes as zeros. zip keeps content, type
 * (files, folders, symlinks), permissions, uid/gid and mtime (seconds);
 * hard links become copies and devices and FIFOs are left out with a
 * warning.
 *
 * Contents come from restorer_dump_to: loaded on worker threads, every
 * blob checked against its id. A damaged blob stops the export with
 * CAIRN_ECORRUPT. A file output is written under a temporary name in the
 * same folder, synced and renamed into place only when complete, so a
 * failed export leaves no archive behind.
 */
#ifndef CAIRN_EXPORTER_H
#define CAIRN_EXPORTER_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/restorer.h"

struct repo;

struct exporter_opts {
	const char *output;		/* archive file, or "-" for standard output */
	const char *const *includes;	/* as restore_opts: only matching paths */
	size_t n_includes;
	const char *const *excludes;	/* leave out matching paths */
	size_t n_excludes;
	int overwrite;			/* replace an existing output file */
	unsigned threads;		/* blob loaders per file; 0: number of CPUs */
};

/* 1 when name ends in an extension exporter_write knows (or is "-"). */
int exporter_format_known(const char *name);

/*
 * Writes the tree below root to o->output. Counts what it wrote in ret
 * (files, dirs, links: hard-link entries, others: symlinks, devices and
 * FIFOs, bytes: content bytes). Entries the format cannot hold are left
 * out with a warning.
 * Returns 0; CAIRN_EINVAL (unknown extension), CAIRN_EEXIST (the output
 * exists and o->overwrite is not set), CAIRN_ECORRUPT (damaged data),
 * CAIRN_EIO or CAIRN_ENOSPC (writing failed), CAIRN_ENOMEM, or an error
 * loading a tree. Errors are logged; on error no output file is left.
 */
int exporter_write(struct repo *r, const uint8_t root[32], const struct exporter_opts *o,
		   struct restore_stats *ret);

#endif
