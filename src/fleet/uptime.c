#include "fleet/uptime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/strmap.h"

static const char *const by_names[] = { "", "machine", "site", "customer", "distributor" };

const char *uptime_by_name(enum uptime_by by)
{
	return (unsigned)by < sizeof(by_names) / sizeof(by_names[0]) ? by_names[by] : "";
}

int uptime_by_parse(const char *text)
{
	const char *const *names = by_names;
	size_t i;

	if (text == NULL)
		return UPTIME_TOTAL;
	for (i = 0; i < sizeof(by_names) / sizeof(by_names[0]); i++)
		if (strcmp(text, names[i]) == 0)
			return (int)i;
	return -1;
}

/* A site's open stretches over the report's period. */
struct site_hours {
	int open_all_day; /* no hours kept: around the clock */
	struct hours_window *w;
	size_t n;
	int64_t open_ms;  /* their total */
};

struct member {
	int64_t machine_id;
	size_t row; /* index into rows; (size_t)-1: the total only */
	const struct site_hours *hours; /* NULL: around the clock */
};

struct builder {
	struct vault *v;
	const struct uptime_query *q;
	struct uptime_report *out;
	struct member *members;
	size_t nmembers, capmembers, caprows;
	struct strmap *row_of;  /* key -> index + 1 */
	struct strmap *orgs;    /* "id" -> struct store_org * (customers and their parents) */
	struct strmap *sites;   /* "id" -> struct site_hours *, with business hours */
	int64_t to_ms;          /* the period's end as cut to now */
	int rc;
};

static int hours_of_site(struct builder *b, int64_t site_id, const struct site_hours **out)
{
	struct store *s = vault_store(b->v);
	struct store_site site;
	struct week_hours wh;
	struct site_hours *h;
	char key[24];
	size_t i;
	int rc;

	snprintf(key, sizeof(key), "%lld", (long long)site_id);
	*out = h = strmap_get(b->sites, key);
	if (h != NULL)
		return CC_OK;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return CC_ERR_NOMEM;
	rc = s->ops->site_get(s, site_id, &site);
	/* Kept canonical by manage.c: one that no longer parses counts around the clock. */
	if (rc == CC_OK && (site.hours[0] == '\0' || hours_parse(site.hours, &wh, NULL, 0) != CC_OK))
		h->open_all_day = 1;
	else if (rc == CC_OK)
		rc = hours_windows(&wh, site.timezone[0] ? site.timezone : "UTC", b->q->from_ms, b->to_ms, &h->w, &h->n);
	for (i = 0; i < h->n; i++)
		h->open_ms += h->w[i].end_ms - h->w[i].start_ms;
	if (rc == CC_OK)
		rc = strmap_put(b->sites, key, h);
	if (rc != CC_OK) {
		free(h->w);
		free(h);
		return rc;
	}
	*out = h;
	return CC_OK;
}

static const struct store_org *org_of(struct builder *b, int64_t id)
{
	struct store *s = vault_store(b->v);
	struct store_org *o;
	char key[24];

	snprintf(key, sizeof(key), "%lld", (long long)id);
	o = strmap_get(b->orgs, key);
	if (o != NULL)
		return o;
	o = calloc(1, sizeof(*o));
	if (o == NULL || s->ops->org_get(s, id, o) != CC_OK || strmap_put(b->orgs, key, o) != CC_OK) {
		free(o);
		return NULL;
	}
	return o;
}

static size_t row_for(struct builder *b, const char *key)
{
	struct uptime_report *r = b->out;
	uintptr_t at = (uintptr_t)strmap_get(b->row_of, key);

	if (at != 0)
		return (size_t)(at - 1);
	if (r->nrows == b->caprows) {
		size_t cap = b->caprows ? 2 * b->caprows : 64;
		struct uptime_row *grown = realloc(r->rows, cap * sizeof(*grown));

		if (grown == NULL)
			return (size_t)-2;
		r->rows = grown;
		b->caprows = cap;
	}
	memset(&r->rows[r->nrows], 0, sizeof(r->rows[0]));
	snprintf(r->rows[r->nrows].key, sizeof(r->rows[0].key), "%s", key);
	if (strmap_put(b->row_of, key, (void *)(uintptr_t)(r->nrows + 1)) != CC_OK)
		return (size_t)-2;
	return r->nrows++;
}

static int add_member(void *ctx, const struct store_machine_status *m)
{
	struct builder *b = ctx;
	const struct store_org *customer, *parent;
	char key[sizeof(((struct uptime_row *)0)->key)];
	size_t row = (size_t)-1;
	int seen = b->q->visible != NULL ? b->q->visible(b->q->ctx, m) : 1;

	if (seen <= 0)
		return seen;
	key[0] = '\0';
	if (b->q->by == UPTIME_BY_MACHINE) {
		snprintf(key, sizeof(key), "%s", m->m.serial);
	} else if (b->q->by != UPTIME_TOTAL) {
		customer = org_of(b, m->m.customer_id);
		if (customer == NULL)
			return CC_ERR_NOMEM;
		if (b->q->by == UPTIME_BY_SITE)
			snprintf(key, sizeof(key), "%s/%s", customer->name, m->site);
		else if (b->q->by == UPTIME_BY_CUSTOMER)
			snprintf(key, sizeof(key), "%s", customer->name);
		else
			snprintf(key, sizeof(key), "%s",
			         (parent = org_of(b, customer->parent_id)) != NULL ? parent->name : "");
	}
	if (b->q->by != UPTIME_TOTAL && (row = row_for(b, key)) == (size_t)-2)
		return CC_ERR_NOMEM;
	if (b->nmembers == b->capmembers) {
		size_t cap = b->capmembers ? 2 * b->capmembers : 256;
		struct member *grown = realloc(b->members, cap * sizeof(*grown));

		if (grown == NULL)
			return CC_ERR_NOMEM;
		b->members = grown;
		b->capmembers = cap;
	}
	b->members[b->nmembers].machine_id = m->m.id;
	b->members[b->nmembers].row = row;
	b->members[b->nmembers].hours = NULL;
	if (b->q->business_hours && m->m.site_id != 0) {
		const struct site_hours *h;
		int rc = hours_of_site(b, m->m.site_id, &h);

		if (rc != CC_OK)
			return rc;
		if (!h->open_all_day)
			b->members[b->nmembers].hours = h;
	}
	b->nmembers++;
	return 0;
}

static int by_machine_id(const void *a, const void *b)
{
	const struct member *x = a, *y = b;

	return (x->machine_id > y->machine_id) - (x->machine_id < y->machine_id);
}

static void add(struct uptime_row *r, const struct availability *a)
{
	r->sum.up_ms += a->up_ms;
	r->sum.offline_ms += a->offline_ms;
	r->sum.out_of_service_ms += a->out_of_service_ms;
	r->sum.maintenance_ms += a->maintenance_ms;
	r->sum.unknown_ms += a->unknown_ms;
	r->sum.incidents += a->incidents;
	r->sum.restorations += a->restorations;
}

static void count_machine(struct builder *b, const struct member *m, const struct availability *a)
{
	add(&b->out->total, a);
	if (m->row == (size_t)-1)
		return;
	add(&b->out->rows[m->row], a);
	if (b->q->by == UPTIME_BY_MACHINE) {
		struct uptime_row *r = &b->out->rows[m->row];

		r->sum.state_at_end = a->state_at_end;
		r->sum.since_ms = a->since_ms;
		snprintf(r->sum.reason, sizeof(r->sum.reason), "%s", a->reason);
	}
}

static int on_machine(void *ctx, int64_t machine_id, const struct availability *a)
{
	struct builder *b = ctx;
	struct member key = { machine_id, 0, NULL }, *m;

	m = b->nmembers > 0 ? bsearch(&key, b->members, b->nmembers, sizeof(*b->members), by_machine_id) : NULL;
	if (m != NULL) {
		count_machine(b, m, a);
		m->machine_id = -m->machine_id; /* seen: not unknown all through */
	}
	return 0;
}

static const struct member *member_of(const struct builder *b, int64_t machine_id)
{
	struct member key = { machine_id, 0, NULL };

	if (b->nmembers == 0)
		return NULL;
	return bsearch(&key, b->members, b->nmembers, sizeof(*b->members), by_machine_id);
}

static int windows_of(void *ctx, int64_t machine_id, const struct hours_window **w, size_t *n)
{
	const struct member *m = member_of(ctx, machine_id);

	if (m == NULL || m->hours == NULL)
		return 0;
	*w = m->hours->w;
	*n = m->hours->n;
	return 1;
}

static int free_site(void *ctx, const char *key, void *value)
{
	struct site_hours *h = value;

	(void)ctx;
	(void)key;
	free(h->w);
	free(h);
	return 0;
}

static int free_org(void *ctx, const char *key, void *value)
{
	(void)ctx;
	(void)key;
	free(value);
	return 0;
}

static int by_key(const void *a, const void *b)
{
	return strcmp(((const struct uptime_row *)a)->key, ((const struct uptime_row *)b)->key);
}

int uptime_report(struct vault *v, const struct uptime_query *q, struct uptime_report *out)
{
	struct store *s = vault_store(v);
	struct builder b;
	struct availability never;
	struct availability_hours hours = { windows_of, NULL };
	int64_t now = clock_now_ms() + 1, to = q->to_ms < now ? q->to_ms : now; /* as availability_each cuts it */
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	if (q->from_ms >= to)
		return CC_ERR_INVALID;
	out->from_ms = q->from_ms;
	out->to_ms = to;
	out->business_hours = q->business_hours != 0;
	memset(&b, 0, sizeof(b));
	b.v = v;
	b.q = q;
	b.out = out;
	b.to_ms = to;
	hours.ctx = &b;
	rc = strmap_new(&b.row_of);
	if (rc == CC_OK)
		rc = strmap_new(&b.orgs);
	if (rc == CC_OK)
		rc = strmap_new(&b.sites);
	/* One snapshot: the machines, then their histories. */
	if (rc == CC_OK)
		rc = s->ops->begin_read(s);
	if (rc == CC_OK) {
		rc = s->ops->machine_status_list(s, q->filter, add_member, &b);
		if (rc == CC_OK) {
			if (b.nmembers > 1) /* members is NULL when none was selected */
				qsort(b.members, b.nmembers, sizeof(*b.members), by_machine_id);
			/* A few machines: their own histories; many: one pass over all. */
			const struct availability_hours *within = q->business_hours ? &hours : NULL;

			if (b.nmembers > 64)
				rc = availability_within(s, 0, q->from_ms, to, within, on_machine, &b);
			for (i = 0; rc == CC_OK && b.nmembers <= 64 && i < b.nmembers; i++)
				rc = availability_within(s, b.members[i].machine_id, q->from_ms, to, within, on_machine, &b);
		}
		s->ops->rollback(s);
	}
	/* A machine with no history at all was never seen in the period. */
	memset(&never, 0, sizeof(never));
	never.unknown_ms = to - q->from_ms;
	never.state_at_end = MSTATE_UNKNOWN;
	never.since_ms = INT64_MIN;
	for (i = 0; rc == CC_OK && i < b.nmembers; i++) {
		never.unknown_ms = b.members[i].hours != NULL ? b.members[i].hours->open_ms : to - q->from_ms;
		if (b.members[i].machine_id > 0)
			count_machine(&b, &b.members[i], &never);
		out->total.machines++;
		if (b.members[i].row != (size_t)-1)
			out->rows[b.members[i].row].machines++;
	}
	if (rc == CC_OK && out->nrows > 1)
		qsort(out->rows, out->nrows, sizeof(*out->rows), by_key);
	strmap_foreach(b.orgs, free_org, NULL);
	strmap_free(b.orgs);
	if (b.sites != NULL)
		strmap_foreach(b.sites, free_site, NULL);
	strmap_free(b.sites);
	strmap_free(b.row_of);
	free(b.members);
	if (rc != CC_OK)
		uptime_report_free(out);
	return rc;
}

void uptime_report_free(struct uptime_report *r)
{
	free(r->rows);
	r->rows = NULL;
	r->nrows = 0;
}

double uptime_percent(const struct uptime_row *r)
{
	int64_t counted = r->sum.up_ms + availability_down_ms(&r->sum);

	return counted > 0 ? 100.0 * (double)r->sum.up_ms / (double)counted : -1;
}

double uptime_down_minutes(const struct uptime_row *r)
{
	return (double)availability_down_ms(&r->sum) / 60000.0;
}

double uptime_mtbf_minutes(const struct uptime_row *r)
{
	return r->sum.incidents > 0 ? (double)r->sum.up_ms / 60000.0 / (double)r->sum.incidents : -1;
}

double uptime_mttr_minutes(const struct uptime_row *r)
{
	return r->sum.incidents > 0 ? uptime_down_minutes(r) / (double)r->sum.incidents : -1;
}

static json_t *minutes(double m)
{
	return m < 0 ? json_null() : json_real((double)(int64_t)(m * 100 + 0.5) / 100);
}

static const char *iso(int64_t ms, char *buf, size_t cap)
{
	if (ms == INT64_MIN)
		return NULL;
	clock_format_iso(ms, buf, cap);
	return buf;
}

static json_t *row_json(const struct uptime_row *r, enum uptime_by by, int is_total)
{
	double pct = uptime_percent(r);
	char since[40];
	json_t *o = json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:o, s:o}",
	                      "machines", (json_int_t)r->machines,
	                      "availability_pct", pct < 0 ? json_null() : json_real((double)(int64_t)(pct * 1000 + 0.5) / 1000),
	                      "downtime_min", minutes(uptime_down_minutes(r)),
	                      "offline_min", minutes((double)r->sum.offline_ms / 60000.0),
	                      "out_of_service_min", minutes((double)r->sum.out_of_service_ms / 60000.0),
	                      "maintenance_min", minutes((double)r->sum.maintenance_ms / 60000.0),
	                      "unknown_min", minutes((double)r->sum.unknown_ms / 60000.0),
	                      "incidents", (json_int_t)r->sum.incidents, "restorations", (json_int_t)r->sum.restorations,
	                      "mtbf_min", minutes(uptime_mtbf_minutes(r)), "mttr_min", minutes(uptime_mttr_minutes(r)));

	if (o != NULL)
		json_object_set_new(o, "ms", json_pack("{s:I, s:I, s:I, s:I, s:I}", "up", (json_int_t)r->sum.up_ms,
		                                       "offline", (json_int_t)r->sum.offline_ms, "out_of_service",
		                                       (json_int_t)r->sum.out_of_service_ms, "maintenance",
		                                       (json_int_t)r->sum.maintenance_ms, "unknown",
		                                       (json_int_t)r->sum.unknown_ms));
	if (o == NULL || is_total)
		return o;
	json_object_set_new(o, by == UPTIME_BY_MACHINE ? "serial" : by == UPTIME_BY_SITE ? "site"
	                       : by == UPTIME_BY_CUSTOMER ? "customer" : "distributor", json_string(r->key));
	if (by == UPTIME_BY_MACHINE) {
		json_object_set_new(o, "state", json_string(downtime_state_name(r->sum.state_at_end)));
		if (r->sum.reason[0] != '\0')
			json_object_set_new(o, "reason", json_string(r->sum.reason));
		if (iso(r->sum.since_ms, since, sizeof(since)) != NULL)
			json_object_set_new(o, "since", json_string(since));
	}
	return o;
}

json_t *uptime_report_json(const struct uptime_report *r, enum uptime_by by)
{
	static const char *const names[] = { "total", "machine", "site", "customer", "distributor" };
	char from[40], to[40];
	json_t *rows = json_array(), *doc;
	size_t i;

	for (i = 0; rows != NULL && i < r->nrows; i++)
		if (json_array_append_new(rows, row_json(&r->rows[i], by, 0)) != 0) {
			json_decref(rows);
			return NULL;
		}
	clock_format_iso(r->from_ms, from, sizeof(from));
	clock_format_iso(r->to_ms, to, sizeof(to));
	doc = json_pack("{s:s, s:s, s:s, s:b, s:o, s:o}", "from", from, "to", to, "by", names[by], "business_hours",
	                r->business_hours, "total", row_json(&r->total, by, 1), "rows", rows);
	return doc;
}
