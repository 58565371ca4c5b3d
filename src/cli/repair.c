/*
 * repair.c - `cairn repair index|snapshots|packs`.
 */
#include "cairn/common.h"
#include "cli.h"
#include "cairn/checker.h"
#include "cairn/log.h"
#include "cairn/repair.h"
#include "cairn/repo.h"

static const char help[] =
	"usage: cairn repair index [OPTIONS]\n"
	"       cairn repair snapshots [--forget] [--read-data | --read-data-subset S] [OPTIONS]\n"
	"       cairn repair packs [OPTIONS] ID...\n"
	"\n"
	"index: rebuild the repository's index files from the pack headers, then\n"
	"remove the old index files and rebuild the local index cache.\n"
	"snapshots: check the repository, then write for each damaged snapshot a\n"
	"new one in which damaged files are cut before their first lost chunk (and\n"
	"flagged), lost folders are empty, and the damage is listed in the note.\n"
	"packs: salvage the intact blobs of the packs ID... into new packs, take\n"
	"those packs out of the index, and remove them when nothing of them is lost.\n"
	"\n"
	"Options:\n"
	"      --forget               snapshots: remove each damaged snapshot once its\n"
	"                             repair is written, and unreadable snapshots\n"
	"      --read-data            snapshots: also read every pack to find damage\n"
	"      --read-data-subset S   snapshots: read the packs of S (N/T or P%) only\n";

static void print_snapshot(void *arg, const uint8_t old_id[32], const uint8_t new_id[32],
			   uint64_t files, uint64_t dirs)
{
	char a[65], b[65];
	(void)arg;
	if (cli_g.quiet)
		return;
	hex_encode(old_id, 32, a);
	hex_encode(new_id, 32, b);
	printf("snapshot %.8s repaired as %s: %llu file(s) truncated, %llu folder(s) emptied\n",
	       a, b, (unsigned long long)files, (unsigned long long)dirs);
}

static int repair_snapshots_cmd(struct repo *r, const struct checker_opts *co, int forget)
{
	struct checker *ch = NULL;
	struct repair_snapshots_result res;
	int e = checker_new(r, co, &ch);
	if (e == 0)
		e = checker_run(ch);
	if (e == 0)
		e = repair_snapshots(r, ch, forget, print_snapshot, NULL, &res);
	checker_free(ch);
	if (e < 0)
		return e;
	if (res.unreadable > res.unreadable_removed)
		log_warn("%llu snapshot object(s) can't be read and were kept; add --forget to "
			 "remove them",
			 (unsigned long long)(res.unreadable - res.unreadable_removed));
	if (!cli_g.quiet) {
		if (res.damaged == 0 && res.unreadable == 0)
			printf("no damaged snapshots: nothing to repair\n");
		else
			printf("%llu damaged snapshot(s) repaired, %llu removed; %llu unreadable "
			       "snapshot(s) removed\n",
			       (unsigned long long)res.written, (unsigned long long)res.removed,
			       (unsigned long long)res.unreadable_removed);
		if (res.written && !forget)
			printf("the damaged originals are kept: 'cairn repair snapshots --forget' "
			       "removes them\n");
	}
	return 0;
}

static void print_pack(void *arg, const struct repair_pack_report *p)
{
	char hex[65];
	(void)arg;
	hex_encode(p->id, 32, hex);
	if (!cli_g.quiet)
		printf("pack %s: %llu blobs%s: %llu salvaged, %llu intact elsewhere, %llu lost; %s\n",
		       hex, (unsigned long long)p->blobs,
		       !p->found ? " (missing)" : p->header_ok ? "" : " (header damaged)",
		       (unsigned long long)p->salvaged, (unsigned long long)p->elsewhere,
		       (unsigned long long)p->lost,
		       p->removed ? "removed"
				  : !p->found ? "taken out of the index"
					      : "kept (not in the index any more) because blobs are "
						"lost");
	if (p->lost)
		log_warn("pack %s: %llu blob(s) are lost; run 'cairn check' to see which snapshots "
			 "use them, then 'cairn repair snapshots'",
			 hex, (unsigned long long)p->lost);
}

int cmd_repair(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "forget", no_argument, NULL, 1 },
		{ "read-data", no_argument, NULL, 2 },
		{ "read-data-subset", required_argument, NULL, 3 },
		CLI_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct checker_opts co = { 0 };
	int c, forget = 0, modes = 0;
	while ((c = getopt_long(argc, argv, CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_global_opt(c, optarg, help))
			continue;
		switch (c) {
		case 1: forget = 1; break;
		case 2:
			co.read = CHECK_READ_ALL;
			modes++;
			break;
		case 3:
			if (cli_parse_read_subset(optarg, &co) < 0)
				return cli_usage_error("repair", "--read-data-subset takes N/T or "
						       "P%%, not '%s'", optarg);
			modes++;
			break;
		default: return cli_usage_error("repair", "unknown option");
		}
	}
	const char *what = optind < argc ? argv[optind] : "";
	int is_index = strcmp(what, "index") == 0, is_snaps = strcmp(what, "snapshots") == 0;
	int is_packs = strcmp(what, "packs") == 0;
	if (!is_index && !is_snaps && !is_packs)
		return cli_usage_error("repair", "give what to repair: 'index', 'snapshots' or "
				       "'packs ID...'");
	if (is_packs && argc - optind < 2)
		return cli_usage_error("repair", "give the ids of the packs to repair");
	if (!is_packs && argc - optind != 1)
		return cli_usage_error("repair", "unexpected argument '%s'", argv[optind + 1]);
	if (!is_snaps && (forget || modes))
		return cli_usage_error("repair", "--forget and --read-data* go with 'repair "
				       "snapshots'");
	if (modes > 1)
		return cli_usage_error("repair", "give --read-data or one --read-data-subset");
	if (!is_index) {
		struct repo *r;
		struct repo_lock *lk;
		int e = cli_open_repo_locked(CLI_LOCK_EXCLUSIVE, &r, &lk);
		if (e < 0)
			return cli_exit(e);
		if (is_snaps) {
			e = repair_snapshots_cmd(r, &co, forget);
		} else {
			struct repair_packs_result res;
			e = repair_packs(r, (const char *const *)argv + optind + 1,
					 (size_t)(argc - optind - 1), print_pack, NULL, &res);
			if (e == 0 && !cli_g.quiet)
				printf("%llu pack(s): %llu blobs salvaged, %llu lost; %llu pack(s) "
				       "removed, %llu kept; %llu index file(s) rewritten\n",
				       (unsigned long long)res.packs, (unsigned long long)res.salvaged,
				       (unsigned long long)res.lost,
				       (unsigned long long)res.packs_removed,
				       (unsigned long long)res.packs_kept,
				       (unsigned long long)res.index_files_removed);
		}
		cli_close_repo(r, lk);
		return cli_exit(e);
	}
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
