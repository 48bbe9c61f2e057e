#include "fleet/jobs.h"

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/commands.h"
#include "fleet/inventory.h"
#include "fleet/manage.h"

#define MOD "jobs"

/* A machine a job will go to: what sealing and storing its command needs. */
struct target {
	int64_t id, customer_id;
	char serial[CC_SERIAL_MAX + 1];
};

struct targets {
	struct target *v;
	size_t n, cap;
	const struct job_request *req;
	int rc;
	char *bad;
};

struct group_targets {
	int (*each)(void *ctx, const struct store_machine *m);
	void *ctx;
};

static int group_target(void *arg, const struct store_machine_status *row)
{
	struct group_targets *g = arg;

	return g->each(g->ctx, &row->m);
}

int jobs_group_members(struct vault *v, const char *group,
                       int (*each)(void *ctx, const struct store_machine *m), void *ctx)
{
	struct group_targets g = { each, ctx };
	char *end = NULL;
	long long id = group != NULL ? strtoll(group, &end, 10) : 0;

	/* A group is named by its id, as the API's listings give it. */
	if (group == NULL || end == group || *end != '\0' || id <= 0) {
		log_error(MOD, "a group is named by its id (group list shows it)");
		return CC_ERR_INVALID;
	}
	return manage_group_machines(v, (int64_t)id, group_target, &g);
}

static int targets_push(struct targets *t, const struct store_machine *m)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (t->v[i].id == m->id)
			return 0; /* named twice: one command */
	if (t->n == JOBS_TARGETS_MAX) {
		log_error(MOD, "a job has at most %d targets", JOBS_TARGETS_MAX);
		return CC_ERR_LIMIT;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct target *p = realloc(t->v, cap * sizeof(*p));

		if (p == NULL)
			return CC_ERR_NOMEM;
		t->v = p;
		t->cap = cap;
	}
	t->v[t->n].id = m->id;
	t->v[t->n].customer_id = m->customer_id;
	memcpy(t->v[t->n].serial, m->serial, sizeof(t->v[t->n].serial));
	t->n++;
	return 0;
}

static int req_sees(const struct job_request *req, const struct store_machine *m)
{
	return req->visible == NULL || req->visible(req->visible_ctx, m);
}

/* A filter's or group's machine: the ones the creator does not see, and
 * revoked ones (they can never take it), are left out. */
static int add_selected(void *arg, const struct store_machine *m)
{
	struct targets *t = arg;

	if (m->revoked_ms != 0 || !req_sees(t->req, m))
		return 0;
	if (t->req->model != NULL && strcmp(t->req->model, m->model) != 0)
		return 0;
	return targets_push(t, m);
}

static int add_listed(void *arg, const struct store_machine_status *row)
{
	return add_selected(arg, &row->m);
}

static int resolve(struct vault *v, const struct job_request *req, struct targets *t)
{
	struct store *s = vault_store(v);
	struct store_machine *m;
	size_t i;
	int rc = CC_OK;

	switch (req->kind) {
	case JOB_TARGET_SERIALS:
		if (req->nserials == 0)
			break;
		m = malloc(sizeof(*m));
		if (m == NULL)
			return CC_ERR_NOMEM;
		for (i = 0; i < req->nserials && rc == CC_OK; i++) {
			const char *serial = req->serials[i];

			/* Not there and not visible look alike to the creator. */
			if (!inventory_serial_valid(serial) || s->ops->machine_find(s, serial, m) != CC_OK ||
			    !req_sees(req, m)) {
				snprintf(t->bad, CC_SERIAL_MAX + 1, "%s",
				         inventory_serial_valid(serial) ? serial : "(not a serial)");
				rc = CC_ERR_NOTFOUND;
			} else if (m->revoked_ms != 0) {
				snprintf(t->bad, CC_SERIAL_MAX + 1, "%s", serial);
				rc = CC_ERR_STATE;
			} else {
				rc = targets_push(t, m);
			}
		}
		free(m);
		break;
	case JOB_TARGET_FILTER: {
		struct store_machine_filter f = req->filter;

		f.after_serial = NULL;
		rc = s->ops->machine_status_list(s, &f, add_listed, t);
		break;
	}
	case JOB_TARGET_GROUP:
		rc = jobs_group_members(v, req->group, add_selected, t);
		break;
	default:
		rc = CC_ERR_INVALID;
	}
	if (rc == CC_OK && t->n == 0) {
		t->bad[0] = '\0';
		rc = CC_ERR_NOTFOUND;
	}
	return rc;
}

static const char *target_kind_name(enum job_target_kind k)
{
	return k == JOB_TARGET_FILTER ? "filter" : k == JOB_TARGET_GROUP ? "group" : "serials";
}

int jobs_create(struct vault *v, const struct job_request *req, int64_t *id, char bad[CC_SERIAL_MAX + 1])
{
	struct store *s = vault_store(v);
	struct targets t;
	struct store_job j;
	struct store_machine *m = NULL;
	char *text = NULL;
	int64_t timeout_s = req->timeout_s ? req->timeout_s : JOBS_TIMEOUT_DEFAULT_S;
	size_t i;
	int rc;

	bad[0] = '\0';
	if (req->name == NULL || !commands_name_allowed(req->name)) {
		log_error(MOD, "unknown command (allowed: update-offer, diagnostics, config)");
		return CC_ERR_INVALID;
	}
	if (timeout_s < 1 || timeout_s > JOBS_TIMEOUT_MAX_S) {
		log_error(MOD, "the timeout is 1 to %d seconds", JOBS_TIMEOUT_MAX_S);
		return CC_ERR_INVALID;
	}
	rc = commands_body(req->body, &text);
	if (rc != CC_OK)
		return rc;
	memset(&t, 0, sizeof(t));
	t.req = req;
	t.bad = bad;
	memset(&j, 0, sizeof(j));
	snprintf(j.name, sizeof(j.name), "%s", req->name);
	snprintf(j.created_by, sizeof(j.created_by), "%s", req->created_by ? req->created_by : "");
	snprintf(j.target, sizeof(j.target), "%s", target_kind_name(req->kind));
	j.created_ms = clock_now_ms();
	j.timeout_ms = timeout_s * 1000;
	m = calloc(1, sizeof(*m));
	rc = m != NULL ? CC_OK : CC_ERR_NOMEM;
	/* Resolved and written in one transaction: the set is the fleet as it
	 * was at creation. */
	if (rc == CC_OK)
		rc = s->ops->begin(s);
	if (rc == CC_OK) {
		rc = resolve(v, req, &t);
		if (rc == CC_OK)
			rc = s->ops->job_add(s, &j, id);
		for (i = 0; i < t.n && rc == CC_OK; i++) {
			int64_t cid;

			m->id = t.v[i].id;
			m->customer_id = t.v[i].customer_id;
			memcpy(m->serial, t.v[i].serial, sizeof(m->serial));
			rc = commands_add(v, m, req->name, text, j.created_ms, *id, j.created_ms + j.timeout_ms, &cid);
		}
		if (rc == CC_OK)
			rc = s->ops->meta_bump(s, COMMANDS_VERSION);
		if (rc == CC_OK)
			rc = s->ops->commit(s);
		else
			s->ops->rollback(s);
	}
	free(m);
	free(t.v);
	free(text);
	return rc;
}

struct cancel_ctx {
	struct vault *v;
	jobs_visible_fn visible;
	void *ctx;
	int64_t *ids;
	size_t n, cap, seen;
	struct store_machine m;
};

static int machine_visible(struct cancel_ctx *c, int64_t machine_id)
{
	struct store *s = vault_store(c->v);

	if (s->ops->machine_get(s, machine_id, &c->m) != CC_OK)
		return 0;
	return c->visible == NULL || c->visible(c->ctx, &c->m);
}

static int collect_open(void *arg, const struct store_command *cmd)
{
	struct cancel_ctx *c = arg;

	if (!machine_visible(c, cmd->machine_id))
		return 0;
	c->seen++;
	if (cmd->ended_ms != 0)
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		int64_t *p = realloc(c->ids, cap * sizeof(*p));

		if (p == NULL)
			return CC_ERR_NOMEM;
		c->ids = p;
		c->cap = cap;
	}
	c->ids[c->n++] = cmd->id;
	return 0;
}

int jobs_cancel(struct vault *v, int64_t id, const char *by, jobs_visible_fn visible, void *ctx,
                int64_t *cancelled)
{
	struct store *s = vault_store(v);
	struct cancel_ctx *c = calloc(1, sizeof(*c));
	int64_t now = clock_now_ms();
	size_t i;
	int rc = c != NULL ? CC_OK : CC_ERR_NOMEM;

	*cancelled = 0;
	if (rc == CC_OK) {
		c->v = v;
		c->visible = visible;
		c->ctx = ctx;
		rc = s->ops->begin(s);
	}
	if (rc != CC_OK) {
		free(c);
		return rc;
	}
	rc = s->ops->command_list_job(s, id, collect_open, c);
	if (rc == CC_OK && c->seen == 0)
		rc = CC_ERR_NOTFOUND;
	for (i = 0; i < c->n && rc == CC_OK; i++) {
		rc = s->ops->command_cancel(s, c->ids[i], now);
		if (rc == CC_OK)
			(*cancelled)++;
		else if (rc == CC_ERR_STATE)
			rc = CC_OK;
	}
	if (rc == CC_OK)
		rc = s->ops->job_cancelled(s, id, now, by);
	if (rc == CC_OK)
		rc = s->ops->commit(s);
	else
		s->ops->rollback(s);
	free(c->ids);
	free(c);
	return rc;
}

const char *jobs_target_state(const struct store_command *c)
{
	if (c->ended_ms != 0 && c->end_state[0] != '\0')
		return c->end_state;
	if (c->failed_ms != 0)
		return "failed";
	if (c->accepted_ms != 0)
		return "acknowledged";
	if (c->delivered_ms != 0)
		return "sent";
	return "queued";
}

static const char *const states[] = { "queued", "sent", "acknowledged", "succeeded", "failed", "timed_out",
	                              "cancelled" };

struct json_ctx {
	struct cancel_ctx vis; /* the visibility check and its machine buffer */
	json_t *counts, *targets;
	int64_t total, late;
};

static int put_time(json_t *o, const char *key, int64_t ms)
{
	char buf[40];

	if (ms == 0)
		return 0;
	clock_format_iso(ms, buf, sizeof(buf));
	return json_object_set_new(o, key, json_string(buf));
}

static int add_target(void *arg, const struct store_command *cmd)
{
	struct json_ctx *x = arg;
	const char *state = jobs_target_state(cmd);
	json_t *row, *n;

	if (!machine_visible(&x->vis, cmd->machine_id))
		return 0;
	x->total++;
	x->late += cmd->late_results;
	n = json_object_get(x->counts, state);
	json_object_set_new(x->counts, state, json_integer(json_integer_value(n) + 1));
	if (x->targets == NULL)
		return 0;
	row = json_pack("{s:s, s:s}", "serial", x->vis.m.serial, "state", state);
	if (row == NULL)
		return CC_ERR_NOMEM;
	put_time(row, "queued", cmd->created_ms);
	put_time(row, "sent", cmd->delivered_ms);
	put_time(row, "acknowledged", cmd->accepted_ms);
	put_time(row, "ended", cmd->ended_ms ? cmd->ended_ms : cmd->failed_ms);
	put_time(row, "deadline", cmd->deadline_ms);
	if (cmd->failed_ms != 0 && cmd->failure[0] != '\0')
		json_object_set_new(row, "reason", json_string(cmd->failure));
	if (strcmp(state, "succeeded") == 0 && cmd->detail[0] != '\0')
		json_object_set_new(row, "result", json_string(cmd->detail));
	if (cmd->late_results > 0)
		json_object_set_new(row, "late_results", json_integer(cmd->late_results));
	json_object_set_new(row, "command_id", json_integer(cmd->id));
	return json_array_append_new(x->targets, row) == 0 ? 0 : CC_ERR_NOMEM;
}

json_t *jobs_json(struct vault *v, const struct store_job *j, int with_targets, jobs_visible_fn visible, void *ctx,
                  int *rc)
{
	struct store *s = vault_store(v);
	struct json_ctx *x = calloc(1, sizeof(*x));
	json_t *doc = NULL;
	size_t i;

	*rc = x != NULL ? CC_OK : CC_ERR_NOMEM;
	if (*rc != CC_OK)
		return NULL;
	x->vis.v = v;
	x->vis.visible = visible;
	x->vis.ctx = ctx;
	x->counts = json_object();
	x->targets = with_targets ? json_array() : NULL;
	for (i = 0; x->counts != NULL && i < sizeof(states) / sizeof(states[0]); i++)
		json_object_set_new(x->counts, states[i], json_integer(0));
	if (x->counts == NULL || (with_targets && x->targets == NULL))
		*rc = CC_ERR_NOMEM;
	if (*rc == CC_OK)
		*rc = s->ops->command_list_job(s, j->id, add_target, x);
	if (*rc == CC_OK && x->total == 0)
		*rc = CC_ERR_NOTFOUND;
	if (*rc == CC_OK) {
		doc = json_pack("{s:I, s:s, s:s, s:s, s:I, s:I, s:O, s:I}", "id", (json_int_t)j->id, "command", j->name,
		                "created_by", j->created_by, "target", j->target, "timeout_s",
		                (json_int_t)(j->timeout_ms / 1000), "targets_total", (json_int_t)x->total, "counts",
		                x->counts, "late_results", (json_int_t)x->late);
		if (doc == NULL)
			*rc = CC_ERR_NOMEM;
	}
	if (doc != NULL) {
		put_time(doc, "created", j->created_ms);
		if (j->cancelled_ms != 0) {
			put_time(doc, "cancelled", j->cancelled_ms);
			json_object_set_new(doc, "cancelled_by", json_string(j->cancelled_by));
		}
		if (x->targets != NULL)
			json_object_set(doc, "targets", x->targets);
	}
	json_decref(x->counts);
	json_decref(x->targets);
	free(x);
	return doc;
}

int jobs_result_parse(const uint8_t *p, size_t len, enum store_command_report *report,
                      char text[JOBS_REASON_MAX + 1], const char **why, enum privacy_reason *privacy)
{
	json_t *doc, *state, *reason;
	const char *st, *r = "";
	size_t i, rlen = 0;
	int rc = CC_ERR_INVALID;

	*privacy = PRIVACY_NONE;
	text[0] = '\0';
	*why = "a result is {\"state\": \"accepted\"|\"succeeded\"|\"failed\", \"reason\": \"...\"}";
	if (len == 0 || len > JOBS_RESULT_MAX) {
		*why = "a result is at most 256 bytes";
		return CC_ERR_INVALID;
	}
	doc = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, NULL);
	if (doc == NULL || !json_is_object(doc))
		goto out;
	state = json_object_get(doc, "state");
	reason = json_object_get(doc, "reason");
	if (!json_is_string(state) || json_object_size(doc) != 1u + (reason != NULL))
		goto out;
	if (reason != NULL) {
		if (!json_is_string(reason))
			goto out;
		r = json_string_value(reason);
		rlen = json_string_length(reason);
		if (rlen > JOBS_REASON_MAX || memchr(r, '\0', rlen) != NULL) {
			*why = "a result's reason is at most 80 bytes";
			goto out;
		}
		for (i = 0; i < rlen; i++) {
			if ((unsigned char)r[i] < 0x20 || r[i] == 0x7f) {
				*why = "a result's reason is one line of text";
				goto out;
			}
		}
	}
	st = json_string_value(state);
	if (strcmp(st, "accepted") == 0 && reason == NULL)
		*report = STORE_REPORT_ACCEPTED;
	else if (strcmp(st, "succeeded") == 0)
		*report = STORE_REPORT_SUCCEEDED;
	else if (strcmp(st, "failed") == 0)
		*report = STORE_REPORT_FAILED;
	else
		goto out;
	/* Machine text like any other: no people, no cards, no contacts. */
	*privacy = privacy_scan_json(doc);
	if (*privacy != PRIVACY_NONE) {
		*why = "the result holds personal or financial data";
		goto out;
	}
	memcpy(text, r, rlen);
	text[rlen] = '\0';
	rc = CC_OK;
out:
	json_decref(doc);
	return rc;
}

int64_t jobs_result_topic_id(const uint8_t *topic, size_t len)
{
	static const char tail[] = "/result";
	size_t end, start, i;
	int64_t id = 0;

	if (len < sizeof(tail) || memcmp(topic + len - (sizeof(tail) - 1), tail, sizeof(tail) - 1) != 0)
		return 0;
	end = len - (sizeof(tail) - 1);
	start = end;
	while (start > 0 && topic[start - 1] != '/')
		start--;
	if (end == start || end - start > 18 || topic[start] == '0')
		return 0;
	for (i = start; i < end; i++) {
		if (topic[i] < '0' || topic[i] > '9')
			return 0;
		id = id * 10 + (topic[i] - '0');
	}
	return id;
}
