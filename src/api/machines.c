/* machines.c - machines, their status, telemetry, events and quality (reports: reports.c). */
#include "api/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "access/policy.h"
#include "alerts/alerts.h"
#include "common/clock.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/limits.h"
#include "fleet/health.h"
#include "fleet/inventory.h"
#include "fleet/manage.h"
#include "ingest/catalogue.h"
#include "ingest/errors.h"
#include "quality/compliance.h"
#include "records/records.h"
#include "records/columns.h"
#include "records/rollup.h"

/* The status-class view of a machine, the only fields every machine role sees. */
static json_t *machine_status_json(struct api *a, const struct store_machine *m)
{
	struct store *st = vault_store(a->vault);
	struct store_machine_state ms;
	struct store_org cust;
	struct store_site site;
	char seen[40];
	char *info = NULL;
	json_t *doc, *info_doc = NULL;
	int known = st->ops->machine_state_get(st, m->id, &ms) == CC_OK;

	if (st->ops->org_get(st, m->customer_id, &cust) != CC_OK)
		snprintf(cust.name, sizeof(cust.name), "?");
	doc = json_pack("{s:s, s:s, s:s, s:b, s:b}", "serial", m->serial, "model", m->model, "customer",
	                cust.name, "online", known && ms.online, "revoked", m->revoked_ms != 0);
	if (doc == NULL)
		return NULL;
	if (m->site_id != 0 && st->ops->site_get(st, m->site_id, &site) == CC_OK)
		json_object_set_new(doc, "site", json_string(site.name));
	if (known) {
		json_object_set_new(doc, "last_seen", json_string(api_iso_time(ms.last_seen_ms, seen, sizeof(seen))));
		if (!ms.online && ms.disconnect_reason[0])
			json_object_set_new(doc, "last_disconnect_reason", json_string(ms.disconnect_reason));
		if (records_open_info(a->vault, m, &ms, &info) == CC_OK && (info_doc = json_loads(info, 0, NULL)))
			json_object_set_new(doc, "software_version", json_incref(json_object_get(info_doc, "sw")));
	}
	if (m->decommissioned_ms != 0)
		json_object_set_new(doc, "decommissioned", json_true());
	json_decref(info_doc);
	free(info);
	return doc;
}

/* ---- the fleet list ----
 *
 * One query (store machine_status_list) brings each machine with its live
 * state and site name, from the cursor's serial on, filtered in SQL; the
 * vault checks every row's MAC on the way. What is decided per customer
 * (is it in the caller's scope, has it consented to the purpose, its name)
 * is decided once per customer and request, and the rows are written as
 * JSON text straight into one buffer. */

/* A row's JSON text gathers here and goes to the response in one piece
 * (an evbuffer_add per field costs more than the field). */
struct row_text {
	struct evbuffer *out;
	size_t n;
	int failed; /* an evbuffer_add failed: the text is not whole */
	char b[1024];
};

struct customer_seen {
	int64_t id; /* 0: an empty slot */
	int visible, consents;
	char name[CC_NAME_MAX + 1];
};

struct fleet_lister {
	struct api *a;
	const struct caller *s;
	const char *purpose;
	size_t limit, count;
	struct customer_seen *seen; /* open addressing by id; cap a power of two */
	size_t cap, used;
	struct evbuffer *out;
	struct row_text row;
	json_int_t excluded; /* visible, but their customer did not consent to the purpose */
	char last[CC_SERIAL_MAX + 1];
	int more;
	const char *version; /* software version filter (opened from info); NULL: any */
	int none;            /* the filters contradict: nothing matches */
	size_t skip;         /* sorted lists page by offset: rows still to skip */
	size_t offset;       /* the offset of this page's first row */
	json_t *facets;      /* facet -> {value: count}; NULL: none asked */
	unsigned facet_mask;
};

/* Bytes of a machine's row in the list, a little above the usual (about
 * 210 with a site and a version). */
#define FLEET_ROW_ESTIMATE 256

enum { FACET_STATUS = 1, FACET_MODEL = 2, FACET_VERSION = 4, FACET_SITE = 8, FACET_CUSTOMER = 16 };

static size_t slot_of(int64_t id, size_t cap)
{
	return (size_t)(((uint64_t)id * 0x9e3779b97f4a7c15ULL) >> 32) & (cap - 1);
}

static struct customer_seen *seen_slot(struct customer_seen *t, size_t cap, int64_t id)
{
	size_t i = slot_of(id, cap);

	while (t[i].id != 0 && t[i].id != id)
		i = (i + 1) & (cap - 1);
	return &t[i];
}

/* What the caller may know of customer id, decided on its first machine. */
static struct customer_seen *customer_of(struct fleet_lister *l, int64_t id)
{
	struct store *st = vault_store(l->a->vault);
	struct customer_seen *c;
	struct store_org org;
	size_t i;

	if (2 * (l->used + 1) > l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct customer_seen *t = calloc(cap, sizeof(*t));

		if (t == NULL)
			return NULL;
		for (i = 0; i < l->cap; i++)
			if (l->seen[i].id != 0)
				*seen_slot(t, cap, l->seen[i].id) = l->seen[i];
		free(l->seen);
		l->seen = t;
		l->cap = cap;
	}
	c = seen_slot(l->seen, l->cap, id);
	if (c->id == id)
		return c;
	c->id = id;
	l->used++;
	/* Subcontractors see granted machines (checked per machine), never a scope. */
	c->visible = l->s->role->granted_only || inventory_org_contains(st, l->s->user.org_id, id);
	c->consents = c->visible && policy_allows(l->a->vault, id, l->purpose);
	if (st->ops->org_get(st, id, &org) == CC_OK)
		snprintf(c->name, sizeof(c->name), "%s", org.name);
	else
		snprintf(c->name, sizeof(c->name), "?");
	return c;
}

static void put_raw(struct row_text *t, const char *p, size_t len)
{
	if (t->n + len > sizeof(t->b)) {
		t->failed |= evbuffer_add(t->out, t->b, t->n) != 0;
		t->n = 0;
		if (len > sizeof(t->b)) {
			t->failed |= evbuffer_add(t->out, p, len) != 0;
			return;
		}
	}
	memcpy(t->b + t->n, p, len);
	t->n += len;
}

static void put_lit(struct row_text *t, const char *text) { put_raw(t, text, strlen(text)); }

/* A JSON string: quotes, backslashes and control characters escaped. */
static void put_string(struct row_text *t, const char *text)
{
	static const char hex[] = "0123456789abcdef";
	const char *p = text, *run = text;

	put_raw(t, "\"", 1);
	for (; *p != '\0'; p++) {
		unsigned char ch = (unsigned char)*p;
		char esc[6] = { '\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15] };

		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		put_raw(t, run, (size_t)(p - run));
		if (ch == '"' || ch == '\\') {
			esc[1] = (char)ch;
			put_raw(t, esc, 2);
		} else {
			put_raw(t, esc, sizeof(esc));
		}
		run = p + 1;
	}
	put_raw(t, run, (size_t)(p - run));
	put_raw(t, "\"", 1);
}

/* ,"name":"value" (name: a literal of ours, nothing to escape). */
static void put_field(struct row_text *t, const char *name, const char *value)
{
	put_raw(t, ",\"", 2);
	put_lit(t, name);
	put_raw(t, "\":", 2);
	put_string(t, value);
}

static const char *skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* A JSON string without escapes at p (after its opening quote): its
 * length, and *next after its closing quote; CC_ERR_INVALID if it has an
 * escape or no end. */
static long plain_string(const char *p, const char **next)
{
	const char *end = strpbrk(p, "\"\\");

	if (end == NULL || *end != '"')
		return CC_ERR_INVALID;
	*next = end + 1;
	return (long)(end - p);
}

/* The "sw" of an info message as ingest accepts it (docs/METRICS.md: an
 * object of short strings of [A-Za-z0-9._+-]), read without building a
 * tree: 1 and out set; 0 when absent; CC_ERR_INVALID for anything else
 * this scanner does not take (an escape, a number), which the caller hands
 * to jansson. */
static int info_sw_fast(const char *p, char *out, size_t cap)
{
	int found = 0;

	p = skip_space(p);
	if (*p++ != '{')
		return CC_ERR_INVALID;
	p = skip_space(p);
	if (*p == '}')
		return skip_space(p + 1)[0] == '\0' ? 0 : CC_ERR_INVALID;
	for (;;) {
		const char *key = p + 1, *val;
		long klen, vlen;

		if (*p != '"' || (klen = plain_string(key, &p)) < 0)
			return CC_ERR_INVALID;
		p = skip_space(p);
		if (*p++ != ':')
			return CC_ERR_INVALID;
		p = skip_space(p);
		val = p + 1;
		if (*p != '"' || (vlen = plain_string(val, &p)) < 0)
			return CC_ERR_INVALID;
		if (klen == 2 && strncmp(key, "sw", 2) == 0) {
			if ((size_t)vlen >= cap)
				return CC_ERR_INVALID;
			memcpy(out, val, (size_t)vlen);
			out[vlen] = '\0';
			found = 1;
		}
		p = skip_space(p);
		if (*p == '}')
			return skip_space(p + 1)[0] == '\0' ? found : CC_ERR_INVALID;
		if (*p++ != ',')
			return CC_ERR_INVALID;
		p = skip_space(p);
	}
}

/* The software version a machine last reported (its sealed info opened):
 * 1 and sw set, 0 when it reported none. */
static int row_sw(struct fleet_lister *l, const struct store_machine_status *row, char *sw, size_t cap)
{
	char *info = NULL;
	json_t *info_doc;
	int has_sw = 0;

	if (!row->has_state || records_open_info(l->a->vault, &row->m, &row->st, &info) != CC_OK)
		return 0;
	has_sw = info_sw_fast(info, sw, cap);
	if (has_sw < 0 && (info_doc = json_loads(info, 0, NULL)) != NULL) {
		const char *v = json_string_value(json_object_get(info_doc, "sw"));

		has_sw = v != NULL && snprintf(sw, cap, "%s", v) < (int)cap;
		json_decref(info_doc);
	}
	free(info);
	return has_sw > 0;
}

/* The status-class view of a machine, the same fields machine_status_json
 * makes, in the same order. sw: the version opened already, or NULL. */
static void put_status(struct fleet_lister *l, const struct store_machine_status *row, const char *customer,
                       const char *known_sw)
{
	struct row_text *t = &l->row;
	const struct store_machine_state *ms = &row->st;
	char seen[40], sw[CC_SEALED_INFO_MAX];

	t->out = l->out;
	t->n = 0;
	put_lit(t, l->count > 0 ? ",{\"serial\":" : "{\"serial\":");
	put_string(t, row->m.serial);
	put_field(t, "model", row->m.model);
	put_field(t, "customer", customer);
	put_lit(t, row->has_state && ms->online ? ",\"online\":true" : ",\"online\":false");
	put_lit(t, row->m.revoked_ms != 0 ? ",\"revoked\":true" : ",\"revoked\":false");
	if (row->m.site_id != 0 && row->site[0] != '\0')
		put_field(t, "site", row->site);
	if (row->has_state) {
		put_field(t, "last_seen", api_iso_time(ms->last_seen_ms, seen, sizeof(seen)));
		if (!ms->online && ms->disconnect_reason[0])
			put_field(t, "last_disconnect_reason", ms->disconnect_reason);
		if (known_sw != NULL)
			put_field(t, "software_version", known_sw);
		else if (l->version == NULL && !(l->facet_mask & FACET_VERSION) && row_sw(l, row, sw, sizeof(sw)))
			put_field(t, "software_version", sw);
	}
	if (row->m.decommissioned_ms != 0)
		put_lit(t, ",\"decommissioned\":true");
	put_raw(t, "}", 1);
	t->failed |= evbuffer_add(t->out, t->b, t->n) != 0;
}

/* Counts one row under value in facet name. */
static int facet_add(struct fleet_lister *l, const char *name, const char *value)
{
	json_t *facet = json_object_get(l->facets, name), *n;

	if (facet == NULL && json_object_set_new(l->facets, name, facet = json_object()) != 0)
		return CC_ERR_NOMEM;
	n = json_object_get(facet, value);
	if (n != NULL)
		return json_integer_set(n, json_integer_value(n) + 1) == 0 ? 0 : CC_ERR_NOMEM;
	return json_object_set_new(facet, value, json_integer(1)) == 0 ? 0 : CC_ERR_NOMEM;
}

static int facets_count(struct fleet_lister *l, const struct store_machine_status *row, const char *customer,
                        const char *sw)
{
	const char *status = row->m.decommissioned_ms != 0 ? "decommissioned"
	                     : row->m.revoked_ms != 0 ? "revoked"
	                     : row->has_state && row->st.online ? "online" : "offline";
	int rc = 0;

	if (l->facet_mask & FACET_STATUS)
		rc |= facet_add(l, "status", status);
	if (l->facet_mask & FACET_MODEL)
		rc |= facet_add(l, "model", row->m.model);
	if (l->facet_mask & FACET_VERSION)
		rc |= facet_add(l, "version", sw != NULL ? sw : "");
	if (l->facet_mask & FACET_SITE)
		rc |= facet_add(l, "site", row->site);
	if (l->facet_mask & FACET_CUSTOMER)
		rc |= facet_add(l, "customer", customer);
	return rc != 0 ? CC_ERR_NOMEM : 0;
}

static int list_row(void *arg, const struct store_machine_status *row)
{
	struct fleet_lister *l = arg;
	struct customer_seen *c;
	char sw[CC_SEALED_INFO_MAX];
	const char *known_sw = NULL;

	if (l->none)
		return 1;
	if (l->s->role->granted_only && !api_machine_visible(l->a, l->s, &row->m, l->purpose))
		return 0;
	c = customer_of(l, row->m.customer_id);
	if (c == NULL)
		return CC_ERR_NOMEM;
	if (!c->visible)
		return 0;
	/* The version is sealed in the machine's info: opened only when a
	 * filter or a facet needs it (the list opens it anyway to show it). */
	if (l->version != NULL || (l->facet_mask & FACET_VERSION)) {
		known_sw = row_sw(l, row, sw, sizeof(sw)) ? sw : NULL;
		if (l->version != NULL && (known_sw == NULL || strcmp(known_sw, l->version) != 0))
			return 0;
	}
	/* Facets count what the caller may read: in scope and consented. */
	if (l->facets != NULL && c->consents && facets_count(l, row, c->name, known_sw) != 0)
		return CC_ERR_NOMEM;
	if (l->more)
		return 0; /* past the page: still counting facets */
	if (l->count == l->limit) {
		l->more = 1;
		return l->facets != NULL ? 0 : 1;
	}
	if (!c->consents) {
		l->excluded++;
		return 0;
	}
	if (l->skip > 0) {
		l->skip--;
		return 0;
	}
	put_status(l, row, c->name, known_sw);
	if (l->row.failed)
		return CC_ERR_NOMEM;
	snprintf(l->last, sizeof(l->last), "%s", row->key);
	l->count++;
	return 0;
}

static int parse_facets(const char *text, unsigned *mask)
{
	static const char *const names[] = { "status", "model", "version", "site", "customer" };
	const char *p = text;

	*mask = 0;
	while (*p != '\0') {
		size_t n = strcspn(p, ","), i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i]) == n && strncmp(names[i], p, n) == 0)
				break;
		if (i == sizeof(names) / sizeof(names[0]))
			return CC_ERR_INVALID;
		*mask |= 1u << i;
		p += n;
		if (*p == ',' && *++p == '\0')
			return CC_ERR_INVALID;
	}
	return *mask != 0 ? CC_OK : CC_ERR_INVALID;
}

/* A group of a customer in the caller's scope, else 404 as for none. */
int api_find_group(struct http_req *r, const struct caller *s, const char *id_text, struct store_group *g)
{
	struct store *st = vault_store(((struct api *)http_app(r))->vault);
	int64_t id = 0;

	if (id_text == NULL || api_parse_ms(id_text, 0, &id) != CC_OK || id <= 0 || s->role->granted_only ||
	    st->ops->group_get(st, id, g) != CC_OK || !inventory_org_contains(st, s->user.org_id, g->customer_id)) {
		http_reply_error(r, 404, "not_found", "no such group");
		return CC_ERR_NOTFOUND;
	}
	return CC_OK;
}

/* The filters of GET /api/v1/machines: customer=, group=, the fleet_query
 * fields (fleet/manage.h), sort=, facets=. 0, or an error replied. */
static int fleet_filter(struct http_req *r, const struct caller *s, const struct store_group *group,
                        struct store_machine_filter *f, struct fleet_query *q, struct fleet_lister *l)
{
	static const char *const fields[] = { "status", "model", "version", "site", "error", "last_seen_after",
		                              "last_seen_before", NULL };
	struct store *st = vault_store(((struct api *)http_app(r))->vault);
	const char *customer = http_query(r, "customer"), *sort = http_query(r, "sort");
	const char *facets = http_query(r, "facets"), *group_id = http_query(r, "group");
	struct store_group g;
	struct store_org org;
	size_t i;

	if (customer != NULL) {
		if (api_find_customer(r, s, customer, &org) != CC_OK)
			return CC_ERR_NOTFOUND;
		f->customer_id = org.id;
	} else if (!s->role->granted_only && st->ops->org_get(st, s->user.org_id, &org) == CC_OK &&
	           org.kind == ORG_CUSTOMER) {
		f->customer_id = org.id; /* a customer has no sub-organisations: its scope is itself */
	}
	for (i = 0; fields[i] != NULL; i++) {
		const char *value = http_query(r, fields[i]);

		if (value != NULL && fleet_query_set(q, fields[i], value) != CC_OK) {
			http_reply_error(r, 400, "invalid", fleet_query_help(fields[i]));
			return CC_ERR_INVALID;
		}
	}
	if (group == NULL && group_id != NULL) {
		if (api_find_group(r, s, group_id, &g) != CC_OK)
			return CC_ERR_NOTFOUND;
		group = &g;
	}
	if (group != NULL) {
		if (f->customer_id != 0 && f->customer_id != group->customer_id)
			q->contradicts = 1;
		f->customer_id = group->customer_id;
		if (group->filter[0] == '\0')
			f->group_id = group->id;
		else if (fleet_query_from_json(q, group->filter) != CC_OK) {
			http_reply_error(r, 500, "internal", "the group's filter could not be read");
			return CC_ERR_INVALID;
		}
	}
	if (sort != NULL && fleet_sort_parse(sort, f) != CC_OK) {
		http_reply_error(r, 400, "invalid", "sort: serial, model, customer, site, last_seen, online or created, "
		                 "a leading - for descending, comma-separated (at most 4)");
		return CC_ERR_INVALID;
	}
	if (facets != NULL && parse_facets(facets, &l->facet_mask) != CC_OK) {
		http_reply_error(r, 400, "invalid", "facets: status, model, version, site, customer, comma-separated");
		return CC_ERR_INVALID;
	}
	fleet_query_apply(q, f);
	l->version = q->version[0] ? q->version : NULL;
	l->none = q->contradicts;
	return CC_OK;
}

/* A sorted list pages by offset: its cursor is "#" and the offset (no
 * serial has a "#"). */
static int sorted_offset(const struct api_page *pg, size_t *offset)
{
	char *end;
	unsigned long long n;

	*offset = 0;
	if (!pg->has_cursor)
		return CC_OK;
	if (pg->after[0] != '#' || pg->after[1] < '0' || pg->after[1] > '9')
		return CC_ERR_INVALID;
	n = strtoull(pg->after + 1, &end, 10);
	if (*end != '\0' || n > 100000000ULL)
		return CC_ERR_INVALID;
	*offset = (size_t)n;
	return CC_OK;
}

void api_fleet_list(struct http_req *r, const struct store_group *group, const char *action)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct caller *s = api_caller(r);
	struct store_machine_filter f;
	struct fleet_query q;
	struct fleet_lister l;
	struct api_page pg;
	char cursor[2 * API_CURSOR_KEY_MAX + 1], key[32];
	int rc;

	memset(&f, 0, sizeof(f));
	memset(&q, 0, sizeof(q));
	memset(&l, 0, sizeof(l));
	if (s == NULL || api_page_params(r, 1000, 10000, &pg) != CC_OK || fleet_filter(r, s, group, &f, &q, &l) != CC_OK)
		return;
	if (f.nsort > 0 && sorted_offset(&pg, &l.offset) != CC_OK) {
		http_reply_error(r, 400, "invalid", "cursor: not one of this sorted list");
		return;
	}
	l.skip = l.offset;
	l.a = a;
	l.s = s;
	l.purpose = http_route(r)->purpose;
	l.limit = pg.limit;
	l.out = evbuffer_new();
	if (l.facet_mask != 0 && (l.facets = json_object()) == NULL) {
		evbuffer_free(l.out);
		http_reply_error(r, 500, "internal", "out of memory");
		return;
	}
	f.after_serial = pg.has_cursor && f.nsort == 0 ? pg.after : NULL; /* by serial: after the cursor's */
	/* Room for the page at once: rows appended in place, never a chain per
	 * few rows (a malloc each) nor a copy to join them. An estimate; a
	 * page that needs more just grows. */
	rc = l.out != NULL && evbuffer_expand(l.out, FLEET_ROW_ESTIMATE * (l.limit + 1)) == 0 &&
	     evbuffer_add(l.out, "{\"machines\":[", 13) == 0 ? CC_OK : CC_ERR_NOMEM;
	if (rc == CC_OK)
		rc = st->ops->machine_status_list(st, &f, list_row, &l);
	if (rc < 0) {
		http_reply_error(r, 500, "internal", "the machines could not be listed");
		goto out;
	}
	if (api_audit_access(r, s, action, NULL, "ok") != CC_OK)
		goto out;
	rc = evbuffer_add_printf(l.out, "],\"excluded_without_consent\":%lld", (long long)l.excluded) < 0;
	if (l.more && f.nsort > 0)
		snprintf(key, sizeof(key), "#%zu", l.offset + l.count);
	if (l.more && hex_encode((const uint8_t *)(f.nsort > 0 ? key : l.last), strlen(f.nsort > 0 ? key : l.last),
	                         cursor, sizeof(cursor)) == CC_OK)
		rc |= evbuffer_add_printf(l.out, ",\"next_cursor\":\"%s\"", cursor) < 0;
	if (l.facets != NULL) {
		char *text = json_dumps(l.facets, JSON_COMPACT | JSON_SORT_KEYS);

		rc |= text == NULL || evbuffer_add_printf(l.out, ",\"facets\":%s", text) < 0;
		free(text);
	}
	if (rc != 0 || evbuffer_add(l.out, "}", 1) != 0) {
		http_reply_error(r, 500, "internal", "the response could not be built");
		goto out;
	}
	http_reply_buffer_etag(r, "application/json", l.out);
out:
	if (l.out != NULL)
		evbuffer_free(l.out);
	json_decref(l.facets);
	free(l.seen);
}

void api_machines(struct http_req *r)
{
	api_fleet_list(r, NULL, "machines.list");
}

struct latest {
	const struct store_machine *m;
	json_t *doc, *read_at;
	const struct role *role;
	int64_t newest;
};

static int latest_wanted(void *arg, const char *name)
{
	struct latest *l = arg;
	const struct catalogue_metric *cm = catalogue_find_metric(l->m->model, name);

	return cm != NULL && (cm->data_class & l->role->classes);
}

/* The latest reading of one metric, under its data class (a class the role
 * does not see is absent, not null), as the machine wrote the number. */
static int add_latest(void *arg, const struct rollup_metric *x)
{
	struct latest *l = arg;
	const struct catalogue_metric *cm = catalogue_find_metric(l->m->model, x->name);
	const char *cls = catalogue_class_name(cm->data_class);
	json_t *section = json_object_get(l->doc, cls), *value;
	char when[40];

	value = strpbrk(x->last, ".eE") != NULL ? json_real(strtod(x->last, NULL))
	                                        : json_integer(strtoll(x->last, NULL, 10));
	if (section == NULL) {
		section = json_object();
		json_object_set_new(l->doc, cls, section);
	}
	json_object_set_new(section, x->name, value);
	json_object_set_new(l->read_at, x->name, json_string(api_iso_time(x->last_ts, when, sizeof(when))));
	if (x->last_ts > l->newest)
		l->newest = x->last_ts;
	return CC_OK;
}

void api_machine(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store_machine m;
	struct latest l;
	struct health h;
	char when[40];
	json_t *doc;

	if (s == NULL || api_find_machine(r, s, &m) != CC_OK || api_audit_access(r, s, "machine.get", &m, "ok") != CC_OK)
		return;
	doc = machine_status_json(a, &m);
	l.m = &m;
	l.role = s->role;
	l.newest = INT64_MIN;
	l.doc = json_object();
	l.read_at = json_object();
	if (doc != NULL && l.doc != NULL && l.read_at != NULL &&
	    rollup_latest(a->vault, &m, latest_wanted, add_latest, &l, NULL) == CC_OK && l.newest != INT64_MIN) {
		json_object_set_new(l.doc, "time", json_string(api_iso_time(l.newest, when, sizeof(when))));
		json_object_set(l.doc, "read_at", l.read_at);
		json_object_set(doc, "latest", l.doc);
	}
	json_decref(l.doc);
	json_decref(l.read_at);
	if (doc != NULL && health_of(a->vault, &m, s->role->classes, &h) == CC_OK &&
	    alerts_health(vault_store(a->vault), &m, s->role->classes, &h) == CC_OK)
		json_object_set_new(doc, "health", health_json(&h));
	http_reply_json(r, 200, doc);
}

/* Keeps only the metrics of m whose data class the role sees (and the one
 * asked for); a metric the catalogue does not know is dropped: fail closed. */
static void filter_metrics(json_t *m, const char *model, const struct role *role, const char *only)
{
	const char *key;
	json_t *value, *tmp;

	json_object_foreach_safe(m, tmp, key, value) {
		const struct catalogue_metric *cm = catalogue_find_metric(model, key);

		if (cm == NULL || !(cm->data_class & role->classes) || (only != NULL && strcmp(key, only) != 0))
			json_object_del(m, key);
	}
}

/* 1 if the role sees events of this type (their class is the type's). */
static int event_visible(const json_t *event, const struct role *role, const char *only_type)
{
	const char *type = json_string_value(json_object_get(event, "type"));
	const struct catalogue_event *ce = type != NULL ? catalogue_find_event(type) : NULL;

	return ce != NULL && (ce->data_class & role->classes) && (only_type == NULL || strcmp(type, only_type) == 0);
}

struct record_page {
	enum record_kind kind;
	const struct store_machine *machine;
	const struct role *role;
	const char *only;       /* metric= or type= */
	enum error_lang lang;   /* of the error catalogue's texts (lang=) */
	int64_t step_ms;        /* telemetry: average over buckets of this width; 0: raw */
	size_t limit, count;
	int64_t last_seq, next_after;
	json_t *list;
	struct rollup_buckets buckets; /* step_ms, not from the summaries: the records summarised here */
	struct evbuffer *text;  /* step_ms, rows: the buckets as JSON text (no tree: most of a chart's time) */
	size_t text_rows;
	struct columns *columns; /* raw telemetry: records written here as text, not as a list of trees */
	int as_rows;            /* ...as rows (the default format), not as columns */
	int stats;              /* step_ms: STAT_* to show per metric */
};

enum { STAT_MEAN = 1, STAT_MIN = 2, STAT_MAX = 4 };

/* columns.h asks once per metric name: the role's classes, and metric=. */
static int column_visible(void *arg, const char *name, size_t len)
{
	struct record_page *p = arg;
	const struct catalogue_metric *cm = catalogue_find_metric_len(p->machine->model, name, len);

	return cm != NULL && (cm->data_class & p->role->classes) &&
	       (p->only == NULL || (strlen(p->only) == len && memcmp(p->only, name, len) == 0));
}

/* An error event with what the catalogue says of its code (ingest/errors.h). */
static void explain_error(json_t *event, const char *model, enum error_lang lang)
{
	const char *type = json_string_value(json_object_get(event, "type"));
	const struct error_entry *e;

	if (type == NULL || strcmp(type, "error") != 0)
		return;
	e = errors_find(model, json_string_value(json_object_get(event, "code")));
	if (e != NULL)
		json_object_set_new(event, "explained", json_pack("{s:s, s:s, s:s}", "text", e->text[lang], "action",
		                                                  e->action[lang], "severity", e->severity));
}

static int add_record(void *arg, const struct record_out *rec)
{
	struct record_page *p = arg;
	json_t *body, *m;
	int rc;

	if (p->step_ms == 0 && p->count == p->limit) {
		p->next_after = p->last_seq;
		return 1; /* stop: the page is full, and there is more */
	}
	if (p->columns != NULL && p->step_ms == 0) {
		rc = p->as_rows ? columns_add_row(p->columns, rec->seq, rec->ts_ms, rec->body, rec->body_len)
		                : columns_add(p->columns, rec->seq, rec->ts_ms, rec->body, rec->body_len);
		p->last_seq = rec->seq;
		if (rc == 0)
			p->count++;
		return rc < 0 ? rc : 0;
	}
	if (p->step_ms != 0) /* metrics are cut to the role's when the buckets are written */
		return rollup_buckets_add(&p->buckets, rec->ts_ms, rec->body, rec->body_len);
	body = json_loadb(rec->body, rec->body_len, 0, NULL);
	if (body == NULL)
		return 0;
	p->last_seq = rec->seq;
	if (p->kind == RECORD_TELEMETRY) {
		m = json_object_get(body, "m");
		if (json_is_object(m))
			filter_metrics(m, p->machine->model, p->role, p->only);
		if (!json_is_object(m) || json_object_size(m) == 0) {
			json_decref(body);
			return 0;
		}
	} else if (p->kind == RECORD_EVENT && !event_visible(body, p->role, p->only)) {
		json_decref(body);
		return 0;
	} else if (p->kind == RECORD_EVENT) {
		explain_error(body, p->machine->model, p->lang);
	}
	p->count++;
	return json_array_append_new(p->list, body) == 0 ? 0 : CC_ERR_NOMEM;
}

/* A bucket (records/rollup.h), cut to the role's metrics like the raw
 * records: {"ts", "n": readings of its most-read metric, "m": means,
 * "min", "max" as asked}. */
static int add_summary(void *arg, const struct rollup_summary *b)
{
	struct record_page *p = arg;
	json_t *means = json_object(), *mins = json_object(), *maxs = json_object(), *item;
	json_int_t n = 0;
	size_t i;
	int rc = CC_ERR_NOMEM;

	if (means == NULL || mins == NULL || maxs == NULL)
		goto out;
	for (i = 0; i < b->nmetrics; i++) {
		const struct rollup_metric *x = &b->m[i];

		if (x->count <= 0 || !column_visible(p, x->name, x->len))
			continue;
		n = x->count > n ? x->count : n;
		if (p->stats & STAT_MEAN)
			json_object_set_new(means, x->name, json_real(x->sum / (double)x->count));
		if (p->stats & STAT_MIN)
			json_object_set_new(mins, x->name, json_real(x->min));
		if (p->stats & STAT_MAX)
			json_object_set_new(maxs, x->name, json_real(x->max));
	}
	rc = CC_OK;
	if (n == 0)
		goto out; /* nothing the role sees */
	item = json_pack("{s:I, s:I}", "ts", (json_int_t)b->start_ms, "n", n);
	if (item != NULL && (p->stats & STAT_MEAN))
		json_object_set(item, "m", means);
	if (item != NULL && (p->stats & STAT_MIN))
		json_object_set(item, "min", mins);
	if (item != NULL && (p->stats & STAT_MAX))
		json_object_set(item, "max", maxs);
	rc = item != NULL && json_array_append_new(p->list, item) == 0 ? CC_OK : CC_ERR_NOMEM;
out:
	json_decref(means);
	json_decref(mins);
	json_decref(maxs);
	return rc;
}

/* One real as JSON the way the trees write them (15 significant digits,
 * always with a point or an exponent), null for what JSON cannot hold. */
static int add_real(struct evbuffer *b, double v)
{
	char num[40];
	int n;

	if (!isfinite(v))
		return evbuffer_add(b, "null", 4);
	n = snprintf(num, sizeof(num) - 2, "%.15g", v);
	if (strpbrk(num, ".eEn") == NULL) {
		num[n++] = '.';
		num[n++] = '0';
	}
	return evbuffer_add(b, num, (size_t)n);
}

/* add_summary, written as text: {"ts","n","m":{...},"min":{...},"max":{...}}. */
static int add_summary_text(void *arg, const struct rollup_summary *b)
{
	static const int bits[3] = { STAT_MEAN, STAT_MIN, STAT_MAX };
	static const char *const names[3] = { "m", "min", "max" };
	struct record_page *p = arg;
	int64_t n = 0;
	size_t i, k;
	int rc = 0, first;

	for (i = 0; i < b->nmetrics; i++)
		if (b->m[i].count > n && column_visible(p, b->m[i].name, b->m[i].len))
			n = b->m[i].count;
	if (n == 0)
		return 0; /* nothing the role sees */
	rc |= evbuffer_add_printf(p->text, "%s{\"ts\":%lld,\"n\":%lld", p->text_rows ? "," : "",
	                          (long long)b->start_ms, (long long)n) < 0;
	for (k = 0; k < 3; k++) {
		if (!(p->stats & bits[k]))
			continue;
		rc |= evbuffer_add_printf(p->text, ",\"%s\":{", names[k]) < 0;
		for (i = 0, first = 1; i < b->nmetrics; i++) {
			const struct rollup_metric *x = &b->m[i];

			if (x->count <= 0 || !column_visible(p, x->name, x->len))
				continue;
			/* Catalogue names ([a-z0-9_]): nothing to escape. */
			rc |= evbuffer_add_printf(p->text, "%s\"%s\":", first ? "" : ",", x->name) < 0;
			rc |= add_real(p->text, k == 0 ? x->sum / (double)x->count : k == 1 ? x->min : x->max);
			first = 0;
		}
		rc |= evbuffer_add(p->text, "}", 1);
	}
	rc |= evbuffer_add(p->text, "}", 1);
	p->text_rows++;
	return rc == 0 ? 0 : CC_ERR_NOMEM;
}

/* add_summary for format=columns: a row of the columns. */
static int add_summary_columns(void *arg, const struct rollup_summary *b)
{
	static const int bits[3] = { STAT_MEAN, STAT_MIN, STAT_MAX };
	static const char *const suffix[3] = { "", ":min", ":max" };
	struct record_page *p = arg;
	int64_t n = 0;
	size_t i, k;
	int rc;

	for (i = 0; i < b->nmetrics; i++)
		if (b->m[i].count > n && column_visible(p, b->m[i].name, b->m[i].len))
			n = b->m[i].count;
	if (n == 0)
		return 0; /* nothing the role sees */
	rc = columns_add_bucket(p->columns, b->start_ms, n, NULL, NULL, 0);
	for (i = 0; i < b->nmetrics && rc == CC_OK; i++) {
		const struct rollup_metric *x = &b->m[i];

		if (x->count <= 0 || !column_visible(p, x->name, x->len))
			continue;
		for (k = 0; k < 3 && rc == CC_OK; k++)
			if (p->stats & bits[k])
				rc = columns_add_bucket(p->columns, b->start_ms, n, x->name, suffix[k],
				                        k == 0 ? x->sum / (double)x->count : k == 1 ? x->min : x->max);
	}
	return rc;
}

static int everything_visible(void *arg, const char *name, size_t len)
{
	(void)arg;
	(void)name;
	(void)len;
	return 1; /* add_summary_columns has decided already */
}

/* stats=mean,min,max (any of them; default mean): STAT_* bits, or -1. */
static int parse_stats(const char *text)
{
	int bits = 0;

	if (text == NULL)
		return STAT_MEAN;
	while (*text != '\0') {
		size_t n = strcspn(text, ",");

		if (n == 4 && strncmp(text, "mean", 4) == 0)
			bits |= STAT_MEAN;
		else if (n == 3 && strncmp(text, "min", 3) == 0)
			bits |= STAT_MIN;
		else if (n == 3 && strncmp(text, "max", 3) == 0)
			bits |= STAT_MAX;
		else
			return -1;
		text += n + (text[n] == ',');
	}
	return bits != 0 ? bits : -1;
}

/* Whole minutes (from, to and step) are answered from the roll-ups. */
static int from_rollups(int64_t from, int64_t to, int64_t step)
{
	return step % ROLLUP_MINUTE_MS == 0 && from % ROLLUP_MINUTE_MS == 0 &&
	       (to == INT64_MAX || to % ROLLUP_MINUTE_MS == 0);
}

/* doc (serial, cursor...) with "key": text spliced in as the first member
 * (open and close wrap it): text built without a tree. The data first: the
 * cursor stays at the end, where a client streaming the pages finds it
 * without parsing the whole body. */
static void reply_with_text(struct http_req *r, json_t *doc, const char *key, const char *open, const char *text,
                            size_t len, const char *close)
{
	char *head = doc != NULL ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)) : NULL;
	size_t hlen = head != NULL ? strlen(head) : 0;
	struct evbuffer *out = evbuffer_new();
	int ok = head != NULL && hlen >= 2 && out != NULL &&
	         evbuffer_add_printf(out, "{\"%s\":%s", key, open) > 0 && evbuffer_add(out, text, len) == 0 &&
	         evbuffer_add_printf(out, "%s,", close) > 0 && evbuffer_add(out, head + 1, hlen) == 0 &&
	         evbuffer_pullup(out, -1) != NULL;

	if (ok)
		http_reply_text(r, 200, "application/json", (const char *)evbuffer_pullup(out, -1));
	else
		http_reply_error(r, 500, "internal", "the response could not be built");
	json_decref(doc);
	free(head);
	if (out != NULL)
		evbuffer_free(out);
}

static void reply_with_columns(struct http_req *r, json_t *doc, struct columns *c)
{
	char *cols = NULL;
	size_t clen = 0;

	if (columns_json(c, &cols, &clen) != CC_OK) {
		json_decref(doc);
		http_reply_error(r, 500, "internal", "the response could not be built");
		return;
	}
	reply_with_text(r, doc, "columns", "", cols, clen, "");
	free(cols);
}

static const char *const record_names[] = { NULL, "telemetry", "events", "reports" };
static const char *const record_actions[] = { NULL, "telemetry.get", "events.get", "reports.get" };

void api_records_route(struct http_req *r, enum record_kind kind)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store_machine m;
	struct record_page page;
	struct api_page pg;
	int64_t from, to, damaged = 0;
	json_t *doc;
	int rc, columns = 0;

	if (s == NULL || api_find_machine(r, s, &m) != CC_OK)
		return;
	memset(&page, 0, sizeof(page));
	if (api_parse_ms(http_query(r, "from"), 0, &from) != CC_OK ||
	    api_parse_ms(http_query(r, "to"), INT64_MAX, &to) != CC_OK ||
	    api_parse_ms(http_query(r, "step"), 0, &page.step_ms) != CC_OK ||
	    (page.step_ms != 0 && (kind != RECORD_TELEMETRY || page.step_ms < 1000))) {
		http_reply_error(r, 400, "invalid", "from and to are epoch milliseconds; step (telemetry) >= 1000 ms");
		return;
	}
	{
		const char *format = http_query(r, "format");

		page.stats = parse_stats(http_query(r, "stats"));
		if (page.stats < 0 || (format != NULL && strcmp(format, "rows") != 0 &&
		                       (strcmp(format, "columns") != 0 || kind != RECORD_TELEMETRY))) {
			http_reply_error(r, 400, "invalid", "stats: mean, min, max (comma-separated); "
			                                    "format: rows, or columns (telemetry)");
			return;
		}
		columns = format != NULL && strcmp(format, "columns") == 0;
	}
	if (api_page_params(r, 1000, RECORDS_PAGE_MAX, &pg) != CC_OK)
		return;
	page.kind = kind;
	page.machine = &m;
	page.role = s->role;
	page.only = kind == RECORD_TELEMETRY ? http_query(r, "metric") : kind == RECORD_EVENT ? http_query(r, "type") : NULL;
	page.lang = errors_lang(http_query(r, "lang"));
	page.limit = pg.limit;
	page.list = json_array();
	page.buckets.width = page.step_ms;
	page.as_rows = !columns;
	if (kind == RECORD_TELEMETRY && page.step_ms == 0 && columns_new(column_visible, &page, &page.columns) != CC_OK)
		rc = CC_ERR_NOMEM;
	else if (columns && page.step_ms != 0 && columns_new(everything_visible, NULL, &page.columns) != CC_OK)
		rc = CC_ERR_NOMEM;
	else if (page.list == NULL || (page.step_ms != 0 && !columns && (page.text = evbuffer_new()) == NULL))
		rc = CC_ERR_NOMEM;
	else if (page.step_ms != 0 && from_rollups(from, to, page.step_ms))
		rc = rollup_read(a->vault, &m, page.step_ms, from, to,
		                 page.text ? add_summary_text : page.columns ? add_summary_columns : add_summary, &page,
		                 &damaged);
	else if ((rc = records_page_counted(a->vault, &m, kind, from, to, api_page_after_int(&pg), add_record, &page,
	                                    &damaged)) >= 0 && page.step_ms != 0)
		rc = rollup_buckets_each(&page.buckets,
		                         page.text ? add_summary_text : page.columns ? add_summary_columns : add_summary,
		                         &page);
	rollup_buckets_free(&page.buckets);
	if (rc < 0) {
		json_decref(page.list);
		columns_free(page.columns);
		if (page.text != NULL)
			evbuffer_free(page.text);
		if (rc == CC_ERR_LIMIT)
			http_reply_error(r, 400, "invalid", "too many buckets: narrow from..to or widen step");
		else
			http_reply_error(r, 500, "internal", "the records could not be read");
		return;
	}
	if (api_audit_access(r, s, record_actions[kind], &m, "ok") != CC_OK) {
		json_decref(page.list);
		columns_free(page.columns);
		if (page.text != NULL)
			evbuffer_free(page.text);
		return;
	}
	{
		doc = json_pack("{s:s}", "serial", m.serial);
		if (doc != NULL && page.columns == NULL && page.text == NULL)
			json_object_set_new(doc, record_names[kind], page.list);
		else
			json_decref(page.list);
	}
	/* Damaged records are skipped, and the reader told how many (never what). */
	if (doc != NULL && damaged > 0)
		json_object_set_new(doc, "damaged_skipped", json_integer(damaged));
	if (doc != NULL && page.next_after != 0)
		api_page_next_int(doc, page.next_after);
	if (page.columns != NULL && page.as_rows) {
		size_t len = 0;
		const char *text = columns_rows_text(page.columns, &len);

		reply_with_text(r, doc, record_names[kind], "[", text, len, "]"); /* raw telemetry: text, not trees */
	} else if (page.columns != NULL)
		reply_with_columns(r, doc, page.columns);
	else if (page.text != NULL)
		reply_with_text(r, doc, record_names[kind], "[",
		                evbuffer_get_length(page.text) ? (const char *)evbuffer_pullup(page.text, -1) : "",
		                evbuffer_get_length(page.text), "]");
	else
		http_reply_json(r, 200, doc);
	columns_free(page.columns);
	if (page.text != NULL)
		evbuffer_free(page.text);
}

void api_telemetry(struct http_req *r) { api_records_route(r, RECORD_TELEMETRY); }

struct quality {
	const struct compliance_rules *rules;
	const char *model;
	int64_t now_ms;
	json_int_t brews, in_standard;
};

/* Each brew by the rule set judging its day (quality/compliance.h). */
static int count_brew(void *arg, const struct record_out *rec)
{
	struct quality *q = arg;
	json_t *e = json_loadb(rec->body, rec->body_len, 0, NULL);
	const char *type = json_string_value(json_object_get(e, "type"));
	const char *product = json_string_value(json_object_get(e, "product"));
	int64_t version;

	if (type != NULL && strcmp(type, "brew") == 0 && product != NULL) {
		const struct quality_ruleset *rs = compliance_rules_for(
		        q->rules, q->model, rec->ts_ms - rec->ts_ms % COMPLIANCE_DAY_MS, q->now_ms, &version);
		const struct quality_product *p = quality_ruleset_product(rs, product, strlen(product));
		double v[QF_COUNT];
		int has[QF_COUNT], f;

		for (f = 0; f < QF_COUNT; f++) {
			json_t *n = json_object_get(e, quality_field_name(f));

			has[f] = json_is_number(n);
			v[f] = has[f] ? json_number_value(n) : 0;
		}
		q->brews++;
		if (p != NULL && quality_brew_judge(p, v, has) == 0)
			q->in_standard++;
	}
	json_decref(e);
	return 0;
}

/* A derived figure is cut to the caller's classes like the data it comes
 * from: the standard and the share of brews within it are technical; how
 * many brews there were is usage (docs/ARCHITECTURE.md "Who may do what"). */
void api_quality(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store_machine m;
	struct compliance_rules *rules = NULL;
	struct quality q;
	int64_t from, to, version;
	json_t *doc;

	if (s == NULL || api_find_machine(r, s, &m) != CC_OK)
		return;
	if (api_parse_ms(http_query(r, "from"), 0, &from) != CC_OK || api_parse_ms(http_query(r, "to"), INT64_MAX, &to) != CC_OK) {
		http_reply_error(r, 400, "invalid", "from and to are epoch milliseconds");
		return;
	}
	memset(&q, 0, sizeof(q));
	q.model = m.model;
	q.now_ms = clock_now_ms();
	if (compliance_rules_load(vault_store(a->vault), &rules) != CC_OK) {
		http_reply_error(r, 500, "internal", "the rule sets could not be read");
		return;
	}
	q.rules = rules;
	if (records_get(a->vault, &m, RECORD_EVENT, from, to, count_brew, &q) < 0) {
		compliance_rules_free(rules);
		http_reply_error(r, 500, "internal", "the events could not be read");
		return;
	}
	(void)compliance_rules_for(rules, m.model, q.now_ms - q.now_ms % COMPLIANCE_DAY_MS, q.now_ms, &version);
	compliance_rules_free(rules);
	if (api_audit_access(r, s, "quality.get", &m, "ok") != CC_OK)
		return;
	doc = json_pack("{s:s}", "serial", m.serial);
	if (doc != NULL && (s->role->classes & CLASS_TECHNICAL)) {
		json_object_set_new(doc, "standard", json_pack("{s:s, s:I}", "model", m.model, "ruleset_version",
		                                               (json_int_t)version));
		if (q.brews > 0)
			json_object_set_new(doc, "compliance_pct",
			                    json_real(100.0 * (double)q.in_standard / (double)q.brews));
	}
	if (doc != NULL && (s->role->classes & CLASS_USAGE)) {
		json_object_set_new(doc, "brews", json_integer(q.brews));
		json_object_set_new(doc, "in_standard", json_integer(q.in_standard));
	}
	http_reply_json(r, 200, doc);
}
void api_events(struct http_req *r) { api_records_route(r, RECORD_EVENT); }
