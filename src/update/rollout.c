/* rollout.c - see rollout.h. */
#include "update/rollout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[] = { "running", "paused", "halted", "aborted", "completed" };
static const char *const mstate_names[RM_COUNT] = { "pending",   "offered",   "downloading",
	                                            "verifying", "installing", "rebooting",
	                                            "succeeded", "failed",     "rolled_back",
	                                            "skipped" };

const char *rollout_state_name(enum rollout_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "unknown";
}

int rollout_state_parse(const char *name)
{
	for (size_t i = 0; name != NULL && i < sizeof(state_names) / sizeof(state_names[0]); i++)
		if (strcmp(name, state_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *rollout_mstate_name(enum rollout_mstate s)
{
	return (unsigned)s < RM_COUNT ? mstate_names[s] : "unknown";
}

int rollout_mstate_parse(const char *name)
{
	for (int i = 0; name != NULL && i < RM_COUNT; i++)
		if (strcmp(name, mstate_names[i]) == 0)
			return i;
	return -1;
}

int rollout_mstate_final(enum rollout_mstate s)
{
	return s == RM_SUCCEEDED || s == RM_FAILED || s == RM_ROLLED_BACK || s == RM_SKIPPED;
}

static int failure(enum rollout_mstate s)
{
	return s == RM_FAILED || s == RM_ROLLED_BACK;
}

int rollout_plan_check(const struct rollout_plan *p, char why[ROLLOUT_REASON_MAX])
{
	why[0] = '\0';
	if (p->n_phases < 1 || p->n_phases > ROLLOUT_PHASES_MAX) {
		snprintf(why, ROLLOUT_REASON_MAX, "phases: 1 to %d percentages", ROLLOUT_PHASES_MAX);
		return -1;
	}
	for (size_t i = 0; i < p->n_phases; i++)
		if (p->phases[i] < 1 || p->phases[i] > 100 || (i > 0 && p->phases[i] <= p->phases[i - 1])) {
			snprintf(why, ROLLOUT_REASON_MAX, "phases: rising percentages within 1-100");
			return -1;
		}
	if (p->phases[p->n_phases - 1] != 100) {
		snprintf(why, ROLLOUT_REASON_MAX, "phases: the last one is 100");
		return -1;
	}
	if (p->soak_ms < 0) {
		snprintf(why, ROLLOUT_REASON_MAX, "soak: not negative");
		return -1;
	}
	if (p->threshold_pct < 0 || p->threshold_pct > 100) {
		snprintf(why, ROLLOUT_REASON_MAX, "threshold: a percentage, 0-100");
		return -1;
	}
	if (p->min_reports < 1) {
		snprintf(why, ROLLOUT_REASON_MAX, "min_reports: at least 1");
		return -1;
	}
	if (p->health_margin < 0 || p->health_margin > 100) {
		snprintf(why, ROLLOUT_REASON_MAX, "health_margin: points of availability, 0-100");
		return -1;
	}
	if (p->compliance_margin < 0 || p->compliance_margin > 100) {
		snprintf(why, ROLLOUT_REASON_MAX, "compliance_margin: points of quality compliance, 0-100");
		return -1;
	}
	return 0;
}

/* FNV-1a 64 over the id and the serial, then a final mix (splitmix64) so
 * that serials differing in their last character spread over the order. */
uint64_t rollout_order(const char *serial, int64_t rollout_id)
{
	uint64_t h = 0xcbf29ce484222325ULL, id = (uint64_t)rollout_id;

	for (int i = 0; i < 8; i++) {
		h ^= (id >> (8 * i)) & 0xff;
		h *= 0x100000001b3ULL;
	}
	for (const unsigned char *p = (const unsigned char *)serial; *p != '\0'; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

size_t rollout_share(const struct rollout_plan *p, int k, size_t n)
{
	uint64_t share;

	if (k < 0 || n == 0)
		return 0;
	if ((size_t)k >= p->n_phases)
		return n;
	share = ((uint64_t)n * p->phases[k] + 99) / 100;
	if (share == 0 && p->phases[k] > 0)
		share = 1;
	return share > n ? n : (size_t)share;
}

static int by_order(const void *a, const void *b)
{
	const struct rollout_machine *x = a, *y = b;

	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

void rollout_sort(struct rollout_machine *m, size_t n)
{
	if (n > 1)
		qsort(m, n, sizeof(*m), by_order);
}

void rollout_decide(const struct rollout_plan *p, const struct rollout_now *now, const struct rollout_machine *m,
                    size_t n, int64_t now_ms, size_t *offer_buf, struct rollout_step *out)
{
	size_t share, failed = 0, finished = 0, assigned = 0, judged_at;
	int done = 1;

	memset(out, 0, sizeof(*out));
	out->offer = offer_buf;
	out->phase = now->phase;
	if (now->state != ROLLOUT_RUNNING || now->phase < 0 || (size_t)now->phase >= p->n_phases)
		return;
	/* The phase's verdict first: a failing phase offers nothing more. */
	for (size_t i = 0; i < n; i++) {
		if (m[i].phase != now->phase || m[i].state == RM_SKIPPED)
			continue;
		assigned++;
		if (rollout_mstate_final(m[i].state))
			finished++;
		if (failure(m[i].state))
			failed++;
	}
	judged_at = assigned < (size_t)p->min_reports ? assigned : (size_t)p->min_reports;
	if (finished > 0 && finished >= judged_at && failed * 100 > (size_t)p->threshold_pct * finished) {
		out->kind = STEP_HALT;
		out->failed = failed;
		out->finished = finished;
		snprintf(out->reason, sizeof(out->reason),
		         "phase %d: %zu of %zu finished machines failed (threshold %d %%)", now->phase + 1, failed,
		         finished, p->threshold_pct);
		return;
	}
	share = rollout_share(p, now->phase, n);
	for (size_t i = 0; i < share; i++) {
		if (m[i].state == RM_PENDING && m[i].phase < 0 && m[i].in_window)
			offer_buf[out->n_offer++] = i;
		if (!rollout_mstate_final(m[i].state))
			done = 0;
	}
	if (out->n_offer > 0) {
		out->kind = STEP_OFFER;
		return;
	}
	if (!done)
		return;
	if (now->phase_done_ms == 0) {
		out->kind = STEP_SOAK;
		return;
	}
	if (now_ms - now->phase_done_ms < p->soak_ms)
		return;
	if ((size_t)now->phase + 1 >= p->n_phases) {
		out->kind = STEP_COMPLETE;
		return;
	}
	out->kind = STEP_ADVANCE;
	out->phase = now->phase + 1;
}

int rollout_health_verdict(const struct rollout_plan *p, int phase, const struct rollout_health *updated,
                           const struct rollout_health *rest, char why[ROLLOUT_REASON_MAX])
{
	double per_updated, per_rest;

	why[0] = '\0';
	if (p->health_margin >= 100 || updated->machines <= 0 || rest->machines <= 0)
		return 0;
	if (updated->up_ms + updated->down_ms > 0 && rest->up_ms + rest->down_ms > 0) {
		double a_updated = 100.0 * (double)updated->up_ms / (double)(updated->up_ms + updated->down_ms);
		double a_rest = 100.0 * (double)rest->up_ms / (double)(rest->up_ms + rest->down_ms);

		if (a_rest - a_updated > (double)p->health_margin) {
			snprintf(why, ROLLOUT_REASON_MAX,
			         "phase %d: its updated machines were available %.1f %% of the soak, the rest %.1f %% "
			         "(margin %d points)",
			         phase + 1, a_updated, a_rest, p->health_margin);
			return 1;
		}
	}
	/* Incidents are few and lumpy: one more per machine, and more than
	 * twice the rest's rate, before a phase is blamed for them. */
	per_updated = (double)updated->incidents / (double)updated->machines;
	per_rest = (double)rest->incidents / (double)rest->machines;
	if (per_updated >= per_rest + 1.0 && per_updated > 2.0 * per_rest) {
		snprintf(why, ROLLOUT_REASON_MAX,
		         "phase %d: %.1f incidents per updated machine over the soak, %.1f for the rest", phase + 1,
		         per_updated, per_rest);
		return 1;
	}
	return 0;
}

int rollout_compliance_verdict(const struct rollout_plan *p, int phase, const struct rollout_quality *changed,
                               const struct rollout_quality *rest, char why[ROLLOUT_REASON_MAX])
{
	double c, r;

	why[0] = '\0';
	if (p->compliance_margin >= 100 || changed->judged < ROLLOUT_QUALITY_MIN_BREWS ||
	    rest->judged < ROLLOUT_QUALITY_MIN_BREWS)
		return 0;
	c = 100.0 * (double)changed->in_spec / (double)changed->judged;
	r = 100.0 * (double)rest->in_spec / (double)rest->judged;
	if (r - c <= (double)p->compliance_margin)
		return 0;
	snprintf(why, ROLLOUT_REASON_MAX,
	         "phase %d: its changed machines brewed %.1f %% in spec over the soak's days, the rest %.1f %% "
	         "(margin %d points)",
	         phase + 1, c, r, p->compliance_margin);
	return 1;
}
