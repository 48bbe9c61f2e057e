/* report_scope.c - the machines a fleet report covers (compliance,
 * beverages, forecasts): see api_report_scope in internal.h. */
#include "api/internal.h"

#include <stdlib.h>
#include <string.h>

#include "access/policy.h"
#include "common/err.h"
#include "fleet/inventory.h"
#include "quality/compliance.h"

/* A fleet has few customers: each is decided once, kept in a short list. */
struct customer_verdict {
	int64_t id;
	int counts; /* 1 in scope and consented, 2 in scope without consent, 0 out of scope */
	char name[CC_NAME_MAX + 1];
};

struct picker {
	struct api *a;
	const struct caller *s;
	const char *purpose, *serial;
	struct customer_verdict *seen;
	size_t n, cap;
	struct api_report_scope *out;
	size_t capm;
};

static struct customer_verdict *customer_of(struct picker *p, int64_t customer_id)
{
	struct store *st = vault_store(p->a->vault);
	struct customer_verdict *c;
	struct store_org org;
	size_t i;

	for (i = 0; i < p->n; i++)
		if (p->seen[i].id == customer_id)
			return &p->seen[i];
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 16;
		struct customer_verdict *grown = realloc(p->seen, cap * sizeof(*grown));

		if (grown == NULL)
			return NULL;
		p->seen = grown;
		p->cap = cap;
	}
	c = &p->seen[p->n++];
	c->id = customer_id;
	c->counts = inventory_org_contains(st, p->s->user.org_id, customer_id)
	                    ? (policy_allows(p->a->vault, customer_id, p->purpose) ? 1 : 2)
	                    : 0;
	snprintf(c->name, sizeof(c->name), "%s", st->ops->org_get(st, customer_id, &org) == CC_OK ? org.name : "?");
	return c;
}

static int pick(void *ctx, const struct store_machine_status *row)
{
	struct picker *p = ctx;
	struct api_report_scope *sc = p->out;
	struct customer_verdict *c;
	int v;

	if (p->serial != NULL && strcmp(row->m.serial, p->serial) != 0)
		return 0;
	c = customer_of(p, row->m.customer_id);
	if (c == NULL)
		return CC_ERR_NOMEM;
	if (p->s->role->granted_only) {
		v = api_machine_visible(p->a, p->s, &row->m, p->purpose) &&
		    policy_allows(p->a->vault, row->m.customer_id, p->purpose);
	} else {
		if (c->counts == 2)
			sc->excluded++;
		v = c->counts == 1;
	}
	if (!v)
		return 0;
	if (sc->n == p->capm) {
		size_t cap = p->capm ? 2 * p->capm : 32;
		struct compliance_target *grown = realloc(sc->machines, cap * sizeof(*grown));

		if (grown == NULL)
			return CC_ERR_NOMEM;
		sc->machines = grown;
		p->capm = cap;
	}
	memset(&sc->machines[sc->n], 0, sizeof(sc->machines[0]));
	sc->machines[sc->n].m = row->m;
	snprintf(sc->machines[sc->n].site, sizeof(sc->machines[sc->n].site), "%s", row->site);
	snprintf(sc->machines[sc->n].customer, sizeof(sc->machines[sc->n].customer), "%s", c->name);
	sc->n++;
	return 0;
}

int api_report_scope(struct http_req *r, const struct caller *s, const char *customer_param,
                     struct api_report_scope *sc)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	const char *customer = http_query(r, customer_param), *site = http_query(r, "site");
	struct picker p = { a, s, http_route(r)->purpose, http_query(r, "machine"), NULL, 0, 0, sc, 0 };
	struct store_machine_filter f;
	struct store_org org;
	int rc;

	memset(sc, 0, sizeof(*sc));
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
		f.customer_id = org.id; /* the same machines as the scope, found without a scan */
	}
	f.site = site;
	rc = st->ops->machine_status_list(st, &f, pick, &p);
	free(p.seen);
	if (rc != CC_OK) {
		http_reply_error(r, 500, "internal", "the machines could not be listed");
		return rc;
	}
	if (p.serial != NULL && sc->n == 0) {
		http_reply_error(r, 404, "not_found", "no such machine");
		return CC_ERR_NOTFOUND;
	}
	return CC_OK;
}

void api_report_scope_free(struct api_report_scope *sc)
{
	free(sc->machines);
	memset(sc, 0, sizeof(*sc));
}
