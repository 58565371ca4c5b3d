/*
 * gen_model_corpus.c - writes the seed corpora of fuzz_tree, fuzz_snapshot
 * and fuzz_idlist (not part of the build).
 *
 *   gcc -std=gnu11 -Iinclude fuzz/gen_model_corpus.c src/model/tree.c \
 *       src/model/snapshot.c src/model/idlist.c src/base/buf.c \
 *       src/base/err.c src/base/log.c src/base/crypto.c \
 *       -lsodium -o /tmp/gen_model_corpus
 *   /tmp/gen_model_corpus fuzz/corpus
 *
 * writes DIR/tree/, DIR/snapshot/, DIR/idlist/ (the directories must
 * exist): a few valid encodings and a few malformed ones each. The output
 * is deterministic.
 */
#include "cairn/common.h"
#include "cairn/idlist.h"
#include "cairn/snapshot.h"
#include "cairn/tree.h"

static const char *dir;

static void write_file(const char *sub, const char *name, const void *p, size_t n)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		abort();
	return d;
}

static void fill_id(uint8_t id[32], int seed)
{
	for (int i = 0; i < 32; i++)
		id[i] = (uint8_t)(seed * 31 + i * 7 + 1);
}

static void add(struct tree *t, struct node *n)
{
	if (tree_add(t, n) < 0)
		abort();
}

static void gen_tree(void)
{
	struct tree t;
	struct node n;
	struct buf b = BUF_INIT;

	tree_init(&t);
	tree_encode(&t, &b);
	write_file("tree", "valid-empty", b.data, b.len);

	memset(&n, 0, sizeof(n));
	n.name = xstrdup("dump.sql");
	n.type = NODE_FILE;
	n.mode = 0640;
	n.uid = n.gid = 999;
	n.user = xstrdup("postgres");
	n.group = xstrdup("postgres");
	n.mtime_ns = 1718000000123456789LL;
	n.ctime_ns = 1718000000123456789LL;
	n.atime_ns = -1;
	n.size = 70000;
	n.inode = 42;
	n.dev = 2049;
	n.nlink = 1;
	n.flags = NODE_F_SPARSE;
	n.n_xattrs = 1;
	n.xattrs = calloc(1, sizeof(*n.xattrs));
	n.xattrs[0].name = xstrdup("user.note");
	n.xattrs[0].value = (uint8_t *)xstrdup("hi");
	n.xattrs[0].len = 2;
	n.n_content = 2;
	n.content = calloc(2, sizeof(*n.content));
	fill_id(n.content[0].id, 1);
	n.content[0].size = 65536;
	n.content[1].size = 4464; /* a hole */
	add(&t, &n);

	memset(&n, 0, sizeof(n));
	n.name = xstrdup("etc");
	n.type = NODE_DIR;
	n.mode = 0755;
	n.has_subtree = 1;
	fill_id(n.subtree, 2);
	add(&t, &n);

	memset(&n, 0, sizeof(n));
	n.name = xstrdup("current");
	n.type = NODE_SYMLINK;
	n.mode = 0777;
	n.link_target = xstrdup("releases/42");
	add(&t, &n);

	memset(&n, 0, sizeof(n));
	n.name = xstrdup("sda1");
	n.type = NODE_BLOCKDEV;
	n.rdev = 0x801;
	add(&t, &n);

	memset(&n, 0, sizeof(n));
	n.name = xstrdup("big");
	n.type = NODE_FILE;
	n.size = 1ULL << 36;
	n.content_depth = 2;
	n.n_content = 1;
	n.content = calloc(1, sizeof(*n.content));
	fill_id(n.content[0].id, 3);
	n.content[0].size = 1ULL << 36;
	add(&t, &n);

	if (tree_sort(&t) < 0)
		abort();
	buf_reset(&b);
	if (tree_encode(&t, &b) < 0)
		abort();
	write_file("tree", "valid-mixed", b.data, b.len);
	write_file("tree", "bad-truncated", b.data, b.len - 3);
	b.data[5] ^= 0x40; /* first node's length */
	write_file("tree", "bad-node-length", b.data, b.len);
	b.data[5] ^= 0x40;

	/* one node with an unknown field (skipped; tags 21+ are unused) */
	static const uint8_t unknown[] = { 'C', 'T', 'R', '1', 1, 9, 1, 1, 'a', 2, 1, 1, 99, 1, 0 };
	write_file("tree", "valid-unknown-field", unknown, sizeof(unknown));
	static const uint8_t unsorted[] = { 'C', 'T', 'R', '1', 2, 6, 1, 1, 'b', 2, 1, 1,
					    6, 1, 1, 'a', 2, 1, 1 };
	write_file("tree", "bad-unsorted", unsorted, sizeof(unsorted));
	static const uint8_t dotdot[] = { 'C', 'T', 'R', '1', 1, 7, 1, 2, '.', '.', 2, 1, 2 };
	write_file("tree", "bad-dotdot", dotdot, sizeof(dotdot));

	tree_free(&t);
	buf_free(&b);
}

static void gen_snapshot(void)
{
	struct snapshot s;
	struct buf b = BUF_INIT;

	snapshot_init(&s);
	snapshot_encode(&s, &b);
	write_file("snapshot", "valid-minimal", b.data, b.len);

	s.time_ns = 1718000000123456789LL;
	s.tz_offset = 7200;
	s.hostname = xstrdup("db1");
	s.username = xstrdup("root");
	snapshot_add_path(&s, "/var/lib/redis/dump.rdb");
	snapshot_add_tag(&s, "hourly");
	snapshot_add_tag(&s, "redis");
	fill_id(s.tree, 4);
	s.has_parent = 1;
	fill_id(s.parent, 5);
	s.chunk_min = 4096;
	s.chunk_avg = 16384;
	s.chunk_max = 65536;
	s.flags = SNAPSHOT_F_INCOMPLETE;
	s.program = xstrdup("cairn 0.1.0");
	s.note = xstrdup("note");
	s.input_format = xstrdup("rdb");
	s.summary.files_new = 1;
	s.summary.bytes_read = 123456789;
	s.summary.bytes_added = 4567;
	s.summary.data_blobs_added = 3;
	s.summary.tree_blobs_added = 1;
	s.summary.start_ns = 1718000000000000000LL;
	s.summary.end_ns = 1718000001000000000LL;
	buf_reset(&b);
	if (snapshot_encode(&s, &b) < 0)
		abort();
	write_file("snapshot", "valid-full", b.data, b.len);
	write_file("snapshot", "bad-truncated", b.data, b.len - 1);
	b.data[0] = 'X';
	write_file("snapshot", "bad-magic", b.data, b.len);

	/* unknown field 40 after the known ones */
	static const uint8_t unknown[] = { 'C', 'S', 'N', '1', 4, 1, 1, 2, 3, 0, 7, 32,
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
		17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
		40, 1, 'x' };
	write_file("snapshot", "valid-unknown-field", unknown, sizeof(unknown));
	static const uint8_t dup_tag[] = { 'C', 'S', 'N', '1', 5, 1, 1, 2, 3, 0, 6, 1, 'a', 6, 1, 'a',
		7, 32, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
		17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };
	write_file("snapshot", "bad-duplicate-tag", dup_tag, sizeof(dup_tag));

	snapshot_clear(&s);
	buf_free(&b);
}

static void gen_idlist(void)
{
	struct content_ref refs[40];
	struct buf b = BUF_INIT;

	for (int i = 0; i < 40; i++) {
		fill_id(refs[i].id, 10 + i);
		refs[i].size = 16384 + (uint64_t)i * 1000;
	}
	memset(refs[3].id, 0, 32); /* a hole */
	idlist_encode(refs, 1, &b);
	write_file("idlist", "valid-one", b.data, b.len);
	buf_reset(&b);
	idlist_encode(refs, 40, &b);
	write_file("idlist", "valid-forty", b.data, b.len);
	write_file("idlist", "bad-truncated", b.data, b.len - 1);
	b.data[4] = 41; /* count past the end */
	write_file("idlist", "bad-count", b.data, b.len);
	static const uint8_t empty[] = { 'C', 'L', 'S', '1', 0 };
	write_file("idlist", "bad-empty", empty, sizeof(empty));
	buf_free(&b);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	gen_tree();
	gen_snapshot();
	gen_idlist();
	return 0;
}
