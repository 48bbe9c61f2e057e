/*
 * rollout.h - the staged-rollout engine (docs/UPDATES.md "Staged
 * rollouts"): pure, no I/O, no clock of its own. Given a rollout's plan,
 * where it stands, its machines' states and the time, it says the next
 * step: offer to these machines now, start the soak, advance a phase,
 * halt (with why) or complete. The caller stores the step and asks again.
 *
 * Phases are cumulative shares of the targeted machines (1, 10, 50, 100 %)
 * taken in a fixed order (rollout_order: a hash of the serial and the
 * rollout's id), so the canary set never changes under a rollout and two
 * rollouts do not always pick the same canaries. A phase is done when each
 * of its machines has finished (succeeded, failed, rolled back, skipped);
 * the next starts a soak time later. A phase halts the rollout as soon as
 * its failures (failed, rolled back) exceed threshold % of its finished
 * machines, judged once min_reports of them (or all) have finished.
 *
 * When a soak ends, before the next phase, the machines updated so far are
 * compared with those still on the old software over the soak
 * (rollout_health_verdict): a phase whose machines run worse halts the
 * rollout even when each of them reported success.
 */
#ifndef CC_UPDATE_ROLLOUT_H
#define CC_UPDATE_ROLLOUT_H

#include <stddef.h>
#include <stdint.h>

#define ROLLOUT_PHASES_MAX 8
#define ROLLOUT_REASON_MAX 160

enum rollout_state {
	ROLLOUT_RUNNING = 0,
	ROLLOUT_PAUSED,
	ROLLOUT_HALTED,
	ROLLOUT_ABORTED,
	ROLLOUT_COMPLETED,
};

/* What a machine of the rollout is at; the agent reports all but pending
 * and skipped (docs/UPDATES.md "Progress reports"). */
enum rollout_mstate {
	RM_PENDING = 0, /* not offered yet */
	RM_OFFERED,
	RM_DOWNLOADING,
	RM_VERIFYING,
	RM_INSTALLING,
	RM_REBOOTING,
	RM_SUCCEEDED,
	RM_FAILED,
	RM_ROLLED_BACK,
	RM_SKIPPED, /* the offer was refused by the server (not in service, model): no failure */
	RM_COUNT
};

struct rollout_plan {
	uint8_t phases[ROLLOUT_PHASES_MAX]; /* cumulative percent, rising, the last 100 */
	size_t n_phases;
	int64_t soak_ms;
	int threshold_pct;  /* 0-100: failures above this share of a phase's finished halt */
	int min_reports;    /* >= 1 */
	int health_margin;  /* 0-100: points of availability the updated may lose against the rest; 100: not compared */
	int compliance_margin; /* 0-100: points of quality compliance likewise (rollout_compliance_verdict) */
};

struct rollout_now {
	enum rollout_state state;
	int phase;             /* the current phase, 0-based */
	int64_t phase_done_ms; /* when the current phase finished (the soak began); 0: not yet */
};

struct rollout_machine {
	int64_t id;              /* the caller's: which machine */
	uint64_t order;          /* rollout_order() */
	int phase;               /* the phase it was offered in; -1 not yet */
	enum rollout_mstate state;
	int in_window;           /* 1 when it may be offered now (its site's maintenance window) */
};

enum rollout_step_kind {
	STEP_WAIT = 0,   /* nothing to do now */
	STEP_OFFER,      /* offer to offer[0..n_offer) in phase `phase` */
	STEP_SOAK,       /* the phase finished at now: record phase_done_ms */
	STEP_ADVANCE,    /* the next phase begins: `phase` */
	STEP_HALT,       /* with reason */
	STEP_COMPLETE,
};

struct rollout_step {
	enum rollout_step_kind kind;
	int phase;
	size_t *offer;   /* indexes into the caller's machines; the caller's array of n */
	size_t n_offer;
	size_t failed, finished; /* of the phase judged (halt) */
	char reason[ROLLOUT_REASON_MAX];
};

/* Checks a plan: phases rising within 1-100 ending at 100, soak >= 0,
 * threshold 0-100, min_reports >= 1. 0 when valid, else why. */
int rollout_plan_check(const struct rollout_plan *p, char why[ROLLOUT_REASON_MAX]);

/* The machine's place in the rollout: stable for a serial and a rollout. */
uint64_t rollout_order(const char *serial, int64_t rollout_id);

/* How many of n machines phase k covers (cumulative): at least one when
 * the phase's percent is above 0 and n > 0. */
size_t rollout_share(const struct rollout_plan *p, int k, size_t n);

/* Sorts machines into the rollout's order (by order, then id). */
void rollout_sort(struct rollout_machine *m, size_t n);

/* The next step; m sorted (rollout_sort). offer_buf has room for n
 * indexes. Only a running rollout moves; STEP_WAIT otherwise. */
void rollout_decide(const struct rollout_plan *p, const struct rollout_now *now, const struct rollout_machine *m,
                    size_t n, int64_t now_ms, size_t *offer_buf, struct rollout_step *out);

/* What a group of machines did over a soak (fleet/downtime.h figures):
 * time up and down, and incidents (went offline or out of service). */
struct rollout_health {
	int64_t machines;
	int64_t up_ms, down_ms;
	int64_t incidents;
};

/* At the end of phase's soak: 1 (why filled) when the updated machines ran
 * worse than the rest, i.e. their availability is more than health_margin
 * points below the rest's, or they had at least one incident a machine
 * more than the rest and more than twice as many. 0 to go on, also when a
 * group is empty, has no time up or down, or health_margin is 100. */
int rollout_health_verdict(const struct rollout_plan *p, int phase, const struct rollout_health *updated,
                           const struct rollout_health *rest, char why[ROLLOUT_REASON_MAX]);

/* Quality compliance of a group over the soak's days (quality/compliance.h):
 * brews a rule judged, and of those in spec. */
struct rollout_quality {
	int64_t machines;
	int64_t judged, in_spec;
};
#define ROLLOUT_QUALITY_MIN_BREWS 5 /* judged brews per group before shares are compared */

/* At the end of phase's soak: 1 (why filled) when the share of in-spec
 * brews of the changed machines is more than compliance_margin points
 * below the rest's. 0 to go on, also when a group has fewer than
 * ROLLOUT_QUALITY_MIN_BREWS judged brews or compliance_margin is 100. */
int rollout_compliance_verdict(const struct rollout_plan *p, int phase, const struct rollout_quality *changed,
                               const struct rollout_quality *rest, char why[ROLLOUT_REASON_MAX]);

/* Names of states, as the API and the agent spell them; parse returns -1
 * for an unknown name. */
const char *rollout_state_name(enum rollout_state s);
int rollout_state_parse(const char *name);
const char *rollout_mstate_name(enum rollout_mstate s);
int rollout_mstate_parse(const char *name);
/* 1 for succeeded, failed, rolled back and skipped. */
int rollout_mstate_final(enum rollout_mstate s);

#endif
