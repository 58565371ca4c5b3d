/*
 * backup.c - `cairn backup --stdin` and `--stdin-from-command`.
 */
#include "cairn/common.h"
#include "cli.h"
#include "cairn/archiver.h"
#include "cairn/command.h"
#include "cairn/json.h"
#include "cairn/log.h"
#include "cairn/repo.h"
#include "cairn/snaplist.h"
#include "cairn/timeparse.h"

#include <pwd.h>
#include <unistd.h>

static const char help[] =
	"usage: cairn backup --stdin [--stdin-name NAME] [OPTIONS]\n"
	"       cairn backup --stdin-from-command [OPTIONS] -- COMMAND [ARGS...]\n"
	"\n"
	"Back up standard input, or the standard output of COMMAND, as one file\n"
	"named NAME at the root of a new snapshot. A command that exits non-zero\n"
	"creates no snapshot.\n"
	"\n"
	"Options:\n"
	"      --stdin                read the data from standard input\n"
	"      --stdin-name NAME      file name in the snapshot (default: stdin, or\n"
	"                             the command's name)\n"
	"      --stdin-from-command   run COMMAND and back up its standard output\n"
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
static void print_summary(const uint8_t id[32], const struct snapshot *sn, double secs)
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
	printf("read %s in %.2f s (%.1f MB/s), added %s to the repository\n", rd, secs,
	       secs > 0 ? (double)s->bytes_read / secs / 1e6 : 0.0, ad);
	printf("bytes read: %llu\nbytes added: %llu\n", (unsigned long long)s->bytes_read,
	       (unsigned long long)s->bytes_added);
	printf("snapshot %s saved\n", hex);
	fflush(stdout);
}

int cmd_backup(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "stdin", no_argument, NULL, 1 },
		{ "stdin-name", required_argument, NULL, 2 },
		{ "stdin-from-command", no_argument, NULL, 3 },
		{ "tag", required_argument, NULL, 4 },
		{ "host", required_argument, NULL, 5 },
		{ "time", required_argument, NULL, 6 },
		{ "threads", required_argument, NULL, 7 },
		CLI_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct snapshot sn;
	struct node node;
	struct tree t;
	struct repo *r = NULL;
	struct archiver *a = NULL;
	struct input_command cmd = { .pid = -1, .fd = -1 };
	int from_stdin = 0, from_cmd = 0, has_time = 0, e, c;
	const char *name = NULL, *host = NULL;
	int64_t when = 0;
	unsigned threads = 0;
	snapshot_init(&sn);
	memset(&node, 0, sizeof(node));
	tree_init(&t);
	while ((c = getopt_long(argc, argv, "+" CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_global_opt(c, optarg, help))
			continue;
		switch (c) {
		case 1: from_stdin = 1; break;
		case 2: name = optarg; break;
		case 3: from_cmd = 1; break;
		case 4:
			if (add_tags(&sn, optarg) < 0) {
				e = 1;
				goto usage_out;
			}
			break;
		case 5: host = optarg; break;
		case 6:
			if (time_parse(optarg, &when) < 0) {
				e = cli_usage_error("backup", "cannot parse time '%s' (use "
					"YYYY-MM-DD HH:MM[:SS] or ISO 8601)", optarg);
				goto usage_out;
			}
			has_time = 1;
			break;
		case 7: {
			char *end;
			long l = strtol(optarg, &end, 10);
			if (*end || l < 1 || l > 64) {
				e = cli_usage_error("backup", "--threads must be 1..64");
				goto usage_out;
			}
			threads = (unsigned)l;
			break;
		}
		default:
			e = cli_usage_error("backup", "unknown option");
			goto usage_out;
		}
	}
	if (from_stdin == from_cmd) {
		e = cli_usage_error("backup", from_stdin ? "give --stdin or --stdin-from-command, "
						 "not both"
						: "give --stdin or --stdin-from-command -- COMMAND "
						  "(backing up paths is not available yet)");
		goto usage_out;
	}
	if (from_stdin && optind < argc) {
		e = cli_usage_error("backup", "unexpected argument '%s' with --stdin", argv[optind]);
		goto usage_out;
	}
	if (from_cmd && optind >= argc) {
		e = cli_usage_error("backup", "give the command after --stdin-from-command --");
		goto usage_out;
	}
	if (!name) {
		if (from_cmd) {
			const char *s = strrchr(argv[optind], '/');
			name = s ? s + 1 : argv[optind];
		} else {
			name = "stdin";
		}
	}
	if (!node_name_valid(name, strlen(name))) {
		e = cli_usage_error("backup", "'%s' is not a valid file name for --stdin-name", name);
		goto usage_out;
	}
	if (from_stdin && isatty(STDIN_FILENO)) {
		e = cli_usage_error("backup", "standard input is a terminal; pipe the data in");
		goto usage_out;
	}

	e = cli_open_repo(&r);
	if (e < 0)
		goto out;
	struct archiver_opts ao = { .threads = threads };
	e = archiver_new(r, &ao, &a);
	if (e < 0)
		goto out;
	int fd = STDIN_FILENO;
	if (from_cmd) {
		e = input_command_start(argv + optind, &cmd);
		if (e < 0)
			goto out;
		fd = cmd.fd;
	}
	int64_t t0 = time_now_ns();
	node.name = strdup(name);
	node.type = NODE_FILE;
	node.mode = 0600;
	node.uid = (uint32_t)getuid();
	node.gid = (uint32_t)getgid();
	node.mtime_ns = node.ctime_ns = node.atime_ns = has_time ? when : t0;
	if (!node.name) {
		e = CAIRN_ENOMEM;
		goto out;
	}
	e = archiver_store_fd(a, fd, from_cmd ? argv[optind] : "standard input", &node);
	if (from_cmd) {
		int ce = input_command_finish(&cmd);
		if (e == 0)
			e = ce;
	}
	if (e < 0)
		goto out;
	sn.summary.bytes_read = node.size;
	sn.summary.files_new = 1;
	e = tree_add(&t, &node);
	if (e < 0)
		goto out;
	uint8_t tree_id[32], snap_id[32];
	e = archiver_store_tree(a, &t, tree_id);
	if (e < 0)
		goto out;
	memcpy(sn.tree, tree_id, 32);
	sn.time_ns = has_time ? when : t0;
	sn.tz_offset = time_local_offset(sn.time_ns);
	char hostbuf[256];
	if (!host) {
		if (gethostname(hostbuf, sizeof(hostbuf)) < 0)
			snprintf(hostbuf, sizeof(hostbuf), "unknown");
		hostbuf[sizeof(hostbuf) - 1] = 0;
		host = hostbuf;
	}
	struct passwd *pw = getpwuid(getuid());
	char path[4200];
	snprintf(path, sizeof(path), "/%s", name);
	sn.hostname = strdup(host);
	sn.username = strdup(pw && pw->pw_name ? pw->pw_name : "");
	sn.program = strdup("cairn " PACKAGE_VERSION);
	sn.input_format = strdup("stream");
	if (!sn.hostname || !sn.username || !sn.program || !sn.input_format ||
	    snapshot_add_path(&sn, path) < 0) {
		e = CAIRN_ENOMEM;
		goto out;
	}
	/* parent: the latest snapshot of the same host and paths */
	const char *paths[1] = { path };
	struct snap_filter f = { .host = sn.hostname, .paths = paths, .n_paths = 1 };
	struct snap_list l;
	if (snap_list_load(r, &f, &l) == 0) {
		if (l.n) {
			sn.has_parent = 1;
			memcpy(sn.parent, l.v[l.n - 1].id, 32);
		}
		snap_list_free(&l);
	}
	e = archiver_commit(a, &sn, snap_id);
	if (e < 0)
		goto out;
	print_summary(snap_id, &sn, (double)(time_now_ns() - t0) / 1e9);
out:
	if (cmd.pid > 0 && cmd.fd >= 0)
		input_command_finish(&cmd);
	archiver_free(a);
	repo_free(r);
	node_clear(&node);
	tree_free(&t);
	snapshot_clear(&sn);
	if (e < 0 && e != CAIRN_ECHILD && e != CAIRN_ENOREPO && e != CAIRN_EPASSWORD)
		log_error("backup failed (%s); no snapshot was made", cairn_strerror(e));
	return cli_exit(e);
usage_out:
	snapshot_clear(&sn);
	return 1;
}
