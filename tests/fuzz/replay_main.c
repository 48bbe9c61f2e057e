/*
 * replay_main.c - runs a fuzz target over every file of its corpus directory,
 * so the normal test suite (and its sanitizer build) replays the corpus
 * without libFuzzer.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	struct dirent *e;
	DIR *d;
	int count = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	d = opendir(argv[1]);
	if (d == NULL) {
		fprintf(stderr, "%s: cannot open corpus\n", argv[1]);
		return 1;
	}
	while ((e = readdir(d)) != NULL) {
		char path[4096];
		unsigned char *buf = NULL;
		size_t len = 0;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", argv[1], e->d_name);
		if (file_read_all(path, 16u << 20, &buf, &len) != 0) {
			closedir(d);
			return 1;
		}
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
		count++;
	}
	closedir(d);
	printf("replayed %d inputs from %s\n", count, argv[1]);
	/* An empty corpus would make this test prove nothing. */
	return count > 0 ? 0 : 1;
}
