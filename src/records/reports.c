#include "records/reports.h"

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/limits.h"
#include "fleet/inventory.h"
#include "ingest/message.h"
#include "ingest/privacy.h"
#include "records/records.h"

static const char *const report_types[] = { "installation", "service", "maintenance", "repair", NULL };

static int one_of(const char *value, const char *const *allowed)
{
	for (; value != NULL && *allowed != NULL; allowed++)
		if (strcmp(value, *allowed) == 0)
			return 1;
	return 0;
}

static int parts_valid(const json_t *parts)
{
	size_t i;
	json_t *p;

	if (!json_is_array(parts) || json_array_size(parts) > REPORT_PARTS_MAX)
		return 0;
	json_array_foreach(parts, i, p)
		if (!json_is_string(p) || !inventory_name_valid(json_string_value(p)))
			return 0;
	return 1;
}

static enum privacy_reason report_scan_privacy(const json_t *body)
{
	json_t *rest = json_copy((json_t *)body);
	enum privacy_reason r;

	if (rest == NULL)
		return PRIVACY_CARD_NUMBER; /* fail closed */
	json_object_del(rest, "performed");
	r = privacy_scan_json(rest);
	json_decref(rest);
	return r;
}

enum report_refusal reports_check(const json_t *body)
{
	static const char *const fields[] = { "type", "performed", "summary", "parts", "duration_min", NULL };
	const char *key;
	json_t *value, *performed, *duration, *parts;
	const char *summary;

	if (!json_is_object(body))
		return REPORT_SHAPE;
	/* Personal or financial data first: a price is refused as such, whatever its field's name.
	 * "performed" is judged as a time below, not as digits: an epoch-ms time is a 13-digit
	 * number that passes Luhn one time in ten. */
	if (report_scan_privacy(body) != PRIVACY_NONE)
		return REPORT_PRIVACY;
	json_object_foreach((json_t *)body, key, value)
		if (!one_of(key, fields))
			return REPORT_SHAPE;
	performed = json_object_get(body, "performed");
	duration = json_object_get(body, "duration_min");
	parts = json_object_get(body, "parts");
	summary = json_string_value(json_object_get(body, "summary"));
	if (!one_of(json_string_value(json_object_get(body, "type")), report_types) || summary == NULL ||
	    strlen(summary) > REPORT_SUMMARY_MAX ||
	    (performed != NULL && (!json_is_integer(performed) || json_integer_value(performed) < INGEST_TS_MIN_MS ||
	                           json_integer_value(performed) > clock_now_ms() + INGEST_TS_FUTURE_MS)) ||
	    (duration != NULL && (!json_is_integer(duration) || json_integer_value(duration) < 0 ||
	                          json_integer_value(duration) > 100000)) ||
	    (parts != NULL && !parts_valid(parts)))
		return REPORT_SHAPE;
	return REPORT_OK;
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
