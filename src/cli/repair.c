/*
 * repair.c - `cairn repair index`.
 */
#include "cairn/common.h"
#include "cli.h"
#include "cairn/log.h"
#include "cairn/repair.h"
#include "cairn/repo.h"

static const char help[] =
	"usage: cairn repair index [OPTIONS]\n"
	"\n"
	"Rebuild the repository's index files from the pack headers, then\n"
	"remove the old index files and rebuild the local index cache.\n";

int cmd_repair(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_global_opt(c, optarg, help))
			continue;
		return cli_usage_error("repair", "unknown option");
	}
	if (argc - optind != 1 || strcmp(argv[optind], "index") != 0)
		return cli_usage_error("repair", "give what to repair: 'index'");
	struct repo *r;
	struct repo_lock *lk;
	int e = cli_open_repo_locked(CLI_LOCK_EXCLUSIVE, &r, &lk);
	if (e < 0)
		return cli_exit(e);
	struct repair_index_result res;
	e = repair_index(r, &res);
	if (e == 0) {
		if (res.bad_packs)
			log_warn("%llu pack(s) have a damaged header; their blobs are not indexed",
				 (unsigned long long)res.bad_packs);
		if (!cli_g.quiet)
			printf("indexed %llu blobs in %llu packs: wrote %llu index files, removed "
			       "%llu old ones\n",
			       (unsigned long long)res.blobs, (unsigned long long)res.packs,
			       (unsigned long long)res.index_files_written,
			       (unsigned long long)res.index_files_removed);
	}
	cli_close_repo(r, lk);
	return cli_exit(e);
}
