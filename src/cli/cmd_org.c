/* cmd_org.c - organisations, sites and groups: `org`, `site`, `group`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/table.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/inventory.h"
#include "fleet/manage.h"
#include "records/records.h"

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

static int org_active(struct cli_args *a, int active)
{
	int rc = manage_org_set_active(a->vault, cli_get(a, "name"), active);

	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:s, s:b}", "name", cli_get(a, "name"), "active", active));
	printf("%s %s\n", active ? "activated" : "deactivated", cli_get(a, "name"));
	return CC_OK;
}

static int run_org_deactivate(struct cli_args *a) { return org_active(a, 0); }
static int run_org_activate(struct cli_args *a) { return org_active(a, 1); }

/* A site as JSON, its place included when it has one. */
static json_t *site_doc(const struct store_site *x, const char *customer)
{
	json_t *doc = json_pack("{s:I, s:s, s:s?}", "id", (json_int_t)x->id, "name", x->name, "customer", customer);

	if (doc == NULL)
		return NULL;
	if (x->address[0])
		json_object_set_new(doc, "address", json_string(x->address));
	if (x->has_position) {
		json_object_set_new(doc, "lat", json_real((double)x->lat_e2 / 100.0));
		json_object_set_new(doc, "lon", json_real((double)x->lon_e2 / 100.0));
	}
	if (x->timezone[0])
		json_object_set_new(doc, "timezone", json_string(x->timezone));
	if (x->hours[0])
		json_object_set_new(doc, "hours", json_string(x->hours));
	return doc;
}

static void place_options(struct cli_args *a, struct site_place *p)
{
	p->address = cli_get(a, "address");
	p->lat = cli_get(a, "lat");
	p->lon = cli_get(a, "lon");
	p->timezone = cli_get(a, "timezone");
	p->hours = cli_get(a, "hours");
}

static int run_site_add(struct cli_args *a)
{
	struct store_site site;
	struct site_place p;
	int rc;

	place_options(a, &p);
	rc = manage_site_add(a->vault, cli_get(a, "customer"), cli_get(a, "name"), &p, &site);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(site_doc(&site, cli_get(a, "customer")));
	printf("added site %s of %s\n", site.name, cli_get(a, "customer"));
	return CC_OK;
}

/* The site --name of --customer. */
static int find_site(struct cli_args *a, struct store_site *out)
{
	struct store *s = vault_store(a->vault);
	struct store_org o;
	int rc = inventory_org_find(a->vault, cli_get(a, "customer"), &o);

	if (rc == CC_OK && (rc = s->ops->site_find(s, o.id, cli_get(a, "name"), out)) == CC_ERR_NOTFOUND)
		log_error(MOD, "customer '%s' has no site named '%s'", cli_get(a, "customer"), cli_get(a, "name"));
	return rc;
}

static int run_site_update(struct cli_args *a)
{
	struct store_site site;
	struct site_place p;
	int rc = find_site(a, &site);

	if (rc != CC_OK)
		return rc;
	place_options(a, &p);
	if (p.address == NULL && p.lat == NULL && p.lon == NULL && p.timezone == NULL && p.hours == NULL) {
		log_error(MOD, "nothing to change: give --address, --lat and --lon, --timezone or --hours");
		return CC_ERR_INVALID;
	}
	rc = manage_site_update(a->vault, site.id, &p, &site);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(site_doc(&site, cli_get(a, "customer")));
	printf("updated site %s of %s\n", site.name, cli_get(a, "customer"));
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
		return json_array_append_new(l->rows, site_doc(x, cname)) ? CC_ERR_NOMEM : 0;
	return cli_table_add(l->table, x->name, cname, x->timezone[0] ? x->timezone : "-",
	                     x->hours[0] ? x->hours : "-", cli_time_s(x->created_ms, when, sizeof(when)));
}

static int walk_sites(struct lister *l)
{
	int64_t id;
	int rc = customer_filter(l->a, &id);

	return rc != CC_OK ? rc : l->s->ops->site_list(l->s, id, list_site, l);
}

static int run_site_list(struct cli_args *a)
{
	static const char *const headers[] = { "SITE", "CUSTOMER", "TIMEZONE", "HOURS", "CREATED", NULL };

	return run_list(a, headers, walk_sites);
}

static int run_group_add(struct cli_args *a)
{
	struct store_group g;
	int rc = manage_group_add(a->vault, cli_get(a, "customer"), cli_get(a, "name"), cli_get(a, "parent"),
	                          cli_get(a, "filter"), &g);

	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:I, s:s, s:s, s:s?, s:b}", "id", (json_int_t)g.id, "name",
		                                g.name, "customer", cli_get(a, "customer"), "parent",
		                                cli_get(a, "parent"), "dynamic", g.filter[0] != '\0'));
	printf("added %sgroup %s of %s\n", g.filter[0] ? "dynamic " : "", g.name, cli_get(a, "customer"));
	return CC_OK;
}

/* The group --name of --customer. */
static int find_group(struct cli_args *a, struct store_group *out)
{
	struct store *s = vault_store(a->vault);
	struct store_org o;
	int rc = inventory_org_find(a->vault, cli_get(a, "customer"), &o);

	if (rc == CC_OK && (rc = s->ops->group_find(s, o.id, cli_get(a, "name"), out)) == CC_ERR_NOTFOUND)
		log_error(MOD, "customer '%s' has no group named '%s'", cli_get(a, "customer"), cli_get(a, "name"));
	return rc;
}

static int group_member(struct cli_args *a, int add)
{
	struct store_group g;
	int rc = find_group(a, &g);

	if (rc == CC_OK)
		rc = manage_group_member(a->vault, g.id, cli_get(a, "serial"), add);
	if (rc != CC_OK)
		return rc;
	if (a->json)
		return cli_print_json(json_pack("{s:I, s:s, s:s, s:b}", "group", (json_int_t)g.id, "name", g.name,
		                                "serial", cli_get(a, "serial"), "member", add));
	printf("%s %s %s group %s\n", add ? "listed" : "took", cli_get(a, "serial"), add ? "in" : "out of", g.name);
	return CC_OK;
}

static int run_group_add_machine(struct cli_args *a) { return group_member(a, 1); }
static int run_group_remove_machine(struct cli_args *a) { return group_member(a, 0); }

struct member_lister {
	struct cli_args *a;
	const char *version; /* a dynamic group's software version filter, or NULL */
	json_t *rows;
};

static int list_member(void *arg, const struct store_machine_status *row)
{
	struct member_lister *l = arg;
	char *info = NULL;
	json_t *doc = NULL;
	const char *sw = NULL;
	char when[40];
	int rc = 0;

	if (row->has_state && records_open_info(l->a->vault, &row->m, &row->st, &info) == CC_OK &&
	    (doc = json_loads(info, 0, NULL)) != NULL)
		sw = json_string_value(json_object_get(doc, "sw"));
	if (l->version == NULL || (sw != NULL && strcmp(sw, l->version) == 0)) {
		if (l->a->json)
			rc = json_array_append_new(l->rows, json_pack("{s:s, s:s, s:s, s:b, s:s?, s:s?}", "serial",
			                           row->m.serial, "model", row->m.model, "customer", cli_get(l->a, "customer"),
			                           "online", row->has_state && row->st.online, "site",
			                           row->site[0] ? row->site : NULL, "software_version", sw))
			     ? CC_ERR_NOMEM : 0;
		else
			printf("%-24s %-16s %-8s %-16s %s\n", row->m.serial, row->m.model,
			       row->has_state && row->st.online ? "online" : "offline", row->site[0] ? row->site : "-",
			       row->has_state ? cli_time(row->st.last_seen_ms, when, sizeof(when)) : "never");
	}
	json_decref(doc);
	free(info);
	return rc;
}

static int run_group_show(struct cli_args *a)
{
	struct store *s = vault_store(a->vault);
	struct store_machine_filter f;
	struct fleet_query q;
	struct store_group g;
	struct member_lister l = { a, NULL, json_array() };
	int rc = l.rows == NULL ? CC_ERR_NOMEM : find_group(a, &g);

	memset(&f, 0, sizeof(f));
	memset(&q, 0, sizeof(q));
	if (rc == CC_OK) {
		f.customer_id = g.customer_id;
		if (g.filter[0] == '\0')
			f.group_id = g.id;
		else if ((rc = fleet_query_from_json(&q, g.filter)) != CC_OK)
			log_error(MOD, "group '%s' has a filter that does not read", g.name);
		fleet_query_apply(&q, &f);
		l.version = q.version[0] ? q.version : NULL;
	}
	if (rc == CC_OK && !a->json)
		printf("group %s of %s (id %lld)%s%s\n%-24s %-16s %-8s %-16s %s\n", g.name, cli_get(a, "customer"),
		       (long long)g.id, g.filter[0] ? ", dynamic: " : "", g.filter, "SERIAL", "MODEL", "STATUS",
		       "SITE", "LAST SEEN");
	if (rc == CC_OK && !q.contradicts)
		rc = s->ops->machine_status_list(s, &f, list_member, &l);
	if (rc == CC_OK && a->json) {
		json_t *doc = json_pack("{s:I, s:s, s:s, s:I, s:b, s:O}", "id", (json_int_t)g.id, "name", g.name,
		                        "customer", cli_get(a, "customer"), "parent_id", (json_int_t)g.parent_id,
		                        "dynamic", g.filter[0] != '\0', "machines", l.rows);

		if (doc != NULL && g.filter[0])
			json_object_set_new(doc, "filter", json_loads(g.filter, 0, NULL));
		json_decref(l.rows);
		return cli_print_json(doc);
	}
	json_decref(l.rows);
	return rc;
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
		return json_array_append_new(l->rows, json_pack("{s:I, s:s, s:s?, s:s?, s:I, s:b}", "id",
		                              (json_int_t)g->id, "name", g->name, "customer", cname, "parent",
		                              parent, "parent_id", (json_int_t)g->parent_id, "dynamic",
		                              g->filter[0] != '\0')) ? CC_ERR_NOMEM : 0;
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
	{ "org", "deactivate", "deactivate an organisation: its accounts and API tokens, and those below it, stop "
	  "working (machines keep sending)", "name", 1,
	  { { "name", "ORG", "the organisation", 1 }, CLI_END_OPTS }, run_org_deactivate },
	{ "org", "activate", "activate a deactivated organisation again", "name", 1,
	  { { "name", "ORG", "the organisation", 1 }, CLI_END_OPTS }, run_org_activate },
	CLI_END_CMDS,
};

const struct cli_cmd cli_site_cmds[] = {
	{ "site", "add", "add a site (a place with machines) of a customer", NULL, 1,
	  { { "customer", "ORG", "the customer", 1 },
	    { "name", "NAME", "the site's name", 1 },
	    { "address", "TEXT", "its postal address (no personal data, <= 200 characters)", 0 },
	    { "lat", "DEG", "latitude, at most 2 decimals (about 1 km)", 0 },
	    { "lon", "DEG", "longitude, at most 2 decimals", 0 },
	    { "timezone", "ZONE", "a tz database zone, e.g. Europe/Berlin", 0 },
	    { "hours", "HOURS", "business hours there, e.g. \"mon-fri 07:00-19:00; sat 08:00-12:00\"", 0 },
	    CLI_END_OPTS },
	  run_site_add },
	{ "site", "update", "change a site's address, position, time zone or business hours", NULL, 1,
	  { { "customer", "ORG", "the customer", 1 },
	    { "name", "NAME", "the site's name", 1 },
	    { "address", "TEXT", "its postal address (\"\" clears)", 0 },
	    { "lat", "DEG", "latitude, at most 2 decimals (with --lon; \"\" clears both)", 0 },
	    { "lon", "DEG", "longitude, at most 2 decimals", 0 },
	    { "timezone", "ZONE", "a tz database zone (\"\" clears)", 0 },
	    { "hours", "HOURS", "business hours (\"\" clears: open around the clock)", 0 },
	    CLI_END_OPTS },
	  run_site_update },
	{ "site", "list", "list sites", NULL, 1,
	  { { "customer", "ORG", "only this customer's", 0 }, CLI_END_OPTS }, run_site_list },
	CLI_END_CMDS,
};

const struct cli_cmd cli_group_cmds[] = {
	{ "group", "add", "add a machine group (or sub-group) of a customer", NULL, 1,
	  { { "customer", "ORG", "the customer", 1 },
	    { "name", "NAME", "the group's name", 1 },
	    { "parent", "GROUP", "the group it belongs to", 0 },
	    { "filter", "JSON", "a dynamic group: fleet-list filters, e.g. {\"model\":\"barista-pro\"}", 0 },
	    CLI_END_OPTS },
	  run_group_add },
	{ "group", "add-machine", "list a machine of the group's customer in a group", NULL, 1,
	  { { "customer", "ORG", "the customer", 1 },
	    { "name", "GROUP", "the group", 1 },
	    { "serial", "SERIAL", "the machine", 1 },
	    CLI_END_OPTS },
	  run_group_add_machine },
	{ "group", "remove-machine", "take a machine out of a group", NULL, 1,
	  { { "customer", "ORG", "the customer", 1 },
	    { "name", "GROUP", "the group", 1 },
	    { "serial", "SERIAL", "the machine", 1 },
	    CLI_END_OPTS },
	  run_group_remove_machine },
	{ "group", "show", "a group and its machines (its sub-groups' too; a dynamic group's computed)", NULL, 1,
	  { { "customer", "ORG", "the customer", 1 },
	    { "name", "GROUP", "the group", 1 },
	    CLI_END_OPTS },
	  run_group_show },
	{ "group", "list", "list groups", NULL, 1,
	  { { "customer", "ORG", "only this customer's", 0 }, CLI_END_OPTS }, run_group_list },
	CLI_END_CMDS,
};
