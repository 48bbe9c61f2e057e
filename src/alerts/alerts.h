/*
 * alerts.h - the alert engine: rules' verdicts (rules.h) become alerts, at
 * most one unresolved per machine and cause, open -> acknowledged ->
 * resolved, with a history of who did what (docs/OPERATIONS.md "Alerts").
 *
 * Where it runs: on the settler's thread and store connection. Records are
 * judged in the settler's round (a third part of its hooks, in the round's
 * transaction, off the acknowledgement path); the time-based rules and
 * escalation every alerts_tick_ms in a transaction of their own. People's
 * actions (acknowledge, resolve, comment) come from the API and CLI.
 *
 * Rules per organisation: an organisation's own setting of a rule wins
 * over its parent's, up to the manufacturer's, then the shipped default.
 *
 * Notifications: a sink (alerts_set_sink) hears every opened, escalated and
 * resolved alert with the organisations to tell, inside the transaction that
 * made the change, through the same store: an outbox written there commits
 * or rolls back with the alert.
 */
#ifndef CC_ALERTS_ALERTS_H
#define CC_ALERTS_ALERTS_H

#include <stddef.h>
#include <stdint.h>

#include "alerts/rules.h"
#include "fleet/health.h"
#include "store/store.h"
#include "vault/vault.h"

/* Process-wide, set once before the threads start (daemon config). */
void alerts_configure(int enabled, int64_t tick_ms);
int alerts_enabled(void);
int64_t alerts_tick_ms(void);

/* ---- notifications: the seam for the outbox ---- */
#define ALERT_LEVELS 3 /* 0 the customer, 1 its distributor (service manager), 2 the manufacturer */
struct alert_notice {
	const char *what;                /* opened, escalated, resolved */
	const struct store_alert *alert; /* as it is after the change */
	const char *serial;
	int64_t org_ids[ALERT_LEVELS];   /* the organisations to tell: levels 0 .. alert->level */
	size_t n_orgs;
};
/* Called in the transaction that changed the alert, through v (the
 * caller's vault: write through it to commit with the change); a non-zero
 * return rolls the change back (it is retried next time). */
typedef int (*alerts_sink_fn)(void *ctx, struct vault *v, const struct alert_notice *n);
void alerts_set_sink(alerts_sink_fn fn, void *ctx);

/* The business hours of the machine's site (fleet/hours.h): 1 when at_ms
 * is within them, and *open_ms the time within them in [from_ms, at_ms).
 * A machine without a site, or at a site without hours, is always within. */
int alerts_business_hours(struct store *s, const struct store_machine *m, int64_t from_ms, int64_t at_ms,
                          int64_t *open_ms);
/* The health part of m's unresolved alerts (fleet/health.h): 10 per
 * critical, 5 per warning, 2 per info, at most 30; only alerts whose rule's
 * data class is among classes count. */
int alerts_health(struct store *s, const struct store_machine *m, unsigned classes, struct health *h);
/* The machine's certificate not-after (ms), 0 unknown (issued before it was kept). */
int64_t alerts_cert_not_after(struct store *s, const struct store_machine *m);

/* ---- rule settings ---- */
struct alert_rule_config {
	int enabled;
	int64_t p[ALERT_PARAMS_MAX];
	int64_t escalate_s;
	int64_t from_org; /* the organisation whose setting this is, 0 the shipped default */
};
/* The setting of a rule in force for an organisation (inherited). */
int alerts_rule_config(struct store *s, int64_t org_id, const struct alert_rule *r, struct alert_rule_config *out);
/* Sets an organisation's own setting of a rule: enabled, and a JSON
 * object of parameters (names of rules.h, integers within bounds; those
 * left out keep the inherited value). CC_ERR_INVALID names nothing of the
 * input beyond the parameter's name in why. */
int alerts_rule_set(struct store *s, int64_t org_id, const char *rule, int enabled, const char *params_json,
                    char *why, size_t why_cap);

/* ---- the settler's part, and the timer ---- */
struct alerts_round;
int alerts_round_new(struct vault *v, struct alerts_round **out);
void alerts_round_free(struct alerts_round *r);
void alerts_round_hooks(struct alerts_round *r, struct store_settle_hooks *out);
/* The time-based rules and escalation, in a transaction of their own. */
int alerts_tick(struct alerts_round *r, int64_t now_ms);

/* Opens the alert of (m, rule:detail) from outside the rules' evaluators
 * (a rollout halted: fleet/rollouts.h), at an escalation level (who is
 * told at once); nothing when it is open already. In the caller's
 * transaction on v's store. */
int alerts_raise(struct vault *v, const struct store_machine *m, const char *rule, const char *detail, int64_t level,
                 int64_t at_ms);

/* ---- people ---- */
enum alert_action { ALERT_ACKNOWLEDGE = 1, ALERT_RESOLVE, ALERT_COMMENT };
#define ALERT_COMMENT_MAX 280 /* characters */
/* CC_ERR_NOTFOUND, CC_ERR_STATE (acknowledging an alert not open, resolving
 * a resolved one), CC_ERR_INVALID (a comment empty, too long or refused
 * by the notes filter: *privacy says why when it is that). */
int alerts_act(struct vault *v, int64_t alert_id, enum alert_action action, const char *who, const char *text,
               int *privacy);
/* A comment of the history, opened (malloc'd, NUL-terminated). */
int alerts_comment_open(struct vault *v, const struct store_alert *a, int64_t customer_id,
                        const struct store_alert_event *e, char **text);

#endif
