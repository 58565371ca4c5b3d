/*
 * find.c - `cairn find PATTERN...`: search the snapshots for entries.
 */
#include "cairn/common.h"
#include "cli.h"
#include "cairn/browse.h"
#include "cairn/json.h"
#include "cairn/log.h"
#include "cairn/repo.h"
#include "cairn/snaplist.h"
#include "cairn/timeparse.h"

#include <errno.h>

static const char help[] =
	"usage: cairn find [OPTIONS] PATTERN...\n"
	"\n"
	"Search the snapshots, oldest first, for entries whose name matches one of\n"
	"the shell PATTERNs (fnmatch(3)); a pattern containing '/' is matched\n"
	"against the full path instead, where '*' also matches '/'. Matches are\n"
	"printed per snapshot like 'ls -l', or with --json as one object per match\n"
	"and line.\n"
	"\n"
	"Options:\n"
	"  -s, --snapshot ID          search only this snapshot (id, prefix or 'latest';\n"
	"                             repeatable)\n"
	"  -i, --ignore-case          match patterns without regard to case\n"
	"      --newer TIME           only entries modified after TIME\n"
	"      --older TIME           only entries modified before TIME\n"
	"      --host HOST            only search snapshots of HOST\n"
	"      --tag TAG              only search snapshots with TAG (repeatable)\n"
	"      --path PATH            only search snapshots of these paths (repeatable)\n";

/* Text output of one snapshot is held until its matches are counted;
 * past this size it goes to a temporary file. */
#define FIND_SPILL_BYTES (1u << 20)
#define FIND_FLUSH_BYTES (64u << 10)

struct find_ctx {
	const struct snap_entry *snap;
	struct buf out;
	FILE *spill;
	uint64_t n;			/* matches in this snapshot */
	int groups;			/* snapshots printed so far */
};

/* Writes out what was gathered (JSON is streamed, text held per snapshot). */
static int find_flush(struct find_ctx *c)
{
	int e = buf_ok(&c->out);
	if (e == 0)
		e = cli_write_stdout(c->out.data, c->out.len);
	buf_reset(&c->out);
	return e;
}

/* Moves the held lines to a temporary file so memory stays bounded. */
static int find_spill(struct find_ctx *c)
{
	int e = buf_ok(&c->out);
	if (e < 0)
		return e;
	if (!c->spill && !(c->spill = tmpfile())) {
		log_error("cannot create a temporary file in /tmp for the matches: %s; make "
			  "/tmp writable, or narrow the search with --snapshot or a pattern",
			  strerror(errno));
		return cairn_from_errno(errno);
	}
	if (fwrite(c->out.data, 1, c->out.len, c->spill) != c->out.len) {
		log_error("cannot write a temporary file for the matches: %s", strerror(errno));
		return CAIRN_EIO;
	}
	buf_reset(&c->out);
	return 0;
}

/* Finder callback: formats one match. */
static int find_match(void *arg, const char *path, const struct node *n)
{
	struct find_ctx *c = arg;
	c->n++;
	if (cli_g.json) {
		struct json j;
		json_init(&j, &c->out);
		json_obj_begin(&j);
		json_key(&j, "snapshot_id");
		json_hex(&j, c->snap->id, 32);
		cli_node_json_fields(&j, path, n, NULL);
		json_obj_end(&j);
		buf_put_u8(&c->out, '\n');
		return c->out.len >= FIND_FLUSH_BYTES ? find_flush(c) : buf_ok(&c->out);
	}
	cli_node_long(&c->out, path, n);
	return c->out.len >= FIND_SPILL_BYTES ? find_spill(c) : buf_ok(&c->out);
}

/* Prints the text group of one snapshot: header, spilled lines, the rest. */
static int find_print_group(struct find_ctx *c)
{
	int e = 0;
	if (c->n > 0) {
		char id[9], t[40];
		struct buf head = BUF_INIT;
		const struct snapshot *s = &c->snap->sn;
		hex_encode(c->snap->id, 4, id);
		time_format_short(s->time_ns, time_local_offset(s->time_ns), t, sizeof(t));
		buf_printf(&head, "%sFound %llu match%s in snapshot %s from %s\n",
			   c->groups++ ? "\n" : "", (unsigned long long)c->n,
			   c->n == 1 ? "" : "es", id, t);
		e = buf_ok(&head);
		if (e == 0)
			e = cli_write_stdout(head.data, head.len);
		buf_free(&head);
	}
	if (e == 0 && c->spill) {
		char chunk[65536];
		size_t got;
		rewind(c->spill);
		while (e == 0 && (got = fread(chunk, 1, sizeof(chunk), c->spill)) > 0)
			e = cli_write_stdout(chunk, got);
		if (e == 0 && ferror(c->spill)) {
			log_error("cannot read back the temporary file of matches");
			e = CAIRN_EIO;
		}
	}
	if (e == 0)
		e = find_flush(c);
	if (c->spill) {
		fclose(c->spill);
		c->spill = NULL;
	}
	buf_reset(&c->out);
	return e;
}

/* Parses a time option into *ns. */
static int find_time(const char *opt, const char *arg, int64_t *ns)
{
	if (time_parse(arg, ns) == 0)
		return 0;
	cli_usage_error("find", "%s: cannot parse time '%s' (use YYYY-MM-DD HH:MM[:SS] or "
			"ISO 8601)", opt, arg);
	return CAIRN_EINVAL;
}

int cmd_find(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "snapshot", required_argument, NULL, 's' },
		{ "ignore-case", no_argument, NULL, 'i' },
		{ "newer", required_argument, NULL, 1 },
		{ "older", required_argument, NULL, 2 },
		CLI_FILTER_LONGOPTS,
		CLI_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	const char *tags[32], *paths[32], *names[32];
	size_t n_names = 0;
	struct snap_filter f = { .tags = tags, .paths = paths };
	struct browse_find_opts fo = { .match = find_match };
	int c;
	while ((c = getopt_long(argc, argv, "s:i" CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_global_opt(c, optarg, help))
			continue;
		int fopt = cli_filter_opt(&f, tags, paths, c, optarg, "find");
		if (fopt < 0)
			return 1;
		if (fopt)
			continue;
		switch (c) {
		case 's':
			if (n_names == 32)
				return cli_usage_error("find", "too many --snapshot options");
			names[n_names++] = optarg;
			break;
		case 'i': fo.ignore_case = 1; break;
		case 1:
			if (find_time("--newer", optarg, &fo.newer_ns) < 0)
				return 1;
			fo.has_newer = 1;
			break;
		case 2:
			if (find_time("--older", optarg, &fo.older_ns) < 0)
				return 1;
			fo.has_older = 1;
			break;
		default: return cli_usage_error("find", "unknown option");
		}
	}
	if (optind == argc)
		return cli_usage_error("find", "give at least one PATTERN ('*' matches everything)");
	fo.patterns = (const char *const *)argv + optind;
	fo.n_patterns = (size_t)(argc - optind);
	/* a test hook: CAIRN_TEST_FIND_CACHE=N bounds the subtree cache to N
	 * bytes, 0 turns it off (tests compare the output both ways) */
	const char *tc = getenv("CAIRN_TEST_FIND_CACHE");
	if (tc && *tc) {
		unsigned long long v = strtoull(tc, NULL, 10);
		fo.cache_bytes = v ? (size_t)CAIRN_MIN(v, (unsigned long long)SIZE_MAX) : 1;
	}

	struct find_ctx ctx = { .out = BUF_INIT };
	fo.arg = &ctx;
	struct repo *r;
	int e = cli_open_repo(&r);
	if (e < 0)
		return cli_exit(e);
	struct snap_list l = { 0 };
	struct browse_finder *finder = NULL;
	struct browse_find_stats st = { 0 };
	uint8_t *chosen = NULL;
	size_t searched = 0, failed = 0;
	e = snap_list_load(r, &f, &l);
	if (e < 0)
		goto out;
	e = CAIRN_ENOMEM;
	chosen = calloc(l.n ? l.n : 1, 1);
	finder = browse_finder_new(&fo);
	if (!chosen || !finder)
		goto out;
	e = 0;
	for (size_t k = 0; k < n_names; k++) {
		int idx = snap_list_select(&l, names[k], 0, 0);
		if (idx < 0) {
			e = idx;
			goto out;
		}
		chosen[idx] = 1;
	}
	for (size_t i = 0; i < l.n; i++) {
		if (n_names && !chosen[i])
			continue;
		ctx.snap = &l.v[i];
		ctx.n = 0;
		int se = browse_finder_run(finder, r, l.v[i].sn.tree, &st);
		searched++;
		int pe = cli_g.json ? find_flush(&ctx) : find_print_group(&ctx);
		if (se == CAIRN_ECORRUPT || se == CAIRN_ENOTFOUND || se == CAIRN_EIO) {
			char id[9];
			hex_encode(l.v[i].id, 4, id);
			log_error("snapshot %s could not be searched completely (see above); "
				  "searching the others",
				  id);
			failed++;
			se = 0;
		}
		e = se < 0 ? se : pe;
		if (e < 0)
			goto out;
	}
	log_verbose("searched %zu snapshot%s: %llu entries, %llu trees loaded, %llu folders "
		    "answered from the cache, %llu matches",
		    searched, searched == 1 ? "" : "s", (unsigned long long)st.nodes,
		    (unsigned long long)st.trees_loaded, (unsigned long long)st.cache_hits,
		    (unsigned long long)st.matches);
	if (failed)
		e = CAIRN_ECORRUPT;
out:
	if (ctx.spill)
		fclose(ctx.spill);
	buf_free(&ctx.out);
	browse_finder_free(finder);
	free(chosen);
	snap_list_free(&l);
	repo_free(r);
	return cli_exit(e);
}
