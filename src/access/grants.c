#include "access/grants.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/users.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/inventory.h"

#define MOD "grants"

static const char *const purposes[] = { "downtime", "quality", "support", "updates" };

int grants_purpose_valid(const char *purpose)
{
	size_t i;

	for (i = 0; purpose != NULL && i < sizeof(purposes) / sizeof(purposes[0]); i++)
		if (strcmp(purposes[i], purpose) == 0)
			return 1;
	return 0;
}

int grants_add(struct vault *v, const struct grant_request *req, const char *created_by,
               int64_t scope_org_id, int64_t *id)
{
	struct store *s = vault_store(v);
	struct store_grant g;
	struct store_user *u = NULL;
	struct store_machine m;
	struct store_org cust;
	struct store_site site;
	int64_t now = clock_now_ms();
	int rc;

	memset(&g, 0, sizeof(g));
	if (req->login == NULL || !grants_purpose_valid(req->purpose)) {
		log_error(MOD, "a grant needs a subcontractor and a purpose: downtime, quality, support or updates");
		return CC_ERR_INVALID;
	}
	if (req->expires_ms <= now || req->expires_ms > now + (int64_t)GRANTS_MAX_DAYS * 86400000) {
		log_error(MOD, "a grant must expire in the future and within %d days", GRANTS_MAX_DAYS);
		return CC_ERR_INVALID;
	}
	if ((req->serial != NULL) == (req->site != NULL)) {
		log_error(MOD, "a grant names either one machine or one site");
		return CC_ERR_INVALID;
	}
	if (req->serial != NULL) {
		rc = inventory_machine_find(v, req->serial, &m);
		if (rc != CC_OK)
			return rc;
		g.machine_id = m.id;
		g.customer_id = m.customer_id;
	} else {
		rc = req->customer ? inventory_org_find(v, req->customer, &cust) : CC_ERR_INVALID;
		if (rc == CC_OK)
			rc = s->ops->site_find(s, cust.id, req->site, &site);
		if (rc != CC_OK) {
			log_error(MOD, "no such site of that customer");
			return rc == CC_ERR_INVALID ? rc : CC_ERR_NOTFOUND;
		}
		g.site_id = site.id;
		g.customer_id = cust.id;
	}
	if (scope_org_id != 0 && !inventory_org_contains(s, scope_org_id, g.customer_id)) {
		log_error(MOD, "that machine or site is outside the granter's organisation");
		return CC_ERR_NOTFOUND;
	}
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return CC_ERR_NOMEM;
	rc = s->ops->user_find(s, req->login, u);
	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no user '%s'", req->login);
	if (rc == CC_OK && strcmp(u->role, "site_staff") == 0) {
		/* The people of a site see their own site: never one machine picked
		 * out of it, never another customer's. */
		if (g.site_id == 0 || u->org_id != g.customer_id) {
			log_error(MOD, "site staff are granted a site of their own customer only");
			rc = CC_ERR_INVALID;
		}
	} else if (rc == CC_OK && strcmp(u->role, "subcontractor") != 0) {
		log_error(MOD, "grants are for subcontractors and site staff; '%s' is a %s", req->login, u->role);
		rc = CC_ERR_INVALID;
	}
	g.user_id = u->id;
	free(u);
	if (rc != CC_OK)
		return rc;
	snprintf(g.purpose, sizeof(g.purpose), "%s", req->purpose);
	snprintf(g.created_by, sizeof(g.created_by), "%s", created_by);
	g.created_ms = now;
	g.expires_ms = req->expires_ms;
	return s->ops->grant_add(s, &g, id);
}

int grants_revoke(struct vault *v, int64_t id, int64_t scope_org_id)
{
	struct store *s = vault_store(v);
	struct store_grant g;
	int rc = s->ops->grant_get(s, id, &g);

	if (rc == CC_OK && scope_org_id != 0 && !inventory_org_contains(s, scope_org_id, g.customer_id))
		rc = CC_ERR_NOTFOUND;
	if (rc == CC_ERR_NOTFOUND) {
		log_error(MOD, "no grant %lld", (long long)id);
		return rc;
	}
	if (rc == CC_OK)
		rc = s->ops->grant_revoke(s, id, clock_now_ms());
	if (rc == CC_ERR_STATE)
		log_error(MOD, "grant %lld is revoked already", (long long)id);
	return rc;
}

struct scoped {
	struct store *s;
	int64_t scope;
	int (*each)(void *, const struct store_grant *);
	void *ctx;
};

static int in_scope(void *arg, const struct store_grant *g)
{
	struct scoped *sc = arg;

	if (sc->scope != 0 && !inventory_org_contains(sc->s, sc->scope, g->customer_id))
		return 0;
	return sc->each(sc->ctx, g);
}

int grants_list(struct vault *v, int64_t scope_org_id,
                int (*each)(void *ctx, const struct store_grant *g), void *ctx)
{
	struct scoped sc = { vault_store(v), scope_org_id, each, ctx };

	return sc.s->ops->grant_list(sc.s, 0, in_scope, &sc);
}

int grants_cover(struct vault *v, int64_t user_id, const struct store_machine *m, const char *purpose)
{
	struct store *s = vault_store(v);

	return s->ops->grant_covers(s, user_id, m->id, m->site_id, purpose, clock_now_ms());
}

int grants_cover_site(struct vault *v, int64_t user_id, int64_t site_id, const char *purpose)
{
	struct store *s = vault_store(v);

	/* machine 0: only a grant naming the site itself matches */
	return site_id != 0 && s->ops->grant_covers(s, user_id, 0, site_id, purpose, clock_now_ms());
}
