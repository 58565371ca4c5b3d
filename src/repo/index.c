/*
 * index.c - the SQLite index cache (see index.h).
 *
 * Schema (user_version 2):
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

/* How long a writer waits for another process's write transaction. */
#define BUSY_MS 30000

struct index {
	sqlite3 *db;
	sqlite3_stmt *lookup, *add_pack, *get_pid, *add_blob, *add_file, *has_file;
	sqlite3_stmt *mark, *mark_many, *dropped;	/* prepared on first use (prune) */
	pthread_mutex_t mu;	/* statements are shared: one user at a time */
	uint64_t kept, kept_raw, kept_stored;	/* keeper sums of index_used_finish */
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
	" rawlen INTEGER NOT NULL, PRIMARY KEY(id, type, pid)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS files(id BLOB PRIMARY KEY) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS idmap(old BLOB PRIMARY KEY, new BLOB NOT NULL) WITHOUT ROWID;"
	"PRAGMA user_version=2;";

/* An older schema is dropped: the cache is rebuilt from the index files. */
static const char drop_old[] =
	"DROP TABLE IF EXISTS blobs; DROP TABLE IF EXISTS packs; DROP TABLE IF EXISTS files;"
	"DROP TABLE IF EXISTS used; DROP TABLE IF EXISTS keep;";

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
	sqlite3_busy_timeout(ix->db, BUSY_MS);
	sqlite3_stmt *uv;
	int version = 0;
	if (sqlite3_prepare_v2(ix->db, "PRAGMA user_version", -1, &uv, NULL) == SQLITE_OK) {
		if (sqlite3_step(uv) == SQLITE_ROW)
			version = sqlite3_column_int(uv, 0);
		sqlite3_finalize(uv);
	}
	if (version != 0 && version != 2 && sqlite3_exec(ix->db, drop_old, NULL, NULL, NULL) != SQLITE_OK) {
		e = index_err(ix, "drop old schema");
		goto fail;
	}
	/* A cache with the whole schema is not written to on open: the schema
	 * statements take the write lock, and would wait for another
	 * process's transaction. */
	int tables = 0;
	if (version == 2 &&
	    sqlite3_prepare_v2(ix->db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
			       " AND name IN ('packs', 'blobs', 'files', 'idmap')", -1, &uv,
			       NULL) == SQLITE_OK) {
		if (sqlite3_step(uv) == SQLITE_ROW)
			tables = sqlite3_column_int(uv, 0);
		sqlite3_finalize(uv);
	}
	if (sqlite3_exec(ix->db, tables == 4 ? "PRAGMA synchronous=NORMAL;" : schema, NULL, NULL,
			 NULL) != SQLITE_OK) {
		e = index_err(ix, "create schema");
		goto fail;
	}
	struct {
		sqlite3_stmt **st;
		const char *sql;
	} stmts[] = {
		{ &ix->lookup, "SELECT p.id, b.off, b.len, b.rawlen, p.size FROM blobs b JOIN packs p"
			       " ON p.pid = b.pid WHERE b.id = ?1 AND b.type = ?2 LIMIT 1" },
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
	sqlite3_finalize(ix->mark);
	sqlite3_finalize(ix->mark_many);
	sqlite3_finalize(ix->dropped);
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
			ret->pack_size = (uint64_t)sqlite3_column_int64(st, 4);
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

int index_lookup_many(struct index *ix, unsigned type, const uint8_t (*ids)[32], size_t n,
		      struct index_loc *ret, uint8_t *found)
{
	pthread_mutex_lock(&ix->mu);
	/* one read transaction: one WAL read lock for the batch, not two
	 * fcntl() calls per blob; skipped inside a caller's transaction */
	int txn = sqlite3_get_autocommit(ix->db) &&
		  sqlite3_exec(ix->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
	sqlite3_stmt *st = ix->lookup;
	int e = 0;
	for (size_t i = 0; i < n && e == 0; i++) {
		sqlite3_bind_blob(st, 1, ids[i], 32, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, (int)type);
		int rc = sqlite3_step(st);
		found[i] = rc == SQLITE_ROW;
		if (rc == SQLITE_ROW) {
			const void *p = sqlite3_column_blob(st, 0);
			if (p && sqlite3_column_bytes(st, 0) == 32)
				memcpy(ret[i].pack_id, p, 32);
			ret[i].offset = (uint64_t)sqlite3_column_int64(st, 1);
			ret[i].length = (uint32_t)sqlite3_column_int64(st, 2);
			ret[i].raw_length = (uint32_t)sqlite3_column_int64(st, 3);
			ret[i].pack_size = (uint64_t)sqlite3_column_int64(st, 4);
		} else if (rc != SQLITE_DONE) {
			e = index_err(ix, "look-up");
		}
		sqlite3_reset(st);
	}
	if (txn)
		sqlite3_exec(ix->db, "COMMIT", NULL, NULL, NULL);
	pthread_mutex_unlock(&ix->mu);
	return e;
}

int index_set_cache_kib(struct index *ix, unsigned kib)
{
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA cache_size=-%u", kib);
	pthread_mutex_lock(&ix->mu);
	int e = sqlite3_exec(ix->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : index_err(ix, sql);
	pthread_mutex_unlock(&ix->mu);
	return e;
}

/* Runs SQL statements without results; the caller holds the lock. */
static int index_exec_locked(struct index *ix, const char *sql)
{
	return sqlite3_exec(ix->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : index_err(ix, sql);
}

/* Runs SQL statements without results. */
static int index_exec(struct index *ix, const char *sql)
{
	pthread_mutex_lock(&ix->mu);
	int e = index_exec_locked(ix, sql);
	pthread_mutex_unlock(&ix->mu);
	return e;
}

int index_begin(struct index *ix)
{
	return index_exec(ix, "BEGIN IMMEDIATE");
}

int index_try_begin(struct index *ix)
{
	pthread_mutex_lock(&ix->mu);
	sqlite3_busy_timeout(ix->db, 0);
	int rc = sqlite3_exec(ix->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	sqlite3_busy_timeout(ix->db, BUSY_MS);
	int e = rc == SQLITE_OK ? 0 : rc == SQLITE_BUSY ? CAIRN_ELOCKED : index_err(ix, "BEGIN");
	pthread_mutex_unlock(&ix->mu);
	return e;
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
			       "SELECT DISTINCT id, type FROM blobs WHERE id >= ?1 AND id <= ?2 LIMIT 2", -1,
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

/* ---- prune support ------------------------------------------------------
 * Every table here is a TEMP table: no WAL writes, and SQLite spills it to
 * a temporary file past the cache size, so memory stays bounded.
 *   used(id, type)               blobs the snapshots reference
 *   unused(pid, id, type, len)   blob rows that are not keepers: not
 *                                referenced, or a second copy (the keeper
 *                                is the copy with the lowest pid)
 *   drop_pack(pid, repack)       packs prune deletes or repacks
 * Neither `blobs` nor these have an index on pid: what prune needs per pack
 * comes from one merge of two scans in key order, a GROUP BY or one ordered
 * scan, never from one query per pack. `unused` is small when little is
 * garbage, which is the common case. */

/* Rows per INSERT of index_used_mark_many: one statement step per row
 * costs more than the insert itself. */
#define INDEX_MARK_ROWS 64

int index_used_reset(struct index *ix)
{
	pthread_mutex_lock(&ix->mu);
	ix->kept = ix->kept_raw = ix->kept_stored = 0;
	sqlite3_finalize(ix->dropped);	/* it reads drop_pack, dropped here */
	ix->dropped = NULL;
	pthread_mutex_unlock(&ix->mu);
	return index_exec(ix, "DROP TABLE IF EXISTS temp.used; DROP TABLE IF EXISTS temp.keep;"
			      "DROP TABLE IF EXISTS temp.unused; DROP TABLE IF EXISTS temp.drop_pack;"
			      "DROP TABLE IF EXISTS main.used; DROP TABLE IF EXISTS main.keep;"
			      "CREATE TEMP TABLE used(id BLOB NOT NULL, type INTEGER NOT NULL,"
			      " PRIMARY KEY(id, type)) WITHOUT ROWID;");
}

int index_used_mark_type(struct index *ix, unsigned type)
{
	pthread_mutex_lock(&ix->mu);
	sqlite3_stmt *st;
	int e = 0;
	/* A scan of the blob table, as prune's other passes are. (A partial
	 * index on the type would make SQLite re-prepare every look-up whose
	 * bound type differs from the last: measured, look-ups 4x slower.) */
	if (sqlite3_prepare_v2(ix->db, "INSERT OR IGNORE INTO used(id, type) SELECT DISTINCT id, type"
			       " FROM blobs WHERE type = ?1", -1, &st, NULL) != SQLITE_OK) {
		e = index_err(ix, "prepare mark type");
	} else {
		sqlite3_bind_int(st, 1, (int)type);
		if (sqlite3_step(st) != SQLITE_DONE)
			e = index_err(ix, "mark type used");
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&ix->mu);
	return e;
}

int index_used_drop(struct index *ix)
{
	pthread_mutex_lock(&ix->mu);
	sqlite3_finalize(ix->dropped);	/* it reads drop_pack */
	ix->dropped = NULL;
	pthread_mutex_unlock(&ix->mu);
	return index_exec(ix, "DROP TABLE IF EXISTS temp.used; DROP TABLE IF EXISTS temp.unused;"
			      "DROP TABLE IF EXISTS temp.drop_pack;");
}

/* Prepares the mark statements on first use; called with the lock held. */
static int index_mark_prepare(struct index *ix)
{
	if (ix->mark)
		return 0;
	char sql[64 + INDEX_MARK_ROWS * 16];
	size_t n = (size_t)snprintf(sql, sizeof(sql), "INSERT OR IGNORE INTO used(id, type) VALUES");
	for (int i = 1; i <= INDEX_MARK_ROWS; i++)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s(?%d, ?%d)", i > 1 ? "," : "", i,
				      INDEX_MARK_ROWS + 1);
	if (sqlite3_prepare_v3(ix->db, "INSERT OR IGNORE INTO used(id, type) VALUES(?1, ?2)", -1,
			       SQLITE_PREPARE_PERSISTENT, &ix->mark, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(ix->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &ix->mark_many, NULL) !=
		    SQLITE_OK) {
		sqlite3_finalize(ix->mark);
		ix->mark = NULL;
		return index_err(ix, "prepare mark");
	}
	return 0;
}

int index_used_mark(struct index *ix, unsigned type, const uint8_t id[32])
{
	pthread_mutex_lock(&ix->mu);
	int e = index_mark_prepare(ix);
	if (e == 0) {
		sqlite3_bind_blob(ix->mark, 1, id, 32, SQLITE_STATIC);
		sqlite3_bind_int(ix->mark, 2, (int)type);
		int rc = sqlite3_step(ix->mark);
		sqlite3_reset(ix->mark);
		e = rc == SQLITE_DONE ? sqlite3_changes(ix->db) > 0 : index_err(ix, "mark used");
	}
	pthread_mutex_unlock(&ix->mu);
	return e;
}

int index_used_mark_many(struct index *ix, unsigned type, const uint8_t (*ids)[32], size_t n)
{
	pthread_mutex_lock(&ix->mu);
	int e = index_mark_prepare(ix);
	size_t i = 0;
	if (e == 0)
		sqlite3_bind_int(ix->mark_many, INDEX_MARK_ROWS + 1, (int)type);
	for (; e == 0 && i + INDEX_MARK_ROWS <= n; i += INDEX_MARK_ROWS) {
		for (int j = 0; j < INDEX_MARK_ROWS; j++)
			sqlite3_bind_blob(ix->mark_many, j + 1, ids[i + (size_t)j], 32, SQLITE_STATIC);
		int rc = sqlite3_step(ix->mark_many);
		sqlite3_reset(ix->mark_many);
		if (rc != SQLITE_DONE)
			e = index_err(ix, "mark used");
	}
	if (e == 0)
		sqlite3_bind_int(ix->mark, 2, (int)type);
	for (; e == 0 && i < n; i++) {
		sqlite3_bind_blob(ix->mark, 1, ids[i], 32, SQLITE_STATIC);
		int rc = sqlite3_step(ix->mark);
		sqlite3_reset(ix->mark);
		if (rc != SQLITE_DONE)
			e = index_err(ix, "mark used");
	}
	pthread_mutex_unlock(&ix->mu);
	return e;
}

/* Orders (id, type) keys as the primary keys of blobs and used do. */
static int key_cmp(const uint8_t *a, int ta, const uint8_t *b, int tb)
{
	int c = memcmp(a, b, 32);
	return c ? c : (ta > tb) - (ta < tb);
}

/* Steps the scan of used to its next well-formed row and counts it. */
static int used_next(sqlite3_stmt *su, uint64_t *count, uint8_t id[32], int *type)
{
	int rc;
	while ((rc = sqlite3_step(su)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(su, 0) != 32)
			continue;
		memcpy(id, sqlite3_column_blob(su, 0), 32);
		*type = sqlite3_column_int(su, 1);
		(*count)++;
		break;
	}
	return rc;
}

int index_used_finish(struct index *ix, uint64_t *ret_used, uint64_t *ret_missing)
{
	sqlite3_stmt *sb = NULL, *su = NULL, *ins = NULL;
	uint64_t used = 0, missing = 0, kept = 0, raw = 0, stored = 0;
	int e, rb, ru;
	pthread_mutex_lock(&ix->mu);
	ix->kept = ix->kept_raw = ix->kept_stored = 0;
	e = index_exec_locked(ix, "DROP TABLE IF EXISTS temp.unused;"
				  "CREATE TEMP TABLE unused(pid INTEGER NOT NULL, id BLOB NOT NULL,"
				  " type INTEGER NOT NULL, len INTEGER NOT NULL,"
				  " PRIMARY KEY(pid, id, type)) WITHOUT ROWID; BEGIN IMMEDIATE;");
	if (e < 0)
		goto out;
	/* Both scans run in primary key order, (id, type[, pid]): a merge. */
	if (sqlite3_prepare_v2(ix->db, "SELECT id, type, pid, len, rawlen FROM blobs"
				       " ORDER BY id, type, pid", -1, &sb, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(ix->db, "SELECT id, type FROM used ORDER BY id, type", -1, &su,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(ix->db, "INSERT INTO unused(pid, id, type, len) VALUES(?1, ?2, ?3, ?4)",
			       -1, &ins, NULL) != SQLITE_OK) {
		e = index_err(ix, "prepare keepers");
		goto rollback;
	}
	uint8_t prev[32], uid[32];
	int prev_type = -1, utype = 0, u_matched = 0;
	ru = used_next(su, &used, uid, &utype);
	while ((rb = sqlite3_step(sb)) == SQLITE_ROW) {
		const uint8_t *id = sqlite3_column_blob(sb, 0);
		if (!id || sqlite3_column_bytes(sb, 0) != 32)
			continue;
		int type = sqlite3_column_int(sb, 1);
		while (ru == SQLITE_ROW && key_cmp(uid, utype, id, type) < 0) {
			missing += !u_matched;
			u_matched = 0;
			ru = used_next(su, &used, uid, &utype);
		}
		int is_used = ru == SQLITE_ROW && key_cmp(uid, utype, id, type) == 0;
		int first = prev_type < 0 || key_cmp(prev, prev_type, id, type) != 0;
		memcpy(prev, id, 32);
		prev_type = type;
		if (is_used && first) {
			u_matched = 1;
			kept++;
			stored += (uint64_t)sqlite3_column_int64(sb, 3);
			raw += (uint64_t)sqlite3_column_int64(sb, 4);
			continue;
		}
		sqlite3_bind_int64(ins, 1, sqlite3_column_int64(sb, 2));
		sqlite3_bind_blob(ins, 2, id, 32, SQLITE_TRANSIENT);
		sqlite3_bind_int(ins, 3, type);
		sqlite3_bind_int64(ins, 4, sqlite3_column_int64(sb, 3));
		int rc = sqlite3_step(ins);
		sqlite3_reset(ins);
		if (rc != SQLITE_DONE) {
			e = index_err(ix, "record unused blob");
			goto rollback;
		}
	}
	if (rb != SQLITE_DONE) {
		e = index_err(ix, "scan blobs");
		goto rollback;
	}
	while (ru == SQLITE_ROW) {
		missing += !u_matched;
		u_matched = 0;
		ru = used_next(su, &used, uid, &utype);
	}
	if (ru != SQLITE_DONE) {
		e = index_err(ix, "scan used blobs");
		goto rollback;
	}
	sqlite3_finalize(sb);
	sqlite3_finalize(su);
	sqlite3_finalize(ins);
	sb = su = ins = NULL;
	e = index_exec_locked(ix, "COMMIT");
	if (e < 0)
		goto rollback;
	ix->kept = kept;
	ix->kept_raw = raw;
	ix->kept_stored = stored;
	*ret_used = used;
	*ret_missing = missing;
	goto out;
rollback:
	sqlite3_finalize(sb);
	sqlite3_finalize(su);
	sqlite3_finalize(ins);
	sqlite3_exec(ix->db, "ROLLBACK", NULL, NULL, NULL);
out:
	pthread_mutex_unlock(&ix->mu);
	return e;
}

int index_foreach_pack_usage(struct index *ix,
			     int (*fn)(void *arg, const struct index_pack_usage *u), void *arg)
{
	sqlite3_stmt *st;
	int e = 0, rc;
	pthread_mutex_lock(&ix->mu);
	/* totals per pack minus the unused rows per pack (already in pid order) */
	if (sqlite3_prepare_v2(ix->db,
			       "WITH t AS (SELECT pid, SUM(len) AS bytes, COUNT(*) AS n FROM blobs"
			       " GROUP BY pid), u AS (SELECT pid, SUM(len) AS bytes, COUNT(*) AS n"
			       " FROM unused GROUP BY pid)"
			       " SELECT p.id, p.size, COALESCE(t.bytes, 0) - COALESCE(u.bytes, 0),"
			       " COALESCE(t.n, 0) - COALESCE(u.n, 0), COALESCE(u.bytes, 0),"
			       " COALESCE(u.n, 0)"
			       " FROM packs p LEFT JOIN t ON t.pid = p.pid LEFT JOIN u ON u.pid = p.pid"
			       " ORDER BY p.pid",
			       -1, &st, NULL) != SQLITE_OK) {
		e = index_err(ix, "pack usage");
		pthread_mutex_unlock(&ix->mu);
		return e;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct index_pack_usage u;
		if (sqlite3_column_bytes(st, 0) != 32)
			continue;
		memcpy(u.id, sqlite3_column_blob(st, 0), 32);
		u.size = (uint64_t)sqlite3_column_int64(st, 1);
		u.used_bytes = (uint64_t)sqlite3_column_int64(st, 2);
		u.used_blobs = (uint64_t)sqlite3_column_int64(st, 3);
		u.unused_bytes = (uint64_t)sqlite3_column_int64(st, 4);
		u.unused_blobs = (uint64_t)sqlite3_column_int64(st, 5);
		/* fn may call other index functions: release the lock meanwhile */
		pthread_mutex_unlock(&ix->mu);
		e = fn(arg, &u);
		pthread_mutex_lock(&ix->mu);
		if (e)
			break;
	}
	if (!e && rc != SQLITE_DONE)
		e = index_err(ix, "pack usage");
	sqlite3_finalize(st);
	pthread_mutex_unlock(&ix->mu);
	return e;
}

int index_drop_pack(struct index *ix, const uint8_t pack_id[32], int repack)
{
	sqlite3_stmt *st;
	int e = 0;
	pthread_mutex_lock(&ix->mu);
	if (sqlite3_exec(ix->db, "CREATE TEMP TABLE IF NOT EXISTS drop_pack(pid INTEGER PRIMARY KEY,"
				 " repack INTEGER NOT NULL)", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(ix->db, "INSERT OR REPLACE INTO drop_pack(pid, repack)"
				       " SELECT pid, ?2 FROM packs WHERE id = ?1", -1, &st, NULL) != SQLITE_OK) {
		e = index_err(ix, "record dropped pack");
		pthread_mutex_unlock(&ix->mu);
		return e;
	}
	sqlite3_bind_blob(st, 1, pack_id, 32, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, repack ? 1 : 0);
	if (sqlite3_step(st) != SQLITE_DONE)
		e = index_err(ix, "record dropped pack");
	sqlite3_finalize(st);
	pthread_mutex_unlock(&ix->mu);
	return e;
}

/* Steps st and hands each (pack id, size, entry) row to fn, grouped by pack:
 * columns 0 pack id, 1 pack size, 2 type, 3 id, 4 off, 5 len, 6 rawlen.
 * Called with the lock held; releases it around fn. */
static int index_step_entries(struct index *ix, sqlite3_stmt *st, const char *what,
			      int (*fn)(void *arg, const uint8_t pack_id[32], uint64_t pack_size,
					const struct pack_entry *en),
			      void *arg)
{
	int rc, e = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint8_t pack_id[32];
		struct pack_entry en;
		if (sqlite3_column_bytes(st, 0) != 32 || sqlite3_column_bytes(st, 3) != 32)
			continue;
		memcpy(pack_id, sqlite3_column_blob(st, 0), 32);
		uint64_t size = (uint64_t)sqlite3_column_int64(st, 1);
		en.type = (uint8_t)sqlite3_column_int(st, 2);
		memcpy(en.id, sqlite3_column_blob(st, 3), 32);
		en.offset = (uint64_t)sqlite3_column_int64(st, 4);
		en.length = (uint32_t)sqlite3_column_int64(st, 5);
		en.raw_length = (uint32_t)sqlite3_column_int64(st, 6);
		pthread_mutex_unlock(&ix->mu);
		e = fn(arg, pack_id, size, &en);
		pthread_mutex_lock(&ix->mu);
		if (e)
			break;
	}
	if (!e && rc != SQLITE_DONE)
		e = index_err(ix, what);
	return e;
}

/* Runs one entry query (see index_step_entries). */
static int index_foreach_entry(struct index *ix, const char *sql, const char *what,
			       int (*fn)(void *arg, const uint8_t pack_id[32], uint64_t pack_size,
					 const struct pack_entry *en),
			       void *arg)
{
	sqlite3_stmt *st;
	pthread_mutex_lock(&ix->mu);
	int e = index_exec_locked(ix, "CREATE TEMP TABLE IF NOT EXISTS drop_pack(pid INTEGER"
				      " PRIMARY KEY, repack INTEGER NOT NULL)");
	if (e == 0 && sqlite3_prepare_v2(ix->db, sql, -1, &st, NULL) != SQLITE_OK)
		e = index_err(ix, what);
	if (e == 0) {
		e = index_step_entries(ix, st, what, fn, arg);
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&ix->mu);
	return e;
}

int index_foreach_repack_blob(struct index *ix,
			      int (*fn)(void *arg, const uint8_t pack_id[32], uint64_t pack_size,
					const struct pack_entry *en),
			      void *arg)
{
	return index_foreach_entry(ix,
				   "SELECT p.id, p.size, b.type, b.id, b.off, b.len, b.rawlen"
				   " FROM blobs b JOIN drop_pack d ON d.pid = b.pid AND d.repack"
				   " JOIN packs p ON p.pid = b.pid WHERE NOT EXISTS (SELECT 1 FROM"
				   " unused x WHERE x.pid = b.pid AND x.id = b.id AND x.type = b.type)"
				   " ORDER BY b.pid, b.off",
				   "blobs to repack", fn, arg);
}

int index_foreach_kept_entry(struct index *ix,
			     int (*fn)(void *arg, const uint8_t pack_id[32], uint64_t pack_size,
				       const struct pack_entry *en),
			     void *arg)
{
	return index_foreach_entry(ix,
				   "SELECT p.id, p.size, b.type, b.id, b.off, b.len, b.rawlen"
				   " FROM blobs b JOIN packs p ON p.pid = b.pid"
				   " WHERE b.pid NOT IN (SELECT pid FROM drop_pack)"
				   " ORDER BY b.pid",
				   "kept index entries", fn, arg);
}

int index_foreach_dropped_pack(struct index *ix,
			       int (*fn)(void *arg, const uint8_t pack_id[32], uint64_t size),
			       void *arg)
{
	sqlite3_stmt *st;
	int e = 0, rc;
	pthread_mutex_lock(&ix->mu);
	e = index_exec_locked(ix, "CREATE TEMP TABLE IF NOT EXISTS drop_pack(pid INTEGER"
				  " PRIMARY KEY, repack INTEGER NOT NULL)");
	if (e == 0 && sqlite3_prepare_v2(ix->db, "SELECT p.id, p.size FROM drop_pack d JOIN packs p"
						 " ON p.pid = d.pid ORDER BY d.pid", -1, &st,
					 NULL) != SQLITE_OK)
		e = index_err(ix, "dropped packs");
	if (e < 0) {
		pthread_mutex_unlock(&ix->mu);
		return e;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint8_t id[32];
		if (sqlite3_column_bytes(st, 0) != 32)
			continue;
		memcpy(id, sqlite3_column_blob(st, 0), 32);
		uint64_t size = (uint64_t)sqlite3_column_int64(st, 1);
		pthread_mutex_unlock(&ix->mu);
		e = fn(arg, id, size);
		pthread_mutex_lock(&ix->mu);
		if (e)
			break;
	}
	if (!e && rc != SQLITE_DONE)
		e = index_err(ix, "dropped packs");
	sqlite3_finalize(st);
	pthread_mutex_unlock(&ix->mu);
	return e;
}

int index_pack_dropped(struct index *ix, const uint8_t pack_id[32])
{
	sqlite3_stmt *st;
	int e;
	pthread_mutex_lock(&ix->mu);
	e = 0;
	if (!ix->dropped) {
		e = index_exec_locked(ix, "CREATE TEMP TABLE IF NOT EXISTS drop_pack(pid INTEGER"
					  " PRIMARY KEY, repack INTEGER NOT NULL)");
		if (e == 0 && sqlite3_prepare_v3(ix->db, "SELECT 1 FROM packs p JOIN drop_pack d ON"
							 " d.pid = p.pid WHERE p.id = ?1", -1,
						 SQLITE_PREPARE_PERSISTENT, &ix->dropped,
						 NULL) != SQLITE_OK)
			e = index_err(ix, "find dropped pack");
	}
	if (e == 0) {
		st = ix->dropped;
		sqlite3_bind_blob(st, 1, pack_id, 32, SQLITE_STATIC);
		int rc = sqlite3_step(st);
		e = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : index_err(ix, "find dropped pack");
		sqlite3_reset(st);
	}
	pthread_mutex_unlock(&ix->mu);
	return e;
}

/* Binds each id to st (one parameter) and steps it. */
static int index_step_ids(struct index *ix, sqlite3_stmt *st, const uint8_t (*ids)[32], size_t n,
			  const char *what)
{
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_blob(st, 1, ids[i], 32, SQLITE_STATIC);
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			return index_err(ix, what);
	}
	return 0;
}

int index_drop_apply(struct index *ix, const uint8_t (*added)[32], size_t n_added,
		     const uint8_t (*removed)[32], size_t n_removed)
{
	sqlite3_stmt *ins = NULL, *del = NULL;
	int e;
	pthread_mutex_lock(&ix->mu);
	e = index_exec_locked(ix, "CREATE TEMP TABLE IF NOT EXISTS drop_pack(pid INTEGER"
				  " PRIMARY KEY, repack INTEGER NOT NULL);"
				  "BEGIN IMMEDIATE;"
				  "DELETE FROM blobs WHERE pid IN (SELECT pid FROM drop_pack);"
				  "DELETE FROM packs WHERE pid IN (SELECT pid FROM drop_pack);");
	if (e < 0)
		goto fail;
	if (sqlite3_prepare_v2(ix->db, "INSERT OR IGNORE INTO files(id) VALUES(?1)", -1, &ins,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(ix->db, "DELETE FROM files WHERE id = ?1", -1, &del, NULL) !=
		    SQLITE_OK) {
		e = index_err(ix, "record index files");
		goto fail;
	}
	e = index_step_ids(ix, del, removed, n_removed, "forget index files");
	if (e == 0)
		e = index_step_ids(ix, ins, added, n_added, "record index files");
	if (e < 0)
		goto fail;
	sqlite3_finalize(ins);
	sqlite3_finalize(del);
	ins = del = NULL;
	e = index_exec_locked(ix, "COMMIT");
	if (e < 0)
		goto fail;
	pthread_mutex_unlock(&ix->mu);
	return 0;
fail:
	sqlite3_finalize(ins);
	sqlite3_finalize(del);
	sqlite3_exec(ix->db, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_unlock(&ix->mu);
	return e;
}

int index_has_pack(struct index *ix, const uint8_t pack_id[32])
{
	pthread_mutex_lock(&ix->mu);
	sqlite3_bind_blob(ix->get_pid, 1, pack_id, 32, SQLITE_STATIC);
	int rc = sqlite3_step(ix->get_pid);
	sqlite3_reset(ix->get_pid);
	int e = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : index_err(ix, "find pack");
	pthread_mutex_unlock(&ix->mu);
	return e;
}

/* ---- repair packs, metrics --------------------------------------------- */

int index_forget_pack(struct index *ix, const uint8_t pack_id[32])
{
	sqlite3_stmt *st;
	int e = 0;
	pthread_mutex_lock(&ix->mu);
	if (sqlite3_prepare_v2(ix->db,
			       "DELETE FROM blobs WHERE pid = (SELECT pid FROM packs WHERE id = ?1)",
			       -1, &st, NULL) != SQLITE_OK) {
		e = index_err(ix, "prepare forget pack");
		pthread_mutex_unlock(&ix->mu);
		return e;
	}
	sqlite3_bind_blob(st, 1, pack_id, 32, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		e = index_err(ix, "forget pack blobs");
	sqlite3_finalize(st);
	if (e == 0 && sqlite3_prepare_v2(ix->db, "DELETE FROM packs WHERE id = ?1", -1, &st,
					 NULL) != SQLITE_OK)
		e = index_err(ix, "prepare forget pack");
	else if (e == 0) {
		sqlite3_bind_blob(st, 1, pack_id, 32, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			e = index_err(ix, "forget pack");
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&ix->mu);
	return e;
}

int index_pack_bytes(struct index *ix, uint64_t *ret)
{
	sqlite3_stmt *st;
	int e = 0;
	pthread_mutex_lock(&ix->mu);
	if (sqlite3_prepare_v2(ix->db, "SELECT coalesce(sum(size), 0) FROM packs", -1, &st,
			       NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		e = index_err(ix, "sum pack sizes");
	else
		*ret = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	pthread_mutex_unlock(&ix->mu);
	return e;
}

int index_used_sums(struct index *ix, uint64_t *ret_blobs, uint64_t *ret_raw, uint64_t *ret_stored)
{
	pthread_mutex_lock(&ix->mu);
	*ret_blobs = ix->kept;
	*ret_raw = ix->kept_raw;
	*ret_stored = ix->kept_stored;
	pthread_mutex_unlock(&ix->mu);
	return 0;
}

int index_totals(struct index *ix, uint64_t *ret_packs, uint64_t *ret_pack_bytes,
		 uint64_t *ret_blobs, uint64_t *ret_raw)
{
	sqlite3_stmt *st;
	int e = 0;
	pthread_mutex_lock(&ix->mu);
	if (sqlite3_prepare_v2(ix->db,
			       "SELECT (SELECT count(*) FROM packs), (SELECT COALESCE(SUM(size), 0)"
			       " FROM packs), (SELECT count(*) FROM blobs),"
			       " (SELECT COALESCE(SUM(rawlen), 0) FROM blobs)",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		e = index_err(ix, "totals");
	} else {
		*ret_packs = (uint64_t)sqlite3_column_int64(st, 0);
		*ret_pack_bytes = (uint64_t)sqlite3_column_int64(st, 1);
		*ret_blobs = (uint64_t)sqlite3_column_int64(st, 2);
		*ret_raw = (uint64_t)sqlite3_column_int64(st, 3);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&ix->mu);
	return e;
}

int index_map_get(struct index *ix, const uint8_t old[32], uint8_t ret_new[32])
{
	sqlite3_stmt *st;
	int e;
	pthread_mutex_lock(&ix->mu);
	if (sqlite3_prepare_v2(ix->db, "SELECT new FROM idmap WHERE old = ?1", -1, &st, NULL) !=
	    SQLITE_OK) {
		e = index_err(ix, "id map");
		pthread_mutex_unlock(&ix->mu);
		return e;
	}
	sqlite3_bind_blob(st, 1, old, 32, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
		memcpy(ret_new, sqlite3_column_blob(st, 0), 32);
		e = 0;
	} else {
		e = rc == SQLITE_DONE || rc == SQLITE_ROW ? CAIRN_ENOTFOUND : index_err(ix, "id map");
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&ix->mu);
	return e;
}

int index_map_put(struct index *ix, const uint8_t old[32], const uint8_t new_id[32])
{
	sqlite3_stmt *st;
	int e = 0;
	pthread_mutex_lock(&ix->mu);
	if (sqlite3_prepare_v2(ix->db, "INSERT OR REPLACE INTO idmap(old, new) VALUES(?1, ?2)", -1,
			       &st, NULL) != SQLITE_OK) {
		e = index_err(ix, "id map");
		pthread_mutex_unlock(&ix->mu);
		return e;
	}
	sqlite3_bind_blob(st, 1, old, 32, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, new_id, 32, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		e = index_err(ix, "id map");
	sqlite3_finalize(st);
	pthread_mutex_unlock(&ix->mu);
	return e;
}
