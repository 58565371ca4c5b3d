/*
 * index.c - the SQLite index cache (see index.h).
 *
 * Schema (user_version 1):
 *   packs(pid INTEGER PRIMARY KEY, id BLOB UNIQUE, size)
 *   blobs(id BLOB, type, pid, off, len, rawlen, PRIMARY KEY(id, type)) WITHOUT ROWID
 *   files(id BLOB PRIMARY KEY) WITHOUT ROWID     -- index files loaded
 * WAL journal, synchronous=NORMAL: losing the last transactions in a crash
 * only means they are read again from the index files.
 */
#include "cairn/common.h"
#include "cairn/index.h"
#include "cairn/log.h"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

struct index {
	sqlite3 *db;
	sqlite3_stmt *lookup, *add_pack, *get_pid, *add_blob, *add_file, *has_file;
	pthread_mutex_t mu;	/* statements are shared: one user at a time */
	char *path;
};

/* The one place SQLite's codes become ours; logs what failed. */
static int index_err(struct index *ix, const char *what)
{
	log_error("index cache %s: %s failed: %s", ix->path, what, sqlite3_errmsg(ix->db));
	int c = sqlite3_errcode(ix->db);
	return c == SQLITE_FULL ? CAIRN_ENOSPC : c == SQLITE_NOMEM ? CAIRN_ENOMEM : CAIRN_EIO;
}

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=NORMAL;"
	"CREATE TABLE IF NOT EXISTS packs(pid INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE,"
	" size INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS blobs(id BLOB NOT NULL, type INTEGER NOT NULL,"
	" pid INTEGER NOT NULL, off INTEGER NOT NULL, len INTEGER NOT NULL,"
	" rawlen INTEGER NOT NULL, PRIMARY KEY(id, type)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS files(id BLOB PRIMARY KEY) WITHOUT ROWID;"
	"PRAGMA user_version=1;";

int index_open(const char *path, struct index **ret)
{
	struct index *ix = calloc(1, sizeof(*ix));
	if (!ix || !(ix->path = strdup(path))) {
		free(ix);
		return CAIRN_ENOMEM;
	}
	pthread_mutex_init(&ix->mu, NULL);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	int e;
	if (sqlite3_open_v2(path, &ix->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		e = index_err(ix, "open");
		goto fail;
	}
	sqlite3_busy_timeout(ix->db, 30000);
	if (sqlite3_exec(ix->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		e = index_err(ix, "create schema");
		goto fail;
	}
	struct {
		sqlite3_stmt **st;
		const char *sql;
	} stmts[] = {
		{ &ix->lookup, "SELECT p.id, b.off, b.len, b.rawlen FROM blobs b JOIN packs p"
			       " ON p.pid = b.pid WHERE b.id = ?1 AND b.type = ?2" },
		{ &ix->add_pack, "INSERT OR IGNORE INTO packs(id, size) VALUES(?1, ?2)" },
		{ &ix->get_pid, "SELECT pid FROM packs WHERE id = ?1" },
		{ &ix->add_blob, "INSERT OR IGNORE INTO blobs(id, type, pid, off, len, rawlen)"
				 " VALUES(?1, ?2, ?3, ?4, ?5, ?6)" },
		{ &ix->add_file, "INSERT OR IGNORE INTO files(id) VALUES(?1)" },
		{ &ix->has_file, "SELECT 1 FROM files WHERE id = ?1" },
	};
	for (size_t i = 0; i < CAIRN_ARRAY_LEN(stmts); i++) {
		if (sqlite3_prepare_v3(ix->db, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
				       stmts[i].st, NULL) != SQLITE_OK) {
			e = index_err(ix, "prepare");
			goto fail;
		}
	}
	*ret = ix;
	return 0;
fail:
	index_free(ix);
	return e;
}

void index_free(struct index *ix)
{
	if (!ix)
		return;
	sqlite3_finalize(ix->lookup);
	sqlite3_finalize(ix->add_pack);
	sqlite3_finalize(ix->get_pid);
	sqlite3_finalize(ix->add_blob);
	sqlite3_finalize(ix->add_file);
	sqlite3_finalize(ix->has_file);
	sqlite3_close(ix->db);
	pthread_mutex_destroy(&ix->mu);
	free(ix->path);
	free(ix);
}

int index_lookup(struct index *ix, unsigned type, const uint8_t id[32], struct index_loc *ret)
{
	pthread_mutex_lock(&ix->mu);
	sqlite3_stmt *st = ix->lookup;
	sqlite3_bind_blob(st, 1, id, 32, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, (int)type);
	int rc = sqlite3_step(st), e;
	if (rc == SQLITE_ROW) {
		if (ret) {
			const void *p = sqlite3_column_blob(st, 0);
			if (p && sqlite3_column_bytes(st, 0) == 32)
				memcpy(ret->pack_id, p, 32);
			ret->offset = (uint64_t)sqlite3_column_int64(st, 1);
			ret->length = (uint32_t)sqlite3_column_int64(st, 2);
			ret->raw_length = (uint32_t)sqlite3_column_int64(st, 3);
		}
		e = 0;
	} else if (rc == SQLITE_DONE) {
		e = CAIRN_ENOTFOUND;
	} else {
		e = index_err(ix, "look-up");
	}
	sqlite3_reset(st);
	pthread_mutex_unlock(&ix->mu);
	return e;
}

/* Runs one SQL statement without results. */
static int index_exec(struct index *ix, const char *sql)
{
	pthread_mutex_lock(&ix->mu);
	int e = sqlite3_exec(ix->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : index_err(ix, sql);
	pthread_mutex_unlock(&ix->mu);
	return e;
}

int index_begin(struct index *ix)
{
	return index_exec(ix, "BEGIN IMMEDIATE");
}

int index_commit(struct index *ix)
{
	return index_exec(ix, "COMMIT");
}

void index_rollback(struct index *ix)
{
	pthread_mutex_lock(&ix->mu);
	sqlite3_exec(ix->db, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&ix->mu);
}

int index_add_pack(struct index *ix, const uint8_t pack_id[32], uint64_t pack_size,
		   const struct pack_entry *en, size_t n)
{
	int e = 0;
	pthread_mutex_lock(&ix->mu);
	sqlite3_bind_blob(ix->add_pack, 1, pack_id, 32, SQLITE_STATIC);
	sqlite3_bind_int64(ix->add_pack, 2, (sqlite3_int64)pack_size);
	int rc = sqlite3_step(ix->add_pack);
	sqlite3_reset(ix->add_pack);
	if (rc != SQLITE_DONE) {
		e = index_err(ix, "insert pack");
		goto out;
	}
	sqlite3_bind_blob(ix->get_pid, 1, pack_id, 32, SQLITE_STATIC);
	rc = sqlite3_step(ix->get_pid);
	sqlite3_int64 pid = rc == SQLITE_ROW ? sqlite3_column_int64(ix->get_pid, 0) : -1;
	sqlite3_reset(ix->get_pid);
	if (pid < 0) {
		e = index_err(ix, "find pack");
		goto out;
	}
	sqlite3_stmt *st = ix->add_blob;
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_blob(st, 1, en[i].id, 32, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, en[i].type);
		sqlite3_bind_int64(st, 3, pid);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)en[i].offset);
		sqlite3_bind_int64(st, 5, en[i].length);
		sqlite3_bind_int64(st, 6, en[i].raw_length);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			e = index_err(ix, "insert blob");
			goto out;
		}
	}
out:
	pthread_mutex_unlock(&ix->mu);
	return e;
}

int index_add_file(struct index *ix, const uint8_t file_id[32])
{
	pthread_mutex_lock(&ix->mu);
	sqlite3_bind_blob(ix->add_file, 1, file_id, 32, SQLITE_STATIC);
	int rc = sqlite3_step(ix->add_file);
	sqlite3_reset(ix->add_file);
	int e = rc == SQLITE_DONE ? 0 : index_err(ix, "insert index file");
	pthread_mutex_unlock(&ix->mu);
	return e;
}

int index_has_file(struct index *ix, const uint8_t file_id[32])
{
	pthread_mutex_lock(&ix->mu);
	sqlite3_bind_blob(ix->has_file, 1, file_id, 32, SQLITE_STATIC);
	int rc = sqlite3_step(ix->has_file);
	sqlite3_reset(ix->has_file);
	int e = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : index_err(ix, "find index file");
	pthread_mutex_unlock(&ix->mu);
	return e;
}

int index_foreach_file(struct index *ix, int (*fn)(void *arg, const uint8_t id[32]), void *arg)
{
	sqlite3_stmt *st;
	pthread_mutex_lock(&ix->mu);
	if (sqlite3_prepare_v2(ix->db, "SELECT id FROM files", -1, &st, NULL) != SQLITE_OK) {
		int e = index_err(ix, "list index files");
		pthread_mutex_unlock(&ix->mu);
		return e;
	}
	int rc, e = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 0) != 32)
			continue;
		uint8_t id[32];
		memcpy(id, sqlite3_column_blob(st, 0), 32);
		e = fn(arg, id);
		if (e)
			break;
	}
	if (!e && rc != SQLITE_DONE)
		e = index_err(ix, "list index files");
	sqlite3_finalize(st);
	pthread_mutex_unlock(&ix->mu);
	return e;
}

int index_clear(struct index *ix)
{
	return index_exec(ix, "DELETE FROM blobs; DELETE FROM packs; DELETE FROM files;");
}

int index_counts(struct index *ix, uint64_t *ret_blobs, uint64_t *ret_packs)
{
	sqlite3_stmt *st;
	int e = 0;
	pthread_mutex_lock(&ix->mu);
	if (sqlite3_prepare_v2(ix->db,
			       "SELECT (SELECT count(*) FROM blobs), (SELECT count(*) FROM packs)",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		e = index_err(ix, "count");
	} else {
		*ret_blobs = (uint64_t)sqlite3_column_int64(st, 0);
		*ret_packs = (uint64_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&ix->mu);
	return e;
}

int index_find_prefix(struct index *ix, const char *hexprefix, unsigned *ret_type,
		      uint8_t ret_id[32])
{
	size_t n = strlen(hexprefix);
	uint8_t lo[32], hi[32];
	if (n == 0 || n > 64)
		return CAIRN_EINVAL;
	/* The range [prefix000..., prefixfff...] in blob order. */
	char full[65];
	memcpy(full, hexprefix, n);
	memset(full + n, '0', 64 - n);
	full[64] = 0;
	if (hex_decode(full, lo, 32) < 0)
		return CAIRN_EINVAL;
	memset(full + n, 'f', 64 - n);
	if (hex_decode(full, hi, 32) < 0)
		return CAIRN_EINVAL;
	sqlite3_stmt *st;
	int e = CAIRN_ENOTFOUND, rc;
	pthread_mutex_lock(&ix->mu);
	if (sqlite3_prepare_v2(ix->db,
			       "SELECT id, type FROM blobs WHERE id >= ?1 AND id <= ?2 LIMIT 2", -1,
			       &st, NULL) != SQLITE_OK) {
		e = index_err(ix, "prefix search");
		pthread_mutex_unlock(&ix->mu);
		return e;
	}
	sqlite3_bind_blob(st, 1, lo, 32, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, hi, 32, SQLITE_STATIC);
	int found = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (found++) {
			e = CAIRN_EAMBIGUOUS;
			break;
		}
		memcpy(ret_id, sqlite3_column_blob(st, 0), 32);
		*ret_type = (unsigned)sqlite3_column_int(st, 1);
		e = 0;
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&ix->mu);
	return e;
}
