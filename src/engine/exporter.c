/*
 * exporter.c - snapshots to tar and zip archives (see exporter.h).
 *
 * The snapshot's trees are walked depth-first in name order; each entry's
 * header goes to libarchive, then a regular file's content, streamed by
 * restorer_dump_to straight into archive_write_data. Hard links are found
 * by (dev, inode) of nodes with nlink > 1, as the restorer does.
 */
#include "cairn/common.h"
#include "cairn/exporter.h"
#include "cairn/log.h"
#include "cairn/restorer.h"
#include "cairn/tree.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXPORT_DEPTH_MAX 4096	/* the restorer's nesting limit */

enum xformat { XF_NONE, XF_TAR, XF_TAR_GZ, XF_TAR_ZST, XF_TAR_XZ, XF_TAR_BZ2, XF_ZIP };

struct xlink {
	uint64_t dev, ino;
	char *name;		/* archive name of the first path written */
};

struct xstate {
	struct repo *r;
	const struct exporter_opts *o;
	struct restore_stats *st;
	struct archive *ar;
	const char *out;	/* the output's name, for messages */
	int fd;			/* where the archive's bytes go */
	int failed;		/* set on error: discard what libarchive still writes */
	int zip;
	struct xlink *hl;	/* open addressing */
	size_t hl_cap, hl_n;
};

/* The format named by the output's extension. */
static enum xformat format_of(const char *name)
{
	static const struct {
		const char *ext;
		enum xformat f;
	} exts[] = {
		{ ".tar", XF_TAR },	   { ".tar.gz", XF_TAR_GZ },   { ".tgz", XF_TAR_GZ },
		{ ".tar.zst", XF_TAR_ZST }, { ".tzst", XF_TAR_ZST },	{ ".tar.xz", XF_TAR_XZ },
		{ ".txz", XF_TAR_XZ },	   { ".tar.bz2", XF_TAR_BZ2 }, { ".tbz2", XF_TAR_BZ2 },
		{ ".zip", XF_ZIP },
	};
	if (strcmp(name, "-") == 0)
		return XF_TAR;
	size_t n = strlen(name);
	for (size_t i = 0; i < CAIRN_ARRAY_LEN(exts); i++) {
		size_t l = strlen(exts[i].ext);
		if (n > l && strcasecmp(name + n - l, exts[i].ext) == 0)
			return exts[i].f;
	}
	return XF_NONE;
}

int exporter_format_known(const char *name)
{
	return format_of(name) != XF_NONE;
}

/* Where a hard-linked inode was first written; a free slot when add. */
static struct xlink *hl_slot(struct xstate *s, uint64_t dev, uint64_t ino, int add)
{
	if (add && (s->hl_n + 1) * 2 > s->hl_cap) {
		size_t cap = s->hl_cap ? s->hl_cap * 2 : 256;
		struct xlink *nh = calloc(cap, sizeof(*nh));
		if (!nh)
			return NULL;
		for (size_t i = 0; i < s->hl_cap; i++) {
			if (!s->hl[i].name)
				continue;
			size_t k = (size_t)(s->hl[i].ino * 31 + s->hl[i].dev) & (cap - 1);
			while (nh[k].name)
				k = (k + 1) & (cap - 1);
			nh[k] = s->hl[i];
		}
		free(s->hl);
		s->hl = nh;
		s->hl_cap = cap;
	}
	if (!s->hl_cap)
		return NULL;
	size_t k = (size_t)(ino * 31 + dev) & (s->hl_cap - 1);
	while (s->hl[k].name) {
		if (s->hl[k].dev == dev && s->hl[k].ino == ino)
			return &s->hl[k];
		k = (k + 1) & (s->hl_cap - 1);
	}
	return add ? &s->hl[k] : NULL;
}

/* Logs a libarchive write error naming the output; returns the code. */
static int write_fail(struct xstate *s, const char *what)
{
	int en = archive_errno(s->ar);
	const char *msg = archive_error_string(s->ar);
	log_error("cannot write %s to %s: %s", what, s->out, msg ? msg : strerror(en));
	return en == ENOSPC || en == EDQUOT ? CAIRN_ENOSPC : CAIRN_EIO;
}

/* 1 for libarchive's complaints about converting names between character
 * sets: names are bytes to cairn; one that does not convert to UTF-8 in the
 * current locale is written as is, marked hdrcharset=BINARY (pax). */
static int charset_warning(const char *msg)
{
	return msg && (strstr(msg, "Can't translate") || strstr(msg, "can't be converted"));
}

static void set_time(struct archive_entry *ae, int64_t ns,
		     void (*set)(struct archive_entry *, time_t, long))
{
	int64_t sec = ns / 1000000000, nsec = ns % 1000000000;
	if (nsec < 0) {
		sec--;
		nsec += 1000000000;
	}
	set(ae, (time_t)sec, (long)nsec);
}

struct xfile {
	struct xstate *s;
	const char *name;
};

/* restorer_write_fn: a file's content into the current entry. */
static int write_data(void *arg, const void *data, size_t len)
{
	struct xfile *f = arg;
	const uint8_t *p = data;
	while (len > 0) {
		la_ssize_t w = archive_write_data(f->s->ar, p, len);
		if (w <= 0)
			return w < 0 ? write_fail(f->s, f->name) : CAIRN_EIO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Writes one non-folder node (or a folder's own entry). */
static int export_node(struct xstate *s, const struct node *n, const char *name)
{
	struct archive_entry *ae = archive_entry_new();
	struct xlink *first = NULL;
	int e = 0;
	if (!ae)
		return CAIRN_ENOMEM;
	switch (n->type) {
	case NODE_FILE: archive_entry_set_filetype(ae, AE_IFREG); break;
	case NODE_DIR: archive_entry_set_filetype(ae, AE_IFDIR); break;
	case NODE_SYMLINK: archive_entry_set_filetype(ae, AE_IFLNK); break;
	case NODE_CHARDEV: archive_entry_set_filetype(ae, AE_IFCHR); break;
	case NODE_BLOCKDEV: archive_entry_set_filetype(ae, AE_IFBLK); break;
	case NODE_FIFO: archive_entry_set_filetype(ae, AE_IFIFO); break;
	}
	if (s->zip && n->type != NODE_FILE && n->type != NODE_DIR && n->type != NODE_SYMLINK) {
		log_warn("leaving %s out of %s: zip cannot hold devices or FIFOs", name, s->out);
		goto out;
	}
	archive_entry_set_pathname(ae, name);
	archive_entry_set_perm(ae, (mode_t)(n->mode & 07777));
	archive_entry_set_uid(ae, n->uid);
	archive_entry_set_gid(ae, n->gid);
	if (n->user)
		archive_entry_set_uname(ae, n->user);
	if (n->group)
		archive_entry_set_gname(ae, n->group);
	set_time(ae, n->mtime_ns, archive_entry_set_mtime);
	if (n->atime_ns)
		set_time(ae, n->atime_ns, archive_entry_set_atime);
	if (n->ctime_ns)
		set_time(ae, n->ctime_ns, archive_entry_set_ctime);
	if (!s->zip)
		for (size_t i = 0; i < n->n_xattrs; i++)
			archive_entry_xattr_add_entry(ae, n->xattrs[i].name, n->xattrs[i].value,
						      n->xattrs[i].len);
	if (n->type == NODE_SYMLINK)
		archive_entry_set_symlink(ae, n->link_target ? n->link_target : "");
	if (n->type == NODE_CHARDEV || n->type == NODE_BLOCKDEV)
		archive_entry_set_rdev(ae, (dev_t)n->rdev);
	int linked = n->type == NODE_FILE && n->nlink > 1 && !s->zip;
	if (linked)
		first = hl_slot(s, n->dev, n->inode, 0);
	if (first) {
		archive_entry_set_hardlink(ae, first->name);
		archive_entry_set_size(ae, 0);
	} else if (n->type == NODE_FILE) {
		archive_entry_set_size(ae, (la_int64_t)n->size);
	}
	int r = archive_write_header(s->ar, ae);
	if (r == ARCHIVE_WARN && charset_warning(archive_error_string(s->ar))) {
		log_verbose("%s in %s: %s", name, s->out, archive_error_string(s->ar));
	} else if (r == ARCHIVE_WARN) {
		log_warn("%s in %s: %s", name, s->out, archive_error_string(s->ar));
	} else if (r == ARCHIVE_FAILED) {
		log_warn("leaving %s out of %s: %s", name, s->out, archive_error_string(s->ar));
		goto out;
	} else if (r != ARCHIVE_OK) {
		e = write_fail(s, name);
		goto out;
	}
	if (first) {
		s->st->links++;
		goto out;
	}
	switch (n->type) {
	case NODE_DIR: s->st->dirs++; break;
	case NODE_FILE: {
		if (n->size > 0 || n->n_content > 0) {
			struct xfile f = { .s = s, .name = name };
			e = restorer_dump_to(s->r, n, write_data, &f, s->o->threads);
			if (e < 0)
				goto out;
		}
		s->st->files++;
		s->st->bytes += n->size;
		if (linked) {
			struct xlink *h = hl_slot(s, n->dev, n->inode, 1);
			if (!h || !(h->name = strdup(name))) {
				e = CAIRN_ENOMEM;
				goto out;
			}
			h->dev = n->dev;
			h->ino = n->inode;
			s->hl_n++;
		}
		break;
	}
	default: s->st->others++; break;
	}
out:
	archive_entry_free(ae);
	return e;
}

/* Writes the entries of a folder; spath is its snapshot path ("" for the root). */
static int export_dir(struct xstate *s, const uint8_t id[32], const char *spath, int included,
		      int depth)
{
	struct tree t;
	if (depth > EXPORT_DEPTH_MAX) {
		log_error("%s: folders nested too deep", spath);
		return CAIRN_ECORRUPT;
	}
	int e = restorer_load_tree(s->r, id, &t);
	if (e < 0)
		return e;
	for (size_t i = 0; i < t.n_nodes && e == 0; i++) {
		const struct node *n = &t.nodes[i];
		size_t len = strlen(spath) + strlen(n->name) + 2;
		char *sp = malloc(len);
		if (!sp) {
			e = CAIRN_ENOMEM;
			break;
		}
		snprintf(sp, len, "%s/%s", spath, n->name);
		const struct exporter_opts *o = s->o;
		int inc = included || !o->n_includes || restorer_path_match(o->includes, o->n_includes, sp);
		if (o->n_excludes && restorer_path_match(o->excludes, o->n_excludes, sp)) {
			/* left out */
		} else if (n->type == NODE_DIR) {
			if (inc)
				e = export_node(s, n, sp + 1);
			if (e == 0 && n->has_subtree &&
			    (inc || restorer_may_match_below(o->includes, o->n_includes, sp)))
				e = export_dir(s, n->subtree, sp, inc, depth + 1);
		} else if (inc) {
			e = export_node(s, n, sp + 1);
		}
		free(sp);
	}
	tree_free(&t);
	return e;
}

/* libarchive's write callback: the bytes to s->fd; after a failure they are
 * dropped, so closing writes no end-of-archive marker that would make a
 * truncated stream look complete. */
static la_ssize_t out_write(struct archive *ar, void *arg, const void *buf, size_t n)
{
	struct xstate *s = arg;
	const uint8_t *p = buf;
	size_t left = n;
	if (s->failed)
		return (la_ssize_t)n;
	while (left > 0) {
		ssize_t w = write(s->fd, p, left);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			archive_set_error(ar, errno, "%s", strerror(errno));
			return -1;
		}
		p += w;
		left -= (size_t)w;
	}
	return (la_ssize_t)n;
}

/* Sets up the writer for the format; libarchive's codes become ours here. */
static int writer_setup(struct xstate *s, enum xformat f)
{
	struct archive *ar = s->ar;
	int r = ARCHIVE_OK;
	if (f == XF_ZIP) {
		s->zip = 1;
		r = archive_write_set_format_zip(ar);
	} else {
		r = archive_write_set_format_pax(ar);
		/* SCHILY.xattr only: GNU tar warns about LIBARCHIVE.xattr records */
		if (r >= ARCHIVE_WARN)
			archive_write_set_format_option(ar, "pax", "xattrheader", "SCHILY");
		switch (f) {
		case XF_TAR_GZ: r = r < ARCHIVE_WARN ? r : archive_write_add_filter_gzip(ar); break;
		case XF_TAR_ZST: r = r < ARCHIVE_WARN ? r : archive_write_add_filter_zstd(ar); break;
		case XF_TAR_XZ: r = r < ARCHIVE_WARN ? r : archive_write_add_filter_xz(ar); break;
		case XF_TAR_BZ2: r = r < ARCHIVE_WARN ? r : archive_write_add_filter_bzip2(ar); break;
		default: break;
		}
		/* no zero padding after a compressed stream */
		if (f != XF_TAR && r >= ARCHIVE_WARN)
			r = archive_write_set_bytes_in_last_block(ar, 1);
	}
	if (r < ARCHIVE_WARN) {
		log_error("cannot write %s: %s", s->out, archive_error_string(ar));
		return CAIRN_EUNSUPPORTED;
	}
	return 0;
}

/* Syncs the folder that holds path, so a rename in it is durable. */
static void sync_dir_of(const char *path)
{
	char *d = strdup(path);
	if (!d)
		return;
	char *slash = strrchr(d, '/');
	const char *dir = ".";
	if (slash == d)
		dir = "/";
	else if (slash) {
		*slash = 0;
		dir = d;
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(d);
}

int exporter_write(struct repo *r, const uint8_t root[32], const struct exporter_opts *o,
		   struct restore_stats *ret)
{
	struct xstate s = { .r = r, .o = o, .st = ret, .out = o->output };
	enum xformat f = format_of(o->output);
	int to_stdout = strcmp(o->output, "-") == 0;
	char *tmp = NULL;
	int fd = -1, e = 0;
	memset(ret, 0, sizeof(*ret));
	if (f == XF_NONE) {
		log_error("cannot tell the archive format from the name %s: end it in .tar, "
			  ".tar.gz, .tgz, .tar.zst, .tar.xz, .tar.bz2 or .zip, or give - for a tar "
			  "on standard output",
			  o->output);
		return CAIRN_EINVAL;
	}
	if (to_stdout) {
		s.out = "standard output";
		if (isatty(STDOUT_FILENO)) {
			log_error("standard output is a terminal; redirect it to a file or a pipe");
			return CAIRN_EINVAL;
		}
		fd = STDOUT_FILENO;
	} else {
		struct stat st;
		if (!o->overwrite && lstat(o->output, &st) == 0) {
			log_error("%s exists; remove it, choose another name, or give --overwrite "
				  "always",
				  o->output);
			return CAIRN_EEXIST;
		}
		size_t n = strlen(o->output) + 32;
		if (!(tmp = malloc(n)))
			return CAIRN_ENOMEM;
		snprintf(tmp, n, "%s.cairn-tmp-XXXXXX", o->output);
		fd = mkostemp(tmp, O_CLOEXEC);
		if (fd < 0) {
			log_error("cannot create %s: %s", tmp, strerror(errno));
			e = cairn_from_errno(errno);
			free(tmp);
			return e;
		}
		mode_t um = umask(0);
		umask(um);
		fchmod(fd, 0666 & ~um);
	}
	s.ar = archive_write_new();
	if (!s.ar) {
		e = CAIRN_ENOMEM;
		goto out;
	}
	if ((e = writer_setup(&s, f)) < 0)
		goto out;
	s.fd = fd;
	/* a file ends after the end-of-archive blocks; a stream is padded to a
	 * whole block, as tar(1) does */
	if (f == XF_TAR)
		archive_write_set_bytes_in_last_block(s.ar, to_stdout ? 0 : 1);
	if (archive_write_open2(s.ar, &s, NULL, out_write, NULL, NULL) != ARCHIVE_OK) {
		e = write_fail(&s, "the archive");
		goto out;
	}
	e = export_dir(&s, root, "", 0, 0);
	if (e == 0 && archive_write_close(s.ar) != ARCHIVE_OK)
		e = write_fail(&s, "the end of the archive");
	if (e == 0 && !to_stdout && fsync(fd) < 0) {
		log_error("cannot write %s: %s", tmp, strerror(errno));
		e = cairn_from_errno(errno);
	}
out:
	if (s.ar) {
		s.failed = e < 0;
		archive_write_free(s.ar);
	}
	if (!to_stdout && fd >= 0) {
		if (close(fd) < 0 && e == 0) {
			log_error("cannot write %s: %s", tmp, strerror(errno));
			e = cairn_from_errno(errno);
		}
		if (e == 0 && rename(tmp, o->output) < 0) {
			log_error("cannot rename %s to %s: %s", tmp, o->output, strerror(errno));
			e = cairn_from_errno(errno);
		}
		if (e == 0)
			sync_dir_of(o->output);
		else
			unlink(tmp);
	}
	free(tmp);
	for (size_t i = 0; i < s.hl_cap; i++)
		free(s.hl[i].name);
	free(s.hl);
	return e;
}
