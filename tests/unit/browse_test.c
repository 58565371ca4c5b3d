/*
 * browse_test.c - the tree walker (order, leave calls, pruning, start
 * paths, errors, the depth bound against hostile nesting), the diff walker
 * on hand-built trees, pattern matching, the finder's subtree cache against
 * a search without it, and chunk counting through LIST blobs. Trees are
 * stored in a repository in a temporary folder.
 */
#include "cairn/common.h"
#include "cairn/browse.h"
#include "cairn/crypto.h"
#include "cairn/idlist.h"
#include "cairn/pack.h"
#include "cairn/repo.h"
#include "cairn/saver.h"

#include <ftw.h>
#include <unistd.h>

#include "tap.h"

static char tmpdir[4096], repo_path[4200];
static struct repo *r;
static struct saver *sv;
static struct saver_ctx *sc;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A node; for a folder, sub is its subtree id (NULL: none). */
static struct node mk(const char *name, enum node_type type, int64_t mtime, const uint8_t *sub)
{
	struct node n;
	memset(&n, 0, sizeof(n));
	n.name = strdup(name);
	n.type = type;
	n.mode = type == NODE_DIR ? 0755 : 0644;
	n.mtime_ns = mtime;
	if (sub) {
		n.has_subtree = 1;
		memcpy(n.subtree, sub, 32);
	}
	return n;
}

/* A file node whose one content ref has id byte b and the given size. */
static struct node mkfile(const char *name, uint8_t b, uint64_t size)
{
	struct node n = mk(name, NODE_FILE, 1000, NULL);
	n.size = size;
	n.content = calloc(1, sizeof(*n.content));
	n.n_content = 1;
	memset(n.content[0].id, b, 32);
	n.content[0].size = size;
	return n;
}

static struct node mklink(const char *name, const char *target)
{
	struct node n = mk(name, NODE_SYMLINK, 1000, NULL);
	n.link_target = strdup(target);
	n.size = strlen(target);
	return n;
}

/* Stores a tree of the given nodes (taking them) and returns its id. */
static void save_tree(uint8_t id[32], size_t n, struct node *nodes)
{
	struct tree t;
	struct buf b = BUF_INIT;
	tree_init(&t);
	for (size_t i = 0; i < n; i++)
		if (tree_add(&t, &nodes[i]) < 0)
			abort();
	if (tree_sort(&t) < 0 || tree_encode(&t, &b) < 0 ||
	    saver_save_blob(sv, sc, BLOB_TREE, b.data, b.len, id) < 0)
		abort();
	tree_free(&t);
	buf_free(&b);
}

/* ---- walk ---- */

struct rec {
	char log[4096];
	const char *prune_at;
	const char *fail_at;
};

static int rec_visit(void *arg, const char *path, const struct node *n)
{
	struct rec *c = arg;
	(void)n;
	size_t l = strlen(c->log);
	snprintf(c->log + l, sizeof(c->log) - l, "%s ", path);
	if (c->fail_at && strcmp(path, c->fail_at) == 0)
		return CAIRN_EINTR;
	return c->prune_at && strcmp(path, c->prune_at) == 0 ? BROWSE_PRUNE : 0;
}

static int rec_leave(void *arg, const char *path, const struct node *n)
{
	struct rec *c = arg;
	(void)n;
	size_t l = strlen(c->log);
	snprintf(c->log + l, sizeof(c->log) - l, "<%s ", path);
	return 0;
}

static int walk_log(const uint8_t root[32], const char *start, const char *prune,
		    const char *fail, struct rec *c)
{
	memset(c, 0, sizeof(*c));
	c->prune_at = prune;
	c->fail_at = fail;
	struct browse_walk_opts o = { .start = start, .visit = rec_visit, .leave = rec_leave,
				      .arg = c };
	return browse_walk(r, root, &o, NULL);
}

static uint8_t root1[32], root2[32];

/* root1: a/{x, y/{z}}, b, c -> t1, e/{k}, f
 * root2: a/{x changed, y/{z}}, c -> t2, d, e/{k}, f/{g} */
static void build_trees(void)
{
	uint8_t y[32], a1[32], a2[32], e[32], f2[32];
	struct node yz[] = { mkfile("z", 3, 30) };
	save_tree(y, 1, yz);
	struct node ek[] = { mkfile("k", 4, 40) };
	save_tree(e, 1, ek);
	struct node a1n[] = { mkfile("x", 1, 10), mk("y", NODE_DIR, 1000, y) };
	save_tree(a1, 2, a1n);
	struct node a2n[] = { mkfile("x", 2, 12), mk("y", NODE_DIR, 1000, y) };
	save_tree(a2, 2, a2n);
	struct node fg[] = { mkfile("g", 5, 50) };
	save_tree(f2, 1, fg);
	struct node r1[] = { mk("a", NODE_DIR, 1000, a1), mkfile("b", 6, 60),
			     mklink("c", "t1"), mk("e", NODE_DIR, 1000, e), mkfile("f", 7, 70) };
	save_tree(root1, 5, r1);
	struct node r2[] = { mk("a", NODE_DIR, 1000, a2), mklink("c", "t2"), mkfile("d", 8, 80),
			     mk("e", NODE_DIR, 1000, e), mk("f", NODE_DIR, 1000, f2) };
	save_tree(root2, 5, r2);
}

static void test_walk(void)
{
	struct rec c;
	is_int(walk_log(root1, NULL, NULL, NULL, &c), 0, "walk of the whole tree");
	ok(strcmp(c.log, "/a /a/x /a/y /a/y/z </a/y </a /b /c /e /e/k </e /f ") == 0,
	   "depth first, name order, leave after a folder's entries: %s", c.log);
	is_int(walk_log(root1, "/", "/a/y", NULL, &c), 0, "walk with a pruned folder");
	ok(strcmp(c.log, "/a /a/x /a/y </a /b /c /e /e/k </e /f ") == 0,
	   "a pruned folder is neither entered nor left: %s", c.log);
	is_int(walk_log(root1, "a//y/", NULL, NULL, &c), 0, "walk from a/y");
	ok(strcmp(c.log, "/a/y /a/y/z </a/y ") == 0, "start folder visited, walked, left: %s",
	   c.log);
	is_int(walk_log(root1, "/b", NULL, NULL, &c), 0, "walk from a file");
	ok(strcmp(c.log, "/b ") == 0, "only the file: %s", c.log);
	is_int(walk_log(root1, "/nope", NULL, NULL, &c), CAIRN_ENOTFOUND, "missing start path");
	is_int(walk_log(root1, "/b/x", NULL, NULL, &c), CAIRN_ENOTFOUND, "start path below a file");
	is_int(walk_log(root1, NULL, NULL, "/a/y", &c), CAIRN_EINTR,
	       "a visitor's error stops the walk and is returned");
	ok(strcmp(c.log, "/a /a/x /a/y ") == 0, "nothing visited after the error: %s", c.log);
	uint8_t missing[32];
	memset(missing, 0xee, 32);
	is_int(walk_log(missing, NULL, NULL, NULL, &c), CAIRN_ENOTFOUND, "a missing root tree");
}

/* A chain of n nested folders "d"; returns the root id. */
static void chain(uint8_t root[32], int n, uint8_t leaf)
{
	struct node f[] = { mkfile("f", leaf, 1) };
	save_tree(root, 1, f);
	for (int i = 0; i < n; i++) {
		struct node d[] = { mk("d", NODE_DIR, 1000, root) };
		save_tree(root, 1, d);
	}
}

static int count_visit(void *arg, const char *path, const struct node *n)
{
	(void)path;
	(void)n;
	(*(uint64_t *)arg)++;
	return 0;
}

static int ignore_change(void *arg, enum browse_change ch, const char *path,
			 const struct node *a, const struct node *b)
{
	(void)ch;
	(void)path;
	(void)a;
	(void)b;
	(*(uint64_t *)arg)++;
	return 0;
}

static void test_depth(void)
{
	uint8_t ok_root[32], deep1[32], deep2[32];
	uint64_t n = 0;
	chain(ok_root, BROWSE_MAX_DEPTH - 1, 1);
	chain(deep1, BROWSE_MAX_DEPTH + 3, 1);
	chain(deep2, BROWSE_MAX_DEPTH + 3, 2);
	is_int(saver_flush(sv), 0, "flush the chains");
	struct browse_walk_opts o = { .visit = count_visit, .arg = &n };
	is_int(browse_walk(r, ok_root, &o, NULL), 0, "%d nested folders are walked",
	       BROWSE_MAX_DEPTH - 1);
	is_int(n, BROWSE_MAX_DEPTH, "every node visited");
	n = 0;
	is_int(browse_walk(r, deep1, &o, NULL), CAIRN_ECORRUPT,
	       "deeper nesting is refused, not a crash");
	struct browse_diff_opts d = { .change = ignore_change, .arg = &n };
	is_int(browse_diff(r, deep1, deep2, &d, NULL), CAIRN_ECORRUPT,
	       "diff of deeper nesting is refused");
	struct browse_find_opts fo = { .match = count_visit, .arg = &n };
	struct browse_finder *f = browse_finder_new(&fo);
	is_int(browse_finder_run(f, r, deep1, NULL), CAIRN_ECORRUPT, "find too");
	is_int(browse_finder_run(f, r, ok_root, NULL), 0, "the finder is usable after an error");
	browse_finder_free(f);
}

/* ---- diff ---- */

struct dlog {
	char log[4096];
};

static int log_change(void *arg, enum browse_change ch, const char *path, const struct node *a,
		      const struct node *b)
{
	struct dlog *l = arg;
	size_t len = strlen(l->log);
	ok((ch == BROWSE_ADDED) == (a == NULL) && (ch == BROWSE_REMOVED) == (b == NULL),
	   "old/new nodes as documented for %c %s", ch, path);
	snprintf(l->log + len, sizeof(l->log) - len, "%c%s ", ch, path);
	return 0;
}

static void test_diff(void)
{
	struct dlog l;
	struct browse_diff_stats st;
	memset(&l, 0, sizeof(l));
	struct browse_diff_opts o = { .change = log_change, .arg = &l };
	is_int(browse_diff(r, root1, root2, &o, &st), 0, "diff");
	ok(strcmp(l.log, "M/a/x -/b +/d T/f +/f/g ") == 0, "changes without metadata: %s", l.log);
	ok(st.files_added == 2 && st.files_removed == 2 && st.files_changed == 1 &&
		   st.dirs_added == 1 && st.dirs_removed == 0 && st.type_changed == 1 &&
		   st.others_metadata == 1 && st.files_metadata == 0 && st.dirs_metadata == 0,
	   "counts");
	ok(st.bytes_added == 12 + 80 + 50 && st.bytes_removed == 10 + 60 + 70, "bytes");
	/* loaded: both roots, both a, f2; skipped: a/y and e */
	ok(st.trees_loaded == 5 && st.trees_skipped == 2,
	   "unchanged folders are skipped unread (loaded %llu, skipped %llu)",
	   (unsigned long long)st.trees_loaded, (unsigned long long)st.trees_skipped);
	memset(&l, 0, sizeof(l));
	o.metadata = 1;
	is_int(browse_diff(r, root1, root2, &o, &st), 0, "diff --metadata");
	ok(strcmp(l.log, "M/a/x -/b U/c +/d T/f +/f/g ") == 0, "with metadata: %s", l.log);
	memset(&l, 0, sizeof(l));
	is_int(browse_diff(r, root2, root1, &o, &st), 0, "reverse diff");
	ok(strcmp(l.log, "M/a/x +/b U/c -/d T/f -/f/g ") == 0, "reversed: %s", l.log);
	memset(&l, 0, sizeof(l));
	is_int(browse_diff(r, root1, root1, &o, &st), 0, "diff with itself");
	ok(l.log[0] == 0 && st.trees_loaded == 0, "no change, nothing loaded");
}

/* ---- match, find ---- */

static void test_match(void)
{
	const char *p1[] = { "*.c" };
	const char *p2[] = { "/x/*" };
	const char *p3[] = { "Y.C" };
	const char *p4[] = { "y", "nothing" };
	ok(browse_match(p1, 1, 0, "/x/y.c"), "base name pattern");
	ok(!browse_match(p1, 1, 0, "/x.c/y"), "base name only");
	ok(browse_match(p2, 1, 0, "/x/y/z"), "a pattern with '/': full path, '*' matches '/'");
	ok(!browse_match(p2, 1, 0, "/w/x/y"), "full path anchored");
	ok(browse_match(p3, 1, 1, "/x/y.c") && !browse_match(p3, 1, 0, "/x/y.c"), "ignore case");
	ok(browse_match(p4, 2, 0, "/x/y") && !browse_match(p4, 2, 0, "/x/y/z"), "any pattern");
}

struct mlog {
	struct buf b;
};

static int log_match(void *arg, const char *path, const struct node *n)
{
	struct mlog *m = arg;
	buf_printf(&m->b, "%s %d %llu\n", path, n->type, (unsigned long long)n->size);
	return 0;
}

static void find_all(size_t cache_bytes, const char *const *pats, size_t np, struct mlog *m,
		     struct browse_find_stats *st)
{
	struct browse_find_opts o = { .patterns = pats, .n_patterns = np, .match = log_match,
				      .arg = m, .cache_bytes = cache_bytes };
	struct browse_finder *f = browse_finder_new(&o);
	memset(st, 0, sizeof(*st));
	for (int k = 0; k < 3; k++) {
		if (browse_finder_run(f, r, root1, st) < 0 || browse_finder_run(f, r, root2, st) < 0)
			abort();
	}
	browse_finder_free(f);
}

static void test_find(void)
{
	static const char *const sets[][2] = { { "*", NULL }, { "?", "/a/*" }, { "k", "g" } };
	for (size_t s = 0; s < CAIRN_ARRAY_LEN(sets); s++) {
		size_t np = sets[s][1] ? 2 : 1;
		struct mlog on = { BUF_INIT }, off = { BUF_INIT };
		struct browse_find_stats st_on, st_off;
		find_all(0, sets[s], np, &on, &st_on);
		find_all(1, sets[s], np, &off, &st_off);
		ok(on.b.len == off.b.len && memcmp(on.b.data, off.b.data, on.b.len) == 0,
		   "pattern set %zu: the cache changes nothing", s);
		ok(st_on.cache_hits > 0 && st_off.cache_hits == 0 &&
			   st_on.trees_loaded < st_off.trees_loaded,
		   "pattern set %zu: the cache saves tree loads (%llu < %llu)", s,
		   (unsigned long long)st_on.trees_loaded, (unsigned long long)st_off.trees_loaded);
		buf_free(&on.b);
		buf_free(&off.b);
	}
}

/* ---- chunks ---- */

static int save_list(void *arg, const void *data, size_t len, uint8_t ret_id[32])
{
	(void)arg;
	return saver_save_blob(sv, sc, BLOB_LIST, data, len, ret_id);
}

static void test_chunks(void)
{
	struct node n = mkfile("x", 1, 10);
	n.content = realloc(n.content, 3 * sizeof(*n.content));
	memset(n.content[1].id, 0, 32);	/* a hole */
	memset(n.content[2].id, 9, 32);
	n.n_content = 3;
	uint64_t c = 0;
	is_int(browse_count_chunks(r, &n, &c), 0, "count inline chunks");
	is_int(c, 2, "holes are not counted");
	node_clear(&n);

	struct idlist_writer *w = idlist_writer_new(save_list, NULL);
	uint8_t id[32];
	for (uint32_t i = 0; i < 5000; i++) {
		crypto_random(id, 32);
		if (i % 100 == 0)
			memset(id, 0, 32);
		if (idlist_writer_add(w, id, 100) < 0)
			abort();
	}
	n = mk("big", NODE_FILE, 1000, NULL);
	n.size = 500000;
	ok(idlist_writer_finish(w, &n.content_depth, &n.content, &n.n_content) == 0 &&
		   n.content_depth > 0,
	   "a chunk list stored in LIST blobs (depth %u)", n.content_depth);
	idlist_writer_free(w);
	is_int(saver_flush(sv), 0, "flush");
	is_int(browse_count_chunks(r, &n, &c), 0, "count chunks through the LIST blobs");
	is_int(c, 4950, "5000 refs, 50 of them holes");
	struct node d = mk("d", NODE_DIR, 0, NULL);
	is_int(browse_count_chunks(r, &d, &c), CAIRN_EINVAL, "a folder has no chunks");
	node_clear(&d);
	node_clear(&n);
}

int main(void)
{
	if (crypto_init() != 0)
		return 1;
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/cairn-browse-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(repo_path, sizeof(repo_path), "%s/repo", tmpdir);
	char cache[4200];
	snprintf(cache, sizeof(cache), "%s/cache", tmpdir);
	struct repo_init_opts io = { .location = repo_path, .password = "pw", .password_len = 2,
				     .compression = -1 };
	struct repo_open_opts oo = { .location = repo_path, .password = "pw", .password_len = 2,
				     .cache_dir = cache };
	ok(repo_init(&io) == 0 && repo_open(&oo, &r) == 0, "a repository");
	ok(saver_new(r, NULL, &sv) == 0 && (sc = saver_ctx_new(sv)) != NULL, "a saver");
	if (!r || !sv || !sc)
		return tap_done();
	build_trees();
	is_int(saver_flush(sv), 0, "trees stored");

	test_walk();
	test_diff();
	test_match();
	test_find();
	test_chunks();
	test_depth();

	saver_ctx_free(sc);
	saver_free(sv);
	repo_free(r);
	nftw(tmpdir, rm_entry, 64, FTW_DEPTH | FTW_PHYS);
	ok(access(tmpdir, F_OK) != 0, "temporary folder removed");
	return tap_done();
}
