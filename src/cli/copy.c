/*
 * copy.c - `cairn copy --from-repo LOCATION`: replicate snapshots.
 */
#include "cairn/common.h"
#include "cli.h"
#include "cairn/copier.h"
#include "cairn/json.h"
#include "cairn/lock.h"
#include "cairn/log.h"
#include "cairn/repo.h"
#include "cairn/snaplist.h"

static const char help[] =
	"usage: cairn copy --from-repo LOCATION [OPTIONS] [SNAPSHOT...]\n"
	"\n"
	"Copy snapshots from another repository into this one (-r): all of them,\n"
	"or those named, or those matching the filters; snapshots copied before\n"
	"are skipped. Blobs are re-encrypted under this repository's keys.\n"
	"Deduplication between the two survives when this repository was made\n"
	"with 'cairn init --copy-chunker-params --from-repo'.\n"
	"\n"
	"Options:\n"
	"      --from-repo LOCATION   the source repository\n"
	"      --from-password-file FILE  its password (or CAIRN_FROM_PASSWORD[_FILE])\n"
	"      --from-password-command CMD  run CMD for its password\n"
	"      --host HOST            only snapshots of HOST\n"
	"      --tag TAG              only snapshots with TAG (repeatable)\n"
	"      --path PATH            only snapshots of these paths (repeatable)\n";

/* 1 when dst already holds a copy of the source snapshot. */
static int already_copied(const struct snap_list *dst, const struct snap_entry *s)
{
	const uint8_t *orig = s->sn.has_original ? s->sn.original : s->id;
	for (size_t i = 0; i < dst->n; i++) {
		const struct snapshot *d = &dst->v[i].sn;
		if (d->has_original && !memcmp(d->original, orig, 32))
			return 1;
	}
	return 0;
}

int cmd_copy(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "from-repo", required_argument, NULL, 1 },
		{ "from-password-file", required_argument, NULL, 2 },
		{ "from-password-command", required_argument, NULL, 3 },
		CLI_FILTER_LONGOPTS,
		CLI_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	const char *tags[32], *paths[32], *from = NULL, *pwfile = NULL, *pwcmd = NULL;
	struct snap_filter f = { .tags = tags, .paths = paths };
	int c;
	while ((c = getopt_long(argc, argv, CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_global_opt(c, optarg, help))
			continue;
		int fopt = cli_filter_opt(&f, tags, paths, c, optarg, "copy");
		if (fopt < 0)
			return 1;
		if (fopt)
			continue;
		switch (c) {
		case 1: from = optarg; break;
		case 2: pwfile = optarg; break;
		case 3: pwcmd = optarg; break;
		default: return cli_usage_error("copy", "unknown option");
		}
	}
	if (!from)
		return cli_usage_error("copy", "give the source with --from-repo LOCATION");
	struct repo *src = NULL, *dst = NULL;
	struct repo_lock *lsrc = NULL, *ldst = NULL;
	struct snap_list ls = { 0 }, ld = { 0 };
	struct copy_stats st = { 0 };
	uint64_t skipped = 0;
	int e = cli_open_from_repo(from, pwfile, pwcmd, &src);
	if (e == 0)
		e = lock_acquire(src, 0, &lsrc);
	if (e == 0)
		e = cli_open_repo_locked(CLI_LOCK_SHARED, &dst, &ldst);
	if (e == 0)
		e = snap_list_load(src, &f, &ls);
	if (e == 0)
		e = snap_list_load(dst, NULL, &ld);
	if (e < 0)
		goto out;
	char *want = calloc(ls.n ? ls.n : 1, 1);
	if (!want) {
		e = CAIRN_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < ls.n; i++)
		want[i] = optind >= argc;
	for (int a = optind; a < argc; a++) {
		int idx = snap_list_select(&ls, argv[a], 0, 0);
		if (idx < 0) {
			e = idx;
			free(want);
			goto out;
		}
		want[idx] = 1;
	}
	for (size_t i = 0; i < ls.n && e == 0; i++) {
		if (!want[i])
			continue;
		if (already_copied(&ld, &ls.v[i])) {
			skipped++;
			continue;
		}
		uint8_t nid[32];
		e = copier_copy(src, dst, ls.v[i].id, &ls.v[i].sn, nid, &st);
		if (e == 0 && !cli_g.quiet && !cli_g.json)
			printf("copied snapshot %02x%02x%02x%02x as %02x%02x%02x%02x\n",
			       ls.v[i].id[0], ls.v[i].id[1], ls.v[i].id[2], ls.v[i].id[3], nid[0],
			       nid[1], nid[2], nid[3]);
	}
	free(want);
	if (e == 0 && cli_g.json) {
		struct buf b = BUF_INIT;
		struct json j;
		json_init(&j, &b);
		json_obj_begin(&j);
		json_key(&j, "snapshots_copied");
		json_u64(&j, st.snapshots);
		json_key(&j, "snapshots_skipped");
		json_u64(&j, skipped);
		json_key(&j, "blobs_read");
		json_u64(&j, st.blobs_read);
		json_key(&j, "bytes_read");
		json_u64(&j, st.bytes_read);
		json_key(&j, "bytes_added");
		json_u64(&j, st.bytes_added);
		json_key(&j, "same_chunker_params");
		json_bool(&j, st.same_ids);
		json_obj_end(&j);
		buf_put_u8(&b, '\n');
		cli_write_stdout(b.data, b.len);
		buf_free(&b);
	} else if (e == 0 && !cli_g.quiet) {
		char rd[32], ad[32];
		cli_fmt_bytes(st.bytes_read, rd, sizeof(rd));
		cli_fmt_bytes(st.bytes_added, ad, sizeof(ad));
		printf("%llu snapshots copied, %llu already there; read %s, added %s\n",
		       (unsigned long long)st.snapshots, (unsigned long long)skipped, rd, ad);
	}
out:
	snap_list_free(&ls);
	snap_list_free(&ld);
	cli_close_repo(dst, ldst);
	cli_close_repo(src, lsrc);
	return cli_exit(e);
}
