/*
 * stats.c - `cairn stats`: logical and stored sizes, ratios.
 */
#include "cairn/common.h"
#include "cli.h"
#include "cairn/index.h"
#include "cairn/json.h"
#include "cairn/log.h"
#include "cairn/pruner.h"
#include "cairn/repo.h"
#include "cairn/snaplist.h"
#include "cairn/stats.h"

static const char help[] =
	"usage: cairn stats [OPTIONS] [SNAPSHOT]\n"
	"\n"
	"Sizes of one snapshot, or of all (filtered) snapshots, and of the\n"
	"repository: logical (restore) size, the unique data they reference,\n"
	"what it takes on storage, deduplication and compression ratios, blob\n"
	"and pack counts.\n"
	"\n"
	"Options:\n"
	"      --mode MODE            restore-size or raw-data (default: both)\n"
	"      --host HOST            only snapshots of HOST\n"
	"      --tag TAG              only snapshots with TAG (repeatable)\n"
	"      --path PATH            only snapshots of these paths (repeatable)\n";

int cmd_stats(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mode", required_argument, NULL, 1 },
		CLI_FILTER_LONGOPTS,
		CLI_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	const char *tags[32], *paths[32];
	struct snap_filter f = { .tags = tags, .paths = paths };
	int want_restore = 1, want_raw = 1, c;
	while ((c = getopt_long(argc, argv, CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_global_opt(c, optarg, help))
			continue;
		int fopt = cli_filter_opt(&f, tags, paths, c, optarg, "stats");
		if (fopt < 0)
			return 1;
		if (fopt)
			continue;
		switch (c) {
		case 1:
			if (!strcmp(optarg, "restore-size"))
				want_raw = 0;
			else if (!strcmp(optarg, "raw-data"))
				want_restore = 0;
			else
				return cli_usage_error("stats", "--mode takes restore-size or raw-data");
			break;
		default: return cli_usage_error("stats", "unknown option");
		}
	}
	if (argc - optind > 1)
		return cli_usage_error("stats", "give at most one SNAPSHOT");
	struct repo *r;
	int e = cli_open_repo(&r);
	if (e < 0)
		return cli_exit(e);
	struct snap_list l;
	uint64_t files = 0, bytes = 0, nsnap = 0, blobs = 0, raw = 0, stored = 0, missing = 0;
	uint64_t packs = 0, pack_bytes = 0, all_blobs = 0, all_raw = 0;
	struct index *ix = repo_index(r);
	e = snap_list_load(r, &f, &l);
	if (e < 0)
		goto out;
	size_t from = 0, to = l.n;
	if (optind < argc) {
		int idx = snap_list_select(&l, argv[optind], 0, 0);
		if (idx < 0) {
			e = idx;
			goto out;
		}
		from = (size_t)idx;
		to = from + 1;
	}
	if (want_raw && (e = index_used_reset(ix)) < 0)
		goto out;
	if (want_raw && (e = index_begin(ix)) < 0)
		goto out;
	for (size_t i = from; i < to && e == 0; i++) {
		nsnap++;
		if (want_restore)
			e = stats_restore_size(r, l.v[i].sn.tree, &files, &bytes);
		if (e == 0 && want_raw)
			e = prune_mark_tree(r, l.v[i].sn.tree);
	}
	if (want_raw) {
		if (e == 0)
			e = index_commit(ix);
		else
			index_rollback(ix);
		if (e == 0)
			e = index_used_finish(ix, &blobs, &missing);
		if (e == 0)
			e = index_used_sums(ix, &blobs, &raw, &stored);
		index_used_drop(ix);
	}
	if (e == 0)
		e = index_totals(ix, &packs, &pack_bytes, &all_blobs, &all_raw);
	if (e < 0)
		goto out;
	double dedup = want_restore && raw ? (double)bytes / (double)raw : 0;
	double comp = stored ? (double)raw / (double)stored : 0;
	if (cli_g.json) {
		struct buf b = BUF_INIT;
		struct json j;
		json_init(&j, &b);
		json_obj_begin(&j);
		json_key(&j, "snapshots_count");
		json_u64(&j, nsnap);
		if (want_restore) {
			json_key(&j, "total_file_count");
			json_u64(&j, files);
			json_key(&j, "total_size");
			json_u64(&j, bytes);
		}
		if (want_raw) {
			json_key(&j, "total_blob_count");
			json_u64(&j, blobs);
			json_key(&j, "total_uncompressed_size");
			json_u64(&j, raw);
			json_key(&j, "total_stored_size");
			json_u64(&j, stored);
			json_key(&j, "missing_blob_count");
			json_u64(&j, missing);
			json_key(&j, "compression_ratio");
			json_double(&j, comp);
		}
		if (want_raw && want_restore) {
			json_key(&j, "deduplication_ratio");
			json_double(&j, dedup);
		}
		json_key(&j, "repository_pack_count");
		json_u64(&j, packs);
		json_key(&j, "repository_size");
		json_u64(&j, pack_bytes);
		json_key(&j, "repository_blob_count");
		json_u64(&j, all_blobs);
		json_obj_end(&j);
		buf_put_u8(&b, '\n');
		e = cli_write_stdout(b.data, b.len);
		buf_free(&b);
	} else {
		char s1[32], s2[32], s3[32], s4[32];
		printf("snapshots: %llu\n", (unsigned long long)nsnap);
		if (want_restore) {
			cli_fmt_bytes(bytes, s1, sizeof(s1));
			printf("restore size: %s in %llu files\n", s1, (unsigned long long)files);
		}
		if (want_raw) {
			cli_fmt_bytes(raw, s2, sizeof(s2));
			cli_fmt_bytes(stored, s3, sizeof(s3));
			printf("unique data: %s in %llu blobs, stored as %s (compression %.2fx)\n", s2,
			       (unsigned long long)blobs, s3, comp);
			if (missing)
				printf("missing blobs: %llu (run 'cairn check')\n",
				       (unsigned long long)missing);
		}
		if (want_raw && want_restore)
			printf("deduplication ratio: %.2fx\n", dedup);
		cli_fmt_bytes(pack_bytes, s4, sizeof(s4));
		printf("repository: %s in %llu packs, %llu blobs\n", s4, (unsigned long long)packs,
		       (unsigned long long)all_blobs);
	}
out:
	snap_list_free(&l);
	repo_free(r);
	return cli_exit(e);
}
