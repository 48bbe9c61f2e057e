#include "alerts/alerts.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "access/roles.h"
#include "alerts/due.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "crypto/aead.h"
#include "fleet/hours.h"
#include "ingest/catalogue.h"
#include "ingest/jscan.h"
#include "ingest/privacy.h"
#include "quality/compliance.h"
#include "records/records.h"

#define MOD "alerts"
#define RULES_MAX 16
#define CONFIG_CACHE 64
#define STATE_LOOKBACK_MS (INT64_C(7) * 86400000 + 1000)

static atomic_int enabled_flag = 1;
static _Atomic int64_t tick_ms_value = 60000;
static alerts_sink_fn sink_fn;
static void *sink_ctx;

void alerts_configure(int enabled, int64_t tick_ms)
{
	atomic_store(&enabled_flag, enabled != 0);
	atomic_store(&tick_ms_value, tick_ms > 0 ? tick_ms : 60000);
}

int alerts_enabled(void) { return atomic_load(&enabled_flag); }
int64_t alerts_tick_ms(void) { return atomic_load(&tick_ms_value); }

void alerts_set_sink(alerts_sink_fn fn, void *ctx)
{
	sink_fn = fn;
	sink_ctx = ctx;
}

int alerts_business_hours(struct store *s, const struct store_machine *m, int64_t from_ms, int64_t at_ms,
                          int64_t *open_ms)
{
	struct store_site site;
	struct week_hours h;
	struct hours_window *w;
	size_t n, i;
	int within;

	*open_ms = at_ms > from_ms ? at_ms - from_ms : 0;
	/* A site that cannot be read, or hours that no longer parse: around the clock. */
	if (m->site_id == 0 || s->ops->site_get(s, m->site_id, &site) != CC_OK || site.hours[0] == '\0' ||
	    hours_parse(site.hours, &h, NULL, 0) != CC_OK)
		return 1;
	/* One millisecond past at_ms: the last stretch reaches it when it is open then. */
	if (hours_windows(&h, site.timezone[0] ? site.timezone : "UTC", from_ms < at_ms ? from_ms : at_ms, at_ms + 1,
	                  &w, &n) != CC_OK)
		return 1;
	*open_ms = 0;
	for (i = 0; i < n; i++)
		*open_ms += (w[i].end_ms < at_ms ? w[i].end_ms : at_ms) - w[i].start_ms;
	within = n > 0 && w[n - 1].start_ms <= at_ms && w[n - 1].end_ms > at_ms;
	free(w);
	return within;
}

struct alert_weight {
	unsigned classes;
	int penalty, n, critical;
	int worst;           /* the heaviest alert's penalty */
	unsigned worst_class; /* and its rule's data class */
};

static int weigh_alert(void *ctx, const struct store_alert *a)
{
	static const unsigned bits[] = { CLASS_STATUS, CLASS_TECHNICAL, CLASS_SERVICE };
	struct alert_weight *w = ctx;
	const struct alert_rule *rule = alert_rule_find(a->rule);
	unsigned cls = 0;
	size_t i;
	int penalty;

	for (i = 0; rule != NULL && i < sizeof(bits) / sizeof(bits[0]); i++)
		if (strcmp(catalogue_class_name(bits[i]), rule->data_class) == 0)
			cls = bits[i];
	if ((cls & w->classes) == 0)
		return 0;
	penalty = strcmp(a->severity, "critical") == 0 ? 10 : strcmp(a->severity, "warning") == 0 ? 5 : 2;
	w->n++;
	w->critical += penalty == 10;
	w->penalty += penalty;
	if (penalty > w->worst) {
		w->worst = penalty;
		w->worst_class = cls;
	}
	return 0;
}

int alerts_health(struct store *s, const struct store_machine *m, unsigned classes, struct health *h)
{
	struct store_alert_filter f;
	struct alert_weight w = { classes, 0, 0, 0, 0, 0 };
	char why[96];
	int rc;

	memset(&f, 0, sizeof(f));
	f.unresolved = 1;
	f.machine_id = m->id;
	rc = s->ops->alert_list(s, &f, weigh_alert, &w);
	if (rc != CC_OK || w.n == 0)
		return rc;
	snprintf(why, sizeof(why), "%d unresolved alert%s (%d critical)", w.n, w.n == 1 ? "" : "s", w.critical);
	/* Only alerts of classes the reader sees were counted; the part is
	 * labelled with the heaviest one's. */
	health_add(h, "alerts", w.worst_class, w.penalty > 30 ? 30 : w.penalty, why);
	return CC_OK;
}

int64_t alerts_cert_not_after(struct store *s, const struct store_machine *m)
{
	(void)s;
	return m->cert_not_after_ms; /* 0: a certificate from before expiries were kept */
}

/* ---- rule settings ---- */

struct rule_row_scan {
	const char *rule;
	int64_t org_id;
	int found, enabled;
	char params[512];
};

static int find_rule_row(void *ctx, int64_t org_id, const char *rule, int enabled, const char *params)
{
	struct rule_row_scan *f = ctx;

	if (org_id != f->org_id || rule == NULL || strcmp(rule, f->rule) != 0)
		return 0;
	f->found = 1;
	f->enabled = enabled;
	snprintf(f->params, sizeof(f->params), "%s", params != NULL ? params : "{}");
	return 1;
}

static void apply_params(const struct alert_rule *r, const char *text, struct alert_rule_config *c)
{
	json_t *doc = json_loads(text, 0, NULL);
	int i;

	if (!json_is_object(doc)) {
		json_decref(doc);
		return;
	}
	for (i = 0; i < ALERT_PARAMS_MAX && r->params[i].name != NULL; i++) {
		json_t *v = json_object_get(doc, r->params[i].name);

		if (json_is_integer(v) && json_integer_value(v) >= r->params[i].min &&
		    json_integer_value(v) <= r->params[i].max)
			c->p[i] = json_integer_value(v);
	}
	if (json_is_integer(json_object_get(doc, ALERT_ESCALATE_PARAM)))
		c->escalate_s = json_integer_value(json_object_get(doc, ALERT_ESCALATE_PARAM));
	json_decref(doc);
}

static void defaults(const struct alert_rule *r, struct alert_rule_config *c)
{
	int i;

	memset(c, 0, sizeof(*c));
	c->enabled = 1;
	c->escalate_s = ALERT_ESCALATE_DEFAULT;
	for (i = 0; i < ALERT_PARAMS_MAX && r->params[i].name != NULL; i++)
		c->p[i] = r->params[i].dflt;
}

int alerts_rule_config(struct store *s, int64_t org_id, const struct alert_rule *r, struct alert_rule_config *out)
{
	int64_t chain[8];
	size_t n = 0;
	int rc;

	defaults(r, out);
	/* The organisation and its ancestors, nearest first. */
	while (org_id > 0 && n < sizeof(chain) / sizeof(chain[0])) {
		struct store_org o;

		chain[n++] = org_id;
		rc = s->ops->org_get(s, org_id, &o);
		if (rc != CC_OK)
			break;
		org_id = o.parent_id;
	}
	/* The furthest first, so nearer settings override: parameters the
	 * nearer one leaves out keep the inherited value. */
	while (n > 0) {
		struct rule_row_scan f;

		memset(&f, 0, sizeof(f));
		f.rule = r->id;
		f.org_id = chain[--n];
		rc = s->ops->alert_rule_list(s, f.org_id, find_rule_row, &f);
		if (rc < 0)
			return rc;
		if (f.found) {
			out->enabled = f.enabled;
			out->from_org = f.org_id;
			apply_params(r, f.params, out);
		}
	}
	return CC_OK;
}

int alerts_rule_set(struct store *s, int64_t org_id, const char *rule, int enabled, const char *params_json,
                    char *why, size_t why_cap)
{
	const struct alert_rule *r = alert_rule_find(rule);
	json_t *doc, *v, *keep;
	const char *key;
	char *text;
	int rc;

	if (r == NULL) {
		snprintf(why, why_cap, "no such rule");
		return CC_ERR_INVALID;
	}
	doc = json_loads(params_json != NULL ? params_json : "{}", JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(doc)) {
		json_decref(doc);
		snprintf(why, why_cap, "parameters must be a JSON object");
		return CC_ERR_INVALID;
	}
	keep = json_object();
	json_object_foreach(doc, key, v) {
		int i = alert_rule_param(r, key);
		int64_t min = i >= 0 ? r->params[i].min : 0, max = i >= 0 ? r->params[i].max : 30 * 86400;

		if (i < 0 && strcmp(key, ALERT_ESCALATE_PARAM) != 0) {
			snprintf(why, why_cap, "the rule has no such parameter");
			rc = CC_ERR_INVALID;
			goto out;
		}
		if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
			snprintf(why, why_cap, "%s must be an integer from %lld to %lld", i >= 0 ? r->params[i].name
			         : ALERT_ESCALATE_PARAM, (long long)min, (long long)max);
			rc = CC_ERR_INVALID;
			goto out;
		}
		json_object_set(keep, key, v);
	}
	text = json_dumps(keep, JSON_COMPACT | JSON_SORT_KEYS);
	rc = text == NULL ? CC_ERR_NOMEM : s->ops->alert_rule_set(s, org_id, r->id, enabled, text);
	free(text);
out:
	json_decref(keep);
	json_decref(doc);
	return rc;
}

/* ---- applying verdicts ---- */

static void org_levels(struct store *s, int64_t customer_id, struct alert_notice *n)
{
	int64_t id = customer_id;
	int64_t chain[8];
	size_t k = 0;

	while (id > 0 && k < 8) {
		struct store_org o;

		chain[k++] = id;
		if (s->ops->org_get(s, id, &o) != CC_OK)
			break;
		id = o.parent_id;
	}
	/* Level 0 the customer, 1 the organisation above it, 2 the root. */
	n->n_orgs = 0;
	if (k > 0)
		n->org_ids[n->n_orgs++] = chain[0];
	if (k > 2)
		n->org_ids[n->n_orgs++] = chain[1];
	if (k > 1)
		n->org_ids[n->n_orgs++] = chain[k - 1];
	if (n->n_orgs > (size_t)n->alert->level + 1)
		n->n_orgs = (size_t)n->alert->level + 1;
}

static int notify(struct vault *v, const struct store_machine *m, const char *what, const struct store_alert *a)
{
	struct store *s = vault_store(v);
	struct alert_notice n;

	if (sink_fn == NULL)
		return CC_OK;
	memset(&n, 0, sizeof(n));
	n.what = what;
	n.alert = a;
	n.serial = m->serial;
	org_levels(s, m->customer_id, &n);
	return sink_fn(sink_ctx, v, &n);
}

static int history(struct store *s, int64_t alert_id, int64_t at_ms, const char *who, const char *what,
                   const char *detail)
{
	struct store_alert_event *e = calloc(1, sizeof(*e));
	int rc;

	if (e == NULL)
		return CC_ERR_NOMEM;
	e->alert_id = alert_id;
	e->at_ms = at_ms;
	snprintf(e->who, sizeof(e->who), "%s", who);
	snprintf(e->what, sizeof(e->what), "%s", what);
	snprintf(e->detail, sizeof(e->detail), "%s", detail);
	rc = s->ops->alert_event_add(s, e);
	free(e);
	return rc;
}

/* Opens or resolves the alert of (machine, cause); nothing when it is so. */
static int apply(struct vault *v, const struct store_machine *m, const struct alert_rule *r, const char *detail,
                 int active, int64_t at_ms, int64_t level)
{
	struct store *s = vault_store(v);
	struct store_alert a;
	char cause[sizeof(a.cause)];
	int rc;

	snprintf(cause, sizeof(cause), "%s%s%s", r->id, detail[0] ? ":" : "", detail);
	rc = s->ops->alert_find_open(s, m->id, cause, &a);
	if (rc != CC_OK && rc != CC_ERR_NOTFOUND)
		return rc;
	if (active) {
		if (rc == CC_OK)
			return CC_OK;
		memset(&a, 0, sizeof(a));
		a.machine_id = m->id;
		snprintf(a.rule, sizeof(a.rule), "%s", r->id);
		snprintf(a.cause, sizeof(a.cause), "%s", cause);
		snprintf(a.severity, sizeof(a.severity), "%s", r->severity);
		snprintf(a.state, sizeof(a.state), "open");
		a.opened_ms = at_ms;
		a.level = level;
		a.level_ms = at_ms;
		rc = s->ops->alert_open(s, &a, &a.id);
		if (rc == CC_OK)
			rc = history(s, a.id, at_ms, "auto", "opened", "");
		return rc == CC_OK ? notify(v, m, "opened", &a) : rc;
	}
	if (rc == CC_ERR_NOTFOUND)
		return CC_OK;
	snprintf(a.state, sizeof(a.state), "resolved");
	a.resolved_ms = at_ms > a.opened_ms ? at_ms : a.opened_ms;
	snprintf(a.resolved_by, sizeof(a.resolved_by), "auto");
	rc = s->ops->alert_update(s, &a);
	if (rc == CC_OK)
		rc = history(s, a.id, a.resolved_ms, "auto", "resolved", "the cause cleared");
	return rc == CC_OK ? notify(v, m, "resolved", &a) : rc;
}

int alerts_raise(struct vault *v, const struct store_machine *m, const char *rule, const char *detail, int64_t level,
                 int64_t at_ms)
{
	const struct alert_rule *r = alert_rule_find(rule);

	if (r == NULL || level < 0 || level >= ALERT_LEVELS)
		return CC_ERR_INVALID;
	if (!alerts_enabled())
		return CC_OK; /* `alerts = false`: no alert opens, whatever raises it */
	return apply(v, m, r, detail, 1, at_ms, level);
}

/* ---- per-round caches ---- */

struct cached_config {
	int64_t customer_id;
	struct alert_rule_config c[RULES_MAX];
};

struct verdict {
	int64_t machine_id, at_ms;
	unsigned rule;
	int active;
	char detail[CC_NAME_MAX + 1];
};

struct alerts_round {
	struct vault *v;
	const struct alert_rule *rules;
	size_t nrules;
	struct cached_config cache[CONFIG_CACHE];
	size_t cached;
	struct store_machine machine; /* the last one looked up */
	int have_machine;
	struct verdict *pending;
	size_t n, cap;
	/* the verdict being given: whose */
	int64_t cur_machine, cur_at;
	unsigned cur_rule;
	/* refusal windows, per machine (timer) */
	struct refusal_window {
		int64_t machine_id, since_ms, base_count;
	} *windows;
	size_t nwin, capwin;
	struct compliance_rules *quality; /* the quality rule sets, read once per round */
	/* What the rules remember of each machine, by machine id: its last
	 * cleaning per program (kept in the store too: a restart forgets
	 * none) and since when each limited metric has been beyond its
	 * limit (0: within; of the rule set version beyond_version - 1);
	 * the water brewed since its last descale, counted from the first
	 * brew or descale seen (water_known) and kept sealed in the store. */
	struct cleaned {
		int64_t machine_id;
		int64_t last[QP_COUNT];
		int changed; /* a cleaning to store at the round's end */
		int64_t water_ml;
		int water_known, water_changed;
		int64_t water_customer; /* whose key seals it */
		int64_t beyond_version;
		int64_t beyond_since[QUALITY_LIMITS_MAX];
	} *cleaned;
	size_t ncleaned, capcleaned;
	int cleanings_changed;
	struct alert_due *due; /* each machine's service forecast (maintenance_due_soon) */
};

static struct cleaned *cleaned_of(struct alerts_round *r, int64_t machine_id, int add);

static int load_cleaning(void *ctx, int64_t machine_id, const char *program, int64_t ts_ms)
{
	struct alerts_round *r = ctx;
	int prog = program != NULL ? quality_program_find(program, strlen(program)) : -1;
	struct cleaned *cl = prog >= 0 ? cleaned_of(r, machine_id, 1) : NULL;

	if (cl != NULL && ts_ms > cl->last[prog])
		cl->last[prog] = ts_ms;
	return 0;
}

static int machine_of(struct alerts_round *r, struct store *s, int64_t id);

static void be64_write(uint8_t *out, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		out[i] = (uint8_t)v;
}

static uint64_t be64_read(const uint8_t *in)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | in[i];
	return v;
}

/* The water counted before this start. A row that does not open (its
 * customer's key destroyed, moved elsewhere) is unknown: counted afresh. */
static int load_water(void *ctx, int64_t machine_id, const uint8_t *sealed, size_t len)
{
	struct alerts_round *r = ctx;
	struct store *s = vault_store(r->v);
	struct seal_ad ad = { SEAL_DESCALE_WATER, 0, machine_id, 0, 0, NULL };
	struct cleaned *cl;
	uint8_t *pt = NULL;
	size_t ptlen = 0;

	if (!machine_of(r, s, machine_id))
		return 0;
	ad.org_id = r->machine.customer_id;
	if (vault_unseal(r->v, &ad, sealed, len, &pt, &ptlen) != CC_OK)
		return 0;
	cl = ptlen == 8 ? cleaned_of(r, machine_id, 1) : NULL;
	if (cl != NULL) {
		cl->water_ml = (int64_t)be64_read(pt);
		cl->water_known = 1;
		cl->water_customer = r->machine.customer_id;
	}
	free(pt);
	return 0;
}

int alerts_round_new(struct vault *v, struct alerts_round **out)
{
	struct alerts_round *r = calloc(1, sizeof(*r));
	struct store *s = vault_store(v);
	int rc;

	if (r == NULL)
		return CC_ERR_NOMEM;
	r->v = v;
	r->rules = alert_rules(&r->nrules);
	if (alert_due_new(&r->due) != CC_OK) {
		free(r);
		return CC_ERR_NOMEM;
	}
	if (r->nrules > RULES_MAX)
		r->nrules = RULES_MAX;
	/* The cleanings seen before this start: an overdue one still alerts. */
	rc = s->ops->last_cleanings_each(s, load_cleaning, r);
	if (rc == CC_OK)
		rc = s->ops->descale_water_each(s, load_water, r);
	if (rc != CC_OK) {
		alerts_round_free(r);
		return rc;
	}
	*out = r;
	return CC_OK;
}

void alerts_round_free(struct alerts_round *r)
{
	if (r == NULL)
		return;
	free(r->pending);
	free(r->windows);
	compliance_rules_free(r->quality);
	free(r->cleaned);
	alert_due_free(r->due);
	free(r);
}

/* The settings in force for a customer's machines, cached for the round. */
static const struct alert_rule_config *configs(struct alerts_round *r, struct store *s, int64_t customer_id)
{
	struct cached_config *cc;
	size_t i;

	for (i = 0; i < r->cached; i++)
		if (r->cache[i].customer_id == customer_id)
			return r->cache[i].c;
	if (r->cached == CONFIG_CACHE)
		r->cached = 0;
	cc = &r->cache[r->cached];
	cc->customer_id = -1;
	for (i = 0; i < r->nrules; i++)
		if (alerts_rule_config(s, customer_id, &r->rules[i], &cc->c[i]) != CC_OK)
			return NULL;
	cc->customer_id = customer_id;
	r->cached++;
	return cc->c;
}

static void forget_configs(struct alerts_round *r)
{
	r->cached = 0;
	r->have_machine = 0;
	compliance_rules_free(r->quality); /* an upload reaches the next round */
	r->quality = NULL;
}

/* The machine's row of r->cleaned (sorted by id), made when add; NULL without. */
static struct cleaned *cleaned_of(struct alerts_round *r, int64_t machine_id, int add)
{
	size_t lo = 0, hi = r->ncleaned;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->cleaned[mid].machine_id < machine_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < r->ncleaned && r->cleaned[lo].machine_id == machine_id)
		return &r->cleaned[lo];
	if (!add)
		return NULL;
	if (r->ncleaned == r->capcleaned) {
		size_t cap = r->capcleaned ? 2 * r->capcleaned : 64;
		struct cleaned *grown = realloc(r->cleaned, cap * sizeof(*grown));

		if (grown == NULL)
			return NULL;
		r->cleaned = grown;
		r->capcleaned = cap;
	}
	memmove(&r->cleaned[lo + 1], &r->cleaned[lo], (r->ncleaned - lo) * sizeof(r->cleaned[0]));
	memset(&r->cleaned[lo], 0, sizeof(r->cleaned[0]));
	r->cleaned[lo].machine_id = machine_id;
	r->ncleaned++;
	return &r->cleaned[lo];
}

static void take_verdict(void *vctx, const char *detail, int active)
{
	struct alerts_round *r = vctx;
	struct verdict *v;
	size_t i;

	/* The same verdict again (every reading of a full hopper): once. */
	for (i = r->n; i > 0 && i + 8 > r->n; i--) {
		v = &r->pending[i - 1];
		if (v->machine_id == r->cur_machine && v->rule == r->cur_rule && strcmp(v->detail, detail) == 0) {
			if (v->active == active)
				return;
			break;
		}
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		struct verdict *grown = realloc(r->pending, cap * sizeof(*grown));

		if (grown == NULL)
			return; /* judged again with the machine's next message */
		r->pending = grown;
		r->cap = cap;
	}
	v = &r->pending[r->n++];
	v->machine_id = r->cur_machine;
	v->at_ms = r->cur_at;
	v->rule = r->cur_rule;
	v->active = active;
	snprintf(v->detail, sizeof(v->detail), "%s", detail);
}

static int machine_of(struct alerts_round *r, struct store *s, int64_t id)
{
	if (!r->have_machine || r->machine.id != id)
		r->have_machine = s->ops->machine_get(s, id, &r->machine) == CC_OK;
	return r->have_machine;
}

static int apply_pending(struct alerts_round *r, struct store *s)
{
	size_t i;
	int rc = CC_OK;

	for (i = 0; i < r->n && rc == CC_OK; i++) {
		struct verdict *v = &r->pending[i];

		if (!machine_of(r, s, v->machine_id))
			continue; /* deleted meanwhile */
		rc = apply(r->v, &r->machine, &r->rules[v->rule], v->detail, v->active, v->at_ms, 0);
	}
	r->n = 0;
	return rc;
}

/* ---- the settler's part ---- */

/* The readings of a telemetry record's "m" of the metrics the rule set
 * limits: has[k] and v[k] for rs->limits[k]. */
struct limit_scan {
	const struct quality_ruleset *rs;
	int in_m;
	const char *key;
	size_t klen;
	int has[QUALITY_LIMITS_MAX];
	double v[QUALITY_LIMITS_MAX];
};

static int on_limit_token(void *ctx, const struct jscan_token *t)
{
	struct limit_scan *ls = ctx;
	size_t k;

	if (t->depth == 1 && t->type == JSCAN_KEY) {
		ls->in_m = t->len == 1 && t->s[0] == 'm';
		return 0;
	}
	if (t->depth != 2 || !ls->in_m)
		return 0;
	if (t->type == JSCAN_KEY) {
		ls->key = t->s;
		ls->klen = t->len;
		return 0;
	}
	for (k = 0; ls->key != NULL && (t->type == JSCAN_INTEGER || t->type == JSCAN_REAL) && k < ls->rs->nlimits; k++)
		if (strlen(ls->rs->limits[k].metric) == ls->klen && memcmp(ls->rs->limits[k].metric, ls->key, ls->klen) == 0) {
			ls->has[k] = 1;
			ls->v[k] = t->d;
		}
	ls->key = NULL;
	return 0;
}

/* A reading of each limited metric moves its "beyond since" and is judged. */
static void judge_limits(struct alerts_round *r, struct store *s, const struct alert_rule *rule, const int64_t *p,
                         const struct store_record *rec, const uint8_t *body, size_t len)
{
	const struct quality_ruleset *rs;
	struct limit_scan ls;
	struct cleaned *cl;
	struct jscan js;
	int64_t version;
	size_t k;

	if (r->quality == NULL && compliance_rules_load(s, &r->quality) != CC_OK)
		return;
	rs = compliance_rules_for(r->quality, r->machine.model, rec->ts_ms - rec->ts_ms % COMPLIANCE_DAY_MS,
	                          clock_now_ms(), &version);
	if (rs == NULL || rs->nlimits == 0)
		return;
	memset(&ls, 0, sizeof(ls));
	ls.rs = rs;
	if (jscan_run(&js, body, len, on_limit_token, &ls) != JSCAN_OK)
		return;
	for (k = 0; k < rs->nlimits && !ls.has[k]; k++)
		;
	if (k == rs->nlimits || (cl = cleaned_of(r, rec->machine_id, 1)) == NULL)
		return;
	if (cl->beyond_version != version + 1) { /* another version, other limits */
		memset(cl->beyond_since, 0, sizeof(cl->beyond_since));
		cl->beyond_version = version + 1;
	}
	for (k = 0; k < rs->nlimits; k++) {
		const struct quality_range *q = &rs->limits[k].r;

		if (!ls.has[k])
			continue;
		if ((q->has_max && ls.v[k] > q->max) || (q->has_min && ls.v[k] < q->min)) {
			if (cl->beyond_since[k] == 0 || rec->ts_ms < cl->beyond_since[k])
				cl->beyond_since[k] = rec->ts_ms;
		} else {
			cl->beyond_since[k] = 0;
		}
		rule->on_limit(p, &rs->limits[k], cl->beyond_since[k], rec->ts_ms, take_verdict, r);
	}
}

static void water_count(struct alerts_round *r, struct cleaned *cl, int64_t ml, int descaled)
{
	cl->water_ml = descaled ? 0 : cl->water_ml + ml;
	cl->water_known = 1;
	cl->water_changed = 1;
	cl->water_customer = r->machine.customer_id;
	r->cleanings_changed = 1;
}

static int round_row(void *ctx, const struct store_record *rec)
{
	struct alerts_round *r = ctx;
	struct store *s = vault_store(r->v);
	const struct alert_rule_config *c;
	uint8_t *pt = NULL;
	size_t len = 0, i;
	int wanted = 0, rc;

	if (!alerts_enabled() || (rec->kind != RECORD_TELEMETRY && rec->kind != RECORD_EVENT))
		return CC_OK;
	if (!machine_of(r, s, rec->machine_id))
		return CC_OK;
	alert_due_touch(r->due, rec->machine_id);
	c = configs(r, s, r->machine.customer_id);
	if (c == NULL)
		return CC_OK; /* judged with its next record */
	for (i = 0; i < r->nrules; i++)
		wanted |= (r->rules[i].on_record != NULL ||
		           (rec->kind == RECORD_EVENT &&
		            (r->rules[i].on_brew != NULL || strcmp(r->rules[i].id, "cleaning_overdue") == 0)) ||
		           (rec->kind == RECORD_TELEMETRY && r->rules[i].on_limit != NULL)) &&
		          c[i].enabled;
	if (!wanted)
		return CC_OK;
	rc = records_open_record(r->v, &r->machine, rec, &pt, &len);
	if (rc == CC_ERR_AUTH || rc == CC_ERR_CORRUPT || rc == CC_ERR_NOTFOUND)
		return CC_OK;
	if (rc != CC_OK)
		return rc;
	r->cur_machine = rec->machine_id;
	r->cur_at = rec->ts_ms;
	if (rec->kind == RECORD_EVENT) {
		int prog = compliance_cleaning_of((const char *)pt, len);
		struct cleaned *cl = prog >= 0 ? cleaned_of(r, rec->machine_id, 1) : NULL;

		double water = prog < 0 ? compliance_water_ml_of((const char *)pt, len) : 0;

		if (cl != NULL && rec->ts_ms > cl->last[prog]) {
			cl->last[prog] = rec->ts_ms;
			cl->changed = 1;
			r->cleanings_changed = 1;
			if (prog == QP_DESCALE)
				water_count(r, cl, 0, 1);
		}
		/* A brew older than the last descale was before it: not counted. */
		if (water > 0 && (cl = cleaned_of(r, rec->machine_id, 1)) != NULL && rec->ts_ms > cl->last[QP_DESCALE])
			water_count(r, cl, (int64_t)(water + 0.5), 0);
	}
	for (i = 0; i < r->nrules; i++)
		if (r->rules[i].on_record != NULL && c[i].enabled) {
			r->cur_rule = (unsigned)i;
			r->rules[i].on_record(c[i].p, rec->kind, pt, len, take_verdict, r);
		}
	for (i = 0; i < r->nrules; i++)
		if (r->rules[i].on_brew != NULL && c[i].enabled && rec->kind == RECORD_EVENT &&
		    (r->quality != NULL || compliance_rules_load(s, &r->quality) == CC_OK)) {
			int64_t version;
			const struct quality_ruleset *rs = compliance_rules_for(
			        r->quality, r->machine.model, rec->ts_ms - rec->ts_ms % COMPLIANCE_DAY_MS, clock_now_ms(), &version);

			r->cur_rule = (unsigned)i;
			r->rules[i].on_brew(c[i].p, rs, pt, len, take_verdict, r);
		}
	for (i = 0; i < r->nrules; i++)
		if (r->rules[i].on_limit != NULL && c[i].enabled && rec->kind == RECORD_TELEMETRY) {
			r->cur_rule = (unsigned)i;
			judge_limits(r, s, &r->rules[i], c[i].p, rec, pt, len);
		}
	crypto_wipe(pt, len);
	free(pt);
	return CC_OK;
}

/* The cleanings the round brought, into the store in its transaction. */
static int store_cleanings(struct alerts_round *r, struct store *s)
{
	size_t i;
	int prog, rc = CC_OK;

	if (!r->cleanings_changed)
		return CC_OK;
	for (i = 0; i < r->ncleaned && rc == CC_OK; i++) {
		struct cleaned *cl = &r->cleaned[i];

		for (prog = 0; cl->changed && prog < QP_COUNT && rc == CC_OK; prog++)
			if (cl->last[prog] != 0)
				rc = s->ops->last_cleaning_put(s, cl->machine_id, quality_program_name(prog), cl->last[prog]);
		if (rc == CC_OK)
			cl->changed = 0;
		if (rc == CC_OK && cl->water_changed) {
			struct seal_ad ad = { SEAL_DESCALE_WATER, cl->water_customer, cl->machine_id, 0, 0, NULL };
			uint8_t pt[8], blob[64];
			size_t bloblen = 0;

			be64_write(pt, (uint64_t)cl->water_ml);
			rc = vault_seal_into(r->v, &ad, pt, sizeof(pt), blob, sizeof(blob), &bloblen);
			if (rc == CC_OK)
				rc = s->ops->descale_water_put(s, cl->machine_id, blob, bloblen);
			if (rc == CC_OK)
				cl->water_changed = 0;
		}
	}
	if (rc == CC_OK)
		r->cleanings_changed = 0;
	return rc;
}

static int round_finish(void *ctx, struct store *s)
{
	struct alerts_round *r = ctx;
	int rc = apply_pending(r, s);

	if (rc == CC_OK)
		rc = store_cleanings(r, s);

	/* Settings people changed reach the next round. */
	forget_configs(r);
	return rc;
}

void alerts_round_hooks(struct alerts_round *r, struct store_settle_hooks *out)
{
	out->row = round_row;
	out->finish = round_finish;
	out->ctx = r;
}

/* ---- the timer ---- */

struct machine_now {
	int64_t machine_id, since_ms;
	enum machine_state state;
};

struct states {
	struct machine_now *m;
	size_t n, cap;
};

static int keep_state(void *ctx, int64_t machine_id, const struct availability *a)
{
	struct states *st = ctx;

	if (st->n == st->cap) {
		size_t cap = st->cap ? 2 * st->cap : 256;
		struct machine_now *grown = realloc(st->m, cap * sizeof(*grown));

		if (grown == NULL)
			return CC_ERR_NOMEM;
		st->m = grown;
		st->cap = cap;
	}
	st->m[st->n].machine_id = machine_id;
	st->m[st->n].state = a->state_at_end;
	st->m[st->n].since_ms = a->since_ms;
	st->n++;
	return 0;
}

struct refusal_sum {
	int64_t count, last_ms;
};

static int sum_refusals(void *ctx, const char *reason, int64_t count, int64_t last_ms)
{
	struct refusal_sum *sum = ctx;

	(void)reason;
	sum->count += count;
	if (last_ms > sum->last_ms)
		sum->last_ms = last_ms;
	return 0;
}

/* Refused messages since the machine's window began; a window ends after
 * window_seconds and the next begins at the count then. */
static int64_t refusals_recent(struct alerts_round *r, int64_t machine_id, int64_t total, int64_t last_ms,
                               int64_t now_ms, int64_t window_s)
{
	struct refusal_window *w = NULL;
	size_t i;

	for (i = 0; i < r->nwin; i++)
		if (r->windows[i].machine_id == machine_id) {
			w = &r->windows[i];
			break;
		}
	if (w == NULL) {
		if (r->nwin == r->capwin) {
			size_t cap = r->capwin ? 2 * r->capwin : 64;
			struct refusal_window *grown = realloc(r->windows, cap * sizeof(*grown));

			if (grown == NULL)
				return 0;
			r->windows = grown;
			r->capwin = cap;
		}
		w = &r->windows[r->nwin++];
		w->machine_id = machine_id;
		/* First look since the start: the counts keep no times, so a
		 * machine refused within the window counts all it was refused
		 * (a restart may open its alert early); one refused before it,
		 * none of them. */
		w->since_ms = now_ms;
		w->base_count = last_ms >= now_ms - window_s * 1000 ? 0 : total;
	}
	if (now_ms - w->since_ms >= window_s * 1000) {
		w->since_ms = now_ms;
		w->base_count = total;
	}
	return total - w->base_count;
}

static int escalate(struct alerts_round *r, struct store *s, int64_t now_ms);
static int keep_alert(void *ctx, const struct store_alert *a);

struct unresolved {
	struct store_alert *a;
	size_t n, cap;
};

/* A revoked machine sends nothing more: nothing of it would ever clear. */
static int resolve_revoked(struct alerts_round *r, struct store *s, int64_t now_ms)
{
	struct store_alert_filter f;
	struct unresolved u = { NULL, 0, 0 };
	size_t i;
	int rc;

	memset(&f, 0, sizeof(f));
	f.unresolved = 1;
	f.machine_id = r->machine.id;
	rc = s->ops->alert_list(s, &f, keep_alert, &u);
	for (i = 0; i < u.n && rc == CC_OK; i++) {
		struct store_alert *a = &u.a[i];

		snprintf(a->state, sizeof(a->state), "resolved");
		a->resolved_ms = now_ms;
		snprintf(a->resolved_by, sizeof(a->resolved_by), "auto");
		rc = s->ops->alert_update(s, a);
		if (rc == CC_OK)
			rc = history(s, a->id, now_ms, "auto", "resolved", "the machine was revoked");
		if (rc == CC_OK)
			rc = notify(r->v, &r->machine, "resolved", a);
	}
	free(u.a);
	return rc;
}

/* A forecast is made again at most this often per machine: 30 ticks (half
 * an hour by default), at most an hour. */
static int64_t due_recheck_ms(void)
{
	int64_t t = 30 * alerts_tick_ms();

	return t < INT64_C(3600000) ? t : INT64_C(3600000);
}

int alerts_tick(struct alerts_round *r, int64_t now_ms)
{
	struct store *s = vault_store(r->v);
	struct states st = { NULL, 0, 0 };
	struct alert_timer_view view;
	size_t k, i;
	int64_t budget_end;
	int rc, due_rule;

	if (!alerts_enabled())
		return CC_OK;
	forget_configs(r);
	/* Since when a machine is in its state is known within the period:
	 * a week, the longest any rule waits (rules.c); before it reads as
	 * the period's start. A change made in this very millisecond counts
	 * (to is exclusive). */
	rc = availability_each(s, 0, now_ms - STATE_LOOKBACK_MS, now_ms + 1, keep_state, &st);
	if (rc != CC_OK)
		goto out;
	/* Forecasts read much: made before the transaction, not inside it,
	 * and for at most a quarter of the tick (the settler's thread also
	 * settles ingest); the rest at the next ticks. */
	for (i = 0, due_rule = -1; i < r->nrules; i++)
		if (strcmp(r->rules[i].id, "maintenance_due_soon") == 0)
			due_rule = (int)i;
	for (k = 0, budget_end = clock_mono_ms() + alerts_tick_ms() / 4;
	     k < st.n && due_rule >= 0 && clock_mono_ms() < budget_end; k++) {
		const struct alert_rule_config *c;

		if (!machine_of(r, s, st.m[k].machine_id) || r->machine.revoked_ms != 0)
			continue;
		c = configs(r, s, r->machine.customer_id);
		if (c != NULL && c[due_rule].enabled &&
		    alert_due_refresh(r->due, r->v, &r->machine, now_ms, due_recheck_ms()) < 0)
			log_warn(MOD, "the service forecast of %s could not be made (again at the next tick)",
			         r->machine.serial);
	}
	rc = s->ops->begin(s);
	if (rc != CC_OK)
		goto out;
	for (k = 0; k < st.n && rc == CC_OK; k++) {
		const struct alert_rule_config *c;
		struct refusal_sum sum = { 0, 0 };
		int refusals = -1, refusals_window = -1;

		if (!machine_of(r, s, st.m[k].machine_id))
			continue;
		if (r->machine.revoked_ms != 0) {
			rc = resolve_revoked(r, s, now_ms);
			continue;
		}
		c = configs(r, s, r->machine.customer_id);
		if (c == NULL)
			continue;
		memset(&view, 0, sizeof(view));
		view.now_ms = now_ms;
		view.machine_id = r->machine.id;
		view.state = st.m[k].state;
		view.since_ms = st.m[k].since_ms == INT64_MIN ? now_ms - STATE_LOOKBACK_MS : st.m[k].since_ms;
		view.within_hours = alerts_business_hours(s, &r->machine, view.since_ms, now_ms, &view.open_in_state_ms);
		view.cert_not_after_ms = alerts_cert_not_after(s, &r->machine);
		{
			const struct cleaned *cl = cleaned_of(r, r->machine.id, 0);
			int64_t version;

			if (cl != NULL && (r->quality != NULL || compliance_rules_load(s, &r->quality) == CC_OK)) {
				view.quality = compliance_rules_for(r->quality, r->machine.model,
				                                    now_ms - now_ms % COMPLIANCE_DAY_MS, now_ms, &version);
				memcpy(view.last_cleaning_ms, cl->last, sizeof(view.last_cleaning_ms));
				view.water_known = cl->water_known;
				view.water_since_descale_ml = cl->water_ml;
			}
		}
		if (due_rule >= 0 && c[due_rule].enabled)
			view.has_forecast = alert_due_known(r->due, r->machine.id, view.service_due_ms);
		for (i = 0; i < r->nrules; i++)
			if (strcmp(r->rules[i].id, "refusals") == 0) {
				refusals = (int)i;
				refusals_window = alert_rule_param(&r->rules[i], "window_seconds");
			}
		if (refusals >= 0 && c[refusals].enabled) {
			rc = s->ops->refusal_list(s, r->machine.id, sum_refusals, &sum);
			view.refusals_recent = refusals_recent(r, r->machine.id, sum.count, sum.last_ms, now_ms,
			                                       c[refusals].p[refusals_window]);
			view.refusals_last_ms = sum.last_ms;
		}
		r->cur_machine = r->machine.id;
		r->cur_at = now_ms;
		for (i = 0; i < r->nrules && rc == CC_OK; i++)
			if (r->rules[i].on_timer != NULL && c[i].enabled) {
				r->cur_rule = (unsigned)i;
				r->rules[i].on_timer(c[i].p, &view, take_verdict, r);
			}
	}
	if (rc == CC_OK)
		rc = apply_pending(r, s);
	if (rc == CC_OK)
		rc = escalate(r, s, now_ms);
	if (rc == CC_OK)
		rc = s->ops->commit(s);
	if (rc != CC_OK) {
		s->ops->rollback(s);
		r->n = 0;
	}
out:
	free(st.m);
	forget_configs(r);
	return rc;
}

static int keep_alert(void *ctx, const struct store_alert *a)
{
	struct unresolved *u = ctx;

	if (u->n == u->cap) {
		size_t cap = u->cap ? 2 * u->cap : 64;
		struct store_alert *grown = realloc(u->a, cap * sizeof(*grown));

		if (grown == NULL)
			return CC_ERR_NOMEM;
		u->a = grown;
		u->cap = cap;
	}
	u->a[u->n++] = *a;
	return 0;
}

static const char *const level_names[ALERT_LEVELS] = { "customer", "distributor", "manufacturer" };

/* Open and unacknowledged for the rule's escalate_seconds since it reached
 * its level: the next level, once per tick at most. */
static int escalate(struct alerts_round *r, struct store *s, int64_t now_ms)
{
	struct store_alert_filter f;
	struct unresolved u = { NULL, 0, 0 };
	size_t i;
	int rc;

	memset(&f, 0, sizeof(f));
	f.state = "open";
	rc = s->ops->alert_list(s, &f, keep_alert, &u);
	for (i = 0; i < u.n && rc == CC_OK; i++) {
		struct store_alert *a = &u.a[i];
		const struct alert_rule *rule = alert_rule_find(a->rule);
		const struct alert_rule_config *c;
		char detail[64];

		if (rule == NULL || a->level + 1 >= ALERT_LEVELS || !machine_of(r, s, a->machine_id))
			continue;
		c = configs(r, s, r->machine.customer_id);
		if (c == NULL)
			continue;
		c = &c[rule - r->rules];
		if (c->escalate_s <= 0 || now_ms - a->level_ms < c->escalate_s * 1000)
			continue;
		a->level++;
		a->level_ms = now_ms;
		a->last_notified_ms = now_ms;
		rc = s->ops->alert_update(s, a);
		snprintf(detail, sizeof(detail), "level %lld (%s)", (long long)a->level, level_names[a->level]);
		if (rc == CC_OK)
			rc = history(s, a->id, now_ms, "auto", "escalated", detail);
		if (rc == CC_OK)
			rc = notify(r->v, &r->machine, "escalated", a);
	}
	free(u.a);
	return rc;
}

/* ---- people ---- */

static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

static int seal_comment(struct vault *v, const struct store_alert *a, int64_t customer_id, const char *text,
                        struct store_alert_event *e)
{
	struct seal_ad ad = { SEAL_ALERT_NOTE, customer_id, a->id, 0, e->at_ms, NULL };
	uint8_t *blob = NULL;
	size_t len = 0;
	int rc = vault_seal(v, &ad, text, strlen(text), &blob, &len);

	if (rc != CC_OK)
		return rc;
	if (len > sizeof(e->note)) {
		free(blob);
		return CC_ERR_INVALID;
	}
	memcpy(e->note, blob, len);
	e->note_len = len;
	free(blob);
	return CC_OK;
}

int alerts_comment_open(struct vault *v, const struct store_alert *a, int64_t customer_id,
                        const struct store_alert_event *e, char **text)
{
	struct seal_ad ad = { SEAL_ALERT_NOTE, customer_id, a->id, 0, e->at_ms, NULL };
	uint8_t *pt = NULL;
	size_t len = 0;
	int rc = vault_unseal(v, &ad, e->note, e->note_len, &pt, &len);

	if (rc != CC_OK)
		return rc;
	*text = (char *)pt;
	return CC_OK;
}

int alerts_act(struct vault *v, int64_t alert_id, enum alert_action action, const char *who, const char *text,
               int *privacy)
{
	struct store *s = vault_store(v);
	struct store_alert a;
	struct store_machine m;
	struct store_alert_event *e;
	int64_t now = clock_now_ms();
	int rc;

	if (privacy != NULL)
		*privacy = PRIVACY_NONE;
	if (action == ALERT_COMMENT) {
		enum privacy_reason why;

		if (text == NULL || text[0] == '\0' || utf8_chars(text) > ALERT_COMMENT_MAX)
			return CC_ERR_INVALID;
		why = privacy_scan_note(text, strlen(text));
		if (why != PRIVACY_NONE) {
			if (privacy != NULL)
				*privacy = (int)why;
			return CC_ERR_INVALID;
		}
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return CC_ERR_NOMEM;
	rc = s->ops->begin(s);
	if (rc != CC_OK) {
		free(e);
		return rc;
	}
	rc = s->ops->alert_get(s, alert_id, &a);
	if (rc == CC_OK)
		rc = s->ops->machine_get(s, a.machine_id, &m);
	if (rc != CC_OK)
		goto out;
	e->alert_id = a.id;
	e->at_ms = now;
	snprintf(e->who, sizeof(e->who), "%s", who);
	switch (action) {
	case ALERT_ACKNOWLEDGE:
		if (strcmp(a.state, "open") != 0) {
			rc = CC_ERR_STATE;
			goto out;
		}
		snprintf(a.state, sizeof(a.state), "acknowledged");
		a.acknowledged_ms = now;
		snprintf(a.acknowledged_by, sizeof(a.acknowledged_by), "%s", who);
		snprintf(e->what, sizeof(e->what), "acknowledged");
		rc = s->ops->alert_update(s, &a);
		break;
	case ALERT_RESOLVE:
		if (strcmp(a.state, "resolved") == 0) {
			rc = CC_ERR_STATE;
			goto out;
		}
		snprintf(a.state, sizeof(a.state), "resolved");
		a.resolved_ms = now;
		snprintf(a.resolved_by, sizeof(a.resolved_by), "%s", who);
		snprintf(e->what, sizeof(e->what), "resolved");
		rc = s->ops->alert_update(s, &a);
		if (rc == CC_OK)
			rc = notify(v, &m, "resolved", &a);
		break;
	case ALERT_COMMENT:
		snprintf(e->what, sizeof(e->what), "commented");
		rc = seal_comment(v, &a, m.customer_id, text, e);
		break;
	default:
		rc = CC_ERR_INVALID;
	}
	if (rc == CC_OK)
		rc = s->ops->alert_event_add(s, e);
out:
	if (rc == CC_OK)
		rc = s->ops->commit(s);
	if (rc != CC_OK)
		s->ops->rollback(s);
	free(e);
	return rc;
}
