/*
 * unlock.c - `cairn unlock`: remove stale (or all) locks.
 */
#include "cairn/common.h"
#include "cli.h"
#include "cairn/lock.h"
#include "cairn/log.h"
#include "cairn/repo.h"

static const char help[] =
	"usage: cairn unlock [--remove-all]\n"
	"\n"
	"Remove stale locks: locks not refreshed for 30 minutes, or held by a\n"
	"process of this host that no longer runs.\n"
	"\n"
	"Options:\n"
	"      --remove-all           remove every lock, also those of running processes\n";

int cmd_unlock(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "remove-all", no_argument, NULL, 1 },
		CLI_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	int all = 0, c;
	while ((c = getopt_long(argc, argv, CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_global_opt(c, optarg, help))
			continue;
		if (c == 1)
			all = 1;
		else
			return cli_usage_error("unlock", "unknown option");
	}
	if (optind < argc)
		return cli_usage_error("unlock", "unexpected argument '%s'", argv[optind]);
	struct repo *r;
	int e = cli_open_repo(&r);
	if (e < 0)
		return cli_exit(e);
	uint64_t n = 0;
	e = lock_remove(r, all, &n);
	if (e == 0 && !cli_g.quiet)
		printf("removed %llu lock%s\n", (unsigned long long)n, n == 1 ? "" : "s");
	repo_free(r);
	return cli_exit(e);
}
