#include "alerts/rules.h"

#include <string.h>

#include "ingest/jscan.h"

/* ---- critical_error: an error event of severity critical, per code ---- */

struct event_scan {
	int is_error, critical, state; /* state: 0 momentary, 1 raised, 2 cleared */
	char code[CC_NAME_MAX + 1];
	const char *key;
	size_t klen;
};

static int token_is(const char *s, size_t len, const char *text)
{
	return len == strlen(text) && memcmp(s, text, len) == 0;
}

static int on_event_token(void *ctx, const struct jscan_token *t)
{
	struct event_scan *e = ctx;

	if (t->depth != 1)
		return 0;
	if (t->type == JSCAN_KEY) {
		e->key = t->s;
		e->klen = t->len;
		return 0;
	}
	if (t->type == JSCAN_STRING && e->key != NULL) {
		if (token_is(e->key, e->klen, "type"))
			e->is_error = token_is(t->s, t->len, "error");
		else if (token_is(e->key, e->klen, "severity"))
			e->critical = token_is(t->s, t->len, "critical");
		else if (token_is(e->key, e->klen, "state"))
			e->state = token_is(t->s, t->len, "raised") ? 1 : token_is(t->s, t->len, "cleared") ? 2 : 0;
		else if (token_is(e->key, e->klen, "code") && t->len < sizeof(e->code)) {
			memcpy(e->code, t->s, t->len);
			e->code[t->len] = '\0';
		}
	}
	e->key = NULL;
	return 0;
}

/* A momentary critical error (no state) opens an alert that people resolve:
 * nothing will clear it. A cleared one resolves whatever its raise opened. */
static void critical_error_record(const int64_t *p, enum record_kind kind, const uint8_t *body, size_t len,
                                  alert_verdict_fn verdict, void *vctx)
{
	struct event_scan e;
	struct jscan js;

	(void)p;
	if (kind != RECORD_EVENT)
		return;
	memset(&e, 0, sizeof(e));
	/* Ingest validated the event: a declined scan has no bearing on the strings read. */
	(void)jscan_run(&js, body, len, on_event_token, &e);
	if (!e.is_error || e.code[0] == '\0')
		return;
	if (e.state == 2)
		verdict(vctx, e.code, 0); /* cleared: whatever severity the raise had */
	else if (e.critical)
		verdict(vctx, e.code, 1);
}

/* ---- consumable_low: bean hopper below X %, water filter used above Y % ---- */

struct telemetry_scan {
	int in_m;
	const char *key;
	size_t klen;
	int has_beans, has_filter;
	double beans, filter;
};

static int on_telemetry_token(void *ctx, const struct jscan_token *t)
{
	struct telemetry_scan *m = ctx;

	if (t->depth == 1 && t->type == JSCAN_KEY) {
		m->in_m = token_is(t->s, t->len, "m");
		return 0;
	}
	if (t->depth != 2 || !m->in_m)
		return 0;
	if (t->type == JSCAN_KEY) {
		m->key = t->s;
		m->klen = t->len;
		return 0;
	}
	if ((t->type == JSCAN_INTEGER || t->type == JSCAN_REAL) && m->key != NULL) {
		double v = t->type == JSCAN_INTEGER ? (double)t->i : t->d;

		if (token_is(m->key, m->klen, "bean_hopper_pct")) {
			m->has_beans = 1;
			m->beans = v;
		} else if (token_is(m->key, m->klen, "filter_used_pct")) {
			m->has_filter = 1;
			m->filter = v;
		}
	}
	m->key = NULL;
	return 0;
}

enum { BEANS_BELOW, FILTER_ABOVE };

static void consumable_low_record(const int64_t *p, enum record_kind kind, const uint8_t *body, size_t len,
                                  alert_verdict_fn verdict, void *vctx)
{
	struct telemetry_scan m;
	struct jscan js;

	if (kind != RECORD_TELEMETRY)
		return;
	memset(&m, 0, sizeof(m));
	(void)jscan_run(&js, body, len, on_telemetry_token, &m);
	if (m.has_beans)
		verdict(vctx, "beans", m.beans < (double)p[BEANS_BELOW]);
	if (m.has_filter)
		verdict(vctx, "water_filter", m.filter > (double)p[FILTER_ABOVE]);
}

/* ---- quality_breach: a brew out of its product's range, per product ---- */

struct brew_scan {
	const char *key;
	size_t klen;
	int is_brew;
	char product[CC_NAME_MAX + 1];
	double v[QF_COUNT];
	int has[QF_COUNT];
};

static int on_brew_token(void *ctx, const struct jscan_token *t)
{
	struct brew_scan *b = ctx;
	int f;

	if (t->depth != 1)
		return 0;
	if (t->type == JSCAN_KEY) {
		b->key = t->s;
		b->klen = t->len;
		return 0;
	}
	if (b->key != NULL && t->type == JSCAN_STRING) {
		if (token_is(b->key, b->klen, "type"))
			b->is_brew = token_is(t->s, t->len, "brew");
		else if (token_is(b->key, b->klen, "product") && t->len < sizeof(b->product)) {
			memcpy(b->product, t->s, t->len);
			b->product[t->len] = '\0';
		}
	} else if (b->key != NULL && (t->type == JSCAN_INTEGER || t->type == JSCAN_REAL)) {
		for (f = 0; f < QF_COUNT; f++)
			if (token_is(b->key, b->klen, quality_field_name(f))) {
				b->has[f] = 1;
				b->v[f] = t->d;
			}
	}
	b->key = NULL;
	return 0;
}

/* Opened by a brew out of spec, resolved by the next one of the product in
 * spec: the cause is the product ("quality_breach:espresso"). */
static void quality_breach_brew(const int64_t *p, const struct quality_ruleset *rs, const uint8_t *body, size_t len,
                                alert_verdict_fn verdict, void *vctx)
{
	const struct quality_product *qp;
	struct brew_scan b;
	struct jscan js;

	(void)p;
	memset(&b, 0, sizeof(b));
	(void)jscan_run(&js, body, len, on_brew_token, &b);
	if (!b.is_brew || b.product[0] == '\0')
		return;
	qp = quality_ruleset_product(rs, b.product, strlen(b.product));
	if (qp != NULL)
		verdict(vctx, b.product, quality_brew_judge(qp, b.v, b.has) != 0);
}

/* ---- telemetry_breach: a limited metric beyond its limit for too long ---- */

/* The cause is the metric ("telemetry_breach:milk_fridge_temp_c"): opened
 * by a reading after more than for_s beyond the limit without a reading
 * within it (the compliance report's breach), resolved by one within. */
static void telemetry_breach_limit(const int64_t *p, const struct quality_limit *lim, int64_t beyond_since_ms,
                                   int64_t ts_ms, alert_verdict_fn verdict, void *vctx)
{
	(void)p;
	if (beyond_since_ms == 0)
		verdict(vctx, lim->metric, 0);
	else if (ts_ms - beyond_since_ms > lim->for_s * 1000)
		verdict(vctx, lim->metric, 1);
}

/* ---- timer rules ---- */

enum { OFFLINE_SECONDS };

/* Offline counts only within business hours: a café closed overnight opens
 * the alert N minutes after opening time, not at it; outside them the
 * alert stays as it is. */
static void offline_long_timer(const int64_t *p, const struct alert_timer_view *m, alert_verdict_fn verdict,
                               void *vctx)
{
	if (m->state == MSTATE_OFFLINE) {
		if (m->within_hours && m->open_in_state_ms >= p[OFFLINE_SECONDS] * 1000)
			verdict(vctx, "", 1);
	} else if (m->state != MSTATE_UNKNOWN) {
		verdict(vctx, "", 0); /* back, or in maintenance (neither up nor down) */
	}
}

enum { OOS_SECONDS };

/* Offline says nothing of whether it is still out of service: no verdict. */
static void out_of_service_timer(const int64_t *p, const struct alert_timer_view *m, alert_verdict_fn verdict,
                                 void *vctx)
{
	if (m->state == MSTATE_OUT_OF_SERVICE) {
		if (m->now_ms - m->since_ms >= p[OOS_SECONDS] * 1000)
			verdict(vctx, "", 1);
	} else if (m->state == MSTATE_ONLINE || m->state == MSTATE_MAINTENANCE) {
		verdict(vctx, "", 0);
	}
}

enum { REFUSALS_COUNT, REFUSALS_WINDOW };

static void refusals_timer(const int64_t *p, const struct alert_timer_view *m, alert_verdict_fn verdict, void *vctx)
{
	if (m->refusals_recent > p[REFUSALS_COUNT])
		verdict(vctx, "", 1);
	else if (m->refusals_last_ms < m->now_ms - p[REFUSALS_WINDOW] * 1000)
		verdict(vctx, "", 0);
}

enum { CERT_DAYS };

/* Unknown (0) until machines carry their certificate's not-after. */
static void cert_expiring_timer(const int64_t *p, const struct alert_timer_view *m, alert_verdict_fn verdict,
                                void *vctx)
{
	if (m->cert_not_after_ms == 0)
		return;
	verdict(vctx, "", m->cert_not_after_ms - m->now_ms < p[CERT_DAYS] * 86400000);
}

/* One cause per program ("cleaning_overdue:milk_system"), overdue by time
 * (every_h + grace_h since the last cleaning) or, descaling, by the water
 * brewed since (every_l litres); a schedule whose basis is not known yet
 * (no cleaning seen, no water counted) says nothing. */
static void cleaning_overdue_timer(const int64_t *p, const struct alert_timer_view *m, alert_verdict_fn verdict,
                                   void *vctx)
{
	int prog;

	(void)p;
	for (prog = 0; m->quality != NULL && prog < QP_COUNT; prog++) {
		const struct quality_cleaning *c = &m->quality->cleaning[prog];
		int known = 0, overdue = 0;

		if (!c->due)
			continue;
		if (c->every_h > 0 && m->last_cleaning_ms[prog] != 0) {
			known = 1;
			overdue = m->now_ms - m->last_cleaning_ms[prog] > (c->every_h + c->grace_h) * INT64_C(3600000);
		}
		if (prog == QP_DESCALE && c->every_l > 0 && m->water_known) {
			known = 1;
			overdue |= m->water_since_descale_ml > (int64_t)(c->every_l * 1000.0);
		}
		if (known)
			verdict(vctx, quality_program_name(prog), overdue);
	}
}

enum { DUE_DAYS };

/* One cause per service ("maintenance_due_soon:water_filter"): due within
 * the days (or overdue) opens it, a service done (a due date moved out)
 * resolves it; a service without a forecast says nothing. */
static void maintenance_due_timer(const int64_t *p, const struct alert_timer_view *m, alert_verdict_fn verdict,
                                  void *vctx)
{
	int s;

	for (s = 0; m->has_forecast && s < FS_COUNT; s++)
		if (m->service_due_ms[s] != INT64_MIN)
			verdict(vctx, forecast_service_name((enum forecast_service)s),
			        m->service_due_ms[s] - m->now_ms <= p[DUE_DAYS] * INT64_C(86400000));
}

#define DAY_S 86400

static const struct alert_rule rules[] = {
	{ "offline_long", "warning", "status", { { "offline_seconds", 1800, 1, 7 * DAY_S }, { NULL, 0, 0, 0 } },
	  NULL, offline_long_timer, NULL, NULL },
	{ "critical_error", "critical", "technical", { { NULL, 0, 0, 0 } }, critical_error_record, NULL, NULL, NULL },
	{ "out_of_service", "critical", "status", { { "after_seconds", 0, 0, 7 * DAY_S }, { NULL, 0, 0, 0 } },
	  NULL, out_of_service_timer, NULL, NULL },
	{ "consumable_low", "warning", "technical",
	  { { "beans_below_pct", 10, 0, 100 }, { "filter_above_pct", 100, 0, 200 }, { NULL, 0, 0, 0 } },
	  consumable_low_record, NULL, NULL, NULL },
	{ "refusals", "warning", "status",
	  { { "count", 10, 1, 1000000 }, { "window_seconds", 600, 1, DAY_S }, { NULL, 0, 0, 0 } }, NULL,
	  refusals_timer, NULL, NULL },
	{ "cert_expiring", "warning", "status", { { "days", 30, 1, 365 }, { NULL, 0, 0, 0 } }, NULL,
	  cert_expiring_timer, NULL, NULL },
	{ "quality_breach", "warning", "technical", { { NULL, 0, 0, 0 } }, NULL, NULL, quality_breach_brew, NULL },
	{ "cleaning_overdue", "warning", "service", { { NULL, 0, 0, 0 } }, NULL, cleaning_overdue_timer, NULL, NULL },
	{ "maintenance_due_soon", "warning", "service", { { "days", 7, 0, 365 }, { NULL, 0, 0, 0 } }, NULL,
	  maintenance_due_timer, NULL, NULL },
	{ "telemetry_breach", "warning", "technical", { { NULL, 0, 0, 0 } }, NULL, NULL, NULL, telemetry_breach_limit },
	/* Raised by the rollouts' timer (alerts_raise), never by an evaluator. */
	{ "rollout_halted", "warning", "technical", { { NULL, 0, 0, 0 } }, NULL, NULL, NULL, NULL },
};

const struct alert_rule *alert_rules(size_t *n)
{
	*n = sizeof(rules) / sizeof(rules[0]);
	return rules;
}

const struct alert_rule *alert_rule_find(const char *id)
{
	size_t i;

	for (i = 0; id != NULL && i < sizeof(rules) / sizeof(rules[0]); i++)
		if (strcmp(rules[i].id, id) == 0)
			return &rules[i];
	return NULL;
}

int alert_rule_param(const struct alert_rule *r, const char *name)
{
	int i;

	for (i = 0; i < ALERT_PARAMS_MAX && r->params[i].name != NULL; i++)
		if (strcmp(r->params[i].name, name) == 0)
			return i;
	return -1;
}
