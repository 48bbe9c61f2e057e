/*
 * compliance.h - how well a machine kept its model's quality standard
 * (docs/QUALITY.md): brews in spec per product, sustained telemetry
 * breaches with their times and values, cleanings done against due.
 *
 * Which version judges: a day (UTC) is judged by the model's newest rule
 * set uploaded before the day ended (before now, for today), else the
 * newest for "*", else the shipped default (version 0). Versions are never
 * changed or removed, so a past day's verdict and the version that gave it
 * stay as they were: every day of an answer names its version.
 *
 * Reads the machine's events (records.h) and its telemetry roll-ups
 * (rollup.h): hour summaries find the hours a limit was crossed at all,
 * minute summaries of those hours only say for how long.
 */
#ifndef CC_QUALITY_COMPLIANCE_H
#define CC_QUALITY_COMPLIANCE_H

#include <stdint.h>

#include <jansson.h>

#include "quality/ruleset.h"
#include "store/store.h"
#include "vault/vault.h"

#define COMPLIANCE_DAY_MS INT64_C(86400000)
/* Listed per machine at most (counted all the same). */
#define COMPLIANCE_LIST_MAX 100

/* Every version of every model's rule set, parsed once per answer. */
struct compliance_rules;
int compliance_rules_load(struct store *st, struct compliance_rules **out);
void compliance_rules_free(struct compliance_rules *r);
/* The rule set judging model's day starting at day_ms (see above). */
const struct quality_ruleset *compliance_rules_for(const struct compliance_rules *r, const char *model,
                                                   int64_t day_ms, int64_t now_ms, int64_t *version);

/* The rule sets as the API and the CLI show them: every stored version
 * (model NULL: of every model) after the shipped ones (version 0), as
 * {model, version, created_ms, author, name}; show adds the document of
 * one version (has_version 0: the newest; version 0: the shipped one),
 * CC_ERR_NOTFOUND without it. upload validates text (why: the reason,
 * CC_ERR_INVALID) and stores it as the model's next version in *out. */
int compliance_rules_list_json(struct store *st, const char *model, json_t **out);
int compliance_rules_show_json(struct store *st, const char *model, int has_version, int64_t version, json_t **out);
int compliance_rules_upload(struct store *st, const char *text, size_t len, const char *author, int64_t now_ms,
                            char *why, size_t cap, struct store_ruleset *out);

/* The program of a cleaning event with result "ok" (len bytes of its JSON
 * body), -1 for any other record. Pure. */
int compliance_cleaning_of(const char *body, size_t len);

/* The water of a brew event (its volume_ml, > 0), 0 for any other record:
 * what descaling by litres counts. Pure. */
double compliance_water_ml_of(const char *body, size_t len);

/* Sums that add up over machines, sites, customers. */
struct compliance_product_sum {
	char name[CC_NAME_MAX + 1];
	int64_t brews, in_spec;
};
struct compliance_sum {
	struct compliance_product_sum *products;
	size_t nproducts, cap;
	int64_t brews, in_spec, brews_unjudged;
	int64_t brew_breaches, telemetry_breaches;
	int64_t cleanings_done[QP_COUNT], cleanings_due[QP_COUNT], cleanings_overdue[QP_COUNT];
	int64_t machines;
	/* per day of the period (UTC), from first_day_ms: brews, judged, in spec, breaches */
	int64_t first_day_ms;
	size_t ndays;
	int64_t (*days)[4];
};
int compliance_sum_add(struct compliance_sum *to, const struct compliance_sum *from);
void compliance_sum_free(struct compliance_sum *s);
/* technical: shares, breaches and cleanings; usage: brew counts. */
json_t *compliance_sum_json(const struct compliance_sum *s, int technical, int usage);

/* One machine over [from_ms, to_ms): its sum, and as JSON (cut like the
 * sum) its days with their version, breaches and overdue cleanings. */
int compliance_machine(struct vault *v, const struct compliance_rules *rules, const struct store_machine *m,
                       int64_t from_ms, int64_t to_ms, int64_t now_ms, int technical, int usage,
                       struct compliance_sum *sum, json_t **detail);

/* The report of GET /api/v1/compliance over the machines given (already
 * chosen by scope and consent): from, to, total, customers, sites,
 * machines (each with its days, breaches and schedule). */
struct compliance_target {
	struct store_machine m;
	char site[CC_NAME_MAX + 1];     /* "" when not placed */
	char customer[CC_NAME_MAX + 1];
};
int compliance_report(struct vault *v, const struct compliance_target *machines, size_t n, int64_t from_ms,
                      int64_t to_ms, int64_t now_ms, int technical, int usage, json_t **out);

#endif
