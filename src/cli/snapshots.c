/*
 * snapshots.c - `cairn snapshots`: list snapshots as a table or JSON.
 */
#include "cairn/common.h"
#include "cli.h"
#include "cairn/json.h"
#include "cairn/log.h"
#include "cairn/repo.h"
#include "cairn/snaplist.h"
#include "cairn/timeparse.h"

static const char help[] =
	"usage: cairn snapshots [OPTIONS]\n"
	"\n"
	"List the repository's snapshots, oldest first.\n"
	"\n"
	"Options:\n"
	"      --host HOST            only snapshots of HOST\n"
	"      --tag TAG              only snapshots with TAG (repeatable)\n"
	"      --path PATH            only snapshots of exactly these paths (repeatable)\n";

/* One snapshot as a JSON object (the fields restic users script against). */
void cli_snapshot_json(struct json *j, const struct snap_entry *e)
{
	char t[48];
	const struct snapshot *s = &e->sn;
	json_obj_begin(j);
	json_key(j, "id");
	json_hex(j, e->id, 32);
	json_key(j, "short_id");
	json_hex(j, e->id, 4);
	json_key(j, "time");
	time_format_rfc3339(s->time_ns, s->tz_offset, t, sizeof(t));
	json_str(j, t);
	json_key(j, "hostname");
	json_str(j, s->hostname ? s->hostname : "");
	json_key(j, "username");
	json_str(j, s->username ? s->username : "");
	json_key(j, "paths");
	json_arr_begin(j);
	for (size_t i = 0; i < s->n_paths; i++)
		json_str(j, s->paths[i]);
	json_arr_end(j);
	json_key(j, "tags");
	json_arr_begin(j);
	for (size_t i = 0; i < s->n_tags; i++)
		json_str(j, s->tags[i]);
	json_arr_end(j);
	json_key(j, "tree");
	json_hex(j, s->tree, 32);
	if (s->has_parent) {
		json_key(j, "parent");
		json_hex(j, s->parent, 32);
	}
	json_key(j, "program_version");
	json_str(j, s->program ? s->program : "");
	json_key(j, "incomplete");
	json_bool(j, (s->flags & SNAPSHOT_F_INCOMPLETE) != 0);
	if (s->input_format) {
		json_key(j, "input_format");
		json_str(j, s->input_format);
	}
	if (s->note) {
		json_key(j, "note");
		json_str(j, s->note);
	}
	if (s->has_dict) {
		json_key(j, "dictionary");
		json_hex(j, s->dict, 32);
	}
	json_key(j, "chunker");
	json_obj_begin(j);
	json_key(j, "min");
	json_u64(j, s->chunk_min);
	json_key(j, "avg");
	json_u64(j, s->chunk_avg);
	json_key(j, "max");
	json_u64(j, s->chunk_max);
	json_obj_end(j);
	json_key(j, "summary");
	json_obj_begin(j);
	time_format_rfc3339(s->summary.start_ns, s->tz_offset, t, sizeof(t));
	json_key(j, "backup_start");
	json_str(j, t);
	time_format_rfc3339(s->summary.end_ns, s->tz_offset, t, sizeof(t));
	json_key(j, "backup_end");
	json_str(j, t);
	json_key(j, "files_new");
	json_u64(j, s->summary.files_new);
	json_key(j, "files_changed");
	json_u64(j, s->summary.files_changed);
	json_key(j, "files_unmodified");
	json_u64(j, s->summary.files_unmodified);
	json_key(j, "bytes_read");
	json_u64(j, s->summary.bytes_read);
	json_key(j, "bytes_added");
	json_u64(j, s->summary.bytes_added);
	json_key(j, "total_files_processed");
	json_u64(j, s->summary.total_files);
	json_key(j, "total_bytes_processed");
	json_u64(j, s->summary.total_bytes);
	json_key(j, "data_blobs_added");
	json_u64(j, s->summary.data_blobs_added);
	json_key(j, "tree_blobs_added");
	json_u64(j, s->summary.tree_blobs_added);
	json_obj_end(j);
	json_obj_end(j);
}

int cmd_snapshots(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_FILTER_LONGOPTS,
		CLI_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	const char *tags[32], *paths[32];
	struct snap_filter f = { .tags = tags, .paths = paths };
	int c;
	while ((c = getopt_long(argc, argv, CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_global_opt(c, optarg, help))
			continue;
		int fopt = cli_filter_opt(&f, tags, paths, c, optarg, "snapshots");
		if (fopt < 0)
			return 1;
		if (fopt)
			continue;
		switch (c) {
		default: return cli_usage_error("snapshots", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error("snapshots", "unexpected argument '%s'", argv[optind]);
	struct repo *r;
	int e = cli_open_repo(&r);
	if (e < 0)
		return cli_exit(e);
	struct snap_list l;
	e = snap_list_load(r, &f, &l);
	if (e < 0)
		goto out;
	struct buf b = BUF_INIT;
	if (cli_g.json) {
		struct json j;
		json_init(&j, &b);
		json_arr_begin(&j);
		for (size_t i = 0; i < l.n; i++)
			cli_snapshot_json(&j, &l.v[i]);
		json_arr_end(&j);
		buf_put_u8(&b, '\n');
	} else {
		buf_printf(&b, "%-8s  %-19s  %-16s  %-16s  %-10s  %s\n", "ID", "Time", "Host",
			   "Tags", "Size", "Paths");
		buf_printf(&b, "%.100s\n", "------------------------------------------------------"
					   "----------------------------------------------");
		for (size_t i = 0; i < l.n; i++) {
			const struct snapshot *s = &l.v[i].sn;
			char id[65], t[40], tagstr[256] = "", size[32];
			hex_encode(l.v[i].id, 4, id);
			time_format_short(s->time_ns, time_local_offset(s->time_ns), t, sizeof(t));
			for (size_t k = 0; k < s->n_tags; k++) {
				size_t used = strlen(tagstr);
				snprintf(tagstr + used, sizeof(tagstr) - used, "%s%s", k ? "," : "",
					 s->tags[k]);
			}
			cli_fmt_bytes(s->summary.total_bytes ? s->summary.total_bytes
							      : s->summary.bytes_read,
				      size, sizeof(size));
			buf_printf(&b, "%-8s  %-19s  %-16s  %-16s  %-10s ", id, t,
				   s->hostname ? s->hostname : "", tagstr, size);
			for (size_t k = 0; k < s->n_paths; k++)
				buf_printf(&b, " %s", s->paths[k]);
			if (s->flags & SNAPSHOT_F_INCOMPLETE)
				buf_printf(&b, " (incomplete)");
			/* a dump's format, as a Format column would not fit in 80 columns */
			if (s->input_format && strcmp(s->input_format, "stream") != 0)
				buf_printf(&b, " (%s%s)", s->input_format,
					   s->note && strncmp(s->note, "not verified", 12) == 0
						   ? ", not verified" : "");
			buf_put_u8(&b, '\n');
		}
		buf_printf(&b, "%zu snapshot%s\n", l.n, l.n == 1 ? "" : "s");
	}
	e = buf_ok(&b);
	if (e == 0)
		e = cli_write_stdout(b.data, b.len);
	buf_free(&b);
	snap_list_free(&l);
out:
	repo_free(r);
	return cli_exit(e);
}
