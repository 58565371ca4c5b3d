/*
 * fuzz_timeparse.c - libFuzzer target for time_parse.
 *
 * The input (at most 256 bytes) is made a C string. A time that parses
 * must format (RFC 3339, UTC and a fixed offset) to a string that parses
 * back to the same instant. Local times depend on TZ, which the fuzzer
 * does not change, so runs are deterministic.
 */
#include "cairn/common.h"
#include "cairn/timeparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[257];
	size_t n = CAIRN_MIN(size, (size_t)256);
	memcpy(s, data, n);
	s[n] = 0;
	int64_t t = 0, back = 0;
	int e = time_parse(s, &t);
	if (e != 0) {
		if (e != CAIRN_EINVAL)
			abort();
		return 0;
	}
	static const int32_t offsets[] = { 0, 3600, -(9 * 3600 + 30 * 60) };
	for (size_t i = 0; i < CAIRN_ARRAY_LEN(offsets); i++) {
		char out[64];
		time_format_rfc3339(t, offsets[i], out, sizeof(out));
		if (time_parse(out, &back) != 0 || back != t)
			abort(); /* formatted output does not parse back */
		time_format_short(t, offsets[i], out, sizeof(out));
	}
	return 0;
}
