/*
 * timeparse.c - time parsing and formatting (see timeparse.h).
 */
#include "cairn/common.h"
#include "cairn/timeparse.h"

#include <time.h>

/* Reads exactly n digits. */
static int digits(const char **s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*s)[i];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*s += n;
	*out = v;
	return 0;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int time_parse(const char *s, int64_t *ret_ns)
{
	int Y, M, D, h = 0, mi = 0, sec = 0;
	int64_t frac = 0;
	if (digits(&s, 4, &Y) < 0 || *s++ != '-' || digits(&s, 2, &M) < 0 || *s++ != '-' ||
	    digits(&s, 2, &D) < 0)
		return CAIRN_EINVAL;
	if (*s == 'T' || *s == 't' || *s == ' ') {
		s++;
		if (digits(&s, 2, &h) < 0 || *s++ != ':' || digits(&s, 2, &mi) < 0)
			return CAIRN_EINVAL;
		if (*s == ':') {
			s++;
			if (digits(&s, 2, &sec) < 0)
				return CAIRN_EINVAL;
			if (*s == '.' || *s == ',') {
				s++;
				int n = 0;
				while (*s >= '0' && *s <= '9') {
					if (n < 9) {
						frac = frac * 10 + (*s - '0');
						n++;
					}
					s++;
				}
				if (n == 0)
					return CAIRN_EINVAL;
				while (n++ < 9)
					frac *= 10;
			}
		}
	}
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || mi > 59 || sec > 60)
		return CAIRN_EINVAL;
	if (M == 2 && D == 29 && !((Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0))
		return CAIRN_EINVAL;
	int has_zone = 0;
	int32_t off = 0;
	if (*s == 'Z' || *s == 'z') {
		has_zone = 1;
		s++;
	} else if (*s == '+' || *s == '-') {
		int sign = *s++ == '-' ? -1 : 1, oh, om = 0;
		if (digits(&s, 2, &oh) < 0)
			return CAIRN_EINVAL;
		if (*s == ':') {
			s++;
			if (digits(&s, 2, &om) < 0)
				return CAIRN_EINVAL;
		} else if (*s && digits(&s, 2, &om) < 0) {
			return CAIRN_EINVAL;
		}
		if (oh > 23 || om > 59)
			return CAIRN_EINVAL;
		off = sign * (oh * 3600 + om * 60);
		has_zone = 1;
	}
	if (*s)
		return CAIRN_EINVAL;
	int64_t t;
	if (has_zone) {
		t = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec - off;
	} else {
		struct tm tm;
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = Y - 1900;
		tm.tm_mon = M - 1;
		tm.tm_mday = D;
		tm.tm_hour = h;
		tm.tm_min = mi;
		tm.tm_sec = sec;
		tm.tm_isdst = -1;
		time_t tt = mktime(&tm);
		if (tt == (time_t)-1 && !(Y == 1969 && M == 12 && D == 31))
			return CAIRN_EINVAL;
		t = (int64_t)tt;
	}
	/* nanoseconds in an int64: 1677-09-21 .. 2262-04-11 */
	if (t < -9223372036 || t > 9223372036 || (t == 9223372036 && frac > 854775807))
		return CAIRN_EINVAL;
	*ret_ns = t * 1000000000 + frac;
	return 0;
}

int64_t time_now_ns(void)
{
	const char *pin = getenv("CAIRN_TEST_NOW");
	if (pin && *pin)
		return strtoll(pin, NULL, 10) * 1000000000;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int32_t time_local_offset(int64_t t_ns)
{
	time_t t = (time_t)(t_ns / 1000000000);
	struct tm tm;
	if (!localtime_r(&t, &tm))
		return 0;
	return (int32_t)tm.tm_gmtoff;
}

/* Splits t+offset into a UTC-like broken-down time and nanoseconds. */
static void split(int64_t t_ns, int32_t offset, struct tm *tm, long *ns)
{
	int64_t s = t_ns / 1000000000;
	long n = (long)(t_ns % 1000000000);
	if (n < 0) {
		n += 1000000000;
		s--;
	}
	time_t tt = (time_t)(s + offset);
	gmtime_r(&tt, tm);
	*ns = n;
}

void time_format_rfc3339(int64_t t_ns, int32_t offset, char *out, size_t cap)
{
	struct tm tm;
	long ns;
	split(t_ns, offset, &tm, &ns);
	char frac[16] = "";
	if (ns)
		snprintf(frac, sizeof(frac), ".%09ld", ns);
	char zone[16];
	if (offset == 0)
		snprintf(zone, sizeof(zone), "Z");
	else
		snprintf(zone, sizeof(zone), "%c%02d:%02d", offset < 0 ? '-' : '+',
			 (offset < 0 ? -offset : offset) / 3600,
			 ((offset < 0 ? -offset : offset) % 3600) / 60);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d%s%s", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac, zone);
}

void time_format_short(int64_t t_ns, int32_t offset, char *out, size_t cap)
{
	struct tm tm;
	long ns;
	split(t_ns, offset, &tm, &ns);
	snprintf(out, cap, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}
