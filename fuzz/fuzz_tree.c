/*
 * fuzz_tree.c - libFuzzer target for tree_decode.
 *
 * Whatever decodes must re-encode, and the re-encoding must be stable:
 * encode(decode(x)) decodes and encodes to the same bytes. Because the
 * encoding is canonical, encode(decode(x)) is never longer than x, and is
 * x itself when it has the same length (x then had no unknown fields).
 */
#include "cairn/common.h"
#include "cairn/tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tree t, t2;
	struct buf e1 = BUF_INIT, e2 = BUF_INIT;

	tree_init(&t);
	tree_init(&t2);
	if (tree_decode(data, size, &t) != 0) {
		if (t.n_nodes || t.nodes)
			abort(); /* a failed decode leaves the tree empty */
		return 0;
	}
	if (tree_encode(&t, &e1) != 0)
		abort();
	if (e1.len > size || (e1.len == size && memcmp(e1.data, data, size) != 0))
		abort();
	if (tree_decode(e1.data, e1.len, &t2) != 0 || tree_encode(&t2, &e2) != 0)
		abort();
	if (e1.len != e2.len || memcmp(e1.data, e2.data, e1.len) != 0)
		abort();
	for (size_t i = 0; i < t.n_nodes; i++) {
		struct node c;
		if (tree_find(&t, t.nodes[i].name) != &t.nodes[i])
			abort();
		if (node_copy(&c, &t.nodes[i]) == 0)
			node_clear(&c);
	}
	if (tree_sort(&t2) != 0)
		abort(); /* already sorted, names unique */
	tree_free(&t);
	tree_free(&t2);
	buf_free(&e1);
	buf_free(&e2);
	return 0;
}
