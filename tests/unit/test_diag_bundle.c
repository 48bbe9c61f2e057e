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
	/* A manifest line, then anything: the log lines are not judged. */
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

int main(void)
{
	RUN(test_manifest);
	return check_summary();
}
