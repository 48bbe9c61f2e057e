/* jobs.c - /api/v1/jobs: one command for many machines (fleet/jobs.h), each
 * caller seeing and commanding only the machines in its scope. */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/audit.h"
#include "access/policy.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/inventory.h"
#include "fleet/commands.h"
#include "fleet/jobs.h"

#define JOBS_PAGE_MAX 200
#define SERIALS_MAX 1000

#define SCOPE_CACHE 32

struct scope {
	struct api *a;
	const struct caller *s;
	const char *purpose;
	int64_t unconsented; /* machines in scope left out for want of consent */
	char last_unconsented[CC_SERIAL_MAX + 1];
	/* Outside grants, scope and consent are the customer's: a job's
	 * targets are judged once per customer, not once per machine. */
	struct {
		int64_t customer_id;
		int verdict; /* 1 sees, 0 out of scope, -1 in scope without consent */
	} cache[SCOPE_CACHE];
	size_t cached;
};

/* The machines a caller may command: those it would see on the fleet
 * list, of customers that consented to the purpose. Those in scope without
 * consent are noted, so the answer can say so (403, as for one machine)
 * instead of 404. */
static int judge(struct scope *sc, const struct store_machine *m)
{
	size_t i;
	int verdict;

	if (!sc->s->role->granted_only)
		for (i = 0; i < sc->cached; i++)
			if (sc->cache[i].customer_id == m->customer_id)
				return sc->cache[i].verdict;
	verdict = !api_machine_visible(sc->a, sc->s, m, sc->purpose)           ? 0
	          : policy_allows(sc->a->vault, m->customer_id, sc->purpose) ? 1
	                                                                      : -1;
	if (!sc->s->role->granted_only && sc->cached < SCOPE_CACHE) {
		sc->cache[sc->cached].customer_id = m->customer_id;
		sc->cache[sc->cached++].verdict = verdict;
	}
	return verdict;
}

static int sees(void *ctx, const struct store_machine *m)
{
	struct scope *sc = ctx;
	int verdict = judge(sc, m);

	if (verdict >= 0)
		return verdict;
	sc->unconsented++;
	snprintf(sc->last_unconsented, sizeof(sc->last_unconsented), "%s", m->serial);
	return 0;
}

static void reply_consent(struct http_req *r)
{
	http_reply_error(r, 403, "consent_required",
	                 "the machine's customer has not consented to this purpose in the current policy");
}

/* The audit record of a job: which machines (its targets' serials; "*"
 * when they do not fit), and their customer when there is one. */
static int audit_job(struct http_req *r, const struct caller *s, const char *action, const json_t *job,
                     const char *outcome)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct audit_event e;
	struct store_machine m;
	char machines[CC_AUDIT_MACHINES_MAX + 1] = "", classes[64];
	const json_t *t;
	size_t i, n = 0;
	int64_t customer = -1;
	int rc;

	json_array_foreach(json_object_get(job, "targets"), i, t) {
		const char *serial = json_string_value(json_object_get(t, "serial"));
		size_t len = serial ? strlen(serial) : 0;

		if (n + len + 1 > CC_AUDIT_MACHINES_MAX) {
			snprintf(machines, sizeof(machines), "*");
			customer = 0;
			break;
		}
		n += (size_t)snprintf(machines + n, sizeof(machines) - n, "%s%s", n ? "," : "", serial);
		if (customer != 0 && st->ops->machine_find(st, serial, &m) == CC_OK)
			customer = customer == -1 || customer == m.customer_id ? m.customer_id : 0;
	}
	memset(&e, 0, sizeof(e));
	e.actor = s->actor;
	e.source = http_source(r);
	e.action = action;
	e.machines = job != NULL && json_object_get(job, "targets") != NULL ? machines : "*";
	e.data_class = api_classes_served(s, http_route(r)->data_class, classes, sizeof(classes));
	e.purpose = http_route(r)->purpose;
	e.outcome = outcome;
	e.customer_id = customer > 0 ? customer : 0;
	rc = audit_append(a->vault, &e);
	if (rc != CC_OK) {
		log_error(MOD, "the access of %s could not be recorded: refused", s->actor);
		http_reply_error(r, 503, "audit_unavailable", "the access could not be recorded, so it is refused");
	}
	return rc;
}

static int path_id(struct http_req *r, int64_t *id)
{
	const char *text = http_param(r, "id");
	char *end;
	long long v = text != NULL ? strtoll(text, &end, 10) : 0;

	if (text == NULL || end == text || *end != '\0' || v <= 0) {
		http_reply_error(r, 404, "not_found", "no such job");
		return CC_ERR_NOTFOUND;
	}
	*id = v;
	return CC_OK;
}

/* The job with the targets the caller sees; 404 when it sees none (as for
 * one that does not exist). */
static json_t *find_job(struct http_req *r, struct scope *sc, int64_t id, int with_targets)
{
	struct store *st = vault_store(sc->a->vault);
	struct store_job j;
	json_t *doc = NULL;
	int rc = st->ops->job_get(st, id, &j);

	if (rc == CC_OK)
		doc = jobs_json(sc->a->vault, &j, with_targets, sees, sc, &rc);
	if (doc == NULL && rc == CC_ERR_NOTFOUND && sc->unconsented > 0)
		reply_consent(r);
	else if (doc == NULL)
		http_reply_error(r, rc == CC_ERR_NOTFOUND ? 404 : 500, rc == CC_ERR_NOTFOUND ? "not_found" : "internal",
		                 rc == CC_ERR_NOTFOUND ? "no such job" : "the job could not be read");
	return doc;
}

static const char *const filter_keys[] = { "customer", "site", "status", "model", NULL };

/* target: exactly one of serial, serials, filter, group. */
static int parse_target(struct http_req *r, const struct caller *s, const json_t *target, struct job_request *req,
                        const char **serials)
{
	struct store_org org;
	const json_t *v, *f;
	const char *key, *status;
	size_t i;

	if (!json_is_object(target) || json_object_size(target) != 1)
		goto bad;
	if ((v = json_object_get(target, "serial")) != NULL) {
		if (!json_is_string(v))
			goto bad;
		serials[0] = json_string_value(v);
		req->kind = JOB_TARGET_SERIALS;
		req->serials = serials;
		req->nserials = 1;
	} else if ((v = json_object_get(target, "serials")) != NULL) {
		if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > SERIALS_MAX)
			goto bad;
		for (i = 0; i < json_array_size(v); i++) {
			if (!json_is_string(json_array_get(v, i)))
				goto bad;
			serials[i] = json_string_value(json_array_get(v, i));
		}
		req->kind = JOB_TARGET_SERIALS;
		req->serials = serials;
		req->nserials = json_array_size(v);
	} else if ((f = json_object_get(target, "filter")) != NULL) {
		if (!json_is_object(f))
			goto bad;
		json_object_foreach((json_t *)f, key, v) {
			for (i = 0; filter_keys[i] != NULL && strcmp(filter_keys[i], key) != 0; i++)
				;
			if (filter_keys[i] == NULL || !json_is_string(v))
				goto bad;
		}
		req->kind = JOB_TARGET_FILTER;
		req->filter.status = STORE_STATUS_ANY;
		if ((v = json_object_get(f, "customer")) != NULL) {
			if (api_find_customer(r, s, json_string_value(v), &org) != CC_OK)
				return CC_ERR_NOTFOUND;
			req->filter.customer_id = org.id;
		}
		req->filter.site = json_string_value(json_object_get(f, "site"));
		req->model = json_string_value(json_object_get(f, "model"));
		if ((req->filter.site != NULL && !inventory_name_valid(req->filter.site)) ||
		    (req->model != NULL && !inventory_name_valid(req->model)))
			goto bad;
		status = json_string_value(json_object_get(f, "status"));
		if (status != NULL && strcmp(status, "online") == 0)
			req->filter.status = STORE_STATUS_ONLINE;
		else if (status != NULL && strcmp(status, "offline") == 0)
			req->filter.status = STORE_STATUS_OFFLINE;
		else if (status != NULL)
			goto bad;
	} else if ((v = json_object_get(target, "group")) != NULL) {
		/* A group's id, as GET /api/v1/groups gives it. */
		if (!json_is_integer(v) || json_integer_value(v) <= 0)
			goto bad;
		req->kind = JOB_TARGET_GROUP;
		snprintf(req->group_id, sizeof(req->group_id), "%lld", (long long)json_integer_value(v));
		req->group = req->group_id;
	} else {
		goto bad;
	}
	return CC_OK;
bad:
	http_reply_error(r, 400, "invalid",
	                 "target: one of {\"serial\": S}, {\"serials\": [S, ...]} (at most 1000), {\"filter\": "
	                 "{customer, site, status (online, offline), model}}, {\"group\": a group's id}");
	return CC_ERR_INVALID;
}

void api_jobs_create(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct scope sc = { a, s, NULL, 0, "", { { 0, 0 } }, 0 };
	struct job_request req;
	const json_t *body, *cmd_body, *timeout;
	const char **serials = NULL;
	char *cmd_text = NULL, bad[CC_SERIAL_MAX + 1], msg[160];
	json_t *doc = NULL;
	int64_t id = 0;
	int rc;

	if (s == NULL)
		return;
	sc.purpose = http_route(r)->purpose;
	body = http_body(r);
	memset(&req, 0, sizeof(req));
	req.name = api_field(r, "command");
	req.created_by = s->actor;
	req.visible = sees;
	req.visible_ctx = &sc;
	cmd_body = json_object_get(body, "body");
	timeout = json_object_get(body, "timeout_s");
	if (req.name == NULL || !commands_name_allowed(req.name) || (cmd_body != NULL && !json_is_object(cmd_body)) ||
	    (timeout != NULL && (!json_is_integer(timeout) || json_integer_value(timeout) < 1 ||
	                         json_integer_value(timeout) > JOBS_TIMEOUT_MAX_S))) {
		http_reply_error(r, 400, "invalid",
		                 "send command (update-offer, diagnostics, config), target, and optionally body (a JSON "
		                 "object) and timeout_s (1 to 604800, default 3600)");
		return;
	}
	req.timeout_s = timeout != NULL ? json_integer_value(timeout) : 0;
	serials = calloc(SERIALS_MAX, sizeof(*serials));
	if (serials == NULL) {
		http_reply_error(r, 500, "internal", "out of memory");
		return;
	}
	if (parse_target(r, s, json_object_get(body, "target"), &req, serials) != CC_OK)
		goto out;
	if (cmd_body != NULL && (cmd_text = json_dumps(cmd_body, JSON_COMPACT)) == NULL) {
		http_reply_error(r, 500, "internal", "out of memory");
		goto out;
	}
	req.body = cmd_text;
	rc = jobs_create(a->vault, &req, &id, bad);
	if (rc != CC_OK) {
		int status = 500;
		const char *code = "internal", *text = "the job could not be created";

		if (rc == CC_ERR_NOTFOUND && bad[0] != '\0' && strcmp(bad, sc.last_unconsented) == 0) {
			status = 403, code = "consent_required";
			text = "the machine's customer has not consented to this purpose in the current policy";
		} else if (rc == CC_ERR_NOTFOUND && bad[0] != '\0') {
			/* The same answer as for the guard's serials: which one by its
			 * place in the list, never whether it exists elsewhere. */
			size_t i;

			for (i = 0; i < req.nserials && strcmp(req.serials[i], bad) != 0; i++)
				;
			if (req.nserials > 1 && i < req.nserials)
				snprintf(msg, sizeof(msg), "no such machine (serials[%zu])", i);
			else
				snprintf(msg, sizeof(msg), "no such machine");
			status = 404, code = "not_found", text = msg;
		} else if (rc == CC_ERR_NOTFOUND) {
			status = 422, code = "no_targets", text = "no machine you may command matches the target";
		} else if (rc == CC_ERR_STATE && bad[0] != '\0') {
			snprintf(msg, sizeof(msg), "machine %s is revoked", bad);
			status = 409, code = "revoked", text = msg;
		} else if (rc == CC_ERR_LIMIT) {
			status = 413, code = "too_large", text = "the body is at most 2048 bytes, a job at most 10000 machines";
		} else if (rc == CC_ERR_INVALID) {
			status = 400, code = "invalid", text = "the command or its body is not valid";
		}
		if (audit_job(r, s, "job.create", NULL, status == 500 ? "error" : "denied") == CC_OK)
			http_reply_error(r, status, code, text);
		goto out;
	}
	doc = find_job(r, &sc, id, 1);
	if (doc != NULL && audit_job(r, s, "job.create", doc, "ok") == CC_OK) {
		http_reply_json(r, 201, doc);
		doc = NULL;
	}
out:
	json_decref(doc);
	free(cmd_text);
	free(serials);
}

struct lister {
	struct scope *sc;
	json_t *list;
	size_t limit;
	int more;
	int rc;
};

static int list_job(void *arg, const struct store_job *j)
{
	struct lister *l = arg;
	json_t *doc;
	int rc;

	if (json_array_size(l->list) == l->limit) {
		l->more = 1;
		return 1;
	}
	doc = jobs_json(l->sc->a->vault, j, 0, sees, l->sc, &rc);
	if (doc == NULL)
		return rc == CC_ERR_NOTFOUND ? 0 : rc;
	return json_array_append_new(l->list, doc) == 0 ? 0 : CC_ERR_NOMEM;
}

void api_jobs_list(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store *st = vault_store(a->vault);
	struct caller *s = api_caller(r);
	struct scope sc = { a, s, NULL, 0, "", { { 0, 0 } }, 0 };
	struct api_page pg;
	struct lister l;
	json_t *doc;
	int rc;

	if (s == NULL || api_page_params(r, 50, JOBS_PAGE_MAX, &pg) != CC_OK)
		return;
	sc.purpose = http_route(r)->purpose;
	memset(&l, 0, sizeof(l));
	l.sc = &sc;
	l.limit = pg.limit;
	l.list = json_array();
	rc = l.list == NULL ? CC_ERR_NOMEM : st->ops->job_list(st, pg.has_cursor ? api_page_after_int(&pg) : 0, list_job, &l);
	if (rc < 0 || (pg.has_cursor && api_page_after_int(&pg) <= 0)) {
		json_decref(l.list);
		http_reply_error(r, rc < 0 ? 500 : 400, rc < 0 ? "internal" : "invalid",
		                 rc < 0 ? "the jobs could not be listed" : "cursor: send back a next_cursor as it was given");
		return;
	}
	if (audit_job(r, s, "jobs.list", NULL, "ok") != CC_OK) {
		json_decref(l.list);
		return;
	}
	doc = json_pack("{s:o}", "jobs", l.list);
	if (doc != NULL && l.more && json_array_size(l.list) > 0)
		api_page_next_int(doc, json_integer_value(json_object_get(json_array_get(l.list, json_array_size(l.list) - 1),
		                                                           "id")));
	http_reply_json(r, 200, doc);
}

void api_jobs_get(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct scope sc = { a, s, NULL, 0, "", { { 0, 0 } }, 0 };
	json_t *doc;
	int64_t id;

	if (s == NULL || path_id(r, &id) != CC_OK)
		return;
	sc.purpose = http_route(r)->purpose;
	doc = find_job(r, &sc, id, 1);
	if (doc == NULL)
		return;
	if (audit_job(r, s, "job.get", doc, "ok") != CC_OK) {
		json_decref(doc);
		return;
	}
	http_reply_json(r, 200, doc);
}

void api_jobs_cancel(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct scope sc = { a, s, NULL, 0, "", { { 0, 0 } }, 0 };
	json_t *doc;
	int64_t id, n = 0;
	int rc;

	if (s == NULL || path_id(r, &id) != CC_OK)
		return;
	sc.purpose = http_route(r)->purpose;
	rc = jobs_cancel(a->vault, id, s->actor, sees, &sc, &n);
	if (rc == CC_ERR_NOTFOUND && sc.unconsented > 0) {
		reply_consent(r);
		return;
	}
	if (rc != CC_OK) {
		http_reply_error(r, rc == CC_ERR_NOTFOUND ? 404 : 500, rc == CC_ERR_NOTFOUND ? "not_found" : "internal",
		                 rc == CC_ERR_NOTFOUND ? "no such job" : "the job could not be cancelled");
		return;
	}
	doc = find_job(r, &sc, id, 1);
	if (doc == NULL)
		return;
	json_object_set_new(doc, "cancelled_now", json_integer(n));
	if (audit_job(r, s, "job.cancel", doc, "ok") != CC_OK) {
		json_decref(doc);
		return;
	}
	http_reply_json(r, 200, doc);
}
