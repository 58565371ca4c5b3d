/*
 * timeparse_test.c - parsing ISO 8601 / RFC 3339 and local times,
 * formatting, the pinned test clock.
 */
#include "cairn/common.h"
#include "cairn/timeparse.h"

#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

#define NS 1000000000LL

static void parses(const char *s, int64_t want_ns)
{
	int64_t got = 12345;
	int e = time_parse(s, &got);
	ok(e == 0 && got == want_ns, "\"%s\" -> %lld", s, (long long)want_ns);
	if (e != 0 || got != want_ns)
		printf("#   got %d, %lld\n", e, (long long)got);
}

static void rejects(const char *s)
{
	int64_t got = 12345;
	int e = time_parse(s, &got);
	ok(e == CAIRN_EINVAL && got == 12345, "\"%s\" rejected, output untouched", s);
}

static void test_utc(void)
{
	parses("2026-11-21T14:30:00Z", 1795271400 * NS);
	parses("2026-11-21T14:30:00z", 1795271400 * NS);
	parses("2026-11-21T14:30Z", 1795271400 * NS);
	parses("2026-11-21T14:30:00+00:00", 1795271400 * NS);
	parses("2026-11-21T14:30:00-00:00", 1795271400 * NS);
	parses("2026-11-21T14:30:00+01:00", 1795267800 * NS);
	parses("2026-11-21T14:30:00+0100", 1795267800 * NS);
	parses("2026-11-21T14:30:00+01", 1795267800 * NS);
	parses("2026-11-21T14:30:00-05:30", 1795291200 * NS);
	parses("2026-11-21T14:30:00+23:59", (1795271400 - 23 * 3600 - 59 * 60) * NS);
	parses("1970-01-01T00:00:00Z", 0);
	parses("1969-12-31T23:59:59Z", -1 * NS);
	parses("1900-01-01T00:00:00Z", -2208988800LL * NS);
	parses("2000-02-29T23:59:59Z", 951868799 * NS);
	parses("2000-02-29T23:59:60Z", 951868800 * NS); /* leap second: next second */
	parses("2026-11-21 14:30:00Z", 1795271400 * NS);
	parses("2026-11-21Z", 1795219200 * NS);
	/* Fractions. */
	parses("2026-11-21T14:30:00.5Z", 1795271400 * NS + 500000000);
	parses("2026-11-21T14:30:00,25Z", 1795271400 * NS + 250000000);
	parses("2026-11-21T14:30:00.123456789Z", 1795271400 * NS + 123456789);
	parses("2026-11-21T14:30:00.000000001+01:00", 1795267800 * NS + 1);
	parses("2026-11-21T14:30:00.1234567899999Z", 1795271400 * NS + 123456789);
	parses("1969-12-31T23:59:59.999999999Z", -1);
	parses("2262-04-11T23:47:16Z", 9223372036LL * NS);
}

static void test_local(void)
{
	const char *tz = access("/usr/share/zoneinfo/Europe/Berlin", R_OK) == 0
				 ? "Europe/Berlin"
				 : "CET-1CEST,M3.5.0,M10.5.0/3";
	setenv("TZ", tz, 1);
	tzset();
	printf("# TZ=%s\n", tz);
	parses("2026-11-21 14:30", 1795267800 * NS);	/* CET, UTC+1 */
	parses("2026-11-21 14:30:00", 1795267800 * NS);
	parses("2026-11-21T14:30:00", 1795267800 * NS);
	parses("2026-07-01 12:00:00", 1782900000 * NS);	/* CEST, UTC+2 */
	parses("2026-11-21", 1795215600 * NS);		/* local midnight */
	parses("2026-03-29 03:30:00", 1774747800 * NS);	/* just after the switch */
	parses("2026-11-21 14:30:00.75", 1795267800 * NS + 750000000);
	is_int(time_local_offset(1795267800 * NS), 3600, "local offset in November: +1 h");
	is_int(time_local_offset(1782900000 * NS), 7200, "local offset in July: +2 h");
	setenv("TZ", "UTC", 1);
	tzset();
	parses("2026-11-21 14:30", 1795271400 * NS);
	is_int(time_local_offset(1782900000 * NS), 0, "TZ=UTC: offset 0");
	setenv("TZ", tz, 1);
	tzset();
}

static void test_invalid(void)
{
	static const char *const bad[] = {
		"", "2026", "2026-11", "2026-11-2", "2026-1-21", "26-11-21", "2026/11/21",
		"2026-13-01", "2026-00-10", "2026-01-00", "2026-01-32", "2026-11-21T",
		"2026-11-21T14", "2026-11-21T14:3", "2026-11-21T1430", "2026-11-21T24:00Z",
		"2026-11-21T14:60Z", "2026-11-21T14:30:61Z", "2026-11-21T14:30:0Z",
		"2026-11-21T14:30:00.Z", "2026-11-21T14:30:00.", "2026-11-21T14:30:00ZZ",
		"2026-11-21T14:30:00Z ", " 2026-11-21T14:30:00Z", "2026-11-21T14:30:00+",
		"2026-11-21T14:30:00+1", "2026-11-21T14:30:00+24:00",
		"2026-11-21T14:30:00+01:60", "2026-11-21T14:30:00+01:00:00",
		"2026-11-21T14:30:00+01:0", "2026-11-21X14:30:00Z", "2026-11-21T14:30:00UTC",
		"yesterday", "abcd-ef-ghTij:kl:mnZ", "2026-11-21T-1:30:00Z",
	};
	for (size_t i = 0; i < CAIRN_ARRAY_LEN(bad); i++)
		rejects(bad[i]);
}

/*
 * Regressions in src/base/timeparse.c (fixed):
 *
 * 1. time_parse computes `t * 1000000000 + frac` in int64_t without a range
 *    check: any date after 2262-04-11T23:47:16.854775807Z (or before
 *    1677-09-21T00:12:43.145224192Z) is signed overflow, undefined
 *    behaviour; under UBSan (-fno-sanitize-recover) the process aborts:
 *      timeparse.c:107: runtime error: signed integer overflow:
 *      9223372037 * 1000000000 cannot be represented in type 'long int'
 *    Expected: CAIRN_EINVAL. Run in a child so the abort is one failure.
 * 2. The day is only checked against 31: "2026-02-30" is accepted and
 *    means 2026-03-02 (days_from_civil / mktime normalise it).
 * 3. An offset with a dangling colon, "+01:", is accepted as +01:00.
 *
 * parse_in_child: 0 rejected (right), 2 accepted, 1 UBSan's exit status
 * (the overflow was detected), 128+N killed by signal N.
 */
static int parse_in_child(const char *s)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int64_t t;
		_exit(time_parse(s, &t) == CAIRN_EINVAL ? 0 : 2);
	}
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

static void test_known_bugs(void)
{
	static const char *const out_of_range[] = {
		"2262-04-11T23:47:17Z", "3000-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
		"1677-09-21T00:12:43Z", "0000-01-01T00:00:00Z", "2262-04-11T23:47:16.9Z",
		"9999-12-31 23:59:59",
	};
	for (size_t i = 0; i < CAIRN_ARRAY_LEN(out_of_range); i++) {
		int r = parse_in_child(out_of_range[i]);
		ok(r == 0,
		   "int64 overflow: \"%s\" must be CAIRN_EINVAL "
		   "(child: %s)",
		   out_of_range[i], r == 2 ? "accepted" : r == 1 ? "UBSan: signed overflow" : "crashed");
	}
	int64_t t = 0;
	int e = time_parse("2026-02-30T00:00:00Z", &t);
	ok(e == CAIRN_EINVAL,
	   "\"2026-02-30T00:00:00Z\" must be rejected (got %d, %lld)", e,
	   (long long)t);
	e = time_parse("2026-04-31", &t);
	ok(e == CAIRN_EINVAL, "\"2026-04-31\" must be rejected (got %d)", e);
	e = time_parse("2026-11-21T14:30:00+01:", &t);
	ok(e == CAIRN_EINVAL,
	   "a dangling colon \"+01:\" must be rejected (got %d)", e);
}

static void round_trip(int64_t t, int32_t off, const char *want)
{
	char out[64];
	int64_t back = 0;
	time_format_rfc3339(t, off, out, sizeof(out));
	ok(strcmp(out, want) == 0, "format %lld %+d -> %s", (long long)t, off, want);
	if (strcmp(out, want) != 0)
		printf("#   got %s\n", out);
	ok(time_parse(out, &back) == 0 && back == t, "and it parses back to the same instant");
}

static void test_format(void)
{
	round_trip(1795271400 * NS, 0, "2026-11-21T14:30:00Z");
	round_trip(1795271400 * NS, 3600, "2026-11-21T15:30:00+01:00");
	round_trip(1795271400 * NS, -(5 * 3600 + 30 * 60), "2026-11-21T09:00:00-05:30");
	round_trip(1795271400 * NS + 123456789, 0, "2026-11-21T14:30:00.123456789Z");
	round_trip(1795271400 * NS + 1, 7200, "2026-11-21T16:30:00.000000001+02:00");
	round_trip(0, 0, "1970-01-01T00:00:00Z");
	round_trip(-1, 0, "1969-12-31T23:59:59.999999999Z");
	round_trip(-2208988800LL * NS, 0, "1900-01-01T00:00:00Z");
	round_trip(1795219200 * NS - 1, 3600, "2026-11-21T00:59:59.999999999+01:00");
	char out[64];
	time_format_short(1795271400 * NS + 999, 3600, out, sizeof(out));
	ok(strcmp(out, "2026-11-21 15:30:00") == 0, "short format: %s", out);
	time_format_short(-1, 0, out, sizeof(out));
	ok(strcmp(out, "1969-12-31 23:59:59") == 0, "short format before 1970: %s", out);
	char small[11];
	time_format_rfc3339(1795271400 * NS, 0, small, sizeof(small));
	ok(strcmp(small, "2026-11-21") == 0, "a small buffer is truncated, NUL-terminated");
	/* Every second of a day around a DST change round-trips through both
	 * formats at the local offset. */
	int bad = 0;
	for (int64_t s = 1774742400; s < 1774742400 + 86400; s += 61) {
		int32_t off = time_local_offset(s * NS);
		int64_t back;
		time_format_rfc3339(s * NS, off, out, sizeof(out));
		if (time_parse(out, &back) != 0 || back != s * NS)
			bad++;
		time_format_short(s * NS, off, out, sizeof(out));
		if (off == time_local_offset((s - 3600) * NS) &&
		    (time_parse(out, &back) != 0 || back != s * NS))
			bad++;
	}
	is_int(bad, 0, "local formats parse back across the DST change");
}

static void test_now(void)
{
	setenv("CAIRN_TEST_NOW", "1700000000", 1);
	ok(time_now_ns() == 1700000000LL * NS, "CAIRN_TEST_NOW pins the clock");
	unsetenv("CAIRN_TEST_NOW");
	int64_t now = time_now_ns(), sys = (int64_t)time(NULL) * NS;
	ok(now > sys - 5 * NS && now < sys + 5 * NS, "without it, the real time");
}

int main(void)
{
	test_utc();
	test_local();
	test_invalid();
	test_known_bugs();
	test_format();
	test_now();
	return tap_done();
}
