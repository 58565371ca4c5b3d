/*
 * dumpcheck.c - recognising and checking database dumps as they stream
 * (see dumpcheck.h).
 *
 * The first HEAD_MAX bytes are held back until the format is decided,
 * then replayed into the format's checker. The last TAIL_MAX bytes are
 * always kept aside: the trailers (pg_dump's completion comment, the RDB
 * checksum) are there. For an RDB, bytes are added to the CRC-64 as they
 * leave that window, so at the end the CRC covers everything before the
 * window and can be finished over any prefix of it.
 *
 * The custom-format (-Fc) checker is a resumable parser: a state names
 * the field expected next (a byte, an integer, a string length, a data
 * offset); the bytes of that field are gathered in a small scratch
 * buffer across feed calls, string bodies and data chunks are skipped by
 * counting. Layout as written by PostgreSQL's pg_backup_archiver.c
 * (WriteHead, WriteToc) and pg_backup_custom.c (_WriteExtraToc, data
 * blocks), summarised in man/cairn-databases.7.
 */
#include "cairn/common.h"
#include "cairn/dumpcheck.h"
#include "cairn/buf.h"

#include <stdarg.h>

#define HEAD_MAX 256		/* bytes held from the start: detection, \restrict */
#define TAIL_MAX 512		/* bytes kept from the end: trailers */
#define CRC64_JONES_REFLECTED 0x95ac9329ac4bc9b5ULL
#define RDB_MARK_LEN 40		/* redis-cli's diskless EOF mark, hex */
#define RDB_VERSION_MAX 12
#define PG_STR_MAX (1u << 30)	/* PostgreSQL's allocation limit */
#define PG_DEPS_MAX (1u << 20)	/* dependencies of one TOC entry */
#define PG_KEY_MAX 128		/* \restrict key length */

static const char PG_HEADER[] = "--\n-- PostgreSQL database dump\n--\n";
static const char PGALL_HEADER[] = "--\n-- PostgreSQL database cluster dump\n--\n";
static const char PG_TRAILER[] = "\n-- PostgreSQL database dump complete\n--";
static const char PGALL_TRAILER[] = "\n-- PostgreSQL database cluster dump complete\n--";

/* What the custom-format parser expects next; the order of the TOC entry
 * fields is the order on disk (absent fields of older versions skipped). */
enum pgc_state {
	PGC_MAGIC,
	PGC_VMAJ,
	PGC_VMIN,
	PGC_VREV,
	PGC_INTSIZE,
	PGC_OFFSIZE,
	PGC_FORMAT,
	PGC_COMPRESS_ALG,	/* 1.15+: algorithm byte */
	PGC_COMPRESS_LEVEL,	/* before 1.15: zlib level */
	PGC_TIME,		/* 7 integers: struct tm */
	PGC_DBNAME,
	PGC_REMOTE_VERSION,
	PGC_DUMP_VERSION,
	PGC_TOC_COUNT,
	PGC_TE_ID,
	PGC_TE_HAD_DUMPER,
	PGC_TE_TABLEOID,
	PGC_TE_OID,
	PGC_TE_TAG,
	PGC_TE_DESC,
	PGC_TE_SECTION,		/* 1.11+ */
	PGC_TE_DEFN,
	PGC_TE_DROP,
	PGC_TE_COPY,
	PGC_TE_NAMESPACE,
	PGC_TE_TABLESPACE,
	PGC_TE_TABLEAM,		/* 1.14+ */
	PGC_TE_RELKIND,		/* 1.16+ */
	PGC_TE_OWNER,
	PGC_TE_WITH_OIDS,
	PGC_TE_DEP,		/* strings until a NULL one */
	PGC_TE_OFFSET,
	PGC_TE_FILE,		/* directory format: the entry's data file name */
	PGC_DIR_END,		/* directory format: toc.dat must end here */
	PGC_BLK_TYPE,
	PGC_BLK_ID,
	PGC_CHUNK_LEN,
	PGC_BLOB_OID,
	PGC_FAILED,
};

enum { PG_COMPRESS_NONE, PG_COMPRESS_GZIP, PG_COMPRESS_LZ4, PG_COMPRESS_ZSTD };

struct pgc {
	enum pgc_state state;
	uint8_t scratch[24];
	unsigned have;			/* bytes of the current field gathered */
	uint64_t skip;			/* string body or data chunk left to skip */
	char *cap;			/* copy skipped bytes here while cap_left */
	size_t cap_left;
	uint64_t pos;			/* bytes consumed */
	unsigned vmaj, vmin, vrev, intsize, offsize;
	int compression;		/* PG_COMPRESS_* */
	int64_t level;			/* before 1.15 */
	unsigned time_i;
	int64_t toc_count, toc_i, max_id;
	uint64_t deps;
	uint64_t blocks_expected, blocks_seen;
	int in_blobs;			/* current block is BLK_BLOBS */
	int unsupported;		/* failed on a version or format, not damage */
	int dir;			/* a directory-format toc.dat, not a custom archive */
	char dbname[72];
	char dump_version[72];
	char err[240];
};

struct dumpcheck {
	enum dumpcheck_format expect, format;
	int decided, finished;
	uint8_t head[HEAD_MAX];
	size_t head_len;
	uint8_t tail[TAIL_MAX];
	size_t tail_len;
	uint64_t bytes;
	uint64_t crc;			/* RDB: over the bytes that left the tail */
	struct pgc pgc;
	uint64_t crc_table[8][256];
};

const char *dumpcheck_format_name(enum dumpcheck_format format)
{
	switch (format) {
	case DUMPCHECK_PG_PLAIN: return "pgdump-plain";
	case DUMPCHECK_PG_DUMPALL: return "pgdumpall-plain";
	case DUMPCHECK_PG_CUSTOM: return "pgdump-custom";
	case DUMPCHECK_PG_DIRECTORY: return "pgdump-directory";
	case DUMPCHECK_RDB: return "rdb";
	case DUMPCHECK_GZIP: return "gzip";
	case DUMPCHECK_ZSTD: return "zstd";
	case DUMPCHECK_UNKNOWN: break;
	}
	return "unknown";
}

/* ---- CRC-64 ---- */

uint64_t dumpcheck_crc64(uint64_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;
	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc & 1) ? (crc >> 1) ^ CRC64_JONES_REFLECTED : crc >> 1;
	}
	return crc;
}

/* Slicing-by-8 tables: t[k][b] is the CRC of byte b followed by k zero bytes. */
static void crc_tables_init(uint64_t t[8][256])
{
	for (unsigned n = 0; n < 256; n++) {
		uint8_t b = (uint8_t)n;
		t[0][n] = dumpcheck_crc64(0, &b, 1);
	}
	for (unsigned n = 0; n < 256; n++)
		for (int k = 1; k < 8; k++)
			t[k][n] = (t[k - 1][n] >> 8) ^ t[0][t[k - 1][n] & 0xff];
}

/* The same CRC as dumpcheck_crc64, eight bytes per step (~2 GB/s). */
static uint64_t crc_fast(const uint64_t t[8][256], uint64_t crc, const uint8_t *p, size_t n)
{
	while (n >= 8) {
		crc ^= get_u64le(p);
		crc = t[7][crc & 0xff] ^ t[6][(crc >> 8) & 0xff] ^ t[5][(crc >> 16) & 0xff] ^
		      t[4][(crc >> 24) & 0xff] ^ t[3][(crc >> 32) & 0xff] ^
		      t[2][(crc >> 40) & 0xff] ^ t[1][(crc >> 48) & 0xff] ^ t[0][crc >> 56];
		p += 8;
		n -= 8;
	}
	while (n--)
		crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

/* ---- pg_dump custom format ---- */

static void pgc_fail(struct pgc *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Remembers the first problem; the parser stops there. */
static void pgc_fail(struct pgc *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	p->state = PGC_FAILED;
}

/* Bytes of the field expected in the current state. */
static unsigned pgc_need(const struct pgc *p)
{
	switch (p->state) {
	case PGC_MAGIC:
		return 5;
	case PGC_VMAJ:
	case PGC_VMIN:
	case PGC_VREV:
	case PGC_INTSIZE:
	case PGC_OFFSIZE:
	case PGC_FORMAT:
	case PGC_COMPRESS_ALG:
	case PGC_DIR_END:
	case PGC_BLK_TYPE:
		return 1;
	case PGC_TE_OFFSET:
		return 1 + p->offsize;
	default:
		return 1 + p->intsize;
	}
}

/* Whether a TOC entry field exists in this archive version. */
static int pgc_te_field_present(const struct pgc *p, enum pgc_state st)
{
	switch (st) {
	case PGC_TE_SECTION: return p->vmin >= 11;
	case PGC_TE_TABLEAM: return p->vmin >= 14;
	case PGC_TE_RELKIND: return p->vmin >= 16;
	default: return 1;
	}
}

/* Moves to the next TOC entry field present in this version. */
static void pgc_te_next(struct pgc *p)
{
	enum pgc_state st = p->state + 1;
	while (!pgc_te_field_present(p, st))
		st++;
	p->state = st;
}

/* ReadInt: a sign byte (0 or 1), then intsize bytes little-endian. Values
 * must fit PostgreSQL's int. Returns 0, or -1 after failing. */
static int pgc_int(struct pgc *p, int64_t *ret)
{
	const uint8_t *s = p->scratch;
	if (s[0] > 1) {
		pgc_fail(p, "bad integer sign byte 0x%02x at byte %llu", s[0],
			 (unsigned long long)(p->pos - 1 - p->intsize));
		return -1;
	}
	uint64_t v = 0;
	for (unsigned i = 0; i < p->intsize; i++) {
		if (i >= 4 && s[1 + i]) {
			pgc_fail(p, "integer out of range at byte %llu",
				 (unsigned long long)(p->pos - 1 - p->intsize));
			return -1;
		}
		if (i < 4)
			v |= (uint64_t)s[1 + i] << (8 * i);
	}
	if (v > INT32_MAX) {
		pgc_fail(p, "integer out of range at byte %llu",
			 (unsigned long long)(p->pos - 1 - p->intsize));
		return -1;
	}
	*ret = s[0] ? -(int64_t)v : (int64_t)v;
	return 0;
}

/* Where the parser is, for messages. */
static void pgc_where(const struct pgc *p, char *out, size_t cap)
{
	if (p->state < PGC_TOC_COUNT)
		snprintf(out, cap, "in the archive header");
	else if (p->state == PGC_TOC_COUNT)
		snprintf(out, cap, "before the table of contents");
	else if (p->state <= PGC_TE_FILE)
		snprintf(out, cap, "in table-of-contents entry %lld of %lld",
			 (long long)p->toc_i + 1, (long long)p->toc_count);
	else
		snprintf(out, cap, "in data block %llu of %llu", (unsigned long long)p->blocks_seen,
			 (unsigned long long)p->blocks_expected);
}

/* A string field's length was read: skip its body (capturing some). */
static void pgc_string(struct pgc *p, int64_t len, char *cap, size_t cap_size)
{
	char where[96];
	if (len < -1) {
		pgc_where(p, where, sizeof(where));
		pgc_fail(p, "negative string length %lld %s", (long long)len, where);
		return;
	}
	if (len > (int64_t)PG_STR_MAX) {
		pgc_where(p, where, sizeof(where));
		pgc_fail(p, "string of %lld bytes %s is larger than PostgreSQL allows",
			 (long long)len, where);
		return;
	}
	p->skip = len > 0 ? (uint64_t)len : 0;
	p->cap = p->skip && cap ? cap : NULL;
	p->cap_left = p->cap ? cap_size - 1 : 0;
}

/* Ranges of the creation time fields (struct tm) in the header. */
static int pgc_time_ok(unsigned i, int64_t v)
{
	static const int64_t lo[7] = { 0, 0, 0, 1, 0, 0, -1 };
	static const int64_t hi[7] = { 61, 59, 23, 31, 11, 1100, 1 };
	return v >= lo[i] && v <= hi[i];
}

/* The current field is complete in scratch: check it, pick the next state. */
static void pgc_step(struct pgc *p)
{
	const uint8_t *s = p->scratch;
	int64_t v = 0;
	char where[96];
	int is_int = (p->state >= PGC_COMPRESS_LEVEL && p->state <= PGC_TE_DEP) ||
		     p->state == PGC_TE_FILE ||
		     (p->state >= PGC_BLK_ID && p->state <= PGC_BLOB_OID);
	if (is_int && pgc_int(p, &v) < 0)
		return;
	switch (p->state) {
	case PGC_MAGIC:
		if (memcmp(s, "PGDMP", 5) != 0)
			pgc_fail(p, "no PGDMP magic at the start");
		else
			p->state = PGC_VMAJ;
		break;
	case PGC_VMAJ:
		p->vmaj = s[0];
		p->state = PGC_VMIN;
		break;
	case PGC_VMIN:
		p->vmin = s[0];
		p->state = PGC_VREV;
		break;
	case PGC_VREV:
		p->vrev = s[0];
		if (p->vmaj != 1 || p->vmin < 10 || p->vmin > 16) {
			pgc_fail(p, "archive version %u.%u is not supported (cairn knows 1.10 to "
				 "1.16)", p->vmaj, p->vmin);
			p->unsupported = 1;
		} else {
			p->state = PGC_INTSIZE;
		}
		break;
	case PGC_INTSIZE:
		p->intsize = s[0];
		if (p->intsize < 1 || p->intsize > 8)
			pgc_fail(p, "integer size %u in the header is not sane", p->intsize);
		else
			p->state = PGC_OFFSIZE;
		break;
	case PGC_OFFSIZE:
		p->offsize = s[0];
		if (p->offsize < 1 || p->offsize > 16)
			pgc_fail(p, "offset size %u in the header is not sane", p->offsize);
		else
			p->state = PGC_FORMAT;
		break;
	case PGC_FORMAT:
		/* The toc.dat of pg_dump 15 -Fd says 3 (seen here); 5 is the
		 * directory format's number in pg_dump's enum: both are taken. */
		p->unsupported = (s[0] == 3 || s[0] == 5) && !p->dir;
		if (p->dir && s[0] != 3 && s[0] != 5)
			pgc_fail(p, "archive format code %u is not the directory format", s[0]);
		else if (p->dir)
			p->state = p->vmin >= 15 ? PGC_COMPRESS_ALG : PGC_COMPRESS_LEVEL;
		else if (s[0] == 3 || s[0] == 5)
			pgc_fail(p, "this is the toc.dat of a directory-format dump (-Fd), not a "
				 "custom-format one; back up the dump's folder instead");
		else if (s[0] != 1)
			pgc_fail(p, "archive format code %u is not the custom format (1)", s[0]);
		else
			p->state = p->vmin >= 15 ? PGC_COMPRESS_ALG : PGC_COMPRESS_LEVEL;
		break;
	case PGC_COMPRESS_ALG:
		if (s[0] > PG_COMPRESS_ZSTD) {
			pgc_fail(p, "unknown compression algorithm %u in the header", s[0]);
			break;
		}
		p->compression = s[0];
		p->state = PGC_TIME;
		break;
	case PGC_COMPRESS_LEVEL:
		if (v < -1 || v > 9) {
			pgc_fail(p, "compression level %lld in the header is not sane", (long long)v);
			break;
		}
		p->level = v;
		p->compression = v != 0 ? PG_COMPRESS_GZIP : PG_COMPRESS_NONE;
		p->state = PGC_TIME;
		break;
	case PGC_TIME:
		if (!pgc_time_ok(p->time_i, v)) {
			pgc_fail(p, "creation time field %u (%lld) in the header is out of range",
				 p->time_i, (long long)v);
			break;
		}
		if (++p->time_i == 7)
			p->state = PGC_DBNAME;
		break;
	case PGC_DBNAME:
		p->state = PGC_REMOTE_VERSION;
		pgc_string(p, v, p->dbname, sizeof(p->dbname));
		break;
	case PGC_REMOTE_VERSION:
		p->state = PGC_DUMP_VERSION;
		pgc_string(p, v, NULL, 0);
		break;
	case PGC_DUMP_VERSION:
		p->state = PGC_TOC_COUNT;
		pgc_string(p, v, p->dump_version, sizeof(p->dump_version));
		break;
	case PGC_TOC_COUNT:
		if (v < 0) {
			pgc_fail(p, "negative table-of-contents entry count %lld", (long long)v);
			break;
		}
		p->toc_count = v;
		p->state = v ? PGC_TE_ID : p->dir ? PGC_DIR_END : PGC_BLK_TYPE;
		break;
	case PGC_TE_ID:
		if (v <= 0) {
			pgc_where(p, where, sizeof(where));
			pgc_fail(p, "dump id %lld %s is out of range", (long long)v, where);
			break;
		}
		if (v > p->max_id)
			p->max_id = v;
		p->deps = 0;
		pgc_te_next(p);
		break;
	case PGC_TE_HAD_DUMPER:
		if (v != 0 && v != 1) {
			pgc_where(p, where, sizeof(where));
			pgc_fail(p, "bad data flag %lld %s", (long long)v, where);
			break;
		}
		pgc_te_next(p);
		break;
	case PGC_TE_SECTION:
		if (v < 1 || v > 4) {
			pgc_where(p, where, sizeof(where));
			pgc_fail(p, "unknown section %lld %s", (long long)v, where);
			break;
		}
		pgc_te_next(p);
		break;
	case PGC_TE_RELKIND:
		if (v < 0 || v > 255) {
			pgc_where(p, where, sizeof(where));
			pgc_fail(p, "bad relation kind %lld %s", (long long)v, where);
			break;
		}
		pgc_te_next(p);
		break;
	case PGC_TE_TABLEOID:
	case PGC_TE_OID:
	case PGC_TE_TAG:
	case PGC_TE_DESC:
	case PGC_TE_DEFN:
	case PGC_TE_DROP:
	case PGC_TE_COPY:
	case PGC_TE_NAMESPACE:
	case PGC_TE_TABLESPACE:
	case PGC_TE_TABLEAM:
	case PGC_TE_OWNER:
	case PGC_TE_WITH_OIDS:
		pgc_string(p, v, NULL, 0);
		if (p->state != PGC_FAILED)
			pgc_te_next(p);
		break;
	case PGC_TE_DEP:
		if (v == -1) {
			p->state = p->dir ? PGC_TE_FILE : PGC_TE_OFFSET;
			break;
		}
		if (++p->deps > PG_DEPS_MAX) {
			pgc_where(p, where, sizeof(where));
			pgc_fail(p, "more than %u dependencies %s", PG_DEPS_MAX, where);
			break;
		}
		pgc_string(p, v, NULL, 0);
		break;
	case PGC_TE_OFFSET:
		if (s[0] < 1 || s[0] > 3) {
			pgc_where(p, where, sizeof(where));
			pgc_fail(p, "bad data offset flag %u %s", s[0], where);
			break;
		}
		if (s[0] != 3)	/* 3: K_OFFSET_NO_DATA */
			p->blocks_expected++;
		p->state = ++p->toc_i < p->toc_count ? PGC_TE_ID : PGC_BLK_TYPE;
		break;
	case PGC_TE_FILE:
		pgc_string(p, v, NULL, 0);
		if (v > 0)
			p->blocks_expected++;	/* a data file in the folder */
		if (p->state != PGC_FAILED)
			p->state = ++p->toc_i < p->toc_count ? PGC_TE_ID : PGC_DIR_END;
		break;
	case PGC_DIR_END:
		pgc_fail(p, "bytes follow the table of contents at byte %llu",
			 (unsigned long long)(p->pos - 1));
		break;
	case PGC_BLK_TYPE:
		if (s[0] != 1 && s[0] != 3) {
			pgc_fail(p, "unknown data block type %u at byte %llu (after %llu of %llu "
				 "data blocks)", s[0], (unsigned long long)(p->pos - 1),
				 (unsigned long long)p->blocks_seen,
				 (unsigned long long)p->blocks_expected);
			break;
		}
		p->in_blobs = s[0] == 3;
		p->state = PGC_BLK_ID;
		break;
	case PGC_BLK_ID:
		if (v <= 0 || v > p->max_id) {
			pgc_fail(p, "data block %llu names dump id %lld, which is not in the table "
				 "of contents", (unsigned long long)p->blocks_seen + 1, (long long)v);
			break;
		}
		if (++p->blocks_seen > p->blocks_expected) {
			pgc_fail(p, "more data blocks than the %llu the table of contents lists",
				 (unsigned long long)p->blocks_expected);
			break;
		}
		p->state = p->in_blobs ? PGC_BLOB_OID : PGC_CHUNK_LEN;
		break;
	case PGC_CHUNK_LEN:
		if (v < 0) {
			pgc_fail(p, "negative chunk length %lld in data block %llu", (long long)v,
				 (unsigned long long)p->blocks_seen);
			break;
		}
		if (v == 0)
			p->state = p->in_blobs ? PGC_BLOB_OID : PGC_BLK_TYPE;
		else
			p->skip = (uint64_t)v;
		break;
	case PGC_BLOB_OID:
		/* an oid is unsigned, written as int: any value but 0 (the end) */
		p->state = v == 0 ? PGC_BLK_TYPE : PGC_CHUNK_LEN;
		break;
	case PGC_FAILED:
		break;
	}
}

static void pgc_feed(struct pgc *p, const uint8_t *d, size_t n)
{
	while (n > 0 && p->state != PGC_FAILED) {
		if (p->skip) {
			size_t k = p->skip < n ? (size_t)p->skip : n;
			if (p->cap && p->cap_left) {
				size_t c = CAIRN_MIN(k, p->cap_left);
				memcpy(p->cap, d, c);
				p->cap += c;
				p->cap_left -= c;
			}
			p->skip -= k;
			p->pos += k;
			d += k;
			n -= k;
			if (!p->skip)
				p->cap = NULL;
			continue;
		}
		unsigned need = pgc_need(p);
		size_t k = CAIRN_MIN((size_t)(need - p->have), n);
		memcpy(p->scratch + p->have, d, k);
		p->have += (unsigned)k;
		p->pos += k;
		d += k;
		n -= k;
		if (p->have == need) {
			p->have = 0;
			pgc_step(p);
		}
	}
}

/* Replaces bytes that are not printable ASCII, for messages. */
static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e || *s == '"')
			*s = '?';
}

static void pgc_finish(struct pgc *p, struct dumpcheck_result *r)
{
	static const char *const alg[] = { "none", "gzip", "lz4", "zstd" };
	char where[96];
	if (p->state == PGC_FAILED) {
		r->status = DUMPCHECK_FAILED;
		snprintf(r->detail, sizeof(r->detail), "pg_dump custom-format archive %s: %s",
			 p->unsupported ? "cannot be checked" : "is corrupt", p->err);
		return;
	}
	if (p->state != PGC_BLK_TYPE || p->have || p->skip) {
		pgc_where(p, where, sizeof(where));
		r->status = DUMPCHECK_FAILED;
		snprintf(r->detail, sizeof(r->detail), "pg_dump custom-format archive is truncated: "
			 "it ends %s, after %llu bytes", where, (unsigned long long)p->pos);
		return;
	}
	if (p->blocks_seen < p->blocks_expected) {
		r->status = DUMPCHECK_FAILED;
		snprintf(r->detail, sizeof(r->detail), "pg_dump custom-format archive is truncated: "
			 "only %llu of the %llu data blocks its table of contents lists are there",
			 (unsigned long long)p->blocks_seen, (unsigned long long)p->blocks_expected);
		return;
	}
	printable(p->dbname);
	printable(p->dump_version);
	r->status = DUMPCHECK_VERIFIED;
	snprintf(r->detail, sizeof(r->detail), "archive %u.%u of database \"%s\" by pg_dump %s, "
		 "%lld TOC entries, %llu data blocks complete, compression %s",
		 p->vmaj, p->vmin, p->dbname, p->dump_version, (long long)p->toc_count,
		 (unsigned long long)p->blocks_seen, alg[p->compression]);
	if (p->compression != PG_COMPRESS_NONE)
		snprintf(r->warning, sizeof(r->warning), "the pg_dump custom-format archive is "
			 "compressed (%s): deduplication between dumps will be poor; use pg_dump -Fc "
			 "-Z0 (cairn compresses chunks itself), or the plain format",
			 alg[p->compression]);
}

int dumpcheck_pg_toc(const void *data, size_t len, struct dumpcheck_result *ret,
		     uint64_t *ret_data_files)
{
	static const char *const alg[] = { "none", "gzip", "lz4", "zstd" };
	struct pgc *p = calloc(1, sizeof(*p));
	if (!p)
		return CAIRN_ENOMEM;
	p->dir = 1;
	memset(ret, 0, sizeof(*ret));
	ret->format = DUMPCHECK_PG_DIRECTORY;
	ret->format_name = dumpcheck_format_name(DUMPCHECK_PG_DIRECTORY);
	ret->bytes = len;
	pgc_feed(p, data, len);
	char where[96];
	int e = CAIRN_ECORRUPT;
	if (p->state == PGC_FAILED) {
		snprintf(ret->detail, sizeof(ret->detail), "the toc.dat of a pg_dump directory-format "
			 "dump %s: %s", p->unsupported ? "cannot be checked" : "is corrupt", p->err);
	} else if (p->state != PGC_DIR_END || p->have || p->skip) {
		pgc_where(p, where, sizeof(where));
		snprintf(ret->detail, sizeof(ret->detail), "the toc.dat of a pg_dump directory-format "
			 "dump is truncated: it ends %s, after %llu bytes", where,
			 (unsigned long long)p->pos);
	} else {
		printable(p->dbname);
		printable(p->dump_version);
		snprintf(ret->detail, sizeof(ret->detail), "archive %u.%u of database \"%s\" by pg_dump "
			 "%s, %lld TOC entries, %llu data files, compression %s", p->vmaj, p->vmin,
			 p->dbname, p->dump_version, (long long)p->toc_count,
			 (unsigned long long)p->blocks_expected, alg[p->compression]);
		if (p->compression != PG_COMPRESS_NONE)
			snprintf(ret->warning, sizeof(ret->warning), "the pg_dump directory-format dump "
				 "is compressed (%s): deduplication between dumps will be poor; use "
				 "pg_dump -Fd -Z0 (cairn compresses chunks itself)", alg[p->compression]);
		*ret_data_files = p->blocks_expected;
		e = 0;
	}
	ret->status = e ? DUMPCHECK_FAILED : DUMPCHECK_VERIFIED;
	free(p);
	return e;
}

/* ---- detection, the window, plain dumps, RDB ---- */

int dumpcheck_new(struct dumpcheck **ret)
{
	struct dumpcheck *dc = calloc(1, sizeof(*dc));
	if (!dc)
		return CAIRN_ENOMEM;
	*ret = dc;
	return 0;
}

void dumpcheck_free(struct dumpcheck *dc)
{
	free(dc);
}

void dumpcheck_expect(struct dumpcheck *dc, enum dumpcheck_format format)
{
	dc->expect = format;
}

/* The format from the first bytes; final: no more bytes will come. */
static enum dumpcheck_format detect(const uint8_t *h, size_t n)
{
	if (n >= 5 && memcmp(h, "PGDMP", 5) == 0)
		return DUMPCHECK_PG_CUSTOM;
	if (n >= 5 && memcmp(h, "REDIS", 5) == 0) {
		int digits = 1;
		for (size_t i = 5; i < n && i < 9; i++)
			digits &= h[i] >= '0' && h[i] <= '9';
		if (digits)
			return DUMPCHECK_RDB;
	}
	if (n >= sizeof(PG_HEADER) - 1 && memcmp(h, PG_HEADER, sizeof(PG_HEADER) - 1) == 0)
		return DUMPCHECK_PG_PLAIN;
	if (n >= sizeof(PGALL_HEADER) - 1 && memcmp(h, PGALL_HEADER, sizeof(PGALL_HEADER) - 1) == 0)
		return DUMPCHECK_PG_DUMPALL;
	if (n >= 2 && h[0] == 0x1f && h[1] == 0x8b)
		return DUMPCHECK_GZIP;
	if (n >= 4 && h[0] == 0x28 && h[1] == 0xb5 && h[2] == 0x2f && h[3] == 0xfd)
		return DUMPCHECK_ZSTD;
	return DUMPCHECK_UNKNOWN;
}

/* Keeps the last TAIL_MAX bytes; for an RDB, bytes leaving go to the CRC. */
static void tail_push(struct dumpcheck *dc, const uint8_t *p, size_t n)
{
	int rdb = dc->format == DUMPCHECK_RDB;
	if (n >= TAIL_MAX) {
		if (rdb) {
			dc->crc = crc_fast(dc->crc_table, dc->crc, dc->tail, dc->tail_len);
			dc->crc = crc_fast(dc->crc_table, dc->crc, p, n - TAIL_MAX);
		}
		memcpy(dc->tail, p + n - TAIL_MAX, TAIL_MAX);
		dc->tail_len = TAIL_MAX;
		return;
	}
	if (dc->tail_len + n > TAIL_MAX) {
		size_t out = dc->tail_len + n - TAIL_MAX;	/* < tail_len, as n < TAIL_MAX */
		if (rdb)
			dc->crc = crc_fast(dc->crc_table, dc->crc, dc->tail, out);
		memmove(dc->tail, dc->tail + out, dc->tail_len - out);
		dc->tail_len -= out;
	}
	memcpy(dc->tail + dc->tail_len, p, n);
	dc->tail_len += n;
}

/* Bytes after the format is decided. */
static void consume(struct dumpcheck *dc, const uint8_t *p, size_t n)
{
	tail_push(dc, p, n);
	if (dc->format == DUMPCHECK_PG_CUSTOM)
		pgc_feed(&dc->pgc, p, n);
}

/* Settles the format from the head and replays the head. */
static void decide(struct dumpcheck *dc)
{
	dc->format = detect(dc->head, dc->head_len);
	dc->decided = 1;
	if (dc->format == DUMPCHECK_RDB)
		crc_tables_init(dc->crc_table);
	consume(dc, dc->head, dc->head_len);
}

enum dumpcheck_format dumpcheck_format_seen(const struct dumpcheck *dc)
{
	return dc->decided ? dc->format : DUMPCHECK_UNKNOWN;
}

void dumpcheck_feed(struct dumpcheck *dc, const void *data, size_t len)
{
	const uint8_t *p = data;
	if (!len || dc->finished)
		return;
	dc->bytes += len;
	if (!dc->decided) {
		size_t take = CAIRN_MIN(len, HEAD_MAX - dc->head_len);
		memcpy(dc->head + dc->head_len, p, take);
		dc->head_len += take;
		p += take;
		len -= take;
		if (dc->head_len < HEAD_MAX)
			return;
		decide(dc);
	}
	if (len)
		consume(dc, p, len);
}

/* The Redis releases that write an RDB version, for notes. */
static const char *rdb_release(int v)
{
	static const char *const rel[RDB_VERSION_MAX + 1] = {
		"", "Redis 2.4 or older", "Redis 2.4 or older", "Redis 2.4 or older",
		"Redis 2.4 or older", "Redis 2.4 or older", "Redis 2.6 to 3.0", "Redis 3.2",
		"Redis 4.0", "Redis 5.0 to 6.2", "Redis 7.0", "Redis 7.2", "Redis 7.4 or later",
	};
	return v >= 1 && v <= RDB_VERSION_MAX ? rel[v] : "unknown";
}

/* Whether n bytes are lowercase hex digits (redis-cli's EOF mark). */
static int all_hex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return 0;
	return 1;
}

static void rdb_finish(struct dumpcheck *dc, struct dumpcheck_result *r)
{
	const uint8_t *t = dc->tail;
	size_t n = dc->tail_len;
	int version = 0;
	r->status = DUMPCHECK_FAILED;
	if (dc->head_len < 9) {
		snprintf(r->detail, sizeof(r->detail), "Redis RDB is truncated: %llu bytes, shorter "
			 "than the 9-byte header", (unsigned long long)dc->bytes);
		return;
	}
	for (int i = 5; i < 9; i++)
		version = version * 10 + (dc->head[i] - '0');
	if (version < 1 || version > RDB_VERSION_MAX) {
		snprintf(r->detail, sizeof(r->detail), "RDB version %d is not supported (cairn "
			 "knows versions 1 to %d)", version, RDB_VERSION_MAX);
		return;
	}
	if (version < 5) {
		if (dc->bytes < 10 || t[n - 1] != 0xff) {
			snprintf(r->detail, sizeof(r->detail), "Redis RDB is truncated: no "
				 "end-of-file opcode at the end (%llu bytes)",
				 (unsigned long long)dc->bytes);
			return;
		}
		r->status = DUMPCHECK_UNCHECKED;
		snprintf(r->detail, sizeof(r->detail), "RDB version %d (%s) has no checksum; the "
			 "end-of-file opcode is there", version, rdb_release(version));
		return;
	}
	if (dc->bytes < 18) {
		snprintf(r->detail, sizeof(r->detail), "Redis RDB is truncated: %llu bytes is too "
			 "short for an RDB with a checksum", (unsigned long long)dc->bytes);
		return;
	}
	/* A: trailer at the end; B: trailer, then redis-cli's EOF mark */
	uint64_t crc_a = crc_fast(dc->crc_table, dc->crc, t, n - 8);
	uint64_t stored_a = get_u64le(t + n - 8);
	int eof_a = t[n - 9] == 0xff;
	int mark = n >= 9 + 8 + RDB_MARK_LEN && dc->bytes >= 18 + RDB_MARK_LEN &&
		   all_hex(t + n - RDB_MARK_LEN, RDB_MARK_LEN);
	uint64_t crc_b = 0, stored_b = 0;
	int eof_b = 0;
	if (mark) {
		crc_b = crc_fast(dc->crc_table, dc->crc, t, n - 8 - RDB_MARK_LEN);
		stored_b = get_u64le(t + n - 8 - RDB_MARK_LEN);
		eof_b = t[n - 9 - RDB_MARK_LEN] == 0xff;
	}
	const char *rel = rdb_release(version);
	if (eof_a && crc_a == stored_a) {
		r->status = DUMPCHECK_VERIFIED;
		snprintf(r->detail, sizeof(r->detail), "RDB version %d (%s), CRC-64 ok", version, rel);
	} else if (eof_b && crc_b == stored_b) {
		r->status = DUMPCHECK_VERIFIED;
		snprintf(r->detail, sizeof(r->detail), "RDB version %d (%s), CRC-64 ok; followed by "
			 "the 40-byte EOF mark of redis-cli --rdb (ignored by Redis)", version, rel);
	} else if ((eof_a && stored_a == 0) || (eof_b && stored_b == 0)) {
		r->status = DUMPCHECK_UNCHECKED;
		snprintf(r->detail, sizeof(r->detail), "RDB version %d (%s) was written with "
			 "checksums off (rdbchecksum no): zero trailer", version, rel);
	} else if (eof_a || eof_b) {
		snprintf(r->detail, sizeof(r->detail), "Redis RDB is corrupt: CRC-64 checksum "
			 "mismatch (computed %016llx, the trailer says %016llx)",
			 (unsigned long long)(eof_a ? crc_a : crc_b),
			 (unsigned long long)(eof_a ? stored_a : stored_b));
	} else {
		snprintf(r->detail, sizeof(r->detail), "Redis RDB is truncated: no end-of-file "
			 "opcode before the 8-byte checksum trailer (%llu bytes)",
			 (unsigned long long)dc->bytes);
	}
}

/* The key of a "\restrict KEY" line right after the plain header, or "". */
static void restrict_key(const struct dumpcheck *dc, char *key, size_t cap)
{
	static const char tag[] = "\n\\restrict ";
	const char *h = (const char *)dc->head;
	size_t n = dc->head_len, start = sizeof(PG_HEADER) - 2;	/* at the header's last \n */
	key[0] = 0;
	if (n < start + sizeof(tag) - 1)
		return;
	/* the header is followed by one blank line, then \restrict */
	size_t at = start;
	if (h[at + 1] == '\n')
		at++;
	if (n < at + sizeof(tag) - 1 || memcmp(h + at, tag, sizeof(tag) - 1) != 0)
		return;
	at += sizeof(tag) - 1;
	size_t k = 0;
	while (at + k < n && k + 1 < cap && h[at + k] != '\n')
		k++;
	if (at + k >= n || h[at + k] != '\n' || k == 0)
		return;	/* not complete within the head: not checked */
	memcpy(key, h + at, k);
	key[k] = 0;
}

/* Drops trailing newlines (and carriage returns) of t[0..*n). */
static void strip_newlines(const char *t, size_t *n)
{
	while (*n && (t[*n - 1] == '\n' || t[*n - 1] == '\r'))
		(*n)--;
}

static void plain_finish(struct dumpcheck *dc, struct dumpcheck_result *r, int cluster)
{
	static const char unr[] = "\\unrestrict ";
	const char *trailer = cluster ? PGALL_TRAILER : PG_TRAILER;
	const char *line = cluster ? "-- PostgreSQL database cluster dump complete"
				   : "-- PostgreSQL database dump complete";
	size_t tl = strlen(trailer);
	const char *t = (const char *)dc->tail;
	size_t n = dc->tail_len;
	char key[PG_KEY_MAX + 1], got[PG_KEY_MAX + 1] = "";
	if (cluster)
		key[0] = 0;	/* pg_dumpall closes each \restrict before its trailer */
	else
		restrict_key(dc, key, sizeof(key));
	strip_newlines(t, &n);
	size_t ls = n;
	while (ls && t[ls - 1] != '\n')
		ls--;
	if (n - ls > sizeof(unr) - 1 && memcmp(t + ls, unr, sizeof(unr) - 1) == 0) {
		size_t kl = n - ls - (sizeof(unr) - 1);
		if (kl > PG_KEY_MAX)
			kl = PG_KEY_MAX;
		memcpy(got, t + ls + sizeof(unr) - 1, kl);
		got[kl] = 0;
		n = ls;
		strip_newlines(t, &n);
	}
	r->status = DUMPCHECK_FAILED;
	if (n < tl || memcmp(t + n - tl, trailer, tl) != 0) {
		snprintf(r->detail, sizeof(r->detail), "%s is truncated: it does not end with the "
			 "completion trailer \"%s\" (the dump was cut off, or %s stopped early)",
			 cluster ? "pg_dumpall output" : "pg_dump plain-format output", line,
			 cluster ? "pg_dumpall" : "pg_dump");
		return;
	}
	if (key[0] && strcmp(key, got) != 0) {
		snprintf(r->detail, sizeof(r->detail), "pg_dump plain-format output is truncated: "
			 "the completion trailer is there, but not the \\unrestrict line that closes "
			 "the \\restrict at the top");
		return;
	}
	r->status = DUMPCHECK_VERIFIED;
	snprintf(r->detail, sizeof(r->detail), "%s, completion trailer present%s",
		 cluster ? "pg_dumpall SQL" : "pg_dump plain-format SQL",
		 key[0] ? ", \\restrict and \\unrestrict keys match" : "");
}

/* A format in words, for messages. */
static const char *format_desc(enum dumpcheck_format f)
{
	switch (f) {
	case DUMPCHECK_PG_PLAIN: return "pg_dump plain-format output";
	case DUMPCHECK_PG_DUMPALL: return "pg_dumpall output";
	case DUMPCHECK_PG_CUSTOM: return "a pg_dump custom-format archive";
	case DUMPCHECK_PG_DIRECTORY: return "a pg_dump directory-format dump";
	case DUMPCHECK_RDB: return "a Redis RDB file";
	case DUMPCHECK_GZIP: return "gzip-compressed";
	case DUMPCHECK_ZSTD: return "zstd-compressed";
	case DUMPCHECK_UNKNOWN: break;
	}
	return "not a format cairn recognises";
}

int dumpcheck_finish(struct dumpcheck *dc, struct dumpcheck_result *r)
{
	memset(r, 0, sizeof(*r));
	if (!dc->decided)
		decide(dc);
	dc->finished = 1;
	r->format = dc->format;
	r->format_name = dumpcheck_format_name(dc->format);
	r->bytes = dc->bytes;
	if (dc->expect != DUMPCHECK_UNKNOWN && dc->format != dc->expect) {
		r->status = DUMPCHECK_FAILED;
		if (dc->bytes == 0)
			snprintf(r->detail, sizeof(r->detail), "expected %s, but the stream is "
				 "empty", format_desc(dc->expect));
		else
			snprintf(r->detail, sizeof(r->detail), "expected %s, but the stream is %s "
				 "(%llu bytes)", format_desc(dc->expect), format_desc(dc->format),
				 (unsigned long long)dc->bytes);
		return CAIRN_ECORRUPT;
	}
	switch (dc->format) {
	case DUMPCHECK_PG_PLAIN:
		plain_finish(dc, r, 0);
		break;
	case DUMPCHECK_PG_DUMPALL:
		plain_finish(dc, r, 1);
		break;
	case DUMPCHECK_PG_CUSTOM:
		pgc_finish(&dc->pgc, r);
		break;
	case DUMPCHECK_RDB:
		rdb_finish(dc, r);
		break;
	case DUMPCHECK_PG_DIRECTORY:	/* never detected in a stream */
	case DUMPCHECK_GZIP:
	case DUMPCHECK_ZSTD:
		r->status = DUMPCHECK_UNCHECKED;
		snprintf(r->detail, sizeof(r->detail), "%s-compressed input, not checked",
			 r->format_name);
		snprintf(r->warning, sizeof(r->warning), "the input is %s-compressed: "
			 "deduplication between backups will be poor; back up the uncompressed "
			 "stream (pg_dump without -Z/--compress, or -Fc -Z0; no compressor in the "
			 "pipe): cairn compresses chunks itself", r->format_name);
		break;
	case DUMPCHECK_UNKNOWN:
		r->status = DUMPCHECK_UNCHECKED;
		snprintf(r->detail, sizeof(r->detail), "not a database dump cairn recognises, "
			 "not checked");
		break;
	}
	return r->status == DUMPCHECK_FAILED ? CAIRN_ECORRUPT : 0;
}
