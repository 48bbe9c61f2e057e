/*
 * Ingest validation: the catalogue, and message_check on valid messages of
 * every kind and on every refusal path. Every refusal also proves that the
 * verdict's reason does not carry the refused value.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "check.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/limits.h"
#include "ingest/catalogue.h"
#include "ingest/errors.h"
#include "ingest/message.h"
#include "ingest/privacy.h"
#include "records/reports.h"

/* 2026-11-28T12:00:00Z: "now" for every check below. */
#define NOW INT64_C(1795867200000)
#define TS "1795860000000" /* two hours before NOW */

static struct message_verdict v;

static int check_kind(enum message_kind kind, const char *model, const char *payload)
{
	return message_check_at(kind, model, (const uint8_t *)payload, strlen(payload), NOW, &v);
}

static void accepted(enum message_kind kind, const char *model, const char *payload)
{
	CHECK_EQ(check_kind(kind, model, payload), 0);
	if (!v.accepted)
		fprintf(stderr, "refused (%s): %s\n", v.reason, payload);
	CHECK(v.accepted);
	CHECK_EQ(v.privacy, PRIVACY_NONE);
	CHECK_STR(v.reason, "ok");
}

/* Refused, with a reason containing `want` and not containing `secret`. */
static void refused(enum message_kind kind, const char *model, const char *payload, const char *want,
                    const char *secret)
{
	CHECK_EQ(check_kind(kind, model, payload), 0);
	if (v.accepted || strstr(v.reason, want) == NULL)
		fprintf(stderr, "expected refusal '%s', got %s '%s' for: %.200s\n", want,
		        v.accepted ? "accepted" : "refused", v.reason, payload);
	CHECK(!v.accepted);
	CHECK(strstr(v.reason, want) != NULL);
	if (secret != NULL) {
		CHECK(strstr(v.reason, secret) == NULL);
		CHECK(strstr(v.event_type, secret) == NULL);
	}
}

static void refused_privacy(enum message_kind kind, const char *payload, enum privacy_reason r,
                            const char *secret)
{
	refused(kind, "barista-pro", payload, "privacy", secret);
	CHECK_EQ(v.privacy, r);
	CHECK(strstr(v.reason, privacy_reason_name(r)) != NULL);
}

/* ---- catalogue -------------------------------------------------------- */

static void test_catalogue(void)
{
	static const char *const required[] = {
		"boiler_temp_c", "brew_temp_c", "steam_temp_c", "pump_pressure_bar", "flow_ml_s",
		"grinder_current_a", "water_hardness_dh", "filter_used_pct", "bean_hopper_pct",
		"cup_counter", "brew_unit_cycles", "water_tank_pct", "drip_tray_pct",
		"boiler_pressure_bar", "grounds_container_pct", "descale_due_l", NULL,
	};
	const struct catalogue_metric *m;
	const struct catalogue_event *ev;
	size_t i, j;

	CHECK_STR(catalogue_version(), CATALOGUE_VERSION);
	for (i = 0; required[i] != NULL; i++) {
		CHECK(catalogue_find_metric(NULL, required[i]) != NULL);
		CHECK(catalogue_find_metric("espresso-one", required[i]) != NULL);
	}
	/* model-specific metrics */
	CHECK(catalogue_find_metric("barista-pro", "milk_fridge_temp_c") != NULL);
	CHECK(catalogue_find_metric("barista-pro", "milk_temp_c") != NULL);
	CHECK(catalogue_find_metric("espresso-one", "milk_fridge_temp_c") == NULL);
	CHECK(catalogue_find_metric(NULL, "milk_fridge_temp_c") == NULL);
	CHECK(catalogue_find_metric("no-such-model", "milk_fridge_temp_c") == NULL);
	CHECK(catalogue_find_metric("no-such-model", "boiler_temp_c") != NULL);
	CHECK(catalogue_find_metric("barista-pro", "foo_c") == NULL);
	CHECK(catalogue_find_metric("barista-pro", NULL) == NULL);
	CHECK_STR(catalogue_find_metric(NULL, "cup_counter")->opcua, "Parameters/TotalMix");
	CHECK(catalogue_find_metric(NULL, "cup_counter")->integer_only);
	CHECK_EQ(catalogue_find_metric(NULL, "cup_counter")->data_class, CLASS_USAGE);
	CHECK_EQ(catalogue_find_metric(NULL, "boiler_temp_c")->data_class, CLASS_TECHNICAL);

	/* every metric of every model: sane name, one class, range below the
	 * card-number detector's reach, integer counters */
	for (j = 0; j < 3; j++) {
		const char *model = j == 0 ? NULL : catalogue_model_at(j - 1)->model;

		for (i = 0; (m = catalogue_metric_at(model, i)) != NULL; i++) {
			unsigned c = m->data_class;

			CHECK(strlen(m->name) <= CATALOGUE_NAME_MAX);
			CHECK(c != 0 && (c & (c - 1)) == 0);
			CHECK(m->min < m->max);
			CHECK(m->max < 1e12 && m->min > -1e12);
			CHECK(m->opcua != NULL && m->unit != NULL && m->what != NULL);
			CHECK(catalogue_find_metric(model, m->name) == m);
		}
	}
	CHECK(catalogue_metric_at("barista-pro", 1000) == NULL);
	CHECK(catalogue_model_at(100) == NULL);

	/* events */
	CHECK_EQ(catalogue_find_event("brew")->data_class, CLASS_USAGE);
	CHECK_EQ(catalogue_find_event("error")->data_class, CLASS_TECHNICAL);
	CHECK_EQ(catalogue_find_event("cleaning")->data_class, CLASS_SERVICE);
	CHECK_EQ(catalogue_find_event("maintenance")->data_class, CLASS_SERVICE);
	CHECK_EQ(catalogue_find_event("update")->data_class, CLASS_TECHNICAL);
	CHECK_EQ(catalogue_find_event("power")->data_class, CLASS_STATUS);
	CHECK(catalogue_find_event("coupon") == NULL);
	CHECK(catalogue_find_event(NULL) == NULL);
	for (i = 0; (ev = catalogue_event_at(i)) != NULL; i++) {
		CHECK(strlen(ev->type) < sizeof(v.event_type));
		CHECK(catalogue_find_field(ev, "text") == NULL); /* no free text anywhere */
		for (j = 0; j < ev->nfields; j++)
			CHECK(catalogue_find_field(ev, ev->fields[j].name) == &ev->fields[j]);
	}
	CHECK_EQ(i, 6);

	/* string field predicates */
	ev = catalogue_find_event("error");
	CHECK(catalogue_field_accepts_string(catalogue_find_field(ev, "code"), "E042", 4));
	CHECK(catalogue_field_accepts_string(catalogue_find_field(ev, "code"), "ABC1234", 7));
	CHECK(!catalogue_field_accepts_string(catalogue_find_field(ev, "code"), "ABCD1", 5));
	CHECK(!catalogue_field_accepts_string(catalogue_find_field(ev, "code"), "E12345", 6));
	CHECK(!catalogue_field_accepts_string(catalogue_find_field(ev, "code"), "e042", 4));
	CHECK(!catalogue_field_accepts_string(catalogue_find_field(ev, "code"), "E", 1));
	CHECK(!catalogue_field_accepts_string(catalogue_find_field(ev, "code"), "", 0));
	ev = catalogue_find_event("update");
	CHECK(catalogue_field_accepts_string(catalogue_find_field(ev, "version"), "2.14.3", 6));
	CHECK(catalogue_field_accepts_string(catalogue_find_field(ev, "version"), "1.4.0+20261128", 14));
	CHECK(catalogue_field_accepts_string(catalogue_find_field(ev, "version"), "3.0.0-rc.1", 10));
	CHECK(catalogue_field_accepts_string(catalogue_find_field(ev, "version"), "2.1", 3));
	CHECK(!catalogue_field_accepts_string(catalogue_find_field(ev, "version"), "2", 1));
	CHECK(!catalogue_field_accepts_string(catalogue_find_field(ev, "version"), "v2.1", 4));
	CHECK(!catalogue_field_accepts_string(catalogue_find_field(ev, "version"), "2.1-", 4));
	CHECK(!catalogue_field_accepts_string(catalogue_find_field(ev, "version"), "2.1 beta", 8));
	CHECK(!catalogue_field_accepts_string(catalogue_find_field(ev, "version"), "1.2.3.4.5", 9));
	CHECK(!catalogue_field_accepts_number(catalogue_find_field(ev, "version"), 1, 1));
	CHECK_STR(catalogue_class_name(CLASS_SERVICE), "service");
	CHECK_STR(catalogue_class_name(0), "?");
}

/* docs/METRICS.md must name every metric, event type, field and the version. */
static void test_catalogue_documented(void)
{
	char path[4096];
	const char *file = __FILE__, *cut = strstr(file, "tests/unit/test_ingest.c");
	FILE *f;
	char *doc = NULL;
	size_t cap = 0, len = 0, i, j, n;
	const struct catalogue_metric *m;
	const struct catalogue_event *ev;
	char needle[160];

	if (cut == NULL || (size_t)(cut - file) + 16 > sizeof(path)) {
		CHECK(cut != NULL);
		return;
	}
	snprintf(path, sizeof(path), "%.*sdocs/METRICS.md", (int)(cut - file), file);
	f = fopen(path, "r");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *p = realloc(doc, cap = cap * 2 + 8192);

			if (p == NULL)
				break;
			doc = p;
		}
		n = fread(doc + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	if (doc == NULL)
		return;
	doc[len] = 0;
	CHECK(strstr(doc, "Catalogue version: `" CATALOGUE_VERSION "`") != NULL);
	for (j = 0; j < 3; j++) {
		const char *model = j == 0 ? NULL : catalogue_model_at(j - 1)->model;

		for (i = 0; (m = catalogue_metric_at(model, i)) != NULL; i++) {
			snprintf(needle, sizeof(needle), "| `%s` |", m->name);
			if (strstr(doc, needle) == NULL)
				fprintf(stderr, "METRICS.md lacks %s\n", needle);
			CHECK(strstr(doc, needle) != NULL);
		}
	}
	for (i = 0; (ev = catalogue_event_at(i)) != NULL; i++) {
		snprintf(needle, sizeof(needle), "### `%s`", ev->type);
		CHECK(strstr(doc, needle) != NULL);
		for (j = 0; j < ev->nfields; j++) {
			snprintf(needle, sizeof(needle), "| `%s` |", ev->fields[j].name);
			if (strstr(doc, needle) == NULL)
				fprintf(stderr, "METRICS.md lacks %s (%s)\n", needle, ev->type);
			CHECK(strstr(doc, needle) != NULL);
		}
	}
	/* the service-report catalogue (records/reports.h) */
	for (i = 0; reports_work_at(i) != NULL; i++) {
		snprintf(needle, sizeof(needle), "| `%s` | %s |", reports_work_at(i)->code, reports_work_at(i)->what);
		if (strstr(doc, needle) == NULL)
			fprintf(stderr, "METRICS.md lacks %s\n", needle);
		CHECK(strstr(doc, needle) != NULL);
	}
	for (i = 0; reports_outcome_at(i) != NULL; i++) {
		snprintf(needle, sizeof(needle), "`%s`", reports_outcome_at(i));
		CHECK(strstr(doc, needle) != NULL);
	}
	/* the error-code catalogue (ingest/errors.h) */
	CHECK(strstr(doc, "Error-code catalogue version: `" ERRORS_VERSION "`") != NULL);
	for (i = 0; errors_at(i) != NULL; i++) {
		const struct error_entry *e = errors_at(i);

		snprintf(needle, sizeof(needle), "| `%s` | `%s` | %s | %s | %s |", e->code, e->model, e->severity,
		         catalogue_class_name(e->data_class), e->text[0]);
		if (strstr(doc, needle) == NULL)
			fprintf(stderr, "METRICS.md lacks %s\n", needle);
		CHECK(strstr(doc, needle) != NULL);
	}
	free(doc);
}

/* ---- accepted messages ---------------------------------------------- */

static void test_valid(void)
{
	accepted(MESSAGE_TELEMETRY, "barista-pro",
	         "{\"seq\": 17, \"ts\": " TS ", \"m\": {\"boiler_temp_c\": 121.5, \"brew_temp_c\": 93.1,"
	         " \"pump_pressure_bar\": 9, \"cup_counter\": 123456, \"milk_fridge_temp_c\": 4.2,"
	         " \"descale_due_l\": -3.5, \"filter_used_pct\": 104}}");
	CHECK_EQ(v.seq, 17);
	CHECK_EQ(v.ts_ms, INT64_C(1795860000000));
	accepted(MESSAGE_TELEMETRY, "espresso-one",
	         "{\"m\":{\"cup_counter\":0},\"ts\":" TS ",\"seq\":999999999999}");
	CHECK_EQ(v.seq, INGEST_SEQ_MAX);
	accepted(MESSAGE_TELEMETRY, NULL, "{\"seq\":1,\"ts\":1577836800000,\"m\":{\"flow_ml_s\":2.25e0}}");
	/* ts up to now + 1 day; a ts that passes Luhn is still fine */
	CHECK(privacy_luhn_valid("1795953599994", 13));
	accepted(MESSAGE_TELEMETRY, NULL, "{\"seq\":411111111111,\"ts\":1795953599994,\"m\":{\"flow_ml_s\":0}}");

	accepted(MESSAGE_EVENT, "barista-pro",
	         "{\"seq\":18,\"ts\":" TS ",\"type\":\"brew\",\"product\":\"espresso\",\"volume_ml\":30,"
	         "\"brew_time_s\":24.5,\"temp_c\":93.1}");
	CHECK_STR(v.event_type, "brew");
	CHECK_EQ(v.seq, 18);
	accepted(MESSAGE_EVENT, "barista-pro",
	         "{\"seq\":19,\"ts\":" TS ",\"type\":\"error\",\"code\":\"E042\",\"severity\":\"critical\","
	         "\"state\":\"raised\"}");
	CHECK_STR(v.event_type, "error");
	accepted(MESSAGE_EVENT, NULL,
	         "{\"seq\":20,\"ts\":" TS ",\"type\":\"cleaning\",\"program\":\"milk_system\",\"result\":\"ok\","
	         "\"duration_s\":480}");
	accepted(MESSAGE_EVENT, NULL,
	         "{\"seq\":21,\"ts\":" TS ",\"type\":\"maintenance\",\"action\":\"filter_change\",\"counter\":1200}");
	CHECK_STR(v.event_type, "maintenance");
	accepted(MESSAGE_EVENT, NULL,
	         "{\"seq\":22,\"ts\":" TS ",\"type\":\"update\",\"phase\":\"installing\",\"version\":\"2.15.0-rc.1\","
	         "\"progress_pct\":40}");
	accepted(MESSAGE_EVENT, NULL, "{\"seq\":23,\"ts\":" TS ",\"type\":\"power\",\"state\":\"standby\"}");
	CHECK_STR(v.event_type, "power");

	accepted(MESSAGE_INFO, "barista-pro", "{\"model\":\"barista-pro\",\"hw\":\"rev-C.2\",\"sw\":\"2.14.3+b81\"}");
	CHECK_STR(v.model, "barista-pro");
	CHECK_STR(v.hw_rev, "rev-C.2");
	CHECK_STR(v.sw_version, "2.14.3+b81");
	CHECK_EQ(v.seq, 0);

	/* the wall-clock wrapper */
	{
		char buf[160];
		int n = snprintf(buf, sizeof(buf), "{\"seq\":1,\"ts\":%" PRId64 ",\"m\":{\"flow_ml_s\":1}}",
		                 clock_now_ms());

		CHECK_EQ(message_check(MESSAGE_TELEMETRY, NULL, (const uint8_t *)buf, (size_t)n, &v), 0);
		CHECK(v.accepted);
	}
}

/* ---- refusals -------------------------------------------------------- */

static void test_refused_schema(void)
{
	/* telemetry */
	refused(MESSAGE_TELEMETRY, "barista-pro", "{\"seq\":1,\"ts\":" TS ",\"m\":{\"foo_c\":1}}",
	        "unknown metric", "foo_c");
	refused(MESSAGE_TELEMETRY, "espresso-one", "{\"seq\":1,\"ts\":" TS ",\"m\":{\"milk_temp_c\":60}}",
	        "unknown metric", "milk_temp_c");
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":1,\"ts\":" TS ",\"m\":{\"boiler_temp_c\":\"hot\"}}",
	        "metric 'boiler_temp_c' is not a number", "hot");
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":1,\"ts\":" TS ",\"m\":{\"boiler_temp_c\":true}}",
	        "not a number", NULL);
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":1,\"ts\":" TS ",\"m\":{\"boiler_temp_c\":null}}",
	        "not a number", NULL);
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":1,\"ts\":" TS ",\"m\":{\"boiler_temp_c\":[1]}}",
	        "not a number", NULL);
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":1,\"ts\":" TS ",\"m\":{\"boiler_temp_c\":987.25}}",
	        "metric 'boiler_temp_c' out of range", "987");
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":1,\"ts\":" TS ",\"m\":{\"bean_hopper_pct\":-0.5}}",
	        "out of range", NULL);
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":1,\"ts\":" TS ",\"m\":{\"cup_counter\":12.5}}",
	        "metric 'cup_counter' must be an integer", "12.5");
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":1,\"ts\":" TS ",\"m\":{\"cup_counter\":12.0}}",
	        "must be an integer", NULL);
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":1,\"ts\":" TS ",\"m\":{\"cup_counter\":1},\"note\":\"x\"}",
	        "unexpected top-level field", "note");
	refused(MESSAGE_TELEMETRY, NULL, "{\"ts\":" TS ",\"m\":{\"cup_counter\":1}}", "missing seq", NULL);
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":0,\"ts\":" TS ",\"m\":{\"cup_counter\":1}}",
	        "seq out of range", NULL);
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":-5,\"ts\":" TS ",\"m\":{\"cup_counter\":1}}",
	        "seq out of range", NULL);
	refused(MESSAGE_TELEMETRY, NULL,
	        "{\"seq\":9007199254740993,\"ts\":" TS ",\"m\":{\"cup_counter\":1}}", "seq out of range",
	        "9007199254740993");
	/* 13 digits: one past INGEST_SEQ_MAX (Luhn fails: a range refusal) */
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":1000000000000,\"ts\":" TS ",\"m\":{\"cup_counter\":1}}",
	        "seq out of range", NULL);
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":1.5,\"ts\":" TS ",\"m\":{\"cup_counter\":1}}",
	        "seq is not an integer", NULL);
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":\"1\",\"ts\":" TS ",\"m\":{\"cup_counter\":1}}",
	        "seq is not an integer", NULL);
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":1,\"m\":{\"cup_counter\":1}}", "missing ts", NULL);
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":1,\"ts\":1577836799999,\"m\":{\"cup_counter\":1}}",
	        "ts out of range", "1577836799999");
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":1,\"ts\":1795953600001,\"m\":{\"cup_counter\":1}}",
	        "ts out of range", NULL);
	CHECK_EQ(v.seq, 1); /* read before the refusal */
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":1,\"ts\":\"2026-11-28\",\"m\":{\"cup_counter\":1}}",
	        "ts is not an integer", "2026");
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":1,\"ts\":" TS "}", "missing m", NULL);
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":1,\"ts\":" TS ",\"m\":{}}", "m is empty", NULL);
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":1,\"ts\":" TS ",\"m\":[1]}", "m is not an object", NULL);
	refused(MESSAGE_TELEMETRY, NULL, "[1,2,3]", "not a JSON object", NULL);

	/* more than INGEST_METRICS_MAX metrics */
	{
		json_t *m = json_object(), *doc;
		char name[32], *s;
		int i;

		for (i = 0; i < INGEST_METRICS_MAX + 1; i++) {
			snprintf(name, sizeof(name), "x%d", i);
			json_object_set_new(m, name, json_integer(1));
		}
		doc = json_pack("{s:i,s:I,s:o}", "seq", 1, "ts", (json_int_t)1795860000000, "m", m);
		s = json_dumps(doc, JSON_COMPACT);
		refused(MESSAGE_TELEMETRY, NULL, s, "too many metrics", NULL);
		free(s);
		json_decref(doc);
	}

	/* events */
	refused(MESSAGE_EVENT, NULL, "{\"seq\":1,\"ts\":" TS ",\"type\":\"espresso_party\"}",
	        "unknown event type", "party");
	refused(MESSAGE_EVENT, NULL, "{\"seq\":1,\"ts\":" TS ",\"type\":7}", "type is not a string", NULL);
	refused(MESSAGE_EVENT, NULL, "{\"seq\":1,\"ts\":" TS ",\"product\":\"espresso\"}", "missing type", NULL);
	refused(MESSAGE_EVENT, NULL, "{\"ts\":" TS ",\"type\":\"brew\",\"product\":\"espresso\"}",
	        "missing seq", NULL);
	refused(MESSAGE_EVENT, NULL,
	        "{\"seq\":1,\"ts\":" TS ",\"type\":\"error\",\"code\":\"E042\",\"severity\":\"info\","
	        "\"text\":\"Boiler leaking at Cafe Rosa kitchen\"}",
	        "error event: field not allowed", "Rosa");
	CHECK_STR(v.event_type, "error");
	refused(MESSAGE_EVENT, NULL,
	        "{\"seq\":1,\"ts\":" TS ",\"type\":\"brew\",\"product\":\"espresso\",\"bonus\":1}",
	        "brew event: field not allowed", "bonus");
	refused(MESSAGE_EVENT, NULL, "{\"seq\":1,\"ts\":" TS ",\"type\":\"brew\",\"product\":\"irish_coffee\"}",
	        "brew event: field 'product' has a value that is not allowed", "irish");
	refused(MESSAGE_EVENT, NULL, "{\"seq\":1,\"ts\":" TS ",\"type\":\"brew\",\"product\":3}",
	        "field 'product' is not a string", NULL);
	refused(MESSAGE_EVENT, NULL, "{\"seq\":1,\"ts\":" TS ",\"type\":\"brew\",\"volume_ml\":30}",
	        "brew event: missing field 'product'", NULL);
	refused(MESSAGE_EVENT, NULL,
	        "{\"seq\":1,\"ts\":" TS ",\"type\":\"brew\",\"product\":\"lungo\",\"volume_ml\":5000}",
	        "field 'volume_ml' out of range", "5000");
	refused(MESSAGE_EVENT, NULL,
	        "{\"seq\":1,\"ts\":" TS ",\"type\":\"brew\",\"product\":\"lungo\",\"temp_c\":\"93\"}",
	        "field 'temp_c' is not a number", NULL);
	refused(MESSAGE_EVENT, NULL,
	        "{\"seq\":1,\"ts\":" TS ",\"type\":\"error\",\"code\":\"boiler on fire\",\"severity\":\"critical\"}",
	        "field 'code' has a value that is not allowed", "fire");
	refused(MESSAGE_EVENT, NULL,
	        "{\"seq\":1,\"ts\":" TS ",\"type\":\"error\",\"code\":\"E042\",\"severity\":\"meh\"}",
	        "field 'severity'", "meh");
	refused(MESSAGE_EVENT, NULL,
	        "{\"seq\":1,\"ts\":" TS ",\"type\":\"maintenance\",\"action\":\"descale\",\"counter\":1.5}",
	        "field 'counter' must be an integer", NULL);
	refused(MESSAGE_EVENT, NULL,
	        "{\"seq\":1,\"ts\":" TS ",\"type\":\"update\",\"phase\":\"success\",\"version\":\"latest!\"}",
	        "field 'version' has a value that is not allowed", "latest");
	refused(MESSAGE_EVENT, NULL, "{\"seq\":1,\"ts\":" TS ",\"type\":\"update\",\"phase\":\"success\"}",
	        "update event: missing field 'version'", NULL);
	refused(MESSAGE_EVENT, NULL, "{\"seq\":1,\"ts\":" TS ",\"type\":\"power\",\"state\":\"exploded\"}",
	        "not allowed", "exploded");

	/* info */
	refused(MESSAGE_INFO, NULL, "{\"model\":\"barista-pro\",\"hw\":\"C\"}", "info: missing sw", NULL);
	refused(MESSAGE_INFO, NULL, "{\"model\":\"barista-pro\",\"hw\":\"C\",\"sw\":\"1.0\",\"owner\":\"Rosa\"}",
	        "unexpected field in info", "Rosa");
	refused(MESSAGE_INFO, NULL, "{\"model\":\"barista pro\",\"hw\":\"C\",\"sw\":\"1.0\"}",
	        "info: model has characters outside", "barista pro");
	refused(MESSAGE_INFO, NULL, "{\"model\":\"\",\"hw\":\"C\",\"sw\":\"1.0\"}", "info: model must be", NULL);
	refused(MESSAGE_INFO, NULL, "{\"model\":\"m\",\"hw\":\"C\",\"sw\":\"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0\"}",
	        "info: sw must be 1..32 bytes", NULL);
	refused(MESSAGE_INFO, NULL, "{\"model\":\"m\",\"hw\":7,\"sw\":\"1.0\"}", "info: hw is not a string", NULL);
	refused(MESSAGE_INFO, NULL, "{\"seq\":1,\"model\":\"m\",\"hw\":\"C\",\"sw\":\"1.0\"}", "unexpected field", NULL);
}

static void test_refused_decoding(void)
{
	char *buf;
	size_t i, n;

	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":1,\"seq\":2,\"ts\":" TS ",\"m\":{\"cup_counter\":1}}",
	        "duplicate key", NULL);
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":1,\"ts\":" TS ",\"m\":{\"cup_counter\":1,\"cup_counter\":2}}",
	        "duplicate key", NULL);
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":1,\"ts\":" TS ",\"m\":{\"cup_counter\":1}", "truncated JSON", NULL);
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":1,\"ts\":" TS ",\"m\":{\"cup_counter\":1}} x",
	        "data after the JSON document", NULL);
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":1,\"ts\":" TS ",\"m\":{\"flow_ml_s\":NaN}}", "invalid JSON", NULL);
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":1,\"ts\":" TS ",\"m\":{\"flow_ml_s\":Infinity}}", "invalid JSON", NULL);
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":1,\"ts\":" TS ",\"m\":{\"flow_ml_s\":1e999}}",
	        "number out of range", NULL);
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":99999999999999999999,\"ts\":" TS ",\"m\":{\"flow_ml_s\":1}}",
	        "number out of range", NULL);
	refused(MESSAGE_EVENT, NULL, "{\"seq\":1,\"ts\":" TS ",\"type\":\"brew\",\"product\":\"esp\\u0000resso\"}",
	        "NUL character", NULL);
	refused(MESSAGE_EVENT, NULL, "{\"seq\":1,\"ts\":" TS ",\"type\":\"brew\",\"pro\\u0000duct\":\"espresso\"}",
	        "NUL character", NULL);
	refused(MESSAGE_EVENT, NULL, "{\"seq\":1,\"ts\":" TS ",\"type\":\"brew\",\"product\":\"caf\xe9\"}",
	        "invalid UTF-8", NULL);
	refused(MESSAGE_EVENT, NULL, "{\"seq\":1,\"ts\":" TS ",\"type\":\"brew\",\"product\":\"\xed\xa0\x80\"}",
	        "invalid UTF-8", NULL);
	refused(MESSAGE_TELEMETRY, NULL, "\"just a string\"", "invalid JSON", NULL);
	refused(MESSAGE_TELEMETRY, NULL, "   ", "JSON", NULL);

	/* a raw NUL byte */
	{
		static const char raw[] = "{\"seq\":1,\0\"ts\":1}";

		CHECK_EQ(message_check_at(MESSAGE_TELEMETRY, NULL, (const uint8_t *)raw, sizeof(raw) - 1, NOW, &v), 0);
		CHECK(!v.accepted);
	}
	/* empty */
	CHECK_EQ(message_check_at(MESSAGE_TELEMETRY, NULL, NULL, 0, NOW, &v), 0);
	CHECK(!v.accepted);
	CHECK_STR(v.reason, "empty payload");

	/* 10,000 '[': refused before the parser recurses */
	n = 10000;
	buf = malloc(n + 1);
	if (buf == NULL) {
		CHECK(buf != NULL);
		return;
	}
	memset(buf, '[', n);
	buf[n] = 0;
	refused(MESSAGE_TELEMETRY, NULL, buf, "nesting too deep", NULL);
	CHECK_EQ(v.privacy, PRIVACY_NONE);
	/* 17 levels refused, 16 pass the decoder */
	memset(buf, 0, n);
	for (i = 0; i < 17; i++)
		buf[i] = '[', buf[17 + i] = ']';
	refused(MESSAGE_TELEMETRY, NULL, buf, "nesting too deep", NULL);
	buf[16] = 0;
	memmove(buf + 16, buf + 18, 16);
	buf[32] = 0;
	refused(MESSAGE_TELEMETRY, NULL, buf, "not a JSON object", NULL);
	/* brackets inside strings do not count */
	refused(MESSAGE_EVENT, NULL, "{\"seq\":1,\"ts\":" TS ",\"type\":\"brew\",\"product\":\"[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[\"}",
	        "not allowed", "[[[");
	free(buf);

	/* size: exactly CC_PAYLOAD_MAX is decoded, one byte more is not */
	buf = malloc(CC_PAYLOAD_MAX + 2);
	if (buf == NULL) {
		CHECK(buf != NULL);
		return;
	}
	n = (size_t)snprintf(buf, CC_PAYLOAD_MAX, "{\"seq\":1,\"ts\":" TS ",\"m\":{\"cup_counter\":1}}");
	memset(buf + n, ' ', CC_PAYLOAD_MAX + 1 - n);
	CHECK_EQ(message_check_at(MESSAGE_TELEMETRY, NULL, (const uint8_t *)buf, CC_PAYLOAD_MAX, NOW, &v), 0);
	CHECK(v.accepted);
	CHECK_EQ(message_check_at(MESSAGE_TELEMETRY, NULL, (const uint8_t *)buf, CC_PAYLOAD_MAX + 1, NOW, &v), 0);
	CHECK(!v.accepted);
	CHECK(strstr(v.reason, "payload too large") != NULL);
	free(buf);

	/* bad arguments are the caller's bug, not a verdict */
	CHECK_EQ(message_check_at(MESSAGE_TELEMETRY, NULL, NULL, 5, NOW, &v), CC_ERR_INVALID);
	CHECK_EQ(message_check_at((enum message_kind)9, NULL, (const uint8_t *)"{}", 2, NOW, &v), CC_ERR_INVALID);
	CHECK(!v.accepted);
	CHECK_EQ(message_check_at(MESSAGE_TELEMETRY, NULL, (const uint8_t *)"{}", 2, NOW, NULL), CC_ERR_INVALID);
}

static void test_refused_privacy(void)
{
	/* a card number in a nested event field */
	refused_privacy(MESSAGE_EVENT,
	                "{\"seq\":1,\"ts\":" TS ",\"type\":\"brew\",\"product\":\"espresso\","
	                "\"extra\":{\"a\":[\"paid 4111 1111 1111 1111\"]}}",
	                PRIVACY_CARD_NUMBER, "4111");
	CHECK_EQ(v.seq, 0); /* nothing of a privacy refusal is read */
	CHECK_STR(v.event_type, "");
	refused_privacy(MESSAGE_TELEMETRY, "{\"seq\":1,\"ts\":" TS ",\"m\":{\"cup_counter\":4111111111111111}}",
	                PRIVACY_CARD_NUMBER, "4111");
	refused_privacy(MESSAGE_TELEMETRY, "{\"seq\":1,\"ts\":" TS ",\"m\":{\"4111-1111-1111-1111\":1}}",
	                PRIVACY_CARD_NUMBER, "1111");
	refused_privacy(MESSAGE_INFO, "{\"model\":\"m\",\"hw\":\"C\",\"sw\":\"4111111111111111\"}",
	                PRIVACY_CARD_NUMBER, "4111");
	/* even when the JSON is broken, or too deep, or too large to parse */
	refused_privacy(MESSAGE_EVENT, "{\"seq\":1,\"ts\":" TS ",\"type\":\"brew\",\"card\":\"4111111111111111\"",
	                PRIVACY_CARD_NUMBER, "4111");
	refused_privacy(MESSAGE_EVENT, "[[[[[[[[[[[[[[[[[[[[\"4111 1111 1111 1111\"]]]]]]]]]]]]]]]]]]]]",
	                PRIVACY_CARD_NUMBER, "4111");
	refused_privacy(MESSAGE_EVENT, "{\"seq\":1,\"ts\":" TS ",\"type\":\"brew\",\"x\":\"4111111111111111\xff\"}",
	                PRIVACY_CARD_NUMBER, "4111");
	/* e-mail, phone, financial keys */
	refused_privacy(MESSAGE_EVENT,
	                "{\"seq\":1,\"ts\":" TS ",\"type\":\"error\",\"code\":\"E042\",\"severity\":\"info\","
	                "\"contact\":\"rosa.barista@example.com\"}",
	                PRIVACY_EMAIL, "rosa");
	refused_privacy(MESSAGE_INFO, "{\"model\":\"m\",\"hw\":\"C\",\"sw\":\"1.0\",\"owner\":\"ops@cafe.example\"}",
	                PRIVACY_EMAIL, "ops@");
	refused_privacy(MESSAGE_EVENT,
	                "{\"seq\":1,\"ts\":" TS ",\"type\":\"error\",\"code\":\"E042\",\"severity\":\"info\","
	                "\"call\":\"+49 171 2345678\"}",
	                PRIVACY_PHONE, "2345678");
	refused_privacy(MESSAGE_EVENT,
	                "{\"seq\":1,\"ts\":" TS ",\"type\":\"brew\",\"product\":\"espresso\","
	                "\"order\":{\"lines\":[{\"price\":2.4}]}}",
	                PRIVACY_FINANCIAL_KEY, "price");
	refused_privacy(MESSAGE_TELEMETRY, "{\"seq\":1,\"ts\":" TS ",\"m\":{\"revenue_eur\":1234.5}}",
	                PRIVACY_FINANCIAL_KEY, "revenue");
	refused_privacy(MESSAGE_TELEMETRY, "{\"seq\":1,\"ts\":" TS ",\"m\":{\"cup_counter\":5,\"tipTotal\":3}",
	                PRIVACY_FINANCIAL_KEY, "tip");
	/* a 13-digit Luhn-valid timestamp outside ts/seq is a card number */
	refused_privacy(MESSAGE_EVENT,
	                "{\"seq\":1,\"ts\":" TS ",\"type\":\"brew\",\"product\":\"espresso\",\"at\":\"1795860000003\"}",
	                PRIVACY_CARD_NUMBER, "1795860000003");
	CHECK(privacy_luhn_valid("1795860000003", 13));
}

/* Issue 8: no card number gets in through seq or ts, nor split or encoded in
 * the strings of events and info. */
static void test_refused_card_fields(void)
{
	static const char *const cards[] = { "4111111111111111", "5555555555554444", "378282246310005",
		                             "6011111111111117", NULL };
	static const char *const versions[] = { "1.0+4111.1111.1111.1111", "1.0+4111a1111b1111c1111",
		                                "1.0+4111--1111--1111--1111", NULL };
	static const char *const infos[] = {
		"{\"model\":\"barista-pro\",\"hw\":\"rev-c\",\"sw\":\"4111.1111.1111.1111\"}",
		"{\"model\":\"barista-pro\",\"hw\":\"NDExMTExMTExMTExMTExMQ\",\"sw\":\"4.2.1\"}",
		"{\"model\":\"x4111x1111x1111x1111x\",\"hw\":\"rev-c\",\"sw\":\"4.2.1\"}",
		"{\"model\":\"barista-pro\",\"hw\":\"34313131313131313131313131313131\",\"sw\":\"4.2.1\"}",
		NULL,
	};
	char buf[256];
	size_t i;

	for (i = 0; cards[i] != NULL; i++) {
		snprintf(buf, sizeof(buf), "{\"seq\":%s,\"ts\":" TS ",\"m\":{\"cup_counter\":1}}", cards[i]);
		refused_privacy(MESSAGE_TELEMETRY, buf, PRIVACY_CARD_NUMBER, cards[i]);
		CHECK_EQ(v.seq, 0);
		snprintf(buf, sizeof(buf), "{\"seq\":%s,\"ts\":" TS ",\"type\":\"power\",\"state\":\"on\"}",
		         cards[i]);
		refused_privacy(MESSAGE_EVENT, buf, PRIVACY_CARD_NUMBER, cards[i]);
		CHECK_EQ(v.seq, 0);
	}
	/* A 13-digit Visa number as ts: outside the exemption window (which
	 * ends at 4 x 10^12 ms), so refused as a card, not only as a bad time. */
	CHECK(privacy_luhn_valid("4222222222222", 13));
	refused_privacy(MESSAGE_TELEMETRY, "{\"seq\":1,\"ts\":4222222222222,\"m\":{\"cup_counter\":1}}",
	                PRIVACY_CARD_NUMBER, "4222222222222");
	/* The ts window itself: its ends are accepted, one past them refused. */
	accepted(MESSAGE_TELEMETRY, NULL, "{\"seq\":2,\"ts\":1577836800000,\"m\":{\"cup_counter\":1}}");
	refused(MESSAGE_TELEMETRY, NULL, "{\"seq\":2,\"ts\":1577836799999,\"m\":{\"cup_counter\":1}}",
	        "ts out of range", NULL);
	snprintf(buf, sizeof(buf), "{\"seq\":2,\"ts\":%" PRId64 ",\"m\":{\"cup_counter\":1}}",
	         NOW + INGEST_TS_FUTURE_MS);
	accepted(MESSAGE_TELEMETRY, NULL, buf);
	for (i = 0; versions[i] != NULL; i++) {
		snprintf(buf, sizeof(buf),
		         "{\"seq\":3,\"ts\":" TS ",\"type\":\"update\",\"phase\":\"offered\",\"version\":\"%s\"}",
		         versions[i]);
		refused_privacy(MESSAGE_EVENT, buf, PRIVACY_CARD_NUMBER, "4111");
	}
	for (i = 0; infos[i] != NULL; i++)
		refused_privacy(MESSAGE_INFO, infos[i], PRIVACY_CARD_NUMBER, "4111");
	/* and what real machines send still passes */
	accepted(MESSAGE_EVENT, NULL,
	         "{\"seq\":4,\"ts\":" TS ",\"type\":\"update\",\"phase\":\"offered\",\"version\":\"10.2.0+20261128.1432\"}");
	accepted(MESSAGE_INFO, NULL, "{\"model\":\"barista-pro\",\"hw\":\"PCB-4711-REV-C\",\"sw\":\"2.14.3+b81\"}");
}

/* Realistic machine traffic end to end: all of it is accepted. */
static void test_realistic_traffic(void)
{
	static const char *const products[] = { "espresso", "cappuccino", "lungo", "flat_white", "hot_water" };
	uint64_t x = 88172645463325252ULL;
	int i, ok = 0, total = 20000;
	char buf[512];
	int64_t t0 = clock_mono_ms(), ms;

	for (i = 0; i < total; i++) {
		int64_t ts = NOW - (int64_t)(x % INT64_C(86400000000));
		int n;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		if (i % 2 == 0)
			n = snprintf(buf, sizeof(buf),
			             "{\"seq\":%d,\"ts\":%" PRId64 ",\"m\":{\"boiler_temp_c\":%.1f,\"brew_temp_c\":%.2f,"
			             "\"pump_pressure_bar\":%.2f,\"cup_counter\":%" PRIu64 ",\"water_tank_pct\":%u,"
			             "\"milk_fridge_temp_c\":%.1f,\"grinder_runtime_s\":%" PRIu64 "}}",
			             i + 1, ts, 90 + (double)(x % 300) / 10, 88 + (double)(x % 800) / 100,
			             (double)(x % 1200) / 100, x % 1000000000, (unsigned)(x % 101),
			             1 + (double)(x % 60) / 10, x % 100000000);
		else
			n = snprintf(buf, sizeof(buf),
			             "{\"seq\":%" PRId64 ",\"ts\":%" PRId64 ",\"type\":\"brew\",\"product\":\"%s\","
			             "\"volume_ml\":%u,\"brew_time_s\":%.1f,\"temp_c\":%.1f}",
			             (int64_t)(x % INGEST_SEQ_MAX) + 1, ts, products[x % 5], (unsigned)(20 + x % 300), 15 + (double)(x % 400) / 10,
			             88 + (double)(x % 80) / 10);
		if (message_check_at(i % 2 ? MESSAGE_EVENT : MESSAGE_TELEMETRY, "barista-pro",
		                     (const uint8_t *)buf, (size_t)n, NOW, &v) == 0 && v.accepted)
			ok++;
		else if (total - ok < 5)
			fprintf(stderr, "refused (%s): %s\n", v.reason, buf);
	}
	ms = clock_mono_ms() - t0;
	printf("ingest: realistic messages accepted: %d / %d (%.1f us per message_check)\n", ok, total,
	       1000.0 * (double)ms / total);
	CHECK_EQ(ok, total);
}

int main(void)
{
	RUN(test_catalogue);
	RUN(test_catalogue_documented);
	RUN(test_valid);
	RUN(test_refused_schema);
	RUN(test_refused_decoding);
	RUN(test_refused_privacy);
	RUN(test_refused_card_fields);
	RUN(test_realistic_traffic);
	return check_summary();
}
