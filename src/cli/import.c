/*
 * import.c - `cairn import ARCHIVE`: a tar, zip or other archive as a snapshot.
 */
#include "cairn/common.h"
#include "cli.h"
#include "cairn/archiver.h"
#include "cairn/json.h"
#include "cairn/lock.h"
#include "cairn/log.h"
#include "cairn/repo.h"
#include "cairn/tarin.h"
#include "cairn/timeparse.h"

#include <pwd.h>
#include <unistd.h>

static const char help[] =
	"usage: cairn import [OPTIONS] ARCHIVE\n"
	"\n"
	"Store the entries of ARCHIVE (a tar, possibly compressed, a zip, cpio, 7z,\n"
	"...; - for standard input) as a new snapshot, each at its path below the\n"
	"snapshot's root: restoring it into DIR gives what 'tar -x -C DIR' gives.\n"
	"The snapshot's path is the archive's file name (stdin for -). A\n"
	"truncated or damaged archive creates no snapshot.\n"
	"\n"
	"Options:\n"
	"      --tag TAG              add a tag (repeat, or separate with commas)\n"
	"      --host HOST            record HOST instead of this machine's name\n"
	"      --time TIME            record TIME instead of now\n"
	"      --threads N            worker threads (default: number of CPUs)\n";

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

/* Prints the result as text or JSON. */
static void print_summary(const uint8_t id[32], const struct snapshot *sn,
			  const struct tarin_stats *ts, double secs)
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
		json_key(&j, "format");
		json_str(&j, ts->format);
		json_key(&j, "files");
		json_u64(&j, ts->files);
		json_key(&j, "dirs");
		json_u64(&j, ts->dirs);
		json_key(&j, "hard_links");
		json_u64(&j, ts->links);
		json_key(&j, "symlinks");
		json_u64(&j, ts->symlinks);
		json_key(&j, "others");
		json_u64(&j, ts->others);
		json_key(&j, "skipped");
		json_u64(&j, ts->skipped);
		json_key(&j, "duplicates");
		json_u64(&j, ts->duplicates);
		json_key(&j, "bytes_read");
		json_u64(&j, s->bytes_read);
		json_key(&j, "bytes_added");
		json_u64(&j, s->bytes_added);
		json_key(&j, "data_blobs_added");
		json_u64(&j, s->data_blobs_added);
		json_key(&j, "tree_blobs_added");
		json_u64(&j, s->tree_blobs_added);
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
	printf("imported %s archive: %llu files, %llu folders, %llu hard links, %llu symlinks, "
	       "%llu others",
	       ts->format, (unsigned long long)ts->files, (unsigned long long)ts->dirs,
	       (unsigned long long)ts->links, (unsigned long long)ts->symlinks,
	       (unsigned long long)ts->others);
	if (ts->skipped)
		printf(", %llu left out", (unsigned long long)ts->skipped);
	printf("\nread %s in %.2f s (%.1f MB/s), added %s to the repository\n", rd, secs,
	       secs > 0 ? (double)s->bytes_read / secs / 1e6 : 0.0, ad);
	printf("bytes read: %llu\nbytes added: %llu\n", (unsigned long long)s->bytes_read,
	       (unsigned long long)s->bytes_added);
	printf("snapshot %s saved\n", hex);
	fflush(stdout);
}

int cmd_import(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tag", required_argument, NULL, 1 },
		{ "host", required_argument, NULL, 2 },
		{ "time", required_argument, NULL, 3 },
		{ "threads", required_argument, NULL, 4 },
		CLI_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct snapshot sn;
	struct repo *r = NULL;
	struct repo_lock *lk = NULL;
	struct archiver *a = NULL;
	struct tarin_stats ts;
	uint8_t tree_id[32], snap_id[32];
	const char *host = NULL;
	int64_t when = 0;
	int has_time = 0, c, e = 0;
	unsigned threads = 0;
	snapshot_init(&sn);
	while ((c = getopt_long(argc, argv, "+" CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_global_opt(c, optarg, help))
			continue;
		switch (c) {
		case 1:
			if (add_tags(&sn, optarg) < 0) {
				e = 1;
				goto usage_out;
			}
			break;
		case 2: host = optarg; break;
		case 3:
			if (time_parse(optarg, &when) < 0) {
				e = cli_usage_error("import", "cannot parse time '%s' (use "
					"YYYY-MM-DD HH:MM[:SS] or ISO 8601)", optarg);
				goto usage_out;
			}
			has_time = 1;
			break;
		case 4: {
			char *end;
			long l = strtol(optarg, &end, 10);
			if (*end || l < 1 || l > 64) {
				e = cli_usage_error("import", "--threads must be 1..64");
				goto usage_out;
			}
			threads = (unsigned)l;
			break;
		}
		default:
			e = cli_usage_error("import", "unknown option");
			goto usage_out;
		}
	}
	if (argc - optind != 1) {
		e = cli_usage_error("import", "give one ARCHIVE (or - for standard input)");
		goto usage_out;
	}
	const char *path = argv[optind];
	int from_stdin = strcmp(path, "-") == 0;
	if (from_stdin && isatty(STDIN_FILENO)) {
		e = cli_usage_error("import", "standard input is a terminal; pipe the archive in");
		goto usage_out;
	}
	const char *base = strrchr(path, '/');
	base = from_stdin ? "stdin" : base ? base + 1 : path;
	if (!base[0]) {
		e = cli_usage_error("import", "'%s' names a folder; give an archive file", path);
		goto usage_out;
	}
	/* shared, as a backup: prune must not delete packs this import uses */
	e = cli_open_repo_locked(CLI_LOCK_SHARED, &r, &lk);
	if (e < 0)
		goto out;
	struct archiver_opts ao = { .threads = threads };
	e = archiver_new(r, &ao, &a);
	if (e < 0)
		goto out;
	int64_t t0 = time_now_ns();
	char hostbuf[256];
	if (!host) {
		if (gethostname(hostbuf, sizeof(hostbuf)) < 0)
			snprintf(hostbuf, sizeof(hostbuf), "unknown");
		hostbuf[sizeof(hostbuf) - 1] = 0;
		host = hostbuf;
	}
	struct passwd *pw = getpwuid(getuid());
	sn.time_ns = has_time ? when : t0;
	sn.tz_offset = time_local_offset(sn.time_ns);
	sn.hostname = strdup(host);
	sn.username = strdup(pw && pw->pw_name ? pw->pw_name : "");
	sn.program = strdup("cairn " PACKAGE_VERSION);
	if (!sn.hostname || !sn.username || !sn.program || snapshot_add_path(&sn, base) < 0) {
		e = CAIRN_ENOMEM;
		goto out;
	}
	struct tarin_opts to = { .dir_uid = (uint32_t)getuid(), .dir_gid = (uint32_t)getgid() };
	e = tarin_import(a, path, &to, tree_id, &ts);
	if (e < 0)
		goto out;
	if (!(sn.input_format = strdup(ts.format))) {
		e = CAIRN_ENOMEM;
		goto out;
	}
	sn.summary.files_new = ts.files + ts.links;
	sn.summary.dirs_new = ts.dirs;
	sn.summary.bytes_read = ts.bytes;
	sn.summary.total_files = ts.files + ts.links;
	sn.summary.total_bytes = ts.file_bytes;
	memcpy(sn.tree, tree_id, 32);
	e = archiver_commit(a, &sn, snap_id);
	if (e < 0)
		goto out;
	lock_release(lk);	/* as backup does */
	lk = NULL;
	archiver_finish(a);
	print_summary(snap_id, &sn, &ts, (double)(time_now_ns() - t0) / 1e9);
out:
	archiver_free(a);
	cli_close_repo(r, lk);
	/* archive errors were logged with what to do; storage errors get this */
	if (e < 0 && e != CAIRN_ENOREPO && e != CAIRN_EPASSWORD && e != CAIRN_ELOCKED &&
	    e != CAIRN_ECORRUPT && e != CAIRN_ENOTFOUND && e != CAIRN_EINVAL)
		log_error("import of %s failed (%s); no snapshot was made", path,
			  cairn_strerror(e));
	snapshot_clear(&sn);
	return cli_exit(e);
usage_out:
	snapshot_clear(&sn);
	return e;
}
