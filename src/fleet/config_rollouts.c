/* config_rollouts.c - configuration through staged rollouts; see config_rollouts.h. */
#include "fleet/config_rollouts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/config_doc.h"
#include "fleet/config_templates.h"
#include "fleet/machine_config.h"
#include "fleet/tickets.h"
#include "ingest/privacy.h"
#include "update/rollout.h"

#define MOD "rollouts"

int config_rollout_reason(const char *reason, char why[CONFIG_ROLLOUT_WHY_MAX])
{
	int privacy = 0;

	if (reason == NULL || tickets_text_check(reason, MACHINE_CONFIG_WHY_MAX, 0, &privacy) != CC_OK) {
		snprintf(why, CONFIG_ROLLOUT_WHY_MAX, "%s",
		         privacy != 0 ? "reason: refused by the privacy filter (no personal data)"
		                      : "reason: 1 to 200 characters are required with config");
		return CC_ERR_INVALID;
	}
	return CC_OK;
}

int config_rollout_effective(struct vault *v, const struct store_machine *m, json_t **config, char *why, size_t cap)
{
	json_t *eff = config_effective_json(v, m);
	const json_t *doc = json_object_get(eff, "config");
	char *text = NULL;
	int rc = CC_OK;

	*config = NULL;
	if (eff == NULL)
		return CC_ERR_NOMEM;
	if (json_object_size(doc) == 0) {
		snprintf(why, cap, "no template and no desired version sets anything");
		rc = CC_ERR_INVALID;
	} else if ((text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(10))) == NULL) {
		rc = CC_ERR_NOMEM;
	} else if (strlen(text) > CONFIG_DOC_MAX) {
		snprintf(why, cap, "config: more than %d bytes", CONFIG_DOC_MAX);
		rc = CC_ERR_INVALID;
	} else if (!config_rollout_fits(text, m->model, why, cap)) {
		rc = CC_ERR_INVALID;
	}
	if (rc == CC_OK)
		*config = json_incref((json_t *)doc);
	free(text);
	json_decref(eff);
	return rc;
}

int config_rollout_request(const json_t *config, const char *reason, char **text, char why[CONFIG_ROLLOUT_WHY_MAX])
{
	enum privacy_reason p;

	*text = NULL;
	if (!json_is_object(config) || json_object_size(config) == 0) {
		snprintf(why, CONFIG_ROLLOUT_WHY_MAX, "config: an object (recipes, settings)");
		return CC_ERR_INVALID;
	}
	/* First, and over the whole document: what the filter refuses is never
	 * judged further, stored or quoted. */
	if ((p = privacy_scan_json(config)) != PRIVACY_NONE) {
		snprintf(why, CONFIG_ROLLOUT_WHY_MAX, "config: refused by the privacy filter: %s; configuration carries "
		         "no prices, currencies, payment or personal data", privacy_reason_name(p));
		return CC_ERR_INVALID;
	}
	if (config_rollout_reason(reason, why) != CC_OK)
		return CC_ERR_INVALID;
	*text = json_dumps(config, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
	if (*text == NULL)
		return CC_ERR_NOMEM;
	if (strlen(*text) > CONFIG_DOC_MAX) {
		free(*text);
		*text = NULL;
		snprintf(why, CONFIG_ROLLOUT_WHY_MAX, "config: more than %d bytes", CONFIG_DOC_MAX);
		return CC_ERR_INVALID;
	}
	return CC_OK;
}

int config_rollout_fits(const char *text, const char *model, char *why, size_t cap)
{
	struct config_doc *doc = malloc(sizeof(*doc));
	int fits;

	if (doc == NULL) {
		snprintf(why, cap, "out of memory");
		return 0;
	}
	fits = config_doc_parse(model, text, strlen(text), doc, NULL, why, cap) == CC_OK;
	free(doc);
	return fits;
}

static int history(struct store *s, const struct store_rollout_machine *row, int64_t now_ms)
{
	struct store_rollout_report rep;

	memset(&rep, 0, sizeof(rep));
	rep.rollout_id = row->rollout_id;
	rep.machine_id = row->machine_id;
	rep.at_ms = now_ms;
	snprintf(rep.state, sizeof(rep.state), "%s", row->state);
	rep.percent = row->percent;
	snprintf(rep.reason, sizeof(rep.reason), "%s", row->reason);
	return s->ops->rollouts->report_add(s, &rep);
}

int config_rollout_settle(struct store *s, struct store_rollout_machine *rows, size_t n, int64_t now_ms,
                          size_t *changed)
{
	struct store_config_reported *rep = malloc(sizeof(*rep));
	int rc = rep != NULL ? CC_OK : CC_ERR_NOMEM;

	*changed = 0;
	for (size_t i = 0; rc == CC_OK && i < n; i++) {
		struct store_rollout_machine *row = &rows[i];
		enum rollout_mstate to;

		if (row->config_version <= 0 || strcmp(row->state, rollout_mstate_name(RM_OFFERED)) != 0)
			continue;
		rc = s->ops->machine_config->reported_get(s, row->machine_id, rep);
		if (rc == CC_ERR_NOTFOUND) {
			rc = CC_OK;
			continue;
		}
		if (rc != CC_OK)
			break;
		if (rep->version == row->config_version)
			to = rep->rejected ? RM_FAILED : RM_SUCCEEDED;
		else if (rep->version > row->config_version)
			to = RM_SKIPPED; /* a later change reached it first: no verdict on this document */
		else
			continue;
		snprintf(row->state, sizeof(row->state), "%s", rollout_mstate_name(to));
		snprintf(row->reason, sizeof(row->reason), "%s",
		         to == RM_FAILED ? "rejected" : to == RM_SKIPPED ? "superseded by a later change" : "");
		row->percent = to == RM_SUCCEEDED ? 100 : 0;
		row->updated_ms = now_ms;
		rc = s->ops->rollouts->machine_set(s, row);
		if (rc == CC_OK)
			rc = history(s, row, now_ms);
		if (rc == CC_OK)
			(*changed)++;
	}
	free(rep);
	return rc;
}

struct rows {
	struct store_rollout_machine *v;
	size_t n, cap;
};

static int collect(void *ctx, const struct store_rollout_machine *m)
{
	struct rows *r = ctx;

	if (m->config_version != 0 || strcmp(m->state, rollout_mstate_name(RM_OFFERED)) != 0)
		return 0;
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		struct store_rollout_machine *p = realloc(r->v, cap * sizeof(*p));

		if (p == NULL)
			return CC_ERR_NOMEM;
		r->v = p;
		r->cap = cap;
	}
	r->v[r->n++] = *m;
	return 0;
}

/* One machine's row after its delivery: its version, or skipped (the
 * server could not set it: no failure of the document on the machine). */
static int record(struct store *s, struct store_rollout_machine *row, int64_t version, const char *skipped,
                  int64_t now_ms)
{
	int rc = s->ops->begin(s);

	if (rc != CC_OK)
		return rc;
	row->updated_ms = now_ms;
	if (skipped != NULL) {
		snprintf(row->state, sizeof(row->state), "%s", rollout_mstate_name(RM_SKIPPED));
		snprintf(row->reason, sizeof(row->reason), "%s", skipped);
	} else {
		row->config_version = version;
	}
	rc = s->ops->rollouts->machine_set(s, row);
	if (rc == CC_OK && skipped != NULL)
		rc = history(s, row, now_ms);
	if (rc == CC_OK)
		rc = s->ops->commit(s);
	else
		s->ops->rollback(s);
	return rc;
}

int config_rollout_deliver(struct vault *v, int64_t id)
{
	struct store *s = vault_store(v);
	struct store_rollout *r = malloc(sizeof(*r));
	struct store_machine *m = malloc(sizeof(*m));
	struct machine_config_refusal *ref = malloc(sizeof(*ref));
	struct rows rows = { NULL, 0, 0 };
	json_t *doc = NULL;
	char by[40];
	int rc = r != NULL && m != NULL && ref != NULL ? CC_OK : CC_ERR_NOMEM;

	/* One snapshot of the rollout and its machines. */
	if (rc == CC_OK && (rc = s->ops->begin_read(s)) == CC_OK) {
		rc = s->ops->rollouts->get(s, id, r);
		if (rc == CC_OK && strcmp(r->kind, CONFIG_ROLLOUT_KIND) == 0 &&
		    rollout_state_parse(r->state) == ROLLOUT_RUNNING)
			rc = s->ops->rollouts->machines(s, id, collect, &rows);
		s->ops->rollback(s);
	}
	if (rc == CC_OK && rows.n > 0 && !r->effective && (doc = json_loads(r->config, 0, NULL)) == NULL)
		rc = CC_ERR_CORRUPT;
	snprintf(by, sizeof(by), "rollout:%lld", (long long)id);
	for (size_t i = 0; rc == CC_OK && i < rows.n; i++) {
		struct store_rollout_machine *row = &rows.v[i];
		json_t *own = NULL;
		int64_t version = 0;
		int set;

		rc = s->ops->machine_get(s, row->machine_id, m);
		if (rc != CC_OK)
			break;
		/* Its effective document as it is now: templates changed since the
		 * rollout began count, and one gone invalid leaves it out. */
		if (r->effective && (set = config_rollout_effective(v, m, &own, ref->why, sizeof(ref->why))) != CC_OK) {
			if (set != CC_ERR_INVALID) {
				rc = set;
				break;
			}
		} else {
			set = machine_config_set(v, m, r->effective ? own : doc, r->why, by, ref, &version);
		}
		json_decref(own);
		if (set == CC_OK)
			rc = record(s, row, version, NULL, clock_now_ms());
		else if (set == CC_ERR_STATE)
			rc = record(s, row, 0, "not in service", clock_now_ms());
		else if (set == CC_ERR_INVALID)
			rc = record(s, row, 0, ref->why, clock_now_ms());
		else
			log_error(MOD, "rollout %lld: %s: the configuration could not be set (%s); again at the next round",
			          (long long)id, row->serial, cc_strerror(set));
	}
	if (rc == CC_OK && rows.n > 0)
		log_info(MOD, "rollout %lld: configuration set on %zu machines", (long long)id, rows.n);
	json_decref(doc);
	free(rows.v);
	free(ref);
	free(m);
	free(r);
	return rc;
}

static int collect_delivered(void *ctx, const struct store_rollout_machine *m)
{
	struct rows *r = ctx;
	int st = rollout_mstate_parse(m->state);

	if (m->config_version <= 0 || (st != RM_OFFERED && st != RM_SUCCEEDED && st != RM_FAILED))
		return 0;
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		struct store_rollout_machine *p = realloc(r->v, cap * sizeof(*p));

		if (p == NULL)
			return CC_ERR_NOMEM;
		r->v = p;
		r->cap = cap;
	}
	r->v[r->n++] = *m;
	return 0;
}

/* The version before the rollout's, when the rollout's is still the newest. */
static int previous_doc(struct vault *v, const struct store_machine *m, int64_t rollout_version, json_t **doc)
{
	json_t *history = NULL, *items;
	int rc = CC_ERR_NOTFOUND;

	*doc = NULL;
	/* Newest first: [0] the rollout's own version, [1] the one before. */
	history = machine_config_history_json(v, m, 0, 2);
	items = json_object_get(history, "versions");
	if (history == NULL)
		rc = CC_ERR_NOMEM;
	else if (json_integer_value(json_object_get(json_array_get(items, 0), "version")) == rollout_version &&
	         json_array_size(items) == 2) {
		*doc = json_incref(json_object_get(json_array_get(items, 1), "config"));
		rc = *doc != NULL ? CC_OK : CC_ERR_CORRUPT;
	}
	json_decref(history);
	return rc;
}

int config_rollout_take_back(struct vault *v, int64_t id)
{
	struct store *s = vault_store(v);
	struct store_rollout *r = malloc(sizeof(*r));
	struct store_machine *m = malloc(sizeof(*m));
	struct machine_config_refusal *ref = malloc(sizeof(*ref));
	struct rows rows = { NULL, 0, 0 };
	char by[40], why[80];
	size_t taken = 0;
	int rc = r != NULL && m != NULL && ref != NULL ? CC_OK : CC_ERR_NOMEM;

	if (rc == CC_OK && (rc = s->ops->begin_read(s)) == CC_OK) {
		rc = s->ops->rollouts->get(s, id, r);
		if (rc == CC_OK && strcmp(r->kind, CONFIG_ROLLOUT_KIND) == 0 && r->take_back &&
		    (rollout_state_parse(r->state) == ROLLOUT_HALTED || rollout_state_parse(r->state) == ROLLOUT_ABORTED))
			rc = s->ops->rollouts->machines(s, id, collect_delivered, &rows);
		s->ops->rollback(s);
	}
	snprintf(by, sizeof(by), "rollout:%lld", (long long)id);
	if (rc == CC_OK)
		snprintf(why, sizeof(why), "taken back: rollout %lld %s", (long long)id, r->state);
	for (size_t i = 0; rc == CC_OK && i < rows.n; i++) {
		struct store_rollout_machine *row = &rows.v[i];
		json_t *doc = NULL;
		int64_t version = 0;
		int got;

		if ((rc = s->ops->machine_get(s, row->machine_id, m)) != CC_OK)
			break;
		got = previous_doc(v, m, row->config_version, &doc);
		if (got == CC_ERR_NOTFOUND)
			continue; /* changed since, or nothing before it: left as it is */
		if (got == CC_OK) {
			got = machine_config_set(v, m, doc, why, by, ref, &version);
			json_decref(doc);
		}
		if (got != CC_OK) {
			log_error(MOD, "rollout %lld: %s: the previous configuration could not be set again (%s)",
			          (long long)id, row->serial, cc_strerror(got));
			continue;
		}
		snprintf(row->state, sizeof(row->state), "%s", rollout_mstate_name(RM_ROLLED_BACK));
		snprintf(row->reason, sizeof(row->reason), "taken back: version %lld", (long long)version);
		row->updated_ms = clock_now_ms();
		if ((rc = s->ops->begin(s)) != CC_OK)
			break;
		rc = s->ops->rollouts->machine_set(s, row);
		if (rc == CC_OK)
			rc = history(s, row, row->updated_ms);
		if (rc == CC_OK)
			rc = s->ops->commit(s);
		else
			s->ops->rollback(s);
		taken++;
	}
	if (rc == CC_OK && taken > 0)
		log_info(MOD, "rollout %lld: the previous configuration set again on %zu machines", (long long)id, taken);
	free(rows.v);
	free(ref);
	free(m);
	free(r);
	return rc;
}
