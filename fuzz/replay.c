/*
 * replay.c - runs a fuzz target over its seed corpus in the normal test
 * suite (casync's test/fuzz/ approach): no libFuzzer needed, any crash,
 * sanitizer report or abort() fails the test.
 *
 *   replay_<target> [FOLDER]
 *
 * FOLDER defaults to the compile-time FUZZ_CORPUS. Files are read in name
 * order (dot files skipped) into buffers of their exact size, so a read
 * past the end is caught by AddressSanitizer. Output is TAP: "ok N - file"
 * per file, then the plan; a missing or empty folder is a skip.
 */
#include "cairn/common.h"
#include "cairn/crypto.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#ifndef FUZZ_CORPUS
#define FUZZ_CORPUS "fuzz/corpus"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* scandir filter: regular names, not dot files. */
static int visible(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

/* Reads a whole file into a malloc'ed buffer of exactly its size. */
static int read_file(const char *path, uint8_t **ret, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	struct stat st;
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return -EINVAL;
	}
	size_t n = (size_t)st.st_size;
	uint8_t *p = malloc(n ? n : 1);
	if (!p || (n && fread(p, 1, n, f) != n)) {
		free(p);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	*ret = p;
	*ret_len = n;
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : FUZZ_CORPUS;
	struct dirent **names = NULL;
	if (crypto_init() != 0) {
		printf("Bail out! crypto_init failed\n");
		return 1;
	}
	int n = scandir(dir, &names, visible, alphasort);
	if (n <= 0) {
		printf("1..0 # SKIP no corpus in %s\n", dir);
		free(names);
		return 0;
	}
	int tests = 0, failed = 0;
	for (int i = 0; i < n; i++) {
		char path[4096];
		uint8_t *data = NULL;
		size_t len = 0;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		int e = read_file(path, &data, &len);
		if (e == -EINVAL) { /* a folder or special file: not an input */
			free(names[i]);
			continue;
		}
		tests++;
		if (e < 0) {
			printf("not ok %d - %s: cannot read (%s)\n", tests, names[i]->d_name,
			       strerror(-e));
			failed++;
		} else {
			/* Returns only if the target neither crashed nor aborted. */
			LLVMFuzzerTestOneInput(data, len);
			printf("ok %d - %s (%zu bytes)\n", tests, names[i]->d_name, len);
		}
		fflush(stdout);
		free(data);
		free(names[i]);
	}
	free(names);
	if (tests == 0)
		printf("1..0 # SKIP no corpus files in %s\n", dir);
	else
		printf("1..%d\n", tests);
	return failed ? 1 : 0;
}
