/* manage.c - the fleet as an operator manages it (manage.h). */
#include "fleet/manage.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/zone.h"
#include "fleet/hours.h"
#include "fleet/inventory.h"
#include "ingest/privacy.h"
#include "records/records.h"

#define MOD "fleet"

/* ---- places ---- */

/* Decimal degrees with at most 2 decimals, within bound, as hundredths. */
static int parse_degrees(const char *text, int bound, int64_t *out)
{
	const char *p = text;
	int64_t whole = 0, frac = 0;
	int neg = 0, digits = 0, decimals = 0;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	while (isdigit((unsigned char)*p) && digits < 4) {
		whole = whole * 10 + (*p++ - '0');
		digits++;
	}
	if (digits == 0)
		return CC_ERR_INVALID;
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p)) {
			if (++decimals > 2)
				return CC_ERR_INVALID;
			frac = frac * 10 + (*p++ - '0');
		}
		if (decimals == 0)
			return CC_ERR_INVALID;
		if (decimals == 1)
			frac *= 10;
	}
	if (*p != '\0')
		return CC_ERR_INVALID;
	*out = whole * 100 + frac;
	if (*out > (int64_t)bound * 100)
		return CC_ERR_INVALID;
	if (neg)
		*out = -*out;
	return CC_OK;
}

static int address_valid(const char *a)
{
	size_t n = strlen(a), i;

	if (n > CC_SITE_ADDRESS_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)a[i] < 0x20 || a[i] == 0x7f)
			return 0;
	return privacy_scan_text(a, n) == PRIVACY_NONE;
}

/* Applies the given fields of p to site. */
static int place_apply(const struct site_place *p, struct store_site *site)
{
	int64_t lat = 0, lon = 0;

	if (p->address != NULL) {
		if (!address_valid(p->address)) {
			log_error(MOD, "address: up to %d characters, no control characters, no personal or "
			               "financial data", CC_SITE_ADDRESS_MAX);
			return CC_ERR_INVALID;
		}
		snprintf(site->address, sizeof(site->address), "%s", p->address);
	}
	if ((p->lat == NULL) != (p->lon == NULL)) {
		log_error(MOD, "lat and lon go together");
		return CC_ERR_INVALID;
	}
	if (p->lat != NULL && p->lat[0] == '\0' && p->lon[0] == '\0') {
		site->has_position = 0;
		site->lat_e2 = site->lon_e2 = 0;
	} else if (p->lat != NULL) {
		if (parse_degrees(p->lat, 90, &lat) != CC_OK || parse_degrees(p->lon, 180, &lon) != CC_OK) {
			log_error(MOD, "lat and lon: decimal degrees (-90..90, -180..180) with at most 2 decimals: "
			               "a coarse position, not a door");
			return CC_ERR_INVALID;
		}
		site->has_position = 1;
		site->lat_e2 = lat;
		site->lon_e2 = lon;
	}
	if (p->timezone != NULL) {
		if (p->timezone[0] != '\0' && !zone_valid(p->timezone)) {
			log_error(MOD, "timezone: a zone of the tz database, e.g. Europe/Berlin");
			return CC_ERR_INVALID;
		}
		snprintf(site->timezone, sizeof(site->timezone), "%s", p->timezone);
	}
	if (p->hours != NULL) {
		struct week_hours h;
		char why[160];

		if (hours_parse(p->hours, &h, why, sizeof(why)) != CC_OK) {
			log_error(MOD, "%s", why);
			return CC_ERR_INVALID;
		}
		hours_format(&h, site->hours, sizeof(site->hours));
	}
	return CC_OK;
}

/* Runs the work of one call in a transaction of its own. */
static int finish(struct store *s, int rc)
{
	if (rc == CC_OK)
		return s->ops->commit(s);
	s->ops->rollback(s);
	return rc;
}

int manage_site_add(struct vault *v, const char *customer, const char *name, const struct site_place *p,
                    struct store_site *out)
{
	struct store *s = vault_store(v);
	struct store_site site;
	int rc;

	memset(&site, 0, sizeof(site));
	rc = place_apply(p, &site); /* checked before anything is written */
	if (rc != CC_OK)
		return rc;
	rc = s->ops->begin(s);
	if (rc != CC_OK)
		return rc;
	rc = inventory_site_add(v, customer, name, &site);
	if (rc == CC_OK)
		rc = place_apply(p, &site);
	if (rc == CC_OK)
		rc = s->ops->site_update(s, &site);
	rc = finish(s, rc);
	if (rc == CC_OK && out != NULL)
		*out = site;
	return rc;
}

int manage_site_update(struct vault *v, int64_t site_id, const struct site_place *p, struct store_site *out)
{
	struct store *s = vault_store(v);
	struct store_site site;
	int rc = s->ops->begin(s);

	if (rc != CC_OK)
		return rc;
	rc = s->ops->site_get(s, site_id, &site);
	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no site %lld", (long long)site_id);
	if (rc == CC_OK)
		rc = place_apply(p, &site);
	if (rc == CC_OK)
		rc = s->ops->site_update(s, &site);
	rc = finish(s, rc);
	if (rc == CC_OK && out != NULL)
		*out = site;
	return rc;
}

/* ---- the fleet-list filter ---- */

static const char *const query_fields[] = { "status", "model", "version", "site", "error", "last_seen_after",
	                                    "last_seen_before", NULL };

int fleet_query_field(const char *key)
{
	size_t i;

	for (i = 0; query_fields[i] != NULL; i++)
		if (strcmp(query_fields[i], key) == 0)
			return 1;
	return 0;
}

static int version_valid(const char *v)
{
	size_t n = strlen(v), i;

	if (n == 0 || n > 32)
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && strchr("._+-", v[i]) == NULL)
			return 0;
	return 1;
}

static int parse_ms(const char *text, int64_t *out)
{
	char *end;
	long long x;

	if (!isdigit((unsigned char)text[0]))
		return CC_ERR_INVALID;
	x = strtoll(text, &end, 10);
	if (*end != '\0' || x <= 0 || x > 4102444800000LL)
		return CC_ERR_INVALID;
	*out = x;
	return CC_OK;
}

/* Sets a text field; a different value there already contradicts. */
static void set_text(struct fleet_query *q, char *field, size_t cap, const char *value)
{
	if (field[0] != '\0' && strcmp(field, value) != 0)
		q->contradicts = 1;
	snprintf(field, cap, "%s", value);
}

const char *fleet_query_help(const char *key)
{
	static const char *const help[][2] = {
		{ "status", "status: online, offline, revoked, decommissioned, active (in service: the default) or all" },
		{ "model", "model: a model's name" },
		{ "version", "version: a software version (1-32 of A-Z a-z 0-9 . _ + -)" },
		{ "site", "site: a site's name" },
		{ "error", "error: connection (offline after an unclean end), refused (messages refused), any or none" },
		{ "last_seen_after", "last_seen_after: epoch milliseconds" },
		{ "last_seen_before", "last_seen_before: epoch milliseconds (never seen counts as before)" },
	};
	size_t i;

	for (i = 0; i < sizeof(help) / sizeof(help[0]); i++)
		if (strcmp(help[i][0], key) == 0)
			return help[i][1];
	return "an unknown filter field";
}

int fleet_query_set(struct fleet_query *q, const char *key, const char *value)
{
	static const char *const statuses[] = { [STORE_STATUS_ANY] = "active", [STORE_STATUS_ONLINE] = "online",
		[STORE_STATUS_OFFLINE] = "offline", [STORE_STATUS_REVOKED] = "revoked",
		[STORE_STATUS_DECOMMISSIONED] = "decommissioned", [STORE_STATUS_ALL] = "all" };
	static const char *const errors[] = { [STORE_ERROR_ANY] = "", [STORE_ERROR_CONNECTION] = "connection",
		[STORE_ERROR_REFUSED] = "refused", [STORE_ERROR_EITHER] = "any", [STORE_ERROR_NONE] = "none" };
	size_t i;
	int64_t ms;

	if (strcmp(key, "status") == 0) {
		for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
			if (strcmp(statuses[i], value) == 0) {
				if (q->has_status && q->status != (enum store_machine_status_filter)i)
					q->contradicts = 1;
				q->status = (enum store_machine_status_filter)i;
				q->has_status = 1;
				return CC_OK;
			}
		return CC_ERR_INVALID;
	}
	if (strcmp(key, "error") == 0) {
		for (i = 1; i < sizeof(errors) / sizeof(errors[0]); i++)
			if (strcmp(errors[i], value) == 0) {
				if (q->error != STORE_ERROR_ANY && q->error != (enum store_error_filter)i)
					q->contradicts = 1;
				q->error = (enum store_error_filter)i;
				return CC_OK;
			}
		return CC_ERR_INVALID;
	}
	if (strcmp(key, "model") == 0 || strcmp(key, "site") == 0) {
		if (!inventory_name_valid(value))
			return CC_ERR_INVALID;
		if (key[0] == 'm')
			set_text(q, q->model, sizeof(q->model), value);
		else
			set_text(q, q->site, sizeof(q->site), value);
		return CC_OK;
	}
	if (strcmp(key, "version") == 0) {
		if (!version_valid(value))
			return CC_ERR_INVALID;
		set_text(q, q->version, sizeof(q->version), value);
		return CC_OK;
	}
	if (strcmp(key, "last_seen_after") == 0 || strcmp(key, "last_seen_before") == 0) {
		if (parse_ms(value, &ms) != CC_OK)
			return CC_ERR_INVALID;
		if (strcmp(key, "last_seen_after") == 0)
			q->seen_after_ms = q->seen_after_ms > ms ? q->seen_after_ms : ms;
		else
			q->seen_before_ms = q->seen_before_ms != 0 && q->seen_before_ms < ms ? q->seen_before_ms : ms;
		return CC_OK;
	}
	return CC_ERR_INVALID;
}

int fleet_query_from_json(struct fleet_query *q, const char *filter)
{
	json_t *doc = json_loads(filter, 0, NULL), *value;
	const char *key;
	char num[24];
	int rc = json_is_object(doc) ? CC_OK : CC_ERR_INVALID;

	json_object_foreach(doc, key, value) {
		if (rc != CC_OK)
			break;
		if (json_is_integer(value) && strncmp(key, "last_seen_", 10) == 0) {
			snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(value));
			rc = fleet_query_set(q, key, num);
		} else if (json_is_string(value)) {
			rc = fleet_query_set(q, key, json_string_value(value));
		} else {
			rc = CC_ERR_INVALID;
		}
	}
	json_decref(doc);
	return rc;
}

void fleet_query_apply(const struct fleet_query *q, struct store_machine_filter *f)
{
	if (q->has_status)
		f->status = q->status;
	f->model = q->model[0] ? q->model : NULL;
	f->site = q->site[0] ? q->site : NULL;
	f->error = q->error;
	f->seen_after_ms = q->seen_after_ms;
	f->seen_before_ms = q->seen_before_ms;
}

int fleet_sort_parse(const char *text, struct store_machine_filter *f)
{
	static const char *const names[] = { [STORE_SORT_SERIAL] = "serial", [STORE_SORT_MODEL] = "model",
		[STORE_SORT_CUSTOMER] = "customer", [STORE_SORT_SITE] = "site", [STORE_SORT_LAST_SEEN] = "last_seen",
		[STORE_SORT_ONLINE] = "online", [STORE_SORT_CREATED] = "created" };
	const char *p = text;

	while (*p != '\0') {
		size_t n, i;
		int desc = *p == '-';

		p += desc;
		n = strcspn(p, ",");
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i]) == n && strncmp(names[i], p, n) == 0)
				break;
		if (i == sizeof(names) / sizeof(names[0]) || f->nsort == STORE_SORT_MAX)
			return CC_ERR_INVALID;
		f->sort[f->nsort] = (enum store_sort_field)i;
		f->sort_desc[f->nsort++] = desc;
		p += n;
		if (*p == ',' && *++p == '\0')
			return CC_ERR_INVALID;
	}
	return f->nsort > 0 ? CC_OK : CC_ERR_INVALID;
}

/* The canonical text of a dynamic group's filter: an object of filter
 * fields, each checked, keys sorted. */
static int canonical_filter(const char *text, char *out, size_t cap)
{
	struct fleet_query q;
	json_t *doc = json_loads(text, 0, NULL), *value;
	const char *key;
	char *dumped = NULL;
	int rc = json_is_object(doc) && json_object_size(doc) > 0 ? CC_OK : CC_ERR_INVALID;

	memset(&q, 0, sizeof(q));
	json_object_foreach(doc, key, value)
		if (rc == CC_OK && !fleet_query_field(key))
			rc = CC_ERR_INVALID;
	if (rc == CC_OK)
		rc = fleet_query_from_json(&q, text);
	if (rc == CC_OK && (dumped = json_dumps(doc, JSON_SORT_KEYS | JSON_COMPACT)) == NULL)
		rc = CC_ERR_NOMEM;
	if (rc == CC_OK && strlen(dumped) >= cap)
		rc = CC_ERR_INVALID;
	if (rc == CC_OK)
		snprintf(out, cap, "%s", dumped);
	if (rc == CC_ERR_INVALID)
		log_error(MOD, "filter: a JSON object of fleet-list fields (status, model, version, site, error, "
		               "last_seen_after, last_seen_before), at most %d characters", CC_GROUP_FILTER_MAX);
	free(dumped);
	json_decref(doc);
	return rc;
}

/* ---- groups ---- */

static int find_customer(struct vault *v, const char *name, struct store_org *out)
{
	int rc = inventory_org_find(v, name, out);

	if (rc == CC_OK && out->kind != ORG_CUSTOMER) {
		log_error(MOD, "'%s' is not a customer", name);
		rc = CC_ERR_INVALID;
	}
	return rc;
}

int manage_group_add(struct vault *v, const char *customer, const char *name, const char *parent,
                     const char *filter, struct store_group *out)
{
	struct store *s = vault_store(v);
	struct store_org cust;
	struct store_group group, up;
	int rc;

	memset(&group, 0, sizeof(group));
	if (!inventory_name_valid(name) || (parent != NULL && !inventory_name_valid(parent))) {
		log_error(MOD, "invalid group name: 1-%d of A-Z a-z 0-9 . _ -", CC_NAME_MAX);
		return CC_ERR_INVALID;
	}
	if (filter != NULL && (rc = canonical_filter(filter, group.filter, sizeof(group.filter))) != CC_OK)
		return rc;
	rc = s->ops->begin(s);
	if (rc != CC_OK)
		return rc;
	rc = find_customer(v, customer, &cust);
	group.customer_id = cust.id;
	snprintf(group.name, sizeof(group.name), "%s", name);
	group.created_ms = clock_now_ms();
	if (rc == CC_OK && parent != NULL) {
		rc = s->ops->group_find(s, cust.id, parent, &up);
		if (rc == CC_ERR_NOTFOUND)
			log_error(MOD, "customer '%s' has no group named '%s'", customer, parent);
		group.parent_id = up.id;
	}
	if (rc == CC_OK)
		rc = s->ops->group_add(s, &group, &group.id);
	if (rc == CC_ERR_EXISTS)
		log_error(MOD, "customer '%s' has a group named '%s' already", customer, name);
	rc = finish(s, rc);
	if (rc == CC_OK && out != NULL)
		*out = group;
	return rc;
}

int manage_group_member(struct vault *v, int64_t group_id, const char *serial, int add)
{
	struct store *s = vault_store(v);
	struct store_group g;
	struct store_machine m;
	int rc = s->ops->begin(s);

	if (rc != CC_OK)
		return rc;
	rc = s->ops->group_get(s, group_id, &g);
	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no group %lld", (long long)group_id);
	if (rc == CC_OK && g.filter[0] != '\0') {
		log_error(MOD, "group %lld is dynamic: its filter decides its machines", (long long)group_id);
		rc = CC_ERR_STATE;
	}
	if (rc == CC_OK)
		rc = inventory_machine_find(v, serial, &m);
	/* A group lists its own customer's machines only. */
	if (rc == CC_OK && m.customer_id != g.customer_id) {
		log_error(MOD, "machine '%s' is not of the group's customer", serial);
		rc = CC_ERR_NOTFOUND;
	}
	if (rc == CC_OK)
		rc = add ? s->ops->group_member_add(s, g.id, m.id) : s->ops->group_member_remove(s, g.id, m.id);
	if (rc == CC_ERR_EXISTS)
		log_error(MOD, "machine '%s' is in group %lld already", serial, (long long)group_id);
	else if (rc == CC_ERR_NOTFOUND && !add)
		log_error(MOD, "machine '%s' is not in group %lld", serial, (long long)group_id);
	return finish(s, rc);
}

/* ---- machines ---- */

static int find_site(struct store *s, int64_t customer_id, const char *customer, const char *site, int64_t *id)
{
	struct store_site x;
	int rc;

	*id = 0;
	if (site == NULL)
		return CC_OK;
	if (!inventory_name_valid(site)) {
		log_error(MOD, "invalid site name");
		return CC_ERR_INVALID;
	}
	rc = s->ops->site_find(s, customer_id, site, &x);
	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "customer '%s' has no site named '%s'", customer, site);
	if (rc == CC_OK)
		*id = x.id;
	return rc;
}

int manage_machine_move(struct vault *v, const char *serial, const char *customer, const char *site,
                        struct store_machine *out)
{
	struct store *s = vault_store(v);
	struct store_machine *m = calloc(1, sizeof(*m)), *next = calloc(1, sizeof(*next));
	struct store_org cust;
	int64_t site_id = 0, now = clock_now_ms();
	int rc = m == NULL || next == NULL ? CC_ERR_NOMEM : s->ops->begin(s);

	if (rc != CC_OK)
		goto out;
	rc = inventory_machine_find(v, serial, m);
	if (rc == CC_OK && m->decommissioned_ms != 0) {
		log_error(MOD, "machine '%s' is decommissioned", serial);
		rc = CC_ERR_STATE;
	}
	if (rc == CC_OK)
		rc = customer != NULL ? find_customer(v, customer, &cust) : s->ops->org_get(s, m->customer_id, &cust);
	if (rc == CC_OK)
		rc = find_site(s, cust.id, cust.name, site, &site_id);
	if (rc == CC_OK && cust.id == m->customer_id) {
		/* Within the customer: the data stays where it is, only the site changes. */
		rc = s->ops->row_set(s, STORE_COL_MACHINE_SITE, m->id, site_id);
		if (rc == CC_OK)
			rc = s->ops->machine_get(s, m->id, next);
	} else if (rc == CC_OK) {
		/* To another customer: the old row stays the old customer's, with
		 * what was recorded under its key; a new row carries the machine on. */
		*next = *m;
		next->id = 0;
		next->customer_id = cust.id;
		next->site_id = site_id;
		next->created_ms = now;
		next->decommissioned_ms = 0;
		next->moved = 0;
		memset(next->mac, 0, sizeof(next->mac));
		next->mac_len = 0;
		rc = s->ops->row_set(s, STORE_COL_MACHINE_RETIRED, m->id, now);
		if (rc == CC_OK)
			rc = s->ops->machine_add(s, next, &next->id);
		/* The old customer's groups list what it had, not what it has. */
		if (rc == CC_OK)
			rc = s->ops->group_unlist_machine(s, m->id);
	}
	if (rc == CC_OK)
		rc = s->ops->meta_bump(s, INVENTORY_FLEET_VERSION);
	rc = finish(s, rc);
	if (rc == CC_OK && out != NULL)
		*out = *next;
out:
	free(m);
	free(next);
	return rc;
}

int manage_machine_decommission(struct vault *v, const char *serial)
{
	struct store *s = vault_store(v);
	struct store_machine m;
	int rc = inventory_machine_find(v, serial, &m);

	if (rc != CC_OK)
		return rc;
	if (m.decommissioned_ms != 0) {
		log_error(MOD, "machine '%s' is decommissioned already", serial);
		return CC_ERR_STATE;
	}
	/* Revoked first: a machine marked decommissioned has no valid certificate. */
	if (m.revoked_ms == 0 && (rc = inventory_machine_revoke(v, serial)) != CC_OK)
		return rc;
	rc = s->ops->begin(s);
	if (rc != CC_OK)
		return rc;
	rc = s->ops->row_set(s, STORE_COL_MACHINE_DECOMMISSIONED, m.id, clock_now_ms());
	if (rc == CC_OK)
		rc = s->ops->meta_bump(s, INVENTORY_FLEET_VERSION);
	return finish(s, rc);
}

/* ---- organisations and accounts ---- */

int manage_org_active(struct store *s, int64_t org_id)
{
	struct store_org o;
	int64_t id = org_id;
	int depth;

	for (depth = 0; id != 0 && depth <= CC_ORG_DEPTH_MAX; depth++) {
		if (s->ops->org_get(s, id, &o) != CC_OK || o.deactivated_ms != 0)
			return 0;
		id = o.parent_id;
	}
	return id == 0;
}

int manage_org_set_active(struct vault *v, const char *org, int active)
{
	struct store *s = vault_store(v);
	struct store_org o;
	int rc = s->ops->begin(s);

	if (rc != CC_OK)
		return rc;
	rc = inventory_org_find(v, org, &o);
	if (rc == CC_OK && o.parent_id == 0) {
		log_error(MOD, "the platform's own organisation cannot be deactivated");
		rc = CC_ERR_INVALID;
	}
	/* Idempotent: the time of the first deactivation stays. */
	if (rc == CC_OK && (o.deactivated_ms != 0) != !active)
		rc = s->ops->row_set(s, STORE_COL_ORG_DEACTIVATED, o.id, active ? 0 : clock_now_ms());
	return finish(s, rc);
}

int manage_user_set_active(struct vault *v, const char *login, int active)
{
	struct store *s = vault_store(v);
	struct store_user *u = calloc(1, sizeof(*u));
	int64_t now = clock_now_ms();
	int rc = u == NULL ? CC_ERR_NOMEM : s->ops->begin(s);

	if (rc != CC_OK) {
		free(u);
		return rc;
	}
	rc = s->ops->user_find(s, login, u);
	if (rc == CC_ERR_NOTFOUND)
		log_error(MOD, "no account '%s'", login);
	if (rc == CC_OK && (u->deactivated_ms != 0) != !active)
		rc = s->ops->row_set(s, STORE_COL_USER_DEACTIVATED, u->id, active ? 0 : now);
	if (rc == CC_OK && !active)
		rc = s->ops->credential_revoke_sessions(s, u->id, 0, now);
	free(u);
	return finish(s, rc);
}

struct group_walk {
	struct vault *v;
	const char *version;
	int (*each)(void *ctx, const struct store_machine_status *row);
	void *ctx;
};

static int group_row(void *arg, const struct store_machine_status *row)
{
	struct group_walk *w = arg;
	char *info = NULL;
	json_t *doc = NULL;
	int match = w->version == NULL;

	if (!match && row->has_state && records_open_info(w->v, &row->m, &row->st, &info) == CC_OK &&
	    (doc = json_loads(info, 0, NULL)) != NULL) {
		const char *sw = json_string_value(json_object_get(doc, "sw"));

		match = sw != NULL && strcmp(sw, w->version) == 0;
	}
	json_decref(doc);
	free(info);
	return match ? w->each(w->ctx, row) : 0;
}

int manage_group_machines(struct vault *v, int64_t group_id,
                          int (*each)(void *ctx, const struct store_machine_status *row), void *ctx)
{
	struct store *s = vault_store(v);
	struct store_machine_filter f;
	struct fleet_query q;
	struct store_group g;
	struct group_walk w = { v, NULL, each, ctx };
	int rc = s->ops->group_get(s, group_id, &g);

	if (rc != CC_OK)
		return rc;
	memset(&f, 0, sizeof(f));
	memset(&q, 0, sizeof(q));
	f.customer_id = g.customer_id;
	if (g.filter[0] == '\0')
		f.group_id = g.id;
	else if (fleet_query_from_json(&q, g.filter) != CC_OK)
		return CC_ERR_CORRUPT;
	if (q.contradicts)
		return CC_OK;
	fleet_query_apply(&q, &f);
	w.version = q.version[0] ? q.version : NULL;
	return s->ops->machine_status_list(s, &f, group_row, &w);
}
