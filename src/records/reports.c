#include "records/reports.h"

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/limits.h"
#include "ingest/privacy.h"
#include "records/records.h"

/* The work catalogue (docs/METRICS.md "Service reports" renders it). */
static const struct report_work work_codes[] = {
	{ "installation", "machine installed and connected (water, power, drain)" },
	{ "commissioning", "first start, settings and recipes set up, handed over" },
	{ "inspection", "inspection or preventive check without a repair" },
	{ "descaling", "descaling of boilers and water circuit" },
	{ "milk_system_clean", "milk system cleaned (pump, lines, frother)" },
	{ "brew_unit_clean", "brew unit or group cleaned and lubricated" },
	{ "brew_unit_replacement", "brew unit replaced" },
	{ "grinder_burr_replacement", "grinder burrs replaced" },
	{ "grinder_calibration", "grind size or dose calibrated" },
	{ "gasket_replacement", "gaskets or O-rings replaced" },
	{ "water_filter_replacement", "water filter cartridge replaced" },
	{ "pump_replacement", "pump replaced" },
	{ "valve_replacement", "a valve replaced (solenoid, steam, safety)" },
	{ "heating_element_replacement", "heating element replaced" },
	{ "sensor_replacement", "a sensor replaced (temperature, flow, level, pressure)" },
	{ "board_replacement", "an electronics board replaced" },
	{ "leak_repair", "a leak repaired" },
	{ "electrical_repair", "wiring, connector or fuse repaired" },
	{ "firmware_update", "machine firmware updated" },
	{ "calibration", "temperature, pressure or flow calibrated" },
	{ "settings_change", "machine settings changed" },
	{ "decommissioning", "machine taken out of service" },
	{ NULL, NULL },
};

static const char *const outcomes[] = { "fixed", "not_fixed", "follow_up", "no_fault_found", "replaced", NULL };
static const char *const report_types[] = { "installation", "service", "maintenance", "repair", NULL };

const struct report_work *reports_work_at(size_t i)
{
	return i < sizeof(work_codes) / sizeof(work_codes[0]) - 1 ? &work_codes[i] : NULL;
}

const char *reports_outcome_at(size_t i)
{
	return i < sizeof(outcomes) / sizeof(outcomes[0]) - 1 ? outcomes[i] : NULL;
}

static int one_of(const char *value, const char *const *allowed)
{
	for (; value != NULL && *allowed != NULL; allowed++)
		if (strcmp(value, *allowed) == 0)
			return 1;
	return 0;
}

static int is_work_code(const char *value)
{
	size_t i;

	for (i = 0; value != NULL && work_codes[i].code != NULL; i++)
		if (strcmp(value, work_codes[i].code) == 0)
			return 1;
	return 0;
}

static size_t span(const char *s, int (*ok)(int), size_t max)
{
	size_t n = 0;

	while (s[n] != 0 && n <= max && ok((unsigned char)s[n]))
		n++;
	return n;
}

static int is_cap(int c)
{
	return c >= 'A' && c <= 'Z';
}

static int is_dig(int c)
{
	return c >= '0' && c <= '9';
}

static int is_cap_or_dig(int c)
{
	return is_cap(c) || is_dig(c);
}

int reports_part_valid(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = span(s, is_cap, 4);
	if (n < 2 || n > 4 || s[n] != '-')
		return 0;
	s += n + 1;
	n = span(s, is_dig, 6);
	if (n < 1 || n > 6)
		return 0;
	s += n;
	if (*s == 0)
		return 1;
	if (*s != '-')
		return 0;
	s++;
	n = span(s, is_cap_or_dig, 4);
	return n >= 1 && n <= 4 && s[n] == 0;
}

/* An array of 0..max strings, each passing valid, none twice. */
static int list_valid(const json_t *a, size_t min, size_t max, int (*valid)(const char *))
{
	size_t i, j;

	if (!json_is_array(a) || json_array_size(a) < min || json_array_size(a) > max)
		return 0;
	for (i = 0; i < json_array_size(a); i++) {
		const char *v = json_string_value(json_array_get(a, i));

		if (v == NULL || strlen(v) != json_string_length(json_array_get(a, i)) || !valid(v))
			return 0;
		for (j = 0; j < i; j++)
			if (strcmp(v, json_string_value(json_array_get(a, j))) == 0)
				return 0;
	}
	return 1;
}

static int minutes_ok(const json_t *v)
{
	return v == NULL || (json_is_integer(v) && json_integer_value(v) >= 0 &&
	                     json_integer_value(v) <= REPORT_DURATION_MAX);
}

/* UTF-8 code points in s (jansson has validated the encoding). */
static size_t utf8_chars(const char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

/* 2020-01-01T00:00:00Z, as ingest's ts window. */
#define REPORT_PERFORMED_MIN_MS INT64_C(1577836800000)
#define REPORT_PERFORMED_FUTURE_MS INT64_C(86400000)

enum report_refusal reports_check_at(const json_t *body, int64_t now_ms, enum privacy_reason *why)
{
	static const char *const fields[] = { "type", "work", "parts", "outcome", "duration_min", "travel_min",
		                              "performed", "note", NULL };
	enum privacy_reason r;
	const char *key;
	json_t *value, *performed, *note, *scan;

	if (!json_is_object(body))
		return REPORT_SHAPE;
	/* Personal or financial data first: a price is refused as such, whatever
	 * its field's name. `performed` is an epoch-ms time, checked below to lie
	 * in [2020-01-01, now + 1 day]: 13 digits starting with 1 or 2, which no
	 * card number has (as ingest's ts, docs/METRICS.md), yet one in ten
	 * passes Luhn; so it is left out of the card scan. */
	scan = json_copy((json_t *)body);
	if (scan == NULL)
		return REPORT_SHAPE;
	performed = json_object_get(body, "performed");
	if (json_is_integer(performed))
		json_object_del(scan, "performed");
	r = privacy_scan_json(scan);
	json_decref(scan);
	/* The stricter note filter on every string of the report, not only the
	 * note: text people typed into a field that does not exist (an old
	 * client's "summary") is refused as personal data, not as a typo. */
	json_object_foreach((json_t *)body, key, value) {
		size_t i, n = json_is_array(value) ? json_array_size(value) : 1;

		for (i = 0; i < n && r == PRIVACY_NONE; i++) {
			json_t *v = json_is_array(value) ? json_array_get(value, i) : value;

			if (json_is_string(v) && json_string_length(v) <= PRIVACY_NOTE_SCAN_MAX)
				r = privacy_scan_note(json_string_value(v), json_string_length(v));
		}
	}
	note = json_object_get(body, "note");
	if (r != PRIVACY_NONE) {
		if (why != NULL)
			*why = r;
		return REPORT_PRIVACY;
	}
	json_object_foreach((json_t *)body, key, value)
		if (!one_of(key, fields))
			return REPORT_SHAPE;
	if (!one_of(json_string_value(json_object_get(body, "type")), report_types) ||
	    !list_valid(json_object_get(body, "work"), 1, REPORT_WORK_MAX, is_work_code) ||
	    (json_object_get(body, "parts") != NULL &&
	     !list_valid(json_object_get(body, "parts"), 0, REPORT_PARTS_MAX, reports_part_valid)) ||
	    !one_of(json_string_value(json_object_get(body, "outcome")), outcomes) ||
	    !minutes_ok(json_object_get(body, "duration_min")) || !minutes_ok(json_object_get(body, "travel_min")) ||
	    (performed != NULL &&
	     (!json_is_integer(performed) || json_integer_value(performed) < REPORT_PERFORMED_MIN_MS ||
	      json_integer_value(performed) > now_ms + REPORT_PERFORMED_FUTURE_MS)) ||
	    (note != NULL && (!json_is_string(note) || json_string_length(note) == 0 ||
	                      strlen(json_string_value(note)) != json_string_length(note) ||
	                      utf8_chars(json_string_value(note), json_string_length(note)) > REPORT_NOTE_MAX)))
		return REPORT_SHAPE;
	return REPORT_OK;
}

enum report_refusal reports_check(const json_t *body)
{
	return reports_check_at(body, clock_now_ms(), NULL);
}

int reports_add(struct vault *v, const struct store_machine *m, const json_t *body, const char *author,
                int64_t *seq)
{
	struct store *s = vault_store(v);
	struct record_in rec;
	json_t *doc = json_deep_copy(body);
	int64_t now = clock_now_ms(), last = 0;
	size_t inserted = 0;
	char *text = NULL;
	int rc;

	if (doc == NULL)
		return CC_ERR_NOMEM;
	json_object_set_new(doc, "author", json_string(author));
	json_object_set_new(doc, "submitted", json_integer(now));
	if (json_object_get(doc, "performed") == NULL)
		json_object_set_new(doc, "performed", json_integer(now));
	text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	if (text == NULL)
		return CC_ERR_NOMEM;
	if (strlen(text) > CC_REPORT_MAX) {
		free(text);
		return CC_ERR_LIMIT;
	}
	/* The number is taken and used in one write transaction: two reports never share one. */
	rc = s->ops->begin(s);
	if (rc == CC_OK)
		rc = s->ops->records_last_seq(s, m->id, RECORD_REPORT, &last);
	if (rc == CC_OK) {
		memset(&rec, 0, sizeof(rec));
		rec.machine_id = m->id;
		rec.customer_id = m->customer_id;
		rec.serial = m->serial;
		rec.kind = RECORD_REPORT;
		rec.seq = last + 1;
		rec.ts_ms = now;
		rec.body = text;
		rec.body_len = strlen(text);
		rc = records_put(v, &rec, 1, &inserted);
	}
	if (rc == CC_OK && inserted != 1)
		rc = CC_ERR_STATE;
	if (rc == CC_OK)
		rc = s->ops->commit(s);
	if (rc != CC_OK)
		s->ops->rollback(s);
	free(text);
	if (rc == CC_OK)
		*seq = last + 1;
	return rc;
}
