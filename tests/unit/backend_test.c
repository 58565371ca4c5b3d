/*
 * backend_test.c - the local-directory backend and the fault-injecting
 * wrapper, in a temporary folder.
 */
#include "cairn/common.h"
#include "cairn/backend.h"
#include "cairn/crypto.h"

#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
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

static void make_tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/cairn-backend-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		exit(1);
	}
}

static void remove_tmpdir(void)
{
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Counts files whose name contains ".tmp-" below dir. */
static int count_tmp_files(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char p[8192];
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			n += count_tmp_files(p);
		else if (strstr(de->d_name, ".tmp-"))
			n++;
	}
	closedir(d);
	return n;
}

struct listing {
	char names[16][128];
	uint64_t sizes[16];
	int n;
	int stop_after;	/* 0: never */
};

static int list_cb(void *arg, const char *name, uint64_t size)
{
	struct listing *l = arg;
	if (l->n < 16) {
		snprintf(l->names[l->n], sizeof(l->names[0]), "%s", name);
		l->sizes[l->n] = size;
	}
	l->n++;
	if (l->stop_after && l->n >= l->stop_after)
		return 42;
	return 0;
}

/* Size listed for name, or -1 when absent. */
static long long listed(const struct listing *l, const char *name)
{
	for (int i = 0; i < l->n && i < 16; i++)
		if (strcmp(l->names[i], name) == 0)
			return (long long)l->sizes[i];
	return -1;
}

static void test_open(void)
{
	char path[4200];
	struct backend *b = NULL;
	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	is_int(backend_open(path, 0, &b), CAIRN_ENOREPO, "open of a missing folder: CAIRN_ENOREPO");
	is_int(backend_local_open(path, 0, &b), CAIRN_ENOREPO,
	       "backend_local_open of a missing folder: CAIRN_ENOREPO");
	ok(access(path, F_OK) != 0, "and nothing was created");

	snprintf(path, sizeof(path), "local:%s/new/deeper/repo", tmpdir);
	ok(backend_open(path, 1, &b) == 0 && b != NULL, "open with create makes nested folders");
	ok(b && strcmp(b->ops->name, "local") == 0 && (b->ops->features & BACKEND_F_LOCAL),
	   "it is the local backend with BACKEND_F_LOCAL");
	ok(b && strstr(b->location, "local:") == NULL, "location is the path without the scheme");
	backend_free(b);
	snprintf(path, sizeof(path), "%s/new/deeper/repo", tmpdir);
	struct stat st;
	ok(stat(path, &st) == 0 && S_ISDIR(st.st_mode), "the folder exists");
	b = NULL;
	ok(backend_open(path, 0, &b) == 0, "reopen without create");
	backend_free(b);

	snprintf(path, sizeof(path), "%s/a-file", tmpdir);
	FILE *f = fopen(path, "w");
	if (f)
		fclose(f);
	is_int(backend_open(path, 0, &b), CAIRN_ENOREPO, "a regular file is not a repository");
	is_int(backend_open("s3:bucket/x", 0, &b), CAIRN_EINVAL, "s3: is rejected (unsupported)");
	is_int(backend_open("https://example.com/x", 0, &b), CAIRN_EINVAL, "URLs are rejected");
	is_int(backend_open("", 0, &b), CAIRN_EINVAL, "empty location is rejected");
	is_int(backend_open("local:", 0, &b), CAIRN_EINVAL, "empty local: location is rejected");
	backend_free(NULL);
}

static void test_objects(struct backend *b, const char *root)
{
	struct buf out = BUF_INIT;
	uint8_t data[1000];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 31 + 7);

	ok(backend_put(b, "config", data, sizeof(data)) == 0, "put config");
	ok(backend_get(b, "config", 0, 0, &out) == 0 && out.len == sizeof(data) &&
		   memcmp(out.data, data, sizeof(data)) == 0,
	   "get whole object");
	buf_reset(&out);
	ok(backend_get(b, "config", 100, 50, &out) == 0 && out.len == 50 &&
		   memcmp(out.data, data + 100, 50) == 0,
	   "get a range");
	ok(backend_get(b, "config", 990, 0, &out) == 0 && out.len == 60 &&
		   memcmp(out.data + 50, data + 990, 10) == 0,
	   "get from an offset to the end appends to out");
	buf_reset(&out);
	ok(backend_get(b, "config", 1000, 0, &out) == 0 && out.len == 0,
	   "get at the end with len 0: empty");
	ok(backend_get(b, "config", 999, 1, &out) == 0 && out.len == 1 && out.data[0] == data[999],
	   "get of the last byte");
	buf_reset(&out);
	ok(backend_get(b, "config", 990, 20, &out) < 0, "get of a range past the end fails");
	ok(backend_get(b, "config", 1001, 0, &out) < 0, "get from past the end fails");
	ok(backend_get(b, "config", 5000, 10, &out) < 0, "get far past the end fails");
	is_int(out.len, 0, "failed gets append nothing");

	is_int(backend_get(b, "nothing-here", 0, 0, &out), CAIRN_ENOTFOUND,
	       "get of a missing object: CAIRN_ENOTFOUND");
	is_int(backend_get(b, "data/zz/nothing", 0, 10, &out), CAIRN_ENOTFOUND,
	       "get of a missing object in a missing folder: CAIRN_ENOTFOUND");

	uint64_t size = 0;
	ok(backend_stat(b, "config", &size) == 0 && size == sizeof(data), "stat gives the size");
	ok(backend_stat(b, "config", NULL) == 0, "stat with NULL size");
	is_int(backend_stat(b, "nope", &size), CAIRN_ENOTFOUND, "stat of a missing object");

	ok(backend_put(b, "empty", "", 0) == 0 && backend_stat(b, "empty", &size) == 0 && size == 0,
	   "an empty object");

	/* Folders, listing by prefix. */
	ok(backend_put(b, "data/ab/ab01", data, 10) == 0, "put data/ab/ab01 (creates folders)");
	ok(backend_put(b, "data/ab/ab02", data, 20) == 0, "put data/ab/ab02");
	ok(backend_put(b, "data/cd/cd03", data, 30) == 0, "put data/cd/cd03");
	ok(backend_put(b, "index/ix1", data, 40) == 0, "put index/ix1");
	struct stat st;
	char p[8192];
	snprintf(p, sizeof(p), "%s/data/ab", root);
	ok(stat(p, &st) == 0 && (st.st_mode & 0777) == 0700, "new folders are 0700");
	snprintf(p, sizeof(p), "%s/data/ab/ab01", root);
	ok(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600, "objects are 0600");

	/* A leftover temporary file is ignored by list. */
	snprintf(p, sizeof(p), "%s/data/cd/cd04.tmp-0123456789abcdef", root);
	FILE *f = fopen(p, "w");
	if (f) {
		fputs("partial", f);
		fclose(f);
	}
	struct listing l;
	memset(&l, 0, sizeof(l));
	ok(backend_list(b, "data/", list_cb, &l) == 0, "list data/");
	ok(l.n == 3 && listed(&l, "data/ab/ab01") == 10 && listed(&l, "data/ab/ab02") == 20 &&
		   listed(&l, "data/cd/cd03") == 30,
	   "list finds the 3 data objects with names and sizes, not the temp file (%d)", l.n);
	memset(&l, 0, sizeof(l));
	ok(backend_list(b, "index/", list_cb, &l) == 0 && l.n == 1 &&
		   listed(&l, "index/ix1") == 40,
	   "list index/ finds only index objects");
	memset(&l, 0, sizeof(l));
	ok(backend_list(b, "snapshots/", list_cb, &l) == 0 && l.n == 0,
	   "list of a missing folder: nothing, no error");
	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	is_int(backend_list(b, "data/", list_cb, &l), 42,
	       "a callback's non-zero return stops the listing and is returned");
	is_int(l.n, 1, "no more calls after the stop");
	unlink(p);

	/* Delete. */
	ok(backend_del(b, "data/ab/ab01") == 0, "del an object");
	is_int(backend_get(b, "data/ab/ab01", 0, 0, &out), CAIRN_ENOTFOUND, "deleted: get fails");
	is_int(backend_del(b, "data/ab/ab01"), CAIRN_ENOTFOUND, "del again: CAIRN_ENOTFOUND");
	memset(&l, 0, sizeof(l));
	backend_list(b, "data/", list_cb, &l);
	is_int(l.n, 2, "list no longer shows it");

	/* Delete many: across folders, a missing name is not an error. */
	ok(backend_put(b, "data/c1/c101", "x", 1) == 0 && backend_put(b, "data/c1/c102", "y", 1) == 0 &&
		   backend_put(b, "data/c2/c201", "z", 1) == 0,
	   "three objects in two folders");
	const char *const many[] = { "data/c1/c101", "data/c1/missing", "data/c2/c201", "data/c1/c102" };
	is_int(backend_del_many(b, many, 4), 0, "del_many of 4 names (one missing)");
	ok(backend_stat(b, "data/c1/c101", NULL) == CAIRN_ENOTFOUND &&
		   backend_stat(b, "data/c1/c102", NULL) == CAIRN_ENOTFOUND &&
		   backend_stat(b, "data/c2/c201", NULL) == CAIRN_ENOTFOUND,
	   "del_many removed all three");
	memset(&l, 0, sizeof(l));
	backend_list(b, "data/", list_cb, &l);
	is_int(l.n, 2, "and nothing else");
	is_int(backend_del_many(b, many, 0), 0, "del_many of nothing");
	ok(backend_put(b, "data/c3/c301", "x", 1) == 0 &&
		   backend_del_many_flags(b, (const char *const[]){ "data/c3/c301" }, 1,
					  BACKEND_DEL_LAZY) == 0 &&
		   backend_stat(b, "data/c3/c301", NULL) == CAIRN_ENOTFOUND,
	   "lazy del_many deletes too");

	/* Overwrite. */
	ok(backend_put(b, "config", "new content", 11) == 0, "overwrite config");
	buf_reset(&out);
	ok(backend_get(b, "config", 0, 0, &out) == 0 && out.len == 11 &&
		   memcmp(out.data, "new content", 11) == 0,
	   "overwritten object has exactly the new content");
	is_int(count_tmp_files(root), 0, "no temporary files left behind");
	buf_free(&out);
}

/* An object stored from many pieces (more than one writev batch, some
 * empty) reads back as their concatenation. */
static void test_putv(struct backend *b)
{
	enum { NPIECES = 150 };
	struct iovec iov[NPIECES];
	struct buf want = BUF_INIT, out = BUF_INIT;
	uint8_t *store = malloc(NPIECES * 700);
	if (!store)
		abort();
	size_t off = 0;
	for (int i = 0; i < NPIECES; i++) {
		size_t len = i % 7 == 3 ? 0 : (size_t)(i * 37 % 700);
		for (size_t k = 0; k < len; k++)
			store[off + k] = (uint8_t)(i + k);
		iov[i].iov_base = store + off;
		iov[i].iov_len = len;
		buf_put(&want, store + off, len);
		off += len;
	}
	is_int(backend_iov_len(iov, NPIECES), want.len, "backend_iov_len sums the pieces");
	ok(backend_putv(b, "data/ee/pieces", iov, NPIECES) == 0, "putv of %d pieces", NPIECES);
	ok(backend_get(b, "data/ee/pieces", 0, 0, &out) == 0 && out.len == want.len &&
		   memcmp(out.data, want.data, want.len) == 0,
	   "reads back as the concatenation (%zu bytes)", want.len);
	ok(backend_putv(b, "data/ee/none", iov, 0) == 0 &&
		   backend_stat(b, "data/ee/none", NULL) == 0,
	   "putv of no pieces stores an empty object");
	backend_del(b, "data/ee/pieces");
	backend_del(b, "data/ee/none");
	free(store);
	buf_free(&want);
	buf_free(&out);
}

struct race {
	struct backend *b;
	size_t len;
	volatile int stop;
	int torn;
	int reads;
};

/* Reads the object over and over: it must always be complete. */
static void *race_reader(void *arg)
{
	struct race *r = arg;
	struct buf out = BUF_INIT;
	while (!r->stop) {
		buf_reset(&out);
		int e = backend_get(r->b, "race", 0, 0, &out);
		if (e < 0 || out.len != r->len) {
			r->torn++;
			continue;
		}
		for (size_t i = 1; i < out.len; i++)
			if (out.data[i] != out.data[0]) {
				r->torn++;
				break;
			}
		r->reads++;
	}
	buf_free(&out);
	return NULL;
}

static void test_atomic_overwrite(struct backend *b, const char *root)
{
	struct race r = { .b = b, .len = 256 << 10 };
	uint8_t *a = malloc(r.len), *z = malloc(r.len);
	if (!a || !z)
		abort();
	memset(a, 'a', r.len);
	memset(z, 'z', r.len);
	ok(backend_put(b, "race", a, r.len) == 0, "put the object raced on");
	pthread_t t;
	pthread_create(&t, NULL, race_reader, &r);
	int put_fail = 0;
	for (int i = 0; i < 40; i++)
		put_fail += backend_put(b, "race", i % 2 ? a : z, r.len) != 0;
	r.stop = 1;
	pthread_join(t, NULL);
	is_int(put_fail, 0, "40 overwrites succeed");
	ok(r.reads > 0, "the reader read concurrently (%d reads)", r.reads);
	is_int(r.torn, 0, "a concurrent reader never sees a partial or mixed object");
	is_int(count_tmp_files(root), 0, "no temporary files left behind");
	free(a);
	free(z);
}

struct packread {
	struct backend *b;
	int bad, reads;
	unsigned seed;
};

/* Reads ranges of 40 packs in a pseudo-random order: more packs than the
 * local backend keeps open, so descriptors are evicted while other threads
 * read through them. */
static void *pack_reader(void *arg)
{
	struct packread *pr = arg;
	struct buf out = BUF_INIT;
	for (int i = 0; i < 3000; i++) {
		pr->seed = pr->seed * 1103515245u + 12345u;
		unsigned k = (pr->seed >> 16) % 40, off = (pr->seed >> 8) % 1000;
		char name[64];
		snprintf(name, sizeof(name), "data/%02u/pack%02u", k, k);
		buf_reset(&out);
		if (backend_get(pr->b, name, off, 24, &out) < 0 || out.len != 24) {
			pr->bad++;
			continue;
		}
		for (size_t j = 0; j < out.len; j++)
			if (out.data[j] != (uint8_t)(k * 7 + off + j)) {
				pr->bad++;
				break;
			}
		pr->reads++;
	}
	buf_free(&out);
	return NULL;
}

/* Open descriptors of this process. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	int n = 0;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Pack descriptors stay open between gets: contents stay right across
 * eviction, deletion and re-creation of a pack, and none leaks. */
static void test_pack_fds(const char *root)
{
	int fds_before = count_fds();
	struct backend *b = NULL;
	if (backend_local_open(root, 0, &b) != 0) {
		ok(0, "open the backend for the pack fd test");
		return;
	}
	uint8_t data[1024];
	int put_fail = 0;
	for (unsigned k = 0; k < 40; k++) {
		char name[64];
		snprintf(name, sizeof(name), "data/%02u/pack%02u", k, k);
		for (size_t j = 0; j < sizeof(data); j++)
			data[j] = (uint8_t)(k * 7 + j);
		put_fail += backend_put(b, name, data, sizeof(data)) != 0;
	}
	is_int(put_fail, 0, "put 40 packs");
	struct packread pr[3] = { { b, 0, 0, 1 }, { b, 0, 0, 2 }, { b, 0, 0, 3 } };
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, pack_reader, &pr[i]);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	ok(pr[0].bad + pr[1].bad + pr[2].bad == 0 && pr[0].reads + pr[1].reads + pr[2].reads == 9000,
	   "3 threads read 9000 ranges of 40 packs, all right");

	struct buf out = BUF_INIT;
	ok(backend_get(b, "data/01/pack01", 0, 4, &out) == 0, "read a pack (its fd is cached)");
	ok(backend_del(b, "data/01/pack01") == 0, "delete it");
	buf_reset(&out);
	is_int(backend_get(b, "data/01/pack01", 0, 4, &out), CAIRN_ENOTFOUND,
	       "a deleted pack is not read through the cached fd");
	ok(backend_put(b, "data/01/pack01", "fresh", 5) == 0, "store it again");
	buf_reset(&out);
	ok(backend_get(b, "data/01/pack01", 0, 0, &out) == 0 && out.len == 5 &&
		   memcmp(out.data, "fresh", 5) == 0,
	   "and the new object is read, not the old one");
	ok(backend_get(b, "data/02/pack02", 0, 0, &out) == 0 && backend_put(b, "data/02/pack02", "x", 1) == 0,
	   "read a pack, then overwrite it");
	buf_reset(&out);
	ok(backend_get(b, "data/02/pack02", 0, 0, &out) == 0 && out.len == 1 && out.data[0] == 'x',
	   "an overwritten pack reads its new content");
	for (unsigned k = 0; k < 40; k++) {
		char name[64];
		snprintf(name, sizeof(name), "data/%02u/pack%02u", k, k);
		backend_del(b, name);
	}
	buf_free(&out);
	backend_free(b);
	is_int(count_fds(), fds_before, "no descriptor left open after backend_free");
}

static void test_faulty(const char *root)
{
	struct backend *inner, *b;
	struct buf out = BUF_INIT;
	ok(backend_local_open(root, 0, &inner) == 0, "open the local backend to wrap");
	ok(backend_faulty_wrap(inner, "enospc_after=100,fail_put=index/,fail_get=data/", &b) == 0,
	   "wrap it");
	ok(strcmp(b->ops->name, "faulty") == 0 && strcmp(b->location, root) == 0,
	   "wrapper is named faulty and keeps the location");
	uint8_t buf[100] = { 0 };
	is_int(backend_put(b, "snapshots/s1", buf, 60), 0, "put 60 bytes (60 of 100)");
	is_int(backend_put(b, "snapshots/s2", buf, 50), CAIRN_ENOSPC,
	       "put 50 more: CAIRN_ENOSPC (would be 110)");
	ok(backend_stat(b, "snapshots/s2", NULL) == CAIRN_ENOTFOUND,
	   "the refused object was not stored");
	is_int(backend_put(b, "snapshots/s3", buf, 40), 0, "put 40: exactly 100, allowed");
	is_int(backend_put(b, "snapshots/s4", buf, 1), CAIRN_ENOSPC, "put 1 more: CAIRN_ENOSPC");
	is_int(backend_put(b, "index/i1", buf, 0), CAIRN_EIO, "fail_put=index/: put fails with EIO");
	ok(backend_stat(b, "index/i1", NULL) == CAIRN_ENOTFOUND, "and stores nothing");
	is_int(backend_get(b, "data/ab/ab02", 0, 0, &out), CAIRN_EIO,
	       "fail_get=data/: get fails with EIO");
	ok(backend_get(b, "snapshots/s1", 0, 0, &out) == 0 && out.len == 60,
	   "gets of other names pass through");
	uint64_t size = 0;
	ok(backend_stat(b, "data/ab/ab02", &size) == 0 && size == 20,
	   "stat passes through even for fail_get names");
	struct listing l;
	memset(&l, 0, sizeof(l));
	ok(backend_list(b, "snapshots/", list_cb, &l) == 0 && l.n == 2, "list passes through");
	struct iovec two[2] = { { buf, 30 }, { buf, 30 } };
	is_int(backend_putv(b, "snapshots/s5", two, 2), CAIRN_ENOSPC,
	       "putv counts all pieces towards enospc_after");
	ok(backend_del(b, "snapshots/s3") == 0 && backend_stat(b, "snapshots/s3", NULL) ==
							     CAIRN_ENOTFOUND,
	   "del passes through");
	backend_free(b);

	/* An empty spec injects nothing. */
	ok(backend_local_open(root, 0, &inner) == 0 && backend_faulty_wrap(inner, "", &b) == 0,
	   "wrap with an empty spec");
	ok(backend_put(b, "index/i2", buf, 100) == 0 && backend_put(b, "index/i3", buf, 100) == 0,
	   "no faults: puts succeed");
	buf_reset(&out);
	ok(backend_get(b, "data/ab/ab02", 0, 0, &out) == 0 && out.len == 20, "gets succeed");
	backend_free(b);

	/* backend_open wraps when CAIRN_TEST_FAULTS is set. */
	setenv("CAIRN_TEST_FAULTS", "fail_get=index/", 1);
	ok(backend_open(root, 0, &b) == 0 && strcmp(b->ops->name, "faulty") == 0,
	   "backend_open with CAIRN_TEST_FAULTS gives the faulty wrapper");
	is_int(backend_get(b, "index/i2", 0, 0, &out), CAIRN_EIO, "and its faults apply");
	backend_free(b);
	unsetenv("CAIRN_TEST_FAULTS");
	buf_free(&out);
}

int main(void)
{
	if (crypto_init() != 0)
		return 1;
	make_tmpdir();
	test_open();

	char root[4200];
	snprintf(root, sizeof(root), "%s/repo", tmpdir);
	struct backend *b = NULL;
	if (backend_local_open(root, 1, &b) != 0) {
		printf("Bail out! cannot open %s\n", root);
		remove_tmpdir();
		return 1;
	}
	test_objects(b, root);
	test_putv(b);
	test_atomic_overwrite(b, root);
	backend_free(b);
	test_pack_fds(root);
	test_faulty(root);
	remove_tmpdir();
	ok(access(tmpdir, F_OK) != 0, "temporary folder removed");
	return tap_done();
}
