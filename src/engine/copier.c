/*
 * copier.c - copying snapshots between repositories (see copier.h).
 */
#include "cairn/common.h"
#include "cairn/copier.h"
#include "cairn/compress.h"
#include "cairn/idlist.h"
#include "cairn/index.h"
#include "cairn/log.h"
#include "cairn/repo.h"
#include "cairn/saver.h"
#include "cairn/tree.h"

struct copy {
	struct repo *src, *dst;
	struct saver *sv;
	struct saver_ctx *sc;
	struct decompressor *d;
	struct buf blob;
	int same;
	struct copy_stats *st;
};

/* 1 when the destination has the blob (old id in the source's id space);
 * *ret_new gets its destination id. */
static int dst_has(struct copy *c, unsigned type, const uint8_t old[32], uint8_t ret_new[32])
{
	if (c->same) {
		memcpy(ret_new, old, 32);
		return index_lookup(repo_index(c->dst), type, old, NULL) == 0;
	}
	if (index_map_get(repo_index(c->dst), old, ret_new) < 0)
		return 0;
	return index_lookup(repo_index(c->dst), type, ret_new, NULL) == 0;
}

/* Stores a plaintext in the destination and records the id mapping. */
static int put_blob(struct copy *c, unsigned type, const uint8_t old[32], const void *data,
		    size_t len, uint8_t ret_new[32])
{
	repo_blob_id(c->dst, data, len, ret_new);
	int e = saver_save(c->sv, c->sc, type, data, len, ret_new, NULL);
	if (e == 0 && !c->same)
		e = index_map_put(repo_index(c->dst), old, ret_new);
	return e;
}

static int load_src(struct copy *c, unsigned type, const uint8_t id[32])
{
	int e = repo_blob_load(c->src, c->d, type, id, &c->blob);
	if (e == 0) {
		c->st->blobs_read++;
		c->st->bytes_read += c->blob.len;
	}
	return e;
}

static int copy_data(struct copy *c, const uint8_t old[32], uint8_t ret_new[32])
{
	if (dst_has(c, BLOB_DATA, old, ret_new))
		return 0;
	int e = load_src(c, BLOB_DATA, old);
	return e < 0 ? e : put_blob(c, BLOB_DATA, old, c->blob.data, c->blob.len, ret_new);
}

static int src_list_load(void *arg, const uint8_t id[32], struct buf *out)
{
	struct copy *c = arg;
	return repo_blob_load(c->src, c->d, BLOB_LIST, id, out);
}

static int dst_list_save(void *arg, const void *data, size_t len, uint8_t ret_id[32])
{
	struct copy *c = arg;
	return saver_save_blob(c->sv, c->sc, BLOB_LIST, data, len, ret_id);
}

/* Copies a file's content; rewrites the node's refs to destination ids. */
static int copy_content(struct copy *c, struct node *n)
{
	static const uint8_t zero[32];
	struct idlist_reader *rd = NULL;
	struct idlist_writer *w = idlist_writer_new(dst_list_save, c);
	struct buf keep = BUF_INIT;
	if (!w)
		return CAIRN_ENOMEM;
	int e = idlist_reader_new(n->content, n->n_content, n->content_depth, src_list_load, c, &rd);
	while (e == 0) {
		struct content_ref ref;
		int got = idlist_reader_next(rd, &ref);
		if (got <= 0) {
			e = got;
			break;
		}
		uint8_t nid[32];
		if (!memcmp(ref.id, zero, 32))
			memcpy(nid, zero, 32);
		else if ((e = copy_data(c, ref.id, nid)) < 0)
			break;
		e = idlist_writer_add(w, nid, ref.size);
	}
	idlist_reader_free(rd);
	buf_free(&keep);
	if (e < 0) {
		idlist_writer_free(w);
		return e;
	}
	struct content_ref *refs;
	size_t nr;
	uint32_t depth;
	e = idlist_writer_finish(w, &depth, &refs, &nr);
	idlist_writer_free(w);
	if (e < 0)
		return e;
	free(n->content);
	n->content = refs;
	n->n_content = nr;
	n->content_depth = depth;
	return 0;
}

static int copy_tree(struct copy *c, const uint8_t old[32], uint8_t ret_new[32], int depth)
{
	struct tree t;
	struct buf enc = BUF_INIT;
	if (depth > 4096)
		return CAIRN_ECORRUPT;
	int e = load_src(c, BLOB_TREE, old);
	if (e < 0)
		return e;
	tree_init(&t);
	e = tree_decode(c->blob.data, c->blob.len, &t);
	for (size_t i = 0; i < t.n_nodes && e == 0; i++) {
		struct node *n = &t.nodes[i];
		if (n->type == NODE_FILE)
			e = copy_content(c, n);
		else if (n->type == NODE_DIR && n->has_subtree)
			e = copy_tree(c, n->subtree, n->subtree, depth + 1);
	}
	if (e == 0)
		e = tree_encode(&t, &enc);
	if (e == 0)
		e = put_blob(c, BLOB_TREE, old, enc.data, enc.len, ret_new);
	buf_free(&enc);
	tree_free(&t);
	return e;
}

int copier_copy(struct repo *src, struct repo *dst, const uint8_t src_id[32],
		const struct snapshot *sn, uint8_t ret_id[32], struct copy_stats *st)
{
	struct copy c = { .src = src, .dst = dst, .st = st };
	struct snapshot out;
	struct buf b = BUF_INIT;
	const struct crypto_keys *ks = repo_keys(src), *kd = repo_keys(dst);
	c.same = !memcmp(ks->id, kd->id, 32);
	st->same_ids = c.same;
	struct saver_opts so = { .compression = -1 };
	int e = saver_new(dst, &so, &c.sv);
	if (e < 0)
		return e;
	c.sc = saver_ctx_new(c.sv);
	c.d = decompressor_new();
	if (!c.sc || !c.d) {
		e = CAIRN_ENOMEM;
		goto out;
	}
	uint8_t tree[32];
	e = copy_tree(&c, sn->tree, tree, 0);
	if (e == 0)
		e = saver_flush(c.sv);
	if (e < 0)
		goto out;
	/* the snapshot, as it was, pointing at the copied tree */
	struct buf enc = BUF_INIT;
	e = snapshot_encode(sn, &enc);
	snapshot_init(&out);
	if (e == 0)
		e = snapshot_decode(enc.data, enc.len, &out);
	buf_free(&enc);
	if (e < 0)
		goto out;
	memcpy(out.tree, tree, 32);
	out.has_parent = 0;
	/* The source's dictionary is not copied: blobs were stored anew under
	 * the destination's settings, and its next backup trains its own. */
	out.has_dict = 0;
	if (!out.has_original) {
		out.has_original = 1;
		memcpy(out.original, src_id, 32);
	}
	e = snapshot_encode(&out, &b);
	if (e == 0)
		e = repo_file_save(dst, REPO_FILE_SNAPSHOT, b.data, b.len, ret_id);
	snapshot_clear(&out);
	if (e == 0) {
		struct saver_stats ss;
		saver_get_stats(c.sv, &ss);
		st->bytes_added += ss.bytes_added;
		st->snapshots++;
	}
out:
	buf_free(&b);
	buf_free(&c.blob);
	decompressor_free(c.d);
	saver_ctx_free(c.sc);
	saver_free(c.sv);
	return e;
}
