/*
 * forget.c - `cairn forget`: remove snapshots by a retention policy.
 */
#include "cairn/common.h"
#include "cli.h"
#include "cairn/forget.h"
#include "cairn/json.h"
#include "cairn/lock.h"
#include "cairn/log.h"
#include "cairn/repo.h"
#include "cairn/snaplist.h"
#include "cairn/timeparse.h"

static const char help[] =
	"usage: cairn forget [OPTIONS] [SNAPSHOT...]\n"
	"\n"
	"Remove snapshots: the ones named, or those no --keep rule keeps. Only\n"
	"snapshot objects are removed; run 'cairn prune' (or --prune) to free\n"
	"the data no snapshot needs any more.\n"
	"\n"
	"Options:\n"
	"      --keep-last N          keep the N newest snapshots\n"
	"      --keep-hourly N        keep the newest snapshot of each of the last N hours\n"
	"      --keep-daily N         ... of each of the last N days\n"
	"      --keep-weekly N        ... of each of the last N ISO weeks\n"
	"      --keep-monthly N       ... of each of the last N months\n"
	"      --keep-yearly N        ... of each of the last N years\n"
	"      --keep-within DURATION keep snapshots within DURATION (e.g. 2d12h, 1y6m)\n"
	"                             of the newest one\n"
	"      --keep-tag TAG         keep snapshots with TAG (repeatable)\n"
	"      --group-by LIST        group by host, paths, tags (default host,paths)\n"
	"      --host HOST            only consider snapshots of HOST\n"
	"      --tag TAG              only consider snapshots with TAG (repeatable)\n"
	"      --path PATH            only consider snapshots of these paths (repeatable)\n"
	"  -n, --dry-run              show what would be removed, remove nothing\n"
	"      --prune                run 'cairn prune' afterwards\n"
	CLI_METRICS_HELP;

/* Parses a --keep-* count: N >= 0, or "unlimited" / -1. */
static int parse_count(const char *s, int *ret)
{
	if (!strcmp(s, "unlimited")) {
		*ret = -1;
		return 0;
	}
	char *end;
	long l = strtol(s, &end, 10);
	if (*end || end == s || l < -1 || l > 1000000)
		return -1;
	*ret = (int)l;
	return 0;
}

static int parse_group_by(const char *s, unsigned *ret)
{
	unsigned g = 0;
	char *copy = strdup(s), *save = NULL;
	if (!copy)
		return -1;
	int bad = 0;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "host"))
			g |= FORGET_GROUP_HOST;
		else if (!strcmp(t, "paths"))
			g |= FORGET_GROUP_PATHS;
		else if (!strcmp(t, "tags"))
			g |= FORGET_GROUP_TAGS;
		else
			bad = 1;
	}
	free(copy);
	*ret = g;
	return bad ? -1 : 0;
}

int cmd_forget(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "keep-last", required_argument, NULL, 1 },
		{ "keep-hourly", required_argument, NULL, 2 },
		{ "keep-daily", required_argument, NULL, 3 },
		{ "keep-weekly", required_argument, NULL, 4 },
		{ "keep-monthly", required_argument, NULL, 5 },
		{ "keep-yearly", required_argument, NULL, 6 },
		{ "keep-within", required_argument, NULL, 7 },
		{ "keep-tag", required_argument, NULL, 8 },
		{ "group-by", required_argument, NULL, 9 },
		CLI_FILTER_LONGOPTS,
		{ "dry-run", no_argument, NULL, 'n' },
		{ "prune", no_argument, NULL, 13 },
		{ "metrics-file", required_argument, NULL, 14 },
		{ "metrics-job", required_argument, NULL, 15 },
		CLI_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	const char *tags[32], *paths[32], *keep_tags[32];
	struct snap_filter f = { .tags = tags, .paths = paths };
	struct forget_policy p = { .keep_tags = keep_tags };
	unsigned group_by = FORGET_GROUP_HOST | FORGET_GROUP_PATHS;
	struct cli_metrics m = { .command = "forget", .start_ns = time_now_ns() };
	int dry = 0, prune = 0, c;
	while ((c = getopt_long(argc, argv, "n" CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_global_opt(c, optarg, help))
			continue;
		int fopt = cli_filter_opt(&f, tags, paths, c, optarg, "forget");
		if (fopt < 0)
			return 1;
		if (fopt)
			continue;
		int *counts[] = { NULL, &p.last, &p.hourly, &p.daily, &p.weekly, &p.monthly, &p.yearly };
		if (c >= 1 && c <= 6) {
			if (parse_count(optarg, counts[c]) < 0)
				return cli_usage_error("forget", "invalid count '%s'", optarg);
			continue;
		}
		switch (c) {
		case 7:
			if (forget_parse_duration(optarg, &p.within_ns) < 0)
				return cli_usage_error("forget", "invalid duration '%s' (e.g. 1y2m3d4h)",
						       optarg);
			break;
		case 8:
			if (p.n_keep_tags == 32)
				return cli_usage_error("forget", "too many --keep-tag options");
			keep_tags[p.n_keep_tags++] = optarg;
			break;
		case 9:
			if (parse_group_by(optarg, &group_by) < 0)
				return cli_usage_error("forget", "--group-by takes host, paths, tags");
			break;
		case 'n': dry = 1; break;
		case 13: prune = 1; break;
		case 14: m.file = optarg; break;
		case 15: m.job = optarg; break;
		default: return cli_usage_error("forget", "unknown option");
		}
	}
	int named = optind < argc;
	if (named && forget_policy_any(&p))
		return cli_usage_error("forget", "give snapshot ids or --keep rules, not both");
	if (!named && !forget_policy_any(&p))
		return cli_usage_error("forget", "give snapshot ids or at least one --keep rule");
	struct repo *r;
	struct repo_lock *lk;
	int e = cli_open_repo_locked(CLI_LOCK_SHARED, &r, &lk);
	if (e < 0)
		return cli_exit(e);
	struct snap_list l;
	struct forget_decision *d = NULL;
	struct buf out = BUF_INIT;
	struct json j;
	json_init(&j, &out);
	e = snap_list_load(r, &f, &l);
	if (e < 0)
		goto out;
	d = calloc(l.n ? l.n : 1, sizeof(*d));
	if (!d) {
		e = CAIRN_ENOMEM;
		goto out;
	}
	if (named) {
		for (size_t i = 0; i < l.n; i++)
			d[i].keep = 1;
		for (int a = optind; a < argc; a++) {
			int idx = snap_list_select(&l, argv[a], 0, 0);
			if (idx < 0) {
				e = idx;
				goto out;
			}
			d[idx].keep = 0;
		}
	} else if ((e = forget_decide(&l, &p, group_by, d)) < 0) {
		goto out;
	}
	size_t removed = 0, kept = 0;
	if (cli_g.json)
		json_arr_begin(&j);
	for (size_t i = l.n; i-- > 0;) {
		const struct snapshot *s = &l.v[i].sn;
		char id[65], t[48];
		hex_encode(l.v[i].id, 32, id);
		time_format_short(s->time_ns, time_local_offset(s->time_ns), t, sizeof(t));
		if (cli_g.json) {
			json_obj_begin(&j);
			json_key(&j, "id");
			json_str(&j, id);
			json_key(&j, "time");
			time_format_rfc3339(s->time_ns, s->tz_offset, t, sizeof(t));
			json_str(&j, t);
			json_key(&j, "hostname");
			json_str(&j, s->hostname ? s->hostname : "");
			json_key(&j, "group");
			json_u64(&j, d[i].group);
			json_key(&j, "keep");
			json_bool(&j, d[i].keep);
			json_key(&j, "reasons");
			json_str(&j, d[i].reasons);
			json_obj_end(&j);
		} else if (!cli_g.quiet) {
			buf_printf(&out, "%s %.8s  %s  %-12s  %s\n", d[i].keep ? "keep  " : "remove", id,
				   t, s->hostname ? s->hostname : "", d[i].reasons);
		}
		if (d[i].keep) {
			kept++;
			continue;
		}
		removed++;
		if (dry)
			continue;
		char name[96];
		repo_file_name(REPO_FILE_SNAPSHOT, l.v[i].id, name, sizeof(name));
		e = backend_del(repo_backend(r), name);
		if (e < 0 && e != CAIRN_ENOTFOUND) {
			log_error("cannot remove snapshot %s: %s", id, cairn_strerror(e));
			goto out;
		}
		e = 0;
	}
	if (cli_g.json) {
		json_arr_end(&j);
		buf_put_u8(&out, '\n');
	} else if (!cli_g.quiet) {
		buf_printf(&out, "%s%zu snapshot%s removed, %zu kept\n", dry ? "(dry run) " : "",
			   removed, removed == 1 ? "" : "s", kept);
	}
	e = buf_ok(&out);
	if (e == 0)
		e = cli_write_stdout(out.data, out.len);
out:
	buf_free(&out);
	free(d);
	snap_list_free(&l);
	int then_prune = e == 0 && prune && !dry;
	if (!then_prune) {	/* with --prune, prune writes the metrics of the job */
		m.exit_code = cli_exit(e);
		m.errors_found = e < 0;
		if (cli_metrics_write(r, &m) < 0 && e == 0)
			e = CAIRN_EIO;
	}
	cli_close_repo(r, lk);
	if (then_prune) {
		char *pargv[] = { "prune", "--metrics-job", (char *)(m.job ? m.job : "forget"),
				  m.file ? "--metrics-file" : NULL, (char *)m.file, NULL };
		optind = 1;
		return cmd_prune(m.file ? 5 : 1, pargv);
	}
	return cli_exit(e);
}
