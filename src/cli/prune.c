/*
 * prune.c - `cairn prune`: delete data no snapshot needs.
 */
#include "cairn/common.h"
#include "cli.h"
#include "cairn/json.h"
#include "cairn/log.h"
#include "cairn/pruner.h"
#include "cairn/repo.h"
#include "cairn/timeparse.h"

static const char help[] =
	"usage: cairn prune [OPTIONS]\n"
	"\n"
	"Delete packs that hold only data no snapshot references, and repack\n"
	"packs with more unused data than --max-unused. Takes an exclusive lock.\n"
	"\n"
	"Options:\n"
	"      --max-unused PERCENT   repack packs with more unused data (default 10)\n"
	"  -n, --dry-run              report what would be freed, change nothing\n"
	CLI_METRICS_HELP;

int cmd_prune(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "max-unused", required_argument, NULL, 1 },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "metrics-file", required_argument, NULL, 2 },
		{ "metrics-job", required_argument, NULL, 3 },
		CLI_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct prune_opts o = { .max_unused = PRUNE_DEFAULT_MAX_UNUSED };
	struct cli_metrics m = { .command = "prune", .start_ns = time_now_ns() };
	int c;
	while ((c = getopt_long(argc, argv, "n" CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_global_opt(c, optarg, help))
			continue;
		switch (c) {
		case 1: {
			char *end;
			double v = strtod(optarg, &end);
			if (*end == '%')
				end++;
			if (*end || end == optarg || v < 0 || v > 100)
				return cli_usage_error("prune", "--max-unused takes a percentage 0..100");
			o.max_unused = v / 100.0;
			break;
		}
		case 'n': o.dry_run = 1; break;
		case 2: m.file = optarg; break;
		case 3: m.job = optarg; break;
		default: return cli_usage_error("prune", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error("prune", "unexpected argument '%s'", argv[optind]);
	struct repo *r;
	struct repo_lock *lk;
	int e = cli_open_repo_locked(CLI_LOCK_EXCLUSIVE, &r, &lk);
	if (e < 0)
		return cli_exit(e);
	struct prune_stats st;
	e = prune_run(r, &o, &st);
	if (e == 0 && cli_g.json) {
		struct buf b = BUF_INIT;
		struct json j;
		json_init(&j, &b);
		json_obj_begin(&j);
		json_key(&j, "dry_run");
		json_bool(&j, o.dry_run);
		json_key(&j, "snapshots");
		json_u64(&j, st.snapshots);
		json_key(&j, "blobs_used");
		json_u64(&j, st.blobs_used);
		json_key(&j, "packs");
		json_u64(&j, st.packs);
		json_key(&j, "packs_deleted");
		json_u64(&j, st.packs_deleted);
		json_key(&j, "packs_repacked");
		json_u64(&j, st.packs_repacked);
		json_key(&j, "packs_orphaned");
		json_u64(&j, st.packs_orphaned);
		json_key(&j, "packs_written");
		json_u64(&j, st.packs_written);
		json_key(&j, "bytes_before");
		json_u64(&j, st.bytes_before);
		json_key(&j, "bytes_freed");
		json_u64(&j, st.bytes_freed);
		json_key(&j, "bytes_repacked");
		json_u64(&j, st.bytes_repacked);
		json_obj_end(&j);
		buf_put_u8(&b, '\n');
		cli_write_stdout(b.data, b.len);
		buf_free(&b);
	} else if (e == 0 && !cli_g.quiet) {
		char fr[32], rp[32], bf[32];
		cli_fmt_bytes(st.bytes_freed, fr, sizeof(fr));
		cli_fmt_bytes(st.bytes_repacked, rp, sizeof(rp));
		cli_fmt_bytes(st.bytes_before, bf, sizeof(bf));
		printf("%s%llu snapshots use %llu blobs; %llu packs (%s): %llu deleted, %llu "
		       "repacked, %llu left over by interrupted backups\n",
		       o.dry_run ? "(dry run) " : "", (unsigned long long)st.snapshots,
		       (unsigned long long)st.blobs_used, (unsigned long long)st.packs, bf,
		       (unsigned long long)st.packs_deleted, (unsigned long long)st.packs_repacked,
		       (unsigned long long)st.packs_orphaned);
		printf("%s %s, repacked %s\n", o.dry_run ? "would free" : "freed", fr, rp);
	}
	m.exit_code = cli_exit(e);
	m.errors_found = e < 0;
	if (cli_metrics_write(r, &m) < 0 && e == 0)
		e = CAIRN_EIO;
	cli_close_repo(r, lk);
	return cli_exit(e);
}
