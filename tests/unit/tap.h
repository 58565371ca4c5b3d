/*
 * tap.h - minimal TAP producer for unit tests (run by automake's tap-driver).
 */
#ifndef CAIRN_TAP_H
#define CAIRN_TAP_H

#include <stdio.h>
#include <stdlib.h>

static int tap_n, tap_failed;

#define ok(cond, ...)                                                        \
	do {                                                                 \
		int ok_c_ = !!(cond);                                        \
		tap_n++;                                                     \
		if (!ok_c_)                                                  \
			tap_failed++;                                        \
		printf("%sok %d - ", ok_c_ ? "" : "not ", tap_n);            \
		printf(__VA_ARGS__);                                         \
		printf("\n");                                                \
		if (!ok_c_)                                                  \
			printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		fflush(stdout);                                              \
	} while (0)

#define is_int(got, want, ...)                                               \
	do {                                                                 \
		long long g_ = (long long)(got), w_ = (long long)(want);     \
		ok(g_ == w_, __VA_ARGS__);                                   \
		if (g_ != w_)                                                \
			printf("#   got %lld, want %lld\n", g_, w_);         \
	} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
