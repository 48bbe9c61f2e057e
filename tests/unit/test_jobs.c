/* test_jobs.c - a machine's command result (fleet/jobs.h): judged strictly, bounded, privacy-checked. */
#include "check.h"

#include "common/err.h"
#include "fleet/jobs.h"

#define LETTERS "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghij"

static int parse(const char *json, enum store_command_report *report, char *text, enum privacy_reason *privacy)
{
	const char *why = NULL;
	int rc = jobs_result_parse((const uint8_t *)json, strlen(json), report, text, &why, privacy);

	CHECK(rc == CC_OK || (why != NULL && why[0] != '\0'));
	return rc;
}

static void test_results(void)
{
	enum store_command_report r;
	enum privacy_reason p;
	char text[JOBS_REASON_MAX + 1], big[400];

	CHECK(parse("{\"state\":\"accepted\"}", &r, text, &p) == CC_OK && r == STORE_REPORT_ACCEPTED && !text[0]);
	CHECK(parse("{\"state\":\"succeeded\",\"reason\":\"boiler 93 C\"}", &r, text, &p) == CC_OK &&
	      r == STORE_REPORT_SUCCEEDED && strcmp(text, "boiler 93 C") == 0);
	CHECK(parse("{\"state\":\"failed\",\"reason\":\"grinder blocked\"}", &r, text, &p) == CC_OK &&
	      r == STORE_REPORT_FAILED && strcmp(text, "grinder blocked") == 0);
	CHECK(parse("{\"state\":\"failed\"}", &r, text, &p) == CC_OK && r == STORE_REPORT_FAILED);
	/* Shape. */
	CHECK(parse("{\"state\":\"accepted\",\"reason\":\"x\"}", &r, text, &p) == CC_ERR_INVALID);
	CHECK(parse("{\"state\":\"done\"}", &r, text, &p) == CC_ERR_INVALID);
	CHECK(parse("{\"state\":\"failed\",\"extra\":1}", &r, text, &p) == CC_ERR_INVALID);
	CHECK(parse("{\"state\":\"failed\",\"reason\":3}", &r, text, &p) == CC_ERR_INVALID);
	CHECK(parse("{\"state\":1}", &r, text, &p) == CC_ERR_INVALID);
	CHECK(parse("{\"state\":\"failed\",\"state\":\"succeeded\"}", &r, text, &p) == CC_ERR_INVALID);
	CHECK(parse("[\"failed\"]", &r, text, &p) == CC_ERR_INVALID);
	CHECK(parse("{}", &r, text, &p) == CC_ERR_INVALID);
	CHECK(parse("not json", &r, text, &p) == CC_ERR_INVALID);
	CHECK(parse("", &r, text, &p) == CC_ERR_INVALID);
	/* Bounds: 80 bytes of reason, one line, 256 bytes in all. */
	snprintf(big, sizeof(big), "{\"state\":\"failed\",\"reason\":\"%.80s\"}", LETTERS);
	CHECK(parse(big, &r, text, &p) == CC_OK && strlen(text) == 80);
	snprintf(big, sizeof(big), "{\"state\":\"failed\",\"reason\":\"%.81s\"}", LETTERS);
	CHECK(parse(big, &r, text, &p) == CC_ERR_INVALID);
	snprintf(big, sizeof(big), "{\"state\":\"failed\"%300s}", "");
	CHECK(parse(big, &r, text, &p) == CC_ERR_INVALID);
	CHECK(parse("{\"state\":\"failed\",\"reason\":\"a\\nb\"}", &r, text, &p) == CC_ERR_INVALID);
	CHECK(parse("{\"state\":\"failed\",\"reason\":\"a\\u0000b\"}", &r, text, &p) == CC_ERR_INVALID);
	/* Machine text passes the privacy filter. */
	CHECK(parse("{\"state\":\"failed\",\"reason\":\"card 4111 1111 1111 1111\"}", &r, text, &p) == CC_ERR_INVALID &&
	      p == PRIVACY_CARD_NUMBER && text[0] == '\0');
	CHECK(parse("{\"state\":\"failed\",\"reason\":\"mail carl@example.com\"}", &r, text, &p) == CC_ERR_INVALID &&
	      p == PRIVACY_EMAIL);
	CHECK(parse("{\"state\":\"succeeded\",\"reason\":\"E042 cleared\"}", &r, text, &p) == CC_OK && p == PRIVACY_NONE);
}

static void test_topic_id(void)
{
#define ID(t) jobs_result_topic_id((const uint8_t *)(t), strlen(t))
	CHECK_EQ(ID("cc/v1/M1/cmd/42/result"), 42);
	CHECK_EQ(ID("cc/v1/M1/cmd/999999999999999999/result"), 999999999999999999LL);
	CHECK_EQ(ID("cc/v1/M1/cmd/0/result"), 0);
	CHECK_EQ(ID("cc/v1/M1/cmd/4x/result"), 0);
	CHECK_EQ(ID("cc/v1/M1/cmd/42/results"), 0);
	CHECK_EQ(ID("/result"), 0);
#undef ID
}

int main(void)
{
	RUN(test_results);
	RUN(test_topic_id);
	return check_summary();
}
