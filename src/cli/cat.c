/*
 * cat.c - `cairn cat`: print repository objects, for debugging.
 */
#include "cairn/common.h"
#include "cli.h"
#include "cairn/compress.h"
#include "cairn/indexfile.h"
#include "cairn/json.h"
#include "cairn/log.h"
#include "cairn/repo.h"
#include "cairn/snaplist.h"
#include "cairn/tree.h"

static const char help[] =
	"usage: cairn cat config\n"
	"       cairn cat snapshot|index|pack|blob|tree ID\n"
	"\n"
	"Print a repository object: the config; a snapshot, index file, pack\n"
	"header or tree as JSON; a blob's plaintext as raw bytes. ID may be a\n"
	"unique prefix.\n";

static void entries_json(struct json *j, const struct pack_entry *e, size_t n)
{
	json_arr_begin(j);
	for (size_t i = 0; i < n; i++) {
		json_obj_begin(j);
		json_key(j, "id");
		json_hex(j, e[i].id, 32);
		json_key(j, "type");
		json_str(j, blob_type_name(e[i].type));
		json_key(j, "offset");
		json_u64(j, e[i].offset);
		json_key(j, "length");
		json_u64(j, e[i].length);
		json_key(j, "raw_length");
		json_u64(j, e[i].raw_length);
		json_obj_end(j);
	}
	json_arr_end(j);
}

static int index_pack_json(void *arg, const uint8_t pack_id[32], uint64_t size,
			   const struct pack_entry *e, size_t n)
{
	struct json *j = arg;
	json_obj_begin(j);
	json_key(j, "pack");
	json_hex(j, pack_id, 32);
	json_key(j, "size");
	json_u64(j, size);
	json_key(j, "blobs");
	entries_json(j, e, n);
	json_obj_end(j);
	return 0;
}

static void tree_json(struct json *j, const struct tree *t)
{
	static const char *const types[] = { "?", "file", "dir", "symlink", "chardev",
					     "blockdev", "fifo" };
	json_obj_begin(j);
	json_key(j, "nodes");
	json_arr_begin(j);
	for (size_t i = 0; i < t->n_nodes; i++) {
		const struct node *n = &t->nodes[i];
		json_obj_begin(j);
		json_key(j, "name");
		json_str(j, n->name);
		json_key(j, "type");
		json_str(j, n->type <= NODE_FIFO ? types[n->type] : "?");
		json_key(j, "mode");
		json_u64(j, n->mode);
		json_key(j, "size");
		json_u64(j, n->size);
		json_key(j, "mtime_ns");
		json_i64(j, n->mtime_ns);
		if (n->type == NODE_FILE) {
			json_key(j, "content_depth");
			json_u64(j, n->content_depth);
			json_key(j, "content");
			json_arr_begin(j);
			for (size_t k = 0; k < n->n_content; k++) {
				json_obj_begin(j);
				json_key(j, "id");
				json_hex(j, n->content[k].id, 32);
				json_key(j, "size");
				json_u64(j, n->content[k].size);
				json_obj_end(j);
			}
			json_arr_end(j);
		}
		if (n->has_subtree) {
			json_key(j, "subtree");
			json_hex(j, n->subtree, 32);
		}
		if (n->link_target) {
			json_key(j, "link_target");
			json_str(j, n->link_target);
		}
		json_obj_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);
}

struct find_pack {
	const char *prefix;
	size_t n;
	int found;
	uint8_t id[32];
	uint64_t size;
};

static int find_pack_cb(void *arg, const char *name, uint64_t size)
{
	struct find_pack *f = arg;
	if (strlen(name) != 8 + 64 || strncmp(name + 8, f->prefix, f->n) != 0)
		return 0;
	if (hex_decode(name + 8, f->id, 32) < 0)
		return 0;
	f->found++;
	f->size = size;
	return 0;
}

int cmd_cat(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, CLI_GLOBAL_SHORTOPTS, longopts, NULL)) != -1) {
		if (cli_global_opt(c, optarg, help))
			continue;
		return cli_usage_error("cat", "unknown option");
	}
	if (argc - optind < 1)
		return cli_usage_error("cat", "give what to print");
	const char *what = argv[optind];
	const char *id_arg = argc - optind > 1 ? argv[optind + 1] : NULL;
	int is_config = strcmp(what, "config") == 0;
	if (!is_config && strcmp(what, "snapshot") && strcmp(what, "index") && strcmp(what, "pack") &&
	    strcmp(what, "blob") && strcmp(what, "tree"))
		return cli_usage_error("cat", "unknown object type '%s'", what);
	if (argc - optind != (is_config ? 1 : 2))
		return cli_usage_error("cat", is_config ? "config takes no id" : "give an ID");
	struct repo *r;
	int e = cli_open_repo(&r);
	if (e < 0)
		return cli_exit(e);
	struct buf out = BUF_INIT, plain = BUF_INIT;
	struct json j;
	uint8_t id[32];
	json_init(&j, &out);
	if (is_config) {
		e = config_encode(repo_config(r), &out);
	} else if (!strcmp(what, "snapshot") || !strcmp(what, "index")) {
		enum repo_file kind = what[0] == 's' ? REPO_FILE_SNAPSHOT : REPO_FILE_INDEX;
		e = repo_file_find(r, kind, id_arg, id);
		if (e == CAIRN_ENOTFOUND || e == CAIRN_EAMBIGUOUS)
			log_error("%s %s: %s", what, id_arg, cairn_strerror(e));
		if (e < 0)
			goto out;
		if (kind == REPO_FILE_SNAPSHOT) {
			struct snap_entry se;
			memcpy(se.id, id, 32);
			e = snap_load(r, id, &se.sn);
			if (e == 0) {
				cli_snapshot_json(&j, &se);
				snapshot_clear(&se.sn);
			}
		} else {
			e = repo_file_load(r, kind, id, &plain);
			if (e == 0) {
				json_arr_begin(&j);
				e = indexfile_decode(plain.data, plain.len, index_pack_json, &j);
				json_arr_end(&j);
			}
		}
		buf_put_u8(&out, '\n');
	} else if (!strcmp(what, "pack")) {
		struct find_pack f = { .prefix = id_arg, .n = strlen(id_arg) };
		e = backend_list(repo_backend(r), "data/", find_pack_cb, &f);
		if (e == 0 && f.found != 1) {
			e = f.found ? CAIRN_EAMBIGUOUS : CAIRN_ENOTFOUND;
			log_error("pack %s: %s", id_arg, cairn_strerror(e));
		}
		struct pack_entry *ents = NULL;
		size_t n = 0;
		if (e == 0)
			e = repo_pack_header(r, f.id, f.size, &ents, &n);
		if (e == 0) {
			entries_json(&j, ents, n);
			buf_put_u8(&out, '\n');
		}
		free(ents);
	} else {
		unsigned type;
		e = index_find_prefix(repo_index(r), id_arg, &type, id);
		if (e == CAIRN_ENOTFOUND || e == CAIRN_EAMBIGUOUS || e == CAIRN_EINVAL)
			log_error("blob %s: %s", id_arg, cairn_strerror(e));
		if (e < 0)
			goto out;
		struct decompressor *d = decompressor_new();
		if (!d) {
			e = CAIRN_ENOMEM;
			goto out;
		}
		e = repo_blob_load(r, d, type, id, &plain);
		decompressor_free(d);
		if (e < 0)
			goto out;
		if (!strcmp(what, "tree")) {
			struct tree t;
			tree_init(&t);
			e = tree_decode(plain.data, plain.len, &t);
			if (e < 0)
				log_error("blob %s is not a tree", id_arg);
			else
				tree_json(&j, &t);
			tree_free(&t);
			buf_put_u8(&out, '\n');
		} else {
			buf_put(&out, plain.data, plain.len);
		}
	}
	if (e == 0)
		e = buf_ok(&out);
	if (e == 0)
		e = cli_write_stdout(out.data, out.len);
out:
	buf_free(&out);
	buf_free(&plain);
	repo_free(r);
	return cli_exit(e);
}
