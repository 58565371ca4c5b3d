/*
 * checkdb.c - the checker's scratch database (see checkdb.h).
 *
 * Schema:
 *   packs(pid, id UNIQUE, size, isize, flags)
 *   files(fid, id UNIQUE)                       index files
 *   filepacks(fid, pid)                         which file lists which pack
 *   blobs(id, type, pid, off, len, rawlen, bad) PRIMARY KEY(id, type, pid)
 *   hdr(id, type, pid)                          headers of unindexed packs
 *   visited(id, type, state, files, bytes)      trees and LIST blobs walked
 *   problems(sev, kind, object, message)
 *   damage(id, type, reason, sidx, path, off)   references to lost blobs
 *   dfiles(sidx, path, is_dir, size, intact)    damaged files, lost folders
 * No journal and no fsync: the file is thrown away at the end.
 */
#include "cairn/common.h"
#include "cairn/checkdb.h"
#include "cairn/log.h"

#include <errno.h>
#include <sqlite3.h>
#include <unistd.h>

enum {
	S_PACK_FOUND, S_PACK_FOUND_UPD, S_FILE_ADD, S_PACK_INDEXED, S_PACK_PID, S_FILEPACK_ADD,
	S_BLOB_ADD, S_PACK_FLAGS, S_PACKS_NEXT, S_PACK_GET, S_PACK_ENTRIES, S_MARK_ENTRY,
	S_MARK_PACK, S_MARK_PAST, S_HDR_ADD, S_PACK_FILES, S_BLOB_STATE, S_BLOB_LOCS,
	S_BLOB_ELSEWHERE, S_BLOB_HDR, S_VISIT_GET, S_VISIT_SET, S_PROBLEM_ADD, S_DAMAGE_ADD,
	S_DFILE_ADD, S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
	[S_PACK_FOUND] = "INSERT OR IGNORE INTO packs(id, size, flags) VALUES(?1, ?2, 1)",
	[S_PACK_FOUND_UPD] = "UPDATE packs SET size = ?2, flags = flags | 1 WHERE id = ?1",
	[S_FILE_ADD] = "INSERT INTO files(id) VALUES(?1)",
	[S_PACK_INDEXED] = "INSERT INTO packs(id, isize, flags) VALUES(?1, ?2, 2)"
			   " ON CONFLICT(id) DO UPDATE SET flags = flags | 2,"
			   " isize = coalesce(isize, ?2)",
	[S_PACK_PID] = "SELECT pid FROM packs WHERE id = ?1",
	[S_FILEPACK_ADD] = "INSERT OR IGNORE INTO filepacks(fid, pid) VALUES(?1, ?2)",
	[S_BLOB_ADD] = "INSERT OR IGNORE INTO blobs(id, type, pid, off, len, rawlen)"
		       " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[S_PACK_FLAGS] = "UPDATE packs SET flags = flags | ?2 WHERE pid = ?1",
	[S_PACKS_NEXT] = "SELECT pid, id, size, isize, flags,"
			 " (SELECT count(*) FROM filepacks f WHERE f.pid = p.pid)"
			 " FROM packs p WHERE pid > ?1 ORDER BY pid LIMIT ?2",
	[S_PACK_GET] = "SELECT pid, id, size, isize, flags,"
		       " (SELECT count(*) FROM filepacks f WHERE f.pid = p.pid)"
		       " FROM packs p WHERE id = ?1",
	[S_PACK_ENTRIES] = "SELECT id, type, off, len, rawlen FROM blobs WHERE pid = ?1"
			   " ORDER BY off",
	[S_MARK_ENTRY] = "UPDATE blobs SET bad = ?4 WHERE pid = ?1 AND type = ?2 AND id = ?3"
			 " AND bad = 0",
	[S_MARK_PACK] = "UPDATE blobs SET bad = ?2 WHERE pid = ?1 AND bad = 0",
	[S_MARK_PAST] = "UPDATE blobs SET bad = 2 WHERE pid = ?1 AND bad = 0 AND off + len > ?2",
	[S_HDR_ADD] = "INSERT INTO hdr(id, type, pid) VALUES(?1, ?2, ?3)",
	[S_PACK_FILES] = "SELECT f.id FROM filepacks fp JOIN files f ON f.fid = fp.fid"
			 " WHERE fp.pid = ?1 ORDER BY f.id",
	[S_BLOB_STATE] = "SELECT min(bad) FROM blobs WHERE id = ?1 AND type = ?2",
	[S_BLOB_LOCS] = "SELECT b.pid, p.id, b.off, b.len, b.rawlen, b.bad FROM blobs b"
			" JOIN packs p ON p.pid = b.pid WHERE b.id = ?1 AND b.type = ?2"
			" ORDER BY b.bad, b.pid LIMIT ?3",
	[S_BLOB_ELSEWHERE] = "SELECT 1 FROM blobs b JOIN packs p ON p.pid = b.pid"
			     " WHERE b.id = ?1 AND b.type = ?2 AND b.bad = 0"
			     " AND (p.flags & 1) AND NOT (p.flags & 256) LIMIT 1",
	[S_BLOB_HDR] = "SELECT p.id FROM hdr h JOIN packs p ON p.pid = h.pid"
		       " WHERE h.id = ?1 AND h.type = ?2 LIMIT 1",
	[S_VISIT_GET] = "SELECT state, files, bytes, reason FROM visited"
			" WHERE id = ?1 AND type = ?2",
	[S_VISIT_SET] = "INSERT OR REPLACE INTO visited(id, type, state, files, bytes, reason)"
			" VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[S_PROBLEM_ADD] = "INSERT INTO problems(sev, kind, object, message) VALUES(?1, ?2, ?3, ?4)",
	[S_DAMAGE_ADD] = "INSERT OR IGNORE INTO damage(id, type, reason, sidx, path, off)"
			 " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[S_DFILE_ADD] = "INSERT INTO dfiles(sidx, path, is_dir, size, intact)"
			" VALUES(?1, ?2, ?3, ?4, ?5)",
};

struct checkdb {
	sqlite3 *db;
	sqlite3_stmt *st[S_COUNT];
	char *path;
};

static const char schema[] =
	"PRAGMA journal_mode=OFF;"
	"PRAGMA synchronous=OFF;"
	"PRAGMA temp_store=FILE;"
	"CREATE TABLE packs(pid INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE, size INTEGER,"
	" isize INTEGER, flags INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE files(fid INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE);"
	"CREATE TABLE filepacks(fid INTEGER NOT NULL, pid INTEGER NOT NULL,"
	" PRIMARY KEY(pid, fid)) WITHOUT ROWID;"
	"CREATE TABLE blobs(id BLOB NOT NULL, type INTEGER NOT NULL, pid INTEGER NOT NULL,"
	" off INTEGER NOT NULL, len INTEGER NOT NULL, rawlen INTEGER NOT NULL,"
	" bad INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(id, type, pid)) WITHOUT ROWID;"
	"CREATE TABLE hdr(id BLOB NOT NULL, type INTEGER NOT NULL, pid INTEGER NOT NULL);"
	"CREATE INDEX hdr_id ON hdr(id, type);"
	"CREATE TABLE visited(id BLOB NOT NULL, type INTEGER NOT NULL, state INTEGER NOT NULL,"
	" files INTEGER NOT NULL, bytes INTEGER NOT NULL, reason INTEGER NOT NULL,"
	" PRIMARY KEY(id, type)) WITHOUT ROWID;"
	"CREATE TABLE problems(sev INTEGER NOT NULL, kind TEXT NOT NULL, object TEXT NOT NULL,"
	" message TEXT NOT NULL);"
	"CREATE TABLE damage(id BLOB NOT NULL, type INTEGER NOT NULL, reason INTEGER NOT NULL,"
	" sidx INTEGER NOT NULL, path BLOB NOT NULL, off INTEGER NOT NULL);"
	"CREATE UNIQUE INDEX damage_ref ON damage(type, id, sidx, path);"
	"CREATE TABLE dfiles(sidx INTEGER NOT NULL, path BLOB NOT NULL, is_dir INTEGER NOT NULL,"
	" size INTEGER NOT NULL, intact INTEGER NOT NULL);";

/* The one place SQLite's codes become ours; logs what failed. */
static int checkdb_err(struct checkdb *db, const char *what)
{
	log_error("check database %s: %s failed: %s", db->path ? db->path : "?", what,
		  db->db ? sqlite3_errmsg(db->db) : "cannot open");
	int c = db->db ? sqlite3_errcode(db->db) : SQLITE_CANTOPEN;
	return c == SQLITE_FULL ? CAIRN_ENOSPC : c == SQLITE_NOMEM ? CAIRN_ENOMEM : CAIRN_EIO;
}

const char *checkdb_reason_text(int reason)
{
	switch (reason) {
	case CHECKDB_OK: return "intact";
	case CHECKDB_LOST_PACK_MISSING: return "its pack is missing";
	case CHECKDB_LOST_PAST_END: return "its pack is shorter than the index says (truncated)";
	case CHECKDB_LOST_NOT_IN_HEADER: return "its pack's header does not list it there";
	case CHECKDB_LOST_DAMAGED: return "it is damaged (does not decrypt or match its id)";
	case CHECKDB_LOST_UNREADABLE: return "it could not be read (I/O error)";
	case CHECKDB_LOST_NOT_INDEXED: return "it is not in any index file";
	}
	return "unknown";
}

int checkdb_open(const char *dir, struct checkdb **ret)
{
	struct checkdb *db = calloc(1, sizeof(*db));
	if (!db)
		return CAIRN_ENOMEM;
	size_t n = strlen(dir) + 32;
	db->path = malloc(n);
	if (!db->path) {
		free(db);
		return CAIRN_ENOMEM;
	}
	snprintf(db->path, n, "%s/check-XXXXXX", dir);
	int fd = mkstemp(db->path), e;
	if (fd < 0) {
		log_error("cannot create a scratch file in %s: %s (set CAIRN_CACHE_DIR or "
			  "--cache-dir to a writable folder)",
			  dir, strerror(errno));
		e = cairn_from_errno(errno);
		goto fail;
	}
	close(fd);
	int rc = sqlite3_open_v2(db->path, &db->db, SQLITE_OPEN_READWRITE, NULL);
	/* No journal: the main file is the only one SQLite opens, so it can go now. */
	unlink(db->path);
	if (rc != SQLITE_OK) {
		e = checkdb_err(db, "open");
		goto fail;
	}
	char pragma[64];
	snprintf(pragma, sizeof(pragma), "PRAGMA cache_size=-%d;", CHECKDB_CACHE_KIB);
	if (sqlite3_exec(db->db, schema, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db->db, pragma, NULL, NULL, NULL) != SQLITE_OK) {
		e = checkdb_err(db, "create schema");
		goto fail;
	}
	for (size_t i = 0; i < S_COUNT; i++) {
		if (sqlite3_prepare_v3(db->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &db->st[i], NULL) != SQLITE_OK) {
			e = checkdb_err(db, "prepare");
			goto fail;
		}
	}
	*ret = db;
	return 0;
fail:
	checkdb_free(db);
	return e;
}

void checkdb_free(struct checkdb *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < S_COUNT; i++)
		sqlite3_finalize(db->st[i]);
	sqlite3_close(db->db);
	free(db->path);
	free(db);
}

/* A prepared statement, reset and unbound. */
static sqlite3_stmt *st(struct checkdb *db, int which)
{
	sqlite3_stmt *s = db->st[which];
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

/* Steps a statement that returns no rows. */
static int run(struct checkdb *db, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : checkdb_err(db, what);
}

static int exec(struct checkdb *db, const char *sql)
{
	return sqlite3_exec(db->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : checkdb_err(db, sql);
}

int checkdb_begin(struct checkdb *db)
{
	return exec(db, "BEGIN");
}

int checkdb_commit(struct checkdb *db)
{
	return exec(db, "COMMIT");
}

int checkdb_index_loaded(struct checkdb *db)
{
	/* built once after the bulk load: cheaper than kept up during it */
	return exec(db, "CREATE INDEX IF NOT EXISTS blobs_pid ON blobs(pid);");
}

int checkdb_pack_found(struct checkdb *db, const uint8_t id[32], uint64_t size)
{
	sqlite3_stmt *s = st(db, S_PACK_FOUND);
	sqlite3_bind_blob(s, 1, id, 32, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)size);
	int e = run(db, s, "insert pack");
	if (e == 0 && sqlite3_changes(db->db) == 0) {
		s = st(db, S_PACK_FOUND_UPD);
		sqlite3_bind_blob(s, 1, id, 32, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)size);
		e = run(db, s, "update pack");
	}
	return e;
}

int checkdb_add_index_file(struct checkdb *db, const uint8_t id[32], int64_t *ret_fid)
{
	sqlite3_stmt *s = st(db, S_FILE_ADD);
	sqlite3_bind_blob(s, 1, id, 32, SQLITE_STATIC);
	int e = run(db, s, "insert index file");
	if (e == 0)
		*ret_fid = sqlite3_last_insert_rowid(db->db);
	return e;
}

/* The row id of a pack, or CAIRN_ENOTFOUND. */
static int pack_pid(struct checkdb *db, const uint8_t id[32], int64_t *ret)
{
	sqlite3_stmt *s = st(db, S_PACK_PID);
	sqlite3_bind_blob(s, 1, id, 32, SQLITE_STATIC);
	int rc = sqlite3_step(s), e = 0;
	if (rc == SQLITE_ROW)
		*ret = sqlite3_column_int64(s, 0);
	else if (rc == SQLITE_DONE)
		e = CAIRN_ENOTFOUND;
	else
		e = checkdb_err(db, "find pack");
	sqlite3_reset(s);
	return e;
}

int checkdb_add_index_pack(struct checkdb *db, int64_t fid, const uint8_t pack_id[32],
			   uint64_t pack_size, const struct pack_entry *e, size_t n)
{
	sqlite3_stmt *s = st(db, S_PACK_INDEXED);
	int64_t pid = 0;
	sqlite3_bind_blob(s, 1, pack_id, 32, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)pack_size);
	int err = run(db, s, "insert indexed pack");
	if (err == 0)
		err = pack_pid(db, pack_id, &pid);
	if (err < 0)
		return err == CAIRN_ENOTFOUND ? checkdb_err(db, "find pack") : err;
	s = st(db, S_FILEPACK_ADD);
	sqlite3_bind_int64(s, 1, fid);
	sqlite3_bind_int64(s, 2, pid);
	err = run(db, s, "insert file pack");
	for (size_t i = 0; i < n && err == 0; i++) {
		s = st(db, S_BLOB_ADD);
		sqlite3_bind_blob(s, 1, e[i].id, 32, SQLITE_STATIC);
		sqlite3_bind_int(s, 2, e[i].type);
		sqlite3_bind_int64(s, 3, pid);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)e[i].offset);
		sqlite3_bind_int64(s, 5, e[i].length);
		sqlite3_bind_int64(s, 6, e[i].raw_length);
		err = run(db, s, "insert blob");
	}
	return err;
}

int checkdb_pack_set_flags(struct checkdb *db, int64_t pid, unsigned flags)
{
	sqlite3_stmt *s = st(db, S_PACK_FLAGS);
	sqlite3_bind_int64(s, 1, pid);
	sqlite3_bind_int64(s, 2, flags);
	return run(db, s, "update pack flags");
}

/* Fills a checkdb_pack from a S_PACKS_NEXT / S_PACK_GET row. */
static void pack_row(sqlite3_stmt *s, struct checkdb_pack *p)
{
	memset(p, 0, sizeof(*p));
	p->pid = sqlite3_column_int64(s, 0);
	if (sqlite3_column_bytes(s, 1) == 32)
		memcpy(p->id, sqlite3_column_blob(s, 1), 32);
	p->size = (uint64_t)sqlite3_column_int64(s, 2);
	p->indexed_size = (uint64_t)sqlite3_column_int64(s, 3);
	p->flags = (unsigned)sqlite3_column_int64(s, 4);
	p->n_index_files = (uint64_t)sqlite3_column_int64(s, 5);
}

int checkdb_packs_next(struct checkdb *db, int64_t after, struct checkdb_pack *out, size_t cap,
		       size_t *ret_n)
{
	sqlite3_stmt *s = st(db, S_PACKS_NEXT);
	sqlite3_bind_int64(s, 1, after);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)cap);
	size_t n = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < cap)
		pack_row(s, &out[n++]);
	int e = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : checkdb_err(db, "list packs");
	sqlite3_reset(s);
	*ret_n = n;
	return e;
}

int checkdb_pack_get(struct checkdb *db, const uint8_t id[32], struct checkdb_pack *ret)
{
	sqlite3_stmt *s = st(db, S_PACK_GET);
	sqlite3_bind_blob(s, 1, id, 32, SQLITE_STATIC);
	int rc = sqlite3_step(s), e = 0;
	if (rc == SQLITE_ROW)
		pack_row(s, ret);
	else if (rc == SQLITE_DONE)
		e = CAIRN_ENOTFOUND;
	else
		e = checkdb_err(db, "find pack");
	sqlite3_reset(s);
	return e;
}

int checkdb_pack_find_prefix(struct checkdb *db, const char *prefix, struct checkdb_pack *out,
			     size_t cap, size_t *ret_n)
{
	size_t n = strlen(prefix);
	uint8_t lo[32], hi[32];
	char full[65];
	*ret_n = 0;
	if (n == 0 || n > 64)
		return CAIRN_EINVAL;
	memcpy(full, prefix, n);
	memset(full + n, '0', 64 - n);
	full[64] = 0;
	if (hex_decode(full, lo, 32) < 0)
		return CAIRN_EINVAL;
	memset(full + n, 'f', 64 - n);
	if (hex_decode(full, hi, 32) < 0)
		return CAIRN_EINVAL;
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db->db,
			       "SELECT pid, id, size, isize, flags,"
			       " (SELECT count(*) FROM filepacks f WHERE f.pid = p.pid)"
			       " FROM packs p WHERE id >= ?1 AND id <= ?2 ORDER BY id",
			       -1, &s, NULL) != SQLITE_OK)
		return checkdb_err(db, "prepare");
	sqlite3_bind_blob(s, 1, lo, 32, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, hi, 32, SQLITE_STATIC);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (*ret_n < cap)
			pack_row(s, &out[*ret_n]);
		(*ret_n)++;
	}
	int e = rc == SQLITE_DONE ? 0 : checkdb_err(db, "find packs");
	sqlite3_finalize(s);
	return e;
}

int checkdb_select_random(struct checkdb *db, uint64_t k)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db->db,
			       "UPDATE packs SET flags = flags | 128 WHERE pid IN (SELECT pid FROM"
			       " packs WHERE flags & 1 ORDER BY random() LIMIT ?1)",
			       -1, &s, NULL) != SQLITE_OK)
		return checkdb_err(db, "prepare");
	sqlite3_bind_int64(s, 1, (sqlite3_int64)k);
	int e = sqlite3_step(s) == SQLITE_DONE ? 0 : checkdb_err(db, "select packs");
	sqlite3_finalize(s);
	return e;
}

int checkdb_pack_entries(struct checkdb *db, int64_t pid, struct pack_entry **ret, size_t *ret_n)
{
	sqlite3_stmt *s = st(db, S_PACK_ENTRIES);
	struct pack_entry *v = NULL;
	size_t n = 0, cap = 0;
	int rc, e = 0;
	sqlite3_bind_int64(s, 1, pid);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 256;
			struct pack_entry *p = realloc(v, nc * sizeof(*v));
			if (!p) {
				e = CAIRN_ENOMEM;
				break;
			}
			v = p;
			cap = nc;
		}
		struct pack_entry *pe = &v[n++];
		memset(pe, 0, sizeof(*pe));
		if (sqlite3_column_bytes(s, 0) == 32)
			memcpy(pe->id, sqlite3_column_blob(s, 0), 32);
		pe->type = (uint8_t)sqlite3_column_int(s, 1);
		pe->offset = (uint64_t)sqlite3_column_int64(s, 2);
		pe->length = (uint32_t)sqlite3_column_int64(s, 3);
		pe->raw_length = (uint32_t)sqlite3_column_int64(s, 4);
	}
	if (e == 0 && rc != SQLITE_DONE)
		e = checkdb_err(db, "list pack entries");
	sqlite3_reset(s);
	if (e < 0) {
		free(v);
		return e;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int checkdb_mark_entry(struct checkdb *db, int64_t pid, unsigned type, const uint8_t id[32],
		       int reason)
{
	sqlite3_stmt *s = st(db, S_MARK_ENTRY);
	sqlite3_bind_int64(s, 1, pid);
	sqlite3_bind_int(s, 2, (int)type);
	sqlite3_bind_blob(s, 3, id, 32, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, reason);
	return run(db, s, "mark blob");
}

int checkdb_mark_pack(struct checkdb *db, int64_t pid, int reason)
{
	sqlite3_stmt *s = st(db, S_MARK_PACK);
	sqlite3_bind_int64(s, 1, pid);
	sqlite3_bind_int(s, 2, reason);
	return run(db, s, "mark pack blobs");
}

int checkdb_mark_past_end(struct checkdb *db, int64_t pid, uint64_t size, uint64_t *ret_n)
{
	sqlite3_stmt *s = st(db, S_MARK_PAST);
	sqlite3_bind_int64(s, 1, pid);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)size);
	int e = run(db, s, "mark truncated blobs");
	*ret_n = e == 0 ? (uint64_t)sqlite3_changes(db->db) : 0;
	return e;
}

int checkdb_add_header(struct checkdb *db, int64_t pid, const struct pack_entry *e, size_t n)
{
	int err = 0;
	for (size_t i = 0; i < n && err == 0; i++) {
		sqlite3_stmt *s = st(db, S_HDR_ADD);
		sqlite3_bind_blob(s, 1, e[i].id, 32, SQLITE_STATIC);
		sqlite3_bind_int(s, 2, e[i].type);
		sqlite3_bind_int64(s, 3, pid);
		err = run(db, s, "insert header entry");
	}
	return err;
}

int checkdb_pack_index_files(struct checkdb *db, int64_t pid, uint8_t (**ret)[32], size_t *ret_n)
{
	sqlite3_stmt *s = st(db, S_PACK_FILES);
	uint8_t (*v)[32] = NULL;
	size_t n = 0, cap = 0;
	int rc, e = 0;
	sqlite3_bind_int64(s, 1, pid);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(s, 0) != 32)
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			void *p = realloc(v, nc * 32);
			if (!p) {
				e = CAIRN_ENOMEM;
				break;
			}
			v = p;
			cap = nc;
		}
		memcpy(v[n++], sqlite3_column_blob(s, 0), 32);
	}
	if (e == 0 && rc != SQLITE_DONE)
		e = checkdb_err(db, "list index files of a pack");
	sqlite3_reset(s);
	if (e < 0) {
		free(v);
		return e;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int checkdb_packs_foreach(struct checkdb *db, unsigned flags,
			  int (*fn)(void *arg, const struct checkdb_pack *p), void *arg)
{
	/* In batches, so fn may change the database between them. */
	struct checkdb_pack batch[64];
	int64_t after = 0;
	for (;;) {
		size_t n;
		int e = checkdb_packs_next(db, after, batch, CAIRN_ARRAY_LEN(batch), &n);
		if (e < 0)
			return e;
		if (n == 0)
			return 0;
		for (size_t i = 0; i < n; i++) {
			if ((batch[i].flags & flags) != flags)
				continue;
			e = fn(arg, &batch[i]);
			if (e)
				return e;
		}
		after = batch[n - 1].pid;
	}
}

int checkdb_blob_state(struct checkdb *db, unsigned type, const uint8_t id[32])
{
	sqlite3_stmt *s = st(db, S_BLOB_STATE);
	sqlite3_bind_blob(s, 1, id, 32, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, (int)type);
	int rc = sqlite3_step(s), e;
	if (rc == SQLITE_ROW)
		e = sqlite3_column_type(s, 0) == SQLITE_NULL ? CHECKDB_LOST_NOT_INDEXED
							     : sqlite3_column_int(s, 0);
	else
		e = checkdb_err(db, "blob state");
	sqlite3_reset(s);
	return e;
}

int checkdb_blob_locs(struct checkdb *db, unsigned type, const uint8_t id[32],
		      struct checkdb_loc *out, size_t cap, size_t *ret_n)
{
	sqlite3_stmt *s = st(db, S_BLOB_LOCS);
	sqlite3_bind_blob(s, 1, id, 32, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, (int)type);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)cap);
	size_t n = 0;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < cap) {
		struct checkdb_loc *l = &out[n++];
		memset(l, 0, sizeof(*l));
		l->pid = sqlite3_column_int64(s, 0);
		if (sqlite3_column_bytes(s, 1) == 32)
			memcpy(l->pack_id, sqlite3_column_blob(s, 1), 32);
		l->offset = (uint64_t)sqlite3_column_int64(s, 2);
		l->length = (uint32_t)sqlite3_column_int64(s, 3);
		l->raw_length = (uint32_t)sqlite3_column_int64(s, 4);
		l->reason = sqlite3_column_int(s, 5);
	}
	int e = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : checkdb_err(db, "blob locations");
	sqlite3_reset(s);
	*ret_n = n;
	return e;
}

/* Runs a one-row existence query bound to (id, type): 1, 0 or an error;
 * copies a 32-byte first column into ret when given. */
static int exists(struct checkdb *db, int which, unsigned type, const uint8_t id[32],
		  uint8_t ret[32])
{
	sqlite3_stmt *s = st(db, which);
	sqlite3_bind_blob(s, 1, id, 32, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, (int)type);
	int rc = sqlite3_step(s), e;
	if (rc == SQLITE_ROW) {
		e = 1;
		if (ret && sqlite3_column_bytes(s, 0) == 32)
			memcpy(ret, sqlite3_column_blob(s, 0), 32);
	} else if (rc == SQLITE_DONE) {
		e = 0;
	} else {
		e = checkdb_err(db, "blob look-up");
	}
	sqlite3_reset(s);
	return e;
}

int checkdb_blob_elsewhere(struct checkdb *db, unsigned type, const uint8_t id[32])
{
	return exists(db, S_BLOB_ELSEWHERE, type, id, NULL);
}

int checkdb_blob_unindexed_pack(struct checkdb *db, unsigned type, const uint8_t id[32],
				uint8_t ret_pack[32])
{
	return exists(db, S_BLOB_HDR, type, id, ret_pack);
}

int checkdb_blob_counts(struct checkdb *db, uint64_t *ret_blobs, uint64_t *ret_duplicates)
{
	sqlite3_stmt *s;
	int e = 0;
	if (sqlite3_prepare_v2(db->db,
			       "SELECT count(*), coalesce(sum(n > 1), 0) FROM"
			       " (SELECT count(*) AS n FROM blobs GROUP BY id, type)",
			       -1, &s, NULL) != SQLITE_OK)
		return checkdb_err(db, "prepare");
	if (sqlite3_step(s) == SQLITE_ROW) {
		*ret_blobs = (uint64_t)sqlite3_column_int64(s, 0);
		*ret_duplicates = (uint64_t)sqlite3_column_int64(s, 1);
	} else {
		e = checkdb_err(db, "count blobs");
	}
	sqlite3_finalize(s);
	return e;
}

int checkdb_visit_get(struct checkdb *db, unsigned type, const uint8_t id[32],
		      struct checkdb_visit *ret)
{
	sqlite3_stmt *s = st(db, S_VISIT_GET);
	sqlite3_bind_blob(s, 1, id, 32, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, (int)type);
	int rc = sqlite3_step(s), e;
	if (rc == SQLITE_ROW) {
		ret->state = sqlite3_column_int(s, 0);
		ret->files = (uint64_t)sqlite3_column_int64(s, 1);
		ret->bytes = (uint64_t)sqlite3_column_int64(s, 2);
		ret->reason = sqlite3_column_int(s, 3);
		e = 1;
	} else if (rc == SQLITE_DONE) {
		e = 0;
	} else {
		e = checkdb_err(db, "visited look-up");
	}
	sqlite3_reset(s);
	return e;
}

int checkdb_visit_set(struct checkdb *db, unsigned type, const uint8_t id[32],
		      const struct checkdb_visit *v)
{
	sqlite3_stmt *s = st(db, S_VISIT_SET);
	sqlite3_bind_blob(s, 1, id, 32, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, (int)type);
	sqlite3_bind_int(s, 3, v->state);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)v->files);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)v->bytes);
	sqlite3_bind_int(s, 6, v->reason);
	return run(db, s, "record visited");
}

int checkdb_problem_add(struct checkdb *db, int severity, const char *kind, const char *object,
			const char *message)
{
	sqlite3_stmt *s = st(db, S_PROBLEM_ADD);
	sqlite3_bind_int(s, 1, severity);
	sqlite3_bind_text(s, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, object, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, message, -1, SQLITE_STATIC);
	return run(db, s, "record problem");
}

int checkdb_problem_counts(struct checkdb *db, uint64_t ret[3])
{
	sqlite3_stmt *s;
	ret[0] = ret[1] = ret[2] = 0;
	if (sqlite3_prepare_v2(db->db, "SELECT sev, count(*) FROM problems GROUP BY sev", -1, &s,
			       NULL) != SQLITE_OK)
		return checkdb_err(db, "prepare");
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int sev = sqlite3_column_int(s, 0);
		if (sev >= 0 && sev <= 2)
			ret[sev] = (uint64_t)sqlite3_column_int64(s, 1);
	}
	int e = rc == SQLITE_DONE ? 0 : checkdb_err(db, "count problems");
	sqlite3_finalize(s);
	return e;
}

int checkdb_walk_reset(struct checkdb *db)
{
	return exec(db, "DELETE FROM visited; DELETE FROM damage; DELETE FROM dfiles;"
			" DELETE FROM problems WHERE kind LIKE 'snapshot-%';");
}

int checkdb_problems_foreach(struct checkdb *db,
			     int (*fn)(void *arg, const struct checkdb_problem *p), void *arg)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db->db,
			       "SELECT sev, kind, object, message FROM problems ORDER BY rowid", -1,
			       &s, NULL) != SQLITE_OK)
		return checkdb_err(db, "prepare");
	int rc, e = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct checkdb_problem p = {
			.severity = sqlite3_column_int(s, 0),
			.kind = (const char *)sqlite3_column_text(s, 1),
			.object = (const char *)sqlite3_column_text(s, 2),
			.message = (const char *)sqlite3_column_text(s, 3),
		};
		if (!p.kind || !p.object || !p.message)
			continue;
		e = fn(arg, &p);
		if (e)
			break;
	}
	if (e == 0 && rc != SQLITE_DONE)
		e = checkdb_err(db, "list problems");
	sqlite3_finalize(s);
	return e;
}

int checkdb_damage_add(struct checkdb *db, unsigned type, const uint8_t id[32], int reason,
		       uint64_t sidx, const char *path, uint64_t off)
{
	sqlite3_stmt *s = st(db, S_DAMAGE_ADD);
	sqlite3_bind_blob(s, 1, id, 32, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, (int)type);
	sqlite3_bind_int(s, 3, reason);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)sidx);
	/* paths are bytes (not necessarily UTF-8): stored as BLOB */
	sqlite3_bind_blob(s, 5, path, (int)strlen(path), SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, (sqlite3_int64)off);
	return run(db, s, "record damage");
}

/* A BLOB column as a NUL-terminated string in b. */
static const char *col_str(sqlite3_stmt *s, int col, struct buf *b)
{
	buf_reset(b);
	int n = sqlite3_column_bytes(s, col);
	const void *p = sqlite3_column_blob(s, col);
	if (p && n > 0)
		buf_put(b, p, (size_t)n);
	buf_terminate(b);
	return b->data ? (const char *)b->data : "";
}

int checkdb_damage_foreach(struct checkdb *db,
			   int (*fn)(void *arg, const struct checkdb_damage *d), void *arg)
{
	sqlite3_stmt *s;
	struct buf path = BUF_INIT;
	if (sqlite3_prepare_v2(db->db,
			       "SELECT id, type, reason, sidx, path, off FROM damage"
			       " ORDER BY type, id, sidx, path, off",
			       -1, &s, NULL) != SQLITE_OK)
		return checkdb_err(db, "prepare");
	int rc, e = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct checkdb_damage d;
		memset(&d, 0, sizeof(d));
		if (sqlite3_column_bytes(s, 0) == 32)
			memcpy(d.id, sqlite3_column_blob(s, 0), 32);
		d.type = (unsigned)sqlite3_column_int(s, 1);
		d.reason = sqlite3_column_int(s, 2);
		d.sidx = (uint64_t)sqlite3_column_int64(s, 3);
		d.path = col_str(s, 4, &path);
		d.off = (uint64_t)sqlite3_column_int64(s, 5);
		if ((e = buf_ok(&path)) < 0)
			break;
		e = fn(arg, &d);
		if (e)
			break;
	}
	if (e == 0 && rc != SQLITE_DONE)
		e = checkdb_err(db, "list damage");
	sqlite3_finalize(s);
	buf_free(&path);
	return e;
}

int checkdb_dfile_add(struct checkdb *db, uint64_t sidx, const char *path, int is_dir,
		      uint64_t size, uint64_t intact)
{
	sqlite3_stmt *s = st(db, S_DFILE_ADD);
	sqlite3_bind_int64(s, 1, (sqlite3_int64)sidx);
	sqlite3_bind_blob(s, 2, path, (int)strlen(path), SQLITE_STATIC);
	sqlite3_bind_int(s, 3, is_dir);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)size);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)intact);
	return run(db, s, "record damaged file");
}

int checkdb_dfiles_foreach(struct checkdb *db, uint64_t sidx,
			   int (*fn)(void *arg, const struct checkdb_dfile *f), void *arg)
{
	sqlite3_stmt *s;
	struct buf path = BUF_INIT;
	if (sqlite3_prepare_v2(db->db,
			       "SELECT path, is_dir, size, intact FROM dfiles WHERE sidx = ?1"
			       " ORDER BY path",
			       -1, &s, NULL) != SQLITE_OK)
		return checkdb_err(db, "prepare");
	sqlite3_bind_int64(s, 1, (sqlite3_int64)sidx);
	int rc, e = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct checkdb_dfile f = {
			.path = col_str(s, 0, &path),
			.is_dir = sqlite3_column_int(s, 1),
			.size = (uint64_t)sqlite3_column_int64(s, 2),
			.intact = (uint64_t)sqlite3_column_int64(s, 3),
		};
		if ((e = buf_ok(&path)) < 0)
			break;
		e = fn(arg, &f);
		if (e)
			break;
	}
	if (e == 0 && rc != SQLITE_DONE)
		e = checkdb_err(db, "list damaged files");
	sqlite3_finalize(s);
	buf_free(&path);
	return e;
}
