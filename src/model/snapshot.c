/*
 * snapshot.c - snapshot manifests.
 *
 * Like tree blobs, the encoding is canonical: optional fields equal to 0,
 * NULL or "" are omitted and rejected when present, so a decoded manifest
 * re-encodes to the same bytes (minus unknown fields) and keeps its id.
 * The byte layout is described in man/cairn-format.5 ("Snapshots").
 */
#include "cairn/common.h"
#include "cairn/snapshot.h"
#include "cairn/log.h"

#define SNAP_MAGIC "CSN1"
#define SNAP_MAGIC_LEN 4

/* Field tags, in the order they are written. */
enum {
	ST_TIME = 1,		/* required */
	ST_TZ_OFFSET = 2,
	ST_HOSTNAME = 3,	/* required, may be empty */
	ST_USERNAME = 4,
	ST_PATH = 5,		/* repeated */
	ST_TAG = 6,		/* repeated, strictly increasing */
	ST_TREE = 7,		/* required */
	ST_PARENT = 8,
	ST_CHUNK_MIN = 9,
	ST_CHUNK_AVG = 10,
	ST_CHUNK_MAX = 11,
	ST_FLAGS = 12,
	ST_PROGRAM = 13,
	ST_NOTE = 14,
	ST_INPUT_FORMAT = 15,
	ST_FILES_NEW = 16,
	ST_FILES_CHANGED = 17,
	ST_FILES_UNMODIFIED = 18,
	ST_DIRS_NEW = 19,
	ST_DIRS_CHANGED = 20,
	ST_DIRS_UNMODIFIED = 21,
	ST_BYTES_READ = 22,
	ST_BYTES_ADDED = 23,
	ST_DATA_BLOBS_ADDED = 24,
	ST_TREE_BLOBS_ADDED = 25,
	ST_START_NS = 26,
	ST_END_NS = 27,
	ST_TOTAL_FILES = 28,
	ST_TOTAL_BYTES = 29,
	ST_ORIGINAL = 30,
	ST_DICT = 31,		/* compression dictionary blob the backup used */
	ST_LAST_KNOWN = ST_DICT,
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

void snapshot_init(struct snapshot *s)
{
	memset(s, 0, sizeof(*s));
}

static void str_array_free(char **a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(a[i]);
	free(a);
}

void snapshot_clear(struct snapshot *s)
{
	free(s->hostname);
	free(s->username);
	str_array_free(s->paths, s->n_paths);
	str_array_free(s->tags, s->n_tags);
	free(s->program);
	free(s->note);
	free(s->input_format);
	snapshot_init(s);
}

/* Inserts a copy of str at position pos of a malloc'ed array of *n strings. */
static int str_array_insert(char ***a, size_t *n, size_t pos, const char *str, size_t len)
{
	if (*n >= SIZE_MAX / sizeof(char *) - 1)
		return CAIRN_ENOMEM;
	char *copy = mem_strdup(str, len);
	if (!copy)
		return CAIRN_ENOMEM;
	char **p = realloc(*a, (*n + 1) * sizeof(*p));
	if (!p) {
		free(copy);
		return CAIRN_ENOMEM;
	}
	memmove(p + pos + 1, p + pos, (*n - pos) * sizeof(*p));
	p[pos] = copy;
	*a = p;
	(*n)++;
	return 0;
}

int snapshot_add_path(struct snapshot *s, const char *path)
{
	return str_array_insert(&s->paths, &s->n_paths, s->n_paths, path, strlen(path));
}

int snapshot_add_tag(struct snapshot *s, const char *tag)
{
	size_t lo = 0, hi = s->n_tags;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(tag, s->tags[mid]);
		if (c == 0)
			return 0;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return str_array_insert(&s->tags, &s->n_tags, lo, tag, strlen(tag));
}

int snapshot_has_tag(const struct snapshot *s, const char *tag)
{
	/* linear: tags are few, and this stays right even if a caller filled
	 * s->tags by hand without sorting */
	for (size_t i = 0; i < s->n_tags; i++)
		if (s->tags[i] && strcmp(s->tags[i], tag) == 0)
			return 1;
	return 0;
}

/* Fields are written to a body buffer and counted, because the count goes
 * before them (it lets the decoder tell a truncated manifest from a whole
 * one). */
struct field_writer {
	struct buf body;
	uint64_t count;
};

static void put_field_bytes(struct field_writer *fw, unsigned tag, const void *p, size_t n)
{
	buf_put_varint(&fw->body, tag);
	buf_put_bytes(&fw->body, p, n);
	fw->count++;
}

/* Integer field; omitted when 0 unless required. */
static void put_field_uint(struct field_writer *fw, unsigned tag, uint64_t v, int required)
{
	if (!v && !required)
		return;
	buf_put_varint(&fw->body, tag);
	buf_put_varint(&fw->body, varint_len(v));
	buf_put_varint(&fw->body, v);
	fw->count++;
}

/* String field; omitted when NULL or empty unless required. */
static void put_field_str(struct field_writer *fw, unsigned tag, const char *s, int required)
{
	if ((!s || !s[0]) && !required)
		return;
	put_field_bytes(fw, tag, s ? s : "", s ? strlen(s) : 0);
}

int snapshot_encode(const struct snapshot *s, struct buf *out)
{
	const struct snapshot_summary *m = &s->summary;
	struct field_writer fw = { BUF_INIT, 0 };
	int e;

	for (size_t i = 0; i < s->n_paths; i++)
		if (!s->paths[i])
			return CAIRN_EINVAL;
	for (size_t i = 0; i < s->n_tags; i++) {
		if (!s->tags[i] || (i > 0 && strcmp(s->tags[i - 1], s->tags[i]) >= 0)) {
			log_debug("snapshot_encode: tags not sorted and unique");
			return CAIRN_EINVAL;
		}
	}

	put_field_uint(&fw, ST_TIME, zigzag_enc(s->time_ns), 1);
	put_field_uint(&fw, ST_TZ_OFFSET, zigzag_enc(s->tz_offset), 0);
	put_field_str(&fw, ST_HOSTNAME, s->hostname, 1);
	put_field_str(&fw, ST_USERNAME, s->username, 0);
	for (size_t i = 0; i < s->n_paths; i++)
		put_field_bytes(&fw, ST_PATH, s->paths[i], strlen(s->paths[i]));
	for (size_t i = 0; i < s->n_tags; i++)
		put_field_bytes(&fw, ST_TAG, s->tags[i], strlen(s->tags[i]));
	put_field_bytes(&fw, ST_TREE, s->tree, 32);
	if (s->has_parent)
		put_field_bytes(&fw, ST_PARENT, s->parent, 32);
	put_field_uint(&fw, ST_CHUNK_MIN, s->chunk_min, 0);
	put_field_uint(&fw, ST_CHUNK_AVG, s->chunk_avg, 0);
	put_field_uint(&fw, ST_CHUNK_MAX, s->chunk_max, 0);
	put_field_uint(&fw, ST_FLAGS, s->flags, 0);
	put_field_str(&fw, ST_PROGRAM, s->program, 0);
	put_field_str(&fw, ST_NOTE, s->note, 0);
	put_field_str(&fw, ST_INPUT_FORMAT, s->input_format, 0);
	put_field_uint(&fw, ST_FILES_NEW, m->files_new, 0);
	put_field_uint(&fw, ST_FILES_CHANGED, m->files_changed, 0);
	put_field_uint(&fw, ST_FILES_UNMODIFIED, m->files_unmodified, 0);
	put_field_uint(&fw, ST_DIRS_NEW, m->dirs_new, 0);
	put_field_uint(&fw, ST_DIRS_CHANGED, m->dirs_changed, 0);
	put_field_uint(&fw, ST_DIRS_UNMODIFIED, m->dirs_unmodified, 0);
	put_field_uint(&fw, ST_BYTES_READ, m->bytes_read, 0);
	put_field_uint(&fw, ST_BYTES_ADDED, m->bytes_added, 0);
	put_field_uint(&fw, ST_DATA_BLOBS_ADDED, m->data_blobs_added, 0);
	put_field_uint(&fw, ST_TREE_BLOBS_ADDED, m->tree_blobs_added, 0);
	put_field_uint(&fw, ST_START_NS, zigzag_enc(m->start_ns), 0);
	put_field_uint(&fw, ST_END_NS, zigzag_enc(m->end_ns), 0);
	put_field_uint(&fw, ST_TOTAL_FILES, m->total_files, 0);
	put_field_uint(&fw, ST_TOTAL_BYTES, m->total_bytes, 0);
	if (s->has_original)
		put_field_bytes(&fw, ST_ORIGINAL, s->original, 32);
	if (s->has_dict)
		put_field_bytes(&fw, ST_DICT, s->dict, 32);

	if ((e = buf_ok(&fw.body)) < 0)
		goto out;
	buf_put(out, SNAP_MAGIC, SNAP_MAGIC_LEN);
	buf_put_varint(out, fw.count);
	buf_put(out, fw.body.data, fw.body.len);
	e = buf_ok(out);
out:
	buf_free(&fw.body);
	return e;
}

/* An integer field's value: exactly one minimal varint, at most max, and
 * not 0 unless the field is required (0 is otherwise written by omission). */
static int val_uint(const uint8_t *p, size_t n, uint64_t max, int required, uint64_t *v)
{
	struct rd r;
	uint64_t x;
	rd_init(&r, p, n);
	if (rd_varint(&r, &x) < 0 || r.len || (x == 0 && !required) || x > max)
		return CAIRN_ECORRUPT;
	*v = x;
	return 0;
}

/* A string field's value: no NUL bytes; empty only where allowed. */
static int val_str(const uint8_t *p, size_t n, int allow_empty, char **ret)
{
	if ((n == 0 && !allow_empty) || memchr(p, 0, n))
		return CAIRN_ECORRUPT;
	char *s = mem_strdup(p, n);
	if (!s)
		return CAIRN_ENOMEM;
	*ret = s;
	return 0;
}

/* Appends a decoded repeated string, growing the array by doubling. */
static int decode_append(char ***a, size_t *n, size_t *cap, const uint8_t *p, size_t len)
{
	if (memchr(p, 0, len))
		return CAIRN_ECORRUPT;
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 4;
		char **x = realloc(*a, nc * sizeof(*x));
		if (!x)
			return CAIRN_ENOMEM;
		*a = x;
		*cap = nc;
	}
	char *s = mem_strdup(p, len);
	if (!s)
		return CAIRN_ENOMEM;
	(*a)[(*n)++] = s;
	return 0;
}

/* Zigzag field: stores the signed value. */
static int val_sint(const uint8_t *p, size_t n, int required, int64_t *v)
{
	uint64_t u;
	int e = val_uint(p, n, UINT64_MAX, required, &u);
	if (e == 0)
		*v = zigzag_dec(u);
	return e;
}

int snapshot_decode(const void *data, size_t len, struct snapshot *s)
{
	struct snapshot_summary *m = &s->summary;
	struct rd r;
	const uint8_t *magic;
	uint64_t last = 0, v, nfields;
	size_t paths_cap = 0, tags_cap = 0;
	int have_time = 0, have_host = 0, have_tree = 0;
	int64_t sv;
	int e = CAIRN_ECORRUPT;

	snapshot_init(s);
	rd_init(&r, data, len);
	if (rd_take(&r, SNAP_MAGIC_LEN, &magic) < 0 || memcmp(magic, SNAP_MAGIC, SNAP_MAGIC_LEN)) {
		log_debug("snapshot: bad magic");
		goto fail;
	}
	/* every field takes at least 2 bytes (tag, length) */
	if (rd_varint(&r, &nfields) < 0 || nfields > r.len / 2) {
		log_debug("snapshot: bad field count");
		goto fail;
	}
	for (uint64_t fi = 0; fi < nfields; fi++) {
		uint64_t tag;
		const uint8_t *val;
		size_t vl;
		if (rd_varint(&r, &tag) < 0 || rd_bytes(&r, &val, &vl) < 0) {
			e = CAIRN_ECORRUPT;
			goto fail;
		}
		if (tag == 0 || tag < last ||
		    (tag == last && tag <= ST_LAST_KNOWN && tag != ST_PATH && tag != ST_TAG)) {
			log_debug("snapshot: field %llu out of order", (unsigned long long)tag);
			e = CAIRN_ECORRUPT;
			goto fail;
		}
		last = tag;
		e = 0;
		switch (tag) {
		case ST_TIME:
			e = val_sint(val, vl, 1, &s->time_ns);
			have_time = 1;
			break;
		case ST_TZ_OFFSET:
			if ((e = val_sint(val, vl, 0, &sv)) == 0) {
				if (sv < INT32_MIN || sv > INT32_MAX)
					e = CAIRN_ECORRUPT;
				else
					s->tz_offset = (int32_t)sv;
			}
			break;
		case ST_HOSTNAME:
			e = val_str(val, vl, 1, &s->hostname);
			have_host = 1;
			break;
		case ST_USERNAME:
			e = val_str(val, vl, 0, &s->username);
			break;
		case ST_PATH:
			e = decode_append(&s->paths, &s->n_paths, &paths_cap, val, vl);
			break;
		case ST_TAG:
			if (s->n_tags > 0) {
				/* strictly increasing, bytewise (tags hold no NUL) */
				const char *prev = s->tags[s->n_tags - 1];
				size_t pl = strlen(prev);
				int c = memcmp(prev, val, CAIRN_MIN(pl, vl));
				if (c > 0 || (c == 0 && pl >= vl)) {
					e = CAIRN_ECORRUPT;
					break;
				}
			}
			e = decode_append(&s->tags, &s->n_tags, &tags_cap, val, vl);
			break;
		case ST_TREE:
			if (vl != 32)
				e = CAIRN_ECORRUPT;
			else
				memcpy(s->tree, val, 32);
			have_tree = 1;
			break;
		case ST_PARENT:
			if (vl != 32)
				e = CAIRN_ECORRUPT;
			else
				memcpy(s->parent, val, 32);
			s->has_parent = 1;
			break;
		case ST_CHUNK_MIN:
			if ((e = val_uint(val, vl, UINT32_MAX, 0, &v)) == 0)
				s->chunk_min = (uint32_t)v;
			break;
		case ST_CHUNK_AVG:
			if ((e = val_uint(val, vl, UINT32_MAX, 0, &v)) == 0)
				s->chunk_avg = (uint32_t)v;
			break;
		case ST_CHUNK_MAX:
			if ((e = val_uint(val, vl, UINT32_MAX, 0, &v)) == 0)
				s->chunk_max = (uint32_t)v;
			break;
		case ST_FLAGS:
			if ((e = val_uint(val, vl, UINT32_MAX, 0, &v)) == 0)
				s->flags = (uint32_t)v;
			break;
		case ST_PROGRAM:
			e = val_str(val, vl, 0, &s->program);
			break;
		case ST_NOTE:
			e = val_str(val, vl, 0, &s->note);
			break;
		case ST_INPUT_FORMAT:
			e = val_str(val, vl, 0, &s->input_format);
			break;
		case ST_FILES_NEW:
			e = val_uint(val, vl, UINT64_MAX, 0, &m->files_new);
			break;
		case ST_FILES_CHANGED:
			e = val_uint(val, vl, UINT64_MAX, 0, &m->files_changed);
			break;
		case ST_FILES_UNMODIFIED:
			e = val_uint(val, vl, UINT64_MAX, 0, &m->files_unmodified);
			break;
		case ST_DIRS_NEW:
			e = val_uint(val, vl, UINT64_MAX, 0, &m->dirs_new);
			break;
		case ST_DIRS_CHANGED:
			e = val_uint(val, vl, UINT64_MAX, 0, &m->dirs_changed);
			break;
		case ST_DIRS_UNMODIFIED:
			e = val_uint(val, vl, UINT64_MAX, 0, &m->dirs_unmodified);
			break;
		case ST_BYTES_READ:
			e = val_uint(val, vl, UINT64_MAX, 0, &m->bytes_read);
			break;
		case ST_BYTES_ADDED:
			e = val_uint(val, vl, UINT64_MAX, 0, &m->bytes_added);
			break;
		case ST_DATA_BLOBS_ADDED:
			e = val_uint(val, vl, UINT64_MAX, 0, &m->data_blobs_added);
			break;
		case ST_TREE_BLOBS_ADDED:
			e = val_uint(val, vl, UINT64_MAX, 0, &m->tree_blobs_added);
			break;
		case ST_START_NS:
			e = val_sint(val, vl, 0, &m->start_ns);
			break;
		case ST_END_NS:
			e = val_sint(val, vl, 0, &m->end_ns);
			break;
		case ST_TOTAL_FILES:
			e = val_uint(val, vl, UINT64_MAX, 0, &m->total_files);
			break;
		case ST_TOTAL_BYTES:
			e = val_uint(val, vl, UINT64_MAX, 0, &m->total_bytes);
			break;
		case ST_ORIGINAL:
			if (vl != 32)
				e = CAIRN_ECORRUPT;
			else
				memcpy(s->original, val, 32);
			s->has_original = 1;
			break;
		case ST_DICT:
			if (vl != 32)
				e = CAIRN_ECORRUPT;
			else
				memcpy(s->dict, val, 32);
			s->has_dict = 1;
			break;
		default:
			break; /* unknown field: skipped */
		}
		if (e < 0) {
			log_debug("snapshot: field %llu malformed", (unsigned long long)tag);
			goto fail;
		}
	}
	if (!have_time || !have_host || !have_tree) {
		log_debug("snapshot: a required field (time, hostname, tree) is missing");
		e = CAIRN_ECORRUPT;
		goto fail;
	}
	if (r.len) {
		log_debug("snapshot: %zu bytes of trailing garbage", r.len);
		e = CAIRN_ECORRUPT;
		goto fail;
	}
	return 0;

fail:
	snapshot_clear(s);
	return e;
}
