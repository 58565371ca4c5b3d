/*
 * restore.c - `cairn restore SNAPSHOT --target DIR`.
 */
#include "cairn/common.h"
#include "cli.h"
#include "cairn/exporter.h"
#include "cairn/json.h"
#include "cairn/log.h"
#include "cairn/repo.h"
#include "cairn/restorer.h"
#include "cairn/snaplist.h"
#include "cairn/timeparse.h"

static const char help[] =
	"usage: cairn restore [OPTIONS] SNAPSHOT --target DIR\n"
	"       cairn restore [OPTIONS] --at TIME --target DIR\n"
	"       cairn restore [OPTIONS] SNAPSHOT --archive OUT\n"
	"\n"
	"Restore a snapshot below DIR: each backed-up path lands at its full path\n"
	"(/srv/app restored to /tmp/r is in /tmp/r/srv/app). SNAPSHOT is an id, a\n"
	"unique prefix or 'latest'. A non-empty target is refused unless\n"
	"--overwrite says what to do with existing files. With --archive, write a\n"
	"tar or zip archive instead, of the format OUT's extension names.\n"
	"\n"
	"Options:\n"
	"  -t, --target DIR           where to restore\n"
	"      --archive OUT          write an archive: .tar, .tar.gz, .tgz, .tar.zst,\n"
	"                             .tar.xz, .tar.bz2 or .zip; - for a tar on stdout\n"
	"      --include PATTERN      restore only matching paths (repeatable)\n"
	"      --exclude PATTERN      leave out matching paths (repeatable)\n"
	"      --overwrite MODE       always, if-changed (size and mtime differ) or never\n"
	"      --verify               read every restored file back and check it\n"
	"      --at TIME              the newest snapshot at or before TIME\n"
	"      --host HOST            only consider snapshots of HOST\n"
	"      --tag TAG              only consider snapshots with TAG (repeatable)\n"
	"      --path PATH            only consider snapshots of these paths (repeatable)\n"
	"      --threads N            worker threads (default: number of CPUs)\n";

int cmd_restore(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "target", required_argument, NULL, 't' },
		{ "include", required_argument, NULL, 1 },
		{ "exclude", required_argument, NULL, 2 },
		{ "overwrite", required_argument, NULL, 3 },
		{ "verify", no_argument, NULL, 4 },
		{ "at", required_argument, NULL, 5 },
		CLI_FILTER_LONGOPTS,
		{ "threads", required_argument, NULL, 9 },
		{ "archive", required_argument, NULL, 10 },
		CLI_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	const char *tags[32], *paths[32], *inc[64], *exc[64];
	struct snap_filter f = { .tags = tags, .paths = paths };
	struct restore_opts ro = { .includes = inc, .excludes = exc };
	const char *archive = NULL;
	int has_at = 0, c;
	int64_t at = 0;
	while ((c = getopt_long(argc, argv, "t:" CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_global_opt(c, optarg, help))
			continue;
		int fopt = cli_filter_opt(&f, tags, paths, c, optarg, "restore");
		if (fopt < 0)
			return 1;
		if (fopt)
			continue;
		switch (c) {
		case 't': ro.target = optarg; break;
		case 1:
			if (ro.n_includes == 64)
				return cli_usage_error("restore", "too many --include options");
			inc[ro.n_includes++] = optarg;
			break;
		case 2:
			if (ro.n_excludes == 64)
				return cli_usage_error("restore", "too many --exclude options");
			exc[ro.n_excludes++] = optarg;
			break;
		case 3:
			if (!strcmp(optarg, "always"))
				ro.overwrite = RESTORE_OVERWRITE_ALWAYS;
			else if (!strcmp(optarg, "if-changed"))
				ro.overwrite = RESTORE_OVERWRITE_IF_CHANGED;
			else if (!strcmp(optarg, "never"))
				ro.overwrite = RESTORE_OVERWRITE_NEVER;
			else
				return cli_usage_error("restore", "--overwrite takes always, "
						       "if-changed or never");
			break;
		case 4: ro.verify = 1; break;
		case 5:
			if (time_parse(optarg, &at) < 0)
				return cli_usage_error("restore", "cannot parse time '%s' (use "
					"YYYY-MM-DD HH:MM[:SS] or ISO 8601)", optarg);
			has_at = 1;
			break;
		case 9: {
			char *end;
			long l = strtol(optarg, &end, 10);
			if (*end || l < 1 || l > 64)
				return cli_usage_error("restore", "--threads must be 1..64");
			ro.threads = (unsigned)l;
			break;
		}
		case 10: archive = optarg; break;
		default: return cli_usage_error("restore", "unknown option");
		}
	}
	if (argc - optind != (has_at ? 0 : 1))
		return cli_usage_error("restore", has_at ? "give no SNAPSHOT with --at"
							 : "give one SNAPSHOT");
	if (archive && (ro.target || ro.verify))
		return cli_usage_error("restore", "give --archive without --target and --verify");
	if (archive && ro.overwrite != RESTORE_OVERWRITE_UNSET &&
	    ro.overwrite != RESTORE_OVERWRITE_ALWAYS)
		return cli_usage_error("restore", "--archive takes only --overwrite always");
	if (archive && !exporter_format_known(archive))
		return cli_usage_error("restore", "--archive %s: end the name in .tar, .tar.gz, "
				       ".tgz, .tar.zst, .tar.xz, .tar.bz2 or .zip, or give -", archive);
	int to_stdout = archive && !strcmp(archive, "-");
	if (to_stdout && cli_g.json)
		return cli_usage_error("restore", "--archive - writes the archive to standard "
				       "output: give no --json");
	if (!ro.target && !archive)
		return cli_usage_error("restore", "give --target DIR (or --archive OUT)");
	struct repo *r;
	struct repo_lock *lk;
	int e = cli_open_repo_locked(CLI_LOCK_SHARED, &r, &lk);
	if (e < 0)
		return cli_exit(e);
	struct snap_list l = { 0 };
	struct restore_stats st;
	int64_t t0 = time_now_ns();
	e = snap_list_load(r, &f, &l);
	if (e < 0)
		goto out;
	int idx = snap_list_select(&l, has_at ? NULL : argv[optind], has_at, at);
	if (idx < 0) {
		e = idx;
		goto out;
	}
	struct exporter_opts xo = {
		.output = archive, .includes = inc, .n_includes = ro.n_includes, .excludes = exc,
		.n_excludes = ro.n_excludes, .overwrite = ro.overwrite == RESTORE_OVERWRITE_ALWAYS,
		.threads = ro.threads,
	};
	e = archive ? exporter_write(r, l.v[idx].sn.tree, &xo, &st)
		    : restorer_restore(r, l.v[idx].sn.tree, &ro, &st);
	double secs = (double)(time_now_ns() - t0) / 1e9;
	if (e == 0 && st.errors)
		log_warn("%llu entries could not be restored", (unsigned long long)st.errors);
	if (cli_g.json) {
		struct buf b = BUF_INIT;
		struct json j;
		json_init(&j, &b);
		json_obj_begin(&j);
		json_key(&j, "message_type");
		json_str(&j, "summary");
		json_key(&j, "snapshot_id");
		json_hex(&j, l.v[idx].id, 32);
		json_key(&j, "files_restored");
		json_u64(&j, st.files);
		json_key(&j, "dirs_restored");
		json_u64(&j, st.dirs);
		json_key(&j, "links_restored");
		json_u64(&j, st.links);
		json_key(&j, "bytes_restored");
		json_u64(&j, st.bytes);
		json_key(&j, "skipped");
		json_u64(&j, st.skipped);
		json_key(&j, "errors");
		json_u64(&j, st.errors);
		json_key(&j, "verified");
		json_u64(&j, st.verified);
		json_key(&j, "success");
		json_bool(&j, e == 0 && !st.errors);
		json_obj_end(&j);
		buf_put_u8(&b, '\n');
		cli_write_stdout(b.data, b.len);
		buf_free(&b);
	} else if (!cli_g.quiet && e == 0 && !to_stdout) {
		char by[32];
		cli_fmt_bytes(st.bytes, by, sizeof(by));
		printf("restored %llu files (%s), %llu folders, %llu hard links, %llu others in "
		       "%.2f s%s",
		       (unsigned long long)st.files, by, (unsigned long long)st.dirs,
		       (unsigned long long)st.links, (unsigned long long)st.others, secs,
		       ro.verify ? ", all verified" : "");
		if (st.skipped)
			printf(", %llu existing kept", (unsigned long long)st.skipped);
		printf("\n");
	}
	if (e == 0 && st.errors)
		e = CAIRN_EIO;
out:
	snap_list_free(&l);
	cli_close_repo(r, lk);
	return cli_exit(e);
}
