/* machines.c - machines, their status, telemetry, events and quality. */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/policy.h"
#include "common/err.h"
#include "fleet/inventory.h"
#include "records/records.h"

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
	json_t *list;
	json_int_t excluded; /* visible, but their customer did not consent to the purpose */
};

static int list_visible(void *arg, const struct store_machine *m)
{
	struct machine_lister *l = arg;

	if (!api_machine_visible(l->a, l->s, m))
		return 0;
	if (!policy_allows(l->a->vault, m->customer_id, l->purpose)) {
		l->excluded++;
		return 0;
	}
	return json_array_append_new(l->list, machine_status_json(l->a, m)) == 0 ? 0 : CC_ERR_NOMEM;
}

void api_machines(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct caller *s = api_authorize(r);
	struct machine_lister l;

	if (s == NULL)
		return;
	l.a = a;
	l.s = s;
	l.purpose = http_route(r)->purpose;
	l.excluded = 0;
	l.list = json_array();
	if (l.list == NULL || st->ops->machine_list(st, 0, list_visible, &l) != CC_OK) {
		json_decref(l.list);
		http_reply_error(r, 500, "internal", "the machines could not be listed");
		return;
	}
	if (api_audit_access(r, s, "machines.list", NULL, "ok") != CC_OK) {
		json_decref(l.list);
		return;
	}
	http_reply_json(r, 200, json_pack("{s:o, s:I}", "machines", l.list, "excluded_without_consent", l.excluded));
}

void api_machine(struct http_req *r)
{
	struct caller *s = api_authorize(r);
	struct store_machine m;

	if (s == NULL || api_find_machine(r, s, &m) != CC_OK || api_audit_access(r, s, "machine.get", &m, "ok") != CC_OK)
		return;
	http_reply_json(r, 200, machine_status_json(http_app(r), &m));
}

struct record_page {
	json_t *list;
	const char *metric;
	size_t count;
	int64_t next_from;
};

static int add_record(void *arg, const struct record_out *rec)
{
	struct record_page *p = arg;
	json_t *body, *m;

	if (p->count == RECORDS_PAGE_MAX) {
		p->next_from = rec->ts_ms;
		return 1; /* stop: the page is full */
	}
	body = json_loadb(rec->body, rec->body_len, 0, NULL);
	if (body == NULL)
		return 0;
	m = json_object_get(body, "m");
	if (p->metric != NULL && m != NULL) {
		json_t *only = json_object();
		json_t *v = json_object_get(m, p->metric);

		if (v != NULL)
			json_object_set(only, p->metric, v);
		json_object_set_new(body, "m", only);
		if (v == NULL) {
			json_decref(body);
			return 0;
		}
	}
	p->count++;
	return json_array_append_new(p->list, body) == 0 ? 0 : CC_ERR_NOMEM;
}

static void records_route(struct http_req *r, enum record_kind kind)
{
	struct api *a = http_app(r);
	struct caller *s = api_authorize(r);
	struct store_machine m;
	struct record_page page = { NULL, NULL, 0, 0 };
	int64_t from, to;
	json_t *doc;
	int rc;

	if (s == NULL || api_find_machine(r, s, &m) != CC_OK)
		return;
	if (api_parse_ms(http_query(r, "from"), 0, &from) != CC_OK || api_parse_ms(http_query(r, "to"), INT64_MAX, &to) != CC_OK) {
		http_reply_error(r, 400, "invalid", "from and to are epoch milliseconds");
		return;
	}
	page.metric = kind == RECORD_TELEMETRY ? http_query(r, "metric") : NULL;
	page.list = json_array();
	rc = page.list ? records_get(a->vault, &m, kind, from, to, add_record, &page) : CC_ERR_NOMEM;
	if (rc < 0) {
		json_decref(page.list);
		http_reply_error(r, 500, "internal", "the records could not be read");
		return;
	}
	if (api_audit_access(r, s, kind == RECORD_EVENT ? "events.get" : "telemetry.get", &m, "ok") != CC_OK) {
		json_decref(page.list);
		return;
	}
	doc = json_pack("{s:s, s:o}", "serial", m.serial, kind == RECORD_EVENT ? "events" : "telemetry", page.list);
	if (doc != NULL && page.next_from != 0)
		json_object_set_new(doc, "next_from", json_integer(page.next_from));
	http_reply_json(r, 200, doc);
}

void api_telemetry(struct http_req *r) { records_route(r, RECORD_TELEMETRY); }

/* The espresso standard of DESIGN §5: brewed at 90-96 degC in 20-30 s. */
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

void api_quality(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_authorize(r);
	struct store_machine m;
	struct quality q = { 0, 0 };
	int64_t from, to;

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
	http_reply_json(r, 200, json_pack("{s:s, s:{s:f, s:f, s:f, s:f}, s:I, s:I, s:o?}", "serial", m.serial,
	                                  "standard", "temp_min_c", QUALITY_TEMP_MIN, "temp_max_c", QUALITY_TEMP_MAX,
	                                  "brew_min_s", QUALITY_TIME_MIN, "brew_max_s", QUALITY_TIME_MAX,
	                                  "brews", q.brews, "in_standard", q.in_standard, "compliance_pct",
	                                  q.brews ? json_real(100.0 * (double)q.in_standard / (double)q.brews) : NULL));
}
void api_events(struct http_req *r) { records_route(r, RECORD_EVENT); }
