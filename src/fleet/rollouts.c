/* rollouts.c - see rollouts.h. */
#include "fleet/rollouts.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access/policy.h"
#include "alerts/alerts.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/config_doc.h"
#include "fleet/config_rollouts.h"
#include "fleet/downtime.h"
#include "fleet/hours.h"
#include "fleet/inventory.h"
#include "fleet/jobs.h"
#include "fleet/manage.h"
#include "fleet/updates.h"
#include "quality/compliance.h"
#include "records/records.h"
#include "update/rollout.h"

#define MOD "rollouts"
#define MACHINES_MAX 100000
#define STEPS_PER_TICK 16 /* steps of one rollout per round: a phase with soak 0 advances and offers at once */
#define SOAK_DEFAULT_S 3600
#define HEALTH_MARGIN_DEFAULT 5 /* points of availability (update/rollout.h) */
#define COMPLIANCE_MARGIN_DEFAULT 10 /* points of brews in spec (update/rollout.h) */
#define HEALTH_SAMPLE 200       /* machines read per group for a soak's verdict */
#define HALT_RULE "rollout_halted"
#define EFFECTIVE_LISTED 20 /* machines with an invalid effective document named on creation */

static const uint8_t default_phases[] = { 1, 10, 50, 100 };

/* ---- the plan ---- */

static void phases_text(const struct rollout_plan *p, char *out, size_t cap)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < p->n_phases && used < cap; i++)
		used += (size_t)snprintf(out + used, cap - used, "%s%u", i ? "," : "", p->phases[i]);
}

static int plan_of(const struct store_rollout *r, struct rollout_plan *p)
{
	const char *c = r->phases;

	memset(p, 0, sizeof(*p));
	while (*c != '\0' && p->n_phases < ROLLOUT_PHASES_MAX) {
		char *end;
		long v = strtol(c, &end, 10);

		if (end == c || v < 1 || v > 100)
			return CC_ERR_CORRUPT;
		p->phases[p->n_phases++] = (uint8_t)v;
		c = *end == ',' ? end + 1 : end;
		if (*end != ',' && *end != '\0')
			return CC_ERR_CORRUPT;
	}
	p->soak_ms = r->soak_ms;
	p->threshold_pct = (int)r->threshold_pct;
	p->min_reports = (int)r->min_reports;
	p->health_margin = (int)r->health_margin;
	p->compliance_margin = (int)r->compliance_margin;
	return CC_OK;
}

/* ---- targets ---- */

struct picked {
	int64_t *ids;
	size_t n, cap;
	size_t unfit;
	const char *models; /* the artifact's, comma-separated */
	const char *model, *version; /* the filter's; NULL any */
	struct vault *v;
	int rc;
	/* A configuration rollout: its document, judged once per model. */
	const char *config;
	struct fit {
		char model[CC_NAME_MAX + 1];
		int fits;
	} fits[16];
	size_t nfits;
	size_t unconsented;         /* their customer did not consent to support */
	int effective;              /* each machine its own effective document */
	size_t invalid;             /* effective: their document is invalid for their model */
	json_t *invalid_machines;   /* the first EFFECTIVE_LISTED of them: {serial, reason} */
	char unfit_why[CONFIG_ROLLOUT_WHY_MAX - 40]; /* the first model's refusal */
};

static int config_fits(struct picked *k, const char *model)
{
	char why[112];
	int fits;

	for (size_t i = 0; i < k->nfits; i++)
		if (strcmp(k->fits[i].model, model) == 0)
			return k->fits[i].fits;
	fits = config_rollout_fits(k->config, model, why, sizeof(why));
	if (!fits && k->unfit_why[0] == '\0')
		snprintf(k->unfit_why, sizeof(k->unfit_why), "config: %s (model %.24s)", why, model);
	if (k->nfits < sizeof(k->fits) / sizeof(k->fits[0])) {
		snprintf(k->fits[k->nfits].model, sizeof(k->fits[k->nfits].model), "%s", model);
		k->fits[k->nfits++].fits = fits;
	}
	return fits;
}

static int model_in(const char *models, const char *model)
{
	size_t n = strlen(model);

	for (const char *p = models; *p != '\0';) {
		size_t len = strcspn(p, ",");
		if (len == n && memcmp(p, model, n) == 0)
			return 1;
		p += len + (p[len] == ',');
	}
	return 0;
}

static int pick(struct picked *k, const struct store_machine *m)
{
	if (m->revoked_ms != 0 || m->decommissioned_ms != 0 || m->moved)
		return 0;
	if (k->model != NULL && strcmp(k->model, m->model) != 0)
		return 0;
	if (k->config == NULL ? !model_in(k->models, m->model) : !k->effective && !config_fits(k, m->model)) {
		k->unfit++;
		return 0;
	}
	/* Configuration is changed on the machines of customers who consented
	 * to support, as a person's change (docs/CONFIGURATION-REMOTE.md). */
	if (k->config != NULL && !policy_allows(k->v, m->customer_id, "support")) {
		k->unconsented++;
		return 0;
	}
	if (k->effective) {
		char why[CONFIG_WHY_MAX];
		json_t *doc = NULL;
		int rc = config_rollout_effective(k->v, m, &doc, why, sizeof(why));

		json_decref(doc);
		if (rc == CC_ERR_INVALID) {
			if (k->invalid++ < EFFECTIVE_LISTED)
				json_array_append_new(k->invalid_machines,
				                      json_pack("{s:s, s:s}", "serial", m->serial, "reason", why));
			return 0;
		}
		if (rc != CC_OK)
			return rc;
	}
	for (size_t i = 0; i < k->n; i++)
		if (k->ids[i] == m->id)
			return 0;
	if (k->n == MACHINES_MAX)
		return CC_ERR_LIMIT;
	if (k->n == k->cap) {
		size_t cap = k->cap ? 2 * k->cap : 64;
		int64_t *p = realloc(k->ids, cap * sizeof(*p));

		if (p == NULL)
			return CC_ERR_NOMEM;
		k->ids = p;
		k->cap = cap;
	}
	k->ids[k->n++] = m->id;
	return 0;
}

static int pick_machine(void *ctx, const struct store_machine *m)
{
	return pick(ctx, m);
}

/* The filter's row: its software version (the machine's retained info) when asked. */
static int pick_row(void *ctx, const struct store_machine_status *row)
{
	struct picked *k = ctx;
	char *info = NULL;
	json_t *doc = NULL;
	int match = k->version == NULL;

	if (!match && row->has_state && records_open_info(k->v, &row->m, &row->st, &info) == CC_OK &&
	    (doc = json_loads(info, 0, NULL)) != NULL) {
		const char *sw = json_string_value(json_object_get(doc, "sw"));

		match = sw != NULL && strcmp(sw, k->version) == 0;
	}
	json_decref(doc);
	free(info);
	return match ? pick(k, &row->m) : 0;
}

static int short_text(const json_t *v, size_t max)
{
	const char *s = json_string_value(v);
	size_t n = s != NULL ? strlen(s) : 0;

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

#define TARGET_HELP                                                                                 \
	"target: one of {\"group\": a group's id}, {\"serials\": [S, ...]} (1-200), {\"filter\": {model, " \
	"version, site, customer}} (strings, at least one)"

static int resolve(struct vault *v, const json_t *target, struct picked *k, char why[ROLLOUTS_WHY_MAX])
{
	struct store *s = vault_store(v);
	const json_t *x;
	int rc = CC_OK;

	if (!json_is_object(target) || json_object_size(target) != 1)
		goto bad;
	if ((x = json_object_get(target, "serials")) != NULL) {
		struct store_machine *m;

		if (!json_is_array(x) || json_array_size(x) == 0 || json_array_size(x) > ROLLOUTS_SERIALS_MAX)
			goto bad;
		if ((m = malloc(sizeof(*m))) == NULL)
			return CC_ERR_NOMEM;
		for (size_t i = 0; i < json_array_size(x) && rc == CC_OK; i++) {
			const char *serial = json_string_value(json_array_get(x, i));

			if (serial == NULL || !inventory_serial_valid(serial)) {
				snprintf(why, ROLLOUTS_WHY_MAX, "serials: item %zu is not a serial", i + 1);
				rc = CC_ERR_INVALID;
			} else if ((rc = s->ops->machine_find(s, serial, m)) == CC_ERR_NOTFOUND) {
				snprintf(why, ROLLOUTS_WHY_MAX, "serials: item %zu is no machine of the fleet", i + 1);
			} else if (rc == CC_OK) {
				rc = pick(k, m);
			}
		}
		free(m);
		return rc;
	}
	if ((x = json_object_get(target, "group")) != NULL) {
		char group[24];

		if (!json_is_integer(x) || json_integer_value(x) <= 0)
			goto bad;
		snprintf(group, sizeof(group), "%lld", (long long)json_integer_value(x));
		rc = jobs_group_members(v, group, pick_machine, k);
		if (rc == CC_ERR_NOTFOUND)
			snprintf(why, ROLLOUTS_WHY_MAX, "no such group");
		return rc;
	}
	if ((x = json_object_get(target, "filter")) != NULL) {
		struct store_machine_filter f;
		struct store_org org;
		const char *key;
		const json_t *val;

		if (!json_is_object(x) || json_object_size(x) == 0)
			goto bad;
		json_object_foreach((json_t *)x, key, val) {
			if ((strcmp(key, "model") != 0 && strcmp(key, "version") != 0 && strcmp(key, "site") != 0 &&
			     strcmp(key, "customer") != 0) ||
			    !short_text(val, strcmp(key, "version") == 0 ? CC_UPDATE_VERSION_MAX : CC_NAME_MAX))
				goto bad;
		}
		memset(&f, 0, sizeof(f));
		f.status = STORE_STATUS_ANY;
		k->model = json_string_value(json_object_get(x, "model"));
		k->version = json_string_value(json_object_get(x, "version"));
		f.model = k->model;
		f.site = json_string_value(json_object_get(x, "site"));
		if ((val = json_object_get(x, "customer")) != NULL) {
			if (s->ops->org_find(s, json_string_value(val), &org) != CC_OK || org.kind != ORG_CUSTOMER) {
				snprintf(why, ROLLOUTS_WHY_MAX, "filter: no such customer");
				return CC_ERR_NOTFOUND;
			}
			f.customer_id = org.id;
		}
		return s->ops->machine_status_list(s, &f, pick_row, k);
	}
bad:
	snprintf(why, ROLLOUTS_WHY_MAX, "%s", TARGET_HELP);
	return CC_ERR_INVALID;
}

/* ---- create ---- */

static int int_field(const json_t *req, const char *name, int64_t dflt, int64_t min, int64_t max, int64_t *out)
{
	const json_t *x = json_object_get(req, name);

	if (x == NULL) {
		*out = dflt;
		return 1;
	}
	if (!json_is_integer(x) || json_integer_value(x) < min || json_integer_value(x) > max)
		return 0;
	*out = json_integer_value(x);
	return 1;
}

static int parse_plan(const json_t *req, struct rollout_plan *p, char window[CC_SITE_HOURS_MAX + 1],
                      char why[ROLLOUTS_WHY_MAX])
{
	const json_t *phases = json_object_get(req, "phases"), *w = json_object_get(req, "window");
	int64_t soak, threshold, min_reports, margin, quality;
	char reason[ROLLOUT_REASON_MAX];
	struct week_hours h;

	memset(p, 0, sizeof(*p));
	if (phases == NULL) {
		memcpy(p->phases, default_phases, sizeof(default_phases));
		p->n_phases = sizeof(default_phases);
	} else {
		if (!json_is_array(phases) || json_array_size(phases) < 1 || json_array_size(phases) > ROLLOUT_PHASES_MAX) {
			snprintf(why, ROLLOUTS_WHY_MAX, "phases: 1 to %d percentages", ROLLOUT_PHASES_MAX);
			return CC_ERR_INVALID;
		}
		for (size_t i = 0; i < json_array_size(phases); i++) {
			const json_t *x = json_array_get(phases, i);

			if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > 100) {
				snprintf(why, ROLLOUTS_WHY_MAX, "phases: rising percentages within 1-100");
				return CC_ERR_INVALID;
			}
			p->phases[p->n_phases++] = (uint8_t)json_integer_value(x);
		}
	}
	if (!int_field(req, "soak", SOAK_DEFAULT_S, 0, ROLLOUTS_SOAK_MAX_S, &soak)) {
		snprintf(why, ROLLOUTS_WHY_MAX, "soak: seconds, 0 to %d", ROLLOUTS_SOAK_MAX_S);
		return CC_ERR_INVALID;
	}
	if (!int_field(req, "threshold", 10, 0, 100, &threshold)) {
		snprintf(why, ROLLOUTS_WHY_MAX, "threshold: a percentage, 0-100");
		return CC_ERR_INVALID;
	}
	if (!int_field(req, "min_reports", 1, 1, MACHINES_MAX, &min_reports)) {
		snprintf(why, ROLLOUTS_WHY_MAX, "min_reports: 1 or more");
		return CC_ERR_INVALID;
	}
	if (!int_field(req, "health_margin", HEALTH_MARGIN_DEFAULT, 0, 100, &margin)) {
		snprintf(why, ROLLOUTS_WHY_MAX, "health_margin: points of availability, 0-100 (100: not compared)");
		return CC_ERR_INVALID;
	}
	if (!int_field(req, "compliance_margin", COMPLIANCE_MARGIN_DEFAULT, 0, 100, &quality)) {
		snprintf(why, ROLLOUTS_WHY_MAX, "compliance_margin: points of brews in spec, 0-100 (100: not compared)");
		return CC_ERR_INVALID;
	}
	p->soak_ms = soak * 1000;
	p->threshold_pct = (int)threshold;
	p->min_reports = (int)min_reports;
	p->health_margin = (int)margin;
	p->compliance_margin = (int)quality;
	if (rollout_plan_check(p, reason) != 0) {
		snprintf(why, ROLLOUTS_WHY_MAX, "%s", reason);
		return CC_ERR_INVALID;
	}
	window[0] = '\0';
	if (w != NULL) {
		char hwhy[120];

		if (!json_is_string(w) || strlen(json_string_value(w)) > CC_SITE_HOURS_MAX ||
		    hours_parse(json_string_value(w), &h, hwhy, sizeof(hwhy)) != CC_OK) {
			snprintf(why, ROLLOUTS_WHY_MAX, "window: maintenance hours as \"mon-fri 01:00-05:00\" "
			                                "(each site's local time)");
			return CC_ERR_INVALID;
		}
		hours_format(&h, window, CC_SITE_HOURS_MAX + 1);
	}
	return CC_OK;
}

static const char *const request_keys[] = { "artifact",      "config", "reason",      "target",
	                                    "phases",        "soak",   "threshold",   "min_reports",
	                                    "window",        "health_margin", "compliance_margin",
	                                    "effective",     "take_back",     NULL };

int rollouts_create(struct vault *v, const json_t *req, const char *by, json_t **out, char why[ROLLOUTS_WHY_MAX])
{
	struct store *s = vault_store(v);
	struct picked k;
	struct store_rollout *r = NULL;
	struct store_artifact art;
	struct rollout_plan plan;
	const char *sha, *key;
	const json_t *val, *config = json_object_get(req, "config"), *effective = json_object_get(req, "effective");
	char *target = NULL, *config_text = NULL;
	int64_t id = 0, now = clock_now_ms(), joined = 0;
	int rc;

	why[0] = '\0';
	memset(&k, 0, sizeof(k));
	if (!json_is_object(req)) {
		snprintf(why, ROLLOUTS_WHY_MAX, "a JSON object: artifact, target, phases, soak, threshold");
		return CC_ERR_INVALID;
	}
	json_object_foreach((json_t *)req, key, val) {
		size_t i;

		for (i = 0; request_keys[i] != NULL && strcmp(request_keys[i], key) != 0; i++)
			;
		if (request_keys[i] == NULL) {
			snprintf(why, ROLLOUTS_WHY_MAX, "unknown field (artifact or config and reason, target, phases, soak, "
			                                "threshold, min_reports, window, health_margin, compliance_margin, effective, take_back)");
			return CC_ERR_INVALID;
		}
	}
	sha = json_string_value(json_object_get(req, "artifact"));
	if ((val = json_object_get(req, "take_back")) != NULL && (!json_is_boolean(val) || (config == NULL &&
	                                                                                   effective == NULL))) {
		snprintf(why, ROLLOUTS_WHY_MAX, "take_back: true or false, with config or effective");
		return CC_ERR_INVALID;
	}
	if (effective != NULL && (!json_is_true(effective) || config != NULL || sha != NULL)) {
		snprintf(why, ROLLOUTS_WHY_MAX, "effective: true, instead of config or artifact");
		return CC_ERR_INVALID;
	}
	if (effective != NULL) {
		if ((rc = config_rollout_reason(json_string_value(json_object_get(req, "reason")), why)) != CC_OK)
			return rc;
		if ((config_text = strdup("")) == NULL)
			return CC_ERR_NOMEM;
		k.effective = 1;
		if ((k.invalid_machines = json_array()) == NULL) {
			free(config_text);
			return CC_ERR_NOMEM;
		}
	} else if (config != NULL) {
		if (json_object_get(req, "artifact") != NULL) {
			snprintf(why, ROLLOUTS_WHY_MAX, "a rollout carries an artifact or a configuration, not both");
			return CC_ERR_INVALID;
		}
		rc = config_rollout_request(config, json_string_value(json_object_get(req, "reason")), &config_text, why);
		if (rc != CC_OK)
			return rc;
	} else if (json_object_get(req, "reason") != NULL) {
		snprintf(why, ROLLOUTS_WHY_MAX, "reason: with config only");
		return CC_ERR_INVALID;
	} else if (sha == NULL || strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64) {
		snprintf(why, ROLLOUTS_WHY_MAX, "artifact: the SHA-256 of a stored artifact (hex)");
		return CC_ERR_INVALID;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		json_decref(k.invalid_machines);
		free(config_text);
		return CC_ERR_NOMEM;
	}
	rc = parse_plan(req, &plan, r->window, why);
	if (rc == CC_OK) {
		target = json_dumps(json_object_get(req, "target"), JSON_COMPACT | JSON_SORT_KEYS);
		if (target == NULL || strlen(target) > STORE_ROLLOUT_TARGET_MAX) {
			snprintf(why, ROLLOUTS_WHY_MAX, "%s", TARGET_HELP);
			rc = CC_ERR_INVALID;
		}
	}
	if (rc != CC_OK)
		goto out;
	rc = s->ops->begin(s);
	if (rc != CC_OK)
		goto out;
	if (config_text == NULL) {
		rc = s->ops->updates->artifact_get(s, sha, &art, NULL);
		if (rc == CC_ERR_NOTFOUND)
			snprintf(why, ROLLOUTS_WHY_MAX, "no such artifact");
		else if (rc == CC_OK && art.expires_ms <= now) {
			snprintf(why, ROLLOUTS_WHY_MAX, "the artifact's metadata has expired: sign it again");
			rc = CC_ERR_STATE;
		}
		k.models = art.models;
	}
	if (rc == CC_OK) {
		k.config = config_text;
		k.v = v;
		rc = resolve(v, json_object_get(req, "target"), &k, why);
		if ((rc == CC_ERR_INVALID || rc == CC_ERR_NOTFOUND) && why[0] == '\0')
			snprintf(why, ROLLOUTS_WHY_MAX, "%s", TARGET_HELP);
	}
	if (rc == CC_OK && k.n == 0 && k.effective && k.invalid > 0) {
		snprintf(why, ROLLOUTS_WHY_MAX, "no targeted machine has a valid effective document (%.16s: %.80s)",
		         json_string_value(json_object_get(json_array_get(k.invalid_machines, 0), "serial")),
		         json_string_value(json_object_get(json_array_get(k.invalid_machines, 0), "reason")));
		rc = CC_ERR_INVALID;
	} else if (rc == CC_OK && k.n == 0 && config_text != NULL && k.unfit > 0 && k.unconsented == 0) {
		/* The document fits none of the machines: it is wrong, not the target. */
		snprintf(why, ROLLOUTS_WHY_MAX, "%s; nothing was stored", k.unfit_why);
		rc = CC_ERR_INVALID;
	} else if (rc == CC_OK && k.n == 0) {
		snprintf(why, ROLLOUTS_WHY_MAX, config_text != NULL ? "the target selects no machine in service that the "
		                                                      "document fits and whose customer consented to support"
		                                                    : "the target selects no machine in service that the "
		                                                      "artifact fits");
		rc = CC_ERR_NOTFOUND;
	}
	if (rc == CC_OK && config_text != NULL) {
		snprintf(r->kind, sizeof(r->kind), "%s", CONFIG_ROLLOUT_KIND);
		snprintf(r->config, sizeof(r->config), "%s", config_text);
		snprintf(r->why, sizeof(r->why), "%s", json_string_value(json_object_get(req, "reason")));
		r->effective = k.effective;
		r->take_back = !json_is_false(json_object_get(req, "take_back"));
	} else if (rc == CC_OK) {
		snprintf(r->kind, sizeof(r->kind), "update");
		memcpy(r->sha256, art.sha256, sizeof(r->sha256));
	}
	if (rc == CC_OK) {
		snprintf(r->target, sizeof(r->target), "%s", target);
		phases_text(&plan, r->phases, sizeof(r->phases));
		r->soak_ms = plan.soak_ms;
		r->threshold_pct = plan.threshold_pct;
		r->min_reports = plan.min_reports;
		r->health_margin = plan.health_margin;
		r->compliance_margin = plan.compliance_margin;
		snprintf(r->state, sizeof(r->state), "%s", rollout_state_name(ROLLOUT_RUNNING));
		r->created_ms = r->updated_ms = now;
		snprintf(r->created_by, sizeof(r->created_by), "%s", by);
		snprintf(r->updated_by, sizeof(r->updated_by), "%s", by);
		rc = s->ops->rollouts->add(s, r, &id);
	}
	for (size_t i = 0; rc == CC_OK && i < k.n; i++) {
		rc = s->ops->rollouts->machine_add(s, id, k.ids[i], now);
		if (rc == CC_ERR_EXISTS) {
			r->skipped++; /* in another active rollout: one at a time */
			rc = CC_OK;
		} else if (rc == CC_OK) {
			joined++;
		}
	}
	if (rc == CC_OK && joined == 0) {
		snprintf(why, ROLLOUTS_WHY_MAX, "every selected machine is in another active rollout");
		rc = CC_ERR_EXISTS;
	}
	if (rc == CC_OK && r->skipped > 0) {
		r->id = id; /* the count is known only now */
		rc = s->ops->rollouts->update(s, r);
	}
	if (rc == CC_OK)
		rc = s->ops->commit(s);
	else
		s->ops->rollback(s);
	if (rc == CC_OK) {
		rc = rollouts_json(v, id, out);
		if (rc == CC_OK) {
			json_object_set_new(*out, "skipped", json_integer(r->skipped));
			json_object_set_new(*out, "unfit", json_integer((json_int_t)k.unfit));
			if (config_text != NULL)
				json_object_set_new(*out, "unconsented", json_integer((json_int_t)k.unconsented));
			if (k.effective) {
				json_object_set_new(*out, "invalid", json_integer((json_int_t)k.invalid));
				json_object_set(*out, "invalid_machines", k.invalid_machines);
			}
		}
	}
out:
	json_decref(k.invalid_machines);
	free(config_text);
	free(target);
	free(k.ids);
	free(r);
	return rc;
}

/* ---- withdrawing, ending ---- */

struct rows {
	struct store_rollout_machine *v;
	size_t n, cap;
};

static int collect_row(void *ctx, const struct store_rollout_machine *m)
{
	struct rows *r = ctx;

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

/* Offers made and not yet taken (the machine said nothing since) are
 * withdrawn: a halted or aborted rollout reaches no machine more. A
 * machine already downloading or installing goes on, and may report. */
static int withdraw(struct store *s, const struct store_rollout *r, const struct rows *rows)
{
	for (size_t i = 0; i < rows->n; i++) {
		char sha[65];
		int64_t at;
		int rc;

		if (strcmp(rows->v[i].state, rollout_mstate_name(RM_OFFERED)) != 0)
			continue;
		rc = s->ops->updates->offer_get(s, rows->v[i].machine_id, sha, &at);
		if (rc == CC_OK && strcmp(sha, r->sha256) == 0)
			rc = s->ops->updates->offer_clear(s, rows->v[i].machine_id);
		if (rc != CC_OK && rc != CC_ERR_NOTFOUND)
			return rc;
	}
	return CC_OK;
}

int rollouts_act(struct vault *v, int64_t id, const char *action, const char *by, char why[ROLLOUTS_WHY_MAX])
{
	struct store *s = vault_store(v);
	struct store_rollout *r = malloc(sizeof(*r));
	struct rows rows = { NULL, 0, 0 };
	int st, rc;

	why[0] = '\0';
	if (r == NULL)
		return CC_ERR_NOMEM;
	rc = s->ops->begin(s);
	if (rc != CC_OK) {
		free(r);
		return rc;
	}
	rc = s->ops->rollouts->get(s, id, r);
	if (rc == CC_ERR_NOTFOUND)
		snprintf(why, ROLLOUTS_WHY_MAX, "no such rollout");
	st = rc == CC_OK ? rollout_state_parse(r->state) : -1;
	if (rc == CC_OK && strcmp(action, "pause") == 0) {
		if (st != ROLLOUT_RUNNING)
			rc = CC_ERR_STATE;
		else
			snprintf(r->state, sizeof(r->state), "%s", rollout_state_name(ROLLOUT_PAUSED));
	} else if (rc == CC_OK && strcmp(action, "resume") == 0) {
		if (st != ROLLOUT_PAUSED)
			rc = CC_ERR_STATE;
		else
			snprintf(r->state, sizeof(r->state), "%s", rollout_state_name(ROLLOUT_RUNNING));
	} else if (rc == CC_OK && strcmp(action, "abort") == 0) {
		if (st != ROLLOUT_RUNNING && st != ROLLOUT_PAUSED && st != ROLLOUT_HALTED) {
			rc = CC_ERR_STATE;
		} else {
			snprintf(r->state, sizeof(r->state), "%s", rollout_state_name(ROLLOUT_ABORTED));
			r->ended_ms = clock_now_ms();
			rc = s->ops->rollouts->machines(s, id, collect_row, &rows);
			if (rc == CC_OK)
				rc = withdraw(s, r, &rows);
			if (rc == CC_OK)
				rc = s->ops->rollouts->release(s, id);
		}
	} else if (rc == CC_OK) {
		snprintf(why, ROLLOUTS_WHY_MAX, "an action is pause, resume or abort");
		rc = CC_ERR_INVALID;
	}
	if (rc == CC_ERR_STATE)
		snprintf(why, ROLLOUTS_WHY_MAX, "the rollout is %s: %s is for a %s one", rollout_state_name(st), action,
		         strcmp(action, "pause") == 0    ? "running"
		         : strcmp(action, "resume") == 0 ? "paused"
		                                         : "running, paused or halted");
	if (rc == CC_OK) {
		r->updated_ms = clock_now_ms();
		snprintf(r->updated_by, sizeof(r->updated_by), "%s", by);
		rc = s->ops->rollouts->update(s, r);
	}
	if (rc == CC_OK)
		rc = s->ops->commit(s);
	else
		s->ops->rollback(s);
	if (rc == CC_OK)
		log_info(MOD, "rollout %lld: %s by %s", (long long)id, action, by);
	/* After the commit: each machine's version is set in its own transactions. */
	if (rc == CC_OK && strcmp(action, "abort") == 0 && strcmp(r->kind, CONFIG_ROLLOUT_KIND) == 0 &&
	    config_rollout_take_back(v, id) != CC_OK)
		log_error(MOD, "rollout %lld: the previous configurations were not all set again", (long long)id);
	free(rows.v);
	free(r);
	return rc;
}

/* ---- JSON ---- */

static json_t *rollout_doc(const struct store_rollout *r)
{
	struct rollout_plan p;
	json_t *phases = json_array(), *target = json_loads(r->target, 0, NULL);

	json_t *doc;

	if (plan_of(r, &p) == CC_OK)
		for (size_t i = 0; i < p.n_phases; i++)
			json_array_append_new(phases, json_integer(p.phases[i]));
	doc = json_pack("{s:I, s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:s, s:s, s:I, s:I, s:s, s:I, s:s, s:I, s:s, s:I}",
	                 "id",
	                 (json_int_t)r->id, "artifact", r->sha256, "target", target != NULL ? target : json_object(),
	                 "phases", phases, "soak", (json_int_t)(r->soak_ms / 1000), "threshold",
	                 (json_int_t)r->threshold_pct, "min_reports", (json_int_t)r->min_reports, "health_margin",
	                 (json_int_t)r->health_margin, "window", r->window,
	                 "state", r->state, "phase", (json_int_t)(r->phase + 1), "skipped", (json_int_t)r->skipped,
	                 "halt_reason", r->halt_reason, "created_ms", (json_int_t)r->created_ms, "created_by",
	                 r->created_by, "updated_ms", (json_int_t)r->updated_ms, "updated_by", r->updated_by,
	                 "ended_ms", (json_int_t)r->ended_ms);
	if (doc != NULL) {
		int config = strcmp(r->kind, CONFIG_ROLLOUT_KIND) == 0;

		json_object_set_new(doc, "kind", json_string(config ? CONFIG_ROLLOUT_KIND : "update"));
		json_object_set_new(doc, "compliance_margin", json_integer((json_int_t)r->compliance_margin));
		if (config) {
			json_t *c = json_loads(r->config, 0, NULL);

			json_object_set_new(doc, "config", c != NULL ? c : json_object());
			json_object_set_new(doc, "reason", json_string(r->why));
			json_object_set_new(doc, "effective", json_boolean(r->effective));
			json_object_set_new(doc, "take_back", json_boolean(r->take_back));
		}
	}
	return doc;
}

static int list_one(void *ctx, const struct store_rollout *r)
{
	json_t *doc = rollout_doc(r);

	return doc != NULL && json_array_append_new(ctx, doc) == 0 ? 0 : CC_ERR_NOMEM;
}

int rollouts_list_json(struct vault *v, const char *state, json_t **out)
{
	struct store *s = vault_store(v);
	json_t *list = json_array();
	int rc;

	if (list == NULL)
		return CC_ERR_NOMEM;
	if (state != NULL && rollout_state_parse(state) < 0) {
		json_decref(list);
		return CC_ERR_INVALID;
	}
	rc = s->ops->rollouts->list(s, state, list_one, list);
	if (rc != CC_OK) {
		json_decref(list);
		return rc;
	}
	*out = json_pack("{s:o}", "rollouts", list);
	return *out != NULL ? CC_OK : CC_ERR_NOMEM;
}

static json_t *counts_doc(const size_t *c)
{
	json_t *o = json_object();

	for (int i = 0; o != NULL && i < RM_COUNT; i++)
		json_object_set_new(o, rollout_mstate_name((enum rollout_mstate)i), json_integer((json_int_t)c[i]));
	return o;
}

int rollouts_json(struct vault *v, int64_t id, json_t **out)
{
	struct store *s = vault_store(v);
	struct store_rollout *r = malloc(sizeof(*r));
	struct rows rows = { NULL, 0, 0 };
	struct rollout_plan p;
	size_t counts[RM_COUNT] = { 0 }, (*per)[RM_COUNT] = NULL;
	json_t *doc = NULL, *machines = NULL, *phases = NULL;
	int rc = CC_OK, own = 0;

	if (r == NULL)
		return CC_ERR_NOMEM;
	/* One snapshot: the settler thread's round writes the rollout and its
	 * machines in one transaction, and the document must not straddle it. */
	if (!s->ops->in_transaction(s)) {
		rc = s->ops->begin_read(s);
		own = rc == CC_OK;
	}
	if (rc == CC_OK)
		rc = s->ops->rollouts->get(s, id, r);
	if (rc == CC_OK)
		rc = plan_of(r, &p);
	if (rc == CC_OK)
		rc = s->ops->rollouts->machines(s, id, collect_row, &rows);
	if (own)
		s->ops->rollback(s);
	if (rc == CC_OK && (per = calloc(ROLLOUT_PHASES_MAX, sizeof(*per))) == NULL)
		rc = CC_ERR_NOMEM;
	if (rc == CC_OK) {
		doc = rollout_doc(r);
		machines = json_array();
		phases = json_array();
		if (doc == NULL || machines == NULL || phases == NULL)
			rc = CC_ERR_NOMEM;
	}
	for (size_t i = 0; rc == CC_OK && i < rows.n; i++) {
		const struct store_rollout_machine *m = &rows.v[i];
		int st = rollout_mstate_parse(m->state);

		if (st < 0)
			st = RM_PENDING;
		counts[st]++;
		if (m->phase >= 0 && m->phase < ROLLOUT_PHASES_MAX)
			per[m->phase][st]++;
		if (json_array_append_new(machines,
		                          json_pack("{s:s, s:I, s:s, s:I, s:s, s:I, s:I, s:I}", "serial", m->serial, "phase",
		                                    (json_int_t)(m->phase + 1), "state", m->state, "percent",
		                                    (json_int_t)m->percent, "reason", m->reason, "offered_ms",
		                                    (json_int_t)m->offered_ms, "updated_ms", (json_int_t)m->updated_ms,
		                                    "config_version", (json_int_t)m->config_version)) != 0)
			rc = CC_ERR_NOMEM;
	}
	for (size_t k = 0; rc == CC_OK && k < p.n_phases; k++) {
		size_t total = rollout_share(&p, (int)k, rows.n) - rollout_share(&p, (int)k - 1, rows.n);

		if (json_array_append_new(phases, json_pack("{s:I, s:I, s:I, s:o}", "phase", (json_int_t)(k + 1),
		                                            "percent", (json_int_t)p.phases[k], "machines",
		                                            (json_int_t)total, "counts", counts_doc(per[k]))) != 0)
			rc = CC_ERR_NOMEM;
	}
	if (rc == CC_OK) {
		size_t done = counts[RM_SUCCEEDED] + counts[RM_FAILED] + counts[RM_ROLLED_BACK] + counts[RM_SKIPPED];

		json_object_set_new(doc, "machines_total", json_integer((json_int_t)rows.n));
		json_object_set_new(doc, "finished_percent",
		                    json_integer(rows.n ? (json_int_t)(done * 100 / rows.n) : 100));
		json_object_set_new(doc, "counts", counts_doc(counts));
		json_object_set(doc, "phase_progress", phases);
		json_object_set(doc, "machines", machines);
		*out = doc;
		doc = NULL;
	}
	json_decref(doc);
	json_decref(machines);
	json_decref(phases);
	free(per);
	free(rows.v);
	free(r);
	return rc;
}

/* ---- the timer ---- */

/* Whether each site's maintenance window holds now; a few sites per round. */
struct site_window {
	int64_t site_id;
	int open;
};

static int window_open(struct store *s, const struct week_hours *h, int64_t site_id, int64_t now_ms,
                       struct site_window **cache, size_t *n)
{
	struct store_site site;
	struct hours_window *w = NULL;
	size_t nw = 0;
	const char *zone = "UTC";
	int open;

	for (size_t i = 0; i < *n; i++)
		if ((*cache)[i].site_id == site_id)
			return (*cache)[i].open;
	if (site_id != 0 && s->ops->site_get(s, site_id, &site) == CC_OK && site.timezone[0] != '\0')
		zone = site.timezone;
	/* A zone the system does not know: closed, so nothing is offered at an unknown hour. */
	open = hours_windows(h, zone, now_ms, now_ms + 1, &w, &nw) == CC_OK && nw > 0;
	free(w);
	{
		struct site_window *p = realloc(*cache, (*n + 1) * sizeof(*p));

		if (p != NULL) {
			*cache = p;
			p[(*n)++] = (struct site_window){ site_id, open };
		}
	}
	return open;
}

/* The machine whose failure tipped the phase: its last failed one. */
static const struct store_rollout_machine *last_failed(const struct rows *rows, int64_t phase)
{
	const struct store_rollout_machine *best = NULL;

	for (size_t i = 0; i < rows->n; i++) {
		int st = rollout_mstate_parse(rows->v[i].state);

		if (rows->v[i].phase == phase && (st == RM_FAILED || st == RM_ROLLED_BACK) &&
		    (best == NULL || rows->v[i].updated_ms >= best->updated_ms))
			best = &rows->v[i];
	}
	return best;
}

/* tipped: the machine the halt's alert hangs on (NULL: none). */
static int halt(struct vault *v, struct store_rollout *r, const struct rows *rows, const struct rollout_step *step,
                const struct store_rollout_machine *tipped, int64_t now_ms)
{
	struct store *s = vault_store(v);
	struct store_machine m;
	char detail[32];
	int rc;

	snprintf(r->state, sizeof(r->state), "%s", rollout_state_name(ROLLOUT_HALTED));
	snprintf(r->halt_reason, sizeof(r->halt_reason), "%s", step->reason);
	rc = withdraw(s, r, rows);
	if (rc == CC_OK && tipped != NULL && s->ops->machine_find(s, tipped->serial, &m) == CC_OK) {
		/* The alert hangs on the machine whose failure (or whose downtime)
		 * halted it, told up to the manufacturer, who runs the rollout. */
		snprintf(detail, sizeof(detail), "%lld", (long long)r->id);
		rc = alerts_raise(v, &m, HALT_RULE, detail, ALERT_LEVELS - 1, now_ms);
	}
	log_warn(MOD, "rollout %lld halted: %s", (long long)r->id, step->reason);
	return rc;
}

/* ---- the soak's verdict ---- */

static int add_availability(void *ctx, int64_t machine_id, const struct availability *a)
{
	struct rollout_health *h = ctx;

	(void)machine_id;
	h->up_ms += a->up_ms;
	h->down_ms += availability_down_ms(a);
	h->incidents += a->incidents;
	return CC_OK;
}

/* One machine's brews over [from_ms, now_ms), judged by its model's rule sets. */
static int quality_of(struct vault *v, const struct compliance_rules *rules, int64_t machine_id, int64_t from_ms,
                      int64_t now_ms, struct rollout_quality *q)
{
	struct store *s = vault_store(v);
	struct store_machine *m = malloc(sizeof(*m));
	struct compliance_sum sum;
	json_t *detail = NULL;
	int rc = m != NULL ? s->ops->machine_get(s, machine_id, m) : CC_ERR_NOMEM;

	memset(&sum, 0, sizeof(sum));
	if (rc == CC_OK)
		rc = compliance_machine(v, rules, m, from_ms, now_ms, now_ms, 0, 1, &sum, &detail);
	if (rc == CC_OK) {
		q->judged = sum.brews - sum.brews_unjudged;
		q->in_spec = sum.in_spec;
	}
	json_decref(detail);
	compliance_sum_free(&sum);
	free(m);
	return rc;
}

/* After the availability: the changed machines' brews in spec against the
 * rest's (quality/compliance.h), over the UTC days from the phase's first
 * offer to now (compliance is kept per machine and day), each group read
 * for at most HEALTH_SAMPLE machines. *worst: the changed machine with the
 * fewest brews in spec. */
static int quality_verdict(struct vault *v, const struct rollout_plan *plan, const struct store_rollout *r,
                           const struct rollout_machine *em, const struct rows *rows, int64_t now_ms,
                           struct rollout_step *step, const struct store_rollout_machine **worst)
{
	struct rollout_quality changed = { 0, 0, 0 }, rest = { 0, 0, 0 };
	struct compliance_rules *rules = NULL;
	int64_t from = now_ms, worst_share = -1;
	int rc;

	if (plan->compliance_margin >= 100)
		return CC_OK;
	for (size_t i = 0; i < rows->n; i++)
		if (rows->v[i].phase == r->phase && rows->v[i].offered_ms > 0 && rows->v[i].offered_ms < from)
			from = rows->v[i].offered_ms;
	from -= from % COMPLIANCE_DAY_MS;
	if ((rc = compliance_rules_load(vault_store(v), &rules)) != CC_OK)
		return rc;
	for (size_t i = 0; rc == CC_OK && i < rows->n; i++) {
		const struct store_rollout_machine *row = &rows->v[em[i].id];
		struct rollout_quality one = { 1, 0, 0 }, *group;

		if (em[i].state == RM_SUCCEEDED && changed.machines < HEALTH_SAMPLE)
			group = &changed;
		else if (em[i].state == RM_PENDING && rest.machines < HEALTH_SAMPLE)
			group = &rest;
		else
			continue;
		rc = quality_of(v, rules, row->machine_id, from, now_ms, &one);
		group->machines++;
		group->judged += one.judged;
		group->in_spec += one.in_spec;
		if (group == &changed && one.judged > 0) {
			int64_t out = (one.judged - one.in_spec) * 1000 / one.judged;

			if (out > worst_share) {
				worst_share = out;
				*worst = row;
			}
		}
	}
	compliance_rules_free(rules);
	if (rc == CC_OK && rollout_compliance_verdict(plan, (int)r->phase, &changed, &rest, step->reason)) {
		step->kind = STEP_HALT;
		log_info(MOD, "rollout %lld: %lld changed machines %lld of %lld judged brews in spec; %lld others %lld of "
		              "%lld", (long long)r->id, (long long)changed.machines, (long long)changed.in_spec,
		         (long long)changed.judged, (long long)rest.machines, (long long)rest.in_spec,
		         (long long)rest.judged);
	}
	return rc;
}

/* Before the next phase: the machines updated so far against those still
 * on the old software, over the soak that just ended, each group read for
 * at most HEALTH_SAMPLE machines in the rollout's order (the work of a
 * round stays bounded however large the rollout). A worse phase turns
 * step into a halt; *worst is the updated machine that was down longest. */
static int soak_verdict(struct vault *v, const struct rollout_plan *plan, const struct store_rollout *r,
                        const struct rollout_machine *em, const struct rows *rows, int64_t now_ms,
                        struct rollout_step *step, const struct store_rollout_machine **worst)
{
	struct store *s = vault_store(v);
	struct rollout_health updated = { 0, 0, 0, 0 }, rest = { 0, 0, 0, 0 };
	int64_t worst_down = -1;
	int rc = CC_OK;

	if (plan->soak_ms <= 0 || r->phase_done_ms <= 0)
		return CC_OK;
	for (size_t i = 0; plan->health_margin < 100 && rc == CC_OK && i < rows->n; i++) {
		const struct store_rollout_machine *row = &rows->v[em[i].id];
		struct rollout_health one = { 1, 0, 0, 0 }, *group;

		if (em[i].state == RM_SUCCEEDED && updated.machines < HEALTH_SAMPLE)
			group = &updated;
		else if (em[i].state == RM_PENDING && rest.machines < HEALTH_SAMPLE)
			group = &rest;
		else
			continue;
		rc = availability_each(s, row->machine_id, r->phase_done_ms, now_ms, add_availability, &one);
		group->machines++;
		group->up_ms += one.up_ms;
		group->down_ms += one.down_ms;
		group->incidents += one.incidents;
		if (group == &updated && one.down_ms + one.incidents > worst_down) {
			worst_down = one.down_ms + one.incidents;
			*worst = row;
		}
	}
	if (rc == CC_OK && !rollout_health_verdict(plan, (int)r->phase, &updated, &rest, step->reason))
		return quality_verdict(v, plan, r, em, rows, now_ms, step, worst);
	if (rc == CC_OK) {
		step->kind = STEP_HALT;
		log_info(MOD, "rollout %lld: over the soak, %lld updated machines %lld ms up, %lld down, %lld "
		              "incidents; %lld others %lld up, %lld down, %lld incidents",
		         (long long)r->id, (long long)updated.machines, (long long)updated.up_ms,
		         (long long)updated.down_ms, (long long)updated.incidents, (long long)rest.machines,
		         (long long)rest.up_ms, (long long)rest.down_ms, (long long)rest.incidents);
	}
	return rc;
}

static int tick_one(struct vault *v, int64_t id, int64_t now_ms)
{
	struct store *s = vault_store(v);
	struct store_rollout *r = malloc(sizeof(*r));
	struct rows rows = { NULL, 0, 0 };
	struct rollout_machine *em = NULL;
	struct site_window *sites = NULL;
	size_t nsites = 0, *buf = NULL;
	struct rollout_plan plan;
	struct rollout_now now;
	struct week_hours hours;
	int rc, has_window = 0, changed = 0, config = 0;
	char by[40];

	if (r == NULL)
		return CC_ERR_NOMEM;
	rc = s->ops->begin(s);
	if (rc != CC_OK) {
		free(r);
		return rc;
	}
	rc = s->ops->rollouts->get(s, id, r);
	if (rc == CC_OK && rollout_state_parse(r->state) != ROLLOUT_RUNNING)
		goto out; /* paused or aborted since the list was read */
	if (rc == CC_OK)
		rc = plan_of(r, &plan);
	if (rc == CC_OK && r->window[0] != '\0') {
		has_window = 1;
		if (hours_parse(r->window, &hours, NULL, 0) != CC_OK)
			rc = CC_ERR_CORRUPT;
	}
	if (rc == CC_OK)
		rc = s->ops->rollouts->machines(s, id, collect_row, &rows);
	if (rc == CC_OK && (config = strcmp(r->kind, CONFIG_ROLLOUT_KIND) == 0)) {
		size_t settled = 0;

		rc = config_rollout_settle(s, rows.v, rows.n, now_ms, &settled);
		changed = settled > 0;
	}
	if (rc == CC_OK && rows.n > 0 &&
	    ((em = calloc(rows.n, sizeof(*em))) == NULL || (buf = calloc(rows.n, sizeof(*buf))) == NULL))
		rc = CC_ERR_NOMEM;
	for (size_t i = 0; rc == CC_OK && i < rows.n; i++) {
		int st = rollout_mstate_parse(rows.v[i].state);

		em[i].id = (int64_t)i;
		em[i].order = rollout_order(rows.v[i].serial, id);
		em[i].phase = (int)rows.v[i].phase;
		em[i].state = st < 0 ? RM_PENDING : (enum rollout_mstate)st;
		em[i].in_window = st != RM_PENDING || !has_window ||
		                  window_open(s, &hours, rows.v[i].site_id, now_ms, &sites, &nsites);
	}
	if (rc == CC_OK)
		rollout_sort(em, rows.n);
	snprintf(by, sizeof(by), "rollout:%lld", (long long)id);
	for (int k = 0; rc == CC_OK && k < STEPS_PER_TICK; k++) {
		struct rollout_step step;

		now.state = ROLLOUT_RUNNING;
		now.phase = (int)r->phase;
		now.phase_done_ms = r->phase_done_ms;
		rollout_decide(&plan, &now, em, rows.n, now_ms, buf, &step);
		if (step.kind == STEP_WAIT)
			break;
		changed = 1;
		if (step.kind == STEP_OFFER) {
			for (size_t j = 0; rc == CC_OK && j < step.n_offer; j++) {
				struct rollout_machine *e = &em[step.offer[j]];
				struct store_rollout_machine *row = &rows.v[e->id];
				char why[UPDATES_WHY_MAX];
				/* A configuration is set after the commit (config_rollouts.h). */
				int orc = config ? CC_OK : updates_offer(v, row->serial, r->sha256, by, why);

				e->phase = step.phase;
				row->phase = step.phase;
				row->updated_ms = now_ms;
				if (orc == CC_OK) {
					e->state = RM_OFFERED;
					row->offered_ms = now_ms;
					snprintf(row->state, sizeof(row->state), "%s", rollout_mstate_name(RM_OFFERED));
				} else if (orc == CC_ERR_INVALID || orc == CC_ERR_STATE || orc == CC_ERR_NOTFOUND) {
					/* The server cannot offer it (no longer in service, the
					 * artifact's key revoked): no failure of the software. */
					e->state = RM_SKIPPED;
					snprintf(row->state, sizeof(row->state), "%s", rollout_mstate_name(RM_SKIPPED));
					snprintf(row->reason, sizeof(row->reason), "%s", why);
				} else {
					rc = orc;
					break;
				}
				rc = s->ops->rollouts->machine_set(s, row);
			}
			if (rc == CC_OK)
				log_info(MOD, "rollout %lld phase %d: offered to %zu machines", (long long)id, step.phase + 1,
				         step.n_offer);
			continue;
		}
		if (step.kind == STEP_SOAK) {
			r->phase_done_ms = now_ms;
		} else if (step.kind == STEP_ADVANCE) {
			const struct store_rollout_machine *worst = NULL;

			rc = soak_verdict(v, &plan, r, em, &rows, now_ms, &step, &worst);
			if (rc == CC_OK && step.kind == STEP_HALT)
				rc = halt(v, r, &rows, &step, worst, now_ms);
			if (rc != CC_OK || step.kind == STEP_HALT)
				break;
			r->phase = step.phase;
			r->phase_done_ms = 0;
			log_info(MOD, "rollout %lld: phase %d begins", (long long)id, step.phase + 1);
		} else if (step.kind == STEP_HALT) {
			rc = halt(v, r, &rows, &step, last_failed(&rows, r->phase), now_ms);
			break;
		} else if (step.kind == STEP_COMPLETE) {
			snprintf(r->state, sizeof(r->state), "%s", rollout_state_name(ROLLOUT_COMPLETED));
			r->ended_ms = now_ms;
			rc = s->ops->rollouts->release(s, id);
			log_info(MOD, "rollout %lld completed", (long long)id);
			break;
		}
	}
	if (rc == CC_OK && changed) {
		r->updated_ms = now_ms;
		snprintf(r->updated_by, sizeof(r->updated_by), "auto");
		rc = s->ops->rollouts->update(s, r);
	}
out:
	if (rc == CC_OK)
		rc = s->ops->commit(s);
	else
		s->ops->rollback(s);
	/* Every round, not only one that offered: a machine marked and not yet
	 * given its version (a failed or interrupted delivery) gets it now. */
	if (rc == CC_OK && config)
		rc = config_rollout_deliver(v, id);
	if (rc == CC_OK && config && rollout_state_parse(r->state) == ROLLOUT_HALTED)
		rc = config_rollout_take_back(v, id);
	free(sites);
	free(buf);
	free(em);
	free(rows.v);
	free(r);
	return rc;
}

static int collect_running(void *ctx, const struct store_rollout *r)
{
	struct rows *ids = ctx; /* machine_id carries the rollout's id */
	struct store_rollout_machine m;

	memset(&m, 0, sizeof(m));
	m.machine_id = r->id;
	return collect_row(ids, &m);
}

static _Atomic int64_t tick_ms_value = 10000;

void rollouts_configure(int64_t tick_ms) { atomic_store(&tick_ms_value, tick_ms > 0 ? tick_ms : 10000); }

int64_t rollouts_tick_ms(void) { return atomic_load(&tick_ms_value); }

int rollouts_tick(struct vault *v, int64_t now_ms)
{
	struct store *s = vault_store(v);
	struct rows ids = { NULL, 0, 0 };
	int rc = s->ops->rollouts->list(s, rollout_state_name(ROLLOUT_RUNNING), collect_running, &ids);

	for (size_t i = 0; rc == CC_OK && i < ids.n; i++) {
		int one = tick_one(v, ids.v[i].machine_id, now_ms);

		/* One rollout that cannot go on does not hold up the others. */
		if (one != CC_OK)
			log_error(MOD, "rollout %lld: this round failed (%s); again at the next",
			          (long long)ids.v[i].machine_id, cc_strerror(one));
	}
	free(ids.v);
	return rc;
}

/* ---- the machine's reports ---- */

/* The reasons a machine may give: docs/UPDATES.md's refusals, and the
 * installation's own failures. */
static const char *const reasons[] = {
	"malformed", "unknown-key", "revoked-key", "bad-signature", "expired", "wrong-model", "rollback",
	"below-min-from", "offer-malformed", "offer-bad-signature", "offer-expired", "offer-other-machine",
	"offer-other-artifact", "too-large", "hash-mismatch", "download-failed", "install-failed", "boot-failed",
	"health-check-failed", NULL
};

static int reason_known(const char *r)
{
	for (size_t i = 0; reasons[i] != NULL; i++)
		if (strcmp(reasons[i], r) == 0)
			return 1;
	return 0;
}

/* A report on an offer made to this machine alone (`artifact offer`): the
 * offer row keeps the latest state. CC_ERR_NOTFOUND when the machine is
 * offered another artifact or none, CC_ERR_STATE when it finished already. */
static int report_direct(struct store *s, const struct store_machine *m, const char *sha256, int st,
                         int64_t percent, const char *reason, int64_t now, int *changed, char why[ROLLOUTS_WHY_MAX])
{
	struct store_offer o;
	struct store_rollout_report rep;
	int was, rc = s->ops->updates->offer_status(s, m->id, &o);

	if (rc == CC_OK && strcmp(o.sha256, sha256) != 0)
		rc = CC_ERR_NOTFOUND;
	if (rc == CC_ERR_NOTFOUND) {
		snprintf(why, ROLLOUTS_WHY_MAX, "this machine is not offered that artifact");
		return rc;
	}
	if (rc != CC_OK)
		return rc;
	was = rollout_mstate_parse(o.state);
	if (was < 0 || rollout_mstate_final((enum rollout_mstate)was)) {
		snprintf(why, ROLLOUTS_WHY_MAX, "this machine's update has finished already");
		return CC_ERR_STATE;
	}
	rc = s->ops->updates->offer_progress(s, m->id, sha256, rollout_mstate_name((enum rollout_mstate)st),
	                                     st == RM_SUCCEEDED ? 100 : percent, reason, now);
	*changed = was != st;
	if (rc == CC_OK && *changed) {
		memset(&rep, 0, sizeof(rep));
		rep.machine_id = m->id;
		rep.at_ms = now;
		memcpy(rep.sha256, sha256, sizeof(rep.sha256));
		snprintf(rep.state, sizeof(rep.state), "%s", rollout_mstate_name((enum rollout_mstate)st));
		rep.percent = st == RM_SUCCEEDED ? 100 : percent;
		snprintf(rep.reason, sizeof(rep.reason), "%s", reason);
		rc = s->ops->rollouts->report_add(s, &rep);
	}
	return rc;
}

int rollouts_report(struct vault *v, const struct store_machine *m, const char *sha256, const char *state,
                    int64_t percent, const char *reason, int *changed, char why[ROLLOUTS_WHY_MAX])
{
	struct store *s = vault_store(v);
	struct store_rollout_machine row;
	struct store_rollout r;
	struct store_rollout_report rep;
	int st = rollout_mstate_parse(state), was, rc;
	int64_t now = clock_now_ms();

	why[0] = '\0';
	*changed = 0;
	if (st < 0 || st == RM_PENDING || st == RM_SKIPPED) {
		snprintf(why, ROLLOUTS_WHY_MAX, "state: offered, downloading, verifying, installing, rebooting, "
		                                "succeeded, failed or rolled_back");
		return CC_ERR_INVALID;
	}
	if (percent < 0 || percent > 100) {
		snprintf(why, ROLLOUTS_WHY_MAX, "percent: 0-100");
		return CC_ERR_INVALID;
	}
	if (reason == NULL)
		reason = "";
	if ((st == RM_FAILED || st == RM_ROLLED_BACK) ? !reason_known(reason) : reason[0] != '\0') {
		snprintf(why, ROLLOUTS_WHY_MAX, "reason: for failed and rolled_back only, a refusal name of "
		                                "docs/UPDATES.md (hash-mismatch, install-failed, ...)");
		return CC_ERR_INVALID;
	}
	if (sha256 == NULL || strlen(sha256) != 64 || strspn(sha256, "0123456789abcdef") != 64) {
		snprintf(why, ROLLOUTS_WHY_MAX, "sha256: the artifact's, hex");
		return CC_ERR_INVALID;
	}
	rc = s->ops->begin(s);
	if (rc != CC_OK)
		return rc;
	rc = s->ops->rollouts->active_of(s, m->id, &row);
	if (rc == CC_OK)
		rc = s->ops->rollouts->get(s, row.rollout_id, &r);
	if (rc == CC_OK && strcmp(r.sha256, sha256) != 0)
		rc = CC_ERR_NOTFOUND;
	/* Not a rollout's: perhaps an offer made to this machine alone. */
	if (rc == CC_ERR_NOTFOUND) {
		rc = report_direct(s, m, sha256, st, percent, reason, now, changed, why);
		if (rc == CC_OK)
			rc = s->ops->commit(s);
		else
			s->ops->rollback(s);
		return rc;
	}
	was = rc == CC_OK ? rollout_mstate_parse(row.state) : -1;
	if (rc == CC_OK && (was == RM_PENDING || was < 0 || rollout_mstate_final((enum rollout_mstate)was))) {
		snprintf(why, ROLLOUTS_WHY_MAX, was == RM_PENDING ? "the rollout has not offered it to this machine yet"
		                                                  : "this machine's update has finished already");
		rc = CC_ERR_STATE;
	}
	if (rc == CC_OK) {
		snprintf(row.state, sizeof(row.state), "%s", state);
		row.percent = st == RM_SUCCEEDED ? 100 : percent;
		snprintf(row.reason, sizeof(row.reason), "%s", reason);
		row.updated_ms = now;
		rc = s->ops->rollouts->machine_set(s, &row);
	}
	/* The machine's update status reads its offer: the rollout's offer
	 * keeps the same progress (withdrawn already after a halt: none). */
	if (rc == CC_OK) {
		rc = s->ops->updates->offer_progress(s, m->id, sha256, row.state, row.percent, reason, now);
		if (rc == CC_ERR_NOTFOUND)
			rc = CC_OK;
	}
	/* The history keeps changes of state, not each percent of a download. */
	*changed = rc == CC_OK && was != st;
	if (rc == CC_OK && was != st) {
		memset(&rep, 0, sizeof(rep));
		rep.rollout_id = row.rollout_id;
		rep.machine_id = m->id;
		rep.at_ms = now;
		memcpy(rep.sha256, sha256, sizeof(rep.sha256));
		snprintf(rep.state, sizeof(rep.state), "%s", state);
		rep.percent = row.percent;
		snprintf(rep.reason, sizeof(rep.reason), "%s", reason);
		rc = s->ops->rollouts->report_add(s, &rep);
	}
	if (rc == CC_OK)
		rc = s->ops->commit(s);
	else
		s->ops->rollback(s);
	return rc;
}
