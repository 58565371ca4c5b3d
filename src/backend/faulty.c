/*
 * faulty.c - a fault-injecting wrapper around another backend, for tests.
 *
 * Enabled only when the environment variable CAIRN_TEST_FAULTS is set;
 * its value is a comma-separated list of:
 *   enospc_after=N      puts fail with "no space left" once N bytes were put
 *   fail_put=PREFIX     puts of names starting with PREFIX fail (I/O error)
 *   fail_get=PREFIX     gets of names starting with PREFIX fail (I/O error)
 *   slow_put=MS         puts of packs (data/) wait MS milliseconds first
 */
#include "cairn/common.h"
#include "cairn/backend.h"
#include "cairn/log.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

struct faulty {
	struct backend *inner;
	uint64_t enospc_after;	/* UINT64_MAX: never */
	uint64_t put_bytes;
	char fail_put[64];
	char fail_get[64];
	unsigned slow_put_ms;
	pthread_mutex_t mu;
};

/* 1 when prefix is set and name starts with it. */
static int matches(const char *prefix, const char *name)
{
	return prefix[0] && strncmp(name, prefix, strlen(prefix)) == 0;
}

static int faulty_put(void *impl, const char *name, const struct iovec *iov, size_t n)
{
	struct faulty *f = impl;
	size_t len = backend_iov_len(iov, n);
	if (f->slow_put_ms && strncmp(name, "data/", 5) == 0) {
		struct timespec ts = { f->slow_put_ms / 1000, (long)(f->slow_put_ms % 1000) * 1000000 };
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	if (matches(f->fail_put, name)) {
		log_error("cannot write %s: injected I/O error", name);
		return CAIRN_EIO;
	}
	pthread_mutex_lock(&f->mu);
	int full = f->put_bytes + len > f->enospc_after;
	if (!full)
		f->put_bytes += len;
	pthread_mutex_unlock(&f->mu);
	if (full) {
		log_error("cannot write %s: no space left on device (injected)", name);
		return CAIRN_ENOSPC;
	}
	return backend_putv(f->inner, name, iov, n);
}

static int faulty_get(void *impl, const char *name, uint64_t off, size_t len, struct buf *out)
{
	struct faulty *f = impl;
	if (matches(f->fail_get, name)) {
		log_error("cannot read %s: injected I/O error", name);
		return CAIRN_EIO;
	}
	return backend_get(f->inner, name, off, len, out);
}

static int faulty_stat(void *impl, const char *name, uint64_t *ret_size)
{
	struct faulty *f = impl;
	return backend_stat(f->inner, name, ret_size);
}

static int faulty_list(void *impl, const char *prefix, backend_list_fn fn, void *arg)
{
	struct faulty *f = impl;
	return backend_list(f->inner, prefix, fn, arg);
}

static int faulty_del(void *impl, const char *name)
{
	struct faulty *f = impl;
	return backend_del(f->inner, name);
}

static void faulty_free(void *impl)
{
	struct faulty *f = impl;
	if (!f)
		return;
	backend_free(f->inner);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

static const struct backend_ops faulty_ops = {
	.name = "faulty",
	.put = faulty_put,
	.get = faulty_get,
	.stat = faulty_stat,
	.list = faulty_list,
	.del = faulty_del,
	.free = faulty_free,
};

int backend_faulty_wrap(struct backend *inner, const char *spec, struct backend **ret)
{
	struct faulty *f = calloc(1, sizeof(*f));
	struct backend *b = calloc(1, sizeof(*b));
	if (!f || !b || !(b->location = strdup(inner->location))) {
		free(f);
		free(b);
		backend_free(inner);
		return CAIRN_ENOMEM;
	}
	f->inner = inner;
	f->enospc_after = UINT64_MAX;
	pthread_mutex_init(&f->mu, NULL);
	char *copy = strdup(spec);
	for (char *save = NULL, *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (strncmp(tok, "enospc_after=", 13) == 0)
			f->enospc_after = strtoull(tok + 13, NULL, 10);
		else if (strncmp(tok, "fail_put=", 9) == 0)
			snprintf(f->fail_put, sizeof(f->fail_put), "%s", tok + 9);
		else if (strncmp(tok, "fail_get=", 9) == 0)
			snprintf(f->fail_get, sizeof(f->fail_get), "%s", tok + 9);
		else if (strncmp(tok, "slow_put=", 9) == 0)
			f->slow_put_ms = (unsigned)strtoul(tok + 9, NULL, 10);
	}
	free(copy);
	b->ops = &faulty_ops;
	b->impl = f;
	b->ops = &faulty_ops;
	*ret = b;
	return 0;
}
