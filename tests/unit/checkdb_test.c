/*
 * checkdb_test.c - the checker's scratch database, in a temporary folder.
 */
#include "cairn/common.h"
#include "cairn/checkdb.h"

#include <dirent.h>
#include <unistd.h>

#include "tap.h"

static void fill_id(uint8_t id[32], uint8_t a, uint8_t b)
{
	for (int i = 0; i < 32; i++)
		id[i] = (uint8_t)(a * 7 + b * 13 + i);
	id[0] = a;
	id[1] = b;
}

static int count_cb(void *arg, const struct checkdb_pack *p)
{
	(void)p;
	(*(int *)arg)++;
	return 0;
}

struct dmg {
	int n;
	char paths[8][64];
	uint8_t first[32];
};

static int damage_cb(void *arg, const struct checkdb_damage *d)
{
	struct dmg *g = arg;
	if (g->n == 0)
		memcpy(g->first, d->id, 32);
	if (g->n < 8)
		snprintf(g->paths[g->n], sizeof(g->paths[0]), "%s@%llu", d->path,
			 (unsigned long long)d->off);
	g->n++;
	return 0;
}

static int problem_cb(void *arg, const struct checkdb_problem *p)
{
	int *n = arg;
	if (*n == 0 && (p->severity != 2 || strcmp(p->kind, "pack-missing") != 0))
		return -1;
	(*n)++;
	return 0;
}

static int dfile_cb(void *arg, const struct checkdb_dfile *f)
{
	char *out = arg;
	size_t l = strlen(out);
	snprintf(out + l, 256 - l, "%s%s:%d:%llu/%llu", l ? " " : "", f->path, f->is_dir,
		 (unsigned long long)f->intact, (unsigned long long)f->size);
	return 0;
}

int main(void)
{
	char dir[] = "/tmp/checkdb-test.XXXXXX";
	struct checkdb *db;
	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	ok(checkdb_open(dir, &db) == 0, "open");
	DIR *d = opendir(dir);
	int files = 0;
	for (struct dirent *de; d && (de = readdir(d));)
		files += de->d_name[0] != '.';
	if (d)
		closedir(d);
	is_int(files, 0, "the scratch file is unlinked at once");

	uint8_t p1[32], p2[32], p3[32], fid_id[32];
	fill_id(p1, 0xa1, 1);
	fill_id(p2, 0xa2, 2);
	fill_id(p3, 0xb3, 3);
	fill_id(fid_id, 0xf0, 0);
	struct pack_entry e[3];
	memset(e, 0, sizeof(e));
	for (int i = 0; i < 3; i++) {
		e[i].type = BLOB_DATA;
		fill_id(e[i].id, 0x10, (uint8_t)i);
		e[i].offset = (uint64_t)i * 100;
		e[i].length = 100;
		e[i].raw_length = 60;
	}
	int64_t fid;
	ok(checkdb_begin(db) == 0, "begin");
	ok(checkdb_pack_found(db, p1, 1000) == 0, "pack 1 found");
	ok(checkdb_pack_found(db, p3, 50) == 0, "pack 3 found (not indexed)");
	ok(checkdb_add_index_file(db, fid_id, &fid) == 0, "index file");
	ok(checkdb_add_index_pack(db, fid, p1, 1000, e, 3) == 0, "pack 1 indexed");
	/* blob 0 is in pack 2 as well; pack 2 is not in storage */
	ok(checkdb_add_index_pack(db, fid, p2, 300, e, 1) == 0, "pack 2 indexed");
	ok(checkdb_add_index_pack(db, fid, p1, 1000, e, 1) == 0, "listing an entry twice");
	ok(checkdb_commit(db) == 0, "commit");

	struct checkdb_pack pk;
	ok(checkdb_pack_get(db, p1, &pk) == 0 && pk.size == 1000 && pk.indexed_size == 1000 &&
		   pk.flags == (CHECKDB_PACK_FOUND | CHECKDB_PACK_INDEXED) && pk.n_index_files == 1,
	   "pack 1: found, indexed, sizes");
	ok(checkdb_pack_get(db, p2, &pk) == 0 && pk.flags == CHECKDB_PACK_INDEXED,
	   "pack 2: indexed only");
	uint8_t nope[32];
	fill_id(nope, 0x77, 7);
	is_int(checkdb_pack_get(db, nope, &pk), CAIRN_ENOTFOUND, "unknown pack");

	uint64_t blobs, dups;
	ok(checkdb_blob_counts(db, &blobs, &dups) == 0 && blobs == 3 && dups == 1,
	   "3 blobs, one of them in two packs");
	struct pack_entry *got;
	size_t n;
	ok(checkdb_pack_entries(db, pk.pid, &got, &n) == 0 && n == 1 &&
		   memcmp(got[0].id, e[0].id, 32) == 0,
	   "entries of pack 2");
	free(got);

	is_int(checkdb_blob_state(db, BLOB_DATA, e[1].id), CHECKDB_OK, "blob 1 usable");
	is_int(checkdb_blob_state(db, BLOB_TREE, e[1].id), CHECKDB_LOST_NOT_INDEXED,
	       "the same id as a tree is not indexed");
	ok(checkdb_mark_pack(db, pk.pid, CHECKDB_LOST_PACK_MISSING) == 0, "pack 2 missing");
	is_int(checkdb_blob_state(db, BLOB_DATA, e[0].id), CHECKDB_OK,
	       "blob 0 still usable in pack 1");
	struct checkdb_pack p1row;
	ok(checkdb_pack_get(db, p1, &p1row) == 0, "pack 1 row");
	uint64_t past;
	ok(checkdb_mark_past_end(db, p1row.pid, 200, &past) == 0 && past == 1,
	   "one entry past 200 bytes");
	is_int(checkdb_blob_state(db, BLOB_DATA, e[2].id), CHECKDB_LOST_PAST_END,
	       "blob 2 is past the end");
	ok(checkdb_mark_entry(db, p1row.pid, BLOB_DATA, e[0].id, CHECKDB_LOST_DAMAGED) == 0,
	   "blob 0 damaged in pack 1");
	is_int(checkdb_blob_state(db, BLOB_DATA, e[0].id), CHECKDB_LOST_PACK_MISSING,
	       "blob 0: the smallest reason");
	struct checkdb_loc locs[4];
	ok(checkdb_blob_locs(db, BLOB_DATA, e[1].id, locs, 4, &n) == 0 && n == 1 &&
		   locs[0].offset == 100 && locs[0].length == 100 && locs[0].raw_length == 60 &&
		   memcmp(locs[0].pack_id, p1, 32) == 0 && locs[0].reason == 0,
	   "location of blob 1");
	is_int(checkdb_blob_elsewhere(db, BLOB_DATA, e[1].id), 1, "blob 1 is in a stored pack");
	ok(checkdb_pack_set_flags(db, p1row.pid, CHECKDB_PACK_TARGET) == 0, "pack 1 a target");
	is_int(checkdb_blob_elsewhere(db, BLOB_DATA, e[1].id), 0,
	       "blob 1 is in no other stored pack");

	struct pack_entry h = e[0];
	h.type = BLOB_TREE;
	struct checkdb_pack p3row;
	ok(checkdb_pack_get(db, p3, &p3row) == 0 && checkdb_add_header(db, p3row.pid, &h, 1) == 0,
	   "header of the unindexed pack");
	uint8_t holder[32];
	ok(checkdb_blob_unindexed_pack(db, BLOB_TREE, h.id, holder) == 1 &&
		   memcmp(holder, p3, 32) == 0,
	   "an unindexed pack holds the tree");

	struct checkdb_pack found[4];
	ok(checkdb_pack_find_prefix(db, "a", found, 4, &n) == 0 && n == 2, "prefix a: two packs");
	ok(checkdb_pack_find_prefix(db, "b3", found, 4, &n) == 0 && n == 1 &&
		   memcmp(found[0].id, p3, 32) == 0,
	   "prefix b3: pack 3");
	ok(checkdb_select_random(db, 1) == 0, "select one pack at random");
	int sel = 0, all = 0;
	checkdb_packs_foreach(db, CHECKDB_PACK_SELECTED, count_cb, &sel);
	checkdb_packs_foreach(db, 0, count_cb, &all);
	ok(sel == 1 && all == 3, "one of three packs selected (%d, %d)", sel, all);

	struct checkdb_visit v = { .state = CHECKDB_LOST, .reason = 4, .files = 5, .bytes = 6 }, w;
	is_int(checkdb_visit_get(db, BLOB_TREE, p1, &w), 0, "not visited");
	ok(checkdb_visit_set(db, BLOB_TREE, p1, &v) == 0, "visit");
	ok(checkdb_visit_get(db, BLOB_TREE, p1, &w) == 1 && w.state == CHECKDB_LOST &&
		   w.reason == 4 && w.files == 5 && w.bytes == 6,
	   "visited, with its state");
	v.state = CHECKDB_CLEAN;
	ok(checkdb_visit_set(db, BLOB_TREE, p1, &v) == 0 &&
		   checkdb_visit_get(db, BLOB_TREE, p1, &w) == 1 && w.state == CHECKDB_CLEAN,
	   "visit again replaces");

	ok(checkdb_problem_add(db, 2, "pack-missing", "data/a2/x", "gone") == 0 &&
		   checkdb_problem_add(db, 1, "pack-unindexed", "data/b3/y", "left over") == 0,
	   "problems");
	int np = 0;
	ok(checkdb_problems_foreach(db, problem_cb, &np) == 0 && np == 2, "problems in order");

	ok(checkdb_damage_add(db, BLOB_DATA, e[2].id, 2, 1, "/b", 7) == 0 &&
		   checkdb_damage_add(db, BLOB_DATA, e[2].id, 2, 0, "/a", 9) == 0 &&
		   checkdb_damage_add(db, BLOB_DATA, e[2].id, 2, 0, "/a", 20) == 0 &&
		   checkdb_damage_add(db, BLOB_DATA, e[0].id, 1, 0, "/new\nline", 0) == 0,
	   "damage");
	struct dmg g = { 0 };
	ok(checkdb_damage_foreach(db, damage_cb, &g) == 0 && g.n == 3,
	   "one row per blob, snapshot and path");
	ok(memcmp(g.first, e[0].id, 32) == 0 && strcmp(g.paths[0], "/new\nline@0") == 0 &&
		   strcmp(g.paths[1], "/a@9") == 0 && strcmp(g.paths[2], "/b@7") == 0,
	   "ordered by blob then snapshot; the first offset kept");

	char out[256] = "";
	ok(checkdb_dfile_add(db, 3, "/z", 0, 100, 40) == 0 &&
		   checkdb_dfile_add(db, 3, "/m", 1, 0, 0) == 0 &&
		   checkdb_dfile_add(db, 4, "/other", 0, 1, 0) == 0,
	   "damaged files");
	ok(checkdb_dfiles_foreach(db, 3, dfile_cb, out) == 0 &&
		   strcmp(out, "/m:1:0/0 /z:0:40/100") == 0,
	   "damaged files of one snapshot, by path (%s)", out);
	is_int(strcmp(checkdb_reason_text(CHECKDB_LOST_PACK_MISSING), "its pack is missing"), 0,
	       "reason text");
	checkdb_free(db);
	checkdb_free(NULL);
	rmdir(dir);
	return tap_done();
}
