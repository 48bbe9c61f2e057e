/* usage.c - what machines did and what they will need (docs/OPERATIONS.md):
 * GET /api/v1/beverages, counts of beverages with their counter
 * reconciliation (fleet/beverages.h), and GET /api/v1/forecasts, the
 * machines' service due dates (fleet/forecast.h), over the machines the
 * caller sees whose customer consented to the route's purpose. */
#include "api/internal.h"

#include <stdlib.h>
#include <string.h>

#include "access/policy.h"
#include "common/clock.h"
#include "common/err.h"
#include "fleet/beverages.h"
#include "fleet/forecast.h"
#include "fleet/inventory.h"

#define DAY_MS INT64_C(86400000)
#define SPAN_MAX_DAYS 92
#define DUE_WITHIN_DEFAULT 14
#define DUE_WITHIN_MAX 365

struct customer_verdict {
	int64_t id;
	int counts; /* 1 in scope and consented, 2 in scope without consent, 0 out of scope */
	char name[CC_NAME_MAX + 1];
};

struct scope {
	struct api *a;
	const struct caller *s;
	const char *purpose, *serial;
	struct customer_verdict *seen;
	size_t n, cap;
	struct compliance_target *machines;
	size_t nm, capm;
	int64_t excluded;
};

/* A fleet has few customers: decided once each, kept in a short list. */
static struct customer_verdict *customer_of(struct scope *sc, int64_t customer_id)
{
	struct store *st = vault_store(sc->a->vault);
	struct customer_verdict *c;
	struct store_org org;
	size_t i;

	for (i = 0; i < sc->n; i++)
		if (sc->seen[i].id == customer_id)
			return &sc->seen[i];
	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? 2 * sc->cap : 16;
		struct customer_verdict *grown = realloc(sc->seen, cap * sizeof(*grown));

		if (grown == NULL)
			return NULL;
		sc->seen = grown;
		sc->cap = cap;
	}
	c = &sc->seen[sc->n++];
	c->id = customer_id;
	c->counts = inventory_org_contains(st, sc->s->user.org_id, customer_id)
	                    ? (policy_allows(sc->a->vault, customer_id, sc->purpose) ? 1 : 2)
	                    : 0;
	snprintf(c->name, sizeof(c->name), "%s", st->ops->org_get(st, customer_id, &org) == CC_OK ? org.name : "?");
	return c;
}

static int pick(void *ctx, const struct store_machine_status *row)
{
	struct scope *sc = ctx;
	struct customer_verdict *c;
	int v;

	if (sc->serial != NULL && strcmp(row->m.serial, sc->serial) != 0)
		return 0;
	c = customer_of(sc, row->m.customer_id);
	if (c == NULL)
		return CC_ERR_NOMEM;
	if (sc->s->role->granted_only) {
		v = api_machine_visible(sc->a, sc->s, &row->m, sc->purpose) &&
		    policy_allows(sc->a->vault, row->m.customer_id, sc->purpose);
	} else {
		if (c->counts == 2)
			sc->excluded++;
		v = c->counts == 1;
	}
	if (!v)
		return 0;
	if (sc->nm == sc->capm) {
		size_t cap = sc->capm ? 2 * sc->capm : 32;
		struct compliance_target *grown = realloc(sc->machines, cap * sizeof(*grown));

		if (grown == NULL)
			return CC_ERR_NOMEM;
		sc->machines = grown;
		sc->capm = cap;
	}
	memset(&sc->machines[sc->nm], 0, sizeof(sc->machines[0]));
	sc->machines[sc->nm].m = row->m;
	snprintf(sc->machines[sc->nm].site, sizeof(sc->machines[sc->nm].site), "%s", row->site);
	snprintf(sc->machines[sc->nm].customer, sizeof(sc->machines[sc->nm].customer), "%s", c->name);
	sc->nm++;
	return 0;
}

/* customer=, site=, machine=: which machines; a customer's people see their
 * own customer's. Replies and returns an error for a bad one. */
static int machines_in_scope(struct http_req *r, const struct caller *s, struct scope *sc)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	const char *customer = http_query(r, "customer"), *site = http_query(r, "site");
	struct store_machine_filter f;
	struct store_org org;
	int rc;

	memset(&f, 0, sizeof(f));
	if (site != NULL && !inventory_name_valid(site)) {
		http_reply_error(r, 400, "invalid", "site: a site's name");
		return CC_ERR_INVALID;
	}
	if (customer != NULL) {
		if (api_find_customer(r, s, customer, &org) != CC_OK)
			return CC_ERR_NOTFOUND;
		f.customer_id = org.id;
	} else if (!s->role->granted_only && st->ops->org_get(st, s->user.org_id, &org) == CC_OK &&
	           org.kind == ORG_CUSTOMER) {
		f.customer_id = org.id;
	}
	f.site = site;
	sc->a = a;
	sc->s = s;
	sc->purpose = http_route(r)->purpose;
	sc->serial = http_query(r, "machine");
	rc = st->ops->machine_status_list(st, &f, pick, sc);
	if (rc != CC_OK) {
		http_reply_error(r, 500, "internal", "the machines could not be listed");
		return rc;
	}
	if (sc->serial != NULL && sc->nm == 0) {
		http_reply_error(r, 404, "not_found", "no such machine");
		return CC_ERR_NOTFOUND;
	}
	return CC_OK;
}

static void scope_free(struct scope *sc)
{
	free(sc->seen);
	free(sc->machines);
}

void api_beverages(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct scope sc;
	int64_t now = clock_now_ms(), from, to;
	int by;
	json_t *doc = NULL;

	if (s == NULL)
		return;
	memset(&sc, 0, sizeof(sc));
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
	if (machines_in_scope(r, s, &sc) != CC_OK)
		goto out;
	if (beverages_report(a->vault, sc.machines, sc.nm, from, to, by, &doc) != CC_OK) {
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
	scope_free(&sc);
}

void api_forecasts(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct scope sc;
	int64_t days;
	json_t *doc = NULL;

	if (s == NULL)
		return;
	memset(&sc, 0, sizeof(sc));
	if (api_parse_ms(http_query(r, "due_within_days"), DUE_WITHIN_DEFAULT, &days) != CC_OK || days < 0 ||
	    days > DUE_WITHIN_MAX) {
		http_reply_error(r, 400, "invalid", "due_within_days: 0 .. 365 (default 14)");
		return;
	}
	if (machines_in_scope(r, s, &sc) != CC_OK)
		goto out;
	if (forecast_report(a->vault, sc.machines, sc.nm, clock_now_ms(), (int)days, &doc) != CC_OK ||
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
	scope_free(&sc);
}
