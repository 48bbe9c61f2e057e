/* machines.c - machines, their status, telemetry, events and quality (reports: reports.c). */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/policy.h"
#include "common/err.h"
#include "common/limits.h"
#include "fleet/inventory.h"
#include "ingest/catalogue.h"
#include "records/records.h"
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
	json_decref(info_doc);
	free(info);
	return doc;
}

struct machine_lister {
	struct api *a;
	const struct caller *s;
	const char *purpose;
	const struct api_page *page;
	json_t *list;
	json_int_t excluded; /* visible, but their customer did not consent to the purpose */
	char last[CC_SERIAL_MAX + 1];
	int more;
};

static int list_visible(void *arg, const struct store_machine *m)
{
	struct machine_lister *l = arg;

	/* By serial: a page starts after the cursor's serial. */
	if (l->page->has_cursor && strcmp(m->serial, l->page->after) <= 0)
		return 0;
	if (!api_machine_visible(l->a, l->s, m, l->purpose))
		return 0;
	if (json_array_size(l->list) == l->page->limit) {
		l->more = 1;
		return 1;
	}
	if (!policy_allows(l->a->vault, m->customer_id, l->purpose)) {
		l->excluded++;
		return 0;
	}
	snprintf(l->last, sizeof(l->last), "%s", m->serial);
	return json_array_append_new(l->list, machine_status_json(l->a, m)) == 0 ? 0 : CC_ERR_NOMEM;
}

void api_machines(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct caller *s = api_caller(r);
	struct machine_lister l;
	struct api_page pg;
	json_t *doc;

	if (s == NULL || api_page_params(r, 1000, 10000, &pg) != CC_OK)
		return;
	memset(&l, 0, sizeof(l));
	l.a = a;
	l.s = s;
	l.purpose = http_route(r)->purpose;
	l.page = &pg;
	l.list = json_array();
	if (l.list == NULL || st->ops->machine_list(st, 0, list_visible, &l) < 0) {
		json_decref(l.list);
		http_reply_error(r, 500, "internal", "the machines could not be listed");
		return;
	}
	if (api_audit_access(r, s, "machines.list", NULL, "ok") != CC_OK) {
		json_decref(l.list);
		return;
	}
	doc = json_pack("{s:o, s:I}", "machines", l.list, "excluded_without_consent", l.excluded);
	if (l.more)
		api_page_next(doc, l.last);
	http_reply_json(r, 200, doc);
}

struct latest {
	const struct store_machine *m;
	json_t *doc;
	const struct role *role;
};

/* The last telemetry message, its metrics under their data class: a class
 * the role does not see is absent, not null. */
static int add_latest(void *arg, const struct record_out *rec)
{
	struct latest *l = arg;
	json_t *body = json_loadb(rec->body, rec->body_len, 0, NULL), *m = json_object_get(body, "m"), *value;
	const char *key;
	char when[40];

	json_object_foreach(m, key, value) {
		const struct catalogue_metric *cm = catalogue_find_metric(l->m->model, key);
		const char *cls;
		json_t *section;

		if (cm == NULL || !(cm->data_class & l->role->classes))
			continue;
		cls = catalogue_class_name(cm->data_class);
		section = json_object_get(l->doc, cls);
		if (section == NULL) {
			section = json_object();
			json_object_set_new(l->doc, cls, section);
		}
		json_object_set(section, key, value);
	}
	if (json_object_size(l->doc) > 0)
		json_object_set_new(l->doc, "time", json_string(api_iso_time(rec->ts_ms, when, sizeof(when))));
	json_decref(body);
	return 1;
}

void api_machine(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct caller *s = api_caller(r);
	struct store_machine m;
	struct latest l;
	int64_t last = 0;
	json_t *doc;

	if (s == NULL || api_find_machine(r, s, &m) != CC_OK || api_audit_access(r, s, "machine.get", &m, "ok") != CC_OK)
		return;
	doc = machine_status_json(a, &m);
	l.m = &m;
	l.role = s->role;
	l.doc = json_object();
	if (doc != NULL && l.doc != NULL && st->ops->records_last_seq(st, m.id, RECORD_TELEMETRY, &last) == CC_OK &&
	    last > 0 && records_page(a->vault, &m, RECORD_TELEMETRY, 0, INT64_MAX, last - 1, add_latest, &l) >= 0 &&
	    json_object_size(l.doc) > 0)
		json_object_set(doc, "latest", l.doc);
	json_decref(l.doc);
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
	int64_t step_ms;        /* telemetry: average over buckets of this width; 0: raw */
	size_t limit, count;
	int64_t last_seq, next_after;
	json_t *list;
	json_t *buckets;        /* step_ms: bucket start (text) -> {metric: [count, min, max, sum]} */
};

/* The bucket of ts_ms gets the readings of m: metric -> [count, min, max, sum]. */
static int add_to_bucket(struct record_page *p, int64_t ts_ms, json_t *m)
{
	char key[24];
	const char *name;
	json_t *b, *sums, *value;

	snprintf(key, sizeof(key), "%lld", (long long)(ts_ms - ts_ms % p->step_ms));
	b = json_object_get(p->buckets, key);
	if (b == NULL) {
		if (json_object_size(p->buckets) >= RECORDS_PAGE_MAX)
			return CC_ERR_LIMIT;
		b = json_object();
		if (b == NULL || json_object_set_new(p->buckets, key, b) != 0)
			return CC_ERR_NOMEM;
	}
	json_object_foreach(m, name, value) {
		double v = json_number_value(value);

		sums = json_object_get(b, name);
		if (sums == NULL) {
			if (json_object_set_new(b, name, json_pack("[i, f, f, f]", 1, v, v, v)) != 0)
				return CC_ERR_NOMEM;
			continue;
		}
		json_array_set_new(sums, 0, json_integer(json_integer_value(json_array_get(sums, 0)) + 1));
		if (v < json_number_value(json_array_get(sums, 1)))
			json_array_set_new(sums, 1, json_real(v));
		if (v > json_number_value(json_array_get(sums, 2)))
			json_array_set_new(sums, 2, json_real(v));
		json_array_set_new(sums, 3, json_real(json_number_value(json_array_get(sums, 3)) + v));
	}
	return CC_OK;
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
		if (p->step_ms != 0) {
			rc = add_to_bucket(p, rec->ts_ms, m);
			json_decref(body);
			return rc;
		}
	} else if (p->kind == RECORD_EVENT && !event_visible(body, p->role, p->only)) {
		json_decref(body);
		return 0;
	}
	p->count++;
	return json_array_append_new(p->list, body) == 0 ? 0 : CC_ERR_NOMEM;
}

/* A bucket from the roll-ups (records/rollup.h): metric -> [count, min,
 * max, sum], cut to the role's metrics like the raw records. */
static int add_summary(void *arg, int64_t start_ms, json_t *bucket)
{
	struct record_page *p = arg;
	json_t *m = json_object_get(bucket, "m"), *means, *mins, *maxs, *a, *item;
	json_int_t n = 0;
	const char *name;

	filter_metrics(m, p->machine->model, p->role, p->only);
	if (json_object_size(m) == 0)
		return 0;
	means = json_object();
	mins = json_object();
	maxs = json_object();
	json_object_foreach(m, name, a) {
		json_int_t count = json_integer_value(json_array_get(a, 0));

		if (count <= 0)
			continue;
		n = count > n ? count : n; /* readings of the most-read metric the role sees */
		json_object_set_new(means, name, json_real(json_number_value(json_array_get(a, 3)) / (double)count));
		json_object_set_new(mins, name, json_real(json_number_value(json_array_get(a, 1))));
		json_object_set_new(maxs, name, json_real(json_number_value(json_array_get(a, 2))));
	}
	item = json_pack("{s:I, s:I, s:o, s:o, s:o}", "ts", (json_int_t)start_ms, "n", n, "m", means, "min", mins,
	                 "max", maxs);
	return item != NULL && json_array_append_new(p->list, item) == 0 ? 0 : CC_ERR_NOMEM;
}

static int by_start_key(const void *a, const void *b)
{
	long long x = strtoll(*(const char *const *)a, NULL, 10), y = strtoll(*(const char *const *)b, NULL, 10);

	return x < y ? -1 : x > y;
}

/* Buckets computed from the records to the list, by time, as the roll-ups give them. */
static int buckets_to_list(struct record_page *p)
{
	size_t i, n = 0, size = json_object_size(p->buckets);
	const char **keys = calloc(size ? size : 1, sizeof(*keys));
	const char *key;
	json_t *b;
	int rc = CC_OK;

	if (keys == NULL)
		return CC_ERR_NOMEM;
	json_object_foreach(p->buckets, key, b)
		keys[n++] = key;
	qsort(keys, n, sizeof(*keys), by_start_key);
	for (i = 0; i < n && rc == CC_OK; i++) {
		json_t *bucket = json_pack("{s:O}", "m", json_object_get(p->buckets, keys[i]));

		rc = bucket != NULL ? add_summary(p, strtoll(keys[i], NULL, 10), bucket) : CC_ERR_NOMEM;
		json_decref(bucket);
	}
	free(keys);
	return rc;
}

/* Whole minutes (from, to and step) are answered from the roll-ups. */
static int from_rollups(int64_t from, int64_t to, int64_t step)
{
	return step % ROLLUP_MINUTE_MS == 0 && from % ROLLUP_MINUTE_MS == 0 &&
	       (to == INT64_MAX || to % ROLLUP_MINUTE_MS == 0);
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
	int rc;

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
	if (api_page_params(r, 1000, RECORDS_PAGE_MAX, &pg) != CC_OK)
		return;
	page.kind = kind;
	page.machine = &m;
	page.role = s->role;
	page.only = kind == RECORD_TELEMETRY ? http_query(r, "metric") : kind == RECORD_EVENT ? http_query(r, "type") : NULL;
	page.limit = pg.limit;
	page.list = json_array();
	page.buckets = page.step_ms ? json_object() : NULL;
	if (page.list == NULL || (page.step_ms != 0 && page.buckets == NULL))
		rc = CC_ERR_NOMEM;
	else if (page.step_ms != 0 && from_rollups(from, to, page.step_ms))
		rc = rollup_read(a->vault, &m, page.step_ms, from, to, add_summary, &page, &damaged);
	else if ((rc = records_page_counted(a->vault, &m, kind, from, to, api_page_after_int(&pg), add_record, &page,
	                                    &damaged)) >= 0 && page.step_ms != 0)
		rc = buckets_to_list(&page);
	json_decref(page.buckets);
	if (rc < 0) {
		json_decref(page.list);
		if (rc == CC_ERR_LIMIT)
			http_reply_error(r, 400, "invalid", "too many buckets: narrow from..to or widen step");
		else
			http_reply_error(r, 500, "internal", "the records could not be read");
		return;
	}
	if (api_audit_access(r, s, record_actions[kind], &m, "ok") != CC_OK) {
		json_decref(page.list);
		return;
	}
	doc = json_pack("{s:s, s:o}", "serial", m.serial, record_names[kind], page.list);
	/* Damaged records are skipped, and the reader told how many (never what). */
	if (doc != NULL && damaged > 0)
		json_object_set_new(doc, "damaged_skipped", json_integer(damaged));
	if (page.next_after != 0)
		api_page_next_int(doc, page.next_after);
	http_reply_json(r, 200, doc);
}

void api_telemetry(struct http_req *r) { api_records_route(r, RECORD_TELEMETRY); }

/* The espresso standard of docs/PRODUCT.md §3: brewed at 90-96 degC in 20-30 s. */
#define QUALITY_TEMP_MIN 90.0
#define QUALITY_TEMP_MAX 96.0
#define QUALITY_TIME_MIN 20.0
#define QUALITY_TIME_MAX 30.0

struct quality {
	json_int_t brews, in_standard;
};

static int count_brew(void *arg, const struct record_out *rec)
{
	struct quality *q = arg;
	json_t *e = json_loadb(rec->body, rec->body_len, 0, NULL);
	const char *type = json_string_value(json_object_get(e, "type"));
	json_t *temp = json_object_get(e, "temp_c"), *secs = json_object_get(e, "brew_time_s");

	if (type != NULL && strcmp(type, "brew") == 0 && json_is_number(temp) && json_is_number(secs)) {
		double t = json_number_value(temp), d = json_number_value(secs);

		q->brews++;
		if (t >= QUALITY_TEMP_MIN && t <= QUALITY_TEMP_MAX && d >= QUALITY_TIME_MIN && d <= QUALITY_TIME_MAX)
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
	struct quality q = { 0, 0 };
	int64_t from, to;
	json_t *doc;

	if (s == NULL || api_find_machine(r, s, &m) != CC_OK)
		return;
	if (api_parse_ms(http_query(r, "from"), 0, &from) != CC_OK || api_parse_ms(http_query(r, "to"), INT64_MAX, &to) != CC_OK) {
		http_reply_error(r, 400, "invalid", "from and to are epoch milliseconds");
		return;
	}
	if (records_get(a->vault, &m, RECORD_EVENT, from, to, count_brew, &q) < 0) {
		http_reply_error(r, 500, "internal", "the events could not be read");
		return;
	}
	if (api_audit_access(r, s, "quality.get", &m, "ok") != CC_OK)
		return;
	doc = json_pack("{s:s}", "serial", m.serial);
	if (doc != NULL && (s->role->classes & CLASS_TECHNICAL)) {
		json_object_set_new(doc, "standard", json_pack("{s:f, s:f, s:f, s:f}", "temp_min_c", QUALITY_TEMP_MIN,
		                                               "temp_max_c", QUALITY_TEMP_MAX, "brew_min_s",
		                                               QUALITY_TIME_MIN, "brew_max_s", QUALITY_TIME_MAX));
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
