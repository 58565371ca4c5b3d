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
#include "cairn/err.h"

/* feature bits */
#define BACKEND_F_LOCAL 0x1	/* objects live on this machine's file system */
#define BACKEND_F_REMOTE 0x2	/* objects are behind a network: requests have latency,
				   so callers should keep several in flight */

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
	/* Optional: removes n objects at once (missing ones are not an error).
	 * NULL: backend_del_many() calls del for each. flags: BACKEND_DEL_*. */
	int (*del_many)(void *impl, const char *const *names, size_t n, unsigned flags);
	/* Optional: a hint that [off, off + len) of name will be read soon,
	 * so the backend may start reading it now (S3: in the background).
	 * Never fails; the later get reports any error. NULL: no read-ahead. */
	void (*prefetch)(void *impl, const char *name, uint64_t off, size_t len, uint64_t size);
	/* Optional: put, when the caller already knows the SHA-256 of the
	 * object's bytes (a pack's or an index file's name is that hash), so
	 * a backend that sends the hash (S3's x-amz-content-sha256) need not
	 * compute it again; the server still checks it against the body.
	 * NULL: put. */
	int (*put_hashed)(void *impl, const char *name, const struct iovec *iov, size_t n,
			  const uint8_t sha256[32]);
};

struct backend {
	const struct backend_ops *ops;
	void *impl;
	char *location;	/* printable location, without secrets */
	unsigned parallel;	/* requests worth running at once (e.g. pack uploads);
				   0 or 1: one at a time */
};

struct backend_open_opts {
	int create;		/* init: make the folder if missing (local); check
				   that the bucket exists (S3) */
	int create_bucket;	/* S3: create the bucket when it is missing */
	const char *const *options; /* NULL-terminated "KEY=VALUE" list (-o), or NULL */
};

/* Opens the backend for a repository location: "PATH", "local:PATH",
 * "s3:http[s]://HOST[:PORT]/BUCKET[/PREFIX]" or "s3://BUCKET[/PREFIX]"
 * (AWS). Options are "s3.*" keys (see backend_s3_open); an unknown key is
 * CAIRN_EINVAL, s3 keys on a local location are ignored with a warning.
 * Returns 0, CAIRN_ENOREPO when the location does not exist (and
 * !create), CAIRN_EINVAL for a location or option it cannot parse,
 * CAIRN_EIO when the storage cannot be reached (init). Errors are logged.
 * *ret is freed with backend_free(). o may be NULL. */
int backend_open_with(const char *location, const struct backend_open_opts *o,
		      struct backend **ret);

/* backend_open_with without options: create as in backend_open_opts. */
int backend_open(const char *location, int create, struct backend **ret);

/* Opens the local-directory backend on root. */
int backend_local_open(const char *root, int create, struct backend **ret);

/* Opens the S3 backend. location is what follows "s3:" (an http[s] URL,
 * or "//BUCKET/PREFIX" for AWS). Options: s3.region=, s3.bucket-lookup=
 * path|dns, s3.storage-class=, s3.connections=N, s3.timeout=SECONDS.
 * Credentials come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/
 * AWS_SESSION_TOKEN or the shared credentials file (AWS_PROFILE). Returns
 * 0, CAIRN_EINVAL (bad location, option or missing credentials),
 * CAIRN_ENOREPO (create without create_bucket and no bucket),
 * CAIRN_EUNSUPPORTED (libcurl older than 7.87), CAIRN_EIO. Reads by
 * ranges of one object are served from a small cache once the object is
 * read often (see s3.c). */
int backend_s3_open(const char *location, const struct backend_open_opts *o,
		    struct backend **ret);

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

/* del_many flag: the deletions need not be durable when the call returns
 * (the local backend does not sync the folders). For objects whose return
 * after a crash is harmless, such as packs no index file names any more. */
#define BACKEND_DEL_LAZY 1u

/* Removes n objects; missing ones are not an error. Durable when it
 * returns unless flags has BACKEND_DEL_LAZY. Returns 0 or the first error
 * (logged). */
static inline int backend_del_many_flags(struct backend *b, const char *const *names, size_t n,
					 unsigned flags)
{
	if (b->ops->del_many)
		return b->ops->del_many(b->impl, names, n, flags);
	for (size_t i = 0; i < n; i++) {
		int e = b->ops->del(b->impl, names[i]);
		if (e < 0 && e != CAIRN_ENOTFOUND)
			return e;
	}
	return 0;
}

/* backend_del_many_flags with no flags: durable. */
static inline int backend_del_many(struct backend *b, const char *const *names, size_t n)
{
	return backend_del_many_flags(b, names, n, 0);
}

/* Does the backend read ahead on hints (backend_prefetch)? */
static inline int backend_can_prefetch(const struct backend *b)
{
	return b->ops->prefetch != NULL;
}

/* Hints that [off, off + len) of name will be read soon; size is the
 * object's whole size when known (0: not known), which spares a remote
 * backend a request for it. Does nothing on backends without read-ahead. */
static inline void backend_prefetch(struct backend *b, const char *name, uint64_t off, size_t len,
				    uint64_t size)
{
	if (b->ops->prefetch)
		b->ops->prefetch(b->impl, name, off, len, size);
}

/* backend_putv for an object whose bytes have the SHA-256 sha256. */
static inline int backend_putv_hashed(struct backend *b, const char *name,
				      const struct iovec *iov, size_t n, const uint8_t sha256[32])
{
	if (b->ops->put_hashed)
		return b->ops->put_hashed(b->impl, name, iov, n, sha256);
	return b->ops->put(b->impl, name, iov, n);
}

/* How many requests the backend wants in flight at once (at least 1). */
static inline unsigned backend_parallel(const struct backend *b)
{
	return b->parallel > 1 ? b->parallel : 1;
}

#endif
