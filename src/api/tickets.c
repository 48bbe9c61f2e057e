/* tickets.c - /api/v1/tickets (fleet/tickets.h): service tickets of the
 * machines in the caller's scope whose customer consented to support. The
 * customer's people are its customer side; the service company above it
 * (and subcontractors granted the machine) the service side. A ticket out
 * of scope answers like one that does not exist. */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/policy.h"
#include "common/err.h"
#include "fleet/inventory.h"
#include "fleet/tickets.h"
#include "ingest/privacy.h"

#define TICKETS_PAGE_MAX 500

static int sees(struct api *a, const struct caller *s, const struct store_machine *m, const char *purpose)
{
	if (!api_machine_visible(a, s, m, purpose))
		return 0;
	return policy_allows(a->vault, m->customer_id, purpose) ? 1 : -1;
}

/* The customer's own people (its managers, its site staff) are its side;
 * everyone else who sees the machine serves it. */
static enum ticket_side side_of(const struct caller *s, const struct store_machine *m)
{
	return s->user.org_id == m->customer_id ? TICKET_CUSTOMER : TICKET_SERVICE;
}

static void reply_scope(struct http_req *r, int verdict, const char *what)
{
	if (verdict < 0)
		http_reply_error(r, 403, "consent_required",
		                 "the machine's customer has not consented to this purpose in the current policy");
	else
		http_reply_error(r, 404, "not_found", what);
}

/* A refused text: which field and which detector, never the text. */
static void reply_refusal(struct http_req *r, const struct caller *s, const struct store_machine *m,
                          const char *action, const struct ticket_refusal *why, const char *shape)
{
	char msg[200];

	if (why->privacy != PRIVACY_NONE)
		snprintf(msg, sizeof(msg), "the %s looks like personal data (%s); tickets are about machines, not people: "
		         "nothing was stored", why->field != NULL ? why->field : "text",
		         privacy_reason_name((enum privacy_reason)why->privacy));
	else
		snprintf(msg, sizeof(msg), "%s", shape);
	if (api_audit_access(r, s, action, m, "denied") == CC_OK)
		http_reply_error(r, 400, "invalid", msg);
}

static void reply_ticket(struct http_req *r, const struct caller *s, int64_t id, const struct store_machine *m,
                         const char *action, int status)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct store_ticket *t = calloc(1, sizeof(*t));
	json_t *doc = NULL;

	if (t != NULL && st->ops->tickets->get(st, id, t) == CC_OK)
		doc = tickets_doc(a->vault, t, 1);
	free(t);
	if (doc == NULL) {
		http_reply_error(r, 500, "internal", "the ticket could not be read");
		return;
	}
	if (api_audit_access(r, s, action, m, "ok") != CC_OK) {
		json_decref(doc);
		return;
	}
	http_reply_json(r, status, doc);
}

void api_tickets_open(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store *st = vault_store(a->vault);
	json_t *body = http_body(r), *alert = json_object_get(body, "alert");
	const char *serial = api_field(r, "serial");
	struct store_machine m;
	struct ticket_open req;
	struct ticket_refusal why = { NULL, PRIVACY_NONE };
	int64_t id = 0;
	int v, rc;

	if (s == NULL)
		return;
	if (serial == NULL || (alert != NULL && !json_is_null(alert) && (!json_is_integer(alert) ||
	                                                                 json_integer_value(alert) <= 0))) {
		http_reply_error(r, 400, "invalid", "send serial (a machine's), title, and optionally description and "
		                                    "alert (an alert's id)");
		return;
	}
	v = inventory_serial_valid(serial) && st->ops->machine_find(st, serial, &m) == CC_OK
	        ? sees(a, s, &m, http_route(r)->purpose) : 0;
	if (v != 1) {
		if (api_audit_access(r, s, "ticket.open", NULL, "denied") == CC_OK)
			reply_scope(r, v, "no such machine");
		return;
	}
	memset(&req, 0, sizeof(req));
	req.m = &m;
	req.alert_id = json_is_integer(alert) ? json_integer_value(alert) : 0;
	req.title = api_field(r, "title");
	req.description = api_field(r, "description");
	req.who = s->actor;
	if (json_object_get(body, "description") != NULL && !json_is_string(json_object_get(body, "description")))
		rc = CC_ERR_INVALID;
	else
		rc = tickets_open(a->vault, &req, &why, &id);
	if (rc == CC_ERR_INVALID) {
		char shape[120];

		snprintf(shape, sizeof(shape), "title: 1 to %d characters; description: at most %d", TICKET_TITLE_MAX,
		         TICKET_TEXT_MAX);
		reply_refusal(r, s, &m, "ticket.open", &why, shape);
		return;
	}
	if (rc == CC_ERR_NOTFOUND) {
		if (api_audit_access(r, s, "ticket.open", &m, "denied") == CC_OK)
			http_reply_error(r, 404, "not_found", "no such alert of this machine");
		return;
	}
	if (rc != CC_OK) {
		http_reply_error(r, 500, "internal", "the ticket could not be opened");
		return;
	}
	reply_ticket(r, s, id, &m, "ticket.open", 201);
}

/* The {id} of the path: a ticket of a machine the caller sees. */
static int path_ticket(struct http_req *r, const struct caller *s, struct store_ticket *t, struct store_machine *m)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	const char *text = http_param(r, "id");
	char *end;
	long long id = text != NULL ? strtoll(text, &end, 10) : 0;
	int v = text != NULL && end != text && *end == '\0' && id > 0 && st->ops->tickets->get(st, id, t) == CC_OK &&
	                st->ops->machine_get(st, t->machine_id, m) == CC_OK
	        ? sees(a, s, m, http_route(r)->purpose) : 0;

	if (v != 1) {
		reply_scope(r, v, "no such ticket");
		return CC_ERR_NOTFOUND;
	}
	return CC_OK;
}

void api_tickets_get(struct http_req *r)
{
	struct caller *s = api_caller(r);
	struct store_ticket *t;
	struct store_machine m;

	if (s == NULL)
		return;
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		http_reply_error(r, 500, "internal", "out of memory");
		return;
	}
	if (path_ticket(r, s, t, &m) == CC_OK)
		reply_ticket(r, s, t->id, &m, "ticket.get", 200);
	free(t);
}

/* What a page decided of each machine: a service company's tickets come
 * from many machines in turn, so the verdict is remembered per machine,
 * not just for the last one. */
#define LIST_MACHINES_SEEN 128

struct machine_verdict {
	int64_t id;
	int shown; /* in scope, consented, at the site asked for */
};

struct lister {
	struct api *a;
	const struct caller *s;
	const char *purpose, *site;
	struct machine_verdict seen[LIST_MACHINES_SEEN];
	size_t nseen;
	json_t *list;
	size_t limit;
	int64_t last_id;
	int more, rc;
};

static int machine_shown(struct lister *l, int64_t machine_id)
{
	struct store *st = vault_store(l->a->vault);
	struct store_machine m;
	struct store_site site;
	int shown;

	for (size_t i = 0; i < l->nseen; i++)
		if (l->seen[i].id == machine_id)
			return l->seen[i].shown;
	shown = st->ops->machine_get(st, machine_id, &m) == CC_OK && sees(l->a, l->s, &m, l->purpose) == 1 &&
	        (l->site == NULL || (m.site_id != 0 && st->ops->site_get(st, m.site_id, &site) == CC_OK &&
	                             strcmp(site.name, l->site) == 0));
	if (l->nseen == LIST_MACHINES_SEEN)
		l->nseen = 0; /* a page rarely spans more machines; start over */
	l->seen[l->nseen].id = machine_id;
	l->seen[l->nseen++].shown = shown;
	return shown;
}

/* The store narrowed the list to the scope by clear columns; each ticket
 * shown is still judged by its machine's verified row. */
static int list_one(void *ctx, const struct store_ticket *t)
{
	struct lister *l = ctx;
	json_t *doc;

	if (!machine_shown(l, t->machine_id))
		return 0;
	if (json_array_size(l->list) == l->limit) {
		l->more = 1;
		return 1;
	}
	doc = tickets_doc(l->a->vault, t, 0);
	if (doc == NULL) {
		l->rc = CC_ERR_NOMEM;
		return 1;
	}
	json_array_append_new(l->list, doc);
	l->last_id = t->id;
	return 0;
}

void api_tickets_list(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store *st = vault_store(a->vault);
	const char *serial = http_query(r, "machine"), *customer = http_query(r, "customer");
	const char *state = http_query(r, "state");
	struct store_ticket_filter f;
	struct store_machine m;
	struct api_scope sc;
	struct api_page pg;
	struct lister l;
	json_t *doc;
	int rc;

	if (s == NULL || api_page_params(r, 50, TICKETS_PAGE_MAX, &pg) != CC_OK)
		return;
	memset(&f, 0, sizeof(f));
	memset(&l, 0, sizeof(l));
	l.site = http_query(r, "site");
	if ((state != NULL && strcmp(state, "unclosed") != 0 && !tickets_state_valid(state)) ||
	    (l.site != NULL && !inventory_name_valid(l.site))) {
		http_reply_error(r, 400, "invalid", "state: open, assigned, in_progress, waiting_customer, resolved, "
		                                    "closed or unclosed; site: a site's name");
		return;
	}
	f.unclosed = state != NULL && strcmp(state, "unclosed") == 0;
	f.state = state != NULL && !f.unclosed ? state : NULL;
	f.site_name = l.site;
	f.before_id = pg.has_cursor ? api_page_after_int(&pg) : 0;
	if (serial != NULL) {
		int v = inventory_serial_valid(serial) && st->ops->machine_find(st, serial, &m) == CC_OK
		        ? sees(a, s, &m, http_route(r)->purpose) : 0;

		if (v != 1) {
			reply_scope(r, v, "no such machine");
			return;
		}
		f.machine_id = m.id;
	}
	if (customer != NULL) {
		struct store_org org;

		if (api_find_customer(r, s, customer, &org) != CC_OK)
			return;
		f.customer_id = org.id;
	}
	if (api_scope_build(a, s, http_route(r)->purpose, &sc) != CC_OK) {
		api_scope_free(&sc);
		http_reply_error(r, 500, "internal", "the tickets could not be read");
		return;
	}
	f.scoped = 1;
	f.customers = sc.customers;
	f.ncustomers = sc.ncustomers;
	f.machines = sc.machines;
	f.nmachines = sc.nmachines;
	f.sites = sc.sites;
	f.nsites = sc.nsites;
	/* One customer in scope (the customer's own people): its index answers. */
	if (f.customer_id == 0 && sc.ncustomers == 1 && sc.nmachines == 0 && sc.nsites == 0)
		f.customer_id = sc.customers[0];
	l.a = a;
	l.s = s;
	l.purpose = http_route(r)->purpose;
	l.list = json_array();
	l.limit = pg.limit;
	rc = st->ops->tickets->list(st, &f, list_one, &l);
	api_scope_free(&sc);
	if (rc < 0 || l.rc != CC_OK) {
		json_decref(l.list);
		http_reply_error(r, 500, "internal", "the tickets could not be read");
		return;
	}
	if (api_audit_access(r, s, "ticket.list", f.machine_id ? &m : NULL, "ok") != CC_OK) {
		json_decref(l.list);
		return;
	}
	doc = json_object();
	json_object_set_new(doc, "tickets", l.list);
	if (l.more)
		api_page_next_int(doc, l.last_id);
	http_reply_json(r, 200, doc);
}

/* The answer to a change that did not happen. */
static void reply_change_error(struct http_req *r, const struct caller *s, const struct store_machine *m,
                               const char *action, int rc, const char *state_msg)
{
	int status = rc == CC_ERR_STATE ? 409 : rc == CC_ERR_PERM ? 403 : rc == CC_ERR_NOTFOUND ? 404 : 500;

	if (api_audit_access(r, s, action, m, status == 500 ? "error" : "denied") != CC_OK)
		return;
	http_reply_error(r, status, status == 409 ? "state" : status == 403 ? "forbidden" : status == 404 ? "not_found"
	                                                                                                 : "internal",
	                 status == 409 ? state_msg
	                 : status == 403 ? "the other side of the ticket makes this change"
	                 : status == 404 ? "no such ticket" : "the ticket could not be changed");
}

enum change_kind { CHANGE_COMMENT, CHANGE_ASSIGN, CHANGE_STATE, CHANGE_CLOSE };

static void change(struct http_req *r, enum change_kind kind, const char *action)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store_ticket *t;
	struct store_machine m;
	struct ticket_refusal why = { NULL, PRIVACY_NONE };
	char state_msg[120];
	int rc = CC_OK;

	if (s == NULL)
		return;
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		http_reply_error(r, 500, "internal", "out of memory");
		return;
	}
	if (path_ticket(r, s, t, &m) != CC_OK)
		goto done;
	snprintf(state_msg, sizeof(state_msg), "the ticket is %s", t->state);
	switch (kind) {
	case CHANGE_COMMENT:
		rc = tickets_comment(a->vault, t->id, s->actor, api_field(r, "text"), &why);
		if (rc == CC_ERR_INVALID) {
			char shape[80];

			snprintf(shape, sizeof(shape), "send text: 1 to %d characters", TICKET_TEXT_MAX);
			reply_refusal(r, s, &m, action, &why, shape);
			goto done;
		}
		break;
	case CHANGE_ASSIGN: {
		const char *login = api_field(r, "login");
		struct user_info u;
		char hash[512];
		int found;

		if (side_of(s, &m) != TICKET_SERVICE) {
			rc = CC_ERR_PERM;
			break;
		}
		found = login != NULL && inventory_name_valid(login) && users_find(a->vault, login, &u, hash, sizeof(hash)) == CC_OK;
		memset(hash, 0, sizeof(hash));
		if (!found || !tickets_may_assign(a->vault, &m, &u)) {
			if (api_audit_access(r, s, action, &m, "denied") == CC_OK)
				http_reply_error(r, 400, "invalid", "login: an account of the service company that serves the "
				                                    "machine (or a subcontractor granted it for support)");
			goto done;
		}
		rc = tickets_assign(a->vault, t->id, s->actor, &u);
		break;
	}
	case CHANGE_STATE: {
		const char *state = api_field(r, "state");

		rc = tickets_set_state(a->vault, t->id, s->actor, side_of(s, &m), state != NULL ? state : "");
		if (rc == CC_ERR_INVALID) {
			if (api_audit_access(r, s, action, &m, "denied") == CC_OK)
				http_reply_error(r, 400, "invalid", "state: in_progress, waiting_customer, resolved, or open to "
				                                    "reopen (assignments and closing have their own routes)");
			goto done;
		}
		if (rc == CC_ERR_STATE && state != NULL)
			snprintf(state_msg, sizeof(state_msg), "a ticket that is %s does not become %.24s", t->state, state);
		break;
	}
	case CHANGE_CLOSE: {
		json_t *report = json_object_get(http_body(r), "report");

		if (side_of(s, &m) != TICKET_SERVICE) {
			rc = CC_ERR_PERM;
			break;
		}
		rc = tickets_close(a->vault, t->id, s->actor, TICKET_SERVICE, report, &why);
		if (rc == CC_ERR_INVALID) {
			char shape[200];

			snprintf(shape, sizeof(shape), "report: {work: 1 to %d characters, parts: at most %d part numbers or "
			         "names, counters_reset: brew_unit, grinder_burrs, water_filter, descaling}%s%s",
			         TICKET_TEXT_MAX, TICKET_PARTS_MAX, why.field ? "; wrong: " : "", why.field ? why.field : "");
			reply_refusal(r, s, &m, action, &why, shape);
			goto done;
		}
		if (rc == CC_ERR_STATE)
			snprintf(state_msg, sizeof(state_msg), "the ticket is %s: %s", t->state,
			         strcmp(t->state, "open") == 0 ? "assign it first" : "it is closed already");
		break;
	}
	}
	if (rc != CC_OK) {
		reply_change_error(r, s, &m, action, rc, state_msg);
		goto done;
	}
	reply_ticket(r, s, t->id, &m, action, 200);
done:
	free(t);
}

void api_tickets_comment(struct http_req *r) { change(r, CHANGE_COMMENT, "ticket.comment"); }
void api_tickets_assign(struct http_req *r) { change(r, CHANGE_ASSIGN, "ticket.assign"); }
void api_tickets_state(struct http_req *r) { change(r, CHANGE_STATE, "ticket.state"); }
void api_tickets_close(struct http_req *r) { change(r, CHANGE_CLOSE, "ticket.close"); }
