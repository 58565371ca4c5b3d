/*
 * dumpcheck.h - recognising and checking database dumps while they stream.
 *
 * A backup of a truncated or corrupt dump looks like a restore point and
 * isn't one, so stream backups pass every byte they read through a
 * dumpcheck, in order, as it is read (no second pass, nothing buffered
 * but a few hundred bytes and the parser state), then ask for the verdict.
 *
 * Formats and what is checked (man/cairn-databases.7):
 *   "pgdump-plain"     pg_dump's SQL output: the header comment, and the
 *                      completion trailer "-- PostgreSQL database dump
 *                      complete" at the end (plus the matching
 *                      "\unrestrict KEY" line when the dump opened with
 *                      "\restrict KEY", as pg_dump 15.14+ writes).
 *   "pgdumpall-plain"  pg_dumpall's SQL output: its cluster trailer.
 *   "pgdump-custom"    pg_dump -Fc: magic, archive version 1.10 to 1.16,
 *                      header fields, every TOC entry's structure (bounded
 *                      lengths and counts), then the framing of every data
 *                      block to the end, and as many data blocks as the
 *                      TOC announces. A compressed archive gets a warning.
 *   "rdb"              Redis RDB: "REDIS" + 4-digit version (1 to 12), the
 *                      end-of-file opcode and, from version 5 on, the
 *                      CRC-64 (Jones, reflected, as redis src/crc64.c) of
 *                      everything before the 8-byte little-endian trailer.
 *                      A zero trailer means checksums were off (rdbchecksum
 *                      no): accepted, not verified. The 40-character EOF
 *                      mark that `redis-cli --rdb -` leaves after the
 *                      trailer on a diskless sync is recognised.
 *   "gzip", "zstd"     recognised by their magic, not checked; a warning
 *                      says deduplication will be poor.
 *   "unknown"          anything else: nothing to check.
 *
 * Nothing here logs: the verdict is returned for the caller to report.
 * Not thread-safe per context; one context per stream.
 */
#ifndef CAIRN_DUMPCHECK_H
#define CAIRN_DUMPCHECK_H

#include <stddef.h>
#include <stdint.h>

enum dumpcheck_format {
	DUMPCHECK_UNKNOWN = 0,
	DUMPCHECK_PG_PLAIN,
	DUMPCHECK_PG_DUMPALL,
	DUMPCHECK_PG_CUSTOM,
	DUMPCHECK_RDB,
	DUMPCHECK_GZIP,
	DUMPCHECK_ZSTD,
	DUMPCHECK_PG_DIRECTORY,	/* a folder: only through dumpcheck_pg_toc */
};

enum dumpcheck_status {
	DUMPCHECK_VERIFIED = 0,	/* checked: complete and intact */
	DUMPCHECK_UNCHECKED,	/* acceptable, but nothing (more) could be checked */
	DUMPCHECK_FAILED,	/* truncated, corrupt or unsupported: detail says why */
};

struct dumpcheck_result {
	enum dumpcheck_format format;
	const char *format_name;	/* static: "rdb", "pgdump-plain", ..., "unknown" */
	enum dumpcheck_status status;
	/* One line, no trailing period. VERIFIED: what was checked ("RDB
	 * version 10 (Redis 7.0), CRC-64 ok"); UNCHECKED: why not; FAILED:
	 * what is wrong, naming truncation or corruption. */
	char detail[320];
	/* "" or one line: the input is compressed, dedup will be poor, and
	 * which flags to use instead. */
	char warning[320];
	uint64_t bytes;			/* bytes fed */
};

struct dumpcheck;

/* A new context. Returns 0 or CAIRN_ENOMEM; free with dumpcheck_free. */
int dumpcheck_new(struct dumpcheck **ret);

/* Frees the context; NULL does nothing. */
void dumpcheck_free(struct dumpcheck *dc);

/* Declares the format the caller expects (e.g. DUMPCHECK_RDB for a stream
 * named *.rdb): input of another format then fails. Call before feeding. */
void dumpcheck_expect(struct dumpcheck *dc, enum dumpcheck_format format);

/* Feeds the next len bytes of the stream, in order; any split is fine.
 * Never fails: problems are remembered for dumpcheck_finish. */
void dumpcheck_feed(struct dumpcheck *dc, const void *data, size_t len);

/* The format recognised so far: DUMPCHECK_UNKNOWN until the first 256
 * bytes (or the whole, shorter, stream) have been fed, then the format. */
enum dumpcheck_format dumpcheck_format_seen(const struct dumpcheck *dc);

/* The stream has ended: fills *ret with the verdict. Returns 0 when the
 * status is VERIFIED or UNCHECKED, CAIRN_ECORRUPT when it is FAILED.
 * Call once; the context can only be freed afterwards. */
int dumpcheck_finish(struct dumpcheck *dc, struct dumpcheck_result *ret);

/* Checks the toc.dat of a pg_dump directory-format dump (-Fd), whole in
 * data: header and every table-of-contents entry as for the custom
 * format, and that nothing follows them. On success *ret_data_files is the
 * number of entries that name a data file (which the caller should find
 * in the folder). Fills *ret like dumpcheck_finish (format
 * DUMPCHECK_PG_DIRECTORY). 0, CAIRN_ECORRUPT (ret->detail says what is
 * wrong), CAIRN_ENOMEM. */
int dumpcheck_pg_toc(const void *data, size_t len, struct dumpcheck_result *ret,
		     uint64_t *ret_data_files);

/* The name of a format: "rdb", "pgdump-plain", ... ("unknown" for others). */
const char *dumpcheck_format_name(enum dumpcheck_format format);

/* Redis's CRC-64 (Jones polynomial, reflected, initial value 0, no final
 * xor) continued from crc over len bytes; start with crc 0. Bitwise, so
 * slow: a reference for tests and small inputs (contexts use tables). */
uint64_t dumpcheck_crc64(uint64_t crc, const void *data, size_t len);

#endif
