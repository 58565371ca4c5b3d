/*
 * diff.c - `cairn diff SNAPSHOT1 SNAPSHOT2`: what changed between two
 * snapshots.
 */
#include "cairn/common.h"
#include "cli.h"
#include "cairn/browse.h"
#include "cairn/json.h"
#include "cairn/log.h"
#include "cairn/repo.h"
#include "cairn/snaplist.h"

static const char help[] =
	"usage: cairn diff [OPTIONS] SNAPSHOT1 SNAPSHOT2\n"
	"\n"
	"List what changed from SNAPSHOT1 to SNAPSHOT2, one path per line after a\n"
	"code: '+' added, '-' removed, 'M' file content changed, 'T' type changed\n"
	"(the entries below a folder that appears or goes are listed too), 'U'\n"
	"only metadata changed (mode, owner, mtime, xattrs, symlink target; listed\n"
	"with --metadata only). Folder paths end with '/'. Then the totals. Each\n"
	"SNAPSHOT is an id, a unique id prefix, or 'latest'.\n"
	"\n"
	"Options:\n"
	"      --metadata             also list entries whose metadata alone changed\n";

#define DIFF_FLUSH_BYTES (64u << 10)

struct diff_ctx {
	struct buf out;
};

/* Writes out what was gathered (one write per 64 KiB, not per line). */
static int diff_flush(struct diff_ctx *c)
{
	int e = buf_ok(&c->out);
	if (e == 0)
		e = cli_write_stdout(c->out.data, c->out.len);
	buf_reset(&c->out);
	return e;
}

/* Diff callback: one line (or JSON object) per change. */
static int diff_change(void *arg, enum browse_change ch, const char *path, const struct node *old,
		       const struct node *new_)
{
	struct diff_ctx *c = arg;
	const struct node *n = new_ ? new_ : old;
	if (cli_g.json) {
		struct json j;
		char mod[2] = { (char)ch, 0 };
		json_init(&j, &c->out);
		json_obj_begin(&j);
		json_key(&j, "message_type");
		json_str(&j, "change");
		json_key(&j, "path");
		json_str(&j, path);
		json_key(&j, "modifier");
		json_str(&j, mod);
		json_key(&j, "type");
		json_str(&j, cli_node_type_name(n->type));
		if (ch == BROWSE_TYPE) {
			json_key(&j, "old_type");
			json_str(&j, cli_node_type_name(old->type));
		}
		if (old && old->type == NODE_FILE) {
			json_key(&j, "old_size");
			json_u64(&j, old->size);
		}
		if (new_ && new_->type == NODE_FILE) {
			json_key(&j, "size");
			json_u64(&j, new_->size);
		}
		json_obj_end(&j);
		buf_put_u8(&c->out, '\n');
	} else {
		buf_printf(&c->out, "%c    %s%s\n", (char)ch, path, n->type == NODE_DIR ? "/" : "");
	}
	return c->out.len >= DIFF_FLUSH_BYTES ? diff_flush(c) : buf_ok(&c->out);
}

/* The "added" or "removed" object of the JSON summary. */
static void diff_side_json(struct json *j, const char *key, uint64_t files, uint64_t dirs,
			   uint64_t others, uint64_t bytes)
{
	json_key(j, key);
	json_obj_begin(j);
	json_key(j, "files");
	json_u64(j, files);
	json_key(j, "dirs");
	json_u64(j, dirs);
	json_key(j, "others");
	json_u64(j, others);
	json_key(j, "bytes");
	json_u64(j, bytes);
	json_obj_end(j);
}

/* The totals, as text or as the last JSON object. */
static void diff_summary(struct buf *b, const struct browse_diff_stats *st,
			 const struct snap_entry *a, const struct snap_entry *z)
{
	uint64_t meta = st->files_metadata + st->dirs_metadata + st->others_metadata;
	if (cli_g.json) {
		struct json j;
		json_init(&j, b);
		json_obj_begin(&j);
		json_key(&j, "message_type");
		json_str(&j, "statistics");
		json_key(&j, "source_snapshot");
		json_hex(&j, a->id, 32);
		json_key(&j, "target_snapshot");
		json_hex(&j, z->id, 32);
		json_key(&j, "changed_files");
		json_u64(&j, st->files_changed);
		json_key(&j, "type_changed");
		json_u64(&j, st->type_changed);
		json_key(&j, "metadata_changed");
		json_u64(&j, meta);
		diff_side_json(&j, "added", st->files_added, st->dirs_added, st->others_added,
			       st->bytes_added);
		diff_side_json(&j, "removed", st->files_removed, st->dirs_removed,
			       st->others_removed, st->bytes_removed);
		json_key(&j, "trees_loaded");
		json_u64(&j, st->trees_loaded);
		json_key(&j, "trees_skipped");
		json_u64(&j, st->trees_skipped);
		json_obj_end(&j);
		buf_put_u8(b, '\n');
		return;
	}
	char added[32], removed[32];
	cli_fmt_bytes(st->bytes_added, added, sizeof(added));
	cli_fmt_bytes(st->bytes_removed, removed, sizeof(removed));
	buf_printf(b, "\nFiles:         %5llu new, %5llu removed, %5llu changed\n",
		   (unsigned long long)st->files_added, (unsigned long long)st->files_removed,
		   (unsigned long long)st->files_changed);
	buf_printf(b, "Dirs:          %5llu new, %5llu removed\n",
		   (unsigned long long)st->dirs_added, (unsigned long long)st->dirs_removed);
	buf_printf(b, "Others:        %5llu new, %5llu removed\n",
		   (unsigned long long)st->others_added, (unsigned long long)st->others_removed);
	buf_printf(b, "Type changes:  %5llu\n", (unsigned long long)st->type_changed);
	buf_printf(b, "Metadata only: %5llu changed\n", (unsigned long long)meta);
	buf_printf(b, "Added:         %s\n", added);
	buf_printf(b, "Removed:       %s\n", removed);
}

int cmd_diff(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "metadata", no_argument, NULL, 1 },
		CLI_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct browse_diff_opts o = { .change = diff_change };
	struct diff_ctx ctx = { .out = BUF_INIT };
	int c;
	while ((c = getopt_long(argc, argv, CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_global_opt(c, optarg, help))
			continue;
		switch (c) {
		case 1: o.metadata = 1; break;
		default: return cli_usage_error("diff", "unknown option");
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("diff", "give two snapshots");
	o.arg = &ctx;
	struct repo *r;
	int e = cli_open_repo(&r);
	if (e < 0)
		return cli_exit(e);
	struct snap_list l = { 0 };
	struct browse_diff_stats st;
	e = snap_list_load(r, NULL, &l);
	if (e < 0)
		goto out;
	int ia = snap_list_select(&l, argv[optind], 0, 0);
	int iz = ia < 0 ? ia : snap_list_select(&l, argv[optind + 1], 0, 0);
	if (iz < 0) {
		e = iz;
		goto out;
	}
	e = browse_diff(r, l.v[ia].sn.tree, l.v[iz].sn.tree, &o, &st);
	if (e == 0) {
		log_verbose("%llu trees loaded, %llu unchanged folders skipped",
			    (unsigned long long)st.trees_loaded,
			    (unsigned long long)st.trees_skipped);
		diff_summary(&ctx.out, &st, &l.v[ia], &l.v[iz]);
	}
	int fe = diff_flush(&ctx);
	if (e == 0)
		e = fe;
out:
	buf_free(&ctx.out);
	snap_list_free(&l);
	repo_free(r);
	return cli_exit(e);
}
