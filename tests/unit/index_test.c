/*
 * index_test.c - the SQLite index cache, in a temporary folder.
 */
#include "cairn/common.h"
#include "cairn/index.h"

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"

static char tmpdir[4096];

/* nftw callback: removes everything below the temporary folder. */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void fill_id(uint8_t id[32], uint8_t a, uint8_t b, uint8_t c)
{
	for (int i = 0; i < 32; i++)
		id[i] = (uint8_t)(c + i * 3);
	id[0] = a;
	id[1] = b;
}

/* Pack p: 10 blobs, ids starting (0x10 + p, i), types cycling. */
static void make_entries(int p, struct pack_entry *e, size_t n)
{
	uint64_t off = 0;
	for (size_t i = 0; i < n; i++) {
		memset(&e[i], 0, sizeof(e[i]));
		e[i].type = (uint8_t)(BLOB_DATA + i % 3);
		fill_id(e[i].id, (uint8_t)(0x10 + p), (uint8_t)i, 0x33);
		e[i].offset = off;
		e[i].length = (uint32_t)(100 + i + (size_t)p * 1000);
		e[i].raw_length = (uint32_t)(50 + i);
		off += e[i].length;
	}
}

struct file_ids {
	uint8_t ids[8][32];
	int n;
	int stop_at;
};

static int collect_file(void *arg, const uint8_t id[32])
{
	struct file_ids *f = arg;
	if (f->n < 8)
		memcpy(f->ids[f->n], id, 32);
	f->n++;
	return f->stop_at && f->n >= f->stop_at ? 7 : 0;
}

static int has_id(const struct file_ids *f, const uint8_t id[32])
{
	for (int i = 0; i < f->n && i < 8; i++)
		if (memcmp(f->ids[i], id, 32) == 0)
			return 1;
	return 0;
}

struct usage_seen {
	struct index_pack_usage u[8];
	int n;
	struct index *ix;
	int drop_first, repack_second;
};

static int collect_usage(void *arg, const struct index_pack_usage *u)
{
	struct usage_seen *s = arg;
	if (s->n < 8)
		s->u[s->n] = *u;
	s->n++;
	/* dropping from inside the usage scan, as prune does */
	if (s->n == 1 && s->drop_first)
		return index_drop_pack(s->ix, u->id, 0);
	if (s->n == 2 && s->repack_second)
		return index_drop_pack(s->ix, u->id, 1);
	return 0;
}

struct entries_seen {
	uint8_t packs[8][32];
	int n_packs;
	size_t n;
	uint64_t last_off;
	int out_of_order;
};

static int collect_entry(void *arg, const uint8_t pack_id[32], uint64_t pack_size,
			 const struct pack_entry *en)
{
	struct entries_seen *s = arg;
	(void)pack_size;
	if (s->n_packs == 0 || memcmp(s->packs[s->n_packs - 1], pack_id, 32)) {
		if (s->n_packs < 8)
			memcpy(s->packs[s->n_packs], pack_id, 32);
		s->n_packs++;
	} else if (en->offset < s->last_off) {
		s->out_of_order++;
	}
	s->last_off = en->offset;
	s->n++;
	return 0;
}

static int count_pack(void *arg, const uint8_t id[32], uint64_t size)
{
	(void)id;
	(void)size;
	(*(int *)arg)++;
	return 0;
}

/* Marking, keepers and per-pack usage with a duplicate copy, an unused
 * blob and a missing one; then dropping and repacking packs. */
static void test_prune_support(const char *path)
{
	struct index *ix;
	struct pack_entry e0[10], e1[10], dup[2];
	uint8_t p0[32], p1[32], p2[32], missing[32], f[32];
	make_entries(0, e0, 10);
	make_entries(1, e1, 10);
	fill_id(p0, 0xa0, 0, 1);
	fill_id(p1, 0xa1, 0, 1);
	fill_id(p2, 0xa2, 0, 1);
	fill_id(missing, 0xee, 0, 9);
	fill_id(f, 0xf0, 0, 9);
	/* pack 2 holds second copies of two blobs of pack 0 */
	dup[0] = e0[0];
	dup[1] = e0[1];
	dup[0].offset = 0;
	dup[1].offset = dup[0].length;
	unlink(path);
	ok(index_open(path, &ix) == 0, "open a fresh cache for prune");
	ok(index_add_pack(ix, p0, 5000, e0, 10) == 0 && index_add_pack(ix, p1, 15000, e1, 10) == 0 &&
		   index_add_pack(ix, p2, 300, dup, 2) == 0,
	   "three packs");
	ok(index_used_reset(ix) == 0, "used reset");
	/* every blob of pack 0, the first 3 of pack 1 (one twice), one missing */
	is_int(index_used_mark(ix, e0[0].type, e0[0].id), 1, "first mark: new");
	is_int(index_used_mark(ix, e0[0].type, e0[0].id), 0, "second mark: seen");
	uint8_t ids[12][32];
	size_t n = 0;
	for (int i = 1; i < 10; i++)
		if (e0[i].type == BLOB_DATA)
			memcpy(ids[n++], e0[i].id, 32);
	memcpy(ids[n++], missing, 32);
	ok(index_used_mark_many(ix, BLOB_DATA, (const uint8_t(*)[32])ids, n) == 0, "mark many");
	for (int i = 1; i < 10; i++)
		if (e0[i].type != BLOB_DATA)
			index_used_mark(ix, e0[i].type, e0[i].id);
	for (int i = 0; i < 3; i++)
		index_used_mark(ix, e1[i].type, e1[i].id);
	index_used_mark(ix, e1[0].type, e1[0].id);
	uint64_t used = 0, miss = 0, kb = 0, kraw = 0, kstored = 0;
	ok(index_used_finish(ix, &used, &miss) == 0, "finish");
	is_int(used, 14, "14 used blobs (10 + 3 + the missing one)");
	is_int(miss, 1, "one of them is missing");
	uint64_t want_stored = 0, want_raw = 0;
	for (int i = 0; i < 10; i++)
		want_stored += e0[i].length, want_raw += e0[i].raw_length;
	for (int i = 0; i < 3; i++)
		want_stored += e1[i].length, want_raw += e1[i].raw_length;
	ok(index_used_sums(ix, &kb, &kraw, &kstored) == 0 && kb == 13 && kraw == want_raw &&
		   kstored == want_stored,
	   "keeper sums count one copy of each indexed used blob (%llu)", (unsigned long long)kb);
	struct usage_seen us = { .ix = ix };
	ok(index_foreach_pack_usage(ix, collect_usage, &us) == 0 && us.n == 3, "usage of 3 packs");
	uint64_t unused1 = 0;
	for (int i = 3; i < 10; i++)
		unused1 += e1[i].length;
	ok(us.u[0].used_blobs == 10 && us.u[0].unused_blobs == 0 && us.u[0].used_bytes ==
		   want_stored - e1[0].length - e1[1].length - e1[2].length,
	   "pack 0: all 10 used (its copies are the keepers: lowest pack row)");
	ok(us.u[1].used_blobs == 3 && us.u[1].unused_blobs == 7 && us.u[1].unused_bytes == unused1,
	   "pack 1: 3 used, 7 unused");
	ok(us.u[2].used_blobs == 0 && us.u[2].unused_blobs == 2 &&
		   us.u[2].unused_bytes == (uint64_t)dup[0].length + dup[1].length,
	   "pack 2: only second copies, all unused");
	ok(memcmp(us.u[0].id, p0, 32) == 0 && memcmp(us.u[2].id, p2, 32) == 0 && us.u[2].size == 300,
	   "usage names the packs and sizes");

	/* drop pack 0 (as a test: it is used) and repack pack 1 */
	us = (struct usage_seen){ .ix = ix, .drop_first = 1, .repack_second = 1 };
	ok(index_foreach_pack_usage(ix, collect_usage, &us) == 0, "drop and repack from the usage scan");
	struct entries_seen es;
	memset(&es, 0, sizeof(es));
	ok(index_foreach_repack_blob(ix, collect_entry, &es) == 0 && es.n == 3 && es.n_packs == 1 &&
		   memcmp(es.packs[0], p1, 32) == 0 && es.out_of_order == 0,
	   "repack visits the 3 keepers of pack 1 in offset order (%zu)", es.n);
	memset(&es, 0, sizeof(es));
	ok(index_foreach_kept_entry(ix, collect_entry, &es) == 0 && es.n == 2 && es.n_packs == 1 &&
		   memcmp(es.packs[0], p2, 32) == 0,
	   "the new index keeps pack 2 only (%zu entries)", es.n);
	int dropped = 0;
	ok(index_foreach_dropped_pack(ix, count_pack, &dropped) == 0 && dropped == 2,
	   "two dropped packs");
	ok(index_add_file(ix, missing) == 0, "an old index file is recorded");
	ok(index_pack_dropped(ix, p0) == 1 && index_pack_dropped(ix, p1) == 1 &&
		   index_pack_dropped(ix, p2) == 0,
	   "index_pack_dropped tells dropped packs");
	ok(index_add_file(ix, p2) == 0, "an index file that stays is recorded");
	ok(index_drop_apply(ix, (const uint8_t(*)[32])f, 1, (const uint8_t(*)[32])missing, 1) == 0,
	   "apply");
	uint64_t nb = 0, np = 0;
	ok(index_counts(ix, &nb, &np) == 0 && nb == 2 && np == 1, "the cache holds pack 2 only");
	ok(index_lookup(ix, e0[0].type, e0[0].id, NULL) == 0 &&
		   index_lookup(ix, e1[0].type, e1[0].id, NULL) == CAIRN_ENOTFOUND,
	   "the second copy is found, pack 1's blobs are gone");
	ok(index_has_file(ix, f) == 1 && index_has_file(ix, missing) == 0 && index_has_file(ix, p2) == 1,
	   "the cache lists the new index file and the one that stays, not the removed one");
	ok(index_used_drop(ix) == 0, "drop the marking tables");
	index_free(ix);
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/cairn-index-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	char path[4200];
	snprintf(path, sizeof(path), "%s/index.db", tmpdir);

	struct index *ix = NULL;
	ok(index_open(path, &ix) == 0 && ix, "index_open creates the database");
	if (!ix) {
		printf("Bail out! no index\n");
		return 1;
	}
	struct stat st;
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "index.db is 0600");
	uint64_t nb = 99, np = 99;
	ok(index_counts(ix, &nb, &np) == 0 && nb == 0 && np == 0, "a new cache is empty");

	struct pack_entry e0[10], e1[10];
	uint8_t p0[32], p1[32], p2[32];
	fill_id(p0, 0xa0, 0, 1);
	fill_id(p1, 0xa1, 0, 1);
	fill_id(p2, 0xa2, 0, 1);
	make_entries(0, e0, 10);
	make_entries(1, e1, 10);
	ok(index_begin(ix) == 0, "begin");
	ok(index_add_pack(ix, p0, 5000, e0, 10) == 0, "add pack 0 with 10 blobs");
	ok(index_add_pack(ix, p1, 25000, e1, 10) == 0, "add pack 1 with 10 blobs");
	ok(index_commit(ix) == 0, "commit");
	ok(index_counts(ix, &nb, &np) == 0 && nb == 20 && np == 2, "20 blobs, 2 packs");

	/* Hits. */
	int hits = 0;
	for (int p = 0; p < 2; p++) {
		struct pack_entry *e = p ? e1 : e0;
		for (int i = 0; i < 10; i++) {
			struct index_loc loc;
			memset(&loc, 0, sizeof(loc));
			if (index_lookup(ix, e[i].type, e[i].id, &loc) == 0 &&
			    memcmp(loc.pack_id, p ? p1 : p0, 32) == 0 && loc.offset == e[i].offset &&
			    loc.length == e[i].length && loc.raw_length == e[i].raw_length)
				hits++;
		}
	}
	is_int(hits, 20, "every blob is found with its pack, offset and lengths");
	ok(index_lookup(ix, e0[3].type, e0[3].id, NULL) == 0, "lookup with a NULL location");

	/* Misses. */
	uint8_t unknown[32];
	fill_id(unknown, 0x77, 0x77, 0x77);
	is_int(index_lookup(ix, BLOB_DATA, unknown, NULL), CAIRN_ENOTFOUND,
	       "unknown id: CAIRN_ENOTFOUND");
	unsigned other = e0[0].type == BLOB_DATA ? BLOB_TREE : BLOB_DATA;
	is_int(index_lookup(ix, other, e0[0].id, NULL), CAIRN_ENOTFOUND,
	       "known id with another type: CAIRN_ENOTFOUND");

	/* A blob already indexed keeps its location; a pack added twice is
	 * recorded once. */
	struct pack_entry dup = e0[0];
	dup.offset = 0;
	dup.length = 777;
	ok(index_add_pack(ix, p2, 777, &dup, 1) == 0, "add pack 2 holding a blob of pack 0");
	struct index_loc loc;
	ok(index_lookup(ix, dup.type, dup.id, &loc) == 0 && memcmp(loc.pack_id, p0, 32) == 0 &&
		   loc.length == e0[0].length,
	   "the existing entry is kept");
	/* Whether the second copy counts as a blob row is the cache's choice
	 * (prune wants copies); the pack count and re-adding are not. */
	uint64_t nb2 = 0, np2 = 0;
	ok(index_counts(ix, &nb2, &np2) == 0 && np2 == 3 && (nb2 == 20 || nb2 == 21),
	   "3 packs; %llu blob rows (20, or 21 counting the copy)", (unsigned long long)nb2);
	ok(index_add_pack(ix, p0, 5000, e0, 10) == 0, "adding pack 0 again succeeds");
	ok(index_counts(ix, &nb, &np) == 0 && nb == nb2 && np == 3, "and changes nothing");
	ok(index_lookup(ix, dup.type, dup.id, &loc) == 0 && memcmp(loc.pack_id, p0, 32) == 0,
	   "the blob is still found in pack 0");

	/* Prefix search. */
	unsigned type = 0;
	uint8_t id[32];
	char hex[65];
	hex_encode(e1[4].id, 32, hex);
	hex[6] = 0; /* "1104.." + 2 more: unique */
	ok(index_find_prefix(ix, hex, &type, id) == 0 && type == e1[4].type &&
		   memcmp(id, e1[4].id, 32) == 0,
	   "unique prefix %s finds the blob", hex);
	hex_encode(e1[4].id, 32, hex);
	ok(index_find_prefix(ix, hex, &type, id) == 0 && memcmp(id, e1[4].id, 32) == 0,
	   "the full 64-digit id finds it");
	hex[5] = 0; /* odd length */
	ok(index_find_prefix(ix, hex, &type, id) == 0 && memcmp(id, e1[4].id, 32) == 0,
	   "an odd-length prefix (%s) works", hex);
	for (int i = 0; i < 6; i++)
		hex[i] = (char)(hex[i] >= 'a' ? hex[i] - 32 : hex[i]);
	hex[6] = 0;
	ok(index_find_prefix(ix, hex, &type, id) == 0 && memcmp(id, e1[4].id, 32) == 0,
	   "an upper-case prefix works");
	is_int(index_find_prefix(ix, "11", &type, id), CAIRN_EAMBIGUOUS,
	       "prefix 11 (10 blobs of pack 1): CAIRN_EAMBIGUOUS");
	is_int(index_find_prefix(ix, "1", &type, id), CAIRN_EAMBIGUOUS, "prefix 1: CAIRN_EAMBIGUOUS");
	is_int(index_find_prefix(ix, "99", &type, id), CAIRN_ENOTFOUND, "prefix 99: CAIRN_ENOTFOUND");
	is_int(index_find_prefix(ix, "1105ff", &type, id), CAIRN_ENOTFOUND,
	       "prefix 1105ff: CAIRN_ENOTFOUND");
	is_int(index_find_prefix(ix, "", &type, id), CAIRN_EINVAL, "empty prefix: CAIRN_EINVAL");
	is_int(index_find_prefix(ix, "11zz", &type, id), CAIRN_EINVAL, "non-hex: CAIRN_EINVAL");
	char long_hex[70];
	memset(long_hex, 'a', 65);
	long_hex[65] = 0;
	is_int(index_find_prefix(ix, long_hex, &type, id), CAIRN_EINVAL,
	       "65 digits: CAIRN_EINVAL");

	/* Index files. */
	uint8_t f1[32], f2[32], f3[32];
	fill_id(f1, 0xf1, 1, 2);
	fill_id(f2, 0xf2, 1, 2);
	fill_id(f3, 0xf3, 1, 2);
	is_int(index_has_file(ix, f1), 0, "an index file not recorded: 0");
	ok(index_add_file(ix, f1) == 0 && index_add_file(ix, f2) == 0, "record two index files");
	ok(index_add_file(ix, f1) == 0, "recording one again is harmless");
	is_int(index_has_file(ix, f1), 1, "recorded: 1");
	is_int(index_has_file(ix, f3), 0, "another: 0");
	struct file_ids fi;
	memset(&fi, 0, sizeof(fi));
	ok(index_foreach_file(ix, collect_file, &fi) == 0 && fi.n == 2 && has_id(&fi, f1) &&
		   has_id(&fi, f2),
	   "foreach_file visits both, once each");
	memset(&fi, 0, sizeof(fi));
	fi.stop_at = 1;
	is_int(index_foreach_file(ix, collect_file, &fi), 7,
	       "a non-zero callback return stops and is returned");
	is_int(fi.n, 1, "after one call");

	/* Rollback discards. */
	ok(index_begin(ix) == 0 && index_add_file(ix, f3) == 0, "add a file in a transaction");
	index_rollback(ix);
	is_int(index_has_file(ix, f3), 0, "rolled back: not recorded");

	/* Reopen keeps everything. */
	index_free(ix);
	ix = NULL;
	ok(index_open(path, &ix) == 0, "reopen");
	ok(index_counts(ix, &nb, &np) == 0 && nb == nb2 && np == 3, "same counts after reopening");
	ok(index_lookup(ix, e1[9].type, e1[9].id, &loc) == 0 && memcmp(loc.pack_id, p1, 32) == 0 &&
		   loc.offset == e1[9].offset,
	   "lookups work after reopening");
	ok(index_has_file(ix, f2) == 1, "index files are kept");

	/* Clear. */
	ok(index_clear(ix) == 0, "clear");
	ok(index_counts(ix, &nb, &np) == 0 && nb == 0 && np == 0, "counts are 0");
	is_int(index_lookup(ix, e0[1].type, e0[1].id, NULL), CAIRN_ENOTFOUND, "lookups miss");
	is_int(index_has_file(ix, f1), 0, "files are gone");
	memset(&fi, 0, sizeof(fi));
	ok(index_foreach_file(ix, collect_file, &fi) == 0 && fi.n == 0, "foreach visits nothing");
	is_int(index_find_prefix(ix, "1", &type, id), CAIRN_ENOTFOUND, "prefix search finds nothing");
	ok(index_add_pack(ix, p0, 5000, e0, 10) == 0 && index_lookup(ix, e0[0].type, e0[0].id, &loc) == 0,
	   "the cache is usable after clear");
	index_free(ix);
	index_free(NULL);

	/* A path that cannot be created. */
	snprintf(path, sizeof(path), "%s/no/such/folder/index.db", tmpdir);
	ix = NULL;
	is_int(index_open(path, &ix), CAIRN_EIO, "a path in a missing folder: CAIRN_EIO");

	snprintf(path, sizeof(path), "%s/prune.db", tmpdir);
	test_prune_support(path);

	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	ok(access(tmpdir, F_OK) != 0, "temporary folder removed");
	return tap_done();
}
