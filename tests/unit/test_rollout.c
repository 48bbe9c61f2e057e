/* The staged-rollout engine (update/rollout.h) driven by a fake clock and
 * a fake fleet: what it offers, when it soaks and advances, when it halts,
 * and that the canary set is stable. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "update/rollout.h"

#define N 200

struct fleet {
	struct rollout_plan plan;
	struct rollout_now now;
	struct rollout_machine m[N];
	size_t n;
	size_t buf[N];
	int64_t clock;
};

static void fleet_init(struct fleet *f, size_t n, int64_t rollout_id)
{
	static const uint8_t phases[] = { 1, 10, 50, 100 };
	char serial[32];

	memset(f, 0, sizeof(*f));
	memcpy(f->plan.phases, phases, sizeof(phases));
	f->plan.n_phases = 4;
	f->plan.soak_ms = 60000;
	f->plan.threshold_pct = 10;
	f->plan.min_reports = 1;
	f->now.state = ROLLOUT_RUNNING;
	f->n = n;
	f->clock = 1000000;
	for (size_t i = 0; i < n; i++) {
		snprintf(serial, sizeof(serial), "CM-%05zu", i);
		f->m[i].id = (int64_t)i + 1;
		f->m[i].order = rollout_order(serial, rollout_id);
		f->m[i].phase = -1;
		f->m[i].in_window = 1;
	}
	rollout_sort(f->m, n);
}

/* Applies a step as the daemon does; returns its kind. */
static enum rollout_step_kind step(struct fleet *f)
{
	struct rollout_step s;

	rollout_decide(&f->plan, &f->now, f->m, f->n, f->clock, f->buf, &s);
	switch (s.kind) {
	case STEP_OFFER:
		for (size_t i = 0; i < s.n_offer; i++) {
			f->m[s.offer[i]].phase = s.phase;
			f->m[s.offer[i]].state = RM_OFFERED;
		}
		break;
	case STEP_SOAK:
		f->now.phase_done_ms = f->clock;
		break;
	case STEP_ADVANCE:
		f->now.phase = s.phase;
		f->now.phase_done_ms = 0;
		break;
	case STEP_HALT:
		f->now.state = ROLLOUT_HALTED;
		break;
	case STEP_COMPLETE:
		f->now.state = ROLLOUT_COMPLETED;
		break;
	case STEP_WAIT:
		break;
	}
	return s.kind;
}

static size_t count(const struct fleet *f, enum rollout_mstate st)
{
	size_t k = 0;
	for (size_t i = 0; i < f->n; i++)
		k += f->m[i].state == st;
	return k;
}

/* Every offered machine reports st. */
static void report_all(struct fleet *f, enum rollout_mstate st)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->m[i].state == RM_OFFERED)
			f->m[i].state = st;
}

static void test_shares(void)
{
	struct fleet f;

	fleet_init(&f, 200, 1);
	CHECK_EQ(rollout_share(&f.plan, 0, 200), 2);
	CHECK_EQ(rollout_share(&f.plan, 1, 200), 20);
	CHECK_EQ(rollout_share(&f.plan, 2, 200), 100);
	CHECK_EQ(rollout_share(&f.plan, 3, 200), 200);
	/* a canary of 1 % of 30 machines is one machine, not none */
	CHECK_EQ(rollout_share(&f.plan, 0, 30), 1);
	CHECK_EQ(rollout_share(&f.plan, 1, 30), 3);
	CHECK_EQ(rollout_share(&f.plan, 0, 0), 0);
	CHECK_EQ(rollout_share(&f.plan, 3, 7), 7);
}

static void test_plan_check(void)
{
	struct rollout_plan p = { { 1, 10, 100 }, 3, 0, 10, 1, 5, 100 };
	char why[ROLLOUT_REASON_MAX];

	CHECK_EQ(rollout_plan_check(&p, why), 0);
	p.phases[2] = 90;
	CHECK_EQ(rollout_plan_check(&p, why), -1);
	CHECK(strstr(why, "100") != NULL);
	p.phases[2] = 100;
	p.phases[1] = 1;
	CHECK_EQ(rollout_plan_check(&p, why), -1);
	CHECK(strstr(why, "rising") != NULL);
	p.phases[1] = 10;
	p.threshold_pct = 101;
	CHECK_EQ(rollout_plan_check(&p, why), -1);
	p.threshold_pct = 0;
	p.min_reports = 0;
	CHECK_EQ(rollout_plan_check(&p, why), -1);
	p.min_reports = 1;
	p.soak_ms = -1;
	CHECK_EQ(rollout_plan_check(&p, why), -1);
	p.soak_ms = 0;
	p.n_phases = 0;
	CHECK_EQ(rollout_plan_check(&p, why), -1);
	p.n_phases = ROLLOUT_PHASES_MAX + 1;
	CHECK_EQ(rollout_plan_check(&p, why), -1);
	p.n_phases = 3;
	p.health_margin = 101;
	CHECK_EQ(rollout_plan_check(&p, why), -1);
	CHECK(strstr(why, "health_margin") != NULL);
	p.health_margin = 100;
	CHECK_EQ(rollout_plan_check(&p, why), 0);
}

/* The soak's verdict: the updated machines against the rest. */
static void test_health_verdict(void)
{
	struct rollout_plan p = { { 10, 100 }, 2, 60000, 10, 1, 5, 100 };
	struct rollout_health up = { 2, 60000, 0, 0 }, rest = { 18, 18 * 60000, 0, 0 };
	char why[ROLLOUT_REASON_MAX];

	CHECK_EQ(rollout_health_verdict(&p, 0, &up, &rest, why), 0);
	CHECK_STR(why, "");
	/* 94 % against 100 %: more than 5 points below */
	up.up_ms = 56400, up.down_ms = 3600;
	CHECK_EQ(rollout_health_verdict(&p, 0, &up, &rest, why), 1);
	CHECK(strstr(why, "phase 1: its updated machines were available 94.0 % of the soak, the rest 100.0 %") != NULL);
	/* 95 %: exactly the margin, not beyond it */
	up.up_ms = 57000, up.down_ms = 3000;
	CHECK_EQ(rollout_health_verdict(&p, 0, &up, &rest, why), 0);
	/* the rest worse too: relative, not absolute */
	rest.up_ms = 18 * 54000, rest.down_ms = 18 * 6000;
	up.up_ms = 54000, up.down_ms = 6000;
	CHECK_EQ(rollout_health_verdict(&p, 0, &up, &rest, why), 0);
	/* incidents: one more per machine and more than twice the rest's */
	up.incidents = 2;
	rest.incidents = 0;
	CHECK_EQ(rollout_health_verdict(&p, 1, &up, &rest, why), 1);
	CHECK(strstr(why, "phase 2: 1.0 incidents per updated machine over the soak, 0.0 for the rest") != NULL);
	up.incidents = 1; /* half an incident a machine: noise */
	CHECK_EQ(rollout_health_verdict(&p, 1, &up, &rest, why), 0);
	up.incidents = 6, rest.incidents = 18 * 2; /* 3 against 2 a machine: not twice */
	CHECK_EQ(rollout_health_verdict(&p, 1, &up, &rest, why), 0);
	/* nothing to compare with, or not compared */
	up.incidents = 10, up.down_ms = 60000, up.up_ms = 0;
	rest.machines = 0;
	CHECK_EQ(rollout_health_verdict(&p, 1, &up, &rest, why), 0);
	rest.machines = 18;
	p.health_margin = 100;
	CHECK_EQ(rollout_health_verdict(&p, 1, &up, &rest, why), 0);
	p.health_margin = 0;
	CHECK_EQ(rollout_health_verdict(&p, 1, &up, &rest, why), 1);
	/* no time up or down in a group (all in maintenance): incidents only */
	rest.up_ms = rest.down_ms = 0;
	rest.incidents = 0;
	up.incidents = 0;
	CHECK_EQ(rollout_health_verdict(&p, 1, &up, &rest, why), 0);
}

/* Quality compliance over the soak's days: the changed machines against the rest. */
static void test_compliance_verdict(void)
{
	struct rollout_plan p = { { 10, 100 }, 2, 60000, 10, 1, 5, 10 };
	struct rollout_quality changed = { 2, 20, 17 }, rest = { 18, 180, 180 };
	char why[ROLLOUT_REASON_MAX];

	CHECK_EQ(rollout_compliance_verdict(&p, 0, &changed, &rest, why), 1); /* 85 against 100: 15 points */
	p.compliance_margin = 15;
	CHECK_EQ(rollout_compliance_verdict(&p, 0, &changed, &rest, why), 0); /* exactly the margin */
	CHECK_STR(why, "");
	p.compliance_margin = 14;
	CHECK_EQ(rollout_compliance_verdict(&p, 0, &changed, &rest, why), 1);
	CHECK(strstr(why, "phase 1: its changed machines brewed 85.0 % in spec over the soak's days, the rest 100.0 %") !=
	      NULL);
	/* too few judged brews in a group: no verdict */
	changed.judged = ROLLOUT_QUALITY_MIN_BREWS - 1, changed.in_spec = 0;
	CHECK_EQ(rollout_compliance_verdict(&p, 0, &changed, &rest, why), 0);
	changed.judged = ROLLOUT_QUALITY_MIN_BREWS;
	CHECK_EQ(rollout_compliance_verdict(&p, 0, &changed, &rest, why), 1);
	p.compliance_margin = 100;
	CHECK_EQ(rollout_compliance_verdict(&p, 0, &changed, &rest, why), 0);
	p.compliance_margin = 101;
	CHECK_EQ(rollout_plan_check(&p, why), -1);
	CHECK(strstr(why, "compliance_margin") != NULL);
}

/* Good machines: each phase is offered, finishes, soaks, and the next one
 * begins; the rollout completes with every machine updated once. */
static void test_good_rollout_completes(void)
{
	struct fleet f;
	size_t expect[] = { 2, 20, 100, 200 };

	fleet_init(&f, 200, 7);
	for (int phase = 0; phase < 4; phase++) {
		CHECK_EQ(step(&f), STEP_OFFER);
		CHECK_EQ(count(&f, RM_OFFERED), expect[phase] - (phase ? expect[phase - 1] : 0));
		/* nothing more while the phase runs */
		CHECK_EQ(step(&f), STEP_WAIT);
		report_all(&f, RM_SUCCEEDED);
		CHECK_EQ(step(&f), STEP_SOAK);
		CHECK_EQ(f.now.phase_done_ms, f.clock);
		/* soaking: a minute minus a millisecond is not enough */
		f.clock += 59999;
		CHECK_EQ(step(&f), STEP_WAIT);
		f.clock += 1;
		CHECK_EQ(step(&f), phase < 3 ? STEP_ADVANCE : STEP_COMPLETE);
	}
	CHECK_EQ(f.now.state, ROLLOUT_COMPLETED);
	CHECK_EQ(count(&f, RM_SUCCEEDED), 200);
	CHECK_EQ(step(&f), STEP_WAIT);
}

/* The canary set is the first of the order: the same for the same
 * rollout whatever order the machines were listed in, another for
 * another rollout. */
static void test_canaries_stable(void)
{
	struct fleet a, b, c;
	int same_as_other = 1;

	fleet_init(&a, 200, 42);
	fleet_init(&b, 200, 42);
	/* b listed backwards before sorting */
	for (size_t i = 0; i < 100; i++) {
		struct rollout_machine t = b.m[i];
		b.m[i] = b.m[199 - i];
		b.m[199 - i] = t;
	}
	rollout_sort(b.m, 200);
	fleet_init(&c, 200, 43);
	CHECK_EQ(step(&a), STEP_OFFER);
	CHECK_EQ(step(&b), STEP_OFFER);
	CHECK_EQ(step(&c), STEP_OFFER);
	for (size_t i = 0; i < 2; i++) {
		CHECK_EQ(a.m[i].id, b.m[i].id);
		CHECK_EQ(a.m[i].state, RM_OFFERED);
		if (a.m[i].id != c.m[i].id)
			same_as_other = 0;
	}
	CHECK(!same_as_other);
	CHECK_EQ(rollout_order("CM-1", 5), rollout_order("CM-1", 5));
	CHECK(rollout_order("CM-1", 5) != rollout_order("CM-2", 5));
}

/* A failing canary halts before the next phase; nothing more is offered. */
static void test_failing_canary_halts(void)
{
	struct fleet f;
	struct rollout_step s;

	fleet_init(&f, 200, 3);
	CHECK_EQ(step(&f), STEP_OFFER);
	f.m[0].state = RM_FAILED;
	rollout_decide(&f.plan, &f.now, f.m, f.n, f.clock, f.buf, &s);
	CHECK_EQ(s.kind, STEP_HALT);
	CHECK_EQ(s.failed, 1);
	CHECK_EQ(s.finished, 1);
	CHECK(strstr(s.reason, "phase 1") != NULL);
	CHECK(strstr(s.reason, "1 of 1") != NULL);
	CHECK_EQ(step(&f), STEP_HALT);
	CHECK_EQ(f.now.state, ROLLOUT_HALTED);
	CHECK_EQ(step(&f), STEP_WAIT);
	CHECK_EQ(count(&f, RM_PENDING), 198);
}

/* Failures within the threshold do not halt; above it they do, and a
 * rolled-back machine counts as a failure. min_reports holds the verdict
 * until enough have finished. */
static void test_threshold_and_min_reports(void)
{
	struct fleet f;

	fleet_init(&f, 200, 9);
	f.plan.threshold_pct = 10;
	f.plan.min_reports = 5;
	/* canary (2) succeeds */
	CHECK_EQ(step(&f), STEP_OFFER);
	report_all(&f, RM_SUCCEEDED);
	CHECK_EQ(step(&f), STEP_SOAK);
	f.clock += f.plan.soak_ms;
	CHECK_EQ(step(&f), STEP_ADVANCE);
	CHECK_EQ(step(&f), STEP_OFFER); /* phase 2: 18 machines */
	{
		size_t k = 0;
		/* 3 finish, 1 of them failed: 33 %, but fewer than min_reports finished */
		for (size_t i = 0; i < f.n && k < 3; i++)
			if (f.m[i].phase == 1) {
				f.m[i].state = k == 0 ? RM_FAILED : RM_SUCCEEDED;
				k++;
			}
		CHECK_EQ(step(&f), STEP_WAIT);
		/* 17 more succeed: 1 of 18 finished is 5.5 %: within 10 % */
		report_all(&f, RM_SUCCEEDED);
		CHECK_EQ(step(&f), STEP_SOAK);
		f.clock += f.plan.soak_ms;
		CHECK_EQ(step(&f), STEP_ADVANCE);
	}
	CHECK_EQ(step(&f), STEP_OFFER); /* phase 3: 80 machines */
	{
		size_t k = 0;
		/* 9 rolled back of 9 finished once 5 have reported: halt at the 5th */
		for (size_t i = 0; i < f.n && k < 4; i++)
			if (f.m[i].phase == 2 && f.m[i].state == RM_OFFERED) {
				f.m[i].state = RM_ROLLED_BACK;
				k++;
			}
		CHECK_EQ(step(&f), STEP_WAIT);
		for (size_t i = 0; i < f.n; i++)
			if (f.m[i].phase == 2 && f.m[i].state == RM_OFFERED) {
				f.m[i].state = RM_ROLLED_BACK;
				break;
			}
		CHECK_EQ(step(&f), STEP_HALT);
	}
}

/* Exactly at the threshold is not past it. */
static void test_threshold_boundary(void)
{
	struct fleet f;

	fleet_init(&f, 100, 11);
	f.plan.phases[0] = 10;
	f.plan.threshold_pct = 10;
	CHECK_EQ(step(&f), STEP_OFFER);
	CHECK_EQ(count(&f, RM_OFFERED), 10);
	report_all(&f, RM_SUCCEEDED);
	for (size_t i = 0; i < f.n; i++)
		if (f.m[i].state == RM_SUCCEEDED) {
			f.m[i].state = RM_FAILED;
			break;
		}
	CHECK_EQ(step(&f), STEP_SOAK); /* 1 of 10: 10 %, not above */
	f.plan.threshold_pct = 9;
	CHECK_EQ(step(&f), STEP_HALT);
}

/* Skipped machines (the server refused the offer) finish a phase but are
 * no failures. */
static void test_skipped_not_failures(void)
{
	struct fleet f;

	fleet_init(&f, 10, 12);
	f.plan.phases[0] = 100;
	f.plan.n_phases = 1;
	f.plan.threshold_pct = 0;
	CHECK_EQ(step(&f), STEP_OFFER);
	report_all(&f, RM_SKIPPED);
	CHECK_EQ(step(&f), STEP_SOAK);
	f.clock += f.plan.soak_ms;
	CHECK_EQ(step(&f), STEP_COMPLETE);
}

/* A machine outside its window is not offered; the phase waits for it and
 * offers it once the window opens. */
static void test_window_waits(void)
{
	struct fleet f;
	size_t late;

	fleet_init(&f, 10, 13);
	f.plan.phases[0] = 50;
	f.plan.phases[1] = 100;
	f.plan.n_phases = 2;
	f.plan.soak_ms = 0;
	late = 1;
	f.m[late].in_window = 0;
	CHECK_EQ(step(&f), STEP_OFFER);
	CHECK_EQ(count(&f, RM_OFFERED), 4);
	CHECK_EQ(f.m[late].state, RM_PENDING);
	report_all(&f, RM_SUCCEEDED);
	CHECK_EQ(step(&f), STEP_WAIT); /* the phase is not done without it */
	f.m[late].in_window = 1;
	CHECK_EQ(step(&f), STEP_OFFER);
	CHECK_EQ(f.m[late].state, RM_OFFERED);
	CHECK_EQ(f.m[late].phase, 0);
	report_all(&f, RM_SUCCEEDED);
	CHECK_EQ(step(&f), STEP_SOAK);
	CHECK_EQ(step(&f), STEP_ADVANCE); /* soak 0: at once */
	CHECK_EQ(step(&f), STEP_OFFER);
	CHECK_EQ(count(&f, RM_OFFERED), 5);
}

/* Paused, halted, aborted, completed: no step; resumed: on where it was. */
static void test_only_running_moves(void)
{
	struct fleet f;
	enum rollout_state still[] = { ROLLOUT_PAUSED, ROLLOUT_HALTED, ROLLOUT_ABORTED, ROLLOUT_COMPLETED };

	fleet_init(&f, 50, 14);
	for (size_t i = 0; i < 4; i++) {
		f.now.state = still[i];
		CHECK_EQ(step(&f), STEP_WAIT);
	}
	CHECK_EQ(count(&f, RM_OFFERED), 0);
	f.now.state = ROLLOUT_RUNNING;
	CHECK_EQ(step(&f), STEP_OFFER);
	CHECK_EQ(count(&f, RM_OFFERED), 1);
}

/* No machines: done at once. */
static void test_empty(void)
{
	struct fleet f;

	fleet_init(&f, 0, 15);
	f.plan.soak_ms = 0;
	for (int i = 0; i < 12 && f.now.state == ROLLOUT_RUNNING; i++)
		step(&f);
	CHECK_EQ(f.now.state, ROLLOUT_COMPLETED);
}

static void test_names(void)
{
	for (int i = 0; i < RM_COUNT; i++)
		CHECK_EQ(rollout_mstate_parse(rollout_mstate_name((enum rollout_mstate)i)), i);
	for (int i = 0; i <= ROLLOUT_COMPLETED; i++)
		CHECK_EQ(rollout_state_parse(rollout_state_name((enum rollout_state)i)), i);
	CHECK_EQ(rollout_mstate_parse("exploded"), -1);
	CHECK_EQ(rollout_mstate_parse(NULL), -1);
	CHECK(rollout_mstate_final(RM_ROLLED_BACK));
	CHECK(!rollout_mstate_final(RM_REBOOTING));
}

int main(void)
{
	RUN(test_shares);
	RUN(test_plan_check);
	RUN(test_health_verdict);
	RUN(test_compliance_verdict);
	RUN(test_good_rollout_completes);
	RUN(test_canaries_stable);
	RUN(test_failing_canary_halts);
	RUN(test_threshold_and_min_reports);
	RUN(test_threshold_boundary);
	RUN(test_skipped_not_failures);
	RUN(test_window_waits);
	RUN(test_only_running_moves);
	RUN(test_empty);
	RUN(test_names);
	return check_summary();
}
