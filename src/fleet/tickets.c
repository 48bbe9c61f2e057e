#include "fleet/tickets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/grants.h"
#include "access/roles.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/forecast.h"
#include "fleet/inventory.h"
#include "ingest/privacy.h"
#include "notify/outbox.h"
#include "records/reports.h"

#define MOD "tickets"
#define REPORT_TEXT_MAX (STORE_TICKET_TEXT_BLOB_MAX - 128) /* the report's JSON, bytes, before sealing */

static const char *const states[] = { "open", "assigned", "in_progress", "waiting_customer", "resolved", "closed" };
#define NSTATES (sizeof(states) / sizeof(states[0]))

enum { S = TICKET_SERVICE, C = TICKET_CUSTOMER };

/* allowed[from][to]: the sides that may make the step with a state change.
 * open -> assigned is an assignment's, -> closed a close's: never here. */
static const unsigned char allowed[NSTATES][NSTATES] = {
	/*                  open   assigned in_progress waiting resolved closed */
	/* open */        { 0,     0,       0,          0,      0,       0 },
	/* assigned */    { 0,     0,       S,          S,      S,       0 },
	/* in_progress */ { 0,     0,       0,          S,      S,       0 },
	/* waiting */     { 0,     0,       S | C,      0,      S,       0 },
	/* resolved */    { S | C, 0,       0,          0,      0,       0 },
	/* closed */      { S | C, 0,       0,          0,      0,       0 },
};

static int state_index(const char *state)
{
	size_t i;

	for (i = 0; state != NULL && i < NSTATES; i++)
		if (strcmp(states[i], state) == 0)
			return (int)i;
	return -1;
}

int tickets_state_valid(const char *state) { return state_index(state) >= 0; }

int tickets_transition_allowed(const char *from, const char *to, enum ticket_side side)
{
	int f = state_index(from), t = state_index(to);

	return f >= 0 && t >= 0 && (allowed[f][t] & (unsigned)side) != 0;
}

int tickets_close_allowed(const char *from, enum ticket_side side)
{
	int f = state_index(from);

	/* Work is reported by whoever did it: the service side, once someone is on it. */
	return side == TICKET_SERVICE && f >= 1 && f <= 4;
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

int tickets_text_check(const char *text, size_t max_chars, int optional, int *privacy)
{
	size_t chars;
	enum privacy_reason why;

	*privacy = PRIVACY_NONE;
	if (text == NULL || text[0] == '\0')
		return optional ? CC_OK : CC_ERR_INVALID;
	chars = utf8_chars(text);
	if (chars > max_chars || strlen(text) > PRIVACY_NOTE_SCAN_MAX)
		return CC_ERR_INVALID;
	why = privacy_scan_note(text, strlen(text));
	if (why != PRIVACY_NONE) {
		*privacy = (int)why;
		return CC_ERR_INVALID;
	}
	return CC_OK;
}

static int refuse(struct ticket_refusal *why, const char *field, int privacy)
{
	if (why != NULL) {
		why->field = field;
		why->privacy = privacy;
	}
	return CC_ERR_INVALID;
}

int tickets_report_check(const json_t *report, struct ticket_refusal *why, char **canonical)
{
	const json_t *work = json_object_get(report, "work"), *parts = json_object_get(report, "parts");
	const json_t *counters = json_object_get(report, "counters_reset"), *item;
	const char *key;
	json_t *value, *out, *out_parts, *out_counters;
	size_t i, k, n = 0;
	int privacy;

	*canonical = NULL;
	if (why != NULL)
		why->field = NULL, why->privacy = PRIVACY_NONE;
	if (!json_is_object(report))
		return refuse(why, "report", PRIVACY_NONE);
	json_object_foreach((json_t *)report, key, value) {
		if (strcmp(key, "work") != 0 && strcmp(key, "parts") != 0 && strcmp(key, "counters_reset") != 0)
			return refuse(why, "report", PRIVACY_NONE);
		n++;
	}
	(void)n;
	if (!json_is_string(work) || tickets_text_check(json_string_value(work), TICKET_TEXT_MAX, 0, &privacy) != CC_OK)
		return refuse(why, "work", json_is_string(work) ? privacy : PRIVACY_NONE);
	if (parts != NULL && (!json_is_array(parts) || json_array_size(parts) > TICKET_PARTS_MAX))
		return refuse(why, "parts", PRIVACY_NONE);
	if (counters != NULL && (!json_is_array(counters) || json_array_size(counters) > FS_COUNT))
		return refuse(why, "counters_reset", PRIVACY_NONE);
	json_array_foreach(parts, i, item) {
		/* A part number of the service reports' shape, or the part in a few words. */
		if (!json_is_string(item))
			return refuse(why, "parts", PRIVACY_NONE);
		if (!reports_part_valid(json_string_value(item)) &&
		    tickets_text_check(json_string_value(item), TICKET_PART_TEXT_MAX, 0, &privacy) != CC_OK)
			return refuse(why, "parts", privacy);
	}
	json_array_foreach(counters, i, item) {
		for (k = 0; k < FS_COUNT; k++)
			if (json_is_string(item) && strcmp(json_string_value(item), forecast_service_name((enum forecast_service)k)) == 0)
				break;
		if (k == FS_COUNT)
			return refuse(why, "counters_reset", PRIVACY_NONE);
	}
	out_parts = parts != NULL ? json_deep_copy(parts) : json_array();
	out_counters = counters != NULL ? json_deep_copy(counters) : json_array();
	out = json_pack("{s:O, s:o, s:o}", "work", work, "parts", out_parts, "counters_reset", out_counters);
	*canonical = out != NULL ? json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(out);
	if (*canonical == NULL)
		return CC_ERR_NOMEM;
	if (strlen(*canonical) > REPORT_TEXT_MAX) {
		free(*canonical);
		*canonical = NULL;
		return refuse(why, "report", PRIVACY_NONE);
	}
	return CC_OK;
}

/* ---- sealing ---- */

static void text_ad(struct seal_ad *ad, const struct store_ticket *t, int64_t seq, int64_t at_ms, const char *name)
{
	memset(ad, 0, sizeof(*ad));
	ad->kind = SEAL_TICKET;
	ad->org_id = t->customer_id;
	ad->subject_id = t->id;
	ad->seq = seq;
	ad->ts_ms = at_ms;
	ad->name = name;
}

int tickets_open_text(struct vault *v, const struct store_ticket *t, int which_description, char **text)
{
	struct seal_ad ad;
	uint8_t *pt = NULL;
	size_t len = 0;
	int rc;

	*text = NULL;
	text_ad(&ad, t, 0, t->opened_ms, which_description ? "description" : "title");
	if (which_description && t->description_len == 0)
		return CC_ERR_NOTFOUND;
	rc = vault_unseal(v, &ad, which_description ? t->description : t->title,
	                  which_description ? t->description_len : t->title_len, &pt, &len);
	if (rc == CC_OK)
		*text = (char *)pt;
	return rc;
}

int tickets_event_text(struct vault *v, const struct store_ticket *t, const struct store_ticket_event *e,
                       char **text)
{
	struct seal_ad ad;
	uint8_t *pt = NULL;
	size_t len = 0;
	int rc;

	*text = NULL;
	if (e->text_len == 0)
		return CC_ERR_NOTFOUND;
	text_ad(&ad, t, e->seq, e->at_ms, NULL);
	rc = vault_unseal(v, &ad, e->text, e->text_len, &pt, &len);
	if (rc == CC_OK)
		*text = (char *)pt;
	return rc;
}

/* ---- as documents ---- */

static const char *iso_of(int64_t ms, char *buf, size_t cap)
{
	clock_format_iso(ms, buf, cap);
	return buf;
}

struct history {
	struct vault *v;
	const struct store_ticket *t;
	json_t *list;
};

static int history_one(void *ctx, const struct store_ticket_event *e)
{
	struct history *h = ctx;
	json_t *item = json_object();
	char iso[40], *text = NULL;

	json_object_set_new(item, "seq", json_integer(e->seq));
	json_object_set_new(item, "at", json_string(iso_of(e->at_ms, iso, sizeof(iso))));
	json_object_set_new(item, "at_ms", json_integer(e->at_ms));
	json_object_set_new(item, "who", json_string(e->who));
	json_object_set_new(item, "what", json_string(e->what));
	if (e->detail[0] != '\0')
		json_object_set_new(item, "detail", json_string(e->detail));
	/* Words whose customer's key is gone are gone with it. */
	if (e->text_len > 0 && tickets_event_text(h->v, h->t, e, &text) == CC_OK) {
		json_t *report = strcmp(e->what, "closed") == 0 ? json_loads(text, 0, NULL) : NULL;

		if (report != NULL)
			json_object_set_new(item, "report", report);
		else
			json_object_set_new(item, "text", json_string(text));
	}
	free(text);
	json_array_append_new(h->list, item);
	return 0;
}

json_t *tickets_doc(struct vault *v, const struct store_ticket *t, int history)
{
	struct store *st = vault_store(v);
	struct store_machine mr, *m = &mr;
	json_t *doc = json_object();
	struct store_org org;
	struct store_site site;
	char iso[40], *text = NULL;

	if (doc == NULL || st->ops->machine_get(st, t->machine_id, m) != CC_OK) {
		json_decref(doc);
		return NULL;
	}
	json_object_set_new(doc, "id", json_integer(t->id));
	json_object_set_new(doc, "serial", json_string(m->serial));
	if (st->ops->org_get(st, t->customer_id, &org) == CC_OK)
		json_object_set_new(doc, "customer", json_string(org.name));
	if (m->site_id != 0 && st->ops->site_get(st, m->site_id, &site) == CC_OK)
		json_object_set_new(doc, "site", json_string(site.name));
	json_object_set_new(doc, "state", json_string(t->state));
	json_object_set_new(doc, "assignee", t->assignee[0] ? json_string(t->assignee) : json_null());
	json_object_set_new(doc, "alert", t->alert_id ? json_integer(t->alert_id) : json_null());
	json_object_set_new(doc, "opened", json_string(iso_of(t->opened_ms, iso, sizeof(iso))));
	json_object_set_new(doc, "opened_ms", json_integer(t->opened_ms));
	json_object_set_new(doc, "opened_by", json_string(t->opened_by));
	json_object_set_new(doc, "updated", json_string(iso_of(t->updated_ms, iso, sizeof(iso))));
	if (t->closed_ms != 0)
		json_object_set_new(doc, "closed", json_string(iso_of(t->closed_ms, iso, sizeof(iso))));
	json_object_set_new(doc, "title", json_string(tickets_open_text(v, t, 0, &text) == CC_OK ? text : ""));
	free(text);
	if (tickets_open_text(v, t, 1, &text) == CC_OK)
		json_object_set_new(doc, "description", json_string(text));
	free(text);
	if (history) {
		struct history h = { v, t, json_array() };

		if (st->ops->tickets->events(st, t->id, history_one, &h) < 0) {
			json_decref(h.list);
			json_decref(doc);
			return NULL;
		}
		json_object_set_new(doc, "history", h.list);
	}
	return doc;
}

/* ---- notifications ---- */

/* Names the ticket, the machine and its site, the state and the assignee's
 * login; never the people's words. */
static int notify(struct vault *v, const struct store_ticket *t, const char *kind)
{
	struct store *s = vault_store(v);
	struct store_machine m;
	struct store_site site;
	struct user_info u;
	char opened[40];
	json_t *data;
	int rc;

	rc = s->ops->machine_get(s, t->machine_id, &m);
	if (rc != CC_OK)
		return rc;
	site.name[0] = '\0';
	if (m.site_id != 0 && s->ops->site_get(s, m.site_id, &site) != CC_OK)
		site.name[0] = '\0';
	clock_format_iso(t->opened_ms, opened, sizeof(opened));
	data = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "ticket_id", (json_int_t)t->id, "serial", m.serial, "site",
	                 site.name, "state", t->state, "assignee", t->assignee, "opened_at", opened);
	if (data == NULL)
		return CC_ERR_NOMEM;
	if (t->alert_id != 0)
		json_object_set_new(data, "alert_id", json_integer(t->alert_id));
	/* The customer's people and endpoints, and the endpoints above it (its service company's). */
	rc = notify_enqueue(v, t->customer_id, kind, data, NULL);
	if (rc == CC_OK && t->assignee[0] != '\0') {
		char hash[512];

		if (users_find(v, t->assignee, &u, hash, sizeof(hash)) == CC_OK)
			rc = notify_enqueue_user(v, u.id, kind, data, NULL);
		memset(hash, 0, sizeof(hash));
	}
	json_decref(data);
	return rc;
}

/* ---- changes ---- */

/* One change: the ticket as read in the transaction, changed by fn, then a
 * line of history with its sealed text (may be NULL). */
struct change {
	const char *who;
	const char *what;
	char detail[80];
	const char *text;
	const char *notify_kind;
	int (*fn)(struct change *c, struct store_ticket *t);
	const char *state;
	enum ticket_side side;
	const struct user_info *assignee;
};

static int apply(struct vault *v, int64_t id, struct change *c)
{
	struct store *s = vault_store(v);
	struct store_ticket *t = calloc(1, sizeof(*t));
	struct store_ticket_event *e = calloc(1, sizeof(*e));
	struct seal_ad ad;
	int rc;

	if (t == NULL || e == NULL) {
		free(t);
		free(e);
		return CC_ERR_NOMEM;
	}
	rc = s->ops->begin(s);
	if (rc != CC_OK)
		goto done;
	rc = s->ops->tickets->get(s, id, t);
	if (rc == CC_OK)
		rc = c->fn(c, t);
	if (rc == CC_OK) {
		t->updated_ms = clock_now_ms();
		e->ticket_id = t->id;
		e->seq = ++t->events;
		e->at_ms = t->updated_ms;
		snprintf(e->who, sizeof(e->who), "%s", c->who);
		snprintf(e->what, sizeof(e->what), "%s", c->what);
		snprintf(e->detail, sizeof(e->detail), "%s", c->detail);
		if (c->text != NULL) {
			text_ad(&ad, t, e->seq, e->at_ms, NULL);
			rc = vault_seal_into(v, &ad, c->text, strlen(c->text), e->text, sizeof(e->text), &e->text_len);
		}
	}
	if (rc == CC_OK)
		rc = s->ops->tickets->update(s, t);
	if (rc == CC_OK)
		rc = s->ops->tickets->event_add(s, e);
	if (rc == CC_OK && c->notify_kind != NULL)
		rc = notify(v, t, c->notify_kind);
	rc = rc == CC_OK ? s->ops->commit(s) : (s->ops->rollback(s), rc);
done:
	free(t);
	free(e);
	return rc;
}

int tickets_open(struct vault *v, const struct ticket_open *req, struct ticket_refusal *why, int64_t *id)
{
	struct store *s = vault_store(v);
	struct store_ticket *t;
	struct store_ticket_event *e;
	struct store_alert al;
	struct seal_ad ad;
	int privacy, rc;

	if (why != NULL)
		why->field = NULL, why->privacy = PRIVACY_NONE;
	if (tickets_text_check(req->title, TICKET_TITLE_MAX, 0, &privacy) != CC_OK)
		return refuse(why, "title", privacy);
	if (tickets_text_check(req->description, TICKET_TEXT_MAX, 1, &privacy) != CC_OK)
		return refuse(why, "description", privacy);
	t = calloc(1, sizeof(*t));
	e = calloc(1, sizeof(*e));
	if (t == NULL || e == NULL) {
		free(t);
		free(e);
		return CC_ERR_NOMEM;
	}
	rc = s->ops->begin(s);
	if (rc != CC_OK)
		goto done;
	if (req->alert_id != 0) {
		rc = s->ops->alert_get(s, req->alert_id, &al);
		if (rc == CC_OK && al.machine_id != req->m->id)
			rc = CC_ERR_NOTFOUND;
	}
	t->machine_id = req->m->id;
	t->customer_id = req->m->customer_id;
	t->alert_id = req->alert_id;
	snprintf(t->state, sizeof(t->state), "open");
	t->opened_ms = t->updated_ms = clock_now_ms();
	snprintf(t->opened_by, sizeof(t->opened_by), "%s", req->who);
	t->events = 1;
	if (rc == CC_OK)
		rc = s->ops->tickets->add(s, t, &t->id);
	/* Sealed once the row has its id: the id is in the associated data. */
	if (rc == CC_OK) {
		text_ad(&ad, t, 0, t->opened_ms, "title");
		rc = vault_seal_into(v, &ad, req->title, strlen(req->title), t->title, sizeof(t->title), &t->title_len);
	}
	if (rc == CC_OK && req->description != NULL && req->description[0] != '\0') {
		text_ad(&ad, t, 0, t->opened_ms, "description");
		rc = vault_seal_into(v, &ad, req->description, strlen(req->description), t->description,
		                     sizeof(t->description), &t->description_len);
	}
	if (rc == CC_OK)
		rc = s->ops->tickets->update(s, t);
	if (rc == CC_OK) {
		e->ticket_id = t->id;
		e->seq = 1;
		e->at_ms = t->opened_ms;
		snprintf(e->who, sizeof(e->who), "%s", req->who);
		snprintf(e->what, sizeof(e->what), "opened");
		if (req->alert_id != 0)
			snprintf(e->detail, sizeof(e->detail), "alert %lld", (long long)req->alert_id);
		rc = s->ops->tickets->event_add(s, e);
	}
	if (rc == CC_OK)
		rc = notify(v, t, NOTIFY_KIND_TICKET_OPENED);
	rc = rc == CC_OK ? s->ops->commit(s) : (s->ops->rollback(s), rc);
	if (rc == CC_OK && id != NULL)
		*id = t->id;
done:
	free(t);
	free(e);
	return rc;
}

static int do_comment(struct change *c, struct store_ticket *t)
{
	(void)c;
	return strcmp(t->state, "closed") == 0 ? CC_ERR_STATE : CC_OK;
}

int tickets_comment(struct vault *v, int64_t id, const char *who, const char *text, struct ticket_refusal *why)
{
	struct change c;
	int privacy;

	if (tickets_text_check(text, TICKET_TEXT_MAX, 0, &privacy) != CC_OK)
		return refuse(why, "text", privacy);
	memset(&c, 0, sizeof(c));
	c.who = who, c.what = "commented", c.text = text, c.fn = do_comment;
	return apply(v, id, &c);
}

static int do_assign(struct change *c, struct store_ticket *t)
{
	if (strcmp(t->state, "resolved") == 0 || strcmp(t->state, "closed") == 0)
		return CC_ERR_STATE;
	snprintf(t->assignee, sizeof(t->assignee), "%s", c->assignee->login);
	if (strcmp(t->state, "open") == 0)
		snprintf(t->state, sizeof(t->state), "assigned");
	snprintf(c->detail, sizeof(c->detail), "%s", c->assignee->login);
	return CC_OK;
}

int tickets_assign(struct vault *v, int64_t id, const char *who, const struct user_info *assignee)
{
	struct change c;

	memset(&c, 0, sizeof(c));
	c.who = who, c.what = "assigned", c.fn = do_assign, c.assignee = assignee;
	c.notify_kind = NOTIFY_KIND_TICKET_ASSIGNED;
	return apply(v, id, &c);
}

static int do_state(struct change *c, struct store_ticket *t)
{
	int reopen = strcmp(c->state, "open") == 0;

	if (!tickets_transition_allowed(t->state, c->state, c->side)) {
		/* A step the other side could make is a permission matter, anything else a state one. */
		enum ticket_side other = c->side == TICKET_SERVICE ? TICKET_CUSTOMER : TICKET_SERVICE;

		return tickets_transition_allowed(t->state, c->state, other) ? CC_ERR_PERM : CC_ERR_STATE;
	}
	snprintf(t->state, sizeof(t->state), "%s", reopen && t->assignee[0] != '\0' ? "assigned" : c->state);
	if (reopen) {
		c->what = "reopened";
		t->closed_ms = 0;
	}
	snprintf(c->detail, sizeof(c->detail), "%s", t->state);
	return CC_OK;
}

int tickets_set_state(struct vault *v, int64_t id, const char *who, enum ticket_side side, const char *state)
{
	struct change c;

	if (!tickets_state_valid(state))
		return CC_ERR_INVALID;
	memset(&c, 0, sizeof(c));
	c.who = who, c.what = "state", c.fn = do_state, c.state = state, c.side = side;
	return apply(v, id, &c);
}

static int do_close(struct change *c, struct store_ticket *t)
{
	if (!tickets_close_allowed(t->state, c->side))
		return c->side != TICKET_SERVICE ? CC_ERR_PERM : CC_ERR_STATE;
	snprintf(t->state, sizeof(t->state), "closed");
	t->closed_ms = clock_now_ms();
	snprintf(c->detail, sizeof(c->detail), "closed");
	return CC_OK;
}

int tickets_close(struct vault *v, int64_t id, const char *who, enum ticket_side side, const json_t *report,
                  struct ticket_refusal *why)
{
	struct change c;
	char *canonical = NULL;
	int rc = tickets_report_check(report, why, &canonical);

	if (rc != CC_OK)
		return rc;
	memset(&c, 0, sizeof(c));
	c.who = who, c.what = "closed", c.fn = do_close, c.side = side, c.text = canonical;
	c.notify_kind = NOTIFY_KIND_TICKET_CLOSED;
	rc = apply(v, id, &c);
	free(canonical);
	return rc;
}

int tickets_may_assign(struct vault *v, const struct store_machine *m, const struct user_info *u)
{
	struct store *s = vault_store(v);
	const struct role *role = role_find(u->role);

	if (role == NULL || u->deactivated || u->deletion_requested_ms != 0 || (role->classes & CLASS_SERVICE) == 0)
		return 0;
	if (role->granted_only) /* a subcontractor, never the customer's own site staff */
		return u->org_id != m->customer_id && grants_cover(v, u->id, m, "support");
	return u->org_id != m->customer_id && inventory_org_contains(s, u->org_id, m->customer_id);
}
