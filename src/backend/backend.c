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

/* Checks the form of -o options: KEY=VALUE with a known backend prefix.
 * Sets *ret_s3 when any is an s3 option. */
static int check_options(const char *const *options, int *ret_s3)
{
	*ret_s3 = 0;
	for (size_t i = 0; options && options[i]; i++) {
		const char *eq = strchr(options[i], '=');
		if (!eq || eq == options[i]) {
			log_error("option '%s' is not KEY=VALUE (e.g. -o s3.region=eu-west-1)",
				  options[i]);
			return CAIRN_EINVAL;
		}
		if (strncmp(options[i], "s3.", 3) != 0) {
			log_error("unknown option '%.*s'; backend options start with 's3.'",
				  (int)(eq - options[i]), options[i]);
			return CAIRN_EINVAL;
		}
		*ret_s3 = 1;
	}
	return 0;
}

int backend_open_with(const char *location, const struct backend_open_opts *o,
		      struct backend **ret)
{
	static const struct backend_open_opts none = { 0 };
	struct backend *b = NULL;
	int e, has_s3;
	if (!o)
		o = &none;
	e = check_options(o->options, &has_s3);
	if (e < 0)
		return e;
	if (strncmp(location, "s3:", 3) == 0) {
		e = backend_s3_open(location + 3, o, &b);
		if (e < 0)
			return e;
		goto wrap;
	}
	if (strncmp(location, "local:", 6) == 0)
		location += 6;
	else if (strstr(location, "://")) {
		log_error("unsupported repository location %s: use a folder, "
			  "s3:https://HOST/BUCKET/PREFIX or s3://BUCKET/PREFIX",
			  location);
		return CAIRN_EINVAL;
	}
	if (!*location) {
		log_error("empty repository location");
		return CAIRN_EINVAL;
	}
	if (has_s3)
		log_warn("s3.* options are ignored for the local repository %s", location);
	e = backend_local_open(location, o->create, &b);
	if (e < 0)
		return e;
wrap:;
	const char *faults = getenv("CAIRN_TEST_FAULTS");
	if (faults && *faults) {
		unsigned parallel = b->parallel;
		e = backend_faulty_wrap(b, faults, &b);
		if (e < 0)
			return e;
		b->parallel = parallel;
	}
	*ret = b;
	return 0;
}

int backend_open(const char *location, int create, struct backend **ret)
{
	struct backend_open_opts o = { .create = create };
	return backend_open_with(location, &o, ret);
}
