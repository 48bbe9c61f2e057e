/* cmd_report.c - `report availability`, `report health` and `maintenance
 * start|end`: downtime as the fleet's operators read it (docs/OPERATIONS.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/roles.h"
#include "alerts/alerts.h"
#include "cli/cli.h"
#include "cli/table.h"
#include "common/clock.h"
#include "common/err.h"
#include "fleet/downtime.h"
#include "fleet/health.h"
#include "fleet/inventory.h"
#include "fleet/uptime.h"

#define DAY_MS INT64_C(86400000)

static int add_figures(struct cli_table *t, const char *key, const struct uptime_row *r, int with_state)
{
	char since[40];

	double pct = uptime_percent(r), mtbf = uptime_mtbf_minutes(r), mttr = uptime_mttr_minutes(r);
	char n[24], p[16] = "", down[32], inc[24], b[24] = "", m[24] = "";

	snprintf(n, sizeof(n), "%lld", (long long)r->machines);
	if (pct >= 0)
		snprintf(p, sizeof(p), "%.3f", pct);
	snprintf(down, sizeof(down), "%.1f", uptime_down_minutes(r));
	snprintf(inc, sizeof(inc), "%lld", (long long)r->sum.incidents);
	if (mtbf >= 0)
		snprintf(b, sizeof(b), "%.1f", mtbf);
	if (mttr >= 0)
		snprintf(m, sizeof(m), "%.1f", mttr);
	if (with_state)
		return cli_table_add(t, key, n, p, down, inc, b, m, downtime_state_name(r->sum.state_at_end), r->sum.reason,
		                     r->sum.since_ms == INT64_MIN ? "" : cli_time_s(r->sum.since_ms, since, sizeof(since)));
	return cli_table_add(t, key, n, p, down, inc, b, m);
}

static int only_serial(void *ctx, const struct store_machine_status *m)
{
	return strcmp(m->m.serial, (const char *)ctx) == 0;
}

static int run_availability(struct cli_args *a)
{
	struct store_machine_filter f;
	struct uptime_query q;
	struct uptime_report r;
	struct store_machine m;
	const char *serial = cli_get(a, "serial");
	int by = uptime_by_parse(cli_get(a, "by"));
	int64_t now = clock_now_ms();
	size_t i;
	int rc = CC_OK;

	memset(&f, 0, sizeof(f));
	memset(&q, 0, sizeof(q));
	q.to_ms = now;
	q.from_ms = now - 30 * DAY_MS;
	if (by < 0) {
		fprintf(stderr, "coffeecloud: --by: machine, site, customer or distributor\n");
		return CC_ERR_INVALID;
	}
	if ((cli_get(a, "from") != NULL && cli_parse_time(cli_get(a, "from"), &q.from_ms) != CC_OK) ||
	    (cli_get(a, "to") != NULL && cli_parse_time(cli_get(a, "to"), &q.to_ms) != CC_OK) || q.from_ms >= q.to_ms ||
	    q.from_ms >= now) {
		fprintf(stderr, "coffeecloud: --from and --to: a period that starts before now (epoch ms or "
		                "YYYY-MM-DDTHH:MM:SSZ)\n");
		return CC_ERR_INVALID;
	}
	rc = cli_report_scope(a, &f);
	if (rc != CC_OK)
		return rc;
	if (serial != NULL) {
		rc = inventory_machine_find(a->vault, serial, &m);
		if (rc != CC_OK) {
			fprintf(stderr, "coffeecloud: no machine %s\n", serial);
			return rc;
		}
		f.customer_id = m.customer_id;
		q.visible = only_serial;
		q.ctx = (void *)serial;
	}
	q.filter = &f;
	q.by = serial != NULL ? UPTIME_BY_MACHINE : (enum uptime_by)by;
	q.business_hours = cli_flag(a, "business-hours");
	rc = uptime_report(a->vault, &q, &r);
	if (rc != CC_OK) {
		fprintf(stderr, "coffeecloud: the availability could not be computed: %s\n", cc_strerror(rc));
		return rc;
	}
	if (serial != NULL) { /* one machine: keep its row only */
		for (i = 0; i < r.nrows && strcmp(r.rows[i].key, serial) != 0; i++)
			;
		r.total = i < r.nrows ? r.rows[i] : r.total;
		if (i < r.nrows && i > 0)
			r.rows[0] = r.rows[i];
		r.nrows = i < r.nrows ? 1 : 0;
	}
	if (a->json) {
		json_t *doc = uptime_report_json(&r, q.by);

		uptime_report_free(&r);
		return doc != NULL ? cli_print_json(doc) : CC_ERR_NOMEM;
	}
	{
		static const char *const by_heads[] = { "", "MACHINE", "SITE", "CUSTOMER", "DISTRIBUTOR" };
		const char *heads[] = { by_heads[q.by], "MACHINES", "AVAILABILITY_%", "DOWNTIME_MIN", "INCIDENTS",
		                        "MTBF_MIN", "MTTR_MIN", NULL, NULL, NULL, NULL };
		int with_state = q.by == UPTIME_BY_MACHINE;
		struct cli_table *t;
		char from[40], to[40];

		if (with_state) {
			heads[7] = "STATE";
			heads[8] = "REASON";
			heads[9] = "SINCE";
		}
		t = cli_table_new(heads);

		printf("availability from %s to %s%s (down: offline or out of service; maintenance and never-seen "
		       "time count neither way)\n", cli_time_s(r.from_ms, from, sizeof(from)),
		       cli_time_s(r.to_ms, to, sizeof(to)), r.business_hours ? ", within business hours" : "");
		rc = t != NULL ? CC_OK : CC_ERR_NOMEM;
		for (i = 0; rc == CC_OK && i < r.nrows; i++)
			rc = add_figures(t, r.rows[i].key, &r.rows[i], with_state);
		if (rc == CC_OK && serial == NULL && !with_state)
			rc = add_figures(t, "TOTAL", &r.total, 0);
		if (rc == CC_OK)
			rc = cli_table_print(t);
		else
			cli_table_free(t);
	}
	uptime_report_free(&r);
	return rc;
}

struct scored {
	struct store_machine m;
	char site[CC_NAME_MAX + 1];
	struct health h;
};

struct scorer {
	struct scored *rows;
	size_t n, cap;
};

static int collect(void *ctx, const struct store_machine_status *row)
{
	struct scorer *sc = ctx;

	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? 2 * sc->cap : 64;
		struct scored *grown = realloc(sc->rows, cap * sizeof(*grown));

		if (grown == NULL)
			return CC_ERR_NOMEM;
		sc->rows = grown;
		sc->cap = cap;
	}
	sc->rows[sc->n].m = row->m;
	snprintf(sc->rows[sc->n].site, sizeof(sc->rows[0].site), "%s", row->site);
	sc->n++;
	return 0;
}

static int worst_first(const void *a, const void *b)
{
	const struct scored *x = a, *y = b;

	return x->h.score != y->h.score ? x->h.score - y->h.score : strcmp(x->m.serial, y->m.serial);
}

/* The operator reads every data class: each score has all its parts. */
static int run_health(struct cli_args *a)
{
	const unsigned every = CLASS_STATUS | CLASS_TECHNICAL | CLASS_SERVICE;
	struct store *s = vault_store(a->vault);
	struct store_machine_filter f;
	struct scorer sc = { NULL, 0, 0 };
	struct cli_table *t = NULL;
	const char *limit_text = cli_get(a, "limit");
	char *end;
	long limit = limit_text != NULL ? strtol(limit_text, &end, 10) : 20;
	size_t i;
	int rc;

	if (limit_text != NULL && (*end != '\0' || limit < 1 || limit > 100000)) {
		fprintf(stderr, "coffeecloud: --limit: 1 to 100000\n");
		return CC_ERR_INVALID;
	}
	memset(&f, 0, sizeof(f));
	rc = cli_report_scope(a, &f);
	if (rc != CC_OK)
		return rc;
	rc = s->ops->machine_status_list(s, &f, collect, &sc);
	for (i = 0; rc == CC_OK && i < sc.n; i++) {
		rc = health_of(a->vault, &sc.rows[i].m, every, &sc.rows[i].h);
		if (rc == CC_OK)
			rc = alerts_health(s, &sc.rows[i].m, every, &sc.rows[i].h);
	}
	if (rc != CC_OK) {
		fprintf(stderr, "coffeecloud: the health scores could not be computed: %s\n", cc_strerror(rc));
		free(sc.rows);
		return rc;
	}
	if (sc.n > 1)
		qsort(sc.rows, sc.n, sizeof(*sc.rows), worst_first);
	if (a->json) {
		json_t *list = json_array();

		for (i = 0; list != NULL && i < sc.n && i < (size_t)limit; i++) {
			json_t *item = health_json(&sc.rows[i].h);

			json_object_set_new(item, "serial", json_string(sc.rows[i].m.serial));
			if (sc.rows[i].site[0] != '\0')
				json_object_set_new(item, "site", json_string(sc.rows[i].site));
			json_array_append_new(list, item);
		}
		free(sc.rows);
		return list != NULL ? cli_print_json(list) : CC_ERR_NOMEM;
	}
	{
		static const char *const heads[] = { "SERIAL", "SITE", "SCORE", "WORST PART", NULL };

		t = cli_table_new(heads);
	}
	rc = t != NULL ? CC_OK : CC_ERR_NOMEM;
	for (i = 0; rc == CC_OK && i < sc.n && i < (size_t)limit; i++) {
		char score[8];

		snprintf(score, sizeof(score), "%d", sc.rows[i].h.score);
		rc = cli_table_add(t, sc.rows[i].m.serial, sc.rows[i].site[0] ? sc.rows[i].site : "-", score,
		                   sc.rows[i].h.nparts > 0 ? sc.rows[i].h.parts[0].why : "-");
	}
	free(sc.rows);
	if (rc != CC_OK) {
		cli_table_free(t);
		return rc;
	}
	return cli_table_print(t);
}

static int run_maintenance(struct cli_args *a, int start)
{
	struct store_machine m;
	const char *serial = cli_get(a, "serial");
	int64_t until = 0;
	int rc = inventory_machine_find(a->vault, serial, &m);

	if (rc != CC_OK) {
		fprintf(stderr, "coffeecloud: no machine %s\n", serial);
		return rc;
	}
	if (start && cli_parse_time(cli_get(a, "until"), &until) != CC_OK) {
		fprintf(stderr, "coffeecloud: --until: the planned end (epoch ms or YYYY-MM-DDTHH:MM:SSZ)\n");
		return CC_ERR_INVALID;
	}
	rc = downtime_maintenance(a->vault, &m, start ? cli_get(a, "reason") : NULL, until, "cli");
	if (rc == CC_ERR_INVALID)
		fprintf(stderr, "coffeecloud: --reason: planned_service, repair, installation, cleaning, descaling, "
		                "relocation or other; --until: after now, at most 30 days ahead\n");
	else if (rc == CC_ERR_STATE)
		fprintf(stderr, "coffeecloud: %s is not in maintenance\n", serial);
	else if (rc != CC_OK)
		fprintf(stderr, "coffeecloud: the maintenance could not be stored: %s\n", cc_strerror(rc));
	if (rc == CC_OK && a->json)
		return cli_print_json(json_pack("{s:s, s:b}", "serial", m.serial, "maintenance", start));
	if (rc == CC_OK)
		printf("%s: %s\n", m.serial, start ? "in maintenance" : "maintenance ended");
	return rc;
}

static int run_maintenance_start(struct cli_args *a)
{
	return run_maintenance(a, 1);
}

static int run_maintenance_end(struct cli_args *a)
{
	return run_maintenance(a, 0);
}

const struct cli_cmd cli_report_cmds[] = {
	{ "report", "availability",
	  "availability %, downtime, incidents, MTBF and MTTR over a period (default the last 30 days)", NULL, 1,
	  { { "from", "TIME", "from this time (epoch ms or YYYY-MM-DDTHH:MM:SSZ)", 0 },
	    { "to", "TIME", "until this time (default now)", 0 },
	    { "customer", "C", "only this customer's machines", 0 },
	    { "site", "X", "only machines at this site", 0 },
	    { "serial", "S", "only this machine (with its state now)", 0 },
	    { "by", "KEY", "a row per machine, site, customer or distributor", 0 },
	    { "business-hours", NULL, "only within each site's business hours, in its time zone", 0 }, CLI_END_OPTS },
	  run_availability },
	{ "report", "health", "the machines' health scores, worst first, with the worst part of each (--json: all parts)",
	  NULL, 1,
	  { { "customer", "C", "only this customer's machines", 0 },
	    { "site", "X", "only machines at this site", 0 },
	    { "limit", "N", "how many, worst first [20]", 0 }, CLI_END_OPTS },
	  run_health },
	{ "report", "compliance",
	  "quality compliance (docs/QUALITY.md): brews in spec, breaches, cleanings done vs due per machine and in "
	  "total (default the last 7 days, at most 92)", NULL, 1,
	  { { "from", "TIME", "from this time (epoch ms or YYYY-MM-DDTHH:MM:SSZ)", 0 },
	    { "to", "TIME", "until this time (default now)", 0 },
	    { "customer", "C", "only this customer's machines", 0 },
	    { "site", "X", "only machines at this site", 0 },
	    { "serial", "S", "only this machine", 0 }, CLI_END_OPTS },
	  cli_run_report_compliance },
	{ "report", "haccp",
	  "the signed HACCP cleaning report of a site (docs/QUALITY.md): every cleaning, what was due and missed; "
	  "CSV with its signature in OUT.sig, JSON or a printable HTML page (default the last 7 days, at most 92)",
	  NULL, 1,
	  { { "site", "X", "the site", 1 },
	    { "customer", "C", "the site's customer (when several have a site of that name)", 0 },
	    { "from", "TIME", "from this time (epoch ms or YYYY-MM-DDTHH:MM:SSZ)", 0 },
	    { "to", "TIME", "until this time (default now)", 0 },
	    { "format", "F", "csv, sig (the CSV's signature alone), json or html [csv]", 0 },
	    { "out", "FILE", "write the report here (and the CSV's signature to FILE.sig); default stdout", 0 },
	    CLI_END_OPTS },
	  cli_run_report_haccp },
	{ "report", "beverages",
	  "beverages dispensed (brew events, never prices) grouped by product, machine, site, local day and hour, "
	  "with each machine's cup counter against its events and the gap (default the last 7 days, at most 92)",
	  NULL, 1,
	  { { "from", "TIME", "from this time (epoch ms or YYYY-MM-DDTHH:MM:SSZ)", 0 },
	    { "to", "TIME", "until this time (default now)", 0 },
	    { "customer", "C", "only this customer's machines", 0 },
	    { "site", "X", "only machines at this site", 0 },
	    { "serial", "S", "only this machine", 0 },
	    { "group-by", "KEYS", "any of product,machine,site,day,hour (default: totals only)", 0 }, CLI_END_OPTS },
	  cli_run_report_beverages },
	{ "report", "forecasts",
	  "service due dates (brew unit, grinder burrs, water filter, descaling) from each machine's usage rate, "
	  "with the basis of each", NULL, 1,
	  { { "customer", "C", "only this customer's machines", 0 },
	    { "site", "X", "only machines at this site", 0 },
	    { "serial", "S", "only this machine", 0 },
	    { "due-within-days", "N", "due soon: within N days [14]", 0 }, CLI_END_OPTS },
	  cli_run_report_forecasts },
	CLI_END_CMDS,
};

const struct cli_cmd cli_maintenance_cmds[] = {
	{ "maintenance", "start", "put a machine in maintenance until a planned end (not counted as downtime)",
	  "serial", 1,
	  { { "serial", "S", "the machine", 1 },
	    { "reason", "R", "planned_service, repair, installation, cleaning, descaling, relocation, other", 1 },
	    { "until", "TIME", "the planned end (at most 30 days ahead)", 1 }, CLI_END_OPTS },
	  run_maintenance_start },
	{ "maintenance", "end", "end a machine's maintenance now", "serial", 1,
	  { { "serial", "S", "the machine", 1 }, CLI_END_OPTS }, run_maintenance_end },
	CLI_END_CMDS,
};
