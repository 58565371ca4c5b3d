/*
 * walker.c - backing up file trees (see walker.h).
 *
 * Folders are pending until every child is stored: files whose content is
 * still in the archiver's pipeline, and subfolders not yet finished. A
 * pending folder counts them in `waiting`; when it drops to zero after the
 * folder was fully listed, its tree blob is written and its node in the
 * parent gets the subtree id, which may finish the parent in turn.
 */
#include "cairn/common.h"
#include "cairn/walker.h"
#include "cairn/archiver.h"
#include "cairn/log.h"
#include "cairn/repo.h"
#include "cairn/restorer.h"
#include "cairn/tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define NODE_FAILED ((enum node_type)0)	/* marks a child left out */
#define NAME_CACHE 64

struct pdir {
	struct tree t;
	struct pdir *parent;
	size_t idx;		/* our node in parent->t */
	size_t waiting;
	int walked;
	int has_old;
	struct tree old;	/* the parent snapshot's version of this folder */
	char *path;
};

struct pfile {
	struct pdir *d;
	size_t idx;
	int changed;		/* 1: existed in the parent snapshot */
};

struct id_name {
	uint32_t id;
	char *name;
};

struct walk {
	struct repo *r;
	struct archiver *a;
	const struct walker_opts *o;
	struct walker_stats *st;
	int fatal;
	int root_done;
	uint8_t root_id[32];
	dev_t top_dev;
	struct id_name users[NAME_CACHE], groups[NAME_CACHE];
	size_t n_users, n_groups;
	struct timespec last_progress;
	uint64_t since_progress;
};

int walker_excluded(const char *const *patterns, size_t n, const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	for (size_t i = 0; i < n; i++) {
		const char *p = patterns[i];
		if (strchr(p, '/') ? fnmatch(p, path, 0) == 0 : fnmatch(p, base, 0) == 0)
			return 1;
	}
	return 0;
}

/* Cached user or group name of an id; NULL when unknown. */
static const char *id_name(struct id_name *cache, size_t *n, uint32_t id, int group)
{
	for (size_t i = 0; i < *n; i++)
		if (cache[i].id == id)
			return cache[i].name;
	char buf[4096];
	char *name = NULL;
	if (group) {
		struct group g, *res = NULL;
		if (getgrgid_r(id, &g, buf, sizeof(buf), &res) == 0 && res)
			name = strdup(res->gr_name);
	} else {
		struct passwd pw, *res = NULL;
		if (getpwuid_r(id, &pw, buf, sizeof(buf), &res) == 0 && res)
			name = strdup(res->pw_name);
	}
	if (*n < NAME_CACHE) {
		cache[*n].id = id;
		cache[*n].name = name;
		(*n)++;
		return name;
	}
	free(name);
	return NULL;
}

static int64_t ts_ns(struct timespec t)
{
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Fills a node's metadata from a stat. */
static int node_from_stat(struct walk *w, struct node *n, const char *name, const struct stat *s)
{
	memset(n, 0, sizeof(*n));
	n->name = strdup(name);
	if (!n->name)
		return CAIRN_ENOMEM;
	n->mode = s->st_mode & 07777;
	n->uid = s->st_uid;
	n->gid = s->st_gid;
	const char *u = id_name(w->users, &w->n_users, s->st_uid, 0);
	const char *g = id_name(w->groups, &w->n_groups, s->st_gid, 1);
	if ((u && !(n->user = strdup(u))) || (g && !(n->group = strdup(g))))
		return CAIRN_ENOMEM;
	n->mtime_ns = ts_ns(s->st_mtim);
	n->ctime_ns = ts_ns(s->st_ctim);
	n->inode = s->st_ino;
	n->dev = s->st_dev;
	if (S_ISREG(s->st_mode)) {
		n->type = NODE_FILE;
		n->size = (uint64_t)s->st_size;
		n->nlink = s->st_nlink;
	} else if (S_ISDIR(s->st_mode)) {
		n->type = NODE_DIR;
	} else if (S_ISLNK(s->st_mode)) {
		n->type = NODE_SYMLINK;
		n->size = (uint64_t)s->st_size;
	} else if (S_ISCHR(s->st_mode) || S_ISBLK(s->st_mode)) {
		n->type = S_ISCHR(s->st_mode) ? NODE_CHARDEV : NODE_BLOCKDEV;
		n->rdev = s->st_rdev;
	} else if (S_ISFIFO(s->st_mode)) {
		n->type = NODE_FIFO;
	} else {
		return CAIRN_EUNSUPPORTED;
	}
	return 0;
}

/* Reads extended attributes (through fd when >= 0, else path). */
static void read_xattrs(struct node *n, int fd, const char *path)
{
	char list[65536];
	ssize_t len = fd >= 0 ? flistxattr(fd, list, sizeof(list)) : llistxattr(path, list, sizeof(list));
	if (len <= 0)
		return;
	size_t count = 0;
	for (ssize_t i = 0; i < len; i += (ssize_t)strlen(list + i) + 1)
		count++;
	n->xattrs = calloc(count, sizeof(*n->xattrs));
	if (!n->xattrs)
		return;
	for (ssize_t i = 0; i < len; i += (ssize_t)strlen(list + i) + 1) {
		const char *name = list + i;
		uint8_t val[65536];
		ssize_t vl = fd >= 0 ? fgetxattr(fd, name, val, sizeof(val))
				     : lgetxattr(path, name, val, sizeof(val));
		if (vl < 0) {
			log_warn("cannot read extended attribute %s of %s: %s", name, path,
				 strerror(errno));
			continue;
		}
		struct xattr *x = &n->xattrs[n->n_xattrs];
		x->name = strdup(name);
		x->value = vl ? malloc((size_t)vl) : NULL;
		if (!x->name || (vl && !x->value)) {
			free(x->name);
			free(x->value);
			continue;
		}
		if (vl)
			memcpy(x->value, val, (size_t)vl);
		x->len = (size_t)vl;
		n->n_xattrs++;
	}
	if (n->n_xattrs == 0) {
		free(n->xattrs);
		n->xattrs = NULL;
	}
}

static void progress(struct walk *w, const char *current, int force)
{
	if (!w->o->progress)
		return;
	if (!force && ++w->since_progress < 64)
		return;
	w->since_progress = 0;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!force && ts_ns(now) - ts_ns(w->last_progress) < 200000000)
		return;
	w->last_progress = now;
	w->o->progress(w->o->progress_arg, w->st, current);
}

static struct pdir *pdir_new(struct pdir *parent, size_t idx, const char *path)
{
	struct pdir *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	tree_init(&d->t);
	tree_init(&d->old);
	d->parent = parent;
	d->idx = idx;
	d->path = strdup(path);
	if (!d->path) {
		free(d);
		return NULL;
	}
	if (parent)
		parent->waiting++;
	return d;
}

static void pdir_free(struct pdir *d)
{
	tree_free(&d->t);
	tree_free(&d->old);
	free(d->path);
	free(d);
}

/* Writes finished folders' tree blobs, walking up while parents finish. */
static void pdir_try_finish(struct walk *w, struct pdir *d)
{
	while (d && d->walked && d->waiting == 0 && !w->fatal) {
		/* drop children that could not be stored */
		size_t k = 0;
		for (size_t i = 0; i < d->t.n_nodes; i++) {
			if (d->t.nodes[i].type == NODE_FAILED)
				node_clear(&d->t.nodes[i]);
			else
				d->t.nodes[k++] = d->t.nodes[i];
		}
		d->t.n_nodes = k;
		uint8_t id[32];
		int e = tree_sort(&d->t);
		if (e == 0)
			e = archiver_store_tree(w->a, &d->t, id);
		if (e < 0) {
			log_error("cannot store the folder %s: %s", d->path, cairn_strerror(e));
			w->fatal = e;
			return;
		}
		struct pdir *p = d->parent;
		if (p) {
			struct node *n = &p->t.nodes[d->idx];
			const struct node *old = p->has_old ? tree_find(&p->old, n->name) : NULL;
			if (!old || old->type != NODE_DIR)
				w->st->dirs_new++;
			else if (old->has_subtree && memcmp(old->subtree, id, 32) == 0)
				w->st->dirs_unmodified++;
			else
				w->st->dirs_changed++;
			n->has_subtree = 1;
			memcpy(n->subtree, id, 32);
			p->waiting--;
		} else {
			memcpy(w->root_id, id, 32);
			w->root_done = 1;
		}
		pdir_free(d);
		d = p;
	}
}

/* Archiver callback: a file's content is stored (or could not be read). */
static void file_done(void *arg, uint64_t cookie, int err, uint32_t depth, struct content_ref *refs,
		      size_t n, uint64_t size)
{
	struct walk *w = arg;
	struct pfile *pf = (struct pfile *)(uintptr_t)cookie;
	struct pdir *d = pf->d;
	struct node *node = &d->t.nodes[pf->idx];
	if (err) {
		node_clear(node);
		node->type = NODE_FAILED;
		w->st->errors++;
		free(refs);
	} else {
		node->content_depth = depth;
		node->content = refs;
		node->n_content = n;
		if (node->size != size)
			node->size = size;
		for (size_t i = 0; i < n && depth == 0; i++) {
			static const uint8_t zero[32];
			if (memcmp(refs[i].id, zero, 32) == 0) {
				node->flags |= NODE_F_SPARSE;
				break;
			}
		}
		w->st->bytes_read += size;
		if (pf->changed)
			w->st->files_changed++;
		else
			w->st->files_new++;
	}
	free(pf);
	d->waiting--;
	pdir_try_finish(w, d);
}

/* Loads the parent snapshot's subtree for a child folder. */
static void load_old(struct walk *w, struct pdir *parent, struct pdir *child, const char *name)
{
	if (!parent || !parent->has_old)
		return;
	const struct node *o = tree_find(&parent->old, name);
	if (!o || o->type != NODE_DIR || !o->has_subtree)
		return;
	if (restorer_load_tree(w->r, o->subtree, &child->old) == 0)
		child->has_old = 1;
}

static int walk_entry(struct walk *w, struct pdir *d, int dirfd, const char *name, const char *path);

/* Stores a regular file: unchanged ones from the parent, others read. */
static int walk_file(struct walk *w, struct pdir *d, int dirfd, struct node *n, const char *path)
{
	const struct node *old = d->has_old ? tree_find(&d->old, n->name) : NULL;
	w->st->bytes_total += n->size;
	if (old && old->type == NODE_FILE && old->size == n->size && old->mtime_ns == n->mtime_ns &&
	    old->ctime_ns == n->ctime_ns && old->inode == n->inode && !(old->flags & NODE_F_DAMAGED)) {
		n->content_depth = old->content_depth;
		n->flags |= old->flags & NODE_F_SPARSE;
		if (old->n_content) {
			n->content = malloc(old->n_content * sizeof(*n->content));
			if (!n->content)
				return CAIRN_ENOMEM;
			memcpy(n->content, old->content, old->n_content * sizeof(*n->content));
			n->n_content = old->n_content;
		}
		read_xattrs(n, -1, path);
		w->st->files_unmodified++;
		return tree_add(&d->t, n);
	}
	int fd = openat(dirfd, n->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = openat(dirfd, n->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		log_error("cannot read %s: %s", path, strerror(errno));
		w->st->errors++;
		node_clear(n);
		return 0;
	}
	struct stat before;
	if (fstat(fd, &before) < 0 || !S_ISREG(before.st_mode)) {
		log_error("cannot read %s: it changed type while being backed up", path);
		w->st->errors++;
		node_clear(n);
		close(fd);
		return 0;
	}
	read_xattrs(n, fd, path);
	struct pfile *pf = malloc(sizeof(*pf));
	if (!pf) {
		close(fd);
		return CAIRN_ENOMEM;
	}
	pf->d = d;
	pf->idx = d->t.n_nodes;
	pf->changed = old != NULL;
	int sparse = (uint64_t)before.st_blocks * 512 < (uint64_t)before.st_size;
	int e = tree_add(&d->t, n);
	if (e < 0) {
		free(pf);
		close(fd);
		return e;
	}
	d->waiting++;
	e = archiver_add_file(w->a, fd, path, (uint64_t)(uintptr_t)pf, sparse);
	struct stat after;
	if (e == 0 && fstat(fd, &after) == 0 &&
	    (after.st_size != before.st_size || ts_ns(after.st_mtim) != ts_ns(before.st_mtim) ||
	     ts_ns(after.st_ctim) != ts_ns(before.st_ctim)))
		log_warn("%s changed while it was read; the snapshot has the bytes as read", path);
	close(fd);
	return e;
}

/* qsort comparator for an array of strings, bytewise. */
static int strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists a folder in bytewise name order. */
static int list_dir(int fd, char ***ret, size_t *ret_n, const char *path)
{
	int dfd = dup(fd);
	DIR *dir = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!dir) {
		if (dfd >= 0)
			close(dfd);
		log_error("cannot list %s: %s", path, strerror(errno));
		return CAIRN_EIO;
	}
	char **v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int e = 0;
	errno = 0;
	while ((de = readdir(dir)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				e = CAIRN_ENOMEM;
				break;
			}
			v = nv;
		}
		if (!(v[n] = strdup(de->d_name))) {
			e = CAIRN_ENOMEM;
			break;
		}
		n++;
	}
	closedir(dir);
	if (e == 0 && n > 1)
		qsort(v, n, sizeof(*v), strcmp_ptr);
	*ret = v;
	*ret_n = n;
	return e;
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* 1 when the folder holds a valid CACHEDIR.TAG (bford.net/cachedir). */
static int is_cache_dir(int fd)
{
	static const char sig[] = "Signature: 8a477f597d28d172789f06886806bc55";
	int t = openat(fd, "CACHEDIR.TAG", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (t < 0)
		return 0;
	char buf[sizeof(sig)];
	ssize_t r = read(t, buf, sizeof(sig) - 1);
	close(t);
	return r == (ssize_t)sizeof(sig) - 1 && memcmp(buf, sig, sizeof(sig) - 1) == 0;
}

/* Joins a folder path and a name ("/" + "etc" -> "/etc"). */
static char *join_path(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", name);
	return p;
}

/* Stores a folder: its node now, its tree when all children are stored. */
static int walk_dir(struct walk *w, struct pdir *d, int dirfd, struct node *n, const char *path,
		    const struct stat *st)
{
	int fd = openat(dirfd, n->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		log_error("cannot read the folder %s: %s", path, strerror(errno));
		w->st->errors++;
	} else {
		read_xattrs(n, fd, path);
	}
	size_t idx = d->t.n_nodes;
	char *name = strdup(n->name);
	int e = name ? tree_add(&d->t, n) : CAIRN_ENOMEM;
	struct pdir *child = e == 0 ? pdir_new(d, idx, path) : NULL;
	if (!child) {
		free(name);
		if (fd >= 0)
			close(fd);
		return CAIRN_ENOMEM;
	}
	load_old(w, d, child, name);
	free(name);
	int cross = w->o->one_file_system && st->st_dev != w->top_dev;
	if (fd >= 0 && !cross) {
		char **names = NULL;
		size_t nn = 0;
		int le = list_dir(fd, &names, &nn, path);
		if (le == CAIRN_ENOMEM) {
			close(fd);
			return le;
		}
		if (le < 0)
			w->st->errors++;
		int cache = w->o->exclude_caches && is_cache_dir(fd);
		for (size_t i = 0; i < nn && e == 0 && !w->fatal; i++) {
			if (cache && strcmp(names[i], "CACHEDIR.TAG") != 0)
				continue;
			char *cp = join_path(path, names[i]);
			e = cp ? walk_entry(w, child, fd, names[i], cp) : CAIRN_ENOMEM;
			free(cp);
		}
		free_names(names, nn);
	}
	if (fd >= 0)
		close(fd);
	child->walked = 1;
	pdir_try_finish(w, child);
	return e ? e : w->fatal;
}

static int walk_entry(struct walk *w, struct pdir *d, int dirfd, const char *name, const char *path)
{
	struct stat st;
	struct node n;
	if (w->o->n_excludes && walker_excluded(w->o->excludes, w->o->n_excludes, path))
		return 0;
	progress(w, path, 0);
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		log_error("cannot read %s: %s", path, strerror(errno));
		w->st->errors++;
		return 0;
	}
	int e = node_from_stat(w, &n, name, &st);
	if (e == CAIRN_EUNSUPPORTED) {
		log_info("skipping %s: sockets are not backed up", path);
		w->st->skipped++;
		node_clear(&n);
		return 0;
	}
	if (e < 0) {
		node_clear(&n);
		return e;
	}
	switch (n.type) {
	case NODE_FILE:
		return walk_file(w, d, dirfd, &n, path);
	case NODE_DIR:
		return walk_dir(w, d, dirfd, &n, path, &st);
	case NODE_SYMLINK: {
		char target[4096];
		ssize_t l = readlinkat(dirfd, name, target, sizeof(target) - 1);
		if (l < 0) {
			log_error("cannot read the link %s: %s", path, strerror(errno));
			w->st->errors++;
			node_clear(&n);
			return 0;
		}
		target[l] = 0;
		n.link_target = strdup(target);
		if (!n.link_target) {
			node_clear(&n);
			return CAIRN_ENOMEM;
		}
		read_xattrs(&n, -1, path);
		return tree_add(&d->t, &n);
	}
	default:
		read_xattrs(&n, -1, path);
		return tree_add(&d->t, &n);
	}
}

char *walker_normalize(const char *p)
{
	char cwd[4096];
	size_t n = strlen(p) + sizeof(cwd) + 2;
	char *tmp = malloc(n), *out = malloc(n);
	if (!tmp || !out) {
		free(tmp);
		free(out);
		return NULL;
	}
	if (p[0] == '/')
		snprintf(tmp, n, "%s", p);
	else if (getcwd(cwd, sizeof(cwd)))
		snprintf(tmp, n, "%s/%s", cwd, p);
	else {
		free(tmp);
		free(out);
		return NULL;
	}
	size_t o = 0;
	char *save = NULL;
	for (char *c = strtok_r(tmp, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..")) {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
			continue;
		}
		out[o++] = '/';
		size_t l = strlen(c);
		memcpy(out + o, c, l);
		o += l;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = 0;
	free(tmp);
	return out;
}

/*
 * The folders above the given paths: d is the pending folder for `prefix`
 * ("/" for the root); paths[] all lie below prefix. Groups them by their
 * next component; a path that is exactly prefix/name is walked for real,
 * otherwise prefix/name is an intermediate folder with its own metadata.
 */
static int walk_virtual(struct walk *w, struct pdir *d, const char *prefix, char **paths, size_t n)
{
	size_t plen = strcmp(prefix, "/") ? strlen(prefix) : 0;
	size_t i = 0;
	int e = 0;
	while (i < n && e == 0 && !w->fatal) {
		const char *rest = paths[i] + plen + 1;
		const char *slash = strchr(rest, '/');
		size_t clen = slash ? (size_t)(slash - rest) : strlen(rest);
		size_t j = i;
		while (j < n && strncmp(paths[j] + plen + 1, rest, clen) == 0 &&
		       (paths[j][plen + 1 + clen] == '/' || paths[j][plen + 1 + clen] == 0))
			j++;
		char name[4096];
		snprintf(name, sizeof(name), "%.*s", (int)clen, rest);
		char *full = join_path(prefix, name);
		if (!full)
			return CAIRN_ENOMEM;
		int dirfd = open(prefix, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dirfd < 0) {
			log_error("cannot read %s: %s", prefix, strerror(errno));
			w->st->errors++;
		} else if (strlen(paths[i]) == strlen(full)) {
			/* the path itself (paths below it were dropped as redundant) */
			if (w->o->one_file_system) {
				struct stat st;
				if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
					w->top_dev = st.st_dev;
			}
			e = walk_entry(w, d, dirfd, name, full);
		} else {
			struct stat st;
			struct node nd;
			if (fstatat(dirfd, name, &st, 0) < 0 || !S_ISDIR(st.st_mode)) {
				log_error("cannot read %s: %s", full, strerror(errno ? errno : ENOTDIR));
				w->st->errors++;
			} else if ((e = node_from_stat(w, &nd, name, &st)) == 0) {
				nd.type = NODE_DIR;
				size_t idx = d->t.n_nodes;
				e = tree_add(&d->t, &nd);
				struct pdir *child = e == 0 ? pdir_new(d, idx, full) : NULL;
				if (!child && e == 0)
					e = CAIRN_ENOMEM;
				if (child) {
					load_old(w, d, child, name);
					e = walk_virtual(w, child, full, paths + i, j - i);
					child->walked = 1;
					pdir_try_finish(w, child);
				}
			} else {
				node_clear(&nd);
			}
		}
		if (dirfd >= 0)
			close(dirfd);
		free(full);
		i = j;
	}
	return e;
}

int walker_backup(struct repo *r, struct archiver *a, const struct walker_opts *o,
		  uint8_t ret_root[32], struct walker_stats *stats)
{
	struct walk w = { .r = r, .a = a, .o = o, .st = stats };
	char **paths = calloc(o->n_paths ? o->n_paths : 1, sizeof(*paths));
	size_t n = 0;
	int e = 0;
	memset(stats, 0, sizeof(*stats));
	if (!paths)
		return CAIRN_ENOMEM;
	for (size_t i = 0; i < o->n_paths; i++) {
		if (!(paths[n] = walker_normalize(o->paths[i]))) {
			e = CAIRN_ENOMEM;
			goto out;
		}
		if (!strcmp(paths[n], "/")) {
			log_error("backing up / as a whole is not supported; name its folders");
			e = CAIRN_EINVAL;
			n++;
			goto out;
		}
		n++;
	}
	qsort(paths, n, sizeof(*paths), strcmp_ptr);
	/* drop duplicates and paths inside another given path */
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k > 0) {
			size_t l = strlen(paths[k - 1]);
			if (!strncmp(paths[i], paths[k - 1], l) && (paths[i][l] == '/' || !paths[i][l])) {
				free(paths[i]);
				continue;
			}
		}
		paths[k++] = paths[i];
	}
	n = k;
	archiver_set_done(a, file_done, &w);
	struct pdir *root = pdir_new(NULL, 0, "/");
	if (!root) {
		e = CAIRN_ENOMEM;
		goto out;
	}
	if (o->has_parent && restorer_load_tree(r, o->parent_tree, &root->old) == 0)
		root->has_old = 1;
	e = walk_virtual(&w, root, "/", paths, n);
	if (e == 0)
		e = archiver_drain(a);
	if (e == 0 && !w.fatal) {
		root->walked = 1;
		pdir_try_finish(&w, root);
		root = NULL;
	}
	if (!e)
		e = w.fatal;
	if (e == 0 && !w.root_done)
		e = CAIRN_EIO;
	if (e == 0)
		memcpy(ret_root, w.root_id, 32);
	progress(&w, "", 1);
	/* on failure pending folders are abandoned with the process */
	(void)root;
out:
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	for (size_t i = 0; i < w.n_users; i++)
		free(w.users[i].name);
	for (size_t i = 0; i < w.n_groups; i++)
		free(w.groups[i].name);
	return e;
}
