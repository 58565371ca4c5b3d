/*
 * timeparse.h - parsing and formatting times.
 *
 * Accepted: ISO 8601 / RFC 3339 ("2026-11-21T14:30:00Z", "...+01:00",
 * fractional seconds allowed), and "YYYY-MM-DD HH:MM[:SS]" or
 * "YYYY-MM-DD" in local time. The current time can be pinned for tests
 * with CAIRN_TEST_NOW (Unix seconds), which only tests set.
 */
#ifndef CAIRN_TIMEPARSE_H
#define CAIRN_TIMEPARSE_H

#include <stddef.h>
#include <stdint.h>

/* Parses s into Unix ns. Returns 0 or CAIRN_EINVAL. */
int time_parse(const char *s, int64_t *ret_ns);

/* Now in Unix ns (CAIRN_TEST_NOW overrides). */
int64_t time_now_ns(void);

/* Local UTC offset in seconds at time t (ns). */
int32_t time_local_offset(int64_t t_ns);

/* RFC 3339 with the given offset: "2026-11-21T14:30:00.123456789+01:00"
 * (fraction omitted when zero). out must hold 40 bytes. */
void time_format_rfc3339(int64_t t_ns, int32_t offset, char *out, size_t cap);

/* "2026-11-21 14:30:00" in the given offset. */
void time_format_short(int64_t t_ns, int32_t offset, char *out, size_t cap);

#endif
