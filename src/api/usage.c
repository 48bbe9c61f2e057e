/* usage.c - what machines did and what they will need (docs/OPERATIONS.md):
 * GET /api/v1/beverages, counts of beverages with their counter
 * reconciliation (fleet/beverages.h), and GET /api/v1/forecasts, the
 * machines' service due dates (fleet/forecast.h), over the machines the
 * caller sees whose customer consented to the route's purpose. */
#include "api/internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "fleet/beverages.h"
#include "fleet/forecast.h"

#define DAY_MS INT64_C(86400000)
#define SPAN_MAX_DAYS 92
#define DUE_WITHIN_DEFAULT 14
#define DUE_WITHIN_MAX 365

void api_beverages(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct api_report_scope sc = { 0 };
	int64_t now = clock_now_ms(), from, to;
	int by;
	json_t *doc = NULL;

	if (s == NULL)
		return;
	by = beverages_group_parse(http_query(r, "group_by"));
	if (by < 0) {
		http_reply_error(r, 400, "invalid", "group_by: any of product, machine, site, day, hour, comma-separated, "
		                                    "each once");
		return;
	}
	if (api_parse_ms(http_query(r, "to"), now, &to) != CC_OK ||
	    api_parse_ms(http_query(r, "from"), (to < now ? to : now) - 7 * DAY_MS, &from) != CC_OK || from < 0 ||
	    from >= to || from >= now || to - from > SPAN_MAX_DAYS * DAY_MS) {
		http_reply_error(r, 400, "invalid", "from, to: epoch ms, from before to and before now, at most 92 days "
		                                    "apart (default the last 7 days)");
		return;
	}
	if (api_report_scope(r, s, "customer", &sc) != CC_OK)
		goto out;
	if (beverages_report(a->vault, sc.machines, sc.n, from, to, by, &doc) != CC_OK) {
		http_reply_error(r, 500, "internal", "the beverages could not be counted");
		goto out;
	}
	if (api_audit_access(r, s, "usage.beverages", NULL, "ok") != CC_OK)
		goto out;
	json_object_set_new(doc, "excluded_without_consent", json_integer(sc.excluded));
	http_reply_json(r, 200, doc);
	doc = NULL;
out:
	json_decref(doc);
	api_report_scope_free(&sc);
}

void api_forecasts(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct api_report_scope sc = { 0 };
	int64_t days;
	json_t *doc = NULL;

	if (s == NULL)
		return;
	if (api_parse_ms(http_query(r, "due_within_days"), DUE_WITHIN_DEFAULT, &days) != CC_OK || days < 0 ||
	    days > DUE_WITHIN_MAX) {
		http_reply_error(r, 400, "invalid", "due_within_days: 0 .. 365 (default 14)");
		return;
	}
	if (api_report_scope(r, s, "customer", &sc) != CC_OK)
		goto out;
	if (forecast_report(a->vault, sc.machines, sc.n, clock_now_ms(), (int)days, &doc) != CC_OK ||
	    forecast_name_companies(vault_store(a->vault), doc) != CC_OK) {
		http_reply_error(r, 500, "internal", "the forecasts could not be computed");
		goto out;
	}
	if (api_audit_access(r, s, "service.forecasts", NULL, "ok") != CC_OK)
		goto out;
	json_object_set_new(doc, "excluded_without_consent", json_integer(sc.excluded));
	http_reply_json(r, 200, doc);
	doc = NULL;
out:
	json_decref(doc);
	api_report_scope_free(&sc);
}
