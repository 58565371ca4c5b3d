/*
 * ls.c - `cairn ls SNAPSHOT [PATH]`: list the entries of a snapshot.
 */
#include "cairn/common.h"
#include "cli.h"
#include "cairn/browse.h"
#include "cairn/json.h"
#include "cairn/log.h"
#include "cairn/repo.h"
#include "cairn/snaplist.h"
#include "cairn/timeparse.h"

static const char help[] =
	"usage: cairn ls [OPTIONS] SNAPSHOT [PATH]\n"
	"       cairn ls [OPTIONS] --at TIME [PATH]\n"
	"\n"
	"List the entries of a snapshot, recursively, one path per line. With\n"
	"PATH, list that folder and everything below it, or only that entry when\n"
	"it is not a folder. SNAPSHOT is an id, a unique id prefix, or 'latest'.\n"
	"With --json, print one JSON object per entry and line.\n"
	"\n"
	"Options:\n"
	"  -l, --long                 mode, owner, group, size and mtime, like ls -l\n"
	"      --at TIME              the newest snapshot at or before TIME\n"
	"      --host HOST            only consider snapshots of HOST\n"
	"      --tag TAG              only consider snapshots with TAG (repeatable)\n"
	"      --path PATH            only consider snapshots of these paths (repeatable)\n";

/* Output is gathered here and written out in pieces of about this size. */
#define LS_FLUSH_BYTES (64u << 10)

struct ls_ctx {
	struct repo *r;
	struct buf out;
	int long_format;
	/* a stream snapshot's dump format and check, shown on its file */
	const char *stream_path, *format, *note;
};

/* Writes out what was gathered (one write per 64 KiB, not per line). */
static int ls_flush(struct ls_ctx *c)
{
	int e = buf_ok(&c->out);
	if (e == 0)
		e = cli_write_stdout(c->out.data, c->out.len);
	buf_reset(&c->out);
	return e;
}

/* Walk visitor: one line (or JSON object) per entry. */
static int ls_visit(void *arg, const char *path, const struct node *n)
{
	struct ls_ctx *c = arg;
	if (cli_g.json) {
		uint64_t chunks = 0;
		if (n->type == NODE_FILE) {
			int e = browse_count_chunks(c->r, n, &chunks);
			if (e < 0)
				return e;
		}
		struct json j;
		json_init(&j, &c->out);
		json_obj_begin(&j);
		json_key(&j, "struct_type");
		json_str(&j, "node");
		cli_node_json_fields(&j, path, n, &chunks);
		json_obj_end(&j);
		buf_put_u8(&c->out, '\n');
	} else if (c->long_format) {
		cli_node_long(&c->out, path, n);
		if (c->format && strcmp(path, c->stream_path) == 0) {
			/* the line's newline moves after the dump's format and check */
			c->out.len--;
			buf_printf(&c->out, "  [%s: %s]\n", c->format, c->note ? c->note : "");
		}
	} else {
		buf_put(&c->out, path, strlen(path));
		buf_put_u8(&c->out, '\n');
	}
	return c->out.len >= LS_FLUSH_BYTES ? ls_flush(c) : buf_ok(&c->out);
}

int cmd_ls(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "long", no_argument, NULL, 'l' },
		{ "at", required_argument, NULL, 1 },
		CLI_FILTER_LONGOPTS,
		CLI_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	const char *tags[32], *paths[32];
	struct snap_filter f = { .tags = tags, .paths = paths };
	struct ls_ctx ctx = { .out = BUF_INIT };
	int has_at = 0, c;
	int64_t at = 0;
	while ((c = getopt_long(argc, argv, "l" CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_global_opt(c, optarg, help))
			continue;
		int fopt = cli_filter_opt(&f, tags, paths, c, optarg, "ls");
		if (fopt < 0)
			return 1;
		if (fopt)
			continue;
		switch (c) {
		case 'l': ctx.long_format = 1; break;
		case 1:
			if (time_parse(optarg, &at) < 0)
				return cli_usage_error("ls", "cannot parse time '%s' (use "
					"YYYY-MM-DD HH:MM[:SS] or ISO 8601)", optarg);
			has_at = 1;
			break;
		default: return cli_usage_error("ls", "unknown option");
		}
	}
	int nargs = argc - optind, min = has_at ? 0 : 1;
	if (nargs < min || nargs > min + 1)
		return cli_usage_error("ls", has_at ? "give at most a PATH after --at TIME"
						    : "give SNAPSHOT and optionally PATH");
	const char *name = has_at ? NULL : argv[optind];
	const char *path = nargs > min ? argv[argc - 1] : NULL;
	struct repo *r;
	int e = cli_open_repo(&r);
	if (e < 0)
		return cli_exit(e);
	ctx.r = r;
	struct snap_list l = { 0 };
	e = snap_list_load(r, &f, &l);
	if (e < 0)
		goto out;
	int idx = snap_list_select(&l, name, has_at, at);
	if (idx < 0) {
		e = idx;
		goto out;
	}
	const struct snapshot *sn = &l.v[idx].sn;
	if (sn->input_format && strcmp(sn->input_format, "stream") != 0 && sn->n_paths == 1) {
		ctx.stream_path = sn->paths[0];
		ctx.format = sn->input_format;
		ctx.note = sn->note;
	}
	struct browse_walk_opts wo = { .start = path, .visit = ls_visit, .arg = &ctx };
	e = browse_walk(r, l.v[idx].sn.tree, &wo, NULL);
	/* what was listed before an error is still printed */
	int fe = ls_flush(&ctx);
	if (e == 0)
		e = fe;
out:
	buf_free(&ctx.out);
	snap_list_free(&l);
	repo_free(r);
	return cli_exit(e);
}
