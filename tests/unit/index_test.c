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

	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	ok(access(tmpdir, F_OK) != 0, "temporary folder removed");
	return tap_done();
}
