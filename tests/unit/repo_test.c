/*
 * repo_test.c - creating and opening repositories, the saver (from two
 * threads), blob loads, the index cache's rebuild and sync, and damage
 * detection. Everything lives in a temporary folder.
 */
#include "cairn/common.h"
#include "cairn/compress.h"
#include "cairn/indexfile.h"
#include "cairn/repo.h"
#include "cairn/saver.h"

#include <ftw.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"

#define NBLOBS 2000
#define NSHARED 100	/* blobs 0..NSHARED-1 are saved by both threads */

static char tmpdir[4096], repo_path[4200], cache_path[4200];

struct blob {
	unsigned type;
	uint8_t id[32];
	uint8_t *data;
	size_t len;
};
static struct blob blobs[NBLOBS];

/* nftw callback: removes everything below the temporary folder. */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int open_repo(const char *pass, struct repo **r)
{
	struct repo_open_opts o = { .location = repo_path, .password = pass,
				    .password_len = strlen(pass) };
	return repo_open(&o, r);
}

/* Unique blobs: the index is written into the first 8 bytes; half are
 * random (incompressible), half repetitive (compressible); a few empty. */
static void make_blobs(struct repo *r)
{
	for (int i = 0; i < NBLOBS; i++) {
		struct blob *b = &blobs[i];
		b->type = i % 10 == 0 ? BLOB_TREE : i % 10 == 1 ? BLOB_LIST : BLOB_DATA;
		b->len = i < 3 ? 0 : 8 + crypto_random_uniform(16384);
		b->data = malloc(b->len + 1);
		if (!b->data)
			abort();
		if (i % 2) {
			crypto_random(b->data, b->len);
		} else {
			for (size_t k = 0; k < b->len; k++)
				b->data[k] = (uint8_t)("cairn blob "[k % 11] + (k / 700) % 3);
		}
		if (b->len)
			put_u64le(b->data, (uint64_t)i);
		repo_blob_id(r, b->data, b->len, b->id);
	}
}

struct worker {
	struct saver *s;
	int from, to;		/* blobs [from, to) */
	int added;		/* ret_added == 1 */
	int errors;
};

static void *save_worker(void *arg)
{
	struct worker *w = arg;
	struct saver_ctx *c = saver_ctx_new(w->s);
	if (!c) {
		w->errors++;
		return NULL;
	}
	/* The shared blobs first, so both threads race on them. */
	for (int i = 0; i < NSHARED; i++) {
		int added = 0;
		if (saver_save(w->s, c, blobs[i].type, blobs[i].data, blobs[i].len, blobs[i].id,
			       &added) != 0)
			w->errors++;
		w->added += added;
	}
	for (int i = w->from; i < w->to; i++) {
		int added = 0;
		if (i < NSHARED)
			continue;
		if (saver_save(w->s, c, blobs[i].type, blobs[i].data, blobs[i].len, blobs[i].id,
			       &added) != 0)
			w->errors++;
		w->added += added;
	}
	saver_ctx_free(c);
	return NULL;
}

/* Loads every blob; returns how many came back equal. */
static int load_all(struct repo *r)
{
	struct decompressor *d = decompressor_new();
	struct buf out = BUF_INIT;
	int good = 0;
	for (int i = 0; i < NBLOBS; i++) {
		if (repo_blob_load(r, d, blobs[i].type, blobs[i].id, &out) == 0 &&
		    out.len == blobs[i].len && memcmp(out.data, blobs[i].data, out.len) == 0)
			good++;
	}
	buf_free(&out);
	decompressor_free(d);
	return good;
}

static void test_init_open(void)
{
	struct repo_init_opts io = { .location = repo_path, .password = "secret",
				     .password_len = 6, .compression = -1 };
	ok(repo_init(&io) == 0, "repo_init");
	is_int(repo_init(&io), CAIRN_EEXIST, "init twice: CAIRN_EEXIST");

	struct repo *r = NULL;
	is_int(open_repo("wrong", &r), CAIRN_EPASSWORD, "wrong password: CAIRN_EPASSWORD");
	ok(r == NULL, "nothing returned");
	char missing[4300];
	snprintf(missing, sizeof(missing), "%s/missing", tmpdir);
	struct repo_open_opts mo = { .location = missing, .password = "secret", .password_len = 6 };
	is_int(repo_open(&mo, &r), CAIRN_ENOREPO, "missing location: CAIRN_ENOREPO");
	snprintf(missing, sizeof(missing), "%s/empty", tmpdir);
	mkdir(missing, 0700);
	is_int(repo_open(&mo, &r), CAIRN_ENOREPO, "a folder without config: CAIRN_ENOREPO");

	ok(open_repo("secret", &r) == 0 && r, "open with the password");
	if (!r)
		return;
	const struct repo_config *cfg = repo_config(r);
	ok(cfg->version == REPO_FORMAT_VERSION && cfg->chunker.min == REPO_DEFAULT_CHUNK_MIN &&
		   cfg->chunker.avg == REPO_DEFAULT_CHUNK_AVG &&
		   cfg->chunker.max == REPO_DEFAULT_CHUNK_MAX &&
		   cfg->compression == REPO_DEFAULT_COMPRESSION &&
		   cfg->pack_size == REPO_DEFAULT_PACK_SIZE,
	   "config has the defaults");
	ok(repo_chunker(r) != NULL && repo_index(r) != NULL && repo_backend(r) != NULL,
	   "chunker, index and backend are set up");
	struct stat st;
	const char *cp = repo_cache_path(r);
	ok(cp && strncmp(cp, cache_path, strlen(cache_path)) == 0,
	   "the cache is under CAIRN_CACHE_DIR (%s)", cp ? cp : "(null)");
	ok(cp && stat(cp, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700,
	   "the cache folder is 0700");
	repo_free(r);
	repo_free(NULL);

	/* Options: invalid chunker parameters or compression are refused. */
	char other[4300];
	snprintf(other, sizeof(other), "%s/other", tmpdir);
	struct repo_init_opts bad = { .location = other, .password = "x", .password_len = 1,
				      .compression = -1,
				      .chunker = { .min = 4096, .avg = 3000, .max = 8192 } };
	is_int(repo_init(&bad), CAIRN_EINVAL, "init with bad chunker parameters: CAIRN_EINVAL");
	bad.chunker.avg = 0;
	bad.chunker.min = 0;
	bad.chunker.max = 0;
	bad.compression = 20;
	is_int(repo_init(&bad), CAIRN_EINVAL, "init with compression 20: CAIRN_EINVAL");
}

static void test_files(struct repo *r)
{
	uint8_t id[32], id2[32];
	struct buf out = BUF_INIT;
	ok(repo_file_save(r, REPO_FILE_SNAPSHOT, "snapshot body", 13, id) == 0, "save a snapshot file");
	uint8_t want[32];
	crypto_keyed_hash(repo_keys(r)->id, "snapshot body", 13, want);
	ok(memcmp(id, want, 32) == 0, "a snapshot's id is the keyed hash of its plaintext");
	ok(repo_file_load(r, REPO_FILE_SNAPSHOT, id, &out) == 0 && out.len == 13 &&
		   memcmp(out.data, "snapshot body", 13) == 0,
	   "load it back");
	char hex[65];
	hex_encode(id, 32, hex);
	hex[8] = 0;
	ok(repo_file_find(r, REPO_FILE_SNAPSHOT, hex, id2) == 0 && memcmp(id, id2, 32) == 0,
	   "find it by an 8-digit prefix");
	is_int(repo_file_find(r, REPO_FILE_SNAPSHOT, "zz", id2), CAIRN_ENOTFOUND,
	       "an unknown prefix: CAIRN_ENOTFOUND");
	id2[0] = (uint8_t)(id[0] ^ 1);
	memcpy(id2 + 1, id + 1, 31);
	is_int(repo_file_load(r, REPO_FILE_SNAPSHOT, id2, &out), CAIRN_ENOTFOUND,
	       "load of a missing file: CAIRN_ENOTFOUND");
	buf_free(&out);
}

struct id_list {
	uint8_t ids[256][32];
	int n;
};

static int collect_id(void *arg, const uint8_t id[32])
{
	struct id_list *l = arg;
	if (l->n < 256)
		memcpy(l->ids[l->n++], id, 32);
	return 0;
}

struct covered {
	int n;
	struct pack_entry first;
};

static int count_entries(void *arg, const uint8_t pack_id[32], uint64_t size,
			 const struct pack_entry *e, size_t n)
{
	struct covered *c = arg;
	(void)pack_id;
	(void)size;
	if (c->n == 0 && n)
		c->first = e[0];
	c->n += (int)n;
	return 0;
}

/* Flips one byte of a stored object on disk. */
static int flip_byte(const char *name, uint64_t off)
{
	char p[8400];
	snprintf(p, sizeof(p), "%s/%s", repo_path, name);
	FILE *f = fopen(p, "r+b");
	if (!f)
		return -1;
	int c;
	if (fseek(f, (long)off, SEEK_SET) != 0 || (c = fgetc(f)) == EOF ||
	    fseek(f, (long)off, SEEK_SET) != 0 || fputc(c ^ 0x01, f) == EOF) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

static void test_saver(void)
{
	struct repo *r = NULL;
	if (open_repo("secret", &r) != 0) {
		ok(0, "open for the saver test");
		return;
	}
	test_files(r);
	make_blobs(r);

	struct saver *s = NULL;
	struct saver_opts so = { .pack_size = 1u << 20, .compression = -1,
				 .index_every_blobs = 600 };
	ok(saver_new(r, &so, &s) == 0, "saver_new (1 MiB packs, an index file every 600 blobs)");
	struct worker w[2] = {
		{ .s = s, .from = 0, .to = NBLOBS / 2 + 50 },
		{ .s = s, .from = NBLOBS / 2 + 50, .to = NBLOBS },
	};
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, save_worker, &w[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	is_int(w[0].errors + w[1].errors, 0, "2 threads saved %d blobs without errors", NBLOBS);
	is_int(w[0].added + w[1].added, NBLOBS,
	       "%d shared blobs saved by both threads are added once", NSHARED);
	ok(saver_flush(s) == 0, "flush");

	struct saver_stats st;
	saver_get_stats(s, &st);
	uint64_t raw = 0, by_type[4] = { 0 };
	for (int i = 0; i < NBLOBS; i++) {
		raw += blobs[i].len;
		by_type[blobs[i].type]++;
	}
	ok(st.blobs_added[BLOB_DATA] == by_type[BLOB_DATA] &&
		   st.blobs_added[BLOB_TREE] == by_type[BLOB_TREE] &&
		   st.blobs_added[BLOB_LIST] == by_type[BLOB_LIST],
	   "stats count each blob once by type (%llu data, %llu tree, %llu list)",
	   (unsigned long long)st.blobs_added[BLOB_DATA],
	   (unsigned long long)st.blobs_added[BLOB_TREE],
	   (unsigned long long)st.blobs_added[BLOB_LIST]);
	ok(st.raw_bytes_added == raw, "raw bytes added = sum of the unique blobs (%llu)",
	   (unsigned long long)raw);
	ok(st.packs_added >= 3 && st.bytes_added < raw, "%llu packs, %llu bytes stored (compressed)",
	   (unsigned long long)st.packs_added, (unsigned long long)st.bytes_added);
	ok(st.index_files_added >= 2, "%llu index files written",
	   (unsigned long long)st.index_files_added);

	uint64_t nb = 0, np = 0;
	ok(index_counts(repo_index(r), &nb, &np) == 0 && nb == NBLOBS && np == st.packs_added,
	   "the cache holds every blob and pack (%llu, %llu)", (unsigned long long)nb,
	   (unsigned long long)np);
	is_int(load_all(r), NBLOBS, "every blob loads back to its content");

	/* Saving again: nothing is added. */
	struct saver_ctx *c = saver_ctx_new(s);
	int added = 1, again = 0;
	for (int i = 0; i < NBLOBS; i += 7) {
		saver_save(s, c, blobs[i].type, blobs[i].data, blobs[i].len, blobs[i].id, &added);
		again += added;
	}
	is_int(again, 0, "blobs already stored are not added again");
	uint8_t id[32];
	ok(saver_save_blob(s, c, BLOB_TREE, "fresh tree", 10, id) == 0 && saver_flush(s) == 0,
	   "saver_save_blob of a new blob and flush");
	struct buf out = BUF_INIT;
	struct decompressor *d = decompressor_new();
	ok(repo_blob_load(r, d, BLOB_TREE, id, &out) == 0 && out.len == 10 &&
		   memcmp(out.data, "fresh tree", 10) == 0,
	   "it loads by the id saver_save_blob returned");
	is_int(repo_blob_load(r, d, BLOB_DATA, id, &out), CAIRN_ENOTFOUND,
	       "the same id as another type: CAIRN_ENOTFOUND");
	saver_ctx_free(c);
	saver_free(s);
	repo_free(r);

	/* Rebuild: delete the cache's database, reopen. */
	char db[8400];
	const char *sfx[] = { "", "-wal", "-shm" };
	r = NULL;
	ok(open_repo("secret", &r) == 0, "reopen");
	const char *rc = repo_cache_path(r);
	char rcache[4300];
	snprintf(rcache, sizeof(rcache), "%s", rc);
	repo_free(r);
	int removed = 0;
	for (int i = 0; i < 3; i++) {
		snprintf(db, sizeof(db), "%s/index.db%s", rcache, sfx[i]);
		removed += unlink(db) == 0;
	}
	ok(removed >= 1, "deleted the cache's index.db");
	r = NULL;
	ok(open_repo("secret", &r) == 0, "reopen without a cache rebuilds it");
	ok(index_counts(repo_index(r), &nb, &np) == 0 && nb == NBLOBS + 1,
	   "the rebuilt cache holds every blob (%llu)", (unsigned long long)nb);
	is_int(load_all(r), NBLOBS, "every blob still loads");

	/* A damaged byte inside a blob: that blob fails, its neighbours load. */
	struct index_loc loc;
	int victim = 1234;
	char pname[96];
	ok(index_lookup(repo_index(r), blobs[victim].type, blobs[victim].id, &loc) == 0,
	   "look up the blob to damage");
	pack_name(loc.pack_id, pname, sizeof(pname));
	ok(flip_byte(pname, loc.offset + loc.length / 2) == 0, "flip a byte in its sealed bytes");
	is_int(repo_blob_load(r, d, blobs[victim].type, blobs[victim].id, &out), CAIRN_ECORRUPT,
	       "loading it: CAIRN_ECORRUPT");
	is_int(load_all(r), NBLOBS - 1, "every other blob still loads");
	ok(flip_byte(pname, loc.offset + loc.length / 2) == 0 &&
		   repo_blob_load(r, d, blobs[victim].type, blobs[victim].id, &out) == 0,
	   "flipped back, it loads again");

	/* Sync after an index file is deleted: the cache is rebuilt without it. */
	struct id_list files = { .n = 0 };
	ok(repo_file_list(r, REPO_FILE_INDEX, collect_id, &files) == 0 && files.n >= 3,
	   "%d index files in the repository", files.n);
	/* The largest one (the smallest holds only the "fresh tree" blob). */
	struct buf plain = BUF_INIT;
	struct covered cov = { 0 };
	int pick = -1, decoded = 0;
	for (int i = 0; i < files.n; i++) {
		struct covered cv = { 0 };
		if (repo_file_load(r, REPO_FILE_INDEX, files.ids[i], &plain) == 0 &&
		    indexfile_decode(plain.data, plain.len, count_entries, &cv) == 0)
			decoded++;
		if (cv.n > cov.n) {
			cov = cv;
			pick = i;
		}
	}
	ok(decoded == files.n && pick >= 0 && cov.n > 1,
	   "every index file decodes; the largest lists %d blobs", cov.n);
	if (pick < 0)
		pick = 0;
	char iname[96];
	repo_file_name(REPO_FILE_INDEX, files.ids[pick], iname, sizeof(iname));
	ok(backend_del(repo_backend(r), iname) == 0, "delete %s", iname);
	ok(index_lookup(repo_index(r), cov.first.type, cov.first.id, NULL) == 0,
	   "before sync, its blobs are still cached");
	ok(repo_index_sync(r) == 0, "repo_index_sync");
	ok(index_counts(repo_index(r), &nb, &np) == 0 && nb == (uint64_t)(NBLOBS + 1 - cov.n),
	   "the cache was rebuilt without its blobs (%llu left)", (unsigned long long)nb);
	is_int(index_lookup(repo_index(r), cov.first.type, cov.first.id, NULL), CAIRN_ENOTFOUND,
	       "a blob it listed is no longer found");
	int recorded = 0;
	for (int i = 0; i < files.n; i++)
		recorded += index_has_file(repo_index(r), files.ids[i]) == 1;
	is_int(index_has_file(repo_index(r), files.ids[pick]), 0, "the deleted file is not recorded");
	is_int(recorded, files.n - 1, "the others are");
	is_int(load_all(r), NBLOBS - cov.n, "the other blobs still load");
	buf_free(&plain);
	buf_free(&out);
	decompressor_free(d);
	repo_free(r);
}

/* An upload failure is reported by flush and by every later save. */
static void test_saver_failure(void)
{
	struct repo *r = NULL;
	setenv("CAIRN_TEST_FAULTS", "fail_put=data/", 1);
	int e = open_repo("secret", &r);
	unsetenv("CAIRN_TEST_FAULTS");
	ok(e == 0, "open with fail_put=data/");
	if (e)
		return;
	struct saver *s = NULL;
	ok(saver_new(r, NULL, &s) == 0, "saver_new with default options");
	struct saver_ctx *c = saver_ctx_new(s);
	uint8_t id[32];
	ok(saver_save_blob(s, c, BLOB_DATA, "will not be stored", 18, id) == 0,
	   "save is accepted (the pack is stored later)");
	is_int(saver_flush(s), CAIRN_EIO, "flush reports the failed upload");
	is_int(saver_save_blob(s, c, BLOB_DATA, "another", 7, id), CAIRN_EIO,
	       "a later save reports it too");
	saver_ctx_free(c);
	saver_free(s);
	repo_free(r);
}

int main(void)
{
	if (crypto_init() != 0)
		return 1;
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/cairn-repo-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(repo_path, sizeof(repo_path), "%s/repo", tmpdir);
	snprintf(cache_path, sizeof(cache_path), "%s/cache", tmpdir);
	setenv("CAIRN_CACHE_DIR", cache_path, 1);

	test_init_open();
	test_saver();
	test_saver_failure();

	for (int i = 0; i < NBLOBS; i++)
		free(blobs[i].data);
	nftw(tmpdir, rm_entry, 64, FTW_DEPTH | FTW_PHYS);
	ok(access(tmpdir, F_OK) != 0, "temporary folder removed");
	return tap_done();
}
