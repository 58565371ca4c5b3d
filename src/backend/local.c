/*
 * local.c - the local-directory backend.
 *
 * Objects are files under the repository folder at their names. A put
 * writes "<name>.tmp-<random>", fsyncs it, renames it over the final name
 * and fsyncs the folder, so a crash leaves either the old state or the new
 * one plus at most a temporary file that list() ignores. Folders are
 * created on demand (0700).
 *
 * Packs (names under "data/") are named by the hash of their bytes and
 * never change, so their descriptors are kept open in a small LRU
 * (LOCAL_FD_CACHE): reading many blobs of one pack costs one open(), not
 * one per blob. Other objects are opened on every get. An evicted
 * descriptor still in use by a pread is closed by its last user; a del or
 * put of a pack drops its cached descriptor.
 */
#include "cairn/common.h"
#include "cairn/backend.h"
#include "cairn/crypto.h"
#include "cairn/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOCAL_FD_CACHE 16

/* An open pack. */
struct local_fd {
	char *name;		/* object name; NULL: slot not cached */
	int fd;			/* -1: slot free */
	unsigned users;		/* gets reading through fd right now */
	uint64_t tick;		/* last use, for LRU */
};

struct local {
	char *root;
	pthread_mutex_t mu;	/* fds, tick */
	struct local_fd fds[LOCAL_FD_CACHE];
	uint64_t tick;
};

/* 1 for names whose objects never change (packs), worth an open fd. */
static int local_cacheable(const char *name)
{
	return strncmp(name, "data/", 5) == 0;
}

/* Closes a slot's descriptor unless a get still reads through it (then the
 * last user closes it); the slot leaves the cache either way (caller holds
 * mu). */
static void local_fd_drop(struct local_fd *s)
{
	free(s->name);
	s->name = NULL;
	if (s->users == 0 && s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
}

/* Forgets the cached descriptor of name, if any (after a put or del). */
static void local_fd_forget(struct local *l, const char *name)
{
	if (!local_cacheable(name))
		return;
	pthread_mutex_lock(&l->mu);
	for (size_t i = 0; i < LOCAL_FD_CACHE; i++)
		if (l->fds[i].name && strcmp(l->fds[i].name, name) == 0)
			local_fd_drop(&l->fds[i]);
	pthread_mutex_unlock(&l->mu);
}

/* Opens path for reading, through the cache for packs. Returns an fd or
 * -errno; *ret_slot is the cache slot to release with local_fd_release, or
 * -1 when the caller closes the fd itself. */
static int local_fd_get(struct local *l, const char *name, const char *path, int *ret_slot)
{
	*ret_slot = -1;
	if (!local_cacheable(name)) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	pthread_mutex_lock(&l->mu);
	int victim = -1;	/* a free slot, else the least recently used idle pack */
	for (int i = 0; i < LOCAL_FD_CACHE; i++) {
		struct local_fd *s = &l->fds[i];
		if (s->name && strcmp(s->name, name) == 0) {
			s->users++;
			s->tick = ++l->tick;
			*ret_slot = i;
			pthread_mutex_unlock(&l->mu);
			return s->fd;
		}
		if (s->users)
			continue;	/* read through right now: not a victim */
		if (!s->name) {
			if (victim < 0 || l->fds[victim].name)
				victim = i;
		} else if (victim < 0 || (l->fds[victim].name && s->tick < l->fds[victim].tick)) {
			victim = i;
		}
	}
	/* opening under the lock: rare (once per pack), and it keeps two
	 * threads from opening the same pack twice */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = -errno;
		pthread_mutex_unlock(&l->mu);
		return e;
	}
	char *copy = strdup(name);
	if (victim < 0 || !copy) {	/* every slot in use: an uncached open */
		free(copy);
		pthread_mutex_unlock(&l->mu);
		return fd;
	}
	struct local_fd *s = &l->fds[victim];
	if (s->name)
		local_fd_drop(s);
	s->name = copy;
	s->fd = fd;
	s->users = 1;
	s->tick = ++l->tick;
	*ret_slot = victim;
	pthread_mutex_unlock(&l->mu);
	return fd;
}

/* Ends a get's use of an fd from local_fd_get. */
static void local_fd_release(struct local *l, int fd, int slot)
{
	if (slot < 0) {
		close(fd);
		return;
	}
	pthread_mutex_lock(&l->mu);
	struct local_fd *s = &l->fds[slot];
	if (--s->users == 0 && !s->name) {
		close(s->fd);
		s->fd = -1;
	}
	pthread_mutex_unlock(&l->mu);
}

/* Joins root and name; NULL when too long. */
static char *local_path(const struct local *l, const char *name)
{
	size_t n = strlen(l->root) + strlen(name) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", l->root, name);
	return p;
}

/* fsyncs a folder so a rename in it is durable. */
static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cairn_from_errno(errno);
	int r = fsync(fd) < 0 ? cairn_from_errno(errno) : 0;
	close(fd);
	return r;
}

/* Creates every missing folder of path's parent. */
static int mkdir_parents(char *path)
{
	for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = 0;
		int r = mkdir(path, 0700);
		int e = errno;
		*s = '/';
		if (r < 0 && e != EEXIST)
			return cairn_from_errno(e);
	}
	return 0;
}

/* Writes all pieces, IOV_MAX at a time, resuming after short writes. */
static int write_all(int fd, const struct iovec *iov, size_t n)
{
	struct iovec cur[64];
	size_t i = 0, off = 0;	/* next piece and offset in it */
	while (i < n) {
		size_t k = 0;
		for (size_t j = i; j < n && k < CAIRN_ARRAY_LEN(cur); j++, k++) {
			cur[k] = iov[j];
			if (j == i) {
				cur[k].iov_base = (uint8_t *)cur[k].iov_base + off;
				cur[k].iov_len -= off;
			}
		}
		ssize_t w = writev(fd, cur, (int)k);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		size_t done = (size_t)w;
		while (i < n && done >= iov[i].iov_len - off) {
			done -= iov[i].iov_len - off;
			off = 0;
			i++;
		}
		off += done;
	}
	return 0;
}

static int local_put(void *impl, const char *name, const struct iovec *iov, size_t niov)
{
	struct local *l = impl;
	int ret = CAIRN_ENOMEM;
	char *path = local_path(l, name);
	char *tmp = NULL;
	int fd = -1;
	if (!path)
		goto fail;
	uint8_t rnd[8];
	char rhex[17];
	crypto_random(rnd, sizeof(rnd));
	hex_encode(rnd, sizeof(rnd), rhex);
	size_t tn = strlen(path) + 32;
	tmp = malloc(tn);
	if (!tmp)
		goto fail;
	snprintf(tmp, tn, "%s.tmp-%s", path, rhex);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENOENT) {
		ret = mkdir_parents(tmp);
		if (ret < 0)
			goto fail_errno;
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	}
	if (fd < 0) {
		ret = cairn_from_errno(errno);
		goto fail_errno;
	}
	int e = write_all(fd, iov, niov);
	if (e == 0 && fsync(fd) < 0)
		e = -errno;
	if (close(fd) < 0 && e == 0)
		e = -errno;
	fd = -1;
	if (e < 0) {
		ret = cairn_from_errno(-e);
		log_error("cannot write %s: %s", path, strerror(-e));
		goto fail_unlink;
	}
	if (rename(tmp, path) < 0) {
		ret = cairn_from_errno(errno);
		log_error("cannot rename %s: %s", tmp, strerror(errno));
		goto fail_unlink;
	}
	local_fd_forget(l, name);
	char *slash = strrchr(path, '/');
	*slash = 0;
	ret = fsync_dir(path);
	if (ret < 0)
		log_error("cannot fsync folder %s: %s", path, cairn_strerror(ret));
	free(tmp);
	free(path);
	return ret;

fail_errno:
	log_error("cannot create %s: %s", tmp, strerror(errno));
	goto fail;
fail_unlink:
	unlink(tmp);
fail:
	if (fd >= 0)
		close(fd);
	free(tmp);
	free(path);
	return ret;
}

static int local_get(void *impl, const char *name, uint64_t off, size_t len, struct buf *out)
{
	struct local *l = impl;
	char *path = local_path(l, name);
	if (!path)
		return CAIRN_ENOMEM;
	int ret = 0, slot = -1;
	int fd = local_fd_get(l, name, path, &slot);
	if (fd < 0) {
		ret = cairn_from_errno(-fd);
		if (ret != CAIRN_ENOTFOUND)
			log_error("cannot open %s: %s", path, strerror(-fd));
		goto out;
	}
	if (len == 0) {
		struct stat st;
		if (fstat(fd, &st) < 0) {
			ret = cairn_from_errno(errno);
			log_error("cannot stat %s: %s", path, strerror(errno));
			goto out;
		}
		if ((uint64_t)st.st_size < off) {
			ret = CAIRN_ECORRUPT;
			log_error("%s is shorter than expected", path);
			goto out;
		}
		len = (size_t)((uint64_t)st.st_size - off);
	}
	ret = buf_reserve(out, len);
	if (ret < 0)
		goto out;
	size_t done = 0;
	while (done < len) {
		ssize_t r = pread(fd, out->data + out->len + done, len - done, (off_t)(off + done));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			ret = cairn_from_errno(errno);
			log_error("cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0) {
			ret = CAIRN_ECORRUPT;
			log_error("%s is shorter than expected (wanted %zu bytes at offset %llu)", path,
				  len, (unsigned long long)off);
			goto out;
		}
		done += (size_t)r;
	}
	out->len += len;
out:
	if (fd >= 0)
		local_fd_release(l, fd, slot);
	free(path);
	return ret;
}

static int local_stat(void *impl, const char *name, uint64_t *ret_size)
{
	struct local *l = impl;
	char *path = local_path(l, name);
	if (!path)
		return CAIRN_ENOMEM;
	struct stat st;
	int ret = 0;
	if (stat(path, &st) < 0)
		ret = cairn_from_errno(errno);
	else if (ret_size)
		*ret_size = (uint64_t)st.st_size;
	free(path);
	return ret;
}

/* Walks folder `rel` (relative to root, ending in '/') recursively. */
static int local_walk(struct local *l, const char *rel, backend_list_fn fn, void *arg, int depth)
{
	char *dir = local_path(l, rel);
	if (!dir)
		return CAIRN_ENOMEM;
	DIR *d = opendir(dir);
	if (!d) {
		int e = errno;
		free(dir);
		if (e == ENOENT)
			return 0;
		log_error("cannot list %s/%s: %s", l->root, rel, strerror(e));
		return cairn_from_errno(e);
	}
	int ret = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strstr(de->d_name, ".tmp-"))
			continue;
		char name[4096];
		int n = snprintf(name, sizeof(name), "%s%s", rel, de->d_name);
		if (n < 0 || (size_t)n >= sizeof(name) - 1)
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (depth >= 4)
				continue;
			name[n] = '/';
			name[n + 1] = 0;
			ret = local_walk(l, name, fn, arg, depth + 1);
		} else if (S_ISREG(st.st_mode)) {
			ret = fn(arg, name, (uint64_t)st.st_size);
		}
		if (ret)
			break;
	}
	closedir(d);
	free(dir);
	return ret;
}

static int local_list(void *impl, const char *prefix, backend_list_fn fn, void *arg)
{
	return local_walk(impl, prefix, fn, arg, 0);
}

static int local_del(void *impl, const char *name)
{
	struct local *l = impl;
	char *path = local_path(l, name);
	if (!path)
		return CAIRN_ENOMEM;
	int ret = 0;
	local_fd_forget(l, name);
	if (unlink(path) < 0) {
		ret = cairn_from_errno(errno);
		if (ret != CAIRN_ENOTFOUND)
			log_error("cannot delete %s: %s", path, strerror(errno));
	} else {
		char *slash = strrchr(path, '/');
		*slash = 0;
		ret = fsync_dir(path);
	}
	free(path);
	return ret;
}

/* Unlinks every object first and fsyncs each folder once afterwards (not
 * at all with BACKEND_DEL_LAZY): n deletions in one folder cost one fsync
 * instead of n. */
static int local_del_many(void *impl, const char *const *names, size_t n, unsigned flags)
{
	struct local *l = impl;
	char **paths = calloc(n ? n : 1, sizeof(*paths));
	int ret = 0;
	if (!paths)
		return CAIRN_ENOMEM;
	for (size_t i = 0; i < n && ret == 0; i++) {
		if (!(paths[i] = local_path(l, names[i]))) {
			ret = CAIRN_ENOMEM;
			break;
		}
		if (unlink(paths[i]) < 0 && errno != ENOENT) {
			ret = cairn_from_errno(errno);
			log_error("cannot delete %s: %s", paths[i], strerror(errno));
		}
		*strrchr(paths[i], '/') = 0;
	}
	/* folders in the order met; a repeat of the previous one is skipped */
	for (size_t i = 0; !(flags & BACKEND_DEL_LAZY) && i < n && paths[i]; i++) {
		if (i && !strcmp(paths[i], paths[i - 1]))
			continue;
		int e = fsync_dir(paths[i]);
		if (e < 0 && ret == 0)
			ret = e;
	}
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	return ret;
}

static void local_free(void *impl)
{
	struct local *l = impl;
	if (!l)
		return;
	for (size_t i = 0; i < LOCAL_FD_CACHE; i++) {
		free(l->fds[i].name);
		if (l->fds[i].fd >= 0)
			close(l->fds[i].fd);
	}
	pthread_mutex_destroy(&l->mu);
	free(l->root);
	free(l);
}

static const struct backend_ops local_ops = {
	.name = "local",
	.features = BACKEND_F_LOCAL,
	.put = local_put,
	.get = local_get,
	.stat = local_stat,
	.list = local_list,
	.del = local_del,
	.free = local_free,
	.del_many = local_del_many,
};

int backend_local_open(const char *root, int create, struct backend **ret)
{
	struct stat st;
	if (stat(root, &st) < 0) {
		if (errno != ENOENT || !create) {
			log_error("no repository at %s: %s", root, strerror(errno));
			return CAIRN_ENOREPO;
		}
		char *tmp = malloc(strlen(root) + 3);
		if (!tmp)
			return CAIRN_ENOMEM;
		snprintf(tmp, strlen(root) + 3, "%s/x", root);
		int e = mkdir_parents(tmp);
		free(tmp);
		if (e < 0) {
			log_error("cannot create %s: %s", root, cairn_strerror(e));
			return e;
		}
	} else if (!S_ISDIR(st.st_mode)) {
		log_error("%s is not a folder", root);
		return CAIRN_ENOREPO;
	}
	struct local *l = calloc(1, sizeof(*l));
	struct backend *b = calloc(1, sizeof(*b));
	if (!l || !b || !(l->root = strdup(root)) || !(b->location = strdup(root))) {
		if (l)
			free(l->root);
		free(l);
		free(b);
		return CAIRN_ENOMEM;
	}
	pthread_mutex_init(&l->mu, NULL);
	for (size_t i = 0; i < LOCAL_FD_CACHE; i++)
		l->fds[i].fd = -1;
	size_t n = strlen(l->root);
	while (n > 1 && l->root[n - 1] == '/')
		l->root[--n] = 0;
	b->ops = &local_ops;
	/* two uploads: one hashes a pack while the other waits for fsync (saver.c) */
	b->parallel = 2;
	b->impl = l;
	*ret = b;
	return 0;
}
