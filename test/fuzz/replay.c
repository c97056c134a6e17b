/*
 * replay: the plain driver of a fuzz target.  Runs every file named on the
 * command line, or found in a directory named there, once through
 * LLVMFuzzerTestOneInput(), so the seed corpora and the regression inputs
 * of past crashes run in the normal test suite with any compiler (and
 * under ASan/UBSan when the build has them).  A failed property aborts.
 * A path that does not exist counts as no input (a target without past
 * crashes has no regression directory), but the run fails when no input
 * at all was found: a replay of nothing proves nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Reads a whole file into a malloc'd buffer; NULL (with a message) if not. */
static uint8_t *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL, *grown;
	size_t cap = 0, n;

	*len = 0;
	if (f == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	do {
		if (*len == cap) {
			cap = cap == 0 ? 4096 : cap * 2;
			if ((grown = realloc(buf, cap)) == NULL) {
				free(buf);
				fclose(f);
				fprintf(stderr, "replay: out of memory\n");
				return NULL;
			}
			buf = grown;
		}
		n = fread(buf + *len, 1, cap - *len, f);
		*len += n;
	} while (n > 0);
	fclose(f);
	return buf;
}

/* Runs one file through the target; returns 1, or -1 when unreadable. */
static int
run_file(const char *path)
{
	size_t len;
	uint8_t *buf = read_file(path, &len);

	if (buf == NULL)
		return -1;
	/* Exact-size copy, so ASan sees a read past the input's end. */
	uint8_t *exact = malloc(len > 0 ? len : 1);
	if (exact == NULL) {
		free(buf);
		return -1;
	}
	memcpy(exact, buf, len);
	free(buf);
	(void)LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 1;
}

/* Runs a file, or every regular file in a directory (not recursive). */
static int
run_path(const char *path)
{
	struct stat st;
	struct dirent *e;
	DIR *dir;
	int count = 0;

	if (stat(path, &st) != 0) {
		/* A target without regressions has no regress/<target>. */
		if (errno == ENOENT)
			return 0;
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path);
	if ((dir = opendir(path)) == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((e = readdir(dir)) != NULL) {
		char full[4096];
		int r;

		if (e->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(full, sizeof(full), "%s/%s", path,
		                     e->d_name) >= sizeof(full))
			continue;
		if (stat(full, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if ((r = run_file(full)) < 0) {
			closedir(dir);
			return -1;
		}
		count += r;
	}
	closedir(dir);
	return count;
}

/* Replays every input given; exit 0 when all ran and at least one did. */
int
main(int argc, char **argv)
{
	int total = 0;

	for (int i = 1; i < argc; i++) {
		int n = run_path(argv[i]);

		if (n < 0)
			return 1;
		printf("%s: %d inputs\n", argv[i], n);
		total += n;
	}
	if (total == 0) {
		fprintf(stderr, "replay: no input found\n");
		return 1;
	}
	printf("%d inputs replayed, every property held\n", total);
	return 0;
}
