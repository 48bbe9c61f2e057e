/* rollouts.c - staged rollouts through the API (docs/UPDATES.md "Staged
 * rollouts"): created, listed, paused, resumed and aborted by whoever
 * offers artifacts (the manufacturer's engineers and administrators);
 * progress reported by the machines themselves, with their certificate, on
 * any offer (a rollout's or one made to the machine alone), and each
 * machine's update status. */
#include "api/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "access/audit.h"
#include "common/err.h"
#include "fleet/rollouts.h"
#include "fleet/updates.h"

static int path_id(struct http_req *r, int64_t *id)
{
	const char *text = http_param(r, "id");
	char *end = NULL;
	long long v;

	errno = 0;
	v = text != NULL ? strtoll(text, &end, 10) : 0;
	if (text == NULL || end == text || *end != '\0' || errno != 0 || v <= 0) {
		http_reply_error(r, 404, "not_found", "no such rollout");
		return CC_ERR_NOTFOUND;
	}
	*id = v;
	return CC_OK;
}

static void reply_refused(struct http_req *r, int rc, const char *why)
{
	int status = rc == CC_ERR_NOTFOUND ? 404 : rc == CC_ERR_STATE || rc == CC_ERR_EXISTS ? 409 : 400;

	http_reply_error(r, status, status == 404 ? "not_found" : status == 409 ? "conflict" : "invalid", why);
}

void api_rollouts_create(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_releaser(r, "rollout.create");
	char why[ROLLOUTS_WHY_MAX];
	json_t *doc = NULL;
	int rc;

	if (s == NULL)
		return;
	rc = rollouts_create(a->vault, http_body(r), s->actor, &doc, why);
	if (rc != CC_OK && rc != CC_ERR_INVALID && rc != CC_ERR_NOTFOUND && rc != CC_ERR_STATE && rc != CC_ERR_EXISTS &&
	    rc != CC_ERR_LIMIT) {
		http_reply_error(r, 500, "internal", "the rollout could not be created");
		return;
	}
	if (api_audit_access(r, s, "rollout.create", NULL, rc == CC_OK ? "ok" : "error") != CC_OK) {
		json_decref(doc);
		return;
	}
	if (rc == CC_ERR_LIMIT)
		http_reply_error(r, 400, "invalid", "too many machines for one rollout");
	else if (rc != CC_OK)
		reply_refused(r, rc, why);
	else
		http_reply_json(r, 201, doc);
}

void api_rollouts_list(struct http_req *r)
{
	struct api *a = http_app(r);
	json_t *doc = NULL;
	int rc;

	if (api_releaser(r, "rollout.list") == NULL)
		return;
	rc = rollouts_list_json(a->vault, http_query(r, "state"), &doc);
	if (rc == CC_ERR_INVALID) {
		http_reply_error(r, 400, "invalid", "state: running, paused, halted, aborted or completed");
		return;
	}
	if (rc != CC_OK) {
		http_reply_error(r, 500, "internal", "the rollouts could not be read");
		return;
	}
	http_reply_json(r, 200, doc);
}

void api_rollouts_show(struct http_req *r)
{
	struct api *a = http_app(r);
	json_t *doc = NULL;
	int64_t id;
	int rc;

	if (api_releaser(r, "rollout.show") == NULL || path_id(r, &id) != CC_OK)
		return;
	rc = rollouts_json(a->vault, id, &doc);
	if (rc == CC_ERR_NOTFOUND) {
		http_reply_error(r, 404, "not_found", "no such rollout");
		return;
	}
	if (rc != CC_OK) {
		http_reply_error(r, 500, "internal", "the rollout could not be read");
		return;
	}
	http_reply_json(r, 200, doc);
}

/* pause, resume, abort: the last part of the route's path. */
void api_rollouts_act(struct http_req *r)
{
	struct api *a = http_app(r);
	const char *path = http_route(r)->pattern, *action = strrchr(path, '/') + 1;
	char audit_action[32], why[ROLLOUTS_WHY_MAX];
	struct caller *s;
	json_t *doc = NULL;
	int64_t id;
	int rc;

	snprintf(audit_action, sizeof(audit_action), "rollout.%s", action);
	s = api_releaser(r, audit_action);
	if (s == NULL || path_id(r, &id) != CC_OK)
		return;
	rc = rollouts_act(a->vault, id, action, s->actor, why);
	if (rc != CC_OK && rc != CC_ERR_NOTFOUND && rc != CC_ERR_STATE && rc != CC_ERR_INVALID) {
		http_reply_error(r, 500, "internal", "the rollout could not be changed");
		return;
	}
	if (rc == CC_OK && (rc = rollouts_json(a->vault, id, &doc)) != CC_OK) {
		http_reply_error(r, 500, "internal", "the rollout could not be read");
		return;
	}
	if (api_audit_access(r, s, audit_action, NULL, rc == CC_OK ? "ok" : "error") != CC_OK) {
		json_decref(doc);
		return;
	}
	if (rc != CC_OK)
		reply_refused(r, rc, why);
	else
		http_reply_json(r, 200, doc);
}

/* The audit record of a machine's report: each change of state and each
 * refusal (not every percent of a download). */
static int audit_report(struct http_req *r, const struct store_machine *m, const char *outcome)
{
	struct api *a = http_app(r);
	struct audit_event e;
	char actor[CC_SERIAL_MAX + 16];

	snprintf(actor, sizeof(actor), "machine:%s", m->serial);
	memset(&e, 0, sizeof(e));
	e.actor = actor;
	e.source = http_source(r);
	e.action = "update.progress";
	e.machines = m->serial;
	e.data_class = "technical";
	e.purpose = http_route(r)->purpose;
	e.outcome = outcome;
	e.customer_id = m->customer_id;
	if (audit_append(a->vault, &e) != CC_OK) {
		http_reply_error(r, 503, "audit_unavailable", "the report could not be recorded");
		return CC_ERR_DB;
	}
	return CC_OK;
}

/* The machine's report: {"sha256", "state", "percent", "reason"}, on an
 * offer of a rollout or one made to it alone. */
void api_machine_update_progress(struct http_req *r)
{
	struct api *a = http_app(r);
	struct store_machine m;
	const json_t *body, *pct;
	char why[ROLLOUTS_WHY_MAX];
	int64_t percent = 0;
	int rc, changed = 0;

	if (api_machine_caller(r, &m) != CC_OK)
		return;
	body = http_body(r);
	pct = json_object_get(body, "percent");
	if (pct != NULL && !json_is_integer(pct)) {
		if (audit_report(r, &m, "denied") == CC_OK)
			http_reply_error(r, 400, "invalid", "percent: 0-100");
		return;
	}
	if (pct != NULL)
		percent = json_integer_value(pct);
	rc = rollouts_report(a->vault, &m, api_field(r, "sha256"), api_field(r, "state"), percent,
	                     api_field(r, "reason"), &changed, why);
	if ((rc != CC_OK || changed) && audit_report(r, &m, rc == CC_OK ? "ok" : rc == CC_ERR_INVALID ||
	                                                      rc == CC_ERR_NOTFOUND || rc == CC_ERR_STATE
	                                                      ? "denied" : "error") != CC_OK)
		return;
	if (rc == CC_OK)
		http_reply_json(r, 200, json_pack("{s:s, s:s}", "serial", m.serial, "state", api_field(r, "state")));
	else if (rc == CC_ERR_INVALID || rc == CC_ERR_NOTFOUND || rc == CC_ERR_STATE)
		reply_refused(r, rc, why);
	else
		http_reply_error(r, 500, "internal", "the report could not be stored");
}

/* GET /api/v1/machines/{serial}/update: what the machine is offered and
 * the latest it reported of it, a rollout's offer or one made to it alone. */
void api_machine_update_status(struct http_req *r)
{
	struct api *a = http_app(r);
	struct caller *s = api_caller(r);
	struct store_machine m;
	json_t *doc = NULL;

	if (s == NULL || api_find_machine(r, s, &m) != CC_OK)
		return;
	if (updates_status_json(a->vault, &m, &doc) != CC_OK) {
		http_reply_error(r, 500, "internal", "the update status could not be read");
		return;
	}
	if (api_audit_access(r, s, "update.status", &m, "ok") != CC_OK) {
		json_decref(doc);
		return;
	}
	http_reply_json(r, 200, doc);
}
