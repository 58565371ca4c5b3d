/*
 * fuzz_tar.c - libFuzzer target for the archive importer's reading path.
 *
 * Feeds the bytes to tarin_parse_memory: libarchive reads them as any
 * format the importer accepts, and cairn's part runs on what it yields:
 * path normalization, the in-memory path tree (duplicates, folders made
 * up, hard links), reading entry data with holes filled, and building,
 * encoding and decoding every tree bottom-up. libarchive itself is not
 * the target. The only acceptable failures are CAIRN_ECORRUPT (not an
 * archive, truncated, malformed) and CAIRN_ENOMEM; CAIRN_EINVAL would
 * mean a built tree does not encode, a bug. Parsing the same bytes twice
 * must give the same counts.
 */
#include "cairn/common.h"
#include "cairn/log.h"
#include "cairn/tarin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tarin_opts o = { .dir_time_ns = 1700000000000000000, .dir_uid = 1, .dir_gid = 1 };
	struct tarin_stats a, b;
	log_set_level(LOG_QUIET);
	int e = tarin_parse_memory(data, size, &o, &a);
	if (e != 0 && e != CAIRN_ECORRUPT && e != CAIRN_ENOMEM)
		abort();
	if (e != 0)
		return 0;
	if (!a.format)
		abort();
	e = tarin_parse_memory(data, size, &o, &b);
	if (e == CAIRN_ENOMEM)
		return 0;
	if (e != 0)
		abort();
	if (a.files != b.files || a.dirs != b.dirs || a.links != b.links ||
	    a.symlinks != b.symlinks || a.others != b.others || a.skipped != b.skipped ||
	    a.duplicates != b.duplicates)
		abort();
	return 0;
}
