/* cmd_org.c - organisations, sites and groups: `org`, `site`, `group`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/table.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/inventory.h"

#define MOD "cli"

struct lister {
	struct cli_args *a;
	struct store *s;
	json_t *rows;
	struct cli_table *table;        /* people's form */
	struct store_group *groups;     /* group list: kept to name parents */
	size_t ngroups, groups_cap;
};

static const char *org_name_of(struct store *s, int64_t id, struct store_org *buf)
{
	if (id == 0 || s->ops->org_get(s, id, buf) != CC_OK)
		return NULL;
	return buf->name;
}

static int run_org_add(struct cli_args *a)
{
	struct store_org o;
	enum org_kind kind;
	int rc;

	if (org_kind_parse(cli_get(a, "kind"), &kind) != CC_OK || kind == ORG_MANUFACTURER) {
		log_error(MOD, "--kind must be distributor or customer");
		return CC_ERR_INVALID;
	}
	rc = inventory_org_add(a->vault, cli_get(a, "name"), kind, cli_get(a, "parent"), &o);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)o.id, "name",
		                                o.name, "kind", org_kind_name(o.kind), "parent",
		                                cli_get(a, "parent")));
	printf("added %s %s under %s\n", org_kind_name(o.kind), o.name, cli_get(a, "parent"));
	return CC_OK;
}

static int list_org(void *arg, const struct store_org *o)
{
	struct lister *l = arg;
	struct store_org parent;
	const char *pname = org_name_of(l->s, o->parent_id, &parent);
	char when[40];

	if (l->a->json)
		return json_array_append_new(l->rows, json_pack("{s:I, s:s, s:s, s:s?, s:s}", "id",
		                              (json_int_t)o->id, "name", o->name, "kind",
		                              org_kind_name(o->kind), "parent", pname, "created",
		                              cli_time(o->created_ms, when, sizeof(when)))) ? CC_ERR_NOMEM : 0;
	return cli_table_add(l->table, o->name, org_kind_name(o->kind), pname,
	                     cli_time_s(o->created_ms, when, sizeof(when)));
}

static int run_list(struct cli_args *a, const char *const *headers,
                    int (*walk)(struct lister *l))
{
	struct lister l = { a, vault_store(a->vault), json_array(), cli_table_new(headers), NULL, 0, 0 };
	int rc;

	if (l.rows == NULL || l.table == NULL) {
		json_decref(l.rows);
		cli_table_free(l.table);
		return CC_ERR_NOMEM;
	}
	rc = walk(&l);
	free(l.groups);
	return cli_list_done(a, rc, l.rows, l.table);
}

static int walk_orgs(struct lister *l) { return l->s->ops->org_list(l->s, list_org, l); }

static int run_org_list(struct cli_args *a)
{
	static const char *const headers[] = { "NAME", "KIND", "PARENT", "CREATED", NULL };

	return run_list(a, headers, walk_orgs);
}

static int run_site_add(struct cli_args *a)
{
	struct store_site site;
	int rc = inventory_site_add(a->vault, cli_get(a, "customer"), cli_get(a, "name"), &site);

	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:I, s:s, s:s}", "id", (json_int_t)site.id, "name",
		                                site.name, "customer", cli_get(a, "customer")));
	printf("added site %s of %s\n", site.name, cli_get(a, "customer"));
	return CC_OK;
}

/* Resolves an optional --customer filter to an id (0: all). */
static int customer_filter(struct cli_args *a, int64_t *id)
{
	struct store_org o;
	const char *name = cli_get(a, "customer");
	int rc;

	*id = 0;
	if (name == NULL)
		return CC_OK;
	rc = inventory_org_find(a->vault, name, &o);
	if (rc == CC_OK)
		*id = o.id;
	return rc;
}

static int list_site(void *arg, const struct store_site *x)
{
	struct lister *l = arg;
	struct store_org cust;
	const char *cname = org_name_of(l->s, x->customer_id, &cust);
	char when[40];

	if (l->a->json)
		return json_array_append_new(l->rows, json_pack("{s:I, s:s, s:s?, s:s}", "id", (json_int_t)x->id,
		                              "name", x->name, "customer", cname, "created",
		                              cli_time(x->created_ms, when, sizeof(when)))) ? CC_ERR_NOMEM : 0;
	return cli_table_add(l->table, x->name, cname, cli_time_s(x->created_ms, when, sizeof(when)));
}

static int walk_sites(struct lister *l)
{
	int64_t id;
	int rc = customer_filter(l->a, &id);

	return rc != CC_OK ? rc : l->s->ops->site_list(l->s, id, list_site, l);
}

static int run_site_list(struct cli_args *a)
{
	static const char *const headers[] = { "SITE", "CUSTOMER", "CREATED", NULL };

	return run_list(a, headers, walk_sites);
}

static int run_group_add(struct cli_args *a)
{
	struct store_group g;
	int rc = inventory_group_add(a->vault, cli_get(a, "customer"), cli_get(a, "name"),
	                             cli_get(a, "parent"), &g);

	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:I, s:s, s:s, s:s?}", "id", (json_int_t)g.id, "name",
		                                g.name, "customer", cli_get(a, "customer"), "parent",
		                                cli_get(a, "parent")));
	printf("added group %s of %s\n", g.name, cli_get(a, "customer"));
	return CC_OK;
}

/* Groups are kept first: a parent is named, and it may come after its child. */
static int keep_group(void *arg, const struct store_group *g)
{
	struct lister *l = arg;

	if (l->ngroups == l->groups_cap) {
		size_t cap = l->groups_cap ? 2 * l->groups_cap : 16;
		struct store_group *grown = realloc(l->groups, cap * sizeof(*grown));

		if (grown == NULL)
			return CC_ERR_NOMEM;
		l->groups = grown;
		l->groups_cap = cap;
	}
	l->groups[l->ngroups++] = *g;
	return 0;
}

static const char *group_name_of(const struct lister *l, int64_t id)
{
	size_t i;

	for (i = 0; id != 0 && i < l->ngroups; i++)
		if (l->groups[i].id == id)
			return l->groups[i].name;
	return NULL;
}

static int list_group(struct lister *l, const struct store_group *g)
{
	struct store_org cust;
	const char *cname = org_name_of(l->s, g->customer_id, &cust);
	const char *parent = group_name_of(l, g->parent_id);

	if (l->a->json)
		return json_array_append_new(l->rows, json_pack("{s:I, s:s, s:s?, s:s?, s:I}", "id",
		                              (json_int_t)g->id, "name", g->name, "customer", cname, "parent",
		                              parent, "parent_id", (json_int_t)g->parent_id)) ? CC_ERR_NOMEM : 0;
	return cli_table_add(l->table, g->name, cname, parent);
}

static int walk_groups(struct lister *l)
{
	int64_t id;
	size_t i;
	int rc = customer_filter(l->a, &id);

	if (rc == CC_OK)
		rc = l->s->ops->group_list(l->s, id, keep_group, l);
	for (i = 0; rc == CC_OK && i < l->ngroups; i++)
		rc = list_group(l, &l->groups[i]);
	return rc;
}

static int run_group_list(struct cli_args *a)
{
	static const char *const headers[] = { "GROUP", "CUSTOMER", "PARENT", NULL };

	return run_list(a, headers, walk_groups);
}

const struct cli_cmd cli_org_cmds[] = {
	{ "org", "add", "add a distributor or customer organisation", NULL, 1,
	  { { "name", "NAME", "the organisation's name (letters, digits, . _ -)", 1 },
	    { "kind", "KIND", "distributor or customer", 1 },
	    { "parent", "ORG", "the organisation it belongs to", 1 },
	    CLI_END_OPTS },
	  run_org_add },
	{ "org", "list", "list organisations", NULL, 1, { CLI_END_OPTS }, run_org_list },
	CLI_END_CMDS,
};

const struct cli_cmd cli_site_cmds[] = {
	{ "site", "add", "add a site (a place with machines) of a customer", NULL, 1,
	  { { "customer", "ORG", "the customer", 1 },
	    { "name", "NAME", "the site's name", 1 },
	    CLI_END_OPTS },
	  run_site_add },
	{ "site", "list", "list sites", NULL, 1,
	  { { "customer", "ORG", "only this customer's", 0 }, CLI_END_OPTS }, run_site_list },
	CLI_END_CMDS,
};

const struct cli_cmd cli_group_cmds[] = {
	{ "group", "add", "add a machine group (or sub-group) of a customer", NULL, 1,
	  { { "customer", "ORG", "the customer", 1 },
	    { "name", "NAME", "the group's name", 1 },
	    { "parent", "GROUP", "the group it belongs to", 0 },
	    CLI_END_OPTS },
	  run_group_add },
	{ "group", "list", "list groups", NULL, 1,
	  { { "customer", "ORG", "only this customer's", 0 }, CLI_END_OPTS }, run_group_list },
	CLI_END_CMDS,
};
