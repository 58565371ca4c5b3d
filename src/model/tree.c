/*
 * tree.c - nodes and directory manifests (tree blobs).
 *
 * The encoding is canonical: fields equal to their default (0, NULL, empty)
 * are omitted and the decoder rejects them when present, integers are
 * minimal varints, nodes and xattrs are strictly sorted. So a decoded tree
 * re-encodes to the bytes it came from, minus any unknown fields. The byte
 * layout is described in man/cairn-format.5 ("Tree blobs").
 */
#include "cairn/common.h"
#include "cairn/tree.h"
#include "cairn/log.h"

#define TREE_MAGIC "CTR1"
#define TREE_MAGIC_LEN 4
#define NODE_NAME_MAX 4095
/* Deepest content list idlist_reader_new accepts (idlist.h). */
#define TREE_CONTENT_DEPTH_MAX 16
/* Smallest encoded node: length byte, name field (3 bytes), type field (3 bytes). */
#define NODE_MIN_BYTES 7
/* One encoded content ref: id and at least one byte of size varint. */
#define REF_MIN_BYTES 33

/* Node field tags, in the order they are written. */
enum {
	NT_NAME = 1,
	NT_TYPE = 2,
	NT_MODE = 3,
	NT_UID = 4,
	NT_GID = 5,
	NT_USER = 6,
	NT_GROUP = 7,
	NT_MTIME = 8,
	NT_CTIME = 9,
	NT_ATIME = 10,
	NT_SIZE = 11,
	NT_INODE = 12,
	NT_DEV = 13,
	NT_NLINK = 14,
	NT_RDEV = 15,
	NT_LINK = 16,
	NT_XATTR = 17,	/* repeated */
	NT_FLAGS = 18,
	NT_CONTENT = 19,
	NT_SUBTREE = 20,
};

static uint64_t zigzag_enc(int64_t v)
{
	return v < 0 ? ~((uint64_t)v << 1) : (uint64_t)v << 1;
}

static int64_t zigzag_dec(uint64_t u)
{
	return (u & 1) ? (int64_t)~(u >> 1) : (int64_t)(u >> 1);
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static int id_is_zero(const uint8_t id[32])
{
	uint8_t acc = 0;
	for (int i = 0; i < 32; i++)
		acc |= id[i];
	return acc == 0;
}

/* Duplicates n bytes as a NUL-terminated string. */
static char *mem_strdup(const void *p, size_t n)
{
	char *s = malloc(n + 1);
	if (!s)
		return NULL;
	if (n)
		memcpy(s, p, n);
	s[n] = 0;
	return s;
}

int node_name_valid(const char *name, size_t len)
{
	if (!name || len == 0 || len > NODE_NAME_MAX)
		return 0;
	if (memchr(name, '/', len) || memchr(name, 0, len))
		return 0;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	return 1;
}

void node_clear(struct node *n)
{
	free(n->name);
	free(n->user);
	free(n->group);
	free(n->link_target);
	for (size_t i = 0; i < n->n_xattrs; i++) {
		free(n->xattrs[i].name);
		free(n->xattrs[i].value);
	}
	free(n->xattrs);
	free(n->content);
	memset(n, 0, sizeof(*n));
}

/* strdup that maps NULL to NULL; sets *failed on allocation failure. */
static char *dup_opt(const char *s, int *failed)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*failed = 1;
	return d;
}

int node_copy(struct node *dst, const struct node *src)
{
	int failed = 0;

	*dst = *src;
	dst->name = dst->user = dst->group = dst->link_target = NULL;
	dst->xattrs = NULL;
	dst->n_xattrs = 0;
	dst->content = NULL;
	dst->n_content = 0;

	dst->name = dup_opt(src->name, &failed);
	dst->user = dup_opt(src->user, &failed);
	dst->group = dup_opt(src->group, &failed);
	dst->link_target = dup_opt(src->link_target, &failed);
	if (failed)
		goto fail;
	if (src->n_xattrs) {
		dst->xattrs = calloc(src->n_xattrs, sizeof(*dst->xattrs));
		if (!dst->xattrs)
			goto fail;
		for (size_t i = 0; i < src->n_xattrs; i++) {
			const struct xattr *x = &src->xattrs[i];
			dst->n_xattrs = i + 1;
			dst->xattrs[i].name = dup_opt(x->name, &failed);
			dst->xattrs[i].len = x->len;
			if (x->len) {
				dst->xattrs[i].value = malloc(x->len);
				if (!dst->xattrs[i].value)
					goto fail;
				memcpy(dst->xattrs[i].value, x->value, x->len);
			}
			if (failed)
				goto fail;
		}
	}
	if (src->n_content) {
		dst->content = malloc(src->n_content * sizeof(*dst->content));
		if (!dst->content)
			goto fail;
		memcpy(dst->content, src->content, src->n_content * sizeof(*dst->content));
		dst->n_content = src->n_content;
	}
	return 0;

fail:
	node_clear(dst);
	return CAIRN_ENOMEM;
}

void tree_init(struct tree *t)
{
	t->nodes = NULL;
	t->n_nodes = 0;
	t->cap = 0;
}

void tree_free(struct tree *t)
{
	for (size_t i = 0; i < t->n_nodes; i++)
		node_clear(&t->nodes[i]);
	free(t->nodes);
	tree_init(t);
}

/* Makes room for one more node. */
static int tree_grow(struct tree *t)
{
	if (t->n_nodes < t->cap)
		return 0;
	size_t cap = t->cap ? t->cap * 2 : 16;
	if (cap > SIZE_MAX / sizeof(*t->nodes))
		return CAIRN_ENOMEM;
	struct node *p = realloc(t->nodes, cap * sizeof(*p));
	if (!p)
		return CAIRN_ENOMEM;
	t->nodes = p;
	t->cap = cap;
	return 0;
}

int tree_add(struct tree *t, struct node *src)
{
	if (tree_grow(t) < 0) {
		node_clear(src);
		return CAIRN_ENOMEM;
	}
	t->nodes[t->n_nodes++] = *src;
	memset(src, 0, sizeof(*src));
	return 0;
}

/* NULL sorts first so tree_sort never crashes; tree_encode rejects it. */
static int name_cmp(const char *a, const char *b)
{
	if (!a || !b)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

static int node_cmp(const void *a, const void *b)
{
	return name_cmp(((const struct node *)a)->name, ((const struct node *)b)->name);
}

static int xattr_cmp(const void *a, const void *b)
{
	return name_cmp(((const struct xattr *)a)->name, ((const struct xattr *)b)->name);
}

int tree_sort(struct tree *t)
{
	if (t->n_nodes > 1)
		qsort(t->nodes, t->n_nodes, sizeof(*t->nodes), node_cmp);
	for (size_t i = 0; i < t->n_nodes; i++) {
		struct node *n = &t->nodes[i];
		if (i > 0 && node_cmp(&t->nodes[i - 1], n) == 0)
			return CAIRN_EINVAL;
		/* xattrs must be sorted too (tree.h); listxattr order is arbitrary. */
		if (n->n_xattrs > 1)
			qsort(n->xattrs, n->n_xattrs, sizeof(*n->xattrs), xattr_cmp);
		for (size_t j = 1; j < n->n_xattrs; j++)
			if (xattr_cmp(&n->xattrs[j - 1], &n->xattrs[j]) == 0)
				return CAIRN_EINVAL;
	}
	return 0;
}

const struct node *tree_find(const struct tree *t, const char *name)
{
	size_t lo = 0, hi = t->n_nodes;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = name_cmp(name, t->nodes[mid].name);
		if (c == 0)
			return &t->nodes[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/*
 * Checks everything about one node that the encoding cannot represent or
 * the decoder rejects, so that the encoder never writes a blob the decoder
 * refuses. The decoder runs it too, on what it decoded. Returns 1 when valid.
 */
static int node_valid(const struct node *n)
{
	if (!n->name || !node_name_valid(n->name, strlen(n->name)))
		return 0;
	if (n->type < NODE_FILE || n->type > NODE_FIFO)
		return 0;
	if (n->mode & ~(uint32_t)07777)
		return 0;
	if (n->link_target && n->link_target[0] && n->type != NODE_SYMLINK)
		return 0;
	if (n->rdev && n->type != NODE_CHARDEV && n->type != NODE_BLOCKDEV)
		return 0;
	if (n->has_subtree && n->type != NODE_DIR)
		return 0;
	if (n->n_content) {
		if (n->type != NODE_FILE || !n->content)
			return 0;
		if (n->content_depth > TREE_CONTENT_DEPTH_MAX)
			return 0;
		if (n->content_depth > 0)
			for (size_t i = 0; i < n->n_content; i++)
				if (id_is_zero(n->content[i].id))
					return 0;
	} else if (n->content_depth) {
		return 0;
	}
	for (size_t i = 0; i < n->n_xattrs; i++) {
		const struct xattr *x = &n->xattrs[i];
		if (!x->name || !x->name[0] || (x->len && !x->value))
			return 0;
		if (i > 0 && strcmp(n->xattrs[i - 1].name, x->name) >= 0)
			return 0;
	}
	return 1;
}

/* Integer field; omitted when 0 (canonical form). */
static void put_field_uint(struct buf *b, unsigned tag, uint64_t v)
{
	if (!v)
		return;
	buf_put_varint(b, tag);
	buf_put_varint(b, varint_len(v));
	buf_put_varint(b, v);
}

/* String field; omitted when NULL or empty. */
static void put_field_str(struct buf *b, unsigned tag, const char *s)
{
	if (!s || !s[0])
		return;
	buf_put_varint(b, tag);
	buf_put_str(b, s);
}

static void node_encode(const struct node *n, struct buf *b)
{
	put_field_str(b, NT_NAME, n->name);
	put_field_uint(b, NT_TYPE, (uint64_t)n->type);
	put_field_uint(b, NT_MODE, n->mode);
	put_field_uint(b, NT_UID, n->uid);
	put_field_uint(b, NT_GID, n->gid);
	put_field_str(b, NT_USER, n->user);
	put_field_str(b, NT_GROUP, n->group);
	put_field_uint(b, NT_MTIME, zigzag_enc(n->mtime_ns));
	put_field_uint(b, NT_CTIME, zigzag_enc(n->ctime_ns));
	put_field_uint(b, NT_ATIME, zigzag_enc(n->atime_ns));
	put_field_uint(b, NT_SIZE, n->size);
	put_field_uint(b, NT_INODE, n->inode);
	put_field_uint(b, NT_DEV, n->dev);
	put_field_uint(b, NT_NLINK, n->nlink);
	put_field_uint(b, NT_RDEV, n->rdev);
	put_field_str(b, NT_LINK, n->link_target);
	for (size_t i = 0; i < n->n_xattrs; i++) {
		const struct xattr *x = &n->xattrs[i];
		size_t nl = strlen(x->name);
		buf_put_varint(b, NT_XATTR);
		buf_put_varint(b, varint_len(nl) + nl + x->len);
		buf_put_bytes(b, x->name, nl);
		buf_put(b, x->value, x->len);
	}
	put_field_uint(b, NT_FLAGS, n->flags);
	if (n->n_content) {
		size_t len = varint_len(n->content_depth) + varint_len(n->n_content);
		for (size_t i = 0; i < n->n_content; i++)
			len += 32 + varint_len(n->content[i].size);
		buf_put_varint(b, NT_CONTENT);
		buf_put_varint(b, len);
		buf_put_varint(b, n->content_depth);
		buf_put_varint(b, n->n_content);
		for (size_t i = 0; i < n->n_content; i++) {
			buf_put(b, n->content[i].id, 32);
			buf_put_varint(b, n->content[i].size);
		}
	}
	if (n->has_subtree) {
		buf_put_varint(b, NT_SUBTREE);
		buf_put_bytes(b, n->subtree, 32);
	}
}

int tree_encode(const struct tree *t, struct buf *out)
{
	struct buf nb = BUF_INIT;
	size_t start = out->len;
	int e;

	for (size_t i = 0; i < t->n_nodes; i++) {
		if (!node_valid(&t->nodes[i])) {
			log_debug("tree_encode: node %zu (%s) is invalid", i,
				  t->nodes[i].name ? t->nodes[i].name : "(no name)");
			return CAIRN_EINVAL;
		}
		if (i > 0 && strcmp(t->nodes[i - 1].name, t->nodes[i].name) >= 0) {
			log_debug("tree_encode: nodes not sorted or duplicate at \"%s\"",
				  t->nodes[i].name);
			return CAIRN_EINVAL;
		}
	}

	buf_put(out, TREE_MAGIC, TREE_MAGIC_LEN);
	buf_put_varint(out, t->n_nodes);
	for (size_t i = 0; i < t->n_nodes; i++) {
		buf_reset(&nb);
		node_encode(&t->nodes[i], &nb);
		if ((e = buf_ok(&nb)) < 0)
			goto fail;
		buf_put_bytes(out, nb.data, nb.len);
	}
	if ((e = buf_ok(out)) < 0)
		goto fail;
	buf_free(&nb);
	return 0;

fail:
	buf_free(&nb);
	if (!out->failed)
		out->len = start;
	return e;
}

/* A known integer field's value: exactly one minimal varint, not 0 (0 is
 * written by omitting the field) and at most max. */
static int val_uint(const uint8_t *p, size_t n, uint64_t max, uint64_t *v)
{
	struct rd r;
	uint64_t x;
	rd_init(&r, p, n);
	if (rd_varint(&r, &x) < 0 || r.len || x == 0 || x > max)
		return CAIRN_ECORRUPT;
	*v = x;
	return 0;
}

/* A known string field's value: not empty (empty is written by omission)
 * and without NUL bytes. Returns a malloc'ed copy. */
static int val_str(const uint8_t *p, size_t n, char **ret)
{
	if (n == 0 || memchr(p, 0, n))
		return CAIRN_ECORRUPT;
	char *s = mem_strdup(p, n);
	if (!s)
		return CAIRN_ENOMEM;
	*ret = s;
	return 0;
}

static int decode_xattr(struct node *n, const uint8_t *p, size_t len, size_t *cap)
{
	struct rd r;
	const uint8_t *name;
	size_t nl;

	rd_init(&r, p, len);
	if (rd_bytes(&r, &name, &nl) < 0 || nl == 0 || memchr(name, 0, nl))
		return CAIRN_ECORRUPT;
	if (n->n_xattrs > 0) {
		/* strictly increasing, bytewise (names hold no NUL) */
		const char *prev = n->xattrs[n->n_xattrs - 1].name;
		size_t pl = strlen(prev);
		int c = memcmp(prev, name, CAIRN_MIN(pl, nl));
		if (c > 0 || (c == 0 && pl >= nl))
			return CAIRN_ECORRUPT;
	}
	if (n->n_xattrs == *cap) {
		size_t nc = *cap ? *cap * 2 : 4;
		struct xattr *x = realloc(n->xattrs, nc * sizeof(*x));
		if (!x)
			return CAIRN_ENOMEM;
		n->xattrs = x;
		*cap = nc;
	}
	struct xattr *x = &n->xattrs[n->n_xattrs];
	memset(x, 0, sizeof(*x));
	x->name = mem_strdup(name, nl);
	if (!x->name)
		return CAIRN_ENOMEM;
	n->n_xattrs++;
	if (r.len) {
		x->value = malloc(r.len);
		if (!x->value)
			return CAIRN_ENOMEM;
		memcpy(x->value, r.p, r.len);
		x->len = r.len;
	}
	return 0;
}

static int decode_content(struct node *n, const uint8_t *p, size_t len)
{
	struct rd r;
	uint64_t depth, cnt;

	rd_init(&r, p, len);
	if (rd_varint(&r, &depth) < 0 || rd_varint(&r, &cnt) < 0)
		return CAIRN_ECORRUPT;
	if (depth > TREE_CONTENT_DEPTH_MAX || cnt == 0 || cnt > r.len / REF_MIN_BYTES)
		return CAIRN_ECORRUPT;
	n->content = malloc((size_t)cnt * sizeof(*n->content));
	if (!n->content)
		return CAIRN_ENOMEM;
	for (size_t i = 0; i < cnt; i++) {
		struct content_ref *c = &n->content[i];
		if (rd_copy(&r, c->id, 32) < 0 || rd_varint(&r, &c->size) < 0)
			return CAIRN_ECORRUPT; /* node_clear frees content */
		n->n_content = i + 1;
	}
	if (r.len)
		return CAIRN_ECORRUPT;
	n->content_depth = (uint32_t)depth;
	return 0;
}

/* Decodes the fields of one node (the bytes of its length-prefixed record). */
static int node_decode(const uint8_t *p, size_t len, struct node *n)
{
	struct rd r;
	uint64_t last = 0, v;
	size_t xcap = 0;
	int e;

	memset(n, 0, sizeof(*n));
	rd_init(&r, p, len);
	while (r.len) {
		uint64_t tag;
		const uint8_t *val;
		size_t vl;
		if (rd_varint(&r, &tag) < 0 || rd_bytes(&r, &val, &vl) < 0)
			return CAIRN_ECORRUPT;
		/* increasing tags; only xattrs and unknown tags may repeat */
		if (tag == 0 || tag < last || (tag == last && tag <= NT_SUBTREE && tag != NT_XATTR))
			return CAIRN_ECORRUPT;
		last = tag;
		e = 0;
		switch (tag) {
		case NT_NAME:
			if (!node_name_valid((const char *)val, vl))
				return CAIRN_ECORRUPT;
			e = val_str(val, vl, &n->name);
			break;
		case NT_TYPE:
			if ((e = val_uint(val, vl, NODE_FIFO, &v)) == 0)
				n->type = (enum node_type)v;
			break;
		case NT_MODE:
			if ((e = val_uint(val, vl, 07777, &v)) == 0)
				n->mode = (uint32_t)v;
			break;
		case NT_UID:
			if ((e = val_uint(val, vl, UINT32_MAX, &v)) == 0)
				n->uid = (uint32_t)v;
			break;
		case NT_GID:
			if ((e = val_uint(val, vl, UINT32_MAX, &v)) == 0)
				n->gid = (uint32_t)v;
			break;
		case NT_USER:
			e = val_str(val, vl, &n->user);
			break;
		case NT_GROUP:
			e = val_str(val, vl, &n->group);
			break;
		case NT_MTIME:
			if ((e = val_uint(val, vl, UINT64_MAX, &v)) == 0)
				n->mtime_ns = zigzag_dec(v);
			break;
		case NT_CTIME:
			if ((e = val_uint(val, vl, UINT64_MAX, &v)) == 0)
				n->ctime_ns = zigzag_dec(v);
			break;
		case NT_ATIME:
			if ((e = val_uint(val, vl, UINT64_MAX, &v)) == 0)
				n->atime_ns = zigzag_dec(v);
			break;
		case NT_SIZE:
			e = val_uint(val, vl, UINT64_MAX, &n->size);
			break;
		case NT_INODE:
			e = val_uint(val, vl, UINT64_MAX, &n->inode);
			break;
		case NT_DEV:
			e = val_uint(val, vl, UINT64_MAX, &n->dev);
			break;
		case NT_NLINK:
			e = val_uint(val, vl, UINT64_MAX, &n->nlink);
			break;
		case NT_RDEV:
			e = val_uint(val, vl, UINT64_MAX, &n->rdev);
			break;
		case NT_LINK:
			e = val_str(val, vl, &n->link_target);
			break;
		case NT_XATTR:
			e = decode_xattr(n, val, vl, &xcap);
			break;
		case NT_FLAGS:
			if ((e = val_uint(val, vl, UINT32_MAX, &v)) == 0)
				n->flags = (uint32_t)v;
			break;
		case NT_CONTENT:
			e = decode_content(n, val, vl);
			break;
		case NT_SUBTREE:
			if (vl != 32)
				return CAIRN_ECORRUPT;
			memcpy(n->subtree, val, 32);
			n->has_subtree = 1;
			break;
		default:
			break; /* unknown field: skipped */
		}
		if (e < 0)
			return e;
	}
	if (!node_valid(n))
		return CAIRN_ECORRUPT;
	return 0;
}

int tree_decode(const void *data, size_t len, struct tree *t)
{
	struct rd r;
	uint64_t count;
	int e = CAIRN_ECORRUPT;

	tree_init(t);
	rd_init(&r, data, len);
	const uint8_t *magic;
	if (rd_take(&r, TREE_MAGIC_LEN, &magic) < 0 || memcmp(magic, TREE_MAGIC, TREE_MAGIC_LEN)) {
		log_debug("tree: bad magic");
		goto fail;
	}
	if (rd_varint(&r, &count) < 0 || count > r.len / NODE_MIN_BYTES) {
		log_debug("tree: bad node count");
		goto fail;
	}
	if (count) {
		t->nodes = calloc((size_t)count, sizeof(*t->nodes));
		if (!t->nodes) {
			e = CAIRN_ENOMEM;
			goto fail;
		}
		t->cap = (size_t)count;
	}
	for (size_t i = 0; i < count; i++) {
		const uint8_t *p;
		size_t nl;
		struct node *n = &t->nodes[i];
		if (rd_bytes(&r, &p, &nl) < 0) {
			log_debug("tree: node %zu truncated", i);
			e = CAIRN_ECORRUPT;
			goto fail;
		}
		e = node_decode(p, nl, n);
		if (e < 0) {
			node_clear(n);
			log_debug("tree: node %zu malformed", i);
			goto fail;
		}
		t->n_nodes = i + 1;
		if (i > 0 && strcmp(t->nodes[i - 1].name, n->name) >= 0) {
			log_debug("tree: node %zu not sorted after \"%s\"", i, t->nodes[i - 1].name);
			e = CAIRN_ECORRUPT;
			goto fail;
		}
	}
	if (r.len) {
		log_debug("tree: %zu bytes of trailing garbage", r.len);
		e = CAIRN_ECORRUPT;
		goto fail;
	}
	return 0;

fail:
	tree_free(t);
	return e;
}
