/*
 * nodefmt.c - printing tree nodes: `ls -l` lines and JSON objects (see
 * cli.h), shared by ls, find and diff.
 */
#include "cairn/common.h"
#include "cli.h"
#include "cairn/json.h"
#include "cairn/timeparse.h"
#include "cairn/tree.h"

const char *cli_node_type_name(int type)
{
	static const char *const names[] = { "?", "file", "dir", "symlink", "chardev",
					     "blockdev", "fifo" };
	return type >= NODE_FILE && type <= NODE_FIFO ? names[type] : "?";
}

void cli_node_mode_string(const struct node *n, char out[11])
{
	static const char types[] = "?-dlcbp";
	uint32_t m = n->mode;
	out[0] = n->type >= NODE_FILE && n->type <= NODE_FIFO ? types[n->type] : '?';
	for (int k = 0; k < 3; k++) {
		uint32_t bits = m >> (6 - 3 * k);
		out[1 + 3 * k] = bits & 4 ? 'r' : '-';
		out[2 + 3 * k] = bits & 2 ? 'w' : '-';
		out[3 + 3 * k] = bits & 1 ? 'x' : '-';
	}
	if (m & 04000)
		out[3] = m & 0100 ? 's' : 'S';
	if (m & 02000)
		out[6] = m & 0010 ? 's' : 'S';
	if (m & 01000)
		out[9] = m & 0001 ? 't' : 'T';
	out[10] = '\0';
}

void cli_node_long(struct buf *b, const char *path, const struct node *n)
{
	char mode[11], t[40], uid[16], gid[16];
	cli_node_mode_string(n, mode);
	time_format_short(n->mtime_ns, time_local_offset(n->mtime_ns), t, sizeof(t));
	snprintf(uid, sizeof(uid), "%u", n->uid);
	snprintf(gid, sizeof(gid), "%u", n->gid);
	buf_printf(b, "%s %-8s %-8s %12llu %s %s", mode, n->user && *n->user ? n->user : uid,
		   n->group && *n->group ? n->group : gid, (unsigned long long)n->size, t, path);
	if (n->type == NODE_SYMLINK && n->link_target)
		buf_printf(b, " -> %s", n->link_target);
	buf_put_u8(b, '\n');
}

/* A time as RFC 3339 in the local offset of that moment. */
static void json_time(struct json *j, const char *key, int64_t ns)
{
	char t[48];
	time_format_rfc3339(ns, time_local_offset(ns), t, sizeof(t));
	json_key(j, key);
	json_str(j, t);
}

void cli_node_json_fields(struct json *j, const char *path, const struct node *n,
			  const uint64_t *chunks)
{
	char mode[11];
	cli_node_mode_string(n, mode);
	json_key(j, "path");
	json_str(j, path);
	json_key(j, "name");
	json_str(j, n->name);
	json_key(j, "type");
	json_str(j, cli_node_type_name(n->type));
	json_key(j, "mode");
	json_u64(j, n->mode);
	json_key(j, "permissions");
	json_str(j, mode);
	json_key(j, "uid");
	json_u64(j, n->uid);
	json_key(j, "gid");
	json_u64(j, n->gid);
	json_key(j, "user");
	if (n->user)
		json_str(j, n->user);
	else
		json_null(j);
	json_key(j, "group");
	if (n->group)
		json_str(j, n->group);
	else
		json_null(j);
	json_key(j, "size");
	json_u64(j, n->size);
	json_time(j, "mtime", n->mtime_ns);
	/* the walker records no atime and link count for folders, links and
	 * FIFOs: leave them out rather than print 1970 and 0 */
	if (n->atime_ns)
		json_time(j, "atime", n->atime_ns);
	json_time(j, "ctime", n->ctime_ns);
	json_key(j, "inode");
	json_u64(j, n->inode);
	if (n->nlink) {
		json_key(j, "links");
		json_u64(j, n->nlink);
	}
	if (n->type == NODE_SYMLINK) {
		json_key(j, "link_target");
		json_str(j, n->link_target ? n->link_target : "");
	}
	if (n->type == NODE_CHARDEV || n->type == NODE_BLOCKDEV) {
		json_key(j, "rdev");
		json_u64(j, n->rdev);
	}
	if (n->type == NODE_FILE && chunks) {
		json_key(j, "chunks");
		json_u64(j, *chunks);
	}
	if (n->type == NODE_FILE && (n->flags & NODE_F_SPARSE)) {
		json_key(j, "sparse");
		json_bool(j, 1);
	}
	if (n->flags & NODE_F_DAMAGED) {
		json_key(j, "damaged");
		json_bool(j, 1);
	}
	if (n->type == NODE_DIR && n->has_subtree) {
		json_key(j, "subtree");
		json_hex(j, n->subtree, 32);
	}
}
