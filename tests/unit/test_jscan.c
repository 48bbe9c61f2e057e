/*
 * The one-pass scanner of ingest/jscan.h and the fast path of message_check
 * built on it: the tokens of a document, what it declines, and that the
 * messages machines send every second are judged by the scanner (no tree)
 * with the verdict of the reference path. tests/fuzz/fuzz_ingest_diff.c
 * checks the same against jansson on hostile input.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "ingest/jscan.h"
#include "ingest/message.h"

/* 2026-11-28T12:00:00Z */
#define NOW INT64_C(1795867200000)

struct seen {
	struct jscan_token t[64];
	size_t n;
};

static int collect(void *ctx, const struct jscan_token *t)
{
	struct seen *s = ctx;

	if (s->n == 64)
		return 7;
	s->t[s->n++] = *t;
	return 0;
}

static int scan(const char *doc, struct seen *s)
{
	static struct jscan js;

	memset(s, 0, sizeof(*s));
	return jscan_run(&js, (const uint8_t *)doc, strlen(doc), collect, s);
}

static int tok_is(const struct jscan_token *t, enum jscan_type type, int depth, const char *text)
{
	if (t->type != type || t->depth != depth)
		return 0;
	return text == NULL || (t->len == strlen(text) && memcmp(t->s, text, t->len) == 0);
}

static void test_tokens(void)
{
	struct seen s;

	CHECK_EQ(scan(" {\"a\" : [1, -2.5e1, true, false, null], \"b\\u00e9\\ud83d\\ude00\": {\"c\":\"x\\ny\"}} \r\n", &s),
	         JSCAN_OK);
	CHECK_EQ(s.n, 15);
	CHECK(tok_is(&s.t[0], JSCAN_OBJECT, 0, NULL));
	CHECK(tok_is(&s.t[1], JSCAN_KEY, 1, "a"));
	CHECK(tok_is(&s.t[2], JSCAN_ARRAY, 1, NULL));
	CHECK(tok_is(&s.t[3], JSCAN_INTEGER, 2, NULL));
	CHECK_EQ(s.t[3].i, 1);
	CHECK(tok_is(&s.t[4], JSCAN_REAL, 2, NULL));
	CHECK(s.t[4].d == -25.0);
	CHECK(tok_is(&s.t[5], JSCAN_TRUE, 2, NULL));
	CHECK(tok_is(&s.t[6], JSCAN_FALSE, 2, NULL));
	CHECK(tok_is(&s.t[7], JSCAN_NULL, 2, NULL));
	CHECK(tok_is(&s.t[8], JSCAN_ARRAY_END, 1, NULL));
	CHECK(tok_is(&s.t[9], JSCAN_KEY, 1, "b\xc3\xa9\xf0\x9f\x98\x80"));
	CHECK(tok_is(&s.t[10], JSCAN_OBJECT, 1, NULL));
	CHECK(tok_is(&s.t[11], JSCAN_KEY, 2, "c"));
	CHECK(tok_is(&s.t[12], JSCAN_STRING, 2, "x\ny"));
	CHECK(tok_is(&s.t[13], JSCAN_OBJECT_END, 1, NULL));
	CHECK(tok_is(&s.t[14], JSCAN_OBJECT_END, 0, NULL));

	CHECK_EQ(scan("{\"n\":-9223372036854775808,\"m\":9223372036854775807,\"z\":-0}", &s), JSCAN_OK);
	CHECK(s.t[2].i == INT64_MIN && s.t[4].i == INT64_MAX && s.t[6].i == 0);
	CHECK_EQ(scan("{\"r\":0.1,\"s\":123456789012345e-5,\"t\":1E22}", &s), JSCAN_OK);
	CHECK(s.t[2].d == 0.1 && s.t[4].d == 1234567890.12345 && s.t[6].d == 1e22);
	CHECK_EQ(scan("{}", &s), JSCAN_OK);
	CHECK_EQ(s.n, 2);
	/* the callback stops the scan with its own value */
	CHECK_EQ(scan("{\"a\":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,"
	              "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}", &s),
	         7);
}

static void test_declined(void)
{
	static const char *const no[] = {
		"", "   ", "[1]", "\"x\"", "1", "{", "{\"a\":1", "{\"a\":1}x", "{\"a\":1,}", "{\"a\" 1}",
		"{a:1}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":+1}", "{\"a\":-}", "{\"a\":1e}",
		"{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":tru}", "{\"a\":truex}", "{\"a\":nul}",
		"{\"a\":1,\"a\":2}", "{\"x\":{\"a\":1,\"a\":1}}", "{\"a\\u0000\":1}", "{\"a\":\"\\u0000\"}",
		"{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}", "{\"a\":\"\\ud800\\u0041\"}", "{\"a\":\"\\x\"}",
		"{\"a\":\"\\u12\"}", "{\"a\":\"tab\there\"}", "{\"a\":\"\xc3\"}", "{\"a\":\"\xc0\x80\"}",
		"{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xf4\x90\x80\x80\"}", "{\"a\":\"\xff\"}",
		"{\"a\":9223372036854775808}", "{\"a\":-9223372036854775809}",
		"{\"a\":1234567890123456.5}", "{\"a\":1e23}", "{\"a\":1e-23}", "{\"a\":1e99999}",
		"{\"a\":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}", "\xef\xbb\xbf{}",
	};
	struct seen s;
	size_t i;

	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		int rc = scan(no[i], &s);

		if (rc != JSCAN_DECLINED)
			fprintf(stderr, "not declined: %s\n", no[i]);
		CHECK_EQ(rc, JSCAN_DECLINED);
	}
	/* 15 levels inside the top-level object: still scanned */
	CHECK_EQ(scan("{\"a\":[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]}", &s), JSCAN_OK);
}

static void same(enum message_kind kind, const char *payload, int judged_by_scanner)
{
	struct message_verdict fast, ref;
	int rc = message_check_fast_at(kind, "barista-pro", (const uint8_t *)payload, strlen(payload), NOW, &fast);

	CHECK_EQ(message_check_reference_at(kind, "barista-pro", (const uint8_t *)payload, strlen(payload), NOW, &ref),
	         0);
	CHECK_EQ(rc, judged_by_scanner);
	if (rc == 1) {
		CHECK_EQ(fast.accepted, ref.accepted);
		CHECK_EQ(fast.privacy, ref.privacy);
		CHECK_STR(fast.reason, ref.reason);
		CHECK(fast.seq == ref.seq && fast.ts_ms == ref.ts_ms);
		CHECK_STR(fast.event_type, ref.event_type);
		CHECK_STR(fast.model, ref.model);
	}
}

static void test_fast_path(void)
{
	/* what coffeecloud-loadgen and coffeecloud-sim send, judged in one pass */
	same(MESSAGE_TELEMETRY,
	     "{\"seq\":12,\"ts\":1795860000000,\"m\":{\"boiler_temp_c\":93.4,\"brew_temp_c\":92.7,"
	     "\"pump_pressure_bar\":9.9,\"flow_ml_s\":2.1,\"grinder_current_a\":0.0,"
	     "\"milk_fridge_temp_c\":4.4,\"bean_hopper_pct\":64.5,\"cup_counter\":12345}}",
	     1);
	same(MESSAGE_EVENT,
	     "{\"seq\":18,\"ts\":1795860000000,\"type\":\"brew\",\"product\":\"espresso\",\"volume_ml\":30,"
	     "\"brew_time_s\":24.5,\"temp_c\":93.1}",
	     1);
	same(MESSAGE_INFO, "{\"model\":\"barista-pro\",\"hw\":\"rev-C.2\",\"sw\":\"2.14.3+b81\"}", 1);
	/* refusals the scanner judges itself, with the reference path's reasons */
	same(MESSAGE_TELEMETRY, "{\"seq\":1,\"ts\":1795860000000,\"m\":{\"cup_counter\":1.5}}", 1);
	same(MESSAGE_TELEMETRY, "{\"seq\":1,\"ts\":1795860000000,\"m\":{\"revenue_eur\":1}}", 1);
	same(MESSAGE_TELEMETRY, "{\"seq\":1,\"ts\":1795860000000,\"m\":{\"boiler_temp_c\":4111111111111111}}", 1);
	same(MESSAGE_EVENT, "{\"seq\":1,\"ts\":1795860000000,\"type\":\"error\",\"code\":\"E042\",\"severity\":"
	                    "\"info\",\"contact\":\"rosa@example.com\"}",
	     1);
	same(MESSAGE_EVENT, "{\"seq\":1,\"ts\":1795860000000,\"type\":\"brew\",\"volume_ml\":30}", 1);
	same(MESSAGE_INFO, "{\"model\":\"a b\",\"hw\":\"x\",\"sw\":\"1\"}", 1);
	same(MESSAGE_TELEMETRY, "{\"seq\":1,\"ts\":1795860000000,\"m\":{}}", 1);
	same(MESSAGE_TELEMETRY, "{\"ts\":1795860000000,\"m\":{\"cup_counter\":1},\"x\":1}", 1);
	/* malformed: declined, so the reference path names the error */
	same(MESSAGE_TELEMETRY, "{\"seq\":1,\"seq\":2,\"ts\":1795860000000,\"m\":{\"cup_counter\":1}}", 0);
	same(MESSAGE_TELEMETRY, "{\"seq\":1,\"ts\":1795860000000,\"m\":{\"cup_counter\":1}", 0);
	same(MESSAGE_TELEMETRY, "[1]", 0);
	/* the checks before decoding are shared */
	same(MESSAGE_TELEMETRY, "", 1);
}

int main(void)
{
	RUN(test_tokens);
	RUN(test_declined);
	RUN(test_fast_path);
	return check_summary();
}
