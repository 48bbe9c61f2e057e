/*
 * check.h - the unit-test harness: CHECK macros and a runner.
 *
 * A test file defines `static void test_x(void)` functions and lists them in
 * main with RUN(test_x). A failed CHECK prints file:line and the expression
 * and marks the run failed; main returns check_summary() as its exit code.
 */
#ifndef CC_TESTS_CHECK_H
#define CC_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                             \
	do {                                                                    \
		check_count++;                                                  \
		if (!(cond)) {                                                  \
			check_failures++;                                       \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__,  \
			        __LINE__, #cond);                               \
		}                                                               \
	} while (0)

#define CHECK_EQ(a, b)                                                          \
	do {                                                                    \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b); \
		check_count++;                                                  \
		if (check_a_ != check_b_) {                                     \
			check_failures++;                                       \
			fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld != %lld)\n", \
			        __FILE__, __LINE__, #a, #b, check_a_, check_b_); \
		}                                                               \
	} while (0)

#define CHECK_STR(a, b) CHECK(strcmp((a), (b)) == 0)

#define RUN(fn)                                                                 \
	do {                                                                    \
		int check_before_ = check_failures;                             \
		fn();                                                           \
		printf("%s %s\n", check_failures == check_before_ ? "ok  " : "FAIL", #fn); \
	} while (0)

static inline int check_summary(void)
{
	printf("%d checks, %d failed\n", check_count, check_failures);
	return check_failures == 0 ? 0 : 1;
}

/* A fresh empty directory for one test, under $CC_TEST_TMP (or /tmp). */
static inline void check_tmpdir(char *out, size_t cap, const char *name)
{
	const char *base = getenv("CC_TEST_TMP");
	char cmd[4096];
	int n;

	n = snprintf(out, cap, "%s/%s.%ld", base ? base : "/tmp", name, (long)getpid());
	if (n < 0 || (size_t)n >= cap || cap > 1000) {
		fprintf(stderr, "tmpdir path too long\n");
		exit(2);
	}
	n = snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s' && chmod 700 '%s'", out, out, out);
	if (n < 0 || (size_t)n >= sizeof(cmd) || system(cmd) != 0) {
		fprintf(stderr, "cannot make %s\n", out);
		exit(2);
	}
}

#endif
