/*
 * tree.h - nodes and directory manifests (tree blobs).
 *
 * A tree is the list of entries of one directory, sorted by name (bytewise,
 * strictly increasing, so equal directories encode to equal bytes and yield
 * the same blob id). A file node holds its content as a list of references:
 * inline when short, otherwise the references point at LIST blobs
 * (idlist.h) so a long chunk list is itself stored as a deduplicated stream.
 *
 * Encoding (documented in man/cairn-format.5): "CTR1", varint node count,
 * then each node as varint byte length + TLV fields (varint tag, varint
 * length, value) in increasing tag order. Decoders skip unknown tags, so
 * fields can be added without a format version bump; they reject anything
 * malformed with CAIRN_ECORRUPT.
 */
#ifndef CAIRN_TREE_H
#define CAIRN_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/buf.h"

enum node_type {
	NODE_FILE = 1,
	NODE_DIR = 2,
	NODE_SYMLINK = 3,
	NODE_CHARDEV = 4,
	NODE_BLOCKDEV = 5,
	NODE_FIFO = 6,
};

/* node flags */
#define NODE_F_SPARSE 0x1	/* content has holes (refs with an all-zero id) */
#define NODE_F_DAMAGED 0x2	/* repair replaced damaged content (truncated) */

/* One entry of a content list: a blob id and how many bytes of the file it
 * covers. A ref whose id is all zero is a hole of `size` bytes. */
struct content_ref {
	uint8_t id[32];
	uint64_t size;
};

struct xattr {
	char *name;
	uint8_t *value;
	size_t len;
};

struct node {
	char *name;		/* one path component; no '/', not "." or ".." */
	enum node_type type;
	uint32_t mode;		/* permission bits (07777) */
	uint32_t uid, gid;
	char *user, *group;	/* may be NULL */
	int64_t mtime_ns, ctime_ns, atime_ns;
	uint64_t size;		/* file size in bytes */
	uint64_t inode, dev, nlink;
	uint64_t rdev;		/* device number for CHARDEV/BLOCKDEV */
	char *link_target;	/* SYMLINK only */
	struct xattr *xattrs;	/* sorted by name */
	size_t n_xattrs;
	uint32_t flags;		/* NODE_F_* */
	/* FILE: depth 0 means content[] refs are data blobs; depth d > 0 means
	 * they are LIST blobs whose entries have depth d - 1. */
	uint32_t content_depth;
	struct content_ref *content;
	size_t n_content;
	/* DIR */
	int has_subtree;
	uint8_t subtree[32];
};

struct tree {
	struct node *nodes;
	size_t n_nodes;
	size_t cap;
};

/* Frees everything a node owns (not the node itself); safe on a zeroed node. */
void node_clear(struct node *n);

/* Deep copy. Returns 0 or CAIRN_ENOMEM (dst is then cleared). */
int node_copy(struct node *dst, const struct node *src);

void tree_init(struct tree *t);
/* Frees all nodes; the tree is empty afterwards. tree_free on an empty tree does nothing. */
void tree_free(struct tree *t);

/* Appends a node, taking ownership of everything it points to (src is
 * zeroed). Returns 0 or CAIRN_ENOMEM (src is then cleared). */
int tree_add(struct tree *t, struct node *src);

/* Sorts nodes by name. Returns 0, or CAIRN_EINVAL when two nodes have the
 * same name. Call before tree_encode when nodes were added unsorted. */
int tree_sort(struct tree *t);

/* Finds a node by name (tree must be sorted). NULL when absent. */
const struct node *tree_find(const struct tree *t, const char *name);

/* Appends the canonical encoding to out. The tree must be sorted. Returns 0,
 * CAIRN_EINVAL (unsorted, invalid name), or CAIRN_ENOMEM. */
int tree_encode(const struct tree *t, struct buf *out);

/* Decodes a tree blob into t (which must be empty). Returns 0, CAIRN_ECORRUPT
 * on any malformed input (t is left empty), or CAIRN_ENOMEM. */
int tree_decode(const void *data, size_t len, struct tree *t);

/* Checks a path component: non-empty, no '/', no NUL, not "." or "..",
 * at most 4095 bytes. Returns 1 when valid. */
int node_name_valid(const char *name, size_t len);

#endif
