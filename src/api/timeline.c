/* timeline.c - GET /api/v1/machines/{serial}/timeline: one machine's
 * story over a period, merged from its state changes (fleet/downtime.h),
 * its events (errors with their catalogue entry, cleanings, maintenance,
 * updates, power), its alerts, its commands, its progress in rollouts, its
 * configuration changes and reports, its service reports and tickets, by time, each item cut to the caller's data
 * classes (docs/OPERATIONS.md "Timeline"). */
#include "api/internal.h"

#include <stdlib.h>
#include <string.h>

#include "access/roles.h"
#include "common/clock.h"
#include "common/err.h"
#include "fleet/diagnostics.h"
#include "fleet/downtime.h"
#include "fleet/jobs.h"
#include "fleet/machine_config.h"
#include "ingest/catalogue.h"
#include "ingest/errors.h"
#include "records/records.h"

#define DAY_MS INT64_C(86400000)
#define TIMELINE_MAX 1000    /* items one answer holds at most (the newest are kept) */
#define TIMELINE_SPAN_MAX (INT64_C(92) * DAY_MS)

struct item {
	int64_t at_ms;
	int order;   /* ties: in the order they were read */
	json_t *doc;
};

struct timeline {
	const struct store_machine *m;
	const struct role *role;
	enum error_lang lang;
	int64_t from_ms, to_ms;
	struct item *items;
	size_t n, cap;
	int truncated;
	int rc;
};

static int sees(const struct timeline *t, unsigned data_class)
{
	return (t->role->classes & data_class) != 0;
}

static void add(struct timeline *t, int64_t at_ms, const char *kind, unsigned data_class, json_t *doc)
{
	char when[40];

	if (doc == NULL) {
		t->rc = CC_ERR_NOMEM;
		return;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		struct item *grown = realloc(t->items, cap * sizeof(*grown));

		if (grown == NULL) {
			json_decref(doc);
			t->rc = CC_ERR_NOMEM;
			return;
		}
		t->items = grown;
		t->cap = cap;
	}
	json_object_set_new(doc, "time", json_string(api_iso_time(at_ms, when, sizeof(when))));
	json_object_set_new(doc, "kind", json_string(kind));
	json_object_set_new(doc, "data_class", json_string(catalogue_class_name(data_class)));
	t->items[t->n].at_ms = at_ms;
	t->items[t->n].order = (int)t->n;
	t->items[t->n++].doc = doc;
}

static int on_state(void *ctx, const struct store_state_change *c, int before)
{
	struct timeline *t = ctx;
	char until[40];

	if (before || c->at_ms < t->from_ms)
		return 0;
	switch (c->kind) {
	case STATE_LINK:
		if (sees(t, CLASS_STATUS))
			add(t, c->at_ms, c->value ? "online" : "offline", CLASS_STATUS,
			    c->value || c->reason[0] == '\0' ? json_object()
			                                     : json_pack("{s:s}", "reason", c->reason));
		break;
	case STATE_FAULT:
		if (sees(t, CLASS_TECHNICAL))
			add(t, c->at_ms, c->value ? "out_of_service" : "fault_cleared", CLASS_TECHNICAL,
			    json_pack("{s:s}", "code", c->code));
		break;
	case STATE_MAINTENANCE:
		if (!sees(t, CLASS_STATUS))
			break;
		if (c->value == 0)
			add(t, c->at_ms, "maintenance_ended", CLASS_STATUS, json_pack("{s:s}", "by", c->reason));
		else
			add(t, c->at_ms, "maintenance", CLASS_STATUS,
			    json_pack("{s:s, s:s, s:s}", "reason", c->code, "until",
			              api_iso_time(c->value, until, sizeof(until)), "by", c->reason));
		break;
	}
	return t->rc;
}

/* An event as the machine sent it, less seq and ts; an error with what
 * the catalogue says of its code. */
static int on_event(void *ctx, const struct record_out *r)
{
	struct timeline *t = ctx;
	json_t *doc = json_loadb(r->body, r->body_len, 0, NULL);
	const char *type = json_string_value(json_object_get(doc, "type"));
	const struct catalogue_event *ce = type != NULL ? catalogue_find_event(type) : NULL;

	/* Brews are the usage statistics, not the machine's story. */
	if (ce == NULL || strcmp(type, "brew") == 0 || !sees(t, ce->data_class)) {
		json_decref(doc);
		return 0;
	}
	type = ce->type; /* the catalogue's: the doc's own goes with its key */
	json_object_del(doc, "seq");
	json_object_del(doc, "ts");
	json_object_del(doc, "type");
	if (strcmp(type, "error") == 0) {
		const struct error_entry *e = errors_find(t->m->model, json_string_value(json_object_get(doc, "code")));

		if (e != NULL)
			json_object_set_new(doc, "explained", json_pack("{s:s, s:s, s:s}", "text", e->text[t->lang], "action",
			                                                e->action[t->lang], "severity", e->severity));
	}
	add(t, r->ts_ms, type, ce->data_class, doc);
	return t->rc;
}

static int on_command(void *ctx, const struct store_command *c)
{
	struct timeline *t = ctx;
	const char *state = jobs_target_state(c);
	json_t *doc;

	if (c->created_ms < t->from_ms || c->created_ms >= t->to_ms || !sees(t, CLASS_TECHNICAL))
		return 0;
	doc = json_pack("{s:s, s:I, s:I, s:s}", "name", c->name, "id", (json_int_t)c->id, "job", (json_int_t)c->job_id,
	                "state", state);
	if (doc != NULL && c->failed_ms != 0 && c->failure[0] != '\0')
		json_object_set_new(doc, "reason", json_string(c->failure));
	add(t, c->created_ms, "command", CLASS_TECHNICAL, doc);
	return t->rc;
}

/* A diagnostics bundle: when it was asked for, and when it arrived. */
static int on_diagnostics(void *ctx, const struct store_diag *d)
{
	struct timeline *t = ctx;

	if (d->requested_ms >= t->from_ms && d->requested_ms < t->to_ms)
		add(t, d->requested_ms, "diagnostics", CLASS_TECHNICAL,
		    json_pack("{s:I, s:s}", "bundle", (json_int_t)d->id, "state", diagnostics_state_name(d->state)));
	if (t->rc == CC_OK && d->state == DIAG_COMPLETE && d->completed_ms >= t->from_ms && d->completed_ms < t->to_ms)
		add(t, d->completed_ms, "diagnostics_uploaded", CLASS_TECHNICAL,
		    json_pack("{s:I, s:I}", "bundle", (json_int_t)d->id, "size", (json_int_t)d->received));
	return t->rc;
}

static int on_report(void *ctx, const struct record_out *r)
{
	struct timeline *t = ctx;
	json_t *doc = json_loadb(r->body, r->body_len, 0, NULL), *brief;

	if (doc == NULL)
		return 0;
	brief = json_pack("{s:O?, s:O?, s:O?, s:I}", "type", json_object_get(doc, "type"), "work",
	                  json_object_get(doc, "work"), "outcome", json_object_get(doc, "outcome"), "seq",
	                  (json_int_t)r->seq);
	json_decref(doc);
	add(t, r->ts_ms, "service_report", CLASS_SERVICE, brief);
	return t->rc;
}

/* Alerts name the rule to every reader of status; the cause's detail (an
 * error code, a consumable) only to readers of technical data. */
static int on_alert(void *ctx, const struct store_alert *al)
{
	struct timeline *t = ctx;
	json_t *doc;

	if (al->opened_ms >= t->from_ms && al->opened_ms < t->to_ms) {
		doc = json_pack("{s:I, s:s, s:s}", "alert", (json_int_t)al->id, "rule", al->rule, "severity",
		                al->severity);
		if (doc != NULL && sees(t, CLASS_TECHNICAL))
			json_object_set_new(doc, "cause", json_string(al->cause));
		add(t, al->opened_ms, "alert_opened", CLASS_STATUS, doc);
	}
	if (t->rc == CC_OK && al->resolved_ms != 0 && al->resolved_ms >= t->from_ms && al->resolved_ms < t->to_ms)
		add(t, al->resolved_ms, "alert_resolved", CLASS_STATUS,
		    json_pack("{s:I, s:s, s:s}", "alert", (json_int_t)al->id, "rule", al->rule, "by", al->resolved_by));
	return t->rc;
}

/* A ticket's steps (opened, assigned, state, closed, reopened), never its words. */
static int on_ticket(void *ctx, const struct store_ticket_event *e)
{
	struct timeline *t = ctx;
	json_t *doc;

	if (strcmp(e->what, "commented") == 0)
		return 0;
	doc = json_pack("{s:I, s:s, s:s}", "ticket", (json_int_t)e->ticket_id, "what", e->what, "by", e->who);
	if (doc != NULL && e->detail[0] != '\0')
		json_object_set_new(doc, "detail", json_string(e->detail));
	add(t, e->at_ms, "ticket", CLASS_SERVICE, doc);
	return t->rc;
}

/* What the machine reported of an update (fleet/rollouts.h): each change of
 * state, in a rollout or on an offer made to it alone (rollout null). */
static int on_update_progress(void *ctx, const struct store_rollout_report *rep)
{
	struct timeline *t = ctx;
	json_t *doc = json_pack("{s:o, s:s, s:s, s:I}", "rollout",
	                        rep->rollout_id != 0 ? json_integer(rep->rollout_id) : json_null(), "sha256",
	                        rep->sha256, "state", rep->state, "percent", (json_int_t)rep->percent);

	if (doc != NULL && rep->reason[0] != '\0')
		json_object_set_new(doc, "reason", json_string(rep->reason));
	add(t, rep->at_ms, "update_progress", CLASS_TECHNICAL, doc);
	return t->rc;
}

/* Remote configuration: each desired version set, and the machine's last report of it. */
static int on_config(void *ctx, int64_t at_ms, const char *what, int64_t version, const char *who)
{
	struct timeline *t = ctx;

	add(t, at_ms, "config", CLASS_TECHNICAL,
	    json_pack("{s:s, s:I, s:s}", "what", what, "version", (json_int_t)version, "by", who));
	return t->rc;
}

static int by_time(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	if (x->at_ms != y->at_ms)
		return (x->at_ms > y->at_ms) - (x->at_ms < y->at_ms);
	return x->order - y->order;
}

void api_timeline(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct caller *s = api_caller(r);
	struct store_machine m;
	struct timeline t;
	int64_t now = clock_now_ms();
	json_t *list, *doc;
	size_t i, first;
	char from[40], to[40];
	int rc = CC_OK;

	if (s == NULL || api_find_machine(r, s, &m) != CC_OK)
		return;
	memset(&t, 0, sizeof(t));
	t.m = &m;
	t.role = s->role;
	t.lang = errors_lang(http_query(r, "lang"));
	if (api_parse_ms(http_query(r, "to"), now, &t.to_ms) != CC_OK ||
	    api_parse_ms(http_query(r, "from"), (t.to_ms < now ? t.to_ms : now) - 7 * DAY_MS, &t.from_ms) != CC_OK ||
	    t.from_ms >= t.to_ms || t.to_ms - t.from_ms > TIMELINE_SPAN_MAX) {
		http_reply_error(r, 400, "invalid", "from, to: epoch ms, from before to, at most 92 days apart "
		                                    "(default the last 7 days)");
		return;
	}
	if (api_audit_access(r, s, "machine.timeline", &m, "ok") != CC_OK)
		return;
	rc = st->ops->state_changes(st, m.id, t.from_ms, t.to_ms, on_state, &t);
	if (rc == CC_OK && (sees(&t, CLASS_TECHNICAL) || sees(&t, CLASS_SERVICE)))
		rc = records_get(a->vault, &m, RECORD_EVENT, t.from_ms, t.to_ms, on_event, &t);
	if (rc == CC_OK)
		rc = st->ops->command_list(st, m.id, on_command, &t);
	if (rc == CC_OK && sees(&t, CLASS_TECHNICAL))
		rc = st->ops->diagnostics->list(st, m.id, TIMELINE_MAX, on_diagnostics, &t);
	if (rc == CC_OK && sees(&t, CLASS_TECHNICAL))
		rc = st->ops->rollouts->reports(st, m.id, t.from_ms, t.to_ms, on_update_progress, &t);
	if (rc == CC_OK && sees(&t, CLASS_TECHNICAL))
		rc = machine_config_timeline(a->vault, &m, t.from_ms, t.to_ms, on_config, &t);
	if (rc == CC_OK && sees(&t, CLASS_SERVICE))
		rc = records_get(a->vault, &m, RECORD_REPORT, t.from_ms, t.to_ms, on_report, &t);
	if (rc == CC_OK && sees(&t, CLASS_SERVICE))
		rc = st->ops->tickets->machine_events(st, m.id, t.from_ms, t.to_ms, on_ticket, &t);
	if (rc == CC_OK && sees(&t, CLASS_STATUS)) {
		struct store_alert_filter af;

		memset(&af, 0, sizeof(af));
		af.machine_id = m.id;
		rc = st->ops->alert_list(st, &af, on_alert, &t);
	}
	if (rc == CC_OK)
		rc = t.rc;
	list = rc == CC_OK ? json_array() : NULL;
	if (list != NULL) {
		if (t.n > 1) /* t.items is NULL when there are none */
			qsort(t.items, t.n, sizeof(*t.items), by_time);
		first = t.n > TIMELINE_MAX ? t.n - TIMELINE_MAX : 0;
		for (i = first; i < t.n; i++)
			json_array_append(list, t.items[i].doc);
		doc = json_pack("{s:s, s:s, s:s, s:o, s:b}", "serial", m.serial, "from",
		                api_iso_time(t.from_ms, from, sizeof(from)), "to", api_iso_time(t.to_ms, to, sizeof(to)),
		                "items", list, "truncated", first > 0);
		http_reply_json(r, 200, doc);
	} else {
		http_reply_error(r, 500, "internal", "the timeline could not be read");
	}
	for (i = 0; i < t.n; i++)
		json_decref(t.items[i].doc);
	free(t.items);
}
