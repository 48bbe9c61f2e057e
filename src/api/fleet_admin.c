/* fleet_admin.c - the fleet managed through the API: sites, groups and their
 * machines, machine moves and decommissioning, deactivation of
 * organisations and accounts (fleet/manage.h does the work, the CLI too).
 *
 * Identifiers: a path takes what the listing of the resource names `id`.
 * Organisations, accounts and machines are named (name, login, serial:
 * unique and stable); sites and groups are named only within their
 * customer, so theirs is the numeric id (never reused). */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/audit.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/hours.h"
#include "fleet/inventory.h"
#include "fleet/manage.h"

/* The audit record of an admin change: the customer involved and the
 * machine, if any. On failure it has replied 503. */
static int audit_change(struct http_req *r, const struct caller *s, const char *action, const char *serial,
                        int64_t customer_id, const char *outcome)
{
	struct api *a = http_app(r);
	struct audit_event e;

	memset(&e, 0, sizeof(e));
	e.actor = s->actor;
	e.source = http_source(r);
	e.action = action;
	e.machines = serial != NULL ? serial : "";
	e.data_class = "admin";
	e.purpose = http_route(r)->purpose;
	e.outcome = outcome;
	e.customer_id = customer_id;
	if (audit_append(a->vault, &e) != CC_OK) {
		log_error(MOD, "the change of %s could not be recorded", s->actor);
		http_reply_error(r, 503, "audit_unavailable", "the change was made but could not be recorded");
		return CC_ERR_IO;
	}
	return CC_OK;
}

static void reply_failure(struct http_req *r, int rc, const char *what)
{
	switch (rc) {
	case CC_ERR_NOTFOUND: http_reply_error(r, 404, "not_found", what); break;
	case CC_ERR_EXISTS: http_reply_error(r, 409, "conflict", what); break;
	case CC_ERR_STATE: http_reply_error(r, 409, "conflict", what); break;
	case CC_ERR_INVALID: http_reply_error(r, 400, "invalid", what); break;
	default: http_reply_error(r, 500, "internal", "the change could not be made");
	}
}

/* ---- sites ---- */

static json_t *site_json(struct store *st, const struct store_site *x)
{
	struct store_org cust;
	json_t *doc;

	if (st->ops->org_get(st, x->customer_id, &cust) != CC_OK)
		snprintf(cust.name, sizeof(cust.name), "?");
	doc = json_pack("{s:I, s:s, s:s}", "id", (json_int_t)x->id, "name", x->name, "customer", cust.name);
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

struct admin_lister {
	struct store *st;
	const struct caller *s;
	int64_t customer_id; /* 0: every customer in scope */
	json_t *list;
};

static int add_site(void *arg, const struct store_site *x)
{
	struct admin_lister *l = arg;

	if (!inventory_org_contains(l->st, l->s->user.org_id, x->customer_id))
		return 0;
	return json_array_append_new(l->list, site_json(l->st, x)) ? CC_ERR_NOMEM : 0;
}

/* ?customer= in scope (404 otherwise), or every customer in scope. */
static int list_scope(struct http_req *r, const struct caller *s, struct admin_lister *l)
{
	const char *customer = http_query(r, "customer");
	struct store_org cust;

	l->st = vault_store(((struct api *)http_app(r))->vault);
	l->s = s;
	l->customer_id = 0;
	if (customer != NULL) {
		if (api_find_customer(r, s, customer, &cust) != CC_OK)
			return CC_ERR_NOTFOUND;
		l->customer_id = cust.id;
	}
	l->list = json_array();
	if (l->list == NULL) {
		http_reply_error(r, 500, "internal", "out of memory");
		return CC_ERR_NOMEM;
	}
	return CC_OK;
}

void api_sites_list(struct http_req *r)
{
	struct caller *s = api_caller(r);
	struct admin_lister l;

	if (s == NULL || list_scope(r, s, &l) != CC_OK)
		return;
	if (l.st->ops->site_list(l.st, l.customer_id, add_site, &l) != CC_OK) {
		json_decref(l.list);
		http_reply_error(r, 500, "internal", "the sites could not be listed");
		return;
	}
	api_reply_list(r, "sites", l.list, "id");
}

/* lat and lon as sent (numbers or strings) into text for manage.h. */
static const char *degrees_text(json_t *v, char *buf, size_t cap)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	if (json_is_real(v)) {
		/* Enough digits to show a third decimal, which is refused. */
		snprintf(buf, cap, "%.10g", json_real_value(v));
		return strchr(buf, 'e') == NULL ? buf : "x";
	}
	return v == NULL || json_is_null(v) ? NULL : "x";
}

static void place_of(struct http_req *r, struct site_place *p, char lat[32], char lon[32])
{
	json_t *body = http_body(r);

	p->address = api_field(r, "address");
	p->lat = degrees_text(json_object_get(body, "lat"), lat, 32);
	p->lon = degrees_text(json_object_get(body, "lon"), lon, 32);
	p->timezone = api_field(r, "timezone");
	p->hours = api_field(r, "hours");
}

/* Business hours refused with what is wrong in them (hours.h never repeats
 * the input): 0 when fine or not given. */
static int hours_refused(struct http_req *r, const struct site_place *p)
{
	struct week_hours h;
	char why[160];

	if (p->hours == NULL || hours_parse(p->hours, &h, why, sizeof(why)) == CC_OK)
		return 0;
	http_reply_error(r, 400, "invalid", why);
	return 1;
}

void api_sites_add(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct site_place p;
	struct store_site site;
	struct store_org cust;
	char lat[32], lon[32];
	const char *name;
	int rc;

	if (s == NULL)
		return;
	name = api_field(r, "name");
	if (api_find_customer(r, s, api_field(r, "customer"), &cust) != CC_OK)
		return;
	place_of(r, &p, lat, lon);
	if (hours_refused(r, &p))
		return;
	if (name == NULL) {
		http_reply_error(r, 400, "invalid", "send customer and name (address, lat, lon, timezone optional)");
		return;
	}
	rc = manage_site_add(a->vault, cust.name, name, &p, &site);
	if (rc != CC_OK) {
		reply_failure(r, rc, rc == CC_ERR_EXISTS ? "the customer has a site of that name"
		                                       : "name: a name; address: no personal data, <= 200 characters; "
		                                         "lat, lon: at most 2 decimals; timezone: e.g. Europe/Berlin");
		return;
	}
	if (audit_change(r, s, "site.add", NULL, cust.id, "ok") != CC_OK)
		return;
	http_reply_json(r, 201, site_json(vault_store(a->vault), &site));
}

void api_sites_update(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct caller *s = api_caller(r);
	struct site_place p;
	struct store_site site;
	char lat[32], lon[32];
	int64_t id = 0;
	int rc;

	if (s == NULL)
		return;
	if (api_parse_ms(http_param(r, "id"), 0, &id) != CC_OK || id <= 0 || st->ops->site_get(st, id, &site) != CC_OK ||
	    !inventory_org_contains(st, s->user.org_id, site.customer_id)) {
		http_reply_error(r, 404, "not_found", "no such site");
		return;
	}
	place_of(r, &p, lat, lon);
	if (hours_refused(r, &p))
		return;
	rc = manage_site_update(a->vault, id, &p, &site);
	if (rc != CC_OK) {
		reply_failure(r, rc, "address: no personal data, <= 200 characters; lat, lon: at most 2 decimals, "
		                     "together (\"\" clears); timezone: e.g. Europe/Berlin");
		return;
	}
	if (audit_change(r, s, "site.update", NULL, site.customer_id, "ok") != CC_OK)
		return;
	http_reply_json(r, 200, site_json(st, &site));
}

/* ---- groups ---- */

static json_t *group_json(struct store *st, const struct store_group *g)
{
	struct store_org cust;
	json_t *doc, *filter;

	if (st->ops->org_get(st, g->customer_id, &cust) != CC_OK)
		snprintf(cust.name, sizeof(cust.name), "?");
	doc = json_pack("{s:I, s:s, s:s, s:b}", "id", (json_int_t)g->id, "name", g->name, "customer", cust.name,
	                "dynamic", g->filter[0] != '\0');
	if (doc == NULL)
		return NULL;
	if (g->parent_id != 0)
		json_object_set_new(doc, "parent", json_integer(g->parent_id));
	if (g->filter[0] != '\0' && (filter = json_loads(g->filter, 0, NULL)) != NULL)
		json_object_set_new(doc, "filter", filter);
	return doc;
}

static int add_group(void *arg, const struct store_group *g)
{
	struct admin_lister *l = arg;

	if (!inventory_org_contains(l->st, l->s->user.org_id, g->customer_id))
		return 0;
	return json_array_append_new(l->list, group_json(l->st, g)) ? CC_ERR_NOMEM : 0;
}

void api_groups_list(struct http_req *r)
{
	struct caller *s = api_caller(r);
	struct admin_lister l;

	if (s == NULL || list_scope(r, s, &l) != CC_OK)
		return;
	if (l.st->ops->group_list(l.st, l.customer_id, add_group, &l) != CC_OK) {
		json_decref(l.list);
		http_reply_error(r, 500, "internal", "the groups could not be listed");
		return;
	}
	api_reply_list(r, "groups", l.list, "id");
}

void api_groups_add(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct caller *s = api_caller(r);
	struct store_group g, parent;
	struct store_org cust;
	json_t *body = http_body(r), *filter = json_object_get(body, "filter"), *parent_v = json_object_get(body, "parent");
	char parent_id[24];
	char *filter_text = NULL;
	const char *name = api_field(r, "name");
	int rc;

	if (s == NULL || api_find_customer(r, s, api_field(r, "customer"), &cust) != CC_OK)
		return;
	/* parent: the id a listing gives (a number, or its text). */
	if (parent_v != NULL && !json_is_null(parent_v)) {
		if (json_is_integer(parent_v))
			snprintf(parent_id, sizeof(parent_id), "%lld", (long long)json_integer_value(parent_v));
		else
			snprintf(parent_id, sizeof(parent_id), "%s", json_is_string(parent_v) ? json_string_value(parent_v) : "x");
		if (api_find_group(r, s, parent_id, &parent) != CC_OK)
			return;
		if (parent.customer_id != cust.id) {
			http_reply_error(r, 400, "invalid", "parent: a group of the same customer");
			return;
		}
	}
	if (name == NULL || (filter != NULL && !json_is_null(filter) && !json_is_object(filter))) {
		http_reply_error(r, 400, "invalid", "send customer and name (parent: a group's id; filter: an object of "
		                 "fleet-list filters for a dynamic group)");
		return;
	}
	if (json_is_object(filter) && (filter_text = json_dumps(filter, JSON_COMPACT)) == NULL) {
		http_reply_error(r, 500, "internal", "out of memory");
		return;
	}
	rc = manage_group_add(a->vault, cust.name, name, parent_v != NULL && !json_is_null(parent_v) ? parent.name : NULL,
	                      filter_text, &g);
	free(filter_text);
	if (rc != CC_OK) {
		reply_failure(r, rc, rc == CC_ERR_EXISTS ? "the customer has a group of that name"
		                                       : "name: a name; filter: status, model, version, site, error, "
		                                         "last_seen_after, last_seen_before with valid values");
		return;
	}
	if (audit_change(r, s, "group.add", NULL, cust.id, "ok") != CC_OK)
		return;
	http_reply_json(r, 201, group_json(st, &g));
}

void api_group_machines(struct http_req *r)
{
	struct caller *s = api_caller(r);
	struct store_group g;

	if (s == NULL || api_find_group(r, s, http_param(r, "id"), &g) != CC_OK)
		return;
	api_fleet_list(r, &g, "group.machines");
}

static void group_member(struct http_req *r, int add)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store_group g;
	struct store_machine m;
	const char *serial;
	int rc;

	if (s == NULL || api_find_group(r, s, http_param(r, "id"), &g) != CC_OK)
		return;
	if (add) {
		struct store *st = vault_store(a->vault);

		serial = api_field(r, "serial");
		/* A machine out of scope is one that does not exist. */
		if (serial == NULL || !inventory_serial_valid(serial) || st->ops->machine_find(st, serial, &m) != CC_OK ||
		    !api_machine_visible(a, s, &m, http_route(r)->purpose)) {
			http_reply_error(r, 404, "not_found", "no such machine");
			return;
		}
	} else if (api_find_machine(r, s, &m) != CC_OK) {
		return;
	}
	serial = m.serial;
	rc = manage_group_member(a->vault, g.id, serial, add);
	if (rc != CC_OK) {
		reply_failure(r, rc, rc == CC_ERR_STATE ? "a dynamic group's filter decides its machines"
		                     : rc == CC_ERR_EXISTS ? "the machine is in the group already"
		                     : add ? "a group lists machines of its own customer only"
		                           : "the machine is not in the group");
		return;
	}
	if (audit_change(r, s, add ? "group.add-machine" : "group.remove-machine", serial, m.customer_id, "ok") !=
	    CC_OK)
		return;
	http_reply_json(r, add ? 201 : 200, json_pack("{s:I, s:s, s:b}", "group", (json_int_t)g.id, "serial", serial,
	                                              "member", add));
}

void api_group_machines_add(struct http_req *r) { group_member(r, 1); }
void api_group_machines_remove(struct http_req *r) { group_member(r, 0); }

/* ---- machines ---- */

void api_machine_move(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct caller *s = api_caller(r);
	struct store_machine m, after;
	struct store_org to;
	struct store_site site;
	json_t *body = http_body(r);
	const char *customer = api_field(r, "customer"), *site_name = api_field(r, "site");
	int rc;

	if (s == NULL || api_find_machine(r, s, &m) != CC_OK)
		return;
	if ((customer == NULL && site_name == NULL && !json_is_null(json_object_get(body, "site"))) ||
	    (json_object_get(body, "customer") != NULL && customer == NULL) ||
	    (site_name != NULL && !inventory_name_valid(site_name))) {
		http_reply_error(r, 400, "invalid", "send site (a site's name, or null for none) and, to move it to "
		                 "another customer, customer");
		return;
	}
	if (customer != NULL && api_find_customer(r, s, customer, &to) != CC_OK)
		return;
	rc = manage_machine_move(a->vault, m.serial, customer, site_name, &after);
	if (rc != CC_OK) {
		reply_failure(r, rc, rc == CC_ERR_STATE ? "the machine is decommissioned" : "no such site");
		return;
	}
	/* Both customers' logs show it: the one it left and the one it joined. */
	if (after.customer_id != m.customer_id &&
	    audit_change(r, s, "machine.move", m.serial, m.customer_id, "ok") != CC_OK)
		return;
	if (audit_change(r, s, "machine.move", m.serial, after.customer_id, "ok") != CC_OK)
		return;
	if (st->ops->org_get(st, after.customer_id, &to) != CC_OK)
		snprintf(to.name, sizeof(to.name), "?");
	if (after.site_id == 0 || st->ops->site_get(st, after.site_id, &site) != CC_OK)
		site.name[0] = '\0';
	http_reply_json(r, 200, json_pack("{s:s, s:s, s:s?, s:b}", "serial", after.serial, "customer", to.name, "site",
	                                  site.name[0] ? site.name : NULL, "customer_changed",
	                                  after.customer_id != m.customer_id));
}

void api_machine_decommission(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store_machine m;
	const char *confirm = api_field(r, "confirm");
	int rc;

	if (s == NULL || api_find_machine(r, s, &m) != CC_OK)
		return;
	if (confirm == NULL || strcmp(confirm, m.serial) != 0) {
		http_reply_error(r, 400, "invalid", "confirm: the machine's serial again (this cannot be undone)");
		return;
	}
	rc = manage_machine_decommission(a->vault, m.serial);
	if (rc != CC_OK) {
		reply_failure(r, rc, "the machine is decommissioned already");
		return;
	}
	log_info(MOD, "machine %s decommissioned by %s", m.serial, s->actor);
	if (audit_change(r, s, "machine.decommission", m.serial, m.customer_id, "ok") != CC_OK)
		return;
	http_reply_json(r, 200, json_pack("{s:s, s:b, s:b}", "serial", m.serial, "decommissioned", 1, "revoked", 1));
}

/* ---- organisations and accounts ---- */

static void org_active(struct http_req *r, int active)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct caller *s = api_caller(r);
	const char *name = http_param(r, "id");
	struct store_org o;
	int rc;

	if (s == NULL)
		return;
	if (name == NULL || !inventory_name_valid(name) || st->ops->org_find(st, name, &o) != CC_OK ||
	    !inventory_org_contains(st, s->user.org_id, o.id)) {
		http_reply_error(r, 404, "not_found", "no such organisation");
		return;
	}
	if (o.id == s->user.org_id) {
		if (audit_change(r, s, active ? "org.activate" : "org.deactivate", NULL, 0, "denied") == CC_OK)
			http_reply_error(r, 409, "conflict", "not your own organisation: an admin above it decides");
		return;
	}
	rc = manage_org_set_active(a->vault, o.name, active);
	if (rc != CC_OK) {
		reply_failure(r, rc, "the organisation could not be changed");
		return;
	}
	log_info(MOD, "organisation %s %s by %s", o.name, active ? "activated" : "deactivated", s->actor);
	if (audit_change(r, s, active ? "org.activate" : "org.deactivate", NULL,
	                 o.kind == ORG_CUSTOMER ? o.id : 0, "ok") != CC_OK)
		return;
	http_reply_json(r, 200, json_pack("{s:s, s:s, s:b}", "name", o.name, "kind", org_kind_name(o.kind), "active",
	                                  active));
}

void api_org_deactivate(struct http_req *r) { org_active(r, 0); }
void api_org_activate(struct http_req *r) { org_active(r, 1); }

static void user_active(struct http_req *r, int active)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct caller *s = api_caller(r);
	const char *login = http_param(r, "login");
	struct store_user *u;
	int rc;

	if (s == NULL)
		return;
	u = calloc(1, sizeof(*u));
	if (u == NULL) {
		http_reply_error(r, 500, "internal", "out of memory");
		return;
	}
	if (login == NULL || !inventory_name_valid(login) || st->ops->user_find(st, login, u) != CC_OK ||
	    !inventory_org_contains(st, s->user.org_id, u->org_id)) {
		free(u);
		http_reply_error(r, 404, "not_found", "no such account");
		return;
	}
	if (s->cred.kind == CREDENTIAL_SESSION && u->id == s->user.id) {
		free(u);
		if (audit_change(r, s, active ? "user.activate" : "user.deactivate", NULL, 0, "denied") == CC_OK)
			http_reply_error(r, 409, "conflict", "not your own account: another admin decides");
		return;
	}
	free(u);
	rc = manage_user_set_active(a->vault, login, active);
	if (rc != CC_OK) {
		reply_failure(r, rc, "the account could not be changed");
		return;
	}
	log_info(MOD, "account %s %s by %s", login, active ? "activated" : "deactivated", s->actor);
	if (audit_change(r, s, active ? "user.activate" : "user.deactivate", NULL, 0, "ok") != CC_OK)
		return;
	http_reply_json(r, 200, json_pack("{s:s, s:b}", "login", login, "active", active));
}

void api_user_deactivate(struct http_req *r) { user_active(r, 0); }
void api_user_activate(struct http_req *r) { user_active(r, 1); }
