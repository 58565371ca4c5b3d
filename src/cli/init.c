/*
 * init.c - `cairn init`: create a repository.
 */
#include "cairn/common.h"
#include "cli.h"
#include "cairn/log.h"
#include "cairn/repo.h"

static const char help[] =
	"usage: cairn init [OPTIONS]\n"
	"\n"
	"Create a repository at the location given by -r or CAIRN_REPO.\n"
	"\n"
	"Options:\n"
	"      --chunker-min SIZE     smallest chunk (default 2KiB)\n"
	"      --chunker-avg SIZE     average chunk, a power of two (default 8KiB)\n"
	"      --chunker-max SIZE     largest chunk (default 64KiB)\n"
	"      --compression LEVEL    zstd level 0-19, 0 = off (default 3)\n"
	"      --pack-size SIZE       target pack size (default 16MiB)\n"
	"      --create-bucket        S3: create the bucket when it does not exist\n"
	"      --copy-chunker-params  take the chunker parameters and secrets from\n"
	"                             --from-repo, so copied snapshots deduplicate\n"
	"      --from-repo LOCATION   the repository to take them from\n"
	"      --from-password-file FILE  its password (or CAIRN_FROM_PASSWORD[_FILE])\n"
	"      --from-password-command CMD  run CMD for its password\n";

int cmd_init(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "chunker-min", required_argument, NULL, 1 },
		{ "chunker-avg", required_argument, NULL, 2 },
		{ "chunker-max", required_argument, NULL, 3 },
		{ "compression", required_argument, NULL, 4 },
		{ "pack-size", required_argument, NULL, 5 },
		{ "copy-chunker-params", no_argument, NULL, 20 },
		{ "from-repo", required_argument, NULL, 21 },
		{ "from-password-file", required_argument, NULL, 22 },
		{ "from-password-command", required_argument, NULL, 23 },
		{ "create-bucket", no_argument, NULL, 6 },
		CLI_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct repo_init_opts o = { .compression = -1 };
	const char *from = NULL, *from_pwfile = NULL, *from_pwcmd = NULL;
	int copy_params = 0, c;
	while ((c = getopt_long(argc, argv, CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		uint64_t v = 0;
		if (cli_global_opt(c, optarg, help))
			continue;
		if (c >= 1 && c <= 5 && c != 4 && (cli_parse_size(optarg, &v) < 0 || v > UINT32_MAX))
			return cli_usage_error("init", "invalid size '%s'", optarg);
		switch (c) {
		case 1: o.chunker.min = (uint32_t)v; break;
		case 2: o.chunker.avg = (uint32_t)v; break;
		case 3: o.chunker.max = (uint32_t)v; break;
		case 4: {
			char *end;
			long l = strtol(optarg, &end, 10);
			if (*end || end == optarg || l < 0 || l > 19)
				return cli_usage_error("init", "compression level must be 0..19");
			o.compression = (int)l;
			break;
		}
		case 5: o.pack_size = v; break;
		case 6: o.create_bucket = 1; break;
		case 20: copy_params = 1; break;
		case 21: from = optarg; break;
		case 22: from_pwfile = optarg; break;
		case 23: from_pwcmd = optarg; break;
		default: return cli_usage_error("init", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error("init", "unexpected argument '%s'", argv[optind]);
	o.location = cli_g.repo ? cli_g.repo : getenv("CAIRN_REPO");
	if (!o.location || !*o.location) {
		log_error("no repository given: use -r LOCATION or set CAIRN_REPO");
		return 1;
	}
	if (copy_params != (from != NULL))
		return cli_usage_error("init", "--copy-chunker-params and --from-repo go together");
	struct repo *src = NULL;
	int e;
	if (copy_params) {
		e = cli_open_from_repo(from, from_pwfile, from_pwcmd, &src);
		if (e < 0)
			return cli_exit(e);
		o.copy_keys = repo_keys(src);
		o.chunker = repo_config(src)->chunker;
	}
	char *pw;
	size_t pwlen;
	e = cli_password(1, &pw, &pwlen);
	if (e < 0) {
		repo_free(src);
		return cli_exit(e);
	}
	o.password = pw;
	o.password_len = pwlen;
	o.backend_options = cli_g.options;
	e = repo_init(&o);
	cli_password_free(pw, pwlen);
	repo_free(src);
	if (e < 0)
		return cli_exit(e == CAIRN_ENOREPO ? CAIRN_EIO : e);
	if (!cli_g.quiet)
		printf("created cairn repository at %s\n", o.location);
	return 0;
}
