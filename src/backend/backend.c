/*
 * backend.c - choosing a backend from a repository location.
 */
#include "cairn/common.h"
#include "cairn/backend.h"
#include "cairn/log.h"

void backend_free(struct backend *b)
{
	if (!b)
		return;
	b->ops->free(b->impl);
	free(b->location);
	free(b);
}

int backend_open(const char *location, int create, struct backend **ret)
{
	struct backend *b = NULL;
	int e;
	if (strncmp(location, "local:", 6) == 0)
		location += 6;
	else if (strncmp(location, "s3:", 3) == 0 || strstr(location, "://")) {
		log_error("unsupported repository location %s: only local folders are supported",
			  location);
		return CAIRN_EINVAL;
	}
	if (!*location) {
		log_error("empty repository location");
		return CAIRN_EINVAL;
	}
	e = backend_local_open(location, create, &b);
	if (e < 0)
		return e;
	const char *faults = getenv("CAIRN_TEST_FAULTS");
	if (faults && *faults) {
		e = backend_faulty_wrap(b, faults, &b);
		if (e < 0)
			return e;
	}
	*ret = b;
	return 0;
}
