/* machine_config.c - desired and reported configuration per machine; see machine_config.h. */
#include "fleet/machine_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/commands.h"
#include "fleet/jobs.h"
#include "fleet/tickets.h"
#include "ingest/privacy.h"

#define MOD "config"

static void config_ad(struct seal_ad *ad, const struct store_machine *m, int64_t seq, int64_t at_ms,
                      const char *name)
{
	memset(ad, 0, sizeof(*ad));
	ad->kind = SEAL_MACHINE_CONFIG;
	ad->org_id = m->customer_id;
	ad->subject_id = m->id;
	ad->seq = seq;
	ad->ts_ms = at_ms;
	ad->name = name;
}

static int open_text(struct vault *v, const struct seal_ad *ad, const uint8_t *blob, size_t len, char **text)
{
	uint8_t *pt = NULL;
	size_t n = 0;
	int rc = vault_unseal(v, ad, blob, len, &pt, &n);

	*text = rc == CC_OK ? (char *)pt : NULL;
	return rc;
}

static int refuse(struct machine_config_refusal *ref, const char *field, int privacy, const char *why)
{
	ref->field = field;
	ref->privacy = privacy;
	snprintf(ref->why, sizeof(ref->why), "%s", why);
	return CC_ERR_INVALID;
}

/* The command's body: the document itself when it fits, else where to fetch it. */
static char *command_body(int64_t version, const char *text)
{
	size_t cap = strlen(text) + 64;
	char *body = malloc(cap);

	if (body == NULL)
		return NULL;
	snprintf(body, cap, "{\"version\":%lld,\"config\":%s}", (long long)version, text);
	if (strlen(body) > COMMAND_BODY_MAX)
		snprintf(body, cap, "{\"version\":%lld,\"fetch\":\"%s\"}", (long long)version,
		         MACHINE_CONFIG_FETCH);
	return body;
}

int machine_config_set(struct vault *v, const struct store_machine *m, const json_t *config, const char *reason,
                       const char *who, struct machine_config_refusal *ref, int64_t *version)
{
	static __thread struct config_doc doc;
	static __thread struct store_config_version row;
	struct store *s = vault_store(v);
	struct job_request req;
	struct seal_ad ad;
	const char *serials[1] = { m->serial };
	char bad[CC_SERIAL_MAX + 1], *text = NULL, *body = NULL;
	int64_t job = 0, cancelled = 0, superseded = 0;
	int privacy = 0, rc;

	memset(ref, 0, sizeof(*ref));
	if (tickets_text_check(reason, MACHINE_CONFIG_WHY_MAX, 0, &privacy) != CC_OK)
		return refuse(ref, "reason", privacy,
		              privacy != 0 ? "the reason was refused by the privacy filter (no personal data)"
		                           : "reason: 1 to 200 characters are required");
	if (config_doc_check(m->model, config, &doc, &privacy, ref->why, sizeof(ref->why)) != CC_OK) {
		ref->field = "config";
		ref->privacy = privacy;
		return CC_ERR_INVALID;
	}
	if (m->revoked_ms != 0 || m->decommissioned_ms != 0 || m->moved)
		return CC_ERR_STATE;
	memset(&row, 0, sizeof(row));
	rc = s->ops->machine_config->desired_latest(s, m->id, &row);
	if (rc != CC_OK && rc != CC_ERR_NOTFOUND)
		return rc;
	superseded = rc == CC_OK ? row.job_id : 0;
	row.version = rc == CC_OK ? row.version + 1 : 1;
	row.machine_id = m->id;
	row.at_ms = clock_now_ms();
	snprintf(row.who, sizeof(row.who), "%s", who);
	text = config_doc_text(&doc);
	body = text != NULL ? command_body(row.version, text) : NULL;
	if (body == NULL) {
		free(text);
		return CC_ERR_NOMEM;
	}
	config_ad(&ad, m, row.version, row.at_ms, "desired");
	rc = vault_seal_into(v, &ad, text, strlen(text), row.doc, sizeof(row.doc), &row.doc_len);
	config_ad(&ad, m, row.version, row.at_ms, "why");
	if (rc == CC_OK)
		rc = vault_seal_into(v, &ad, reason, strlen(reason), row.why, sizeof(row.why), &row.why_len);
	if (rc == CC_OK) {
		memset(&req, 0, sizeof(req));
		req.name = "config";
		req.body = body;
		req.created_by = who;
		req.timeout_s = MACHINE_CONFIG_TIMEOUT_S;
		req.kind = JOB_TARGET_SERIALS;
		req.serials = serials;
		req.nserials = 1;
		rc = jobs_create(v, &req, &job, bad);
	}
	if (rc == CC_OK) {
		row.job_id = job;
		rc = s->ops->machine_config->desired_add(s, &row);
		/* Lost a race for the version: the command must not stay behind. */
		if (rc != CC_OK)
			(void)jobs_cancel(v, job, who, NULL, NULL, &cancelled);
	}
	/* The machine need not apply a version that is already history: the
	 * previous command, if still undelivered or unanswered, ends here. */
	if (rc == CC_OK && superseded > 0 && jobs_cancel(v, superseded, who, NULL, NULL, &cancelled) != CC_OK)
		log_info(MOD, "%s: the command of the previous version could not be withdrawn", m->serial);
	free(text);
	free(body);
	if (rc == CC_OK && version != NULL)
		*version = row.version;
	return rc;
}

int machine_config_report(struct vault *v, const struct store_machine *m, const uint8_t *payload, size_t len,
                          int *privacy, char *why, size_t cap)
{
	static __thread struct config_report rep;
	static __thread struct store_config_reported row;
	struct store *s = vault_store(v);
	struct seal_ad ad;
	json_t *body;
	char *text;
	int rc;

	rc = config_report_parse(m->model, payload, len, &rep, privacy, why, cap);
	if (rc != CC_OK)
		return rc;
	memset(&row, 0, sizeof(row));
	row.machine_id = m->id;
	row.at_ms = clock_now_ms();
	row.version = rep.version;
	row.rejected = rep.rejected;
	body = json_object();
	if (body == NULL)
		return CC_ERR_NOMEM;
	if (rep.rejected)
		json_object_set_new(body, "reason", json_string(rep.reason));
	if (rep.has_config)
		json_object_set_new(body, "config", config_doc_json(&rep.config));
	text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
	json_decref(body);
	if (text == NULL)
		return CC_ERR_NOMEM;
	config_ad(&ad, m, 0, row.at_ms, "reported");
	rc = vault_seal_into(v, &ad, text, strlen(text), row.body, sizeof(row.body), &row.body_len);
	free(text);
	if (rc == CC_OK)
		rc = s->ops->machine_config->reported_put(s, &row);
	return rc;
}

const char *machine_config_status(int64_t desired_version, const struct config_doc *desired,
                                  const struct config_report *reported, char *where, size_t cap)
{
	where[0] = '\0';
	if (desired_version <= 0)
		return "unset";
	if (reported == NULL || reported->version < desired_version)
		return "pending";
	if (reported->rejected)
		return reported->version == desired_version ? "rejected" : "pending";
	if (!reported->has_config)
		return "pending";
	return config_doc_satisfies(&reported->config, desired, where, cap) ? "in_sync" : "drifted";
}

static const char *iso_of(int64_t ms, char *buf, size_t cap)
{
	clock_format_iso(ms, buf, cap);
	return buf;
}

/* The version's document and reason opened; NULL members when they do not open. */
static json_t *version_json(struct vault *v, const struct store_machine *m, const struct store_config_version *row,
                            struct config_doc *doc_out)
{
	static __thread struct config_doc doc;
	struct seal_ad ad;
	char iso[40], *text = NULL, *why = NULL, reason[CONFIG_WHY_MAX];
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "version", json_integer(row->version));
	json_object_set_new(o, "at", json_string(iso_of(row->at_ms, iso, sizeof(iso))));
	json_object_set_new(o, "by", json_string(row->who));
	if (row->job_id > 0)
		json_object_set_new(o, "job", json_integer(row->job_id));
	config_ad(&ad, m, row->version, row->at_ms, "why");
	if (open_text(v, &ad, row->why, row->why_len, &why) == CC_OK)
		json_object_set_new(o, "why", json_string(why));
	config_ad(&ad, m, row->version, row->at_ms, "desired");
	if (open_text(v, &ad, row->doc, row->doc_len, &text) == CC_OK &&
	    config_doc_parse(m->model, text, strlen(text), &doc, NULL, reason, sizeof(reason)) == CC_OK) {
		json_object_set_new(o, "config", config_doc_json(&doc));
		if (doc_out != NULL)
			*doc_out = doc;
	} else {
		log_warn(MOD, "%s: desired configuration version %lld did not open", m->serial, (long long)row->version);
	}
	free(text);
	free(why);
	return o;
}

json_t *machine_config_json(struct vault *v, const struct store_machine *m)
{
	static __thread struct store_config_version row;
	static __thread struct store_config_reported rep_row;
	static __thread struct config_doc desired;
	static __thread struct config_report rep;
	struct store *s = vault_store(v);
	struct seal_ad ad;
	json_t *o = json_object(), *d = NULL, *r, *body;
	char iso[40], where[CONFIG_WHY_MAX], *text = NULL;
	int64_t version = 0;
	int has_rep = 0, rc;
	const char *status;

	if (o == NULL)
		return NULL;
	memset(&desired, 0, sizeof(desired));
	rc = s->ops->machine_config->desired_latest(s, m->id, &row);
	if (rc == CC_OK) {
		d = version_json(v, m, &row, &desired);
		version = row.version;
	} else if (rc != CC_ERR_NOTFOUND) {
		json_decref(o);
		return NULL;
	}
	memset(&rep, 0, sizeof(rep));
	rc = s->ops->machine_config->reported_get(s, m->id, &rep_row);
	if (rc == CC_OK) {
		r = json_object();
		json_object_set_new(r, "version", json_integer(rep_row.version));
		json_object_set_new(r, "at", json_string(iso_of(rep_row.at_ms, iso, sizeof(iso))));
		json_object_set_new(r, "state", json_string(rep_row.rejected ? "rejected" : "applied"));
		rep.version = rep_row.version;
		rep.rejected = rep_row.rejected;
		config_ad(&ad, m, 0, rep_row.at_ms, "reported");
		body = NULL;
		if (open_text(v, &ad, rep_row.body, rep_row.body_len, &text) == CC_OK)
			body = json_loads(text, 0, NULL);
		free(text);
		if (body != NULL) {
			const char *reason = json_string_value(json_object_get(body, "reason"));
			json_t *cfg = json_object_get(body, "config");

			if (reason != NULL) {
				snprintf(rep.reason, sizeof(rep.reason), "%s", reason);
				json_object_set_new(r, "reason", json_string(reason));
			}
			if (cfg != NULL && config_doc_check(m->model, cfg, &rep.config, NULL, where, sizeof(where)) == CC_OK) {
				rep.has_config = 1;
				json_object_set(r, "config", cfg);
			}
			json_decref(body);
		}
		has_rep = 1;
		json_object_set_new(o, "reported", r);
	} else if (rc != CC_ERR_NOTFOUND) {
		json_decref(d);
		json_decref(o);
		return NULL;
	}
	status = machine_config_status(version, &desired, has_rep ? &rep : NULL, where, sizeof(where));
	json_object_set_new(o, "serial", json_string(m->serial));
	json_object_set_new(o, "model", json_string(m->model));
	json_object_set_new(o, "status", json_string(status));
	json_object_set_new(o, "version", json_integer(version));
	if (strcmp(status, "rejected") == 0)
		json_object_set_new(o, "reason", json_string(rep.reason));
	if (strcmp(status, "drifted") == 0)
		json_object_set_new(o, "drift", json_string(where));
	if (d != NULL)
		json_object_set_new(o, "desired", d);
	return o;
}

struct history {
	struct vault *v;
	const struct store_machine *m;
	json_t *list;
	size_t limit;
};

static int history_one(void *ctx, const struct store_config_version *row)
{
	struct history *h = ctx;
	json_t *o;

	if (json_array_size(h->list) >= h->limit)
		return 1;
	o = version_json(h->v, h->m, row, NULL);
	return o != NULL && json_array_append_new(h->list, o) == 0 ? 0 : CC_ERR_NOMEM;
}

json_t *machine_config_history_json(struct vault *v, const struct store_machine *m, int64_t before, size_t limit)
{
	struct store *s = vault_store(v);
	struct history h = { v, m, json_array(), limit };
	int rc;

	if (h.list == NULL)
		return NULL;
	rc = s->ops->machine_config->desired_list(s, m->id, before, history_one, &h);
	if (rc != CC_OK && rc != 1) {
		json_decref(h.list);
		return NULL;
	}
	return json_pack("{s:s, s:o}", "serial", m->serial, "versions", h.list);
}

int machine_config_desired_doc(struct vault *v, const struct store_machine *m, json_t **out)
{
	static __thread struct store_config_version row;
	struct store *s = vault_store(v);
	json_t *o;
	int rc;

	*out = NULL;
	rc = s->ops->machine_config->desired_latest(s, m->id, &row);
	if (rc != CC_OK)
		return rc;
	o = version_json(v, m, &row, NULL);
	if (o == NULL || json_object_get(o, "config") == NULL) {
		json_decref(o);
		return CC_ERR_CORRUPT;
	}
	*out = json_pack("{s:I, s:O}", "version", (json_int_t)row.version, "config", json_object_get(o, "config"));
	json_decref(o);
	return *out != NULL ? CC_OK : CC_ERR_NOMEM;
}

struct timeline {
	int (*each)(void *ctx, int64_t at_ms, const char *what, int64_t version, const char *who);
	void *ctx;
};

static int timeline_one(void *ctx, const struct store_config_version *row)
{
	struct timeline *t = ctx;

	return t->each(t->ctx, row->at_ms, "set", row->version, row->who);
}

int machine_config_timeline(struct vault *v, const struct store_machine *m, int64_t from_ms, int64_t to_ms,
                            int (*each)(void *ctx, int64_t at_ms, const char *what, int64_t version, const char *who),
                            void *ctx)
{
	static __thread struct store_config_reported rep;
	struct store *s = vault_store(v);
	struct timeline t = { each, ctx };
	int rc = s->ops->machine_config->desired_between(s, m->id, from_ms, to_ms, timeline_one, &t);

	if (rc != CC_OK)
		return rc;
	rc = s->ops->machine_config->reported_get(s, m->id, &rep);
	if (rc == CC_ERR_NOTFOUND)
		return CC_OK;
	if (rc == CC_OK && rep.at_ms >= from_ms && rep.at_ms < to_ms)
		rc = each(ctx, rep.at_ms, rep.rejected ? "rejected" : "applied", rep.version, "machine");
	return rc;
}
