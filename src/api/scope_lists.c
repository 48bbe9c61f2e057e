/* scope_lists.c - the caller's scope as lists of ids a store query narrows
 * by (api_scope_build in internal.h): listings that page in the store
 * instead of judging every row of the installation in memory. */
#include "api/internal.h"

#include <stdlib.h>
#include <string.h>

#include "access/policy.h"
#include "common/clock.h"
#include "common/err.h"

struct org_link {
	int64_t id, parent;
	enum org_kind kind;
};

struct builder {
	struct api_scope *sc;
	struct org_link *orgs;
	size_t norgs, cap;
	size_t capc, capm, caps;
	int64_t now_ms;
	const char *purpose;
	int rc;
};

static int add_id(int64_t **v, size_t *n, size_t *cap, int64_t id)
{
	if (*n == *cap) {
		size_t grown_cap = *cap ? 2 * *cap : 32;
		int64_t *grown = realloc(*v, grown_cap * sizeof(*grown));

		if (grown == NULL)
			return CC_ERR_NOMEM;
		*v = grown;
		*cap = grown_cap;
	}
	(*v)[(*n)++] = id;
	return CC_OK;
}

static int keep_org(void *ctx, const struct store_org *o)
{
	struct builder *b = ctx;

	if (b->norgs == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 64;
		struct org_link *grown = realloc(b->orgs, cap * sizeof(*grown));

		if (grown == NULL)
			return CC_ERR_NOMEM;
		b->orgs = grown;
		b->cap = cap;
	}
	b->orgs[b->norgs].id = o->id;
	b->orgs[b->norgs].parent = o->parent_id;
	b->orgs[b->norgs++].kind = o->kind;
	return 0;
}

static int cmp_org(const void *x, const void *y)
{
	int64_t a = ((const struct org_link *)x)->id, b = ((const struct org_link *)y)->id;

	return a < b ? -1 : a > b;
}

static const struct org_link *org_of(const struct builder *b, int64_t id)
{
	struct org_link key = { id, 0, 0 };

	return bsearch(&key, b->orgs, b->norgs, sizeof(*b->orgs), cmp_org);
}

static int keep_grant(void *ctx, const struct store_grant *g)
{
	struct builder *b = ctx;
	struct api_scope *sc = b->sc;

	/* In force and for this purpose, as grants_cover decides. */
	if (g->revoked_ms != 0 || g->expires_ms <= b->now_ms || strcmp(g->purpose, b->purpose) != 0)
		return 0;
	if (g->machine_id != 0 && (b->rc = add_id(&sc->machines, &sc->nmachines, &b->capm, g->machine_id)) != CC_OK)
		return 1;
	if (g->site_id != 0 && (b->rc = add_id(&sc->sites, &sc->nsites, &b->caps, g->site_id)) != CC_OK)
		return 1;
	return 0;
}

int api_scope_build(struct api *a, const struct caller *s, const char *purpose, struct api_scope *sc)
{
	struct store *st = vault_store(a->vault);
	struct builder b;
	struct store_org self;
	const struct org_link *own;
	int rc;

	memset(sc, 0, sizeof(*sc));
	memset(&b, 0, sizeof(b));
	b.sc = sc;
	b.purpose = purpose;
	b.now_ms = clock_now_ms();
	if (s->role->granted_only) {
		rc = st->ops->grant_list(st, s->user.id, keep_grant, &b);
		return rc < 0 ? rc : b.rc;
	}
	/* A customer has no sub-organisations: its scope is itself. */
	if (st->ops->org_get(st, s->user.org_id, &self) == CC_OK && self.kind == ORG_CUSTOMER)
		return policy_allows(a->vault, self.id, purpose) ? add_id(&sc->customers, &sc->ncustomers, &b.capc, self.id)
		                                                 : CC_OK;
	/* The organisations once (their MACs checked by the store's wrapper),
	 * the tree walked in memory: a customer per row, not a lookup per level. */
	rc = st->ops->org_list(st, keep_org, &b);
	if (rc < 0) {
		free(b.orgs);
		return rc;
	}
	qsort(b.orgs, b.norgs, sizeof(*b.orgs), cmp_org);
	own = org_of(&b, s->user.org_id);
	sc->manufacturer = own != NULL && own->kind == ORG_MANUFACTURER;
	for (size_t i = 0; i < b.norgs && rc == CC_OK; i++) {
		const struct org_link *o = &b.orgs[i];
		int64_t id = o->id;
		int depth;

		if (o->kind != ORG_CUSTOMER)
			continue;
		for (depth = 0; id != 0 && id != s->user.org_id && depth <= CC_ORG_DEPTH_MAX; depth++) {
			const struct org_link *up = org_of(&b, id);

			id = up != NULL ? up->parent : 0;
		}
		if (id == s->user.org_id && policy_allows(a->vault, o->id, purpose))
			rc = add_id(&sc->customers, &sc->ncustomers, &b.capc, o->id);
	}
	free(b.orgs);
	return rc;
}

void api_scope_free(struct api_scope *sc)
{
	free(sc->customers);
	free(sc->machines);
	free(sc->sites);
	memset(sc, 0, sizeof(*sc));
}
