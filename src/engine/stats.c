/*
 * stats.c - restore size of a tree (see stats.h). Depth-first, one tree
 * per level in memory.
 */
#include "cairn/common.h"
#include "cairn/stats.h"
#include "cairn/restorer.h"
#include "cairn/tree.h"

static int walk(struct repo *r, const uint8_t id[32], uint64_t *files, uint64_t *bytes, int depth)
{
	struct tree t;
	if (depth > 4096)
		return CAIRN_ECORRUPT;
	int e = restorer_load_tree(r, id, &t);
	if (e < 0)
		return e;
	for (size_t i = 0; i < t.n_nodes && e == 0; i++) {
		const struct node *n = &t.nodes[i];
		if (n->type == NODE_FILE) {
			(*files)++;
			*bytes += n->size;
		} else if (n->type == NODE_DIR && n->has_subtree) {
			e = walk(r, n->subtree, files, bytes, depth + 1);
		}
	}
	tree_free(&t);
	return e;
}

int stats_restore_size(struct repo *r, const uint8_t tree[32], uint64_t *files, uint64_t *bytes)
{
	return walk(r, tree, files, bytes, 0);
}
