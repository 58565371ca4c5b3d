/*
 * check.c - `cairn check`: verify the repository and report the damage.
 */
#include "cairn/common.h"
#include "cli.h"
#include "cairn/checkdb.h"
#include "cairn/checker.h"
#include "cairn/json.h"
#include "cairn/log.h"
#include "cairn/pack.h"
#include "cairn/repo.h"
#include "cairn/timeparse.h"

#include <unistd.h>

#define TEXT_REFS_MAX 20	/* references printed per lost blob */
#define JSON_REFS_MAX 1000

static const char help[] =
	"usage: cairn check [OPTIONS]\n"
	"\n"
	"Verify the repository: index files against pack headers, every snapshot's\n"
	"trees against the index; with --read-data also the content of the packs.\n"
	"For every damaged or missing blob, name the snapshots and paths that use\n"
	"it, and for each damaged snapshot what can still be restored. Exit code 1\n"
	"when anything is damaged.\n"
	"\n"
	"Options:\n"
	"      --read-data            download every pack and verify every blob\n"
	"      --read-data-subset N/T read the packs of bucket N of T (by pack id), so\n"
	"                             runs 1/T .. T/T together read every pack once;\n"
	"                             N-M/T reads buckets N to M\n"
	"      --read-data-subset P%  read a random P percent of the packs\n"
	"      --threads N            packs read at once (default: number of CPUs)\n"
	CLI_METRICS_HELP;

int cli_parse_read_subset(const char *s, struct checker_opts *o)
{
	char *end;
	size_t n = strlen(s);
	if (n > 1 && s[n - 1] == '%') {
		double p = strtod(s, &end);
		if (end != s + n - 1 || !(p > 0) || p > 100)
			return CAIRN_EINVAL;
		o->read = CHECK_READ_PERCENT;
		o->percent = p;
		return 0;
	}
	unsigned long a = strtoul(s, &end, 10), last = 0;
	if (end == s || *s == '-')
		return CAIRN_EINVAL;
	if (*end == '-') {
		const char *l = end + 1;
		last = strtoul(l, &end, 10);
		if (end == l || *l == '-' || last < a)
			return CAIRN_EINVAL;
	}
	if (*end != '/')
		return CAIRN_EINVAL;
	const char *t = end + 1;
	unsigned long b = strtoul(t, &end, 10);
	if (end == t || *end || *t == '-' || a < 1 || b < 1 || a > b || last > b ||
	    b > 0x7fffffffUL)
		return CAIRN_EINVAL;
	o->read = CHECK_READ_BUCKET;
	o->bucket = (uint32_t)a;
	o->bucket_last = (uint32_t)last;
	o->buckets = (uint32_t)b;
	return 0;
}

struct progress_state {
	int64_t t0;
	int drawn;
};

static void show_progress(void *arg, const struct check_progress *p)
{
	struct progress_state *ps = arg;
	char bytes[32];
	cli_fmt_bytes(p->bytes, bytes, sizeof(bytes));
	double secs = (double)(time_now_ns() - ps->t0) / 1e9;
	fprintf(stderr, "\r\033[K[%.0fs] ", secs);
	if (strcmp(p->phase, "index") == 0) {
		fprintf(stderr, "loading index files %llu/%llu", (unsigned long long)p->done,
			(unsigned long long)p->total);
	} else {
		fprintf(stderr, "%s %llu/%llu, snapshots %llu/%llu, %s read",
			strcmp(p->phase, "read") == 0 || p->packs_total == 0 ? "packs read"
									 : "pack headers",
			(unsigned long long)p->packs_done, (unsigned long long)p->packs_total,
			(unsigned long long)p->snapshots_done,
			(unsigned long long)p->snapshots_total, bytes);
	}
	ps->drawn = 1;
}

static const char *sev_name(int sev)
{
	return sev == CHECK_ERROR ? "error" : sev == CHECK_WARNING ? "warning" : "note";
}

/* ---- text ---- */

struct text_state {
	struct checker *ch;
	int sev;		/* problems of this severity */
	int printed;
	/* lost blobs */
	int have;
	unsigned type;
	uint8_t id[32];
	uint64_t refs, more;
	int need_repair_index, need_repair_packs;
};

static int text_problem(void *arg, const struct checkdb_problem *p)
{
	struct text_state *ts = arg;
	if (p->severity != ts->sev)
		return 0;
	if (!ts->printed++)
		printf("\n%ss:\n", sev_name(ts->sev));
	printf("  %s: %s\n", p->object, p->message);
	if (strcmp(p->kind, "index-damaged") == 0)
		ts->need_repair_index = 1;
	if (strncmp(p->kind, "pack-", 5) == 0 && strcmp(p->kind, "pack-unindexed") != 0 &&
	    strcmp(p->kind, "pack-indexed-twice") != 0)
		ts->need_repair_packs = 1;
	if (strcmp(p->kind, "blob-damaged") == 0)
		ts->need_repair_packs = 1;
	return 0;
}

static void snap_label(const struct check_snapshot *s, char *out, size_t cap)
{
	char hex[65], t[40];
	hex_encode(s->id, 32, hex);
	if (!s->readable) {
		snprintf(out, cap, "%.8s (unreadable)", hex);
		return;
	}
	time_format_short(s->sn.time_ns, time_local_offset(s->sn.time_ns), t, sizeof(t));
	snprintf(out, cap, "%.8s (%s, %s)", hex, t, s->sn.hostname ? s->sn.hostname : "?");
}

static int flush_blob_text(struct text_state *ts)
{
	if (ts->have && ts->more)
		printf("      ... and %llu more references\n", (unsigned long long)ts->more);
	return 0;
}

static int text_damage(void *arg, const struct checkdb_damage *d)
{
	struct text_state *ts = arg;
	if (!ts->have || d->type != ts->type || memcmp(d->id, ts->id, 32) != 0) {
		flush_blob_text(ts);
		char hex[65], detail[1024];
		if (!ts->have)
			printf("\ndamaged or missing blobs, and what uses them:\n");
		ts->have = 1;
		ts->type = d->type;
		memcpy(ts->id, d->id, 32);
		ts->refs = ts->more = 0;
		hex_encode(d->id, 32, hex);
		int e = checker_blob_detail(ts->ch, d->type, d->id, d->reason, detail, sizeof(detail));
		if (e < 0)
			return e;
		if (d->reason == CHECKDB_LOST_NOT_INDEXED && strstr(detail, "repair index"))
			ts->need_repair_index = 1;
		printf("  %s blob %s: %s\n", blob_type_name(d->type), hex, detail);
	}
	if (ts->refs++ >= TEXT_REFS_MAX) {
		ts->more++;
		return 0;
	}
	char label[128];
	snap_label(checker_snapshot(ts->ch, d->sidx), label, sizeof(label));
	if (d->type == BLOB_TREE)
		printf("    snapshot %s: folder %s\n", label, d->path);
	else
		printf("    snapshot %s: %s at offset %llu\n", label, d->path,
		       (unsigned long long)d->off);
	return 0;
}

static int text_dfile(void *arg, const struct checkdb_dfile *f)
{
	(void)arg;
	if (f->is_dir)
		printf("    lost folder: %s (nothing below it can be restored)\n", f->path);
	else
		printf("    damaged: %s (the first %llu of %llu bytes are intact)\n", f->path,
		       (unsigned long long)f->intact, (unsigned long long)f->size);
	return 0;
}

static int print_text(struct checker *ch, const struct check_stats *st)
{
	struct text_state ts = { .ch = ch };
	char b1[32], b2[32];
	int e = 0;
	if (cli_g.quiet && st->errors == 0)
		return 0;
	cli_fmt_bytes(st->bytes, b1, sizeof(b1));
	printf("checked %llu index files, %llu packs (%s, %llu blobs), %llu snapshots (%llu "
	       "trees, %llu files)\n",
	       (unsigned long long)st->index_files, (unsigned long long)st->packs, b1,
	       (unsigned long long)st->blobs, (unsigned long long)st->snapshots,
	       (unsigned long long)st->trees, (unsigned long long)st->files);
	if (st->packs_read) {
		cli_fmt_bytes(st->bytes_read, b2, sizeof(b2));
		printf("read %llu packs in full (%llu blobs; %s downloaded in all)\n",
		       (unsigned long long)st->packs_read, (unsigned long long)st->blobs_read, b2);
	}
	for (ts.sev = CHECK_ERROR; ts.sev >= CHECK_NOTE && e == 0; ts.sev--) {
		if (cli_g.quiet && ts.sev != CHECK_ERROR)
			break;
		ts.printed = 0;
		e = checkdb_problems_foreach(checker_db(ch), text_problem, &ts);
	}
	if (e == 0)
		e = checkdb_damage_foreach(checker_db(ch), text_damage, &ts);
	if (e < 0)
		return e;
	flush_blob_text(&ts);
	int header = 0;
	for (size_t i = 0; i < checker_snapshot_count(ch); i++) {
		const struct check_snapshot *s = checker_snapshot(ch, i);
		if (!s->readable || s->state == CHECKDB_CLEAN)
			continue;
		char label[128], intact[32];
		if (!header++)
			printf("\ndamaged snapshots, and what can still be restored:\n");
		snap_label(s, label, sizeof(label));
		if (s->state == CHECKDB_LOST) {
			printf("  snapshot %s: its root tree is lost: none of its %llu files can be "
			       "restored\n",
			       label, (unsigned long long)s->sn.summary.total_files);
			continue;
		}
		printf("  snapshot %s: %llu of %llu files damaged, %llu folder(s) lost\n", label,
		       (unsigned long long)s->files_damaged, (unsigned long long)s->files,
		       (unsigned long long)s->dirs_lost);
		e = checkdb_dfiles_foreach(checker_db(ch), i, text_dfile, NULL);
		if (e < 0)
			return e;
		cli_fmt_bytes(s->bytes_intact, intact, sizeof(intact));
		printf("    intact: the other %llu files can be restored as they were (%s of file "
		       "content, including the intact beginnings of damaged files)\n",
		       (unsigned long long)(s->files - s->files_damaged), intact);
	}
	if (st->errors == 0) {
		printf("\nno errors were found%s\n",
		       st->warnings ? " (see the warnings above)" : "");
		return 0;
	}
	printf("\nwhat to do:\n");
	if (ts.need_repair_index)
		printf("  cairn repair index               rebuild the index from the pack headers\n");
	if (ts.need_repair_packs)
		printf("  cairn repair packs ID...         salvage the intact blobs of the damaged "
		       "packs named above\n");
	if (st->snapshots_damaged || st->snapshots_unreadable)
		printf("  cairn repair snapshots --forget  replace damaged snapshots by restorable "
		       "ones\n");
	printf("\n%llu error(s), %llu warning(s): the repository is damaged\n",
	       (unsigned long long)st->errors, (unsigned long long)st->warnings);
	return 0;
}

/* ---- JSON ---- */

struct json_state {
	struct checker *ch;
	struct json *j;
	int have;
	unsigned type;
	uint8_t id[32];
	uint64_t refs, more;
};

static int json_problem(void *arg, const struct checkdb_problem *p)
{
	struct json *j = ((struct json_state *)arg)->j;
	json_obj_begin(j);
	json_key(j, "severity");
	json_str(j, sev_name(p->severity));
	json_key(j, "kind");
	json_str(j, p->kind);
	json_key(j, "object");
	json_str(j, p->object);
	json_key(j, "message");
	json_str(j, p->message);
	json_obj_end(j);
	return 0;
}

static void json_blob_end(struct json_state *js)
{
	if (!js->have)
		return;
	json_arr_end(js->j);
	json_key(js->j, "more_references");
	json_u64(js->j, js->more);
	json_obj_end(js->j);
}

static int json_damage(void *arg, const struct checkdb_damage *d)
{
	struct json_state *js = arg;
	struct json *j = js->j;
	if (!js->have || d->type != js->type || memcmp(d->id, js->id, 32) != 0) {
		char detail[1024];
		json_blob_end(js);
		js->have = 1;
		js->type = d->type;
		memcpy(js->id, d->id, 32);
		js->refs = js->more = 0;
		int e = checker_blob_detail(js->ch, d->type, d->id, d->reason, detail, sizeof(detail));
		if (e < 0)
			return e;
		json_obj_begin(j);
		json_key(j, "id");
		json_hex(j, d->id, 32);
		json_key(j, "type");
		json_str(j, blob_type_name(d->type));
		json_key(j, "reason");
		json_str(j, checkdb_reason_text(d->reason));
		json_key(j, "detail");
		json_str(j, detail);
		json_key(j, "references");
		json_arr_begin(j);
	}
	if (js->refs++ >= JSON_REFS_MAX) {
		js->more++;
		return 0;
	}
	json_obj_begin(j);
	json_key(j, "snapshot");
	json_hex(j, checker_snapshot(js->ch, d->sidx)->id, 32);
	json_key(j, "path");
	json_str(j, d->path);
	if (d->type != BLOB_TREE) {
		json_key(j, "offset");
		json_u64(j, d->off);
	}
	json_obj_end(j);
	return 0;
}

static int json_dfile(void *arg, const struct checkdb_dfile *f)
{
	struct json *j = arg;
	json_obj_begin(j);
	json_key(j, "path");
	json_str(j, f->path);
	json_key(j, "type");
	json_str(j, f->is_dir ? "dir" : "file");
	if (!f->is_dir) {
		json_key(j, "size");
		json_u64(j, f->size);
		json_key(j, "intact_bytes");
		json_u64(j, f->intact);
	}
	json_obj_end(j);
	return 0;
}

static int pack_read_json(void *arg, const uint8_t id[32])
{
	json_hex(arg, id, 32);
	return 0;
}

static int print_json(struct checker *ch, const struct checker_opts *o,
		      const struct check_stats *st)
{
	struct buf b = BUF_INIT;
	struct json j;
	struct json_state js = { .ch = ch, .j = &j };
	char mode[48] = "none";
	json_init(&j, &b);
	if (o->read == CHECK_READ_ALL)
		snprintf(mode, sizeof(mode), "all");
	else if (o->read == CHECK_READ_BUCKET && o->bucket_last > o->bucket)
		snprintf(mode, sizeof(mode), "%u-%u/%u", o->bucket, o->bucket_last, o->buckets);
	else if (o->read == CHECK_READ_BUCKET)
		snprintf(mode, sizeof(mode), "%u/%u", o->bucket, o->buckets);
	else if (o->read == CHECK_READ_PERCENT)
		snprintf(mode, sizeof(mode), "%g%%", o->percent);
	json_obj_begin(&j);
	json_key(&j, "ok");
	json_bool(&j, st->errors == 0);
	json_key(&j, "errors");
	json_u64(&j, st->errors);
	json_key(&j, "warnings");
	json_u64(&j, st->warnings);
	json_key(&j, "notes");
	json_u64(&j, st->notes);
	json_key(&j, "read_data");
	json_str(&j, mode);
	const struct {
		const char *k;
		uint64_t v;
	} nums[] = {
		{ "index_files", st->index_files },
		{ "index_files_damaged", st->index_files_bad },
		{ "packs", st->packs },
		{ "pack_bytes", st->bytes },
		{ "packs_unindexed", st->packs_unindexed },
		{ "packs_missing", st->packs_missing },
		{ "packs_damaged", st->packs_damaged },
		{ "blobs", st->blobs },
		{ "blobs_duplicate", st->blobs_duplicate },
		{ "packs_read_count", st->packs_read },
		{ "blobs_read", st->blobs_read },
		{ "blobs_read_damaged", st->blobs_read_bad },
		{ "bytes_read", st->bytes_read },
		{ "snapshots", st->snapshots },
		{ "snapshots_unreadable", st->snapshots_unreadable },
		{ "snapshots_damaged", st->snapshots_damaged },
		{ "trees", st->trees },
		{ "lists", st->lists },
		{ "files", st->files },
		{ "blobs_lost", st->blobs_lost },
	};
	for (size_t i = 0; i < CAIRN_ARRAY_LEN(nums); i++) {
		json_key(&j, nums[i].k);
		json_u64(&j, nums[i].v);
	}
	json_key(&j, "packs_read");
	json_arr_begin(&j);
	int e = checker_foreach_pack_read(ch, pack_read_json, &j);
	json_arr_end(&j);
	json_key(&j, "problems");
	json_arr_begin(&j);
	if (e == 0)
		e = checkdb_problems_foreach(checker_db(ch), json_problem, &js);
	json_arr_end(&j);
	json_key(&j, "damaged_blobs");
	json_arr_begin(&j);
	if (e == 0)
		e = checkdb_damage_foreach(checker_db(ch), json_damage, &js);
	json_blob_end(&js);
	json_arr_end(&j);
	json_key(&j, "snapshots_report");
	json_arr_begin(&j);
	for (size_t i = 0; i < checker_snapshot_count(ch) && e == 0; i++) {
		const struct check_snapshot *s = checker_snapshot(ch, i);
		static const char *const states[] = { "unknown", "intact", "damaged", "lost" };
		json_obj_begin(&j);
		json_key(&j, "id");
		json_hex(&j, s->id, 32);
		json_key(&j, "readable");
		json_bool(&j, s->readable);
		json_key(&j, "status");
		json_str(&j, !s->readable ? "unreadable" : states[s->state & 3]);
		if (s->readable) {
			char t[48];
			time_format_rfc3339(s->sn.time_ns, s->sn.tz_offset, t, sizeof(t));
			json_key(&j, "time");
			json_str(&j, t);
			json_key(&j, "hostname");
			json_str(&j, s->sn.hostname ? s->sn.hostname : "");
			json_key(&j, "files");
			json_u64(&j, s->files);
			json_key(&j, "bytes");
			json_u64(&j, s->bytes);
			json_key(&j, "files_damaged");
			json_u64(&j, s->files_damaged);
			json_key(&j, "files_intact");
			json_u64(&j, s->files - s->files_damaged);
			json_key(&j, "bytes_intact");
			json_u64(&j, s->bytes_intact);
			json_key(&j, "folders_lost");
			json_u64(&j, s->dirs_lost);
			json_key(&j, "damaged");
			json_arr_begin(&j);
			e = checkdb_dfiles_foreach(checker_db(ch), i, json_dfile, &j);
			json_arr_end(&j);
		}
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_end(&j);
	buf_put_u8(&b, '\n');
	if (e == 0)
		e = buf_ok(&b);
	if (e == 0)
		e = cli_write_stdout(b.data, b.len);
	buf_free(&b);
	return e;
}

int cmd_check(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "read-data", no_argument, NULL, 1 },
		{ "read-data-subset", required_argument, NULL, 2 },
		{ "threads", required_argument, NULL, 3 },
		{ "metrics-file", required_argument, NULL, 4 },
		{ "metrics-job", required_argument, NULL, 5 },
		CLI_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct checker_opts o = { 0 };
	struct cli_metrics m = { .command = "check", .start_ns = time_now_ns() };
	int c, modes = 0;
	while ((c = getopt_long(argc, argv, CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_global_opt(c, optarg, help))
			continue;
		switch (c) {
		case 1:
			o.read = CHECK_READ_ALL;
			modes++;
			break;
		case 2:
			if (cli_parse_read_subset(optarg, &o) < 0)
				return cli_usage_error("check", "--read-data-subset takes N/T or N-M/T "
						       "(1 <= N <= M <= T) or P%% (0 < P <= 100), "
						       "not '%s'",
						       optarg);
			modes++;
			break;
		case 3: {
			char *end;
			long l = strtol(optarg, &end, 10);
			if (*end || l < 1 || l > 64)
				return cli_usage_error("check", "--threads must be 1..64");
			o.threads = (unsigned)l;
			break;
		}
		case 4: m.file = optarg; break;
		case 5: m.job = optarg; break;
		default: return cli_usage_error("check", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error("check", "unexpected argument '%s'", argv[optind]);
	if (modes > 1)
		return cli_usage_error("check", "give --read-data or one --read-data-subset");
	struct progress_state ps = { .t0 = time_now_ns() };
	if (!cli_g.quiet && !cli_g.json && isatty(STDERR_FILENO)) {
		o.progress = show_progress;
		o.progress_arg = &ps;
	}
	struct repo *r = NULL;
	struct repo_lock *lk = NULL;
	struct checker *ch = NULL;
	struct check_stats st = { 0 };
	int e = cli_open_repo_locked(CLI_LOCK_SHARED, &r, &lk);
	if (e == 0)
		e = checker_new(r, &o, &ch);
	if (e == 0)
		e = checker_run(ch);
	if (ps.drawn)
		fputs("\r\033[K", stderr);
	if (e == 0) {
		checker_get_stats(ch, &st);
		e = cli_g.json ? print_json(ch, &o, &st) : print_text(ch, &st);
		fflush(stdout);
	}
	int code = e < 0 ? cli_exit(e) : st.errors ? 1 : 0;
	m.exit_code = code;
	m.errors_found = e < 0 ? 1 : st.errors;
	m.files_processed = st.files;
	m.has_repo_bytes = e == 0;
	m.repo_bytes = st.bytes;
	if (cli_metrics_write(r, &m) < 0 && code == 0)
		code = 1;
	checker_free(ch);
	cli_close_repo(r, lk);
	return code;
}
