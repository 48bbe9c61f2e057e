/* cmd_usage.c - `report beverages` and `report forecasts`, the twins of GET
 * /api/v1/beverages and GET /api/v1/forecasts (docs/OPERATIONS.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/table.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/beverages.h"
#include "fleet/forecast.h"

#define MOD "cli"
#define DAY_MS INT64_C(86400000)

static const char *int_text(json_t *v, char *buf, size_t cap)
{
	if (!json_is_integer(v))
		return "-";
	snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
	return buf;
}

static int print_beverages(json_t *doc)
{
	const char *heads[8];
	json_t *by = json_object_get(doc, "group_by"), *row, *m, *total = json_object_get(doc, "total");
	struct cli_table *t;
	size_t i, j, nby = json_array_size(by);
	char b1[24], b2[24], b3[24];
	int rc = CC_OK;

	for (i = 0; i < nby && i < 5; i++)
		heads[i] = json_string_value(json_array_get(by, i));
	heads[i++] = "BEVERAGES";
	heads[i] = NULL;
	t = cli_table_new(heads);
	if (t == NULL)
		return CC_ERR_NOMEM;
	json_array_foreach(json_object_get(doc, "rows"), i, row) {
		const char *cells[7];
		char cellbuf[6][40];

		for (j = 0; j < nby && j < 5; j++) {
			json_t *v = json_object_get(row, json_string_value(json_array_get(by, j)));

			cells[j] = json_is_string(v) ? json_string_value(v) : int_text(v, cellbuf[j], sizeof(cellbuf[j]));
		}
		cells[j] = int_text(json_object_get(row, "beverages"), cellbuf[5], sizeof(cellbuf[5]));
		if (rc == CC_OK)
			rc = cli_table_row(t, cells);
	}
	if (rc != CC_OK) {
		cli_table_free(t);
		return rc;
	}
	rc = cli_table_print(t);
	if (rc != CC_OK)
		return rc;
	{
		static const char *const rheads[] = { "MACHINE", "SITE", "EVENTS", "COUNTER", "GAP", NULL };
		struct cli_table *r = cli_table_new(rheads);

		if (r == NULL)
			return CC_ERR_NOMEM;
		printf("\ncup counter against brew events (gap: beverages the counter saw and no event told)\n");
		json_array_foreach(json_object_get(doc, "machines"), i, m) {
			json_t *site = json_object_get(m, "site");

			if (rc == CC_OK)
				rc = cli_table_add(r, json_string_value(json_object_get(m, "serial")),
				                   json_is_string(site) ? json_string_value(site) : "-",
				                   int_text(json_object_get(m, "event_total"), b1, sizeof(b1)),
				                   int_text(json_object_get(m, "counter_total"), b2, sizeof(b2)),
				                   int_text(json_object_get(m, "gap"), b3, sizeof(b3)));
		}
		if (rc == CC_OK)
			rc = cli_table_add(r, "TOTAL", "", int_text(json_object_get(total, "event_total"), b1, sizeof(b1)),
			                   int_text(json_object_get(total, "counter_total"), b2, sizeof(b2)),
			                   int_text(json_object_get(total, "gap"), b3, sizeof(b3)));
		if (rc == CC_OK)
			rc = cli_table_print(r);
		else
			cli_table_free(r);
	}
	return rc;
}

static int run_beverages(struct cli_args *a)
{
	struct cli_report_targets ts;
	int64_t now = clock_now_ms(), from, to = now;
	int by = beverages_group_parse(cli_get(a, "group-by"));
	json_t *doc = NULL;
	int rc;

	if (by < 0) {
		log_error(MOD, "--group-by: any of product, machine, site, day, hour, comma-separated, each once");
		return CC_ERR_INVALID;
	}
	if (cli_get(a, "to") != NULL && cli_parse_time(cli_get(a, "to"), &to) != CC_OK)
		to = -1;
	from = (to < now ? to : now) - 7 * DAY_MS;
	if (to < 0 || (cli_get(a, "from") != NULL && cli_parse_time(cli_get(a, "from"), &from) != CC_OK) ||
	    from < 0 || from >= to || from >= now || to - from > 92 * DAY_MS) {
		log_error(MOD, "--from and --to: a period that starts before now, at most 92 days (epoch ms or "
		               "YYYY-MM-DDTHH:MM:SSZ)");
		return CC_ERR_INVALID;
	}
	rc = cli_report_targets(a, &ts);
	if (rc == CC_OK)
		rc = beverages_report(a->vault, ts.t, ts.n, from, to, by, &doc);
	free(ts.t);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(doc);
	{
		char f1[40], f2[40];

		printf("beverages from %s to %s (brew events; days and hours local to each site)\n",
		       cli_time(from, f1, sizeof(f1)), cli_time(to, f2, sizeof(f2)));
	}
	rc = print_beverages(doc);
	json_decref(doc);
	return rc;
}

static int run_forecasts(struct cli_args *a)
{
	struct cli_report_targets ts;
	const char *within = cli_get(a, "due-within-days");
	long days = 14;
	json_t *doc = NULL, *m, *svc;
	size_t i, j;
	int rc;

	if (within != NULL) {
		char *end;

		days = strtol(within, &end, 10);
		if (*within == '\0' || *end != '\0' || days < 0 || days > 365) {
			log_error(MOD, "--due-within-days: 0 .. 365");
			return CC_ERR_INVALID;
		}
	}
	rc = cli_report_targets(a, &ts);
	if (rc == CC_OK)
		rc = forecast_report(a->vault, ts.t, ts.n, clock_now_ms(), (int)days, &doc);
	if (rc == CC_OK)
		rc = forecast_name_companies(vault_store(a->vault), doc);
	free(ts.t);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(doc);
	{
		static const char *const heads[] = { "MACHINE", "SERVICE", "STATUS", "DUE", "USED", "INTERVAL", "UNIT",
			                             "RATE/DAY", "LAST_SERVICE", NULL };
		struct cli_table *t = cli_table_new(heads);

		printf("service forecasts (due soon: within %ld days; intervals %s)\n", days, FORECAST_INTERVALS_VERSION);
		rc = t != NULL ? CC_OK : CC_ERR_NOMEM;
		json_array_foreach(json_object_get(doc, "machines"), i, m) {
			json_array_foreach(json_object_get(m, "services"), j, svc) {
				json_t *due = json_object_get(svc, "due_ms"), *last = json_object_get(svc, "last_service");
				char d[40] = "-", l[40] = "-", used[32] = "-", iv[32] = "-", rate[32] = "-";

				if (json_is_integer(due))
					cli_time(json_integer_value(due), d, sizeof(d));
				if (json_is_object(last))
					cli_time(json_integer_value(json_object_get(last, "ts")), l, sizeof(l));
				if (json_is_number(json_object_get(svc, "used")))
					snprintf(used, sizeof(used), "%.1f", json_number_value(json_object_get(svc, "used")));
				if (json_is_number(json_object_get(svc, "interval")))
					snprintf(iv, sizeof(iv), "%.1f", json_number_value(json_object_get(svc, "interval")));
				if (json_is_number(json_object_get(svc, "rate_per_day")))
					snprintf(rate, sizeof(rate), "%.2f", json_number_value(json_object_get(svc, "rate_per_day")));
				if (rc == CC_OK)
					rc = cli_table_add(t, json_string_value(json_object_get(m, "serial")),
					                   json_string_value(json_object_get(svc, "service")),
					                   json_string_value(json_object_get(svc, "status")), d, used, iv,
					                   json_string_value(json_object_get(svc, "unit")), rate, l);
			}
		}
		if (rc == CC_OK)
			rc = cli_table_print(t);
		else
			cli_table_free(t);
	}
	json_decref(doc);
	return rc;
}

int cli_run_report_beverages(struct cli_args *a)
{
	return run_beverages(a);
}

int cli_run_report_forecasts(struct cli_args *a)
{
	return run_forecasts(a);
}
