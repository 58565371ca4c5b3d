/*
 * mount.c - `cairn mount MOUNTPOINT`: browse snapshots through FUSE.
 */
#include "cairn/common.h"
#include "cli.h"
#include "cairn/log.h"
#include "cairn/mounter.h"
#include "cairn/repo.h"

static const char help[] =
	"usage: cairn mount [OPTIONS] MOUNTPOINT\n"
	"\n"
	"Mount the repository read-only on MOUNTPOINT (an empty folder) and\n"
	"serve until it is unmounted with 'fusermount3 -u MOUNTPOINT', Ctrl-C or\n"
	"SIGTERM. Snapshots appear under snapshots/<time>, ids/<id>,\n"
	"hosts/<host>/<time> and tags/<tag>/<time>; snapshots/latest links to\n"
	"the newest. New snapshots appear without remounting.\n"
	"\n"
	"Options:\n"
	"      --cache-size SIZE      memory for opened chunks (default 128MiB)\n"
	"      --refresh SECONDS      re-read the snapshot list at most this often\n"
	"                             (default 60)\n"
	"      --allow-other          let other users read (needs user_allow_other)\n";

int cmd_mount(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "cache-size", required_argument, NULL, 1 },
		{ "refresh", required_argument, NULL, 2 },
		{ "allow-other", no_argument, NULL, 3 },
		CLI_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct mount_opts o = { 0 };
	int c;
	while ((c = getopt_long(argc, argv, CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_global_opt(c, optarg, help))
			continue;
		switch (c) {
		case 1:
			if (cli_parse_size(optarg, &o.cache_bytes) < 0 || o.cache_bytes < (1u << 20))
				return cli_usage_error("mount", "--cache-size takes a size of at least 1MiB");
			break;
		case 2: {
			char *end;
			long l = strtol(optarg, &end, 10);
			if (*end || l < 1 || l > 86400)
				return cli_usage_error("mount", "--refresh takes 1..86400 seconds");
			o.refresh_seconds = (unsigned)l;
			break;
		}
		case 3: o.allow_other = 1; break;
		default: return cli_usage_error("mount", "unknown option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("mount", "give one MOUNTPOINT");
	o.mountpoint = argv[optind];
	o.debug = cli_g.verbose > 1;
	if (!mounter_available()) {
		log_error("this cairn was built without FUSE: install libfuse3-dev and fuse3, then "
			  "rebuild");
		return 1;
	}
	struct repo *r;
	struct repo_lock *lk;
	int e = cli_open_repo_locked(CLI_LOCK_SHARED, &r, &lk);
	if (e < 0)
		return cli_exit(e);
	e = mounter_run(r, &o);
	cli_close_repo(r, lk);
	return cli_exit(e);
}
