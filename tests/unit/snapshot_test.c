/*
 * snapshot_test.c - snapshot manifests: tags, encoding, decoder strictness.
 */
#include "cairn/common.h"
#include "cairn/snapshot.h"

#include "tap.h"

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		abort();
	return d;
}

static void make_full(struct snapshot *s)
{
	snapshot_init(s);
	s->time_ns = 1718000000123456789LL;
	s->tz_offset = -7 * 3600;
	s->hostname = xstrdup("db1.example.org");
	s->username = xstrdup("postgres");
	snapshot_add_path(s, "/var/lib/postgresql");
	snapshot_add_path(s, "/etc/postgresql");
	snapshot_add_path(s, "/etc/postgresql"); /* paths keep duplicates and order */
	snapshot_add_tag(s, "nightly");
	snapshot_add_tag(s, "db");
	snapshot_add_tag(s, "nightly");
	snapshot_add_tag(s, "a-first");
	memset(s->tree, 0x42, 32);
	s->has_parent = 1;
	memset(s->parent, 0x17, 32);
	s->chunk_min = 4096;
	s->chunk_avg = 16384;
	s->chunk_max = 65536;
	s->flags = SNAPSHOT_F_INCOMPLETE;
	s->program = xstrdup("cairn 0.1.0");
	s->note = xstrdup("repaired: 2 files truncated\nsecond line");
	s->input_format = xstrdup("pgdump-plain");
	s->summary = (struct snapshot_summary){
		.files_new = 1, .files_changed = 2, .files_unmodified = 300000,
		.dirs_new = 4, .dirs_changed = 5, .dirs_unmodified = 6,
		.bytes_read = 100ULL << 30, .bytes_added = 12345678,
		.data_blobs_added = 77, .tree_blobs_added = 8,
		.start_ns = 1718000000000000000LL, .end_ns = -1,
	};
}

static int str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

static int snap_eq(const struct snapshot *a, const struct snapshot *b)
{
	if (a->time_ns != b->time_ns || a->tz_offset != b->tz_offset ||
	    !str_eq(a->hostname, b->hostname) || !str_eq(a->username, b->username) ||
	    a->n_paths != b->n_paths || a->n_tags != b->n_tags ||
	    memcmp(a->tree, b->tree, 32) || !!a->has_parent != !!b->has_parent ||
	    (a->has_parent && memcmp(a->parent, b->parent, 32)) ||
	    a->chunk_min != b->chunk_min || a->chunk_avg != b->chunk_avg ||
	    a->chunk_max != b->chunk_max || a->flags != b->flags ||
	    !str_eq(a->program, b->program) || !str_eq(a->note, b->note) ||
	    !str_eq(a->input_format, b->input_format) ||
	    memcmp(&a->summary, &b->summary, sizeof(a->summary)))
		return 0;
	for (size_t i = 0; i < a->n_paths; i++)
		if (!str_eq(a->paths[i], b->paths[i]))
			return 0;
	for (size_t i = 0; i < a->n_tags; i++)
		if (!str_eq(a->tags[i], b->tags[i]))
			return 0;
	return 1;
}

static int decode_buf(const struct buf *b)
{
	struct snapshot s;
	snapshot_init(&s);
	int e = snapshot_decode(b->data, b->len, &s);
	snapshot_clear(&s);
	return e;
}

/* "CSN1", field count, raw field bytes. The count is of the whole fields
 * present; a last field cut short counts too. */
static void raw(struct buf *b, const void *fields, size_t len)
{
	struct rd r;
	uint64_t n = 0, tag, flen;
	rd_init(&r, fields, len);
	while (r.len) {
		n++;
		if (rd_varint(&r, &tag) < 0 || rd_varint(&r, &flen) < 0 || flen > r.len)
			break;
		r.p += flen;
		r.len -= flen;
	}
	buf_reset(b);
	buf_put(b, "CSN1", 4);
	buf_put_varint(b, n);
	buf_put(b, fields, len);
}

int main(void)
{
	struct snapshot s, d;
	struct buf a = BUF_INIT, b = BUF_INIT;

	make_full(&s);
	is_int(s.n_tags, 3, "tags unique");
	ok(s.n_tags == 3 && strcmp(s.tags[0], "a-first") == 0 && strcmp(s.tags[1], "db") == 0 &&
	   strcmp(s.tags[2], "nightly") == 0, "tags sorted");
	ok(snapshot_has_tag(&s, "db") && !snapshot_has_tag(&s, "dbx") && !snapshot_has_tag(&s, ""),
	   "snapshot_has_tag");
	is_int(s.n_paths, 3, "paths kept as given");

	is_int(snapshot_encode(&s, &a), 0, "encode");
	snapshot_init(&d);
	is_int(snapshot_decode(a.data, a.len, &d), 0, "decode");
	ok(snap_eq(&s, &d), "every field survives the round trip");
	is_int(snapshot_encode(&d, &b), 0, "re-encode");
	ok(a.len == b.len && memcmp(a.data, b.data, a.len) == 0, "re-encoding is identical");
	snapshot_clear(&d);
	ok(d.hostname == NULL && d.n_tags == 0, "snapshot_clear re-initialises");

	/* determinism: tags added in another order */
	struct snapshot s2;
	make_full(&s2);
	snapshot_clear(&s2);
	make_full(&s2);
	for (size_t i = 0; i < s2.n_tags; i++)
		free(s2.tags[i]);
	free(s2.tags);
	s2.tags = NULL;
	s2.n_tags = 0;
	snapshot_add_tag(&s2, "nightly");
	snapshot_add_tag(&s2, "a-first");
	snapshot_add_tag(&s2, "db");
	snapshot_add_tag(&s2, "db");
	buf_reset(&b);
	snapshot_encode(&s2, &b);
	ok(a.len == b.len && memcmp(a.data, b.data, a.len) == 0, "same manifest -> same bytes");
	/* unsorted tags set by hand are refused */
	char *t = s2.tags[0];
	s2.tags[0] = s2.tags[2];
	s2.tags[2] = t;
	buf_reset(&b);
	is_int(snapshot_encode(&s2, &b), CAIRN_EINVAL, "encode refuses unsorted tags");
	snapshot_clear(&s2);

	/* minimal manifest: time 0 and empty hostname are still written */
	snapshot_init(&s2);
	buf_reset(&b);
	is_int(snapshot_encode(&s2, &b), 0, "minimal manifest encodes");
	snapshot_init(&d);
	is_int(snapshot_decode(b.data, b.len, &d), 0, "minimal manifest decodes");
	ok(d.hostname && d.hostname[0] == 0 && d.username == NULL && d.time_ns == 0 &&
	   !d.has_parent && d.n_paths == 0, "defaults; hostname is \"\"");
	snapshot_clear(&d);

	/* truncation: no proper prefix decodes */
	int accepted = 0;
	for (size_t n = 0; n < a.len; n++) {
		snapshot_init(&d);
		if (snapshot_decode(a.data, n, &d) == 0)
			accepted++;
		else if (d.hostname || d.paths || d.tags)
			accepted += 1000;
		snapshot_clear(&d);
	}
	is_int(accepted, 0, "no proper prefix of %zu bytes decodes", a.len);

	/* bit flips: no crash; what decodes re-encodes and decodes */
	int bad = 0, acc = 0;
	for (size_t i = 0; i < a.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			a.data[i] ^= (uint8_t)(1u << bit);
			snapshot_init(&d);
			if (snapshot_decode(a.data, a.len, &d) == 0) {
				acc++;
				buf_reset(&b);
				if (snapshot_encode(&d, &b) < 0 || decode_buf(&b) < 0)
					bad++;
			}
			snapshot_clear(&d);
			a.data[i] ^= (uint8_t)(1u << bit);
		}
	}
	is_int(bad, 0, "bit flips: %d accepted, all re-encode and decode", acc);

	buf_put_u8(&a, 0);
	is_int(decode_buf(&a), CAIRN_ECORRUPT, "trailing byte rejected");
	a.len--;
	a.data[3] = '2';
	is_int(decode_buf(&a), CAIRN_ECORRUPT, "bad magic");
	a.data[3] = '1';
	is_int(decode_buf(&a), 0, "magic restored");
	a.data[4]++;
	is_int(decode_buf(&a), CAIRN_ECORRUPT, "field count too high");
	a.data[4] -= 2;
	is_int(decode_buf(&a), CAIRN_ECORRUPT, "field count too low");
	a.data[4]++;

	/* required fields; hand-built manifests */
	static const uint8_t tree_f[] = { 7, 32, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
					  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	struct buf f = BUF_INIT;
#define FIELDS(...) do { static const uint8_t x_[] = { __VA_ARGS__ }; buf_reset(&f); buf_put(&f, x_, sizeof(x_)); } while (0)
#define WITH_TREE() buf_put(&f, tree_f, sizeof(tree_f))
	FIELDS(1, 1, 0, 3, 0);
	WITH_TREE();
	raw(&b, f.data, f.len);
	is_int(decode_buf(&b), 0, "time, empty hostname, tree: valid");
	FIELDS(3, 0);
	WITH_TREE();
	raw(&b, f.data, f.len);
	is_int(decode_buf(&b), CAIRN_ECORRUPT, "missing time");
	FIELDS(1, 1, 0);
	WITH_TREE();
	raw(&b, f.data, f.len);
	is_int(decode_buf(&b), CAIRN_ECORRUPT, "missing hostname");
	FIELDS(1, 1, 0, 3, 0);
	raw(&b, f.data, f.len);
	is_int(decode_buf(&b), CAIRN_ECORRUPT, "missing tree");
	FIELDS(1, 1, 0, 1, 1, 0, 3, 0);
	WITH_TREE();
	raw(&b, f.data, f.len);
	is_int(decode_buf(&b), CAIRN_ECORRUPT, "duplicate time");
	FIELDS(3, 0, 1, 1, 0);
	WITH_TREE();
	raw(&b, f.data, f.len);
	is_int(decode_buf(&b), CAIRN_ECORRUPT, "fields out of order");
	FIELDS(1, 1, 0, 2, 1, 0, 3, 0);
	WITH_TREE();
	raw(&b, f.data, f.len);
	is_int(decode_buf(&b), CAIRN_ECORRUPT, "explicit zero tz_offset");
	FIELDS(1, 1, 0, 2, 5, 0x80, 0x80, 0x80, 0x80, 0x10, 3, 0);
	WITH_TREE();
	raw(&b, f.data, f.len);
	is_int(decode_buf(&b), CAIRN_ECORRUPT, "tz_offset beyond 32 bits");
	FIELDS(1, 1, 0, 3, 0, 4, 0);
	WITH_TREE();
	raw(&b, f.data, f.len);
	is_int(decode_buf(&b), CAIRN_ECORRUPT, "empty username");
	FIELDS(1, 1, 0, 3, 2, 'a', 0);
	WITH_TREE();
	raw(&b, f.data, f.len);
	is_int(decode_buf(&b), CAIRN_ECORRUPT, "NUL in hostname");
	FIELDS(1, 1, 0, 3, 0, 6, 1, 'b', 6, 1, 'a');
	WITH_TREE();
	raw(&b, f.data, f.len);
	is_int(decode_buf(&b), CAIRN_ECORRUPT, "tags out of order");
	FIELDS(1, 1, 0, 3, 0, 6, 1, 'a', 6, 1, 'a');
	WITH_TREE();
	raw(&b, f.data, f.len);
	is_int(decode_buf(&b), CAIRN_ECORRUPT, "duplicate tags");
	FIELDS(1, 1, 0, 3, 0, 5, 1, 'b', 5, 1, 'a', 5, 1, 'a', 6, 1, 'a', 6, 2, 'a', 'b');
	WITH_TREE();
	raw(&b, f.data, f.len);
	is_int(decode_buf(&b), 0, "paths repeat in any order; tags increasing");
	FIELDS(1, 1, 0, 3, 0, 7, 31);
	raw(&b, f.data, f.len);
	is_int(decode_buf(&b), CAIRN_ECORRUPT, "tree length past the end");
	FIELDS(1, 1, 0, 3, 0);
	WITH_TREE();
	buf_put(&f, (const uint8_t[]){ 40, 3, 'x', 'y', 'z', 40, 0 }, 7);
	raw(&b, f.data, f.len);
	is_int(decode_buf(&b), 0, "unknown fields skipped");
	FIELDS(1, 1, 0, 3, 0);
	WITH_TREE();
	buf_put(&f, (const uint8_t[]){ 28, 1, 1, 27, 1, 1 }, 6);
	raw(&b, f.data, f.len);
	is_int(decode_buf(&b), CAIRN_ECORRUPT, "known field after an unknown, higher one");

	buf_free(&f);
	snapshot_clear(&s);
	snapshot_clear(&s); /* safe twice */
	buf_free(&a);
	buf_free(&b);
	return tap_done();
}
