/* test_agent_json.c - the agent's reader of the server's offer answer
 * (src/agent/agent_json.c): strings decoded, everything else checked and
 * skipped, and what a strict reader must refuse, refused. */
#include <stdlib.h>
#include <string.h>

#include "agent/internal.h"
#include "check.h"

static const char *const names[] = { "offer", "metadata" };

static int read2(const char *doc, char *out[2])
{
	cc_agent a;
	memset(&a, 0, sizeof(a));
	return cc_ag_json_strings(&a, doc, strlen(doc), names, out, 2);
}

static void release(char *out[2])
{
	free(out[0]);
	free(out[1]);
}

static void test_strings_decoded_others_skipped(void)
{
	char *v[2];
	CHECK_EQ(read2(" {\"serial\":\"S1\",\"offer\":\"a\\\"b\\\\c\\n\\u00e9\\ud83d\\ude00\",\"n\":[1,-2.5e3,"
	               "{\"x\":null,\"y\":true}],\"metadata\":\"{\\\"k\\\":1}\"} ", v), CC_AGENT_OK);
	CHECK_STR(v[0], "a\"b\\c\n\xc3\xa9\xf0\x9f\x98\x80");
	CHECK_STR(v[1], "{\"k\":1}");
	release(v);
	CHECK_EQ(read2("{\"offer\":\"x\"}", v), CC_AGENT_OK);
	CHECK(v[0] != NULL && v[1] == NULL);
	release(v);
}

static void test_refused(void)
{
	static const char *const bad[] = {
		"{\"offer\":\"a\",\"offer\":\"b\"}",  /* a duplicate member */
		"{\"offer\":1}",                      /* a wanted member not a string */
		"{\"offer\":\"a\"} x",                /* bytes after the object */
		"{\"offer\":\"\\u0000\"}",            /* NUL */
		"{\"offer\":\"\\ud83d\"}",            /* a lone surrogate */
		"{\"offer\":\"\\ude00\"}",
		"{\"offer\":\"a\nb\"}",               /* a raw control byte */
		"{\"offer\":\"a\"",                   /* cut short */
		"{\"n\":01}",                         /* not JSON numbers */
		"{\"n\":1.}",
		"{\"n\":[1,]}",
		"[\"offer\"]",                        /* not an object */
		"",
		"{\"x\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}", /* deeper than 16 */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *v[2] = { (char *)1, (char *)1 };
		CHECK_EQ(read2(bad[i], v), CC_AGENT_EINVAL);
		CHECK(v[0] == NULL && v[1] == NULL);
	}
}

static void test_quote(void)
{
	char buf[64] = "";
	CHECK_EQ(cc_ag_json_quote("a\"\\\x01z", buf, sizeof(buf)), 0);
	CHECK_STR(buf, "\"a\\\"\\\\\\u0001z\"");
	char small[4] = "";
	CHECK_EQ(cc_ag_json_quote("abc", small, sizeof(small)), -1);
}

int main(void)
{
	RUN(test_strings_decoded_others_skipped);
	RUN(test_refused);
	RUN(test_quote);
	return check_summary();
}
