/*
 * dump.c - `cairn dump SNAPSHOT PATH`: one file of a snapshot to stdout.
 */
#include "cairn/common.h"
#include "cli.h"
#include "cairn/log.h"
#include "cairn/repo.h"
#include "cairn/restorer.h"
#include "cairn/snaplist.h"
#include "cairn/timeparse.h"

#include <unistd.h>

static const char help[] =
	"usage: cairn dump [OPTIONS] SNAPSHOT PATH\n"
	"       cairn dump [OPTIONS] --at TIME PATH\n"
	"\n"
	"Write the file PATH of a snapshot to standard output. SNAPSHOT is an id,\n"
	"a unique id prefix, or 'latest'. A stdin backup stores its file at the\n"
	"root under its --stdin-name.\n"
	"\n"
	"Options:\n"
	"      --at TIME              the newest snapshot at or before TIME\n"
	"      --host HOST            only consider snapshots of HOST\n"
	"      --tag TAG              only consider snapshots with TAG (repeatable)\n"
	"      --path PATH            only consider snapshots of these paths (repeatable)\n"
	"      --threads N            blob loading threads (default: number of CPUs)\n";

int cmd_dump(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "at", required_argument, NULL, 1 },
		CLI_FILTER_LONGOPTS,
		{ "threads", required_argument, NULL, 5 },
		CLI_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	const char *tags[32], *paths[32];
	struct snap_filter f = { .tags = tags, .paths = paths };
	int has_at = 0, c;
	int64_t at = 0;
	unsigned threads = 0;
	while ((c = getopt_long(argc, argv, CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_global_opt(c, optarg, help))
			continue;
		int fopt = cli_filter_opt(&f, tags, paths, c, optarg, "dump");
		if (fopt < 0)
			return 1;
		if (fopt)
			continue;
		switch (c) {
		case 1:
			if (time_parse(optarg, &at) < 0)
				return cli_usage_error("dump", "cannot parse time '%s' (use "
					"YYYY-MM-DD HH:MM[:SS] or ISO 8601)", optarg);
			has_at = 1;
			break;
		case 5: {
			char *end;
			long l = strtol(optarg, &end, 10);
			if (*end || l < 1 || l > 64)
				return cli_usage_error("dump", "--threads must be 1..64");
			threads = (unsigned)l;
			break;
		}
		default: return cli_usage_error("dump", "unknown option");
		}
	}
	int want = has_at ? 1 : 2;
	if (argc - optind != want)
		return cli_usage_error("dump", has_at ? "give PATH after --at TIME"
						      : "give SNAPSHOT and PATH");
	const char *name = has_at ? NULL : argv[optind];
	const char *path = argv[argc - 1];
	if (isatty(STDOUT_FILENO)) {
		log_error("standard output is a terminal; redirect it to a file or a pipe");
		return 1;
	}
	struct repo *r;
	struct repo_lock *lk;
	int e = cli_open_repo_locked(CLI_LOCK_SHARED, &r, &lk);
	if (e < 0)
		return cli_exit(e);
	struct snap_list l = { 0 };
	struct node n;
	memset(&n, 0, sizeof(n));
	e = snap_list_load(r, &f, &l);
	if (e < 0)
		goto out;
	int idx = snap_list_select(&l, name, has_at, at);
	if (idx < 0) {
		e = idx;
		goto out;
	}
	e = restorer_find(r, l.v[idx].sn.tree, path, &n);
	if (e < 0)
		goto out;
	e = restorer_dump(r, &n, STDOUT_FILENO, threads);
out:
	node_clear(&n);
	snap_list_free(&l);
	cli_close_repo(r, lk);
	return cli_exit(e);
}
