/*
 * backend.h - storage of named objects.
 *
 * A backend stores opaque objects under names such as "config",
 * "keys/<hex>", "data/ab/<hex>", "index/<hex>", "snapshots/<hex>",
 * "locks/<hex>". It knows nothing about packs or encryption.
 *
 * A backend is a const table of operations plus the implementation's state
 * (pgBackRest's driver pattern). Callers test feature bits, never the type.
 * All operations are safe to call from several threads at once.
 */
#ifndef CAIRN_BACKEND_H
#define CAIRN_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "cairn/buf.h"

/* feature bits */
#define BACKEND_F_LOCAL 0x1	/* objects live on this machine's file system */

/* Called for each object found by list. Return 0 to go on, anything else
 * to stop listing and make list return that value. */
typedef int (*backend_list_fn)(void *arg, const char *name, uint64_t size);

struct backend_ops {
	const char *name;	/* "local", "s3", "faulty" */
	unsigned features;
	/* Stores an object, the concatenation of n pieces, atomically:
	 * readers see all of it or nothing. Overwrites an existing object.
	 * Pieces let a pack be written in shuffled order without a copy. */
	int (*put)(void *impl, const char *name, const struct iovec *iov, size_t n);
	/* Reads len bytes at off (len 0: to the end) into out (appended).
	 * CAIRN_ENOTFOUND when missing; CAIRN_EIO/ECORRUPT when the object is
	 * shorter than asked. */
	int (*get)(void *impl, const char *name, uint64_t off, size_t len, struct buf *out);
	/* Size of an object, or CAIRN_ENOTFOUND. */
	int (*stat)(void *impl, const char *name, uint64_t *ret_size);
	/* Lists objects whose name starts with prefix (a folder name ending in
	 * '/', e.g. "data/"), in no particular order. */
	int (*list)(void *impl, const char *prefix, backend_list_fn fn, void *arg);
	/* Removes an object; CAIRN_ENOTFOUND when missing. */
	int (*del)(void *impl, const char *name);
	/* Releases the implementation. */
	void (*free)(void *impl);
};

struct backend {
	const struct backend_ops *ops;
	void *impl;
	char *location;	/* printable location, without secrets */
};

/* Opens the backend for a repository location: "PATH", "local:PATH".
 * create: make the folder if missing (init). Returns 0, CAIRN_ENOREPO when
 * the location does not exist (and !create), CAIRN_EINVAL for a location
 * it cannot parse. *ret is freed with backend_free(). */
int backend_open(const char *location, int create, struct backend **ret);

/* Opens the local-directory backend on root. */
int backend_local_open(const char *root, int create, struct backend **ret);

/* Wraps a backend so that tests can inject faults; configured by the
 * environment variable CAIRN_TEST_FAULTS (see faulty.c). Takes ownership. */
int backend_faulty_wrap(struct backend *inner, const char *spec, struct backend **ret);

void backend_free(struct backend *b);

static inline int backend_put(struct backend *b, const char *name, const void *data, size_t len)
{
	struct iovec v = { (void *)data, len };
	return b->ops->put(b->impl, name, &v, 1);
}

static inline int backend_putv(struct backend *b, const char *name, const struct iovec *iov,
			       size_t n)
{
	return b->ops->put(b->impl, name, iov, n);
}

/* Total length of n pieces. */
static inline size_t backend_iov_len(const struct iovec *iov, size_t n)
{
	size_t t = 0;
	for (size_t i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

static inline int backend_get(struct backend *b, const char *name, uint64_t off, size_t len,
			      struct buf *out)
{
	return b->ops->get(b->impl, name, off, len, out);
}

static inline int backend_stat(struct backend *b, const char *name, uint64_t *ret_size)
{
	return b->ops->stat(b->impl, name, ret_size);
}

static inline int backend_list(struct backend *b, const char *prefix, backend_list_fn fn, void *arg)
{
	return b->ops->list(b->impl, prefix, fn, arg);
}

static inline int backend_del(struct backend *b, const char *name)
{
	return b->ops->del(b->impl, name);
}

#endif
