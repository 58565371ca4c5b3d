/*
 * backup.c - `cairn backup`: file trees, standard input, command output.
 */
#include "cairn/common.h"
#include "cli.h"
#include "cairn/archiver.h"
#include "cairn/command.h"
#include "cairn/dumpcheck.h"
#include "cairn/json.h"
#include "cairn/lock.h"
#include "cairn/log.h"
#include "cairn/repo.h"
#include "cairn/snaplist.h"
#include "cairn/timeparse.h"
#include "cairn/walker.h"

#include <fcntl.h>
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

static const char help[] =
	"usage: cairn backup [OPTIONS] PATH...\n"
	"       cairn backup --stdin [--stdin-name NAME] [OPTIONS]\n"
	"       cairn backup --stdin-from-command [OPTIONS] -- COMMAND [ARGS...]\n"
	"\n"
	"Back up file trees, or standard input, or the standard output of COMMAND\n"
	"as one file named NAME at the root of a new snapshot. A command that\n"
	"exits non-zero creates no snapshot. Exit code 3: the snapshot was made but\n"
	"some files could not be read.\n"
	"\n"
	"A database dump on the stream (pg_dump plain or -Fc, pg_dumpall, Redis RDB)\n"
	"is recognised and checked as it is read; a truncated or corrupt one creates\n"
	"no snapshot (exit 1). See cairn-databases(7).\n"
	"\n"
	"Options:\n"
	"      --stdin                read the data from standard input\n"
	"      --stdin-name NAME      file name in the snapshot (default: stdin, or\n"
	"                             the command's name)\n"
	"      --stdin-from-command   run COMMAND and back up its standard output\n"
	"      --no-verify-dump       store a dump even when its check fails\n"
	"  -e, --exclude PATTERN      leave out paths matching PATTERN (repeatable)\n"
	"      --exclude-file FILE    read exclude patterns from FILE, one per line\n"
	"      --exclude-caches       leave out the contents of folders with a CACHEDIR.TAG\n"
	"  -x, --one-file-system      do not cross file system boundaries\n"
	"      --parent ID            compare with this snapshot instead of the latest\n"
	"      --force                read every file (no parent snapshot)\n"
	"      --tag TAG              add a tag (repeat, or separate with commas)\n"
	"      --host HOST            record HOST instead of this machine's name\n"
	"      --time TIME            record TIME instead of now\n"
	"      --threads N            worker threads (default: number of CPUs)\n"
	CLI_METRICS_HELP;

struct backup_args {
	int from_stdin, from_cmd, has_time, force;
	int no_verify_dump;
	const char *metrics_file, *metrics_job;	/* --metrics-file, --metrics-job */
	const char *name, *host, *parent;
	int64_t when;
	unsigned threads;
	const char **excludes;
	size_t n_excludes, cap_excludes;
	int exclude_caches, one_fs;
	char **cmd_argv;
	char **paths;
	size_t n_paths;
};

/* Adds comma-separated tags. */
static int add_tags(struct snapshot *sn, const char *arg)
{
	char *copy = strdup(arg), *save = NULL;
	if (!copy)
		return CAIRN_ENOMEM;
	int e = 0;
	for (char *t = strtok_r(copy, ",", &save); t && e == 0; t = strtok_r(NULL, ",", &save))
		e = snapshot_add_tag(sn, t);
	free(copy);
	return e;
}

static int add_exclude(struct backup_args *ba, const char *p)
{
	if (ba->n_excludes == ba->cap_excludes) {
		size_t cap = ba->cap_excludes ? ba->cap_excludes * 2 : 16;
		const char **v = realloc(ba->excludes, cap * sizeof(*v));
		if (!v)
			return CAIRN_ENOMEM;
		ba->excludes = v;
		ba->cap_excludes = cap;
	}
	char *d = strdup(p);
	if (!d)
		return CAIRN_ENOMEM;
	ba->excludes[ba->n_excludes++] = d;
	return 0;
}

/* Reads patterns from a file: one per line; blank lines and # comments skipped. */
static int read_exclude_file(struct backup_args *ba, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		log_error("cannot read the exclude file %s: %s", path, strerror(errno));
		return CAIRN_EINVAL;
	}
	char line[4096];
	int e = 0;
	while (e == 0 && fgets(line, sizeof(line), f)) {
		size_t n = strlen(line);
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		if (n == 0 || line[0] == '#')
			continue;
		e = add_exclude(ba, line);
	}
	fclose(f);
	return e;
}

/* Prints the result as text or JSON. */
static void print_summary(const uint8_t id[32], const struct snapshot *sn, double secs,
			  const struct walker_stats *ws)
{
	char hex[65];
	hex_encode(id, 32, hex);
	const struct snapshot_summary *s = &sn->summary;
	if (cli_g.json) {
		struct buf b = BUF_INIT;
		struct json j;
		json_init(&j, &b);
		json_obj_begin(&j);
		json_key(&j, "message_type");
		json_str(&j, "summary");
		json_key(&j, "snapshot_id");
		json_str(&j, hex);
		json_key(&j, "files_new");
		json_u64(&j, s->files_new);
		json_key(&j, "files_changed");
		json_u64(&j, s->files_changed);
		json_key(&j, "files_unmodified");
		json_u64(&j, s->files_unmodified);
		json_key(&j, "dirs_new");
		json_u64(&j, s->dirs_new);
		json_key(&j, "dirs_changed");
		json_u64(&j, s->dirs_changed);
		json_key(&j, "dirs_unmodified");
		json_u64(&j, s->dirs_unmodified);
		json_key(&j, "bytes_read");
		json_u64(&j, s->bytes_read);
		json_key(&j, "bytes_added");
		json_u64(&j, s->bytes_added);
		json_key(&j, "data_blobs_added");
		json_u64(&j, s->data_blobs_added);
		json_key(&j, "tree_blobs_added");
		json_u64(&j, s->tree_blobs_added);
		json_key(&j, "errors");
		json_u64(&j, ws ? ws->errors : 0);
		json_key(&j, "duration_seconds");
		json_double(&j, secs);
		json_obj_end(&j);
		buf_put_u8(&b, '\n');
		cli_write_stdout(b.data, b.len);
		buf_free(&b);
		return;
	}
	if (cli_g.quiet)
		return;
	char rd[32], ad[32];
	cli_fmt_bytes(s->bytes_read, rd, sizeof(rd));
	cli_fmt_bytes(s->bytes_added, ad, sizeof(ad));
	if (ws)
		printf("files: %llu new, %llu changed, %llu unmodified; folders: %llu new, %llu "
		       "changed, %llu unmodified\n",
		       (unsigned long long)s->files_new, (unsigned long long)s->files_changed,
		       (unsigned long long)s->files_unmodified, (unsigned long long)s->dirs_new,
		       (unsigned long long)s->dirs_changed, (unsigned long long)s->dirs_unmodified);
	printf("read %s in %.2f s (%.1f MB/s), added %s to the repository\n", rd, secs,
	       secs > 0 ? (double)s->bytes_read / secs / 1e6 : 0.0, ad);
	printf("bytes read: %llu\nbytes added: %llu\n", (unsigned long long)s->bytes_read,
	       (unsigned long long)s->bytes_added);
	printf("snapshot %s saved%s\n", hex,
	       sn->flags & SNAPSHOT_F_INCOMPLETE ? " (incomplete: some files could not be read)"
						 : "");
	fflush(stdout);
}

struct progress_state {
	int json;
	int64_t t0;
	int drawn;
};

/* Progress: a status line on a terminal, or JSON lines with --json. */
static void show_progress(void *arg, const struct walker_stats *st, const char *current)
{
	struct progress_state *p = arg;
	double secs = (double)(time_now_ns() - p->t0) / 1e9;
	uint64_t files = st->files_new + st->files_changed + st->files_unmodified;
	double rate = secs > 0 ? (double)st->bytes_read / secs : 0;
	if (p->json) {
		struct buf b = BUF_INIT;
		struct json j;
		json_init(&j, &b);
		json_obj_begin(&j);
		json_key(&j, "message_type");
		json_str(&j, "status");
		json_key(&j, "seconds_elapsed");
		json_double(&j, secs);
		json_key(&j, "files_done");
		json_u64(&j, files);
		json_key(&j, "bytes_done");
		json_u64(&j, st->bytes_read);
		json_key(&j, "bytes_seen");
		json_u64(&j, st->bytes_total);
		json_key(&j, "errors");
		json_u64(&j, st->errors);
		json_key(&j, "current_file");
		json_str(&j, current);
		json_obj_end(&j);
		buf_put_u8(&b, '\n');
		cli_write_stdout(b.data, b.len);
		buf_free(&b);
		return;
	}
	char done[32], rt[32];
	cli_fmt_bytes(st->bytes_read, done, sizeof(done));
	cli_fmt_bytes((uint64_t)rate, rt, sizeof(rt));
	/* ETA: bytes seen so far but not read, at the current rate */
	uint64_t left = st->bytes_total > st->bytes_read ? st->bytes_total - st->bytes_read : 0;
	char eta[32] = "";
	if (rate > 0 && left > 0)
		snprintf(eta, sizeof(eta), " ETA %.0fs", (double)left / rate);
	fprintf(stderr, "\r\033[K[%.0fs] %llu files, %s, %s/s%s %.60s", secs,
		(unsigned long long)files, done, rt, eta, current);
	p->drawn = 1;
}

/* Parses the options; returns 0, or 1 after printing a usage error. */
static int parse_args(int argc, char **argv, struct backup_args *ba, struct snapshot *sn)
{
	static const struct option longopts[] = {
		{ "stdin", no_argument, NULL, 1 },
		{ "stdin-name", required_argument, NULL, 2 },
		{ "stdin-from-command", no_argument, NULL, 3 },
		{ "tag", required_argument, NULL, 4 },
		{ "host", required_argument, NULL, 5 },
		{ "time", required_argument, NULL, 6 },
		{ "threads", required_argument, NULL, 7 },
		{ "exclude", required_argument, NULL, 'e' },
		{ "exclude-file", required_argument, NULL, 8 },
		{ "exclude-caches", no_argument, NULL, 9 },
		{ "one-file-system", no_argument, NULL, 'x' },
		{ "parent", required_argument, NULL, 10 },
		{ "force", no_argument, NULL, 11 },
		{ "no-verify-dump", no_argument, NULL, 12 },
		{ "metrics-file", required_argument, NULL, 13 },
		{ "metrics-job", required_argument, NULL, 14 },
		CLI_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "+e:x" CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_global_opt(c, optarg, help))
			continue;
		switch (c) {
		case 1: ba->from_stdin = 1; break;
		case 2: ba->name = optarg; break;
		case 3: ba->from_cmd = 1; break;
		case 4:
			if (add_tags(sn, optarg) < 0)
				return 1;
			break;
		case 5: ba->host = optarg; break;
		case 6:
			if (time_parse(optarg, &ba->when) < 0)
				return cli_usage_error("backup", "cannot parse time '%s' (use "
					"YYYY-MM-DD HH:MM[:SS] or ISO 8601)", optarg);
			ba->has_time = 1;
			break;
		case 7: {
			char *end;
			long l = strtol(optarg, &end, 10);
			if (*end || l < 1 || l > 64)
				return cli_usage_error("backup", "--threads must be 1..64");
			ba->threads = (unsigned)l;
			break;
		}
		case 'e':
			if (add_exclude(ba, optarg) < 0)
				return 1;
			break;
		case 8:
			if (read_exclude_file(ba, optarg) < 0)
				return 1;
			break;
		case 9: ba->exclude_caches = 1; break;
		case 'x': ba->one_fs = 1; break;
		case 10: ba->parent = optarg; break;
		case 11: ba->force = 1; break;
		case 12: ba->no_verify_dump = 1; break;
		case 13: ba->metrics_file = optarg; break;
		case 14: ba->metrics_job = optarg; break;
		default: return cli_usage_error("backup", "unknown option");
		}
	}
	if (ba->from_stdin && ba->from_cmd)
		return cli_usage_error("backup", "give --stdin or --stdin-from-command, not both");
	if (ba->from_cmd) {
		if (optind >= argc)
			return cli_usage_error("backup", "give the command after --stdin-from-command --");
		ba->cmd_argv = argv + optind;
	} else if (ba->from_stdin) {
		if (optind < argc)
			return cli_usage_error("backup", "unexpected argument '%s' with --stdin",
					       argv[optind]);
	} else {
		if (optind >= argc)
			return cli_usage_error("backup", "give the paths to back up, or --stdin, or "
					       "--stdin-from-command -- COMMAND");
		ba->paths = argv + optind;
		ba->n_paths = (size_t)(argc - optind);
	}
	if (ba->from_stdin || ba->from_cmd) {
		if (!ba->name) {
			if (ba->from_cmd) {
				const char *s = strrchr(ba->cmd_argv[0], '/');
				ba->name = s ? s + 1 : ba->cmd_argv[0];
			} else {
				ba->name = "stdin";
			}
		}
		if (!node_name_valid(ba->name, strlen(ba->name)))
			return cli_usage_error("backup", "'%s' is not a valid file name for "
					       "--stdin-name", ba->name);
		if (ba->from_stdin && isatty(STDIN_FILENO))
			return cli_usage_error("backup", "standard input is a terminal; pipe the "
					       "data in");
	}
	if (ba->parent && ba->force)
		return cli_usage_error("backup", "give --parent or --force, not both");
	return 0;
}

/* Archiver observer: the stream's bytes go to the dump check. */
struct dump_observer {
	struct dumpcheck *dc;
	struct archiver *a;
	int chunker_chosen;
};

/* Feeds the dump check; once it knows the format (after 256 bytes, before
 * the first chunk is cut at 32 KiB or more), a database dump gets the
 * smaller chunks that suit it (archiver_use_dump_chunker). */
static void observe_dump(void *arg, const void *data, size_t len)
{
	struct dump_observer *o = arg;
	dumpcheck_feed(o->dc, data, len);
	if (o->chunker_chosen)
		return;
	switch (dumpcheck_format_seen(o->dc)) {
	case DUMPCHECK_UNKNOWN:
		return;
	case DUMPCHECK_PG_PLAIN:
	case DUMPCHECK_PG_DUMPALL:
	case DUMPCHECK_PG_CUSTOM:
	case DUMPCHECK_RDB:
		if (archiver_use_dump_chunker(o->a) < 0)
			log_warn("out of memory for the dump chunker; using the repository's");
		break;
	default:
		break;
	}
	o->chunker_chosen = 1;
}

/* The dump check's verdict: warnings, the snapshot's input_format and
 * note, and the refusal of a truncated or corrupt dump unless
 * --no-verify-dump. */
/* Reports a dump check's verdict on what (a stream's name, a folder):
 * warnings, the snapshot's input_format and note, and the refusal of a
 * truncated or corrupt dump unless --no-verify-dump. */
static int report_dump_check(const char *what, int bad, const struct dumpcheck_result *res,
			     const struct backup_args *ba, struct snapshot *sn)
{
	char note[sizeof(res->detail) + 64];
	if (res->warning[0])
		log_warn("%s: %s", what, res->warning);
	if (bad && !ba->no_verify_dump) {
		log_error("%s: %s; no snapshot was made (to store it anyway, add --no-verify-dump)",
			  what, res->detail);
		return CAIRN_ECORRUPT;
	}
	if (bad) {
		log_warn("%s: %s; stored anyway (--no-verify-dump)", what, res->detail);
		snprintf(note, sizeof(note), "not verified (--no-verify-dump): %s", res->detail);
	} else if (res->status == DUMPCHECK_VERIFIED) {
		log_info("%s: %s verified: %s", what, res->format_name, res->detail);
		snprintf(note, sizeof(note), "verified: %s", res->detail);
	} else {
		snprintf(note, sizeof(note), "not verified: %s", res->detail);
	}
	if (res->format == DUMPCHECK_UNKNOWN && !bad)
		return 0;	/* a plain stream: no note */
	sn->input_format = strdup(res->format == DUMPCHECK_UNKNOWN ? "stream" : res->format_name);
	sn->note = strdup(note);
	return sn->input_format && sn->note ? 0 : CAIRN_ENOMEM;
}

/* The dump check's verdict on the stream. */
static int finish_dump_check(struct dumpcheck *dc, const struct backup_args *ba,
			     struct snapshot *sn)
{
	struct dumpcheck_result res;
	int bad = dumpcheck_finish(dc, &res) < 0;
	return report_dump_check(ba->name, bad, &res, ba, sn);
}

/* 1 for the name of a data file of a directory-format dump: 1234.dat,
 * optionally compressed (1234.dat.gz, .lz4, .zst), or blobs.toc. */
static int pg_data_file_name(const char *n)
{
	if (strcmp(n, "blobs.toc") == 0)
		return 1;
	size_t d = strspn(n, "0123456789");
	return d > 0 && strncmp(n + d, ".dat", 4) == 0 &&
	       (n[d + 4] == 0 || strcmp(n + d + 4, ".gz") == 0 || strcmp(n + d + 4, ".lz4") == 0 ||
		strcmp(n + d + 4, ".zst") == 0);
}

/* A file-tree backup of one folder holding a pg_dump directory-format dump
 * (-Fd: a toc.dat starting with PGDMP): its toc.dat is checked and the
 * data files it lists are counted in the folder before anything is
 * stored. Other trees are left alone (0). */
static int check_pg_directory(const struct backup_args *ba, struct snapshot *sn)
{
	enum { TOC_MAX = 256 << 20 };
	if (ba->n_paths != 1)
		return 0;
	char toc[4200];
	snprintf(toc, sizeof(toc), "%s/toc.dat", ba->paths[0]);
	int fd = open(toc, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	struct buf b = BUF_INIT;
	char head[5];
	int e = 0;
	if (read(fd, head, 5) != 5 || memcmp(head, "PGDMP", 5) != 0)
		goto out;	/* some other toc.dat */
	buf_put(&b, head, 5);
	for (;;) {
		if (buf_reserve(&b, 1 << 16) < 0) {
			e = CAIRN_ENOMEM;
			goto out;
		}
		ssize_t r = read(fd, b.data + b.len, 1 << 16);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			log_error("cannot read %s: %s", toc, strerror(errno));
			e = CAIRN_EIO;
			goto out;
		}
		if (r == 0)
			break;
		b.len += (size_t)r;
		if (b.len > TOC_MAX) {
			log_error("%s is larger than %d MiB: not a pg_dump table of contents this "
				  "check reads; add --no-verify-dump to store it unchecked", toc,
				  TOC_MAX >> 20);
			e = ba->no_verify_dump ? 0 : CAIRN_ECORRUPT;
			goto out;
		}
	}
	struct dumpcheck_result res;
	uint64_t want = 0, have = 0;
	e = dumpcheck_pg_toc(b.data, b.len, &res, &want);
	if (e == CAIRN_ENOMEM)
		goto out;
	int bad = e < 0;
	if (!bad) {
		DIR *d = opendir(ba->paths[0]);
		for (struct dirent *de; d && (de = readdir(d));)
			have += pg_data_file_name(de->d_name);
		if (d)
			closedir(d);
		if (have < want) {
			bad = 1;
			res.status = DUMPCHECK_FAILED;
			snprintf(res.detail, sizeof(res.detail), "the pg_dump directory-format dump is "
				 "incomplete: its toc.dat lists %llu data files, the folder holds %llu",
				 (unsigned long long)want, (unsigned long long)have);
		}
	}
	e = report_dump_check(ba->paths[0], bad, &res, ba, sn);
out:
	close(fd);
	buf_free(&b);
	return e;
}

/* Stores standard input or a command's output as the snapshot's only file. */
static int backup_stream(struct repo *r, struct archiver *a, struct backup_args *ba,
			 struct snapshot *sn, int64_t t0, uint8_t ret_tree[32])
{
	struct input_command cmd = { .pid = -1, .fd = -1 };
	struct dumpcheck *dc = NULL;
	struct dump_observer obs = { 0 };
	struct node node;
	struct tree t;
	memset(&node, 0, sizeof(node));
	tree_init(&t);
	int fd = STDIN_FILENO, e;
	(void)r;
	if (ba->from_cmd) {
		e = input_command_start(ba->cmd_argv, &cmd);
		if (e < 0)
			return e;
		fd = cmd.fd;
	}
	node.name = strdup(ba->name);
	node.type = NODE_FILE;
	node.mode = 0600;
	node.uid = (uint32_t)getuid();
	node.gid = (uint32_t)getgid();
	node.mtime_ns = node.ctime_ns = node.atime_ns = ba->has_time ? ba->when : t0;
	e = node.name ? 0 : CAIRN_ENOMEM;
	if (e == 0 && (e = dumpcheck_new(&dc)) == 0) {
		size_t nl = strlen(ba->name);
		if (nl > 4 && strcmp(ba->name + nl - 4, ".rdb") == 0)
			dumpcheck_expect(dc, DUMPCHECK_RDB);
		obs.dc = dc;
		obs.a = a;
		archiver_set_observer(a, observe_dump, &obs);
	}
	if (e == 0)
		e = archiver_store_fd(a, fd, ba->from_cmd ? ba->cmd_argv[0] : "standard input", &node);
	archiver_set_observer(a, NULL, NULL);
	if (ba->from_cmd) {
		int ce = input_command_finish(&cmd);
		if (e == 0)
			e = ce;
	}
	if (e == 0)
		e = finish_dump_check(dc, ba, sn);
	if (e == 0) {
		sn->summary.bytes_read = node.size;
		sn->summary.files_new = 1;
		sn->summary.total_files = 1;
		sn->summary.total_bytes = node.size;
		e = tree_add(&t, &node);
	}
	if (e == 0)
		e = archiver_store_tree(a, &t, ret_tree);
	if (e == 0 && !sn->input_format && !(sn->input_format = strdup("stream")))
		e = CAIRN_ENOMEM;
	dumpcheck_free(dc);
	node_clear(&node);
	tree_free(&t);
	return e;
}

/* The compression dictionary: the parent's, or a new one trained on this
 * backup's data (archiver_set_dict). */
static int set_dict(struct repo *r, struct archiver *a, const struct snapshot *sn)
{
	struct snapshot psn;
	snapshot_init(&psn);
	int e = sn->has_parent ? snap_load(r, sn->parent, &psn) : 0;
	if (e == 0)
		e = archiver_set_dict(a, psn.has_dict ? psn.dict : NULL);
	snapshot_clear(&psn);
	return e;
}

/* The parent snapshot: --parent, or the latest of this host and paths. */
static int find_parent(struct repo *r, struct backup_args *ba, struct snapshot *sn)
{
	if (ba->force)
		return 0;
	struct snap_filter f = { .host = sn->hostname, .paths = (const char *const *)sn->paths,
				 .n_paths = sn->n_paths };
	struct snap_list l;
	int e = snap_list_load(r, ba->parent ? NULL : &f, &l);
	if (e < 0)
		return e;
	if (ba->parent) {
		int idx = snap_list_select(&l, ba->parent, 0, 0);
		if (idx < 0)
			e = idx;
		else {
			sn->has_parent = 1;
			memcpy(sn->parent, l.v[idx].id, 32);
		}
	} else if (l.n) {
		sn->has_parent = 1;
		memcpy(sn->parent, l.v[l.n - 1].id, 32);
	}
	snap_list_free(&l);
	return e;
}

/* Walks the file trees. */
static int backup_tree(struct repo *r, struct archiver *a, struct backup_args *ba,
		       struct snapshot *sn, uint8_t ret_tree[32], struct walker_stats *ws)
{
	struct progress_state ps = { .json = cli_g.json, .t0 = time_now_ns() };
	struct walker_opts wo = {
		.paths = (const char *const *)ba->paths,
		.n_paths = ba->n_paths,
		.excludes = ba->excludes,
		.n_excludes = ba->n_excludes,
		.exclude_caches = ba->exclude_caches,
		.one_file_system = ba->one_fs,
	};
	if (!cli_g.quiet && (cli_g.json || isatty(STDERR_FILENO))) {
		wo.progress = show_progress;
		wo.progress_arg = &ps;
	}
	int e = check_pg_directory(ba, sn);
	if (e < 0)
		return e;
	if (sn->has_parent) {
		struct snapshot psn;
		e = snap_load(r, sn->parent, &psn);
		if (e < 0)
			return e;
		wo.has_parent = 1;
		memcpy(wo.parent_tree, psn.tree, 32);
		snapshot_clear(&psn);
	}
	e = walker_backup(r, a, &wo, ret_tree, ws);
	if (ps.drawn)
		fputs("\r\033[K", stderr);
	if (e < 0)
		return e;
	sn->summary.files_new = ws->files_new;
	sn->summary.files_changed = ws->files_changed;
	sn->summary.files_unmodified = ws->files_unmodified;
	sn->summary.dirs_new = ws->dirs_new;
	sn->summary.dirs_changed = ws->dirs_changed;
	sn->summary.dirs_unmodified = ws->dirs_unmodified;
	sn->summary.bytes_read = ws->bytes_read;
	sn->summary.total_files = ws->files_new + ws->files_changed + ws->files_unmodified;
	sn->summary.total_bytes = ws->bytes_total;
	if (ws->errors) {
		sn->flags |= SNAPSHOT_F_INCOMPLETE;
		log_warn("%llu source(s) could not be read; the snapshot is marked incomplete",
			 (unsigned long long)ws->errors);
	}
	return 0;
}

/* Absolute, sorted snapshot paths for a tree backup, as the walker stores them. */
static int set_tree_paths(struct snapshot *sn, struct backup_args *ba)
{
	for (size_t i = 0; i < ba->n_paths; i++) {
		struct stat st;
		if (lstat(ba->paths[i], &st) < 0) {
			log_error("cannot back up %s: %s", ba->paths[i], strerror(errno));
			return CAIRN_ENOTFOUND;
		}
		char *abs = walker_normalize(ba->paths[i]);
		if (!abs)
			return CAIRN_ENOMEM;
		int dup = 0;
		for (size_t k = 0; k < sn->n_paths; k++)
			dup |= strcmp(sn->paths[k], abs) == 0;
		int e = dup ? 0 : snapshot_add_path(sn, abs);
		free(abs);
		if (e < 0)
			return e;
	}
	qsort(sn->paths, sn->n_paths, sizeof(*sn->paths), cli_strcmp_ptr);
	return 0;
}

int cmd_backup(int argc, char **argv)
{
	struct backup_args ba = { 0 };
	struct snapshot sn;
	struct walker_stats ws = { 0 };
	struct repo *r = NULL;
	struct repo_lock *lk = NULL;
	struct archiver *a = NULL;
	uint8_t tree_id[32], snap_id[32];
	int64_t started = time_now_ns();
	int e;
	snapshot_init(&sn);
	if (parse_args(argc, argv, &ba, &sn) != 0) {
		e = CAIRN_EINVAL;
		goto usage_out;
	}
	int tree_mode = !ba.from_stdin && !ba.from_cmd;
	if (tree_mode && (e = set_tree_paths(&sn, &ba)) < 0)
		goto out;
	e = cli_open_repo_locked(CLI_LOCK_SHARED, &r, &lk);
	if (e < 0)
		goto out;
	struct archiver_opts ao = { .threads = ba.threads };
	e = archiver_new(r, &ao, &a);
	if (e < 0)
		goto out;
	int64_t t0 = time_now_ns();
	char hostbuf[256];
	const char *host = ba.host;
	if (!host) {
		if (gethostname(hostbuf, sizeof(hostbuf)) < 0)
			snprintf(hostbuf, sizeof(hostbuf), "unknown");
		hostbuf[sizeof(hostbuf) - 1] = 0;
		host = hostbuf;
	}
	struct passwd *pw = getpwuid(getuid());
	sn.time_ns = ba.has_time ? ba.when : t0;
	sn.tz_offset = time_local_offset(sn.time_ns);
	sn.hostname = strdup(host);
	sn.username = strdup(pw && pw->pw_name ? pw->pw_name : "");
	sn.program = strdup("cairn " PACKAGE_VERSION);
	if (!sn.hostname || !sn.username || !sn.program) {
		e = CAIRN_ENOMEM;
		goto out;
	}
	if (!tree_mode) {
		/* a stream is stored as one file at the snapshot's root */
		char path[4200];
		snprintf(path, sizeof(path), "/%s", ba.name);
		e = snapshot_add_path(&sn, path);
		if (e < 0)
			goto out;
	}
	e = find_parent(r, &ba, &sn);
	if (e == 0)
		e = set_dict(r, a, &sn);
	if (e == 0)
		e = tree_mode ? backup_tree(r, a, &ba, &sn, tree_id, &ws)
			      : backup_stream(r, a, &ba, &sn, t0, tree_id);
	if (e < 0)
		goto out;
	memcpy(sn.tree, tree_id, 32);
	e = archiver_commit(a, &sn, snap_id);
	if (e < 0)
		goto out;
	/* the snapshot holds what was stored: the lock can go while the cache
	 * finishes recording it (measured on S3: the cache's last inserts
	 * ran 8-23 ms past the snapshot) */
	lock_release(lk);
	lk = NULL;
	archiver_finish(a);
	print_summary(snap_id, &sn, (double)(time_now_ns() - t0) / 1e9, tree_mode ? &ws : NULL);
	if (sn.flags & SNAPSHOT_F_INCOMPLETE)
		e = CAIRN_EINCOMPLETE;
out:
	if (ba.metrics_file) {
		struct cli_metrics m = {
			.file = ba.metrics_file, .job = ba.metrics_job, .command = "backup",
			.start_ns = started, .exit_code = cli_exit(e),
			.bytes_added = sn.summary.bytes_added,
			.files_processed = sn.summary.total_files, .errors_found = ws.errors,
		};
		if (cli_metrics_write(r, &m) < 0 && e == 0)
			e = CAIRN_EIO;
	}
	archiver_free(a);
	cli_close_repo(r, lk);
	if (e < 0 && e != CAIRN_EINCOMPLETE && e != CAIRN_ELOCKED && e != CAIRN_ECHILD && e != CAIRN_ENOREPO &&
	    e != CAIRN_EPASSWORD && e != CAIRN_ENOTFOUND)
		log_error("backup failed (%s); no snapshot was made", cairn_strerror(e));
usage_out:
	for (size_t i = 0; i < ba.n_excludes; i++)
		free((char *)ba.excludes[i]);
	free(ba.excludes);
	snapshot_clear(&sn);
	return e == CAIRN_EINVAL && !r ? 1 : cli_exit(e);
}
