/*
 * rules.h - the alert rules: what makes a cause active or cleared
 * (docs/OPERATIONS.md "Alerts").
 *
 * A rule is a table row: an id, a default severity, the data class its
 * cause detail belongs to (who may read "critical_error:E42"), bounded
 * integer parameters, and up to two evaluators. Evaluators are pure: they
 * read what they are given and say, per cause, "active" or "cleared"
 * through verdict(); saying nothing keeps the alert as it is. The engine
 * (alerts.h) turns verdicts into alerts, idempotently, per machine and
 * cause key ("rule" or "rule:detail").
 *
 *   on_record  a settled telemetry record or event (plaintext JSON), in the
 *              settler's round transaction;
 *   on_timer   the machine's state now (downtime.h), refusals, certificate,
 *              every alerts_tick_ms.
 *
 *   on_brew    a settled brew event with the quality rule set judging its
 *              day (quality/compliance.h): quality_breach.
 *   on_limit   a settled reading of a metric the rule set limits (the milk
 *              fridge), with the time it has been beyond the limit since
 *              (0: it is within), kept by the engine: telemetry_breach.
 *
 * cleaning_overdue is an on_timer over the last cleaning of each program
 * against the rule set's schedule (docs/QUALITY.md "Alerts");
 * maintenance_due_soon one over each service's forecast due date
 * (docs/OPERATIONS.md "Maintenance forecasts").
 */
#ifndef CC_ALERTS_RULES_H
#define CC_ALERTS_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "fleet/downtime.h"
#include "fleet/forecast.h"
#include "quality/ruleset.h"
#include "store/store.h"

#define ALERT_PARAMS_MAX 4

struct alert_param {
	const char *name; /* NULL ends the list */
	int64_t dflt, min, max;
};

/* verdict(vctx, detail, active): detail "" for a rule with one cause per
 * machine, else what the cause is about (an error code, "beans"). */
typedef void (*alert_verdict_fn)(void *vctx, const char *detail, int active);

/* What the timer knows of a machine. */
struct alert_timer_view {
	int64_t now_ms;
	int64_t machine_id;
	enum machine_state state; /* downtime.h, now */
	int64_t since_ms;         /* in that state since */
	int within_hours;         /* within its site's business hours now (alerts_business_hours) */
	int64_t open_in_state_ms; /* of [since_ms, now_ms), the time within them */
	int64_t refusals_recent;  /* refused messages counted since the window began */
	int64_t refusals_last_ms; /* the last refused message's time, 0 none */
	int64_t cert_not_after_ms; /* 0: unknown */
	/* The quality rule set judging today (NULL: unknown), and each
	 * program's last cleaning seen since the daemon started (0: none). */
	const struct quality_ruleset *quality;
	int64_t last_cleaning_ms[QP_COUNT];
	/* The water brewed since its last descale (litre-based descaling);
	 * water_known 0: nothing counted yet. */
	int water_known;
	int64_t water_since_descale_ml;
	/* Each service's forecast due date (fleet/forecast.h), INT64_MIN:
	 * none; has_forecast 0: not made (the rule disabled). */
	int has_forecast;
	int64_t service_due_ms[FS_COUNT];
};

struct alert_rule {
	const char *id;
	const char *severity;   /* info, warning, critical */
	const char *data_class; /* status, technical, service */
	struct alert_param params[ALERT_PARAMS_MAX];
	void (*on_record)(const int64_t *p, enum record_kind kind, const uint8_t *body, size_t len,
	                  alert_verdict_fn verdict, void *vctx);
	void (*on_timer)(const int64_t *p, const struct alert_timer_view *m, alert_verdict_fn verdict, void *vctx);
	void (*on_brew)(const int64_t *p, const struct quality_ruleset *rs, const uint8_t *body, size_t len,
	                alert_verdict_fn verdict, void *vctx);
	void (*on_limit)(const int64_t *p, const struct quality_limit *lim, int64_t beyond_since_ms, int64_t ts_ms,
	                 alert_verdict_fn verdict, void *vctx);
};

/* The shipped rules, in a fixed order (an index is a rule's number). */
const struct alert_rule *alert_rules(size_t *n);
/* The rule of that id, or NULL. */
const struct alert_rule *alert_rule_find(const char *id);
/* The index of a parameter of a rule, -1 when it has none of that name. */
int alert_rule_param(const struct alert_rule *r, const char *name);

/* Every rule also takes these (the engine's, not the evaluators'). */
#define ALERT_ESCALATE_PARAM "escalate_seconds" /* unacknowledged this long: next level; 0 never */
#define ALERT_ESCALATE_DEFAULT 3600

#endif
