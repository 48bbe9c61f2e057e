/*
 * Days of events digested (records/event_days.h): what a report reads is
 * the same whether a day comes from its digest or from its records, with
 * late events, events still in the inbox, a damaged digest and a range
 * that cuts days in half; a late event drops its day's digest in the
 * round that moves it in.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/inventory.h"
#include "quality/ruleset.h"
#include "records/event_days.h"
#include "records/records.h"
#include "setup/setup.h"
#include "vault/vault.h"

#define DAY EVENT_DAYS_DAY_MS
#define BASE (INT64_C(20000) * DAY) /* a whole UTC day */

static char dir[900];

static void init_dir(const char *name)
{
	struct setup_opts o = { 0 };
	struct setup_result r;

	check_tmpdir(dir, sizeof(dir), name);
	strncat(dir, "/data", sizeof(dir) - strlen(dir) - 1);
	o.dir = dir;
	o.manufacturer = "acme";
	o.admin_login = "admin";
	o.admin_password = "correct horse battery staple";
	CHECK_EQ(setup_init(&o, &r), CC_OK);
}

static void test_reduce(void)
{
	char out[512];
	size_t len = 0;
	const char *body = "{\"seq\":7,\"ts\":1,\"type\":\"brew\",\"product\":\"caf\\u00e9 \\\"x\\\"\\n\","
	                   "\"temp_c\":93.25,\"brew_time_s\":24,\"volume_ml\":40,\"pressure_bar\":9.1,\"note\":\"left out\","
	                   "\"result\":{\"nested\":1},\"counter\":123456789012}";
	int f;

	CHECK_EQ(event_days_reduce(body, strlen(body), out, sizeof(out), &len), CC_OK);
	out[len] = '\0';
	CHECK_STR(out, "{\"type\":\"brew\",\"product\":\"caf\xc3\xa9 \\\"x\\\"\\u000a\",\"temp_c\":93.25,"
	                  "\"brew_time_s\":24,\"volume_ml\":40,\"pressure_bar\":9.1,\"result\":null,\"counter\":123456789012}");
	/* Every measure a rule set judges is kept. */
	for (f = 0; f < QF_COUNT; f++) {
		char key[64];

		snprintf(key, sizeof(key), "\"%s\":", quality_field_name((enum quality_field)f));
		CHECK(strstr(out, key) != NULL);
	}
	CHECK_EQ(event_days_reduce("[1]", 3, out, sizeof(out), &len), CC_ERR_INVALID);
	CHECK_EQ(event_days_reduce(body, strlen(body), out, 20, &len), CC_ERR_LIMIT);
}

/* What a reader was handed, as text: "seq ts body\n" per event. */
struct seen {
	char *text;
	size_t len;
	int reduce; /* bodies are full records: reduce them first */
};

static int see(void *ctx, const struct record_out *r)
{
	struct seen *s = ctx;
	char line[1200], body[1024];
	size_t blen = r->body_len;
	int n;

	if (s->reduce) {
		CHECK_EQ(event_days_reduce(r->body, r->body_len, body, sizeof(body), &blen), CC_OK);
	} else {
		CHECK(blen < sizeof(body));
		memcpy(body, r->body, blen);
	}
	body[blen] = '\0';
	n = snprintf(line, sizeof(line), "%lld %lld %s\n", (long long)r->seq, (long long)r->ts_ms, body);
	s->text = realloc(s->text, s->len + (size_t)n + 1);
	memcpy(s->text + s->len, line, (size_t)n + 1);
	s->len += (size_t)n;
	return 0;
}

/* The digest path and the records path hand over the same events. */
static void check_same(struct vault *v, const struct store_machine *m, int64_t from, int64_t to, size_t want)
{
	struct seen a = { NULL, 0, 1 }, b = { NULL, 0, 1 }; /* a day from records comes whole */
	size_t lines = 0;
	int64_t day;
	static int calls;

	calls++;
	char *p;

	CHECK_EQ(event_days_get(v, m, from, to, see, &a), CC_OK);
	/* Day by day, each day's by seq: a late event comes with its day. */
	for (day = from - from % DAY; day < to; day += DAY)
		CHECK_EQ(records_get(v, m, RECORD_EVENT, day > from ? day : from, day + DAY < to ? day + DAY : to, see, &b),
		         CC_OK);
	CHECK(a.text != NULL && b.text != NULL);
	if (a.text != NULL && b.text != NULL && strcmp(a.text, b.text) != 0) {
		size_t i = 0;

		while (a.text[i] == b.text[i])
			i++;
		fprintf(stderr, "call %d [%lld..%lld] differs at %zu:\n  digest:  %.120s\n  records: %.120s\n", calls, (long long)from, (long long)to, i, a.text + i, b.text + i);
		CHECK_STR(a.text, b.text);
	}
	for (p = b.text; p != NULL && *p; p++)
		lines += *p == '\n';
	CHECK_EQ(lines, want);
	free(a.text);
	free(b.text);
}

static void put_event(struct vault *v, const struct store_machine *m, int64_t seq, int64_t ts, int kind)
{
	static const char *const products[] = { "espresso", "cappuccino", "latte" };
	struct record_in r;
	char body[400];
	size_t inserted = 0;

	if (kind == 0)
		snprintf(body, sizeof(body),
		         "{\"seq\":%lld,\"ts\":%lld,\"type\":\"brew\",\"product\":\"%s\",\"temp_c\":%.1f,"
		         "\"brew_time_s\":%lld,\"volume_ml\":%lld,\"grind\":\"fine\"}",
		         (long long)seq, (long long)ts, products[seq % 3], 89.0 + (double)(seq % 9), (long long)(18 + seq % 15),
		         (long long)(30 + seq % 20));
	else
		snprintf(body, sizeof(body),
		         "{\"seq\":%lld,\"ts\":%lld,\"type\":\"cleaning\",\"program\":\"milk_system\",\"result\":\"ok\","
		         "\"duration_s\":600}",
		         (long long)seq, (long long)ts);
	r.machine_id = m->id;
	r.customer_id = m->customer_id;
	r.serial = m->serial;
	r.kind = RECORD_EVENT;
	r.seq = seq;
	r.ts_ms = ts;
	r.body = body;
	r.body_len = strlen(body);
	CHECK_EQ(records_put(v, &r, 1, &inserted), CC_OK);
	CHECK_EQ(inserted, 1);
}

static int has_digest(struct vault *v, const struct store_machine *m, int64_t day)
{
	struct store *s = vault_store(v);
	uint8_t buf[1];
	size_t len = 0;
	int rc = s->ops->rollup_get(s, m->id, EVENT_DAYS_WIDTH_MS, day, buf, 0, &len);

	return rc == CC_OK || rc == CC_ERR_LIMIT;
}

static void test_digest_agrees_with_records(void)
{
	struct vault *v = NULL;
	struct event_days_round *round = NULL;
	struct store_settle_hooks hooks;
	struct store_machine m;
	struct store *s;
	size_t moved = 0, built = 0;
	int64_t seq = 0, after_day3 = BASE + 3 * DAY + EVENT_DAYS_GRACE_MS + 1;
	int d, i;

	init_dir("event-days");
	CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
	s = vault_store(v);
	CHECK_EQ(inventory_org_add(v, "cafe-a", ORG_CUSTOMER, "acme", NULL), CC_OK);
	CHECK_EQ(inventory_machine_add(v, "CM-E1", "barista-pro", "cafe-a", NULL, NULL, NULL, NULL), CC_OK);
	CHECK_EQ(inventory_machine_find(v, "CM-E1", &m), CC_OK);
	CHECK_EQ(event_days_round_new(&round), CC_OK);
	event_days_round_hooks(round, &hooks);

	/* Three days of 40 brews and a cleaning each. */
	for (d = 0; d < 3; d++)
		for (i = 0; i < 41; i++)
			put_event(v, &m, ++seq, BASE + d * DAY + 3600000 + i * 60000, i == 40);
	check_same(v, &m, BASE, BASE + 3 * DAY, 123); /* all in the inbox */
	CHECK_EQ(s->ops->records_settle(s, 1000, &hooks, &moved), CC_OK);
	CHECK_EQ(moved, 123);

	/* Not over yet (or within the grace): nothing digested. */
	CHECK_EQ(event_days_build(v, BASE + 3 * DAY, 100, &built), CC_OK);
	CHECK_EQ(built, 2);
	CHECK(!has_digest(v, &m, BASE + 2 * DAY));
	CHECK_EQ(event_days_build(v, after_day3, 100, &built), CC_OK);
	CHECK_EQ(built, 1);
	for (d = 0; d < 3; d++)
		CHECK(has_digest(v, &m, BASE + d * DAY));
	CHECK_EQ(event_days_build(v, after_day3, 100, &built), CC_OK);
	CHECK_EQ(built, 0);
	check_same(v, &m, BASE, BASE + 3 * DAY, 123);
	check_same(v, &m, BASE + DAY / 2, BASE + 2 * DAY + 3600000 + 10 * 60000, 51); /* halves of days */
	check_same(v, &m, BASE - 5 * DAY, BASE + 10 * DAY, 123);

	/* A late event of day 1: in the inbox, the day reads its records... */
	put_event(v, &m, ++seq, BASE + DAY + 5, 0);
	check_same(v, &m, BASE, BASE + 3 * DAY, 124);
	/* ...and moving it in drops the day's digest, the others stay. */
	CHECK_EQ(s->ops->records_settle(s, 1000, &hooks, &moved), CC_OK);
	CHECK_EQ(moved, 1);
	CHECK(!has_digest(v, &m, BASE + DAY));
	CHECK(has_digest(v, &m, BASE));
	check_same(v, &m, BASE, BASE + 3 * DAY, 124);
	CHECK_EQ(event_days_build(v, after_day3, 100, &built), CC_OK);
	CHECK_EQ(built, 1);
	check_same(v, &m, BASE, BASE + 3 * DAY, 124);

	/* A damaged digest: the day is read from its records. */
	{
		static const uint8_t junk[64] = { 1, 2, 3 };

		CHECK_EQ(s->ops->rollup_put(s, m.id, EVENT_DAYS_WIDTH_MS, BASE + 2 * DAY, junk, sizeof(junk)), CC_OK);
		check_same(v, &m, BASE, BASE + 3 * DAY, 124);
	}
	/* A digest cannot pass for another day's. */
	{
		uint8_t blob[65536];
		size_t len = 0;

		CHECK_EQ(s->ops->rollup_get(s, m.id, EVENT_DAYS_WIDTH_MS, BASE, blob, sizeof(blob), &len), CC_OK);
		CHECK_EQ(s->ops->rollup_put(s, m.id, EVENT_DAYS_WIDTH_MS, BASE + DAY, blob, len), CC_OK);
		check_same(v, &m, BASE, BASE + 3 * DAY, 124);
	}
	event_days_round_free(round);
	vault_close(v);
}

int main(void)
{
	log_set_level(LOG_LEVEL_ERROR);
	RUN(test_reduce);
	RUN(test_digest_agrees_with_records);
	return check_summary();
}
