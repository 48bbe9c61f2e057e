/* retention_terms.c - see retention_terms.h. */
#include "fleet/retention_terms.h"

#include <stdlib.h>
#include <string.h>

#include "access/policy.h"
#include "common/clock.h"
#include "common/err.h"
#include "fleet/inventory.h"

static const char *const names[RETAIN_KINDS] = { "telemetry", "events", "reports", "rollups", "tickets" };

const char *retention_kind_name(enum retention_kind k)
{
	return (unsigned)k < RETAIN_KINDS ? names[k] : "?";
}

int retention_kind_parse(const char *name, enum retention_kind *out)
{
	for (int k = 0; name != NULL && k < RETAIN_KINDS; k++)
		if (strcmp(name, names[k]) == 0) {
			*out = (enum retention_kind)k;
			return CC_OK;
		}
	return CC_ERR_INVALID;
}

int64_t retention_effective(int64_t installation_days, int64_t agreed_days)
{
	if (agreed_days <= 0)
		return installation_days;
	if (installation_days <= 0)
		return agreed_days;
	return agreed_days < installation_days ? agreed_days : installation_days;
}

int retention_terms_set(struct vault *v, const char *customer, enum retention_kind k, int64_t days,
                        const char *set_by)
{
	struct store *s = vault_store(v);
	struct store_org org;

	if ((unsigned)k >= RETAIN_KINDS || days < 0 || days > RETENTION_DAYS_MAX)
		return CC_ERR_INVALID;
	if (customer == NULL || !inventory_name_valid(customer) || s->ops->org_find(s, customer, &org) != CC_OK ||
	    org.kind != ORG_CUSTOMER)
		return CC_ERR_NOTFOUND;
	return s->ops->retention_term_set(s, org.id, names[k], days, set_by, clock_now_ms());
}

struct loader {
	struct retention_agreement *list;
	size_t n, cap;
};

static int load_one(void *arg, int64_t org_id, const char *kind, int64_t days)
{
	struct loader *l = arg;
	enum retention_kind k;

	if (retention_kind_parse(kind, &k) != CC_OK)
		return 0; /* the table's CHECK keeps others out */
	if (l->n == 0 || l->list[l->n - 1].org_id != org_id) {
		if (l->n == l->cap) {
			size_t cap = l->cap ? l->cap * 2 : 16;
			struct retention_agreement *grown = realloc(l->list, cap * sizeof(*grown));

			if (grown == NULL)
				return CC_ERR_NOMEM;
			l->list = grown;
			l->cap = cap;
		}
		memset(&l->list[l->n], 0, sizeof(l->list[0]));
		l->list[l->n++].org_id = org_id;
	}
	l->list[l->n - 1].days[k] = days;
	return 0;
}

int retention_terms_load(struct vault *v, struct retention_agreement **out, size_t *n)
{
	struct store *s = vault_store(v);
	struct loader l = { NULL, 0, 0 };
	int rc = s->ops->retention_term_list(s, 0, load_one, &l);

	if (rc < 0) {
		free(l.list);
		return rc;
	}
	*out = l.list;
	*n = l.n;
	return CC_OK;
}

int retention_installation_days(struct vault *v, int64_t days[RETAIN_KINDS])
{
	json_t *facts = NULL, *row;
	size_t i;
	int rc = policy_facts_in_force(v, &facts);

	memset(days, 0, RETAIN_KINDS * sizeof(days[0]));
	if (rc != CC_OK)
		return rc;
	json_array_foreach(json_object_get(facts, "retention"), i, row) {
		enum retention_kind k;
		const char *record = json_string_value(json_object_get(row, "record"));

		/* The policy calls events' record "events", as here. */
		if (retention_kind_parse(record, &k) == CC_OK)
			days[k] = json_integer_value(json_object_get(row, "days"));
	}
	json_decref(facts);
	return CC_OK;
}

static json_t *by_kind(const int64_t days[RETAIN_KINDS], int only_set)
{
	json_t *o = json_object();

	for (int k = 0; o != NULL && k < RETAIN_KINDS; k++)
		if (!only_set || days[k] > 0)
			json_object_set_new(o, names[k], json_integer(days[k]));
	return o;
}

static int add_customer(struct vault *v, json_t *list, int64_t org_id, const int64_t agreed[RETAIN_KINDS],
                        const int64_t installation[RETAIN_KINDS])
{
	struct store *s = vault_store(v);
	struct store_org org;
	int64_t effective[RETAIN_KINDS];

	if (s->ops->org_get(s, org_id, &org) != CC_OK)
		return CC_OK; /* erased meanwhile */
	for (int k = 0; k < RETAIN_KINDS; k++)
		effective[k] = retention_effective(installation[k], agreed[k]);
	return json_array_append_new(list, json_pack("{s:s, s:o, s:o}", "customer", org.name, "agreed",
	                                             by_kind(agreed, 1), "effective", by_kind(effective, 0))) == 0
	               ? CC_OK
	               : CC_ERR_NOMEM;
}

int retention_terms_json(struct vault *v, const int64_t installation[RETAIN_KINDS], int64_t customer_id,
                         int (*in_scope)(void *ctx, int64_t org_id), void *ctx, json_t **out)
{
	struct retention_agreement *terms = NULL;
	size_t n = 0, i;
	int rc = retention_terms_load(v, &terms, &n), named = 0;
	json_t *list = json_array();

	for (i = 0; rc == CC_OK && list != NULL && i < n; i++) {
		if (customer_id != 0 && terms[i].org_id != customer_id)
			continue;
		if (!in_scope(ctx, terms[i].org_id))
			continue;
		named |= terms[i].org_id == customer_id;
		rc = add_customer(v, list, terms[i].org_id, terms[i].days, installation);
	}
	if (rc == CC_OK && list != NULL && customer_id != 0 && !named && in_scope(ctx, customer_id)) {
		static const int64_t none[RETAIN_KINDS];

		rc = add_customer(v, list, customer_id, none, installation);
	}
	free(terms);
	if (list == NULL)
		rc = CC_ERR_NOMEM;
	if (rc != CC_OK) {
		json_decref(list);
		return rc;
	}
	*out = json_pack("{s:o, s:o}", "installation", by_kind(installation, 0), "customers", list);
	return *out != NULL ? CC_OK : CC_ERR_NOMEM;
}
