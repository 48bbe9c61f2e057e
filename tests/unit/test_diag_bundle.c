/* test_diag_bundle.c - the manifest of a diagnostics bundle (fleet/diag_bundle.h):
 * the first line, bounded, the required fields, the privacy filter. */
#include "check.h"

#include "common/err.h"
#include "fleet/diag_bundle.h"

#define GOOD "{\"format\":\"coffeecloud-diagnostics/1\",\"serial\":\"M1\",\"firmware\":\"4.2.1\",\"uptime_s\":86400"

static int check(const char *text, const char *serial, size_t *mlen, enum privacy_reason *p)
{
	const char *why = NULL;
	int rc = diag_manifest_check((const uint8_t *)text, strlen(text), serial, mlen, &why, p);

	CHECK(why != NULL && (rc == CC_OK) == (why[0] == '\0'));
	return rc;
}

static void test_manifest(void)
{
	enum privacy_reason p;
	size_t mlen = 0;
	char *big;

	CHECK(check(GOOD "}\nlog line\n", "M1", &mlen, &p) == CC_OK && mlen == strlen(GOOD "}") && p == PRIVACY_NONE);
	CHECK(check(GOOD ",\"boiler_c\":[92.5,93.1],\"config\":{\"brew_temp_c\":93}}\n", NULL, &mlen, &p) == CC_OK);
	/* A manifest line, then anything: the log lines are not its to judge (diag_lines). */
	CHECK(check(GOOD "}\ncall 030 1234567\n", "M1", &mlen, &p) == CC_OK);
	/* Shape and fields. */
	CHECK(check(GOOD "}", "M1", &mlen, &p) == CC_ERR_INVALID && mlen == 0);
	CHECK(check(GOOD "}\n", "M2", &mlen, &p) == CC_ERR_INVALID);
	CHECK(check("[1]\n", NULL, &mlen, &p) == CC_ERR_INVALID);
	CHECK(check("not json\n", NULL, &mlen, &p) == CC_ERR_INVALID);
	CHECK(check("\n", NULL, &mlen, &p) == CC_ERR_INVALID);
	CHECK(check("", NULL, &mlen, &p) == CC_ERR_INVALID);
	CHECK(check(GOOD ",\"serial\":\"M1\"}\n", NULL, &mlen, &p) == CC_ERR_INVALID); /* a duplicate key */
	CHECK(check("{\"format\":\"coffeecloud-diagnostics/2\",\"serial\":\"M1\",\"firmware\":\"1\",\"uptime_s\":1}\n",
	            NULL, &mlen, &p) == CC_ERR_INVALID);
	CHECK(check("{\"format\":\"coffeecloud-diagnostics/1\",\"serial\":\"M1\",\"uptime_s\":1}\n", NULL, &mlen, &p) ==
	      CC_ERR_INVALID);
	CHECK(check("{\"format\":\"coffeecloud-diagnostics/1\",\"serial\":\"M1\",\"firmware\":\"1\",\"uptime_s\":-1}\n",
	            NULL, &mlen, &p) == CC_ERR_INVALID);
	/* The privacy filter, whatever else is in it. */
	CHECK(check(GOOD ",\"note\":\"ref 4111 1111 1111 1111\"}\n", "M1", &mlen, &p) == CC_ERR_INVALID &&
	      p == PRIVACY_CARD_NUMBER);
	CHECK(check(GOOD ",\"contact\":\"carl@example.com\"}\n", "M1", &mlen, &p) == CC_ERR_INVALID && p == PRIVACY_EMAIL);
	CHECK(check(GOOD ",\"price_eur\":2.5}\n", "M1", &mlen, &p) == CC_ERR_INVALID && p == PRIVACY_FINANCIAL_KEY);
	CHECK(check("{\"x\":\"4111111111111111\"}\n", NULL, &mlen, &p) == CC_ERR_INVALID && p == PRIVACY_CARD_NUMBER);
	/* Bounded: a manifest line of 65536 bytes is taken, one byte more is not. */
	big = malloc(DIAG_MANIFEST_MAX + 16);
	CHECK(big != NULL);
	if (big != NULL) {
		size_t n = strlen(GOOD ",\"pad\":\"");

		memcpy(big, GOOD ",\"pad\":\"", n);
		memset(big + n, 'a', DIAG_MANIFEST_MAX - n - 2);
		memcpy(big + DIAG_MANIFEST_MAX - 2, "\"}\n", 4);
		CHECK(check(big, NULL, &mlen, &p) == CC_OK && mlen == DIAG_MANIFEST_MAX);
		memmove(big + n + 1, big + n, DIAG_MANIFEST_MAX - n + 2);
		big[n] = 'a';
		CHECK(check(big, NULL, &mlen, &p) == CC_ERR_INVALID);
		free(big);
	}
}

/* Feeds text in pieces of step bytes (0: whole). */
static enum privacy_reason lines_of(struct diag_lines *l, const char *text, size_t len, size_t step)
{
	size_t i;

	diag_lines_init(l);
	for (i = 0; i < len; i += step ? step : len)
		diag_lines_feed(l, (const uint8_t *)text + i, step && len - i > step ? step : len - i);
	return diag_lines_end(l);
}

static void test_log_lines(void)
{
	static const char clean[] = GOOD "}\n2026-12-07T10:00:00Z INFO boiler: heating to 93.5 C\n"
	                            "2026-12-07T10:00:05Z INFO pump: 9.1 bar, build 20261128-1432 2.14.3\n";
	/* The manifest's phone-like text is the JSON filter's business; line 3 is a log line. */
	static const char mail[] = GOOD "}\nboot ok\nservice visit: carl.smith@example.com\nlater line\n";
	static const char card[] = GOOD "}\na\nb\npaid 4111 1111 1111 1111";
	struct diag_lines *l = malloc(sizeof(*l));
	char *big;
	size_t n, at;

	CHECK(l != NULL);
	if (l == NULL)
		return;
	CHECK(lines_of(l, clean, strlen(clean), 0) == PRIVACY_NONE && l->refused == 0);
	CHECK(lines_of(l, clean, strlen(clean), 1) == PRIVACY_NONE);
	CHECK(lines_of(l, mail, strlen(mail), 0) == PRIVACY_EMAIL && l->refused == 3);
	/* Byte by byte: a line is judged whole, however the chunks cut it. */
	CHECK(lines_of(l, mail, strlen(mail), 1) == PRIVACY_EMAIL && l->refused == 3);
	CHECK(lines_of(l, mail, strlen(mail), 7) == PRIVACY_EMAIL && l->refused == 3);
	/* The last line without its newline. */
	CHECK(lines_of(l, card, strlen(card), 5) == PRIVACY_CARD_NUMBER && l->refused == 4);
	CHECK(lines_of(l, "x\ncall +49 171 1234567\n", 22, 0) == PRIVACY_PHONE && l->refused == 2);
	/* A line longer than a window: the number across the windows' edge is found. */
	n = 3 * DIAG_LINE_MAX;
	big = malloc(n + 1);
	CHECK(big != NULL);
	if (big != NULL) {
		memset(big, 'x', n);
		big[0] = '{';
		big[1] = '\n';
		for (at = 2; at + 1 < n; at += 80)
			big[at] = ' ';
		memcpy(big + DIAG_LINE_MAX - 8, " 4111111111111111 ", 18);
		big[n] = '\0';
		CHECK(lines_of(l, big, n, 4096) == PRIVACY_CARD_NUMBER && l->refused == 2);
		memcpy(big + DIAG_LINE_MAX - 8, " xxxxxxxxxxxxxxxx ", 18);
		CHECK(lines_of(l, big, n, 4096) == PRIVACY_NONE);
		free(big);
	}
	free(l);
}

int main(void)
{
	RUN(test_manifest);
	RUN(test_log_lines);
	return check_summary();
}
