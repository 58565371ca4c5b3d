/*
 * tree_test.c - nodes, tree sorting and the tree blob encoding.
 */
#include "cairn/common.h"
#include "cairn/tree.h"

#include "tap.h"

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		abort();
	return d;
}

static void add_xattr(struct node *n, const char *name, const void *val, size_t len)
{
	n->xattrs = realloc(n->xattrs, (n->n_xattrs + 1) * sizeof(*n->xattrs));
	if (!n->xattrs)
		abort();
	struct xattr *x = &n->xattrs[n->n_xattrs++];
	x->name = xstrdup(name);
	x->len = len;
	x->value = NULL;
	if (len) {
		x->value = malloc(len);
		memcpy(x->value, val, len);
	}
}

/* A node of each kind, with every field that kind can carry set. */
static void make_node(struct node *n, const char *name, enum node_type type)
{
	memset(n, 0, sizeof(*n));
	n->name = xstrdup(name);
	n->type = type;
	n->mode = 0644;
	n->uid = 1000;
	n->gid = 4294967295u;
	n->user = xstrdup("alice");
	n->group = xstrdup("staff");
	n->mtime_ns = 1700000000123456789LL;
	n->ctime_ns = -5; /* before the epoch */
	n->atime_ns = INT64_MIN;
	n->inode = 1234567;
	n->dev = 2049;
	n->nlink = 2;
	n->flags = NODE_F_SPARSE | 0x80000000u;
	switch (type) {
	case NODE_FILE:
		n->size = 3 * 65536 + 17;
		add_xattr(n, "security.selinux", "system_u:object_r", 17);
		add_xattr(n, "user.empty", NULL, 0);
		add_xattr(n, "user.bin", "\0\1\2\377", 4);
		n->content_depth = 1;
		n->n_content = 3;
		n->content = calloc(3, sizeof(*n->content));
		for (int i = 0; i < 3; i++) {
			memset(n->content[i].id, 0x11 * (i + 1), 32);
			n->content[i].size = 65536;
		}
		n->content[2].size = 17;
		break;
	case NODE_DIR:
		n->mode = 0755 | 01000;
		n->has_subtree = 1;
		memset(n->subtree, 0xab, 32);
		break;
	case NODE_SYMLINK:
		n->link_target = xstrdup("../target/with spaces");
		break;
	case NODE_CHARDEV:
	case NODE_BLOCKDEV:
		n->rdev = ((uint64_t)8 << 8) | 1;
		break;
	case NODE_FIFO:
		break;
	}
}

static int str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static int node_eq(const struct node *a, const struct node *b)
{
	if (!str_eq(a->name, b->name) || a->type != b->type || a->mode != b->mode ||
	    a->uid != b->uid || a->gid != b->gid || !str_eq(a->user, b->user) ||
	    !str_eq(a->group, b->group) || a->mtime_ns != b->mtime_ns ||
	    a->ctime_ns != b->ctime_ns || a->atime_ns != b->atime_ns || a->size != b->size ||
	    a->inode != b->inode || a->dev != b->dev || a->nlink != b->nlink ||
	    a->rdev != b->rdev || !str_eq(a->link_target, b->link_target) ||
	    a->n_xattrs != b->n_xattrs || a->flags != b->flags ||
	    a->content_depth != b->content_depth || a->n_content != b->n_content ||
	    !!a->has_subtree != !!b->has_subtree)
		return 0;
	if (a->has_subtree && memcmp(a->subtree, b->subtree, 32))
		return 0;
	for (size_t i = 0; i < a->n_xattrs; i++) {
		const struct xattr *x = &a->xattrs[i], *y = &b->xattrs[i];
		if (!str_eq(x->name, y->name) || x->len != y->len ||
		    (x->len && memcmp(x->value, y->value, x->len)))
			return 0;
	}
	for (size_t i = 0; i < a->n_content; i++)
		if (memcmp(&a->content[i].id, &b->content[i].id, 32) ||
		    a->content[i].size != b->content[i].size)
			return 0;
	return 1;
}

static const char *names[] = { "file", "dir", "link", "cdev", "bdev", "fifo" };

static void make_tree(struct tree *t, const int *order)
{
	tree_init(t);
	for (int i = 0; i < 6; i++) {
		struct node n;
		int k = order[i];
		make_node(&n, names[k], (enum node_type)(k + 1));
		if (tree_add(t, &n) < 0)
			abort();
	}
}

/* One node's record (length-prefixed), cut from a one-node tree's encoding. */
static void node_record(const struct node *n, struct buf *out)
{
	struct tree t;
	struct buf b = BUF_INIT;
	tree_init(&t);
	t.nodes = (struct node *)n;
	t.n_nodes = 1;
	if (tree_encode(&t, &b) < 0)
		abort();
	buf_put(out, b.data + 5, b.len - 5);
	buf_free(&b);
}

/* A node record from raw fields: name, then type, then extra TLV bytes. */
static void raw_record(struct buf *out, const char *name, size_t namelen, int type,
		       const void *extra, size_t extralen)
{
	struct buf n = BUF_INIT;
	if (name) {
		buf_put_varint(&n, 1);
		buf_put_bytes(&n, name, namelen);
	}
	if (type) {
		buf_put_varint(&n, 2);
		buf_put_varint(&n, 1);
		buf_put_varint(&n, (uint64_t)type);
	}
	buf_put(&n, extra, extralen);
	buf_put_bytes(out, n.data, n.len);
	buf_free(&n);
}

static int decode_raw(const struct buf *b)
{
	struct tree t;
	tree_init(&t);
	int e = tree_decode(b->data, b->len, &t);
	tree_free(&t);
	return e;
}

/* A tree of `count` raw records. */
static void raw_tree_start(struct buf *b, size_t count)
{
	buf_reset(b);
	buf_put(b, "CTR1", 4);
	buf_put_varint(b, count);
}

static void test_round_trip(void)
{
	static const int order[] = { 0, 1, 2, 3, 4, 5 };
	struct tree t, d;
	struct buf a = BUF_INIT, b = BUF_INIT;

	make_tree(&t, order);
	is_int(tree_sort(&t), 0, "sort");
	is_int(tree_encode(&t, &a), 0, "encode");
	tree_init(&d);
	is_int(tree_decode(a.data, a.len, &d), 0, "decode");
	is_int(d.n_nodes, 6, "6 nodes decoded");
	int all = d.n_nodes == 6;
	for (size_t i = 0; all && i < 6; i++)
		all = node_eq(&t.nodes[i], &d.nodes[i]);
	ok(all, "every field survives the round trip");
	is_int(tree_encode(&d, &b), 0, "re-encode");
	ok(a.len == b.len && memcmp(a.data, b.data, a.len) == 0, "re-encoding is identical");

	/* a second xattr set in the other order: tree_sort sorted them */
	ok(strcmp(d.nodes[4].name, "file") == 0 && d.nodes[4].n_xattrs == 3 &&
	   strcmp(d.nodes[4].xattrs[0].name, "security.selinux") == 0 &&
	   strcmp(d.nodes[4].xattrs[2].name, "user.empty") == 0, "xattrs sorted by name");

	const struct node *f = tree_find(&d, "link");
	ok(f && f->type == NODE_SYMLINK && strcmp(f->link_target, "../target/with spaces") == 0,
	   "tree_find finds a symlink");
	ok(tree_find(&d, "nope") == NULL, "tree_find: absent name");
	ok(tree_find(&d, "bdev") == &d.nodes[0], "tree_find: first");
	ok(tree_find(&d, "link") == &d.nodes[5], "tree_find: last");

	struct node c;
	is_int(node_copy(&c, &d.nodes[4]), 0, "node_copy");
	ok(node_eq(&c, &d.nodes[4]) && c.content != d.nodes[4].content &&
	   c.xattrs[0].name != d.nodes[4].xattrs[0].name, "node_copy is deep");
	node_clear(&c);
	node_clear(&c); /* safe on a zeroed node */

	/* empty tree */
	struct tree e;
	tree_init(&e);
	buf_reset(&b);
	is_int(tree_encode(&e, &b), 0, "empty tree encodes");
	is_int(b.len, 5, "empty tree is magic + count");
	is_int(tree_decode(b.data, b.len, &e), 0, "empty tree decodes");
	is_int(e.n_nodes, 0, "no nodes");
	tree_free(&e);
	tree_free(&e);

	/* a minimal node: everything else defaulted */
	struct node m;
	memset(&m, 0, sizeof(m));
	m.name = xstrdup("x");
	m.type = NODE_FILE;
	tree_add(&e, &m);
	ok(m.name == NULL, "tree_add zeroes its source");
	buf_reset(&b);
	is_int(tree_encode(&e, &b), 0, "minimal node encodes");
	is_int(b.len, 5 + 7, "minimal node is 7 bytes");
	tree_free(&e);
	is_int(tree_decode(b.data, b.len, &e), 0, "minimal node decodes");
	ok(e.n_nodes == 1 && e.nodes[0].user == NULL && e.nodes[0].content == NULL &&
	   e.nodes[0].mtime_ns == 0, "defaults");
	tree_free(&e);

	tree_free(&t);
	tree_free(&d);
	buf_free(&a);
	buf_free(&b);
}

static void test_determinism(void)
{
	static const int o1[] = { 0, 1, 2, 3, 4, 5 }, o2[] = { 5, 3, 1, 0, 4, 2 };
	struct tree t1, t2;
	struct buf a = BUF_INIT, b = BUF_INIT;

	make_tree(&t1, o1);
	make_tree(&t2, o2);
	/* xattrs added in another order too */
	struct node *f2 = &t2.nodes[3];
	ok(strcmp(f2->name, "file") == 0 && f2->n_xattrs == 3, "file node has xattrs");
	struct xattr tmp = f2->xattrs[0];
	f2->xattrs[0] = f2->xattrs[2];
	f2->xattrs[2] = tmp;
	is_int(tree_encode(&t2, &a), CAIRN_EINVAL, "encode refuses an unsorted tree");
	ok(tree_sort(&t1) == 0 && tree_sort(&t2) == 0, "sort both");
	ok(tree_encode(&t1, &a) == 0 && tree_encode(&t2, &b) == 0, "encode both");
	ok(a.len == b.len && memcmp(a.data, b.data, a.len) == 0,
	   "same tree in another order -> same bytes");
	buf_reset(&b);
	tree_encode(&t1, &b);
	ok(a.len == b.len && memcmp(a.data, b.data, a.len) == 0, "encoding twice -> same bytes");
	tree_free(&t1);
	tree_free(&t2);
	buf_free(&a);
	buf_free(&b);
}

static void test_truncation_and_flips(void)
{
	static const int order[] = { 0, 1, 2, 3, 4, 5 };
	struct tree t, d;
	struct buf a = BUF_INIT, re = BUF_INIT;

	make_tree(&t, order);
	tree_sort(&t);
	tree_encode(&t, &a);

	int accepted = 0;
	for (size_t n = 0; n < a.len; n++) {
		tree_init(&d);
		if (tree_decode(a.data, n, &d) == 0)
			accepted++;
		else if (d.n_nodes != 0 || d.nodes != NULL)
			accepted += 1000; /* a failed decode must leave t empty */
		tree_free(&d);
	}
	is_int(accepted, 0, "no proper prefix of %zu bytes decodes (and t stays empty)", a.len);

	buf_put_u8(&a, 0);
	tree_init(&d);
	is_int(tree_decode(a.data, a.len, &d), CAIRN_ECORRUPT, "trailing garbage rejected");
	a.len--;

	/* flip every bit of every byte: no crash; anything accepted re-encodes
	 * to something that decodes */
	int bad = 0, acc = 0;
	for (size_t i = 0; i < a.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			a.data[i] ^= (uint8_t)(1u << bit);
			tree_init(&d);
			if (tree_decode(a.data, a.len, &d) == 0) {
				acc++;
				struct tree d2;
				tree_init(&d2);
				buf_reset(&re);
				if (tree_encode(&d, &re) < 0 || tree_decode(re.data, re.len, &d2) < 0)
					bad++;
				tree_free(&d2);
			}
			tree_free(&d);
			a.data[i] ^= (uint8_t)(1u << bit);
		}
	}
	is_int(bad, 0, "bit flips: %d accepted, all re-encode and decode", acc);
	tree_free(&t);
	buf_free(&a);
	buf_free(&re);
}

static void test_rejects(void)
{
	struct buf b = BUF_INIT;
	struct node n;
	struct tree t;

	/* unsorted and duplicate records */
	struct node na, nb;
	memset(&na, 0, sizeof(na));
	memset(&nb, 0, sizeof(nb));
	na.name = xstrdup("a");
	na.type = NODE_FILE;
	nb.name = xstrdup("b");
	nb.type = NODE_DIR;
	raw_tree_start(&b, 2);
	node_record(&na, &b);
	node_record(&nb, &b);
	is_int(decode_raw(&b), 0, "sorted pair decodes");
	raw_tree_start(&b, 2);
	node_record(&nb, &b);
	node_record(&na, &b);
	is_int(decode_raw(&b), CAIRN_ECORRUPT, "unsorted nodes rejected");
	raw_tree_start(&b, 2);
	node_record(&na, &b);
	node_record(&na, &b);
	is_int(decode_raw(&b), CAIRN_ECORRUPT, "duplicate names rejected");
	raw_tree_start(&b, 3);
	node_record(&na, &b);
	node_record(&nb, &b);
	is_int(decode_raw(&b), CAIRN_ECORRUPT, "count larger than the records");
	raw_tree_start(&b, 1000000);
	node_record(&na, &b);
	is_int(decode_raw(&b), CAIRN_ECORRUPT, "absurd node count");
	raw_tree_start(&b, 1);
	node_record(&na, &b);
	b.data[0] = 'X';
	is_int(decode_raw(&b), CAIRN_ECORRUPT, "bad magic");

	tree_init(&t);
	struct node dup;
	node_copy(&dup, &na);
	tree_add(&t, &dup);
	node_copy(&dup, &na);
	tree_add(&t, &dup);
	is_int(tree_sort(&t), CAIRN_EINVAL, "tree_sort: duplicate names");
	buf_reset(&b);
	is_int(tree_encode(&t, &b), CAIRN_EINVAL, "tree_encode: duplicate names");
	tree_free(&t);

	/* invalid names, in the encoder and in the decoder */
	static const char *bad[] = { ".", "..", "a/b", "/", "" };
	for (size_t i = 0; i < CAIRN_ARRAY_LEN(bad); i++) {
		tree_init(&t);
		memset(&n, 0, sizeof(n));
		n.name = xstrdup(bad[i]);
		n.type = NODE_FILE;
		tree_add(&t, &n);
		buf_reset(&b);
		is_int(tree_encode(&t, &b), CAIRN_EINVAL, "encode refuses name \"%s\"", bad[i]);
		tree_free(&t);
		raw_tree_start(&b, 1);
		raw_record(&b, bad[i], strlen(bad[i]), NODE_FILE, NULL, 0);
		is_int(decode_raw(&b), CAIRN_ECORRUPT, "decode rejects name \"%s\"", bad[i]);
	}
	raw_tree_start(&b, 1);
	raw_record(&b, "a\0b", 3, NODE_FILE, NULL, 0);
	is_int(decode_raw(&b), CAIRN_ECORRUPT, "decode rejects a NUL in a name");
	ok(node_name_valid("...", 3) && node_name_valid(".a", 2), "\"...\" and \".a\" are valid");
	char longname[4097];
	memset(longname, 'x', sizeof(longname));
	ok(node_name_valid(longname, 4095) && !node_name_valid(longname, 4096), "4095 bytes max");

	/* missing or bad name / type */
	raw_tree_start(&b, 1);
	raw_record(&b, NULL, 0, NODE_FILE, NULL, 0);
	is_int(decode_raw(&b), CAIRN_ECORRUPT, "missing name");
	raw_tree_start(&b, 1);
	raw_record(&b, "a", 1, 0, NULL, 0);
	is_int(decode_raw(&b), CAIRN_ECORRUPT, "missing type");
	raw_tree_start(&b, 1);
	raw_record(&b, "a", 1, 7, NULL, 0);
	is_int(decode_raw(&b), CAIRN_ECORRUPT, "unknown node type");
	raw_tree_start(&b, 1);
	raw_record(&b, "a", 1, NODE_FILE, "\x01\x01" "b", 3);
	is_int(decode_raw(&b), CAIRN_ECORRUPT, "duplicate name field");
	raw_tree_start(&b, 1);
	raw_record(&b, "a", 1, NODE_FILE, "\x02\x01\x01", 3);
	is_int(decode_raw(&b), CAIRN_ECORRUPT, "duplicate type field");

	/* field order, canonical values */
	raw_tree_start(&b, 1);
	raw_record(&b, "a", 1, NODE_FILE, "\x04\x01\x05\x03\x01\x07", 6);
	is_int(decode_raw(&b), CAIRN_ECORRUPT, "fields out of order (uid before mode)");
	raw_tree_start(&b, 1);
	raw_record(&b, "a", 1, NODE_FILE, "\x03\x01\x07\x04\x01\x05", 6);
	is_int(decode_raw(&b), 0, "fields in order");
	raw_tree_start(&b, 1);
	raw_record(&b, "a", 1, NODE_FILE, "\x03\x01\x00", 3);
	is_int(decode_raw(&b), CAIRN_ECORRUPT, "explicit zero mode (non-canonical)");
	raw_tree_start(&b, 1);
	raw_record(&b, "a", 1, NODE_FILE, "\x03\x02\x81\x00", 4);
	is_int(decode_raw(&b), CAIRN_ECORRUPT, "overlong varint");
	raw_tree_start(&b, 1);
	raw_record(&b, "a", 1, NODE_FILE, "\x03\x02\x07\x00", 4);
	is_int(decode_raw(&b), CAIRN_ECORRUPT, "bytes after an integer value");
	raw_tree_start(&b, 1);
	raw_record(&b, "a", 1, NODE_FILE, "\x03\x02\x80\x20", 4);
	is_int(decode_raw(&b), CAIRN_ECORRUPT, "mode beyond 07777");
	raw_tree_start(&b, 1);
	raw_record(&b, "a", 1, NODE_FILE, "\x04\x05\x80\x80\x80\x80\x10", 7);
	is_int(decode_raw(&b), CAIRN_ECORRUPT, "uid beyond 32 bits");
	raw_tree_start(&b, 1);
	raw_record(&b, "a", 1, NODE_FILE, "\x06\x00", 2);
	is_int(decode_raw(&b), CAIRN_ECORRUPT, "empty user (non-canonical)");
	raw_tree_start(&b, 1);
	raw_record(&b, "a", 1, NODE_FILE, "\x03\x05\x07", 3);
	is_int(decode_raw(&b), CAIRN_ECORRUPT, "field length past the end");
	raw_tree_start(&b, 1);
	raw_record(&b, "a", 1, NODE_FILE, "\x00\x00", 2);
	is_int(decode_raw(&b), CAIRN_ECORRUPT, "tag 0");

	/* unknown fields are skipped, and may repeat */
	raw_tree_start(&b, 1);
	raw_record(&b, "a", 1, NODE_FILE, "\x03\x01\x07\x63\x02xy\x63\x00\x64\x01z", 12);
	tree_init(&t);
	is_int(tree_decode(b.data, b.len, &t), 0, "unknown fields skipped");
	ok(t.n_nodes == 1 && t.nodes[0].mode == 7, "known fields still read");
	struct buf re = BUF_INIT;
	tree_encode(&t, &re);
	ok(re.len < b.len, "re-encoding drops unknown fields");
	tree_free(&t);
	buf_free(&re);

	/* kind-specific fields */
	raw_tree_start(&b, 1);
	{
		uint8_t f[34] = { 20, 32 };
		memset(f + 2, 1, 32);
		raw_record(&b, "a", 1, NODE_FILE, f, sizeof(f));
	}
	is_int(decode_raw(&b), CAIRN_ECORRUPT, "subtree on a file");
	raw_tree_start(&b, 1);
	{
		uint8_t f[33] = { 20, 31 };
		memset(f + 2, 1, 31);
		raw_record(&b, "a", 1, NODE_DIR, f, sizeof(f));
	}
	is_int(decode_raw(&b), CAIRN_ECORRUPT, "short subtree id");
	raw_tree_start(&b, 1);
	{
		uint8_t f[2 + 2 + 33] = { 19, 35, 0, 1 };
		memset(f + 4, 1, 32);
		f[36] = 5;
		raw_record(&b, "a", 1, NODE_DIR, f, sizeof(f));
		is_int(decode_raw(&b), CAIRN_ECORRUPT, "content on a dir");
		raw_tree_start(&b, 1);
		raw_record(&b, "a", 1, NODE_FILE, f, sizeof(f));
		is_int(decode_raw(&b), 0, "content on a file");
		f[3] = 2; /* n = 2 but room for one */
		raw_tree_start(&b, 1);
		raw_record(&b, "a", 1, NODE_FILE, f, sizeof(f));
		is_int(decode_raw(&b), CAIRN_ECORRUPT, "n_content larger than the field");
		f[3] = 0x7f;
		raw_tree_start(&b, 1);
		raw_record(&b, "a", 1, NODE_FILE, f, sizeof(f));
		is_int(decode_raw(&b), CAIRN_ECORRUPT, "n_content absurd");
		f[3] = 1;
		f[2] = 17;
		raw_tree_start(&b, 1);
		raw_record(&b, "a", 1, NODE_FILE, f, sizeof(f));
		is_int(decode_raw(&b), CAIRN_ECORRUPT, "content depth > 16");
		f[2] = 1;
		memset(f + 4, 0, 32);
		raw_tree_start(&b, 1);
		raw_record(&b, "a", 1, NODE_FILE, f, sizeof(f));
		is_int(decode_raw(&b), CAIRN_ECORRUPT, "hole at a list level");
		f[2] = 0;
		raw_tree_start(&b, 1);
		raw_record(&b, "a", 1, NODE_FILE, f, sizeof(f));
		is_int(decode_raw(&b), 0, "hole at the data level");
	}
	raw_tree_start(&b, 1);
	raw_record(&b, "a", 1, NODE_FILE, "\x10\x01x", 3);
	is_int(decode_raw(&b), CAIRN_ECORRUPT, "link target on a file");
	raw_tree_start(&b, 1);
	raw_record(&b, "a", 1, NODE_FIFO, "\x0f\x01\x05", 3);
	is_int(decode_raw(&b), CAIRN_ECORRUPT, "rdev on a fifo");
	raw_tree_start(&b, 1);
	raw_record(&b, "a", 1, NODE_FILE, "\x11\x03\x01xv\x11\x02\x01x", 9);
	is_int(decode_raw(&b), CAIRN_ECORRUPT, "duplicate xattr name");
	raw_tree_start(&b, 1);
	raw_record(&b, "a", 1, NODE_FILE, "\x11\x02\x01y\x11\x02\x01x", 8);
	is_int(decode_raw(&b), CAIRN_ECORRUPT, "xattrs out of order");
	raw_tree_start(&b, 1);
	raw_record(&b, "a", 1, NODE_FILE, "\x11\x02\x01x\x11\x03\x02xy", 9);
	is_int(decode_raw(&b), 0, "xattrs in order (prefix first)");
	raw_tree_start(&b, 1);
	raw_record(&b, "a", 1, NODE_FILE, "\x11\x02\x00v", 4);
	is_int(decode_raw(&b), CAIRN_ECORRUPT, "empty xattr name");

	/* the encoder refuses what the decoder would reject */
	tree_init(&t);
	make_node(&n, "d", NODE_DIR);
	n.n_content = 1;
	n.content = calloc(1, sizeof(*n.content));
	n.content[0].size = 1;
	tree_add(&t, &n);
	buf_reset(&b);
	is_int(tree_encode(&t, &b), CAIRN_EINVAL, "encode refuses content on a dir");
	is_int(b.len, 0, "nothing appended on failure");
	tree_free(&t);
	make_node(&n, "f", NODE_FILE);
	n.mode = 0100644;
	tree_add(&t, &n);
	is_int(tree_encode(&t, &b), CAIRN_EINVAL, "encode refuses file type bits in mode");
	tree_free(&t);
	make_node(&n, "f", NODE_FILE);
	memset(n.content[1].id, 0, 32);
	tree_add(&t, &n);
	is_int(tree_encode(&t, &b), CAIRN_EINVAL, "encode refuses a hole at a list level");
	tree_free(&t);

	free(na.name);
	free(nb.name);
	buf_free(&b);
}

int main(void)
{
	test_round_trip();
	test_determinism();
	test_truncation_and_flips();
	test_rejects();
	return tap_done();
}
