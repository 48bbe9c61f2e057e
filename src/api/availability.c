/* availability.c - downtime through the API (docs/OPERATIONS.md "Downtime
 * and availability"): GET /api/v1/availability, the report of fleet/uptime.h
 * over the machines the caller sees whose customer consented to the downtime
 * purpose; the fleet's health scores worst first (GET /api/v1/health-scores); and a
 * machine's maintenance, set and ended. */
#include "api/internal.h"

#include <stdlib.h>
#include <string.h>

#include "access/policy.h"
#include "common/clock.h"
#include "common/err.h"
#include "alerts/alerts.h"
#include "fleet/downtime.h"
#include "fleet/health.h"
#include "fleet/inventory.h"
#include "fleet/uptime.h"

#define DAY_MS INT64_C(86400000)
#define SPAN_MAX (INT64_C(400) * DAY_MS)

struct customer_verdict {
	int64_t id;
	int counts; /* in scope and consented */
};

struct scope {
	struct api *a;
	const struct caller *s;
	const char *purpose;
	const char *serial;       /* serial=: that machine only */
	struct customer_verdict *seen;
	size_t n, cap;
	int64_t excluded;         /* in scope, but their customer did not consent */
};

/* A fleet has few customers: decided once each, kept in a short list. */
static int customer_counts(struct scope *sc, int64_t customer_id)
{
	struct store *st = vault_store(sc->a->vault);
	size_t i;
	int visible;

	for (i = 0; i < sc->n; i++)
		if (sc->seen[i].id == customer_id)
			return sc->seen[i].counts;
	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? 2 * sc->cap : 16;
		struct customer_verdict *grown = realloc(sc->seen, cap * sizeof(*grown));

		if (grown == NULL)
			return -1;
		sc->seen = grown;
		sc->cap = cap;
	}
	visible = inventory_org_contains(st, sc->s->user.org_id, customer_id);
	sc->seen[sc->n].id = customer_id;
	sc->seen[sc->n].counts = visible ? (policy_allows(sc->a->vault, customer_id, sc->purpose) ? 1 : 2) : 0;
	return sc->seen[sc->n++].counts;
}

static int visible(void *ctx, const struct store_machine_status *row)
{
	struct scope *sc = ctx;
	int v;

	if (sc->serial != NULL && strcmp(row->m.serial, sc->serial) != 0)
		return 0;
	if (sc->s->role->granted_only)
		return api_machine_visible(sc->a, sc->s, &row->m, sc->purpose) &&
		       policy_allows(sc->a->vault, row->m.customer_id, sc->purpose);
	v = customer_counts(sc, row->m.customer_id);
	if (v < 0)
		return CC_ERR_NOMEM;
	if (v == 2)
		sc->excluded++;
	return v == 1;
}

/* customer=, site=, serial=: which machines; a customer's people see their
 * own customer's. Replies and returns an error for a bad one. */
static int fleet_scope(struct http_req *r, const struct caller *s, struct store_machine_filter *f, struct scope *sc)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	const char *customer = http_query(r, "customer"), *site = http_query(r, "site");
	struct store_org org;

	if (site != NULL && !inventory_name_valid(site)) {
		http_reply_error(r, 400, "invalid", "site: a site's name");
		return CC_ERR_INVALID;
	}
	if (customer != NULL) {
		if (api_find_customer(r, s, customer, &org) != CC_OK)
			return CC_ERR_NOTFOUND;
		f->customer_id = org.id;
	} else if (!s->role->granted_only && st->ops->org_get(st, s->user.org_id, &org) == CC_OK &&
	           org.kind == ORG_CUSTOMER) {
		f->customer_id = org.id;
	}
	f->site = site;
	sc->a = a;
	sc->s = s;
	sc->purpose = http_route(r)->purpose;
	sc->serial = http_query(r, "serial");
	return CC_OK;
}

void api_availability(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store_machine_filter f;
	struct uptime_query q;
	struct uptime_report rep;
	struct scope sc;
	int64_t now = clock_now_ms();
	int by, rc;
	json_t *doc;

	if (s == NULL)
		return;
	memset(&f, 0, sizeof(f));
	memset(&q, 0, sizeof(q));
	memset(&sc, 0, sizeof(sc));
	by = uptime_by_parse(http_query(r, "by"));
	if (api_parse_bool(http_query(r, "business_hours"), &q.business_hours) != CC_OK) {
		http_reply_error(r, 400, "invalid", "business_hours: true or false");
		return;
	}
	if (by < 0 || api_parse_ms(http_query(r, "to"), now, &q.to_ms) != CC_OK ||
	    api_parse_ms(http_query(r, "from"), (q.to_ms < now ? q.to_ms : now) - 30 * DAY_MS, &q.from_ms) != CC_OK ||
	    q.from_ms >= q.to_ms || q.from_ms >= now || q.to_ms - q.from_ms > SPAN_MAX) {
		http_reply_error(r, 400, "invalid", "from, to: epoch ms, from before to and before now, at most 400 days "
		                                    "apart (default the last 30 days); by: machine, site, customer or "
		                                    "distributor");
		return;
	}
	if (fleet_scope(r, s, &f, &sc) != CC_OK)
		return;
	q.filter = &f;
	q.by = sc.serial != NULL ? UPTIME_BY_MACHINE : (enum uptime_by)by;
	q.visible = visible;
	q.ctx = &sc;
	rc = uptime_report(a->vault, &q, &rep);
	free(sc.seen);
	if (rc != CC_OK) {
		http_reply_error(r, rc == CC_ERR_INVALID ? 400 : 500, rc == CC_ERR_INVALID ? "invalid" : "internal",
		                 rc == CC_ERR_INVALID ? "an empty period" : "the availability could not be computed");
		return;
	}
	if (sc.serial != NULL && rep.total.machines == 0) {
		uptime_report_free(&rep);
		http_reply_error(r, 404, "not_found", "no such machine");
		return;
	}
	doc = uptime_report_json(&rep, q.by);
	uptime_report_free(&rep);
	if (doc == NULL) {
		http_reply_error(r, 500, "internal", "the answer could not be built");
		return;
	}
	if (api_audit_access(r, s, "availability.report", NULL, "ok") != CC_OK) {
		json_decref(doc);
		return;
	}
	json_object_set_new(doc, "excluded_without_consent", json_integer(sc.excluded));
	http_reply_json(r, 200, doc);
}

/* ---- GET /api/v1/health-scores: the machines the caller sees, worst first ---- */

#define HEALTH_LIMIT_DEFAULT 50
#define HEALTH_LIMIT_MAX 1000

struct health_row {
	struct store_machine m;
	char site[CC_NAME_MAX + 1];
	struct health h;
};

struct health_lister {
	struct scope sc;
	struct health_row *rows;
	size_t n, cap;
};

static int add_health_row(void *ctx, const struct store_machine_status *row)
{
	struct health_lister *l = ctx;
	int v = visible(&l->sc, row);

	if (v <= 0)
		return v;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct health_row *grown = realloc(l->rows, cap * sizeof(*grown));

		if (grown == NULL)
			return CC_ERR_NOMEM;
		l->rows = grown;
		l->cap = cap;
	}
	l->rows[l->n].m = row->m;
	snprintf(l->rows[l->n].site, sizeof(l->rows[0].site), "%s", row->site);
	l->n++;
	return 0;
}

static int worst_first(const void *a, const void *b)
{
	const struct health_row *x = a, *y = b;

	if (x->h.score != y->h.score)
		return x->h.score - y->h.score;
	return strcmp(x->m.serial, y->m.serial);
}

void api_health_scores(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct caller *s = api_caller(r);
	struct store_machine_filter f;
	struct health_lister l;
	struct store_org cust;
	int64_t limit;
	json_t *list, *item;
	size_t i;
	int rc;

	if (s == NULL)
		return;
	memset(&f, 0, sizeof(f));
	memset(&l, 0, sizeof(l));
	if (api_parse_ms(http_query(r, "limit"), HEALTH_LIMIT_DEFAULT, &limit) != CC_OK || limit < 1 ||
	    limit > HEALTH_LIMIT_MAX) {
		http_reply_error(r, 400, "invalid", "limit: 1 to 1000 (default 50)");
		return;
	}
	if (fleet_scope(r, s, &f, &l.sc) != CC_OK)
		return;
	rc = st->ops->machine_status_list(st, &f, add_health_row, &l);
	/* Each score counts only the parts of the classes the caller reads. */
	for (i = 0; rc == CC_OK && i < l.n; i++) {
		rc = health_of(a->vault, &l.rows[i].m, s->role->classes, &l.rows[i].h);
		if (rc == CC_OK)
			rc = alerts_health(st, &l.rows[i].m, s->role->classes, &l.rows[i].h);
	}
	free(l.sc.seen);
	if (rc != CC_OK) {
		free(l.rows);
		http_reply_error(r, 500, "internal", "the health scores could not be computed");
		return;
	}
	if (l.n > 1)
		qsort(l.rows, l.n, sizeof(*l.rows), worst_first);
	list = json_array();
	for (i = 0; list != NULL && i < l.n && i < (size_t)limit; i++) {
		item = health_json(&l.rows[i].h);
		if (item == NULL)
			break;
		json_object_set_new(item, "serial", json_string(l.rows[i].m.serial));
		if (st->ops->org_get(st, l.rows[i].m.customer_id, &cust) == CC_OK)
			json_object_set_new(item, "customer", json_string(cust.name));
		if (l.rows[i].site[0] != '\0')
			json_object_set_new(item, "site", json_string(l.rows[i].site));
		json_array_append_new(list, item);
	}
	free(l.rows);
	if (list == NULL || api_audit_access(r, s, "health.list", NULL, "ok") != CC_OK) {
		if (list == NULL)
			http_reply_error(r, 500, "internal", "the answer could not be built");
		json_decref(list);
		return;
	}
	http_reply_json(r, 200, json_pack("{s:o, s:I, s:I}", "machines", list, "count", (json_int_t)l.n,
	                                  "excluded_without_consent", (json_int_t)l.sc.excluded));
}

/* POST /api/v1/machines/{serial}/maintenance {reason, until}: the machine
 * in maintenance until then; DELETE: ended now (fleet/downtime.h). */
static void maintenance(struct http_req *r, int start)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store_machine m;
	json_t *until = json_object_get(http_body(r), "until");
	const char *reason = api_field(r, "reason");
	const char *action = start ? "maintenance.start" : "maintenance.end";
	int rc;

	if (s == NULL || api_find_machine(r, s, &m) != CC_OK)
		return;
	if (start && (!json_is_integer(until) || !downtime_maintenance_reason_valid(reason))) {
		http_reply_error(r, 400, "invalid", "reason: planned_service, repair, installation, cleaning, descaling, "
		                                    "relocation or other; until: the planned end, epoch ms");
		return;
	}
	rc = downtime_maintenance(a->vault, &m, start ? reason : NULL, start ? json_integer_value(until) : 0,
	                          s->actor);
	if (rc == CC_ERR_INVALID) {
		http_reply_error(r, 400, "invalid", "until: after now, at most 30 days ahead");
		return;
	}
	if (rc == CC_ERR_STATE) {
		http_reply_error(r, 409, "conflict", "the machine is not in maintenance");
		return;
	}
	if (rc != CC_OK) {
		http_reply_error(r, 500, "internal", "the maintenance could not be stored");
		return;
	}
	if (api_audit_access(r, s, action, &m, "ok") == CC_OK)
		http_reply_json(r, start ? 201 : 200, json_pack("{s:s, s:b}", "serial", m.serial, "maintenance", start));
}

void api_maintenance_start(struct http_req *r) { maintenance(r, 1); }
void api_maintenance_end(struct http_req *r) { maintenance(r, 0); }
