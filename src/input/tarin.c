/*
 * tarin.c - importing archives through libarchive (see tarin.h).
 *
 * Every entry becomes a tnode of an in-memory path tree; a hash table maps
 * (parent, name) to the current tnode, so entries can come in any order
 * and a later entry can replace an earlier one. Replaced tnodes stay
 * allocated until the end (the archiver may still report their content),
 * they are just no longer reachable from the root. At the end the live
 * tnodes are listed breadth-first from the root; walking that list
 * backwards meets every folder after all its children, so the trees are
 * stored bottom-up without recursion.
 */
#include "cairn/common.h"
#include "cairn/tarin.h"
#include "cairn/archiver.h"
#include "cairn/buf.h"
#include "cairn/log.h"
#include "cairn/tree.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TARIN_DEPTH_MAX 4096	/* the restorer's nesting limit */
#define TARIN_RETRY_MAX 16	/* ARCHIVE_RETRY answers in a row */
#define TARIN_EMPTY_BLOCKS_MAX 4096	/* empty data blocks in a row */
#define TARIN_PARSE_DATA_MAX (16 << 20)	/* bytes of an entry read when parsing only */

struct tnode {
	struct node n;		/* n.name is this path component */
	struct tnode *parent;
	size_t slot;		/* index in parent->kids */
	struct tnode **kids;	/* DIR: children, in archive order */
	size_t n_kids, cap_kids;
	struct tnode *link;	/* hard link: the tnode holding the content */
	uint64_t n_links;	/* holder: live paths sharing it */
	int listed;		/* DIR: the archive has an entry for it */
};

/* Stores one finished tree; returns its id. */
typedef int (*tin_store_fn)(void *arg, const struct tree *t, uint8_t ret_id[32]);

struct tin {
	struct archive *ar;
	const char *what;	/* the archive, for messages */
	struct tarin_opts o;
	struct tarin_stats *st;
	struct archiver *a;	/* NULL: parse only */
	struct tnode *root;
	struct tnode **all;	/* every tnode ever made, for freeing */
	size_t n_all, cap_all;
	struct tnode **map;	/* (parent, name) -> tnode, open addressing */
	size_t map_cap, map_n;
	uint64_t next_ino;
	int content_err;	/* first error reported by the archiver */
	/* the entry whose data is being read */
	const char *cur;
	int64_t cur_size;	/* -1: not known */
	int64_t pos;		/* bytes handed to the archiver */
	const uint8_t *blk;	/* unread part of the current data block */
	size_t blk_len;
	int64_t blk_off;	/* its offset in the entry */
	int data_eof;
	int read_err;
};

/* Converts libarchive's answer to a message naming the archive. */
static int ar_fail(struct tin *t, const char *entry)
{
	const char *msg = archive_error_string(t->ar);
	if (entry)
		log_error("cannot read %s from the archive %s: %s; the archive is truncated or "
			  "damaged, nothing was imported",
			  entry, t->what, msg ? msg : "unknown error");
	else
		log_error("cannot read the archive %s: %s; it is not an archive cairn reads, or it "
			  "is truncated or damaged; nothing was imported",
			  t->what, msg ? msg : "unknown error");
	return CAIRN_ECORRUPT;
}

static uint64_t name_hash(const struct tnode *parent, const char *name, size_t len)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)(uintptr_t)parent;
	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)name[i];
		h *= 1099511628211ull;
	}
	return h ^ (h >> 29);
}

/* The map slot of (parent, name): the tnode there, or an empty slot. */
static struct tnode **map_slot(struct tin *t, const struct tnode *parent, const char *name,
			       size_t len)
{
	size_t k = (size_t)name_hash(parent, name, len) & (t->map_cap - 1);
	for (;;) {
		struct tnode *x = t->map[k];
		if (!x || (x->parent == parent && strlen(x->n.name) == len &&
			   memcmp(x->n.name, name, len) == 0))
			return &t->map[k];
		k = (k + 1) & (t->map_cap - 1);
	}
}

static struct tnode *map_find(struct tin *t, const struct tnode *parent, const char *name,
			      size_t len)
{
	return *map_slot(t, parent, name, len);
}

/* Keeps the load under one half. */
static int map_grow(struct tin *t)
{
	if ((t->map_n + 1) * 2 <= t->map_cap)
		return 0;
	size_t cap = t->map_cap ? t->map_cap * 2 : 1024;
	struct tnode **old = t->map;
	size_t old_cap = t->map_cap;
	t->map = calloc(cap, sizeof(*t->map));
	if (!t->map) {
		t->map = old;
		return CAIRN_ENOMEM;
	}
	t->map_cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i])
			*map_slot(t, old[i]->parent, old[i]->n.name, strlen(old[i]->n.name)) = old[i];
	free(old);
	return 0;
}

/* A new tnode owning the node *n (moved; n is zeroed). */
static struct tnode *tnode_new(struct tin *t, struct node *n)
{
	if (t->n_all == t->cap_all) {
		size_t cap = t->cap_all ? t->cap_all * 2 : 1024;
		struct tnode **v = realloc(t->all, cap * sizeof(*v));
		if (!v)
			return NULL;
		t->all = v;
		t->cap_all = cap;
	}
	struct tnode *x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->n = *n;
	memset(n, 0, sizeof(*n));
	x->n.inode = ++t->next_ino;
	t->all[t->n_all++] = x;
	return x;
}

/* Hangs x below parent, in place of `old` when given (same name). */
static int tnode_attach(struct tin *t, struct tnode *parent, struct tnode *x, struct tnode *old)
{
	x->parent = parent;
	if (old) {
		x->slot = old->slot;
		parent->kids[x->slot] = x;
		*map_slot(t, parent, x->n.name, strlen(x->n.name)) = x;
		return 0;
	}
	int e = map_grow(t);
	if (e < 0)
		return e;
	if (parent->n_kids == parent->cap_kids) {
		size_t cap = parent->cap_kids ? parent->cap_kids * 2 : 8;
		struct tnode **v = realloc(parent->kids, cap * sizeof(*v));
		if (!v)
			return CAIRN_ENOMEM;
		parent->kids = v;
		parent->cap_kids = cap;
	}
	x->slot = parent->n_kids;
	parent->kids[parent->n_kids++] = x;
	*map_slot(t, parent, x->n.name, strlen(x->n.name)) = x;
	t->map_n++;
	return 0;
}

/* A folder the archive does not list. */
static struct tnode *implicit_dir(struct tin *t, const char *name, size_t len)
{
	struct node n;
	memset(&n, 0, sizeof(n));
	n.name = strndup(name, len);
	if (!n.name)
		return NULL;
	n.type = NODE_DIR;
	n.mode = 0755;
	n.uid = t->o.dir_uid;
	n.gid = t->o.dir_gid;
	n.mtime_ns = n.ctime_ns = t->o.dir_time_ns;
	struct tnode *x = tnode_new(t, &n);
	if (!x)
		node_clear(&n);
	return x;
}

/* One component of a normalized path. */
struct comp {
	const char *p;
	size_t len;
};

/*
 * Splits an archive path into components: drops empty ones and ".",
 * refuses ".." and names cairn cannot store. Returns the count (0: the
 * root itself), or -1 after a warning.
 */
static long split_path(struct tin *t, const char *path, struct comp **ret)
{
	size_t n = 0, cap = 0;
	struct comp *v = NULL;
	const char *p = path;
	while (*p) {
		const char *s = strchr(p, '/');
		size_t len = s ? (size_t)(s - p) : strlen(p);
		if (len == 0 || (len == 1 && p[0] == '.')) {
			p += len + (s ? 1 : 0);
			continue;
		}
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			log_warn("%s: leaving out %s: it has a '..' component", t->what, path);
			free(v);
			return -1;
		}
		if (!node_name_valid(p, len) || n >= TARIN_DEPTH_MAX) {
			log_warn("%s: leaving out %s: the name is too long or too deep", t->what, path);
			free(v);
			return -1;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			struct comp *nv = realloc(v, cap * sizeof(*nv));
			if (!nv) {
				free(v);
				return -2;
			}
			v = nv;
		}
		v[n].p = p;
		v[n].len = len;
		n++;
		p += len + (s ? 1 : 0);
	}
	*ret = v;
	return (long)n;
}

/* Seconds and nanoseconds to ns, clamped to what an int64_t holds. */
static int64_t to_ns(int64_t sec, long nsec)
{
	const int64_t lim = INT64_MAX / 1000000000 - 1;
	if (nsec < 0 || nsec > 999999999)
		nsec = 0;
	if (sec > lim)
		sec = lim;
	if (sec < -lim)
		sec = -lim;
	return sec * 1000000000 + nsec;
}

/* 1 for libarchive's complaints about converting names between character
 * sets: cairn keeps names as the archive's bytes, so they change nothing. */
static int charset_warning(const char *msg)
{
	return msg && (strstr(msg, "Can't translate") || strstr(msg, "can't be converted"));
}

static const char *entry_path(struct archive_entry *ent)
{
	const char *p = archive_entry_pathname(ent);
	return p ? p : archive_entry_pathname_utf8(ent);
}

/* Copies the entry's extended attributes into n (sorted, names unique: the
 * last value of a repeated name wins). */
static int read_xattrs(struct archive_entry *ent, struct node *n)
{
	const char *name;
	const void *value;
	size_t size;
	if (archive_entry_xattr_reset(ent) == 0)
		return 0;
	while (archive_entry_xattr_next(ent, &name, &value, &size) == ARCHIVE_OK) {
		if (!name || !name[0] || (size && !value))
			continue;
		size_t i = 0;
		while (i < n->n_xattrs && strcmp(n->xattrs[i].name, name) < 0)
			i++;
		struct xattr *x;
		uint8_t *v = size ? malloc(size) : NULL;
		if (size && !v)
			return CAIRN_ENOMEM;
		if (size)
			memcpy(v, value, size);
		if (i < n->n_xattrs && strcmp(n->xattrs[i].name, name) == 0) {
			x = &n->xattrs[i];
			free(x->value);
		} else {
			struct xattr *nv = realloc(n->xattrs, (n->n_xattrs + 1) * sizeof(*nv));
			char *nm = strdup(name);
			if (nv)
				n->xattrs = nv;
			if (!nv || !nm) {
				free(nm);
				free(v);
				return CAIRN_ENOMEM;
			}
			memmove(&n->xattrs[i + 1], &n->xattrs[i], (n->n_xattrs - i) * sizeof(*nv));
			n->n_xattrs++;
			x = &n->xattrs[i];
			x->name = nm;
		}
		x->value = v;
		x->len = size;
	}
	return 0;
}

/* Fills n from an entry's metadata (an entry of no type is a file when
 * is_file). Returns 0, 1 when the entry's type is not stored (reported),
 * or CAIRN_ENOMEM. */
static int node_from_entry(struct tin *t, struct archive_entry *ent, const char *path,
			   const struct comp *name, int is_file, struct node *n)
{
	memset(n, 0, sizeof(*n));
	switch (archive_entry_filetype(ent) ? archive_entry_filetype(ent) : is_file ? AE_IFREG : 0) {
	case AE_IFREG: n->type = NODE_FILE; break;
	case AE_IFDIR: n->type = NODE_DIR; break;
	case AE_IFLNK: n->type = NODE_SYMLINK; break;
	case AE_IFCHR: n->type = NODE_CHARDEV; break;
	case AE_IFBLK: n->type = NODE_BLOCKDEV; break;
	case AE_IFIFO: n->type = NODE_FIFO; break;
	case AE_IFSOCK:
		log_info("%s: skipping %s: sockets are not stored", t->what, path);
		return 1;
	default:
		log_warn("%s: leaving out %s: unknown file type", t->what, path);
		return 1;
	}
	if (!(n->name = strndup(name->p, name->len)))
		return CAIRN_ENOMEM;
	n->mode = (uint32_t)archive_entry_perm(ent) & 07777;
	n->uid = (uint32_t)archive_entry_uid(ent);
	n->gid = (uint32_t)archive_entry_gid(ent);
	const char *u = archive_entry_uname(ent), *g = archive_entry_gname(ent);
	if (!u)
		u = archive_entry_uname_utf8(ent);
	if (!g)
		g = archive_entry_gname_utf8(ent);
	if ((u && u[0] && !(n->user = strdup(u))) || (g && g[0] && !(n->group = strdup(g))))
		return CAIRN_ENOMEM;
	n->mtime_ns = archive_entry_mtime_is_set(ent)
			      ? to_ns(archive_entry_mtime(ent), archive_entry_mtime_nsec(ent))
			      : t->o.dir_time_ns;
	if (archive_entry_atime_is_set(ent))
		n->atime_ns = to_ns(archive_entry_atime(ent), archive_entry_atime_nsec(ent));
	n->ctime_ns = archive_entry_ctime_is_set(ent)
			      ? to_ns(archive_entry_ctime(ent), archive_entry_ctime_nsec(ent))
			      : n->mtime_ns;
	if (n->type == NODE_FILE)
		n->nlink = 1;
	if (n->type == NODE_SYMLINK) {
		const char *l = archive_entry_symlink(ent);
		if (!l)
			l = archive_entry_symlink_utf8(ent);
		if (!(n->link_target = strdup(l ? l : "")))
			return CAIRN_ENOMEM;
		n->size = strlen(n->link_target);
	}
	if (n->type == NODE_CHARDEV || n->type == NODE_BLOCKDEV)
		n->rdev = (uint64_t)archive_entry_rdev(ent);
	return read_xattrs(ent, n);
}

/* archiver_read_fn: the current entry's data, holes filled with zeros. */
static ssize_t entry_read(void *arg, void *buf, size_t want)
{
	struct tin *t = arg;
	uint8_t *out = buf;
	size_t got = 0;
	int empty = 0;
	while (got < want) {
		if (t->blk_len == 0 && !t->data_eof) {
			if (got > 0)
				break;	/* hand over what we have before blocking again */
			const void *b;
			size_t len;
			la_int64_t off;
			int r = archive_read_data_block(t->ar, &b, &len, &off);
			if (r == ARCHIVE_EOF) {
				t->data_eof = 1;
				continue;
			}
			if (r == ARCHIVE_WARN) {
				log_warn("%s: %s: %s", t->what, t->cur, archive_error_string(t->ar));
			} else if (r != ARCHIVE_OK) {
				t->read_err = ar_fail(t, t->cur);
				return t->read_err;
			}
			if (off < t->pos) {
				log_error("cannot read %s from the archive %s: its data blocks "
					  "overlap; nothing was imported",
					  t->cur, t->what);
				t->read_err = CAIRN_ECORRUPT;
				return t->read_err;
			}
			if (len == 0 && ++empty > TARIN_EMPTY_BLOCKS_MAX) {
				log_error("cannot read %s from the archive %s: no data; nothing was "
					  "imported",
					  t->cur, t->what);
				t->read_err = CAIRN_ECORRUPT;
				return t->read_err;
			}
			t->blk = b;
			t->blk_len = len;
			t->blk_off = off;
			continue;
		}
		size_t n;
		if (t->data_eof) {
			/* a hole at the end, up to the entry's size */
			if (t->cur_size < 0 || t->pos >= t->cur_size)
				break;
			n = (uint64_t)(t->cur_size - t->pos) < want - got ? (size_t)(t->cur_size - t->pos)
									 : want - got;
			memset(out + got, 0, n);
		} else if (t->blk_off > t->pos) {
			/* a hole before the next block */
			n = (uint64_t)(t->blk_off - t->pos) < want - got ? (size_t)(t->blk_off - t->pos)
									 : want - got;
			memset(out + got, 0, n);
		} else {
			n = t->blk_len < want - got ? t->blk_len : want - got;
			memcpy(out + got, t->blk, n);
			t->blk += n;
			t->blk_len -= n;
			t->blk_off += (int64_t)n;
		}
		got += n;
		t->pos += (int64_t)n;
	}
	return (ssize_t)got;
}

/* Archiver callback: a file's content is stored. */
static void content_done(void *arg, uint64_t cookie, int err, uint32_t depth,
			 struct content_ref *refs, size_t n, uint64_t size)
{
	struct tin *t = arg;
	struct tnode *x = (struct tnode *)(uintptr_t)cookie;
	if (err) {
		if (!t->content_err)
			t->content_err = err;
		free(refs);
		return;
	}
	free(x->n.content);
	x->n.content = refs;
	x->n.n_content = n;
	x->n.content_depth = depth;
	x->n.size = size;
	t->st->bytes += size;
}

/* Reads the current entry's data: into the archiver, or when parsing only
 * into a scratch buffer (up to TARIN_PARSE_DATA_MAX, so holes stay cheap). */
static int entry_data(struct tin *t, struct archive_entry *ent, struct tnode *x, const char *path)
{
	t->cur = path;
	t->cur_size = archive_entry_size_is_set(ent) ? archive_entry_size(ent) : -1;
	t->pos = 0;
	t->blk = NULL;
	t->blk_len = 0;
	t->blk_off = 0;
	t->data_eof = 0;
	t->read_err = 0;
	int e = 0;
	if (t->a) {
		e = archiver_add_stream(t->a, entry_read, t, (uint64_t)(uintptr_t)x);
	} else {
		/* parsing only: read through the same path, up to a bound */
		uint8_t scratch[16384];
		ssize_t r;
		while (t->pos < TARIN_PARSE_DATA_MAX && (r = entry_read(t, scratch, sizeof(scratch))) > 0)
			;
	}
	t->cur = NULL;
	if (t->read_err)
		return t->read_err;
	return e;
}

/* The parent folder of the last component, made up where missing. */
static int find_parent(struct tin *t, const struct comp *c, size_t n, const char *path,
		       struct tnode **ret)
{
	struct tnode *d = t->root;
	for (size_t i = 0; i + 1 < n; i++) {
		struct tnode *x = map_find(t, d, c[i].p, c[i].len);
		if (x && x->n.type == NODE_DIR) {
			d = x;
			continue;
		}
		struct tnode *nd = implicit_dir(t, c[i].p, c[i].len);
		if (!nd)
			return CAIRN_ENOMEM;
		if (x) {
			log_warn("%s: %.*s is not a folder, but %s is below it: it becomes a folder",
				 t->what, (int)(c[i].p + c[i].len - path), path, path);
			t->st->duplicates++;
		}
		int e = tnode_attach(t, d, nd, x);
		if (e < 0)
			return e;
		d = nd;
	}
	*ret = d;
	return 0;
}

/* The tnode of a hard link's target (an earlier entry), or NULL. */
static struct tnode *find_target(struct tin *t, const char *target)
{
	struct comp *c = NULL;
	long n = split_path(t, target, &c);
	struct tnode *d = t->root, *x = NULL;
	for (long i = 0; i < n; i++) {
		x = map_find(t, d, c[i].p, c[i].len);
		if (!x || (i + 1 < n && x->n.type != NODE_DIR)) {
			x = NULL;
			break;
		}
		d = x;
	}
	free(c);
	return n > 0 ? x : NULL;
}

/* The tnode holding the content of x's link group (x itself when alone);
 * compresses the chain on the way. */
static struct tnode *holder_of(struct tnode *x)
{
	struct tnode *h = x;
	while (h->link)
		h = h->link;
	while (x->link && x->link != h) {
		struct tnode *next = x->link;
		x->link = h;
		x = next;
	}
	return h;
}

/* A hard link named name to target: its metadata, and later its content. */
static int make_link(struct tnode *target, const struct comp *name, struct node *n)
{
	int e = node_copy(n, &target->n);
	if (e < 0)
		return e;
	free(n->name);
	free(n->content);
	n->content = NULL;
	n->n_content = 0;
	n->content_depth = 0;
	n->has_subtree = 0;
	n->name = strndup(name->p, name->len);
	return n->name ? 0 : CAIRN_ENOMEM;
}

/* Adds one entry to the path tree. */
static int add_entry(struct tin *t, struct archive_entry *ent)
{
	const char *path = entry_path(ent);
	struct comp *c = NULL;
	struct node n;
	memset(&n, 0, sizeof(n));
	if (!path) {
		log_warn("%s: leaving out an entry whose name cannot be read", t->what);
		t->st->skipped++;
		return 0;
	}
	long nc = split_path(t, path, &c);
	if (nc == -2)
		return CAIRN_ENOMEM;
	if (nc <= 0) {
		if (nc < 0)
			t->st->skipped++;
		return 0;	/* the root itself: nowhere to keep its metadata */
	}
	struct tnode *d, *link = NULL;
	int e = 0;
	const char *hl = archive_entry_hardlink(ent);
	if (!hl)
		hl = archive_entry_hardlink_utf8(ent);
	struct tnode *group = NULL;	/* a hard link's group, when it brings the data */
	if (hl) {
		/* tar gives hard links no type: they are what their target is */
		struct tnode *target = find_target(t, hl);
		int has_data = archive_entry_size_is_set(ent) && archive_entry_size(ent) > 0;
		if (target && target->n.type == NODE_FILE && has_data) {
			/* cpio (newc) sends a group's data with its last link */
			group = holder_of(target);
		} else if (target && target->n.type != NODE_DIR) {
			link = holder_of(target);
			if ((e = make_link(link, &c[nc - 1], &n)) < 0)
				goto out;
		} else if (!has_data) {
			log_warn("%s: leaving out %s: it is a hard link to %s, which is not an "
				 "earlier file of the archive",
				 t->what, path, hl);
			t->st->skipped++;
			goto out;
		}
	}
	if (!link) {
		e = node_from_entry(t, ent, path, &c[nc - 1], hl != NULL, &n);
		if (e == 1) {
			t->st->skipped++;
			e = 0;
			goto out;
		}
		if (e < 0)
			goto out;
	}
	if ((e = find_parent(t, c, (size_t)nc, path, &d)) < 0)
		goto out;
	struct tnode *old = map_find(t, d, c[nc - 1].p, c[nc - 1].len);
	if (old && old->n.type == NODE_DIR && n.type == NODE_DIR) {
		/* a folder listed again, or after its children: keep them */
		if (old->listed) {
			log_warn("%s: the folder %s appears twice; the later entry's metadata wins",
				 t->what, path);
			t->st->duplicates++;
		}
		uint64_t ino = old->n.inode;
		node_clear(&old->n);
		old->n = n;
		old->n.inode = ino;
		memset(&n, 0, sizeof(n));
		old->listed = 1;
		goto out;
	}
	if (old) {
		log_warn("%s: %s appears twice; the later entry wins", t->what, path);
		t->st->duplicates++;
	}
	struct tnode *x = tnode_new(t, &n);
	if (!x) {
		e = CAIRN_ENOMEM;
		goto out;
	}
	if ((e = tnode_attach(t, d, x, old)) < 0)
		goto out;
	if (link) {
		x->link = link;
		x->n.inode = link->n.inode;
	} else if (x->n.type == NODE_DIR) {
		x->listed = 1;
	} else if (x->n.type == NODE_FILE) {
		e = entry_data(t, ent, x, path);
		if (group) {
			/* x holds the group's content from now on */
			group->link = x;
			x->n.inode = group->n.inode;
		}
	}
out:
	node_clear(&n);
	free(c);
	return e;
}

/* Reads every entry header (and content) of the open archive. */
static int read_entries(struct tin *t)
{
	struct archive_entry *ent;
	int retries = 0;
	for (;;) {
		int r = archive_read_next_header(t->ar, &ent);
		if (r == ARCHIVE_EOF)
			break;
		if (r == ARCHIVE_RETRY && ++retries <= TARIN_RETRY_MAX)
			continue;
		if (r == ARCHIVE_WARN) {
			const char *p = entry_path(ent), *msg = archive_error_string(t->ar);
			if (charset_warning(msg))
				log_verbose("%s: %s: %s", t->what, p ? p : "an entry", msg);
			else
				log_warn("%s: %s: %s", t->what, p ? p : "an entry", msg);
		} else if (r != ARCHIVE_OK) {
			return ar_fail(t, NULL);
		}
		retries = 0;
		int e = add_entry(t, ent);
		if (e < 0)
			return e;
		if (t->a && (e = archiver_poll(t->a)) < 0)
			return e;
	}
	switch (archive_format(t->ar) & ARCHIVE_FORMAT_BASE_MASK) {
	case ARCHIVE_FORMAT_TAR: t->st->format = "tar"; break;
	case ARCHIVE_FORMAT_ZIP: t->st->format = "zip"; break;
	case ARCHIVE_FORMAT_CPIO: t->st->format = "cpio"; break;
	case ARCHIVE_FORMAT_7ZIP: t->st->format = "7zip"; break;
	case ARCHIVE_FORMAT_AR: t->st->format = "ar"; break;
	case ARCHIVE_FORMAT_ISO9660: t->st->format = "iso9660"; break;
	default: t->st->format = "archive"; break;
	}
	return 0;
}

/* Stores the trees bottom-up; returns the root's id. */
static int store_trees(struct tin *t, tin_store_fn store, void *arg, uint8_t ret_root[32])
{
	/* live tnodes, breadth-first: parents before children */
	size_t n = 0, cap = t->n_all + 1;
	struct tnode **q = malloc(cap * sizeof(*q));
	struct tree tr;
	int e = 0;
	tree_init(&tr);
	if (!q)
		return CAIRN_ENOMEM;
	q[n++] = t->root;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < q[i]->n_kids && n < cap; k++)
			q[n++] = q[i]->kids[k];
	/* hard links: count the live paths of each holder, then share */
	for (size_t i = 1; i < n; i++) {
		struct tnode *h = holder_of(q[i]);
		h->n_links++;
		switch (q[i]->n.type) {
		case NODE_DIR: t->st->dirs++; break;
		case NODE_FILE:
			/* the first path of a link group is the file, the others links */
			if (h->n_links > 1) {
				t->st->links++;
			} else {
				t->st->files++;
				t->st->file_bytes += h->n.size;
			}
			break;
		case NODE_SYMLINK: t->st->symlinks++; break;
		default: t->st->others++; break;
		}
	}
	for (size_t i = 1; i < n && e == 0; i++) {
		struct tnode *x = q[i], *h = holder_of(x);
		if (x->n.type == NODE_FILE)
			x->n.nlink = h->n_links;
		if (h == x || h->n.type != NODE_FILE)
			continue;
		x->n.size = h->n.size;
		x->n.content_depth = h->n.content_depth;
		x->n.flags = h->n.flags;
		if (h->n.n_content) {
			x->n.content = malloc(h->n.n_content * sizeof(*x->n.content));
			if (!x->n.content) {
				e = CAIRN_ENOMEM;
				break;
			}
			memcpy(x->n.content, h->n.content, h->n.n_content * sizeof(*x->n.content));
			x->n.n_content = h->n.n_content;
		}
	}
	/* folders after all their children */
	for (size_t i = n; i-- > 0 && e == 0;) {
		struct tnode *d = q[i];
		if (d->n.type != NODE_DIR)
			continue;
		for (size_t k = 0; k < d->n_kids && e == 0; k++)
			e = tree_add(&tr, &d->kids[k]->n);
		if (e == 0)
			e = tree_sort(&tr);
		uint8_t id[32];
		if (e == 0)
			e = store(arg, &tr, id);
		tree_free(&tr);
		if (e < 0)
			break;
		if (d == t->root) {
			memcpy(ret_root, id, 32);
		} else {
			d->n.has_subtree = 1;
			memcpy(d->n.subtree, id, 32);
		}
	}
	tree_free(&tr);
	free(q);
	return e;
}

static void tin_free(struct tin *t)
{
	for (size_t i = 0; i < t->n_all; i++) {
		node_clear(&t->all[i]->n);
		free(t->all[i]->kids);
		free(t->all[i]);
	}
	free(t->all);
	free(t->map);
	if (t->ar)
		archive_read_free(t->ar);
}

/* A reader for the supported formats and filters (see tarin.h). */
static int tin_init(struct tin *t, const struct tarin_opts *o, struct tarin_stats *st,
		    const char *what)
{
	memset(t, 0, sizeof(*t));
	memset(st, 0, sizeof(*st));
	st->format = "archive";
	t->st = st;
	t->what = what;
	if (o)
		t->o = *o;
	struct node rn;
	memset(&rn, 0, sizeof(rn));
	rn.type = NODE_DIR;
	t->root = tnode_new(t, &rn);
	t->ar = archive_read_new();
	if (!t->root || !t->ar || map_grow(t) < 0)
		return CAIRN_ENOMEM;
	archive_read_support_filter_gzip(t->ar);
	archive_read_support_filter_bzip2(t->ar);
	archive_read_support_filter_xz(t->ar);
	archive_read_support_filter_lzma(t->ar);
	archive_read_support_filter_lzip(t->ar);
	archive_read_support_filter_lz4(t->ar);
	archive_read_support_filter_zstd(t->ar);
	archive_read_support_filter_compress(t->ar);
	archive_read_support_format_tar(t->ar);
	archive_read_support_format_zip(t->ar);
	archive_read_support_format_cpio(t->ar);
	archive_read_support_format_7zip(t->ar);
	archive_read_support_format_ar(t->ar);
	archive_read_support_format_iso9660(t->ar);
	archive_read_support_format_xar(t->ar);
	archive_read_support_format_rar(t->ar);
	archive_read_support_format_rar5(t->ar);
	archive_read_support_format_cab(t->ar);
	archive_read_support_format_lha(t->ar);
	archive_read_support_format_warc(t->ar);
	return 0;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* tin_store_fn of tarin_import. */
static int store_archiver(void *arg, const struct tree *tr, uint8_t ret_id[32])
{
	return archiver_store_tree(arg, tr, ret_id);
}

int tarin_import(struct archiver *a, const char *path, const struct tarin_opts *o,
		 uint8_t ret_root[32], struct tarin_stats *ret)
{
	struct tin t;
	int fd = -1;
	int is_stdin = strcmp(path, "-") == 0;
	int e = tin_init(&t, o, ret, is_stdin ? "(standard input)" : path);
	if (e < 0)
		goto out;
	t.a = a;
	fd = is_stdin ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		log_error("cannot open the archive %s: %s", t.what, strerror(errno));
		e = cairn_from_errno(errno);
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		log_error("cannot import %s: it is a folder; give a tar or zip file (or back the "
			  "folder up with 'cairn backup')",
			  t.what);
		e = CAIRN_EINVAL;
		goto out;
	}
	if (!t.o.dir_time_ns)
		t.o.dir_time_ns = S_ISREG(st.st_mode) ? to_ns(st.st_mtim.tv_sec, st.st_mtim.tv_nsec)
						      : now_ns();
	t.root->n.mtime_ns = t.o.dir_time_ns;
	if (archive_read_open_fd(t.ar, fd, 65536) != ARCHIVE_OK) {
		e = ar_fail(&t, NULL);
		goto out;
	}
	archiver_set_done(a, content_done, &t);
	e = read_entries(&t);
	int de = archiver_drain(a);
	if (e == 0)
		e = de;
	if (e == 0 && t.content_err)
		e = t.content_err;
	archiver_set_done(a, NULL, NULL);
	if (e == 0)
		e = store_trees(&t, store_archiver, a, ret_root);
out:
	tin_free(&t);
	if (fd >= 0)
		close(fd);
	return e;
}

/* tin_store_fn of tarin_parse_memory: encodes and decodes again (a built
 * tree the decoder refuses is a bug: CAIRN_EINVAL); the id is a plain hash. */
static int store_encode(void *arg, const struct tree *tr, uint8_t ret_id[32])
{
	struct buf b = BUF_INIT;
	struct tree back;
	(void)arg;
	tree_init(&back);
	int e = tree_encode(tr, &b);
	if (e == 0 && (e = tree_decode(b.data, b.len, &back)) != 0 && e != CAIRN_ENOMEM)
		e = CAIRN_EINVAL;
	if (e == 0 && back.n_nodes != tr->n_nodes)
		e = CAIRN_EINVAL;
	tree_free(&back);
	if (e == 0) {
		uint64_t h = name_hash(NULL, (const char *)b.data, b.len);
		for (size_t i = 0; i < 4; i++)
			memcpy(ret_id + 8 * i, &h, 8);
	}
	buf_free(&b);
	return e;
}

int tarin_parse_memory(const void *data, size_t len, const struct tarin_opts *o,
		       struct tarin_stats *ret)
{
	struct tin t;
	uint8_t root[32];
	int e = tin_init(&t, o, ret, "(memory)");
	if (e == 0 && archive_read_open_memory(t.ar, data, len) != ARCHIVE_OK)
		e = ar_fail(&t, NULL);
	if (e == 0)
		e = read_entries(&t);
	if (e == 0)
		e = store_trees(&t, store_encode, NULL, root);
	tin_free(&t);
	return e;
}
